/* fuzz_manifest.c -- the SLO manifest parser, the segment-list ETag rule and
 * the segments verifier (common/verify.h) against arbitrary manifests.
 *
 * The first byte sets how the body is fed (chunks of 1 to 256 bytes); the
 * rest is the manifest. For a manifest that parses, the header's promises
 * are checked: sane segments whose hash text and md5 agree, a total that is
 * the sum, Swift's ETag rule (recomputed here from the strings) accepted and
 * a different ETag refused. When the segments add up to at most 1 MiB the
 * verifier is run over that many zero bytes: it must fail exactly when a
 * checkable segment's MD5 is not that of its zeros, say SEGMENTS exactly when
 * every segment was checked, and refuse a body one byte too long or short. */
#include "fuzz.h"
#include "verify.h"

#include <limits.h>

#include <openssl/evp.h>

#define BODY_MAX (1 << 20)

static unsigned char zeros[BODY_MAX + 1];

static int hexdigit(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void check_segment(const haul_segment *s, size_t i)
{
    unsigned char d[16];
    FUZZ_CHECK(s->bytes >= 0, "segment %zu: %lld bytes", i, s->bytes);
    FUZZ_CHECK(strlen(s->hash) == 32, "segment %zu: hash \"%s\"", i, s->hash);
    for (int k = 0; k < 32; k++)
        FUZZ_CHECK(hexdigit((unsigned char)s->hash[k]), "segment %zu: hash \"%s\"", i, s->hash);
    FUZZ_CHECK(haul_etag_parse(s->hash, 32, d, NULL) == HAUL_ETAG_MD5 &&
               memcmp(d, s->md5, 16) == 0, "segment %zu: md5 is not its hash %s", i, s->hash);
    FUZZ_CHECK(s->checkable == 0 || s->checkable == 1, "segment %zu: checkable %d", i,
               s->checkable);
    if (s->name) FUZZ_CHECK(s->name[0], "segment %zu: empty name", i);
    else FUZZ_CHECK(s->checkable && !s->range, "segment %zu: inline data not checkable", i);
    if (s->range) {
        long long first, last;
        char tail;
        FUZZ_CHECK(sscanf(s->range, "%lld-%lld%c", &first, &last, &tail) == 2,
                   "segment %zu: range \"%s\"", i, s->range);
        FUZZ_CHECK(0 <= first && first <= last && s->bytes == last - first + 1,
                   "segment %zu: range %s but %lld bytes", i, s->range, s->bytes);
        if (s->checkable)
            FUZZ_CHECK(first == 0, "segment %zu: a range from %lld is checkable", i, first);
    }
}

/* Swift's rule, written again from slo.py, over the parsed strings. */
static void swift_etag(const haul_segment *v, size_t n, char out[35])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char d[16];
    EVP_DigestInit_ex(c, EVP_md5(), NULL);
    for (size_t i = 0; i < n; i++) {
        EVP_DigestUpdate(c, v[i].hash, 32);
        if (v[i].range) {
            EVP_DigestUpdate(c, ":", 1);
            EVP_DigestUpdate(c, v[i].range, strlen(v[i].range));
            EVP_DigestUpdate(c, ";", 1);
        }
    }
    EVP_DigestFinal_ex(c, d, NULL);
    EVP_MD_CTX_free(c);
    out[0] = '"';
    for (int i = 0; i < 16; i++) snprintf(out + 1 + 2 * i, 3, "%02x", d[i]);
    out[33] = '"';
    out[34] = '\0';
}

static int feed(const haul_segment *v, size_t n, size_t len, size_t chunk,
                haul_verified *out, char *err)
{
    haul_verifier *ver = haul_verifier_segments(v, n);
    for (size_t off = 0; off < len; off += chunk)
        haul_verifier_update(ver, zeros, len - off < chunk ? len - off : chunk);
    int rc = haul_verifier_final(ver, out, err);
    haul_verifier_free(ver);
    FUZZ_CHECK(rc == 0 || rc == -1, "verifier returned %d", rc);
    FUZZ_CHECK(memchr(err, '\0', HAUL_ERR_LEN) != NULL, "unterminated sentence");
    if (rc < 0) FUZZ_CHECK(err[0] && *out == HAUL_VERIFIED_NONE, "failed without a sentence");
    return rc;
}

static void check_verifier(const haul_segment *v, size_t n, long long total, size_t chunk)
{
    char err[HAUL_ERR_LEN];
    haul_verified out;
    int want_ok = 1, all = 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char d[16];
        if (!v[i].checkable) {
            all = 0;
            continue;
        }
        EVP_Digest(zeros, (size_t)v[i].bytes, d, NULL, EVP_md5(), NULL);
        if (memcmp(d, v[i].md5, 16) != 0) want_ok = 0;
    }
    int rc = feed(v, n, (size_t)total, chunk, &out, err);
    FUZZ_CHECK((rc == 0) == want_ok, "%lld zero bytes: rc %d, expected %d: %s", total, rc,
               want_ok ? 0 : -1, err);
    if (rc == 0)
        FUZZ_CHECK(out == (all ? HAUL_VERIFIED_SEGMENTS : HAUL_VERIFIED_NONE),
                   "outcome %s with all checkable = %d", haul_verified_str(out), all);
    FUZZ_CHECK(feed(v, n, (size_t)total + 1, chunk, &out, err) == -1,
               "a body one byte too long passed");
    if (total > 0)
        FUZZ_CHECK(feed(v, n, (size_t)total - 1, chunk, &out, err) == -1,
                   "a body one byte too short passed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t chunk = (size_t)data[0] + 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    haul_segment *v = (haul_segment *)&v;   /* must be overwritten */
    size_t n = 12345;
    char err[HAUL_ERR_LEN] = "";

    int rc = haul_slo_manifest_parse(body, len, &v, &n, err);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    FUZZ_CHECK(memchr(err, '\0', HAUL_ERR_LEN) != NULL, "unterminated sentence");
    if (rc < 0) {
        FUZZ_CHECK(v == NULL && n == 0, "failed but left %zu segments", n);
        FUZZ_CHECK(strncmp(err, "SLO manifest: ", 14) == 0, "sentence \"%s\"", err);
        return 0;
    }
    FUZZ_CHECK(n <= HAUL_SLO_MAX_SEGMENTS && (v == NULL) == (n == 0), "%zu segments at %p", n,
               (void *)v);

    long long sum = 0;
    for (size_t i = 0; i < n; i++) {
        check_segment(&v[i], i);
        FUZZ_CHECK(v[i].bytes <= LLONG_MAX - sum, "the total overflows");
        sum += v[i].bytes;
    }
    long long total = haul_segments_total(v, n);
    FUZZ_CHECK(total == sum, "total %lld, sum %lld", total, sum);

    char etag[35];
    swift_etag(v, n, etag);
    FUZZ_CHECK(haul_segments_match_etag(v, n, etag, 34, err) == 0, "%s: %s", etag, err);
    FUZZ_CHECK(haul_segments_match_etag(v, n, etag + 1, 32, err) == 0, "%s unquoted: %s", etag,
               err);
    etag[1] = etag[1] == '0' ? '1' : '0';
    FUZZ_CHECK(haul_segments_match_etag(v, n, etag, 34, err) == -1 && err[0],
               "a wrong ETag %s matched", etag);
    /* Whatever the input says, as an ETag. */
    haul_segments_match_etag(v, n, body, len < 40 ? len : 40, err);

    if (total <= BODY_MAX) check_verifier(v, n, total, chunk);
    haul_segments_free(v, n);
    return 0;
}
