/* gen_seeds.c -- write the encoded-task seeds of fuzz_task into a directory.
 *
 *   make fuzz-seeds     (after a change to the wire format: then commit the files)
 *
 * Each seed is one byte, fuzz_task's choice of worker (0: no key, 1: the
 * fuzzing key), then a task as haul_task_encode_key() writes it: the ops and
 * both stores, optional fields set and unset, in the clear and sealed. The
 * sealed ones take a fresh nonce each time, so regenerating changes them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "seal.h"
#include "task.h"

static const unsigned char fuzz_key[HAUL_SEAL_KEY_LEN] = FUZZ_TASK_KEY;

static char **strv(size_t n, const char *const *v)
{
    char **out = haul_calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; i < n; i++) out[i] = haul_strdup(v[i]);
    return out;
}

#define STRV(field, nfield, ...) do {                                        \
        static const char *const v_[] = {__VA_ARGS__};                       \
        t->field = strv(sizeof v_ / sizeof v_[0], v_);                       \
        t->nfield = sizeof v_ / sizeof v_[0];                                \
    } while (0)

static void s3_conn(haul_task *t)
{
    t->conn.kind = HAUL_STORE_S3;
    t->conn.s3.endpoint = haul_strdup("http://127.0.0.1:8080");
    t->conn.s3.region = haul_strdup("us-east-1");
    t->conn.s3.access_key = haul_strdup("AKIDEXAMPLE");
    t->conn.s3.secret_key = haul_strdup("secret");
}

/* The example of docs/protocol.md: sidecar over S3. */
static void sidecar_s3(haul_task *t)
{
    t->id = haul_strdup("j1:0");
    t->job = haul_strdup("j1");
    t->op = HAUL_OP_SIDECAR;
    s3_conn(t);
    t->bucket = haul_strdup("bkt");
    t->max_inline = 65536;
    STRV(suffixes, nsuffixes, ".zip");
    t->sidecar_ext = haul_strdup(".metadata");
    STRV(keys, nkeys, "a.zip", "b");
    t->created_ms = UINT64_C(1700000000000);
}

/* Every optional S3 field set; a redelivered get. */
static void get_s3_full(haul_task *t)
{
    t->id = haul_strdup("20241125-020400-3f9c2a1b:17");
    t->job = haul_strdup("20241125-020400-3f9c2a1b");
    t->op = HAUL_OP_GET;
    s3_conn(t);
    t->conn.tls_verify = 0;
    t->conn.ca_file = haul_strdup("/etc/haul/ca.pem");
    t->conn.s3.session_token = haul_strdup("FwoGZXIvYXdzEXAMPLETOKEN");
    t->conn.s3.path_style = 0;
    t->bucket = haul_strdup("LSST-IR-FUSION-testfromopenstack");
    t->max_inline = 4096;
    t->out_dir = haul_strdup("/var/tmp/haul out");
    t->max_attempts = 7;
    t->first = 1700;
    STRV(keys, nkeys, "dummy/collated_0.zip", "dummy/1/1_1.f", "caf\xc3\xa9 %2F+x");
    t->attempt = 3;
    t->created_ms = UINT64_C(1732500000123);
}

/* Swift with auth v1.0 credentials: list under prefixes, "" the whole container. */
static void list_swift(haul_task *t)
{
    t->id = haul_strdup("j:0");
    t->job = haul_strdup("j");
    t->op = HAUL_OP_LIST;
    t->conn.kind = HAUL_STORE_SWIFT;
    t->conn.swift.auth_url = haul_strdup("http://127.0.0.1:8080/auth/v1.0");
    t->conn.swift.user = haul_strdup("test:tester");
    t->conn.swift.key = haul_strdup("testing");
    t->bucket = haul_strdup("LSST-IR-FUSION");
    STRV(keys, nkeys, "dummy/", "");
}

/* Swift with a pre-issued token: head. */
static void head_swift_token(haul_task *t)
{
    t->id = haul_strdup("j2:4");
    t->job = haul_strdup("j2");
    t->op = HAUL_OP_HEAD;
    t->conn.kind = HAUL_STORE_SWIFT;
    t->conn.swift.token = haul_strdup("AUTH_tk0123456789abcdef");
    t->conn.swift.storage_url = haul_strdup("http://127.0.0.1:8080/v1/AUTH_test");
    t->bucket = haul_strdup("c");
    t->first = 4;
    STRV(keys, nkeys, "dummy-lsst-backup.csv");
}

/* No bucket, no keys. */
static void list_buckets_s3(haul_task *t)
{
    t->id = haul_strdup("j3:0");
    t->job = haul_strdup("j3");
    t->op = HAUL_OP_LIST_BUCKETS;
    s3_conn(t);
    t->max_attempts = 1;
}

typedef struct seed {
    const char *file;
    void (*make)(haul_task *t);
    int sealed;
} seed;

static const seed seeds[] = {
    {"sidecar-s3", sidecar_s3, 0},
    {"get-s3-full", get_s3_full, 0},
    {"list-swift", list_swift, 0},
    {"head-swift-token", head_swift_token, 0},
    {"list-buckets-s3", list_buckets_s3, 0},
    {"sealed-sidecar-s3", sidecar_s3, 1},
    {"sealed-get-s3-full", get_s3_full, 1},
    {"sealed-list-swift", list_swift, 1},
};

int main(int argc, char **argv)
{
    char err[HAUL_ERR_LEN], path[4096];

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        haul_task t;
        haul_buf b = HAUL_BUF_INIT;
        haul_task_init(&t);
        seeds[i].make(&t);
        if (seeds[i].sealed) { /* as the scheduler seals them: bound to a queue and an expiry */
            t.queue = haul_strdup("default");
            t.expires_ms = t.created_ms + UINT64_C(86400000);
        }
        haul_buf_addc(&b, seeds[i].sealed ? 1 : 0);
        if (haul_task_encode_key(&t, seeds[i].sealed ? fuzz_key : NULL, &b, err) < 0) {
            fprintf(stderr, "gen_seeds: %s: %s\n", seeds[i].file, err);
            return 1;
        }
        snprintf(path, sizeof path, "%s/%s", argv[1], seeds[i].file);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0) {
            fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
            return 1;
        }
        haul_buf_free(&b);
        haul_task_clear(&t);
    }
    return 0;
}
