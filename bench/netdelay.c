/*
 * netdelay -- hold every packet of one NFQUEUE for a fixed time, then let it through.
 *
 *   netdelay [--queue N] [--delay-ms MS]
 *
 * The benchmark makes its object store look remote (bench/lib/net.sh) on kernels without
 * netem: iptables rules in the store's network namespace send its TCP packets to NFQUEUE N,
 * and this process gives each one NF_ACCEPT MS milliseconds (default 10, a decimal is fine)
 * after it arrived.  Only the packet's metadata is copied to us, never its payload.
 *
 * The design is simple: the delay is constant, so packets fall due in the order they arrived
 * and a FIFO of (packet id, due time) is the whole schedule.  The kernel numbers a queue's
 * packets in the order it hands them to this socket, so when the oldest k packets are due,
 * one batch verdict ("accept every id up to the k-th") releases them all.  The loop is
 *
 *   ppoll(netlink socket, timeout = until the oldest held packet is due)
 *   read every pending packet (recvmmsg, non-blocking, until EAGAIN) into the FIFO
 *   release everything now due with one batch verdict
 *
 * One process, one thread, no timer per packet.  SIGTERM and SIGINT are blocked except inside
 * ppoll, and their handler only sets a flag; on either, every held packet is accepted and the
 * statistics go to stderr: packets delayed, most held at once, how late releases were (a
 * measure of whether this process keeps up), and losses -- ENOBUFS on our socket and the
 * kernel's own drop counters for the queue.  Prints "ready" on stdout once the queue is bound.
 * Needs root (CAP_NET_ADMIN in the namespace) and a kernel with nfnetlink_queue.
 */
/* recvmmsg, ppoll and SO_RCVBUFFORCE are Linux/GNU extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

/* The kernel holds at most QUEUE_MAXLEN packets for us (more are dropped and counted), so a
 * FIFO of that size can never overflow.  A power of two, for cheap ring indexing. */
#define QUEUE_MAXLEN 65536u
/* Meta-only messages are a few hundred bytes; the buffer only has to survive a backlog of a
 * full queue while we are descheduled.  SO_RCVBUFFORCE (root) goes past net.core.rmem_max. */
#define RCVBUF_BYTES (64 * 1024 * 1024)
/* Messages read per recvmmsg call, and the room for each (one netlink message per packet). */
#define RECV_BATCH 64
#define RECV_BUFLEN 4096
#define MAX_DELAY_MS 60000.0

struct held {
    uint32_t id;
    uint64_t due_ns;
};

/* Everything the loop and the packet callback share. */
struct state {
    struct nfq_q_handle *qh;
    struct held *fifo;         /* ring of QUEUE_MAXLEN entries */
    uint32_t head, count;
    uint64_t delay_ns;
    uint64_t now_ns;           /* arrival time given to packets of the current read batch */
    int have_last_id;
    uint32_t last_id;
    /* statistics */
    uint64_t delayed, max_held, enobufs, misordered, early, verdict_errors, batches;
    uint64_t late_sum_ns, late_max_ns, late_1ms;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Accept every held packet up to and including the n-th oldest with one batch verdict. */
static void release(struct state *s, uint32_t n, uint64_t now)
{
    uint32_t i, last;

    if (n == 0)
        return;
    for (i = 0; i < n; i++) {
        const struct held *h = &s->fifo[(s->head + i) & (QUEUE_MAXLEN - 1)];
        uint64_t late = now > h->due_ns ? now - h->due_ns : 0;
        s->late_sum_ns += late;
        if (late > s->late_max_ns)
            s->late_max_ns = late;
        if (late > 1000000)
            s->late_1ms++;
    }
    last = s->fifo[(s->head + n - 1) & (QUEUE_MAXLEN - 1)].id;
    if (nfq_set_verdict_batch(s->qh, last, NF_ACCEPT) < 0)
        s->verdict_errors++;
    s->batches++;
    s->head = (s->head + n) & (QUEUE_MAXLEN - 1);
    s->count -= n;
}

static void release_due(struct state *s, uint64_t now)
{
    uint32_t n = 0;

    while (n < s->count && s->fifo[(s->head + n) & (QUEUE_MAXLEN - 1)].due_ns <= now)
        n++;
    release(s, n, now);
}

/* Called by nfq_handle_packet for each packet message: note its id and when it is due. */
static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
    struct state *s = data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    uint32_t id;

    (void)qh;
    (void)msg;
    if (ph == NULL)
        return 0;
    id = ntohl(ph->packet_id);
    /* Ids grow in the order packets reach us (the kernel numbers and sends them under one
     * lock); the batch verdict relies on it.  Count it if that ever breaks. */
    if (s->have_last_id && (int32_t)(id - s->last_id) <= 0)
        s->misordered++;
    s->have_last_id = 1;
    s->last_id = id;
    /* Cannot happen while QUEUE_MAXLEN bounds the kernel's queue, but never overwrite: let the
     * oldest packet go early instead. */
    if (s->count == QUEUE_MAXLEN) {
        release(s, 1, s->now_ns);
        s->early++;
    }
    s->fifo[(s->head + s->count) & (QUEUE_MAXLEN - 1)] =
        (struct held){ .id = id, .due_ns = s->now_ns + s->delay_ns };
    s->count++;
    s->delayed++;
    if (s->count > s->max_held)
        s->max_held = s->count;
    return 0;
}

/* Read every packet message waiting on the socket.  Returns -1 on an error other than
 * EAGAIN/EINTR/ENOBUFS (ENOBUFS means the kernel dropped messages for a full socket buffer:
 * counted, and the loop goes on). */
static int drain(struct nfq_handle *h, int fd, struct state *s, char (*bufs)[RECV_BUFLEN])
{
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    int i, n;

    for (;;) {
        memset(msgs, 0, sizeof msgs);
        for (i = 0; i < RECV_BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = RECV_BUFLEN;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        n = recvmmsg(fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            if (errno == ENOBUFS) {
                s->enobufs++;
                continue;
            }
            fprintf(stderr, "netdelay: reading the NFQUEUE socket: %s\n", strerror(errno));
            return -1;
        }
        s->now_ns = now_ns();
        for (i = 0; i < n; i++)
            nfq_handle_packet(h, bufs[i], (int)msgs[i].msg_len);
        if (n < RECV_BATCH)
            return 0;
    }
}

/* The kernel's counters for our queue (this network namespace's
 * /proc/net/netfilter/nfnetlink_queue): packets dropped because the queue was full, and
 * because our socket was (the latter are our ENOBUFS).  Returns 0 if found. */
static int kernel_drops(unsigned queue, unsigned long *full, unsigned long *user)
{
    FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
    unsigned num, portid, total, mode, range;
    unsigned long dropped, udropped, seq;
    int found = -1;

    if (f == NULL)
        return -1;
    while (fscanf(f, "%u %u %u %u %u %lu %lu %lu %*d", &num, &portid, &total, &mode, &range,
                  &dropped, &udropped, &seq) == 8) {
        if (num == queue) {
            *full = dropped;
            *user = udropped;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: netdelay [--queue N] [--delay-ms MS]\n"
               "  Holds every packet of NFQUEUE N (default 0) for MS milliseconds (default 10)\n"
               "  and then accepts it.  Prints \"ready\" once bound; SIGTERM/SIGINT accept what\n"
               "  is held, print statistics on stderr and exit 0.\n");
}

static int parse_args(int argc, char **argv, unsigned *queue, double *delay_ms)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(argv[i], "--queue") == 0 && v != NULL) {
            unsigned long q;
            errno = 0;
            q = strtoul(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || q > 65535) {
                fprintf(stderr, "netdelay: --queue %s: not a queue number (0-65535)\n", v);
                return -1;
            }
            *queue = (unsigned)q;
            i++;
        } else if (strcmp(argv[i], "--delay-ms") == 0 && v != NULL) {
            errno = 0;
            *delay_ms = strtod(v, &end);
            if (errno != 0 || end == v || *end != '\0' || !(*delay_ms >= 0) ||
                *delay_ms > MAX_DELAY_MS) {
                fprintf(stderr, "netdelay: --delay-ms %s: not a delay in milliseconds "
                                "(0-%.0f, a decimal is fine)\n", v, MAX_DELAY_MS);
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "netdelay: %s: unknown option or missing value\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static char bufs[RECV_BATCH][RECV_BUFLEN];
    struct state s = { 0 };
    struct nfq_handle *h = NULL;
    struct sigaction sa, old;
    sigset_t block, unblocked;
    struct pollfd pfd;
    unsigned queue = 0;
    double delay_ms = 10;
    unsigned long full = 0, user = 0;
    int fd, rcvbuf = RCVBUF_BYTES, rc = 1;

    if (parse_args(argc, argv, &queue, &delay_ms) < 0)
        return 2;
    s.delay_ns = (uint64_t)(delay_ms * 1e6 + 0.5);

    /* Signals are blocked except while we sleep in ppoll, so the flag cannot be set between
     * our check and the sleep. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    /* A script's background job inherits SIGINT ignored: leave it so, and a ^C meant for the
     * script does not stop the delay under it (the script stops us with SIGTERM). */
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGTERM);
    sigdelset(&unblocked, SIGINT);

    s.fifo = calloc(QUEUE_MAXLEN, sizeof *s.fifo);
    if (s.fifo == NULL) {
        fprintf(stderr, "netdelay: out of memory\n");
        goto out;
    }
    h = nfq_open();
    if (h == NULL) {
        fprintf(stderr, "netdelay: cannot open a netfilter netlink socket: %s "
                        "(needs root and the nfnetlink_queue support)\n", strerror(errno));
        goto out;
    }
    /* No nfq_bind_pf: since Linux 3.8 the queue is bound per number, not per family. */
    errno = 0;
    s.qh = nfq_create_queue(h, (uint16_t)queue, on_packet, &s);
    if (s.qh == NULL) {
        int e = errno;
        /* The kernel answers EPERM both to a process without CAP_NET_ADMIN and to a second
         * process binding a queue that is taken. */
        const char *why = e == EPERM && geteuid() == 0
            ? "another process holds this queue number in this network namespace"
            : "needs root and the nfnetlink_queue support";
        fprintf(stderr, "netdelay: cannot bind NFQUEUE %u: %s (%s)\n", queue,
                e ? strerror(e) : "refused", why);
        goto out;
    }
    /* Metadata only: the verdict does not depend on the payload, and copying it would cost. */
    if (nfq_set_mode(s.qh, NFQNL_COPY_META, 0) < 0) {
        fprintf(stderr, "netdelay: NFQUEUE %u: cannot set copy mode meta-only: %s\n", queue,
                strerror(errno));
        goto out;
    }
    if (nfq_set_queue_maxlen(s.qh, QUEUE_MAXLEN) < 0) {
        fprintf(stderr, "netdelay: NFQUEUE %u: cannot set the queue length to %u: %s\n", queue,
                QUEUE_MAXLEN, strerror(errno));
        goto out;
    }
    /* Take GSO packets whole: otherwise the kernel cuts each 64 KB send into MTU-sized
     * packets just to show them to us, and we would hold each of them. */
    if (nfq_set_queue_flags(s.qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO) < 0)
        fprintf(stderr, "netdelay: NFQUEUE %u: kernel refuses GSO packets whole (%s); "
                        "going on without\n", queue, strerror(errno));
    fd = nfq_fd(h);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
        fprintf(stderr, "netdelay: cannot enlarge the socket's receive buffer: %s\n",
                strerror(errno));

    printf("ready\n");
    fflush(stdout);

    pfd.fd = fd;
    pfd.events = POLLIN;
    while (!stop_signal) {
        struct timespec ts, *tsp = NULL;
        uint64_t now;
        int r;

        if (s.count > 0) {
            uint64_t due = s.fifo[s.head].due_ns, t = now_ns();
            uint64_t wait = due > t ? due - t : 0;
            ts.tv_sec = (time_t)(wait / 1000000000u);
            ts.tv_nsec = (long)(wait % 1000000000u);
            tsp = &ts;
        }
        r = ppoll(&pfd, 1, tsp, &unblocked);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "netdelay: ppoll: %s\n", strerror(errno));
            break;
        }
        if (r > 0 && (pfd.revents & POLLIN) && drain(h, fd, &s, bufs) < 0)
            break;
        now = now_ns();
        release_due(&s, now);
    }
    /* Stopping (or failing): whatever is still held goes through now, not dropped.  Read
     * what is pending first, so that it is released too. */
    if (stop_signal)
        drain(h, fd, &s, bufs);
    release(&s, s.count, now_ns());
    rc = stop_signal ? 0 : 1;

    fprintf(stderr, "netdelay: NFQUEUE %u, delay %.3f ms: %" PRIu64 " packets delayed, at most "
                    "%" PRIu64 " held at once, %" PRIu64 " batch verdicts; released late by "
                    "%.3f ms on average, %.3f ms at most, %" PRIu64 " packets more than 1 ms "
                    "late\n",
            queue, delay_ms, s.delayed, s.max_held, s.batches,
            s.delayed ? (double)s.late_sum_ns / (double)s.delayed / 1e6 : 0.0,
            (double)s.late_max_ns / 1e6, s.late_1ms);
    if (kernel_drops(queue, &full, &user) == 0)
        fprintf(stderr, "netdelay: losses: %" PRIu64 " ENOBUFS on our socket; the kernel "
                        "dropped %lu packets for a full queue and %lu for a full socket\n",
                s.enobufs, full, user);
    else
        fprintf(stderr, "netdelay: losses: %" PRIu64 " ENOBUFS on our socket (kernel counters "
                        "unreadable)\n", s.enobufs);
    if (s.misordered || s.early || s.verdict_errors)
        fprintf(stderr, "netdelay: anomalies: %" PRIu64 " ids out of order, %" PRIu64
                        " released early for a full FIFO, %" PRIu64 " verdicts refused\n",
                s.misordered, s.early, s.verdict_errors);
out:
    if (s.qh != NULL)
        nfq_destroy_queue(s.qh);
    if (h != NULL)
        nfq_close(h);
    free(s.fifo);
    return rc;
}
