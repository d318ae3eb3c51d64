/*
 * Unit tests for the Idempotency-Key records: key validation, hashing, a
 * record's round trip from intent to answer, a key sent with another
 * request, expiry and pruning, an intent left by a request that died, a
 * key held by a request being served, answers too large to keep, the
 * bound on bytes, and a record that does not parse.
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
#include <unistd.h>

#include "base/clock.h"
#include "state/idem.h"

#define ID1 "123e4567-e89b-42d3-a456-426614174000"
#define ID2 "223e4567-e89b-42d3-a456-426614174000"

typedef struct {
    char dir[64];
    idem_t *i;
    long long now;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    err_t e;
    snprintf(f->dir, sizeof(f->dir), "/tmp/ml-idem-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->i = idem_open(f->dir, 1024 * 1024, 1024 * 1024, &e);
    f->now = clock_wall_ms();
    *state = f;
    return f->i != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    idem_close(f->i);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* An entry for `key` of scope `scope`, for a request with `body`. */
static void entry(idem_entry *en, const char *scope, const char *key, const char *body)
{
    err_t e;
    struct iovec name[] = {{.iov_base = (void *)scope, .iov_len = strlen(scope)},
                           {.iov_base = (void *)key, .iov_len = strlen(key)}};
    struct iovec req[] = {{.iov_base = "POST", .iov_len = 4},
                          {.iov_base = (void *)body, .iov_len = strlen(body)}};
    idem_entry_init(en);
    assert_int_equal(idem_hash(name, 2, en->name, &e), 0);
    assert_int_equal(idem_hash(req, 2, en->fingerprint, &e), 0);
}

/* The path of `en`'s file with `ext`. */
static const char *path_of(const fixture *f, const idem_entry *en, const char *ext)
{
    static char out[256];
    snprintf(out, sizeof(out), "%s/idempotency/%s%s", f->dir, en->name, ext);
    return out;
}

/* Begin `key` (scope "") with `body` at `now`; the state. */
static int begin(fixture *f, idem_entry *en, const char *key, const char *body, long long now)
{
    err_t e;
    entry(en, "", key, body);
    int st = idem_begin(f->i, en, now, &e);
    if (st < 0)
        fail_msg("idem_begin: %s", e.msg);
    return st;
}

/* A key first seen at `now` whose request answered `body` with 201. */
static void answered(fixture *f, const char *key, const char *body, const char *answer,
                     long long now)
{
    idem_entry en;
    err_t e;
    assert_int_equal(begin(f, &en, key, body, now), IDEM_NEW);
    assert_int_equal(idem_intent(f->i, &en, ID1, now, &e), 0);
    assert_int_equal(idem_answer(f->i, &en, 201, "Location: /functions/" ID1 "\r\n",
                                 "application/json", answer, strlen(answer), strlen(answer), &e),
                     0);
    idem_end(f->i, &en);
}

static void test_valid_key(void **state)
{
    char long_key[IDEM_KEY_MAX + 2];
    (void)state;
    assert_true(idem_valid_key("a"));
    assert_true(idem_valid_key("order 42 ~!@#$%^&*()"));
    assert_false(idem_valid_key(""));
    assert_false(idem_valid_key("tab\there"));
    assert_false(idem_valid_key("caf\xc3\xa9"));
    assert_false(idem_valid_key("del\x7f"));
    memset(long_key, 'k', sizeof(long_key));
    long_key[IDEM_KEY_MAX] = '\0';
    assert_true(idem_valid_key(long_key));
    long_key[IDEM_KEY_MAX] = 'k';
    long_key[IDEM_KEY_MAX + 1] = '\0';
    assert_false(idem_valid_key(long_key));
}

static void test_hash(void **state)
{
    idem_entry a, b, c;
    (void)state;
    entry(&a, "", "k", "{}");
    /* SHA-256 of the scope, a NUL byte and the key: the key itself is
     * never written down. */
    assert_string_equal(a.name, "f6dc1034b093dd79d1b96f328cb1e489ff00868c9a1fdb2f1f929e5bf31f9e51");
    entry(&b, "key-1", "k", "{}");
    assert_string_equal(b.name, "72dba1f14f2616b038538d8cea2303ce8c466a17f050b3639d6aa7c2d949bf0e");
    assert_string_equal(a.fingerprint, b.fingerprint);
    entry(&c, "", "k", "{ }");
    assert_string_equal(a.name, c.name);
    assert_string_not_equal(a.fingerprint, c.fingerprint);
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    idem_entry en;
    struct stat st;
    const char *answer = "{\"id\":\"" ID1 "\",\"name\":\"fn\"}";

    answered(f, "k1", "{\"name\":\"fn\"}", answer, f->now);
    assert_int_equal(begin(f, &en, "k1", "{\"name\":\"fn\"}", f->now + 1000), IDEM_DONE);
    assert_true(en.lock_fd >= 0);
    assert_int_equal(en.status, 201);
    assert_string_equal(en.id, ID1);
    assert_string_equal(en.headers, "Location: /functions/" ID1 "\r\n");
    assert_string_equal(en.ctype, "application/json");
    assert_true(en.kept);
    assert_int_equal(en.length, strlen(answer));
    assert_int_equal(en.body.len, strlen(answer));
    assert_memory_equal(en.body.data, answer, strlen(answer));
    assert_int_equal(en.created_ms, f->now);
    idem_end(f->i, &en);
    /* An answer is for its caller only; its lock file stays with it. */
    assert_int_equal(stat(path_of(f, &en, ".json"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(path_of(f, &en, ".lock"), &st), 0);
    /* Another scope's same key is another entry. */
    err_t e;
    entry(&en, "key-1", "k1", "{\"name\":\"fn\"}");
    assert_int_equal(idem_begin(f->i, &en, f->now, &e), IDEM_NEW);
    idem_end(f->i, &en);
    assert_int_equal(access(path_of(f, &en, ".lock"), F_OK), -1);
}

static void test_mismatch(void **state)
{
    fixture *f = *state;
    idem_entry en;
    answered(f, "k1", "{\"name\":\"fn\"}", "{}", f->now);
    assert_int_equal(begin(f, &en, "k1", "{\"name\":\"other\"}", f->now), IDEM_MISMATCH);
    assert_int_equal(en.lock_fd, -1);
    idem_end(f->i, &en);
    /* The record is untouched: the first request still replays. */
    assert_int_equal(begin(f, &en, "k1", "{\"name\":\"fn\"}", f->now), IDEM_DONE);
    idem_end(f->i, &en);
}

static void test_expiry_and_prune(void **state)
{
    fixture *f = *state;
    idem_entry en;
    err_t e;
    answered(f, "old", "{}", "{}", f->now);
    assert_int_equal(begin(f, &en, "old", "{}", f->now + IDEM_TTL_MS - 1), IDEM_DONE);
    idem_end(f->i, &en);
    /* 24 h on it is gone, mismatched or not: the key is new again. */
    assert_int_equal(begin(f, &en, "old", "{\"x\":1}", f->now + IDEM_TTL_MS), IDEM_NEW);
    idem_end(f->i, &en);
    assert_int_equal(access(path_of(f, &en, ".json"), F_OK), 0);
    assert_int_equal(idem_prune(f->i, f->now + IDEM_TTL_MS - 1000, &e), 0);
    assert_int_equal(access(path_of(f, &en, ".json"), F_OK), 0);
    assert_int_equal(idem_prune(f->i, f->now + IDEM_TTL_MS + 1000, &e), 1);
    assert_int_equal(access(path_of(f, &en, ".json"), F_OK), -1);
    assert_int_equal(access(path_of(f, &en, ".lock"), F_OK), -1);
    assert_int_equal(idem_usage(f->i), 0);
}

static void test_intent_without_answer(void **state)
{
    fixture *f = *state;
    idem_entry en, other;
    err_t e;
    assert_int_equal(begin(f, &en, "k", "{}", f->now), IDEM_NEW);
    assert_int_equal(idem_intent(f->i, &en, ID2, f->now, &e), 0);
    /* Served now: a second request with the key finds it busy. */
    assert_int_equal(begin(f, &other, "k", "{}", f->now), IDEM_BUSY);
    assert_int_equal(other.lock_fd, -1);
    idem_end(f->i, &other);
    /* The request dies: its lock goes, its intent stays. */
    idem_end(f->i, &en);
    assert_int_equal(begin(f, &en, "k", "{}", f->now), IDEM_INTENT);
    assert_string_equal(en.id, ID2);
    assert_int_equal(en.status, 0);
    assert_false(en.kept);
    /* A retry that made nothing forgets the key: it is new again. */
    assert_int_equal(idem_forget(f->i, &en, &e), 0);
    idem_end(f->i, &en);
    assert_int_equal(access(path_of(f, &en, ".lock"), F_OK), -1);
    assert_int_equal(begin(f, &en, "k", "{}", f->now), IDEM_NEW);
    idem_end(f->i, &en);
    assert_int_equal(idem_usage(f->i), 0);
}

static void test_busy_with_answer(void **state)
{
    fixture *f = *state;
    idem_entry en, other;
    answered(f, "k", "{}", "{\"a\":1}", f->now);
    assert_int_equal(begin(f, &en, "k", "{}", f->now), IDEM_DONE);
    /* A kept answer is replayed even while another request holds the key. */
    assert_int_equal(begin(f, &other, "k", "{}", f->now), IDEM_DONE);
    assert_int_equal(other.lock_fd, -1);
    assert_string_equal(other.body.data, "{\"a\":1}");
    idem_end(f->i, &other);
    idem_end(f->i, &en);
}

static void test_answer_not_kept(void **state)
{
    fixture *f = *state;
    idem_entry en;
    err_t e;
    size_t big = IDEM_ANSWER_MAX + 1;
    char *body = calloc(1, big);
    memset(body, 'x', big);
    assert_int_equal(begin(f, &en, "big", "{}", f->now), IDEM_NEW);
    assert_int_equal(idem_intent(f->i, &en, ID1, f->now, &e), 0);
    assert_int_equal(idem_answer(f->i, &en, 200, "X-Invocation-Id: " ID1 "\r\n", "application/json",
                                 body, big, big, &e),
                     0);
    idem_end(f->i, &en);
    assert_int_equal(begin(f, &en, "big", "{}", f->now), IDEM_DONE);
    assert_false(en.kept);
    assert_int_equal(en.status, 200);
    assert_int_equal(en.length, big);
    assert_int_equal(en.body.len, 0);
    assert_string_equal(en.headers, "X-Invocation-Id: " ID1 "\r\n");
    idem_end(f->i, &en);
    /* A copy that was cut is not the answer either. */
    assert_int_equal(begin(f, &en, "cut", "{}", f->now), IDEM_NEW);
    assert_int_equal(idem_intent(f->i, &en, ID1, f->now, &e), 0);
    assert_int_equal(idem_answer(f->i, &en, 200, NULL, "application/json", body, 10, 20, &e), 0);
    idem_end(f->i, &en);
    assert_int_equal(begin(f, &en, "cut", "{}", f->now), IDEM_DONE);
    assert_false(en.kept);
    idem_end(f->i, &en);
    free(body);
}

static void test_bound(void **state)
{
    fixture *f = *state;
    idem_entry en;
    err_t e;
    char key[16];
    idem_close(f->i);
    f->i = idem_open(f->dir, IDEM_MIN_BYTES, IDEM_MIN_BYTES, &e);
    assert_non_null(f->i);
    assert_int_equal(idem_recount(f->i, &e), 0);
    /* An intent costs its block and one for the lock: eight fit. */
    for (int k = 0; k < 8; k++) {
        snprintf(key, sizeof(key), "k%d", k);
        assert_int_equal(begin(f, &en, key, "{}", f->now), IDEM_NEW);
        assert_int_equal(idem_intent(f->i, &en, ID1, f->now, &e), 0);
        if (k < 7) {
            idem_end(f->i, &en);
            continue;
        }
        /* No room for a body: the answer's outcome is kept all the same. */
        char body[8192];
        memset(body, 'y', sizeof(body));
        assert_int_equal(idem_answer(f->i, &en, 202, NULL, "application/json", body, sizeof(body),
                                     sizeof(body), &e),
                         0);
        idem_end(f->i, &en);
    }
    assert_int_equal(idem_usage(f->i), IDEM_MIN_BYTES);
    assert_int_equal(begin(f, &en, "k7", "{}", f->now), IDEM_DONE);
    assert_false(en.kept);
    assert_int_equal(en.status, 202);
    idem_end(f->i, &en);
    assert_int_equal(begin(f, &en, "k8", "{}", f->now), IDEM_NEW);
    assert_int_equal(idem_intent(f->i, &en, ID1, f->now, &e), -1);
    assert_int_equal(e.kind, ERR_STORAGE_FULL);
    assert_string_equal(err_code(&e), "idempotency_full");
    idem_end(f->i, &en);
    assert_int_equal(access(path_of(f, &en, ".lock"), F_OK), -1);
    /* A count gone astray is right again after a recount. */
    assert_int_equal(idem_recount(f->i, &e), 0);
    assert_int_equal(idem_usage(f->i), IDEM_MIN_BYTES);
    assert_int_equal(idem_prune(f->i, f->now + IDEM_TTL_MS + 1000, &e), 8);
    assert_int_equal(idem_usage(f->i), 0);
}

/* An intent for `key` of caller `scope`: 0, or -1 with `e`. */
static int intent_of(fixture *f, const char *scope, const char *key, err_t *e)
{
    idem_entry en;
    entry(&en, scope, key, "{}");
    assert_int_equal(idem_caller(scope, &en, e), 0);
    assert_int_equal(idem_begin(f->i, &en, f->now, e), IDEM_NEW);
    int rc = idem_intent(f->i, &en, ID1, f->now, e);
    idem_end(f->i, &en);
    return rc;
}

/* One caller fills its share, never the whole: another's first key fits. */
static void test_caller_share(void **state)
{
    fixture *f = *state;
    idem_entry en;
    err_t e;
    char key[16];
    idem_close(f->i);
    /* Eight records in all, two a caller. */
    f->i = idem_open(f->dir, IDEM_MIN_BYTES, IDEM_MIN_BYTES / 4, &e);
    assert_non_null(f->i);
    assert_int_equal(idem_recount(f->i, &e), 0);
    assert_int_equal(intent_of(f, "key-a", "k1", &e), 0);
    assert_int_equal(intent_of(f, "key-a", "k2", &e), 0);
    assert_int_equal(intent_of(f, "key-a", "k3", &e), -1);
    assert_string_equal(err_code(&e), "idempotency_full");
    assert_non_null(strstr(e.msg, "MINILAMBDA_IDEMPOTENCY_KEY_MAX_BYTES"));
    assert_int_equal(intent_of(f, "key-b", "k1", &e), 0);
    assert_int_equal(intent_of(f, "key-b", "k2", &e), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof(key), "key-%d", k);
        assert_int_equal(intent_of(f, key, "k1", &e), 0);
        assert_int_equal(intent_of(f, key, "k2", &e), 0);
    }
    /* The whole is full now (four callers' two each): its bound. */
    assert_int_equal(intent_of(f, "key-c", "k1", &e), -1);
    assert_non_null(strstr(e.msg, "MINILAMBDA_IDEMPOTENCY_MAX_BYTES)"));
    /* A recount gives each caller its records again. */
    assert_int_equal(idem_recount(f->i, &e), 0);
    assert_int_equal(idem_usage(f->i), IDEM_MIN_BYTES);
    entry(&en, "key-a", "k9", "{}");
    assert_int_equal(idem_caller("key-a", &en, &e), 0);
    assert_int_equal(idem_caller_usage(f->i, &en), IDEM_MIN_BYTES / 4);
    idem_end(f->i, &en);
    /* Forgetting a record gives its share back. */
    assert_int_equal(idem_prune(f->i, f->now + IDEM_TTL_MS + 1000, &e), 8);
    entry(&en, "key-a", "k9", "{}");
    assert_int_equal(idem_caller("key-a", &en, &e), 0);
    assert_int_equal(idem_caller_usage(f->i, &en), 0);
    idem_end(f->i, &en);
    assert_int_equal(intent_of(f, "key-a", "k3", &e), 0);
}

static void test_corrupt(void **state)
{
    fixture *f = *state;
    idem_entry en;
    err_t e;
    entry(&en, "", "bad", "{}");
    FILE *fp = fopen(path_of(f, &en, ".json"), "w");
    assert_non_null(fp);
    fputs("not json\n", fp);
    fclose(fp);
    assert_int_equal(idem_begin(f->i, &en, f->now, &e), -1);
    assert_int_equal(e.kind, ERR_CORRUPT);
    idem_end(f->i, &en);
    /* Never removed, neither by a request nor by the prune. */
    assert_int_equal(access(path_of(f, &en, ".lock"), F_OK), 0);
    assert_true(idem_prune(f->i, f->now + 2 * IDEM_TTL_MS, &e) >= 0);
    assert_int_equal(access(path_of(f, &en, ".json"), F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_key),
        cmocka_unit_test(test_hash),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_without_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_with_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_not_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caller_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
