/* conn.c -- the connection state every task carries: defaults, copies, checks.
 *
 * haul_conn_check() is the one place that decides whether a haul_conn is
 * complete, so the scheduler (before it queues anything) and the worker (on
 * every task it decodes) refuse the same things with the same sentences. Those
 * sentences name the command-line flag and the environment variable that set
 * the missing value, because the person who reads them is the one who has to
 * fix the configuration. No function here ever copies a secret into text. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void haul_conn_init(haul_conn *c)
{
    memset(c, 0, sizeof *c);
    c->kind = HAUL_STORE_NONE;
    c->tls_verify = 1;
    c->s3.path_style = 1;
}

void haul_conn_clear(haul_conn *c)
{
    if (!c) return;
    free(c->ca_file);
    free(c->s3.endpoint);
    free(c->s3.region);
    free(c->s3.access_key);
    haul_free_secret(c->s3.secret_key);
    haul_free_secret(c->s3.session_token);
    free(c->swift.auth_url);
    free(c->swift.user);
    haul_free_secret(c->swift.key);
    haul_free_secret(c->swift.token);
    free(c->swift.storage_url);
    haul_conn_init(c);
}

void haul_conn_copy(haul_conn *dst, const haul_conn *src)
{
    dst->kind = src->kind;
    dst->tls_verify = src->tls_verify;
    dst->ca_file = haul_strdup(src->ca_file);
    dst->s3.endpoint = haul_strdup(src->s3.endpoint);
    dst->s3.region = haul_strdup(src->s3.region);
    dst->s3.access_key = haul_strdup(src->s3.access_key);
    dst->s3.secret_key = haul_strdup(src->s3.secret_key);
    dst->s3.session_token = haul_strdup(src->s3.session_token);
    dst->s3.path_style = src->s3.path_style;
    dst->swift.auth_url = haul_strdup(src->swift.auth_url);
    dst->swift.user = haul_strdup(src->swift.user);
    dst->swift.key = haul_strdup(src->swift.key);
    dst->swift.token = haul_strdup(src->swift.token);
    dst->swift.storage_url = haul_strdup(src->swift.storage_url);
}

const char *haul_store_kind_str(haul_store_kind k)
{
    switch (k) {
    case HAUL_STORE_S3: return "s3";
    case HAUL_STORE_SWIFT: return "swift";
    case HAUL_STORE_NONE: break;
    }
    return "none";
}

/* An empty string is as good as a missing one: "--region ''" sets nothing. */
static int set(const char *s) { return s && *s; }

static int is_http_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* One setting a kind needs: its description, and where it comes from. */
struct need {
    const char *value;
    const char *what;    /* "S3 secret key" */
    const char *source;  /* "--secret-key or AWS_SECRET_ACCESS_KEY" */
};

static int first_missing(const struct need *n, size_t count, char *err)
{
    for (size_t i = 0; i < count; i++) {
        if (!set(n[i].value)) {
            snprintf(err, HAUL_ERR_LEN, "%s missing: set %s", n[i].what, n[i].source);
            return -1;
        }
    }
    return 0;
}

static int check_s3(const haul_s3_conn *s, char *err)
{
    const struct need need[] = {
        {s->endpoint, "S3 endpoint", "--endpoint or AWS_ENDPOINT_URL"},
        {s->region, "S3 region", "--region or AWS_REGION"},
        {s->access_key, "S3 access key", "--access-key or AWS_ACCESS_KEY_ID"},
        {s->secret_key, "S3 secret key", "--secret-key or AWS_SECRET_ACCESS_KEY"},
    };
    if (first_missing(need, sizeof need / sizeof need[0], err) < 0) return -1;
    if (!is_http_url(s->endpoint)) {
        snprintf(err, HAUL_ERR_LEN, "S3 endpoint must start with http:// or https://: "
                 "check --endpoint or AWS_ENDPOINT_URL");
        return -1;
    }
    return 0;
}

/* Swift takes either auth v1.0 credentials or a token with its storage URL.
 * When one of the two sets is half given, name what is missing from that set;
 * when neither is, name both. */
static int check_swift(const haul_swift_conn *s, char *err)
{
    const struct need cred[] = {
        {s->auth_url, "Swift auth URL", "--auth-url or ST_AUTH"},
        {s->user, "Swift user", "--user or ST_USER"},
        {s->key, "Swift key", "--key or ST_KEY"},
    };
    const struct need tok[] = {
        {s->token, "Swift token", "--token or OS_AUTH_TOKEN"},
        {s->storage_url, "Swift storage URL", "--storage-url or OS_STORAGE_URL"},
    };
    int have_tok = set(s->token) && set(s->storage_url);
    int have_cred = set(s->auth_url) && set(s->user) && set(s->key);

    if (have_tok) {
        if (!is_http_url(s->storage_url)) {
            snprintf(err, HAUL_ERR_LEN, "Swift storage URL must start with http:// or "
                     "https://: check --storage-url or OS_STORAGE_URL");
            return -1;
        }
        return 0;
    }
    if (have_cred) {
        if (!is_http_url(s->auth_url)) {
            snprintf(err, HAUL_ERR_LEN, "Swift auth URL must start with http:// or "
                     "https://: check --auth-url or ST_AUTH");
            return -1;
        }
        return 0;
    }
    if (set(s->token) || set(s->storage_url))
        return first_missing(tok, sizeof tok / sizeof tok[0], err);
    if (set(s->auth_url) || set(s->user) || set(s->key))
        return first_missing(cred, sizeof cred / sizeof cred[0], err);
    snprintf(err, HAUL_ERR_LEN, "Swift needs --auth-url/--user/--key (ST_AUTH, ST_USER, "
             "ST_KEY) or --token/--storage-url (OS_AUTH_TOKEN, OS_STORAGE_URL)");
    return -1;
}

int haul_conn_check(const haul_conn *c, char *err)
{
    switch (c->kind) {
    case HAUL_STORE_S3: return check_s3(&c->s3, err);
    case HAUL_STORE_SWIFT: return check_swift(&c->swift, err);
    case HAUL_STORE_NONE: break;
    }
    snprintf(err, HAUL_ERR_LEN, "no object store configured: set an S3 endpoint "
             "(--endpoint or AWS_ENDPOINT_URL) or a Swift auth URL (--auth-url or ST_AUTH)");
    return -1;
}

int haul_bucket_check(const char *name, int virtual_host, char *err)
{
    char shown[80];
    size_t n = name ? strlen(name) : 0, o = 0;

    /* The name as it may appear in a sentence: control bytes as \xNN. */
    for (size_t i = 0; i < n && o + 5 < sizeof shown; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", c);
        else shown[o++] = (char)c;
    }
    shown[o] = '\0';
    if (n == 0) {
        snprintf(err, HAUL_ERR_LEN, "bucket name is empty");
        return -1;
    }
    if (n > 255) {
        snprintf(err, HAUL_ERR_LEN, "bucket name '%s...' is %zu bytes long; the limit is 255", shown, n);
        return -1;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        snprintf(err, HAUL_ERR_LEN, "bucket name '%s' is not a name (it would change the request's path)", shown);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c < 0x20 || c == 0x7f) {
            snprintf(err, HAUL_ERR_LEN, "bucket name '%s' holds %s at byte %zu: a bucket or "
                     "container name cannot (a key's path goes in --keys or --prefix)", shown,
                     c == '/' ? "'/'" : "a control character", i);
            return -1;
        }
        if (virtual_host && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
            !(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '_') {
            snprintf(err, HAUL_ERR_LEN, "bucket name '%s' holds '%c' at byte %zu: with "
                     "--virtual-host the bucket becomes part of the host name, which may hold "
                     "only letters, digits, '.', '-' and '_' (use path-style addressing for "
                     "this bucket)", shown, c >= 0x21 && c < 0x7f ? c : '?', i);
            return -1;
        }
    }
    if (virtual_host && (name[0] == '.' || name[0] == '-' || name[n - 1] == '.' || name[n - 1] == '-')) {
        snprintf(err, HAUL_ERR_LEN, "bucket name '%s' starts or ends with '.' or '-': with "
                 "--virtual-host it is part of the host name, which cannot", shown);
        return -1;
    }
    return 0;
}

static const char *or_unset(const char *s) { return set(s) ? s : "(unset)"; }

void haul_conn_describe(const haul_conn *c, char *out, unsigned outlen)
{
    if (!out || outlen == 0) return;
    int n = 0;
    switch (c->kind) {
    case HAUL_STORE_S3:
        n = snprintf(out, outlen, "s3 %s region %s%s", or_unset(c->s3.endpoint),
                     or_unset(c->s3.region), c->s3.path_style ? "" : " virtual-hosted");
        break;
    case HAUL_STORE_SWIFT:
        if (set(c->swift.token) && set(c->swift.storage_url))
            n = snprintf(out, outlen, "swift %s (pre-issued token)", c->swift.storage_url);
        else
            n = snprintf(out, outlen, "swift %s user %s", or_unset(c->swift.auth_url),
                         or_unset(c->swift.user));
        break;
    case HAUL_STORE_NONE:
        n = snprintf(out, outlen, "none");
        break;
    }
    if (n < 0 || (unsigned)n >= outlen) return;
    if (!c->tls_verify)
        n += snprintf(out + n, outlen - (unsigned)n, " tls-verify off");
    if (n >= 0 && (unsigned)n < outlen && set(c->ca_file))
        snprintf(out + n, outlen - (unsigned)n, " ca-file %s", c->ca_file);
}
