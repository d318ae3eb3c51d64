#include "handlers.h"

#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "func.h"
#include "http.h"
#include "images.h"
#include "janitor.h"
#include "invoke.h"
#include "log.h"

#define HANDLERS_PING_TIMEOUT_MS 2000

static void handlers_store_error(http_req *r, store_rc rc, const func_err *ferr, const char *ref)
{
    char msg[400];
    switch (rc) {
    case STORE_NOT_FOUND:
        snprintf(msg, sizeof(msg), "function \"%.200s\" not found", ref);
        http_send_error(r, 404, "not_found", msg, NULL);
        break;
    case STORE_CONFLICT:
        http_send_error(r, 409, "name_conflict", "a function with that name already exists", NULL);
        break;
    case STORE_INVALID:
        http_send_error(r, 400, ferr->code, ferr->msg, NULL);
        break;
    default:
        http_send_error(r, 500, "store_error", "the function store could not be read or written",
                        NULL);
        break;
    }
}

static void handlers_functions(handlers_thread *t, http_req *r)
{
    store_t *store = t->app->store;
    if (strcmp(r->method, "POST") != 0) {
        char *list = NULL;
        if (store_list(store, &list) != STORE_OK) {
            handlers_store_error(r, STORE_ERROR, NULL, "");
            return;
        }
        http_send(r, 200, NULL, "application/json", list, strlen(list));
        free(list);
        return;
    }
    json_object *body = NULL, *rec = NULL;
    func_err ferr;
    if (http_read_json(r, HANDLERS_BODY_MAX, 0, &body, NULL) != 0)
        return;
    store_rc rc = store_create(store, body, &rec, &ferr);
    if (rc == STORE_OK) {
        char loc[128];
        json_object *id = json_object_object_get(rec, "id");
        snprintf(loc, sizeof(loc), "Location: /functions/%s\r\n", json_object_get_string(id));
        http_send_json(r, 201, rec, loc);
        log_info("registered function %s (%s)",
                 json_object_get_string(json_object_object_get(rec, "name")),
                 json_object_get_string(id));
    } else {
        handlers_store_error(r, rc, &ferr, "");
    }
    json_object_put(rec);
    json_object_put(body);
}

static void handlers_function(handlers_thread *t, http_req *r, const char *ref)
{
    store_t *store = t->app->store;
    json_object *body = NULL, *rec = NULL;
    func_err ferr;
    store_rc rc;

    if (strcmp(r->method, "DELETE") == 0) {
        rc = store_delete(store, ref);
        if (rc == STORE_OK) {
            http_send(r, 204, NULL, "application/json", "", 0);
            log_info("deleted function %s", ref);
        } else {
            handlers_store_error(r, rc, NULL, ref);
        }
        return;
    }
    if (strcmp(r->method, "PATCH") == 0) {
        if (http_read_json(r, HANDLERS_BODY_MAX, 0, &body, NULL) != 0)
            return;
        rc = store_update(store, ref, body, &rec, &ferr);
    } else {
        rc = store_get(store, ref, &rec);
        /* Flag a missing image (one inspect); say nothing when unsure. */
        json_object *image = rc == STORE_OK ? json_object_object_get(rec, "image") : NULL;
        if (image != NULL && strcmp(r->method, "GET") == 0 &&
            images_present(t->conn, json_object_get_string(image)) == 0)
            json_object_object_add(rec, "image_present", json_object_new_boolean(0));
    }
    if (rc == STORE_OK)
        http_send_json(r, 200, rec, NULL);
    else
        handlers_store_error(r, rc, &ferr, ref);
    json_object_put(rec);
    json_object_put(body);
}

static void handlers_healthz(handlers_thread *t, http_req *r)
{
    docker_result dr;
    json_object *o = json_object_new_object();
    docker_rc rc = docker_ping(t->conn, HANDLERS_PING_TIMEOUT_MS, &dr);
    if (rc == DOCKER_OK) {
        json_object_object_add(o, "status", json_object_new_string("ok"));
        json_object_object_add(o, "docker", json_object_new_string("reachable"));
        http_send_json(r, 200, o, NULL);
    } else {
        json_object_object_add(o, "status", json_object_new_string("unavailable"));
        json_object_object_add(o, "docker", json_object_new_string("unreachable"));
        json_object_object_add(o, "error", json_object_new_string(dr.message));
        json_object_object_add(o, "code", json_object_new_string("engine_unreachable"));
        http_send_json(r, 503, o, NULL);
    }
    json_object_put(o);
}

static void handlers_metrics(handlers_thread *t, http_req *r)
{
    buf_t out;
    metrics_gauges g = {.functions = store_count(t->app->store),
                        .queue_depth = async_queue_depth(t->app->async)};
    buf_init(&out, HANDLERS_METRICS_MAX);
    if (metrics_render(t->app->metrics, &g, &out) != 0)
        http_send_error(r, 500, "internal", "the metrics exposition did not fit in memory", NULL);
    else
        http_send(r, 200, NULL, "text/plain; version=0.0.4; charset=utf-8",
                  out.data ? out.data : "", out.len);
    buf_free(&out);
}

int handlers_take_slot(handlers_thread *t, http_req *r, const uuid_t id, const char *headers)
{
    handlers_app *app = t->app;
    char msg[160], all[256];
    if (t->thread >= 0 &&
        slots_acquire(app->slots, app->worker, t->thread, id, app->cfg->max_concurrency) == 0)
        return 0;
    snprintf(msg, sizeof(msg), "all %d invocation slots are busy; retry shortly",
             app->cfg->max_concurrency);
    snprintf(all, sizeof(all), "Retry-After: 1\r\n%s", headers ? headers : "");
    http_send_error(r, 429, "too_many_requests", msg, all);
    return -1;
}

/* Check the invoke body: only `event` and `timeout`, timeout 0..900. */
static int handlers_invoke_body(http_req *r, json_object *body, int *timeout)
{
    json_object_object_foreach(body, key, val)
    {
        if (strcmp(key, "event") == 0)
            continue;
        if (strcmp(key, "timeout") == 0) {
            int64_t v = json_object_get_int64(val);
            if (!json_object_is_type(val, json_type_int) || v < 0 || v > FUNC_TIMEOUT_MAX) {
                http_send_error(r, 400, "invalid_timeout",
                                "timeout must be an integer number of seconds, 1 to 900 (0 or "
                                "absent: the function's own)",
                                NULL);
                return -1;
            }
            *timeout = (int)v;
            continue;
        }
        char msg[160];
        snprintf(msg, sizeof(msg), "unknown field \"%.64s\" (expected event, timeout)", key);
        http_send_error(r, 400, "unknown_field", msg, NULL);
        return -1;
    }
    return 0;
}

static int handlers_invoke_http_status(invoke_status s)
{
    switch (s) {
    case INVOKE_SUCCEEDED:
        return 200;
    case INVOKE_FAILED:
        return 502;
    case INVOKE_TIMEOUT:
        return 504;
    case INVOKE_UNREACHABLE:
        return 503;
    case INVOKE_CANCELLED:
        return 499;
    default:
        return 502;
    }
}

static const char *handlers_invoke_code(invoke_status s)
{
    switch (s) {
    case INVOKE_FAILED:
        return "function_failed";
    case INVOKE_TIMEOUT:
        return "timeout";
    case INVOKE_UNREACHABLE:
        return "engine_unreachable";
    case INVOKE_CANCELLED:
        return "cancelled";
    case INVOKE_IMAGE_MISSING:
        return "image_not_found";
    default:
        return "engine_error";
    }
}

/* Queue the invocation: 202 with its id and a Location to poll. */
static void handlers_invoke_async(handlers_thread *t, http_req *r, json_object *rec,
                                  const char *event, size_t len, int timeout)
{
    json_object *inv = NULL;
    if (async_accept(t->app->async, rec, event, len, timeout, &inv) != ASYNC_OK) {
        http_send_error(r, 500, "store_error", "the invocation could not be recorded", NULL);
        return;
    }
    const char *id = json_object_get_string(json_object_object_get(inv, "id"));
    char headers[128];
    snprintf(headers, sizeof(headers), "Location: /invocations/%s\r\nX-Invocation-Id: %s\r\n", id,
             id);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "invocation_id", json_object_new_string(id));
    json_object_object_add(out, "status", json_object_get(json_object_object_get(inv, "status")));
    json_object_object_add(out, "created_at",
                           json_object_get(json_object_object_get(inv, "created_at")));
    http_send_json(r, 202, out, headers);
    log_info("queued function=%s id=%s",
             json_object_get_string(json_object_object_get(rec, "name")), id);
    json_object_put(out);
    json_object_put(inv);
}

static void handlers_invocations(handlers_thread *t, http_req *r)
{
    char function[256] = "", status[32] = "", limit_s[32] = "";
    long limit = ASYNC_LIST_DEFAULT;
    json_object *list = NULL;
    int f = http_query(r, "function", function, sizeof(function));
    int s = http_query(r, "status", status, sizeof(status));
    int l = http_query(r, "limit", limit_s, sizeof(limit_s));
    if (f < 0 || s < 0 || l < 0 ||
        (l == 1 && config_parse_int(limit_s, 1, ASYNC_LIST_MAX, &limit) != 0)) {
        http_send_error(r, 400, "invalid_query",
                        "query parameters are function, status and limit (1 to 1000)", NULL);
        return;
    }
    if (async_list(t->app->async, f == 1 ? function : NULL, s == 1 ? status : NULL, (int)limit,
                   &list) != ASYNC_OK) {
        http_send_error(r, 500, "store_error", "the invocation records could not be read", NULL);
        return;
    }
    http_send_json(r, 200, list, NULL);
    json_object_put(list);
}

static void handlers_invocation(handlers_thread *t, http_req *r, const char *id)
{
    json_object *rec = NULL;
    char msg[160];
    async_rc rc;
    bool running = false;

    if (strcmp(r->method, "DELETE") == 0)
        rc = async_cancel(t->app->async, id, &rec, &running);
    else
        rc = async_get(t->app->async, id, &rec);
    switch (rc) {
    case ASYNC_OK:
        /* Marked CANCELLED first, so an executor about to start it sees
         * that; then its container, if any, goes. */
        if (running)
            janitor_remove_invocation(t->conn, id);
        http_send_json(r, 200, rec, NULL);
        break;
    case ASYNC_CONFLICT:
        snprintf(msg, sizeof(msg), "invocation %.64s has already finished (%.20s)", id,
                 json_object_get_string(json_object_object_get(rec, "status")));
        http_send_error(r, 409, "already_finished", msg, NULL);
        break;
    case ASYNC_NOT_FOUND:
        snprintf(msg, sizeof(msg), "invocation \"%.64s\" not found", id);
        http_send_error(r, 404, "not_found", msg, NULL);
        break;
    default:
        http_send_error(r, 500, "store_error", "the invocation record could not be read", NULL);
        break;
    }
    json_object_put(rec);
}

static void handlers_invoke(handlers_thread *t, http_req *r, const char *ref, bool async)
{
    handlers_app *app = t->app;
    json_object *body = NULL, *rec = NULL, *event = NULL, *out = NULL, *v;
    int timeout = 0;
    invoke_req ir;
    invoke_result res;
    uuid_t u;
    char headers[128], now[32];
    buf_t raw;

    buf_init(&raw, HANDLERS_INVOKE_MAX);
    invoke_result_init(&res);
    if (http_read_json(r, HANDLERS_INVOKE_MAX, 1, &body, &raw) != 0)
        goto done;
    if (handlers_invoke_body(r, body, &timeout) != 0)
        goto done;
    store_rc rc = store_get(app->store, ref, &rec);
    if (rc != STORE_OK) {
        handlers_store_error(r, rc, NULL, ref);
        goto done;
    }
    if (timeout == 0 && json_object_object_get_ex(rec, "timeout", &v))
        timeout = json_object_get_int(v);
    if (timeout < 1 || timeout > FUNC_TIMEOUT_MAX)
        timeout = FUNC_TIMEOUT_DEFAULT;

    /* The event goes to stdin exactly as the client wrote it (json-c would
     * clamp big integers and rewrite escapes); no event means {}. */
    size_t elen = 2, eoff = 0;
    const char *etext = "{}";
    if (raw.len > 0 && http_json_member(raw.data, raw.len, "event", &eoff, &elen))
        etext = raw.data + eoff;
    else if (json_object_object_get_ex(body, "event", &event))
        etext = json_object_to_json_string_length(
            event, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &elen);
    if (async) {
        handlers_invoke_async(t, r, rec, etext, elen, timeout);
        goto done;
    }

    uuid_generate_random(u);
    memset(&ir, 0, sizeof(ir));
    uuid_unparse_lower(u, ir.id);
    memcpy(ir.run, ir.id, sizeof(ir.run));
    snprintf(headers, sizeof(headers), "X-Invocation-Id: %s\r\n", ir.id);
    if (handlers_take_slot(t, r, u, headers) != 0) {
        metrics_observe(app->metrics, json_object_get_string(json_object_object_get(rec, "name")),
                        METRICS_REJECTED, 0);
        log_info("invoke function=%s id=%s status=rejected", ref, ir.id);
        goto done;
    }

    ir.function = rec;
    ir.instance = app->instance;
    ir.event = etext;
    ir.event_len = elen;
    ir.timeout_s = timeout;
    ir.attempt = 1;
    ir.cancel_fd = r->fcgi->ipcFd;
    const char *fname = json_object_get_string(json_object_object_get(rec, "name"));
    func_now(now, sizeof(now));
    metrics_begin(app->metrics, app->worker, t->thread, fname);
    invoke_run(t->conn, &ir, &res);
    metrics_observe(app->metrics, fname, invoke_metrics_status(res.status),
                    (double)res.duration_ms);
    metrics_end(app->metrics, app->worker, t->thread);
    slots_release(app->slots, app->worker, t->thread);

    out = json_object_new_object();
    json_object_object_add(out, "result", invoke_text(&res.out));
    json_object_object_add(out, "duration", json_object_new_int64(res.duration_ms));
    json_object_object_add(out, "timestamp", json_object_new_string(now));
    json_object_object_add(out, "invocation_id", json_object_new_string(ir.id));
    json_object_object_add(out, "status", json_object_new_string(invoke_status_name(res.status)));
    if (res.status == INVOKE_SUCCEEDED || res.status == INVOKE_FAILED)
        json_object_object_add(out, "exit_code", json_object_new_int(res.exit_code));
    else
        json_object_object_add(out, "exit_code", NULL);
    json_object_object_add(out, "logs", invoke_text(&res.err));
    if (res.truncated)
        json_object_object_add(out, "truncated", json_object_new_boolean(1));
    if (res.status != INVOKE_SUCCEEDED) {
        json_object_object_add(out, "error", json_object_new_string(res.message));
        json_object_object_add(out, "code",
                               json_object_new_string(handlers_invoke_code(res.status)));
    }
    http_send_json(r, handlers_invoke_http_status(res.status), out, headers);
    log_info("invoke function=%s id=%s status=%s exit=%d duration_ms=%ld out=%zu err=%zu%s%s",
             fname, ir.id, invoke_status_name(res.status), res.exit_code, res.duration_ms,
             res.out.len, res.err.len, res.status == INVOKE_SUCCEEDED ? "" : " error=",
             res.status == INVOKE_SUCCEEDED ? "" : res.message);
done:
    buf_free(&raw);
    invoke_result_free(&res);
    json_object_put(out);
    json_object_put(rec);
    json_object_put(body);
}

/* Route and serve; the caller counts the response. */
static void handlers_dispatch(handlers_thread *t, http_req *r, http_match *mp)
{
    http_match m;
    char hdr[128];

    http_match_rc rc = http_route(r->method, r->uri, &m);
    *mp = m;
    switch (rc) {
    case HTTP_MATCH_NOT_FOUND:
        http_send_error(r, 404, "not_found", "no such route", NULL);
        return;
    case HTTP_MATCH_BAD_PATH:
        http_send_error(r, 400, "invalid_path",
                        "the path has a bad percent-escape, a NUL byte or an overlong segment",
                        NULL);
        return;
    case HTTP_MATCH_BAD_METHOD:
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", m.allow);
        http_send_error(r, 405, "method_not_allowed", "method not allowed on this route", hdr);
        return;
    case HTTP_MATCH_OK:
        break;
    }
    switch (m.route) {
    case ROUTE_FUNCTIONS:
        handlers_functions(t, r);
        break;
    case ROUTE_FUNCTION:
        handlers_function(t, r, m.ref);
        break;
    case ROUTE_INVOKE: {
        /* Lambda's X-Invocation-Type: Event queues instead of waiting. */
        const char *type = FCGX_GetParam("HTTP_X_INVOCATION_TYPE", r->fcgi->envp);
        if (type != NULL && strcmp(type, "Event") != 0 && strcmp(type, "RequestResponse") != 0) {
            http_send_error(r, 400, "invalid_invocation_type",
                            "X-Invocation-Type must be Event or RequestResponse", NULL);
            break;
        }
        handlers_invoke(t, r, m.ref, type != NULL && strcmp(type, "Event") == 0);
        break;
    }
    case ROUTE_INVOKE_ASYNC:
        handlers_invoke(t, r, m.ref, true);
        break;
    case ROUTE_INVOCATIONS:
        handlers_invocations(t, r);
        break;
    case ROUTE_INVOCATION:
        handlers_invocation(t, r, m.ref);
        break;
    case ROUTE_HEALTHZ:
        handlers_healthz(t, r);
        break;
    case ROUTE_METRICS:
        handlers_metrics(t, r);
        break;
    case ROUTE_IMAGES:
        if (strcmp(r->method, "POST") == 0)
            images_upload(t, r);
        else
            images_list(t, r);
        break;
    default:
        http_send_error(r, 404, "not_found", "no such route", NULL);
        break;
    }
}

void handlers_handle(handlers_thread *t, FCGX_Request *req)
{
    http_req r;
    http_match m = {.route = ROUTE_NONE};

    http_req_init(&r, req);
    handlers_dispatch(t, &r, &m);
    metrics_http(t->app->metrics, (int)m.route, r.status);
}
