/* broker.c -- the worker's Redis side (see broker.h). */
#include "broker.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "seal.h"

#define HEARTBEAT_MS      2000
#define WORKER_TTL_S      15
#define BROKER_TIMEOUT_MS 10000  /* a command unanswered this long drops the connection */
#define FLUSH_MAX_TASKS   256    /* tasks per results transaction */
#define TAKE_MAX          32     /* LMOVEs pipelined at once */

typedef struct rconn {
    broker *b;
    const char *name;           /* "cmd" or "take", for logs */
    redisAsyncContext *ac;      /* NULL while disconnected */
    int up;                     /* connected */
    long long pending;          /* replies awaited */
    long long last_reply_ms;    /* when a reply last came (or the first was awaited) */
    long long backoff_ms;
    wev_timer retry;            /* reconnection */
    int was_up;                 /* connected before: the next connection is a reconnection */
    haul_buf fmt;               /* send_argv's command, formatted here, kept between uses */
} rconn;

/* One results transaction: MULTI, the tasks' XADDs and LREMs, the counts,
 * EXEC. Each reply is counted; the first error is kept for the log. */
typedef struct fbatch {
    broker *b;
    wtask **v;
    size_t n;
    long long replies;          /* replies still awaited */
    int exec_ok;
    char first[HAUL_ERR_LEN];
} fbatch;

struct broker {
    wev_loop *l;
    broker_cfg cfg;
    broker_events ev;
    haul_redis_url url;
    rconn cmd, take;
    int closing;                /* broker_shutdown began: callbacks do nothing */
    /* leases */
    int lease_ok;               /* renewed (and reconciled) since the last connection */
    int had_lease;
    /* taking */
    long long room;             /* keys the loop has room for */
    long long takes;            /* LMOVE/BLMOVE replies awaited */
    int queue_empty;            /* the last LMOVE found nothing: BLMOVE next */
    int stopping;
    long long refused_until;    /* after a refusal, take again no sooner */
    wev_timer take_again;
    long long avg_keys;         /* keys per task seen, for how many to take at once */
    int warned_clear;
    /* held tasks (taken, not yet stored), for reconciling */
    wtask *held;
    /* results */
    wtask **store;              /* finished tasks waiting for a transaction */
    size_t nstore, capstore;
    long long writing;          /* tasks in a transaction under way */
    wev_timer flush_again;
    long long flush_backoff_ms;
    long long next_flush_ms;
    int full;                   /* Redis refused a write for want of memory */
    /* heartbeat */
    wev_timer hb;
    long long inflight, retries, tasks_done, keys_done, started_ms;
    const char *state;
    char **cancelled;
    size_t ncancelled;
    haul_buf k1, k2, k3;        /* scratch for key names */
};

static void conn_start(broker *b, rconn *c);
static void conn_drop(rconn *c, const char *why, int quiet);
static void maybe_take(broker *b);

/* ---- small helpers ------------------------------------------------------ */

static const char *reply_err(const redisReply *r, const rconn *c, char *err)
{
    if (!r) snprintf(err, HAUL_ERR_LEN, "Redis: %s", c->ac && c->ac->errstr[0] ? c->ac->errstr
                                                                            : "connection lost");
    else if (r->type == REDIS_REPLY_ERROR) snprintf(err, HAUL_ERR_LEN, "Redis: %s", r->str);
    else return NULL;
    return err;
}

/* Count a reply on c; none at all (NULL) means the connection is going. */
static void got_reply(rconn *c, const void *reply)
{
    if (!reply) c->up = 0;
    if (c->pending > 0) c->pending--;
    c->last_reply_ms = haul_mono_ms();
}

static void sent(rconn *c, long long n)
{
    if (c->pending == 0) c->last_reply_ms = haul_mono_ms();
    c->pending += n;
}

/* Send on c with a callback (NULL: the reply is only counted). */
static void count_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)priv;
    rconn *c = ac->data;
    if (c) got_reply(c, reply);
}

/* "<c><n>\r\n" at p; returns the end. */
static char *resp_len(char *p, char c, size_t n)
{
    char tmp[24];
    int k = 0;
    do { tmp[k++] = (char)('0' + n % 10); n /= 10; } while (n);
    *p++ = c;
    while (k) *p++ = tmp[--k];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* The command in RESP, formatted into c->fmt (a buffer kept between calls,
 * not a string allocated for each, as redisAsyncCommandArgv does: a result's
 * body is copied once less). */
static int send_argv(rconn *c, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                     const size_t *argl)
{
    if (!c->up) return -1;
    size_t total = 16;
    for (int i = 0; i < argc; i++) total += argl[i] + 24;
    haul_buf_reset(&c->fmt);
    haul_buf_reserve(&c->fmt, total);
    char *p = c->fmt.p;
    p = resp_len(p, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p = resp_len(p, '$', argl[i]);
        memcpy(p, argv[i], argl[i]);
        p += argl[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    int rc = redisAsyncFormattedCommand(c->ac, cb ? cb : count_cb, priv, c->fmt.p, (size_t)(p - c->fmt.p));
    if (c->fmt.cap > (4u << 20)) haul_buf_free(&c->fmt); /* one large body: not kept */
    if (rc != REDIS_OK) return -1;
    sent(c, 1);
    return 0;
}

static int send_fmt(rconn *c, redisCallbackFn *cb, void *priv, const char *fmt, ...)
{
    if (!c->up) return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(c->ac, cb ? cb : count_cb, priv, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) return -1;
    sent(c, 1);
    return 0;
}

static int send_formatted(rconn *c, redisCallbackFn *cb, void *priv, char *cmd, int len)
{
    int rc = -1;
    if (c->up && redisAsyncFormattedCommand(c->ac, cb ? cb : count_cb, priv, cmd, (size_t)len) == REDIS_OK) {
        sent(c, 1);
        rc = 0;
    }
    free(cmd);
    return rc;
}

/* Redis refused a write for want of memory (maxmemory with noeviction):
 * say so once, and take no new task -- more tasks would only mean more
 * results waiting -- until a write goes through again. */
static void set_full(broker *b, const char *what)
{
    if (!b->full)
        log_error("Redis is out of memory (maxmemory reached, noeviction): %s; this worker takes "
                  "no new task until Redis accepts writes again (a collector frees memory as it "
                  "writes rows; or raise maxmemory)", what);
    b->full = 1;
}

static void set_writable(broker *b)
{
    if (b->full) log_info("Redis accepts writes again");
    b->full = 0;
}

void haul_wtask_free(wtask *wt)
{
    if (!wt) return;
    for (size_t i = 0; i < wt->t.nkeys && wt->res; i++) {
        haul_buf_free(&wt->res[i].value);
        free(wt->res[i].path);
        free(wt->res[i].error);
        free(wt->res[i].resume);
        free(wt->res[i].etag);
    }
    free(wt->res);
    haul_wipe(wt->raw, wt->rawlen); /* in the clear, a task holds the store's credentials */
    free(wt->raw);
    haul_task_clear(&wt->t);
    free(wt);
}

static void held_remove(broker *b, wtask *wt)
{
    for (wtask **pp = &b->held; *pp; pp = &(*pp)->blink)
        if (*pp == wt) { *pp = wt->blink; return; }
}

/* ---- the lease and reconciling ------------------------------------------ */

/* After every (re)connection: a task in this worker's processing list that
 * the worker does not hold in memory is an orphan -- from an earlier life of
 * a worker with the same --name, or a Redis that lost the last second of its
 * AOF (the LMOVE survived, the results did not). A live worker renews its
 * lease, so the reaper would never free it: requeue it here, counting the
 * delivery as the reaper does (bytes 13-16), so a task that kills every
 * worker that runs it -- restarted under the same name -- still reaches the
 * poison-pill cap and becomes a dead letter. Only then may tasks be taken
 * (nothing is taken while this runs: the take connection waits for
 * lease_ok). */
static void on_reconcile(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    redisReply *r = reply;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing) return;
    if (reply_err(r, &b->cmd, err)) {
        log_warn("checking %s: %s", haul_key_proc(&b->k1, b->cfg.id), err);
        return; /* lease_ok stays 0: the next heartbeat tries again */
    }
    haul_buf kdead = HAUL_BUF_INIT, kq = HAUL_BUF_INIT, kp = HAUL_BUF_INIT, entry = HAUL_BUF_INIT;
    haul_key_dead(&kdead, b->cfg.queue);
    haul_key_queue(&kq, b->cfg.queue);
    haul_key_proc(&kp, b->cfg.id);
    long long orphans = 0, dead = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        int held = 0;
        for (wtask *wt = b->held; wt && !held; wt = wt->blink)
            held = wt->rawlen == e->len && memcmp(wt->raw, e->str, e->len) == 0;
        if (held) continue;
        char *bumped = haul_malloc(e->len + 1);
        memcpy(bumped, e->str, e->len);
        uint32_t n = 0;
        int counted = haul_task_bump_attempt(bumped, e->len, &n) == 0;
        send_fmt(&b->cmd, NULL, NULL, "MULTI");
        send_fmt(&b->cmd, NULL, NULL, "LREM %s 1 %b", kp.p, e->str, e->len);
        if (counted && n >= b->cfg.max_deliveries) {
            haul_buf_reset(&entry);
            haul_buf_printf(&entry, "reason=delivered %u times, and every worker holding it died "
                            "(poison-pill cap: --max-deliveries %lld)\tworker=%s\tqueue=%s\tat=%lld"
                            "\tattempt=%u\n", n, b->cfg.max_deliveries, b->cfg.id, b->cfg.queue,
                            haul_now_ms(), n);
            haul_buf_add(&entry, bumped, e->len);
            send_fmt(&b->cmd, NULL, NULL, "RPUSH %s %b", kdead.p, entry.p, entry.len);
            wmetrics_count(b->cfg.metrics, WM_TASKS_DEAD, 1);
            dead++;
        } else {
            send_fmt(&b->cmd, NULL, NULL, "LPUSH %s %b", kq.p, counted ? bumped : e->str, e->len);
        }
        send_fmt(&b->cmd, NULL, NULL, "EXEC");
        haul_wipe(bumped, e->len);
        free(bumped);
        orphans++;
    }
    if (orphans)
        log_warn("found %lld task(s) in %s that this worker does not hold (an earlier worker of this "
                 "name died?): %lld requeued with a delivery counted, %lld dead-lettered at the cap",
                 orphans, kp.p, orphans - dead, dead);
    haul_seal_buf_wipe(&entry);
    haul_buf_free(&kdead); haul_buf_free(&kq); haul_buf_free(&kp);
    b->lease_ok = 1;
    maybe_take(b);
}

static void on_lease(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing) return;
    if (reply_err(reply, &b->cmd, err)) {
        if (!haul_redis_oom(err)) log_warn("renewing the lease: %s", err);
        b->lease_ok = 0;
        return;
    }
    wmetrics_count(b->cfg.metrics, WM_LEASE_RENEWALS, 1);
    if (haul_lease_reply(reply) && b->had_lease)
        log_warn("my lease had lapsed (paused or cut off for over %lld ms): the tasks I held were "
                 "requeued, so their keys may be answered twice (the collector keeps one)", b->cfg.lease_ms);
    b->had_lease = 1;
    if (!b->lease_ok) {
        /* First renewal on this connection: reconcile, then take. */
        send_fmt(&b->cmd, on_reconcile, b, "LRANGE %s 0 -1", haul_key_proc(&b->k1, b->cfg.id));
    }
}

static void renew_lease(broker *b)
{
    char *cmd;
    int len = haul_lease_cmd(&cmd, b->cfg.queue, b->cfg.id, b->cfg.lease_ms);
    send_formatted(&b->cmd, on_lease, b, cmd, len);
}

/* ---- the heartbeat ------------------------------------------------------- */

static void on_cancelled(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    redisReply *r = reply;
    if (c) got_reply(c, reply);
    if (b->closing || !r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t j = 0; j < b->ncancelled; j++) free(b->cancelled[j]);
    b->cancelled = haul_realloc(b->cancelled, (r->elements + 1) * sizeof *b->cancelled);
    b->ncancelled = r->elements;
    for (size_t j = 0; j < r->elements; j++) b->cancelled[j] = haul_strdup(r->element[j]->str);
}

static void on_hb_write(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing) return;
    if (reply_err(reply, &b->cmd, err)) {
        if (haul_redis_oom(err)) set_full(b, "the heartbeat waits");
        else log_warn("heartbeat: %s", err);
    }
}

static void on_reap(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing) return;
    if (reply_err(reply, &b->cmd, err)) {
        log_warn("reaping: %s", err);
        return;
    }
    long long requeued, dead, workers;
    haul_reap_reply(reply, &requeued, &dead, &workers);
    if (workers)
        log_warn("reaped %lld worker(s) whose lease lapsed: %lld task(s) requeued, %lld dead-lettered",
                 workers, requeued, dead);
}

/* A connection that has not answered for BROKER_TIMEOUT_MS is dropped: a
 * Redis stopped (SIGSTOP, a frozen VM) or a path cut without a reset. The
 * take connection's blocked BLMOVE is waiting by design. */
static void check_stuck(rconn *c, long long now)
{
    if (!c->up || c->pending == 0 || now - c->last_reply_ms < BROKER_TIMEOUT_MS) return;
    if (c == &c->b->take && c->b->takes && c->b->queue_empty) return;
    char why[128];
    snprintf(why, sizeof why, "no answer for %lld ms", now - c->last_reply_ms);
    conn_drop(c, why, 0);
}

static size_t held_count(const broker *b)
{
    size_t n = 0;
    for (const wtask *w = b->held; w; w = w->blink) n++;
    return n;
}

static void on_heartbeat(wev_loop *l, wev_timer *t)
{
    broker *b = t->ud;
    long long now = haul_now_ms();
    wev_timer_start(l, &b->hb, HEARTBEAT_MS);
    check_stuck(&b->cmd, haul_mono_ms());
    check_stuck(&b->take, haul_mono_ms());
    log_debug("heartbeat: room %lld, takes %lld pending, queue %s, lease %s, take connection %s, "
              "%zu held, %zu to store", b->room, (long long)b->takes, b->queue_empty ? "seen empty" : "not empty",
              b->lease_ok ? "ok" : "not renewed", b->take.up ? "up" : "down", held_count(b), b->nstore);
    if (!b->cmd.up) return;
    haul_key_worker(&b->k1, b->cfg.id);
    send_fmt(&b->cmd, on_hb_write, b,
             "HSET %s host %s pid %d queue %s concurrency %lld started %lld last_seen %lld "
             "tasks_done %lld keys_done %lld retries %lld inflight %lld state %s",
             b->k1.p, b->cfg.host, (int)getpid(), b->cfg.queue, b->cfg.concurrency,
             b->started_ms, now, b->tasks_done, b->keys_done, b->retries, b->inflight,
             b->state ? b->state : "running");
    send_fmt(&b->cmd, on_hb_write, b, "EXPIRE %s %d", b->k1.p, WORKER_TTL_S);
    send_fmt(&b->cmd, on_hb_write, b, "ZADD " HAUL_KEY_WORKERS " %lld %s", now, b->cfg.id);
    send_fmt(&b->cmd, on_hb_write, b, "ZREMRANGEBYSCORE " HAUL_KEY_WORKERS " -inf %lld", now - 3600 * 1000LL);
    send_fmt(&b->cmd, on_cancelled, b, "SMEMBERS " HAUL_KEY_CANCELLED);
    renew_lease(b);
    char *cmd;
    int len = haul_reap_cmd(&cmd, b->cfg.queue, b->cfg.max_deliveries);
    send_formatted(&b->cmd, on_reap, b, cmd, len);
}

/* ---- connections ---------------------------------------------------------- */

static void on_reconnect(wev_loop *l, wev_timer *t)
{
    (void)l;
    rconn *c = t->ud;
    conn_start(c->b, c);
}

/* The connection is gone (its context freed or being freed): forget it,
 * and (unless quiet: shutdown, or stopping taking) come back after the
 * backoff. Losing "cmd" drops "take" too: no task may be taken until the
 * lease is renewed on a new connection. */
static void conn_lost(rconn *c, const char *why, int quiet)
{
    broker *b = c->b;
    if (!c->ac) return;
    c->ac = NULL;
    c->up = 0;
    c->pending = 0;
    if (c == &b->take) b->takes = 0;
    if (c == &b->cmd) b->lease_ok = 0;
    if (quiet || b->closing) return;
    if (c == &b->cmd) {
        log_warn("lost Redis connection (%s); reconnecting", why);
        conn_drop(&b->take, "the command connection was lost", 0);
    } else if (b->cmd.up) {
        log_warn("lost Redis connection for taking tasks (%s); reconnecting", why);
    }
    if (c == &b->take && b->stopping) return;
    wev_timer_start(b->l, &c->retry, c->backoff_ms);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 200;
    if (c->backoff_ms > 5000) c->backoff_ms = 5000;
}

/* Drop a connection now. Its pending callbacks run with no reply; hiredis
 * frees the context (later, when called from one of its own callbacks). */
static void conn_drop(rconn *c, const char *why, int quiet)
{
    redisAsyncContext *ac = c->ac;
    if (!ac) return;
    conn_lost(c, why, quiet);
    redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    if (!c) return;
    broker *b = c->b;
    if (status == REDIS_OK) {
        if (c->backoff_ms && c == &b->cmd) log_info("reconnected to Redis");
        if (c->was_up) wmetrics_count(b->cfg.metrics, WM_REDIS_RECONNECTS, 1);
        c->was_up = 1;
        c->backoff_ms = 0;
        return;
    }
    /* hiredis frees the context after this: no disconnect callback. */
    c->ac = NULL;
    c->up = 0;
    c->pending = 0;
    if (c == &b->take) b->takes = 0;
    if (b->closing || (c == &b->take && b->stopping)) return;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 200;
    if (c->backoff_ms > 5000) c->backoff_ms = 5000;
    if (c == &b->cmd)
        log_warn("cannot connect to Redis at %s: %s; retrying in %lld ms", b->url.display,
                 ac->errstr[0] ? ac->errstr : "refused", c->backoff_ms);
    wev_timer_start(b->l, &c->retry, c->backoff_ms);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    (void)status;
    if (!c) return;
    conn_lost(c, ac->errstr[0] ? ac->errstr : "closed by the server", 0);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing || !reply_err(reply, c, err)) return;
    log_error("Redis at %s refused this worker (%s)", b->url.display, err);
    redisAsyncDisconnect(ac);
}

static void conn_start(broker *b, rconn *c)
{
    char err[HAUL_ERR_LEN];
    redisAsyncContext *ac = redisAsyncConnect(b->url.host, b->url.port);
    if (!ac) haul_oom();
    if (ac->err) {
        snprintf(err, sizeof err, "%s", ac->errstr);
        redisAsyncFree(ac);
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 200;
        if (c->backoff_ms > 5000) c->backoff_ms = 5000;
        log_warn("cannot connect to Redis at %s: %s; retrying in %lld ms", b->url.display, err, c->backoff_ms);
        wev_timer_start(b->l, &c->retry, c->backoff_ms);
        return;
    }
    /* hiredis frees its read buffer each time it empties above 16 KiB, and
     * grows it again for the next reply: keep up to 1 MiB of it instead. */
    ac->c.reader->maxbuf = 1u << 20;
    ac->data = c;
    wev_redis_attach(b->l, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisEnableKeepAlive(&ac->c);
    c->ac = ac;
    c->up = 1;
    c->pending = 0;
    if (b->url.pass) {
        if (b->url.user) send_fmt(c, on_auth, b, "AUTH %s %s", b->url.user, b->url.pass);
        else send_fmt(c, on_auth, b, "AUTH %s", b->url.pass);
    }
    if (b->url.db) send_fmt(c, on_auth, b, "SELECT %d", b->url.db);
    if (c == &b->cmd) renew_lease(b); /* then reconcile (on_lease), then take */
}

/* ---- taking tasks -------------------------------------------------------- */

static void on_take_again(wev_loop *l, wev_timer *t)
{
    (void)l;
    maybe_take(t->ud);
}

static void on_dead_letter(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing) return;
    if (reply_err(reply, &b->cmd, err)) log_error("dead-lettering a task: %s", err);
}

static void dead_letter(broker *b, const char *raw, size_t rawlen, const char *reason)
{
    haul_buf entry = HAUL_BUF_INIT;
    haul_buf_printf(&entry, "reason=%s\tworker=%s\tqueue=%s\tat=%lld\n", reason, b->cfg.id, b->cfg.queue,
                    haul_now_ms());
    haul_buf_add(&entry, raw, rawlen);
    haul_key_dead(&b->k1, b->cfg.queue);
    haul_key_proc(&b->k2, b->cfg.id);
    send_fmt(&b->cmd, NULL, NULL, "MULTI");
    send_fmt(&b->cmd, on_dead_letter, b, "RPUSH %s %b", b->k1.p, entry.p, entry.len);
    send_fmt(&b->cmd, on_dead_letter, b, "LREM %s 1 %b", b->k2.p, raw, rawlen);
    send_fmt(&b->cmd, on_dead_letter, b, "EXEC");
    wmetrics_count(b->cfg.metrics, WM_TASKS_DEAD, 1);
    log_warn("task refused and moved to %s: %s", b->k1.p, reason);
    haul_seal_buf_wipe(&entry);
}

/* A task came from the queue: decode and check it, and hand it over. */
static void accept_task(broker *b, const char *bytes, size_t len)
{
    char err[HAUL_ERR_LEN];
    wmetrics_count(b->cfg.metrics, WM_TASKS_TAKEN, 1);
    wtask *wt = haul_calloc(1, sizeof *wt);
    wt->raw = haul_malloc(len + 1);
    memcpy(wt->raw, bytes, len);
    wt->rawlen = len;
    if (haul_task_decode_key(wt->raw, wt->rawlen, b->cfg.key, &wt->t, err) < 0 ||
        haul_task_check_delivery(&wt->t, b->cfg.queue, haul_now_ms(), err) < 0) {
        dead_letter(b, wt->raw, wt->rawlen, err);
        haul_wtask_free(wt);
        return;
    }
    if (broker_is_cancelled(b, wt->t.job)) { /* drop it: no results for a cancelled job */
        send_fmt(&b->cmd, NULL, NULL, "LREM %s 1 %b", haul_key_proc(&b->k2, b->cfg.id), wt->raw, wt->rawlen);
        log_info("task %s dropped: job %s was cancelled", wt->t.id, wt->t.job);
        haul_wtask_free(wt);
        return;
    }
    if (!b->cfg.key && !b->warned_clear) {
        log_warn("tasks carry the store's credentials in the clear (no --key-file / HAUL_KEY_FILE)");
        b->warned_clear = 1;
    }
    /* Remember the task's secrets so no log line can show them. */
    haul_log_secret(wt->t.conn.s3.secret_key);
    haul_log_secret(wt->t.conn.s3.session_token);
    haul_log_secret(wt->t.conn.swift.key);
    haul_log_secret(wt->t.conn.swift.token);
    wt->res = haul_calloc(wt->t.nkeys ? wt->t.nkeys : 1, sizeof *wt->res);
    log_debug("task %s: %s of %zu keys", wt->t.id, haul_op_str(wt->t.op), wt->t.nkeys);
    b->avg_keys = (3 * b->avg_keys + (long long)wt->t.nkeys + 3) / 4;
    if (b->avg_keys < 1) b->avg_keys = 1;
    wt->blink = b->held;
    b->held = wt;
    b->room -= (long long)wt->t.nkeys;
    b->ev.task(b->ev.ud, wt);
}

static void on_take(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    broker *b = priv;
    redisReply *r = reply;
    char err[HAUL_ERR_LEN];
    if (c) got_reply(c, reply);
    if (b->closing) return;
    if (b->takes > 0) b->takes--;
    if (!r) return; /* the connection is going: taken again once it is back */
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, sizeof err, "Redis: %s", r->str);
        if (haul_redis_oom(err)) set_full(b, "no task can be taken");
        else log_warn("taking a task: %s", err);
        b->refused_until = haul_mono_ms() + 1000; /* do not spin on a refusal */
        wev_timer_start(b->l, &b->take_again, 1000);
        return;
    }
    if (r->type != REDIS_REPLY_STRING) {
        b->queue_empty = 1;
        return;
    }
    b->queue_empty = 0;
    accept_task(b, r->str, r->len);
    haul_wipe(r->str, r->len);
}

static void maybe_take(broker *b)
{
    if (b->closing || b->stopping || !b->take.up || !b->lease_ok || b->full || b->takes ||
        b->room <= 0 || haul_mono_ms() < b->refused_until)
        return;
    haul_key_queue(&b->k1, b->cfg.queue);
    haul_key_proc(&b->k2, b->cfg.id);
    if (b->queue_empty) {
        /* Redis wakes this worker when a task comes. The wait is bounded
         * by a third of the lease: a worker frozen (SIGSTOP, a paused VM)
         * with a BLMOVE pending would otherwise be handed tasks after its
         * lease lapsed and the reaper let it go -- tasks held by no leased
         * worker, which a collector must call lost. A BLMOVE sent before
         * the freeze ends before the lease can lapse. */
        long long block_s = b->cfg.lease_ms / 3000;
        if (block_s < 1) block_s = 1;
        if (send_fmt(&b->take, on_take, b, "BLMOVE %s %s LEFT RIGHT %lld", b->k1.p, b->k2.p, block_s) == 0)
            b->takes = 1;
        return;
    }
    /* No more tasks at once than the room is likely to hold: a worker that
     * hoards tasks it cannot start holds them hostage should it die (each
     * comes back with a delivery counted, nearer the poison-pill cap). */
    long long n = b->room / b->avg_keys;
    if (n < 1) n = 1;
    if (n > TAKE_MAX) n = TAKE_MAX;
    for (long long i = 0; i < n; i++)
        if (send_fmt(&b->take, on_take, b, "LMOVE %s %s LEFT RIGHT", b->k1.p, b->k2.p) == 0) b->takes++;
}

void broker_take(broker *b, long long room)
{
    b->room = room;
    maybe_take(b);
}

void broker_stop_taking(broker *b)
{
    if (b->stopping) return;
    b->stopping = 1;
    conn_drop(&b->take, "stopping", 1);
    wev_timer_stop(b->l, &b->take.retry);
}

/* ---- results --------------------------------------------------------------- */

/* An entry's arguments: at most 36 (XADD, the stream, NOMKSTREAM, *, and 16
 * fields with their values), 8 of them numbers made here (7, and the MAC). */
typedef struct argv_b {
    const char *v[44];
    size_t n[44];
    int c;
    char nums[10][33];
    int nn;
} argv_b;

static void arg(argv_b *a, const char *s, size_t n) { a->v[a->c] = s; a->n[a->c] = n; a->c++; }
static void args(argv_b *a, const char *s) { arg(a, s, strlen(s)); }
static void argnum(argv_b *a, long long x)
{
    char *s = a->nums[a->nn++];
    snprintf(s, 32, "%lld", x);
    args(a, s);
}

/* "XADD <stream> NOMKSTREAM * ...": NOMKSTREAM because the job's stream is
 * made, with its expiry, by the scheduler; a result that comes after the job
 * was deleted or expired must not bring the stream back without one. */
static void result_argv(broker *b, argv_b *a, const char *stream, wtask *wt, size_t i)
{
    wresult *r = &wt->res[i];
    haul_task *t = &wt->t;
    args(a, "XADD"); args(a, stream); args(a, "NOMKSTREAM"); args(a, "*");
    args(a, "key"); args(a, t->keys[i]);
    args(a, "i"); argnum(a, (long long)(t->first + i));
    args(a, "status"); args(a, r->status ? r->status : r->ok ? "ok" : "error");
    args(a, "http"); argnum(a, r->http);
    if (r->path) { args(a, "path"); args(a, r->path); }
    else if (t->op >= HAUL_OP_PUT) {
        if (r->md5[0]) { args(a, "md5"); args(a, r->md5); }
        if (r->etag) { args(a, "etag"); args(a, r->etag); }
    } else if (r->ok && t->op != HAUL_OP_LIST && t->op != HAUL_OP_LIST_BUCKETS) {
        args(a, "value"); arg(a, haul_buf_str(&r->value), r->value.len);
    }
    args(a, "bytes"); argnum(a, r->bytes);
    if (r->error) { args(a, "error"); args(a, r->error); }
    if (r->count >= 0) { args(a, "eof"); args(a, "1"); args(a, "count"); argnum(a, r->count); }
    args(a, "ms"); argnum(a, r->ms);
    args(a, "worker"); args(a, b->cfg.id);
    args(a, "task"); args(a, t->id);
    args(a, "attempt"); argnum(a, t->attempt);
    args(a, "tries"); argnum(a, r->tries);
    args(a, "verified"); args(a, haul_verified_str(r->verified));
    /* With a key, the entry ends with its MAC over every field after the
     * "*" (rowmac.h), so a collector with the key can tell rows no worker
     * wrote. */
    if (b->cfg.mac) {
        char *hex = a->nums[a->nn++];
        if (haul_rowmac_compute(b->cfg.mac, t->job, strlen(t->job), a->v + 4, a->n + 4,
                                (size_t)a->c - 4, hex) < 0) {
            log_error("cannot compute a result MAC (OpenSSL failed): the collector will drop this row");
            return;
        }
        args(a, "mac"); args(a, hex);
    }
}

void broker_store(broker *b, wtask *wt)
{
    if (b->nstore == b->capstore) {
        b->capstore = b->capstore ? 2 * b->capstore : 64;
        b->store = haul_realloc(b->store, b->capstore * sizeof *b->store);
    }
    b->store[b->nstore++] = wt;
}

long long broker_unstored(const broker *b) { return (long long)b->nstore + b->writing; }

static void batch_done(fbatch *fb)
{
    broker *b = fb->b;
    b->writing = 0;
    if (b->closing) {
        /* Shutting down: the tasks go back to the queue from Redis. */
        for (size_t i = 0; i < fb->n; i++) haul_wtask_free(fb->v[i]);
        goto out;
    }
    if (fb->exec_ok && !fb->first[0]) {
        long long keys = 0;
        for (size_t i = 0; i < fb->n; i++) keys += (long long)fb->v[i]->t.nkeys;
        b->tasks_done += (long long)fb->n;
        b->keys_done += keys;
        wmetrics_count(b->cfg.metrics, WM_TASKS_STORED, (long long)fb->n);
        b->flush_backoff_ms = 0;
        b->next_flush_ms = 0;
        set_writable(b);
        for (size_t i = 0; i < fb->n; i++) {
            log_debug("task %s: %zu keys done", fb->v[i]->t.id, fb->v[i]->t.nkeys);
            held_remove(b, fb->v[i]);
            b->ev.stored(b->ev.ud, fb->v[i]);
        }
        goto out;
    }
    /* Not stored: put the tasks back in front, and try again later, not in
     * a loop: Redis may be loading, out of memory, or refusing this user a
     * command (fix the ACL: see README). */
    if (!fb->first[0]) snprintf(fb->first, sizeof fb->first, "EXEC answered no results");
    b->flush_backoff_ms = b->flush_backoff_ms ? b->flush_backoff_ms * 2 : 250;
    if (b->flush_backoff_ms > 5000) b->flush_backoff_ms = 5000;
    b->next_flush_ms = haul_mono_ms() + b->flush_backoff_ms;
    wev_timer_start(b->l, &b->flush_again, b->flush_backoff_ms);
    const char *tid = fb->n ? fb->v[0]->t.id : "?";
    if (haul_redis_oom(fb->first))
        set_full(b, "results of the tasks held wait");
    else if (strstr(fb->first, "NOPERM"))
        log_error("task %s: Redis refuses this worker's user a command: %s (grant the commands "
                  "listed in README, 'Workers on several hosts'); retrying in %lld ms",
                  tid, fb->first, b->flush_backoff_ms);
    else
        log_warn("task %s: cannot store results yet: %s; retrying in %lld ms", tid, fb->first,
                 b->flush_backoff_ms);
    if (b->nstore + fb->n > b->capstore) {
        b->capstore = b->nstore + fb->n;
        b->store = haul_realloc(b->store, b->capstore * sizeof *b->store);
    }
    memmove(b->store + fb->n, b->store, b->nstore * sizeof *b->store);
    memcpy(b->store, fb->v, fb->n * sizeof *fb->v);
    b->nstore += fb->n;
out:
    free(fb->v);
    free(fb);
}

static void on_batch(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    fbatch *fb = priv;
    redisReply *r = reply;
    if (c) got_reply(c, reply);
    if (!fb->first[0]) {
        if (!r) snprintf(fb->first, sizeof fb->first, "Redis: connection lost");
        else if (r->type == REDIS_REPLY_ERROR) snprintf(fb->first, sizeof fb->first, "Redis: %s", r->str);
    }
    if (--fb->replies == 0) {
        /* The last reply is EXEC's: an array of every command's reply. */
        if (r && r->type == REDIS_REPLY_ARRAY) {
            fb->exec_ok = 1;
            for (size_t i = 0; i < r->elements && !fb->first[0]; i++)
                if (r->element[i]->type == REDIS_REPLY_ERROR)
                    snprintf(fb->first, sizeof fb->first, "Redis: %s", r->element[i]->str);
        }
        batch_done(fb);
    }
}

static void on_flush_again(wev_loop *l, wev_timer *t)
{
    (void)l; (void)t; /* the turn that follows flushes */
}

void broker_flush(broker *b)
{
    if (!b->nstore || b->writing || !b->cmd.up || b->closing) return;
    if (haul_mono_ms() < b->next_flush_ms) return;
    size_t n = b->nstore < FLUSH_MAX_TASKS ? b->nstore : FLUSH_MAX_TASKS;
    fbatch *fb = haul_calloc(1, sizeof *fb);
    fb->b = b;
    fb->n = n;
    fb->v = haul_malloc(n * sizeof *fb->v);
    memcpy(fb->v, b->store, n * sizeof *fb->v);
    memmove(b->store, b->store + n, (b->nstore - n) * sizeof *b->store);
    b->nstore -= n;
    b->writing = (long long)n;

    /* Each command is counted as it is queued: a failure to queue one (the
     * connection going) still ends the batch through the others' replies. */
    long long keys = 0;
    fb->replies = 1;
    if (send_fmt(&b->cmd, on_batch, fb, "MULTI") < 0) { fb->replies = 0; batch_done(fb); return; }
    haul_key_proc(&b->k1, b->cfg.id);
    for (size_t j = 0; j < n; j++) {
        wtask *wt = fb->v[j];
        haul_key_results(&b->k2, wt->t.job);
        for (size_t i = 0; i < wt->t.nkeys; i++) {
            argv_b a = {.c = 0};
            result_argv(b, &a, b->k2.p, wt, i);
            fb->replies++;
            if (send_argv(&b->cmd, on_batch, fb, a.c, a.v, a.n) < 0) fb->replies--;
        }
        fb->replies++;
        if (send_fmt(&b->cmd, on_batch, fb, "LREM %s 1 %b", b->k1.p, wt->raw, wt->rawlen) < 0) fb->replies--;
        keys += (long long)wt->t.nkeys;
    }
    haul_key_worker(&b->k3, b->cfg.id);
    fb->replies += 3;
    if (send_fmt(&b->cmd, on_batch, fb, "HINCRBY %s tasks_done %zu", b->k3.p, n) < 0) fb->replies--;
    if (send_fmt(&b->cmd, on_batch, fb, "HINCRBY %s keys_done %lld", b->k3.p, keys) < 0) fb->replies--;
    if (send_fmt(&b->cmd, on_batch, fb, "EXEC") < 0) fb->replies--;
}

/* ---- listing pages and their checkpoints ------------------------------ */

/* A listing's rows are committed page by page together with a checkpoint,
 * "<rows>\t<done>\t<next marker>" in haul:lpos:<job> under "<task id>#<key
 * index>", by one script that first compares the checkpoint with the one the
 * worker started the page from. So a task taken again after its worker died
 * resumes after the last committed page (no row twice), a lost connection
 * loses no committed row, and two workers that hold the same task (a lease
 * that lapsed) cannot both commit a page: the second finds the checkpoint
 * moved, and resumes from it. The checkpoint hash takes the results stream's
 * expiry; without the stream (the job is gone) nothing is written. */
static const char page_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local cur = redis.call('HGET', KEYS[2], ARGV[1]) or ''\n"
    "if cur ~= ARGV[2] then return 0 end\n"
    "local i = 5\n"
    "for r = 1, tonumber(ARGV[4]) do\n"
    "  local n = tonumber(ARGV[i])\n"
    "  redis.call('XADD', KEYS[1], 'NOMKSTREAM', '*', unpack(ARGV, i + 1, i + n))\n"
    "  i = i + 1 + n\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end\n"
    "return 1\n";

/* A request about one listing key, answered by a callback. */
typedef struct lreq {
    broker *b;
    wtask *wt;
    size_t idx;
    void *token;
    long long rows;      /* commit: rows committed once it succeeds */
    int more;            /* commit: pages follow */
    char *next;          /* commit: the next marker */
} lreq;

static void ckpt_field(haul_buf *out, const wtask *wt, size_t idx)
{
    haul_buf_reset(out);
    haul_buf_printf(out, "%s#%zu", wt->t.id, idx);
}

/* The checkpoint text of (rows, done, next); "" for none at all. */
static void ckpt_text(haul_buf *out, long long rows, int done, const char *next)
{
    haul_buf_reset(out);
    if (rows == 0 && !done && !next) return;
    haul_buf_printf(out, "%lld\t%d\t%s", rows, done ? 1 : 0, next ? next : "");
}

static void on_checkpoint(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    lreq *q = priv;
    broker *b = q->b;
    redisReply *r = reply;
    char err[HAUL_ERR_LEN] = "";
    if (c) got_reply(c, reply);
    if (b->closing) goto out;
    wresult *res = &q->wt->res[q->idx];
    if (!reply_err(r, &b->cmd, err)) {
        free(res->resume);
        res->resume = NULL;
        res->listed = 0;
        res->list_done = 0;
        if (r->type == REDIS_REPLY_STRING) {
            char *tab1 = strchr(r->str, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
            if (!tab2) {
                snprintf(err, sizeof err, "the listing's checkpoint in %s is malformed",
                         haul_key_lpos(&b->k1, q->wt->t.job));
            } else {
                res->listed = strtoll(r->str, NULL, 10);
                res->list_done = tab1[1] == '1';
                if (tab2[1]) res->resume = haul_strdup(tab2 + 1);
            }
        }
    }
    b->ev.checkpoint(b->ev.ud, q->token, !err[0], err);
out:
    free(q);
}

int broker_load_checkpoint(broker *b, wtask *wt, size_t idx, void *token, char *err)
{
    if (!b->cmd.up) {
        snprintf(err, HAUL_ERR_LEN, "Redis is unavailable: cannot read the listing's checkpoint");
        return -1;
    }
    lreq *q = haul_calloc(1, sizeof *q);
    *q = (lreq){b, wt, idx, token, 0, 0, NULL};
    ckpt_field(&b->k2, wt, idx);
    if (send_fmt(&b->cmd, on_checkpoint, q, "HGET %s %s", haul_key_lpos(&b->k1, wt->t.job), b->k2.p) < 0) {
        free(q);
        snprintf(err, HAUL_ERR_LEN, "Redis is unavailable: cannot read the listing's checkpoint");
        return -1;
    }
    return 0;
}

static void on_page(redisAsyncContext *ac, void *reply, void *priv)
{
    rconn *c = ac->data;
    lreq *q = priv;
    broker *b = q->b;
    redisReply *r = reply;
    char err[HAUL_ERR_LEN] = "";
    int committed = 0;
    if (c) got_reply(c, reply);
    if (b->closing) goto out;
    wresult *res = &q->wt->res[q->idx];
    if (reply_err(r, &b->cmd, err)) {
        if (haul_redis_oom(err)) set_full(b, "a listing's rows wait");
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
        committed = 1;
        res->listed = q->rows;
        res->list_done = !q->more;
        free(res->resume);
        res->resume = q->more ? q->next : NULL;
        q->next = NULL;
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        snprintf(err, sizeof err, "the listing's checkpoint moved: another worker holds this "
                 "task too (a lease that lapsed); resuming from its checkpoint");
    } else {
        snprintf(err, sizeof err, "job %s has no results stream (expired, cancelled or deleted): "
                 "its listing is dropped", q->wt->t.job);
    }
    b->ev.page(b->ev.ud, q->token, committed, err);
out:
    free(q->next);
    free(q);
}

/* A listed object's value: {"size","etag","last_modified"[,"count"]}, its
 * strings escaped (they come from the store's answer). */
static void listing_value(haul_buf *out, const haul_list_entry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "size", json_integer(e->size));
    if (e->etag) json_object_set_new(o, "etag", json_string(e->etag));
    if (e->last_modified) json_object_set_new(o, "last_modified", json_string(e->last_modified));
    if (e->count >= 0) json_object_set_new(o, "count", json_integer(e->count));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    haul_buf_adds(out, s ? s : "{}");
    free(s);
}

typedef struct page_row { haul_buf v; char i[24], bytes[24], mac[HAUL_ROWMAC_HEX + 1]; } page_row;

int broker_commit_page(broker *b, wtask *wt, size_t idx, const haul_list_page *pg, void *token, char *err)
{
    wresult *r = &wt->res[idx];
    int more = pg->truncated && pg->next;
    long long rows = r->listed + (long long)pg->n;
    haul_buf field = HAUL_BUF_INIT, expect = HAUL_BUF_INIT, next = HAUL_BUF_INIT, kstream = HAUL_BUF_INIT,
             kpos = HAUL_BUF_INIT;
    char nrows[24];
    if (!b->cmd.up) {
        snprintf(err, HAUL_ERR_LEN, "Redis is unavailable: the listing's rows wait for it");
        return -1;
    }
    ckpt_field(&field, wt, idx);
    ckpt_text(&expect, r->listed, r->list_done, r->resume);
    ckpt_text(&next, rows, !more, more ? pg->next : NULL);
    haul_key_results(&kstream, wt->t.job);
    haul_key_lpos(&kpos, wt->t.job);
    snprintf(nrows, sizeof nrows, "%zu", pg->n);

    /* Each row: a count, then "key NAME i N status ok http 200 value JSON
     * bytes N worker ID task ID [mac HEX]". */
    size_t cap = 9 + pg->n * 20, argc = 0;
    const char **argv = haul_calloc(cap, sizeof *argv);
    size_t *argl = haul_calloc(cap, sizeof *argl);
    page_row *pr = haul_calloc(pg->n ? pg->n : 1, sizeof *pr);
    char (*counts)[8] = haul_calloc(pg->n ? pg->n : 1, sizeof *counts);
#define A(s, n) (argv[argc] = (s), argl[argc] = (n), argc++)
#define AS(s) A((s), strlen(s))
    AS("EVAL"); AS(page_lua); AS("2"); A(kstream.p, kstream.len); A(kpos.p, kpos.len);
    A(field.p, field.len); A(haul_buf_str(&expect), expect.len); A(haul_buf_str(&next), next.len);
    AS(nrows);
    for (size_t j = 0; j < pg->n; j++) {
        const haul_list_entry *e = &pg->v[j];
        page_row *x = &pr[j];
        listing_value(&x->v, e);
        snprintf(x->i, sizeof x->i, "%llu", (unsigned long long)(wt->t.first + idx));
        snprintf(x->bytes, sizeof x->bytes, "%lld", e->size);
        size_t at = argc;
        AS("0"); /* the field count, set below */
        AS("key"); AS(e->name); AS("i"); AS(x->i); AS("status"); AS("ok"); AS("http"); AS("200");
        AS("value"); A(x->v.p, x->v.len); AS("bytes"); AS(x->bytes);
        AS("worker"); AS(b->cfg.id); AS("task"); AS(wt->t.id);
        if (b->cfg.mac) {
            if (haul_rowmac_compute(b->cfg.mac, wt->t.job, strlen(wt->t.job), argv + at + 1,
                                    argl + at + 1, argc - at - 1, x->mac) == 0) {
                AS("mac"); AS(x->mac);
            }
        }
        snprintf(counts[j], sizeof counts[j], "%zu", argc - at - 1);
        argv[at] = counts[j];
        argl[at] = strlen(counts[j]);
    }
#undef A
#undef AS
    lreq *q = haul_calloc(1, sizeof *q);
    *q = (lreq){b, wt, idx, token, rows, more, more ? haul_strdup(pg->next) : NULL};
    int rc = send_argv(&b->cmd, on_page, q, (int)argc, argv, argl);
    if (rc < 0) {
        free(q->next);
        free(q);
        snprintf(err, HAUL_ERR_LEN, "Redis is unavailable: the listing's rows wait for it");
    }
    for (size_t j = 0; j < pg->n; j++) haul_buf_free(&pr[j].v);
    free(pr); free(counts); free(argv); free(argl);
    haul_buf_free(&field); haul_buf_free(&expect); haul_buf_free(&next);
    haul_buf_free(&kstream); haul_buf_free(&kpos);
    return rc;
}

/* ---- the rest ------------------------------------------------------------ */

int broker_is_cancelled(const broker *b, const char *job)
{
    for (size_t i = 0; i < b->ncancelled; i++)
        if (!strcmp(b->cancelled[i], job)) return 1;
    return 0;
}

int broker_full(const broker *b) { return b->full; }
long long broker_tasks_done(const broker *b) { return b->tasks_done; }
long long broker_keys_done(const broker *b) { return b->keys_done; }
long long broker_tasks_held(const broker *b) { return (long long)held_count(b); }

void broker_note_load(broker *b, long long inflight, long long retries, const char *state)
{
    b->inflight = inflight;
    b->retries = retries;
    b->state = state;
}

broker *broker_new(wev_loop *l, const broker_cfg *cfg, const broker_events *ev, char *err)
{
    broker *b = haul_calloc(1, sizeof *b);
    b->l = l;
    b->cfg = *cfg;
    b->ev = *ev;
    b->avg_keys = cfg->concurrency; /* until a task is seen: one at a time */
    b->started_ms = haul_now_ms();
    if (haul_redis_url_parse(cfg->url, &b->url, err) < 0) goto fail;

    /* Without a lease this worker's tasks could never be reaped should it
     * die: a Redis user refused the lease script is a setup error. */
    redisContext *rc = haul_redis_connect(cfg->url, 5.0, err);
    if (!rc) goto fail;
    int lost;
    if (haul_lease_renew(rc, cfg->queue, cfg->id, cfg->lease_ms, &lost, err) < 0) {
        char e2[HAUL_ERR_LEN];
        snprintf(e2, sizeof e2, "cannot take a lease on queue '%s': %s%s", cfg->queue, err,
                 strstr(err, "NOPERM") ? " (grant this Redis user the commands listed in README, "
                                         "'Workers on several hosts')" : "");
        snprintf(err, HAUL_ERR_LEN, "%s", e2);
        redisFree(rc);
        goto fail;
    }
    redisFree(rc);
    b->had_lease = 1;

    b->cmd = (rconn){.b = b, .name = "cmd"};
    b->take = (rconn){.b = b, .name = "take"};
    wev_timer_init(&b->cmd.retry, on_reconnect, &b->cmd);
    wev_timer_init(&b->take.retry, on_reconnect, &b->take);
    wev_timer_init(&b->take_again, on_take_again, b);
    wev_timer_init(&b->flush_again, on_flush_again, b);
    wev_timer_init(&b->hb, on_heartbeat, b);
    conn_start(b, &b->cmd);
    conn_start(b, &b->take);
    wev_timer_start(l, &b->hb, 0);
    return b;
fail:
    haul_redis_url_free(&b->url);
    free(b);
    return NULL;
}

void broker_shutdown(broker *b, int past_bound)
{
    char err[HAUL_ERR_LEN];
    b->closing = 1;
    wev_timer_stop(b->l, &b->hb);
    wev_timer_stop(b->l, &b->cmd.retry);
    wev_timer_stop(b->l, &b->take.retry);
    wev_timer_stop(b->l, &b->take_again);
    wev_timer_stop(b->l, &b->flush_again);
    conn_drop(&b->take, "stopping", 1);
    conn_drop(&b->cmd, "stopping", 1);

    redisContext *rc = haul_redis_connect(b->cfg.url, 5.0, err);
    if (!rc) {
        log_warn("%s: tasks still held stay in %s for the reaper", err, haul_key_proc(&b->k1, b->cfg.id));
        return;
    }
    haul_key_proc(&b->k1, b->cfg.id);
    haul_key_queue(&b->k2, b->cfg.queue);
    /* Back to the head of the queue, in order: the oldest taken ends first. */
    long long n = 0;
    for (;;) {
        redisReply *r = haul_redis_cmd(rc, err, "LMOVE %s %s RIGHT LEFT", b->k1.p, b->k2.p);
        if (!r) {
            log_error("returning tasks: %s (what was not returned stays in %s for the reaper)", err, b->k1.p);
            break;
        }
        int got = r->type == REDIS_REPLY_STRING;
        if (got) haul_wipe(r->str, r->len);
        freeReplyObject(r);
        if (!got) break;
        n++;
    }
    if (n && past_bound) log_warn("shutdown bound reached: returned %lld unfinished task(s) to the queue", n);
    else if (n) log_info("returned %lld task(s) taken as this worker stopped, not started, to the queue", n);

    redisReply *r;
    haul_key_worker(&b->k3, b->cfg.id);
    if ((r = haul_redis_cmd(rc, err, "DEL %s", b->k3.p))) freeReplyObject(r);
    if ((r = haul_redis_cmd(rc, err, "ZREM " HAUL_KEY_WORKERS " %s", b->cfg.id))) freeReplyObject(r);
    r = haul_redis_cmd(rc, err, "LLEN %s", b->k1.p);
    if (r && r->integer == 0) haul_lease_drop(rc, b->cfg.queue, b->cfg.id, err);
    else log_warn("%s still holds tasks: leaving the lease to lapse so the reaper requeues them", b->k1.p);
    if (r) freeReplyObject(r);
    redisFree(rc);
}

void broker_free(broker *b)
{
    if (!b) return;
    b->closing = 1;
    conn_drop(&b->take, "stopping", 1);
    conn_drop(&b->cmd, "stopping", 1);
    for (size_t j = 0; j < b->ncancelled; j++) free(b->cancelled[j]);
    free(b->cancelled);
    for (size_t j = 0; j < b->nstore; j++) haul_wtask_free(b->store[j]);
    free(b->store);
    haul_redis_url_free(&b->url);
    haul_buf_free(&b->k1); haul_buf_free(&b->k2); haul_buf_free(&b->k3);
    haul_buf_free(&b->cmd.fmt); haul_buf_free(&b->take.fmt);
    free(b);
}
