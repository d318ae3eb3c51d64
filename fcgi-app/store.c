#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "buf.h"
#include "config.h"
#include "log.h"

/* functions.json may hold many thousands of records; a bound still keeps a
 * runaway file from exhausting memory. */
#define STORE_FILE_MAX (256u * 1024 * 1024)

struct store {
    char dir[CONFIG_PATH_MAX];
    char path[CONFIG_PATH_MAX + 32];
    char tmp[CONFIG_PATH_MAX + 32];
    char lock[CONFIG_PATH_MAX + 32];

    pthread_mutex_t mu; /* guards everything below */
    bool cached;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    json_object *root; /* the parsed file, owned */
    int fd;            /* the parsed file, kept open so its inode cannot be
                        * reused by a later version with the same size and
                        * mtime; -1 when none */
    char *list;        /* the records oldest first, serialized, owned */
};

static const int store_json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/*
 * Read and parse the file behind `fd`. An empty object stands for a missing
 * file (fd < 0). Returns 0 with `*root` owned by the caller, or -1 with the
 * reason in `err`.
 */
static int store_parse_fd(int fd, const char *path, json_object **root, char *err, size_t errlen)
{
    buf_t b;
    int rc = -1;
    json_tokener *tok = NULL;
    json_object *obj = NULL;

    buf_init(&b, STORE_FILE_MAX);
    if (fd < 0) {
        *root = json_object_new_object();
        return 0;
    }
    for (;;) {
        char chunk[65536];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "read(%s) failed: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) != BUF_OK) {
            snprintf(err, errlen, "%s is larger than %u bytes", path, STORE_FILE_MAX);
            goto done;
        }
    }
    if (b.len == 0) {
        *root = json_object_new_object();
        rc = 0;
        goto done;
    }
    tok = json_tokener_new();
    if (tok == NULL) {
        snprintf(err, errlen, "json_tokener_new() failed");
        goto done;
    }
    obj = json_tokener_parse_ex(tok, b.data, (int)b.len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr != json_tokener_success) {
        snprintf(err, errlen, "%s is not valid JSON (%s at byte %zu)", path,
                 jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr), end);
        goto done;
    }
    /* Trailing text after the object is as corrupt as a torn object. */
    while (end < b.len && strchr(" \t\r\n", b.data[end]) != NULL && b.data[end] != '\0')
        end++;
    if (end != b.len) {
        snprintf(err, errlen, "%s is not valid JSON (trailing data at byte %zu)", path, end);
        goto done;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "%s must hold a JSON object keyed by function id", path);
        goto done;
    }
    json_object_object_foreach(obj, key, rec)
    {
        func_err ferr;
        json_object *id;
        if (func_load(rec, &ferr) != 0) {
            snprintf(err, errlen, "%s: record \"%.64s\": %s", path, key, ferr.msg);
            goto done;
        }
        json_object_object_get_ex(rec, "id", &id);
        if (strcmp(json_object_get_string(id), key) != 0) {
            snprintf(err, errlen, "%s: record \"%.64s\" has a different id", path, key);
            goto done;
        }
    }
    *root = obj;
    obj = NULL;
    rc = 0;
done:
    json_object_put(obj);
    if (tok)
        json_tokener_free(tok);
    buf_free(&b);
    return rc;
}

/* Open functions.json for reading; -1 with errno ENOENT when it is absent. */
static int store_open_file(store_t *s)
{
    return open(s->path, O_RDONLY | O_CLOEXEC);
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
static store_rc store_refresh(store_t *s)
{
    struct stat st;
    int fd = store_open_file(s);
    char err[512];
    json_object *root = NULL;

    if (fd < 0 && errno != ENOENT) {
        log_error("open(%s) failed: %s", s->path, strerror(errno));
        return STORE_ERROR;
    }
    if (fd >= 0 && fstat(fd, &st) != 0) {
        log_error("fstat(%s) failed: %s", s->path, strerror(errno));
        close(fd);
        return STORE_ERROR;
    }
    if (fd < 0)
        memset(&st, 0, sizeof(st));
    if (s->cached && st.st_dev == s->dev && st.st_ino == s->ino && st.st_size == s->size &&
        st.st_mtim.tv_sec == s->mtime.tv_sec && st.st_mtim.tv_nsec == s->mtime.tv_nsec) {
        if (fd >= 0)
            close(fd);
        return STORE_OK;
    }
    if (store_parse_fd(fd, s->path, &root, err, sizeof(err)) != 0) {
        if (fd >= 0)
            close(fd);
        log_error("%s", err);
        return STORE_ERROR;
    }
    char *list = store_render_list(root);
    if (list == NULL) {
        log_error("store_render_list() failed: out of memory");
        json_object_put(root);
        if (fd >= 0)
            close(fd);
        return STORE_ERROR;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    json_object_put(s->root);
    free(s->list);
    s->root = root;
    s->list = list;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime = st.st_mtim;
    s->cached = true;
    return STORE_OK;
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

store_t *store_open(const char *data_dir, char *err, size_t errlen)
{
    store_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "calloc() failed: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->fd = -1;
    int n1 = snprintf(s->dir, sizeof(s->dir), "%s", data_dir);
    int n2 = snprintf(s->path, sizeof(s->path), "%s/functions.json", data_dir);
    snprintf(s->tmp, sizeof(s->tmp), "%s/functions.json.tmp", data_dir);
    snprintf(s->lock, sizeof(s->lock), "%s/functions.json.lock", data_dir);
    if (n1 < 0 || (size_t)n1 >= sizeof(s->dir) || n2 < 0 || (size_t)n2 >= sizeof(s->path)) {
        snprintf(err, errlen, "data dir path is too long");
        goto fail;
    }
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir(%s) failed: %s", data_dir, strerror(errno));
        goto fail;
    }
    int fd = store_open_file(s);
    if (fd < 0 && errno != ENOENT) {
        snprintf(err, errlen, "open(%s) failed: %s", s->path, strerror(errno));
        goto fail;
    }
    json_object *root = NULL;
    int rc = store_parse_fd(fd, s->path, &root, err, errlen);
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        goto fail;
    json_object_put(root);
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store_t *s)
{
    if (s == NULL)
        return;
    json_object_put(s->root);
    free(s->list);
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

store_rc store_list(store_t *s, char **out)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    store_rc rc = store_refresh(s);
    if (rc == STORE_OK) {
        *out = strdup(s->list);
        if (*out == NULL)
            rc = STORE_ERROR;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

store_rc store_get(store_t *s, const char *ref, json_object **out)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    store_rc rc = store_refresh(s);
    if (rc == STORE_OK) {
        json_object *rec = store_find(s->root, ref);
        if (rec == NULL)
            rc = STORE_NOT_FOUND;
        else if (json_object_deep_copy(rec, out, NULL) != 0)
            rc = STORE_ERROR;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

long store_count(store_t *s)
{
    long n = -1;
    pthread_mutex_lock(&s->mu);
    if (store_refresh(s) == STORE_OK)
        n = (long)json_object_object_length(s->root);
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Write `root` to the temp file and rename it over functions.json. */
static store_rc store_write(store_t *s, json_object *root)
{
    const char *text = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(text);
    store_rc rc = STORE_ERROR;
    int dfd = -1;
    int fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        log_error("open(%s) failed: %s", s->tmp, strerror(errno));
        goto done;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            log_error("write(%s) failed: %s", s->tmp, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        log_error("write/fsync(%s) failed: %s", s->tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        log_error("close(%s) failed: %s", s->tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(s->tmp, s->path) != 0) {
        log_error("rename(%s, %s) failed: %s", s->tmp, s->path, strerror(errno));
        goto done;
    }
    dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        log_error("fsync(%s) failed: %s", s->dir, strerror(errno));
        goto done;
    }
    rc = STORE_OK;
done:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

typedef enum { STORE_OP_CREATE, STORE_OP_UPDATE, STORE_OP_DELETE } store_op;

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

/*
 * The one read-modify-write path: lock, re-read, apply `op`, write, unlock.
 * `*out` (create/update) receives a caller-owned copy of the new record.
 */
static store_rc store_modify(store_t *s, store_op op, const char *ref, json_object *body,
                             json_object **out, func_err *ferr)
{
    char err[512];
    char now[32];
    json_object *root = NULL, *rec = NULL;
    store_rc rc = STORE_ERROR;
    char *key = NULL;
    int rfd = -1;
    int lfd = open(s->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (out)
        *out = NULL;
    if (lfd < 0) {
        log_error("open(%s) failed: %s", s->lock, strerror(errno));
        return STORE_ERROR;
    }
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            log_error("flock(%s) failed: %s", s->lock, strerror(errno));
            goto done;
        }
    }
    rfd = store_open_file(s);
    if (rfd < 0 && errno != ENOENT) {
        log_error("open(%s) failed: %s", s->path, strerror(errno));
        goto done;
    }
    if (store_parse_fd(rfd, s->path, &root, err, sizeof(err)) != 0) {
        log_error("%s; refusing to overwrite it", err);
        goto done;
    }
    func_now(now, sizeof(now));

    if (op == STORE_OP_CREATE) {
        uuid_t u;
        char id[37];
        uuid_generate_random(u);
        uuid_unparse_lower(u, id);
        rec = func_new(body, id, now, ferr);
        if (rec == NULL) {
            rc = STORE_INVALID;
            goto done;
        }
        json_object *name;
        json_object_object_get_ex(rec, "name", &name);
        if (store_name_taken(root, json_object_get_string(name), NULL)) {
            rc = STORE_CONFLICT;
            goto done;
        }
        json_object_object_add(root, id, json_object_get(rec));
    } else {
        json_object *old = store_find(root, ref), *id;
        if (old == NULL) {
            rc = STORE_NOT_FOUND;
            goto done;
        }
        json_object_object_get_ex(old, "id", &id);
        /* The key must outlive the deletion that frees `id`'s string. */
        key = strdup(json_object_get_string(id));
        if (key == NULL) {
            log_error("strdup() failed: out of memory");
            goto done;
        }
        if (op == STORE_OP_DELETE) {
            json_object_object_del(root, key);
        } else {
            rec = func_patch(old, body, now, ferr);
            if (rec == NULL) {
                rc = STORE_INVALID;
                goto done;
            }
            json_object_object_add(root, key, json_object_get(rec));
        }
    }
    rc = store_write(s, root);
    if (rc == STORE_OK && out != NULL && rec != NULL) {
        *out = rec;
        rec = NULL;
    }
done:
    free(key);
    json_object_put(rec);
    json_object_put(root);
    if (rfd >= 0)
        close(rfd);
    close(lfd); /* releases the flock */
    return rc;
}

store_rc store_create(store_t *s, json_object *body, json_object **out, func_err *err)
{
    return store_modify(s, STORE_OP_CREATE, NULL, body, out, err);
}

store_rc store_update(store_t *s, const char *ref, json_object *patch, json_object **out,
                      func_err *err)
{
    return store_modify(s, STORE_OP_UPDATE, ref, patch, out, err);
}

store_rc store_delete(store_t *s, const char *ref)
{
    return store_modify(s, STORE_OP_DELETE, ref, NULL, NULL, NULL);
}
