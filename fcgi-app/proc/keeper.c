#include "proc/keeper.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/docker.h"
#include "engine/engines.h"
#include "run/container.h"
#include "run/lease.h"
#include "state/func.h"
#include "state/store.h"

/* Per engine: its makes and removals never wait on another engine. */
#define KEEPER_ENGINE_THREADS 2
#define KEEPER_CLIENTS 512
#define KEEPER_TICK_MS 1000
/* Making one container: create, attach, start. */
#define KEEPER_CREATE_MS 60000
/* After a failed make on an engine that still answers a ping (an image it
 * lacks, a spec it refuses), wait before the next try of that function on
 * that engine. An engine that does not answer gets no make until it does
 * (pinged every KEEPER_TICK_MS). */
#define KEEPER_RETRY_MS 30000
/* The ping after a failed make, and of an engine backing off. */
#define KEEPER_PING_MS 1000
/* While a function is called faster than one container is made, up to
 * this many are kept ready for it (each miss adds one, each hit with more
 * ready than needed takes one off). */
#define KEEPER_BURST_MAX 4
/* After a lone miss, the function's next warm container is made once the
 * cold call the miss sent is over (so that the two do not share the
 * engine), or this long after that call's timeout at the latest (a caller
 * that died never says it is over). */
#define KEEPER_HOLD_MS 1000
/* On stop, what is held is removed within this. */
#define KEEPER_STOP_MS 4000

typedef enum { KEEPER_FREE = 0, KEEPER_MAKING, KEEPER_READY } keeper_state;

/* One container held (or being made). */
typedef struct {
    keeper_state state;
    char function[LEASE_ID_LEN];
    uint64_t generation;
    int mode;
    char cid[DOCKER_ID_MAX];
    char run[LEASE_ID_LEN];
    docker_stream_t *stream; /* READY: its attach stream, owned */
    bool used;               /* it served a call already */
    long long since_ms;      /* when it became ready */
    int engine;              /* the engine it lives on */
} keeper_slot;

/* What the keeper knows of one function. */
typedef struct {
    char id[LEASE_ID_LEN];
    char name[96];
    char image[320];     /* what its containers are made of (pinned id or tag) */
    uint64_t generation; /* of `record` */
    func_t *record;      /* a copy, owned */
    int mode;            /* container_mode its calls run in */
    int keep_warm;
    long long last_call_ms;             /* 0: never called since the keeper started */
    int leased;                         /* reused containers out on calls now */
    int burst;                          /* ready ones wanted while called: grows on a miss */
    bool on_hold;                       /* warmth waits for the cold call of a lone miss */
    long long hold_until_ms;            /* while on_hold: until then at the latest */
    long long retry_at_ms[ENGINES_MAX]; /* no make on that engine before this (a failure) */
    unsigned lacks;           /* engines that lack its image (a bit each), none tried again */
    bool seen;                /* in the store at the last look */
    long long short_since_ms; /* below keep_warm, no make of it done, since (0: not) */
} keeper_fn;

/* Work for the engine threads, and its outcome. */
typedef struct keeper_job {
    struct keeper_job *next;
    bool make;               /* make a container, else remove `cid` */
    bool ping;               /* neither: ping the engine (`ok`: it answered) */
    int engine;              /* the engine it is made on or removed from */
    int slot;                /* make: the slot reserved for it */
    func_t *record;          /* make: the function, a copy owned by the job */
    int mode;                /* make */
    char run[LEASE_ID_LEN];  /* make */
    char cid[DOCKER_ID_MAX]; /* remove; make: the outcome */
    docker_stream_t *stream; /* remove: closed once removed; make: the outcome */
    bool ok;                 /* make: the container is ready */
    bool missing;            /* make: the engine lacks the image */
    bool engine_down;        /* make: it failed and the engine did not answer a ping after */
    char why[600];           /* make: why not */
} keeper_job;

typedef struct keeper keeper_t;

/* One engine's queue and threads: an engine that stops answering holds
 * only its own makes and removals. */
typedef struct {
    keeper_t *k;
    int engine;
    pthread_mutex_t mu;
    pthread_cond_t more;
    keeper_job *todo, **todo_tail;
    bool closing; /* its threads finish the queue and exit */
    pthread_t threads[KEEPER_ENGINE_THREADS];
    int nthreads;
    /* The keeper's thread only: */
    bool down;    /* a make failed and a ping did not answer: none until one does */
    bool pinging; /* a ping of it is queued */
} keeper_lane;

struct keeper {
    const keeper_ctx *x;
    const config_t *cfg;
    store_t *store;
    engines_t *engines;
    keeper_slot *slots; /* [cfg->warm_max] */
    keeper_fn *fns;
    size_t nfns, capfns;
    keeper_lane lanes[ENGINES_MAX]; /* [engines_count] */
    int nlanes;
    pthread_mutex_t done_mu;
    keeper_job *done; /* jobs done, for the keeper's thread */
    int wake;         /* eventfd: jobs are done */
    int listen_fd, sig_fd;
    int clients[KEEPER_CLIENTS];
    int nclients;
};

/* --- the pool's arithmetic (pure: tests/unit/test_keeper.c) ------------- */

int keeper_want(int keep_warm, bool active, int burst, bool on_hold)
{
    int want = keep_warm > 0 ? keep_warm : 0;
    if (active && !on_hold && burst > want)
        want = burst;
    return want;
}

bool keeper_keeps(int want, int ready, int making)
{
    return ready + making < want;
}

bool keeper_is_active(long long last_call_ms, long long now_ms, int warm_idle_s)
{
    return last_call_ms != 0 && now_ms - last_call_ms < (long long)warm_idle_s * 1000;
}

int keeper_lru(const long long *since_ms, const bool *may_go, int n)
{
    int oldest = -1;
    for (int i = 0; i < n; i++)
        if (may_go[i] && (oldest < 0 || since_ms[i] < since_ms[oldest]))
            oldest = i;
    return oldest;
}

/* --- the engine threads ------------------------------------------------ */

static void keeper_push(keeper_t *k, keeper_job *j)
{
    keeper_lane *l = &k->lanes[j->engine];
    pthread_mutex_lock(&l->mu);
    j->next = NULL;
    *l->todo_tail = j;
    l->todo_tail = &j->next;
    pthread_cond_signal(&l->more);
    pthread_mutex_unlock(&l->mu);
}

/* Make the container of job `j` on connection `c` (its engine's). */
static void keeper_make(keeper_t *k, docker_conn_t *c, keeper_job *j)
{
    runtime_req req;
    runtime_result res;
    docker_result dr;
    long long deadline = clock_mono_ms() + KEEPER_CREATE_MS;

    memset(&req, 0, sizeof(req));
    req.function = j->record;
    snprintf(req.run, sizeof(req.run), "%s", j->run);
    req.timeout_s = j->record->timeout;
    req.attempt = 1;
    req.cancel_fd = -1;
    runtime_result_init(&res);
    int made = container_create(c, &req, k->x->instance, (container_mode)j->mode, k->cfg->init,
                                deadline, j->cid, &res);
    /* An engine without the image pulls it from the registry, if any. */
    if (made != 0 && res.status == STATUS_IMAGE_MISSING &&
        engines_registry(k->engines)[0] != '\0') {
        err_t e;
        if (engines_pull(k->engines, c, j->engine, j->record->image, deadline, &e) == 0)
            made = container_create(c, &req, k->x->instance, (container_mode)j->mode, k->cfg->init,
                                    deadline, j->cid, &res);
        else
            log_warn("keeper: %s", e.msg);
    }
    if (made != 0) {
        j->missing = res.status == STATUS_IMAGE_MISSING;
        snprintf(j->why, sizeof(j->why), "%s", res.message);
        goto done;
    }
    if (docker_attach(c, j->cid, (long)(deadline - clock_mono_ms()), &j->stream, &dr) !=
        DOCKER_OK) {
        snprintf(j->why, sizeof(j->why), "attach: %s", dr.message);
        goto done;
    }
    if (container_start(c, j->cid, deadline, &res) != 0) {
        snprintf(j->why, sizeof(j->why), "%s", res.message);
        goto done;
    }
    j->ok = true;
done:
    if (!j->ok) {
        docker_stream_close(j->stream);
        j->stream = NULL;
        /* The engine's fault or the function's: the back-off differs. */
        j->engine_down = !j->missing && docker_ping(c, KEEPER_PING_MS, &dr) != DOCKER_OK;
        if (j->cid[0] != '\0' && !j->engine_down)
            container_remove(c, j->cid, "warm");
    }
    runtime_result_free(&res);
}

/* Hand job `j` back to the keeper's thread. */
static void keeper_done(keeper_t *k, keeper_job *j)
{
    pthread_mutex_lock(&k->done_mu);
    j->next = k->done;
    k->done = j;
    pthread_mutex_unlock(&k->done_mu);
    uint64_t one = 1;
    if (write(k->wake, &one, sizeof(one)) < 0)
        log_warn("keeper: write(eventfd) failed: %s", strerror(errno));
}

static void *keeper_engine(void *arg)
{
    keeper_lane *l = arg;
    keeper_t *k = l->k;
    engines_conns cs;
    err_t e;
    bool have = engines_conns_init(&cs, k->engines, &e) == 0;
    if (!have)
        log_error("keeper: %s", e.msg);
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->todo == NULL && !l->closing)
            pthread_cond_wait(&l->more, &l->mu);
        keeper_job *j = l->todo;
        if (j == NULL) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        l->todo = j->next;
        if (l->todo == NULL)
            l->todo_tail = &l->todo;
        bool closing = l->closing;
        pthread_mutex_unlock(&l->mu);
        docker_conn_t *c = have ? cs.conn[l->engine] : NULL;
        if (j->ping) {
            docker_result dr;
            j->ok = c != NULL && !closing && docker_ping(c, KEEPER_PING_MS, &dr) == DOCKER_OK;
            keeper_done(k, j);
            continue;
        }
        /* Stopping: nothing more is made, and what was just made goes. */
        if (j->make && c != NULL && !closing) {
            keeper_make(k, c, j);
            pthread_mutex_lock(&l->mu);
            closing = l->closing;
            pthread_mutex_unlock(&l->mu);
            if (closing && j->ok) {
                j->make = false;
                func_free(j->record);
                j->record = NULL;
            }
        } else if (j->make) {
            snprintf(j->why, sizeof(j->why), "no engine connection");
        }
        if (!j->make) {
            if (c != NULL && j->cid[0] != '\0')
                container_remove(c, j->cid, "warm");
            docker_stream_close(j->stream);
            free(j);
            continue;
        }
        keeper_done(k, j);
    }
    if (have)
        engines_conns_free(&cs);
    return NULL;
}

/* Remove container `cid` of engine `engine` off the callers' path (its
 * stream, owned, is closed after). */
static void keeper_remove(keeper_t *k, const char *cid, docker_stream_t *stream, int engine)
{
    keeper_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        log_error("keeper: calloc() failed: out of memory; container %.12s left to the janitor",
                  cid);
        docker_stream_close(stream);
        return;
    }
    snprintf(j->cid, sizeof(j->cid), "%s", cid);
    j->stream = stream;
    j->engine = engine >= 0 && engine < k->nlanes ? engine : 0;
    keeper_push(k, j);
}

/* --- the table ----------------------------------------------------------- */

static keeper_fn *keeper_fn_find(keeper_t *k, const char *id)
{
    for (size_t i = 0; i < k->nfns; i++)
        if (strcmp(k->fns[i].id, id) == 0)
            return &k->fns[i];
    return NULL;
}

/* Take record `rec` (owned) as function `f`'s current one. */
static void keeper_fn_set(keeper_t *k, keeper_fn *f, func_t *rec)
{
    func_free(f->record);
    f->record = rec;
    f->generation = rec->generation;
    /* Without minilambda-init only the loop protocol can be kept warm. */
    f->mode = container_mode_of(rec, k->cfg->init[0] != '\0');
    f->keep_warm = rec->keep_warm;
    /* Another image, perhaps on other engines: every engine may try. */
    if (strcmp(func_image(rec), f->image) != 0)
        f->lacks = 0;
    snprintf(f->image, sizeof(f->image), "%s", func_image(rec));
    snprintf(f->name, sizeof(f->name), "%s", rec->name);
}

/* The function `id` with its current record from the store, added when
 * new. NULL when the store does not have it (or out of memory). */
static keeper_fn *keeper_fn_load(keeper_t *k, const char *id)
{
    func_t *rec = NULL;
    err_t e;
    keeper_fn *f = keeper_fn_find(k, id);
    if (store_get(k->store, id, &rec, &e) != 0)
        return NULL;
    if (f == NULL) {
        if (k->nfns == k->capfns) {
            size_t cap = k->capfns ? k->capfns * 2 : 16;
            keeper_fn *n = realloc(k->fns, cap * sizeof(*n));
            if (n == NULL) {
                func_free(rec);
                return NULL;
            }
            k->fns = n;
            k->capfns = cap;
        }
        f = &k->fns[k->nfns++];
        memset(f, 0, sizeof(*f));
        snprintf(f->id, sizeof(f->id), "%s", id);
    }
    keeper_fn_set(k, f, rec);
    f->seen = true;
    return f;
}

/* Give slot `i` up (its container's removal, if any, is the caller's). */
static void keeper_slot_free(keeper_t *k, int i)
{
    slots_unkeep(k->x->slots, i);
    memset(&k->slots[i], 0, sizeof(k->slots[i]));
}

/* Drop ready slot `i`: remove its container, off the path. */
static void keeper_drop(keeper_t *k, int i)
{
    keeper_slot *s = &k->slots[i];
    keeper_remove(k, s->cid, s->stream, s->engine);
    s->stream = NULL;
    keeper_slot_free(k, i);
}

/* `f`'s containers in state `st`; ready ones count only on an engine that
 * answers (those of a lost engine are dropped at the next tick). */
static int keeper_count(keeper_t *k, const keeper_fn *f, keeper_state st)
{
    int n = 0;
    for (int i = 0; i < k->cfg->warm_max; i++)
        n += k->slots[i].state == st && strcmp(k->slots[i].function, f->id) == 0 &&
             k->slots[i].generation == f->generation &&
             (st != KEEPER_READY || engines_up(k->engines, k->slots[i].engine));
    return n;
}

/* Whether any slot, of any generation, is `f`'s. */
static bool keeper_holds(keeper_t *k, const keeper_fn *f)
{
    for (int i = 0; i < k->cfg->warm_max; i++)
        if (k->slots[i].state != KEEPER_FREE && strcmp(k->slots[i].function, f->id) == 0)
            return true;
    return false;
}

static void keeper_gauge(keeper_t *k, const keeper_fn *f)
{
    metrics_set_warm(k->x->metrics, f->name, keeper_count(k, f, KEEPER_READY));
}

static bool keeper_active(const keeper_t *k, const keeper_fn *f, long long now)
{
    return keeper_is_active(f->last_call_ms, now, k->cfg->warm_idle);
}

/* How many `f` wants ready now (a hold that ran out ends here). */
static int keeper_fn_want(const keeper_t *k, keeper_fn *f, long long now)
{
    if (f->mode == CONTAINER_COLD)
        return 0;
    if (f->on_hold && now >= f->hold_until_ms)
        f->on_hold = false;
    return keeper_want(f->keep_warm, keeper_active(k, f, now), f->burst, f->on_hold);
}

/* A free slot, making room when every one is taken: the ready container
 * that became ready longest ago goes, of a function that has more ready
 * than its keep_warm. -1 when there is no room. */
static int keeper_room(keeper_t *k)
{
    int n = k->cfg->warm_max;
    long long *since = calloc((size_t)n, sizeof(*since));
    bool *may_go = calloc((size_t)n, sizeof(*may_go));
    int oldest = -1;
    for (int i = 0; since != NULL && may_go != NULL && i < n; i++) {
        keeper_slot *s = &k->slots[i];
        if (s->state == KEEPER_FREE) {
            free(since);
            free(may_go);
            return i;
        }
        keeper_fn *f = keeper_fn_find(k, s->function);
        since[i] = s->since_ms;
        may_go[i] = s->state == KEEPER_READY && (f == NULL || s->generation != f->generation ||
                                                 keeper_count(k, f, KEEPER_READY) > f->keep_warm);
    }
    if (since != NULL && may_go != NULL)
        oldest = keeper_lru(since, may_go, n);
    free(since);
    free(may_go);
    if (oldest >= 0) {
        keeper_fn *f = keeper_fn_find(k, k->slots[oldest].function);
        keeper_drop(k, oldest);
        if (f != NULL)
            keeper_gauge(k, f);
    }
    return oldest;
}

/* Start making a container of `f` in a free slot. */
static int keeper_start_make(keeper_t *k, keeper_fn *f)
{
    uuid_t u;
    err_t e;
    /* On the engine calls would go to now: the warm ones spread as the
     * calls do, and none is made on an engine that does not answer or
     * backs off. */
    unsigned off = 0;
    long long now = clock_mono_ms();
    for (int l = 0; l < k->nlanes; l++)
        if (k->lanes[l].down || now < f->retry_at_ms[l])
            off |= 1u << l;
    int engine = engines_place(k->engines, f->lacks | off, 0, &e);
    if (engine < 0 && f->lacks != 0) {
        /* Every engine that answers lacked it: one may have it by now. */
        f->lacks = 0;
        engine = engines_place(k->engines, off, 0, &e);
    }
    if (engine < 0)
        return -1;
    int i = keeper_room(k);
    if (i < 0)
        return -1;
    keeper_job *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->record = func_copy(f->record, &e)) == NULL) {
        free(j);
        return -1;
    }
    keeper_slot *s = &k->slots[i];
    memset(s, 0, sizeof(*s));
    s->state = KEEPER_MAKING;
    snprintf(s->function, sizeof(s->function), "%s", f->id);
    s->generation = f->generation;
    s->mode = f->mode;
    s->engine = engine;
    uuid_generate_random(u);
    uuid_unparse_lower(u, s->run);
    /* Kept before it exists, so the janitor never takes it for a leftover. */
    slots_keep(k->x->slots, i, u);
    j->make = true;
    j->engine = engine;
    j->slot = i;
    j->mode = f->mode;
    snprintf(j->run, sizeof(j->run), "%s", s->run);
    /* Counted as given to the engine, so that the next one goes by weight. */
    engines_note(k->engines, engine);
    keeper_push(k, j);
    return 0;
}

/* Bring function `f` to what it should have ready now: its keep_warm, at
 * least one while it was called lately, none of another generation. */
static void keeper_balance(keeper_t *k, keeper_fn *f, long long now)
{
    if (f->mode == CONTAINER_COLD)
        return;
    for (int i = 0; i < k->cfg->warm_max; i++) {
        keeper_slot *s = &k->slots[i];
        if (s->state == KEEPER_READY && strcmp(s->function, f->id) == 0 &&
            s->generation != f->generation)
            keeper_drop(k, i);
    }
    bool active = keeper_active(k, f, now);
    /* Calls that never gave their container back (a dead worker) stop
     * counting once the function is idle. */
    if (!active)
        f->leased = 0;
    /* keep_warm is kept at once; warmth beyond it waits for the cold call
     * of a lone miss, which it would slow down on a busy engine. */
    int want = keeper_fn_want(k, f, now);
    int ready = keeper_count(k, f, KEEPER_READY);
    int have = ready + keeper_count(k, f, KEEPER_MAKING);
    /* A reused container out on a call comes back after it. */
    if (f->mode != CONTAINER_FRESH)
        have += f->leased;
    while (have < want && keeper_start_make(k, f) == 0)
        have++;
    /* Idle: back to keep_warm, the oldest first. */
    while (!active && ready > f->keep_warm) {
        int oldest = -1;
        for (int i = 0; i < k->cfg->warm_max; i++) {
            keeper_slot *s = &k->slots[i];
            if (s->state == KEEPER_READY && strcmp(s->function, f->id) == 0 &&
                (oldest < 0 || s->since_ms < k->slots[oldest].since_ms))
                oldest = i;
        }
        if (oldest < 0)
            break;
        keeper_drop(k, oldest);
        ready--;
    }
    keeper_gauge(k, f);
}

/* Forget function `f` (deleted): drop what it has ready. */
static void keeper_fn_forget(keeper_t *k, keeper_fn *f)
{
    for (int i = 0; i < k->cfg->warm_max; i++)
        if (k->slots[i].state == KEEPER_READY && strcmp(k->slots[i].function, f->id) == 0)
            keeper_drop(k, i);
    metrics_set_warm(k->x->metrics, f->name, 0);
    func_free(f->record);
    *f = k->fns[--k->nfns];
}

/* --- the callers ---------------------------------------------------------- */

static void keeper_answer(int fd, lease_msg *m, int give)
{
    err_t e;
    m->op = LEASE_ANSWER;
    if (lease_send(fd, m, give, &e) != 0)
        log_warn("keeper: answering a caller failed: %s", e.msg);
}

/* Whether ready container `s` is still alive: its init or process has not
 * gone (its attach socket would be at its end). */
static bool keeper_alive(keeper_slot *s)
{
    struct pollfd p = {.fd = docker_stream_fd(s->stream), .events = POLLRDHUP};
    return poll(&p, 1, 0) == 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* The ready container for TAKE `m` to get: one that served before (the
 * latest), else the one ready longest. -1 when none. */
static int keeper_pick(keeper_t *k, const lease_msg *m)
{
    int best = -1;
    for (int i = 0; i < k->cfg->warm_max; i++) {
        keeper_slot *s = &k->slots[i];
        if (s->state != KEEPER_READY || strcmp(s->function, m->function) != 0 ||
            s->generation != m->generation || s->mode != (int)m->mode ||
            !engines_up(k->engines, s->engine))
            continue;
        keeper_slot *b = best >= 0 ? &k->slots[best] : NULL;
        if (b == NULL || (s->used && !b->used) ||
            (s->used == b->used &&
             (s->used ? s->since_ms > b->since_ms : s->since_ms < b->since_ms)))
            best = i;
    }
    return best;
}

static void keeper_take(keeper_t *k, int fd, lease_msg *m)
{
    long long now = clock_mono_ms();
    keeper_fn *f = keeper_fn_find(k, m->function);
    uuid_t u;
    int give = -1, row = m->row, thread = m->thread;
    bool seat_ok = row >= 0 && row < slots_rows(k->x->slots) && thread >= 0 &&
                   thread < slots_threads(k->x->slots);

    if (f == NULL || f->generation != m->generation)
        f = keeper_fn_load(k, m->function);
    m->start = 0;
    /* The one that served last first: a reused container keeps its /tmp
     * warm, and the others age out. */
    while (f != NULL && seat_ok && give < 0) {
        int i = keeper_pick(k, m);
        if (i < 0)
            break;
        keeper_slot *s = &k->slots[i];
        if (!keeper_alive(s)) {
            keeper_drop(k, i);
            continue;
        }
        if (uuid_parse(s->run, u) != 0 || !slots_track_if_free(k->x->slots, row, thread, u))
            break;
        const char *unread;
        size_t n = docker_stream_unread(s->stream, &unread);
        if (n > LEASE_UNREAD_MAX) {
            slots_untrack_if(k->x->slots, row, thread, u);
            keeper_drop(k, i);
            continue;
        }
        memcpy(m->unread, unread, n);
        m->unread_len = (uint32_t)n;
        m->start = s->used ? METRICS_START_REUSED : METRICS_START_WARM;
        snprintf(m->cid, sizeof(m->cid), "%s", s->cid);
        snprintf(m->run, sizeof(m->run), "%s", s->run);
        m->engine = s->engine;
        give = i;
    }
    if (f != NULL) {
        f->last_call_ms = now;
        /* The caller goes cold: what a lone miss asks for is made after its
         * call. */
        if (give < 0 && f->mode != CONTAINER_COLD && !f->on_hold) {
            f->on_hold = true;
            f->hold_until_ms = now + (long long)f->record->timeout * 1000 + KEEPER_HOLD_MS;
        } else if (give < 0) {
            /* A second miss while one is held: calls overlap, the engine
             * is busy anyway, and the warmth is wanted now. */
            f->on_hold = false;
        }
        /* Called faster than one is made: keep more ready. */
        if (give < 0 && f->burst < KEEPER_BURST_MAX)
            f->burst++;
        else if (give >= 0 && f->burst > 1 && keeper_count(k, f, KEEPER_READY) > 1)
            f->burst--;
        if (f->burst < 1)
            f->burst = 1;
    }
    m->op = LEASE_ANSWER;
    err_t e;
    if (give < 0) {
        keeper_answer(fd, m, -1);
    } else if (lease_send(fd, m, docker_stream_fd(k->slots[give].stream), &e) != 0) {
        /* The caller gave up waiting: the container is nobody's now. */
        uuid_parse(k->slots[give].run, u);
        slots_untrack_if(k->x->slots, row, thread, u);
        keeper_drop(k, give);
    } else {
        /* The caller has its own descriptor of the socket now. */
        docker_stream_close(k->slots[give].stream);
        k->slots[give].stream = NULL;
        keeper_slot_free(k, give);
    }
    /* In a reuse mode the call's container comes back to be kept, taken
     * from here or made by the call itself: count it as on its way. */
    if (f != NULL && f->mode != CONTAINER_FRESH && f->mode != CONTAINER_COLD)
        f->leased++;
    if (f != NULL)
        keeper_balance(k, f, now);
}

/* A call of `f` that went cold is over (its container, made by the call,
 * is given back or removed): that is a call's activity too, and it ends a
 * hold. 1 when a hold ended. */
static int keeper_cold_over(keeper_fn *f, const lease_msg *m)
{
    if (f == NULL || m->leased)
        return 0;
    f->last_call_ms = clock_mono_ms();
    bool was = f->on_hold;
    f->on_hold = false;
    return was;
}

static void keeper_give(keeper_t *k, int fd, lease_msg *m, int sock)
{
    long long now = clock_mono_ms();
    keeper_fn *f = keeper_fn_find(k, m->function);
    docker_stream_t *st = sock >= 0 ? docker_stream_adopt(sock, m->unread, m->unread_len) : NULL;
    uuid_t u;
    int i = -1;

    if (st == NULL && sock >= 0)
        close(sock);
    if (f != NULL && f->leased > 0)
        f->leased--;
    keeper_cold_over(f, m);
    /* Kept only while the function wants more than it has ready or being
     * made: what comes back beyond that goes. */
    if (st != NULL && f != NULL && f->generation == m->generation && f->mode == (int)m->mode &&
        uuid_parse(m->run, u) == 0 && f->mode != CONTAINER_COLD && m->engine >= 0 &&
        m->engine < k->nlanes && engines_up(k->engines, m->engine) &&
        keeper_keeps(keeper_fn_want(k, f, now), keeper_count(k, f, KEEPER_READY),
                     keeper_count(k, f, KEEPER_MAKING)))
        i = keeper_room(k);
    if (i >= 0) {
        keeper_slot *s = &k->slots[i];
        memset(s, 0, sizeof(*s));
        s->state = KEEPER_READY;
        snprintf(s->function, sizeof(s->function), "%s", f->id);
        s->generation = f->generation;
        s->mode = f->mode;
        snprintf(s->cid, sizeof(s->cid), "%s", m->cid);
        snprintf(s->run, sizeof(s->run), "%s", m->run);
        s->stream = st;
        s->engine = m->engine >= 0 && m->engine < k->nlanes ? m->engine : 0;
        s->used = true;
        s->since_ms = now;
        /* Kept before the answer: the caller forgets it after. */
        slots_keep(k->x->slots, i, u);
    } else {
        keeper_remove(k, m->cid, st, m->engine);
    }
    keeper_answer(fd, m, -1);
    if (f != NULL)
        keeper_balance(k, f, now);
}

static void keeper_drain(keeper_t *k, int fd, lease_msg *m)
{
    keeper_fn *f = keeper_fn_find(k, m->function);
    if (f != NULL && m->generation == 0) {
        keeper_fn_forget(k, f);
    } else if (f != NULL) {
        /* The record changed: take the store's version of it. */
        f = keeper_fn_load(k, m->function);
        if (f != NULL)
            keeper_balance(k, f, clock_mono_ms());
    }
    /* A record newer than the store we read could still be on its way:
     * what does not match it is dropped too. */
    for (int i = 0; i < k->cfg->warm_max; i++) {
        keeper_slot *s = &k->slots[i];
        if (s->state == KEEPER_READY && strcmp(s->function, m->function) == 0 &&
            s->generation != m->generation)
            keeper_drop(k, i);
    }
    keeper_answer(fd, m, -1);
}

/* One message from caller `fd`. Returns -1 when the caller is gone. */
static int keeper_serve(keeper_t *k, int fd)
{
    lease_msg m;
    err_t e;
    int sock = -1;
    int r = lease_recv(fd, &m, &sock, &e);
    if (r < 0)
        log_debug("keeper: a caller's line: %s", e.msg);
    if (r <= 0)
        return -1;
    switch (m.op) {
    case LEASE_TAKE:
        keeper_take(k, fd, &m);
        break;
    case LEASE_GIVE:
        keeper_give(k, fd, &m, sock);
        sock = -1;
        break;
    case LEASE_REMOVE: {
        keeper_fn *f = keeper_fn_find(k, m.function);
        if (f != NULL && f->mode != CONTAINER_FRESH && f->leased > 0)
            f->leased--;
        keeper_remove(k, m.cid, sock >= 0 ? docker_stream_adopt(sock, NULL, 0) : NULL, m.engine);
        sock = -1;
        /* The warmth the miss asked for is made now, after its call. */
        if (keeper_cold_over(f, &m))
            keeper_balance(k, f, clock_mono_ms());
        break;
    }
    case LEASE_DRAIN:
        keeper_drain(k, fd, &m);
        break;
    default:
        log_warn("keeper: a caller sent operation %u; dropping it", m.op);
        if (sock >= 0)
            close(sock);
        return -1;
    }
    if (sock >= 0)
        close(sock);
    return 0;
}

/* --- made containers, and the clock --------------------------------------- */

/* Engine `l` answered a ping after makes on it failed: making resumes on
 * it at once, every function's back-off on it over. */
static void keeper_lane_back(keeper_t *k, int l)
{
    long long now = clock_mono_ms();
    k->lanes[l].down = false;
    log_info("keeper: engine %s answers again: making warm containers on it",
             engines_name(k->engines, l));
    for (size_t i = 0; i < k->nfns; i++)
        k->fns[i].retry_at_ms[l] = 0;
    for (size_t i = 0; i < k->nfns; i++)
        keeper_balance(k, &k->fns[i], now);
}

/* Make job `j` failed: back off on its engine, for every function when
 * the engine does not answer, else for its function. */
static void keeper_failed(keeper_t *k, keeper_fn *f, const keeper_slot *s, const keeper_job *j)
{
    err_t pe;
    const char *en = engines_name(k->engines, j->engine);
    if (j->engine_down) {
        if (!k->lanes[j->engine].down)
            log_warn("keeper: a warm container of %s could not be made on engine %s: %s; the "
                     "engine does not answer: no make on it until it does",
                     f ? f->name : s->function, en, j->why);
        k->lanes[j->engine].down = true;
        return;
    }
    if (f == NULL)
        return;
    /* An engine without the image: the next try goes to another one at
     * once. Every engine lacks it, or another failure: this engine waits a
     * while for this function. */
    bool elsewhere = j->missing && engines_multi(k->engines) &&
                     engines_place(k->engines, f->lacks | 1u << j->engine, 0, &pe) >= 0;
    char when[48];
    snprintf(when, sizeof(when), "there in %d s", KEEPER_RETRY_MS / 1000);
    log_warn("keeper: a warm container of %s could not be made on engine %s: %s; next try %s",
             f->name, en, j->why, elsewhere ? "on another engine" : when);
    if (elsewhere) {
        f->lacks |= 1u << j->engine;
    } else {
        f->lacks &= ~(1u << j->engine);
        f->retry_at_ms[j->engine] = clock_mono_ms() + KEEPER_RETRY_MS;
    }
}

static void keeper_finish(keeper_t *k)
{
    uint64_t n;
    if (read(k->wake, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("keeper: read(eventfd) failed: %s", strerror(errno));
    pthread_mutex_lock(&k->done_mu);
    keeper_job *done = k->done;
    k->done = NULL;
    pthread_mutex_unlock(&k->done_mu);
    while (done != NULL) {
        keeper_job *j = done;
        done = j->next;
        if (j->ping) {
            k->lanes[j->engine].pinging = false;
            if (j->ok && k->lanes[j->engine].down)
                keeper_lane_back(k, j->engine);
            free(j);
            continue;
        }
        keeper_slot *s = &k->slots[j->slot];
        keeper_fn *f = keeper_fn_find(k, s->function);
        if (!j->ok) {
            keeper_failed(k, f, s, j);
            keeper_slot_free(k, j->slot);
        } else if (f == NULL || f->generation != s->generation) {
            /* Changed or deleted while it was made. */
            keeper_remove(k, j->cid, j->stream, j->engine);
            keeper_slot_free(k, j->slot);
        } else {
            s->state = KEEPER_READY;
            snprintf(s->cid, sizeof(s->cid), "%s", j->cid);
            s->stream = j->stream;
            s->since_ms = clock_mono_ms();
            /* A make went through: not stalled, whatever else is short. */
            if (f->short_since_ms != 0)
                f->short_since_ms = s->since_ms;
            log_debug("keeper: warm container %.12s of %s ready", s->cid, f->name);
        }
        if (f != NULL)
            keeper_gauge(k, f);
        func_free(j->record);
        free(j);
    }
}

static void keeper_see(const func_t *rec, void *arg)
{
    keeper_t *k = arg;
    const char *id = rec->id;
    keeper_fn *f = keeper_fn_find(k, id);
    if (f != NULL) {
        f->seen = true;
        if (rec->generation != f->generation)
            f->generation = 0; /* reloaded below, outside the store's lock */
    } else if (rec->keep_warm > 0 && k->nfns < (size_t)k->cfg->warm_max * 4) {
        /* Known from now on; its record is read below. */
        if (k->nfns == k->capfns) {
            size_t cap = k->capfns ? k->capfns * 2 : 16;
            keeper_fn *n = realloc(k->fns, cap * sizeof(*n));
            if (n == NULL)
                return;
            k->fns = n;
            k->capfns = cap;
        }
        f = &k->fns[k->nfns++];
        memset(f, 0, sizeof(*f));
        snprintf(f->id, sizeof(f->id), "%s", id);
        f->seen = true;
    }
}

/* Drop every ready container that is gone (its attach connection closed:
 * it exited, or its engine died) or whose engine does not answer; the
 * engine's lane removes it, or the janitor once the engine is back. */
static void keeper_check_ready(keeper_t *k)
{
    for (int i = 0; i < k->cfg->warm_max; i++) {
        keeper_slot *s = &k->slots[i];
        if (s->state != KEEPER_READY)
            continue;
        bool up = engines_up(k->engines, s->engine);
        if (up && keeper_alive(s))
            continue;
        keeper_fn *f = keeper_fn_find(k, s->function);
        log_info("keeper: warm container %.12s of %s %s: dropped", s->cid,
                 f != NULL ? f->name : s->function,
                 up ? "is gone" : "is on an engine that does not answer");
        keeper_drop(k, i);
        if (f != NULL)
            keeper_gauge(k, f);
    }
}

/* Ping each engine that backs off (one ping at a time each), and say how
 * the pool is for /healthz: alive now, and since when a function has been
 * short of its keep_warm with no make of it done. */
static void keeper_report(keeper_t *k, long long now)
{
    for (int l = 0; l < k->nlanes; l++) {
        if (!k->lanes[l].down || k->lanes[l].pinging)
            continue;
        keeper_job *j = calloc(1, sizeof(*j));
        if (j == NULL)
            continue;
        j->ping = true;
        j->engine = l;
        k->lanes[l].pinging = true;
        keeper_push(k, j);
    }
    long long since = 0;
    int shortn = 0;
    for (size_t i = 0; i < k->nfns; i++) {
        keeper_fn *f = &k->fns[i];
        int have = keeper_count(k, f, KEEPER_READY) + (f->mode != CONTAINER_FRESH ? f->leased : 0);
        if (f->mode == CONTAINER_COLD || f->record == NULL || have >= f->keep_warm) {
            f->short_since_ms = 0;
            continue;
        }
        if (f->short_since_ms == 0)
            f->short_since_ms = now;
        if (shortn++ == 0 || f->short_since_ms < since)
            since = f->short_since_ms;
    }
    slots_keeper_report(k->x->slots, now, shortn, since);
}

/* Once a second: what the store says now, then every function balanced. */
static void keeper_tick(keeper_t *k)
{
    err_t e;
    long long now = clock_mono_ms();
    keeper_check_ready(k);
    for (size_t i = 0; i < k->nfns; i++)
        k->fns[i].seen = false;
    if (store_each(k->store, keeper_see, k, &e) != 0) {
        log_warn("keeper: reading the store: %s", e.msg);
        keeper_report(k, now);
        return;
    }
    for (size_t i = 0; i < k->nfns;) {
        keeper_fn *f = &k->fns[i];
        if (!f->seen) {
            keeper_fn_forget(k, f); /* moves the last one here */
            continue;
        }
        if ((f->generation == 0 || f->record == NULL) && keeper_fn_load(k, f->id) == NULL) {
            i++;
            continue;
        }
        /* Idle, nothing to keep, nothing held: forget it, so that the
         * table holds only the functions warmth is kept for. */
        if (!keeper_active(k, f, now) && f->keep_warm == 0 && !keeper_holds(k, f)) {
            keeper_fn_forget(k, f);
            continue;
        }
        keeper_balance(k, f, now);
        i++;
    }
    keeper_report(k, now);
}

/* --- the process ------------------------------------------------------------ */

static int keeper_listen(keeper_t *k, err_t *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", k->x->socket);
    if (n <= 0 || (size_t)n >= sizeof(sa.sun_path))
        return err_set(e, ERR_INTERNAL, NULL, ENAMETOOLONG, "keeper socket path too long: %.100s",
                       k->x->socket);
    unlink(k->x->socket);
    k->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (k->listen_fd < 0)
        return err_sys(e, errno, "socket", k->x->socket);
    mode_t old = umask(077); /* only the pool's own processes may ask */
    int rc = bind(k->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0)
        return err_sys(e, errno, "bind", k->x->socket);
    if (listen(k->listen_fd, 128) != 0)
        return err_sys(e, errno, "listen", k->x->socket);
    return 0;
}

static int keeper_open(keeper_t *k, const keeper_ctx *x, err_t *e)
{
    sigset_t set;
    memset(k, 0, sizeof(*k));
    k->x = x;
    k->cfg = x->cfg;
    k->listen_fd = k->sig_fd = k->wake = -1;
    pthread_mutex_init(&k->done_mu, NULL);
    k->slots = calloc((size_t)k->cfg->warm_max + 1, sizeof(*k->slots));
    if (k->slots == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
    if ((k->store = store_open(k->cfg->data_dir, e)) == NULL ||
        (k->engines = engines_open(k->cfg, x->engines, e)) == NULL)
        return -1;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    k->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
    k->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (k->sig_fd < 0 || k->wake < 0)
        return err_sys(e, errno, "signalfd/eventfd", "keeper");
    if (keeper_listen(k, e) != 0)
        return -1;
    for (int l = 0; l < engines_count(k->engines); l++) {
        keeper_lane *ln = &k->lanes[l];
        ln->k = k;
        ln->engine = l;
        pthread_mutex_init(&ln->mu, NULL);
        pthread_cond_init(&ln->more, NULL);
        ln->todo_tail = &ln->todo;
        k->nlanes++;
        for (int i = 0; i < KEEPER_ENGINE_THREADS; i++) {
            if (pthread_create(&ln->threads[i], NULL, keeper_engine, ln) != 0)
                return err_sys(e, errno, "pthread_create", "keeper");
            ln->nthreads++;
        }
    }
    return 0;
}

/* Remove everything held, let the engine threads finish (within a bound:
 * the janitor's last sweep takes what is left), and free. */
static void keeper_close(keeper_t *k)
{
    for (int i = 0; k->slots != NULL && i < k->cfg->warm_max; i++)
        if (k->slots[i].state == KEEPER_READY)
            keeper_drop(k, i);
    for (int l = 0; l < k->nlanes; l++) {
        pthread_mutex_lock(&k->lanes[l].mu);
        k->lanes[l].closing = true;
        pthread_cond_broadcast(&k->lanes[l].more);
        pthread_mutex_unlock(&k->lanes[l].mu);
    }
    long long until = clock_mono_ms() + KEEPER_STOP_MS;
    bool busy = false;
    for (int l = 0; l < k->nlanes; l++) {
        for (int i = 0; i < k->lanes[l].nthreads; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long left = until - clock_mono_ms();
            if (left < 0)
                left = 0;
            ts.tv_sec += left / 1000;
            ts.tv_nsec += (left % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_timedjoin_np(k->lanes[l].threads[i], NULL, &ts) != 0)
                busy = true;
        }
    }
    if (busy) {
        /* A thread still in an engine call may touch the queues: leave them. */
        log_warn("keeper: engine thread still busy at exit; the janitor sweeps what is left");
    } else {
        /* Jobs done or never started: what they made is gone already. */
        for (int l = 0; l <= k->nlanes; l++) {
            keeper_job *left = l < k->nlanes ? k->lanes[l].todo : k->done;
            while (left != NULL) {
                keeper_job *j = left;
                left = j->next;
                docker_stream_close(j->stream);
                func_free(j->record);
                free(j);
            }
        }
    }
    for (int i = 0; i < k->nclients; i++)
        close(k->clients[i]);
    if (k->listen_fd >= 0) {
        close(k->listen_fd);
        unlink(k->x->socket);
    }
    if (k->sig_fd >= 0)
        close(k->sig_fd);
    if (k->wake >= 0)
        close(k->wake);
    for (size_t i = 0; i < k->nfns; i++)
        func_free(k->fns[i].record);
    free(k->fns);
    free(k->slots);
    store_close(k->store);
    engines_close(k->engines);
}

int keeper_run(const keeper_ctx *x)
{
    keeper_t k;
    err_t e;
    int rc = 1;
    struct pollfd p[3 + KEEPER_CLIENTS];

    if (keeper_open(&k, x, &e) != 0) {
        log_error("keeper start-up failed: %s", e.msg);
        goto done;
    }
    log_debug("keeper: serving on %s, %d warm containers at most", x->socket, x->cfg->warm_max);
    long long next_tick = 0;
    for (;;) {
        long long now = clock_mono_ms();
        if (now >= next_tick) {
            keeper_tick(&k);
            next_tick = now + KEEPER_TICK_MS;
        }
        p[0] = (struct pollfd){.fd = k.sig_fd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = k.wake, .events = POLLIN};
        p[2] = (struct pollfd){.fd = k.listen_fd, .events = POLLIN};
        for (int i = 0; i < k.nclients; i++)
            p[3 + i] = (struct pollfd){.fd = k.clients[i], .events = POLLIN};
        int r = poll(p, (nfds_t)(3 + k.nclients), (int)(next_tick - now));
        if (r < 0 && errno != EINTR) {
            log_error("keeper: poll() failed: %s", strerror(errno));
            goto done;
        }
        if (r <= 0)
            continue;
        if (p[0].revents & POLLIN)
            break;
        if (p[1].revents & POLLIN)
            keeper_finish(&k);
        /* Callers before new connections: the array shifts when one goes. */
        for (int i = k.nclients - 1; i >= 0; i--) {
            if (!(p[3 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (keeper_serve(&k, k.clients[i]) != 0) {
                close(k.clients[i]);
                k.clients[i] = k.clients[--k.nclients];
            }
        }
        if (p[2].revents & POLLIN) {
            int c;
            while ((c = accept4(k.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                if (k.nclients == KEEPER_CLIENTS) {
                    log_warn("keeper: %d callers connected already; refusing one", KEEPER_CLIENTS);
                    close(c);
                    continue;
                }
                k.clients[k.nclients++] = c;
            }
        }
    }
    rc = 0;
done:
    keeper_close(&k);
    return rc;
}
