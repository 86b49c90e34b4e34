/* test_retry.c -- the worker's retry policy and queue (worker/retry.c):
 * delays double from 250 ms to the 8 s cap, each drawn from [d/2, d];
 * keys come out in due order, only when due; a task's keys can be dropped
 * whatever their place in the heap. */
#include "test.h"
#include "../../worker/retry.h"

#include <stdlib.h>

TEST(backoff_doubles_within_jitter_and_is_capped)
{
    unsigned seed = 1;
    long long want[] = {250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000};
    for (int tries = 1; tries <= 9; tries++) {
        long long lo = 1LL << 62, hi = 0;
        for (int i = 0; i < 2000; i++) {
            long long d = haul_retry_backoff_ms(tries, &seed);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        long long d = want[tries - 1];
        if (lo < d / 2 || hi > d) FAIL_("tries %d: delays %lld..%lld outside [%lld, %lld]", tries, lo, hi, d / 2, d);
        /* Spread: keys that failed together must not all come back at once. */
        if (hi - lo < d / 4) FAIL_("tries %d: delays %lld..%lld hardly spread", tries, lo, hi);
    }
    ASSERT(haul_retry_backoff_ms(1000000, &seed) <= HAUL_RETRY_CAP_MS);
    ASSERT(haul_retry_backoff_ms(0, &seed) <= HAUL_RETRY_BASE_MS);
}

TEST(nothing_comes_out_before_it_is_due)
{
    haul_retryq q = HAUL_RETRYQ_INIT;
    haul_retry r;
    int owner;
    haul_retryq_push(&q, (haul_retry){100, &owner, 1});
    ASSERT_EQ(haul_retryq_pop_due(&q, 99, &r), 0);
    ASSERT_EQ(haul_retryq_len(&q), 1);
    ASSERT_EQ(haul_retryq_peek(&q)->due_ms, 100);
    ASSERT_EQ(haul_retryq_pop_due(&q, 100, &r), 1);
    ASSERT_EQ(r.idx, 1);
    ASSERT(r.owner == &owner);
    ASSERT_EQ(haul_retryq_pop_due(&q, 1000, &r), 0);
    ASSERT(haul_retryq_peek(&q) == NULL);
    haul_retryq_free(&q);
}

TEST(many_keys_come_out_in_due_order)
{
    haul_retryq q = HAUL_RETRYQ_INIT;
    unsigned seed = 7;
    int owner;
    for (size_t i = 0; i < 5000; i++)
        haul_retryq_push(&q, (haul_retry){(long long)(rand_r(&seed) % 10000), &owner, i});
    long long last = -1;
    size_t n = 0;
    haul_retry r;
    while (haul_retryq_pop_due(&q, 1LL << 40, &r)) {
        if (r.due_ms < last) FAIL_("entry %zu due %lld after one due %lld", n, r.due_ms, last);
        last = r.due_ms;
        n++;
    }
    ASSERT_EQ(n, 5000);
    haul_retryq_free(&q);
}

TEST(dropping_a_tasks_keys_keeps_the_rest_in_order)
{
    haul_retryq q = HAUL_RETRYQ_INIT;
    int a, b;
    for (size_t i = 0; i < 200; i++)
        haul_retryq_push(&q, (haul_retry){(long long)((i * 37) % 200), (i % 3) ? &a : &b, i});
    haul_retryq_drop_owner(&q, &b);
    ASSERT_EQ(haul_retryq_len(&q), 200 - 67);
    long long last = -1;
    haul_retry r;
    while (haul_retryq_pop_due(&q, 1000, &r)) {
        ASSERT(r.owner == &a);
        ASSERT(r.due_ms >= last);
        last = r.due_ms;
    }
    haul_retryq_free(&q);
}

int main(void)
{
    RUN(backoff_doubles_within_jitter_and_is_capped);
    RUN(nothing_comes_out_before_it_is_due);
    RUN(many_keys_come_out_in_due_order);
    RUN(dropping_a_tasks_keys_keeps_the_rest_in_order);
    TEST_DONE();
}
