/*
 * replay: the HTTP half of Idempotency-Key (state/idem.h keeps the
 * records): the gate's bracket around a route that honours an Idempotency-Key
 * (ROUTE_IDEMPOTENT in its row): one answer per caller and key.
 *
 * Before the handler, a request with the header has its body read ahead
 * and hashed with its method, path and X-Invocation-Type (the
 * fingerprint), under a name hashed from the caller's scope (its API key
 * id, "" without one) and the key; idem.c keeps the record. A key seen
 * before answers from its record: its first answer again (with
 * Idempotent-Replayed: true), 422 idempotency_mismatch for another
 * request, 409 idempotency_in_progress (Retry-After) while the first is
 * served. A new key gets an intent naming the id its action will create
 * (c->id), written durably before the handler runs, and the handler's
 * answer is copied as it is sent and kept after.
 *
 * A key whose intent has no answer belongs to a request that died. On a
 * route whose handler makes a record under c->id (`redo`: registration,
 * async acceptance), the handler runs again with that id and finds the
 * record the first one made, or makes it now. A synchronous run leaves no
 * record to find, so it is not run again: 409 idempotency_interrupted.
 * The same goes for a synchronous answer too large to keep
 * (IDEM_ANSWER_MAX): 409 idempotency_answer_not_kept, with its
 * X-Invocation-Id.
 *
 * Only answers of requests that acted are kept: when the handler returns
 * -1 (it made nothing) or answers 503 (the platform could not act), the
 * key is forgotten and a retry acts afresh.
 */
#ifndef MINILAMBDA_REPLAY_H
#define MINILAMBDA_REPLAY_H

#include <stdbool.h>

#include "app/app.h"
#include "base/err.h"
#include "http/http.h"
#include "http/route.h"
#include "state/idem.h"

/* What the bracket holds for one request, from replay_begin to replay_end. */
typedef struct {
    idem_entry en;
    bool active;    /* the handler runs under the key: keep or forget after */
    buf_t body;     /* the request body, read ahead for the fingerprint */
    http_copy copy; /* the handler's answer as it was sent */
} replay_t;

/* An empty bracket that holds nothing (replay_end is then a no-op). */
void replay_init(replay_t *o);

/*
 * Before the handler of a ROUTE_IDEMPOTENT row; `redo` says whether a
 * retry of a request that died may run the handler again with its id.
 * Returns 1 when the handler is to run: without the header, nothing else
 * happened; with it, c->id names what the handler makes and its answer is
 * copied. Returns 0 when the answer has been sent (from the record), or -1
 * with `e`: 400 invalid_idempotency_key, 413, 422 idempotency_mismatch,
 * 409 idempotency_in_progress (c->retry_after set), 507
 * idempotency_full, or a storage error. Call replay_end in every case.
 */
int replay_begin(route_call *c, bool redo, replay_t *o, err_t *e) ERR_MUST_USE;

/*
 * After the handler, which returned `rc`: keep its answer for retries, or
 * forget the key when it made nothing (-1) or answered 503. Failures are
 * logged (the answer has gone out already). Releases what replay_begin took.
 */
void replay_end(route_call *c, replay_t *o, int rc);

#endif
