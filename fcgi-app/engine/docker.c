#include "engine/docker.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

#define DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define DOCKER_ERROR_BODY_MAX (64 * 1024)
#define DOCKER_HEAD_MAX 8192
/* libcurl's upload buffer for streamed bodies: big enough that a
 * multi-gigabyte upload is not thousands of tiny chunks per second. */
#define DOCKER_UPLOAD_BUFFER (512L * 1024)

struct docker {
    char unix_path[256]; /* "" for tcp */
    char base[300];      /* "http://localhost" or "https://host:port" */
    char endpoint[320];
    bool tls;
    bool tls_verify;
    char ca[512], cert[512], key[512];

    pthread_mutex_t mu;
    char api[16]; /* negotiated version; "" until the first call */
};

struct docker_conn {
    docker_t *d;
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
};

struct docker_stream {
    CURL *h;
    int fd;
    buf_t pending; /* stream bytes that arrived with the 101 response */
    size_t pending_off;
};

int docker_err(docker_rc rc, const docker_result *res, err_t *e)
{
    err_kind kind = rc == DOCKER_UNREACHABLE ? ERR_ENGINE_UNREACHABLE
                    : rc == DOCKER_TIMEOUT   ? ERR_ENGINE_TIMEOUT
                                             : ERR_ENGINE;
    return err_set(e, kind, NULL, 0, "%s", res->message);
}

/* Fill `d` for `host`; TLS when `tls`, with the client files in `certs`
 * and the engine's certificate checked when `verify`. */
static int docker_init(docker_t *d, const char *host, const char *certs, bool tls, bool verify,
                       char *err, size_t errlen)
{
    int n;
    if (strncmp(host, "unix://", 7) == 0) {
        n = snprintf(d->unix_path, sizeof(d->unix_path), "%s", host + 7);
        if (n <= 0 || (size_t)n >= sizeof(d->unix_path)) {
            snprintf(err, errlen, "the engine's socket path is empty or too long");
            return -1;
        }
        snprintf(d->base, sizeof(d->base), "http://localhost");
    } else if (strncmp(host, "tcp://", 6) == 0) {
        d->tls = tls;
        d->tls_verify = verify;
        n = snprintf(d->base, sizeof(d->base), "%s://%s", d->tls ? "https" : "http", host + 6);
        if (n < 0 || (size_t)n >= sizeof(d->base) || strlen(host) <= 6) {
            snprintf(err, errlen, "the engine's address is empty or too long");
            return -1;
        }
        if (d->tls) {
            snprintf(d->ca, sizeof(d->ca), "%s/ca.pem", certs);
            snprintf(d->cert, sizeof(d->cert), "%s/cert.pem", certs);
            snprintf(d->key, sizeof(d->key), "%s/key.pem", certs);
        }
    } else {
        snprintf(err, errlen, "an engine must be unix:// or tcp://, not \"%.64s\"", host);
        return -1;
    }
    n = snprintf(d->endpoint, sizeof(d->endpoint), "%s", host);
    if (n < 0 || (size_t)n >= sizeof(d->endpoint)) {
        snprintf(err, errlen, "the engine's address is too long");
        return -1;
    }
    return 0;
}

static docker_t *docker_alloc(char *err, size_t errlen)
{
    docker_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "calloc() failed: out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    return d;
}

docker_t *docker_new(char *err, size_t errlen)
{
    const char *host = getenv("DOCKER_HOST");
    const char *certs = getenv("DOCKER_CERT_PATH");
    const char *verify = getenv("DOCKER_TLS_VERIFY");
    docker_t *d = docker_alloc(err, errlen);

    if (d == NULL)
        return NULL;
    if (host == NULL || *host == '\0')
        host = "unix://" DOCKER_DEFAULT_SOCKET;
    bool tls = (verify != NULL && *verify != '\0') || (certs != NULL && *certs != '\0');
    bool check = verify != NULL && *verify != '\0' && strcmp(verify, "0") != 0;
    if (certs == NULL || *certs == '\0')
        certs = "/root/.docker";
    if (docker_init(d, host, certs, tls, check, err, errlen) != 0) {
        /* Name the variable the value came from, as before. */
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "DOCKER_HOST: %s", why);
        docker_free(d);
        return NULL;
    }
    return d;
}

docker_t *docker_new_at(const char *host, const char *tls_dir, char *err, size_t errlen)
{
    docker_t *d = docker_alloc(err, errlen);
    bool tls = tls_dir != NULL && *tls_dir != '\0';
    if (d == NULL)
        return NULL;
    if (docker_init(d, host, tls ? tls_dir : "", tls, tls, err, errlen) != 0) {
        docker_free(d);
        return NULL;
    }
    return d;
}

void docker_free(docker_t *d)
{
    if (d == NULL)
        return;
    pthread_mutex_destroy(&d->mu);
    free(d);
}

const char *docker_endpoint(const docker_t *d)
{
    return d->endpoint;
}

docker_conn_t *docker_conn_new(docker_t *d)
{
    docker_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->d = d;
    c->h = curl_easy_init();
    if (c->h == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void docker_conn_free(docker_conn_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->h);
    free(c);
}

/* Options every handle gets: where the engine is and how to reach it. */
static void docker_setup(docker_t *d, CURL *h, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (d->unix_path[0] != '\0')
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d->unix_path);
    if (d->tls) {
        curl_easy_setopt(h, CURLOPT_CAINFO, d->ca);
        curl_easy_setopt(h, CURLOPT_SSLCERT, d->cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, d->key);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, d->tls_verify ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, d->tls_verify ? 2L : 0L);
    }
}

static size_t docker_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    buf_t *b = arg;
    size_t n = size * nmemb;
    /* Past the bound we keep what fits and drop the rest. */
    buf_append_some(b, p, n);
    return n;
}

static docker_rc docker_curl_rc(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return DOCKER_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return DOCKER_UNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT:
        return DOCKER_TIMEOUT;
    default:
        return DOCKER_ERROR;
    }
}

/* Docker's error bodies are {"message": "..."}; take the message or the raw
 * text. */
static void docker_message(const buf_t *body, docker_result *res)
{
    json_object *o = body->len ? json_tokener_parse(body->data) : NULL;
    json_object *m;
    if (o != NULL && json_object_object_get_ex(o, "message", &m))
        snprintf(res->message, sizeof(res->message), "%s", json_object_get_string(m));
    else
        snprintf(res->message, sizeof(res->message), "%.*s", (int)body->len,
                 body->data ? body->data : "");
    json_object_put(o);
    size_t n = strlen(res->message);
    while (n > 0 && (res->message[n - 1] == '\n' || res->message[n - 1] == '\r'))
        res->message[--n] = '\0';
}

/* A request body streamed from a read callback (docker_call_stream). */
typedef struct {
    const char *content_type;
    size_t (*read_cb)(char *, size_t, size_t, void *);
    void *read_arg;
} docker_upload;

/* The raw request: `path` is used as given (already versioned or not). The
 * body is `up` when not NULL, else the JSON `body` when not NULL. With
 * `fresh`, on a connection of its own, closed after it. */
static docker_rc docker_raw(docker_conn_t *c, const char *method, const char *path,
                            const char *body, const docker_upload *up, long timeout_ms, buf_t *out,
                            docker_result *res, bool fresh)
{
    char url[1024];
    struct curl_slist *hdrs = NULL;
    buf_t errbody;
    buf_t *sink = out;
    docker_rc rc;
    CURL *h = c->h;

    res->status = 0;
    res->message[0] = '\0';
    buf_init(&errbody, DOCKER_ERROR_BODY_MAX);
    int n = snprintf(url, sizeof(url), "%s%s", c->d->base, path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        snprintf(res->message, sizeof(res->message), "request path too long");
        return DOCKER_ERROR;
    }
    curl_easy_reset(h);
    docker_setup(c->d, h, c->errbuf);
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    if (fresh) {
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    if (up != NULL) {
        char ctype[160];
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", up->content_type);
        hdrs = curl_slist_append(hdrs, ctype);
        /* The length is not known up front. */
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, up->read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, up->read_arg);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, DOCKER_UPLOAD_BUFFER);
    } else if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    /* Pulls and pushes need credentials, even none: an empty JSON object
     * in base64, which an open registry accepts. */
    if (strcmp(method, "POST") == 0 && (strstr(path, "/push?") || strstr(path, "/images/create?")))
        hdrs = curl_slist_append(hdrs, "X-Registry-Auth: e30=");
    /* Expect: 100-continue would cost a round trip per call. */
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (sink == NULL)
        sink = &errbody;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, docker_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);

    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    rc = docker_curl_rc(cc);
    if (rc != DOCKER_OK) {
        snprintf(res->message, sizeof(res->message), "%s %.200s on %.100s: %.180s", method, path,
                 c->d->endpoint, c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    if (res->status >= 400) {
        docker_message(sink, res);
        rc = DOCKER_API_ERROR;
    }
done:
    buf_free(&errbody);
    return rc;
}

/* Compare "1.41"-style versions. */
static int docker_version_cmp(const char *a, const char *b)
{
    long amaj = strtol(a, (char **)&a, 10), bmaj = strtol(b, (char **)&b, 10);
    if (amaj != bmaj)
        return amaj < bmaj ? -1 : 1;
    long amin = *a == '.' ? strtol(a + 1, NULL, 10) : 0;
    long bmin = *b == '.' ? strtol(b + 1, NULL, 10) : 0;
    return amin < bmin ? -1 : amin > bmin;
}

/* Learn the engine's API version once: ours, or the engine's when older. */
static docker_rc docker_negotiate(docker_conn_t *c, long timeout_ms, docker_result *res)
{
    docker_t *d = c->d;
    buf_t body;
    json_object *o = NULL, *v;
    char api[16];

    pthread_mutex_lock(&d->mu);
    bool known = d->api[0] != '\0';
    pthread_mutex_unlock(&d->mu);
    if (known)
        return DOCKER_OK;

    buf_init(&body, DOCKER_ERROR_BODY_MAX);
    docker_rc rc = docker_raw(c, "GET", "/version", NULL, NULL, timeout_ms, &body, res, false);
    if (rc != DOCKER_OK)
        goto done;
    snprintf(api, sizeof(api), "%s", DOCKER_API_VERSION);
    o = json_tokener_parse(body.data ? body.data : "");
    if (o != NULL && json_object_object_get_ex(o, "ApiVersion", &v) &&
        json_object_is_type(v, json_type_string) &&
        docker_version_cmp(json_object_get_string(v), DOCKER_API_VERSION) < 0)
        snprintf(api, sizeof(api), "%s", json_object_get_string(v));
    pthread_mutex_lock(&d->mu);
    snprintf(d->api, sizeof(d->api), "%s", api);
    pthread_mutex_unlock(&d->mu);
    log_info("docker engine at %s: using API v%s", d->endpoint, api);
done:
    json_object_put(o);
    buf_free(&body);
    return rc;
}

/* Build "/v1.41/path" into `out`. */
static int docker_path(docker_conn_t *c, const char *path, char *out, size_t outlen)
{
    pthread_mutex_lock(&c->d->mu);
    int n = snprintf(out, outlen, "/v%s%s", c->d->api, path);
    pthread_mutex_unlock(&c->d->mu);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Negotiate the version once, then send to the versioned `path`. */
static docker_rc docker_versioned(docker_conn_t *c, const char *method, const char *path,
                                  const char *body, const docker_upload *up, long timeout_ms,
                                  buf_t *out, docker_result *res)
{
    char vpath[1024];
    docker_rc rc = docker_negotiate(c, timeout_ms, res);
    if (rc != DOCKER_OK)
        return rc;
    if (docker_path(c, path, vpath, sizeof(vpath)) != 0) {
        snprintf(res->message, sizeof(res->message), "request path too long");
        return DOCKER_ERROR;
    }
    return docker_raw(c, method, vpath, body, up, timeout_ms, out, res, false);
}

docker_rc docker_call(docker_conn_t *c, const char *method, const char *path, const char *body,
                      long timeout_ms, buf_t *out, docker_result *res)
{
    return docker_versioned(c, method, path, body, NULL, timeout_ms, out, res);
}

docker_rc docker_call_stream(docker_conn_t *c, const char *method, const char *path,
                             const char *content_type,
                             size_t (*read_cb)(char *, size_t, size_t, void *), void *read_arg,
                             long timeout_ms, buf_t *out, docker_result *res)
{
    docker_upload up = {.content_type = content_type, .read_cb = read_cb, .read_arg = read_arg};
    return docker_versioned(c, method, path, NULL, &up, timeout_ms, out, res);
}

docker_rc docker_ping(docker_conn_t *c, long timeout_ms, docker_result *res)
{
    /* A connection of its own: an engine shutting down stops accepting
     * new ones first, and keeps serving the ones it has (a kept-alive
     * connection would still see it answer while it stops its
     * containers). */
    return docker_raw(c, "GET", "/_ping", NULL, NULL, timeout_ms, NULL, res, true);
}

/* Wait until `fd` is ready for `events` or the deadline passes. 1 ready,
 * 0 timed out, -1 error. */
static int docker_wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - clock_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -1 : r > 0;
    }
}

/* A raw connection to the engine for stream `s` (curl CONNECT_ONLY). */
static docker_rc docker_attach_connect(docker_conn_t *c, docker_stream_t *s, long timeout_ms,
                                       docker_result *res)
{
    curl_socket_t sock = CURL_SOCKET_BAD;
    s->h = curl_easy_init();
    if (s->h == NULL)
        return DOCKER_ERROR;
    docker_setup(c->d, s->h, c->errbuf);
    curl_easy_setopt(s->h, CURLOPT_URL, c->d->base);
    curl_easy_setopt(s->h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
    CURLcode cc = curl_easy_perform(s->h);
    if (cc != CURLE_OK) {
        snprintf(res->message, sizeof(res->message), "attach: %s", curl_easy_strerror(cc));
        return docker_curl_rc(cc);
    }
    if (curl_easy_getinfo(s->h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
        sock == CURL_SOCKET_BAD)
        return DOCKER_ERROR;
    s->fd = (int)sock;
    return DOCKER_OK;
}

/* Send the upgrade request for `path` on the raw connection. */
static docker_rc docker_attach_request(docker_stream_t *s, const char *path, long long deadline,
                                       docker_result *res)
{
    char req[768];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                     path);
    if (n < 0 || (size_t)n >= sizeof(req))
        return DOCKER_ERROR;
    for (size_t off = 0; off < (size_t)n;) {
        long w = docker_stream_send(s, req + off, (size_t)n - off);
        if (w < 0) {
            snprintf(res->message, sizeof(res->message), "attach: send failed");
            return DOCKER_UNREACHABLE;
        }
        if (w == 0 && docker_wait_fd(s->fd, POLLOUT, deadline) <= 0)
            return DOCKER_TIMEOUT;
        off += (size_t)w;
    }
    return DOCKER_OK;
}

/* Read the response head into s->pending (bytes after it already belong to
 * the stream) and check it is the upgrade. */
static docker_rc docker_attach_head(docker_stream_t *s, long long deadline, docker_result *res)
{
    char *end;
    for (;;) {
        char chunk[1024];
        end = s->pending.data ? strstr(s->pending.data, "\r\n\r\n") : NULL;
        if (end != NULL)
            break;
        size_t n_in = 0;
        CURLcode rcc = curl_easy_recv(s->h, chunk, sizeof(chunk), &n_in);
        if (rcc == CURLE_AGAIN) {
            if (docker_wait_fd(s->fd, POLLIN, deadline) <= 0) {
                snprintf(res->message, sizeof(res->message), "attach: no response in time");
                return DOCKER_TIMEOUT;
            }
            continue;
        }
        if (rcc != CURLE_OK || n_in == 0 || buf_append(&s->pending, chunk, n_in) != BUF_OK) {
            snprintf(res->message, sizeof(res->message), "attach: connection closed");
            return DOCKER_UNREACHABLE;
        }
    }
    /* "HTTP/1.1 101 ...": check the shape before reading the code. */
    long status = 0;
    if (s->pending.len >= 12 && strncmp(s->pending.data, "HTTP/1.", 7) == 0)
        status = strtol(s->pending.data + 9, NULL, 10);
    res->status = status;
    if (status != 101 && status != 200) {
        buf_t body;
        buf_init(&body, DOCKER_HEAD_MAX);
        buf_puts(&body, end + 4);
        docker_message(&body, res);
        buf_free(&body);
        return DOCKER_API_ERROR;
    }
    s->pending_off = (size_t)(end + 4 - s->pending.data);
    return DOCKER_OK;
}

docker_rc docker_attach(docker_conn_t *c, const char *id, long timeout_ms, docker_stream_t **out,
                        docker_result *res)
{
    char path[512], rel[256];
    long long deadline = clock_mono_ms() + timeout_ms;
    docker_stream_t *s = NULL;

    *out = NULL;
    res->status = 0;
    res->message[0] = '\0';
    docker_rc rc = docker_negotiate(c, timeout_ms, res);
    if (rc != DOCKER_OK)
        return rc;
    rc = DOCKER_ERROR;
    snprintf(rel, sizeof(rel), "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1", id);
    if (docker_path(c, rel, path, sizeof(path)) != 0 || (s = calloc(1, sizeof(*s))) == NULL)
        goto fail;
    buf_init(&s->pending, DOCKER_HEAD_MAX);
    s->fd = -1;
    if ((rc = docker_attach_connect(c, s, timeout_ms, res)) != DOCKER_OK ||
        (rc = docker_attach_request(s, path, deadline, res)) != DOCKER_OK ||
        (rc = docker_attach_head(s, deadline, res)) != DOCKER_OK)
        goto fail;
    *out = s;
    return DOCKER_OK;
fail:
    if (res->message[0] == '\0')
        snprintf(res->message, sizeof(res->message), "attach to container %.64s failed", id);
    docker_stream_close(s);
    return rc;
}

int docker_stream_fd(docker_stream_t *s)
{
    return s->fd;
}

docker_stream_t *docker_stream_adopt(int fd, const void *pending, size_t n)
{
    docker_stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->fd = fd;
    buf_init(&s->pending, DOCKER_HEAD_MAX);
    if (n > 0 && buf_append(&s->pending, pending, n) != BUF_OK) {
        buf_free(&s->pending);
        free(s);
        return NULL;
    }
    return s;
}

size_t docker_stream_unread(docker_stream_t *s, const char **p)
{
    *p = s->pending.data ? s->pending.data + s->pending_off : "";
    return s->pending.len - s->pending_off;
}

long docker_stream_send(docker_stream_t *s, const void *p, size_t n)
{
    if (s->h == NULL) {
        /* An adopted socket: plain send, never blocking, never SIGPIPE. */
        ssize_t w = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        return (long)w;
    }
    size_t sent = 0;
    CURLcode cc = curl_easy_send(s->h, p, n, &sent);
    if (cc == CURLE_AGAIN)
        return 0;
    return cc == CURLE_OK ? (long)sent : -1;
}

int docker_stream_close_write(docker_stream_t *s)
{
    return shutdown(s->fd, SHUT_WR);
}

long docker_stream_recv(docker_stream_t *s, void *p, size_t n)
{
    if (s->pending_off < s->pending.len) {
        size_t have = s->pending.len - s->pending_off;
        size_t take = have < n ? have : n;
        memcpy(p, s->pending.data + s->pending_off, take);
        s->pending_off += take;
        return (long)take;
    }
    if (s->h == NULL) {
        ssize_t r = recv(s->fd, p, n, MSG_DONTWAIT);
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -2 : -1;
        return (long)r;
    }
    size_t got = 0;
    CURLcode cc = curl_easy_recv(s->h, p, n, &got);
    if (cc == CURLE_AGAIN)
        return -2;
    return cc == CURLE_OK ? (long)got : -1;
}

bool docker_stream_pending(docker_stream_t *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (s->pending_off < s->pending.len)
        return true;
    int r;
    do
        r = poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    /* A socket that cannot be polled is not known to be silent. */
    return r != 0;
}

void docker_stream_close(docker_stream_t *s)
{
    if (s == NULL)
        return;
    if (s->h)
        curl_easy_cleanup(s->h); /* closes the socket too */
    else if (s->fd >= 0)
        close(s->fd);
    buf_free(&s->pending);
    free(s);
}

void docker_demux_init(docker_demux *m)
{
    memset(m, 0, sizeof(*m));
}

int docker_demux_feed(docker_demux *m, const char *p, size_t n, docker_demux_sink sink, void *arg)
{
    while (n > 0) {
        if (m->remaining == 0) {
            size_t take = 8 - m->head_len;
            if (take > n)
                take = n;
            memcpy(m->head + m->head_len, p, take);
            m->head_len += take;
            p += take;
            n -= take;
            if (m->head_len < 8)
                return 0;
            m->head_len = 0;
            if (m->head[0] > 2 || m->head[1] || m->head[2] || m->head[3])
                return -1;
            m->stream = m->head[0] == 2 ? 2 : 1;
            m->remaining = (uint32_t)m->head[4] << 24 | (uint32_t)m->head[5] << 16 |
                           (uint32_t)m->head[6] << 8 | (uint32_t)m->head[7];
            continue; /* a zero-length frame just ends here */
        }
        size_t take = n < m->remaining ? n : m->remaining;
        sink(arg, m->stream, p, take);
        m->remaining -= (uint32_t)take;
        p += take;
        n -= take;
    }
    return 0;
}
