/* files.h -- the files a worker writes, every one beneath its --out-root.
 *
 * A task names an output directory (args.out_dir) and keys; it is untrusted
 * input. This module turns (out_dir, key) into a file beneath the worker's
 * root and nowhere else: an absolute out_dir must lie lexically beneath the
 * root (a relative one is taken from the root), no path segment may be "",
 * "." or "..", and the directories are resolved from the root's descriptor
 * without following any symbolic link (openat2 with RESOLVE_BENEATH and
 * RESOLVE_NO_SYMLINKS; where the kernel or a seccomp filter refuses openat2,
 * the same walk one segment at a time with O_NOFOLLOW). Missing directories
 * are made on the way, the same way.
 *
 * A body is written to a temporary file of its own in the target directory,
 * created with O_EXCL (so two transfers of one key, in this worker or
 * another, never share one), and renamed over the final name once the
 * caller has verified it. The directories of the last few files stay open
 * for a second (files.c: a tree of small objects writes many files per
 * directory). With fsync on, the file and then its directory are
 * fsync'ed before the caller reports the key ok. */
#ifndef HAUL_WORKER_FILES_H
#define HAUL_WORKER_FILES_H

#include <stddef.h>

typedef struct wfiles wfiles;

/* The root: made absolute and canonical (realpath) and opened once. NULL
 * with a sentence naming it when it is not a directory this user can open. */
wfiles *wfiles_open(const char *root, int fsync_files, char *err);
void wfiles_close(wfiles *fs);                   /* NULL ok */
const char *wfiles_root(const wfiles *fs);       /* the canonical root */
/* Tests: resolve with the segment-by-segment walk even where openat2 works. */
void wfiles_force_walk(wfiles *fs);

typedef struct wfile {
    int dirfd;          /* the directory the file goes in; -1 when closed */
    struct wdir *dir;   /* the cache entry dirfd belongs to (files.c); NULL: owned */
    int fd;             /* the temporary file; -1 when closed */
    char tmp[48];       /* its name in dirfd */
    char *name;         /* the final name in dirfd (owned) */
    char *path;         /* root/.../name, for result rows and messages (owned) */
} wfile;
#define WFILE_INIT {-1, NULL, -1, "", NULL, NULL}

/* A new temporary file for key under out_dir. -1 with a sentence (naming the
 * out dir and key as given, and what is wrong) and nothing left open. */
int wfile_create(wfiles *fs, const char *out_dir, const char *key, wfile *f, char *err);
/* Write all n bytes (retrying short writes). -1 with a sentence. */
int wfile_write(wfile *f, const void *p, size_t n, char *err);
/* Close, fsync when asked, rename the temporary file over the final name.
 * The wfile is closed in every case; f->path stays for the caller (free it
 * with wfile_abort). -1 with a sentence, the temporary file removed. */
int wfile_commit(wfiles *fs, wfile *f, char *err);
/* Close and remove the temporary file, if any; free the names. */
void wfile_abort(wfile *f);

/* ---- files read (put) --------------------------------------------------
 * The same rules beneath the worker's --in-root: a task's src_dir (absolute
 * and lexically beneath the root, or relative to it) and each src (relative
 * to src_dir; or, without one, absolute beneath the root or relative to it)
 * are resolved from the root's descriptor without following any symbolic
 * link, with no "", "." or ".." segment, and only a regular file is opened.
 * Nothing is made and nothing is written. */
typedef struct rfile {
    int fd;             /* open for reading; -1 when closed */
    long long size;     /* at opening */
    long long mtime_ns; /* at opening */
    char *path;         /* root/..., for rows and messages (owned) */
} rfile;
#define RFILE_INIT {-1, 0, 0, NULL}

/* The read root (a wfiles whose messages name --in-root). */
wfiles *rfiles_open(const char *root, char *err);
/* Open the file of one key. -1 with a sentence (naming the file and what is
 * wrong: missing, a link, not a regular file, outside the root, no
 * permission) and nothing left open. */
int rfile_open(wfiles *fs, const char *src_dir, const char *src, rfile *f, char *err);
/* 1 with a sentence when the file's size or modification time differ from
 * those at opening (it was written meanwhile), 0 when not, -1 on error. */
int rfile_changed(const rfile *f, char *err);
void rfile_close(rfile *f);

#endif
