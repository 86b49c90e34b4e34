/* expose.h -- a sysview (sysview.h) as `serve` shows it: Prometheus's text
 * format for /metrics, and the JSON of /api/status.json (docs/metrics.md
 * documents both); and as `haul-scheduler status` prints it, for people.
 * Pure functions over the view: no I/O.
 *
 * Labels: queue (a queue's name), job_id (a job's id: bounded, because only the
 * latest SV_MAX_JOBS jobs whose keys have not expired are shown), state (one
 * of six). Never a key, a bucket or a worker id: the JSON names buckets and
 * workers, the metrics do not. */
#ifndef HAUL_EXPOSE_H
#define HAUL_EXPOSE_H

#include "buf.h"
#include "sysview.h"

void expose_metrics(const sysview *v, haul_buf *out);
void expose_json(const sysview *v, haul_buf *out);
/* Queues (with the latest dead letters' reasons), live workers and the latest
 * `jobs` jobs, a line each (what was read, when Redis failed midway). */
void expose_text(const sysview *v, size_t jobs, haul_buf *out);

#endif
