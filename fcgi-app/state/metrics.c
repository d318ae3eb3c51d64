#include "state/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

#define METRICS_MAGIC 0x6d6c6d6574726963ULL /* "mlmetric" */
#define METRICS_VERSION 3
#define METRICS_NAME_MAX 64
/* Status codes tracked individually; anything else counts as "other". */
static const int metrics_codes[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 408, 409,
                                    413, 415, 422, 429, 499, 500, 502, 503, 504, 507, 0};
#define METRICS_CODES (sizeof(metrics_codes) / sizeof(metrics_codes[0]))

/* retired_ms while a process reclaims the slot for another function. */
#define METRICS_RECLAIMING UINT64_MAX

typedef struct {
    _Atomic uint64_t hash;       /* 0 while free; claimed with CAS */
    _Atomic uint32_t ready;      /* 1 once `name` is written */
    _Atomic uint64_t retired_ms; /* monotonic ms its function was deleted, 0 while in use */
    char name[METRICS_NAME_MAX];
    _Atomic uint64_t total;
    _Atomic uint64_t by_status[METRICS_STATUS__COUNT];
    _Atomic int64_t in_flight;
    _Atomic uint64_t buckets[METRICS_BUCKETS + 1]; /* per bucket, not cumulative */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t starts[METRICS_START__COUNT];
    _Atomic int64_t warm; /* ready warm containers, as the keeper last said */
} metrics_slot;

/* What one thread is running now: its function's slot and start time. */
typedef struct {
    _Atomic uint32_t slot; /* slot index + 1; 0 when idle */
    _Atomic uint64_t start_ms;
} metrics_active;

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t slots;
    uint32_t rows;
    uint32_t threads;
    uint64_t size;
    uint64_t start_time; /* Unix seconds */
    uint64_t reclaim_ms; /* how long a deleted function's slot stays its own */
    _Atomic uint64_t http[METRICS_ROUTES][METRICS_CODES];
    _Atomic uint64_t uploads[2]; /* failed, succeeded */
    _Atomic uint64_t upload_bytes;
    _Atomic uint64_t storage[METRICS_STORAGE__COUNT];
    metrics_slot slot[]; /* `slots` entries, then the overflow slot */
} metrics_seg;

struct metrics {
    metrics_seg *seg;
    metrics_active *active; /* [rows * threads], after the slots */
    size_t size;
    char name[128];
};

static const char *const *metrics_route_names;
static int metrics_route_count;

static size_t metrics_slots_size(int slots)
{
    return sizeof(metrics_seg) + sizeof(metrics_slot) * ((size_t)slots + 1);
}

metrics_t *metrics_create(const char *name, int slots, int rows, int threads, int reclaim_s,
                          char *err, size_t errlen)
{
    size_t size =
        metrics_slots_size(slots) + sizeof(metrics_active) * (size_t)rows * (size_t)threads;
    metrics_t *m = calloc(1, sizeof(*m));
    int fd = -1;

    if (m == NULL) {
        snprintf(err, errlen, "calloc() failed: out of memory");
        return NULL;
    }
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->size = size;
    /* A segment left by an earlier run (or another build) is never
     * misread: it is replaced by a fresh one with this layout. */
    shm_unlink(name);
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "shm_open(%s) failed: %s", name, strerror(errno));
        goto fail;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        snprintf(err, errlen, "ftruncate(%s, %zu) failed: %s", name, size, strerror(errno));
        goto fail;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "mmap(%s) failed: %s", name, strerror(errno));
        goto fail;
    }
    close(fd);
    m->seg = p;
    m->seg->magic = METRICS_MAGIC;
    m->seg->version = METRICS_VERSION;
    m->seg->slots = (uint32_t)slots;
    m->seg->rows = (uint32_t)rows;
    m->seg->threads = (uint32_t)threads;
    m->active = (metrics_active *)((char *)p + metrics_slots_size(slots));
    m->seg->size = size;
    m->seg->start_time = (uint64_t)time(NULL);
    m->seg->reclaim_ms = (uint64_t)reclaim_s * 1000;
    metrics_slot *ovf = &m->seg->slot[slots];
    snprintf(ovf->name, sizeof(ovf->name), "_overflow");
    atomic_store(&ovf->hash, 1);
    atomic_store(&ovf->ready, 1);
    return m;
fail:
    if (fd >= 0) {
        close(fd);
        shm_unlink(name);
    }
    free(m);
    return NULL;
}

void metrics_close(metrics_t *m, int unlink_it)
{
    if (m == NULL)
        return;
    munmap(m->seg, m->size);
    if (unlink_it)
        shm_unlink(m->name);
    free(m);
}

static uint64_t metrics_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h | 2; /* never 0 (free) nor 1 (the overflow marker) */
}

/* Whether slot `sl` holds `function` (waiting, boundedly, for a claimer
 * between its CAS and `ready`: one that died right there leaves the slot
 * unusable rather than wedging us). */
static bool metrics_is(metrics_slot *sl, const char *function)
{
    for (int spin = 0; spin < 1000000 && !atomic_load(&sl->ready); spin++)
        ;
    return atomic_load(&sl->ready) && strncmp(sl->name, function, METRICS_NAME_MAX - 1) == 0;
}

/* Whether `sl` belongs to a function deleted more than the grace ago with
 * nothing of it in flight. */
static bool metrics_reclaimable(metrics_seg *s, metrics_slot *sl)
{
    uint64_t r = atomic_load(&sl->retired_ms);
    return r != 0 && r != METRICS_RECLAIMING && (uint64_t)clock_mono_ms() - r >= s->reclaim_ms &&
           atomic_load(&sl->in_flight) == 0;
}

/* Take over the retired slot `sl` for `function` (hash `h`). */
static bool metrics_reclaim(metrics_seg *s, metrics_slot *sl, const char *function, uint64_t h)
{
    uint64_t r = atomic_load(&sl->retired_ms);
    if (!metrics_reclaimable(s, sl) ||
        !atomic_compare_exchange_strong(&sl->retired_ms, &r, METRICS_RECLAIMING))
        return false;
    /* Not ready while it changes hands: a reader waits, then compares. */
    atomic_store(&sl->ready, 0);
    atomic_store(&sl->hash, h);
    atomic_store(&sl->total, 0);
    for (int k = 0; k < METRICS_STATUS__COUNT; k++)
        atomic_store(&sl->by_status[k], 0);
    for (int k = 0; k <= METRICS_BUCKETS; k++)
        atomic_store(&sl->buckets[k], 0);
    atomic_store(&sl->sum_us, 0);
    for (int k = 0; k < METRICS_START__COUNT; k++)
        atomic_store(&sl->starts[k], 0);
    atomic_store(&sl->warm, 0);
    snprintf(sl->name, sizeof(sl->name), "%s", function);
    atomic_store(&sl->retired_ms, 0);
    atomic_store(&sl->ready, 1);
    return true;
}

/* The slot holding `function`, or NULL; with `claim`, a new one is
 * claimed on first use (a free slot, else the first reclaimable one on the
 * way), and the overflow slot answers when the table is full. A slot found
 * for a function deleted and registered again is in use again. */
static metrics_slot *metrics_find(metrics_t *m, const char *function, bool claim)
{
    metrics_seg *s = m->seg;
    uint64_t h = metrics_hash(function);
    uint32_t n = s->slots;
    metrics_slot *reuse = NULL;
    for (uint32_t i = 0; i < n; i++) {
        metrics_slot *sl = &s->slot[(h + i) % n];
        uint64_t cur = atomic_load(&sl->hash);
        if (cur == 0 && claim && reuse == NULL) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&sl->hash, &expect, h)) {
                snprintf(sl->name, sizeof(sl->name), "%s", function);
                atomic_store(&sl->ready, 1);
                return sl;
            }
            cur = expect;
        }
        if (cur == 0)
            break; /* the end of this hash's chain: it is nowhere further */
        if (cur == h && metrics_is(sl, function)) {
            uint64_t r = atomic_load(&sl->retired_ms);
            if (r != 0 && r != METRICS_RECLAIMING)
                atomic_compare_exchange_strong(&sl->retired_ms, &r, 0);
            return sl;
        }
        if (claim && reuse == NULL && metrics_reclaimable(s, sl))
            reuse = sl;
    }
    if (reuse != NULL && metrics_reclaim(s, reuse, function, h))
        return reuse;
    return claim ? &s->slot[n] : NULL;
}

static metrics_slot *metrics_slot_for(metrics_t *m, const char *function)
{
    return metrics_find(m, function, true);
}

void metrics_retire(metrics_t *m, const char *function)
{
    metrics_slot *sl = metrics_find(m, function, false);
    uint64_t zero = 0;
    if (sl != NULL)
        atomic_compare_exchange_strong(&sl->retired_ms, &zero, (uint64_t)clock_mono_ms() | 1);
}

static metrics_active *metrics_active_at(metrics_t *m, int row, int thread)
{
    if (row < 0 || thread < 0 || (uint32_t)row >= m->seg->rows ||
        (uint32_t)thread >= m->seg->threads)
        return NULL;
    return &m->active[(size_t)row * m->seg->threads + (size_t)thread];
}

void metrics_begin(metrics_t *m, int row, int thread, const char *function)
{
    metrics_slot *sl = metrics_slot_for(m, function);
    metrics_active *a = metrics_active_at(m, row, thread);
    atomic_fetch_add(&sl->in_flight, 1);
    if (a != NULL) {
        atomic_store(&a->start_ms, (uint64_t)clock_mono_ms());
        atomic_store(&a->slot, (uint32_t)(sl - m->seg->slot) + 1);
    }
}

void metrics_end(metrics_t *m, int row, int thread)
{
    metrics_active *a = metrics_active_at(m, row, thread);
    uint32_t s = a ? atomic_exchange(&a->slot, 0) : 0;
    if (s > 0)
        atomic_fetch_sub(&m->seg->slot[s - 1].in_flight, 1);
}

/* Count one ended invocation in slot `sl`. */
static void metrics_count(metrics_slot *sl, metrics_status status, double ms)
{
    atomic_fetch_add(&sl->by_status[status], 1);
    if (status == METRICS_REJECTED)
        return;
    atomic_fetch_add(&sl->total, 1);
    /* Clamp: a NaN or huge value must not become undefined behaviour. */
    if (!(ms >= 0))
        ms = 0;
    if (ms > 1e12)
        ms = 1e12;
    int b = METRICS_BUCKETS; /* +Inf */
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (ms <= 10.0 + 100.0 * i) {
            b = i;
            break;
        }
    }
    atomic_fetch_add(&sl->buckets[b], 1);
    atomic_fetch_add(&sl->sum_us, (uint64_t)(ms * 1000.0));
}

void metrics_reset_row(metrics_t *m, int row)
{
    for (uint32_t t = 0; t < m->seg->threads; t++) {
        metrics_active *a = metrics_active_at(m, row, (int)t);
        uint32_t s = a ? atomic_exchange(&a->slot, 0) : 0;
        if (s == 0)
            continue;
        metrics_slot *sl = &m->seg->slot[s - 1];
        atomic_fetch_sub(&sl->in_flight, 1);
        metrics_count(sl, METRICS_ERROR,
                      (double)(clock_mono_ms() - (long long)atomic_load(&a->start_ms)));
    }
}

void metrics_observe(metrics_t *m, const char *function, metrics_status status, double ms)
{
    metrics_count(metrics_slot_for(m, function), status, ms);
}

void metrics_start(metrics_t *m, const char *function, metrics_start_kind start)
{
    atomic_fetch_add(&metrics_slot_for(m, function)->starts[start], 1);
}

void metrics_set_warm(metrics_t *m, const char *function, long n)
{
    /* Zero never claims a slot: a deleted function's stays retired. */
    metrics_slot *sl = metrics_find(m, function, n > 0);
    if (sl != NULL)
        atomic_store(&sl->warm, (int64_t)n);
}

void metrics_set_routes(const char *const *names, int count)
{
    metrics_route_names = names;
    metrics_route_count = count < METRICS_ROUTES ? count : METRICS_ROUTES;
}

void metrics_http(metrics_t *m, int route, int code)
{
    size_t c = METRICS_CODES - 1;
    for (size_t i = 0; i + 1 < METRICS_CODES; i++) {
        if (metrics_codes[i] == code) {
            c = i;
            break;
        }
    }
    if (route < 0 || route >= METRICS_ROUTES)
        route = 0;
    atomic_fetch_add(&m->seg->http[route][c], 1);
}

void metrics_image_upload(metrics_t *m, int ok, unsigned long long bytes)
{
    atomic_fetch_add(&m->seg->uploads[ok ? 1 : 0], 1);
    atomic_fetch_add(&m->seg->upload_bytes, bytes);
}

void metrics_storage(metrics_t *m, metrics_storage_event ev, unsigned long long n)
{
    if (m != NULL && ev >= 0 && ev < METRICS_STORAGE__COUNT && n > 0)
        atomic_fetch_add(&m->seg->storage[ev], n);
}

int metrics_escape(buf_t *out, const char *s)
{
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if ((rep ? buf_puts(out, rep) : buf_append(out, s, 1)) != BUF_OK)
            return -1;
    }
    return 0;
}

/* A snapshot of one slot, read once so a scrape is self-consistent enough. */
typedef struct {
    const char *name;
    uint64_t total, by_status[METRICS_STATUS__COUNT], buckets[METRICS_BUCKETS + 1], sum_us;
    int64_t in_flight;
    uint64_t starts[METRICS_START__COUNT];
    int64_t warm;
} metrics_snap;

static const char *const metrics_start_names[] = {"cold", "warm", "reused"};

static const char *const metrics_status_names[] = {"succeeded", "failed", "timeout",
                                                   "rejected",  "error",  "cancelled"};

static int metrics_label(buf_t *out, const char *series, const char *fname, const char *extra)
{
    if (buf_printf(out, "%s{function=\"", series) != BUF_OK || metrics_escape(out, fname) != 0)
        return -1;
    return buf_printf(out, "\"%s}", extra ? extra : "") == BUF_OK ? 0 : -1;
}

/* Snapshot every claimed slot into `snap` (room for all); returns how many
 * to show. The overflow slot shows only once something counted there. */
static uint32_t metrics_snapshot(metrics_t *m, metrics_snap *snap)
{
    metrics_seg *s = m->seg;
    uint32_t n = s->slots + 1, used = 0;
    for (uint32_t i = 0; i < n; i++) {
        metrics_slot *sl = &s->slot[i];
        if (!atomic_load(&sl->ready))
            continue;
        metrics_snap *p = &snap[used];
        p->name = sl->name;
        p->total = atomic_load(&sl->total);
        for (int k = 0; k < METRICS_STATUS__COUNT; k++)
            p->by_status[k] = atomic_load(&sl->by_status[k]);
        p->in_flight = atomic_load(&sl->in_flight);
        for (int k = 0; k <= METRICS_BUCKETS; k++)
            p->buckets[k] = atomic_load(&sl->buckets[k]);
        p->sum_us = atomic_load(&sl->sum_us);
        for (int k = 0; k < METRICS_START__COUNT; k++)
            p->starts[k] = atomic_load(&sl->starts[k]);
        p->warm = atomic_load(&sl->warm);
        if (i == n - 1 && p->total == 0 && p->by_status[METRICS_REJECTED] == 0 && p->in_flight == 0)
            continue;
        used++;
    }
    return used;
}

#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (buf_printf(out, __VA_ARGS__) != BUF_OK)                                                \
            return -1;                                                                             \
    } while (0)
#define LABEL(series, fname, extra)                                                                \
    do {                                                                                           \
        if (metrics_label(out, series, fname, extra) != 0)                                         \
            return -1;                                                                             \
    } while (0)

/* Total_Invocations and the Invocation_Duration_ms histogram. */
static int metrics_render_invocations(const metrics_snap *snap, uint32_t used, buf_t *out)
{
    OUT("# HELP Total_Invocations Invocations that ran, by function.\n"
        "# TYPE Total_Invocations counter\n");
    for (uint32_t i = 0; i < used; i++) {
        LABEL("Total_Invocations", snap[i].name, NULL);
        OUT(" %llu\n", (unsigned long long)snap[i].total);
    }
    OUT("# HELP Invocation_Duration_ms Invocation wall time in milliseconds.\n"
        "# TYPE Invocation_Duration_ms histogram\n");
    for (uint32_t i = 0; i < used; i++) {
        uint64_t cum = 0;
        char le[48];
        for (int k = 0; k <= METRICS_BUCKETS; k++) {
            cum += snap[i].buckets[k];
            if (k < METRICS_BUCKETS)
                snprintf(le, sizeof(le), ",le=\"%d\"", 10 + 100 * k);
            else
                snprintf(le, sizeof(le), ",le=\"+Inf\"");
            LABEL("Invocation_Duration_ms_bucket", snap[i].name, le);
            OUT(" %llu\n", (unsigned long long)cum);
        }
        LABEL("Invocation_Duration_ms_sum", snap[i].name, NULL);
        OUT(" %.3f\n", (double)snap[i].sum_us / 1000.0);
        LABEL("Invocation_Duration_ms_count", snap[i].name, NULL);
        OUT(" %llu\n", (unsigned long long)cum);
    }
    return 0;
}

/* One function's counter `series`, one line per value of label `label`
 * (names[k] with values[k]). 0, or -1 when `out` is full. */
static int metrics_render_by(buf_t *out, const char *series, const char *fname, const char *label,
                             const char *const *names, const uint64_t *values, int n)
{
    for (int k = 0; k < n; k++) {
        char extra[64];
        snprintf(extra, sizeof(extra), ",%s=\"%s\"", label, names[k]);
        LABEL(series, fname, extra);
        OUT(" %llu\n", (unsigned long long)values[k]);
    }
    return 0;
}

/* minilambda_invocations_total, minilambda_invocations_in_flight,
 * minilambda_starts_total and minilambda_warm_containers. */
static int metrics_render_outcomes(const metrics_snap *snap, uint32_t used, buf_t *out)
{
    OUT("# HELP minilambda_invocations_total Invocations by function and outcome.\n"
        "# TYPE minilambda_invocations_total counter\n");
    for (uint32_t i = 0; i < used; i++)
        if (metrics_render_by(out, "minilambda_invocations_total", snap[i].name, "status",
                              metrics_status_names, snap[i].by_status, METRICS_STATUS__COUNT) != 0)
            return -1;
    OUT("# HELP minilambda_invocations_in_flight Invocations running now.\n"
        "# TYPE minilambda_invocations_in_flight gauge\n");
    for (uint32_t i = 0; i < used; i++) {
        LABEL("minilambda_invocations_in_flight", snap[i].name, NULL);
        OUT(" %lld\n", (long long)snap[i].in_flight);
    }
    OUT("# HELP minilambda_starts_total Runs by how their container started: cold (created "
        "for the call), warm (prestarted), reused (served an earlier call).\n"
        "# TYPE minilambda_starts_total counter\n");
    for (uint32_t i = 0; i < used; i++)
        if (metrics_render_by(out, "minilambda_starts_total", snap[i].name, "start",
                              metrics_start_names, snap[i].starts, METRICS_START__COUNT) != 0)
            return -1;
    OUT("# HELP minilambda_warm_containers Warm containers ready for the function now.\n"
        "# TYPE minilambda_warm_containers gauge\n");
    for (uint32_t i = 0; i < used; i++) {
        LABEL("minilambda_warm_containers", snap[i].name, NULL);
        OUT(" %lld\n", (long long)snap[i].warm);
    }
    return 0;
}

/* The series that add up every function's traffic. */
static int metrics_render_traffic(metrics_seg *s, const metrics_gauges *g, buf_t *out)
{
    OUT("# HELP minilambda_async_queue_depth Async invocations waiting to run.\n"
        "# TYPE minilambda_async_queue_depth gauge\n"
        "minilambda_async_queue_depth %ld\n",
        g->queue_depth);
    OUT("# HELP minilambda_http_requests_total HTTP responses by route template and code.\n"
        "# TYPE minilambda_http_requests_total counter\n");
    for (int r = 0; r < metrics_route_count; r++) {
        for (size_t c = 0; c < METRICS_CODES; c++) {
            uint64_t v = atomic_load(&s->http[r][c]);
            if (v == 0)
                continue;
            char code[16];
            if (metrics_codes[c] == 0)
                snprintf(code, sizeof(code), "other");
            else
                snprintf(code, sizeof(code), "%d", metrics_codes[c]);
            OUT("minilambda_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                metrics_route_names[r], code, (unsigned long long)v);
        }
    }
    OUT("# HELP minilambda_image_uploads_total Image uploads by outcome.\n"
        "# TYPE minilambda_image_uploads_total counter\n"
        "minilambda_image_uploads_total{status=\"succeeded\"} %llu\n"
        "minilambda_image_uploads_total{status=\"failed\"} %llu\n"
        "# HELP minilambda_image_upload_bytes_total Bytes of image tar received.\n"
        "# TYPE minilambda_image_upload_bytes_total counter\n"
        "minilambda_image_upload_bytes_total %llu\n",
        (unsigned long long)atomic_load(&s->uploads[1]),
        (unsigned long long)atomic_load(&s->uploads[0]),
        (unsigned long long)atomic_load(&s->upload_bytes));
    OUT("# HELP minilambda_records_not_kept_total Sync calls answered whose record could not be "
        "written (a full disk): their answer said X-Record-Kept: false.\n"
        "# TYPE minilambda_records_not_kept_total counter\n"
        "minilambda_records_not_kept_total %llu\n"
        "# HELP minilambda_records_torn_total Torn tails (a write cut short) that writers padded "
        "past before appending, by file.\n"
        "# TYPE minilambda_records_torn_total counter\n"
        "minilambda_records_torn_total{file=\"log\"} %llu\n"
        "minilambda_records_torn_total{file=\"index\"} %llu\n"
        "minilambda_records_torn_total{file=\"ids\"} %llu\n"
        "# HELP minilambda_records_skipped_lines_total Lines that reads of sync records skipped as "
        "no record (torn, padded or voided), counted at each read.\n"
        "# TYPE minilambda_records_skipped_lines_total counter\n"
        "minilambda_records_skipped_lines_total %llu\n"
        "# HELP minilambda_async_corrupt_total Async runs found damaged when claimed: ended FAILED "
        "record_corrupt, their files quarantined.\n"
        "# TYPE minilambda_async_corrupt_total counter\n"
        "minilambda_async_corrupt_total %llu\n",
        (unsigned long long)atomic_load(&s->storage[METRICS_RECORD_NOT_KEPT]),
        (unsigned long long)atomic_load(&s->storage[METRICS_RECORD_TORN_LOG]),
        (unsigned long long)atomic_load(&s->storage[METRICS_RECORD_TORN_INDEX]),
        (unsigned long long)atomic_load(&s->storage[METRICS_RECORD_TORN_IDS]),
        (unsigned long long)atomic_load(&s->storage[METRICS_RECORD_SKIPPED]),
        (unsigned long long)atomic_load(&s->storage[METRICS_ASYNC_CORRUPT]));
    return 0;
}

/* The series that are not per function; for a filtered reader only those
 * that say nothing of other functions' traffic. */
static int metrics_render_platform(metrics_seg *s, const metrics_gauges *g, buf_t *out)
{
    if (g->functions >= 0)
        OUT("# HELP minilambda_functions Registered functions.\n"
            "# TYPE minilambda_functions gauge\n"
            "minilambda_functions %ld\n",
            g->functions);
    if (g->nup > 0)
        OUT("# HELP minilambda_up Whether each part the platform needs works (1) or not (0), as "
            "/healthz reports it.\n"
            "# TYPE minilambda_up gauge\n");
    for (int i = 0; i < g->nup; i++)
        OUT("minilambda_up{component=\"%s\"} %d\n", g->up_name[i], g->up[i] ? 1 : 0);
    if (g->keep == NULL && metrics_render_traffic(s, g, out) != 0)
        return -1;
    OUT("# HELP process_start_time_seconds Start time of the pool since the Unix epoch.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds %llu\n",
        (unsigned long long)s->start_time);
    return 0;
}

#undef OUT
#undef LABEL

int metrics_render(metrics_t *m, const metrics_gauges *g, buf_t *out)
{
    metrics_snap *snap = calloc(m->seg->slots + 1, sizeof(*snap));
    if (snap == NULL)
        return -1;
    uint32_t used = metrics_snapshot(m, snap), kept = 0;
    for (uint32_t i = 0; i < used; i++)
        if (g->keep == NULL || g->keep(snap[i].name, g->keep_arg))
            snap[kept++] = snap[i];
    used = kept;
    int rc = metrics_render_invocations(snap, used, out) == 0 &&
                     metrics_render_outcomes(snap, used, out) == 0 &&
                     metrics_render_platform(m->seg, g, out) == 0
                 ? 0
                 : -1;
    free(snap);
    return rc;
}
