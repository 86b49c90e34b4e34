/* test_verify.c -- ETag rules, SLO manifests and the streaming verifier.
 *
 * The vectors are real: the manifests, listing and ETags below were answered
 * by Swift 2.30 (Debian bookworm, started with tests/lib/servers.sh), and the
 * S3 multipart ETags by its s3api for objects uploaded with boto3, so the
 * rules are checked against the stores' own computations, not against a
 * second copy of ours. Every body is the same pattern, byte i = (7i+3) mod
 * 251, rebuilt here; the uploads were made from it:
 *
 *   swift upload --use-slo -S 1048576 verify slo.bin    (2,622,440 bytes)
 *   swift upload -S 1048576 verify dlo.bin              (the same bytes, a DLO)
 *   PUT verify/sub.bin?multipart-manifest=put           (slo.bin's first two segments)
 *   PUT verify/ranged.bin?multipart-manifest=put        (ranges, sub-SLOs, inline data)
 *   boto3 upload_file, 5 MiB and 8 MiB parts, and one 9 MiB part (s3api). */
#include "test.h"
#include "verify.h"
#include "listing.h"
#include "buf.h"

#include <stdlib.h>

#include <openssl/evp.h>

#define ASSERT_CONTAINS(s, sub) do {                                      \
        const char *s_ = (s), *sub_ = (sub);                             \
        if (!s_ || !strstr(s_, sub_))                                    \
            FAIL_("%s contains \"%s\": got \"%s\"", #s, sub_, s_ ? s_ : "(null)"); \
    } while (0)

#define MiB (1024 * 1024)

/* ---- Swift's answers ------------------------------------------------------- */

/* GET verify/slo.bin?multipart-manifest=get, as sent. The object's ETag (GET
 * and HEAD, with X-Static-Large-Object: True) was "2c7fe97f05331213fb2df1e62104f249",
 * and the manifest's own (X-Manifest-Etag) a412b1ecb4041bf369a5611f6897f1fa. */
static const char SLO_MANIFEST[] =
    "[{\"name\": \"/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000000\", \"bytes\": 1048576, \"hash\": \"bac259e6f14c8b831c02f85042e13805\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.000000\"}, "
    "{\"name\": \"/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000001\", \"bytes\": 1048576, \"hash\": \"b6b078a499fb2f6d86dcbf6d414bfdc7\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.000000\"}, "
    "{\"name\": \"/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000002\", \"bytes\": 525288, \"hash\": \"e4a8cfc023eedcce6b82cdd69dd50299\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.000000\"}]";
static const char SLO_ETAG[] = "\"2c7fe97f05331213fb2df1e62104f249\"";
#define SLO_SIZE 2622440

/* GET verify_segments?format=json&prefix=dlo.bin/: the segments of the DLO
 * whose X-Object-Manifest is verify_segments/dlo.bin/1795643523.488441/2622440/1048576/.
 * Its ETag was "2c7fe97f05331213fb2df1e62104f249" too: same hashes, same rule. */
static const char DLO_LISTING[] =
    "[{\"bytes\": 1048576, \"hash\": \"bac259e6f14c8b831c02f85042e13805\", \"name\": \"dlo.bin/1795643523.488441/2622440/1048576/00000000\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.301530\"}, "
    "{\"bytes\": 1048576, \"hash\": \"b6b078a499fb2f6d86dcbf6d414bfdc7\", \"name\": \"dlo.bin/1795643523.488441/2622440/1048576/00000001\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.308330\"}, "
    "{\"bytes\": 525288, \"hash\": \"e4a8cfc023eedcce6b82cdd69dd50299\", \"name\": \"dlo.bin/1795643523.488441/2622440/1048576/00000002\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.302450\"}]";

/* GET verify/ranged.bin?multipart-manifest=get. It was PUT as
 *   [{"path": seg2, "range": "100-1099"}, {"path": "/verify/sub.bin"},
 *    {"path": seg0, "range": "0-1048575"}, {"data": "aGVsbG8="},
 *    {"path": seg1, "range": "-10"}, {"path": "/verify/sub.bin", "range": "1048570-1048589"}]
 * and Swift stored the whole-segment range as no range and "-10" as
 * "1048566-1048575". Its ETag was "fbe06bb7b1100e6b775b341138116191", its
 * Content-Length 3146763 and its body's MD5 a802d256ed13bef8c7b022b379358246. */
static const char RANGED_MANIFEST[] =
    "[{\"name\": \"/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000002\", \"bytes\": 525288, \"hash\": \"e4a8cfc023eedcce6b82cdd69dd50299\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.000000\", \"range\": \"100-1099\"}, "
    "{\"name\": \"/verify/sub.bin\", \"bytes\": 2097152, \"hash\": \"c069bf14b922cc118c610ba53d1d9087\", \"content_type\": \"application/x-www-form-urlencoded\", \"last_modified\": \"2026-11-25T21:52:18.000000\", \"sub_slo\": true}, "
    "{\"name\": \"/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000000\", \"bytes\": 1048576, \"hash\": \"bac259e6f14c8b831c02f85042e13805\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.000000\"}, "
    "{\"data\": \"aGVsbG8=\"}, "
    "{\"name\": \"/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000001\", \"bytes\": 1048576, \"hash\": \"b6b078a499fb2f6d86dcbf6d414bfdc7\", \"content_type\": \"application/swiftclient-segment\", \"last_modified\": \"2026-11-25T21:52:04.000000\", \"range\": \"1048566-1048575\"}, "
    "{\"name\": \"/verify/sub.bin\", \"bytes\": 2097152, \"hash\": \"c069bf14b922cc118c610ba53d1d9087\", \"content_type\": \"application/x-www-form-urlencoded\", \"last_modified\": \"2026-11-25T21:52:18.000000\", \"range\": \"1048570-1048589\", \"sub_slo\": true}]";
static const char RANGED_ETAG[] = "\"fbe06bb7b1100e6b775b341138116191\"";
#define RANGED_SIZE 3146763

/* ---- helpers --------------------------------------------------------------- */

static unsigned char *pattern(size_t n)
{
    unsigned char *p = haul_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 7 + 3) % 251);
    return p;
}

static void md5_of(const void *p, size_t n, unsigned char out[16])
{
    EVP_Digest(p, n, out, NULL, EVP_md5(), NULL);
}

static void hex_of(const unsigned char d[16], char out[33])
{
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void unhex(const char *hex, unsigned char d[16])
{
    for (int i = 0; i < 16; i++) {
        unsigned x;
        sscanf(hex + 2 * i, "%2x", &x);
        d[i] = (unsigned char)x;
    }
}

/* The S3 multipart ETag's digest of body[0..n) cut into parts of part bytes. */
static void multipart_md5(const unsigned char *body, size_t n, size_t part, unsigned char out[16])
{
    EVP_MD_CTX *all = EVP_MD_CTX_new();
    EVP_DigestInit_ex(all, EVP_md5(), NULL);
    for (size_t off = 0; off < n || off == 0; off += part) {
        unsigned char d[16];
        md5_of(body + off, n - off < part ? n - off : part, d);
        EVP_DigestUpdate(all, d, 16);
        if (n == 0) break;
    }
    EVP_DigestFinal_ex(all, out, NULL);
    EVP_MD_CTX_free(all);
}

/* Feeds body[0..n) in chunks of chunk bytes (0: all at once), then ends. */
static int run(haul_verifier *v, const unsigned char *body, size_t n, size_t chunk,
               haul_verified *out, char *err)
{
    if (chunk == 0) chunk = n ? n : 1;
    for (size_t off = 0; off < n; off += chunk)
        haul_verifier_update(v, body + off, n - off < chunk ? n - off : chunk);
    return haul_verifier_final(v, out, err);
}

/* A verifier from make(), run over the body in every chunking of chunks[]:
 * the outcome must not depend on it. */
static const size_t chunks[] = {0, 1, 7, 4096, 65537};
#define NCHUNKS (sizeof chunks / sizeof chunks[0])

static int parse_etag(const char *etag, unsigned char md5[16], long long *n)
{
    return haul_etag_parse(etag, strlen(etag), md5, n);
}

/* ---- tests ----------------------------------------------------------------- */

TEST(verified_names)
{
    ASSERT_STREQ(haul_verified_str(HAUL_VERIFIED_NONE), "none");
    ASSERT_STREQ(haul_verified_str(HAUL_VERIFIED_MD5), "md5");
    ASSERT_STREQ(haul_verified_str(HAUL_VERIFIED_SEGMENTS), "segments");
    ASSERT_STREQ(haul_verified_str(HAUL_VERIFIED_PARTS), "parts");
    ASSERT_STREQ(haul_verified_str((haul_verified)42), "?");
    ASSERT_EQ(haul_md5_available(), 1);
}

TEST(etag_parse_kinds)
{
    unsigned char d[16], want[16];
    long long n = 99;
    unhex("9b2cf535f27731c974343645a3985328", want);

    ASSERT_EQ(parse_etag("\"9b2cf535f27731c974343645a3985328\"", d, &n), HAUL_ETAG_MD5);
    ASSERT_MEMEQ(d, want, 16);
    ASSERT_EQ(n, 0);
    /* Unquoted (a listing's hash), upper case, spaces around. */
    ASSERT_EQ(parse_etag("9b2cf535f27731c974343645a3985328", d, &n), HAUL_ETAG_MD5);
    ASSERT_EQ(parse_etag(" \t\"9B2CF535F27731C974343645A3985328\" ", d, &n), HAUL_ETAG_MD5);
    ASSERT_MEMEQ(d, want, 16);

    ASSERT_EQ(parse_etag("\"9b2cf535f27731c974343645a3985328-2\"", d, &n), HAUL_ETAG_MULTIPART);
    ASSERT_MEMEQ(d, want, 16);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(parse_etag("9b2cf535f27731c974343645a3985328-10000", d, &n), HAUL_ETAG_MULTIPART);
    ASSERT_EQ(n, 10000);
    ASSERT_EQ(parse_etag("9b2cf535f27731c974343645a3985328-1", NULL, NULL), HAUL_ETAG_MULTIPART);
}

TEST(etag_parse_other)
{
    static const char *const other[] = {
        "", "\"\"", "\"", "W/\"9b2cf535f27731c974343645a3985328\"",
        "\"9b2cf535f27731c974343645a3985328",          /* one quote */
        "9b2cf535f27731c974343645a3985328\"",
        "9b2cf535f27731c974343645a398532",             /* 31 digits */
        "9b2cf535f27731c974343645a39853288",           /* 33 */
        "9b2cf535f27731c974343645a398532g",
        "9b2cf535f27731c974343645a3985328-",
        "9b2cf535f27731c974343645a3985328-0",
        "9b2cf535f27731c974343645a3985328-02",
        "9b2cf535f27731c974343645a3985328-10001",
        "9b2cf535f27731c974343645a3985328-+2",
        "9b2cf535f27731c974343645a3985328-2x",
        "9b2cf535f27731c974343645a3985328-99999999999999999999999",
        "9b2cf535f27731c974343645a3985328 -2",
        "\"\"9b2cf535f27731c974343645a3985328\"\"",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", /* SHA-256 */
        "1700000000-abc",
    };
    unsigned char d[16];
    long long n = 5;
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        if (parse_etag(other[i], d, &n) != HAUL_ETAG_OTHER)
            FAIL_("\"%s\" is not OTHER", other[i]);
        ASSERT_EQ(n, 0);
    }
    ASSERT_EQ(haul_etag_parse(NULL, 0, d, &n), HAUL_ETAG_OTHER);
    /* The length is honoured: a valid ETag cut short is not one. */
    ASSERT_EQ(haul_etag_parse("9b2cf535f27731c974343645a3985328", 31, d, &n), HAUL_ETAG_OTHER);
    ASSERT_EQ(haul_etag_parse("9b2cf535f27731c974343645a3985328-25", 34, d, &n),
              HAUL_ETAG_MULTIPART);
    ASSERT_EQ(n, 2);
}

static int cr(const char *s, long long *f, long long *l, long long *t)
{
    return haul_content_range_parse(s, strlen(s), f, l, t);
}

TEST(content_range)
{
    long long f = 7, l = 7, t = 7;
    ASSERT_EQ(cr("bytes 0-5242879/12595257", &f, &l, &t), 0);
    ASSERT_EQ(f, 0); ASSERT_EQ(l, 5242879); ASSERT_EQ(t, 12595257);
    ASSERT_EQ(cr("  Bytes  100-100/101 ", &f, &l, &t), 0);
    ASSERT_EQ(f, 100); ASSERT_EQ(l, 100); ASSERT_EQ(t, 101);
    ASSERT_EQ(cr("bytes 0-9/*", &f, &l, &t), 0);
    ASSERT_EQ(f, 0); ASSERT_EQ(l, 9); ASSERT_EQ(t, -1);
    ASSERT_EQ(cr("bytes */3146763", &f, &l, &t), 0);
    ASSERT_EQ(f, -1); ASSERT_EQ(l, -1); ASSERT_EQ(t, 3146763);
    ASSERT_EQ(cr("bytes 0-9223372036854775806/9223372036854775807", NULL, NULL, NULL), 0);

    static const char *const bad[] = {
        "", "bytes", "bytes ", "bytes=0-1/2", "bits 0-1/2", "bytes0-1/2", "bytes 1-0/2",
        "bytes 0-2/2", "bytes 0-1", "bytes 0-1/", "bytes -1/2", "bytes 0-/2", "bytes */*",
        "bytes 0-*/2", "bytes * /2", "bytes 0-1/2 x", "bytes 0 -1/2", "bytes +0-1/2",
        "bytes 0-1/9223372036854775808", "bytes 0x1-2/3", "bytes 0-1/2/3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = l = t = 7;
        if (cr(bad[i], &f, &l, &t) != -1) FAIL_("\"%s\" parsed", bad[i]);
        ASSERT(f == 7 && l == 7 && t == 7);
    }
    ASSERT_EQ(haul_content_range_parse(NULL, 0, &f, &l, &t), -1);
    ASSERT_EQ(haul_content_range_parse("bytes 0-1/2\0", 12, &f, &l, &t), -1);
}

TEST(md5_plain)
{
    unsigned char *body = pattern(SLO_SIZE), d[16];
    char err[HAUL_ERR_LEN];
    haul_verified out;
    /* md5sum of the uploaded file, and of nothing. */
    unhex("2bfd6682bcfa33b6848d5fb9af4f610f", d);
    for (size_t c = 0; c < NCHUNKS; c++) {
        haul_verifier *v = haul_verifier_md5(d);
        ASSERT_EQ(run(v, body, SLO_SIZE, chunks[c], &out, err), 0);
        ASSERT_EQ(out, HAUL_VERIFIED_MD5);
        haul_verifier_free(v);
    }
    unhex("d41d8cd98f00b204e9800998ecf8427e", d);
    haul_verifier *v = haul_verifier_md5(d);
    ASSERT_EQ(haul_verifier_final(v, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_MD5);
    haul_verifier_free(v);
    free(body);
}

TEST(md5_mismatch)
{
    unsigned char *body = pattern(SLO_SIZE), d[16];
    char err[HAUL_ERR_LEN];
    haul_verified out = HAUL_VERIFIED_MD5;
    unhex("2bfd6682bcfa33b6848d5fb9af4f610f", d);
    body[123456] ^= 1;
    haul_verifier *v = haul_verifier_md5(d);
    ASSERT_EQ(run(v, body, SLO_SIZE, 4096, &out, err), -1);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    ASSERT_CONTAINS(err, "the ETag 2bfd6682bcfa33b6848d5fb9af4f610f");
    ASSERT_CONTAINS(err, "corrupt");
    haul_verifier_free(v);
    /* A short body is just another MD5. */
    body[123456] ^= 1;
    v = haul_verifier_md5(d);
    ASSERT_EQ(run(v, body, SLO_SIZE - 1, 0, &out, err), -1);
    haul_verifier_free(v);
    free(body);
}

TEST(slo_manifest_real)
{
    haul_segment *sv = NULL;
    size_t n = 0;
    char err[HAUL_ERR_LEN] = "";
    ASSERT_EQ(haul_slo_manifest_parse(SLO_MANIFEST, strlen(SLO_MANIFEST), &sv, &n, err), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(sv[0].name, "/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000000");
    ASSERT_STREQ(sv[2].hash, "e4a8cfc023eedcce6b82cdd69dd50299");
    ASSERT_EQ(sv[0].bytes, 1048576);
    ASSERT_EQ(sv[2].bytes, 525288);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(sv[i].checkable, 1);
        ASSERT(sv[i].range == NULL);
    }
    /* Each hash is the MD5 of its megabyte of the file (md5sum of dd's cuts). */
    unsigned char *body = pattern(SLO_SIZE), d[16];
    md5_of(body + 2 * MiB, SLO_SIZE - 2 * MiB, d);
    ASSERT_MEMEQ(d, sv[2].md5, 16);
    free(body);
    ASSERT_EQ(haul_segments_total(sv, n), SLO_SIZE);

    /* Swift's ETag, reproduced by the rule, with or without quotes. */
    ASSERT_EQ(haul_segments_match_etag(sv, n, SLO_ETAG, strlen(SLO_ETAG), err), 0);
    ASSERT_EQ(haul_segments_match_etag(sv, n, SLO_ETAG + 1, 32, err), 0);
    /* The manifest's own ETag is not the object's. */
    const char *manifest_etag = "a412b1ecb4041bf369a5611f6897f1fa";
    ASSERT_EQ(haul_segments_match_etag(sv, n, manifest_etag, 32, err), -1);
    ASSERT_CONTAINS(err, "make the ETag 2c7fe97f05331213fb2df1e62104f249");
    ASSERT_CONTAINS(err, "another version");
    /* Two segments of three: another object. */
    ASSERT_EQ(haul_segments_match_etag(sv, 2, SLO_ETAG, strlen(SLO_ETAG), err), -1);
    ASSERT_EQ(haul_segments_match_etag(sv, n, "\"2c7fe97f05331213fb2df1e62104f249-3\"", 36,
                                       err), -1);
    ASSERT_CONTAINS(err, "not an MD5");
    haul_segments_free(sv, n);
}

static haul_segment *slo_segments(size_t *n)
{
    haul_segment *sv = NULL;
    char err[HAUL_ERR_LEN];
    if (haul_slo_manifest_parse(SLO_MANIFEST, strlen(SLO_MANIFEST), &sv, n, err) < 0) {
        printf("  %s\n", err);
        return NULL;
    }
    return sv;
}

TEST(slo_body_verified_in_any_chunking)
{
    size_t n;
    haul_segment *sv = slo_segments(&n);
    unsigned char *body = pattern(SLO_SIZE);
    char err[HAUL_ERR_LEN];
    haul_verified out;
    ASSERT(sv);
    for (size_t c = 0; c < NCHUNKS; c++) {
        haul_verifier *v = haul_verifier_segments(sv, n);
        int rc = run(v, body, SLO_SIZE, chunks[c], &out, err);
        if (rc != 0) FAIL_("chunks of %zu: %s", chunks[c], err);
        ASSERT_EQ(out, HAUL_VERIFIED_SEGMENTS);
        ASSERT_EQ(haul_verifier_failed(v), 0);
        haul_verifier_free(v);
    }
    haul_segments_free(sv, n);
    free(body);
}

/* A wrong byte in segment k is reported as segment k, with its place in the
 * body, whatever the chunking, and known as soon as segment k has ended. */
TEST(slo_wrong_byte_names_the_segment)
{
    size_t n;
    haul_segment *sv = slo_segments(&n);
    unsigned char *body = pattern(SLO_SIZE);
    char err[HAUL_ERR_LEN];
    haul_verified out;
    ASSERT(sv);
    static const struct { size_t at; const char *says; } cases[] = {
        {0, "segment 1 of 3 (/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000000, body bytes 0-1048575)"},
        {MiB - 1, "segment 1 of 3"},
        {MiB, "segment 2 of 3 (/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000001, body bytes 1048576-2097151)"},
        {SLO_SIZE - 1, "segment 3 of 3 (/verify_segments/slo.bin/slo/1795643523.483901/2622440/1048576/00000002, body bytes 2097152-2622439)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        body[cases[k].at] ^= 0x80;
        for (size_t c = 0; c < NCHUNKS; c++) {
            /* Byte by byte is segments_boundaries_every_chunking's job, on
             * small segments: 2.6 million calls here would only be slow. */
            if (chunks[c] == 1) continue;
            haul_verifier *v = haul_verifier_segments(sv, n);
            ASSERT_EQ(run(v, body, SLO_SIZE, chunks[c], &out, err), -1);
            ASSERT_CONTAINS(err, cases[k].says);
            ASSERT_CONTAINS(err, "the download is corrupt");
            ASSERT_EQ(out, HAUL_VERIFIED_NONE);
            haul_verifier_free(v);
        }
        body[cases[k].at] ^= 0x80;
    }
    ASSERT_CONTAINS(err, "its hash e4a8cfc023eedcce6b82cdd69dd50299");

    /* Known early: right after segment 1's last byte, not at the end. */
    body[10] ^= 1;
    haul_verifier *v = haul_verifier_segments(sv, n);
    haul_verifier_update(v, body, MiB - 1);
    ASSERT_EQ(haul_verifier_failed(v), 0);
    haul_verifier_update(v, body + MiB - 1, 1);
    ASSERT_EQ(haul_verifier_failed(v), 1);
    haul_verifier_free(v);
    haul_segments_free(sv, n);
    free(body);
}

TEST(slo_short_and_long_body)
{
    size_t n;
    haul_segment *sv = slo_segments(&n);
    unsigned char *body = pattern(SLO_SIZE + 1);
    char err[HAUL_ERR_LEN];
    haul_verified out;
    ASSERT(sv);

    haul_verifier *v = haul_verifier_segments(sv, n);
    ASSERT_EQ(run(v, body, 1000, 0, &out, err), -1);
    ASSERT_STREQ(err, "the body is 1000 bytes, its 3 segments add up to 2622440 (the download is short)");
    haul_verifier_free(v);

    /* Cut exactly at a segment's end: every segment so far is right. */
    v = haul_verifier_segments(sv, n);
    ASSERT_EQ(run(v, body, 2 * MiB, 7, &out, err), -1);
    ASSERT_CONTAINS(err, "the body is 2097152 bytes");
    haul_verifier_free(v);

    for (size_t c = 0; c < NCHUNKS; c++) {
        v = haul_verifier_segments(sv, n);
        ASSERT_EQ(run(v, body, SLO_SIZE + 1, chunks[c], &out, err), -1);
        ASSERT_CONTAINS(err, "longer than the 2622440 bytes its 3 segments add up to");
        ASSERT_EQ(haul_verifier_failed(v), 1);
        haul_verifier_free(v);
    }
    haul_segments_free(sv, n);
    free(body);
}

/* Small segments, a zero-byte one among them, fed 1 to 40 bytes at a time:
 * every boundary falls inside, at the start and at the end of a chunk. */
TEST(segments_boundaries_every_chunking)
{
    static const long long sizes[] = {10, 0, 33, 1, 1, 0, 17};
    haul_segment sv[7];
    char err[HAUL_ERR_LEN], name[16];
    unsigned char *body = pattern(62), *p = body;
    haul_verified out;
    for (size_t i = 0; i < 7; i++) {
        unsigned char d[16];
        char hex[33];
        md5_of(p, (size_t)sizes[i], d);
        hex_of(d, hex);
        snprintf(name, sizeof name, "/c/s%zu", i);
        ASSERT_EQ(haul_segment_set(&sv[i], name, hex, 32, sizes[i], err), 0);
        p += sizes[i];
    }
    ASSERT_EQ(haul_segments_total(sv, 7), 62);
    for (size_t chunk = 0; chunk <= 40; chunk++) {
        haul_verifier *v = haul_verifier_segments(sv, 7);
        ASSERT_EQ(run(v, body, 62, chunk, &out, err), 0);
        ASSERT_EQ(out, HAUL_VERIFIED_SEGMENTS);
        haul_verifier_free(v);
        body[44] ^= 1;   /* the second 1-byte segment, the 5th: 10 + 0 + 33 + 1 */
        v = haul_verifier_segments(sv, 7);
        ASSERT_EQ(run(v, body, 62, chunk, &out, err), -1);
        ASSERT_CONTAINS(err, "segment 5 of 7 (/c/s4, body bytes 44-44)");
        haul_verifier_free(v);
        body[44] ^= 1;
    }
    body[43] ^= 1;
    haul_verifier *v = haul_verifier_segments(sv, 7);
    ASSERT_EQ(run(v, body, 62, 1, &out, err), -1);
    ASSERT_CONTAINS(err, "segment 4 of 7 (/c/s3, body bytes 43-43)");
    haul_verifier_free(v);
    for (size_t i = 0; i < 7; i++) free(sv[i].name);
    free(body);
}

/* A zero-byte segment whose hash is not MD5("") is a mismatch too, found
 * even when the body is empty. */
TEST(segments_empty)
{
    haul_segment sv[1];
    char err[HAUL_ERR_LEN];
    haul_verified out;
    ASSERT_EQ(haul_segment_set(&sv[0], NULL, "d41d8cd98f00b204e9800998ecf8427e", 32, 0, err), 0);
    haul_verifier *v = haul_verifier_segments(sv, 1);
    ASSERT_EQ(haul_verifier_final(v, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_SEGMENTS);
    haul_verifier_free(v);
    sv[0].md5[0] ^= 1;
    v = haul_verifier_segments(sv, 1);
    ASSERT_EQ(haul_verifier_failed(v), 1);
    ASSERT_EQ(haul_verifier_final(v, &out, err), -1);
    ASSERT_CONTAINS(err, "segment 1 of 1 (inline data, empty, at body byte 0)");
    haul_verifier_free(v);
    /* No segments: an empty body, and nothing else, is right. */
    v = haul_verifier_segments(NULL, 0);
    ASSERT_EQ(haul_verifier_final(v, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_SEGMENTS);
    haul_verifier_free(v);
    v = haul_verifier_segments(NULL, 0);
    haul_verifier_update(v, "x", 1);
    ASSERT_EQ(haul_verifier_final(v, &out, err), -1);
    haul_verifier_free(v);
}

TEST(dlo_listing_real)
{
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    haul_verified out;
    ASSERT_EQ(haul_swift_parse_list(DLO_LISTING, strlen(DLO_LISTING), 10000, &pg, err), 0);
    ASSERT_EQ(pg.n, 3);
    haul_segment *sv = haul_calloc(pg.n, sizeof *sv);
    for (size_t i = 0; i < pg.n; i++)
        ASSERT_EQ(haul_segment_set(&sv[i], pg.v[i].name, pg.v[i].etag, strlen(pg.v[i].etag),
                                   pg.v[i].size, err), 0);
    ASSERT_EQ(haul_segments_match_etag(sv, pg.n, SLO_ETAG, strlen(SLO_ETAG), err), 0);
    unsigned char *body = pattern(SLO_SIZE);
    haul_verifier *v = haul_verifier_segments(sv, pg.n);
    ASSERT_EQ(run(v, body, SLO_SIZE, 65536, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_SEGMENTS);
    haul_verifier_free(v);
    body[2 * MiB] ^= 4;
    v = haul_verifier_segments(sv, pg.n);
    ASSERT_EQ(run(v, body, SLO_SIZE, 65536, &out, err), -1);
    ASSERT_CONTAINS(err, "segment 3 of 3 (dlo.bin/1795643523.488441/2622440/1048576/00000002");
    haul_verifier_free(v);
    free(body);
    haul_segments_free(sv, pg.n);
    haul_list_page_free(&pg);
}

TEST(segment_set_errors)
{
    haul_segment s;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_segment_set(&s, "a", "\"bac259e6f14c8b831c02f85042e13805\"", 34, 5, err), 0);
    ASSERT_STREQ(s.hash, "bac259e6f14c8b831c02f85042e13805");
    ASSERT_STREQ(s.name, "a");
    free(s.name);
    ASSERT_EQ(haul_segment_set(&s, "a", "bac259e6f14c8b831c02f85042e1380", 31, 5, err), -1);
    ASSERT_CONTAINS(err, "segment a: its hash \"bac259e6f14c8b831c02f85042e1380\" is not an MD5");
    ASSERT(s.name == NULL);
    ASSERT_EQ(haul_segment_set(&s, "a", "bac259e6f14c8b831c02f85042e13805-2", 34, 5, err), -1);
    ASSERT_EQ(haul_segment_set(&s, "a", NULL, 0, 5, err), -1);
    ASSERT_EQ(haul_segment_set(&s, "a", "bac259e6f14c8b831c02f85042e13805", 32, -1, err), -1);
    ASSERT_CONTAINS(err, "size is unknown");
}

/* Ranged segments, sub-SLOs and inline data, as Swift stored them. */
TEST(slo_ranged_manifest_real)
{
    haul_segment *sv = NULL;
    size_t n = 0;
    char err[HAUL_ERR_LEN] = "";
    ASSERT_EQ(haul_slo_manifest_parse(RANGED_MANIFEST, strlen(RANGED_MANIFEST), &sv, &n, err), 0);
    ASSERT_EQ(n, 6);
    ASSERT_STREQ(sv[0].range, "100-1099");
    ASSERT_EQ(sv[0].bytes, 1000);
    ASSERT_EQ(sv[0].checkable, 0);
    ASSERT(sv[1].range == NULL);
    ASSERT_EQ(sv[1].bytes, 2 * MiB);           /* the sub-SLO's whole length */
    ASSERT_EQ(sv[1].checkable, 0);             /* its hash is its ETag, not an MD5 */
    ASSERT_EQ(sv[2].bytes, MiB);
    ASSERT_EQ(sv[2].checkable, 1);
    ASSERT(sv[3].name == NULL);                /* inline data: "hello" */
    ASSERT_STREQ(sv[3].hash, "5d41402abc4b2a76b9719d911017c592");
    ASSERT_EQ(sv[3].bytes, 5);
    ASSERT_EQ(sv[3].checkable, 1);
    ASSERT_STREQ(sv[4].range, "1048566-1048575");
    ASSERT_EQ(sv[4].bytes, 10);
    ASSERT_STREQ(sv[5].range, "1048570-1048589");
    ASSERT_EQ(sv[5].bytes, 20);
    ASSERT_EQ(sv[5].checkable, 0);
    ASSERT_EQ(haul_segments_total(sv, n), RANGED_SIZE);
    ASSERT_EQ(haul_segments_match_etag(sv, n, RANGED_ETAG, strlen(RANGED_ETAG), err), 0);
    haul_segments_free(sv, n);
}

/* The ranged object's body, rebuilt from the pattern the way Swift served
 * it (its MD5 is what curl downloaded), verifies NONE: the ranged parts and
 * the sub-SLO cannot be checked. The whole segment and the inline data still
 * are, so a wrong byte there is still caught. */
TEST(slo_ranged_body)
{
    haul_segment *sv = NULL;
    size_t n = 0;
    char err[HAUL_ERR_LEN] = "", hex[33];
    haul_verified out;
    unsigned char *src = pattern(SLO_SIZE), *body = haul_malloc(RANGED_SIZE), *w = body, d[16];
#define PUT(p, len) do { memcpy(w, (p), (len)); w += (len); } while (0)
    PUT(src + 2 * MiB + 100, 1000);
    PUT(src, 2 * MiB);
    PUT(src, MiB);
    PUT("hello", 5);
    PUT(src + MiB + 1048566, 10);
    PUT(src + 1048570, 20);
#undef PUT
    ASSERT_EQ(w - body, RANGED_SIZE);
    md5_of(body, RANGED_SIZE, d);
    hex_of(d, hex);
    ASSERT_STREQ(hex, "a802d256ed13bef8c7b022b379358246");

    ASSERT_EQ(haul_slo_manifest_parse(RANGED_MANIFEST, strlen(RANGED_MANIFEST), &sv, &n, err), 0);
    for (size_t c = 0; c < NCHUNKS; c++) {
        haul_verifier *v = haul_verifier_segments(sv, n);
        ASSERT_EQ(run(v, body, RANGED_SIZE, chunks[c], &out, err), 0);
        ASSERT_EQ(out, HAUL_VERIFIED_NONE);
        ASSERT_STREQ(err, "4 of 6 segments could not be checked (ranged or sub-SLO segments): "
                          "not verified");
        haul_verifier_free(v);
    }
    /* In the whole segment (the 3rd) and in the inline data (the 4th). */
    size_t at3 = 1000 + 2 * MiB + 77, at4 = 1000 + 3 * MiB + 2;
    body[at3] ^= 1;
    haul_verifier *v = haul_verifier_segments(sv, n);
    ASSERT_EQ(run(v, body, RANGED_SIZE, 7, &out, err), -1);
    ASSERT_CONTAINS(err, "segment 3 of 6");
    haul_verifier_free(v);
    body[at3] ^= 1;
    body[at4] ^= 1;
    v = haul_verifier_segments(sv, n);
    ASSERT_EQ(run(v, body, RANGED_SIZE, 0, &out, err), -1);
    ASSERT_CONTAINS(err, "segment 4 of 6 (inline data, body bytes 3146728-3146732)");
    haul_verifier_free(v);
    body[at4] ^= 1;
    /* In a ranged part: not seen, by design; the length still is. */
    body[5] ^= 1;
    v = haul_verifier_segments(sv, n);
    ASSERT_EQ(run(v, body, RANGED_SIZE, 0, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    haul_verifier_free(v);
    v = haul_verifier_segments(sv, n);
    ASSERT_EQ(run(v, body, RANGED_SIZE - 1, 0, &out, err), -1);
    haul_verifier_free(v);

    haul_segments_free(sv, n);
    free(src);
    free(body);
}

/* A range over a whole segment (which Swift itself would drop) leaves it
 * checkable; a sub-SLO's size comes from swift_bytes= when an old Swift put
 * it in the content type; odd spellings of sub_slo are Swift's too. */
TEST(slo_manifest_details)
{
    static const char m[] =
        "[{\"name\": \"/c/a\", \"bytes\": 10, \"hash\": \"0123456789abcdef0123456789ABCDEF\", \"range\": \"0-9\"},"
        " {\"name\": \"/c/b\", \"bytes\": 300, \"hash\": \"0123456789abcdef0123456789abcdef\", \"sub_slo\": \"Yes\","
        "  \"content_type\": \"text/plain;swift_bytes=4096\"},"
        " {\"name\": \"/c/c\", \"bytes\": 7, \"hash\": \"0123456789abcdef0123456789abcdef\", \"sub_slo\": false,"
        "  \"range\": null, \"content_type\": \"x; swift_bytes=1\"},"
        " {\"name\": \"/c/d\", \"bytes\": 7, \"hash\": \"0123456789abcdef0123456789abcdef\", \"range\": \"\"},"
        " {\"name\": \"/c/e\", \"bytes\": 0, \"hash\": \"d41d8cd98f00b204e9800998ecf8427e\"}]";
    haul_segment *sv = NULL;
    size_t n = 0;
    char err[HAUL_ERR_LEN];
    if (haul_slo_manifest_parse(m, strlen(m), &sv, &n, err) != 0) FAIL_("%s", err);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(sv[0].checkable, 1);
    ASSERT_STREQ(sv[0].range, "0-9");
    ASSERT_STREQ(sv[0].hash, "0123456789abcdef0123456789ABCDEF"); /* as written */
    ASSERT_EQ(sv[1].checkable, 0);
    ASSERT_EQ(sv[1].bytes, 4096);
    ASSERT_EQ(sv[2].checkable, 1);
    ASSERT_EQ(sv[2].bytes, 7);               /* swift_bytes only counts for a sub-SLO */
    ASSERT(sv[3].range == NULL);
    ASSERT_EQ(sv[4].bytes, 0);
    ASSERT_EQ(haul_segments_total(sv, n), 10 + 4096 + 7 + 7);

    /* The ETag keeps the hash's case and the range, as Swift computes it. */
    unsigned char d[16];
    char hex[35];
    const char *cat = "0123456789abcdef0123456789ABCDEF:0-9;"
                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                      "0123456789abcdef0123456789abcdefd41d8cd98f00b204e9800998ecf8427e";
    md5_of(cat, strlen(cat), d);
    hex_of(d, hex);
    ASSERT_EQ(haul_segments_match_etag(sv, n, hex, 32, err), 0);
    haul_segments_free(sv, n);
}

TEST(slo_manifest_malformed)
{
#define H "\"hash\": \"0123456789abcdef0123456789abcdef\""
    static const struct { const char *json, *says; } bad[] = {
        {"", "empty body"},
        {"{}", "expected a JSON array of segments, got an object"},
        {"[1]", "entry [0]: an integer, not an object"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1, " H "}, null]", "entry [1]: null, not an object"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1}]", "entry [0]: \"hash\" is missing"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1, \"hash\": \"0123\"}]", "\"hash\" is a string, not an MD5"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1, \"hash\": \"0123456789abcdef0123456789abcdeg\"}]", "not an MD5"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1, \"hash\": 5}]", "\"hash\" is an integer"},
        {"[{\"bytes\": 1, " H "}]", "\"name\" is missing"},
        {"[{\"name\": \"\", \"bytes\": 1, " H "}]", "\"name\" is empty"},
        {"[{\"name\": \"/c/\\u0000\", \"bytes\": 1, " H "}]", "malformed JSON"}, /* jansson refuses NUL */
        {"[{\"name\": \"/c/o\", \"bytes\": -1, " H "}]", "\"bytes\" is negative"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1.5, " H "}]", "\"bytes\" is a real number"},
        {"[{\"name\": \"/c/o\", \"bytes\": \"1\", " H "}]", "\"bytes\" is a string"},
        {"[{\"name\": \"/c/o\", " H "}]", "\"bytes\" is missing"},
        {"[{\"name\": \"/c/o\", \"bytes\": 99999999999999999999, " H "}]", "malformed JSON"},
        {"[{\"name\": \"/c/o\", \"bytes\": 10, " H ", \"range\": \"5-\"}]", "\"range\" \"5-\" is not FIRST-LAST"},
        {"[{\"name\": \"/c/o\", \"bytes\": 10, " H ", \"range\": \"-5\"}]", "is not FIRST-LAST"},
        {"[{\"name\": \"/c/o\", \"bytes\": 10, " H ", \"range\": \"5-4\"}]", "is not FIRST-LAST"},
        {"[{\"name\": \"/c/o\", \"bytes\": 10, " H ", \"range\": \"bytes=1-2\"}]", "is not FIRST-LAST"},
        {"[{\"name\": \"/c/o\", \"bytes\": 10, " H ", \"range\": \"5-10\"}]", "beyond the segment's 10 bytes"},
        {"[{\"name\": \"/c/o\", \"bytes\": 10, " H ", \"range\": 5}]", "\"range\" is an integer"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1, " H ", " H "}]", "malformed JSON"},
        {"[{\"name\": \"/c/o\", \"bytes\": 9223372036854775807, " H "},"
         " {\"name\": \"/c/o\", \"bytes\": 1, " H "}]", "entry [1]: the segments add up to more than"},
        {"[{\"data\": \"aGVsbG8\"}]", "not base64"},
        {"[{\"data\": \"\"}]", "not base64"},
        {"[{\"data\": \"aGVs=G8=\"}]", "not base64"},
        {"[{\"data\": \"====\"}]", "not base64"},
        {"[{\"data\": 1}]", "\"data\" is an integer"},
        {"[{\"name\": \"/c/o\", \"bytes\": 1, " H "}] x", "malformed JSON"},
    };
#undef H
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        haul_segment *sv = (haul_segment *)1;
        size_t n = 42;
        char err[HAUL_ERR_LEN] = "";
        if (haul_slo_manifest_parse(bad[i].json, strlen(bad[i].json), &sv, &n, err) != -1)
            FAIL_("parsed: %s", bad[i].json);
        ASSERT(sv == NULL);
        ASSERT_EQ(n, 0);
        ASSERT_CONTAINS(err, "SLO manifest: ");
        ASSERT_CONTAINS(err, bad[i].says);
    }
}

/* PUT verify/empty.bin?multipart-manifest=put with "[]": Swift 2.30 took it
 * (201), GET ?multipart-manifest=get answered "[]", and a GET answered an
 * empty body with X-Static-Large-Object: True and ETag
 * "d41d8cd98f00b204e9800998ecf8427e", MD5 of nothing. */
TEST(slo_empty_manifest_real)
{
    haul_segment *sv = (haul_segment *)1;
    size_t n = 42;
    char err[HAUL_ERR_LEN];
    haul_verified out;
    ASSERT_EQ(haul_slo_manifest_parse("[]", 2, &sv, &n, err), 0);
    ASSERT(sv == NULL);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(haul_segments_total(sv, n), 0);
    ASSERT_EQ(haul_segments_match_etag(sv, n, "\"d41d8cd98f00b204e9800998ecf8427e\"", 34, err), 0);
    haul_verifier *v = haul_verifier_segments(sv, n);
    ASSERT_EQ(haul_verifier_final(v, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_SEGMENTS);
    haul_verifier_free(v);
    haul_segments_free(sv, n);
}

TEST(slo_manifest_limits)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_segment *sv = NULL;
    size_t n = 0;
    char err[HAUL_ERR_LEN];
    haul_buf_addc(&b, '[');
    for (int i = 0; i <= HAUL_SLO_MAX_SEGMENTS; i++)
        haul_buf_printf(&b, "%s{\"data\": \"eA==\"}", i ? "," : "");
    haul_buf_addc(&b, ']');
    ASSERT_EQ(haul_slo_manifest_parse(b.p, b.len, &sv, &n, err), -1);
    ASSERT_CONTAINS(err, "10001 segments, more than the limit of 10000");
    /* One fewer is fine: 10,000 bytes of "x". */
    b.len -= strlen(",{\"data\": \"eA==\"}]");
    haul_buf_addc(&b, ']');
    ASSERT_EQ(haul_slo_manifest_parse(b.p, b.len, &sv, &n, err), 0);
    ASSERT_EQ(n, HAUL_SLO_MAX_SEGMENTS);
    ASSERT_EQ(haul_segments_total(sv, n), HAUL_SLO_MAX_SEGMENTS);
    haul_segments_free(sv, n);
    haul_buf_free(&b);
    char *big = haul_malloc(HAUL_SLO_MAX_MANIFEST + 1);
    memset(big, ' ', HAUL_SLO_MAX_MANIFEST + 1);
    memcpy(big, "[{\"data\": \"eA==\"}]", 18);
    ASSERT_EQ(haul_slo_manifest_parse(big, HAUL_SLO_MAX_MANIFEST, &sv, &n, err), 0);
    haul_segments_free(sv, n);
    ASSERT_EQ(haul_slo_manifest_parse(big, HAUL_SLO_MAX_MANIFEST + 1, &sv, &n, err), -1);
    ASSERT_CONTAINS(err, "16777217 bytes, more than the limit of 16777216");
    free(big);
}

/* ---- S3 multipart ------------------------------------------------------------ */

/* ETags the Swift s3api answered for boto3 uploads of the pattern. */
static const struct mpu {
    const char *etag;
    size_t size, part;
} FIVE = {"\"dd8730ee3a4b3415e8577e97bcbf7da5-3\"", 12595257, 5 * MiB},
  EIGHT = {"\"1c9005795f5538b560fd489cdea025b9-3\"", 17830113, 8 * MiB},
  ONE = {"\"9e918595987328e1acff7221cbeb5ce4-1\"", 9437184, 16 * MiB};

static haul_verifier *mpu_verifier(const struct mpu *m, long long size, long long exact)
{
    unsigned char d[16];
    long long n;
    if (parse_etag(m->etag, d, &n) != HAUL_ETAG_MULTIPART) return NULL;
    return haul_verifier_parts(d, n, size, exact);
}

TEST(multipart_rule_matches_s3api)
{
    const struct mpu *all[] = {&FIVE, &EIGHT, &ONE};
    for (size_t i = 0; i < 3; i++) {
        unsigned char *body = pattern(all[i]->size), d[16], want[16];
        long long n;
        multipart_md5(body, all[i]->size, all[i]->part, d);
        ASSERT_EQ(parse_etag(all[i]->etag, want, &n), HAUL_ETAG_MULTIPART);
        ASSERT_MEMEQ(d, want, 16);
        free(body);
    }
}

TEST(multipart_exact_part_size)
{
    unsigned char *body = pattern(FIVE.size);
    char err[HAUL_ERR_LEN];
    haul_verified out;
    for (size_t c = 0; c < NCHUNKS; c++) {
        if (chunks[c] == 1) continue;  /* 12 MB a byte at a time, three times: too slow */
        haul_verifier *v = mpu_verifier(&FIVE, (long long)FIVE.size, 5 * MiB);
        ASSERT(v);
        ASSERT_EQ(run(v, body, FIVE.size, chunks[c], &out, err), 0);
        ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
        ASSERT_STREQ(err, "3 parts of 5242880 bytes");
        haul_verifier_free(v);
    }
    /* Told the part size, a difference is corruption. */
    body[FIVE.size - 1] ^= 1;
    haul_verifier *v = mpu_verifier(&FIVE, (long long)FIVE.size, 5 * MiB);
    ASSERT_EQ(run(v, body, FIVE.size, 65536, &out, err), -1);
    ASSERT_CONTAINS(err, "the body's 3 parts of 5242880 bytes make the ETag ");
    ASSERT_CONTAINS(err, "the object's is dd8730ee3a4b3415e8577e97bcbf7da5-3 (the download is corrupt)");
    haul_verifier_free(v);
    body[FIVE.size - 1] ^= 1;
    /* A wrong exact size (the store said 6 MiB: also 3 parts) is a mismatch:
     * the store is trusted. */
    v = mpu_verifier(&FIVE, (long long)FIVE.size, 6 * MiB);
    ASSERT_EQ(run(v, body, FIVE.size, 0, &out, err), -1);
    haul_verifier_free(v);
    /* One that does not make 3 parts says the parts were unequal: NONE. */
    v = mpu_verifier(&FIVE, (long long)FIVE.size, 8 * MiB);
    ASSERT_EQ(run(v, body, FIVE.size, 0, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    ASSERT_CONTAINS(err, "parts of 8388608 bytes, as the store says, would be 2: the parts were "
                         "of unequal sizes, so not verified");
    haul_verifier_free(v);
    /* A store that ignored ?partNumber=1 gave the whole length: NONE too. */
    v = mpu_verifier(&FIVE, (long long)FIVE.size, (long long)FIVE.size);
    ASSERT_EQ(run(v, body, FIVE.size, 0, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    haul_verifier_free(v);
    free(body);
}

TEST(multipart_guessed_5_and_8_mib)
{
    const struct mpu *all[] = {&FIVE, &EIGHT};
    char err[HAUL_ERR_LEN], want[64];
    haul_verified out;
    for (size_t i = 0; i < 2; i++) {
        unsigned char *body = pattern(all[i]->size);
        snprintf(want, sizeof want, "3 parts of %zu bytes", all[i]->part);
        for (size_t c = 0; c < NCHUNKS; c++) {
            if (chunks[c] == 1) continue;
            haul_verifier *v = mpu_verifier(all[i], (long long)all[i]->size, 0);
            ASSERT_EQ(run(v, body, all[i]->size, chunks[c], &out, err), 0);
            ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
            ASSERT_STREQ(err, want);
            haul_verifier_free(v);
        }
        /* A guess that fails is not corruption: another size may be right. */
        body[0] ^= 1;
        haul_verifier *v = mpu_verifier(all[i], (long long)all[i]->size, 0);
        ASSERT_EQ(run(v, body, all[i]->size, 0, &out, err), 0);
        ASSERT_EQ(out, HAUL_VERIFIED_NONE);
        ASSERT_CONTAINS(err, "reproduces it: not verified");
        haul_verifier_free(v);
        free(body);
    }
}

/* Uploaded with 6 MiB parts (not a size clients use): three parts, like 5
 * MiB and like ceil(size/3), which are tried and fail. NONE, saying what was
 * tried. The ETag was computed with Python's hashlib. */
TEST(multipart_no_candidate_matches)
{
    unsigned char *body = pattern(FIVE.size), d[16];
    char err[HAUL_ERR_LEN], hex[33];
    haul_verified out;
    multipart_md5(body, FIVE.size, 6 * MiB, d);
    hex_of(d, hex);
    ASSERT_STREQ(hex, "5eb09f568d0b34df04a08ee28bcd436a");
    haul_verifier *v = haul_verifier_parts(d, 3, (long long)FIVE.size, 0);
    ASSERT_EQ(run(v, body, FIVE.size, 65536, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    ASSERT_STREQ(err, "S3 multipart ETag 5eb09f568d0b34df04a08ee28bcd436a-3: none of the 2 part "
                      "sizes tried (5242880, 4198419 bytes) reproduces it: not verified");
    haul_verifier_free(v);
    /* Told the size, it verifies. */
    v = haul_verifier_parts(d, 3, (long long)FIVE.size, 6 * MiB);
    ASSERT_EQ(run(v, body, FIVE.size, 65536, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
    haul_verifier_free(v);
    /* No common size makes 2 parts of 3 MiB + 1, but ceil(size/2) does. */
    multipart_md5(body, 3 * MiB + 1, (3 * MiB + 2) / 2, d);
    v = haul_verifier_parts(d, 2, 3 * MiB + 1, 0);
    ASSERT_EQ(run(v, body, 3 * MiB + 1, 0, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
    ASSERT_STREQ(err, "2 parts of 1572865 bytes");
    haul_verifier_free(v);
    /* 10 bytes cannot be 6 equal parts and a remainder: nothing to try. */
    v = haul_verifier_parts(d, 6, 10, 0);
    ASSERT_EQ(run(v, body, 10, 1, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    ASSERT_CONTAINS(err, "no common part size cuts the body into that many parts");
    haul_verifier_free(v);
    free(body);
}

/* One part is the whole body: no guess, so a difference is certain. */
TEST(multipart_single_part)
{
    unsigned char *body = pattern(ONE.size), d[16];
    char err[HAUL_ERR_LEN], hex[33];
    haul_verified out;
    haul_verifier *v = mpu_verifier(&ONE, (long long)ONE.size, 0);
    ASSERT_EQ(run(v, body, ONE.size, 65536, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
    ASSERT_STREQ(err, "one part of 9437184 bytes");
    haul_verifier_free(v);
    body[ONE.size / 2] ^= 1;
    v = mpu_verifier(&ONE, (long long)ONE.size, 0);
    ASSERT_EQ(run(v, body, ONE.size, 4096, &out, err), -1);
    ASSERT_CONTAINS(err, "the object's is 9e918595987328e1acff7221cbeb5ce4-1 (the download is corrupt)");
    haul_verifier_free(v);
    /* An empty object uploaded as one empty part. */
    multipart_md5(body, 0, 1, d);
    hex_of(d, hex);
    ASSERT_STREQ(hex, "59adb24ef3cdbe0297f05b395827453f");
    v = haul_verifier_parts(d, 1, 0, 0);
    ASSERT_EQ(haul_verifier_final(v, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
    haul_verifier_free(v);
    free(body);
}

TEST(multipart_length)
{
    unsigned char *body = pattern(EIGHT.size + 1);
    char err[HAUL_ERR_LEN];
    haul_verified out;
    haul_verifier *v = mpu_verifier(&EIGHT, (long long)EIGHT.size, 0);
    ASSERT_EQ(run(v, body, EIGHT.size - 1, 65536, &out, err), -1);
    ASSERT_STREQ(err, "the body is 17830112 bytes, the object 17830113 (the download is short)");
    haul_verifier_free(v);
    v = mpu_verifier(&EIGHT, (long long)EIGHT.size, 0);
    ASSERT_EQ(run(v, body, EIGHT.size + 1, 65536, &out, err), -1);
    ASSERT_CONTAINS(err, "longer than the object's 17830113 bytes");
    ASSERT_EQ(haul_verifier_failed(v), 1);
    haul_verifier_free(v);
    /* Even with nothing to try, the length is checked. */
    v = haul_verifier_parts((const unsigned char *)"0123456789abcdef", 6, 10, 0);
    ASSERT_EQ(run(v, body, 9, 0, &out, err), -1);
    haul_verifier_free(v);
    /* Arguments that give nothing to check. */
    v = haul_verifier_parts((const unsigned char *)"0123456789abcdef", 0, 10, 0);
    ASSERT_EQ(run(v, body, 3, 0, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    haul_verifier_free(v);
    v = haul_verifier_parts((const unsigned char *)"0123456789abcdef", 10001, 1LL << 40, 0);
    ASSERT_EQ(run(v, body, 3, 0, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_NONE);
    haul_verifier_free(v);
    free(body);
}

/* Past 10,000 parts of 8 MiB, boto3 doubles its part size; past 10,000 of
 * 5 MiB, the Java v1 and JavaScript v3 SDKs take ceil(size/10000). The
 * candidates for such sizes are checked without hashing 100 GB: a small
 * body with the same arithmetic (10000 parts of 7 bytes and 3 over). */
TEST(multipart_derived_candidate)
{
    size_t size = 10000 * 7 - 4;   /* ceil(size/10000) = 7: 9999 parts of 7, one of 3 */
    unsigned char *body = pattern(size), d[16];
    char err[HAUL_ERR_LEN];
    haul_verified out;
    multipart_md5(body, size, 7, d);
    haul_verifier *v = haul_verifier_parts(d, 10000, (long long)size, 0);
    ASSERT_EQ(run(v, body, size, 1000, &out, err), 0);
    ASSERT_EQ(out, HAUL_VERIFIED_PARTS);
    ASSERT_STREQ(err, "10000 parts of 7 bytes");
    haul_verifier_free(v);
    free(body);
}

TEST(null_free)
{
    haul_verifier_free(NULL);
    haul_segments_free(NULL, 0);
    ASSERT_EQ(haul_verifier_failed(NULL), 0);
}

int main(void)
{
    RUN(verified_names);
    RUN(etag_parse_kinds);
    RUN(etag_parse_other);
    RUN(content_range);
    RUN(md5_plain);
    RUN(md5_mismatch);
    RUN(slo_manifest_real);
    RUN(slo_body_verified_in_any_chunking);
    RUN(slo_wrong_byte_names_the_segment);
    RUN(slo_short_and_long_body);
    RUN(segments_boundaries_every_chunking);
    RUN(segments_empty);
    RUN(dlo_listing_real);
    RUN(segment_set_errors);
    RUN(slo_ranged_manifest_real);
    RUN(slo_ranged_body);
    RUN(slo_manifest_details);
    RUN(slo_manifest_malformed);
    RUN(slo_empty_manifest_real);
    RUN(slo_manifest_limits);
    RUN(multipart_rule_matches_s3api);
    RUN(multipart_exact_part_size);
    RUN(multipart_guessed_5_and_8_mib);
    RUN(multipart_no_candidate_matches);
    RUN(multipart_single_part);
    RUN(multipart_length);
    RUN(multipart_derived_candidate);
    RUN(null_free);
    TEST_DONE();
}
