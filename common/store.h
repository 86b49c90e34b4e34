/* store.h -- talking to an object store: S3 (SigV4) or Swift (auth v1.0).
 *
 * This module turns (connection state, method, bucket, key, query) into a
 * ready-to-send libcurl request, keeps the per-process Swift token cache, and
 * turns a failed response into a sentence a user can act on. It never
 * performs a transfer itself except where stated (Swift auth, and the
 * blocking helpers the scheduler uses): the worker drives its transfers with
 * the curl multi interface, the scheduler with curl easy. */
#ifndef HAUL_STORE_H
#define HAUL_STORE_H

#include <curl/curl.h>

#include "buf.h"
#include "conn.h"
#include "listing.h"
#include "sigv4.h"

typedef struct haul_req {
    char *url;                  /* owned */
    struct curl_slist *headers; /* owned; signed headers included */
    int head;                   /* 1: HEAD (no body) */
    const char *method;         /* "GET", "HEAD", "PUT", "DELETE" or "POST" (static) */
} haul_req;
#define HAUL_REQ_EXTRA_MAX (2 * 64 + 8) /* extra headers of one request */

void haul_req_free(haul_req *r); /* NULL ok; zeroes */
/* Add a header line ("Name: value", or "Name:" to keep curl from sending
 * its own) to a built request, after its signed ones. */
void haul_req_header(haul_req *r, const char *line);

/* Build a GET or HEAD request for bucket/key (either may be NULL or "" for the
 * account / bucket level) with the given decoded query parameters. For Swift,
 * the token and storage URL come from haul_swift_session(). */
int haul_store_request(const haul_conn *c, const char *token, const char *storage_url,
                       const char *method, const char *bucket, const char *key,
                       const haul_kv *q, size_t nq, haul_req *out, char *err);

/* The same with extra headers (name, value; no CR, LF or ':' in a name, no
 * CR or LF in a value), signed for S3 with the rest. A PUT or POST is
 * signed with an unsigned payload (x-amz-content-sha256: UNSIGNED-PAYLOAD):
 * give its Content-MD5 among the extra headers, so the store checks the
 * body. */
int haul_store_request_hdrs(const haul_conn *c, const char *token, const char *storage_url,
                            const char *method, const char *bucket, const char *key,
                            const haul_kv *q, size_t nq, const haul_kv *extra, size_t nextra,
                            haul_req *out, char *err);

/* Apply URL, headers, method, TLS settings and timeouts to an easy handle.
 * The handle keeps pointers into r and c: both must outlive the transfer. */
void haul_store_setup(CURL *e, const haul_conn *c, const haul_req *r);

/* Swift auth v1.0 and the per-process token cache.
 *
 * A worker authenticates without blocking: haul_swift_cached() answers from
 * the cache; on a miss it runs the request of haul_swift_auth_request() as a
 * transfer like any other, collecting the answer's headers with
 * haul_swift_auth_header_cb() into a haul_swift_auth, and hands the outcome to
 * haul_swift_auth_finish(), which checks it and fills the cache. The
 * scheduler uses the blocking haul_swift_session(), built on the same parts.
 *
 * After a 401, pass the time (haul_mono_ms) the refused request was sent as
 * refresh_before: a cached token obtained before then is not taken, so many
 * requests refused together cause one new authentication, not one each; 0
 * takes any cached token. Strings handed out stay valid until the token is
 * renewed. Sentences name the auth URL, user and HTTP status, never the key. */
#define HAUL_SWIFT_AUTH_TIMEOUT_S 30

typedef struct haul_swift_auth {
    haul_buf token, url;   /* X-Auth-Token, X-Storage-Url of the answer */
    int bad;               /* a malformed one was seen */
} haul_swift_auth;

/* 1 with *token and *storage_url set (a pre-issued token, or a cached one
 * obtained at or after refresh_before); 0 when the worker must authenticate. */
int haul_swift_cached(const haul_conn *c, long long refresh_before, const char **token,
                      const char **storage_url);
/* The auth v1.0 request for c's credentials (X-Auth-User, X-Auth-Key). */
int haul_swift_auth_request(const haul_conn *c, haul_req *out, char *err);
/* CURLOPT_HEADERFUNCTION for an auth transfer; userdata a haul_swift_auth. */
size_t haul_swift_auth_header_cb(char *line, size_t sz, size_t n, void *ud);

/* A header line line[0..len) as curl hands it: its name line[0..*nlen) and
 * its value (*v, *vlen) without the spaces, tabs and CR LF around it. 0 when
 * the line has no ':' (a status line, the blank line). */
int haul_header_split(const char *line, size_t len, size_t *nlen, const char **v, size_t *vlen);
/* Wipe and free what a haul_swift_auth holds (it can be used again). */
void haul_swift_auth_reset(haul_swift_auth *a);
/* The outcome of an auth transfer (cc, and the status when cc is CURLE_OK):
 * 0 with the new token and storage URL cached and returned; -1 with a
 * sentence when the transfer failed, the answer is not 2xx with both headers,
 * or the storage URL is not http:// or https:// to a host (an auth server
 * must not send the token, and every later request, somewhere else). The
 * token is taken out of a (detached). refresh: this renews a token a 401
 * refused (logged). */
int haul_swift_auth_finish(const haul_conn *c, CURLcode cc, long http, haul_swift_auth *a,
                           int refresh, const char **token, const char **storage_url,
                           char *err);
/* Blocking (scheduler): cached, or authenticate now (at most
 * HAUL_SWIFT_AUTH_TIMEOUT_S). *http gets the auth status. */
int haul_swift_session(const haul_conn *c, long long refresh_before, const char **token,
                       const char **storage_url, long *http, char *err);
/* Swift's bulk delete, as the store's /info tells (the scheduler asks it
 * once per delete job): *max its max_deletes_per_request, or 0 with the
 * reason in why_none (no /info, no bulk_delete in it). -1 with err when the
 * authentication fails. */
int haul_swift_bulk_max(const haul_conn *c, long long *max, char *why_none, char *err);
/* Parse one response header line of an auth v1.0 answer: X-Auth-Token or
 * X-Storage-Url (any case) is trimmed and stored in token / url. 1 stored,
 * 0 another header, -1 a malformed value (control bytes, over HAUL_STR_MAX). */
int haul_swift_auth_header(const char *line, size_t len, haul_buf *token, haul_buf *url);
/* Forget every cached token (tests, and workers on shutdown). */
void haul_swift_cache_clear(void);

/* A sentence for a failed response: "S3 GET bucket/key: 403
 * SignatureDoesNotMatch (check the secret key and region)". what names the
 * request ("GET bucket/key"). body may be NULL (HEAD). */
void haul_store_error(const haul_conn *c, const char *what, long http,
                      const char *body, size_t n, char *err);

/* Whether url's host and port match one of patterns: "host[:port]" items
 * separated by commas or spaces, the host a case-insensitive shell glob
 * ("*.store.example:443"), an IPv6 host in brackets; no port: any port.
 * NULL or "" allows everything. 0 allowed, -1 with a sentence. */
int haul_url_allowed(const char *url, const char *patterns, char *err);

/* Whether a failure is worth retrying (connection errors, 429, 5xx). */
int haul_store_transient(long http);

/* Blocking: perform r on e, body into *body (reset first), status in *http.
 * -1 with err only when no HTTP answer came (connect error, timeout). */
int haul_store_perform(CURL *e, const haul_conn *c, const haul_req *r,
                       haul_buf *body, long *http, char *err);

/* Blocking: every object under prefix in bucket, in listing order, paginated
 * to the end (ListObjectsV2 continuation tokens, Swift markers); cb returns
 * non-zero to stop early. limit > 0 stops after that many entries. With
 * bucket == NULL lists the buckets/containers of the account instead. */
typedef int (*haul_list_cb)(void *ud, const haul_list_entry *e);
int haul_store_list(const haul_conn *c, const char *bucket, const char *prefix,
                    long long limit, haul_list_cb cb, void *ud, char *err);

/* Page requests, shared by haul_store_list and the worker's list op:
 * build the request for the page after `next` (NULL: the first page). */
int haul_store_list_request(const haul_conn *c, const char *token, const char *storage_url,
                            const char *bucket, const char *prefix, const char *next,
                            long long page_size, haul_req *out, char *err);
/* Parse one page of the answer to haul_store_list_request. */
int haul_store_list_parse(const haul_conn *c, const char *bucket, const char *body, size_t n,
                          long long page_size, haul_list_page *page, char *err);

#define HAUL_LIST_PAGE 1000

#endif
