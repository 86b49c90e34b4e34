/* log.h -- one line per event, to stderr, with secrets redacted.
 *
 * haul_log() checks the level before formatting anything. Every line is
 * passed through the redactor before it is written: a program registers each
 * secret it learns (keys, tokens, passwords) with haul_log_secret(), and any
 * occurrence of one in a log line is replaced by "***". Callers should not log
 * secrets in the first place; the redactor is the net under them. */
#ifndef HAUL_LOG_H
#define HAUL_LOG_H

#include <stddef.h>

/* A log line is cut at this many bytes, after secrets are redacted. */
#define HAUL_LOG_LINE_MAX 2047

enum { HAUL_LOG_DEBUG = 0, HAUL_LOG_INFO = 1, HAUL_LOG_WARN = 2, HAUL_LOG_ERROR = 3 };

extern int haul_log_level;

#define haul_log(lvl, ...) do {                                   \
        if ((lvl) >= haul_log_level) haul_log_emit((lvl), __VA_ARGS__); \
    } while (0)
#define log_debug(...) haul_log(HAUL_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  haul_log(HAUL_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  haul_log(HAUL_LOG_WARN, __VA_ARGS__)
#define log_error(...) haul_log(HAUL_LOG_ERROR, __VA_ARGS__)

void haul_log_emit(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "worker" / "scheduler": shown on every line. The string is not copied. */
void haul_log_init(const char *program);
/* "debug", "info", "warn", "error": 0, or -1 when unknown. */
int haul_log_set_level(const char *name);
/* Remember a secret to redact (copied; strings under 4 bytes are ignored
 * because redacting them would mangle ordinary text). NULL ok. */
void haul_log_secret(const char *s);
/* Replace every registered secret in s (NUL-terminated, edited in place). */
void haul_redact(char *s);

#endif
