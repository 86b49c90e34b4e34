/* test_expose.c -- `serve`'s view rendered (scheduler/expose.c): exact
 * Prometheus lines for queues and jobs, bounded labels (no bucket, no worker
 * id in the metrics), the JSON the dashboard reads, a Redis that failed, and
 * the text `haul-scheduler status` prints. */
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
    j->endpoint = "s3 http://store:8080 region us-east-1";
    j->submitter = "";
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

TEST(text_is_what_status_prints)
{
    sysview v; sv_queue q; sv_worker w; sv_job j, js[12];
    sample(&v, &q, &w, &j);
    haul_buf b = HAUL_BUF_INIT;
    expose_text(&v, 10, &b);
    const char *t = b.p;
    ASSERT_LINE(t, "queues:");
    ASSERT_LINE(t, "  default              3 tasks waiting (48 keys), 1 dead");
    ASSERT_LINE(t, "    dead: task 20260101-000000-deadbeef:4 is not msgpack");
    ASSERT_LINE(t, "workers: 1 alive");
    ASSERT_LINE(t, "  host-a:1234                  queue default  running  9 in flight  holding 0 tasks  "
                   "0 tasks done  400 keys done  seen 1.5 s ago");
    ASSERT_LINE(t, "jobs (latest 1):");
    ASSERT_LINE(t, "  20260101-000000-0badf00d  running    sidecar s3/LSST-IR-FUSION-testfromopenstack  "
                   "s3 http://store:8080 region us-east-1  800 keys (80 distinct) in 0 tasks  "
                   "12 results in Redis  640 rows written, 3 failed");
    haul_buf_free(&b);

    /* Still submitting: who submits, and an estimate beyond the scanned tasks;
     * at most the asked number of jobs; an empty system says so. */
    j.final = 0;
    j.submitter = "host-b:77";
    j.done = j.failed = 0;
    j.error = "Redis went away";
    q.keys_exact = 0;
    for (int i = 0; i < 12; i++) js[i] = j;
    v.jobs = js; v.njobs = 12;
    expose_text(&v, 10, &b);
    t = b.p;
    ASSERT_LINE(t, "  default              3 tasks waiting (about 48 keys), 1 dead");
    ASSERT_LINE(t, "jobs (latest 10):");
    ASSERT_LINE(t, "  20260101-000000-0badf00d  running    sidecar s3/LSST-IR-FUSION-testfromopenstack  "
                   "s3 http://store:8080 region us-east-1  800 keys (80 distinct) in 0 tasks  "
                   "12 results in Redis  submitter host-b:77  error: Redis went away");
    size_t n = 0;
    for (const char *p = t; (p = strstr(p, "\n  20260101-")); p++) n++;
    ASSERT_EQ(n, 10);
    haul_buf_free(&b);
    /* What Redis holds is shown, not obeyed: control bytes (a terminal's
     * escape sequences, a line break) come out as \xNN, and a long name is cut. */
    q.dead_recent[0] = "key \x1b[31mred\x1b[0m\rgone";
    w.id = "host-c:1\nforged line";
    char longq[600];
    memset(longq, 'Q', sizeof longq - 1);
    longq[sizeof longq - 1] = '\0';
    w.queue = longq;
    v.njobs = 0;
    expose_text(&v, 10, &b);
    t = b.p;
    ASSERT(!strchr(t, '\x1b') && !strchr(t, '\r'));
    ASSERT_LINE(t, "    dead: key \\x1b[31mred\\x1b[0m\\x0dgone");
    ASSERT(strstr(t, "\n  host-c:1\\x0aforged line") != NULL);
    ASSERT(strstr(t, "queue QQQQ") && !strstr(t, longq) && strstr(t, "Q...  running"));
    haul_buf_free(&b);
    v.nqueues = v.nworkers = v.njobs = 0;
    expose_text(&v, 10, &b);
    ASSERT_LINE(b.p, "  (none yet)");
    ASSERT_LINE(b.p, "workers: 0 alive");
    ASSERT_LINE(b.p, "jobs (latest 0):");
    haul_buf_free(&b);
}

int main(void)
{
    RUN(metrics_show_queues_and_jobs);
    RUN(a_failed_redis_is_one_gauge);
    RUN(json_has_what_the_dashboard_reads);
    RUN(text_is_what_status_prints);
    TEST_DONE();
}
