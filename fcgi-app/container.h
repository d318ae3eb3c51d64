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

#include "docker.h"
#include "runtime.h"

#define CONTAINER_PIDS_LIMIT 256
#define CONTAINER_TMPFS "rw,nosuid,nodev,size=64m"

/*
 * The container create body for `req` (caller owns the object): image,
 * command, user, env (the function's and the MINILAMBDA_* values of this call),
 * labels naming `instance`, the invocation and the run, and the isolation
 * defaults: no network unless asked, memory and CPU limits, a pids limit,
 * every capability dropped, no-new-privileges, a read-only root with a
 * tmpfs on /tmp and on each path of `volumes` (the image's VOLUMEs: an array,
 * or NULL), no log driver, and the function's runtime when it names one.
 */
json_object *container_spec(const runtime_req *req, const char *instance, json_object *volumes);

/* Create the container for `req` (inspecting its image for VOLUMEs, each
 * of which gets a bounded tmpfs); its id goes to `cid` (DOCKER_ID_MAX
 * bytes). 0, or -1 with `res` failed (an image the engine lacks is
 * STATUS_IMAGE_MISSING). */
int container_create(docker_conn_t *c, const runtime_req *req, const char *instance,
                     long long deadline, char *cid, runtime_result *res);

/* Start container `cid`. 0 or -1 with `res` failed. */
int container_start(docker_conn_t *c, const char *cid, long long deadline, runtime_result *res);

/*
 * Write the event to stdin (then half-close it) and demultiplex stdout and
 * stderr into `res`'s capped buffers until the stream ends. Returns 0 at
 * the end of the stream, or -1 with `res` failed: STATUS_TIMEOUT at the
 * deadline, STATUS_CANCELLED when req->cancel_fd hangs up, or an engine
 * error.
 */
int container_pump(docker_stream_t *s, const runtime_req *req, runtime_result *res,
                   long long deadline);

/* Wait for `cid` to exit and set `res`'s exit code and status (SUCCEEDED
 * or FAILED). 0 or -1 with `res` failed. */
int container_wait(docker_conn_t *c, const char *cid, const runtime_req *req, long long deadline,
                   runtime_result *res);

/* Force-remove `cid` (killing it if it runs), with its own time budget so
 * that it happens even after the run's deadline. A failure is logged and
 * left to the janitor. */
void container_remove(docker_conn_t *c, const char *cid, const char *invocation_id);

/* Whether the engine has an OCI runtime called `name` (GET /info): 1 yes,
 * 0 no, -1 with `e` when the engine cannot tell. */
int container_runtime_known(docker_conn_t *c, const char *name, err_t *e);

#endif
