/* collect.c -- read a job's results from its stream and write them out.
 *
 * The design is one loop. Each turn: drive the job's submission when it runs
 * in this process (`run`: haul_submit_step queues the next window); learn
 * what the submitter has described (the job hash's `rows`, `distinct`,
 * `dup_floor`, state, and the duplicate runs after them); XREAD the next
 * results, verify their MACs (with a key), and hand them to the bookkeeping
 * (order.h), which writes rows in the order of the job's keys; then, once
 * the rows written are flushed to the output, trim the stream of everything
 * read -- every result read is either written or held in memory, so Redis
 * never holds more than what is unread (--keep-results keeps them, for a
 * second `collect`).
 *
 * A job always ends. Every 2 s the loop requeues the tasks of dead workers
 * (the reaper) and notices a cancel. When the job has made no progress for
 * 2 s it reads the queue's dead letters and writes an error row for every
 * key of each of its dead-lettered tasks, naming the reason; when it has made
 * none for 15 s with every task queued and none of its tasks in flight (one
 * Lua count of the queue and the leased workers' processing lists), the keys
 * left have no task anywhere: it ends with exit 2, naming the dead letters it
 * could not attribute, if any. Every 30 s without progress it says why on
 * stderr (no live worker, Redis out of memory, keys waiting).
 *
 * Listing jobs (list, list-buckets) have no input order: their rows are
 * written as they arrive, and the job is complete when every prefix has its
 * final entry -- `eof` with the `count` of entries listed, checked against
 * the rows that arrived, or an error.
 *
 * collect JOB reads the stream from its start, so it can attach to a job at
 * any time -- while it is being submitted by another process, or after the
 * scheduler that submitted it was killed -- as long as no collector trimmed
 * its results (the job hash's `trimmed` says so). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dedupe.h"
#include "job.h"
#include "log.h"
#include "order.h"
#include "prom.h"
#include "output.h"
#include "queue.h"
#include "rowmac.h"
#include "scheduler.h"
#include "seal.h"
#include "verify.h"

#define BLOCK_MS 500          /* XREAD BLOCK */
#define BLOCK_FEEDING_MS 100  /* ... while this process still queues the job's tasks */
#define REFRESH_MS 1000       /* re-read the job hash at least this often */
#define REFRESH_MIN_MS 100    /* ... and, when rows wait to be described, at most this often */
#define CHECK_MS 2000         /* reaper, cancel, the submitter's life */
#define TTL_MS 30000          /* the job's keys' expiry refreshed */
#define TRIM_ENTRIES 10000    /* trim after this many entries read ... */
#define TRIM_MS 1000          /* ... or this long */
#define PUBLISH_MS 1000       /* the rows written so far, in the job hash, at most this often */
#define DEAD_AFTER_MS 2000    /* stalled this long: read the dead letters ... */
#define DEAD_EVERY_MS 3000    /* ... at most this often */
#define DEAD_BATCH 64         /* dead letters per read */
#define DEAD_ENTRY_MAX (256 << 10) /* bytes of each read: reason line and task head */
#define LOST_AFTER_MS 15000   /* none of the job's tasks in flight this long: lost */
#define STALL_FIRST_MS 10000  /* the first "no progress" report ... */
#define STALL_EVERY_MS 30000  /* ... and the next ones */
#define SUBMITTER_STALE_MS 60000 /* a submitter on another host unseen this long is gone */
#define UNATTR_KEEP 8         /* unattributable dead letters named at the end */

typedef struct unattr {       /* a dead letter no job can be read from */
    uint64_t h;               /* fingerprint of its reason line */
    char line[320];
} unattr;

typedef struct collector {
    const sched_cfg *cfg;
    haul_redis *r;
    haul_submission *sub;
    const char *job;
    haul_buf jkey, skey, dkey, line;
    FILE *out;
    haul_fmt fmt;
    haul_op op;               /* the job's, from its hash */
    haul_cols cols;           /* the output's columns: the read ops' or the write ops' */
    char *queue;
    long long batch, created, xcount;
    int listing;
    haul_order *order;
    /* what the job hash says */
    haul_job_state state;
    long long keys, slots, rows, floor, runs_read;
    long long cap;            /* results may come for slots below this (tasks x batch) */
    int final;
    char submitter[300], submitter_seen[32];
    long long seen_changed;   /* when submitter_seen last changed (monotonic) */
    /* listing jobs: per prefix, rows arrived and whether it ended */
    long long *prows;
    unsigned char *pdone;
    size_t pcap;
    long long pdone_n, listed;
    /* counters */
    long long ok, errors, rows_out, forged, bogus, dead_rows;
    long long errtab[HAUL_PROM_NSTATUS][HAUL_PROM_NCODES]; /* rows not ok, by status and HTTP code */
    int write_failed;
    /* the stream */
    char last[64];            /* the last entry read */
    long long unread_trim;    /* entries read since the last trim */
    long long last_trim;
    char me[320];             /* "<host>:<pid>:<random> ": this collector's trim marks start so */
    long long reconnects;     /* the connection's count when last looked at */
    haul_rowmac *mac;
    /* dead letters */
    long long dead_next;      /* the next entry of haul:dead:<queue> to read */
    unattr un[UNATTR_KEEP];
    int nun;
    long long un_total;
    /* liveness */
    long long progress, last_progress, last_report, last_dead, last_inflight, none_since;
    char oom[HAUL_ERR_LEN];   /* the last "out of memory" refusal, "" none */
} collector;

/* ---- writing rows ------------------------------------------------------- */

static void write_row(collector *c, const haul_row *r)
{
    haul_buf_reset(&c->line);
    haul_out_row_cols(&c->line, c->fmt, c->cols, r);
    if (fwrite(c->line.p, 1, c->line.len, c->out) != c->line.len) c->write_failed = 1;
    c->rows_out++;
    /* A success by the op's rule (a delete's `missing` is one, a verify's is
     * not); the job hash's ok and errors, and the exit status, follow it. */
    if (haul_status_ok(c->op, r->status)) c->ok++;
    else {
        c->errors++;
        c->errtab[haul_prom_status_index(r->status)][haul_prom_code_index(r->http)]++;
    }
}

static void emit(void *ud, const haul_row *r)
{
    write_row(ud, r);
}

static const char *field(redisReply *kv, const char *name, size_t *len)
{
    for (size_t j = 0; j + 1 < kv->elements; j += 2) {
        redisReply *f = kv->element[j], *v = kv->element[j + 1];
        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && !strcmp(f->str, name)) {
            if (len) *len = v->len;
            return v->str;
        }
    }
    if (len) *len = 0;
    return NULL;
}

/* ---- what the job hash says ---------------------------------------------- */

/* A Redis error that is not fatal here: remember an "out of memory". */
static void note(collector *c, const char *what, const char *err)
{
    if (haul_redis_oom(err)) snprintf(c->oom, sizeof c->oom, "%s", err);
    else log_warn("job %s: %s: %s", c->job, what, err);
}

static void grow_prefixes(collector *c, long long n)
{
    if ((size_t)n <= c->pcap) return;
    size_t ncap = c->pcap ? c->pcap : 16;
    while (ncap < (size_t)n) ncap *= 2;
    c->prows = haul_realloc(c->prows, ncap * sizeof *c->prows);
    c->pdone = haul_realloc(c->pdone, ncap);
    memset(c->prows + c->pcap, 0, (ncap - c->pcap) * sizeof *c->prows);
    memset(c->pdone + c->pcap, 0, ncap - c->pcap);
    c->pcap = ncap;
}

/* Read the job hash, then the duplicate runs after it, into the bookkeeping
 * (in that order: the submitter stores runs before the rows they describe).
 * 0; 1 the job ended elsewhere (err says how; a status for the caller);
 * -1 Redis failed or the records are inconsistent (err). */
static int refresh(collector *c, char *err)
{
    enum { F_STATE, F_KEYS, F_DISTINCT, F_ROWS, F_FLOOR, F_SUBMITTER, F_SEEN, F_ERROR, F_TRIMMED, F_TASKS, F_N };
    const char *v[F_N];
    redisReply *h = haul_redis_call(c->r, err, "HMGET %s state keys distinct rows dup_floor submitter "
                                    "submitter_seen error trimmed tasks", c->jkey.p);
    if (!h) return -1;
    for (int i = 0; i < F_N; i++)
        v[i] = h->type == REDIS_REPLY_ARRAY && (size_t)i < h->elements &&
               h->element[i]->type == REDIS_REPLY_STRING ? h->element[i]->str : NULL;
    int rc = 0;
    haul_job_state st = haul_job_state_parse(v[F_STATE]);
    if (!v[F_STATE]) {
        snprintf(err, HAUL_ERR_LEN, "job %s vanished from Redis (its hash expired or was deleted)", c->job);
        rc = 1;
    } else if (st == HAUL_JOB_CANCELLED) {
        snprintf(err, HAUL_ERR_LEN, "job %s was cancelled (%lld of %lld keys done)", c->job,
                 c->listing ? c->pdone_n : haul_order_rows_written(c->order), c->keys);
        rc = 1;
    } else if (st == HAUL_JOB_FAILED) {
        snprintf(err, HAUL_ERR_LEN, "job %s failed: %s", c->job, v[F_ERROR] ? v[F_ERROR] : "(no reason recorded)");
        rc = 1;
    } else if (v[F_TRIMMED] && strncmp(v[F_TRIMMED], c->me, strlen(c->me)) != 0) {
        snprintf(err, HAUL_ERR_LEN, "job %s: another collector is collecting it and trimmed its results "
                 "(its mark: %s): this one stops, its output incomplete", c->job, v[F_TRIMMED]);
        rc = 1;
    }
    if (rc) {
        freeReplyObject(h);
        return rc;
    }
    /* What was learnt stays learnt: a Redis restarted from its AOF may have
     * lost the last update (the submitter writes it again). */
    if (st != HAUL_JOB_SUBMITTING || !c->final) c->state = st;
    long long keys = v[F_KEYS] ? strtoll(v[F_KEYS], NULL, 10) : 0;
    if (keys > c->keys) c->keys = keys;
    long long slots = v[F_DISTINCT] ? strtoll(v[F_DISTINCT], NULL, 10) : keys;
    int final = st != HAUL_JOB_SUBMITTING || c->final;
    /* A hash without rows/dup_floor comes from an older scheduler, which
     * made the whole job before it set `queued`. */
    long long rows = v[F_ROWS] ? strtoll(v[F_ROWS], NULL, 10) : final ? keys : 0;
    long long floor = v[F_FLOOR] ? strtoll(v[F_FLOOR], NULL, 10) : final ? slots : 0;
    /* A task's results may come before the submitter publishes its slots:
     * `tasks` is counted with each RPUSH, so every slot of a queued task is
     * below tasks x batch. */
    long long tasks = v[F_TASKS] ? strtoll(v[F_TASKS], NULL, 10) : 0;
    if (!final && tasks > 0 && tasks <= (1LL << 40) / c->batch && tasks * c->batch > c->cap)
        c->cap = tasks * c->batch;
    snprintf(c->submitter, sizeof c->submitter, "%s", v[F_SUBMITTER] ? v[F_SUBMITTER] : "");
    if (strcmp(c->submitter_seen, v[F_SEEN] ? v[F_SEEN] : "")) {
        snprintf(c->submitter_seen, sizeof c->submitter_seen, "%s", v[F_SEEN] ? v[F_SEEN] : "");
        c->seen_changed = haul_mono_ms();
    }
    freeReplyObject(h);

    if (c->listing) {
        if (slots > c->slots) {
            c->slots = slots;
            c->rows = rows;
        }
        grow_prefixes(c, c->slots > c->cap ? c->slots : c->cap);
        c->final = final;
        return 0;
    }
    /* The runs after the hash: every run of the rows it describes is in.
     * After a reconnection, all of them again: a Redis restarted from its
     * AOF may have lost the last ones, which the submitter stores again. */
    if (c->r->reconnects != c->reconnects) {
        c->reconnects = c->r->reconnects;
        c->runs_read = 0;
    }
    for (;;) {
        redisReply *r = haul_redis_call(c->r, err, "LRANGE %s %lld %lld", c->dkey.p, c->runs_read, c->runs_read + 999);
        if (!r) return -1;
        size_t got = r->elements;
        for (size_t j = 0; j < got; j++) {
            long long row, slot, n;
            if (r->element[j]->type != REDIS_REPLY_STRING ||
                sscanf(r->element[j]->str, "%lld %lld %lld", &row, &slot, &n) != 3) {
                snprintf(err, HAUL_ERR_LEN, "%s: element %lld is not a run \"ROW SLOT N\"", c->dkey.p,
                         c->runs_read + (long long)j);
                freeReplyObject(r);
                return -1;
            }
            if (haul_order_run(c->order, row, slot, n, err) < 0) {
                freeReplyObject(r);
                return -1;
            }
        }
        freeReplyObject(r);
        c->runs_read += (long long)got;
        if (got < 1000) break;
    }
    haul_order_expect(c->order, c->cap);
    if (haul_order_describe(c->order, rows, slots, floor, final, err) < 0) return -1;
    if (slots > c->slots) c->slots = slots;
    c->rows = haul_order_rows_known(c->order);
    c->final = final;
    return 0;
}

/* ---- results ------------------------------------------------------------ */

/* With a key: is the entry's MAC right? Over every field and value in the
 * entry's order, "mac" and its value excepted (rowmac.h). */
static int mac_ok(collector *c, redisReply *kv)
{
    const char *item[64];
    size_t len[64], n = 0;
    const char *mac = NULL;
    size_t maclen = 0;
    if (kv->elements > 64) return 0;
    for (size_t j = 0; j + 1 < kv->elements; j += 2) {
        redisReply *f = kv->element[j], *v = kv->element[j + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return 0;
        if (!strcmp(f->str, "mac")) { mac = v->str; maclen = v->len; continue; }
        item[n] = f->str; len[n++] = f->len;
        item[n] = v->str; len[n++] = v->len;
    }
    return haul_rowmac_verify(c->mac, c->job, strlen(c->job), item, len, n, mac, maclen);
}

/* The sentence of a listing's prefix whose rows do not add up. */
static void count_mismatch(collector *c, long long i, const char *key, size_t klen, long long count)
{
    char msg[HAUL_ERR_LEN];
    long long got = c->prows[i];
    snprintf(msg, sizeof msg, "listing of prefix '%.*s' reported %lld entries but %lld rows arrived (%s)",
             (int)(klen > 300 ? 300 : klen), key, count, got,
             got < count ? "rows lost in Redis" : "rows repeated: the listing ran twice");
    haul_row r = {.key = key, .key_len = klen, .status = "error", .http = 0, .bytes = -1,
                  .error = msg, .ms = -1};
    write_row(c, &r);
}

/* The slots results may come for now. */
static long long slot_limit(const collector *c)
{
    return c->final || c->cap < c->slots ? c->slots : c->cap;
}

static int take_listing(collector *c, long long i, const haul_row *r, const char *eof, const char *count)
{
    if (i < 0 || i >= slot_limit(c)) { c->bogus++; return 0; }
    if (c->pdone[i]) return 0;   /* after its prefix ended: a second run's */
    int is_ok = !strcmp(r->status, "ok");
    if (!eof && is_ok) {         /* one listed object */
        c->prows[i]++;
        c->listed++;
        write_row(c, r);
        return 1;
    }
    /* The prefix's final entry: its eof, or an error (a listing that failed,
     * e.g. a container that does not exist). */
    c->pdone[i] = 1;
    c->pdone_n++;
    if (!is_ok) {
        write_row(c, r);
    } else {
        long long n = count ? strtoll(count, NULL, 10) : c->prows[i];
        if (n != c->prows[i]) count_mismatch(c, i, r->key, r->key_len, n);
    }
    return 1;
}

/* The entry's "verified" as one of the names a row may hold (static: a row
 * kept for later does not copy it), or NULL. */
static const char *verified_name(const char *v)
{
    for (int k = HAUL_VERIFIED_NONE; v && k <= HAUL_VERIFIED_PARTS; k++)
        if (!strcmp(v, haul_verified_str((haul_verified)k))) return haul_verified_str((haul_verified)k);
    return NULL;
}

/* One stream entry. 1 progress, 0 none, -1 fatal (err). */
static int take_entry(collector *c, redisReply *kv, char *err)
{
    size_t klen = 0, vlen = 0;
    const char *key = field(kv, "key", &klen), *is = field(kv, "i", NULL);
    const char *st = field(kv, "status", NULL), *http = field(kv, "http", NULL);
    const char *bytes = field(kv, "bytes", NULL), *ms = field(kv, "ms", NULL);
    const char *eof = field(kv, "eof", NULL), *tries = field(kv, "tries", NULL);
    if (!key || !is || !st) return 0; /* not a result entry */
    if (c->mac && !mac_ok(c, kv)) {
        c->forged++;
        return 0;
    }
    long long i = strtoll(is, NULL, 10);
    haul_row r = {
        .key = key, .key_len = klen, .status = st, .http = http ? strtol(http, NULL, 10) : 0,
        .path = field(kv, "path", NULL), .bytes = bytes ? strtoll(bytes, NULL, 10) : -1,
        .error = field(kv, "error", NULL), .worker = field(kv, "worker", NULL),
        .task = field(kv, "task", NULL), .ms = ms ? strtoll(ms, NULL, 10) : -1,
        .tries = tries ? strtoll(tries, NULL, 10) : 0,
        .verified = verified_name(field(kv, "verified", NULL)),
        .md5 = field(kv, "md5", NULL), .etag = field(kv, "etag", NULL),
    };
    r.value = field(kv, "value", &vlen);
    r.value_len = vlen;
    if (c->listing) {
        if (i >= slot_limit(c) && !c->final && refresh(c, err) != 0) return -1;
        return take_listing(c, i, &r, eof, field(kv, "count", NULL));
    }
    int rc = haul_order_result(c->order, i, &r, err);
    if (rc == -1 && i >= 0 && i >= slot_limit(c) && !c->final) {
        /* Its task was queued after the hash was read: read it again. */
        int f = refresh(c, err);
        if (f != 0) return -1;
        rc = haul_order_result(c->order, i, &r, err);
    }
    if (rc == -1) {
        if (i < 0 || i >= slot_limit(c)) { c->bogus++; return 0; } /* a slot the job never had */
        return -1;
    }
    return rc;
}

/* ---- trimming ------------------------------------------------------------ */

/* KEYS: the job hash, its results stream. ARGV: this collector's mark
 * prefix ("<host>:<pid>:<random> "), the new MINID. The job hash's `trimmed`
 * is "<prefix><MINID>": only the collector whose mark it is trims (a second
 * one would take entries the first has not read). allow-oom: trimming is
 * what frees memory, so it must run when Redis refuses writes. Answers 1
 * trimmed, 0 another collector's mark (then the mark, second), -1 the job
 * hash is gone. */
static const char trim_lua[] =
    "#!lua flags=allow-oom\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end\n"
    "local t = redis.call('HGET', KEYS[1], 'trimmed') or ''\n"
    "if t ~= '' and string.sub(t, 1, #ARGV[1]) ~= ARGV[1] then return {0, t} end\n"
    "redis.call('XTRIM', KEYS[2], 'MINID', ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'trimmed', ARGV[1] .. ARGV[2])\n"
    "return {1}\n";

/* Flush the rows written, then drop every entry read from the stream.
 * 0, 1 stop (err: the job vanished or another collector trims it), -1 (err). */
static int trim(collector *c, char *err)
{
    char minid[64];
    c->last_trim = haul_mono_ms();
    if (c->cfg->keep_results || !c->unread_trim) return 0;
    if (fflush(c->out) != 0) { c->write_failed = 1; return 0; } /* reported by the loop */
    if (haul_stream_id_after(c->last, minid, sizeof minid) < 0) return 0;
    redisReply *rep = haul_redis_call(c->r, err, "EVAL %s 2 %s %s %s %s", trim_lua, c->jkey.p, c->skey.p,
                                      c->me, minid);
    if (!rep) return -1;
    long long code = rep->type == REDIS_REPLY_ARRAY && rep->elements ? rep->element[0]->integer : -1;
    int rc = 0;
    if (code == 1) {
        c->unread_trim = 0;
    } else if (code == 0) {
        snprintf(err, HAUL_ERR_LEN, "job %s: another collector is collecting it and trimmed its results "
                 "(its mark: %s): this one stops, its output incomplete", c->job,
                 rep->elements > 1 && rep->element[1]->type == REDIS_REPLY_STRING ? rep->element[1]->str : "?");
        rc = 1;
    } else {
        snprintf(err, HAUL_ERR_LEN, "job %s vanished from Redis (its hash expired or was deleted)", c->job);
        rc = 1;
    }
    freeReplyObject(rep);
    return rc;
}

/* ---- dead letters --------------------------------------------------------- */

typedef struct peeked { char **keys; size_t n, cap; } peeked;

static void peek_key(void *ud, size_t idx, const char *key, size_t len)
{
    peeked *p = ud;
    (void)idx;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->keys = haul_realloc(p->keys, p->cap * sizeof *p->keys);
    }
    p->keys[p->n++] = haul_strndup(key, len);
}

/* Remember a dead letter no job can be read from (once per reason line). */
static void remember_unattributable(collector *c, const char *hdr, size_t hlen)
{
    uint64_t h[2];
    haul_murmur3_128(hdr, hlen, 0, h);
    for (int i = 0; i < c->nun; i++)
        if (c->un[i].h == h[0]) return;
    c->un_total++;
    if (c->nun == UNATTR_KEEP) return;
    unattr *u = &c->un[c->nun++];
    u->h = h[0];
    size_t n = hlen < sizeof u->line - 1 ? hlen : sizeof u->line - 1;
    for (size_t i = 0; i < n; i++) u->line[i] = hdr[i] == '\t' ? ' ' : hdr[i];
    u->line[n] = '\0';
}

/* A value of the dead letter's header: "NAME=" up to the next tab. */
static void header_field(const char *hdr, size_t hlen, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (size_t i = 0; i + nl <= hlen; i++) {
        if ((i == 0 || hdr[i - 1] == '\t') && !memcmp(hdr + i, name, nl)) {
            size_t e = i + nl;
            /* reason= runs up to "\tworker=": a reason may itself hold a tab */
            const char *stop = !strcmp(name, "reason=") ? "\tworker=" : "\t";
            while (e < hlen && strncmp(hdr + e, stop, strlen(stop)) != 0) e++;
            size_t n = e - (i + nl) < outlen - 1 ? e - (i + nl) : outlen - 1;
            memcpy(out, hdr + i + nl, n);
            out[n] = '\0';
            return;
        }
    }
}

/* One dead letter: error rows for its keys when it is this job's task. */
static int take_dead(collector *c, const char *e, size_t len, char *err)
{
    const char *nl = memchr(e, '\n', len);
    size_t hlen = nl ? (size_t)(nl - e) : len;
    const char *task = nl ? nl + 1 : e + len;
    size_t tlen = len - (size_t)(task - e);
    char reason[HAUL_ERR_LEN], worker[256], at[32];
    haul_task_ref ref;

    header_field(e, hlen, "reason=", reason, sizeof reason);
    header_field(e, hlen, "worker=", worker, sizeof worker);
    header_field(e, hlen, "at=", at, sizeof at);
    int peek = haul_task_peek(task, tlen, &ref);
    if (ref.job[0] && strcmp(ref.job, c->job) != 0) return 0; /* another job's */
    long long n = peek == 0 ? haul_task_index(ref.id, c->job) : -1, lo = 0, hi = 0;
    if (n >= 0) {
        haul_task_slots(n, c->batch, c->final ? c->slots : -1, &lo, &hi);
        if (hi > slot_limit(c) && !c->final) {
            int f = refresh(c, err);
            if (f != 0) return -1;
            haul_task_slots(n, c->batch, c->final ? c->slots : -1, &lo, &hi);
        }
        if (hi > slot_limit(c)) hi = slot_limit(c);
    }
    if (lo >= hi) {
        /* Not attributable: its job or its place cannot be read. It matters
         * only if this job cannot finish; older ones are not its business. */
        if (!*at || strtoll(at, NULL, 10) >= c->created) remember_unattributable(c, e, hlen);
        return 0;
    }
    peeked p = {NULL, 0, 0};
    uint64_t first = 0;
    long long got = haul_task_peek_keys(task, tlen, &first, peek_key, &p);
    char msg[HAUL_ERR_LEN];
    snprintf(msg, sizeof msg, "task %s was dead-lettered: %s", ref.id, reason[0] ? reason : "(no reason given)");
    int rc = 0;
    for (long long s = lo; s < hi && rc >= 0; s++) {
        long long j = s - (long long)first;
        const char *key = got >= 0 && j >= 0 && j < (long long)p.n ? p.keys[j] : "";
        haul_row r = {.key = key, .key_len = strlen(key), .status = "error", .http = 0, .bytes = -1,
                      .error = msg, .worker = worker[0] ? worker : NULL, .task = ref.id, .ms = -1};
        if (c->listing) {
            if (!c->pdone[s]) {
                c->pdone[s] = 1;
                c->pdone_n++;
                write_row(c, &r);
                c->dead_rows++;
            }
        } else if (!haul_order_answered(c->order, s)) {
            rc = haul_order_result(c->order, s, &r, err);
            if (rc > 0) c->dead_rows++;
        }
    }
    for (size_t k = 0; k < p.n; k++) free(p.keys[k]);
    free(p.keys);
    return rc < 0 ? -1 : 0;
}

/* Read the dead letters added since the last look. */
static int scan_dead(collector *c, char *err)
{
    c->last_dead = haul_mono_ms();
    if (!c->r->c) return 0; /* disconnected: the next turn reconnects */
    for (;;) {
        char e2[HAUL_ERR_LEN];
        redisReply *rep = haul_dead_range(c->r->c, c->queue, c->dead_next, DEAD_BATCH, DEAD_ENTRY_MAX, e2);
        if (!rep) { note(c, "reading dead letters", e2); return 0; }
        long long total = rep->element[0]->integer;
        redisReply *v = rep->element[1];
        if (total < c->dead_next) { /* requeue-dead emptied it meanwhile: from the start */
            c->dead_next = 0;
            freeReplyObject(rep);
            continue;
        }
        for (size_t i = 0; i < v->elements; i++)
            if (v->element[i]->type == REDIS_REPLY_STRING &&
                take_dead(c, v->element[i]->str, v->element[i]->len, err) < 0) {
                freeReplyObject(rep);
                return -1;
            }
        c->dead_next += (long long)v->elements;
        size_t got = v->elements;
        freeReplyObject(rep);
        if (got < DEAD_BATCH) return 0;
    }
}

/* ---- liveness ------------------------------------------------------------- */

static long long unanswered(const collector *c)
{
    return c->listing ? c->slots - c->pdone_n : c->slots - haul_order_slots_answered(c->order);
}

static long long rows_done(const collector *c)
{
    return c->listing ? c->pdone_n : haul_order_rows_written(c->order);
}

/* The job hash's `done` and `failed`: rows written so far, and how many of
 * them are errors, for `status`, `serve` and its dashboard (which read
 * Redis, not this process). Only while the hash exists: a job that expired
 * or was deleted is not made again without an expiry. */
static void errors_by(const collector *c, haul_buf *out)
{
    for (int s = 0; s < HAUL_PROM_NSTATUS; s++)
        for (int h = 0; h < HAUL_PROM_NCODES; h++)
            if (c->errtab[s][h])
                haul_buf_printf(out, "%s%s %s %lld", out->len ? "," : "", haul_prom_status_name(s),
                                haul_prom_code_name(h), c->errtab[s][h]);
}

static void publish_progress(collector *c, long long *published)
{
    char err[HAUL_ERR_LEN];
    long long done = rows_done(c);
    if (done == *published) return;
    haul_buf eb = HAUL_BUF_INIT;
    errors_by(c, &eb);
    redisReply *r = haul_redis_call(c->r, err, "EVAL %s 1 %s %lld %lld %s",
        "if redis.call('EXISTS', KEYS[1]) == 1 then "
        "redis.call('HSET', KEYS[1], 'done', ARGV[1], 'failed', ARGV[2], 'errors_by', ARGV[3]) end return 0",
        c->jkey.p, done, c->errors, haul_buf_str(&eb));
    haul_buf_free(&eb);
    if (r) {
        freeReplyObject(r);
        *published = done;
    } else {
        note(c, "publishing the rows written", err);
    }
}

/* Every 30 s without progress: why. */
static void report_stall(collector *c, long long idle_ms)
{
    char err[HAUL_ERR_LEN], extra[HAUL_ERR_LEN] = "";
    haul_inflight f;
    if (c->forged)
        snprintf(extra, sizeof extra, "; %lld result entries dropped for a missing or wrong MAC "
                 "(do the workers use the same --key-file?)", c->forged);
    if (c->oom[0]) {
        const char *said = "Redis is out of memory";
        log_warn("job %s: no progress for %lld s: %s%s%s", c->job, idle_ms / 1000,
                 strncmp(c->oom, said, strlen(said)) ? "Redis is out of memory (maxmemory, noeviction): " : "",
                 c->oom, extra);
        return;
    }
    if (!c->r->c || haul_queue_inflight(c->r->c, c->queue, NULL, &f, err) < 0) {
        log_warn("job %s: no progress for %lld s (%lld of %lld keys done)%s", c->job, idle_ms / 1000,
                 rows_done(c), c->keys, extra);
        return;
    }
    if (f.live == 0)
        log_warn("job %s: no progress for %lld s and no live worker on queue '%s' (%lld tasks waiting): "
                 "start haul-worker --redis ... --queue %s%s", c->job, idle_ms / 1000, c->queue, f.queued,
                 c->queue, extra);
    else
        log_warn("job %s: no progress for %lld s: %lld keys waiting for a result, %lld live worker(s) on "
                 "queue '%s' holding %lld task(s), %lld task(s) queued%s%s", c->job, idle_ms / 1000,
                 unanswered(c), f.live, c->queue, f.held, f.queued,
                 c->final ? "" : " (still being submitted)", extra);
}

/* Is the submitter of a job still `submitting` gone? The same host: its
 * process is checked; another: its submitter_seen has not moved for a
 * minute. 1 gone (why in msg), 0 alive or unknown. */
static int submitter_gone(collector *c, char *msg, size_t msglen)
{
    char host[256];
    const char *colon = strrchr(c->submitter, ':');
    if (gethostname(host, sizeof host) < 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (colon && (size_t)(colon - c->submitter) == strlen(host) && !strncmp(c->submitter, host, strlen(host))) {
        long pid = strtol(colon + 1, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            snprintf(msg, msglen, "its submitter (%s) is no longer running", c->submitter);
            return 1;
        }
        return 0;
    }
    long long idle = haul_mono_ms() - c->seen_changed;
    if (c->seen_changed && idle > SUBMITTER_STALE_MS) {
        snprintf(msg, msglen, "its submitter (%s) has not been seen for %lld s", c->submitter, idle / 1000);
        return 1;
    }
    return 0;
}

/* The job was left `submitting` by a submitter that is gone: say what
 * happened, and mark it failed when that is certain. */
static void left_submitting(collector *c, const char *why)
{
    char err[HAUL_ERR_LEN], msg[HAUL_ERR_LEN];
    snprintf(msg, sizeof msg, "job %s was left 'submitting': %s after queueing %lld keys; the rest of its "
             "keys were never queued, so it cannot complete. Cancel it (haul-scheduler cancel %s) and "
             "submit the job again", c->job, why, c->keys, c->job);
    fprintf(stderr, "haul-scheduler: %s\n", msg);
    if (!strstr(why, "no longer running")) return; /* unseen is not proof */
    redisReply *r = haul_redis_call(c->r, err, "EVAL %s 1 %s %s %s %s",
        "if redis.call('HGET', KEYS[1], 'state') == ARGV[1] then "
        "redis.call('HSET', KEYS[1], 'state', ARGV[2], 'error', ARGV[3]) return 1 end return 0",
        c->jkey.p, haul_job_state_str(HAUL_JOB_SUBMITTING), haul_job_state_str(HAUL_JOB_FAILED), msg);
    if (r && r->integer == 1) {
        freeReplyObject(r);
        if ((r = haul_redis_call(c->r, err, "SADD " HAUL_KEY_CANCELLED " %s", c->job))) freeReplyObject(r);
        else note(c, "marking the job failed", err);
        if (haul_job_retire(c->r, c->job, c->cfg->retention, err) < 0) note(c, "setting its expiry", err);
        return;
    }
    if (r) freeReplyObject(r);
    else note(c, "marking the job failed", err);
}

/* The job cannot complete: mark it failed, with the sentence. */
static void fail_job(collector *c, const char *msg)
{
    char err[HAUL_ERR_LEN];
    redisReply *r = haul_redis_call(c->r, err, "HSET %s state %s error %s", c->jkey.p,
                                    haul_job_state_str(HAUL_JOB_FAILED), msg);
    if (r) freeReplyObject(r);
    else note(c, "marking the job failed", err);
    if (haul_job_retire(c->r, c->job, c->cfg->retention, err) < 0) note(c, "setting its expiry", err);
}

/* Keys are unanswered and none of the job's tasks has been in flight for
 * LOST_AFTER_MS: say which, and why no answer can come. */
static void lost(collector *c)
{
    char msg[HAUL_ERR_LEN];
    size_t at = 0;
    long long n = unanswered(c);
    if (c->forged) {
        snprintf(msg, sizeof msg, "job %s cannot complete: %lld keys have no trustworthy result: %lld "
                 "result entries were dropped because their MAC did not verify (do the workers use the "
                 "same --key-file as the scheduler?)", c->job, n, c->forged);
    } else if (c->un_total) {
        at = (size_t)snprintf(msg, sizeof msg, "job %s cannot complete: %lld keys have no result and "
                              "their tasks are in no queue and held by no worker; %lld dead letter(s) on "
                              "queue '%s' could not be attributed to a job (their task cannot be read), "
                              "likely theirs:", c->job, n, c->un_total, c->queue);
        for (int i = 0; i < c->nun && at < sizeof msg; i++)
            at += (size_t)snprintf(msg + at, sizeof msg - at, "%s %s", i ? ";" : "", c->un[i].line);
    } else {
        snprintf(msg, sizeof msg, "job %s cannot complete: %lld keys' tasks are in no queue, held by no "
                 "worker and named by no dead letter (lost from Redis: a Redis that lost data, or a "
                 "task removed by hand)", c->job, n);
    }
    fprintf(stderr, "haul-scheduler: %s\n", msg);
    fail_job(c, msg);
}

static void progress_line(collector *c, long long t0, int final)
{
    double secs = (double)(haul_now_ms() - t0) / 1000.0;
    long long done = rows_done(c);
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 && c->final ? (double)(c->keys - done) / rate : 0;
    fprintf(stderr, "\r  %lld/%lld%s keys  %.0f keys/s  %s%.0fs  %lld errors  ",
            done, c->keys, c->final ? "" : "+", rate, final ? "done in " : "ETA ", final ? secs : eta, c->errors);
    if (final) fputc('\n', stderr);
}

/* A duration a person reads at a glance: "45s", "12m05s", "3h20m". */
static void fmt_secs(char *out, size_t n, double s)
{
    long long t = (long long)(s + 0.5);
    if (t < 60) snprintf(out, n, "%llds", t);
    else if (t < 3600) snprintf(out, n, "%lldm%02llds", t / 60, t % 60);
    else snprintf(out, n, "%lldh%02lldm", t / 3600, t / 60 % 60);
}

/* The progress line of a log (stderr not a terminal), one full line each
 * time: done/total, the rate over the last interval, the ETA at that rate. */
static void progress_log(collector *c, long long t0, long long span_ms, long long *last_done)
{
    long long done = rows_done(c);
    double rate = span_ms > 0 ? (double)(done - *last_done) * 1000.0 / (double)span_ms : 0;
    double secs = (double)(haul_now_ms() - t0) / 1000.0;
    char eta[32] = "unknown", took[32];
    if (c->final && done >= c->keys) snprintf(eta, sizeof eta, "0s");
    else if (c->final && rate > 0) fmt_secs(eta, sizeof eta, (double)(c->keys - done) / rate);
    else if (!c->final) snprintf(eta, sizeof eta, "unknown (still submitting)");
    fmt_secs(took, sizeof took, secs);
    fprintf(stderr, "haul: job %s: %lld/%lld%s keys (%.0f%%), %.0f keys/s, ETA %s, %lld errors, %s elapsed\n",
            c->job, done, c->keys, c->final ? "" : "+",
            c->keys > 0 ? 100.0 * (double)done / (double)c->keys : 0.0, rate, eta, c->errors, took);
    *last_done = done;
}

/* ---- the loop ------------------------------------------------------------- */

/* Read the job before writing anything: 0 go on, or an exit status. */
static int attach(collector *c, char *err)
{
    redisReply *h = haul_redis_call(c->r, err, "HGETALL %s", c->jkey.p);
    if (!h) {
        fprintf(stderr, "haul-scheduler: %s\n", err);
        return EXIT_USAGE;
    }
    if (h->elements == 0) {
        fprintf(stderr, "haul-scheduler: no job '%s' in Redis (see haul-scheduler status)\n", c->job);
        freeReplyObject(h);
        return EXIT_USAGE;
    }
    const char *op = field(h, "op", NULL), *q = field(h, "queue", NULL), *b = field(h, "batch", NULL);
    const char *mi = field(h, "max_inline", NULL), *cr = field(h, "created", NULL);
    const char *tr = field(h, "trimmed", NULL), *st = field(h, "state", NULL);
    int rc = 0;
    if (tr && !c->sub) {
        const char *sp = strrchr(tr, ' ');
        fprintf(stderr, "haul-scheduler: job %s%s: its results were trimmed by the collector that wrote "
                "them (up to stream id %s), so they cannot be collected again (collect with "
                "--keep-results to keep a job's results for a second collection)\n", c->job,
                haul_job_state_parse(st) == HAUL_JOB_DONE ? " was collected already" : "", sp ? sp + 1 : tr);
        rc = EXIT_USAGE;
    }
    c->listing = op && (!strcmp(op, "list") || !strcmp(op, "list-buckets"));
    if (haul_op_parse(op, &c->op) < 0) c->op = HAUL_OP_NONE;
    c->cols = haul_out_cols(c->op);
    c->queue = haul_strdup(q ? q : c->cfg->queue);
    c->batch = b ? strtoll(b, NULL, 10) : c->cfg->batch;
    if (c->batch < 1) c->batch = 1;
    c->created = cr ? strtoll(cr, NULL, 10) : 0;
    c->xcount = c->listing ? HAUL_XREAD_MAX_COUNT : haul_xread_count(mi ? strtoll(mi, NULL, 10) : (1 << 20));
    freeReplyObject(h);
    return rc;
}

int haul_collect(const sched_cfg *cfg, haul_redis *rc, const char *job, long long t0,
                 haul_submission *sub)
{
    collector c;
    char err[HAUL_ERR_LEN];
    /* Progress: on a terminal, one line rewritten 4 times a second; in a log
     * (stderr not a terminal), a line every --progress-interval seconds.
     * --no-progress: neither. The final summary is always written. */
    int tty = isatty(2), announced = 0, status = EXIT_USAGE;
    int show = tty && cfg->progress != 0;
    long long every_ms = !tty && cfg->progress != 0 ? cfg->progress_interval * 1000 : 0;
    long long last_show = 0, last_refresh = 0, last_check = 0, last_ttl = 0, last_publish = 0, published = -1;
    long long last_line = haul_mono_ms(), line_done = 0;

    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.r = rc;
    c.sub = sub;
    c.job = job;
    c.reconnects = rc->reconnects;
    {
        char host[256];
        if (gethostname(host, sizeof host) < 0) snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = '\0';
        snprintf(c.me, sizeof c.me, "%s:%d:%08lx ", host, (int)getpid(),
                 (unsigned long)((unsigned long long)haul_now_ms() * 2654435761u) & 0xffffffffUL);
    }
    snprintf(c.last, sizeof c.last, "0-0");
    c.fmt = cfg->format && !strcmp(cfg->format, "jsonl") ? HAUL_FMT_JSONL : HAUL_FMT_CSV;
    if (cfg->format && strcmp(cfg->format, "jsonl") && strcmp(cfg->format, "csv")) {
        fprintf(stderr, "haul-scheduler: --format: '%s' is not csv or jsonl\n", cfg->format);
        return EXIT_USAGE;
    }
    haul_key_job(&c.jkey, job);
    haul_key_results(&c.skey, job);
    haul_key_dups(&c.dkey, job);
    c.order = haul_order_new(emit, &c);
    if (cfg->key_file) {
        unsigned char key[HAUL_SEAL_KEY_LEN];
        int kl = haul_seal_key_load(cfg->key_file, key, err);
        if (kl >= 0) c.mac = haul_rowmac_new(key);
        OPENSSL_cleanse(key, sizeof key);
        if (kl < 0 || !c.mac) {
            fprintf(stderr, "haul-scheduler: %s\n", kl < 0 ? err : "OpenSSL cannot make HMAC-SHA256 (needed "
                    "to verify results)");
            goto out;
        }
    }
    if ((status = attach(&c, err)) != 0) goto out;
    status = EXIT_USAGE;
    int f = refresh(&c, err);
    if (f != 0) {
        fprintf(stderr, "haul-scheduler: %s\n", err);
        goto out;
    }
    if (!sub && c.state == HAUL_JOB_SUBMITTING) {
        char why[HAUL_ERR_LEN];
        if (submitter_gone(&c, why, sizeof why)) {
            left_submitting(&c, why);
            goto out;
        }
    }
    if (t0 == 0) t0 = c.created ? c.created : haul_now_ms();

    c.out = (!cfg->out || !strcmp(cfg->out, "-")) ? stdout : fopen(cfg->out, "w");
    if (!c.out) {
        fprintf(stderr, "haul-scheduler: --out: cannot write %s: %s\n", cfg->out, strerror(errno));
        goto out;
    }
    haul_buf_reset(&c.line);
    haul_out_header_cols(&c.line, c.fmt, c.cols);
    if (c.line.len && fwrite(c.line.p, 1, c.line.len, c.out) != c.line.len) c.write_failed = 1;
    c.last_progress = c.last_trim = last_ttl = haul_mono_ms();

    for (;;) {
        long long now = haul_mono_ms();
        int feeding = sub && !haul_submit_done(sub);
        if (sub) { /* also once done: it stores its last seconds again after a Redis restart */
            int step;
            do {
                step = haul_submit_step(sub, c.listing ? -1 : haul_order_slots_answered(c.order),
                                        !c.listing && haul_order_wants_rows(c.order), err);
            } while (step == HAUL_SUBMIT_MORE && haul_mono_ms() - now < 200);
            if (step == HAUL_SUBMIT_FAILED) {
                fprintf(stderr, "haul-scheduler: %s\n", err);
                goto out;
            }
            if (haul_submit_waiting(sub)) snprintf(c.oom, sizeof c.oom, "%s", haul_submit_waiting(sub));
            if (haul_submit_published(sub)) last_refresh = 0;
            if (step == HAUL_SUBMIT_DONE && !announced) {
                fprintf(stderr, "haul: job %s submitted; collecting (haul-scheduler collect %s to reattach)\n",
                        job, job);
                announced = 1;
            }
        }
        /* Learn what the submitter has described: often while rows wait for it. */
        if (!c.final || now - last_refresh >= REFRESH_MS) {
            long long gap = now - last_refresh;
            int wants = !c.listing && haul_order_wants_rows(c.order);
            if (gap >= REFRESH_MS || (wants && gap >= REFRESH_MIN_MS) || (sub && last_refresh == 0)) {
                if ((f = refresh(&c, err)) != 0) {
                    fprintf(stderr, "haul-scheduler: %s\n", err);
                    goto out;
                }
                last_refresh = now;
                if (c.final && c.state == HAUL_JOB_QUEUED) { /* `running`, unless changed meanwhile */
                    redisReply *r = haul_redis_call(rc, err, "EVAL %s 1 %s %s %s",
                        "if redis.call('HGET', KEYS[1], 'state') == ARGV[1] then "
                        "redis.call('HSET', KEYS[1], 'state', ARGV[2]) end return 0", c.jkey.p,
                        haul_job_state_str(HAUL_JOB_QUEUED), haul_job_state_str(HAUL_JOB_RUNNING));
                    if (r) freeReplyObject(r);
                    else note(&c, "setting the job running", err);
                    c.state = HAUL_JOB_RUNNING;
                }
            }
        }
        if (c.final && (c.listing ? c.pdone_n >= c.slots : haul_order_complete(c.order))) break;
        if (!c.listing && c.final && unanswered(&c) == 0) {
            fprintf(stderr, "haul-scheduler: job %s: wrote %lld of %lld rows (its duplicate runs in Redis do "
                    "not match its keys)\n", job, haul_order_rows_written(c.order), c.rows);
            goto out;
        }

        redisReply *r = haul_redis_call(rc, err, "XREAD COUNT %lld BLOCK %d STREAMS %s %s", c.xcount,
                                        feeding ? BLOCK_FEEDING_MS : BLOCK_MS, c.skey.p, c.last);
        if (!r) goto fail;
        long long before = c.progress;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            redisReply *entries = r->element[0]->element[1];
            for (size_t k = 0; k < entries->elements; k++) {
                redisReply *e = entries->element[k];
                snprintf(c.last, sizeof c.last, "%s", e->element[0]->str);
                c.unread_trim++;
                int t = take_entry(&c, e->element[1], err);
                if (t < 0) {
                    freeReplyObject(r);
                    goto fail;
                }
                c.progress += t;
            }
        }
        freeReplyObject(r);
        if (c.write_failed) {
            fprintf(stderr, "haul-scheduler: writing %s failed: %s\n", cfg->out ? cfg->out : "stdout", strerror(errno));
            goto out;
        }
        now = haul_mono_ms();
        if (c.unread_trim >= TRIM_ENTRIES || (c.unread_trim && now - c.last_trim >= TRIM_MS)) {
            if ((f = trim(&c, err)) < 0) goto fail;
            if (f > 0) { fprintf(stderr, "haul-scheduler: %s\n", err); goto out; }
        }
        if (now - last_publish >= PUBLISH_MS) {
            publish_progress(&c, &published);
            last_publish = now;
        }
        if (c.progress != before) {
            c.last_progress = now;
            c.none_since = 0;
            c.oom[0] = '\0';
        }
        if (now - last_check >= CHECK_MS) {
            /* Requeue the tasks of dead workers (so a job finishes even when
             * every worker died); notice a cancel, or a submitter gone. */
            long long rq, dead, nw;
            if (rc->c && haul_reap(rc->c, c.queue, cfg->max_deliveries, &rq, &dead, &nw, err) < 0)
                note(&c, "reaping", err);
            else if (rc->c && nw)
                log_warn("reaped %lld dead worker(s): %lld task(s) requeued, %lld dead-lettered", nw, rq, dead);
            redisReply *st = haul_redis_call(rc, err, "SISMEMBER " HAUL_KEY_CANCELLED " %s", job);
            int cancelled = st && st->type == REDIS_REPLY_INTEGER && st->integer == 1;
            if (st) freeReplyObject(st);
            if (cancelled) {
                fprintf(stderr, "haul-scheduler: job %s was cancelled (%lld of %lld keys done)\n",
                        job, rows_done(&c), c.keys);
                goto out;
            }
            char why[HAUL_ERR_LEN];
            if (!sub && !c.final && submitter_gone(&c, why, sizeof why)) {
                left_submitting(&c, why);
                goto out;
            }
            last_check = now;
        }
        if (now - last_ttl >= TTL_MS) {
            if (haul_job_expire(rc, job, cfg->job_ttl, err) < 0) note(&c, "refreshing the expiry", err);
            last_ttl = now;
        }
        long long idle = now - c.last_progress;
        if (idle >= DEAD_AFTER_MS && now - c.last_dead >= DEAD_EVERY_MS) {
            long long b2 = c.dead_rows;
            if (scan_dead(&c, err) < 0) goto fail;
            if (c.dead_rows != b2) {
                c.last_progress = now;
                c.none_since = 0;
                continue;
            }
        }
        if (idle >= DEAD_AFTER_MS && c.final && now - c.last_inflight >= DEAD_EVERY_MS && rc->c) {
            haul_inflight fl;
            c.last_inflight = now;
            if (haul_queue_inflight(rc->c, c.queue, job, &fl, err) < 0) {
                note(&c, "counting the tasks in flight", err);
            } else if (fl.job_tasks != 0) {
                c.none_since = 0;
            } else if (!c.none_since) {
                c.none_since = now;
            } else if (now - c.none_since >= LOST_AFTER_MS) {
                if (show) progress_line(&c, t0, 0);
                fflush(c.out);
                lost(&c);
                goto out;
            }
        }
        if (idle >= STALL_FIRST_MS && now - c.last_report >= STALL_EVERY_MS) {
            if (show) fputc('\n', stderr);
            report_stall(&c, idle);
            c.last_report = now;
        }
        if (show && now - last_show >= 250) { progress_line(&c, t0, 0); last_show = now; }
        if (every_ms > 0 && now - last_line >= every_ms) {
            progress_log(&c, t0, now - last_line, &line_done);
            last_line = now;
        }
    }

    if (fflush(c.out) != 0 || c.write_failed) {
        fprintf(stderr, "haul-scheduler: writing %s failed: %s\n", cfg->out ? cfg->out : "stdout", strerror(errno));
        goto out;
    }
    if ((f = trim(&c, err)) != 0) {
        fprintf(stderr, "haul-scheduler: %s\n", err);
        goto out;
    }
    if (show) progress_line(&c, t0, 1);
    double secs = (double)(haul_now_ms() - t0) / 1000.0;
    {
        haul_buf eb = HAUL_BUF_INIT;
        errors_by(&c, &eb);
        redisReply *r = haul_redis_call(rc, err, "HSET %s state %s finished %lld ok %lld errors %lld forged %lld "
                                        "done %lld failed %lld errors_by %s", c.jkey.p,
                                        haul_job_state_str(HAUL_JOB_DONE), haul_now_ms(), c.ok, c.errors,
                                        c.forged, rows_done(&c), c.errors, haul_buf_str(&eb));
        haul_buf_free(&eb);
        if (r) freeReplyObject(r);
        else note(&c, "recording the job done", err);
        /* Collected: the job's keys now live only as long as the retention. */
        if (haul_job_retire(rc, job, cfg->retention, err) < 0) note(&c, "setting its retention", err);
    }
    if (c.forged)
        log_warn("job %s: %lld result entries dropped: their MAC did not verify (forged, altered, or "
                 "written by a worker without the key)", job, c.forged);
    if (c.bogus)
        log_warn("job %s: %lld result entries named a slot the job does not have (dropped)", job, c.bogus);
    char forged[64] = "";
    if (c.forged) snprintf(forged, sizeof forged, ", %lld forged entries dropped", c.forged);
    fprintf(stderr, "haul: job %s: %lld %s, %lld ok, %lld errors%s, %.2f s, %.0f keys/s\n",
            job, c.listing ? c.rows_out : c.keys, c.listing ? "rows" : "keys", c.ok, c.errors, forged,
            secs, secs > 0 ? (double)c.keys / secs : 0.0);
    status = c.errors ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    goto out;
fail:
    if (haul_redis_oom(err))
        fprintf(stderr, "haul-scheduler: Redis is out of memory (maxmemory, noeviction): %s\n", err);
    else
        fprintf(stderr, "haul-scheduler: %s\n", err);
out:
    if (c.out && c.out != stdout) fclose(c.out);
    else if (c.out) fflush(c.out);
    haul_order_free(c.order);
    haul_rowmac_free(c.mac);
    free(c.prows);
    free(c.pdone);
    free(c.queue);
    haul_buf_free(&c.line);
    haul_buf_free(&c.jkey);
    haul_buf_free(&c.skey);
    haul_buf_free(&c.dkey);
    return status;
}
