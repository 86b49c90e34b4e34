/* wev.h -- the worker's event loop: epoll, file-descriptor watchers, timers,
 * signals through a signalfd, and an adapter that puts a hiredis async
 * context on the loop.
 *
 * Why not libev, libevent or libuv: the worker waits on three kinds of
 * things -- curl's sockets (curl_multi_socket_action tells which, and
 * when), two Redis connections, and a handful of deadlines (curl's timer,
 * the heartbeat, the next retry, a reconnection, the shutdown bound). epoll
 * and a short list of timers cover that in one small file, with no library
 * to add to every host the workers run on; hiredis's adapter interface is
 * five callbacks.
 *
 * Single-threaded. Nothing here allocates per event. A watcher freed during
 * a turn is not freed until the turn ends, so an event already returned by
 * epoll_wait for it is dropped, never delivered to freed memory. */
#ifndef HAUL_WEV_H
#define HAUL_WEV_H

#include <hiredis/async.h>
#include <signal.h>

typedef struct wev_loop wev_loop;

enum { WEV_READ = 1, WEV_WRITE = 2 };

typedef struct wev_io wev_io;
/* events: WEV_READ and/or WEV_WRITE (an error or hang-up reports both). */
typedef void wev_io_cb(wev_loop *l, wev_io *io, int events);

/* A watcher of one file descriptor. Made by wev_io_new (never NULL: out of
 * memory aborts), freed by wev_io_free at the end of the current turn. The
 * fd is not closed by the loop. */
wev_io *wev_io_new(wev_loop *l, int fd, wev_io_cb *cb, void *ud);
/* What to wait for (0: nothing). 0, or -1 with errno from epoll_ctl. */
int wev_io_want(wev_loop *l, wev_io *io, int events);
int wev_io_fd(const wev_io *io);
void *wev_io_data(const wev_io *io);
void wev_io_free(wev_loop *l, wev_io *io); /* NULL ok */

/* A one-shot timer, embedded in its owner (no allocation). Start it again
 * to move it; a stopped timer may be started again. */
typedef struct wev_timer wev_timer;
typedef void wev_timer_cb(wev_loop *l, wev_timer *t);
struct wev_timer {
    long long due_ms;        /* monotonic clock */
    wev_timer_cb *cb;
    void *ud;
    int armed;
    wev_timer *next;         /* the loop's list */
};
void wev_timer_init(wev_timer *t, wev_timer_cb *cb, void *ud);
void wev_timer_start(wev_loop *l, wev_timer *t, long long after_ms);
void wev_timer_stop(wev_loop *l, wev_timer *t);

/* Called at the end of every turn, after every event and timer of it: where
 * the worker starts keys and writes the results that came in the turn. */
typedef void wev_turn_cb(wev_loop *l, void *ud);

/* A loop that also delivers the signals in *sigs (blocked for the whole
 * process, read through a signalfd) to on_signal. NULL with err filled. */
wev_loop *wev_new(const sigset_t *sigs, void (*on_signal)(wev_loop *, int sig, void *ud),
                  wev_turn_cb *on_turn, void *ud, char *err);
/* Run turns until wev_break. 0, or -1 when epoll_wait failed (err). */
int wev_run(wev_loop *l, char *err);
void wev_break(wev_loop *l);
void wev_free(wev_loop *l); /* NULL ok; watchers still open are freed */

/* Turns taken and events delivered (the benchmark reads them in the log). */
long long wev_turns(const wev_loop *l);

/* Put a hiredis async context on the loop (its connect must have been
 * started). 0, or -1 when the context is already attached elsewhere. */
int wev_redis_attach(wev_loop *l, redisAsyncContext *ac);

#endif
