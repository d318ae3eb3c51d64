#include "executor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "app.h"
#include "clock.h"
#include "invoke.h"
#include "log.h"

/* Even with inotify, look at the queue this often: a marker whose backoff
 * has passed makes no event. */
#define EXECUTOR_RESCAN_MS 1000

typedef struct {
    async_t *async;
    const char *id;
} executor_cancel_arg;

static int executor_cancelled(void *arg)
{
    executor_cancel_arg *c = arg;
    return async_is_cancelled(c->async, c->id);
}

/* Run one claimed job to its recorded end. 0, or -1 with `e` when its
 * outcome could not be recorded. */
static int executor_job(const executor_ctx *x, app_t *app, docker_conn_t *conn, async_job *job,
                        err_t *e)
{
    json_object *fn = NULL;
    runtime_result res;
    runtime_req req;
    err_t why;
    uuid_t u;
    int rc;

    runtime_result_init(&res);
    if (store_get(app->store, job->function_id, &fn, &why) != 0) {
        runtime_fail(&res, STATUS_ENGINE_ERROR, "function %s no longer exists", job->function_id);
        goto done;
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
    invoke_ctx ix = {.rt = app->runtime,
                     .seat = {.conn = conn, .row = x->row, .thread = 0},
                     .metrics = x->metrics};
    invoke_call(&ix, &req, true, &res);
done:
    rc = async_finish(app->async, job, &res, x->cfg->retry_base_ms, e);
    runtime_result_free(&res);
    json_object_put(fn);
    return rc;
}

/* Wait for the next due run, a new marker or a stop signal. 1 to stop, 0
 * to look again, -1 on error. */
static int executor_wait(int sfd, int ifd, int got, long long next_due)
{
    struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = ifd, .events = POLLIN}};
    int wait_ms = got == 1 ? 0 : EXECUTOR_RESCAN_MS;
    if (got == 0 && next_due >= 0) {
        long long left = next_due - clock_wall_ms();
        if (left < wait_ms)
            wait_ms = left > 0 ? (int)left : 0;
    }
    if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
        return -1;
    if (p[0].revents & POLLIN)
        return 1;
    if (p[1].revents & POLLIN) {
        char ev[4096];
        while (read(ifd, ev, sizeof(ev)) > 0)
            ;
    }
    return 0;
}

int executor_run(const executor_ctx *x)
{
    app_t app;
    err_t e;
    int rc = 1, ifd = -1, sfd = -1;
    sigset_t set;
    docker_conn_t *conn = NULL;

    if (app_open(&app, x->cfg, x->slots, x->throttle, x->metrics, x->row, x->instance, &e) != 0) {
        log_error("executor %d start-up failed: %s", x->index, e.msg);
        return 1;
    }
    conn = docker_conn_new(app.docker);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (conn == NULL || sfd < 0 || ifd < 0 ||
        inotify_add_watch(ifd, async_queue_dir(app.async), IN_CREATE | IN_MOVED_TO) < 0) {
        log_error("executor %d: docker_conn_new(), signalfd() or inotify failed: %s", x->index,
                  strerror(errno));
        goto done;
    }
    for (;;) {
        async_job job;
        long long next_due = -1;
        int got = async_claim(app.async, x->index, &job, &next_due, &e);
        if (got == 1 && executor_job(x, &app, conn, &job, &e) != 0)
            got = -1;
        async_job_free(&job);
        if (got < 0) {
            /* Exit: the master respawns us and recovers what we held. */
            log_error("executor %d: %s; restarting", x->index, e.msg);
            goto done;
        }
        int w = executor_wait(sfd, ifd, got, next_due);
        if (w < 0) {
            log_error("executor %d: poll() failed: %s", x->index, strerror(errno));
            goto done;
        }
        if (w > 0)
            break;
    }
    rc = 0;
done:
    if (ifd >= 0)
        close(ifd);
    if (sfd >= 0)
        close(sfd);
    docker_conn_free(conn);
    app_close(&app);
    return rc;
}
