/*
 * records: a record of every synchronous invocation, under
 * <data dir>/records/, written cheaply on the invoke path and pruned by the
 * janitor. (Async invocations keep their own records: async.h.)
 *
 *   fn/<function id>/name          the function's name, for filters and lists
 *   fn/<function id>/<seq>.log     append-only segment: one JSON record a line
 *   fn/<function id>/<seq>.idx     its index: one fixed-width line a record
 *                                  (times, id, status, where its line is)
 *   fn/<function id>/<seq>.rj.log  the same for the calls refused before
 *   fn/<function id>/<seq>.rj.idx  anything ran (REJECTED): their own lane
 *   ids/<xx>                       id -> segment and offset, one fixed-width
 *                                  line a record, sharded by the id's first
 *                                  byte; <xx>.old while the janitor compacts
 *
 * A record is three appends (O_APPEND, one write(2) each, no fsync): sync
 * records are best-effort durable, unlike async ones. Each append first
 * pads past a torn tail a cut-short write left (never truncating it: other
 * processes append to the same files), so the next record is never lost
 * with it; readers skip such lines and count them. The newest segment of
 * a function takes the appends of every process; once it is past the
 * segment size the next append starts the next one. Listing reads index
 * lines from the newest backwards and stops once nothing older can enter the
 * page, so the newest 50 of a million records read a few pages, not every
 * record. A record past the per-function cap or the retention is gone for
 * readers at once; the janitor (records_prune) deletes whole segments once
 * all of theirs are, and the oldest segments while the total passes the
 * byte cap. Each lane has its own per-function cap, and refusals their own
 * share of the byte cap (a quarter; they go first while the total passes
 * it), so a flood of refusals never pushes out a record of a call that ran.
 *
 * Order and cursors: newest first by (created_at, id). A cursor names the
 * last record of a page; the next page is what sorts after it, so records
 * written meanwhile never shift a page.
 *
 * Calls that can fail return -1 with the err_t filled in (ERR_NOT_FOUND for
 * an unknown id, storage kinds for I/O). Thread-safe.
 */
#ifndef MINILAMBDA_RECORDS_H
#define MINILAMBDA_RECORDS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "base/err.h"
#include "run/runtime.h"
#include "state/metrics.h"
#include "state/status.h"

/* The settings records obey (config_t's MINILAMBDA_RECORD* rows). */
typedef struct {
    bool enabled;           /* MINILAMBDA_RECORDS: off writes none */
    size_t output_max;      /* bytes of stdout, and of stderr, a record keeps */
    long long per_function; /* newest records kept per function */
    long long max_bytes;    /* every sync record's files together */
    long long retention_s;  /* seconds after completion a record is kept */
} records_limits;

/* The limits `cfg` sets. */
records_limits records_limits_of(const config_t *cfg);

typedef struct records records_t;

/* Open (creating the directories) the records under `data_dir` with
 * `lim` (copied). Returns a handle (records_close) or NULL with `e`. */
records_t *records_open(const char *data_dir, const records_limits *lim, err_t *e) ERR_MUST_USE;

/* Count torn tails re-aligned and lines skipped into `m` (borrowed; it
 * outlives `r`). Set once, before the handle is shared. */
void records_set_metrics(records_t *r, metrics_t *m);

/* Close the segments this process holds open and free the handle. */
void records_close(records_t *r);

/* Whether records are written at all. */
bool records_enabled(const records_t *r);

/* What one synchronous call leaves. Borrowed pointers. */
typedef struct {
    const char *id;            /* the invocation id */
    const func_t *function;    /* the function */
    long long created_ms;      /* wall ms when the call was taken */
    long long done_ms;         /* when it ended; 0: now (benchmarks and tests set it) */
    int timeout_s;             /* 0 when the call was refused before reading it */
    const char *creator;       /* the key's id, or NULL */
    const runtime_result *res; /* how it ran; NULL when refused before running */
    int http_status;           /* what the client was answered */
    const char *code;          /* the answer's error code, or NULL */
    const char *error;         /* why it was refused (res == NULL), or NULL */
} records_call;

/*
 * Append the record of `call`: stdout and stderr cut to output_max each
 * (`truncated` set when anything was cut here or at the run's caps). A
 * no-op when records are off. Returns 0, or -1 with `e` (nothing
 * findable was left: part of a line may be, which readers skip and the
 * next append pads past; the segment stays the one appended to).
 */
int records_append(records_t *r, const records_call *call, err_t *e) ERR_MUST_USE;

/* The record `id`, result included; ERR_NOT_FOUND when there is none (or
 * it is past the cap or the retention). Caller owns `*out`. */
int records_get(records_t *r, const char *id, json_object **out, err_t *e) ERR_MUST_USE;

/* Set `e` to the 404 not_found of an invocation `id` that does not exist
 * (given as well for one the caller's key may not see). -1. */
int records_not_found(const char *id, err_t *e) ERR_MUST_USE;

/* A position in the newest-first order. */
typedef struct {
    long long created_ms;
    char id[RUNTIME_ID_LEN];
} records_key;

/* < 0 when `a` comes before `b` newest first (newer, or as new with the
 * greater id), 0 when equal, > 0 after. */
int records_key_cmp(const records_key *a, const records_key *b);

/* The key of a listed or stored record (`created_at` and `id`). 0, or -1
 * when it has no valid ones. */
int records_key_of(json_object *rec, records_key *k);

/* The opaque cursor text for `k` into `out` (caller's, at least
 * RECORDS_CURSOR_LEN). 0, or -1 when `out` is too small. */
#define RECORDS_CURSOR_LEN 96
int records_cursor_encode(const records_key *k, char *out, size_t outlen);

/* Parse a cursor made by records_cursor_encode. 0, or -1 for anything else. */
int records_cursor_decode(const char *s, records_key *k);

/* What to list. */
typedef struct {
    const char *function;      /* a function's name or id; NULL: all */
    int status;                /* a status_record, or -1: any */
    long long since_ms;        /* created at or after; -1: any */
    const records_key *before; /* only records after this one; NULL: from the newest */
    bool (*keep)(json_object *entry, void *arg); /* NULL: all */
    void *arg;
    int limit; /* 1.. */
} records_query;

/*
 * Records as `q` asks, newest first, at most q->limit, without their
 * output: id, type "sync", function_id, function_name, status, start,
 * created_at, started_at, completed_at, attempts, max_attempts, timeout,
 * error (null: the text is in the record), duration_ms, exit_code,
 * http_status, code, truncated, created_by. Caller owns `*out` (an array).
 */
int records_list(records_t *r, const records_query *q, json_object **out, err_t *e) ERR_MUST_USE;

/* What one pruning pass did. */
typedef struct {
    long segments; /* segments deleted */
    long long bytes_freed;
    long long bytes_left; /* what every record file takes on disk after the pass */
} records_pruned;

/*
 * Delete the segments whose records are all past the per-function cap or
 * the retention at `now_ms` (at most a quarter of a function's segments,
 * at least one, by the retention per pass), then the oldest segments while
 * everything passes max_bytes (files counted by the blocks they take on
 * disk), and compact the id shards. For the janitor: never on a
 * request's path. Returns 0 (`out` filled in), or -1 with `e` when the
 * records directory cannot be read.
 */
int records_prune(records_t *r, long long now_ms, records_pruned *out, err_t *e) ERR_MUST_USE;

#endif
