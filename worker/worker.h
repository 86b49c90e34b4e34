/* worker.h -- what the worker's parts share: a task held and its keys'
 * results (made by the Redis side, broker.c; filled by the transfers,
 * ops.c), and the transfers' own state and entry points (ops.c).
 * ops.c never talks to Redis and never calls into the loop (main.c): it
 * tells the loop what happened through the return values of
 * haul_unit_start() / haul_transfer_done() and through the worker's lists of
 * keys that finished on their own (w->finished, w->ready, w->failed). */
#ifndef HAUL_WORKER_H
#define HAUL_WORKER_H

#include <curl/curl.h>

#include "buf.h"
#include "files.h"
#include "listing.h"
#include "store.h"
#include "task.h"
#include "verify.h"

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
    haul_verified verified; /* get: what the body was checked against */
    const char *status;  /* a status other than ok / error ("skipped", "missing", ...;
                            static); NULL: ok or error as `ok` says */
    char md5[33];        /* put: the file's MD5; "" none */
    int bulk_done;       /* set by another key's bulk request: finish with it when started */
    int bulk_pending;    /* delete: HEAD found the object, to be deleted with the task's
                            others in one bulk request (the loop counts it in
                            wt->npending, not as done) */
    char *etag;          /* put: the ETag the store returned; verify: the object's */
    /* list: the checkpoint this key's rows are committed up to (broker.c reads
     * it from Redis before every attempt and after every commit). */
    char *resume;        /* the next page's marker; NULL: from the start */
    long long listed;    /* rows committed */
    int list_done;       /* the last page is committed */
} wresult;

/* A task this worker holds: taken from the queue into its processing list,
 * removed from there only after every key's result is in the stream. */
typedef struct wtask {
    haul_task t;
    char *raw;           /* the exact bytes taken from Redis (LREM needs them) */
    size_t rawlen;
    size_t next;         /* next key to start */
    size_t ndone;        /* keys with a result */
    size_t npending;     /* keys bulk_pending, not yet taken by a bulk request */
    int bulk_leading;    /* a key is due to lead a bulk delete of them */
    wresult *res;        /* nkeys results */
    struct wtask *link;  /* the loop's list of tasks with keys to do */
    struct wtask *blink; /* the broker's list of tasks held (taken, not stored) */
} wtask;

/* What a unit's easy handle is doing for its key. */
typedef enum unit_step {
    STEP_REQUEST = 0,    /* the key's own request (for list: the next page) */
    STEP_AUTH,           /* authenticating to Swift for every key of these credentials */
    STEP_MANIFEST,       /* get, Swift SLO: GET ?multipart-manifest=get */
    STEP_SEGMENTS,       /* get, Swift DLO: listing the segments (one page) */
    STEP_PARTPROBE,      /* get, S3 multipart: HEAD ?partNumber=1 for the part size */
    STEP_LISTCHECK,      /* get over S3: is this 32-hex ETag a Swift DLO's? (listing) */
    STEP_PROBE,          /* put --skip-existing: HEAD the key first */
    STEP_SEG_STALE,      /* put in parts, S3, tried again: list the key's unfinished uploads */
    STEP_SEG_DROP,       /* ... and abort each (DELETE ?uploadId=) */
    STEP_SEG_BEGIN,      /* S3: POST ?uploads; Swift: PUT the segments container */
    STEP_SEG_END,        /* S3: POST ?uploadId= (the parts' list); Swift: the manifest */
    STEP_SEG_ABORT,      /* failed after it began: S3 DELETE ?uploadId=; Swift: each segment */
    STEP_SIDECAR,        /* put --collate: the zip's sidecar, <key>.metadata */
    STEP_BULK,           /* delete: S3 DeleteObjects, Swift POST ?bulk-delete (up to 1000 keys) */
} unit_step;
const char *unit_step_str(unit_step s);

struct worker;

/* A key waiting, without holding a unit, for the Swift auth a unit leads. */
typedef struct wkey {
    wtask *wt;
    size_t idx;
    struct wkey *next;
} wkey;

/* One key's transfers: the request, and the side requests its verification
 * or authentication needs, one at a time on one easy handle. */
typedef struct unit {
    int xfer_tag;        /* 0: a unit (an easy handle's private is a unit or a
                            ranged stream, ranged.h) */
    struct worker *w;    /* the worker it belongs to (for the callbacks) */
    wtask *wt;
    size_t idx;
    CURL *e;
    unit_step step;
    unit_step after_auth; /* STEP_AUTH: the step to run once authenticated */
    int in_multi;        /* e is added to the multi handle */
    int parked;          /* waiting for another unit's Swift auth */
    struct unit *waiters;     /* STEP_AUTH: units parked on this one (mid-way keys) */
    wkey *key_waiters;        /* STEP_AUTH: keys not started that wait on it */
    struct unit *next_waiter; /* link in a leader's waiters, in w->auths (a leader),
                                 or in w->finished */
    haul_swift_auth auth;     /* STEP_AUTH: the answer's headers */
    haul_req req;
    haul_buf body;       /* response body held in memory */
    haul_buf side;       /* a side request's answer (the body may still be needed) */
    haul_buf etag, ctype, lastmod;
    haul_buf meta;       /* head: JSON object members of user metadata */
    haul_buf manifest_hdr; /* X-Object-Manifest (DLO) */
    int slo;             /* X-Static-Large-Object: True */
    int slo_delete;      /* delete over Swift: the key is an SLO, deleted with its segments */
    long long clen;      /* Content-Length, -1 unknown */
    long long parts_count; /* x-amz-mp-parts-count, -1 unknown */
    wfile file;          /* get: body spilled to a file past max_inline */
    haul_verifier *ver;  /* get: checks the body as it arrives; NULL: nothing to check */
    int planned;         /* get: the verification plan is made for this response */
    int replan;          /* get: stopped the body to learn how to verify it (step to run) */
    int replans;         /* plans made for this key (bounded) */
    int listchecked;     /* get over S3: STEP_LISTCHECK was done */
    int range_checked;   /* get: whether to fetch in parts was decided */
    struct wrange *range; /* get: fetched in parts (ranged.h); NULL: one stream */
    rfile src;           /* put: the file sent */
    struct upload_src *up; /* put: curl's reader of it (upload.h) */
    struct upload_hash *deep; /* verify --deep: the body's MD5 so far */
    struct wseg *seg;    /* put above the segment size: the parts (segput.h) */
    struct upload_job *hjob; /* put: the thread hashing a large file (upload.h) */
    int zip;             /* put: the key is a zip of several files (collate.h) */
    int seg_ended;       /* put in parts: ended; STEP_PROBE asks the object's ETag */
    size_t bulk_n;       /* STEP_BULK: the keys sent, this one and those in bulk_keys */
    wkey *bulk_keys;     /* STEP_BULK: the other keys of the bulk request */
    haul_buf sidecar;    /* ... and its sidecar's text */
    struct unit *hnext;  /* link in w->hashing */
    const char *seg_arg; /* STEP_SEG_DROP: the upload id; STEP_SEG_ABORT (Swift): the segment */
    haul_buf reqbody;    /* a control request's body (STEP_SEG_END) */
    long seg_http;       /* put in parts, failed: what to report once aborted */
    int seg_transient;
    haul_segment *segs;  /* get: the segments learned (SLO manifest, DLO listing) */
    size_t nsegs;
    char *segs_etag;     /* the object ETag they were learned for */
    long long part_size; /* get, S3 multipart: >0 from the store, 0 guessed */
    long long nbytes;    /* body bytes received */
    long long t0;
    int auth_retried;    /* Swift: re-authenticated once after a 401 */
    long long sent_ms;   /* when the last request of this key was started */
    int write_failed;
    int corrupt;         /* write_failed because the body failed verification */
    char werr[HAUL_ERR_LEN];
    char *list_next;     /* list / DLO segments: continuation token or marker */
    long long list_count;
    haul_list_page page; /* list: the page whose rows wait to be committed */
    struct unit *link;   /* free list */
} unit;

/* What the transfers need: the multi handle the loop drives, the files
 * they may write, and the bookkeeping of Swift auths and finished keys. */
typedef struct worker {
    CURLM *multi;
    int running;         /* transfers in flight */
    wfiles *files;       /* every file this worker writes lies beneath its --out-root */
    wfiles *in;          /* every file put reads lies beneath its --in-root; NULL: reads none */
    int read_only;       /* --read-only: put and delete are refused */
    const char *allow;   /* --allow-endpoint patterns; NULL: any */
    unit *auths;         /* units leading a Swift auth (STEP_AUTH) */
    unit *finished;      /* keys finished outside haul_transfer_done's own return */
    wkey *ready;         /* keys whose credentials' auth succeeded: start them again */
    wkey *failed;        /* keys whose credentials' auth failed: their result is set */
    long long deferred;  /* keys waiting on an auth (in key_waiters) */
    char **noparts;      /* S3 endpoints that do not tell part sizes (no partNumber) */
    size_t nnoparts;
    long long part_size; /* get: bodies above this are fetched in parts; 0: never */
    int part_streams;    /* ... by this many ranged GETs beside the first */
    char **noranges;     /* endpoints that ignore Range */
    size_t nnoranges;
    CURL **spare;        /* easy handles of ranged streams, kept for the next */
    size_t nspare;
    char *rbuf;          /* ranged: read-back buffer for the verifier */
    struct wrange *rpending; /* ranged: downloads whose streams are to start */
    struct wrange *rhashing; /* ranged: downloads with a hashing thread */
    int rwake;           /* ranged: the hashing threads' eventfd; -1: none yet */
    unit *hashing;       /* put: units whose file a thread hashes */
    struct wmetrics *metrics; /* every request counted (metrics.h); NULL: metrics off */
    /* Given to every easy handle as its CURLOPT_OPENSOCKETFUNCTION and
     * CURLOPT_CLOSESOCKETFUNCTION (the loop's: it keeps idle connections'
     * sockets watched, main.c); NULL: curl's own. */
    curl_opensocket_callback opensocket;
    curl_closesocket_callback closesocket;
    void *sockets_ud;
} worker;

/* An easy handle made ready for req: reset, the store's options
 * (haul_store_setup), and the socket callbacks every handle of the worker
 * gets. The caller adds its own callbacks. */
static inline void haul_easy_prepare(const worker *w, CURL *e, const haul_conn *c, const haul_req *req)
{
    curl_easy_reset(e);
    haul_store_setup(e, c, req);
    if (!w->opensocket) return;
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, w->opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, w->sockets_ud);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, w->closesocket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, w->sockets_ud);
}

/* ops.c */
enum {
    UNIT_RUNNING = 0,    /* a transfer of the key is under way (or it waits for an auth) */
    UNIT_FINISHED = 1,   /* the key has its result */
    UNIT_PAGE = 2,       /* list: u->page holds rows for the loop to commit, then call
                            haul_unit_continue() */
    UNIT_DEFERRED = 3,   /* the key waits for another unit's Swift auth without this
                            unit (free it; the key comes back in w->ready or w->failed) */
};
/* Start the key u->idx of u->wt (a retry resumes where its result says). */
int haul_unit_start(worker *w, unit *u);
/* A transfer ended with cc: e is the easy handle. *u gets the unit whose
 * key it concerns, or NULL (a ranged stream whose download goes on), and
 * the answer is for that unit. */
int haul_transfer_done(worker *w, CURL *e, CURLcode cc, unit **u);
/* After every curl_multi_socket_action: start what could not be started
 * within curl's callbacks (ranged.h). Call until *u is NULL; the answer is
 * for *u, as haul_transfer_done's. */
int haul_transfer_pump(worker *w, unit **u);
/* A descriptor that becomes readable when haul_transfer_pump has news that
 * no transfer brings (a large object's hashing thread is done); -1: none. */
int haul_transfer_wakefd(worker *w);
/* list: the page was committed (committed 1: r->listed and r->resume were
 * updated by the caller) or not (0: the key fails, worth another attempt). */
int haul_unit_continue(worker *w, unit *u, int committed, const char *why);
/* Release what a unit holds between uses (keeps its easy handle and small
 * buffers); a unit
 * leading an auth hands its waiters to w->finished, failed. */
void haul_unit_reset(worker *w, unit *u);
/* At exit: what the transfers keep across keys (memos, spare handles). */
void haul_worker_cleanup(worker *w);
/* At exit: reset, free the kept buffers and the easy handle. */
void haul_unit_free(worker *w, unit *u);
/* Abandon the unit's transfer (shutdown): out of the multi handle, reset. */
void haul_unit_abandon(worker *w, unit *u);
/* The next key that finished outside haul_transfer_done's return, or NULL. */
unit *haul_unit_finished(worker *w);
/* The next deferred key to start again (its auth succeeded) / whose result
 * is set (its auth failed), or NULL. The caller frees it. */
wkey *haul_key_ready(worker *w);
wkey *haul_key_failed(worker *w);
/* Set a finished key's result (not transient). */
void haul_result_set(wresult *r, int ok, long http, const char *error);
/* Set a failed key's result, saying whether another attempt may succeed. */
void haul_result_fail(wresult *r, long http, const char *error, int transient);

#endif
