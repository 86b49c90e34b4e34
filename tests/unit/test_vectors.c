/* test_vectors.c -- the conformance vectors (tests/vectors/vectors.json),
 * shared with the Python client's tests (python/tests/test_vectors.py).
 *
 * python/tests/make_vectors.py wrote them with python/haul's codec; here the
 * C codec must agree with every one: decode each task to its fields, encode
 * each clear task to the same bytes, open each sealed task with the key (and
 * its `sealed` value with the given associated data to the given plaintext),
 * seal it again to the same layout, refuse each reject with the same
 * sentence, compute each row's MAC, and apply the reaper's rule at byte 13.
 * So a byte moved on either side fails both suites. HAUL_VECTORS names
 * another file. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../fuzz/fuzz.h"

#include "rowmac.h"
#include "seal.h"
#include "task.h"
#include "test.h"

static json_t *vectors;
static unsigned char key[HAUL_SEAL_KEY_LEN];

static size_t unhex(const char *h, unsigned char **out)
{
    size_t n = strlen(h) / 2;
    *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        (*out)[i] = (unsigned char)v;
    }
    return n;
}

static int load(void)
{
    const char *path = getenv("HAUL_VECTORS") ? getenv("HAUL_VECTORS") : "tests/vectors/vectors.json";
    json_error_t e;
    vectors = json_load_file(path, JSON_ALLOW_NUL, &e);
    if (!vectors) {
        printf("  cannot read %s: %s (line %d)\n", path, e.text, e.line);
        return -1;
    }
    unsigned char *k;
    if (unhex(json_string_value(json_object_get(vectors, "key")), &k) != HAUL_SEAL_KEY_LEN) return -1;
    memcpy(key, k, sizeof key);
    free(k);
    return 0;
}

/* ---- a decoded task against the vector's fields -------------------------- */

static int str_eq(const char *got, json_t *want)
{
    if (!want || json_is_null(want)) return got == NULL;
    return got && !strcmp(got, json_string_value(want));
}

static int strv_eq(char *const *got, size_t n, json_t *want)
{
    size_t wn = want ? json_array_size(want) : 0;
    if (n != wn) return 0;
    for (size_t i = 0; i < n; i++)
        if (!str_eq(got[i], json_array_get(want, i))) return 0;
    return 1;
}

static unsigned long long num(json_t *f, const char *name, unsigned long long dflt)
{
    json_t *v = json_object_get(f, name);
    return v && json_is_integer(v) ? (unsigned long long)json_integer_value(v) : dflt;
}

/* jansson holds integers as long long: a uint64 above that range is a real. */
static unsigned long long num64(json_t *f, const char *name)
{
    json_t *v = json_object_get(f, name);
    if (!v) return 0;
    if (json_is_real(v)) return (unsigned long long)json_real_value(v);
    return (unsigned long long)json_integer_value(v);
}

/* The first field that differs, or NULL. */
static const char *differs(const haul_task *t, json_t *f)
{
    json_t *c = json_object_get(f, "conn");
    if (!str_eq(t->id, json_object_get(f, "id"))) return "id";
    if (!str_eq(t->job, json_object_get(f, "job"))) return "job";
    if (strcmp(haul_op_str(t->op), json_string_value(json_object_get(f, "op")))) return "op";
    if (!str_eq(t->bucket, json_object_get(f, "bucket"))) return "bucket";
    if (t->max_inline != num(f, "max_inline", 0)) return "max_inline";
    if (!str_eq(t->out_dir, json_object_get(f, "out_dir"))) return "out_dir";
    if (!strv_eq(t->suffixes, t->nsuffixes, json_object_get(f, "suffixes"))) return "suffixes";
    if (!str_eq(t->sidecar_ext, json_object_get(f, "sidecar_ext"))) return "sidecar_ext";
    if (t->max_attempts != num(f, "max_attempts", 4)) return "max_attempts";
    if (!str_eq(t->src_dir, json_object_get(f, "src_dir"))) return "src_dir";
    if (!strv_eq(t->srcs, t->nsrcs, json_object_get(f, "srcs"))) return "srcs";
    if (!strv_eq(t->meta, t->nmeta, json_object_get(f, "meta"))) return "meta";
    if (t->segment_size != num(f, "segment_size", 0)) return "segment_size";
    if (t->flags != num(f, "flags", 0)) return "flags";
    json_t *sizes = json_object_get(f, "sizes");
    if (t->nexpect != json_array_size(sizes)) return "sizes";
    for (size_t i = 0; i < t->nexpect; i++) {
        json_t *s = json_array_get(sizes, i);
        if (t->sizes[i] != (json_is_null(s) ? -1 : json_integer_value(s))) return "sizes";
    }
    if (!strv_eq(t->md5s, t->nexpect, json_object_get(f, "md5s"))) return "md5s";
    json_t *mc = json_object_get(f, "member_counts");
    if (t->ncounts != json_array_size(mc)) return "member_counts";
    for (size_t i = 0; i < t->ncounts; i++)
        if (t->member_counts[i] != json_integer_value(json_array_get(mc, i))) return "member_counts";
    if (!strv_eq(t->members, t->nmembers, json_object_get(f, "members"))) return "members";
    if (t->first != num64(f, "first")) return "first";
    if (!strv_eq(t->keys, t->nkeys, json_object_get(f, "keys"))) return "keys";
    if (t->attempt != num(f, "attempt", 0)) return "attempt";
    if (t->created_ms != num64(f, "created")) return "created";
    if (!str_eq(t->queue, json_object_get(f, "queue"))) return "queue";
    if (t->expires_ms != num64(f, "expires")) return "expires";
    /* conn */
    const char *kind = json_string_value(json_object_get(c, "kind"));
    if (strcmp(haul_store_kind_str(t->conn.kind), kind)) return "conn.kind";
    if (t->conn.tls_verify != json_is_true(json_object_get(c, "tls_verify"))) return "conn.tls_verify";
    if (!str_eq(t->conn.ca_file, json_object_get(c, "ca_file"))) return "conn.ca_file";
    if (t->conn.kind == HAUL_STORE_S3) {
        if (!str_eq(t->conn.s3.endpoint, json_object_get(c, "endpoint"))) return "conn.endpoint";
        if (!str_eq(t->conn.s3.region, json_object_get(c, "region"))) return "conn.region";
        if (!str_eq(t->conn.s3.access_key, json_object_get(c, "access_key"))) return "conn.access_key";
        if (!str_eq(t->conn.s3.secret_key, json_object_get(c, "secret_key"))) return "conn.secret_key";
        if (!str_eq(t->conn.s3.session_token, json_object_get(c, "session_token"))) return "conn.session_token";
        if (t->conn.s3.path_style != json_is_true(json_object_get(c, "path_style"))) return "conn.path_style";
    } else {
        if (!str_eq(t->conn.swift.auth_url, json_object_get(c, "auth_url"))) return "conn.auth_url";
        if (!str_eq(t->conn.swift.user, json_object_get(c, "user"))) return "conn.user";
        if (!str_eq(t->conn.swift.key, json_object_get(c, "key"))) return "conn.key";
        if (!str_eq(t->conn.swift.token, json_object_get(c, "token"))) return "conn.token";
        if (!str_eq(t->conn.swift.storage_url, json_object_get(c, "storage_url"))) return "conn.storage_url";
    }
    return NULL;
}

/* Where the value of "sealed" starts in an encoded task, and its length. */
static int find_sealed(const unsigned char *p, size_t n, size_t *at, size_t *len)
{
    static const unsigned char name[] = {0xa6, 's', 'e', 'a', 'l', 'e', 'd'};
    for (size_t i = 0; i + sizeof name + 2 < n; i++) {
        if (memcmp(p + i, name, sizeof name)) continue;
        const unsigned char *h = p + i + sizeof name;
        if (h[0] == 0xc4) { *len = h[1]; *at = i + sizeof name + 2; }
        else if (h[0] == 0xc5) { *len = (size_t)h[1] << 8 | h[2]; *at = i + sizeof name + 3; }
        else return -1;
        return *at + *len <= n ? 0 : -1;
    }
    return -1;
}

/* ---- the tests -------------------------------------------------------------- */

TEST(clear_tasks_decode_and_encode_to_the_same_bytes)
{
    size_t i, seen = 0;
    json_t *v;
    json_array_foreach(json_object_get(vectors, "tasks"), i, v) {
        if (json_is_true(json_object_get(v, "sealed"))) continue;
        const char *name = json_string_value(json_object_get(v, "name"));
        unsigned char *b;
        size_t n = unhex(json_string_value(json_object_get(v, "hex")), &b);
        haul_task t;
        haul_buf out = HAUL_BUF_INIT;
        char err[HAUL_ERR_LEN];
        if (haul_task_decode((const char *)b, n, &t, err) < 0) FAIL_("%s: %s", name, err);
        const char *d = differs(&t, json_object_get(v, "fields"));
        if (d) FAIL_("%s: field %s differs", name, d);
        if (haul_task_encode(&t, &out, err) < 0) FAIL_("%s: encode: %s", name, err);
        if (out.len != n || memcmp(out.p, b, n)) FAIL_("%s: encoded %zu bytes, the vector %zu, not the same", name, out.len, n);
        haul_buf_free(&out);
        haul_task_clear(&t);
        free(b);
        seen++;
    }
    ASSERT(seen >= 10);
}

TEST(sealed_tasks_open_and_seal_to_the_same_layout)
{
    size_t i, seen = 0;
    json_t *v;
    json_array_foreach(json_object_get(vectors, "tasks"), i, v) {
        if (!json_is_true(json_object_get(v, "sealed"))) continue;
        const char *name = json_string_value(json_object_get(v, "name"));
        unsigned char *b, *aad, *pt;
        size_t n = unhex(json_string_value(json_object_get(v, "hex")), &b);
        size_t aadn = unhex(json_string_value(json_object_get(v, "aad")), &aad);
        size_t ptn = unhex(json_string_value(json_object_get(v, "plaintext")), &pt);
        haul_task t, t2;
        haul_buf out = HAUL_BUF_INIT, open = HAUL_BUF_INIT;
        char err[HAUL_ERR_LEN];
        size_t at, len, at2, len2;
        if (haul_task_decode_key((const char *)b, n, key, &t, err) < 0) FAIL_("%s: %s", name, err);
        const char *d = differs(&t, json_object_get(v, "fields"));
        if (d) FAIL_("%s: field %s differs", name, d);
        /* The sealed value opens with the documented associated data. */
        if (find_sealed(b, n, &at, &len) < 0) FAIL_("%s: no 'sealed' bin in the vector", name);
        if (haul_unseal(key, aad, aadn, b + at, len, &open, err) < 0) FAIL_("%s: unseal: %s", name, err);
        if (open.len != ptn || memcmp(open.p, pt, ptn)) FAIL_("%s: the plaintext differs", name);
        /* Sealed again (another nonce): the same bytes around the sealed value. */
        if (haul_task_encode_key(&t, key, &out, err) < 0) FAIL_("%s: encode: %s", name, err);
        if (find_sealed((unsigned char *)out.p, out.len, &at2, &len2) < 0 || at2 != at || len2 != len ||
            out.len != n || memcmp(out.p, b, at) || memcmp(out.p + at + len, b + at + len, n - at - len))
            FAIL_("%s: sealed again, the bytes around 'sealed' differ", name);
        if (haul_task_decode_key(out.p, out.len, key, &t2, err) < 0) FAIL_("%s: C's own: %s", name, err);
        haul_task_clear(&t2);
        haul_seal_buf_wipe(&open);
        haul_buf_free(&out);
        haul_task_clear(&t);
        free(b); free(aad); free(pt);
        seen++;
    }
    ASSERT(seen >= 5);
}

TEST(rejects_are_refused_with_the_same_sentence)
{
    size_t i, seen = 0, bad = 0;
    json_t *v;
    json_array_foreach(json_object_get(vectors, "rejects"), i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *want = json_string_value(json_object_get(v, "error"));
        unsigned char *b;
        size_t n = unhex(json_string_value(json_object_get(v, "hex")), &b);
        haul_task t;
        char err[HAUL_ERR_LEN] = "";
        int rc = haul_task_decode_key((const char *)b, n, json_is_true(json_object_get(v, "key")) ? key : NULL,
                                      &t, err);
        haul_task_clear(&t);
        free(b);
        /* Every reject is said, not only the first that differs. */
        if (rc == 0 || !want || strcmp(err, want)) {
            printf("  %s:\n    C:      %s\n    vector: %s\n", name, rc == 0 ? "(decoded)" : err, want ? want : "(none)");
            bad++;
        }
        seen++;
    }
    ASSERT_EQ(bad, 0);
    ASSERT(seen >= 10);
}

TEST(row_macs)
{
    size_t i, seen = 0;
    json_t *v;
    haul_rowmac *m = haul_rowmac_new(key);
    ASSERT(m);
    json_array_foreach(json_object_get(vectors, "rows"), i, v) {
        const char *job = json_string_value(json_object_get(v, "job"));
        json_t *items = json_object_get(v, "items");
        size_t n = json_array_size(items);
        const char *item[64];
        size_t len[64];
        char hex[HAUL_ROWMAC_HEX + 1];
        for (size_t j = 0; j < n && j < 64; j++) {
            item[j] = json_string_value(json_array_get(items, j));
            len[j] = json_string_length(json_array_get(items, j));
        }
        ASSERT_EQ(haul_rowmac_compute(m, job, strlen(job), item, len, n, hex), 0);
        ASSERT_STREQ(hex, json_string_value(json_object_get(v, "mac")));
        ASSERT_EQ(haul_rowmac_verify(m, job, strlen(job), item, len, n, hex, HAUL_ROWMAC_HEX), 1);
        seen++;
    }
    haul_rowmac_free(m);
    ASSERT(seen >= 4);
}

TEST(delivery_count_at_byte_13)
{
    size_t i, seen = 0;
    json_t *v;
    json_array_foreach(json_object_get(vectors, "bump"), i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        json_t *after = json_object_get(v, "after");
        unsigned char *b, *a = NULL;
        size_t n = unhex(json_string_value(json_object_get(v, "hex")), &b);
        unsigned char *copy = malloc(n + 1);
        memcpy(copy, b, n);
        uint32_t now = 0;
        int rc = haul_task_bump_attempt((char *)copy, n, &now);
        if (json_is_null(after)) {
            if (rc != -1 || memcmp(copy, b, n)) FAIL_("%s: bumped, or bytes touched", name);
        } else {
            size_t an = unhex(json_string_value(after), &a);
            if (rc != 0 || an != n || memcmp(copy, a, n)) FAIL_("%s: not the vector's bytes", name);
        }
        free(a); free(b); free(copy);
        seen++;
    }
    ASSERT(seen >= 5);
}

/* The fuzz_task seeds the Python codec made (python/tests/make_fuzz_seeds.py):
 * each decodes here, with the fuzzing key when its first byte says so. */
TEST(python_fuzz_seeds_decode)
{
    static const unsigned char fkey[HAUL_SEAL_KEY_LEN] = FUZZ_TASK_KEY;
    const char *dir = "tests/fuzz/corpus/fuzz_task";
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t seen = 0;
    ASSERT(d);
    while ((e = readdir(d))) {
        char path[512], err[HAUL_ERR_LEN];
        unsigned char buf[1 << 16];
        if (strncmp(e->d_name, "py-", 3)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) { closedir(d); FAIL_("%s: cannot open", path); }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        haul_task t;
        int rc = n > 1 ? haul_task_decode_key((const char *)buf + 1, n - 1, buf[0] & 1 ? fkey : NULL, &t, err) : -1;
        haul_task_clear(&t);
        if (rc < 0) { closedir(d); FAIL_("%s: %s", path, n > 1 ? err : "empty"); }
        seen++;
    }
    closedir(d);
    ASSERT(seen >= 20);
}

int main(void)
{
    if (load() < 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(clear_tasks_decode_and_encode_to_the_same_bytes);
    RUN(sealed_tasks_open_and_seal_to_the_same_layout);
    RUN(rejects_are_refused_with_the_same_sentence);
    RUN(row_macs);
    RUN(delivery_count_at_byte_13);
    RUN(python_fuzz_seeds_decode);
    json_decref(vectors);
    TEST_DONE();
}
