/* ops.c -- the worker's operations, one key at a time, on curl easy handles
 * driven by the main loop's multi handle.
 *
 * Each key's life here: haul_unit_start() builds the request (or answers at
 * once: a sidecar op on a key without a sidecar suffix makes no request), the
 * main loop runs the transfer, and haul_unit_done() turns the response into
 * the key's result -- or starts another transfer for the same key: the next
 * page of a listing, or a retry after re-authenticating to Swift once on 401. */
#include "worker.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

#define ERROR_BODY_MAX (64u << 10)   /* bytes of an error response kept for its message */
#define LIST_BODY_MAX  (64u << 20)   /* one listing page */

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

void haul_result_set(wresult *r, int ok, long http, const char *error)
{
    r->done = 1;
    r->transient = 0;
    r->ok = ok;
    r->http = http;
    free(r->error);
    r->error = error ? haul_strdup(error) : NULL;
}

void haul_unit_reset(unit *u)
{
    haul_req_free(&u->req);
    haul_buf_free(&u->body);
    haul_buf_free(&u->etag);
    haul_buf_free(&u->ctype);
    haul_buf_free(&u->lastmod);
    haul_buf_free(&u->meta);
    if (u->f) fclose(u->f);
    u->f = NULL;
    if (u->tmp) unlink(u->tmp);
    free(u->tmp); u->tmp = NULL;
    free(u->path); u->path = NULL;
    if (u->md5) EVP_MD_CTX_free(u->md5);
    u->md5 = NULL;
    free(u->list_next); u->list_next = NULL;
    u->clen = -1;
    u->nbytes = 0;
    u->write_failed = 0;
    u->werr[0] = '\0';
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return b <= a && memcmp(s + a - b, suf, b) == 0;
}

static long response_code(CURL *e)
{
    long http = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    return http;
}

/* mkdir -p of every parent directory of path. */
static int make_parents(const char *path, char *err)
{
    char *p = haul_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            snprintf(err, HAUL_ERR_LEN, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

/* A key becomes a path under out_dir only if it cannot climb out of it. */
static int safe_key_path(const char *key)
{
    if (!*key || key[0] == '/') return 0;
    for (const char *s = key; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.')) return 0;
        s += n;
        if (*s == '/') s++;
    }
    return 1;
}

/* Past max_inline, a GET body goes to <out_dir>/<key> (via a temporary name,
 * renamed once complete and verified). */
static int spill_open(unit *u)
{
    const haul_task *t = &u->wt->t;
    const char *key = t->keys[u->idx];
    haul_buf p = HAUL_BUF_INIT;
    if (!t->out_dir || !*t->out_dir) {
        snprintf(u->werr, sizeof u->werr,
                 "body is larger than --max-inline (%llu bytes) and no --out-dir was given",
                 (unsigned long long)t->max_inline);
        return -1;
    }
    if (!safe_key_path(key)) {
        snprintf(u->werr, sizeof u->werr, "key '%s' cannot be written under --out-dir (absolute path or '..' segment)", key);
        return -1;
    }
    haul_buf_printf(&p, "%s/%s", t->out_dir, key);
    u->path = haul_buf_detach(&p);
    haul_buf_printf(&p, "%s.haul-part-%d", u->path, (int)getpid());
    u->tmp = haul_buf_detach(&p);
    /* The directories usually exist already: create them only when needed. */
    u->f = fopen(u->tmp, "wb");
    if (!u->f && errno == ENOENT) {
        if (make_parents(u->tmp, u->werr) < 0) return -1;
        u->f = fopen(u->tmp, "wb");
    }
    if (!u->f) {
        snprintf(u->werr, sizeof u->werr, "cannot write %s: %s", u->tmp, strerror(errno));
        free(u->tmp); u->tmp = NULL;
        return -1;
    }
    if (u->body.len && fwrite(u->body.p, 1, u->body.len, u->f) != u->body.len) {
        snprintf(u->werr, sizeof u->werr, "cannot write %s: %s", u->tmp, strerror(errno));
        return -1;
    }
    haul_buf_free(&u->body);
    return 0;
}

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
    unit *u = ud;
    const haul_task *t = &u->wt->t;
    size_t len = sz * n;
    long http = response_code(u->e);

    if (http < 200 || http > 299) { /* an error document: keep its start for the message */
        if (u->body.len < ERROR_BODY_MAX) haul_buf_add(&u->body, p, len);
        return len;
    }
    u->nbytes += (long long)len;
    if (u->md5) EVP_DigestUpdate(u->md5, p, len);
    if (u->f) {
        if (fwrite(p, 1, len, u->f) != len) {
            snprintf(u->werr, sizeof u->werr, "cannot write %s: %s", u->tmp, strerror(errno));
            goto fail;
        }
        return len;
    }
    if (t->op == HAUL_OP_GET && u->body.len + len > t->max_inline) {
        if (spill_open(u) < 0) goto fail;
        if (fwrite(p, 1, len, u->f) != len) {
            snprintf(u->werr, sizeof u->werr, "cannot write %s: %s", u->tmp, strerror(errno));
            goto fail;
        }
        return len;
    }
    if (t->op == HAUL_OP_SIDECAR && u->body.len + len > t->max_inline) {
        snprintf(u->werr, sizeof u->werr, "sidecar is larger than --max-inline (%llu bytes)",
                 (unsigned long long)t->max_inline);
        goto fail;
    }
    if (u->body.len + len > LIST_BODY_MAX) {
        snprintf(u->werr, sizeof u->werr, "response larger than %u bytes", LIST_BODY_MAX);
        goto fail;
    }
    haul_buf_add(&u->body, p, len);
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
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response: forget the last one's */
        haul_buf_reset(&u->etag); haul_buf_reset(&u->ctype);
        haul_buf_reset(&u->lastmod); haul_buf_reset(&u->meta);
        u->clen = -1;
        return len;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon) return len;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t vlen = (size_t)(end - v);
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(line, h, nlen) == 0)
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

/* Build and add the transfer for the current state of u. 0 started, -1 with
 * the key's result set to the error. */
static int launch(worker *w, unit *u)
{
    haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    const char *key = t->keys[u->idx];
    const char *token = NULL, *surl = NULL;
    char err[HAUL_ERR_LEN];
    long http = 0;
    int rc;

    haul_req_free(&u->req);
    if (t->conn.kind == HAUL_STORE_SWIFT) {
        /* After a 401, the token is renewed only if no other key renewed it
         * since this one's request went out: many transfers see the same
         * expired token at once. */
        long long before = u->auth_retried ? u->sent_ms + 1 : 0;
        int rc2 = haul_swift_session(&t->conn, before, &token, &surl, &http, err);
        if (rc2 < 0) { /* unreachable auth or a 5xx: retry; a refused key: not */
            haul_result_fail(r, http, err, haul_store_transient(http));
            return -1;
        }
    }
    u->sent_ms = haul_mono_ms();
    switch (t->op) {
    case HAUL_OP_LIST:
        rc = haul_store_list_request(&t->conn, token, surl, t->bucket, key, u->list_next,
                                     HAUL_LIST_PAGE, &u->req, err);
        break;
    case HAUL_OP_LIST_BUCKETS:
        rc = haul_store_list_request(&t->conn, token, surl, NULL, NULL, u->list_next,
                                     HAUL_LIST_PAGE, &u->req, err);
        break;
    case HAUL_OP_SIDECAR: {
        haul_buf k = HAUL_BUF_INIT;
        haul_buf_printf(&k, "%s%s", key, t->sidecar_ext ? t->sidecar_ext : ".metadata");
        rc = haul_store_request(&t->conn, token, surl, "GET", t->bucket, k.p, NULL, 0, &u->req, err);
        haul_buf_free(&k);
        break;
    }
    case HAUL_OP_HEAD:
        rc = haul_store_request(&t->conn, token, surl, "HEAD", t->bucket, key, NULL, 0, &u->req, err);
        break;
    case HAUL_OP_GET:
        rc = haul_store_request(&t->conn, token, surl, "GET", t->bucket, key, NULL, 0, &u->req, err);
        if (rc == 0 && !u->md5) {
            u->md5 = EVP_MD_CTX_new();
            if (!u->md5 || !EVP_DigestInit_ex(u->md5, EVP_md5(), NULL)) {
                EVP_MD_CTX_free(u->md5);
                u->md5 = NULL; /* no MD5 available (FIPS): verification is skipped */
            }
        }
        break;
    default:
        snprintf(err, sizeof err, "operation %s is not supported", haul_op_str(t->op));
        rc = -1;
    }
    if (rc < 0) {
        haul_result_set(r, 0, 0, err);
        return -1;
    }
    curl_easy_reset(u->e);
    haul_store_setup(u->e, &t->conn, &u->req);
    curl_easy_setopt(u->e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(u->e, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(u->e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(u->e, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(u->e, CURLOPT_PRIVATE, u);
    if (curl_multi_add_handle(w->multi, u->e) != CURLM_OK) {
        haul_result_set(r, 0, 0, "cannot start a transfer (curl_multi_add_handle failed)");
        return -1;
    }
    w->running++;
    return 0;
}

int haul_unit_start(worker *w, unit *u)
{
    haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    const char *key = t->keys[u->idx];

    haul_unit_reset(u);
    u->t0 = haul_mono_ms();
    u->auth_retried = 0;
    r->tries++;
    r->bytes = -1;
    r->count = -1;
    /* A retried listing resumes after the last page it wrote. */
    u->list_count = r->listed;
    if (r->resume) u->list_next = haul_strdup(r->resume);
    if (t->op == HAUL_OP_SIDECAR) {
        int match = 0;
        for (size_t i = 0; i < t->nsuffixes && !match; i++) match = ends_with(key, t->suffixes[i]);
        if (!t->nsuffixes) match = ends_with(key, ".zip");
        if (!match) { /* the notebook's rule: no sidecar, empty value, no request */
            haul_result_set(r, 1, 0, NULL);
            r->ms = 0;
            return 1;
        }
    }
    return launch(w, u) == 0 ? 0 : 1;
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
    default:
        haul_buf_printf(what, "GET %s/%s", t->bucket, key); break;
    }
}

/* Compare the body's MD5 with a single-part ETag (32 hex digits): 1 it
 * matched, 0 nothing to compare, -1 a mismatch (err). */
static int md5_check(unit *u, char *err)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (!u->md5 || u->etag.len != 32 || strspn(u->etag.p, "0123456789abcdefABCDEF") != 32)
        return 0; /* multipart ETag ("...-N") or none: nothing to check against */
    if (!EVP_DigestFinal_ex(u->md5, d, &dn)) return 0;
    for (unsigned i = 0; i < dn; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    if (strcasecmp(hex, u->etag.p) != 0) {
        snprintf(err, HAUL_ERR_LEN, "MD5 mismatch: body %s, ETag %s (the download is corrupt)", hex, u->etag.p);
        return -1;
    }
    return 1;
}

static void head_value(unit *u, wresult *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "size", u->clen >= 0 ? json_integer(u->clen) : json_null());
    json_object_set_new(o, "etag", json_stringn(u->etag.p ? u->etag.p : "", u->etag.len));
    json_object_set_new(o, "last_modified", json_stringn(u->lastmod.p ? u->lastmod.p : "", u->lastmod.len));
    json_object_set_new(o, "content_type", json_stringn(u->ctype.p ? u->ctype.p : "", u->ctype.len));
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

int haul_unit_done(worker *w, unit *u, CURLcode cc)
{
    haul_task *t = &u->wt->t;
    wresult *r = &u->wt->res[u->idx];
    char err[HAUL_ERR_LEN];
    haul_buf what = HAUL_BUF_INIT;
    long http = response_code(u->e);

    w->running--;
    describe(u, &what);
    if (u->f && fflush(u->f) != 0 && !u->write_failed) {
        snprintf(u->werr, sizeof u->werr, "cannot write %s: %s", u->tmp, strerror(errno));
        u->write_failed = 1;
    }
    if (u->write_failed) {
        snprintf(err, sizeof err, "%s %s: %s", t->conn.kind == HAUL_STORE_S3 ? "S3" : "Swift", what.p, u->werr);
        haul_result_fail(r, http, err, 0);
        goto finished;
    }
    if (cc != CURLE_OK) {
        const char *url = NULL;
        curl_easy_getinfo(u->e, CURLINFO_EFFECTIVE_URL, &url);
        snprintf(err, sizeof err, "%s %s: %s (%.*s)", t->conn.kind == HAUL_STORE_S3 ? "S3" : "Swift",
                 what.p, curl_easy_strerror(cc), url ? (int)strcspn(url, "?") : 0, url ? url : "");
        haul_result_fail(r, http, err, curl_transient(cc));
        goto finished;
    }
    if (http == 401 && t->conn.kind == HAUL_STORE_SWIFT && !u->auth_retried && !t->conn.swift.token) {
        /* The cached token expired (or was revoked): authenticate again, once. */
        u->auth_retried = 1;
        haul_buf_reset(&u->body);
        haul_buf_free(&what);
        return launch(w, u) == 0 ? 1 : 0;
    }
    if (http == 204 && t->conn.kind == HAUL_STORE_SWIFT &&
        (t->op == HAUL_OP_LIST || t->op == HAUL_OP_LIST_BUCKETS)) {
        haul_result_set(r, 1, http, NULL); /* empty container or account */
        r->count = u->list_count;
        goto finished;
    }
    if (http < 200 || http > 299) {
        haul_store_error(&t->conn, what.p, http, u->body.p, u->body.len, err);
        /* A 401 that survived re-authenticating is worth another attempt
         * later (tokens are revoked and issued asynchronously). */
        haul_result_fail(r, http, err, haul_store_transient(http) ||
                         (http == 401 && t->conn.kind == HAUL_STORE_SWIFT));
        goto finished;
    }
    switch (t->op) {
    case HAUL_OP_SIDECAR:
        haul_buf_reset(&r->value);
        haul_buf_add(&r->value, haul_buf_str(&u->body), u->body.len);
        r->bytes = u->nbytes;
        haul_result_set(r, 1, http, NULL);
        break;
    case HAUL_OP_GET:
        r->bytes = u->nbytes;
        {
            int mc = md5_check(u, err);
            if (mc < 0) {
                haul_result_fail(r, http, err, 1); /* corrupted on the way: fetch again */
                break;
            }
            r->verified = mc == 1 ? "md5" : NULL;
        }
        if (u->f) {
            int bad = fclose(u->f) != 0;
            u->f = NULL;
            if (bad || rename(u->tmp, u->path) < 0) {
                snprintf(err, sizeof err, "%s: cannot write %s: %s", what.p, u->path, strerror(errno));
                haul_result_set(r, 0, http, err);
                break;
            }
            free(u->tmp); u->tmp = NULL;
            free(r->path);
            r->path = u->path;
            u->path = NULL;
        } else {
            haul_buf_reset(&r->value);
            haul_buf_add(&r->value, haul_buf_str(&u->body), u->body.len);
        }
        haul_result_set(r, 1, http, NULL);
        break;
    case HAUL_OP_HEAD:
        head_value(u, r);
        haul_result_set(r, 1, http, NULL);
        break;
    case HAUL_OP_LIST:
    case HAUL_OP_LIST_BUCKETS: {
        haul_list_page page;
        if (haul_store_list_parse(&t->conn, t->op == HAUL_OP_LIST ? t->bucket : NULL,
                                  haul_buf_str(&u->body), u->body.len, HAUL_LIST_PAGE, &page, err) < 0) {
            haul_result_set(r, 0, http, err);
            break;
        }
        for (size_t i = 0; i < page.n; i++) haul_emit_list_row(w, u->wt, u->idx, &page.v[i]);
        u->list_count += (long long)page.n;
        r->listed = u->list_count;
        if (page.truncated && page.next && page.n) {
            free(u->list_next);
            u->list_next = haul_strdup(page.next);
            free(r->resume);
            r->resume = haul_strdup(page.next);
            haul_list_page_free(&page);
            haul_buf_reset(&u->body);
            haul_buf_free(&what);
            return launch(w, u) == 0 ? 1 : 0;
        }
        haul_list_page_free(&page);
        r->count = u->list_count;
        haul_result_set(r, 1, http, NULL);
        break;
    }
    default:
        haul_result_set(r, 0, http, "unsupported operation");
    }
finished:
    r->ms = haul_mono_ms() - u->t0;
    haul_buf_free(&what);
    return 0;
}
