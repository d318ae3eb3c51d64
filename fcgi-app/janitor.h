/*
 * janitor: removes containers this platform instance created whose
 * invocation is no longer running in any live worker — what a crash left.
 */
#ifndef MINILAMBDA_JANITOR_H
#define MINILAMBDA_JANITOR_H

#include "docker.h"
#include "slots.h"

/*
 * List containers labelled minilambda.managed=1 and
 * minilambda.instance=`instance`, and force-remove each whose invocation is
 * not running according to `slots`. Returns the number removed, or -1 when
 * the engine could not be asked (logged).
 */
int janitor_sweep(docker_conn_t *c, const char *instance, slots_t *slots);

/* Force-remove every container of invocation `invocation_id` (a cancelled
 * run). Returns the number removed, or -1 when the engine could not be
 * asked. */
int janitor_remove_invocation(docker_conn_t *c, const char *invocation_id);

#endif
