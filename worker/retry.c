/* retry.c -- backoff and the queue of keys waiting to be tried again
 * (see retry.h). */
#include "retry.h"

#include <stdlib.h>

#include "buf.h"

long long haul_retry_backoff_ms(int tries, unsigned *seed)
{
    if (tries < 1) tries = 1;
    long long d = (long long)HAUL_RETRY_BASE_MS << (tries > 7 ? 6 : tries - 1);
    if (d > HAUL_RETRY_CAP_MS) d = HAUL_RETRY_CAP_MS;
    return d / 2 + (long long)(rand_r(seed) % (unsigned)(d / 2 + 1));
}

static void sift_up(haul_retry *v, size_t i)
{
    haul_retry x = v[i];
    while (i > 0 && v[(i - 1) / 2].due_ms > x.due_ms) {
        v[i] = v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    v[i] = x;
}

static void sift_down(haul_retry *v, size_t n, size_t i)
{
    haul_retry x = v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && v[c + 1].due_ms < v[c].due_ms) c++;
        if (v[c].due_ms >= x.due_ms) break;
        v[i] = v[c];
        i = c;
    }
    v[i] = x;
}

void haul_retryq_push(haul_retryq *q, haul_retry r)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->v = haul_realloc(q->v, q->cap * sizeof *q->v);
    }
    q->v[q->n] = r;
    sift_up(q->v, q->n++);
}

const haul_retry *haul_retryq_peek(const haul_retryq *q)
{
    return q->n ? &q->v[0] : NULL;
}

int haul_retryq_pop_due(haul_retryq *q, long long now_ms, haul_retry *out)
{
    if (!q->n || q->v[0].due_ms > now_ms) return 0;
    *out = q->v[0];
    q->v[0] = q->v[--q->n];
    if (q->n) sift_down(q->v, q->n, 0);
    return 1;
}

void haul_retryq_drop_owner(haul_retryq *q, const void *owner)
{
    size_t j = 0;
    for (size_t i = 0; i < q->n; i++)
        if (q->v[i].owner != owner) q->v[j++] = q->v[i];
    q->n = j;
    for (size_t i = q->n / 2; i-- > 0;) sift_down(q->v, q->n, i);
}

size_t haul_retryq_len(const haul_retryq *q) { return q->n; }

void haul_retryq_free(haul_retryq *q)
{
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}
