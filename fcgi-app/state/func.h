/*
 * func: the function record and its fields, as one table (func.c): each
 * row names a field, its JSON type and bounds, its default, whether it is
 * required at registration and whether PATCH may change it, and the error
 * code a bad value gets. Validation, defaults, PATCH, loading and the
 * container spec all read that table; adding a field is one row plus its use.
 */
#ifndef MINILAMBDA_FUNC_H
#define MINILAMBDA_FUNC_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define FUNC_TIMEOUT_MAX 900
#define FUNC_KEEP_WARM_MAX 16

/* True when `s` is a valid function name (^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$). */
bool func_valid_name(const char *s, size_t len);

/* True when `s` is a syntactically valid Docker image reference. */
bool func_valid_image(const char *s, size_t len);

/* True when `s` looks like a function id (a lowercase UUID). */
bool func_is_id(const char *s);

/*
 * Validate a registration body and build a new record from it: every field
 * checked, defaults filled in, id and timestamps set from `id` and `now`,
 * and the platform's own fields from `sys` (image_id, created_by; borrowed,
 * may be NULL). Returns a new object the caller owns (json_object_put), or
 * NULL with `e` filled in (ERR_INVALID and the field's code, or
 * ERR_TOO_LARGE record_too_large past 64 KiB).
 */
json_object *func_new(json_object *body, const char *id, const char *now, json_object *sys,
                      err_t *e);

/*
 * Validate a PATCH body and apply it, then `sys` (may be NULL), to a copy
 * of `rec` (which is not changed), setting updated_at to `now`. Returns a
 * new object the caller owns, or NULL with `e` filled in.
 */
json_object *func_patch(json_object *rec, json_object *body, const char *now, json_object *sys,
                        err_t *e);

/*
 * Check a record read from functions.json and fill in defaults for fields a
 * record of the first format (id, name, image, created_at) lacks. Changes `rec` in place. Returns 0, or -1 with
 * `e` filled in when a required field (id, name, image) is missing or of
 * the wrong type, or a field breaks its row's rules.
 */
int func_load(json_object *rec, err_t *e);

/* Field `key` of `rec` as a string, or its default, or "" (borrowed from
 * `rec` or static). */
const char *func_str(json_object *rec, const char *key);

/* A value that changes whenever record `rec` changes (never 0): a warm
 * container made from one generation never serves another. */
uint64_t func_generation(json_object *rec);

/* The image a container of `rec` is made from: its pinned image_id when it
 * has one, else its image reference (borrowed from `rec`). */
const char *func_image(json_object *rec);

/* Field `key` of `rec` as an integer, or its default (0 when none). */
long long func_int(json_object *rec, const char *key);

/* Field `key` of `rec` as a number, or its default (0 when none). */
double func_num(json_object *rec, const char *key);

/* Which view of the record a schema describes. */
typedef enum {
    FUNC_VIEW_RECORD, /* a record as the API answers it */
    FUNC_VIEW_CREATE, /* a registration body (POST /functions) */
    FUNC_VIEW_PATCH   /* a change (PATCH /functions/{ref}) */
} func_view;

/*
 * The JSON Schema (draft 2020-12, as OpenAPI 3.1 reads it) of the record
 * as `view` sees it, from the field table: each field's type, bounds or
 * choices, default, rule (as its description) and the error code a bad
 * value gets ("x-error-code"); which fields are required, which only the
 * platform sets (readOnly, null until known) and, for request bodies, that
 * no other field is accepted. Returns a new object the caller owns (NULL
 * only when out of memory).
 */
json_object *func_schema(func_view view);

#endif
