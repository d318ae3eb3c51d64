/*
 * A stress test for container_create from several threads at once against a
 * fake Docker Engine on a unix socket (a thread per connection), so that the
 * image-inspect cache is hit, filled and evicted concurrently.
 *
 * json-c counts references without atomics, and json-c itself is not built
 * with ThreadSanitizer, which therefore cannot see two threads getting and
 * putting the same object. The test links with --wrap=json_object_get and
 * --wrap=json_object_put: each wrapper first rewrites the object's first
 * byte with a plain (instrumented) read and write, as json-c rewrites the
 * count, so that under -fsanitize=thread (./configure --enable-tsan) any
 * json-c object reached by two threads without a lock is reported as the
 * data race it is. Without TSan the test still checks every create body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "engine/docker.h"
#include "run/container.h"
#include "state/func.h"

#define STRESS_THREADS 4
#define STRESS_CALLS 300
#define STRESS_IMAGES 80 /* more than the cache holds: hits, fills and evictions */
#define FAKE_CONNS 16

json_object *__real_json_object_get(json_object *o);
int __real_json_object_put(json_object *o);
json_object *__wrap_json_object_get(json_object *o);
int __wrap_json_object_put(json_object *o);

/* Touch `o` as json-c's count does, where TSan sees it. */
static void stress_touch(json_object *o)
{
    if (o != NULL) {
        volatile unsigned char *p = (volatile unsigned char *)o;
        *p = *p;
    }
}

json_object *__wrap_json_object_get(json_object *o)
{
    stress_touch(o);
    return __real_json_object_get(o);
}

int __wrap_json_object_put(json_object *o)
{
    stress_touch(o);
    return __real_json_object_put(o);
}

typedef struct {
    char dir[64];
    char sock[100];
    char host[160];
    int lfd;
    pthread_t th;
    atomic_int bad;     /* create bodies that lack what the image says */
    atomic_int creates; /* create requests seen */
    atomic_int inspects;
} fake_engine;

typedef struct {
    fake_engine *fe;
    int fd;
} fake_client;

static void fake_send(int fd, int status, const char *body)
{
    char out[2048];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Api-Version: 1.41\r\nContent-Length: %zu\r\n\r\n%s",
                     status, strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof(out));
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = send(fd, out + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* Answer one request of `head` (its body `body`). */
static void fake_answer(fake_engine *fe, int fd, const char *head, const char *body)
{
    char method[16] = "", target[480] = "";
    if (sscanf(head, "%15s %479s", method, target) != 2) {
        fake_send(fd, 400, "{\"message\":\"bad request line\"}");
        return;
    }
    if (strstr(target, "/version") != NULL) {
        fake_send(fd, 200, "{\"ApiVersion\":\"1.41\"}");
    } else if (strstr(target, "/images/") != NULL) {
        atomic_fetch_add(&fe->inspects, 1);
        fake_send(fd, 200,
                  "{\"Id\":\"sha256:x\",\"Config\":{\"Entrypoint\":[\"/bin/entry\",\"-e\"],"
                  "\"Cmd\":[\"image-cmd\",\"arg\"],\"Volumes\":{\"/data\":{},\"/tmp\":{}}}}");
    } else if (strcmp(method, "POST") == 0 && strstr(target, "/containers/create") != NULL) {
        atomic_fetch_add(&fe->creates, 1);
        /* The engine sees slashes escaped (JSON_C_TO_STRING_PLAIN). */
        if (strstr(body, "\"\\/bin\\/entry\",\"-e\"]") == NULL ||
            strstr(body, "\"Cmd\":[\"image-cmd\",\"arg\"]") == NULL ||
            strstr(body, "\"\\/data\"") == NULL)
            atomic_fetch_add(&fe->bad, 1);
        fake_send(fd, 201, "{\"Id\":\"0123456789abcdef\",\"Warnings\":[]}");
    } else {
        fake_send(fd, 404, "{\"message\":\"no such route\"}");
    }
}

/* Serve one connection until the client closes it. */
static void *fake_client_main(void *arg)
{
    fake_client *fc = arg;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        ssize_t n = recv(fc->fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        for (;;) {
            char *end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                break;
            size_t head = (size_t)(end + 4 - buf), body_len = 0;
            for (char *h = strstr(buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n"))
                if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
                    body_len = strtoul(h + 17, NULL, 10);
            if (len < head + body_len)
                break;
            char saved = buf[head + body_len];
            buf[head + body_len] = '\0';
            fake_answer(fc->fe, fc->fd, buf, buf + head);
            buf[head + body_len] = saved;
            memmove(buf, buf + head + body_len, len - head - body_len);
            len -= head + body_len;
            buf[len] = '\0';
        }
        if (len == cap)
            break;
    }
    free(buf);
    close(fc->fd);
    free(fc);
    return NULL;
}

static void *fake_main(void *arg)
{
    fake_engine *fe = arg;
    pthread_t th[FAKE_CONNS];
    int n = 0;
    for (;;) {
        int fd = accept(fe->lfd, NULL, NULL);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0)
            break; /* shut down */
        fake_client *fc = malloc(sizeof(*fc));
        if (fc == NULL || n == FAKE_CONNS) {
            free(fc);
            close(fd);
            continue;
        }
        *fc = (fake_client){.fe = fe, .fd = fd};
        if (pthread_create(&th[n], NULL, fake_client_main, fc) == 0)
            n++;
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return NULL;
}

static void fake_start(fake_engine *fe)
{
    struct sockaddr_un sa;
    memset(fe, 0, sizeof(*fe));
    snprintf(fe->dir, sizeof(fe->dir), "/tmp/ml-container-test-XXXXXX");
    assert_non_null(mkdtemp(fe->dir));
    snprintf(fe->sock, sizeof(fe->sock), "%s/engine.sock", fe->dir);
    fe->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fe->lfd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fe->sock);
    assert_int_equal(bind(fe->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fe->lfd, 16), 0);
    assert_int_equal(pthread_create(&fe->th, NULL, fake_main, fe), 0);
    snprintf(fe->host, sizeof(fe->host), "unix://%s", fe->sock);
}

/* Stop accepting; the connection threads end as their clients close. */
static void fake_stop(fake_engine *fe)
{
    assert_int_equal(shutdown(fe->lfd, SHUT_RDWR), 0);
    assert_int_equal(pthread_join(fe->th, NULL), 0);
    close(fe->lfd);
    unlink(fe->sock);
    rmdir(fe->dir);
}

typedef struct {
    docker_t *d;
    int index;
    int failed;
} stress_arg;

static void *stress_main(void *arg)
{
    stress_arg *a = arg;
    err_t e;
    docker_conn_t *c = docker_conn_new(a->d);
    json_object *body = json_tokener_parse("{\"name\":\"race\",\"image\":\"busybox:latest\"}");
    json_object *rec =
        func_new(body, "11111111-2222-4333-8444-555555555555", "2026-01-01T00:00:00Z", NULL, &e);
    func_t *fn = rec != NULL ? func_parse(rec, &e) : NULL;
    if (c == NULL || fn == NULL) {
        a->failed = STRESS_CALLS;
        goto done;
    }
    for (int i = 0; i < STRESS_CALLS; i++) {
        char image[80], cid[DOCKER_ID_MAX] = "";
        runtime_req req;
        runtime_result res;
        /* Threads walk the ids in step, so that they share cache slots. */
        snprintf(image, sizeof(image), "sha256:%064d", (i / 3) % STRESS_IMAGES);
        fn->image_id = image;
        memset(&req, 0, sizeof(req));
        req.function = fn;
        req.timeout_s = 5;
        req.cancel_fd = -1;
        snprintf(req.id, sizeof(req.id), "inv-%d-%d", a->index, i);
        snprintf(req.run, sizeof(req.run), "run-%d-%d", a->index, i);
        runtime_result_init(&res);
        int rc = container_create(c, &req, "test", CONTAINER_FRESH, "/opt/init",
                                  clock_mono_ms() + 5000, cid, &res);
        if (rc != 0 || strcmp(cid, "0123456789abcdef") != 0)
            a->failed++;
        runtime_result_free(&res);
    }
done:
    func_free(fn);
    json_object_put(body);
    docker_conn_free(c);
    return NULL;
}

static void test_create_from_many_threads(void **state)
{
    fake_engine fe;
    char err[256] = "";
    pthread_t th[STRESS_THREADS];
    stress_arg args[STRESS_THREADS];
    (void)state;

    fake_start(&fe);
    docker_t *d = docker_new_at(fe.host, NULL, err, sizeof(err));
    if (d == NULL)
        fail_msg("docker_new_at: %s", err);
    for (int i = 0; i < STRESS_THREADS; i++) {
        args[i] = (stress_arg){.d = d, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, stress_main, &args[i]), 0);
    }
    for (int i = 0; i < STRESS_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failed, 0);
    }
    docker_free(d);
    fake_stop(&fe);
    assert_int_equal(atomic_load(&fe.creates), STRESS_THREADS * STRESS_CALLS);
    assert_int_equal(atomic_load(&fe.bad), 0);
    /* The cache answered some: fewer inspects than creates. */
    assert_true(atomic_load(&fe.inspects) < STRESS_THREADS * STRESS_CALLS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_from_many_threads),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests_name("container", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
