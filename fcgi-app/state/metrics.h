/*
 * metrics: Prometheus counters and histograms in one POSIX shared-memory
 * segment that the master creates before forking and every worker inherits,
 * so counts are exact across processes and survive a worker's crash.
 *
 * All counters are _Atomic and updated with atomic_fetch_add; no lock is
 * ever taken, so a process dying mid-update cannot wedge the others.
 * Functions get slots in a fixed open-addressing table keyed by a hash of
 * the name, claimed with compare-and-swap; once the table is full further
 * functions count under function="_overflow".
 */
#ifndef MINILAMBDA_METRICS_H
#define MINILAMBDA_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Histogram upper bounds in ms: 10, 110, ... 910, then +Inf. */
#define METRICS_BUCKETS 10
/* Route templates counted in minilambda_http_requests_total, "other"
 * included (route.c asserts its table fits). */
#define METRICS_ROUTES 32

typedef struct metrics metrics_t;

typedef enum {
    METRICS_SUCCEEDED = 0,
    METRICS_FAILED,
    METRICS_TIMEOUT,
    METRICS_REJECTED,
    METRICS_ERROR,
    METRICS_CANCELLED, /* cancelled by DELETE, or the client went away */
    METRICS_STATUS__COUNT
} metrics_status;

/*
 * Create the segment `name` afresh (a leftover of an earlier run, whatever
 * its layout, is replaced: counts start at zero with each master) with room
 * for `slots` functions and for `rows` x `threads` running invocations, and
 * map it. A deleted function's slot may serve another function `reclaim_s`
 * seconds after metrics_retire. Returns the mapping (metrics_close) or NULL
 * with the reason in `err`.
 */
metrics_t *metrics_create(const char *name, int slots, int rows, int threads, int reclaim_s,
                          char *err, size_t errlen);

/* `function` was deleted: its series stay for the reclaim period, then its
 * slot may go to another function (a function of the same name registered
 * again meanwhile keeps it). */
void metrics_retire(metrics_t *m, const char *function);

/* Unmap; with `unlink_it` also remove the segment (the master, on a clean
 * exit). */
void metrics_close(metrics_t *m, int unlink_it);

/* An invocation of `function` began on thread `thread` of process row
 * `row` (the in-flight gauge); metrics_end marks its end. The pair is kept in
 * the segment so that a process that dies in between can be accounted for
 * (metrics_reset_row). */
void metrics_begin(metrics_t *m, int row, int thread, const char *function);
void metrics_end(metrics_t *m, int row, int thread);

/* Process row `row` died: every invocation it had begun ends, counted as
 * status "error" with the time it had run. */
void metrics_reset_row(metrics_t *m, int row);

/* Count an invocation of `function` that ended with `status`; for every
 * status but REJECTED also count Total_Invocations and observe `ms` in the
 * duration histogram. */
void metrics_observe(metrics_t *m, const char *function, metrics_status status, double ms);

/* Count one HTTP response on route template index `route` (0 for requests
 * that matched no route) with `code`. */
void metrics_http(metrics_t *m, int route, int code);

/* What the stores of records meet on disk, counted platform-wide. */
typedef enum {
    METRICS_RECORD_NOT_KEPT = 0, /* a sync record could not be written */
    METRICS_RECORD_TORN_LOG,     /* a writer re-aligned a torn tail: a segment's log */
    METRICS_RECORD_TORN_INDEX,   /* ... a segment's index */
    METRICS_RECORD_TORN_IDS,     /* ... an id shard */
    METRICS_RECORD_SKIPPED,      /* a reader skipped a line that was not a record */
    METRICS_ASYNC_CORRUPT,       /* an async run was found damaged at its claim */
    METRICS_STORAGE__COUNT
} metrics_storage_event;

/* Count `n` of `ev`. `m` may be NULL (nothing counted: unit tests). */
void metrics_storage(metrics_t *m, metrics_storage_event ev, unsigned long long n);

/* Count one image upload that ended `ok` (or not) after `bytes` bytes of
 * tar. */
void metrics_image_upload(metrics_t *m, int ok, unsigned long long bytes);

/* Route template names for the http series, indexed like metrics_http's
 * `route`; set once at start-up (borrowed, static strings). */
void metrics_set_routes(const char *const *names, int count);

/* How a run's container started (minilambda_starts_total{start}). */
typedef enum {
    METRICS_START_COLD = 0,
    METRICS_START_WARM,
    METRICS_START_REUSED,
    METRICS_START__COUNT
} metrics_start_kind;

/* Count one run of `function` whose container started as `start`. */
void metrics_start(metrics_t *m, const char *function, metrics_start_kind start);

/* Set minilambda_warm_containers{function}: `n` ready now (the keeper). */
void metrics_set_warm(metrics_t *m, const char *function, long n);

/* Set the gauges that are not counted in the segment. */
#define METRICS_UP_MAX 8
typedef struct {
    long functions;   /* registered functions, or -1 when unknown */
    long queue_depth; /* PENDING async invocations */
    /* minilambda_up{component}: `nup` parts, each named (static) and up
     * or not. */
    int nup;
    const char *up_name[METRICS_UP_MAX];
    bool up[METRICS_UP_MAX];
    /* For a reader limited to some functions: whether `function`'s series
     * are shown (NULL: all). With a filter, the series that add up every
     * function's traffic (the queue depth, HTTP responses, image uploads)
     * are left out too; `functions` is then the caller's count. */
    bool (*keep)(const char *function, void *arg);
    void *keep_arg; /* borrowed */
} metrics_gauges;

/* Append the whole exposition (text format 0.0.4) to `out`, with only the
 * functions g->keep keeps. Returns 0, or -1 when `out` is full. */
int metrics_render(metrics_t *m, const metrics_gauges *g, buf_t *out);

/* Append `s` to `out` escaped as a label value (\\, \", \n). Returns 0/-1. */
int metrics_escape(buf_t *out, const char *s);

#endif
