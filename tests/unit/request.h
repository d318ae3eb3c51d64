/*
 * request: one FastCGI request in memory, for unit tests of the handlers
 * and the gate's brackets without nginx or a socket. Its parameters are
 * CGI names ("REQUEST_METHOD", "HTTP_IDEMPOTENCY_KEY"), its body is read
 * through libfcgi's own FCGX_GetStr from a reader stream over the bytes,
 * and the answer is written through FCGX_PutStr into a buffer that grows,
 * then read back as status, headers and body.
 */
#ifndef MINILAMBDA_TEST_REQUEST_H
#define MINILAMBDA_TEST_REQUEST_H

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

#define REQUEST_PARAMS_MAX 16

typedef struct {
    FCGX_Request fcgi;
    FCGX_Stream in, out;
    char *env[REQUEST_PARAMS_MAX + 1]; /* "NAME=value", owned; NULL-terminated */
    int nenv;
    char *body; /* owned */
    size_t body_len;
    int gone;     /* with a nonzero value, the body ends with this error (a client gone) */
    char *answer; /* what was written, owned; NUL-terminated by request_answer */
    size_t cap;
    http_req r; /* filled by request_http */
} request_t;

/* A request for `method` and the raw `uri`, with no body yet. */
void request_init(request_t *q, const char *method, const char *uri);

/* Add parameter `name` (a CGI name) with `value` (copied); before
 * request_http. */
void request_param(request_t *q, const char *name, const char *value);

/* The body: `len` bytes of `body` (copied), with CONTENT_TYPE `ctype`
 * (NULL: none) and CONTENT_LENGTH `len`. */
void request_body(request_t *q, const char *ctype, const char *body, size_t len);

/* The request as the gate sees it (http_req_init over it); borrowed. */
http_req *request_http(request_t *q);

/* The whole answer as written so far (borrowed, NUL-terminated). */
const char *request_answer(request_t *q);

/* The answer's status ("Status: N"), or 0 when nothing was sent. */
int request_status(request_t *q);

/* Whether the answer's head has a line starting with `prefix`
 * ("Location: /functions/"). */
bool request_has_header(request_t *q, const char *prefix);

/* The value of the head's header `name` ("X-Invocation-Id") into `out`,
 * or "" when there is none. Returns `out`. */
const char *request_header_value(request_t *q, const char *name, char *out, size_t outlen);

/* The answer's body (borrowed), "" when there is none. */
const char *request_answer_body(request_t *q);

/* The answer's body parsed as JSON; the caller owns it. Fails the test
 * when it does not parse. */
json_object *request_json(request_t *q);

/* Forget the answer, so the same request can be answered again. */
void request_reset_answer(request_t *q);

/* Free what the request holds. */
void request_free(request_t *q);

#endif
