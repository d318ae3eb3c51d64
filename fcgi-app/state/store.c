#include "state/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/files.h"
#include "base/log.h"

/* functions.json may hold many thousands of records; a bound still keeps a
 * runaway file from exhausting memory. */
#define STORE_FILE_MAX (256u * 1024 * 1024)

struct store {
    char dir[CONFIG_PATH_MAX];
    char path[CONFIG_PATH_MAX + 32];
    char lock[CONFIG_PATH_MAX + 32];
    char bak[CONFIG_PATH_MAX + 32];

    long max_functions; /* 0: no bound */
    pthread_mutex_t mu; /* guards everything below */
    files_stamp stamp;  /* the version parsed into `root` */
    json_object *root;  /* the parsed file, owned */
    json_object *gens;  /* id -> its record's generation (an int64), owned */
    char *list;         /* the records oldest first, serialized, owned */
};

static const int store_json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/* Check a parsed file: an object of records keyed by their ids. */
static int store_check(json_object *obj, const char *path, err_t *e)
{
    if (!json_object_is_type(obj, json_type_object))
        return err_set(e, ERR_CORRUPT, NULL, 0, "%s must hold a JSON object keyed by function id",
                       path);
    json_object_object_foreach(obj, key, rec)
    {
        json_object *id;
        if (func_load(rec, e) != 0) {
            e->kind = ERR_CORRUPT;
            e->code = NULL;
            return err_prefix(e, "%s: record \"%.64s\"", path, key);
        }
        json_object_object_get_ex(rec, "id", &id);
        if (strcmp(json_object_get_string(id), key) != 0)
            return err_set(e, ERR_CORRUPT, NULL, 0, "%s: record \"%.64s\" has a different id", path,
                           key);
    }
    return 0;
}

/* Say, after a corrupt file's message, that it stays as it is and how to
 * put the last good version back. */
static void store_restore_hint(const char *path, err_t *e)
{
    char msg[sizeof(e->msg)];
    snprintf(msg, sizeof(msg), "%s", e->msg);
    int n = snprintf(e->msg, sizeof(e->msg),
                     "%.150s; it is left as it is: the last good version is %.120s.bak "
                     "(mv it over the file to restore it)",
                     msg, path);
    (void)n;
}

/*
 * Read and parse the file behind `fd`. An empty object stands for a missing
 * file (fd < 0). Returns 0 with `*root` owned by the caller, or -1 (a file
 * that does not parse, an empty one included, is ERR_CORRUPT and says how
 * to restore the last good version).
 */
static int store_parse(int fd, const char *path, json_object **root, err_t *e)
{
    buf_t b;
    int rc = -1;
    json_tokener *tok = NULL;
    json_object *obj = NULL;

    buf_init(&b, STORE_FILE_MAX);
    if (fd >= 0 && files_read_fd(fd, path, &b, e) != 0)
        goto done;
    /* Only a missing file means "no functions yet": an empty one is a
     * write that never finished, and rewriting it would lose them all. */
    if (fd < 0) {
        *root = json_object_new_object();
        rc = 0;
        goto done;
    }
    if (b.len == 0) {
        err_set(e, ERR_CORRUPT, NULL, 0, "%s is empty (0 bytes)", path);
        goto done;
    }
    tok = json_tokener_new();
    if (tok == NULL) {
        err_set(e, ERR_NOMEM, NULL, 0, "json_tokener_new() failed");
        goto done;
    }
    obj = json_tokener_parse_ex(tok, b.data, (int)b.len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr != json_tokener_success) {
        err_set(e, ERR_CORRUPT, NULL, 0, "%s is not valid JSON (%s at byte %zu)", path,
                jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr), end);
        goto done;
    }
    /* Trailing text after the object is as corrupt as a torn object. */
    while (end < b.len && strchr(" \t\r\n", b.data[end]) != NULL && b.data[end] != '\0')
        end++;
    if (end != b.len) {
        err_set(e, ERR_CORRUPT, NULL, 0, "%s is not valid JSON (trailing data at byte %zu)", path,
                end);
        goto done;
    }
    if (store_check(obj, path, e) != 0)
        goto done;
    *root = obj;
    obj = NULL;
    rc = 0;
done:
    if (rc != 0 && e->kind == ERR_CORRUPT)
        store_restore_hint(path, e);
    json_object_put(obj);
    if (tok)
        json_tokener_free(tok);
    buf_free(&b);
    return rc;
}

/* Open functions.json for reading: the descriptor, or -1 for a missing
 * file (no error), or -1 with `e` filled in. `*missing` tells which. */
static int store_open_file(store_t *s, bool *missing, err_t *e)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    *missing = fd < 0 && errno == ENOENT;
    if (fd < 0 && !*missing)
        err_sys(e, errno, "open", s->path);
    return fd;
}

struct store_item {
    const char *created;
    size_t index;
    json_object *rec;
};

static int store_item_cmp(const void *a, const void *b)
{
    const struct store_item *x = a, *y = b;
    int c = strcmp(x->created, y->created);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Serialize the records of `root` oldest first (ties in file order). */
static char *store_render_list(json_object *root)
{
    size_t n = (size_t)json_object_object_length(root), i = 0;
    struct store_item *items = calloc(n ? n : 1, sizeof(*items));
    json_object *arr = json_object_new_array_ext((int)n);
    char *out = NULL;

    if (items == NULL || arr == NULL)
        goto done;
    json_object_object_foreach(root, key, rec)
    {
        json_object *c;
        (void)key;
        json_object_object_get_ex(rec, "created_at", &c);
        items[i].created = c ? json_object_get_string(c) : "";
        items[i].index = i;
        items[i].rec = rec;
        i++;
    }
    qsort(items, n, sizeof(*items), store_item_cmp);
    for (i = 0; i < n; i++)
        json_object_array_add(arr, json_object_get(items[i].rec));
    out = strdup(json_object_to_json_string_ext(arr, store_json_flags));
done:
    json_object_put(arr);
    free(items);
    return out;
}

/* Bring the cache up to date with the file. Call with `mu` held. */
static int store_refresh(store_t *s, err_t *e)
{
    files_stamp next;
    json_object *root = NULL;
    char *list = NULL;
    int fd;

    int changed = files_stamp_check(&s->stamp, s->path, &fd, &next, e);
    if (changed <= 0)
        return changed;
    if (store_parse(fd, s->path, &root, e) != 0)
        goto fail;
    list = store_render_list(root);
    if (list == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "store_render_list() failed: out of memory");
        goto fail;
    }
    /* Each record's generation once per version of the file, not per
     * read: a read is on every call's path. */
    json_object *gens = json_object_new_object();
    json_object_object_foreach(root, id, rec)
    {
        json_object_object_add(gens, id, json_object_new_int64((int64_t)func_generation(rec)));
    }
    files_stamp_take(&s->stamp, &next);
    json_object_put(s->root);
    json_object_put(s->gens);
    free(s->list);
    s->root = root;
    s->gens = gens;
    s->list = list;
    return 0;
fail:
    json_object_put(root);
    files_stamp_drop(&next);
    return -1;
}

/* The record for `ref` inside `root` (borrowed), or NULL. */
static json_object *store_find(json_object *root, const char *ref)
{
    json_object *rec;
    if (json_object_object_get_ex(root, ref, &rec))
        return rec;
    json_object_object_foreach(root, key, r)
    {
        json_object *name;
        (void)key;
        if (json_object_object_get_ex(r, "name", &name) &&
            strcmp(json_object_get_string(name), ref) == 0)
            return r;
    }
    return NULL;
}

int store_not_found(const char *ref, err_t *e)
{
    return err_set(e, ERR_NOT_FOUND, NULL, 0, "function \"%.200s\" not found", ref);
}

store_t *store_open(const char *data_dir, err_t *e)
{
    store_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    files_stamp_init(&s->stamp);
    int n1 = snprintf(s->dir, sizeof(s->dir), "%s", data_dir);
    int n2 = snprintf(s->path, sizeof(s->path), "%s/functions.json", data_dir);
    snprintf(s->lock, sizeof(s->lock), "%s/functions.json.lock", data_dir);
    snprintf(s->bak, sizeof(s->bak), "%s/functions.json.bak", data_dir);
    if (n1 < 0 || (size_t)n1 >= sizeof(s->dir) || n2 < 0 || (size_t)n2 >= sizeof(s->path)) {
        err_set(e, ERR_STORAGE, NULL, ENAMETOOLONG, "data dir path is too long");
        goto fail;
    }
    /* The file itself is read on first use (store_verify at start-up): a
     * process that opens the store while the file is damaged still serves,
     * answering store_corrupt where the store is needed. */
    if (files_mkdir(data_dir, e) != 0)
        goto fail;
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store_t *s)
{
    if (s == NULL)
        return;
    json_object_put(s->gens);
    json_object_put(s->root);
    free(s->list);
    files_stamp_drop(&s->stamp);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int store_list(store_t *s, char **out, err_t *e)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = store_refresh(s, e);
    if (rc == 0) {
        *out = strdup(s->list);
        if (*out == NULL)
            rc = err_set(e, ERR_NOMEM, NULL, ENOMEM, "strdup() failed: out of memory");
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The generation of cached record `id` (0: not known). Call with mu held. */
static uint64_t store_gen(store_t *s, const char *id)
{
    json_object *g;
    return id != NULL && json_object_object_get_ex(s->gens, id, &g)
               ? (uint64_t)json_object_get_int64(g)
               : 0;
}

int store_all(store_t *s, func_t ***all, size_t *n, err_t *e)
{
    char *list = NULL;
    *all = NULL;
    *n = 0;
    if (store_list(s, &list, e) != 0)
        return -1;
    /* The list is the cache's serialization: parsed again, nothing of it
     * is shared with the cache or with another caller. */
    json_object *arr = json_tokener_parse(list);
    free(list);
    if (arr == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory parsing the function list");
    size_t len = json_object_array_length(arr);
    func_t **v = calloc(len ? len : 1, sizeof(*v));
    int rc = v != NULL ? 0 : err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
    for (size_t i = 0; rc == 0 && i < len; i++) {
        v[i] = func_parse(json_object_get(json_object_array_get_idx(arr, i)), e);
        if (v[i] == NULL)
            rc = -1;
    }
    json_object_put(arr);
    if (rc != 0) {
        store_all_free(v, len);
        return -1;
    }
    *all = v;
    *n = len;
    return 0;
}

void store_all_free(func_t **all, size_t n)
{
    for (size_t i = 0; all != NULL && i < n; i++)
        func_free(all[i]);
    free(all);
}

int store_get(store_t *s, const char *ref, func_t **out, err_t *e)
{
    json_object *copy = NULL;
    uint64_t gen = 0;
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = store_refresh(s, e);
    if (rc == 0) {
        json_object *rec = store_find(s->root, ref);
        if (rec == NULL)
            rc = store_not_found(ref, e);
        else if (json_object_deep_copy(rec, &copy, NULL) != 0)
            rc = err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory copying a record");
        else
            gen = store_gen(s, json_object_get_string(json_object_object_get(rec, "id")));
    }
    pthread_mutex_unlock(&s->mu);
    /* Typed outside the lock: the copy is this caller's alone. */
    if (rc == 0 && (*out = func_parse_as(copy, gen, e)) == NULL)
        rc = -1;
    return rc;
}

int store_verify(store_t *s, err_t *e)
{
    pthread_mutex_lock(&s->mu);
    int rc = store_refresh(s, e);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_each(store_t *s, void (*fn)(const func_t *f, void *arg), void *arg, err_t *e)
{
    pthread_mutex_lock(&s->mu);
    int rc = store_refresh(s, e);
    if (rc == 0) {
        json_object_object_foreach(s->root, id, rec)
        {
            /* The cache's object, shared only under the lock held here. */
            func_t *f = func_parse_as(json_object_get(rec), store_gen(s, id), e);
            if (f == NULL) {
                rc = -1;
                break;
            }
            fn(f, arg);
            func_free(f);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

long store_count(store_t *s)
{
    long n = -1;
    err_t e;
    pthread_mutex_lock(&s->mu);
    if (store_refresh(s, &e) == 0)
        n = (long)json_object_object_length(s->root);
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Replace functions.json with `root`, durably, keeping the version it
 * replaces as functions.json.bak. */
static int store_write(store_t *s, json_object *root, err_t *e)
{
    err_t why;
    if (files_keep(s->path, s->bak, &why) != 0)
        log_warn("the store's backup was not kept: %s", why.msg);
    size_t len;
    const char *text = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
        &len);
    struct iovec iov[2] = {{.iov_base = (void *)text, .iov_len = len},
                           {.iov_base = "\n", .iov_len = 1}};
    return files_writev(s->path, iov, 2, FILES_SYNC_DIR, e);
}

typedef enum { STORE_OP_CREATE, STORE_OP_UPDATE, STORE_OP_DELETE, STORE_OP_PIN } store_op;

static bool store_name_taken(json_object *root, const char *name, const char *except_id)
{
    json_object_object_foreach(root, key, rec)
    {
        json_object *n;
        if (except_id != NULL && strcmp(key, except_id) == 0)
            continue;
        if (json_object_object_get_ex(rec, "name", &n) &&
            strcmp(json_object_get_string(n), name) == 0)
            return true;
    }
    return false;
}

/* Add a new record built from `body` and `sys` to `root` under `want`
 * (NULL: a fresh id): 0, `*rec` a reference to it. Or find the record that
 * has that id: 1, `*rec` a reference to it, `root` unchanged. */
static int store_apply_create(store_t *s, json_object *root, json_object *body, const func_sys *sys,
                              const char *want, const char *now, json_object **rec, err_t *e)
{
    uuid_t u;
    char id[37];
    if (want != NULL && !func_is_id(want))
        return err_set(e, ERR_INTERNAL, NULL, 0, "\"%.64s\" is not a function id", want);
    if (want != NULL && json_object_object_get_ex(root, want, rec)) {
        json_object_get(*rec);
        return 1;
    }
    if (s->max_functions > 0 && json_object_object_length(root) >= s->max_functions)
        return err_set(e, ERR_CONFLICT, "too_many_functions", 0,
                       "%ld functions are registered, the most this platform keeps "
                       "(MINILAMBDA_MAX_FUNCTIONS)",
                       s->max_functions);
    uuid_generate_random(u);
    uuid_unparse_lower(u, id);
    if (want != NULL)
        snprintf(id, sizeof(id), "%s", want);
    *rec = func_new(body, id, now, sys, e);
    if (*rec == NULL)
        return -1;
    if (store_name_taken(root, json_object_get_string(json_object_object_get(*rec, "name")), NULL))
        return err_set(e, ERR_CONFLICT, "name_conflict", 0,
                       "a function with that name already exists");
    json_object_object_add(root, id, json_object_get(*rec));
    return 0;
}

/* Apply an update, pin or delete of `ref` to `root`; an update's or pin's
 * `*rec` gets a reference to the new record. */
static int store_apply_change(json_object *root, store_op op, const char *ref, json_object *body,
                              const func_sys *sys, const char *now, json_object **rec, err_t *e)
{
    json_object *old = store_find(root, ref);
    if (old == NULL)
        return store_not_found(ref, e);
    /* The key must outlive the deletion that frees the record's id. */
    char *key = strdup(json_object_get_string(json_object_object_get(old, "id")));
    int rc = -1;
    if (key == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "strdup() failed: out of memory");
    json_object *pinned;
    if (op == STORE_OP_DELETE) {
        json_object_object_del(root, key);
        rc = 0;
    } else if (op == STORE_OP_PIN && json_object_object_get_ex(old, "image_id", &pinned) &&
               pinned != NULL) {
        /* Pinned meanwhile (by a PATCH or another first call): keep it. */
        *rec = json_object_get(old);
        rc = 0;
    } else if (op == STORE_OP_PIN) {
        json_object_object_add(old, "image_id", json_object_new_string(sys->image_id));
        *rec = json_object_get(old);
        rc = 0;
    } else if ((*rec = func_patch(old, body, now, sys, e)) != NULL) {
        json_object_object_add(root, key, json_object_get(*rec));
        rc = 0;
    }
    free(key);
    return rc;
}

/*
 * The one read-modify-write path: lock, re-read, apply `op`, write, unlock.
 * `ref` names the record (for a create, the id to give it, or NULL).
 * `*out` (create/update/pin) receives the new record, typed, caller-owned.
 */
static int store_modify(store_t *s, store_op op, const char *ref, json_object *body,
                        const func_sys *sys, func_t **out, err_t *e)
{
    char now[CLOCK_RFC3339_LEN];
    json_object *root = NULL, *rec = NULL;
    int rc = -1, rfd = -1;
    bool missing;

    if (out)
        *out = NULL;
    int lfd = files_lock(s->lock, e);
    if (lfd < 0)
        return -1;
    rfd = store_open_file(s, &missing, e);
    if (rfd < 0 && !missing)
        goto done;
    if (store_parse(rfd, s->path, &root, e) != 0)
        goto done;
    clock_now(now, sizeof(now));
    if (op == STORE_OP_CREATE)
        rc = store_apply_create(s, root, body, sys, ref, now, &rec, e);
    else
        rc = store_apply_change(root, op, ref, body, sys, now, &rec, e);
    if (rc == 0)
        rc = store_write(s, root, e);
    else if (rc == 1)
        rc = 0; /* created before: nothing to write */
    if (rc == 0 && out != NULL && rec != NULL) {
        /* Only out of memory fails here, after the change was written. */
        *out = func_parse(rec, e);
        rec = NULL;
        rc = *out != NULL ? 0 : -1;
    }
done:
    json_object_put(rec);
    json_object_put(root);
    if (rfd >= 0)
        close(rfd);
    files_unlock(lfd);
    return rc;
}

int store_create(store_t *s, json_object *body, const func_sys *sys, const char *id, func_t **out,
                 err_t *e)
{
    return store_modify(s, STORE_OP_CREATE, id, body, sys, out, e);
}

int store_update(store_t *s, const char *ref, json_object *patch, const func_sys *sys, func_t **out,
                 err_t *e)
{
    return store_modify(s, STORE_OP_UPDATE, ref, patch, sys, out, e);
}

int store_pin(store_t *s, const char *ref, const char *image_id, func_t **out, err_t *e)
{
    func_sys pin = {.set_image_id = true, .image_id = image_id};
    return store_modify(s, STORE_OP_PIN, ref, NULL, &pin, out, e);
}

int store_delete(store_t *s, const char *ref, err_t *e)
{
    return store_modify(s, STORE_OP_DELETE, ref, NULL, NULL, NULL, e);
}

void store_limit(store_t *s, long max_functions)
{
    s->max_functions = max_functions;
}
