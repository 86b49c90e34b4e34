/* conn.h -- the serialized connection state a stateless worker needs.
 *
 * Every task carries one haul_conn: everything a worker on another host needs
 * to talk to the store, and nothing it has to remember between tasks. The
 * Swift token a worker obtains with auth v1.0 is cached per process (see
 * swift.h), never written back to the task.
 *
 * Fields marked "secret" are never logged, printed by `status`, or put in error
 * text: see log.h for the redaction that backs this up. */
#ifndef HAUL_CONN_H
#define HAUL_CONN_H

typedef enum haul_store_kind {
    HAUL_STORE_NONE = 0,
    HAUL_STORE_S3 = 1,
    HAUL_STORE_SWIFT = 2
} haul_store_kind;

typedef struct haul_s3_conn {
    char *endpoint;      /* "http://host:port" or "https://host", no trailing '/' */
    char *region;        /* SigV4 signing region, e.g. "us-east-1" */
    char *access_key;    /* access key id (not secret, but not printed either) */
    char *secret_key;    /* secret */
    char *session_token; /* secret; NULL when none */
    int path_style;      /* 1: http://host/bucket/key (default); 0: http://bucket.host/key */
} haul_s3_conn;

typedef struct haul_swift_conn {
    /* Either auth v1.0 credentials ... */
    char *auth_url;      /* "http://host:8080/auth/v1.0"; NULL when a token is given */
    char *user;          /* "account:user" */
    char *key;           /* secret */
    /* ... or a pre-issued token and the storage URL it belongs to. */
    char *token;         /* secret; NULL when credentials are given */
    char *storage_url;   /* "http://host:8080/v1/AUTH_test" */
} haul_swift_conn;

typedef struct haul_conn {
    haul_store_kind kind;
    int tls_verify;      /* 1 (default): verify the server's certificate and name */
    char *ca_file;       /* PEM bundle to verify against; NULL: the system's CAs */
    haul_s3_conn s3;     /* used when kind == HAUL_STORE_S3 */
    haul_swift_conn swift; /* used when kind == HAUL_STORE_SWIFT */
} haul_conn;

/* Zero *c and set the defaults (tls_verify = 1, path_style = 1). */
void haul_conn_init(haul_conn *c);
/* Free every string *c owns (secrets wiped first) and re-initialise it. */
void haul_conn_clear(haul_conn *c);
/* Deep copy; dst must be cleared or freshly initialised. */
void haul_conn_copy(haul_conn *dst, const haul_conn *src);
/* 0 when *c has what its kind needs; else -1 and a sentence naming the
 * missing setting (and the flag or variable that sets it) in err. */
int haul_conn_check(const haul_conn *c, char *err);
const char *haul_store_kind_str(haul_store_kind k); /* "s3", "swift", "none" */

/* Whether name can be sent as a bucket (S3) or container (Swift) name. Every
 * name: 1 to 255 bytes, not "." or "..", no '/' and no control character
 * (they would change the request's path). The relaxed names Ceph RGW and
 * Swift accept (upper case, '_', and more) pass. A virtual-host name
 * (S3 with path_style 0) becomes part of the host name, so it may hold only
 * letters, digits, '.', '-' and '_', and not start or end with '.' or '-':
 * never ':', '?', '#', '@', whitespace, which would send the signed request
 * elsewhere. 0, or -1 with a sentence naming the name and the rule. */
int haul_bucket_check(const char *name, int virtual_host, char *err);
/* A description safe to print: kind and endpoint, never a secret. */
void haul_conn_describe(const haul_conn *c, char *out, unsigned outlen);

#endif
