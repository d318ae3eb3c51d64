/*
 * Unit tests for store: functions.json in a temporary directory — round
 * trips, conflicts, corrupt files left untouched, first-format files, the
 * read cache, and concurrent writers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/func.h"
#include "state/store.h"

/* The store answers 0/-1 with an err_t; the tests read it as one word. */
typedef enum { STORE_OK, STORE_NOT_FOUND, STORE_CONFLICT, STORE_INVALID, STORE_ERROR } store_rc;

static store_rc rc_of(int rc, const err_t *e)
{
    if (rc == 0)
        return STORE_OK;
    switch (e->kind) {
    case ERR_NOT_FOUND:
        return STORE_NOT_FOUND;
    case ERR_CONFLICT:
        return STORE_CONFLICT;
    case ERR_INVALID:
        return STORE_INVALID;
    default:
        return STORE_ERROR;
    }
}

static store_t *t_open(const char *dir, char *why, size_t len)
{
    err_t e;
    err_clear(&e);
    store_t *s = store_open(dir, &e);
    if (s != NULL && store_verify(s, &e) != 0) {
        store_close(s);
        s = NULL;
    }
    snprintf(why, len, "%s", e.msg);
    return s;
}

static store_rc t_list(store_t *s, char **out)
{
    err_t e;
    return rc_of(store_list(s, out, &e), &e);
}

/* The JSON of typed record `f` (freed), for the checks below: a new
 * reference, or NULL. */
static json_object *json_of(func_t *f)
{
    json_object *o = f != NULL ? json_object_get(f->json) : NULL;
    func_free(f);
    return o;
}

static store_rc t_get(store_t *s, const char *ref, json_object **out)
{
    err_t e;
    func_t *f = NULL;
    store_rc rc = rc_of(store_get(s, ref, &f, &e), &e);
    *out = json_of(f);
    return rc;
}

static store_rc t_create(store_t *s, json_object *body, json_object **out, err_t *e)
{
    func_t *f = NULL;
    store_rc rc = rc_of(store_create(s, body, NULL, NULL, &f, e), e);
    *out = json_of(f);
    return rc;
}

static store_rc t_update(store_t *s, const char *ref, json_object *patch, json_object **out,
                         err_t *e)
{
    func_t *f = NULL;
    store_rc rc = rc_of(store_update(s, ref, patch, NULL, &f, e), e);
    *out = json_of(f);
    return rc;
}

static store_rc t_delete(store_t *s, const char *ref)
{
    err_t e;
    return rc_of(store_delete(s, ref, &e), &e);
}

#define V1_ID1 "11111111-1111-4111-8111-111111111111"
#define V1_ID2 "22222222-2222-4222-8222-222222222222"
#define V1_ID3 "33333333-3333-4333-8333-333333333333"

typedef struct {
    char dir[64];
    char path[128];    /* dir/functions.json */
    char bakpath[160]; /* dir/functions.json.bak */
    store_t *s;        /* closed by teardown, so a failed test leaks nothing */
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ml-store-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/functions.json", f->dir);
    snprintf(f->bakpath, sizeof(f->bakpath), "%s/functions.json.bak", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    int rc = nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Read a whole file into a new NUL-terminated string; `*len` gets its size. */
static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    assert_non_null(data);
    for (;;) {
        if (n + 1024 + 1 > cap) {
            cap *= 2;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t r = fread(data + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0)
            break;
    }
    fclose(fp);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (o == NULL)
        fail_msg("test JSON does not parse: %s", text);
    return o;
}

static store_t *open_ok(fixture *f)
{
    char err[512] = "";
    store_t *s = t_open(f->dir, err, sizeof(err));
    if (s == NULL)
        fail_msg("t_open(%s): %s", f->dir, err);
    return s;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        fail_msg("no string field \"%s\"", key);
    return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        fail_msg("no integer field \"%s\"", key);
    return json_object_get_int64(v);
}

/* Create {"name": name, "image": image}; returns the new record's id in `id`. */
static void create_ok(store_t *s, const char *name, const char *image, char *id, size_t idlen)
{
    char text[256];
    err_t ferr;
    json_object *out = NULL;
    snprintf(text, sizeof(text), "{\"name\":\"%s\",\"image\":\"%s\"}", name, image);
    json_object *body = parse(text);
    store_rc rc = t_create(s, body, &out, &ferr);
    json_object_put(body);
    if (rc != STORE_OK)
        fail_msg("t_create(%s) = %d", name, (int)rc);
    assert_non_null(out);
    if (id != NULL)
        snprintf(id, idlen, "%s", get_str(out, "id"));
    json_object_put(out);
}

static void test_open_creates_missing_dir(void **state)
{
    fixture *f = *state;
    char sub[128], err[512] = "";
    snprintf(sub, sizeof(sub), "%s/data", f->dir);
    assert_false(file_exists(sub));
    store_t *s = t_open(sub, err, sizeof(err));
    assert_non_null(s);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(store_count(s), 0);
    char *list = NULL;
    assert_int_equal(t_list(s, &list), STORE_OK);
    assert_string_equal(list, "[]");
    free(list);
    json_object *rec = (json_object *)1;
    assert_int_equal(t_get(s, "nothing", &rec), STORE_NOT_FOUND);
    assert_null(rec);
    store_close(s);
}

static void test_open_fails_cleanly(void **state)
{
    fixture *f = *state;
    char path[160], err[512] = "";
    /* The parent of the data dir does not exist: mkdir fails. */
    snprintf(path, sizeof(path), "%s/no/such/dir", f->dir);
    assert_null(t_open(path, err, sizeof(err)));
    assert_true(strlen(err) > 0);
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    err_t ferr;
    store_t *s = open_ok(f);

    json_object *body = parse("{\"name\":\"echo\",\"image\":\"busybox:1.36\",\"timeout\":10}");
    json_object *created = NULL;
    assert_int_equal(t_create(s, body, &created, &ferr), STORE_OK);
    json_object_put(body);
    assert_non_null(created);
    char id[64];
    snprintf(id, sizeof(id), "%s", get_str(created, "id"));
    assert_true(func_is_id(id));
    assert_string_equal(get_str(created, "name"), "echo");
    assert_int_equal(get_int(created, "timeout"), 10);
    assert_int_equal(get_int(created, "memory_mb"), 256);
    assert_string_equal(get_str(created, "created_at"), get_str(created, "updated_at"));

    /* By id and by name, the same record. */
    json_object *by_id = NULL, *by_name = NULL;
    assert_int_equal(t_get(s, id, &by_id), STORE_OK);
    assert_int_equal(t_get(s, "echo", &by_name), STORE_OK);
    assert_true(json_object_equal(by_id, created));
    assert_true(json_object_equal(by_name, created));
    /* A copy: changing it does not change the store. */
    json_object_object_add(by_id, "image", json_object_new_string("changed"));
    json_object *again = NULL;
    assert_int_equal(t_get(s, id, &again), STORE_OK);
    assert_string_equal(get_str(again, "image"), "busybox:1.36");
    json_object_put(again);
    json_object_put(by_id);
    json_object_put(by_name);
    assert_int_equal(store_count(s), 1);

    /* Update by name. */
    json_object *patch = parse("{\"timeout\":30,\"image\":\"busybox:latest\"}");
    json_object *updated = NULL;
    assert_int_equal(t_update(s, "echo", patch, &updated, &ferr), STORE_OK);
    json_object_put(patch);
    assert_non_null(updated);
    assert_string_equal(get_str(updated, "id"), id);
    assert_int_equal(get_int(updated, "timeout"), 30);
    assert_string_equal(get_str(updated, "image"), "busybox:latest");
    assert_string_equal(get_str(updated, "created_at"), get_str(created, "created_at"));
    assert_true(strcmp(get_str(updated, "updated_at"), get_str(created, "created_at")) >= 0);
    json_object *got = NULL;
    assert_int_equal(t_get(s, id, &got), STORE_OK);
    assert_true(json_object_equal(got, updated));
    json_object_put(got);
    json_object_put(updated);

    /* An invalid update changes nothing. */
    patch = parse("{\"name\":\"renamed\"}");
    updated = (json_object *)1;
    memset(&ferr, 0, sizeof(ferr));
    assert_int_equal(t_update(s, id, patch, &updated, &ferr), STORE_INVALID);
    assert_null(updated);
    assert_string_equal(ferr.code, "immutable_field");
    json_object_put(patch);
    assert_int_equal(t_get(s, "echo", &got), STORE_OK);
    assert_int_equal(get_int(got, "timeout"), 30);
    json_object_put(got);

    /* Update and delete of unknown refs. */
    patch = parse("{\"timeout\":5}");
    assert_int_equal(t_update(s, "nope", patch, &updated, &ferr), STORE_NOT_FOUND);
    assert_null(updated);
    json_object_put(patch);
    assert_int_equal(t_delete(s, "nope"), STORE_NOT_FOUND);

    /* Delete by id. */
    assert_int_equal(t_delete(s, id), STORE_OK);
    assert_int_equal(t_get(s, id, &got), STORE_NOT_FOUND);
    assert_null(got);
    assert_int_equal(t_get(s, "echo", &got), STORE_NOT_FOUND);
    assert_int_equal(t_delete(s, id), STORE_NOT_FOUND);
    assert_int_equal(store_count(s), 0);
    json_object_put(created);
    store_close(s);

    /* Delete by name. */
    s = open_ok(f);
    create_ok(s, "byname", "busybox", NULL, 0);
    assert_int_equal(t_delete(s, "byname"), STORE_OK);
    assert_int_equal(store_count(s), 0);
    store_close(s);
}

static void test_persists_across_open(void **state)
{
    fixture *f = *state;
    char id[64];
    store_t *s = open_ok(f);
    create_ok(s, "kept", "busybox", id, sizeof(id));
    store_close(s);

    s = open_ok(f);
    json_object *got = NULL;
    assert_int_equal(t_get(s, id, &got), STORE_OK);
    assert_string_equal(get_str(got, "name"), "kept");
    json_object_put(got);
    store_close(s);
}

static void test_create_invalid(void **state)
{
    fixture *f = *state;
    err_t ferr;
    store_t *s = open_ok(f);
    json_object *body = parse("{\"name\":\"x\",\"image\":\"busybox\",\"timeout\":0}");
    json_object *out = (json_object *)1;
    memset(&ferr, 0, sizeof(ferr));
    assert_int_equal(t_create(s, body, &out, &ferr), STORE_INVALID);
    assert_null(out);
    assert_string_equal(ferr.code, "invalid_timeout");
    json_object_put(body);
    assert_int_equal(store_count(s), 0);
    store_close(s);
}

static void test_list_oldest_first(void **state)
{
    fixture *f = *state;
    char ids[5][64];
    char names[5][16];
    store_t *s = open_ok(f);
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof(names[i]), "fn%d", i);
        create_ok(s, names[i], "busybox", ids[i], sizeof(ids[i]));
    }
    /* An update does not move a record. */
    err_t ferr;
    json_object *patch = parse("{\"timeout\":1}"), *out = NULL;
    assert_int_equal(t_update(s, ids[0], patch, &out, &ferr), STORE_OK);
    json_object_put(patch);
    json_object_put(out);

    char *list = NULL;
    assert_int_equal(t_list(s, &list), STORE_OK);
    json_object *arr = parse(list);
    free(list);
    assert_true(json_object_is_type(arr, json_type_array));
    assert_int_equal(json_object_array_length(arr), 5);
    for (size_t i = 0; i < 5; i++) {
        json_object *rec = json_object_array_get_idx(arr, i);
        assert_string_equal(get_str(rec, "id"), ids[i]);
        assert_string_equal(get_str(rec, "name"), names[i]);
    }
    json_object_put(arr);
    store_close(s);
}

static void test_list_sorts_by_created_at(void **state)
{
    fixture *f = *state;
    /* File order B, C, A; creation order A, B, C. */
    const char *text =
        "{\"" V1_ID2 "\":{\"id\":\"" V1_ID2 "\",\"name\":\"b\",\"image\":\"busybox\","
        "\"created_at\":\"2024-02-01T00:00:00.000Z\"},"
        "\"" V1_ID3 "\":{\"id\":\"" V1_ID3 "\",\"name\":\"c\",\"image\":\"busybox\","
        "\"created_at\":\"2024-03-01T00:00:00.000Z\"},"
        "\"" V1_ID1 "\":{\"id\":\"" V1_ID1 "\",\"name\":\"a\",\"image\":\"busybox\","
        "\"created_at\":\"2024-01-01T00:00:00.000Z\"}}";
    write_file(f->path, text, strlen(text));
    store_t *s = open_ok(f);
    char *list = NULL;
    assert_int_equal(t_list(s, &list), STORE_OK);
    json_object *arr = parse(list);
    free(list);
    assert_int_equal(json_object_array_length(arr), 3);
    assert_string_equal(get_str(json_object_array_get_idx(arr, 0), "name"), "a");
    assert_string_equal(get_str(json_object_array_get_idx(arr, 1), "name"), "b");
    assert_string_equal(get_str(json_object_array_get_idx(arr, 2), "name"), "c");
    json_object_put(arr);
    store_close(s);
}

static void test_duplicate_name_conflicts(void **state)
{
    fixture *f = *state;
    err_t ferr;
    char id[64];
    store_t *s = open_ok(f);
    create_ok(s, "dup", "busybox", id, sizeof(id));
    json_object *body = parse("{\"name\":\"dup\",\"image\":\"alpine\"}");
    json_object *out = (json_object *)1;
    assert_int_equal(t_create(s, body, &out, &ferr), STORE_CONFLICT);
    assert_null(out);
    json_object_put(body);
    assert_int_equal(store_count(s), 1);
    json_object *got = NULL;
    assert_int_equal(t_get(s, "dup", &got), STORE_OK);
    assert_string_equal(get_str(got, "id"), id);
    assert_string_equal(get_str(got, "image"), "busybox");
    json_object_put(got);
    /* Names are case-sensitive: "Dup" is another function. */
    create_ok(s, "Dup", "busybox", NULL, 0);
    assert_int_equal(store_count(s), 2);
    /* Once deleted, the name is free again. */
    assert_int_equal(t_delete(s, "dup"), STORE_OK);
    create_ok(s, "dup", "alpine", NULL, 0);
    assert_int_equal(store_count(s), 2);
    store_close(s);
}

/* store_open must refuse `text` and leave the file byte for byte as it was. */
static void corrupt_case(fixture *f, const char *text, size_t len)
{
    char err[512] = "";
    write_file(f->path, text, len);
    store_t *s = t_open(f->dir, err, sizeof(err));
    if (s != NULL) {
        store_close(s);
        fail_msg("store_open accepted a corrupt file: %.*s", (int)len, text);
    }
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "functions.json"));
    size_t after_len = 0;
    char *after = read_file(f->path, &after_len);
    assert_non_null(after);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, text, len);
    free(after);
}

#define REC(id, extra)                                                                             \
    "\"" id "\":{\"id\":\"" id "\",\"name\":\"n" id "\",\"image\":\"busybox\"" extra "}"

static void test_corrupt_files_refused(void **state)
{
    fixture *f = *state;
    static const char *const cases[] = {
        /* truncated JSON */
        "{\"" V1_ID1 "\":{\"id\":\"" V1_ID1 "\",\"name\":\"a\",\"ima",
        "{",
        /* trailing garbage */
        "{}x",
        "{" REC(V1_ID1, "") "}\n}",
        "{" REC(V1_ID1, "") "} {}",
        "{}\n\n[",
        /* not an object */
        "[]",
        "[{\"id\":\"" V1_ID1 "\",\"name\":\"a\",\"image\":\"busybox\"}]",
        "42",
        "\"text\"",
        "null",
        /* a record missing "image" */
        "{\"" V1_ID1 "\":{\"id\":\"" V1_ID1 "\",\"name\":\"a\"}}",
        /* a record missing "name" among good ones */
        "{" REC(V1_ID1, "") ",\"" V1_ID2 "\":{\"id\":\"" V1_ID2 "\",\"image\":\"b\"}}",
        /* a record that is not an object */
        "{\"" V1_ID1 "\":\"busybox\"}",
        /* a record whose key is not its id */
        "{\"" V1_ID1 "\":{\"id\":\"" V1_ID2 "\",\"name\":\"a\",\"image\":\"busybox\"}}",
        "{\"echo\":{\"id\":\"" V1_ID1 "\",\"name\":\"echo\",\"image\":\"busybox\"}}",
        /* garbage */
        "not json at all",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        corrupt_case(f, cases[i], strlen(cases[i]));
    /* A NUL byte after the object. */
    corrupt_case(f, "{}\0", 3);
    corrupt_case(f, "{}\n\0\n", 5);
}

/* A valid store whose file goes bad behind its back: reads fail, and writes
 * refuse to overwrite the corrupt file. */
static void test_corrupt_file_never_overwritten(void **state)
{
    fixture *f = *state;
    err_t ferr;
    char id[64];
    store_t *s = open_ok(f);
    create_ok(s, "before", "busybox", id, sizeof(id));

    const char *bad = "{\"torn\": {\"id\": \"tor";
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s/replacement", f->dir);
    write_file(tmp, bad, strlen(bad));
    assert_int_equal(rename(tmp, f->path), 0);

    json_object *got = (json_object *)1;
    assert_int_equal(t_get(s, id, &got), STORE_ERROR);
    assert_null(got);
    assert_int_equal(store_count(s), -1);
    char *list = (char *)1;
    assert_int_equal(t_list(s, &list), STORE_ERROR);
    assert_null(list);

    json_object *body = parse("{\"name\":\"after\",\"image\":\"busybox\"}");
    json_object *out = (json_object *)1;
    assert_int_equal(t_create(s, body, &out, &ferr), STORE_ERROR);
    assert_null(out);
    json_object_put(body);
    json_object *patch = parse("{\"timeout\":5}");
    assert_int_equal(t_update(s, id, patch, &out, &ferr), STORE_ERROR);
    json_object_put(patch);
    assert_int_equal(t_delete(s, id), STORE_ERROR);

    size_t len = 0;
    char *now = read_file(f->path, &len);
    assert_non_null(now);
    assert_int_equal(len, strlen(bad));
    assert_memory_equal(now, bad, len);
    free(now);
    store_close(s);
}

static void test_first_format(void **state)
{
    fixture *f = *state;
    const char *text = "{\n  \"" V1_ID1 "\": {\"id\": \"" V1_ID1 "\", \"name\": \"hello\", "
                       "\"image\": \"busybox\", \"created_at\": \"2024-01-01T00:00:00.000Z\"}\n}\n";
    write_file(f->path, text, strlen(text));
    store_t *s = open_ok(f);

    /* Opening does not rewrite the file. */
    size_t len = 0;
    char *now = read_file(f->path, &len);
    assert_string_equal(now, text);
    free(now);

    json_object *rec = NULL;
    assert_int_equal(t_get(s, "hello", &rec), STORE_OK);
    assert_string_equal(get_str(rec, "id"), V1_ID1);
    assert_string_equal(get_str(rec, "image"), "busybox");
    assert_int_equal(get_int(rec, "timeout"), 120);
    assert_int_equal(get_int(rec, "memory_mb"), 256);
    json_object *cpus = NULL;
    assert_true(json_object_object_get_ex(rec, "cpus", &cpus));
    assert_true(fabs(json_object_get_double(cpus) - 1.0) < 1e-12);
    json_object *env = NULL;
    assert_true(json_object_object_get_ex(rec, "env", &env));
    assert_true(json_object_is_type(env, json_type_object));
    assert_int_equal(json_object_object_length(env), 0);
    assert_string_equal(get_str(rec, "network"), "none");
    assert_string_equal(get_str(rec, "created_at"), "2024-01-01T00:00:00.000Z");
    assert_string_equal(get_str(rec, "updated_at"), "2024-01-01T00:00:00.000Z");
    json_object_put(rec);
    assert_int_equal(store_count(s), 1);

    /* A write keeps the first-format record, now with its defaults. */
    create_ok(s, "second", "busybox", NULL, 0);
    store_close(s);
    now = read_file(f->path, NULL);
    json_object *root = parse(now);
    free(now);
    json_object *v1 = NULL;
    assert_true(json_object_object_get_ex(root, V1_ID1, &v1));
    assert_string_equal(get_str(v1, "name"), "hello");
    assert_int_equal(get_int(v1, "timeout"), 120);
    assert_int_equal(json_object_object_length(root), 2);
    json_object_put(root);
}

/* A 0-byte file is a write that never finished, not "no functions": it
 * is refused, named, and left as it is, and the message says how to put
 * the backup back. */
static void test_empty_file_is_corrupt(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    struct stat st;
    write_file(f->path, "", 0);
    assert_null(t_open(f->dir, err, sizeof(err)));
    assert_non_null(strstr(err, "empty"));
    assert_non_null(strstr(err, "functions.json.bak"));
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, 0);
    write_file(f->path, " {}\n", 4);
    store_t *s = open_ok(f);
    assert_int_equal(store_count(s), 0);
    store_close(s);
}

/* A file damaged under a running store: every call answers store_corrupt
 * (503) and no write touches it; the backup holds the last good version. */
static void test_corrupt_while_open(void **state)
{
    fixture *f = *state;
    char id[64];
    err_t e;
    func_t *got = NULL;
    store_t *s = open_ok(f);
    create_ok(s, "first", "busybox", id, sizeof(id));
    create_ok(s, "second", "busybox", NULL, 0);
    char *bak = read_file(f->bakpath, NULL);
    assert_non_null(strstr(bak, "first"));
    assert_null(strstr(bak, "second"));
    free(bak);

    write_file(f->path, "{\"half", 6);
    assert_int_equal(store_get(s, "first", &got, &e), -1);
    assert_int_equal(e.kind, ERR_CORRUPT);
    assert_int_equal(err_status(&e), 503);
    assert_string_equal(err_code(&e), "store_corrupt");
    json_object *body = parse("{\"name\":\"third\",\"image\":\"busybox\"}");
    assert_int_equal(store_create(s, body, NULL, NULL, &got, &e), -1);
    json_object_put(body);
    assert_int_equal(e.kind, ERR_CORRUPT);
    assert_int_equal(store_delete(s, id, &e), -1);
    assert_int_equal(store_count(s), -1);
    size_t len = 0;
    char *now = read_file(f->path, &len);
    assert_int_equal(len, 6);
    free(now);
    store_close(s);
}

static void test_cache_sees_replaced_file(void **state)
{
    fixture *f = *state;
    char id[64];
    store_t *s = open_ok(f);
    create_ok(s, "first", "busybox", id, sizeof(id));
    json_object *got = NULL;
    assert_int_equal(t_get(s, "first", &got), STORE_OK); /* cached now */
    json_object_put(got);
    assert_int_equal(store_count(s), 1);

    /* Another process replaces the file (as store writers do: rename). */
    const char *text = "{" REC(V1_ID1, "") "," REC(V1_ID2, "") "}";
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s/other-writer.tmp", f->dir);
    write_file(tmp, text, strlen(text));
    assert_int_equal(rename(tmp, f->path), 0);

    assert_int_equal(t_get(s, "first", &got), STORE_NOT_FOUND);
    assert_int_equal(t_get(s, V1_ID2, &got), STORE_OK);
    assert_string_equal(get_str(got, "name"), "n" V1_ID2);
    json_object_put(got);
    assert_int_equal(store_count(s), 2);
    char *list = NULL;
    assert_int_equal(t_list(s, &list), STORE_OK);
    assert_non_null(strstr(list, V1_ID1));
    assert_null(strstr(list, id));
    free(list);

    /* Rewritten in place with a different size: noticed too. */
    const char *one = "{" REC(V1_ID3, "") "}";
    write_file(f->path, one, strlen(one));
    assert_int_equal(store_count(s), 1);
    assert_int_equal(t_get(s, V1_ID3, &got), STORE_OK);
    json_object_put(got);

    /* Removed: an empty store. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(store_count(s), 0);
    store_close(s);
}

/* Two stores on one directory, as two processes of the pool would have. */
static void test_two_stores_share_file(void **state)
{
    fixture *f = *state;
    store_t *a = open_ok(f);
    store_t *b = open_ok(f);
    assert_int_equal(store_count(b), 0);
    create_ok(a, "from-a", "busybox", NULL, 0);
    assert_int_equal(store_count(b), 1);
    create_ok(b, "from-b", "busybox", NULL, 0);
    assert_int_equal(store_count(a), 2);
    json_object *got = NULL;
    assert_int_equal(t_get(a, "from-b", &got), STORE_OK);
    json_object_put(got);
    err_t ferr;
    json_object *body = parse("{\"name\":\"from-a\",\"image\":\"busybox\"}"), *out = NULL;
    assert_int_equal(t_create(b, body, &out, &ferr), STORE_CONFLICT);
    json_object_put(body);
    assert_int_equal(t_delete(b, "from-a"), STORE_OK);
    assert_int_equal(t_get(a, "from-a", &got), STORE_NOT_FOUND);
    store_close(a);
    store_close(b);
}

static void test_file_after_write(void **state)
{
    fixture *f = *state;
    char id1[64], id2[64], tmp[160];
    snprintf(tmp, sizeof(tmp), "%s/functions.json.tmp", f->dir);
    store_t *s = open_ok(f);
    /* Opening alone writes nothing. */
    assert_false(file_exists(f->path));
    create_ok(s, "one", "busybox", id1, sizeof(id1));
    create_ok(s, "two", "busybox:1.36", id2, sizeof(id2));
    assert_int_equal(t_delete(s, "one"), STORE_OK);
    create_ok(s, "three", "busybox", NULL, 0);

    assert_false(file_exists(tmp));
    char *text = read_file(f->path, NULL);
    assert_non_null(text);
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *root = json_tokener_parse_ex(tok, text, (int)strlen(text));
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    json_tokener_free(tok);
    free(text);
    assert_non_null(root);
    assert_true(json_object_is_type(root, json_type_object));
    assert_int_equal(json_object_object_length(root), 2);
    /* Keyed by id; each record complete. */
    json_object *rec = NULL;
    assert_false(json_object_object_get_ex(root, id1, NULL));
    assert_true(json_object_object_get_ex(root, id2, &rec));
    assert_string_equal(get_str(rec, "id"), id2);
    assert_string_equal(get_str(rec, "name"), "two");
    assert_string_equal(get_str(rec, "image"), "busybox:1.36");
    assert_int_equal(get_int(rec, "timeout"), 120);
    assert_int_equal(get_int(rec, "memory_mb"), 256);
    get_str(rec, "created_at");
    get_str(rec, "updated_at");
    get_str(rec, "network");
    json_object_put(root);
    store_close(s);

    /* No temp file left in the directory, whatever its name. */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strcmp(e->d_name, "functions.json") != 0 &&
            strcmp(e->d_name, "functions.json.bak") != 0 &&
            strcmp(e->d_name, "functions.json.lock") != 0)
            fail_msg("unexpected file %s left in the data dir", e->d_name);
    }
    closedir(d);
}

/* A first-format file may hold any string as an id; ids longer than the usual UUID
 * must survive updates and deletes like any other. */
static void test_long_first_format_id(void **state)
{
    fixture *f = *state;
    char id[201], text[1024];
    err_t ferr;
    memset(id, 'k', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    snprintf(text, sizeof(text),
             "{\"%s\":{\"id\":\"%s\",\"name\":\"long\",\"image\":\"busybox\"},"
             "\"" V1_ID1 "\":{\"id\":\"" V1_ID1 "\",\"name\":\"short\",\"image\":\"busybox\"}}",
             id, id);
    write_file(f->path, text, strlen(text));
    store_t *s = f->s = open_ok(f);

    json_object *patch = parse("{\"timeout\":7}"), *out = NULL;
    assert_int_equal(t_update(s, "long", patch, &out, &ferr), STORE_OK);
    json_object_put(patch);
    assert_string_equal(get_str(out, "id"), id);
    json_object_put(out);
    /* The file is still readable and holds the record once, changed. */
    assert_int_equal(store_count(s), 2);
    json_object *got = NULL;
    assert_int_equal(t_get(s, id, &got), STORE_OK);
    assert_int_equal(get_int(got, "timeout"), 7);
    json_object_put(got);

    assert_int_equal(t_delete(s, id), STORE_OK);
    assert_int_equal(t_get(s, "long", &got), STORE_NOT_FOUND);
    assert_int_equal(store_count(s), 1);
    f->s = NULL;
    store_close(s);
    s = f->s = open_ok(f);
    assert_int_equal(store_count(s), 1);
}

#define THREADS 4
#define PER_THREAD 25

typedef struct {
    store_t *s;
    int t;
    int ok;
    int failed;
} worker_arg;

static void *create_worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        char text[128];
        err_t ferr;
        json_object *out = NULL;
        snprintf(text, sizeof(text), "{\"name\":\"t%d-f%d\",\"image\":\"busybox\"}", a->t, i);
        json_object *body = json_tokener_parse(text);
        store_rc rc = t_create(a->s, body, &out, &ferr);
        json_object_put(body);
        json_object_put(out);
        if (rc == STORE_OK)
            a->ok++;
        else
            a->failed++;
        /* Readers run alongside the writers. */
        if (store_count(a->s) < 1)
            a->failed++;
    }
    return NULL;
}

static void run_concurrent(fixture *f, bool shared)
{
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    store_t *common = shared ? open_ok(f) : NULL;
    for (int i = 0; i < THREADS; i++) {
        args[i].s = shared ? common : open_ok(f);
        args[i].t = i;
        args[i].ok = 0;
        args[i].failed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, create_worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].ok, PER_THREAD);
        assert_int_equal(args[i].failed, 0);
        if (!shared)
            store_close(args[i].s);
    }
    store_t *s = open_ok(f);
    assert_int_equal(store_count(s), THREADS * PER_THREAD);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            char name[32];
            json_object *got = NULL;
            snprintf(name, sizeof(name), "t%d-f%d", t, i);
            assert_int_equal(t_get(s, name, &got), STORE_OK);
            json_object_put(got);
        }
    }
    char *list = NULL;
    assert_int_equal(t_list(s, &list), STORE_OK);
    json_object *arr = parse(list);
    free(list);
    assert_int_equal(json_object_array_length(arr), THREADS * PER_THREAD);
    json_object_put(arr);
    store_close(s);
    store_close(common);
}

static void test_concurrent_creates_shared_store(void **state)
{
    run_concurrent(*state, true);
}

static void test_concurrent_creates_store_per_thread(void **state)
{
    run_concurrent(*state, false);
}

/* A write that cannot happen reaches the caller with its cause: the call,
 * the path and errno, as ERR_STORAGE (storage_error); the file and the
 * cache stay as they were. */
static void test_write_error_carries_context(void **state)
{
    fixture *f = *state;
    char tmp[160], id[64];
    err_t e;
    store_t *s = open_ok(f);
    create_ok(s, "kept", "busybox", id, sizeof(id));
    size_t before_len = 0;
    char *before = read_file(f->path, &before_len);

    /* The temp file's name is taken by a directory: open() fails. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    assert_int_equal(mkdir(tmp, 0755), 0);
    json_object *body = parse("{\"name\":\"new\",\"image\":\"busybox\"}"), *out = NULL;
    err_clear(&e);
    assert_int_equal(t_create(s, body, &out, &e), STORE_ERROR);
    assert_null(out);
    assert_int_equal(e.kind, ERR_STORAGE);
    assert_string_equal(err_code(&e), "storage_error");
    assert_int_equal(err_status(&e), 500);
    assert_true(e.sys == EISDIR || e.sys == EEXIST);
    assert_non_null(strstr(e.msg, "functions.json.tmp"));
    assert_non_null(strstr(e.msg, "open"));
    json_object_put(body);
    assert_int_equal(rmdir(tmp), 0);

    size_t after_len = 0;
    char *after = read_file(f->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    assert_int_equal(t_get(s, "kept", &out), STORE_OK);
    json_object_put(out);
    assert_int_equal(t_get(s, "new", &out), STORE_NOT_FOUND);
    free(before);
    free(after);
    store_close(s);
}

/* A creation under a chosen id (an Idempotency-Key's retry): the record
 * that has that id already is returned as it is, nothing written. */
static void test_create_with_id(void **state)
{
    fixture *f = *state;
    json_object *body = parse("{\"name\":\"once\",\"image\":\"busybox\"}");
    json_object *other = parse("{\"name\":\"twice\",\"image\":\"busybox\"}");
    func_t *out = NULL, *again = NULL;
    struct stat before, after;
    err_t e;
    store_t *s = open_ok(f);

    assert_int_equal(store_create(s, body, NULL, V1_ID1, &out, &e), 0);
    assert_string_equal(out->id, V1_ID1);
    assert_int_equal(stat(f->path, &before), 0);
    assert_int_equal(store_create(s, other, NULL, V1_ID1, &again, &e), 0);
    assert_string_equal(again->name, "once");
    assert_string_equal(json_object_get_string(json_object_object_get(again->json, "created_at")),
                        json_object_get_string(json_object_object_get(out->json, "created_at")));
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(store_count(s), 1);
    func_free(again);
    func_free(out);
    json_object_put(other);
    json_object_put(body);
    store_close(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_missing_dir),
        T(test_open_fails_cleanly),
        T(test_round_trip),
        T(test_persists_across_open),
        T(test_create_invalid),
        T(test_list_oldest_first),
        T(test_list_sorts_by_created_at),
        T(test_duplicate_name_conflicts),
        T(test_corrupt_files_refused),
        T(test_corrupt_file_never_overwritten),
        T(test_first_format),
        T(test_empty_file_is_corrupt),
        T(test_corrupt_while_open),
        T(test_cache_sees_replaced_file),
        T(test_two_stores_share_file),
        T(test_file_after_write),
        T(test_long_first_format_id),
        T(test_concurrent_creates_shared_store),
        T(test_concurrent_creates_store_per_thread),
        T(test_write_error_carries_context),
        T(test_create_with_id),
    };
#undef T
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
