/*
 * Unit tests for tarscan: archives built here (a small tar writer, zlib's
 * deflate for gzip layers and gzipped uploads) in the shape `docker save`
 * writes, with plain, gzip and multi-member gzip layers, pax sizes, GNU
 * long names and base-256 sizes; a gzip bomb that must trip early; every
 * refusal (bad checksums, truncation, other compressions, tars the engine
 * could read differently). Every input that scans is also fed one byte at
 * a time and in odd-sized pieces, and must give the same count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/err.h"
#include "parse/tarscan.h"

#define MiB (1024ULL * 1024)
/* Large enough for every archive built here. */
#define BUILD_MAX (64 * 1024 * 1024)

/* --- a tiny tar writer ------------------------------------------------------ */

/* Write `v` as `len - 1` octal digits and a NUL into a header field. */
static void field_octal(unsigned char *f, size_t len, unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)len - 1, v);
    assert_int_equal(n, (int)len - 1);
    memcpy(f, tmp, len);
}

/* A ustar header. `b256` writes the size in GNU base-256. */
static void tar_header_to(unsigned char *h, const char *name, char type, unsigned long long size,
                          int b256)
{
    unsigned long sum = 0;
    memset(h, 0, 512);
    memcpy(h, name, strnlen(name, 100));
    field_octal(h + 100, 8, 0644);
    field_octal(h + 108, 8, 0);
    field_octal(h + 116, 8, 0);
    if (b256) {
        h[124] = 0x80;
        for (int i = 0; i < 8; i++)
            h[135 - i] = (unsigned char)(size >> (8 * i));
    } else {
        field_octal(h + 124, 12, size);
    }
    field_octal(h + 136, 12, 1700000000);
    memset(h + 148, ' ', 8);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    field_octal(h + 148, 7, sum);
}

static void put(buf_t *b, const void *p, size_t n)
{
    assert_int_equal(buf_append(b, p, n), BUF_OK);
}

static void tar_pad(buf_t *b)
{
    static const unsigned char zero[512];
    if (b->len % 512 != 0)
        put(b, zero, 512 - b->len % 512);
}

static void tar_header(buf_t *b, const char *name, char type, unsigned long long size)
{
    unsigned char h[512];
    tar_header_to(h, name, type, size, 0);
    put(b, h, sizeof(h));
}

/* A member with its content and padding. */
static void tar_member(buf_t *b, const char *name, char type, const void *data, size_t n)
{
    tar_header(b, name, type, n);
    if (n > 0)
        put(b, data, n);
    tar_pad(b);
}

static void tar_text(buf_t *b, const char *name, const char *text)
{
    tar_member(b, name, '0', text, strlen(text));
}

/* A file of `n` bytes of a repeating pattern. */
static void tar_pattern(buf_t *b, const char *name, size_t n)
{
    tar_header(b, name, '0', n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)('a' + i % 23);
        put(b, &c, 1);
    }
    tar_pad(b);
}

/* A pax header ('x' or 'g') holding `records` (already "%d k=v\n"). */
static void tar_pax(buf_t *b, char type, const char *records)
{
    tar_member(b, "././@PaxHeader", type, records, strlen(records));
}

static void tar_end(buf_t *b)
{
    static const unsigned char zero[1024];
    put(b, zero, sizeof(zero));
}

/* --- gzip ------------------------------------------------------------------ */

/* Append one gzip member of `n` bytes of `p` (NULL: zeros) to `out`. */
static void gz_append(buf_t *out, const void *p, size_t n)
{
    static const unsigned char zeros[64 * 1024];
    unsigned char chunk[16 * 1024];
    z_stream z;
    int rc;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    do {
        size_t take = n < sizeof(zeros) ? n : sizeof(zeros);
        z.next_in = (Bytef *)(p != NULL ? (const unsigned char *)p : zeros);
        z.avail_in = (uInt)take;
        do {
            z.next_out = chunk;
            z.avail_out = sizeof(chunk);
            rc = deflate(&z, take == n ? Z_FINISH : Z_NO_FLUSH);
            assert_true(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
            put(out, chunk, sizeof(chunk) - z.avail_out);
        } while (z.avail_out == 0 || (take == n && rc != Z_STREAM_END));
        if (p != NULL)
            p = (const unsigned char *)p + take;
        n -= take;
    } while (n > 0);
    deflateEnd(&z);
}

/* --- scanning ---------------------------------------------------------------- */

typedef struct {
    int rc;
    err_t e;
    unsigned long long count;
    size_t fed; /* bytes fed when the first failure came (all, if none) */
} verdict;

/* Scan `in` in pieces of `piece` bytes (0: whole; SIZE_MAX: sizes from a
 * fixed pseudo-random sequence), then finish. Checks that a failure is
 * final: once a call fails, every later one gives the same error. */
static verdict scan(const void *in, size_t n, size_t piece, unsigned long long max)
{
    const unsigned char *p = in;
    tarscan_t *t = tarscan_new(max);
    verdict v;
    unsigned seed = 7;
    size_t at = 0;
    err_t again;

    assert_non_null(t);
    memset(&v, 0, sizeof(v));
    v.fed = n;
    err_clear(&v.e);
    while (at < n) {
        size_t take = n - at;
        if (piece == SIZE_MAX) {
            size_t r = (size_t)(rand_r(&seed) % 1500);
            take = r < take ? r : take; /* 0 included */
        } else if (piece > 0 && piece < take) {
            take = piece;
        }
        if (tarscan_feed(t, p + at, take, &v.e) != 0) {
            v.rc = -1;
            v.fed = at + take;
            break;
        }
        at += take;
    }
    if (v.rc == 0 && tarscan_finish(t, &v.e) != 0)
        v.rc = -1;
    if (v.rc != 0) {
        assert_int_equal(tarscan_feed(t, "x", 1, &again), -1);
        assert_int_equal(again.kind, v.e.kind);
        assert_string_equal(err_code(&again), err_code(&v.e));
        assert_int_equal(tarscan_finish(t, &again), -1);
        assert_string_equal(again.msg, v.e.msg);
    }
    v.count = tarscan_unpacked(t);
    tarscan_free(t);
    return v;
}

static const size_t pieces[] = {1, 2, 7, 511, 512, 513, 4096, SIZE_MAX};

/* `in` scans, whole and in every way of cutting it, to `want` bytes. */
static void check_ok(const buf_t *in, unsigned long long want)
{
    verdict v = scan(in->data, in->len, 0, ~0ULL);
    if (v.rc != 0)
        fail_msg("whole: %s (%s)", v.e.msg, err_code(&v.e));
    assert_int_equal(v.count, want);
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        v = scan(in->data, in->len, pieces[i], ~0ULL);
        if (v.rc != 0)
            fail_msg("pieces of %zu: %s", pieces[i], v.e.msg);
        assert_int_equal(v.count, want);
    }
    /* The limit is inclusive: exactly `want` passes, one less does not. */
    v = scan(in->data, in->len, 0, want);
    assert_int_equal(v.rc, 0);
    if (want > 0) {
        v = scan(in->data, in->len, 0, want - 1);
        assert_int_equal(v.rc, -1);
        assert_string_equal(err_code(&v.e), "image_too_large");
    }
}

/* `in` is refused with `kind` and `code` whole and in every way of
 * cutting it, under the limit `max`. Returns the whole-input verdict. */
static verdict check_fail_max(const buf_t *in, unsigned long long max, err_kind kind,
                              const char *code)
{
    verdict whole = scan(in->data, in->len, 0, max);
    if (whole.rc == 0)
        fail_msg("scanned to %llu bytes, expected %s", whole.count, code);
    assert_int_equal(whole.e.kind, kind);
    assert_string_equal(err_code(&whole.e), code);
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        verdict v = scan(in->data, in->len, pieces[i], max);
        assert_int_equal(v.rc, -1);
        assert_int_equal(v.e.kind, kind);
        assert_string_equal(err_code(&v.e), code);
        assert_string_equal(v.e.msg, whole.e.msg);
    }
    return whole;
}

static verdict check_fail(const buf_t *in, err_kind kind, const char *code)
{
    return check_fail_max(in, ~0ULL, kind, code);
}

/* `in` gzipped as a whole upload. */
static void gzip_upload(const buf_t *in, buf_t *out)
{
    buf_init(out, BUILD_MAX);
    gz_append(out, in->data, in->len);
}

/* --- tests ------------------------------------------------------------------- */

static void test_plain_members(void **state)
{
    buf_t b, g;
    (void)state;
    buf_init(&b, BUILD_MAX);
    tar_member(&b, "empty", '0', NULL, 0);
    tar_pattern(&b, "one", 1);
    tar_pattern(&b, "block-less-one", 511);
    tar_pattern(&b, "block", 512);
    tar_pattern(&b, "block-and-one", 513);
    /* No content, whatever the size field says: the next header follows. */
    tar_header(&b, "dir/", '5', 4096);
    tar_header(&b, "link", '2', 100);
    tar_header(&b, "hard", '1', 1);
    tar_header(&b, "fifo", '6', 0);
    /* Typeflag NUL (old-style regular file) and '7' (contiguous) carry content. */
    tar_member(&b, "old-style", '\0', "12345", 5);
    tar_member(&b, "contiguous", '7', "123", 3);
    tar_end(&b);
    check_ok(&b, 1 + 511 + 512 + 513 + 5 + 3);
    gzip_upload(&b, &g);
    check_ok(&g, 1 + 511 + 512 + 513 + 5 + 3);
    buf_free(&g);
    buf_free(&b);
}

static void test_empty_and_unterminated(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, BUILD_MAX);
    /* Nothing at all: an empty archive (the upload code refuses it). */
    check_ok(&b, 0);
    /* Members without the end blocks, or with only one, are read to the
     * end as the engine does. */
    tar_text(&b, "a", "hello");
    check_ok(&b, 5);
    put(&b, (const unsigned char[512]){0}, 512);
    check_ok(&b, 5);
    buf_free(&b);
}

static void test_gzip_layer(void **state)
{
    buf_t inner, gz, b, g;
    (void)state;
    buf_init(&inner, BUILD_MAX);
    tar_pattern(&inner, "bin/busybox", 100000);
    tar_text(&inner, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    tar_end(&inner);
    buf_init(&gz, BUILD_MAX);
    gz_append(&gz, inner.data, inner.len);
    assert_true(gz.len < inner.len / 10);

    buf_init(&b, BUILD_MAX);
    tar_text(&b, "manifest.json", "[]");
    tar_member(&b, "layer.tar.gz", '0', gz.data, gz.len);
    /* gzip of nothing is a layer of nothing. */
    buf_t empty;
    buf_init(&empty, BUILD_MAX);
    gz_append(&empty, NULL, 0);
    tar_member(&b, "empty.gz", '0', empty.data, empty.len);
    tar_end(&b);
    /* The inflated size counts, not the compressed one. */
    check_ok(&b, 2 + inner.len);
    gzip_upload(&b, &g);
    check_ok(&g, 2 + inner.len);
    buf_free(&g);
    buf_free(&empty);
    buf_free(&b);
    buf_free(&gz);
    buf_free(&inner);
}

static void test_gzip_multimember(void **state)
{
    buf_t gz, b, g, twice;
    static const unsigned char zero[100];
    (void)state;
    buf_init(&gz, BUILD_MAX);
    gz_append(&gz, "first part,", 11);
    gz_append(&gz, NULL, 300000);
    put(&gz, zero, sizeof(zero)); /* zero padding after a member is fine */
    gz_append(&gz, "third", 5);
    buf_init(&b, BUILD_MAX);
    tar_member(&b, "blobs/sha256/aa", '0', gz.data, gz.len);
    tar_end(&b);
    check_ok(&b, 11 + 300000 + 5);

    /* The whole upload as two gzip members, cut mid-archive. */
    buf_init(&twice, BUILD_MAX);
    gz_append(&twice, b.data, 700);
    gz_append(&twice, b.data + 700, b.len - 700);
    check_ok(&twice, 11 + 300000 + 5);
    gzip_upload(&b, &g);
    check_ok(&g, 11 + 300000 + 5);
    buf_free(&g);
    buf_free(&twice);
    buf_free(&b);
    buf_free(&gz);
}

/* A 1 MB upload whose layer inflates to 64 MiB of zeros stops at 8 MiB,
 * long before its end. */
static void test_gzip_bomb(void **state)
{
    static const char manifest[] = "[{\"Layers\":[\"bomb/layer.tar\"]}]";
    buf_t gz, b, g;
    (void)state;
    buf_init(&gz, BUILD_MAX);
    gz_append(&gz, NULL, 64 * MiB);
    assert_true(gz.len < 128 * 1024);
    buf_init(&b, BUILD_MAX);
    tar_text(&b, "manifest.json", manifest);
    tar_member(&b, "bomb/layer.tar", '0', gz.data, gz.len);
    tar_end(&b);

    verdict v = scan(b.data, b.len, 4096, 8 * MiB);
    assert_int_equal(v.rc, -1);
    assert_int_equal(v.e.kind, ERR_TOO_LARGE);
    assert_string_equal(err_code(&v.e), "image_too_large");
    assert_non_null(strstr(v.e.msg, "bomb/layer.tar"));
    assert_true(v.fed < b.len / 4);
    /* The count stops within one inflate step of the limit. */
    assert_true(v.count > 8 * MiB && v.count <= 8 * MiB + 64 * 1024);
    check_fail_max(&b, 8 * MiB, ERR_TOO_LARGE, "image_too_large");

    /* Under a limit it does not pass, it is counted in full. */
    v = scan(b.data, b.len, 4096, 65 * MiB);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.count, 64 * MiB + strlen(manifest));

    /* The same inside a gzipped upload (the bomb compresses again, to a
     * few hundred bytes): it stops before the upload ends. */
    gzip_upload(&b, &g);
    assert_true(g.len < 1024);
    v = scan(g.data, g.len, 8, 8 * MiB);
    assert_int_equal(v.rc, -1);
    assert_string_equal(err_code(&v.e), "image_too_large");
    assert_true(v.fed < g.len);
    assert_true(v.count > 8 * MiB && v.count <= 8 * MiB + 64 * 1024);
    buf_free(&g);
    buf_free(&b);
    buf_free(&gz);
}

/* A plain member is counted whole as soon as its first bytes are seen. */
static void test_large_member_trips_early(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, BUILD_MAX);
    tar_pattern(&b, "big", 3 * 1024 * 1024);
    tar_end(&b);
    verdict v = scan(b.data, b.len, 1024, 1024 * 1024);
    assert_int_equal(v.rc, -1);
    assert_string_equal(err_code(&v.e), "image_too_large");
    assert_int_equal(v.fed, 1024);
    assert_int_equal(v.count, 3 * 1024 * 1024);
    buf_free(&b);
}

static void test_pax_size(void **state)
{
    buf_t b, g;
    (void)state;
    buf_init(&b, BUILD_MAX);
    /* The header says 0; the pax size (the last record) says 2000. */
    tar_pax(&b, 'x', "13 size=1234\n20 path=a/long/name\n13 size=2000\n");
    tar_header(&b, "a", '0', 0);
    for (int i = 0; i < 2000; i++)
        put(&b, "z", 1);
    tar_pad(&b);
    /* An empty size record sets the header's own size back. */
    tar_pax(&b, 'x', "12 size=999\n8 size=\n");
    tar_pattern(&b, "b", 10);
    /* A second pax header replaces the first, whole. */
    tar_pax(&b, 'x', "12 size=999\n");
    tar_pax(&b, 'x', "12 mtime=17\n");
    tar_pattern(&b, "c", 20);
    /* A directory has no content, whatever its pax size says. */
    tar_pax(&b, 'x', "12 size=999\n");
    tar_header(&b, "d/", '5', 0);
    /* What was pending does not outlive the member it was for. */
    tar_pattern(&b, "e", 30);
    tar_end(&b);
    check_ok(&b, 2000 + 10 + 20 + 30);
    gzip_upload(&b, &g);
    check_ok(&g, 2000 + 10 + 20 + 30);
    buf_free(&g);
    buf_free(&b);
}

static void test_pax_refused(void **state)
{
    static const struct {
        char type;
        const char *records;
        const char *why;
    } rows[] = {
        {'x', "12 size=12x\n", "bad size record"},
        {'x', "12 size=-12\n", "bad size record"},
        {'x', "29 size=99999999999999999999\n", "bad size record"},
        {'x', "10 mtime=1\n", "malformed record"},     /* length one short */
        {'x', "12 mtime=1\n", "ends inside a record"}, /* length one long */
        {'x', "4 a=\n", "malformed record"},
        {'x', "8 nokey\n", "malformed record"},
        {'x', "6 =ab\n", "malformed record"},
        {'x', " 6 a=b\n", "malformed record"},
        {'x', "x6 a=b\n", "malformed record"},
        {'x', "9999999999 a=b\n", "malformed record"},
        {'x', "11 size=12\n\n", "malformed record"},
        {'x', "11 size=12\n6 a=b", "ends inside a record"},
        {'x', "22 GNU.sparse.major=1\n", "sparse"},
        {'g', "12 size=100\n", "disagree"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        buf_t b;
        buf_init(&b, BUILD_MAX);
        tar_pax(&b, rows[i].type, rows[i].records);
        tar_pattern(&b, "f", 12);
        tar_end(&b);
        verdict v = check_fail(&b, ERR_INVALID, "invalid_image");
        if (strstr(v.e.msg, rows[i].why) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", rows[i].records, v.e.msg, rows[i].why);
        buf_free(&b);
    }
}

static void test_pax_global(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, BUILD_MAX);
    tar_pax(&b, 'g', "20 comment=whatever\n");
    tar_pattern(&b, "f", 12);
    /* A global header drops the pax size pending before it (the engine
     * hands it over as an entry of its own). */
    tar_pax(&b, 'x', "12 size=999\n");
    tar_pax(&b, 'g', "12 mtime=17\n");
    tar_pattern(&b, "g", 13);
    tar_end(&b);
    check_ok(&b, 12 + 13);
    buf_free(&b);

    /* ... and the long name: "dir/" is then the name that counts. */
    buf_init(&b, BUILD_MAX);
    tar_member(&b, "././@LongLink", 'L', "file", 5);
    tar_pax(&b, 'g', "12 mtime=17\n");
    tar_member(&b, "dir/", '\0', "abc", 3);
    tar_end(&b);
    verdict v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "named like a directory"));
    buf_free(&b);
}

static void test_gnu_long_name(void **state)
{
    buf_t b, g;
    char name[301];
    (void)state;
    memset(name, 'n', 300);
    name[300] = '\0';
    buf_init(&b, BUILD_MAX);
    /* The name's content (with its NUL) is not counted. */
    tar_member(&b, "././@LongLink", 'L', name, sizeof(name));
    tar_pattern(&b, "nnnnnnnn", 700);
    tar_member(&b, "././@LongLink", 'K', name, 300);
    tar_header(&b, "link", '2', 0);
    /* A long name without "/" settles an old-style member named "dir/". */
    tar_member(&b, "././@LongLink", 'L', "file", 5);
    tar_member(&b, "dir/", '\0', "abc", 3);
    tar_end(&b);
    check_ok(&b, 700 + 3);
    gzip_upload(&b, &g);
    check_ok(&g, 700 + 3);
    buf_free(&g);
    buf_free(&b);
}

static void test_base256_size(void **state)
{
    buf_t b;
    unsigned char h[512];
    (void)state;
    buf_init(&b, BUILD_MAX);
    tar_header_to(h, "b256", '0', 1000, 1);
    put(&b, h, sizeof(h));
    for (int i = 0; i < 1000; i++)
        put(&b, "q", 1);
    tar_pad(&b);
    tar_end(&b);
    check_ok(&b, 1000);
    buf_free(&b);

    /* Negative, or past int64: not a size. */
    buf_init(&b, BUILD_MAX);
    tar_header_to(h, "neg", '0', 0, 1);
    h[124] = 0xff;
    memset(h + 148, ' ', 8);
    unsigned long sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    field_octal(h + 148, 7, sum);
    put(&b, h, sizeof(h));
    tar_end(&b);
    verdict v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "bad size field"));
    buf_free(&b);
}

/* Cut a good archive anywhere but between members: finish says so. */
static void test_truncated(void **state)
{
    buf_t b, g, cut;
    (void)state;
    buf_init(&b, BUILD_MAX);
    tar_pattern(&b, "a", 700); /* header 0..512, content ..1212, padding ..1536 */
    tar_pattern(&b, "b", 10);  /* header 1536..2048 */
    tar_end(&b);
    static const struct {
        size_t at;
        const char *why;
    } cuts[] = {
        {1, "inside the header at byte 0"}, {511, "inside the header at byte 0"},
        {600, "inside member \"a\""},       {1212, "inside member \"a\""},
        {1300, "inside member \"a\""},      {1537, "inside the header at byte 1536"},
        {2050, "inside member \"b\""},
    };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        buf_init(&cut, BUILD_MAX);
        put(&cut, b.data, cuts[i].at);
        verdict v = check_fail(&cut, ERR_INVALID, "invalid_image");
        if (strstr(v.e.msg, cuts[i].why) == NULL)
            fail_msg("cut at %zu: \"%s\"", cuts[i].at, v.e.msg);
        buf_free(&cut);
    }
    /* Between members is a clean end. */
    buf_init(&cut, BUILD_MAX);
    put(&cut, b.data, 1536);
    check_ok(&cut, 700);
    buf_free(&cut);

    /* A gzipped upload cut inside its gzip stream. */
    gzip_upload(&b, &g);
    buf_init(&cut, BUILD_MAX);
    put(&cut, g.data, g.len - 4);
    verdict v = check_fail(&cut, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "inside its gzip stream"));
    buf_free(&cut);
    buf_free(&g);

    /* A gzip layer whose stream the member cuts off. */
    buf_t gz;
    buf_init(&gz, BUILD_MAX);
    gz_append(&gz, b.data, b.len);
    buf_init(&cut, BUILD_MAX);
    tar_member(&cut, "layer.tar.gz", '0', gz.data, gz.len - 8);
    tar_end(&cut);
    v = check_fail(&cut, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "cut off"));
    buf_free(&cut);
    buf_free(&gz);
    buf_free(&b);
}

static void test_not_a_tar(void **state)
{
    buf_t b;
    verdict v;
    (void)state;

    /* One changed byte breaks the checksum. */
    buf_init(&b, BUILD_MAX);
    tar_pattern(&b, "a", 10);
    tar_pattern(&b, "b", 10);
    tar_end(&b);
    b.data[1024 + 3] ^= 1; /* "b"'s name */
    v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "bad checksum"));
    assert_non_null(strstr(v.e.msg, "byte 1024"));
    buf_free(&b);

    /* Text is not a tar. */
    buf_init(&b, BUILD_MAX);
    for (int i = 0; i < 100; i++)
        assert_int_equal(buf_puts(&b, "hello, world\n"), BUF_OK);
    v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "byte 0"));
    buf_free(&b);

    /* A size field that is not octal. */
    buf_init(&b, BUILD_MAX);
    unsigned char h[512];
    tar_header_to(h, "x", '0', 0, 0);
    memcpy(h + 124, "00000001 2\0\0", 12);
    memset(h + 148, ' ', 8);
    unsigned long sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    field_octal(h + 148, 7, sum);
    put(&b, h, sizeof(h));
    tar_end(&b);
    v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "bad size field"));
    buf_free(&b);

    /* A zero block, then a header. */
    buf_init(&b, BUILD_MAX);
    tar_pattern(&b, "a", 10);
    put(&b, (const unsigned char[512]){0}, 512);
    tar_pattern(&b, "b", 10);
    tar_end(&b);
    v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "zero block"));
    buf_free(&b);

    /* A gzip magic over bytes that are not gzip. */
    buf_init(&b, BUILD_MAX);
    tar_member(&b, "layer.tar.gz", '0', "\x1f\x8b\x08\x00garbage-garbage", 19);
    tar_end(&b);
    v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "gzip stream is corrupt"));
    buf_free(&b);
}

static void test_other_compression(void **state)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *name;
    } rows[] = {
        {"BZh91AY&SY", 10, "bzip2"},
        {"\xfd"
         "7zXZ\0\0\0",
         8, "xz"},
        {"\x28\xb5\x2f\xfd\x00\x00", 6, "zstd"},
        {"\x5a\x2a\x4d\x18\x04\x00\x00\x00", 8, "zstd"}, /* a skippable frame */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        buf_t b, up;
        buf_init(&b, BUILD_MAX);
        tar_text(&b, "manifest.json", "[]");
        tar_member(&b, "layer.tar", '0', rows[i].magic, rows[i].len);
        tar_end(&b);
        verdict v = check_fail(&b, ERR_INVALID, "unsupported_compression");
        assert_non_null(strstr(v.e.msg, rows[i].name));
        assert_non_null(strstr(v.e.msg, "layer.tar"));
        /* The same magic opening the upload. */
        buf_init(&up, BUILD_MAX);
        put(&up, rows[i].magic, rows[i].len);
        put(&up, b.data, b.len);
        v = check_fail(&up, ERR_INVALID, "unsupported_compression");
        assert_non_null(strstr(v.e.msg, "the upload"));
        buf_free(&up);
        buf_free(&b);
    }

    /* Content shorter than a magic is plain content. */
    buf_t b;
    buf_init(&b, BUILD_MAX);
    tar_member(&b, "short", '0', "BZ", 2);
    tar_member(&b, "gz-ish", '0', "\x1f", 1);
    tar_end(&b);
    check_ok(&b, 3);
    buf_free(&b);
}

/* What the engine's reader could read differently is refused. */
static void test_ambiguous(void **state)
{
    static const char *const why[] = {"named like a directory", "named like a directory",
                                      "named like a directory", "sparse", "larger than"};
    (void)state;
    for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
        buf_t b;
        buf_init(&b, BUILD_MAX);
        switch (i) {
        case 0: /* old-style "dir/" with content: the engine skips no content */
            tar_member(&b, "dir/", '\0', "abc", 3);
            break;
        case 1: /* the same through a pax path */
            tar_pax(&b, 'x', "15 path=a/b/c/\n");
            tar_member(&b, "file", '\0', "abc", 3);
            break;
        case 2: /* the same with no name at all (the prefix would decide) */
            tar_member(&b, "", '\0', "abc", 3);
            break;
        case 3:
            tar_member(&b, "sparse", 'S', "abc", 3);
            break;
        default: {
            /* a long name past the engine's limit */
            tar_header(&b, "././@LongLink", 'L', TARSCAN_META_MAX + 1);
            break;
        }
        }
        tar_end(&b);
        verdict v = check_fail(&b, ERR_INVALID, "invalid_image");
        if (strstr(v.e.msg, why[i]) == NULL)
            fail_msg("case %zu: \"%s\"", i, v.e.msg);
        buf_free(&b);
    }
}

static void test_after_the_end(void **state)
{
    buf_t b;
    static const unsigned char zero[10240];
    (void)state;
    buf_init(&b, BUILD_MAX);
    tar_pattern(&b, "a", 10);
    tar_end(&b);
    put(&b, zero, sizeof(zero)); /* record padding, as GNU tar writes */
    check_ok(&b, 10);
    put(&b, "junk", 4);
    verdict v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "follows the end of the archive"));
    buf_free(&b);

    /* Right after the two zero blocks. */
    buf_init(&b, BUILD_MAX);
    tar_pattern(&b, "a", 10);
    tar_end(&b);
    put(&b, "junk", 4);
    v = check_fail(&b, ERR_INVALID, "invalid_image");
    assert_non_null(strstr(v.e.msg, "follows the end of the archive at byte 2048"));
    buf_free(&b);
}

/* The members `docker save` writes (seen on the engine this project
 * targets), with a small layer, plain and gzipped. */
static void test_docker_save_shape(void **state)
{
    static const char img[] = "bbacc932c438009e966ecdfafbbdb7bcf25769e387793b870ab2fabe6eee7ab5";
    static const char manifest[] =
        "[{\"Config\":\"b9b644309581f7181309608c44f389e8556c4453bea5fad6f7f34745624ca17d.json\","
        "\"RepoTags\":[\"minilambda-test-busybox:latest\"],\"Layers\":[\"bbacc932c438009e966ecdfa"
        "fbbdb7bcf25769e387793b870ab2fabe6eee7ab5/layer.tar\"]}]";
    static const char repositories[] = "{\"minilambda-test-busybox\":{\"latest\":\"bbacc932c438009"
                                       "e966ecdfafbbdb7bcf25769e387793b870ab2fabe6eee7ab5\"}}\n";
    static const char json[] = "{\"id\":\"bbacc932\",\"os\":\"linux\"}";
    static const char config[] = "{\"architecture\":\"amd64\"}";
    char path[128];
    buf_t layer, gz, b, g;
    (void)state;

    buf_init(&layer, BUILD_MAX);
    tar_header(&layer, "bin/", '5', 0);
    tar_pattern(&layer, "bin/busybox", 50000);
    tar_header(&layer, "bin/sh", '1', 0);
    tar_end(&layer);

    for (int zipped = 0; zipped < 2; zipped++) {
        buf_init(&b, BUILD_MAX);
        assert_true(snprintf(path, sizeof(path), "%s/", img) < (int)sizeof(path));
        tar_header(&b, path, '5', 0);
        assert_true(snprintf(path, sizeof(path), "%s/VERSION", img) < (int)sizeof(path));
        tar_text(&b, path, "1.0");
        assert_true(snprintf(path, sizeof(path), "%s/json", img) < (int)sizeof(path));
        tar_text(&b, path, json);
        assert_true(snprintf(path, sizeof(path), "%s/layer.tar", img) < (int)sizeof(path));
        buf_init(&gz, BUILD_MAX);
        if (zipped)
            gz_append(&gz, layer.data, layer.len);
        else
            put(&gz, layer.data, layer.len);
        tar_member(&b, path, '0', gz.data, gz.len);
        tar_text(&b, "b9b644309581f7181309608c44f389e8556c4453bea5fad6f7f34745624ca17d.json",
                 config);
        tar_text(&b, "manifest.json", manifest);
        tar_text(&b, "repositories", repositories);
        tar_end(&b);
        unsigned long long want =
            3 + strlen(json) + layer.len + strlen(config) + strlen(manifest) + strlen(repositories);
        check_ok(&b, want);
        gzip_upload(&b, &g);
        check_ok(&g, want);
        buf_free(&g);
        buf_free(&gz);
        buf_free(&b);
    }
    buf_free(&layer);
}

/* Random archives of random members, cut at random points. */
static void test_random_archives(void **state)
{
    unsigned seed = 4242;
    (void)state;
    for (int iter = 0; iter < 60; iter++) {
        buf_t b, g;
        unsigned long long want = 0;
        buf_init(&b, BUILD_MAX);
        int members = 1 + (int)(rand_r(&seed) % 6);
        for (int m = 0; m < members; m++) {
            char name[32];
            size_t n = (size_t)(rand_r(&seed) % 3000);
            assert_true(snprintf(name, sizeof(name), "m%d", m) < (int)sizeof(name));
            switch (rand_r(&seed) % 4) {
            case 0:
                tar_pattern(&b, name, n);
                want += n;
                break;
            case 1: {
                buf_t gz;
                buf_init(&gz, BUILD_MAX);
                gz_append(&gz, NULL, n * 10);
                tar_member(&b, name, '0', gz.data, gz.len);
                want += n * 10;
                buf_free(&gz);
                break;
            }
            case 2:
                tar_header(&b, name, '5', n);
                break;
            default:
                tar_member(&b, "././@LongLink", 'L', name, strlen(name) + 1);
                tar_pattern(&b, "short", n);
                want += n;
                break;
            }
        }
        tar_end(&b);
        check_ok(&b, want);
        gzip_upload(&b, &g);
        verdict v = scan(g.data, g.len, SIZE_MAX, ~0ULL);
        assert_int_equal(v.rc, 0);
        assert_int_equal(v.count, want);
        buf_free(&g);
        buf_free(&b);
    }
}

static void test_free_null(void **state)
{
    (void)state;
    tarscan_free(NULL);
    tarscan_t *t = tarscan_new(0);
    assert_non_null(t);
    assert_int_equal(tarscan_unpacked(t), 0);
    tarscan_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_members),     cmocka_unit_test(test_empty_and_unterminated),
        cmocka_unit_test(test_gzip_layer),        cmocka_unit_test(test_gzip_multimember),
        cmocka_unit_test(test_gzip_bomb),         cmocka_unit_test(test_large_member_trips_early),
        cmocka_unit_test(test_pax_size),          cmocka_unit_test(test_pax_refused),
        cmocka_unit_test(test_pax_global),        cmocka_unit_test(test_gnu_long_name),
        cmocka_unit_test(test_base256_size),      cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_not_a_tar),         cmocka_unit_test(test_other_compression),
        cmocka_unit_test(test_ambiguous),         cmocka_unit_test(test_after_the_end),
        cmocka_unit_test(test_docker_save_shape), cmocka_unit_test(test_random_archives),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests_name("tarscan", tests, NULL, NULL);
}
