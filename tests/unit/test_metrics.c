/* test_metrics.c -- Prometheus's text format (common/prom.c) and the
 * worker's counters rendered in it (worker/metrics.c): exact lines, label
 * escaping, cumulative histogram buckets, bounded HTTP code labels. */
#include "test.h"
#include "../../common/prom.h"
#include "../../worker/metrics.h"

#include <stdlib.h>

/* Whether text holds line as a whole line. */
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

TEST(label_values_are_escaped)
{
    haul_buf b = HAUL_BUF_INIT;
    const char *l[] = {"queue", "a\"b\\c\nd", "job", "", NULL};
    haul_prom_sample_ll(&b, "haul_x", l, 7);
    ASSERT_STREQ(b.p, "haul_x{queue=\"a\\\"b\\\\c\\nd\",job=\"\"} 7\n");
    haul_buf_reset(&b);
    haul_prom_sample(&b, "haul_y", NULL, 0.25);
    haul_prom_sample(&b, "haul_y", NULL, 3);
    haul_prom_sample(&b, "haul_y", NULL, 1.0 / 0.0);
    ASSERT_STREQ(b.p, "haul_y 0.25\nhaul_y 3\nhaul_y +Inf\n");
    haul_buf_reset(&b);
    haul_prom_family(&b, "haul_z_total", "counter", "Two\nlines, a \\ and \"quotes\".");
    ASSERT_STREQ(b.p, "# HELP haul_z_total Two\\nlines, a \\\\ and \"quotes\".\n# TYPE haul_z_total counter\n");
    haul_buf_free(&b);
}

TEST(histogram_buckets_are_cumulative)
{
    haul_buf b = HAUL_BUF_INIT;
    const double bounds[] = {0.1, 1, 10};
    const long long counts[] = {2, 0, 3, 1}; /* per bucket; the last above 10 */
    const char *l[] = {"op", "get", NULL};
    haul_prom_histogram(&b, "haul_h_seconds", l, bounds, 3, counts, 42.5);
    ASSERT_STREQ(b.p,
                 "haul_h_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
                 "haul_h_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
                 "haul_h_seconds_bucket{op=\"get\",le=\"10\"} 5\n"
                 "haul_h_seconds_bucket{op=\"get\",le=\"+Inf\"} 6\n"
                 "haul_h_seconds_sum{op=\"get\"} 42.5\n"
                 "haul_h_seconds_count{op=\"get\"} 6\n");
    haul_buf_free(&b);
}

TEST(http_codes_are_a_bounded_set)
{
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(0)), "0");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(200)), "200");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(404)), "404");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(503)), "503");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(299)), "2xx");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(418)), "4xx");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(599)), "5xx");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(600)), "other");
    ASSERT_STREQ(haul_prom_code_name(haul_prom_code_index(-1)), "other");
    /* Every code from -1000 to 100000 lands on one of the names. */
    for (long c = -1000; c < 100000; c++) {
        int i = haul_prom_code_index(c);
        if (i < 0 || i >= HAUL_PROM_NCODES) FAIL_("code %ld: index %d", c, i);
    }
    for (int i = 0; i < HAUL_PROM_NCODES; i++) ASSERT(haul_prom_code_name(i) != NULL);
}

TEST(worker_counters_render_as_exposed)
{
    wmetrics *m = wmetrics_new();
    haul_buf b = HAUL_BUF_INIT;
    for (int i = 0; i < 3; i++) wmetrics_request(m, HAUL_OP_SIDECAR, HAUL_STORE_S3, 200, 100, 0, 0.004);
    wmetrics_request(m, HAUL_OP_SIDECAR, HAUL_STORE_S3, 404, 50, 0, 0.02);
    wmetrics_request(m, HAUL_OP_PUT, HAUL_STORE_SWIFT, 201, 0, 1 << 20, 2.0);
    wmetrics_request(m, HAUL_OP_PUT, HAUL_STORE_SWIFT, 0, 0, 10, 400.0); /* no answer, past every bound */
    wmetrics_result(m, HAUL_OP_SIDECAR, "ok", 200);
    wmetrics_result(m, HAUL_OP_SIDECAR, "ok", 200);
    wmetrics_result(m, HAUL_OP_SIDECAR, "error", 404);
    wmetrics_result(m, HAUL_OP_DELETE, "missing", 404);
    wmetrics_result(m, HAUL_OP_DELETE, "no-such-status", 418);
    wmetrics_count(m, WM_RETRIES, 2);
    wmetrics_count(m, WM_TASKS_TAKEN, 5);
    wmetrics_gauge(m, WM_IN_FLIGHT, 4);
    wmetrics_gauge(m, WM_RSS_BYTES, 12345678);
    wmetrics_render(m, &b);
    const char *t = b.p;
    ASSERT_LINE(t, "# TYPE haul_worker_requests_total counter");
    ASSERT_LINE(t, "haul_worker_requests_total{op=\"sidecar\",store=\"s3\",code=\"200\"} 3");
    ASSERT_LINE(t, "haul_worker_requests_total{op=\"sidecar\",store=\"s3\",code=\"404\"} 1");
    ASSERT_LINE(t, "haul_worker_requests_total{op=\"put\",store=\"swift\",code=\"201\"} 1");
    ASSERT_LINE(t, "haul_worker_requests_total{op=\"put\",store=\"swift\",code=\"0\"} 1");
    ASSERT_LINE(t, "haul_worker_received_bytes_total{op=\"sidecar\",store=\"s3\"} 350");
    ASSERT_LINE(t, "haul_worker_sent_bytes_total{op=\"put\",store=\"swift\"} 1048586");
    ASSERT_LINE(t, "# TYPE haul_worker_request_duration_seconds histogram");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"sidecar\",store=\"s3\",le=\"0.005\"} 3");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"sidecar\",store=\"s3\",le=\"0.01\"} 3");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"sidecar\",store=\"s3\",le=\"0.025\"} 4");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"sidecar\",store=\"s3\",le=\"+Inf\"} 4");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_count{op=\"sidecar\",store=\"s3\"} 4");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"put\",store=\"swift\",le=\"2.5\"} 1");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"put\",store=\"swift\",le=\"300\"} 1");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_bucket{op=\"put\",store=\"swift\",le=\"+Inf\"} 2");
    ASSERT_LINE(t, "haul_worker_request_duration_seconds_sum{op=\"put\",store=\"swift\"} 402");
    ASSERT_LINE(t, "haul_worker_results_total{op=\"sidecar\",status=\"ok\",code=\"200\"} 2");
    ASSERT_LINE(t, "haul_worker_results_total{op=\"sidecar\",status=\"error\",code=\"404\"} 1");
    ASSERT_LINE(t, "haul_worker_results_total{op=\"delete\",status=\"missing\",code=\"404\"} 1");
    ASSERT_LINE(t, "haul_worker_results_total{op=\"delete\",status=\"other\",code=\"4xx\"} 1");
    ASSERT_LINE(t, "haul_worker_retries_total 2");
    ASSERT_LINE(t, "haul_worker_tasks_taken_total 5");
    ASSERT_LINE(t, "haul_worker_tasks_dead_lettered_total 0");
    ASSERT_LINE(t, "haul_worker_redis_reconnects_total 0");
    ASSERT_LINE(t, "haul_worker_lease_renewals_total 0");
    ASSERT_LINE(t, "haul_worker_requests_in_flight 4");
    ASSERT_LINE(t, "haul_worker_resident_memory_bytes 12345678");
    /* Ops never seen have no series. */
    ASSERT(!strstr(t, "op=\"get\""));
    /* Every line is a comment or a sample "name{...} value" / "name value". */
    for (const char *p = t; *p; ) {
        const char *e = strchr(p, '\n');
        ASSERT(e != NULL);
        if (*p != '#') {
            const char *sp = memchr(p, ' ', (size_t)(e - p));
            ASSERT(sp != NULL && sp + 1 < e);
            char *end;
            strtod(sp + 1, &end);
            if (end != e) FAIL_("not a number after the name: %.*s", (int)(e - p), p);
        }
        p = e + 1;
    }
    haul_buf_free(&b);
    wmetrics_free(m);
}

TEST(a_null_registry_counts_nothing)
{
    haul_buf b = HAUL_BUF_INIT;
    wmetrics_request(NULL, HAUL_OP_GET, HAUL_STORE_S3, 200, 1, 1, 1);
    wmetrics_result(NULL, HAUL_OP_GET, "ok", 200);
    wmetrics_count(NULL, WM_RETRIES, 1);
    wmetrics_gauge(NULL, WM_IN_FLIGHT, 1);
    wmetrics_render(NULL, &b);
    ASSERT_EQ(b.len, 0);
    wmetrics_free(NULL);
}

int main(void)
{
    RUN(label_values_are_escaped);
    RUN(histogram_buckets_are_cumulative);
    RUN(http_codes_are_a_bounded_set);
    RUN(worker_counters_render_as_exposed);
    RUN(a_null_registry_counts_nothing);
    TEST_DONE();
}
