#include "container.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "func.h"
#include "log.h"

/* Removal must run even after the deadline, so it has its own budget. */
#define CONTAINER_REMOVE_TIMEOUT_MS 15000
#define CONTAINER_CHUNK 65536
#define CONTAINER_INFO_MAX (1024 * 1024)
#define CONTAINER_INFO_TIMEOUT_MS 5000
#define CONTAINER_VOLUME_CACHE 64

static void container_env(json_object *env, const char *key, const char *value)
{
    char line[512];
    snprintf(line, sizeof(line), "%s=%s", key, value);
    json_object_array_add(env, json_object_new_string(line));
}

/* The Env array: the function's own variables, then this call's values. */
static json_object *container_env_list(const runtime_req *req)
{
    json_object *rec = req->function, *v;
    json_object *env = json_object_new_array();
    char num[64];

    if (json_object_object_get_ex(rec, "env", &v) && json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val)
        {
            buf_t line;
            buf_init(&line, 65536);
            if (buf_printf(&line, "%s=%s", key, json_object_get_string(val)) == BUF_OK)
                json_object_array_add(env, json_object_new_string_len(line.data, (int)line.len));
            buf_free(&line);
        }
    }
    container_env(env, "MINILAMBDA_FUNCTION_NAME", func_str(rec, "name"));
    container_env(env, "MINILAMBDA_INVOCATION_ID", req->id);
    snprintf(num, sizeof(num), "%d", req->attempt > 0 ? req->attempt : 1);
    container_env(env, "MINILAMBDA_ATTEMPT", num);
    snprintf(num, sizeof(num), "%lld", clock_wall_ms() + (long long)req->timeout_s * 1000);
    container_env(env, "MINILAMBDA_DEADLINE_MS", num);
    return env;
}

static json_object *container_labels(const runtime_req *req, const char *instance)
{
    json_object *labels = json_object_new_object();
    json_object_object_add(labels, "minilambda.managed", json_object_new_string("1"));
    json_object_object_add(labels, "minilambda.function",
                           json_object_new_string(func_str(req->function, "id")));
    json_object_object_add(labels, "minilambda.invocation", json_object_new_string(req->id));
    json_object_object_add(labels, "minilambda.run", json_object_new_string(req->run));
    json_object_object_add(labels, "minilambda.instance", json_object_new_string(instance));
    return labels;
}

static json_object *container_one(const char *s)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(s));
    return a;
}

/* The HostConfig: limits and isolation; a bounded tmpfs over /tmp and over
 * every path in `volumes` (the image's VOLUMEs, which would otherwise get
 * anonymous volumes on the engine's disk, past the read-only root). */
static json_object *container_host(json_object *rec, json_object *volumes)
{
    json_object *host = json_object_new_object(), *v;
    bool bridge = strcmp(func_str(rec, "network"), "bridge") == 0;
    long long mem = func_int(rec, "memory_mb") * 1024 * 1024;

    json_object_object_add(host, "Memory", json_object_new_int64(mem));
    json_object_object_add(host, "MemorySwap", json_object_new_int64(mem));
    json_object_object_add(host, "NanoCpus",
                           json_object_new_int64((int64_t)(func_num(rec, "cpus") * 1e9)));
    /* gVisor's sandbox counts its own host threads, about nine a guest
     * process: the same bound on guest processes needs a larger number. */
    bool gvisor = strcmp(func_str(rec, "runtime"), "runsc") == 0;
    json_object_object_add(host, "PidsLimit",
                           json_object_new_int64(CONTAINER_PIDS_LIMIT * (gvisor ? 8 : 1)));
    json_object_object_add(host, "NetworkMode", json_object_new_string(bridge ? "bridge" : "none"));
    json_object_object_add(host, "CapDrop", container_one("ALL"));
    json_object_object_add(host, "SecurityOpt", container_one("no-new-privileges"));
    json_object_object_add(host, "ReadonlyRootfs", json_object_new_boolean(1));
    json_object *tmpfs = json_object_new_object();
    for (size_t i = 0; volumes != NULL && i < json_object_array_length(volumes); i++)
        json_object_object_add(tmpfs, json_object_get_string(json_object_array_get_idx(volumes, i)),
                               json_object_new_string(CONTAINER_TMPFS));
    json_object_object_add(tmpfs, "/tmp", json_object_new_string(CONTAINER_TMPFS));
    json_object_object_add(host, "Tmpfs", tmpfs);
    /* We read the output over attach; a log file would only cost disk. */
    json_object *logcfg = json_object_new_object();
    json_object_object_add(logcfg, "Type", json_object_new_string("none"));
    json_object_object_add(host, "LogConfig", logcfg);
    if (json_object_object_get_ex(rec, "runtime", &v) && json_object_is_type(v, json_type_string))
        json_object_object_add(host, "Runtime", json_object_get(v));
    return host;
}

json_object *container_spec(const runtime_req *req, const char *instance, json_object *volumes)
{
    json_object *rec = req->function, *v;
    json_object *spec = json_object_new_object();

    json_object_object_add(spec, "Image", json_object_new_string(func_image(rec)));
    json_object_object_add(spec, "User", json_object_new_string(func_str(rec, "user")));
    if (json_object_object_get_ex(rec, "command", &v) && json_object_is_type(v, json_type_array))
        json_object_object_add(spec, "Cmd", json_object_get(v));
    json_object_object_add(spec, "Env", container_env_list(req));
    json_object_object_add(spec, "AttachStdin", json_object_new_boolean(1));
    json_object_object_add(spec, "AttachStdout", json_object_new_boolean(1));
    json_object_object_add(spec, "AttachStderr", json_object_new_boolean(1));
    json_object_object_add(spec, "OpenStdin", json_object_new_boolean(1));
    json_object_object_add(spec, "StdinOnce", json_object_new_boolean(1));
    json_object_object_add(spec, "Tty", json_object_new_boolean(0));
    json_object_object_add(
        spec, "NetworkDisabled",
        json_object_new_boolean(strcmp(func_str(rec, "network"), "bridge") != 0));
    json_object_object_add(spec, "Labels", container_labels(req, instance));
    json_object_object_add(spec, "HostConfig", container_host(rec, volumes));
    return spec;
}

/* Map a failed engine call of `step` onto the result. An engine that does
 * not answer, or (before the function `started`) answers too late, is the
 * engine's fault, not the function's. */
static int container_engine_fail(runtime_result *res, docker_rc rc, const docker_result *dr,
                                 const char *step, bool started)
{
    if (rc == DOCKER_TIMEOUT)
        runtime_fail(res, STATUS_TIMEOUT, "the function timed out");
    else
        runtime_fail(res, rc == DOCKER_UNREACHABLE ? STATUS_UNREACHABLE : STATUS_ENGINE_ERROR,
                     "%s: %.400s", step, dr->message);
    res->engine_fault = rc == DOCKER_UNREACHABLE || (rc == DOCKER_TIMEOUT && !started);
    return -1;
}

static long container_left(long long deadline)
{
    return (long)(deadline - clock_mono_ms());
}

/* The VOLUMEs of image `image`, a new array (empty when it has none or
 * cannot be inspected: then the create itself answers). An image id never
 * changes what it holds, so its answer is kept for the process's life. */
static json_object *container_volumes(docker_conn_t *c, const char *image, long long deadline)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        char id[DOCKER_ID_MAX];
        json_object *volumes;
    } cache[CONTAINER_VOLUME_CACHE];
    static unsigned next;
    json_object *out = NULL, *o = NULL, *cfg, *vols;
    bool by_id = strncmp(image, "sha256:", 7) == 0;
    char path[512];
    docker_result dr;
    buf_t body;

    pthread_mutex_lock(&mu);
    for (unsigned i = 0; by_id && i < CONTAINER_VOLUME_CACHE && out == NULL; i++)
        if (strcmp(cache[i].id, image) == 0)
            out = json_object_get(cache[i].volumes);
    pthread_mutex_unlock(&mu);
    if (out != NULL)
        return out;
    out = json_object_new_array();
    buf_init(&body, 1024 * 1024);
    char *esc = curl_easy_escape(NULL, image, 0);
    int n = esc ? snprintf(path, sizeof(path), "/images/%s/json", esc) : -1;
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof(path) ||
        docker_call(c, "GET", path, NULL, container_left(deadline), &body, &dr) != DOCKER_OK)
        goto done;
    o = json_tokener_parse(body.data ? body.data : "");
    if (json_object_object_get_ex(o, "Config", &cfg) &&
        json_object_object_get_ex(cfg, "Volumes", &vols) &&
        json_object_is_type(vols, json_type_object)) {
        json_object_object_foreach(vols, dir, unused)
        {
            (void)unused;
            /* /tmp has its tmpfs already. */
            if (dir[0] == '/' && strcmp(dir, "/tmp") != 0)
                json_object_array_add(out, json_object_new_string(dir));
        }
    }
    if (by_id) {
        pthread_mutex_lock(&mu);
        unsigned slot = next++ % CONTAINER_VOLUME_CACHE;
        json_object_put(cache[slot].volumes);
        snprintf(cache[slot].id, sizeof(cache[slot].id), "%s", image);
        cache[slot].volumes = json_object_get(out);
        pthread_mutex_unlock(&mu);
    }
done:
    json_object_put(o);
    buf_free(&body);
    return out;
}

int container_create(docker_conn_t *c, const runtime_req *req, const char *instance,
                     long long deadline, char *cid, runtime_result *res)
{
    docker_result dr;
    buf_t body;
    json_object *volumes = container_volumes(c, func_image(req->function), deadline);
    json_object *spec = container_spec(req, instance, volumes), *o = NULL, *v;
    int rc = -1;

    json_object_put(volumes);
    buf_init(&body, 65536);
    docker_rc drc = docker_call(c, "POST", "/containers/create",
                                json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN),
                                container_left(deadline), &body, &dr);
    if (drc == DOCKER_API_ERROR && dr.status == 404) {
        runtime_fail(res, STATUS_IMAGE_MISSING,
                     "image \"%.200s\" is not present in the engine (%.200s)",
                     func_str(req->function, "image"), dr.message);
        goto done;
    }
    if (drc != DOCKER_OK) {
        container_engine_fail(res, drc, &dr, "create container", false);
        goto done;
    }
    o = json_tokener_parse(body.data ? body.data : "");
    if (o == NULL || !json_object_object_get_ex(o, "Id", &v)) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "create container: no Id in the answer");
        goto done;
    }
    snprintf(cid, DOCKER_ID_MAX, "%s", json_object_get_string(v));
    rc = 0;
done:
    json_object_put(o);
    json_object_put(spec);
    buf_free(&body);
    return rc;
}

int container_start(docker_conn_t *c, const char *cid, long long deadline, runtime_result *res)
{
    char path[256];
    docker_result dr;
    snprintf(path, sizeof(path), "/containers/%s/start", cid);
    docker_rc rc = docker_call(c, "POST", path, NULL, container_left(deadline), NULL, &dr);
    return rc == DOCKER_OK ? 0 : container_engine_fail(res, rc, &dr, "start container", false);
}

static void container_sink(void *arg, int stream, const char *p, size_t n)
{
    runtime_result *r = arg;
    buf_t *b = stream == 2 ? &r->err : &r->out;
    if (buf_append_some(b, p, n) < n)
        r->truncated = true;
}

/* Read whatever the stream has now into the demultiplexer. 1 at the end of
 * the stream, 0 when drained for now, -1 with `res` failed. */
static int container_drain(docker_stream_t *s, docker_demux *dm, runtime_result *res)
{
    char chunk[CONTAINER_CHUNK];
    for (;;) {
        long n = docker_stream_recv(s, chunk, sizeof(chunk));
        if (n == -2)
            return 0;
        if (n == 0)
            return 1;
        if (n < 0) {
            runtime_fail(res, STATUS_ENGINE_ERROR, "the engine closed the attach stream");
            res->engine_fault = true;
            return -1;
        }
        if (docker_demux_feed(dm, chunk, (size_t)n, container_sink, res) != 0) {
            runtime_fail(res, STATUS_ENGINE_ERROR, "the attach stream is not in Docker's framing");
            return -1;
        }
    }
}

int container_pump(docker_stream_t *s, const runtime_req *req, runtime_result *res,
                   long long deadline)
{
    docker_demux dm;
    size_t in_off = 0;
    bool in_done = false;

    docker_demux_init(&dm);
    for (;;) {
        if (!in_done && in_off == req->event_len) {
            docker_stream_close_write(s);
            in_done = true;
        }
        struct pollfd p[2] = {{.fd = docker_stream_fd(s), .events = POLLIN},
                              {.fd = req->cancel_fd, .events = POLLRDHUP}};
        if (!in_done)
            p[0].events |= POLLOUT;
        long left = container_left(deadline);
        if (left <= 0) {
            runtime_fail(res, STATUS_TIMEOUT, "the function did not finish within %d s",
                         req->timeout_s);
            return -1;
        }
        int r = poll(p, req->cancel_fd >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR) {
            runtime_fail(res, STATUS_ENGINE_ERROR, "poll() failed: %s", strerror(errno));
            return -1;
        }
        if (r <= 0)
            continue;
        if (req->cancel_fd >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            runtime_fail(res, STATUS_CANCELLED, "the client went away");
            return -1;
        }
        if (!in_done && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            size_t want = req->event_len - in_off;
            long w = docker_stream_send(s, req->event + in_off,
                                        want > CONTAINER_CHUNK ? CONTAINER_CHUNK : want);
            if (w < 0)
                in_done = true; /* the function stopped reading stdin; keep its output */
            else
                in_off += (size_t)w;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int d = container_drain(s, &dm, res);
            if (d != 0)
                return d > 0 ? 0 : -1;
        }
    }
}

int container_wait(docker_conn_t *c, const char *cid, const runtime_req *req, long long deadline,
                   runtime_result *res)
{
    char path[256];
    docker_result dr;
    buf_t body;
    json_object *o = NULL, *v;
    int rc = -1;

    buf_init(&body, 65536);
    snprintf(path, sizeof(path), "/containers/%s/wait", cid);
    docker_rc drc = docker_call(c, "POST", path, NULL, container_left(deadline), &body, &dr);
    if (drc == DOCKER_TIMEOUT) {
        runtime_fail(res, STATUS_TIMEOUT, "the function did not finish within %d s",
                     req->timeout_s);
        goto done;
    }
    if (drc != DOCKER_OK) {
        container_engine_fail(res, drc, &dr, "wait for container", true);
        goto done;
    }
    o = json_tokener_parse(body.data ? body.data : "");
    if (o == NULL || !json_object_object_get_ex(o, "StatusCode", &v)) {
        runtime_fail(res, STATUS_ENGINE_ERROR, "wait: no StatusCode in the answer");
        goto done;
    }
    res->exit_code = json_object_get_int(v);
    res->status = res->exit_code == 0 ? STATUS_SUCCEEDED : STATUS_FAILED;
    if (res->exit_code != 0)
        snprintf(res->message, sizeof(res->message), "the function exited with code %d",
                 res->exit_code);
    rc = 0;
done:
    json_object_put(o);
    buf_free(&body);
    return rc;
}

void container_remove(docker_conn_t *c, const char *cid, const char *invocation_id)
{
    char path[256];
    docker_result dr;
    /* force=1 kills a container that is still running (timeout, cancel). */
    snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", cid);
    docker_rc rc = docker_call(c, "DELETE", path, NULL, CONTAINER_REMOVE_TIMEOUT_MS, NULL, &dr);
    if (rc != DOCKER_OK && !(rc == DOCKER_API_ERROR && dr.status == 404))
        log_warn("invocation %s: DELETE /containers/%.12s failed: %s (the janitor will retry)",
                 invocation_id, cid, dr.message);
}

int container_runtime_known(docker_conn_t *c, const char *name, err_t *e)
{
    docker_result dr;
    buf_t body;
    json_object *info = NULL, *runtimes;
    int rc = -1;
    buf_init(&body, CONTAINER_INFO_MAX);
    docker_rc drc = docker_call(c, "GET", "/info", NULL, CONTAINER_INFO_TIMEOUT_MS, &body, &dr);
    if (drc != DOCKER_OK) {
        docker_err(drc, &dr, e);
        goto done;
    }
    info = json_tokener_parse(body.data ? body.data : "");
    if (!json_object_object_get_ex(info, "Runtimes", &runtimes) ||
        !json_object_is_type(runtimes, json_type_object)) {
        err_set(e, ERR_ENGINE, NULL, 0, "GET /info: the engine lists no Runtimes");
        goto done;
    }
    rc = json_object_object_get_ex(runtimes, name, NULL) ? 1 : 0;
done:
    json_object_put(info);
    buf_free(&body);
    return rc;
}
