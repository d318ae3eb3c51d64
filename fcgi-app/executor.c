#include "executor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "async.h"
#include "docker.h"
#include "invoke.h"
#include "log.h"
#include "store.h"

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

/* Run one claimed job to its recorded end. 0, or -1 when its outcome could
 * not be recorded. */
static int executor_job(const executor_ctx *x, async_t *async, store_t *store, docker_conn_t *conn,
                        async_job *job)
{
    json_object *fn = NULL;
    invoke_result res;
    int rc;
    invoke_req ir;
    uuid_t u;

    invoke_result_init(&res);
    if (store_get(store, job->function_id, &fn) != STORE_OK) {
        res.status = INVOKE_ENGINE_ERROR;
        snprintf(res.message, sizeof(res.message), "function %s no longer exists",
                 job->function_id);
        goto done;
    }
    memset(&ir, 0, sizeof(ir));
    snprintf(ir.id, sizeof(ir.id), "%s", job->id);
    /* Every attempt has its own run id, so a container left by an
     * interrupted attempt is never mistaken for this one. */
    uuid_generate_random(u);
    uuid_unparse_lower(u, ir.run);
    ir.function = fn;
    ir.instance = x->instance;
    ir.event = job->event.data ? job->event.data : "";
    ir.event_len = job->event.len;
    ir.timeout_s = job->timeout_s;
    ir.attempt = job->attempt;
    ir.cancel_fd = -1;
    executor_cancel_arg ca = {.async = async, .id = job->id};
    ir.cancelled = executor_cancelled;
    ir.cancelled_arg = &ca;

    const char *fname = json_object_get_string(json_object_object_get(fn, "name"));
    slots_track(x->slots, x->row, 0, u);
    metrics_begin(x->metrics, x->row, 0, fname);
    invoke_run(conn, &ir, &res);
    /* A run killed by DELETE ends as whatever its container did; it was
     * cancelled. */
    metrics_status ms =
        async_is_cancelled(async, job->id) ? METRICS_CANCELLED : invoke_metrics_status(res.status);
    metrics_observe(x->metrics, fname, ms, (double)res.duration_ms);
    metrics_end(x->metrics, x->row, 0);
    slots_untrack(x->slots, x->row, 0);
    log_info("async invoke function=%s id=%s attempt=%d status=%s exit=%d duration_ms=%ld%s%s",
             fname, job->id, job->attempt, invoke_status_name(res.status), res.exit_code,
             res.duration_ms, res.status == INVOKE_SUCCEEDED ? "" : " error=",
             res.status == INVOKE_SUCCEEDED ? "" : res.message);
done:
    rc = async_finish(async, job, &res, x->cfg->retry_base_ms);
    invoke_result_free(&res);
    json_object_put(fn);
    return rc;
}

int executor_run(const executor_ctx *x)
{
    char err[512];
    int rc = 1, ifd = -1, sfd = -1;
    sigset_t set;
    docker_t *docker = NULL;
    docker_conn_t *conn = NULL;
    store_t *store = NULL;
    async_t *async = async_open(x->cfg->data_dir, err, sizeof(err));

    if (async != NULL)
        store = store_open(x->cfg->data_dir, err, sizeof(err));
    if (store != NULL)
        docker = docker_new(err, sizeof(err));
    if (docker != NULL)
        conn = docker_conn_new(docker);
    if (async == NULL || store == NULL || docker == NULL || conn == NULL) {
        log_error("executor %d start-up failed: %s", x->index, err);
        goto done;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (sfd < 0 || ifd < 0 ||
        inotify_add_watch(ifd, async_queue_dir(async), IN_CREATE | IN_MOVED_TO) < 0) {
        log_error("executor %d: signalfd/inotify failed: %s", x->index, strerror(errno));
        goto done;
    }
    for (;;) {
        async_job job;
        long long next_due = -1;
        int got = async_claim(async, x->index, &job, &next_due);
        if (got == 1 && executor_job(x, async, store, conn, &job) != 0)
            got = -1;
        async_job_free(&job);
        if (got < 0) {
            /* Exit: the master respawns us and recovers what we held. */
            log_error("executor %d: the async store failed; restarting", x->index);
            goto done;
        }
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = ifd, .events = POLLIN}};
        int wait_ms = got == 1 ? 0 : EXECUTOR_RESCAN_MS;
        if (got == 0 && next_due >= 0) {
            struct timeval tv;
            gettimeofday(&tv, NULL);
            long long left = next_due - ((long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
            if (left < wait_ms)
                wait_ms = left > 0 ? (int)left : 0;
        }
        if (poll(p, 2, wait_ms) < 0 && errno != EINTR) {
            log_error("executor %d: poll() failed: %s", x->index, strerror(errno));
            goto done;
        }
        if (p[0].revents & POLLIN)
            break;
        if (p[1].revents & POLLIN) {
            char ev[4096];
            while (read(ifd, ev, sizeof(ev)) > 0)
                ;
        }
    }
    rc = 0;
done:
    if (ifd >= 0)
        close(ifd);
    if (sfd >= 0)
        close(sfd);
    docker_conn_free(conn);
    docker_free(docker);
    store_close(store);
    async_close(async);
    return rc;
}
