/* output.c -- result rows as CSV or JSON Lines. See output.h for the formats. */
#include "output.h"

#include <string.h>

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD in UTF-8 */

static const char csv_header[] = "key,status,http,value,bytes,error,verified\n";
static const char csv_header_write[] = "key,status,http,size,md5,etag,error,verified\n";

haul_cols haul_out_cols(haul_op op)
{
    return op == HAUL_OP_PUT || op == HAUL_OP_DELETE || op == HAUL_OP_VERIFY ? HAUL_COLS_WRITE
                                                                            : HAUL_COLS_READ;
}

void haul_out_header(haul_buf *b, haul_fmt f)
{
    if (f == HAUL_FMT_CSV) haul_buf_add(b, csv_header, sizeof csv_header - 1);
}

void haul_out_header_cols(haul_buf *b, haul_fmt f, haul_cols cols)
{
    if (cols == HAUL_COLS_READ) haul_out_header(b, f);
    else if (f == HAUL_FMT_CSV) haul_buf_add(b, csv_header_write, sizeof csv_header_write - 1);
}

static const char *const statuses[] = {"ok", "error", "skipped", "would-upload", "would-delete",
                                       "missing", "mismatch"};

const char *haul_status_name(const char *status)
{
    for (size_t i = 0; status && i < sizeof statuses / sizeof statuses[0]; i++)
        if (!strcmp(status, statuses[i])) return statuses[i];
    return "error";
}

int haul_status_ok(haul_op op, const char *status)
{
    const char *s = haul_status_name(status);
    if (!strcmp(s, "missing")) return op == HAUL_OP_DELETE;
    return strcmp(s, "error") && strcmp(s, "mismatch");
}

void haul_csv_field(haul_buf *b, const char *s, size_t n)
{
    if (!s) return;
    int quote = n == 0; /* "" keeps an empty string apart from an absent one */
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        haul_buf_add(b, s, n);
        return;
    }
    haul_buf_reserve(b, n + 2);
    haul_buf_addc(b, '"');
    const char *end = s + n;
    while (s < end) {
        const char *q = memchr(s, '"', (size_t)(end - s));
        if (!q) {
            haul_buf_add(b, s, (size_t)(end - s));
            break;
        }
        haul_buf_add(b, s, (size_t)(q - s) + 1); /* up to and including the quote ... */
        haul_buf_addc(b, '"');                   /* ... which is doubled */
        s = q + 1;
    }
    haul_buf_addc(b, '"');
}

/* The length of the valid UTF-8 sequence at p (Unicode 15, table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if there is none.
 * Only called for p[0] >= 0x80. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF; /* the range allowed for the second byte */
    size_t len;

    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* below: overlong */
        else if (c == 0xED) hi = 0x9F; /* above: surrogates D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* below: overlong */
        else if (c == 0xF4) hi = 0x8F; /* above: beyond U+10FFFF */
    } else {
        return 0;                      /* 80..C1 and F5..FF never start one */
    }
    if (avail < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return len;
}

void haul_json_string(haul_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        haul_buf_add(b, "null", 4);
        return;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    const unsigned char *run = p; /* start of bytes that pass through unchanged */

    haul_buf_reserve(b, n + 2);
    haul_buf_addc(b, '"');
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t len = utf8_len(p, (size_t)(end - p));
            if (len) {
                p += len;
                continue;
            }
        }
        haul_buf_add(b, run, (size_t)(p - run));
        switch (c) {
        case '"':  haul_buf_add(b, "\\\"", 2); break;
        case '\\': haul_buf_add(b, "\\\\", 2); break;
        case '\b': haul_buf_add(b, "\\b", 2); break;
        case '\f': haul_buf_add(b, "\\f", 2); break;
        case '\n': haul_buf_add(b, "\\n", 2); break;
        case '\r': haul_buf_add(b, "\\r", 2); break;
        case '\t': haul_buf_add(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                haul_buf_add(b, u, sizeof u);
            } else {
                haul_buf_add(b, REPLACEMENT, 3); /* one per invalid byte */
            }
            break;
        }
        run = ++p;
    }
    haul_buf_add(b, run, (size_t)(p - run));
    haul_buf_addc(b, '"');
}

static void csv_str(haul_buf *b, const char *s)
{
    if (s) haul_csv_field(b, s, strlen(s));
}

static void csv_row(haul_buf *b, const haul_row *r)
{
    haul_csv_field(b, r->key, r->key_len);
    haul_buf_addc(b, ',');
    csv_str(b, r->status);
    haul_buf_addc(b, ',');
    if (r->http > 0) haul_buf_printf(b, "%ld", r->http);
    haul_buf_addc(b, ',');
    if (r->value) haul_csv_field(b, r->value, r->value_len);
    else csv_str(b, r->path);
    haul_buf_addc(b, ',');
    if (r->bytes >= 0) haul_buf_printf(b, "%lld", r->bytes);
    haul_buf_addc(b, ',');
    csv_str(b, r->error);
    haul_buf_addc(b, ',');
    csv_str(b, r->verified);
    haul_buf_addc(b, '\n');
}

static void json_str(haul_buf *b, const char *s)
{
    haul_json_string(b, s, s ? strlen(s) : 0);
}

static void json_num(haul_buf *b, long long v, int present)
{
    if (present) haul_buf_printf(b, "%lld", v);
    else haul_buf_add(b, "null", 4);
}

static void jsonl_row(haul_buf *b, const haul_row *r)
{
    haul_buf_adds(b, "{\"key\":");
    haul_json_string(b, r->key, r->key_len);
    haul_buf_adds(b, ",\"status\":");
    json_str(b, r->status);
    haul_buf_adds(b, ",\"http\":");
    json_num(b, r->http, r->http > 0);
    if (r->value || !r->path) {
        haul_buf_adds(b, ",\"value\":");
        haul_json_string(b, r->value, r->value_len);
    } else {
        haul_buf_adds(b, ",\"path\":");
        json_str(b, r->path);
    }
    haul_buf_adds(b, ",\"bytes\":");
    json_num(b, r->bytes, r->bytes >= 0);
    haul_buf_adds(b, ",\"error\":");
    json_str(b, r->error);
    haul_buf_adds(b, ",\"verified\":");
    json_str(b, r->verified);
    haul_buf_adds(b, ",\"ms\":");
    json_num(b, r->ms, r->ms >= 0);
    haul_buf_adds(b, ",\"worker\":");
    json_str(b, r->worker);
    haul_buf_adds(b, ",\"task\":");
    json_str(b, r->task);
    haul_buf_adds(b, ",\"tries\":");
    json_num(b, r->tries, r->tries > 0);
    haul_buf_adds(b, "}\n");
}

void haul_out_row(haul_buf *b, haul_fmt f, const haul_row *r)
{
    if (f == HAUL_FMT_JSONL) jsonl_row(b, r);
    else csv_row(b, r);
}

/* key,status,http,size,md5,etag,error,verified */
static void csv_row_write(haul_buf *b, const haul_row *r)
{
    haul_csv_field(b, r->key, r->key_len);
    haul_buf_addc(b, ',');
    csv_str(b, r->status);
    haul_buf_addc(b, ',');
    if (r->http > 0) haul_buf_printf(b, "%ld", r->http);
    haul_buf_addc(b, ',');
    if (r->bytes >= 0) haul_buf_printf(b, "%lld", r->bytes);
    haul_buf_addc(b, ',');
    csv_str(b, r->md5);
    haul_buf_addc(b, ',');
    csv_str(b, r->etag);
    haul_buf_addc(b, ',');
    csv_str(b, r->error);
    haul_buf_addc(b, ',');
    csv_str(b, r->verified);
    haul_buf_addc(b, '\n');
}

static void jsonl_row_write(haul_buf *b, const haul_row *r)
{
    haul_buf_adds(b, "{\"key\":");
    haul_json_string(b, r->key, r->key_len);
    haul_buf_adds(b, ",\"status\":");
    json_str(b, r->status);
    haul_buf_adds(b, ",\"http\":");
    json_num(b, r->http, r->http > 0);
    haul_buf_adds(b, ",\"size\":");
    json_num(b, r->bytes, r->bytes >= 0);
    haul_buf_adds(b, ",\"md5\":");
    json_str(b, r->md5);
    haul_buf_adds(b, ",\"etag\":");
    json_str(b, r->etag);
    haul_buf_adds(b, ",\"error\":");
    json_str(b, r->error);
    haul_buf_adds(b, ",\"verified\":");
    json_str(b, r->verified);
    haul_buf_adds(b, ",\"ms\":");
    json_num(b, r->ms, r->ms >= 0);
    haul_buf_adds(b, ",\"worker\":");
    json_str(b, r->worker);
    haul_buf_adds(b, ",\"task\":");
    json_str(b, r->task);
    haul_buf_adds(b, ",\"tries\":");
    json_num(b, r->tries, r->tries > 0);
    haul_buf_adds(b, "}\n");
}

void haul_out_row_cols(haul_buf *b, haul_fmt f, haul_cols cols, const haul_row *r)
{
    if (cols == HAUL_COLS_READ) haul_out_row(b, f, r);
    else if (f == HAUL_FMT_JSONL) jsonl_row_write(b, r);
    else csv_row_write(b, r);
}
