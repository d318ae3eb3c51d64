/*
 * keeper: the warm-pool process under the master. It owns the containers
 * made ahead of their calls — created, attached and started, each blocked
 * on its stdin — and hands them to the threads that run calls (lease.h):
 *
 *   - a function with keep_warm N has N ready at all times;
 *   - a function called in the last MINILAMBDA_WARM_IDLE seconds has at
 *     least one ready (adaptive warmth); a reused one out on a call
 *     counts, so none is made for it; one given back is kept only while
 *     the function wants more ready than it has (keeper_keeps);
 *   - at most MINILAMBDA_WARM_MAX are held, the least recently readied
 *     going first when room is needed;
 *   - a container of an older generation of its record (after PATCH) or
 *     of a deleted function is never handed out, and is removed;
 *   - used containers are removed here, off the calls' path.
 *
 * Engine calls run on threads of its own, a few per engine with a queue
 * each, so that an engine that stops answering holds only its own work;
 * the thread that answers the callers never waits on an engine, so an
 * answer takes microseconds. Each second it drops ready containers that
 * are gone (their attach connection closed) or on an engine that does not
 * answer, and reports to the shared slots table for /healthz.
 * The run id of every container it holds is in the shared slots table
 * (slots_keep), so the janitor keeps them; when the keeper dies, the master
 * clears that table and the janitor removes what it held.
 */
#ifndef MINILAMBDA_KEEPER_H
#define MINILAMBDA_KEEPER_H

#include <stdbool.h>

#include "base/config.h"
#include "engine/engines.h"
#include "state/metrics.h"
#include "state/slots.h"

typedef struct {
    const config_t *cfg;
    const char *instance;   /* container label value */
    slots_t *slots;         /* shared: callers' seats and the keeper's table */
    metrics_t *metrics;     /* shared: minilambda_warm_containers */
    const char *socket;     /* where to listen (a unix SOCK_SEQPACKET socket) */
    engines_shm_t *engines; /* shared: engines' health and load */
} keeper_ctx;

/* The process body: serve until SIGTERM or SIGINT (blocked by the
 * caller), then remove every container held. Returns the exit status for
 * the process. */
int keeper_run(const keeper_ctx *x);

/* The pool's arithmetic, pure (no state: tests/unit/test_keeper.c). */

/* How many ready containers a function wants: its `keep_warm`, or while
 * `active` (called within MINILAMBDA_WARM_IDLE) and not `on_hold` (its lone
 * miss's cold call still running) its `burst` when that is more. */
int keeper_want(int keep_warm, bool active, int burst, bool on_hold);

/* Whether a container given back is kept: only while the function's
 * `ready` and `making` are under its `want`. The reused ones still out on
 * calls do not count: they are busy, and counting them would remove every
 * container coming back whenever more calls overlap than the want, so that
 * each call started cold. */
bool keeper_keeps(int want, int ready, int making);

/* Whether a function last called at `last_call_ms` (0: never) is active at
 * `now_ms` with MINILAMBDA_WARM_IDLE `warm_idle_s`. */
bool keeper_is_active(long long last_call_ms, long long now_ms, int warm_idle_s);

/* The entry of the `n` (arrays borrowed) that may go (`may_go`) ready
 * longest (least `since_ms`): the one to drop for room. -1 when none. */
int keeper_lru(const long long *since_ms, const bool *may_go, int n);

#endif
