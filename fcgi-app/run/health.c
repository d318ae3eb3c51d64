#include "run/health.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/files.h"

static const char *const health_names[HEALTH__N] = {"engine", "store",     "keys",  "data_dir",
                                                    "disk",   "executors", "locks", "keeper"};

/* The store locks /healthz watches, under the data dir. */
static const char *const health_lock_files[] = {"functions.json.lock", "keys.json.lock",
                                                "async/records.lock"};

#define HEALTH_LOCKS_N (sizeof(health_lock_files) / sizeof(health_lock_files[0]))

const char *health_name(health_part p)
{
    return health_names[p];
}

__attribute__((format(printf, 4, 5))) static void
health_fail(health_report *r, health_part p, const char *code, const char *fmt, ...)
{
    va_list ap;
    r->up[p] = false;
    r->code[p] = code;
    va_start(ap, fmt);
    vsnprintf(r->detail[p], sizeof(r->detail[p]), fmt, ap);
    va_end(ap);
}

static void health_engine(const health_ctx *x, int ping_ms, health_report *r)
{
    docker_result dr;
    if (x->engines != NULL && engines_multi(x->engines)) {
        /* The probe pings each engine twice a second: its last word is
         * fresher than a ping here could be, and costs nothing. */
        if (!engines_any_up(x->engines))
            health_fail(r, HEALTH_ENGINE, "engine_unavailable",
                        "none of the %d engines answers its probe", engines_count(x->engines));
        return;
    }
    if (docker_ping(x->conn, ping_ms, &dr) != DOCKER_OK)
        health_fail(r, HEALTH_ENGINE, "engine_unreachable", "%s", dr.message);
}

static void health_store(const health_ctx *x, health_report *r)
{
    err_t e;
    if (store_verify(x->store, &e) != 0) {
        health_fail(r, HEALTH_STORE, err_code(&e), "%s", e.msg);
        return;
    }
    r->functions = store_count(x->store);
}

static void health_keys(const health_ctx *x, health_report *r)
{
    err_t e;
    if (keys_verify(x->keys, &e) != 0)
        health_fail(r, HEALTH_KEYS, err_code(&e), "%s", e.msg);
}

/* Whether a new file can be made in the data dir: an unnamed one, so that
 * nothing is left whatever happens. */
static void health_data_dir(const health_ctx *x, health_report *r)
{
    const char *dir = x->cfg->data_dir;
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return;
    }
    /* File systems without O_TMPFILE: permissions and a read-only mount
     * are what access() can tell. */
    if ((errno == EOPNOTSUPP || errno == EISDIR) && access(dir, W_OK) == 0)
        return;
    health_fail(r, HEALTH_DATA_DIR, "storage_error", "open(%.150s, O_TMPFILE) failed: %s", dir,
                strerror(errno));
}

static void health_disk(const health_ctx *x, health_report *r)
{
    struct statvfs st;
    const char *dir = x->cfg->data_dir;
    if (statvfs(dir, &st) != 0) {
        health_fail(r, HEALTH_DISK, "storage_error", "statvfs(%.150s) failed: %s", dir,
                    strerror(errno));
        return;
    }
    r->free_bytes = (long long)st.f_bavail * (long long)st.f_frsize;
    if (r->free_bytes < x->cfg->min_free_bytes) {
        health_fail(r, HEALTH_DISK, "storage_full",
                    "%lld bytes free on %.100s's file system, under MINILAMBDA_MIN_FREE_BYTES "
                    "(%lld)",
                    r->free_bytes, dir, x->cfg->min_free_bytes);
    }
}

static void health_executors(const health_ctx *x, health_report *r)
{
    int down = 0, stalled = 0, sys = 0;
    for (int i = 0; i < r->executors; i++) {
        int err = 0;
        switch (slots_state_of(x->slots, x->first_executor + i, &err)) {
        case SLOTS_DOWN:
            down++;
            break;
        case SLOTS_STORAGE_STALL:
            stalled++;
            sys = err;
            break;
        case SLOTS_UP:
        case SLOTS_ENGINE_WAIT: /* the engine's fault, said under "engine" */
            r->executors_up++;
            break;
        }
    }
    if (down + stalled == 0)
        return;
    health_fail(r, HEALTH_EXECUTORS, stalled > 0 ? "storage_error" : "executors_down",
                "%d of %d executors not running, %d cannot save outcomes%s%s", down, r->executors,
                stalled, stalled > 0 ? ": " : "", stalled > 0 ? strerror(sys) : "");
}

static void health_locks(const health_ctx *x, health_report *r)
{
    char path[CONFIG_PATH_MAX + 32], why[sizeof(r->detail[0])] = "";
    size_t used = 0;

    for (size_t i = 0; i < HEALTH_LOCKS_N; i++) {
        files_hold h, again;
        int n = snprintf(path, sizeof(path), "%s/%s", x->cfg->data_dir, health_lock_files[i]);
        if (n < 0 || (size_t)n >= sizeof(path) || !files_lock_held(path, &h) ||
            h.held_ms <= FILES_LOCK_HELD_MS)
            continue;
        /* A holder that has just taken it may not have stamped it yet:
         * the same holder and stamp a moment later is one long hold. */
        struct timespec ms = {.tv_sec = 0, .tv_nsec = 2000000};
        nanosleep(&ms, NULL);
        if (!files_lock_held(path, &again) || again.pid != h.pid ||
            again.stamp.tv_sec != h.stamp.tv_sec || again.stamp.tv_nsec != h.stamp.tv_nsec)
            continue;
        n = snprintf(why + used, sizeof(why) - used, "%s%s held by pid %ld for about %lld ms",
                     used ? "; " : "", health_lock_files[i], again.pid, again.held_ms);
        if (n > 0 && (size_t)n < sizeof(why) - used)
            used += (size_t)n;
    }
    if (used > 0)
        health_fail(r, HEALTH_LOCKS, "store_busy", "%s: its writers answer 503 store_busy", why);
}

static void health_keeper(const health_ctx *x, health_report *r)
{
    long long at, since, now = clock_mono_ms();
    int shortn;
    if (x->cfg->warm_max <= 0)
        return;
    slots_keeper_state(x->slots, &at, &shortn, &since);
    /* Not reported yet: the pool is starting. */
    if (at == 0)
        return;
    if (now - at > HEALTH_KEEPER_SILENT_MS)
        health_fail(r, HEALTH_KEEPER, "keeper_down",
                    "the warm-pool keeper has not reported for %lld ms", now - at);
    else if (shortn > 0 && now - since > HEALTH_KEEPER_SHORT_MS)
        health_fail(r, HEALTH_KEEPER, "keeper_stalled",
                    "%d function%s below keep_warm for %lld s with no warm container made", shortn,
                    shortn == 1 ? "" : "s", (now - since) / 1000);
}

void health_check(const health_ctx *x, int ping_ms, health_report *r)
{
    memset(r, 0, sizeof(*r));
    for (int p = 0; p < HEALTH__N; p++)
        r->up[p] = true;
    r->functions = -1;
    r->free_bytes = -1;
    r->executors = x->cfg->async_workers;
    health_engine(x, ping_ms, r);
    health_store(x, r);
    health_keys(x, r);
    health_data_dir(x, r);
    health_disk(x, r);
    health_executors(x, r);
    health_locks(x, r);
    health_keeper(x, r);
}

bool health_ok(const health_report *r)
{
    for (int p = 0; p < HEALTH__N; p++)
        if (!r->up[p])
            return false;
    return true;
}
