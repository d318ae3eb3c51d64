/*
 * request: see request.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"

/* The body's end: libfcgi reads on until a fill closes the stream. */
static void request_fill(FCGX_Stream *s)
{
    request_t *q = s->data;
    s->isClosed = 1;
    s->FCGI_errno = q->gone;
}

/* The answer's buffer is full: make it twice as large. */
static void request_empty(FCGX_Stream *s, int close)
{
    request_t *q = s->data;
    size_t used = (size_t)((char *)s->wrNext - q->answer);
    (void)close;
    size_t cap = q->cap * 2;
    char *p = realloc(q->answer, cap + 1);
    assert_non_null(p);
    q->answer = p;
    q->cap = cap;
    s->wrNext = (unsigned char *)p + used;
    s->stop = (unsigned char *)p + cap;
}

void request_init(request_t *q, const char *method, const char *uri)
{
    memset(q, 0, sizeof(*q));
    q->cap = 4096;
    q->answer = malloc(q->cap + 1);
    assert_non_null(q->answer);
    q->out.wrNext = (unsigned char *)q->answer;
    q->out.stop = (unsigned char *)q->answer + q->cap;
    q->out.emptyBuffProc = request_empty;
    q->out.data = q;
    q->in.isReader = 1;
    q->in.fillBuffProc = request_fill;
    q->in.data = q;
    q->fcgi.in = &q->in;
    q->fcgi.out = &q->out;
    q->fcgi.err = &q->out;
    q->fcgi.envp = q->env;
    q->fcgi.ipcFd = -1;
    request_param(q, "REQUEST_METHOD", method);
    request_param(q, "REQUEST_URI", uri);
    request_body(q, NULL, "", 0);
}

void request_param(request_t *q, const char *name, const char *value)
{
    size_t n = strlen(name);
    for (int i = 0; i < q->nenv; i++) {
        if (strncmp(q->env[i], name, n) == 0 && q->env[i][n] == '=') {
            free(q->env[i]);
            q->env[i] = q->env[--q->nenv];
            q->env[q->nenv] = NULL;
            break;
        }
    }
    assert_true(q->nenv < REQUEST_PARAMS_MAX);
    size_t len = n + strlen(value) + 2;
    q->env[q->nenv] = malloc(len);
    assert_non_null(q->env[q->nenv]);
    snprintf(q->env[q->nenv], len, "%s=%s", name, value);
    q->env[++q->nenv] = NULL;
}

void request_body(request_t *q, const char *ctype, const char *body, size_t len)
{
    char n[32];
    free(q->body);
    q->body = malloc(len + 1);
    assert_non_null(q->body);
    memcpy(q->body, body, len);
    q->body_len = len;
    q->in.rdNext = (unsigned char *)q->body;
    q->in.stopUnget = (unsigned char *)q->body;
    q->in.stop = (unsigned char *)q->body + len;
    q->in.isClosed = 0;
    if (ctype != NULL)
        request_param(q, "CONTENT_TYPE", ctype);
    snprintf(n, sizeof(n), "%zu", len);
    request_param(q, "CONTENT_LENGTH", n);
}

http_req *request_http(request_t *q)
{
    http_req_init(&q->r, &q->fcgi);
    return &q->r;
}

const char *request_answer(request_t *q)
{
    size_t used = (size_t)((char *)q->out.wrNext - q->answer);
    q->answer[used] = '\0';
    return q->answer;
}

int request_status(request_t *q)
{
    int status = 0;
    if (sscanf(request_answer(q), "Status: %d", &status) != 1)
        return 0;
    return status;
}

bool request_has_header(request_t *q, const char *prefix)
{
    const char *a = request_answer(q);
    const char *end = strstr(a, "\r\n\r\n");
    size_t n = strlen(prefix);
    for (const char *line = a; line != NULL && (end == NULL || line < end);) {
        if (strncasecmp(line, prefix, n) == 0)
            return true;
        line = strstr(line, "\r\n");
        if (line != NULL)
            line += 2;
    }
    return false;
}

const char *request_header_value(request_t *q, const char *name, char *out, size_t outlen)
{
    char prefix[128];
    const char *a = request_answer(q);
    const char *end = strstr(a, "\r\n\r\n");
    snprintf(prefix, sizeof(prefix), "\r\n%s: ", name);
    out[0] = '\0';
    const char *at = strstr(a, prefix);
    if (at != NULL && (end == NULL || at < end)) {
        at += strlen(prefix);
        snprintf(out, outlen, "%.*s", (int)strcspn(at, "\r"), at);
    }
    return out;
}

const char *request_answer_body(request_t *q)
{
    const char *end = strstr(request_answer(q), "\r\n\r\n");
    return end != NULL ? end + 4 : "";
}

json_object *request_json(request_t *q)
{
    json_object *o = json_tokener_parse(request_answer_body(q));
    if (o == NULL)
        fail_msg("the answer's body is not JSON: %s", request_answer(q));
    return o;
}

void request_reset_answer(request_t *q)
{
    q->out.wrNext = (unsigned char *)q->answer;
}

void request_free(request_t *q)
{
    for (int i = 0; i < q->nenv; i++)
        free(q->env[i]);
    free(q->body);
    free(q->answer);
    memset(q, 0, sizeof(*q));
}
