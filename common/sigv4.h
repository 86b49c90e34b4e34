/* sigv4.h -- AWS Signature Version 4 request signing, done by haul itself.
 *
 * Why not curl's CURLOPT_AWS_SIGV4: curl 7.88 (Debian bookworm) neither sorts
 * the query string nor encodes the path the way S3 does, so S3 rejects its
 * signatures for object keys with spaces, '+', non-ASCII bytes or more than one
 * query parameter. This module builds the canonical request from the request's
 * DECODED parts, so the caller never has to guess which encoding was applied,
 * and hands back the exact path and query to put in the URL next to the
 * Authorization header, so what is sent is what was signed.
 *
 * Everything here is a pure function over memory (no clock, no I/O), so the
 * unit tests check it against AWS's published vectors.
 *
 * Two canonicalisation profiles:
 *   HAUL_SIGV4_S3  S3 rules: the path is encoded once, '/' kept, no dot-segment
 *                  normalisation, empty segments kept ("/a/../b" and "//k" are
 *                  object keys, not paths to tidy up).
 *   0              the generic rules for other AWS services: dot segments and
 *                  empty segments are removed (RFC 3986 5.2.4), and the path
 *                  is encoded twice: once into the URL, then once more as the
 *                  service re-encodes what arrived on the wire.
 *
 * Secrets: the secret key is only used to derive the signing key, which is
 * kept in memory for the next request with the same credentials, day,
 * region and service (haul_sigv4_cache_clear); neither appears in err. */
#ifndef HAUL_SIGV4_H
#define HAUL_SIGV4_H

#include <stddef.h>

#include "buf.h"

/* One name/value pair: a query parameter or a header. Borrowed strings. */
typedef struct haul_kv {
    const char *k;
    const char *v;
} haul_kv;

#define HAUL_SIGV4_S3 1   /* S3 rules: path encoded once, no dot-segment normalisation, empty segments kept */

/* The request to sign. Every string is borrowed for the duration of the call
 * and never retained. */
typedef struct haul_sigv4_req {
    const char *method;                      /* "GET" */
    const char *path;                        /* DECODED path starting with '/': "/bucket/dir/a b+c.zip" */
    const haul_kv *query; size_t nquery;     /* DECODED query params, any order; value "" allowed */
    const haul_kv *headers; size_t nheaders; /* ALL headers to sign, any case, incl. host and x-amz-date;
                                                a name may repeat (values are joined with ',' in the
                                                order given); values must not contain CR or LF */
    const char *payload_hash;                /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;                    /* "20150830T123600Z" */
    const char *region, *service;            /* "us-east-1", "s3" */
    const char *access_key, *secret_key;
    int flags;                               /* HAUL_SIGV4_S3 or 0 (generic AWS service rules) */
} haul_sigv4_req;

/* The result. Every pointer is owned by the struct and released by
 * haul_sigv4_out_free(); after a failed haul_sigv4_sign() they are all NULL. */
typedef struct haul_sigv4_out {
    char *url_path;          /* the path as it must appear in the request URL (RFC 3986 encoded once; '/' kept) */
    char *url_query;         /* canonical query string, "" when none: use it as the URL's query */
    char *authorization;     /* value of the Authorization header */
    char *signed_headers;    /* "host;x-amz-content-sha256;x-amz-date" */
    char *canonical_request; /* for tests and debugging */
    char *string_to_sign;
    char signature[65];      /* lowercase hex, NUL-terminated */
} haul_sigv4_out;

/* Signs r into *out. Returns 0, or -1 with a sentence in err[HAUL_ERR_LEN]
 * (err may be NULL) and *out zeroed. The checks: no NULL fields, a path
 * starting with '/', a well-formed amz_date, a payload_hash that is 64
 * lowercase hex digits or "UNSIGNED-PAYLOAD", a signed "host" header, an
 * x-amz-date header (or X-Amz-Date query parameter) equal to amz_date, and an
 * x-amz-content-sha256 header, when signed, equal to payload_hash. */
int haul_sigv4_sign(const haul_sigv4_req *r, haul_sigv4_out *out, char *err);
void haul_sigv4_out_free(haul_sigv4_out *o); /* NULL ok; leaves *o zeroed */
/* Signing keys are kept for the last few (secret, day, region, service),
 * found by a SHA-256 of the four; this wipes them (at exit, and in tests). */
void haul_sigv4_cache_clear(void);

/* Lowercase hex SHA-256 of p[0..n). */
void haul_sha256_hex(const void *p, size_t n, char out[65]);

/* HMAC-SHA256(key, msg). */
void haul_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                      unsigned char out[32]);

/* RFC 3986 percent-encoding as SigV4 wants it: unreserved A-Z a-z 0-9 - . _ ~
 * kept, everything else %XX uppercase (UTF-8 bytes as they are); keep_slash=1
 * keeps '/'. Appends to out. */
void haul_uri_encode(haul_buf *out, const char *s, size_t n, int keep_slash);

/* "20150830T123600Z" for a unix time, UTC. Times before 1970 or after
 * 9999-12-31T23:59:59Z are clamped to those bounds. */
void haul_amz_date(long long unix_time, char out[17]);

#endif
