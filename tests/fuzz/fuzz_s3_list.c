/* fuzz_s3_list.c -- the S3 XML parsers (common/listing.h) against arbitrary
 * bodies: ListObjectsV2, ListBuckets and the error document, all three on
 * every input, since a server may answer any request with any of them.
 *
 * haul_s3_parse_error() is also called with small buffers whose sizes come
 * from the input's length, each allocated to the byte so that a write past
 * its end is caught, and the truncated answer is checked against the whole
 * one: the longest prefix that fits and ends on a UTF-8 character boundary. */
#include "fuzz.h"

#define BIG 16384 /* more than listing.c keeps of any text */

static char *alloc_exact(size_t n)
{
    char *p = malloc(n);
    FUZZ_CHECK(p != NULL || n == 0, "malloc(%zu)", n);
    return p;
}

/* small (small_len bytes) against whole (BIG bytes, not truncated). */
static void check_truncated(const char *what, const char *whole, const char *small,
                            size_t small_len)
{
    if (small_len == 0) return;
    FUZZ_CHECK(memchr(small, '\0', small_len) != NULL, "%s: not NUL-terminated in %zu bytes",
               what, small_len);
    size_t n = strlen(whole), want = n;
    if (n > small_len - 1) {
        want = small_len - 1;
        while (want > 0 && ((unsigned char)whole[want] & 0xc0) == 0x80) want--;
    }
    FUZZ_CHECK(strlen(small) == want && memcmp(small, whole, want) == 0,
               "%s in %zu bytes: got %zu bytes, want the first %zu of \"%s\"", what,
               small_len, strlen(small), want, whole);
}

static void fuzz_error(const char *xml, size_t len)
{
    char *code = alloc_exact(BIG), *msg = alloc_exact(BIG);
    size_t codelen = len % 23, msglen = len % 71;
    char *scode = alloc_exact(codelen), *smsg = alloc_exact(msglen);

    int rc = haul_s3_parse_error(xml, len, code, BIG, msg, BIG);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    FUZZ_CHECK(memchr(code, '\0', BIG) && memchr(msg, '\0', BIG), "not NUL-terminated");
    if (rc < 0)
        FUZZ_CHECK(code[0] == '\0' && msg[0] == '\0', "failed, but code \"%s\" msg \"%s\"",
                   code, msg);
    /* expat hands out UTF-8 only, and a truncation must not cut a character. */
    FUZZ_CHECK(fuzz_utf8_ok(code, strlen(code)), "code is not UTF-8");
    FUZZ_CHECK(fuzz_utf8_ok(msg, strlen(msg)), "message is not UTF-8");

    int rc2 = haul_s3_parse_error(xml, len, scode, codelen, smsg, msglen);
    FUZZ_CHECK(rc2 == rc, "%d with big buffers, %d with small ones", rc, rc2);
    if (strlen(code) < BIG - 1) check_truncated("code", code, scode, codelen);
    if (strlen(msg) < BIG - 1) check_truncated("message", msg, smsg, msglen);

    rc2 = haul_s3_parse_error(xml, len, NULL, 0, NULL, 0);
    FUZZ_CHECK(rc2 == rc, "%d with buffers, %d without", rc, rc2);

    free(smsg);
    free(scode);
    free(msg);
    free(code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *xml = (const char *)data;
    haul_list_page p = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int rc;

    rc = haul_s3_parse_list_v2(xml, size, &p, err);
    fuzz_check_page("ListObjectsV2", rc, &p, err);
    for (size_t i = 0; i < p.n; i++)
        FUZZ_CHECK(p.v[i].count == -1, "ListObjectsV2: entry [%zu] has a count", i);
    haul_list_page_free(&p);
    FUZZ_CHECK(p.v == NULL && p.n == 0 && p.next == NULL, "page not zeroed by free");

    err[0] = '\0';
    rc = haul_s3_parse_buckets(xml, size, &p, err);
    fuzz_check_page("ListBuckets", rc, &p, err);
    for (size_t i = 0; i < p.n; i++)
        FUZZ_CHECK(p.v[i].size == -1 && p.v[i].count == -1 && p.v[i].etag == NULL,
                   "ListBuckets: entry [%zu] has a size, count or etag", i);
    haul_list_page_free(&p);

    fuzz_error(xml, size);
    return 0;
}
