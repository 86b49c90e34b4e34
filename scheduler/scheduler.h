/* scheduler.h -- what the scheduler's subcommands share. */
#ifndef HAUL_SCHEDULER_H
#define HAUL_SCHEDULER_H

#include <hiredis/hiredis.h>

#include "conn.h"
#include "queue.h"
#include "task.h"

/* Exit statuses: every key ok / some keys failed / usage or infrastructure. */
enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2 };

typedef struct sched_cfg {
    char *redis, *queue;
    char *store, *s3, *endpoint, *region, *access_key, *secret_key, *session_token;
    int swift, virtual_host, tls_verify, check, progress, coalesce;
    char *auth_url, *user, *key, *token, *storage_url, *ca_file;
    char *bucket, *prefix, *keys, *op, *out_dir, *suffixes, *sidecar_ext;
    char *out, *format, *log_level;
    long long batch, repeat, max_inline, limit, max_attempts, max_deliveries, retention, task_ttl;
    long long max_queued, job_ttl;
    int keep_results;
    char *key_file;
    /* the write ops (put, delete, verify) */
    char *from_dir, *meta, *manifest; /* meta: NAME=VALUE lines */
    long long segment_size;
    long long collate, collate_below; /* put --collate SIZE: files below collate_below in zips */
    int skip_existing, dry_run, deep, yes;
    int ignore_checksum;              /* get, sidecar: no MD5 of the bodies */
    char *listen;                     /* serve: ADDR:PORT */
    long long progress_interval;      /* run, collect: seconds between progress lines
                                         when stderr is not a terminal */
} sched_cfg;

/* Delete jobs of more keys than this need --yes (or --dry-run). */
#define HAUL_DELETE_UNASKED 1000

/* submit.c: whether the options make sense together for op (--from-dir only
 * with put, put from a directory or a keys file, ...). No I/O. 0, or -1 with
 * one sentence naming the options. */
int haul_submit_check_opts(const sched_cfg *c, haul_op op, char *err);
/* submit.c: --meta's NAME=VALUE lines (NULL: none) into the task's meta
 * array (name, value, ...; appended, the caller frees), checked by the
 * encoder's rule. 0, or -1 with a sentence naming the option. */
int haul_submit_meta(const char *lines, char ***meta, size_t *n, char *err);

/* submit.c: the connection state from the configuration (flags, then
 * environment); -1 with a sentence naming what is missing. */
int haul_conn_from_cfg(const sched_cfg *c, haul_conn *conn, char *err);
/* submit.c: submission, a producer its caller drives (see submit.c).
 * haul_submit_start() checks the options, the bucket name and the
 * credentials, and makes the job (hash, results stream, expiry) without
 * queueing anything or printing anything; NULL with a sentence in err.
 * cfg and r are not copied: both must outlive the submission. */
typedef struct haul_submission haul_submission;
haul_submission *haul_submit_start(const sched_cfg *cfg, haul_redis *r, char *err);
/* Queue tasks while the queue holds fewer than --max-queued, for about
 * 50 ms at most. answered: the slots a collector in this process has
 * answered (-1: none here), which also bounds what is queued. publish_now:
 * a collector waits for rows to be described. Returns one of: */
enum {
    HAUL_SUBMIT_FAILED = -1, /* err says why; the job is marked failed (or was cancelled) */
    HAUL_SUBMIT_FULL = 0,    /* the window is full (or Redis refuses writes): call again later */
    HAUL_SUBMIT_MORE = 1,    /* out of time with room left: call again at once */
    HAUL_SUBMIT_DONE = 2     /* every task is queued; the job is `queued` (a caller
                                that goes on calling lets the submission write its
                                last seconds again should Redis restart) */
};
int haul_submit_step(haul_submission *s, long long answered, int publish_now, char *err);
const char *haul_submit_job(const haul_submission *s);
int haul_submit_done(const haul_submission *s);
/* 1 when the job hash was updated since the last call (then 0 until it is again). */
int haul_submit_published(haul_submission *s);
/* Why the last step queued nothing although there was room (Redis out of
 * memory), or NULL. */
const char *haul_submit_waiting(const haul_submission *s);
void haul_submit_free(haul_submission *s); /* NULL ok */

/* serve.c: `serve --listen ADDR:PORT`: /metrics, /api/status.json and the
 * dashboard, read from Redis on hr; until SIGINT or SIGTERM. An exit status. */
int haul_serve(const char *listen, haul_redis *hr);

/* collect.c: read the job's results and write them out; an exit status.
 * sub: the job's submission when it runs in this process (`run`), driven
 * by the collector's loop; NULL for `collect JOB`. */
int haul_collect(const sched_cfg *cfg, haul_redis *rc, const char *job, long long t0_ms,
                 haul_submission *sub);

#endif
