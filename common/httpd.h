/* httpd.h -- a small HTTP server for haul's read-only pages (/metrics, the
 * status API, the dashboard), on libmicrohttpd (Debian libmicrohttpd-dev):
 * no HTTP parsing of haul's own.
 *
 * Two ways to run it:
 *   - HAUL_HTTPD_EXTERNAL (the worker): no thread. libmicrohttpd keeps its
 *     sockets in an epoll set of its own whose descriptor the caller waits on
 *     for reading in its event loop, with a timer for haul_httpd_timeout_ms();
 *     whenever either fires, haul_httpd_run(). The handler runs on the
 *     caller's thread, inside haul_httpd_run().
 *   - HAUL_HTTPD_THREAD (the scheduler's `serve`): one thread of
 *     libmicrohttpd's polls and calls the handler, one request at a time.
 *
 * Only GET and HEAD are served (anything else: 405). Every answer says
 * Cache-Control: no-store, X-Content-Type-Options: nosniff, and a
 * Content-Security-Policy that lets a page load nothing but from its own
 * origin. At most 32 connections at once, each idle at most 10 s: a scraper
 * that stalls cannot hold the server. */
#ifndef HAUL_HTTPD_H
#define HAUL_HTTPD_H

#include <sys/socket.h>

#include "buf.h"

typedef struct haul_httpd haul_httpd;

enum { HAUL_HTTPD_EXTERNAL = 0, HAUL_HTTPD_THREAD = 1 };

/* The answer to GET path (the URL's path, query removed). Fill body (empty,
 * reused) and *ctype (a static string), return the HTTP status. */
typedef int haul_http_handler(void *ud, const char *path, haul_buf *body, const char **ctype);

/* "HOST:PORT" ("127.0.0.1:9101", "[::1]:9101", "0.0.0.0:9101", "localhost:9101";
 * PORT 0: any free port) into an address to listen on. 0, or -1 with a
 * sentence naming what (the option's name, for the sentence) is wrong. */
int haul_listen_parse(const char *what, const char *s, struct sockaddr_storage *ss, socklen_t *len,
                      char *err);

/* Listen on s and serve with h (ud passed back). NULL with a sentence. */
haul_httpd *haul_httpd_start(const char *what, const char *s, int mode, haul_http_handler *h, void *ud,
                             char *err);
/* The port listened on (the one chosen, for PORT 0). */
int haul_httpd_port(const haul_httpd *d);
/* HAUL_HTTPD_EXTERNAL: the descriptor to wait on for reading; serve what is
 * ready; how long until haul_httpd_run() is due anyway (-1: not until the
 * descriptor is readable). */
int haul_httpd_fd(const haul_httpd *d);
void haul_httpd_run(haul_httpd *d);
long long haul_httpd_timeout_ms(const haul_httpd *d);
/* Stop listening, close every connection, free. NULL ok. */
void haul_httpd_stop(haul_httpd *d);

#endif
