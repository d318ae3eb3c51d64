#include "async.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "config.h"
#include "func.h"
#include "log.h"

#define ASYNC_META_MAX (64u * 1024)
#define ASYNC_EVENT_MAX (8u * 1024 * 1024)
/* Output is stored as JSON, where each control byte takes six: room for
 * the worst case of both capped streams. */
#define ASYNC_RESULT_MAX (6u * (INVOKE_STDOUT_MAX + INVOKE_STDERR_MAX) + 65536)
#define ASYNC_PATH (CONFIG_PATH_MAX + 200)

struct async {
    char root[CONFIG_PATH_MAX + 16];
    char records[CONFIG_PATH_MAX + 32];
    char queue[CONFIG_PATH_MAX + 32];
    char running[CONFIG_PATH_MAX + 32];
    char lock[CONFIG_PATH_MAX + 32];
};

static const int async_json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

static long long async_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int async_mkdir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir(%s) failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

async_t *async_open(const char *data_dir, char *err, size_t errlen)
{
    async_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "calloc() failed: out of memory");
        return NULL;
    }
    snprintf(a->root, sizeof(a->root), "%s/async", data_dir);
    snprintf(a->records, sizeof(a->records), "%s/records", a->root);
    snprintf(a->queue, sizeof(a->queue), "%s/queue", a->root);
    snprintf(a->running, sizeof(a->running), "%s/running", a->root);
    snprintf(a->lock, sizeof(a->lock), "%s/records.lock", a->root);
    if (async_mkdir(data_dir, err, errlen) != 0 || async_mkdir(a->root, err, errlen) != 0 ||
        async_mkdir(a->records, err, errlen) != 0 || async_mkdir(a->queue, err, errlen) != 0 ||
        async_mkdir(a->running, err, errlen) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

void async_close(async_t *a)
{
    free(a);
}

const char *async_queue_dir(const async_t *a)
{
    return a->queue;
}

/* Ids are lowercase UUIDs: anything else can never name a file of ours. */
static bool async_valid_id(const char *id)
{
    return func_is_id(id);
}

static int async_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? fsync(fd) : -1;
    if (rc != 0)
        log_error("fsync(%s) failed: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Write `len` bytes to dir/name atomically and durably; without
 * `sync_dir` the rename is durable only once the directory is synced by a
 * later write. */
static int async_write(const char *dir, const char *name, const char *data, size_t len,
                       bool sync_dir)
{
    char path[ASYNC_PATH], tmp[ASYNC_PATH + 8];
    int rc = -1;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open(%s) failed: %s", tmp, strerror(errno));
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            log_error("write(%s) failed: %s", tmp, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        log_error("fsync(%s) failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        log_error("rename(%s) failed: %s", tmp, strerror(errno));
        goto done;
    }
    rc = sync_dir ? async_fsync_dir(dir) : 0;
done:
    close(fd);
    return rc;
}

/* Read dir/name into `out` (bounded by its max). 0, or -1 (errno ENOENT
 * when absent). */
static int async_read(const char *dir, const char *name, buf_t *out)
{
    char path[ASYNC_PATH];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (;;) {
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        if (buf_append(out, chunk, (size_t)n) != BUF_OK) {
            errno = EFBIG;
            rc = -1;
            break;
        }
    }
    close(fd);
    return rc;
}

/* records/<id><ext> parsed as a JSON object (at most `max` bytes); NULL when
 * absent or unreadable. */
static json_object *async_load_json(async_t *a, const char *id, const char *ext, size_t max)
{
    char name[64];
    buf_t b;
    json_object *o = NULL;
    buf_init(&b, max);
    snprintf(name, sizeof(name), "%s%s", id, ext);
    if (async_read(a->records, name, &b) == 0 && b.len > 0)
        o = json_tokener_parse(b.data);
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    buf_free(&b);
    return o;
}

/* The metadata of `id`; NULL when absent or unreadable. */
static json_object *async_load(async_t *a, const char *id)
{
    return async_load_json(a, id, ".json", ASYNC_META_MAX);
}

static int async_store(async_t *a, json_object *rec)
{
    char name[64];
    const char *id = json_object_get_string(json_object_object_get(rec, "id"));
    size_t len;
    const char *text = json_object_to_json_string_length(rec, async_json_flags, &len);
    snprintf(name, sizeof(name), "%s.json", id);
    return async_write(a->records, name, text, len, true);
}

static const char *async_status(json_object *rec)
{
    json_object *v;
    return json_object_object_get_ex(rec, "status", &v) ? json_object_get_string(v) : "";
}

static void async_set_str(json_object *rec, const char *key, const char *value)
{
    json_object_object_add(rec, key, value ? json_object_new_string(value) : NULL);
}

static int async_lock(async_t *a)
{
    int fd = open(a->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open(%s) failed: %s", a->lock, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            log_error("flock(%s) failed: %s", a->lock, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void async_unlock(int fd)
{
    close(fd);
}

/* Create the queue marker for `id` due at `due_ms`. */
static int async_enqueue(async_t *a, const char *id, long long due_ms)
{
    char path[ASYNC_PATH];
    snprintf(path, sizeof(path), "%s/%013lld-%s", a->queue, due_ms, id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("open(%s) failed: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    return async_fsync_dir(a->queue);
}

async_rc async_accept(async_t *a, json_object *function, const char *event, size_t len,
                      int timeout_s, json_object **out)
{
    uuid_t u;
    char id[INVOKE_ID_LEN], name[64], now[32];
    json_object *v;
    int retries = 0;

    *out = NULL;
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    func_now(now, sizeof(now));
    if (json_object_object_get_ex(function, "retries", &v))
        retries = json_object_get_int(v);

    json_object *rec = json_object_new_object();
    async_set_str(rec, "id", id);
    async_set_str(rec, "function_id",
                  json_object_get_string(json_object_object_get(function, "id")));
    async_set_str(rec, "function_name",
                  json_object_get_string(json_object_object_get(function, "name")));
    async_set_str(rec, "status", "PENDING");
    async_set_str(rec, "created_at", now);
    async_set_str(rec, "started_at", NULL);
    async_set_str(rec, "completed_at", NULL);
    json_object_object_add(rec, "attempts", json_object_new_int(0));
    json_object_object_add(rec, "max_attempts", json_object_new_int(retries + 1));
    json_object_object_add(rec, "timeout", json_object_new_int(timeout_s));
    async_set_str(rec, "error", NULL);

    /* Event and record first (one directory sync covers both), marker last:
     * a marker always has a record. */
    snprintf(name, sizeof(name), "%s.event", id);
    if (async_write(a->records, name, event, len, false) != 0 || async_store(a, rec) != 0 ||
        async_enqueue(a, id, async_now_ms()) != 0) {
        /* The client is told it failed: leave no record that never runs. */
        static const char *const ext[] = {".json", ".event"};
        for (size_t i = 0; i < 2; i++) {
            char path[ASYNC_PATH];
            snprintf(path, sizeof(path), "%s/%s%s", a->records, id, ext[i]);
            unlink(path);
        }
        json_object_put(rec);
        return ASYNC_ERROR;
    }
    *out = rec;
    return ASYNC_OK;
}

async_rc async_get(async_t *a, const char *id, json_object **out)
{
    *out = NULL;
    if (!async_valid_id(id))
        return ASYNC_NOT_FOUND;
    json_object *rec = async_load(a, id);
    if (rec == NULL)
        return ASYNC_NOT_FOUND;
    json_object_object_add(rec, "result", async_load_json(a, id, ".result", ASYNC_RESULT_MAX));
    *out = rec;
    return ASYNC_OK;
}

static int async_cmp_created_desc(const void *x, const void *y)
{
    json_object *const *a = x, *const *b = y;
    const char *ca = json_object_get_string(json_object_object_get(*a, "created_at"));
    const char *cb = json_object_get_string(json_object_object_get(*b, "created_at"));
    int c = strcmp(cb ? cb : "", ca ? ca : "");
    if (c != 0)
        return c;
    return strcmp(json_object_get_string(json_object_object_get(*b, "id")),
                  json_object_get_string(json_object_object_get(*a, "id")));
}

async_rc async_list(async_t *a, const char *function, const char *status, int limit,
                    json_object **out)
{
    DIR *d = opendir(a->records);
    json_object *all = NULL;
    *out = NULL;
    if (d == NULL) {
        log_error("opendir(%s) failed: %s", a->records, strerror(errno));
        return ASYNC_ERROR;
    }
    all = json_object_new_array();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char id[INVOKE_ID_LEN];
        if (n != INVOKE_ID_LEN - 1 + 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(id, sizeof(id), "%.*s", (int)(n - 5), e->d_name);
        json_object *rec = async_load(a, id);
        if (rec == NULL)
            continue;
        const char *fid = json_object_get_string(json_object_object_get(rec, "function_id"));
        const char *fname = json_object_get_string(json_object_object_get(rec, "function_name"));
        if ((function != NULL && strcmp(function, fid ? fid : "") != 0 &&
             strcmp(function, fname ? fname : "") != 0) ||
            (status != NULL && strcasecmp(status, async_status(rec)) != 0)) {
            json_object_put(rec);
            continue;
        }
        json_object_array_add(all, rec);
    }
    closedir(d);
    json_object_array_sort(all, async_cmp_created_desc);
    json_object *page = json_object_new_array();
    size_t total = json_object_array_length(all);
    for (size_t i = 0; i < total && (int)i < limit; i++)
        json_object_array_add(page, json_object_get(json_object_array_get_idx(all, i)));
    json_object_put(all);
    *out = page;
    return ASYNC_OK;
}

/* Whether `id` has a marker in queue/; with `remove`, remove it. 1 found
 * (and removed), 0 not queued, -1 error. */
static int async_queued(async_t *a, const char *id, bool remove)
{
    DIR *d = opendir(a->queue);
    int found = 0;
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *dash = strchr(e->d_name, '-');
        if (dash == NULL || strcmp(dash + 1, id) != 0)
            continue;
        char path[ASYNC_PATH];
        snprintf(path, sizeof(path), "%s/%.100s", a->queue, e->d_name);
        if (!remove || unlink(path) == 0)
            found = 1;
    }
    closedir(d);
    return found;
}

static bool async_finished(const char *status)
{
    return strcmp(status, "COMPLETED") == 0 || strcmp(status, "FAILED") == 0 ||
           strcmp(status, "TIMEOUT") == 0 || strcmp(status, "CANCELLED") == 0;
}

async_rc async_cancel(async_t *a, const char *id, json_object **out, bool *running)
{
    char now[32];
    async_rc rc = ASYNC_ERROR;
    *out = NULL;
    *running = false;
    if (!async_valid_id(id))
        return ASYNC_NOT_FOUND;
    int lfd = async_lock(a);
    if (lfd < 0)
        return ASYNC_ERROR;
    json_object *rec = async_load(a, id);
    if (rec == NULL) {
        rc = ASYNC_NOT_FOUND;
        goto done;
    }
    const char *st = async_status(rec);
    if (async_finished(st)) {
        rc = ASYNC_CONFLICT;
        goto done;
    }
    *running = strcmp(st, "RUNNING") == 0;
    /* A PENDING run's marker goes; if an executor claimed it already, it
     * sees CANCELLED under this lock and drops it. */
    async_queued(a, id, true);
    func_now(now, sizeof(now));
    async_set_str(rec, "status", "CANCELLED");
    async_set_str(rec, "completed_at", now);
    async_set_str(rec, "error", "cancelled");
    rc = async_store(a, rec) == 0 ? ASYNC_OK : ASYNC_ERROR;
done:
    async_unlock(lfd);
    if (rc == ASYNC_OK || rc == ASYNC_CONFLICT)
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
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

bool async_is_cancelled(async_t *a, const char *id)
{
    json_object *rec = async_load(a, id);
    bool c = rec != NULL && strcmp(async_status(rec), "CANCELLED") == 0;
    json_object_put(rec);
    return c;
}

/* The oldest due marker name in queue/ into `out`; 1 found, 0 none due. */
static int async_oldest(async_t *a, char *out, size_t outlen, long long *next_due_ms)
{
    DIR *d = opendir(a->queue);
    long long now = async_now_ms();
    int found = 0;
    *next_due_ms = -1;
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (e->d_name[0] == '.')
            continue;
        long long due = strtoll(e->d_name, &end, 10);
        if (*end != '-')
            continue;
        if (due > now) {
            if (*next_due_ms < 0 || due < *next_due_ms)
                *next_due_ms = due;
            continue;
        }
        /* Names sort by due time: zero-padded milliseconds first. */
        if (!found || strcmp(e->d_name, out) < 0) {
            snprintf(out, outlen, "%.100s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

int async_claim(async_t *a, int executor, async_job *job, long long *next_due_ms)
{
    char name[128], from[ASYNC_PATH], to[ASYNC_PATH], ev[64];
    memset(job, 0, sizeof(*job));
    buf_init(&job->event, ASYNC_EVENT_MAX);
    for (;;) {
        int f = async_oldest(a, name, sizeof(name), next_due_ms);
        if (f <= 0)
            return f;
        snprintf(job->marker, sizeof(job->marker), "%d-%s", executor, name);
        snprintf(from, sizeof(from), "%s/%s", a->queue, name);
        snprintf(to, sizeof(to), "%s/%s", a->running, job->marker);
        if (rename(from, to) != 0) {
            if (errno == ENOENT)
                continue; /* another executor won it */
            log_error("rename(%s, %s) failed: %s", from, to, strerror(errno));
            return -1;
        }
        snprintf(job->id, sizeof(job->id), "%s", strchr(name, '-') + 1);

        int lfd = async_lock(a);
        if (lfd < 0)
            return -1;
        json_object *rec = async_load(a, job->id);
        int ok = rec != NULL && strcmp(async_status(rec), "PENDING") == 0;
        if (ok) {
            char now[32];
            json_object *v;
            func_now(now, sizeof(now));
            job->attempt = json_object_get_int(json_object_object_get(rec, "attempts")) + 1;
            job->timeout_s = json_object_object_get_ex(rec, "timeout", &v) ? json_object_get_int(v)
                                                                           : FUNC_TIMEOUT_DEFAULT;
            snprintf(job->function_id, sizeof(job->function_id), "%s",
                     json_object_get_string(json_object_object_get(rec, "function_id")));
            json_object_object_add(rec, "attempts", json_object_new_int(job->attempt));
            async_set_str(rec, "status", "RUNNING");
            async_set_str(rec, "started_at", now);
            ok = async_store(a, rec) == 0;
        }
        async_unlock(lfd);
        bool store_failed = rec != NULL && strcmp(async_status(rec), "RUNNING") == 0;
        json_object_put(rec);
        snprintf(ev, sizeof(ev), "%s.event", job->id);
        if (ok && async_read(a->records, ev, &job->event) != 0) {
            /* The claim stays in running/ for async_recover. */
            log_error("read %s/%s failed: %s", a->records, ev, strerror(errno));
            return -1;
        }
        if (ok)
            return 1;
        if (store_failed) {
            log_error("async_store(%s) failed; the claim is left for recovery", job->id);
            return -1;
        }
        /* Cancelled (or lost) before it ran: let the claim go. */
        unlink(to);
        buf_reset(&job->event);
    }
}

static const char *async_final(invoke_status s)
{
    switch (s) {
    case INVOKE_SUCCEEDED:
        return "COMPLETED";
    case INVOKE_TIMEOUT:
        return "TIMEOUT";
    default:
        return "FAILED";
    }
}

int async_finish(async_t *a, async_job *job, const invoke_result *res, long retry_base_ms)
{
    char now[32], path[ASYNC_PATH], name[64];
    int rc = -1;
    json_object *rec = NULL;
    json_object *result = json_object_new_object();
    json_object_object_add(result, "output", invoke_text(&res->out));
    json_object_object_add(result, "logs", invoke_text(&res->err));
    json_object_object_add(result, "duration_ms", json_object_new_int64(res->duration_ms));
    json_object_object_add(result, "exit_code",
                           res->status == INVOKE_SUCCEEDED || res->status == INVOKE_FAILED
                               ? json_object_new_int(res->exit_code)
                               : NULL);
    if (res->truncated)
        json_object_object_add(result, "truncated", json_object_new_boolean(1));

    int lfd = async_lock(a);
    if (lfd < 0) {
        json_object_put(result);
        return -1;
    }
    rec = async_load(a, job->id);
    if (rec == NULL || strcmp(async_status(rec), "RUNNING") != 0) {
        rc = 0; /* cancelled meanwhile: it stays as the canceller left it */
        goto done;
    }
    size_t len;
    const char *text = json_object_to_json_string_length(result, async_json_flags, &len);
    snprintf(name, sizeof(name), "%s.result", job->id);
    if (async_write(a->records, name, text, len, false) != 0)
        goto done;
    const char *final = async_final(res->status);
    int max = json_object_get_int(json_object_object_get(rec, "max_attempts"));
    async_set_str(rec, "error", res->status == INVOKE_SUCCEEDED ? NULL : res->message);
    if (strcmp(final, "COMPLETED") != 0 && job->attempt < max) {
        long long delay = (long long)retry_base_ms << (job->attempt - 1);
        async_set_str(rec, "status", "PENDING");
        if (async_store(a, rec) != 0 || async_enqueue(a, job->id, async_now_ms() + delay) != 0)
            goto done;
    } else {
        func_now(now, sizeof(now));
        async_set_str(rec, "status", final);
        async_set_str(rec, "completed_at", now);
        if (async_store(a, rec) != 0)
            goto done;
    }
    rc = 0;
done:
    async_unlock(lfd);
    /* The claim goes only once the record has its new state; otherwise it
     * stays in running/ for async_recover. */
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/%s", a->running, job->marker);
        unlink(path);
    }
    json_object_put(rec);
    json_object_put(result);
    return rc;
}

void async_job_free(async_job *job)
{
    buf_free(&job->event);
}

int async_recover(async_t *a, int executor)
{
    DIR *d = opendir(a->running);
    char prefix[32];
    int n = 0;
    if (d == NULL)
        return -1;
    snprintf(prefix, sizeof(prefix), "%d-", executor);
    int lfd = async_lock(a);
    if (lfd < 0) {
        closedir(d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[ASYNC_PATH], now[32];
        if (e->d_name[0] == '.' ||
            (executor >= 0 && strncmp(e->d_name, prefix, strlen(prefix)) != 0))
            continue;
        /* <executor>-<due>-<id>: the id (which has dashes) follows the
         * second dash. */
        const char *id = strchr(e->d_name, '-');
        id = id ? strchr(id + 1, '-') : NULL;
        snprintf(path, sizeof(path), "%s/%.150s", a->running, e->d_name);
        json_object *rec = id ? async_load(a, id + 1) : NULL;
        if (rec != NULL && strcmp(async_status(rec), "PENDING") == 0) {
            /* Claimed but not yet marked RUNNING, or requeued for a retry
             * without its new marker: queue it (once). */
            if (async_queued(a, id + 1, false) == 0)
                async_enqueue(a, id + 1, async_now_ms());
        } else if (rec != NULL && strcmp(async_status(rec), "RUNNING") == 0) {
            int attempts = json_object_get_int(json_object_object_get(rec, "attempts"));
            int max = json_object_get_int(json_object_object_get(rec, "max_attempts"));
            async_set_str(rec, "error", "interrupted");
            if (attempts < max) {
                async_set_str(rec, "status", "PENDING");
                if (async_store(a, rec) == 0)
                    async_enqueue(a, id + 1, async_now_ms());
            } else {
                func_now(now, sizeof(now));
                async_set_str(rec, "status", "FAILED");
                async_set_str(rec, "completed_at", now);
                async_store(a, rec);
            }
            log_warn("async invocation %s was interrupted: %s", id + 1,
                     attempts < max ? "requeued" : "FAILED");
            n++;
        }
        json_object_put(rec);
        unlink(path);
    }
    async_unlock(lfd);
    closedir(d);
    return n;
}

/* Parse an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SS.mmmZ" to Unix seconds. */
static long long async_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    return end ? (long long)timegm(&tm) : -1;
}

int async_prune(async_t *a, long retention_s)
{
    DIR *d = opendir(a->records);
    long long cutoff = async_now_ms() / 1000 - retention_s;
    int n = 0;
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char id[INVOKE_ID_LEN], path[ASYNC_PATH];
        if (len != INVOKE_ID_LEN - 1 + 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(id, sizeof(id), "%.*s", (int)(len - 5), e->d_name);
        /* A finished record is written for the last time when it finishes:
         * one modified since the cutoff cannot be old enough to read. */
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", a->records, e->d_name);
        if (stat(path, &st) != 0 || st.st_mtime > cutoff)
            continue;
        json_object *rec = async_load(a, id);
        long long done = rec ? async_parse_time(json_object_get_string(
                                   json_object_object_get(rec, "completed_at")))
                             : -1;
        if (rec != NULL && async_finished(async_status(rec)) && done >= 0 && done <= cutoff) {
            static const char *const ext[] = {".json", ".event", ".result"};
            for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%s%s", a->records, id, ext[i]);
                unlink(path);
            }
            n++;
        }
        json_object_put(rec);
    }
    closedir(d);
    return n;
}
