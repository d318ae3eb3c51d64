/*
 * Unit tests for buf: bounds, partial appends, formatting past the small
 * stack buffer, detaching, NUL termination and binary data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static void test_init_allocates_nothing(void **state)
{
    buf_t b;
    (void)state;
    memset(&b, 0x55, sizeof(b));
    buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);
    buf_free(&b);
}

static void test_append_exactly_max(void **state)
{
    buf_t b;
    char src[64];
    (void)state;
    memset(src, 'a', sizeof(src));
    buf_init(&b, 64);
    assert_int_equal(buf_append(&b, src, 64), BUF_OK);
    assert_int_equal(b.len, 64);
    assert_memory_equal(b.data, src, 64);
    assert_int_equal(b.data[64], '\0');
    /* Full: even one more byte is too big, but zero bytes still fit. */
    assert_int_equal(buf_append(&b, "x", 1), BUF_TOO_BIG);
    assert_int_equal(b.len, 64);
    assert_int_equal(buf_append(&b, "x", 0), BUF_OK);
    assert_int_equal(b.len, 64);
    buf_free(&b);
}

static void test_append_max_plus_one_leaves_buffer_unchanged(void **state)
{
    buf_t b;
    char src[65];
    (void)state;
    memset(src, 'b', sizeof(src));
    buf_init(&b, 64);

    /* Into an empty buffer. */
    assert_int_equal(buf_append(&b, src, 65), BUF_TOO_BIG);
    assert_int_equal(b.len, 0);

    /* Into a partly filled one: 10 + 55 = 65 > 64. */
    assert_int_equal(buf_append(&b, "0123456789", 10), BUF_OK);
    char *before = b.data;
    size_t cap = b.cap;
    assert_int_equal(buf_append(&b, src, 55), BUF_TOO_BIG);
    assert_int_equal(b.len, 10);
    assert_ptr_equal(b.data, before);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "0123456789");
    /* 10 + 54 = 64 fits exactly. */
    assert_int_equal(buf_append(&b, src, 54), BUF_OK);
    assert_int_equal(b.len, 64);
    assert_int_equal(b.data[64], '\0');
    buf_free(&b);
}

static void test_append_zero_max(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "a", 1), BUF_TOO_BIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_append(&b, "", 0), BUF_OK);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_append_some(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_append_some(&b, "abcd", 4), 4);
    assert_int_equal(buf_append_some(&b, "efghijklmn", 10), 6);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "abcdefghij");
    assert_int_equal(buf_append_some(&b, "zz", 2), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "abcdefghij");
    buf_free(&b);

    /* Everything fits: all of it is taken. */
    buf_init(&b, 1000);
    assert_int_equal(buf_append_some(&b, "hello", 5), 5);
    assert_string_equal(b.data, "hello");
    buf_free(&b);
}

static void test_puts(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "abc"), BUF_OK);
    assert_int_equal(buf_puts(&b, "defgh"), BUF_OK);
    assert_string_equal(b.data, "abcdefgh");
    assert_int_equal(buf_puts(&b, "i"), BUF_TOO_BIG);
    assert_string_equal(b.data, "abcdefgh");
    buf_free(&b);
}

static void test_printf_short_and_long(void **state)
{
    buf_t b;
    char big[1001];
    (void)state;
    memset(big, 'x', 1000);
    big[1000] = '\0';

    buf_init(&b, 1 << 20);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "ok"), BUF_OK);
    assert_string_equal(b.data, "42-ok");
    /* Longer than the 256-byte stack buffer inside buf_printf. */
    assert_int_equal(buf_printf(&b, "[%s]", big), BUF_OK);
    assert_int_equal(b.len, 5 + 1002);
    assert_memory_equal(b.data, "42-ok[", 6);
    assert_memory_equal(b.data + 6, big, 1000);
    assert_int_equal(b.data[1006], ']');
    assert_int_equal(b.data[1007], '\0');
    assert_int_equal(strlen(b.data), b.len);
    buf_free(&b);
}

static void test_printf_boundary_lengths(void **state)
{
    char src[300];
    (void)state;
    memset(src, 'y', sizeof(src));
    /* 255 takes the stack path, 256 and 257 the direct path. */
    for (int n = 254; n <= 258; n++) {
        buf_t b;
        buf_init(&b, 4096);
        assert_int_equal(buf_printf(&b, "%.*s", n, src), BUF_OK);
        assert_int_equal(b.len, (size_t)n);
        assert_memory_equal(b.data, src, (size_t)n);
        assert_int_equal(b.data[n], '\0');
        /* Appending after a long format keeps everything. */
        assert_int_equal(buf_printf(&b, "%s", "!"), BUF_OK);
        assert_int_equal(b.len, (size_t)n + 1);
        assert_int_equal(b.data[n], '!');
        assert_int_equal(b.data[n + 1], '\0');
        buf_free(&b);
    }
}

static void test_printf_too_big(void **state)
{
    buf_t b;
    char big[600];
    (void)state;
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    buf_init(&b, 500);
    assert_int_equal(buf_puts(&b, "keep"), BUF_OK);
    /* Long path over the bound. */
    assert_int_equal(buf_printf(&b, "%s", big), BUF_TOO_BIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    /* Short path over the bound. */
    buf_t s;
    buf_init(&s, 3);
    assert_int_equal(buf_printf(&s, "%s", "abcd"), BUF_TOO_BIG);
    assert_int_equal(s.len, 0);
    assert_int_equal(buf_printf(&s, "%s", "abc"), BUF_OK);
    assert_string_equal(s.data, "abc");
    /* Long path exactly at the bound. */
    buf_t e;
    buf_init(&e, 599);
    assert_int_equal(buf_printf(&e, "%s", big), BUF_OK);
    assert_int_equal(e.len, 599);
    assert_int_equal(buf_printf(&e, "%s", "1"), BUF_TOO_BIG);
    assert_int_equal(e.len, 599);
    buf_free(&b);
    buf_free(&s);
    buf_free(&e);
}

static void test_nul_terminated_while_growing(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 100000);
    for (size_t i = 0; i < 5000; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(buf_append(&b, &c, 1), BUF_OK);
        assert_int_equal(b.len, i + 1);
        assert_true(b.cap > b.len);
        assert_int_equal(b.data[b.len], '\0');
        assert_int_equal(b.data[i], c);
    }
    for (size_t i = 0; i < 5000; i++)
        assert_int_equal(b.data[i], 'a' + i % 26);
    buf_free(&b);
}

static void test_binary_data(void **state)
{
    buf_t b;
    unsigned char bin[512];
    (void)state;
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)(i * 7);
    bin[0] = 0;
    bin[100] = 0;
    buf_init(&b, sizeof(bin) * 2);
    assert_int_equal(buf_append(&b, bin, sizeof(bin)), BUF_OK);
    assert_int_equal(buf_append(&b, "\0\0\xff", 3), BUF_OK);
    assert_int_equal(b.len, sizeof(bin) + 3);
    assert_memory_equal(b.data, bin, sizeof(bin));
    assert_memory_equal(b.data + sizeof(bin), "\0\0\xff", 3);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(buf_append_some(&b, bin, sizeof(bin)), sizeof(bin) - 3);
    assert_int_equal(b.len, sizeof(bin) * 2);
    assert_memory_equal(b.data + sizeof(bin) + 3, bin, sizeof(bin) - 3);

    assert_int_equal(b.data[sizeof(bin) * 2], '\0');
    buf_free(&b);
}

static void test_reset_keeps_allocation(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 4);
    assert_int_equal(buf_puts(&b, "abcd"), BUF_OK);
    char *data = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    /* The bound applies to the new contents only. */
    assert_int_equal(buf_puts(&b, "wxyz"), BUF_OK);
    assert_string_equal(b.data, "wxyz");
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 4);
    /* Reset of a never-used buffer is harmless. */
    buf_reset(&b);
    assert_null(b.data);
}

/* Append `in` with buf_append_utf8 and compare with `want`. */
static void utf8_case(const char *in, size_t n, int cut, const char *want)
{
    buf_t b;
    buf_init(&b, 1024);
    assert_int_equal(buf_append_utf8(&b, in, n, cut), BUF_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

static void test_append_utf8(void **state)
{
    (void)state;
    /* Valid text, including 2-, 3- and 4-byte sequences, passes unchanged. */
    utf8_case("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, 0,
              "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Stray bytes each become U+FFFD. */
    utf8_case("\xff\xfeok", 4, 0, "\xef\xbf\xbd\xef\xbf\xbdok");
    /* Overlong forms and surrogates are not well-formed. */
    utf8_case("\xc0\xaf", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd");
    utf8_case("\xed\xa0\x80", 3, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    /* A character cut at the end: replaced, or dropped when `cut`. */
    utf8_case("x\xe2\x82", 3, 0, "x\xef\xbf\xbd\xef\xbf\xbd");
    utf8_case("x\xe2\x82", 3, 1, "x");
}

static void test_append_utf8_nul(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 16);
    /* NUL bytes are valid UTF-8 and stay. */
    assert_int_equal(buf_append_utf8(&b, "a\0b", 3, 0), BUF_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 3);
    buf_free(&b);
}

static void test_append_utf8_bound(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 4);
    /* Two replacements need six bytes: past the bound. */
    assert_int_equal(buf_append_utf8(&b, "\xff\xff", 2, 0), BUF_TOO_BIG);
    assert_true(b.len <= 4);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_allocates_nothing),
        cmocka_unit_test(test_append_exactly_max),
        cmocka_unit_test(test_append_max_plus_one_leaves_buffer_unchanged),
        cmocka_unit_test(test_append_zero_max),
        cmocka_unit_test(test_append_some),
        cmocka_unit_test(test_puts),
        cmocka_unit_test(test_printf_short_and_long),
        cmocka_unit_test(test_printf_boundary_lengths),
        cmocka_unit_test(test_printf_too_big),
        cmocka_unit_test(test_nul_terminated_while_growing),
        cmocka_unit_test(test_binary_data),
        cmocka_unit_test(test_reset_keeps_allocation),
        cmocka_unit_test(test_append_utf8),
        cmocka_unit_test(test_append_utf8_nul),
        cmocka_unit_test(test_append_utf8_bound),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
