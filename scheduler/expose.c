/* expose.c -- a sysview as Prometheus metrics and as JSON (expose.h). */
#include "expose.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "prom.h"

typedef long long (*qfield)(const sv_queue *q);
static long long q_tasks(const sv_queue *q) { return q->tasks; }
static long long q_keys(const sv_queue *q) { return q->keys; }
static long long q_dead(const sv_queue *q) { return q->dead; }
static long long q_workers(const sv_queue *q) { return q->workers; }
static long long q_inflight(const sv_queue *q) { return q->inflight; }

typedef long long (*jfield)(const sv_job *j);
static long long j_keys(const sv_job *j) { return j->keys; }
static long long j_done(const sv_job *j) { return j->done; }
static long long j_failed(const sv_job *j) { return j->failed; }
static long long j_waiting(const sv_job *j) { return j->results_waiting; }

void expose_metrics(const sysview *v, haul_buf *out)
{
    haul_prom_family(out, "haul_redis_up", "gauge", "Whether Redis answered every read of this scrape (1) or not (0).");
    haul_prom_sample(out, "haul_redis_up", NULL, v->redis_up);
    if (!v->redis_up) return; /* half a view would read as a drop to zero */

    static const struct { const char *name, *help; qfield f; } qs[] = {
        {"haul_queue_tasks", "Tasks waiting in the queue (LLEN haul:q:<queue>).", q_tasks},
        {"haul_queue_keys", "Keys the waiting tasks hold (counted for up to 10000 tasks, the rest estimated).", q_keys},
        {"haul_queue_dead_letters", "Dead letters of the queue (LLEN haul:dead:<queue>).", q_dead},
        {"haul_workers_live", "Workers serving the queue whose heartbeat is under 15 s old.", q_workers},
        {"haul_workers_requests_in_flight", "Transfers in flight, as the queue's live workers last reported them.", q_inflight},
    };
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        haul_prom_family(out, qs[k].name, "gauge", qs[k].help);
        for (size_t i = 0; i < v->nqueues; i++) {
            const char *l[] = {"queue", v->queues[i].name, NULL};
            haul_prom_sample_ll(out, qs[k].name, l, qs[k].f(&v->queues[i]));
        }
    }
    static const struct { const char *name, *help; jfield f; } js[] = {
        {"haul_job_keys", "Keys of the job (rows it will write); grows while the job is submitting.", j_keys},
        {"haul_job_keys_done", "Rows the job's collector has written so far (ok or not).", j_done},
        {"haul_job_keys_failed", "Rows written so far whose status is not a success.", j_failed},
        {"haul_job_results_waiting", "Results in the job's stream not yet collected.", j_waiting},
    };
    for (size_t k = 0; k < sizeof js / sizeof js[0]; k++) {
        haul_prom_family(out, js[k].name, "gauge", js[k].help);
        for (size_t i = 0; i < v->njobs; i++) {
            const char *l[] = {"job_id", v->jobs[i].id, NULL};
            haul_prom_sample_ll(out, js[k].name, l, js[k].f(&v->jobs[i]));
        }
    }
    haul_prom_family(out, "haul_job_errors", "gauge",
                     "Rows written so far that are not a success, by status and HTTP code (0: no answer).");
    for (size_t i = 0; i < v->njobs; i++)
        for (int e = 0; e < v->jobs[i].nerrors; e++) {
            const sv_errkind *k = &v->jobs[i].errors[e];
            const char *l[] = {"job_id", v->jobs[i].id, "status", k->status, "code", k->code, NULL};
            haul_prom_sample_ll(out, "haul_job_errors", l, k->n);
        }
    haul_prom_family(out, "haul_job_state", "gauge", "1 for the job's state, 0 for the others.");
    for (size_t i = 0; i < v->njobs; i++) {
        haul_job_state st = haul_job_state_parse(v->jobs[i].state);
        for (int s = HAUL_JOB_SUBMITTING; s <= HAUL_JOB_CANCELLED; s++) {
            const char *l[] = {"job_id", v->jobs[i].id, "state", haul_job_state_str((haul_job_state)s), NULL};
            haul_prom_sample_ll(out, "haul_job_state", l, st == (haul_job_state)s);
        }
    }
    haul_prom_family(out, "haul_jobs_shown", "gauge", "Jobs in this page: the latest ones whose keys have not expired, at most 50.");
    haul_prom_sample_ll(out, "haul_jobs_shown", NULL, (long long)v->njobs);
}

static json_t *str(const char *s) { return json_string(s ? s : ""); }

void expose_json(const sysview *v, haul_buf *out)
{
    json_t *root = json_object(), *qs = json_array(), *ws = json_array(), *js = json_array();
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "now_ms", json_integer(v->now_ms));
    json_object_set_new(root, "redis_up", json_boolean(v->redis_up));
    if (!v->redis_up) json_object_set_new(root, "redis_error", str(v->redis_err));
    for (size_t i = 0; i < v->nqueues; i++) {
        const sv_queue *q = &v->queues[i];
        json_t *o = json_object(), *d = json_array();
        json_object_set_new(o, "name", str(q->name));
        json_object_set_new(o, "tasks", json_integer(q->tasks));
        json_object_set_new(o, "keys", json_integer(q->keys));
        json_object_set_new(o, "keys_exact", json_boolean(q->keys_exact));
        json_object_set_new(o, "dead", json_integer(q->dead));
        for (int j = 0; j < q->ndead_recent; j++) json_array_append_new(d, str(q->dead_recent[j]));
        json_object_set_new(o, "dead_recent", d);
        json_object_set_new(o, "workers", json_integer(q->workers));
        json_object_set_new(o, "inflight", json_integer(q->inflight));
        json_array_append_new(qs, o);
    }
    for (size_t i = 0; i < v->nworkers; i++) {
        const sv_worker *w = &v->workers[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", str(w->id));
        json_object_set_new(o, "host", str(w->host));
        json_object_set_new(o, "queue", str(w->queue));
        json_object_set_new(o, "state", str(w->state));
        json_object_set_new(o, "pid", json_integer(w->pid));
        json_object_set_new(o, "concurrency", json_integer(w->concurrency));
        json_object_set_new(o, "inflight", json_integer(w->inflight));
        json_object_set_new(o, "holding", json_integer(w->holding));
        json_object_set_new(o, "tasks_done", json_integer(w->tasks_done));
        json_object_set_new(o, "keys_done", json_integer(w->keys_done));
        json_object_set_new(o, "retries", json_integer(w->retries));
        json_object_set_new(o, "started_ms", json_integer(w->started_ms));
        json_object_set_new(o, "last_seen_ms", json_integer(w->last_seen_ms));
        json_array_append_new(ws, o);
    }
    for (size_t i = 0; i < v->njobs; i++) {
        const sv_job *j = &v->jobs[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", str(j->id));
        json_object_set_new(o, "state", str(j->state));
        json_object_set_new(o, "op", str(j->op));
        json_object_set_new(o, "store", str(j->store));
        json_object_set_new(o, "bucket", str(j->bucket));
        json_object_set_new(o, "queue", str(j->queue));
        json_object_set_new(o, "keys", json_integer(j->keys));
        json_object_set_new(o, "keys_final", json_boolean(j->final));
        json_object_set_new(o, "distinct", json_integer(j->distinct));
        json_object_set_new(o, "tasks", json_integer(j->tasks));
        json_object_set_new(o, "done", json_integer(j->done));
        json_object_set_new(o, "failed", json_integer(j->failed));
        json_object_set_new(o, "results_waiting", json_integer(j->results_waiting));
        json_object_set_new(o, "created_ms", json_integer(j->created_ms));
        json_object_set_new(o, "finished_ms", json_integer(j->finished_ms));
        if (j->error && *j->error) json_object_set_new(o, "error", str(j->error));
        json_t *ea = json_array();
        for (int e = 0; e < j->nerrors; e++)
            json_array_append_new(ea, json_pack("{s:s,s:s,s:I}", "status", j->errors[e].status, "code",
                                                j->errors[e].code, "count", (json_int_t)j->errors[e].n));
        json_object_set_new(o, "errors", ea);
        json_array_append_new(js, o);
    }
    json_object_set_new(root, "queues", qs);
    json_object_set_new(root, "workers", ws);
    json_object_set_new(root, "jobs", js);
    char *s = json_dumps(root, JSON_COMPACT);
    if (!s) haul_oom();
    haul_buf_adds(out, s);
    haul_buf_addc(out, '\n');
    free(s);
    json_decref(root);
}

/* A string read from Redis, in a line for people (haul_buf_add_shown), padded
 * to width. */
#define SHOWN_MAX 200
static void shown(haul_buf *out, const char *s, int width)
{
    size_t n = haul_buf_add_shown(out, s, SHOWN_MAX);
    for (; (int)n < width; n++) haul_buf_addc(out, ' ');
}

void expose_text(const sysview *v, size_t jobs, haul_buf *out)
{
    haul_buf_adds(out, "queues:\n");
    if (!v->nqueues) haul_buf_adds(out, "  (none yet)\n");
    for (size_t i = 0; i < v->nqueues; i++) {
        const sv_queue *q = &v->queues[i];
        haul_buf_adds(out, "  ");
        shown(out, q->name, 20);
        haul_buf_printf(out, " %lld tasks waiting (%s%lld keys), %lld dead\n", q->tasks,
                        q->keys_exact ? "" : "about ", q->keys, q->dead);
        for (int j = 0; j < q->ndead_recent; j++) {
            haul_buf_adds(out, "    dead: ");
            shown(out, q->dead_recent[j], 0);
            haul_buf_addc(out, '\n');
        }
    }
    haul_buf_printf(out, "workers: %zu alive\n", v->nworkers);
    for (size_t i = 0; i < v->nworkers; i++) {
        const sv_worker *w = &v->workers[i];
        haul_buf_adds(out, "  ");
        shown(out, w->id, 28);
        haul_buf_adds(out, " queue ");
        shown(out, w->queue, 0);
        haul_buf_adds(out, "  ");
        shown(out, w->state, 0);
        haul_buf_printf(out, "  %lld in flight  holding %lld tasks  %lld tasks done  %lld keys done  seen %.1f s ago\n",
                        w->inflight, w->holding, w->tasks_done, w->keys_done,
                        (double)(v->now_ms - w->last_seen_ms) / 1000.0);
    }
    size_t n = v->njobs < jobs ? v->njobs : jobs;
    haul_buf_printf(out, "jobs (latest %zu):\n", n);
    for (size_t i = 0; i < n; i++) {
        const sv_job *j = &v->jobs[i];
        haul_buf_adds(out, "  ");
        shown(out, j->id, 0);
        haul_buf_adds(out, "  ");
        shown(out, j->state, 10);
        haul_buf_addc(out, ' ');
        shown(out, j->op, 0);
        haul_buf_addc(out, ' ');
        shown(out, j->store, 0);
        haul_buf_addc(out, '/');
        shown(out, j->bucket, 0);
        haul_buf_adds(out, "  ");
        shown(out, j->endpoint, 0);
        haul_buf_printf(out, "  %lld keys (%lld distinct) in %lld tasks  %lld results in Redis", j->keys,
                        j->distinct, j->tasks, j->results_waiting);
        if (j->done || j->failed) haul_buf_printf(out, "  %lld rows written, %lld failed", j->done, j->failed);
        if (!j->final) {
            haul_buf_adds(out, "  submitter ");
            shown(out, j->submitter, 0);
        }
        if (*j->error) {
            haul_buf_adds(out, "  error: ");
            shown(out, j->error, 0);
        }
        haul_buf_addc(out, '\n');
    }
}
