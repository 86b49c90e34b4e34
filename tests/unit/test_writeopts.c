/* test_writeopts.c -- the write ops' options: which go together, and --meta
 * checked by the task encoder's rule before a job is made. */
#include "test.h"
#include "../../scheduler/scheduler.h"

#include <stdlib.h>

static char err[HAUL_ERR_LEN];

static int check(haul_op op, sched_cfg c)
{
    if (!c.repeat) c.repeat = 1;
    err[0] = '\0';
    return haul_submit_check_opts(&c, op, err);
}

TEST(put_sources)
{
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.from_dir = "/data/run42", .prefix = "run42/"}), 0);
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.keys = "list.tsv", .meta = "a=b", .skip_existing = 1,
                                             .dry_run = 1, .segment_size = 1 << 30}), 0);
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){0}), -1);
    ASSERT_STREQ(err, "--op put needs --from-dir DIR (every file under it) or --keys FILE (lines PATH<TAB>KEY)");
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.from_dir = "d", .keys = "k"}), -1);
    ASSERT_STREQ(err, "--op put takes --from-dir or --keys, not both");
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.keys = "k", .prefix = "p/"}), -1);
    ASSERT(strstr(err, "a --keys file names each key in full"));
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.from_dir = "d", .repeat = 2}), -1);
    ASSERT_STREQ(err, "--repeat is for the read ops; --op put does each key once");
}

TEST(options_of_other_ops)
{
    ASSERT_EQ(check(HAUL_OP_GET, (sched_cfg){.from_dir = "d"}), -1);
    ASSERT_STREQ(err, "--from-dir is for --op put, not --op get");
    ASSERT_EQ(check(HAUL_OP_DELETE, (sched_cfg){.keys = "k", .manifest = "m.csv"}), -1);
    ASSERT_STREQ(err, "--manifest is for --op verify, not --op delete");
    ASSERT_EQ(check(HAUL_OP_VERIFY, (sched_cfg){.manifest = "m", .dry_run = 1}), -1);
    ASSERT_STREQ(err, "--dry-run is for --op put and --op delete, not --op verify");
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.from_dir = "d", .deep = 1}), -1);
    ASSERT_STREQ(err, "--deep is for --op verify, not --op put");
    ASSERT_EQ(check(HAUL_OP_PUT, (sched_cfg){.from_dir = "d", .yes = 1}), -1);
    ASSERT_STREQ(err, "--yes is for --op delete, not --op put");
    ASSERT_EQ(check(HAUL_OP_DELETE, (sched_cfg){.keys = "k", .skip_existing = 1}), -1);
    ASSERT_STREQ(err, "--skip-existing is for --op put, not --op delete");
    ASSERT_EQ(check(HAUL_OP_SIDECAR, (sched_cfg){.keys = "k", .meta = "a=b"}), -1);
    ASSERT_STREQ(err, "--meta is for --op put, not --op sidecar");
    /* The read ops as before. */
    ASSERT_EQ(check(HAUL_OP_LIST, (sched_cfg){.prefix = "p/"}), 0);
    ASSERT_EQ(check(HAUL_OP_SIDECAR, (sched_cfg){.repeat = 10}), 0);
}

TEST(delete_and_verify_sources)
{
    ASSERT_EQ(check(HAUL_OP_DELETE, (sched_cfg){.keys = "old.txt", .dry_run = 1}), 0);
    ASSERT_EQ(check(HAUL_OP_DELETE, (sched_cfg){.keys = "-", .yes = 1}), 0);
    ASSERT_EQ(check(HAUL_OP_DELETE, (sched_cfg){.prefix = "old/"}), -1);
    ASSERT_STREQ(err, "--op delete needs --keys FILE: haul deletes the keys it is given, never a listing");
    ASSERT_EQ(check(HAUL_OP_VERIFY, (sched_cfg){.manifest = "put-log.csv", .deep = 1}), 0);
    ASSERT_EQ(check(HAUL_OP_VERIFY, (sched_cfg){.keys = "k"}), 0);
    ASSERT_EQ(check(HAUL_OP_VERIFY, (sched_cfg){0}), -1);
    ASSERT(!strncmp(err, "--op verify needs --manifest FILE", 33));
    ASSERT_EQ(check(HAUL_OP_VERIFY, (sched_cfg){.keys = "k", .manifest = "m"}), -1);
    ASSERT_STREQ(err, "--op verify takes --manifest or --keys, not both");
}

TEST(meta_lines)
{
    char **meta = NULL;
    size_t n = 0;
    ASSERT_EQ(haul_submit_meta("Run=42\nowner_x=a=b, c", &meta, &n, err), 0);
    ASSERT_EQ(n, 4);
    ASSERT_STREQ(meta[0], "Run");
    ASSERT_STREQ(meta[1], "42");
    ASSERT_STREQ(meta[2], "owner_x");
    ASSERT_STREQ(meta[3], "a=b, c");            /* split at the first '='; commas kept */
    for (size_t i = 0; i < n; i++) free(meta[i]);
    free(meta);
    meta = NULL;
    n = 0;
    ASSERT_EQ(haul_submit_meta("bad name=x", &meta, &n, err), -1);
    ASSERT(!strncmp(err, "--meta: ", 8) && strstr(err, "letters, digits, '-' or '_'"));
    for (size_t i = 0; i < n; i++) free(meta[i]);
    free(meta);
    meta = NULL;
    n = 0;
    ASSERT_EQ(haul_submit_meta("novalue", &meta, &n, err), -1);
    ASSERT_STREQ(err, "--meta 'novalue': not NAME=VALUE");
    ASSERT_EQ(haul_submit_meta(NULL, &meta, &n, err), 0);
    ASSERT_EQ(n, 0);
    free(meta);
}

int main(void)
{
    RUN(put_sources);
    RUN(options_of_other_ops);
    RUN(delete_and_verify_sources);
    RUN(meta_lines);
    TEST_DONE();
}
