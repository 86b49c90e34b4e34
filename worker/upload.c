/* upload.c -- hashing, reading and describing the files put sends (upload.h). */
#include "upload.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "store.h"
#include "verify.h"

#define HASH_CHUNK (256u << 10)

static void hex16(const unsigned char d[16], char hex[33])
{
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = x[d[i] >> 4];
        hex[2 * i + 1] = x[d[i] & 15];
    }
    hex[32] = '\0';
}

int upload_md5(const rfile *f, char hex[33], char *err)
{
    /* Its own buffer (it runs on hashing threads too), no larger than the
     * file: a small file costs a small allocation. */
    size_t cn = f->size < HASH_CHUNK ? (size_t)f->size + 1 : HASH_CHUNK;
    char *chunk = haul_malloc(cn);
    unsigned char d[16];
    unsigned dl = 0;
    int rc = -1;

    EVP_MD *md = EVP_MD_fetch(NULL, "MD5", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!md || !ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        snprintf(err, HAUL_ERR_LEN, "cannot hash %s: this OpenSSL offers no MD5", f->path);
        goto out;
    }
    for (long long off = 0; off < f->size;) {
        size_t want = f->size - off < (long long)cn ? (size_t)(f->size - off) : cn;
        ssize_t got = pread(f->fd, chunk, want, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(err, HAUL_ERR_LEN, "cannot read %s at byte %lld: %s", f->path, off,
                     got < 0 ? strerror(errno) : "the file is shorter than when it was opened "
                     "(changed while read)");
            goto out;
        }
        EVP_DigestUpdate(ctx, chunk, (size_t)got);
        off += got;
    }
    if (EVP_DigestFinal_ex(ctx, d, &dl) != 1 || dl != 16) {
        snprintf(err, HAUL_ERR_LEN, "cannot hash %s (OpenSSL failed)", f->path);
        goto out;
    }
    hex16(d, hex);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    free(chunk);
    return rc;
}

size_t upload_read(char *p, size_t sz, size_t n, void *ud)
{
    upload_src *s = ud;
    size_t want = sz * n;
    if (s->off >= s->f->size) return 0;
    if ((long long)want > s->f->size - s->off) want = (size_t)(s->f->size - s->off);
    for (;;) {
        ssize_t got = pread(s->f->fd, p, want, (off_t)s->off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(s->err, sizeof s->err, "cannot read %s at byte %lld: %s", s->f->path,
                     s->off, got < 0 ? strerror(errno) : "the file shrank while it was sent");
            return CURL_READFUNC_ABORT;
        }
        s->off += got;
        return (size_t)got;
    }
}

int upload_seek(void *ud, long long off, int origin)
{
    upload_src *s = ud;
    if (origin != SEEK_SET || off < 0 || off > s->f->size) return CURL_SEEKFUNC_CANTSEEK;
    s->off = off;
    return CURL_SEEKFUNC_OK;
}

size_t upload_headers(haul_store_kind kind, const char *md5hex, char *const *meta,
                      size_t nmeta, haul_kv *hdrs, upload_hdrs *store)
{
    size_t n = 0;
    store->n = 0;
    if (!md5hex) {
        /* metadata only */
    } else if (kind == HAUL_STORE_S3) {
        unsigned char d[16];
        unsigned char b64[32];
        for (int i = 0; i < 16; i++) {
            unsigned v;
            sscanf(md5hex + 2 * i, "%2x", &v);
            d[i] = (unsigned char)v;
        }
        EVP_EncodeBlock(b64, d, 16);
        store->strs[store->n] = haul_strdup((const char *)b64);
        hdrs[n++] = (haul_kv){"Content-MD5", store->strs[store->n++]};
    } else {
        hdrs[n++] = (haul_kv){"ETag", md5hex};
    }
    for (size_t i = 0; i + 1 < nmeta && store->n + 1 < sizeof store->strs / sizeof *store->strs; i += 2) {
        haul_buf name = HAUL_BUF_INIT;
        haul_buf_printf(&name, "%s%s", kind == HAUL_STORE_S3 ? "x-amz-meta-" : "X-Object-Meta-",
                        meta[i]);
        store->strs[store->n] = haul_buf_detach(&name);
        hdrs[n++] = (haul_kv){store->strs[store->n++], meta[i + 1]};
    }
    return n;
}

void upload_headers_free(upload_hdrs *store)
{
    for (size_t i = 0; i < store->n; i++) free(store->strs[i]);
    store->n = 0;
}

int upload_same(long long size, const char *md5hex, long long clen, const char *etag,
                size_t etaglen)
{
    return clen == size && etaglen == 32 && strncasecmp(etag, md5hex, 32) == 0;
}

int upload_compare(long long want_size, const char *want_md5, long long clen, const char *etag,
                   size_t etaglen, int *checked, char *why, size_t whylen)
{
    *checked = 0;
    if (want_size >= 0 && clen != want_size) {
        snprintf(why, whylen, "size %lld != manifest %lld", clen, want_size);
        return -1;
    }
    if (want_md5 && *want_md5) {
        if (haul_etag_parse(etag, etaglen, NULL, NULL) != HAUL_ETAG_MD5)
            return 0; /* a segmented object: its ETag is not the MD5 of its bytes */
        if (strncasecmp(etag, want_md5, 32) != 0) {
            snprintf(why, whylen, "md5 %.*s != manifest %s", (int)(etaglen < 64 ? etaglen : 64),
                     etag, want_md5);
            return -1;
        }
        *checked = 1;
    }
    return 0;
}

struct upload_hash {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

upload_hash *upload_hash_new(void)
{
    upload_hash *h = haul_calloc(1, sizeof *h);
    h->md = EVP_MD_fetch(NULL, "MD5", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx || EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1) {
        upload_hash_free(h);
        return NULL;
    }
    return h;
}

void upload_hash_update(upload_hash *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

int upload_hash_final(upload_hash *h, char hex[33])
{
    unsigned char d[16];
    unsigned dl = 0;
    if (EVP_DigestFinal_ex(h->ctx, d, &dl) != 1 || dl != 16) return -1;
    hex16(d, hex);
    return 0;
}

void upload_hash_free(upload_hash *h)
{
    if (!h) return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

struct upload_job {
    pthread_t th;
    int (*fn)(void *, char *);
    void *arg;
    int efd;
    int rc;
    atomic_int done;
    char err[HAUL_ERR_LEN];
};

static void *job_main(void *p)
{
    upload_job *j = p;
    j->rc = j->fn(j->arg, j->err);
    atomic_store(&j->done, 1);
    uint64_t one = 1;
    if (write(j->efd, &one, sizeof one) < 0) { /* the loop looks again at its next wake-up */ }
    return NULL;
}

upload_job *upload_job_start(int (*fn)(void *arg, char *err), void *arg, int efd)
{
    if (efd < 0) return NULL;
    upload_job *j = haul_calloc(1, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->efd = efd;
    if (pthread_create(&j->th, NULL, job_main, j) != 0) {
        free(j);
        return NULL;
    }
    return j;
}

int upload_job_done(upload_job *j) { return atomic_load(&j->done); }

int upload_job_join(upload_job *j, char *err)
{
    pthread_join(j->th, NULL);
    int rc = j->rc;
    if (rc < 0) snprintf(err, HAUL_ERR_LEN, "%s", j->err);
    free(j);
    return rc;
}

int upload_md5_buf(const void *p, size_t n, char hex[33])
{
    upload_hash *h = upload_hash_new();
    if (!h) return -1;
    upload_hash_update(h, p, n);
    int rc = upload_hash_final(h, hex);
    upload_hash_free(h);
    return rc;
}
