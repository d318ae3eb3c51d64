/*
 * cold: the runtime that gives every call a fresh container — created,
 * attached before start, started, fed, waited on and removed — the seed's
 * isolation. While a run holds a container its run id sits in the shared
 * slots table at the caller's seat, which is how `live` (and so the janitor)
 * tells it from a leftover of a process that died.
 */
#ifndef MINILAMBDA_COLD_H
#define MINILAMBDA_COLD_H

#include "runtime.h"
#include "slots.h"

/* A cold runtime for `instance` that records live runs in `slots`
 * (borrowed; it must outlive the runtime). Returns it (runtime_free), or
 * NULL when out of memory. */
runtime_t *cold_new(slots_t *slots, const char *instance);

#endif
