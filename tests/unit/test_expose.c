/* test_expose.c -- `serve`'s view rendered (scheduler/expose.c): exact
 * Prometheus lines for queues and jobs, bounded labels (no bucket, no worker
 * id in the metrics), the JSON the dashboard reads, and a Redis that failed. */
#include "test.h"
#include "../../scheduler/expose.h"

#include <jansson.h>
#include <stdlib.h>

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

#define ASSERT_LINE(text, line) do {                                      \
        if (!has_line((text), (line))) FAIL_("no line \"%s\" in:\n%s", (line), (text)); \
    } while (0)

static void sample(sysview *v, sv_queue *q, sv_worker *w, sv_job *j)
{
    memset(v, 0, sizeof *v);
    memset(q, 0, sizeof *q);
    memset(w, 0, sizeof *w);
    memset(j, 0, sizeof *j);
    v->now_ms = 1700000000000LL;
    v->redis_up = 1;
    q->name = "default";
    q->tasks = 3;
    q->keys = 48;
    q->keys_exact = 1;
    q->dead = 1;
    q->dead_recent[0] = "task 20260101-000000-deadbeef:4 is not msgpack";
    q->ndead_recent = 1;
    q->workers = 2;
    q->inflight = 17;
    w->id = "host-a:1234";
    w->host = "host-a";
    w->queue = "default";
    w->state = "running";
    w->keys_done = 400;
    w->inflight = 9;
    w->last_seen_ms = v->now_ms - 1500;
    j->id = "20260101-000000-0badf00d";
    j->state = "running";
    j->op = "sidecar";
    j->store = "s3";
    j->bucket = "LSST-IR-FUSION-testfromopenstack";
    j->queue = "default";
    j->error = "";
    j->keys = 800;
    j->distinct = 80;
    j->done = 640;
    j->failed = 3;
    j->final = 1;
    j->results_waiting = 12;
    snprintf(j->errors[0].status, sizeof j->errors[0].status, "error");
    snprintf(j->errors[0].code, sizeof j->errors[0].code, "404");
    j->errors[0].n = 3;
    j->nerrors = 1;
    v->queues = q; v->nqueues = 1;
    v->workers = w; v->nworkers = 1;
    v->jobs = j; v->njobs = 1;
}

TEST(metrics_show_queues_and_jobs)
{
    sysview v; sv_queue q; sv_worker w; sv_job j;
    sample(&v, &q, &w, &j);
    haul_buf b = HAUL_BUF_INIT;
    expose_metrics(&v, &b);
    const char *t = b.p;
    ASSERT_LINE(t, "haul_redis_up 1");
    ASSERT_LINE(t, "# TYPE haul_queue_tasks gauge");
    ASSERT_LINE(t, "haul_queue_tasks{queue=\"default\"} 3");
    ASSERT_LINE(t, "haul_queue_keys{queue=\"default\"} 48");
    ASSERT_LINE(t, "haul_queue_dead_letters{queue=\"default\"} 1");
    ASSERT_LINE(t, "haul_workers_live{queue=\"default\"} 2");
    ASSERT_LINE(t, "haul_workers_requests_in_flight{queue=\"default\"} 17");
    ASSERT_LINE(t, "haul_job_keys{job_id=\"20260101-000000-0badf00d\"} 800");
    ASSERT_LINE(t, "haul_job_keys_done{job_id=\"20260101-000000-0badf00d\"} 640");
    ASSERT_LINE(t, "haul_job_keys_failed{job_id=\"20260101-000000-0badf00d\"} 3");
    ASSERT_LINE(t, "haul_job_results_waiting{job_id=\"20260101-000000-0badf00d\"} 12");
    ASSERT_LINE(t, "haul_job_errors{job_id=\"20260101-000000-0badf00d\",status=\"error\",code=\"404\"} 3");
    ASSERT_LINE(t, "haul_job_state{job_id=\"20260101-000000-0badf00d\",state=\"running\"} 1");
    ASSERT_LINE(t, "haul_job_state{job_id=\"20260101-000000-0badf00d\",state=\"done\"} 0");
    ASSERT_LINE(t, "haul_jobs_shown 1");
    /* Bounded labels: neither the bucket nor the worker's id is a label. */
    ASSERT(!strstr(t, "LSST"));
    ASSERT(!strstr(t, "host-a"));
    haul_buf_free(&b);
}

TEST(a_failed_redis_is_one_gauge)
{
    sysview v; sv_queue q; sv_worker w; sv_job j;
    sample(&v, &q, &w, &j);
    v.redis_up = 0;
    snprintf(v.redis_err, sizeof v.redis_err, "Redis at 127.0.0.1:6379: Connection refused");
    haul_buf b = HAUL_BUF_INIT;
    expose_metrics(&v, &b);
    ASSERT_LINE(b.p, "haul_redis_up 0");
    ASSERT(!strstr(b.p, "haul_queue_tasks{"));
    haul_buf_reset(&b);
    expose_json(&v, &b);
    json_error_t je;
    json_t *o = json_loads(b.p, 0, &je);
    ASSERT(o != NULL);
    ASSERT(json_is_false(json_object_get(o, "redis_up")));
    ASSERT_STREQ(json_string_value(json_object_get(o, "redis_error")), v.redis_err);
    json_decref(o);
    haul_buf_free(&b);
}

TEST(json_has_what_the_dashboard_reads)
{
    sysview v; sv_queue q; sv_worker w; sv_job j;
    sample(&v, &q, &w, &j);
    j.error = "a \"quoted\"\nsentence";
    haul_buf b = HAUL_BUF_INIT;
    expose_json(&v, &b);
    json_error_t je;
    json_t *o = json_loads(b.p, 0, &je);
    if (!o) FAIL_("not JSON (%s): %s", je.text, b.p);
    ASSERT_EQ(json_integer_value(json_object_get(o, "version")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(o, "now_ms")), 1700000000000LL);
    json_t *jq = json_array_get(json_object_get(o, "queues"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(jq, "name")), "default");
    ASSERT_EQ(json_integer_value(json_object_get(jq, "keys")), 48);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(jq, "dead_recent"), 0)), q.dead_recent[0]);
    json_t *jw = json_array_get(json_object_get(o, "workers"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(jw, "id")), "host-a:1234");
    ASSERT_EQ(json_integer_value(json_object_get(jw, "keys_done")), 400);
    ASSERT_EQ(json_integer_value(json_object_get(jw, "last_seen_ms")), 1700000000000LL - 1500);
    json_t *jj = json_array_get(json_object_get(o, "jobs"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(jj, "state")), "running");
    ASSERT_EQ(json_integer_value(json_object_get(jj, "keys")), 800);
    ASSERT_EQ(json_integer_value(json_object_get(jj, "done")), 640);
    ASSERT(json_is_true(json_object_get(jj, "keys_final")));
    ASSERT_STREQ(json_string_value(json_object_get(jj, "error")), "a \"quoted\"\nsentence");
    json_t *je0 = json_array_get(json_object_get(jj, "errors"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(je0, "code")), "404");
    ASSERT_EQ(json_integer_value(json_object_get(je0, "count")), 3);
    json_decref(o);
    haul_buf_free(&b);
}

int main(void)
{
    RUN(metrics_show_queues_and_jobs);
    RUN(a_failed_redis_is_one_gauge);
    RUN(json_has_what_the_dashboard_reads);
    TEST_DONE();
}
