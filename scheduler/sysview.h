/* sysview.h -- the system as Redis shows it, read at one moment: queues,
 * live workers, recent jobs. `serve` reads one per request and renders it
 * (expose.h) as Prometheus metrics or as the status JSON its dashboard polls.
 *
 * What is read is bounded, so a scrape costs the same at any scale of job:
 * at most SV_MAX_JOBS jobs (the latest in haul:jobs whose hash still exists:
 * a job's keys expire, --job-ttl / --retention, so ids come and go), at
 * most SV_MAX_WORKERS live workers, and the keys of at most
 * SV_MAX_SCAN_TASKS tasks per queue (beyond them the rest are estimated
 * from the average of those read, and keys_exact is 0). Nothing read here
 * is a secret: task bodies are decoded only as far as their keys' count,
 * and never kept. */
#ifndef HAUL_SYSVIEW_H
#define HAUL_SYSVIEW_H

#include "queue.h"

#define SV_MAX_JOBS 50
#define SV_MAX_WORKERS 1000
#define SV_MAX_SCAN_TASKS 10000
#define SV_DEAD_RECENT 3
#define SV_ALIVE_MS 15000     /* a worker seen this recently is alive (docs/protocol.md) */

typedef struct sv_queue {
    char *name;
    long long tasks;          /* LLEN haul:q:<queue> */
    long long keys;           /* keys those tasks hold */
    int keys_exact;           /* 0: estimated past SV_MAX_SCAN_TASKS */
    long long dead;           /* LLEN haul:dead:<queue> */
    char *dead_recent[SV_DEAD_RECENT]; /* the latest dead letters' reasons (first line, cut) */
    int ndead_recent;
    long long workers, inflight; /* live workers on it, their transfers */
} sv_queue;

typedef struct sv_worker {
    char *id, *host, *queue, *state;
    long long pid, concurrency, inflight, tasks_done, keys_done, retries, started_ms, last_seen_ms;
    long long holding;        /* LLEN haul:proc:<worker> */
} sv_worker;

#define SV_MAX_ERRKINDS 32

typedef struct sv_errkind {   /* rows not ok of one status and HTTP code */
    char status[16], code[8];
    long long n;
} sv_errkind;

typedef struct sv_job {
    char *id, *state, *op, *store, *bucket, *queue, *error;
    char *endpoint, *submitter; /* the store's URL (no credential); who submits, while submitting */
    long long keys, distinct, tasks, done, failed, created_ms, finished_ms;
    long long results_waiting; /* XLEN haul:res:<job>: results not yet collected */
    int final;                /* keys is the job's total (no longer submitting) */
    sv_errkind errors[SV_MAX_ERRKINDS]; /* the collector's `errors_by` */
    int nerrors;
} sv_job;

typedef struct sysview {
    long long now_ms;
    int redis_up;
    char redis_err[HAUL_ERR_LEN];
    sv_queue *queues;
    size_t nqueues;
    sv_worker *workers;
    size_t nworkers;
    sv_job *jobs;
    size_t njobs;
} sysview;

/* Read everything from r (which may reconnect). Always fills v: when Redis
 * fails, redis_up is 0 with the reason, and what was read before stays. */
void sysview_read(haul_redis *r, sysview *v);
void sysview_free(sysview *v);

#endif
