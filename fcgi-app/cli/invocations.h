/*
 * invocations: `invoke` and the `inv` commands: ls, get, cancel, logs.
 * invoke prints the function's output as it is and exits 1 when the
 * function failed, 4 when it timed out (cli.h).
 */
#ifndef MINILAMBDA_CLI_INVOCATIONS_H
#define MINILAMBDA_CLI_INVOCATIONS_H

#include "cli/api.h"
#include "cli/args.h"

/* invoke: --data, --async, --timeout, --logs. */
extern const args_opt invocations_invoke_opts[];
/* inv ls: --function, --status, --limit, -q. */
extern const args_opt invocations_ls_opts[];

/* Each runs one command and returns its exit code, with `e` when it is not
 * CLI_OK. */
cli_exit invocations_invoke(api_ctx *x, const args_t *a, err_t *e);
cli_exit invocations_ls(api_ctx *x, const args_t *a, err_t *e);
cli_exit invocations_get(api_ctx *x, const args_t *a, err_t *e);
cli_exit invocations_cancel(api_ctx *x, const args_t *a, err_t *e);
cli_exit invocations_logs(api_ctx *x, const args_t *a, err_t *e);

#endif
