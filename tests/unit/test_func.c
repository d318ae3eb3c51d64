/*
 * Unit tests for func: name, image and id syntax, registration defaults and
 * every field's range, PATCH rules and loading first-format records.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/func.h"

#define ID "123e4567-e89b-42d3-a456-426614174000"
#define NOW "2024-05-01T10:20:30.456Z"
#define LATER "2024-06-01T00:00:00.000Z"
#define SHA64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (o == NULL)
        fail_msg("test JSON does not parse: %s", text);
    return o;
}

static bool name_ok(const char *s)
{
    return func_valid_name(s, strlen(s));
}

static bool image_ok(const char *s)
{
    return func_valid_image(s, strlen(s));
}

/* func_new on `text` must fail with `code`. */
static void new_fails(const char *text, const char *code)
{
    err_t err;
    json_object *body = parse(text);
    memset(&err, 0, sizeof(err));
    json_object *rec = func_new(body, ID, NOW, NULL, &err);
    if (rec != NULL) {
        json_object_put(rec);
        json_object_put(body);
        fail_msg("func_new accepted %s", text);
    }
    json_object_put(body);
    assert_non_null(err.code);
    if (strcmp(err.code, code) != 0)
        fail_msg("func_new(%s): code \"%s\", want \"%s\"", text, err.code, code);
    assert_true(strlen(err.msg) > 0);
}

/* func_new on `text` must succeed; the caller frees the record. */
static json_object *new_ok(const char *text)
{
    err_t err;
    json_object *body = parse(text);
    memset(&err, 0, sizeof(err));
    json_object *rec = func_new(body, ID, NOW, NULL, &err);
    json_object_put(body);
    if (rec == NULL)
        fail_msg("func_new rejected %s: %s %s", text, err.code ? err.code : "?", err.msg);
    return rec;
}

/* Registration of {"name":"f","image":"busybox", <extra>}. */
static void field_fails(const char *extra, const char *code)
{
    char text[1024];
    snprintf(text, sizeof(text), "{\"name\":\"f\",\"image\":\"busybox\",%s}", extra);
    new_fails(text, code);
}

static void field_ok(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof(text), "{\"name\":\"f\",\"image\":\"busybox\",%s}", extra);
    json_object_put(new_ok(text));
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no field \"%s\"", key);
    return v;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = get(o, key);
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static void test_valid_name(void **state)
{
    char s[80];
    (void)state;
    assert_true(name_ok("a"));
    assert_true(name_ok("Z"));
    assert_true(name_ok("7"));
    assert_true(name_ok("my-func_v1.2"));
    assert_true(name_ok("a-"));
    assert_true(name_ok("a."));
    assert_true(name_ok("0_"));

    memset(s, 'n', sizeof(s));
    s[63] = '\0';
    assert_true(name_ok(s));
    s[63] = 'n';
    s[64] = '\0';
    assert_false(name_ok(s));

    assert_false(name_ok(""));
    assert_false(name_ok("_a"));
    assert_false(name_ok(".a"));
    assert_false(name_ok("-a"));
    assert_false(name_ok("a b"));
    assert_false(name_ok("a/b"));
    assert_false(name_ok("a:b"));
    assert_false(name_ok("a@b"));
    assert_false(name_ok("caf\xc3\xa9"));
    assert_false(name_ok("a\n"));
    /* An embedded NUL: the length says 3, the string stops at 1. */
    assert_false(func_valid_name("a\0b", 3));
    /* The length is what counts. */
    assert_true(func_valid_name("ab", 2));
    assert_false(func_valid_name("ab", 3));
}

static void test_valid_image_good(void **state)
{
    static const char *const good[] = {
        "busybox",
        "busybox:1.36",
        "busybox:latest",
        "library/busybox",
        "localhost:5000/a/b:tag",
        "localhost/a",
        "registry.example.com/x/y@sha256:" SHA64,
        "registry.example.com/x/y:v1@sha256:" SHA64,
        "a__b",
        "a-----b",
        "a.b",
        "a_b",
        "a",
        "0",
        "minilambda-test-busybox:latest",
        "Registry.Example.COM:443/ns/img",
        "img:TAG_with.dots-1",
        "img:_x",
        "myregistry:5000/team/img",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!image_ok(good[i]))
            fail_msg("\"%s\" rejected", good[i]);
}

static void test_valid_image_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "UPPER",
        "Busybox",
        "a:",
        ":tag",
        "a b",
        "a//b",
        "-a",
        "a-",
        "a_",
        "a.",
        "a...b",
        "a___b",
        "/a",
        "a/",
        "a:tag:tag",
        "a:-tag",
        "a:.tag",
        "a@sha256",
        "a@sha256:",
        "a@sha256:xyz",
        "a@:" SHA64,
        "a\tb",
        "a\nb",
        "a:t@g",
        "host:port/a",
        /* Without a dot, port or "localhost" the first part is a path: lowercase. */
        "UPPER/case:tag",
        "Team/img",
    };
    char s[400];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (image_ok(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);

    /* Embedded NUL. */
    assert_false(func_valid_image("busybox\0x", 9));
    assert_true(func_valid_image("busybox", 7));

    /* Length: 255 bytes ok, 256 not. */
    memset(s, 'a', sizeof(s));
    s[255] = '\0';
    assert_true(image_ok(s));
    s[255] = 'a';
    s[256] = '\0';
    assert_false(image_ok(s));
    s[300] = '\0';
    assert_false(image_ok(s));

    /* Tag: 128 characters ok, 129 not. */
    memcpy(s, "a:", 2);
    memset(s + 2, 't', 129);
    s[2 + 128] = '\0';
    assert_true(image_ok(s));
    s[2 + 128] = 't';
    s[2 + 129] = '\0';
    assert_false(image_ok(s));
}

static void test_is_id(void **state)
{
    (void)state;
    assert_true(func_is_id(ID));
    assert_true(func_is_id("00000000-0000-0000-0000-000000000000"));
    assert_true(func_is_id("ffffffff-ffff-ffff-ffff-ffffffffffff"));
    assert_false(func_is_id("123E4567-e89b-42d3-a456-426614174000"));
    assert_false(func_is_id("123e4567-e89b-42d3-a456-42661417400"));
    assert_false(func_is_id("123e4567-e89b-42d3-a456-4266141740000"));
    assert_false(func_is_id("123e4567e89b-42d3-a456-4266141740000"));
    assert_false(func_is_id("123e4567-e89b-42d3-a456_426614174000"));
    assert_false(func_is_id("g23e4567-e89b-42d3-a456-426614174000"));
    assert_false(func_is_id("123e4567-e89b-42d3-a456-42661417400-"));
    assert_false(func_is_id("------------------------------------"));
    assert_false(func_is_id(""));
    assert_false(func_is_id("hello"));
}

static void test_new_defaults(void **state)
{
    (void)state;
    json_object *rec = new_ok("{\"name\":\"hello\",\"image\":\"busybox:1.36\"}");

    assert_string_equal(get_str(rec, "id"), ID);
    assert_string_equal(get_str(rec, "name"), "hello");
    assert_string_equal(get_str(rec, "image"), "busybox:1.36");
    assert_string_equal(get_str(rec, "created_at"), NOW);
    assert_string_equal(get_str(rec, "updated_at"), NOW);

    json_object *v = get(rec, "timeout");
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), 120);
    v = get(rec, "memory_mb");
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), 256);
    v = get(rec, "cpus");
    assert_true(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int));
    assert_true(fabs(json_object_get_double(v) - 1.0) < 1e-12);
    v = get(rec, "env");
    assert_true(json_object_is_type(v, json_type_object));
    assert_int_equal(json_object_object_length(v), 0);
    assert_string_equal(get_str(rec, "network"), "none");
    v = get(rec, "retries");
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), 0);
    /* command is optional and has no default. */
    assert_false(json_object_object_get_ex(rec, "command", NULL));
    json_object_put(rec);
}

static void test_new_keeps_given_fields(void **state)
{
    (void)state;
    json_object *body =
        parse("{\"name\":\"f\",\"image\":\"busybox\",\"timeout\":30,\"memory_mb\":128,"
              "\"cpus\":0.5,\"env\":{\"GREETING\":\"hi\"},\"command\":[\"cat\",\"-\"],"
              "\"network\":\"bridge\"}");
    err_t err;
    json_object *rec = func_new(body, ID, NOW, NULL, &err);
    assert_non_null(rec);
    assert_int_equal(json_object_get_int64(get(rec, "timeout")), 30);
    assert_int_equal(json_object_get_int64(get(rec, "memory_mb")), 128);
    assert_true(fabs(json_object_get_double(get(rec, "cpus")) - 0.5) < 1e-12);
    assert_string_equal(get_str(get(rec, "env"), "GREETING"), "hi");
    json_object *cmd = get(rec, "command");
    assert_int_equal(json_object_array_length(cmd), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(cmd, 1)), "-");
    assert_string_equal(get_str(rec, "network"), "bridge");

    /* The record is a copy: changing the body afterwards leaves it alone. */
    json_object_object_add(get(body, "env"), "GREETING", json_object_new_string("changed"));
    assert_string_equal(get_str(get(rec, "env"), "GREETING"), "hi");
    json_object_put(body);
    assert_string_equal(get_str(get(rec, "env"), "GREETING"), "hi");
    json_object_put(rec);
}

static void test_new_timeout_range(void **state)
{
    (void)state;
    field_fails("\"timeout\":0", "invalid_timeout");
    field_ok("\"timeout\":1");
    field_ok("\"timeout\":900");
    field_fails("\"timeout\":901", "invalid_timeout");
    field_fails("\"timeout\":-1", "invalid_timeout");
    field_fails("\"timeout\":1.5", "invalid_timeout");
    field_fails("\"timeout\":10.0", "invalid_timeout");
    field_fails("\"timeout\":\"5\"", "invalid_timeout");
    field_fails("\"timeout\":true", "invalid_timeout");
    field_fails("\"timeout\":null", "invalid_timeout");
    field_fails("\"timeout\":4294967416", "invalid_timeout"); /* 2^32 + 120 */
    field_fails("\"timeout\":99999999999999999999999", "invalid_timeout");
}

static void test_new_memory_range(void **state)
{
    (void)state;
    field_fails("\"memory_mb\":15", "invalid_memory");
    field_ok("\"memory_mb\":16");
    field_ok("\"memory_mb\":65536");
    field_fails("\"memory_mb\":65537", "invalid_memory");
    field_fails("\"memory_mb\":0", "invalid_memory");
    field_fails("\"memory_mb\":-256", "invalid_memory");
    field_fails("\"memory_mb\":256.5", "invalid_memory");
    field_fails("\"memory_mb\":\"256\"", "invalid_memory");
    field_fails("\"memory_mb\":4294967552", "invalid_memory"); /* 2^32 + 256 */
}

static void test_new_cpus_range(void **state)
{
    (void)state;
    field_fails("\"cpus\":0.009", "invalid_cpus");
    field_ok("\"cpus\":0.01");
    field_ok("\"cpus\":64");
    field_ok("\"cpus\":64.0");
    field_ok("\"cpus\":2");
    field_fails("\"cpus\":64.1", "invalid_cpus");
    field_fails("\"cpus\":0", "invalid_cpus");
    field_fails("\"cpus\":-1", "invalid_cpus");
    field_fails("\"cpus\":\"1\"", "invalid_cpus");
    field_fails("\"cpus\":null", "invalid_cpus");
    field_fails("\"cpus\":1e400", "invalid_cpus");
    field_fails("\"cpus\":-1e400", "invalid_cpus");
    field_fails("\"cpus\":1e-400", "invalid_cpus");
}

/* JSON text cannot carry NaN or infinity, but a json_object can. */
static void test_new_cpus_not_finite(void **state)
{
    const double values[] = {NAN, INFINITY, -INFINITY};
    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        err_t err;
        json_object *body = parse("{\"name\":\"f\",\"image\":\"busybox\"}");
        json_object_object_add(body, "cpus", json_object_new_double(values[i]));
        json_object *rec = func_new(body, ID, NOW, NULL, &err);
        json_object_put(body);
        assert_null(rec);
        assert_string_equal(err.code, "invalid_cpus");
    }
}

static void test_new_env(void **state)
{
    (void)state;
    field_ok("\"env\":{}");
    field_ok("\"env\":{\"A\":\"x\",\"_b\":\"\",\"c_9\":\"=;$ \\n\",\"MINILAMBDA\":\"ok\"}");
    field_fails("\"env\":[]", "invalid_env");
    field_fails("\"env\":\"A=1\"", "invalid_env");
    field_fails("\"env\":null", "invalid_env");
    field_fails("\"env\":{\"A\":1}", "invalid_env");
    field_fails("\"env\":{\"A\":null}", "invalid_env");
    field_fails("\"env\":{\"A\":[\"x\"]}", "invalid_env");
    field_fails("\"env\":{\"A\":{}}", "invalid_env");
    field_fails("\"env\":{\"1A\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"A-B\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"A B\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"A=B\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"MINILAMBDA_X\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"MINILAMBDA_\":\"x\"}", "invalid_env");
    field_fails("\"env\":{\"OK\":\"x\",\"MINILAMBDA_FUNCTION_NAME\":\"y\"}", "invalid_env");

    /* A value with an embedded NUL (\u0000 in the JSON). */
    json_object *body =
        parse("{\"name\":\"f\",\"image\":\"busybox\",\"env\":{\"A\":\"x\\u0000y\"}}");
    json_object *val = get(get(body, "env"), "A");
    assert_int_equal(json_object_get_string_len(val), 3); /* the test itself is right */
    err_t err;
    json_object *rec = func_new(body, ID, NOW, NULL, &err);
    json_object_put(body);
    assert_null(rec);
    assert_string_equal(err.code, "invalid_env");
}

static void test_new_command(void **state)
{
    (void)state;
    field_ok("\"command\":[\"cat\"]");
    field_ok("\"command\":[\"sh\",\"-c\",\"echo hi\",\"\"]");
    field_fails("\"command\":[]", "invalid_command");
    field_fails("\"command\":[1]", "invalid_command");
    field_fails("\"command\":[\"sh\",null]", "invalid_command");
    field_fails("\"command\":[\"sh\",[\"x\"]]", "invalid_command");
    field_fails("\"command\":\"cat\"", "invalid_command");
    field_fails("\"command\":null", "invalid_command");
    field_fails("\"command\":{}", "invalid_command");
    field_fails("\"command\":[\"a\\u0000b\"]", "invalid_command");
}

/* func_new on {"name":"f","image":"busybox", key: value} built in code. */
static const char *new_with(const char *key, json_object *value)
{
    static err_t err;
    json_object *body = parse("{\"name\":\"f\",\"image\":\"busybox\"}");
    json_object_object_add(body, key, value);
    memset(&err, 0, sizeof(err));
    json_object *rec = func_new(body, ID, NOW, NULL, &err);
    json_object_put(body);
    if (rec != NULL) {
        json_object_put(rec);
        return NULL;
    }
    return err.code ? err.code : "?";
}

static json_object *string_of(size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    memset(s, 'v', len);
    s[len] = '\0';
    json_object *o = json_object_new_string_len(s, (int)len);
    free(s);
    return o;
}

static void test_new_env_and_command_limits(void **state)
{
    char key[200];
    (void)state;
    /* 128 variables, not 129. */
    for (int n = 128; n <= 129; n++) {
        json_object *env = json_object_new_object();
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof(key), "V%d", i);
            json_object_object_add(env, key, json_object_new_string("x"));
        }
        const char *code = new_with("env", env);
        if (n == 128)
            assert_null(code);
        else
            assert_string_equal(code, "invalid_env");
    }
    /* Keys of 128 characters, not 129. */
    memset(key, 'K', sizeof(key));
    key[128] = '\0';
    json_object *env = json_object_new_object();
    json_object_object_add(env, key, json_object_new_string("x"));
    assert_null(new_with("env", env));
    key[128] = 'K';
    key[129] = '\0';
    env = json_object_new_object();
    json_object_object_add(env, key, json_object_new_string("x"));
    assert_string_equal(new_with("env", env), "invalid_env");
    /* Values of 4096 bytes, not 4097. */
    env = json_object_new_object();
    json_object_object_add(env, "A", string_of(4096));
    assert_null(new_with("env", env));
    env = json_object_new_object();
    json_object_object_add(env, "A", string_of(4097));
    assert_string_equal(new_with("env", env), "invalid_env");

    /* 256 arguments, not 257; arguments of 32768 bytes, not 32769. */
    for (int n = 256; n <= 257; n++) {
        json_object *cmd = json_object_new_array();
        for (int i = 0; i < n; i++)
            json_object_array_add(cmd, json_object_new_string("a"));
        const char *code = new_with("command", cmd);
        if (n == 256)
            assert_null(code);
        else
            assert_string_equal(code, "invalid_command");
    }
    json_object *cmd = json_object_new_array();
    json_object_array_add(cmd, string_of(32768));
    assert_null(new_with("command", cmd));
    cmd = json_object_new_array();
    json_object_array_add(cmd, json_object_new_string("sh"));
    json_object_array_add(cmd, string_of(32769));
    assert_string_equal(new_with("command", cmd), "invalid_command");

    /* Fields within their own bounds, but a record past 64 KiB: 413. */
    cmd = json_object_new_array();
    for (int i = 0; i < 3; i++)
        json_object_array_add(cmd, string_of(30000));
    assert_string_equal(new_with("command", cmd), "record_too_large");
}

/* Every string field refuses an embedded NUL: "none\u0000host" is not
 * "none". */
static void test_strings_refuse_nul(void **state)
{
    (void)state;
    field_fails("\"network\":\"none\\u0000host\"", "invalid_network");
    field_fails("\"user\":\"1000\\u0000:0\"", "invalid_user");
    field_fails("\"runtime\":\"runc\\u0000x\"", "invalid_runtime");
    field_fails("\"env\":{\"A\":\"x\\u0000y\"}", "invalid_env");
    field_fails("\"command\":[\"sh\\u0000\"]", "invalid_command");
    new_fails("{\"name\":\"f\\u0000g\",\"image\":\"busybox\"}", "invalid_name");
    new_fails("{\"name\":\"f\",\"image\":\"busybox\\u0000:x\"}", "invalid_image");
}

static void test_user_and_runtime(void **state)
{
    (void)state;
    json_object *rec = new_ok("{\"name\":\"f\",\"image\":\"busybox\"}");
    assert_string_equal(get_str(rec, "user"), "65534:65534");
    assert_false(json_object_object_get_ex(rec, "runtime", NULL));
    json_object_put(rec);
    field_ok("\"user\":\"1000\"");
    field_ok("\"user\":\"0:0\"");
    field_ok("\"user\":\"app:staff\"");
    field_ok("\"runtime\":\"runsc\"");
    field_ok("\"runtime\":\"io.containerd.runc.v2\"");
    field_fails("\"user\":\"\"", "invalid_user");
    field_fails("\"user\":\"a:b:c\"", "invalid_user");
    field_fails("\"user\":\"root;rm\"", "invalid_user");
    field_fails("\"user\":5", "invalid_user");
    field_fails("\"runtime\":\"\"", "invalid_runtime");
    field_fails("\"runtime\":\"../x\"", "invalid_runtime");
    /* The platform's own fields cannot be set by a client. */
    field_fails("\"image_id\":\"sha256:00\"", "unknown_field");
    field_fails("\"created_by\":\"me\"", "unknown_field");
}

static void test_new_network(void **state)
{
    (void)state;
    field_ok("\"network\":\"none\"");
    field_ok("\"network\":\"bridge\"");
    field_fails("\"network\":\"host\"", "invalid_network");
    field_fails("\"network\":\"\"", "invalid_network");
    field_fails("\"network\":\"None\"", "invalid_network");
    field_fails("\"network\":\"container:x\"", "invalid_network");
    field_fails("\"network\":null", "invalid_network");
    field_fails("\"network\":1", "invalid_network");
}

/* protocol and handler: their values, their defaults, and the one
 * combination refused (lambda with reuse "container"), on create and on
 * PATCH. */
static void test_protocol_and_handler(void **state)
{
    err_t err;
    (void)state;
    field_ok("\"protocol\":\"stdio\"");
    field_ok("\"protocol\":\"lambda\"");
    field_ok("\"protocol\":\"lambda\",\"reuse\":\"process\"");
    field_ok("\"protocol\":\"stdio\",\"reuse\":\"container\"");
    field_fails("\"protocol\":\"Lambda\"", "invalid_protocol");
    field_fails("\"protocol\":\"\"", "invalid_protocol");
    field_fails("\"protocol\":null", "invalid_protocol");
    field_fails("\"protocol\":\"lambda\",\"reuse\":\"container\"", "invalid_protocol");
    field_ok("\"handler\":\"app.handler\"");
    field_ok("\"handler\":\"src/app.main handler\"");
    field_fails("\"handler\":\"\"", "invalid_handler");
    field_fails("\"handler\":\"a\\nb\"", "invalid_handler");
    field_fails("\"handler\":1", "invalid_handler");
    char big[400];
    snprintf(big, sizeof(big), "\"handler\":\"%0300d\"", 0);
    field_fails(big, "invalid_handler");

    json_object *rec = new_ok("{\"name\":\"f\",\"image\":\"busybox\"}");
    assert_string_equal(get_str(rec, "protocol"), "stdio");
    assert_false(json_object_object_get_ex(rec, "handler", NULL));
    func_t *f = func_parse(rec, &err);
    assert_non_null(f);
    assert_false(f->lambda);
    assert_string_equal(f->handler, "");
    func_free(f);

    rec = new_ok("{\"name\":\"f\",\"image\":\"busybox\",\"protocol\":\"lambda\","
                 "\"handler\":\"app.handler\"}");
    /* PATCH may not make a lambda function reuse "container", nor a
     * "container" one lambda. */
    json_object *body = parse("{\"reuse\":\"container\"}");
    assert_null(func_patch(rec, body, LATER, NULL, &err));
    assert_string_equal(err.code, "invalid_protocol");
    json_object_put(body);
    body = parse("{\"reuse\":\"process\"}");
    json_object *out = func_patch(rec, body, LATER, NULL, &err);
    assert_non_null(out);
    json_object_put(body);
    f = func_parse(out, &err);
    assert_non_null(f);
    assert_true(f->lambda);
    assert_int_equal(f->reuse, FUNC_REUSE_PROCESS);
    assert_string_equal(f->handler, "app.handler");
    func_free(f);
    json_object_put(rec);
    rec = new_ok("{\"name\":\"f\",\"image\":\"busybox\",\"reuse\":\"container\"}");
    body = parse("{\"protocol\":\"lambda\"}");
    assert_null(func_patch(rec, body, LATER, NULL, &err));
    assert_string_equal(err.code, "invalid_protocol");
    json_object_put(body);
    json_object_put(rec);
}

static void test_new_name_and_image(void **state)
{
    (void)state;
    new_fails("{\"name\":\"_bad\",\"image\":\"busybox\"}", "invalid_name");
    /* A name shaped like an id could never be looked up by name. */
    new_fails("{\"name\":\"0b7e1a3c-1f5e-4d6a-9c2b-3e4f5a6b7c8d\",\"image\":\"busybox\"}",
              "invalid_name");
    new_fails("{\"name\":\"\",\"image\":\"busybox\"}", "invalid_name");
    new_fails("{\"name\":42,\"image\":\"busybox\"}", "invalid_name");
    new_fails("{\"name\":null,\"image\":\"busybox\"}", "invalid_name");
    new_fails("{\"name\":\"a\\u0000b\",\"image\":\"busybox\"}", "invalid_name");
    new_fails("{\"name\":\"f\",\"image\":\"UPPER\"}", "invalid_image");
    new_fails("{\"name\":\"f\",\"image\":\"\"}", "invalid_image");
    new_fails("{\"name\":\"f\",\"image\":[\"busybox\"]}", "invalid_image");
    new_fails("{\"name\":\"f\",\"image\":\"busybox\\u0000:x\"}", "invalid_image");
}

static void test_new_body_shape(void **state)
{
    (void)state;
    new_fails("{\"name\":\"f\",\"image\":\"busybox\",\"bogus\":1}", "unknown_field");
    new_fails("{\"name\":\"f\",\"image\":\"busybox\",\"Timeout\":1}", "unknown_field");
    new_fails("{\"name\":\"f\",\"image\":\"busybox\",\"id\":\"" ID "\"}", "unknown_field");
    new_fails("{\"name\":\"f\",\"image\":\"busybox\",\"created_at\":\"x\"}", "unknown_field");
    new_fails("{\"image\":\"busybox\"}", "missing_field");
    new_fails("{\"name\":\"f\"}", "missing_field");
    new_fails("{}", "missing_field");
    new_fails("[]", "invalid_body");
    new_fails("\"x\"", "invalid_body");
    new_fails("42", "invalid_body");
    new_fails("[{\"name\":\"f\",\"image\":\"busybox\"}]", "invalid_body");

    err_t err;
    memset(&err, 0, sizeof(err));
    assert_null(func_new(NULL, ID, NOW, NULL, &err));
    assert_string_equal(err.code, "invalid_body");

    /* missing_field names the field. */
    json_object *body = parse("{\"name\":\"f\"}");
    assert_null(func_new(body, ID, NOW, NULL, &err));
    assert_non_null(strstr(err.msg, "image"));
    json_object_put(body);
    body = parse("{\"image\":\"busybox\"}");
    assert_null(func_new(body, ID, NOW, NULL, &err));
    assert_non_null(strstr(err.msg, "name"));
    json_object_put(body);
}

static json_object *sample_record(void)
{
    return new_ok("{\"name\":\"orig\",\"image\":\"busybox\",\"timeout\":10,"
                  "\"env\":{\"K\":\"v\"}}");
}

static void patch_fails(const char *text, const char *code)
{
    err_t err;
    json_object *rec = sample_record();
    json_object *body = parse(text);
    const char *before = json_object_to_json_string(rec);
    char copy[2048];
    snprintf(copy, sizeof(copy), "%s", before);
    memset(&err, 0, sizeof(err));
    json_object *out = func_patch(rec, body, LATER, NULL, &err);
    if (out != NULL) {
        json_object_put(out);
        json_object_put(rec);
        json_object_put(body);
        fail_msg("func_patch accepted %s", text);
    }
    assert_non_null(err.code);
    if (strcmp(err.code, code) != 0)
        fail_msg("func_patch(%s): code \"%s\", want \"%s\"", text, err.code, code);
    assert_string_equal(json_object_to_json_string(rec), copy);
    json_object_put(rec);
    json_object_put(body);
}

static void test_patch_applies_to_copy(void **state)
{
    err_t err;
    (void)state;
    json_object *rec = sample_record();
    char before[2048];
    snprintf(before, sizeof(before), "%s", json_object_to_json_string(rec));

    json_object *body =
        parse("{\"image\":\"busybox:1.36\",\"timeout\":900,\"env\":{\"N\":\"1\"},"
              "\"command\":[\"cat\"],\"network\":\"bridge\",\"memory_mb\":16,\"cpus\":0.25,"
              "\"retries\":2}");
    json_object *out = func_patch(rec, body, LATER, NULL, &err);
    assert_non_null(out);
    assert_ptr_not_equal(out, rec);

    assert_string_equal(get_str(out, "id"), ID);
    assert_string_equal(get_str(out, "name"), "orig");
    assert_string_equal(get_str(out, "image"), "busybox:1.36");
    assert_int_equal(json_object_get_int64(get(out, "timeout")), 900);
    assert_int_equal(json_object_get_int64(get(out, "memory_mb")), 16);
    assert_true(fabs(json_object_get_double(get(out, "cpus")) - 0.25) < 1e-12);
    assert_string_equal(get_str(get(out, "env"), "N"), "1");
    /* env is replaced, not merged. */
    assert_false(json_object_object_get_ex(get(out, "env"), "K", NULL));
    assert_string_equal(get_str(out, "network"), "bridge");
    assert_int_equal(json_object_get_int64(get(out, "retries")), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(get(out, "command"), 0)),
                        "cat");
    assert_string_equal(get_str(out, "created_at"), NOW);
    assert_string_equal(get_str(out, "updated_at"), LATER);

    /* The original is untouched, and independent of the patched copy. */
    assert_string_equal(json_object_to_json_string(rec), before);
    json_object_object_add(get(out, "env"), "X", json_object_new_string("y"));
    assert_string_equal(json_object_to_json_string(rec), before);
    json_object_put(body);
    assert_string_equal(json_object_to_json_string(rec), before);

    json_object_put(out);
    json_object_put(rec);
}

static void test_patch_empty_body_touches_updated_at(void **state)
{
    err_t err;
    (void)state;
    json_object *rec = sample_record();
    json_object *body = parse("{}");
    json_object *out = func_patch(rec, body, LATER, NULL, &err);
    assert_non_null(out);
    assert_string_equal(get_str(out, "updated_at"), LATER);
    assert_string_equal(get_str(rec, "updated_at"), NOW);
    assert_int_equal(json_object_get_int64(get(out, "timeout")), 10);
    json_object_put(out);
    json_object_put(body);
    json_object_put(rec);
}

static void test_patch_rejects(void **state)
{
    (void)state;
    patch_fails("{\"name\":\"other\"}", "immutable_field");
    patch_fails("{\"name\":\"orig\"}", "immutable_field");
    patch_fails("{\"id\":\"" ID "\"}", "immutable_field");
    patch_fails("{\"created_at\":\"" LATER "\"}", "immutable_field");
    patch_fails("{\"updated_at\":\"" LATER "\"}", "immutable_field");
    patch_fails("{\"timeout\":30,\"name\":\"x\"}", "immutable_field");
    patch_fails("{\"bogus\":1}", "unknown_field");
    patch_fails("{\"timeout\":0}", "invalid_timeout");
    patch_fails("{\"timeout\":901}", "invalid_timeout");
    patch_fails("{\"memory_mb\":15}", "invalid_memory");
    patch_fails("{\"cpus\":64.1}", "invalid_cpus");
    patch_fails("{\"image\":\"Bad Image\"}", "invalid_image");
    patch_fails("{\"env\":{\"MINILAMBDA_X\":\"1\"}}", "invalid_env");
    patch_fails("{\"command\":[]}", "invalid_command");
    patch_fails("{\"network\":\"host\"}", "invalid_network");
    patch_fails("{\"protocol\":\"http\"}", "invalid_protocol");
    patch_fails("{\"handler\":\"\"}", "invalid_handler");
    patch_fails("[]", "invalid_body");
    patch_fails("\"x\"", "invalid_body");
}

static void test_new_retries_range(void **state)
{
    (void)state;
    field_fails("\"retries\":-1", "invalid_retries");
    field_ok("\"retries\":0");
    field_ok("\"retries\":3");
    field_fails("\"retries\":4", "invalid_retries");
    field_fails("\"retries\":1.5", "invalid_retries");
    field_fails("\"retries\":\"1\"", "invalid_retries");
    field_fails("\"retries\":null", "invalid_retries");
    field_fails("\"retries\":4294967297", "invalid_retries"); /* 2^32 + 1 */
    patch_fails("{\"retries\":4}", "invalid_retries");
}

static void test_load_first_format_record(void **state)
{
    err_t err;
    (void)state;
    json_object *rec = parse("{\"id\":\"" ID "\",\"name\":\"old\",\"image\":\"busybox\","
                             "\"created_at\":\"2024-01-01T00:00:00.000Z\"}");
    assert_int_equal(func_load(rec, &err), 0);
    assert_int_equal(json_object_get_int64(get(rec, "timeout")), 120);
    assert_true(json_object_is_type(get(rec, "timeout"), json_type_int));
    assert_int_equal(json_object_get_int64(get(rec, "memory_mb")), 256);
    assert_true(fabs(json_object_get_double(get(rec, "cpus")) - 1.0) < 1e-12);
    assert_true(json_object_is_type(get(rec, "env"), json_type_object));
    assert_int_equal(json_object_object_length(get(rec, "env")), 0);
    assert_string_equal(get_str(rec, "network"), "none");
    assert_int_equal(json_object_get_int64(get(rec, "retries")), 0);
    assert_string_equal(get_str(rec, "created_at"), "2024-01-01T00:00:00.000Z");
    assert_string_equal(get_str(rec, "updated_at"), "2024-01-01T00:00:00.000Z");
    assert_false(json_object_object_get_ex(rec, "command", NULL));
    json_object_put(rec);
}

static void test_load_keeps_existing_fields(void **state)
{
    err_t err;
    (void)state;
    json_object *rec = parse("{\"id\":\"" ID "\",\"name\":\"old\",\"image\":\"busybox\","
                             "\"timeout\":7,\"memory_mb\":64,\"cpus\":2.5,\"env\":{\"A\":\"b\"},"
                             "\"network\":\"bridge\",\"command\":[\"x\"],"
                             "\"created_at\":\"2024-01-01T00:00:00.000Z\","
                             "\"updated_at\":\"2024-02-01T00:00:00.000Z\"}");
    assert_int_equal(func_load(rec, &err), 0);
    assert_int_equal(json_object_get_int64(get(rec, "timeout")), 7);
    assert_int_equal(json_object_get_int64(get(rec, "memory_mb")), 64);
    assert_true(fabs(json_object_get_double(get(rec, "cpus")) - 2.5) < 1e-12);
    assert_string_equal(get_str(get(rec, "env"), "A"), "b");
    assert_string_equal(get_str(rec, "network"), "bridge");
    assert_string_equal(get_str(rec, "updated_at"), "2024-02-01T00:00:00.000Z");
    json_object_put(rec);
}

static void test_load_without_created_at(void **state)
{
    err_t err;
    (void)state;
    json_object *rec = parse("{\"id\":\"" ID "\",\"name\":\"old\",\"image\":\"busybox\"}");
    assert_int_equal(func_load(rec, &err), 0);
    const char *created = get_str(rec, "created_at");
    /* RFC 3339 UTC with milliseconds: 2024-05-01T10:20:30.456Z */
    assert_int_equal(strlen(created), 24);
    assert_int_equal(created[4], '-');
    assert_int_equal(created[10], 'T');
    assert_int_equal(created[19], '.');
    assert_int_equal(created[23], 'Z');
    assert_string_equal(get_str(rec, "updated_at"), created);
    json_object_put(rec);
}

static void test_load_rejects(void **state)
{
    static const char *const bad[] = {
        "{\"id\":\"" ID "\",\"name\":\"old\",\"created_at\":\"2024-01-01T00:00:00.000Z\"}",
        "{\"id\":\"" ID "\",\"image\":\"busybox\"}",
        "{\"name\":\"old\",\"image\":\"busybox\"}",
        "{\"id\":\"" ID "\",\"name\":\"old\",\"image\":5}",
        "{\"id\":\"" ID "\",\"name\":null,\"image\":\"busybox\"}",
        "{\"id\":7,\"name\":\"old\",\"image\":\"busybox\"}",
        "[]",
        "\"record\"",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t err;
        memset(&err, 0, sizeof(err));
        json_object *rec = parse(bad[i]);
        if (func_load(rec, &err) != -1)
            fail_msg("func_load accepted %s", bad[i]);
        assert_non_null(err.code);
        assert_true(strlen(err.msg) > 0);
        json_object_put(rec);
    }
    /* The message names the missing field. */
    err_t err;
    json_object *rec = parse(bad[0]);
    assert_int_equal(func_load(rec, &err), -1);
    assert_non_null(strstr(err.msg, "image"));
    json_object_put(rec);
}

/* The typed record the run, warm and container code read: a record's
 * values, or the field table's defaults when the record lacks them. */
static void test_parse_and_defaults(void **state)
{
    (void)state;
    err_t err;
    func_t *f = func_parse(parse("{\"id\":\"i\",\"name\":\"f\",\"image\":\"busybox\","
                                 "\"memory_mb\":64,\"cpus\":0.5,\"network\":\"bridge\","
                                 "\"reuse\":\"process\",\"runtime\":\"runsc\","
                                 "\"env\":{\"A\":\"1\",\"B\":\"x=y\"},"
                                 "\"command\":[\"sh\",\"-c\",\"cat\"],\"image_id\":null}"),
                           &err);
    assert_non_null(f);
    assert_string_equal(f->name, "f");
    assert_int_equal(f->memory_mb, 64);
    assert_true(fabs(f->cpus - 0.5) < 1e-12);
    assert_true(f->bridge);
    assert_int_equal(f->reuse, FUNC_REUSE_PROCESS);
    assert_string_equal(f->runtime, "runsc");
    assert_string_equal(f->env[0], "A=1");
    assert_string_equal(f->env[1], "B=x=y");
    assert_null(f->env[2]);
    assert_string_equal(f->command[2], "cat");
    assert_null(f->command[3]);
    /* Unpinned: a container is made from the reference. */
    assert_string_equal(func_image(f), "busybox");
    assert_int_not_equal(f->generation, 0);

    func_t *empty = func_parse(parse("{}"), &err);
    assert_non_null(empty);
    assert_int_equal(empty->memory_mb, 256);
    assert_int_equal(empty->timeout, 120);
    assert_int_equal(empty->retries, 0);
    assert_true(fabs(empty->cpus - 1.0) < 1e-12);
    assert_false(empty->bridge);
    assert_int_equal(empty->reuse, FUNC_REUSE_NONE);
    assert_string_equal(empty->user, "65534:65534");
    assert_string_equal(empty->image, "");
    assert_string_equal(empty->runtime, "");
    assert_null(empty->env[0]);
    assert_null(empty->command);
    assert_int_not_equal(empty->generation, f->generation);
    func_free(empty);

    /* A copy shares nothing: changing it leaves the original as it was. */
    func_t *copy = func_copy(f, &err);
    assert_non_null(copy);
    assert_ptr_not_equal(copy->json, f->json);
    assert_int_equal(copy->generation, f->generation);
    func_redact(copy->json);
    assert_string_equal(json_object_get_string(
                            json_object_object_get(json_object_object_get(copy->json, "env"), "A")),
                        "***");
    assert_string_equal(
        json_object_get_string(json_object_object_get(json_object_object_get(f->json, "env"), "A")),
        "1");
    func_free(copy);
    func_free(f);
}

/* The platform's own fields land as given; a body's checked members are
 * read once, an invalid image reference as none. */
static void test_sys_and_body(void **state)
{
    (void)state;
    err_t err;
    json_object *body = parse("{\"name\":\"f\",\"image\":\"busybox\",\"runtime\":\"runsc\"}");
    func_sys sys = {.set_creator = true, .created_by = "key-1", .set_image_id = true};
    json_object *rec = func_new(body, "i", LATER, &sys, &err);
    assert_non_null(rec);
    assert_string_equal(json_object_get_string(json_object_object_get(rec, "created_by")), "key-1");
    assert_true(json_object_object_get_ex(rec, "image_id", NULL));
    assert_null(json_object_object_get(rec, "image_id"));
    func_sys pin = {.set_image_id = true, .image_id = "sha256:abc"};
    json_object *patch = parse("{\"timeout\":5}");
    json_object *out = func_patch(rec, patch, LATER, &pin, &err);
    assert_non_null(out);
    assert_string_equal(json_object_get_string(json_object_object_get(out, "image_id")),
                        "sha256:abc");
    assert_string_equal(json_object_get_string(json_object_object_get(out, "created_by")), "key-1");

    func_body b;
    func_body_of(body, &b);
    assert_string_equal(b.name, "f");
    assert_string_equal(b.image, "busybox");
    assert_string_equal(b.runtime, "runsc");
    json_object *bad = parse("{\"name\":1,\"image\":\"Not A Ref\"}");
    func_body_of(bad, &b);
    assert_null(b.name);
    assert_null(b.image);
    assert_null(b.runtime);
    json_object_put(bad);
    json_object_put(out);
    json_object_put(patch);
    json_object_put(rec);
    json_object_put(body);
}

/* A pinned record runs its image id; the generation follows every field. */
static void test_parse_pin_and_generation(void **state)
{
    (void)state;
    err_t err;
    func_t *a = func_parse(parse("{\"name\":\"f\",\"image\":\"busybox\",\"image_id\":"
                                 "\"sha256:abc\"}"),
                           &err);
    func_t *b = func_parse(parse("{\"name\":\"f\",\"image\":\"busybox\",\"image_id\":"
                                 "\"sha256:abd\"}"),
                           &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(func_image(a), "sha256:abc");
    assert_int_not_equal(a->generation, b->generation);
    func_free(a);
    func_free(b);
}

/* A field of the wrong type is a corrupt record, never a guessed value. */
static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]",
        "{\"name\":5}",
        "{\"timeout\":\"9\"}",
        "{\"timeout\":1e300}",
        "{\"network\":\"host\"}",
        "{\"env\":[]}",
        "{\"env\":{\"A\":1}}",
        "{\"command\":\"sh\"}",
        "{\"command\":[1]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t err;
        func_t *f = func_parse(parse(bad[i]), &err);
        if (f != NULL)
            fail_msg("typed a bad record: %s", bad[i]);
        assert_int_equal(err.kind, ERR_CORRUPT);
    }
    func_free(NULL);
}

/* Every default the table gives passes the table's own checks: a record
 * built from defaults loads, and PATCHing each field back to its default
 * value is accepted. */
static void test_defaults_are_valid(void **state)
{
    (void)state;
    err_t err;
    json_object *rec = new_ok("{\"name\":\"f\",\"image\":\"busybox\"}");
    assert_int_equal(func_load(rec, &err), 0);
    static const char *const fields[] = {"timeout", "memory_mb", "cpus",
                                         "env",     "network",   "retries"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_object *patch = json_object_new_object(), *v;
        assert_true(json_object_object_get_ex(rec, fields[i], &v));
        json_object_object_add(patch, fields[i], json_object_get(v));
        json_object *out = func_patch(rec, patch, LATER, NULL, &err);
        if (out == NULL)
            fail_msg("the default of %s is refused: %s", fields[i], err.msg);
        json_object_put(out);
        json_object_put(patch);
    }
    json_object_put(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_name),
        cmocka_unit_test(test_valid_image_good),
        cmocka_unit_test(test_valid_image_bad),
        cmocka_unit_test(test_is_id),
        cmocka_unit_test(test_new_defaults),
        cmocka_unit_test(test_new_keeps_given_fields),
        cmocka_unit_test(test_new_timeout_range),
        cmocka_unit_test(test_new_memory_range),
        cmocka_unit_test(test_new_cpus_range),
        cmocka_unit_test(test_new_cpus_not_finite),
        cmocka_unit_test(test_new_env),
        cmocka_unit_test(test_new_command),
        cmocka_unit_test(test_new_env_and_command_limits),
        cmocka_unit_test(test_new_network),
        cmocka_unit_test(test_protocol_and_handler),
        cmocka_unit_test(test_new_name_and_image),
        cmocka_unit_test(test_new_body_shape),
        cmocka_unit_test(test_patch_applies_to_copy),
        cmocka_unit_test(test_patch_empty_body_touches_updated_at),
        cmocka_unit_test(test_patch_rejects),
        cmocka_unit_test(test_new_retries_range),
        cmocka_unit_test(test_load_first_format_record),
        cmocka_unit_test(test_load_keeps_existing_fields),
        cmocka_unit_test(test_load_without_created_at),
        cmocka_unit_test(test_load_rejects),
        cmocka_unit_test(test_strings_refuse_nul),
        cmocka_unit_test(test_user_and_runtime),
        cmocka_unit_test(test_parse_and_defaults),
        cmocka_unit_test(test_parse_pin_and_generation),
        cmocka_unit_test(test_sys_and_body),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_defaults_are_valid),
    };
    return cmocka_run_group_tests_name("func", tests, NULL, NULL);
}
