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

/* The platform's own fields of a registration or a PATCH: no client
 * gives them. Strings are borrowed. */
typedef struct {
    bool set_creator;       /* a registration: record created_by */
    const char *created_by; /* the key's id, or NULL: made without a key */
    bool set_image_id;      /* the body names an image: record what it resolves to */
    const char *image_id;   /* its image id, or NULL: no engine has it yet */
} func_sys;

/* What the platform checks in a registration or PATCH body before it is
 * stored, borrowed from the body: each NULL when absent or not a string,
 * `image` also when it is not a valid reference. */
typedef struct {
    const char *name;
    const char *image;
    const char *runtime;
} func_body;

/* The members of `body` (a client's JSON, borrowed) that func_body names. */
void func_body_of(json_object *body, func_body *out);

/*
 * Validate a registration body and build a new record from it: every field
 * checked, defaults filled in, id and timestamps set from `id` and `now`,
 * and the platform's own fields from `sys` (may be NULL). Returns a new
 * object the caller owns (json_object_put), or NULL with `e` filled in
 * (ERR_INVALID and the field's code, or ERR_TOO_LARGE record_too_large past
 * 64 KiB).
 */
json_object *func_new(json_object *body, const char *id, const char *now, const func_sys *sys,
                      err_t *e) ERR_MUST_USE;

/*
 * Validate a PATCH body and apply it, then `sys` (may be NULL), to a copy
 * of `rec` (which is not changed), setting updated_at to `now`. Returns a
 * new object the caller owns, or NULL with `e` filled in.
 */
json_object *func_patch(json_object *rec, json_object *body, const char *now, const func_sys *sys,
                        err_t *e) ERR_MUST_USE;

/*
 * Check a record read from functions.json and fill in defaults for fields a
 * record of the first format (id, name, image, created_at) lacks. Changes `rec` in place. Returns
 * 0, or -1 with `e` filled in when a required field (id, name, image) is missing or of the wrong
 * type, or a field breaks its row's rules.
 */
int func_load(json_object *rec, err_t *e) ERR_MUST_USE;

/* How calls reuse a function's containers (its "reuse" field). */
typedef enum {
    FUNC_REUSE_NONE,      /* a fresh container per call */
    FUNC_REUSE_CONTAINER, /* a fresh process per call in a reused container */
    FUNC_REUSE_PROCESS    /* one process serving calls over the loop protocol */
} func_reuse;

/*
 * A function record, typed: what the run, warm and container code read.
 * Every field has its value or its row's default. Made only by func_parse (or func_copy), so
 * the field names are read in one place.
 */
typedef struct {
    /* Text is borrowed from `json` (or static, for a default): valid while
     * the func_t lives, as long as nobody replaces those members of `json`. */
    const char *id;
    const char *name;
    const char *image;    /* the reference it was registered with */
    const char *image_id; /* the image id it is pinned to, or "" */
    const char *user;
    const char *runtime; /* the OCI runtime, or "": the engine's default */
    int timeout;         /* seconds */
    int memory_mb;
    double cpus;
    bool bridge; /* network "bridge"; otherwise none */
    int retries;
    int keep_warm;
    func_reuse reuse;
    bool lambda;         /* protocol "lambda": the Runtime API; else stdio */
    const char *handler; /* Lambda's _HANDLER, or "": the image's CMD */
    char **env;          /* "KEY=value" lines, NULL-terminated, owned */
    char **command;      /* NULL-terminated and owned, or NULL: the image's own */
    uint64_t generation; /* changes whenever any field changes (never 0): a
                          * warm container made from one generation never
                          * serves another */
    json_object *json;   /* the record as stored, owned: what answers show */
} func_t;

/*
 * Type the record `rec` (one func_new, func_patch or func_load made). The
 * result takes over the caller's reference to `rec`, on failure too, and
 * is the caller's to free with func_free. NULL with `e` filled in:
 * ERR_CORRUPT when a field breaks its row, ERR_NOMEM.
 */
func_t *func_parse(json_object *rec, err_t *e) ERR_MUST_USE;

/* func_parse, with the record's generation known already: `generation`
 * is func_generation of a record equal to `rec` (0: not known, computed
 * here). Saves serializing the record once more on a hot path. */
func_t *func_parse_as(json_object *rec, uint64_t generation, err_t *e) ERR_MUST_USE;

/* The generation of record `rec` (borrowed): FNV-1a over its serialization,
 * never 0. */
uint64_t func_generation(json_object *rec);

/* A deep copy of `f` (borrowed) that shares nothing with it, for another
 * thread: the caller frees it with func_free. NULL with `e` filled in. */
func_t *func_copy(const func_t *f, err_t *e) ERR_MUST_USE;

/* Free `f` and everything it owns (NULL is fine). */
void func_free(func_t *f);

/* The image a container of `f` is made from: its pinned image_id when it
 * has one, else its image reference (borrowed from `f`). */
const char *func_image(const func_t *f);

/* Show record `rec` (a function's JSON) as a read-only key may see it:
 * every env value becomes "***", in place. */
void func_redact(json_object *rec);

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
