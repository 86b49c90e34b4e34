/* httpd.c -- haul's read-only pages over libmicrohttpd (httpd.h). */
#include "httpd.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_CONNECTIONS 32
#define IDLE_TIMEOUT_S 10

struct haul_httpd {
    struct MHD_Daemon *d;
    haul_http_handler *h;
    void *ud;
    haul_buf body;            /* reused: requests are answered one at a time */
};

int haul_listen_parse(const char *what, const char *s, struct sockaddr_storage *ss, socklen_t *len,
                      char *err)
{
    char host[256];
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || !colon[1]) {
        haul_errf(err, "%s: '%s' is not HOST:PORT (for example 127.0.0.1:9101)", what, s ? s : "");
        return -1;
    }
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (s[0] == '[') { /* [::1]:9101 */
        if (hl < 2 || s[hl - 1] != ']') {
            haul_errf(err, "%s: '%s' is not HOST:PORT ([IPV6]:PORT for an IPv6 address)", what, s);
            return -1;
        }
        h = s + 1;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        haul_errf(err, "%s: the host in '%s' is too long", what, s);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        haul_errf(err, "%s: '%s' is not a port number (0..65535)", what, colon + 1);
        return -1;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0 || !ai) {
        haul_errf(err, "%s: cannot resolve '%s': %s", what, host, gai_strerror(rc));
        if (ai) freeaddrinfo(ai);
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    haul_httpd *s = cls;
    (void)version; (void)upload; (void)upload_size; (void)state;
    int status;
    const char *ctype = "text/plain; charset=utf-8";
    haul_buf_reset(&s->body);
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        status = 405;
        haul_buf_adds(&s->body, "only GET and HEAD are served here\n");
    } else {
        status = s->h(s->ud, url, &s->body, &ctype);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(s->body.len, s->body.p ? s->body.p : (void *)"",
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                            "style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    if (status == 405) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[HAUL_ERR_LEN];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    log_warn("http server: %s", line);
}

haul_httpd *haul_httpd_start(const char *what, const char *s, int mode, haul_http_handler *h, void *ud,
                             char *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (haul_listen_parse(what, s, &ss, &len, err) < 0) return NULL;
    haul_httpd *d = haul_calloc(1, sizeof *d);
    d->h = h;
    d->ud = ud;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (mode == HAUL_HTTPD_THREAD) flags |= MHD_USE_INTERNAL_POLLING_THREAD;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    d->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, d,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_END);
    if (!d->d) {
        haul_errf(err, "%s: cannot listen on %s (address in use, or not an address of this host?)", what, s);
        free(d);
        return NULL;
    }
    return d;
}

int haul_httpd_port(const haul_httpd *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : -1;
}

int haul_httpd_fd(const haul_httpd *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d->d, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

void haul_httpd_run(haul_httpd *d)
{
    MHD_run(d->d);
}

long long haul_httpd_timeout_ms(const haul_httpd *d)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(d->d, &t) != MHD_YES) return -1;
    return t > (1ULL << 40) ? (1LL << 40) : (long long)t;
}

void haul_httpd_stop(haul_httpd *d)
{
    if (!d) return;
    MHD_stop_daemon(d->d);
    haul_buf_free(&d->body);
    free(d);
}
