/* buf.c -- growable byte buffer and the abort-on-OOM allocators. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "haul: out of memory allocating %zu bytes\n", n);
    abort();
}

void haul_oom(void)
{
    fprintf(stderr, "haul: out of memory\n");
    abort();
}

void *haul_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *haul_calloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) oom(n * sz);
    return p;
}

void *haul_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

void haul_errf(char *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, HAUL_ERR_LEN, fmt, ap);
    va_end(ap);
}

int haul_hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void haul_wipe(void *p, size_t n)
{
    if (p && n) explicit_bzero(p, n);
}

void haul_free_secret(char *s)
{
    if (!s) return;
    haul_wipe(s, strlen(s));
    free(s);
}

char *haul_strdup(const char *s)
{
    return s ? haul_strndup(s, strlen(s)) : NULL;
}

char *haul_strndup(const char *s, size_t n)
{
    char *d = haul_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void haul_buf_reserve(haul_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need < b->len) oom((size_t)-1);
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > ((size_t)-1) / 2) { cap = need; break; }
        cap *= 2;
    }
    b->p = haul_realloc(b->p, cap);
    b->cap = cap;
}

void haul_buf_add(haul_buf *b, const void *p, size_t n)
{
    haul_buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void haul_buf_adds(haul_buf *b, const char *s) { haul_buf_add(b, s, strlen(s)); }
void haul_buf_addc(haul_buf *b, char c) { haul_buf_add(b, &c, 1); }

void haul_buf_vprintf(haul_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) return;
    haul_buf_reserve(b, (size_t)n);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void haul_buf_printf(haul_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    haul_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

size_t haul_buf_add_shown(haul_buf *b, const char *s, size_t max)
{
    size_t start = b->len, n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) haul_buf_printf(b, "\\x%02x", c);
        else haul_buf_addc(b, (char)c);
    }
    if (n > max) haul_buf_adds(b, "...");
    return b->len - start;
}

void haul_buf_reset(haul_buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

void haul_buf_free(haul_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *haul_buf_detach(haul_buf *b)
{
    char *p = b->p ? b->p : haul_strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *haul_buf_str(const haul_buf *b) { return b->p ? b->p : ""; }
