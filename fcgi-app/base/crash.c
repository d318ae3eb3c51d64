#include "base/crash.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"

#define CRASH_FRAMES 64

static char crash_dir[CONFIG_PATH_MAX];
static size_t crash_dir_len;

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

/* Append the decimal digits of `v` to `out` at `*len` (bounded by `cap`). */
static void crash_digits(char *out, size_t *len, size_t cap, long v)
{
    char d[24];
    size_t n = 0;
    if (v < 0)
        v = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && n < sizeof(d));
    while (n > 0 && *len + 1 < cap)
        out[(*len)++] = d[--n];
    out[*len] = '\0';
}

/* Append string `s`, as crash_digits. */
static void crash_text(char *out, size_t *len, size_t cap, const char *s)
{
    for (; *s && *len + 1 < cap; s++)
        out[(*len)++] = *s;
    out[*len] = '\0';
}

/* Only async-signal-safe calls from here on: open, write, close, getpid,
 * backtrace (loaded beforehand), sigaction and raise. */
static void crash_handler(int sig)
{
    char path[CONFIG_PATH_MAX + 32], line[96];
    void *frames[CRASH_FRAMES];
    size_t len = 0;

    memcpy(path, crash_dir, crash_dir_len);
    len = crash_dir_len;
    crash_text(path, &len, sizeof(path), "/crash-");
    crash_digits(path, &len, sizeof(path), (long)getpid());
    crash_text(path, &len, sizeof(path), ".txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        len = 0;
        crash_text(line, &len, sizeof(line), "pid ");
        crash_digits(line, &len, sizeof(line), (long)getpid());
        crash_text(line, &len, sizeof(line), " died of signal ");
        crash_digits(line, &len, sizeof(line), sig);
        crash_text(line, &len, sizeof(line), "\n");
        ssize_t w = write(fd, line, len);
        (void)w; /* nothing to do about a failed write in a dying process */
        int n = backtrace(frames, CRASH_FRAMES);
        backtrace_symbols_fd(frames, n, fd);
        close(fd);
    }
    /* Die of the same signal, with its default action. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    raise(sig);
}

int crash_install(const char *run_dir, err_t *e)
{
    void *frames[2];
    int n = snprintf(crash_dir, sizeof(crash_dir), "%s", run_dir);
    if (n < 0 || (size_t)n >= sizeof(crash_dir))
        return err_set(e, ERR_INTERNAL, NULL, ENAMETOOLONG, "run dir path is too long");
    crash_dir_len = (size_t)n;
    /* Loads libgcc's unwinder now, not in the handler. */
    if (backtrace(frames, 2) <= 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "backtrace() does not work here");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = crash_handler;
    sigemptyset(&sa.sa_mask);
    /* SA_NODEFER: the raise at its end is delivered at once. */
    sa.sa_flags = SA_NODEFER | SA_RESETHAND;
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        if (sigaction(crash_signals[i], &sa, NULL) != 0)
            return err_sys(e, errno, "sigaction", "crash handler");
    return 0;
}
