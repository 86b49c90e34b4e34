/* order.h -- the collector's bookkeeping: which row is written next.
 *
 * No I/O. Results (by slot), duplicate runs and what the submitter has
 * described so far go in; rows come out, in the order of the job's keys,
 * through the emit callback, each exactly once.
 *
 * Rows and slots (docs/protocol.md, "Duplicate keys"): rows are the keys as
 * given, slots the distinct keys, numbered in order of first occurrence;
 * a row either takes the next slot or repeats an earlier one (a run from
 * haul:dup:<job>). While the job is still being submitted only its first
 * `rows` rows are described -- later ones may yet turn out to be repeats --
 * so a row is written only once it is below `rows`.
 *
 * What is held in memory, and why (nothing else is):
 *   - a result that arrived before its turn (a min-heap by slot);
 *   - a written result that described rows still repeat (its run's count);
 *   - while the job is being submitted, a written result whose slot is at or
 *     above the job's `dup_floor`: the submitter may yet name it in a run.
 *     The submitter keeps dup_floor at the number of slots it had described
 *     at its last publication -- so no written slot is at or above it --
 *     except under --repeat, where it stays 0 until the end: every key of
 *     the first pass will be repeated, and the first pass is held.
 * Every result the collector has read is thus either written or held here:
 * the stream never needs to keep what was read (the trimming rule).
 *
 * Every call after a violated rule (a run out of order, a run naming a slot
 * already written and released, a value going backwards) returns -1 with
 * the sentence in err, and so does every later call: the job's records in
 * Redis are inconsistent and no further row can be trusted. */
#ifndef HAUL_ORDER_H
#define HAUL_ORDER_H

#include "output.h"

typedef struct haul_order haul_order;

/* Called for each row, in order; r and its strings live only for the call. */
typedef void (*haul_order_emit)(void *ud, const haul_row *r);

haul_order *haul_order_new(haul_order_emit emit, void *ud);
void haul_order_free(haul_order *o); /* NULL ok; frees every held result */

/* What the job hash says: rows described, slots described, dup_floor, and
 * final (submission finished: rows and slots are the job's totals). Apply the
 * runs read with these values (haul_order_run) first. Values below what is
 * known are ignored while the job is being submitted (a Redis restarted from
 * its AOF may have lost the last update, which the submitter writes again);
 * totals other than the final ones are an error. */
int haul_order_describe(haul_order *o, long long rows, long long slots, long long floor,
                        int final, char *err);

/* While the job is being submitted, results may come for the slots of every
 * task queued (the job hash's `tasks` times its batch), beyond the slots
 * described: they are held until described. */
void haul_order_expect(haul_order *o, long long cap);

/* One run "ROW SLOT N": rows ROW..ROW+N-1 repeat slots SLOT..SLOT+N-1. Runs
 * come in increasing ROW order, each after the rows already written; a run
 * within the rows of the last one given is known already and skipped (the
 * list read again from its start, or a run stored twice). */
int haul_order_run(haul_order *o, long long row, long long slot, long long n, char *err);

/* A result for slot (its strings are copied when it must wait). 1 taken,
 * 0 the slot was answered already (dropped: first wins), -1 no result can
 * come for the slot yet (err says so): describe or expect more, then offer
 * it again, or drop it. */
int haul_order_result(haul_order *o, long long slot, const haul_row *r, char *err);

int haul_order_answered(const haul_order *o, long long slot);
long long haul_order_rows_written(const haul_order *o);
long long haul_order_slots_answered(const haul_order *o);
long long haul_order_rows_known(const haul_order *o);
long long haul_order_held(const haul_order *o);    /* results in memory */
/* 1 when the next row is not described yet (more `rows` would let it go on). */
int haul_order_wants_rows(const haul_order *o);
/* 1 when final and every row was written. */
int haul_order_complete(const haul_order *o);

#endif
