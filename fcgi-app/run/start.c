#include "run/start.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "engine/engines.h"
#include "parse/frames.h"
#include "parse/initwire.h"
#include "run/container.h"
#include "state/func.h"

/* A request header: a few short values. */
#define START_HEADER_MAX 4096
/* An event up to this size goes in one write with its header: the process
 * reading them wakes once, not twice. */
#define START_ONE_WRITE_MAX 32768
/* Ready containers a call takes, one after the other discarded for what
 * they wrote while idle, before it goes cold. */
#define START_TAKE_TRIES 3
/* How long a failed run's engine gets to answer before it is taken out. */
#define START_PING_MS 500

typedef struct {
    slots_t *slots;
    char init[CONFIG_PATH_MAX]; /* "" when there is none */
} start_state;

/* Hold engine `i` for the run: its connection, and one more call in
 * flight on it. */
static void start_enter(const runtime_seat *seat, runtime_lease *l, int i, runtime_result *res)
{
    if (seat->conns == NULL || i < 0 || i >= engines_count(seat->conns->en))
        i = 0;
    l->engine = i;
    l->conn = seat->conns != NULL ? seat->conns->conn[i] : seat->conn;
    res->engine = i;
    if (seat->conns != NULL) {
        l->engine_outs = engines_outs(seat->conns->en, i);
        engines_enter(seat->conns->en, seat->row, i);
    }
}

/* The run is off engine l->engine (its connection stays for removal). */
static void start_leave(const runtime_seat *seat, runtime_lease *l)
{
    if (seat->conns != NULL && l->engine >= 0)
        engines_leave(seat->conns->en, seat->row, l->engine);
}

/* Place a cold run on the healthy engine with the fewest calls in flight
 * for its weight, not one of `skip`. 0, or -1 with `res` failed. */
static int start_place(const runtime_seat *seat, runtime_lease *l, unsigned skip,
                       runtime_result *res)
{
    err_t e;
    if (seat->conns == NULL) {
        start_enter(seat, l, 0, res);
        return 0;
    }
    int i = engines_place(seat->conns->en, skip, 0, &e);
    if (i < 0) {
        /* Every engine lacks the image: that is the answer, not the
         * engines' health. */
        if (skip == 0 || res->status != STATUS_IMAGE_MISSING) {
            runtime_fail(res, STATUS_UNAVAILABLE, "%s", e.msg);
            res->engine_fault = true;
        }
        return -1;
    }
    start_enter(seat, l, i, res);
    return 0;
}

/* After a create, attach or start failed on l->engine, nothing of the
 * function run: whether the engine is dying (it refuses connections, or
 * answered an error and no longer answers a ping), so that the run may go
 * to another engine; one that is is taken out now. */
static bool start_dying(const runtime_seat *seat, runtime_lease *l, const runtime_result *res)
{
    docker_result dr;
    if (seat->conns == NULL || !engines_multi(seat->conns->en) ||
        (res->status != STATUS_UNREACHABLE && res->status != STATUS_ENGINE_ERROR))
        return false;
    if (res->status == STATUS_ENGINE_ERROR) {
        if (docker_ping(l->conn, START_PING_MS, &dr) == DOCKER_OK)
            return false;
        engines_set_up(seat->conns->en, l->engine, false, dr.message);
    } else {
        engines_set_up(seat->conns->en, l->engine, false, res->message);
    }
    return true;
}

/* Where a run goes after container_create failed on its engine. */
typedef enum {
    START_STOP = 0, /* nowhere: the failure is the answer */
    START_SAME,     /* the same engine again: it pulled the image */
    START_OTHER     /* another engine */
} start_next;

/* After container_create failed on l->engine: where the run may go (only
 * ever before anything of it ran). An engine that stopped answering, or
 * answered an error and then no ping (one shutting down), is taken out
 * now; one that lacks the image pulls it from the registry when
 * there is one and `may_pull`, else the run goes to another engine. */
static start_next start_elsewhere(const runtime_seat *seat, const runtime_req *req,
                                  runtime_lease *l, runtime_result *res, bool may_pull)
{
    if (seat->conns == NULL || !engines_multi(seat->conns->en))
        return START_STOP;
    engines_t *en = seat->conns->en;
    if (start_dying(seat, l, res))
        return START_OTHER;
    if (res->status != STATUS_IMAGE_MISSING)
        return START_STOP;
    if (may_pull && engines_registry(en)[0] != '\0') {
        err_t e;
        if (engines_pull(en, l->conn, l->engine, req->function->image, l->deadline, &e) == 0)
            return START_SAME;
        log_warn("invoke %s: %s", req->id, e.msg);
    }
    return engines_count(en) > 1 ? START_OTHER : START_STOP;
}

/* Remove the container: by the keeper, off the call's path, or here.
 * One on an engine that stopped answering (`gone`) is left to the janitor,
 * which removes it once the engine answers: asking now would hold the
 * call, or the keeper, for a removal's timeout on a frozen engine. The
 * keeper is still told of one it leased, so that it forgets it. */
static void start_remove(const runtime_seat *seat, const runtime_req *req, runtime_lease *l,
                         bool gone)
{
    err_t e;
    if (l->cid[0] == '\0' || (gone && !l->leased))
        return;
    if (lease_remove(seat->lease, req->function->id, l->cid, l->leased,
                     l->engine < 0 ? 0 : l->engine, &e) == 0)
        return;
    log_debug("invoke %s: the keeper does not remove %.12s (%s)", req->id, l->cid, e.msg);
    if (!gone)
        container_remove(l->conn, l->cid, req->id);
}

/* Ask the keeper for a ready container. 1 with `l` holding it, 2 when the
 * one it gave was discarded (ask again), else 0. */
static int start_take(const start_state *st, const runtime_seat *seat, const runtime_req *req,
                      runtime_lease *l, runtime_result *res)
{
    lease_msg m;
    int fd;
    const char *fid = req->function->id;
    if (lease_take(seat->lease, fid, l->generation, l->mode, seat->row, seat->thread, &m, &fd) != 1)
        return 0;
    l->stream = docker_stream_adopt(fd, m.unread, m.unread_len);
    start_enter(seat, l, m.engine, res);
    snprintf(l->cid, sizeof(l->cid), "%s", m.cid);
    snprintf(l->run, sizeof(l->run), "%s", m.run);
    l->leased = true;
    if (l->stream == NULL) {
        /* Out of memory: the keeper already tracked it here; release
         * removes it. */
        close(fd);
        runtime_fail(res, STATUS_ENGINE_ERROR, "out of memory taking a warm container");
        return -1;
    }
    /* A container that served before must be silent now: whatever it wrote
     * since its last answer (a late answer, a forged frame, stray logs) is
     * nobody's to read, and the next call must not. (A new one's output
     * since its start is no call's: the first call reads it, as a cold
     * call would.) */
    if (m.start == METRICS_START_REUSED && docker_stream_pending(l->stream)) {
        log_warn("invoke %s: warm container %.12s wrote while it was idle; it is discarded",
                 req->id, l->cid);
        docker_stream_close(l->stream);
        l->stream = NULL;
        start_remove(seat, req, l, false);
        l->cid[0] = '\0';
        l->leased = false;
        start_leave(seat, l);
        l->engine = -1;
        slots_untrack(st->slots, seat->row, seat->thread);
        return 2;
    }
    res->start = (metrics_start_kind)m.start;
    return 1;
}

/* Attach to the created container and start it. 0, or -1 with `res`
 * failed. */
static int start_begin(const runtime_req *req, runtime_lease *l, runtime_result *res)
{
    docker_result dr;
    docker_rc rc =
        docker_attach(l->conn, l->cid, (long)(l->deadline - clock_mono_ms()), &l->stream, &dr);
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
    return container_start(l->conn, l->cid, l->deadline, res);
}

static int start_acquire(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                         runtime_lease *l, runtime_result *res)
{
    start_state *st = rt->impl;
    uuid_t run;

    l->mode = container_mode_of(req->function, st->init[0] != '\0');
    if (req->function->lambda && st->init[0] == '\0') {
        runtime_fail(res, STATUS_ENGINE_ERROR,
                     "protocol \"lambda\" runs under minilambda-init, and this platform has "
                     "none (MINILAMBDA_INIT)");
        return -1;
    }
    /* The record's hash (a serialisation of it): what take and give name. */
    l->generation = req->function->generation;
    int took = 0;
    for (int tries = 0;
         l->mode != CONTAINER_COLD && seat->lease != NULL && tries < START_TAKE_TRIES; tries++) {
        took = start_take(st, seat, req, l, res);
        if (took != 2)
            break;
    }
    if (took < 0)
        return -1;
    if (took == 1) {
        if (req->cancelled != NULL && req->cancelled(req->cancelled_arg)) {
            runtime_fail(res, STATUS_CANCELLED, "the invocation was cancelled");
            return -1;
        }
        return 0;
    }
    /* None ready: start cold at once. A call without reuse gets a fresh
     * container of its own, its values in its env (a lambda runtime's come
     * over the Runtime API: it stays under init). */
    if (l->mode == CONTAINER_FRESH && !req->function->lambda)
        l->mode = CONTAINER_COLD;
    res->start = METRICS_START_COLD;
    snprintf(l->run, sizeof(l->run), "%s", req->run);
    if (uuid_parse(req->run, run) != 0) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "run id \"%.40s\" is not a UUID", req->run);
        return -1;
    }
    /* Recorded before the container exists, so the janitor never takes it
     * for a leftover. */
    slots_track(st->slots, seat->row, seat->thread, run);
    unsigned skip = 0;
    int pulled = -1;
    for (;;) {
        if (start_place(seat, l, skip, res) != 0)
            return -1;
        start_next next;
        if (container_create(l->conn, req, rt->instance, (container_mode)l->mode, st->init,
                             l->deadline, l->cid, res) == 0) {
            if (start_begin(req, l, res) == 0)
                return 0;
            if (!start_dying(seat, l, res))
                return -1;
            /* Made but never started, on an engine that is going: the run
             * goes elsewhere. The container stays tracked under the run
             * until the call ends, then the janitor removes it once its
             * engine answers (asking a dying engine now would only hold
             * the call). */
            log_warn("invoke %s: engine %s failed the container before the start (%s); placing "
                     "the call again",
                     req->id, engines_name(seat->conns->en, l->engine), res->message);
            docker_stream_close(l->stream);
            l->stream = NULL;
            l->cid[0] = '\0';
            next = START_OTHER;
        } else {
            /* Pulled once: the same engine is asked again; else another. */
            next = start_elsewhere(seat, req, l, res, pulled != l->engine);
        }
        if (next == START_SAME)
            pulled = l->engine;
        else
            skip |= 1u << l->engine;
        start_leave(seat, l);
        l->engine = -1;
        if (next == START_STOP)
            return -1;
        res->engine_fault = false;
    }
}

/* One answer of a reused container, parsed as it comes. */
typedef struct {
    frames_parser p;
    runtime_result *res;
} start_answer;

static void start_sink(void *arg, int stream, const char *p, size_t n)
{
    container_feed_plain(arg, stream, p, n);
}

static int start_feed(void *arg, int stream, const char *p, size_t n)
{
    start_answer *a = arg;
    int r = frames_feed(&a->p, stream, p, n);
    if (r < 0)
        runtime_fail(a->res, STATUS_PROTOCOL_ERROR, "%s; the container was discarded", a->p.error);
    return r;
}

/* The errorType of the Lambda error body `b`, when it is one, into `out`
 * (`len` bytes); else "Unhandled", as Lambda says of a function error
 * without a type. */
static void start_error_type(const buf_t *b, char *out, size_t len)
{
    json_object *o = NULL, *t;
    if (b->len > 0 && b->len < 65536) {
        json_tokener *tok = json_tokener_new();
        if (tok != NULL) {
            o = json_tokener_parse_ex(tok, b->data, (int)b->len);
            json_tokener_free(tok);
        }
    }
    if (json_object_object_get_ex(o, "errorType", &t) && json_object_is_type(t, json_type_string) &&
        json_object_get_string_len(t) > 0)
        snprintf(out, len, "%s", json_object_get_string(t));
    else
        snprintf(out, len, "Unhandled");
    json_object_put(o);
}

/* How a lambda runtime's answer ended, into `res`: a /response, an
 * /error or an init error (the container goes: `*reusable` false). */
static void start_lambda_end(const frames_parser *p, runtime_result *res, bool *reusable)
{
    if (p->end == 'x') {
        container_exited(res, 0);
        return;
    }
    res->exit_code = 1;
    if (p->error_type_len > 0)
        snprintf(res->error_type, sizeof(res->error_type), "%s", p->error_type);
    else
        start_error_type(&res->out, res->error_type, sizeof(res->error_type));
    if (p->end == 'i') {
        *reusable = false;
        runtime_fail(res, STATUS_INIT_ERROR, "the runtime failed its init: %s", res->error_type);
        return;
    }
    runtime_fail(res, STATUS_FAILED, "the function failed: %s", res->error_type);
}

static int start_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                     runtime_lease *l, runtime_result *res)
{
    (void)rt;
    (void)seat;
    bool lambda = req->function->lambda;
    if (l->mode == CONTAINER_COLD)
        return container_pump(l->stream, req, res, l->deadline);
    if (lambda && req->event_len > INITWIRE_LAMBDA_BODY_MAX) {
        snprintf(res->error_type, sizeof(res->error_type), "RequestTooLarge");
        runtime_fail(res, STATUS_FAILED,
                     "the event is %zu bytes; a protocol \"lambda\" function takes at most %u, "
                     "as Lambda",
                     req->event_len, INITWIRE_LAMBDA_BODY_MAX);
        return -1;
    }

    char nonce[FRAMES_NONCE_LEN + 1];
    frames_call call = {.function = req->function->name,
                        .id = req->id,
                        .attempt = req->attempt,
                        .deadline_ms = clock_wall_ms() + (long long)req->timeout_s * 1000,
                        .nonce = nonce,
                        .client_context = lambda ? req->client_context : NULL,
                        .cognito_identity = lambda ? req->cognito_identity : NULL};
    start_answer a = {.res = res};
    buf_t head;
    int rc = -1;
    buf_init(&head, START_HEADER_MAX + START_ONE_WRITE_MAX);
    /* The call's output is known by its nonce: nothing written before this
     * call (or by someone who cannot know it) passes for its answer. */
    if (frames_nonce(nonce) != 0) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "getrandom() gave no nonce for the call");
        goto done;
    }
    int hr = l->mode == CONTAINER_PROCESS ? frames_loop_request(&head, &call, req->event_len)
                                          : frames_init_request(&head, &call, req->event_len);
    if (hr != 0 || head.len > START_HEADER_MAX) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "the request header does not fit");
        goto done;
    }
    container_io io = {.in = req->event, .in_len = req->event_len, .watch_cancel = true};
    if (req->event_len <= START_ONE_WRITE_MAX &&
        buf_append(&head, req->event, req->event_len) == BUF_OK)
        io.in_len = 0;
    io.pre = head.data;
    io.pre_len = head.len;
    /* Fresh: init frames the one call's output like a reused container's,
     * and its "x" frame ends the call, so the answer never waits for the
     * engine to see the container exit; release removes it. */
    frames_begin(&a.p, l->mode == CONTAINER_PROCESS, nonce, start_sink, res);
    io.feed = start_feed;
    io.arg = &a;
    if (container_exchange(l->stream, req, &io, res, l->deadline) != 0) {
        /* A runtime that never took the event: its init never ended. */
        if (lambda && res->status == STATUS_TIMEOUT && !a.p.taken)
            runtime_fail(res, STATUS_INIT_TIMEOUT,
                         "the runtime did not ask for the event (GET "
                         "/2018-06-01/runtime/invocation/next) within %d s: its init did not end",
                         req->timeout_s);
        if (!lambda && l->mode == CONTAINER_FRESH && res->status == STATUS_PROTOCOL_ERROR) {
            /* init itself was killed, or the engine cut the stream: what
             * the container ended with is the engine's to tell, as for a
             * cold one (release waits for it). */
            l->mode = CONTAINER_COLD;
            res->status = STATUS_SUCCEEDED;
            res->message[0] = '\0';
            rc = 0;
        }
        goto done;
    }
    /* Output after the answer means the next call could not trust it. */
    l->reusable = l->mode != CONTAINER_FRESH && !io.spill;
    if (lambda)
        start_lambda_end(&a.p, res, &l->reusable);
    else
        container_exited(res, a.p.exit_code);
    rc = 0;
done:
    buf_free(&head);
    return rc;
}

/*
 * A run that did not end by its function's doing (an exit, a timeout on a
 * healthy engine), its cancel or a missing image: did its engine fail it?
 * It did when the probe took the engine out while the run was on it (a
 * frozen engine: the run then times out), or when the engine does not
 * answer a ping now, on a new connection (an engine shutting down closes
 * its listener before it stops its containers: the run saw an exit 143 or
 * 137, or a cut stream, from an engine that no longer takes connections).
 * Then the call ends 503 (engine_unavailable with several engines,
 * engine_unreachable with one) and is not the function's attempt.
 * Returns whether it did.
 */
static bool start_gone(const runtime_seat *seat, runtime_lease *l, runtime_result *res)
{
    docker_result dr;
    if (l->engine < 0 || res->status == STATUS_SUCCEEDED || res->status == STATUS_CANCELLED ||
        res->status == STATUS_IMAGE_MISSING)
        return false;
    if (res->status == STATUS_UNAVAILABLE)
        return true;
    engines_t *en = seat->conns != NULL ? seat->conns->en : NULL;
    bool multi = en != NULL && engines_multi(en);
    if (multi && (!engines_up(en, l->engine) || engines_outs(en, l->engine) != l->engine_outs)) {
        snprintf(dr.message, sizeof(dr.message), "it stopped answering its health checks");
    } else {
        if (docker_ping(l->conn, START_PING_MS, &dr) == DOCKER_OK)
            return false;
        if (multi)
            engines_set_up(en, l->engine, false, dr.message);
    }
    if (multi)
        runtime_fail(res, STATUS_UNAVAILABLE, "engine %s stopped answering during the call: %.300s",
                     engines_name(en, l->engine), dr.message);
    else
        runtime_fail(res, STATUS_UNREACHABLE,
                     "the engine stopped answering during the call: %.300s", dr.message);
    res->engine_fault = true;
    return true;
}

static void start_release(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                          runtime_lease *l, runtime_result *res)
{
    start_state *st = rt->impl;
    bool reused = l->mode == CONTAINER_REUSE || l->mode == CONTAINER_PROCESS;

    /* A cold container's exit code is the engine's to tell; the others
     * told theirs in-band. */
    if (l->ran && l->mode == CONTAINER_COLD)
        container_wait(l->conn, l->cid, req, l->deadline, res);
    /* Anything on the stream past the answer (what came with its last
     * read, or since) would be read by the next call: such a container is
     * not given back. */
    bool gone = start_gone(seat, l, res);
    if (!gone && reused && l->ran && l->reusable &&
        (res->status == STATUS_SUCCEEDED || res->status == STATUS_FAILED) &&
        !docker_stream_pending(l->stream)) {
        const char *unread;
        err_t e;
        size_t n = docker_stream_unread(l->stream, &unread);
        if (lease_give(seat->lease, req->function->id, l->generation, l->mode, l->cid, l->run,
                       l->leased, l->engine < 0 ? 0 : l->engine, docker_stream_fd(l->stream),
                       unread, n, &e) == 0)
            l->cid[0] = '\0'; /* the keeper's now */
        else
            log_debug("invoke %s: the keeper does not take %.12s back (%s)", req->id, l->cid,
                      e.msg);
    }
    docker_stream_close(l->stream);
    l->stream = NULL;
    start_remove(seat, req, l, gone);
    start_leave(seat, l);
    slots_untrack(st->slots, seat->row, seat->thread);
}

static bool start_live(runtime_t *rt, json_object *labels)
{
    start_state *st = rt->impl;
    json_object *run;
    uuid_t u;
    return json_object_object_get_ex(labels, "minilambda.run", &run) &&
           uuid_parse(json_object_get_string(run), u) == 0 && slots_running(st->slots, u);
}

static void start_free(void *impl)
{
    free(impl);
}

static const runtime_ops warm_ops = {
    .name = "warm",
    .acquire = start_acquire,
    .run = start_run,
    .release = start_release,
    .live = start_live,
    .free = start_free,
};

runtime_t *start_new(slots_t *slots, const char *instance, const char *init)
{
    start_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->slots = slots;
    snprintf(st->init, sizeof(st->init), "%s", init ? init : "");
    return runtime_new(&warm_ops, st, instance);
}
