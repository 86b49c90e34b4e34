/* metrics.h -- the worker's counters, and their text for Prometheus.
 *
 * One job: count, and render. The loop (main.c), the Redis side (broker.c)
 * and the transfers (ops.c) call in here where things happen; main.c serves
 * the text on --metrics-listen. No I/O, no lock: everything runs on the
 * worker's one thread. Every function accepts a NULL wmetrics and does
 * nothing (metrics off), so callers need not ask.
 *
 * Labels come from bounded sets only: op (haul_op_str), store ("s3",
 * "swift"), a result's status (ok, error, skipped, ...), and the HTTP
 * status as the common codes or their class (prom.h); never a key, a bucket,
 * a job or a worker id (Prometheus's own `instance` label tells workers
 * apart). */
#ifndef HAUL_WMETRICS_H
#define HAUL_WMETRICS_H

#include "buf.h"
#include "conn.h"
#include "task.h"

typedef struct wmetrics wmetrics;

/* Plain counters, each a haul_worker_<name>_total. */
typedef enum wm_counter {
    WM_RETRIES,          /* a key's attempt failed transiently and is tried again */
    WM_TASKS_TAKEN,      /* tasks taken from the queue */
    WM_TASKS_STORED,     /* tasks whose results were written to Redis */
    WM_TASKS_DEAD,       /* tasks this worker moved to the dead-letter list */
    WM_REDIS_RECONNECTS, /* Redis connections made again after one was lost */
    WM_LEASE_RENEWALS,   /* lease renewals Redis answered */
    WM_NCOUNTERS
} wm_counter;

/* Gauges, set before rendering. */
typedef enum wm_gauge {
    WM_IN_FLIGHT,        /* transfers running */
    WM_TASKS_HELD,       /* tasks taken and not yet stored */
    WM_RSS_BYTES,        /* resident memory */
    WM_NGAUGES
} wm_gauge;

/* The histogram's upper bounds, in seconds. */
#define WM_LATENCY_BUCKETS {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
#define WM_NBUCKETS 14

wmetrics *wmetrics_new(void);
void wmetrics_free(wmetrics *m); /* NULL ok */

/* One HTTP request ended (any: a key's own, a Swift auth, a part, a
 * manifest): its op and store, the status (0: no answer), the body bytes
 * received and sent, and how long it took. */
void wmetrics_request(wmetrics *m, haul_op op, haul_store_kind store, long http,
                      long long bytes_in, long long bytes_out, double seconds);
/* A key's result is final (not tried again): status as written to the
 * stream ("ok", "error", "missing", ...), its last HTTP status. */
void wmetrics_result(wmetrics *m, haul_op op, const char *status, long http);
void wmetrics_count(wmetrics *m, wm_counter c, long long n);
void wmetrics_gauge(wmetrics *m, wm_gauge g, double v);

/* Append the text exposition of everything counted to out. Series that
 * were never counted (an op never seen) are left out; the plain counters
 * and gauges are always there. */
void wmetrics_render(const wmetrics *m, haul_buf *out);

#endif
