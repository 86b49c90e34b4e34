/* segput.c -- a large file uploaded in parts at once (see segput.h). */
#define _GNU_SOURCE /* memmem */
#include "segput.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "ranged.h"
#include "upload.h"
#include "xmltext.h"

#define CHUNK (1u << 20)

typedef struct spart {
    long long off, len;
    char md5[33];
    char etag[80];            /* what the store answered (S3: needed to complete) */
    int tries;
    int busy;
    int done;
} spart;

typedef struct sstream {
    int xfer_tag;             /* 2: a part stream (a unit's is 0, a ranged GET's 1) */
    struct wseg *s;
    CURL *e;
    haul_req req;
    size_t part;
    long long pos;            /* the next byte of the file to send */
    char rerr[HAUL_ERR_LEN];  /* the reader's failure */
    char etag[80];
    struct sstream *next;
} sstream;

typedef struct wseg {
    unit *u;
    long long psize;
    spart *parts;
    size_t nparts, next;      /* next part never handed out */
    char etag_expect[48];
    char *upload_id;          /* S3 */
    char **stale;             /* S3: unfinished uploads of the key, to abort */
    size_t nstale, stale_next;
    char *seg_container;      /* Swift */
    char *seg_prefix;         /* Swift: "<key>/slo/<mtime>/<size>/<part size>/" */
    size_t del_next;          /* Swift abort: the next part whose segment to delete */
    haul_buf name;            /* segput_next_uploaded's answer */
    sstream *streams;
    int spawn;
    int failed;
    long http;
    int transient;
    char err[HAUL_ERR_LEN];
    struct wseg *next_pending;
} wseg;

/* The worker keeps the uploads whose parts are to start (segput_pump). */
static wseg *pending;

int segput_is_stream(const void *priv) { return priv && *(const int *)priv == 2; }
unit *segput_stream_unit(const void *stream) { return ((const sstream *)stream)->s->u; }

/* The task's segment size; 0: SEGPUT_DEFAULT_SIZE (what the users' backup
 * tool uses, and under S3's 5 GiB limit on one PUT). */
static long long seg_size(const haul_task *t)
{
    return t->segment_size ? (long long)t->segment_size : SEGPUT_DEFAULT_SIZE;
}

int segput_wanted(const unit *u)
{
    return u->src.size > seg_size(&u->wt->t);
}

const char *segput_etag(const unit *u) { return u->seg ? u->seg->etag_expect : ""; }
const char *segput_upload_id(const unit *u) { return u->seg && u->seg->upload_id ? u->seg->upload_id : ""; }
const char *segput_seg_container(const unit *u) { return u->seg ? u->seg->seg_container : ""; }

static void hex_to_raw(const char *hex, unsigned char raw[16])
{
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
}

int segput_prepare(worker *w, unit *u, char *err)
{
    const haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    wseg *s = haul_calloc(1, sizeof *s);
    char *buf = NULL;
    upload_hash *all = NULL, *part = NULL, *over = NULL;
    int rc = -1;

    (void)w;
    u->seg = s;
    s->u = u;
    s->psize = seg_size(t);
    s->nparts = (size_t)((u->src.size + s->psize - 1) / s->psize);
    if (s->nparts > SEGPUT_MAX_PARTS) {
        snprintf(err, HAUL_ERR_LEN, "%s is %lld bytes: more than %d parts of --segment-size %lld; "
                 "give a larger --segment-size", u->src.path, u->src.size, SEGPUT_MAX_PARTS, s->psize);
        return -1;
    }
    s->parts = haul_calloc(s->nparts, sizeof *s->parts);
    buf = haul_malloc(CHUNK);
    if (!(all = upload_hash_new()) || !(over = upload_hash_new())) {
        snprintf(err, HAUL_ERR_LEN, "cannot hash %s: this OpenSSL offers no MD5", u->src.path);
        goto out;
    }
    /* One pass: the file's MD5 and each part's. */
    for (size_t i = 0; i < s->nparts; i++) {
        spart *p = &s->parts[i];
        p->off = (long long)i * s->psize;
        p->len = u->src.size - p->off < s->psize ? u->src.size - p->off : s->psize;
        if (!(part = upload_hash_new())) goto nomd5;
        for (long long o = p->off; o < p->off + p->len;) {
            size_t want = p->off + p->len - o < CHUNK ? (size_t)(p->off + p->len - o) : CHUNK;
            ssize_t got = pread(u->src.fd, buf, want, (off_t)o);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                snprintf(err, HAUL_ERR_LEN, "cannot read %s at byte %lld: %s", u->src.path, o,
                         got < 0 ? strerror(errno) : "the file is shorter than when it was opened "
                         "(changed while read)");
                goto out;
            }
            upload_hash_update(all, buf, (size_t)got);
            upload_hash_update(part, buf, (size_t)got);
            o += got;
        }
        if (upload_hash_final(part, p->md5) < 0) goto nomd5;
        upload_hash_free(part);
        part = NULL;
        /* S3: the MD5 of the parts' binary MD5s; Swift: of their hex forms. */
        if (t->conn.kind == HAUL_STORE_S3) {
            unsigned char raw[16];
            hex_to_raw(p->md5, raw);
            upload_hash_update(over, raw, 16);
        } else {
            upload_hash_update(over, p->md5, 32);
        }
    }
    if (upload_hash_final(all, r->md5) < 0 || upload_hash_final(over, s->etag_expect) < 0) goto nomd5;
    if (t->conn.kind == HAUL_STORE_S3) {
        size_t n = strlen(s->etag_expect);
        snprintf(s->etag_expect + n, sizeof s->etag_expect - n, "-%zu", s->nparts);
    } else {
        haul_buf b = HAUL_BUF_INIT;
        haul_buf_printf(&b, "%s_segments", t->bucket);
        s->seg_container = haul_buf_detach(&b);
        /* As the swift CLI names them: the file's mtime as Python prints a
         * float, its size, the segment size. */
        long long sec = u->src.mtime_ns / 1000000000LL, frac = u->src.mtime_ns % 1000000000LL / 1000;
        haul_buf_printf(&b, "%s/slo/%lld.%06lld/%lld/%lld/", t->keys[u->idx], sec, frac,
                        u->src.size, s->psize);
        s->seg_prefix = haul_buf_detach(&b);
    }
    rc = 0;
    goto out;
nomd5:
    snprintf(err, HAUL_ERR_LEN, "cannot hash %s: this OpenSSL offers no MD5", u->src.path);
out:
    upload_hash_free(all);
    upload_hash_free(part);
    upload_hash_free(over);
    free(buf);
    return rc;
}

/* ---- the control requests' bodies and answers ---------------------------------- */

static void json_text(haul_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') haul_buf_printf(b, "\\%c", c);
        else if (c < 0x20) haul_buf_printf(b, "\\u%04x", c);
        else haul_buf_addc(b, (char)c);
    }
}

void segput_end_body(const unit *u, haul_buf *out)
{
    const wseg *s = u->seg;
    haul_buf_reset(out);
    if (u->wt->t.conn.kind == HAUL_STORE_S3) {
        haul_buf_adds(out, "<CompleteMultipartUpload>");
        for (size_t i = 0; i < s->nparts; i++) {
            haul_buf_printf(out, "<Part><PartNumber>%zu</PartNumber><ETag>\"", i + 1);
            xmltext_escape(out, s->parts[i].etag);
            haul_buf_adds(out, "\"</ETag></Part>");
        }
        haul_buf_adds(out, "</CompleteMultipartUpload>");
        return;
    }
    haul_buf_addc(out, '[');
    for (size_t i = 0; i < s->nparts; i++) {
        haul_buf_adds(out, i ? ",{\"path\":\"/" : "{\"path\":\"/");
        json_text(out, s->seg_container);
        haul_buf_addc(out, '/');
        json_text(out, s->seg_prefix);
        haul_buf_printf(out, "%08zu\",\"etag\":\"%s\",\"size_bytes\":%lld}", i, s->parts[i].md5,
                        s->parts[i].len);
    }
    haul_buf_addc(out, ']');
}

/* xmltext_field from byte *from of xml[0..n), advancing *from past it. */
static int xml_next(const char *xml, size_t n, size_t *from, const char *tag, haul_buf *out)
{
    const char *e = xmltext_field(xml + *from, xml + n, tag, out);
    if (!e) return -1;
    *from = (size_t)(e - xml);
    return 0;
}

int segput_set_upload_id(unit *u, const char *xml, size_t n, char *err)
{
    haul_buf id = HAUL_BUF_INIT;
    size_t at = 0;
    if (xml_next(xml, n, &at, "UploadId", &id) < 0 || !id.len || id.len > 1024 ||
        strpbrk(haul_buf_str(&id), "\r\n")) {
        snprintf(err, HAUL_ERR_LEN, "the answer to starting a multipart upload holds no upload id");
        haul_buf_free(&id);
        return -1;
    }
    free(u->seg->upload_id);
    u->seg->upload_id = haul_buf_detach(&id);
    return 0;
}

size_t segput_find_stale(unit *u, const char *xml, size_t n)
{
    wseg *s = u->seg;
    const char *key = u->wt->t.keys[u->idx];
    haul_buf k = HAUL_BUF_INIT, id = HAUL_BUF_INIT;
    const char *p = xml, *end = xml + n;
    /* Each <Upload> block as it stands (its entities undone once, by
     * xml_next, in Key and UploadId). */
    while ((p = memmem(p, (size_t)(end - p), "<Upload>", 8))) {
        const char *q = memmem(p, (size_t)(end - p), "</Upload>", 9);
        if (!q) break;
        size_t blen = (size_t)(q - p), in = 0, in2 = 0;
        if (xml_next(p, blen, &in, "Key", &k) == 0 && xml_next(p, blen, &in2, "UploadId", &id) == 0 &&
            !strcmp(haul_buf_str(&k), key) && id.len) {
            s->stale = haul_realloc(s->stale, (s->nstale + 1) * sizeof *s->stale);
            s->stale[s->nstale++] = haul_strdup(haul_buf_str(&id));
        }
        p = q + 9;
    }
    haul_buf_free(&k);
    haul_buf_free(&id);
    return s->nstale;
}

const char *segput_next_stale(unit *u)
{
    wseg *s = u->seg;
    return s->stale_next < s->nstale ? s->stale[s->stale_next++] : NULL;
}

int segput_end_answer(const char *xml, size_t n, char *etag, char *err)
{
    haul_buf v = HAUL_BUF_INIT;
    size_t at = 0;
    etag[0] = '\0';
    if (memmem(xml, n, "<Error>", 7)) {
        size_t a2 = 0;
        haul_buf code = HAUL_BUF_INIT;
        xml_next(xml, n, &a2, "Code", &code);
        snprintf(err, HAUL_ERR_LEN, "completing the multipart upload failed: %s",
                 code.len ? haul_buf_str(&code) : "an error in a 200 answer");
        haul_buf_free(&code);
        return -1;
    }
    if (xml_next(xml, n, &at, "ETag", &v) == 0) {
        const char *e = haul_buf_str(&v);
        size_t l = v.len;
        if (l >= 2 && e[0] == '"' && e[l - 1] == '"') { e++; l -= 2; }
        snprintf(etag, 80, "%.*s", (int)(l < 79 ? l : 79), e);
    }
    haul_buf_free(&v);
    return 0;
}

const char *segput_next_uploaded(unit *u)
{
    wseg *s = u->seg;
    while (s->del_next < s->nparts) {
        size_t i = s->del_next++;
        if (!s->parts[i].done) continue;
        haul_buf_reset(&s->name);
        haul_buf_printf(&s->name, "%s%08zu", s->seg_prefix, i);
        return haul_buf_str(&s->name);
    }
    return NULL;
}

/* ---- the parts ------------------------------------------------------------------ */

static void fail(wseg *s, long http, int transient, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(wseg *s, long http, int transient, const char *fmt, ...)
{
    if (s->failed) return;
    s->failed = 1;
    s->http = http;
    s->transient = transient;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

static size_t part_read(char *p, size_t sz, size_t n, void *ud)
{
    sstream *st = ud;
    spart *pt = &st->s->parts[st->part];
    long long end = pt->off + pt->len, want = (long long)(sz * n);
    if (st->pos >= end) return 0;
    if (want > end - st->pos) want = end - st->pos;
    for (;;) {
        ssize_t got = pread(st->s->u->src.fd, p, (size_t)want, (off_t)st->pos);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(st->rerr, sizeof st->rerr, "cannot read %s at byte %lld: %s", st->s->u->src.path,
                     st->pos, got < 0 ? strerror(errno) : "the file shrank while it was sent");
            return CURL_READFUNC_ABORT;
        }
        st->pos += got;
        return (size_t)got;
    }
}

static int part_seek(void *ud, curl_off_t off, int origin)
{
    sstream *st = ud;
    spart *pt = &st->s->parts[st->part];
    if (origin != SEEK_SET || off < 0 || off > pt->len) return CURL_SEEKFUNC_CANTSEEK;
    st->pos = pt->off + off;
    return CURL_SEEKFUNC_OK;
}

static size_t part_header(char *line, size_t sz, size_t n, void *ud)
{
    sstream *st = ud;
    size_t len = sz * n, nlen, vlen;
    const char *v;
    if (len >= 5 && !strncmp(line, "HTTP/", 5)) st->etag[0] = '\0';
    else if (haul_header_split(line, len, &nlen, &v, &vlen) && nlen == 4 && !strncasecmp(line, "ETag", 4)) {
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') { v++; vlen -= 2; }
        snprintf(st->etag, sizeof st->etag, "%.*s", (int)(vlen < 79 ? vlen : 79), v);
    }
    return len;
}

static size_t part_body(char *p, size_t sz, size_t n, void *ud)
{
    (void)p; (void)ud;
    return sz * n; /* an answer's body (an error document) is not kept */
}

static int pick_part(wseg *s, size_t *out)
{
    for (size_t i = 0; i < s->next; i++)
        if (!s->parts[i].busy && !s->parts[i].done) { *out = i; return 1; }
    if (s->next < s->nparts) { *out = s->next++; return 1; }
    return 0;
}

/* Put st on a part: 1 started, 0 nothing left, -1 failed (s->err). */
static int stream_next(worker *w, sstream *st)
{
    wseg *s = st->s;
    unit *u = s->u;
    const haul_task *t = &u->wt->t;
    const char *token = NULL, *surl = NULL;
    char err[HAUL_ERR_LEN], num[24];
    size_t i;
    if (s->failed || !pick_part(s, &i)) return 0;
    spart *pt = &s->parts[i];
    pt->busy = 1;
    pt->tries++;
    st->part = i;
    st->pos = pt->off;
    st->rerr[0] = '\0';
    if (t->conn.kind == HAUL_STORE_SWIFT && !haul_swift_cached(&t->conn, 0, &token, &surl)) {
        fail(s, 401, 1, "the Swift token expired while the file was uploaded");
        pt->busy = 0;
        return -1;
    }
    haul_req_free(&st->req);
    int rc;
    if (t->conn.kind == HAUL_STORE_S3) {
        unsigned char raw[16], b64[32];
        hex_to_raw(pt->md5, raw);
        EVP_EncodeBlock(b64, raw, 16);
        snprintf(num, sizeof num, "%zu", i + 1);
        haul_kv q[2] = {{"partNumber", num}, {"uploadId", s->upload_id}};
        haul_kv h[1] = {{"Content-MD5", (const char *)b64}};
        rc = haul_store_request_hdrs(&t->conn, token, surl, "PUT", t->bucket, t->keys[u->idx], q, 2,
                                     h, 1, &st->req, err);
    } else {
        haul_buf name = HAUL_BUF_INIT;
        haul_buf_printf(&name, "%s%08zu", s->seg_prefix, i);
        haul_kv h[1] = {{"ETag", pt->md5}};
        rc = haul_store_request_hdrs(&t->conn, token, surl, "PUT", s->seg_container, name.p, NULL, 0,
                                     h, 1, &st->req, err);
        haul_buf_free(&name);
    }
    if (rc < 0) {
        fail(s, 0, 0, "%s", err);
        pt->busy = 0;
        return -1;
    }
    haul_req_header(&st->req, "Expect:");
    haul_easy_prepare(w, st->e, &t->conn, &st->req);
    curl_easy_setopt(st->e, CURLOPT_READFUNCTION, part_read);
    curl_easy_setopt(st->e, CURLOPT_READDATA, st);
    curl_easy_setopt(st->e, CURLOPT_SEEKFUNCTION, part_seek);
    curl_easy_setopt(st->e, CURLOPT_SEEKDATA, st);
    curl_easy_setopt(st->e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)pt->len);
    curl_easy_setopt(st->e, CURLOPT_WRITEFUNCTION, part_body);
    curl_easy_setopt(st->e, CURLOPT_HEADERFUNCTION, part_header);
    curl_easy_setopt(st->e, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(st->e, CURLOPT_PRIVATE, st);
    if (curl_multi_add_handle(w->multi, st->e) != CURLM_OK) {
        fail(s, 0, 1, "cannot start a transfer (curl_multi_add_handle failed)");
        pt->busy = 0;
        return -1;
    }
    w->running++;
    return 1;
}

static void stream_free(worker *w, sstream *st, int in_multi)
{
    if (in_multi) {
        curl_multi_remove_handle(w->multi, st->e);
        w->running--;
    }
    haul_req_free(&st->req);
    wrange_handle_put(w, st->e);
    free(st);
}

static int over(const wseg *s)
{
    return !s->streams && s->spawn == 0;
}

void segput_start(worker *w, unit *u)
{
    wseg *s = u->seg;
    s->spawn = w->part_streams < (int)s->nparts ? w->part_streams : (int)s->nparts;
    if (s->spawn < 1) s->spawn = 1;
    s->next_pending = pending;
    pending = s;
    log_debug("task %s key %zu: %lld bytes in %zu parts of %lld, %d at once", u->wt->t.id, u->idx,
              u->src.size, s->nparts, s->psize, s->spawn);
}

unit *segput_pump(worker *w)
{
    while (pending) {
        wseg *s = pending;
        pending = s->next_pending;
        s->next_pending = NULL;
        while (s->spawn > 0 && !s->failed) {
            s->spawn--;
            sstream *st = haul_calloc(1, sizeof *st);
            st->xfer_tag = 2;
            st->s = s;
            st->e = wrange_handle_get(w);
            if (stream_next(w, st) == 1) {
                st->next = s->streams;
                s->streams = st;
            } else {
                stream_free(w, st, 0);
            }
        }
        s->spawn = 0;
        if (over(s)) return s->u;
    }
    return NULL;
}

unit *segput_stream_done(worker *w, void *stream, CURLcode cc)
{
    sstream *st = stream;
    wseg *s = st->s;
    spart *pt = &s->parts[st->part];
    long http = 0;
    curl_easy_getinfo(st->e, CURLINFO_RESPONSE_CODE, &http);
    curl_multi_remove_handle(w->multi, st->e);
    w->running--;
    pt->busy = 0;
    if (cc == CURLE_OK && http >= 200 && http <= 299) {
        /* The store computed the part's MD5 as it arrived: its ETag is it. */
        if (strcasecmp(st->etag, pt->md5) != 0) {
            fail(s, http, 1, "part %zu: the store's ETag %s is not the part's MD5 %s", st->part + 1,
                 st->etag[0] ? st->etag : "(none)", pt->md5);
        } else {
            snprintf(pt->etag, sizeof pt->etag, "%s", st->etag);
            pt->done = 1;
        }
    } else if (!s->failed) {
        int transient = st->rerr[0] ? 1 : cc != CURLE_OK ? 1 : haul_store_transient(http) || http == 401;
        if (transient && pt->tries < SEGPUT_PART_TRIES && !st->rerr[0]) {
            log_debug("task %s key %zu: part %zu failed (%s, HTTP %ld); sending it again",
                      s->u->wt->t.id, s->u->idx, st->part + 1, curl_easy_strerror(cc), http);
        } else if (st->rerr[0]) {
            fail(s, 0, 1, "%s", st->rerr);
        } else if (cc != CURLE_OK) {
            fail(s, http, transient, "part %zu (bytes %lld-%lld): %s", st->part + 1, pt->off,
                 pt->off + pt->len - 1, curl_easy_strerror(cc));
        } else {
            fail(s, http, transient, "part %zu (bytes %lld-%lld): HTTP %ld%s", st->part + 1, pt->off,
                 pt->off + pt->len - 1, http, http == 400 || http == 422 ?
                 " (the store computed another MD5: the file changed while it was read?)" : "");
        }
    }
    int more = !s->failed ? stream_next(w, st) : 0;
    if (more != 1) {
        for (sstream **pp = &s->streams; *pp; pp = &(*pp)->next)
            if (*pp == st) { *pp = st->next; break; }
        stream_free(w, st, 0);
    }
    if (s->failed) {
        while (s->streams) {
            sstream *x = s->streams;
            s->streams = x->next;
            s->parts[x->part].busy = 0;
            stream_free(w, x, 1);
        }
    }
    return over(s) ? s->u : NULL;
}

int segput_parts_ok(const unit *u, long *http, int *transient, char *err)
{
    const wseg *s = u->seg;
    if (s->failed) {
        *http = s->http;
        *transient = s->transient;
        snprintf(err, HAUL_ERR_LEN, "%s", s->err);
        return 0;
    }
    for (size_t i = 0; i < s->nparts; i++)
        if (!s->parts[i].done) {
            *http = 0;
            *transient = 1;
            snprintf(err, HAUL_ERR_LEN, "part %zu was not sent", i + 1);
            return 0;
        }
    return 1;
}

void segput_free(worker *w, unit *u)
{
    wseg *s = u->seg;
    if (!s) return;
    for (wseg **pp = &pending; *pp; pp = &(*pp)->next_pending)
        if (*pp == s) { *pp = s->next_pending; break; }
    while (s->streams) {
        sstream *x = s->streams;
        s->streams = x->next;
        stream_free(w, x, 1);
    }
    for (size_t i = 0; i < s->nstale; i++) free(s->stale[i]);
    free(s->stale);
    free(s->parts);
    free(s->upload_id);
    free(s->seg_container);
    free(s->seg_prefix);
    haul_buf_free(&s->name);
    free(s);
    u->seg = NULL;
}
