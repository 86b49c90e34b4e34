/* retry.h -- when a key's failed attempt is tried again: the backoff policy
 * and the queue of keys waiting for their next attempt. No I/O, no clock:
 * the caller passes the time, so the tests drive it directly.
 *
 * Policy: exponential backoff with jitter, 250 ms, 500 ms, 1 s, ... capped
 * at 8 s, each delay drawn from [d/2, d] so that keys that failed together
 * (a store restarting) come back spread out, not in one burst. Whether an
 * attempt is worth repeating at all (a transient failure, attempts left) is
 * decided by the caller. */
#ifndef HAUL_RETRY_H
#define HAUL_RETRY_H

#include <stddef.h>

#define HAUL_RETRY_BASE_MS 250
#define HAUL_RETRY_CAP_MS  8000

/* The wait before attempt tries+1, after `tries` (>= 1) attempts failed.
 * *seed is a rand_r state. */
long long haul_retry_backoff_ms(int tries, unsigned *seed);

/* A key due again at due_ms: an opaque owner and an index in it. */
typedef struct haul_retry {
    long long due_ms;
    void *owner;
    size_t idx;
} haul_retry;

/* A min-heap by due time; equal times come out in no promised order. */
typedef struct haul_retryq {
    haul_retry *v;
    size_t n, cap;
} haul_retryq;
#define HAUL_RETRYQ_INIT {NULL, 0, 0}

void haul_retryq_push(haul_retryq *q, haul_retry r);
/* The earliest entry, or NULL when empty (valid until the next push/pop). */
const haul_retry *haul_retryq_peek(const haul_retryq *q);
/* Remove and return the earliest entry due at or before now_ms: 1, or 0
 * (nothing due; *out untouched). */
int haul_retryq_pop_due(haul_retryq *q, long long now_ms, haul_retry *out);
/* Drop every entry whose owner is `owner` (a task given back). */
void haul_retryq_drop_owner(haul_retryq *q, const void *owner);
size_t haul_retryq_len(const haul_retryq *q);
void haul_retryq_free(haul_retryq *q);

#endif
