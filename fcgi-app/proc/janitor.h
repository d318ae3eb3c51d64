/*
 * janitor: the janitor's process, under the master. Everything that waits
 * on the engine or the disk and is nobody's request happens here, so the
 * master itself never blocks and respawns a dead process at once whatever
 * the engine does:
 *
 *   - at start-up, the temp files of interrupted writes are removed, the
 *     containers an earlier run left are swept, and runs claimed when the
 *     platform stopped are recovered, before any executor may claim;
 *   - when a process dies (the master says so with SIGUSR1), its containers
 *     are swept, then a dead executor's claims recovered: the old
 *     container is gone before a retry of its run can start; the master
 *     respawns that executor only then;
 *   - every MINILAMBDA_JANITOR_INTERVAL, a sweep and the pruning of old
 *     async records and of sync records (records.h);
 *   - on SIGTERM, a last sweep.
 *
 * Recovery that cannot be written (a full disk) is tried again each pass.
 */
#ifndef MINILAMBDA_JANITOR_H
#define MINILAMBDA_JANITOR_H

#include "base/config.h"
#include "engine/engines.h"
#include "state/slots.h"

typedef struct {
    const config_t *cfg;
    const char *instance; /* container label value */
    slots_t *slots;       /* shared: live runs, and the rows awaiting recovery */
    int first_executor;   /* the executors' rows: first_executor .. + executors - 1 */
    int executors;
    engines_shm_t *engines; /* shared: engines' health (probed here) and load */
} janitor_ctx;

/* The process body: serve until SIGTERM or SIGINT (blocked by the caller,
 * as is SIGUSR1). Returns the exit status for the process. */
int janitor_run(const janitor_ctx *x);

#endif
