/*
 * filecost -- what a downloaded file costs the kernel alone: N files of SIZE bytes written into
 * one directory the way haul-worker writes them, timed, with no network and no hashing.
 *
 *   filecost DIR [N [SIZE]]        (default 50,000 files of 8,909 bytes: workload 2's average)
 *
 * Two ways, each into a fresh subdirectory of DIR (removed after), one after the other:
 *   rename   open(".NAME.tmp", O_CREAT|O_EXCL), write, renameat to NAME, close: what the worker
 *            does (a partial file never has the final name; worker/files.c);
 *   tmpfile  open(DIR, O_TMPFILE), write, linkat("/proc/self/fd/N" -> NAME), close: the
 *            unnamed-file alternative (it cannot replace an existing file).
 * Prints the CPU (user + system) and wall time per file of each.  The README's accounting of
 * workload 2 uses the first; the second was measured to see whether it would be cheaper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int one_way(const char *dir, int tmpfile, long n, const char *buf, size_t size)
{
    char sub[4096], name[64], tmp[96], proc[64];
    snprintf(sub, sizeof sub, "%s/filecost-%d-%s", dir, (int)getpid(), tmpfile ? "tmpfile" : "rename");
    if (mkdir(sub, 0700) < 0) { fprintf(stderr, "filecost: mkdir %s: %s\n", sub, strerror(errno)); return -1; }
    int d = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) { fprintf(stderr, "filecost: %s: %s\n", sub, strerror(errno)); return -1; }
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%08ld", i);
        int fd;
        if (tmpfile) fd = openat(d, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
        else {
            snprintf(tmp, sizeof tmp, ".%s.tmp", name);
            fd = openat(d, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        }
        if (fd < 0 || write(fd, buf, size) != (ssize_t)size) goto fail;
        if (tmpfile) {
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            if (linkat(AT_FDCWD, proc, d, name, AT_SYMLINK_FOLLOW) < 0) goto fail;
        } else if (renameat(d, tmp, d, name) < 0) goto fail;
        if (close(fd) < 0) goto fail;
    }
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = clock_s(CLOCK_MONOTONIC) - t0;
    printf("%-8s %ld files of %zu bytes: %.2f us of CPU and %.2f us of wall time a file\n",
           tmpfile ? "tmpfile" : "rename", n, size, cpu / (double)n * 1e6, wall / (double)n * 1e6);
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%08ld", i);
        unlinkat(d, name, 0);
    }
    close(d);
    rmdir(sub);
    return 0;
fail:
    fprintf(stderr, "filecost: %s: %s\n", tmpfile ? "tmpfile" : "rename", strerror(errno));
    close(d);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: filecost DIR [N [SIZE]]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 50000;
    size_t size = argc > 3 ? (size_t)atol(argv[3]) : 8909;
    char *buf = malloc(size ? size : 1);
    if (!buf || n <= 0) return 2;
    memset(buf, 'x', size);
    int rc = one_way(argv[1], 0, n, buf, size) < 0 || one_way(argv[1], 1, n, buf, size) < 0;
    free(buf);
    return rc;
}
