/* queue.h -- haul's Redis protocol: connecting, and the names of every key.
 *
 * The whole key schema is documented in docs/protocol.md; this header is
 * where the code takes the names from, so the two change together.
 *
 *   haul:q:<queue>        list    tasks waiting (RPUSH by the scheduler, taken from the left)
 *   haul:proc:<worker>    list    tasks a worker has taken and not finished (BLMOVE target)
 *   haul:dead:<queue>     list    tasks no worker could decode: "<reason line>\n<task bytes>"
 *   haul:queues           set     names of the queues ever used
 *   haul:job:<job>        hash    the job: op, store, bucket, keys, tasks, state, ...
 *   haul:res:<job>        stream  one entry per key result (readable fields)
 *   haul:jobs             zset    job ids scored by creation time (ms)
 *   haul:worker:<worker>  hash    a live worker: host, pid, started, tasks_done, last_seen (expires)
 *   haul:workers          zset    worker ids scored by last heartbeat (ms)
 *   haul:leases:<queue>   zset    worker ids scored by lease deadline (Redis server time, ms)
 *   haul:cancelled        set     ids of cancelled jobs
 *   haul:lpos:<job>       hash    listing checkpoints: "<task id>#<prefix>" -> "count\tnext"
 */
#ifndef HAUL_QUEUE_H
#define HAUL_QUEUE_H

#include <hiredis/hiredis.h>

#include "buf.h"

#define HAUL_NS "haul:"

typedef struct haul_redis_url {
    char *host;
    int port;
    int db;
    char *user;      /* NULL: no ACL user */
    char *pass;      /* NULL: no AUTH; secret */
    char *display;   /* the URL with the password replaced by "***" */
} haul_redis_url;

/* Parse "redis://[user[:pass]@]host[:port][/db]" (also "host:port"). */
int haul_redis_url_parse(const char *url, haul_redis_url *u, char *err);
void haul_redis_url_free(haul_redis_url *u);

/* Connect, AUTH and SELECT. timeout_s bounds the connect and every later
 * command (hiredis 0.14 has one socket timeout: blocking commands must block
 * for less). NULL with a sentence naming the URL (never the password) in err. */
redisContext *haul_redis_connect(const char *url, double timeout_s, char *err);

/* A connection that mends itself: haul_redis_call() runs a command and, when
 * the connection is lost or Redis is still loading its data after a restart,
 * reconnects with backoff (200 ms doubling to 5 s) and runs it again, for up
 * to wait_ms in all. Only for commands that are safe to repeat. */
typedef struct haul_redis {
    redisContext *c;     /* NULL while disconnected */
    const char *url;     /* not copied */
    double timeout_s;
    long long wait_ms;
    long long reconnects; /* connections made again after one was lost: a
                             caller compares it to notice that Redis may have
                             restarted (and lost its last second of writes) */
} haul_redis;
redisReply *haul_redis_call(haul_redis *r, char *err, const char *fmt, ...);
/* The same with the command as argc strings argv[i] of argl[i] bytes (any
 * bytes: tasks). Not copied. */
redisReply *haul_redis_callv(haul_redis *r, char *err, int argc, const char **argv,
                             const size_t *argl);
/* Whether err (as filled by the calls above) is Redis refusing a write for
 * lack of memory (maxmemory reached with the noeviction policy). */
int haul_redis_oom(const char *err);

/* Run a command; NULL (reply freed) with err filled when the connection
 * failed or Redis answered an error. */
redisReply *haul_redis_cmd(redisContext *c, char *err, const char *fmt, ...);
/* Read one pipelined reply; same contract. */
redisReply *haul_redis_get_reply(redisContext *c, char *err);

/* Read n pipelined replies. An error reply does not stop the reading (the
 * connection stays in step); a broken connection does. 0 when every reply
 * was a success, else -1 with the first error in err. */
int haul_redis_drain(redisContext *c, long long n, char *err);

/* Key names. Each fills out (reset first) and returns its string. */
const char *haul_key_queue(haul_buf *out, const char *queue);
const char *haul_key_proc(haul_buf *out, const char *worker);
const char *haul_key_dead(haul_buf *out, const char *queue);
const char *haul_key_job(haul_buf *out, const char *job);
const char *haul_key_results(haul_buf *out, const char *job);
const char *haul_key_dups(haul_buf *out, const char *job);
const char *haul_key_lpos(haul_buf *out, const char *job);
const char *haul_key_worker(haul_buf *out, const char *worker);
const char *haul_key_leases(haul_buf *out, const char *queue);
#define HAUL_KEY_QUEUES  HAUL_NS "queues"
#define HAUL_KEY_CANCELLED HAUL_NS "cancelled"
#define HAUL_KEY_JOBS    HAUL_NS "jobs"
#define HAUL_KEY_WORKERS HAUL_NS "workers"

/* Leases. A worker holds a lease on its queue, a deadline in Redis' own
 * clock (so hosts' clocks do not matter), renewed with every heartbeat.
 * haul_lease_renew() sets it ttl_ms ahead; *lost is 1 when the worker had no
 * lease (first call, or it lapsed and was reaped: its tasks went back). */
int haul_lease_renew(redisContext *c, const char *queue, const char *worker,
                     long long ttl_ms, int *lost, char *err);
/* The same as a formatted command (redisFormatCommand's; the caller
 * free()s *cmd) for pipelines and the async API: its length. And the reply
 * read: 1 when the worker had no lease (*lost above). */
int haul_lease_cmd(char **cmd, const char *queue, const char *worker, long long ttl_ms);
int haul_lease_reply(const redisReply *r);
/* Drop a worker's lease (on a clean exit, with nothing held). */
int haul_lease_drop(redisContext *c, const char *queue, const char *worker, char *err);

/* The reaper: for every worker whose lease on queue lapsed, move the tasks
 * in its processing list back to the head of the queue, in order, each with
 * its attempt count bumped in place -- or, once a task has been delivered
 * max_deliveries times to workers that all died, to the dead-letter list
 * (the poison-pill cap). One Lua script: atomic, so any number of workers and
 * schedulers may run it at once; a lease renewed meanwhile is left alone.
 * Fills the counts; 0, or -1 with err. */
int haul_reap(redisContext *c, const char *queue, long long max_deliveries,
              long long *requeued, long long *dead, long long *workers, char *err);

/* The reaper as a formatted command, and its reply read. */
int haul_reap_cmd(char **cmd, const char *queue, long long max_deliveries);
void haul_reap_reply(const redisReply *r, long long *requeued, long long *dead, long long *workers);

/* What is in flight on a queue, counted in one Lua script so nothing moves
 * between the counts: the tasks waiting in haul:q:<queue>, and those held in
 * the processing list of every worker with a lease on the queue (a dead
 * worker's tasks stay there, and its lease entry stays, until a reaper puts
 * them back). `job` (NULL: none) also counts, among those, the tasks whose
 * bytes hold "<job>:" (the task id's prefix) -- unless more than
 * HAUL_INFLIGHT_SCAN_MAX tasks are in flight, when that scan would block
 * Redis too long and job_tasks is -1 (unknown: assume some are the job's).
 * Live workers are those whose lease deadline is still ahead by Redis' clock.
 * A task is in exactly one of the lists (LMOVE, MULTI/EXEC and the reaper
 * move it atomically), so a job with no task counted and no result for some
 * key has lost the task: it is in no list, held by no worker. */
#define HAUL_INFLIGHT_SCAN_MAX 20000
typedef struct haul_inflight {
    long long queued;      /* tasks in haul:q:<queue> */
    long long held;        /* tasks in the leased workers' processing lists */
    long long job_tasks;   /* of those, the job's; -1 when not counted */
    long long leases;      /* workers with a lease entry on the queue */
    long long live;        /* ... whose deadline has not passed */
} haul_inflight;
int haul_queue_inflight(redisContext *c, const char *queue, const char *job,
                        haul_inflight *out, char *err);

/* Dead letters start..start+count-1 of queue, each cut to its first maxbytes
 * bytes (the reason line and the task's head, where its id, job and keys
 * are: enough to attribute it, never a 16 MiB task per entry). The reply is
 * an array {length of the list, {entry, ...}}; NULL with err. */
redisReply *haul_dead_range(redisContext *c, const char *queue, long long start,
                            long long count, long long maxbytes, char *err);

/* Move every dead letter of queue back to it (the reason line stripped, the
 * attempt count reset), atomically; *n gets how many. */
int haul_requeue_dead(redisContext *c, const char *queue, long long *n, char *err);

/* Milliseconds since the Unix epoch / a monotonic clock. */
long long haul_now_ms(void);
long long haul_mono_ms(void);

#endif
