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
 *   UTF-8 and never holds a raw newline, whatever bytes the value held. */
#ifndef HAUL_OUTPUT_H
#define HAUL_OUTPUT_H

#include <stddef.h>

#include "buf.h"

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
} haul_row;

/* CSV: appends "key,status,http,value,bytes,error\n". JSONL: appends nothing. */
void haul_out_header(haul_buf *b, haul_fmt f);

/* Appends one line, '\n' included. */
void haul_out_row(haul_buf *b, haul_fmt f, const haul_row *r);

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
