#include "state/idem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/config.h"
#include "base/files.h"
#include "base/log.h"

/* The metadata line of a record. */
#define IDEM_META_MAX 4096
/* Disk is spent in blocks: a record costs its blocks plus one for its lock
 * file's inode and the directory entries. A block is the file system's
 * allocation unit (what st_blocks counts), at least this. */
#define IDEM_BLOCK 4096LL
#define IDEM_PATH (CONFIG_PATH_MAX + 128)
/* A temp file this old belongs to a write that died. */
#define IDEM_TMP_STALE_MS (3600LL * 1000)

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the usage counter is shared across processes");
/* Every path is the checked directory, a name and a suffix: it fits. */
_Static_assert(IDEM_PATH >= CONFIG_PATH_MAX + 16 + 1 + IDEM_HASH_HEX + sizeof(".json.tmp"),
               "room for <dir>/<name>.json.tmp");

/* One caller's share: claimed by a compare-and-swap of its tag, never
 * freed until a recount. */
typedef struct {
    _Atomic uint64_t tag; /* the caller's 64 bits; 0: free */
    _Atomic long long bytes;
} idem_share;

/* The counters every process maps from the `usage` file. */
typedef struct {
    _Atomic long long bytes;
    idem_share overflow; /* the callers past IDEM_CALLERS, together */
    idem_share share[IDEM_CALLERS];
} idem_usage_t;

struct idem {
    char dir[CONFIG_PATH_MAX + 16];
    long long max_bytes;
    long long caller_max_bytes;
    long long block;     /* the data dir's allocation unit: IDEM_BLOCK or more */
    idem_usage_t *usage; /* mapped shared */
};

static const int idem_json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/* The bytes a record of `size` bytes is counted for: the blocks it takes
 * on disk, known before it is written. */
static long long idem_cost(const idem_t *i, long long size)
{
    return (size + i->block - 1) / i->block * i->block + i->block;
}

/* Map the usage counter of `dir`. 0, or -1 with `e`. */
static int idem_map_usage(idem_t *i, err_t *e)
{
    char path[IDEM_PATH];
    void *p = MAP_FAILED;
    snprintf(path, sizeof(path), "%s/usage", i->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_sys(e, errno, "open", path);
    /* Its block is allocated now, so that a store into the mapping can
     * never meet a full disk (which would be SIGBUS). */
    int rc = posix_fallocate(fd, 0, (off_t)sizeof(idem_usage_t));
    if (rc != 0)
        err_sys(e, rc, "posix_fallocate", path);
    else if ((p = mmap(NULL, sizeof(idem_usage_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
             MAP_FAILED)
        rc = err_sys(e, errno, "mmap", path);
    close(fd);
    if (rc != 0)
        return -1;
    i->usage = p;
    return 0;
}

idem_t *idem_open(const char *data_dir, long long max_bytes, long long caller_max_bytes, err_t *e)
{
    idem_t *i = calloc(1, sizeof(*i));
    if (i == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    int n = snprintf(i->dir, sizeof(i->dir), "%s/idempotency", data_dir);
    i->max_bytes = max_bytes < IDEM_MIN_BYTES ? IDEM_MIN_BYTES : max_bytes;
    i->caller_max_bytes = caller_max_bytes < IDEM_MIN_CALLER_BYTES ? IDEM_MIN_CALLER_BYTES
                          : caller_max_bytes > i->max_bytes        ? i->max_bytes
                                                                   : caller_max_bytes;
    if (n < 0 || (size_t)n >= sizeof(i->dir)) {
        err_set(e, ERR_STORAGE, NULL, ENAMETOOLONG, "data dir path is too long");
        goto fail;
    }
    if (files_mkdir(data_dir, e) != 0 || files_mkdir(i->dir, e) != 0 || idem_map_usage(i, e) != 0)
        goto fail;
    struct statvfs fs;
    i->block = statvfs(i->dir, &fs) == 0 && (long long)fs.f_frsize > IDEM_BLOCK
                   ? (long long)fs.f_frsize
                   : IDEM_BLOCK;
    return i;
fail:
    idem_close(i);
    return NULL;
}

void idem_close(idem_t *i)
{
    if (i == NULL)
        return;
    if (i->usage != NULL)
        munmap(i->usage, sizeof(idem_usage_t));
    free(i);
}

long long idem_usage(const idem_t *i)
{
    return atomic_load(&i->usage->bytes);
}

/* The share of caller `hex` (IDEM_CALLER_HEX digits), claimed when it has
 * none; NULL for no caller (a record written before shares, or a bad
 * name), which counts in the total only. */
static _Atomic long long *idem_share_of(idem_t *i, const char *hex)
{
    char *end;
    if (strlen(hex) != IDEM_CALLER_HEX || strspn(hex, "0123456789abcdef") != IDEM_CALLER_HEX)
        return NULL;
    uint64_t tag = strtoull(hex, &end, 16);
    if (*end != '\0')
        return NULL;
    tag = tag != 0 ? tag : 1; /* 0 marks a free share */
    for (size_t p = 0; p < IDEM_CALLERS; p++) {
        idem_share *sh = &i->usage->share[(tag + p) % IDEM_CALLERS];
        uint64_t cur = atomic_load(&sh->tag);
        if (cur == 0 && atomic_compare_exchange_strong(&sh->tag, &cur, tag))
            return &sh->bytes;
        if (cur == tag)
            return &sh->bytes;
    }
    return &i->usage->overflow.bytes;
}

long long idem_caller_usage(idem_t *i, const idem_entry *en)
{
    _Atomic long long *mine = idem_share_of(i, en->caller);
    return mine != NULL ? atomic_load(mine) : 0;
}

/* Count `delta` bytes more (fewer when negative) for `en`, in the total
 * and in its caller's share. Growth past either bound is refused: -1 with
 * `e` and nothing counted. */
static int idem_reserve(idem_t *i, const idem_entry *en, long long delta, err_t *e)
{
    _Atomic long long *mine = idem_share_of(i, en->caller);
    long long now = atomic_fetch_add(&i->usage->bytes, delta) + delta;
    long long own = mine != NULL ? atomic_fetch_add(mine, delta) + delta : 0;
    if (delta <= 0 || (now <= i->max_bytes && own <= i->caller_max_bytes))
        return 0;
    atomic_fetch_sub(&i->usage->bytes, delta);
    if (mine != NULL)
        atomic_fetch_sub(mine, delta);
    if (own > i->caller_max_bytes)
        return err_set(e, ERR_STORAGE_FULL, "idempotency_full", 0,
                       "this API key's Idempotency-Key records take its share of %lld bytes "
                       "(MINILAMBDA_IDEMPOTENCY_KEY_MAX_BYTES); retry without the header, or "
                       "once its older keys expire",
                       i->caller_max_bytes);
    return err_set(e, ERR_STORAGE_FULL, "idempotency_full", 0,
                   "the Idempotency-Key records take their limit of %lld bytes "
                   "(MINILAMBDA_IDEMPOTENCY_MAX_BYTES); retry without the header, or once older "
                   "keys expire",
                   i->max_bytes);
}

bool idem_valid_key(const char *key)
{
    size_t n = 0;
    for (; key[n] != '\0'; n++)
        if ((unsigned char)key[n] < 0x20 || (unsigned char)key[n] > 0x7e || n >= IDEM_KEY_MAX)
            return false;
    return n > 0;
}

int idem_hash(const struct iovec *parts, int n, char *out, err_t *e)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        ok = 1;
        for (int k = 0; k < n && ok; k++)
            ok = (k == 0 || EVP_DigestUpdate(ctx, "", 1) == 1) &&
                 EVP_DigestUpdate(ctx, parts[k].iov_base, parts[k].iov_len) == 1;
        ok = ok && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len * 2 == IDEM_HASH_HEX;
    }
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return err_set(e, ERR_INTERNAL, NULL, 0, "EVP_Digest(sha256) failed");
    for (unsigned int k = 0; k < len; k++) {
        out[2 * k] = hex[md[k] >> 4];
        out[2 * k + 1] = hex[md[k] & 15];
    }
    out[IDEM_HASH_HEX] = '\0';
    return 0;
}

int idem_caller(const char *scope, idem_entry *en, err_t *e)
{
    char full[IDEM_HASH_HEX + 1];
    struct iovec part = {.iov_base = (void *)scope, .iov_len = strlen(scope)};
    if (idem_hash(&part, 1, full, e) != 0)
        return -1;
    memcpy(en->caller, full, IDEM_CALLER_HEX);
    en->caller[IDEM_CALLER_HEX] = '\0';
    return 0;
}

void idem_entry_init(idem_entry *en)
{
    memset(en, 0, sizeof(*en));
    en->lock_fd = -1;
    buf_init(&en->body, IDEM_ANSWER_MAX);
}

/* <dir>/<name><ext> into `out`. */
static void idem_path(const idem_t *i, const char *name, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/%.*s%s", i->dir, IDEM_HASH_HEX, name, ext);
}

/*
 * Take the flock of lock file `path` without waiting. 1 held (`*fd`), 0
 * held by another request, -1 with `e`. A lock file is removed (by the
 * holder) once no record needs it, so the one locked must still be the
 * one under the name; otherwise lock the new one.
 */
static int idem_trylock(const char *path, int *fd, err_t *e)
{
    for (;;) {
        struct stat held, named;
        int f = -1, got = files_trylock(path, &f, e);
        if (got <= 0)
            return got;
        if (fstat(f, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            *fd = f;
            return 1;
        }
        close(f);
    }
}

/* A string member of `meta` into `out`; -1 when absent or too long. */
static int idem_meta_str(json_object *meta, const char *key, char *out, size_t outlen)
{
    json_object *v;
    if (!json_object_object_get_ex(meta, key, &v) || !json_object_is_type(v, json_type_string))
        return -1;
    int n = snprintf(out, outlen, "%s", json_object_get_string(v));
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* An integer member of `meta`; -1 when absent. */
static int idem_meta_int(json_object *meta, const char *key, long long *out)
{
    json_object *v;
    if (!json_object_object_get_ex(meta, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

/* The metadata line that starts `b`, parsed; NULL when there is none. */
static json_object *idem_meta_line(const buf_t *b, size_t *body_off)
{
    const char *nl = b->data ? memchr(b->data, '\n', b->len) : NULL;
    json_object *meta = NULL;
    if (nl == NULL || nl - b->data >= IDEM_META_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    meta = json_tokener_parse_ex(tok, b->data, (int)(nl - b->data));
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != (size_t)(nl - b->data) ||
        !json_object_is_type(meta, json_type_object)) {
        json_object_put(meta);
        meta = NULL;
    }
    json_tokener_free(tok);
    *body_off = (size_t)(nl - b->data) + 1;
    return meta;
}

/* Fill `en` from the record text `b` (read from `path`): the metadata
 * line, then the body; the record's fingerprint goes to `fp`. */
static int idem_parse(const char *path, const buf_t *b, idem_entry *en, char *fp, err_t *e)
{
    json_object *kept = NULL;
    long long status = 0;
    size_t off = 0;
    int rc = -1;
    json_object *meta = idem_meta_line(b, &off);

    if (meta == NULL || idem_meta_str(meta, "fingerprint", fp, IDEM_HASH_HEX + 1) != 0 ||
        idem_meta_str(meta, "id", en->id, sizeof(en->id)) != 0 ||
        strlen(en->id) != IDEM_ID_LEN - 1 ||
        strspn(en->id, "0123456789abcdef-") != IDEM_ID_LEN - 1 ||
        idem_meta_int(meta, "created_ms", &en->created_ms) != 0 ||
        idem_meta_int(meta, "status", &status) != 0 || status < 0 || status > 999 ||
        (status != 0 && (idem_meta_str(meta, "headers", en->headers, sizeof(en->headers)) != 0 ||
                         idem_meta_str(meta, "ctype", en->ctype, sizeof(en->ctype)) != 0 ||
                         idem_meta_int(meta, "length", &en->length) != 0 ||
                         !json_object_object_get_ex(meta, "kept", &kept)))) {
        err_set(e, ERR_CORRUPT, NULL, 0, "%s is not an idempotency record", path);
        goto done;
    }
    /* Records older than the shares name no caller: theirs stays as set. */
    if (json_object_object_get_ex(meta, "caller", NULL) &&
        idem_meta_str(meta, "caller", en->caller, sizeof(en->caller)) != 0) {
        err_set(e, ERR_CORRUPT, NULL, 0, "%s is not an idempotency record", path);
        goto done;
    }
    en->status = (int)status;
    en->kept = status != 0 && json_object_get_boolean(kept);
    if (status == 0)
        en->length = 0;
    if (en->kept && (long long)(b->len - off) != en->length) {
        err_set(e, ERR_CORRUPT, NULL, 0, "%s: the answer is cut short", path);
        goto done;
    }
    buf_reset(&en->body);
    if (en->kept && buf_append(&en->body, b->data + off, b->len - off) != BUF_OK) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory reading %s", path);
        goto done;
    }
    rc = 0;
done:
    json_object_put(meta);
    return rc;
}

/*
 * Read the record of `en->name` into `en` (the record's fingerprint into
 * `fp`). 1 read (`*size` is its size), 0 absent, -1 with `e`.
 */
static int idem_load(const idem_t *i, idem_entry *en, char *fp, long long *size, err_t *e)
{
    char path[IDEM_PATH];
    buf_t b;
    int rc = -1;
    idem_path(i, en->name, ".json", path, sizeof(path));
    buf_init(&b, IDEM_META_MAX + IDEM_ANSWER_MAX);
    if (files_read(path, &b, e) != 0)
        rc = e->kind == ERR_NOT_FOUND ? 0 : -1;
    else if (idem_parse(path, &b, en, fp, e) == 0)
        rc = 1;
    *size = (long long)b.len;
    buf_free(&b);
    return rc;
}

int idem_begin(idem_t *i, idem_entry *en, long long now_ms, err_t *e)
{
    char lock[IDEM_PATH], fp[IDEM_HASH_HEX + 1] = "";
    long long size = 0;

    idem_path(i, en->name, ".lock", lock, sizeof(lock));
    int held = idem_trylock(lock, &en->lock_fd, e);
    if (held < 0)
        return -1;
    int got = idem_load(i, en, fp, &size, e);
    /* A record we cannot read keeps its lock file all the same. */
    en->on_disk = got != 0;
    if (got < 0)
        return -1;
    en->charged = got == 1 ? idem_cost(i, size) : 0;
    bool live = got == 1 && en->created_ms + IDEM_TTL_MS > now_ms;
    if (live && strcmp(fp, en->fingerprint) != 0) {
        if (en->lock_fd >= 0)
            close(en->lock_fd);
        en->lock_fd = -1;
        return IDEM_MISMATCH;
    }
    if (!held)
        return live && en->status != 0 && en->kept ? IDEM_DONE : IDEM_BUSY;
    if (!live)
        return IDEM_NEW;
    return en->status == 0 ? IDEM_INTENT : IDEM_DONE;
}

/* The metadata line of `en` (with its answer when `status` is not 0). */
static json_object *idem_meta(const idem_entry *en, int status, const char *headers,
                              const char *ctype, size_t length, bool kept)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "fingerprint", json_object_new_string(en->fingerprint));
    json_object_object_add(m, "id", json_object_new_string(en->id));
    json_object_object_add(m, "created_ms", json_object_new_int64(en->created_ms));
    if (en->caller[0] != '\0')
        json_object_object_add(m, "caller", json_object_new_string(en->caller));
    json_object_object_add(m, "status", json_object_new_int(status));
    if (status != 0) {
        json_object_object_add(m, "headers", json_object_new_string(headers));
        json_object_object_add(m, "ctype", json_object_new_string(ctype));
        json_object_object_add(m, "length", json_object_new_int64((int64_t)length));
        json_object_object_add(m, "kept", json_object_new_boolean(kept));
    }
    return m;
}

/* Replace the record of `en` with `meta` and `body` (`len` bytes), counted
 * against the bound. */
static int idem_store(idem_t *i, idem_entry *en, json_object *meta, const char *body, size_t len,
                      err_t *e)
{
    char path[IDEM_PATH];
    size_t mlen;
    const char *text = json_object_to_json_string_length(meta, idem_json_flags, &mlen);
    long long cost = idem_cost(i, (long long)(mlen + 1 + len));
    if (idem_reserve(i, en, cost - en->charged, e) != 0)
        return -1;
    struct iovec iov[3] = {{.iov_base = (void *)text, .iov_len = mlen},
                           {.iov_base = "\n", .iov_len = 1},
                           {.iov_base = (void *)body, .iov_len = len}};
    idem_path(i, en->name, ".json", path, sizeof(path));
    /* Durable before the request acts (an intent) or lets go of the key
     * (an answer): a crash must find what was decided. Private: an answer
     * is meant for the one caller. */
    if (files_writev(path, iov, len > 0 ? 3 : 2, FILES_SYNC_DIR, e) != 0) {
        idem_reserve(i, en, en->charged - cost, e);
        return -1;
    }
    en->charged = cost;
    en->on_disk = true;
    return 0;
}

int idem_intent(idem_t *i, idem_entry *en, const char *id, long long now_ms, err_t *e)
{
    int n = snprintf(en->id, sizeof(en->id), "%s", id);
    if (n != IDEM_ID_LEN - 1)
        return err_set(e, ERR_INTERNAL, NULL, 0, "\"%.64s\" is not an id", id);
    en->created_ms = now_ms;
    en->status = 0;
    json_object *meta = idem_meta(en, 0, NULL, NULL, 0, false);
    int rc = idem_store(i, en, meta, NULL, 0, e);
    json_object_put(meta);
    return rc;
}

int idem_answer(idem_t *i, idem_entry *en, int status, const char *headers, const char *ctype,
                const char *body, size_t kept_len, size_t length, err_t *e)
{
    bool keep = kept_len == length && length <= IDEM_ANSWER_MAX;
    headers = headers ? headers : "";
    if (strlen(headers) >= IDEM_HEADERS_MAX || strlen(ctype) >= sizeof(en->ctype))
        return err_set(e, ERR_INTERNAL, NULL, 0, "the answer's headers are too long to keep");
    json_object *meta = idem_meta(en, status, headers, ctype, length, keep);
    int rc = idem_store(i, en, meta, keep ? body : NULL, keep ? length : 0, e);
    json_object_put(meta);
    if (rc != 0 && keep && e->kind == ERR_STORAGE_FULL) {
        /* No room for the body: the outcome alone fits in the intent's
         * blocks. */
        meta = idem_meta(en, status, headers, ctype, length, false);
        rc = idem_store(i, en, meta, NULL, 0, e);
        json_object_put(meta);
    }
    return rc;
}

int idem_forget(idem_t *i, idem_entry *en, err_t *e)
{
    char path[IDEM_PATH];
    idem_path(i, en->name, ".json", path, sizeof(path));
    if (en->on_disk && unlink(path) != 0 && errno != ENOENT)
        return err_sys(e, errno, "unlink", path);
    idem_reserve(i, en, -en->charged, e);
    en->charged = 0;
    en->on_disk = false;
    /* A forgotten intent that came back after a crash would turn a retry
     * away as interrupted. */
    return files_sync_dir(i->dir, e);
}

void idem_end(idem_t *i, idem_entry *en)
{
    char lock[IDEM_PATH];
    if (en->lock_fd >= 0) {
        /* Unlinked while still held: whoever opened it meanwhile sees it is
         * no longer the one under the name. */
        idem_path(i, en->name, ".lock", lock, sizeof(lock));
        if (!en->on_disk)
            unlink(lock);
        close(en->lock_fd);
        en->lock_fd = -1;
    }
    buf_free(&en->body);
}

/* Whether `file` is <64 hex><ext>; its name into `name` when it is. */
static bool idem_file_is(const char *file, const char *ext, char *name)
{
    size_t n = strlen(file);
    if (n != IDEM_HASH_HEX + strlen(ext) || strcmp(file + IDEM_HASH_HEX, ext) != 0 ||
        strspn(file, "0123456789abcdef") != IDEM_HASH_HEX)
        return false;
    memcpy(name, file, IDEM_HASH_HEX);
    name[IDEM_HASH_HEX] = '\0';
    return true;
}

/* Remove the record `name` when it expired at `now_ms` and its entry is
 * free, or its lock file when it has no record. 1 when a record went. */
static int idem_prune_one(idem_t *i, const char *name, long long now_ms)
{
    idem_entry en;
    err_t e;
    char fp[IDEM_HASH_HEX + 1], path[IDEM_PATH];
    long long size = 0;
    int gone = 0;

    idem_entry_init(&en);
    memcpy(en.name, name, sizeof(en.name));
    idem_path(i, name, ".lock", path, sizeof(path));
    if (idem_trylock(path, &en.lock_fd, &e) != 1)
        goto done;
    int got = idem_load(i, &en, fp, &size, &e);
    en.on_disk = got != 0;
    if (got < 0)
        log_warn("idempotency prune: %s", e.msg); /* kept: never delete what we cannot read */
    if (got == 1 && en.created_ms + IDEM_TTL_MS <= now_ms) {
        en.charged = idem_cost(i, size);
        gone = idem_forget(i, &en, &e) == 0;
    }
done:
    idem_end(i, &en);
    return gone;
}

int idem_prune(idem_t *i, long long now_ms, err_t *e)
{
    char name[IDEM_HASH_HEX + 1], path[IDEM_PATH];
    struct stat st;
    int n = 0;
    DIR *d = opendir(i->dir);
    if (d == NULL)
        return err_sys(e, errno, "opendir", i->dir);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        bool rec = idem_file_is(ent->d_name, ".json", name);
        bool lock = !rec && idem_file_is(ent->d_name, ".lock", name);
        bool tmp = !rec && !lock && idem_file_is(ent->d_name, ".json.tmp", name);
        if (!rec && !lock && !tmp)
            continue;
        int len = snprintf(path, sizeof(path), "%s/%.80s", i->dir, ent->d_name);
        if (len < 0 || (size_t)len >= sizeof(path) || stat(path, &st) != 0)
            continue;
        long long mtime_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (tmp) {
            if (mtime_ms + IDEM_TMP_STALE_MS <= now_ms)
                unlink(path);
            continue;
        }
        /* A record is first written when its key is first seen: one
         * modified since the cutoff is not old enough. A lock file goes
         * with its record, or alone when a request died before its intent. */
        if (rec && mtime_ms + IDEM_TTL_MS > now_ms)
            continue;
        if (lock) {
            idem_path(i, name, ".json", path, sizeof(path));
            if (access(path, F_OK) == 0)
                continue;
        }
        n += idem_prune_one(i, name, now_ms);
    }
    closedir(d);
    return n;
}

/* The caller record `path` names into `caller` (IDEM_CALLER_HEX + 1
 * bytes; "" when it names none or cannot be read: the total counts it all
 * the same). */
static void idem_file_caller(const char *path, char *caller)
{
    buf_t b;
    size_t off;
    caller[0] = '\0';
    buf_init(&b, IDEM_META_MAX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char head[IDEM_META_MAX];
        ssize_t n = read(fd, head, sizeof(head));
        close(fd);
        json_object *meta = NULL;
        if (n > 0 && buf_append(&b, head, (size_t)n) == BUF_OK)
            meta = idem_meta_line(&b, &off);
        if (meta != NULL && idem_meta_str(meta, "caller", caller, IDEM_CALLER_HEX + 1) != 0)
            caller[0] = '\0';
        json_object_put(meta);
    }
    buf_free(&b);
}

int idem_recount(idem_t *i, err_t *e)
{
    char name[IDEM_HASH_HEX + 1], path[IDEM_PATH];
    struct stat st;
    char caller[IDEM_CALLER_HEX + 1];
    long long total = 0;
    DIR *d = opendir(i->dir);
    if (d == NULL)
        return err_sys(e, errno, "opendir", i->dir);
    /* No worker runs yet: the shares start again from the records. */
    for (size_t k = 0; k < IDEM_CALLERS; k++) {
        atomic_store(&i->usage->share[k].tag, 0);
        atomic_store(&i->usage->share[k].bytes, 0);
    }
    atomic_store(&i->usage->overflow.bytes, 0);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!idem_file_is(ent->d_name, ".json", name))
            continue;
        idem_path(i, name, ".json", path, sizeof(path));
        if (stat(path, &st) != 0)
            continue;
        long long cost = idem_cost(i, (long long)st.st_size);
        total += cost;
        idem_file_caller(path, caller);
        _Atomic long long *mine = idem_share_of(i, caller);
        if (mine != NULL)
            atomic_fetch_add(mine, cost);
    }
    closedir(d);
    atomic_store(&i->usage->bytes, total);
    return 0;
}
