/* metrics.c -- the worker's counters and their text (metrics.h). */
#include "metrics.h"

#include <stdlib.h>

#include "prom.h"

#define NOPS (HAUL_OP_VERIFY + 1)
#define NSTORES 3

#define NSTATUS HAUL_PROM_NSTATUS

static const double bounds[WM_NBUCKETS] = WM_LATENCY_BUCKETS;

struct wmetrics {
    long long requests[NOPS][NSTORES][HAUL_PROM_NCODES];
    long long bytes_in[NOPS][NSTORES], bytes_out[NOPS][NSTORES];
    long long latency[NOPS][NSTORES][WM_NBUCKETS + 1];
    double latency_sum[NOPS][NSTORES];
    long long results[NOPS][NSTATUS][HAUL_PROM_NCODES];
    long long counters[WM_NCOUNTERS];
    double gauges[WM_NGAUGES];
};

static const struct { const char *name, *help; } counter_info[WM_NCOUNTERS] = {
    [WM_RETRIES] = {"haul_worker_retries_total",
                    "Attempts of a key that failed transiently (connection, timeout, 429, 5xx) and were tried again."},
    [WM_TASKS_TAKEN] = {"haul_worker_tasks_taken_total", "Tasks taken from the queue."},
    [WM_TASKS_STORED] = {"haul_worker_tasks_stored_total", "Tasks whose results were written to Redis."},
    [WM_TASKS_DEAD] = {"haul_worker_tasks_dead_lettered_total",
                       "Tasks this worker moved to the dead-letter list (undecodable, expired, wrong queue, delivery cap)."},
    [WM_REDIS_RECONNECTS] = {"haul_worker_redis_reconnects_total",
                             "Redis connections made again after one was lost."},
    [WM_LEASE_RENEWALS] = {"haul_worker_lease_renewals_total", "Lease renewals Redis answered."},
};

static const struct { const char *name, *help; } gauge_info[WM_NGAUGES] = {
    [WM_IN_FLIGHT] = {"haul_worker_requests_in_flight", "HTTP transfers running now."},
    [WM_TASKS_HELD] = {"haul_worker_tasks_held", "Tasks taken and not yet stored."},
    [WM_RSS_BYTES] = {"haul_worker_resident_memory_bytes", "Resident memory of the worker process."},
};

static int op_index(haul_op op) { return (int)op >= 0 && (int)op < NOPS ? (int)op : 0; }
static int store_index(haul_store_kind k) { return (int)k >= 0 && (int)k < NSTORES ? (int)k : 0; }
static const char *store_name(int i) { return i == HAUL_STORE_S3 ? "s3" : i == HAUL_STORE_SWIFT ? "swift" : "none"; }

wmetrics *wmetrics_new(void)
{
    return haul_calloc(1, sizeof(wmetrics));
}

void wmetrics_free(wmetrics *m)
{
    free(m);
}

void wmetrics_request(wmetrics *m, haul_op op, haul_store_kind store, long http,
                      long long bytes_in, long long bytes_out, double seconds)
{
    if (!m) return;
    int o = op_index(op), s = store_index(store);
    m->requests[o][s][haul_prom_code_index(http)]++;
    if (bytes_in > 0) m->bytes_in[o][s] += bytes_in;
    if (bytes_out > 0) m->bytes_out[o][s] += bytes_out;
    if (seconds < 0) seconds = 0;
    int b = 0;
    while (b < WM_NBUCKETS && seconds > bounds[b]) b++;
    m->latency[o][s][b]++;
    m->latency_sum[o][s] += seconds;
}

void wmetrics_result(wmetrics *m, haul_op op, const char *status, long http)
{
    if (!m) return;
    m->results[op_index(op)][haul_prom_status_index(status)][haul_prom_code_index(http)]++;
}

void wmetrics_count(wmetrics *m, wm_counter c, long long n)
{
    if (m && (int)c >= 0 && c < WM_NCOUNTERS) m->counters[c] += n;
}

void wmetrics_gauge(wmetrics *m, wm_gauge g, double v)
{
    if (m && (int)g >= 0 && g < WM_NGAUGES) m->gauges[g] = v;
}

static long long sum_codes(const long long *a)
{
    long long n = 0;
    for (int c = 0; c < HAUL_PROM_NCODES; c++) n += a[c];
    return n;
}

void wmetrics_render(const wmetrics *m, haul_buf *out)
{
    if (!m) return;
    haul_prom_family(out, "haul_worker_requests_total", "counter",
                     "HTTP requests to the store that ended, by op, store and HTTP status (code 0: no answer).");
    for (int o = 0; o < NOPS; o++)
        for (int s = 0; s < NSTORES; s++)
            for (int c = 0; c < HAUL_PROM_NCODES; c++) {
                if (!m->requests[o][s][c]) continue;
                const char *l[] = {"op", haul_op_str((haul_op)o), "store", store_name(s),
                                   "code", haul_prom_code_name(c), NULL};
                haul_prom_sample_ll(out, "haul_worker_requests_total", l, m->requests[o][s][c]);
            }
    static const struct { const char *name, *help; } bytes_info[2] = {
        {"haul_worker_received_bytes_total", "Body bytes received from the store, by op and store."},
        {"haul_worker_sent_bytes_total", "Body bytes sent to the store, by op and store."},
    };
    for (int k = 0; k < 2; k++) {
        haul_prom_family(out, bytes_info[k].name, "counter", bytes_info[k].help);
        for (int o = 0; o < NOPS; o++)
            for (int s = 0; s < NSTORES; s++) {
                if (!sum_codes(m->requests[o][s])) continue;
                const char *l[] = {"op", haul_op_str((haul_op)o), "store", store_name(s), NULL};
                haul_prom_sample_ll(out, bytes_info[k].name, l, k ? m->bytes_out[o][s] : m->bytes_in[o][s]);
            }
    }
    haul_prom_family(out, "haul_worker_request_duration_seconds", "histogram",
                     "Time from a request's start to its last byte, by op and store.");
    for (int o = 0; o < NOPS; o++)
        for (int s = 0; s < NSTORES; s++) {
            if (!sum_codes(m->requests[o][s])) continue;
            const char *l[] = {"op", haul_op_str((haul_op)o), "store", store_name(s), NULL};
            haul_prom_histogram(out, "haul_worker_request_duration_seconds", l, bounds, WM_NBUCKETS,
                                m->latency[o][s], m->latency_sum[o][s]);
        }
    haul_prom_family(out, "haul_worker_results_total", "counter",
                     "Keys whose result is final (written to the job's stream), by op, status and last HTTP status.");
    for (int o = 0; o < NOPS; o++)
        for (int st = 0; st < NSTATUS; st++)
            for (int c = 0; c < HAUL_PROM_NCODES; c++) {
                if (!m->results[o][st][c]) continue;
                const char *l[] = {"op", haul_op_str((haul_op)o), "status", haul_prom_status_name(st),
                                   "code", haul_prom_code_name(c), NULL};
                haul_prom_sample_ll(out, "haul_worker_results_total", l, m->results[o][st][c]);
            }
    for (int c = 0; c < WM_NCOUNTERS; c++) {
        haul_prom_family(out, counter_info[c].name, "counter", counter_info[c].help);
        haul_prom_sample_ll(out, counter_info[c].name, NULL, m->counters[c]);
    }
    for (int g = 0; g < WM_NGAUGES; g++) {
        haul_prom_family(out, gauge_info[g].name, "gauge", gauge_info[g].help);
        haul_prom_sample(out, gauge_info[g].name, NULL, m->gauges[g]);
    }
}
