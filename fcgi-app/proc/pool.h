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

#include "base/config.h"

/*
 * Run the pool until a stop signal. `instance` is the label value naming
 * this platform instance's containers. Returns the process exit status
 * (0 after a clean stop).
 */
int pool_run(const config_t *cfg, const char *instance);

#endif
