/*
 * functions: the `fn` commands: create, ls, get, update, rm. The settings
 * options map one to one onto the record's fields (--memory is memory_mb,
 * --keep-warm keep_warm ...) and pass through: the platform checks their
 * ranges and names the field when one is wrong.
 */
#ifndef MINILAMBDA_CLI_FUNCTIONS_H
#define MINILAMBDA_CLI_FUNCTIONS_H

#include "cli/api.h"
#include "cli/args.h"

/* --timeout, --memory, --cpus, --env, --keep-warm, --reuse, ... */
extern const args_opt functions_field_opts[];
/* fn update's own: --image, --clear-env. */
extern const args_opt functions_update_opts[];
/* fn ls: -q. */
extern const args_opt functions_ls_opts[];

/* Each runs one command (see commands.c's table for its arguments) and
 * returns its exit code, with `e` when it is not CLI_OK. */
cli_exit functions_create(api_ctx *x, const args_t *a, err_t *e);
cli_exit functions_update(api_ctx *x, const args_t *a, err_t *e);
cli_exit functions_ls(api_ctx *x, const args_t *a, err_t *e);
cli_exit functions_get(api_ctx *x, const args_t *a, err_t *e);
cli_exit functions_rm(api_ctx *x, const args_t *a, err_t *e);

#endif
