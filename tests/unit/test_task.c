/* test_task.c -- the task codec and the connection state, without I/O.
 *
 * Round trips go through haul_task_encode(); malformed tasks are built byte
 * by byte with the small msgpack writer below, from one template task that
 * a test can patch: replace one field's value with raw bytes, leave a field
 * out, or add an entry. The template writes its fields in another order than
 * haul's encoder ("attempt" near the end, as a fixint), as another encoder
 * may. Sealed tasks are forged by splicing the bytes of real encodings. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seal.h"
#include "task.h"
#include "test.h"

#define ASSERT_HAS(s, sub) do {                                           \
        const char *s_ = (s), *sub_ = (sub);                             \
        if (!s_ || !strstr(s_, sub_))                                    \
            FAIL_("%s contains %s:\n    got:  \"%s\"\n    want: \"...%s...\"", \
                  #s, #sub, s_ ? s_ : "(null)", sub_);                   \
    } while (0)

/* ---- a raw msgpack writer ---------------------------------------------- */

static void mp_byte(haul_buf *b, unsigned v) { haul_buf_addc(b, (char)(v & 0xff)); }

static void mp_be(haul_buf *b, uint64_t v, int w)
{
    for (int i = w - 1; i >= 0; i--) mp_byte(b, (unsigned)(v >> (8 * i)));
}

static void mp_map(haul_buf *b, uint32_t n)
{
    if (n < 16) mp_byte(b, 0x80 | n);
    else if (n < 65536) { mp_byte(b, 0xde); mp_be(b, n, 2); }
    else { mp_byte(b, 0xdf); mp_be(b, n, 4); }
}

static void mp_arr(haul_buf *b, uint32_t n)
{
    if (n < 16) mp_byte(b, 0x90 | n);
    else if (n < 65536) { mp_byte(b, 0xdc); mp_be(b, n, 2); }
    else { mp_byte(b, 0xdd); mp_be(b, n, 4); }
}

static void mp_strn(haul_buf *b, const char *s, size_t n)
{
    if (n < 32) mp_byte(b, 0xa0 | (unsigned)n);
    else if (n < 256) { mp_byte(b, 0xd9); mp_be(b, n, 1); }
    else if (n < 65536) { mp_byte(b, 0xda); mp_be(b, n, 2); }
    else { mp_byte(b, 0xdb); mp_be(b, n, 4); }
    haul_buf_add(b, s, n);
}

static void mp_str(haul_buf *b, const char *s) { mp_strn(b, s, strlen(s)); }

/* Header byte 0xc4..0xc6 (bin8..32) or 0xd9..0xdb (str8..32), whatever the length. */
static void mp_strf(haul_buf *b, unsigned hdr, const char *s)
{
    size_t n = strlen(s);
    int w = hdr >= 0xd9 ? 1 << (hdr - 0xd9) : 1 << (hdr - 0xc4);
    mp_byte(b, hdr);
    mp_be(b, n, w);
    haul_buf_add(b, s, n);
}

static void mp_uint(haul_buf *b, uint64_t v)
{
    if (v < 128) mp_byte(b, (unsigned)v);
    else { mp_byte(b, 0xcf); mp_be(b, v, 8); }
}

/* ---- the template task -------------------------------------------------- */

/* A change to the template. field: "id", "conn.region", "args.suffixes"...;
 * "+", "conn.+", "args.+": add raw (a key and a value) to that map.
 * raw NULL: leave the field out. Arrays of patches end with field NULL. */
typedef struct patch {
    const char *field;
    const char *raw;
    size_t rawlen;
} patch;

#define RAW(s) (s), sizeof(s) - 1
#define OMIT NULL, 0

static const patch *find_patch(const patch *ps, const char *full)
{
    for (; ps && ps->field; ps++)
        if (strcmp(ps->field, full) == 0) return ps;
    return NULL;
}

typedef struct mapw {
    haul_buf entries;
    uint32_t count;
    const char *prefix; /* "", "conn.", "args." */
    const patch *ps;
} mapw;

static void entry(mapw *m, const char *key, const haul_buf *val)
{
    char full[64];
    snprintf(full, sizeof full, "%s%s", m->prefix, key);
    const patch *p = find_patch(m->ps, full);
    if (p && !p->raw) return;
    mp_str(&m->entries, key);
    if (p) haul_buf_add(&m->entries, p->raw, p->rawlen);
    else haul_buf_add(&m->entries, val->p, val->len);
    m->count++;
}

static void finish(mapw *m, haul_buf *out)
{
    char plus[16];
    snprintf(plus, sizeof plus, "%s+", m->prefix);
    const patch *p = find_patch(m->ps, plus);
    if (p) {
        haul_buf_add(&m->entries, p->raw, p->rawlen);
        m->count++;
    }
    mp_map(out, m->count);
    haul_buf_add(out, m->entries.p, m->entries.len);
    haul_buf_free(&m->entries);
}

#define E(m, key, EXPR) do { haul_buf_reset(&v); EXPR; entry(&(m), key, &v); } while (0)

/* The template: a valid sidecar task over S3 (swift: over Swift). */
static void build(haul_buf *out, const patch *ps, int swift)
{
    haul_buf v = HAUL_BUF_INIT, conn = HAUL_BUF_INIT, args = HAUL_BUF_INIT;
    mapw top = {HAUL_BUF_INIT, 0, "", ps};
    mapw c = {HAUL_BUF_INIT, 0, "conn.", ps};
    mapw a = {HAUL_BUF_INIT, 0, "args.", ps};

    E(c, "kind", mp_str(&v, swift ? "swift" : "s3"));
    E(c, "tls_verify", mp_byte(&v, 0xc3));
    E(c, "ca_file", mp_byte(&v, 0xc0));
    if (swift) {
        E(c, "auth_url", mp_str(&v, "http://127.0.0.1:8080/auth/v1.0"));
        E(c, "user", mp_str(&v, "test:tester"));
        E(c, "key", mp_str(&v, "testing"));
        E(c, "token", mp_byte(&v, 0xc0));
        E(c, "storage_url", mp_byte(&v, 0xc0));
    } else {
        E(c, "endpoint", mp_str(&v, "http://127.0.0.1:8080"));
        E(c, "region", mp_str(&v, "us-east-1"));
        E(c, "access_key", mp_str(&v, "AKIDEXAMPLE"));
        E(c, "secret_key", mp_str(&v, "secret"));
        E(c, "session_token", mp_byte(&v, 0xc0));
        E(c, "path_style", mp_byte(&v, 0xc3));
    }
    finish(&c, &conn);

    E(a, "max_inline", mp_uint(&v, 65536));
    E(a, "out_dir", mp_byte(&v, 0xc0));
    E(a, "suffixes", (mp_arr(&v, 1), mp_str(&v, ".zip")));
    E(a, "sidecar_ext", mp_str(&v, ".metadata"));
    finish(&a, &args);

    E(top, "v", mp_uint(&v, 1));
    E(top, "id", mp_str(&v, "job1:0"));
    E(top, "job", mp_str(&v, "job1"));
    E(top, "op", mp_str(&v, "sidecar"));
    E(top, "conn", haul_buf_add(&v, conn.p, conn.len));
    E(top, "bucket", mp_str(&v, "bkt"));
    E(top, "args", haul_buf_add(&v, args.p, args.len));
    E(top, "first", mp_uint(&v, 0));
    E(top, "keys", (mp_arr(&v, 2), mp_str(&v, "a.zip"), mp_str(&v, "b")));
    E(top, "attempt", mp_uint(&v, 0));
    E(top, "created", mp_uint(&v, UINT64_C(1700000000000)));
    E(top, "queue", mp_str(&v, "default"));
    E(top, "expires", mp_uint(&v, UINT64_C(4102444800000))); /* 2100-01-01 */
    finish(&top, out);

    haul_buf_free(&v);
    haul_buf_free(&conn);
    haul_buf_free(&args);
}

static char err_[HAUL_ERR_LEN];

/* Decode a copy of n bytes in a block of exactly n bytes, so that valgrind
 * and ASan see any read past the end; key NULL: as a worker without a key.
 * NULL on success, else the sentence. */
static const char *decode_raw_key(const char *p, size_t n, const unsigned char *key,
                                  haul_task *t)
{
    char *copy = haul_malloc(n);
    if (n) memcpy(copy, p, n);
    err_[0] = '\0';
    int rc = key ? haul_task_decode_key(copy, n, key, t, err_)
                 : haul_task_decode(copy, n, t, err_);
    free(copy);
    if (rc == 0) return NULL;
    if (!err_[0]) snprintf(err_, sizeof err_, "(failed without a sentence)");
    return err_;
}

static const char *decode_raw(const char *p, size_t n, haul_task *t)
{
    return decode_raw_key(p, n, NULL, t);
}

/* Build the template with patches and decode it: NULL or the error. */
static const char *decode_patched(const patch *ps, int swift, haul_task *t)
{
    haul_buf b = HAUL_BUF_INIT;
    build(&b, ps, swift);
    const char *e = decode_raw(b.p, b.len, t);
    haul_buf_free(&b);
    return e;
}

/* The error for one patch (the task is cleared); "" when it decoded. */
static const char *patch_err(const char *field, const char *raw, size_t rawlen)
{
    patch ps[] = {{field, raw, rawlen}, {NULL, NULL, 0}};
    haul_task t;
    const char *e = decode_patched(ps, 0, &t);
    haul_task_clear(&t);
    return e ? e : "";
}

/* The same with two patches. */
static const char *patch_err2(const char *f1, const char *r1, size_t n1, const char *f2,
                              const char *r2, size_t n2)
{
    patch ps[] = {{f1, r1, n1}, {f2, r2, n2}, {NULL, NULL, 0}};
    haul_task t;
    const char *e = decode_patched(ps, 0, &t);
    haul_task_clear(&t);
    return e ? e : "";
}

/* ---- comparing tasks ---------------------------------------------------- */

static char diff_[512];

static int str_differs(const char *name, const char *a, const char *b)
{
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
        snprintf(diff_, sizeof diff_, "%s: \"%s\" vs \"%s\"", name, a ? a : "(null)",
                 b ? b : "(null)");
        return 1;
    }
    return 0;
}

static int num_differs(const char *name, uint64_t a, uint64_t b)
{
    if (a != b) {
        snprintf(diff_, sizeof diff_, "%s: %llu vs %llu", name, (unsigned long long)a,
                 (unsigned long long)b);
        return 1;
    }
    return 0;
}

static int strv_differs(const char *name, char **a, size_t na, char **b, size_t nb)
{
    char sub[64];
    if (num_differs(name, na, nb)) return 1;
    for (size_t i = 0; i < na; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", name, i);
        if (str_differs(sub, a[i], b[i])) return 1;
    }
    return 0;
}

/* "" when equal, else the first difference. */
static const char *task_diff(const haul_task *a, const haul_task *b)
{
    const haul_conn *x = &a->conn, *y = &b->conn;
    diff_[0] = '\0';
    (void)(str_differs("id", a->id, b->id) || str_differs("job", a->job, b->job) ||
           num_differs("op", a->op, b->op) || num_differs("kind", x->kind, y->kind) ||
           num_differs("tls_verify", x->tls_verify, y->tls_verify) ||
           str_differs("ca_file", x->ca_file, y->ca_file) ||
           str_differs("endpoint", x->s3.endpoint, y->s3.endpoint) ||
           str_differs("region", x->s3.region, y->s3.region) ||
           str_differs("access_key", x->s3.access_key, y->s3.access_key) ||
           str_differs("secret_key", x->s3.secret_key, y->s3.secret_key) ||
           str_differs("session_token", x->s3.session_token, y->s3.session_token) ||
           num_differs("path_style", x->s3.path_style, y->s3.path_style) ||
           str_differs("auth_url", x->swift.auth_url, y->swift.auth_url) ||
           str_differs("user", x->swift.user, y->swift.user) ||
           str_differs("key", x->swift.key, y->swift.key) ||
           str_differs("token", x->swift.token, y->swift.token) ||
           str_differs("storage_url", x->swift.storage_url, y->swift.storage_url) ||
           str_differs("bucket", a->bucket, b->bucket) ||
           num_differs("max_inline", a->max_inline, b->max_inline) ||
           str_differs("out_dir", a->out_dir, b->out_dir) ||
           strv_differs("suffixes", a->suffixes, a->nsuffixes, b->suffixes, b->nsuffixes) ||
           str_differs("sidecar_ext", a->sidecar_ext, b->sidecar_ext) ||
           num_differs("max_attempts", a->max_attempts, b->max_attempts) ||
           num_differs("first", a->first, b->first) ||
           strv_differs("keys", a->keys, a->nkeys, b->keys, b->nkeys) ||
           num_differs("attempt", a->attempt, b->attempt) ||
           num_differs("created", a->created_ms, b->created_ms) ||
           str_differs("queue", a->queue, b->queue) ||
           num_differs("expires", a->expires_ms, b->expires_ms) ||
           str_differs("src_dir", a->src_dir, b->src_dir) ||
           strv_differs("srcs", a->srcs, a->nsrcs, b->srcs, b->nsrcs) ||
           strv_differs("meta", a->meta, a->nmeta, b->meta, b->nmeta) ||
           num_differs("segment_size", a->segment_size, b->segment_size) ||
           num_differs("flags", a->flags, b->flags) ||
           strv_differs("md5s", a->md5s, a->nexpect, b->md5s, b->nexpect) ||
           strv_differs("members", a->members, a->nmembers, b->members, b->nmembers) ||
           num_differs("ncounts", a->ncounts, b->ncounts));
    for (size_t i = 0; !diff_[0] && i < a->ncounts && i < b->ncounts; i++)
        if (a->member_counts[i] != b->member_counts[i])
            snprintf(diff_, sizeof diff_, "member_counts[%zu]: %u != %u", i, a->member_counts[i],
                     b->member_counts[i]);
    for (size_t i = 0; !diff_[0] && i < a->nexpect && i < b->nexpect; i++)
        if (a->sizes[i] != b->sizes[i])
            snprintf(diff_, sizeof diff_, "sizes[%zu]: %lld != %lld", i, a->sizes[i], b->sizes[i]);
    return diff_;
}

static char **strv(const char *const *v, size_t n)
{
    char **out = haul_calloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = haul_strdup(v[i]);
    return out;
}

static void set_keys(haul_task *t, const char *const *keys, size_t n)
{
    t->keys = strv(keys, n);
    t->nkeys = n;
}

/* A task with every field of an S3 connection set. */
static void full_s3(haul_task *t)
{
    static const char *const keys[] = {"dummy/collated_0.zip", "dummy/1/1_1.f", "x"};
    static const char *const sfx[] = {".zip", ".tar", ".tar.gz"};
    haul_task_init(t);
    t->id = haul_strdup("job-7f3a:12");
    t->job = haul_strdup("job-7f3a");
    t->op = HAUL_OP_GET;
    t->conn.kind = HAUL_STORE_S3;
    t->conn.tls_verify = 0;
    t->conn.ca_file = haul_strdup("/etc/haul/ca.pem");
    t->conn.s3.endpoint = haul_strdup("https://s3.example.org:9000");
    t->conn.s3.region = haul_strdup("eu-west-2");
    t->conn.s3.access_key = haul_strdup("AKIDEXAMPLE");
    t->conn.s3.secret_key = haul_strdup("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    t->conn.s3.session_token = haul_strdup("FwoGZXIvYXdzEXAMPLETOKEN");
    t->conn.s3.path_style = 0;
    t->bucket = haul_strdup("LSST-IR-FUSION-testfromopenstack");
    t->max_inline = HAUL_MAX_INLINE;
    t->out_dir = haul_strdup("/var/tmp/haul out");
    t->suffixes = strv(sfx, 3);
    t->nsuffixes = 3;
    t->sidecar_ext = haul_strdup(".metadata");
    t->max_attempts = HAUL_TASK_MAX_ATTEMPTS;
    t->first = UINT64_C(1) << 40;
    set_keys(t, keys, 3);
    t->attempt = UINT32_MAX;
    t->created_ms = UINT64_C(1732500000123);
    t->queue = haul_strdup("bulk-eu");
    t->expires_ms = UINT64_MAX;
}

static void full_swift(haul_task *t)
{
    static const char *const keys[] = {"dummy/", "", "dummy-lsst-backup.csv"};
    haul_task_init(t);
    t->id = haul_strdup("j:0");
    t->job = haul_strdup("j");
    t->op = HAUL_OP_LIST;
    t->conn.kind = HAUL_STORE_SWIFT;
    t->conn.ca_file = haul_strdup("/ca.pem");
    t->conn.swift.auth_url = haul_strdup("http://127.0.0.1:8080/auth/v1.0");
    t->conn.swift.user = haul_strdup("test:tester");
    t->conn.swift.key = haul_strdup("testing");
    t->conn.swift.token = haul_strdup("AUTH_tk0123456789abcdef");
    t->conn.swift.storage_url = haul_strdup("http://127.0.0.1:8080/v1/AUTH_test");
    t->bucket = haul_strdup("LSST-IR-FUSION");
    t->max_inline = 4096;
    t->out_dir = haul_strdup("/out");
    t->suffixes = strv((const char *const[]){".zip"}, 1);
    t->nsuffixes = 1;
    t->sidecar_ext = haul_strdup(".meta");
    t->max_attempts = 1;
    t->first = 800;
    set_keys(t, keys, 3);
    t->attempt = 2;
    t->created_ms = 1;
    t->queue = haul_strdup("default");
    t->expires_ms = 86400001;
}

/* Encode, decode, compare; "" when the round trip is exact. key NULL: in the clear. */
static const char *round_trip_key(const haul_task *t, const unsigned char *key)
{
    static char msg[HAUL_ERR_LEN + 32];
    haul_buf b = HAUL_BUF_INIT;
    haul_task d;
    char err[HAUL_ERR_LEN];

    if (haul_task_encode_key(t, key, &b, err) < 0) {
        snprintf(msg, sizeof msg, "encode: %s", err);
        haul_buf_free(&b);
        return msg;
    }
    const char *e = decode_raw_key(b.p, b.len, key, &d);
    haul_buf_free(&b);
    if (e) {
        snprintf(msg, sizeof msg, "decode: %s", e);
        return msg;
    }
    snprintf(msg, sizeof msg, "%s", task_diff(t, &d));
    if (!msg[0] && d.version != HAUL_TASK_VERSION) snprintf(msg, sizeof msg, "version");
    haul_task_clear(&d);
    return msg;
}

static const char *round_trip(const haul_task *t)
{
    return round_trip_key(t, NULL);
}

/* ---- sealed tasks -------------------------------------------------------- */

static const unsigned char key1[HAUL_SEAL_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1f,
};
static const unsigned char key2[HAUL_SEAL_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1e,
};

/* memmem, which C11 and POSIX lack. */
static const char *find(const void *hay, size_t n, const void *needle, size_t m)
{
    const char *h = hay;
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(h + i, needle, m) == 0) return h + i;
    return NULL;
}

/* Where the bytes of the "sealed" value are in an encoded task: 0, or -1. */
static int sealed_span(const haul_buf *b, size_t *at, size_t *len)
{
    const char *k = find(b->p, b->len, "\xa6sealed", 7);
    if (!k) return -1;
    const unsigned char *h = (const unsigned char *)k + 7;
    int w = *h == 0xc4 ? 1 : *h == 0xc5 ? 2 : *h == 0xc6 ? 4 : 0;
    if (!w) return -1;
    *len = 0;
    for (int i = 1; i <= w; i++) *len = *len << 8 | h[i];
    *at = (size_t)((const char *)h + 1 + w - b->p);
    return 0;
}

/* b's task with the sealed value of from's (which must be as long): what a
 * Redis writer who wants other keys or another id done with someone's
 * credentials would try. NULL when the forgery is refused, else a sentence. */
static const char *splice_refused(haul_buf *b, const haul_buf *from)
{
    static char msg[HAUL_ERR_LEN + 64];
    size_t at, len, fat, flen;
    haul_task d;

    if (sealed_span(b, &at, &len) < 0 || sealed_span(from, &fat, &flen) < 0)
        return "no sealed field";
    if (len != flen) return "sealed values of different lengths";
    memcpy(b->p + at, from->p + fat, len);
    const char *e = decode_raw_key(b->p, b->len, key1, &d);
    haul_task_clear(&d);
    if (!e) return "the forgery decoded";
    if (strcmp(e, "task's sealed connection state failed authentication: wrong key "
                  "(HAUL_KEY_FILE), or the task was altered") != 0) {
        snprintf(msg, sizeof msg, "refused, but: %s", e);
        return msg;
    }
    return NULL;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Encode t sealed with key1 into a fresh *b. */
static int encode_sealed(const haul_task *t, haul_buf *b)
{
    char err[HAUL_ERR_LEN];
    haul_buf_free(b);
    return haul_task_encode_key(t, key1, b, err);
}

/* ---- operations and connections --------------------------------------- */

TEST(op_names)
{
    static const char *const names[] = {"list-buckets", "list", "head", "get", "sidecar"};
    haul_op op;
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(haul_op_parse(names[i], &op), 0);
        ASSERT_EQ(op, i + 1);
        ASSERT_STREQ(haul_op_str(op), names[i]);
    }
    ASSERT_STREQ(haul_op_str(HAUL_OP_NONE), "none");
    ASSERT_EQ(haul_op_parse("none", &op), -1);
    ASSERT_EQ(haul_op_parse("GET", &op), -1);
    ASSERT_EQ(haul_op_parse("", &op), -1);
    ASSERT_EQ(haul_op_parse(NULL, &op), -1);
    ASSERT_STREQ(haul_store_kind_str(HAUL_STORE_S3), "s3");
    ASSERT_STREQ(haul_store_kind_str(HAUL_STORE_SWIFT), "swift");
    ASSERT_STREQ(haul_store_kind_str(HAUL_STORE_NONE), "none");
}

TEST(conn_check_s3)
{
    haul_conn c;
    char err[HAUL_ERR_LEN];
    haul_conn_init(&c);
    ASSERT_EQ(c.tls_verify, 1);
    ASSERT_EQ(c.s3.path_style, 1);
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_HAS(err, "no object store configured");

    c.kind = HAUL_STORE_S3;
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "S3 endpoint missing: set --endpoint or AWS_ENDPOINT_URL");
    c.s3.endpoint = haul_strdup("127.0.0.1:8080");
    c.s3.region = haul_strdup("");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "S3 region missing: set --region or AWS_REGION");
    free(c.s3.region);
    c.s3.region = haul_strdup("us-east-1");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "S3 access key missing: set --access-key or AWS_ACCESS_KEY_ID");
    c.s3.access_key = haul_strdup("AKIDEXAMPLE");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "S3 secret key missing: set --secret-key or AWS_SECRET_ACCESS_KEY");
    c.s3.secret_key = haul_strdup("secret");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "S3 endpoint must start with http:// or https://: check --endpoint "
                 "or AWS_ENDPOINT_URL");
    free(c.s3.endpoint);
    c.s3.endpoint = haul_strdup("https://s3.example.org");
    ASSERT_EQ(haul_conn_check(&c, err), 0);
    free(c.s3.endpoint);
    c.s3.endpoint = haul_strdup("http://127.0.0.1:8080");
    ASSERT_EQ(haul_conn_check(&c, err), 0);
    haul_conn_clear(&c);
    ASSERT(c.s3.endpoint == NULL);
    ASSERT_EQ(c.kind, HAUL_STORE_NONE);
    haul_conn_clear(NULL);
}

TEST(conn_check_swift)
{
    haul_conn c;
    char err[HAUL_ERR_LEN];
    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "Swift needs --auth-url/--user/--key (ST_AUTH, ST_USER, ST_KEY) or "
                 "--token/--storage-url (OS_AUTH_TOKEN, OS_STORAGE_URL)");
    c.swift.auth_url = haul_strdup("http://127.0.0.1:8080/auth/v1.0");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "Swift user missing: set --user or ST_USER");
    c.swift.user = haul_strdup("test:tester");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "Swift key missing: set --key or ST_KEY");
    c.swift.key = haul_strdup("testing");
    ASSERT_EQ(haul_conn_check(&c, err), 0);
    haul_conn_clear(&c);

    c.kind = HAUL_STORE_SWIFT;
    c.swift.token = haul_strdup("AUTH_tk");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_STREQ(err, "Swift storage URL missing: set --storage-url or OS_STORAGE_URL");
    c.swift.storage_url = haul_strdup("/v1/AUTH_test");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_HAS(err, "Swift storage URL must start with http:// or https://");
    free(c.swift.storage_url);
    c.swift.storage_url = haul_strdup("https://host/v1/AUTH_test");
    ASSERT_EQ(haul_conn_check(&c, err), 0);
    haul_conn_clear(&c);

    c.kind = HAUL_STORE_SWIFT;
    c.swift.auth_url = haul_strdup("host/auth/v1.0");
    c.swift.user = haul_strdup("u");
    c.swift.key = haul_strdup("k");
    ASSERT_EQ(haul_conn_check(&c, err), -1);
    ASSERT_HAS(err, "Swift auth URL must start with http:// or https://");
    haul_conn_clear(&c);
}

TEST(conn_describe_copy)
{
    haul_task t;
    haul_conn c;
    char out[256];

    full_s3(&t);
    haul_conn_init(&c);
    haul_conn_copy(&c, &t.conn);
    haul_task_clear(&t);           /* the copy owns its own strings */
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "s3 https://s3.example.org:9000 region eu-west-2 virtual-hosted "
                 "tls-verify off ca-file /etc/haul/ca.pem");
    ASSERT(!strstr(out, "AKID") && !strstr(out, "wJalr") && !strstr(out, "FwoG"));
    c.tls_verify = 1;
    c.s3.path_style = 1;
    free(c.ca_file);
    c.ca_file = NULL;
    free(c.s3.endpoint);
    c.s3.endpoint = haul_strdup("http://127.0.0.1:8080");
    free(c.s3.region);
    c.s3.region = haul_strdup("us-east-1");
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "s3 http://127.0.0.1:8080 region us-east-1");
    haul_conn_describe(&c, out, 8);
    ASSERT_STREQ(out, "s3 http");
    haul_conn_describe(&c, out, 0);
    haul_conn_clear(&c);

    full_swift(&t);
    haul_conn_copy(&c, &t.conn);
    haul_task_clear(&t);
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "swift http://127.0.0.1:8080/v1/AUTH_test (pre-issued token) "
                 "ca-file /ca.pem");
    free(c.swift.token);
    c.swift.token = NULL;
    free(c.ca_file);
    c.ca_file = NULL;
    free(c.swift.auth_url);
    c.swift.auth_url = haul_strdup("http://host/auth/v1.0");
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "swift http://host/auth/v1.0 user test:tester");
    ASSERT(!strstr(out, "testing"));
    haul_conn_clear(&c);
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "none");
}

/* ---- round trips -------------------------------------------------------- */

TEST(round_trip_s3_full)
{
    haul_task t;
    full_s3(&t);
    ASSERT_STREQ(round_trip(&t), "");
    t.conn.tls_verify = 1;
    t.conn.s3.path_style = 1;
    ASSERT_STREQ(round_trip(&t), "");
    haul_task_clear(&t);
}

TEST(round_trip_swift_full)
{
    haul_task t;
    full_swift(&t);
    ASSERT_STREQ(round_trip(&t), "");
    /* Credentials only, and token only. */
    free(t.conn.swift.token);
    free(t.conn.swift.storage_url);
    t.conn.swift.token = t.conn.swift.storage_url = NULL;
    ASSERT_STREQ(round_trip(&t), "");
    haul_task_clear(&t);
    full_swift(&t);
    free(t.conn.swift.auth_url);
    free(t.conn.swift.user);
    free(t.conn.swift.key);
    t.conn.swift.auth_url = t.conn.swift.user = t.conn.swift.key = NULL;
    ASSERT_STREQ(round_trip(&t), "");
    haul_task_clear(&t);
}

TEST(round_trip_optional_absent)
{
    haul_task t;
    haul_task_init(&t);
    t.id = haul_strdup("j:1");
    t.job = haul_strdup("j");
    t.op = HAUL_OP_LIST_BUCKETS;
    t.conn.kind = HAUL_STORE_S3;
    t.conn.s3.endpoint = haul_strdup("http://h");
    t.conn.s3.region = haul_strdup("r");
    t.conn.s3.access_key = haul_strdup("a");
    t.conn.s3.secret_key = haul_strdup("s");
    /* bucket, out_dir, sidecar_ext, session_token, ca_file: NULL; no keys. */
    ASSERT_STREQ(round_trip(&t), "");

    haul_task_clear(&t);
    t.id = haul_strdup("j:2");
    t.job = haul_strdup("j");
    t.op = HAUL_OP_HEAD;
    t.bucket = haul_strdup("b");
    t.conn.kind = HAUL_STORE_SWIFT;
    t.conn.swift.token = haul_strdup("tk");
    t.conn.swift.storage_url = haul_strdup("http://h/v1/AUTH_a");
    set_keys(&t, (const char *const[]){"k"}, 1);
    ASSERT_STREQ(round_trip(&t), "");
    haul_task_clear(&t);
}

TEST(round_trip_odd_keys)
{
    static const char *const keys[] = {
        "données/été ☃.txt", "日本語/ファイル", "a b  c ", "a+b=c&d", "%2F%20",
        "", "/leading/slash", "trailing/", "tab\there", "new\nline", "del\x7f",
        "quote\"'`", "back\\slash", "\xf0\x9f\x98\x80 emoji", "?query#frag",
    };
    haul_task t;
    full_s3(&t);
    for (size_t i = 0; i < t.nkeys; i++) free(t.keys[i]);
    free(t.keys);
    set_keys(&t, keys, sizeof keys / sizeof keys[0]);
    ASSERT_STREQ(round_trip(&t), "");
    haul_task_clear(&t);
}

TEST(round_trip_empty_keys)
{
    haul_task t, d;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    full_s3(&t);
    for (size_t i = 0; i < t.nkeys; i++) free(t.keys[i]);
    free(t.keys);
    t.keys = NULL;
    t.nkeys = 0;
    ASSERT_STREQ(round_trip(&t), "");
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    ASSERT(decode_raw(b.p, b.len, &d) == NULL);
    ASSERT_EQ(d.nkeys, 0);
    haul_task_clear(&d);
    haul_task_clear(&t);
    haul_buf_free(&b);
}

/* Every version-1 scheduler writes the same bytes for the same task; the
 * example in docs/protocol.md is this one. */
TEST(encoding_is_the_documented_one)
{
    static const unsigned char want[] = {
        0x8b, 0xa1, 0x76, 0x01, 0xa7, 0x61, 0x74, 0x74, 0x65, 0x6d, 0x70, 0x74, 0xce, 0x00,
        0x00, 0x00, 0x00, 0xa2, 0x69, 0x64, 0xa4, 0x6a, 0x31, 0x3a, 0x30, 0xa3, 0x6a, 0x6f,
        0x62, 0xa2, 0x6a, 0x31, 0xa2, 0x6f, 0x70, 0xa7, 0x73, 0x69, 0x64, 0x65, 0x63, 0x61,
        0x72, 0xa4, 0x63, 0x6f, 0x6e, 0x6e, 0x89, 0xa4, 0x6b, 0x69, 0x6e, 0x64, 0xa2, 0x73,
        0x33, 0xaa, 0x74, 0x6c, 0x73, 0x5f, 0x76, 0x65, 0x72, 0x69, 0x66, 0x79, 0xc3, 0xa7,
        0x63, 0x61, 0x5f, 0x66, 0x69, 0x6c, 0x65, 0xc0, 0xa8, 0x65, 0x6e, 0x64, 0x70, 0x6f,
        0x69, 0x6e, 0x74, 0xb5, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x31, 0x32, 0x37,
        0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x38, 0x30, 0x38, 0x30, 0xa6, 0x72, 0x65,
        0x67, 0x69, 0x6f, 0x6e, 0xa9, 0x75, 0x73, 0x2d, 0x65, 0x61, 0x73, 0x74, 0x2d, 0x31,
        0xaa, 0x61, 0x63, 0x63, 0x65, 0x73, 0x73, 0x5f, 0x6b, 0x65, 0x79, 0xab, 0x41, 0x4b,
        0x49, 0x44, 0x45, 0x58, 0x41, 0x4d, 0x50, 0x4c, 0x45, 0xaa, 0x73, 0x65, 0x63, 0x72,
        0x65, 0x74, 0x5f, 0x6b, 0x65, 0x79, 0xa6, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0xad,
        0x73, 0x65, 0x73, 0x73, 0x69, 0x6f, 0x6e, 0x5f, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0xc0,
        0xaa, 0x70, 0x61, 0x74, 0x68, 0x5f, 0x73, 0x74, 0x79, 0x6c, 0x65, 0xc3, 0xa6, 0x62,
        0x75, 0x63, 0x6b, 0x65, 0x74, 0xa3, 0x62, 0x6b, 0x74, 0xa4, 0x61, 0x72, 0x67, 0x73,
        0x85, 0xaa, 0x6d, 0x61, 0x78, 0x5f, 0x69, 0x6e, 0x6c, 0x69, 0x6e, 0x65, 0xce, 0x00,
        0x01, 0x00, 0x00, 0xa7, 0x6f, 0x75, 0x74, 0x5f, 0x64, 0x69, 0x72, 0xc0, 0xa8, 0x73,
        0x75, 0x66, 0x66, 0x69, 0x78, 0x65, 0x73, 0x91, 0xa4, 0x2e, 0x7a, 0x69, 0x70, 0xab,
        0x73, 0x69, 0x64, 0x65, 0x63, 0x61, 0x72, 0x5f, 0x65, 0x78, 0x74, 0xa9, 0x2e, 0x6d,
        0x65, 0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0xac, 0x6d, 0x61, 0x78, 0x5f, 0x61, 0x74,
        0x74, 0x65, 0x6d, 0x70, 0x74, 0x73, 0x04, 0xa5, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00,
        0xa4, 0x6b, 0x65, 0x79, 0x73, 0x92, 0xa5, 0x61, 0x2e, 0x7a, 0x69, 0x70, 0xa1, 0x62,
        0xa7, 0x63, 0x72, 0x65, 0x61, 0x74, 0x65, 0x64, 0xcf, 0x00, 0x00, 0x01, 0x8b, 0xcf,
        0xe5, 0x68, 0x00,
    };
    haul_task t;
    haul_buf b = HAUL_BUF_INIT, tmpl = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];

    haul_task_init(&t);
    t.id = haul_strdup("j1:0");
    t.job = haul_strdup("j1");
    t.op = HAUL_OP_SIDECAR;
    t.conn.kind = HAUL_STORE_S3;
    t.conn.s3.endpoint = haul_strdup("http://127.0.0.1:8080");
    t.conn.s3.region = haul_strdup("us-east-1");
    t.conn.s3.access_key = haul_strdup("AKIDEXAMPLE");
    t.conn.s3.secret_key = haul_strdup("secret");
    t.bucket = haul_strdup("bkt");
    t.max_inline = 65536;
    t.suffixes = strv((const char *const[]){".zip"}, 1);
    t.nsuffixes = 1;
    t.sidecar_ext = haul_strdup(".metadata");
    set_keys(&t, (const char *const[]){"a.zip", "b"}, 2);
    t.created_ms = UINT64_C(1700000000000);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    ASSERT_EQ(b.len, sizeof want);
    ASSERT_MEMEQ(b.p, want, sizeof want);
    ASSERT_EQ(HAUL_TASK_ATTEMPT_OFFSET, 13);
    ASSERT_MEMEQ(want, "\x8b\xa1v\x01\xa7" "attempt\xce\0\0\0\0", 17);
    /* Appending keeps what the buffer held. */
    haul_buf_reset(&b);
    haul_buf_adds(&b, "xyz");
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    ASSERT_EQ(b.len, 3 + sizeof want);
    ASSERT_MEMEQ(b.p, "xyz", 3);
    ASSERT_MEMEQ(b.p + 3, want, sizeof want);
    /* As the scheduler makes it: queue and expires follow, 31 bytes. */
    static const unsigned char tail[] = {
        0xa5, 0x71, 0x75, 0x65, 0x75, 0x65, 0xa7, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74,
        0xa7, 0x65, 0x78, 0x70, 0x69, 0x72, 0x65, 0x73, 0xcf, 0x00, 0x00, 0x01, 0x8b, 0xd5,
        0x0b, 0xc4, 0x00,
    };
    t.queue = haul_strdup("default");
    t.expires_ms = UINT64_C(1700086400000);
    haul_buf_reset(&b);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    ASSERT_EQ(b.len, sizeof want + sizeof tail);
    ASSERT_EQ((unsigned char)b.p[0], 0x8d);
    ASSERT_MEMEQ(b.p + 1, want + 1, sizeof want - 1);
    ASSERT_MEMEQ(b.p + sizeof want, tail, sizeof tail);
    haul_task_clear(&t);
    /* The template the malformed-input tests patch is a valid task too. */
    build(&tmpl, NULL, 0);
    ASSERT(decode_raw(tmpl.p, tmpl.len, &t) == NULL);
    ASSERT_STREQ(t.id, "job1:0");
    ASSERT_EQ(t.nkeys, 2);
    haul_task_clear(&t);
    haul_buf_reset(&tmpl);
    build(&tmpl, NULL, 1);
    ASSERT(decode_raw(tmpl.p, tmpl.len, &t) == NULL);
    ASSERT_STREQ(t.conn.swift.user, "test:tester");
    haul_task_clear(&t);
    haul_buf_free(&tmpl);
    haul_buf_free(&b);
}

/* ---- the delivery count at a fixed place ----------------------------------- */

/* The 17 bytes every task starts with, whatever else it holds, sealed or not. */
TEST(attempt_at_a_fixed_offset)
{
    static const uint32_t counts[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 0x01020304,
                                      UINT32_MAX};
    for (int sealed = 0; sealed < 2; sealed++) {
        for (int swift = 0; swift < 2; swift++) {
            for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
                haul_task t, d;
                haul_buf b = HAUL_BUF_INIT;
                char err[HAUL_ERR_LEN];
                if (swift) full_swift(&t);
                else full_s3(&t);
                t.attempt = counts[i];
                ASSERT_EQ(haul_task_encode_key(&t, sealed ? key1 : NULL, &b, err), 0);
                const unsigned char *u = (const unsigned char *)b.p;
                ASSERT_EQ(u[0], 0x8d); /* 11 entries, queue and expires */
                ASSERT_MEMEQ(b.p + 1, "\xa1v\x01\xa7" "attempt\xce", 12);
                uint32_t v = (uint32_t)u[13] << 24 | (uint32_t)u[14] << 16 |
                             (uint32_t)u[15] << 8 | u[16];
                ASSERT_EQ(v, counts[i]);
                ASSERT(decode_raw_key(b.p, b.len, sealed ? key1 : NULL, &d) == NULL);
                ASSERT_EQ(d.attempt, counts[i]);
                haul_task_clear(&d);
                haul_task_clear(&t);
                haul_buf_free(&b);
            }
        }
    }
}

TEST(bump_attempt)
{
    haul_task t, d;
    haul_buf b = HAUL_BUF_INIT, orig = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    uint32_t now = 0;

    /* In the clear and sealed: +1 in place, and the task still decodes, the
     * sealed one still authenticates, with nothing else changed. */
    for (int sealed = 0; sealed < 2; sealed++) {
        const unsigned char *key = sealed ? key1 : NULL;
        full_swift(&t);
        t.attempt = 255;
        haul_buf_reset(&b);
        ASSERT_EQ(haul_task_encode_key(&t, key, &b, err), 0);
        haul_buf_reset(&orig);
        haul_buf_add(&orig, b.p, b.len);
        ASSERT_EQ(haul_task_bump_attempt(b.p, b.len, &now), 0);
        ASSERT_EQ(now, 256);
        ASSERT_MEMEQ(b.p + 13, "\0\0\x01\0", 4);
        ASSERT_MEMEQ(b.p, orig.p, 13);
        ASSERT_MEMEQ(b.p + 17, orig.p + 17, b.len - 17);
        ASSERT(decode_raw_key(b.p, b.len, key, &d) == NULL);
        ASSERT_EQ(d.attempt, 256);
        t.attempt = 256;
        ASSERT_STREQ(task_diff(&t, &d), "");
        haul_task_clear(&d);
        ASSERT_EQ(haul_task_bump_attempt(b.p, b.len, NULL), 0);
        ASSERT(decode_raw_key(b.p, b.len, key, &d) == NULL);
        ASSERT_EQ(d.attempt, 257);
        haul_task_clear(&d);
        haul_task_clear(&t);
    }

    /* The count does not wrap around. */
    full_s3(&t);   /* attempt = UINT32_MAX */
    haul_buf_reset(&b);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    haul_buf_reset(&orig);
    haul_buf_add(&orig, b.p, b.len);
    now = 7;
    ASSERT_EQ(haul_task_bump_attempt(b.p, b.len, &now), -1);
    ASSERT_EQ(now, 7);
    ASSERT_MEMEQ(b.p, orig.p, b.len);
    haul_task_clear(&t);

    /* Foreign layouts are left alone: another encoder's order (the template),
     * attempt as a fixint, a map16 header, another version, too short. */
    full_s3(&t);
    t.attempt = 3;
    haul_buf_reset(&b);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    haul_task_clear(&t);
    haul_buf_reset(&orig);
    build(&orig, NULL, 0);
    ASSERT_EQ(haul_task_bump_attempt(orig.p, orig.len, &now), -1);
    static const char *const foreign[] = {
        "\x8b\xa1v\x01\xa7" "attempt\x03\0\0\0\0",           /* fixint */
        "\xde\0\x0b\xa1v\x01\xa7" "attempt\xce\0\0\0\x03",   /* map16 */
        "\x8b\xa1v\x02\xa7" "attempt\xce\0\0\0\x03",         /* version 2 */
        "\x8b\xa1v\xcc\x01\xa7" "attempt\xce\0\0\0\x03",     /* v as uint8 */
        "\x8b\xa1w\x01\xa7" "attempt\xce\0\0\0\x03",
        "\x8b\xa1v\x01\xa7" "attempu\xce\0\0\0\x03",
        "\x8b\xa1v\x01\xa7" "attempt\xcf\0\0\0\x03",
        "\x80\xa1v\x01\xa7" "attempt\xce\0\0\0\x03",         /* an empty map */
        "\x81\xa1v\x01\xa7" "attempt\xce\0\0\0\x03",         /* one entry */
        "\xa1v\x01\xa7" "attempt\xce\0\0\0\x03\0",           /* not a map */
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        char raw[18];
        memcpy(raw, foreign[i], 17);
        ASSERT_EQ(haul_task_bump_attempt(raw, 17, &now), -1);
        ASSERT_MEMEQ(raw, foreign[i], 17);
    }
    char ok[17];
    memcpy(ok, "\x82\xa1v\x01\xa7" "attempt\xce\0\0\0\x03", 17);
    ASSERT_EQ(haul_task_bump_attempt(ok, 17, &now), 0);
    ASSERT_EQ(now, 4);
    ASSERT_EQ(haul_task_bump_attempt(ok, 16, &now), -1);
    ASSERT_EQ(haul_task_bump_attempt(b.p, 16, &now), -1);
    ASSERT_EQ(haul_task_bump_attempt(NULL, 0, &now), -1);
    ASSERT_EQ(haul_task_bump_attempt(b.p, b.len, &now), 0);
    ASSERT_EQ(now, 4);
    haul_buf_free(&b);
    haul_buf_free(&orig);
}

/* ---- args.max_attempts ------------------------------------------------------ */

TEST(max_attempts)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];

    haul_task_init(&t);
    ASSERT_EQ(t.max_attempts, HAUL_TASK_DEFAULT_ATTEMPTS);
    ASSERT_EQ(HAUL_TASK_DEFAULT_ATTEMPTS, 4);
    haul_task_clear(&t);
    ASSERT_EQ(t.max_attempts, 4);

    /* Absent (the template has none): 4. */
    ASSERT(decode_patched(NULL, 0, &t) == NULL);
    ASSERT_EQ(t.max_attempts, 4);
    haul_task_clear(&t);
    patch one[] = {{"args.+", RAW("\xac" "max_attempts\x01")}, {NULL, NULL, 0}};
    ASSERT(decode_patched(one, 0, &t) == NULL);
    ASSERT_EQ(t.max_attempts, 1);
    haul_task_clear(&t);
    patch most[] = {{"args.+", RAW("\xac" "max_attempts\xcd\x03\xe8")}, {NULL, NULL, 0}};
    ASSERT(decode_patched(most, 0, &t) == NULL);
    ASSERT_EQ(t.max_attempts, 1000);
    haul_task_clear(&t);

    ASSERT_STREQ(patch_err("args.+", RAW("\xac" "max_attempts\x00")),
                 "task field 'args.max_attempts': 0, must be at least 1 (1 means no retries)");
    ASSERT_STREQ(patch_err("args.+", RAW("\xac" "max_attempts\xcd\x03\xe9")),
                 "task field 'args.max_attempts': 1001 out of range, limit 1000");
    ASSERT_STREQ(patch_err("args.+", RAW("\xac" "max_attempts\xcf\xff\xff\xff\xff\xff\xff"
                                         "\xff\xff")),
                 "task field 'args.max_attempts': 18446744073709551615 out of range, "
                 "limit 1000");
    ASSERT_STREQ(patch_err("args.+", RAW("\xac" "max_attempts\xff")),
                 "task field 'args.max_attempts': negative (-1), expected an unsigned "
                 "integer");
    ASSERT_HAS(patch_err("args.+", RAW("\xac" "max_attempts\xa1" "4")),
               "task field 'args.max_attempts': expected an unsigned integer, got a string");
    ASSERT_STREQ(patch_err("args", RAW("\x82\xac" "max_attempts\x01\xac" "max_attempts\x02")),
                 "task field 'args.max_attempts': appears twice");

    /* The encoder refuses what the decoder would, and round-trips the rest. */
    full_s3(&t);
    haul_buf_adds(&b, "kept");
    t.max_attempts = 0;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'args.max_attempts': 0, must be at least 1 (1 means no "
                 "retries)");
    t.max_attempts = HAUL_TASK_MAX_ATTEMPTS + 1;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'args.max_attempts': 1001 out of range, limit 1000");
    ASSERT_EQ(haul_task_encode_key(&t, key1, &b, err), -1);
    ASSERT_STREQ(err, "task field 'args.max_attempts': 1001 out of range, limit 1000");
    ASSERT_EQ(b.len, 4);
    static const uint32_t fine[] = {1, 2, 4, 127, 128, 999, 1000};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        t.max_attempts = fine[i];
        ASSERT_STREQ(round_trip(&t), "");
    }
    haul_task_clear(&t);
    haul_buf_free(&b);
}

/* ---- sealed connection state ------------------------------------------------ */

TEST(sealed_round_trip)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    size_t at, len;

    full_s3(&t);
    ASSERT_STREQ(round_trip_key(&t, key1), "");
    free(t.conn.s3.secret_key);
    t.conn.s3.secret_key = haul_strdup("SuperSecret123");
    ASSERT_STREQ(round_trip_key(&t, key1), "");

    /* None of the connection is in the bytes: no secret, and not even the
     * endpoint or the access key id; "conn" itself is gone. */
    ASSERT_EQ(haul_task_encode_key(&t, key1, &b, err), 0);
    ASSERT(find(b.p, b.len, "SuperSecret123", 14) == NULL);
    ASSERT(find(b.p, b.len, "FwoGZXIvYXdzEXAMPLETOKEN", 24) == NULL);
    ASSERT(find(b.p, b.len, "AKIDEXAMPLE", 11) == NULL);
    ASSERT(find(b.p, b.len, "s3.example.org", 14) == NULL);
    ASSERT(find(b.p, b.len, "\xa4" "conn", 5) == NULL);
    ASSERT_EQ(sealed_span(&b, &at, &len), 0);
    ASSERT(len > HAUL_SEAL_OVERHEAD && len < 400);
    /* The same task sealed twice: a fresh nonce each time. */
    haul_buf b2 = HAUL_BUF_INIT;
    ASSERT_EQ(haul_task_encode_key(&t, key1, &b2, err), 0);
    ASSERT_EQ(b2.len, b.len);
    ASSERT(memcmp(b.p, b2.p, b.len) != 0);
    haul_buf_free(&b2);
    /* In the clear, by contrast, it is all there. */
    haul_buf_reset(&b);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    ASSERT(find(b.p, b.len, "SuperSecret123", 14) != NULL);
    haul_task_clear(&t);

    full_swift(&t);
    ASSERT_STREQ(round_trip_key(&t, key1), "");
    haul_buf_reset(&b);
    ASSERT_EQ(haul_task_encode_key(&t, key1, &b, err), 0);
    ASSERT(find(b.p, b.len, "testing", 7) == NULL);
    ASSERT(find(b.p, b.len, "AUTH_tk0123456789abcdef", 23) == NULL);
    haul_task_clear(&t);

    /* Optional fields absent, no keys, list-buckets with a nil bucket. */
    haul_task_init(&t);
    t.id = haul_strdup("j:1");
    t.job = haul_strdup("j");
    t.op = HAUL_OP_LIST_BUCKETS;
    t.conn.kind = HAUL_STORE_S3;
    t.conn.s3.endpoint = haul_strdup("http://h");
    t.conn.s3.region = haul_strdup("r");
    t.conn.s3.access_key = haul_strdup("a");
    t.conn.s3.secret_key = haul_strdup("s");
    ASSERT_STREQ(round_trip(&t), "");
    t.queue = haul_strdup("q");
    t.expires_ms = 1;
    ASSERT_STREQ(round_trip_key(&t, key1), "");
    t.bucket = haul_strdup("");
    ASSERT_STREQ(round_trip_key(&t, key1), "");
    haul_task_clear(&t);
    haul_buf_free(&b);
}

/* The example of docs/protocol.md, sealed: the associated data is the one
 * documented there, and the plaintext is exactly the clear "conn" value. */
TEST(sealed_is_the_documented_one)
{
    static const char aad[] =
        "haul-task-aad-v2\0" "j1:0\0" "j1\0" "sidecar\0" "+bkt\0" "-\0" "+.metadata\0"
        "1\0" ".zip\0" "0\0" "65536\0" "4\0" "2\0" "a.zip\0" "b\0" "+default\0"
        "1700086400000\0";
    haul_task t, d;
    haul_buf clear = HAUL_BUF_INIT, sealed = HAUL_BUF_INIT, pt = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    size_t at, len;

    haul_task_init(&t);
    t.id = haul_strdup("j1:0");
    t.job = haul_strdup("j1");
    t.op = HAUL_OP_SIDECAR;
    t.conn.kind = HAUL_STORE_S3;
    t.conn.s3.endpoint = haul_strdup("http://127.0.0.1:8080");
    t.conn.s3.region = haul_strdup("us-east-1");
    t.conn.s3.access_key = haul_strdup("AKIDEXAMPLE");
    t.conn.s3.secret_key = haul_strdup("secret");
    t.bucket = haul_strdup("bkt");
    t.max_inline = 65536;
    t.suffixes = strv((const char *const[]){".zip"}, 1);
    t.nsuffixes = 1;
    t.sidecar_ext = haul_strdup(".metadata");
    set_keys(&t, (const char *const[]){"a.zip", "b"}, 2);
    t.created_ms = UINT64_C(1700000000000);
    t.queue = haul_strdup("default");
    t.expires_ms = UINT64_C(1700086400000);
    ASSERT_EQ(haul_task_encode(&t, &clear, err), 0);
    ASSERT_EQ(haul_task_encode_key(&t, key1, &sealed, err), 0);

    /* Same fields, same order, "sealed" where "conn" was. */
    const char *c = find(clear.p, clear.len, "\xa4" "conn", 5);
    const char *bk = find(clear.p, clear.len, "\xa6" "bucket", 7);
    ASSERT(c && bk);
    size_t conn_at = (size_t)(c - clear.p) + 5, conn_len = (size_t)(bk - c) - 5;
    ASSERT_EQ(sealed_span(&sealed, &at, &len), 0);
    ASSERT_EQ(len, conn_len + HAUL_SEAL_OVERHEAD);
    ASSERT_MEMEQ(sealed.p, clear.p, conn_at - 5);
    ASSERT_MEMEQ(sealed.p + conn_at - 5, "\xa6sealed\xc4", 8);
    ASSERT_EQ((unsigned char)sealed.p[conn_at + 3], len);
    ASSERT_EQ(sealed.len - (at + len), clear.len - (conn_at + conn_len));
    ASSERT_MEMEQ(sealed.p + at + len, clear.p + conn_at + conn_len, sealed.len - (at + len));

    ASSERT_EQ(haul_unseal(key1, aad, sizeof aad - 1, sealed.p + at, len, &pt, err), 0);
    ASSERT_EQ(pt.len, conn_len);
    ASSERT_MEMEQ(pt.p, clear.p + conn_at, conn_len);
    haul_buf_reset(&pt);
    ASSERT_EQ(haul_unseal(key1, aad, sizeof aad - 2, sealed.p + at, len, &pt, err), -1);
    ASSERT(decode_raw_key(sealed.p, sealed.len, key1, &d) == NULL);
    ASSERT_STREQ(task_diff(&t, &d), "");
    haul_task_clear(&d);
    haul_task_clear(&t);
    haul_buf_free(&clear);
    haul_buf_free(&sealed);
    haul_buf_free(&pt);
}

TEST(sealed_who_may_decode)
{
    haul_task t, d;
    haul_buf clear = HAUL_BUF_INIT, sealed = HAUL_BUF_INIT, both = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];

    full_s3(&t);
    ASSERT_EQ(haul_task_encode(&t, &clear, err), 0);
    ASSERT_EQ(haul_task_encode_key(&t, key1, &sealed, err), 0);

    ASSERT_STREQ(decode_raw_key(clear.p, clear.len, key1, &d),
                 "task is not sealed but this worker has a key (HAUL_KEY_FILE): refusing "
                 "it; a task in the clear may be forged");
    ASSERT(d.conn.s3.secret_key == NULL && d.id == NULL);
    ASSERT_STREQ(decode_raw(sealed.p, sealed.len, &d),
                 "task is sealed: this worker has no key; set HAUL_KEY_FILE to the "
                 "scheduler's key file");
    ASSERT_STREQ(decode_raw_key(sealed.p, sealed.len, key2, &d),
                 "task's sealed connection state failed authentication: wrong key "
                 "(HAUL_KEY_FILE), or the task was altered");
    ASSERT(decode_raw_key(sealed.p, sealed.len, key1, &d) == NULL);
    haul_task_clear(&d);

    /* Both fields: the sealed task with the clear one's "conn" added at the end. */
    const char *c = find(clear.p, clear.len, "\xa4" "conn", 5);
    const char *bk = find(clear.p, clear.len, "\xa6" "bucket", 7);
    ASSERT(c && bk);
    haul_buf_add(&both, sealed.p, sealed.len);
    both.p[0] = (char)(sealed.p[0] + 1);
    haul_buf_add(&both, c, (size_t)(bk - c));
    static const char want_both[] = "task has both 'conn' and 'sealed': refusing it (a sealed "
                                    "task carries its connection state only in 'sealed')";
    ASSERT_STREQ(decode_raw_key(both.p, both.len, key1, &d), want_both);
    ASSERT_STREQ(decode_raw(both.p, both.len, &d), want_both);
    /* Neither. */
    ASSERT_STREQ(patch_err("conn", OMIT), "task field 'conn': missing");
    haul_buf_reset(&both);
    build(&both, (const patch[]){{"conn", OMIT}, {NULL, NULL, 0}}, 0);
    ASSERT_HAS(decode_raw_key(both.p, both.len, key1, &d), "task is not sealed but this "
               "worker has a key");
    haul_task_clear(&t);
    haul_buf_free(&clear);
    haul_buf_free(&sealed);
    haul_buf_free(&both);
}

TEST(sealed_field_limits)
{
    haul_buf raw = HAUL_BUF_INIT, b = HAUL_BUF_INIT;
    haul_task t;

    /* Over the limit: refused on the header, by a worker with a key or without. */
    mp_str(&raw, "sealed");
    mp_byte(&raw, 0xc6);
    mp_be(&raw, HAUL_SEALED_MAX + 1, 4);
    for (unsigned i = 0; i < HAUL_SEALED_MAX + 1; i++) mp_byte(&raw, 0);
    patch big[] = {{"conn", OMIT}, {"+", raw.p, raw.len}, {NULL, NULL, 0}};
    build(&b, big, 0);
    ASSERT_STREQ(decode_raw_key(b.p, b.len, key1, &t),
                 "task field 'sealed': 65537 bytes, limit 65536");
    ASSERT_STREQ(decode_raw(b.p, b.len, &t), "task field 'sealed': 65537 bytes, limit 65536");
    /* A length the bytes do not hold. */
    patch lie[] = {{"conn", OMIT}, {"+", RAW("\xa6sealed\xc6\xff\xff\xff\xff")},
                   {NULL, NULL, 0}};
    haul_buf_reset(&b);
    build(&b, lie, 0);
    ASSERT_HAS(decode_raw_key(b.p, b.len, key1, &t), "task: truncated at byte");
    /* Too short for a nonce and a tag, empty, all zeros, or not binary. */
    static const struct { const char *raw; size_t len; const char *want; } cases[] = {
        {RAW("\xa6sealed\xc4\x00"), "failed authentication"},
        {RAW("\xa6sealed\xc4\x1b" "0123456789abcdef0123456789a"), "failed authentication"},
        {RAW("\xa6sealed\xc4\x1c" "0123456789abcdef0123456789ab"), "failed authentication"},
        {RAW("\xa6sealed\xc4\x20" "0123456789abcdef0123456789abcdef"),
         "failed authentication"},
        {RAW("\xa6sealed\xc0"), "task field 'sealed': expected binary, got nil"},
        {RAW("\xa6sealed\x80"), "task field 'sealed': expected binary, got a map"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        patch ps[] = {{"conn", OMIT}, {"+", cases[i].raw, cases[i].len}, {NULL, NULL, 0}};
        haul_buf_reset(&b);
        build(&b, ps, 0);
        ASSERT_HAS(decode_raw_key(b.p, b.len, key1, &t), cases[i].want);
    }
    ASSERT_STREQ(patch_err("+", RAW("\xa6sealed\xc4\x00")),
                 "task has both 'conn' and 'sealed': refusing it (a sealed task carries its "
                 "connection state only in 'sealed')");
    haul_buf_free(&raw);
    haul_buf_free(&b);
}

/* The plaintext of "sealed" gets the checks a clear "conn" gets: made with the
 * right key, so only a broken scheduler could send these. */
TEST(sealed_plaintext_checked)
{
    static const struct { const char *pt; size_t len; const char *want; } cases[] = {
        {RAW("\x81\xa4kind\xa2s3"), "task conn: S3 endpoint missing"},
        {RAW("\x81\xa4kind\xa3gcs"), "task field 'conn.kind': unknown store kind 'gcs'"},
        {RAW("\x80"), "task field 'conn.kind': missing"},
        {RAW(""), "task field 'sealed': the sealed connection state is not a msgpack map"},
        {RAW("\x92\x01\x02"), "task field 'sealed': the sealed connection state is not a "
                              "msgpack map"},
        {RAW("\x81\xa4kind\xa2s3\x00"), "task field 'sealed': trailing bytes after the sealed "
                                        "connection map (1 bytes from byte 9 of 10)"},
        {RAW("\x82\xa4kind\xa2s3"), "task: truncated at byte 9 of 9"},
        {RAW("\x81\xa1x\x91\x91\x91\x91\x91\x91\x91\xc0"), "task: nested deeper than 8"},
    };
    haul_task t;
    haul_buf b = HAUL_BUF_INIT, sealed = HAUL_BUF_INIT, aad = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];

    /* The template's associated data, as docs/protocol.md defines it. */
    static const char tmpl_aad[] =
        "haul-task-aad-v2\0" "job1:0\0" "job1\0" "sidecar\0" "+bkt\0" "-\0" "+.metadata\0"
        "1\0" ".zip\0" "0\0" "65536\0" "4\0" "2\0" "a.zip\0" "b\0" "+default\0"
        "4102444800000\0";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        haul_buf_reset(&sealed);
        haul_buf_reset(&b);
        ASSERT_EQ(haul_seal(key1, tmpl_aad, sizeof tmpl_aad - 1, cases[i].pt, cases[i].len,
                            &sealed, err), 0);
        mp_str(&b, "sealed");
        mp_byte(&b, 0xc4);
        mp_byte(&b, (unsigned)sealed.len);
        haul_buf_add(&b, sealed.p, sealed.len);
        patch ps[] = {{"conn", OMIT}, {"+", b.p, b.len}, {NULL, NULL, 0}};
        haul_buf_reset(&aad);
        build(&aad, ps, 0);
        const char *e = decode_raw_key(aad.p, aad.len, key1, &t);
        ASSERT_HAS(e, cases[i].want);
    }
    /* And a good one decodes: this template is sealed correctly. */
    haul_buf_reset(&sealed);
    haul_buf_reset(&b);
    static const char good[] = "\x85\xa4kind\xa2s3\xa8" "endpoint\xa8http://h\xa6region\xa1r"
                               "\xaa" "access_key\xa1" "a\xaasecret_key\xa1s";
    ASSERT_EQ(haul_seal(key1, tmpl_aad, sizeof tmpl_aad - 1, good, sizeof good - 1, &sealed,
                        err), 0);
    mp_str(&b, "sealed");
    mp_byte(&b, 0xc4);
    mp_byte(&b, (unsigned)sealed.len);
    haul_buf_add(&b, sealed.p, sealed.len);
    patch ps[] = {{"conn", OMIT}, {"+", b.p, b.len}, {NULL, NULL, 0}};
    haul_buf_reset(&aad);
    build(&aad, ps, 0);
    ASSERT(decode_raw_key(aad.p, aad.len, key1, &t) == NULL);
    ASSERT_STREQ(t.conn.s3.endpoint, "http://h");
    ASSERT_EQ(t.attempt, 0);
    haul_task_clear(&t);
    haul_buf_free(&b);
    haul_buf_free(&sealed);
    haul_buf_free(&aad);
}

/* What a Redis writer can do with a sealed task it cannot open: put its
 * sealed value in a task that differs in any one field it binds. */
TEST(sealed_forgeries_refused)
{
    haul_task t;
    haul_buf a = HAUL_BUF_INIT, b = HAUL_BUF_INIT;

#define FORGE(CHANGE) do {                                                \
        full_s3(&t);                                                     \
        ASSERT_EQ(encode_sealed(&t, &a), 0);                             \
        CHANGE;                                                          \
        ASSERT_EQ(encode_sealed(&t, &b), 0);                             \
        const char *e_ = splice_refused(&b, &a);                         \
        if (e_) FAIL_("%s: %s", #CHANGE, e_);                            \
        haul_task_clear(&t);                                             \
    } while (0)
#define SET(field, v) (free(field), (field) = haul_strdup(v))

    FORGE(SET(t.keys[1], "dummy/1/1_1.g"));                 /* another key */
    FORGE(SET(t.keys[2], "y"));
    FORGE((free(t.keys[2]), t.nkeys = 2));                  /* a key fewer */
    FORGE(SET(t.id, "job-7f3a:13"));                        /* another id */
    FORGE(SET(t.job, "job-7f3b"));
    FORGE(t.op = HAUL_OP_HEAD);
    FORGE(SET(t.bucket, "LSST-IR-FUSION-testfromopenstacj"));
    FORGE(SET(t.out_dir, "/etc/haul out"));
    FORGE((free(t.out_dir), t.out_dir = NULL));
    FORGE(SET(t.sidecar_ext, ".metadatb"));
    FORGE(SET(t.suffixes[0], ".zap"));
    FORGE((free(t.suffixes[2]), t.nsuffixes = 2));
    FORGE(t.first++);
    FORGE(t.max_inline--);
    FORGE(t.max_attempts--);
    FORGE(SET(t.queue, "bulk-us"));                         /* moved to another queue */
    FORGE(t.expires_ms--);                                  /* a longer or shorter life */
    /* Without the count of suffixes, these two would give the same items:
     * suffixes [], first 5, max_inline 0, max_attempts 4, keys ["1", "1"];
     * suffixes ["5"], first 0, max_inline 4, max_attempts 2, keys ["1"]. */
    full_s3(&t);
    free_list(t.suffixes, t.nsuffixes);
    free_list(t.keys, t.nkeys);
    t.suffixes = NULL;
    t.nsuffixes = 0;
    t.first = 5;
    t.max_inline = 0;
    t.max_attempts = 4;
    set_keys(&t, (const char *const[]){"1", "1"}, 2);
    ASSERT_EQ(encode_sealed(&t, &a), 0);
    free_list(t.keys, t.nkeys);
    t.suffixes = strv((const char *const[]){"5"}, 1);
    t.nsuffixes = 1;
    t.first = 0;
    t.max_inline = 4;
    t.max_attempts = 2;
    set_keys(&t, (const char *const[]){"1"}, 1);
    ASSERT_EQ(encode_sealed(&t, &b), 0);
    ASSERT(splice_refused(&b, &a) == NULL);
    haul_task_clear(&t);
    /* nil and "" differ: a nil sidecar_ext is ".metadata", "" is nothing. */
    full_s3(&t);
    free(t.sidecar_ext);
    t.sidecar_ext = NULL;
    ASSERT_EQ(encode_sealed(&t, &a), 0);
    t.sidecar_ext = haul_strdup("");
    ASSERT_EQ(encode_sealed(&t, &b), 0);
    ASSERT(splice_refused(&b, &a) == NULL);
    haul_task_clear(&t);

    /* Unbound: the delivery count and the creation time, which the reaper
     * and the scheduler's clock may change. */
    full_s3(&t);
    ASSERT_EQ(encode_sealed(&t, &a), 0);
    t.attempt = 0;
    t.created_ms = 5;
    ASSERT_EQ(encode_sealed(&t, &b), 0);
    size_t at, len, fat, flen;
    ASSERT_EQ(sealed_span(&b, &at, &len), 0);
    ASSERT_EQ(sealed_span(&a, &fat, &flen), 0);
    memcpy(b.p + at, a.p + fat, len);
    haul_task d;
    ASSERT(decode_raw_key(b.p, b.len, key1, &d) == NULL);
    ASSERT_STREQ(task_diff(&t, &d), "");
    haul_task_clear(&d);
    haul_task_clear(&t);
    haul_buf_free(&a);
    haul_buf_free(&b);
#undef FORGE
#undef SET
}

/* "" when a and b differ in attempt and created at most. */
static const char *diff_but_counters(const haul_task *a, haul_task *b)
{
    uint32_t attempt = b->attempt;
    uint64_t created = b->created_ms;
    b->attempt = a->attempt;
    b->created_ms = a->created_ms;
    const char *d = task_diff(a, b);
    b->attempt = attempt;
    b->created_ms = created;
    return d;
}

/* Flip each byte of a sealed task, three ways: every result is refused,
 * except where the bytes are not authenticated. Those are the "attempt" and
 * "created" entries: a flip inside either value decodes, changing that value
 * only; a flip in either name or type byte is refused or decodes, changing
 * those values only. */
TEST(sealed_every_byte_flipped)
{
    static const unsigned masks[] = {0x01, 0x80, 0xff};
    for (int swift = 0; swift < 2; swift++) {
        haul_task t, d;
        haul_buf b = HAUL_BUF_INIT;
        if (swift) full_swift(&t);
        else full_s3(&t);
        t.attempt = 3;
        t.created_ms = UINT64_C(1732500000123); /* a uint64: "created" takes 17 bytes */
        ASSERT_EQ(encode_sealed(&t, &b), 0);
        const char *c = find(b.p, b.len, "\xa7" "created\xcf", 9);
        ASSERT(c != NULL);
        size_t created = (size_t)(c - b.p);
        size_t refused = 0, n = 0;
        char *copy = haul_malloc(b.len);
        for (size_t i = 0; i < b.len; i++) {
            int attempt_entry = i >= 4 && i < 17, created_entry = i >= created &&
                                                                 i < created + 17;
            int in_value = (i >= 13 && i < 17) || (i >= created + 9 && i < created + 17);
            for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
                memcpy(copy, b.p, b.len);
                copy[i] = (char)(copy[i] ^ masks[m]);
                const char *e = decode_raw_key(copy, b.len, key1, &d);
                n++;
                if (e) {
                    if (in_value) FAIL_("byte %zu ^ 0x%02x: %s", i, masks[m], e);
                    if (!attempt_entry && !created_entry) refused++;
                    continue;
                }
                if (!attempt_entry && !created_entry)
                    FAIL_("byte %zu ^ 0x%02x of %zu decoded", i, masks[m], b.len);
                const char *diff = diff_but_counters(&t, &d);
                if (*diff) FAIL_("byte %zu ^ 0x%02x: %s", i, masks[m], diff);
                if (in_value && d.attempt == t.attempt && d.created_ms == t.created_ms)
                    FAIL_("byte %zu ^ 0x%02x: nothing changed", i, masks[m]);
                haul_task_clear(&d);
            }
        }
        ASSERT_EQ(refused, (b.len - 13 - 17) * 3);
        ASSERT_EQ(n, b.len * 3);
        free(copy);
        haul_task_clear(&t);
        haul_buf_free(&b);
    }
}

/* Every proper prefix of a sealed task is refused too, as a keyed worker
 * reads it. */
TEST(sealed_truncated_at_every_byte)
{
    haul_task t, d;
    haul_buf b = HAUL_BUF_INIT;
    full_swift(&t);
    ASSERT_EQ(encode_sealed(&t, &b), 0);
    for (size_t n = 0; n < b.len; n++) {
        const char *e = decode_raw_key(b.p, n, key1, &d);
        if (!e) FAIL_("prefix of %zu of %zu bytes decoded", n, b.len);
        ASSERT(d.id == NULL && d.conn.swift.key == NULL);
    }
    haul_task_clear(&t);
    haul_buf_free(&b);
}

/* ---- limits --------------------------------------------------------------- */

TEST(key_size_limit)
{
    char *big = haul_malloc(HAUL_KEY_MAX + 2);
    haul_task t;
    haul_buf raw = HAUL_BUF_INIT;

    memset(big, 'k', HAUL_KEY_MAX + 1);
    big[HAUL_KEY_MAX] = '\0';
    full_s3(&t);
    free(t.keys[1]);
    t.keys[1] = haul_strdup(big);
    ASSERT_STREQ(round_trip(&t), "");   /* exactly the limit */
    haul_task_clear(&t);

    /* One byte over, as a worker would receive it from some other encoder. */
    big[HAUL_KEY_MAX] = 'k';
    big[HAUL_KEY_MAX + 1] = '\0';
    mp_arr(&raw, 2);
    mp_str(&raw, "a");
    mp_str(&raw, big);
    ASSERT_STREQ(patch_err("keys", raw.p, raw.len),
                 "task field 'keys'[1]: 1025 bytes, limit 1024");
    haul_buf_reset(&raw);
    mp_arr(&raw, 4);
    for (int i = 0; i < 3; i++) mp_str(&raw, "a");
    haul_buf *b = &raw;
    mp_byte(b, 0xda);
    mp_be(b, 2000, 2);
    for (int i = 0; i < 2000; i++) mp_byte(b, 'x');
    ASSERT_STREQ(patch_err("keys", raw.p, raw.len),
                 "task field 'keys'[3]: 2000 bytes, limit 1024");
    haul_buf_free(&raw);
    free(big);
}

TEST(other_string_limits)
{
    haul_buf raw = HAUL_BUF_INIT;
    char *big = haul_malloc(HAUL_STR_MAX + 2);
    memset(big, 'i', HAUL_STR_MAX + 1);
    big[HAUL_STR_MAX + 1] = '\0';
    mp_str(&raw, big);
    ASSERT_STREQ(patch_err("id", raw.p, raw.len), "task field 'id': 4097 bytes, limit 4096");
    ASSERT_STREQ(patch_err("conn.region", raw.p, raw.len),
                 "task field 'conn.region': 4097 bytes, limit 4096");
    ASSERT_STREQ(patch_err("args.out_dir", raw.p, raw.len),
                 "task field 'args.out_dir': 4097 bytes, limit 4096");
    haul_buf_reset(&raw);
    big[HAUL_STR_MAX] = '\0';
    mp_str(&raw, big);
    ASSERT_STREQ(patch_err("id", raw.p, raw.len), "");
    haul_buf_free(&raw);
    free(big);
}

TEST(encode_refuses_over_limits)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    char *big = haul_malloc(HAUL_KEY_MAX + 2);

    memset(big, 'k', HAUL_KEY_MAX + 1);
    big[HAUL_KEY_MAX + 1] = '\0';
    full_s3(&t);
    haul_buf_adds(&b, "kept");
    free(t.keys[2]);
    t.keys[2] = big;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'keys'[2]: 1025 bytes, limit 1024");
    ASSERT_EQ(b.len, 4);
    ASSERT_STREQ(b.p, "kept");
    haul_task_clear(&t);

    full_s3(&t);
    free(t.id);
    t.id = NULL;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'id': missing");
    t.id = haul_strdup("i");
    t.op = HAUL_OP_NONE;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'op': no operation set");
    t.op = HAUL_OP_GET;
    free(t.bucket);
    t.bucket = NULL;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'bucket': missing");
    t.bucket = haul_strdup("b");
    free(t.conn.s3.secret_key);
    t.conn.s3.secret_key = NULL;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task conn: S3 secret key missing: set --secret-key or "
                 "AWS_SECRET_ACCESS_KEY");
    t.conn.s3.secret_key = haul_strdup("s");
    t.nsuffixes = HAUL_SUFFIX_MAX + 1; /* the count is checked before the entries */
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'args.suffixes': 17 entries, limit 16");
    t.nsuffixes = 3;
    size_t nkeys = t.nkeys;
    t.nkeys = HAUL_TASK_MAX_KEYS + 1;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'keys': 100001 entries, limit 100000");
    t.nkeys = nkeys;
    ASSERT_EQ(b.len, 4);
    haul_task_clear(&t);
    haul_buf_free(&b);
}

/* Each key is within its limit, but together they are over HAUL_TASK_MAX_BYTES. */
TEST(encode_refuses_oversized_task)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    char *key = haul_malloc(HAUL_KEY_MAX + 1);
    size_t n = HAUL_TASK_MAX_BYTES / HAUL_KEY_MAX + 16;

    memset(key, 'k', HAUL_KEY_MAX);
    key[HAUL_KEY_MAX] = '\0';
    full_s3(&t);
    char **saved = t.keys;
    size_t nsaved = t.nkeys;
    t.keys = haul_calloc(n, sizeof *t.keys);
    for (size_t i = 0; i < n; i++) t.keys[i] = key;
    t.nkeys = n;
    haul_buf_adds(&b, "kept");
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_HAS(err, "bytes encoded, limit 16777216");
    ASSERT_EQ(b.len, 4);
    ASSERT_STREQ(b.p, "kept");
    free(t.keys);
    free(key);
    t.keys = saved;
    t.nkeys = nsaved;
    haul_task_clear(&t);
    haul_buf_free(&b);
}

TEST(too_many_keys_refused_without_allocating)
{
    /* An 11-byte task whose keys array claims 2^32-1 elements. */
    static const char tiny[] = "\x81\xa4keys\xdd\xff\xff\xff\xff";
    haul_task t;
    clock_t t0 = clock();
    ASSERT_STREQ(decode_raw(tiny, sizeof tiny - 1, &t), "task: truncated at byte 6 of 11");
    ASSERT_STREQ(patch_err("keys", RAW("\xdd\xff\xff\xff\xff")),
                 "task: truncated at byte 280 of 342");
    ASSERT_STREQ(patch_err("keys", RAW("\xdd\xff\xff\xff\xff\xa0\xa0")),
                 "task: truncated at byte 280 of 344");
    /* A map claiming 4 billion entries, and one claiming more than the bytes left. */
    ASSERT_STREQ(decode_raw(RAW("\xdf\xff\xff\xff\xff\xa1v\x01"), &t),
                 "task: truncated at byte 0 of 8");
    ASSERT_STREQ(patch_err("+", RAW("\xa1x\x83\x01\x02\x03\x04")),
                 "task: truncated at byte 348 of 353");
    ASSERT(clock() - t0 < CLOCKS_PER_SEC);

    /* Really 100001 keys (empty ones, so the bytes are there): refused on
     * the count, before the array of pointers is allocated. */
    haul_buf raw = HAUL_BUF_INIT;
    mp_arr(&raw, HAUL_TASK_MAX_KEYS + 1);
    for (int i = 0; i < HAUL_TASK_MAX_KEYS + 1; i++) mp_byte(&raw, 0xa0);
    ASSERT_STREQ(patch_err("keys", raw.p, raw.len),
                 "task field 'keys': 100001 entries, limit 100000");
    /* Exactly the limit is fine. */
    haul_buf_reset(&raw);
    mp_arr(&raw, HAUL_TASK_MAX_KEYS);
    for (int i = 0; i < HAUL_TASK_MAX_KEYS; i++) mp_byte(&raw, 0xa0);
    patch ps[] = {{"keys", raw.p, raw.len}, {NULL, NULL, 0}};
    ASSERT(decode_patched(ps, 0, &t) == NULL);
    ASSERT_EQ(t.nkeys, HAUL_TASK_MAX_KEYS);
    ASSERT_STREQ(t.keys[HAUL_TASK_MAX_KEYS - 1], "");
    haul_task_clear(&t);
    haul_buf_free(&raw);

    ASSERT_STREQ(patch_err("args.suffixes", RAW("\xdc\x00\x11"
                 "\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0")),
                 "task field 'args.suffixes': 17 entries, limit 16");
}

/* ---- malformed input ------------------------------------------------------ */

TEST(not_a_task)
{
    haul_task t;
    ASSERT_STREQ(decode_raw("", 0, &t), "task: empty");
    ASSERT_STREQ(decode_raw(RAW("\xa3" "abc"), &t), "task: not a msgpack map (first byte 0xa3)");
    ASSERT_STREQ(decode_raw(RAW("\x92\x80\x80"), &t),
                 "task: not a msgpack map (first byte 0x92)");
    ASSERT_STREQ(decode_raw(RAW("\xc1"), &t), "task: not a msgpack map (first byte 0xc1)");
    ASSERT_STREQ(decode_raw(RAW("{\"v\":1}"), &t), "task: not a msgpack map (first byte 0x7b)");
    ASSERT_STREQ(decode_raw(RAW("\x80"), &t), "task field 'v': missing");
    ASSERT_STREQ(decode_raw(RAW("\x81\xa1v\x01"), &t), "task field 'id': missing");
    ASSERT_STREQ(decode_raw(RAW("\xde\x00"), &t), "task: truncated at byte 0 of 2");
    /* Whatever the failure, the task is left cleared. */
    ASSERT(t.id == NULL && t.keys == NULL && t.conn.s3.secret_key == NULL);
}

/* Every proper prefix of a valid task fails cleanly, and says where. */
TEST(truncated_at_every_byte)
{
    for (int swift = 0; swift < 2; swift++) {
        haul_task t;
        haul_buf b = HAUL_BUF_INIT;
        char err[HAUL_ERR_LEN], want[64];
        if (swift) full_swift(&t);
        else full_s3(&t);
        ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
        haul_task_clear(&t);
        for (size_t n = 0; n < b.len; n++) {
            const char *e = decode_raw(b.p, n, &t);
            if (!e) FAIL_("prefix of %zu of %zu bytes decoded", n, b.len);
            if (n == 0) ASSERT_STREQ(e, "task: empty");
            else {
                snprintf(want, sizeof want, " of %zu", n);
                ASSERT(strncmp(e, "task: truncated at byte ", 24) == 0);
                ASSERT_HAS(e, want);
            }
            ASSERT(t.id == NULL && t.keys == NULL);
        }
        ASSERT(decode_raw(b.p, b.len, &t) == NULL);
        haul_task_clear(&t);
        haul_buf_free(&b);
    }
}

TEST(trailing_bytes)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_task t;
    build(&b, NULL, 0);
    size_t n = b.len;
    haul_buf_addc(&b, 0);
    ASSERT_STREQ(decode_raw(b.p, b.len, &t), "task: trailing bytes after the task map "
                 "(1 bytes from byte 346 of 347)");
    b.len = n;
    build(&b, NULL, 0);  /* two tasks back to back */
    ASSERT_HAS(decode_raw(b.p, b.len, &t), "trailing bytes after the task map");
    haul_buf_free(&b);
}

TEST(wrong_types)
{
    static const struct {
        const char *field, *raw;
        size_t len;
        const char *want;
    } cases[] = {
        {"v", RAW("\xa1" "1"), "task field 'v': expected an unsigned integer, got a string"},
        {"id", RAW("\x01"), "task field 'id': expected a string, got an integer"},
        {"job", RAW("\xc0"), "task field 'job': expected a string, got nil"},
        {"op", RAW("\x05"), "task field 'op': expected a string, got an integer"},
        {"conn", RAW("\x90"), "task field 'conn': expected a map, got an array"},
        {"bucket", RAW("\xc3"), "task field 'bucket': expected a string or nil, got a boolean"},
        {"args", RAW("\xa0"), "task field 'args': expected a map, got a string"},
        {"first", RAW("\xca\x3f\x80\x00\x00"),
         "task field 'first': expected an unsigned integer, got a float"},
        {"keys", RAW("\x80"), "task field 'keys': expected an array, got a map"},
        {"keys", RAW("\x92\xa1" "a\x01"), "task field 'keys'[1]: expected a string, got an integer"},
        {"keys", RAW("\xc0"), "task field 'keys': expected an array, got nil"},
        {"attempt", RAW("\xcb\0\0\0\0\0\0\0\0"),
         "task field 'attempt': expected an unsigned integer, got a float"},
        {"created", RAW("\xc4\x01" "1"),
         "task field 'created': expected an unsigned integer, got binary"},
        {"created", RAW("\xd4\x01\x00"),
         "task field 'created': expected an unsigned integer, got an extension value"},
        {"conn.kind", RAW("\x01"), "task field 'conn.kind': expected a string, got an integer"},
        {"conn.tls_verify", RAW("\x01"),
         "task field 'conn.tls_verify': expected a boolean, got an integer"},
        {"conn.path_style", RAW("\xa4true"),
         "task field 'conn.path_style': expected a boolean, got a string"},
        {"conn.ca_file", RAW("\x90"), "task field 'conn.ca_file': expected a string or nil, "
                                      "got an array"},
        {"conn.endpoint", RAW("\xc0"), "task field 'conn.endpoint': expected a string, got nil"},
        {"conn.secret_key", RAW("\x7f"),
         "task field 'conn.secret_key': expected a string, got an integer"},
        {"conn.session_token", RAW("\x80"),
         "task field 'conn.session_token': expected a string or nil, got a map"},
        {"args.max_inline", RAW("\xa1x"),
         "task field 'args.max_inline': expected an unsigned integer, got a string"},
        {"args.out_dir", RAW("\x01"),
         "task field 'args.out_dir': expected a string or nil, got an integer"},
        {"args.suffixes", RAW("\xc0"), "task field 'args.suffixes': expected an array, got nil"},
        {"args.suffixes", RAW("\x91\xc0"),
         "task field 'args.suffixes'[0]: expected a string, got nil"},
        {"args.sidecar_ext", RAW("\xc2"),
         "task field 'args.sidecar_ext': expected a string or nil, got a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *e = patch_err(cases[i].field, cases[i].raw, cases[i].len);
        if (strncmp(e, cases[i].want, strlen(cases[i].want)) != 0)
            FAIL_("%s:\n    got:  \"%s\"\n    want: \"%s...\"", cases[i].field, e,
                  cases[i].want);
    }

    /* The Swift fields, in a Swift template. */
    static const char *const swift_fields[] = {"conn.auth_url", "conn.user", "conn.key",
                                               "conn.token", "conn.storage_url"};
    for (size_t i = 0; i < 5; i++) {
        patch ps[] = {{swift_fields[i], RAW("\x01")}, {NULL, NULL, 0}};
        char want[128];
        haul_task t;
        snprintf(want, sizeof want, "task field '%s': expected a string or nil, got an "
                 "integer", swift_fields[i]);
        const char *e = decode_patched(ps, 1, &t);
        ASSERT_HAS(e, want);
    }
}

TEST(integers)
{
    static const char *const fields[] = {"v", "first", "attempt", "created", "args.max_inline"};
    char want[128];
    for (size_t i = 0; i < 5; i++) {
        snprintf(want, sizeof want, "task field '%s': negative (-1), expected an unsigned "
                 "integer", fields[i]);
        ASSERT_STREQ(patch_err(fields[i], RAW("\xff")), want);
        snprintf(want, sizeof want, "task field '%s': negative (-9223372036854775808), "
                 "expected an unsigned integer", fields[i]);
        ASSERT_STREQ(patch_err(fields[i], RAW("\xd3\x80\0\0\0\0\0\0\0")), want);
        snprintf(want, sizeof want, "task field '%s': negative (-32768)", fields[i]);
        ASSERT_HAS(patch_err(fields[i], RAW("\xd1\x80\x00")), want);
    }
    ASSERT_STREQ(patch_err("first", RAW("\xe0")),
                 "task field 'first': negative (-32), expected an unsigned integer");
    ASSERT_STREQ(patch_err("first", RAW("\xd2\xff\xff\xff\xfe")),
                 "task field 'first': negative (-2), expected an unsigned integer");
    ASSERT_STREQ(patch_err("first", RAW("\xd0\x80")),
                 "task field 'first': negative (-128), expected an unsigned integer");
    ASSERT_STREQ(patch_err("attempt", RAW("\xcf\0\0\0\x01\0\0\0\0")),
                 "task field 'attempt': 4294967296 out of range, limit 4294967295");

    /* Every width and signed formats holding non-negative values are accepted. */
    patch ps[] = {
        {"attempt", RAW("\xd0\x05")},
        {"first", RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff")},
        {"created", RAW("\xd3\x00\x00\x01\x8b\xcf\xe5\x68\x00")},
        {"args.max_inline", RAW("\xcd\x01\x00")},
        {"v", RAW("\xcc\x01")},
        {NULL, NULL, 0},
    };
    haul_task t;
    ASSERT(decode_patched(ps, 0, &t) == NULL);
    ASSERT_EQ(t.attempt, 5);
    ASSERT(t.first == UINT64_MAX);
    ASSERT_EQ(t.created_ms, 1700000000000LL);
    ASSERT_EQ(t.max_inline, 256);
    haul_task_clear(&t);
    patch ps2[] = {
        {"attempt", RAW("\xce\xff\xff\xff\xff")},
        {"first", RAW("\xd1\x7f\xff")},
        {"created", RAW("\xd2\x00\x00\x00\x07")},
        {"args.max_inline", RAW("\x7f")},
        {"v", RAW("\xd3\0\0\0\0\0\0\0\x01")},
        {NULL, NULL, 0},
    };
    ASSERT(decode_patched(ps2, 0, &t) == NULL);
    ASSERT_EQ(t.attempt, 4294967295LL);
    ASSERT_EQ(t.first, 32767);
    ASSERT_EQ(t.created_ms, 7);
    ASSERT_EQ(t.max_inline, 127);
    haul_task_clear(&t);
}

TEST(version)
{
    ASSERT_STREQ(patch_err("v", RAW("\x02")),
                 "task version 2 not supported by this worker (version 1): upgrade the worker");
    ASSERT_STREQ(patch_err("v", RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff")),
                 "task version 18446744073709551615 not supported by this worker (version 1): "
                 "upgrade the worker");
    ASSERT_STREQ(patch_err("v", RAW("\x00")),
                 "task version 0 not supported by this worker (version 1)");
    /* A newer task whose fields changed shape is reported as newer, not as broken. */
    patch ps[] = {{"v", RAW("\x02")}, {"keys", RAW("\xa1" "a")}, {"conn", OMIT},
                  {NULL, NULL, 0}};
    haul_task t;
    ASSERT_HAS(decode_patched(ps, 0, &t), "task version 2 not supported");
    ASSERT_STREQ(patch_err("+", RAW("\xa1v\x01")), "task field 'v': appears twice");
}

TEST(unknown_values)
{
    ASSERT_STREQ(patch_err("op", RAW("\xa4" "frob")), "task field 'op': unknown operation 'frob'");
    ASSERT_STREQ(patch_err("op", RAW("\xa4none")), "task field 'op': unknown operation 'none'");
    ASSERT_STREQ(patch_err("op", RAW("\xa3GET")), "task field 'op': unknown operation 'GET'");
    ASSERT_STREQ(patch_err("op", RAW("\xa4g\ne\x1b")), "task field 'op': unknown operation 'g?e?'");
    ASSERT_STREQ(patch_err("conn.kind", RAW("\xa3gcs")),
                 "task field 'conn.kind': unknown store kind 'gcs' (this worker knows 's3' "
                 "and 'swift')");
    /* Bin is accepted wherever a string is. */
    ASSERT_STREQ(patch_err("op", RAW("\xc4\x03get")), "");
}

TEST(missing_fields)
{
    static const char *const required[] = {"v", "id", "job", "op", "conn", "keys", "bucket",
                                           "conn.kind"};
    char want[64];
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        snprintf(want, sizeof want, "task field '%s': missing", required[i]);
        ASSERT_HAS(patch_err(required[i], OMIT), want);
    }
    ASSERT_STREQ(patch_err("bucket", OMIT),
                 "task field 'bucket': missing (op 'sidecar' needs a bucket)");
    ASSERT_STREQ(patch_err("bucket", RAW("\xc0")),
                 "task field 'bucket': missing (op 'sidecar' needs a bucket)");
    ASSERT_STREQ(patch_err("bucket", RAW("\xa0")), "task field 'bucket': empty");
    ASSERT_STREQ(patch_err("id", RAW("\xa0")), "task field 'id': empty");

    /* list-buckets needs no bucket. */
    patch lb[] = {{"op", RAW("\xac" "list-buckets")}, {"bucket", OMIT}, {NULL, NULL, 0}};
    haul_task t;
    ASSERT(decode_patched(lb, 0, &t) == NULL);
    ASSERT_EQ(t.op, HAUL_OP_LIST_BUCKETS);
    ASSERT(t.bucket == NULL);
    haul_task_clear(&t);

    /* The optional fields take their defaults. */
    patch opt[] = {{"args", OMIT}, {"first", OMIT}, {"attempt", OMIT}, {"created", OMIT},
                   {"conn.tls_verify", OMIT}, {"conn.path_style", OMIT},
                   {"conn.ca_file", OMIT}, {"conn.session_token", OMIT}, {NULL, NULL, 0}};
    ASSERT(decode_patched(opt, 0, &t) == NULL);
    ASSERT_EQ(t.conn.tls_verify, 1);
    ASSERT_EQ(t.conn.s3.path_style, 1);
    ASSERT(t.suffixes == NULL && t.sidecar_ext == NULL && t.max_inline == 0);
    ASSERT_EQ(t.first + t.attempt + t.created_ms, 0);
    haul_task_clear(&t);

    /* An incomplete connection is refused with the check's own sentence. */
    ASSERT_STREQ(patch_err("conn.secret_key", OMIT), "task conn: S3 secret key missing: set "
                 "--secret-key or AWS_SECRET_ACCESS_KEY");
    ASSERT_STREQ(patch_err("conn.endpoint", RAW("\xa8" "ftp://h/")),
                 "task conn: S3 endpoint must start with http:// or https://: check "
                 "--endpoint or AWS_ENDPOINT_URL");
    patch sw[] = {{"conn.key", OMIT}, {NULL, NULL, 0}};
    ASSERT_STREQ(decode_patched(sw, 1, &t), "task conn: Swift key missing: set --key or ST_KEY");
}

TEST(nul_in_strings)
{
    ASSERT_STREQ(patch_err("id", RAW("\xa3" "a\0b")),
                 "task field 'id': contains a NUL byte (at offset 1 of the string)");
    ASSERT_STREQ(patch_err("keys", RAW("\x92\xa1" "a\xa2" "b\0")),
                 "task field 'keys'[1]: contains a NUL byte (at offset 1 of the string)");
    ASSERT_STREQ(patch_err("conn.secret_key", RAW("\xc4\x01\0")),
                 "task field 'conn.secret_key': contains a NUL byte (at offset 0 of the string)");
    /* A key with a NUL in it is just another unknown field (to skip). */
    ASSERT_STREQ(patch_err("+", RAW("\xa3id\0\x01")), "");
}

TEST(formats_of_every_width)
{
    haul_buf keys = HAUL_BUF_INIT, id = HAUL_BUF_INIT, job = HAUL_BUF_INIT,
             bucket = HAUL_BUF_INIT, sfx = HAUL_BUF_INIT;
    mp_byte(&keys, 0xdc);
    mp_be(&keys, 6, 2);
    mp_strf(&keys, 0xc4, "bin8");
    mp_strf(&keys, 0xc5, "bin16");
    mp_strf(&keys, 0xc6, "bin32");
    mp_strf(&keys, 0xd9, "str8");
    mp_strf(&keys, 0xda, "str16");
    mp_strf(&keys, 0xdb, "str32");
    mp_strf(&id, 0xd9, "id8");
    mp_strf(&job, 0xda, "job16");
    mp_strf(&bucket, 0xdb, "bucket32");
    mp_byte(&sfx, 0xdd);
    mp_be(&sfx, 1, 4);
    mp_strf(&sfx, 0xc6, ".zip");
    patch ps[] = {
        {"keys", keys.p, keys.len}, {"id", id.p, id.len}, {"job", job.p, job.len},
        {"bucket", bucket.p, bucket.len}, {"args.suffixes", sfx.p, sfx.len},
        {"conn.region", RAW("\xc5\x00\x09us-east-1")},
        {"args", RAW("\xdf\x00\x00\x00\x01\xaa" "max_inline\x05")},
        {"conn", RAW("\xde\x00\x05\xa4kind\xa2s3\xa8" "endpoint\xa8http://h\xa6region\xa1r"
                     "\xaa" "access_key\xa1" "a\xaasecret_key\xa1s")},
        {NULL, NULL, 0},
    };
    haul_task t;
    const char *e = decode_patched(ps, 0, &t);
    ASSERT(e == NULL);
    ASSERT_EQ(t.nkeys, 6);
    ASSERT_STREQ(t.keys[0], "bin8");
    ASSERT_STREQ(t.keys[2], "bin32");
    ASSERT_STREQ(t.keys[5], "str32");
    ASSERT_STREQ(t.id, "id8");
    ASSERT_STREQ(t.job, "job16");
    ASSERT_STREQ(t.bucket, "bucket32");
    ASSERT_EQ(t.max_inline, 5);
    ASSERT_EQ(t.nsuffixes, 0);
    ASSERT_STREQ(t.conn.s3.endpoint, "http://h");
    haul_task_clear(&t);

    /* The task map itself as map16 and map32. */
    haul_buf b = HAUL_BUF_INIT, m = HAUL_BUF_INIT;
    build(&b, NULL, 0);
    ASSERT_EQ((unsigned char)b.p[0], 0x8d);
    haul_buf_add(&m, "\xde\x00\x0d", 3);
    haul_buf_add(&m, b.p + 1, b.len - 1);
    ASSERT(decode_raw(m.p, m.len, &t) == NULL);
    haul_task_clear(&t);
    haul_buf_reset(&m);
    haul_buf_add(&m, "\xdf\x00\x00\x00\x0d", 5);
    haul_buf_add(&m, b.p + 1, b.len - 1);
    ASSERT(decode_raw(m.p, m.len, &t) == NULL);
    ASSERT_STREQ(t.keys[0], "a.zip");
    haul_task_clear(&t);
    haul_buf_free(&m);
    haul_buf_free(&b);
    haul_buf_free(&keys);
    haul_buf_free(&id);
    haul_buf_free(&job);
    haul_buf_free(&bucket);
    haul_buf_free(&sfx);
}

TEST(unknown_fields_skipped)
{
    /* "future": {"a": [1, -5, -200, 1.5, 2.5, nil, true, bin, ext8, fixext4, str16,
     *            {"x": [[]], 7: {}}, uint64, int64]} */
    static const char future[] =
        "\xa6" "future"
        "\x81\xa1" "a"
        "\x9e"
        "\x01\xfb\xd1\xff\x38"
        "\xca\x3f\xc0\x00\x00"
        "\xcb\x40\x04\x00\x00\x00\x00\x00\x00"
        "\xc0\xc3"
        "\xc6\x00\x00\x00\x02zz"
        "\xc7\x03\x05" "abc"
        "\xd6\xff\x00\x00\x00\x01"
        "\xda\x00\x03" "abc"
        "\x82\xa1x\x91\x90\x07\x80"
        "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
        "\xd3\x80\x00\x00\x00\x00\x00\x00\x00";
    patch ps[] = {
        {"+", future, sizeof future - 1},
        {"conn.+", RAW("\xa7" "profile\x92\xa1" "a\x81\xa1" "b\xc0")},
        {"args.+", RAW("\xa5" "retry\x82\xa3max\x03\xa7" "backoff\xd8\x01" "0123456789abcdef")},
        {NULL, NULL, 0},
    };
    haul_task t, want;
    ASSERT(decode_patched(ps, 0, &t) == NULL);
    ASSERT(decode_patched(NULL, 0, &want) == NULL);
    ASSERT_STREQ(task_diff(&t, &want), "");
    haul_task_clear(&t);
    haul_task_clear(&want);

    /* Unknown keys in conn that belong to the other store kind are dropped. */
    patch other[] = {{"conn.+", RAW("\xa5token\xa3" "abc")}, {NULL, NULL, 0}};
    ASSERT(decode_patched(other, 0, &t) == NULL);
    ASSERT(t.conn.swift.token == NULL);
    haul_task_clear(&t);

    /* Something no msgpack encoder writes, inside an unknown field. */
    ASSERT_STREQ(patch_err("+", RAW("\xa1x\x91\xc1")), "task: invalid msgpack byte 0xc1 at "
                 "byte 349");
    /* Keys of haul's own maps are strings. */
    ASSERT_STREQ(patch_err("+", RAW("\x01\x02")),
                 "task: map key at byte 346 is an integer, not a string");
    ASSERT_STREQ(patch_err("conn.+", RAW("\xc0\x02")),
                 "task field 'conn': map key at byte 185 is nil, not a string");
    ASSERT_STREQ(patch_err("+", RAW("\xa2id\xa1x")), "task field 'id': appears twice");
    ASSERT_STREQ(patch_err("conn.+", RAW("\xa6region\xa1x")),
                 "task field 'conn.region': appears twice");
}

TEST(nesting)
{
    char want[96];
    haul_buf raw = HAUL_BUF_INIT;
    int ok_levels = HAUL_TASK_MAX_DEPTH - 1; /* under the task's own map */

    /* As deep as allowed: skipped. */
    mp_str(&raw, "deep");
    for (int i = 0; i < ok_levels - 1; i++) mp_arr(&raw, 1);
    mp_map(&raw, 0);
    ASSERT_STREQ(patch_err("+", raw.p, raw.len), "");

    /* One level more: refused, at the offending container. */
    haul_buf_reset(&raw);
    mp_str(&raw, "deep");
    for (int i = 0; i < ok_levels; i++) mp_arr(&raw, 1);
    mp_map(&raw, 0);
    snprintf(want, sizeof want, "task: nested deeper than %d levels at byte %d",
             HAUL_TASK_MAX_DEPTH, 346 + 5 + ok_levels);
    ASSERT_STREQ(patch_err("+", raw.p, raw.len), want);

    /* A million levels: refused as quickly, with no recursion to match. */
    haul_buf_reset(&raw);
    mp_str(&raw, "deep");
    for (int i = 0; i < 1000000; i++) mp_arr(&raw, 1);
    mp_byte(&raw, 0xc0);
    clock_t t0 = clock();
    ASSERT_HAS(patch_err("+", raw.p, raw.len), "nested deeper than");
    ASSERT(clock() - t0 < CLOCKS_PER_SEC);

    /* In the known fields too: a key that is an array. */
    ASSERT_STREQ(patch_err("keys", RAW("\x91\x91\xa1" "a")),
                 "task field 'keys'[0]: expected a string, got an array (byte 281)");
    haul_buf_free(&raw);
}


/* ---- the edges: queue, expiry, bucket names, attribution ----------------- */

TEST(delivery_checked)
{
    haul_task t;
    char err[HAUL_ERR_LEN];
    full_swift(&t); /* queue "default", expires 86400001 */
    ASSERT_EQ(haul_task_check_delivery(&t, "default", 86400001, err), 0);
    ASSERT_EQ(haul_task_check_delivery(&t, "default", 86400002, err), -1);
    ASSERT_STREQ(err, "task expired 0 s ago: refusing it (a task runs only until its 'expires', "
                 "--task-ttl; this one was replayed or waited too long)");
    ASSERT_EQ(haul_task_check_delivery(&t, "bulk", 1, err), -1);
    ASSERT_STREQ(err, "task was made for queue 'default' but taken from queue 'bulk': refusing "
                 "it (moved between queues)");
    /* A clear task from an older scheduler says neither: nothing to check. */
    free(t.queue);
    t.queue = NULL;
    t.expires_ms = 0;
    ASSERT_EQ(haul_task_check_delivery(&t, "bulk", 1LL << 50, err), 0);
    haul_task_clear(&t);
}

TEST(sealed_needs_queue_and_expiry)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    full_s3(&t);
    free(t.queue);
    t.queue = NULL;
    ASSERT_EQ(haul_task_encode_key(&t, key1, &b, err), -1);
    ASSERT_HAS(err, "a sealed task needs 'queue' and 'expires'");
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0); /* in the clear: optional */
    haul_task_clear(&t);
    /* A sealed task stripped of them (as an older scheduler made it). */
    patch ps[] = {{"queue", OMIT}, {"expires", OMIT}, {NULL, NULL, 0}};
    haul_buf_reset(&b);
    build(&b, ps, 0);
    ASSERT(decode_raw(b.p, b.len, &t) == NULL); /* clear: fine */
    haul_task_clear(&t);
    ASSERT_STREQ(decode_raw_key(b.p, b.len, key1, &t),
                 "task is not sealed but this worker has a key (HAUL_KEY_FILE): refusing "
                 "it; a task in the clear may be forged");
    haul_buf_free(&b);
}

TEST(max_inline_limit)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    full_s3(&t);
    ASSERT_STREQ(round_trip(&t), "");
    t.max_inline = HAUL_MAX_INLINE + 1ULL;
    ASSERT_EQ(haul_task_encode(&t, &b, err), -1);
    ASSERT_STREQ(err, "task field 'args.max_inline': 67108865 out of range, limit 67108864");
    haul_task_clear(&t);
    haul_buf_free(&b);
    ASSERT_STREQ(patch_err("args.max_inline", RAW("\xce\x04\x00\x00\x01")),
                 "task field 'args.max_inline': 67108865 out of range, limit 67108864");
}

TEST(bucket_names)
{
    char err[HAUL_ERR_LEN];
    static const char *const good[] = {"LSST-IR-FUSION-testfromopenstack", "a", "my_bucket.v2",
                                       "with space", "x:y", "q?x", "h#x", "Ünïcode"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (haul_bucket_check(good[i], 0, err) < 0) FAIL_("%s refused: %s", good[i], err);
    ASSERT_EQ(haul_bucket_check("LSST-IR-FUSION_test.v2", 1, err), 0);
    ASSERT_EQ(haul_bucket_check("a/b", 0, err), -1);
    ASSERT_STREQ(err, "bucket name 'a/b' holds '/' at byte 1: a bucket or container name cannot "
                 "(a key's path goes in --keys or --prefix)");
    ASSERT_EQ(haul_bucket_check("a\nb", 0, err), -1);
    ASSERT_HAS(err, "'a\\x0ab' holds a control character at byte 1");
    ASSERT_EQ(haul_bucket_check("..", 0, err), -1);
    ASSERT_EQ(haul_bucket_check("", 0, err), -1);
    ASSERT_STREQ(err, "bucket name is empty");
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    ASSERT_EQ(haul_bucket_check(longname, 0, err), -1);
    longname[255] = '\0';
    ASSERT_EQ(haul_bucket_check(longname, 0, err), 0);
    /* What would send a signed request to another host. */
    static const char *const hostile[] = {"evil.example:8080/x?", "x?y", "x#y", "x@evil", "a b",
                                          "a\tb", "a%2fb", ".lead", "trail-"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        if (haul_bucket_check(hostile[i], 1, err) == 0) FAIL_("virtual-host '%s' accepted", hostile[i]);
    ASSERT_EQ(haul_bucket_check("evil.example:8080/x?", 1, err), -1);
    ASSERT_HAS(err, "with --virtual-host the bucket becomes part of the host name");
    /* The decoder applies the same rule to a task's bucket. */
    ASSERT_STREQ(patch_err("bucket", RAW("\xa3" "a/b")),
                 "task field 'bucket': bucket name 'a/b' holds '/' at byte 1: a bucket or "
                 "container name cannot (a key's path goes in --keys or --prefix)");
    ASSERT_HAS(patch_err2("bucket", RAW("\xa7" "h:1/x?y"), "conn.path_style", RAW("\xc2")),
               "task field 'bucket': bucket name 'h:1/x?y' holds ':' at byte 1");
    ASSERT_HAS(patch_err2("bucket", RAW("\xa5" "h:1xy"), "conn.path_style", RAW("\xc2")),
               "holds ':' at byte 1: with --virtual-host");
    ASSERT_STREQ(patch_err2("bucket", RAW("\xa5" "h:1xy"), "conn.path_style", RAW("\xc3")), "");
}

TEST(peek_and_index)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    haul_task_ref ref;
    char err[HAUL_ERR_LEN];
    full_s3(&t);
    ASSERT_EQ(haul_task_encode_key(&t, key1, &b, err), 0);
    ASSERT_EQ(haul_task_peek(b.p, b.len, &ref), 0);
    ASSERT_STREQ(ref.id, "job-7f3a:12");
    ASSERT_STREQ(ref.job, "job-7f3a");
    ASSERT_EQ(haul_task_index(ref.id, ref.job), 12);
    /* Cut short after the job: still named. */
    const char *j = find(b.p, b.len, "\xa8job-7f3a", 9);
    ASSERT(j);
    size_t cut = (size_t)(j - b.p) + 9;
    ASSERT_EQ(haul_task_peek(b.p, cut, &ref), 0);
    ASSERT_STREQ(ref.job, "job-7f3a");
    ASSERT_EQ(haul_task_peek(b.p, cut - 1, &ref), -1);
    /* Every truncation and every flipped byte: no crash, and whatever is
     * named is a string of the task's. */
    for (size_t n = 0; n <= b.len; n++) haul_task_peek(b.p, n, &ref);
    for (size_t i = 0; i < b.len; i++) {
        b.p[i] ^= 0x5a;
        if (haul_task_peek(b.p, b.len, &ref) == 0 && strlen(ref.id) > 64) FAIL_("byte %zu", i);
        b.p[i] ^= 0x5a;
    }
    ASSERT_EQ(haul_task_peek("garbage", 7, &ref), -1);
    ASSERT_EQ(haul_task_peek(NULL, 0, &ref), -1);
    ASSERT_EQ(haul_task_index("j:0", "j"), 0);
    ASSERT_EQ(haul_task_index("j:17", "j"), 17);
    ASSERT_EQ(haul_task_index("j:017", "j"), -1);
    ASSERT_EQ(haul_task_index("j:", "j"), -1);
    ASSERT_EQ(haul_task_index("j:1x", "j"), -1);
    ASSERT_EQ(haul_task_index("jj:1", "j"), -1);
    ASSERT_EQ(haul_task_index("k:1", "j"), -1);
    ASSERT_EQ(haul_task_index("j:99999999999999999999", "j"), -1);
    haul_task_clear(&t);
    haul_buf_free(&b);
}

/* ---- the write ops' arguments ------------------------------------------ */

/* A put task: every write argument set. */
static void full_put(haul_task *t)
{
    full_s3(t);
    t->op = HAUL_OP_PUT;
    free(t->out_dir);
    t->out_dir = NULL;
    t->src_dir = haul_strdup("/data/run 42");
    t->srcs = strv((const char *const[]){"a/b c.fits", "dummy/1/1_1.f", "x"}, 3);
    t->nsrcs = 3;
    t->meta = strv((const char *const[]){"run", "42", "Observer_Name", "Vera C. Rubin"}, 4);
    t->nmeta = 4;
    t->segment_size = UINT64_C(1) << 30;
    t->flags = HAUL_TASK_SKIP_EXISTING | HAUL_TASK_DRY_RUN;
    /* key 1 is a zip of two files */
    t->member_counts = haul_calloc(3, sizeof *t->member_counts);
    t->member_counts[1] = 2;
    t->ncounts = 3;
    t->members = strv((const char *const[]){"18/18_1.f", "44/44_1.f"}, 2);
    t->nmembers = 2;
}

static void full_verify(haul_task *t)
{
    full_swift(t);
    t->op = HAUL_OP_VERIFY;
    t->sizes = haul_calloc(3, sizeof *t->sizes);
    t->sizes[0] = 0;
    t->sizes[1] = -1;
    t->sizes[2] = INT64_MAX;
    t->md5s = strv((const char *const[]){"d41d8cd98f00b204e9800998ecf8427e", "",
                                         "0123456789abcdef0123456789abcdef"}, 3);
    t->nexpect = 3;
    t->flags = HAUL_TASK_DEEP;
}

TEST(write_ops_round_trip)
{
    haul_task t;
    full_put(&t);
    ASSERT_STREQ(round_trip(&t), "");
    ASSERT_STREQ(round_trip_key(&t, key1), "");
    haul_task_clear(&t);
    full_verify(&t);
    ASSERT_STREQ(round_trip(&t), "");
    ASSERT_STREQ(round_trip_key(&t, key1), "");
    haul_task_clear(&t);
    /* delete carries nothing new */
    full_s3(&t);
    t.op = HAUL_OP_DELETE;
    free(t.out_dir);
    t.out_dir = NULL;
    ASSERT_STREQ(round_trip(&t), "");
    ASSERT(haul_op_writes(t.op) && haul_op_writes(HAUL_OP_PUT));
    ASSERT(!haul_op_writes(HAUL_OP_VERIFY) && !haul_op_writes(HAUL_OP_GET));
    haul_task_clear(&t);
}

/* A read task's bytes do not change with the write ops' arguments: none of
 * them is written when unset. */
TEST(read_task_bytes_unchanged)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    full_s3(&t);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    /* the names as msgpack strings (".metadata" holds "meta") */
    ASSERT(!memmem(b.p, b.len, "\xa4srcs", 5) && !memmem(b.p, b.len, "\xa5" "flags", 6) &&
           !memmem(b.p, b.len, "\xa4meta", 5) && !memmem(b.p, b.len, "\xa4md5s", 5));
    haul_buf_free(&b);
    haul_task_clear(&t);
}

/* Encoded with one thing wrong: the encoder refuses it, naming the field. */
static const char *put_refused(void (*change)(haul_task *), const char *want)
{
    static char msg[HAUL_ERR_LEN + 64];
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN] = "";
    full_put(&t);
    change(&t);
    int rc = haul_task_encode(&t, &b, err);
    haul_buf_free(&b);
    haul_task_clear(&t);
    if (rc == 0) return "encoded";
    if (!strstr(err, want)) {
        snprintf(msg, sizeof msg, "'%s' lacks '%s'", err, want);
        return msg;
    }
    return NULL;
}

static void meta_crlf(haul_task *t) { free(t->meta[1]); t->meta[1] = haul_strdup("4\r\nX-Auth-Token: x"); }
static void meta_colon(haul_task *t) { free(t->meta[0]); t->meta[0] = haul_strdup("a:b"); }
static void meta_space(haul_task *t) { free(t->meta[0]); t->meta[0] = haul_strdup("a b"); }
static void meta_empty(haul_task *t) { free(t->meta[0]); t->meta[0] = haul_strdup(""); }
static void meta_trail(haul_task *t) { free(t->meta[3]); t->meta[3] = haul_strdup("x "); }
static void meta_odd(haul_task *t) { free(t->meta[3]); t->nmeta = 3; }
static void srcs_short(haul_task *t) { free(t->srcs[2]); t->nsrcs = 2; }
static void srcs_empty(haul_task *t) { free(t->srcs[1]); t->srcs[1] = haul_strdup(""); }
static void srcs_on_get(haul_task *t) { t->op = HAUL_OP_GET; }
static void bad_flags(haul_task *t) { t->flags = 32; }
static void nosum_on_put(haul_task *t) { t->flags = HAUL_TASK_NO_CHECKSUM; }
static void counts_off(haul_task *t) { t->member_counts[1] = 3; }

TEST(write_args_refused)
{
    const char *e;
    if ((e = put_refused(meta_crlf, "args.meta'[1]: control byte 0x0d"))) FAIL_("crlf: %s", e);
    if ((e = put_refused(meta_colon, "args.meta'[0]: name of 3 bytes"))) FAIL_("colon: %s", e);
    if ((e = put_refused(meta_space, "letters, digits"))) FAIL_("space: %s", e);
    if ((e = put_refused(meta_empty, "name of 0 bytes"))) FAIL_("empty: %s", e);
    if ((e = put_refused(meta_trail, "trailing space"))) FAIL_("trail: %s", e);
    if ((e = put_refused(meta_odd, "pairs"))) FAIL_("odd: %s", e);
    if ((e = put_refused(srcs_short, "2 entries for 3 keys"))) FAIL_("short: %s", e);
    if ((e = put_refused(srcs_empty, "args.srcs'[1]: empty"))) FAIL_("srcs empty: %s", e);
    if ((e = put_refused(srcs_on_get, "only put reads files"))) FAIL_("get: %s", e);
    if ((e = put_refused(bad_flags, "unknown flags 0x20"))) FAIL_("flags: %s", e);
    if ((e = put_refused(nosum_on_put, "NO_CHECKSUM (16) on op 'put'"))) FAIL_("nosum: %s", e);
    if ((e = put_refused(counts_off, "args.member_counts adds up to 3"))) FAIL_("counts: %s", e);
}

/* The decoder refuses what the encoder would: a task written by hand (or
 * altered in Redis) with a header-injecting metadata value, or md5s that do
 * not match sizes. */
TEST(write_args_refused_on_decode)
{
    haul_task t;
    haul_buf b = HAUL_BUF_INIT;
    char err[HAUL_ERR_LEN];
    full_put(&t);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    /* same length, so the msgpack stays well formed: "Vera C. Rubin" -> "Vera\r\n. Rubin" */
    char *v = memmem(b.p, b.len, "Vera C. Rubin", 13);
    ASSERT(v != NULL);
    memcpy(v + 4, "\r\n", 2);
    haul_task d;
    const char *e = decode_raw(b.p, b.len, &d);
    ASSERT(e && strstr(e, "args.meta'[3]: control byte 0x0d"));
    haul_buf_free(&b);
    haul_task_clear(&t);

    full_verify(&t);
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    v = memmem(b.p, b.len, "0123456789abcdef0123456789abcdef", 32);
    ASSERT(v != NULL);
    v[0] = 'G';
    e = decode_raw(b.p, b.len, &d);
    ASSERT(e && strstr(e, "args.md5s'[2]: not 32 lowercase hex digits"));
    haul_buf_free(&b);
    haul_task_clear(&t);

    /* A put whose flags were changed in Redis to NO_CHECKSUM (2 -> 16). */
    full_put(&t);
    t.flags = HAUL_TASK_DRY_RUN;
    ASSERT_EQ(haul_task_encode(&t, &b, err), 0);
    v = memmem(b.p, b.len, "\xa5" "flags\x02", 7);
    ASSERT(v != NULL);
    v[6] = 0x10;
    e = decode_raw(b.p, b.len, &d);
    ASSERT(e && strstr(e, "NO_CHECKSUM (16) on op 'put'"));
    haul_buf_free(&b);
    haul_task_clear(&t);
}

/* A sealed put binds what it reads and what it writes: a task whose srcs,
 * src_dir, meta or flags were changed in Redis is refused. */
TEST(sealed_write_args_bound)
{
    haul_task t;
    haul_buf a = HAUL_BUF_INIT, b = HAUL_BUF_INIT;
#define FORGE(CHANGE) do {                                                \
        full_put(&t);                                                    \
        ASSERT_EQ(encode_sealed(&t, &a), 0);                             \
        CHANGE;                                                          \
        ASSERT_EQ(encode_sealed(&t, &b), 0);                             \
        const char *e_ = splice_refused(&b, &a);                         \
        if (e_) FAIL_("%s: %s", #CHANGE, e_);                            \
        haul_task_clear(&t);                                             \
    } while (0)
#define SET(field, v) (free(field), (field) = haul_strdup(v))
    FORGE(SET(t.srcs[0], "/etc/shadow"));
    FORGE(SET(t.src_dir, "/"));
    FORGE((free(t.src_dir), t.src_dir = NULL));
    FORGE(SET(t.meta[1], "43"));
    FORGE(t.flags = 0);
    FORGE(t.segment_size = 1);
    FORGE(SET(t.members[1], "/etc/shadow"));
    FORGE((t.member_counts[0] = 1, t.member_counts[1] = 1));
#undef FORGE
#undef SET
    haul_buf_free(&a);
    haul_buf_free(&b);
}

int main(void)
{
    RUN(op_names);
    RUN(conn_check_s3);
    RUN(conn_check_swift);
    RUN(conn_describe_copy);
    RUN(round_trip_s3_full);
    RUN(round_trip_swift_full);
    RUN(round_trip_optional_absent);
    RUN(round_trip_odd_keys);
    RUN(round_trip_empty_keys);
    RUN(encoding_is_the_documented_one);
    RUN(attempt_at_a_fixed_offset);
    RUN(bump_attempt);
    RUN(max_attempts);
    RUN(sealed_round_trip);
    RUN(sealed_is_the_documented_one);
    RUN(sealed_who_may_decode);
    RUN(sealed_field_limits);
    RUN(sealed_plaintext_checked);
    RUN(sealed_forgeries_refused);
    RUN(sealed_every_byte_flipped);
    RUN(sealed_truncated_at_every_byte);
    RUN(key_size_limit);
    RUN(other_string_limits);
    RUN(encode_refuses_over_limits);
    RUN(encode_refuses_oversized_task);
    RUN(too_many_keys_refused_without_allocating);
    RUN(not_a_task);
    RUN(truncated_at_every_byte);
    RUN(trailing_bytes);
    RUN(wrong_types);
    RUN(integers);
    RUN(version);
    RUN(unknown_values);
    RUN(missing_fields);
    RUN(nul_in_strings);
    RUN(formats_of_every_width);
    RUN(unknown_fields_skipped);
    RUN(nesting);
    RUN(delivery_checked);
    RUN(sealed_needs_queue_and_expiry);
    RUN(max_inline_limit);
    RUN(bucket_names);
    RUN(peek_and_index);
    RUN(write_ops_round_trip);
    RUN(read_task_bytes_unchanged);
    RUN(write_args_refused);
    RUN(write_args_refused_on_decode);
    RUN(sealed_write_args_bound);
    TEST_DONE();
}

