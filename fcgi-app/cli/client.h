/*
 * client: the client's side of the minilambda HTTP API, over libcurl. One
 * client_t per process keeps its connection alive between calls, sends the
 * key as "Authorization: Bearer", and turns what came back (or did not)
 * into an exit code and a message that names the API's `code` and `error`.
 */
#ifndef MINILAMBDA_CLI_CLIENT_H
#define MINILAMBDA_CLI_CLIENT_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/cli.h"

/* Where the platform answers when neither --url nor MINILAMBDA_URL says. */
#define CLIENT_DEFAULT_URL "http://127.0.0.1:8300"
/* The largest answer read: an invocation's output is at most 7 MiB, and
 * JSON escaping can make that a few times larger. */
#define CLIENT_REPLY_MAX (256u * 1024 * 1024)
#define CLIENT_CONNECT_TIMEOUT_MS 10000L

typedef struct {
    char *url;        /* owned: the base URL without a trailing "/" */
    char *auth;       /* owned: the "Authorization: Bearer ..." header, or NULL */
    char *user_agent; /* owned */
    CURL *h;          /* reused by every call, so the connection stays open */
} client_t;

/* What one call got back. */
typedef struct {
    long status;         /* HTTP status; 0 before an answer */
    buf_t body;          /* the body as it came */
    json_object *json;   /* the body parsed, or NULL when it is not JSON */
    char invocation[80]; /* the X-Invocation-Id header, "" when none */
} client_reply;

/*
 * Set up `c` for the platform at `url` (http:// or https://; a trailing "/"
 * is dropped) with the API key `key` (NULL or "" for none). Returns 0, or -1
 * with `e` (ERR_INVALID for a bad URL or key, ERR_NOMEM) — the caller
 * exits CLI_USAGE for the first. `c` needs client_free either way.
 */
int client_init(client_t *c, const char *url, const char *key, err_t *e);

/* Close the connection and free what `c` holds. */
void client_free(client_t *c);

/* An empty reply; client_reply_free frees what a call put in it. */
void client_reply_init(client_reply *r);
void client_reply_free(client_reply *r);

/*
 * One request: `method` on `path` (already escaped, starting with "/"), with
 * `body` of `len` bytes sent as `ctype` when `body` is not NULL. `timeout_ms`
 * bounds the whole exchange (0: no bound). Returns CLI_OK when an answer
 * arrived, whatever its status (`r` holds it; see client_check), or else
 * CLI_UNREACHABLE (no connection, or it broke before an answer) or
 * CLI_TIMEOUT (connected, but no answer in time), with `e` naming the URL and
 * the failure.
 */
cli_exit client_call(client_t *c, const char *method, const char *path, const char *ctype,
                     const char *body, size_t len, long timeout_ms, client_reply *r, err_t *e);

/* Reads the next bytes of a streamed body, as libcurl's read callbacks do:
 * fill up to `size` * `nitems` bytes of `dst`, return the count, 0 at the
 * end, or CURL_READFUNC_ABORT to abandon the upload. */
typedef size_t (*client_read_fn)(char *dst, size_t size, size_t nitems, void *arg);

/* Told how many body bytes have gone out so far (multipart framing included). */
typedef void (*client_progress_fn)(void *arg, long long sent);

/*
 * POST `path` as multipart/form-data with one field, `field`, a file named
 * `filename` of type `ctype` whose bytes `read` produces; its length need not
 * be known (the body goes chunked), so nothing is staged on disk. `progress`
 * (may be NULL) is called as the body goes out. No overall timeout. Returns
 * like client_call; when `read` abandoned the upload, CLI_FAILED with the
 * reason left to the caller (the reader knows it).
 */
cli_exit client_upload(client_t *c, const char *path, const char *field, const char *filename,
                       const char *ctype, client_read_fn read, client_progress_fn progress,
                       void *arg, client_reply *r, err_t *e);

/*
 * The outcome of an answer: CLI_OK for a 2xx status; otherwise the exit code
 * for it (client_exit_for) with `e` holding the API's message, e.g.
 * `function "x" not found (404 not_found)`.
 */
cli_exit client_check(const client_reply *r, err_t *e);

/*
 * The exit code for an HTTP `status` and the API's `code` (may be NULL):
 * 404 is CLI_NOT_FOUND; a timeout (504, 408, code "timeout") CLI_TIMEOUT;
 * the platform's front door or engine not answering (502 pool_unavailable,
 * 503 engine_unreachable) CLI_UNREACHABLE; any other 4xx that says the
 * request itself was wrong (400) CLI_USAGE; the rest CLI_FAILED.
 */
cli_exit client_exit_for(long status, const char *code);

/* Append `s` percent-encoded as one path segment or query value (only
 * A-Z a-z 0-9 - . _ ~ stay as they are). Returns 0, or -1 when `out` is
 * full. */
int client_escape(const char *s, buf_t *out);

/* The string member `key` of the reply's JSON object, or NULL. */
const char *client_str(const client_reply *r, const char *key);

#endif
