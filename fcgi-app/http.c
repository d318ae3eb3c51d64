#include "http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"

typedef struct {
    const char *tmpl;
    http_route_id route;
    unsigned methods;
    const char *allow;
} http_route_def;

/* "*" stands for one non-empty path segment: the {ref}. */
static const http_route_def http_routes[] = {
    {"/functions", ROUTE_FUNCTIONS, HTTP_GET | HTTP_HEAD | HTTP_POST, "GET, HEAD, POST"},
    {"/functions/*", ROUTE_FUNCTION, HTTP_GET | HTTP_HEAD | HTTP_PATCH | HTTP_DELETE,
     "GET, HEAD, PATCH, DELETE"},
    {"/invoke/*", ROUTE_INVOKE, HTTP_POST, "POST"},
    {"/invoke/*/async", ROUTE_INVOKE_ASYNC, HTTP_POST, "POST"},
    {"/invocations", ROUTE_INVOCATIONS, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/invocations/*", ROUTE_INVOCATION, HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_DELETE,
     "GET, HEAD, POST, DELETE"},
    {"/healthz", ROUTE_HEALTHZ, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/metrics", ROUTE_METRICS, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/images", ROUTE_IMAGES, HTTP_GET | HTTP_HEAD | HTTP_POST, "GET, HEAD, POST"},
};

const char *const http_route_templates[ROUTE__COUNT] = {
    "other",        "/functions",        "/functions/{ref}", "/invoke/{ref}", "/invoke/{ref}/async",
    "/invocations", "/invocations/{id}", "/healthz",         "/metrics",      "/images",
};

static unsigned http_method_bit(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return HTTP_GET;
    if (strcmp(m, "POST") == 0)
        return HTTP_POST;
    if (strcmp(m, "PATCH") == 0)
        return HTTP_PATCH;
    if (strcmp(m, "DELETE") == 0)
        return HTTP_DELETE;
    if (strcmp(m, "HEAD") == 0)
        return HTTP_HEAD;
    return 0;
}

static int http_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode `len` bytes of `s` into `out`. -1 on bad escapes, a NUL
 * byte, or a result that does not fit. */
static int http_decode(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = http_hex(s[i + 1]);
            int lo = http_hex(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

http_match_rc http_route(const char *method, const char *uri, http_match *m)
{
    size_t plen = strcspn(uri, "?#");
    memset(m, 0, sizeof(*m));
    if (plen > 1 && uri[plen - 1] == '/')
        plen--; /* "/functions/" means "/functions" */

    for (size_t i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++) {
        const http_route_def *d = &http_routes[i];
        const char *star = strchr(d->tmpl, '*');
        size_t pre = star ? (size_t)(star - d->tmpl) : strlen(d->tmpl);
        if (plen < pre || strncmp(uri, d->tmpl, pre) != 0)
            continue;
        if (star == NULL) {
            if (plen != pre)
                continue;
        } else {
            const char *seg = uri + pre;
            size_t rest = plen - pre;
            const char *suffix = star + 1;
            size_t slen = strlen(suffix);
            if (rest <= slen || strncmp(seg + rest - slen, suffix, slen) != 0)
                continue;
            size_t seglen = rest - slen;
            if (memchr(seg, '/', seglen) != NULL)
                continue;
            if (http_decode(seg, seglen, m->ref, sizeof(m->ref)) != 0)
                return HTTP_MATCH_BAD_PATH;
        }
        m->route = d->route;
        m->allow = d->allow;
        m->tmpl = http_route_templates[d->route];
        return (http_method_bit(method) & d->methods) ? HTTP_MATCH_OK : HTTP_MATCH_BAD_METHOD;
    }
    return HTTP_MATCH_NOT_FOUND;
}

void http_req_init(http_req *r, FCGX_Request *fcgi)
{
    const char *cl;
    long v;
    r->fcgi = fcgi;
    r->status = 0;
    r->method = FCGX_GetParam("REQUEST_METHOD", fcgi->envp);
    r->uri = FCGX_GetParam("REQUEST_URI", fcgi->envp);
    r->content_type = FCGX_GetParam("CONTENT_TYPE", fcgi->envp);
    if (r->method == NULL)
        r->method = "GET";
    if (r->uri == NULL)
        r->uri = "/";
    if (r->content_type != NULL && *r->content_type == '\0')
        r->content_type = NULL;
    cl = FCGX_GetParam("CONTENT_LENGTH", fcgi->envp);
    r->content_length = -1;
    if (cl != NULL && config_parse_int(cl, 0, 0x7fffffffffffffffL, &v) == 0)
        r->content_length = v;
}

http_body_rc http_read_body(http_req *r, size_t max, buf_t *out)
{
    char chunk[65536];
    if (r->content_length > 0 && (unsigned long)r->content_length > max)
        return HTTP_BODY_TOO_BIG;
    out->max = max;
    for (;;) {
        int n = FCGX_GetStr(chunk, sizeof(chunk), r->fcgi->in);
        if (n <= 0)
            break;
        buf_rc rc = buf_append(out, chunk, (size_t)n);
        if (rc == BUF_TOO_BIG)
            return HTTP_BODY_TOO_BIG;
        if (rc != BUF_OK)
            return HTTP_BODY_NOMEM;
    }
    return HTTP_BODY_OK;
}

/* True for "application/json" with optional parameters, or "+json" types. */
static int http_is_json_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* True when an object key holds the escape \u0000: json-c would cut the key
 * there and silently store a different one. Values may hold it (json-c keeps
 * their length). Call on text json-c has accepted. */
static bool http_key_has_nul(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"')
            continue;
        bool nul = false;
        for (i++; i < len && s[i] != '"'; i++) {
            if (s[i] != '\\')
                continue;
            if (i + 5 < len && s[i + 1] == 'u' && strncmp(s + i + 2, "0000", 4) == 0)
                nul = true;
            i++;
        }
        size_t j = i + 1;
        while (j < len && strchr(" \t\r\n", s[j]) != NULL)
            j++;
        if (nul && j < len && s[j] == ':')
            return true;
    }
    return false;
}

int http_query(const http_req *r, const char *key, char *out, size_t outlen)
{
    const char *q = strchr(r->uri, '?');
    size_t klen = strlen(key);
    if (q == NULL)
        return 0;
    for (q++; *q;) {
        size_t len = strcspn(q, "&#");
        if (len > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
            char raw[1024];
            size_t vlen = len - klen - 1;
            if (vlen >= sizeof(raw))
                return -1;
            for (size_t i = 0; i < vlen; i++)
                raw[i] = q[klen + 1 + i] == '+' ? ' ' : q[klen + 1 + i];
            return http_decode(raw, vlen, out, outlen) == 0 ? 1 : -1;
        }
        if (q[len] != '&')
            break;
        q += len + 1;
    }
    return 0;
}

static size_t http_skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* `s[i]` is the opening quote: the index just past the closing one. */
static size_t http_skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i < n ? i + 1 : n;
}

/* The index just past the JSON value starting at `s[i]`. */
static size_t http_skip_value(const char *s, size_t i, size_t n)
{
    if (i < n && s[i] == '"')
        return http_skip_string(s, i, n);
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        while (i < n) {
            if (s[i] == '"') {
                i = http_skip_string(s, i, n);
                continue;
            }
            if (s[i] == '{' || s[i] == '[')
                depth++;
            else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && strchr(",}] \t\r\n", s[i]) == NULL)
        i++;
    return i;
}

int http_json_member(const char *s, size_t n, const char *key, size_t *off, size_t *len)
{
    size_t klen = strlen(key), i = http_skip_ws(s, 0, n);
    int found = 0;
    if (i >= n || s[i] != '{')
        return 0;
    for (i = http_skip_ws(s, i + 1, n); i < n && s[i] == '"';) {
        size_t k = i;
        i = http_skip_ws(s, http_skip_string(s, i, n), n);
        bool match =
            i - k >= klen + 2 && memcmp(s + k + 1, key, klen) == 0 && s[k + klen + 1] == '"';
        if (i >= n || s[i] != ':')
            return 0;
        i = http_skip_ws(s, i + 1, n);
        size_t v = i;
        i = http_skip_value(s, i, n);
        if (match) {
            *off = v;
            *len = i - v;
            found = 1;
        }
        i = http_skip_ws(s, i, n);
        if (i >= n || s[i] != ',')
            break;
        i = http_skip_ws(s, i + 1, n);
    }
    return found;
}

int http_read_json(http_req *r, size_t max, int empty_ok, json_object **out, buf_t *raw)
{
    buf_t body;
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    int rc = -1;
    char msg[160];

    *out = NULL;
    buf_init(&body, max);
    if (r->content_type != NULL && !http_is_json_type(r->content_type)) {
        http_send_error(r, 415, "unsupported_media_type",
                        "the request body must be JSON (Content-Type: application/json)", NULL);
        goto done;
    }
    switch (http_read_body(r, max, &body)) {
    case HTTP_BODY_OK:
        break;
    case HTTP_BODY_TOO_BIG:
        snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes", max);
        http_send_error(r, 413, "payload_too_large", msg, NULL);
        goto done;
    default:
        http_send_error(r, 503, "out_of_memory", "the server is out of memory", NULL);
        goto done;
    }
    if (body.len == 0 && empty_ok) {
        *out = json_object_new_object();
        rc = 0;
        goto done;
    }
    if (r->content_type == NULL) {
        http_send_error(r, 415, "unsupported_media_type",
                        "the request body must be JSON (Content-Type: application/json)", NULL);
        goto done;
    }
    if (strlen(body.data ? body.data : "") != body.len) {
        http_send_error(r, 400, "invalid_json", "the request body contains a NUL byte", NULL);
        goto done;
    }
    if (!buf_is_utf8(body.data, body.len)) {
        http_send_error(r, 400, "invalid_json", "the request body is not valid UTF-8", NULL);
        goto done;
    }
    tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
    if (tok == NULL) {
        http_send_error(r, 503, "out_of_memory", "the server is out of memory", NULL);
        goto done;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, body.data ? body.data : "", (int)body.len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue && end == body.len) {
        /* A top-level number or literal ends only with the input: end it. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = body.len;
    }
    while (jerr == json_tokener_success && end < body.len && strchr(" \t\r\n", body.data[end]))
        end++;
    if (jerr == json_tokener_error_depth) {
        snprintf(msg, sizeof(msg), "the request body nests deeper than %d levels", HTTP_JSON_DEPTH);
        http_send_error(r, 400, "json_too_deep", msg, NULL);
        goto done;
    }
    if (jerr != json_tokener_success || end != body.len) {
        snprintf(msg, sizeof(msg), "the request body is not valid JSON (%s at byte %zu)",
                 jerr == json_tokener_continue  ? "unexpected end"
                 : jerr == json_tokener_success ? "trailing data"
                                                : json_tokener_error_desc(jerr),
                 end);
        http_send_error(r, 400, "invalid_json", msg, NULL);
        goto done;
    }
    if (http_key_has_nul(body.data, body.len)) {
        http_send_error(r, 400, "invalid_json", "an object key contains \\u0000", NULL);
        goto done;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        http_send_error(r, 400, "invalid_body", "the request body must be a JSON object", NULL);
        goto done;
    }
    *out = obj;
    obj = NULL;
    rc = 0;
    if (raw != NULL) {
        *raw = body;
        buf_init(&body, max);
    }
done:
    json_object_put(obj);
    if (tok)
        json_tokener_free(tok);
    buf_free(&body);
    return rc;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

void http_send(http_req *r, int status, const char *headers, const char *ctype, const char *body,
               size_t len)
{
    /* libfcgi's own printf knows no %zu: format here, write raw bytes. */
    char head[256];
    int head_only = strcmp(r->method, "HEAD") == 0;
    int n;

    r->status = status;
    n = snprintf(head, sizeof(head), "Status: %d %s\r\n", status, http_reason(status));
    FCGX_PutStr(head, n, r->fcgi->out);
    if (headers != NULL)
        FCGX_PutS(headers, r->fcgi->out);
    if (status == 204) {
        FCGX_PutS("\r\n", r->fcgi->out);
        return;
    }
    n = snprintf(head, sizeof(head), "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, len);
    if (n > 0 && (size_t)n < sizeof(head))
        FCGX_PutStr(head, n, r->fcgi->out);
    if (!head_only && len > 0)
        FCGX_PutStr(body, (int)len, r->fcgi->out);
}

void http_send_json(http_req *r, int status, json_object *obj, const char *headers)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_send(r, status, headers, "application/json", s, len);
}

void http_send_error(http_req *r, int status, const char *code, const char *msg,
                     const char *headers)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(msg));
    json_object_object_add(o, "code", json_object_new_string(code));
    http_send_json(r, status, o, headers);
    json_object_put(o);
}
