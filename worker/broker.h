/* broker.h -- the worker's Redis side: taking tasks, writing results,
 * listing checkpoints, the lease, the heartbeat and the reaper, dead
 * letters. It alone owns the worker's Redis connections and their buffers;
 * nothing here blocks the loop, except broker_new() and broker_shutdown(),
 * which run before and after it.
 *
 * Two connections, both on the worker's event loop (wev.h):
 *   - "cmd": results, checkpoints, heartbeats, leases, dead letters;
 *   - "take": LMOVE haul:q:<queue> -> haul:proc:<worker>, and when the queue
 *     was found empty, BLMOVE: an idle worker is woken by Redis the moment a
 *     task is pushed. Its timeout, a third of the lease, is not a poll: it
 *     keeps a frozen worker from being handed tasks after its lease lapsed
 *     (broker.c, maybe_take).
 * Losing either drops both (a take must never run without a lease); they
 * come back with backoff (200 ms doubling to 5 s). After every connection
 * the lease is renewed and the processing list reconciled (orphans from an
 * earlier life requeued, delivery counted) before anything is taken. A
 * command unanswered for BROKER_TIMEOUT_MS drops the connection (hiredis
 * 0.14's async API has no timeouts of its own).
 *
 * Results are batched: broker_store() only queues a finished task;
 * broker_flush(), called once per loop turn, writes every queued task's
 * results and removes the tasks from the processing list in one
 * MULTI/EXEC. A task leaves the processing list only with its results. */
#ifndef HAUL_BROKER_H
#define HAUL_BROKER_H

#include "metrics.h"
#include "rowmac.h"
#include "wev.h"
#include "worker.h"

typedef struct broker broker;

typedef struct broker_cfg {
    const char *url;           /* redis://... (not copied) */
    const char *queue, *id, *host; /* not copied */
    long long concurrency;
    long long lease_ms, max_deliveries;
    const unsigned char *key;  /* unseals tasks; NULL: none */
    haul_rowmac *mac;          /* signs result entries; NULL: none */
    wmetrics *metrics;         /* counts tasks, reconnections, renewals; NULL: none */
} broker_cfg;

/* What the broker tells the loop. Every callback runs on the loop, from
 * within a Redis reply; none is called after broker_shutdown() started. */
typedef struct broker_events {
    void *ud;
    /* A task was taken, decoded and checked (not cancelled, this queue, not
     * expired). The loop owns it until it hands it to broker_store(). */
    void (*task)(void *ud, wtask *wt);
    /* broker_load_checkpoint() is answered: wt->res[idx] holds the
     * checkpoint (ok 1), or Redis could not say (ok 0, why). */
    void (*checkpoint)(void *ud, void *token, int ok, const char *why);
    /* broker_commit_page() is answered: committed 1 (wt->res[idx].listed
     * and .resume moved on), or 0 with why. */
    void (*page)(void *ud, void *token, int committed, const char *why);
    /* A task's results are stored: free it (haul_wtask_free). */
    void (*stored)(void *ud, wtask *wt);
} broker_events;

/* Connect once to check the setup (the lease script runs for this worker's
 * user), then start the loop's connections. NULL with a sentence (the URL
 * shown without its password). */
broker *broker_new(wev_loop *l, const broker_cfg *cfg, const broker_events *ev, char *err);

/* Take tasks while the loop has room for `room` more keys. Called every
 * turn; does nothing while a take is under way, the lease is not renewed,
 * Redis is full, or the broker is stopping. */
void broker_take(broker *b, long long room);
/* Take no more tasks (shutdown): a blocked BLMOVE is dropped. */
void broker_stop_taking(broker *b);

/* Queue a finished task's results; written by the next broker_flush(). */
void broker_store(broker *b, wtask *wt);
void broker_flush(broker *b);
/* Tasks queued or being written. */
long long broker_unstored(const broker *b);

/* Listings: read key idx's checkpoint into wt->res[idx] before an attempt;
 * commit a page's rows with the checkpoint after them (compare-and-set).
 * 0: the answer comes through ev->checkpoint / ev->page with token; -1:
 * Redis is away (err says so; no callback). */
int broker_load_checkpoint(broker *b, wtask *wt, size_t idx, void *token, char *err);
int broker_commit_page(broker *b, wtask *wt, size_t idx, const haul_list_page *pg, void *token,
                       char *err);

int broker_is_cancelled(const broker *b, const char *job);
/* Whether Redis refused writes for want of memory (take no task then). */
int broker_full(const broker *b);

/* The figures the heartbeat publishes. */
void broker_note_load(broker *b, long long inflight, long long retries, const char *state);
long long broker_tasks_done(const broker *b);
long long broker_keys_done(const broker *b);
/* Tasks taken and not yet stored. */
long long broker_tasks_held(const broker *b);

/* After the loop: put every task still in the processing list back at the
 * head of the queue (past the shutdown bound: the unfinished ones; always:
 * one a dropped BLMOVE took as it was dropped), remove the worker's entry,
 * drop its lease when nothing is left. Blocking, bounded by a 5 s timeout. */
void broker_shutdown(broker *b, int past_bound);
void broker_free(broker *b); /* NULL ok */

/* A task's memory, its credentials wiped. NULL ok. */
void haul_wtask_free(wtask *wt);

#endif
