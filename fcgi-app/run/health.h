/*
 * health: what /healthz and minilambda_up{component} report — each part
 * the platform needs to serve, checked the same way for both:
 *
 *   engine     the Docker engine answers a ping (with MINILAMBDA_ENGINES:
 *              at least one engine answers its background probe);
 *   store      functions.json parses (a missing file is an empty store);
 *   keys       keys.json parses (a missing file is no key): a corrupt one
 *              fails every request that presents a key;
 *   data_dir   the data dir accepts new files;
 *   disk       its file system has MINILAMBDA_MIN_FREE_BYTES free;
 *   executors  every async executor is running and not stalled on a write;
 *   locks      no store lock (functions.json.lock, keys.json.lock,
 *              async/records.lock) has been held for more than
 *              FILES_LOCK_HELD_MS (files_lock_held: the check takes no
 *              lock itself).
 *   keeper     with warm starts on, the keeper reports each second and no
 *              function has been short of its keep_warm, with no make of
 *              it done, for HEALTH_KEEPER_SHORT_MS.
 */
#ifndef MINILAMBDA_HEALTH_H
#define MINILAMBDA_HEALTH_H

#include <stdbool.h>

#include "base/config.h"
#include "engine/docker.h"
#include "engine/engines.h"
#include "state/keys.h"
#include "state/slots.h"
#include "state/store.h"

/* The `keeper` part: the keeper reports each second (slots.h); no report
 * for this long is keeper_down, a function short of its keep_warm with no
 * make of it done for HEALTH_KEEPER_SHORT_MS is keeper_stalled. */
#define HEALTH_KEEPER_SILENT_MS 3000
#define HEALTH_KEEPER_SHORT_MS 10000

typedef enum {
    HEALTH_ENGINE = 0,
    HEALTH_STORE,
    HEALTH_KEYS,
    HEALTH_DATA_DIR,
    HEALTH_DISK,
    HEALTH_EXECUTORS,
    HEALTH_LOCKS,
    HEALTH_KEEPER,
    HEALTH__N
} health_part;

typedef struct {
    bool up[HEALTH__N];
    const char *code[HEALTH__N]; /* the error code of a failed part (static) */
    char detail[HEALTH__N][256]; /* why a part failed, or "" */
    long functions;              /* registered functions, or -1 */
    long long free_bytes;        /* on the data dir's file system, or -1 */
    int executors;               /* configured */
    int executors_up;            /* running and not stalled */
} health_report;

/* What the checks borrow. `first_executor` is the executors' first row in
 * `slots`. */
typedef struct {
    const config_t *cfg;
    docker_conn_t *conn;
    engines_t *engines; /* with several, their probed state is read instead of a ping */
    store_t *store;
    keys_t *keys;
    slots_t *slots;
    int first_executor;
} health_ctx;

/* Check every part into `r` (filled in whole). Never fails; the engine
 * check waits at most `ping_ms`. */
void health_check(const health_ctx *x, int ping_ms, health_report *r);

/* The part's name as /healthz and the metric label say it (static). */
const char *health_name(health_part p);

/* Whether every part is up. */
bool health_ok(const health_report *r);

#endif
