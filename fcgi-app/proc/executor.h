/*
 * executor: the body of an async executor process. It claims PENDING runs
 * oldest first (woken by inotify on the queue directory the moment a run is
 * queued), runs each through the same invoke bracket and runtime as
 * synchronous calls, and records the outcome.
 */
#ifndef MINILAMBDA_EXECUTOR_H
#define MINILAMBDA_EXECUTOR_H

#include "app/app.h"
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

/*
 * The claim loop executor_run serves with, on `app` (opened by the caller,
 * borrowed; runs go through its runtime) and `seat` (borrowed): while the
 * engine answers, claim what is due in app->async, oldest first, run it
 * through invoke_call and record its outcome (a run the engine failed
 * goes back to the queue untouched), until `stop_fd` is readable (it is
 * polled, never read: executor_run's signalfd). `queue_fd` is an inotify
 * descriptor on async_queue_dir that wakes the loop when a run is queued
 * (it is drained), or -1: the loop then looks each second. A run in
 * progress finishes first. Returns 0 on a stop, -1 on an error that needs
 * a new process.
 */
int executor_serve(const executor_ctx *x, app_t *app, const runtime_seat *seat, int stop_fd,
                   int queue_fd);

#endif
