/* files.c -- output files confined to the worker's --out-root (files.h). */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <time.h>

#include "buf.h"

/* Directories opened lately, kept open for the next files written there:
 * a tree of small objects writes hundreds of files per directory, and
 * resolving the directory again for each (openat2, close) was two of the
 * dozen system calls a key costs. An entry is reused only within
 * DIR_REUSE_MS of its opening, so a directory moved or replaced meanwhile
 * (by someone who can write beneath the root) is resolved again soon. */
#define DIR_CACHE 16
#define DIR_REUSE_MS 1000
struct wdir {
    char *rel;          /* relative to the root; NULL: a free slot */
    int fd;
    int refs;           /* files open in it */
    long long opened_ms;
};

struct wfiles {
    char *root;         /* canonical, absolute, without a trailing '/' (but "/") */
    int rootfd;
    int fsync_files;
    int no_openat2;     /* the kernel or a seccomp filter refused it once */
    unsigned seq;       /* temporary names */
    int pid;            /* in temporary names */
    struct wdir dirs[DIR_CACHE];
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dir_drop(struct wdir *d)
{
    if (d->rel) {
        close(d->fd);
        free(d->rel);
    }
    d->rel = NULL;
    d->fd = -1;
    d->refs = 0;
}

static wfiles *root_open(const char *opt, const char *root, int fsync_files, char *err)
{
    char real[PATH_MAX];
    if (!root || !*root) root = ".";
    if (!realpath(root, real)) {
        snprintf(err, HAUL_ERR_LEN, "%s %s: %s", opt, root, strerror(errno));
        return NULL;
    }
    int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, HAUL_ERR_LEN, "%s %s: %s", opt, real, strerror(errno));
        return NULL;
    }
    wfiles *fs = haul_calloc(1, sizeof *fs);
    fs->root = haul_strdup(real);
    fs->rootfd = fd;
    fs->fsync_files = fsync_files;
    fs->pid = (int)getpid();
    for (int i = 0; i < DIR_CACHE; i++) fs->dirs[i].fd = -1;
    return fs;
}

wfiles *wfiles_open(const char *root, int fsync_files, char *err)
{
    return root_open("--out-root", root, fsync_files, err);
}

wfiles *rfiles_open(const char *root, char *err)
{
    return root_open("--in-root", root, 0, err);
}

void wfiles_close(wfiles *fs)
{
    if (!fs) return;
    for (int i = 0; i < DIR_CACHE; i++) dir_drop(&fs->dirs[i]);
    close(fs->rootfd);
    free(fs->root);
    free(fs);
}

const char *wfiles_root(const wfiles *fs) { return fs->root; }
void wfiles_force_walk(wfiles *fs) { fs->no_openat2 = 1; }

/* Append the segments of s to rel ('/'-joined); "" segments (doubled
 * slashes) are skipped when skip_empty, else refused, and "." and ".." are
 * always refused. 0, or -1. */
static int add_segments(haul_buf *rel, const char *s, int skip_empty)
{
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 && !skip_empty) return -1;
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return -1;
        if (n) {
            if (rel->len) haul_buf_addc(rel, '/');
            haul_buf_add(rel, s, n);
        }
        s += n;
        if (*s == '/') {
            s++;
            if (!*s && !skip_empty) return -1; /* a key ending in '/' names no file */
        }
    }
    return 0;
}

/* Open dir (relative to the root, "" for the root) the careful way: one
 * segment at a time, never following a symbolic link, making what is
 * missing. */
static int walk_dirs(wfiles *fs, const char *dir, char *what, size_t whatlen)
{
    int cur = dup(fs->rootfd);
    if (cur < 0) return -1;
    char *copy = haul_strdup(dir), *save = NULL;
    for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        int next = openat(cur, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(cur, seg, 0755) < 0 && errno != EEXIST) {
                snprintf(what, whatlen, "%s", seg);
                goto fail;
            }
            next = openat(cur, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            snprintf(what, whatlen, "%s", seg);
            goto fail;
        }
        close(cur);
        cur = next;
    }
    free(copy);
    return cur;
fail:
    {
        int e = errno;
        free(copy);
        close(cur);
        errno = e;
    }
    return -1;
}

static int open_dir(wfiles *fs, const char *dir, char *what, size_t whatlen)
{
    if (!fs->no_openat2) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, fs->rootfd, *dir ? dir : ".", &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno == ENOSYS || errno == EPERM) fs->no_openat2 = 1; /* old kernel, seccomp */
        else if (errno != ENOENT) {
            snprintf(what, whatlen, "%s", dir);
            return -1;
        }
    }
    return walk_dirs(fs, dir, what, whatlen); /* also makes what is missing */
}

/* The directory dir (relative to the root) for a new file of f: from the
 * cache, or opened (and cached when a slot is free). -1 as open_dir. */
static int dir_get(wfiles *fs, const char *dir, wfile *f, char *what, size_t whatlen)
{
    long long now = mono_ms();
    struct wdir *slot = NULL;
    for (int i = 0; i < DIR_CACHE; i++) {
        struct wdir *d = &fs->dirs[i];
        if (d->rel && d->refs == 0 && now - d->opened_ms > DIR_REUSE_MS) dir_drop(d);
        if (d->rel && !strcmp(d->rel, dir) && now - d->opened_ms <= DIR_REUSE_MS) {
            d->refs++;
            f->dir = d;
            return d->fd;
        }
        if (!d->rel && !slot) slot = d;
    }
    int fd = open_dir(fs, dir, what, whatlen);
    if (fd < 0 || !slot) return fd;
    slot->rel = haul_strdup(dir);
    slot->fd = fd;
    slot->refs = 1;
    slot->opened_ms = now;
    f->dir = slot;
    return fd;
}

/* Let go of f's directory: closed unless the cache keeps it. */
static void dir_put(wfile *f)
{
    if (f->dirfd < 0) return;
    if (f->dir) f->dir->refs--;
    else close(f->dirfd);
    f->dir = NULL;
    f->dirfd = -1;
}

int wfile_create(wfiles *fs, const char *out_dir, const char *key, wfile *f, char *err)
{
    haul_buf rel = HAUL_BUF_INIT;
    char what[256] = "";
    int rc = -1;

    *f = (wfile)WFILE_INIT;
    if (!out_dir || !*out_dir) {
        snprintf(err, HAUL_ERR_LEN, "no --out-dir given for bodies written to files");
        return -1;
    }
    const char *rest = out_dir;
    if (out_dir[0] == '/') {
        /* Lexically beneath the root: the root itself, or root + "/...". */
        size_t rn = strlen(fs->root);
        if (!strcmp(fs->root, "/")) rest = out_dir + 1;
        else if (!strncmp(out_dir, fs->root, rn) && (out_dir[rn] == '\0' || out_dir[rn] == '/'))
            rest = out_dir + rn;
        else {
            snprintf(err, HAUL_ERR_LEN, "--out-dir %s is outside this worker's --out-root %s: "
                     "refusing to write there", out_dir, fs->root);
            return -1;
        }
    }
    if (add_segments(&rel, rest, 1) < 0) {
        snprintf(err, HAUL_ERR_LEN, "--out-dir %s has a '.' or '..' segment: refusing it", out_dir);
        goto out;
    }
    size_t dirlen = rel.len;
    if (!*key || key[0] == '/' || add_segments(&rel, key, 0) < 0) {
        snprintf(err, HAUL_ERR_LEN, "key '%s' cannot be a file under --out-dir (absolute, "
                 "empty segment, trailing '/', '.' or '..')", key);
        goto out;
    }
    /* rel is now dir/key...: the directory is everything before the last '/'. */
    char *slash = strrchr(rel.p + dirlen, '/');
    char *name = slash ? slash + 1 : rel.p;
    haul_buf dir = HAUL_BUF_INIT;
    haul_buf_add(&dir, rel.p, (size_t)(name - rel.p) - (slash ? 1 : 0));
    if (strlen(name) > NAME_MAX) {
        snprintf(err, HAUL_ERR_LEN, "key '%s': its last segment is over %d bytes, too long for a "
                 "file name", key, NAME_MAX);
        haul_buf_free(&dir);
        goto out;
    }
    f->dirfd = dir_get(fs, haul_buf_str(&dir), f, what, sizeof what);
    if (f->dirfd < 0) {
        int e = errno;
        snprintf(err, HAUL_ERR_LEN, "cannot write under %s/%s%s%s%s: %s%s", fs->root, haul_buf_str(&dir),
                 what[0] && strcmp(what, haul_buf_str(&dir)) ? " (at '" : "",
                 what[0] && strcmp(what, haul_buf_str(&dir)) ? what : "",
                 what[0] && strcmp(what, haul_buf_str(&dir)) ? "')" : "",
                 e == ELOOP || e == ENOTDIR || e == EXDEV ? "a path segment is a symbolic link or not a directory" : strerror(e),
                 e == ELOOP || e == ENOTDIR || e == EXDEV ? " (links are not followed out of --out-root)" : "");
        haul_buf_free(&dir);
        goto out;
    }
    haul_buf_free(&dir);
    for (int tries = 0; tries < 100; tries++) {
        snprintf(f->tmp, sizeof f->tmp, ".haul-%d-%u.part", fs->pid, ++fs->seq);
        f->fd = openat(f->dirfd, f->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->fd >= 0 || errno != EEXIST) break;
    }
    if (f->fd < 0) {
        snprintf(err, HAUL_ERR_LEN, "cannot create a file in %s/%s: %s", fs->root,
                 rel.p, strerror(errno));
        f->tmp[0] = '\0';
        goto out;
    }
    f->name = haul_strdup(name);
    haul_buf p = HAUL_BUF_INIT;
    haul_buf_printf(&p, "%s%s%s", fs->root, strcmp(fs->root, "/") ? "/" : "", rel.p);
    f->path = haul_buf_detach(&p);
    rc = 0;
out:
    if (rc < 0) wfile_abort(f);
    haul_buf_free(&rel);
    return rc;
}

int wfile_write(wfile *f, const void *p, size_t n, char *err)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(f->fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(err, HAUL_ERR_LEN, "cannot write %s: %s", f->path ? f->path : f->tmp,
                     w < 0 ? strerror(errno) : "no progress");
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int wfile_commit(wfiles *fs, wfile *f, char *err)
{
    const char *step = "write";
    if (fs->fsync_files && fsync(f->fd) < 0) { step = "fsync"; goto fail; }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) < 0) { step = "close"; goto fail; }
    if (renameat(f->dirfd, f->tmp, f->dirfd, f->name) < 0) { step = "rename"; goto fail; }
    f->tmp[0] = '\0';
    if (fs->fsync_files && fsync(f->dirfd) < 0) { step = "fsync the directory of"; goto fail; }
    dir_put(f);
    return 0;
fail:
    snprintf(err, HAUL_ERR_LEN, "cannot %s %s: %s", step, f->path, strerror(errno));
    char *path = f->path;
    f->path = NULL;
    wfile_abort(f);
    f->path = path;
    return -1;
}

void wfile_abort(wfile *f)
{
    if (f->fd >= 0) close(f->fd);
    if (f->tmp[0] && f->dirfd >= 0) unlinkat(f->dirfd, f->tmp, 0);
    dir_put(f);
    free(f->name);
    free(f->path);
    *f = (wfile)WFILE_INIT;
}

/* ---- files read (put) ------------------------------------------------ */

/* Open rel (relative to the root, no "." or ".." segment) for reading, never
 * following a symbolic link on the way or at the end: openat2 beneath the
 * root, else one segment at a time with O_NOFOLLOW. Nothing is made. */
static int open_beneath(wfiles *fs, const char *rel)
{
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    if (!fs->no_openat2) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (unsigned long long)flags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, fs->rootfd, rel, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return (int)fd;
        fs->no_openat2 = 1;
    }
    int cur = dup(fs->rootfd);
    if (cur < 0) return -1;
    char *copy = haul_strdup(rel), *save = NULL;
    char *seg = strtok_r(copy, "/", &save);
    while (seg) {
        char *next_seg = strtok_r(NULL, "/", &save);
        int next = openat(cur, seg, next_seg ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                                             : flags);
        int e = errno;
        close(cur);
        if (next < 0) {
            free(copy);
            errno = e;
            return -1;
        }
        cur = next;
        seg = next_seg;
    }
    free(copy);
    return cur;
}

int rfile_open(wfiles *fs, const char *src_dir, const char *src, rfile *f, char *err)
{
    haul_buf rel = HAUL_BUF_INIT;
    int rc = -1;

    *f = (rfile)RFILE_INIT;
    const char *dir = src_dir ? src_dir : "", *name = src;
    if (!src_dir && src[0] == '/') { /* an absolute file: its own directory */
        dir = src;
        name = "";
    }
    const char *rest = dir;
    if (dir[0] == '/') {
        size_t rn = strlen(fs->root);
        if (!strcmp(fs->root, "/")) rest = dir + 1;
        else if (!strncmp(dir, fs->root, rn) && (dir[rn] == '\0' || dir[rn] == '/'))
            rest = dir + rn;
        else {
            snprintf(err, HAUL_ERR_LEN, "%s is outside this worker's --in-root %s: refusing "
                     "to read it", dir, fs->root);
            return -1;
        }
    }
    if (add_segments(&rel, rest, 1) < 0 || (*name && (name[0] == '/' ||
                                                      add_segments(&rel, name, 0) < 0))) {
        snprintf(err, HAUL_ERR_LEN, "file '%s%s%s' has an empty, '.' or '..' segment (or is "
                 "absolute under a source directory): refusing it", src_dir ? src_dir : "",
                 src_dir ? "/" : "", src);
        goto out;
    }
    haul_buf p = HAUL_BUF_INIT;
    haul_buf_printf(&p, "%s%s%s", fs->root, strcmp(fs->root, "/") ? "/" : "", haul_buf_str(&rel));
    f->path = haul_buf_detach(&p);
    if (!rel.len) {
        snprintf(err, HAUL_ERR_LEN, "%s is a directory, not a file", f->path);
        goto out;
    }
    f->fd = open_beneath(fs, rel.p);
    if (f->fd < 0) {
        int e = errno;
        int link = e == ELOOP || e == EXDEV || e == ENOTDIR;
        snprintf(err, HAUL_ERR_LEN, "cannot read %s: %s%s", f->path,
                 link ? "a path segment is a symbolic link or not a directory" : strerror(e),
                 link ? " (links are not followed; upload the target)" : "");
        goto out;
    }
    struct stat st;
    if (fstat(f->fd, &st) < 0) {
        snprintf(err, HAUL_ERR_LEN, "cannot stat %s: %s", f->path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, HAUL_ERR_LEN, "%s is not a regular file (%s): refusing to upload it", f->path,
                 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" :
                 S_ISSOCK(st.st_mode) ? "a socket" : S_ISCHR(st.st_mode) ? "a character device" :
                 S_ISBLK(st.st_mode) ? "a block device" : "not a file");
        goto out;
    }
    /* Reads block from here on (a regular file never would anyway). */
    fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
    f->size = (long long)st.st_size;
    f->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    rc = 0;
out:
    if (rc < 0) rfile_close(f);
    haul_buf_free(&rel);
    return rc;
}

int rfile_changed(const rfile *f, char *err)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0) {
        snprintf(err, HAUL_ERR_LEN, "cannot stat %s: %s", f->path, strerror(errno));
        return -1;
    }
    long long m = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if ((long long)st.st_size != f->size || m != f->mtime_ns) {
        snprintf(err, HAUL_ERR_LEN, "%s changed while it was read (size %lld, now %lld): "
                 "upload it again once it is written", f->path, f->size, (long long)st.st_size);
        return 1;
    }
    return 0;
}

void rfile_close(rfile *f)
{
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    *f = (rfile)RFILE_INIT;
}
