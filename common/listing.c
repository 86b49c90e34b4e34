/* listing.c -- S3 listing parsers on expat, Swift listing parsers on jansson.
 *
 * The S3 side is one small state machine shared by the three documents
 * (ListBucketResult, ListAllMyBucketsResult, Error). A table of rules says
 * which element, under which parent and at which depth, is an item (one
 * entry: <Contents>, <CommonPrefixes>, <Bucket>), a group (<Buckets>) or a
 * field whose text is collected (<Key>, <Size>, ...). Anything the table does
 * not name is skipped with its whole subtree, so <Owner>, <StorageClass>,
 * <ChecksumAlgorithm> and whatever AWS adds next cost nothing. Element names
 * are matched on their local part, whatever the namespace: AWS, MinIO, Ceph
 * and Swift's s3api all use xmlns="http://s3.amazonaws.com/doc/2006-03-01/",
 * but some S3 look-alikes leave it out.
 *
 * Hostile XML: a DOCTYPE is refused outright (the only place entities can be
 * declared, hence no billion laughs and no external entities), parameter
 * entity parsing is off, expat's allocations go through haul's abort-on-OOM
 * allocators, and every collected text is bounded before it is stored. */
#include "listing.h"
#include "buf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <jansson.h>

#define TEXT_MAX 8192                          /* tokens, dates, ETags, codes */
#define ENCODED_NAME_MAX (3 * HAUL_LIST_MAX_NAME) /* a name as "%XX" per byte */
#define XML_CHUNK ((size_t)1 << 30)            /* XML_Parse takes an int length */
#define MAX_TRACKED_DEPTH 5                    /* the rules go no deeper than 4 */


static void entry_free(haul_list_entry *e)
{
    free(e->name);
    free(e->etag);
    free(e->last_modified);
    memset(e, 0, sizeof *e);
}

void haul_list_page_free(haul_list_page *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) entry_free(&p->v[i]);
    free(p->v);
    free(p->next);
    memset(p, 0, sizeof *p);
}

/* Parses a non-negative decimal integer that fits a long long: no sign, no
 * spaces, no exponent. -1 otherwise. */
static int parse_count(const char *s, long long *out)
{
    long long v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        int d = *s - '0';
        if (v > (LLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A copy of s[0..n) without one leading and one trailing '"': S3 sends
 * <ETag>"9b2cf535f27731c974343645a3985328"</ETag>, haul keeps the bare value.
 * NULL when nothing is left. */
static char *dup_unquoted(const char *s, size_t n)
{
    if (n && s[0] == '"') { s++; n--; }
    if (n && s[n - 1] == '"') n--;
    return n ? haul_strndup(s, n) : NULL;
}

/* Decodes an S3 "url"-encoded name in place.
 *
 * With encoding-type=url AWS S3 form-encodes names: UTF-8 bytes as %XX, a
 * space as '+', a literal '+' as %2B (botocore accordingly decodes these
 * elements with unquote_plus, and the other AWS SDKs do the same). Swift's
 * s3api encodes with Python's quote(), which writes a space as %20 and a '+'
 * as %2B. So from neither server does a bare '+' stand for itself, and
 * reading '+' as a space is right for both; taking it literally would turn
 * AWS's "my+photo.jpg" for the key "my photo.jpg" into a key that does not
 * exist. Returns -1 on a malformed escape, -2 when a byte decodes to NUL
 * (haul's names are C strings; S3 never sends %00 for a real key). */
static int url_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%') {
            int hi = haul_hexval((unsigned char)r[1]);
            int lo = hi < 0 ? -1 : haul_hexval((unsigned char)r[2]);
            if (lo < 0) return -1;
            if (hi == 0 && lo == 0) return -2;
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

/* Copies src into dst[dstlen], cutting at a UTF-8 character boundary. */
static void copy_truncated(char *dst, size_t dstlen, const char *src)
{
    if (!dst || !dstlen) return;
    size_t n = src ? strlen(src) : 0;
    if (n >= dstlen) {
        n = dstlen - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- S3: the element table ------------------------------------------------ */

typedef enum { DOC_LIST_V2, DOC_BUCKETS, DOC_ERROR } doc_kind;

typedef enum {
    S_OTHER = 0,
    S_LIST_BUCKET_RESULT, S_CONTENTS, S_COMMON_PREFIXES, S_KEY, S_SIZE, S_ETAG,
    S_LAST_MODIFIED, S_PREFIX, S_IS_TRUNCATED, S_NEXT_TOKEN, S_ENCODING_TYPE,
    S_ALL_MY_BUCKETS, S_BUCKETS, S_BUCKET, S_NAME, S_CREATION_DATE, S_TOKEN,
    S_ERROR, S_CODE, S_MESSAGE,
    S_COUNT_
} sym;

static const char *const sym_name[S_COUNT_] = {
    [S_OTHER] = "?",
    [S_LIST_BUCKET_RESULT] = "ListBucketResult", [S_CONTENTS] = "Contents",
    [S_COMMON_PREFIXES] = "CommonPrefixes", [S_KEY] = "Key", [S_SIZE] = "Size",
    [S_ETAG] = "ETag", [S_LAST_MODIFIED] = "LastModified", [S_PREFIX] = "Prefix",
    [S_IS_TRUNCATED] = "IsTruncated", [S_NEXT_TOKEN] = "NextContinuationToken",
    [S_ENCODING_TYPE] = "EncodingType", [S_ALL_MY_BUCKETS] = "ListAllMyBucketsResult",
    [S_BUCKETS] = "Buckets", [S_BUCKET] = "Bucket", [S_NAME] = "Name",
    [S_CREATION_DATE] = "CreationDate", [S_TOKEN] = "ContinuationToken",
    [S_ERROR] = "Error", [S_CODE] = "Code", [S_MESSAGE] = "Message",
};

typedef enum { R_GROUP, R_ITEM, R_FIELD } rule_kind;

static const struct rule {
    doc_kind doc;
    unsigned depth;   /* the root element is at depth 1 */
    sym parent, self;
    rule_kind kind;
} rules[] = {
    {DOC_LIST_V2, 2, S_LIST_BUCKET_RESULT, S_CONTENTS, R_ITEM},
    {DOC_LIST_V2, 2, S_LIST_BUCKET_RESULT, S_COMMON_PREFIXES, R_ITEM},
    {DOC_LIST_V2, 2, S_LIST_BUCKET_RESULT, S_IS_TRUNCATED, R_FIELD},
    {DOC_LIST_V2, 2, S_LIST_BUCKET_RESULT, S_NEXT_TOKEN, R_FIELD},
    {DOC_LIST_V2, 2, S_LIST_BUCKET_RESULT, S_ENCODING_TYPE, R_FIELD},
    {DOC_LIST_V2, 3, S_CONTENTS, S_KEY, R_FIELD},
    {DOC_LIST_V2, 3, S_CONTENTS, S_SIZE, R_FIELD},
    {DOC_LIST_V2, 3, S_CONTENTS, S_ETAG, R_FIELD},
    {DOC_LIST_V2, 3, S_CONTENTS, S_LAST_MODIFIED, R_FIELD},
    {DOC_LIST_V2, 3, S_COMMON_PREFIXES, S_PREFIX, R_FIELD},
    {DOC_BUCKETS, 2, S_ALL_MY_BUCKETS, S_BUCKETS, R_GROUP},
    {DOC_BUCKETS, 2, S_ALL_MY_BUCKETS, S_TOKEN, R_FIELD},
    {DOC_BUCKETS, 3, S_BUCKETS, S_BUCKET, R_ITEM},
    {DOC_BUCKETS, 4, S_BUCKET, S_NAME, R_FIELD},
    {DOC_BUCKETS, 4, S_BUCKET, S_CREATION_DATE, R_FIELD},
    {DOC_ERROR, 2, S_ERROR, S_CODE, R_FIELD},
    {DOC_ERROR, 2, S_ERROR, S_MESSAGE, R_FIELD},
};

static const struct rule *find_rule(doc_kind doc, unsigned depth, sym parent, const char *local)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *r = &rules[i];
        if (r->doc == doc && r->depth == depth && r->parent == parent &&
            strcmp(sym_name[r->self], local) == 0)
            return r;
    }
    return NULL;
}

static sym root_of(doc_kind doc)
{
    switch (doc) {
    case DOC_LIST_V2: return S_LIST_BUCKET_RESULT;
    case DOC_BUCKETS: return S_ALL_MY_BUCKETS;
    case DOC_ERROR: break;
    }
    return S_ERROR;
}

/* The longest text a field may hold. Names are checked again, decoded, at the
 * end; error documents are cut rather than refused (see on_text). */
static size_t field_max(sym f)
{
    switch (f) {
    case S_KEY: case S_PREFIX: return ENCODED_NAME_MAX;
    case S_NAME: return HAUL_LIST_MAX_NAME;
    default: return TEXT_MAX;
    }
}

/* ---- S3: the parser state and expat callbacks ------------------------------ */

#define NS_SEP '\x01' /* cannot occur in a namespace URI: XML 1.0 forbids U+0001 */

typedef struct xstate {
    XML_Parser p;
    doc_kind doc;
    const char *what;        /* "S3 listing": starts every error sentence */
    char *err;
    int failed;              /* set once; every callback is a no-op after it */
    unsigned depth;
    sym path[MAX_TRACKED_DEPTH]; /* the matched symbol at each depth, S_OTHER if none */

    sym field;               /* the field whose text is being collected, or S_OTHER */
    unsigned field_depth;
    haul_buf text;
    int text_full;           /* DOC_ERROR: the field was cut; ignore the rest */

    sym item;                /* the item being built, or S_OTHER */
    unsigned item_depth;
    haul_list_entry cur;
    unsigned item_seen;      /* bit per sym: fields seen in the current item */
    unsigned top_seen;       /* bit per sym: fields seen outside items */

    haul_list_page page;
    size_t cap;
    int url_encoded;
    int truncated;
    char *token;
    char *code, *msg;        /* DOC_ERROR */
} xstate;

static void xfail(xstate *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first semantic error with the line it was found on and stops
 * the parser. expat may still deliver a few callbacks; they see st->failed. */
static void xfail(xstate *st, const char *fmt, ...)
{
    if (st->failed) return;
    st->failed = 1;
    if (st->err) {
        int n = snprintf(st->err, HAUL_ERR_LEN, "%s: line %llu: ", st->what,
                         (unsigned long long)XML_GetCurrentLineNumber(st->p));
        if (n > 0 && n < HAUL_ERR_LEN) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(st->err + n, HAUL_ERR_LEN - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    XML_StopParser(st->p, XML_FALSE);
}

static const char *local_name(const XML_Char *name)
{
    const char *sep = strrchr(name, NS_SEP);
    return sep ? sep + 1 : name;
}

static void begin_item(xstate *st, sym item)
{
    entry_free(&st->cur);
    st->cur.size = -1;
    st->cur.count = -1;
    st->item = item;
    st->item_depth = st->depth;
    st->item_seen = 0;
}

static void end_item(xstate *st)
{
    sym item = st->item;
    st->item = S_OTHER;
    if (!st->cur.name) {
        xfail(st, "<%s> without <%s>", sym_name[item],
              item == S_CONTENTS ? "Key" : item == S_BUCKET ? "Name" : "Prefix");
        return;
    }
    if (st->page.n >= HAUL_LIST_MAX_ENTRIES) {
        xfail(st, "more than %d entries in one page", HAUL_LIST_MAX_ENTRIES);
        return;
    }
    if (st->page.n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->page.v = haul_realloc(st->page.v, st->cap * sizeof *st->page.v);
    }
    st->page.v[st->page.n++] = st->cur;
    memset(&st->cur, 0, sizeof st->cur);
}

/* The field's text with ASCII blanks trimmed, for values that are words or
 * numbers (never for names: S3 keys may begin or end with spaces). */
static const char *trimmed_text(xstate *st)
{
    char *s = st->text.p ? st->text.p : "";
    size_t n = st->text.len;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    return s;
}

static void end_field(xstate *st)
{
    sym f = st->field;
    const char *t = st->text.p ? st->text.p : "";
    size_t n = st->text.len;
    const char *w;
    st->field = S_OTHER;

    switch (f) {
    case S_KEY: case S_PREFIX: case S_NAME:
        if (n == 0) { xfail(st, "empty <%s>", sym_name[f]); return; }
        st->cur.name = haul_strndup(t, n);
        break;
    case S_SIZE:
        w = trimmed_text(st);
        if (parse_count(w, &st->cur.size) < 0)
            xfail(st, "<Size>%.40s</Size> is not a byte count", w);
        break;
    case S_ETAG:
        st->cur.etag = dup_unquoted(t, n);
        break;
    case S_LAST_MODIFIED: case S_CREATION_DATE:
        st->cur.last_modified = n ? haul_strndup(t, n) : NULL;
        break;
    case S_IS_TRUNCATED:
        w = trimmed_text(st);
        if (strcmp(w, "true") == 0) st->truncated = 1;
        else if (strcmp(w, "false") == 0) st->truncated = 0;
        else xfail(st, "<IsTruncated>%.40s</IsTruncated> is neither true nor false", w);
        break;
    case S_NEXT_TOKEN: case S_TOKEN:
        st->token = n ? haul_strndup(t, n) : NULL;
        break;
    case S_ENCODING_TYPE:
        w = trimmed_text(st);
        if (strcmp(w, "url") == 0) st->url_encoded = 1;
        else xfail(st, "unknown <EncodingType>%.40s</EncodingType> (only \"url\" exists)", w);
        break;
    case S_CODE:
        st->code = haul_strndup(t, n);
        break;
    case S_MESSAGE:
        st->msg = haul_strndup(t, n);
        break;
    default:
        break;
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    xstate *st = ud;
    (void)atts;
    if (st->failed) return;
    st->depth++;
    const char *local = local_name(name);

    if (st->field != S_OTHER) {
        xfail(st, "unexpected element <%.40s> inside <%s>", local, sym_name[st->field]);
        return;
    }
    if (st->depth == 1) {
        sym want = root_of(st->doc);
        if (strcmp(local, sym_name[want]) != 0) {
            xfail(st, "the document is <%.40s>, not <%s>%s", local, sym_name[want],
                  strcmp(local, "Error") == 0 ? " (the server answered with an error)" : "");
            return;
        }
        st->path[1] = want;
        return;
    }
    if (st->depth >= MAX_TRACKED_DEPTH) return;

    const struct rule *r = find_rule(st->doc, st->depth, st->path[st->depth - 1], local);
    st->path[st->depth] = r ? r->self : S_OTHER;
    if (!r) return;
    switch (r->kind) {
    case R_GROUP:
        break;
    case R_ITEM:
        begin_item(st, r->self);
        break;
    case R_FIELD: {
        unsigned *seen = st->item != S_OTHER ? &st->item_seen : &st->top_seen;
        unsigned bit = 1u << r->self;
        if (*seen & bit) {
            xfail(st, "<%s> appears twice in <%s>", sym_name[r->self], sym_name[r->parent]);
            return;
        }
        *seen |= bit;
        st->field = r->self;
        st->field_depth = st->depth;
        haul_buf_reset(&st->text);
        st->text_full = 0;
        break;
    }
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    xstate *st = ud;
    (void)name;
    if (st->failed) return;
    if (st->field != S_OTHER && st->depth == st->field_depth) end_field(st);
    else if (st->item != S_OTHER && st->depth == st->item_depth) end_item(st);
    st->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xstate *st = ud;
    if (st->failed || st->field == S_OTHER || len <= 0 || st->text_full) return;
    size_t max = field_max(st->field), n = (size_t)len;
    if (st->text.len + n > max) {
        if (st->doc == DOC_ERROR) {
            /* An error document is read for its words: keep what fits, cut
             * at a character boundary (s[k] is the first byte left out: while
             * it continues a character, leave that character out whole). */
            size_t k = max - st->text.len;
            while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
            haul_buf_add(&st->text, s, k);
            st->text_full = 1;
            return;
        }
        xfail(st, "<%s> is longer than %zu bytes", sym_name[st->field], max);
        return;
    }
    haul_buf_add(&st->text, s, n);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *doctype, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)doctype; (void)sysid; (void)pubid; (void)has_internal_subset;
    xfail(ud, "refusing a document with a DOCTYPE (S3 never sends one; it could declare entities)");
}

static void XMLCALL on_entity(void *ud, const XML_Char *entity, int is_param,
                              const XML_Char *value, int value_len, const XML_Char *base,
                              const XML_Char *sysid, const XML_Char *pubid,
                              const XML_Char *notation)
{
    (void)entity; (void)is_param; (void)value; (void)value_len; (void)base;
    (void)sysid; (void)pubid; (void)notation;
    xfail(ud, "refusing an entity declaration");
}

static void xstate_free(xstate *st)
{
    haul_buf_free(&st->text);
    entry_free(&st->cur);
    haul_list_page_free(&st->page);
    free(st->token);
    free(st->code);
    free(st->msg);
}

/* Runs expat over the whole body. 0 when the document is well formed and
 * every rule held, -1 with st->err filled otherwise. */
static int xml_run(xstate *st, const char *xml, size_t len)
{
    static const XML_Memory_Handling_Suite mem = {haul_malloc, haul_realloc, free};
    static const XML_Char sep[] = {NS_SEP, 0};

    if (!xml || len == 0) {
        haul_errf(st->err, "%s: empty response body", st->what);
        return -1;
    }
    XML_Parser p = XML_ParserCreate_MM(NULL, &mem, sep);
    if (!p) {
        haul_errf(st->err, "%s: cannot create an XML parser", st->what);
        return -1;
    }
    st->p = p;
    XML_SetUserData(p, st);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetEntityDeclHandler(p, on_entity);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);

    int rc = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < XML_CHUNK ? len - off : XML_CHUNK;
        int final = off + n == len;
        if (XML_Parse(p, xml + off, (int)n, final) != XML_STATUS_OK) {
            if (!st->failed)
                haul_errf(st->err, "%s: malformed XML at line %llu: %s", st->what,
                       (unsigned long long)XML_GetCurrentLineNumber(p),
                       XML_ErrorString(XML_GetErrorCode(p)));
            rc = -1;
            break;
        }
        off += n;
    }
    if (st->failed) rc = -1;
    XML_ParserFree(p);
    st->p = NULL;
    return rc;
}

static void xstate_init(xstate *st, doc_kind doc, const char *what, char *err)
{
    memset(st, 0, sizeof *st);
    st->doc = doc;
    st->what = what;
    st->err = err;
    st->cur.size = st->cur.count = -1;
}

int haul_s3_parse_list_v2(const char *xml, size_t len, haul_list_page *out, char *err)
{
    xstate st;
    int rc = -1;
    memset(out, 0, sizeof *out);
    xstate_init(&st, DOC_LIST_V2, "S3 listing", err);
    if (xml_run(&st, xml, len) < 0) goto out;

    /* EncodingType comes after the Contents in AWS's responses, so names are
     * decoded, and their length checked, only once the whole body is read. */
    for (size_t i = 0; i < st.page.n; i++) {
        char *name = st.page.v[i].name;
        if (st.url_encoded) {
            int d = url_decode(name);
            if (d < 0) {
                haul_errf(err, "S3 listing: entry %zu: \"%.60s\" is %s", i + 1, name,
                       d == -1 ? "not valid URL encoding" : "a name with a NUL byte (%00)");
                goto out;
            }
            if (!*name) {
                haul_errf(err, "S3 listing: entry %zu: the name decodes to nothing", i + 1);
                goto out;
            }
        }
        size_t n = strlen(name);
        if (n > HAUL_LIST_MAX_NAME) {
            haul_errf(err, "S3 listing: entry %zu: a name of %zu bytes, more than S3's limit of %d",
                   i + 1, n, HAUL_LIST_MAX_NAME);
            goto out;
        }
    }
    if (st.truncated && !st.token) {
        haul_errf(err, "S3 listing: IsTruncated is true but there is no NextContinuationToken "
                    "(is this a ListObjects version 1 answer?)");
        goto out;
    }
    *out = st.page;
    memset(&st.page, 0, sizeof st.page);
    out->truncated = st.truncated;
    if (st.truncated) {
        out->next = st.token;
        st.token = NULL;
    }
    rc = 0;
out:
    xstate_free(&st);
    return rc;
}

int haul_s3_parse_buckets(const char *xml, size_t len, haul_list_page *out, char *err)
{
    xstate st;
    int rc = -1;
    memset(out, 0, sizeof *out);
    xstate_init(&st, DOC_BUCKETS, "S3 bucket list", err);
    if (xml_run(&st, xml, len) < 0) goto out;
    *out = st.page;
    memset(&st.page, 0, sizeof st.page);
    if (st.token) {
        out->truncated = 1;
        out->next = st.token;
        st.token = NULL;
    }
    rc = 0;
out:
    xstate_free(&st);
    return rc;
}

int haul_s3_parse_error(const char *xml, size_t len, char *code, size_t codelen,
                        char *msg, size_t msglen)
{
    xstate st;
    int rc;
    xstate_init(&st, DOC_ERROR, "S3 error", NULL);
    rc = xml_run(&st, xml, len);
    copy_truncated(code, codelen, rc == 0 ? st.code : NULL);
    copy_truncated(msg, msglen, rc == 0 ? st.msg : NULL);
    xstate_free(&st);
    return rc;
}

/* ---- Swift ----------------------------------------------------------------- */

const char *haul_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value of unknown type";
}

/* The members of one entry are read through these; they fill err and return
 * -1 on a missing required member or one of the wrong type. A JSON null is
 * the same as an absent optional member. */
typedef struct jctx {
    const char *what;
    size_t index;
    char *err;
} jctx;

static int j_string(const jctx *c, json_t *e, const char *key, int required, char **out)
{
    json_t *v = json_object_get(e, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        haul_errf(c->err, "%s: entry [%zu] has no \"%s\"", c->what, c->index, key);
        return -1;
    }
    if (!json_is_string(v)) {
        haul_errf(c->err, "%s: entry [%zu]: \"%s\" is %s, not a string", c->what, c->index,
               key, haul_json_kind(v));
        return -1;
    }
    *out = haul_strndup(json_string_value(v), json_string_length(v));
    return 0;
}

static int j_count(const jctx *c, json_t *e, const char *key, long long *out)
{
    json_t *v = json_object_get(e, key);
    if (!v) {
        haul_errf(c->err, "%s: entry [%zu] has no \"%s\"", c->what, c->index, key);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        haul_errf(c->err, "%s: entry [%zu]: \"%s\" is %s, not a non-negative integer", c->what,
               c->index, key, json_is_integer(v) ? "negative" : haul_json_kind(v));
        return -1;
    }
    *out = (long long)json_integer_value(v);
    return 0;
}

static int j_name_ok(const jctx *c, const char *key, const char *name)
{
    size_t n = strlen(name);
    if (n == 0) {
        haul_errf(c->err, "%s: entry [%zu]: \"%s\" is empty", c->what, c->index, key);
        return -1;
    }
    if (n > HAUL_LIST_MAX_NAME) {
        haul_errf(c->err, "%s: entry [%zu]: \"%s\" is %zu bytes, more than the limit of %d",
               c->what, c->index, key, n, HAUL_LIST_MAX_NAME);
        return -1;
    }
    return 0;
}

/* One entry of a container listing: an object or a "subdir" roll-up. */
static int swift_object(const jctx *c, json_t *e, haul_list_entry *out)
{
    const char *key = json_object_get(e, "subdir") ? "subdir" : "name";
    if (j_string(c, e, key, 1, &out->name) < 0 || j_name_ok(c, key, out->name) < 0)
        return -1;
    if (strcmp(key, "subdir") == 0) return 0;
    if (j_count(c, e, "bytes", &out->size) < 0) return -1;
    if (j_string(c, e, "hash", 0, &out->etag) < 0) return -1;
    if (out->etag) {
        /* Without s3api's or slo's listing filter in the proxy pipeline the
         * container's raw value can show through: "<md5>; s3_etag=<etag>".
         * An MD5 never holds ';', so the hash is what precedes it. Quotes
         * are dropped as for S3, should a middleware have added them. */
        char *raw = out->etag, *semi = strchr(raw, ';');
        out->etag = dup_unquoted(raw, semi ? (size_t)(semi - raw) : strlen(raw));
        free(raw);
    }
    return j_string(c, e, "last_modified", 0, &out->last_modified);
}

/* One entry of an account listing: a container. */
static int swift_container(const jctx *c, json_t *e, haul_list_entry *out)
{
    if (j_string(c, e, "name", 1, &out->name) < 0 || j_name_ok(c, "name", out->name) < 0)
        return -1;
    if (j_count(c, e, "count", &out->count) < 0) return -1;
    if (j_count(c, e, "bytes", &out->size) < 0) return -1;
    return j_string(c, e, "last_modified", 0, &out->last_modified);
}

static int swift_parse(const char *json, size_t len, size_t limit, int account,
                       haul_list_page *out, char *err)
{
    jctx c = {account ? "Swift account listing" : "Swift listing", 0, err};
    json_error_t je;
    json_t *root = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    /* Older Swift answers an empty listing with 204 and no body at all. */
    size_t i = 0;
    if (!json) len = 0;
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n'))
        i++;
    if (i == len) return 0;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        haul_errf(err, "%s: malformed JSON at line %d column %d: %s", c.what, je.line, je.column,
               je.text);
        return -1;
    }
    if (!json_is_array(root)) {
        haul_errf(err, "%s: expected a JSON array of entries, got %s", c.what, haul_json_kind(root));
        goto out;
    }
    size_t n = json_array_size(root);
    if (n > HAUL_LIST_MAX_ENTRIES) {
        haul_errf(err, "%s: %zu entries, more than the limit of %d per page", c.what, n,
               HAUL_LIST_MAX_ENTRIES);
        goto out;
    }
    out->v = n ? haul_calloc(n, sizeof *out->v) : NULL;
    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(root, i);
        haul_list_entry *ent = &out->v[i];
        c.index = i;
        ent->size = -1;
        ent->count = -1;
        if (!json_is_object(e)) {
            haul_errf(err, "%s: entry [%zu] is %s, not an object", c.what, i, haul_json_kind(e));
            goto out;
        }
        int r = account ? swift_container(&c, e, ent) : swift_object(&c, e, ent);
        out->n++; /* counted even on failure, so its strings are freed below */
        if (r < 0) goto out;
    }
    if (limit > 0 && n >= limit) {
        out->truncated = 1;
        out->next = haul_strdup(out->v[n - 1].name);
    }
    rc = 0;
out:
    if (rc < 0) haul_list_page_free(out);
    json_decref(root);
    return rc;
}

int haul_swift_parse_list(const char *json, size_t len, size_t limit,
                          haul_list_page *out, char *err)
{
    return swift_parse(json, len, limit, 0, out, err);
}

int haul_swift_parse_account(const char *json, size_t len, size_t limit,
                             haul_list_page *out, char *err)
{
    return swift_parse(json, len, limit, 1, out, err);
}
