/*
 * http: the request/response layer over one FastCGI request — matching a
 * path against a route template, bounded body reading, strict JSON parsing,
 * query strings, media types, and JSON answers (errors from an err_t). It
 * knows no route table and no handler: the gate (route.c) does.
 */
#ifndef MINILAMBDA_HTTP_H
#define MINILAMBDA_HTTP_H

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define HTTP_REF_MAX 256
#define HTTP_JSON_DEPTH 64

/* Methods as bits, for route tables. */
enum { HTTP_GET = 1, HTTP_POST = 2, HTTP_PATCH = 4, HTTP_DELETE = 8, HTTP_HEAD = 16 };

/* The bit of method `m`, or 0 for a method no route has. */
unsigned http_method_bit(const char *m);

/* Write the methods of `bits` as an Allow value ("GET, HEAD, POST") into
 * `out`. */
void http_allow(unsigned bits, char *out, size_t outlen);

/*
 * Match the path of the raw request URI `uri` (query string and fragment
 * ignored, one trailing slash tolerated) against `tmpl`, in which "{name}"
 * stands for one non-empty path segment. Returns 1 on a match (the
 * segment, percent-decoded, in `ref`, or "" when the template has none), 0
 * when it does not match, or -1 when the segment has a bad escape, a NUL
 * byte or does not fit in `reflen`.
 */
int http_match_path(const char *tmpl, const char *uri, char *ref, size_t reflen);

/*
 * A copy of an answer as it is sent, for a replay of it (an
 * Idempotency-Key's): its extra header lines, its media type and the first
 * `body.max` bytes of its body. The status is the request's `status`.
 */
typedef struct {
    char headers[512];
    char ctype[64];
    buf_t body;    /* bounded by its owner */
    size_t length; /* the whole body's length: more than body.len when cut */
    bool cut;      /* the headers or the type did not fit */
} http_copy;

typedef struct {
    FCGX_Request *fcgi;
    const char *method;       /* borrowed from the FastCGI params */
    const char *uri;          /* REQUEST_URI */
    const char *content_type; /* NULL when absent */
    long long content_length; /* -1 when absent or unparsable */
    int status;               /* set by the send functions, for logging */
    /* Set by the gate around a handler, NULL otherwise (both borrowed): */
    buf_t *ahead;    /* the body, read before the handler: the next read takes it */
    http_copy *copy; /* where the answer is copied as it is sent */
} http_req;

/* Fill `r` from the FastCGI request's parameters. */
void http_req_init(http_req *r, FCGX_Request *fcgi);

/* The request header `name` in CGI form ("HTTP_X_INVOCATION_TYPE"), or
 * NULL. Borrowed. */
const char *http_header(const http_req *r, const char *name);

/* Whether the media type of Content-Type `ct` (parameters ignored) is
 * `type`, case-insensitively. */
bool http_media_type_is(const char *ct, const char *type);

/* Read the whole request body into `out` (its bound is set to `max`), or
 * take the one read ahead (r->ahead) under the same bound. Returns 0, or
 * -1 with `e` (ERR_TOO_LARGE or ERR_NOMEM). */
int http_read_body(http_req *r, size_t max, buf_t *out, err_t *e) ERR_MUST_USE;

/*
 * Read and parse a JSON object body of at most `max` bytes. An empty body
 * yields an empty object when `empty_ok`. On success returns 0 and `*out`
 * (caller owns) and, when `raw` is not NULL, the body's bytes in `raw`
 * (initialized by the caller; freed by the caller with buf_free). On
 * failure returns -1 with `e`: 415 for another media type, 413, or 400
 * (invalid_json, json_too_deep, invalid_body).
 */
int http_read_json(http_req *r, size_t max, bool empty_ok, json_object **out, buf_t *raw,
                   err_t *e) ERR_MUST_USE;

/*
 * Parse `body` as a request's JSON object under the contract's rules: valid
 * UTF-8 without NUL bytes, strict JSON at most HTTP_JSON_DEPTH deep,
 * nothing after it, no key holding \u0000 and no key twice in one object,
 * however spelled. 0 with `*out` (caller owns), or -1 with `e` (400:
 * invalid_json, json_too_deep, duplicate_key, invalid_body).
 */
int http_parse_json(const buf_t *body, json_object **out, err_t *e) ERR_MUST_USE;

/*
 * Find the top-level member `key` of the JSON object text `s` (`n` bytes,
 * already validated, e.g. by http_read_json) and give its value's byte
 * range: the last one when the key repeats, as json-c keeps. Returns 1 with
 * `*off` and `*len` set, or 0 when absent (or spelled with escapes).
 */
int http_json_member(const char *s, size_t n, const char *key, size_t *off, size_t *len);

/*
 * Find `key` in the query string of `r` and percent-decode its value (with
 * '+' as space) into `out` ("" for a bare key). Returns 1 found, 0 absent,
 * -1 for a bad escape, a NUL byte or a value longer than `outlen - 1`.
 */
int http_query(const http_req *r, const char *key, char *out, size_t outlen);

/* Send a complete response. `headers` is NULL or extra "Name: value\r\n"
 * lines. */
void http_send(http_req *r, int status, const char *headers, const char *ctype, const char *body,
               size_t len);

/*
 * Write the `n` bytes at `p` as one JSON string literal (quotes included):
 * valid UTF-8 (a byte that is not becomes U+FFFD; with `cut`, an incomplete
 * sequence at the very end is dropped), with quotes, backslashes and
 * control characters escaped. The pieces go to `emit` (NULL: nowhere).
 * Returns the literal's length in bytes.
 */
size_t http_json_text(const char *p, size_t n, bool cut,
                      void (*emit)(void *arg, const char *s, size_t len), void *arg);

/* One piece of a streamed answer: raw bytes, or (`text`) bytes written as
 * a JSON string with http_json_text. Borrowed. */
typedef struct {
    const char *p;
    size_t n;
    bool text;
    bool cut;
} http_part;

/* Send a JSON answer made of `count` pieces, written to the client as
 * they are encoded: a large output is never copied into one body first. */
void http_send_parts(http_req *r, int status, const char *headers, const http_part *parts,
                     int count);

/* Send `obj` (borrowed) serialized as the response body. */
void http_send_json(http_req *r, int status, json_object *obj, const char *headers);

/* Send the contract's error envelope {"error": msg, "code": code}. */
void http_send_error(http_req *r, int status, const char *code, const char *msg,
                     const char *headers);

/* Send `e` as the error envelope with its status and code. */
void http_send_err(http_req *r, const err_t *e, const char *headers);

/* The reason phrase for `status` ("Not Found"), or "Unknown". */
const char *http_reason(int status);

#endif
