/*
 * invoke: one synchronous invocation — a fresh container created, attached
 * before start, started, fed the event on stdin, its stdout and stderr
 * demultiplexed into bounded buffers, waited on and removed, all within one
 * deadline.
 */
#ifndef MINILAMBDA_INVOKE_H
#define MINILAMBDA_INVOKE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "docker.h"
#include "metrics.h"

#define INVOKE_STDOUT_MAX (6u * 1024 * 1024)
#define INVOKE_STDERR_MAX (1u * 1024 * 1024)
#define INVOKE_ID_LEN 37

typedef struct {
    json_object *function; /* the function record, borrowed */
    const char *instance;  /* label value naming this platform instance */
    const char *event;     /* bytes for stdin, borrowed */
    size_t event_len;
    int timeout_s;           /* 1..900 */
    int attempt;             /* MINILAMBDA_ATTEMPT */
    char id[INVOKE_ID_LEN];  /* the invocation id */
    char run[INVOKE_ID_LEN]; /* this attempt's id (label minilambda.run): what
                              * the janitor checks is still running */
    int cancel_fd;           /* a socket whose hang-up cancels the run, or -1 */
    /* Asked once the container exists, before it starts: non-zero cancels
     * the run. NULL for none. */
    int (*cancelled)(void *arg);
    void *cancelled_arg;
} invoke_req;

typedef enum {
    INVOKE_SUCCEEDED = 0,
    INVOKE_FAILED,        /* the function exited non-zero */
    INVOKE_TIMEOUT,       /* the deadline passed; the container was killed */
    INVOKE_CANCELLED,     /* the client went away; the container was killed */
    INVOKE_UNREACHABLE,   /* the engine did not answer */
    INVOKE_IMAGE_MISSING, /* the engine has no such image */
    INVOKE_ENGINE_ERROR   /* the engine refused or failed mid-way */
} invoke_status;

typedef struct {
    invoke_status status;
    int exit_code;  /* valid for SUCCEEDED and FAILED */
    buf_t out;      /* stdout, at most INVOKE_STDOUT_MAX bytes, owned */
    buf_t err;      /* stderr, at most INVOKE_STDERR_MAX bytes, owned */
    bool truncated; /* some output was dropped at a cap */
    long duration_ms;
    char message[512]; /* why, for every status but SUCCEEDED */
} invoke_result;

/* Prepare an empty result. */
void invoke_result_init(invoke_result *r);

/* Free the result's buffers. */
void invoke_result_free(invoke_result *r);

/* The metrics outcome for `s`. */
metrics_status invoke_metrics_status(invoke_status s);

/* The contract's word for `s`: "succeeded", "failed", "timeout", ... */
const char *invoke_status_name(invoke_status s);

/*
 * The container create body for `req` (caller owns the object): image,
 * command, env, labels and the isolation defaults.
 */
json_object *invoke_container_spec(const invoke_req *req);

/* A JSON string of captured output `b` as valid UTF-8 (buf_append_utf8);
 * when `b` is full, its capture stopped at the cap and a character cut
 * there is dropped. Caller owns it; NULL when out of memory. */
json_object *invoke_text(const buf_t *b);

/* Run the invocation to the end. Never leaves the container behind when
 * the engine can be reached; `res` is always filled in. */
void invoke_run(docker_conn_t *c, const invoke_req *req, invoke_result *res);

#endif
