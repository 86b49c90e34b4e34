/* worker.h -- the worker's state, shared by its main loop and its operations. */
#ifndef HAUL_WORKER_H
#define HAUL_WORKER_H

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "buf.h"
#include "store.h"
#include "task.h"

/* The result of one key, kept until the whole task is written to the stream. */
typedef struct wresult {
    int done;
    int ok;
    long http;           /* 0: no request was made, or none answered */
    haul_buf value;      /* inline value (any bytes) */
    char *path;          /* get: the file the body was written to */
    long long bytes;     /* -1 unknown */
    char *error;         /* NULL when ok */
    long long ms;
    long long count;     /* list: entries listed; -1 otherwise */
    int tries;           /* attempts made for this key */
    int transient;       /* the failure is worth another attempt */
    char *resume;        /* list: where a retried listing resumes */
    long long listed;    /* list: entries already written */
    const char *verified; /* get: what the body was checked against ("md5", ...); NULL: "none" */
} wresult;

/* A task this worker holds: taken from the queue into its processing list,
 * removed from there only after every key's result is in the stream. */
typedef struct wtask {
    haul_task t;
    char *raw;           /* the exact bytes taken from Redis (LREM needs them) */
    size_t rawlen;
    size_t next;         /* next key to start */
    size_t ndone;        /* keys with a result */
    wresult *res;        /* nkeys results */
    struct wtask *link;
} wtask;

/* One key's transfer (several, for a paginated listing). */
typedef struct unit {
    wtask *wt;
    size_t idx;
    CURL *e;
    haul_req req;
    haul_buf body;       /* response body held in memory */
    haul_buf etag, ctype, lastmod;
    haul_buf meta;       /* head: JSON object members of user metadata */
    long long clen;      /* Content-Length, -1 unknown */
    FILE *f;             /* get: body spilled to a file past max_inline */
    char *path, *tmp;
    EVP_MD_CTX *md5;
    long long nbytes;    /* body bytes received */
    long long t0;
    int auth_retried;    /* Swift: re-authenticated once after a 401 */
    long long sent_ms;   /* when the last request of this key was started */
    int write_failed;
    char werr[HAUL_ERR_LEN];
    char *list_next;     /* list: continuation token / marker */
    long long list_count;
    struct unit *link;   /* free list */
} unit;

typedef struct worker {
    char *id;            /* "<host>:<pid>" */
    char *host;
    char *redis_url, *queue;
    long long concurrency;
    redisContext *rc;
    CURLM *multi;
    int running;         /* transfers in flight */
    long long tasks_done, keys_done, retries;
    long long started_ms;
    haul_buf k1, k2;     /* scratch for key names */
} worker;

/* ops.c */
/* Start the key u->idx of u->wt. Returns 0 when a transfer was added to the
 * multi handle, 1 when the key finished at once (its result is set). */
int haul_unit_start(worker *w, unit *u);
/* A transfer of u ended with cc. Returns 0 when the key is finished (result
 * set), 1 when another transfer of it was started (next page, re-auth). */
int haul_unit_done(worker *w, unit *u, CURLcode cc);
/* Release what a unit holds between uses (keeps its easy handle). */
void haul_unit_reset(unit *u);
/* Set a finished key's result (not transient). */
void haul_result_set(wresult *r, int ok, long http, const char *error);
/* Set a failed key's result, saying whether another attempt may succeed. */
void haul_result_fail(wresult *r, long http, const char *error, int transient);

/* main.c: write one listing row for a list task immediately (pipelined). */
void haul_emit_list_row(worker *w, wtask *wt, size_t idx, const haul_list_entry *e);

#endif
