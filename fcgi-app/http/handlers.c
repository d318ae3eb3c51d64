#include "http/handlers.h"

#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/images.h"
#include "run/container.h"
#include "run/health.h"
#include "run/invoke.h"
#include "run/reap.h"
#include "state/func.h"

#define HANDLERS_PING_TIMEOUT_MS 2000

/* String member `key` of a key's or an invocation's record, or ""
 * (borrowed). A function's fields are read from its func_t. */
static const char *handlers_text(json_object *o, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return "";
}

/* The record as the caller's key may see it: env values redacted for a
 * read-only key. Changes `rec` in place. */
static void handlers_view(const route_call *c, json_object *rec)
{
    if (c->redact)
        func_redact(rec);
}

/* Call `fn` on each function the caller's key may see (borrowed, for the
 * call only), oldest first, with `arg`. 0, or -1 with `e`. */
static int handlers_visible(route_call *c, void (*fn)(route_call *c, func_t *f, void *arg),
                            void *arg, err_t *e)
{
    func_t **all;
    size_t n;
    if (store_all(c->t->app->store, &all, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (keys_allows_function(c->key, all[i]))
            fn(c, all[i], arg);
    store_all_free(all, n);
    return 0;
}

static void handlers_list_one(route_call *c, func_t *f, void *arg)
{
    handlers_view(c, f->json);
    json_object_array_add(arg, json_object_get(f->json));
}

int handlers_list_functions(route_call *c, err_t *e)
{
    char *list = NULL;
    if (!c->redact && (c->key == NULL || c->key->functions == NULL)) {
        /* The common case serves the store's serialized list as it is. */
        if (store_list(c->t->app->store, &list, e) != 0)
            return -1;
        http_send(c->r, 200, NULL, "application/json", list, strlen(list));
        free(list);
        return 0;
    }
    json_object *out = json_object_new_array();
    int rc = handlers_visible(c, handlers_list_one, out, e);
    if (rc == 0)
        http_send_json(c->r, 200, out, NULL);
    json_object_put(out);
    return rc;
}

/*
 * The platform's own fields for a registration or a PATCH of `body`, into
 * `*sys`: who made it and, when `body` names an image, the image id it
 * pins (into `id`, `idlen` bytes: the first engine that has it; none when
 * none does yet: an upload of that tag by a key that may deploy the
 * function pins it). A runtime must be one the engine knows.
 */
static int handlers_sys_fields(route_call *c, json_object *body, bool create, func_sys *sys,
                               char *id, size_t idlen, err_t *e)
{
    func_body b;
    func_body_of(body, &b);
    memset(sys, 0, sizeof(*sys));
    sys->set_creator = create;
    sys->created_by = c->key ? c->key->id : NULL;
    if (b.runtime != NULL) {
        int known = container_runtime_known(c->t->conn, b.runtime, e);
        if (known < 0)
            return -1;
        if (known == 0)
            return err_set(e, ERR_INVALID, "unknown_runtime", 0,
                           "the engine has no runtime \"%.64s\" (docker info lists them)",
                           b.runtime);
    }
    if (b.image == NULL)
        return 0;
    /* Any engine that has it pins it: with several, the image may be on
     * some of them only (an unpinned function never runs). */
    int found = 0;
    engines_t *en = c->t->app->engines;
    for (int i = 0; i < engines_count(en) && found == 0; i++) {
        if (engines_count(en) > 1 && !engines_up(en, i))
            continue;
        found = images_resolve(c->t->conns.conn[i], b.image, id, idlen, e);
        if (found < 0 && e->kind != ERR_ENGINE_UNREACHABLE)
            return -1;
        if (found < 0)
            found = 0;
    }
    sys->set_image_id = true;
    sys->image_id = found > 0 ? id : NULL;
    return 0;
}

int handlers_create(route_call *c, json_object *body, func_t **out, err_t *e)
{
    func_sys sys;
    func_body b;
    char id[DOCKER_ID_MAX];
    func_body_of(body, &b);
    if (b.name != NULL && !keys_allows_name(c->key, b.name))
        return err_set(e, ERR_FORBIDDEN, NULL, 0, "the key is not for function \"%.64s\"", b.name);
    if (handlers_sys_fields(c, body, true, &sys, id, sizeof(id), e) != 0 ||
        store_create(c->t->app->store, body, &sys, c->id[0] ? c->id : NULL, out, e) != 0)
        return -1;
    log_info("registered function %s (%s)", (*out)->name, (*out)->id);
    return 0;
}

int handlers_create_function(route_call *c, err_t *e)
{
    json_object *body = NULL;
    func_t *rec = NULL;
    char loc[128];
    int rc = -1;
    if (http_read_json(c->r, HANDLERS_BODY_MAX, false, &body, NULL, e) != 0 ||
        handlers_create(c, body, &rec, e) != 0)
        goto done;
    snprintf(loc, sizeof(loc), "Location: /functions/%s\r\n", rec->id);
    http_send_json(c->r, 201, rec->json, loc);
    rc = 0;
done:
    func_free(rec);
    json_object_put(body);
    return rc;
}

int handlers_get_function(route_call *c, err_t *e)
{
    (void)e;
    /* Flag a missing image (one inspect); say nothing when unsure. */
    if (strcmp(c->r->method, "GET") == 0 &&
        images_present(c->t->conn, func_image(c->function)) == 0)
        json_object_object_add(c->function->json, "image_present", json_object_new_boolean(0));
    handlers_view(c, c->function->json);
    http_send_json(c->r, 200, c->function->json, NULL);
    return 0;
}

/* After a change of function `id` (its record now in the store, or gone):
 * no call may run in a container made from the old record, so the keeper
 * drops those before the answer. */
static void handlers_drain(route_call *c, const char *id)
{
    func_t *now = NULL;
    err_t e;
    uint64_t gen = store_get(c->t->app->store, id, &now, &e) == 0 ? now->generation : 0;
    if (lease_drain(c->t->lease, id, gen, &e) != 0)
        log_warn("the keeper did not confirm dropping warm containers of %s (%s); calls still "
                 "never take them (their record changed)",
                 id, e.msg);
    func_free(now);
}

int handlers_update_function(route_call *c, err_t *e)
{
    json_object *body = NULL;
    func_t *rec = NULL;
    func_sys sys;
    char id[DOCKER_ID_MAX];
    int rc = -1;
    if (http_read_json(c->r, HANDLERS_BODY_MAX, false, &body, NULL, e) != 0 ||
        handlers_sys_fields(c, body, false, &sys, id, sizeof(id), e) != 0 ||
        store_update(c->t->app->store, c->ref, body, &sys, &rec, e) != 0)
        goto done;
    handlers_drain(c, rec->id);
    http_send_json(c->r, 200, rec->json, NULL);
    rc = 0;
done:
    func_free(rec);
    json_object_put(body);
    return rc;
}

int handlers_delete_function(route_call *c, err_t *e)
{
    if (store_delete(c->t->app->store, c->ref, e) != 0)
        return -1;
    handlers_drain(c, c->function->id);
    metrics_retire(c->t->app->metrics, c->function->name);
    http_send(c->r, 204, NULL, "application/json", "", 0);
    log_info("deleted function %s", c->ref);
    return 0;
}

int handlers_list_keys(route_call *c, err_t *e)
{
    json_object *list = NULL;
    if (keys_list(c->t->app->keys, &list, e) != 0)
        return -1;
    http_send_json(c->r, 200, list, NULL);
    json_object_put(list);
    return 0;
}

int handlers_create_key(route_call *c, err_t *e)
{
    json_object *body = NULL, *made = NULL;
    char loc[128];
    int rc = -1;
    if (http_read_json(c->r, HANDLERS_BODY_MAX, false, &body, NULL, e) != 0 ||
        keys_create(c->t->app->keys, body, c->key ? c->key->id : NULL, &made, e) != 0)
        goto done;
    snprintf(loc, sizeof(loc), "Location: /keys/%s\r\nCache-Control: no-store\r\n",
             handlers_text(made, "id"));
    http_send_json(c->r, 201, made, loc);
    log_info("created key %s (%s)", handlers_text(made, "id"), handlers_text(made, "name"));
    rc = 0;
done:
    json_object_put(made);
    json_object_put(body);
    return rc;
}

int handlers_delete_key(route_call *c, err_t *e)
{
    if (keys_delete(c->t->app->keys, c->ref, e) != 0)
        return -1;
    http_send(c->r, 204, NULL, "application/json", "", 0);
    log_info("revoked key %s", c->ref);
    return 0;
}

/* An invoke body: the event (exactly as the client wrote it; json-c would
 * clamp big integers and rewrite escapes) and the timeout to run with. */
typedef struct {
    json_object *body; /* owned */
    buf_t raw;         /* the body's bytes, owned */
    const char *event; /* into `raw` or `body`, or "{}" */
    size_t event_len;
    int timeout_s;
} handlers_invoke_in;

static void handlers_invoke_in_free(handlers_invoke_in *in)
{
    json_object_put(in->body);
    buf_free(&in->raw);
}

/* Check the invoke body: only `event` and `timeout`, timeout 0..900. */
static int handlers_invoke_fields(json_object *body, int *timeout, err_t *e)
{
    json_object_object_foreach(body, key, val)
    {
        if (strcmp(key, "event") == 0)
            continue;
        if (strcmp(key, "timeout") != 0)
            return err_set(e, ERR_INVALID, "unknown_field", 0,
                           "unknown field \"%.64s\" (expected event, timeout)", key);
        int64_t v = json_object_get_int64(val);
        if (!json_object_is_type(val, json_type_int) || v < 0 || v > FUNC_TIMEOUT_MAX)
            return err_set(e, ERR_INVALID, "invalid_timeout", 0,
                           "timeout must be an integer number of seconds, 1 to 900 (0 or "
                           "absent: the function's own)");
        *timeout = (int)v;
    }
    return 0;
}

/* Read and check an invoke body for `function`. */
static int handlers_invoke_read(route_call *c, handlers_invoke_in *in, err_t *e)
{
    json_object *event;
    size_t off = 0;

    memset(in, 0, sizeof(*in));
    buf_init(&in->raw, HANDLERS_INVOKE_MAX);
    if (http_read_json(c->r, HANDLERS_INVOKE_MAX, true, &in->body, &in->raw, e) != 0 ||
        handlers_invoke_fields(in->body, &in->timeout_s, e) != 0)
        return -1;
    if (in->timeout_s == 0)
        in->timeout_s = c->function->timeout;
    in->event = "{}";
    in->event_len = 2;
    if (in->raw.len > 0 &&
        http_json_member(in->raw.data, in->raw.len, "event", &off, &in->event_len))
        in->event = in->raw.data + off;
    else if (json_object_object_get_ex(in->body, "event", &event))
        in->event = json_object_to_json_string_length(
            event, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &in->event_len);
    return 0;
}

static void handlers_collect(void *arg, const char *p, size_t n)
{
    buf_append(arg, p, n);
}

/*
 * Send the synchronous answer for `res`: result, duration, timestamp,
 * invocation_id, status, exit_code, logs, and truncated, error and code
 * where they apply; `record_kept: false` (and X-Record-Kept: false) when its
 * record could not be written. stdout and stderr are encoded as they are
 * written to the client, so a 6 MiB output of control bytes (36 MiB as
 * JSON) is never built in memory.
 */
static void handlers_answer(route_call *c, const char *id, const runtime_result *res,
                            const char *now, bool kept)
{
    char mid[512], exit_code[16], headers[160];
    buf_t tail;
    bool exited = res->status == STATUS_SUCCEEDED || res->status == STATUS_FAILED;

    if (exited)
        snprintf(exit_code, sizeof(exit_code), "%d", res->exit_code);
    else
        snprintf(exit_code, sizeof(exit_code), "null");
    char start[16] = "null";
    if (res->started)
        snprintf(start, sizeof(start), "\"%s\"", invoke_start_word(res->start));
    int n = snprintf(mid, sizeof(mid),
                     ",\"duration\":%ld,\"timestamp\":\"%s\",\"invocation_id\":\"%s\","
                     "\"status\":\"%s\",\"start\":%s,\"exit_code\":%s,\"logs\":",
                     res->duration_ms, now, id, status_word(res->status), start, exit_code);
    buf_init(&tail, 4096);
    if (res->truncated)
        buf_puts(&tail, ",\"truncated\":true");
    /* Which engine ran it, when there are several to choose from. */
    engines_t *en = c->t->app->engines;
    if (engines_multi(en) && res->engine >= 0) {
        buf_puts(&tail, ",\"engine\":");
        const char *name = engines_name(en, res->engine);
        http_json_text(name, strlen(name), false, handlers_collect, &tail);
    }
    if (res->status != STATUS_SUCCEEDED) {
        buf_puts(&tail, ",\"error\":");
        http_json_text(res->message, strlen(res->message), false, handlers_collect, &tail);
        buf_printf(&tail, ",\"code\":\"%s\"", status_code(res->status));
    }
    if (!kept)
        buf_puts(&tail, ",\"record_kept\":false");
    buf_puts(&tail, "}");
    http_part parts[] = {
        {"{\"result\":", 10, false, false},
        {res->out.data ? res->out.data : "", res->out.len, true, res->out.len >= res->out.max},
        {mid, (size_t)n, false, false},
        {res->err.data ? res->err.data : "", res->err.len, true, res->err.len >= res->err.max},
        {tail.data, tail.len, false, false},
    };
    snprintf(headers, sizeof(headers), "X-Invocation-Id: %s\r\n%s", id,
             kept ? "" : "X-Record-Kept: false\r\n");
    http_send_parts(c->r, status_http(res->status), headers, parts,
                    (int)(sizeof(parts) / sizeof(parts[0])));
    buf_free(&tail);
}

/* Append the record of call `c` (`res`, or refused with `refused`).
 * False when it should have been written and could not be (logged and
 * counted), for the answer to say so. */
static bool handlers_record(route_call *c, long long created_ms, int timeout_s,
                            const runtime_result *res, const err_t *refused)
{
    err_t e;
    records_t *r = c->t->app->records;
    if (!records_enabled(r) || c->function == NULL || c->id[0] == '\0')
        return true;
    records_call call = {.id = c->id,
                         .function = c->function,
                         .created_ms = created_ms,
                         .timeout_s = timeout_s,
                         .creator = c->key ? c->key->id : NULL,
                         .res = res};
    if (res != NULL) {
        call.http_status = status_http(res->status);
        call.code = status_code(res->status);
    } else {
        call.http_status = err_status(refused);
        call.code = err_code(refused);
        call.error = refused->msg;
    }
    long long t0 = clock_mono_us();
    err_clear(&e);
    if (records_append(r, &call, &e) != 0) {
        log_warn("record of invocation %s not written: %s", c->id, e.msg);
        metrics_storage(c->t->app->metrics, METRICS_RECORD_NOT_KEPT, 1);
        return false;
    }
    log_debug("record id=%s us=%lld", c->id, clock_mono_us() - t0);
    return true;
}

void handlers_record_refused(route_call *c, const err_t *e)
{
    /* The refusal was answered already: only the count and the log say
     * its record was not kept. */
    (void)handlers_record(c, clock_pool_ms(), 0, NULL, e);
}

void handlers_run(route_call *c, const char *event, size_t event_len, int timeout_s,
                  const char *client_context, runtime_result *res, bool *kept, char *now,
                  size_t nowlen)
{
    runtime_req req;
    long long created_ms = clock_pool_ms();

    memset(&req, 0, sizeof(req));
    snprintf(req.id, sizeof(req.id), "%s", c->id);
    snprintf(req.run, sizeof(req.run), "%s", c->id);
    req.function = c->function;
    req.event = event;
    req.event_len = event_len;
    req.timeout_s = timeout_s;
    req.attempt = 1;
    req.client_context = client_context;
    /* A client that goes away cancels its run, unless a retry with its
     * Idempotency-Key is to get the answer. */
    req.cancel_fd = c->recorded ? -1 : c->r->fcgi->ipcFd;
    clock_pool_now(now, nowlen);
    invoke_ctx x = app_invoke_ctx(c->t);
    invoke_call(&x, &req, false, res);
    /* Before the answer, so the id the client gets is always readable. */
    *kept = handlers_record(c, created_ms, timeout_s, res, NULL);
}

int handlers_invoke(route_call *c, err_t *e)
{
    handlers_invoke_in in;
    runtime_result res;
    char now[CLOCK_RFC3339_LEN];
    bool kept;

    runtime_result_init(&res);
    if (handlers_invoke_read(c, &in, e) != 0) {
        handlers_invoke_in_free(&in);
        runtime_result_free(&res);
        return -1;
    }
    handlers_run(c, in.event, in.event_len, in.timeout_s, NULL, &res, &kept, now, sizeof(now));
    handlers_answer(c, c->id, &res, now, kept);
    handlers_invoke_in_free(&in);
    runtime_result_free(&res);
    return 0;
}

int handlers_enqueue(route_call *c, const char *event, size_t event_len, int timeout_s,
                     json_object **inv, err_t *e)
{
    if (async_accept(c->t->app->async, c->function, event, event_len, timeout_s,
                     c->t->app->cfg->async_max_pending, c->key ? c->key->id : NULL,
                     c->id[0] ? c->id : NULL, inv, e) != 0)
        return -1;
    log_info("queued function=%s id=%s", c->function->name, handlers_text(*inv, "id"));
    return 0;
}

int handlers_invoke_async(route_call *c, err_t *e)
{
    handlers_invoke_in in;
    json_object *inv = NULL, *out = NULL;
    char headers[160];
    int rc = -1;

    if (handlers_invoke_read(c, &in, e) != 0 ||
        handlers_enqueue(c, in.event, in.event_len, in.timeout_s, &inv, e) != 0)
        goto done;
    const char *id = handlers_text(inv, "id");
    snprintf(headers, sizeof(headers), "Location: /invocations/%s\r\nX-Invocation-Id: %s\r\n", id,
             id);
    out = json_object_new_object();
    json_object_object_add(out, "invocation_id", json_object_new_string(id));
    json_object_object_add(out, "status", json_object_get(json_object_object_get(inv, "status")));
    json_object_object_add(out, "created_at",
                           json_object_get(json_object_object_get(inv, "created_at")));
    http_send_json(c->r, 202, out, headers);
    rc = 0;
done:
    json_object_put(out);
    json_object_put(inv);
    handlers_invoke_in_free(&in);
    return rc;
}

/* Whether the caller's key may see invocation record `rec`: one it
 * started when the gate limited it to its own, of a function it may touch. */
static bool handlers_sees_run(json_object *rec, void *arg)
{
    const route_call *c = arg;
    if (c->owner != NULL && strcmp(handlers_text(rec, "created_by"), c->owner) != 0)
        return false;
    return keys_allows_name(c->key, handlers_text(rec, "function_name")) ||
           keys_allows_name(c->key, handlers_text(rec, "function_id"));
}

/* What a listing asks for, for the async side's filter. */
typedef struct {
    route_call *c;
    const records_key *before; /* NULL: from the newest */
    long long since_ms;        /* -1: any */
} handlers_page;

/* Whether async record `rec` belongs on the page: visible to the key,
 * created at or after `since`, after the cursor. */
static bool handlers_async_keep(json_object *rec, void *arg)
{
    const handlers_page *p = arg;
    records_key k;
    if (!handlers_sees_run(rec, p->c) || records_key_of(rec, &k) != 0)
        return false;
    if (p->since_ms >= 0 && k.created_ms < p->since_ms)
        return false;
    return p->before == NULL || records_key_cmp(&k, p->before) > 0;
}

static int handlers_cmp_newest(const void *x, const void *y)
{
    json_object *const *a = x, *const *b = y;
    records_key ka = {0}, kb = {0};
    records_key_of(*a, &ka);
    records_key_of(*b, &kb);
    return records_key_cmp(&ka, &kb);
}

/* Parse the listing's query into `q` (function, status, since, cursor,
 * limit). `*paged` is whether a cursor parameter was given. */
static int handlers_list_query(route_call *c, char *function, size_t flen, records_query *q,
                               records_key *before, bool *paged, err_t *e)
{
    char status[32] = "", since[64] = "", cursor[RECORDS_CURSOR_LEN] = "", limit_s[32] = "";
    long long limit = ASYNC_LIST_DEFAULT;
    status_record st;
    int f = http_query(c->r, "function", function, flen);
    int s = http_query(c->r, "status", status, sizeof(status));
    int t = http_query(c->r, "since", since, sizeof(since));
    int k = http_query(c->r, "cursor", cursor, sizeof(cursor));
    int l = http_query(c->r, "limit", limit_s, sizeof(limit_s));
    memset(q, 0, sizeof(*q));
    q->status = -1;
    q->since_ms = -1;
    if (f < 0 || l < 0 || (l == 1 && config_parse_int(limit_s, 1, ASYNC_LIST_MAX, &limit) != 0))
        return err_set(e, ERR_INVALID, "invalid_query", 0,
                       "query parameters are function, status, since, cursor and limit (1 to "
                       "1000)");
    if (s < 0 || (s == 1 && status_record_parse(status, &st) != 0))
        return err_set(e, ERR_INVALID, "invalid_status", 0,
                       "status must be PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED or "
                       "REJECTED");
    if (t < 0 || (t == 1 && clock_parse_rfc3339_ms(since, &q->since_ms) != 0))
        return err_set(e, ERR_INVALID, "invalid_since", 0,
                       "since must be an RFC 3339 UTC time, e.g. 2026-11-27T16:00:00.000Z");
    *paged = k == 1;
    if (k < 0 || (k == 1 && cursor[0] != '\0' && records_cursor_decode(cursor, before) != 0))
        return err_set(e, ERR_INVALID, "invalid_cursor", 0,
                       "the cursor is not one a listing gave (pass next_cursor back as it is)");
    q->function = f == 1 ? function : NULL;
    q->status = s == 1 ? (int)st : -1;
    q->before = k == 1 && cursor[0] != '\0' ? before : NULL;
    q->limit = (int)limit;
    return 0;
}

int handlers_list_invocations(route_call *c, err_t *e)
{
    char function[256] = "", status[32] = "", next[RECORDS_CURSOR_LEN] = "", headers[160] = "";
    records_query q;
    records_key before, last;
    bool paged = false;
    json_object *sync = NULL, *async = NULL, *page = NULL;
    int rc = -1;

    if (handlers_list_query(c, function, sizeof(function), &q, &before, &paged, e) != 0)
        return -1;
    if (q.status >= 0)
        snprintf(status, sizeof(status), "%s", status_record_name((status_record)q.status));
    handlers_page hp = {.c = c, .before = q.before, .since_ms = q.since_ms};
    int limit = q.limit;
    /* One more than the page from each side: whether a next page exists. */
    q.limit = limit + 1;
    q.keep = handlers_sees_run;
    q.arg = c;
    if (records_list(c->t->app->records, &q, &sync, e) != 0 ||
        async_list(c->t->app->async, q.function, q.status >= 0 ? status : NULL, handlers_async_keep,
                   &hp, limit + 1, &async, e) != 0)
        goto done;
    for (size_t i = 0; i < json_object_array_length(async); i++) {
        json_object *rec = json_object_array_get_idx(async, i);
        json_object_object_add(rec, "type", json_object_new_string("async"));
        json_object_array_add(sync, json_object_get(rec));
    }
    json_object_array_sort(sync, handlers_cmp_newest);
    size_t total = json_object_array_length(sync);
    page = json_object_new_array();
    for (size_t i = 0; i < total && (int)i < limit; i++)
        json_object_array_add(page, json_object_get(json_object_array_get_idx(sync, i)));
    if ((int)total > limit &&
        records_key_of(json_object_array_get_idx(page, (size_t)limit - 1), &last) == 0 &&
        records_cursor_encode(&last, next, sizeof(next)) == 0) {
        snprintf(headers, sizeof(headers), "X-Next-Cursor: %s\r\n", next);
    }
    if (paged) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "invocations", page);
        json_object_object_add(o, "next_cursor", next[0] ? json_object_new_string(next) : NULL);
        page = o;
    }
    http_send_json(c->r, 200, page, headers[0] ? headers : NULL);
    rc = 0;
done:
    json_object_put(page);
    json_object_put(async);
    json_object_put(sync);
    return rc;
}

/* The record of invocation {id}, async or sync, if the caller's key may
 * see it. */
static int handlers_run_of(route_call *c, json_object **rec, err_t *e)
{
    int rc = async_get(c->t->app->async, c->ref, rec, e);
    if (rc != 0 && e->kind == ERR_NOT_FOUND)
        rc = records_get(c->t->app->records, c->ref, rec, e);
    if (rc != 0)
        return -1;
    if (handlers_sees_run(*rec, c))
        return 0;
    /* A key that reads every run (read) but acts on its own only (a
     * cancel): the run it may read is refused, not hidden. */
    bool readable = c->owner != NULL && c->key != NULL && (c->key->scopes & KEYS_READ) &&
                    handlers_sees_run(*rec, &(route_call){.key = c->key});
    json_object_put(*rec);
    *rec = NULL;
    if (readable)
        return err_set(e, ERR_FORBIDDEN, NULL, 0,
                       "invocation %.64s was started by another key: this key may read it, "
                       "not act on it",
                       c->ref);
    /* A run the key may not see (another key's, or of a function outside
     * its list) answers as one that does not exist: no 403 tells the key
     * that the id, or its function, is real. */
    return records_not_found(c->ref, e);
}

int handlers_get_invocation(route_call *c, err_t *e)
{
    json_object *rec = NULL;
    if (handlers_run_of(c, &rec, e) != 0)
        return -1;
    http_send_json(c->r, 200, rec, NULL);
    json_object_put(rec);
    return 0;
}

int handlers_cancel_invocation(route_call *c, err_t *e)
{
    json_object *rec = NULL;
    bool running = false;
    if (handlers_run_of(c, &rec, e) != 0)
        return -1;
    /* A synchronous call's record is written once it has ended. */
    bool sync = strcmp(handlers_text(rec, "type"), "sync") == 0;
    json_object_put(rec);
    if (sync)
        return err_set(e, ERR_CONFLICT, "already_finished", 0,
                       "invocation %.64s was synchronous and has already finished", c->ref);
    if (async_cancel(c->t->app->async, c->ref, &rec, &running, e) != 0)
        return -1;
    /* Marked CANCELLED first, so an executor about to start it sees that;
     * then its container, if any, goes. */
    if (running) {
        /* The run is on one engine; which, only its thread knows. */
        engines_t *en = c->t->app->engines;
        for (int i = 0; i < engines_count(en); i++) {
            err_t why;
            /* The record says CANCELLED either way: the answer stands. */
            if (engines_up(en, i) && reap_remove_invocation(c->t->conns.conn[i], c->ref, &why) < 0)
                log_warn("cancel %s: removing its container on engine %d: %s", c->ref, i, why.msg);
        }
    }
    http_send_json(c->r, 200, rec, NULL);
    json_object_put(rec);
    return 0;
}

static void handlers_health(route_call *c, health_report *r)
{
    app_t *app = c->t->app;
    health_ctx x = {.cfg = app->cfg,
                    .conn = c->t->conn,
                    .engines = app->engines,
                    .store = app->store,
                    .keys = app->keys,
                    .slots = app->slots,
                    .first_executor = app->cfg->workers};
    health_check(&x, HANDLERS_PING_TIMEOUT_MS, r);
}

/* Each engine and its state, for /healthz (MINILAMBDA_ENGINES only). */
static json_object *handlers_engines(engines_t *en)
{
    json_object *list = json_object_new_array();
    for (int i = 0; i < engines_count(en); i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(engines_name(en, i)));
        json_object_object_add(o, "endpoint",
                               json_object_new_string(docker_endpoint(engines_docker(en, i))));
        json_object_object_add(o, "status",
                               json_object_new_string(engines_up(en, i) ? "up" : "down"));
        json_object_object_add(o, "weight", json_object_new_int(engines_weight(en, i)));
        json_object_object_add(o, "in_flight", json_object_new_int(engines_in_flight(en, i)));
        json_object_object_add(o, "calls", json_object_new_int64(engines_placed(en, i)));
        json_object_array_add(list, o);
    }
    return list;
}

/* The engine-level series, each with an `engine` label (MINILAMBDA_ENGINES
 * only: one engine's figures are the platform's own). 0, or -1 when `out`
 * is full. */
static int handlers_engine_metrics(engines_t *en, buf_t *out)
{
    static const struct {
        const char *name, *type, *help;
    } series[] = {
        {"minilambda_engine_up", "gauge", "Whether the engine answers its probe (1) or not (0)"},
        {"minilambda_engine_weight", "gauge", "The engine's placement weight"},
        {"minilambda_engine_in_flight", "gauge", "Calls running on the engine now"},
        {"minilambda_engine_calls_total", "counter", "Calls placed on the engine"},
    };
    int bad = 0;
    if (!engines_multi(en))
        return 0;
    for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
        bad |= buf_printf(out, "# HELP %s %s.\n# TYPE %s %s\n", series[s].name, series[s].help,
                          series[s].name, series[s].type) != BUF_OK;
        for (int i = 0; i < engines_count(en); i++) {
            long long v = s == 0   ? engines_up(en, i)
                          : s == 1 ? engines_weight(en, i)
                          : s == 2 ? engines_in_flight(en, i)
                                   : engines_placed(en, i);
            bad |= buf_printf(out, "%s{engine=\"", series[s].name) != BUF_OK;
            bad |= metrics_escape(out, engines_name(en, i)) != 0;
            bad |= buf_printf(out, "\"} %lld\n", v) != BUF_OK;
        }
    }
    return bad ? -1 : 0;
}

int handlers_healthz(route_call *c, err_t *e)
{
    health_report r;
    char why[1024] = "";
    size_t used = 0;
    const char *code = NULL;
    json_object *o = json_object_new_object(), *parts = json_object_new_object();
    json_object *failed = json_object_new_array();
    (void)e;

    handlers_health(c, &r);
    bool ok = health_ok(&r);
    json_object_object_add(o, "status", json_object_new_string(ok ? "ok" : "unavailable"));
    json_object_object_add(
        o, "docker", json_object_new_string(r.up[HEALTH_ENGINE] ? "reachable" : "unreachable"));
    for (int p = 0; p < HEALTH__N; p++) {
        json_object *part = json_object_new_object();
        json_object_object_add(part, "status", json_object_new_string(r.up[p] ? "ok" : "failed"));
        if (!r.up[p]) {
            json_object_object_add(part, "code", json_object_new_string(r.code[p]));
            json_object_object_add(part, "error", json_object_new_string(r.detail[p]));
            json_object_array_add(failed, json_object_new_string(health_name(p)));
            if (code == NULL)
                code = r.code[p];
            /* One line naming every failed part, for a load balancer's log. */
            int n = snprintf(why + used, sizeof(why) - used, "%s%s: %s", used ? "; " : "",
                             health_name(p), r.detail[p]);
            if (n > 0 && (size_t)n < sizeof(why) - used)
                used += (size_t)n;
        }
        if (p == HEALTH_STORE && r.functions >= 0)
            json_object_object_add(part, "functions", json_object_new_int64(r.functions));
        if (p == HEALTH_DISK && r.free_bytes >= 0) {
            json_object_object_add(part, "free_bytes", json_object_new_int64(r.free_bytes));
            json_object_object_add(part, "min_free_bytes",
                                   json_object_new_int64(c->t->app->cfg->min_free_bytes));
        }
        if (p == HEALTH_EXECUTORS) {
            json_object_object_add(part, "running", json_object_new_int(r.executors_up));
            json_object_object_add(part, "configured", json_object_new_int(r.executors));
        }
        json_object_object_add(parts, health_name(p), part);
    }
    json_object_object_add(o, "components", parts);
    if (engines_multi(c->t->app->engines))
        json_object_object_add(o, "engines", handlers_engines(c->t->app->engines));
    if (!ok) {
        json_object_object_add(o, "failed", failed);
        json_object_object_add(o, "code", json_object_new_string(code));
        json_object_object_add(o, "error", json_object_new_string(why));
    } else {
        json_object_put(failed);
    }
    http_send_json(c->r, ok ? 200 : 503, o, NULL);
    json_object_put(o);
    return 0;
}

/* What a metrics key limited to some functions sees: those named in its
 * list, by name or through their id. */
typedef struct {
    const keys_key *key;
    json_object *names; /* the registered functions it may see (owned) */
} handlers_metrics_view;

static bool handlers_metrics_keep(const char *function, void *arg)
{
    const handlers_metrics_view *v = arg;
    if (keys_allows_name(v->key, function))
        return true;
    for (size_t i = 0; i < json_object_array_length(v->names); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(v->names, i)), function) == 0)
            return true;
    return false;
}

static void handlers_metrics_name(route_call *c, func_t *f, void *arg)
{
    (void)c;
    json_object_array_add(arg, json_object_new_string(f->name));
}

/* The names of the registered functions the key may see, into v->names
 * (a new array). 0, or -1 with `e`. */
static int handlers_metrics_names(route_call *c, handlers_metrics_view *v, err_t *e)
{
    v->key = c->key;
    v->names = json_object_new_array();
    return handlers_visible(c, handlers_metrics_name, v->names, e);
}

int handlers_metrics(route_call *c, err_t *e)
{
    app_t *app = c->t->app;
    health_report r;
    buf_t out;
    handlers_metrics_view view = {0};
    bool limited = c->key != NULL && c->key->functions != NULL;
    int rc = 0;

    if (limited && handlers_metrics_names(c, &view, e) != 0) {
        json_object_put(view.names);
        return -1;
    }
    handlers_health(c, &r);
    metrics_gauges g = {.functions = r.functions, .queue_depth = async_queue_depth(app->async)};
    for (int p = 0; p < HEALTH__N && p < METRICS_UP_MAX; p++) {
        g.up_name[p] = health_name(p);
        g.up[p] = r.up[p];
        g.nup++;
    }
    /* A limited key counts its own functions, and sees no engine's load
     * (the sum of every function's calls). */
    if (limited) {
        g.functions = (long)json_object_array_length(view.names);
        g.keep = handlers_metrics_keep;
        g.keep_arg = &view;
    }
    buf_init(&out, HANDLERS_METRICS_MAX);
    if (metrics_render(app->metrics, &g, &out) != 0 ||
        (!limited && handlers_engine_metrics(app->engines, &out) != 0))
        rc = err_set(e, ERR_INTERNAL, NULL, 0, "the metrics exposition did not fit in memory");
    else
        http_send(c->r, 200, NULL, "text/plain; version=0.0.4; charset=utf-8",
                  out.data ? out.data : "", out.len);
    buf_free(&out);
    json_object_put(view.names);
    return rc;
}
