/* sources.h -- where a write job's keys come from: a directory walked
 * (put --from-dir), a "path<TAB>key" file (put --keys), a manifest CSV
 * (verify --manifest). No Redis and no store, so the tests drive them on
 * files. Each reads as it goes: none holds the whole job in memory.
 *
 * Every function that can fail returns -1 (or NULL) with a sentence in err
 * (HAUL_ERR_LEN bytes) naming the file, the line or the path. */
#ifndef HAUL_SOURCES_H
#define HAUL_SOURCES_H

#include <stdio.h>

#include "buf.h"

/* ---- a directory, walked ---------------------------------------------------
 * Depth first, each directory's entries sorted by their bytes (strcmp), so
 * the order is the same on every run and every file system. Every entry that
 * is not a directory is given -- regular files, and also symbolic links (never
 * followed, to a directory neither), fifos, sockets, devices: the worker
 * refuses those with a row of their own, so no entry goes unaccounted.
 * Memory: the sorted names of one directory per level of depth. */
typedef struct haul_walk haul_walk;

/* root is copied. NULL with err when it cannot be opened as a directory. */
haul_walk *haul_walk_new(const char *root, char *err);
/* The next entry: 1 with *rel its path relative to root, '/'-separated
 * (valid until the next call); 0 when every entry was given; -1 with err
 * when a directory cannot be read -- then the walk stops, and a caller must
 * not go on as if the rest were empty. */
int haul_walk_next(haul_walk *w, const char **rel, char *err);
/* The same, with the entry's size: -1 when it is not a regular file. */
int haul_walk_next_size(haul_walk *w, const char **rel, long long *size, char *err);
void haul_walk_free(haul_walk *w); /* NULL ok */

/* A put's key for the file at rel: prefix (NULL: none) then rel, into key
 * (reset first). -1 with err when the key is longer than HAUL_KEY_MAX, or rel
 * than HAUL_STR_MAX, or either holds a control byte (a newline would end a
 * row of a keys file or a log): such a name is refused, not mangled. */
int haul_put_key(const char *prefix, const char *rel, haul_buf *key, char *err);

/* ---- "path<TAB>key" lines ------------------------------------------------
 * line: one line of a put's keys file without its line end, modified in
 * place. Split at the first tab: *path before it, *key after it (a key may
 * hold tabs, a path not). -1 with err naming the file and lineno when there
 * is no tab, or the path or the key is empty. */
int haul_pair_parse(char *line, const char *file, long long lineno, const char **path,
                    const char **key, char *err);

/* ---- a manifest: CSV with a header ---------------------------------------
 * RFC 4180: fields separated by ',', quoted with '"' (doubled inside), quoted
 * fields may hold ',', '"', CR and LF; records end in LF or CRLF; a UTF-8
 * BOM before the header is ignored. The header names the columns, found by
 * name in any order and case: `key` (required), `size` or `bytes`, `md5`,
 * `status`; the others are ignored. So the log of a put (--out) is a
 * manifest as it is. Per record:
 *   - an empty line is skipped;
 *   - with a `status` column, a record whose status is not `ok` or `skipped`
 *     (a failed upload, a dry run's would-upload) is skipped and counted: it
 *     says nothing about what the store holds;
 *   - size: empty -> -1 (not checked), else a whole number;
 *   - md5: empty -> "" (not checked), else 32 hex digits (either case;
 *     given lowercase).
 * Anything else -- a key column missing, an empty key, a bad size or md5, a
 * record with fewer fields than the column it needs, an unterminated quote
 * -- is an error naming the file and the line the record starts on. */
typedef struct haul_manifest haul_manifest;

/* Reads the header from f (not closed by haul_manifest_free); name is for
 * sentences, copied. */
haul_manifest *haul_manifest_new(FILE *f, const char *name, char *err);
/* 1 with the next record's key (NUL-free, *klen bytes), size and md5 (valid
 * until the next call); 0 at the end; -1 (err). */
int haul_manifest_next(haul_manifest *m, const char **key, size_t *klen, long long *size,
                       const char **md5, char *err);
long long haul_manifest_skipped(const haul_manifest *m); /* records skipped for their status */
void haul_manifest_free(haul_manifest *m);               /* NULL ok */

#endif
