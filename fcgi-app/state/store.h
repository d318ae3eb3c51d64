/*
 * store: function records in <data dir>/functions.json, an object keyed by
 * id (the first format, still read as it is), shared by every process of the pool.
 *
 * Writers serialize on flock(LOCK_EX) of a separate lock file, re-read the
 * file, change it and replace it atomically (files_write). Readers never
 * lock: they cache the parsed file and re-read it when its inode, size or
 * mtime changes. A store is safe to use from many threads at once.
 *
 * Every call that can fail returns 0 or -1 with the err_t filled in: a
 * missing function is ERR_NOT_FOUND, a taken name ERR_CONFLICT
 * (name_conflict), a bad field ERR_INVALID with the field's code, a full
 * disk ERR_STORAGE_FULL, another I/O failure ERR_STORAGE naming the path, and
 * a file that does not parse ERR_CORRUPT (which is never overwritten).
 */
#ifndef MINILAMBDA_STORE_H
#define MINILAMBDA_STORE_H

#include <json-c/json.h>
#include <stddef.h>

#include "base/err.h"
#include "state/func.h"

typedef struct store store_t;

/*
 * Open the store in `data_dir`, creating the directory if needed; the file
 * is read on first use. Returns a store the caller frees with store_close,
 * or NULL with `e` filled in.
 */
store_t *store_open(const char *data_dir, err_t *e) ERR_MUST_USE;

/*
 * Check that functions.json parses and every record loads: a missing file
 * is an empty store; an empty or unparsable one is ERR_CORRUPT, whose
 * message says how to restore functions.json.bak. 0, or -1 with `e`
 * filled in. The file is never modified: a corrupt store answers every
 * call with ERR_CORRUPT until a human fixes it.
 */
int store_verify(store_t *s, err_t *e) ERR_MUST_USE;

/* Free the store and its cache. */
void store_close(store_t *s);

/* The records oldest first, as a JSON array serialized to a new string that
 * the caller frees. 0, or -1 (`*out` NULL). */
int store_list(store_t *s, char **out, err_t *e) ERR_MUST_USE;

/* A copy of the record whose id or name is `ref`, typed, owned by the
 * caller (func_free). 0, or -1 (`*out` NULL). */
int store_get(store_t *s, const char *ref, func_t **out, err_t *e) ERR_MUST_USE;

/* Every record, typed, oldest first: `*all` a new array of `*n` records
 * that the caller frees with store_all_free. 0, or -1 with `e`. */
int store_all(store_t *s, func_t ***all, size_t *n, err_t *e) ERR_MUST_USE;

/* Free what store_all gave (NULL is fine). */
void store_all_free(func_t **all, size_t n);

/* Set `e` to the 404 not_found of a function `ref` that does not exist
 * (the gate gives the same to a key that may not see `ref`). -1. */
int store_not_found(const char *ref, err_t *e) ERR_MUST_USE;

/* Call `fn` on every record (borrowed, valid during the call only; `fn`
 * must not call the store) under the store's lock. 0, or -1 with `e` when
 * the file cannot be read (or a record cannot be typed: out of memory). */
int store_each(store_t *s, void (*fn)(const func_t *f, void *arg), void *arg,
               err_t *e) ERR_MUST_USE;

/* The number of records, or -1 when the file cannot be read. */
long store_count(store_t *s);

/* Bound the number of records store_create admits (0: none); past it,
 * ERR_CONFLICT too_many_functions. Call before sharing the store. */
void store_limit(store_t *s, long max_functions);

/*
 * Validate `body` and add a record with id `id` (NULL: a fresh one), with
 * the platform's own fields from `sys` (borrowed, may be NULL). A record
 * that has that id already is the one a retry of this creation looks for
 * (an Idempotency-Key's): it is returned as it is. On 0 `*out` is the
 * record, typed, owned by the caller (func_free).
 */
int store_create(store_t *s, json_object *body, const func_sys *sys, const char *id, func_t **out,
                 err_t *e) ERR_MUST_USE;

/* Validate `patch` and apply it, then `sys` (may be NULL), to the record
 * `ref`. On 0 `*out` is the changed record, typed, owned by the caller. */
int store_update(store_t *s, const char *ref, json_object *patch, const func_sys *sys, func_t **out,
                 err_t *e) ERR_MUST_USE;

/* Pin record `ref` to `image_id` unless it is pinned already (then it
 * keeps its pin). On 0 `*out` is the record as stored, typed, owned by the
 * caller. */
int store_pin(store_t *s, const char *ref, const char *image_id, func_t **out,
              err_t *e) ERR_MUST_USE;

/* Remove the record `ref`. 0 or -1. */
int store_delete(store_t *s, const char *ref, err_t *e) ERR_MUST_USE;

#endif
