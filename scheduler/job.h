/* job.h -- a job as the scheduler keeps it in Redis: its states, the keys it
 * owns and how long they live, and the small rules the submitter and the
 * collector share.
 *
 * A job owns four keys: haul:job:<job> (its hash), haul:res:<job> (results),
 * haul:dup:<job> (duplicate runs) and haul:lpos:<job> (listing checkpoints,
 * written by workers). Each gets an expiry the moment it is made (--job-ttl,
 * 7 days), refreshed by the submitter and the collector while they run; a job
 * that ends (collected, failed, cancelled) keeps them --retention longer. So
 * no job -- uncollected, abandoned, or whose scheduler was killed -- stays in
 * Redis for ever. */
#ifndef HAUL_JOB_H
#define HAUL_JOB_H

#include <stddef.h>

#include "queue.h"

/* A job's life, named once. The job hash's `state` holds the _str() form;
 * Lua scripts that test it get the string from here as an argument. */
typedef enum haul_job_state {
    HAUL_JOB_UNKNOWN = 0,   /* not a state: a missing or unrecognised string */
    HAUL_JOB_SUBMITTING,    /* the submitter is still queueing tasks (a window
                               at a time); `rows` says how many rows it has
                               described, `submitter_seen` that it is alive */
    HAUL_JOB_QUEUED,        /* every task queued; no collector has started */
    HAUL_JOB_RUNNING,       /* every task queued, and a collector is writing rows */
    HAUL_JOB_DONE,          /* collected: every row written (`ok`, `errors`) */
    HAUL_JOB_FAILED,        /* will not complete: submission failed, or the
                               collector found keys no task will answer;
                               `error` says why */
    HAUL_JOB_CANCELLED      /* haul-scheduler cancel: workers drop its tasks */
} haul_job_state;

const char *haul_job_state_str(haul_job_state s);   /* "submitting", ...; "unknown" */
haul_job_state haul_job_state_parse(const char *s); /* UNKNOWN for NULL or a stranger */

/* The slots task number n of a job holds: every task but the last is full,
 * so [n*batch, min((n+1)*batch, distinct)); distinct < 0 when not yet known
 * (the submitter is still at work, so task n is full). *lo = *hi when the
 * task can hold none (n < 0, or past the job's slots). */
void haul_task_slots(long long n, long long batch, long long distinct, long long *lo,
                     long long *hi);

/* The smallest stream entry id after id ("<ms>-<seq>"), into out: what
 * XTRIM ... MINID takes to remove id and everything before it. 0, or -1 when
 * id is not an entry id. */
int haul_stream_id_after(const char *id, char *out, size_t outlen);

/* Entries per XREAD: as many as keep one reply under HAUL_XREAD_BYTES when
 * every entry holds a value of max_inline bytes, between 1 and
 * HAUL_XREAD_MAX_COUNT. */
#define HAUL_XREAD_BYTES (64LL << 20)
#define HAUL_XREAD_MAX_COUNT 1000
long long haul_xread_count(long long max_inline);

/* EXPIRE the job's four keys (those that exist) to seconds from now, in one
 * script. 0, or -1 with err. */
int haul_job_expire(haul_redis *r, const char *job, long long seconds, char *err);

/* A job has ended (collected, failed, cancelled): its keys live `retention`
 * seconds more; retention 0 deletes them now, the hash and the job's entry
 * in haul:jobs included. 0, or -1 with err. */
int haul_job_retire(haul_redis *r, const char *job, long long retention, char *err);

/* Drop from haul:jobs and haul:cancelled the ids whose haul:job:<id> has
 * expired or been deleted: at most n of each, the oldest jobs and a random
 * sample (so the check costs O(n) whatever the sets' size, and entries
 * behind a long-lived job are still found). *removed (NULL ok) gets the
 * count. 0, or -1 with err. */
int haul_jobs_prune(haul_redis *r, long long n, long long *removed, char *err);

#endif
