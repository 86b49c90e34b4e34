/* queue.c -- Redis connection and key names (see queue.h). */
#include "queue.h"
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
const char *haul_key_worker(haul_buf *o, const char *w)   { return key2(o, "worker", w); }

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
