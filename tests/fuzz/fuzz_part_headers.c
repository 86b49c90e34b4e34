/* fuzz_part_headers.c -- what haul reads from an S3 multipart object's
 * headers (common/verify.h): the ETag classifier and the Content-Range
 * parser on every input, then the multipart verifier on a small body.
 *
 * The parsers' answers are checked by writing them back: an MD5 or multipart
 * ETag, and a Content-Range, must come out as the canonical form of what went
 * in, and parse again to the same values; a refused Content-Range leaves the
 * outputs alone.
 *
 * The verifier: the first three bytes choose a part size P (1 to 256), the
 * number of bytes N of the input to use as the body, and a chunk size; the
 * S3 ETag of that body cut into parts of P bytes is computed here. Told P,
 * the verifier must answer PARTS; told another size that makes as many
 * parts, a mismatch (unless that split gives the same digest, which would
 * take an MD5 collision); guessing, PARTS or NONE but never an error, and
 * PARTS when P is the even split ceil(N/parts). A body one byte short is
 * always refused. */
#include "fuzz.h"
#include "verify.h"

#include <ctype.h>

#include <openssl/evp.h>

/* ---- ETag ---- */

static void check_etag(const char *s, size_t n)
{
    unsigned char d[16], d2[16];
    long long parts = -7, parts2;
    haul_etag_kind k = haul_etag_parse(s, n, d, &parts);

    FUZZ_CHECK(k == HAUL_ETAG_OTHER || k == HAUL_ETAG_MD5 || k == HAUL_ETAG_MULTIPART,
               "kind %d", (int)k);
    if (k != HAUL_ETAG_MULTIPART) FUZZ_CHECK(parts == 0, "%d with %lld parts", (int)k, parts);
    if (k == HAUL_ETAG_OTHER) return;
    if (k == HAUL_ETAG_MULTIPART)
        FUZZ_CHECK(parts >= 1 && parts <= HAUL_MULTIPART_MAX_PARTS, "%lld parts", parts);

    /* The canonical form: lower-case hex in quotes, then "-N". */
    char canon[64];
    int len = snprintf(canon, sizeof canon, "\"");
    for (int i = 0; i < 16; i++) len += snprintf(canon + len, sizeof canon - len, "%02x", d[i]);
    if (k == HAUL_ETAG_MULTIPART)
        len += snprintf(canon + len, sizeof canon - len, "-%lld", parts);
    len += snprintf(canon + len, sizeof canon - len, "\"");

    /* What went in, without spaces and quotes, is that, up to case. */
    const char *p = s;
    size_t m = n;
    while (m && (*p == ' ' || *p == '\t')) { p++; m--; }
    while (m && (p[m - 1] == ' ' || p[m - 1] == '\t')) m--;
    if (m && *p == '"') { p++; m -= 2; }
    FUZZ_CHECK(m == (size_t)len - 2, "\"%.*s\" became %s", (int)n, s, canon);
    for (size_t i = 0; i < m; i++)
        FUZZ_CHECK(tolower((unsigned char)p[i]) == canon[1 + i], "\"%.*s\" became %s", (int)n,
                   s, canon);

    FUZZ_CHECK(haul_etag_parse(canon, (size_t)len, d2, &parts2) == k &&
               memcmp(d, d2, 16) == 0 && parts2 == parts, "%s does not parse back", canon);
}

/* ---- Content-Range ---- */

static void check_content_range(const char *s, size_t n)
{
    long long f = -7, l = -7, t = -7;
    int rc = haul_content_range_parse(s, n, &f, &l, &t);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(f == -7 && l == -7 && t == -7, "refused but wrote %lld %lld %lld", f, l, t);
        return;
    }
    FUZZ_CHECK((f < 0) == (l < 0), "first %lld, last %lld", f, l);
    FUZZ_CHECK(f >= -1 && t >= -1 && !(f < 0 && t < 0), "first %lld, total %lld", f, t);
    if (f >= 0) FUZZ_CHECK(f <= l && (t < 0 || l < t), "%lld-%lld/%lld", f, l, t);

    char canon[80];
    if (f < 0) snprintf(canon, sizeof canon, "bytes */%lld", t);
    else if (t < 0) snprintf(canon, sizeof canon, "bytes %lld-%lld/*", f, l);
    else snprintf(canon, sizeof canon, "bytes %lld-%lld/%lld", f, l, t);
    long long f2, l2, t2;
    FUZZ_CHECK(haul_content_range_parse(canon, strlen(canon), &f2, &l2, &t2) == 0 &&
               f2 == f && l2 == l && t2 == t, "%s does not parse back", canon);
}

/* ---- The multipart verifier ---- */

static void etag_of(const unsigned char *b, size_t n, size_t part, unsigned char out[16],
                    long long *parts)
{
    EVP_MD_CTX *all = EVP_MD_CTX_new();
    EVP_DigestInit_ex(all, EVP_md5(), NULL);
    *parts = 0;
    size_t off = 0;
    do {
        unsigned char d[16];
        size_t k = n - off < part ? n - off : part;
        EVP_Digest(b + off, k, d, NULL, EVP_md5(), NULL);
        EVP_DigestUpdate(all, d, 16);
        off += k;
        (*parts)++;
    } while (off < n);
    EVP_DigestFinal_ex(all, out, NULL);
    EVP_MD_CTX_free(all);
}

static int verify(const unsigned char md5[16], long long parts, const unsigned char *b,
                  size_t n, long long size, long long exact, size_t chunk, haul_verified *out)
{
    char err[HAUL_ERR_LEN];
    haul_verifier *v = haul_verifier_parts(md5, parts, size, exact);
    for (size_t off = 0; off < n; off += chunk)
        haul_verifier_update(v, b + off, n - off < chunk ? n - off : chunk);
    int rc = haul_verifier_final(v, out, err);
    haul_verifier_free(v);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    FUZZ_CHECK(memchr(err, '\0', HAUL_ERR_LEN) != NULL, "unterminated sentence");
    if (rc < 0) FUZZ_CHECK(err[0] && *out == HAUL_VERIFIED_NONE, "failed without a sentence");
    return rc;
}

static void check_parts(const uint8_t *data, size_t size)
{
    if (size < 3) return;
    size_t part = (size_t)data[0] + 1, chunk = (size_t)data[2] + 1;
    const unsigned char *b = data + 3;
    size_t n = size - 3;
    if (data[1] < n) n = data[1];
    unsigned char md5[16];
    long long parts;
    haul_verified out;

    etag_of(b, n, part, md5, &parts);
    FUZZ_CHECK(verify(md5, parts, b, n, (long long)n, (long long)part, chunk, &out) == 0 &&
               out == HAUL_VERIFIED_PARTS, "%zu bytes in parts of %zu: not verified", n, part);

    /* Another exact size with the same count: a different split, so a
     * different digest, so a mismatch. Only one split exists for one part. */
    for (size_t other = 1; other <= n + 1 && parts > 1; other++) {
        if (other == part || (n + other - 1) / other != (size_t)parts) continue;
        FUZZ_CHECK(verify(md5, parts, b, n, (long long)n, (long long)other, chunk, &out) == -1,
                   "%zu bytes in parts of %zu passed as parts of %zu", n, part, other);
        break;
    }

    /* Guessing never calls a body corrupt, and finds the even split. */
    int rc = verify(md5, parts, b, n, (long long)n, 0, chunk, &out);
    size_t even = (n + (size_t)parts - 1) / (size_t)parts;
    if (parts > 1) {
        FUZZ_CHECK(rc == 0, "%zu bytes in parts of %zu: a guess failed", n, part);
        if (even == part)
            FUZZ_CHECK(out == HAUL_VERIFIED_PARTS, "%zu bytes in %lld even parts: %s", n, parts,
                       haul_verified_str(out));
    } else {
        FUZZ_CHECK(rc == 0 && out == HAUL_VERIFIED_PARTS, "one part of %zu bytes: %d %s", n, rc,
                   haul_verified_str(out));
    }

    /* A byte short, told or guessing: refused. */
    if (n > 0)
        FUZZ_CHECK(verify(md5, parts, b, n - 1, (long long)n, 0, chunk, &out) == -1 &&
                   verify(md5, parts, b, n - 1, (long long)n, (long long)part, chunk, &out) == -1,
                   "a body one byte short passed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_etag((const char *)data, size);
    check_content_range((const char *)data, size);
    check_parts(data, size);
    return 0;
}
