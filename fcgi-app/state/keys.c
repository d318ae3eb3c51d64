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
#define KEYS_SEAL_BYTES 32  /* AES-256 */
#define KEYS_NONCE_BYTES 12 /* GCM's */
#define KEYS_TAG_BYTES 16
#define KEYS_SEALED_BYTES (KEYS_NONCE_BYTES + KEYS_AWS_SECRET_LEN + KEYS_TAG_BYTES)
#define KEYS_AAD "minilambda keys.json aws secret v1"

struct keys {
    char path[CONFIG_PATH_MAX + 32];
    char lock[CONFIG_PATH_MAX + 32];
    char bak[CONFIG_PATH_MAX + 32];
    char dir[CONFIG_PATH_MAX + 1];
    char seal_path[CONFIG_PATH_MAX + 32];
    pthread_mutex_t mu;                  /* guards the cache and the sealing key */
    unsigned char seal[KEYS_SEAL_BYTES]; /* the sealing key once read (wiped on close) */
    bool have_seal;
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
    snprintf(k->dir, sizeof(k->dir), "%s", data_dir);
    snprintf(k->seal_path, sizeof(k->seal_path), "%s/" KEYS_SEAL_FILE, data_dir);
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
    OPENSSL_cleanse(k->seal, sizeof(k->seal));
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
    if (out != NULL) {
        json_object_object_del(out, "hash");
        json_object_object_del(out, "aws_secret_sealed");
    }
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
            strcmp(key, "functions") != 0 && strcmp(key, "rate") != 0 && strcmp(key, "aws") != 0)
            return err_set(e, ERR_INVALID, "unknown_field", 0,
                           "unknown field \"%.64s\" (expected name, scopes, functions, rate, aws)",
                           key);
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
    if (json_object_object_get_ex(body, "aws", &v) && !json_object_is_type(v, json_type_boolean))
        return err_set(e, ERR_INVALID, "invalid_aws", 0,
                       "aws must be true (the key gets AWS credentials) or false");
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

/* `len` random bytes into `out`. */
static int keys_random(unsigned char *out, size_t len, err_t *e)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(out + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(e, ERR_INTERNAL, NULL, errno, "getrandom() failed: %s", strerror(errno));
        got += (size_t)n;
    }
    return 0;
}

/* A new secret: KEYS_PREFIX and 32 random bytes in base64url. */
static int keys_secret(char *out, size_t outlen, err_t *e)
{
    unsigned char raw[KEYS_SECRET_BYTES];
    if (keys_random(raw, sizeof(raw), e) != 0)
        return -1;
    int o = snprintf(out, outlen, "%s", KEYS_PREFIX);
    if (o < 0 || (size_t)o >= outlen ||
        b64_url_encode(raw, sizeof(raw), out + o, outlen - (size_t)o) < 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "keys: a secret does not fit %zu bytes", outlen);
    return 0;
}

/* Fresh AWS credentials: an access key id (KEYS_AWS_ID_PREFIX and
 * upper-case letters and digits, drawn without bias) and a secret of 30
 * random bytes in base64url: 40 characters. */
static int keys_aws_credentials(char id[KEYS_AWS_ID_LEN + 1], char secret[KEYS_AWS_SECRET_LEN + 1],
                                err_t *e)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char raw[64];
    size_t p = sizeof(KEYS_AWS_ID_PREFIX) - 1;
    memcpy(id, KEYS_AWS_ID_PREFIX, p);
    while (p < KEYS_AWS_ID_LEN) {
        if (keys_random(raw, sizeof(raw), e) != 0)
            return -1;
        /* 252 is 7 x 36: a byte below it is a uniform digit. */
        for (size_t i = 0; i < sizeof(raw) && p < KEYS_AWS_ID_LEN; i++)
            if (raw[i] < 252)
                id[p++] = alphabet[raw[i] % 36];
    }
    id[KEYS_AWS_ID_LEN] = '\0';
    int rc = keys_random(raw, 30, e);
    if (rc == 0 && b64_url_encode(raw, 30, secret, KEYS_AWS_SECRET_LEN + 1) != KEYS_AWS_SECRET_LEN)
        rc = err_set(e, ERR_INTERNAL, NULL, 0, "keys: an AWS secret does not fit");
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* Make the sealing key file, once: written whole under a name of its own,
 * then linked into place, so no process ever reads half of one, and two
 * that race keep the first. */
static int keys_seal_make(keys_t *k, err_t *e)
{
    unsigned char key[KEYS_SEAL_BYTES];
    char tmp[CONFIG_PATH_MAX + 64];
    int rc = -1, fd = -1;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", k->seal_path, (long)getpid());
    if (keys_random(key, sizeof(key), e) != 0)
        return -1;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err_sys(e, errno, "open", tmp);
        goto done;
    }
    if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0) {
        err_sys(e, errno != 0 ? errno : EIO, "write", tmp);
        goto done;
    }
    if (link(tmp, k->seal_path) != 0 && errno != EEXIST) {
        err_sys(e, errno, "link", k->seal_path);
        goto done;
    }
    rc = files_sync_dir(k->dir, e);
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/* Read the sealing key into k->seal (with `mu` held), making it first when
 * `create` says no sealed secret depends on an older one. */
static int keys_seal_load(keys_t *k, bool create, err_t *e)
{
    if (k->have_seal)
        return 0;
    int fd = open(k->seal_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
        if (keys_seal_make(k, e) != 0)
            return -1;
        fd = open(k->seal_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0 && errno == ENOENT)
        return err_set(e, ERR_CORRUPT, "keys_seal_missing", 0,
                       "%.150s is missing: the AWS secrets in keys.json are sealed under it; put "
                       "it back from where it is kept (keys.json's backups never hold it), or "
                       "revoke the keys with AWS credentials and make new ones",
                       k->seal_path);
    if (fd < 0)
        return err_sys(e, errno, "open", k->seal_path);
    unsigned char extra;
    ssize_t n = read(fd, k->seal, sizeof(k->seal));
    ssize_t more = n == (ssize_t)sizeof(k->seal) ? read(fd, &extra, 1) : 0;
    close(fd);
    if (n != (ssize_t)sizeof(k->seal) || more != 0) {
        OPENSSL_cleanse(k->seal, sizeof(k->seal));
        return err_set(e, ERR_CORRUPT, "keys_seal_invalid", 0,
                       "%.150s is not a sealing key of %d bytes; it is left as it is", k->seal_path,
                       KEYS_SEAL_BYTES);
    }
    k->have_seal = true;
    return 0;
}

/* The associated data of a sealed secret: the key's id and access key id,
 * so a sealed secret moved to another record does not open. */
static int keys_aad(const char *id, const char *akid, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, KEYS_AAD "|%s|%s", id, akid);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* AES-256-GCM of `secret` under the sealing key: nonce, ciphertext, tag
 * in base64url into `out`. Call with the seal loaded. */
static int keys_seal(const keys_t *k, const char *id, const char *akid, const char *secret,
                     char *out, size_t outlen, err_t *e)
{
    unsigned char box[KEYS_SEALED_BYTES];
    char aad[160];
    int len = 0, aad_len = keys_aad(id, akid, aad, sizeof(aad)), rc = -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || aad_len < 0 || keys_random(box, KEYS_NONCE_BYTES, e) != 0)
        goto done;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->seal, box) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, aad_len) != 1 ||
        EVP_EncryptUpdate(ctx, box + KEYS_NONCE_BYTES, &len, (const unsigned char *)secret,
                          KEYS_AWS_SECRET_LEN) != 1 ||
        len != KEYS_AWS_SECRET_LEN ||
        EVP_EncryptFinal_ex(ctx, box + KEYS_NONCE_BYTES + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KEYS_TAG_BYTES,
                            box + KEYS_NONCE_BYTES + KEYS_AWS_SECRET_LEN) != 1 ||
        b64_url_encode(box, sizeof(box), out, outlen) < 0)
        goto done;
    rc = 0;
done:
    if (rc != 0 && e->kind == ERR_NONE)
        err_set(e, ERR_INTERNAL, NULL, 0, "keys: AES-256-GCM sealing failed");
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* Open the sealed secret of record `rec` into `secret`. Call with the seal
 * loaded. */
static int keys_unseal(const keys_t *k, json_object *rec, char secret[KEYS_AWS_SECRET_LEN + 1],
                       err_t *e)
{
    unsigned char box[KEYS_SEALED_BYTES + 4];
    char aad[160];
    int len = 0, rc = -1;
    int aad_len =
        keys_aad(keys_str(rec, "id"), keys_str(rec, "aws_access_key_id"), aad, sizeof(aad));
    long n = b64_url_decode(keys_str(rec, "aws_secret_sealed"), box, sizeof(box));
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx != NULL && aad_len >= 0 && n == KEYS_SEALED_BYTES &&
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->seal, box) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, aad_len) == 1 &&
        EVP_DecryptUpdate(ctx, (unsigned char *)secret, &len, box + KEYS_NONCE_BYTES,
                          KEYS_AWS_SECRET_LEN) == 1 &&
        len == KEYS_AWS_SECRET_LEN &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KEYS_TAG_BYTES,
                            box + KEYS_NONCE_BYTES + KEYS_AWS_SECRET_LEN) == 1 &&
        EVP_DecryptFinal_ex(ctx, (unsigned char *)secret + len, &len) == 1)
        rc = 0;
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0) {
        OPENSSL_cleanse(secret, KEYS_AWS_SECRET_LEN + 1);
        return err_set(e, ERR_CORRUPT, "keys_seal_invalid", 0,
                       "the AWS secret of key %.64s does not open under %.150s (another "
                       "instance's sealing key, or an edited record)",
                       keys_str(rec, "id"), k->seal_path);
    }
    secret[KEYS_AWS_SECRET_LEN] = '\0';
    return 0;
}

/* Whether any record holds a sealed secret. */
static bool keys_any_sealed(json_object *root)
{
    json_object_object_foreach(root, id, rec)
    {
        (void)id;
        if (json_object_object_get_ex(rec, "aws_secret_sealed", NULL))
            return true;
    }
    return false;
}

/* Give record `rec` AWS credentials: its access key id, and its secret
 * sealed and into `secret` (shown once). */
static int keys_add_aws(keys_t *k, json_object *rec, char secret[KEYS_AWS_SECRET_LEN + 1], err_t *e)
{
    char akid[KEYS_AWS_ID_LEN + 1], sealed[B64_LEN(KEYS_SEALED_BYTES) + 1];
    if (keys_aws_credentials(akid, secret, e) != 0)
        return -1;
    pthread_mutex_lock(&k->mu);
    /* A new sealing key only when no sealed secret needs the old one. */
    int rc = keys_refresh(k, e);
    if (rc == 0)
        rc = keys_seal_load(k, !keys_any_sealed(k->root), e);
    if (rc == 0)
        rc = keys_seal(k, keys_str(rec, "id"), akid, secret, sealed, sizeof(sealed), e);
    pthread_mutex_unlock(&k->mu);
    if (rc != 0)
        return -1;
    json_object_object_add(rec, "aws_access_key_id", json_object_new_string(akid));
    json_object_object_add(rec, "aws_secret_sealed", json_object_new_string(sealed));
    return 0;
}

int keys_find_aws(keys_t *k, const char *akid, keys_key *out, char secret[KEYS_AWS_SECRET_LEN + 1],
                  err_t *e)
{
    json_object *hit = NULL;
    memset(out, 0, sizeof(*out));
    secret[0] = '\0';
    pthread_mutex_lock(&k->mu);
    int rc = keys_refresh(k, e);
    if (rc == 0) {
        json_object_object_foreach(k->root, id, rec)
        {
            (void)id;
            if (strcmp(keys_str(rec, "aws_access_key_id"), akid) == 0)
                hit = rec;
        }
        if (hit != NULL)
            rc = keys_seal_load(k, false, e) != 0 || keys_unseal(k, hit, secret, e) != 0 ? -1 : 1;
        if (rc == 1)
            keys_fill(hit, out);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
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
    char secret[KEYS_SECRET_BYTES * 2 + 8], aws[KEYS_AWS_SECRET_LEN + 1] = "";
    json_object *v;
    *out = NULL;
    if (keys_check_body(body, e) != 0 || keys_secret(secret, sizeof(secret), e) != 0)
        return -1;
    json_object *rec = keys_record(body, creator, secret, e);
    if (rec == NULL)
        return -1;
    bool with_aws = json_object_object_get_ex(rec, "aws", &v) && json_object_get_boolean(v);
    json_object_object_del(rec, "aws");
    int rc = with_aws ? keys_add_aws(k, rec, aws, e) : 0;
    if (rc == 0)
        rc = keys_modify(k, rec, NULL, e);
    if (rc == 0) {
        *out = keys_public(rec);
        json_object_object_add(*out, "key", json_object_new_string(secret));
        if (with_aws)
            json_object_object_add(*out, "aws_secret_access_key", json_object_new_string(aws));
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(aws, sizeof(aws));
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
