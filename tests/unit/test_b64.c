/*
 * Unit tests for b64: RFC 4648's test vectors in both alphabets, the URL
 * alphabet's characters, refusals of text that is not base64url, and every
 * buffer bound at its edge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/b64.h"

static const char *const vectors[][3] = {
    /* input, standard, url */
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char out[16];
        unsigned char back[16];
        size_t n = strlen(vectors[i][0]);
        assert_int_equal(b64_encode(vectors[i][0], n, out, sizeof(out)),
                         (long)strlen(vectors[i][1]));
        assert_string_equal(out, vectors[i][1]);
        assert_int_equal(b64_url_encode(vectors[i][0], n, out, sizeof(out)),
                         (long)strlen(vectors[i][2]));
        assert_string_equal(out, vectors[i][2]);
        assert_int_equal(b64_url_decode(vectors[i][2], back, sizeof(back)), (long)n);
        assert_string_equal((char *)back, vectors[i][0]);
        /* The standard decoder takes what the standard encoder wrote. */
        assert_int_equal(b64_decode(vectors[i][1], back, sizeof(back)), (long)n);
        assert_string_equal((char *)back, vectors[i][0]);
    }
}

/* The standard decoder refuses what is not padded base64, or does not
 * fit, and never writes past `cap`. */
static void test_decode_refusals(void **state)
{
    unsigned char back[8];
    (void)state;
    assert_int_equal(b64_decode("+/8=", back, sizeof(back)), 2);
    assert_int_equal(back[0], 0xfb);
    assert_int_equal(b64_decode("-_8=", back, sizeof(back)), -1); /* the URL alphabet */
    assert_int_equal(b64_decode("Zm9", back, sizeof(back)), -1);  /* not padded */
    assert_int_equal(b64_decode("Zg=a", back, sizeof(back)), -1); /* '=' inside */
    assert_int_equal(b64_decode("Z===", back, sizeof(back)), -1);
    assert_int_equal(b64_decode("%%%%", back, sizeof(back)), -1);
    assert_int_equal(b64_decode("Zm9vYmFy", back, 6), -1); /* 6 bytes and the NUL */
    assert_int_equal(b64_decode("Zm9vYmFy", back, 7), 6);
    assert_int_equal(b64_decode("", back, sizeof(back)), 0);
}

static void test_url_alphabet(void **state)
{
    (void)state;
    /* 0xfb 0xff: "+/8=" in the standard alphabet. */
    const unsigned char raw[] = {0xfb, 0xff, 0x00, 0x3e};
    char out[16];
    unsigned char back[16];
    assert_int_equal(b64_encode(raw, 2, out, sizeof(out)), 4);
    assert_string_equal(out, "+/8=");
    assert_int_equal(b64_url_encode(raw, 2, out, sizeof(out)), 3);
    assert_string_equal(out, "-_8");
    assert_int_equal(b64_url_decode("-_8", back, sizeof(back)), 2);
    assert_memory_equal(back, raw, 2);
    /* Binary with a NUL inside comes back whole. */
    assert_int_equal(b64_url_encode(raw, 4, out, sizeof(out)), 6);
    assert_int_equal(b64_url_decode(out, back, sizeof(back)), 4);
    assert_memory_equal(back, raw, 4);
}

static void test_refusals(void **state)
{
    unsigned char back[16];
    (void)state;
    /* The standard alphabet's own characters, padding, spaces, a lone
     * leftover character. */
    assert_int_equal(b64_url_decode("+/8", back, sizeof(back)), -1);
    assert_int_equal(b64_url_decode("Zg==", back, sizeof(back)), -1);
    assert_int_equal(b64_url_decode("Zm 9v", back, sizeof(back)), -1);
    assert_int_equal(b64_url_decode("Zm9vY", back, sizeof(back)), -1);
    assert_int_equal(b64_url_decode("Zm9v\n", back, sizeof(back)), -1);
}

static void test_bounds(void **state)
{
    char out[8];
    unsigned char back[8];
    (void)state;
    /* "foobar" is 8 characters: 9 bytes hold them and the NUL, 8 do not. */
    char fit[9];
    assert_int_equal(b64_encode("foobar", 6, fit, sizeof(fit)), 8);
    assert_int_equal(b64_encode("foobar", 6, out, sizeof(out)), -1);
    assert_string_equal(out, "");
    assert_int_equal(b64_url_encode("foobar", 6, out, sizeof(out)), -1);
    assert_int_equal(b64_encode("", 0, out, 0), -1);
    /* 6 bytes and the NUL need 7. */
    assert_int_equal(b64_url_decode("Zm9vYmFy", back, 7), 6);
    assert_int_equal(b64_url_decode("Zm9vYmFy", back, 6), -1);
    assert_int_equal(b64_url_decode("", back, 1), 0);
    assert_int_equal(b64_url_decode("", back, 0), -1);
    assert_int_equal(B64_LEN(0), 0);
    assert_int_equal(B64_LEN(1), 4);
    assert_int_equal(B64_LEN(32), 44);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),         cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_decode_refusals), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
