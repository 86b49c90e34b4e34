/* fuzz_auth_headers.c -- haul_swift_auth_header() (common/store.h) against
 * arbitrary header lines.
 *
 * The input is an auth v1.0 response's headers, one per '\n'-terminated line,
 * handed over the way libcurl's header callback hands them: each line with its
 * line ending, in a buffer of exactly its length and without a NUL after it
 * (so a read past the end is caught), into one token and one URL buffer that
 * live for the whole response. Checked after each line: a line is taken (1)
 * exactly when its name is X-Auth-Token or X-Storage-Url, in any case, and
 * the value is well-formed, and then the value stored is the trimmed,
 * printable text of the line; otherwise (0 or -1) nothing is stored. */
#include <strings.h>

#include "fuzz.h"
#include "store.h"
#include "task.h" /* HAUL_STR_MAX */

typedef struct snap { char *p; size_t len; } snap;

static snap take(const haul_buf *b)
{
    snap s = {malloc(b->len + 1), b->len};
    FUZZ_CHECK(s.p != NULL, "malloc");
    memcpy(s.p, haul_buf_str(b), b->len + 1);
    return s;
}

static int same(const snap *s, const haul_buf *b)
{
    return s->len == b->len && memcmp(s->p, haul_buf_str(b), b->len) == 0;
}

static int named(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static void check_value(const haul_buf *b, const char *line, size_t len)
{
    const char *v = haul_buf_str(b);
    FUZZ_CHECK(v[b->len] == '\0', "value not NUL-terminated");
    FUZZ_CHECK(b->len <= HAUL_STR_MAX, "%zu-byte value", b->len);
    for (size_t i = 0; i < b->len; i++)
        FUZZ_CHECK((unsigned char)v[i] >= 0x20 && v[i] != 0x7f,
                   "control byte 0x%02x at %zu of the value", (unsigned char)v[i], i);
    /* The text after the colon, without the blanks around it or the line end. */
    const char *colon = memchr(line, ':', len), *s = colon + 1, *e = line + len;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    FUZZ_CHECK(b->len == (size_t)(e - s) && memcmp(v, s, b->len) == 0,
               "stored \"%s\" for \"%.*s\"", v, (int)(len < 80 ? len : 80), line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    haul_buf token = HAUL_BUF_INIT, url = HAUL_BUF_INIT;
    size_t at = 0;

    while (at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (data + at)) + 1 : size - at;
        char *line = malloc(len);
        FUZZ_CHECK(line != NULL, "malloc(%zu)", len);
        memcpy(line, data + at, len);
        at += len;

        snap t0 = take(&token), u0 = take(&url);
        int rc = haul_swift_auth_header(line, len, &token, &url);
        int is_token = named(line, len, "X-Auth-Token");
        int is_url = named(line, len, "X-Storage-Url");

        FUZZ_CHECK(rc >= -1 && rc <= 1, "returned %d", rc);
        FUZZ_CHECK((rc != 0) == (is_token || is_url), "returned %d for \"%.*s\"", rc,
                   (int)(len < 80 ? len : 80), line);
        if (rc == 1) {
            FUZZ_CHECK(is_token ? same(&u0, &url) : same(&t0, &token),
                       "stored into the other buffer too");
            check_value(is_token ? &token : &url, line, len);
        } else {
            FUZZ_CHECK(same(&t0, &token) && same(&u0, &url), "returned %d but stored", rc);
        }
        free(t0.p);
        free(u0.p);
        free(line);
    }
    haul_buf_free(&url);
    haul_buf_free(&token);
    return 0;
}
