#include "run/container.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "state/func.h"

/* Removal must run even after the deadline, so it has its own budget. */
#define CONTAINER_REMOVE_TIMEOUT_MS 15000
#define CONTAINER_CHUNK 65536
#define CONTAINER_INFO_MAX (1024 * 1024)
#define CONTAINER_INFO_TIMEOUT_MS 5000
#define CONTAINER_IMAGE_CACHE 64

static void container_env(json_object *env, const char *key, const char *value)
{
    char line[512];
    snprintf(line, sizeof(line), "%s=%s", key, value);
    json_object_array_add(env, json_object_new_string(line));
}

/* Image `image`'s CMD joined by spaces into `out`: Lambda's _HANDLER
 * when the function names none. */
static void container_joined_cmd(json_object *image, char *out, size_t len)
{
    json_object *cmd = json_object_object_get(image, "cmd");
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; json_object_is_type(cmd, json_type_array) &&
                       i < json_object_array_length(cmd) && used < len;
         i++) {
        int n = snprintf(out + used, len - used, "%s%s", i > 0 ? " " : "",
                         json_object_get_string(json_object_array_get_idx(cmd, i)));
        if (n < 0 || (size_t)n >= len - used) {
            out[used] = '\0';
            return;
        }
        used += (size_t)n;
    }
}

/* Written once before any thread exists (container_set_region), read after. */
static char container_region[32] = "us-east-1";

void container_set_region(const char *region)
{
    snprintf(container_region, sizeof(container_region), "%s", region);
}

/* What Lambda's runtime clients read from their environment, known when
 * the container is made (init adds AWS_LAMBDA_RUNTIME_API). The task root
 * is the image's WorkingDir when it has one (Lambda's base images set
 * /var/task), else /var/task; the region is container_region's. */
static void container_lambda_env(json_object *env, const func_t *f, json_object *image)
{
    char num[32], line[300];
    const char *wd = json_object_get_string(json_object_object_get(image, "workdir"));
    if (f->handler[0] != '\0')
        snprintf(line, sizeof(line), "%s", f->handler);
    else
        container_joined_cmd(image, line, sizeof(line));
    container_env(env, "_HANDLER", line);
    container_env(env, "LAMBDA_TASK_ROOT", wd != NULL && wd[0] == '/' ? wd : "/var/task");
    container_env(env, "LAMBDA_RUNTIME_DIR", "/var/runtime");
    container_env(env, "AWS_LAMBDA_FUNCTION_NAME", f->name);
    container_env(env, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    snprintf(num, sizeof(num), "%d", f->memory_mb);
    container_env(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", num);
    snprintf(line, sizeof(line), "/aws/lambda/%s", f->name);
    container_env(env, "AWS_LAMBDA_LOG_GROUP_NAME", line);
    /* One stream per function: a container has no id of its own before
     * it is made, and its env is fixed then. */
    snprintf(line, sizeof(line), "$LATEST/%s", f->id);
    container_env(env, "AWS_LAMBDA_LOG_STREAM_NAME", line);
    container_env(env, "AWS_REGION", container_region);
    container_env(env, "AWS_DEFAULT_REGION", container_region);
    container_env(env, "TZ", ":UTC");
}

/* The Env array: the function's own variables, then this call's values
 * (a cold container) or only what holds for every call (a warm one: the
 * call's values reach it at call time). */
static json_object *container_env_list(const runtime_req *req, container_mode mode,
                                       json_object *image)
{
    json_object *env = json_object_new_array();
    char num[64];

    for (char **line = req->function->env; *line != NULL; line++)
        json_object_array_add(env, json_object_new_string(*line));
    container_env(env, "MINILAMBDA_FUNCTION_NAME", req->function->name);
    if (req->function->lambda)
        container_lambda_env(env, req->function, image);
    if (mode == CONTAINER_PROCESS)
        container_env(env, "MINILAMBDA_LOOP", "1");
    if (mode != CONTAINER_COLD)
        return env;
    container_env(env, "MINILAMBDA_INVOCATION_ID", req->id);
    snprintf(num, sizeof(num), "%d", req->attempt > 0 ? req->attempt : 1);
    container_env(env, "MINILAMBDA_ATTEMPT", num);
    snprintf(num, sizeof(num), "%lld", clock_wall_ms() + (long long)req->timeout_s * 1000);
    container_env(env, "MINILAMBDA_DEADLINE_MS", num);
    return env;
}

container_mode container_mode_of(const func_t *f, bool has_init)
{
    /* A lambda runtime always runs under init (start.c refuses the call
     * when there is none): "process" is one runtime serving call after
     * call, init's lambda-reuse mode. */
    if (f->lambda)
        return f->reuse == FUNC_REUSE_NONE ? CONTAINER_FRESH : CONTAINER_REUSE;
    if (f->reuse == FUNC_REUSE_PROCESS)
        return CONTAINER_PROCESS;
    if (!has_init)
        return CONTAINER_COLD;
    return f->reuse == FUNC_REUSE_CONTAINER ? CONTAINER_REUSE : CONTAINER_FRESH;
}

static const char *const container_mode_names[] = {"cold", "fresh", "reuse", "process"};

static json_object *container_labels(const runtime_req *req, const char *instance,
                                     container_mode mode)
{
    json_object *labels = json_object_new_object();
    json_object_object_add(labels, "minilambda.managed", json_object_new_string("1"));
    json_object_object_add(labels, "minilambda.function",
                           json_object_new_string(req->function->id));
    /* A warm container is made before its call: its invocation is not
     * known yet. */
    json_object_object_add(labels, "minilambda.invocation",
                           json_object_new_string(req->id[0] ? req->id : "warm"));
    json_object_object_add(labels, "minilambda.mode",
                           json_object_new_string(container_mode_names[mode]));
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
static json_object *container_host(const func_t *f, json_object *volumes, const char *init)
{
    json_object *host = json_object_new_object();
    long long mem = (long long)f->memory_mb * 1024 * 1024;

    json_object_object_add(host, "Memory", json_object_new_int64(mem));
    json_object_object_add(host, "MemorySwap", json_object_new_int64(mem));
    json_object_object_add(host, "NanoCpus", json_object_new_int64((int64_t)(f->cpus * 1e9)));
    /* gVisor's sandbox counts its own host threads, about nine a guest
     * process: the same bound on guest processes needs a larger number. */
    bool gvisor = strcmp(f->runtime, "runsc") == 0;
    json_object_object_add(host, "PidsLimit",
                           json_object_new_int64(CONTAINER_PIDS_LIMIT * (gvisor ? 8 : 1)));
    json_object_object_add(host, "NetworkMode",
                           json_object_new_string(f->bridge ? "bridge" : "none"));
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
    if (f->runtime[0] != '\0')
        json_object_object_add(host, "Runtime", json_object_new_string(f->runtime));
    /* A mount, not a bind: a bind whose source is missing (a rebuild
     * replacing the file) makes the engine create an empty directory
     * there; a mount fails the create instead. */
    if (init != NULL) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "Type", json_object_new_string("bind"));
        json_object_object_add(m, "Source", json_object_new_string(init));
        json_object_object_add(m, "Target", json_object_new_string(CONTAINER_INIT_PATH));
        json_object_object_add(m, "ReadOnly", json_object_new_boolean(1));
        json_object *mounts = json_object_new_array();
        json_object_array_add(mounts, m);
        json_object_object_add(host, "Mounts", mounts);
    }
    return host;
}

/* Append the strings of array `from` (or nothing when it is not one). */
static void container_extend(json_object *to, json_object *from)
{
    for (size_t i = 0;
         json_object_is_type(from, json_type_array) && i < json_object_array_length(from); i++)
        json_object_array_add(to, json_object_get(json_object_array_get_idx(from, i)));
}

/* The function's command as a new array, or NULL when it has none. */
static json_object *container_command(const func_t *f)
{
    if (f->command == NULL)
        return NULL;
    json_object *a = json_object_new_array();
    for (char **arg = f->command; *arg != NULL; arg++)
        json_object_array_add(a, json_object_new_string(*arg));
    return a;
}

json_object *container_spec(const runtime_req *req, const char *instance, container_mode mode,
                            const char *init, json_object *image)
{
    const func_t *f = req->function;
    json_object *cmd = container_command(f);
    json_object *spec = json_object_new_object();
    bool wrapped = mode == CONTAINER_FRESH || mode == CONTAINER_REUSE;

    json_object_object_add(spec, "Image", json_object_new_string(func_image(f)));
    json_object_object_add(spec, "User", json_object_new_string(f->user));
    if (wrapped) {
        /* minilambda-init runs the image's own entrypoint and command (or
         * the function's command): an entrypoint given at create replaces
         * the image's command too, so both are spelled out. */
        json_object *entry = json_object_new_array();
        json_object_array_add(entry, json_object_new_string(CONTAINER_INIT_PATH));
        static const char *const modes[2][2] = {{"reuse", "fresh"},
                                                {"lambda-reuse", "lambda-fresh"}};
        json_object_array_add(entry,
                              json_object_new_string(modes[f->lambda][mode == CONTAINER_FRESH]));
        json_object_array_add(entry, json_object_new_string("--"));
        json_object *image_entry = json_object_object_get(image, "entrypoint");
        container_extend(entry, image_entry);
        json_object_object_add(spec, "Entrypoint", entry);
        json_object *args = json_object_new_array();
        /* Lambda: an image without an entrypoint holds the handler in its
         * CMD (_HANDLER), and init runs the function's command, or a
         * bootstrap it looks for; with one, the entrypoint gets the CMD as
         * its arguments, as in Lambda's base images. */
        bool no_entry = !json_object_is_type(image_entry, json_type_array) ||
                        json_object_array_length(image_entry) == 0;
        if (!f->lambda || !no_entry || cmd != NULL)
            container_extend(args, cmd ? cmd : json_object_object_get(image, "cmd"));
        json_object_object_add(spec, "Cmd", args);
        json_object_put(cmd);
    } else if (cmd != NULL) {
        json_object_object_add(spec, "Cmd", cmd);
    }
    json_object_object_add(spec, "Env", container_env_list(req, mode, image));
    json_object_object_add(spec, "AttachStdin", json_object_new_boolean(1));
    json_object_object_add(spec, "AttachStdout", json_object_new_boolean(1));
    json_object_object_add(spec, "AttachStderr", json_object_new_boolean(1));
    json_object_object_add(spec, "OpenStdin", json_object_new_boolean(1));
    json_object_object_add(spec, "StdinOnce", json_object_new_boolean(1));
    json_object_object_add(spec, "Tty", json_object_new_boolean(0));
    json_object_object_add(spec, "NetworkDisabled", json_object_new_boolean(!f->bridge));
    json_object_object_add(spec, "Labels", container_labels(req, instance, mode));
    json_object_object_add(
        spec, "HostConfig",
        container_host(f, json_object_object_get(image, "volumes"), wrapped ? init : NULL));
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

/* Keep the strings of array `from` into a new array, or NULL when it is
 * not an array. */
static json_object *container_strings(json_object *from)
{
    if (!json_object_is_type(from, json_type_array))
        return NULL;
    json_object *out = json_object_new_array();
    container_extend(out, from);
    return out;
}

/* What image `image` says of itself: {"volumes": [...], "entrypoint":
 * [...], "cmd": [...]} (the last two absent when unset). A new object the
 * caller puts; only "volumes" (empty) when the image cannot be inspected:
 * the create then answers. Answers for image ids are cached as their JSON
 * text, copied in and out under the lock and parsed by each caller: json-c
 * counts references without atomics, so no json-c object may be seen by two
 * threads. */
static json_object *container_image(docker_conn_t *c, const char *image, long long deadline)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        char id[DOCKER_ID_MAX];
        char *info; /* the answer's JSON text, owned */
    } cache[CONTAINER_IMAGE_CACHE];
    static unsigned next;
    json_object *out = NULL, *o = NULL, *cfg = NULL, *vols, *list;
    bool by_id = strncmp(image, "sha256:", 7) == 0;
    char path[512], *text = NULL;
    docker_result dr;
    buf_t body;

    pthread_mutex_lock(&mu);
    for (unsigned i = 0; by_id && i < CONTAINER_IMAGE_CACHE && text == NULL; i++)
        if (cache[i].info != NULL && strcmp(cache[i].id, image) == 0)
            text = strdup(cache[i].info);
    pthread_mutex_unlock(&mu);
    if (text != NULL)
        out = json_tokener_parse(text);
    free(text);
    text = NULL;
    if (out != NULL)
        return out;
    out = json_object_new_object();
    list = json_object_new_array();
    json_object_object_add(out, "volumes", list);
    buf_init(&body, 1024 * 1024);
    char *esc = curl_easy_escape(NULL, image, 0);
    int n = esc ? snprintf(path, sizeof(path), "/images/%s/json", esc) : -1;
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof(path) ||
        docker_call(c, "GET", path, NULL, container_left(deadline), &body, &dr) != DOCKER_OK)
        goto done;
    o = json_tokener_parse(body.data ? body.data : "");
    if (!json_object_object_get_ex(o, "Config", &cfg))
        goto done;
    if (json_object_object_get_ex(cfg, "Volumes", &vols) &&
        json_object_is_type(vols, json_type_object)) {
        json_object_object_foreach(vols, dir, unused)
        {
            (void)unused;
            /* /tmp has its tmpfs already. */
            if (dir[0] == '/' && strcmp(dir, "/tmp") != 0)
                json_object_array_add(list, json_object_new_string(dir));
        }
    }
    json_object *entry = container_strings(json_object_object_get(cfg, "Entrypoint"));
    json_object *cmd = container_strings(json_object_object_get(cfg, "Cmd"));
    if (entry)
        json_object_object_add(out, "entrypoint", entry);
    json_object *wd = json_object_object_get(cfg, "WorkingDir");
    if (json_object_is_type(wd, json_type_string) && json_object_get_string_len(wd) > 0)
        json_object_object_add(out, "workdir", json_object_get(wd));
    if (cmd)
        json_object_object_add(out, "cmd", cmd);
    /* Serialized outside the lock, from this thread's own object. */
    if (by_id)
        text = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    if (text != NULL) {
        pthread_mutex_lock(&mu);
        unsigned slot = next++ % CONTAINER_IMAGE_CACHE;
        free(cache[slot].info);
        snprintf(cache[slot].id, sizeof(cache[slot].id), "%s", image);
        cache[slot].info = text;
        pthread_mutex_unlock(&mu);
    }
done:
    json_object_put(o);
    buf_free(&body);
    return out;
}

int container_create(docker_conn_t *c, const runtime_req *req, const char *instance,
                     container_mode mode, const char *init, long long deadline, char *cid,
                     runtime_result *res)
{
    docker_result dr;
    buf_t body;
    /* A function runs only the image a key that may deploy it pinned: an
     * unpinned one's tag may have been loaded by anyone with an upload
     * (images_follow pins only the uploader's own functions). */
    if (strncmp(func_image(req->function), "sha256:", 7) != 0) {
        runtime_fail(res, STATUS_IMAGE_MISSING,
                     "function \"%.64s\" is not pinned to an image yet: a PATCH naming its "
                     "image, or an upload of \"%.200s\" by a key that may deploy it, pins it",
                     req->function->name, req->function->image);
        return -1;
    }
    json_object *image = container_image(c, func_image(req->function), deadline);
    json_object *spec = container_spec(req, instance, mode, init, image), *o = NULL, *v;
    int rc = -1;

    json_object_put(image);
    buf_init(&body, 65536);
    docker_rc drc = docker_call(c, "POST", "/containers/create",
                                json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN),
                                container_left(deadline), &body, &dr);
    if (drc == DOCKER_API_ERROR && dr.status == 404) {
        runtime_fail(res, STATUS_IMAGE_MISSING,
                     "image \"%.200s\" is not present in the engine (%.200s)", req->function->image,
                     dr.message);
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

static void container_capture(runtime_result *r, int stream, const char *p, size_t n)
{
    buf_t *b = stream == 2 ? &r->err : &r->out;
    if (buf_append_some(b, p, n) < n)
        r->truncated = true;
}

int container_feed_plain(void *arg, int stream, const char *p, size_t n)
{
    container_capture(arg, stream, p, n);
    return 0;
}

/* The demultiplexer's sink: hand each piece to the exchange's feed until
 * the answer is complete; output past it only marks the exchange. */
typedef struct {
    container_io *io;
    runtime_result *res;
    int state; /* 0 going on, 1 answer complete, -1 broken */
} container_sink_arg;

static void container_sink(void *arg, int stream, const char *p, size_t n)
{
    container_sink_arg *a = arg;
    /* stderr is not ordered with stdout: logs that come late are still
     * the call's. Anything else after the answer spoils the container. */
    if (a->state > 0 && stream == 2) {
        a->io->feed(a->io->arg, stream, p, n);
        return;
    }
    if (a->state != 0) {
        a->io->spill = true;
        return;
    }
    a->state = a->io->feed(a->io->arg, stream, p, n);
}

/* Read whatever the stream has now into the demultiplexer. 1 at the end of
 * the stream, 0 when drained for now, -1 with `res` failed. */
static int container_drain(docker_stream_t *s, docker_demux *dm, container_sink_arg *a)
{
    char chunk[CONTAINER_CHUNK];
    for (;;) {
        long n = docker_stream_recv(s, chunk, sizeof(chunk));
        if (n == -2)
            return 0;
        if (n == 0)
            return 1;
        if (n < 0) {
            runtime_fail(a->res, STATUS_ENGINE_ERROR, "the engine closed the attach stream");
            a->res->engine_fault = true;
            return -1;
        }
        if (docker_demux_feed(dm, chunk, (size_t)n, container_sink, a) != 0) {
            runtime_fail(a->res, STATUS_ENGINE_ERROR,
                         "the attach stream is not in Docker's framing");
            return -1;
        }
    }
}

int container_exchange(docker_stream_t *s, const runtime_req *req, container_io *io,
                       runtime_result *res, long long deadline)
{
    docker_demux dm;
    size_t in_off = 0;
    bool in_done = false;
    container_sink_arg a = {.io = io, .res = res};
    /* A run cancelled by DELETE /invocations/{id} is looked at this often
     * when its container cannot be found by label (a warm one). */
    int tick = io->watch_cancel && req->cancelled != NULL ? 250 : 1000;

    size_t total = io->pre_len + io->in_len;

    docker_demux_init(&dm);
    io->spill = false;
    for (;;) {
        if (!in_done && in_off == total) {
            if (io->half_close)
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
        int r = poll(p, req->cancel_fd >= 0 ? 2 : 1, (int)(left > tick ? tick : left));
        if (r < 0 && errno != EINTR) {
            runtime_fail(res, STATUS_ENGINE_ERROR, "poll() failed: %s", strerror(errno));
            return -1;
        }
        if (r == 0 && tick < 1000 && req->cancelled(req->cancelled_arg)) {
            runtime_fail(res, STATUS_CANCELLED, "the invocation was cancelled");
            return -1;
        }
        if (r <= 0)
            continue;
        if (req->cancel_fd >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            runtime_fail(res, STATUS_CANCELLED, "the client went away");
            return -1;
        }
        if (!in_done && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            /* The header first, then the event: one offset across both. */
            bool head = in_off < io->pre_len;
            const char *from = head ? io->pre + in_off : io->in + (in_off - io->pre_len);
            size_t want = head ? io->pre_len - in_off : total - in_off;
            long w = docker_stream_send(s, from, want > CONTAINER_CHUNK ? CONTAINER_CHUNK : want);
            if (w < 0)
                in_done = true; /* the function stopped reading stdin; keep its output */
            else
                in_off += (size_t)w;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int d = container_drain(s, &dm, &a);
            if (d < 0 || a.state < 0)
                return -1;
            if (a.state > 0)
                return 0;
            if (d > 0) {
                if (io->feed == container_feed_plain)
                    return 0;
                runtime_fail(res, STATUS_PROTOCOL_ERROR,
                             "the container's output ended before its answer");
                return -1;
            }
        }
    }
}

int container_pump(docker_stream_t *s, const runtime_req *req, runtime_result *res,
                   long long deadline)
{
    container_io io = {.in = req->event,
                       .in_len = req->event_len,
                       .half_close = true,
                       .feed = container_feed_plain,
                       .arg = res};
    return container_exchange(s, req, &io, res, deadline);
}

void container_exited(runtime_result *res, int code)
{
    res->exit_code = code;
    res->status = code == 0 ? STATUS_SUCCEEDED : STATUS_FAILED;
    if (code != 0)
        snprintf(res->message, sizeof(res->message), "the function exited with code %d", code);
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
    container_exited(res, json_object_get_int(v));
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
