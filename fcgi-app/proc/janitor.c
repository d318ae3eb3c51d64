#include "proc/janitor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "engine/docker.h"
#include "history/async.h"
#include "history/records.h"
#include "run/reap.h"
#include "run/start.h"
#include "state/idem.h"

/* While recovery waits (a full disk), try it this often. */
#define JANITOR_RETRY_MS 1000

typedef struct {
    const janitor_ctx *x;
    async_t *async;
    records_t *records;
    engines_t *engines;
    engines_conns conns;
    bool have_conns;
    engines_probe_t *probe; /* pings every engine in the background */
    idem_t *idem;           /* whose records the periodic pass prunes */
    runtime_t *runtime;
} janitor_state;

/* Recover what awaits recovery, after a sweep: the start-up's (all rows)
 * and each dead executor's. Tells the master when a row is done. Returns
 * whether something still waits. */
static bool janitor_recover(janitor_state *st)
{
    const janitor_ctx *x = st->x;
    bool waiting = false, done = false;
    err_t e;
    if (slots_needs_recovery(x->slots, SLOTS_ALL_ROWS)) {
        if (async_recover(st->async, -1, &e) >= 0) {
            slots_recovered(x->slots, SLOTS_ALL_ROWS);
            done = true;
        } else {
            log_error("async recovery: %s", e.msg);
            waiting = true;
        }
    }
    for (int i = 0; i < x->executors; i++) {
        int row = x->first_executor + i;
        if (!slots_needs_recovery(x->slots, row))
            continue;
        if (async_recover(st->async, i, &e) >= 0) {
            slots_recovered(x->slots, row);
            done = true;
        } else {
            log_error("async recovery of executor %d: %s", i, e.msg);
            waiting = true;
        }
    }
    if (done)
        kill(getppid(), SIGUSR1);
    return waiting;
}

/* Whether something awaits recovery. */
static bool janitor_pending(const janitor_ctx *x)
{
    bool any = slots_needs_recovery(x->slots, SLOTS_ALL_ROWS);
    for (int i = 0; i < x->executors && !any; i++)
        any = slots_needs_recovery(x->slots, x->first_executor + i);
    return any;
}

/* Sweep every engine that answers; one that does not is swept when it
 * is back (its containers' runs are over by then: the calls gave up). */
static void janitor_sweep(janitor_state *st)
{
    for (int i = 0; i < engines_count(st->engines); i++) {
        err_t e;
        /* An engine that stops answering between the check and the list
         * is marked down by its health check: no warning each pass. */
        if (engines_up(st->engines, i) && reap_sweep(st->conns.conn[i], st->runtime, &e) < 0)
            log_msg(e.kind == ERR_ENGINE_UNREACHABLE ? LOG_DEBUG : LOG_WARN,
                    "janitor: sweeping engine %d: %s", i, e.msg);
    }
}

/* One pass: sweep, then recover what waits. Returns whether something
 * still waits. */
static bool janitor_pass(janitor_state *st)
{
    /* The sweep goes first: a dead process's container must be gone before
     * a retry of its run can start. */
    janitor_sweep(st);
    return janitor_recover(st);
}

static int janitor_open(janitor_state *st, const janitor_ctx *x, err_t *e)
{
    memset(st, 0, sizeof(*st));
    st->x = x;
    records_limits lim = records_limits_of(x->cfg);
    if ((st->async = async_open(x->cfg->data_dir, e)) == NULL ||
        (st->records = records_open(x->cfg->data_dir, &lim, e)) == NULL ||
        (st->engines = engines_open(x->cfg, x->engines, e)) == NULL)
        return -1;
    if ((st->idem = idem_open(x->cfg->data_dir, x->cfg->idempotency_max_bytes,
                              x->cfg->idempotency_key_max_bytes, e)) == NULL)
        return -1;
    st->have_conns = engines_conns_init(&st->conns, st->engines, e) == 0;
    if (!st->have_conns)
        return -1;
    st->runtime = start_new(x->slots, x->instance, x->cfg->init);
    if (st->runtime == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "start_new() failed: out of memory");
    if ((st->probe = engines_probe_start(st->engines)) == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "the engine probe could not start");
    return 0;
}

static void janitor_close(janitor_state *st)
{
    engines_probe_stop(st->probe);
    runtime_free(st->runtime);
    if (st->have_conns)
        engines_conns_free(&st->conns);
    engines_close(st->engines);
    records_close(st->records);
    async_close(st->async);
    idem_close(st->idem);
}

/* The temp files of writes a crash interrupted, in the data dir. */
static void janitor_tmp(janitor_state *st)
{
    err_t e;
    int n = files_sweep_tmp(st->x->cfg->data_dir, &e);
    int m = async_sweep_tmp(st->async, &e);
    if (n < 0 || m < 0)
        log_warn("janitor: removing temp files: %s", e.msg);
    else if (n + m > 0)
        log_info("janitor: removed %d temp files of interrupted writes", n + m);
}

/* Async records past the retention, then past the per-function and byte
 * caps; a failure is logged and the next pass tries again. */
static void janitor_prune_async(janitor_state *st)
{
    err_t e;
    int aged = async_prune(st->async, st->x->cfg->retention, &e);
    if (aged < 0)
        log_warn("janitor: pruning async records past the retention: %s", e.msg);
    else if (aged > 0)
        log_info("janitor: pruned %d finished async records past the retention", aged);
    int b =
        async_bound(st->async, st->x->cfg->records_per_function, st->x->cfg->records_max_bytes, &e);
    if (b < 0)
        log_warn("janitor: bounding async records: %s", e.msg);
    else if (b > 0)
        log_info("janitor: pruned %d finished async records past the per-function or byte cap", b);
}

/* Idempotency-Key records past their time to live. */
static void janitor_prune_idem(janitor_state *st)
{
    err_t e;
    if (idem_prune(st->idem, clock_wall_ms(), &e) < 0)
        log_warn("janitor: pruning Idempotency-Key records: %s", e.msg);
}

/* Sync records past their cap, retention or the byte cap. */
static void janitor_prune_records(janitor_state *st)
{
    records_pruned p;
    err_t e;
    if (records_prune(st->records, clock_pool_ms(), &p, &e) != 0)
        log_warn("janitor: pruning invocation records: %s", e.msg);
    else if (p.segments > 0)
        log_info("janitor: pruned %ld record segments (%lld bytes), %lld bytes left", p.segments,
                 p.bytes_freed, p.bytes_left);
}

int janitor_run(const janitor_ctx *x)
{
    janitor_state st;
    sigset_t set;
    err_t e;
    int rc = 1, sfd = -1;

    if (janitor_open(&st, x, &e) != 0) {
        log_error("janitor start-up failed: %s", e.msg);
        goto done;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        log_error("janitor: signalfd() failed: %s", strerror(errno));
        goto done;
    }
    janitor_tmp(&st);
    bool waiting = janitor_pass(&st);
    long long next = clock_mono_ms() + x->cfg->janitor_interval * 1000LL;
    for (;;) {
        long long left = next - clock_mono_ms();
        if (waiting && left > JANITOR_RETRY_MS)
            left = JANITOR_RETRY_MS;
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left > 0 ? left : 0));
        struct signalfd_siginfo si;
        if (r > 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGUSR1)
            break;
        if (r < 0 && errno != EINTR) {
            log_error("janitor: poll() failed: %s", strerror(errno));
            goto done;
        }
        bool due = clock_mono_ms() >= next;
        if (r > 0 || waiting || due || janitor_pending(x))
            waiting = janitor_pass(&st);
        if (due) {
            janitor_prune_async(&st);
            janitor_prune_records(&st);
            janitor_prune_idem(&st);
            next = clock_mono_ms() + x->cfg->janitor_interval * 1000LL;
        }
    }
    /* The others have stopped: a last sweep for what they left. */
    janitor_sweep(&st);
    rc = 0;
done:
    if (sfd >= 0)
        close(sfd);
    janitor_close(&st);
    return rc;
}
