/* haul-worker -- takes tasks from a Redis list, performs them against the
 * object store, and writes one result per key to the job's Redis stream.
 *
 * The design is simple: a worker is stateless. Everything a task needs --
 * the store's endpoint and credentials, the operation, the keys -- is inside
 * the task, so any number of workers on any hosts can serve one queue.
 *
 * One thread, one event loop (wev.h: epoll), three parts:
 *   - this file: options, signals, the loop, and the policy that joins the
 *     parts: which key starts next, when a failed key is tried again
 *     (retry.h), when to ask for more tasks, when to stop;
 *   - the Redis side (broker.h): taking tasks (LMOVE haul:q:<queue> ->
 *     haul:proc:<worker>, BLMOVE with no timeout when the queue is empty),
 *     writing results (one MULTI/EXEC per loop turn for every task finished
 *     in it: XADD each result, LREM each task -- a task leaves the
 *     processing list only with its results), listing checkpoints, the
 *     lease, the heartbeat, the reaper, dead letters;
 *   - the transfers (ops.c, worker.h): each key's requests as curl easy
 *     handles on one multi handle, which this file drives with
 *     curl_multi_socket_action from the loop's socket and timer events.
 * Nothing sleeps and nothing polls: the loop waits in epoll_wait for a
 * socket, a signal (signalfd) or the next deadline (curl's timer, the
 * heartbeat, the next retry, a reconnection).
 *
 * A task that cannot be decoded, or was made for another queue, or expired,
 * goes to haul:dead:<queue> with the reason. A failed request is an error
 * result, never a reason to exit; a transient failure (connection, timeout,
 * 429, 5xx) is tried again after a backoff with jitter, up to the task's
 * max_attempts, without holding a transfer slot. When Redis goes away,
 * transfers continue and results wait until it is back.
 *
 * What a task may make the worker do is confined (docs/security.md): files
 * only beneath --out-root and files read (put) only beneath --in-root
 * (files.h), requests only over HTTP(S) and, with
 * --allow-endpoint, only to the hosts listed (ops.c); with a key, tasks are
 * authenticated and every result row carries a MAC (rowmac.h).
 *
 * SIGTERM/SIGINT: take no more tasks, finish those held and store their
 * results; after --shutdown-timeout (or a second signal) return the tasks
 * still held to the queue, then exit.
 *
 * --metrics-listen ADDR:PORT serves /metrics (Prometheus's text format) from
 * the same loop: libmicrohttpd in its epoll mode without a thread of its own
 * (httpd.h) -- its epoll descriptor is one more watcher here, and its timeout
 * one more timer. Why not its internal thread: the counters (metrics.h) are
 * then touched by one thread only, so they need no lock and a scrape reads
 * them as they are at that instant; rendering them costs a few microseconds
 * of the loop, far less than a transfer's callbacks. Off by default. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"
#include "queue.h"
#include "retry.h"
#include "rowmac.h"
#include "seal.h"
#include "wev.h"
#include "worker.h"

#define ABANDON_FLUSH_MS 2000   /* past the shutdown bound: time left to store finished tasks */

/* One of curl's sockets, from its first use to its close. A connection
 * kept alive between transfers stays in the epoll set, parked: curl is not
 * watching it, and the next transfer on it costs no epoll_ctl. */
typedef struct csock {
    wev_io *io;
    int conn;             /* a connection's, opened by curl_open_cb */
    int parked;           /* curl said CURL_POLL_REMOVE: an event only unwatches it */
} csock;

typedef struct loop {
    worker w;             /* the transfers' state (ops.c) */
    wev_loop *ev;
    broker *b;
    long long concurrency;
    unit *units;          /* concurrency units */
    unit *free_units;
    wtask *tasks;         /* held tasks with keys not yet finished, oldest first */
    long long unstarted;  /* keys of held tasks not yet started */
    haul_retryq retries;  /* keys waiting for their next attempt */
    long long nretries;   /* attempts repeated, for the heartbeat */
    unsigned seed;
    wev_timer curl_timer, retry_timer, stop_timer;
    int stop_requested;   /* signals received */
    int abandoned;        /* past the shutdown bound: transfers dropped */
    long long abandon_until;
    char *id;             /* this worker's name */
    wev_io *wake;         /* the transfers' wake-up descriptor */
    csock *socks;         /* curl's sockets by descriptor (see curl_socket_cb) */
    int nsocks;
    wmetrics *metrics;    /* NULL: --metrics-listen not given */
    haul_httpd *http;     /* serves /metrics */
    wev_io *http_io;
    wev_timer http_timer;
} loop;

static struct {
    char *redis_url, *queue, *name, *log_level, *key_file, *out_root, *in_root, *allow, *metrics_listen;
    long long concurrency, max_deliveries, lease_s, shutdown_s, part_size, part_streams;
    int fsync_files;
    int read_only;
} opt;

static haul_opt opts[] = {
    {"redis", HAUL_OPT_STR, &opt.redis_url, "redis://127.0.0.1:6379/0", 0, 0, "HAUL_REDIS_URL", "URL",
     "Redis to take tasks from: redis://[user:password@]host:port/db", 0},
    {"queue", HAUL_OPT_STR, &opt.queue, "default", 0, 0, NULL, "NAME", "queue to serve", 0},
    {"concurrency", HAUL_OPT_INT, &opt.concurrency, "32", 1, 4096, NULL, "N", "requests in flight at once", 0},
    {"name", HAUL_OPT_STR, &opt.name, NULL, 0, 0, NULL, "ID", "worker id (default: <host>:<pid>)", 0},
    {"lease", HAUL_OPT_INT, &opt.lease_s, "10", 3, 3600, NULL, "SECONDS",
     "lease renewed every 2 s; a worker silent this long is presumed dead and its tasks requeued", 0},
    {"max-deliveries", HAUL_OPT_INT, &opt.max_deliveries, "5", 1, 1000, NULL, "N",
     "a task whose workers died N times goes to the dead-letter list (poison-pill cap)", 0},
    {"shutdown-timeout", HAUL_OPT_INT, &opt.shutdown_s, "30", 0, 86400, NULL, "SECONDS",
     "on SIGTERM, finish held tasks for at most this long, then return the rest to the queue", 0},
    {"key-file", HAUL_OPT_STR, &opt.key_file, NULL, 0, 0, NULL, "FILE",
     "key that unseals tasks (the scheduler's); with it, tasks in the clear are refused", 0},
    {"out-root", HAUL_OPT_STR, &opt.out_root, NULL, 0, 0, NULL, "DIR",
     "every file this worker writes lies beneath DIR; a task's --out-dir outside it is refused "
     "(default: the working directory it was started in)", 0},
    {"in-root", HAUL_OPT_STR, &opt.in_root, NULL, 0, 0, "HAUL_IN_ROOT", "DIR",
     "put reads files beneath DIR only (no links followed); without it, this worker uploads "
     "nothing", 0},
    {"read-only", HAUL_OPT_BOOL, &opt.read_only, "0", 0, 0, NULL, NULL,
     "refuse the ops that change the store (put, delete): each key gets an error row", 0},
    {"part-size", HAUL_OPT_INT, &opt.part_size, "32M", 0, 1LL << 40, "HAUL_PART_SIZE", "BYTES",
     "get to a file: a body larger than this is fetched as several ranged GETs at once, in parts "
     "of this size (0: always one stream)", 0},
    {"part-streams", HAUL_OPT_INT, &opt.part_streams, "4", 1, 64, "HAUL_PART_STREAMS", "N",
     "ranged GETs at once for one large body, beside the first (they come on top of --concurrency)", 0},
    {"fsync", HAUL_OPT_BOOL, &opt.fsync_files, "0", 0, 0, NULL, NULL,
     "fsync each file and its directory before its row says ok", 0},
    {"allow-endpoint", HAUL_OPT_LIST, &opt.allow, NULL, 0, 0, NULL, "HOST[:PORT]",
     "contact only stores (and Swift auth servers) matching these patterns ('*' globs; "
     "repeatable, or comma-separated); default: any", 0},
    {"metrics-listen", HAUL_OPT_STR, &opt.metrics_listen, NULL, 0, 0, NULL, "ADDR:PORT",
     "serve Prometheus metrics at http://ADDR:PORT/metrics (default: off; prefer a loopback or "
     "private address: see docs/security.md)", 0},
    {"log-level", HAUL_OPT_STR, &opt.log_level, "info", 0, 0, NULL, "LEVEL", "debug, info, warn or error", 0},
    {NULL, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0}
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: haul-worker [options]\n\n"
        "Takes tasks from a Redis list, performs them against S3 or Swift, and writes\n"
        "one result per key to the job's Redis stream. Stateless: the store's address\n"
        "and credentials come inside each task. Run as many as you like, on any hosts.\n"
        "SIGTERM or SIGINT: take no more tasks, finish those held (for at most\n"
        "--shutdown-timeout), store their results, exit; a second signal returns the\n"
        "held tasks to the queue at once.\n\noptions:\n");
    haul_opts_usage(f, opts);
    fprintf(f, "  --help                     this text\n");
}

static long long opt_shutdown_ms(void) { return opt.shutdown_s * 1000; }

static void after(loop *L, unit *u, int rc);

/* ---- keys ------------------------------------------------------------------ */

static void free_unit(loop *L, unit *u)
{
    haul_unit_reset(&L->w, u);
    u->wt = NULL;
    u->link = L->free_units;
    L->free_units = u;
}

/* A task whose keys are all finished goes to the broker to be stored. */
static void task_finished(loop *L, wtask *wt)
{
    for (wtask **pp = &L->tasks; *pp; pp = &(*pp)->link)
        if (*pp == wt) { *pp = wt->link; break; }
    wt->link = NULL;
    broker_store(L->b, wt);
}

/* A delete's keys that HEAD found there wait (bulk_pending) until
 * every other key of the task is done or waits too; then the first of them
 * is started again to lead one bulk request for them all (ops.c). */
static void bulk_due(loop *L, wtask *wt)
{
    if (!wt->npending || wt->bulk_leading || wt->ndone + wt->npending != wt->t.nkeys ||
        wt->next != wt->t.nkeys)
        return;
    for (size_t i = 0; i < wt->t.nkeys; i++) {
        if (!wt->res[i].bulk_pending) continue;
        wt->bulk_leading = 1;
        haul_retryq_push(&L->retries, (haul_retry){0, wt, i});
        return;
    }
}

/* A key's attempt is over: done, or (a transient failure with attempts
 * left) due again after a backoff, or waiting for a bulk delete. */
static void key_over(loop *L, wtask *wt, size_t idx)
{
    wresult *r = &wt->res[idx];
    if (r->bulk_pending) {
        wt->npending++;
        bulk_due(L, wt);
        return;
    }
    if (!r->ok && r->transient && r->tries < (int)wt->t.max_attempts && L->stop_requested < 2) {
        long long wait = haul_retry_backoff_ms(r->tries, &L->seed);
        wmetrics_count(L->metrics, WM_RETRIES, 1);
        log_debug("task %s key %zu: attempt %d failed (%s); retrying in %lld ms", wt->t.id,
                  idx, r->tries, r->error ? r->error : "", wait);
        r->done = 0;
        haul_retryq_push(&L->retries, (haul_retry){haul_mono_ms() + wait, wt, idx});
        L->nretries++;
    } else {
        wmetrics_result(L->metrics, wt->t.op, r->status ? r->status : r->ok ? "ok" : "error", r->http);
        if (++wt->ndone == wt->t.nkeys && wt->next == wt->t.nkeys) task_finished(L, wt);
        else bulk_due(L, wt);
    }
}

static void finish_key(loop *L, unit *u)
{
    wtask *wt = u->wt;
    size_t idx = u->idx;
    free_unit(L, u);
    key_over(L, wt, idx);
}

/* A listing key's page waits for its rows to be stored: ask the broker, or
 * (Redis away) go on as not committed. The answer comes in on_page. */
static int commit_page(loop *L, unit *u)
{
    char err[HAUL_ERR_LEN];
    if (broker_commit_page(L->b, u->wt, u->idx, &u->page, u, err) == 0) return -1;
    log_warn("task %s key %zu: listing rows not stored: %s", u->wt->t.id, u->idx, err);
    return haul_unit_continue(&L->w, u, 0, err);
}

/* What haul_unit_start/done/continue answered, acted on: a finished key is
 * finished, a listing page is committed and the key carries on. */
static void after(loop *L, unit *u, int rc)
{
    while (rc == UNIT_PAGE) rc = commit_page(L, u);
    if (rc == UNIT_FINISHED) finish_key(L, u);
    else if (rc == UNIT_DEFERRED) free_unit(L, u); /* the key waits without it */
    /* Keys that finished on their own meanwhile (their Swift auth failed),
     * and keys whose auth is done: due again at once. */
    unit *f;
    while ((f = haul_unit_finished(&L->w))) finish_key(L, f);
    wkey *k;
    while ((k = haul_key_failed(&L->w))) { key_over(L, k->wt, k->idx); free(k); }
    while ((k = haul_key_ready(&L->w))) {
        haul_retryq_push(&L->retries, (haul_retry){0, k->wt, k->idx});
        free(k);
    }
}

/* Start key idx of wt on a free unit. A listing key first reads its
 * checkpoint (on_checkpoint starts it). */
static void start_key(loop *L, wtask *wt, size_t idx)
{
    char err[HAUL_ERR_LEN];
    unit *u = L->free_units;
    L->free_units = u->link;
    u->wt = wt;
    u->idx = idx;
    if (wt->t.op == HAUL_OP_LIST || wt->t.op == HAUL_OP_LIST_BUCKETS) {
        if (broker_load_checkpoint(L->b, wt, idx, u, err) == 0) return;
        wresult *r = &wt->res[idx];
        r->tries++;
        haul_result_fail(r, 0, err, 1);
        r->count = r->listed;
        finish_key(L, u);
        return;
    }
    after(L, u, haul_unit_start(&L->w, u));
}

static void start_keys(loop *L)
{
    long long now = haul_mono_ms();
    haul_retry x;
    while (L->free_units && haul_retryq_pop_due(&L->retries, now, &x))
        start_key(L, x.owner, x.idx);
    for (wtask *wt = L->tasks; wt && L->free_units; ) {
        wtask *next = wt->link; /* wt may finish and leave the list */
        while (wt->next < wt->t.nkeys && L->free_units) {
            L->unstarted--;
            start_key(L, wt, wt->next++);
        }
        wt = next;
    }
}

/* ---- the broker's news ------------------------------------------------------- */

static void on_task(void *ud, wtask *wt)
{
    loop *L = ud;
    if (wt->t.nkeys == 0) { broker_store(L->b, wt); return; }
    wtask **pp = &L->tasks;
    while (*pp) pp = &(*pp)->link;
    *pp = wt;
    L->unstarted += (long long)wt->t.nkeys;
}

static void on_checkpoint(void *ud, void *token, int ok, const char *why)
{
    loop *L = ud;
    unit *u = token;
    if (!ok) {
        wresult *r = &u->wt->res[u->idx];
        r->tries++;
        haul_result_fail(r, 0, why, 1);
        r->count = r->listed;
        finish_key(L, u);
        return;
    }
    after(L, u, haul_unit_start(&L->w, u));
}

static void on_page(void *ud, void *token, int committed, const char *why)
{
    loop *L = ud;
    unit *u = token;
    if (!committed) log_warn("task %s key %zu: listing rows not stored: %s", u->wt->t.id, u->idx, why);
    after(L, u, haul_unit_continue(&L->w, u, committed, why));
}

static void on_stored(void *ud, wtask *wt)
{
    (void)ud;
    haul_wtask_free(wt);
}

/* ---- curl on the loop ---------------------------------------------------------- */

/* What curl finished, and what could only be started after curl's
 * callbacks returned (a large object's parts). */
static void collect_transfers(loop *L)
{
    CURLMsg *m;
    int left, rc;
    unit *u;
    for (;;) {
        while ((rc = haul_transfer_pump(&L->w, &u)), u) after(L, u, rc);
        if (!(m = curl_multi_info_read(L->w.multi, &left))) break;
        if (m->msg != CURLMSG_DONE) continue;
        rc = haul_transfer_done(&L->w, m->easy_handle, m->data.result, &u);
        if (u) after(L, u, rc);
    }
}

static void on_curl_io(wev_loop *l, wev_io *io, int events)
{
    loop *L = wev_io_data(io);
    int fd = wev_io_fd(io);
    if (L->socks[fd].parked) {
        /* An idle connection closed by the server (or talking out of turn):
         * curl finds out when it next picks the connection. */
        wev_io_want(l, io, 0);
        return;
    }
    int flags = (events & WEV_READ ? CURL_CSELECT_IN : 0) | (events & WEV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(L->w.multi, fd, flags, &running);
    collect_transfers(L);
}

/* A hashing thread of a large object finished (ranged.h). */
static void on_wake(wev_loop *l, wev_io *io, int events)
{
    (void)l; (void)events;
    collect_transfers(wev_io_data(io));
}

static csock *sock_slot(loop *L, int fd)
{
    if (fd >= L->nsocks) {
        int n = L->nsocks ? L->nsocks : 64;
        while (n <= fd) n *= 2;
        L->socks = haul_realloc(L->socks, (size_t)n * sizeof *L->socks);
        memset(L->socks + L->nsocks, 0, (size_t)(n - L->nsocks) * sizeof *L->socks);
        L->nsocks = n;
    }
    return &L->socks[fd];
}

/* curl's socket callback. A socket curl stops watching (CURL_POLL_REMOVE)
 * is parked, not taken out of the epoll set: with keep-alive the next
 * transfer on the connection asks for it again at once, and two epoll_ctl
 * calls per request were a tenth of the worker's system calls. Parked
 * sockets leave the table when curl closes them (curl_close_cb). */
static int curl_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e; (void)socketp;
    loop *L = userp;
    csock *c = sock_slot(L, s);
    if (what == CURL_POLL_REMOVE) {
        if (c->conn) {
            c->parked = 1;
        } else {
            /* Not a connection's (the resolver's socketpair): curl closes
             * it without telling, so it goes now. */
            wev_io_free(L->ev, c->io);
            c->io = NULL;
        }
        return 0;
    }
    if (!c->io) c->io = wev_io_new(L->ev, s, on_curl_io, L);
    c->parked = 0;
    int want = (what & CURL_POLL_IN ? WEV_READ : 0) | (what & CURL_POLL_OUT ? WEV_WRITE : 0);
    if (wev_io_want(L->ev, c->io, want) < 0) log_error("epoll_ctl on a transfer's socket: %s", strerror(errno));
    return 0;
}

/* Every easy handle's CURLOPT_OPENSOCKETFUNCTION and
 * CURLOPT_CLOSESOCKETFUNCTION (worker.h): a connection's socket is known
 * from its opening, and its watcher goes before its descriptor can be
 * reused. */
static curl_socket_t curl_open_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    loop *L = ud;
    (void)purpose;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    csock *c = sock_slot(L, fd);
    if (c->io) { /* a descriptor closed behind our back: never watched again */
        wev_io_free(L->ev, c->io);
        c->io = NULL;
    }
    c->conn = 1;
    c->parked = 0;
    return fd;
}

static int curl_close_cb(void *ud, curl_socket_t s)
{
    loop *L = ud;
    if (s >= 0 && s < L->nsocks) {
        csock *c = &L->socks[s];
        if (c->io) wev_io_free(L->ev, c->io);
        memset(c, 0, sizeof *c);
    }
    return close(s);
}

/* curl's timer, a millisecond late rather than early: curl keeps time in
 * microseconds, and called before its timeout is due it does nothing, and
 * need not call this again for the same timeout (on_curl_timer re-arms it
 * from curl_multi_timeout then). */
static int curl_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    loop *L = userp;
    if (timeout_ms < 0) wev_timer_stop(L->ev, &L->curl_timer);
    else wev_timer_start(L->ev, &L->curl_timer, timeout_ms > 0 ? timeout_ms + 1 : 0);
    return 0;
}

static void on_curl_timer(wev_loop *l, wev_timer *t)
{
    (void)l;
    loop *L = t->ud;
    int running;
    long next = -1;
    curl_multi_socket_action(L->w.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_transfers(L);
    /* And in case curl said nothing new: its timeout as it stands now. */
    if (!L->curl_timer.armed && curl_multi_timeout(L->w.multi, &next) == CURLM_OK && next >= 0)
        wev_timer_start(L->ev, &L->curl_timer, next + 1);
}

/* ---- /metrics ------------------------------------------------------------------ */

static long long rss_bytes(void)
{
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static int on_http(void *ud, const char *path, haul_buf *body, const char **ctype)
{
    loop *L = ud;
    if (!strcmp(path, "/metrics")) {
        wmetrics_gauge(L->metrics, WM_IN_FLIGHT, L->w.running);
        wmetrics_gauge(L->metrics, WM_TASKS_HELD, (double)broker_tasks_held(L->b));
        wmetrics_gauge(L->metrics, WM_RSS_BYTES, (double)rss_bytes());
        wmetrics_render(L->metrics, body);
        *ctype = HAUL_PROM_CONTENT_TYPE;
        return 200;
    }
    if (!strcmp(path, "/")) {
        haul_buf_adds(body, "haul-worker: metrics at /metrics\n");
        return 200;
    }
    haul_buf_adds(body, "not found: this worker serves /metrics\n");
    return 404;
}

/* Serve what is ready, then wait for the descriptor or libmicrohttpd's
 * next deadline (an idle connection's timeout). */
static void http_serve(loop *L)
{
    haul_httpd_run(L->http);
    long long t = haul_httpd_timeout_ms(L->http);
    if (t >= 0) wev_timer_start(L->ev, &L->http_timer, t);
    else wev_timer_stop(L->ev, &L->http_timer);
}

static void on_http_io(wev_loop *l, wev_io *io, int events)
{
    (void)l; (void)events;
    http_serve(wev_io_data(io));
}

static void on_http_timer(wev_loop *l, wev_timer *t)
{
    (void)l;
    http_serve(t->ud);
}

/* ---- stopping ---------------------------------------------------------------- */

/* Past the shutdown bound: drop the transfers; the tasks still held go back
 * to the queue when the loop ends (broker_shutdown). Finished tasks get a
 * moment to be stored. */
static void abandon(loop *L)
{
    if (L->abandoned) return;
    L->abandoned = 1;
    L->abandon_until = haul_mono_ms() + ABANDON_FLUSH_MS;
    for (long long i = 0; i < L->concurrency; i++) {
        unit *u = &L->units[i];
        if (!u->wt) continue;
        haul_unit_abandon(&L->w, u);
        u->wt = NULL;
        u->link = L->free_units;
        L->free_units = u;
    }
    /* Waiters of abandoned auths: abandoned too. */
    while (haul_unit_finished(&L->w)) {}
    wkey *k;
    while ((k = haul_key_failed(&L->w))) free(k);
    while ((k = haul_key_ready(&L->w))) free(k);
    wev_timer_start(L->ev, &L->stop_timer, ABANDON_FLUSH_MS);
}

static void on_stop_timer(wev_loop *l, wev_timer *t)
{
    loop *L = t->ud;
    if (!L->abandoned) abandon(L);
    else wev_break(l);
}

static void on_signal(wev_loop *l, int sig, void *ud)
{
    loop *L = ud;
    (void)sig;
    if (L->stop_requested++ == 0) {
        log_info("stopping: taking no more tasks; finishing %s held", L->tasks ? "those" : "none");
        broker_stop_taking(L->b);
        wev_timer_start(l, &L->stop_timer, opt_shutdown_ms());
    } else {
        abandon(L);
    }
}

static void on_retry_timer(wev_loop *l, wev_timer *t)
{
    (void)l; (void)t; /* the turn that follows starts the keys due */
}

/* The end of every turn of the loop: start what can start, store what
 * finished, ask for tasks, and see whether the worker is done. */
static void on_turn(wev_loop *l, void *ud)
{
    loop *L = ud;
    if (!L->abandoned) start_keys(L);
    broker_flush(L->b);
    long long room = L->concurrency - L->unstarted;
    /* Keys waiting on a slow Swift auth hold no transfer slot, but count
     * (up to 4 per slot) so a stalled auth server does not make this worker
     * take the whole queue. */
    if (L->w.deferred >= 4 * L->concurrency || L->stop_requested) room = 0;
    broker_take(L->b, room);
    const haul_retry *next = haul_retryq_peek(&L->retries);
    if (next && L->free_units && !L->abandoned) wev_timer_start(l, &L->retry_timer, next->due_ms - haul_mono_ms());
    else wev_timer_stop(l, &L->retry_timer);
    broker_note_load(L->b, L->w.running, L->nretries, L->stop_requested ? "stopping" : "running");
    if (L->abandoned) {
        if (broker_unstored(L->b) == 0 || haul_mono_ms() >= L->abandon_until) wev_break(l);
    } else if (L->stop_requested && !L->tasks && L->w.running == 0 && broker_unstored(L->b) == 0 &&
               !haul_retryq_len(&L->retries)) {
        wev_break(l);
    }
}

int main(int argc, char **argv)
{
    static loop L;
    worker *w = &L.w;
    char err[HAUL_ERR_LEN], host[256];
    char *pos[1];
    unsigned char keybuf[HAUL_SEAL_KEY_LEN];
    const unsigned char *key = NULL;
    haul_rowmac *mac = NULL;

    haul_log_init("haul-worker");
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    if (haul_opts_parse(opts, argc, argv, 1, pos, 0, err) < 0) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    if (haul_log_set_level(opt.log_level) < 0) {
        fprintf(stderr, "haul-worker: --log-level: '%s' is not one of debug, info, warn, error\n", opt.log_level);
        return 2;
    }
    /* This process holds credentials and keys: no core dump may keep them. */
    if (haul_no_core_dumps(err) < 0) log_warn("%s", err);
    if (opt.key_file) {
        int k = haul_seal_key_load(opt.key_file, keybuf, err);
        if (k < 0) {
            fprintf(stderr, "haul-worker: %s\n", err);
            return 2;
        }
        if (k == 1) log_warn("key file %s is readable by other users: chmod 600 it", opt.key_file);
        key = keybuf;
        if (!(mac = haul_rowmac_new(key))) {
            fprintf(stderr, "haul-worker: OpenSSL cannot make HMAC-SHA256 (needed to sign results)\n");
            return 2;
        }
    }
    if (!(w->files = wfiles_open(opt.out_root, opt.fsync_files, err))) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    if (opt.in_root && !(w->in = rfiles_open(opt.in_root, err))) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    w->read_only = opt.read_only;
    w->allow = opt.allow;
    w->part_size = opt.part_size;
    w->part_streams = (int)opt.part_streams;
    L.concurrency = opt.concurrency;
    if (gethostname(host, sizeof host) < 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    if (opt.name) L.id = haul_strdup(opt.name);
    else {
        haul_buf b = HAUL_BUF_INIT;
        haul_buf_printf(&b, "%s:%d", host, (int)getpid());
        L.id = haul_buf_detach(&b);
    }
    L.seed = (unsigned)getpid() ^ (unsigned)haul_now_ms();

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (!(L.ev = wev_new(&sigs, on_signal, on_turn, &L, err))) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }
    wev_timer_init(&L.curl_timer, on_curl_timer, &L);
    wev_timer_init(&L.retry_timer, on_retry_timer, &L);
    wev_timer_init(&L.stop_timer, on_stop_timer, &L);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "haul-worker: libcurl failed to initialise\n");
        return 2;
    }
    if (opt.metrics_listen && *opt.metrics_listen) {
        L.metrics = w->metrics = wmetrics_new();
        if (!(L.http = haul_httpd_start("--metrics-listen", opt.metrics_listen, HAUL_HTTPD_EXTERNAL, on_http,
                                        &L, err))) {
            fprintf(stderr, "haul-worker: %s\n", err);
            return 2;
        }
        wev_timer_init(&L.http_timer, on_http_timer, &L);
        L.http_io = wev_io_new(L.ev, haul_httpd_fd(L.http), on_http_io, &L);
        if (wev_io_want(L.ev, L.http_io, WEV_READ) < 0) {
            fprintf(stderr, "haul-worker: --metrics-listen: epoll_ctl: %s\n", strerror(errno));
            return 2;
        }
        log_info("serving metrics at http://%s/metrics (port %d)", opt.metrics_listen, haul_httpd_port(L.http));
    }
    broker_cfg bc = {
        .url = opt.redis_url, .queue = opt.queue, .id = L.id, .host = host,
        .concurrency = opt.concurrency, .lease_ms = opt.lease_s * 1000,
        .max_deliveries = opt.max_deliveries, .key = key, .mac = mac, .metrics = L.metrics,
    };
    broker_events be = {&L, on_task, on_checkpoint, on_page, on_stored};
    if (!(L.b = broker_new(L.ev, &bc, &be, err))) {
        fprintf(stderr, "haul-worker: %s\n", err);
        return 2;
    }

    w->multi = curl_multi_init();
    if (!w->multi) haul_oom();
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)L.concurrency * 2);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, &L);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, &L);
    w->opensocket = curl_open_cb;
    w->closesocket = curl_close_cb;
    w->sockets_ud = &L;
    w->rwake = -1;
    {
        int fd = haul_transfer_wakefd(w);
        if (fd >= 0) wev_io_want(L.ev, L.wake = wev_io_new(L.ev, fd, on_wake, &L), WEV_READ);
    }
    L.units = haul_calloc((size_t)L.concurrency, sizeof *L.units);
    for (long long i = L.concurrency - 1; i >= 0; i--) {
        unit *u = &L.units[i];
        u->e = curl_easy_init();
        if (!u->e) haul_oom();
        u->w = w;
        u->clen = u->parts_count = u->part_size = -1;
        u->file = (wfile)WFILE_INIT;
        u->src = (rfile)RFILE_INIT;
        u->link = L.free_units;
        L.free_units = u;
    }
    {
        /* The URL as it may be shown: never its password, however short
         * (the log's redaction leaves strings under 4 bytes alone). */
        haul_redis_url ru;
        if (haul_redis_url_parse(opt.redis_url, &ru, err) == 0) {
            log_info("worker %s serving queue '%s' at %s with concurrency %lld, writing files "
                     "beneath %s%s%s", L.id, opt.queue, ru.display, L.concurrency,
                     wfiles_root(w->files), w->allow ? ", contacting only " : "",
                     w->allow ? w->allow : "");
            haul_redis_url_free(&ru);
        }
    }

    if (wev_run(L.ev, err) < 0) log_error("%s", err);

    log_info("stopped: %lld tasks, %lld keys done, %lld retries", broker_tasks_done(L.b),
             broker_keys_done(L.b), L.nretries);
    broker_shutdown(L.b, L.abandoned);
    for (long long i = 0; i < L.concurrency; i++) {
        haul_unit_free(w, &L.units[i]);
    }
    haul_worker_cleanup(w);
    wfiles_close(w->files);
    wfiles_close(w->in);
    while (L.tasks) { wtask *wt = L.tasks; L.tasks = wt->link; haul_wtask_free(wt); }
    haul_retryq_free(&L.retries);
    free(L.units);
    curl_multi_cleanup(w->multi); /* closes the sockets: the table empties */
    free(L.socks);
    broker_free(L.b);
    wev_io_free(L.ev, L.wake);
    wev_io_free(L.ev, L.http_io);
    wev_timer_stop(L.ev, &L.http_timer);
    haul_httpd_stop(L.http);
    wmetrics_free(L.metrics);
    wev_free(L.ev);
    haul_swift_cache_clear();
    haul_sigv4_cache_clear();
    curl_global_cleanup();
    haul_rowmac_free(mac);
    haul_wipe(keybuf, sizeof keybuf);
    haul_opts_free(opts);
    free(L.id);
    return 0;
}
