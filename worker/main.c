/* haul-worker -- takes tasks from a Redis list, performs them against the
 * object store, and writes one result per key to the job's Redis stream.
 *
 * The design is simple: a worker is stateless. Everything a task needs --
 * the store's endpoint and credentials, the operation, the keys -- is inside
 * the task, so any number of workers on any hosts can serve one queue.
 *
 * One thread runs one loop:
 *   1. take a task when fewer keys are waiting to start than --concurrency:
 *      LMOVE haul:q:<queue> -> haul:proc:<worker> (BLMOVE, 1 s, when idle), so
 *      a task this worker holds is always in its processing list;
 *   2. start keys as transfers on a curl multi handle, up to --concurrency in
 *      flight, connections reused per host by the multi handle's cache;
 *   3. when every key of a task has a result: in one MULTI/EXEC, XADD each
 *      result to haul:res:<job> and LREM the task from the processing list --
 *      a task leaves the processing list only once its results are stored;
 *   4. every 2 s: heartbeat (haul:worker:<id>, expiring; haul:workers).
 * A listing's rows are committed page by page with a checkpoint (one script,
 * compare-and-set), so a listing taken over resumes, never repeats.
 * A task that cannot be decoded, or was made for another queue, or expired,
 * goes to haul:dead:<queue> with the reason. A
 * failed request is an error result, never a reason to exit; a transient
 * failure (connection, timeout, 429, 5xx) is tried again after a backoff with
 * jitter, up to the task's max_attempts, without holding a transfer slot.
 * When Redis goes away, transfers continue and results wait until it is back.
 *
 * Liveness is a lease (haul:leases:<queue>, deadline in Redis' clock) renewed
 * with each heartbeat, and before any task is taken after a (re)connection;
 * with each heartbeat the worker also runs the reaper, which requeues the
 * tasks of workers whose lease lapsed (queue.h).
 *
 * What a task may make the worker do is confined (docs/security.md): files
 * only beneath --out-root (files.h), requests only over HTTP(S) and, with
 * --allow-endpoint, only to the hosts listed (ops.c); with a key, tasks are
 * authenticated and every result row carries a MAC (rowmac.h).
 *
 * SIGTERM/SIGINT: take no more tasks, finish those held and store their
 * results; after --shutdown-timeout (or a second signal) return the tasks
 * still held to the queue, then exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "queue.h"
#include "rowmac.h"
#include "seal.h"
#include "worker.h"

#include <jansson.h>
#include <stdint.h>

#define HEARTBEAT_MS 2000
#define WORKER_TTL_S 15
#define REDIS_TIMEOUT_S 5.0     /* socket timeout: blocking commands block for less */
#define BLOCK_S 1               /* BLMOVE timeout when idle */

static volatile sig_atomic_t stop_requested; /* signals received */

static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested < 2) stop_requested++;
}

/* A key waiting for its next attempt. */
typedef struct retry { long long due_ms; wtask *wt; size_t idx; } retry;

typedef struct loop {
    worker w;
    unit *units;          /* concurrency units */
    unit *free_units;
    wtask *tasks;         /* held tasks, oldest first */
    wtask **tail;
    long long unstarted;  /* keys of held tasks not yet started */
    long long next_take_ms, next_hb_ms, next_redis_ms, redis_backoff_ms;
    char *log_level;
    retry *retries;       /* min-heap by due time */
    size_t nretries, capretries;
    long long max_deliveries, lease_ms, shutdown_s, stop_deadline;
    char **cancelled;     /* ids of cancelled jobs, refreshed every heartbeat */
    size_t ncancelled;
    unsigned seed;
    long long next_flush_ms, flush_backoff_ms; /* storing results failed: wait */
    int redis_full;       /* Redis refused a write for want of memory: take no tasks */
    int lease_ok;         /* the lease was renewed since the last (re)connection */
    int had_lease;        /* a lease was held once: losing it is news */
    unsigned char keybuf[HAUL_SEAL_KEY_LEN];
    const unsigned char *key; /* unseals tasks; NULL: none given */
    haul_rowmac *mac;     /* signs result entries (with a key only) */
    int warned_clear;
} loop;

/* ---- Redis connection, with reconnect ------------------------------- */

/* Append (not send) the transaction that moves one task of this worker's
 * processing list back to the head of its queue: 4 replies to read. The
 * caller has set w->k1 to the processing list and w->k2 to the queue. */
static void append_requeue(worker *w, const char *raw, size_t len)
{
    redisAppendCommand(w->rc, "MULTI");
    redisAppendCommand(w->rc, "LREM %s 1 %b", w->k1.p, raw, len);
    redisAppendCommand(w->rc, "LPUSH %s %b", w->k2.p, raw, len);
    redisAppendCommand(w->rc, "EXEC");
}

/* After every (re)connection: a task in this worker's processing list that
 * the worker does not hold in memory is an orphan -- from an earlier life of
 * a worker with the same --name, or a Redis that lost the last second of its
 * AOF (the LMOVE survived, the results did not). A live worker renews its
 * lease, so the reaper would never free it: requeue it here, counting the
 * delivery as the reaper does (bytes 13-16), so a task that kills every
 * worker that runs it -- restarted under the same name -- still reaches the
 * poison-pill cap and becomes a dead letter. */
static void reconcile(loop *L)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    haul_buf kdead = HAUL_BUF_INIT, entry = HAUL_BUF_INIT;
    haul_key_proc(&w->k1, w->id);
    redisReply *r = haul_redis_cmd(w->rc, err, "LRANGE %s 0 -1", w->k1.p);
    if (!r) { log_warn("checking %s: %s", w->k1.p, err); return; }
    long long orphans = 0, dead = 0;
    haul_key_queue(&w->k2, w->queue);
    haul_key_dead(&kdead, w->queue);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        int held = 0;
        for (wtask *wt = L->tasks; wt && !held; wt = wt->link)
            held = wt->rawlen == e->len && memcmp(wt->raw, e->str, e->len) == 0;
        if (held) continue;
        char *bumped = haul_malloc(e->len + 1);
        memcpy(bumped, e->str, e->len);
        uint32_t n = 0;
        int counted = haul_task_bump_attempt(bumped, e->len, &n) == 0;
        redisAppendCommand(w->rc, "MULTI");
        redisAppendCommand(w->rc, "LREM %s 1 %b", w->k1.p, e->str, e->len);
        if (counted && n >= L->max_deliveries) {
            haul_buf_reset(&entry);
            haul_buf_printf(&entry, "reason=delivered %u times, and every worker holding it died "
                            "(poison-pill cap: --max-deliveries %lld)\tworker=%s\tqueue=%s\tat=%lld"
                            "\tattempt=%u\n", n, L->max_deliveries, w->id, w->queue, haul_now_ms(), n);
            haul_buf_add(&entry, bumped, e->len);
            redisAppendCommand(w->rc, "RPUSH %s %b", kdead.p, entry.p, entry.len);
            dead++;
        } else {
            redisAppendCommand(w->rc, "LPUSH %s %b", w->k2.p, counted ? bumped : e->str, e->len);
        }
        redisAppendCommand(w->rc, "EXEC");
        haul_wipe(bumped, e->len);
        free(bumped);
        orphans++;
    }
    freeReplyObject(r);
    haul_seal_buf_wipe(&entry);
    haul_buf_free(&kdead);
    if (haul_redis_drain(w->rc, 4 * orphans, err) < 0) {
        log_warn("requeueing orphans: %s", err);
        return;
    }
    if (orphans)
        log_warn("found %lld task(s) in %s that this worker does not hold (an earlier worker of this "
                 "name died?): %lld requeued with a delivery counted, %lld dead-lettered at the cap",
                 orphans, w->k1.p, orphans - dead, dead);
}

static int renew_lease(loop *L);

static int redis_ok(loop *L)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    if (w->rc && !w->rc->err) return 1;
    L->lease_ok = 0;
    long long now = haul_mono_ms();
    if (now < L->next_redis_ms) return 0;
    if (w->rc) {
        log_warn("lost Redis connection (%s); reconnecting", w->rc->errstr);
        redisFree(w->rc);
        w->rc = NULL;
    }
    w->rc = haul_redis_connect(w->redis_url, REDIS_TIMEOUT_S, err);
    if (!w->rc) {
        L->redis_backoff_ms = L->redis_backoff_ms ? L->redis_backoff_ms * 2 : 200;
        if (L->redis_backoff_ms > 5000) L->redis_backoff_ms = 5000;
        L->next_redis_ms = now + L->redis_backoff_ms;
        log_warn("%s; retrying in %lld ms", err, L->redis_backoff_ms);
        return 0;
    }
    if (L->redis_backoff_ms) log_info("reconnected to Redis");
    L->redis_backoff_ms = 0;
    renew_lease(L);
    reconcile(L);
    return 1;
}

/* Redis refused a write for want of memory (maxmemory with noeviction): say
 * so once, and take no new task -- more tasks would only mean more results
 * waiting -- until a write goes through again. */
static void redis_full(loop *L, const char *what)
{
    if (!L->redis_full)
        log_error("Redis is out of memory (maxmemory reached, noeviction): %s; this worker takes "
                  "no new task until Redis accepts writes again (a collector frees memory as it "
                  "writes rows; or raise maxmemory)", what);
    L->redis_full = 1;
}

static void redis_writable(loop *L)
{
    if (L->redis_full) log_info("Redis accepts writes again");
    L->redis_full = 0;
}

/* Renew this worker's lease. Until it is renewed after a (re)connection the
 * worker takes no task: a task taken by a worker without a lease would never
 * be reaped should it die. 0, or -1 (said, unless Redis is full). */
static int renew_lease(loop *L)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    int lost = 0;
    if (haul_lease_renew(w->rc, w->queue, w->id, L->lease_ms, &lost, err) < 0) {
        if (!haul_redis_oom(err)) log_warn("renewing the lease: %s", err);
        L->lease_ok = 0;
        return -1;
    }
    if (lost && L->had_lease)
        log_warn("my lease had lapsed (paused or cut off for over %lld ms): the tasks I held were "
                 "requeued, so their keys may be answered twice (the collector keeps one)", L->lease_ms);
    L->had_lease = 1;
    L->lease_ok = 1;
    return 0;
}

static void heartbeat(loop *L, const char *state)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    if (!redis_ok(L)) return;
    long long now = haul_now_ms();
    haul_key_worker(&w->k1, w->id);
    redisAppendCommand(w->rc,
        "HSET %s host %s pid %d queue %s concurrency %lld started %lld last_seen %lld "
        "tasks_done %lld keys_done %lld retries %lld inflight %d state %s",
        w->k1.p, w->host, (int)getpid(), w->queue, w->concurrency, w->started_ms, now,
        w->tasks_done, w->keys_done, w->retries, w->running, state);
    redisAppendCommand(w->rc, "EXPIRE %s %d", w->k1.p, WORKER_TTL_S);
    redisAppendCommand(w->rc, "ZADD " HAUL_KEY_WORKERS " %lld %s", now, w->id);
    redisAppendCommand(w->rc, "ZREMRANGEBYSCORE " HAUL_KEY_WORKERS " -inf %lld", now - 3600 * 1000LL);
    redisAppendCommand(w->rc, "SMEMBERS " HAUL_KEY_CANCELLED);
    if (haul_redis_drain(w->rc, 4, err) < 0) {
        if (haul_redis_oom(err)) redis_full(L, "the heartbeat waits");
        else log_warn("heartbeat: %s", err);
        if (w->rc->err) return;
    } else {
        redis_writable(L);
    }
    redisReply *r = haul_redis_get_reply(w->rc, err);
    if (!r) {
        log_warn("heartbeat: %s", err);
        if (w->rc->err) return;
    } else {
        if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t j = 0; j < L->ncancelled; j++) free(L->cancelled[j]);
            L->cancelled = haul_realloc(L->cancelled, (r->elements + 1) * sizeof *L->cancelled);
            L->ncancelled = r->elements;
            for (size_t j = 0; j < r->elements; j++) L->cancelled[j] = haul_strdup(r->element[j]->str);
        }
        freeReplyObject(r);
    }
    if (renew_lease(L) < 0) return;
    long long requeued, dead, workers;
    if (haul_reap(w->rc, w->queue, L->max_deliveries, &requeued, &dead, &workers, err) < 0)
        log_warn("reaping: %s", err);
    else if (workers)
        log_warn("reaped %lld worker(s) whose lease lapsed: %lld task(s) requeued, %lld dead-lettered",
                 workers, requeued, dead);
}

static int is_cancelled(loop *L, const char *job)
{
    for (size_t i = 0; i < L->ncancelled; i++)
        if (!strcmp(L->cancelled[i], job)) return 1;
    return 0;
}

/* ---- results ---------------------------------------------------------- */

/* An entry's arguments: at most 36 (XADD, the stream, NOMKSTREAM, *, and 16
 * fields with their values), 8 of them numbers made here (7, and the MAC). */
typedef struct argv_b {
    const char *v[40];
    size_t n[40];
    int c;
    char nums[10][33];
    int nn;
} argv_b;

static void arg(argv_b *a, const char *s, size_t n) { a->v[a->c] = s; a->n[a->c] = n; a->c++; }
static void args(argv_b *a, const char *s) { arg(a, s, strlen(s)); }
static void argnum(argv_b *a, long long x)
{
    char *b = a->nums[a->nn++];
    snprintf(b, 32, "%lld", x);
    args(a, b);
}

/* The command "XADD <stream> NOMKSTREAM * ...": NOMKSTREAM because the job's
 * stream is made, with its expiry, by the scheduler; a result that comes after
 * the job was deleted or expired must not bring the stream back without one. */
static void xadd_start(argv_b *a, const char *stream)
{
    args(a, "XADD"); args(a, stream); args(a, "NOMKSTREAM"); args(a, "*");
}

/* With a key, end the entry with its MAC over every field after the "*"
 * (rowmac.h), so a collector with the key can tell rows no worker wrote. */
static void xadd_mac(loop *L, argv_b *a, const char *job)
{
    if (!L->mac) return;
    char *hex = a->nums[a->nn++];
    if (haul_rowmac_compute(L->mac, job, strlen(job), a->v + 4, a->n + 4, (size_t)a->c - 4, hex) < 0) {
        log_error("cannot compute a result MAC (OpenSSL failed): the collector will drop this row");
        return;
    }
    args(a, "mac"); args(a, hex);
}

static void result_fields(argv_b *a, worker *w, wtask *wt, size_t i)
{
    wresult *r = &wt->res[i];
    haul_task *t = &wt->t;
    args(a, "key"); args(a, t->keys[i]);
    args(a, "i"); argnum(a, (long long)(t->first + i));
    args(a, "status"); args(a, r->ok ? "ok" : "error");
    args(a, "http"); argnum(a, r->http);
    if (r->path) { args(a, "path"); args(a, r->path); }
    else if (r->ok && t->op != HAUL_OP_LIST && t->op != HAUL_OP_LIST_BUCKETS) {
        args(a, "value"); arg(a, haul_buf_str(&r->value), r->value.len);
    }
    args(a, "bytes"); argnum(a, r->bytes);
    if (r->error) { args(a, "error"); args(a, r->error); }
    if (r->count >= 0) { args(a, "eof"); args(a, "1"); args(a, "count"); argnum(a, r->count); }
    args(a, "ms"); argnum(a, r->ms);
    args(a, "worker"); args(a, w->id);
    args(a, "task"); args(a, t->id);
    args(a, "attempt"); argnum(a, t->attempt);
    args(a, "tries"); argnum(a, r->tries);
    args(a, "verified"); args(a, haul_verified_str(r->verified));
}

/* ---- listing pages and their checkpoints ------------------------------ */

/* A listing's rows are committed page by page together with a checkpoint,
 * "<rows>\t<done>\t<next marker>" in haul:lpos:<job> under "<task id>#<key
 * index>", by one script that first compares the checkpoint with the one the
 * worker started the page from. So a task taken again after its worker died
 * resumes after the last committed page (no row twice), a lost connection
 * loses no committed row, and two workers that hold the same task (a lease
 * that lapsed) cannot both commit a page: the second finds the checkpoint
 * moved, and resumes from it. The checkpoint hash takes the results stream's
 * expiry; without the stream (the job is gone) nothing is written. */
static const char page_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local cur = redis.call('HGET', KEYS[2], ARGV[1]) or ''\n"
    "if cur ~= ARGV[2] then return 0 end\n"
    "local i = 5\n"
    "for r = 1, tonumber(ARGV[4]) do\n"
    "  local n = tonumber(ARGV[i])\n"
    "  redis.call('XADD', KEYS[1], 'NOMKSTREAM', '*', unpack(ARGV, i + 1, i + n))\n"
    "  i = i + 1 + n\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end\n"
    "return 1\n";

static void ckpt_field(haul_buf *b, const wtask *wt, size_t idx)
{
    haul_buf_reset(b);
    haul_buf_printf(b, "%s#%zu", wt->t.id, idx);
}

/* The checkpoint text of (rows, done, next); "" for none at all. */
static void ckpt_text(haul_buf *b, long long rows, int done, const char *next)
{
    haul_buf_reset(b);
    if (rows == 0 && !done && !next) return;
    haul_buf_printf(b, "%lld\t%d\t%s", rows, done ? 1 : 0, next ? next : "");
}

/* Before every attempt at a listing key: where its rows are committed up to,
 * from Redis (the only truth: another worker may have gone further). -1 when
 * Redis cannot say; the attempt then fails and is retried. */
static int load_checkpoint(loop *L, wtask *wt, size_t idx, char *err)
{
    worker *w = &L->w;
    wresult *r = &wt->res[idx];
    haul_buf f = HAUL_BUF_INIT;
    if (!redis_ok(L)) {
        snprintf(err, HAUL_ERR_LEN, "Redis is unavailable: cannot read the listing's checkpoint");
        return -1;
    }
    ckpt_field(&f, wt, idx);
    haul_key_lpos(&w->k1, wt->t.job);
    redisReply *rep = haul_redis_cmd(w->rc, err, "HGET %s %s", w->k1.p, f.p);
    haul_buf_free(&f);
    if (!rep) return -1;
    free(r->resume);
    r->resume = NULL;
    r->listed = 0;
    r->list_done = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        char *tab1 = strchr(rep->str, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab2) {
            snprintf(err, HAUL_ERR_LEN, "the listing's checkpoint in %s is malformed", w->k1.p);
            freeReplyObject(rep);
            return -1;
        }
        r->listed = strtoll(rep->str, NULL, 10);
        r->list_done = tab1[1] == '1';
        if (tab2[1]) r->resume = haul_strdup(tab2 + 1);
    }
    freeReplyObject(rep);
    return 0;
}

/* A listed object's value: {"size","etag","last_modified"[,"count"]}, its
 * strings escaped (they come from the store's answer). */
static void listing_value(haul_buf *b, const haul_list_entry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "size", json_integer(e->size));
    if (e->etag) json_object_set_new(o, "etag", json_string(e->etag));
    if (e->last_modified) json_object_set_new(o, "last_modified", json_string(e->last_modified));
    if (e->count >= 0) json_object_set_new(o, "count", json_integer(e->count));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    haul_buf_adds(b, s ? s : "{}");
    free(s);
}

typedef struct page_row { haul_buf v; char i[24], bytes[24], mac[HAUL_ROWMAC_HEX + 1]; } page_row;

/* Commit the rows of u's page and the checkpoint after them. 1 committed,
 * 0 not (why in err: Redis away, another worker moved the checkpoint, the
 * job is gone). */
static int commit_page(loop *L, unit *u, char *err)
{
    worker *w = &L->w;
    wtask *wt = u->wt;
    wresult *r = &wt->res[u->idx];
    const haul_list_page *pg = &u->page;
    int more = pg->truncated && pg->next;
    long long rows = r->listed + (long long)pg->n;
    haul_buf field = HAUL_BUF_INIT, expect = HAUL_BUF_INIT, next = HAUL_BUF_INIT, kstream = HAUL_BUF_INIT,
             kpos = HAUL_BUF_INIT;
    char nrows[24];
    int rc = 0;

    if (!redis_ok(L)) {
        snprintf(err, HAUL_ERR_LEN, "Redis is unavailable: the listing's rows wait for it");
        return 0;
    }
    ckpt_field(&field, wt, u->idx);
    ckpt_text(&expect, r->listed, r->list_done, r->resume);
    ckpt_text(&next, rows, !more, more ? pg->next : NULL);
    haul_key_results(&kstream, wt->t.job);
    haul_key_lpos(&kpos, wt->t.job);
    snprintf(nrows, sizeof nrows, "%zu", pg->n);

    /* Each row: a count, then "key NAME i N status ok http 200 value JSON
     * bytes N worker ID task ID [mac HEX]". */
    size_t cap = 9 + pg->n * 20, argc = 0;
    const char **argv = haul_calloc(cap, sizeof *argv);
    size_t *argl = haul_calloc(cap, sizeof *argl);
    page_row *pr = haul_calloc(pg->n ? pg->n : 1, sizeof *pr);
    char (*counts)[8] = haul_calloc(pg->n ? pg->n : 1, sizeof *counts);
#define A(s, n) (argv[argc] = (s), argl[argc] = (n), argc++)
#define AS(s) A((s), strlen(s))
    AS("EVAL"); AS(page_lua); AS("2"); A(kstream.p, kstream.len); A(kpos.p, kpos.len);
    A(field.p, field.len); A(haul_buf_str(&expect), expect.len); A(haul_buf_str(&next), next.len);
    AS(nrows);
    for (size_t j = 0; j < pg->n; j++) {
        const haul_list_entry *e = &pg->v[j];
        page_row *x = &pr[j];
        listing_value(&x->v, e);
        snprintf(x->i, sizeof x->i, "%llu", (unsigned long long)(wt->t.first + u->idx));
        snprintf(x->bytes, sizeof x->bytes, "%lld", e->size);
        size_t at = argc;
        AS("0"); /* the field count, set below */
        AS("key"); AS(e->name); AS("i"); AS(x->i); AS("status"); AS("ok"); AS("http"); AS("200");
        AS("value"); A(x->v.p, x->v.len); AS("bytes"); AS(x->bytes);
        AS("worker"); AS(w->id); AS("task"); AS(wt->t.id);
        if (L->mac) {
            if (haul_rowmac_compute(L->mac, wt->t.job, strlen(wt->t.job), argv + at + 1,
                                    argl + at + 1, argc - at - 1, x->mac) == 0) {
                AS("mac"); AS(x->mac);
            }
        }
        snprintf(counts[j], sizeof counts[j], "%zu", argc - at - 1);
        argv[at] = counts[j];
        argl[at] = strlen(counts[j]);
    }
#undef A
#undef AS
    redisReply *rep = redisCommandArgv(w->rc, (int)argc, argv, argl);
    if (!rep) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", rep->str);
        if (haul_redis_oom(err)) redis_full(L, "a listing's rows wait");
    } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
        rc = 1;
        r->listed = rows;
        r->list_done = !more;
        free(r->resume);
        r->resume = more ? haul_strdup(pg->next) : NULL;
    } else if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0) {
        snprintf(err, HAUL_ERR_LEN, "the listing's checkpoint moved: another worker holds this "
                 "task too (a lease that lapsed); resuming from its checkpoint");
    } else {
        snprintf(err, HAUL_ERR_LEN, "job %s has no results stream (expired, cancelled or deleted): "
                 "its listing is dropped", wt->t.job);
    }
    if (rep) freeReplyObject(rep);
    for (size_t j = 0; j < pg->n; j++) haul_buf_free(&pr[j].v);
    free(pr); free(counts); free(argv); free(argl);
    haul_buf_free(&field); haul_buf_free(&expect); haul_buf_free(&next);
    haul_buf_free(&kstream); haul_buf_free(&kpos);
    return rc;
}

/* Store a finished task's results and drop it from the processing list, in
 * one transaction. 0 done; -1 Redis failed (the task is kept and retried). */
static int flush_task(loop *L, wtask *wt)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    if (!redis_ok(L)) return -1;
    haul_key_results(&w->k2, wt->t.job);
    haul_key_proc(&w->k1, w->id);
    redisAppendCommand(w->rc, "MULTI");
    for (size_t i = 0; i < wt->t.nkeys; i++) {
        argv_b a = {.c = 0};
        xadd_start(&a, w->k2.p);
        result_fields(&a, w, wt, i);
        xadd_mac(L, &a, wt->t.job);
        redisAppendCommandArgv(w->rc, a.c, a.v, a.n);
    }
    redisAppendCommand(w->rc, "LREM %s 1 %b", w->k1.p, wt->raw, wt->rawlen);
    haul_key_worker(&w->k1, w->id);
    redisAppendCommand(w->rc, "HINCRBY %s tasks_done 1", w->k1.p);
    redisAppendCommand(w->rc, "HINCRBY %s keys_done %lld", w->k1.p, (long long)wt->t.nkeys);
    /* Keep the first error: the ones after it are its consequences. */
    char first[HAUL_ERR_LEN] = "";
    if (haul_redis_drain(w->rc, (long long)wt->t.nkeys + 4, err) < 0)
        snprintf(first, sizeof first, "%s", err);
    if (!w->rc->err) {
        redisReply *r = haul_redis_cmd(w->rc, err, "EXEC");
        if (!r && !first[0]) snprintf(first, sizeof first, "%s", err);
        else if (r && r->type != REDIS_REPLY_ARRAY && !first[0])
            snprintf(first, sizeof first, "EXEC answered no results (type %d)", r->type);
        if (r) freeReplyObject(r);
    } else if (!first[0]) {
        snprintf(first, sizeof first, "Redis: %s", w->rc->errstr);
    }
    if (first[0]) {
        /* Retry later, not in a loop: Redis may be loading, out of memory,
         * or refusing this user a command (fix the ACL: see README). */
        L->flush_backoff_ms = L->flush_backoff_ms ? L->flush_backoff_ms * 2 : 250;
        if (L->flush_backoff_ms > 5000) L->flush_backoff_ms = 5000;
        L->next_flush_ms = haul_mono_ms() + L->flush_backoff_ms;
        if (haul_redis_oom(first))
            redis_full(L, "results of the tasks held wait");
        else if (strstr(first, "NOPERM"))
            log_error("task %s: Redis refuses this worker's user a command: %s (grant the commands "
                      "listed in README, 'Workers on several hosts'); retrying in %lld ms",
                      wt->t.id, first, L->flush_backoff_ms);
        else
            log_warn("task %s: cannot store results yet: %s; retrying in %lld ms", wt->t.id, first,
                     L->flush_backoff_ms);
        return -1;
    }
    L->flush_backoff_ms = 0;
    redis_writable(L);
    w->tasks_done++;
    w->keys_done += (long long)wt->t.nkeys;
    log_debug("task %s: %zu keys done", wt->t.id, wt->t.nkeys);
    return 0;
}

static void task_free(wtask *wt)
{
    for (size_t i = 0; i < wt->t.nkeys && wt->res; i++) {
        haul_buf_free(&wt->res[i].value);
        free(wt->res[i].path);
        free(wt->res[i].error);
        free(wt->res[i].resume);
    }
    free(wt->res);
    haul_wipe(wt->raw, wt->rawlen); /* in the clear, a task holds the store's credentials */
    free(wt->raw);
    haul_task_clear(&wt->t);
    free(wt);
}

/* ---- taking tasks ------------------------------------------------------ */

static void dead_letter(loop *L, const char *raw, size_t rawlen, const char *reason)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    haul_buf entry = HAUL_BUF_INIT;
    haul_buf_printf(&entry, "reason=%s\tworker=%s\tqueue=%s\tat=%lld\n", reason, w->id, w->queue, haul_now_ms());
    haul_buf_add(&entry, raw, rawlen);
    haul_key_dead(&w->k1, w->queue);
    haul_key_proc(&w->k2, w->id);
    redisAppendCommand(w->rc, "MULTI");
    redisAppendCommand(w->rc, "RPUSH %s %b", w->k1.p, entry.p, entry.len);
    redisAppendCommand(w->rc, "LREM %s 1 %b", w->k2.p, raw, rawlen);
    redisAppendCommand(w->rc, "EXEC");
    if (haul_redis_drain(w->rc, 4, err) < 0) log_error("dead-lettering a task: %s", err);
    log_warn("task refused and moved to %s: %s", w->k1.p, reason);
    haul_buf_free(&entry);
}

/* Take one task from the queue: 1 when the queue gave one (kept, dropped or
 * dead-lettered), 0 when it was empty or Redis failed. */
static int take_task(loop *L, int block)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    redisReply *r;
    if (!redis_ok(L)) return 0;
    if (!L->lease_ok && renew_lease(L) < 0) {
        L->next_take_ms = haul_mono_ms() + 1000;
        return 0;
    }
    haul_key_queue(&w->k1, w->queue);
    haul_key_proc(&w->k2, w->id);
    if (block) r = haul_redis_cmd(w->rc, err, "BLMOVE %s %s LEFT RIGHT %d", w->k1.p, w->k2.p, BLOCK_S);
    else r = haul_redis_cmd(w->rc, err, "LMOVE %s %s LEFT RIGHT", w->k1.p, w->k2.p);
    if (!r) {
        if (haul_redis_oom(err)) redis_full(L, "no task can be taken");
        else log_warn("taking a task: %s", err);
        L->next_take_ms = haul_mono_ms() + 1000; /* do not spin on a refusal */
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        /* Empty queue. After a BLMOVE, which already waited, block again at
         * once: an idle worker stays blocked, so Redis hands a new job's
         * tasks to every idle worker in turn. After an LMOVE, do not spin. */
        if (!block) L->next_take_ms = haul_mono_ms() + 50;
        return 0;
    }
    wtask *wt = haul_calloc(1, sizeof *wt);
    wt->raw = haul_malloc(r->len + 1);
    memcpy(wt->raw, r->str, r->len);
    wt->rawlen = r->len;
    haul_wipe(r->str, r->len);
    freeReplyObject(r);
    if (haul_task_decode_key(wt->raw, wt->rawlen, L->key, &wt->t, err) < 0 ||
        haul_task_check_delivery(&wt->t, w->queue, haul_now_ms(), err) < 0) {
        dead_letter(L, wt->raw, wt->rawlen, err);
        task_free(wt);
        return 1;
    }
    if (is_cancelled(L, wt->t.job)) { /* drop it: no results for a cancelled job */
        redisReply *d = haul_redis_cmd(w->rc, err, "LREM %s 1 %b", w->k2.p, wt->raw, wt->rawlen);
        if (d) freeReplyObject(d);
        log_info("task %s dropped: job %s was cancelled", wt->t.id, wt->t.job);
        task_free(wt);
        return 1;
    }
    if (!L->key && !L->warned_clear) {
        log_warn("tasks carry the store's credentials in the clear (no --key-file / HAUL_KEY_FILE)");
        L->warned_clear = 1;
    }
    /* Remember the task's secrets so no log line can show them. */
    haul_log_secret(wt->t.conn.s3.secret_key);
    haul_log_secret(wt->t.conn.s3.session_token);
    haul_log_secret(wt->t.conn.swift.key);
    haul_log_secret(wt->t.conn.swift.token);
    wt->res = haul_calloc(wt->t.nkeys ? wt->t.nkeys : 1, sizeof *wt->res);
    log_debug("task %s: %s of %zu keys", wt->t.id, haul_op_str(wt->t.op), wt->t.nkeys);
    *L->tail = wt;
    L->tail = &wt->link;
    L->unstarted += (long long)wt->t.nkeys;
    return 1;
}

/* ---- the loop ----------------------------------------------------------- */

static void retry_push(loop *L, retry x)
{
    if (L->nretries == L->capretries) {
        L->capretries = L->capretries ? L->capretries * 2 : 64;
        L->retries = haul_realloc(L->retries, L->capretries * sizeof *L->retries);
    }
    size_t i = L->nretries++;
    while (i > 0 && L->retries[(i - 1) / 2].due_ms > x.due_ms) {
        L->retries[i] = L->retries[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    L->retries[i] = x;
}

static retry retry_pop(loop *L)
{
    retry top = L->retries[0], last = L->retries[--L->nretries];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= L->nretries) break;
        if (c + 1 < L->nretries && L->retries[c + 1].due_ms < L->retries[c].due_ms) c++;
        if (L->retries[c].due_ms >= last.due_ms) break;
        L->retries[i] = L->retries[c];
        i = c;
    }
    if (L->nretries) L->retries[i] = last;
    return top;
}

/* Exponential backoff with jitter: 250 ms, 500 ms, 1 s ... capped at 8 s,
 * each drawn from [d/2, d] so that keys failed together retry apart. */
static long long backoff_ms(loop *L, int tries)
{
    long long d = 250LL << (tries > 6 ? 5 : tries - 1);
    if (d > 8000) d = 8000;
    return d / 2 + (long long)(rand_r(&L->seed) % (unsigned)(d / 2 + 1));
}

static void free_unit(loop *L, unit *u)
{
    haul_unit_reset(&L->w, u);
    u->wt = NULL;
    u->link = L->free_units;
    L->free_units = u;
}

/* A key's attempt is over: done, or (a transient failure with attempts
 * left) due again after a backoff. */
static void key_over(loop *L, wtask *wt, size_t idx)
{
    wresult *r = &wt->res[idx];
    if (!r->ok && r->transient && r->tries < (int)wt->t.max_attempts && stop_requested < 2) {
        retry x = {haul_mono_ms() + backoff_ms(L, r->tries), wt, idx};
        log_debug("task %s key %zu: attempt %d failed (%s); retrying in %lld ms", wt->t.id,
                  idx, r->tries, r->error ? r->error : "", x.due_ms - haul_mono_ms());
        r->done = 0;
        retry_push(L, x);
        L->w.retries++;
    } else {
        wt->ndone++;
    }
}

static void finish_key(loop *L, unit *u)
{
    key_over(L, u->wt, u->idx);
    free_unit(L, u);
}

/* What haul_unit_start/done/continue answered, acted on: a finished key is
 * finished, a listing page is committed and the key carries on. */
static void after(loop *L, unit *u, int rc)
{
    char err[HAUL_ERR_LEN];
    while (rc == UNIT_PAGE) {
        int ok = commit_page(L, u, err);
        if (!ok) log_warn("task %s key %zu: listing rows not stored: %s", u->wt->t.id, u->idx, err);
        rc = haul_unit_continue(&L->w, u, ok, err);
    }
    if (rc == UNIT_FINISHED) finish_key(L, u);
    else if (rc == UNIT_DEFERRED) free_unit(L, u); /* the key waits without it */
    /* Keys that finished on their own meanwhile (their Swift auth failed),
     * and keys whose auth is done: due again at once. */
    unit *f;
    while ((f = haul_unit_finished(&L->w))) finish_key(L, f);
    wkey *k;
    while ((k = haul_key_failed(&L->w))) { key_over(L, k->wt, k->idx); free(k); }
    while ((k = haul_key_ready(&L->w))) { retry_push(L, (retry){0, k->wt, k->idx}); free(k); }
}

/* Start key idx of wt on a free unit. */
static void start_key(loop *L, wtask *wt, size_t idx)
{
    char err[HAUL_ERR_LEN];
    unit *u = L->free_units;
    L->free_units = u->link;
    u->wt = wt;
    u->idx = idx;
    if ((wt->t.op == HAUL_OP_LIST || wt->t.op == HAUL_OP_LIST_BUCKETS) &&
        load_checkpoint(L, wt, idx, err) < 0) {
        wresult *r = &wt->res[idx];
        r->tries++;
        haul_result_fail(r, 0, err, 1);
        r->count = r->listed;
        finish_key(L, u);
        return;
    }
    after(L, u, haul_unit_start(&L->w, u));
}

static void start_keys(loop *L)
{
    long long now = haul_mono_ms();
    while (L->nretries && L->free_units && L->retries[0].due_ms <= now) {
        retry x = retry_pop(L);
        start_key(L, x.wt, x.idx);
    }
    for (wtask *wt = L->tasks; wt && L->free_units; wt = wt->link) {
        while (wt->next < wt->t.nkeys && L->free_units) {
            L->unstarted--;
            start_key(L, wt, wt->next++);
        }
    }
}

static void collect_transfers(loop *L)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(L->w.multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        unit *u = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&u);
        after(L, u, haul_unit_done(&L->w, u, cc));
    }
}

static void flush_finished(loop *L)
{
    wtask **pp = &L->tasks;
    if (haul_mono_ms() < L->next_flush_ms) return;
    while (*pp) {
        wtask *wt = *pp;
        if (wt->ndone == wt->t.nkeys && wt->next == wt->t.nkeys) {
            if (flush_task(L, wt) < 0) return; /* Redis is away: keep order, retry later */
            *pp = wt->link;
            if (L->tail == &wt->link) L->tail = pp;
            task_free(wt);
        } else {
            pp = &wt->link;
        }
    }
}

/* Whether the loop would take a task now (blocking in BLMOVE when idle). */
static int take_now(const loop *L)
{
    return !stop_requested && !L->redis_full && L->unstarted < L->w.concurrency &&
           L->w.deferred < 4 * L->w.concurrency && haul_mono_ms() >= L->next_take_ms;
}

/* Give the tasks still held back to the head of the queue (shutdown past its
 * bound): their keys are done again by another worker. */
static void return_held(loop *L)
{
    worker *w = &L->w;
    char err[HAUL_ERR_LEN];
    long long n = 0;
    if (!redis_ok(L)) return;
    haul_key_proc(&w->k1, w->id);
    haul_key_queue(&w->k2, w->queue);
    for (wtask *wt = L->tasks; wt; wt = wt->link) {
        append_requeue(w, wt->raw, wt->rawlen);
        n++;
    }
    if (haul_redis_drain(w->rc, 4 * n, err) < 0) {
        log_error("returning tasks: %s (what was not returned stays in %s for the reaper)", err, w->k1.p);
        return;
    }
    if (n) log_warn("shutdown bound reached: returned %lld unfinished task(s) to the queue", n);
}

static struct {
    char *redis_url, *queue, *name, *log_level, *key_file, *out_root, *allow;
    long long concurrency, max_deliveries, lease_s, shutdown_s;
    int fsync_files;
} opt;

static haul_opt opts[] = {
    {"redis", HAUL_OPT_STR, &opt.redis_url, "redis://127.0.0.1:6379/0", 0, 0, "HAUL_REDIS_URL", "URL",
     "Redis to take tasks from: redis://[user:password@]host:port/db", 0},
    {"queue", HAUL_OPT_STR, &opt.queue, "default", 0, 0, NULL, "NAME", "queue to serve", 0},
    {"concurrency", HAUL_OPT_INT, &opt.concurrency, "32", 1, 4096, NULL, "N", "requests in flight at once", 0},
    {"name", HAUL_OPT_STR, &opt.name, NULL, 0, 0, NULL, "ID", "worker id (default: <host>:<pid>)", 0},
    {"lease", HAUL_OPT_INT, &opt.lease_s, "10", 3, 3600, NULL, "SECONDS",
     "lease renewed every 2 s; a worker silent this long is presumed dead and its tasks requeued", 0},
    {"max-deliveries", HAUL_OPT_INT, &opt.max_deliveries, "5", 1, 1000, NULL, "N",
     "a task whose workers died N times goes to the dead-letter list (poison-pill cap)", 0},
    {"shutdown-timeout", HAUL_OPT_INT, &opt.shutdown_s, "30", 0, 86400, NULL, "SECONDS",
     "on SIGTERM, finish held tasks for at most this long, then return the rest to the queue", 0},
    {"key-file", HAUL_OPT_STR, &opt.key_file, NULL, 0, 0, NULL, "FILE",
     "key that unseals tasks (the scheduler's); with it, tasks in the clear are refused", 0},
    {"out-root", HAUL_OPT_STR, &opt.out_root, NULL, 0, 0, NULL, "DIR",
     "every file this worker writes lies beneath DIR; a task's --out-dir outside it is refused "
     "(default: the working directory it was started in)", 0},
    {"fsync", HAUL_OPT_BOOL, &opt.fsync_files, "0", 0, 0, NULL, NULL,
     "fsync each file and its directory before its row says ok", 0},
    {"allow-endpoint", HAUL_OPT_LIST, &opt.allow, NULL, 0, 0, NULL, "HOST[:PORT]",
     "contact only stores (and Swift auth servers) matching these patterns ('*' globs; "
     "repeatable, or comma-separated); default: any", 0},
    {"log-level", HAUL_OPT_STR, &opt.log_level, "info", 0, 0, NULL, "LEVEL", "debug, info, warn or error", 0},
    {NULL, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0}
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: haul-worker [options]\n\n"
        "Takes tasks from a Redis list, performs them against S3 or Swift, and writes\n"
        "one result per key to the job's Redis stream. Stateless: the store's address\n"
        "and credentials come inside each task. Run as many as you like, on any hosts.\n"
        "SIGTERM or SIGINT: take no more tasks, finish those held (for at most\n"
        "--shutdown-timeout), store their results, exit; a second signal returns the\n"
        "held tasks to the queue at once.\n\noptions:\n");
    haul_opts_usage(f, opts);
    fprintf(f, "  --help                     this text\n");
}

int main(int argc, char **argv)
{
    static loop L;
    worker *w = &L.w;
    char err[HAUL_ERR_LEN], host[256];
    char *pos[1];

    haul_log_init("haul-worker");
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    if (haul_opts_parse(opts, argc, argv, 1, pos, 0, err) < 0) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    if (haul_log_set_level(opt.log_level) < 0) {
        fprintf(stderr, "haul-worker: --log-level: '%s' is not one of debug, info, warn, error\n", opt.log_level);
        return 2;
    }
    /* This process holds credentials and keys: no core dump may keep them. */
    if (haul_no_core_dumps(err) < 0) log_warn("%s", err);
    if (opt.key_file) {
        int k = haul_seal_key_load(opt.key_file, L.keybuf, err);
        if (k < 0) {
            fprintf(stderr, "haul-worker: %s\n", err);
            return 2;
        }
        if (k == 1) log_warn("key file %s is readable by other users: chmod 600 it", opt.key_file);
        L.key = L.keybuf;
        if (!(L.mac = haul_rowmac_new(L.key))) {
            fprintf(stderr, "haul-worker: OpenSSL cannot make HMAC-SHA256 (needed to sign results)\n");
            return 2;
        }
    }
    if (!(w->files = wfiles_open(opt.out_root, opt.fsync_files, err))) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    w->allow = opt.allow;
    w->redis_url = opt.redis_url;
    w->queue = opt.queue;
    w->concurrency = opt.concurrency;
    L.lease_ms = opt.lease_s * 1000;
    L.max_deliveries = opt.max_deliveries;
    L.shutdown_s = opt.shutdown_s;
    if (gethostname(host, sizeof host) < 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    w->host = haul_strdup(host);
    if (opt.name) w->id = haul_strdup(opt.name);
    else {
        haul_buf id = HAUL_BUF_INIT;
        haul_buf_printf(&id, "%s:%d", host, (int)getpid());
        w->id = haul_buf_detach(&id);
    }
    w->started_ms = haul_now_ms();
    L.seed = (unsigned)getpid() ^ (unsigned)w->started_ms;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "haul-worker: libcurl failed to initialise\n");
        return 2;
    }
    w->rc = haul_redis_connect(w->redis_url, REDIS_TIMEOUT_S, err);
    if (!w->rc) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    w->multi = curl_multi_init();
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->concurrency * 2);
    L.units = haul_calloc((size_t)w->concurrency, sizeof *L.units);
    for (long long i = w->concurrency - 1; i >= 0; i--) {
        unit *u = &L.units[i];
        u->e = curl_easy_init();
        u->w = w;
        u->clen = u->parts_count = u->part_size = -1;
        u->file = (wfile)WFILE_INIT;
        if (!u->e) { fprintf(stderr, "haul-worker: out of memory\n"); abort(); }
        u->link = L.free_units;
        L.free_units = u;
    }
    L.tail = &L.tasks;
    /* Without a lease this worker's tasks could never be reaped should it
     * die: a Redis user refused the lease script is a setup error. */
    int lost;
    if (haul_lease_renew(w->rc, w->queue, w->id, L.lease_ms, &lost, err) < 0) {
        fprintf(stderr, "haul-worker: cannot take a lease on queue '%s': %s%s\n", w->queue, err,
                strstr(err, "NOPERM") ? " (grant this Redis user the commands listed in README, "
                                        "'Workers on several hosts')" : "");
        return 2;
    }
    L.lease_ok = L.had_lease = 1;
    {
        /* The URL as it may be shown: never its password, however short
         * (the log's redaction leaves strings under 4 bytes alone). */
        haul_redis_url ru;
        if (haul_redis_url_parse(w->redis_url, &ru, err) == 0) {
            log_info("worker %s serving queue '%s' at %s with concurrency %lld, writing files "
                     "beneath %s%s%s", w->id, w->queue, ru.display, w->concurrency,
                     wfiles_root(w->files), w->allow ? ", contacting only " : "",
                     w->allow ? w->allow : "");
            haul_redis_url_free(&ru);
        }
    }
    reconcile(&L);

    for (;;) {
        long long now = haul_mono_ms();
        if (stop_requested && !L.stop_deadline) {
            L.stop_deadline = now + L.shutdown_s * 1000;
            log_info("stopping: taking no more tasks; finishing %s held", L.tasks ? "those" : "none");
        }
        if (stop_requested && (stop_requested > 1 || now >= L.stop_deadline) && L.tasks) {
            /* Out of time: abandon the transfers and give the tasks back. */
            for (long long i = 0; i < w->concurrency; i++) {
                unit *u = &L.units[i];
                if (!u->wt) continue;
                haul_unit_abandon(w, u);
                free_unit(&L, u);
            }
            /* Waiters of abandoned auths: abandoned too. */
            while (haul_unit_finished(w)) {}
            wkey *k;
            while ((k = haul_key_failed(w))) free(k);
            while ((k = haul_key_ready(w))) free(k);
            flush_finished(&L);
            return_held(&L);
            break;
        }
        if (now >= L.next_hb_ms) {
            heartbeat(&L, stop_requested ? "stopping" : "running");
            L.next_hb_ms = now + HEARTBEAT_MS;
        }
        start_keys(&L);
        /* Keys waiting on a slow Swift auth hold no transfer slot, but count
         * (up to 4 per slot) so a stalled auth server does not make this
         * worker take the whole queue. */
        if (!stop_requested && !L.redis_full && L.unstarted < w->concurrency &&
            w->deferred < 4 * w->concurrency) {
            int idle = w->running == 0 && L.tasks == NULL;
            if (now < L.next_take_ms) {
                if (idle) usleep(50 * 1000);
            } else {
                /* As many tasks as there is room for, at once: one per turn of
                 * the loop would wait a poll (up to 20 ms) between tasks. But
                 * a turn ends: tasks whose keys need no request leave room at
                 * once, and the loop must still store results and renew the
                 * lease while a queue keeps being refilled. */
                long long t_take = haul_mono_ms();
                int taken = 0;
                while (take_task(&L, idle) && L.unstarted < w->concurrency && !stop_requested &&
                       ++taken < w->concurrency && haul_mono_ms() - t_take < 20) {
                    idle = 0;
                    start_keys(&L);
                }
            }
            start_keys(&L);
        }
        if (w->running > 0) {
            int still;
            curl_multi_perform(w->multi, &still);
            collect_transfers(&L);
            start_keys(&L);
            if (w->running > 0) curl_multi_poll(w->multi, NULL, 0, 20, NULL);
        } else if (!take_now(&L)) {
            /* Nothing in flight and no task to take now (Redis refused one,
             * or is full): sleep until the next thing is due -- a retry, a
             * flush after its backoff -- for at most 50 ms, never spin. */
            long long now2 = haul_mono_ms(), wait = 50;
            if (L.nretries && L.retries[0].due_ms - now2 < wait) wait = L.retries[0].due_ms - now2;
            if (L.tasks && L.next_flush_ms - now2 < wait) wait = L.next_flush_ms - now2;
            if (wait > 0) usleep((useconds_t)wait * 1000);
        }
        collect_transfers(&L);
        flush_finished(&L);
        if (!redis_ok(&L) && w->running == 0) usleep(50 * 1000);
        if (stop_requested && !L.tasks && w->running == 0) break;
    }

    log_info("stopped: %lld tasks, %lld keys done, %lld retries", w->tasks_done, w->keys_done, w->retries);
    if (redis_ok(&L)) {
        redisReply *r;
        haul_key_worker(&w->k1, w->id);
        if ((r = haul_redis_cmd(w->rc, err, "DEL %s", w->k1.p))) freeReplyObject(r);
        if ((r = haul_redis_cmd(w->rc, err, "ZREM " HAUL_KEY_WORKERS " %s", w->id))) freeReplyObject(r);
        haul_key_proc(&w->k1, w->id);
        r = haul_redis_cmd(w->rc, err, "LLEN %s", w->k1.p);
        if (r && r->integer == 0) haul_lease_drop(w->rc, w->queue, w->id, err);
        else log_warn("%s still holds tasks: leaving the lease to lapse so the reaper requeues them", w->k1.p);
        if (r) freeReplyObject(r);
    }
    for (long long i = 0; i < w->concurrency; i++) {
        haul_unit_reset(w, &L.units[i]);
        curl_easy_cleanup(L.units[i].e);
    }
    for (size_t j = 0; j < w->nnoparts; j++) free(w->noparts[j]);
    free(w->noparts);
    wfiles_close(w->files);
    while (L.tasks) { wtask *wt = L.tasks; L.tasks = wt->link; task_free(wt); }
    for (size_t j = 0; j < L.ncancelled; j++) free(L.cancelled[j]);
    free(L.cancelled);
    free(L.retries);
    free(L.units);
    curl_multi_cleanup(w->multi);
    if (w->rc) redisFree(w->rc);
    haul_swift_cache_clear();
    curl_global_cleanup();
    haul_rowmac_free(L.mac);
    haul_opts_free(opts);
    free(w->id); free(w->host);
    haul_buf_free(&w->k1); haul_buf_free(&w->k2);
    return 0;
}
