/* fuzz_task.c -- the task codec (common/task.h) against arbitrary bytes.
 *
 * A task comes from Redis, which anyone on the network segment may be able to
 * write to, so the decoder must turn any bytes into a task or a sentence. The
 * input's first byte chooses the worker: bit 0 clear decodes without a key
 * (tasks in the clear), set decodes with the fixed key below (sealed tasks;
 * the seeds in corpus/fuzz_task/ were sealed with it, so mutations that keep
 * the sealed bytes intact reach the fields around them). The rest is the task.
 *
 * Beyond "no crash, no leak", a task that decodes must survive a round trip:
 * re-encoded with the same key it decodes again to the same task. And
 * haul_task_bump_attempt() must do what the reaper relies on: add one to the
 * count in place and touch nothing else, or refuse and touch nothing. */
#include <inttypes.h>

#include "fuzz.h"
#include "seal.h"
#include "task.h"

/* gen_seeds.c seals the seed tasks with the same key. */
static const unsigned char fuzz_key[HAUL_SEAL_KEY_LEN] = FUZZ_TASK_KEY;

static const char *strv_diff(const char *name, char **a, size_t na, char **b, size_t nb)
{
    if (na != nb) return name;
    for (size_t i = 0; i < na; i++)
        if (!fuzz_streq(a[i], b[i])) return name;
    return NULL;
}

/* The first field that differs between a and b, or NULL. */
static const char *task_diff(const haul_task *a, const haul_task *b)
{
    const haul_conn *x = &a->conn, *y = &b->conn;
    if (!fuzz_streq(a->id, b->id)) return "id";
    if (!fuzz_streq(a->job, b->job)) return "job";
    if (a->op != b->op) return "op";
    if (!fuzz_streq(a->bucket, b->bucket)) return "bucket";
    const char *d = strv_diff("keys", a->keys, a->nkeys, b->keys, b->nkeys);
    if (d) return d;
    if (a->version != b->version) return "version";
    if (a->first != b->first) return "first";
    if (a->attempt != b->attempt) return "attempt";
    if (a->created_ms != b->created_ms) return "created";
    if (!fuzz_streq(a->queue, b->queue)) return "queue";
    if (a->expires_ms != b->expires_ms) return "expires";
    if (a->max_inline != b->max_inline) return "args.max_inline";
    if (a->max_attempts != b->max_attempts) return "args.max_attempts";
    if (!fuzz_streq(a->out_dir, b->out_dir)) return "args.out_dir";
    if (!fuzz_streq(a->sidecar_ext, b->sidecar_ext)) return "args.sidecar_ext";
    d = strv_diff("args.suffixes", a->suffixes, a->nsuffixes, b->suffixes, b->nsuffixes);
    if (d) return d;
    if (x->kind != y->kind) return "conn.kind";
    if (x->tls_verify != y->tls_verify) return "conn.tls_verify";
    if (!fuzz_streq(x->ca_file, y->ca_file)) return "conn.ca_file";
    if (!fuzz_streq(x->s3.endpoint, y->s3.endpoint)) return "conn.endpoint";
    if (!fuzz_streq(x->s3.region, y->s3.region)) return "conn.region";
    if (!fuzz_streq(x->s3.access_key, y->s3.access_key)) return "conn.access_key";
    if (!fuzz_streq(x->s3.secret_key, y->s3.secret_key)) return "conn.secret_key";
    if (!fuzz_streq(x->s3.session_token, y->s3.session_token)) return "conn.session_token";
    if (x->s3.path_style != y->s3.path_style) return "conn.path_style";
    if (!fuzz_streq(x->swift.auth_url, y->swift.auth_url)) return "conn.auth_url";
    if (!fuzz_streq(x->swift.user, y->swift.user)) return "conn.user";
    if (!fuzz_streq(x->swift.key, y->swift.key)) return "conn.key";
    if (!fuzz_streq(x->swift.token, y->swift.token)) return "conn.token";
    if (!fuzz_streq(x->swift.storage_url, y->swift.storage_url)) return "conn.storage_url";
    return NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bump the count of the n bytes at p on a copy and check that only the four
 * count bytes changed, by one; or that nothing did. Returns the bump's result
 * and leaves the bumped copy in *out (the caller frees it). */
static int bump_copy(const char *p, size_t n, char **out)
{
    char *c = malloc(n ? n : 1);
    uint32_t now = 0;

    FUZZ_CHECK(c != NULL, "malloc");
    memcpy(c, p, n);
    int rc = haul_task_bump_attempt(c, n, &now);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    if (rc == 0) {
        const size_t at = HAUL_TASK_ATTEMPT_OFFSET;
        uint32_t before = be32((const unsigned char *)p + at);
        FUZZ_CHECK(n >= at + 4, "bumped a %zu-byte input", n);
        FUZZ_CHECK(before != UINT32_MAX, "bumped past UINT32_MAX");
        FUZZ_CHECK(now == before + 1 && be32((unsigned char *)c + at) == now,
                   "count %" PRIu32 " became %" PRIu32 " (stored %" PRIu32 ")", before,
                   now, be32((unsigned char *)c + at));
        FUZZ_CHECK(memcmp(c, p, at) == 0 && memcmp(c + at + 4, p + at + 4, n - at - 4) == 0,
                   "bytes outside the count changed");
    } else {
        FUZZ_CHECK(memcmp(c, p, n) == 0, "refused, but changed the input");
    }
    *out = c;
    return rc;
}

/* A task that decoded from p must decode the same after a bump, one more
 * delivery (the count is not bound by the seal). */
static void check_bumped(const char *p, size_t n, const unsigned char *key,
                         const haul_task *t)
{
    char *c = NULL, err[HAUL_ERR_LEN] = "";
    haul_task b;

    if (bump_copy(p, n, &c) == 0) {
        int rc = haul_task_decode_key(c, n, key, &b, err);
        FUZZ_CHECK(rc == 0, "bumped task no longer decodes: %s", err);
        FUZZ_CHECK(b.attempt == t->attempt + 1, "attempt %" PRIu32 " became %" PRIu32,
                   t->attempt, b.attempt);
        b.attempt = t->attempt;
        const char *d = task_diff(t, &b);
        FUZZ_CHECK(d == NULL, "field %s changed by a bump", d);
        haul_task_clear(&b);
    }
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const unsigned char *key = (data[0] & 1) ? fuzz_key : NULL;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    char err[HAUL_ERR_LEN] = "";
    haul_task t, t2;
    haul_buf enc = HAUL_BUF_INIT;

    /* Whatever the decoder makes of the bytes, the bump works on the bytes. */
    char *c = NULL;
    bump_copy(p, n, &c);
    free(c);

    int rc = haul_task_decode_key(p, n, key, &t, err);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL,
                   "failed without a sentence");
        haul_task_clear(&t);
        return 0;
    }
    check_bumped(p, n, key, &t);

    /* A task that decodes names its id and job to haul_task_peek (which
     * attributes dead letters), truncated to the buffers. */
    haul_task_ref ref;
    FUZZ_CHECK(haul_task_peek(p, n, &ref) == 0, "a task that decoded cannot be peeked");
    FUZZ_CHECK(strncmp(ref.id, t.id, sizeof ref.id - 1) == 0 &&
               strncmp(ref.job, t.job, sizeof ref.job - 1) == 0,
               "peek names '%s' of '%s', the task '%s' of '%s'", ref.id, ref.job, t.id, t.job);

    /* The round trip. */
    rc = haul_task_encode_key(&t, key, &enc, err);
    FUZZ_CHECK(rc == 0, "a task that decoded does not encode: %s", err);
    FUZZ_CHECK(enc.len > HAUL_TASK_ATTEMPT_OFFSET + 4, "encoded in %zu bytes", enc.len);
    rc = haul_task_decode_key(enc.p, enc.len, key, &t2, err);
    FUZZ_CHECK(rc == 0, "a re-encoded task does not decode: %s", err);
    const char *d = task_diff(&t, &t2);
    FUZZ_CHECK(d == NULL, "field %s differs after a round trip", d);

    /* What the encoder writes, the reaper can always bump. */
    if (t.attempt != UINT32_MAX) {
        char *b = NULL;
        FUZZ_CHECK(bump_copy(enc.p, enc.len, &b) == 0,
                   "cannot bump the count of a task haul encoded");
        free(b);
        check_bumped(enc.p, enc.len, key, &t2);
    }

    haul_buf_free(&enc);
    haul_task_clear(&t2);
    haul_task_clear(&t);
    return 0;
}
