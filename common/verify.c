/* verify.c -- ETag rules, SLO manifests and the streaming body verifier.
 *
 * Swift's rules are taken from its own middleware (swift/common/middleware/
 * slo.py and dlo.py, 2.30) and checked against a real Swift in the unit
 * tests: an SLO's ETag is the MD5 of its segments' hashes as the manifest
 * writes them, a ranged segment contributing "<hash>:<range>;" and inline data
 * the hex MD5 of its bytes; a DLO's is the MD5 of its segments' listed hashes,
 * without quotes. S3's multipart rule is the MD5 of the parts' binary MD5s.
 *
 * The verifier keeps one EVP_MD_CTX per thing it hashes: the body (plain
 * objects), the current segment (Swift), or per S3 part-size candidate the
 * current part and the running hash of the parts' digests. A chunk is thus
 * hashed once per candidate and never copied. OpenSSL 3 allocates a small
 * context each time a digest is (re)initialised, which here is once per
 * segment or part, never per chunk. */
#include "verify.h"
#include "listing.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>


const char *haul_verified_str(haul_verified v)
{
    switch (v) {
    case HAUL_VERIFIED_NONE: return "none";
    case HAUL_VERIFIED_MD5: return "md5";
    case HAUL_VERIFIED_SEGMENTS: return "segments";
    case HAUL_VERIFIED_PARTS: return "parts";
    }
    return "?";
}

/* ---- MD5 helpers ---------------------------------------------------------- */

#define MiB (1024LL * 1024)

/* MD5 from whichever provider offers it; NULL where none does (FIPS). */
static EVP_MD *md5_fetch(void)
{
    return EVP_MD_fetch(NULL, "MD5", NULL);
}

int haul_md5_available(void)
{
    EVP_MD *md = md5_fetch();
    EVP_MD_free(md);
    return md != NULL;
}

/* EVP_MD_CTX_new() fails only when memory is exhausted: haul's policy. */
static EVP_MD_CTX *ctx_new(void)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) {
        fprintf(stderr, "haul: out of memory allocating an MD5 context\n");
        abort();
    }
    return c;
}

static int md5_buf(EVP_MD *md, const void *p, size_t n, unsigned char out[16])
{
    unsigned int len = 0;
    return md && EVP_Digest(p, n, out, &len, md, NULL) == 1 && len == 16 ? 0 : -1;
}

static void to_hex(const unsigned char d[16], char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[32] = '\0';
}

/* Decodes exactly 32 hex digits s[0..32) into d. -1 on any other byte. */
static int hex32(const char *s, unsigned char d[16])
{
    for (int i = 0; i < 16; i++) {
        int hi = haul_hexval((unsigned char)s[2 * i]), lo = haul_hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Parses decimal digits s[0..n) (at least one) into *out; -1 past LLONG_MAX. */
static int parse_digits(const char *s, size_t n, long long *out)
{
    long long v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        int d = s[i] - '0';
        if (v > (LLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t')) { (*s)++; (*n)--; }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* ---- ETags and Content-Range ---------------------------------------------- */

haul_etag_kind haul_etag_parse(const char *etag, size_t len, unsigned char md5[16],
                               long long *nparts)
{
    unsigned char d[16];
    long long parts;

    if (nparts) *nparts = 0;
    if (!etag) return HAUL_ETAG_OTHER;
    trim(&etag, &len);
    if (len >= 2 && etag[0] == 'W' && etag[1] == '/') return HAUL_ETAG_OTHER;
    if (len && etag[0] == '"') {
        if (len < 2 || etag[len - 1] != '"') return HAUL_ETAG_OTHER;
        etag++;
        len -= 2;
    } else if (len && etag[len - 1] == '"') {
        return HAUL_ETAG_OTHER;
    }
    if (len < 32 || hex32(etag, d) < 0) return HAUL_ETAG_OTHER;
    if (len == 32) {
        if (md5) memcpy(md5, d, 16);
        return HAUL_ETAG_MD5;
    }
    /* "-N": no sign, no leading zero, within S3's part limit. */
    if (etag[32] != '-' || len == 33 || etag[33] == '0' ||
        parse_digits(etag + 33, len - 33, &parts) < 0 || parts > HAUL_MULTIPART_MAX_PARTS)
        return HAUL_ETAG_OTHER;
    if (md5) memcpy(md5, d, 16);
    if (nparts) *nparts = parts;
    return HAUL_ETAG_MULTIPART;
}

/* Reads a number or a '*' (-1) at s[*i], up to the first byte of stop. */
static int range_field(const char *s, size_t len, size_t *i, const char *stop, long long *out)
{
    size_t j = *i;
    if (j < len && s[j] == '*') {
        *out = -1;
        *i = j + 1;
        return 0;
    }
    while (j < len && !strchr(stop, s[j])) j++;
    if (parse_digits(s + *i, j - *i, out) < 0) return -1;
    *i = j;
    return 0;
}

int haul_content_range_parse(const char *s, size_t len, long long *first, long long *last,
                             long long *total)
{
    static const char unit[] = "bytes";
    long long f, l = -1, t;
    size_t i = 0;

    if (!s) return -1;
    trim(&s, &len);
    for (; i < 5; i++)
        if (i >= len || (s[i] | 0x20) != unit[i]) return -1;
    if (i >= len || s[i] != ' ') return -1;
    while (i < len && s[i] == ' ') i++;

    if (range_field(s, len, &i, "-/", &f) < 0) return -1;
    if (f >= 0) {
        if (i >= len || s[i] != '-') return -1;
        i++;
        if (i < len && s[i] == '*') return -1;
        if (range_field(s, len, &i, "/", &l) < 0) return -1;
    }
    if (i >= len || s[i] != '/') return -1;
    i++;
    if (range_field(s, len, &i, "", &t) < 0 || i != len) return -1;

    if (f < 0 && t < 0) return -1;          /* "bytes * / *" says nothing */
    if (f >= 0 && (l < f || (t >= 0 && l >= t))) return -1;
    if (first) *first = f;
    if (last) *last = l;
    if (total) *total = t;
    return 0;
}

/* ---- Segments -------------------------------------------------------------- */

void haul_segments_free(haul_segment *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].range);
        free(v[i].name);
    }
    free(v);
}

long long haul_segments_total(const haul_segment *v, size_t n)
{
    long long total = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].bytes < 0 || v[i].bytes > LLONG_MAX - total) return -1;
        total += v[i].bytes;
    }
    return total;
}

int haul_segment_set(haul_segment *s, const char *name, const char *hash, size_t hashlen,
                     long long bytes, char *err)
{
    memset(s, 0, sizeof *s);
    if (hash) trim(&hash, &hashlen);
    if (hash && hashlen >= 2 && hash[0] == '"' && hash[hashlen - 1] == '"') {
        hash++;
        hashlen -= 2;
    }
    if (!hash || hashlen != 32 || hex32(hash, s->md5) < 0) {
        haul_errf(err, "segment %.200s: its hash \"%.*s\" is not an MD5 (32 hex digits)",
               name ? name : "(unnamed)", hash ? (int)(hashlen < 80 ? hashlen : 80) : 0,
               hash ? hash : "");
        memset(s, 0, sizeof *s);
        return -1;
    }
    if (bytes < 0) {
        haul_errf(err, "segment %.200s: its size is unknown (%lld)", name ? name : "(unnamed)",
               bytes);
        memset(s, 0, sizeof *s);
        return -1;
    }
    memcpy(s->hash, hash, 32);
    s->hash[32] = '\0';
    s->bytes = bytes;
    s->checkable = 1;
    s->name = haul_strdup(name);
    return 0;
}


/* Swift's config_true_value(): True, or a string "true", "1", "yes", "on",
 * "t" or "y" in any case. */
static int swift_true(const json_t *v)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
    if (json_is_true(v)) return 1;
    if (!json_is_string(v)) return 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++) {
        size_t m = strlen(yes[k]), i;
        if (m != n) continue;
        for (i = 0; i < m && (s[i] | 0x20) == yes[k][i]; i++) {}
        if (i == m) return 1;
    }
    return 0;
}

/* An old Swift kept a sub-SLO's total size as "; swift_bytes=N" at the end of
 * its content_type (utils.override_bytes_from_content_type): that size wins
 * over "bytes" when it is there. */
static void swift_bytes(const json_t *ctype, long long *bytes)
{
    if (!json_is_string(ctype)) return;
    const char *s = json_string_value(ctype), *semi = strrchr(s, ';');
    long long v;
    if (!semi) return;
    semi++;
    while (*semi == ' ' || *semi == '\t') semi++;
    if (strncmp(semi, "swift_bytes=", 12) != 0) return;
    semi += 12;
    if (parse_digits(semi, strlen(semi), &v) == 0) *bytes = v;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict padded base64 (what Swift stores: it re-encodes inline data with
 * b64encode). Returns the decoded length into a new *out, or -1. */
static long long b64_decode(const char *s, size_t n, unsigned char **out)
{
    if (n == 0 || n % 4) return -1;
    unsigned char *d = haul_malloc(n / 4 * 3);
    size_t w = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int a = b64val((unsigned char)s[i]), b = b64val((unsigned char)s[i + 1]);
        int pad2 = last && s[i + 2] == '=' && s[i + 3] == '=';
        int pad1 = last && !pad2 && s[i + 3] == '=';
        int c = pad2 ? 0 : b64val((unsigned char)s[i + 2]);
        int e = pad1 || pad2 ? 0 : b64val((unsigned char)s[i + 3]);
        if (a < 0 || b < 0 || c < 0 || e < 0) {
            free(d);
            return -1;
        }
        d[w++] = (unsigned char)(a << 2 | b >> 4);
        if (!pad2) d[w++] = (unsigned char)((b & 15) << 4 | c >> 2);
        if (!pad1 && !pad2) d[w++] = (unsigned char)((c & 3) << 6 | e);
    }
    *out = d;
    return (long long)w;
}

typedef struct mctx {
    size_t index;
    char *err;
    EVP_MD *md;     /* fetched on the first inline data entry */
    int md_tried;
} mctx;

#define MERR(c, ...) do {                                                   \
        char m_[HAUL_ERR_LEN];                                             \
        snprintf(m_, sizeof m_, __VA_ARGS__);                              \
        haul_errf((c)->err, "SLO manifest: entry [%zu]: %s", (c)->index, m_); \
    } while (0)

/* {"data": "<base64>"}: Swift serves the decoded bytes and counts the hex
 * MD5 of them in the ETag, so they are checkable like any segment. */
static int data_entry(mctx *c, const json_t *data, haul_segment *s)
{
    unsigned char *raw = NULL;
    long long n;

    if (!json_is_string(data)) {
        MERR(c, "\"data\" is %s, not a string", haul_json_kind(data));
        return -1;
    }
    n = b64_decode(json_string_value(data), json_string_length(data), &raw);
    if (n <= 0) {
        MERR(c, "\"data\" is not base64 of at least one byte");
        free(raw);
        return -1;
    }
    if (!c->md_tried) {
        c->md = md5_fetch();
        c->md_tried = 1;
    }
    if (md5_buf(c->md, raw, (size_t)n, s->md5) < 0) {
        MERR(c, "inline data needs MD5, which this OpenSSL does not offer");
        free(raw);
        return -1;
    }
    free(raw);
    to_hex(s->md5, s->hash);
    s->bytes = n;
    s->checkable = 1;
    return 0;
}

/* "FIRST-LAST", as the slo middleware stores a range once it has resolved it
 * against the segment's size (it never stores "FIRST-" or "-SUFFIX"). */
static int parse_range(const char *r, long long *first, long long *last)
{
    const char *dash = strchr(r, '-');
    if (!dash) return -1;
    if (parse_digits(r, (size_t)(dash - r), first) < 0) return -1;
    if (parse_digits(dash + 1, strlen(dash + 1), last) < 0) return -1;
    return *first <= *last ? 0 : -1;
}

static int object_entry(mctx *c, json_t *e, haul_segment *s)
{
    json_t *name = json_object_get(e, "name"), *hash = json_object_get(e, "hash"),
           *bytes = json_object_get(e, "bytes"), *range = json_object_get(e, "range");
    int sub = swift_true(json_object_get(e, "sub_slo"));
    long long size, first, last;

    if (!json_is_string(name)) {
        MERR(c, "\"name\" is %s, not a string", name ? haul_json_kind(name) : "missing");
        return -1;
    }
    if (json_string_length(name) == 0 ||
        strlen(json_string_value(name)) != json_string_length(name)) {
        MERR(c, "\"name\" is %s", json_string_length(name) ? "holds a NUL byte" : "empty");
        return -1;
    }
    if (!json_is_string(hash) || json_string_length(hash) != 32 ||
        hex32(json_string_value(hash), s->md5) < 0) {
        MERR(c, "\"hash\" is %s, not an MD5 (32 hex digits)",
             hash ? (json_is_string(hash) ? "a string" : haul_json_kind(hash)) : "missing");
        return -1;
    }
    if (!json_is_integer(bytes) || json_integer_value(bytes) < 0) {
        MERR(c, "\"bytes\" is %s, not a non-negative integer",
             bytes ? (json_is_integer(bytes) ? "negative" : haul_json_kind(bytes)) : "missing");
        return -1;
    }
    size = (long long)json_integer_value(bytes);
    if (sub) swift_bytes(json_object_get(e, "content_type"), &size);
    memcpy(s->hash, json_string_value(hash), 33);
    s->name = haul_strndup(json_string_value(name), json_string_length(name));
    s->bytes = size;
    s->checkable = !sub;

    /* Swift treats a null or empty range as none (seg_dict.get('range')). */
    if (!range || json_is_null(range) ||
        (json_is_string(range) && json_string_length(range) == 0))
        return 0;
    if (!json_is_string(range)) {
        MERR(c, "\"range\" is %s, not a string", haul_json_kind(range));
        return -1;
    }
    const char *r = json_string_value(range);
    if (strlen(r) != json_string_length(range) || parse_range(r, &first, &last) < 0) {
        MERR(c, "\"range\" \"%.60s\" is not FIRST-LAST", r);
        return -1;
    }
    if (last >= size) {
        MERR(c, "\"range\" %lld-%lld is beyond the segment's %lld bytes", first, last, size);
        return -1;
    }
    s->range = haul_strdup(r);
    s->bytes = last - first + 1;
    /* A range over the whole segment serves all its bytes, so its hash still
     * applies (Swift drops such a range when it stores the manifest). */
    s->checkable = !sub && first == 0 && last == size - 1;
    return 0;
}

int haul_slo_manifest_parse(const char *body, size_t n, haul_segment **out, size_t *nout,
                            char *err)
{
    json_error_t je;
    json_t *root = NULL;
    haul_segment *v = NULL;
    size_t count = 0, i;
    long long total = 0;
    mctx c = {0, err, NULL, 0};
    int rc = -1;

    *out = NULL;
    *nout = 0;
    if (!body || n == 0) {
        haul_errf(err, "SLO manifest: empty body (expected a JSON array of segments)");
        return -1;
    }
    if (n > HAUL_SLO_MAX_MANIFEST) {
        haul_errf(err, "SLO manifest: %zu bytes, more than the limit of %zu", n,
               HAUL_SLO_MAX_MANIFEST);
        return -1;
    }
    root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        haul_errf(err, "SLO manifest: malformed JSON at line %d column %d: %s", je.line,
               je.column, je.text);
        return -1;
    }
    if (!json_is_array(root)) {
        haul_errf(err, "SLO manifest: expected a JSON array of segments, got %s (was the "
                    "request made with ?multipart-manifest=get?)", haul_json_kind(root));
        goto out;
    }
    /* "[]" is a manifest: Swift 2.30 accepts it and serves an empty body
     * whose ETag is MD5(""), which is what zero segments give here too. */
    count = json_array_size(root);
    if (count > HAUL_SLO_MAX_SEGMENTS) {
        haul_errf(err, "SLO manifest: %zu segments, more than the limit of %d", count,
               HAUL_SLO_MAX_SEGMENTS);
        goto out;
    }
    v = count ? haul_calloc(count, sizeof *v) : NULL;
    for (i = 0; i < count; i++) {
        json_t *e = json_array_get(root, i), *data;
        c.index = i;
        if (!json_is_object(e)) {
            MERR(&c, "%s, not an object", haul_json_kind(e));
            goto out;
        }
        data = json_object_get(e, "data");
        if ((data ? data_entry(&c, data, &v[i]) : object_entry(&c, e, &v[i])) < 0) goto out;
        if (v[i].bytes > LLONG_MAX - total) {
            MERR(&c, "the segments add up to more than %lld bytes", LLONG_MAX);
            goto out;
        }
        total += v[i].bytes;
    }
    *out = v;
    *nout = count;
    v = NULL;
    rc = 0;
out:
    haul_segments_free(v, count);
    EVP_MD_free(c.md);
    json_decref(root);
    return rc;
}

int haul_segments_match_etag(const haul_segment *v, size_t n, const char *etag,
                             size_t etaglen, char *err)
{
    unsigned char want[16], got[16];
    char hex[33];
    unsigned int len = 0;
    int shown = etag ? (int)(etaglen < 80 ? etaglen : 80) : 0;
    int ok;

    if (haul_etag_parse(etag, etaglen, want, NULL) != HAUL_ETAG_MD5) {
        haul_errf(err, "the object's ETag \"%.*s\" is not an MD5 (32 hex digits), so it cannot "
                    "be checked against its segments", shown, etag ? etag : "");
        return -1;
    }
    EVP_MD *md = md5_fetch();
    if (!md) {
        haul_errf(err, "cannot check the segments against the ETag: this OpenSSL offers no MD5");
        return -1;
    }
    EVP_MD_CTX *ctx = ctx_new();
    ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        ok = EVP_DigestUpdate(ctx, v[i].hash, strlen(v[i].hash)) == 1;
        if (ok && v[i].range && v[i].range[0])
            ok = EVP_DigestUpdate(ctx, ":", 1) == 1 &&
                 EVP_DigestUpdate(ctx, v[i].range, strlen(v[i].range)) == 1 &&
                 EVP_DigestUpdate(ctx, ";", 1) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, got, &len) == 1 && len == 16;
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    if (!ok) {
        haul_errf(err, "cannot check the segments against the ETag: OpenSSL's MD5 failed");
        return -1;
    }
    if (memcmp(got, want, 16) != 0) {
        to_hex(got, hex);
        haul_errf(err, "the %zu segments make the ETag %s, but the object's is %.*s (the segment "
                    "list belongs to another version of the object: fetch it again)",
               n, hex, shown, etag);
        return -1;
    }
    return 0;
}

/* ---- The verifier ---------------------------------------------------------- */

typedef enum { V_NONE, V_MD5, V_SEGMENTS, V_PARTS } vkind;

typedef struct vseg {
    long long bytes, start;  /* its length and its first byte in the body */
    unsigned char md5[16];
    int checkable;
    char *name;
} vseg;

/* One S3 part size being tried. */
typedef struct cand {
    long long part;          /* bytes per part; LLONG_MAX: one part, the whole body */
    long long in_part;       /* bytes of the current part hashed so far */
    long long done;          /* parts finished */
    EVP_MD_CTX *cur, *all;   /* the current part; the parts' digests so far */
} cand;

struct haul_verifier {
    vkind kind;
    EVP_MD *md;              /* NULL: no MD5, only lengths are checked */
    long long seen;          /* body bytes fed */
    int failed;              /* a mismatch is certain: msg says which */
    int broken;              /* OpenSSL failed mid-body: the outcome is NONE */
    char msg[HAUL_ERR_LEN];
    unsigned char want[16];
    EVP_MD_CTX *ctx;         /* V_MD5: the body; V_SEGMENTS: the current segment */

    vseg *segs;              /* V_SEGMENTS */
    size_t nseg, cur;
    long long in_seg, total;
    int all_checkable;

    long long size, nparts;  /* V_PARTS */
    int exact;               /* a difference is a mismatch, not a wrong guess */
    long long told;          /* the part size the store told, 0 when guessing */
    size_t ncand;
    cand c[HAUL_PARTS_MAX_CANDIDATES];
};

static haul_verifier *verifier_new(vkind kind)
{
    haul_verifier *v = haul_calloc(1, sizeof *v);
    v->kind = kind;
    v->md = md5_fetch();
    return v;
}

/* (Re)starts ctx; on failure the verifier stops hashing and ends NONE. */
static void start(haul_verifier *v, EVP_MD_CTX *ctx)
{
    if (!v->broken && EVP_DigestInit_ex(ctx, v->md, NULL) != 1) v->broken = 1;
}

static void feed(haul_verifier *v, EVP_MD_CTX *ctx, const void *p, size_t n)
{
    if (!v->broken && n && EVP_DigestUpdate(ctx, p, n) != 1) v->broken = 1;
}

static void finish(haul_verifier *v, EVP_MD_CTX *ctx, unsigned char out[16])
{
    unsigned int len = 0;
    if (!v->broken && (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 16)) v->broken = 1;
    if (v->broken) memset(out, 0, 16);
}

static void fail(haul_verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(haul_verifier *v, const char *fmt, ...)
{
    if (v->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
    v->failed = 1;
}

haul_verifier *haul_verifier_md5(const unsigned char md5[16])
{
    haul_verifier *v = verifier_new(V_MD5);
    if (!v->md) {
        v->kind = V_NONE;
        return v;
    }
    memcpy(v->want, md5, 16);
    v->ctx = ctx_new();
    start(v, v->ctx);
    return v;
}

/* Closes every segment whose bytes have all arrived, zero-byte ones
 * included, comparing its MD5, and starts the next. */
static void seg_advance(haul_verifier *v)
{
    while (v->cur < v->nseg && v->in_seg == v->segs[v->cur].bytes) {
        const vseg *s = &v->segs[v->cur];
        if (s->checkable && !v->failed) {
            unsigned char got[16];
            finish(v, v->ctx, got);
            if (!v->broken && memcmp(got, s->md5, 16) != 0) {
                char g[33], w[33];
                to_hex(got, g);
                to_hex(s->md5, w);
                char where[64];
                if (s->bytes)
                    snprintf(where, sizeof where, "body bytes %lld-%lld", s->start,
                             s->start + s->bytes - 1);
                else
                    snprintf(where, sizeof where, "empty, at body byte %lld", s->start);
                fail(v, "segment %zu of %zu (%.200s, %s): its bytes' MD5 is %s, its hash %s "
                        "(the download is corrupt)",
                     v->cur + 1, v->nseg, s->name ? s->name : "inline data", where, g, w);
            }
        }
        v->cur++;
        v->in_seg = 0;
        if (v->cur < v->nseg && v->segs[v->cur].checkable && !v->failed) start(v, v->ctx);
    }
}

haul_verifier *haul_verifier_segments(const haul_segment *sv, size_t n)
{
    haul_verifier *v = verifier_new(V_SEGMENTS);
    long long total = haul_segments_total(sv, n);
    if (total < 0) {
        v->kind = V_NONE;
        return v;
    }
    v->total = total;
    v->nseg = n;
    v->segs = n ? haul_calloc(n, sizeof *v->segs) : NULL;
    v->all_checkable = v->md != NULL;
    long long off = 0;
    for (size_t i = 0; i < n; i++) {
        vseg *s = &v->segs[i];
        s->bytes = sv[i].bytes;
        s->start = off;
        off += sv[i].bytes;
        memcpy(s->md5, sv[i].md5, 16);
        s->checkable = sv[i].checkable && v->md;
        s->name = haul_strdup(sv[i].name);
        if (!s->checkable) v->all_checkable = 0;
    }
    if (v->md) {
        v->ctx = ctx_new();
        if (n && v->segs[0].checkable) start(v, v->ctx);
    }
    seg_advance(v);
    return v;
}

static long long parts_of(long long size, long long part)
{
    return size / part + (size % part != 0);
}

static void add_cand(haul_verifier *v, long long part)
{
    for (size_t i = 0; i < v->ncand; i++)
        if (v->c[i].part == part) return;
    if (v->ncand == HAUL_PARTS_MAX_CANDIDATES) return;
    cand *c = &v->c[v->ncand++];
    c->part = part;
    c->cur = ctx_new();
    c->all = ctx_new();
    start(v, c->cur);
    start(v, c->all);
}

haul_verifier *haul_verifier_parts(const unsigned char md5[16], long long nparts,
                                   long long size, long long exact_part_size)
{
    /* The part sizes clients use, most common first: boto3 and the AWS CLI
     * (8 MiB, doubled until 10,000 parts suffice), the Go, JavaScript and
     * Java SDKs and rclone (5 MiB), s3cmd (15 MiB), MinIO's clients (16 MiB,
     * older ones 64 MiB), and round sizes people configure. */
    static const long long common[] = {
        8 * MiB, 5 * MiB, 16 * MiB, 15 * MiB, 32 * MiB, 64 * MiB, 100 * MiB,
        128 * MiB, 256 * MiB, 512 * MiB, 1024 * MiB,
    };
    haul_verifier *v = verifier_new(V_PARTS);
    if (nparts < 1 || nparts > HAUL_MULTIPART_MAX_PARTS || size < 0) {
        v->kind = V_NONE;
        return v;
    }
    v->size = size;
    v->nparts = nparts;
    memcpy(v->want, md5, 16);
    if (!v->md) return v;

    if (nparts == 1) {
        /* One part is the whole body, whatever size the client chose. */
        v->exact = 1;
        add_cand(v, LLONG_MAX);
    } else if (exact_part_size > 0) {
        /* Otherwise the parts were not all of one size: nothing to check. */
        v->told = exact_part_size;
        if (parts_of(size, exact_part_size) == nparts) {
            v->exact = 1;
            add_cand(v, exact_part_size);
        }
    } else {
        long long even = size / nparts + (size % nparts != 0);
        long long derived[] = {
            even,                                    /* N equal parts; Java v1 and JS v3
                                                        past 10,000 parts of 5 MiB */
            (even + MiB - 1) / MiB * MiB,            /* rclone: that, rounded up to a MiB */
            size / HAUL_MULTIPART_MAX_PARTS + 1,     /* Go v1 s3manager past 10,000 parts */
        };
        for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
            if (parts_of(size, common[i]) == nparts) add_cand(v, common[i]);
        for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++)
            if (derived[i] > 0 && parts_of(size, derived[i]) == nparts) add_cand(v, derived[i]);
    }
    return v;
}

static void part_end(haul_verifier *v, cand *c)
{
    unsigned char d[16];
    finish(v, c->cur, d);
    feed(v, c->all, d, 16);
    c->done++;
    c->in_part = 0;
}

void haul_verifier_update(haul_verifier *v, const void *p, size_t n)
{
    const unsigned char *b = p;
    if (!v || n == 0 || v->failed) return;
    long long room = LLONG_MAX - v->seen;
    if ((unsigned long long)n > (unsigned long long)room) {
        fail(v, "the body is longer than %lld bytes", LLONG_MAX);
        return;
    }

    switch (v->kind) {
    case V_NONE:
        break;
    case V_MD5:
        feed(v, v->ctx, b, n);
        break;
    case V_SEGMENTS:
        while (n > 0) {
            if (v->cur >= v->nseg) {
                fail(v, "the body is longer than the %lld bytes its %zu segments add up to "
                        "(the download is corrupt)", v->total, v->nseg);
                return;
            }
            const vseg *s = &v->segs[v->cur];
            long long left = s->bytes - v->in_seg;
            size_t take = (unsigned long long)n < (unsigned long long)left ? n : (size_t)left;
            if (s->checkable) feed(v, v->ctx, b, take);
            b += take;
            n -= take;
            v->seen += (long long)take;
            v->in_seg += (long long)take;
            seg_advance(v);
            if (v->failed) return;
        }
        return;
    case V_PARTS:
        if ((unsigned long long)n > (unsigned long long)(v->size - v->seen)) {
            fail(v, "the body is longer than the object's %lld bytes (the download is "
                    "corrupt)", v->size);
            return;
        }
        for (size_t i = 0; i < v->ncand; i++) {
            cand *c = &v->c[i];
            const unsigned char *q = b;
            size_t m = n;
            while (m > 0) {
                long long left = c->part - c->in_part;
                size_t take = (unsigned long long)m < (unsigned long long)left ? m : (size_t)left;
                feed(v, c->cur, q, take);
                q += take;
                m -= take;
                c->in_part += (long long)take;
                if (c->in_part == c->part) {
                    part_end(v, c);
                    start(v, c->cur);
                }
            }
        }
        break;
    }
    v->seen += (long long)n;
}

int haul_verifier_failed(const haul_verifier *v)
{
    return v && v->failed;
}

static int final_parts(haul_verifier *v, haul_verified *out, char *err)
{
    char got[33], want[33];
    if (v->seen != v->size) {
        haul_errf(err, "the body is %lld bytes, the object %lld (the download is short)",
               v->seen, v->size);
        return -1;
    }
    to_hex(v->want, want);
    if (!v->md) {
        haul_errf(err, "S3 multipart ETag %s-%lld: no MD5 in this OpenSSL: not verified", want,
               v->nparts);
        return 0;
    }
    if (v->ncand == 0 && v->told > 0) {
        haul_errf(err, "S3 multipart ETag %s-%lld: parts of %lld bytes, as the store says, would "
                    "be %lld: the parts were of unequal sizes, so not verified", want,
               v->nparts, v->told, parts_of(v->size, v->told));
        return 0;
    }
    if (v->ncand == 0) {
        haul_errf(err, "S3 multipart ETag %s-%lld: no common part size cuts the body into that "
                    "many parts: not verified", want, v->nparts);
        return 0;
    }
    for (size_t i = 0; i < v->ncand; i++) {
        cand *c = &v->c[i];
        unsigned char d[16];
        if (c->in_part > 0 || c->done == 0) part_end(v, c);
        finish(v, c->all, d);
        if (v->broken) break;
        if (c->done == v->nparts && memcmp(d, v->want, 16) == 0) {
            *out = HAUL_VERIFIED_PARTS;
            if (c->part == LLONG_MAX) haul_errf(err, "one part of %lld bytes", v->size);
            else haul_errf(err, "%lld parts of %lld bytes", v->nparts, c->part);
            return 0;
        }
        if (v->exact) {
            to_hex(d, got);
            if (c->part == LLONG_MAX)
                haul_errf(err, "the body makes the one-part ETag %s-1, the object's is %s-1 (the "
                            "download is corrupt)", got, want);
            else
                haul_errf(err, "the body's %lld parts of %lld bytes make the ETag %s-%lld, the "
                            "object's is %s-%lld (the download is corrupt)",
                       c->done, c->part, got, c->done, want, v->nparts);
            return -1;
        }
    }
    if (v->broken) {
        haul_errf(err, "S3 multipart ETag %s-%lld: OpenSSL's MD5 failed", want, v->nparts);
        return 0;
    }
    haul_errf(err, "S3 multipart ETag %s-%lld: none of the %zu part sizes tried (", want,
           v->nparts, v->ncand);
    if (err) {
        size_t len = strlen(err);
        for (size_t i = 0; i < v->ncand && len < HAUL_ERR_LEN; i++)
            len += (size_t)snprintf(err + len, HAUL_ERR_LEN - len, "%s%lld", i ? ", " : "",
                                    v->c[i].part);
        if (len < HAUL_ERR_LEN)
            snprintf(err + len, HAUL_ERR_LEN - len, " bytes) reproduces it: not verified");
    }
    return 0;
}

int haul_verifier_final(haul_verifier *v, haul_verified *out, char *err)
{
    char got[33], want[33];
    unsigned char d[16];

    *out = HAUL_VERIFIED_NONE;
    haul_errf(err, "%s", "");
    if (v->failed) {
        haul_errf(err, "%s", v->msg);
        return -1;
    }
    switch (v->kind) {
    case V_NONE:
        haul_errf(err, "nothing to check the body against");
        return 0;
    case V_MD5:
        finish(v, v->ctx, d);
        if (v->broken) {
            haul_errf(err, "OpenSSL's MD5 failed: not verified");
            return 0;
        }
        if (memcmp(d, v->want, 16) != 0) {
            to_hex(d, got);
            to_hex(v->want, want);
            haul_errf(err, "the body's MD5 is %s, the ETag %s (the download is corrupt)", got,
                   want);
            return -1;
        }
        *out = HAUL_VERIFIED_MD5;
        return 0;
    case V_SEGMENTS:
        if (v->cur < v->nseg) {
            haul_errf(err, "the body is %lld bytes, its %zu segments add up to %lld (the download "
                        "is short)", v->seen, v->nseg, v->total);
            return -1;
        }
        if (v->broken || !v->all_checkable) {
            size_t unchecked = 0;
            for (size_t i = 0; i < v->nseg; i++) unchecked += !v->segs[i].checkable;
            haul_errf(err, "%zu of %zu segments could not be checked (%s): not verified",
                   v->broken ? v->nseg : unchecked, v->nseg,
                   v->broken ? "OpenSSL's MD5 failed"
                   : !v->md  ? "no MD5 in this OpenSSL"
                             : "ranged or sub-SLO segments");
            return 0;
        }
        *out = HAUL_VERIFIED_SEGMENTS;
        return 0;
    case V_PARTS:
        return final_parts(v, out, err);
    }
    return 0;
}

void haul_verifier_free(haul_verifier *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->nseg; i++) free(v->segs[i].name);
    free(v->segs);
    for (size_t i = 0; i < v->ncand; i++) {
        EVP_MD_CTX_free(v->c[i].cur);
        EVP_MD_CTX_free(v->c[i].all);
    }
    EVP_MD_CTX_free(v->ctx);
    EVP_MD_free(v->md);
    free(v);
}
