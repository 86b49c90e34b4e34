/* test_output.c -- CSV and JSON Lines result rows, byte for byte, and read
 * back: CSV with a small RFC 4180 reader below, JSON with jansson. */
#include "test.h"
#include "../../scheduler/output.h"

#include <jansson.h>
#include <stdlib.h>

#define ASSERT_BUF(b, lit) do {                                           \
        const char want_[] = lit;                                        \
        if ((b).len != sizeof want_ - 1 || memcmp((b).p, want_, sizeof want_ - 1) != 0) \
            FAIL_("%s:\n    got:  \"%s\" (%zu bytes)\n    want: \"%s\" (%zu bytes)", #b, \
                  haul_buf_str(&(b)), (b).len, want_, sizeof want_ - 1); \
    } while (0)

/* A string literal and its length, NUL bytes included. */
#define L(lit) lit, sizeof(lit) - 1

static haul_buf csv_of(const char *s, size_t n)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_csv_field(&b, s, n);
    return b;
}

static haul_buf json_of(const char *s, size_t n)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_json_string(&b, s, n);
    return b;
}

/* ---- a reader to check what was written ---------------------------------- */

/* Reads one RFC 4180 record of up to max fields from *p; returns the number
 * of fields, -1 on malformed input. fields[i] are haul_bufs the caller frees. */
static int csv_read(const char **p, const char *end, haul_buf *fields, int max)
{
    int n = 0;
    for (;;) {
        if (n == max) return -1;
        haul_buf *f = &fields[n++];
        haul_buf_add(f, "", 0);
        if (*p < end && **p == '"') {
            (*p)++;
            for (;;) {
                if (*p >= end) return -1;
                if (**p == '"') {
                    if (*p + 1 < end && (*p)[1] == '"') { haul_buf_addc(f, '"'); *p += 2; continue; }
                    (*p)++;
                    break;
                }
                haul_buf_addc(f, **p);
                (*p)++;
            }
        } else {
            while (*p < end && **p != ',' && **p != '\n') {
                if (**p == '"' || **p == '\r') return -1;
                haul_buf_addc(f, **p);
                (*p)++;
            }
        }
        if (*p >= end) return -1;            /* every record ends in '\n' */
        if (**p == '\n') { (*p)++; return n; }
        if (**p != ',') return -1;
        (*p)++;
    }
}

static void free_fields(haul_buf *f, int n)
{
    for (int i = 0; i < n; i++) haul_buf_free(&f[i]);
}

/* Decodes one JSON value; NUL is allowed so \u0000 comes back as a byte. */
static json_t *json_read(const haul_buf *b)
{
    json_error_t je;
    return json_loadb(b->p, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
}

/* ---- CSV ------------------------------------------------------------------- */

TEST(csv_header_line)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_out_header(&b, HAUL_FMT_CSV);
    ASSERT_BUF(b, "key,status,http,value,bytes,error,verified\n");
    haul_buf_free(&b);
    haul_out_header(&b, HAUL_FMT_JSONL);
    ASSERT_EQ(b.len, 0);
    haul_buf_free(&b);
}

TEST(csv_field_quoting)
{
    haul_buf b;
    b = csv_of("plain", 5);           ASSERT_BUF(b, "plain");                  haul_buf_free(&b);
    b = csv_of(" spaced ", 8);        ASSERT_BUF(b, " spaced ");               haul_buf_free(&b);
    b = csv_of("a,b", 3);             ASSERT_BUF(b, "\"a,b\"");                haul_buf_free(&b);
    b = csv_of("say \"hi\"", 8);      ASSERT_BUF(b, "\"say \"\"hi\"\"\"");     haul_buf_free(&b);
    b = csv_of("\"", 1);              ASSERT_BUF(b, "\"\"\"\"");               haul_buf_free(&b);
    b = csv_of("l1\nl2", 5);          ASSERT_BUF(b, "\"l1\nl2\"");             haul_buf_free(&b);
    b = csv_of("l1\r\nl2", 6);        ASSERT_BUF(b, "\"l1\r\nl2\"");           haul_buf_free(&b);
    b = csv_of("cr\r", 3);            ASSERT_BUF(b, "\"cr\r\"");               haul_buf_free(&b);
    b = csv_of("caf\xC3\xA9 \xE2\x82\xAC", 9); ASSERT_BUF(b, "caf\xC3\xA9 \xE2\x82\xAC"); haul_buf_free(&b);
    b = csv_of("semi;tab\t'", 10);    ASSERT_BUF(b, "semi;tab\t'");            haul_buf_free(&b);
    b = csv_of("", 0);                ASSERT_BUF(b, "\"\"");                   haul_buf_free(&b);
    b = csv_of(NULL, 0);              ASSERT_EQ(b.len, 0);                     haul_buf_free(&b);
    /* Only the first n bytes count. */
    b = csv_of("ab,cd", 2);           ASSERT_BUF(b, "ab");                     haul_buf_free(&b);
}

/* NUL and invalid UTF-8 go out as they came in. */
TEST(csv_field_binary)
{
    haul_buf b = csv_of("a\0b\xFF\xC0\xAF", 6);
    ASSERT_BUF(b, "a\0b\xFF\xC0\xAF");
    haul_buf_free(&b);
    b = csv_of("\0,\0", 3);
    ASSERT_BUF(b, "\"\0,\0\"");
    haul_buf_free(&b);
}

TEST(csv_row_ok_value)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {L("dummy/a.zip.metadata"), "ok", 200, L("{\"a\": 1, \"b\": \"x\"}"),
                  NULL, 18, NULL, "w1", "t1", 12, 0, "md5", NULL, NULL};
    haul_out_row(&b, HAUL_FMT_CSV, &r);
    ASSERT_BUF(b, "dummy/a.zip.metadata,ok,200,\"{\"\"a\"\": 1, \"\"b\"\": \"\"x\"\"}\",18,,md5\n");
    haul_buf_free(&b);
}

TEST(csv_row_path_and_unknowns)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {"big/file.bin", 12, "ok", 200, NULL, 0, "/data/out/big/file.bin", -1,
                  NULL, NULL, NULL, -1, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_CSV, &r);
    ASSERT_BUF(b, "big/file.bin,ok,200,/data/out/big/file.bin,,,\n");
    haul_buf_free(&b);

    /* value set: the path does not replace it, even an empty value. */
    haul_row r2 = {"k", 1, "ok", 200, "", 0, "/p", 0, NULL, NULL, NULL, -1, 0, "none", NULL, NULL};
    haul_out_row(&b, HAUL_FMT_CSV, &r2);
    ASSERT_BUF(b, "k,ok,200,\"\",0,,none\n");
    haul_buf_free(&b);
}

TEST(csv_row_error)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {L("dummy/b, \"c\".zip"), "error", 403, NULL, 0, NULL, -1,
                  "S3 GET dummy/b: 403 SignatureDoesNotMatch (check the \"secret\" key, and region)",
                  "w2", "t2", 5, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_CSV, &r);
    ASSERT_BUF(b, "\"dummy/b, \"\"c\"\".zip\",error,403,,,\"S3 GET dummy/b: 403 SignatureDoesNotMatch "
                  "(check the \"\"secret\"\" key, and region)\",\n");
    haul_buf_free(&b);

    haul_row r2 = {"k", 1, "error", 0, NULL, 0, NULL, -1, "connect: Connection refused",
                   NULL, NULL, -1, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_CSV, &r2);
    ASSERT_BUF(b, "k,error,,,,connect: Connection refused,\n");
    haul_buf_free(&b);

    haul_row r3 = {NULL, 0, NULL, 0, NULL, 0, NULL, -1, NULL, NULL, NULL, -1, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_CSV, &r3);
    ASSERT_BUF(b, ",,,,,,\n");
    haul_buf_free(&b);
}

/* Rows with every awkward byte read back, field for field, as they went in. */
TEST(csv_rows_read_back)
{
    static const struct { const char *key; size_t klen; const char *val; size_t vlen; const char *error; } rows[] = {
        {"a,b", 3, "x", 1, NULL},
        {"q\"uote", 6, "multi\nline\r\nvalue, with \"quotes\"", 32, "err \"x\", y"},
        {"nul", 3, "a\0b", 3, NULL},
        {"bad utf8", 8, "\xFF\xFE\xC0\xAF\xED\xA0\x80", 7, NULL},
        {"empty", 5, "", 0, NULL},
        {"unicode \xE6\x97\xA5\xE6\x9C\xAC", 14, "\xF0\x9F\x98\x80", 4, NULL},
    };
    size_t nrows = sizeof rows / sizeof rows[0];
    haul_buf b = HAUL_BUF_INIT;
    haul_out_header(&b, HAUL_FMT_CSV);
    for (size_t i = 0; i < nrows; i++) {
        haul_row r = {rows[i].key, rows[i].klen, rows[i].error ? "error" : "ok", 200,
                      rows[i].val, rows[i].vlen, NULL, (long long)rows[i].vlen, rows[i].error,
                      NULL, NULL, -1, 0, NULL, NULL, NULL};
        haul_out_row(&b, HAUL_FMT_CSV, &r);
    }
    const char *p = b.p, *end = b.p + b.len;
    haul_buf f[8] = {HAUL_BUF_INIT};
    int n = csv_read(&p, end, f, 8);
    int header_ok = n == 7 && strcmp(f[0].p, "key") == 0 && strcmp(f[5].p, "error") == 0 &&
                    strcmp(f[6].p, "verified") == 0;
    free_fields(f, n > 0 ? n : 8);
    if (!header_ok) { haul_buf_free(&b); FAIL_("header read back as %d fields", n); }
    for (size_t i = 0; i < nrows; i++) {
        memset(f, 0, sizeof f);
        n = csv_read(&p, end, f, 8);
        int ok = n == 7 &&
                 f[0].len == rows[i].klen && memcmp(f[0].p, rows[i].key, rows[i].klen) == 0 &&
                 f[3].len == rows[i].vlen && memcmp(f[3].p, rows[i].val, rows[i].vlen) == 0 &&
                 strcmp(f[5].p, rows[i].error ? rows[i].error : "") == 0 &&
                 strcmp(f[2].p, "200") == 0;
        free_fields(f, n > 0 ? n : 8);
        if (!ok) { haul_buf_free(&b); FAIL_("row %zu did not read back (%d fields)", i, n); }
    }
    int at_end = p == end;
    haul_buf_free(&b);
    ASSERT(at_end);
}

/* ---- JSON strings -------------------------------------------------------------- */

TEST(json_string_escapes)
{
    haul_buf b;
    b = json_of("plain / text", 12);     ASSERT_BUF(b, "\"plain / text\"");      haul_buf_free(&b);
    b = json_of("", 0);                  ASSERT_BUF(b, "\"\"");                  haul_buf_free(&b);
    b = json_of(NULL, 0);                ASSERT_BUF(b, "null");                  haul_buf_free(&b);
    b = json_of(L("say \"hi\" \\o/"));  ASSERT_BUF(b, "\"say \\\"hi\\\" \\\\o/\""); haul_buf_free(&b);
    b = json_of("\n\t\r\b\f", 5);        ASSERT_BUF(b, "\"\\n\\t\\r\\b\\f\"");   haul_buf_free(&b);
    b = json_of("\x01\x1f\x1b", 3);      ASSERT_BUF(b, "\"\\u0001\\u001f\\u001b\""); haul_buf_free(&b);
    b = json_of("a\0b", 3);              ASSERT_BUF(b, "\"a\\u0000b\"");         haul_buf_free(&b);
    b = json_of("del\x7f", 4);           ASSERT_BUF(b, "\"del\x7f\"");           haul_buf_free(&b);
    b = json_of("a,b\"c", 3);            ASSERT_BUF(b, "\"a,b\"");               haul_buf_free(&b);
}

TEST(json_string_valid_utf8_passes)
{
    /* 2, 3 and 4 bytes, the edges of each range, U+2028, U+FEFF, U+10FFFF. */
    static const char s[] = "\xC2\x80 \xC3\xA9 \xDF\xBF \xE0\xA0\x80 \xE2\x82\xAC \xE2\x80\xA8 "
                            "\xED\x9F\xBF \xEE\x80\x80 \xEF\xBB\xBF \xEF\xBF\xBF "
                            "\xF0\x90\x80\x80 \xF0\x9F\x98\x80 \xF3\xBF\xBF\xBF \xF4\x8F\xBF\xBF";
    haul_buf b = json_of(s, sizeof s - 1);
    ASSERT_EQ(b.len, sizeof s - 1 + 2);
    ASSERT_MEMEQ(b.p + 1, s, sizeof s - 1);
    haul_buf_free(&b);
}

#define FFFD "\xEF\xBF\xBD"

TEST(json_string_invalid_utf8)
{
    static const struct { const char *in; size_t n; const char *out; } cases[] = {
        {"\x80", 1, "\"" FFFD "\""},                          /* lone continuation */
        {"a\xBF" "b", 3, "\"a" FFFD "b\""},
        {"\xFF\xFE", 2, "\"" FFFD FFFD "\""},                 /* never valid */
        {"caf\xE9", 4, "\"caf" FFFD "\""},                    /* Latin-1 é */
        {"\xC0\xAF", 2, "\"" FFFD FFFD "\""},                 /* overlong '/' */
        {"\xC1\xBF", 2, "\"" FFFD FFFD "\""},                 /* overlong U+007F */
        {"\xE0\x80\xAF", 3, "\"" FFFD FFFD FFFD "\""},        /* overlong 3-byte '/' */
        {"\xE0\x9F\xBF", 3, "\"" FFFD FFFD FFFD "\""},        /* overlong U+07FF */
        {"\xF0\x80\x80\xAF", 4, "\"" FFFD FFFD FFFD FFFD "\""}, /* overlong 4-byte */
        {"\xF0\x8F\xBF\xBF", 4, "\"" FFFD FFFD FFFD FFFD "\""}, /* overlong U+FFFF */
        {"\xED\xA0\x80", 3, "\"" FFFD FFFD FFFD "\""},        /* surrogate U+D800 */
        {"\xED\xBF\xBF", 3, "\"" FFFD FFFD FFFD "\""},        /* surrogate U+DFFF */
        {"\xED\xA0\xBD\xED\xB8\x80", 6, "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\""}, /* CESU-8 pair */
        {"\xF4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""},
        {"\xE2\x82", 2, "\"" FFFD FFFD "\""},                 /* truncated at the end */
        {"\xE2\x82" "A", 3, "\"" FFFD FFFD "A\""},            /* truncated before ASCII */
        {"\xF0\x9F\x98", 3, "\"" FFFD FFFD FFFD "\""},
        {"\xC3", 1, "\"" FFFD "\""},
        {"\xC3\xC3\xA9", 3, "\"" FFFD "\xC3\xA9\""},          /* bad byte, then a good char */
        {"\xE2\x82\xAC\x80\"", 5, "\"\xE2\x82\xAC" FFFD "\\\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        haul_buf b = json_of(cases[i].in, cases[i].n);
        int ok = strlen(cases[i].out) == b.len && memcmp(b.p, cases[i].out, b.len) == 0;
        if (!ok) {
            haul_buf_free(&b);
            FAIL_("case %zu: wrong output", i);
        }
        /* and it is valid JSON jansson decodes */
        json_t *j = json_read(&b);
        haul_buf_free(&b);
        if (!j || !json_is_string(j)) { json_decref(j); FAIL_("case %zu: not a JSON string", i); }
        json_decref(j);
    }
}

/* A megabyte of pseudo-random bytes: the string is valid JSON, decodes to the
 * input where the input was valid UTF-8, and holds no raw control byte. */
TEST(json_string_random_bytes)
{
    size_t n = 1 << 20;
    char *in = haul_malloc(n);
    unsigned long x = 2463534242UL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5; x &= 0xFFFFFFFFUL;
        in[i] = (char)(x >> 11);
    }
    haul_buf b = json_of(in, n);
    int raw_ctl = 0;
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.p[i] < 0x20) raw_ctl = 1;
    json_t *j = json_read(&b);
    int is_str = j && json_is_string(j);
    json_decref(j);
    haul_buf_free(&b);

    /* Only ASCII: must decode back to exactly the input. */
    for (size_t i = 0; i < n; i++) in[i] = (char)(in[i] & 0x7F);
    b = json_of(in, n);
    j = json_read(&b);
    int same = j && json_is_string(j) && json_string_length(j) == n &&
               memcmp(json_string_value(j), in, n) == 0;
    json_decref(j);
    haul_buf_free(&b);
    free(in);
    ASSERT(!raw_ctl);
    ASSERT(is_str);
    ASSERT(same);
}

/* ---- JSON Lines rows ------------------------------------------------------------- */

TEST(jsonl_row_full)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {"dummy/a.zip.metadata", 20, "ok", 200, "{\"size\": 3}\n", 12, NULL, 12,
                  NULL, "worker-1:4242", "7f3a", 35, 2, "segments", NULL, NULL};
    haul_out_row(&b, HAUL_FMT_JSONL, &r);
    ASSERT_BUF(b, "{\"key\":\"dummy/a.zip.metadata\",\"status\":\"ok\",\"http\":200,"
                  "\"value\":\"{\\\"size\\\": 3}\\n\",\"bytes\":12,\"error\":null,\"verified\":\"segments\",\"ms\":35,"
                  "\"worker\":\"worker-1:4242\",\"task\":\"7f3a\",\"tries\":2}\n");
    haul_buf_free(&b);
}

TEST(jsonl_row_path_and_nulls)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {"big.bin", 7, "ok", 200, NULL, 0, "/out/big.bin", 1073741824LL,
                  NULL, NULL, NULL, -1, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_JSONL, &r);
    ASSERT_BUF(b, "{\"key\":\"big.bin\",\"status\":\"ok\",\"http\":200,\"path\":\"/out/big.bin\","
                  "\"bytes\":1073741824,\"error\":null,\"verified\":null,\"ms\":null,\"worker\":null,\"task\":null,\"tries\":null}\n");
    haul_buf_free(&b);

    haul_row r2 = {NULL, 0, NULL, 0, NULL, 0, NULL, -1, NULL, NULL, NULL, -1, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_JSONL, &r2);
    ASSERT_BUF(b, "{\"key\":null,\"status\":null,\"http\":null,\"value\":null,\"bytes\":null,"
                  "\"error\":null,\"verified\":null,\"ms\":null,\"worker\":null,\"task\":null,\"tries\":null}\n");
    haul_buf_free(&b);

    haul_row r3 = {"e", 1, "ok", 204, "", 0, "/ignored", 0, NULL, "w", "t", 0, 0, "none", NULL, NULL};
    haul_out_row(&b, HAUL_FMT_JSONL, &r3);
    ASSERT_BUF(b, "{\"key\":\"e\",\"status\":\"ok\",\"http\":204,\"value\":\"\",\"bytes\":0,"
                  "\"error\":null,\"verified\":\"none\",\"ms\":0,\"worker\":\"w\",\"task\":\"t\",\"tries\":null}\n");
    haul_buf_free(&b);
}

TEST(jsonl_row_error_and_binary)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {"k\"ey\n", 5, "error", 503, "\0\xFF" "ok", 4, NULL, -1,
                  "Swift GET c/k: 503 \"Service Unavailable\"\n(retry later)", "w", "t\\1", 1500, 0, NULL, NULL, NULL};
    haul_out_row(&b, HAUL_FMT_JSONL, &r);
    ASSERT_BUF(b, "{\"key\":\"k\\\"ey\\n\",\"status\":\"error\",\"http\":503,"
                  "\"value\":\"\\u0000" FFFD "ok\",\"bytes\":null,"
                  "\"error\":\"Swift GET c/k: 503 \\\"Service Unavailable\\\"\\n(retry later)\","
                  "\"verified\":null,\"ms\":1500,\"worker\":\"w\",\"task\":\"t\\\\1\",\"tries\":null}\n");
    /* One line, and jansson reads it as the object we meant. */
    ASSERT(memchr(b.p, '\n', b.len) == b.p + b.len - 1);
    json_error_t je;
    json_t *o = json_loadb(b.p, b.len - 1, JSON_ALLOW_NUL, &je);
    haul_buf_free(&b);
    if (!o) FAIL_("jansson: %s", je.text);
    json_t *v = json_object_get(o, "value");
    int ok = v && json_string_length(v) == 6 &&
             memcmp(json_string_value(v), "\0" FFFD "ok", 6) == 0 &&
             json_integer_value(json_object_get(o, "http")) == 503 &&
             json_is_null(json_object_get(o, "bytes")) &&
             strcmp(json_string_value(json_object_get(o, "key")), "k\"ey\n") == 0;
    json_decref(o);
    ASSERT(ok);
}

TEST(rows_accumulate)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {"a", 1, "ok", 200, "1", 1, NULL, 1, NULL, NULL, NULL, -1, 0, NULL, NULL, NULL};
    haul_out_header(&b, HAUL_FMT_CSV);
    haul_out_row(&b, HAUL_FMT_CSV, &r);
    r.key = "b";
    haul_out_row(&b, HAUL_FMT_CSV, &r);
    ASSERT_BUF(b, "key,status,http,value,bytes,error,verified\na,ok,200,1,1,,\nb,ok,200,1,1,,\n");
    haul_buf_reset(&b);
    haul_out_header(&b, HAUL_FMT_JSONL);
    haul_out_row(&b, HAUL_FMT_JSONL, &r);
    r.key = "c";
    haul_out_row(&b, HAUL_FMT_JSONL, &r);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++) lines += b.p[i] == '\n';
    int second = strstr(b.p, "\n{\"key\":\"c\",") != NULL;
    haul_buf_free(&b);
    ASSERT_EQ(lines, 2);
    ASSERT(second);
}

/* ---- the write ops' columns ------------------------------------------------ */

TEST(write_header_lines)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_out_header_cols(&b, HAUL_FMT_CSV, haul_out_cols(HAUL_OP_PUT));
    ASSERT_BUF(b, "key,status,http,size,md5,etag,error,verified\n");
    haul_buf_reset(&b);
    haul_out_header_cols(&b, HAUL_FMT_CSV, haul_out_cols(HAUL_OP_GET));
    ASSERT_BUF(b, "key,status,http,value,bytes,error,verified\n");
    haul_buf_reset(&b);
    haul_out_header_cols(&b, HAUL_FMT_JSONL, HAUL_COLS_WRITE);
    ASSERT_EQ(b.len, 0);
    haul_buf_free(&b);
    ASSERT_EQ(haul_out_cols(HAUL_OP_DELETE), HAUL_COLS_WRITE);
    ASSERT_EQ(haul_out_cols(HAUL_OP_VERIFY), HAUL_COLS_WRITE);
    ASSERT_EQ(haul_out_cols(HAUL_OP_SIDECAR), HAUL_COLS_READ);
}

TEST(write_rows_csv)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {L("run42/a b+c%.dat"), "ok", 201, NULL, 0, NULL, 1048576, NULL, "w1", "j:0", 12, 1,
                  NULL, "0cc175b9c0f1b6a831c399e269772661", "\"0cc175b9c0f1b6a831c399e269772661\""};
    haul_out_row_cols(&b, HAUL_FMT_CSV, HAUL_COLS_WRITE, &r);
    ASSERT_BUF(b, "run42/a b+c%.dat,ok,201,1048576,0cc175b9c0f1b6a831c399e269772661,"
                  "\"\"\"0cc175b9c0f1b6a831c399e269772661\"\"\",,\n");
    haul_buf_reset(&b);
    /* A mismatch: size unknown, error quoted, verified given; value and path never shown. */
    haul_row m = {L("x,y"), "mismatch", 200, L("ignored"), "/ignored", -1,
                  "size: 10 expected, 12 found", NULL, NULL, -1, 0, "md5", NULL, "abc"};
    haul_out_row_cols(&b, HAUL_FMT_CSV, HAUL_COLS_WRITE, &m);
    ASSERT_BUF(b, "\"x,y\",mismatch,200,,,abc,\"size: 10 expected, 12 found\",md5\n");
    haul_buf_reset(&b);
    /* The same row with the read columns is byte for byte what it always was. */
    haul_out_row_cols(&b, HAUL_FMT_CSV, HAUL_COLS_READ, &m);
    ASSERT_BUF(b, "\"x,y\",mismatch,200,ignored,,\"size: 10 expected, 12 found\",md5\n");
    haul_buf_free(&b);
}

TEST(write_rows_jsonl)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_row r = {L("k\n"), "would-delete", 0, NULL, 0, NULL, -1, NULL, "w", "t", 3, 1,
                  NULL, NULL, "e\"t"};
    haul_out_row_cols(&b, HAUL_FMT_JSONL, HAUL_COLS_WRITE, &r);
    ASSERT_BUF(b, "{\"key\":\"k\\n\",\"status\":\"would-delete\",\"http\":null,\"size\":null,"
                  "\"md5\":null,\"etag\":\"e\\\"t\",\"error\":null,\"verified\":null,\"ms\":3,"
                  "\"worker\":\"w\",\"task\":\"t\",\"tries\":1}\n");
    haul_buf_free(&b);
}

/* A put log read back as CSV gives the columns a verify manifest needs. */
TEST(write_rows_read_back)
{
    haul_buf b = HAUL_BUF_INIT, f[10] = {HAUL_BUF_INIT};
    haul_row r = {L("d/\"q\",r"), "skipped", 200, NULL, 0, NULL, 0, NULL, NULL, NULL, -1, 0,
                  NULL, "d41d8cd98f00b204e9800998ecf8427e", "\"d41d8cd98f00b204e9800998ecf8427e\""};
    haul_out_header_cols(&b, HAUL_FMT_CSV, HAUL_COLS_WRITE);
    haul_out_row_cols(&b, HAUL_FMT_CSV, HAUL_COLS_WRITE, &r);
    const char *p = b.p, *end = b.p + b.len;
    int n = csv_read(&p, end, f, 10);
    ASSERT_EQ(n, 8);
    ASSERT_STREQ(haul_buf_str(&f[3]), "size");
    free_fields(f, n);
    memset(f, 0, sizeof f);
    n = csv_read(&p, end, f, 10);
    int ok = n == 8 && !strcmp(haul_buf_str(&f[0]), "d/\"q\",r") && !strcmp(haul_buf_str(&f[1]), "skipped") &&
             !strcmp(haul_buf_str(&f[3]), "0") &&
             !strcmp(haul_buf_str(&f[4]), "d41d8cd98f00b204e9800998ecf8427e") && p == end;
    free_fields(f, n > 0 ? n : 0);
    haul_buf_free(&b);
    ASSERT(ok);
}

TEST(status_rules)
{
    ASSERT_STREQ(haul_status_name("would-upload"), "would-upload");
    ASSERT_STREQ(haul_status_name("bogus"), "error");
    ASSERT_STREQ(haul_status_name(NULL), "error");
    ASSERT_EQ(haul_status_ok(HAUL_OP_PUT, "ok"), 1);
    ASSERT_EQ(haul_status_ok(HAUL_OP_PUT, "skipped"), 1);
    ASSERT_EQ(haul_status_ok(HAUL_OP_PUT, "would-upload"), 1);
    ASSERT_EQ(haul_status_ok(HAUL_OP_DELETE, "would-delete"), 1);
    ASSERT_EQ(haul_status_ok(HAUL_OP_DELETE, "missing"), 1);
    ASSERT_EQ(haul_status_ok(HAUL_OP_VERIFY, "missing"), 0);
    ASSERT_EQ(haul_status_ok(HAUL_OP_VERIFY, "mismatch"), 0);
    ASSERT_EQ(haul_status_ok(HAUL_OP_PUT, "error"), 0);
    ASSERT_EQ(haul_status_ok(HAUL_OP_GET, "ok"), 1);
    ASSERT_EQ(haul_status_ok(HAUL_OP_GET, "weird"), 0);
}

int main(void)
{
    RUN(csv_header_line);
    RUN(csv_field_quoting);
    RUN(csv_field_binary);
    RUN(csv_row_ok_value);
    RUN(csv_row_path_and_unknowns);
    RUN(csv_row_error);
    RUN(csv_rows_read_back);
    RUN(json_string_escapes);
    RUN(json_string_valid_utf8_passes);
    RUN(json_string_invalid_utf8);
    RUN(json_string_random_bytes);
    RUN(jsonl_row_full);
    RUN(jsonl_row_path_and_nulls);
    RUN(jsonl_row_error_and_binary);
    RUN(rows_accumulate);
    RUN(write_header_lines);
    RUN(write_rows_csv);
    RUN(write_rows_jsonl);
    RUN(write_rows_read_back);
    RUN(status_rules);
    TEST_DONE();
}
