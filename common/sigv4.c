/* sigv4.c -- AWS Signature Version 4 signing with OpenSSL's EVP and HMAC.
 *
 * The steps follow AWS's description of the algorithm:
 *   1. canonical request = method, canonical URI, canonical query, canonical
 *      headers, signed header names and payload hash, one per line;
 *   2. string to sign = algorithm, timestamp, credential scope and the hex
 *      SHA-256 of the canonical request;
 *   3. signing key = HMAC chain over "AWS4"+secret, date, region, service,
 *      "aws4_request"; signature = hex HMAC(signing key, string to sign).
 * Only step 1 has choices in it, and those are where S3 and the other
 * services differ (see sigv4.h). */
#include "sigv4.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---- small helpers ------------------------------------------------------ */

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, HAUL_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* libcrypto fails here only when it cannot allocate, so this is haul's
 * out-of-memory policy: say so and abort. */
static void crypto_fail(const char *what)
{
    fprintf(stderr, "haul: libcrypto failed computing %s\n", what);
    abort();
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_space(unsigned char c) { return c == ' ' || c == '\t'; }
static unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

static int unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 9110 token characters: what a method or a header name may contain. */
static int is_token(const char *s)
{
    if (!*s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_alpha(*p) && !is_digit(*p) && !strchr("!#$%&'*+-.^_`|~", *p)) return 0;
    return 1;
}

/* ASCII case-insensitive equality with a lowercase literal. */
static int name_is(const char *name, const char *lit)
{
    for (; *name && *lit; name++, lit++)
        if (lower((unsigned char)*name) != (unsigned char)*lit) return 0;
    return *name == *lit;
}

/* v with leading and trailing blanks ignored equals s exactly. */
static int trimmed_equals(const char *v, const char *s)
{
    while (is_space((unsigned char)*v)) v++;
    size_t n = strlen(v);
    while (n && is_space((unsigned char)v[n - 1])) n--;
    return n == strlen(s) && memcmp(v, s, n) == 0;
}

/* SigV4's "trimall": drop leading and trailing blanks, squeeze inner runs of
 * blanks into one space. Returns a new string. */
static char *trim_all(const char *v)
{
    haul_buf b = HAUL_BUF_INIT;
    int gap = 0;
    haul_buf_add(&b, "", 0);
    for (const char *p = v; *p; p++) {
        if (is_space((unsigned char)*p)) {
            gap = b.len > 0;
            continue;
        }
        if (gap) haul_buf_addc(&b, ' ');
        gap = 0;
        haul_buf_addc(&b, *p);
    }
    return haul_buf_detach(&b);
}

static char *lower_dup(const char *s)
{
    char *d = haul_strdup(s);
    for (char *p = d; *p; p++) *p = (char)lower((unsigned char)*p);
    return d;
}

/* ---- public primitives -------------------------------------------------- */

void haul_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(p ? p : "", n, md, &len, EVP_sha256(), NULL) || len != 32)
        crypto_fail("SHA-256");
    to_hex(md, 32, out);
}

void haul_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                      unsigned char out[32])
{
    unsigned int len = 0;
    if (klen > INT_MAX) crypto_fail("HMAC-SHA256 (key longer than INT_MAX)");
    if (!HMAC(EVP_sha256(), key ? key : "", (int)klen,
              (const unsigned char *)(msg ? msg : ""), mlen, out, &len) || len != 32)
        crypto_fail("HMAC-SHA256");
}

void haul_uri_encode(haul_buf *out, const char *s, size_t n, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    haul_buf_add(out, "", 0); /* out->p is a string even when n == 0 */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            haul_buf_addc(out, (char)c);
        } else {
            char e[3] = { '%', digits[c >> 4], digits[c & 15] };
            haul_buf_add(out, e, 3);
        }
    }
}

/* Writes v as exactly width decimal digits. */
static void put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void haul_amz_date(long long unix_time, char out[17])
{
    /* Days to civil date, proleptic Gregorian (H. Hinnant's algorithm), so
     * the answer does not depend on time_t's width or the C library. */
    const long long max = 253402300799LL; /* 9999-12-31T23:59:59Z */
    long long t = unix_time < 0 ? 0 : unix_time > max ? max : unix_time;
    long long days = t / 86400, secs = t % 86400;
    long long z = days + 719468;
    long long era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    unsigned y = (unsigned)(yoe + era * 400) + (m <= 2);

    put_digits(out, y, 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, (unsigned)(secs / 3600), 2);
    put_digits(out + 11, (unsigned)(secs / 60 % 60), 2);
    put_digits(out + 13, (unsigned)(secs % 60), 2);
    out[15] = 'Z';
    out[16] = '\0';
}

/* ---- validation ----------------------------------------------------------- */

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

static int valid_amz_date(const char *s)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !is_digit((unsigned char)s[i])) return 0;
    int mo = num(s + 4, 2), d = num(s + 6, 2);
    int h = num(s + 9, 2), mi = num(s + 11, 2), se = num(s + 13, 2);
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && se <= 60;
}

static int valid_payload_hash(const char *s)
{
    if (strcmp(s, UNSIGNED_PAYLOAD) == 0) return 1;
    if (strlen(s) != 64) return 0;
    for (const char *p = s; *p; p++)
        if (!is_digit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f')) return 0;
    return 1;
}

/* A credential scope part: it sits between '/' in the scope and in the
 * Authorization header, so it may not contain '/', ',', blanks or controls. */
static int valid_scope_part(const char *s)
{
    if (!*s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == ',' || *p == '=') return 0;
    return 1;
}

/* Everything that can be wrong with a request, checked before anything is
 * allocated. Messages quote what the caller passed, except the keys. */
static int check_request(const haul_sigv4_req *r, char *err)
{
    if (!r->method || !r->path || !r->payload_hash || !r->amz_date || !r->region ||
        !r->service || !r->access_key || !r->secret_key)
        return fail(err, "SigV4: the request to sign lacks its %s",
                    !r->method ? "method" : !r->path ? "path" :
                    !r->payload_hash ? "payload hash" : !r->amz_date ? "amz_date" :
                    !r->region ? "region" : !r->service ? "service" :
                    !r->access_key ? "access key" : "secret key");
    if (r->flags & ~HAUL_SIGV4_S3)
        return fail(err, "SigV4: unknown flags 0x%x", (unsigned)r->flags);
    if (!is_token(r->method))
        return fail(err, "SigV4: method \"%.32s\" is not an HTTP method name", r->method);
    if (r->path[0] != '/')
        return fail(err, "SigV4: path \"%.64s\" must start with '/'", r->path);
    if (!valid_amz_date(r->amz_date))
        return fail(err, "SigV4: amz_date \"%.32s\" is not a UTC time of the form "
                    "YYYYMMDDTHHMMSSZ (see haul_amz_date())", r->amz_date);
    if (!valid_payload_hash(r->payload_hash))
        return fail(err, "SigV4: payload hash \"%.70s\" is neither 64 lowercase hex digits "
                    "nor UNSIGNED-PAYLOAD", r->payload_hash);
    if (!valid_scope_part(r->region))
        return fail(err, "SigV4: region \"%.64s\" is empty or contains '/', ',', '=' or blanks",
                    r->region);
    if (!valid_scope_part(r->service))
        return fail(err, "SigV4: service \"%.64s\" is empty or contains '/', ',', '=' or blanks",
                    r->service);
    if (!valid_scope_part(r->access_key))
        return fail(err, "SigV4: the access key is empty or contains '/', ',', '=' or blanks");
    if (!r->secret_key[0])
        return fail(err, "SigV4: the secret key is empty");
    if (r->nquery && !r->query)
        return fail(err, "SigV4: %zu query parameters announced but the array is NULL",
                    r->nquery);
    if (r->nheaders && !r->headers)
        return fail(err, "SigV4: %zu headers announced but the array is NULL", r->nheaders);

    int date_in_query = 0;
    for (size_t i = 0; i < r->nquery; i++) {
        const haul_kv *q = &r->query[i];
        if (!q->k || !q->v)
            return fail(err, "SigV4: query parameter %zu has a NULL %s", i,
                        !q->k ? "name" : "value");
        if (!q->k[0])
            return fail(err, "SigV4: query parameter %zu has an empty name", i);
        if (strcmp(q->k, "X-Amz-Date") == 0) {
            if (strcmp(q->v, r->amz_date) != 0)
                return fail(err, "SigV4: query parameter X-Amz-Date \"%.32s\" differs from "
                            "amz_date %s", q->v, r->amz_date);
            date_in_query = 1;
        }
    }

    int host = 0, date = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const haul_kv *h = &r->headers[i];
        if (!h->k || !h->v)
            return fail(err, "SigV4: header %zu has a NULL %s", i, !h->k ? "name" : "value");
        if (!is_token(h->k))
            return fail(err, "SigV4: header name \"%.64s\" is empty or not an HTTP token", h->k);
        if (strpbrk(h->v, "\r\n"))
            return fail(err, "SigV4: the value of header %.64s contains a line break", h->k);
        if (name_is(h->k, "authorization"))
            return fail(err, "SigV4: the Authorization header cannot sign itself; leave it out");
        if (name_is(h->k, "host")) {
            host = 1;
        } else if (name_is(h->k, "x-amz-date")) {
            if (!trimmed_equals(h->v, r->amz_date))
                return fail(err, "SigV4: header x-amz-date \"%.32s\" differs from amz_date %s",
                            h->v, r->amz_date);
            date = 1;
        } else if (name_is(h->k, "x-amz-content-sha256")) {
            if (!trimmed_equals(h->v, r->payload_hash))
                return fail(err, "SigV4: header x-amz-content-sha256 \"%.70s\" differs from "
                            "the payload hash %s", h->v, r->payload_hash);
        }
    }
    if (!host)
        return fail(err, "SigV4: the host header must be among the headers to sign");
    if (!date && !date_in_query)
        return fail(err, "SigV4: sign an x-amz-date header (value %s) so the server knows "
                    "the signing time", r->amz_date);
    return 0;
}

/* ---- canonical parts ------------------------------------------------------ */

/* RFC 3986 5.2.4 dot-segment removal plus dropping empty segments, as the
 * generic SigV4 rules want: "//example//" -> "/example/", "/a/b/.." -> "/a/".
 * A trailing '/' survives when the path ended in '/', "." or "..". */
static void normalize_path(haul_buf *out, const char *path)
{
    size_t nseg = 1;
    for (const char *p = path; *p; p++) nseg += *p == '/';
    const char **seg = haul_malloc(nseg * sizeof *seg);
    size_t *len = haul_malloc(nseg * sizeof *len);
    size_t n = 0;
    int trailing = 0;

    const char *p = path + 1; /* path[0] == '/' */
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int dot = l == 1 && p[0] == '.', dotdot = l == 2 && p[0] == '.' && p[1] == '.';
        if (dotdot) {
            if (n) n--;
        } else if (l && !dot) {
            seg[n] = p;
            len[n] = l;
            n++;
        }
        trailing = l == 0 || dot || dotdot;
        if (!e) break;
        p = e + 1;
    }

    haul_buf_addc(out, '/');
    for (size_t i = 0; i < n; i++) {
        if (i) haul_buf_addc(out, '/');
        haul_buf_add(out, seg[i], len[i]);
    }
    if (n && trailing) haul_buf_addc(out, '/');
    free(seg);
    free(len);
}

typedef struct pair {
    char *k, *v;      /* encoded query name/value, or lowercased header name/trimmed value */
    size_t idx;       /* position in the caller's array, to keep duplicates in order */
} pair;

static int query_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static int header_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void free_pairs(pair *p, size_t n)
{
    if (!p) return;
    for (size_t i = 0; i < n; i++) {
        free(p[i].k);
        free(p[i].v);
    }
    free(p);
}

/* Canonical query: names and values encoded (nothing kept, not even '/'),
 * sorted by name then value, "k=v" joined with '&'. The same string is the
 * URL's query, so the server sees exactly what was signed. */
static void canonical_query(haul_buf *out, const haul_kv *q, size_t n)
{
    pair *p = haul_calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        haul_buf k = HAUL_BUF_INIT, v = HAUL_BUF_INIT;
        haul_uri_encode(&k, q[i].k, strlen(q[i].k), 0);
        haul_uri_encode(&v, q[i].v, strlen(q[i].v), 0);
        p[i].k = haul_buf_detach(&k);
        p[i].v = haul_buf_detach(&v);
        p[i].idx = i;
    }
    qsort(p, n, sizeof *p, query_cmp);
    haul_buf_add(out, "", 0);
    for (size_t i = 0; i < n; i++)
        haul_buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].k, p[i].v);
    free_pairs(p, n);
}

/* Canonical headers ("name:value\n" each, one line per distinct name with
 * repeated names' values joined by ',' in the order given) and the signed
 * header list ("a;b;c"). */
static void canonical_headers(haul_buf *lines, haul_buf *names, const haul_kv *h, size_t n)
{
    pair *p = haul_calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        p[i].k = lower_dup(h[i].k);
        p[i].v = trim_all(h[i].v);
        p[i].idx = i;
    }
    qsort(p, n, sizeof *p, header_cmp);
    haul_buf_add(lines, "", 0);
    haul_buf_add(names, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(p[i].k, p[i - 1].k) == 0) {
            haul_buf_printf(lines, ",%s", p[i].v);
            continue;
        }
        if (i) haul_buf_adds(lines, "\n");
        haul_buf_printf(lines, "%s:%s", p[i].k, p[i].v);
        haul_buf_printf(names, "%s%s", names->len ? ";" : "", p[i].k);
    }
    if (n) haul_buf_adds(lines, "\n");
    free_pairs(p, n);
}

/* ---- signing -------------------------------------------------------------- */

/* The signing key depends on the secret, the day, the region and the
 * service only: derived once (four HMACs, about 6 us) and kept, for a few
 * credentials at once. An entry is found by the SHA-256 of those four (the
 * secret itself is not kept); its key is wiped when the entry is reused and
 * by haul_sigv4_cache_clear(). */
#define KEY_CACHE 4
static struct {
    unsigned char id[32], key[32];
    unsigned long long last;  /* 0: empty */
} key_cache[KEY_CACHE];
static unsigned long long key_clock;
static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;

/* 1 with the key of entry id in out, else 0. */
static int cache_find(const unsigned char id[32], unsigned char out[32])
{
    int found = 0;
    pthread_mutex_lock(&key_mu);
    for (int i = 0; i < KEY_CACHE && !found; i++) {
        if (key_cache[i].last && CRYPTO_memcmp(key_cache[i].id, id, 32) == 0) {
            memcpy(out, key_cache[i].key, 32);
            key_cache[i].last = ++key_clock;
            found = 1;
        }
    }
    pthread_mutex_unlock(&key_mu);
    return found;
}

static void signing_key(const char *secret, const char *date8, const char *region, const char *service,
                        unsigned char out[32])
{
    unsigned char id[32], k1[32], k2[32];
    unsigned int len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c, secret, strlen(secret) + 1) || !EVP_DigestUpdate(c, date8, 9) ||
        !EVP_DigestUpdate(c, region, strlen(region) + 1) || !EVP_DigestUpdate(c, service, strlen(service) + 1) ||
        !EVP_DigestFinal_ex(c, id, &len) || len != 32)
        crypto_fail("SHA-256");
    EVP_MD_CTX_free(c);

    if (cache_find(id, out)) return;

    haul_buf s = HAUL_BUF_INIT;
    haul_buf_adds(&s, "AWS4");
    haul_buf_adds(&s, secret);
    haul_hmac_sha256(s.p, s.len, date8, 8, k1);
    haul_hmac_sha256(k1, 32, region, strlen(region), k2);
    haul_hmac_sha256(k2, 32, service, strlen(service), k1);
    haul_hmac_sha256(k1, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(s.p, s.cap);
    haul_buf_free(&s);

    pthread_mutex_lock(&key_mu);
    int victim = 0; /* the least recently used (the cache is small) */
    for (int i = 1; i < KEY_CACHE; i++)
        if (key_cache[i].last < key_cache[victim].last) victim = i;
    memcpy(key_cache[victim].id, id, 32);
    memcpy(key_cache[victim].key, out, 32);
    key_cache[victim].last = ++key_clock;
    pthread_mutex_unlock(&key_mu);
}

void haul_sigv4_cache_clear(void)
{
    pthread_mutex_lock(&key_mu);
    OPENSSL_cleanse(key_cache, sizeof key_cache);
    key_clock = 0;
    pthread_mutex_unlock(&key_mu);
}

int haul_sigv4_sign(const haul_sigv4_req *r, haul_sigv4_out *out, char *err)
{
    haul_buf norm = HAUL_BUF_INIT, url_path = HAUL_BUF_INIT, uri = HAUL_BUF_INIT;
    haul_buf query = HAUL_BUF_INIT, hdrs = HAUL_BUF_INIT, names = HAUL_BUF_INIT;
    haul_buf creq = HAUL_BUF_INIT, sts = HAUL_BUF_INIT;
    haul_buf auth = HAUL_BUF_INIT;
    unsigned char key[32], sig[32];
    char creq_hash[65], date8[9];

    if (out) memset(out, 0, sizeof *out);
    if (!r || !out) return fail(err, "SigV4: no request or no output to sign into");
    if (check_request(r, err) < 0) return -1;
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';

    /* Canonical URI, and the path to put in the URL. S3 signs the key exactly
     * as sent, encoded once. Other services normalise the path and then
     * encode the already-encoded wire path a second time. */
    if (r->flags & HAUL_SIGV4_S3) {
        haul_uri_encode(&url_path, r->path, strlen(r->path), 1);
        haul_buf_add(&uri, url_path.p, url_path.len);
    } else {
        normalize_path(&norm, r->path);
        haul_uri_encode(&url_path, norm.p, norm.len, 1);
        haul_uri_encode(&uri, url_path.p, url_path.len, 1);
    }
    canonical_query(&query, r->query, r->nquery);
    canonical_headers(&hdrs, &names, r->headers, r->nheaders);

    haul_buf_printf(&creq, "%s\n%s\n%s\n%s\n%s\n%s", r->method, uri.p, query.p, hdrs.p,
                    names.p, r->payload_hash);
    haul_sha256_hex(creq.p, creq.len, creq_hash);
    haul_buf_printf(&sts, "%s\n%s\n%s/%s/%s/aws4_request\n%s", ALGORITHM, r->amz_date,
                    date8, r->region, r->service, creq_hash);

    /* The signing key leaves this function only into the cache: wiped below. */
    signing_key(r->secret_key, date8, r->region, r->service, key);
    haul_hmac_sha256(key, 32, sts.p, sts.len, sig);
    to_hex(sig, 32, out->signature);

    haul_buf_printf(&auth, "%s Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                    "Signature=%s", ALGORITHM, r->access_key, date8, r->region, r->service,
                    names.p, out->signature);

    out->url_path = haul_buf_detach(&url_path);
    out->url_query = haul_buf_detach(&query);
    out->authorization = haul_buf_detach(&auth);
    out->signed_headers = haul_buf_detach(&names);
    out->canonical_request = haul_buf_detach(&creq);
    out->string_to_sign = haul_buf_detach(&sts);

    OPENSSL_cleanse(key, sizeof key);
    haul_buf_free(&hdrs);
    haul_buf_free(&uri);
    haul_buf_free(&norm);
    return 0;
}

void haul_sigv4_out_free(haul_sigv4_out *o)
{
    if (!o) return;
    free(o->url_path);
    free(o->url_query);
    free(o->authorization);
    free(o->signed_headers);
    free(o->canonical_request);
    free(o->string_to_sign);
    memset(o, 0, sizeof *o);
}
