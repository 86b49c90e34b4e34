/* task.c -- the task codec: haul_task <-> one msgpack map (docs/protocol.md).
 *
 * Encoding uses msgpack-c's packer, writing straight into a haul_buf.
 *
 * Decoding does NOT use msgpack-c's unpacker: msgpack_unpack() allocates the
 * storage of an array or map from the count in its header before it has read
 * a single element, so a 10-byte task claiming 4 billion keys would make a
 * worker allocate gigabytes. Instead a small reader walks the bytes with a
 * cursor, and nothing is allocated until the length in hand has been checked
 * against both the bytes that remain and the limits in task.h.
 *
 * Decoding takes two passes over the buffer, neither of which allocates
 * until the second one copies strings out:
 *   1. structure: the input is one map, every item fits in the bytes that
 *      remain, nesting stays within HAUL_TASK_MAX_DEPTH, nothing trails the
 *      map; and where "v" is. Any task that fails here is garbage, whatever
 *      its version.
 *   2. after "v" is known to be HAUL_TASK_VERSION: each field, in whatever
 *      order the map holds them, checked for type and limits.
 * Checking the version before any field means a task from a newer, incompatible
 * scheduler is reported as such, rather than as whichever field changed.
 *
 * A sealed task carries its connection map as the plaintext of "sealed"
 * (seal.h), bound by the associated data of task_aad() to every other field
 * that steers a worker. The decoder reads "sealed" in pass 2 like any other
 * field but opens it last, once the fields the associated data is made of are
 * known, then reads the plaintext with the same reader as a clear "conn". */
#include "task.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "seal.h"

/* ---- operations ------------------------------------------------------- */

static const char *const op_names[] = {
    [HAUL_OP_NONE] = "none",
    [HAUL_OP_LIST_BUCKETS] = "list-buckets",
    [HAUL_OP_LIST] = "list",
    [HAUL_OP_HEAD] = "head",
    [HAUL_OP_GET] = "get",
    [HAUL_OP_SIDECAR] = "sidecar",
    [HAUL_OP_PUT] = "put",
    [HAUL_OP_DELETE] = "delete",
    [HAUL_OP_VERIFY] = "verify",
};
#define NOPS (sizeof op_names / sizeof op_names[0])

const char *haul_op_str(haul_op op)
{
    return (unsigned)op < NOPS ? op_names[op] : "none";
}

static int op_lookup(const char *s, size_t n, haul_op *op)
{
    for (size_t i = HAUL_OP_NONE + 1; i < NOPS; i++) {
        if (strlen(op_names[i]) == n && memcmp(op_names[i], s, n) == 0) {
            *op = (haul_op)i;
            return 0;
        }
    }
    return -1;
}

int haul_op_parse(const char *s, haul_op *op)
{
    return s ? op_lookup(s, strlen(s), op) : -1;
}

int haul_op_writes(haul_op op)
{
    return op == HAUL_OP_PUT || op == HAUL_OP_DELETE;
}

/* ---- the task --------------------------------------------------------- */

void haul_task_init(haul_task *t)
{
    memset(t, 0, sizeof *t);
    haul_conn_init(&t->conn);
    t->max_attempts = HAUL_TASK_DEFAULT_ATTEMPTS;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void haul_task_clear(haul_task *t)
{
    if (!t) return;
    free(t->id);
    free(t->job);
    haul_conn_clear(&t->conn);
    free(t->bucket);
    free(t->out_dir);
    free_strv(t->suffixes, t->nsuffixes);
    free(t->sidecar_ext);
    free_strv(t->keys, t->nkeys);
    free(t->src_dir);
    free_strv(t->srcs, t->nsrcs);
    free_strv(t->meta, t->nmeta);
    free(t->sizes);
    free_strv(t->md5s, t->nexpect);
    free(t->member_counts);
    free_strv(t->members, t->nmembers);
    free(t->queue);
    haul_task_init(t);
}

/* The connection's strings, in wire order. kind NONE: every store kind has it.
 * nil_ok: may be sent as nil (the rest are required strings of their kind). */
struct conn_str {
    const char *name;
    haul_store_kind kind;
    size_t off;
    int nil_ok;
};

static const struct conn_str conn_strs[] = {
    {"ca_file", HAUL_STORE_NONE, offsetof(haul_conn, ca_file), 1},
    {"endpoint", HAUL_STORE_S3, offsetof(haul_conn, s3.endpoint), 0},
    {"region", HAUL_STORE_S3, offsetof(haul_conn, s3.region), 0},
    {"access_key", HAUL_STORE_S3, offsetof(haul_conn, s3.access_key), 0},
    {"secret_key", HAUL_STORE_S3, offsetof(haul_conn, s3.secret_key), 0},
    {"session_token", HAUL_STORE_S3, offsetof(haul_conn, s3.session_token), 1},
    {"auth_url", HAUL_STORE_SWIFT, offsetof(haul_conn, swift.auth_url), 1},
    {"user", HAUL_STORE_SWIFT, offsetof(haul_conn, swift.user), 1},
    {"key", HAUL_STORE_SWIFT, offsetof(haul_conn, swift.key), 1},
    {"token", HAUL_STORE_SWIFT, offsetof(haul_conn, swift.token), 1},
    {"storage_url", HAUL_STORE_SWIFT, offsetof(haul_conn, swift.storage_url), 1},
};
#define NCONN_STRS (sizeof conn_strs / sizeof conn_strs[0])

static char **conn_slot(haul_conn *c, const struct conn_str *f)
{
    return (char **)(void *)((char *)c + f->off);
}

static const char *conn_get(const haul_conn *c, const struct conn_str *f)
{
    return *(char *const *)(const void *)((const char *)c + f->off);
}

static int kind_applies(const struct conn_str *f, haul_store_kind k)
{
    return f->kind == HAUL_STORE_NONE || f->kind == k;
}

/* "task field 'keys'[3]: " followed by the sentence; idx < 0: no index. */
__attribute__((format(printf, 4, 5)))
static void field_err(char *err, const char *name, long idx, const char *fmt, ...)
{
    int n = idx < 0 ? snprintf(err, HAUL_ERR_LEN, "task field '%s': ", name)
                    : snprintf(err, HAUL_ERR_LEN, "task field '%s'[%ld]: ", name, idx);
    if (n < 0 || n >= HAUL_ERR_LEN) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, HAUL_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
}

/* ---- encoding --------------------------------------------------------- */

static int check_str(const char *name, long idx, const char *s, size_t limit,
                     int required, char *err)
{
    if (!s) {
        if (!required) return 0;
        field_err(err, name, idx, "missing");
        return -1;
    }
    size_t n = strlen(s);
    if (n > limit) {
        field_err(err, name, idx, "%zu bytes, limit %zu", n, limit);
        return -1;
    }
    if (required && n == 0) {
        field_err(err, name, idx, "empty");
        return -1;
    }
    return 0;
}

/* A metadata name goes into a header name (x-amz-meta-NAME, X-Object-Meta-NAME):
 * letters, digits, '-' and '_' only, so no task can add a header of its own
 * or end one early. A value: printable ASCII and UTF-8, no control byte (no
 * CR or LF), no leading or trailing space (a server would trim it, and the
 * MD5 of what is read back would not be what was asked). */
static int check_meta(const char *const *meta, size_t n, char *err)
{
    if (n % 2) {
        field_err(err, "args.meta", -1, "%zu entries: names and values come in pairs", n);
        return -1;
    }
    if (n > 2 * HAUL_META_MAX) {
        field_err(err, "args.meta", -1, "%zu pairs, limit %d", n / 2, HAUL_META_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i += 2) {
        const char *name = meta[i], *v = meta[i + 1];
        size_t nl = name ? strlen(name) : 0, vl = v ? strlen(v) : 0;
        if (!name || !v) {
            field_err(err, "args.meta", (long)i, "missing");
            return -1;
        }
        if (nl == 0 || nl > HAUL_META_NAME_MAX ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != nl) {
            field_err(err, "args.meta", (long)i, "name of %zu bytes: a metadata name is 1 to %d "
                      "letters, digits, '-' or '_'", nl, HAUL_META_NAME_MAX);
            return -1;
        }
        if (vl > HAUL_META_VALUE_MAX) {
            field_err(err, "args.meta", (long)i + 1, "%zu bytes, limit %d", vl, HAUL_META_VALUE_MAX);
            return -1;
        }
        for (size_t j = 0; j < vl; j++) {
            unsigned char c = (unsigned char)v[j];
            if (c < 0x20 || c == 0x7f) {
                field_err(err, "args.meta", (long)i + 1, "control byte 0x%02x at offset %zu "
                          "(a metadata value is one header line)", c, j);
                return -1;
            }
        }
        if (vl && (v[0] == ' ' || v[vl - 1] == ' ')) {
            field_err(err, "args.meta", (long)i + 1, "leading or trailing space (a store "
                      "would trim it)");
            return -1;
        }
    }
    return 0;
}

int haul_task_check_meta(const char *const *meta, size_t n, char *err)
{
    return check_meta(meta, n, err);
}

/* An expected MD5: 32 lowercase hex digits, or "" (none). */
static int check_md5(const char *m, long idx, char *err)
{
    size_t n = strlen(m);
    if (n && (n != 32 || strspn(m, "0123456789abcdef") != 32)) {
        field_err(err, "args.md5s", idx, "not 32 lowercase hex digits");
        return -1;
    }
    return 0;
}

/* What only the write ops carry must match the keys: srcs one per key (put),
 * sizes and md5s one per key (verify), flags known. */
static int check_write_args(const haul_task *t, char *err)
{
    if (t->flags & ~HAUL_TASK_FLAGS) {
        field_err(err, "args.flags", -1, "unknown flags 0x%x (from a newer scheduler?)",
                  t->flags & ~HAUL_TASK_FLAGS);
        return -1;
    }
    if ((t->flags & HAUL_TASK_NO_CHECKSUM) && t->op != HAUL_OP_GET && t->op != HAUL_OP_SIDECAR) {
        field_err(err, "args.flags", -1, "NO_CHECKSUM (16) on op '%s' (only get and sidecar hash bodies)",
                  haul_op_str(t->op));
        return -1;
    }
    if (t->op == HAUL_OP_PUT && t->nsrcs != t->nkeys) {
        field_err(err, "args.srcs", -1, "%zu entries for %zu keys (put needs one file per key)",
                  t->nsrcs, t->nkeys);
        return -1;
    }
    if (t->op != HAUL_OP_PUT && (t->nsrcs || t->src_dir)) {
        field_err(err, "args.srcs", -1, "given for op '%s' (only put reads files)",
                  haul_op_str(t->op));
        return -1;
    }
    if (t->nexpect && t->nexpect != t->nkeys) {
        field_err(err, "args.sizes", -1, "%zu entries for %zu keys", t->nexpect, t->nkeys);
        return -1;
    }
    for (size_t i = 0; i < t->nsrcs; i++)
        if (!t->srcs[i] || !*t->srcs[i]) {
            field_err(err, "args.srcs", (long)i, "empty");
            return -1;
        }
    for (size_t i = 0; i < t->nexpect; i++)
        if (check_md5(t->md5s[i], (long)i, err) < 0) return -1;
    if (t->ncounts || t->nmembers) {
        uint64_t sum = 0;
        if (t->op != HAUL_OP_PUT || t->ncounts != t->nkeys) {
            field_err(err, "args.member_counts", -1, "%zu entries for %zu keys of op '%s' (a put's "
                      "zips need one per key)", t->ncounts, t->nkeys, haul_op_str(t->op));
            return -1;
        }
        for (size_t i = 0; i < t->ncounts; i++) {
            if (t->member_counts[i] > HAUL_ZIP_MAX_MEMBERS) {
                field_err(err, "args.member_counts", (long)i, "%u files in one zip, limit %d",
                          t->member_counts[i], HAUL_ZIP_MAX_MEMBERS);
                return -1;
            }
            sum += t->member_counts[i];
        }
        if (sum != t->nmembers) {
            field_err(err, "args.members", -1, "%zu entries, but args.member_counts adds up to %llu",
                      t->nmembers, (unsigned long long)sum);
            return -1;
        }
        for (size_t i = 0; i < t->nmembers; i++)
            if (!t->members[i] || !*t->members[i]) {
                field_err(err, "args.members", (long)i, "empty");
                return -1;
            }
    }
    return check_meta((const char *const *)t->meta, t->nmeta, err);
}

/* args.max_attempts: the one limit with a floor as well as a ceiling. */
static int check_attempts(uint64_t n, char *err)
{
    if (n == 0) {
        field_err(err, "args.max_attempts", -1, "0, must be at least 1 (1 means no retries)");
        return -1;
    }
    if (n > HAUL_TASK_MAX_ATTEMPTS) {
        field_err(err, "args.max_attempts", -1, "%" PRIu64 " out of range, limit %d", n,
                  HAUL_TASK_MAX_ATTEMPTS);
        return -1;
    }
    return 0;
}

/* Everything the decoder would refuse, refused here first, so the scheduler
 * learns about it before it queues a task no worker can read. */
static int encode_check(const haul_task *t, char *err)
{
    char cerr[HAUL_ERR_LEN];

    if (check_str("id", -1, t->id, HAUL_STR_MAX, 1, err) < 0) return -1;
    if (check_str("job", -1, t->job, HAUL_STR_MAX, 1, err) < 0) return -1;
    if (t->op <= HAUL_OP_NONE || (size_t)t->op >= NOPS) {
        field_err(err, "op", -1, "no operation set");
        return -1;
    }
    if (haul_conn_check(&t->conn, cerr) < 0) {
        snprintf(err, HAUL_ERR_LEN, "task conn: %.*s", HAUL_ERR_LEN - 12, cerr);
        return -1;
    }
    for (size_t i = 0; i < NCONN_STRS; i++) {
        const struct conn_str *f = &conn_strs[i];
        char name[32];
        if (!kind_applies(f, t->conn.kind)) continue;
        snprintf(name, sizeof name, "conn.%s", f->name);
        if (check_str(name, -1, conn_get(&t->conn, f), HAUL_STR_MAX, 0, err) < 0)
            return -1;
    }
    if (check_str("bucket", -1, t->bucket, HAUL_STR_MAX,
                  t->op != HAUL_OP_LIST_BUCKETS, err) < 0)
        return -1;
    if (check_str("args.out_dir", -1, t->out_dir, HAUL_STR_MAX, 0, err) < 0) return -1;
    if (check_str("args.sidecar_ext", -1, t->sidecar_ext, HAUL_STR_MAX, 0, err) < 0)
        return -1;
    if (check_attempts(t->max_attempts, err) < 0) return -1;
    if (t->max_inline > HAUL_MAX_INLINE) {
        field_err(err, "args.max_inline", -1, "%" PRIu64 " out of range, limit %u", t->max_inline,
                  HAUL_MAX_INLINE);
        return -1;
    }
    if (check_str("queue", -1, t->queue, HAUL_STR_MAX, 0, err) < 0) return -1;
    if (t->bucket && t->op != HAUL_OP_LIST_BUCKETS && haul_bucket_check(t->bucket, t->conn.kind == HAUL_STORE_S3 &&
                                       !t->conn.s3.path_style, cerr) < 0) {
        snprintf(err, HAUL_ERR_LEN, "task field 'bucket': %.*s", HAUL_ERR_LEN - 24, cerr);
        return -1;
    }
    if (t->nsuffixes > HAUL_SUFFIX_MAX) {
        field_err(err, "args.suffixes", -1, "%zu entries, limit %d", t->nsuffixes,
                  HAUL_SUFFIX_MAX);
        return -1;
    }
    for (size_t i = 0; i < t->nsuffixes; i++) {
        if (!t->suffixes[i]) {
            field_err(err, "args.suffixes", (long)i, "missing");
            return -1;
        }
        if (check_str("args.suffixes", (long)i, t->suffixes[i], HAUL_STR_MAX, 0, err) < 0)
            return -1;
    }
    if (t->nkeys > HAUL_TASK_MAX_KEYS) {
        field_err(err, "keys", -1, "%zu entries, limit %d", t->nkeys, HAUL_TASK_MAX_KEYS);
        return -1;
    }
    for (size_t i = 0; i < t->nkeys; i++) {
        if (!t->keys[i]) {
            field_err(err, "keys", (long)i, "missing");
            return -1;
        }
        if (check_str("keys", (long)i, t->keys[i], HAUL_KEY_MAX, 0, err) < 0) return -1;
    }
    if (check_str("args.src_dir", -1, t->src_dir, HAUL_STR_MAX, 0, err) < 0) return -1;
    for (size_t i = 0; i < t->nsrcs; i++)
        if (check_str("args.srcs", (long)i, t->srcs[i], HAUL_STR_MAX, 1, err) < 0) return -1;
    for (size_t i = 0; i < t->nmembers; i++)
        if (check_str("args.members", (long)i, t->members[i], HAUL_STR_MAX, 1, err) < 0) return -1;
    for (size_t i = 0; i < t->nexpect; i++)
        if (!t->md5s[i]) {
            field_err(err, "args.md5s", (long)i, "missing");
            return -1;
        }
    return check_write_args(t, err);
}

static int buf_write(void *data, const char *p, size_t n)
{
    haul_buf_add(data, p, n);
    return 0;
}

/* NULL is encoded as nil. */
static void pack_str(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_bool(msgpack_packer *pk, int b)
{
    if (b) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
}

static void pack_strv(msgpack_packer *pk, char *const *v, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) pack_str(pk, v[i]);
}

static void pack_conn(msgpack_packer *pk, const haul_conn *c)
{
    size_t n = 2; /* kind, tls_verify */
    for (size_t i = 0; i < NCONN_STRS; i++) n += kind_applies(&conn_strs[i], c->kind);
    if (c->kind == HAUL_STORE_S3) n++; /* path_style */

    msgpack_pack_map(pk, n);
    pack_str(pk, "kind");
    pack_str(pk, haul_store_kind_str(c->kind));
    pack_str(pk, "tls_verify");
    pack_bool(pk, c->tls_verify);
    for (size_t i = 0; i < NCONN_STRS; i++) {
        if (!kind_applies(&conn_strs[i], c->kind)) continue;
        pack_str(pk, conn_strs[i].name);
        pack_str(pk, conn_get(c, &conn_strs[i]));
    }
    if (c->kind == HAUL_STORE_S3) {
        pack_str(pk, "path_style");
        pack_bool(pk, c->s3.path_style);
    }
}

/* The associated data of a sealed task: every field outside the connection
 * that steers a worker, each item followed by a NUL (docs/protocol.md,
 * "Sealed connection state"). No item can hold a NUL (the decoder refuses
 * strings with one), and each list is preceded by its count, so no two tasks
 * give the same bytes. An optional string is "-" when nil and "+" and its
 * bytes when set, because nil and "" mean different things (a nil sidecar_ext
 * is ".metadata", an empty one is nothing). attempt and created are left out:
 * the reaper rewrites attempt in Redis. */
static void aad_item(haul_buf *b, const char *s)
{
    haul_buf_adds(b, s);
    haul_buf_addc(b, '\0');
}

static void aad_opt(haul_buf *b, const char *s)
{
    haul_buf_addc(b, s ? '+' : '-');
    aad_item(b, s ? s : "");
}

static void aad_num(haul_buf *b, uint64_t v)
{
    haul_buf_printf(b, "%" PRIu64, v);
    haul_buf_addc(b, '\0');
}

static void task_aad(const haul_task *t, haul_buf *b)
{
    aad_item(b, "haul-task-aad-v2");
    aad_item(b, t->id);
    aad_item(b, t->job);
    aad_item(b, haul_op_str(t->op));
    aad_opt(b, t->bucket);
    aad_opt(b, t->out_dir);
    aad_opt(b, t->sidecar_ext);
    aad_num(b, t->nsuffixes);
    for (size_t i = 0; i < t->nsuffixes; i++) aad_item(b, t->suffixes[i]);
    aad_num(b, t->first);
    aad_num(b, t->max_inline);
    aad_num(b, t->max_attempts);
    aad_num(b, t->nkeys);
    for (size_t i = 0; i < t->nkeys; i++) aad_item(b, t->keys[i]);
    aad_opt(b, t->queue);
    aad_num(b, t->expires_ms);
    if (t->op < HAUL_OP_PUT) return; /* the read ops' data, as before they existed */
    aad_item(b, "write-args");
    aad_opt(b, t->src_dir);
    aad_num(b, t->nsrcs);
    for (size_t i = 0; i < t->nsrcs; i++) aad_item(b, t->srcs[i]);
    aad_num(b, t->nmeta);
    for (size_t i = 0; i < t->nmeta; i++) aad_item(b, t->meta[i]);
    aad_num(b, t->segment_size);
    aad_num(b, t->flags);
    aad_num(b, t->nexpect);
    for (size_t i = 0; i < t->nexpect; i++) {
        haul_buf_printf(b, "%lld", t->sizes[i]);
        haul_buf_addc(b, '\0');
        aad_item(b, t->md5s[i]);
    }
    aad_num(b, t->ncounts);
    for (size_t i = 0; i < t->ncounts; i++) aad_num(b, t->member_counts[i]);
    aad_num(b, t->nmembers);
    for (size_t i = 0; i < t->nmembers; i++) aad_item(b, t->members[i]);
}

/* The value of "sealed": the conn map's msgpack, sealed with the task's
 * associated data. The plaintext is wiped as soon as it is sealed. */
static int seal_conn(const haul_task *t, const unsigned char *key, haul_buf *out,
                     char *err)
{
    haul_buf pt = HAUL_BUF_INIT, aad = HAUL_BUF_INIT;
    msgpack_packer pk;
    char serr[HAUL_ERR_LEN];
    int rc = -1;

    msgpack_packer_init(&pk, &pt, buf_write);
    pack_conn(&pk, &t->conn);
    task_aad(t, &aad);
    if (haul_seal(key, aad.p, aad.len, pt.p, pt.len, out, serr) < 0) {
        snprintf(err, HAUL_ERR_LEN, "task conn: %.*s", HAUL_ERR_LEN - 12, serr);
        goto out;
    }
    if (out->len > HAUL_SEALED_MAX) {
        field_err(err, "sealed", -1, "%zu bytes, limit %u", out->len, HAUL_SEALED_MAX);
        goto out;
    }
    rc = 0;
out:
    haul_seal_buf_wipe(&pt);
    haul_buf_free(&aad);
    return rc;
}

_Static_assert(HAUL_TASK_VERSION > 0 && HAUL_TASK_VERSION < 128,
               "\"v\" must stay a positive fixint, one byte at offset 3");

int haul_task_encode_key(const haul_task *t, const unsigned char *key, haul_buf *out,
                         char *err)
{
    haul_buf sealed = HAUL_BUF_INIT;

    if (encode_check(t, err) < 0) return -1;
    if (key && (!t->queue || !t->expires_ms)) {
        snprintf(err, HAUL_ERR_LEN, "task: a sealed task needs 'queue' and 'expires' "
                 "(they bind it to its queue and its lifetime)");
        return -1;
    }
    if (key && seal_conn(t, key, &sealed, err) < 0) {
        haul_buf_free(&sealed);
        return -1;
    }

    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);

    /* "v" then "attempt", always in these formats: the fixed prefix of
     * HAUL_TASK_ATTEMPT_OFFSET, which the reaper rewrites in place. */
    msgpack_pack_map(&pk, 11 + (t->queue != NULL) + (t->expires_ms != 0));
    pack_str(&pk, "v");
    msgpack_pack_uint32(&pk, HAUL_TASK_VERSION);
    pack_str(&pk, "attempt");
    msgpack_pack_fix_uint32(&pk, t->attempt);
    pack_str(&pk, "id");
    pack_str(&pk, t->id);
    pack_str(&pk, "job");
    pack_str(&pk, t->job);
    pack_str(&pk, "op");
    pack_str(&pk, haul_op_str(t->op));
    if (key) {
        pack_str(&pk, "sealed");
        msgpack_pack_bin(&pk, sealed.len);
        msgpack_pack_bin_body(&pk, sealed.p, sealed.len);
    } else {
        pack_str(&pk, "conn");
        pack_conn(&pk, &t->conn);
    }
    pack_str(&pk, "bucket");
    pack_str(&pk, t->bucket);
    pack_str(&pk, "args");
    /* The write ops' arguments only where they are set: a read task's bytes
     * stay as they were before these existed. */
    int nargs = 5 + (t->src_dir != NULL) + (t->nsrcs > 0) + (t->nmeta > 0) +
                (t->segment_size > 0) + (t->flags != 0) + 2 * (t->nexpect > 0) +
                2 * (t->ncounts > 0);
    msgpack_pack_map(&pk, (uint32_t)nargs);
    if (t->src_dir) {
        pack_str(&pk, "src_dir");
        pack_str(&pk, t->src_dir);
    }
    if (t->nsrcs) {
        pack_str(&pk, "srcs");
        pack_strv(&pk, t->srcs, t->nsrcs);
    }
    if (t->nmeta) {
        pack_str(&pk, "meta");
        pack_strv(&pk, t->meta, t->nmeta);
    }
    if (t->segment_size) {
        pack_str(&pk, "segment_size");
        msgpack_pack_uint64(&pk, t->segment_size);
    }
    if (t->flags) {
        pack_str(&pk, "flags");
        msgpack_pack_uint32(&pk, t->flags);
    }
    if (t->nexpect) {
        pack_str(&pk, "sizes");
        msgpack_pack_array(&pk, t->nexpect);
        for (size_t i = 0; i < t->nexpect; i++) {
            if (t->sizes[i] < 0) msgpack_pack_nil(&pk);
            else msgpack_pack_uint64(&pk, (uint64_t)t->sizes[i]);
        }
        pack_str(&pk, "md5s");
        pack_strv(&pk, t->md5s, t->nexpect);
    }
    if (t->ncounts) {
        pack_str(&pk, "member_counts");
        msgpack_pack_array(&pk, t->ncounts);
        for (size_t i = 0; i < t->ncounts; i++) msgpack_pack_uint32(&pk, t->member_counts[i]);
        pack_str(&pk, "members");
        pack_strv(&pk, t->members, t->nmembers);
    }
    pack_str(&pk, "max_inline");
    msgpack_pack_uint64(&pk, t->max_inline);
    pack_str(&pk, "out_dir");
    pack_str(&pk, t->out_dir);
    pack_str(&pk, "suffixes");
    pack_strv(&pk, t->suffixes, t->nsuffixes);
    pack_str(&pk, "sidecar_ext");
    pack_str(&pk, t->sidecar_ext);
    pack_str(&pk, "max_attempts");
    msgpack_pack_uint32(&pk, t->max_attempts);
    pack_str(&pk, "first");
    msgpack_pack_uint64(&pk, t->first);
    pack_str(&pk, "keys");
    pack_strv(&pk, t->keys, t->nkeys);
    pack_str(&pk, "created");
    msgpack_pack_uint64(&pk, t->created_ms);
    if (t->queue) {
        pack_str(&pk, "queue");
        pack_str(&pk, t->queue);
    }
    if (t->expires_ms) {
        pack_str(&pk, "expires");
        msgpack_pack_uint64(&pk, t->expires_ms);
    }
    haul_buf_free(&sealed);

    size_t len = out->len - start;
    if (len > HAUL_TASK_MAX_BYTES) {
        out->len = start;
        out->p[start] = '\0';
        snprintf(err, HAUL_ERR_LEN, "task: %zu bytes encoded, limit %u: put fewer or "
                 "shorter keys in each task", len, HAUL_TASK_MAX_BYTES);
        return -1;
    }
    return 0;
}

int haul_task_encode(const haul_task *t, haul_buf *out, char *err)
{
    return haul_task_encode_key(t, NULL, out, err);
}

int haul_task_bump_attempt(char *p, size_t n, uint32_t *now)
{
    static const unsigned char prefix[HAUL_TASK_ATTEMPT_OFFSET - 1] = {
        0xa1, 'v', HAUL_TASK_VERSION, 0xa7, 'a', 't', 't', 'e', 'm', 'p', 't', 0xce,
    };
    unsigned char *u = (unsigned char *)p;

    /* A fixmap of at least the two entries the prefix holds. */
    if (!p || n < HAUL_TASK_ATTEMPT_OFFSET + 4 || u[0] < 0x82 || u[0] > 0x8f ||
        memcmp(u + 1, prefix, sizeof prefix) != 0)
        return -1;
    u += HAUL_TASK_ATTEMPT_OFFSET;
    uint32_t v = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
    if (v == UINT32_MAX) return -1;
    v++;
    u[0] = (unsigned char)(v >> 24);
    u[1] = (unsigned char)(v >> 16);
    u[2] = (unsigned char)(v >> 8);
    u[3] = (unsigned char)v;
    if (now) *now = v;
    return 0;
}

/* ---- the reader ------------------------------------------------------- */

typedef enum mp_type {
    MP_NIL, MP_BOOL, MP_UINT, MP_NINT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP, MP_EXT
} mp_type;

/* One item's header. Scalars (strings and extension values included) are
 * consumed whole by read_item(); for an array or a map only the header is,
 * and its elements follow. */
typedef struct mp_item {
    mp_type type;
    size_t at;                 /* offset of its first byte */
    uint64_t u;                /* uint or bool value; str/bin/ext length; count */
    int64_t i;                 /* MP_NINT: the (negative) value */
    const unsigned char *data; /* MP_STR, MP_BIN: the bytes */
} mp_item;

typedef struct reader {
    const unsigned char *p;
    size_t n;
    size_t pos;
    char *err;
} reader;

static int truncated(reader *r, size_t at)
{
    snprintf(r->err, HAUL_ERR_LEN, "task: truncated at byte %zu of %zu", at, r->n);
    return -1;
}

static uint64_t be(const unsigned char *p, size_t w)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++) v = v << 8 | p[i];
    return v;
}

static int read_item(reader *r, mp_item *it)
{
    size_t at = r->pos;
    if (at >= r->n) return truncated(r, at);
    size_t left = r->n - at;
    unsigned b = r->p[at];
    size_t w = 0;     /* width of the big-endian field after the type byte */
    size_t skip = 0;  /* bytes between that field and the payload (ext type) */
    size_t fixed = 0; /* payload of a fixed size (fixext, float) */
    int payload = 0;  /* the field is a payload length */

    memset(it, 0, sizeof *it);
    it->at = at;
    if (b <= 0x7f) { it->type = MP_UINT; it->u = b; }
    else if (b <= 0x8f) { it->type = MP_MAP; it->u = b & 0x0f; }
    else if (b <= 0x9f) { it->type = MP_ARRAY; it->u = b & 0x0f; }
    else if (b <= 0xbf) { it->type = MP_STR; it->u = b & 0x1f; payload = 1; }
    else if (b >= 0xe0) { it->type = MP_NINT; it->i = (int64_t)b - 256; }
    else {
        switch (b) {
        case 0xc0: it->type = MP_NIL; break;
        case 0xc2: case 0xc3: it->type = MP_BOOL; it->u = b & 1; break;
        case 0xc4: case 0xc5: case 0xc6:
            it->type = MP_BIN; w = (size_t)1 << (b - 0xc4); payload = 1; break;
        case 0xc7: case 0xc8: case 0xc9:
            it->type = MP_EXT; w = (size_t)1 << (b - 0xc7); skip = 1; payload = 1; break;
        case 0xca: it->type = MP_FLOAT; fixed = 4; break;
        case 0xcb: it->type = MP_FLOAT; fixed = 8; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            it->type = MP_UINT; w = (size_t)1 << (b - 0xcc); break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            it->type = MP_NINT; w = (size_t)1 << (b - 0xd0); break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            it->type = MP_EXT; skip = 1; fixed = (size_t)1 << (b - 0xd4); break;
        case 0xd9: case 0xda: case 0xdb:
            it->type = MP_STR; w = (size_t)1 << (b - 0xd9); payload = 1; break;
        case 0xdc: case 0xdd: it->type = MP_ARRAY; w = (size_t)2 << (b - 0xdc); break;
        case 0xde: case 0xdf: it->type = MP_MAP; w = (size_t)2 << (b - 0xde); break;
        default: /* 0xc1, never used */
            snprintf(r->err, HAUL_ERR_LEN, "task: invalid msgpack byte 0x%02x at byte %zu",
                     b, at);
            return -1;
        }
    }

    size_t hdr = 1 + w + skip;
    if (left < hdr) return truncated(r, at);
    if (w) {
        uint64_t v = be(r->p + at + 1, w);
        uint64_t sign = UINT64_C(1) << (8 * w - 1);
        if (it->type == MP_NINT && (v & sign)) {
            /* Two's complement in w bytes, converted without relying on
             * implementation-defined casts: v - 2^(8w) = -(~v & (sign-1)) - 1. */
            it->i = -(int64_t)(~v & (sign - 1)) - 1;
        } else {
            if (it->type == MP_NINT) it->type = MP_UINT; /* int8..64 holding >= 0 */
            it->u = v;
        }
    }
    uint64_t body = payload ? it->u : fixed;
    if (body > left - hdr) return truncated(r, at);
    if (it->type == MP_EXT) it->u = body;
    /* Every element takes at least one byte, every map entry two: a count
     * the remaining bytes cannot hold is a lie, refused before anyone
     * allocates for it. */
    if (it->type == MP_ARRAY && it->u > left - hdr) return truncated(r, at);
    if (it->type == MP_MAP && it->u > (left - hdr) / 2) return truncated(r, at);

    it->data = r->p + at + hdr;
    r->pos = at + hdr + (size_t)body;
    return 0;
}

/* Skip one item of any type. depth: containers enclosing it. */
static int skip_item(reader *r, unsigned depth)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type != MP_ARRAY && it.type != MP_MAP) return 0;
    if (depth + 1 > HAUL_TASK_MAX_DEPTH) {
        snprintf(r->err, HAUL_ERR_LEN, "task: nested deeper than %d levels at byte %zu",
                 HAUL_TASK_MAX_DEPTH, it.at);
        return -1;
    }
    uint64_t count = it.type == MP_MAP ? 2 * it.u : it.u;
    for (uint64_t i = 0; i < count; i++)
        if (skip_item(r, depth + 1) < 0) return -1;
    return 0;
}

static const char *type_name(const mp_item *it)
{
    switch (it->type) {
    case MP_NIL: return "nil";
    case MP_BOOL: return "a boolean";
    case MP_UINT: return "an integer";
    case MP_NINT: return "a negative integer";
    case MP_FLOAT: return "a float";
    case MP_STR: return "a string";
    case MP_BIN: return "binary";
    case MP_ARRAY: return "an array";
    case MP_MAP: return "a map";
    case MP_EXT: return "an extension value";
    }
    return "?";
}

static int type_err(reader *r, const char *name, long idx, const mp_item *it,
                    const char *want)
{
    field_err(r->err, name, idx, "expected %s, got %s (byte %zu)", want, type_name(it),
              it->at);
    return -1;
}

/* Untrusted bytes made safe to put in an error sentence. */
static const char *quote(char *dst, size_t dstlen, const unsigned char *p, size_t n)
{
    size_t max = dstlen - 4, o = 0;
    for (size_t i = 0; i < n && o < max; i++)
        dst[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    if (n > max) { memcpy(dst + o, "...", 3); o += 3; }
    dst[o] = '\0';
    return dst;
}

/* A string (str or bin) without copying it: for names compared in place. */
static int read_name(reader *r, const char *name, mp_item *it)
{
    if (read_item(r, it) < 0) return -1;
    if (it->type != MP_STR && it->type != MP_BIN) return type_err(r, name, -1, it, "a string");
    return 0;
}

static int read_str(reader *r, const char *name, long idx, size_t limit, int nil_ok,
                    char **out)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type == MP_NIL && nil_ok) {
        *out = NULL;
        return 0;
    }
    if (it.type != MP_STR && it.type != MP_BIN)
        return type_err(r, name, idx, &it, nil_ok ? "a string or nil" : "a string");
    if (it.u > limit) {
        field_err(r->err, name, idx, "%" PRIu64 " bytes, limit %zu", it.u, limit);
        return -1;
    }
    const unsigned char *nul = memchr(it.data, 0, (size_t)it.u);
    if (nul) {
        field_err(r->err, name, idx, "contains a NUL byte (at offset %zu of the string)",
                  (size_t)(nul - it.data));
        return -1;
    }
    *out = haul_strndup((const char *)it.data, (size_t)it.u);
    return 0;
}

static int read_uint(reader *r, const char *name, uint64_t max, uint64_t *out)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type == MP_NINT) {
        field_err(r->err, name, -1, "negative (%" PRId64 "), expected an unsigned integer",
                  it.i);
        return -1;
    }
    if (it.type != MP_UINT) return type_err(r, name, -1, &it, "an unsigned integer");
    if (it.u > max) {
        field_err(r->err, name, -1, "%" PRIu64 " out of range, limit %" PRIu64, it.u, max);
        return -1;
    }
    *out = it.u;
    return 0;
}

static int read_bool(reader *r, const char *name, int *out)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type != MP_BOOL) return type_err(r, name, -1, &it, "a boolean");
    *out = (int)it.u;
    return 0;
}

/* An array header whose count is within limit; nothing is allocated here. */
static int read_array(reader *r, const char *name, uint64_t limit, uint64_t *count)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type != MP_ARRAY) return type_err(r, name, -1, &it, "an array");
    if (it.u > limit) {
        field_err(r->err, name, -1, "%" PRIu64 " entries, limit %" PRIu64, it.u, limit);
        return -1;
    }
    *count = it.u;
    return 0;
}

static int read_map(reader *r, const char *name, uint64_t *count)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type != MP_MAP) return type_err(r, name, -1, &it, "a map");
    *count = it.u;
    return 0;
}

/* A key of one of haul's maps: a string, looked up in names[]; -1 when it is
 * not there (an unknown field, skipped by the caller). */
static int read_key(reader *r, const char *map, const char *const *names, int nnames,
                    int *idx)
{
    mp_item it;
    if (read_item(r, &it) < 0) return -1;
    if (it.type != MP_STR && it.type != MP_BIN) {
        snprintf(r->err, HAUL_ERR_LEN, "task%s%s: map key at byte %zu is %s, not a string",
                 *map ? " field " : "", map, it.at, type_name(&it));
        return -1;
    }
    *idx = -1;
    for (int i = 0; i < nnames; i++) {
        if (strlen(names[i]) == it.u && memcmp(names[i], it.data, (size_t)it.u) == 0) {
            *idx = i;
            break;
        }
    }
    return 0;
}

static int dup_check(reader *r, const char *name, unsigned *seen, int idx)
{
    if (*seen & (1u << idx)) {
        field_err(r->err, name, -1, "appears twice");
        return -1;
    }
    *seen |= 1u << idx;
    return 0;
}

static int read_strv(reader *r, const char *name, uint64_t max_entries, size_t max_len,
                     char ***v, size_t *n)
{
    uint64_t count = 0;
    if (read_array(r, name, max_entries, &count) < 0) return -1;
    if (count == 0) return 0;
    *v = haul_calloc((size_t)count, sizeof **v);
    for (uint64_t i = 0; i < count; i++) {
        if (read_str(r, name, (long)i, max_len, 0, &(*v)[i]) < 0) return -1;
        *n = (size_t)i + 1;
    }
    return 0;
}

/* ---- decoding: the fields --------------------------------------------- */

/* conn's keys: kind, tls_verify, path_style, then conn_strs[] in order. */
enum { C_KIND, C_TLS, C_PATH, C_STRS };

static int decode_conn(reader *r, haul_conn *c)
{
    const char *names[C_STRS + NCONN_STRS] = {"kind", "tls_verify", "path_style"};
    const int nnames = (int)(sizeof names / sizeof names[0]);
    unsigned seen = 0;
    uint64_t count = 0;
    char fname[32];

    for (size_t i = 0; i < NCONN_STRS; i++) names[C_STRS + i] = conn_strs[i].name;
    if (read_map(r, "conn", &count) < 0) return -1;
    for (uint64_t e = 0; e < count; e++) {
        int k;
        if (read_key(r, "'conn'", names, nnames, &k) < 0) return -1;
        if (k < 0) {
            if (skip_item(r, 2) < 0) return -1;
            continue;
        }
        snprintf(fname, sizeof fname, "conn.%s", names[k]);
        if (dup_check(r, fname, &seen, k) < 0) return -1;
        if (k == C_KIND) {
            mp_item it;
            char q[48];
            if (read_name(r, fname, &it) < 0) return -1;
            if (it.u == 2 && memcmp(it.data, "s3", 2) == 0) c->kind = HAUL_STORE_S3;
            else if (it.u == 5 && memcmp(it.data, "swift", 5) == 0) c->kind = HAUL_STORE_SWIFT;
            else {
                field_err(r->err, fname, -1, "unknown store kind '%s' (this worker knows "
                          "'s3' and 'swift')", quote(q, sizeof q, it.data, (size_t)it.u));
                return -1;
            }
        } else if (k == C_TLS) {
            if (read_bool(r, fname, &c->tls_verify) < 0) return -1;
        } else if (k == C_PATH) {
            if (read_bool(r, fname, &c->s3.path_style) < 0) return -1;
        } else {
            const struct conn_str *f = &conn_strs[k - C_STRS];
            if (read_str(r, fname, -1, HAUL_STR_MAX, f->nil_ok, conn_slot(c, f)) < 0)
                return -1;
        }
    }
    if (!(seen & (1u << C_KIND))) {
        field_err(r->err, "conn.kind", -1, "missing");
        return -1;
    }
    /* The other kind's settings mean nothing here: drop them, so what the
     * worker holds is exactly what it will use. */
    for (size_t i = 0; i < NCONN_STRS; i++) {
        if (kind_applies(&conn_strs[i], c->kind)) continue;
        char **slot = conn_slot(c, &conn_strs[i]);
        free(*slot);
        *slot = NULL;
    }
    char cerr[HAUL_ERR_LEN];
    if (haul_conn_check(c, cerr) < 0) {
        snprintf(r->err, HAUL_ERR_LEN, "task conn: %.*s", HAUL_ERR_LEN - 12, cerr);
        return -1;
    }
    return 0;
}

enum { A_MAX_INLINE, A_OUT_DIR, A_SUFFIXES, A_SIDECAR_EXT, A_MAX_ATTEMPTS, A_SRC_DIR,
       A_SRCS, A_META, A_SEGMENT_SIZE, A_FLAGS, A_SIZES, A_MD5S, A_MEMBER_COUNTS, A_MEMBERS,
       A_COUNT };
static const char *const args_names[A_COUNT] = {"max_inline", "out_dir", "suffixes",
                                                "sidecar_ext", "max_attempts", "src_dir",
                                                "srcs", "meta", "segment_size", "flags",
                                                "sizes", "md5s", "member_counts", "members"};

/* args.sizes: an unsigned integer or nil (-1) per key. */
static int read_sizes(reader *r, const char *name, long long **out, size_t *n)
{
    uint64_t count = 0;
    if (read_array(r, name, HAUL_TASK_MAX_KEYS, &count) < 0) return -1;
    *n = (size_t)count;
    if (!count) return 0;
    *out = haul_calloc((size_t)count, sizeof **out);
    for (uint64_t i = 0; i < count; i++) {
        mp_item it;
        if (read_item(r, &it) < 0) return -1;
        if (it.type == MP_NIL) (*out)[i] = -1;
        else if (it.type == MP_UINT && it.u <= (uint64_t)INT64_MAX) (*out)[i] = (long long)it.u;
        else return type_err(r, name, (long)i, &it, "an unsigned integer or nil");
    }
    return 0;
}

static int decode_args(reader *r, haul_task *t)
{
    unsigned seen = 0;
    uint64_t count = 0;
    size_t nsizes = 0;
    char fname[32];

    if (read_map(r, "args", &count) < 0) return -1;
    for (uint64_t e = 0; e < count; e++) {
        int k;
        if (read_key(r, "'args'", args_names, A_COUNT, &k) < 0) return -1;
        if (k < 0) {
            if (skip_item(r, 2) < 0) return -1;
            continue;
        }
        snprintf(fname, sizeof fname, "args.%s", args_names[k]);
        if (dup_check(r, fname, &seen, k) < 0) return -1;
        int rc = 0;
        switch (k) {
        case A_MAX_INLINE: rc = read_uint(r, fname, HAUL_MAX_INLINE, &t->max_inline); break;
        case A_OUT_DIR: rc = read_str(r, fname, -1, HAUL_STR_MAX, 1, &t->out_dir); break;
        case A_SUFFIXES:
            rc = read_strv(r, fname, HAUL_SUFFIX_MAX, HAUL_STR_MAX, &t->suffixes,
                           &t->nsuffixes);
            break;
        case A_SIDECAR_EXT:
            rc = read_str(r, fname, -1, HAUL_STR_MAX, 1, &t->sidecar_ext);
            break;
        case A_MAX_ATTEMPTS: {
            uint64_t u = 0;
            rc = read_uint(r, fname, UINT64_MAX, &u);
            if (rc == 0) rc = check_attempts(u, r->err);
            if (rc == 0) t->max_attempts = (uint32_t)u;
            break;
        }
        case A_SRC_DIR: rc = read_str(r, fname, -1, HAUL_STR_MAX, 1, &t->src_dir); break;
        case A_SRCS:
            rc = read_strv(r, fname, HAUL_TASK_MAX_KEYS, HAUL_STR_MAX, &t->srcs, &t->nsrcs);
            break;
        case A_META:
            rc = read_strv(r, fname, 2 * HAUL_META_MAX + 1, HAUL_META_VALUE_MAX, &t->meta,
                           &t->nmeta);
            break;
        case A_SEGMENT_SIZE: rc = read_uint(r, fname, UINT64_MAX, &t->segment_size); break;
        case A_FLAGS: {
            uint64_t u = 0;
            rc = read_uint(r, fname, UINT32_MAX, &u);
            t->flags = (uint32_t)u;
            break;
        }
        case A_SIZES: rc = read_sizes(r, fname, &t->sizes, &nsizes); break;
        case A_MEMBER_COUNTS: {
            uint64_t nc = 0;
            rc = read_array(r, fname, HAUL_TASK_MAX_KEYS, &nc);
            if (rc < 0 || !nc) break;
            t->member_counts = haul_calloc((size_t)nc, sizeof *t->member_counts);
            for (uint64_t i = 0; i < nc && rc == 0; i++) {
                uint64_t u = 0;
                rc = read_uint(r, fname, UINT32_MAX, &u);
                t->member_counts[i] = (uint32_t)u;
                if (rc == 0) t->ncounts = (size_t)i + 1;
            }
            break;
        }
        case A_MEMBERS:
            rc = read_strv(r, fname, HAUL_TASK_MAX_KEYS, HAUL_STR_MAX, &t->members, &t->nmembers);
            break;
        case A_MD5S:
            /* nexpect counts the strings read, so clearing frees them all */
            rc = read_strv(r, fname, HAUL_TASK_MAX_KEYS, 32, &t->md5s, &t->nexpect);
            break;
        }
        if (rc < 0) return -1;
    }
    if (nsizes != t->nexpect) {
        field_err(r->err, "args.md5s", -1, "%zu entries for %zu in args.sizes (verify needs "
                  "one size and one MD5 per key)", t->nexpect, nsizes);
        return -1;
    }
    return 0;
}

enum { F_V, F_ID, F_JOB, F_OP, F_CONN, F_BUCKET, F_ARGS, F_FIRST, F_KEYS, F_ATTEMPT,
       F_CREATED, F_SEALED, F_QUEUE, F_EXPIRES, F_COUNT };
static const char *const top_names[F_COUNT] = {"v", "id", "job", "op", "conn", "bucket",
                                               "args", "first", "keys", "attempt",
                                               "created", "sealed", "queue", "expires"};

/* Pass 1: the shape of the whole input, and where "v" is (0: absent). */
static int check_structure(reader *r, size_t *vpos)
{
    unsigned b = r->p[0];
    mp_item top;

    if (!(b >= 0x80 && b <= 0x8f) && b != 0xde && b != 0xdf) {
        snprintf(r->err, HAUL_ERR_LEN, "task: not a msgpack map (first byte 0x%02x)", b);
        return -1;
    }
    if (read_item(r, &top) < 0) return -1;
    *vpos = 0;
    for (uint64_t e = 0; e < top.u; e++) {
        int k;
        if (read_key(r, "", top_names, F_COUNT, &k) < 0) return -1;
        if (k == F_V) {
            if (*vpos) {
                field_err(r->err, "v", -1, "appears twice");
                return -1;
            }
            *vpos = r->pos;
        }
        if (skip_item(r, 1) < 0) return -1;
    }
    if (r->pos != r->n) {
        snprintf(r->err, HAUL_ERR_LEN, "task: trailing bytes after the task map (%zu "
                 "bytes from byte %zu of %zu)", r->n - r->pos, r->pos, r->n);
        return -1;
    }
    return 0;
}

static int check_version(reader *r, size_t vpos, haul_task *t)
{
    uint64_t v;
    if (!vpos) {
        field_err(r->err, "v", -1, "missing");
        return -1;
    }
    r->pos = vpos;
    if (read_uint(r, "v", UINT64_MAX, &v) < 0) return -1;
    if (v != HAUL_TASK_VERSION) {
        snprintf(r->err, HAUL_ERR_LEN, "task version %" PRIu64 " not supported by this "
                 "worker (version %d)%s", v, HAUL_TASK_VERSION,
                 v > HAUL_TASK_VERSION ? ": upgrade the worker" : "");
        return -1;
    }
    t->version = (uint32_t)v;
    return 0;
}

/* "sealed": opened with key and the associated data of the fields decoded so
 * far, then its plaintext read as the conn map, with the same checks as a
 * clear "conn" plus those of pass 1 (one map, within the nesting limit,
 * nothing after it). The plaintext is wiped once read. */
static int decode_sealed(reader *r, const unsigned char *key, const unsigned char *ct,
                         size_t ctlen, haul_task *t)
{
    haul_buf aad = HAUL_BUF_INIT, pt = HAUL_BUF_INIT;
    char serr[HAUL_ERR_LEN];
    int rc = -1;

    task_aad(t, &aad);
    if (haul_unseal(key, aad.p, aad.len, ct, ctlen, &pt, serr) < 0) {
        if (strncmp(serr, "authentication failed", 21) == 0)
            snprintf(r->err, HAUL_ERR_LEN, "task's sealed connection state failed "
                     "authentication: wrong key (HAUL_KEY_FILE), or the task was altered");
        else
            snprintf(r->err, HAUL_ERR_LEN, "task's sealed connection state: %.*s",
                     HAUL_ERR_LEN - 40, serr);
        goto out;
    }
    reader pr = {(const unsigned char *)pt.p, pt.len, 0, r->err};
    unsigned b = pt.len ? (unsigned char)pt.p[0] : 0;
    if (!(b >= 0x80 && b <= 0x8f) && b != 0xde && b != 0xdf) {
        field_err(r->err, "sealed", -1, "the sealed connection state is not a msgpack map");
        goto out;
    }
    if (skip_item(&pr, 1) < 0) goto out;
    if (pr.pos != pr.n) {
        field_err(r->err, "sealed", -1, "trailing bytes after the sealed connection map "
                  "(%zu bytes from byte %zu of %zu)", pr.n - pr.pos, pr.pos, pr.n);
        goto out;
    }
    pr.pos = 0;
    rc = decode_conn(&pr, &t->conn);
out:
    haul_seal_buf_wipe(&pt);
    haul_buf_free(&aad);
    return rc;
}

/* Which of "conn" and "sealed" a task must have depends on the worker: with
 * a key, a sealed one only, as a task in the clear could come from anyone who
 * can write to Redis; without one, a clear one only. */
static int check_sealing(reader *r, const unsigned char *key, unsigned seen)
{
    int conn = !!(seen & (1u << F_CONN)), sealed = !!(seen & (1u << F_SEALED));

    if (conn && sealed) {
        snprintf(r->err, HAUL_ERR_LEN, "task has both 'conn' and 'sealed': refusing it (a "
                 "sealed task carries its connection state only in 'sealed')");
        return -1;
    }
    if (key && !sealed) {
        snprintf(r->err, HAUL_ERR_LEN, "task is not sealed but this worker has a key "
                 "(HAUL_KEY_FILE): refusing it; a task in the clear may be forged");
        return -1;
    }
    if (!key && sealed) {
        snprintf(r->err, HAUL_ERR_LEN, "task is sealed: this worker has no key; set "
                 "HAUL_KEY_FILE to the scheduler's key file");
        return -1;
    }
    if (!key && !conn) {
        field_err(r->err, "conn", -1, "missing");
        return -1;
    }
    return 0;
}

static int decode_fields(reader *r, const unsigned char *key, haul_task *t)
{
    unsigned seen = 0;
    mp_item top, sealed = {0};
    uint64_t u = 0;

    r->pos = 0;
    if (read_item(r, &top) < 0) return -1;
    for (uint64_t e = 0; e < top.u; e++) {
        int k, rc = 0;
        if (read_key(r, "", top_names, F_COUNT, &k) < 0) return -1;
        if (k < 0) {
            if (skip_item(r, 1) < 0) return -1;
            continue;
        }
        if (dup_check(r, top_names[k], &seen, k) < 0) return -1;
        switch (k) {
        case F_V: rc = skip_item(r, 1); break; /* checked by check_version() */
        case F_ID: rc = read_str(r, "id", -1, HAUL_STR_MAX, 0, &t->id); break;
        case F_JOB: rc = read_str(r, "job", -1, HAUL_STR_MAX, 0, &t->job); break;
        case F_OP: {
            mp_item it;
            char q[48];
            if (read_name(r, "op", &it) < 0) return -1;
            if (op_lookup((const char *)it.data, (size_t)it.u, &t->op) < 0) {
                field_err(r->err, "op", -1, "unknown operation '%s'",
                          quote(q, sizeof q, it.data, (size_t)it.u));
                return -1;
            }
            break;
        }
        case F_CONN:
            /* A keyed worker refuses a clear task (check_sealing()), and
             * does not copy out credentials it will not use. */
            rc = key ? skip_item(r, 1) : decode_conn(r, &t->conn);
            break;
        case F_SEALED:
            if (read_item(r, &sealed) < 0) return -1;
            if (sealed.type != MP_BIN && sealed.type != MP_STR)
                return type_err(r, "sealed", -1, &sealed, "binary");
            if (sealed.u > HAUL_SEALED_MAX) {
                field_err(r->err, "sealed", -1, "%" PRIu64 " bytes, limit %u", sealed.u,
                          HAUL_SEALED_MAX);
                return -1;
            }
            break;
        case F_BUCKET: rc = read_str(r, "bucket", -1, HAUL_STR_MAX, 1, &t->bucket); break;
        case F_ARGS: rc = decode_args(r, t); break;
        case F_FIRST: rc = read_uint(r, "first", UINT64_MAX, &t->first); break;
        case F_KEYS:
            rc = read_strv(r, "keys", HAUL_TASK_MAX_KEYS, HAUL_KEY_MAX, &t->keys, &t->nkeys);
            break;
        case F_ATTEMPT:
            rc = read_uint(r, "attempt", UINT32_MAX, &u);
            if (rc == 0) t->attempt = (uint32_t)u;
            break;
        case F_CREATED: rc = read_uint(r, "created", UINT64_MAX, &t->created_ms); break;
        case F_QUEUE: rc = read_str(r, "queue", -1, HAUL_STR_MAX, 1, &t->queue); break;
        case F_EXPIRES: rc = read_uint(r, "expires", UINT64_MAX, &t->expires_ms); break;
        }
        if (rc < 0) return -1;
    }

    static const int required[] = {F_ID, F_JOB, F_OP, F_KEYS};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!(seen & (1u << required[i]))) {
            field_err(r->err, top_names[required[i]], -1, "missing");
            return -1;
        }
    }
    if (check_sealing(r, key, seen) < 0) return -1;
    if (!*t->id) { field_err(r->err, "id", -1, "empty"); return -1; }
    if (!*t->job) { field_err(r->err, "job", -1, "empty"); return -1; }
    if (t->op != HAUL_OP_LIST_BUCKETS) {
        if (!t->bucket) {
            field_err(r->err, "bucket", -1, "missing (op '%s' needs a bucket)",
                      haul_op_str(t->op));
            return -1;
        }
        if (!*t->bucket) { field_err(r->err, "bucket", -1, "empty"); return -1; }
    }
    if (key && (!t->queue || !t->expires_ms)) {
        /* The associated data binds both; a task without them was sealed by
         * a scheduler that predates them, and could be replayed forever. */
        snprintf(r->err, HAUL_ERR_LEN, "task is sealed but has no 'queue' and 'expires' "
                 "(sealed by an older haul-scheduler?): refusing it; upgrade the scheduler");
        return -1;
    }
    if (check_write_args(t, r->err) < 0) return -1;
    if (key && decode_sealed(r, key, sealed.data, (size_t)sealed.u, t) < 0) return -1;
    if (t->bucket && t->op != HAUL_OP_LIST_BUCKETS) {
        char berr[HAUL_ERR_LEN];
        if (haul_bucket_check(t->bucket, t->conn.kind == HAUL_STORE_S3 && !t->conn.s3.path_style,
                              berr) < 0) {
            snprintf(r->err, HAUL_ERR_LEN, "task field 'bucket': %.*s", HAUL_ERR_LEN - 24, berr);
            return -1;
        }
    }
    return 0;
}

int haul_task_decode_key(const char *p, size_t n, const unsigned char *key, haul_task *t,
                         char *err)
{
    reader r = {(const unsigned char *)p, n, 0, err};
    size_t vpos;

    haul_task_init(t);
    if (n == 0) {
        snprintf(err, HAUL_ERR_LEN, "task: empty");
        return -1;
    }
    if (n > HAUL_TASK_MAX_BYTES) {
        snprintf(err, HAUL_ERR_LEN, "task: %zu bytes, limit %u", n, HAUL_TASK_MAX_BYTES);
        return -1;
    }
    if (check_structure(&r, &vpos) < 0 || check_version(&r, vpos, t) < 0 ||
        decode_fields(&r, key, t) < 0) {
        haul_task_clear(t);
        return -1;
    }
    return 0;
}

int haul_task_decode(const char *p, size_t n, haul_task *t, char *err)
{
    return haul_task_decode_key(p, n, NULL, t, err);
}

/* ---- delivery checks and attribution ---------------------------------- */

int haul_task_check_delivery(const haul_task *t, const char *queue, long long now_ms,
                             char *err)
{
    if (t->queue && queue && strcmp(t->queue, queue) != 0) {
        char q[64];
        snprintf(err, HAUL_ERR_LEN, "task was made for queue '%s' but taken from queue '%s': "
                 "refusing it (moved between queues)",
                 quote(q, sizeof q, (const unsigned char *)t->queue, strlen(t->queue)), queue);
        return -1;
    }
    if (t->expires_ms && now_ms > 0 && (uint64_t)now_ms > t->expires_ms) {
        snprintf(err, HAUL_ERR_LEN, "task expired %" PRIu64 " s ago: refusing it (a task runs "
                 "only until its 'expires', --task-ttl; this one was replayed or waited too long)",
                 ((uint64_t)now_ms - t->expires_ms) / 1000);
        return -1;
    }
    return 0;
}

/* Copy a string item into a fixed buffer, truncated; -1 when it holds a NUL. */
static int peek_copy(const mp_item *it, char *dst, size_t cap)
{
    if (it->type != MP_STR && it->type != MP_BIN) return -1;
    if (memchr(it->data, 0, (size_t)it->u)) return -1;
    size_t n = it->u < cap - 1 ? (size_t)it->u : cap - 1;
    memcpy(dst, it->data, n);
    dst[n] = '\0';
    return 0;
}

int haul_task_peek(const char *p, size_t n, haul_task_ref *ref)
{
    char err[HAUL_ERR_LEN];
    reader r = {(const unsigned char *)p, n, 0, err};
    mp_item top, it;
    int have_id = 0, have_job = 0;

    memset(ref, 0, sizeof *ref);
    if (!p || n == 0 || n > HAUL_TASK_MAX_BYTES || read_item(&r, &top) < 0 || top.type != MP_MAP)
        return -1;
    /* Entry by entry, as far as the bytes go: a task cut short or damaged
     * after its id and job still names them. */
    for (uint64_t e = 0; e < top.u && !(have_id && have_job); e++) {
        int k;
        if (read_key(&r, "", top_names, F_COUNT, &k) < 0) break;
        if (k == F_ID || k == F_JOB) {
            if (read_item(&r, &it) < 0) break;
            if (k == F_ID) have_id = peek_copy(&it, ref->id, sizeof ref->id) == 0;
            else have_job = peek_copy(&it, ref->job, sizeof ref->job) == 0;
        } else if (skip_item(&r, 1) < 0) {
            break;
        }
    }
    return have_id && have_job && ref->id[0] && ref->job[0] ? 0 : -1;
}

long long haul_task_peek_keys(const char *p, size_t n, uint64_t *first,
                              haul_task_key_cb cb, void *ud)
{
    char err[HAUL_ERR_LEN];
    reader r = {(const unsigned char *)p, n, 0, err};
    mp_item top, it;
    long long got = -1;
    int have_first = 0;

    *first = 0;
    if (!p || n == 0 || n > HAUL_TASK_MAX_BYTES || read_item(&r, &top) < 0 || top.type != MP_MAP)
        return -1;
    for (uint64_t e = 0; e < top.u && !(got >= 0 && have_first); e++) {
        int k;
        if (read_key(&r, "", top_names, F_COUNT, &k) < 0) break;
        if (k == F_FIRST) {
            if (read_item(&r, &it) < 0) break;
            if (it.type == MP_UINT) *first = it.u;
            have_first = 1;
        } else if (k == F_KEYS) {
            if (read_item(&r, &it) < 0 || it.type != MP_ARRAY || it.u > HAUL_TASK_MAX_KEYS) break;
            uint64_t count = it.u;
            for (got = 0; (uint64_t)got < count; got++) {
                if (read_item(&r, &it) < 0 || (it.type != MP_STR && it.type != MP_BIN) ||
                    it.u > HAUL_KEY_MAX || memchr(it.data, 0, (size_t)it.u)) {
                    got = -1;
                    break;
                }
                cb(ud, (size_t)got, (const char *)it.data, (size_t)it.u);
            }
            if (got < 0) break;
        } else if (skip_item(&r, 1) < 0) {
            break;
        }
    }
    return got;
}

long long haul_task_index(const char *id, const char *job)
{
    size_t jn = strlen(job);
    if (strncmp(id, job, jn) != 0 || id[jn] != ':') return -1;
    const char *d = id + jn + 1;
    if (!*d || strlen(d) > 18 || strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && d[1]))
        return -1;
    return strtoll(d, NULL, 10);
}
