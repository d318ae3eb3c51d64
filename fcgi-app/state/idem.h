/*
 * idem: Idempotency-Key records under <data dir>/idempotency/, one per
 * (caller, key): which request the key was first sent with, the id of what
 * that request makes and, once it answered, the answer.
 *
 *   <name>.json   the record: one line of JSON metadata, then the body of
 *                 the answer (when it is kept)
 *   <name>.lock   flock'ed by the one request served under the key now
 *   usage         the bytes the records take, shared by every process
 *
 * <name> is the SHA-256 (hex) of the caller's scope and the key joined by
 * a NUL byte: neither the key nor who sent it is written down. A request
 * takes the entry's lock without waiting (a second request with the key
 * while the first runs finds it busy), writes an intent naming the id its
 * action will create before it acts, and replaces the intent with its
 * answer after. The kernel drops the lock of a process that dies, so a
 * record whose lock is free and which has no answer is the intent of a
 * request that died: a retry looks for what that id names.
 *
 * A record lives IDEM_TTL_MS from the first request; older ones count as
 * absent and the master's prune removes them. The bytes the records take
 * (in 4 KiB blocks, plus one for the lock file) are bounded, in all and
 * per caller (its share): past either bound a new key is ERR_STORAGE_FULL
 * idempotency_full, and an answer that does not fit, or is larger than
 * IDEM_ANSWER_MAX, is kept as its status, headers and length only. A
 * record names its caller by the first 64 bits of its scope's SHA-256
 * (`caller`), so that a recount gives each share its records; the usage
 * file holds IDEM_CALLERS shares, and callers past them (only when that
 * many distinct callers kept records since the last recount) share one.
 *
 * Calls that can fail return -1 with the err_t filled in (storage kinds
 * naming the path, ERR_CORRUPT for a record that does not parse). Every
 * call is thread-safe; an idem_entry belongs to one thread.
 */
#ifndef MINILAMBDA_IDEM_H
#define MINILAMBDA_IDEM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/err.h"

#define IDEM_KEY_MAX 255
#define IDEM_HASH_HEX 64
#define IDEM_ID_LEN 37
#define IDEM_TTL_MS (24LL * 3600 * 1000)
/* The largest answer body kept for a replay. */
#define IDEM_ANSWER_MAX (1u * 1024 * 1024)
/* The extra header lines of an answer a record keeps. */
#define IDEM_HEADERS_MAX 512
/* The smallest bound a store accepts: a few records. */
#define IDEM_MIN_BYTES (64LL * 1024)
/* The smallest share of one caller: one record. */
#define IDEM_MIN_CALLER_BYTES (8LL * 1024)
/* Callers with a share of their own in the usage file. */
#define IDEM_CALLERS 4096
/* The hex digits that name a caller. */
#define IDEM_CALLER_HEX 16

typedef struct idem idem_t;

/*
 * Open (creating the directory and the usage counters) the records in
 * `data_dir`, bounded at `max_bytes` (at least IDEM_MIN_BYTES) in all and
 * `caller_max_bytes` (at least IDEM_MIN_CALLER_BYTES, at most
 * `max_bytes`) per caller. Returns a handle (idem_close) or NULL with `e`
 * filled in.
 */
idem_t *idem_open(const char *data_dir, long long max_bytes, long long caller_max_bytes,
                  err_t *e) ERR_MUST_USE;

/* Free the handle. NULL is a no-op. */
void idem_close(idem_t *i);

/* Whether `key` is a valid Idempotency-Key: 1 to IDEM_KEY_MAX printable
 * ASCII characters (space to tilde). */
bool idem_valid_key(const char *key);

/* The SHA-256 of the `n` pieces of `parts` joined by one NUL byte each,
 * as lowercase hex into `out` (IDEM_HASH_HEX + 1 bytes). 0, or -1 with `e`
 * (ERR_INTERNAL when the digest fails). */
int idem_hash(const struct iovec *parts, int n, char *out, err_t *e) ERR_MUST_USE;

/* What idem_begin found for a key. */
typedef enum {
    IDEM_NEW,     /* no live record: the entry is held; write the intent, then act */
    IDEM_INTENT,  /* the first request died before it answered: held; `id` names
                   * what it was making */
    IDEM_DONE,    /* answered: `status` and the rest hold the answer (the entry is
                   * held unless the first request still holds it) */
    IDEM_BUSY,    /* another request holds the entry now; nothing is held */
    IDEM_MISMATCH /* the key came with another request; nothing is held */
} idem_state;

/* One key's entry as a request sees it. Fill `name` and `fingerprint`
 * (idem_hash), and `caller` (idem_caller), after idem_entry_init; the rest
 * is the store's. */
typedef struct {
    char name[IDEM_HASH_HEX + 1];        /* the (scope, key) hash */
    char caller[IDEM_CALLER_HEX + 1];    /* whose share it counts in; "": none */
    char fingerprint[IDEM_HASH_HEX + 1]; /* the request's hash */
    int lock_fd;                         /* the entry's lock, or -1 */
    bool on_disk;                        /* a record (maybe expired) is under the name */
    long long charged;                   /* bytes counted for that record */
    char id[IDEM_ID_LEN];                /* what the first request makes */
    long long created_ms;                /* when the key was first seen (Unix ms) */
    /* The answer (IDEM_DONE): */
    int status;                     /* HTTP status; 0 in an intent */
    char headers[IDEM_HEADERS_MAX]; /* its extra header lines */
    char ctype[64];                 /* its Content-Type */
    long long length;               /* its body's length */
    bool kept;                      /* `body` is all of it */
    buf_t body;                     /* owned */
} idem_entry;

/* An empty entry that holds nothing. */
void idem_entry_init(idem_entry *en);

/* Name the caller of `scope` (an API key id, "" without one) in
 * `en->caller`. 0, or -1 with `e` (as idem_hash). */
int idem_caller(const char *scope, idem_entry *en, err_t *e) ERR_MUST_USE;

/*
 * Take the entry `en->name` without waiting and read its record, as of
 * `now_ms` (Unix ms; an older record than IDEM_TTL_MS is absent). Returns
 * an idem_state, or -1 with `e`. A record whose fingerprint differs from
 * `en->fingerprint` is IDEM_MISMATCH. When another request holds the
 * entry, its record is read all the same: a kept answer is IDEM_DONE (not
 * held), else IDEM_BUSY. Call idem_end afterwards in every case.
 */
int idem_begin(idem_t *i, idem_entry *en, long long now_ms, err_t *e) ERR_MUST_USE;

/*
 * Durably record the intent of the request holding `en` (IDEM_NEW): its
 * fingerprint and `id`, first seen at `now_ms`. 0, or -1 with `e`
 * (ERR_STORAGE_FULL idempotency_full past the bound or the caller's share;
 * nothing changes).
 */
int idem_intent(idem_t *i, idem_entry *en, const char *id, long long now_ms, err_t *e) ERR_MUST_USE;

/*
 * Replace the intent of `en` with the answer: `status`, extra header lines
 * `headers` (may be NULL), `ctype` and the first `kept_len` of its
 * `length` body bytes. The body is kept when it is whole, at most
 * IDEM_ANSWER_MAX and within the bound; else only the rest is. 0, or -1
 * with `e` (the intent stays).
 */
int idem_answer(idem_t *i, idem_entry *en, int status, const char *headers, const char *ctype,
                const char *body, size_t kept_len, size_t length, err_t *e) ERR_MUST_USE;

/* Remove the record of `en` (held): its request made nothing, so a retry
 * acts afresh. 0, or -1 with `e`. */
int idem_forget(idem_t *i, idem_entry *en, err_t *e) ERR_MUST_USE;

/* Release what `en` holds (its lock; the lock file too when no record is
 * left under the name) and its memory. */
void idem_end(idem_t *i, idem_entry *en);

/* Remove the records older than IDEM_TTL_MS at `now_ms` whose entry is
 * free, lock files left without a record, and stale temp files. Returns
 * how many records went, or -1 with `e` (the directory could not be
 * read). */
int idem_prune(idem_t *i, long long now_ms, err_t *e) ERR_MUST_USE;

/* Count the bytes of the records on disk afresh (the master, before any
 * worker runs: a process that died between counting and writing leaves
 * the count high until then). 0, or -1 with `e`. */
int idem_recount(idem_t *i, err_t *e) ERR_MUST_USE;

/* The bytes counted now. */
long long idem_usage(const idem_t *i);

/* The bytes counted now in the share of `en->caller` (0 without one). */
long long idem_caller_usage(idem_t *i, const idem_entry *en);

#endif
