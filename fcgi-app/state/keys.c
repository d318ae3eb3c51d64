#include "state/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/files.h"
#include "base/log.h"

#define KEYS_FILE_MAX (16u * 1024 * 1024)
#define KEYS_SECRET_BYTES 32
#define KEYS_HASH_HEX 64
#define KEYS_NAME_MAX 64
#define KEYS_FUNCTIONS_MAX 1000

struct keys {
    char path[CONFIG_PATH_MAX + 32];
    char lock[CONFIG_PATH_MAX + 32];
    char bak[CONFIG_PATH_MAX + 32];
    pthread_mutex_t mu; /* guards the cache */
    files_stamp stamp;
    json_object *root; /* the parsed file, owned */
};

static const char *const keys_scope_names[] = {"admin", "deploy", "invoke", "read", "metrics"};

#define KEYS_SCOPES (sizeof(keys_scope_names) / sizeof(keys_scope_names[0]))

unsigned keys_scope(const char *word)
{
    for (size_t i = 0; i < KEYS_SCOPES; i++)
        if (strcmp(word, keys_scope_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *keys_scope_name(unsigned bit)
{
    for (size_t i = 0; i < KEYS_SCOPES; i++)
        if (bit == 1u << i)
            return keys_scope_names[i];
    return NULL;
}

keys_t *keys_open(const char *data_dir, err_t *e)
{
    keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    pthread_mutex_init(&k->mu, NULL);
    files_stamp_init(&k->stamp);
    int n = snprintf(k->path, sizeof(k->path), "%s/keys.json", data_dir);
    snprintf(k->lock, sizeof(k->lock), "%s/keys.json.lock", data_dir);
    snprintf(k->bak, sizeof(k->bak), "%s/keys.json.bak", data_dir);
    if (n < 0 || (size_t)n >= sizeof(k->path)) {
        err_set(e, ERR_STORAGE, NULL, ENAMETOOLONG, "data dir path is too long");
        keys_close(k);
        return NULL;
    }
    return k;
}

void keys_close(keys_t *k)
{
    if (k == NULL)
        return;
    json_object_put(k->root);
    files_stamp_drop(&k->stamp);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

/* Parse the file behind `fd` (-1: absent, an empty store). A file that
 * does not parse, an empty one included (a write never makes one), is
 * ERR_CORRUPT and says how to put the last good version back, as the
 * function store does. */
static int keys_parse(int fd, const char *path, json_object **root, err_t *e)
{
    buf_t b;
    int rc = -1;
    buf_init(&b, KEYS_FILE_MAX);
    if (fd >= 0 && files_read_fd(fd, path, &b, e) != 0)
        goto done;
    *root = fd < 0 ? json_object_new_object() : json_tokener_parse(b.data ? b.data : "");
    if (*root == NULL || !json_object_is_type(*root, json_type_object)) {
        json_object_put(*root);
        *root = NULL;
        err_set(e, ERR_CORRUPT, NULL, 0,
                "%.150s is not a JSON object of keys; it is left as it is: the last good version "
                "is %.150s.bak (mv it over the file to restore it)",
                path, path);
        goto done;
    }
    rc = 0;
done:
    buf_free(&b);
    return rc;
}

/* Bring the cache up to date. Call with `mu` held. */
static int keys_refresh(keys_t *k, err_t *e)
{
    files_stamp next;
    json_object *root = NULL;
    int fd;
    int changed = files_stamp_check(&k->stamp, k->path, &fd, &next, e);
    if (changed <= 0)
        return changed;
    if (keys_parse(fd, k->path, &root, e) != 0) {
        files_stamp_drop(&next);
        return -1;
    }
    files_stamp_take(&k->stamp, &next);
    json_object_put(k->root);
    k->root = root;
    return 0;
}

/* SHA-256 of `s` as lowercase hex into `out` (KEYS_HASH_HEX + 1 bytes). */
static int keys_hash(const char *s, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1 || len * 2 != KEYS_HASH_HEX)
        return -1;
    for (unsigned int i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static const char *keys_str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

/* The scope bits of a record's "scopes" array. */
static unsigned keys_scopes_of(json_object *rec)
{
    json_object *arr;
    unsigned bits = 0;
    if (!json_object_object_get_ex(rec, "scopes", &arr) ||
        !json_object_is_type(arr, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        bits |= keys_scope(json_object_get_string(json_object_array_get_idx(arr, i)));
    return bits;
}

/* Fill `out` from the stored record `rec`. */
static void keys_fill(json_object *rec, keys_key *out)
{
    json_object *v;
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", keys_str(rec, "id"));
    out->scopes = keys_scopes_of(rec);
    if (json_object_object_get_ex(rec, "functions", &v) && json_object_is_type(v, json_type_array))
        json_object_deep_copy(v, &out->functions, NULL);
    if (json_object_object_get_ex(rec, "rate", &v) && v != NULL)
        out->rate = json_object_get_double(v);
}

int keys_verify(keys_t *k, err_t *e)
{
    pthread_mutex_lock(&k->mu);
    int rc = keys_refresh(k, e);
    pthread_mutex_unlock(&k->mu);
    return rc;
}

int keys_find(keys_t *k, const char *secret, keys_key *out, err_t *e)
{
    char hash[KEYS_HASH_HEX + 1];
    json_object *hit = NULL;
    memset(out, 0, sizeof(*out));
    if (keys_hash(secret, hash) != 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "EVP_Digest(sha256) failed");
    pthread_mutex_lock(&k->mu);
    int rc = keys_refresh(k, e);
    if (rc == 0) {
        /* Every stored hash is compared, each in constant time: how long
         * this takes says nothing about which key came close. */
        json_object_object_foreach(k->root, id, rec)
        {
            const char *stored = keys_str(rec, "hash");
            (void)id;
            if (strlen(stored) == KEYS_HASH_HEX && CRYPTO_memcmp(stored, hash, KEYS_HASH_HEX) == 0)
                hit = rec;
        }
        if (hit != NULL)
            keys_fill(hit, out);
        rc = hit != NULL;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

void keys_key_free(keys_key *key)
{
    json_object_put(key->functions);
    key->functions = NULL;
}

/* A record as shown to clients: everything but the hash. */
static json_object *keys_public(json_object *rec)
{
    json_object *out = NULL;
    json_object_deep_copy(rec, &out, NULL);
    if (out != NULL)
        json_object_object_del(out, "hash");
    return out;
}

/* A plain string of 1..max bytes without NUL or control bytes. */
static bool keys_plain(json_object *v, size_t max)
{
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (len < 1 || len > max || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return true;
}

static int keys_check_scopes(json_object *v, err_t *e)
{
    unsigned seen = 0;
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        unsigned bit =
            json_object_is_type(s, json_type_string) ? keys_scope(json_object_get_string(s)) : 0;
        if (bit == 0 || (seen & bit) ||
            strlen(json_object_get_string(s)) != (size_t)json_object_get_string_len(s))
            return err_set(e, ERR_INVALID, "invalid_scopes", 0,
                           "scopes must be a non-empty array of distinct words from admin, "
                           "deploy, invoke, read, metrics");
        seen |= bit;
    }
    if (n == 0)
        return err_set(e, ERR_INVALID, "invalid_scopes", 0,
                       "scopes must be a non-empty array of distinct words from admin, deploy, "
                       "invoke, read, metrics");
    return 0;
}

/* Check a POST /keys body. */
static int keys_check_body(json_object *body, err_t *e)
{
    json_object *v;
    if (!json_object_is_type(body, json_type_object))
        return err_set(e, ERR_INVALID, "invalid_body", 0, "the body must be a JSON object");
    json_object_object_foreach(body, key, val)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "scopes") != 0 &&
            strcmp(key, "functions") != 0 && strcmp(key, "rate") != 0)
            return err_set(e, ERR_INVALID, "unknown_field", 0,
                           "unknown field \"%.64s\" (expected name, scopes, functions, rate)", key);
        (void)val;
    }
    if (!json_object_object_get_ex(body, "name", &v) || !keys_plain(v, KEYS_NAME_MAX))
        return err_set(e, ERR_INVALID, "invalid_name", 0,
                       "name must be a string of 1 to %d printable characters", KEYS_NAME_MAX);
    if (!json_object_object_get_ex(body, "scopes", &v))
        v = NULL;
    if (keys_check_scopes(v, e) != 0)
        return -1;
    if (json_object_object_get_ex(body, "functions", &v)) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        bool ok = json_object_is_type(v, json_type_array) && n <= KEYS_FUNCTIONS_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = keys_plain(json_object_array_get_idx(v, i), 64);
        if (!ok)
            return err_set(e, ERR_INVALID, "invalid_functions", 0,
                           "functions must be an array of at most %d function names or ids",
                           KEYS_FUNCTIONS_MAX);
    }
    if (json_object_object_get_ex(body, "rate", &v)) {
        double r = json_object_get_double(v);
        bool num =
            json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        if (!num || !(r > 0) || r > KEYS_RATE_MAX)
            return err_set(e, ERR_INVALID, "invalid_rate", 0,
                           "rate must be a number of requests per second, above 0 and at most %d",
                           KEYS_RATE_MAX);
    }
    return 0;
}

/* A new secret: KEYS_PREFIX and 32 random bytes in base64url. */
static int keys_secret(char *out, size_t outlen, err_t *e)
{
    unsigned char raw[KEYS_SECRET_BYTES];
    size_t got = 0;
    while (got < KEYS_SECRET_BYTES) {
        ssize_t n = getrandom(raw + got, KEYS_SECRET_BYTES - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "getrandom() failed: %s", strerror(errno));
        got += (size_t)n;
    }
    int o = snprintf(out, outlen, "%s", KEYS_PREFIX);
    if (o < 0 || (size_t)o >= outlen ||
        b64_url_encode(raw, sizeof(raw), out + o, outlen - (size_t)o) < 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "keys: a secret does not fit %zu bytes", outlen);
    return 0;
}

/* Build the stored record for `body` and its secret. */
static json_object *keys_record(json_object *body, const char *creator, const char *secret,
                                err_t *e)
{
    char id[37], hash[KEYS_HASH_HEX + 1], now[CLOCK_RFC3339_LEN], prefix[16];
    uuid_t u;
    json_object *rec = NULL, *v;
    if (keys_hash(secret, hash) != 0) {
        err_set(e, ERR_INTERNAL, NULL, 0, "EVP_Digest(sha256) failed");
        return NULL;
    }
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    clock_now(now, sizeof(now));
    snprintf(prefix, sizeof(prefix), "%.12s", secret);
    if (json_object_deep_copy(body, &rec, NULL) != 0) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory copying the key");
        return NULL;
    }
    json_object_object_add(rec, "id", json_object_new_string(id));
    json_object_object_add(rec, "prefix", json_object_new_string(prefix));
    json_object_object_add(rec, "hash", json_object_new_string(hash));
    if (!json_object_object_get_ex(rec, "rate", &v))
        json_object_object_add(rec, "rate", NULL);
    json_object_object_add(rec, "created_at", json_object_new_string(now));
    json_object_object_add(rec, "created_by", creator ? json_object_new_string(creator) : NULL);
    return rec;
}

/* Lock, re-read, apply `add` (when not NULL) or delete `id`, write. */
static int keys_modify(keys_t *k, json_object *add, const char *id, err_t *e)
{
    json_object *root = NULL;
    int rc = -1, fd = -1;
    int lfd = files_lock(k->lock, e);
    if (lfd < 0)
        return -1;
    fd = open(k->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        err_sys(e, errno, "open", k->path);
        goto done;
    }
    if (keys_parse(fd, k->path, &root, e) != 0)
        goto done;
    if (add != NULL) {
        json_object_object_add(root, keys_str(add, "id"), json_object_get(add));
    } else if (!json_object_object_get_ex(root, id, NULL)) {
        err_set(e, ERR_NOT_FOUND, NULL, 0, "key \"%.64s\" not found", id);
        goto done;
    } else {
        json_object_object_del(root, id);
    }
    size_t len;
    const char *text = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    /* The version replaced stays as keys.json.bak (a link: mode 0600 too). */
    err_t why;
    if (files_keep(k->path, k->bak, &why) != 0)
        log_warn("the key store's backup was not kept: %s", why.msg);
    rc = files_write(k->path, text, len, FILES_SYNC_DIR, e);
done:
    if (fd >= 0)
        close(fd);
    json_object_put(root);
    files_unlock(lfd);
    return rc;
}

int keys_create(keys_t *k, json_object *body, const char *creator, json_object **out, err_t *e)
{
    char secret[KEYS_SECRET_BYTES * 2 + 8];
    *out = NULL;
    if (keys_check_body(body, e) != 0 || keys_secret(secret, sizeof(secret), e) != 0)
        return -1;
    json_object *rec = keys_record(body, creator, secret, e);
    if (rec == NULL)
        return -1;
    int rc = keys_modify(k, rec, NULL, e);
    if (rc == 0) {
        *out = keys_public(rec);
        json_object_object_add(*out, "key", json_object_new_string(secret));
    }
    json_object_put(rec);
    return rc;
}

static int keys_cmp_created(const void *a, const void *b)
{
    json_object *const *x = a, *const *y = b;
    return strcmp(keys_str(*x, "created_at"), keys_str(*y, "created_at"));
}

int keys_list(keys_t *k, json_object **out, err_t *e)
{
    *out = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = keys_refresh(k, e);
    if (rc == 0) {
        *out = json_object_new_array();
        json_object_object_foreach(k->root, id, rec)
        {
            (void)id;
            json_object_array_add(*out, keys_public(rec));
        }
        json_object_array_sort(*out, keys_cmp_created);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

int keys_delete(keys_t *k, const char *id, err_t *e)
{
    return keys_modify(k, NULL, id, e);
}

int keys_bootstrap(keys_t *k, const char *path, err_t *e)
{
    json_object *body = NULL, *made = NULL, *list = NULL;
    int rc = -1;
    if (keys_list(k, &list, e) != 0)
        return -1;
    size_t n = json_object_array_length(list);
    json_object_put(list);
    if (n > 0)
        return 0;
    body = json_tokener_parse("{\"name\":\"admin\",\"scopes\":[\"admin\"]}");
    if (keys_create(k, body, NULL, &made, e) != 0)
        goto done;
    const char *secret = keys_str(made, "key");
    struct iovec iov[2] = {{.iov_base = (void *)secret, .iov_len = strlen(secret)},
                           {.iov_base = "\n", .iov_len = 1}};
    if (files_writev(path, iov, 2, FILES_SYNC_DIR, e) == 0)
        rc = 1;
done:
    json_object_put(made);
    json_object_put(body);
    return rc;
}

bool keys_allows_name(const keys_key *key, const char *name)
{
    if (key == NULL || key->functions == NULL)
        return true;
    for (size_t i = 0; i < json_object_array_length(key->functions); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(key->functions, i)), name) == 0)
            return true;
    return false;
}

bool keys_allows_function(const keys_key *key, const func_t *f)
{
    return keys_allows_name(key, f->name) || keys_allows_name(key, f->id);
}
