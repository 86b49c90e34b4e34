/* wev.c -- the worker's event loop (see wev.h). */
#include "wev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "buf.h"
#include "queue.h"

#define MAX_EVENTS 256

struct wev_io {
    wev_loop *l;
    int fd;
    int want;            /* what epoll is asked for */
    int added;           /* fd is in the epoll set */
    int dead;            /* freed this turn: deliver nothing more */
    wev_io_cb *cb;
    void *ud;
    wev_io *next_dead;
};

struct wev_loop {
    int ep;
    int sfd;             /* signalfd, -1 without signals */
    wev_io *sig_io;
    void (*on_signal)(wev_loop *, int, void *);
    wev_turn_cb *on_turn;
    void *ud;
    wev_timer *timers;   /* armed timers, unordered: there are a handful */
    wev_io *graveyard;   /* freed this turn */
    int stop;
    long long turns;
};

wev_io *wev_io_new(wev_loop *l, int fd, wev_io_cb *cb, void *ud)
{
    wev_io *io = haul_calloc(1, sizeof *io);
    io->l = l;
    io->fd = fd;
    io->cb = cb;
    io->ud = ud;
    return io;
}

int wev_io_want(wev_loop *l, wev_io *io, int events)
{
    if (io->dead || (io->added && events == io->want)) return 0;
    struct epoll_event ev = {0};
    ev.events = (events & WEV_READ ? EPOLLIN : 0) | (events & WEV_WRITE ? EPOLLOUT : 0);
    ev.data.ptr = io;
    int rc;
    if (!events) {
        rc = io->added ? epoll_ctl(l->ep, EPOLL_CTL_DEL, io->fd, NULL) : 0;
        io->added = 0;
    } else if (io->added) {
        rc = epoll_ctl(l->ep, EPOLL_CTL_MOD, io->fd, &ev);
    } else {
        rc = epoll_ctl(l->ep, EPOLL_CTL_ADD, io->fd, &ev);
        if (rc == 0) io->added = 1;
    }
    /* A descriptor already closed left the set by itself. */
    if (rc < 0 && !events && (errno == EBADF || errno == ENOENT)) rc = 0;
    if (rc == 0) io->want = events;
    return rc;
}

int wev_io_fd(const wev_io *io) { return io->fd; }
void *wev_io_data(const wev_io *io) { return io->ud; }

void wev_io_free(wev_loop *l, wev_io *io)
{
    if (!io || io->dead) return;
    wev_io_want(l, io, 0);
    io->dead = 1;
    io->next_dead = l->graveyard;
    l->graveyard = io;
}

static void bury(wev_loop *l)
{
    while (l->graveyard) {
        wev_io *io = l->graveyard;
        l->graveyard = io->next_dead;
        free(io);
    }
}

void wev_timer_init(wev_timer *t, wev_timer_cb *cb, void *ud)
{
    memset(t, 0, sizeof *t);
    t->cb = cb;
    t->ud = ud;
}

void wev_timer_start(wev_loop *l, wev_timer *t, long long after_ms)
{
    if (after_ms < 0) after_ms = 0;
    t->due_ms = haul_mono_ms() + after_ms;
    if (t->armed) return;
    t->armed = 1;
    t->next = l->timers;
    l->timers = t;
}

void wev_timer_stop(wev_loop *l, wev_timer *t)
{
    if (!t->armed) return;
    for (wev_timer **pp = &l->timers; *pp; pp = &(*pp)->next)
        if (*pp == t) { *pp = t->next; break; }
    t->armed = 0;
}

static void on_signalfd(wev_loop *l, wev_io *io, int events)
{
    (void)io; (void)events;
    struct signalfd_siginfo si;
    while (read(l->sfd, &si, sizeof si) == (ssize_t)sizeof si)
        if (l->on_signal) l->on_signal(l, (int)si.ssi_signo, l->ud);
}

wev_loop *wev_new(const sigset_t *sigs, void (*on_signal)(wev_loop *, int, void *),
                  wev_turn_cb *on_turn, void *ud, char *err)
{
    wev_loop *l = haul_calloc(1, sizeof *l);
    l->sfd = -1;
    l->on_signal = on_signal;
    l->on_turn = on_turn;
    l->ud = ud;
    if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        snprintf(err, HAUL_ERR_LEN, "epoll_create1: %s", strerror(errno));
        free(l);
        return NULL;
    }
    if (sigs) {
        if (sigprocmask(SIG_BLOCK, sigs, NULL) < 0 ||
            (l->sfd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
            snprintf(err, HAUL_ERR_LEN, "signalfd: %s", strerror(errno));
            close(l->ep);
            free(l);
            return NULL;
        }
        l->sig_io = wev_io_new(l, l->sfd, on_signalfd, NULL);
        wev_io_want(l, l->sig_io, WEV_READ);
    }
    return l;
}

void wev_break(wev_loop *l) { l->stop = 1; }
long long wev_turns(const wev_loop *l) { return l->turns; }

/* Run the timers that are due; the wait until the next one (-1: none), or 0
 * when any ran: what a timer did (a transfer ended, a key became due) is
 * followed up by the turn's end (on_turn) before the loop may sleep. */
static int run_timers(wev_loop *l)
{
    long long now = haul_mono_ms();
    int ran = 0;
    for (;;) {
        wev_timer *due = NULL;
        for (wev_timer *t = l->timers; t; t = t->next)
            if (t->due_ms <= now && (!due || t->due_ms < due->due_ms)) due = t;
        if (!due) break;
        wev_timer_stop(l, due);
        due->cb(l, due);
        ran = 1;
        now = haul_mono_ms();
    }
    if (ran) return 0;
    long long next = -1;
    for (wev_timer *t = l->timers; t; t = t->next)
        if (next < 0 || t->due_ms - now < next) next = t->due_ms - now;
    if (next > 60000) next = 60000;
    return next < 0 ? -1 : (int)next;
}

int wev_run(wev_loop *l, char *err)
{
    struct epoll_event evs[MAX_EVENTS];
    l->stop = 0;
    while (!l->stop) {
        int wait = run_timers(l);
        if (l->stop) break;
        int n = epoll_wait(l->ep, evs, MAX_EVENTS, wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(err, HAUL_ERR_LEN, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        l->turns++;
        for (int i = 0; i < n; i++) {
            wev_io *io = evs[i].data.ptr;
            if (io->dead) continue;
            /* An error or a hang-up is reported as both: whoever reads or
             * writes next learns what happened. */
            int e = 0;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) e |= WEV_READ;
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) e |= WEV_WRITE;
            io->cb(l, io, e);
        }
        run_timers(l);
        if (l->on_turn) l->on_turn(l, l->ud);
        bury(l);
    }
    bury(l);
    return 0;
}

void wev_free(wev_loop *l)
{
    if (!l) return;
    wev_io_free(l, l->sig_io);
    bury(l);
    if (l->sfd >= 0) close(l->sfd);
    close(l->ep);
    free(l);
}

/* ---- hiredis ------------------------------------------------------------ */

static void redis_io(wev_loop *l, wev_io *io, int events)
{
    (void)l;
    redisAsyncContext *ac = io->ud;
    if (events & WEV_READ) redisAsyncHandleRead(ac);
    /* The read may have freed the context (a disconnection). */
    if (!io->dead && (events & WEV_WRITE)) redisAsyncHandleWrite(ac);
}

static void r_add(void *p, int what, int add)
{
    wev_io *io = p;
    int want = add ? (io->want | what) : (io->want & ~what);
    wev_io_want(io->l, io, want);
}
static void r_add_read(void *p)  { r_add(p, WEV_READ, 1); }
static void r_del_read(void *p)  { r_add(p, WEV_READ, 0); }
static void r_add_write(void *p) { r_add(p, WEV_WRITE, 1); }
static void r_del_write(void *p) { r_add(p, WEV_WRITE, 0); }
static void r_cleanup(void *p)
{
    wev_io *io = p;
    wev_io_free(io->l, io);
}

int wev_redis_attach(wev_loop *l, redisAsyncContext *ac)
{
    if (ac->ev.data) return -1;
    wev_io *io = wev_io_new(l, ac->c.fd, redis_io, ac);
    ac->ev.addRead = r_add_read;
    ac->ev.delRead = r_del_read;
    ac->ev.addWrite = r_add_write;
    ac->ev.delWrite = r_del_write;
    ac->ev.cleanup = r_cleanup;
    ac->ev.data = io;
    return 0;
}
