/*
 * api: what the commands share to talk to the platform: the context they
 * run in, request paths with escaped segments, and one call whose answer
 * is checked (and printed as it came under -o json).
 */
#ifndef MINILAMBDA_CLI_API_H
#define MINILAMBDA_CLI_API_H

#include "base/buf.h"
#include "base/err.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"

/* Control-plane calls: the platform answers these in milliseconds, so a
 * minute means it is stuck. Invocations and uploads have no bound here:
 * nginx and the platform bound those themselves. */
#define API_TIMEOUT_MS 60000L
#define API_PATH_MAX 4096

/* What a running command needs besides its arguments. */
typedef struct {
    client_t *client;
    cli_output output;
    const char *docker; /* the docker program image push runs */
    const char *words;  /* the command's words, "fn rm", for messages */
} api_ctx;

/* Append `prefix`, `s` percent-escaped and `suffix` to `path`. CLI_OK, or
 * CLI_USAGE with `e` when it does not fit. */
cli_exit api_path(buf_t *path, const char *prefix, const char *s, const char *suffix, err_t *e);

/*
 * `method` on `path` with the JSON `body` (NULL for none), bounded by
 * `timeout_ms`; the answer goes into `r` (caller frees). Returns CLI_OK for
 * a 2xx answer, otherwise the exit code with `e` (client_check). Under -o
 * json the answer is printed as it came whatever its status, so a script
 * sees the API's `code` too.
 */
cli_exit api_call(api_ctx *x, const char *method, const char *path, const char *body,
                  long timeout_ms, client_reply *r, err_t *e);

/*
 * `method` on `prefix` + ID for each positional argument ID, going on past
 * a failure: each failure but the last is printed on stderr at once, the
 * last one is returned (its exit code, `e`). `done_fn` prints a line per
 * success under -o table.
 */
cli_exit api_each(api_ctx *x, const args_t *a, const char *method, const char *prefix,
                  void (*done_fn)(const char *id, const client_reply *r), err_t *e);

#endif
