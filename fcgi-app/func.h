/*
 * func: the function record — validation of what a client sends, defaults,
 * and the JSON shape kept in functions.json and returned by the API.
 */
#ifndef MINILAMBDA_FUNC_H
#define MINILAMBDA_FUNC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define FUNC_TIMEOUT_DEFAULT 120
#define FUNC_TIMEOUT_MAX 900
#define FUNC_MEMORY_DEFAULT 256
#define FUNC_MEMORY_MIN 16
#define FUNC_MEMORY_MAX 65536
#define FUNC_CPUS_DEFAULT 1.0
#define FUNC_CPUS_MIN 0.01
#define FUNC_CPUS_MAX 64.0
/* Extra runs of a FAILED or TIMEOUT async invocation. */
#define FUNC_RETRIES_MAX 3

/* A validation failure: a stable machine word and a sentence for people. */
typedef struct {
    const char *code; /* static string, e.g. "invalid_name" */
    char msg[256];
} func_err;

/* True when `s` is a valid function name (^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$). */
bool func_valid_name(const char *s, size_t len);

/* True when `s` is a syntactically valid Docker image reference. */
bool func_valid_image(const char *s, size_t len);

/* True when `s` looks like a function id (a lowercase UUID). */
bool func_is_id(const char *s);

/*
 * Validate a registration body and build a new record from it: every field
 * checked, defaults filled in, id and timestamps set from `id` and `now`.
 * Returns a new object the caller owns (json_object_put), or NULL with `err`
 * filled in.
 */
json_object *func_new(json_object *body, const char *id, const char *now, func_err *err);

/*
 * Validate a PATCH body and apply it to a copy of `rec` (which is not
 * changed), setting updated_at to `now`. Returns a new object the caller
 * owns, or NULL with `err` filled in.
 */
json_object *func_patch(json_object *rec, json_object *body, const char *now, func_err *err);

/*
 * Check a record read from functions.json and fill in defaults for fields a
 * seed-format record lacks (timeout, memory_mb, cpus, env, network, retries,
 * updated_at). Changes `rec` in place. Returns 0, or -1 with `err` filled in
 * when a required field (id, name, image) is missing or of the wrong type.
 */
int func_load(json_object *rec, func_err *err);

/* Write the current time as RFC 3339 UTC with milliseconds into `out`
 * (at least 25 bytes). */
void func_now(char *out, size_t outlen);

#endif
