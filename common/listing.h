/* listing.h -- parsers for the stores' listing and error bodies.
 *
 * Pure functions over a response body already in memory: no I/O, no global
 * state, so the unit tests and a fuzzer drive them directly. S3 bodies are
 * parsed with expat, Swift bodies with jansson; nothing is parsed by hand.
 *
 * Every body is untrusted input. A parser either fills the whole page and
 * returns 0, or returns -1 with a sentence in err (HAUL_ERR_LEN bytes) and
 * leaves the page empty: it never returns half a page and never leaks. The
 * limits below are enforced before the entries are stored; a page beyond them
 * is an error, not a silent truncation. */
#ifndef HAUL_LISTING_H
#define HAUL_LISTING_H

#include <stddef.h>

#define HAUL_LIST_MAX_ENTRIES 1000000 /* entries in one page */
#define HAUL_LIST_MAX_NAME 1024       /* bytes in one decoded name (S3 and Swift's own limit) */

typedef struct haul_list_entry {
    char *name;          /* key / common prefix / container / bucket name, decoded;
                            never NULL, never empty, never holds a NUL byte */
    long long size;      /* bytes, -1 when the listing does not say */
    char *etag;          /* without quotes; NULL when absent */
    char *last_modified; /* as the server wrote it; NULL when absent */
    long long count;     /* Swift account listing: objects in the container; -1 otherwise */
} haul_list_entry;

/* A page owns every string in it; free it with haul_list_page_free(). */
typedef struct haul_list_page {
    haul_list_entry *v;  /* n entries, in the order the server sent them */
    size_t n;
    int truncated;       /* 1 when more pages follow */
    char *next;          /* S3: NextContinuationToken (ListBuckets: ContinuationToken);
                            Swift: the marker for the next page (the last name);
                            NULL when not truncated */
} haul_list_page;

#define HAUL_LIST_PAGE_INIT {NULL, 0, 0, NULL}

/* Frees the entries and next, and zeroes the page so it can be reused. NULL ok. */
void haul_list_page_free(haul_list_page *p);

/* All parsers below overwrite *out without freeing it first: pass a zeroed
 * (HAUL_LIST_PAGE_INIT) or already freed page. On error *out is zeroed. */

/* S3 ListObjectsV2 response body (<ListBucketResult>).
 *
 * <Contents> become entries with name = Key, size = Size, etag = ETag without
 * its quotes, last_modified = LastModified. <CommonPrefixes><Prefix> become
 * entries with size -1 and no etag or date. Entries keep document order
 * (AWS sends all Contents before the CommonPrefixes). truncated = IsTruncated; next = NextContinuationToken, which must be
 * present when IsTruncated is true.
 *
 * With <EncodingType>url</EncodingType> the Key and Prefix values are
 * percent-decoded and '+' is decoded as a space (form decoding, what AWS SDKs
 * do; see listing.c for why that is right for both AWS and Swift's s3api). */
int haul_s3_parse_list_v2(const char *xml, size_t len, haul_list_page *out, char *err);

/* S3 ListBuckets response body (<ListAllMyBucketsResult>): one entry per
 * bucket with name = Name, last_modified = CreationDate, size and count -1.
 * When the server paginated (max-buckets), <ContinuationToken> sets
 * truncated = 1 and next = that token. */
int haul_s3_parse_buckets(const char *xml, size_t len, haul_list_page *out, char *err);

/* S3 error body <Error><Code>..</Code><Message>..</Message></Error>.
 * Returns 0 and fills code and msg (NUL-terminated, truncated to codelen and
 * msglen bytes at a UTF-8 character boundary, "" when the element is absent);
 * returns -1 (code and msg set to "") when the body is not a well-formed S3
 * error document. Either buffer may be NULL or of length 0. */
int haul_s3_parse_error(const char *xml, size_t len, char *code, size_t codelen,
                        char *msg, size_t msglen);

/* Swift container listing fetched with ?format=json&limit=<limit>:
 * [{"name","bytes","hash","last_modified","content_type"}, {"subdir": ...}].
 * Objects give name, size = bytes, etag = hash, last_modified; subdir entries
 * give name = subdir and size -1. Swift's JSON says nothing about paging: the
 * page is truncated when it is full, so truncated = (n >= limit) and next =
 * the last name (the marker for the next request). limit 0 means "no limit was
 * sent": truncated is then always 0. An empty body (older Swift answers an
 * empty listing with 204 No Content) is an empty page, not an error. */
int haul_swift_parse_list(const char *json, size_t len, size_t limit,
                          haul_list_page *out, char *err);

/* Swift account listing ?format=json: [{"name","count","bytes"[,"last_modified"]}]
 * gives name, size = bytes, count, last_modified; same paging rule. */
int haul_swift_parse_account(const char *json, size_t len, size_t limit,
                             haul_list_page *out, char *err);

/* "an object", "an array", "a string", ... for a sentence about a JSON value
 * of the wrong type (the listing and the SLO manifest parsers share it). */
struct json_t;
const char *haul_json_kind(const struct json_t *v);

#endif
