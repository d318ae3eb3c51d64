/*
 * Unit tests for API keys and their limits: creating, finding, listing and
 * revoking keys (only hashes at rest), the admin key made at start-up,
 * function lists; the shared rate buckets and failure counts; and when the
 * settings make keys required.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cidr.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/files.h"
#include "state/keys.h"
#include "state/throttle.h"

typedef struct {
    char dir[64];
    keys_t *k;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    err_t e;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ml-keys-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->k = keys_open(f->dir, &e);
    *state = f;
    return f->k != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    keys_close(f->k);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Create a key from `body`; its secret into `secret`, its id into `id`. */
static void make(fixture *f, const char *body, char *secret, char *id)
{
    json_object *b = json_tokener_parse(body), *out = NULL;
    err_t e;
    if (keys_create(f->k, b, "creator-1", &out, &e) != 0)
        fail_msg("keys_create(%s): %s", body, e.msg);
    snprintf(secret, 80, "%s", json_object_get_string(json_object_object_get(out, "key")));
    snprintf(id, 40, "%s", json_object_get_string(json_object_object_get(out, "id")));
    assert_false(json_object_object_get_ex(out, "hash", NULL));
    assert_string_equal(json_object_get_string(json_object_object_get(out, "created_by")),
                        "creator-1");
    json_object_put(out);
    json_object_put(b);
}

static const char *create_code_in(keys_t *k, const char *body)
{
    static char code[64];
    json_object *b = json_tokener_parse(body), *out = NULL;
    err_t e;
    int rc = keys_create(k, b, NULL, &out, &e);
    snprintf(code, sizeof(code), "%s", rc == 0 ? "ok" : err_code(&e));
    json_object_put(out);
    json_object_put(b);
    return code;
}

static const char *create_code(fixture *f, const char *body)
{
    return create_code_in(f->k, body);
}

static void test_create_find(void **state)
{
    fixture *f = *state;
    char secret[80], id[40], path[128];
    keys_key k;
    err_t e;
    make(f, "{\"name\":\"ci\",\"scopes\":[\"invoke\",\"read\"],\"rate\":2.5}", secret, id);
    assert_int_equal(strncmp(secret, KEYS_PREFIX, 4), 0);
    assert_int_equal(strlen(secret), 4 + 43);
    assert_int_equal(keys_find(f->k, secret, &k, &e), 1);
    assert_string_equal(k.id, id);
    assert_int_equal(k.scopes, KEYS_INVOKE | KEYS_READ);
    assert_null(k.functions);
    assert_true(k.rate > 2.4 && k.rate < 2.6);
    keys_key_free(&k);
    /* A near miss is no key. */
    secret[10] ^= 1;
    assert_int_equal(keys_find(f->k, secret, &k, &e), 0);
    assert_int_equal(keys_find(f->k, "", &k, &e), 0);
    secret[10] ^= 1;
    /* Only the hash is at rest, in a private file. */
    snprintf(path, sizeof(path), "%s/keys.json", f->dir);
    buf_t b;
    buf_init(&b, 1 << 20);
    assert_int_equal(files_read(path, &b, &e), 0);
    assert_null(strstr(b.data, secret));
    assert_null(strstr(b.data, secret + 4));
    buf_free(&b);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_list_delete(void **state)
{
    fixture *f = *state;
    char s1[80], id1[40], s2[80], id2[40];
    json_object *list = NULL;
    keys_key k;
    err_t e;
    make(f, "{\"name\":\"one\",\"scopes\":[\"admin\"]}", s1, id1);
    make(f, "{\"name\":\"two\",\"scopes\":[\"metrics\"],\"functions\":[\"f\"]}", s2, id2);
    assert_int_equal(keys_list(f->k, &list, &e), 0);
    assert_int_equal(json_object_array_length(list), 2);
    for (size_t i = 0; i < 2; i++) {
        json_object *r = json_object_array_get_idx(list, i);
        assert_false(json_object_object_get_ex(r, "hash", NULL));
        assert_false(json_object_object_get_ex(r, "key", NULL));
        assert_true(json_object_object_get_ex(r, "prefix", NULL));
    }
    json_object_put(list);
    /* A second handle (another worker) sees a revocation at once. */
    keys_t *other = keys_open(f->dir, &e);
    assert_int_equal(keys_find(other, s1, &k, &e), 1);
    keys_key_free(&k);
    assert_int_equal(keys_delete(f->k, id1, &e), 0);
    assert_int_equal(keys_find(other, s1, &k, &e), 0);
    assert_int_equal(keys_find(other, s2, &k, &e), 1);
    keys_key_free(&k);
    assert_int_equal(keys_delete(f->k, id1, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    keys_close(other);
}

static void test_validation(void **state)
{
    fixture *f = *state;
    (void)f;
    assert_string_equal(create_code(f, "{\"scopes\":[\"read\"]}"), "invalid_name");
    assert_string_equal(create_code(f, "{\"name\":\"x\"}"), "invalid_scopes");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[]}"), "invalid_scopes");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\",\"read\"]}"),
                        "invalid_scopes");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"root\"]}"), "invalid_scopes");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\"],\"rate\":-1}"),
                        "invalid_rate");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\"],\"rate\":10001}"),
                        "invalid_rate");
    assert_string_equal(
        create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\"],\"functions\":\"f\"}"),
        "invalid_functions");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\"],\"admin\":true}"),
                        "unknown_field");
    assert_string_equal(create_code(f, "{\"name\":\"a\\u0000b\",\"scopes\":[\"read\"]}"),
                        "invalid_name");
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\"],\"rate\":10000}"),
                        "ok");
}

static void test_bootstrap(void **state)
{
    fixture *f = *state;
    char path[128];
    err_t e;
    keys_key k;
    snprintf(path, sizeof(path), "%s/admin.key", f->dir);
    assert_int_equal(keys_bootstrap(f->k, path, &e), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    buf_t b;
    buf_init(&b, 1024);
    assert_int_equal(files_read(path, &b, &e), 0);
    assert_int_equal(b.data[b.len - 1], '\n');
    b.data[--b.len] = '\0';
    assert_int_equal(keys_find(f->k, b.data, &k, &e), 1);
    assert_int_equal(k.scopes, KEYS_ADMIN);
    keys_key_free(&k);
    buf_free(&b);
    /* Keys exist now: nothing more is made. */
    assert_int_equal(keys_bootstrap(f->k, path, &e), 0);
}

static void test_function_lists(void **state)
{
    fixture *f = *state;
    char s[80], id[40];
    keys_key k;
    err_t e;
    func_t *fa = func_parse(json_tokener_parse("{\"id\":\"id-a\",\"name\":\"a\"}"), &e);
    func_t *fb = func_parse(json_tokener_parse("{\"id\":\"id-b\",\"name\":\"b\"}"), &e);
    assert_non_null(fa);
    assert_non_null(fb);
    make(f, "{\"name\":\"x\",\"scopes\":[\"invoke\"],\"functions\":[\"a\",\"id-c\"]}", s, id);
    assert_int_equal(keys_find(f->k, s, &k, &e), 1);
    assert_true(keys_allows_function(&k, fa));
    assert_false(keys_allows_function(&k, fb));
    assert_true(keys_allows_name(&k, "id-c"));
    assert_false(keys_allows_name(&k, "b"));
    keys_key_free(&k);
    /* No list, or no key at all (keys not required): anything. */
    make(f, "{\"name\":\"y\",\"scopes\":[\"invoke\"]}", s, id);
    assert_int_equal(keys_find(f->k, s, &k, &e), 1);
    assert_true(keys_allows_function(&k, fb));
    keys_key_free(&k);
    assert_true(keys_allows_function(NULL, fb));
    func_free(fa);
    func_free(fb);
    assert_int_equal(keys_scope("deploy"), KEYS_DEPLOY);
    assert_int_equal(keys_scope("Deploy"), 0);
}

static void test_throttle_rate(void **state)
{
    (void)state;
    throttle_t *t = throttle_create();
    assert_non_null(t);
    /* One second's worth at once, then a wait of about 1/rate. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(throttle_take(t, "k5", 5), 0);
    long wait = throttle_take(t, "k5", 5);
    assert_true(wait > 0 && wait <= 201);
    /* Another key has its own bucket. */
    assert_int_equal(throttle_take(t, "k-other", 5), 0);
    /* A rate under one still lets one request through. */
    assert_int_equal(throttle_take(t, "slow", 0.5), 0);
    wait = throttle_take(t, "slow", 0.5);
    assert_true(wait > 1000 && wait <= 2001);
    /* The bucket refills with time: poll, with a deadline. */
    long long until = clock_mono_ms() + 3000;
    while (throttle_take(t, "k5", 5) != 0 && clock_mono_ms() < until)
        ;
    assert_true(clock_mono_ms() < until);
    throttle_destroy(t);
}

/* The failure count of `addr` after one more failure. */
static int fail_once(throttle_t *t, const char *addr)
{
    unsigned char k[THROTTLE_ADDR_LEN];
    assert_int_equal(cidr_key(addr, k), 0);
    return throttle_fail(t, k);
}

static void test_throttle_failures(void **state)
{
    (void)state;
    throttle_t *t = throttle_create();
    assert_non_null(t);
    /* Failures count across processes sharing the mapping. */
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 3; i++)
            fail_once(t, "10.0.0.1");
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    int n = fail_once(t, "10.0.0.1");
    /* Unless the minute turned meanwhile. */
    assert_true(n == 4 || n == 1);
    /* Exact per address: 127.0.11.225 shared 127.0.0.1's hashed bucket. */
    assert_int_equal(fail_once(t, "127.0.11.225"), 1);
    assert_int_equal(fail_once(t, "127.0.0.1"), 1);
    /* IPv6 by its /64; an IPv4-mapped address is its IPv4 one. */
    assert_int_equal(fail_once(t, "2001:db8:1:2::1"), 1);
    n = fail_once(t, "2001:db8:1:2:ffff::9");
    assert_true(n == 2 || n == 1);
    assert_int_equal(fail_once(t, "2001:db8:1:3::1"), 1);
    n = fail_once(t, "::ffff:127.0.11.225");
    assert_true(n == 2 || n == 1);
    unsigned char k[THROTTLE_ADDR_LEN];
    assert_int_equal(cidr_key("not-an-address", k), -1);
    assert_true(throttle_minute_left() > 0 && throttle_minute_left() <= 60000);
    throttle_destroy(t);
}

/* More keys than the table holds: every first request of each still
 * passes (a full table gives way, it never refuses). */
static void test_throttle_full(void **state)
{
    char id[THROTTLE_ID_MAX];
    (void)state;
    throttle_t *t = throttle_create();
    assert_non_null(t);
    for (int i = 0; i < 3 * THROTTLE_SLOTS; i++) {
        snprintf(id, sizeof(id), "key-%d", i);
        assert_int_equal(throttle_take(t, id, 1), 0);
    }
    /* A key just used keeps its bucket while others come and go. */
    assert_int_equal(throttle_take(t, "mine", 1), 0);
    assert_true(throttle_take(t, "mine", 1) > 0);
    throttle_destroy(t);
}

/* When keys are required: on always; auto unless nginx binds loopback
 * only; off refused on a reachable bind. */
static void test_config_auth(void **state)
{
    config_t c;
    err_t e;
    (void)state;
    static const struct {
        const char *auth, *bind;
        int ok;
        bool required;
    } rows[] = {
        {"auto", "127.0.0.1", 1, false}, {"auto", "0.0.0.0", 1, true},
        {"auto", "::1", 1, false},       {"auto", "10.1.2.3", 1, true},
        {"on", "127.0.0.1", 1, true},    {"off", "127.0.0.1", 1, false},
        {"off", "0.0.0.0", 0, false},    {"maybe", "127.0.0.1", 0, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        setenv("MINILAMBDA_AUTH", rows[i].auth, 1);
        setenv("MINILAMBDA_BIND", rows[i].bind, 1);
        int rc = config_load(&c, &e);
        if ((rc == 0) != rows[i].ok)
            fail_msg("AUTH=%s BIND=%s: %s", rows[i].auth, rows[i].bind, rc ? e.msg : "accepted");
        if (rc == 0)
            assert_int_equal(c.auth_required, rows[i].required);
        else
            assert_non_null(strstr(e.msg, "MINILAMBDA_AUTH"));
    }
    unsetenv("MINILAMBDA_AUTH");
    unsetenv("MINILAMBDA_BIND");
}

/* Each write keeps the version it replaces as keys.json.bak; a file that
 * does not parse (empty too) is corrupt, says how to restore it, and is
 * left as it is. */
static void test_backup_and_corrupt(void **state)
{
    fixture *f = *state;
    char s1[80], id1[40], s2[80], id2[40], path[128], bak[140];
    keys_key k;
    err_t e;
    snprintf(path, sizeof(path), "%s/keys.json", f->dir);
    snprintf(bak, sizeof(bak), "%s/keys.json.bak", f->dir);
    assert_int_equal(keys_verify(f->k, &e), 0); /* missing: no key, fine */
    make(f, "{\"name\":\"one\",\"scopes\":[\"admin\"]}", s1, id1);
    make(f, "{\"name\":\"two\",\"scopes\":[\"read\"]}", s2, id2);
    struct stat st;
    assert_int_equal(stat(bak, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The backup is the version before the second key. */
    keys_t *old = keys_open(f->dir, &e);
    assert_non_null(old);
    assert_int_equal(rename(bak, path), 0);
    assert_int_equal(keys_find(old, s1, &k, &e), 1);
    keys_key_free(&k);
    assert_int_equal(keys_find(old, s2, &k, &e), 0);
    keys_close(old);
    static const char *const bad[] = {"", "{\"torn", "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(files_write(path, bad[i], strlen(bad[i]), 0, &e), 0);
        assert_int_equal(keys_verify(f->k, &e), -1);
        assert_int_equal(e.kind, ERR_CORRUPT);
        assert_non_null(strstr(e.msg, "keys.json.bak (mv it over the file"));
        assert_int_equal(keys_find(f->k, s1, &k, &e), -1);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, (off_t)strlen(bad[i]));
    }
}

/* A key with AWS credentials: the id and secret shown once, the id in
 * listings and never the secret, nothing of the secret in keys.json, the
 * lookup by id opening it, another process (a new store) too, revocation,
 * and a keys.json whose sealing file is gone. */
static void test_aws(void **state)
{
    fixture *f = *state;
    json_object *b = json_tokener_parse("{\"name\":\"cli\",\"scopes\":[\"read\"],\"aws\":true}");
    json_object *out = NULL, *list = NULL;
    char akid[64], secret[64], path[128], got[KEYS_AWS_SECRET_LEN + 1];
    keys_key key;
    err_t e;
    buf_t text;
    assert_int_equal(keys_create(f->k, b, NULL, &out, &e), 0);
    snprintf(akid, sizeof(akid), "%s",
             json_object_get_string(json_object_object_get(out, "aws_access_key_id")));
    snprintf(secret, sizeof(secret), "%s",
             json_object_get_string(json_object_object_get(out, "aws_secret_access_key")));
    assert_int_equal(strlen(akid), KEYS_AWS_ID_LEN);
    assert_int_equal(strncmp(akid, KEYS_AWS_ID_PREFIX, 4), 0);
    for (size_t i = 0; i < strlen(akid); i++)
        assert_true((akid[i] >= 'A' && akid[i] <= 'Z') || (akid[i] >= '0' && akid[i] <= '9'));
    assert_int_equal(strlen(secret), KEYS_AWS_SECRET_LEN);
    assert_false(json_object_object_get_ex(out, "aws_secret_sealed", NULL));
    assert_false(json_object_object_get_ex(out, "aws", NULL));
    json_object_put(out);
    json_object_put(b);
    /* The listing shows the id, never the secret, sealed or not. */
    assert_int_equal(keys_list(f->k, &list, &e), 0);
    json_object *rec = json_object_array_get_idx(list, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(rec, "aws_access_key_id")),
                        akid);
    assert_false(json_object_object_get_ex(rec, "aws_secret_access_key", NULL));
    assert_false(json_object_object_get_ex(rec, "aws_secret_sealed", NULL));
    json_object_put(list);
    /* keys.json holds no plain secret; keys.seal is 32 bytes, 0600. */
    snprintf(path, sizeof(path), "%s/keys.json", f->dir);
    buf_init(&text, 1 << 20);
    assert_int_equal(files_read(path, &text, &e), 0);
    assert_null(strstr(text.data, secret));
    buf_free(&text);
    struct stat st;
    snprintf(path, sizeof(path), "%s/" KEYS_SEAL_FILE, f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Found by the id, in this store and in a fresh one. */
    assert_int_equal(keys_find_aws(f->k, akid, &key, got, &e), 1);
    assert_string_equal(got, secret);
    assert_int_equal(key.scopes, KEYS_READ);
    keys_key_free(&key);
    assert_int_equal(keys_find_aws(f->k, "MLAKAAAAAAAAAAAAAAAA", &key, got, &e), 0);
    keys_t *other = keys_open(f->dir, &e);
    assert_non_null(other);
    assert_int_equal(keys_find_aws(other, akid, &key, got, &e), 1);
    assert_string_equal(got, secret);
    keys_key_free(&key);
    keys_close(other);
    /* A second AWS key seals under the same file. */
    char s2[80], id2[40];
    make(f, "{\"name\":\"two\",\"scopes\":[\"invoke\"],\"aws\":true}", s2, id2);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(keys_find_aws(f->k, akid, &key, got, &e), 1);
    keys_key_free(&key);
    /* Without the sealing file: a clear error, and no new seal made over
     * the secrets that need the old one. */
    char moved[160];
    snprintf(moved, sizeof(moved), "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    other = keys_open(f->dir, &e);
    assert_int_equal(keys_find_aws(other, akid, &key, got, &e), -1);
    assert_string_equal(err_code(&e), "keys_seal_missing");
    assert_int_equal(err_status(&e), 503);
    assert_string_equal(
        create_code_in(other, "{\"name\":\"x\",\"scopes\":[\"read\"],\"aws\":true}"),
        "keys_seal_missing");
    assert_int_not_equal(stat(path, &st), 0);
    /* Another instance's sealing key does not open them. */
    assert_int_equal(rename(moved, path), 0);
    keys_close(other);
    FILE *w = fopen(path, "w");
    assert_non_null(w);
    fwrite("0123456789abcdef0123456789abcdef", 1, 32, w);
    fclose(w);
    other = keys_open(f->dir, &e);
    assert_int_equal(keys_find_aws(other, akid, &key, got, &e), -1);
    assert_string_equal(err_code(&e), "keys_seal_invalid");
    keys_close(other);
    /* Revoked: not found on the next lookup. */
    list = NULL;
    assert_int_equal(keys_list(f->k, &list, &e), 0);
    const char *id =
        json_object_get_string(json_object_object_get(json_object_array_get_idx(list, 0), "id"));
    assert_int_equal(keys_delete(f->k, id, &e), 0);
    json_object_put(list);
    assert_int_equal(keys_find_aws(f->k, akid, &key, got, &e), 0);
    assert_string_equal(create_code(f, "{\"name\":\"x\",\"scopes\":[\"read\"],\"aws\":1}"),
                        "invalid_aws");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_find),
        T(test_list_delete),
        T(test_validation),
        T(test_bootstrap),
        T(test_function_lists),
        T(test_backup_and_corrupt),
        T(test_aws),
        cmocka_unit_test(test_throttle_rate),
        cmocka_unit_test(test_throttle_failures),
        cmocka_unit_test(test_throttle_full),
        cmocka_unit_test(test_config_auth),
    };
#undef T
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
