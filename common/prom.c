/* prom.c -- Prometheus's text format (prom.h). */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void haul_prom_escape(haul_buf *b, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\') haul_buf_adds(b, "\\\\");
        else if (*p == '"') haul_buf_adds(b, "\\\"");
        else if (*p == '\n') haul_buf_adds(b, "\\n");
        else haul_buf_addc(b, *p);
    }
}

void haul_prom_family(haul_buf *b, const char *name, const char *type, const char *help)
{
    haul_buf_printf(b, "# HELP %s ", name);
    /* HELP text escapes backslash and newline only. */
    for (const char *p = help; *p; p++) {
        if (*p == '\\') haul_buf_adds(b, "\\\\");
        else if (*p == '\n') haul_buf_adds(b, "\\n");
        else haul_buf_addc(b, *p);
    }
    haul_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void labels_out(haul_buf *b, const char *const *labels, const char *le)
{
    int n = 0;
    for (size_t i = 0; labels && labels[i]; i += 2) {
        haul_buf_adds(b, n++ ? "," : "{");
        haul_buf_printf(b, "%s=\"", labels[i]);
        haul_prom_escape(b, labels[i + 1]);
        haul_buf_addc(b, '"');
    }
    if (le) {
        haul_buf_adds(b, n++ ? "," : "{");
        haul_buf_printf(b, "le=\"%s\"", le);
    }
    if (n) haul_buf_addc(b, '}');
}

static void value_out(haul_buf *b, double v)
{
    if (isnan(v)) haul_buf_adds(b, "NaN");
    else if (isinf(v)) haul_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15) haul_buf_printf(b, "%.0f", v);
    else haul_buf_printf(b, "%.9g", v);
}

void haul_prom_sample(haul_buf *b, const char *name, const char *const *labels, double v)
{
    haul_buf_adds(b, name);
    labels_out(b, labels, NULL);
    haul_buf_addc(b, ' ');
    value_out(b, v);
    haul_buf_addc(b, '\n');
}

void haul_prom_sample_ll(haul_buf *b, const char *name, const char *const *labels, long long v)
{
    haul_buf_adds(b, name);
    labels_out(b, labels, NULL);
    haul_buf_printf(b, " %lld\n", v);
}

void haul_prom_histogram(haul_buf *b, const char *name, const char *const *labels,
                         const double *bounds, size_t nb, const long long *counts, double sum)
{
    long long cum = 0;
    char le[64];
    for (size_t i = 0; i <= nb; i++) {
        cum += counts[i];
        if (i < nb) snprintf(le, sizeof le, "%.9g", bounds[i]);
        else snprintf(le, sizeof le, "+Inf");
        haul_buf_printf(b, "%s_bucket", name);
        labels_out(b, labels, le);
        haul_buf_printf(b, " %lld\n", cum);
    }
    haul_buf_printf(b, "%s_sum", name);
    labels_out(b, labels, NULL);
    haul_buf_addc(b, ' ');
    value_out(b, sum);
    haul_buf_addc(b, '\n');
    haul_buf_printf(b, "%s_count", name);
    labels_out(b, labels, NULL);
    haul_buf_printf(b, " %lld\n", cum);
}

/* The codes a store answers often enough to be told apart; the rest by class. */
static const long codes[] = {200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 409, 411,
                             412, 413, 416, 422, 429, 500, 501, 502, 503, 504};
#define NCODES (sizeof codes / sizeof codes[0])
static const char *const code_names[] = {"200", "201", "202", "204", "206", "304", "400", "401",
                                         "403", "404", "405", "409", "411", "412", "413", "416",
                                         "422", "429", "500", "501", "502", "503", "504"};
static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

_Static_assert(HAUL_PROM_NCODES == 1 + NCODES + 5 + 1, "HAUL_PROM_NCODES counts the names");

/* 0: "0"; 1..NCODES: codes[]; then the five classes; then "other". */
int haul_prom_code_index(long http)
{
    if (http == 0) return 0;
    for (size_t i = 0; i < NCODES; i++)
        if (codes[i] == http) return 1 + (int)i;
    if (http >= 100 && http <= 599) return 1 + (int)NCODES + (int)(http / 100 - 1);
    return 1 + (int)NCODES + 5;
}

const char *haul_prom_code_name(int idx)
{
    if (idx == 0) return "0";
    if (idx >= 1 && idx <= (int)NCODES) return code_names[idx - 1];
    if (idx > (int)NCODES && idx <= (int)NCODES + 5) return classes[idx - 1 - (int)NCODES];
    return "other";
}

static const char *const statuses[HAUL_PROM_NSTATUS] = {"ok", "error", "skipped", "would-upload",
                                                        "would-delete", "missing", "mismatch", "other"};

int haul_prom_status_index(const char *status)
{
    for (int i = 0; status && i < HAUL_PROM_NSTATUS - 1; i++)
        if (!strcmp(status, statuses[i])) return i;
    return HAUL_PROM_NSTATUS - 1;
}

const char *haul_prom_status_name(int idx)
{
    return idx >= 0 && idx < HAUL_PROM_NSTATUS ? statuses[idx] : "other";
}
