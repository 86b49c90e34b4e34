/* test_order.c -- the collector's bookkeeping (scheduler/order.c): rows in
 * the keys' order whatever order results come in, each once; repeats written
 * from held results; nothing written before it is described; held results
 * released as soon as nothing can repeat them; broken records refused. */
#include "test.h"
#include "../../scheduler/order.h"

#include <stdio.h>
#include <stdlib.h>

/* The rows written, as "key,status;" text. */
typedef struct sink { char text[8192]; int n; } sink;

static void emit(void *ud, const haul_row *r)
{
    sink *s = ud;
    size_t at = strlen(s->text);
    snprintf(s->text + at, sizeof s->text - at, "%.*s%s;", (int)r->key_len, r->key,
             r->status && !strcmp(r->status, "ok") ? "" : "!");
    s->n++;
}

/* Offer the result of slot whose key is k. */
static int give(haul_order *o, long long slot, const char *k, int ok)
{
    char err[HAUL_ERR_LEN];
    haul_row r = {.key = k, .key_len = strlen(k), .status = ok ? "ok" : "error", .bytes = -1, .ms = -1};
    return haul_order_result(o, slot, &r, err);
}

TEST(in_order_and_out_of_order)
{
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 4, 4, 4, 1, err), 0);
    ASSERT_EQ(give(o, 2, "c", 1), 1);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_STREQ(s.text, "a;");
    ASSERT_EQ(haul_order_held(o), 1);   /* c waits for b */
    ASSERT_EQ(give(o, 1, "b", 0), 1);
    ASSERT_STREQ(s.text, "a;b!;c;");
    ASSERT_EQ(give(o, 1, "b-again", 1), 0); /* first wins */
    ASSERT_EQ(haul_order_complete(o), 0);
    ASSERT_EQ(give(o, 3, "d", 1), 1);
    ASSERT_STREQ(s.text, "a;b!;c;d;");
    ASSERT_EQ(haul_order_complete(o), 1);
    ASSERT_EQ(haul_order_held(o), 0);
    ASSERT_EQ(give(o, 4, "e", 1), -1);  /* not described */
    haul_order_free(o);
}

TEST(nothing_written_before_it_is_described)
{
    /* Keys "a b c c", published in two steps: first rows 0..1 (slots a, b;
     * dup_floor 2), then rows 2..3 (slot 2 = c, and the run "3 2 1"). */
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 2, 2, 2, 0, err), 0);
    ASSERT_EQ(give(o, 1, "b", 1), 1);
    haul_row c = {.key = "c", .key_len = 1, .status = "ok", .bytes = -1, .ms = -1};
    ASSERT_EQ(haul_order_result(o, 2, &c, err), -1); /* no task of it was counted yet */
    ASSERT(strstr(err, "slot 2, but the job has 2") != NULL);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_STREQ(s.text, "a;b;");
    ASSERT_EQ(haul_order_wants_rows(o), 1);
    ASSERT_EQ(haul_order_run(o, 3, 2, 1, err), 0);
    ASSERT_EQ(haul_order_describe(o, 4, 3, 3, 1, err), 0);
    ASSERT_EQ(haul_order_wants_rows(o), 0);
    ASSERT_EQ(give(o, 2, "c", 1), 1);    /* offered again, once described */
    ASSERT_STREQ(s.text, "a;b;c;c;");
    ASSERT_EQ(haul_order_complete(o), 1);
    ASSERT_EQ(haul_order_held(o), 0);
    haul_order_free(o);
}

TEST(results_of_queued_tasks_wait_for_their_description)
{
    /* Keys "a b c d", batch 2: both tasks are queued (the job hash counts
     * tasks as they are pushed) before the rows are published; task 1's
     * results come first and are held, not dropped. */
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    haul_order_expect(o, 4);
    ASSERT_EQ(give(o, 3, "d", 1), 1);
    ASSERT_EQ(give(o, 2, "c", 1), 1);
    ASSERT_EQ(give(o, 4, "e", 1), -1);     /* beyond every queued task */
    ASSERT_EQ(haul_order_held(o), 2);
    ASSERT_STREQ(s.text, "");
    ASSERT_EQ(haul_order_describe(o, 2, 2, 2, 0, err), 0);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_EQ(give(o, 1, "b", 1), 1);
    ASSERT_STREQ(s.text, "a;b;");          /* c, d: not described yet */
    ASSERT_EQ(haul_order_describe(o, 4, 4, 4, 1, err), 0);
    ASSERT_STREQ(s.text, "a;b;c;d;");
    ASSERT_EQ(haul_order_complete(o), 1);
    haul_order_expect(o, 100);              /* after the end: the totals rule */
    ASSERT_EQ(give(o, 5, "f", 1), -1);
    haul_order_free(o);
}

TEST(not_complete_without_every_slot)
{
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 3, 3, 3, 1, err), 0);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_EQ(give(o, 2, "c", 1), 1);
    ASSERT_EQ(haul_order_complete(o), 0);
    ASSERT_EQ(haul_order_answered(o, 1), 0);
    ASSERT_EQ(haul_order_answered(o, 2), 1);
    ASSERT_EQ(haul_order_slots_answered(o), 2);
    ASSERT_EQ(give(o, 1, "b", 0), 1);
    ASSERT_EQ(haul_order_complete(o), 1);
    haul_order_free(o);
}

TEST(repeat_holds_the_first_pass_until_the_runs_come)
{
    /* --repeat 3 over "a b": the submitter keeps dup_floor 0 during the first
     * pass, then publishes the runs "2 0 2" and "4 0 2" with the totals. */
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 2, 2, 0, 0, err), 0);
    ASSERT_EQ(give(o, 1, "b", 1), 1);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_STREQ(s.text, "a;b;");
    ASSERT_EQ(haul_order_held(o), 2);    /* both may yet be repeated */
    ASSERT_EQ(haul_order_run(o, 2, 0, 2, err), 0);
    ASSERT_EQ(haul_order_run(o, 4, 0, 2, err), 0);
    ASSERT_STREQ(s.text, "a;b;");        /* rows 2.. not described yet */
    ASSERT_EQ(haul_order_describe(o, 6, 2, 2, 1, err), 0);
    ASSERT_STREQ(s.text, "a;b;a;b;a;b;");
    ASSERT_EQ(haul_order_complete(o), 1);
    ASSERT_EQ(haul_order_held(o), 0);    /* released after the last repeat */
    haul_order_free(o);
}

TEST(scattered_duplicates_within_one_publication)
{
    /* keys "x y x z y": slots x=0 y=1 z=2; runs "2 0 1", "4 1 1". */
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_run(o, 2, 0, 1, err), 0);
    ASSERT_EQ(haul_order_run(o, 4, 1, 1, err), 0);
    ASSERT_EQ(haul_order_describe(o, 5, 3, 3, 1, err), 0);
    ASSERT_EQ(give(o, 2, "z", 1), 1);
    ASSERT_EQ(give(o, 1, "y", 0), 1);
    ASSERT_STREQ(s.text, "");
    ASSERT_EQ(give(o, 0, "x", 1), 1);
    ASSERT_STREQ(s.text, "x;y!;x;z;y!;");
    ASSERT_EQ(haul_order_complete(o), 1);
    ASSERT_EQ(haul_order_held(o), 0);
    haul_order_free(o);
}

TEST(floor_releases_what_cannot_be_repeated)
{
    /* Published in two steps without --repeat: floor = slots described. */
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 2, 2, 2, 0, err), 0);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_EQ(give(o, 1, "b", 1), 1);
    ASSERT_EQ(haul_order_held(o), 0);    /* below the floor: nothing can name them */
    /* A later run naming slot 0 breaks the submitter's promise. */
    ASSERT_EQ(haul_order_run(o, 2, 0, 1, err), -1);
    ASSERT(strstr(err, "written and released") != NULL);
    ASSERT_EQ(give(o, 2, "c", 1), -1);   /* broken: refused from now on */
    haul_order_free(o);
}

TEST(broken_records_are_refused)
{
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_run(o, 1, 1, 1, err), -1);   /* a row repeating its own slot */
    ASSERT(strstr(err, "out of order") != NULL);
    haul_order_free(o);
    o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_run(o, 5, 0, 2, err), 0);
    ASSERT_EQ(haul_order_run(o, 6, 1, 2, err), -1);   /* overlaps the last run */
    haul_order_free(o);
    o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 2, 2, 2, 1, err), 0);
    ASSERT_EQ(haul_order_describe(o, 3, 3, 3, 1, err), -1); /* totals changed after the end */
    haul_order_free(o);
    o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 4, 3, 3, 0, err), 0);
    ASSERT_EQ(haul_order_describe(o, 2, 2, 2, 1, err), -1); /* final totals below what was described */
    haul_order_free(o);
    o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_describe(o, 2, 3, 0, 0, err), -1); /* more slots than rows */
    haul_order_free(o);
}

TEST(a_restarted_redis_may_repeat_or_forget_the_last_update)
{
    /* keys "a b a b c": runs "2 0 2"; the collector reads the run list again
     * from its start after a reconnection, and the job hash it reads next
     * lost its last update (rows 5 -> 4): neither is an error. */
    sink s = {"", 0};
    char err[HAUL_ERR_LEN];
    haul_order *o = haul_order_new(emit, &s);
    ASSERT_EQ(haul_order_run(o, 2, 0, 2, err), 0);
    ASSERT_EQ(haul_order_describe(o, 5, 3, 3, 0, err), 0);
    ASSERT_EQ(give(o, 0, "a", 1), 1);
    ASSERT_EQ(give(o, 1, "b", 1), 1);
    ASSERT_STREQ(s.text, "a;b;a;b;");
    ASSERT_EQ(haul_order_run(o, 2, 0, 2, err), 0);      /* read again: skipped */
    ASSERT_EQ(haul_order_describe(o, 4, 3, 3, 0, err), 0); /* went back: ignored */
    ASSERT_EQ(haul_order_rows_known(o), 5);
    ASSERT_EQ(give(o, 2, "c", 1), 1);
    ASSERT_STREQ(s.text, "a;b;a;b;c;");
    ASSERT_EQ(haul_order_describe(o, 5, 3, 3, 1, err), 0);
    ASSERT_EQ(haul_order_complete(o), 1);
    ASSERT_EQ(haul_order_describe(o, 4, 3, 3, 0, err), 0); /* after the end: ignored */
    ASSERT_EQ(haul_order_complete(o), 1);
    haul_order_free(o);
}

TEST(many_rows_random_arrival)
{
    /* 20,000 rows over 5,000 slots (each key 4 times, the first pass then 3
     * repeats, as --repeat 4), results in a shuffled order, some twice: every
     * row once, in order, and nothing held at the end. */
    enum { K = 5000, REP = 4 };
    sink *s = calloc(1, sizeof *s);
    char err[HAUL_ERR_LEN];
    static long long order[K];
    long long written_ok = 0;
    haul_order *o = haul_order_new(emit, s);
    for (long long i = 0; i < K; i++) order[i] = i;
    unsigned x = 12345;
    for (long long i = K - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        long long j = (long long)(x % (unsigned)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    ASSERT_EQ(haul_order_describe(o, K, K, 0, 0, err), 0);
    for (long long i = 0; i < K; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%lld", order[i]);
        ASSERT_EQ(give(o, order[i], k, 1), 1);
        if (i % 7 == 0) ASSERT_EQ(give(o, order[i], k, 0), 0);
        s->text[0] = '\0';    /* keep the sink small: count only */
    }
    for (int r = 1; r < REP; r++) ASSERT_EQ(haul_order_run(o, (long long)r * K, 0, K, err), 0);
    ASSERT_EQ(haul_order_describe(o, (long long)REP * K, K, K, 1, err), 0);
    written_ok = s->n;
    ASSERT_EQ(written_ok, (long long)REP * K);
    ASSERT_EQ(haul_order_rows_written(o), (long long)REP * K);
    ASSERT_EQ(haul_order_complete(o), 1);
    ASSERT_EQ(haul_order_held(o), 0);
    haul_order_free(o);
    free(s);
}

int main(void)
{
    RUN(in_order_and_out_of_order);
    RUN(nothing_written_before_it_is_described);
    RUN(results_of_queued_tasks_wait_for_their_description);
    RUN(not_complete_without_every_slot);
    RUN(repeat_holds_the_first_pass_until_the_runs_come);
    RUN(scattered_duplicates_within_one_publication);
    RUN(floor_releases_what_cannot_be_repeated);
    RUN(broken_records_are_refused);
    RUN(a_restarted_redis_may_repeat_or_forget_the_last_update);
    RUN(many_rows_random_arrival);
    TEST_DONE();
}
