/*
 * engines: the Docker engines calls are placed on (MINILAMBDA_ENGINES), or
 * the one of DOCKER_HOST when that is unset.
 *
 * What every process must see the same lives in one anonymous shared
 * mapping the master makes before the first fork (engines_shm_t): each
 * engine's health (set by the janitor process's probe threads, and by any
 * call that finds the engine gone), how many calls each process row has in
 * flight on it, and how many calls it was ever given. A call goes to the
 * healthy engine with the fewest calls in flight relative to its weight;
 * among equals, to the one given the fewest relative to its weight, so
 * even one call at a time spreads by weight.
 *
 * Without MINILAMBDA_ENGINES there is one engine, never probed and always
 * taken as up: placement costs two atomic additions and the behaviour is
 * the single-engine one exactly (an engine that does not answer is the
 * call's 503 engine_unreachable, not engine_unavailable).
 */
#ifndef MINILAMBDA_ENGINES_H
#define MINILAMBDA_ENGINES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "base/err.h"
#include "engine/docker.h"

#define ENGINES_MAX CONFIG_ENGINES_MAX
/* How often each engine is pinged, and how long a ping may take: an
 * engine that stops answering is out within ENGINES_PROBE_MS +
 * ENGINES_PING_MS (1.5 s), and back as soon after it answers. */
#define ENGINES_PROBE_MS 500
#define ENGINES_PING_MS 1000

typedef struct engines_shm engines_shm_t;
typedef struct engines engines_t;

/* Map the shared state for `rows` process rows (the slots table's).
 * Returns it (engines_shm_destroy in the process that made it), or NULL
 * with errno set. */
engines_shm_t *engines_shm_create(int rows);

/* Unmap it. */
void engines_shm_destroy(engines_shm_t *s);

/* Forget the calls row `row` had in flight (the master, when the process
 * of that row died). */
void engines_reset_row(engines_shm_t *s, int row);

/*
 * The engines of `cfg` (its MINILAMBDA_ENGINES entries, or DOCKER_HOST's
 * one), sharing `shm` (borrowed; NULL: a private state, for tools and
 * tests). Returns them (engines_close), or NULL with `e` (ERR_INVALID)
 * naming the bad entry.
 */
engines_t *engines_open(const config_t *cfg, engines_shm_t *shm, err_t *e) ERR_MUST_USE;

/* Free the endpoints; every connection made from them must be gone. */
void engines_close(engines_t *en);

/* How many engines there are (1 without MINILAMBDA_ENGINES). */
int engines_count(const engines_t *en);

/* Whether MINILAMBDA_ENGINES is in use (health is probed, engines go out). */
bool engines_multi(const engines_t *en);

/* Engine `i`'s endpoint (borrowed), name (its `engine` label) and weight. */
docker_t *engines_docker(const engines_t *en, int i);
const char *engines_name(const engines_t *en, int i);
int engines_weight(const engines_t *en, int i);

/* Whether engine `i` is taken as answering now. */
bool engines_up(const engines_t *en, int i);

/* How many times engine `i` went out (up to down) since the pool
 * started: a run that read it on entering and reads another number at its
 * end had its engine stop answering the probe while it ran. */
long long engines_outs(const engines_t *en, int i);

/* Whether any engine is up. */
bool engines_any_up(const engines_t *en);

/* Record what a ping of engine `i` found; logs each change. Only a
 * multi-engine set changes state (one engine is always up). */
void engines_set_up(engines_t *en, int i, bool up, const char *why);

/* Calls of engine `i` in flight now, all processes together; calls it
 * was given since the pool started. */
int engines_in_flight(const engines_t *en, int i);
long long engines_placed(const engines_t *en, int i);

/*
 * Choose the engine for one call: a healthy one, not in `skip` (a bit per
 * engine), with the fewest calls in flight relative to its weight.
 * `prefer` (a bit per engine, 0 for none) narrows the choice to those
 * engines when one of them is healthy. Returns its index, or -1 with `e`
 * (ERR_ENGINE_UNREACHABLE, code engine_unavailable) when none is healthy.
 */
int engines_place(engines_t *en, unsigned skip, unsigned prefer, err_t *e) ERR_MUST_USE;

/* Count something made on engine `i` ahead of its calls (a warm
 * container) as given to it for the tie-breaker only, so that the next
 * one goes by weight too; no call is counted. */
void engines_note(engines_t *en, int i);

/* Count a call of row `row` as in flight on engine `i` (and as given to
 * it); engines_leave when it ends. */
void engines_enter(engines_t *en, int row, int i);
void engines_leave(engines_t *en, int row, int i);

/*
 * The background probe (the janitor process runs it): a thread per engine
 * pings it every ENGINES_PROBE_MS and records what it found
 * (engines_set_up). Without MINILAMBDA_ENGINES no thread starts. Returns the probe
 * (engines_probe_stop), or NULL when out of memory or a thread could not
 * start (logged).
 */
typedef struct engines_probe engines_probe_t;
engines_probe_t *engines_probe_start(engines_t *en);

/* Stop the probe's threads (within a ping's timeout) and free it. */
void engines_probe_stop(engines_probe_t *p);

/* MINILAMBDA_REGISTRY ("" when none). */
const char *engines_registry(const engines_t *en);

/*
 * Pull `image` (a function's tag, "repo[:tag]") from the registry onto
 * engine `i` over its connection `c` (POST /images/create), and tag it
 * `image` there, by `deadline` (monotonic ms). At most one pull of an
 * image runs on an engine at a time, across every process: the others
 * wait for it and find the image there. 0, or -1 with `e` filled in
 * (ERR_ENGINE..., ERR_NOT_FOUND code image_not_found when the registry
 * has no such image).
 */
int engines_pull(engines_t *en, docker_conn_t *c, int i, const char *image, long long deadline,
                 err_t *e) ERR_MUST_USE;

/* Whether the registry at `registry` (host:port) answers its API
 * (GET /v2/, any HTTP answer) within a few seconds: a start-up check. 0,
 * or -1 with `e` (ERR_INVALID) naming it and why. */
int engines_registry_check(const char *registry, err_t *e) ERR_MUST_USE;

/* Tag the engine's image `tag` for the registry and push it there (POST
 * /images/{name}/push) over `c`. 0, or -1 with `e` filled in. */
int engines_push(engines_t *en, docker_conn_t *c, const char *tag, err_t *e) ERR_MUST_USE;

/* One thread's connections, one per engine (made lazily by libcurl). */
typedef struct {
    engines_t *en;
    docker_conn_t *conn[ENGINES_MAX];
} engines_conns;

/* Make `cs`'s connections. 0, or -1 with `e` when out of memory (`cs`
 * then holds nothing). */
int engines_conns_init(engines_conns *cs, engines_t *en, err_t *e) ERR_MUST_USE;

/* Free them. */
void engines_conns_free(engines_conns *cs);

#endif
