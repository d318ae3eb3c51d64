/*
 * start: the runtime, named for what it decides: how a call's container
 * starts (warm, reused or cold). A call takes a warm container from the keeper when
 * one is ready (lease.h) and otherwise starts cold at once, never waiting
 * for one:
 *
 *   reuse "none"       a prestarted fresh container, run once through
 *                      minilambda-init (its values in a header); cold, a
 *                      fresh container with its values in its env;
 *   reuse "container"  a container under minilambda-init, a fresh process
 *                      per call, given back to the keeper after the call;
 *   reuse "process"    the function's own long-lived process, over the
 *                      loop protocol (frames.h), given back likewise.
 *
 * A container that timed out, was cancelled or broke its protocol is
 * never given back: it is removed. Used containers are removed by the
 * keeper, off the call's path (by the call itself when no keeper runs).
 * Every container a call holds is tracked in its seat of the shared slots
 * table, so the janitor keeps it while the call runs.
 */
#ifndef MINILAMBDA_START_H
#define MINILAMBDA_START_H

#include "run/runtime.h"
#include "state/slots.h"

/* The runtime for platform `instance`, with `init` the host path of
 * minilambda-init ("" when there is none: every reuse but "process" then
 * runs cold). Returns it (runtime_free), or NULL when out of memory. */
runtime_t *start_new(slots_t *slots, const char *instance, const char *init);

#endif
