/*
 * executor: the body of an async executor process. It claims PENDING runs
 * oldest first (woken by inotify on the queue directory the moment a run is
 * queued), runs each through the same invoke bracket and runtime as
 * synchronous calls, and records the outcome.
 */
#ifndef MINILAMBDA_EXECUTOR_H
#define MINILAMBDA_EXECUTOR_H

#include "base/config.h"
#include "engine/engines.h"
#include "state/metrics.h"
#include "state/slots.h"
#include "state/throttle.h"

typedef struct {
    const config_t *cfg;
    const char *instance; /* container label value */
    slots_t *slots;       /* shared table; this executor's runs sit in `row` */
    throttle_t *throttle; /* shared rate tables */
    int row;
    int index; /* executor number, 0-based: names its claims */
    metrics_t *metrics;
    engines_shm_t *engines; /* shared: engines' health and load */
} executor_ctx;

/* Serve until SIGTERM or SIGINT (blocked by the caller); returns the exit
 * status for the process. A run in progress finishes first. */
int executor_run(const executor_ctx *x);

#endif
