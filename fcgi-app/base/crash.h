/*
 * crash: a backtrace of any process of the pool that dies of SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE or SIGABRT, written to <run dir>/crash-<pid>.txt
 * (the signal, then one frame a line, as backtrace_symbols_fd writes them),
 * after which the signal is raised again with its default action, so that
 * the process still dies of it (the master logs "killed by signal N") and a
 * core dump, when enabled, is still made.
 *
 * The handler is async-signal-safe: the file's name is prepared at
 * installation, and backtrace() is called once then, so that libgcc is
 * loaded before any crash (loading it inside the handler would allocate).
 * A process that overflows its stack has no stack left for the handler and
 * dies without a file.
 */
#ifndef MINILAMBDA_CRASH_H
#define MINILAMBDA_CRASH_H

#include "base/err.h"

/* Install the handler for this process and the processes it forks
 * afterwards, writing into `run_dir` (copied). 0, or -1 with `e` when the
 * path does not fit. */
int crash_install(const char *run_dir, err_t *e);

#endif
