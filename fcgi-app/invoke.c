#include "invoke.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

/* Removal must run even after the deadline, so it has its own budget. */
#define INVOKE_REMOVE_TIMEOUT_MS 15000
#define INVOKE_PIDS_LIMIT 256

static long invoke_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void invoke_result_init(invoke_result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, INVOKE_STDOUT_MAX);
    buf_init(&r->err, INVOKE_STDERR_MAX);
}

void invoke_result_free(invoke_result *r)
{
    buf_free(&r->out);
    buf_free(&r->err);
}

metrics_status invoke_metrics_status(invoke_status s)
{
    switch (s) {
    case INVOKE_SUCCEEDED:
        return METRICS_SUCCEEDED;
    case INVOKE_FAILED:
        return METRICS_FAILED;
    case INVOKE_TIMEOUT:
        return METRICS_TIMEOUT;
    case INVOKE_CANCELLED:
        return METRICS_CANCELLED;
    default:
        return METRICS_ERROR;
    }
}

const char *invoke_status_name(invoke_status s)
{
    static const char *const names[] = {"succeeded", "failed", "timeout", "cancelled",
                                        "error",     "error",  "error"};
    return names[s];
}

static const char *invoke_field(json_object *rec, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(rec, key, &v))
        return "";
    return json_object_get_string(v);
}

static void invoke_env(json_object *env, const char *key, const char *value)
{
    char line[512];
    snprintf(line, sizeof(line), "%s=%s", key, value);
    json_object_array_add(env, json_object_new_string(line));
}

json_object *invoke_container_spec(const invoke_req *req)
{
    json_object *rec = req->function, *v;
    json_object *spec = json_object_new_object();
    json_object *env = json_object_new_array();
    json_object *labels = json_object_new_object();
    json_object *host = json_object_new_object();
    const char *network = invoke_field(rec, "network");
    char num[64];
    struct timeval tv;

    json_object_object_add(spec, "Image", json_object_new_string(invoke_field(rec, "image")));
    if (json_object_object_get_ex(rec, "command", &v) && json_object_is_type(v, json_type_array))
        json_object_object_add(spec, "Cmd", json_object_get(v));

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
    invoke_env(env, "MINILAMBDA_FUNCTION_NAME", invoke_field(rec, "name"));
    invoke_env(env, "MINILAMBDA_INVOCATION_ID", req->id);
    snprintf(num, sizeof(num), "%d", req->attempt > 0 ? req->attempt : 1);
    invoke_env(env, "MINILAMBDA_ATTEMPT", num);
    gettimeofday(&tv, NULL);
    snprintf(num, sizeof(num), "%lld",
             (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000 + (long long)req->timeout_s * 1000);
    invoke_env(env, "MINILAMBDA_DEADLINE_MS", num);
    json_object_object_add(spec, "Env", env);

    json_object_object_add(spec, "AttachStdin", json_object_new_boolean(1));
    json_object_object_add(spec, "AttachStdout", json_object_new_boolean(1));
    json_object_object_add(spec, "AttachStderr", json_object_new_boolean(1));
    json_object_object_add(spec, "OpenStdin", json_object_new_boolean(1));
    json_object_object_add(spec, "StdinOnce", json_object_new_boolean(1));
    json_object_object_add(spec, "Tty", json_object_new_boolean(0));
    json_object_object_add(spec, "NetworkDisabled",
                           json_object_new_boolean(strcmp(network, "bridge") != 0));

    json_object_object_add(labels, "minilambda.managed", json_object_new_string("1"));
    json_object_object_add(labels, "minilambda.function",
                           json_object_new_string(invoke_field(rec, "id")));
    json_object_object_add(labels, "minilambda.invocation", json_object_new_string(req->id));
    json_object_object_add(labels, "minilambda.run", json_object_new_string(req->run));
    json_object_object_add(labels, "minilambda.instance", json_object_new_string(req->instance));
    json_object_object_add(spec, "Labels", labels);

    int64_t mem = 256;
    if (json_object_object_get_ex(rec, "memory_mb", &v))
        mem = json_object_get_int64(v);
    double cpus = 1.0;
    if (json_object_object_get_ex(rec, "cpus", &v))
        cpus = json_object_get_double(v);
    json_object_object_add(host, "Memory", json_object_new_int64(mem * 1024 * 1024));
    json_object_object_add(host, "MemorySwap", json_object_new_int64(mem * 1024 * 1024));
    json_object_object_add(host, "NanoCpus", json_object_new_int64((int64_t)(cpus * 1e9)));
    json_object_object_add(host, "PidsLimit", json_object_new_int64(INVOKE_PIDS_LIMIT));
    json_object_object_add(
        host, "NetworkMode",
        json_object_new_string(strcmp(network, "bridge") == 0 ? "bridge" : "none"));
    json_object *caps = json_object_new_array();
    json_object_array_add(caps, json_object_new_string("ALL"));
    json_object_object_add(host, "CapDrop", caps);
    json_object *sec = json_object_new_array();
    json_object_array_add(sec, json_object_new_string("no-new-privileges"));
    json_object_object_add(host, "SecurityOpt", sec);
    json_object_object_add(host, "ReadonlyRootfs", json_object_new_boolean(1));
    json_object *tmpfs = json_object_new_object();
    json_object_object_add(tmpfs, "/tmp", json_object_new_string("rw,nosuid,nodev,size=64m"));
    json_object_object_add(host, "Tmpfs", tmpfs);
    /* We read the output over attach; a log file would only cost disk. */
    json_object *logcfg = json_object_new_object();
    json_object_object_add(logcfg, "Type", json_object_new_string("none"));
    json_object_object_add(host, "LogConfig", logcfg);
    json_object_object_add(spec, "HostConfig", host);
    return spec;
}

json_object *invoke_text(const buf_t *b)
{
    bool cut = b->len >= b->max;
    buf_t t;
    json_object *o = NULL;
    /* Each bad byte becomes three: the bound can never be hit. */
    buf_init(&t, b->len * 3 + 1);
    if (buf_append_utf8(&t, b->data ? b->data : "", b->len, cut) == BUF_OK)
        o = json_object_new_string_len(t.data ? t.data : "", (int)t.len);
    buf_free(&t);
    return o;
}

static void invoke_sink(void *arg, int stream, const char *p, size_t n)
{
    invoke_result *r = arg;
    buf_t *b = stream == 2 ? &r->err : &r->out;
    if (buf_append_some(b, p, n) < n)
        r->truncated = true;
}

/* Map a failed engine call onto the result. */
static void invoke_engine_fail(invoke_result *res, docker_rc rc, const docker_result *dr,
                               const char *step)
{
    res->status = rc == DOCKER_UNREACHABLE ? INVOKE_UNREACHABLE
                  : rc == DOCKER_TIMEOUT   ? INVOKE_TIMEOUT
                                           : INVOKE_ENGINE_ERROR;
    if (rc == DOCKER_TIMEOUT)
        snprintf(res->message, sizeof(res->message), "the function timed out");
    else
        snprintf(res->message, sizeof(res->message), "%s: %.400s", step, dr->message);
}

/* Feed stdin, collect stdout/stderr until the stream ends. Returns the
 * status to report when the stream did not end normally, or -1 when it did. */
static int invoke_pump(docker_stream_t *s, const invoke_req *req, invoke_result *res, long deadline)
{
    docker_demux dm;
    size_t in_off = 0;
    bool in_done = false;
    char chunk[65536];

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
        long left = deadline - invoke_now_ms();
        if (left <= 0)
            return INVOKE_TIMEOUT;
        int r = poll(p, req->cancel_fd >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR) {
            snprintf(res->message, sizeof(res->message), "poll() failed: %s", strerror(errno));
            return INVOKE_ENGINE_ERROR;
        }
        if (r <= 0)
            continue;
        if (req->cancel_fd >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            snprintf(res->message, sizeof(res->message), "the client went away");
            return INVOKE_CANCELLED;
        }
        if (!in_done && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            size_t want = req->event_len - in_off;
            long w = docker_stream_send(s, req->event + in_off, want > 65536 ? 65536 : want);
            if (w < 0)
                in_done = true; /* the function stopped reading stdin; keep its output */
            else
                in_off += (size_t)w;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            for (;;) {
                long n = docker_stream_recv(s, chunk, sizeof(chunk));
                if (n == -2)
                    break;
                if (n == 0)
                    return -1;
                if (n < 0) {
                    snprintf(res->message, sizeof(res->message),
                             "the engine closed the attach stream");
                    return INVOKE_ENGINE_ERROR;
                }
                if (docker_demux_feed(&dm, chunk, (size_t)n, invoke_sink, res) != 0) {
                    snprintf(res->message, sizeof(res->message),
                             "the attach stream is not in Docker's framing");
                    return INVOKE_ENGINE_ERROR;
                }
            }
        }
    }
}

void invoke_run(docker_conn_t *c, const invoke_req *req, invoke_result *res)
{
    long start = invoke_now_ms();
    long deadline = start + (long)req->timeout_s * 1000;
    docker_result dr;
    docker_rc rc;
    docker_stream_t *stream = NULL;
    buf_t body;
    char cid[DOCKER_ID_MAX] = "", path[256];
    json_object *spec = invoke_container_spec(req), *o = NULL, *v;

    buf_init(&body, 65536);
    res->exit_code = -1;
    rc = docker_call(c, "POST", "/containers/create",
                     json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN), deadline - start,
                     &body, &dr);
    if (rc == DOCKER_API_ERROR && dr.status == 404) {
        res->status = INVOKE_IMAGE_MISSING;
        snprintf(res->message, sizeof(res->message),
                 "image \"%.200s\" is not present in the engine (%.200s)",
                 invoke_field(req->function, "image"), dr.message);
        goto done;
    }
    if (rc != DOCKER_OK) {
        invoke_engine_fail(res, rc, &dr, "create container");
        goto done;
    }
    o = json_tokener_parse(body.data ? body.data : "");
    if (o == NULL || !json_object_object_get_ex(o, "Id", &v)) {
        res->status = INVOKE_ENGINE_ERROR;
        snprintf(res->message, sizeof(res->message), "create container: no Id in the answer");
        goto done;
    }
    snprintf(cid, sizeof(cid), "%s", json_object_get_string(v));

    rc = docker_attach(c, cid, deadline - invoke_now_ms(), &stream, &dr);
    if (rc != DOCKER_OK) {
        invoke_engine_fail(res, rc, &dr, "attach");
        goto done;
    }
    /* A canceller that looked for this container before it existed has
     * marked the run cancelled by now: look once more before starting. */
    if (req->cancelled != NULL && req->cancelled(req->cancelled_arg)) {
        res->status = INVOKE_CANCELLED;
        snprintf(res->message, sizeof(res->message), "the invocation was cancelled");
        goto done;
    }
    snprintf(path, sizeof(path), "/containers/%s/start", cid);
    rc = docker_call(c, "POST", path, NULL, deadline - invoke_now_ms(), NULL, &dr);
    if (rc != DOCKER_OK) {
        invoke_engine_fail(res, rc, &dr, "start container");
        goto done;
    }
    int st = invoke_pump(stream, req, res, deadline);
    if (st >= 0) {
        res->status = (invoke_status)st;
        if (st == INVOKE_TIMEOUT)
            snprintf(res->message, sizeof(res->message), "the function did not finish within %d s",
                     req->timeout_s);
        goto done;
    }
    buf_reset(&body);
    snprintf(path, sizeof(path), "/containers/%s/wait", cid);
    rc = docker_call(c, "POST", path, NULL, deadline - invoke_now_ms(), &body, &dr);
    if (rc != DOCKER_OK) {
        invoke_engine_fail(res, rc, &dr, "wait for container");
        if (rc == DOCKER_TIMEOUT)
            snprintf(res->message, sizeof(res->message), "the function did not finish within %d s",
                     req->timeout_s);
        goto done;
    }
    json_object_put(o);
    o = json_tokener_parse(body.data ? body.data : "");
    if (o == NULL || !json_object_object_get_ex(o, "StatusCode", &v)) {
        res->status = INVOKE_ENGINE_ERROR;
        snprintf(res->message, sizeof(res->message), "wait: no StatusCode in the answer");
        goto done;
    }
    res->exit_code = json_object_get_int(v);
    res->status = res->exit_code == 0 ? INVOKE_SUCCEEDED : INVOKE_FAILED;
    if (res->exit_code != 0)
        snprintf(res->message, sizeof(res->message), "the function exited with code %d",
                 res->exit_code);
done:
    docker_stream_close(stream);
    if (cid[0] != '\0') {
        /* force=1 kills a container that is still running (timeout, cancel). */
        snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", cid);
        docker_rc rrc = docker_call(c, "DELETE", path, NULL, INVOKE_REMOVE_TIMEOUT_MS, NULL, &dr);
        if (rrc != DOCKER_OK && !(rrc == DOCKER_API_ERROR && dr.status == 404))
            log_warn("invocation %s: remove container %.12s failed: %s (the janitor will retry)",
                     req->id, cid, dr.message);
    }
    res->duration_ms = invoke_now_ms() - start;
    json_object_put(o);
    json_object_put(spec);
    buf_free(&body);
}
