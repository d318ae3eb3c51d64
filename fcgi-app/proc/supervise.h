/*
 * supervise: the process above the master (`minilambda-fcgi --supervise`).
 * It forks the master, waits for it, and starts a new one when it dies for
 * any reason other than a stop, with a backoff while it keeps dying at once.
 * SIGTERM and SIGINT are forwarded to the master, and the supervisor exits
 * once the master has stopped. It makes no network or engine call and holds
 * no socket, so that nothing that can break a master can break it.
 *
 * The supervisor is the child subreaper of everything below it: when a
 * master dies, its workers (killed by their PR_SET_PDEATHSIG) become the
 * supervisor's children, and a new master starts only once they are gone,
 * so old and new processes of one instance never run side by side.
 */
#ifndef MINILAMBDA_SUPERVISE_H
#define MINILAMBDA_SUPERVISE_H

/* The master's body: runs in the forked child, with SIGTERM, SIGINT and
 * SIGCHLD blocked; its return value is the child's exit status. 0 means it
 * stopped on request. */
typedef int (*supervise_master_fn)(void *arg);

/*
 * Supervise `master(arg)` until a stop: SIGTERM or SIGINT to this process
 * (forwarded to the master, which gets `grace` seconds plus a margin before
 * SIGKILL), or the master exiting 0 of its own accord (a stop signal sent
 * to it directly). Every other end of a master (a signal, a non-zero exit)
 * is logged and a new master started: at once after a master that lived
 * 5 s or more, else after a backoff doubling from 100 ms to 10 s. Each
 * master dies with the supervisor (PR_SET_PDEATHSIG SIGKILL), whatever kills
 * it. Blocks SIGTERM, SIGINT and SIGCHLD in the calling process, makes it a
 * child subreaper, and reaps every child it gets. Returns the exit status
 * for the process: 0 after a stop, 1 when supervising could not begin
 * (logged). `arg` stays the caller's; it is only passed to `master`.
 */
int supervise_run(int grace, supervise_master_fn master, void *arg);

#endif
