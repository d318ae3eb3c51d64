#include "history/async.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/files.h"
#include "base/log.h"
#include "run/invoke.h"
#include "state/func.h"
#include "state/status.h"

#define ASYNC_META_MAX (64u * 1024)
#define ASYNC_EVENT_MAX (8u * 1024 * 1024)
/* Output is stored as JSON, where each control byte takes six: room for
 * the worst case of both capped streams. */
#define ASYNC_RESULT_MAX (6u * (RUNTIME_STDOUT_MAX + RUNTIME_STDERR_MAX) + 65536)
#define ASYNC_PATH (CONFIG_PATH_MAX + 200)

/* Queue depth counted again at most this often, unless close to the
 * bound, where every accept counts exactly. */
#define ASYNC_DEPTH_TTL_MS 1000
#define ASYNC_DEPTH_MARGIN 1000
/* The retention prunes at most one in this many records per pass (at
 * least one). */
#define ASYNC_PRUNE_SHARE 4
/* queue.lock's content: "<depth> <wall ms when counted>\n", fixed width. */
#define ASYNC_DEPTH_LEN 42

struct async {
    /* The function whose run was claimed last by this process: claims go
     * round the functions with due runs, so one function's flood cannot
     * keep the others waiting. */
    char last_function[RUNTIME_ID_LEN];
    char root[CONFIG_PATH_MAX + 16];
    char records[CONFIG_PATH_MAX + 32];
    char queue[CONFIG_PATH_MAX + 32];
    char running[CONFIG_PATH_MAX + 32];
    char quarantine[CONFIG_PATH_MAX + 32];
    char lock[CONFIG_PATH_MAX + 32];
    metrics_t *metrics; /* borrowed; NULL: nothing counted */
    /* Its flock serializes admissions with their markers' creation, in
     * every process; it holds the queue depth they share. */
    char qlock[CONFIG_PATH_MAX + 32];
};

static const int async_json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

async_t *async_open(const char *data_dir, err_t *e)
{
    async_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    snprintf(a->root, sizeof(a->root), "%s/async", data_dir);
    snprintf(a->records, sizeof(a->records), "%s/records", a->root);
    snprintf(a->queue, sizeof(a->queue), "%s/queue", a->root);
    snprintf(a->running, sizeof(a->running), "%s/running", a->root);
    snprintf(a->quarantine, sizeof(a->quarantine), "%s/quarantine", a->root);
    snprintf(a->lock, sizeof(a->lock), "%s/records.lock", a->root);
    snprintf(a->qlock, sizeof(a->qlock), "%s/queue.lock", a->root);
    if (files_mkdir(data_dir, e) != 0 || files_mkdir(a->root, e) != 0 ||
        files_mkdir(a->records, e) != 0 || files_mkdir(a->queue, e) != 0 ||
        files_mkdir(a->running, e) != 0 || files_mkdir(a->quarantine, e) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

void async_set_metrics(async_t *a, metrics_t *m)
{
    a->metrics = m;
}

void async_close(async_t *a)
{
    if (a == NULL)
        return;
    free(a);
}

int async_sweep_tmp(async_t *a, err_t *e)
{
    return files_sweep_tmp(a->records, e);
}

const char *async_queue_dir(const async_t *a)
{
    return a->queue;
}

/* records/<id><ext> into `out`. */
static void async_path(const async_t *a, const char *id, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/%s%s", a->records, id, ext);
}

/* The files of one record: its metadata first. */
static const char *const async_files[] = {".json", ".event", ".result"};
#define ASYNC_FILES (sizeof(async_files) / sizeof(async_files[0]))

/* Whether directory entry `name` is a record's metadata ("<id>.json"); its
 * id into `id` (RUNTIME_ID_LEN bytes) when it is. */
static bool async_record_name(const char *name, char *id)
{
    size_t n = strlen(name);
    if (n != RUNTIME_ID_LEN - 1 + 5 || strcmp(name + n - 5, ".json") != 0)
        return false;
    snprintf(id, RUNTIME_ID_LEN, "%.*s", (int)(n - 5), name);
    return true;
}

/* Delete record `id`, its metadata first (so no listing shows half of it). */
static void async_unlink(const async_t *a, const char *id)
{
    char path[ASYNC_PATH];
    for (size_t i = 0; i < ASYNC_FILES; i++) {
        async_path(a, id, async_files[i], path, sizeof(path));
        unlink(path);
    }
}

/* records/<id><ext> parsed as a JSON object (at most `max` bytes); NULL when
 * absent or unreadable. */
static json_object *async_load_json(async_t *a, const char *id, const char *ext, size_t max)
{
    char path[ASYNC_PATH];
    buf_t b;
    err_t e;
    json_object *o = NULL;
    buf_init(&b, max);
    async_path(a, id, ext, path, sizeof(path));
    if (files_read(path, &b, &e) == 0 && b.len > 0)
        o = json_tokener_parse(b.data);
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    buf_free(&b);
    return o;
}

/* String field `key` of invocation record `rec`, or "" (borrowed). */
static const char *async_str(json_object *rec, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "";
}

/* Integer field `key` of invocation record `rec`, or 0. */
static long long async_int(json_object *rec, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(rec, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

/* The metadata of `id`; NULL when absent or unreadable. */
static json_object *async_load(async_t *a, const char *id)
{
    return async_load_json(a, id, ".json", ASYNC_META_MAX);
}

static int async_store(async_t *a, json_object *rec, err_t *e)
{
    char path[ASYNC_PATH];
    size_t len;
    const char *text = json_object_to_json_string_length(rec, async_json_flags, &len);
    async_path(a, async_str(rec, "id"), ".json", path, sizeof(path));
    return files_write(path, text, len, FILES_SYNC_DIR, e);
}

/* The status of `rec`, or -1 when it has none we know. */
static int async_status_of(json_object *rec)
{
    json_object *v;
    status_record s;
    if (!json_object_object_get_ex(rec, "status", &v) ||
        status_record_parse(json_object_get_string(v), &s) != 0)
        return -1;
    return (int)s;
}

static void async_set_str(json_object *rec, const char *key, const char *value)
{
    json_object_object_add(rec, key, value ? json_object_new_string(value) : NULL);
}

static void async_set_status(json_object *rec, status_record s)
{
    async_set_str(rec, "status", status_record_name(s));
}

/* Set completed_at to now. */
static void async_set_done(json_object *rec)
{
    char now[CLOCK_RFC3339_LEN];
    clock_pool_now(now, sizeof(now));
    async_set_str(rec, "completed_at", now);
}

/* Markers are named <due>-<function id>-<id> (in running/, with the
 * executor in front); the run's id is always the last RUNTIME_ID_LEN - 1
 * bytes. `name` into its id (borrowed), or NULL when it is too short. */
static const char *async_marker_id(const char *name)
{
    size_t len = strlen(name);
    return len >= RUNTIME_ID_LEN ? name + len - (RUNTIME_ID_LEN - 1) : NULL;
}

/* Create the queue marker for run `id` of function `fid` due at `due_ms`,
 * not yet synced. */
static int async_marker(async_t *a, const char *id, const char *fid, long long due_ms, err_t *e)
{
    char path[ASYNC_PATH];
    snprintf(path, sizeof(path), "%s/%013lld-%s-%s", a->queue, due_ms, fid, id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_sys(e, errno, "open", path);
    close(fd);
    return 0;
}

/* Create the queue marker for run `id` of function `fid` due at `due_ms`. */
static int async_enqueue(async_t *a, const char *id, const char *fid, long long due_ms, err_t *e)
{
    if (async_marker(a, id, fid, due_ms, e) != 0)
        return -1;
    return files_sync_dir(a->queue, e);
}

/*
 * Under queue.lock (`lfd`): whether one more run fits under `max` queued,
 * counting it (`reserve`) when it does. The depth all processes share is
 * in the lock file: a count of queue/ plus the admissions since. It can only
 * be too high (claims take markers away uncounted), and it is counted anew
 * when old, or when within ASYNC_DEPTH_MARGIN of the bound, where every
 * admission counts queue/ exactly. 0, or -1 with `e` (queue_full past the
 * bound).
 */
static int async_admit(async_t *a, int lfd, long long max, bool reserve, err_t *e)
{
    char text[ASYNC_DEPTH_LEN + 1], *end;
    long long depth = -1, counted = 0, now = clock_pool_ms();
    ssize_t got = pread(lfd, text, ASYNC_DEPTH_LEN, 0);
    if (got == ASYNC_DEPTH_LEN) {
        text[got] = '\0';
        errno = 0;
        depth = strtoll(text, &end, 10);
        if (errno == 0 && *end == ' ')
            counted = strtoll(end + 1, &end, 10);
        if (errno != 0 || *end != '\n')
            depth = -1;
    }
    if (depth < 0 || now - counted > ASYNC_DEPTH_TTL_MS || now < counted ||
        depth + ASYNC_DEPTH_MARGIN >= max) {
        long n = async_queue_depth(a);
        if (n < 0)
            return err_sys(e, errno, "opendir", a->queue);
        depth = n;
        counted = now;
    }
    if (depth >= max)
        return err_set(e, ERR_LIMIT, "queue_full", 0,
                       "the async queue holds %lld invocations, its limit "
                       "(MINILAMBDA_ASYNC_MAX_PENDING); try again later",
                       depth);
    if (reserve)
        depth++;
    int n = snprintf(text, sizeof(text), "%020lld %020lld\n", depth, counted);
    errno = 0;
    if (n != ASYNC_DEPTH_LEN || pwrite(lfd, text, ASYNC_DEPTH_LEN, 0) != ASYNC_DEPTH_LEN)
        return err_sys(e, errno ? errno : EIO, "pwrite", a->qlock);
    return 0;
}

/* Admit run `id` of function `fid` under `max` queued (0: no bound) and
 * queue it, both under queue.lock so that no admission counts before
 * another's marker is there; `check_only` admits without queueing. */
static int async_enqueue_capped(async_t *a, const char *id, const char *fid, long long max,
                                bool check_only, err_t *e)
{
    if (max <= 0)
        return check_only ? 0 : async_enqueue(a, id, fid, clock_pool_ms(), e);
    int lfd = files_lock(a->qlock, e);
    if (lfd < 0)
        return -1;
    int rc = async_admit(a, lfd, max, !check_only, e);
    if (rc == 0 && !check_only)
        rc = async_marker(a, id, fid, clock_pool_ms(), e);
    files_unlock(lfd);
    if (rc != 0 || check_only)
        return rc;
    return files_sync_dir(a->queue, e);
}

/* The SHA-256 of `len` bytes at `data` in hex into `out` (65 bytes). 0,
 * or -1. */
static int async_sha256(const void *data, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* A new PENDING record of `function`, started by key `creator` (or NULL). */
static json_object *async_new_record(const func_t *function, const char *id, int timeout_s,
                                     const char *creator)
{
    char now[CLOCK_RFC3339_LEN];
    json_object *rec = json_object_new_object();
    clock_pool_now(now, sizeof(now));
    async_set_str(rec, "id", id);
    async_set_str(rec, "function_id", function->id);
    async_set_str(rec, "function_name", function->name);
    async_set_status(rec, STATUS_REC_PENDING);
    async_set_str(rec, "created_at", now);
    async_set_str(rec, "started_at", NULL);
    async_set_str(rec, "completed_at", NULL);
    json_object_object_add(rec, "attempts", json_object_new_int(0));
    json_object_object_add(rec, "max_attempts", json_object_new_int(function->retries + 1));
    json_object_object_add(rec, "timeout", json_object_new_int(timeout_s));
    async_set_str(rec, "error", NULL);
    async_set_str(rec, "start", NULL);
    async_set_str(rec, "created_by", creator);
    return rec;
}

/* Whether run `id` has a marker in running/ (claimed). */
static bool async_claimed(async_t *a, const char *id)
{
    DIR *d = opendir(a->running);
    bool found = false;
    if (d == NULL)
        return true; /* unsure: never queue a second marker */
    struct dirent *ent;
    while (!found && (ent = readdir(d)) != NULL) {
        const char *mid = async_marker_id(ent->d_name);
        found = mid != NULL && strcmp(mid, id) == 0;
    }
    closedir(d);
    return found;
}

static int async_queued(async_t *a, const char *id, bool remove);

/*
 * Find the run `id` an acceptance made before: 1 with `*out` (the caller
 * owns it), 0 when there is none, -1 with `e`. One still PENDING with no
 * marker in queue/ or running/ lost it when its acceptance died between
 * the record and the marker: it is queued now. Under the records lock,
 * which an executor takes to mark its claim RUNNING, so the marker of a
 * claimed run that is still PENDING is in running/.
 */
static int async_accepted(async_t *a, const char *id, json_object **out, err_t *e)
{
    int lfd = files_lock(a->lock, e);
    if (lfd < 0)
        return -1;
    *out = async_load(a, id);
    if (*out != NULL && async_status_of(*out) == STATUS_REC_PENDING &&
        async_queued(a, id, false) == 0 && !async_claimed(a, id) &&
        async_enqueue(a, id, async_str(*out, "function_id"), clock_pool_ms(), e) != 0)
        log_error("async requeue of %s: %s", id, e->msg);
    files_unlock(lfd);
    return *out != NULL;
}

int async_accept(async_t *a, const func_t *function, const char *event, size_t len, int timeout_s,
                 long long max_pending, const char *creator, const char *want, json_object **out,
                 err_t *e)
{
    uuid_t u;
    char id[RUNTIME_ID_LEN], path[ASYNC_PATH];

    *out = NULL;
    if (want != NULL && !func_is_id(want))
        return err_set(e, ERR_INTERNAL, NULL, 0, "\"%.64s\" is not an invocation id", want);
    int found = want != NULL ? async_accepted(a, want, out, e) : 0;
    if (found != 0)
        return found > 0 ? 0 : -1;
    /* A full queue refuses before anything is written; the admission that
     * counts is the one with the marker, below. */
    const char *fid = function->id;
    if (async_enqueue_capped(a, NULL, fid, max_pending, true, e) != 0)
        return -1;
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    if (want != NULL)
        snprintf(id, sizeof(id), "%s", want);
    json_object *rec = async_new_record(function, id, timeout_s, creator);
    /* What the event must be when it is claimed: a damaged one never runs. */
    char sum[65];
    if (async_sha256(event, len, sum) != 0) {
        json_object_put(rec);
        return err_set(e, ERR_INTERNAL, NULL, 0, "EVP_Digest(sha256) failed");
    }
    json_object_object_add(rec, "event_bytes", json_object_new_int64((int64_t)len));
    async_set_str(rec, "event_sha256", sum);

    /* Event and record first (one directory sync covers both), marker last:
     * a marker always has a record. */
    async_path(a, id, ".event", path, sizeof(path));
    if (files_write(path, event, len, 0, e) != 0 || async_store(a, rec, e) != 0 ||
        async_enqueue_capped(a, id, fid, max_pending, false, e) != 0) {
        /* The client is told it failed: leave no record that never runs. */
        unlink(path);
        async_path(a, id, ".json", path, sizeof(path));
        unlink(path);
        json_object_put(rec);
        return e->kind == ERR_LIMIT ? -1 : err_prefix(e, "the invocation could not be recorded");
    }
    *out = rec;
    return 0;
}

static int async_not_found(const char *id, err_t *e)
{
    return err_set(e, ERR_NOT_FOUND, NULL, 0, "invocation \"%.64s\" not found", id);
}

int async_get(async_t *a, const char *id, json_object **out, err_t *e)
{
    *out = NULL;
    /* Ids are lowercase UUIDs: anything else can never name a file of ours. */
    json_object *rec = func_is_id(id) ? async_load(a, id) : NULL;
    if (rec == NULL)
        return async_not_found(id, e);
    json_object_object_add(rec, "result", async_load_json(a, id, ".result", ASYNC_RESULT_MAX));
    *out = rec;
    return 0;
}

static int async_cmp_created_desc(const void *x, const void *y)
{
    json_object *const *a = x, *const *b = y;
    int c = strcmp(async_str(*b, "created_at"), async_str(*a, "created_at"));
    if (c != 0)
        return c;
    return strcmp(async_str(*b, "id"), async_str(*a, "id"));
}

/* Whether `rec` passes the list filters. */
static bool async_matches(json_object *rec, const char *function, int status,
                          bool (*keep)(json_object *rec, void *arg), void *arg)
{
    if (function != NULL && strcmp(function, async_str(rec, "function_id")) != 0 &&
        strcmp(function, async_str(rec, "function_name")) != 0)
        return false;
    if (status >= 0 && async_status_of(rec) != status)
        return false;
    return keep == NULL || keep(rec, arg);
}

int async_list(async_t *a, const char *function, const char *status,
               bool (*keep)(json_object *rec, void *arg), void *arg, int limit, json_object **out,
               err_t *e)
{
    status_record want = STATUS_REC_PENDING;
    *out = NULL;
    /* A status no record can have lists nothing. */
    if (status != NULL && status_record_parse(status, &want) != 0) {
        *out = json_object_new_array();
        return 0;
    }
    DIR *d = opendir(a->records);
    if (d == NULL)
        return err_sys(e, errno, "opendir", a->records);
    json_object *all = json_object_new_array();
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char id[RUNTIME_ID_LEN];
        if (!async_record_name(ent->d_name, id))
            continue;
        json_object *rec = async_load(a, id);
        if (rec != NULL && async_matches(rec, function, status ? (int)want : -1, keep, arg))
            json_object_array_add(all, rec);
        else
            json_object_put(rec);
    }
    closedir(d);
    json_object_array_sort(all, async_cmp_created_desc);
    json_object *page = json_object_new_array();
    size_t total = json_object_array_length(all);
    for (size_t i = 0; i < total && (int)i < limit; i++)
        json_object_array_add(page, json_object_get(json_object_array_get_idx(all, i)));
    json_object_put(all);
    *out = page;
    return 0;
}

/* Whether `id` has a marker in queue/; with `remove`, remove it. 1 found
 * (and removed), 0 not queued, -1 error. */
static int async_queued(async_t *a, const char *id, bool remove)
{
    DIR *d = opendir(a->queue);
    int found = 0;
    if (d == NULL)
        return -1;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        const char *mid = async_marker_id(ent->d_name);
        if (mid == NULL || strcmp(mid, id) != 0)
            continue;
        char path[ASYNC_PATH];
        snprintf(path, sizeof(path), "%s/%.100s", a->queue, ent->d_name);
        if (!remove || unlink(path) == 0)
            found = 1;
    }
    closedir(d);
    return found;
}

int async_cancel(async_t *a, const char *id, json_object **out, bool *running, err_t *e)
{
    int rc = -1;
    json_object *rec = NULL;
    *out = NULL;
    *running = false;
    if (!func_is_id(id))
        return async_not_found(id, e);
    int lfd = files_lock(a->lock, e);
    if (lfd < 0)
        return -1;
    rec = async_load(a, id);
    if (rec == NULL) {
        async_not_found(id, e);
        goto done;
    }
    int st = async_status_of(rec);
    if (st >= 0 && status_record_finished((status_record)st)) {
        err_set(e, ERR_CONFLICT, "already_finished", 0,
                "invocation %.64s has already finished (%.20s)", id, async_str(rec, "status"));
        goto done;
    }
    *running = st == STATUS_REC_RUNNING;
    /* A PENDING run's marker goes; if an executor claimed it already, it
     * sees CANCELLED under this lock and drops it. */
    async_queued(a, id, true);
    async_set_status(rec, STATUS_REC_CANCELLED);
    async_set_done(rec);
    async_set_str(rec, "error", "cancelled");
    rc = async_store(a, rec, e);
done:
    files_unlock(lfd);
    if (rc == 0)
        *out = rec;
    else
        json_object_put(rec);
    return rc;
}

long async_queue_depth(async_t *a)
{
    DIR *d = opendir(a->queue);
    long n = 0;
    if (d == NULL)
        return -1;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL)
        if (ent->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

bool async_is_cancelled(async_t *a, const char *id)
{
    json_object *rec = async_load(a, id);
    bool c = rec != NULL && async_status_of(rec) == STATUS_REC_CANCELLED;
    json_object_put(rec);
    return c;
}

/* The function id of marker `name` into `out` ("" for markers written
 * before markers named it). */
static void async_marker_function(const char *name, char *out, size_t outlen)
{
    const char *dash = strchr(name, '-');
    size_t len = dash ? strlen(dash + 1) : 0;
    if (len > RUNTIME_ID_LEN)
        snprintf(out, outlen, "%.*s", (int)(len - RUNTIME_ID_LEN), dash + 1);
    else
        out[0] = '\0';
}

/*
 * The next due marker in queue/ into `out`: round the functions that have
 * due runs, the one after the function claimed last (in id order), and of
 * that function the oldest run. 1 found, 0 none due (`*next_due_ms` is the
 * earliest future due time or -1), -1 with `e`.
 */
static int async_next(async_t *a, char *out, size_t outlen, long long *next_due_ms, err_t *e)
{
    DIR *d = opendir(a->queue);
    long long now = clock_pool_ms();
    char after[RUNTIME_ID_LEN] = "", first[RUNTIME_ID_LEN] = "", fid[RUNTIME_ID_LEN];
    char first_name[128] = "";
    bool have_after = false, have_first = false;
    *next_due_ms = -1;
    if (d == NULL)
        return err_sys(e, errno, "opendir", a->queue);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char *end;
        if (ent->d_name[0] == '.' || async_marker_id(ent->d_name) == NULL)
            continue;
        long long due = strtoll(ent->d_name, &end, 10);
        if (*end != '-')
            continue;
        if (due > now) {
            if (*next_due_ms < 0 || due < *next_due_ms)
                *next_due_ms = due;
            continue;
        }
        async_marker_function(ent->d_name, fid, sizeof(fid));
        /* The smallest function after the last one, and the smallest of all
         * (to wrap around); within a function the oldest: names sort by due
         * time, zero-padded milliseconds first. */
        if (strcmp(fid, a->last_function) > 0 &&
            (!have_after || strcmp(fid, after) < 0 ||
             (strcmp(fid, after) == 0 && strcmp(ent->d_name, out) < 0))) {
            snprintf(after, sizeof(after), "%s", fid);
            snprintf(out, outlen, "%.100s", ent->d_name);
            have_after = true;
        }
        if (!have_first || strcmp(fid, first) < 0 ||
            (strcmp(fid, first) == 0 && strcmp(ent->d_name, first_name) < 0)) {
            snprintf(first, sizeof(first), "%s", fid);
            snprintf(first_name, sizeof(first_name), "%.100s", ent->d_name);
            have_first = true;
        }
    }
    closedir(d);
    if (!have_after && have_first) {
        snprintf(out, outlen, "%s", first_name);
        snprintf(after, sizeof(after), "%s", first);
    }
    if (have_after || have_first)
        snprintf(a->last_function, sizeof(a->last_function), "%s", after);
    return have_after || have_first;
}

/* Why the run `rec` (NULL: its record does not parse) cannot run with the
 * event read into `ev`, into `why`; false when it can. A record written
 * before events had a length and checksum is taken as it is. */
static bool async_damaged(json_object *rec, const buf_t *ev, bool have_ev, char *why, size_t whylen)
{
    json_object *v;
    char sum[65];
    if (rec == NULL) {
        snprintf(why, whylen, "its record (.json) does not parse");
        return true;
    }
    if (!have_ev) {
        snprintf(why, whylen, "its event (.event) cannot be read");
        return true;
    }
    if (json_object_object_get_ex(rec, "event_bytes", &v) &&
        json_object_get_int64(v) != (int64_t)ev->len) {
        snprintf(why, whylen, "its event is %zu bytes, %lld were accepted", ev->len,
                 (long long)json_object_get_int64(v));
        return true;
    }
    if (json_object_object_get_ex(rec, "event_sha256", &v) &&
        (async_sha256(ev->data ? ev->data : "", ev->len, sum) != 0 ||
         strcmp(sum, json_object_get_string(v)) != 0)) {
        snprintf(why, whylen, "its event does not match the checksum taken when it was accepted");
        return true;
    }
    return false;
}

/*
 * Quarantine run `id` of function `fid` (under the lock): its files are
 * moved under async/quarantine/ as they are, and a FAILED record with code
 * record_corrupt, saying `why` (a sentence), takes their place, so the client that was
 * answered 202 learns what became of it. `old` (NULL when it did not
 * parse) gives what it still knows. 0, or -1 with `e` (the claim must then
 * stay for recovery).
 */
static int async_quarantine(async_t *a, const char *id, const char *fid, json_object *old,
                            const char *why, err_t *e)
{
    char from[ASYNC_PATH], to[ASYNC_PATH], msg[512], now[CLOCK_RFC3339_LEN];
    for (size_t i = 0; i < ASYNC_FILES; i++) {
        async_path(a, id, async_files[i], from, sizeof(from));
        snprintf(to, sizeof(to), "%s/%s%s", a->quarantine, id, async_files[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            return err_sys(e, errno, "rename", from);
    }
    if (files_sync_dir(a->quarantine, e) != 0)
        return -1;
    clock_pool_now(now, sizeof(now));
    json_object *rec = json_object_new_object();
    async_set_str(rec, "id", id);
    async_set_str(rec, "function_id", old ? async_str(old, "function_id") : fid);
    async_set_str(rec, "function_name", old ? async_str(old, "function_name") : NULL);
    async_set_status(rec, STATUS_REC_FAILED);
    async_set_str(rec, "created_at", old ? async_str(old, "created_at") : now);
    async_set_str(rec, "started_at", NULL);
    async_set_str(rec, "completed_at", now);
    static const char *const ints[] = {"attempts", "max_attempts", "timeout"};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        json_object_object_add(
            rec, ints[i],
            json_object_new_int(old ? json_object_get_int(json_object_object_get(old, ints[i]))
                                    : i == 1));
    snprintf(msg, sizeof(msg), "%s; its files are kept in async/quarantine/", why);
    async_set_str(rec, "error", msg);
    async_set_str(rec, "code", "record_corrupt");
    async_set_str(rec, "start", NULL);
    async_set_str(rec, "created_by", old ? async_str(old, "created_by") : NULL);
    int rc = async_store(a, rec, e);
    json_object_put(rec);
    return rc;
}

/*
 * Mark the claimed `job`'s record RUNNING (under the lock) and fill the job
 * from it, its event read and checked against the length and checksum
 * taken at acceptance. 1 when it is ours to run, 0 when it was cancelled,
 * lost or damaged before it ran (the claim should go; a damaged one was
 * quarantined, logged and counted), -1 when its record could not be
 * written.
 */
static int async_start(async_t *a, async_job *job, const char *marker, err_t *e)
{
    char now[CLOCK_RFC3339_LEN], path[ASYNC_PATH], why[160], msg[256], fid[RUNTIME_ID_LEN];
    err_t re;
    int lfd = files_lock(a->lock, e);
    if (lfd < 0)
        return -1;
    int rc = 0;
    json_object *rec = async_load(a, job->id);
    int st = rec ? async_status_of(rec) : -1;
    async_path(a, job->id, ".json", path, sizeof(path));
    bool exists = access(path, F_OK) == 0;
    if (rec == NULL && !exists) {
        /* Nothing of it to run nor to keep: only the marker was left. */
        log_warn("async invocation %s: its queue marker had no record; dropped", job->id);
    } else if (rec == NULL || st == STATUS_REC_PENDING) {
        async_path(a, job->id, ".event", path, sizeof(path));
        bool have_ev = rec != NULL && files_read(path, &job->event, &re) == 0;
        if (rec != NULL && !have_ev && re.sys != ENOENT && re.sys != EFBIG) {
            /* Unreadable for now, not damaged: left for recovery. */
            *e = re;
            rc = -1;
        } else if (async_damaged(rec, &job->event, have_ev, why, sizeof(why))) {
            async_marker_function(marker, fid, sizeof(fid));
            snprintf(msg, sizeof(msg), "the run was damaged on disk and did not run: %s", why);
            rc = async_quarantine(a, job->id, fid, rec, msg, e) == 0 ? 0 : -1;
            if (rc == 0) {
                log_error("async invocation %s: %s; FAILED (record_corrupt), its files moved to "
                          "%s",
                          job->id, why, a->quarantine);
                metrics_storage(a->metrics, METRICS_ASYNC_CORRUPT, 1);
            }
        } else {
            clock_pool_now(now, sizeof(now));
            job->attempt = json_object_get_int(json_object_object_get(rec, "attempts")) + 1;
            job->timeout_s = (int)async_int(rec, "timeout");
            snprintf(job->function_id, sizeof(job->function_id), "%s",
                     async_str(rec, "function_id"));
            json_object_object_add(rec, "attempts", json_object_new_int(job->attempt));
            async_set_status(rec, STATUS_REC_RUNNING);
            async_set_str(rec, "started_at", now);
            rc = async_store(a, rec, e) == 0 ? 1 : -1;
        }
    }
    files_unlock(lfd);
    json_object_put(rec);
    return rc;
}

int async_claim(async_t *a, int executor, async_job *job, long long *next_due_ms, err_t *e)
{
    char name[128], from[ASYNC_PATH], to[ASYNC_PATH];
    memset(job, 0, sizeof(*job));
    buf_init(&job->event, ASYNC_EVENT_MAX);
    for (;;) {
        int f = async_next(a, name, sizeof(name), next_due_ms, e);
        if (f <= 0)
            return f;
        snprintf(job->marker, sizeof(job->marker), "%d-%s", executor, name);
        snprintf(from, sizeof(from), "%s/%s", a->queue, name);
        snprintf(to, sizeof(to), "%s/%s", a->running, job->marker);
        if (rename(from, to) != 0) {
            if (errno == ENOENT)
                continue; /* another executor won it */
            return err_sys(e, errno, "rename", from);
        }
        snprintf(job->id, sizeof(job->id), "%s", async_marker_id(name));
        buf_reset(&job->event);
        int st = async_start(a, job, name, e);
        /* The records' lock held past its wait: nothing was written, so
         * the run goes back to the queue as it was, for a later claim. */
        if (st < 0 && e->kind == ERR_BUSY && rename(to, from) == 0)
            return -1;
        if (st < 0) {
            if (e->kind == ERR_BUSY) {
                /* Not back in the queue: the claim needs its recovery,
                 * which a new executor process gets. */
                e->kind = ERR_STORAGE;
                e->code = NULL;
            }
            return err_prefix(e, "claim %s (left for recovery)", job->id);
        }
        if (st == 0) {
            /* Cancelled, lost or quarantined before it ran: let the claim
             * go. */
            unlink(to);
            continue;
        }
        return 1;
    }
}

/* The result file's JSON for `res`. */
static json_object *async_result(const runtime_result *res)
{
    json_object *result = json_object_new_object();
    bool exited = res->status == STATUS_SUCCEEDED || res->status == STATUS_FAILED;
    json_object_object_add(result, "output", invoke_text(&res->out));
    json_object_object_add(result, "logs", invoke_text(&res->err));
    json_object_object_add(result, "duration_ms", json_object_new_int64(res->duration_ms));
    json_object_object_add(result, "exit_code",
                           exited ? json_object_new_int(res->exit_code) : NULL);
    if (res->truncated)
        json_object_object_add(result, "truncated", json_object_new_boolean(1));
    return result;
}

/* Write the outcome into `rec` (RUNNING) and its result file. */
static int async_record_outcome(async_t *a, async_job *job, json_object *rec,
                                const runtime_result *res, long long retry_base_ms, err_t *e)
{
    char path[ASYNC_PATH];
    size_t len;
    json_object *result = async_result(res);
    const char *text = json_object_to_json_string_length(result, async_json_flags, &len);
    async_path(a, job->id, ".result", path, sizeof(path));
    int rc = files_write(path, text, len, 0, e);
    json_object_put(result);
    if (rc != 0)
        return -1;
    status_record final = status_final(res->status);
    int max = json_object_get_int(json_object_object_get(rec, "max_attempts"));
    async_set_str(rec, "error", res->status == STATUS_SUCCEEDED ? NULL : res->message);
    async_set_str(rec, "start", res->started ? invoke_start_word(res->start) : NULL);
    if (final != STATUS_REC_COMPLETED && job->attempt < max) {
        long long delay = retry_base_ms << (job->attempt - 1);
        async_set_status(rec, STATUS_REC_PENDING);
        if (async_store(a, rec, e) != 0)
            return -1;
        return async_enqueue(a, job->id, job->function_id, clock_pool_ms() + delay, e);
    }
    async_set_status(rec, final);
    async_set_done(rec);
    return async_store(a, rec, e);
}

/* The record of `job` was damaged while it ran (under the lock):
 * quarantined as a claim would, with the outcome `res` (NULL: none, the
 * engine failed it) kept beside it, as the run did end. 0, or -1 with
 * `e`. */
static int async_quarantine_ran(async_t *a, async_job *job, const runtime_result *res, err_t *e)
{
    char path[ASYNC_PATH];
    size_t len;
    const char *why = "the run's record (.json) was damaged on disk while it ran";
    if (async_quarantine(a, job->id, job->function_id, NULL, why, e) != 0)
        return -1;
    log_error("async invocation %s: %s; FAILED (record_corrupt), its files moved to %s", job->id,
              why, a->quarantine);
    metrics_storage(a->metrics, METRICS_ASYNC_CORRUPT, 1);
    if (res == NULL)
        return 0;
    json_object *result = async_result(res);
    const char *text = json_object_to_json_string_length(result, async_json_flags, &len);
    async_path(a, job->id, ".result", path, sizeof(path));
    int rc = files_write(path, text, len, 0, e);
    json_object_put(result);
    return rc;
}

int async_finish(async_t *a, async_job *job, const runtime_result *res, long long retry_base_ms,
                 err_t *e)
{
    char path[ASYNC_PATH];
    int rc = 0;
    int lfd = files_lock(a->lock, e);
    if (lfd < 0)
        return -1;
    json_object *rec = async_load(a, job->id);
    async_path(a, job->id, ".json", path, sizeof(path));
    /* One cancelled meanwhile stays as the canceller left it. */
    if (rec != NULL && async_status_of(rec) == STATUS_REC_RUNNING)
        rc = async_record_outcome(a, job, rec, res, retry_base_ms, e);
    else if (rec == NULL && access(path, F_OK) == 0)
        rc = async_quarantine_ran(a, job, res, e);
    files_unlock(lfd);
    /* The claim goes only once the record has its new state; otherwise it
     * stays in running/ for async_recover. */
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/%s", a->running, job->marker);
        unlink(path);
    }
    json_object_put(rec);
    return rc;
}

void async_job_free(async_job *job)
{
    buf_free(&job->event);
}

/* Recover the run of one marker `name` in running/ (under the lock). 1 when
 * a RUNNING run was interrupted, 0 when there was nothing to do, -1 when its
 * record or marker could not be written (the claim must then stay), with
 * `e`. */
static int async_recover_one(async_t *a, const char *name, err_t *e)
{
    const char *id = async_marker_id(name);
    json_object *rec = id ? async_load(a, id) : NULL;
    const char *fid = rec ? async_str(rec, "function_id") : "";
    int st = rec ? async_status_of(rec) : -1, rc = 0;
    char path[ASYNC_PATH], mfid[RUNTIME_ID_LEN];
    if (id != NULL)
        async_path(a, id, ".json", path, sizeof(path));
    if (id != NULL && rec == NULL && access(path, F_OK) == 0) {
        /* A record that does not parse: queued again, for the claim to
         * quarantine it and say so in its place. */
        const char *queued = strchr(name, '-'); /* past the executor's number */
        async_marker_function(queued ? queued + 1 : "", mfid, sizeof(mfid));
        if (async_queued(a, id, false) == 0 && async_enqueue(a, id, mfid, clock_pool_ms(), e) != 0)
            rc = -1;
    } else if (id != NULL && rec == NULL) {
        log_warn("async recovery: the claim %s had no record; dropped", name);
    } else if (st == STATUS_REC_PENDING) {
        /* Claimed but not yet marked RUNNING, or requeued for a retry
         * without its new marker: queue it (once). */
        if (async_queued(a, id, false) == 0 && async_enqueue(a, id, fid, clock_pool_ms(), e) != 0)
            rc = -1;
    } else if (st == STATUS_REC_RUNNING) {
        int attempts = json_object_get_int(json_object_object_get(rec, "attempts"));
        int max = json_object_get_int(json_object_object_get(rec, "max_attempts"));
        bool again = attempts < max;
        async_set_str(rec, "error", "interrupted");
        async_set_status(rec, again ? STATUS_REC_PENDING : STATUS_REC_FAILED);
        if (!again)
            async_set_done(rec);
        rc = async_store(a, rec, e) == 0 &&
                     (!again || async_enqueue(a, id, fid, clock_pool_ms(), e) == 0)
                 ? 1
                 : -1;
        if (rc > 0)
            log_warn("async invocation %s was interrupted: %s", id, again ? "requeued" : "FAILED");
    }
    if (rc < 0)
        err_prefix(e, "recovering %s (its claim stays until it can be written)", id);
    json_object_put(rec);
    return rc;
}

int async_recover(async_t *a, int executor, err_t *e)
{
    char prefix[32];
    int n = 0;
    bool failed = false;
    DIR *d = opendir(a->running);
    if (d == NULL)
        return err_sys(e, errno, "opendir", a->running);
    snprintf(prefix, sizeof(prefix), "%d-", executor);
    int lfd = files_lock(a->lock, e);
    if (lfd < 0) {
        closedir(d);
        return -1;
    }
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char path[ASYNC_PATH];
        if (ent->d_name[0] == '.' ||
            (executor >= 0 && strncmp(ent->d_name, prefix, strlen(prefix)) != 0))
            continue;
        err_t one;
        int r = async_recover_one(a, ent->d_name, &one);
        if (r < 0) {
            /* A marker goes only once its record was durably rewritten.
             * The first failure is the one told. */
            if (!failed)
                *e = one;
            failed = true;
            continue;
        }
        n += r;
        snprintf(path, sizeof(path), "%s/%.150s", a->running, ent->d_name);
        unlink(path);
    }
    files_unlock(lfd);
    closedir(d);
    return failed ? -1 : n;
}

int async_release(async_t *a, async_job *job, err_t *e)
{
    char path[ASYNC_PATH];
    int rc = 0;
    int lfd = files_lock(a->lock, e);
    if (lfd < 0)
        return -1;
    json_object *rec = async_load(a, job->id);
    async_path(a, job->id, ".json", path, sizeof(path));
    if (rec == NULL && access(path, F_OK) == 0)
        rc = async_quarantine_ran(a, job, NULL, e);
    /* One cancelled meanwhile stays as the canceller left it. */
    if (rec != NULL && async_status_of(rec) == STATUS_REC_RUNNING) {
        json_object_object_add(rec, "attempts", json_object_new_int(job->attempt - 1));
        async_set_status(rec, STATUS_REC_PENDING);
        async_set_str(rec, "started_at", NULL);
        rc = async_store(a, rec, e) == 0 &&
                     async_enqueue(a, job->id, job->function_id, clock_pool_ms(), e) == 0
                 ? 0
                 : -1;
    }
    files_unlock(lfd);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/%s", a->running, job->marker);
        unlink(path);
    }
    json_object_put(rec);
    return rc;
}

/* Whether `id`'s record is finished and completed at or before `cutoff`
 * (Unix seconds). */
static bool async_expired(async_t *a, const char *id, long long cutoff)
{
    json_object *rec = async_load(a, id);
    long long done;
    int st = rec ? async_status_of(rec) : -1;
    bool old = st >= 0 && status_record_finished((status_record)st) &&
               clock_parse_rfc3339(async_str(rec, "completed_at"), &done) == 0 && done <= cutoff;
    json_object_put(rec);
    return old;
}

int async_prune(async_t *a, long long retention_s, err_t *e)
{
    long long cutoff = clock_pool_ms() / 1000 - retention_s;
    int n = 0, records = 0;
    DIR *d = opendir(a->records);
    if (d == NULL)
        return err_sys(e, errno, "opendir", a->records);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char id[RUNTIME_ID_LEN];
        records += async_record_name(ent->d_name, id);
    }
    /* At most a share of the records per pass: a clock that jumped ahead
     * across a restart thins the history over several passes, never
     * empties it in one. */
    int most = (records + ASYNC_PRUNE_SHARE - 1) / ASYNC_PRUNE_SHARE;
    rewinddir(d);
    while (n < most && (ent = readdir(d)) != NULL) {
        char id[RUNTIME_ID_LEN], path[ASYNC_PATH];
        struct stat st;
        if (!async_record_name(ent->d_name, id))
            continue;
        /* A finished record is written for the last time when it finishes:
         * one modified since the cutoff cannot be old enough to read. */
        async_path(a, id, ".json", path, sizeof(path));
        if (stat(path, &st) != 0 || st.st_mtime > cutoff || !async_expired(a, id, cutoff))
            continue;
        async_unlink(a, id);
        n++;
    }
    closedir(d);
    return n;
}

/* A record as async_bound weighs it. */
typedef struct {
    char id[RUNTIME_ID_LEN];
    char fid[RUNTIME_ID_LEN];
    long long mtime_ns; /* of its .json: a finished one was last written when it finished */
    long long bytes;    /* blocks its .json, .event and .result take */
    bool finished, gone;
} async_weight;

static int async_weight_by_function(const void *x, const void *y)
{
    const async_weight *a = x, *b = y;
    int c = strcmp(a->fid, b->fid);
    if (c != 0)
        return c;
    return (b->mtime_ns > a->mtime_ns) - (b->mtime_ns < a->mtime_ns); /* newest first */
}

static int async_weight_by_age(const void *x, const void *y)
{
    const async_weight *a = x, *b = y;
    return (a->mtime_ns > b->mtime_ns) - (a->mtime_ns < b->mtime_ns); /* oldest first */
}

/* The records under records/ with their sizes into `*out` (owned by the
 * caller, also on failure); the sum into `*total`. 0, or -1 with `e`. */
static int async_weigh(async_t *a, async_weight **out, size_t *n, long long *total, err_t *e)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    *total = 0;
    DIR *d = opendir(a->records);
    if (d == NULL)
        return err_sys(e, errno, "opendir", a->records);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char id[RUNTIME_ID_LEN], path[ASYNC_PATH];
        struct stat st;
        if (!async_record_name(ent->d_name, id))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            async_weight *grown = realloc(*out, ncap * sizeof(*grown));
            if (grown == NULL) {
                closedir(d);
                return err_sys(e, ENOMEM, "realloc", a->records);
            }
            *out = grown;
            cap = ncap;
        }
        async_weight *w = &(*out)[*n];
        memset(w, 0, sizeof(*w));
        snprintf(w->id, sizeof(w->id), "%s", id);
        for (size_t i = 0; i < ASYNC_FILES; i++) {
            async_path(a, w->id, async_files[i], path, sizeof(path));
            if (stat(path, &st) != 0)
                continue;
            /* What it takes on disk: three small files are three blocks. */
            w->bytes += (long long)st.st_blocks * 512;
            if (i == 0)
                w->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        }
        *total += w->bytes;
        (*n)++;
    }
    closedir(d);
    return 0;
}

/* Delete record `w` and take its bytes off `*total`. */
static void async_drop(async_t *a, async_weight *w, long long *total)
{
    async_unlink(a, w->id);
    w->gone = true;
    *total -= w->bytes;
}

int async_bound(async_t *a, long long per_function, long long max_bytes, err_t *e)
{
    async_weight *v = NULL;
    size_t n = 0;
    long long total = 0;
    int dropped = 0;
    if (async_weigh(a, &v, &n, &total, e) != 0) {
        free(v);
        return -1;
    }
    /* Only a count past the cap can hold a function past it. */
    bool cap = per_function > 0 && (long long)n > per_function;
    if (cap || total > max_bytes) {
        for (size_t i = 0; i < n; i++) {
            json_object *rec = async_load(a, v[i].id);
            int st = rec ? async_status_of(rec) : -1;
            v[i].finished = st >= 0 && status_record_finished((status_record)st);
            snprintf(v[i].fid, sizeof(v[i].fid), "%s", rec ? async_str(rec, "function_id") : "");
            json_object_put(rec);
        }
    }
    if (cap && n > 0) {
        qsort(v, n, sizeof(*v), async_weight_by_function);
        long long kept = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || strcmp(v[i].fid, v[i - 1].fid) != 0)
                kept = 0;
            if (!v[i].finished)
                continue;
            if (++kept > per_function) {
                async_drop(a, &v[i], &total);
                dropped++;
            }
        }
    }
    if (total > max_bytes && n > 0) {
        qsort(v, n, sizeof(*v), async_weight_by_age);
        for (size_t i = 0; i < n && total > max_bytes; i++) {
            if (!v[i].finished || v[i].gone)
                continue;
            async_drop(a, &v[i], &total);
            dropped++;
        }
    }
    free(v);
    return dropped;
}
