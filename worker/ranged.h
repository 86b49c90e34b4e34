/* ranged.h -- a large object fetched as several ranged GETs at once.
 *
 * One TCP stream is bounded by its window over the round trip: at +20 ms a
 * single GET of a 1 GiB object cannot use the path. When a get's response
 * shows a body larger than the worker's --part-size going to a file, the
 * object is cut into parts of that size; the response already under way
 * (the "lead") keeps part 0 and is stopped at its end, and up to
 * --part-streams further transfers fetch the other parts with
 * "Range: bytes=FIRST-LAST", each written with pwrite at its offset into the
 * one file. A part cut short is resumed from its last byte, up to
 * RANGE_PART_TRIES times; every part must answer 206 with the Content-Range
 * asked for and the lead's ETag (an object replaced meanwhile fails the
 * key, worth another attempt).
 *
 * Verification stays what the edges issue requires, over the whole body in
 * order: the key's verifier (MD5, Swift segments, S3 parts) is fed the
 * bytes below the frontier of what is written contiguously from byte 0,
 * read back from the file (page cache) by a hashing thread of the download's
 * own, so MD5 runs on another core beside the transfers; the loop learns
 * that it is done through an eventfd. Without a thread (none could be made)
 * the loop's thread feeds it: live from curl's buffer at the frontier, read
 * back beyond it. Nothing is held in memory but one read-back buffer per
 * hashing thread.
 *
 * Below ops.c: it calls these, never the reverse. */
#ifndef HAUL_RANGED_H
#define HAUL_RANGED_H

#include "worker.h"

#define RANGE_PART_TRIES 3
#define RANGE_MAX_PARTS  10000   /* more parts than this: the part size grows */

/* Whether u's get, its headers in (http, u->clen), should go in parts. */
int wrange_wanted(const worker *w, const unit *u, long http);
/* Start: the body's file is open (u->file), the lead keeps part 0; the
 * other streams start. -1 with err. */
int wrange_start(worker *w, unit *u, char *err);
/* Start the streams of downloads started since the last call: the loop
 * calls it after every curl_multi_socket_action (curl allows no transfer
 * to be added from within its callbacks, where wrange_start runs). Call
 * it until NULL: a lead unit whose download is over is returned (call
 * wrange_end). */
unit *wrange_pump(worker *w);
/* The lead's bytes p[0..n): 0 go on, 1 part 0 is complete (stop the lead:
 * return 0 from curl's write callback), -1 failed (u->werr; u->corrupt when
 * the body failed verification). */
int wrange_lead_write(worker *w, unit *u, const char *p, size_t n);
/* The lead's transfer ended (cc, http). 1 when the whole download is over
 * (call wrange_end), 0 when parts are still coming. */
int wrange_lead_done(worker *w, unit *u, CURLcode cc, long http);
/* A part's stream ended: the lead unit when its download is now over
 * (call wrange_end), else NULL. `stream` is the easy handle's private. */
unit *wrange_stream_done(worker *w, void *stream, CURLcode cc);

/* How a download that is over went. */
typedef struct wrange_result {
    int ok;             /* every byte is in the file and fed to u->ver */
    long http;          /* failed: the HTTP status that failed it (0: none) */
    int transient;      /* failed: worth another attempt */
    long long bytes;
    char err[HAUL_ERR_LEN];
} wrange_result;
/* Free the download's state (u->file and u->ver stay the unit's). */
void wrange_end(worker *w, unit *u, wrange_result *res);
/* Stop every stream and free (abandon, reset). NULL-safe on u->range. */
void wrange_abort(worker *w, unit *u);

/* The descriptor the hashing threads write to when they are done (an
 * eventfd; the loop reads it, then calls wrange_pump): made on first use,
 * -1 when none can be made (then hashing stays on the loop's thread). */
int wrange_wakefd(worker *w);
/* An easy handle's private pointer is a stream's (not a unit's). */
int wrange_is_stream(const void *priv);
/* The unit a stream fetches a part for. */
unit *wrange_stream_unit(const void *stream);
/* Easy handles for transfers beside a unit's own (ranged parts here,
 * segput.c's upload parts): from the worker's spares, kept (up to 16) when
 * given back. */
CURL *wrange_handle_get(worker *w);
void wrange_handle_put(worker *w, CURL *e);
/* At exit: the spare easy handles and the read-back buffer. */
void wrange_cleanup(worker *w);

#endif
