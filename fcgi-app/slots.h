/*
 * slots: state shared by the master and every worker through one anonymous
 * shared mapping made before the first fork — the global invocation
 * concurrency count and the table of invocations running right now.
 *
 * Each worker owns one row: a count of its running invocations and one
 * entry per invoke thread holding the id of the invocation that thread is
 * running. When a worker dies, the master clears its row, so a crash can
 * never leak a concurrency slot, and the janitor can tell a container whose
 * invocation is still running from a crash leftover.
 */
#ifndef MINILAMBDA_SLOTS_H
#define MINILAMBDA_SLOTS_H

#include <stdbool.h>
#include <uuid/uuid.h>

typedef struct slots slots_t;

/* Map the shared table: `workers` counted rows plus `extra` rows that only
 * track, each of `threads` entries. Returns the table (free with
 * slots_destroy in the process that made it) or NULL with errno set. */
slots_t *slots_create(int workers, int extra, int threads);

/* Unmap the table. */
void slots_destroy(slots_t *s);

/*
 * Take one of `max` global invocation slots for thread `thread` of worker
 * `worker` and record `id` as running there. Returns 0, or -1 when `max`
 * invocations are already running (nothing recorded).
 */
int slots_acquire(slots_t *s, int worker, int thread, const uuid_t id, int max);

/* Give back the slot taken by slots_acquire. */
void slots_release(slots_t *s, int worker, int thread);

/* Record `id` as running in row `row`, entry `thread`, without counting it
 * against the concurrency limit (async executors, which have their own
 * bound). */
void slots_track(slots_t *s, int row, int thread, const uuid_t id);

/* Forget the entry recorded by slots_track. */
void slots_untrack(slots_t *s, int row, int thread);

/* Forget everything worker `worker` was running (the master calls this when
 * that worker has died). */
void slots_reset_worker(slots_t *s, int worker);

/* True when invocation `id` is running in some worker. */
bool slots_running(slots_t *s, const uuid_t id);

#endif
