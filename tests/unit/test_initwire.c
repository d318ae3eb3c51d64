/*
 * initwire: minilambda-init's framing, written and read by the one module
 * both ends link: what one side writes, the other parses back the same,
 * and what breaks the framing is refused with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parse/initwire.h"

static void test_request_round_trip(void **state)
{
    char line[INITWIRE_REQUEST_MAX + 2];
    initwire_request q;
    err_t e;
    (void)state;
    int n = initwire_request_head(line, sizeof(line), 4, 1234567, "0123abcd");
    assert_true(n > 0);
    assert_int_equal(line[n - 1], '\n');
    line[n - 1] = '\0';
    assert_int_equal(initwire_request_parse(line, 32, UINT64_C(1) << 40, &q, &e), 0);
    assert_int_equal(q.n_env, 4);
    assert_int_equal(q.event_len, 1234567);
    assert_string_equal(q.nonce, "0123abcd");
    /* The longest nonce and largest numbers still fit the line. */
    char nonce[INITWIRE_NONCE_MAX + 1];
    memset(nonce, 'z', INITWIRE_NONCE_MAX);
    nonce[INITWIRE_NONCE_MAX] = '\0';
    assert_true(initwire_request_head(line, sizeof(line), 32, UINT64_C(1) << 40, nonce) > 0);
    /* A nonce that is not one is never written. */
    assert_int_equal(initwire_request_head(line, sizeof(line), 1, 1, "no spaces"), -1);
    assert_int_equal(initwire_request_head(line, sizeof(line), 1, 1, ""), -1);
}

static void test_request_refused(void **state)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"MLINIT/1 0 0 n", "must start with"},
        {"MLINIT/3 x 0 n", "a number was expected"},
        {"MLINIT/3 33 0 n", "is over 32"},
        {"MLINIT/3 -1 0 n", "a number was expected"},
        {"MLINIT/3 1  0 n", "a number was expected"},
        {"MLINIT/3 1 0", "one space and the call's nonce"},
        {"MLINIT/3 1 0 ", "the nonce must be"},
        {"MLINIT/3 1 0 a-b", "the nonce must be"},
        {"MLINIT/3 1 99999999999999 n", "is over"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        initwire_request q;
        err_t e;
        assert_int_equal(initwire_request_parse(bad[i].line, 32, 1000, &q, &e), -1);
        assert_int_equal(e.kind, ERR_INVALID);
        if (strstr(e.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": %s (want \"%s\")", bad[i].line, e.msg, bad[i].why);
    }
}

static void test_frame_round_trip(void **state)
{
    char head[INITWIRE_FRAME_MAX + 2];
    char kind;
    uint64_t num;
    (void)state;
    static const struct {
        char kind;
        uint64_t num;
    } ok[] = {{'o', 1}, {'e', INITWIRE_CHUNK_MAX},      {'x', 0}, {'x', 255}, {'n', 0},
              {'f', 0}, {'f', INITWIRE_ERROR_TYPE_MAX}, {'i', 16}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int n = initwire_frame_head(head, sizeof(head), ok[i].kind, "n0nce", ok[i].num);
        assert_true(n > 0);
        assert_int_equal(initwire_frame_parse(head, (size_t)n - 1, "n0nce", &kind, &num),
                         INITWIRE_FRAME_OK);
        assert_int_equal(kind, ok[i].kind);
        assert_int_equal(num, ok[i].num);
    }
}

static void test_frame_refused(void **state)
{
    static const struct {
        const char *line;
        initwire_frame_rc rc;
    } bad[] = {
        {"q n0nce 1", INITWIRE_NOT_A_FRAME},    {"o", INITWIRE_NOT_A_FRAME},
        {"o other 1", INITWIRE_OTHER_NONCE},    {"o n0nc 1", INITWIRE_OTHER_NONCE},
        {"o n0nce1 1", INITWIRE_OTHER_NONCE},   {"o n0nce 0", INITWIRE_BAD_NUMBER},
        {"o n0nce 65537", INITWIRE_BAD_NUMBER}, {"x n0nce 256", INITWIRE_BAD_NUMBER},
        {"x n0nce -1", INITWIRE_BAD_NUMBER},    {"o n0nce 1 ", INITWIRE_BAD_NUMBER},
        {"o n0nce ", INITWIRE_BAD_NUMBER},      {"n n0nce 1", INITWIRE_BAD_NUMBER},
        {"f n0nce 128", INITWIRE_BAD_NUMBER},   {"i n0nce 128", INITWIRE_BAD_NUMBER},
        {"N n0nce 0", INITWIRE_NOT_A_FRAME},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char kind;
        uint64_t num;
        initwire_frame_rc rc =
            initwire_frame_parse(bad[i].line, strlen(bad[i].line), "n0nce", &kind, &num);
        if (rc != bad[i].rc)
            fail_msg("\"%s\": %d, want %d", bad[i].line, rc, bad[i].rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_refused),
        cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_frame_refused),
    };
    return cmocka_run_group_tests_name("initwire", tests, NULL, NULL);
}
