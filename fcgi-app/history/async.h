/*
 * async: durable asynchronous invocations under <data dir>/async/.
 *
 *   records/<id>.json    the record's metadata (small; what listing reads),
 *                        with the event's length and SHA-256
 *   records/<id>.event   the event bytes, written once at acceptance
 *   records/<id>.result  {output, logs, duration_ms, exit_code, truncated}
 *   queue/<due>-<function id>-<id>   an empty marker per PENDING run, <due>
 *                        in Unix ms
 *   running/<e>-<due>-<function id>-<id>  the marker once executor <e>
 *                        claimed it
 *   quarantine/<id>.*    the files of a run found damaged when claimed
 *
 * A run is claimed by rename(2) of its marker from queue/ to running/, so
 * exactly one executor gets it; executors take due runs round the functions
 * that have them, so one function's flood does not starve the others. Every change of a record's
 * status happens under the flock of async/records.lock and is written with files_write. A marker
 * left in running/ by a process that died is recovered: the record is requeued if it has attempts
 * left, else it ends FAILED with error "interrupted". Statuses are status_record values, stored by
 * their names.
 *
 * Calls that can fail return -1 with the err_t filled in (ERR_NOT_FOUND for
 * an unknown id, ERR_CONFLICT already_finished, storage kinds for I/O).
 */
#ifndef MINILAMBDA_ASYNC_H
#define MINILAMBDA_ASYNC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "run/runtime.h"
#include "state/metrics.h"

#define ASYNC_LIST_DEFAULT 100
#define ASYNC_LIST_MAX 1000

typedef struct async async_t;

/* Open (creating the directories) the async store in `data_dir`. Returns
 * a handle (async_close) or NULL with `e` filled in. Thread-safe. */
async_t *async_open(const char *data_dir, err_t *e) ERR_MUST_USE;

/* Free the handle. */
void async_close(async_t *a);

/* Count damaged runs into `m` (borrowed; it outlives `a`). Set once, before
 * the handle is shared. */
void async_set_metrics(async_t *a, metrics_t *m);

/*
 * Durably record a PENDING invocation of `function` (borrowed record) with
 * `event` (`len` bytes) and `timeout_s`, while fewer than `max_pending`
 * (0: no bound) runs are queued in every process (else -1 with ERR_LIMIT
 * "queue_full", 429: checked under one lock with the insert, so the bound
 * is exact), started by key `creator` (NULL:
 * none), under id `id` (NULL: a fresh one), and queue it. A run that has
 * that id already is the one a retry of this acceptance looks for (an
 * Idempotency-Key's): it is returned as it is, and queued again if an
 * acceptance that died left it without its queue marker. On 0 `*out` is
 * the record, owned by the caller; on -1 nothing of it is left.
 */
int async_accept(async_t *a, const func_t *function, const char *event, size_t len, int timeout_s,
                 long long max_pending, const char *creator, const char *id, json_object **out,
                 err_t *e) ERR_MUST_USE;

/* The record `id` with its `result` when it has one; caller owns `*out`. */
int async_get(async_t *a, const char *id, json_object **out, err_t *e) ERR_MUST_USE;

/* Records newest first, at most `limit`, filtered by function name or id and
 * by status (any case) when those are non-NULL, and by `keep(rec, arg)`
 * when it is; results are not read. Caller owns `*out` (an array). */
int async_list(async_t *a, const char *function, const char *status,
               bool (*keep)(json_object *rec, void *arg), void *arg, int limit, json_object **out,
               err_t *e) ERR_MUST_USE;

/*
 * Cancel `id`: a PENDING one becomes CANCELLED without running; a RUNNING one
 * becomes CANCELLED and `*running` is set so the caller kills its container.
 * A finished one is ERR_CONFLICT (already_finished). On 0 `*out` is the
 * record, owned by the caller.
 */
int async_cancel(async_t *a, const char *id, json_object **out, bool *running,
                 err_t *e) ERR_MUST_USE;

/* PENDING runs waiting in the queue, or -1 on error. */
long async_queue_depth(async_t *a);

/* A claimed run, owned by the executor that claimed it. */
typedef struct {
    char id[RUNTIME_ID_LEN];
    char marker[160]; /* its name under running/ */
    char function_id[RUNTIME_ID_LEN];
    int timeout_s;
    int attempt; /* 1 for the first run */
    buf_t event; /* the event bytes */
} async_job;

/*
 * Claim the oldest due run for executor `executor` and mark its record
 * RUNNING. A run whose record does not parse, or whose event is not the
 * length and SHA-256 its acceptance recorded, never runs: its files go to
 * quarantine/, it ends FAILED with code record_corrupt, and it is logged
 * and counted (the next due run is claimed instead). Returns 1 with `job`
 * filled in, 0 when nothing is due
 * (`*next_due_ms` is the earliest future due time, or -1 when the queue is
 * empty), or -1 with `e` filled in: ERR_BUSY when the records' lock was
 * held past its wait (the run is back in the queue: claim again later);
 * any other error leaves the claim made for async_recover. Free `job`
 * with async_job_free in every case.
 */
int async_claim(async_t *a, int executor, async_job *job, long long *next_due_ms,
                err_t *e) ERR_MUST_USE;

/* Whether `id` has been cancelled (read fresh from its record). */
bool async_is_cancelled(async_t *a, const char *id);

/*
 * Record the outcome of a claimed run: its final status with its result,
 * or PENDING again (requeued with exponential backoff from `retry_base_ms`)
 * when it failed and has attempts left. A run cancelled meanwhile stays
 * CANCELLED; one whose record stopped parsing meanwhile is quarantined as a
 * claim would, FAILED record_corrupt with this outcome as its result.
 * Releases the claim on success; on -1 the claim stays for async_recover.
 */
int async_finish(async_t *a, async_job *job, const runtime_result *res, long long retry_base_ms,
                 err_t *e) ERR_MUST_USE;

/*
 * Give a claimed run back as if it had never been claimed: PENDING again
 * with its attempts as they were, due now (the engine failed it, not the
 * function). A run cancelled meanwhile stays CANCELLED; one whose record
 * stopped parsing is quarantined (FAILED record_corrupt). Releases the
 * claim on success; on -1 the claim stays for async_recover.
 */
int async_release(async_t *a, async_job *job, err_t *e) ERR_MUST_USE;

/* Release a job's memory. */
void async_job_free(async_job *job);

/*
 * Recover runs claimed by executor `executor` (or by any executor when
 * -1) whose process is gone: a RUNNING one is requeued when it has attempts
 * left, else it ends FAILED with error "interrupted"; a PENDING one whose
 * marker was lost in between is queued again. A claim goes only once its
 * record was durably rewritten: one that could not be (a full disk) stays
 * for the next call. Returns how many RUNNING runs were interrupted, or -1
 * with `e` (the first failure) when something stays to be recovered.
 */
int async_recover(async_t *a, int executor, err_t *e) ERR_MUST_USE;

/* Delete finished records whose completed_at is more than `retention_s`
 * seconds old on the pool's clock (clock_pool_ms), at most a quarter of
 * the records (at least one) per call. Returns how many, or -1 with `e`
 * (the records directory could not be read). */
int async_prune(async_t *a, long long retention_s, err_t *e) ERR_MUST_USE;

/*
 * Keep finished records within bounds: of each function only the
 * `per_function` newest finished ones (by completion), and all records
 * together (event and result files included) within `max_bytes`, the
 * oldest finished ones going first. PENDING and RUNNING records are never
 * deleted. For the janitor: it reads every record only when a bound may
 * be passed. Returns how many were deleted, or -1 with `e` (the records
 * directory could not be read, or memory ran out).
 */
int async_bound(async_t *a, long long per_function, long long max_bytes, err_t *e) ERR_MUST_USE;

/* Remove the temp files of record writes a crash interrupted. Returns how
 * many, or -1 with `e`. */
int async_sweep_tmp(async_t *a, err_t *e) ERR_MUST_USE;

/* The directory executors watch for new markers (inotify). */
const char *async_queue_dir(const async_t *a);

#endif
