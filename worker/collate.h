/* collate.h -- put --collate: small files packed into one zip with libzip,
 * and the zip's sidecar text.
 *
 * A key of a put task can stand for a zip of several files (the task's
 * args.member_counts, args.members): the scheduler grouped the tree's small
 * files. The worker reads each member beneath its --in-root, with the same
 * rules as any file put reads (files.h: no link followed, regular files
 * only), one member open at a time (a libzip source of our own opens it
 * when libzip reads it, and closes it after), stores it uncompressed under
 * its path relative to the source directory, and writes the archive to a
 * file of its own directly in the worker's --out-root
 * (.haul-zip-<pid>-<n>.zip), which is unlinked as soon as it is open for
 * sending: a killed worker leaves at most the file libzip was writing. The
 * sidecar, uploaded beside the zip as <key>.metadata, is the members' paths
 * joined by '|', the users' format, which the sidecar op reads back. */
#ifndef HAUL_COLLATE_H
#define HAUL_COLLATE_H

#include <stddef.h>

#include "buf.h"
#include "files.h"

/* Pack members[0..n) (relative to src_dir, beneath in's root) into a new
 * zip in out's root; on success *zip is the archive, open for reading
 * (its name already removed), and sidecar holds the '|'-joined list. -1
 * with a sentence naming the member that failed and why, nothing left. */
int collate_build(wfiles *in, wfiles *out, const char *src_dir, char *const *members, size_t n,
                  rfile *zip, haul_buf *sidecar, char *err);

#endif
