/* ops.c -- the worker's operations, one key at a time, on curl easy handles
 * driven by the main loop's multi handle.
 *
 * Each key's life here: haul_unit_start() builds the request (or answers at
 * once: a sidecar op on a key without a sidecar suffix makes no request), the
 * main loop runs the transfer, and haul_transfer_done() turns the response
 * into the key's result -- or starts another transfer for the same key, one
 * at a time on the key's own easy handle ("steps", worker.h):
 *   - Swift auth: on a cache miss the first key needing a token runs the
 *     auth v1.0 request as a transfer like any other; keys of the same
 *     credentials that come meanwhile wait on it (parked, no handle in use),
 *     so nothing ever blocks the loop;
 *   - the next page of a listing (after main.c committed the page's rows);
 *   - what verifying a get needs: a Swift SLO's manifest, a DLO's segment
 *     listing, an S3 multipart object's part size, learned when the first
 *     bytes of the body show what kind of object it is; the body is then
 *     fetched again with a verifier that checks it as it arrives;
 *   - a retry after re-authenticating to Swift once on 401;
 * and a large body, fetched in parts by ranged GETs beside it (ranged.c).
 * This file never talks to Redis and never calls into main.c. */
#define _GNU_SOURCE /* memmem */
#include "worker.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "metrics.h"
#include "queue.h"
#include "ranged.h"
#include "collate.h"
#include "segput.h"
#include "upload.h"
#include "xmltext.h"

#define ERROR_BODY_MAX (64u << 10)   /* bytes of an error response kept for its message */
#define LIST_BODY_MAX  (64u << 20)   /* one listing page, or a manifest */
#define MAX_REPLANS    2             /* side requests to learn how to verify one key */
#define EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"

const char *unit_step_str(unit_step s)
{
    static const char *const names[] = {"request", "auth", "manifest", "segments",
                                        "part probe", "listing check",
                                        "existing object", "unfinished uploads",
                                        "abort an unfinished upload", "begin the parts",
                                        "end the parts", "abort the parts", "sidecar",
                                        "delete many"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

void haul_result_set(wresult *r, int ok, long http, const char *error)
{
    r->status = NULL;
    r->done = 1;
    r->transient = 0;
    r->ok = ok;
    r->http = http;
    free(r->error);
    r->error = error ? haul_strdup(error) : NULL;
}

void haul_result_fail(wresult *r, long http, const char *error, int transient)
{
    haul_result_set(r, 0, http, error);
    r->transient = transient;
}

/* Failures of the network or the server, worth another attempt; not those
 * of this host (a full disk) or of the request itself. */
static int curl_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR: case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static const char *store_name(const haul_task *t)
{
    return t->conn.kind == HAUL_STORE_S3 ? "S3" : "Swift";
}

/* ---- the multi handle ------------------------------------------------- */

/* Add u's prepared request to the multi handle, if this worker may contact
 * its endpoint (--allow-endpoint). -1 with a sentence. */
static int add_transfer(worker *w, unit *u, char *err)
{
    if (w->allow && haul_url_allowed(u->req.url, w->allow, err) < 0) return -1;
    if (curl_multi_add_handle(w->multi, u->e) != CURLM_OK) {
        snprintf(err, HAUL_ERR_LEN, "cannot start a transfer (curl_multi_add_handle failed)");
        return -1;
    }
    u->in_multi = 1;
    w->running++;
    return 0;
}

static void remove_transfer(worker *w, unit *u)
{
    if (!u->in_multi) return;
    curl_multi_remove_handle(w->multi, u->e);
    u->in_multi = 0;
    w->running--;
}

static void push_finished(worker *w, unit *u)
{
    u->next_waiter = w->finished;
    w->finished = u;
}

wkey *haul_key_ready(worker *w)
{
    wkey *k = w->ready;
    if (k) w->ready = k->next;
    return k;
}

wkey *haul_key_failed(worker *w)
{
    wkey *k = w->failed;
    if (k) w->failed = k->next;
    return k;
}

/* The keys waiting on leader's auth: to start again, or failed with err. */
static void release_keys(worker *w, unit *leader, int ok, long http, const char *err, int transient)
{
    wkey *k = leader->key_waiters;
    leader->key_waiters = NULL;
    while (k) {
        wkey *next = k->next;
        w->deferred--;
        if (ok) {
            k->next = w->ready;
            w->ready = k;
        } else {
            wresult *r = &k->wt->res[k->idx];
            r->tries++;
            r->bytes = -1;
            r->count = -1;
            haul_result_fail(r, http, err, transient);
            r->ms = 0;
            k->next = w->failed;
            w->failed = k;
        }
        k = next;
    }
}

unit *haul_unit_finished(worker *w)
{
    unit *u = w->finished;
    if (u) {
        w->finished = u->next_waiter;
        u->next_waiter = NULL;
    }
    return u;
}

/* ---- resetting -------------------------------------------------------- */

static void forget_body(unit *u)
{
    wrange_abort(u->w, u);
    u->range_checked = 0;
    haul_buf_reset(&u->body);
    wfile_abort(&u->file);
    haul_verifier_free(u->ver);
    u->ver = NULL;
    u->nbytes = 0;
    u->planned = 0;
    u->write_failed = 0;
    u->corrupt = 0;
    u->werr[0] = '\0';
}

static void forget_segments(unit *u)
{
    haul_segments_free(u->segs, u->nsegs);
    u->segs = NULL;
    u->nsegs = 0;
    free(u->segs_etag);
    u->segs_etag = NULL;
}

static void fail_waiters(worker *w, unit *leader, long http, const char *err, int transient);
static void release_bulk_keys(worker *w, unit *u, int ok, long http, const char *err, int transient);
static void hash_join(worker *w, unit *u);
static int bulk_over(worker *w, unit *u, CURLcode cc, long http);

/* A unit's buffers are kept from one key to the next (no allocation per
 * key), unless a key made one large (an inline body, a manifest). */
#define RECYCLE_MAX (64u << 10)
static void recycle(haul_buf *b)
{
    if (b->cap > RECYCLE_MAX) haul_buf_free(b);
    else haul_buf_reset(b);
}

/* Release what a unit holds between keys; haul_unit_free() at the end. */
void haul_unit_reset(worker *w, unit *u)
{
    if (u->step == STEP_AUTH) {
        /* A leader going away must not strand the keys waiting on it. */
        for (unit **pp = &w->auths; *pp; pp = &(*pp)->next_waiter)
            if (*pp == u) { *pp = u->next_waiter; break; }
        u->next_waiter = NULL;
        fail_waiters(w, u, 0, "Swift auth was abandoned", 1);
        release_keys(w, u, 0, 0, "Swift auth was abandoned", 1);
    }
    if (u->bulk_keys) release_bulk_keys(w, u, 0, 0, "the bulk delete it waited on was abandoned", 1);
    haul_req_free(&u->req);
    forget_body(u);
    forget_segments(u);
    hash_join(w, u);
    rfile_close(&u->src);
    free(u->up);
    u->up = NULL;
    upload_hash_free(u->deep);
    u->deep = NULL;
    segput_free(w, u);
    u->seg_arg = NULL;
    u->slo_delete = 0;
    u->seg_ended = 0;
    u->zip = 0;
    recycle(&u->reqbody);
    recycle(&u->sidecar);
    recycle(&u->body);
    recycle(&u->side);
    recycle(&u->etag);
    recycle(&u->ctype);
    recycle(&u->lastmod);
    recycle(&u->meta);
    recycle(&u->manifest_hdr);
    haul_swift_auth_reset(&u->auth);
    haul_list_page_free(&u->page);
    free(u->list_next);
    u->list_next = NULL;
    u->clen = u->parts_count = -1;
    u->slo = 0;
    u->step = STEP_REQUEST;
    u->replan = 0;
    u->replans = 0;
    u->listchecked = 0;
    u->part_size = -1;
    u->parked = 0;
}

void haul_unit_free(worker *w, unit *u)
{
    haul_unit_reset(w, u);
    haul_buf_free(&u->body);
    haul_buf_free(&u->side);
    haul_buf_free(&u->etag);
    haul_buf_free(&u->ctype);
    haul_buf_free(&u->lastmod);
    haul_buf_free(&u->meta);
    haul_buf_free(&u->manifest_hdr);
    haul_buf_free(&u->reqbody);
    haul_buf_free(&u->sidecar);
    curl_easy_cleanup(u->e);
    u->e = NULL;
}

void haul_unit_abandon(worker *w, unit *u)
{
    remove_transfer(w, u);
    if (u->parked) {
        /* Take it off its leader's list: it is going away. */
        for (unit *l = w->auths; l; l = l->next_waiter)
            for (unit **pp = &l->waiters; *pp; pp = &(*pp)->next_waiter)
                if (*pp == u) { *pp = u->next_waiter; goto out; }
    out:
        u->next_waiter = NULL;
        u->parked = 0;
    }
    haul_unit_reset(w, u);
}

/* ---- callbacks -------------------------------------------------------- */

static long response_code(CURL *e)
{
    long http = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    return http;
}

static int plan(worker *w, unit *u);

/* Past max_inline, a GET body goes to a file under out_dir (files.h). */
static int spill_open(worker *w, unit *u)
{
    const haul_task *t = &u->wt->t;
    if (!t->out_dir || !*t->out_dir) {
        snprintf(u->werr, sizeof u->werr,
                 "body is larger than --max-inline (%llu bytes) and no --out-dir was given",
                 (unsigned long long)t->max_inline);
        return -1;
    }
    if (wfile_create(w->files, t->out_dir, t->keys[u->idx], &u->file, u->werr) < 0) return -1;
    if (u->body.len && wfile_write(&u->file, u->body.p, u->body.len, u->werr) < 0) return -1;
    haul_buf_free(&u->body);
    return 0;
}

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
    unit *u = ud;
    worker *w = u->w;
    const haul_task *t = &u->wt->t;
    size_t len = sz * n;
    long http = response_code(u->e);

    if (u->step != STEP_REQUEST) { /* a side request: its answer is small and parsed whole */
        if (u->side.len + len > LIST_BODY_MAX) {
            snprintf(u->werr, sizeof u->werr, "%s answer larger than %u bytes",
                     unit_step_str(u->step), LIST_BODY_MAX);
            goto fail;
        }
        haul_buf_add(&u->side, p, len);
        return len;
    }
    if (http < 200 || http > 299) { /* an error document: keep its start for the message */
        if (u->body.len < ERROR_BODY_MAX) haul_buf_add(&u->body, p, len);
        return len;
    }
    if (t->op == HAUL_OP_VERIFY) { /* --deep: hashed, not kept */
        if (!u->deep && !(u->deep = upload_hash_new())) {
            snprintf(u->werr, sizeof u->werr, "this OpenSSL offers no MD5");
            goto fail;
        }
        upload_hash_update(u->deep, p, len);
        u->nbytes += (long long)len;
        return len;
    }
    if (!u->planned && (t->op == HAUL_OP_GET || t->op == HAUL_OP_SIDECAR) && plan(w, u)) {
        u->write_failed = 0;
        return 0; /* stop this body: learn how to verify it first (transfer_over) */
    }
    if (!u->range_checked) {
        u->range_checked = 1;
        if (wrange_wanted(w, u, http) && (spill_open(w, u) < 0 || wrange_start(w, u, u->werr) < 0))
            goto fail;
    }
    if (u->range) { /* this response keeps part 0 only (ranged.h) */
        int st = wrange_lead_write(w, u, p, len);
        if (st < 0) {
            u->corrupt = 1; /* worth another attempt */
            goto fail;
        }
        if (st == 0) u->nbytes += (long long)len;
        return st == 0 ? len : 0;
    }
    u->nbytes += (long long)len;
    if (u->file.fd >= 0) {
        if (wfile_write(&u->file, p, len, u->werr) < 0) goto fail;
    } else if (t->op == HAUL_OP_GET && u->body.len + len > t->max_inline) {
        if (spill_open(w, u) < 0 || wfile_write(&u->file, p, len, u->werr) < 0) goto fail;
    } else if (t->op == HAUL_OP_SIDECAR && u->body.len + len > t->max_inline) {
        snprintf(u->werr, sizeof u->werr, "sidecar is larger than --max-inline (%llu bytes)",
                 (unsigned long long)t->max_inline);
        goto fail;
    } else if (t->op != HAUL_OP_GET && u->body.len + len > LIST_BODY_MAX) {
        snprintf(u->werr, sizeof u->werr, "response larger than %u bytes", LIST_BODY_MAX);
        goto fail;
    } else {
        haul_buf_add(&u->body, p, len);
    }
    /* Checked after it was stored: the checksum covers what was written. */
    if (u->ver) {
        haul_verifier_update(u->ver, p, len);
        if (haul_verifier_failed(u->ver)) {
            /* Certain already (a bad segment, too many bytes): stop here, and
             * say which; the download is worth another attempt. */
            haul_verified how;
            if (haul_verifier_final(u->ver, &how, u->werr) == 0)
                snprintf(u->werr, sizeof u->werr, "the body does not match what the store says it is");
            haul_verifier_free(u->ver);
            u->ver = NULL;
            u->corrupt = 1;
            goto fail;
        }
    }
    return len;
fail:
    u->write_failed = 1;
    return 0; /* makes curl stop the transfer with CURLE_WRITE_ERROR */
}

static void json_member(haul_buf *b, const char *name, const char *v, size_t n)
{
    json_t *s = json_stringn(v, n);
    if (!s) return; /* not UTF-8: left out rather than mangled */
    char *enc = json_dumps(s, JSON_ENCODE_ANY);
    json_t *k = json_string(name);
    char *kenc = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
    if (enc && kenc) {
        if (b->len) haul_buf_addc(b, ',');
        haul_buf_printf(b, "%s:%s", kenc, enc);
    }
    free(enc); free(kenc);
    json_decref(s); json_decref(k);
}

static size_t header_cb(char *line, size_t sz, size_t n, void *ud)
{
    unit *u = ud;
    size_t len = sz * n;
    if (u->step == STEP_AUTH) return haul_swift_auth_header_cb(line, sz, n, &u->auth);
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response: forget the last one's */
        if (u->step == STEP_REQUEST || u->step == STEP_PROBE || u->step == STEP_SEG_END) {
            haul_buf_reset(&u->etag); haul_buf_reset(&u->ctype);
            haul_buf_reset(&u->lastmod); haul_buf_reset(&u->meta);
            haul_buf_reset(&u->manifest_hdr);
            u->slo = 0;
            u->clen = -1;
        }
        u->parts_count = -1;
        return len;
    }
    size_t nlen, vlen;
    const char *v;
    if (!haul_header_split(line, len, &nlen, &v, &vlen)) return len;
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(line, h, nlen) == 0)
    if (u->step == STEP_PARTPROBE) {
        /* Only what tells the part size: part 1's length, and the count. */
        if (IS("Content-Length")) u->clen = strtoll(v, NULL, 10);
        else if (IS("x-amz-mp-parts-count")) u->parts_count = strtoll(v, NULL, 10);
        return len;
    }
    if (u->step != STEP_REQUEST && u->step != STEP_PROBE && u->step != STEP_SEG_END) return len;
    if (IS("ETag")) {
        haul_buf_reset(&u->etag);
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') haul_buf_add(&u->etag, v + 1, vlen - 2);
        else haul_buf_add(&u->etag, v, vlen);
    } else if (IS("Content-Type")) {
        haul_buf_reset(&u->ctype); haul_buf_add(&u->ctype, v, vlen);
    } else if (IS("Last-Modified")) {
        haul_buf_reset(&u->lastmod); haul_buf_add(&u->lastmod, v, vlen);
    } else if (IS("Content-Length")) {
        u->clen = strtoll(v, NULL, 10);
    } else if (IS("X-Static-Large-Object") || IS("X-Object-Meta-Static-Large-Object") ||
               IS("x-amz-meta-static-large-object")) {
        /* Swift says so in the first; Ceph RGW, over S3, only in the others. */
        u->slo |= vlen == 4 && strncasecmp(v, "true", 4) == 0;
    } else if (IS("X-Object-Manifest")) {
        haul_buf_reset(&u->manifest_hdr); haul_buf_add(&u->manifest_hdr, v, vlen);
    } else {
        /* User metadata: S3 sends x-amz-meta-NAME, Swift x-object-meta-NAME. */
        size_t pre = nlen > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0 ? 11 :
                     nlen > 14 && strncasecmp(line, "x-object-meta-", 14) == 0 ? 14 : 0;
        if (pre) {
            char *name = haul_strndup(line + pre, nlen - pre);
            for (char *c = name; *c; c++) *c = (char)tolower((unsigned char)*c);
            json_member(&u->meta, name, v, vlen);
            free(name);
        }
    }
#undef IS
    return len;
}

/* ---- verification plans ---------------------------------------------- */

static int endpoint_noparts(const worker *w, const char *ep)
{
    for (size_t i = 0; i < w->nnoparts; i++)
        if (!strcmp(w->noparts[i], ep)) return 1;
    return 0;
}

static void add_noparts(worker *w, const char *ep)
{
    if (endpoint_noparts(w, ep) || w->nnoparts >= 64) return;
    w->noparts = haul_realloc(w->noparts, (w->nnoparts + 1) * sizeof *w->noparts);
    w->noparts[w->nnoparts++] = haul_strdup(ep);
    log_info("S3 at %s does not tell part sizes (HEAD ?partNumber=1): multipart objects from "
             "it are checked against the part sizes common clients use", ep);
}

/* At the first bytes of a 2xx body: how can it be checked? Returns 0 to go
 * on (u->ver set, or NULL: nothing to check), 1 to stop the body and run the
 * side request u->replan first. */
static int plan(worker *w, unit *u)
{
    const haul_task *t = &u->wt->t;
    unsigned char md5[16];
    long long nparts = 0;
    haul_etag_kind kind = haul_etag_parse(u->etag.p, u->etag.len, md5, &nparts);

    u->planned = 1;
    if (!haul_md5_available() || (t->flags & HAUL_TASK_NO_CHECKSUM)) return 0;
    if (u->slo && t->conn.kind == HAUL_STORE_S3)
        return 0; /* an SLO read over S3 (Ceph RGW marks it): no manifest to be had */
    if (u->slo || u->manifest_hdr.len) {
        if (t->op != HAUL_OP_GET) return 0; /* a segmented sidecar: not worth it */
        if (u->segs_etag && u->etag.p && !strcmp(u->segs_etag, u->etag.p)) {
            if (u->segs) u->ver = haul_verifier_segments(u->segs, u->nsegs);
            return 0;
        }
        if (u->replans >= MAX_REPLANS) return 0;
        u->replan = u->slo ? STEP_MANIFEST : STEP_SEGMENTS;
        return 1;
    }
    if (kind == HAUL_ETAG_MD5) {
        u->ver = haul_verifier_md5(md5);
        return 0;
    }
    if (kind == HAUL_ETAG_MULTIPART && t->op == HAUL_OP_GET && u->clen >= 0) {
        if (t->conn.kind == HAUL_STORE_S3 && u->part_size < 0 &&
            !endpoint_noparts(w, t->conn.s3.endpoint) &&
            u->replans < MAX_REPLANS && nparts > 1) {
            u->replan = STEP_PARTPROBE;
            return 1;
        }
        u->ver = haul_verifier_parts(md5, nparts, u->clen, u->part_size > 0 ? u->part_size : 0);
    }
    return 0;
}

/* ---- building and starting transfers --------------------------------- */

static void setup_easy(worker *w, unit *u)
{
    const haul_task *t = &u->wt->t;
    haul_easy_prepare(w, u->e, &t->conn, &u->req);
    curl_easy_setopt(u->e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(u->e, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(u->e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(u->e, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(u->e, CURLOPT_PRIVATE, u);
    if (t->op == HAUL_OP_PUT && u->step == STEP_REQUEST && u->up) {
        u->up->off = 0;
        u->up->err[0] = '\0';
        curl_easy_setopt(u->e, CURLOPT_READFUNCTION, upload_read);
        curl_easy_setopt(u->e, CURLOPT_READDATA, u->up);
        curl_easy_setopt(u->e, CURLOPT_SEEKFUNCTION, upload_seek);
        curl_easy_setopt(u->e, CURLOPT_SEEKDATA, u->up);
        curl_easy_setopt(u->e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->src.size);
    }
    if (u->step == STEP_SEG_BEGIN || u->step == STEP_SEG_END || u->step == STEP_SIDECAR ||
        u->step == STEP_BULK) {
        /* A body from memory (maybe empty), sent with the request's own
         * method: POST for S3, PUT for Swift. */
        curl_easy_setopt(u->e, CURLOPT_UPLOAD, 0L);
        curl_easy_setopt(u->e, CURLOPT_POST, 1L);
        curl_easy_setopt(u->e, CURLOPT_CUSTOMREQUEST, u->req.method);
        curl_easy_setopt(u->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u->reqbody.len);
        curl_easy_setopt(u->e, CURLOPT_POSTFIELDS, u->reqbody.len ? u->reqbody.p : "");
    }
    (void)w;
}

/* The keys of u's bulk delete in the order sent: its own, then those in
 * u->bulk_keys; u->bulk_n of them (the caller frees the array). */
static size_t *bulk_ids(const unit *u)
{
    size_t *ids = haul_malloc(u->bulk_n * sizeof *ids), m = 0;
    ids[m++] = u->idx;
    for (const wkey *k = u->bulk_keys; k && m < u->bulk_n; k = k->next) ids[m++] = k->idx;
    return ids;
}

/* delete over S3: POST ?delete (DeleteObjects) naming the keys of
 * bulk_ids(), with the Content-MD5 S3 requires of it. */
static int build_bulk(unit *u, const char *token, const char *surl, char *err)
{
    const haul_task *t = &u->wt->t;
    char md5[33];
    size_t *ids = bulk_ids(u);
    haul_buf_reset(&u->reqbody);
    haul_buf_adds(&u->reqbody, "<Delete><Quiet>false</Quiet>");
    for (size_t j = 0; j < u->bulk_n; j++) {
        haul_buf_adds(&u->reqbody, "<Object><Key>");
        xmltext_escape(&u->reqbody, t->keys[ids[j]]);
        haul_buf_adds(&u->reqbody, "</Key></Object>");
    }
    free(ids);
    haul_buf_adds(&u->reqbody, "</Delete>");
    if (upload_md5_buf(u->reqbody.p, u->reqbody.len, md5) < 0) {
        snprintf(err, HAUL_ERR_LEN, "this OpenSSL offers no MD5");
        return -1;
    }
    haul_kv hdrs[HAUL_REQ_EXTRA_MAX];
    upload_hdrs store;
    size_t n = upload_headers(t->conn.kind, md5, NULL, 0, hdrs, &store);
    haul_kv q[1] = {{"delete", ""}};
    int rc = haul_store_request_hdrs(&t->conn, token, surl, "POST", t->bucket, NULL, q, 1, hdrs, n,
                                     &u->req, err);
    upload_headers_free(&store);
    if (rc == 0) {
        haul_req_header(&u->req, "Content-Type: application/xml");
    }
    return rc;
}

/* delete over Swift: POST ?bulk-delete naming the keys of bulk_ids(), one
 * "/container/key" a line, URL-encoded (Swift's bulk middleware; the answer
 * in JSON). */
static int build_swift_bulk(unit *u, const char *token, const char *surl, char *err)
{
    const haul_task *t = &u->wt->t;
    size_t *ids = bulk_ids(u);
    haul_buf_reset(&u->reqbody);
    for (size_t j = 0; j < u->bulk_n; j++) {
        haul_buf_addc(&u->reqbody, '/');
        haul_uri_encode(&u->reqbody, t->bucket, strlen(t->bucket), 0);
        haul_buf_addc(&u->reqbody, '/');
        haul_uri_encode(&u->reqbody, t->keys[ids[j]], strlen(t->keys[ids[j]]), 1);
        haul_buf_addc(&u->reqbody, '\n');
    }
    free(ids);
    haul_kv q[1] = {{"bulk-delete", ""}};
    haul_kv h[2] = {{"Accept", "application/json"}, {"Content-Type", "text/plain"}};
    return haul_store_request_hdrs(&t->conn, token, surl, "POST", NULL, NULL, q, 1, h, 2, &u->req, err);
}

/* put --collate: the zip's sidecar, its text with its checksum. */
static int build_sidecar(unit *u, const char *token, const char *surl, char *err)
{
    const haul_task *t = &u->wt->t;
    haul_kv hdrs[HAUL_REQ_EXTRA_MAX];
    upload_hdrs store;
    char md5[33];
    haul_buf key = HAUL_BUF_INIT;
    if (upload_md5_buf(u->sidecar.p ? u->sidecar.p : "", u->sidecar.len, md5) < 0) {
        snprintf(err, HAUL_ERR_LEN, "this OpenSSL offers no MD5");
        return -1;
    }
    haul_buf_reset(&u->reqbody);
    haul_buf_add(&u->reqbody, u->sidecar.p ? u->sidecar.p : "", u->sidecar.len);
    haul_buf_printf(&key, "%s%s", t->keys[u->idx], t->sidecar_ext ? t->sidecar_ext : ".metadata");
    size_t n = upload_headers(t->conn.kind, md5, NULL, 0, hdrs, &store);
    int rc = haul_store_request_hdrs(&t->conn, token, surl, "PUT", t->bucket, key.p, NULL, 0, hdrs, n,
                                     &u->req, err);
    upload_headers_free(&store);
    haul_buf_free(&key);
    if (rc == 0) {
        haul_req_header(&u->req, "Content-Type: text/plain");
    }
    return rc;
}

/* The control requests of a put in parts (segput.h). */
static int build_seg(unit *u, const char *token, const char *surl, char *err)
{
    const haul_task *t = &u->wt->t;
    const char *key = t->keys[u->idx];
    int s3 = t->conn.kind == HAUL_STORE_S3, rc = -1;
    haul_kv hdrs[HAUL_REQ_EXTRA_MAX];
    upload_hdrs store = {{0}, 0};
    size_t n = 0;

    haul_buf_reset(&u->reqbody);
    switch (u->step) {
    case STEP_SEG_STALE: {
        haul_kv q[2] = {{"uploads", ""}, {"prefix", key}};
        return haul_store_request(&t->conn, token, surl, "GET", t->bucket, NULL, q, 2, &u->req, err);
    }
    case STEP_SEG_DROP: {
        haul_kv q[1] = {{"uploadId", u->seg_arg}};
        return haul_store_request(&t->conn, token, surl, "DELETE", t->bucket, key, q, 1, &u->req, err);
    }
    case STEP_SEG_BEGIN:
        if (!s3)
            return haul_store_request(&t->conn, token, surl, "PUT", segput_seg_container(u), NULL,
                                      NULL, 0, &u->req, err) < 0 ? -1 : 0;
        {
            /* The object's metadata is given when the upload begins. */
            haul_kv q[1] = {{"uploads", ""}};
            n = upload_headers(t->conn.kind, NULL, t->meta, t->nmeta, hdrs, &store);
            rc = haul_store_request_hdrs(&t->conn, token, surl, "POST", t->bucket, key, q, 1, hdrs,
                                         n, &u->req, err);
        }
        break;
    case STEP_SEG_END:
        segput_end_body(u, &u->reqbody);
        if (s3) {
            haul_kv q[1] = {{"uploadId", segput_upload_id(u)}};
            rc = haul_store_request(&t->conn, token, surl, "POST", t->bucket, key, q, 1, &u->req, err);
        } else {
            haul_kv q[1] = {{"multipart-manifest", "put"}};
            n = upload_headers(t->conn.kind, NULL, t->meta, t->nmeta, hdrs, &store);
            rc = haul_store_request_hdrs(&t->conn, token, surl, "PUT", t->bucket, key, q, 1, hdrs, n,
                                         &u->req, err);
        }
        break;
    case STEP_SEG_ABORT:
        if (s3) {
            haul_kv q[1] = {{"uploadId", segput_upload_id(u)}};
            return haul_store_request(&t->conn, token, surl, "DELETE", t->bucket, key, q, 1, &u->req, err);
        }
        return haul_store_request(&t->conn, token, surl, "DELETE", segput_seg_container(u), u->seg_arg,
                                  NULL, 0, &u->req, err);
    default:
        snprintf(err, HAUL_ERR_LEN, "internal error: step %s is not a put in parts", unit_step_str(u->step));
        return -1;
    }
    upload_headers_free(&store);
    if (rc == 0) {
        /* No form content type (curl's default for a body from memory): the
         * object's type is the store's guess, as for a single PUT. */
        haul_req_header(&u->req, "Content-Type:");
    }
    return rc;
}

/* The PUT of u's key: the file's checksum and the task's metadata as
 * headers, and no "Expect: 100-continue" (a round trip per file). */
static int build_put(unit *u, const char *token, const char *surl, char *err)
{
    const haul_task *t = &u->wt->t;
    haul_kv hdrs[HAUL_REQ_EXTRA_MAX];
    upload_hdrs store;
    size_t n = upload_headers(t->conn.kind, u->wt->res[u->idx].md5, t->meta, t->nmeta, hdrs, &store);
    int rc = haul_store_request_hdrs(&t->conn, token, surl, "PUT", t->bucket, t->keys[u->idx],
                                     NULL, 0, hdrs, n, &u->req, err);
    upload_headers_free(&store);
    if (rc == 0) {
        haul_req_header(&u->req, "Expect:");
    }
    return rc;
}

/* "container/prefix" of X-Object-Manifest, percent-decoded. */
static int split_manifest(const haul_buf *h, char **container, char **prefix)
{
    haul_buf d = HAUL_BUF_INIT;
    for (size_t i = 0; i < h->len; i++) {
        if (h->p[i] == '%' && i + 2 < h->len && isxdigit((unsigned char)h->p[i + 1]) &&
            isxdigit((unsigned char)h->p[i + 2])) {
            char hex[3] = {h->p[i + 1], h->p[i + 2], 0};
            haul_buf_addc(&d, (char)strtol(hex, NULL, 16));
            i += 2;
        } else {
            haul_buf_addc(&d, h->p[i]);
        }
    }
    const char *s = haul_buf_str(&d), *slash = strchr(s, '/');
    if (!slash || slash == s || memchr(s, '\0', d.len)) {
        haul_buf_free(&d);
        return -1;
    }
    *container = haul_strndup(s, (size_t)(slash - s));
    *prefix = haul_strdup(slash + 1);
    haul_buf_free(&d);
    return 0;
}

/* Build the request of u->step. -1 with a sentence. */
static int build(unit *u, const char *token, const char *surl, char *err)
{
    const haul_task *t = &u->wt->t;
    const char *key = t->keys[u->idx];
    haul_req_free(&u->req);
    switch (u->step) {
    case STEP_MANIFEST: {
        haul_kv q[1] = {{"multipart-manifest", "get"}};
        return haul_store_request(&t->conn, token, surl, "GET", t->bucket, key, q, 1, &u->req, err);
    }
    case STEP_SEGMENTS: {
        char *cont = NULL, *prefix = NULL;
        if (split_manifest(&u->manifest_hdr, &cont, &prefix) < 0) {
            snprintf(err, HAUL_ERR_LEN, "X-Object-Manifest '%.100s' is not container/prefix",
                     haul_buf_str(&u->manifest_hdr));
            return -1;
        }
        int rc = haul_store_list_request(&t->conn, token, surl, cont, prefix, u->list_next,
                                         HAUL_LIST_PAGE, &u->req, err);
        free(cont);
        free(prefix);
        return rc;
    }
    case STEP_PARTPROBE: {
        haul_kv q[1] = {{"partNumber", "1"}};
        return haul_store_request(&t->conn, token, surl, "HEAD", t->bucket, key, q, 1, &u->req, err);
    }
    case STEP_LISTCHECK:
        return haul_store_list_request(&t->conn, token, surl, t->bucket, key, NULL, 1, &u->req, err);
    case STEP_PROBE:
        return haul_store_request(&t->conn, token, surl, "HEAD", t->bucket, key, NULL, 0, &u->req, err);
    case STEP_SEG_STALE: case STEP_SEG_DROP: case STEP_SEG_BEGIN: case STEP_SEG_END: case STEP_SEG_ABORT:
        return build_seg(u, token, surl, err);
    case STEP_SIDECAR:
        return build_sidecar(u, token, surl, err);
    case STEP_BULK:
        return t->conn.kind == HAUL_STORE_SWIFT ? build_swift_bulk(u, token, surl, err)
                                                : build_bulk(u, token, surl, err);
    case STEP_AUTH:
        return haul_swift_auth_request(&t->conn, &u->req, err);
    case STEP_REQUEST:
        break;
    }
    switch (t->op) {
    case HAUL_OP_LIST:
        return haul_store_list_request(&t->conn, token, surl, t->bucket, key, u->list_next,
                                       HAUL_LIST_PAGE, &u->req, err);
    case HAUL_OP_LIST_BUCKETS:
        return haul_store_list_request(&t->conn, token, surl, NULL, NULL, u->list_next,
                                       HAUL_LIST_PAGE, &u->req, err);
    case HAUL_OP_SIDECAR: {
        haul_buf k = HAUL_BUF_INIT;
        haul_buf_printf(&k, "%s%s", key, t->sidecar_ext ? t->sidecar_ext : ".metadata");
        int rc = haul_store_request(&t->conn, token, surl, "GET", t->bucket, k.p, NULL, 0, &u->req, err);
        haul_buf_free(&k);
        return rc;
    }
    case HAUL_OP_HEAD:
        return haul_store_request(&t->conn, token, surl, "HEAD", t->bucket, key, NULL, 0, &u->req, err);
    case HAUL_OP_GET:
        return haul_store_request(&t->conn, token, surl, "GET", t->bucket, key, NULL, 0, &u->req, err);
    case HAUL_OP_PUT:
        return build_put(u, token, surl, err);
    case HAUL_OP_DELETE: /* --dry-run: what is there to delete */
        if (u->slo_delete) {
            /* An SLO with its segments; the answer in JSON (its status
             * is in the body: the HTTP status is 200 whatever happened). */
            haul_kv q[1] = {{"multipart-manifest", "delete"}};
            haul_kv h[1] = {{"Accept", "application/json"}};
            return haul_store_request_hdrs(&t->conn, token, surl, "DELETE", t->bucket, key, q, 1, h, 1,
                                           &u->req, err);
        }
        return haul_store_request(&t->conn, token, surl, t->flags & HAUL_TASK_DRY_RUN ? "HEAD" : "DELETE",
                                  t->bucket, key, NULL, 0, &u->req, err);
    case HAUL_OP_VERIFY: /* --deep: the body, hashed as it comes */
        return haul_store_request(&t->conn, token, surl, t->flags & HAUL_TASK_DEEP ? "GET" : "HEAD",
                                  t->bucket, key, NULL, 0, &u->req, err);
    default:
        snprintf(err, HAUL_ERR_LEN, "operation %s is not supported", haul_op_str(t->op));
        return -1;
    }
}

static void describe(const unit *u, haul_buf *what)
{
    const haul_task *t = &u->wt->t;
    const char *key = t->keys[u->idx];
    switch (t->op) {
    case HAUL_OP_LIST:
        haul_buf_printf(what, "list %s/%s", t->bucket, key); break;
    case HAUL_OP_LIST_BUCKETS:
        haul_buf_adds(what, "list buckets"); break;
    case HAUL_OP_SIDECAR:
        haul_buf_printf(what, "GET %s/%s%s", t->bucket, key, t->sidecar_ext ? t->sidecar_ext : ".metadata"); break;
    case HAUL_OP_HEAD:
        haul_buf_printf(what, "HEAD %s/%s", t->bucket, key); break;
    case HAUL_OP_VERIFY:
        haul_buf_printf(what, "%s %s/%s", t->flags & HAUL_TASK_DEEP ? "GET" : "HEAD", t->bucket, key);
        break;
    case HAUL_OP_PUT:
        haul_buf_printf(what, "%s %s/%s%s", u->step == STEP_PROBE ? "HEAD" : "PUT", t->bucket, key,
                        u->step == STEP_SIDECAR ? (t->sidecar_ext ? t->sidecar_ext : ".metadata") : "");
        break;
    case HAUL_OP_DELETE:
        haul_buf_printf(what, "%s %s/%s", t->flags & HAUL_TASK_DRY_RUN || u->step == STEP_PROBE ? "HEAD"
                        : "DELETE", t->bucket, key);
        break;
    default:
        haul_buf_printf(what, "GET %s/%s", t->bucket, key); break;
    }
    if (u->step != STEP_REQUEST) haul_buf_printf(what, " (%s)", unit_step_str(u->step));
}

/* The store's answer http (its body p[0..n), NULL: none) as a sentence
 * naming the store and the request u made (haul_store_error). */
static void store_error(const unit *u, long http, const char *p, size_t n, char *err)
{
    haul_buf what = HAUL_BUF_INIT;
    describe(u, &what);
    haul_store_error(&u->wt->t.conn, what.p, http, p, n, err);
    haul_buf_free(&what);
}

/* Set the key's result to a failure, its sentence prefixed with the store
 * and the request. */
static void fail_key(unit *u, long http, const char *why, int transient)
{
    haul_buf what = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    describe(u, &what);
    snprintf(err, sizeof err, "%s %s: %s", store_name(&u->wt->t), what.p, why);
    haul_result_fail(&u->wt->res[u->idx], http, err, transient);
    haul_buf_free(&what);
}

/* The unit leading the auth of c's credentials, if one does. */
static unit *find_leader(worker *w, const haul_conn *c)
{
    for (unit *l = w->auths; l; l = l->next_waiter) {
        const haul_swift_conn *a = &l->wt->t.conn.swift, *b = &c->swift;
        if (!strcmp(a->auth_url, b->auth_url) && !strcmp(a->user, b->user) && !strcmp(a->key, b->key))
            return l;
    }
    return NULL;
}

/* Start the step: with a token first, for Swift (a cached one, or by leading
 * or joining an auth). 0 under way (or parked), -1 with the key's result set. */
static int start_step(worker *w, unit *u, unit_step step)
{
    const haul_task *t = &u->wt->t;
    const char *token = NULL, *surl = NULL;
    char err[HAUL_ERR_LEN];

    u->step = step;
    if (t->conn.kind == HAUL_STORE_SWIFT) {
        /* After a 401 the token is renewed only if no other key renewed it
         * since this one's request went out: many transfers see the same
         * expired token at once. */
        long long before = u->auth_retried ? u->sent_ms + 1 : 0;
        if (!haul_swift_cached(&t->conn, before, &token, &surl)) {
            unit *l = find_leader(w, &t->conn);
            if (l) {
                u->parked = 1;            /* wait for that one */
                u->next_waiter = l->waiters;
                l->waiters = u;
                return 0;
            }
            /* Lead: authenticate on this key's handle, then do its step. */
            u->step = STEP_AUTH;
            u->after_auth = step;
            haul_swift_auth_reset(&u->auth);
            if (build(u, NULL, NULL, err) < 0) goto failed;
            setup_easy(w, u);
            curl_easy_setopt(u->e, CURLOPT_TIMEOUT, (long)HAUL_SWIFT_AUTH_TIMEOUT_S);
            if (add_transfer(w, u, err) < 0) {
                u->step = step;
                goto failed;
            }
            u->next_waiter = w->auths;
            w->auths = u;
            return 0;
        }
    }
    u->sent_ms = haul_mono_ms();
    haul_buf_reset(step == STEP_REQUEST ? &u->body : &u->side);
    if (build(u, token, surl, err) < 0) goto failed;
    setup_easy(w, u);
    if (add_transfer(w, u, err) < 0) goto failed;
    return 0;
failed:
    fail_key(u, 0, err, 0);
    return -1;
}

static void fail_waiters(worker *w, unit *leader, long http, const char *err, int transient)
{
    unit *wu = leader->waiters;
    leader->waiters = NULL;
    while (wu) {
        unit *next = wu->next_waiter;
        wu->parked = 0;
        haul_result_fail(&wu->wt->res[wu->idx], http, err, transient);
        push_finished(w, wu);
        wu = next;
    }
}

/* The auth u led is over: take its outcome to every key waiting on it. */
static int auth_done(worker *w, unit *u, CURLcode cc)
{
    const haul_task *t = &u->wt->t;
    const char *token, *surl;
    char err[HAUL_ERR_LEN];
    long http = cc == CURLE_OK ? response_code(u->e) : 0;
    unit_step next = u->after_auth;

    for (unit **pp = &w->auths; *pp; pp = &(*pp)->next_waiter)
        if (*pp == u) { *pp = u->next_waiter; break; }
    u->next_waiter = NULL;
    int rc = haul_swift_auth_finish(&t->conn, cc, http, &u->auth, u->auth_retried, &token, &surl, err);
    haul_swift_auth_reset(&u->auth);
    u->step = next;
    if (rc < 0) {
        /* Unreachable auth or a 5xx: retry later; a refused key, or an
         * answer pointing elsewhere: not. */
        int transient = cc != CURLE_OK ? curl_transient(cc) :
                        haul_store_transient(http) && http != 200;
        fail_waiters(w, u, http, err, transient);
        release_keys(w, u, 0, http, err, transient);
        haul_result_fail(&u->wt->res[u->idx], http, err, transient);
        return UNIT_FINISHED;
    }
    release_keys(w, u, 1, 0, NULL, 0);
    unit *wu = u->waiters;
    u->waiters = NULL;
    while (wu) {
        unit *nx = wu->next_waiter;
        wu->parked = 0;
        wu->next_waiter = NULL;
        if (start_step(w, wu, wu->step) < 0) push_finished(w, wu);
        wu = nx;
    }
    return start_step(w, u, next) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
}

/* ---- starting a key --------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return b <= a && memcmp(s + a - b, suf, b) == 0;
}

/* The first request of a put after any HEAD: the PUT, or for a file in
 * parts the beginning of the upload -- over S3, when the key was tried
 * before (a retry, or a task delivered again), a look for its unfinished
 * uploads first, so one cut short by a kill is aborted, not left. */
static unit_step put_first(const unit *u)
{
    const haul_task *t = &u->wt->t;
    if (!u->seg) return STEP_REQUEST;
    if (t->conn.kind == HAUL_STORE_S3 && (u->wt->res[u->idx].tries > 1 || t->attempt > 0))
        return STEP_SEG_STALE;
    return STEP_SEG_BEGIN;
}

/* put, on a hashing thread: the file's MD5, and every part's. */
static int put_hash(void *arg, char *err)
{
    unit *u = arg;
    if (u->zip) { /* a zip of several files: made first (collate.h) */
        const haul_task *t = &u->wt->t;
        size_t off = 0;
        for (size_t i = 0; i < u->idx; i++) off += t->member_counts[i];
        if (collate_build(u->w->in, u->w->files, t->src_dir, t->members + off,
                          t->member_counts[u->idx], &u->src, &u->sidecar, err) < 0)
            return -1;
    }
    return segput_wanted(u) ? segput_prepare(u->w, u, err)
                            : upload_md5(&u->src, u->wt->res[u->idx].md5, err);
}

/* The file is hashed: what to do first, HEAD the key (--skip-existing) or
 * send it. With --dry-run and nothing to look up, the result is set here.
 * UNIT_RUNNING or UNIT_FINISHED. */
static int put_hashed(worker *w, unit *u)
{
    const haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];

    r->bytes = u->src.size;
    if (rfile_changed(&u->src, err)) {
        haul_result_fail(r, 0, err, 1);
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    u->up = haul_calloc(1, sizeof *u->up);
    u->up->f = &u->src;
    unit_step first = t->flags & HAUL_TASK_SKIP_EXISTING ? STEP_PROBE : put_first(u);
    if ((t->flags & HAUL_TASK_DRY_RUN) && first != STEP_PROBE) {
        haul_result_set(r, 1, 0, NULL);
        r->status = "would-upload";
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    if (start_step(w, u, first) < 0) {
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    return UNIT_RUNNING;
}

/* put: open the file and hash it -- a large one on a thread of its own
 * (the loop goes on; haul_transfer_pump takes it up when it is done), a
 * small one here -- then put_hashed. */
#define HASH_THREAD_MIN (8LL << 20)
static int put_start(worker *w, unit *u)
{
    const haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];

    if (!w->in) {
        haul_result_fail(r, 0, "this worker reads no files (start it with --in-root DIR to "
                         "upload files beneath DIR)", 0);
        r->ms = 0;
        return UNIT_FINISHED;
    }
    u->zip = t->ncounts && t->member_counts[u->idx] > 0;
    if (!u->zip && rfile_open(w->in, t->src_dir, t->srcs[u->idx], &u->src, err) < 0) {
        haul_result_fail(r, 0, err, 0);
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    if ((u->zip || u->src.size >= HASH_THREAD_MIN) &&
        (u->hjob = upload_job_start(put_hash, u, haul_transfer_wakefd(w)))) {
        u->hnext = w->hashing;
        w->hashing = u;
        return UNIT_RUNNING;
    }
    if (put_hash(u, err) < 0) {
        haul_result_fail(r, 0, err, 0);
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    return put_hashed(w, u);
}

/* Wait for u's hashing thread, if it has one (a reset). */
static void hash_join(worker *w, unit *u)
{
    char err[HAUL_ERR_LEN];
    if (!u->hjob) return;
    for (unit **pp = &w->hashing; *pp; pp = &(*pp)->hnext)
        if (*pp == u) { *pp = u->hnext; break; }
    upload_job_join(u->hjob, err);
    u->hjob = NULL;
}

/* A unit whose file is hashed: its next step (UNIT_*); NULL *out: none. */
static int hash_pump(worker *w, unit **out)
{
    char err[HAUL_ERR_LEN];
    *out = NULL;
    for (unit **pp = &w->hashing; *pp; pp = &(*pp)->hnext) {
        unit *u = *pp;
        if (!upload_job_done(u->hjob)) continue;
        *pp = u->hnext;
        *out = u;
        int rc = upload_job_join(u->hjob, err);
        u->hjob = NULL;
        if (rc < 0) {
            wresult *r = &u->wt->res[u->idx];
            haul_result_fail(r, 0, err, 0);
            r->ms = haul_mono_ms() - u->t0;
            return UNIT_FINISHED;
        }
        return put_hashed(w, u);
    }
    return UNIT_RUNNING;
}

/* delete: the keys of the task that HEAD found there (bulk_pending) are
 * deleted together, up to HAUL_BULK_DELETE_MAX in one request (S3
 * DeleteObjects, Swift POST ?bulk-delete) led by the first of them (the
 * loop starts it once every other key of the task is done or pending).
 * Their attempt goes on: the HEAD began it. */
static int bulk_start(worker *w, unit *u)
{
    wtask *wt = u->wt;
    wresult *r = &wt->res[u->idx];
    char err[HAUL_ERR_LEN];
    haul_unit_reset(w, u);
    u->w = w;
    u->t0 = haul_mono_ms();
    u->auth_retried = 0;
    r->bulk_pending = 0;
    u->bulk_n = 1;
    wkey **tail = &u->bulk_keys;
    for (size_t i = u->idx + 1; i < wt->t.nkeys && u->bulk_n < HAUL_BULK_DELETE_MAX; i++) {
        if (!wt->res[i].bulk_pending) continue;
        wt->res[i].bulk_pending = 0;
        wkey *k = haul_malloc(sizeof *k);
        k->wt = wt;
        k->idx = i;
        k->next = NULL;
        *tail = k;
        tail = &k->next;
        w->deferred++;
        u->bulk_n++;
    }
    wt->npending -= u->bulk_n;
    wt->bulk_leading = 0;
    if (start_step(w, u, STEP_BULK) < 0) {
        snprintf(err, sizeof err, "%s", r->error ? r->error : "the bulk delete could not start");
        release_bulk_keys(w, u, 0, 0, err, r->transient);
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    return UNIT_RUNNING;
}

int haul_unit_start(worker *w, unit *u)
{
    haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    const char *key = t->keys[u->idx];
    int request = 1;

    if (r->bulk_done) { /* another key's bulk delete answered for this one */
        r->bulk_done = 0;
        return UNIT_FINISHED;
    }
    if (r->bulk_pending) return bulk_start(w, u);
    if (t->op == HAUL_OP_SIDECAR) {
        request = 0; /* the notebook's rule: only keys with a sidecar suffix have one */
        for (size_t i = 0; i < t->nsuffixes && !request; i++) request = ends_with(key, t->suffixes[i]);
        if (!t->nsuffixes) request = ends_with(key, ".zip");
    }
    /* Keys of credentials being authenticated wait without a unit: a slow
     * auth server must not take every transfer slot from other work. */
    if (request && t->conn.kind == HAUL_STORE_SWIFT && w->auths) { /* only while one runs */
        const char *token, *surl;
        unit *l;
        if (!haul_swift_cached(&t->conn, 0, &token, &surl) && (l = find_leader(w, &t->conn))) {
            wkey *k = haul_malloc(sizeof *k);
            k->wt = u->wt;
            k->idx = u->idx;
            k->next = l->key_waiters;
            l->key_waiters = k;
            w->deferred++;
            return UNIT_DEFERRED;
        }
    }
    haul_unit_reset(w, u);
    u->w = w;
    u->t0 = haul_mono_ms();
    u->auth_retried = 0;
    r->tries++;
    r->bytes = -1;
    r->count = -1;
    r->verified = HAUL_VERIFIED_NONE;
    r->status = NULL;
    r->md5[0] = '\0';
    free(r->etag);
    r->etag = NULL;
    if (haul_op_writes(t->op) && w->read_only) {
        haul_result_fail(r, 0, "this worker is --read-only: it does not put or delete", 0);
        r->ms = 0;
        return UNIT_FINISHED;
    }
    if (t->op == HAUL_OP_PUT) return put_start(w, u);
    if (!request) { /* no sidecar: an empty value, no request */
        haul_result_set(r, 1, 0, NULL);
        r->ms = 0;
        return UNIT_FINISHED;
    }
    if (t->op == HAUL_OP_LIST || t->op == HAUL_OP_LIST_BUCKETS) {
        /* Resume at the checkpoint read from Redis (broker.c): the rows before it are
         * committed, by this worker or an earlier holder of the task. */
        u->list_count = r->listed;
        if (r->list_done) {
            haul_result_set(r, 1, 200, NULL);
            r->count = r->listed;
            r->ms = 0;
            return UNIT_FINISHED;
        }
        if (r->resume) u->list_next = haul_strdup(r->resume);
    }
    /* A delete looks first: a missing key is told by the HEAD (a DELETE
     * and DeleteObjects answer the same whether the key was there), and
     * over Swift an SLO goes with its segments. */
    unit_step first = t->op == HAUL_OP_DELETE && !(t->flags & HAUL_TASK_DRY_RUN) ? STEP_PROBE : STEP_REQUEST;
    if (start_step(w, u, first) < 0) {
        r->ms = haul_mono_ms() - u->t0;
        if (t->op == HAUL_OP_LIST || t->op == HAUL_OP_LIST_BUCKETS) r->count = r->listed;
        return UNIT_FINISHED;
    }
    return UNIT_RUNNING;
}

/* ---- finishing -------------------------------------------------------- */

static void head_value(unit *u, wresult *r)
{
    const haul_task *t = &u->wt->t;
    long long nparts = 0;
    json_t *o = json_object();
    json_object_set_new(o, "size", u->clen >= 0 ? json_integer(u->clen) : json_null());
    json_object_set_new(o, "etag", json_stringn(u->etag.p ? u->etag.p : "", u->etag.len));
    json_object_set_new(o, "last_modified", json_stringn(u->lastmod.p ? u->lastmod.p : "", u->lastmod.len));
    json_object_set_new(o, "content_type", json_stringn(u->ctype.p ? u->ctype.p : "", u->ctype.len));
    /* What kind of object it is, where the answer tells. */
    if (t->conn.kind == HAUL_STORE_SWIFT && u->slo)
        json_object_set_new(o, "segmented", json_string("slo"));
    else if (t->conn.kind == HAUL_STORE_SWIFT && u->manifest_hdr.len)
        json_object_set_new(o, "segmented", json_string("dlo"));
    else if (haul_etag_parse(u->etag.p, u->etag.len, NULL, &nparts) == HAUL_ETAG_MULTIPART) {
        json_object_set_new(o, "segmented", json_string("multipart"));
        json_object_set_new(o, "parts", json_integer(nparts));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    /* Metadata members were encoded as they arrived; splice them in. */
    haul_buf_reset(&r->value);
    if (s) {
        haul_buf_add(&r->value, s, strlen(s) - 1); /* without the closing '}' */
        haul_buf_printf(&r->value, ",\"meta\":{%s}}", haul_buf_str(&u->meta));
    }
    free(s);
    r->bytes = u->clen;
}

/* A get whose body arrived whole and (as far as the store allows) verified:
 * the value or the file becomes the result. */
static int finish_get(worker *w, unit *u, long http, haul_verified how)
{
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];
    const haul_task *t = &u->wt->t;
    r->bytes = u->nbytes;
    r->verified = how;
    /* With --max-inline 0 every body is a file, an empty one too: a tree
     * downloaded with --out-dir must have its empty objects. */
    if (u->file.fd < 0 && u->nbytes == 0 && t->max_inline == 0 && t->out_dir && *t->out_dir &&
        wfile_create(w->files, t->out_dir, t->keys[u->idx], &u->file, err) < 0) {
        fail_key(u, http, err, 0);
        return UNIT_FINISHED;
    }
    if (u->file.fd >= 0) {
        if (wfile_commit(w->files, &u->file, err) < 0) {
            fail_key(u, http, err, 0);
            wfile_abort(&u->file);
            return UNIT_FINISHED;
        }
        free(r->path);
        r->path = u->file.path;
        u->file.path = NULL;
        wfile_abort(&u->file);
    } else {
        haul_buf_reset(&r->value);
        haul_buf_add(&r->value, haul_buf_str(&u->body), u->body.len);
    }
    haul_result_set(r, 1, http, NULL);
    return UNIT_FINISHED;
}

/* A side request cannot tell how to verify the body: fetch it without. */
static void give_up_verifying(unit *u)
{
    free(u->segs_etag);
    u->segs_etag = haul_strdup(u->etag.p ? u->etag.p : "");
    haul_segments_free(u->segs, u->nsegs);
    u->segs = NULL;
    u->nsegs = 0;
    u->part_size = 0;
}

/* The answer of a side request, 2xx: learn what it tells, then fetch the
 * body again (or, for STEP_LISTCHECK, decide). */
static int side_done(worker *w, unit *u, long http)
{
    const haul_task *t = &u->wt->t;
    char err[HAUL_ERR_LEN] = "";
    haul_list_page page;

    switch (u->step) {
    case STEP_MANIFEST:
        forget_segments(u);
        if (haul_slo_manifest_parse(haul_buf_str(&u->side), u->side.len, &u->segs, &u->nsegs, err) < 0 ||
            haul_segments_match_etag(u->segs, u->nsegs, u->etag.p, u->etag.len, err) < 0) {
            log_info("task %s key %zu: the SLO manifest cannot be used to verify it (%s): "
                     "the body is not verified", t->id, u->idx, err);
            haul_segments_free(u->segs, u->nsegs);
            u->segs = NULL;
            u->nsegs = 0;
        }
        u->segs_etag = haul_strdup(u->etag.p ? u->etag.p : "");
        break;
    case STEP_SEGMENTS:
        /* A DLO's segment container, listed over either API (Ceph RGW shows
         * X-Object-Manifest over S3 too). */
        if (haul_store_list_parse(&t->conn, "segments", haul_buf_str(&u->side), u->side.len,
                                  HAUL_LIST_PAGE, &page, err) < 0) {
            log_info("task %s key %zu: the DLO's segment listing is unreadable (%s): the body is "
                     "not verified", t->id, u->idx, err);
            forget_segments(u);
            u->segs_etag = haul_strdup(u->etag.p ? u->etag.p : "");
            break;
        }
        u->segs = haul_realloc(u->segs, (u->nsegs + page.n + 1) * sizeof *u->segs);
        for (size_t i = 0; i < page.n; i++) {
            const haul_list_entry *e = &page.v[i];
            if (haul_segment_set(&u->segs[u->nsegs], e->name, e->etag ? e->etag : "",
                                 e->etag ? strlen(e->etag) : 0, e->size, err) < 0) {
                log_info("task %s key %zu: DLO segment %s: %s: the body is not verified", t->id,
                         u->idx, e->name, err);
                haul_list_page_free(&page);
                forget_segments(u);
                u->segs_etag = haul_strdup(u->etag.p ? u->etag.p : "");
                goto refetch;
            }
            u->nsegs++;
        }
        if (page.truncated && page.next && page.n) {
            free(u->list_next);
            u->list_next = haul_strdup(page.next);
            haul_list_page_free(&page);
            return start_step(w, u, STEP_SEGMENTS) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
        }
        haul_list_page_free(&page);
        free(u->list_next);
        u->list_next = NULL;
        if (haul_segments_match_etag(u->segs, u->nsegs, u->etag.p, u->etag.len, err) < 0) {
            log_info("task %s key %zu: the DLO's segments do not give its ETag (%s): the body is "
                     "not verified", t->id, u->idx, err);
            haul_segments_free(u->segs, u->nsegs);
            u->segs = NULL;
            u->nsegs = 0;
        }
        u->segs_etag = haul_strdup(u->etag.p ? u->etag.p : "");
        break;
    case STEP_PARTPROBE:
        /* Part 1's length, when the store says how many parts there are;
         * Swift's s3api refuses partNumber (405) and Ceph RGW 16.2 ignores
         * it (the whole object, no parts count). */
        if (http >= 200 && http <= 299 && u->parts_count > 1 && u->clen > 0) u->part_size = u->clen;
        else {
            u->part_size = 0;
            add_noparts(w, t->conn.s3.endpoint);
        }
        break;
    case STEP_LISTCHECK: {
        /* Over S3 a Swift DLO looks like a plain object whose ETag is not its
         * MD5; its listing entry gives it away: size 0 and the empty MD5,
         * although its body is not empty. Anything else is a real mismatch. */
        int dlo = 0;
        if (haul_store_list_parse(&t->conn, t->bucket, haul_buf_str(&u->side), u->side.len, 1,
                                  &page, err) == 0) {
            dlo = page.n == 1 && !strcmp(page.v[0].name, t->keys[u->idx]) && page.v[0].size == 0 &&
                  page.v[0].etag && !strcasecmp(page.v[0].etag, EMPTY_MD5) && u->nbytes > 0;
            haul_list_page_free(&page);
        }
        u->step = STEP_REQUEST;
        if (dlo) return finish_get(w, u, 200, HAUL_VERIFIED_NONE);
        fail_key(u, 200, u->werr, 1); /* the mismatch, kept from the body's end */
        return UNIT_FINISHED;
    }
    default:
        break;
    }
refetch:
    forget_body(u);
    return start_step(w, u, STEP_REQUEST) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
}

/* A side request failed (why): go on without verifying -- fetch the body
 * again with nothing to check it against; after STEP_LISTCHECK, the mismatch
 * it was to explain stands. */
static int side_failed(worker *w, unit *u, const char *why)
{
    log_info("task %s key %zu: %s: %s: the body is not verified", u->wt->t.id, u->idx,
             unit_step_str(u->step), why);
    if (u->step == STEP_LISTCHECK) {
        u->step = STEP_REQUEST;
        fail_key(u, 200, u->werr, 1);
        return UNIT_FINISHED;
    }
    give_up_verifying(u);
    forget_body(u);
    return start_step(w, u, STEP_REQUEST) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
}

static int transfer_over(worker *w, unit *u, CURLcode cc, long http);
static int seg_parts_over(worker *w, unit *u);
static int put_sidecar(worker *w, unit *u);

/* A ranged download is over: failed, or every byte in (then on as one
 * whole 200 answer: verified, committed). */
static int range_over(worker *w, unit *u)
{
    wrange_result res;
    wrange_end(w, u, &res);
    if (!res.ok) {
        u->write_failed = 0;
        fail_key(u, res.http, res.err, res.transient);
        u->wt->res[u->idx].ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    u->nbytes = res.bytes;
    u->write_failed = 0;
    return transfer_over(w, u, CURLE_OK, 200);
}

void haul_worker_cleanup(worker *w)
{
    for (size_t j = 0; j < w->nnoparts; j++) free(w->noparts[j]);
    free(w->noparts);
    w->noparts = NULL;
    w->nnoparts = 0;
    wrange_cleanup(w);
}

int haul_transfer_wakefd(worker *w) { return wrange_wakefd(w); }

int haul_transfer_pump(worker *w, unit **out)
{
    unit *lead = wrange_pump(w);
    *out = lead;
    if (lead) return range_over(w, lead);
    unit *su = segput_pump(w);
    *out = su;
    if (su) return seg_parts_over(w, su);
    return hash_pump(w, out);
}

/* Every request that ends is counted here, whoever made it (a key's own,
 * an auth, a part): by the op and store of the key it was for. */
static void count_request(worker *w, CURL *e, const unit *u)
{
    if (!w->metrics || !u || !u->wt) return;
    long http = 0;
    curl_off_t down = 0, up = 0, us = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
    curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
    wmetrics_request(w->metrics, u->wt->t.op, u->wt->t.conn.kind, http, (long long)down, (long long)up,
                     (double)us / 1e6);
}

int haul_transfer_done(worker *w, CURL *e, CURLcode cc, unit **out)
{
    void *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&priv);
    count_request(w, e, wrange_is_stream(priv) ? wrange_stream_unit(priv) :
                        segput_is_stream(priv) ? segput_stream_unit(priv) : priv);
    if (wrange_is_stream(priv)) {
        unit *lead = wrange_stream_done(w, priv, cc);
        *out = lead;
        return lead ? range_over(w, lead) : UNIT_RUNNING;
    }
    if (segput_is_stream(priv)) {
        unit *su = segput_stream_done(w, priv, cc);
        *out = su;
        return su ? seg_parts_over(w, su) : UNIT_RUNNING;
    }
    unit *u = priv;
    *out = u;
    long http = response_code(u->e);
    remove_transfer(w, u);
    if (u->range) return wrange_lead_done(w, u, cc, http) ? range_over(w, u) : UNIT_RUNNING;
    return transfer_over(w, u, cc, http);
}

/* put: the PUT was answered 2xx. The store checked the body against the
 * checksum sent; its ETag equal to the MD5 says it stored those bytes. A
 * file written to while it was sent is uploaded again. */
static void put_done(unit *u, wresult *r, long http)
{
    char err[HAUL_ERR_LEN];
    free(r->etag);
    r->etag = haul_strndup(haul_buf_str(&u->etag), u->etag.len);
    if (rfile_changed(&u->src, err)) {
        fail_key(u, http, err, 1);
        return;
    }
    haul_result_set(r, 1, http, NULL);
    r->verified = upload_same(u->src.size, r->md5, u->src.size, r->etag, u->etag.len)
                      ? HAUL_VERIFIED_MD5 : HAUL_VERIFIED_NONE;
}

/* Swift's answer to DELETE ?multipart-manifest=delete: 200 whatever
 * happened, the outcome in a JSON body. 1 with the key's result set to the
 * failure, 0 when the manifest and its segments are gone. */
static int slo_delete_failed(unit *u, long http)
{
    json_error_t je;
    json_t *o = json_loadb(haul_buf_str(&u->body), u->body.len, 0, &je);
    const char *st = o ? json_string_value(json_object_get(o, "Response Status")) : NULL;
    json_t *errs = o ? json_object_get(o, "Errors") : NULL;
    char why[HAUL_ERR_LEN];
    int failed = 1;
    if (!o || !st) {
        snprintf(why, sizeof why, "the answer to deleting the SLO with its segments is not the "
                 "JSON expected");
    } else if (strncmp(st, "200", 3) != 0 || json_array_size(errs) > 0) {
        json_t *e0 = json_array_get(errs, 0);
        snprintf(why, sizeof why, "deleting the SLO with its segments: %s, %zu error(s)%s%s%s%s", st,
                 json_array_size(errs), e0 ? ", the first: " : "",
                 e0 ? json_string_value(json_array_get(e0, 0)) ? json_string_value(json_array_get(e0, 0)) : "" : "",
                 e0 ? " " : "",
                 e0 ? json_string_value(json_array_get(e0, 1)) ? json_string_value(json_array_get(e0, 1)) : "" : "");
    } else {
        failed = 0;
    }
    if (failed) fail_key(u, http, why, st && !strncmp(st, "5", 1));
    json_decref(o);
    return failed;
}

/* delete: what HEAD said. Missing: a row, nothing to do; over Swift an
 * SLO: deleted with its segments (u->slo); else with the task's others in
 * one request (the first try of a task of several keys), or alone. */
static int delete_probe_done(worker *w, unit *u, long http)
{
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];
    if (http == 404) {
        store_error(u, http, NULL, 0, err);
        haul_result_set(r, 1, http, err);
        r->status = "missing";
        return UNIT_FINISHED;
    }
    if (http < 200 || http > 299) {
        store_error(u, http, NULL, 0, err);
        haul_result_fail(r, http, err, haul_store_transient(http) || http == 401);
        return UNIT_FINISHED;
    }
    const haul_task *t = &u->wt->t;
    u->slo_delete = t->conn.kind == HAUL_STORE_SWIFT && u->slo;
    int bulk = t->conn.kind == HAUL_STORE_S3 || (t->flags & HAUL_TASK_BULK);
    if (!u->slo_delete && bulk && t->nkeys > 1 && r->tries == 1) {
        r->bulk_pending = 1; /* deleted with the task's others (bulk_start) */
        return UNIT_FINISHED;
    }
    return start_step(w, u, STEP_REQUEST) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
}

/* put --skip-existing: what HEAD said of the key. The same size and MD5:
 * skipped; missing or different: PUT it (or, --dry-run, say it would). */
static int probe_done(worker *w, unit *u, long http)
{
    const haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];

    if (t->op == HAUL_OP_DELETE) return delete_probe_done(w, u, http);
    if (u->seg_ended) { /* the ETag of an upload in parts, which its end did not tell */
        if (http < 200 || http > 299) {
            store_error(u, http, NULL, 0, err);
            haul_result_fail(r, http, err, 1);
            return UNIT_FINISHED;
        }
        free(r->etag);
        r->etag = haul_strndup(haul_buf_str(&u->etag), u->etag.len);
        haul_result_set(r, 1, http, NULL);
        r->verified = strcasecmp(r->etag, segput_etag(u)) ? HAUL_VERIFIED_NONE : HAUL_VERIFIED_PARTS;
        if (r->verified == HAUL_VERIFIED_NONE)
            log_info("task %s key %zu: the store's ETag %s is not the expected %s", t->id, u->idx, r->etag,
                     segput_etag(u));
        return put_sidecar(w, u);
    }

    if (http != 404 && (http < 200 || http > 299)) {
        store_error(u, http, NULL, 0, err);
        haul_result_fail(r, http, err, haul_store_transient(http) ||
                         (http == 401 && t->conn.kind == HAUL_STORE_SWIFT));
        return UNIT_FINISHED;
    }
    int same = u->seg ? http != 404 && u->clen == u->src.size &&
                        !strcasecmp(haul_buf_str(&u->etag), segput_etag(u))
                      : http != 404 && upload_same(u->src.size, r->md5, u->clen, haul_buf_str(&u->etag),
                                                   u->etag.len);
    if (same) {
        haul_result_set(r, 1, http, NULL);
        r->status = "skipped";
        r->etag = haul_strndup(haul_buf_str(&u->etag), u->etag.len);
        r->verified = !u->seg ? HAUL_VERIFIED_MD5 : t->conn.kind == HAUL_STORE_S3 ? HAUL_VERIFIED_PARTS
                                                                               : HAUL_VERIFIED_SEGMENTS;
        return UNIT_FINISHED;
    }
    if (t->flags & HAUL_TASK_DRY_RUN) {
        haul_result_set(r, 1, http, NULL);
        r->status = "would-upload";
        return UNIT_FINISHED;
    }
    return start_step(w, u, put_first(u)) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
}

/* The DeleteObjects answer (or its failure) gives every key sent its row:
 * <Deleted> ok, <Error> its code and message, a key the answer does not
 * name an error worth another try (then deleted alone). The other keys
 * finish with it when the loop starts them again (release_bulk_keys). */
static int bulk_over(worker *w, unit *u, CURLcode cc, long http)
{
    const haul_task *t = &u->wt->t;
    char why[HAUL_ERR_LEN];
    int transient = 0;
    *why = '\0';
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "S3 POST %s?delete: %s", t->bucket, curl_easy_strerror(cc));
        transient = curl_transient(cc);
    } else if (http < 200 || http > 299) {
        haul_buf what = HAUL_BUF_INIT;
        haul_buf_printf(&what, "POST %s?delete", t->bucket);
        haul_store_error(&t->conn, what.p, http, u->side.p, u->side.len, why);
        haul_buf_free(&what);
        transient = haul_store_transient(http);
    }
    if (*why) {
        fail_key(u, http, why, transient);
        release_bulk_keys(w, u, 0, http, why, transient);
        return UNIT_FINISHED;
    }
    /* The keys sent, in order; each unknown until the answer names it. */
    size_t m = u->bulk_n, *ids = bulk_ids(u);
    for (size_t j = 0; j < m; j++)
        haul_result_fail(&u->wt->res[ids[j]], http, "S3 POST ?delete: the answer does not name this key", 1);
    const char *p = u->side.p ? u->side.p : "", *end = p + u->side.len;
    haul_buf key = HAUL_BUF_INIT, code = HAUL_BUF_INIT, msg = HAUL_BUF_INIT;
    size_t hint = 0;
    for (;;) {
        const char *d = memmem(p, (size_t)(end - p), "<Deleted>", 9);
        const char *e = memmem(p, (size_t)(end - p), "<Error>", 7);
        const char *at = d && (!e || d < e) ? d : e;
        if (!at) break;
        int ok = at == d;
        const char *stop = memmem(at, (size_t)(end - at), ok ? "</Deleted>" : "</Error>", ok ? 10 : 8);
        if (!stop) break;
        if (xmltext_field(at, stop, "Key", &key)) {
            /* Answers come in the order asked: look from the last found. */
            size_t found = (size_t)-1;
            for (size_t j = 0; j < m; j++) {
                size_t x = (hint + j) % m;
                if (!strcmp(t->keys[ids[x]], haul_buf_str(&key))) { found = x; break; }
            }
            if (found != (size_t)-1) {
                size_t i = ids[found];
                wresult *r = &u->wt->res[i];
                hint = (found + 1) % m;
                if (ok) {
                    haul_result_set(r, 1, http, NULL);
                } else {
                    xmltext_field(at, stop, "Code", &code);
                    xmltext_field(at, stop, "Message", &msg);
                    snprintf(why, sizeof why, "S3 DELETE %s/%s (in a DeleteObjects): %s%s%s", t->bucket,
                             t->keys[i], code.len ? haul_buf_str(&code) : "an error",
                             msg.len ? ": " : "", haul_buf_str(&msg));
                    haul_result_fail(r, http, why, !strcmp(haul_buf_str(&code), "InternalError") ||
                                     !strcmp(haul_buf_str(&code), "SlowDown"));
                }
            }
        }
        p = stop;
    }
    haul_buf_free(&key);
    haul_buf_free(&code);
    haul_buf_free(&msg);
    free(ids);
    release_bulk_keys(w, u, 1, http, NULL, 0);
    return UNIT_FINISHED;
}

/* Hand a bulk delete's other keys back to the loop: started again, they
 * finish at once (bulk_done) with the rows set already (ok) or failed with
 * err (transient: worth another attempt, alone). */
static void release_bulk_keys(worker *w, unit *u, int ok, long http, const char *err, int transient)
{
    wkey *k = u->bulk_keys;
    u->bulk_keys = NULL;
    while (k) {
        wkey *next = k->next;
        wresult *r = &k->wt->res[k->idx];
        w->deferred--;
        if (!ok) haul_result_fail(r, http, err, transient);
        r->ms = haul_mono_ms() - u->t0;
        r->bulk_done = 1;
        k->next = w->ready;
        w->ready = k;
        k = next;
    }
}

/* "/container/key" percent-decoded from a name in the bulk answer's
 * Errors, compared with the key's. */
static int bulk_name_is(const char *name, const char *bucket, const char *key)
{
    haul_buf want = HAUL_BUF_INIT, got = HAUL_BUF_INIT;
    haul_buf_printf(&want, "/%s/%s", bucket, key);
    for (const char *p = name; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = haul_hexval(p[1])) >= 0 && (lo = haul_hexval(p[2])) >= 0) {
            haul_buf_addc(&got, (char)(hi * 16 + lo));
            p += 2;
        } else {
            haul_buf_addc(&got, *p);
        }
    }
    int same = got.len == want.len && !memcmp(got.p, want.p, got.len);
    haul_buf_free(&want);
    haul_buf_free(&got);
    return same;
}

/* One key's row from the bulk answer: an error named in Errors, or ok when
 * the answer's counts account for every key (deleted, or already gone). */
static void bulk_row(const haul_task *t, size_t i, wresult *r, long http, json_t *errs, int counted)
{
    char why[HAUL_ERR_LEN];
    size_t j;
    json_t *e;
    json_array_foreach(errs, j, e) {
        const char *name = json_string_value(json_array_get(e, 0));
        const char *st = json_string_value(json_array_get(e, 1));
        if (!name || !st || !bulk_name_is(name, t->bucket, t->keys[i])) continue;
        snprintf(why, sizeof why, "Swift DELETE %s/%s (in a bulk delete): %.64s", t->bucket, t->keys[i], st);
        haul_redact(why);
        haul_result_fail(r, http, why, st[0] == '5' || !strncmp(st, "409", 3) || !strncmp(st, "401", 3));
        return;
    }
    if (counted) haul_result_set(r, 1, http, NULL);
    else haul_result_fail(r, http, "Swift POST ?bulk-delete: the answer does not account for this key", 1);
}

/* The answer to POST ?bulk-delete (200, its outcome in a JSON body, after
 * the spaces Swift sends while it works) gives every key its row. A failure
 * of the whole request fails them all, worth another attempt one by one. */
static int swift_bulk_over(worker *w, unit *u, CURLcode cc, long http)
{
    const haul_task *t = &u->wt->t;
    char why[HAUL_ERR_LEN] = "";
    json_t *o = NULL, *errs = NULL;
    json_int_t nd = 0, nf = 0;
    const char *st = NULL;
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "Swift POST ?bulk-delete: %s", curl_easy_strerror(cc));
    } else if (http < 200 || http > 299) {
        haul_store_error(&t->conn, "POST ?bulk-delete", http, u->side.p, u->side.len, why);
    } else {
        json_error_t je;
        o = json_loadb(haul_buf_str(&u->side), u->side.len, 0, &je);
        st = o ? json_string_value(json_object_get(o, "Response Status")) : NULL;
        errs = o ? json_object_get(o, "Errors") : NULL;
        json_t *jd = o ? json_object_get(o, "Number Deleted") : NULL;
        json_t *jf = o ? json_object_get(o, "Number Not Found") : NULL;
        if (!st || !json_is_array(errs) || !json_is_integer(jd) || !json_is_integer(jf)) {
            snprintf(why, sizeof why, "Swift POST ?bulk-delete: the answer is not the JSON expected");
        } else {
            nd = json_integer_value(jd);
            nf = json_integer_value(jf);
            if (st[0] != '2' && json_array_size(errs) == 0) {
                const char *body = json_string_value(json_object_get(o, "Response Body"));
                snprintf(why, sizeof why, "Swift POST ?bulk-delete: %.64s%s%.120s", st,
                         body && *body ? ": " : "", body ? body : "");
                haul_redact(why);
            }
        }
    }
    if (*why) {
        fail_key(u, http, why, 1);
        release_bulk_keys(w, u, 0, http, why, 1);
        json_decref(o);
        return UNIT_FINISHED;
    }
    /* Deleted + not found + errors = the keys sent: every key not named in
     * Errors is gone. Not found can only be a key deleted by someone else
     * between its HEAD and this request. */
    int counted = nd >= 0 && nf >= 0 && (size_t)(nd + nf) + json_array_size(errs) == u->bulk_n;
    if (nf > 0)
        log_info("task %s: %lld of the %zu keys of a bulk delete were gone before it (deleted "
                 "since their HEAD)", t->id, (long long)nf, u->bulk_n);
    size_t *ids = bulk_ids(u);
    for (size_t j = 0; j < u->bulk_n; j++) bulk_row(t, ids[j], &u->wt->res[ids[j]], http, errs, counted);
    free(ids);
    release_bulk_keys(w, u, 1, http, NULL, 0);
    json_decref(o);
    return UNIT_FINISHED;
}

/* A put's object is in: a zip's sidecar goes next. UNIT_*. */
static int put_sidecar(worker *w, unit *u)
{
    wresult *r = &u->wt->res[u->idx];
    if (!u->zip || !r->ok) return UNIT_FINISHED;
    return start_step(w, u, STEP_SIDECAR) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
}

/* The sidecar's PUT ended: the key's result is the zip's, or this failure
 * (worth another attempt, zip and all). */
static int sidecar_done(unit *u, CURLcode cc, long http)
{
    char why[HAUL_ERR_LEN];
    if (cc != CURLE_OK) {
        snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
        fail_key(u, http, why, curl_transient(cc));
    } else if (http < 200 || http > 299) {
        store_error(u, http, u->side.p, u->side.len, why);
        haul_result_fail(&u->wt->res[u->idx], http, why, haul_store_transient(http) || http == 401);
    }
    return UNIT_FINISHED;
}

/* ---- a put in parts: its control requests (segput.h) ---- */

/* Report the failure kept in u (u->werr, seg_http, seg_transient). */
static int seg_finish_failed(unit *u)
{
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];
    snprintf(err, sizeof err, "%s PUT %s/%s (in parts): %s", store_name(&u->wt->t), u->wt->t.bucket,
             u->wt->t.keys[u->idx], u->werr);
    haul_result_fail(r, u->seg_http, err, u->seg_transient);
    r->ms = haul_mono_ms() - u->t0;
    return UNIT_FINISHED;
}

/* The upload began and then failed: keep why, and abort it (S3) or delete
 * the segments sent (Swift) before saying so. */
static int seg_abort(worker *w, unit *u, long http, int transient, const char *why)
{
    snprintf(u->werr, sizeof u->werr, "%s", why);
    u->seg_http = http;
    u->seg_transient = transient;
    if (u->wt->t.conn.kind == HAUL_STORE_SWIFT && !(u->seg_arg = segput_next_uploaded(u)))
        return seg_finish_failed(u);
    return start_step(w, u, STEP_SEG_ABORT) == 0 ? UNIT_RUNNING : seg_finish_failed(u);
}

/* Every part is over. */
static int seg_parts_over(worker *w, unit *u)
{
    long http = 0;
    int transient = 0;
    char err[HAUL_ERR_LEN];
    if (!segput_parts_ok(u, &http, &transient, err)) return seg_abort(w, u, http, transient, err);
    if (start_step(w, u, STEP_SEG_END) < 0) {
        wresult *r = &u->wt->res[u->idx];
        return seg_abort(w, u, 0, 0, r->error ? r->error : "cannot end the upload");
    }
    return UNIT_RUNNING;
}

/* A control request of a put in parts ended (cc, http). */
static int seg_done(worker *w, unit *u, CURLcode cc, long http)
{
    const haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    int ok = cc == CURLE_OK && http >= 200 && http <= 299;
    char err[HAUL_ERR_LEN], why[HAUL_ERR_LEN], etag[80];
    haul_buf what = HAUL_BUF_INIT;

    if (cc != CURLE_OK) snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
    else if (!ok) {
        describe(u, &what);
        haul_store_error(&t->conn, what.p, http, u->side.p, u->side.len, why);
        haul_buf_free(&what);
    }
    switch (u->step) {
    case STEP_SEG_STALE:
        if (ok) segput_find_stale(u, haul_buf_str(&u->side), u->side.len);
        else log_info("task %s key %zu: cannot list the key's unfinished uploads (%s)", t->id, u->idx, why);
        /* abort the first, or begin */
        __attribute__((fallthrough));
    case STEP_SEG_DROP:
        if (u->step == STEP_SEG_DROP && ok)
            log_info("task %s key %zu: aborted an unfinished multipart upload of %s (an earlier attempt's)",
                     t->id, u->idx, t->keys[u->idx]);
        if ((u->seg_arg = segput_next_stale(u)))
            return start_step(w, u, STEP_SEG_DROP) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
        return start_step(w, u, STEP_SEG_BEGIN) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
    case STEP_SEG_BEGIN:
        if (ok && t->conn.kind == HAUL_STORE_S3 &&
            segput_set_upload_id(u, haul_buf_str(&u->side), u->side.len, why) < 0)
            ok = 0;
        if (!ok) {
            snprintf(err, sizeof err, "%s PUT %s/%s (in parts): %s", store_name(t), t->bucket,
                     t->keys[u->idx], why);
            haul_result_fail(r, http, err, cc != CURLE_OK ? curl_transient(cc) : haul_store_transient(http));
            return UNIT_FINISHED;
        }
        segput_start(w, u);
        return UNIT_RUNNING;
    case STEP_SEG_END:
        if (ok && t->conn.kind == HAUL_STORE_S3 &&
            segput_end_answer(haul_buf_str(&u->side), u->side.len, etag, why) < 0)
            ok = 0;
        if (!ok)
            return seg_abort(w, u, http, cc != CURLE_OK ? curl_transient(cc) : haul_store_transient(http), why);
        if (t->conn.kind == HAUL_STORE_SWIFT) snprintf(etag, sizeof etag, "%s", haul_buf_str(&u->etag));
        if (!etag[0] && !u->seg_ended) {
            /* Ceph RGW 16.2 ends a multipart upload with <ETag></ETag>:
             * ask the object itself. */
            u->seg_ended = 1;
            return start_step(w, u, STEP_PROBE) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
        }
        free(r->etag);
        r->etag = haul_strdup(etag);
        if (rfile_changed(&u->src, err)) {
            fail_key(u, http, err, 1);
            return UNIT_FINISHED;
        }
        haul_result_set(r, 1, http, NULL);
        r->verified = strcasecmp(etag, segput_etag(u)) ? HAUL_VERIFIED_NONE :
                      t->conn.kind == HAUL_STORE_S3 ? HAUL_VERIFIED_PARTS : HAUL_VERIFIED_SEGMENTS;
        if (r->verified == HAUL_VERIFIED_NONE)
            log_info("task %s key %zu: the store's ETag %s is not the expected %s", t->id, u->idx, etag,
                     segput_etag(u));
        return put_sidecar(w, u);
    case STEP_SEG_ABORT:
        if (!ok && http != 404)
            log_warn("task %s key %zu: cleaning up the parts of %s failed: %s", t->id, u->idx,
                     t->keys[u->idx], why);
        if (t->conn.kind == HAUL_STORE_SWIFT && (u->seg_arg = segput_next_uploaded(u)))
            return start_step(w, u, STEP_SEG_ABORT) == 0 ? UNIT_RUNNING : seg_finish_failed(u);
        return seg_finish_failed(u);
    default:
        return UNIT_FINISHED;
    }
}

static int transfer_over(worker *w, unit *u, CURLcode cc, long http)
{
    haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];
    int rc = UNIT_FINISHED;

    if (u->step == STEP_AUTH) {
        rc = auth_done(w, u, cc);
        goto out;
    }
    if (u->step >= STEP_SEG_STALE && u->step <= STEP_SEG_ABORT) {
        rc = seg_done(w, u, cc, http);
        goto out;
    }
    if (u->step == STEP_SIDECAR) {
        rc = sidecar_done(u, cc, http);
        goto out;
    }
    if (u->step == STEP_BULK) {
        rc = u->wt->t.conn.kind == HAUL_STORE_SWIFT ? swift_bulk_over(w, u, cc, http) : bulk_over(w, u, cc, http);
        goto out;
    }
    if (u->replan) {
        /* The body was stopped on purpose: learn how to verify it first. */
        unit_step s = u->replan;
        u->replan = 0;
        u->replans++;
        forget_body(u);
        rc = start_step(w, u, s) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
        goto out;
    }
    if (u->write_failed) {
        fail_key(u, http, u->werr, u->corrupt); /* a full disk will not be better soon */
        goto out;
    }
    if (cc != CURLE_OK && u->up && u->up->err[0]) {
        fail_key(u, http, u->up->err, 1); /* the file shrank while it was sent */
        goto out;
    }
    if (cc != CURLE_OK) {
        const char *url = NULL;
        curl_easy_getinfo(u->e, CURLINFO_EFFECTIVE_URL, &url);
        snprintf(err, sizeof err, "%s (%.*s)", curl_easy_strerror(cc),
                 url ? (int)strcspn(url, "?") : 0, url ? url : "");
        if (u->step != STEP_REQUEST && u->step != STEP_PROBE && !curl_transient(cc)) {
            rc = side_failed(w, u, err); /* a side request that cannot be made */
            goto out;
        }
        fail_key(u, http, err, curl_transient(cc));
        goto out;
    }
    if (http == 401 && t->conn.kind == HAUL_STORE_SWIFT && !u->auth_retried && !t->conn.swift.token) {
        /* The cached token expired (or was revoked): authenticate again, once. */
        u->auth_retried = 1;
        haul_buf_reset(&u->body);
        rc = start_step(w, u, u->step) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
        goto out;
    }
    if (u->step == STEP_PROBE) {
        rc = probe_done(w, u, http);
        goto out;
    }
    if (http == 404 && (t->op == HAUL_OP_DELETE || t->op == HAUL_OP_VERIFY)) {
        /* Nothing there: for delete, nothing to do (not a failure of the
         * job); for verify, what the manifest names is missing. */
        store_error(u, http, u->body.p, u->body.len, err);
        haul_result_set(r, t->op == HAUL_OP_DELETE, http, err);
        r->status = "missing";
        goto out;
    }
    if (u->step != STEP_REQUEST) {
        if ((http < 200 || http > 299) && u->step != STEP_PARTPROBE) {
            snprintf(err, sizeof err, "answered %ld", http); /* the store will not say */
            rc = side_failed(w, u, err);
            goto out;
        }
        rc = side_done(w, u, http);
        goto out;
    }
    if (http == 204 && t->conn.kind == HAUL_STORE_SWIFT &&
        (t->op == HAUL_OP_LIST || t->op == HAUL_OP_LIST_BUCKETS)) {
        /* An empty container or account: a last page of no rows. */
        memset(&u->page, 0, sizeof u->page);
        rc = UNIT_PAGE;
        goto out;
    }
    if (http < 200 || http > 299) {
        store_error(u, http, u->body.p, u->body.len, err);
        /* A 401 that survived re-authenticating is worth another attempt
         * later (tokens are revoked and issued asynchronously). */
        haul_result_fail(r, http, err, haul_store_transient(http) ||
                         (http == 401 && t->conn.kind == HAUL_STORE_SWIFT));
        if (t->op == HAUL_OP_LIST || t->op == HAUL_OP_LIST_BUCKETS) r->count = r->listed;
        goto out;
    }
    switch (t->op) {
    case HAUL_OP_SIDECAR:
    case HAUL_OP_GET: {
        haul_verified how = HAUL_VERIFIED_NONE;
        if (!u->planned) { /* an empty body: no byte called plan() */
            plan(w, u);
            u->replan = 0;
        }
        err[0] = '\0';
        if (u->ver && haul_verifier_final(u->ver, &how, err) < 0) {
            snprintf(u->werr, sizeof u->werr, "%s", err);
            if (t->conn.kind == HAUL_STORE_S3 && !u->listchecked &&
                haul_etag_parse(u->etag.p, u->etag.len, NULL, NULL) == HAUL_ETAG_MD5 &&
                t->op == HAUL_OP_GET) {
                /* Perhaps a Swift DLO read over S3: its listing entry tells. */
                u->listchecked = 1;
                rc = start_step(w, u, STEP_LISTCHECK) == 0 ? UNIT_RUNNING : UNIT_FINISHED;
                goto out;
            }
            fail_key(u, http, err, 1); /* corrupted on the way: fetch again */
            goto out;
        }
        if (u->ver && *err) log_debug("task %s key %zu: %s", t->id, u->idx, err);
        if (t->op == HAUL_OP_SIDECAR) {
            haul_buf_reset(&r->value);
            haul_buf_add(&r->value, haul_buf_str(&u->body), u->body.len);
            r->bytes = u->nbytes;
            r->verified = how;
            haul_result_set(r, 1, http, NULL);
            goto out;
        }
        rc = finish_get(w, u, http, how);
        goto out;
    }
    case HAUL_OP_HEAD:
        head_value(u, r);
        haul_result_set(r, 1, http, NULL);
        goto out;
    case HAUL_OP_PUT:
        put_done(u, r, http);
        rc = put_sidecar(w, u);
        goto out;
    case HAUL_OP_DELETE:
        if (u->slo_delete && slo_delete_failed(u, http)) {
            goto out;
        }
        haul_result_set(r, 1, http, NULL);
        if (t->flags & HAUL_TASK_DRY_RUN) {
            r->status = "would-delete";
            r->bytes = u->clen;
            r->etag = haul_strndup(haul_buf_str(&u->etag), u->etag.len);
        }
        goto out;
    case HAUL_OP_VERIFY: {
        int checked = 0;
        char why[HAUL_ERR_LEN];
        const char *etag = haul_buf_str(&u->etag);
        size_t etaglen = u->etag.len;
        r->bytes = u->clen;
        r->etag = haul_strndup(etag, etaglen);
        if (t->flags & HAUL_TASK_DEEP) {
            /* The bytes themselves: their size and MD5 stand for the ETag. */
            if (!u->deep) u->deep = upload_hash_new();
            if (!u->deep || upload_hash_final(u->deep, r->md5) < 0) {
                haul_result_fail(r, http, "cannot hash the body (OpenSSL offers no MD5)", 0);
                goto out;
            }
            r->bytes = u->nbytes;
            etag = r->md5;
            etaglen = 32;
        }
        /* A Swift SLO or DLO's ETag (plain hex too) is not the MD5 of its
         * bytes: only its size is compared, unless --deep hashed them. */
        int segmented = !(t->flags & HAUL_TASK_DEEP) && (u->slo || u->manifest_hdr.len);
        if (t->nexpect && upload_compare(t->sizes[u->idx], segmented ? "" : t->md5s[u->idx], r->bytes,
                                         etag, etaglen, &checked, why, sizeof why) < 0) {
            haul_result_set(r, 0, http, why);
            r->status = "mismatch";
            goto out;
        }
        haul_result_set(r, 1, http, NULL);
        r->verified = checked ? HAUL_VERIFIED_MD5 : HAUL_VERIFIED_NONE;
        goto out;
    }
    case HAUL_OP_LIST:
    case HAUL_OP_LIST_BUCKETS:
        haul_list_page_free(&u->page);
        if (haul_store_list_parse(&t->conn, t->op == HAUL_OP_LIST ? t->bucket : NULL,
                                  haul_buf_str(&u->body), u->body.len, HAUL_LIST_PAGE, &u->page, err) < 0) {
            haul_result_set(r, 0, http, err);
            r->count = r->listed;
            goto out;
        }
        if (!(u->page.truncated && u->page.next && u->page.n)) {
            free(u->page.next);
            u->page.next = NULL;
            u->page.truncated = 0;
        }
        rc = UNIT_PAGE; /* the loop has the broker commit the rows with the checkpoint */
        goto out;
    default:
        haul_result_set(r, 0, http, "unsupported operation");
    }
out:
    if (rc == UNIT_FINISHED) r->ms = haul_mono_ms() - u->t0;
    return rc;
}

int haul_unit_continue(worker *w, unit *u, int committed, const char *why)
{
    wresult *r = &u->wt->res[u->idx];
    int more = u->page.truncated && u->page.next;
    char *next = more ? haul_strdup(u->page.next) : NULL;
    haul_list_page_free(&u->page);
    if (!committed) {
        free(next);
        fail_key(u, 200, why, 1);
        r->count = r->listed;
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    u->list_count = r->listed;
    if (!more) {
        haul_result_set(r, 1, 200, NULL);
        r->count = r->listed;
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    free(u->list_next);
    u->list_next = next;
    if (start_step(w, u, STEP_REQUEST) < 0) {
        r->count = r->listed;
        r->ms = haul_mono_ms() - u->t0;
        return UNIT_FINISHED;
    }
    return UNIT_RUNNING;
}
