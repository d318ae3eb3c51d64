/*
 * Unit tests for multipart: the boundary parameter, well-formed bodies
 * (preamble, epilogue, several fields, empty parts, binary content full of
 * near-delimiters, quoted and unquoted disposition parameters, bare-LF
 * header lines, transport padding) and every error result. Every input is
 * parsed whole, split in two at every point, and fed one byte at a time;
 * the events and the result must be the same each way.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "parse/multipart.h"

/* The events of one parse as text: B(name,filename) for a part's start
 * ("-" for no filename), D{...} for its content (consecutive pieces
 * merged), E for its end. */
typedef struct {
    buf_t log;
    int in_data;
    int abort_on; /* 'B', 'D' or 'E': that callback returns -1 */
} recorder;

static void rec_close_data(recorder *r)
{
    if (r->in_data)
        assert_int_equal(buf_puts(&r->log, "}"), BUF_OK);
    r->in_data = 0;
}

static int rec_begin(void *arg, const char *name, const char *filename)
{
    recorder *r = arg;
    rec_close_data(r);
    assert_non_null(name);
    assert_int_equal(buf_printf(&r->log, "B(%s,%s)", name, filename ? filename : "-"), BUF_OK);
    return r->abort_on == 'B' ? -1 : 0;
}

static int rec_data(void *arg, const char *p, size_t n)
{
    recorder *r = arg;
    assert_true(n > 0);
    if (!r->in_data)
        assert_int_equal(buf_puts(&r->log, "D{"), BUF_OK);
    r->in_data = 1;
    assert_int_equal(buf_append(&r->log, p, n), BUF_OK);
    return r->abort_on == 'D' ? -1 : 0;
}

static int rec_end(void *arg)
{
    recorder *r = arg;
    rec_close_data(r);
    assert_int_equal(buf_puts(&r->log, "E"), BUF_OK);
    return r->abort_on == 'E' ? -1 : 0;
}

static const multipart_callbacks rec_cb = {rec_begin, rec_data, rec_end};

/* Parse `in` fed as pieces ending at the offsets in `cuts` (the last
 * piece runs to the end); log into `r`. Returns the final result. */
static multipart_rc parse_cuts(const char *boundary, const char *in, size_t len, const size_t *cuts,
                               size_t ncuts, recorder *r)
{
    multipart_parser p;
    multipart_rc rc = MULTIPART_OK;
    size_t at = 0;
    buf_init(&r->log, 1 << 20);
    r->in_data = 0;
    assert_int_equal(multipart_init(&p, boundary, &rec_cb, r), 0);
    for (size_t c = 0; c <= ncuts; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        multipart_rc frc = multipart_feed(&p, in + at, to - at);
        if (frc != MULTIPART_OK && rc == MULTIPART_OK)
            rc = frc;
        /* An error is final: later feeds return it again. */
        if (rc != MULTIPART_OK)
            assert_int_equal(frc, rc);
        at = to;
    }
    multipart_rc fin = multipart_finish(&p);
    if (rc != MULTIPART_OK)
        assert_int_equal(fin, rc);
    rc = fin;
    assert_int_equal(multipart_finish(&p), rc);
    rec_close_data(r);
    assert_int_equal(buf_puts(&r->log, ""), BUF_OK);
    return rc;
}

static void assert_log(const recorder *r, const char *expected, size_t elen, const char *how)
{
    if (r->log.len != elen || memcmp(r->log.data, expected, elen) != 0)
        fail_msg("%s: events [%.*s], expected [%.*s]", how, (int)r->log.len, r->log.data, (int)elen,
                 expected);
}

/* Parse `in` whole, at every split point, in three pieces at several
 * points, and one byte at a time; each must give `want` and the events
 * `expected` (binary-safe lengths). `abort_on` as in recorder. */
static void check_bin(const char *boundary, const char *in, size_t len, multipart_rc want,
                      const char *expected, size_t elen, int abort_on)
{
    recorder r = {.abort_on = abort_on};
    char how[64];
    size_t *cuts = calloc(len + 1, sizeof(*cuts));
    assert_non_null(cuts);

    assert_int_equal(parse_cuts(boundary, in, len, NULL, 0, &r), want);
    assert_log(&r, expected, elen, "whole");
    buf_free(&r.log);

    for (size_t s = 0; s <= len; s++) {
        cuts[0] = s;
        snprintf(how, sizeof(how), "split at %zu", s);
        multipart_rc rc = parse_cuts(boundary, in, len, cuts, 1, &r);
        if (rc != want)
            fail_msg("%s: result %d, expected %d", how, (int)rc, (int)want);
        assert_log(&r, expected, elen, how);
        buf_free(&r.log);
    }

    for (size_t s = 0; s < len; s += 3) {
        cuts[0] = s;
        cuts[1] = s + (len - s) / 2;
        snprintf(how, sizeof(how), "three pieces at %zu, %zu", cuts[0], cuts[1]);
        assert_int_equal(parse_cuts(boundary, in, len, cuts, 2, &r), want);
        assert_log(&r, expected, elen, how);
        buf_free(&r.log);
    }

    for (size_t s = 0; s < len; s++)
        cuts[s] = s + 1;
    assert_int_equal(parse_cuts(boundary, in, len, cuts, len ? len - 1 : 0, &r), want);
    assert_log(&r, expected, elen, "one byte at a time");
    buf_free(&r.log);
    free(cuts);
}

static void check(const char *boundary, const char *in, multipart_rc want, const char *expected)
{
    check_bin(boundary, in, strlen(in), want, expected, strlen(expected), 0);
}

/* --- multipart_boundary ---------------------------------------------------- */

static void test_boundary_unquoted(void **state)
{
    char b[80];
    (void)state;
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=----abc123", b, sizeof(b)),
                     0);
    assert_string_equal(b, "----abc123");
    assert_int_equal(multipart_boundary("multipart/form-data;boundary=x", b, sizeof(b)), 0);
    assert_string_equal(b, "x");
    /* Parameters after it; spaces around '='. */
    assert_int_equal(
        multipart_boundary("multipart/form-data; boundary = abc ; charset=utf-8", b, sizeof(b)), 0);
    assert_string_equal(b, "abc");
    /* The parameter name is case-insensitive. */
    assert_int_equal(multipart_boundary("multipart/form-data; BoUnDaRy=Q", b, sizeof(b)), 0);
    assert_string_equal(b, "Q");
}

static void test_boundary_quoted(void **state)
{
    char b[80];
    (void)state;
    assert_int_equal(
        multipart_boundary("multipart/form-data; boundary=\"a b:c=d?e\"", b, sizeof(b)), 0);
    assert_string_equal(b, "a b:c=d?e");
    /* A quoted ';' of an earlier parameter does not end it. */
    assert_int_equal(multipart_boundary("multipart/form-data; x=\"1;boundary=no\"; "
                                        "boundary=\"yes\"",
                                        b, sizeof(b)),
                     0);
    assert_string_equal(b, "yes");
    /* Backslash escapes in quoted strings. */
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"a\\b\"", b, sizeof(b)), 0);
    assert_string_equal(b, "ab");
    /* A parameter without a value is skipped. */
    assert_int_equal(multipart_boundary("multipart/form-data; odd; boundary=z", b, sizeof(b)), 0);
    assert_string_equal(b, "z");
}

static void test_boundary_bad(void **state)
{
    char b[80], big[128], small[4];
    (void)state;
    assert_int_equal(multipart_boundary("multipart/form-data", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary(NULL, b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; charset=x", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"abc", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"ab \"", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=a@b", b, sizeof(b)), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"a\001b\"", b, sizeof(b)),
                     -1);
    /* 70 characters are fine, 71 are not. */
    memcpy(big, "x; boundary=", 12);
    memset(big + 12, 'k', 70);
    big[82] = '\0';
    assert_int_equal(multipart_boundary(big, b, sizeof(b)), 0);
    assert_int_equal(strlen(b), 70);
    big[82] = 'k';
    big[83] = '\0';
    assert_int_equal(multipart_boundary(big, b, sizeof(b)), -1);
    /* An output too small for the value. */
    assert_int_equal(multipart_boundary("x; boundary=abcd", small, sizeof(small)), -1);
    assert_int_equal(multipart_boundary("x; boundary=abc", small, sizeof(small)), 0);
    assert_string_equal(small, "abc");
    assert_int_equal(multipart_boundary("x; boundary=abc", small, 0), -1);
}

static void test_init_bad_boundary(void **state)
{
    multipart_parser p;
    char big[80];
    (void)state;
    assert_int_equal(multipart_init(&p, "", &rec_cb, NULL), -1);
    assert_int_equal(multipart_feed(&p, "x", 1), MULTIPART_ERR_BOUNDARY);
    assert_int_equal(multipart_finish(&p), MULTIPART_ERR_BOUNDARY);
    assert_int_equal(multipart_init(&p, NULL, &rec_cb, NULL), -1);
    memset(big, 'b', 71);
    big[71] = '\0';
    assert_int_equal(multipart_init(&p, big, &rec_cb, NULL), -1);
    assert_int_equal(multipart_init(&p, "a\r\nb", &rec_cb, NULL), -1);
    assert_int_equal(multipart_init(&p, "ab ", &rec_cb, NULL), -1);
    big[70] = '\0';
    assert_int_equal(multipart_init(&p, big, NULL, NULL), 0);
    /* No callbacks at all is fine. */
    assert_int_equal(multipart_feed(&p, "--", 2), MULTIPART_OK);
    assert_int_equal(multipart_feed(&p, big, 70), MULTIPART_OK);
    assert_int_equal(multipart_feed(&p, "\r\n\r\nxy\r\n--", 10), MULTIPART_OK);
    assert_int_equal(multipart_feed(&p, big, 70), MULTIPART_OK);
    assert_int_equal(multipart_feed(&p, "--", 2), MULTIPART_OK);
    assert_int_equal(multipart_finish(&p), MULTIPART_OK);
}

/* --- well-formed bodies ---------------------------------------------------- */

static void test_single_file(void **state)
{
    (void)state;
    check("XyZ",
          "--XyZ\r\n"
          "Content-Disposition: form-data; name=\"image\"; filename=\"a.tar\"\r\n"
          "Content-Type: application/octet-stream\r\n"
          "\r\n"
          "hello\r\n"
          "--XyZ--\r\n",
          MULTIPART_OK, "B(image,a.tar)D{hello}E");
}

static void test_preamble_and_epilogue(void **state)
{
    (void)state;
    check("b",
          "This is the preamble. --b inside a line is not a delimiter.\r\n"
          "\r\n--b\r\n"
          "Content-Disposition: form-data; name=f\r\n\r\n"
          "x\r\n--b--\r\nepilogue --b\r\n--b\r\n junk",
          MULTIPART_OK, "B(f,-)D{x}E");
    /* The first delimiter right at the start, no CRLF before it. */
    check("b", "--b\r\n\r\nx\r\n--b--", MULTIPART_OK, "B(,-)D{x}E");
    /* A preamble that is only a line break. */
    check("b", "\r\n--b\r\n\r\nx\r\n--b--", MULTIPART_OK, "B(,-)D{x}E");
}

static void test_fields_around_file(void **state)
{
    (void)state;
    check("----WebKitFormBoundary7MA4YWxkTrZu0gW",
          "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
          "Content-Disposition: form-data; name=\"before\"\r\n\r\n"
          "one\r\n"
          "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
          "Content-Disposition: form-data; name=\"image\"; filename=\"img.tar\"\r\n"
          "Content-Type: application/x-tar\r\n\r\n"
          "TAR\r\nDATA\r\n"
          "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
          "Content-Disposition: form-data; name=\"after\"\r\n\r\n"
          "two\r\n"
          "------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n",
          MULTIPART_OK, "B(before,-)D{one}EB(image,img.tar)D{TAR\r\nDATA}EB(after,-)D{two}E");
}

static void test_empty_parts_and_no_parts(void **state)
{
    (void)state;
    /* Empty content; no headers at all. */
    check("b", "--b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b\r\n\r\n\r\n--b--",
          MULTIPART_OK, "B(e,-)EB(,-)E");
    /* Only the closing delimiter. */
    check("b", "--b--", MULTIPART_OK, "");
    check("b", "preamble\r\n--b--\r\n", MULTIPART_OK, "");
}

static void test_near_delimiters_in_content(void **state)
{
    (void)state;
    /* Everything here is content: CRs, CRLFs, dashes and prefixes of the
     * delimiter that break off, and the boundary without its CRLF. */
    check("abc",
          "--abc\r\n\r\n"
          "\r\r\n\r\n-\r\n--\r\n--a\r\n--ab\r\n--aX--abc\n--abc\r\r\n-abc\r-\n--abc"
          "\r\n--abc--",
          MULTIPART_OK,
          "B(,-)D{\r\r\n\r\n-\r\n--\r\n--a\r\n--ab\r\n--aX--abc\n--abc\r\r\n-abc\r-\n--abc}E");
    /* Content ending in CR right before the delimiter. */
    check("abc", "--abc\r\n\r\ndata\r\r\n--abc--", MULTIPART_OK, "B(,-)D{data\r}E");
    /* Content that is only a near-delimiter. */
    check("abc", "--abc\r\n\r\n\r\n--ab\r\n--abc--", MULTIPART_OK, "B(,-)D{\r\n--ab}E");
}

static void test_dash_boundary(void **state)
{
    (void)state;
    /* Boundary "--": the delimiter "\r\n----" among runs of dashes, with
     * near-delimiters released just before the real one. */
    check("--", "----\r\n\r\n-\r\n---x\r\n--\r\n---\r\n----\r\n\r\n---\r\n------", MULTIPART_OK,
          "B(,-)D{-\r\n---x\r\n--\r\n---}EB(,-)D{---}E");
}

static void test_disposition_forms(void **state)
{
    (void)state;
    /* Unquoted values, odd spacing, case-insensitive names. */
    check("b",
          "--b\r\ncOnTeNt-DiSpOsItIoN :form-data;NAME=image ;  FileName=x.tar\r\n\r\nz\r\n--b--",
          MULTIPART_OK, "B(image,x.tar)D{z}E");
    /* Escaped quote and semicolon inside a quoted filename. */
    check("b",
          "--b\r\nContent-Disposition: form-data; name=\"a;b\"; filename=\"q\\\"x;y.tar\"\r\n\r\n"
          "z\r\n--b--",
          MULTIPART_OK, "B(a;b,q\"x;y.tar)D{z}E");
    /* filename*= is not filename; other headers are ignored. */
    check("b",
          "--b\r\nX-Other: name=\"no\"\r\nContent-Disposition: form-data; name=image; "
          "filename*=UTF-8''x.tar\r\n\r\nz\r\n--b--",
          MULTIPART_OK, "B(image,-)D{z}E");
    /* An empty filename is present but empty. */
    check("b",
          "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\"\r\n\r\nz"
          "\r\n--b--",
          MULTIPART_OK, "B(image,)D{z}E");
    /* A later Content-Disposition replaces an earlier one. */
    check("b",
          "--b\r\nContent-Disposition: form-data; name=one; filename=f\r\n"
          "Content-Disposition: form-data; name=two\r\n\r\nz\r\n--b--",
          MULTIPART_OK, "B(two,-)D{z}E");
}

static void test_line_endings_and_padding(void **state)
{
    (void)state;
    /* Header lines ended by a bare LF. */
    check("b", "--b\r\nContent-Disposition: form-data; name=n\n\nz\r\n--b--", MULTIPART_OK,
          "B(n,-)D{z}E");
    /* Transport padding after the boundary. */
    check("b", "--b \t \r\n\r\nz\r\n--b\t\r\n\r\ny\r\n--b--", MULTIPART_OK, "B(,-)D{z}EB(,-)D{y}E");
}

static void test_binary_content(void **state)
{
    static const char in[] = "--b\r\n\r\n\0\xff\r\0\n-\r\n-\0\r\n--b--";
    static const char want[] = "B(,-)D{\0\xff\r\0\n-\r\n-\0}E";
    (void)state;
    check_bin("b", in, sizeof(in) - 1, MULTIPART_OK, want, sizeof(want) - 1, 0);
}

static void test_headers_at_the_limit(void **state)
{
    size_t cap = MULTIPART_HEADERS_MAX + 64;
    char *in = malloc(cap);
    size_t n;
    (void)state;
    assert_non_null(in);
    /* A header block of exactly MULTIPART_HEADERS_MAX bytes: "X: aaa..\r\n\r\n". */
    n = (size_t)snprintf(in, cap, "--b\r\nX: ");
    size_t fill = MULTIPART_HEADERS_MAX - 3 - 4;
    memset(in + n, 'a', fill);
    n += fill;
    memcpy(in + n, "\r\n\r\nz\r\n--b--", 13);
    n += 12;
    recorder r = {.abort_on = 0};
    assert_int_equal(parse_cuts("b", in, n, NULL, 0, &r), MULTIPART_OK);
    assert_string_equal(r.log.data, "B(,-)D{z}E");
    buf_free(&r.log);
    /* One byte more is too large, fed whole or a byte at a time. */
    memmove(in + 8 + 1, in + 8, n - 8);
    n++;
    assert_int_equal(parse_cuts("b", in, n, NULL, 0, &r), MULTIPART_ERR_HEADERS_TOO_LARGE);
    assert_string_equal(r.log.data, "");
    buf_free(&r.log);
    size_t *cuts = calloc(n, sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    assert_int_equal(parse_cuts("b", in, n, cuts, n - 1, &r), MULTIPART_ERR_HEADERS_TOO_LARGE);
    buf_free(&r.log);
    free(cuts);
    free(in);
}

/* --- errors ---------------------------------------------------------------- */

static void test_junk_after_boundary(void **state)
{
    (void)state;
    check("b", "--bX\r\n\r\nz\r\n--b--", MULTIPART_ERR_BOUNDARY, "");
    check("b", "--b\r\n\r\nz\r\n--b-x", MULTIPART_ERR_BOUNDARY, "B(,-)D{z}");
    check("b", "--b\r\n\r\nz\r\n--b \tx\r\n", MULTIPART_ERR_BOUNDARY, "B(,-)D{z}");
    check("b", "--b\r\n\r\nz\r\n--b\rx", MULTIPART_ERR_BOUNDARY, "B(,-)D{z}");
    /* A bare LF after the boundary is not accepted. */
    check("b", "--b\n\r\nz\r\n--b--", MULTIPART_ERR_BOUNDARY, "");
}

static void test_bad_headers(void **state)
{
    (void)state;
    check("b", "--b\r\nno colon here\r\n\r\nz\r\n--b--", MULTIPART_ERR_HEADER, "");
    check("b", "--b\r\nX: y\r\n folded\r\n\r\nz\r\n--b--", MULTIPART_ERR_HEADER, "");
    check("b", "--b\r\nContent-Disposition: form-data; name=\"open\r\n\r\nz\r\n--b--",
          MULTIPART_ERR_HEADER, "");
    /* The error comes after the parts before it were reported. */
    check("b", "--b\r\n\r\nok\r\n--b\r\nbad\r\n\r\n", MULTIPART_ERR_HEADER, "B(,-)D{ok}E");
}

static void test_wrong_boundary(void **state)
{
    (void)state;
    check("other", "--b\r\n\r\nz\r\n--b--\r\n", MULTIPART_ERR_NO_DELIMITER, "");
    check("b", "", MULTIPART_ERR_NO_DELIMITER, "");
    check("b", "-", MULTIPART_ERR_NO_DELIMITER, "");
    check("b", "--", MULTIPART_ERR_NO_DELIMITER, "");
}

static void test_truncated(void **state)
{
    (void)state;
    /* Inside the content, including a partial delimiter at the end. */
    check("b", "--b\r\n\r\nzz", MULTIPART_ERR_TRUNCATED, "B(,-)D{zz}");
    check("b", "--b\r\n\r\nzz\r\n-", MULTIPART_ERR_TRUNCATED, "B(,-)D{zz}");
    check("b", "--b\r\n\r\n", MULTIPART_ERR_TRUNCATED, "B(,-)");
    /* Inside the headers. */
    check("b", "--b\r\nContent-Disposition: form-data; na", MULTIPART_ERR_TRUNCATED, "");
    check("b", "--b\r\nX: y\r\n", MULTIPART_ERR_TRUNCATED, "");
}

static void test_missing_close(void **state)
{
    (void)state;
    check("b", "--b\r\n\r\nz\r\n--b", MULTIPART_ERR_NO_CLOSE, "B(,-)D{z}");
    check("b", "--b\r\n\r\nz\r\n--b\r\n", MULTIPART_ERR_NO_CLOSE, "B(,-)D{z}E");
    check("b", "--b\r\n\r\nz\r\n--b  ", MULTIPART_ERR_NO_CLOSE, "B(,-)D{z}");
    check("b", "--b\r\n\r\nz\r\n--b\r", MULTIPART_ERR_NO_CLOSE, "B(,-)D{z}");
    check("b", "--b\r\n\r\nz\r\n--b-", MULTIPART_ERR_NO_CLOSE, "B(,-)D{z}");
    check("b", "--b", MULTIPART_ERR_NO_CLOSE, "");
}

static void test_callback_abort(void **state)
{
    static const char in[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b\r\n"
                             "\r\nz\r\n--b--";
    (void)state;
    check_bin("b", in, sizeof(in) - 1, MULTIPART_ERR_ABORTED, "B(a,-)", 6, 'B');
    check_bin("b", in, sizeof(in) - 1, MULTIPART_ERR_ABORTED, "B(a,-)D{x}", 10, 'D');
    check_bin("b", in, sizeof(in) - 1, MULTIPART_ERR_ABORTED, "B(a,-)D{x}E", 11, 'E');
}

static void test_strerror(void **state)
{
    (void)state;
    for (int rc = MULTIPART_OK; rc <= MULTIPART_ERR_ABORTED; rc++) {
        const char *s = multipart_strerror((multipart_rc)rc);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(multipart_strerror((multipart_rc)99), "unknown error");
}

/* --- randomized bodies ----------------------------------------------------- */

/* Bodies built from random parts whose content is drawn from the bytes
 * that make up delimiters (so near-misses are frequent) but never contains
 * the delimiter; the expected events are known by construction. Each is
 * fed in random pieces. */
static void test_random_bodies(void **state)
{
    static const char alphabet[] = "\r\n-ab";
    static const char *const boundaries[] = {"ab", "a", "-", "--a", "aab", "b-b"};
    buf_t in, want;
    unsigned seed = 12345;
    (void)state;

    for (int iter = 0; iter < 3000; iter++) {
        const char *bd = boundaries[iter % 6];
        char delim[16];
        snprintf(delim, sizeof(delim), "\r\n--%s", bd);
        buf_init(&in, 1 << 16);
        buf_init(&want, 1 << 16);
        int parts = (int)(rand_r(&seed) % 4);
        assert_int_equal(buf_printf(&in, "pre%s", delim), BUF_OK);
        for (int p = 0; p < parts; p++) {
            char content[64];
            size_t clen;
            do {
                clen = (size_t)(rand_r(&seed) % sizeof(content));
                for (size_t i = 0; i < clen; i++)
                    content[i] = alphabet[rand_r(&seed) % 5];
                /* Content followed by the delimiter must not contain it,
                 * nor end in a prefix that completes it. */
                char probe[128];
                memcpy(probe, content, clen);
                memcpy(probe + clen, delim, strlen(delim));
                size_t plen = clen + strlen(delim);
                const char *hit = memmem(probe, plen, delim, strlen(delim));
                if (hit == probe + clen)
                    break;
            } while (1);
            assert_int_equal(
                buf_printf(&in, "\r\nContent-Disposition: form-data; name=p%d\r\n\r\n", p), BUF_OK);
            assert_int_equal(buf_append(&in, content, clen), BUF_OK);
            assert_int_equal(buf_puts(&in, delim), BUF_OK);
            assert_int_equal(buf_printf(&want, "B(p%d,-)", p), BUF_OK);
            if (clen > 0) {
                assert_int_equal(buf_puts(&want, "D{"), BUF_OK);
                assert_int_equal(buf_append(&want, content, clen), BUF_OK);
                assert_int_equal(buf_puts(&want, "}"), BUF_OK);
            }
            assert_int_equal(buf_puts(&want, "E"), BUF_OK);
        }
        assert_int_equal(buf_puts(&in, "--\r\n"), BUF_OK);

        size_t cuts[8];
        size_t ncuts = (size_t)(rand_r(&seed) % 8);
        for (size_t c = 0; c < ncuts; c++)
            cuts[c] = (size_t)(rand_r(&seed) % (in.len + 1));
        /* Cuts must not go backwards. */
        for (size_t c = 1; c < ncuts; c++)
            if (cuts[c] < cuts[c - 1])
                cuts[c] = cuts[c - 1];
        recorder r = {.abort_on = 0};
        assert_int_equal(parse_cuts(bd, in.data, in.len, cuts, ncuts, &r), MULTIPART_OK);
        assert_log(&r, want.data ? want.data : "", want.len, "random body");
        buf_free(&r.log);
        buf_free(&in);
        buf_free(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_unquoted),
        cmocka_unit_test(test_boundary_quoted),
        cmocka_unit_test(test_boundary_bad),
        cmocka_unit_test(test_init_bad_boundary),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_preamble_and_epilogue),
        cmocka_unit_test(test_fields_around_file),
        cmocka_unit_test(test_empty_parts_and_no_parts),
        cmocka_unit_test(test_near_delimiters_in_content),
        cmocka_unit_test(test_dash_boundary),
        cmocka_unit_test(test_disposition_forms),
        cmocka_unit_test(test_line_endings_and_padding),
        cmocka_unit_test(test_binary_content),
        cmocka_unit_test(test_headers_at_the_limit),
        cmocka_unit_test(test_junk_after_boundary),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_wrong_boundary),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_missing_close),
        cmocka_unit_test(test_callback_abort),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_random_bodies),
    };
    return cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
}
