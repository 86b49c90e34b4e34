/* test_job.c -- the rules the submitter and the collector share
 * (scheduler/job.c): job states by name, a task's slots from its number,
 * the id XTRIM MINID needs, and the XREAD count for a value size. */
#include "test.h"
#include "../../scheduler/job.h"

#include <stdint.h>

TEST(states_by_name_and_back)
{
    for (int s = HAUL_JOB_SUBMITTING; s <= HAUL_JOB_CANCELLED; s++)
        ASSERT_EQ(haul_job_state_parse(haul_job_state_str((haul_job_state)s)), s);
    ASSERT_STREQ(haul_job_state_str(HAUL_JOB_SUBMITTING), "submitting");
    ASSERT_STREQ(haul_job_state_str(HAUL_JOB_CANCELLED), "cancelled");
    ASSERT_EQ(haul_job_state_parse("Done"), HAUL_JOB_UNKNOWN);
    ASSERT_EQ(haul_job_state_parse(NULL), HAUL_JOB_UNKNOWN);
    ASSERT_EQ(haul_job_state_parse("unknown"), HAUL_JOB_UNKNOWN);
    ASSERT_STREQ(haul_job_state_str((haul_job_state)99), "unknown");
}

TEST(task_slots_from_its_number)
{
    long long lo, hi;
    haul_task_slots(0, 16, 40, &lo, &hi);
    ASSERT_EQ(lo, 0); ASSERT_EQ(hi, 16);
    haul_task_slots(2, 16, 40, &lo, &hi);   /* the last, partial task */
    ASSERT_EQ(lo, 32); ASSERT_EQ(hi, 40);
    haul_task_slots(3, 16, 40, &lo, &hi);   /* past the job: none */
    ASSERT_EQ(lo, 40); ASSERT_EQ(hi, 40);
    haul_task_slots(5, 16, -1, &lo, &hi);   /* still submitting: a full task */
    ASSERT_EQ(lo, 80); ASSERT_EQ(hi, 96);
    haul_task_slots(-1, 16, 40, &lo, &hi);
    ASSERT_EQ(hi - lo, 0);
    haul_task_slots(INT64_MAX / 2, 16, -1, &lo, &hi); /* would overflow: none */
    ASSERT_EQ(hi - lo, 0);
    haul_task_slots(7, 1, 8, &lo, &hi);
    ASSERT_EQ(lo, 7); ASSERT_EQ(hi, 8);
}

TEST(stream_id_after)
{
    char out[48];
    ASSERT_EQ(haul_stream_id_after("1700000000000-0", out, sizeof out), 0);
    ASSERT_STREQ(out, "1700000000000-1");
    ASSERT_EQ(haul_stream_id_after("5-41", out, sizeof out), 0);
    ASSERT_STREQ(out, "5-42");
    ASSERT_EQ(haul_stream_id_after("5-18446744073709551615", out, sizeof out), 0);
    ASSERT_STREQ(out, "6-0");
    ASSERT_EQ(haul_stream_id_after("18446744073709551615-18446744073709551615", out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after("0-0", out, sizeof out), 0);
    ASSERT_STREQ(out, "0-1");
    ASSERT_EQ(haul_stream_id_after("5", out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after("5-", out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after("-5", out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after("5-x", out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after("18446744073709551616-0", out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after(NULL, out, sizeof out), -1);
    ASSERT_EQ(haul_stream_id_after("123-4", out, 4), -1); /* does not fit */
}

TEST(xread_count_bounds_the_reply)
{
    ASSERT_EQ(haul_xread_count(1 << 20), 64);            /* the default --max-inline */
    ASSERT_EQ(haul_xread_count(64LL << 20), 1);
    ASSERT_EQ(haul_xread_count(65536), 1000);
    ASSERT_EQ(haul_xread_count(0), 1000);
    ASSERT_EQ(haul_xread_count(-5), 1000);
    ASSERT_EQ(haul_xread_count(3LL << 20), 21);
    ASSERT(haul_xread_count(3LL << 20) * (3LL << 20) <= HAUL_XREAD_BYTES);
}

int main(void)
{
    RUN(states_by_name_and_back);
    RUN(task_slots_from_its_number);
    RUN(stream_id_after);
    RUN(xread_count_bounds_the_reply);
    TEST_DONE();
}
