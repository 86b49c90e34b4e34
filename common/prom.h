/* prom.h -- Prometheus's text exposition format (version 0.0.4), written
 * into a buffer. No I/O: the worker's /metrics and the scheduler's `serve`
 * both render with it, and the unit tests read the text back.
 *
 * A family is a "# HELP" and a "# TYPE" line, then its samples. Label values
 * are escaped here (backslash, double quote, newline), so any string may be
 * one; the names of metrics and labels are the caller's constants. Callers
 * keep label sets bounded: op, store kind, status, a bounded set of HTTP
 * codes, queue and job names that exist in Redis -- never a key or a bucket. */
#ifndef HAUL_PROM_H
#define HAUL_PROM_H

#include "buf.h"

#define HAUL_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help\n# TYPE name type\n"; type: counter, gauge, histogram. */
void haul_prom_family(haul_buf *b, const char *name, const char *type, const char *help);

/* One sample: name{l1="v1",l2="v2"} value. labels: NULL, or pairs of name
 * and value ended by a NULL name. A value is written as an integer when it is
 * one, else with 9 significant digits; NaN and infinities as Prometheus
 * spells them. */
void haul_prom_sample(haul_buf *b, const char *name, const char *const *labels, double v);
/* The same for a counter kept as an integer (exact beyond 2^53). */
void haul_prom_sample_ll(haul_buf *b, const char *name, const char *const *labels, long long v);

/* A histogram's samples: name_bucket{...,le="B"} for each of the nb upper
 * bounds (ascending) and le="+Inf", each the count of observations at or
 * below it (cumulative), then name_sum and name_count. counts holds nb + 1
 * per-bucket (not cumulative) counts, the last one above every bound. */
void haul_prom_histogram(haul_buf *b, const char *name, const char *const *labels,
                         const double *bounds, size_t nb, const long long *counts, double sum);

/* A label value, escaped (the text between the quotes). */
void haul_prom_escape(haul_buf *b, const char *v);

/* The bounded label value for an HTTP status: the code itself for the
 * common ones ("200", "404", "503", ...), "0" for no answer, else its class
 * ("2xx", "4xx", ...; "other" outside 100..599). Static strings. The index
 * (0 .. HAUL_PROM_NCODES-1) lets a caller keep counts in an array. */
#define HAUL_PROM_NCODES 30
int haul_prom_code_index(long http);
const char *haul_prom_code_name(int idx);

/* The same for a result row's status (docs/protocol.md: ok, error, skipped,
 * would-upload, would-delete, missing, mismatch; anything else "other"). */
#define HAUL_PROM_NSTATUS 8
int haul_prom_status_index(const char *status);
const char *haul_prom_status_name(int idx);

#endif
