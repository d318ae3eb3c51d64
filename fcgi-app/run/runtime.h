/*
 * runtime: the seam for how an invocation gets a container and gives it
 * back. A runtime is a table of operations (runtime_ops):
 *
 *   acquire  a container ready to take the event: created, attached, started
 *   run      feed the event on stdin, collect stdout/stderr under the
 *            deadline and the caps
 *   release  learn the exit code, then remove (or keep) the container
 *   live     whether a managed container is in use by this runtime now
 *
 * runtime_run drives one invocation through them; the janitor asks
 * runtime_live which containers to keep. The implementation (start.h) takes
 * a warm container from the keeper when one is ready and makes a cold one
 * when none is; the janitor and the metrics see both through this
 * interface. A runtime knows no HTTP request.
 */
#ifndef MINILAMBDA_RUNTIME_H
#define MINILAMBDA_RUNTIME_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "engine/docker.h"
#include "engine/engines.h"
#include "run/lease.h"
#include "state/func.h"
#include "state/metrics.h"
#include "state/status.h"

#define RUNTIME_STDOUT_MAX (6u * 1024 * 1024)
#define RUNTIME_STDERR_MAX (1u * 1024 * 1024)
#define RUNTIME_ID_LEN 37

/* What one run needs. */
typedef struct {
    const func_t *function; /* the function, borrowed */
    const char *event;      /* bytes for stdin, borrowed */
    size_t event_len;
    int timeout_s;            /* 1..900 */
    int attempt;              /* MINILAMBDA_ATTEMPT */
    char id[RUNTIME_ID_LEN];  /* the invocation id */
    char run[RUNTIME_ID_LEN]; /* this attempt's id (label minilambda.run) */
    int cancel_fd;            /* a socket whose hang-up cancels the run, or -1 */
    /* Protocol "lambda": the Lambda-Runtime-Client-Context and
     * -Cognito-Identity the runtime gets, JSON text (borrowed), or NULL. */
    const char *client_context;
    const char *cognito_identity;
    /* Asked once the container exists, before it starts: non-zero cancels
     * the run. NULL for none. */
    int (*cancelled)(void *arg);
    void *cancelled_arg;
} runtime_req;

/* How one run went. */
typedef struct {
    status_outcome status;
    int exit_code;            /* valid for SUCCEEDED and FAILED */
    buf_t out;                /* stdout, at most RUNTIME_STDOUT_MAX bytes, owned */
    buf_t err;                /* stderr, at most RUNTIME_STDERR_MAX bytes, owned */
    bool truncated;           /* some output was dropped at a cap */
    bool engine_fault;        /* the engine failed it (unreachable, or too slow before
                               * the function started): not the function's attempt */
    metrics_start_kind start; /* how its container started: cold, warm, reused */
    bool started;             /* it got a container (start says how) */
    long duration_ms;
    int engine;        /* the engine it ran on, or -1 when it got none */
    char message[512]; /* why, for every status but SUCCEEDED */
    /* Protocol "lambda": "" on success; else the error type of a function
     * error (FAILED: the runtime posted /error; from its
     * Lambda-Runtime-Function-Error-Type, else the body's errorType, else
     * "Unhandled"; `out` holds the body it posted), of an init error
     * (INIT_ERROR: "Runtime.ImportModuleError", "Runtime.ExitError", ...;
     * `out` the body) or "Function.ResponseSizeTooLarge" (FAILED, a
     * response over 6 MiB). "" for a timeout: the status says it. */
    char error_type[128];
} runtime_result;

/* Prepare an empty result (its buffers allocate nothing yet). */
void runtime_result_init(runtime_result *r);

/* Free the result's buffers. */
void runtime_result_free(runtime_result *r);

/* Set `r`'s status and message (formatted, cut to fit). */
void runtime_fail(runtime_result *r, status_outcome status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Where a run happens: the calling thread's engine connections and its
 * seat (process row, thread) in the shared tables. Borrowed. */
typedef struct {
    docker_conn_t *conn;   /* the first engine's (used when `conns` is NULL) */
    lease_client_t *lease; /* the thread's line to the keeper, or NULL: none */
    int row;
    int thread;
    engines_conns *conns; /* one per engine, and the engines to place on; or NULL */
} runtime_seat;

/* The container one run holds, from acquire to release. */
typedef struct {
    char cid[DOCKER_ID_MAX];  /* "" when none was created */
    char run[RUNTIME_ID_LEN]; /* its run label: the call's, or the warm container's */
    docker_stream_t *stream;  /* the attach stream, owned; NULL when none */
    long long deadline;       /* monotonic ms by which the run must end */
    bool ran;                 /* run reached the end of the output */
    int mode;                 /* container_mode it runs in */
    bool reusable;            /* it may serve another call after this one */
    bool leased;              /* it came from the keeper */
    int engine;               /* the engine it is on, or -1 before placement */
    long long engine_outs;    /* engines_outs of it when the run went onto it */
    docker_conn_t *conn;      /* the seat's connection to that engine */
    uint64_t generation;      /* the function's generation, once per call */
} runtime_lease;

typedef struct runtime runtime_t;

typedef struct {
    const char *name;
    /* Fill `l` with a container ready to take the event. 0, or -1 with
     * `res` failed; release still follows, so a container made before the
     * failure goes. */
    int (*acquire)(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                   runtime_lease *l, runtime_result *res);
    /* Feed the event and collect the output. 0 when the output ended, or
     * -1 with `res` failed (timeout, cancel, stream error). */
    int (*run)(runtime_t *rt, const runtime_seat *seat, const runtime_req *req, runtime_lease *l,
               runtime_result *res);
    /* After a run that ended (l->ran), set the exit code and status; then
     * give the container back. Always called once after acquire. */
    void (*release)(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                    runtime_lease *l, runtime_result *res);
    /* Whether the managed container with `labels` is in use now. */
    bool (*live)(runtime_t *rt, json_object *labels);
    /* Free the implementation's state. */
    void (*free)(void *impl);
} runtime_ops;

struct runtime {
    const runtime_ops *ops;
    void *impl;        /* the implementation's state, owned */
    char instance[24]; /* label value naming this platform instance */
};

/* A runtime with `ops` and `impl` (owned from now on) for `instance`.
 * Returns it (runtime_free), or NULL when out of memory (`impl` freed). */
runtime_t *runtime_new(const runtime_ops *ops, void *impl, const char *instance);

/* Free the runtime and its implementation's state. */
void runtime_free(runtime_t *rt);

/*
 * Run `req` to the end: acquire, run, release, with one cleanup path.
 * `res` (initialized by the caller) is always filled in, duration included;
 * no container is left behind when the engine can be reached.
 */
void runtime_run(runtime_t *rt, const runtime_seat *seat, const runtime_req *req,
                 runtime_result *res);

/* Whether the managed container with `labels` is in use now. */
bool runtime_live(runtime_t *rt, json_object *labels);

#endif
