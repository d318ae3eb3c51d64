/*
 * http: the request/response layer over one FastCGI request — routing of
 * method and path to a route, bounded body reading, JSON parsing with the
 * contract's error mapping, and JSON responses.
 */
#ifndef MINILAMBDA_HTTP_H
#define MINILAMBDA_HTTP_H

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stddef.h>

#include "buf.h"

#define HTTP_REF_MAX 256
#define HTTP_JSON_DEPTH 64

typedef enum {
    ROUTE_NONE = 0,
    ROUTE_FUNCTIONS,    /* /functions */
    ROUTE_FUNCTION,     /* /functions/{ref} */
    ROUTE_INVOKE,       /* /invoke/{ref} */
    ROUTE_INVOKE_ASYNC, /* /invoke/{ref}/async */
    ROUTE_INVOCATIONS,  /* /invocations */
    ROUTE_INVOCATION,   /* /invocations/{id} */
    ROUTE_HEALTHZ,      /* /healthz */
    ROUTE_METRICS,      /* /metrics */
    ROUTE_IMAGES,       /* /images */
    ROUTE__COUNT
} http_route_id;

enum { HTTP_GET = 1, HTTP_POST = 2, HTTP_PATCH = 4, HTTP_DELETE = 8, HTTP_HEAD = 16 };

typedef enum {
    HTTP_MATCH_OK = 0,
    HTTP_MATCH_NOT_FOUND,  /* no route has this path */
    HTTP_MATCH_BAD_METHOD, /* the path exists; `allow` lists its methods */
    HTTP_MATCH_BAD_PATH    /* bad percent-encoding or a NUL byte */
} http_match_rc;

typedef struct {
    http_route_id route;
    const char *allow;      /* static "GET, POST" etc., for 405 */
    char ref[HTTP_REF_MAX]; /* the decoded {ref} segment, or "" */
    const char *tmpl;       /* static route template, e.g. "/functions/{ref}" */
} http_match;

/* The route templates by http_route_id ("other" for ROUTE_NONE), for
 * metrics labels that never carry raw ids. */
extern const char *const http_route_templates[ROUTE__COUNT];

/* Match `method` and the raw request path `uri` (query string allowed, it is
 * ignored) against the routes. Fills `m` and returns the result. */
http_match_rc http_route(const char *method, const char *uri, http_match *m);

typedef struct {
    FCGX_Request *fcgi;
    const char *method;       /* borrowed from the FastCGI params */
    const char *uri;          /* REQUEST_URI */
    const char *content_type; /* NULL when absent */
    long content_length;      /* -1 when absent or unparsable */
    int status;               /* set by the send functions, for logging */
} http_req;

/* Fill `r` from the FastCGI request's parameters. */
void http_req_init(http_req *r, FCGX_Request *fcgi);

typedef enum {
    HTTP_BODY_OK = 0,
    HTTP_BODY_TOO_BIG = -1, /* more than `max` bytes */
    HTTP_BODY_NOMEM = -2
} http_body_rc;

/* Read the whole request body into `out` (initialized by the caller with
 * any bound; `max` is enforced here). */
http_body_rc http_read_body(http_req *r, size_t max, buf_t *out);

/*
 * Read and parse a JSON object body of at most `max` bytes. An empty body
 * yields an empty object when `empty_ok`. On success returns 0 and `*out`
 * (caller owns) and, when `raw` is not NULL, the body's bytes in `raw`
 * (initialized by the caller; freed by the caller with buf_free). On
 * failure sends the error response (415, 413 or 400) and returns -1.
 */
int http_read_json(http_req *r, size_t max, int empty_ok, json_object **out, buf_t *raw);

/*
 * Find the top-level member `key` of the JSON object text `s` (`n` bytes,
 * already validated, e.g. by http_read_json) and give its value's byte
 * range: the last one when the key repeats, as json-c keeps. Returns 1 with
 * `*off` and `*len` set, or 0 when absent (or spelled with escapes).
 */
int http_json_member(const char *s, size_t n, const char *key, size_t *off, size_t *len);

/*
 * Find `key` in the query string of `r` and percent-decode its value (with
 * '+' as space) into `out`. Returns 1 found, 0 absent, -1 for a bad escape,
 * a NUL byte or a value longer than `outlen - 1`.
 */
int http_query(const http_req *r, const char *key, char *out, size_t outlen);

/* Send a complete response. `headers` is NULL or extra "Name: value\r\n"
 * lines. */
void http_send(http_req *r, int status, const char *headers, const char *ctype, const char *body,
               size_t len);

/* Send `obj` (borrowed) serialized as the response body. */
void http_send_json(http_req *r, int status, json_object *obj, const char *headers);

/* Send the contract's error envelope {"error": msg, "code": code}. */
void http_send_error(http_req *r, int status, const char *code, const char *msg,
                     const char *headers);

/* The reason phrase for `status` ("Not Found"), or "Unknown". */
const char *http_reason(int status);

#endif
