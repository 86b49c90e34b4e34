/* store.c -- S3 and Swift requests, Swift auth cache, error sentences. */
#include "store.h"
#include "log.h"
#include "queue.h"
#include "seal.h"
#include "task.h"

#include <ctype.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Headers carry credentials (X-Auth-Token, X-Auth-Key, Authorization):
 * wiped before they are freed. */
static void slist_free_wiped(struct curl_slist *l)
{
    for (struct curl_slist *i = l; i; i = i->next)
        if (i->data) haul_wipe(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

void haul_req_header(haul_req *r, const char *line)
{
    struct curl_slist *l = curl_slist_append(r->headers, line);
    if (!l) haul_oom();
    r->headers = l;
}

void haul_req_free(haul_req *r)
{
    if (!r) return;
    free(r->url);
    slist_free_wiped(r->headers);
    memset(r, 0, sizeof *r);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(l, b.p);
    haul_buf_free(&b);
    if (!n) { fprintf(stderr, "haul: out of memory\n"); abort(); }
    return n;
}

/* "http://host:port/x" -> scheme "http", authority "host:port" (default port dropped). */
static int split_endpoint(const char *ep, haul_buf *scheme, haul_buf *auth, haul_buf *base_path, char *err)
{
    const char *p = strstr(ep, "://");
    if (!p) {
        snprintf(err, HAUL_ERR_LEN, "endpoint '%s' has no scheme (expected http://host:port or https://host)", ep);
        return -1;
    }
    haul_buf_add(scheme, ep, (size_t)(p - ep));
    p += 3;
    const char *slash = strchr(p, '/');
    size_t alen = slash ? (size_t)(slash - p) : strlen(p);
    haul_buf_add(auth, p, alen);
    if (slash) {
        haul_buf_adds(base_path, slash);
        while (base_path->len && base_path->p[base_path->len - 1] == '/')
            base_path->p[--base_path->len] = '\0';
    }
    /* Host header as curl would send it: without a default port. */
    const char *colon = strrchr(auth->p, ':');
    if (colon && !strchr(colon, ']')) {
        if ((!strcmp(scheme->p, "http") && !strcmp(colon, ":80")) ||
            (!strcmp(scheme->p, "https") && !strcmp(colon, ":443"))) {
            auth->len = (size_t)(colon - auth->p);
            auth->p[auth->len] = '\0';
        }
    }
    if (!auth->len) {
        snprintf(err, HAUL_ERR_LEN, "endpoint '%s' has no host", ep);
        return -1;
    }
    return 0;
}

static int s3_request(const haul_conn *c, const char *method, const char *bucket,
                      const char *key, const haul_kv *q, size_t nq, const haul_kv *extra,
                      size_t nextra, haul_req *out, char *err)
{
    const haul_s3_conn *s = &c->s3;
    haul_buf scheme = HAUL_BUF_INIT, host = HAUL_BUF_INIT, base = HAUL_BUF_INIT;
    haul_buf path = HAUL_BUF_INIT, url = HAUL_BUF_INIT;
    haul_sigv4_out so;
    char date[17];
    int rc = -1;

    memset(&so, 0, sizeof so);
    if (split_endpoint(s->endpoint, &scheme, &host, &base, err) < 0) goto out;
    if (bucket && *bucket && !s->path_style) {
        /* Virtual-host style: the bucket becomes part of the host name. */
        haul_buf vh = HAUL_BUF_INIT;
        haul_buf_printf(&vh, "%s.%s", bucket, host.p);
        haul_buf_free(&host);
        host = vh;
        bucket = NULL;
    }
    haul_buf_add(&path, base.p ? base.p : "", base.len);
    haul_buf_addc(&path, '/');
    if (bucket && *bucket) {
        haul_buf_adds(&path, bucket);
        if (key) haul_buf_addc(&path, '/');
    }
    if (key) haul_buf_adds(&path, key);

    haul_amz_date((long long)time(NULL), date);
    /* A body (PUT) is not hashed before it is sent: its Content-MD5, among
     * the signed headers, is what the store checks it against. */
    const char *payload = strcmp(method, "PUT") && strcmp(method, "POST") ? EMPTY_SHA256
                                                                          : "UNSIGNED-PAYLOAD";
    haul_kv hdrs[4 + HAUL_REQ_EXTRA_MAX];
    size_t nh = 0;
    if (nextra > HAUL_REQ_EXTRA_MAX) {
        snprintf(err, HAUL_ERR_LEN, "%zu extra headers, limit %d", nextra, HAUL_REQ_EXTRA_MAX);
        goto out;
    }
    hdrs[nh++] = (haul_kv){"host", host.p};
    hdrs[nh++] = (haul_kv){"x-amz-content-sha256", payload};
    hdrs[nh++] = (haul_kv){"x-amz-date", date};
    if (s->session_token && *s->session_token)
        hdrs[nh++] = (haul_kv){"x-amz-security-token", s->session_token};
    for (size_t i = 0; i < nextra; i++) hdrs[nh++] = extra[i];
    haul_sigv4_req r = {
        .method = method, .path = path.p, .query = q, .nquery = nq,
        .headers = hdrs, .nheaders = nh, .payload_hash = payload,
        .amz_date = date, .region = s->region, .service = "s3",
        .access_key = s->access_key, .secret_key = s->secret_key,
        .flags = HAUL_SIGV4_S3,
    };
    if (haul_sigv4_sign(&r, &so, err) < 0) goto out;
    haul_buf_printf(&url, "%s://%s%s", scheme.p, host.p, so.url_path);
    if (so.url_query && *so.url_query) haul_buf_printf(&url, "?%s", so.url_query);
    out->url = haul_buf_detach(&url);
    for (size_t i = 0; i < nh; i++) out->headers = add_header(out->headers, hdrs[i].k, hdrs[i].v);
    out->headers = add_header(out->headers, "Authorization", so.authorization);
    rc = 0;
out:
    haul_sigv4_out_free(&so);
    haul_buf_free(&scheme); haul_buf_free(&host); haul_buf_free(&base);
    haul_buf_free(&path); haul_buf_free(&url);
    return rc;
}

static int swift_request(const char *token, const char *storage_url,
                         const char *bucket, const char *key, const haul_kv *q, size_t nq,
                         const haul_kv *extra, size_t nextra, haul_req *out, char *err)
{
    haul_buf url = HAUL_BUF_INIT;
    if (!token || !storage_url) {
        snprintf(err, HAUL_ERR_LEN, "Swift request without a token (internal error)");
        return -1;
    }
    haul_buf_adds(&url, storage_url);
    while (url.len && url.p[url.len - 1] == '/') url.p[--url.len] = '\0';
    if (bucket && *bucket) {
        haul_buf_addc(&url, '/');
        haul_uri_encode(&url, bucket, strlen(bucket), 0);
        if (key) {
            haul_buf_addc(&url, '/');
            haul_uri_encode(&url, key, strlen(key), 1);
        }
    }
    for (size_t i = 0; i < nq; i++) {
        haul_buf_addc(&url, i ? '&' : '?');
        haul_uri_encode(&url, q[i].k, strlen(q[i].k), 0);
        haul_buf_addc(&url, '=');
        haul_uri_encode(&url, q[i].v, strlen(q[i].v), 0);
    }
    out->url = haul_buf_detach(&url);
    out->headers = add_header(NULL, "X-Auth-Token", token);
    for (size_t i = 0; i < nextra; i++) out->headers = add_header(out->headers, extra[i].k, extra[i].v);
    return 0;
}

int haul_store_request_hdrs(const haul_conn *c, const char *token, const char *storage_url,
                            const char *method, const char *bucket, const char *key,
                            const haul_kv *q, size_t nq, const haul_kv *extra, size_t nextra,
                            haul_req *out, char *err)
{
    static const char *const methods[] = {"GET", "HEAD", "PUT", "DELETE", "POST"};
    int rc = -1;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(method, methods[i])) out->method = methods[i];
    if (!out->method) {
        snprintf(err, HAUL_ERR_LEN, "HTTP method '%s' not supported", method);
        return -1;
    }
    for (size_t i = 0; i < nextra; i++)
        if (strpbrk(extra[i].k, "\r\n:") || strpbrk(extra[i].v, "\r\n")) {
            snprintf(err, HAUL_ERR_LEN, "header '%.64s' holds CR, LF or ':' (internal error)", extra[i].k);
            return -1;
        }
    if (c->kind == HAUL_STORE_S3)
        rc = s3_request(c, out->method, bucket, key, q, nq, extra, nextra, out, err);
    else if (c->kind == HAUL_STORE_SWIFT)
        rc = swift_request(token, storage_url, bucket, key, q, nq, extra, nextra, out, err);
    else
        snprintf(err, HAUL_ERR_LEN, "no store kind set (use --s3 ENDPOINT or --swift)");
    if (rc == 0) out->head = out->method == methods[1];
    return rc;
}

int haul_store_request(const haul_conn *c, const char *token, const char *storage_url,
                       const char *method, const char *bucket, const char *key,
                       const haul_kv *q, size_t nq, haul_req *out, char *err)
{
    return haul_store_request_hdrs(c, token, storage_url, method, bucket, key, q, nq, NULL, 0,
                                   out, err);
}

void haul_store_setup(CURL *e, const haul_conn *c, const haul_req *r)
{
    /* Only HTTP(S), for the request and any redirect (none is followed), so
     * no URL -- from a task, or a storage URL from an auth answer -- can make
     * curl speak gopher, dict, file or another protocol to anything. The
     * path goes out exactly as built: a key holding "/../" names that key,
     * not another object. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_NOBODY, r->head ? 1L : 0L);
    if (r->method && !strcmp(r->method, "PUT")) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L); /* the caller sets the body's reader and size */
    } else if (r->method && !strcmp(r->method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
    } else if (!r->head) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (r->method && !strcmp(r->method, "DELETE"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* No overall timeout (bodies may be large); a transfer slower than
     * 1 byte/s for 60 s is stalled and fails. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
    if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
}

/* ---- Swift auth v1.0 and the per-process token cache ---------------- */

/* An entry is found by comparing the credentials themselves: this runs
 * before every Swift request, so no hashing or formatting on the way. The
 * key is held as every task already holds it, and wiped when dropped. */
typedef struct swift_entry {
    char *auth_url, *user, *key;
    char *token, *storage_url;
    long long authed_ms;  /* haul_mono_ms() when the token was obtained */
} swift_entry;

#define SWIFT_CACHE 32
static swift_entry cache[SWIFT_CACHE];
static size_t ncache;

static void entry_free(swift_entry *e)
{
    free(e->auth_url); free(e->user);
    haul_free_secret(e->key);
    haul_free_secret(e->token);
    free(e->storage_url);
    memset(e, 0, sizeof *e);
}

void haul_swift_cache_clear(void)
{
    for (size_t i = 0; i < ncache; i++) entry_free(&cache[i]);
    ncache = 0;
}

int haul_header_split(const char *line, size_t len, size_t *nlen, const char **v, size_t *vlen)
{
    const char *colon = memchr(line, ':', len);
    if (!colon) return 0;
    const char *b = colon + 1, *end = line + len;
    while (b < end && (*b == ' ' || *b == '\t')) b++;
    while (end > b && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    *nlen = (size_t)(colon - line);
    *v = b;
    *vlen = (size_t)(end - b);
    return 1;
}

int haul_swift_auth_header(const char *line, size_t len, haul_buf *token, haul_buf *url)
{
    size_t nlen, vlen;
    const char *v;
    if (!haul_header_split(line, len, &nlen, &v, &vlen)) return 0;
    const char *end = v + vlen;
    haul_buf *dst = NULL;
    if (nlen == 12 && strncasecmp(line, "X-Auth-Token", 12) == 0) dst = token;
    else if (nlen == 13 && strncasecmp(line, "X-Storage-Url", 13) == 0) dst = url;
    if (!dst) return 0;
    /* A token or URL is one header line of printable text; anything else
     * (control bytes, NUL, absurd length) is refused, not stored. */
    if (end - v > HAUL_STR_MAX) return -1;
    for (const char *c = v; c < end; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return -1;
    haul_buf_reset(dst);
    haul_buf_add(dst, v, (size_t)(end - v));
    return 1;
}

static size_t body_cb(char *p, size_t sz, size_t n, void *ud)
{
    haul_buf *b = ud;
    if (b->len < (4u << 20)) haul_buf_add(b, p, sz * n); /* error bodies only: bounded */
    return sz * n;
}

/* The blocking requests of one process (Swift auth, listings) share their
 * connections: a Swift listing right after the auth reuses the auth's
 * connection instead of paying a new handshake. The processes are single-
 * threaded, so the share needs no lock functions. */
static void blocking_share(CURL *e)
{
    static CURLSH *share;
    if (!share && (share = curl_share_init()) != NULL)
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    if (share) curl_easy_setopt(e, CURLOPT_SHARE, share);
}

static CURL *blocking_handle(void)
{
    CURL *e = curl_easy_init();
    if (!e) { fprintf(stderr, "haul: out of memory\n"); abort(); }
    blocking_share(e);
    return e;
}

/* The cache entry of c's credentials, or NULL. */
static swift_entry *cache_find(const haul_swift_conn *s)
{
    for (size_t i = 0; i < ncache; i++)
        if (!strcmp(cache[i].user, s->user) && !strcmp(cache[i].auth_url, s->auth_url) &&
            !strcmp(cache[i].key, s->key))
            return &cache[i];
    return NULL;
}

int haul_swift_cached(const haul_conn *c, long long refresh_before, const char **token,
                      const char **storage_url)
{
    const haul_swift_conn *s = &c->swift;
    if (s->token && *s->token) {
        *token = s->token;
        *storage_url = s->storage_url;
        return 1;
    }
    swift_entry *ent = cache_find(s);
    if (!ent || ent->authed_ms < refresh_before) return 0;
    *token = ent->token;
    *storage_url = ent->storage_url;
    return 1;
}

int haul_swift_auth_request(const haul_conn *c, haul_req *out, char *err)
{
    const haul_swift_conn *s = &c->swift;
    memset(out, 0, sizeof *out);
    if (!s->auth_url || !s->user || !s->key) {
        snprintf(err, HAUL_ERR_LEN, "Swift auth without credentials (internal error)");
        return -1;
    }
    out->url = haul_strdup(s->auth_url);
    out->headers = add_header(NULL, "X-Auth-User", s->user);
    out->headers = add_header(out->headers, "X-Auth-Key", s->key);
    return 0;
}

size_t haul_swift_auth_header_cb(char *line, size_t sz, size_t n, void *ud)
{
    haul_swift_auth *a = ud;
    if (haul_swift_auth_header(line, sz * n, &a->token, &a->url) < 0) a->bad = 1;
    return sz * n;
}

void haul_swift_auth_reset(haul_swift_auth *a)
{
    haul_seal_buf_wipe(&a->token);
    haul_buf_free(&a->url);
    a->bad = 0;
}

/* A storage URL is where every later request of these credentials goes, with
 * the token: it must be plain HTTP(S) to a host, nothing else. */
static int storage_url_ok(const char *u)
{
    size_t skip = strncasecmp(u, "http://", 7) == 0 ? 7 : strncasecmp(u, "https://", 8) == 0 ? 8 : 0;
    return skip && u[skip] && u[skip] != '/';
}

int haul_swift_auth_finish(const haul_conn *c, CURLcode cc, long http, haul_swift_auth *a,
                           int refresh, const char **token, const char **storage_url,
                           char *err)
{
    const haul_swift_conn *s = &c->swift;
    if (cc != CURLE_OK) {
        snprintf(err, HAUL_ERR_LEN, "Swift auth at %s as %s: %s (check ST_AUTH / --auth-url)",
                 s->auth_url, s->user, curl_easy_strerror(cc));
        return -1;
    }
    if (http == 401 || http == 403) {
        snprintf(err, HAUL_ERR_LEN, "Swift auth at %s as %s: %ld %s (check the user and key: ST_USER/ST_KEY or --user/--key)",
                 s->auth_url, s->user, http, http == 401 ? "Unauthorized" : "Forbidden");
        return -1;
    }
    if (http < 200 || http > 299 || !a->token.len || !a->url.len || a->bad) {
        snprintf(err, HAUL_ERR_LEN, "Swift auth at %s as %s: HTTP %ld without X-Auth-Token/X-Storage-Url (is this an auth v1.0 URL?)",
                 s->auth_url, s->user, http);
        return -1;
    }
    if (!storage_url_ok(a->url.p)) {
        snprintf(err, HAUL_ERR_LEN, "Swift auth at %s as %s: the answer's storage URL '%.80s' is not "
                 "http:// or https:// to a host: refusing it (is this auth server the store's?)",
                 s->auth_url, s->user, a->url.p);
        return -1;
    }
    haul_log_secret(a->token.p);
    swift_entry *ent = cache_find(s);
    if (!ent) {
        if (ncache == SWIFT_CACHE) { /* full: forget the oldest */
            entry_free(&cache[0]);
            memmove(cache, cache + 1, sizeof cache[0] * (SWIFT_CACHE - 1));
            ncache--;
        }
        ent = &cache[ncache++];
        ent->auth_url = haul_strdup(s->auth_url);
        ent->user = haul_strdup(s->user);
        ent->key = haul_strdup(s->key);
    } else {
        haul_free_secret(ent->token);
        free(ent->storage_url);
    }
    ent->authed_ms = haul_mono_ms();
    ent->token = haul_buf_detach(&a->token);
    ent->storage_url = haul_buf_detach(&a->url);
    *token = ent->token;
    *storage_url = ent->storage_url;
    if (refresh)
        log_info("swift: token for %s refused with 401; authenticated again", s->user);
    else
        log_debug("swift: authenticated as %s at %s", s->user, s->auth_url);
    return 0;
}

int haul_swift_session(const haul_conn *c, long long refresh_before, const char **token,
                       const char **storage_url, long *http, char *err)
{
    *http = 0;
    if (haul_swift_cached(c, refresh_before, token, storage_url)) return 0;

    CURL *e = blocking_handle();
    haul_swift_auth a = {HAUL_BUF_INIT, HAUL_BUF_INIT, 0};
    haul_buf body = HAUL_BUF_INIT;
    haul_req r;
    int rc = -1;
    if (haul_swift_auth_request(c, &r, err) < 0) goto out;
    haul_store_setup(e, c, &r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, haul_swift_auth_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)HAUL_SWIFT_AUTH_TIMEOUT_S);
    CURLcode cc = curl_easy_perform(e);
    if (cc == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, http);
    rc = haul_swift_auth_finish(c, cc, *http, &a, refresh_before != 0, token, storage_url, err);
out:
    curl_easy_cleanup(e);
    haul_req_free(&r);
    haul_swift_auth_reset(&a);
    haul_buf_free(&body);
    return rc;
}

int haul_swift_bulk_max(const haul_conn *c, long long *max, char *why_none, char *err)
{
    const char *token, *surl;
    long http = 0;
    *max = 0;
    *why_none = '\0';
    if (haul_swift_session(c, 0, &token, &surl, &http, err) < 0) return -1;
    /* /info beside the API's /v1: "http://host:port/v1/AUTH_x" ->
     * "http://host:port/info" (where python-swiftclient asks it), and RGW's
     * "http://host:port/swift/v1" -> "http://host:port/swift/info"; without
     * a /v1 in the path, at the root of the host. */
    const char *host = strstr(surl, "://");
    const char *path = host ? strchr(host + 3, '/') : NULL, *cut = path;
    for (const char *p = path; p && (p = strstr(p, "/v1")) != NULL; p += 3)
        if (p[3] == '/' || p[3] == '\0') { cut = p; break; }
    haul_buf url = HAUL_BUF_INIT, body = HAUL_BUF_INIT;
    haul_buf_add(&url, surl, cut ? (size_t)(cut - surl) : strlen(surl));
    haul_buf_adds(&url, "/info");
    CURL *e = blocking_handle();
    haul_req r = {0};
    r.url = url.p;
    r.method = "GET";
    haul_store_setup(e, c, &r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)HAUL_SWIFT_AUTH_TIMEOUT_S);
    CURLcode cc = curl_easy_perform(e);
    if (cc == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    json_error_t je;
    json_t *o = cc == CURLE_OK && http == 200 ? json_loadb(haul_buf_str(&body), body.len, 0, &je) : NULL;
    json_t *bd = o ? json_object_get(o, "bulk_delete") : NULL;
    json_t *mx = bd ? json_object_get(bd, "max_deletes_per_request") : NULL;
    if (cc != CURLE_OK)
        snprintf(why_none, HAUL_ERR_LEN, "GET /info: %s", curl_easy_strerror(cc));
    else if (http != 200)
        snprintf(why_none, HAUL_ERR_LEN, "GET /info: HTTP %ld", http);
    else if (!json_is_object(o))
        snprintf(why_none, HAUL_ERR_LEN, "GET /info: not a JSON object");
    else if (!json_is_object(bd))
        snprintf(why_none, HAUL_ERR_LEN, "its /info has no bulk_delete");
    else
        *max = json_is_integer(mx) && json_integer_value(mx) > 0 ? json_integer_value(mx) : 10000;
    json_decref(o);
    curl_easy_cleanup(e);
    haul_buf_free(&url);
    haul_buf_free(&body);
    return 0;
}

/* ---- errors ---------------------------------------------------------- */

static const char *s3_hint(const char *code, long http)
{
    if (!strcmp(code, "SignatureDoesNotMatch")) return "check the secret key and region";
    if (!strcmp(code, "InvalidAccessKeyId")) return "check the access key";
    if (!strcmp(code, "AccessDenied")) return "these credentials may not read it";
    if (!strcmp(code, "NoSuchBucket")) return "check the bucket name, and that it belongs to these credentials' account";
    if (!strcmp(code, "AuthorizationHeaderMalformed")) return "check the region";
    if (!strcmp(code, "RequestTimeTooSkewed")) return "check this host's clock";
    if (!strcmp(code, "QuotaExceeded")) return "the bucket's or the user's quota is full";
    if (!strcmp(code, "EntityTooLarge")) return "larger than the store takes in one object, or over a quota";
    if (!*code && http == 403) return "check the access key, secret key and region";
    return NULL;
}

/* The words of a Swift error body ("Upload exceeds quota.", or the text of
 * its HTML page) as one short line of printable ASCII: tags dropped,
 * blanks folded. The body is the store's, not trusted: nothing else of it
 * reaches a sentence. */
static void swift_words(const char *body, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int tag = 0, blank = 0;
    if (n > 4096) n = 4096;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch == '<') { tag = 1; blank = 1; continue; }
        if (tag) { if (ch == '>') tag = 0; continue; }
        if (ch < 0x21 || ch > 0x7e) { blank = 1; continue; }
        if (blank && o) out[o++] = ' ';
        blank = 0;
        if (o + 1 < cap) out[o++] = (char)ch;
    }
    out[o] = '\0';
}

void haul_store_error(const haul_conn *c, const char *what, long http,
                      const char *body, size_t n, char *err)
{
    const char *reason = http == 400 ? "Bad Request" : http == 401 ? "Unauthorized" :
        http == 403 ? "Forbidden" : http == 404 ? "Not Found" : http == 413 ? "Request Entity Too Large" :
        http == 429 ? "Too Many Requests" :
        http == 500 ? "Internal Server Error" : http == 502 ? "Bad Gateway" :
        http == 503 ? "Service Unavailable" : http == 504 ? "Gateway Timeout" : "HTTP error";
    if (c->kind == HAUL_STORE_S3) {
        char code[64] = "", msg[160] = "";
        if (body && n) haul_s3_parse_error(body, n, code, sizeof code, msg, sizeof msg);
        const char *hint = s3_hint(code, http);
        snprintf(err, HAUL_ERR_LEN, "S3 %s: %ld %s%s%s%s", what, http, *code ? code : reason,
                 hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    } else {
        const char *hint = http == 401 ? "check the user and key, ST_USER and ST_KEY, or the token" :
            http == 403 ? "this account may not read it" :
            http == 413 ? "a quota of the container or the account is full, or the object is larger "
                          "than the store takes" : NULL;
        /* The store's own words, when they say more than the status (a
         * quota's "Upload exceeds quota."). */
        char words[128] = "";
        if (body && n && http >= 400 && http < 500 && http != 401 && http != 404)
            swift_words(body, n, words, sizeof words);
        if (!strcasecmp(words, reason)) words[0] = '\0';
        snprintf(err, HAUL_ERR_LEN, "Swift %s: %ld %s%s%s%s%s%s", what, http, reason,
                 *words ? ": " : "", words, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    }
    haul_redact(err);
}

int haul_store_transient(long http)
{
    return http == 0 || http == 408 || http == 429 || http == 500 || http == 502 ||
           http == 503 || http == 504;
}

/* ---- blocking helpers ------------------------------------------------ */

int haul_store_perform(CURL *e, const haul_conn *c, const haul_req *r,
                       haul_buf *body, long *http, char *err)
{
    haul_buf_reset(body);
    curl_easy_reset(e);     /* forgets the share: set it again */
    blocking_share(e);
    haul_store_setup(e, c, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    CURLcode cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        char desc[256];
        haul_conn_describe(c, desc, sizeof desc);
        snprintf(err, HAUL_ERR_LEN, "cannot reach the store (%s): %s", desc, curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, http);
    return 0;
}

int haul_store_list_request(const haul_conn *c, const char *token, const char *storage_url,
                            const char *bucket, const char *prefix, const char *next,
                            long long page_size, haul_req *out, char *err)
{
    char lim[32];
    haul_kv q[6];
    size_t nq = 0;
    snprintf(lim, sizeof lim, "%lld", page_size);
    if (c->kind == HAUL_STORE_S3) {
        if (bucket) {
            q[nq++] = (haul_kv){"list-type", "2"};
            q[nq++] = (haul_kv){"max-keys", lim};
            q[nq++] = (haul_kv){"encoding-type", "url"};
            if (prefix && *prefix) q[nq++] = (haul_kv){"prefix", prefix};
            if (next) q[nq++] = (haul_kv){"continuation-token", next};
        }
    } else {
        q[nq++] = (haul_kv){"format", "json"};
        q[nq++] = (haul_kv){"limit", lim};
        if (bucket && prefix && *prefix) q[nq++] = (haul_kv){"prefix", prefix};
        if (next) q[nq++] = (haul_kv){"marker", next};
    }
    return haul_store_request(c, token, storage_url, "GET", bucket, NULL, q, nq, out, err);
}

int haul_store_list_parse(const haul_conn *c, const char *bucket, const char *body, size_t n,
                          long long page_size, haul_list_page *page, char *err)
{
    if (c->kind == HAUL_STORE_S3)
        return bucket ? haul_s3_parse_list_v2(body, n, page, err)
                      : haul_s3_parse_buckets(body, n, page, err);
    return bucket ? haul_swift_parse_list(body, n, (size_t)page_size, page, err)
                  : haul_swift_parse_account(body, n, (size_t)page_size, page, err);
}

int haul_store_list(const haul_conn *c, const char *bucket, const char *prefix,
                    long long limit, haul_list_cb cb, void *ud, char *err)
{
    CURL *e = blocking_handle();
    haul_buf body = HAUL_BUF_INIT, what = HAUL_BUF_INIT;
    char *next = NULL;
    long long seen = 0, sent = 0;
    int rc = -1, reauthed = 0;

    if (!e) { fprintf(stderr, "haul: out of memory\n"); abort(); }
    haul_buf_printf(&what, "list %s", bucket ? bucket : "(account)");
    for (;;) {
        const char *token = NULL, *surl = NULL;
        long http = 0;
        haul_req r;
        haul_list_page page;
        long long psize = HAUL_LIST_PAGE;
        if (limit > 0 && limit - seen < psize) psize = limit - seen;
        if (c->kind == HAUL_STORE_SWIFT &&
            haul_swift_session(c, 0, &token, &surl, &http, err) < 0) goto out;
        sent = haul_mono_ms();
        if (haul_store_list_request(c, token, surl, bucket, prefix, next, psize, &r, err) < 0) goto out;
        int prc = haul_store_perform(e, c, &r, &body, &http, err);
        haul_req_free(&r);
        if (prc < 0) goto out;
        if (http == 401 && c->kind == HAUL_STORE_SWIFT && !reauthed && !c->swift.token) {
            reauthed = 1; /* the cached token expired: authenticate once more */
            if (haul_swift_session(c, sent + 1, &token, &surl, &http, err) < 0) goto out;
            continue;
        }
        if (http == 204 && c->kind == HAUL_STORE_SWIFT) break; /* empty container */
        if (http < 200 || http > 299) {
            haul_store_error(c, what.p, http, body.p, body.len, err);
            goto out;
        }
        if (haul_store_list_parse(c, bucket, body.p ? body.p : "", body.len, psize, &page, err) < 0) goto out;
        for (size_t i = 0; i < page.n; i++) {
            seen++;
            if (cb(ud, &page.v[i]) || (limit > 0 && seen >= limit)) {
                haul_list_page_free(&page);
                rc = 0;
                goto out;
            }
        }
        free(next);
        next = page.truncated && page.next ? haul_strdup(page.next) : NULL;
        haul_list_page_free(&page);
        if (!next) break;
    }
    rc = 0;
out:
    free(next);
    haul_buf_free(&body);
    haul_buf_free(&what);
    curl_easy_cleanup(e);
    return rc;
}

/* ---- the endpoint allowlist ------------------------------------------ */

/* One pattern "host[:port]" against a URL's host and port. The host part is
 * a shell glob (fnmatch, case-insensitive: "*.example.org"); without a port
 * any port matches. An IPv6 host is written in brackets ("[::1]:8080"). */
static int pattern_matches(const char *pat, size_t n, const char *host, long port)
{
    char buf[300], *p = buf;
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, pat, n);
    buf[n] = '\0';
    char *colon = NULL;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close) return 0;
        if (close[1] == ':') colon = close + 1;
        else if (close[1]) return 0;
    } else {
        colon = strrchr(buf, ':');
    }
    if (colon) {
        char *end;
        long want = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || want != port) return 0;
        *colon = '\0';
    }
    /* An IPv6 address is compared as it is: its brackets are not a glob. */
    if (p[0] == '[') return strcasecmp(p, host) == 0;
    /* Host names are case-insensitive: compare both in lower case (fnmatch's
     * FNM_CASEFOLD is a GNU extension). */
    char h[300];
    size_t hn = strlen(host);
    if (hn >= sizeof h) return 0;
    for (size_t i = 0; i <= hn; i++) h[i] = (char)tolower((unsigned char)host[i]);
    for (char *c = p; *c; c++) *c = (char)tolower((unsigned char)*c);
    return fnmatch(p, h, 0) == 0;
}

int haul_url_allowed(const char *url, const char *patterns, char *err)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int ok = 0;
    if (!u) { fprintf(stderr, "haul: out of memory\n"); abort(); }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(err, HAUL_ERR_LEN, "cannot tell the host of URL '%.100s'", url);
        goto out;
    }
    if (!patterns || !*patterns) { ok = 1; goto out; }
    long p = strtol(port, NULL, 10);
    for (const char *s = patterns; *s;) {
        size_t n = strcspn(s, ", ");
        if (pattern_matches(s, n, host, p)) { ok = 1; goto out; }
        s += n;
        s += strspn(s, ", ");
    }
    snprintf(err, HAUL_ERR_LEN, "%s:%s is not an endpoint this worker may contact "
             "(--allow-endpoint %s)", host, port, patterns);
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}
