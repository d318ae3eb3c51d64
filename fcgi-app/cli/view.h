/*
 * view: how the client shows what the platform answered: the API's JSON as
 * it came (-o json), tables, one record as "field  value" lines, and the
 * small JSON readers the commands fill their rows with. Everything that
 * came from the platform and goes into a table is escaped (table.h).
 */
#ifndef MINILAMBDA_CLI_VIEW_H
#define MINILAMBDA_CLI_VIEW_H

#include <json-c/json.h>
#include <stdio.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"

/* Write `n` bytes to stdout. A failed write shows at main's final fflush. */
void view_write(const char *p, size_t n);

/* The reply's body as it came, ending in a newline. */
void view_raw(const client_reply *r);

/* Render `t` to stdout and free it (also on failure). CLI_OK, or
 * CLI_FAILED with `e` when out of memory. */
cli_exit view_table(table_t *t, err_t *e);

/* The member `key` of object `o` (borrowed), or NULL when `o` is no object
 * or has no such member. */
json_object *view_get(json_object *o, const char *key);

/* The string member `key` of `o` (borrowed), or NULL. */
const char *view_str(json_object *o, const char *key);

/* The number member `key` of `o` followed by `unit` ("s", " MiB") into
 * `out`; returns `out`, or NULL when there is no such number. */
const char *view_num(json_object *o, const char *key, const char *unit, char *out, size_t outlen);

/* CLI_OK when the reply's body is JSON of `type`; else CLI_FAILED with `e`
 * quoting the start of what came. */
cli_exit view_expect(const client_reply *r, json_type type, err_t *e);

/* The reply's object as "field  value" lines; objects one level down are
 * spread out as "parent.field" (env.GREETING, result.output). */
cli_exit view_record(const client_reply *r, err_t *e);

/* The string member `key` of the reply to `f` as it is (the function's own
 * output, not escaped), ending in a newline when it has text. */
void view_member(const client_reply *r, const char *key, FILE *f);

#endif
