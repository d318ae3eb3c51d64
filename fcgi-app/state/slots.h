/*
 * slots: state shared by the master and every worker through one anonymous
 * shared mapping made before the first fork — the global invocation
 * concurrency count and the table of invocations running right now.
 *
 * Each worker owns one row: a count of the slots it holds and one entry per
 * thread holding the run id of the container that thread's run holds (the
 * cold runtime records it). When a worker dies, the master clears its row,
 * so a crash can never leak a concurrency slot, and the janitor can tell a
 * container whose run is still going from a crash leftover.
 */
#ifndef MINILAMBDA_SLOTS_H
#define MINILAMBDA_SLOTS_H

#include <stdbool.h>
#include <uuid/uuid.h>

typedef struct slots slots_t;

/* Separate limits: invocations, and image uploads (which must never take
 * an invocation's place). */
typedef enum { SLOTS_INVOKE = 0, SLOTS_UPLOAD, SLOTS__POOLS } slots_pool;

/* Map the shared table: `workers` counted rows plus `extra` rows that only
 * track, each of `threads` entries. Returns the table (free with
 * slots_destroy in the process that made it) or NULL with errno set. */
slots_t *slots_create(int workers, int extra, int threads);

/* Unmap the table. */
void slots_destroy(slots_t *s);

/*
 * Take one of the `max` global slots of `pool` for worker `worker`.
 * Returns 0, or -1 when `max` are already taken (nothing taken).
 */
int slots_acquire(slots_t *s, slots_pool pool, int worker, int max);

/* Give back a slot taken by slots_acquire. */
void slots_release(slots_t *s, slots_pool pool, int worker);

/* Uploads held at once at most (MINILAMBDA_MAX_UPLOADS's bound). */
#define SLOTS_HOLDERS 64

/* Why slots_upload_acquire refused. */
typedef enum {
    SLOTS_UPLOADS_FULL = 1, /* all `max` are taken */
    SLOTS_KEY_SHARE,        /* the key holds its share already */
    SLOTS_ADDR_SHARE        /* the address holds its share already */
} slots_refusal;

/*
 * Take one of the `max` upload slots for worker `worker`, on behalf of key
 * `key` ("": none) from address `addr` ("": unknown), unless that key holds
 * `per_key` already or that address `per_addr` (an empty one is never
 * counted). Exact per key and address (their text is compared, not a
 * hash); two acquisitions that race for a share's last place may both be
 * refused, never both taken. Returns the holder index (for
 * slots_upload_release), or -1 with `*why`.
 */
int slots_upload_acquire(slots_t *s, int worker, const char *key, const char *addr, int max,
                         int per_key, int per_addr, slots_refusal *why);

/* Give back upload slot `holder` of worker `worker`. */
void slots_upload_release(slots_t *s, int worker, int holder);

/* Record run `id` as holding a container at row `row`, entry `thread`
 * (what a runtime does while a run of it is live). */
void slots_track(slots_t *s, int row, int thread, const uuid_t id);

/* slots_track, only when the entry is free: the keeper handing a
 * container to a seat whose caller may have given up waiting and tracked a
 * cold run of its own. Returns whether it was recorded. */
bool slots_track_if_free(slots_t *s, int row, int thread, const uuid_t id);

/* Forget the entry recorded by slots_track. */
void slots_untrack(slots_t *s, int row, int thread);

/* Forget everything worker `worker` was running or uploading (the master
 * calls this when that worker has died). */
void slots_reset_worker(slots_t *s, int worker);

/* True when invocation `id` is running in some worker. */
bool slots_running(slots_t *s, const uuid_t id);

/* The keeper's table: the run ids of the warm containers it holds ready,
 * entries 0 .. SLOTS_KEEP_MAX - 1, so that the janitor keeps them. A
 * container leased to a call is tracked in the caller's seat instead
 * (slots_track), written by the keeper before it hands it over. */
#define SLOTS_KEEP_MAX 256
void slots_keep(slots_t *s, int i, const uuid_t id);

/* Forget keeper entry `i`. */
void slots_unkeep(slots_t *s, int i);

/* Forget every keeper entry (the master calls this when the keeper died:
 * its ready containers are leftovers now). */
void slots_reset_keeper(slots_t *s);

/* The keeper's word for /healthz, written each second it runs: when
 * (monotonic ms), how many functions are short of their keep_warm with no
 * make of them done, and since when the longest-short one is (ms). */
void slots_keeper_report(slots_t *s, long long now_ms, int short_n, long long short_since_ms);

/* The keeper's last word (all 0 when it never reported). */
void slots_keeper_state(slots_t *s, long long *at_ms, int *short_n, long long *short_since_ms);

/* What a process row is doing, for /healthz. */
typedef enum {
    SLOTS_DOWN = 0,     /* not running (or not started yet) */
    SLOTS_UP,           /* serving */
    SLOTS_ENGINE_WAIT,  /* an executor waiting for the engine to answer */
    SLOTS_STORAGE_STALL /* an executor that cannot record an outcome */
} slots_state;

/* Set row `row`'s state and, for a stall, the errno behind it. */
void slots_set_state(slots_t *s, int row, slots_state st, int sys);

/* Row `row`'s state; its errno into `*sys` when not NULL. */
slots_state slots_state_of(slots_t *s, int row, int *sys);

/* Recovery of dead executors' claims, handed from the master to the
 * janitor process: row `row` (or SLOTS_ALL_ROWS) needs it. */
#define SLOTS_ALL_ROWS (-1)
void slots_need_recovery(slots_t *s, int row);

/* Whether row `row` still waits for recovery (SLOTS_ALL_ROWS: the one at
 * start-up). */
bool slots_needs_recovery(slots_t *s, int row);

/* The janitor recovered row `row` (or SLOTS_ALL_ROWS). */
void slots_recovered(slots_t *s, int row);

/* The number of process rows (workers, then executors). */
int slots_rows(const slots_t *s);

/* The number of entries of each row. */
int slots_threads(const slots_t *s);

/* slots_untrack, only when the entry still holds `id`. Returns whether it
 * did. */
bool slots_untrack_if(slots_t *s, int row, int thread, const uuid_t id);

#endif
