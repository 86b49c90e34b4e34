/* fuzz.h -- what the libFuzzer targets in tests/fuzz/ share.
 *
 * A target checks the contract its module's header promises, not merely that
 * nothing crashed: a broken promise prints which one and aborts, which
 * libFuzzer reports as a crash and saves the input that caused it. */
#ifndef HAUL_FUZZ_H
#define HAUL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "listing.h"

#define FUZZ_CHECK(cond, ...) do {                                          \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: broken promise: %s: ", __FILE__,       \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_task's key (HAUL_SEAL_KEY_LEN bytes), with which gen_seeds.c seals its
 * seeds: fixed, so that the sealed seeds open. */
#define FUZZ_TASK_KEY {                                                     \
        0x68, 0x61, 0x75, 0x6c, 0x2d, 0x66, 0x75, 0x7a,                     \
        0x7a, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31,                     \
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,                     \
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,                     \
    }

/* NULL and NULL are equal; NULL and "" are not. */
static inline int fuzz_streq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static inline const char *fuzz_str(const char *s) { return s ? s : "(null)"; }

/* 1 when s[0..n) is well-formed UTF-8: shortest forms only, no surrogates,
 * nothing over U+10FFFF. */
static inline int fuzz_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        size_t more;
        uint32_t cp, min;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf) { more = 1; cp = c & 0x1f; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { more = 2; cp = c & 0x0f; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { more = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if ((size_t)(end - p) < more) return 0;
        for (size_t i = 0; i < more; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        p += more;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    }
    return 1;
}

/* What every listing parser promises about the page it returns (listing.h):
 * a whole page with sane entries on success, an empty one and a sentence on
 * failure. */
static inline void fuzz_check_page(const char *what, int rc, const haul_list_page *p,
                                   const char *err)
{
    FUZZ_CHECK(rc == 0 || rc == -1, "%s returned %d", what, rc);
    if (rc < 0) {
        FUZZ_CHECK(p->v == NULL && p->n == 0 && p->truncated == 0 && p->next == NULL,
                   "%s failed but left a page (%zu entries)", what, p->n);
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', HAUL_ERR_LEN) != NULL,
                   "%s failed without a sentence", what);
        return;
    }
    FUZZ_CHECK(p->n <= HAUL_LIST_MAX_ENTRIES, "%s: %zu entries", what, p->n);
    FUZZ_CHECK(p->n == 0 || p->v != NULL, "%s: %zu entries at NULL", what, p->n);
    FUZZ_CHECK(p->truncated == 0 || p->truncated == 1, "%s: truncated = %d", what,
               p->truncated);
    FUZZ_CHECK(!p->truncated == !p->next, "%s: truncated = %d but next = %s", what,
               p->truncated, fuzz_str(p->next));
    for (size_t i = 0; i < p->n; i++) {
        const haul_list_entry *e = &p->v[i];
        FUZZ_CHECK(e->name && e->name[0], "%s: entry [%zu] has no name", what, i);
        FUZZ_CHECK(strlen(e->name) <= HAUL_LIST_MAX_NAME, "%s: entry [%zu]: %zu-byte name",
                   what, i, strlen(e->name));
    }
}

#endif
