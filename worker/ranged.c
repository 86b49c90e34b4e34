/* ranged.c -- a large object fetched as several ranged GETs (see ranged.h). */
#include "ranged.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"

#define READBACK (1u << 20)   /* bytes read back from the file per read */
#define STREAM_BUFFER (128L << 10) /* a ranged stream's receive buffer (curl's default: 16 KiB) */

typedef struct wpart {
    long long off, len;
    long long got;            /* bytes written, from off */
    int tries;
    int busy;                 /* a stream (or the lead) is on it */
} wpart;

typedef struct rstream {
    int xfer_tag;             /* 1: a stream (a unit's is 0) */
    struct wrange *r;
    CURL *e;
    haul_req req;
    size_t part;
    int checked;              /* the answer's status and headers were checked */
    long long cr_first, cr_total; /* Content-Range; -2: none yet */
    char etag[80];
    int failed;               /* this stream's own failure (r->err) */
    struct rstream *next;
} rstream;

struct wrange {
    unit *lead;
    int fd;
    long long size, psize;
    wpart *parts;
    size_t nparts, next;      /* next part never handed out */
    long long frontier;       /* bytes [0, frontier) fed to the verifier */
    int lead_over;            /* the lead's transfer ended */
    rstream *streams;         /* running */
    int failed;
    long http;
    int transient;
    char err[HAUL_ERR_LEN];
    char etag[80];
    int spawn;                /* streams to start at the next wrange_pump */
    struct wrange *next_pending;
    /* The hashing thread (with a verifier): it owns u->ver until joined,
     * reads back [hashed, published) and feeds it, while this thread only
     * receives and writes. MD5 runs on another core beside the transfers. */
    int threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long long wfront;         /* bytes [0, wfront) are written (this thread's) */
    long long published;      /* wfront as last told to the thread (under mu) */
    long long hashed;         /* the thread's progress (under mu) */
    int stop;                 /* abort: the thread returns at once (under mu) */
    int hash_over;            /* the thread returned (under mu) */
    int hash_err;             /* it could not read the file back: errno */
    int efd;                  /* the worker's wake-up descriptor */
    struct wrange *next_hashing;
};

/* Over: the lead ended, and no stream runs or waits to start. */
static int hash_over(struct wrange *r)
{
    if (!r->threaded) return 1;
    pthread_mutex_lock(&r->mu);
    int o = r->hash_over;
    pthread_mutex_unlock(&r->mu);
    return o;
}

static void hash_stop(struct wrange *r);

static int over(struct wrange *r)
{
    if (!r->lead_over || r->streams || (r->spawn && !r->failed)) return 0;
    if (r->failed) hash_stop(r);
    return hash_over(r);
}

int wrange_is_stream(const void *priv) { return priv && *(const int *)priv == 1; }
unit *wrange_stream_unit(const void *stream) { return ((const rstream *)stream)->r->lead; }

static int endpoint_noranges(const worker *w, const char *ep)
{
    for (size_t i = 0; i < w->nnoranges; i++)
        if (!strcmp(w->noranges[i], ep)) return 1;
    return 0;
}

static const char *endpoint_of(const haul_task *t)
{
    return t->conn.kind == HAUL_STORE_S3 ? t->conn.s3.endpoint : t->conn.swift.auth_url;
}

int wrange_wanted(const worker *w, const unit *u, long http)
{
    const haul_task *t = &u->wt->t;
    return t->op == HAUL_OP_GET && http == 200 && w->part_size > 0 && w->part_streams > 0 &&
           u->clen > w->part_size && (unsigned long long)u->clen > t->max_inline &&
           t->out_dir && *t->out_dir && !endpoint_noranges(w, endpoint_of(t));
}

static void fail(struct wrange *r, long http, int transient, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct wrange *r, long http, int transient, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = 1;
    r->http = http;
    r->transient = transient;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

/* Feed the verifier what lies contiguous at the frontier, reading it back
 * from the file. */
static void advance(worker *w, struct wrange *r)
{
    unit *u = r->lead;
    if (!u->ver || r->threaded) return;
    if (!w->rbuf) w->rbuf = haul_malloc(READBACK);
    while (r->frontier < r->size && !r->failed) {
        wpart *p = &r->parts[r->frontier / r->psize];
        long long avail = p->off + p->got - r->frontier;
        if (avail <= 0) break;
        size_t n = avail > (long long)READBACK ? READBACK : (size_t)avail;
        ssize_t got = pread(r->fd, w->rbuf, n, r->frontier);
        if (got <= 0) {
            fail(r, 0, 0, "cannot read back %s to verify it: %s", u->file.path,
                 got < 0 ? strerror(errno) : "short file");
            return;
        }
        haul_verifier_update(u->ver, w->rbuf, (size_t)got);
        r->frontier += got;
    }
    if (haul_verifier_failed(u->ver) && !r->failed) {
        haul_verified how;
        char e[HAUL_ERR_LEN] = "";
        if (haul_verifier_final(u->ver, &how, e) == 0 || !*e)
            snprintf(e, sizeof e, "the body does not match what the store says it is");
        haul_verifier_free(u->ver);
        u->ver = NULL;
        fail(r, 200, 1, "%s", e);
    }
}

/* Bytes p[0..n) of part i: written at their offset, fed to the verifier
 * at once when they sit at the frontier. -1 on failure (r->err). */
static int put_bytes(worker *w, struct wrange *r, size_t i, const char *p, size_t n)
{
    wpart *pt = &r->parts[i];
    long long at = pt->off + pt->got;
    if (pt->got + (long long)n > pt->len) {
        fail(r, 206, 1, "part %zu (bytes %lld-%lld) answered more bytes than asked", i + 1, pt->off,
             pt->off + pt->len - 1);
        return -1;
    }
    for (size_t done = 0; done < n;) {
        ssize_t k = pwrite(r->fd, p + done, n - done, at + (long long)done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            fail(r, 0, 0, "cannot write %s: %s", r->lead->file.path, k < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        done += (size_t)k;
    }
    pt->got += (long long)n;
    unit *u = r->lead;
    if (r->threaded) {
        /* Tell the hashing thread how far the bytes are contiguous. */
        long long f = r->wfront;
        while (f < r->size) {
            wpart *q = &r->parts[f / r->psize];
            f = q->off + q->got;
            if (q->got < q->len) break;
        }
        if (f != r->wfront) {
            r->wfront = f;
            pthread_mutex_lock(&r->mu);
            r->published = f;
            pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
        }
        return r->failed ? -1 : 0;
    }
    if (u->ver && r->frontier == at) {
        haul_verifier_update(u->ver, p, n);
        r->frontier += (long long)n;
    }
    if (u->ver && (pt->got == pt->len || haul_verifier_failed(u->ver))) advance(w, r);
    return r->failed ? -1 : 0;
}

/* ---- streams ----------------------------------------------------------------- */

static size_t stream_header(char *line, size_t sz, size_t nm, void *ud)
{
    rstream *s = ud;
    size_t len = sz * nm;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        s->cr_first = s->cr_total = -2;
        s->etag[0] = '\0';
        return len;
    }
    size_t nlen, vlen;
    const char *v;
    if (!haul_header_split(line, len, &nlen, &v, &vlen)) return len;
    if (nlen == 13 && !strncasecmp(line, "Content-Range", 13)) {
        long long first, last, total;
        if (haul_content_range_parse(v, vlen, &first, &last, &total) == 0) {
            s->cr_first = first;
            s->cr_total = total;
        }
    } else if (nlen == 4 && !strncasecmp(line, "ETag", 4)) {
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') { v++; vlen -= 2; }
        if (vlen >= sizeof s->etag) vlen = sizeof s->etag - 1;
        memcpy(s->etag, v, vlen);
        s->etag[vlen] = '\0';
    }
    return len;
}

static size_t stream_write(char *p, size_t sz, size_t nm, void *ud)
{
    rstream *s = ud;
    struct wrange *r = s->r;
    worker *w = r->lead->w;
    size_t n = sz * nm;
    if (r->failed) return 0;
    if (!s->checked) {
        long http = 0;
        curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &http);
        wpart *pt = &r->parts[s->part];
        if (http == 200) {
            /* The store ignores Range: remember it, and let the next
             * attempt fetch the object in one stream. */
            const char *ep = endpoint_of(&r->lead->wt->t);
            if (!endpoint_noranges(w, ep) && w->nnoranges < 64) {
                log_warn("%s answers a ranged GET with the whole object: large objects from it are "
                         "fetched in one stream", ep);
                w->noranges = haul_realloc(w->noranges, (w->nnoranges + 1) * sizeof *w->noranges);
                w->noranges[w->nnoranges++] = haul_strdup(ep);
            }
            fail(r, 200, 1, "the store ignored the Range of part %zu", s->part + 1);
            return 0;
        }
        if (http != 206) return n; /* an error document: judged when it ends */
        if (s->cr_first != pt->off + pt->got || s->cr_total != r->size) {
            fail(r, 206, 1, "part %zu: Content-Range says bytes from %lld of %lld, asked for %lld of %lld",
                 s->part + 1, s->cr_first, s->cr_total, pt->off + pt->got, r->size);
            return 0;
        }
        if (r->etag[0] && s->etag[0] && strcmp(r->etag, s->etag)) {
            fail(r, 206, 1, "the object changed while it was downloaded (ETag %s, then %s)", r->etag, s->etag);
            return 0;
        }
        s->checked = 1;
    }
    return put_bytes(w, r, s->part, p, n) < 0 ? 0 : n;
}

CURL *wrange_handle_get(worker *w)
{
    if (w->nspare) return w->spare[--w->nspare];
    CURL *e = curl_easy_init();
    if (!e) haul_oom();
    return e;
}

void wrange_handle_put(worker *w, CURL *e)
{
    if (w->nspare < 16) {
        if (!w->spare) w->spare = haul_calloc(16, sizeof *w->spare);
        w->spare[w->nspare++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* The next part to fetch: one cut short first, then one never started. */
static int pick_part(struct wrange *r, size_t *out)
{
    for (size_t i = 0; i < r->next; i++)
        if (!r->parts[i].busy && r->parts[i].got < r->parts[i].len) { *out = i; return 1; }
    if (r->next < r->nparts) { *out = r->next++; return 1; }
    return 0;
}

/* Put s on a part: 1 started, 0 nothing left to do, -1 failed (r->err). */
static int stream_next(worker *w, rstream *s)
{
    struct wrange *r = s->r;
    unit *u = r->lead;
    const haul_task *t = &u->wt->t;
    const char *token = NULL, *surl = NULL;
    char err[HAUL_ERR_LEN], range[64];
    size_t i;
    if (r->failed || !pick_part(r, &i)) return 0;
    wpart *pt = &r->parts[i];
    pt->busy = 1;
    pt->tries++;
    s->part = i;
    s->checked = 0;
    if (t->conn.kind == HAUL_STORE_SWIFT && !haul_swift_cached(&t->conn, 0, &token, &surl)) {
        fail(r, 401, 1, "the Swift token expired while the object was downloaded");
        return -1;
    }
    haul_req_free(&s->req);
    if (haul_store_request(&t->conn, token, surl, "GET", t->bucket, t->keys[u->idx], NULL, 0, &s->req, err) < 0) {
        fail(r, 0, 0, "%s", err);
        return -1;
    }
    snprintf(range, sizeof range, "Range: bytes=%lld-%lld", pt->off + pt->got, pt->off + pt->len - 1);
    haul_req_header(&s->req, range);
    haul_easy_prepare(w, s->e, &t->conn, &s->req);
    /* A part is megabytes: read it in larger pieces than curl's 16 KiB (as
     * the curl tool does), a system call each way per piece. */
    curl_easy_setopt(s->e, CURLOPT_BUFFERSIZE, (long)STREAM_BUFFER);
    curl_easy_setopt(s->e, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(s->e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->e, CURLOPT_HEADERFUNCTION, stream_header);
    curl_easy_setopt(s->e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->e, CURLOPT_PRIVATE, s);
    if (curl_multi_add_handle(w->multi, s->e) != CURLM_OK) {
        fail(r, 0, 1, "cannot start a transfer (curl_multi_add_handle failed)");
        pt->busy = 0;
        return -1;
    }
    w->running++;
    return 1;
}

static void stream_free(worker *w, rstream *s, int in_multi)
{
    if (in_multi) {
        curl_multi_remove_handle(w->multi, s->e);
        w->running--;
    }
    haul_req_free(&s->req);
    wrange_handle_put(w, s->e);
    free(s);
}

/* Start a stream on the next part; none when nothing is left. */
static void stream_spawn(worker *w, struct wrange *r)
{
    rstream *s = haul_calloc(1, sizeof *s);
    s->xfer_tag = 1;
    s->r = r;
    s->e = wrange_handle_get(w);
    if (stream_next(w, s) == 1) {
        s->next = r->streams;
        r->streams = s;
    } else {
        stream_free(w, s, 0);
    }
}


unit *wrange_stream_done(worker *w, void *stream, CURLcode cc)
{
    rstream *s = stream;
    struct wrange *r = s->r;
    wpart *pt = &r->parts[s->part];
    long http = 0;
    curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &http);
    curl_multi_remove_handle(w->multi, s->e);
    w->running--;
    pt->busy = 0;
    int done = pt->got == pt->len;
    if (!r->failed && !done) {
        /* A 401: the token expired during a long download; the key's next
         * attempt authenticates again. */
        int transient = cc != CURLE_OK ? cc != CURLE_WRITE_ERROR : haul_store_transient(http) || http == 401;
        if (transient && pt->tries < RANGE_PART_TRIES) {
            log_debug("task %s key %zu: part %zu cut short at %lld of %lld bytes (%s, HTTP %ld); resuming",
                      r->lead->wt->t.id, r->lead->idx, s->part + 1, pt->got, pt->len,
                      curl_easy_strerror(cc), http);
        } else if (cc != CURLE_OK) {
            fail(r, http, transient, "part %zu (bytes %lld-%lld): %s", s->part + 1, pt->off,
                 pt->off + pt->len - 1, curl_easy_strerror(cc));
        } else {
            fail(r, http, transient, "part %zu (bytes %lld-%lld): HTTP %ld", s->part + 1, pt->off,
                 pt->off + pt->len - 1, http);
        }
    }
    /* On to the next part, with the same handle. */
    int more = !r->failed ? stream_next(w, s) : 0;
    if (more != 1) {
        for (rstream **pp = &r->streams; *pp; pp = &(*pp)->next)
            if (*pp == s) { *pp = s->next; break; }
        stream_free(w, s, 0);
    }
    /* A failed download stops its other streams at once. */
    if (r->failed) {
        while (r->streams) {
            rstream *x = r->streams;
            r->streams = x->next;
            r->parts[x->part].busy = 0;
            stream_free(w, x, 1);
        }
    }
    return over(r) ? r->lead : NULL;
}

/* ---- the lead ------------------------------------------------------------------ */

static void *hash_main(void *arg)
{
    struct wrange *r = arg;
    haul_verifier *ver = r->lead->ver;
    char *buf = haul_malloc(READBACK);
    long long hashed = 0;
    int err = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->published == hashed) pthread_cond_wait(&r->cv, &r->mu);
        long long target = r->published;
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        while (hashed < target && !err) {
            size_t n = target - hashed > (long long)READBACK ? READBACK : (size_t)(target - hashed);
            ssize_t got = pread(r->fd, buf, n, hashed);
            if (got <= 0) { err = got < 0 ? errno : EIO; break; }
            haul_verifier_update(ver, buf, (size_t)got);
            hashed += got;
        }
        if (err || hashed == r->size || haul_verifier_failed(ver)) break;
    }
    free(buf);
    pthread_mutex_lock(&r->mu);
    r->hashed = hashed;
    r->hash_err = err;
    r->hash_over = 1;
    pthread_mutex_unlock(&r->mu);
    uint64_t one = 1;
    if (write(r->efd, &one, sizeof one) < 0) { /* the counter is full: it is readable anyway */ }
    return NULL;
}

/* Stop the hashing thread (a failed or abandoned download) and wait for
 * it: at most one read-back chunk. */
static void hash_stop(struct wrange *r)
{
    if (!r->threaded) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void hash_join(worker *w, struct wrange *r)
{
    if (!r->threaded) return;
    hash_stop(r);
    pthread_join(r->th, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    r->threaded = 0;
    for (struct wrange **pp = &w->rhashing; *pp; pp = &(*pp)->next_hashing)
        if (*pp == r) { *pp = r->next_hashing; break; }
}

int wrange_wakefd(worker *w)
{
    if (w->rwake < 0) {
        w->rwake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->rwake < 0) log_warn("eventfd: %s: large objects are verified on the loop's thread", strerror(errno));
    }
    return w->rwake;
}

int wrange_start(worker *w, unit *u, char *err)
{
    struct wrange *r = haul_calloc(1, sizeof *r);
    r->lead = u;
    r->fd = u->file.fd;
    r->size = u->clen;
    r->psize = w->part_size;
    if ((r->size + r->psize - 1) / r->psize > RANGE_MAX_PARTS)
        r->psize = (r->size + RANGE_MAX_PARTS - 1) / RANGE_MAX_PARTS;
    r->nparts = (size_t)((r->size + r->psize - 1) / r->psize);
    r->parts = haul_calloc(r->nparts, sizeof *r->parts);
    for (size_t i = 0; i < r->nparts; i++) {
        r->parts[i].off = (long long)i * r->psize;
        r->parts[i].len = i + 1 < r->nparts ? r->psize : r->size - r->parts[i].off;
    }
    r->parts[0].busy = 1;   /* the lead's */
    r->parts[0].tries = 1;
    r->next = 1;
    if (u->etag.len < sizeof r->etag) memcpy(r->etag, haul_buf_str(&u->etag), u->etag.len + 1);
    u->range = r;
    if (u->ver && wrange_wakefd(w) >= 0) {
        r->efd = w->rwake;
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        if (pthread_create(&r->th, NULL, hash_main, r) == 0) {
            r->threaded = 1;
            r->next_hashing = w->rhashing;
            w->rhashing = r;
        } else {
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv);
        }
    }
    /* Called from curl's write callback, where no transfer may be added:
     * the streams start at the next wrange_pump(). */
    r->spawn = w->part_streams < (int)(r->nparts - 1) ? w->part_streams : (int)(r->nparts - 1);
    r->next_pending = w->rpending;
    w->rpending = r;
    (void)err;
    log_debug("task %s key %zu: %lld bytes in %zu parts of %lld, %d streams", u->wt->t.id, u->idx,
              r->size, r->nparts, r->psize, r->spawn);
    return 0;
}

unit *wrange_pump(worker *w)
{
    while (w->rpending) {
        struct wrange *r = w->rpending;
        w->rpending = r->next_pending;
        r->next_pending = NULL;
        while (r->spawn > 0 && !r->failed) {
            r->spawn--;
            stream_spawn(w, r);
        }
        r->spawn = 0;
        if (over(r)) return r->lead; /* a stream could not start, and the lead is done */
    }
    if (w->rwake >= 0 && w->rhashing) { /* not a read per turn while nothing hashes */
        uint64_t n;
        while (read(w->rwake, &n, sizeof n) > 0) {}
    }
    for (struct wrange *r = w->rhashing; r; r = r->next_hashing)
        if (over(r)) return r->lead; /* its hashing thread is done */
    return NULL;
}

static void unpend(worker *w, struct wrange *r)
{
    for (struct wrange **pp = &w->rpending; *pp; pp = &(*pp)->next_pending)
        if (*pp == r) { *pp = r->next_pending; break; }
}

int wrange_lead_write(worker *w, unit *u, const char *p, size_t n)
{
    struct wrange *r = u->range;
    wpart *pt = &r->parts[0];
    if (r->failed) return -1;
    if (pt->got >= pt->len) return 1;
    size_t k = pt->got + (long long)n > pt->len ? (size_t)(pt->len - pt->got) : n;
    if (put_bytes(w, r, 0, p, k) < 0) {
        snprintf(u->werr, sizeof u->werr, "%s", r->err);
        return -1;
    }
    return pt->got == pt->len ? 1 : 0;
}

int wrange_lead_done(worker *w, unit *u, CURLcode cc, long http)
{
    struct wrange *r = u->range;
    wpart *pt = &r->parts[0];
    r->lead_over = 1;
    pt->busy = 0;
    if (!r->failed && pt->got < pt->len) {
        /* The lead was cut short before its part's end: a stream resumes it. */
        if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR && pt->tries < RANGE_PART_TRIES) {
            if (!r->streams) stream_spawn(w, r);
        } else {
            fail(r, http, cc != CURLE_WRITE_ERROR, "part 1 (bytes 0-%lld): %s", pt->len - 1,
                 cc != CURLE_OK ? curl_easy_strerror(cc) : "cut short");
        }
    }
    if (r->failed) {
        while (r->streams) {
            rstream *x = r->streams;
            r->streams = x->next;
            stream_free(w, x, 1);
        }
    }
    return over(r);
}

void wrange_end(worker *w, unit *u, wrange_result *res)
{
    struct wrange *r = u->range;
    memset(res, 0, sizeof *res);
    if (r->threaded) {
        long long hashed = r->hashed;
        int herr = r->hash_err;
        hash_join(w, r);
        r->frontier = hashed;
        if (herr && !r->failed)
            fail(r, 0, 0, "cannot read back %s to verify it: %s", u->file.path, strerror(herr));
    }
    if (!r->failed) {
        advance(w, r);
        for (size_t i = 0; i < r->nparts && !r->failed; i++)
            if (r->parts[i].got != r->parts[i].len)
                fail(r, 0, 1, "part %zu is incomplete", i + 1);
        if (!r->failed && u->ver && r->frontier != r->size)
            fail(r, 0, 1, "verified %lld of %lld bytes", r->frontier, r->size);
    }
    res->ok = !r->failed;
    res->http = r->http;
    res->transient = r->transient;
    res->bytes = r->size;
    snprintf(res->err, sizeof res->err, "%s", r->err);
    wrange_abort(w, u);
}

void wrange_abort(worker *w, unit *u)
{
    struct wrange *r = u->range;
    if (!r) return;
    unpend(w, r);
    hash_join(w, r);
    while (r->streams) {
        rstream *x = r->streams;
        r->streams = x->next;
        stream_free(w, x, 1);
    }
    free(r->parts);
    free(r);
    u->range = NULL;
}

void wrange_cleanup(worker *w)
{
    if (w->rwake >= 0) close(w->rwake);
    w->rwake = -1;
    while (w->nspare) curl_easy_cleanup(w->spare[--w->nspare]);
    free(w->spare);
    w->spare = NULL;
    free(w->rbuf);
    w->rbuf = NULL;
    for (size_t i = 0; i < w->nnoranges; i++) free(w->noranges[i]);
    free(w->noranges);
    w->noranges = NULL;
    w->nnoranges = 0;
}
