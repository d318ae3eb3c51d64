/*
 * Unit tests for the client's human output: table alignment and its
 * edges, escaping of what a record may hold (line breaks, terminal
 * escapes, bytes that are not UTF-8), widths in code points, cutting, the
 * size/duration/JSON cell formatters and the upload progress line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cli/push.h"
#include "cli/table.h"

/* Render `t` and compare with `want`; frees the table. */
static void renders_as(table_t *t, const char *want)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    assert_int_equal(table_render(t, &b), 0);
    assert_string_equal(b.data != NULL ? b.data : "", want);
    buf_free(&b);
    table_free(t);
}

static void test_aligned_columns(void **state)
{
    static const char *const head[] = {"NAME", "IMAGE", "TIMEOUT"};
    table_t t;
    (void)state;
    table_init(&t, 3, head);
    const char *r1[] = {"echo", "busybox:latest", "120s"};
    const char *r2[] = {"a-much-longer-name", "img", "5s"};
    assert_int_equal(table_add(&t, r1), 0);
    assert_int_equal(table_add(&t, r2), 0);
    renders_as(&t, "NAME                 IMAGE            TIMEOUT\n"
                   "echo                 busybox:latest   120s\n"
                   "a-much-longer-name   img              5s\n");
}

static void test_no_trailing_blanks(void **state)
{
    static const char *const head[] = {"ID", "ERROR"};
    table_t t;
    (void)state;
    table_init(&t, 2, head);
    /* An empty last cell: the line ends after the last text, unpadded. */
    const char *r1[] = {"x", ""};
    const char *r2[] = {"longer", "boom"};
    table_add(&t, r1);
    table_add(&t, r2);
    renders_as(&t, "ID       ERROR\n"
                   "x\n"
                   "longer   boom\n");
}

static void test_null_cell_and_empty_table(void **state)
{
    static const char *const head[] = {"A", "B"};
    table_t t;
    (void)state;
    table_init(&t, 2, head);
    const char *r[] = {NULL, "b"};
    table_add(&t, r);
    renders_as(&t, "A   B\n-   b\n");
    /* No rows: the header alone, so a script's `tail -n +2` sees nothing. */
    table_init(&t, 2, head);
    renders_as(&t, "A   B\n");
}

static void test_headerless(void **state)
{
    table_t t;
    (void)state;
    table_init(&t, 2, NULL);
    const char *r1[] = {"name", "echo"};
    const char *r2[] = {"memory_mb", "256"};
    table_add(&t, r1);
    table_add(&t, r2);
    renders_as(&t, "name        echo\nmemory_mb   256\n");
}

static void test_escaping(void **state)
{
    table_t t;
    (void)state;
    table_init(&t, 2, NULL);
    /* A line break, a tab, a terminal escape, DEL, a C1 control (U+009B,
     * a one-byte CSI for some terminals) and a byte that is not UTF-8. */
    const char *r[] = {"k", "a\nb\tc\x1b[31md\x7f\xc2\x9b\xff."};
    table_add(&t, r);
    renders_as(&t, "k   a\\nb\\tc\\x1b[31md\\x7f\\xc2\\x9b\\xff.\n");
}

static void test_escape_keeps_utf8(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 1024);
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0";
    assert_int_equal(table_escape(s, strlen(s), &b), 0);
    assert_string_equal(b.data, s);
    /* A sequence cut short is not UTF-8: its bytes are escaped. */
    buf_reset(&b);
    assert_int_equal(table_escape("\xe2\x82", 2, &b), 0);
    assert_string_equal(b.data, "\\xe2\\x82");
    buf_free(&b);
}

static void test_width_counts_code_points(void **state)
{
    static const char *const head[] = {"NAME", "X"};
    table_t t;
    (void)state;
    assert_int_equal(table_width("caf\xc3\xa9"), 4);
    assert_int_equal(table_width(""), 0);
    table_init(&t, 2, head);
    const char *r1[] = {"caf\xc3\xa9s", "1"};
    const char *r2[] = {"ab", "2"};
    table_add(&t, r1);
    table_add(&t, r2);
    renders_as(&t, "NAME    X\n"
                   "caf\xc3\xa9s   1\n"
                   "ab      2\n");
}

static void test_max_width_cuts(void **state)
{
    static const char *const head[] = {"ID", "ERROR", "N"};
    table_t t;
    (void)state;
    table_init(&t, 3, head);
    t.max_width = 10;
    const char *r1[] = {"1", "the function did not finish", "x"};
    const char *r2[] = {"2",
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                        "\xc3\xa9\xc3\xa9\xc3\xa9",
                        "y"};
    table_add(&t, r1);
    table_add(&t, r2);
    renders_as(&t, "ID   ERROR        N\n"
                   "1    the fun...   x\n"
                   "2    \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...   y\n");
}

static void test_many_rows(void **state)
{
    static const char *const head[] = {"N"};
    table_t t;
    buf_t b;
    (void)state;
    table_init(&t, 1, head);
    for (int i = 0; i < 1000; i++) {
        char n[16];
        snprintf(n, sizeof(n), "%d", i);
        const char *r[] = {n};
        assert_int_equal(table_add(&t, r), 0);
    }
    buf_init(&b, 1 << 20);
    assert_int_equal(table_render(&t, &b), 0);
    assert_true(strncmp(b.data, "N\n0\n1\n", 6) == 0);
    assert_non_null(strstr(b.data, "\n999\n"));
    buf_free(&b);
    table_free(&t);
}

static void test_render_into_full_buffer(void **state)
{
    static const char *const head[] = {"NAME"};
    table_t t;
    buf_t b;
    (void)state;
    table_init(&t, 1, head);
    const char *r[] = {"0123456789"};
    table_add(&t, r);
    buf_init(&b, 8);
    assert_int_equal(table_render(&t, &b), -1);
    buf_free(&b);
    table_free(&t);
}

static void test_bytes_and_ms(void **state)
{
    char s[32];
    (void)state;
    table_bytes(0, s, sizeof(s));
    assert_string_equal(s, "0 B");
    table_bytes(1023, s, sizeof(s));
    assert_string_equal(s, "1023 B");
    table_bytes(1024, s, sizeof(s));
    assert_string_equal(s, "1.0 KiB");
    table_bytes(2136064, s, sizeof(s));
    assert_string_equal(s, "2.0 MiB");
    table_bytes(3LL << 40, s, sizeof(s));
    assert_string_equal(s, "3.0 TiB");
    table_bytes(5LL << 50, s, sizeof(s));
    assert_string_equal(s, "5120.0 TiB");
    table_ms(238, s, sizeof(s));
    assert_string_equal(s, "238 ms");
    table_ms(1280, s, sizeof(s));
    assert_string_equal(s, "1.28 s");
    table_ms(125000, s, sizeof(s));
    assert_string_equal(s, "2m05s");
}

static void test_json_cells(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 1024);
    json_object *o = json_tokener_parse(
        "{\"s\":\"text \\\"q\\\"\",\"n\":null,\"i\":42,\"d\":1.5,\"a\":[\"cat\",\"-n\"],"
        "\"e\":{\"A\":\"1\"},\"b\":false,\"p\":\"a/b\"}");
    assert_non_null(o);
    const char *keys[] = {"s", "n", "i", "d", "a", "e", "b", "p", "absent"};
    const char *want[] = {"text \"q\"",    "-",     "42",  "1.5", "[\"cat\",\"-n\"]",
                          "{\"A\":\"1\"}", "false", "a/b", "-"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_object *v = NULL;
        json_object_object_get_ex(o, keys[i], &v);
        buf_reset(&b);
        assert_int_equal(table_json_cell(v, &b), 0);
        assert_string_equal(b.data, want[i]);
    }
    json_object_put(o);
    buf_free(&b);
}

static void test_progress_line(void **state)
{
    char s[256];
    (void)state;
    push_bar("img:1", 0, 1000, 0, false, s, sizeof(s));
    assert_string_equal(s, "pushing img:1  [........................]   0%  0 B of ~1000 B  0 B/s");
    push_bar("img:1", 500, 1000, 2048, false, s, sizeof(s));
    assert_string_equal(
        s, "pushing img:1  [############............]  50%  500 B of ~1000 B  2.0 KiB/s");
    /* The tar runs a little past the image's size: the bar waits at 99%. */
    push_bar("img:1", 1100, 1000, 0, false, s, sizeof(s));
    assert_non_null(strstr(s, "[#######################.]  99%"));
    push_bar("img:1", 1100, 1000, 0, true, s, sizeof(s));
    assert_non_null(strstr(s, "[########################] 100%"));
    /* Size unknown: what went and how fast. */
    push_bar("img:1", 4096, 0, 1024, false, s, sizeof(s));
    assert_string_equal(s, "pushing img:1  4.0 KiB  1.0 KiB/s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_columns),
        cmocka_unit_test(test_no_trailing_blanks),
        cmocka_unit_test(test_null_cell_and_empty_table),
        cmocka_unit_test(test_headerless),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_escape_keeps_utf8),
        cmocka_unit_test(test_width_counts_code_points),
        cmocka_unit_test(test_max_width_cuts),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_render_into_full_buffer),
        cmocka_unit_test(test_bytes_and_ms),
        cmocka_unit_test(test_json_cells),
        cmocka_unit_test(test_progress_line),
    };
    return cmocka_run_group_tests_name("cli_table", tests, NULL, NULL);
}
