/* queue.c -- Redis connection and key names (see queue.h). */
#include "queue.h"
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void haul_redis_url_free(haul_redis_url *u)
{
    free(u->host); free(u->user); free(u->pass); free(u->display);
    memset(u, 0, sizeof *u);
}

int haul_redis_url_parse(const char *url, haul_redis_url *u, char *err)
{
    const char *p = url;
    char *auth, *hostport, *at, *colon, *slash, *e;
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !*url) {
        snprintf(err, HAUL_ERR_LEN, "no Redis URL: set --redis or HAUL_REDIS_URL (redis://host:6379/0)");
        return -1;
    }
    if (strncmp(p, "redis://", 8) == 0) p += 8;
    else if (strstr(p, "://")) {
        snprintf(err, HAUL_ERR_LEN, "Redis URL must start with redis:// (rediss:// TLS is not supported by hiredis 0.14: use a TLS tunnel)");
        return -1;
    }
    /* Work on a copy: "[user[:pass]@]host[:port][/db]". */
    auth = haul_strdup(p);
    at = strrchr(auth, '@');   /* the last '@': a password may hold '@' or '/' */
    slash = strchr(at ? at + 1 : auth, '/');
    if (slash) *slash++ = '\0';
    hostport = auth;
    if (at) {
        *at = '\0';
        hostport = at + 1;
        colon = strchr(auth, ':');
        if (colon) {
            *colon = '\0';
            if (*auth) u->user = haul_strdup(auth);
            u->pass = haul_strdup(colon + 1);
        } else {
            u->pass = haul_strdup(auth); /* redis://pass@host */
        }
    }
    colon = strchr(hostport, ':');
    if (colon) *colon = '\0';
    u->host = haul_strdup(*hostport ? hostport : "127.0.0.1");
    if (colon) {
        long port = strtol(colon + 1, &e, 10);
        if (*e || e == colon + 1 || port <= 0 || port > 65535) {
            snprintf(err, HAUL_ERR_LEN, "Redis URL: bad port '%s' (expected redis://host:6379/0)", colon + 1);
            goto fail;
        }
        u->port = (int)port;
    }
    if (slash && *slash) {
        long db = strtol(slash, &e, 10);
        if (*e || db < 0 || db > 1000000) {
            snprintf(err, HAUL_ERR_LEN, "Redis URL: bad database number '%s' (expected redis://host:6379/0)", slash);
            goto fail;
        }
        u->db = (int)db;
    }
    free(auth);
    haul_log_secret(u->pass);
    haul_buf d = HAUL_BUF_INIT;
    haul_buf_printf(&d, "redis://%s%s%s%s:%d/%d", u->user ? u->user : "",
                    u->pass ? ":***" : "", (u->user || u->pass) ? "@" : "",
                    u->host, u->port, u->db);
    u->display = haul_buf_detach(&d);
    return 0;
fail:
    free(auth);
    haul_redis_url_free(u);
    return -1;
}

redisReply *haul_redis_get_reply(redisContext *c, char *err)
{
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK || !r) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
        return NULL;
    }
    redisReply *rep = r;
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

int haul_redis_drain(redisContext *c, long long n, char *err)
{
    char e[HAUL_ERR_LEN];
    int rc = 0;
    for (long long i = 0; i < n; i++) {
        redisReply *r = haul_redis_get_reply(c, e);
        if (r) { freeReplyObject(r); continue; }
        if (rc == 0) snprintf(err, HAUL_ERR_LEN, "%s", e);
        rc = -1;
        if (c->err) break;
    }
    return rc;
}

redisReply *haul_redis_cmd(redisContext *c, char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* The retry loop of haul_redis_call(v), for a command already in Redis's
 * wire format (formatted once, sent again after each reconnection). */
static redisReply *call_formatted(haul_redis *r, char *err, const char *cmd, size_t len)
{
    long long start = haul_mono_ms(), backoff = 200;
    int warned = 0;
    for (;;) {
        void *v = NULL;
        redisReply *rep = NULL;
        if (!r->c && (r->c = haul_redis_connect(r->url, r->timeout_s, err))) r->reconnects++;
        if (r->c) {
            if (redisAppendFormattedCommand(r->c, cmd, len) == REDIS_OK && redisGetReply(r->c, &v) == REDIS_OK)
                rep = v;
            if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "LOADING", 7) != 0) {
                snprintf(err, HAUL_ERR_LEN, "Redis: %s", rep->str);
                freeReplyObject(rep);
                return NULL;
            }
            if (rep && rep->type != REDIS_REPLY_ERROR) {
                if (warned) log_info("Redis is back");
                return rep;
            }
            if (rep) {
                snprintf(err, HAUL_ERR_LEN, "Redis: %s", rep->str);
                freeReplyObject(rep);
            } else {
                snprintf(err, HAUL_ERR_LEN, "Redis: %s", r->c->errstr[0] ? r->c->errstr : "connection lost");
                redisFree(r->c);
                r->c = NULL;
            }
        }
        if (haul_mono_ms() - start > r->wait_ms) return NULL;
        if (!warned) log_warn("%s; retrying for up to %lld s", err, r->wait_ms / 1000);
        warned = 1;
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
}

redisReply *haul_redis_call(haul_redis *r, char *err, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) { fprintf(stderr, "haul: cannot format a Redis command (out of memory?)\n"); abort(); }
    redisReply *rep = call_formatted(r, err, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rep;
}

redisReply *haul_redis_callv(haul_redis *r, char *err, int argc, const char **argv,
                             const size_t *argl)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, argl);
    if (len < 0) { fprintf(stderr, "haul: cannot format a Redis command (out of memory?)\n"); abort(); }
    redisReply *rep = call_formatted(r, err, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rep;
}

int haul_redis_oom(const char *err)
{
    return err && (strncmp(err, "Redis: OOM ", 11) == 0 || strstr(err, "OOM command not allowed"));
}

redisContext *haul_redis_connect(const char *url, double timeout_s, char *err)
{
    haul_redis_url u;
    char e2[HAUL_ERR_LEN];
    redisReply *r;
    struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (long)timeout_s) * 1e6)};

    if (haul_redis_url_parse(url, &u, err) < 0) return NULL;
    redisContext *c = redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        snprintf(err, HAUL_ERR_LEN, "cannot connect to Redis at %s: %s (is redis-server running there? check --redis / HAUL_REDIS_URL)",
                 u.display, c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, tv);
    /* hiredis frees its read buffer each time it empties above 16 KiB, and
     * grows it again for the next reply (a collector's XREAD of 64 inline
     * bodies is a megabyte): keep up to 4 MiB of it instead. */
    c->reader->maxbuf = 4u << 20;
    if (u.pass) {
        if (u.user) r = haul_redis_cmd(c, e2, "AUTH %s %s", u.user, u.pass);
        else r = haul_redis_cmd(c, e2, "AUTH %s", u.pass);
        if (!r) {
            haul_redact(e2);
            snprintf(err, HAUL_ERR_LEN, "Redis at %s refused the password: %s (check the user and password in the URL)", u.display, e2);
            goto fail;
        }
        freeReplyObject(r);
    }
    r = haul_redis_cmd(c, e2, u.db ? "SELECT %d" : "PING", u.db);
    if (!r) {
        snprintf(err, HAUL_ERR_LEN, "Redis at %s: %s", u.display, e2);
        goto fail;
    }
    freeReplyObject(r);
    haul_redis_url_free(&u);
    return c;
fail:
    if (c) redisFree(c);
    haul_redis_url_free(&u);
    return NULL;
}

static const char *key2(haul_buf *out, const char *kind, const char *name)
{
    haul_buf_reset(out);
    haul_buf_printf(out, HAUL_NS "%s:%s", kind, name);
    return out->p;
}

const char *haul_key_queue(haul_buf *o, const char *q)    { return key2(o, "q", q); }
const char *haul_key_proc(haul_buf *o, const char *w)     { return key2(o, "proc", w); }
const char *haul_key_dead(haul_buf *o, const char *q)     { return key2(o, "dead", q); }
const char *haul_key_job(haul_buf *o, const char *j)      { return key2(o, "job", j); }
const char *haul_key_results(haul_buf *o, const char *j)  { return key2(o, "res", j); }
const char *haul_key_dups(haul_buf *o, const char *j)     { return key2(o, "dup", j); }
const char *haul_key_lpos(haul_buf *o, const char *j)     { return key2(o, "lpos", j); }
const char *haul_key_worker(haul_buf *o, const char *w)   { return key2(o, "worker", w); }
const char *haul_key_leases(haul_buf *o, const char *q)   { return key2(o, "leases", q); }

/* ZADD with the deadline computed from Redis' clock; returns 1 when the
 * member was new (no lease before). allow-oom: a Redis refusing writes for
 * lack of memory must not let live workers' leases lapse (the reaper would
 * then requeue tasks that are being done); a lease is a few bytes. */
static const char lease_lua[] =
    "#!lua flags=allow-oom\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])\n";

int haul_lease_cmd(char **cmd, const char *queue, const char *worker, long long ttl_ms)
{
    haul_buf k = HAUL_BUF_INIT;
    int n = redisFormatCommand(cmd, "EVAL %s 1 %s %lld %s", lease_lua, haul_key_leases(&k, queue),
                               ttl_ms, worker);
    haul_buf_free(&k);
    if (n < 0) haul_oom();
    return n;
}

int haul_lease_reply(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
}

/* Run a formatted command: its reply, or NULL with err. */
static redisReply *run_formatted(redisContext *c, char *cmd, int len, char *err)
{
    int rc = redisAppendFormattedCommand(c, cmd, (size_t)len);
    free(cmd);
    if (rc != REDIS_OK) {
        snprintf(err, HAUL_ERR_LEN, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
        return NULL;
    }
    return haul_redis_get_reply(c, err);
}

int haul_lease_renew(redisContext *c, const char *queue, const char *worker,
                     long long ttl_ms, int *lost, char *err)
{
    char *cmd;
    int len = haul_lease_cmd(&cmd, queue, worker, ttl_ms);
    redisReply *r = run_formatted(c, cmd, len, err);
    if (!r) return -1;
    *lost = haul_lease_reply(r);
    freeReplyObject(r);
    return 0;
}

int haul_lease_drop(redisContext *c, const char *queue, const char *worker, char *err)
{
    haul_buf k = HAUL_BUF_INIT;
    redisReply *r = haul_redis_cmd(c, err, "ZREM %s %s", haul_key_leases(&k, queue), worker);
    haul_buf_free(&k);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

/* The reaper (see queue.h). A task encoded by haul starts with the bytes
 * 8N a1 'v' 01 a7 "attempt" ce, then the attempt count as a big-endian
 * uint32 (docs/protocol.md), so the script can bump it without decoding.
 * Tasks of another layout are requeued unchanged (and so never reach the
 * poison-pill cap). RPOP + LPUSH keeps the tasks' order at the queue head.
 * allow-oom: moving tasks between lists needs no memory to speak of, and a
 * dead worker's tasks must go back even when Redis refuses writes. */
static const char reap_lua[] =
    "#!lua flags=allow-oom\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 16)\n"
    "local cap = tonumber(ARGV[1])\n"
    "local head = '\\161v\\001\\167attempt\\206'\n"
    "local requeued, dead = 0, 0\n"
    "for _, w in ipairs(lapsed) do\n"
    "  local proc = ARGV[2] .. 'proc:' .. w\n"
    "  while true do\n"
    "    local task = redis.call('RPOP', proc)\n"
    "    if not task then break end\n"
    "    local n = nil\n"
    "    if string.sub(task, 2, 13) == head then\n"
    "      n = struct.unpack('>I4', string.sub(task, 14, 17)) + 1\n"
    "      task = string.sub(task, 1, 13) .. struct.pack('>I4', n) .. string.sub(task, 18)\n"
    "    end\n"
    "    if n and n >= cap then\n"
    "      redis.call('RPUSH', KEYS[3], 'reason=delivered ' .. n .. ' times, and every worker '\n"
    "        .. 'holding it died (poison-pill cap: --max-deliveries ' .. cap .. ')'\n"
    "        .. '\\tworker=' .. w .. '\\tqueue=' .. ARGV[3] .. '\\tat=' .. now\n"
    "        .. '\\tattempt=' .. n .. '\\n' .. task)\n"
    "      dead = dead + 1\n"
    "    else\n"
    "      redis.call('LPUSH', KEYS[2], task)\n"
    "      requeued = requeued + 1\n"
    "    end\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[1], w)\n"
    "  redis.call('DEL', ARGV[2] .. 'worker:' .. w)\n"
    "  redis.call('ZREM', ARGV[2] .. 'workers', w)\n"
    "end\n"
    "return {requeued, dead, #lapsed}\n";

int haul_reap_cmd(char **cmd, const char *queue, long long max_deliveries)
{
    haul_buf kl = HAUL_BUF_INIT, kq = HAUL_BUF_INIT, kd = HAUL_BUF_INIT;
    int n = redisFormatCommand(cmd, "EVAL %s 3 %s %s %s %lld %s %s", reap_lua,
                               haul_key_leases(&kl, queue), haul_key_queue(&kq, queue),
                               haul_key_dead(&kd, queue), max_deliveries, HAUL_NS, queue);
    haul_buf_free(&kl); haul_buf_free(&kq); haul_buf_free(&kd);
    if (n < 0) haul_oom();
    return n;
}

void haul_reap_reply(const redisReply *r, long long *requeued, long long *dead, long long *workers)
{
    *requeued = *dead = *workers = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        *requeued = r->element[0]->integer;
        *dead = r->element[1]->integer;
        *workers = r->element[2]->integer;
    }
}

int haul_reap(redisContext *c, const char *queue, long long max_deliveries,
              long long *requeued, long long *dead, long long *workers, char *err)
{
    char *cmd;
    int len = haul_reap_cmd(&cmd, queue, max_deliveries);
    redisReply *r = run_formatted(c, cmd, len, err);
    if (!r) return -1;
    haul_reap_reply(r, requeued, dead, workers);
    freeReplyObject(r);
    return 0;
}

/* See queue.h. KEYS: the queue, its lease set. ARGV: the key prefix, the
 * job's id prefix ("<job>:", "" for none), the scan limit. */
static const char inflight_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local queued = redis.call('LLEN', KEYS[1])\n"
    "local ws = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')\n"
    "local held, live, procs = 0, 0, {}\n"
    "for i = 1, #ws, 2 do\n"
    "  local p = ARGV[1] .. 'proc:' .. ws[i]\n"
    "  procs[#procs + 1] = p\n"
    "  held = held + redis.call('LLEN', p)\n"
    "  if tonumber(ws[i + 1]) > now then live = live + 1 end\n"
    "end\n"
    "local mine = -1\n"
    "if ARGV[2] ~= '' and queued + held <= tonumber(ARGV[3]) then\n"
    "  mine = 0\n"
    "  local function count(list)\n"
    "    for _, task in ipairs(redis.call('LRANGE', list, 0, -1)) do\n"
    "      if string.find(task, ARGV[2], 1, true) then mine = mine + 1 end\n"
    "    end\n"
    "  end\n"
    "  count(KEYS[1])\n"
    "  for _, p in ipairs(procs) do count(p) end\n"
    "end\n"
    "return {queued, held, mine, #ws / 2, live}\n";

int haul_queue_inflight(redisContext *c, const char *queue, const char *job,
                        haul_inflight *out, char *err)
{
    haul_buf kq = HAUL_BUF_INIT, kl = HAUL_BUF_INIT, jp = HAUL_BUF_INIT;
    if (job) haul_buf_printf(&jp, "%s:", job);
    redisReply *r = haul_redis_cmd(c, err, "EVAL %s 2 %s %s %s %b %d", inflight_lua,
                                   haul_key_queue(&kq, queue), haul_key_leases(&kl, queue), HAUL_NS,
                                   haul_buf_str(&jp), jp.len, HAUL_INFLIGHT_SCAN_MAX);
    haul_buf_free(&kq); haul_buf_free(&kl); haul_buf_free(&jp);
    if (!r) return -1;
    memset(out, 0, sizeof *out);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
        snprintf(err, HAUL_ERR_LEN, "Redis: the in-flight script answered something unexpected");
        freeReplyObject(r);
        return -1;
    }
    out->queued = r->element[0]->integer;
    out->held = r->element[1]->integer;
    out->job_tasks = r->element[2]->integer;
    out->leases = r->element[3]->integer;
    out->live = r->element[4]->integer;
    freeReplyObject(r);
    return 0;
}

static const char dead_range_lua[] =
    "local out = {}\n"
    "for i, e in ipairs(redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])) do\n"
    "  out[i] = string.sub(e, 1, tonumber(ARGV[3]))\n"
    "end\n"
    "return {redis.call('LLEN', KEYS[1]), out}\n";

redisReply *haul_dead_range(redisContext *c, const char *queue, long long start,
                            long long count, long long maxbytes, char *err)
{
    haul_buf kd = HAUL_BUF_INIT;
    redisReply *r = haul_redis_cmd(c, err, "EVAL %s 1 %s %lld %lld %lld", dead_range_lua,
                                   haul_key_dead(&kd, queue), start, start + count - 1, maxbytes);
    haul_buf_free(&kd);
    if (r && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
              r->element[1]->type != REDIS_REPLY_ARRAY)) {
        snprintf(err, HAUL_ERR_LEN, "Redis: the dead-letter script answered something unexpected");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

long long haul_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long haul_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char requeue_lua[] =
    "local head = '\\161v\\001\\167attempt\\206'\n"
    "local n = 0\n"
    "while true do\n"
    "  local e = redis.call('LPOP', KEYS[1])\n"
    "  if not e then break end\n"
    "  local nl = string.find(e, '\\n', 1, true)\n"
    "  local task = e\n"
    "  if nl and string.sub(e, 1, 7) == 'reason=' then task = string.sub(e, nl + 1) end\n"
    "  if string.sub(task, 2, 13) == head then\n"
    "    task = string.sub(task, 1, 13) .. struct.pack('>I4', 0) .. string.sub(task, 18)\n"
    "  end\n"
    "  redis.call('RPUSH', KEYS[2], task)\n"
    "  n = n + 1\n"
    "end\n"
    "return n\n";

int haul_requeue_dead(redisContext *c, const char *queue, long long *n, char *err)
{
    haul_buf kd = HAUL_BUF_INIT, kq = HAUL_BUF_INIT;
    redisReply *r = haul_redis_cmd(c, err, "EVAL %s 2 %s %s", requeue_lua,
                                   haul_key_dead(&kd, queue), haul_key_queue(&kq, queue));
    haul_buf_free(&kd); haul_buf_free(&kq);
    if (!r) return -1;
    *n = r->integer;
    freeReplyObject(r);
    return 0;
}
