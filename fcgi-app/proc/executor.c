#include "proc/executor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/log.h"
#include "run/invoke.h"

/* Even with inotify, look at the queue this often: a marker whose backoff
 * has passed makes no event. */
#define EXECUTOR_RESCAN_MS 1000
/* The engine's answer before each claim; and how often to ask again while
 * it does not answer (it is back within this of its return). */
#define EXECUTOR_PING_TIMEOUT_MS 1000
#define EXECUTOR_ENGINE_RETRY_MS 250
/* Retrying a write the disk refused. */
#define EXECUTOR_STALL_MIN_MS 500
#define EXECUTOR_STALL_MAX_MS 10000

typedef struct {
    async_t *async;
    const char *id;
} executor_cancel_arg;

static int executor_cancelled(void *arg)
{
    executor_cancel_arg *c = arg;
    return async_is_cancelled(c->async, c->id);
}

/* How an executor waits: the stop signal, and the queue's inotify. */
typedef struct {
    int sfd, ifd;
} executor_fds;

/* Wait up to `ms` for a stop signal or a new marker. 1 to stop, 0 to look
 * again, -1 on error. */
static int executor_wait(const executor_fds *f, long long ms)
{
    struct pollfd p[2] = {{.fd = f->sfd, .events = POLLIN}, {.fd = f->ifd, .events = POLLIN}};
    if (poll(p, 2, (int)(ms > 0 ? ms : 0)) < 0 && errno != EINTR)
        return -1;
    if (p[0].revents & POLLIN)
        return 1;
    if (p[1].revents & POLLIN) {
        char ev[4096];
        while (read(f->ifd, ev, sizeof(ev)) > 0)
            ;
    }
    return 0;
}

/* Run one claimed job; its outcome into `res` (initialized by the caller). */
static void executor_job(const executor_ctx *x, app_t *app, const runtime_seat *seat,
                         async_job *job, runtime_result *res)
{
    func_t *fn = NULL;
    runtime_req req;
    err_t why;
    uuid_t u;

    if (store_get(app->store, job->function_id, &fn, &why) != 0) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "function %s no longer exists", job->function_id);
        return;
    }
    memset(&req, 0, sizeof(req));
    snprintf(req.id, sizeof(req.id), "%s", job->id);
    /* Every attempt has its own run id, so a container left by an
     * interrupted attempt is never mistaken for this one. */
    uuid_generate_random(u);
    uuid_unparse_lower(u, req.run);
    req.function = fn;
    req.event = job->event.data ? job->event.data : "";
    req.event_len = job->event.len;
    req.timeout_s = job->timeout_s;
    req.attempt = job->attempt;
    req.cancel_fd = -1;
    executor_cancel_arg ca = {.async = app->async, .id = job->id};
    req.cancelled = executor_cancelled;
    req.cancelled_arg = &ca;
    invoke_ctx ix = {.rt = app->runtime, .seat = *seat, .metrics = x->metrics};
    invoke_call(&ix, &req, true, res);
    func_free(fn);
}

/*
 * Record the outcome of `job`: its result, or, when the engine failed it,
 * the run given back untouched. A write that fails (a full disk) is not
 * the end of the run: the executor keeps the outcome, says so in the log and
 * in its state (for /healthz), and tries again with a growing delay until
 * it is written. 0 once recorded, 1 when a stop signal came first (the
 * claim then stays for recovery), -1 on error.
 */
static int executor_record(const executor_ctx *x, app_t *app, const executor_fds *f, async_job *job,
                           const runtime_result *res)
{
    long long delay = EXECUTOR_STALL_MIN_MS;
    for (;;) {
        err_t e;
        int rc = res->engine_fault ? async_release(app->async, job, &e)
                                   : async_finish(app->async, job, res, x->cfg->retry_base_ms, &e);
        if (rc == 0) {
            slots_set_state(x->slots, x->row, SLOTS_UP, 0);
            if (res->engine_fault)
                log_warn("executor %d: the engine failed invocation %s (%s); it is pending again, "
                         "not counted as an attempt",
                         x->index, job->id, res->message);
            return 0;
        }
        slots_set_state(x->slots, x->row, SLOTS_STORAGE_STALL, e.sys);
        log_error("executor %d: cannot record invocation %s: %s; trying again in %lld ms", x->index,
                  job->id, e.msg, delay);
        int w = executor_wait(f, delay);
        if (w != 0)
            return w;
        delay = delay * 2 > EXECUTOR_STALL_MAX_MS ? EXECUTOR_STALL_MAX_MS : delay * 2;
    }
}

/* Whether the engine answers (with several, whether any does, as their
 * probe last found). While it does not, no run is claimed: a run claimed
 * then would only fail for the engine's sake. The state and one log line
 * follow each change. */
static bool executor_engine_up(const executor_ctx *x, const runtime_seat *seat, bool *was_up)
{
    docker_result dr;
    bool up;
    if (engines_multi(seat->conns->en)) {
        up = engines_any_up(seat->conns->en);
        snprintf(dr.message, sizeof(dr.message), "no engine answers");
    } else {
        up = docker_ping(seat->conn, EXECUTOR_PING_TIMEOUT_MS, &dr) == DOCKER_OK;
    }
    if (up != *was_up) {
        if (up)
            log_info("executor %d: the engine answers again; claiming runs", x->index);
        else
            log_warn("executor %d: the engine does not answer (%s); not claiming runs", x->index,
                     dr.message);
        *was_up = up;
    }
    slots_set_state(x->slots, x->row, up ? SLOTS_UP : SLOTS_ENGINE_WAIT, 0);
    return up;
}

int executor_serve(const executor_ctx *x, app_t *app, const runtime_seat *seat, int stop_fd,
                   int queue_fd)
{
    const executor_fds fds = {stop_fd, queue_fd}, *f = &fds;
    bool engine_up = true;
    for (;;) {
        async_job job;
        long long next_due = -1;
        err_t e;
        if (!executor_engine_up(x, seat, &engine_up)) {
            int w = executor_wait(f, EXECUTOR_ENGINE_RETRY_MS);
            if (w != 0)
                return w > 0 ? 0 : -1;
            continue;
        }
        int got = async_claim(app->async, x->index, &job, &next_due, &e);
        int w = 0;
        if (got == 1) {
            runtime_result res;
            runtime_result_init(&res);
            executor_job(x, app, seat, &job, &res);
            w = executor_record(x, app, f, &job, &res);
            runtime_result_free(&res);
        }
        async_job_free(&job);
        /* A lock held past its wait is another's doing: claim again later
         * (/healthz names the lock) rather than restart. */
        if (got < 0 && e.kind == ERR_BUSY) {
            log_warn("executor %d: %s", x->index, e.msg);
            got = 0;
        }
        if (got < 0) {
            log_error("executor %d: %s; restarting", x->index, e.msg);
            return -1;
        }
        if (w != 0)
            return w > 0 ? 0 : -1;
        long long wait_ms = got == 1 ? 0 : EXECUTOR_RESCAN_MS;
        if (got == 0 && next_due >= 0 && next_due - clock_pool_ms() < wait_ms)
            wait_ms = next_due - clock_pool_ms();
        w = executor_wait(f, wait_ms);
        if (w != 0)
            return w > 0 ? 0 : -1;
    }
}

int executor_run(const executor_ctx *x)
{
    app_t app;
    err_t e;
    int rc = 1;
    executor_fds f = {-1, -1};
    sigset_t set;
    engines_conns conns;
    bool have_conns = false;
    lease_client_t *lease = NULL;

    if (app_open(&app, x->cfg, x->slots, x->throttle, x->metrics, x->engines, x->row, x->instance,
                 &e) != 0) {
        log_error("executor %d start-up failed: %s", x->index, e.msg);
        return 1;
    }
    have_conns = engines_conns_init(&conns, app.engines, &e) == 0;
    if (!have_conns)
        log_error("executor %d: %s", x->index, e.msg);
    if (app_lease(&app, &lease, &e) != 0)
        log_warn("executor %d: %s; runs start cold", x->index, e.msg);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    f.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    f.ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (!have_conns || f.sfd < 0 || f.ifd < 0 ||
        inotify_add_watch(f.ifd, async_queue_dir(app.async), IN_CREATE | IN_MOVED_TO) < 0) {
        log_error("executor %d: docker_conn_new(), signalfd() or inotify failed: %s", x->index,
                  strerror(errno));
        goto done;
    }
    slots_set_state(x->slots, x->row, SLOTS_UP, 0);
    runtime_seat seat = {
        .conn = conns.conn[0], .lease = lease, .row = x->row, .thread = 0, .conns = &conns};
    rc = executor_serve(x, &app, &seat, f.sfd, f.ifd) == 0 ? 0 : 1;
done:
    if (f.ifd >= 0)
        close(f.ifd);
    if (f.sfd >= 0)
        close(f.sfd);
    if (have_conns)
        engines_conns_free(&conns);
    lease_client_free(lease);
    app_close(&app);
    return rc;
}
