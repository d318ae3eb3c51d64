#include "proc/supervise.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

#define SUPERVISE_BACKOFF_MIN_MS 100
#define SUPERVISE_BACKOFF_MAX_MS 10000
/* A master that lived less than this counts as crash-looping. */
#define SUPERVISE_STABLE_MS 5000
/* A dead master's workers have SIGKILL pending (their PR_SET_PDEATHSIG)
 * and are gone within milliseconds; should one linger past this, a new
 * master starts anyway rather than leave the instance down. */
#define SUPERVISE_ORPHANS_MS 2000
/* Past the grace period, what the master's own stop may still take: its
 * SIGKILL margin for slow workers (2 s, then 5 s) and a last sweep. */
#define SUPERVISE_STOP_MARGIN_MS 10000
/* After SIGKILL, how long the supervisor waits to see it take effect. */
#define SUPERVISE_KILL_WAIT_MS 5000

typedef struct {
    supervise_master_fn master;
    void *arg;
    pid_t self;
    sigset_t signals;        /* blocked; waited for with sigtimedwait */
    pid_t pid;               /* the master; 0 while none runs */
    long long started_ms;    /* when the master started */
    long long died_ms;       /* when the last master died */
    long long restart_at_ms; /* while pid is 0: when the next may start */
    long long backoff_ms;
    bool children; /* some child (the master, or a worker it left) remains */
    char why[96];  /* how the last master ended, for the restart line */
} supervise_state;

static struct timespec supervise_ts(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    return ts;
}

/* Start a master. 0, or -1 (logged; tried again after the longest backoff). */
static int supervise_spawn(supervise_state *s)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork() failed: %s; next try in %d ms", strerror(errno),
                  SUPERVISE_BACKOFF_MAX_MS);
        s->restart_at_ms = clock_mono_ms() + SUPERVISE_BACKOFF_MAX_MS;
        return -1;
    }
    if (pid == 0) {
        /* Die with the supervisor, whatever kills it, so that nothing of
         * this instance is left half-alive for the next start to trip
         * over; a supervisor already gone means no master at all. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != s->self)
            _exit(1);
        _exit(s->master(s->arg));
    }
    s->pid = pid;
    s->started_ms = clock_mono_ms();
    if (s->why[0] != '\0')
        log_warn("%s; restarted as pid %d", s->why, (int)pid);
    else
        log_info("master started (pid %d)", (int)pid);
    return 0;
}

/* Put how master `pid` ended (`status` from waitpid) into s->why. */
static void supervise_describe(supervise_state *s, pid_t pid, int status)
{
    int n;
    if (WIFSIGNALED(status))
        n = snprintf(s->why, sizeof(s->why), "master (pid %d) killed by signal %d", (int)pid,
                     WTERMSIG(status));
    else
        n = snprintf(s->why, sizeof(s->why), "master (pid %d) exited with status %d", (int)pid,
                     WEXITSTATUS(status));
    if (n < 0 || (size_t)n >= sizeof(s->why))
        snprintf(s->why, sizeof(s->why), "the master ended");
}

/* Master `pid` died with `status` while it should run: log it and set
 * when the next one starts (at once after a stable run, else backing off). */
static void supervise_schedule(supervise_state *s, pid_t pid, int status)
{
    long long now = clock_mono_ms();
    if (now - s->started_ms < SUPERVISE_STABLE_MS)
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : SUPERVISE_BACKOFF_MIN_MS;
    else
        s->backoff_ms = 0;
    if (s->backoff_ms > SUPERVISE_BACKOFF_MAX_MS)
        s->backoff_ms = SUPERVISE_BACKOFF_MAX_MS;
    s->died_ms = now;
    s->restart_at_ms = now + s->backoff_ms;
    supervise_describe(s, pid, status);
    /* The restart logs the line that says both; a delayed one is told now. */
    if (s->backoff_ms > 0)
        log_warn("%s; restart in %lld ms", s->why, s->backoff_ms);
}

/* Reap every child that ended: the master, or a worker a dead master left
 * (the supervisor is its subreaper). While not `stopping`, a master that
 * died is scheduled for a restart. Returns 1 when the master exited 0 of
 * its own accord (it was sent a stop signal directly), else 0. */
static int supervise_reap(supervise_state *s, bool stopping)
{
    int status, stopped = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != s->pid) {
            log_debug("reaped pid %d, left by a dead master", (int)pid);
            continue;
        }
        s->pid = 0;
        if (stopping) {
            supervise_describe(s, pid, status);
            log_info("%s", s->why);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            log_info("master (pid %d) stopped of its own accord: the supervisor stops too",
                     (int)pid);
            stopped = 1;
        } else {
            supervise_schedule(s, pid, status);
        }
    }
    /* 0: children remain, none ended; -1 (ECHILD): no child at all. */
    s->children = pid == 0;
    return stopped;
}

/* Keep a master running until a stop. Returns the stop signal, or 0 when
 * the master stopped of its own accord. */
static int supervise_watch(supervise_state *s)
{
    for (;;) {
        long long now = clock_mono_ms();
        struct timespec ts, *tsp = NULL;
        if (s->pid == 0) {
            long long at = s->restart_at_ms;
            if (s->children && at < s->died_ms + SUPERVISE_ORPHANS_MS)
                at = s->died_ms + SUPERVISE_ORPHANS_MS;
            ts = supervise_ts(at > now ? at - now : 0);
            tsp = &ts;
        }
        siginfo_t info;
        int sig = sigtimedwait(&s->signals, &info, tsp);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (supervise_reap(s, false) != 0)
            return 0;
        now = clock_mono_ms();
        if (s->pid != 0 || now < s->restart_at_ms)
            continue;
        /* The old master's workers first: a new master must not recover
         * the async runs or sweep the containers of processes still alive. */
        if (s->children && now < s->died_ms + SUPERVISE_ORPHANS_MS)
            continue;
        if (s->children)
            log_warn("processes of the dead master are still there after %d ms; starting a new "
                     "master anyway",
                     SUPERVISE_ORPHANS_MS);
        supervise_spawn(s);
    }
}

/* Forward stop signal `sig` (0: none, the master has stopped) and wait for
 * the master and whatever it left; SIGKILL when it overstays its grace. */
static void supervise_stop(supervise_state *s, int sig, int grace)
{
    long long deadline = clock_mono_ms() + grace * 1000LL + SUPERVISE_STOP_MARGIN_MS;
    bool killed = false;
    if (sig != 0 && s->pid > 0) {
        log_info("signal %d: stopping the master (pid %d)", sig, (int)s->pid);
        kill(s->pid, sig);
    }
    supervise_reap(s, true);
    while (s->children) {
        long long left = deadline - clock_mono_ms();
        if (left <= 0 && (killed || s->pid == 0)) {
            log_warn("processes of the pool are still there; the supervisor exits anyway");
            break;
        }
        if (left <= 0) {
            log_warn("master (pid %d) did not stop within %lld ms: SIGKILL", (int)s->pid,
                     grace * 1000LL + SUPERVISE_STOP_MARGIN_MS);
            kill(s->pid, SIGKILL);
            killed = true;
            deadline = clock_mono_ms() + SUPERVISE_KILL_WAIT_MS;
            continue;
        }
        struct timespec ts = supervise_ts(left);
        siginfo_t info;
        /* Another stop signal changes nothing: the master is stopping. */
        sigtimedwait(&s->signals, &info, &ts);
        supervise_reap(s, true);
    }
}

int supervise_run(int grace, supervise_master_fn master, void *arg)
{
    supervise_state s = {.master = master, .arg = arg, .self = getpid()};

    sigemptyset(&s.signals);
    sigaddset(&s.signals, SIGTERM);
    sigaddset(&s.signals, SIGINT);
    sigaddset(&s.signals, SIGCHLD);
    /* Subreaper: the workers of a master that died become our children, so
     * the next master can wait until they are gone. */
    if (sigprocmask(SIG_BLOCK, &s.signals, NULL) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        log_error("the supervisor cannot start: %s", strerror(errno));
        return 1;
    }
    log_info("supervisor up (pid %d)", (int)s.self);
    supervise_spawn(&s);
    int sig = supervise_watch(&s);
    supervise_stop(&s, sig, grace);
    log_info("supervisor stopped");
    return 0;
}
