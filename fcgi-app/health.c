#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "files.h"

static const char *const health_names[HEALTH__N] = {"engine", "store",     "keys", "data_dir",
                                                    "disk",   "executors", "locks"};

/* The store locks /healthz watches, under the data dir. */
static const char *const health_lock_files[] = {"functions.json.lock", "keys.json.lock",
                                                "async/records.lock"};

#define HEALTH_LOCKS_N (sizeof(health_lock_files) / sizeof(health_lock_files[0]))
#define HEALTH_PROC_LOCKS_MAX (1024 * 1024)

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

/* The pid holding a flock(LOCK_EX) on the file `st` describes, as the
 * text of /proc/locks says, or 0 when none does. Waiters ("->") are not
 * holders. */
static long health_holder(const char *locks, const struct stat *st)
{
    for (const char *line = locks; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        char l[256], kind[16], adv[16], mode[16];
        unsigned maj, min;
        unsigned long ino;
        long pid;
        snprintf(l, sizeof(l), "%.*s", (int)(len < sizeof(l) ? len : sizeof(l) - 1), line);
        if (strstr(l, "->") == NULL &&
            sscanf(l, "%*d: %15s %15s %15s %ld %x:%x:%lu", kind, adv, mode, &pid, &maj, &min,
                   &ino) == 7 &&
            strcmp(kind, "FLOCK") == 0 && strcmp(mode, "WRITE") == 0 && maj == major(st->st_dev) &&
            min == minor(st->st_dev) && ino == st->st_ino)
            return pid > 0 ? pid : 1; /* 0: a holder in another pid namespace */
        if (end == NULL)
            break;
        line = end + 1;
    }
    return 0;
}

/* Milliseconds process `pid` has been running, or -1 when unknown. */
static long long health_process_age(long pid)
{
    char path[64], stat[1024];
    struct timespec boot;
    int n = snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (n < 0 || (size_t)n >= sizeof(path) || clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (got <= 0)
        return -1;
    stat[got] = '\0';
    /* Field 22, counted after the command's closing parenthesis (field 2,
     * which may hold spaces): starttime, in clock ticks since boot. */
    const char *p = strrchr(stat, ')');
    unsigned long long start;
    if (p == NULL ||
        sscanf(p + 1,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &start) != 1)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return -1;
    long long boot_ms = (long long)boot.tv_sec * 1000 + boot.tv_nsec / 1000000;
    return boot_ms - (long long)(start * 1000 / (unsigned long long)hz);
}

/*
 * How long the lock `st` describes has been held by `pid`, at most: since
 * its mtime, which files_lock stamps at each taking (exact for the pool's
 * own holders, an upper bound for another's), and no longer than the
 * holder has lived. One look, no lock taken, nothing remembered.
 */
static long long health_hold_age(const struct stat *st, long pid)
{
    long long age =
        clock_wall_ms() - ((long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000);
    long long lived = health_process_age(pid);
    if (lived >= 0 && lived < age)
        age = lived;
    return age;
}

static void health_locks(const health_ctx *x, health_report *r)
{
    char path[CONFIG_PATH_MAX + 32], why[sizeof(r->detail[0])] = "";
    size_t used = 0;
    buf_t locks;
    err_t e;

    buf_init(&locks, HEALTH_PROC_LOCKS_MAX);
    /* Not readable (no /proc): nothing can be said, so nothing is. */
    if (files_read("/proc/locks", &locks, &e) != 0 || locks.data == NULL) {
        buf_free(&locks);
        return;
    }
    for (size_t i = 0; i < HEALTH_LOCKS_N; i++) {
        struct stat st;
        int n = snprintf(path, sizeof(path), "%s/%s", x->cfg->data_dir, health_lock_files[i]);
        if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) != 0)
            continue;
        long pid = health_holder(locks.data, &st);
        long long age = pid > 0 ? health_hold_age(&st, pid) : 0;
        if (age <= FILES_LOCK_WAIT_MS)
            continue;
        n = snprintf(why + used, sizeof(why) - used, "%s%s held by pid %ld for about %lld ms",
                     used ? "; " : "", health_lock_files[i], pid, age);
        if (n > 0 && (size_t)n < sizeof(why) - used)
            used += (size_t)n;
    }
    buf_free(&locks);
    if (used > 0)
        health_fail(r, HEALTH_LOCKS, "store_busy", "%s: its writers answer 503 store_busy", why);
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
}

bool health_ok(const health_report *r)
{
    for (int p = 0; p < HEALTH__N; p++)
        if (!r->up[p])
            return false;
    return true;
}
