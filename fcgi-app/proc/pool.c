#include "proc/pool.h"

#include <errno.h>
#include <malloc.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/crash.h"
#include "base/log.h"
#include "engine/docker.h"
#include "engine/engines.h"
#include "http/route.h"
#include "proc/executor.h"
#include "proc/keeper.h"
#include "proc/janitor.h"
#include "state/idem.h"
#include "state/metrics.h"
#include "state/slots.h"
#include "state/throttle.h"

#define POOL_BACKLOG 1024
/* How long the janitor's last sweep may take on stop. */
#define POOL_JANITOR_STOP_MS 5000
/* Invoke threads each worker has beyond MINILAMBDA_THREADS. The limit is
 * MINILAMBDA_MAX_CONCURRENCY slots; with every slot busy these threads are
 * still there to accept the next calls and answer 429 at once, instead of
 * leaving them unseen in the socket's backlog. */
#define POOL_SPARE_THREADS 4
/* Allocations this large come from mmap, so that a large answer's memory
 * goes back to the system when it is freed, not into a heap that stays. */
#define POOL_MMAP_THRESHOLD (256 * 1024)

typedef struct {
    pid_t pid; /* 0 when not running */
    long long started_ms;
    long long respawn_at_ms; /* when to start it again; 0 when not due */
    long long backoff_ms;
} pool_worker;

/* The master holds no engine connection and no file of the data dir: it
 * forks, reaps and signals, so that nothing the engine or the disk does can
 * keep it from respawning a dead process. */
typedef struct {
    const config_t *cfg;
    const char *instance;
    pid_t self; /* the master's pid, which its children check they are under */
    int control_fd;
    int invoke_fd;
    slots_t *slots;
    throttle_t *throttle;
    metrics_t *metrics;
    engines_shm_t *engines_shm; /* engines' health and load, shared */
    engines_t *engines;         /* only read from the settings, for the log */
    sigset_t signals;           /* blocked; waited for with sigtimedwait */
    int total;                  /* FastCGI workers, then async executors */
    int janitor;                /* index of the janitor process: total */
    int keeper;                 /* index of the keeper process: total + 1 (if warm starts are on) */
    int procs;                  /* total + 1, or + 2 with the keeper */
    pool_worker *workers;       /* [procs] */
} pool_master;

/* Worker side. */
typedef struct {
    app_t app;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int busy; /* requests being served, guarded by mu */
} pool_state;

typedef struct {
    pool_state *st;
    int fd;
    app_plane plane;
    int thread; /* invoke-thread index, or -1 for the control plane */
} pool_thread_arg;

static void pool_busy(pool_state *st, int delta)
{
    pthread_mutex_lock(&st->mu);
    st->busy += delta;
    if (st->busy == 0)
        pthread_cond_broadcast(&st->idle);
    pthread_mutex_unlock(&st->mu);
}

static void *pool_serve(void *p)
{
    pool_thread_arg *a = p;
    pool_state *st = a->st;
    FCGX_Request req;
    app_thread t;
    err_t e;
    int failures = 0;

    if (app_thread_init(&t, &st->app, a->plane, a->thread, &e) != 0 ||
        FCGX_InitRequest(&req, a->fd, 0) != 0) {
        log_error("worker thread setup failed: %s", e.msg[0] ? e.msg : "FCGX_InitRequest()");
        app_thread_free(&t);
        return NULL;
    }
    while (!atomic_load(&st->stopping)) {
        if (FCGX_Accept_r(&req) < 0) {
            if (atomic_load(&st->stopping))
                break;
            /* libfcgi returns at once when its socket is unusable; never
             * spin on that. A few failures are transient (EINTR, aborted
             * connections); many in a row mean the socket is gone. */
            if (++failures > 50) {
                log_error("FCGX_Accept_r() keeps failing: %s; worker exits", strerror(errno));
                kill(getpid(), SIGTERM);
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        failures = 0;
        pool_busy(st, 1);
        route_handle(&t, &req);
        FCGX_Finish_r(&req);
        pool_busy(st, -1);
    }
    FCGX_Free(&req, 1);
    app_thread_free(&t);
    return NULL;
}

/* Wait up to the grace period for in-flight requests. */
static void pool_drain(pool_state *st, int index, int grace)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += grace;
    pthread_mutex_lock(&st->mu);
    while (st->busy > 0) {
        if (pthread_cond_timedwait(&st->idle, &st->mu, &until) != 0)
            break;
    }
    int left = st->busy;
    pthread_mutex_unlock(&st->mu);
    if (left > 0)
        log_warn("worker %d: %d requests still running after the %d s grace period", index, left,
                 grace);
}

/* The body of a worker process; never returns. */
static void pool_worker_main(pool_master *m, int index)
{
    const config_t *cfg = m->cfg;
    pool_state st;
    err_t e;
    int invoke_threads = cfg->threads + POOL_SPARE_THREADS;
    int sig = 0, nthreads = invoke_threads + cfg->control_threads;
    pthread_t *tids = calloc((size_t)nthreads, sizeof(*tids));
    pool_thread_arg *args = calloc((size_t)nthreads, sizeof(*args));

    /* Die with the master, whatever kills it. A master that died before
     * this line was reached has left us to a subreaper (the supervisor) or
     * init: compare with its pid, not with 1. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != m->self)
        _exit(1);
    mallopt(M_MMAP_THRESHOLD, POOL_MMAP_THRESHOLD);

    memset(&st, 0, sizeof(st));
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.idle, NULL);
    err_set(&e, ERR_NOMEM, NULL, 0, "calloc() or FCGX_Init() failed");
    if (tids == NULL || args == NULL ||
        app_open(&st.app, cfg, m->slots, m->throttle, m->metrics, m->engines_shm, index,
                 m->instance, &e) != 0 ||
        FCGX_Init() != 0) {
        log_error("worker %d start-up failed: %s", index, e.msg);
        _exit(1);
    }

    /* Threads inherit the blocked stop signals; only sigwait below sees them. */
    for (int i = 0; i < nthreads; i++) {
        bool invoke = i < invoke_threads;
        args[i] = (pool_thread_arg){.st = &st,
                                    .fd = invoke ? m->invoke_fd : m->control_fd,
                                    .plane = invoke ? APP_INVOKE : APP_CONTROL,
                                    .thread = invoke ? i : -1};
        if (pthread_create(&tids[i], NULL, pool_serve, &args[i]) != 0) {
            log_error("pthread_create() failed: %s", strerror(errno));
            _exit(1);
        }
    }
    log_debug("worker %d serving with %d invoke and %d control threads", index, invoke_threads,
              cfg->control_threads);

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigwait(&stop, &sig);

    /* Stop accepting. When the whole pool stops, the master has already shut
     * the shared listening sockets down, which wakes every accept() with
     * EINVAL; a worker stopped alone leaves them to the others and exits
     * once its in-flight requests are done, threads still in accept() or
     * not. */
    atomic_store(&st.stopping, true);
    FCGX_ShutdownPending();
    pool_drain(&st, index, cfg->grace);
    _exit(0);
}

/* The body of an async executor process; never returns. */
static void pool_executor_main(pool_master *m, int index)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != m->self)
        _exit(1);
    executor_ctx x = {.cfg = m->cfg,
                      .instance = m->instance,
                      .slots = m->slots,
                      .throttle = m->throttle,
                      .row = index,
                      .index = index - m->cfg->workers,
                      .metrics = m->metrics,
                      .engines = m->engines_shm};
    _exit(executor_run(&x));
}

/* The body of the janitor process; never returns. */
static void pool_janitor_main(pool_master *m)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != m->self)
        _exit(1);
    janitor_ctx x = {.cfg = m->cfg,
                     .instance = m->instance,
                     .slots = m->slots,
                     .first_executor = m->cfg->workers,
                     .executors = m->cfg->async_workers,
                     .engines = m->engines_shm};
    _exit(janitor_run(&x));
}

/* The body of the keeper process; never returns. */
static void pool_keeper_main(pool_master *m)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != m->self)
        _exit(1);
    keeper_ctx x = {.cfg = m->cfg,
                    .instance = m->instance,
                    .slots = m->slots,
                    .metrics = m->metrics,
                    .socket = m->cfg->keeper_socket,
                    .engines = m->engines_shm};
    _exit(keeper_run(&x));
}

static const char *pool_role(const pool_master *m, int index)
{
    if (index == m->janitor)
        return "janitor";
    if (index == m->keeper)
        return "keeper";
    return index < m->cfg->workers ? "worker" : "executor";
}

bool pool_may_start(slots_t *slots, int workers, int executors, int index)
{
    if (index < workers || index >= workers + executors)
        return true;
    return !slots_needs_recovery(slots, SLOTS_ALL_ROWS) && !slots_needs_recovery(slots, index);
}

static bool pool_may_spawn(pool_master *m, int index)
{
    return pool_may_start(m->slots, m->cfg->workers, m->cfg->async_workers, index);
}

static int pool_spawn(pool_master *m, int index)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork() failed: %s", strerror(errno));
        m->workers[index].respawn_at_ms = clock_mono_ms() + POOL_BACKOFF_MAX_MS;
        return -1;
    }
    if (pid == 0 && index == m->janitor)
        pool_janitor_main(m);
    if (pid == 0 && index == m->keeper)
        pool_keeper_main(m);
    if (pid == 0 && index < m->cfg->workers)
        pool_worker_main(m, index);
    if (pid == 0)
        pool_executor_main(m, index);
    m->workers[index].pid = pid;
    m->workers[index].started_ms = clock_mono_ms();
    m->workers[index].respawn_at_ms = 0;
    if (index < m->total)
        slots_set_state(m->slots, index, SLOTS_UP, 0);
    log_info("%s %d started (pid %d)", pool_role(m, index), index, (int)pid);
    return 0;
}

/* The FastCGI socket at `path`, listening, or -1 (logged). Made here, not
 * by FCGX_OpenSocket, which exit()s the process when bind() fails. */
static int pool_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >= (int)sizeof(sa.sun_path)) {
        log_error("the socket path %s is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
        return -1;
    }
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        log_error("socket(AF_UNIX) failed: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, POOL_BACKLOG) != 0) {
        log_error("bind/listen(%s) failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    /* nginx workers run as an unprivileged user and must connect. */
    if (chmod(path, 0666) != 0)
        log_warn("chmod(%s) failed: %s", path, strerror(errno));
    return fd;
}

long long pool_backoff(long long lived_ms, long long backoff_ms)
{
    if (lived_ms >= POOL_STABLE_MS)
        return 0;
    backoff_ms = backoff_ms > 0 ? backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
    return backoff_ms > POOL_BACKOFF_MAX_MS ? POOL_BACKOFF_MAX_MS : backoff_ms;
}

/* Schedule the respawn of process `i`, which exited with `status`. */
static void pool_schedule(pool_master *m, int i, pid_t pid, int status)
{
    pool_worker *w = &m->workers[i];
    w->backoff_ms = pool_backoff(clock_mono_ms() - w->started_ms, w->backoff_ms);
    w->respawn_at_ms = clock_mono_ms() + w->backoff_ms;
    if (WIFSIGNALED(status))
        log_warn("%s %d (pid %d) killed by signal %d; respawn in %lld ms", pool_role(m, i), i,
                 (int)pid, WTERMSIG(status), w->backoff_ms);
    else
        log_warn("%s %d (pid %d) exited with status %d; respawn in %lld ms", pool_role(m, i), i,
                 (int)pid, WEXITSTATUS(status), w->backoff_ms);
}

/* Reap every exited process and schedule its respawn (unless stopping). */
static void pool_reap(pool_master *m, bool stopping)
{
    int status;
    pid_t pid;
    bool died = false;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < m->procs; i++) {
            pool_worker *w = &m->workers[i];
            if (w->pid != pid)
                continue;
            w->pid = 0;
            if (i < m->total) {
                slots_reset_worker(m->slots, i);
                engines_reset_row(m->engines_shm, i);
                slots_set_state(m->slots, i, SLOTS_DOWN, 0);
                metrics_reset_row(m->metrics, i);
                died = true;
            }
            if (i == m->keeper) {
                /* What it held ready is nobody's now: the janitor's. */
                slots_reset_keeper(m->slots);
                died = true;
            }
            if (i >= m->cfg->workers && i < m->total)
                slots_need_recovery(m->slots, i);
            if (!stopping)
                pool_schedule(m, i, pid, status);
        }
    }
    /* A dead process's containers are leftovers now; the janitor sweeps
     * them, then recovers a dead executor's claims. */
    if (died && m->workers[m->janitor].pid > 0)
        kill(m->workers[m->janitor].pid, SIGUSR1);
}

static int pool_alive(pool_master *m, int upto)
{
    int n = 0;
    for (int i = 0; i < upto; i++)
        n += m->workers[i].pid != 0;
    return n;
}

/* Everything the master holds before the first fork. 0, or -1 (logged). */
static int pool_open(pool_master *m)
{
    const config_t *cfg = m->cfg;
    char shm[160], why[512];
    err_t e;

    m->total = cfg->workers + cfg->async_workers;
    m->janitor = m->total;
    m->keeper = cfg->warm_max > 0 ? m->total + 1 : -1;
    m->procs = m->total + (cfg->warm_max > 0 ? 2 : 1);
    m->workers = calloc((size_t)m->procs, sizeof(*m->workers));
    m->slots = slots_create(cfg->workers, cfg->async_workers, cfg->threads + POOL_SPARE_THREADS);
    m->throttle = throttle_create();
    if (m->workers == NULL || m->slots == NULL || m->throttle == NULL) {
        log_error("pool start-up failed: calloc() or mmap() failed: %s", strerror(errno));
        return -1;
    }
    m->engines_shm = engines_shm_create(m->total);
    if (m->engines_shm == NULL) {
        log_error("pool start-up failed: mmap() failed: %s", strerror(errno));
        return -1;
    }
    if ((m->engines = engines_open(cfg, m->engines_shm, &e)) == NULL) {
        log_error("pool start-up failed: %s", e.msg);
        return -1;
    }
    /* Mapped before the first fork: every worker, and every respawn,
     * shares it. */
    if (cfg->metrics_shm[0] != '\0')
        snprintf(shm, sizeof(shm), "%s", cfg->metrics_shm);
    else
        snprintf(shm, sizeof(shm), "/minilambda-%s", m->instance);
    m->metrics =
        metrics_create(shm, cfg->metrics_slots, m->total, cfg->threads + POOL_SPARE_THREADS,
                       cfg->metrics_reclaim, why, sizeof(why));
    if (m->metrics == NULL) {
        log_error("pool start-up failed: %s", why);
        return -1;
    }
    int nroutes;
    const char *const *routes = route_metric_names(&nroutes);
    metrics_set_routes(routes, nroutes);
    /* Runs claimed when the platform last stopped are not running now; the
     * janitor recovers them before any executor starts. */
    slots_need_recovery(m->slots, SLOTS_ALL_ROWS);
    /* Counted before any worker writes: a count a dead process left high
     * is right again. The janitor prunes the records from then on. */
    idem_t *idem =
        idem_open(cfg->data_dir, cfg->idempotency_max_bytes, cfg->idempotency_key_max_bytes, &e);
    int counted = idem != NULL ? idem_recount(idem, &e) : -1;
    idem_close(idem);
    if (counted != 0) {
        log_error("pool start-up failed: %s", e.msg);
        return -1;
    }
    m->control_fd = pool_listen(cfg->socket);
    m->invoke_fd = pool_listen(cfg->invoke_socket);
    if (m->control_fd < 0 || m->invoke_fd < 0)
        return -1;
    return 0;
}

/* Start every process that is due: dead past its backoff, and (for an
 * executor) recovered. */
static void pool_start_due(pool_master *m)
{
    long long now = clock_mono_ms();
    for (int i = 0; i < m->procs; i++) {
        pool_worker *w = &m->workers[i];
        if (w->pid == 0 && w->respawn_at_ms <= now && pool_may_spawn(m, i))
            pool_spawn(m, i);
    }
}

/* Serve until a stop signal: respawn the dead. */
static void pool_loop(pool_master *m)
{
    for (;;) {
        long long now = clock_mono_ms(), wake = now + 60000;
        for (int i = 0; i < m->procs; i++) {
            pool_worker *w = &m->workers[i];
            /* An executor awaiting recovery is woken by the janitor's
             * SIGUSR1, not by the clock. */
            if (w->pid == 0 && w->respawn_at_ms < wake && pool_may_spawn(m, i))
                wake = w->respawn_at_ms;
        }
        long long ms = wake > now ? wake - now : 0;
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        siginfo_t info;
        int sig = sigtimedwait(&m->signals, &info, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("signal %d: stopping the pool", sig);
            return;
        }
        if (sig == SIGCHLD)
            pool_reap(m, false);
        pool_start_due(m);
    }
}

/* SIGTERM processes [from, to) and wait for them `wait_ms`, then kill
 * what is left, so no orphan survives the master. */
static void pool_stop_range(pool_master *m, int from, int to, long long wait_ms)
{
    for (int i = from; i < to; i++)
        if (m->workers[i].pid > 0)
            kill(m->workers[i].pid, SIGTERM);
    long long deadline = clock_mono_ms() + wait_ms;
    while (pool_alive(m, to) - pool_alive(m, from) > 0) {
        long long left = deadline - clock_mono_ms();
        if (left <= 0) {
            for (int i = from; i < to; i++)
                if (m->workers[i].pid > 0) {
                    log_warn("%s %d did not stop in time: SIGKILL", pool_role(m, i), i);
                    kill(m->workers[i].pid, SIGKILL);
                }
            deadline = clock_mono_ms() + 5000;
            continue;
        }
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        siginfo_t info;
        if (sigtimedwait(&m->signals, &info, &ts) == SIGCHLD)
            pool_reap(m, true);
    }
}

/* Stop every process gracefully; the janitor last, so that its final sweep
 * sees what the others left. */
static void pool_stop(pool_master *m)
{
    /* Only the master shuts the shared sockets down: that wakes every
     * accept() in every worker, so none spins or hangs. */
    shutdown(m->control_fd, SHUT_RDWR);
    shutdown(m->invoke_fd, SHUT_RDWR);
    pool_stop_range(m, 0, m->total, m->cfg->grace * 1000LL + 2000);
    /* The keeper and the janitor serve no request: their last removals
     * get a short while, so a frozen engine cannot hold the stop up. The
     * janitor goes last, to sweep what the others left. */
    if (m->keeper >= 0)
        pool_stop_range(m, m->keeper, m->keeper + 1, POOL_JANITOR_STOP_MS);
    pool_stop_range(m, m->janitor, m->janitor + 1, POOL_JANITOR_STOP_MS);
}

static void pool_close(pool_master *m)
{
    if (m->control_fd >= 0) {
        close(m->control_fd);
        unlink(m->cfg->socket);
    }
    if (m->invoke_fd >= 0) {
        close(m->invoke_fd);
        unlink(m->cfg->invoke_socket);
    }
    engines_close(m->engines);
    engines_shm_destroy(m->engines_shm);
    slots_destroy(m->slots);
    throttle_destroy(m->throttle);
    metrics_close(m->metrics, 1);
    free(m->workers);
}

int pool_run(const config_t *cfg, const char *instance)
{
    pool_master m = {
        .cfg = cfg, .instance = instance, .self = getpid(), .control_fd = -1, .invoke_fd = -1};
    int rc = 1;

    sigemptyset(&m.signals);
    sigaddset(&m.signals, SIGTERM);
    sigaddset(&m.signals, SIGINT);
    sigaddset(&m.signals, SIGCHLD);
    sigaddset(&m.signals, SIGUSR1);
    sigprocmask(SIG_BLOCK, &m.signals, NULL);
    /* Before any fork: every process of the pool leaves a backtrace. */
    err_t ce;
    if (crash_install(cfg->run_dir, &ce) != 0)
        log_warn("no backtraces of crashes: %s", ce.msg);

    if (pool_open(&m) != 0)
        goto done;
    /* The janitor first: executors wait for its start-up recovery. */
    bool spawned = pool_spawn(&m, m.janitor) == 0;
    if (spawned && m.keeper >= 0)
        spawned = pool_spawn(&m, m.keeper) == 0;
    for (int i = 0; i < cfg->workers && spawned; i++)
        spawned = pool_spawn(&m, i) == 0;
    if (spawned) {
        log_info("minilambda pool up: %d workers x (%d invoke + %d control) threads, %d async "
                 "executors, control %s, invoke %s, engine %s",
                 cfg->workers, cfg->threads, cfg->control_threads, cfg->async_workers, cfg->socket,
                 cfg->invoke_socket, docker_endpoint(engines_docker(m.engines, 0)));
        for (int i = 1; i < engines_count(m.engines); i++)
            log_info("engine %d of %d: %s (%s), weight %d", i + 1, engines_count(m.engines),
                     engines_name(m.engines, i), docker_endpoint(engines_docker(m.engines, i)),
                     engines_weight(m.engines, i));
        pool_loop(&m);
    }
    pool_stop(&m);
    rc = spawned ? 0 : 1;
    log_info("pool stopped");
done:
    pool_close(&m);
    return rc;
}
