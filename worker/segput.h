/* segput.h -- a large file uploaded in parts at once: an S3 multipart
 * upload, or a Swift static large object (SLO).
 *
 * A put whose file is larger than the task's segment_size (1 GiB when it
 * gives none) is cut into parts of that size. The file is read once before anything is sent, for its MD5
 * and every part's (so each part carries its own checksum: S3 Content-MD5,
 * Swift ETag, and the store refuses a part that arrives different). Then:
 *
 *   S3     POST ?uploads (the upload id); the parts, PUT ?partNumber=N&
 *          uploadId=ID, up to --part-streams at once; POST ?uploadId=ID with
 *          the parts' list. The object's ETag must be the MD5 of the parts'
 *          MD5s, "-N": verified "parts". A failure after the upload began
 *          aborts it (DELETE ?uploadId=ID), so no part is left behind. A
 *          key tried again (a retry, or a task delivered again after its
 *          worker was killed) first aborts the unfinished uploads of that
 *          exact key it finds (GET ?uploads&prefix=KEY): an upload cut short
 *          by a kill is not left either.
 *   Swift  the segments container <container>_segments (made if missing);
 *          the segments, named as the swift CLI names them,
 *          <key>/slo/<mtime>/<size>/<segment size>/<index, 8 digits>, up to
 *          --part-streams at once; then the manifest, PUT
 *          ?multipart-manifest=put, a JSON list of each segment's path, MD5
 *          and size. Its ETag must be the MD5 of the segments' MD5s:
 *          verified "segments". A failure deletes the segments uploaded.
 *          A key tried again writes the same names again (they depend on
 *          the file's size and modification time only).
 *
 * The control requests run on the key's own unit (ops.c: steps SEG_*);
 * this module runs the parts on easy handles of their own, and builds and
 * parses what the control requests send and answer. Below ops.c. */
#ifndef HAUL_SEGPUT_H
#define HAUL_SEGPUT_H

#include "worker.h"

#define SEGPUT_PART_TRIES 3
#define SEGPUT_MAX_PARTS  10000   /* S3's limit; Swift's default manifest limit is 1000 */
#define SEGPUT_DEFAULT_SIZE (1LL << 30) /* the task gives none (segment_size 0) */

/* Whether u's put goes in parts (its file is open in u->src). */
int segput_wanted(const unit *u);
/* Read the file once: its MD5 into r->md5, every part's, and the ETag the
 * object must end with (segput_etag). -1 with a sentence. */
int segput_prepare(worker *w, unit *u, char *err);
/* The ETag the finished object must have (S3 "<hex>-N", Swift "<hex>"). */
const char *segput_etag(const unit *u);
/* Free the upload's state (u->seg); NULL-safe. Stops its part streams. */
void segput_free(worker *w, unit *u);

/* ---- the control requests (ops.c builds them with these) ---- */
/* The segments container (Swift), and the segment name of part i. */
const char *segput_seg_container(const unit *u);
/* The request body of SEG_END: S3's CompleteMultipartUpload XML, or
 * Swift's manifest JSON. */
void segput_end_body(const unit *u, haul_buf *out);
/* S3: the upload id from POST ?uploads's answer. -1 with a sentence. */
int segput_set_upload_id(unit *u, const char *xml, size_t n, char *err);
const char *segput_upload_id(const unit *u);
/* S3: the unfinished uploads of exactly this key in a ListMultipartUploads
 * answer, kept to be aborted one by one (segput_next_stale). Returns how
 * many. */
size_t segput_find_stale(unit *u, const char *xml, size_t n);
/* The next stale upload id to abort (NULL: none left). */
const char *segput_next_stale(unit *u);
/* S3: the answer to SEG_END can be 200 with an <Error> inside. 0 ok (the
 * ETag read into etag[80]), -1 with a sentence. */
int segput_end_answer(const char *xml, size_t n, char *etag, char *err);
/* Swift abort: the next uploaded segment to delete (its name in the
 * segments container), or NULL when none is left. */
const char *segput_next_uploaded(unit *u);

/* ---- the parts ---- */
/* Start the parts (after the upload began): they start at the next
 * segput_pump. */
void segput_start(worker *w, unit *u);
/* Start what was queued; call after every curl_multi_socket_action, until
 * NULL: a unit whose parts are all over is returned (then segput_parts_ok). */
unit *segput_pump(worker *w);
/* A part's transfer ended: the unit whose parts are now all over, or NULL. */
unit *segput_stream_done(worker *w, void *stream, CURLcode cc);
/* Whether every part went in; else the sentence, status and transience of
 * the first failure. */
int segput_parts_ok(const unit *u, long *http, int *transient, char *err);
/* An easy handle's private pointer is a part stream's. */
int segput_is_stream(const void *priv);
/* The unit a part stream uploads for. */
unit *segput_stream_unit(const void *stream);

#endif
