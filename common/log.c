/* log.c -- leveled logging to stderr with secret redaction. */
#include "log.h"
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int haul_log_level = HAUL_LOG_INFO;
static const char *prog = "haul";

/* Secrets are few (one set of credentials per store a worker talks to), so a
 * small fixed table searched linearly is enough; when it is full the oldest
 * entry is replaced. */
#define MAX_SECRETS 64
static char *secrets[MAX_SECRETS];
static size_t nsecrets, next_slot;

void haul_log_init(const char *program) { prog = program; }

int haul_log_set_level(const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, names[i]) == 0) { haul_log_level = i; return 0; }
    return -1;
}

void haul_log_secret(const char *s)
{
    if (!s || strlen(s) < 4) return;
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], s) == 0) return;
    if (nsecrets < MAX_SECRETS) {
        secrets[nsecrets++] = haul_strdup(s);
    } else {
        haul_free_secret(secrets[next_slot]);
        secrets[next_slot] = haul_strdup(s);
        next_slot = (next_slot + 1) % MAX_SECRETS;
    }
    /* Keep the table sorted longest first (insertion sort: it is tiny). */
    for (size_t i = 1; i < nsecrets; i++)
        for (size_t j = i; j > 0 && strlen(secrets[j]) > strlen(secrets[j - 1]); j--) {
            char *t = secrets[j]; secrets[j] = secrets[j - 1]; secrets[j - 1] = t;
        }
}

void haul_redact(char *s)
{
    if (!s) return;
    /* Longest first, so a secret that starts with a shorter one is not left
     * with its tail showing. */
    for (size_t i = 0; i < nsecrets; i++) {
        size_t n = strlen(secrets[i]);
        char *p;
        while ((p = strstr(s, secrets[i])) != NULL) {
            /* "***" is never longer than a secret (n >= 4), so this shrinks. */
            memcpy(p, "***", 3);
            memmove(p + 3, p + n, strlen(p + n) + 1);
        }
    }
}

void haul_log_emit(int level, const char *fmt, ...)
{
    static const char *lv[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char small[2048], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    /* The whole line first, then redaction, then the cut: cutting first
     * could leave the start of a secret that no longer matches whole. */
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    char *line = small;
    if (n >= (int)sizeof small) {
        line = haul_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    haul_redact(line);
    size_t len = strlen(line);
    int cut = len > HAUL_LOG_LINE_MAX;
    /* One write of the whole line, so lines of processes sharing stderr
     * do not interleave. */
    haul_buf out = HAUL_BUF_INIT;
    haul_buf_printf(&out, "%s.%03dZ %s[%d] %s ", ts, (int)(tv.tv_usec / 1000), prog,
                    (int)getpid(), lv[level < 0 ? 0 : level > 3 ? 3 : level]);
    haul_buf_add(&out, line, cut ? HAUL_LOG_LINE_MAX : len);
    haul_buf_adds(&out, cut ? "...\n" : "\n");
    fwrite(out.p, 1, out.len, stderr);
    haul_wipe(out.p, out.len);
    haul_buf_free(&out);
    if (line != small) {
        haul_wipe(line, len);
        free(line);
    }
    haul_wipe(small, sizeof small);
}
