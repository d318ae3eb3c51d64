/*
 * Unit tests for sigv4: the AWS signing test suite's vectors (aws-c-auth's
 * tests/aws-signing-test-suite/v4, secret wJalrXUtnFEMI/..., 20150830,
 * us-east-1, service "service"), the Lambda paths botocore double-encodes
 * (signatures computed with botocore 1.43's SigV4Auth), tampering with each
 * signed part, the clock skew at its edges, malformed headers, and a loop
 * of mutated headers that must all fail cleanly. It prints the cost of one
 * verification (not asserted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "parse/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SCOPE "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
#define STAMP "20150830T123600Z"
#define T0 1440938160LL /* 2015-08-30T12:36:00Z */

typedef struct {
    const char *names[8];
    const char *values[8];
} headers_t;

static const char *lookup(void *arg, const char *name)
{
    const headers_t *h = arg;
    for (int i = 0; i < 8 && h->names[i] != NULL; i++)
        if (strcmp(h->names[i], name) == 0)
            return h->values[i];
    return NULL;
}

typedef struct {
    const char *name, *method, *target, *scope, *signed_headers, *body;
    headers_t h;
    const char *signature;
} vector_t;

static const vector_t vectors[] = {
    {"get-vanilla",
     "GET",
     "/",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-space-normalized",
     "GET",
     "/example space/",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-slashes-normalized",
     "GET",
     "//example//",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"get-relative-relative-normalized",
     "GET",
     "/example1/example2/../..",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slash-pointless-dot-normalized",
     "GET",
     "/./example",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
    {"get-slash-dot-slash-normalized",
     "GET",
     "/./",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-unreserved",
     "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-query-order-encoded",
     "GET",
     "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
    {"get-vanilla-utf8-query",
     "GET",
     "/?\xe1\x88\xb4=bar",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"post-vanilla-query",
     "POST",
     "/?Param1=value1",
     SCOPE,
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"example.amazonaws.com", STAMP}},
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"get-header-value-trim",
     "GET",
     "/",
     SCOPE,
     "host;my-header1;my-header2;x-amz-date",
     "",
     {{"host", "my-header1", "my-header2", "x-amz-date"},
      {"example.amazonaws.com", " value1", " \"a   b   c\"", STAMP}},
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-header-value-case",
     "POST",
     "/",
     SCOPE,
     "host;my-header1;x-amz-date",
     "",
     {{"host", "my-header1", "x-amz-date"}, {"example.amazonaws.com", "VALUE1", STAMP}},
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     SCOPE,
     "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
     "Param1=value1",
     {{"content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date"},
      {"13", "application/x-www-form-urlencoded", "example.amazonaws.com",
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e", STAMP}},
     "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
    /* botocore, service lambda: the ARN's escapes are signed encoded again. */
    {"lambda-invoke-arn",
     "POST",
     "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/"
     "invocations",
     "AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request",
     "host;x-amz-date",
     "{\"a\":1}",
     {{"host", "x-amz-date"}, {"127.0.0.1:8080", STAMP}},
     "731e01c2f403953d921b8833833229c4de1576b278e3faa8f64eefdfdda4ddf2"},
    {"lambda-list-query",
     "GET",
     "/2015-03-31/functions/?MaxItems=2&Marker=a%2Bb%20c",
     "AKIDEXAMPLE/20150830/us-east-1/lambda/aws4_request",
     "host;x-amz-date",
     "",
     {{"host", "x-amz-date"}, {"127.0.0.1:8080", STAMP}},
     "9033f72e19670156f7d54e9aaa143afe53b86b0a30ee04e413c42ac8652bca48"},
};

#define VECTORS (sizeof(vectors) / sizeof(vectors[0]))

static void header_of(const vector_t *v, const char *sig, char *out, size_t outlen)
{
    snprintf(out, outlen, "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s",
             v->scope, v->signed_headers, sig);
}

static void request_of(const vector_t *v, headers_t *h, sigv4_request *r)
{
    *h = v->h;
    memset(r, 0, sizeof(*r));
    r->method = v->method;
    r->target = v->target;
    r->header = lookup;
    r->arg = h;
    assert_int_equal(sigv4_sha256_hex(v->body, strlen(v->body), r->payload_hash), 0);
}

static sigv4_rc check_vector(const vector_t *v, const char *method, const char *target,
                             const char *body, const char *secret)
{
    char hdr[512];
    sigv4_auth a;
    sigv4_request r;
    headers_t h;
    long long t = 0;
    header_of(v, v->signature, hdr, sizeof(hdr));
    assert_int_equal(sigv4_parse(hdr, &a), SIGV4_OK);
    vector_t w = *v;
    w.method = method ? method : v->method;
    w.target = target ? target : v->target;
    w.body = body ? body : v->body;
    request_of(&w, &h, &r);
    sigv4_rc rc = sigv4_check(&a, &r, secret, strlen(secret), &t);
    if (rc == SIGV4_OK)
        assert_int_equal(t, T0);
    return rc;
}

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < VECTORS; i++) {
        sigv4_rc rc = check_vector(&vectors[i], NULL, NULL, NULL, SECRET);
        if (rc != SIGV4_OK)
            fail_msg("%s: %s", vectors[i].name, sigv4_rc_text(rc));
    }
}

static void test_canonical(void **state)
{
    (void)state;
    char hdr[512];
    sigv4_auth a;
    sigv4_request r;
    headers_t h;
    buf_t b;
    buf_init(&b, SIGV4_CANONICAL_MAX);
    header_of(&vectors[0], vectors[0].signature, hdr, sizeof(hdr));
    assert_int_equal(sigv4_parse(hdr, &a), SIGV4_OK);
    assert_string_equal(a.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(a.date, "20150830");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "service");
    request_of(&vectors[0], &h, &r);
    assert_int_equal(sigv4_canonical(&a, &r, &b), SIGV4_OK);
    assert_string_equal(b.data, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" STAMP
                                "\n\nhost;x-amz-date\n"
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    buf_free(&b);
}

/* Every signed part changed, one at a time, fails as a mismatch. */
static void test_tampered(void **state)
{
    (void)state;
    const vector_t *post = NULL, *trim = NULL, *q = NULL;
    for (size_t i = 0; i < VECTORS; i++) {
        if (strcmp(vectors[i].name, "post-x-www-form-urlencoded") == 0)
            post = &vectors[i];
        if (strcmp(vectors[i].name, "get-header-value-trim") == 0)
            trim = &vectors[i];
        if (strcmp(vectors[i].name, "get-vanilla-query-order-encoded") == 0)
            q = &vectors[i];
    }
    assert_int_equal(check_vector(&vectors[0], "POST", NULL, NULL, SECRET), SIGV4_MISMATCH);
    assert_int_equal(check_vector(&vectors[0], NULL, "/x", NULL, SECRET), SIGV4_MISMATCH);
    assert_int_equal(check_vector(&vectors[0], NULL, "/?a=b", NULL, SECRET), SIGV4_MISMATCH);
    assert_int_equal(check_vector(&vectors[0], NULL, NULL, "x", SECRET), SIGV4_MISMATCH);
    assert_int_equal(check_vector(post, NULL, NULL, "Param1=value2", SECRET), SIGV4_MISMATCH);
    assert_int_equal(
        check_vector(q, NULL, "/?Param-3=Value3&Param=Value3&%E1%88%B4=Value1", NULL, SECRET),
        SIGV4_MISMATCH);
    assert_int_equal(check_vector(&vectors[0], NULL, NULL, NULL, SECRET "x"), SIGV4_MISMATCH);
    /* A header value changed. */
    vector_t w = *trim;
    w.h.values[1] = "value2";
    assert_int_equal(check_vector(&w, NULL, NULL, NULL, SECRET), SIGV4_MISMATCH);
    /* The signature itself. */
    char hdr[512];
    sigv4_auth a;
    sigv4_request r;
    headers_t h;
    long long t;
    header_of(&vectors[0], "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30", hdr,
              sizeof(hdr));
    assert_int_equal(sigv4_parse(hdr, &a), SIGV4_OK);
    request_of(&vectors[0], &h, &r);
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_MISMATCH);
    /* A signed header that is missing; a date not signed; another day. */
    h.names[0] = "hostx";
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_MISSING_HEADER);
    request_of(&vectors[0], &h, &r);
    h.values[1] = "20150831T123600Z";
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_SCOPE_DATE);
    h.values[1] = "20150830T123600";
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_BAD_DATE);
    h.values[1] = "20150230T123600Z";
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_BAD_DATE);
    h.names[1] = "date";
    h.values[1] = "Sun, 30 Aug 2015 12:36:00 GMT";
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_NO_DATE);
    assert_int_equal(sigv4_parse("AWS4-HMAC-SHA256 Credential=" SCOPE
                                 ", SignedHeaders=host, Signature="
                                 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                                 &a),
                     SIGV4_OK);
    request_of(&vectors[0], &h, &r);
    assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_NO_DATE);
}

static void test_date_header(void **state)
{
    (void)state;
    char stamp[17];
    long long t = 0;
    sigv4_auth a;
    headers_t h = {{"host", "date"}, {"example.amazonaws.com", "Sun, 30 Aug 2015 12:36:00 GMT"}};
    sigv4_request r = {.method = "GET", .target = "/", .header = lookup, .arg = &h};
    assert_int_equal(sigv4_parse("AWS4-HMAC-SHA256 Credential=" SCOPE
                                 ",SignedHeaders=date;host,Signature="
                                 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
                                 &a),
                     SIGV4_OK);
    assert_int_equal(sigv4_time(&a, &r, stamp, &t), SIGV4_OK);
    assert_string_equal(stamp, STAMP);
    assert_int_equal(t, T0);
    h.values[1] = "Sun, 30 Aug 2015 12:36:00 UTC";
    assert_int_equal(sigv4_time(&a, &r, stamp, &t), SIGV4_BAD_DATE);
}

static void test_skew(void **state)
{
    (void)state;
    assert_int_equal(sigv4_fresh(T0, T0), SIGV4_OK);
    assert_int_equal(sigv4_fresh(T0, T0 + 900), SIGV4_OK);
    assert_int_equal(sigv4_fresh(T0, T0 - 900), SIGV4_OK);
    assert_int_equal(sigv4_fresh(T0, T0 + 901), SIGV4_SKEW);
    assert_int_equal(sigv4_fresh(T0, T0 - 901), SIGV4_SKEW);
    assert_int_equal(sigv4_fresh(T0, 0), SIGV4_SKEW);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256x Credential=" SCOPE,
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;x-amz-date, Signature=abc",
        "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/s/aws4_request, SignedHeaders=host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s/aws4_reques, SignedHeaders=host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s/aws4_request/x, "
        "SignedHeaders=host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=A+KID/20150830/us-east-1/s/aws4_request, SignedHeaders=host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=//us-east-1/s/aws4_request, SignedHeaders=host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=x-amz-date;host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=Host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host;, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, "
        "Signature=5FA00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Credential=" SCOPE
        ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, Other=1, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,",
    };
    sigv4_auth a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sigv4_parse(bad[i], &a) != SIGV4_MALFORMED)
            fail_msg("accepted #%zu: %s", i, bad[i] ? bad[i] : "(null)");
    assert_int_equal(sigv4_parse("AWS4-HMAC-SHA256 Credential=" SCOPE ", SignedHeaders=x-amz-date, "
                                 "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1"
                                 "d763fbf31",
                                 &a),
                     SIGV4_NO_HOST);
}

static void test_bad_query(void **state)
{
    (void)state;
    assert_int_equal(check_vector(&vectors[0], NULL, "/?a=%zz", NULL, SECRET), SIGV4_BAD_QUERY);
    assert_int_equal(check_vector(&vectors[0], NULL, "/?a=%0", NULL, SECRET), SIGV4_BAD_QUERY);
    assert_int_equal(check_vector(&vectors[0], NULL, "/?a=%00", NULL, SECRET), SIGV4_BAD_QUERY);
    /* Empty pieces, a bare name, repeats: signed, just not matching. */
    assert_int_equal(check_vector(&vectors[0], NULL, "/?&&a&a=2&a=1&=", NULL, SECRET),
                     SIGV4_MISMATCH);
    /* Too many parameters, too many segments, too long. */
    buf_t big;
    buf_init(&big, 1 << 20);
    assert_int_equal(buf_puts(&big, "/?"), BUF_OK);
    for (int i = 0; i < 300; i++)
        assert_int_equal(buf_puts(&big, "a=1&"), BUF_OK);
    assert_int_equal(check_vector(&vectors[0], NULL, big.data, NULL, SECRET), SIGV4_TOO_LONG);
    buf_reset(&big);
    for (int i = 0; i < 300; i++)
        assert_int_equal(buf_puts(&big, "/a"), BUF_OK);
    assert_int_equal(check_vector(&vectors[0], NULL, big.data, NULL, SECRET), SIGV4_TOO_LONG);
    buf_reset(&big);
    assert_int_equal(buf_puts(&big, "/"), BUF_OK);
    for (int i = 0; i < 30000; i++)
        assert_int_equal(buf_puts(&big, "%"), BUF_OK);
    assert_int_equal(check_vector(&vectors[0], NULL, big.data, NULL, SECRET), SIGV4_TOO_LONG);
    buf_free(&big);
}

/* Mutations of a good header, byte by byte: each parses or fails, never
 * crashes, and none that changed the signature matches. */
static void test_mutations(void **state)
{
    (void)state;
    char hdr[512];
    const char swaps[] = {'\0', ' ', ',', '=', '/', ';', 'A', 'z', '0', '\t', '\xff'};
    header_of(&vectors[0], vectors[0].signature, hdr, sizeof(hdr));
    size_t n = strlen(hdr);
    for (size_t i = 0; i < n; i++) {
        for (size_t s = 0; s < sizeof(swaps); s++) {
            char m[512];
            sigv4_auth a;
            memcpy(m, hdr, n + 1);
            if (m[i] == swaps[s])
                continue;
            m[i] = swaps[s];
            if (sigv4_parse(m, &a) != SIGV4_OK)
                continue;
            headers_t h;
            sigv4_request r;
            long long t;
            request_of(&vectors[0], &h, &r);
            sigv4_rc rc = sigv4_check(&a, &r, SECRET, strlen(SECRET), &t);
            /* Blanks around the parts change nothing; the access key id is
             * not signed (the lookup of its secret is what ties it). */
            if (rc == SIGV4_OK && strcmp(a.signature, vectors[0].signature) == 0 &&
                strcmp(a.signed_headers, "host;x-amz-date") == 0)
                continue;
            if (rc == SIGV4_OK)
                fail_msg("mutation %zu/%zu verified: %s", i, s, m);
        }
    }
    /* Truncations. */
    for (size_t i = 0; i < n; i++) {
        char m[512];
        sigv4_auth a;
        memcpy(m, hdr, i);
        m[i] = '\0';
        assert_int_not_equal(sigv4_parse(m, &a), SIGV4_OK);
    }
}

/* What one verification costs: printed, not asserted. */
static void test_cost(void **state)
{
    (void)state;
    const vector_t *v = &vectors[15]; /* lambda-invoke-arn */
    char hdr[512];
    int rounds = 20000;
    header_of(v, v->signature, hdr, sizeof(hdr));
    long long start = clock_mono_us();
    for (int i = 0; i < rounds; i++) {
        sigv4_auth a;
        sigv4_request r;
        headers_t h;
        long long t;
        assert_int_equal(sigv4_parse(hdr, &a), SIGV4_OK);
        request_of(v, &h, &r);
        assert_int_equal(sigv4_check(&a, &r, SECRET, strlen(SECRET), &t), SIGV4_OK);
    }
    double us = (double)(clock_mono_us() - start) / rounds;
    printf("sigv4: %.2f us per verification (parse, body hash of 7 bytes, canonical request, "
           "string to sign, HMAC chain, compare; %d rounds)\n",
           us, rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),   cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_tampered),  cmocka_unit_test(test_date_header),
        cmocka_unit_test(test_skew),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_query), cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
