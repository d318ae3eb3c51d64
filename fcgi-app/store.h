/*
 * store: function records in <data dir>/functions.json, an object keyed by
 * id (the seed format), shared by every process of the pool.
 *
 * Writers serialize on flock(LOCK_EX) of a separate lock file, re-read the
 * file, change it and replace it atomically (temp file, fsync, rename,
 * directory fsync). Readers never lock: they cache the parsed file and
 * re-read it when its inode, size or mtime changes. A store is safe to use
 * from many threads at once.
 */
#ifndef MINILAMBDA_STORE_H
#define MINILAMBDA_STORE_H

#include <json-c/json.h>
#include <stddef.h>

#include "func.h"

typedef struct store store_t;

typedef enum {
    STORE_OK = 0,
    STORE_NOT_FOUND,
    STORE_CONFLICT, /* a function with that name exists */
    STORE_INVALID,  /* the change failed validation; see the func_err */
    STORE_ERROR     /* I/O error or a corrupt file; logged */
} store_rc;

/*
 * Open the store in `data_dir`, creating the directory if needed, and check
 * that functions.json (if present) parses and every record loads. Returns a
 * store the caller frees with store_close, or NULL with the reason in `err`
 * (the file is never modified on failure).
 */
store_t *store_open(const char *data_dir, char *err, size_t errlen);

/* Free the store and its cache. */
void store_close(store_t *s);

/* The records oldest first, as a JSON array serialized to a new string that
 * the caller frees. STORE_OK or STORE_ERROR (`*out` NULL). */
store_rc store_list(store_t *s, char **out);

/* A copy of the record whose id or name is `ref`, owned by the caller
 * (json_object_put). STORE_OK, STORE_NOT_FOUND or STORE_ERROR. */
store_rc store_get(store_t *s, const char *ref, json_object **out);

/* The number of records, or -1 when the file cannot be read. */
long store_count(store_t *s);

/* Validate `body` and add a record with a fresh id. On STORE_OK `*out` is a
 * copy of the new record owned by the caller. STORE_INVALID fills `err`. */
store_rc store_create(store_t *s, json_object *body, json_object **out, func_err *err);

/* Validate `patch` and apply it to the record `ref`. On STORE_OK `*out` is a
 * copy of the changed record owned by the caller. */
store_rc store_update(store_t *s, const char *ref, json_object *patch, json_object **out,
                      func_err *err);

/* Remove the record `ref`. STORE_OK, STORE_NOT_FOUND or STORE_ERROR. */
store_rc store_delete(store_t *s, const char *ref);

#endif
