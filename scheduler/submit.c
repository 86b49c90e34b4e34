/* submit.c -- turn a job (a listing, or a list of keys) into tasks in Redis.
 *
 * Keys are streamed: read from the file or the listing, cut into batches of
 * --batch keys, each batch encoded as one task and RPUSHed, pipelined in
 * groups, so a job of millions of keys never sits in memory.
 *
 * Duplicate keys are coalesced (unless --no-coalesce): each distinct key gets
 * a "slot", numbered in order of first appearance, and only slots become
 * tasks; a later occurrence of a key becomes a row that repeats an earlier
 * slot's result. Those rows are stored as runs "ROW SLOT N" (rows ROW..ROW+N-1
 * repeat slots SLOT..SLOT+N-1) in haul:dup:<job>, which the collector reads.
 * The notebook's listing x10 is one run per repetition. Remembering the keys
 * costs 16 bytes per distinct key (dedupe.h); --repeat replays the first
 * pass's row-to-slot runs, not the keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedupe.h"
#include "log.h"
#include "queue.h"
#include "scheduler.h"
#include "seal.h"
#include "store.h"

#include <openssl/crypto.h>

#define PIPELINE 64  /* tasks pushed per round trip */
#define DUP_BATCH 256 /* duplicate runs per RPUSH */

typedef struct run { long long row, slot, n; } run;

typedef struct submitter {
    const sched_cfg *cfg;
    redisContext *rc;
    haul_task t;          /* the batch being filled */
    size_t cap;
    long long nkeys, ntasks; /* nkeys: rows, one per key given */
    long long nslots;     /* distinct keys: what the tasks hold */
    int pending;          /* RPUSH replies not yet read */
    haul_buf qkey, enc, dkey;
    char **kept; size_t nkept, capkept; /* --repeat without coalescing */
    int replaying;        /* adding kept keys again */
    int coalesce;
    haul_dedupe seen;
    run cur;              /* the duplicate run being grown */
    long long ndups;      /* rows that repeat an earlier key */
    char dupmem[DUP_BATCH][64];
    int ndupbuf;
    run *seg; size_t nseg, capseg; /* the first pass's rows -> slots, for --repeat */
    int failed;
    const unsigned char *key;  /* seals the connection state; NULL: in the clear */
    char err[HAUL_ERR_LEN];
} submitter;

static int drain(submitter *s)
{
    while (s->pending > 0) {
        redisReply *r = haul_redis_get_reply(s->rc, s->err);
        s->pending--;
        if (!r) { s->failed = 1; return -1; }
        freeReplyObject(r);
    }
    return 0;
}

static int push_batch(submitter *s)
{
    if (!s->t.nkeys) return 0;
    haul_buf id = HAUL_BUF_INIT;
    haul_buf_printf(&id, "%s:%lld", s->t.job, s->ntasks);
    free(s->t.id);
    s->t.id = haul_buf_detach(&id);
    s->t.created_ms = (uint64_t)haul_now_ms();
    s->t.expires_ms = s->t.created_ms + (uint64_t)s->cfg->task_ttl * 1000;
    haul_buf_reset(&s->enc);
    if (haul_task_encode_key(&s->t, s->key, &s->enc, s->err) < 0) { s->failed = 1; return -1; }
    redisAppendCommand(s->rc, "RPUSH %s %b", s->qkey.p, s->enc.p, s->enc.len);
    s->pending++;
    s->ntasks++;
    s->t.first += s->t.nkeys;
    for (size_t i = 0; i < s->t.nkeys; i++) free(s->t.keys[i]);
    s->t.nkeys = 0;
    if (s->pending >= PIPELINE) return drain(s);
    return 0;
}

static int flush_dups(submitter *s)
{
    const char *argv[DUP_BATCH + 2];
    size_t argl[DUP_BATCH + 2];
    if (!s->ndupbuf) return 0;
    argv[0] = "RPUSH"; argl[0] = 5;
    argv[1] = s->dkey.p; argl[1] = s->dkey.len;
    for (int i = 0; i < s->ndupbuf; i++) {
        argv[i + 2] = s->dupmem[i];
        argl[i + 2] = strlen(s->dupmem[i]);
    }
    redisAppendCommandArgv(s->rc, s->ndupbuf + 2, argv, argl);
    s->ndupbuf = 0;
    s->pending++;
    if (s->pending >= PIPELINE) return drain(s);
    return 0;
}

/* Store the current duplicate run (batched). */
static int end_run(submitter *s)
{
    if (!s->cur.n) return 0;
    snprintf(s->dupmem[s->ndupbuf++], sizeof s->dupmem[0], "%lld %lld %lld", s->cur.row, s->cur.slot, s->cur.n);
    s->cur.n = 0;
    if (s->ndupbuf == DUP_BATCH) return flush_dups(s);
    return 0;
}

/* Grow R by N rows when ROW and SLOT carry on where it ends. */
static int run_extend(run *r, long long row, long long slot, long long n)
{
    if (!r->n || row != r->row + r->n || slot != r->slot + r->n) return 0;
    r->n += n;
    return 1;
}

/* Rows ROW..ROW+N-1 repeat slots SLOT..SLOT+N-1. */
static int add_dups(submitter *s, long long row, long long slot, long long n)
{
    s->ndups += n;
    if (run_extend(&s->cur, row, slot, n)) return 0;
    int r = end_run(s);
    s->cur = (run){row, slot, n};
    return r;
}

/* Remember that ROW is SLOT, when the first pass will be replayed. */
static void add_seg(submitter *s, long long row, long long slot)
{
    if (s->replaying || s->cfg->repeat <= 1 || !s->coalesce) return;
    if (s->nseg && run_extend(&s->seg[s->nseg - 1], row, slot, 1)) return;
    if (s->nseg == s->capseg) {
        s->capseg = s->capseg ? s->capseg * 2 : 16;
        s->seg = haul_realloc(s->seg, s->capseg * sizeof *s->seg);
    }
    s->seg[s->nseg++] = (run){row, slot, 1};
}

static int add_key(submitter *s, const char *key, size_t len)
{
    if (s->failed) return -1;
    if (len > HAUL_KEY_MAX) {
        snprintf(s->err, HAUL_ERR_LEN, "key %lld is %zu bytes long; the limit is %d", s->nkeys + 1, len, HAUL_KEY_MAX);
        s->failed = 1;
        return -1;
    }
    if (memchr(key, '\0', len)) {
        snprintf(s->err, HAUL_ERR_LEN, "key %lld holds a NUL byte", s->nkeys + 1);
        s->failed = 1;
        return -1;
    }
    if (s->coalesce) {
        uint32_t earlier;
        if (s->nslots >= UINT32_MAX) {
            snprintf(s->err, HAUL_ERR_LEN, "more than %u distinct keys in one job (--no-coalesce lifts the limit)", UINT32_MAX);
            s->failed = 1;
            return -1;
        }
        if (haul_dedupe_add(&s->seen, key, len, (uint32_t)s->nslots, &earlier)) {
            add_seg(s, s->nkeys, earlier);
            s->nkeys++;
            return add_dups(s, s->nkeys - 1, earlier, 1);
        }
    }
    add_seg(s, s->nkeys, s->nslots);
    s->nslots++;
    if (s->t.nkeys == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->t.keys = haul_realloc(s->t.keys, s->cap * sizeof *s->t.keys);
    }
    s->t.keys[s->t.nkeys++] = haul_strndup(key, len);
    s->nkeys++;
    if (s->cfg->repeat > 1 && !s->replaying && !s->coalesce) {
        if (s->nkept == s->capkept) {
            s->capkept = s->capkept ? s->capkept * 2 : 256;
            s->kept = haul_realloc(s->kept, s->capkept * sizeof *s->kept);
        }
        s->kept[s->nkept++] = haul_strndup(key, len);
    }
    if ((long long)s->t.nkeys >= s->cfg->batch) return push_batch(s);
    return 0;
}

static int list_cb_noop(void *ud, const haul_list_entry *e)
{
    (void)ud; (void)e;
    return 0;
}

static int list_cb(void *ud, const haul_list_entry *e)
{
    submitter *s = ud;
    return add_key(s, e->name, strlen(e->name)) < 0;
}

int haul_conn_from_cfg(const sched_cfg *c, haul_conn *conn, char *err)
{
    const char *store = c->s3 ? "s3" : c->swift ? "swift" : c->store;
    haul_conn_init(conn);
    if (!store) {
        snprintf(err, HAUL_ERR_LEN, "choose the store: --s3 ENDPOINT or --swift (or HAUL_STORE=s3|swift)");
        return -1;
    }
    conn->tls_verify = c->tls_verify;
    conn->ca_file = haul_strdup(c->ca_file);
    if (!strcmp(store, "s3")) {
        conn->kind = HAUL_STORE_S3;
        conn->s3.endpoint = haul_strdup(c->s3 ? c->s3 : c->endpoint);
        if (conn->s3.endpoint) {
            size_t n = strlen(conn->s3.endpoint);
            while (n && conn->s3.endpoint[n - 1] == '/') conn->s3.endpoint[--n] = '\0';
        }
        conn->s3.region = haul_strdup(c->region);
        conn->s3.access_key = haul_strdup(c->access_key);
        conn->s3.secret_key = haul_strdup(c->secret_key);
        conn->s3.session_token = haul_strdup(c->session_token);
        conn->s3.path_style = !c->virtual_host;
    } else if (!strcmp(store, "swift")) {
        conn->kind = HAUL_STORE_SWIFT;
        if (c->token) {
            conn->swift.token = haul_strdup(c->token);
            conn->swift.storage_url = haul_strdup(c->storage_url);
        } else {
            conn->swift.auth_url = haul_strdup(c->auth_url);
            conn->swift.user = haul_strdup(c->user);
            conn->swift.key = haul_strdup(c->key);
        }
    } else {
        snprintf(err, HAUL_ERR_LEN, "--store: '%s' is not s3 or swift", store);
        return -1;
    }
    return haul_conn_check(conn, err);
}

static char *new_job_id(void)
{
    unsigned char rnd[4] = {0};
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
        close(fd);
    }
    long long now = haul_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    char ts[32];
    gmtime_r(&secs, &tm);
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "%s-%02x%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2], rnd[3]);
    return haul_buf_detach(&b);
}

static int split_suffixes(const char *list, haul_task *t, char *err)
{
    const char *p = list ? list : ".zip";
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n) {
            if (t->nsuffixes == HAUL_SUFFIX_MAX) {
                snprintf(err, HAUL_ERR_LEN, "--suffixes: more than %d suffixes", HAUL_SUFFIX_MAX);
                return -1;
            }
            t->suffixes = haul_realloc(t->suffixes, (t->nsuffixes + 1) * sizeof *t->suffixes);
            t->suffixes[t->nsuffixes++] = haul_strndup(p, n);
        }
        p += n + (c ? 1 : 0);
    }
    return 0;
}

static int read_keys_file(submitter *s, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!f) {
        snprintf(s->err, HAUL_ERR_LEN, "--keys: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        if (add_key(s, line, (size_t)n) < 0) break;
    }
    free(line);
    if (f != stdin) fclose(f);
    return s->failed ? -1 : 0;
}

int haul_submit(const sched_cfg *cfg, redisContext *rc, char **job_out)
{
    submitter s;
    haul_op op;
    char desc[256];
    haul_buf k = HAUL_BUF_INIT;
    redisReply *r;
    int rc_ = -1;
    const char *bucket = cfg->bucket;
    unsigned char key[HAUL_SEAL_KEY_LEN];

    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.rc = rc;
    {
        uint64_t seed = (uint64_t)haul_now_ms() ^ ((uint64_t)getpid() << 32);
        haul_dedupe_init(&s.seen, seed);
    }
    haul_task_init(&s.t);
    if (haul_op_parse(cfg->op, &op) < 0) {
        fprintf(stderr, "haul-scheduler: --op: '%s' is not one of list-buckets, list, head, get, sidecar\n", cfg->op);
        goto out;
    }
    if (haul_conn_from_cfg(cfg, &s.t.conn, s.err) < 0) {
        fprintf(stderr, "haul-scheduler: %s\n", s.err);
        goto out;
    }
    if (op != HAUL_OP_LIST_BUCKETS && !bucket) {
        fprintf(stderr, "haul-scheduler: --bucket (or --container) is required for --op %s\n", cfg->op);
        goto out;
    }
    /* Before the check below sends anything: with --virtual-host a bucket
     * such as "host:port/x?" becomes the request's host, and the signed
     * request would go there. The encoder refuses it too, but only later. */
    if (op != HAUL_OP_LIST_BUCKETS &&
        haul_bucket_check(bucket, s.t.conn.kind == HAUL_STORE_S3 && !s.t.conn.s3.path_style, s.err) < 0) {
        fprintf(stderr, "haul-scheduler: %s\n", s.err);
        goto out;
    }
    if (op == HAUL_OP_GET && cfg->out_dir && cfg->out_dir[0] != '/')
        log_warn("--out-dir %s is relative: workers resolve it against their own working directory", cfg->out_dir);
    haul_conn_describe(&s.t.conn, desc, sizeof desc);

    /* Check the credentials and the bucket before queueing anything: a wrong
     * secret is one clear message here, not thousands of error rows. */
    if (cfg->check && (cfg->keys || op == HAUL_OP_LIST || op == HAUL_OP_LIST_BUCKETS)) {
        char err[HAUL_ERR_LEN];
        if (haul_store_list(&s.t.conn, op == HAUL_OP_LIST_BUCKETS ? NULL : bucket, NULL, 1,
                            list_cb_noop, NULL, err) < 0) {
            fprintf(stderr, "haul-scheduler: %s\n", err);
            goto out;
        }
    }

    /* Seal the connection state when a key is given; say once that it
     * travels in the clear otherwise. */
    if (cfg->key_file) {
        int kl = haul_seal_key_load(cfg->key_file, key, s.err);
        if (kl < 0) {
            fprintf(stderr, "haul-scheduler: %s\n", s.err);
            goto out;
        }
        if (kl == 1) log_warn("key file %s is readable by other users: chmod 600 it", cfg->key_file);
        s.key = key;
    } else {
        log_warn("no --key-file / HAUL_KEY_FILE: the store's credentials are stored in the clear "
                 "in Redis tasks (haul-scheduler keygen FILE makes a key; give it to the workers too)");
    }
    s.t.op = op;
    s.t.queue = haul_strdup(cfg->queue);
    s.t.max_attempts = (uint32_t)cfg->max_attempts;
    s.t.bucket = haul_strdup(op == HAUL_OP_LIST_BUCKETS ? NULL : bucket);
    s.t.max_inline = (uint64_t)cfg->max_inline;
    s.t.out_dir = haul_strdup(cfg->out_dir);
    s.t.sidecar_ext = haul_strdup(cfg->sidecar_ext);
    if (split_suffixes(cfg->suffixes, &s.t, s.err) < 0) {
        fprintf(stderr, "haul-scheduler: %s\n", s.err);
        goto out;
    }
    s.t.job = new_job_id();
    haul_key_queue(&s.qkey, cfg->queue);
    haul_key_dups(&s.dkey, s.t.job);
    /* A listing of prefixes has nothing to coalesce; its rows come as listed. */
    s.coalesce = cfg->coalesce && op != HAUL_OP_LIST && op != HAUL_OP_LIST_BUCKETS;

    haul_key_job(&k, s.t.job);
    r = haul_redis_cmd(rc, s.err, "HSET %s op %s store %s endpoint %s bucket %s queue %s batch %lld "
                       "state submitting created %lld keys 0 tasks 0",
                       k.p, cfg->op, haul_store_kind_str(s.t.conn.kind), desc, bucket ? bucket : "",
                       cfg->queue, cfg->batch, haul_now_ms());
    if (!r) goto redis_fail;
    freeReplyObject(r);
    /* The results stream exists before any task does: workers add to it with
     * NOMKSTREAM, so once it is deleted or expired nothing brings it back
     * without an expiry. An entry added and trimmed away makes it empty. */
    {
        haul_buf sk = HAUL_BUF_INIT;
        r = haul_redis_cmd(rc, s.err, "XADD %s MAXLEN 0 * type job", haul_key_results(&sk, s.t.job));
        haul_buf_free(&sk);
        if (!r) goto redis_fail;
        freeReplyObject(r);
    }
    if (!(r = haul_redis_cmd(rc, s.err, "ZADD " HAUL_KEY_JOBS " %lld %s", haul_now_ms(), s.t.job))) goto redis_fail;
    freeReplyObject(r);
    if (!(r = haul_redis_cmd(rc, s.err, "SADD " HAUL_KEY_QUEUES " %s", cfg->queue))) goto redis_fail;
    freeReplyObject(r);

    long long rows0 = 0;
    for (long long rep = 0; rep < (cfg->repeat > 0 ? cfg->repeat : 1); rep++) {
        if (rep > 0 && s.coalesce) {
            /* Every key of a repetition was seen in the first: replay its
             * row -> slot runs, as duplicates. */
            if (rep == 1) rows0 = s.nkeys;
            s.replaying = 1;
            for (size_t i = 0; i < s.nseg && !s.failed; i++)
                if (add_dups(&s, rep * rows0 + s.seg[i].row, s.seg[i].slot, s.seg[i].n) < 0) break;
            s.nkeys += rows0;
        } else if (rep > 0) {
            s.replaying = 1;
            for (size_t i = 0; i < s.nkept && !s.failed; i++)
                add_key(&s, s.kept[i], strlen(s.kept[i]));
        } else if (op == HAUL_OP_LIST_BUCKETS) {
            add_key(&s, "", 0);
        } else if (cfg->keys) {
            read_keys_file(&s, cfg->keys);
        } else if (op == HAUL_OP_LIST) {
            add_key(&s, cfg->prefix ? cfg->prefix : "", strlen(cfg->prefix ? cfg->prefix : ""));
        } else {
            char err[HAUL_ERR_LEN];
            if (haul_store_list(&s.t.conn, bucket, cfg->prefix, cfg->limit, list_cb, &s, err) < 0 && !s.failed) {
                fprintf(stderr, "haul-scheduler: %s\n", err);
                s.failed = 2;
            }
        }
        if (s.failed) break;
    }
    if (!s.failed) push_batch(&s);
    if (!s.failed) end_run(&s);
    if (!s.failed) flush_dups(&s);
    if (!s.failed) drain(&s);
    if (s.failed) {
        if (s.failed == 1) fprintf(stderr, "haul-scheduler: %s\n", s.err);
        r = haul_redis_cmd(rc, s.err, "HSET %s state failed", k.p);
        if (r) freeReplyObject(r);
        goto out;
    }
    r = haul_redis_cmd(rc, s.err, "HSET %s keys %lld distinct %lld tasks %lld state queued", k.p,
                       s.nkeys, s.nslots, s.ntasks);
    if (!r) goto redis_fail;
    freeReplyObject(r);
    if (s.nkeys == 0) log_warn("job %s has no keys (empty listing or keys file)", s.t.job);
    if (s.ndups)
        log_info("job %s: %lld keys (%lld distinct: %lld repeats coalesced) in %lld tasks queued on '%s'",
                 s.t.job, s.nkeys, s.nslots, s.ndups, s.ntasks, cfg->queue);
    else
        log_info("job %s: %lld keys in %lld tasks queued on '%s'", s.t.job, s.nkeys, s.ntasks, cfg->queue);
    *job_out = haul_strdup(s.t.job);
    rc_ = 0;
    goto out;
redis_fail:
    fprintf(stderr, "haul-scheduler: %s\n", s.err);
out:
    for (size_t i = 0; i < s.nkept; i++) free(s.kept[i]);
    free(s.kept);
    free(s.seg);
    haul_dedupe_free(&s.seen);
    haul_buf_free(&s.dkey);
    haul_task_clear(&s.t);
    haul_buf_free(&s.qkey);
    haul_buf_free(&s.enc);
    haul_buf_free(&k);
    OPENSSL_cleanse(key, sizeof key);
    return rc_;
}
