/* sysview.c -- the system as Redis shows it (sysview.h). */
#include "sysview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "task.h"

#define SCAN_PAGE 500

static const char *hfield(const redisReply *h, const char *name)
{
    for (size_t j = 0; h && h->type == REDIS_REPLY_ARRAY && j + 1 < h->elements; j += 2)
        if (h->element[j]->type == REDIS_REPLY_STRING && h->element[j + 1]->type == REDIS_REPLY_STRING &&
            !strcmp(h->element[j]->str, name))
            return h->element[j + 1]->str;
    return NULL;
}

static char *hdup(const redisReply *h, const char *name)
{
    const char *v = hfield(h, name);
    return haul_strdup(v ? v : "");
}

static long long hnum(const redisReply *h, const char *name)
{
    const char *v = hfield(h, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

static long long intreply(redisReply *r)
{
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    if (r) freeReplyObject(r);
    return n;
}

static void no_key(void *ud, size_t idx, const char *key, size_t len)
{
    (void)ud; (void)idx; (void)key; (void)len;
}

/* The keys the queue's tasks hold: each task's `keys` array counted, up to
 * SV_MAX_SCAN_TASKS tasks; the rest estimated at the average. -1 on a
 * Redis failure (err). */
static int queue_keys(haul_redis *r, const char *qkey, sv_queue *q, char *err)
{
    long long keys = 0, read = 0;
    q->keys_exact = 1;
    while (read < q->tasks && read < SV_MAX_SCAN_TASKS) {
        redisReply *p = haul_redis_call(r, err, "LRANGE %s %lld %lld", qkey, read, read + SCAN_PAGE - 1);
        if (!p) return -1;
        size_t n = p->type == REDIS_REPLY_ARRAY ? p->elements : 0;
        for (size_t i = 0; i < n; i++) {
            redisReply *t = p->element[i];
            if (t->type != REDIS_REPLY_STRING) continue;
            uint64_t first;
            long long k = haul_task_peek_keys(t->str, t->len, &first, no_key, NULL);
            if (k > 0) keys += k;
        }
        freeReplyObject(p);
        read += (long long)n;
        if (n < SCAN_PAGE) break;
    }
    if (read < q->tasks) { /* past the cap, or the list grew meanwhile */
        q->keys_exact = 0;
        if (read > 0) keys += (long long)((double)keys / (double)read * (double)(q->tasks - read));
    }
    q->keys = keys;
    return 0;
}

/* One queue's lists: its tasks and their keys, its dead letters. */
static int read_queue(haul_redis *r, sv_queue *q, char *err)
{
    haul_buf k = HAUL_BUF_INIT, d = HAUL_BUF_INIT;
    int rc = -1;
    redisReply *a = haul_redis_call(r, err, "LLEN %s", haul_key_queue(&k, q->name));
    if (!a) goto out;
    q->tasks = intreply(a);
    if (queue_keys(r, k.p, q, err) < 0) goto out;
    redisReply *b = haul_redis_call(r, err, "LLEN %s", haul_key_dead(&d, q->name));
    if (!b) goto out;
    q->dead = intreply(b);
    if (q->dead > 0) {
        redisReply *l = haul_redis_call(r, err, "LRANGE %s -%d -1", d.p, SV_DEAD_RECENT);
        if (!l) goto out;
        /* Newest first; each its reason only (the task's bytes after the line are not kept). */
        for (size_t j = l->type == REDIS_REPLY_ARRAY ? l->elements : 0; j-- > 0;) {
            const char *e = l->element[j]->str;
            if (l->element[j]->type != REDIS_REPLY_STRING || q->ndead_recent == SV_DEAD_RECENT) continue;
            size_t len = strcspn(e, "\n\t");
            if (!strncmp(e, "reason=", 7)) { e += 7; len -= len >= 7 ? 7 : len; }
            q->dead_recent[q->ndead_recent++] = haul_strndup(e, len > 300 ? 300 : len);
        }
        freeReplyObject(l);
    }
    rc = 0;
out:
    haul_buf_free(&k);
    haul_buf_free(&d);
    return rc;
}

static sv_queue *add_queue(sysview *v, const char *name)
{
    v->queues = haul_realloc(v->queues, (v->nqueues + 1) * sizeof *v->queues);
    sv_queue *q = &v->queues[v->nqueues++];
    memset(q, 0, sizeof *q);
    q->name = haul_strdup(name);
    return q;
}

static int read_queues(haul_redis *r, sysview *v, char *err)
{
    redisReply *qs = haul_redis_call(r, err, "SMEMBERS " HAUL_KEY_QUEUES);
    if (!qs) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && qs->type == REDIS_REPLY_ARRAY && i < qs->elements; i++)
        if (qs->element[i]->type == REDIS_REPLY_STRING)
            rc = read_queue(r, add_queue(v, qs->element[i]->str), err);
    freeReplyObject(qs);
    return rc;
}

static int read_workers(haul_redis *r, sysview *v, char *err)
{
    haul_buf k = HAUL_BUF_INIT;
    int rc = -1;
    redisReply *ws = haul_redis_call(r, err, "ZREVRANGEBYSCORE " HAUL_KEY_WORKERS " +inf %lld LIMIT 0 %d",
                                     v->now_ms - SV_ALIVE_MS, SV_MAX_WORKERS);
    if (!ws) goto out;
    size_t n = ws->type == REDIS_REPLY_ARRAY ? ws->elements : 0;
    v->workers = haul_calloc(n ? n : 1, sizeof *v->workers);
    for (size_t i = 0; i < n; i++) {
        if (ws->element[i]->type != REDIS_REPLY_STRING) continue;
        const char *id = ws->element[i]->str;
        redisReply *h = haul_redis_call(r, err, "HGETALL %s", haul_key_worker(&k, id));
        if (!h) goto out;
        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) { /* expired meanwhile */
            freeReplyObject(h);
            continue;
        }
        sv_worker *w = &v->workers[v->nworkers++];
        w->id = haul_strdup(id);
        w->host = hdup(h, "host");
        w->queue = hdup(h, "queue");
        w->state = hdup(h, "state");
        w->pid = hnum(h, "pid");
        w->concurrency = hnum(h, "concurrency");
        w->inflight = hnum(h, "inflight");
        w->tasks_done = hnum(h, "tasks_done");
        w->keys_done = hnum(h, "keys_done");
        w->retries = hnum(h, "retries");
        w->started_ms = hnum(h, "started");
        w->last_seen_ms = hnum(h, "last_seen");
        freeReplyObject(h);
        redisReply *p = haul_redis_call(r, err, "LLEN %s", haul_key_proc(&k, id));
        if (!p) goto out;
        w->holding = intreply(p);
        /* A worker may serve a queue no job was submitted to yet. */
        sv_queue *q = NULL;
        for (size_t j = 0; j < v->nqueues && !q; j++)
            if (!strcmp(v->queues[j].name, w->queue)) q = &v->queues[j];
        if (!q && read_queue(r, q = add_queue(v, w->queue), err) < 0) goto out;
        q->workers++;
        q->inflight += w->inflight;
    }
    rc = 0;
out:
    if (ws) freeReplyObject(ws);
    haul_buf_free(&k);
    return rc;
}

/* "STATUS CODE N,..." as the collector writes it (collect.c); what does not
 * read so is skipped. */
static void parse_errors(sv_job *j, const char *s)
{
    while (s && *s && j->nerrors < SV_MAX_ERRKINDS) {
        sv_errkind *e = &j->errors[j->nerrors];
        int used = 0;
        if (sscanf(s, "%15[^ ,] %7[^ ,] %lld%n", e->status, e->code, &e->n, &used) == 3) j->nerrors++;
        s = strchr(s, ',');
        if (s) s++;
    }
}

static int read_jobs(haul_redis *r, sysview *v, char *err)
{
    haul_buf k = HAUL_BUF_INIT;
    int rc = -1;
    redisReply *js = haul_redis_call(r, err, "ZREVRANGE " HAUL_KEY_JOBS " 0 %d", SV_MAX_JOBS - 1);
    if (!js) goto out;
    size_t n = js->type == REDIS_REPLY_ARRAY ? js->elements : 0;
    v->jobs = haul_calloc(n ? n : 1, sizeof *v->jobs);
    for (size_t i = 0; i < n; i++) {
        if (js->element[i]->type != REDIS_REPLY_STRING) continue;
        const char *id = js->element[i]->str;
        redisReply *h = haul_redis_call(r, err, "HGETALL %s", haul_key_job(&k, id));
        if (!h) goto out;
        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) { /* expired: not shown */
            freeReplyObject(h);
            continue;
        }
        sv_job *j = &v->jobs[v->njobs++];
        j->id = haul_strdup(id);
        j->state = hdup(h, "state");
        j->op = hdup(h, "op");
        j->store = hdup(h, "store");
        j->bucket = hdup(h, "bucket");
        j->queue = hdup(h, "queue");
        j->error = hdup(h, "error");
        j->endpoint = hdup(h, "endpoint");
        j->submitter = hdup(h, "submitter");
        j->keys = hnum(h, "keys");
        j->distinct = hfield(h, "distinct") ? hnum(h, "distinct") : j->keys;
        j->tasks = hnum(h, "tasks");
        j->done = hnum(h, "done");
        j->failed = hnum(h, "failed");
        j->created_ms = hnum(h, "created");
        j->finished_ms = hnum(h, "finished");
        j->final = haul_job_state_parse(j->state) != HAUL_JOB_SUBMITTING;
        parse_errors(j, hfield(h, "errors_by"));
        freeReplyObject(h);
        redisReply *x = haul_redis_call(r, err, "XLEN %s", haul_key_results(&k, id));
        if (!x) goto out;
        j->results_waiting = intreply(x);
    }
    rc = 0;
out:
    if (js) freeReplyObject(js);
    haul_buf_free(&k);
    return rc;
}

void sysview_read(haul_redis *r, sysview *v)
{
    memset(v, 0, sizeof *v);
    v->now_ms = haul_now_ms();
    v->redis_up = read_queues(r, v, v->redis_err) == 0 && read_workers(r, v, v->redis_err) == 0 &&
                  read_jobs(r, v, v->redis_err) == 0;
}

void sysview_free(sysview *v)
{
    for (size_t i = 0; i < v->nqueues; i++) {
        free(v->queues[i].name);
        for (int j = 0; j < v->queues[i].ndead_recent; j++) free(v->queues[i].dead_recent[j]);
    }
    for (size_t i = 0; i < v->nworkers; i++) {
        sv_worker *w = &v->workers[i];
        free(w->id); free(w->host); free(w->queue); free(w->state);
    }
    for (size_t i = 0; i < v->njobs; i++) {
        sv_job *j = &v->jobs[i];
        free(j->id); free(j->state); free(j->op); free(j->store); free(j->bucket); free(j->queue);
        free(j->error); free(j->endpoint); free(j->submitter);
    }
    free(v->queues);
    free(v->workers);
    free(v->jobs);
    memset(v, 0, sizeof *v);
}
