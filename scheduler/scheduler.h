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
    char *key_file;
} sched_cfg;

/* submit.c: the connection state from the configuration (flags, then
 * environment); -1 with a sentence naming what is missing. */
int haul_conn_from_cfg(const sched_cfg *c, haul_conn *conn, char *err);
/* submit.c: make the job and queue its tasks; the job id in *job (malloc). */
int haul_submit(const sched_cfg *cfg, redisContext *rc, char **job);
/* collect.c: read the job's results and write them out; an exit status. */
int haul_collect(const sched_cfg *cfg, haul_redis *rc, const char *job, long long t0_ms);

#endif
