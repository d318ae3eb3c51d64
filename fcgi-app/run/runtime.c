#include "run/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

void runtime_result_init(runtime_result *r)
{
    memset(r, 0, sizeof(*r));
    r->exit_code = -1;
    r->engine = -1;
    buf_init(&r->out, RUNTIME_STDOUT_MAX);
    buf_init(&r->err, RUNTIME_STDERR_MAX);
}

void runtime_result_free(runtime_result *r)
{
    buf_free(&r->out);
    buf_free(&r->err);
}

void runtime_fail(runtime_result *r, status_outcome status, const char *fmt, ...)
{
    va_list ap;
    r->status = status;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
}

runtime_t *runtime_new(const runtime_ops *ops, void *impl, const char *instance)
{
    runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        ops->free(impl);
        return NULL;
    }
    rt->ops = ops;
    rt->impl = impl;
    snprintf(rt->instance, sizeof(rt->instance), "%s", instance);
    return rt;
}

void runtime_free(runtime_t *rt)
{
    if (rt == NULL)
        return;
    rt->ops->free(rt->impl);
    free(rt);
}

void runtime_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                 runtime_result *res)
{
    long long start = clock_mono_ms();
    runtime_lease l;

    memset(&l, 0, sizeof(l));
    l.engine = -1;
    l.conn = seat->conn;
    l.deadline = start + (long long)req->timeout_s * 1000;
    if (rt->ops->acquire(rt, seat, req, &l, res) == 0) {
        res->started = true;
        if (rt->ops->run(rt, seat, req, &l, res) == 0)
            l.ran = true;
    }
    rt->ops->release(rt, seat, req, &l, res);
    res->duration_ms = (long)(clock_mono_ms() - start);
}

bool runtime_live(runtime_t *rt, json_object *labels)
{
    return rt->ops->live(rt, labels);
}
