/* upload.h -- the parts of the write ops that need no transfer: hashing a
 * file before it is sent, feeding it to curl, the headers a PUT carries, and
 * deciding whether an object in the store is the file (put --skip-existing)
 * or the manifest's entry (verify). ops.c sequences the requests. */
#ifndef HAUL_WORKER_UPLOAD_H
#define HAUL_WORKER_UPLOAD_H

#include <stddef.h>

#include "conn.h"
#include "files.h"
#include "sigv4.h"

/* The MD5 of the file's first f->size bytes, as 32 lowercase hex digits
 * into hex[33]. -1 with a sentence (a read error, the file shorter than it
 * was, MD5 not offered by OpenSSL). */
int upload_md5(const rfile *f, char hex[33], char *err);

/* A PUT's body: the file's first `size` bytes from offset 0, whatever is
 * appended meanwhile; a file that shrinks fails the transfer with a
 * sentence in err. Give upload_read as CURLOPT_READFUNCTION and
 * upload_seek as CURLOPT_SEEKFUNCTION, both with a upload_src as data. */
typedef struct upload_src {
    const rfile *f;
    long long off;
    char err[256];
} upload_src;
size_t upload_read(char *p, size_t sz, size_t n, void *ud);
int upload_seek(void *ud, long long off, int origin);

/* The extra headers of a PUT (into hdrs, at most HAUL_REQ_EXTRA_MAX; names
 * and values are kept in *store, which the caller frees with
 * upload_headers_free once the request is built): the checksum the store
 * verifies the body against (S3 Content-MD5, base64 of the digest; Swift
 * ETag, the hex digest) and each metadata pair as x-amz-meta-NAME or
 * X-Object-Meta-NAME. md5hex NULL: the metadata only. Returns the count. */
typedef struct upload_hdrs {
    char *strs[2 * 64 + 4];
    size_t n;
} upload_hdrs;
size_t upload_headers(haul_store_kind kind, const char *md5hex, char *const *meta,
                      size_t nmeta, haul_kv *hdrs, upload_hdrs *store);
void upload_headers_free(upload_hdrs *store);

/* An MD5 computed piece by piece (verify --deep). new: NULL when OpenSSL
 * offers no MD5. final: the hex digest into hex[33]; 0, or -1. */
typedef struct upload_hash upload_hash;
upload_hash *upload_hash_new(void);
void upload_hash_update(upload_hash *h, const void *p, size_t n);
int upload_hash_final(upload_hash *h, char hex[33]);
void upload_hash_free(upload_hash *h); /* NULL ok */
/* The MD5 of p[0..n) (a sidecar, a DeleteObjects body). 0, or -1 when
 * OpenSSL offers no MD5. */
int upload_md5_buf(const void *p, size_t n, char hex[33]);

/* A function run on a thread of its own (hashing a large file before it
 * is sent, so the loop goes on: a lease must not lapse while a 5 GiB file
 * is read). When fn returns, 1 is added to the eventfd efd (the loop's
 * wake-up). start: NULL when no thread can be made (run fn yourself).
 * done: 1 once fn returned (no wait). join: wait for it, free the job, and
 * return fn's answer (its sentence in err). */
typedef struct upload_job upload_job;
upload_job *upload_job_start(int (*fn)(void *arg, char *err), void *arg, int efd);
int upload_job_done(upload_job *j);
int upload_job_join(upload_job *j, char *err);

/* Whether an object (its size clen, -1 unknown, and its ETag, quotes
 * removed) is a file of `size` bytes with MD5 md5hex: 1 the same, 0 not (or
 * not known: a segmented object's ETag is not its MD5). */
int upload_same(long long size, const char *md5hex, long long clen, const char *etag,
                size_t etaglen);

/* verify: compare what HEAD said (clen, etag) with the manifest's size
 * (-1: none) and md5 ("" none). 0 when they agree, with *checked set to 1
 * when the MD5 was compared (a plain ETag); -1 with the sentence naming the
 * field that differs: "size 12 != manifest 10", "md5 <etag> != manifest
 * <md5>". */
int upload_compare(long long want_size, const char *want_md5, long long clen, const char *etag,
                   size_t etaglen, int *checked, char *why, size_t whylen);

#endif
