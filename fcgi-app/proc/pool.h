/*
 * pool: the process model. A master opens the FastCGI sockets, forks the
 * workers, respawns any that die (with a backoff so a crash loop does not
 * spin), runs the janitor, and on SIGTERM or SIGINT stops them gracefully.
 *
 * Each worker serves two sockets with separate threads: the control plane
 * (registry, health) and the invoke plane, so that long invocations can never
 * starve the control plane.
 */
#ifndef MINILAMBDA_POOL_H
#define MINILAMBDA_POOL_H

#include <stdbool.h>

#include "base/config.h"
#include "state/slots.h"

/* A process that lived less than this counts as crash-looping: its
 * respawn waits, from POOL_BACKOFF_MIN_MS doubling to POOL_BACKOFF_MAX_MS. */
#define POOL_STABLE_MS 5000
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 10000

/*
 * Run the pool until a stop signal. `instance` is the label value naming
 * this platform instance's containers. Returns the process exit status
 * (0 after a clean stop).
 */
int pool_run(const config_t *cfg, const char *instance);

/*
 * How long the master waits before it starts again a process that exited
 * after living `lived_ms`, the wait before its last start having been
 * `backoff_ms` (0: none): nothing after a stable life (POOL_STABLE_MS or
 * more), else POOL_BACKOFF_MIN_MS, then twice the last wait, at most
 * POOL_BACKOFF_MAX_MS. Pure.
 */
long long pool_backoff(long long lived_ms, long long backoff_ms);

/*
 * Whether process `index` may start now, in a pool whose table lists
 * `workers` workers, then `executors` async executors, then the janitor
 * and the keeper: any but an executor always; an executor only once the
 * start-up's recovery and its own row's (slots_needs_recovery on
 * `slots`, borrowed) are done, else it could claim a run whose container
 * from before is still there.
 */
bool pool_may_start(slots_t *slots, int workers, int executors, int index);

#endif
