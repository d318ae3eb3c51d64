/*
 * platform: the commands about the platform itself: `image push`,
 * `image ls` and `health`.
 */
#ifndef MINILAMBDA_CLI_PLATFORM_H
#define MINILAMBDA_CLI_PLATFORM_H

#include "cli/api.h"
#include "cli/args.h"

/* image push: --progress, --no-progress. */
extern const args_opt platform_push_opts[];
/* image ls: -q, --detail. */
extern const args_opt platform_images_opts[];

/* Each runs one command and returns its exit code, with `e` when it is not
 * CLI_OK. health exits 1 when the platform answers that it is unhealthy. */
cli_exit platform_push(api_ctx *x, const args_t *a, err_t *e);
cli_exit platform_images(api_ctx *x, const args_t *a, err_t *e);
cli_exit platform_health(api_ctx *x, const args_t *a, err_t *e);

#endif
