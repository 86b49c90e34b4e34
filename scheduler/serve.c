/* serve.c -- `haul-scheduler serve`: the system as Redis shows it, over HTTP.
 *
 *   /metrics          Prometheus's text format (expose.h): queue depths in
 *                     tasks and keys, dead letters, live workers, each recent
 *                     job's keys, keys done and failed, and state
 *   /api/status.json  the same view as JSON, for the dashboard and for scripts
 *                     (docs/metrics.md)
 *   /                 the dashboard (dashboard.h), which polls the JSON
 *
 * libmicrohttpd's own thread answers (httpd.h, HAUL_HTTPD_THREAD), one
 * request at a time; each reads a fresh view (sysview.h) on the one Redis
 * connection, which only that thread uses once the server is up. The main
 * thread waits for SIGINT or SIGTERM and stops the server. The process holds
 * no credentials: `serve` needs only --redis, and nothing it reads from
 * Redis is a secret (task bodies are read only as far as their keys'
 * count). Nothing is cached: every scrape reads Redis, a bounded amount
 * (sysview.h). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dashboard.h"
#include "expose.h"
#include "httpd.h"
#include "log.h"
#include "prom.h"
#include "scheduler.h"
#include "sysview.h"

static int answer(void *ud, const char *path, haul_buf *body, const char **ctype)
{
    haul_redis *hr = ud;
    if (!strcmp(path, "/")) {
        haul_buf_add(body, haul_dashboard_html(), haul_dashboard_len());
        *ctype = "text/html; charset=utf-8";
        return 200;
    }
    int metrics = !strcmp(path, "/metrics"), json = !strcmp(path, "/api/status.json");
    if (!metrics && !json) {
        haul_buf_adds(body, "not found: this server has /, /metrics and /api/status.json\n");
        return 404;
    }
    sysview v;
    sysview_read(hr, &v);
    if (!v.redis_up) log_warn("serve: reading Redis: %s", v.redis_err);
    if (metrics) {
        expose_metrics(&v, body);
        *ctype = HAUL_PROM_CONTENT_TYPE;
    } else {
        expose_json(&v, body);
        *ctype = "application/json";
    }
    sysview_free(&v);
    return 200;
}

int haul_serve(const char *listen, haul_redis *hr)
{
    char err[HAUL_ERR_LEN];
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    /* Blocked before the server's thread starts, so it inherits the mask
     * and the signals come to sigwait below. */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A scrape must not wait out a long Redis restart: a few seconds, then
     * haul_redis_up 0. */
    hr->wait_ms = 2000;
    haul_httpd *d = haul_httpd_start("--listen", listen, HAUL_HTTPD_THREAD, answer, hr, err);
    if (!d) {
        fprintf(stderr, "haul-scheduler: %s\n", err);
        return EXIT_USAGE;
    }
    log_info("serving http://%s/ (port %d): the dashboard at /, metrics at /metrics, status at "
             "/api/status.json", listen, haul_httpd_port(d));
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("stopping (signal %d)", sig);
    haul_httpd_stop(d);
    return 0;
}
