/*
 * docker: a small Docker Engine API client over libcurl — a unix socket
 * (default /var/run/docker.sock) or DOCKER_HOST (unix:// or tcp://, TLS from
 * DOCKER_CERT_PATH / DOCKER_TLS_VERIFY as the docker CLI reads them), with
 * versioned paths negotiated down to what the engine speaks.
 *
 * A docker_t is the shared endpoint description (thread-safe). Each thread
 * makes its own docker_conn_t, which keeps one connection alive between
 * calls. Every call takes a timeout; nothing blocks longer.
 */
#ifndef MINILAMBDA_DOCKER_H
#define MINILAMBDA_DOCKER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* The newest Engine API version this client speaks. */
#define DOCKER_API_VERSION "1.41"
#define DOCKER_ID_MAX 80

typedef struct docker docker_t;
typedef struct docker_conn docker_conn_t;

typedef enum {
    DOCKER_OK = 0,
    DOCKER_UNREACHABLE, /* could not connect: the engine is down */
    DOCKER_TIMEOUT,     /* the call did not finish in time */
    DOCKER_API_ERROR,   /* the engine answered with status >= 400 */
    DOCKER_ERROR        /* anything else (memory, protocol); logged */
} docker_rc;

/* The outcome of one call. */
typedef struct {
    long status;       /* HTTP status, 0 when none was received */
    char message[512]; /* Docker's {"message"} or a description of the failure */
} docker_result;

/* Fill `e` from the failed call `rc`/`res`: ERR_ENGINE_UNREACHABLE,
 * ERR_ENGINE_TIMEOUT or ERR_ENGINE, with the engine's message. Returns -1. */
int docker_err(docker_rc rc, const docker_result *res, err_t *e);

/* Read DOCKER_HOST and friends. Returns a new endpoint (docker_free), or
 * NULL with the reason in `err`. */
docker_t *docker_new(char *err, size_t errlen);

/* An endpoint at `host` ("unix:///path" or "tcp://host:port"); with a
 * `tls_dir` (not NULL nor ""), TLS with its ca.pem, cert.pem and key.pem,
 * the engine's certificate verified, as `docker --tlsverify` does. Returns
 * a new endpoint (docker_free), or NULL with the reason in `err`. */
docker_t *docker_new_at(const char *host, const char *tls_dir, char *err, size_t errlen);

/* Free the endpoint; every connection made from it must be freed first. */
void docker_free(docker_t *d);

/* A description of the endpoint for logs, e.g. "unix:///var/run/docker.sock". */
const char *docker_endpoint(const docker_t *d);

/* A new connection for one thread, or NULL when out of memory. */
docker_conn_t *docker_conn_new(docker_t *d);

/* Close and free a connection. */
void docker_conn_free(docker_conn_t *c);

/*
 * One Engine API call: `method` on the versioned `path` (for example
 * "/containers/create"), with an optional JSON `body`. The response body
 * goes into `out` (may be NULL to discard it; its bound applies). Returns
 * DOCKER_OK for a 2xx status; otherwise the failure, with `res` filled in.
 */
docker_rc docker_call(docker_conn_t *c, const char *method, const char *path, const char *body,
                      long timeout_ms, buf_t *out, docker_result *res);

/*
 * Like docker_call, with a body streamed from `read_cb` (libcurl's
 * CURLOPT_READFUNCTION contract: fill up to size * nitems bytes of the
 * buffer and return the count, 0 at the end of the body, or
 * CURL_READFUNC_ABORT to abandon the request) and sent chunked as
 * `content_type`. `read_arg` is borrowed. The callback runs on this thread
 * from inside the call; the whole exchange, upload included, must finish
 * within `timeout_ms`. An aborted upload returns DOCKER_ERROR, and the
 * engine sees the body end early.
 */
docker_rc docker_call_stream(docker_conn_t *c, const char *method, const char *path,
                             const char *content_type,
                             size_t (*read_cb)(char *, size_t, size_t, void *), void *read_arg,
                             long timeout_ms, buf_t *out, docker_result *res);

/* GET /_ping, on a new connection (closed after it): DOCKER_OK when the
 * engine accepts connections and answers. */
docker_rc docker_ping(docker_conn_t *c, long timeout_ms, docker_result *res);

/*
 * A hijacked attach stream: stdin, stdout and stderr of a created container
 * over one raw connection, opened before the container starts.
 */
typedef struct docker_stream docker_stream_t;

/* Attach to container `id`. Returns DOCKER_OK and a stream the caller
 * closes with docker_stream_close, or the failure with `res` filled in. */
docker_rc docker_attach(docker_conn_t *c, const char *id, long timeout_ms, docker_stream_t **out,
                        docker_result *res);

/* The socket to poll() for readiness. */
int docker_stream_fd(docker_stream_t *s);

/* Send up to `n` bytes without blocking. Returns the count sent (0 when the
 * socket is not writable now) or -1 on error. */
long docker_stream_send(docker_stream_t *s, const void *p, size_t n);

/* Signal end of stdin (half-close the connection). 0 or -1. */
int docker_stream_close_write(docker_stream_t *s);

/* Receive up to `n` bytes without blocking. Returns the count (0 at end of
 * stream), -2 when nothing is available now, or -1 on error. */
long docker_stream_recv(docker_stream_t *s, void *p, size_t n);

/* Whether anything waits to be read on `s` now (bytes not consumed, bytes
 * or the end in the socket), without waiting and without consuming any: a
 * reused container's stream must be silent between its calls. */
bool docker_stream_pending(docker_stream_t *s);

/* Close the stream. */
void docker_stream_close(docker_stream_t *s);

/*
 * A stream over an attach socket `fd` another process opened and handed
 * over (its upgrade already done); `pending` (`n` bytes, copied) are
 * stream bytes that process had read but not consumed. Takes ownership of
 * `fd` on success only. Returns the stream, or NULL when out of memory.
 */
docker_stream_t *docker_stream_adopt(int fd, const void *pending, size_t n);

/* The bytes read from the socket but not yet consumed (borrowed; valid
 * until the next call on `s`): what must travel with the socket when it
 * is handed to another process. */
size_t docker_stream_unread(docker_stream_t *s, const char **p);

/*
 * Demultiplexer for Docker's stream framing: 8-byte headers (stream type,
 * three zero bytes, big-endian payload length) each followed by a payload.
 * Frames and headers may be split anywhere across feeds.
 */
typedef struct {
    unsigned char head[8];
    size_t head_len;    /* header bytes collected so far */
    uint32_t remaining; /* payload bytes still due for the current frame */
    int stream;         /* 1 stdout, 2 stderr (0 stdin is treated as stdout) */
} docker_demux;

/* Called for each piece of payload; `stream` is 1 or 2. */
typedef void (*docker_demux_sink)(void *arg, int stream, const char *p, size_t n);

/* Start a fresh demultiplexer. */
void docker_demux_init(docker_demux *m);

/* Feed `n` bytes. Returns 0, or -1 for a header that is not Docker framing
 * (the connection is then not usable). */
int docker_demux_feed(docker_demux *m, const char *p, size_t n, docker_demux_sink sink, void *arg);

#endif
