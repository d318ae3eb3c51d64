#include "cold.h"

#include <stdlib.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "container.h"

typedef struct {
    slots_t *slots;
} cold_state;

static int cold_acquire(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                        runtime_lease *l, runtime_result *res)
{
    cold_state *st = rt->impl;
    docker_result dr;
    uuid_t run;

    if (uuid_parse(req->run, run) != 0) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "run id \"%.40s\" is not a UUID", req->run);
        return -1;
    }
    /* Recorded before the container exists, so the janitor never takes it
     * for a leftover. */
    slots_track(st->slots, seat->row, seat->thread, run);
    if (container_create(seat->conn, req, rt->instance, l->deadline, l->cid, res) != 0)
        return -1;
    docker_rc rc =
        docker_attach(seat->conn, l->cid, (long)(l->deadline - clock_mono_ms()), &l->stream, &dr);
    if (rc != DOCKER_OK) {
        runtime_fail(res,
                     rc == DOCKER_UNREACHABLE ? STATUS_UNREACHABLE
                     : rc == DOCKER_TIMEOUT   ? STATUS_TIMEOUT
                                              : STATUS_ENGINE_ERROR,
                     "attach: %.400s", dr.message);
        /* Before the start: nothing of the function ran. */
        res->engine_fault = rc == DOCKER_UNREACHABLE || rc == DOCKER_TIMEOUT;
        return -1;
    }
    /* A canceller that looked for this container before it existed has
     * marked the run cancelled by now: look once more before starting. */
    if (req->cancelled != NULL && req->cancelled(req->cancelled_arg)) {
        runtime_fail(res, STATUS_CANCELLED, "the invocation was cancelled");
        return -1;
    }
    return container_start(seat->conn, l->cid, l->deadline, res);
}

static int cold_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                    runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    return container_pump(l->stream, req, res, l->deadline);
}

static void cold_release(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                         runtime_lease *l, runtime_result *res)
{
    cold_state *st = rt->impl;
    if (l->ran)
        container_wait(seat->conn, l->cid, req, l->deadline, res);
    docker_stream_close(l->stream);
    l->stream = NULL;
    if (l->cid[0] != '\0')
        container_remove(seat->conn, l->cid, req->id);
    slots_untrack(st->slots, seat->row, seat->thread);
}

static bool cold_live(runtime_t *rt, json_object *labels)
{
    cold_state *st = rt->impl;
    json_object *run;
    uuid_t u;
    return json_object_object_get_ex(labels, "minilambda.run", &run) &&
           uuid_parse(json_object_get_string(run), u) == 0 && slots_running(st->slots, u);
}

static void cold_free(void *impl)
{
    free(impl);
}

static const runtime_ops cold_ops = {
    .name = "cold",
    .acquire = cold_acquire,
    .run = cold_run,
    .release = cold_release,
    .live = cold_live,
    .free = cold_free,
};

runtime_t *cold_new(slots_t *slots, const char *instance)
{
    cold_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->slots = slots;
    return runtime_new(&cold_ops, st, instance);
}
