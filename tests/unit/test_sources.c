/* test_sources.c -- a write job's sources on real files: a temporary tree
 * with awkward names walked, "path<TAB>key" lines, manifests read back. */
#define _GNU_SOURCE /* fmemopen, mkdtemp */
#include "test.h"
#include "../../scheduler/sources.h"
#include "../../common/task.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static void mk(const char *rel, int dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    if (dir) {
        mkdir(p, 0700);
    } else {
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) { if (write(fd, "x", 1) != 1) perror(p); close(fd); }
    }
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", path, path);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", path);
}

/* Every entry given, as one string "a|b|...". -1 ends with "ERR:<sentence>". */
static void walk_all(const char *root, haul_buf *out)
{
    char err[HAUL_ERR_LEN];
    const char *rel;
    haul_walk *w = haul_walk_new(root, err);
    haul_buf_reset(out);
    if (!w) { haul_buf_printf(out, "ERR:%s", err); return; }
    int rc;
    while ((rc = haul_walk_next(w, &rel, err)) == 1) {
        if (out->len) haul_buf_addc(out, '|');
        haul_buf_adds(out, rel);
    }
    if (rc < 0) haul_buf_printf(out, "|ERR:%s", err);
    haul_walk_free(w);
}

TEST(walk_order_and_names)
{
    snprintf(tmp, sizeof tmp, "/tmp/haul-walk-XXXXXX");
    ASSERT(mkdtemp(tmp));
    mk("b", 1);
    mk("b/z.dat", 0);
    mk("b/a b+c%20.dat", 0);
    mk("a.txt", 0);
    mk("B.txt", 0);                         /* upper case sorts first (bytes) */
    mk("caf\xC3\xA9", 0);
    mk("empty", 1);
    mk("d1", 1); mk("d1/d2", 1); mk("d1/d2/d3", 1); mk("d1/d2/d3/deep.bin", 0);
    mk("nl\nname", 0);
    char p[600], t[600];
    snprintf(p, sizeof p, "%s/link-to-b", tmp);
    snprintf(t, sizeof t, "%s/b", tmp);
    ASSERT_EQ(symlink(t, p), 0);            /* a link to a directory: an entry, not followed */
    snprintf(p, sizeof p, "%s/fifo", tmp);
    ASSERT_EQ(mkfifo(p, 0600), 0);

    haul_buf got = HAUL_BUF_INIT;
    walk_all(tmp, &got);
    ASSERT_STREQ(haul_buf_str(&got),
                 "B.txt|a.txt|b/a b+c%20.dat|b/z.dat|caf\xC3\xA9|d1/d2/d3/deep.bin|fifo|link-to-b|nl\nname");
    /* The root given with a trailing '/' walks the same. */
    snprintf(p, sizeof p, "%s/", tmp);
    haul_buf again = HAUL_BUF_INIT;
    walk_all(p, &again);
    ASSERT_STREQ(haul_buf_str(&again), haul_buf_str(&got));
    haul_buf_free(&got);
    haul_buf_free(&again);
    rm_rf(tmp);
}

TEST(walk_unreadable)
{
    if (geteuid() == 0) { printf("  (as root every directory is readable: only the missing root is checked)\n"); }
    snprintf(tmp, sizeof tmp, "/tmp/haul-walk-XXXXXX");
    ASSERT(mkdtemp(tmp));
    mk("a", 0);
    mk("locked", 1);
    mk("locked/x", 0);
    mk("z", 0);
    char p[600];
    snprintf(p, sizeof p, "%s/locked", tmp);
    chmod(p, 0);
    haul_buf got = HAUL_BUF_INIT;
    walk_all(tmp, &got);
    if (geteuid() != 0) {
        /* The walk stops at the directory, with a sentence naming it: z is not silently given
         * after keys were lost. */
        char want[700];
        snprintf(want, sizeof want, "a|ERR:--from-dir: cannot read directory %s/locked: Permission denied "
                 "(the job stops here rather than leave its files out)", tmp);
        ASSERT_STREQ(haul_buf_str(&got), want);
    }
    snprintf(p, sizeof p, "%s/none", tmp);
    walk_all(p, &got);
    char want[700];
    snprintf(want, sizeof want, "ERR:--from-dir: cannot read directory %s/none: No such file or directory "
             "(the job stops here rather than leave its files out)", tmp);
    ASSERT_STREQ(haul_buf_str(&got), want);
    snprintf(p, sizeof p, "%s/a", tmp);
    walk_all(p, &got);
    ASSERT(strstr(haul_buf_str(&got), "Not a directory"));
    haul_buf_free(&got);
    rm_rf(tmp);
}

TEST(put_keys)
{
    char err[HAUL_ERR_LEN];
    haul_buf k = HAUL_BUF_INIT;
    ASSERT_EQ(haul_put_key("run42/", "b/a b+c%20.dat", &k, err), 0);
    ASSERT_STREQ(haul_buf_str(&k), "run42/b/a b+c%20.dat");
    ASSERT_EQ(haul_put_key(NULL, "caf\xC3\xA9", &k, err), 0);
    ASSERT_STREQ(haul_buf_str(&k), "caf\xC3\xA9");
    ASSERT_EQ(haul_put_key("p/", "nl\nname", &k, err), -1);
    ASSERT_STREQ(err, "'p/nl\nname' holds the control byte 0x0a at byte 4: a key must not (rename it, "
                 "or list the files to send in --keys FILE)");
    char longname[HAUL_KEY_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ASSERT_EQ(haul_put_key(NULL, longname + 1, &k, err), 0);      /* 1024 bytes: fits */
    ASSERT_EQ(haul_put_key("x", longname + 1, &k, err), -1);      /* 1025 */
    ASSERT(strstr(err, "its key would be 1025 bytes, the limit is 1024"));
    haul_buf_free(&k);
}

TEST(pair_lines)
{
    char err[HAUL_ERR_LEN];
    const char *path, *key;
    char l1[] = "/data/a b.dat\trun/a b.dat";
    ASSERT_EQ(haul_pair_parse(l1, "list.tsv", 1, &path, &key, err), 0);
    ASSERT_STREQ(path, "/data/a b.dat");
    ASSERT_STREQ(key, "run/a b.dat");
    char l2[] = "rel/x\tk\twith tab";                /* split at the first tab */
    ASSERT_EQ(haul_pair_parse(l2, "list.tsv", 2, &path, &key, err), 0);
    ASSERT_STREQ(path, "rel/x");
    ASSERT_STREQ(key, "k\twith tab");
    char l3[] = "no tab here";
    ASSERT_EQ(haul_pair_parse(l3, "list.tsv", 17, &path, &key, err), -1);
    ASSERT_STREQ(err, "--keys list.tsv, line 17: no tab; for --op put each line is PATH<TAB>KEY");
    char l4[] = "\tkey";
    ASSERT_EQ(haul_pair_parse(l4, "-", 3, &path, &key, err), -1);
    ASSERT_STREQ(err, "--keys -, line 3: an empty path; for --op put each line is PATH<TAB>KEY");
    char l5[] = "path\t";
    ASSERT_EQ(haul_pair_parse(l5, "-", 4, &path, &key, err), -1);
    ASSERT(strstr(err, "line 4: an empty key"));
}

/* The manifest's records as "key=size=md5|..."; "ERR:<sentence>" at the end on an error. */
static void manifest_all(const char *text, haul_buf *out, long long *skipped)
{
    char err[HAUL_ERR_LEN];
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    haul_buf_reset(out);
    haul_manifest *m = haul_manifest_new(f, "m.csv", err);
    if (!m) {
        haul_buf_printf(out, "ERR:%s", err);
        fclose(f);
        return;
    }
    const char *key, *md5;
    size_t klen;
    long long size;
    int rc;
    while ((rc = haul_manifest_next(m, &key, &klen, &size, &md5, err)) == 1) {
        if (out->len) haul_buf_addc(out, '|');
        haul_buf_add(out, key, klen);
        haul_buf_printf(out, "=%lld=%s", size, md5);
    }
    if (rc < 0) haul_buf_printf(out, "%sERR:%s", out->len ? "|" : "", err);
    if (skipped) *skipped = haul_manifest_skipped(m);
    haul_manifest_free(m);
    fclose(f);
}

TEST(manifest_put_log)
{
    /* A put log as the collector writes it: quoted keys, an error row, a dry run's row. */
    const char *log =
        "key,status,http,size,md5,etag,error,verified\n"
        "run42/a.dat,ok,201,3,900150983CD24FB0D6963F7D28E17F72,\"\"\"900150983cd24fb0d6963f7d28e17f72\"\"\",,md5\n"
        "\"run42/x,y \"\"q\"\".dat\",skipped,200,0,d41d8cd98f00b204e9800998ecf8427e,,,\n"
        "run42/bad.dat,error,,,,,\"open run42/bad.dat: Permission denied, skipped\",\n"
        "\"run42/two\nlines\",ok,201,,,,,\r\n"
        "run42/dry,would-upload,,5,,,,\n"
        "\n";
    haul_buf got = HAUL_BUF_INIT;
    long long skipped = -1;
    manifest_all(log, &got, &skipped);
    ASSERT_STREQ(haul_buf_str(&got),
                 "run42/a.dat=3=900150983cd24fb0d6963f7d28e17f72|"
                 "run42/x,y \"q\".dat=0=d41d8cd98f00b204e9800998ecf8427e|"
                 "run42/two\nlines=-1=");
    ASSERT_EQ(skipped, 2);
    haul_buf_free(&got);
}

TEST(manifest_columns)
{
    haul_buf got = HAUL_BUF_INIT;
    /* Any order and case, `bytes` for size, extra columns ignored, a BOM, CRLF. */
    manifest_all("\xEF\xBB\xBFMD5,other,Bytes,Key\r\n"
                 "0cc175b9c0f1b6a831c399e269772661,zz,1,a\r\n"
                 ",\"q,\",,b\r\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "a=1=0cc175b9c0f1b6a831c399e269772661|b=-1=");
    /* Only a key column: every key unchecked beyond existing. */
    manifest_all("key\nx\ny\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "x=-1=|y=-1=");
    manifest_all("name,size\nx,1\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "ERR:--manifest m.csv: its header (line 1) has no 'key' column; it needs "
                 "key, and size (or bytes) and md5 to check them");
    manifest_all("", &got, NULL);
    ASSERT(strstr(haul_buf_str(&got), "ERR:--manifest m.csv: empty"));
    haul_buf_free(&got);
}

TEST(manifest_errors_name_the_line)
{
    haul_buf got = HAUL_BUF_INIT;
    manifest_all("key,size,md5\na,1,0cc175b9c0f1b6a831c399e269772661\n\"b\nc\",2,\nd,3,0cc175b9\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "a=1=0cc175b9c0f1b6a831c399e269772661|b\nc=2=|"
                 "ERR:--manifest m.csv, line 5: md5 '0cc175b9' is not 32 hex digits");
    manifest_all("key,size,md5\na,-1,\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "ERR:--manifest m.csv, line 2: size '-1' is not a whole number of bytes");
    manifest_all("key,size,md5\na,1\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "ERR:--manifest m.csv, line 2: 2 fields, the header names 3");
    manifest_all("key,md5\n,0cc175b9c0f1b6a831c399e269772661\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "ERR:--manifest m.csv, line 2: an empty key");
    manifest_all("key\nok\n\"open\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "ok=-1=|ERR:--manifest m.csv, line 3: a quoted field is not closed "
                 "before the end of the file");
    manifest_all("key\n\"a\"b\n", &got, NULL);
    ASSERT_STREQ(haul_buf_str(&got), "ERR:--manifest m.csv, line 2: a quoted field is followed by 'b', "
                 "not ',' or the end of the line");
    haul_buf_free(&got);
}

int main(void)
{
    RUN(walk_order_and_names);
    RUN(walk_unreadable);
    RUN(put_keys);
    RUN(pair_lines);
    RUN(manifest_put_log);
    RUN(manifest_columns);
    RUN(manifest_errors_name_the_line);
    TEST_DONE();
}
