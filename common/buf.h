/* buf.h -- growable byte buffer, always NUL-terminated.
 *
 * The one place haul grows memory for bytes of unknown length (HTTP bodies,
 * encoded tasks, CSV rows). Out of memory is fatal everywhere in haul: the
 * allocation helpers below log and abort, like Redis' zmalloc, so callers never
 * check for NULL from them. */
#ifndef HAUL_BUF_H
#define HAUL_BUF_H

#include <stddef.h>
#include <stdarg.h>

#define HAUL_ERR_LEN 512   /* size of every caller-provided error buffer */

typedef struct haul_buf {
    char *p;        /* data, NUL-terminated (p[len] == 0) once anything was added */
    size_t len;     /* bytes used, not counting the terminator */
    size_t cap;     /* bytes allocated */
} haul_buf;

#define HAUL_BUF_INIT {NULL, 0, 0}

/* A sentence into a caller's error buffer of HAUL_ERR_LEN bytes; err may be
 * NULL (the caller does not want it). */
void haul_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Out of memory where a library allocated (hiredis, curl): log and abort,
 * as the helpers below do. */
void haul_oom(void) __attribute__((noreturn));
void *haul_malloc(size_t n);              /* aborts on OOM */
void *haul_calloc(size_t n, size_t sz);   /* aborts on OOM or overflow */
void *haul_realloc(void *p, size_t n);    /* aborts on OOM */
char *haul_strdup(const char *s);         /* NULL in, NULL out */
char *haul_strndup(const char *s, size_t n);
/* For memory that held a secret: zero it in a way the compiler cannot drop
 * (explicit_bzero), then (haul_free_secret) free it. NULL ok. */
void haul_wipe(void *p, size_t n);
void haul_free_secret(char *s);
/* The value of one hex digit (either case), or -1. */
int haul_hexval(int c);

void haul_buf_reserve(haul_buf *b, size_t extra);
void haul_buf_add(haul_buf *b, const void *p, size_t n);
void haul_buf_adds(haul_buf *b, const char *s);
void haul_buf_addc(haul_buf *b, char c);
void haul_buf_printf(haul_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void haul_buf_vprintf(haul_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* s as it may be shown to a person (a terminal, a log line): at most max of
 * its bytes, "..." after when cut; control bytes (below 0x20, and 0x7f) as
 * \xNN, so what a string holds can neither move the cursor nor start a line.
 * Returns the number of characters appended. NULL is "". */
size_t haul_buf_add_shown(haul_buf *b, const char *s, size_t max);
void haul_buf_reset(haul_buf *b);        /* len = 0, keeps memory */
void haul_buf_free(haul_buf *b);         /* frees memory, back to HAUL_BUF_INIT */
char *haul_buf_detach(haul_buf *b);      /* caller owns the returned string */
const char *haul_buf_str(const haul_buf *b); /* "" when empty */

#endif
