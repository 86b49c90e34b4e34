/* Unit tests for worker/files.c: output files confined to --out-root, on a
 * scratch directory (no servers). Each case runs twice: with openat2 and
 * with the segment-by-segment walk that replaces it where it is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../worker/files.h"
#include "buf.h"
#include "test.h"

#define ASSERT_HAS(s, sub) do {                                           \
        const char *s_ = (s), *sub_ = (sub);                             \
        if (!s_ || !strstr(s_, sub_))                                    \
            FAIL_("%s contains %s:\n    got:  \"%s\"\n    want: \"...%s...\"", #s, #sub, \
                  s_ ? s_ : "(null)", sub_);                             \
    } while (0)

static char top[256];   /* scratch: top/root is the out-root, top/outside is not */
static int walk;        /* force the walk */

/* Run a shell command in which every "%s" stands for a (the scratch dir). */
static void sh(const char *cmd, const char *a)
{
    haul_buf b = HAUL_BUF_INIT;
    for (const char *p = cmd; *p;) {
        const char *q = strstr(p, "%s");
        size_t n = q ? (size_t)(q - p) : strlen(p);
        haul_buf_add(&b, p, n);
        if (!q) break;
        haul_buf_adds(&b, a);
        p = q + 2;
    }
    if (system(b.p) != 0) printf("  (command failed: %s)\n", b.p);
    haul_buf_free(&b);
}

static wfiles *fresh(int fsync_files)
{
    char root[300], err[HAUL_ERR_LEN];
    sh("rm -rf %s && mkdir -p %s/root %s/outside", top);
    snprintf(root, sizeof root, "%s/root", top);
    wfiles *fs = wfiles_open(root, fsync_files, err);
    if (!fs) printf("  wfiles_open: %s\n", err);
    else if (walk) wfiles_force_walk(fs);
    return fs;
}

static char *slurp(const char *path)
{
    static char b[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n < 0) return NULL;
    b[n] = '\0';
    return b;
}

/* Write body to key under out_dir and commit; NULL or the error. */
static const char *put(wfiles *fs, const char *out_dir, const char *key, const char *body)
{
    static char err[HAUL_ERR_LEN];
    wfile f;
    if (wfile_create(fs, out_dir, key, &f, err) < 0) return err;
    if (wfile_write(&f, body, strlen(body), err) < 0 || wfile_commit(fs, &f, err) < 0) {
        wfile_abort(&f);
        return err;
    }
    wfile_abort(&f);
    return NULL;
}

static int count_entries(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

TEST(writes_beneath_the_root)
{
    char path[600], abs[600];
    wfiles *fs = fresh(0);
    ASSERT(fs);
    ASSERT(put(fs, "out", "a/b/c.zip", "one") == NULL);           /* relative: from the root */
    snprintf(path, sizeof path, "%s/root/out/a/b/c.zip", top);
    ASSERT_STREQ(slurp(path), "one");
    snprintf(abs, sizeof abs, "%s/sub", wfiles_root(fs));
    ASSERT(put(fs, abs, "x", "two") == NULL);                      /* absolute, beneath */
    snprintf(path, sizeof path, "%s/root/sub/x", top);
    ASSERT_STREQ(slurp(path), "two");
    ASSERT(put(fs, wfiles_root(fs), "top-level", "3") == NULL);    /* the root itself */
    ASSERT(put(fs, "out//deep/", "k", "4") == NULL);               /* doubled slashes in the dir */
    snprintf(path, sizeof path, "%s/root/out/deep/k", top);
    ASSERT_STREQ(slurp(path), "4");
    /* The path reported is absolute, under the canonical root. */
    wfile f;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(wfile_create(fs, "out", "p/q", &f, err), 0);
    snprintf(path, sizeof path, "%s/out/p/q", wfiles_root(fs));
    ASSERT_STREQ(f.path, path);
    wfile_abort(&f);
    snprintf(path, sizeof path, "%s/root/out/p", top);
    ASSERT_EQ(count_entries(path), 0);                              /* aborted: no temporary left */
    wfiles_close(fs);
}

TEST(refuses_what_leaves_the_root)
{
    char abs[600], path[600];
    wfiles *fs = fresh(0);
    ASSERT(fs);
    snprintf(abs, sizeof abs, "%s/outside", top);
    ASSERT_HAS(put(fs, abs, "k", "x"), "is outside this worker's --out-root");
    ASSERT_HAS(put(fs, "/etc", "passwd", "x"), "--out-dir /etc is outside this worker's --out-root");
    snprintf(abs, sizeof abs, "%s-evil", wfiles_root(fs));      /* a prefix of the root's name */
    ASSERT_HAS(put(fs, abs, "k", "x"), "outside");
    ASSERT_HAS(put(fs, "out/../..", "k", "x"), "has a '.' or '..' segment");
    snprintf(abs, sizeof abs, "%s/../outside", wfiles_root(fs));
    ASSERT_HAS(put(fs, abs, "k", "x"), "has a '.' or '..' segment");
    static const char *const keys[] = {"../k", "a/../../k", "./k", "a//k", "a/", "", "/abs", "a/./b", ".."};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *e = put(fs, "out", keys[i], "x");
        if (!e || !strstr(e, "cannot be a file under --out-dir")) FAIL_("key '%s': %s", keys[i], e ? e : "written");
    }
    snprintf(path, sizeof path, "%s/outside", top);
    ASSERT_EQ(count_entries(path), 0);
    wfiles_close(fs);
}

TEST(symlinks_not_followed)
{
    char path[600];
    wfiles *fs = fresh(0);
    ASSERT(fs);
    /* root/link -> outside, as a directory of out_dir and of the key. */
    sh("ln -s %s/outside %s/root/link", top);
    ASSERT_HAS(put(fs, "link", "k", "x"), "symbolic link");
    ASSERT_HAS(put(fs, "out", "../link/k", "x"), "cannot be a file");
    ASSERT_HAS(put(fs, wfiles_root(fs), "link/k", "x"), "symbolic link");
    sh("mkdir -p %s/root/d && ln -s %s/outside %s/root/d/deeper", top);
    ASSERT_HAS(put(fs, "d/deeper/more", "k", "x"), "symbolic link");
    snprintf(path, sizeof path, "%s/outside", top);
    ASSERT_EQ(count_entries(path), 0);
    /* A symlink as the final name is replaced, not written through. */
    sh("echo secret > %s/outside/victim && ln -s %s/outside/victim %s/root/d/name", top);
    ASSERT(put(fs, "d", "name", "new") == NULL);
    snprintf(path, sizeof path, "%s/outside/victim", top);
    ASSERT_STREQ(slurp(path), "secret\n");
    snprintf(path, sizeof path, "%s/root/d/name", top);
    struct stat st;
    ASSERT_EQ(lstat(path, &st), 0);
    ASSERT(S_ISREG(st.st_mode));
    ASSERT_STREQ(slurp(path), "new");
    wfiles_close(fs);
}

/* The directory cache: a directory is resolved again once its entry is a
 * second old, so one swapped for a symbolic link is refused then, and files
 * go to the directory that now has the name. */
TEST(cached_directories_are_resolved_again)
{
    char path[600];
    wfiles *fs = fresh(0);
    ASSERT(fs);
    for (int i = 0; i < 40; i++) {   /* more directories than the cache holds */
        char key[64];
        snprintf(key, sizeof key, "d%02d/k%d", i % 20, i);
        ASSERT(put(fs, "t", key, "x") == NULL);
    }
    snprintf(path, sizeof path, "%s/root/t/d07", top);
    ASSERT_EQ(count_entries(path), 2);
    ASSERT(put(fs, "t", "d00/a", "1") == NULL);
    sh("mv %s/root/t/d00 %s/outside/moved && ln -s %s/outside %s/root/t/d00", top);
    usleep(1100 * 1000);
    ASSERT_HAS(put(fs, "t", "d00/b", "2"), "symbolic link");
    snprintf(path, sizeof path, "%s/outside/moved", top);
    ASSERT_EQ(count_entries(path), 3);  /* k0, k20 and a: nothing written after the swap */
    sh("rm %s/root/t/d00 && mkdir %s/root/t/d00", top);
    ASSERT(put(fs, "t", "d00/c", "3") == NULL);
    snprintf(path, sizeof path, "%s/root/t/d00/c", top);
    ASSERT_STREQ(slurp(path), "3");
    wfiles_close(fs);
}

TEST(temporary_files_are_unique)
{
    char err[HAUL_ERR_LEN], path[600];
    wfiles *fs = fresh(1); /* and with fsync */
    ASSERT(fs);
    wfile a, b;
    ASSERT_EQ(wfile_create(fs, "o", "same/key", &a, err), 0);
    ASSERT_EQ(wfile_create(fs, "o", "same/key", &b, err), 0);
    ASSERT(strcmp(a.tmp, b.tmp) != 0);
    /* Interleaved writes of two transfers: each file holds its own bytes. */
    ASSERT_EQ(wfile_write(&a, "AAAA", 4, err), 0);
    ASSERT_EQ(wfile_write(&b, "BBBBBB", 6, err), 0);
    ASSERT_EQ(wfile_write(&a, "AAAA", 4, err), 0);
    ASSERT_EQ(wfile_commit(fs, &b, err), 0);
    snprintf(path, sizeof path, "%s/root/o/same/key", top);
    ASSERT_STREQ(slurp(path), "BBBBBB");
    ASSERT_EQ(wfile_commit(fs, &a, err), 0);
    ASSERT_STREQ(slurp(path), "AAAAAAAA");
    wfile_abort(&a);
    wfile_abort(&b);
    snprintf(path, sizeof path, "%s/root/o/same", top);
    ASSERT_EQ(count_entries(path), 1);
    /* A temporary name already taken (by anyone) is skipped, not opened. */
    sh("touch %s/root/o/same/.haul-0-0.part", top);
    ASSERT(put(fs, "o", "same/key", "C") == NULL);
    /* The final name is a directory: a clear error, nothing left behind. */
    sh("mkdir -p %s/root/o/dir/sub", top);
    ASSERT_HAS(put(fs, "o", "dir", "x"), "cannot rename");
    snprintf(path, sizeof path, "%s/root/o", top);
    ASSERT_EQ(count_entries(path), 2);
    wfiles_close(fs);
}

TEST(root_checked)
{
    char err[HAUL_ERR_LEN];
    ASSERT(wfiles_open("/nonexistent/haul", 0, err) == NULL);
    ASSERT_STREQ(err, "--out-root /nonexistent/haul: No such file or directory");
    wfiles_close(NULL);
}

/* ---- files read (put) --------------------------------------------------- */

/* Open src (under dir) beneath root/ for reading: NULL and its content in
 * *got, or the sentence. */
static const char *get(wfiles *fs, const char *dir, const char *src, char **got)
{
    static char err[HAUL_ERR_LEN];
    rfile f;
    *got = NULL;
    if (rfile_open(fs, dir, src, &f, err) < 0) return err;
    static char b[256];
    ssize_t n = pread(f.fd, b, sizeof b - 1, 0);
    b[n < 0 ? 0 : n] = '\0';
    *got = b;
    int same = f.size == (long long)n;
    if (!same) snprintf(err, sizeof err, "size %lld, read %zd", f.size, n);
    rfile_close(&f);
    return same ? NULL : err;
}

static wfiles *fresh_in(void)
{
    char root[300], err[HAUL_ERR_LEN];
    sh("rm -rf %s && mkdir -p %s/root/d/e %s/outside && echo in > %s/root/d/e/f && "
       "echo out > %s/outside/secret && echo top > '%s/root/a b+c%.txt'", top);
    snprintf(root, sizeof root, "%s/root", top);
    wfiles *fs = rfiles_open(root, err);
    if (!fs) printf("  rfiles_open: %s\n", err);
    else if (walk) wfiles_force_walk(fs);
    return fs;
}

TEST(reads_beneath_the_in_root)
{
    char *got, abs[600];
    wfiles *fs = fresh_in();
    ASSERT(fs);
    ASSERT(get(fs, "d", "e/f", &got) == NULL);
    ASSERT_STREQ(got, "in\n");
    ASSERT(get(fs, NULL, "d/e/f", &got) == NULL);                /* relative to the root */
    snprintf(abs, sizeof abs, "%s/d/e/f", wfiles_root(fs));
    ASSERT(get(fs, NULL, abs, &got) == NULL);                    /* absolute, beneath it */
    ASSERT(get(fs, wfiles_root(fs), "a b+c%.txt", &got) == NULL);
    ASSERT_STREQ(got, "top\n");
    /* Outside, up, links, and what is not a regular file: refused. */
    snprintf(abs, sizeof abs, "%s/outside", top);
    ASSERT_HAS(get(fs, abs, "secret", &got), "is outside this worker's --in-root");
    ASSERT_HAS(get(fs, NULL, "/etc/passwd", &got), "outside this worker's --in-root");
    ASSERT_HAS(get(fs, "d", "../../outside/secret", &got), "'.' or '..' segment");
    ASSERT_HAS(get(fs, "d", "/etc/passwd", &got), "absolute under a source directory");
    ASSERT_HAS(get(fs, "d", "e//f", &got), "empty");
    sh("ln -s %s/outside/secret %s/root/link && ln -s %s/outside %s/root/dlink", top);
    ASSERT_HAS(get(fs, NULL, "link", &got), "symbolic link");
    ASSERT_HAS(get(fs, "dlink", "secret", &got), "symbolic link");
    ASSERT_HAS(get(fs, NULL, "dlink/secret", &got), "symbolic link");
    ASSERT_HAS(get(fs, NULL, "d", &got), "is not a regular file (a directory)");
    sh("mkfifo %s/root/fifo", top);
    ASSERT_HAS(get(fs, NULL, "fifo", &got), "is not a regular file (a FIFO)");
    ASSERT_HAS(get(fs, NULL, "nothere", &got), "No such file or directory");
    sh("echo x > %s/root/noperm && chmod 000 %s/root/noperm", top);
    if (geteuid() != 0) ASSERT_HAS(get(fs, NULL, "noperm", &got), "Permission denied");
    wfiles_close(fs);
}

TEST(changed_while_read)
{
    char err[HAUL_ERR_LEN];
    rfile f;
    wfiles *fs = fresh_in();
    ASSERT(fs);
    ASSERT_EQ(rfile_open(fs, NULL, "d/e/f", &f, err), 0);
    ASSERT_EQ(rfile_changed(&f, err), 0);
    sh("echo more >> %s/root/d/e/f", top);
    ASSERT_EQ(rfile_changed(&f, err), 1);
    ASSERT_HAS(err, "changed while it was read (size 3, now 8)");
    rfile_close(&f);
    wfiles_close(fs);
}

int main(void)
{
    snprintf(top, sizeof top, "/tmp/haul-test-files.%d", (int)getpid());
    for (walk = 0; walk < 2; walk++) {
        printf("-- %s\n", walk ? "segment-by-segment walk" : "openat2");
        RUN(writes_beneath_the_root);
        RUN(refuses_what_leaves_the_root);
        RUN(symlinks_not_followed);
        RUN(temporary_files_are_unique);
        RUN(cached_directories_are_resolved_again);
        RUN(reads_beneath_the_in_root);
        RUN(changed_while_read);
    }
    RUN(root_checked);
    sh("rm -rf %s", top);
    TEST_DONE();
}
