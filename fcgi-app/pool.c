#include "pool.h"

#include <curl/curl.h>
#include <errno.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "async.h"
#include "docker.h"
#include "executor.h"
#include "handlers.h"
#include "http.h"
#include "janitor.h"
#include "log.h"
#include "metrics.h"
#include "slots.h"
#include "store.h"

#define POOL_BACKLOG 1024
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 10000
/* A worker that lived less than this counts as crash-looping. */
#define POOL_STABLE_MS 5000

typedef struct {
    pid_t pid; /* 0 when not running */
    long started_ms;
    long respawn_at_ms; /* when to start it again; 0 when not due */
    long backoff_ms;
    bool recover; /* an executor that died with its claim not yet recovered */
} pool_worker;

typedef struct {
    const config_t *cfg;
    const char *instance;
    int control_fd;
    int invoke_fd;
    slots_t *slots;
    metrics_t *metrics;
    async_t *async;
    int total;            /* FastCGI workers, then async executors */
    pool_worker *workers; /* [total] */
} pool_master;

/* Worker side. */
typedef struct {
    handlers_app app;
    int control_fd;
    int invoke_fd;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int busy; /* requests being served, guarded by mu */
} pool_state;

typedef struct {
    pool_state *st;
    int fd;
    int thread; /* invoke-thread index, or -1 for the control plane */
} pool_thread_arg;

static long pool_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void *pool_serve(void *p)
{
    pool_thread_arg *a = p;
    pool_state *st = a->st;
    FCGX_Request req;
    handlers_thread t = {
        .app = &st->app, .conn = docker_conn_new(st->app.docker), .thread = a->thread};
    int failures = 0;

    if (t.conn == NULL || FCGX_InitRequest(&req, a->fd, 0) != 0) {
        log_error("worker thread setup failed: docker_conn_new() or FCGX_InitRequest() failed");
        docker_conn_free(t.conn);
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
        pthread_mutex_lock(&st->mu);
        st->busy++;
        pthread_mutex_unlock(&st->mu);
        handlers_handle(&t, &req);
        FCGX_Finish_r(&req);
        pthread_mutex_lock(&st->mu);
        if (--st->busy == 0)
            pthread_cond_broadcast(&st->idle);
        pthread_mutex_unlock(&st->mu);
    }
    FCGX_Free(&req, 1);
    docker_conn_free(t.conn);
    return NULL;
}

/* The body of a worker process; never returns. */
static void pool_worker_main(pool_master *m, int index)
{
    const config_t *cfg = m->cfg;
    pool_state st;
    sigset_t set;
    int sig = 0, nthreads = cfg->threads + cfg->control_threads;
    char err[512] = "calloc() or FCGX_Init() failed";
    pthread_t *tids = calloc((size_t)nthreads, sizeof(*tids));
    pool_thread_arg *args = calloc((size_t)nthreads, sizeof(*args));

    /* Die with the master, whatever kills it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);

    memset(&st, 0, sizeof(st));
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.idle, NULL);
    st.control_fd = m->control_fd;
    st.invoke_fd = m->invoke_fd;
    st.app.cfg = cfg;
    st.app.slots = m->slots;
    st.app.metrics = m->metrics;
    st.app.async = async_open(cfg->data_dir, err, sizeof(err));
    st.app.worker = index;
    snprintf(st.app.instance, sizeof(st.app.instance), "%s", m->instance);
    st.app.store = store_open(cfg->data_dir, err, sizeof(err));
    st.app.docker = docker_new(err, sizeof(err));
    if (tids == NULL || args == NULL || st.app.store == NULL || st.app.docker == NULL ||
        st.app.async == NULL || FCGX_Init() != 0) {
        log_error("worker %d start-up failed: %s", index, err);
        _exit(1);
    }

    /* Threads inherit the blocked stop signals; only sigwait below sees them. */
    for (int i = 0; i < nthreads; i++) {
        args[i].st = &st;
        args[i].thread = i < cfg->threads ? i : -1;
        args[i].fd = i < cfg->threads ? st.invoke_fd : st.control_fd;
        if (pthread_create(&tids[i], NULL, pool_serve, &args[i]) != 0) {
            log_error("pthread_create() failed: %s", strerror(errno));
            _exit(1);
        }
    }
    log_debug("worker %d serving with %d invoke and %d control threads", index, cfg->threads,
              cfg->control_threads);

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);

    /* Stop accepting. When the whole pool stops, the master has already shut
     * the shared listening sockets down, which wakes every accept() with
     * EINVAL; a worker stopped alone leaves them to the others and exits
     * once its in-flight requests are done, threads still in accept() or
     * not. */
    atomic_store(&st.stopping, true);
    FCGX_ShutdownPending();

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += cfg->grace;
    pthread_mutex_lock(&st.mu);
    while (st.busy > 0) {
        if (pthread_cond_timedwait(&st.idle, &st.mu, &until) != 0)
            break;
    }
    int left = st.busy;
    pthread_mutex_unlock(&st.mu);
    if (left > 0)
        log_warn("worker %d: %d requests still running after the %d s grace period", index, left,
                 cfg->grace);
    _exit(0);
}

/* The body of an async executor process; never returns. */
static void pool_executor_main(pool_master *m, int index)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);
    executor_ctx x = {.cfg = m->cfg,
                      .instance = m->instance,
                      .slots = m->slots,
                      .row = index,
                      .index = index - m->cfg->workers,
                      .metrics = m->metrics};
    _exit(executor_run(&x));
}

static int pool_spawn(pool_master *m, int index)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork() failed: %s", strerror(errno));
        m->workers[index].respawn_at_ms = pool_now_ms() + POOL_BACKOFF_MAX_MS;
        return -1;
    }
    if (pid == 0 && index < m->cfg->workers)
        pool_worker_main(m, index);
    if (pid == 0)
        pool_executor_main(m, index);
    m->workers[index].pid = pid;
    m->workers[index].started_ms = pool_now_ms();
    m->workers[index].respawn_at_ms = 0;
    log_info("%s %d started (pid %d)", index < m->cfg->workers ? "worker" : "executor", index,
             (int)pid);
    return 0;
}

static int pool_listen(const char *path)
{
    unlink(path);
    int fd = FCGX_OpenSocket(path, POOL_BACKLOG);
    if (fd < 0) {
        log_error("FCGX_OpenSocket(%s) failed: %s", path, strerror(errno));
        return -1;
    }
    /* nginx workers run as an unprivileged user and must connect. */
    if (chmod(path, 0666) != 0)
        log_warn("chmod(%s) failed: %s", path, strerror(errno));
    return fd;
}

/* Reap every exited worker and schedule its respawn. */
static void pool_reap(pool_master *m, bool stopping, docker_conn_t *conn)
{
    int status;
    pid_t pid;
    bool crashed = false;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < m->total; i++) {
            pool_worker *w = &m->workers[i];
            if (w->pid != pid)
                continue;
            w->pid = 0;
            slots_reset_worker(m->slots, i);
            metrics_reset_row(m->metrics, i);
            w->recover = i >= m->cfg->workers;
            if (stopping)
                break;
            long lived = pool_now_ms() - w->started_ms;
            if (lived < POOL_STABLE_MS)
                w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
            else
                w->backoff_ms = 0;
            if (w->backoff_ms > POOL_BACKOFF_MAX_MS)
                w->backoff_ms = POOL_BACKOFF_MAX_MS;
            w->respawn_at_ms = pool_now_ms() + w->backoff_ms;
            if (WIFSIGNALED(status))
                log_warn("worker %d (pid %d) killed by signal %d; respawn in %ld ms", i, (int)pid,
                         WTERMSIG(status), w->backoff_ms);
            else
                log_warn("worker %d (pid %d) exited with status %d; respawn in %ld ms", i, (int)pid,
                         WEXITSTATUS(status), w->backoff_ms);
            crashed = true;
        }
    }
    /* A dead process's containers are leftovers now: sweep at once, and
     * before a dead executor's claim is requeued, so that its old container
     * is gone before a retry of the same invocation can start. */
    if (crashed && conn != NULL)
        janitor_sweep(conn, m->instance, m->slots);
    for (int i = m->cfg->workers; i < m->total; i++) {
        if (m->workers[i].recover) {
            async_recover(m->async, i - m->cfg->workers);
            m->workers[i].recover = false;
        }
    }
}

static int pool_alive(pool_master *m)
{
    int n = 0;
    for (int i = 0; i < m->total; i++)
        n += m->workers[i].pid != 0;
    return n;
}

int pool_run(const config_t *cfg, const char *instance)
{
    pool_master m = {.cfg = cfg, .instance = instance, .control_fd = -1, .invoke_fd = -1};
    sigset_t set;
    int rc = 1;
    bool spawn_failed = false;
    docker_conn_t *conn = NULL;
    docker_t *docker = NULL;
    char err[512];

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    m.total = cfg->workers + cfg->async_workers;
    m.workers = calloc((size_t)m.total, sizeof(*m.workers));
    m.slots = slots_create(cfg->workers, cfg->async_workers, cfg->threads);
    if (m.workers == NULL || m.slots == NULL) {
        log_error("pool start-up failed: calloc() or mmap() failed: %s", strerror(errno));
        goto done;
    }
    docker = docker_new(err, sizeof(err));
    if (docker == NULL) {
        log_error("pool start-up failed: %s", err);
        goto done;
    }
    /* Mapped before the first fork: every worker, and every respawn,
     * shares it. */
    char shm[160];
    if (cfg->metrics_shm[0] != '\0')
        snprintf(shm, sizeof(shm), "%s", cfg->metrics_shm);
    else
        snprintf(shm, sizeof(shm), "/minilambda-%s", instance);
    m.metrics = metrics_create(shm, cfg->metrics_slots, m.total, cfg->threads, err, sizeof(err));
    if (m.metrics == NULL) {
        log_error("pool start-up failed: %s", err);
        goto done;
    }
    metrics_set_routes(http_route_templates, ROUTE__COUNT);
    m.async = async_open(cfg->data_dir, err, sizeof(err));
    if (m.async == NULL) {
        log_error("pool start-up failed: %s", err);
        goto done;
    }
    /* Runs claimed when the platform last stopped are not running now. */
    async_recover(m.async, -1);
    conn = docker_conn_new(docker);
    m.control_fd = pool_listen(cfg->socket);
    m.invoke_fd = pool_listen(cfg->invoke_socket);
    if (conn == NULL || m.control_fd < 0 || m.invoke_fd < 0)
        goto done;
    /* Crash leftovers from an earlier run of this instance go before any
     * executor can start a retry of their invocations. */
    janitor_sweep(conn, instance, m.slots);
    for (int i = 0; i < m.total; i++) {
        if (pool_spawn(&m, i) != 0) {
            spawn_failed = true;
            goto stop;
        }
    }
    log_info("minilambda pool up: %d workers x (%d invoke + %d control) threads, %d async "
             "executors, control %s, invoke %s, engine %s",
             cfg->workers, cfg->threads, cfg->control_threads, cfg->async_workers, cfg->socket,
             cfg->invoke_socket, docker_endpoint(docker));

    long next_sweep = pool_now_ms() + cfg->janitor_interval * 1000L;
    for (;;) {
        long now = pool_now_ms(), wake = next_sweep;
        for (int i = 0; i < m.total; i++)
            if (m.workers[i].pid == 0 && m.workers[i].respawn_at_ms < wake)
                wake = m.workers[i].respawn_at_ms;
        long ms = wake > now ? wake - now : 0;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        siginfo_t info;
        int sig = sigtimedwait(&set, &info, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("signal %d: stopping the pool", sig);
            break;
        }
        if (sig == SIGCHLD)
            pool_reap(&m, false, conn);
        now = pool_now_ms();
        for (int i = 0; i < m.total; i++)
            if (m.workers[i].pid == 0 && m.workers[i].respawn_at_ms <= now)
                pool_spawn(&m, i);
        if (now >= next_sweep) {
            janitor_sweep(conn, instance, m.slots);
            async_prune(m.async, cfg->retention);
            next_sweep = now + cfg->janitor_interval * 1000L;
        }
    }
stop:
    /* Only the master shuts the shared sockets down: that wakes every
     * accept() in every worker, so none spins or hangs. */
    shutdown(m.control_fd, SHUT_RDWR);
    shutdown(m.invoke_fd, SHUT_RDWR);
    for (int i = 0; i < m.total; i++)
        if (m.workers[i].pid > 0)
            kill(m.workers[i].pid, SIGTERM);
    /* Workers finish in-flight requests within the grace period; past it
     * (plus a margin) they are killed, so no orphan survives the master. */
    long deadline = pool_now_ms() + cfg->grace * 1000L + 2000;
    while (pool_alive(&m) > 0) {
        long left = deadline - pool_now_ms();
        if (left <= 0) {
            for (int i = 0; i < m.total; i++)
                if (m.workers[i].pid > 0) {
                    log_warn("worker %d did not stop in time: SIGKILL", i);
                    kill(m.workers[i].pid, SIGKILL);
                }
            deadline = pool_now_ms() + 5000;
            continue;
        }
        struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
        siginfo_t info;
        if (sigtimedwait(&set, &info, &ts) == SIGCHLD)
            pool_reap(&m, true, NULL);
    }
    janitor_sweep(conn, instance, m.slots);
    rc = spawn_failed ? 1 : 0;
    log_info("pool stopped");
done:
    if (m.control_fd >= 0) {
        close(m.control_fd);
        unlink(cfg->socket);
    }
    if (m.invoke_fd >= 0) {
        close(m.invoke_fd);
        unlink(cfg->invoke_socket);
    }
    docker_conn_free(conn);
    docker_free(docker);
    slots_destroy(m.slots);
    async_close(m.async);
    metrics_close(m.metrics, 1);
    free(m.workers);
    return rc;
}
