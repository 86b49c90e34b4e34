/* job.c -- see job.h. */
#include "job.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
    [HAUL_JOB_UNKNOWN] = "unknown",
    [HAUL_JOB_SUBMITTING] = "submitting",
    [HAUL_JOB_QUEUED] = "queued",
    [HAUL_JOB_RUNNING] = "running",
    [HAUL_JOB_DONE] = "done",
    [HAUL_JOB_FAILED] = "failed",
    [HAUL_JOB_CANCELLED] = "cancelled",
};
#define NSTATES (sizeof state_names / sizeof state_names[0])

const char *haul_job_state_str(haul_job_state s)
{
    return (unsigned)s < NSTATES ? state_names[s] : "unknown";
}

haul_job_state haul_job_state_parse(const char *s)
{
    for (size_t i = HAUL_JOB_UNKNOWN + 1; s && i < NSTATES; i++)
        if (!strcmp(s, state_names[i])) return (haul_job_state)i;
    return HAUL_JOB_UNKNOWN;
}

void haul_task_slots(long long n, long long batch, long long distinct, long long *lo,
                     long long *hi)
{
    *lo = *hi = 0;
    if (n < 0 || batch <= 0 || n > (INT64_MAX - batch) / batch) return;
    long long a = n * batch, b = a + batch;
    if (distinct >= 0) {
        if (a > distinct) a = distinct;
        if (b > distinct) b = distinct;
    }
    *lo = a;
    *hi = b;
}

static int parse_u64(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    if (s == end) return -1;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int haul_stream_id_after(const char *id, char *out, size_t outlen)
{
    const char *dash = id ? strchr(id, '-') : NULL;
    uint64_t ms, seq;
    if (!dash || parse_u64(id, dash, &ms) < 0 || parse_u64(dash + 1, dash + strlen(dash), &seq) < 0)
        return -1;
    if (seq == UINT64_MAX) {
        if (ms == UINT64_MAX) return -1; /* the last id there can be: nothing follows */
        ms++;
        seq = 0;
    } else {
        seq++;
    }
    int n = snprintf(out, outlen, "%" PRIu64 "-%" PRIu64, ms, seq);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

long long haul_xread_count(long long max_inline)
{
    if (max_inline < 1) max_inline = 1;
    long long n = HAUL_XREAD_BYTES / max_inline;
    if (n < 1) n = 1;
    if (n > HAUL_XREAD_MAX_COUNT) n = HAUL_XREAD_MAX_COUNT;
    return n;
}

/* KEYS: the job's four keys. ARGV[1]: seconds. EXPIRE is a no-op on a key
 * that does not exist, so a key made later (the first duplicate run, the
 * first listing checkpoint) is covered by the next call. */
static const char expire_lua[] =
    "for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ARGV[1]) end\n"
    "return 0\n";

static void job_keys(const char *job, haul_buf k[4])
{
    haul_key_job(&k[0], job);
    haul_key_results(&k[1], job);
    haul_key_dups(&k[2], job);
    haul_key_lpos(&k[3], job);
}

static void job_keys_free(haul_buf k[4])
{
    for (int i = 0; i < 4; i++) haul_buf_free(&k[i]);
}

int haul_job_expire(haul_redis *r, const char *job, long long seconds, char *err)
{
    haul_buf k[4] = {HAUL_BUF_INIT, HAUL_BUF_INIT, HAUL_BUF_INIT, HAUL_BUF_INIT};
    job_keys(job, k);
    redisReply *rep = haul_redis_call(r, err, "EVAL %s 4 %s %s %s %s %lld", expire_lua,
                                      k[0].p, k[1].p, k[2].p, k[3].p, seconds);
    job_keys_free(k);
    if (!rep) return -1;
    freeReplyObject(rep);
    return 0;
}

int haul_job_retire(haul_redis *r, const char *job, long long retention, char *err)
{
    if (retention > 0) return haul_job_expire(r, job, retention, err);
    haul_buf k[4] = {HAUL_BUF_INIT, HAUL_BUF_INIT, HAUL_BUF_INIT, HAUL_BUF_INIT};
    job_keys(job, k);
    redisReply *rep = haul_redis_call(r, err, "DEL %s %s %s %s", k[0].p, k[1].p, k[2].p, k[3].p);
    job_keys_free(k);
    if (!rep) return -1;
    freeReplyObject(rep);
    if (!(rep = haul_redis_call(r, err, "ZREM " HAUL_KEY_JOBS " %s", job))) return -1;
    freeReplyObject(rep);
    return 0;
}

/* KEYS: haul:jobs, haul:cancelled. ARGV: the key prefix, n. Workers read
 * haul:cancelled with SMEMBERS: it stays a set. */
static const char prune_lua[] =
    "local n, removed = tonumber(ARGV[2]), 0\n"
    "local function gone(id) return redis.call('EXISTS', ARGV[1] .. 'job:' .. id) == 0 end\n"
    "local function check(key, ids, rem)\n"
    "  for _, id in ipairs(ids) do\n"
    "    if gone(id) then removed = removed + redis.call(rem, key, id) end\n"
    "  end\n"
    "end\n"
    "check(KEYS[1], redis.call('ZRANGE', KEYS[1], 0, n - 1), 'ZREM')\n"
    "check(KEYS[1], redis.call('ZRANDMEMBER', KEYS[1], n), 'ZREM')\n"
    "check(KEYS[2], redis.call('SRANDMEMBER', KEYS[2], n), 'SREM')\n"
    "return removed\n";

int haul_jobs_prune(haul_redis *r, long long n, long long *removed, char *err)
{
    redisReply *rep = haul_redis_call(r, err, "EVAL %s 2 " HAUL_KEY_JOBS " " HAUL_KEY_CANCELLED " %s %lld",
                                      prune_lua, HAUL_NS, n);
    if (!rep) return -1;
    if (removed) *removed = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    freeReplyObject(rep);
    return 0;
}
