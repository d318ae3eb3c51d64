/*
 * container: the Engine API steps on one function container that every
 * runtime is built from — its create body (from the function's field table
 * and the isolation defaults), create, start, the stdin/stdout/stderr pump
 * over the attach stream, wait and removal. Each step that fails sets the
 * run's result (status and a message naming the step) and returns -1.
 */
#ifndef MINILAMBDA_CONTAINER_H
#define MINILAMBDA_CONTAINER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "engine/docker.h"
#include "run/runtime.h"

#define CONTAINER_PIDS_LIMIT 256
/* AWS_REGION of a protocol "lambda" function: there is no region; this
 * word also names it in the ARNs the runtime sees. */
#define CONTAINER_TMPFS "rw,nosuid,nodev,size=64m"

/* How a container runs its function. */
typedef enum {
    CONTAINER_COLD = 0, /* as the image says; this call's values in its env */
    CONTAINER_FRESH,    /* minilambda-init, one call: its values in a header */
    CONTAINER_REUSE,    /* minilambda-init, calls one at a time, a process each */
    CONTAINER_PROCESS   /* the function's own process, over the loop protocol */
} container_mode;

/* How calls of `f` (borrowed) run: its reuse field, where `has_init`
 * (minilambda-init is configured) allows a wrapped mode; without it only
 * the loop protocol reuses anything. Protocol "lambda" is always wrapped:
 * FRESH for reuse "none", REUSE for "process". */
container_mode container_mode_of(const func_t *f, bool has_init);

/* Where minilambda-init is mounted inside a container. */
/* The region a "lambda" function's containers see (AWS_REGION) and name in
 * their ARNs: MINILAMBDA_REGION, set once by main before any process or
 * thread starts (`region` is copied; the default is "us-east-1"). */
void container_set_region(const char *region);

#define CONTAINER_INIT_PATH "/.minilambda/init"

/*
 * The container create body for `req` in `mode` (caller owns the object):
 * image, command, user, env (the function's, and for COLD the MINILAMBDA_*
 * values of this call), labels naming `instance`, the invocation (or
 * "warm"), the run and the mode, and the isolation defaults: no network
 * unless asked, memory and CPU limits, a pids limit, every capability
 * dropped, no-new-privileges, a read-only root with a tmpfs on /tmp and on
 * each VOLUME of `image` (the image inspect's volumes, entrypoint and cmd, or NULL), no log
 * driver, and the function's runtime when it names one. FRESH and REUSE
 * mount `init` (a host path) read-only at CONTAINER_INIT_PATH and run it
 * before the image's entrypoint and command. Protocol "lambda" runs init's
 * lambda modes, with the env Lambda's runtime clients read (_HANDLER from
 * the handler field or the image's CMD, LAMBDA_TASK_ROOT from its
 * WorkingDir, AWS_LAMBDA_*, AWS_REGION, TZ); an image without an
 * entrypoint gets no command (init looks for a bootstrap) unless the
 * function names one.
 */
json_object *container_spec(const runtime_req *req, const char *instance, container_mode mode,
                            const char *init, json_object *image);

/* Create the container for `req` in `mode` (see container_spec); its id
 * goes to `cid` (DOCKER_ID_MAX bytes). 0, or -1 with `res` failed (an image
 * the engine lacks is STATUS_IMAGE_MISSING). */
int container_create(docker_conn_t *c, const runtime_req *req, const char *instance,
                     container_mode mode, const char *init, long long deadline, char *cid,
                     runtime_result *res);

/* Start container `cid`. 0 or -1 with `res` failed. */
int container_start(docker_conn_t *c, const char *cid, long long deadline, runtime_result *res);

/* One exchange over an attach stream: bytes to write, then output read
 * until the answer is complete. */
typedef struct {
    const char *pre; /* for stdin first (a request header), borrowed, or NULL */
    size_t pre_len;
    const char *in; /* for stdin then (the event), borrowed */
    size_t in_len;
    bool half_close;   /* close stdin after them: the event ends there */
    bool watch_cancel; /* ask req->cancelled while it runs (a warm container,
                        * which DELETE cannot find by label) */
    /* Each piece of output, demultiplexed (stream 1 stdout, 2 stderr).
     * Returns 0 to go on, 1 when the answer is complete, -1 when the
     * output breaks the protocol (having failed the result). */
    int (*feed)(void *arg, int stream, const char *p, size_t n);
    void *arg;
    bool spill; /* out: output came after the complete answer */
} container_io;

/* A feed that captures into the runtime_result `arg`'s capped buffers and
 * is complete only at the end of the stream. */
int container_feed_plain(void *arg, int stream, const char *p, size_t n);

/*
 * Write io->pre and io->in to stdin and feed the output to io->feed until it says the
 * answer is complete, or (container_feed_plain) the stream ends. Returns
 * 0, or -1 with `res` failed: STATUS_TIMEOUT at the deadline,
 * STATUS_CANCELLED when req->cancel_fd hangs up or (watch_cancel)
 * req->cancelled says so, STATUS_PROTOCOL_ERROR when the stream ends
 * before the answer, or an engine error.
 */
int container_exchange(docker_stream_t *s, const runtime_req *req, container_io *io,
                       runtime_result *res, long long deadline);

/* container_exchange of the event, half-closed, captured plainly: a cold
 * container's whole run. */
int container_pump(docker_stream_t *s, const runtime_req *req, runtime_result *res,
                   long long deadline);

/* The function exited with `code`: set `res`'s exit code, status
 * (SUCCEEDED or FAILED) and, when it failed, its message. */
void container_exited(runtime_result *res, int code);

/* Wait for `cid` to exit and set `res`'s exit code and status (SUCCEEDED
 * or FAILED), as container_exited. 0 or -1 with `res` failed. */
int container_wait(docker_conn_t *c, const char *cid, const runtime_req *req, long long deadline,
                   runtime_result *res);

/* Force-remove `cid` (killing it if it runs), with its own time budget so
 * that it happens even after the run's deadline. A failure is logged and
 * left to the janitor. */
void container_remove(docker_conn_t *c, const char *cid, const char *invocation_id);

/* Whether the engine has an OCI runtime called `name` (GET /info): 1 yes,
 * 0 no, -1 with `e` when the engine cannot tell. */
int container_runtime_known(docker_conn_t *c, const char *name, err_t *e) ERR_MUST_USE;

#endif
