#include "run/invoke.h"

#include "base/log.h"
#include "state/func.h"

void invoke_call(const invoke_ctx *x, const runtime_req *req, bool async, runtime_result *res)
{
    const char *fname = req->function->name;
    metrics_begin(x->metrics, x->seat.row, x->seat.thread, fname);
    runtime_run(x->rt, &x->seat, req, res);
    /* A run killed by DELETE ends as whatever its container did; it was
     * cancelled. */
    metrics_status ms = req->cancelled != NULL && req->cancelled(req->cancelled_arg)
                            ? METRICS_CANCELLED
                            : status_metrics(res->status);
    metrics_observe(x->metrics, fname, ms, (double)res->duration_ms);
    if (res->started)
        metrics_start(x->metrics, fname, res->start);
    metrics_end(x->metrics, x->seat.row, x->seat.thread);
    log_info("%sinvoke function=%s id=%s attempt=%d start=%s status=%s exit=%d duration_ms=%ld "
             "out=%zu err=%zu%s%s",
             async ? "async " : "", fname, req->id, req->attempt,
             res->started ? invoke_start_word(res->start) : "none", status_word(res->status),
             res->exit_code, res->duration_ms, res->out.len, res->err.len,
             res->status == STATUS_SUCCEEDED ? "" : " error=",
             res->status == STATUS_SUCCEEDED ? "" : res->message);
}

const char *invoke_start_word(metrics_start_kind start)
{
    static const char *const words[METRICS_START__COUNT] = {"cold", "warm", "reused"};
    return start < METRICS_START__COUNT ? words[start] : "cold";
}

json_object *invoke_text(const buf_t *b)
{
    bool cut = b->len >= b->max;
    buf_t t;
    json_object *o = NULL;
    /* Each bad byte becomes three: the bound can never be hit. */
    buf_init(&t, b->len * 3 + 1);
    if (buf_append_utf8(&t, b->data ? b->data : "", b->len, cut) == BUF_OK)
        o = json_object_new_string_len(t.data ? t.data : "", (int)t.len);
    buf_free(&t);
    return o;
}
