/*
 * Unit tests for images: uploads on requests in memory (request.h) into
 * the scripted fake engine (fake.h), which reads the streamed tar as the
 * engine does; listing; presence and resolution of a reference. Covered:
 * what an upload is refused for before the engine is asked (media type,
 * boundary, length) and while its body streams (no image field, two, an
 * empty one, a client gone), a load that names its images, pins the
 * uploader's unpinned functions of that tag and reports the pinned ones
 * it retagged, the log of what this instance loaded, the listing of this
 * instance's images only (a limited key's own), its detail form, and the
 * presence cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/files.h"
#include "fake.h"
#include "http/images.h"
#include "platform.h"

#define ENGINE_VERSION                                                                             \
    "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}"
#define NEW_ID "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define OLD_ID "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* --- a small `docker save` tar ------------------------------------------ */

/* `v` in octal, zero-padded to fill `len` bytes with the NUL. */
static void octal(unsigned char *f, size_t len, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)len - 1, v);
    assert_int_equal(n, (int)len - 1);
    memcpy(f, tmp, len);
}

/* A tar of one member `name` holding `content`, ended. */
static void tar_of(buf_t *b, const char *name, const char *content)
{
    unsigned char h[512], zero[1024] = {0};
    unsigned long sum = 0;
    size_t n = strlen(content);
    memset(h, 0, sizeof(h));
    memcpy(h, name, strlen(name));
    octal(h + 100, 8, 0644);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, n);
    octal(h + 136, 12, 1700000000);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    octal(h + 148, 7, sum);
    assert_int_equal(buf_append(b, h, sizeof(h)), BUF_OK);
    assert_int_equal(buf_append(b, content, n), BUF_OK);
    assert_int_equal(buf_append(b, zero, 512 - n % 512), BUF_OK);
    assert_int_equal(buf_append(b, zero, sizeof(zero)), BUF_OK);
}

/* A multipart form with the `nfields` fields `names`, each holding
 * `data` (`len` bytes). */
static void form_of(buf_t *b, const char *const *names, int nfields, const char *data, size_t len)
{
    for (int i = 0; i < nfields; i++) {
        assert_int_equal(buf_printf(b,
                                    "--XyZ\r\nContent-Disposition: form-data; name=\"%s\"; "
                                    "filename=\"i.tar\"\r\nContent-Type: "
                                    "application/x-tar\r\n\r\n",
                                    names[i]),
                         BUF_OK);
        assert_int_equal(buf_append(b, data, len), BUF_OK);
        assert_int_equal(buf_puts(b, "\r\n"), BUF_OK);
    }
    assert_int_equal(buf_puts(b, "--XyZ--\r\n"), BUF_OK);
}

#define FORM "multipart/form-data; boundary=XyZ"

/* --- the log -------------------------------------------------------------- */

/* stderr, where log lines go, while it is captured. */
static int capture_fd = -1, capture_saved = -1;
static char capture_path[] = "/tmp/ml-images-log-XXXXXX";

static void capture_begin(void)
{
    snprintf(capture_path, sizeof(capture_path), "/tmp/ml-images-log-XXXXXX");
    capture_fd = mkstemp(capture_path);
    assert_true(capture_fd >= 0);
    capture_saved = dup(STDERR_FILENO);
    assert_true(capture_saved >= 0);
    assert_true(dup2(capture_fd, STDERR_FILENO) >= 0);
}

/* What was logged since capture_begin into `out`, cut to fit. */
static void capture_end(char *out, size_t len)
{
    buf_t text;
    err_t e;
    assert_true(dup2(capture_saved, STDERR_FILENO) >= 0);
    close(capture_saved);
    close(capture_fd);
    buf_init(&text, 1 << 20);
    assert_int_equal(files_read(capture_path, &text, &e), 0);
    unlink(capture_path);
    snprintf(out, len, "%.*s", (int)text.len, text.data ? text.data : "");
    buf_free(&text);
}

/* --- calling ---------------------------------------------------------------- */

static int call(platform_t *p, request_t *q, route_handler h, const keys_key *k, err_t *e)
{
    route_call c;
    platform_call(p, q, &c);
    c.key = k;
    err_clear(e);
    return h(&c, e);
}

static int upload(platform_t *p, request_t *q, const char *ctype, const buf_t *b, err_t *e)
{
    request_init(q, "POST", "/images");
    request_body(q, ctype, b->data ? b->data : "", b->len);
    return call(p, q, images_upload, NULL, e);
}

static const char *const no_rate[] = {"MINILAMBDA_UPLOAD_MIN_RATE=0", "MINILAMBDA_WARM_MAX=0",
                                      NULL};

/* Refused before the engine is asked: no engine listens here. */
static void test_refused_early(void **state)
{
    static const char *const small[] = {"MINILAMBDA_UPLOAD_MIN_RATE=0",
                                        "MINILAMBDA_MAX_IMAGE_BYTES=1000", NULL};
    platform_t p;
    request_t q;
    buf_t tar;
    err_t e;
    (void)state;
    platform_open(&p, "images", small);
    buf_init(&tar, 1 << 20);
    tar_of(&tar, "manifest.json", "[]");

    assert_int_equal(upload(&p, &q, "text/plain", &tar, &e), -1);
    assert_int_equal(err_status(&e), 415);
    request_free(&q);
    assert_int_equal(upload(&p, &q, NULL, &tar, &e), -1);
    assert_int_equal(err_status(&e), 415);
    request_free(&q);
    assert_int_equal(upload(&p, &q, "multipart/form-data", &tar, &e), -1);
    assert_string_equal(err_code(&e), "invalid_multipart");
    request_free(&q);
    /* Content-Length past MINILAMBDA_MAX_IMAGE_BYTES. */
    assert_true(tar.len > 1000);
    assert_int_equal(upload(&p, &q, "application/x-tar", &tar, &e), -1);
    assert_int_equal(err_status(&e), 413);
    assert_int_equal(request_status(&q), 0);
    request_free(&q);
    buf_free(&tar);
    platform_close(&p);
}

/* Refused while the body streams: the engine's load is abandoned (its
 * request never answered), nothing is loaded. */
static void test_refused_streaming(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION}, {0, ""}, {0, ""}, {0, ""}, {0, ""}, {0, ""}, {0, ""}};
    static const char *const image[] = {"image"}, *const two[] = {"image", "image"},
                             *const other[] = {"picture"};
    fake_server fs;
    platform_t p;
    request_t q;
    buf_t tar, form;
    err_t e;
    (void)state;
    fake_start(&fs, replies, sizeof(replies) / sizeof(replies[0]));
    platform_open_engine(&p, "images", no_rate, fs.host);
    buf_init(&tar, 1 << 20);
    tar_of(&tar, "manifest.json", "[]");

    buf_init(&form, 1 << 20);
    form_of(&form, other, 1, tar.data, tar.len);
    assert_int_equal(upload(&p, &q, FORM, &form, &e), -1);
    assert_string_equal(err_code(&e), "missing_image_field");
    assert_non_null(strstr(e.msg, "\"picture\""));
    request_free(&q);
    buf_free(&form);

    buf_init(&form, 1 << 20);
    form_of(&form, two, 2, tar.data, tar.len);
    assert_int_equal(upload(&p, &q, FORM, &form, &e), -1);
    assert_string_equal(err_code(&e), "invalid_multipart");
    assert_non_null(strstr(e.msg, "more than one"));
    request_free(&q);
    buf_free(&form);

    buf_init(&form, 1 << 20);
    form_of(&form, image, 1, "", 0);
    assert_int_equal(upload(&p, &q, FORM, &form, &e), -1);
    assert_string_equal(err_code(&e), "invalid_image");
    request_free(&q);

    /* The client went away mid-body: the body ends short of its length. */
    request_init(&q, "POST", "/images");
    request_body(&q, "application/x-tar", tar.data, tar.len / 2);
    char len[32];
    snprintf(len, sizeof(len), "%zu", tar.len);
    request_param(&q, "CONTENT_LENGTH", len);
    assert_int_equal(call(&p, &q, images_upload, NULL, &e), -1);
    assert_string_equal(err_code(&e), "incomplete_body");
    request_free(&q);
    /* Or its connection failed (libfcgi flags the stream). */
    request_init(&q, "POST", "/images");
    request_body(&q, "application/x-tar", tar.data, tar.len / 2);
    q.gone = 5;
    assert_int_equal(call(&p, &q, images_upload, NULL, &e), -1);
    assert_string_equal(err_code(&e), "incomplete_body");
    request_free(&q);

    buf_free(&form);
    buf_free(&tar);
    platform_close(&p);
    fake_stop(&fs);
    /* Each upload reached the engine's load, and none was answered. */
    for (size_t i = 1; i < fs.nrequests; i++)
        assert_string_equal(fs.requests[i], "POST /v1.41/images/load?quiet=1");
}

/* A load: the images it names, the tar streamed whole, the uploader's
 * unpinned function of that tag pinned, a pinned one reported retagged
 * (and left as it was), and the load noted in images.log. */
static void test_load(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION},
        {200, "{\"stream\":\"Loaded image: img:1\\n\"}\n"},
        {200, "{\"Id\":\"" NEW_ID "\"}"},
        {200, "{\"Id\":\"" NEW_ID "\"}"},
    };
    static const char *const image[] = {"image"};
    fake_server fs;
    platform_t p;
    request_t q;
    buf_t tar, form, log;
    func_t *f = NULL;
    err_t e;
    (void)state;
    fake_start(&fs, replies, 4);
    platform_open_engine(&p, "images", no_rate, fs.host);
    platform_function(&p, "{\"name\":\"fresh\",\"image\":\"img:1\"}", NULL);
    platform_function(&p, "{\"name\":\"elsewhere\",\"image\":\"img:2\"}", NULL);
    json_object *body = json_tokener_parse("{\"name\":\"pinned\",\"image\":\"img:1\"}");
    func_sys sys = {.set_image_id = true, .image_id = OLD_ID};
    assert_int_equal(store_create(p.app.store, body, &sys, NULL, &f, &e), 0);
    func_free(f);
    json_object_put(body);

    buf_init(&tar, 1 << 20);
    tar_of(&tar, "manifest.json", "[{\"RepoTags\":[\"img:1\"]}]");
    buf_init(&form, 1 << 20);
    form_of(&form, image, 1, tar.data, tar.len);
    char logged[4096];
    capture_begin();
    assert_int_equal(upload(&p, &q, FORM, &form, &e), 0);
    capture_end(logged, sizeof(logged));
    /* The first load notes the log it makes, and says nothing else of it. */
    assert_null(strstr(logged, "not noted"));
    assert_non_null(strstr(logged, "image upload: loaded [\"img:1\"]"));
    assert_int_equal(request_status(&q), 200);
    json_object *out = request_json(&q);
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(out, "images"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "[\"img:1\"]");
    assert_int_equal(json_object_get_int64(json_object_object_get(out, "file_size")),
                     (int64_t)tar.len);
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(out, "pinned"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "[\"fresh\"]");
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(out, "retagged"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "[\"pinned\"]");
    json_object_put(out);
    request_free(&q);

    assert_int_equal(store_get(p.app.store, "fresh", &f, &e), 0);
    assert_string_equal(f->image_id, NEW_ID);
    func_free(f);
    assert_int_equal(store_get(p.app.store, "pinned", &f, &e), 0);
    assert_string_equal(f->image_id, OLD_ID);
    func_free(f);
    assert_int_equal(store_get(p.app.store, "elsewhere", &f, &e), 0);
    assert_string_equal(f->image_id, "");
    func_free(f);

    char path[160];
    snprintf(path, sizeof(path), "%s/images.log", p.data);
    buf_init(&log, 1 << 20);
    assert_int_equal(files_read(path, &log, &e), 0);
    assert_int_equal(buf_append(&log, "", 1), BUF_OK);
    assert_string_equal(log.data, NEW_ID " img:1 -\n");
    buf_free(&log);

    size_t tar_len = tar.len;
    buf_free(&form);
    buf_free(&tar);
    platform_close(&p);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 4);
    assert_string_equal(fs.requests[1], "POST /v1.41/images/load?quiet=1");
    /* The engine got the tar, not the form around it. */
    assert_int_equal(fs.body_bytes[1], tar_len);
    assert_string_equal(fs.requests[2], "GET /v1.41/images/img%3A1/json");
}

/* A load the engine refuses, or one that names no image. */
static void test_load_refused(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION},
        {200, "{\"errorDetail\":{\"message\":\"bad layer\"},\"error\":\"bad layer\"}\n"},
        {200, "{\"stream\":\"nothing to see\\n\"}\n"},
        {400, "{\"message\":\"not a tar\"}"},
    };
    fake_server fs;
    platform_t p;
    request_t q;
    buf_t tar;
    err_t e;
    (void)state;
    fake_start(&fs, replies, 4);
    platform_open_engine(&p, "images", no_rate, fs.host);
    buf_init(&tar, 1 << 20);
    tar_of(&tar, "manifest.json", "[]");
    static const char *const why[] = {"bad layer", "holds no image", "not a tar"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(upload(&p, &q, "application/x-tar", &tar, &e), -1);
        assert_string_equal(err_code(&e), "invalid_image");
        assert_non_null(strstr(e.msg, why[i]));
        request_free(&q);
    }
    buf_free(&tar);
    platform_close(&p);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 4);
}

#define LIST                                                                                       \
    "[{\"Id\":\"" NEW_ID "\",\"RepoTags\":[\"img:1\",\"img:latest\"],\"Size\":10,"                 \
    "\"Created\":1700000000},"                                                                     \
    "{\"Id\":\"" OLD_ID "\",\"RepoTags\":[\"<none>:<none>\"],\"Size\":20,\"Created\":1},"          \
    "{\"Id\":\"sha256:3333\",\"RepoTags\":[\"theirs:1\"]},"                                        \
    "{\"Id\":\"sha256:4444\",\"RepoTags\":[\"someone/else:latest\"]}]"

/* Only this instance's images: a function's tag or pin, or a load noted
 * in the log (by the key itself, for a limited key). */
static void test_list(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION}, {200, LIST}, {200, LIST}, {200, LIST}};
    fake_server fs;
    platform_t p;
    request_t q;
    func_t *f = NULL;
    err_t e;
    char path[160];
    (void)state;
    fake_start(&fs, replies, 4);
    platform_open_engine(&p, "images", no_rate, fs.host);
    platform_function(&p, "{\"name\":\"a\",\"image\":\"img:1\"}", NULL);
    json_object *body = json_tokener_parse("{\"name\":\"b\",\"image\":\"gone:1\"}");
    func_sys sys = {.set_image_id = true, .image_id = OLD_ID};
    assert_int_equal(store_create(p.app.store, body, &sys, NULL, &f, &e), 0);
    func_free(f);
    json_object_put(body);
    snprintf(path, sizeof(path), "%s/images.log", p.data);
    FILE *log = fopen(path, "w");
    assert_non_null(log);
    fprintf(log, "sha256:4444 someone/else:latest k-other\nbroken line\n");
    fclose(log);

    request_init(&q, "GET", "/images");
    assert_int_equal(call(&p, &q, images_list, NULL, &e), 0);
    assert_string_equal(request_answer_body(&q), "[\"img:1\",\"someone/else:latest\"]");
    request_free(&q);

    /* A key limited to "a": its function's image, not another key's load. */
    keys_key k = {.id = "k-a", .scopes = KEYS_DEPLOY, .functions = json_tokener_parse("[\"a\"]")};
    request_init(&q, "GET", "/images?detail=1");
    assert_int_equal(call(&p, &q, images_list, &k, &e), 0);
    json_object *d = request_json(&q);
    assert_int_equal(json_object_array_length(d), 1);
    json_object *img = json_object_array_get_idx(d, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(img, "id")), NEW_ID);
    assert_string_equal(
        json_object_to_json_string_ext(json_object_object_get(img, "tags"), JSON_C_TO_STRING_PLAIN),
        "[\"img:1\"]");
    assert_int_equal(json_object_get_int(json_object_object_get(img, "size")), 10);
    assert_string_equal(json_object_get_string(json_object_object_get(img, "created")),
                        "2023-11-14T22:13:20Z");
    json_object_put(d);
    request_free(&q);
    keys_key_free(&k);

    /* Detail for an unlimited key: the pinned image without a tag too. */
    request_init(&q, "GET", "/images?detail=true");
    assert_int_equal(call(&p, &q, images_list, NULL, &e), 0);
    d = request_json(&q);
    assert_int_equal(json_object_array_length(d), 3);
    img = json_object_array_get_idx(d, 1);
    assert_string_equal(json_object_get_string(json_object_object_get(img, "id")), OLD_ID);
    assert_int_equal(json_object_array_length(json_object_object_get(img, "tags")), 0);
    json_object_put(d);
    request_free(&q);

    request_init(&q, "GET", "/images?detail=yes");
    assert_int_equal(call(&p, &q, images_list, NULL, &e), -1);
    assert_string_equal(err_code(&e), "invalid_query");
    request_free(&q);
    platform_close(&p);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 4);
    assert_string_equal(fs.requests[1], "GET /v1.41/images/json");
}

/* Presence: yes, no (both kept for a while), cannot tell (not kept);
 * resolution: the id, none, or an answer without one. */
static void test_present_resolve(void **state)
{
    static const fake_reply replies[] = {
        {200, ENGINE_VERSION},
        {200, "{\"Id\":\"" NEW_ID "\"}"},
        {404, "{\"message\":\"No such image\"}"},
        {500, "{\"message\":\"boom\"}"},
        {200, "{\"Id\":\"" NEW_ID "\"}"},
        {404, "{\"message\":\"No such image\"}"},
        {200, "{\"Size\":1}"},
    };
    fake_server fs;
    char err[256], id[DOCKER_ID_MAX];
    err_t e;
    (void)state;
    fake_start(&fs, replies, 7);
    docker_t *d = docker_new(err, sizeof(err));
    assert_non_null(d);
    docker_conn_t *c = docker_conn_new(d);
    assert_non_null(c);
    assert_int_equal(images_present(c, "here-1"), 1);
    assert_int_equal(images_present(c, "absent-1"), 0);
    /* Kept: no call for either. */
    assert_int_equal(images_present(c, "here-1"), 1);
    assert_int_equal(images_present(c, "absent-1"), 0);
    assert_int_equal(images_present(c, "unsure-1"), -1);

    assert_int_equal(images_resolve(c, "here-1", id, sizeof(id), &e), 1);
    assert_string_equal(id, NEW_ID);
    assert_int_equal(images_resolve(c, "absent-1", id, sizeof(id), &e), 0);
    assert_int_equal(images_resolve(c, "odd-1", id, sizeof(id), &e), -1);
    assert_int_equal(e.kind, ERR_ENGINE);
    assert_non_null(strstr(e.msg, "no Id"));
    docker_conn_free(c);
    docker_free(d);
    fake_stop(&fs);
    assert_int_equal(fs.nrequests, 7);
    assert_string_equal(fs.requests[3], "GET /v1.41/images/unsure-1/json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_early), cmocka_unit_test(test_refused_streaming),
        cmocka_unit_test(test_load),          cmocka_unit_test(test_load_refused),
        cmocka_unit_test(test_list),          cmocka_unit_test(test_present_resolve),
    };
    return cmocka_run_group_tests_name("images", tests, fake_group_setup, fake_group_teardown);
}
