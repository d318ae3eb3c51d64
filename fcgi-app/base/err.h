/*
 * err: the one error value. A call that fails fills an err_t and returns -1;
 * the value travels up unchanged and one table (err_status, err_code) turns
 * it into the HTTP status and the JSON body's "code". The message is written
 * where the failure is understood, names the failing call and the path or
 * object it was about, and is safe to show to a client.
 *
 * The rule, for every module:
 *
 *  1. Outside base/ and parse/, a public function that can fail takes
 *     `err_t *e` last and fails with -1 (or NULL) and `e` filled in; on
 *     success it returns 0, a count, or 1/0 for yes/no. base/ and parse/,
 *     below every layer that knows what a failure was about, may return -1
 *     with errno, or a result code of their own (buf_rc); so may the
 *     byte-level helpers above them that only move bytes (the engine's
 *     streams and demultiplexer, http_query, metrics_render into a bounded
 *     buf_t). A process's main (pool_run, keeper_run, ...) returns its exit
 *     status.
 *  2. Two carriers are not errors and stay apart from err_t: a run's
 *     outcome (runtime_result, filled by runtime_fail: a function that
 *     fails is a result to record, not a failed call) and the engine
 *     client's docker_rc/docker_result, which docker_err turns into an
 *     err_t in the first caller that fails because of it.
 *  3. A miss is not an error: a function whose failure the caller answers
 *     by falling back, and never tells apart (lease_take: start cold;
 *     images_present: cannot tell; slots_acquire: at the limit), returns
 *     its "no" and says so on its prototype.
 *  4. No result is discarded: each is handled, passed up (err_prefix adds
 *     what it was about), or logged with its message where the caller
 *     gives up on it. Every prototype of rule 1 above base/ and parse/
 *     carries ERR_MUST_USE, so a dropped result does not compile; the
 *     setters that only fill `e` and return -1 (docker_err) do not.
 */
#ifndef MINILAMBDA_ERR_H
#define MINILAMBDA_ERR_H

#include <stddef.h>

typedef enum {
    ERR_NONE = 0,
    ERR_INVALID,            /* 400: the request is wrong; `code` says how */
    ERR_UNAUTHORIZED,       /* 401 unauthorized: no key, or one we do not know */
    ERR_FORBIDDEN,          /* 403 forbidden: the key may not do this */
    ERR_NOT_FOUND,          /* 404 not_found */
    ERR_METHOD,             /* 405 method_not_allowed */
    ERR_SLOW,               /* 408 request_timeout: the client sends too slowly */
    ERR_CONFLICT,           /* 409: `code` says which (name_conflict, ...) */
    ERR_TOO_LARGE,          /* 413 payload_too_large */
    ERR_UNSUPPORTED,        /* 415 unsupported_media_type */
    ERR_UNPROCESSABLE,      /* 422: at odds with what it repeats; `code` says how */
    ERR_LIMIT,              /* 429: a limit holds; `code` says which, retry later */
    ERR_STORAGE_FULL,       /* 507 storage_full: ENOSPC or EDQUOT */
    ERR_STORAGE,            /* 500 storage_error: any other I/O failure */
    ERR_CORRUPT,            /* 503 store_corrupt: a file we wrote does not parse */
    ERR_BUSY,               /* 503 store_busy: a store's lock is held past the wait */
    ERR_NOMEM,              /* 503 out_of_memory */
    ERR_ENGINE_UNREACHABLE, /* 503 engine_unreachable */
    ERR_ENGINE_TIMEOUT,     /* 504 engine_timeout */
    ERR_ENGINE,             /* 502 engine_error */
    ERR_INTERNAL,           /* 500 internal */
    ERR_UNIMPLEMENTED,      /* 501 not_implemented: an operation we do not offer */
    ERR__COUNT
} err_kind;

typedef struct {
    err_kind kind;
    const char *code; /* static stable word; NULL means the kind's own */
    int sys;          /* errno of the failing call, 0 when none */
    char msg[400];
} err_t;

/* On a fallible function's prototype: a caller that drops its result
 * does not compile (rule 4). */
#define ERR_MUST_USE __attribute__((warn_unused_result))

/* A cleared value (kind ERR_NONE). */
void err_clear(err_t *e);

/*
 * Fill `e` with `kind`, `code` (static, or NULL for the kind's word), the
 * errno `sys` (0 for none) and a formatted message, cut to fit. Returns -1,
 * so a failing function can end with `return err_set(...)`.
 */
int err_set(err_t *e, err_kind kind, const char *code, int sys, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Fill `e` from the errno `sys` of the system call `call` on `path`: a full
 * disk (ENOSPC, EDQUOT) is ERR_STORAGE_FULL, ENOMEM is ERR_NOMEM, anything
 * else ERR_STORAGE. The message reads "call(path) failed: strerror". Returns
 * -1.
 */
int err_sys(err_t *e, int sys, const char *call, const char *path);

/* Put `fmt` and a colon in front of the message, e.g. to name the record a
 * low-level failure was about. Returns -1. */
int err_prefix(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The HTTP status for `e` (500 for ERR_NONE, which is a caller's bug). */
int err_status(const err_t *e);

/* The stable word for `e`: its own code, else its kind's. */
const char *err_code(const err_t *e);

#endif
