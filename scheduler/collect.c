/* collect.c -- read a job's results from its stream and write them out.
 *
 * Results arrive in the order workers finish; rows are written in the order
 * of the input keys. Results are numbered by slot (a distinct key, see
 * submit.c); a result that arrives early waits in a min-heap keyed by its
 * slot until the rows before it are written, so memory holds only the rows
 * that are out of order, not the job. A bitmap of the slots already taken
 * drops duplicates (a task run twice), so each key is written once.
 *
 * A row that repeats an earlier key (the job's haul:dup:<job> runs) is
 * written from that key's result, which is kept after it is written for as
 * many rows as still repeat it, and no longer.
 *
 * Listing jobs (list, list-buckets) have no input order: their rows are
 * written as they arrive, and the job is complete when every prefix's final
 * ("eof") entry has arrived.
 *
 * collect reads the stream from its start, so it can attach to a job at any
 * time -- also after the scheduler that submitted it was killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "queue.h"
#include "scheduler.h"

#define READ_COUNT 1000
#define BLOCK_MS 500

typedef struct prow {          /* a row waiting for its turn, owning its bytes */
    long long i;
    haul_row row;
    char *mem;                 /* one allocation holding every string */
} prow;

typedef struct heap { prow **v; size_t n, cap; } heap;

static void heap_push(heap *h, prow *p)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = haul_realloc(h->v, h->cap * sizeof *h->v);
    }
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2]->i > p->i) { h->v[i] = h->v[(i - 1) / 2]; i = (i - 1) / 2; }
    h->v[i] = p;
}

static prow *heap_pop(heap *h)
{
    prow *top = h->v[0], *last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1]->i < h->v[c]->i) c++;
        if (h->v[c]->i >= last->i) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* Copy a row's strings into one allocation. */
static prow *prow_new(long long i, const haul_row *r)
{
    const char *s[6] = {r->key, r->value, r->path, r->error, r->worker, r->task};
    size_t n[6] = {r->key_len, r->value_len, r->path ? strlen(r->path) : 0,
                   r->error ? strlen(r->error) : 0, r->worker ? strlen(r->worker) : 0,
                   r->task ? strlen(r->task) : 0};
    size_t total = 0;
    for (int k = 0; k < 6; k++) total += n[k] + 1;
    prow *p = haul_calloc(1, sizeof *p);
    p->i = i;
    p->row = *r;
    p->mem = haul_malloc(total);
    char *m = p->mem;
    const char **dst[6] = {&p->row.key, &p->row.value, &p->row.path, &p->row.error, &p->row.worker, &p->row.task};
    for (int k = 0; k < 6; k++) {
        if (!s[k]) { *dst[k] = NULL; continue; }
        memcpy(m, s[k], n[k]);
        m[n[k]] = '\0';
        *dst[k] = m;
        m += n[k] + 1;
    }
    p->row.status = r->status && !strcmp(r->status, "ok") ? "ok" : "error";
    return p;
}

typedef struct dup_run { long long row, slot, n; } dup_run;

typedef struct kept {          /* a slot that later rows repeat */
    long long slot;            /* -1: empty */
    long long refs;            /* rows still to write from it */
    prow *p;                   /* its result, once written */
} kept;

typedef struct keep_map { kept *v; size_t cap, n; } keep_map;

/* The entry of SLOT, or the empty one where it would go. */
static kept *keep_probe(kept *v, size_t cap, long long slot)
{
    size_t j = (size_t)slot * 0x9E3779B97F4A7C15ULL >> 20 & (cap - 1);
    while (v[j].slot >= 0 && v[j].slot != slot) j = (j + 1) & (cap - 1);
    return &v[j];
}

/* SLOT's entry; with ADD, made (refs 0) when missing, else NULL then. */
static kept *keep_find(keep_map *m, long long slot, int add)
{
    if (add && (m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        kept *nv = haul_malloc(ncap * sizeof *nv);
        for (size_t i = 0; i < ncap; i++) nv[i].slot = -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].slot >= 0) *keep_probe(nv, ncap, m->v[i].slot) = m->v[i];
        free(m->v);
        m->v = nv;
        m->cap = ncap;
    }
    if (!m->cap) return NULL;
    kept *k = keep_probe(m->v, m->cap, slot);
    if (k->slot == slot) return k;
    if (!add) return NULL;
    *k = (kept){slot, 0, NULL};
    m->n++;
    return k;
}

typedef struct collector {
    const sched_cfg *cfg;
    FILE *out;
    haul_fmt fmt;
    haul_buf line;
    int listing;               /* list / list-buckets job */
    long long total;           /* rows: keys (prefixes for listings) */
    long long slots;           /* distinct keys: results expected */
    unsigned char *seen;       /* bitmap of slots done */
    long long done, ok, errors, rows;
    long long next;            /* the next slot to write */
    long long next_row;        /* the next row to write */
    heap pending;
    dup_run *dups;             /* rows that repeat earlier slots, by row */
    size_t ndups, di;          /* di: the next run; doff: rows of it written */
    long long doff;
    keep_map keep;
    int write_failed;
} collector;

static void emit(collector *c, const haul_row *r)
{
    haul_buf_reset(&c->line);
    haul_out_row(&c->line, c->fmt, r);
    if (fwrite(c->line.p, 1, c->line.len, c->out) != c->line.len) c->write_failed = 1;
    c->rows++;
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

static void write_slot(collector *c, const haul_row *r)
{
    emit(c, r);
    if (r->status && !strcmp(r->status, "ok")) c->ok++; else c->errors++;
    c->next_row++;
}

/* Is the next row to write one that repeats an earlier slot? */
static int at_dup(const collector *c)
{
    return c->di < c->ndups && c->next_row == c->dups[c->di].row + c->doff;
}

/* Write every row that can be written now: repeats of slots already written,
 * and results that were waiting for their turn. */
static void advance(collector *c)
{
    for (;;) {
        if (at_dup(c)) {
            long long slot = c->dups[c->di].slot + c->doff;
            kept *k = keep_find(&c->keep, slot, 0);
            if (!k || !k->p) break; /* cannot happen: a repeat follows its first */
            write_slot(c, &k->p->row);
            if (--k->refs == 0) { free(k->p->mem); free(k->p); k->p = NULL; }
            if (++c->doff == c->dups[c->di].n) { c->di++; c->doff = 0; }
            continue;
        }
        if (!c->pending.n || c->pending.v[0]->i != c->next) break;
        prow *p = heap_pop(&c->pending);
        write_slot(c, &p->row);
        kept *k = keep_find(&c->keep, p->i, 0);
        if (k) {
            k->p = p;
        } else {
            free(p->mem);
            free(p);
        }
        c->next++;
    }
}

/* Read the job's duplicate runs; count, per repeated slot, the rows that
 * repeat it. */
static int load_dups(collector *c, haul_redis *rc, const char *job, char *err)
{
    haul_buf k = HAUL_BUF_INIT;
    size_t cap = 0;
    int rc_ = 0;
    haul_key_dups(&k, job);
    for (long long at = 0;; at += 1000) {
        redisReply *r = haul_redis_call(rc, err, "LRANGE %s %lld %lld", k.p, at, at + 999);
        if (!r) { rc_ = -1; break; }
        for (size_t j = 0; j < r->elements; j++) {
            dup_run d;
            if (r->element[j]->type != REDIS_REPLY_STRING ||
                sscanf(r->element[j]->str, "%lld %lld %lld", &d.row, &d.slot, &d.n) != 3 ||
                d.n <= 0 || d.slot < 0 || d.slot + d.n > c->slots || d.row < 0 || d.row + d.n > c->total ||
                (c->ndups && d.row < c->dups[c->ndups - 1].row + c->dups[c->ndups - 1].n)) {
                snprintf(err, HAUL_ERR_LEN, "%s: element %lld is not a run \"ROW SLOT N\" in order",
                         k.p, at + (long long)j);
                rc_ = -1;
                break;
            }
            if (c->ndups == cap) {
                cap = cap ? cap * 2 : 16;
                c->dups = haul_realloc(c->dups, cap * sizeof *c->dups);
            }
            c->dups[c->ndups++] = d;
            for (long long s = d.slot; s < d.slot + d.n; s++) keep_find(&c->keep, s, 1)->refs++;
        }
        size_t got = r->elements;
        freeReplyObject(r);
        if (rc_ < 0 || got < 1000) break;
    }
    haul_buf_free(&k);
    return rc_;
}

/* The entry's "verified" as one of the names a row may hold (static: a kept
 * row does not copy it), or NULL. */
static const char *verified_name(const char *v)
{
    static const char *const names[] = {"none", "md5", "segments", "parts"};
    for (size_t i = 0; v && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(v, names[i])) return names[i];
    return NULL;
}

static void take_entry(collector *c, redisReply *kv)
{
    size_t klen = 0, vlen = 0;
    const char *key = field(kv, "key", &klen), *is = field(kv, "i", NULL);
    const char *st = field(kv, "status", NULL), *http = field(kv, "http", NULL);
    const char *bytes = field(kv, "bytes", NULL), *ms = field(kv, "ms", NULL);
    const char *eof = field(kv, "eof", NULL), *tries = field(kv, "tries", NULL);
    if (!key || !is || !st) return; /* not a result entry */
    long long i = strtoll(is, NULL, 10);
    haul_row r = {
        .key = key, .key_len = klen, .status = st, .http = http ? strtol(http, NULL, 10) : 0,
        .path = field(kv, "path", NULL), .bytes = bytes ? strtoll(bytes, NULL, 10) : -1,
        .error = field(kv, "error", NULL), .worker = field(kv, "worker", NULL),
        .task = field(kv, "task", NULL), .ms = ms ? strtoll(ms, NULL, 10) : -1,
        .tries = tries ? strtoll(tries, NULL, 10) : 0,
        .verified = verified_name(field(kv, "verified", NULL)),
    };
    r.value = field(kv, "value", &vlen);
    r.value_len = vlen;
    int is_ok = !strcmp(st, "ok");

    if (c->listing && !eof) { /* one listed object */
        emit(c, &r);
        c->ok++;
        return;
    }
    if (i < 0 || i >= c->slots || (c->seen[i / 8] & (1u << (i % 8)))) return; /* duplicate */
    c->seen[i / 8] |= (unsigned char)(1u << (i % 8));
    c->done++;
    if (c->listing) {       /* a prefix finished: only its failure is a row */
        if (!is_ok) { emit(c, &r); c->errors++; }
        return;
    }
    if (i == c->next && !at_dup(c) && !keep_find(&c->keep, i, 0)) {
        write_slot(c, &r);  /* in order, and nothing repeats it: no copy */
        c->next++;
    } else {
        heap_push(&c->pending, prow_new(i, &r));
    }
    advance(c);
}

static redisReply *hgetall(haul_redis *rc, const char *key, char *err)
{
    return haul_redis_call(rc, err, "HGETALL %s", key);
}

static const char *hfield(redisReply *h, const char *name)
{
    return h ? field(h, name, NULL) : NULL;
}

static void progress(collector *c, long long t0, int final)
{
    double secs = (double)(haul_now_ms() - t0) / 1000.0;
    long long done = c->listing ? c->done : c->next_row;
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 ? (double)(c->total - done) / rate : 0;
    fprintf(stderr, "\r  %lld/%lld keys  %.0f keys/s  %s%.0fs  %lld errors  ",
            done, c->total, rate, final ? "done in " : "ETA ", final ? secs : eta, c->errors);
    if (final) fputc('\n', stderr);
}

int haul_collect(const sched_cfg *cfg, haul_redis *rc, const char *job, long long t0)
{
    collector c;
    char err[HAUL_ERR_LEN];
    haul_buf jkey = HAUL_BUF_INIT, skey = HAUL_BUF_INIT, dkey = HAUL_BUF_INIT;
    redisReply *h = NULL;
    char last[64] = "0-0";
    char *queue = NULL;          /* the job's queue, from its hash */
    int status = EXIT_USAGE, show = cfg->progress < 0 ? isatty(2) : cfg->progress;
    long long last_progress = 0, last_change = haul_mono_ms(), warned_idle = 0, last_check = 0;

    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.fmt = cfg->format && !strcmp(cfg->format, "jsonl") ? HAUL_FMT_JSONL : HAUL_FMT_CSV;
    if (cfg->format && strcmp(cfg->format, "jsonl") && strcmp(cfg->format, "csv")) {
        fprintf(stderr, "haul-scheduler: --format: '%s' is not csv or jsonl\n", cfg->format);
        return EXIT_USAGE;
    }
    haul_key_job(&jkey, job);
    haul_key_results(&skey, job);
    haul_key_dups(&dkey, job);

    /* Wait until the job's size is known (its submitter may still be queueing). */
    for (;;) {
        if (h) freeReplyObject(h);
        if (!(h = hgetall(rc, jkey.p, err))) goto fail;
        if (h->elements == 0) {
            fprintf(stderr, "haul-scheduler: no job '%s' in Redis (see haul-scheduler status)\n", job);
            goto out;
        }
        const char *state = hfield(h, "state");
        if (state && !strcmp(state, "failed")) {
            fprintf(stderr, "haul-scheduler: job %s failed while it was being submitted\n", job);
            goto out;
        }
        if (state && !strcmp(state, "cancelled")) {
            fprintf(stderr, "haul-scheduler: job %s was cancelled\n", job);
            goto out;
        }
        if (state && strcmp(state, "submitting")) break;
        usleep(100 * 1000);
    }
    const char *op = hfield(h, "op");
    queue = haul_strdup(hfield(h, "queue") ? hfield(h, "queue") : cfg->queue);
    c.listing = op && (!strcmp(op, "list") || !strcmp(op, "list-buckets"));
    c.total = strtoll(hfield(h, "keys") ? hfield(h, "keys") : "0", NULL, 10);
    c.slots = hfield(h, "distinct") ? strtoll(hfield(h, "distinct"), NULL, 10) : c.total;
    if (c.slots < c.total && !c.listing && load_dups(&c, rc, job, err) < 0) goto fail;
    if (t0 == 0) t0 = strtoll(hfield(h, "created") ? hfield(h, "created") : "0", NULL, 10);
    if (t0 == 0) t0 = haul_now_ms();
    c.seen = haul_calloc((size_t)(c.slots / 8 + 1), 1);

    c.out = (!cfg->out || !strcmp(cfg->out, "-")) ? stdout : fopen(cfg->out, "w");
    if (!c.out) {
        fprintf(stderr, "haul-scheduler: --out: cannot write %s: %m\n", cfg->out);
        goto out;
    }
    haul_buf_reset(&c.line);
    haul_out_header(&c.line, c.fmt);
    if (c.line.len) fwrite(c.line.p, 1, c.line.len, c.out);
    freeReplyObject(h);
    h = NULL;
    { /* "running" unless cancelled meanwhile: a cancel must not be overwritten */
        redisReply *r = haul_redis_call(rc, err, "EVAL %s 1 %s",
            "if redis.call('HGET', KEYS[1], 'state') ~= 'cancelled' then "
            "redis.call('HSET', KEYS[1], 'state', 'running') end", jkey.p);
        if (r) freeReplyObject(r);
    }

    while (c.done < c.slots) {
        redisReply *r = haul_redis_call(rc, err, "XREAD COUNT %d BLOCK %d STREAMS %s %s",
                                       READ_COUNT, BLOCK_MS, skey.p, last);
        if (!r) goto fail;
        long long before = c.done;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            redisReply *entries = r->element[0]->element[1];
            for (size_t k = 0; k < entries->elements; k++) {
                redisReply *e = entries->element[k];
                snprintf(last, sizeof last, "%s", e->element[0]->str);
                take_entry(&c, e->element[1]);
            }
        }
        freeReplyObject(r);
        long long now = haul_mono_ms();
        if (c.done != before) last_change = now;
        if (now - last_check >= 2000) {
            /* Every 2 s: requeue the tasks of dead workers (so a job finishes
             * even when every worker died), and notice a cancel. */
            long long rq, dead, nw;
            if (rc->c && haul_reap(rc->c, queue, cfg->max_deliveries, &rq, &dead, &nw, err) == 0 && nw)
                log_warn("reaped %lld dead worker(s): %lld task(s) requeued, %lld dead-lettered", nw, rq, dead);
            redisReply *st = haul_redis_call(rc, err, "SISMEMBER " HAUL_KEY_CANCELLED " %s", job);
            int cancelled = st && st->type == REDIS_REPLY_INTEGER && st->integer == 1;
            if (st) freeReplyObject(st);
            if (cancelled) {
                fprintf(stderr, "haul-scheduler: job %s was cancelled (%lld of %lld keys done)\n",
                        job, c.listing ? c.done : c.next_row, c.total);
                goto out;
            }
            last_check = now;
        }
        if (show && (now - last_progress >= 250)) { progress(&c, t0, 0); last_progress = now; }
        if (now - last_change > 10000 && now - warned_idle > 30000) {
            redisReply *w = haul_redis_call(rc, err, "ZCOUNT " HAUL_KEY_WORKERS " %lld +inf", haul_now_ms() - 15000);
            if (w && w->integer == 0)
                log_warn("job %s: no result for 10 s and no live worker: start haul-worker --redis ... --queue %s",
                         job, queue);
            else
                log_warn("job %s: no result for 10 s (%lld of %lld keys done)", job, c.listing ? c.done : c.next_row, c.total);
            if (w) freeReplyObject(w);
            warned_idle = now;
        }
        if (c.write_failed) {
            fprintf(stderr, "haul-scheduler: writing %s failed: %m\n", cfg->out ? cfg->out : "stdout");
            goto out;
        }
    }
    if (fflush(c.out) != 0 || c.write_failed) {
        fprintf(stderr, "haul-scheduler: writing %s failed: %m\n", cfg->out ? cfg->out : "stdout");
        goto out;
    }
    if (!c.listing && c.next_row != c.total) {
        fprintf(stderr, "haul-scheduler: job %s: wrote %lld of %lld rows (its duplicate runs in Redis do not "
                "match its keys)\n", job, c.next_row, c.total);
        goto out;
    }
    if (show) progress(&c, t0, 1);
    double secs = (double)(haul_now_ms() - t0) / 1000.0;
    {
        redisReply *r = haul_redis_call(rc, err, "HSET %s state done finished %lld ok %lld errors %lld",
                                       jkey.p, haul_now_ms(), c.ok, c.errors);
        if (r) freeReplyObject(r);
        /* Collected: the job's keys now live only as long as the retention. */
        if (cfg->retention > 0) {
            if ((r = haul_redis_call(rc, err, "EXPIRE %s %lld", jkey.p, cfg->retention))) freeReplyObject(r);
            if ((r = haul_redis_call(rc, err, "EXPIRE %s %lld", skey.p, cfg->retention))) freeReplyObject(r);
            if ((r = haul_redis_call(rc, err, "EXPIRE %s %lld", dkey.p, cfg->retention))) freeReplyObject(r);
        } else {
            if ((r = haul_redis_call(rc, err, "DEL %s %s", skey.p, dkey.p))) freeReplyObject(r);
        }
    }
    fprintf(stderr, "haul: job %s: %lld %s, %lld ok, %lld errors, %.2f s, %.0f keys/s\n",
            job, c.listing ? c.rows : c.total, c.listing ? "rows" : "keys",
            c.ok, c.errors, secs, secs > 0 ? (double)c.total / secs : 0.0);
    status = c.errors ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    goto out;
fail:
    fprintf(stderr, "haul-scheduler: %s\n", err);
out:
    if (h) freeReplyObject(h);
    if (c.out && c.out != stdout) fclose(c.out);
    else if (c.out) fflush(c.out);
    while (c.pending.n) { prow *p = heap_pop(&c.pending); free(p->mem); free(p); }
    free(c.pending.v);
    for (size_t i = 0; i < c.keep.cap; i++)
        if (c.keep.v[i].slot >= 0 && c.keep.v[i].p) { free(c.keep.v[i].p->mem); free(c.keep.v[i].p); }
    free(c.keep.v);
    free(c.dups);
    free(c.seen);
    free(queue);
    haul_buf_free(&c.line);
    haul_buf_free(&jkey);
    haul_buf_free(&skey);
    haul_buf_free(&dkey);
    return status;
}
