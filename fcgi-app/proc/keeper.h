/*
 * keeper: the warm-pool process under the master. It owns the containers
 * made ahead of their calls — created, attached and started, each blocked
 * on its stdin — and hands them to the threads that run calls (lease.h):
 *
 *   - a function with keep_warm N has N ready at all times;
 *   - a function called in the last MINILAMBDA_WARM_IDLE seconds has at
 *     least one ready (adaptive warmth); a reused one comes back after its
 *     call and counts;
 *   - at most MINILAMBDA_WARM_MAX are held, the least recently readied
 *     going first when room is needed;
 *   - a container of an older generation of its record (after PATCH) or
 *     of a deleted function is never handed out, and is removed;
 *   - used containers are removed here, off the calls' path.
 *
 * Engine calls run on a few threads of its own; the thread that answers
 * the callers never waits on the engine, so an answer takes microseconds.
 * The run id of every container it holds is in the shared slots table
 * (slots_keep), so the janitor keeps them; when the keeper dies, the master
 * clears that table and the janitor removes what it held.
 */
#ifndef MINILAMBDA_KEEPER_H
#define MINILAMBDA_KEEPER_H

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

#endif
