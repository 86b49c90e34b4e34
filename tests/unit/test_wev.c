/* test_wev.c -- the worker's event loop (worker/wev.c): what a timer did is
 * followed by the turn's end at once, not when the next timer or event
 * comes. (The worker's curl timer ends transfers; the keys waiting for a
 * unit are started at the turn's end. When the loop slept until the next
 * timer first, the worker sat idle until its 2 s heartbeat: keys/s varied
 * 2x between runs.) And an io watcher is called for a readable pipe. */
#include "test.h"
#include "../../worker/wev.h"
#include "queue.h"

#include <signal.h>
#include <unistd.h>

typedef struct ctx {
    int fired;               /* the short timer ran */
    long long fired_ms;      /* when */
    long long turn_after_ms; /* the first turn's end after it ran: how much later */
    int reads;
    int turns;
    wev_timer *short_t;
} ctx;

static void on_short(wev_loop *l, wev_timer *t)
{
    (void)l;
    ctx *c = t->ud;
    c->fired = 1;
    c->fired_ms = haul_mono_ms();
}

static void on_long(wev_loop *l, wev_timer *t)
{
    (void)t;
    wev_break(l); /* the test failed: nothing ended the loop before this */
}

/* The first turn arms a timer due at once, as the worker's turn does when it
 * starts transfers (curl asks to be called back at once); the turn that
 * follows it must come without waiting for the long timer. */
static void on_turn(wev_loop *l, void *ud)
{
    ctx *c = ud;
    if (c->turns++ == 0) wev_timer_start(l, c->short_t, 0);
    if (c->fired && c->turn_after_ms < 0) {
        c->turn_after_ms = haul_mono_ms() - c->fired_ms;
        wev_break(l);
    }
}

static void on_first(wev_loop *l, wev_io *io, int events)
{
    char b[8];
    (void)l;
    if (events & WEV_READ) { if (read(wev_io_fd(io), b, sizeof b) < 0) { /* counted below */ } }
}

TEST(turn_follows_a_timer_at_once)
{
    char err[HAUL_ERR_LEN];
    int fds[2];
    ctx c = {0, 0, -1, 0, 0, NULL};
    ASSERT_EQ(pipe(fds), 0);
    wev_loop *l = wev_new(NULL, NULL, on_turn, &c, err);
    ASSERT(l != NULL);
    wev_timer a, b;
    wev_timer_init(&a, on_short, &c);
    wev_timer_init(&b, on_long, &c);
    c.short_t = &a;
    wev_io *io = wev_io_new(l, fds[0], on_first, &c);
    ASSERT_EQ(wev_io_want(l, io, WEV_READ), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);  /* the first turn */
    wev_timer_start(l, &b, 2000);         /* the heartbeat */
    ASSERT_EQ(wev_run(l, err), 0);
    ASSERT(c.fired);
    if (c.turn_after_ms < 0 || c.turn_after_ms > 200)
        FAIL_("the turn ended %lld ms after the timer ran (want at once)", c.turn_after_ms);
    wev_io_free(l, io);
    wev_free(l);
    close(fds[0]);
    close(fds[1]);
}

static void on_pipe(wev_loop *l, wev_io *io, int events)
{
    ctx *c = wev_io_data(io);
    char b[8];
    if ((events & WEV_READ) && read(wev_io_fd(io), b, sizeof b) > 0) c->reads++;
    wev_break(l);
}

TEST(io_watcher_called)
{
    char err[HAUL_ERR_LEN];
    int fds[2];
    ctx c = {0, 0, -1, 0, 0, NULL};
    ASSERT_EQ(pipe(fds), 0);
    wev_loop *l = wev_new(NULL, NULL, NULL, &c, err);
    ASSERT(l != NULL);
    wev_io *io = wev_io_new(l, fds[0], on_pipe, &c);
    ASSERT_EQ(wev_io_want(l, io, WEV_READ), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    ASSERT_EQ(wev_run(l, err), 0);
    ASSERT_EQ(c.reads, 1);
    wev_io_free(l, io);
    wev_free(l);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    RUN(turn_follows_a_timer_at_once);
    RUN(io_watcher_called);
    TEST_DONE();
}
