/*
 * keys: API keys in <data dir>/keys.json, an object keyed by key id. A key
 * is "mlk_" and 32 random bytes (getrandom) in base64url; only its SHA-256
 * is stored, and a presented key is compared with every stored hash in
 * constant time. A key has scopes (admin, deploy, invoke, read, metrics),
 * optionally a list of the functions it is limited to and a rate.
 *
 * A key may also carry AWS credentials (POST /keys with "aws": true): an
 * access key id, shown in listings, and a secret access key, shown once.
 * SigV4 needs the secret itself on the server (an HMAC key, not something
 * a hash can check), so it is kept sealed: AES-256-GCM under a 32-byte
 * sealing key in <data dir>/keys.seal (0600, made once from getrandom),
 * bound to the key's id and access key id. keys.json and its backups alone
 * do not reveal it; the sealing key is read once per process and wiped on
 * close.
 *
 * Writers use files_lock and files_write; readers cache the parsed file and
 * re-read it when it changes (files_stamp), so a revocation takes effect on
 * the next request in every process. Thread-safe.
 */
#ifndef MINILAMBDA_KEYS_H
#define MINILAMBDA_KEYS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "base/err.h"
#include "state/func.h"

#define KEYS_PREFIX "mlk_"
#define KEYS_RATE_MAX 10000
#define KEYS_SEAL_FILE "keys.seal"
#define KEYS_AWS_ID_PREFIX "MLAK"
#define KEYS_AWS_ID_LEN 20
#define KEYS_AWS_SECRET_LEN 40

/* Scopes, as bits. */
enum {
    KEYS_ADMIN = 1,   /* everything, keys included */
    KEYS_DEPLOY = 2,  /* functions, images, reading invocations */
    KEYS_INVOKE = 4,  /* invoking, and reading or cancelling its own runs */
    KEYS_READ = 8,    /* reading functions (env redacted) and invocations */
    KEYS_METRICS = 16 /* GET /metrics */
};

/* A key as a request presented it: what the gate decides on. */
typedef struct {
    char id[40];
    unsigned scopes;
    json_object *functions; /* the names or ids it is limited to (owned), or NULL */
    double rate;            /* requests per second, 0 for no limit */
} keys_key;

typedef struct keys keys_t;

/* Open the key store in `data_dir` (the file need not exist). Returns it
 * (keys_close) or NULL with `e`. */
keys_t *keys_open(const char *data_dir, err_t *e) ERR_MUST_USE;

/* Free the store. */
void keys_close(keys_t *k);

/* Check that keys.json parses (a missing file is no key): 0, or -1 with
 * `e` (ERR_CORRUPT, whose message says how to restore keys.json.bak, which
 * every write keeps of the version it replaces). The file is never
 * modified. */
int keys_verify(keys_t *k, err_t *e) ERR_MUST_USE;

/*
 * Find the key whose secret is `secret`. Returns 1 with `out` filled (free
 * it with keys_key_free), 0 when no key has that secret, or -1 with `e`
 * when the store cannot be read.
 */
int keys_find(keys_t *k, const char *secret, keys_key *out, err_t *e) ERR_MUST_USE;

/*
 * Find the key whose AWS access key id is `akid`, for a SigV4 check.
 * Returns 1 with `out` filled (keys_key_free) and its secret access key in
 * `secret` (the caller's, which it wipes with OPENSSL_cleanse once the
 * signature is checked), 0 when no key has that id, or -1 with `e`: the
 * store cannot be read, or the secret does not open (ERR_CORRUPT,
 * keys_seal_missing when keys.seal is gone, keys_seal_invalid).
 */
int keys_find_aws(keys_t *k, const char *akid, keys_key *out, char secret[KEYS_AWS_SECRET_LEN + 1],
                  err_t *e) ERR_MUST_USE;

/* Release what keys_find put in `key`. */
void keys_key_free(keys_key *key);

/*
 * Validate `body` ({name, scopes, functions?, rate?, aws?}) and add a new
 * key made by key `creator` (NULL: none). On 0, `*out` (caller owns) is the
 * record without its hash, plus "key": the secret, which is never shown
 * again; with "aws": true also "aws_access_key_id" (kept in the record)
 * and "aws_secret_access_key" (shown this once). -1 with `e`: ERR_INVALID and a field code, or a
 * storage error.
 */
int keys_create(keys_t *k, json_object *body, const char *creator, json_object **out,
                err_t *e) ERR_MUST_USE;

/* The keys, oldest first, without hashes (caller owns the array). */
int keys_list(keys_t *k, json_object **out, err_t *e) ERR_MUST_USE;

/* Revoke key `id`. 0, or -1 with `e` (ERR_NOT_FOUND when there is none). */
int keys_delete(keys_t *k, const char *id, err_t *e) ERR_MUST_USE;

/*
 * When the store has no key, create an admin key named "admin" and write
 * its secret to `path` (mode 0600, replacing any older file). Returns 1
 * when it made one, 0 when keys exist, -1 with `e`.
 */
int keys_bootstrap(keys_t *k, const char *path, err_t *e) ERR_MUST_USE;

/* Whether `key` may touch function `f` (its name or id in the key's
 * list, or the key has no list). A NULL key (keys not required) may. */
bool keys_allows_function(const keys_key *key, const func_t *f);

/* Whether `key` may touch a function called `name` (for one not yet
 * registered). */
bool keys_allows_name(const keys_key *key, const char *name);

/* The scope bit named `word`, or 0. */
unsigned keys_scope(const char *word);

/* The name of scope bit `bit` ("admin", ...; static), or NULL when `bit`
 * is not exactly one scope. */
const char *keys_scope_name(unsigned bit);

#endif
