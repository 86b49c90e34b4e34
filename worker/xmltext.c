/* xmltext.c -- escaping and reading flat XML elements (xmltext.h). */
#define _GNU_SOURCE /* memmem */
#include "xmltext.h"

#include <stdio.h>
#include <string.h>

void xmltext_escape(haul_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': haul_buf_adds(b, "&amp;"); break;
        case '<': haul_buf_adds(b, "&lt;"); break;
        case '>': haul_buf_adds(b, "&gt;"); break;
        case '"': haul_buf_adds(b, "&quot;"); break;
        default: haul_buf_addc(b, *s);
        }
    }
}

const char *xmltext_field(const char *p, const char *end, const char *tag, haul_buf *out)
{
    static const struct { const char *e; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    if (!p || p >= end) return NULL;
    const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
    if (!a) return NULL;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b) return NULL;
    haul_buf_reset(out);
    for (const char *q = a; q < b; q++) {
        size_t k;
        for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
            size_t el = strlen(ents[k].e);
            if ((size_t)(b - q) >= el && !memcmp(q, ents[k].e, el)) {
                haul_buf_addc(out, ents[k].c);
                q += el - 1;
                break;
            }
        }
        if (k == sizeof ents / sizeof ents[0]) haul_buf_addc(out, *q);
    }
    return b + strlen(close);
}
