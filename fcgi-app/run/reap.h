/*
 * reap: removes containers this platform instance created that its
 * runtime no longer uses — what a crash left.
 */
#ifndef MINILAMBDA_REAP_H
#define MINILAMBDA_REAP_H

#include "base/err.h"
#include "engine/docker.h"
#include "run/runtime.h"

/*
 * List containers labelled minilambda.managed=1 and minilambda.instance of
 * `rt`, and force-remove each that runtime_live says is not in use.
 * Returns the number removed, or -1 with `e` when the engine could not be
 * asked (a removal that fails is logged and tried at the next sweep).
 */
int reap_sweep(docker_conn_t *c, runtime_t *rt, err_t *e) ERR_MUST_USE;

/* Force-remove every container of invocation `invocation_id` (a cancelled
 * run). Returns the number removed, or -1 with `e` when the engine could
 * not be asked. */
int reap_remove_invocation(docker_conn_t *c, const char *invocation_id, err_t *e) ERR_MUST_USE;

#endif
