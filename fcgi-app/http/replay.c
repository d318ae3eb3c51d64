#include "http/replay.h"

#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/handlers.h"

#define REPLAY_HEADER "Idempotent-Replayed: true\r\n"

void replay_init(replay_t *o)
{
    memset(o, 0, sizeof(*o));
    idem_entry_init(&o->en);
    buf_init(&o->body, 0);
    buf_init(&o->copy.body, IDEM_ANSWER_MAX);
}

/* Name the key's entry (the caller's scope, then the key) and fingerprint
 * the request (method, path, invocation type, body). */
static int replay_hashes(const route_call *c, const char *key, const buf_t *body, idem_entry *en,
                         err_t *e)
{
    const char *scope = c->key != NULL ? c->key->id : "";
    const char *type = http_header(c->r, "HTTP_X_INVOCATION_TYPE");
    struct iovec name[] = {{.iov_base = (void *)scope, .iov_len = strlen(scope)},
                           {.iov_base = (void *)key, .iov_len = strlen(key)}};
    type = type != NULL ? type : "";
    struct iovec req[] = {
        {.iov_base = (void *)c->r->method, .iov_len = strlen(c->r->method)},
        {.iov_base = (void *)c->r->uri, .iov_len = strlen(c->r->uri)},
        {.iov_base = (void *)type, .iov_len = strlen(type)},
        {.iov_base = body->data != NULL ? body->data : "", .iov_len = body->len},
    };
    if (idem_hash(name, 2, en->name, e) != 0 || idem_hash(req, 4, en->fingerprint, e) != 0 ||
        idem_caller(scope, en, e) != 0)
        return -1;
    return 0;
}

/* `en`'s header lines and the replay mark into `out`: the mark alone when
 * they do not fit. */
static void replay_headers(const idem_entry *en, char *out, size_t outlen)
{
    int n = en->status != 0
                ? snprintf(out, outlen, "%s%s", en->headers, REPLAY_HEADER)
                : snprintf(out, outlen, "X-Invocation-Id: %s\r\n%s", en->id, REPLAY_HEADER);
    if (n < 0 || (size_t)n >= outlen)
        snprintf(out, outlen, "%s", REPLAY_HEADER);
}

/* Send the first answer again. */
static void replay_answer(route_call *c, const idem_entry *en)
{
    char headers[IDEM_HEADERS_MAX + 64];
    replay_headers(en, headers, sizeof(headers));
    http_send(c->r, en->status, headers, en->ctype, en->body.data ? en->body.data : "",
              en->body.len);
}

/*
 * Answer a retry of a run that leaves no record (a synchronous one) whose
 * first answer cannot be given: it died before answering, or its answer
 * was too large to keep. It is not run again: its function may have acted.
 */
static void replay_refuse(route_call *c, const idem_entry *en)
{
    char headers[IDEM_HEADERS_MAX + 64];
    err_t r;
    if (en->status != 0)
        err_set(&r, ERR_CONFLICT, "idempotency_answer_not_kept", 0,
                "the first request with this Idempotency-Key (invocation %s) answered %d with "
                "%lld bytes, more than the %u kept for a replay; it is not run again under this "
                "key",
                en->id, en->status, en->length, IDEM_ANSWER_MAX);
    else
        err_set(&r, ERR_CONFLICT, "idempotency_interrupted", 0,
                "the first request with this Idempotency-Key (invocation %s) was interrupted "
                "before it answered; it may have run, so it is not run again under this key",
                en->id);
    replay_headers(en, headers, sizeof(headers));
    http_send_err(c->r, &r, headers);
    log_info("Idempotency-Key retry of invocation %s refused: %s", en->id, err_code(&r));
}

int replay_begin(route_call *c, bool redo, replay_t *o, err_t *e)
{
    app_t *app = c->t->app;
    const char *key = http_header(c->r, "HTTP_IDEMPOTENCY_KEY");
    /* The body is read here, once, for its fingerprint, under the largest
     * bound a handler of the plane takes; the handler's read applies its
     * own bound to it. */
    size_t max = c->t->plane == APP_INVOKE ? HANDLERS_INVOKE_MAX : HANDLERS_BODY_MAX;
    uuid_t u;

    if (key == NULL)
        return 1;
    if (!idem_valid_key(key))
        return err_set(e, ERR_INVALID, "invalid_idempotency_key", 0,
                       "Idempotency-Key must be 1 to %d printable ASCII characters", IDEM_KEY_MAX);
    if (http_read_body(c->r, max, &o->body, e) != 0 ||
        replay_hashes(c, key, &o->body, &o->en, e) != 0)
        return -1;
    c->r->ahead = &o->body;
    int st = idem_begin(app->idem, &o->en, clock_wall_ms(), e);
    switch (st) {
    case IDEM_MISMATCH:
        return err_set(e, ERR_UNPROCESSABLE, "idempotency_mismatch", 0,
                       "this Idempotency-Key came first with another request (method, path or "
                       "body); another request needs another key");
    case IDEM_BUSY:
        c->retry_after = 1;
        return err_set(e, ERR_CONFLICT, "idempotency_in_progress", 0,
                       "a request with this Idempotency-Key is being served now; retry shortly");
    case IDEM_DONE:
    case IDEM_INTENT:
        if (o->en.kept) {
            replay_answer(c, &o->en);
            return 0;
        }
        if (!redo) {
            replay_refuse(c, &o->en);
            return 0;
        }
        /* What the first request made is named by its id: the handler
         * finds it, or makes it now. */
        snprintf(c->id, sizeof(c->id), "%s", o->en.id);
        break;
    case IDEM_NEW:
        if (c->id[0] == '\0') {
            uuid_generate_random(u);
            uuid_unparse_lower(u, c->id);
        }
        if (idem_intent(app->idem, &o->en, c->id, clock_wall_ms(), e) != 0)
            return -1;
        break;
    default:
        return -1;
    }
    o->active = true;
    c->recorded = true;
    c->r->copy = &o->copy;
    return 1;
}

void replay_end(route_call *c, replay_t *o, int rc)
{
    app_t *app = c->t->app;
    const http_copy *cp = &o->copy;
    err_t e;

    if (o->active) {
        int kept;
        c->r->copy = NULL;
        if (rc == 0 && c->r->status != 503)
            kept =
                idem_answer(app->idem, &o->en, c->r->status, cp->cut ? "" : cp->headers, cp->ctype,
                            cp->body.data, cp->cut ? 0 : cp->body.len, cp->length, &e);
        else
            kept = idem_forget(app->idem, &o->en, &e);
        if (kept != 0)
            log_error("Idempotency-Key record %.16s: %s", o->en.name, e.msg);
    }
    c->r->ahead = NULL;
    idem_end(app->idem, &o->en);
    buf_free(&o->body);
    buf_free(&o->copy.body);
}
