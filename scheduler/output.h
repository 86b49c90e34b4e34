/* output.h -- result rows as CSV or JSON Lines.
 *
 * The scheduler appends one line per finished task to a haul_buf and writes
 * the buffer out; this module only formats, so its tests check bytes. Every
 * function appends to b and never fails (haul_buf aborts on out of memory).
 *
 * CSV (RFC 4180, but lines end in "\n"): header key,status,http,value,bytes,error,verified.
 *   A field holding ',', '"', CR or LF is quoted and its quotes doubled. Bytes
 *   are written as they are, NUL and invalid UTF-8 included: CSV has no escape
 *   for them, and a reader that cares should ask for JSON Lines. An absent
 *   (NULL) string is an empty field; a present but empty one is written "" so
 *   the two stay apart (PostgreSQL's COPY reads them as NULL and ''). http 0
 *   (no request made) and bytes -1 (unknown) are empty fields too. The value
 *   column holds the path of the worker's file when value is NULL.
 *
 * JSON Lines: one object per line, always the same members in this order:
 *   key, status, http, value, bytes, error, verified, ms, worker, task, tries
 *   Absent strings, http 0, bytes -1 and ms -1 are null, so every line has
 *   every member. When value is NULL and path is set, the fourth member is
 *   "path" instead of "value"; when both are set, value wins.
 *   Strings are escaped by haul_json_string() below, so a line is always valid
 *   UTF-8 and never holds a raw newline, whatever bytes the value held.
 *
 * The write ops (put, delete, verify) have columns of their own, so that a
 * put's log is itself a manifest for --op verify --manifest:
 *   CSV:   key,status,http,size,md5,etag,error,verified
 *   JSONL: key, status, http, size, md5, etag, error, verified, ms, worker, task, tries
 *   size is the entry's `bytes` (empty / null when -1); md5 and etag are
 *   absent (empty / null) when the worker did not say. The same rules for
 *   quoting, escaping and absent values apply. */
#ifndef HAUL_OUTPUT_H
#define HAUL_OUTPUT_H

#include <stddef.h>

#include "buf.h"
#include "task.h"

typedef enum { HAUL_FMT_CSV = 0, HAUL_FMT_JSONL = 1 } haul_fmt;

/* One result. Nothing is copied or kept: the strings only need to live for
 * the call. NULL/absent strings are written as empty (CSV) or null (JSONL). */
typedef struct haul_row {
    const char *key; size_t key_len;     /* may hold any bytes */
    const char *status;                  /* "ok" | "error" */
    long http;                           /* HTTP status, 0 when no request was made */
    const char *value; size_t value_len; /* may hold any bytes incl. NUL and invalid UTF-8 */
    const char *path;                    /* file written by the worker, or NULL */
    long long bytes;                     /* -1 = unknown */
    const char *error;                   /* NULL when ok */
    const char *worker, *task;           /* JSONL only */
    long long ms;                        /* JSONL only, -1 unknown */
    long long tries;                     /* JSONL only: attempts made, 0 unknown */
    const char *verified;                /* get: "md5", "segments", "parts" or "none"; NULL
                                            (empty / null) when the worker did not say */
    /* The write ops' columns (last, so a read row's initialisers stay as they were). */
    const char *md5;                     /* put: the file's MD5; verify --deep: the body's */
    const char *etag;                    /* put: the ETag the store returned; verify: the object's */
} haul_row;

/* Which columns: those of the read ops, or those of put, delete and verify. */
typedef enum { HAUL_COLS_READ = 0, HAUL_COLS_WRITE = 1 } haul_cols;

/* The columns an op's rows have. */
haul_cols haul_out_cols(haul_op op);

/* CSV: appends "key,status,http,value,bytes,error,verified\n". JSONL: appends nothing. */
void haul_out_header(haul_buf *b, haul_fmt f);
/* The same for the given columns (HAUL_COLS_READ: haul_out_header). */
void haul_out_header_cols(haul_buf *b, haul_fmt f, haul_cols cols);

/* Appends one line, '\n' included. */
void haul_out_row(haul_buf *b, haul_fmt f, const haul_row *r);
/* The same for the given columns (HAUL_COLS_READ: haul_out_row). */
void haul_out_row_cols(haul_buf *b, haul_fmt f, haul_cols cols, const haul_row *r);

/* The statuses a row may have, as static strings (rows held for later keep
 * these, not the entry's bytes): "ok", "error", "skipped", "would-upload",
 * "would-delete", "missing", "mismatch". Anything else is "error". */
const char *haul_status_name(const char *status);

/* Whether a row of op with this status counts as a success (the job's `ok`)
 * or a failure (`errors`, exit 1). ok, skipped, would-upload and would-delete
 * succeed; missing succeeds for delete (the key is gone, as asked) and fails
 * for verify; mismatch and error fail. */
int haul_status_ok(haul_op op, const char *status);

/* Appends s[0..n) as one CSV field (see above); NULL appends nothing. */
void haul_csv_field(haul_buf *b, const char *s, size_t n);

/* Appends s[0..n) as a JSON string, quotes included; NULL appends null.
 * Valid UTF-8 passes through unchanged. '"' and '\\' are escaped, control
 * characters (U+0000..U+001F, NUL included) become \b \f \n \r \t or \u00XX.
 * Every byte that does not start a valid, shortest-form UTF-8 sequence of a
 * scalar value becomes U+FFFD, one per byte: so overlong forms (C0 AF),
 * UTF-16 surrogates (ED A0 80), code points above U+10FFFF and truncated
 * sequences are replaced byte by byte, and the output is always valid UTF-8.
 * (U+FFFD rather than \u00XX of the byte: \u00XX would silently turn the
 * byte into a different, valid character, e.g. 0xE9 into 'é'.) */
void haul_json_string(haul_buf *b, const char *s, size_t n);

#endif
