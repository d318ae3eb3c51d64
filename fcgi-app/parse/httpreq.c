#include "parse/httpreq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A Content-Length past this is not a body anyone sends on loopback. */
#define HTTPREQ_LENGTH_MAX (UINT64_C(1) << 40)

/* RFC 9110's tchar: what a method and a header name are made of. */
static bool httpreq_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The end of the line at `p` (at most `end`): where its CRLF or LF starts,
 * and *next past it; NULL when the line is not complete. */
static const char *httpreq_eol(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return NULL;
    *next = nl + 1;
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

/* Whether header value `v` (`n` bytes) is `word`, case-insensitively, as
 * one of its comma-separated elements. */
static bool httpreq_has_token(const char *v, size_t n, const char *word)
{
    size_t wl = strlen(word);
    const char *p = v, *end = v + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == wl && strncasecmp(s, word, wl) == 0)
            return true;
    }
    return false;
}

/* Content-Length value `v` (`n` bytes): digits only. 0, or -1. */
static int httpreq_length(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 15)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > HTTPREQ_LENGTH_MAX)
        return -1;
    *out = x;
    return 0;
}

/* The request line "METHOD SP target SP HTTP/1.x" (`n` bytes at `p`). */
static httpreq_rc httpreq_request_line(const char *p, size_t n, httpreq_head *h, bool *v11)
{
    const char *end = p + n, *sp1 = memchr(p, ' ', n);
    if (sp1 == NULL || sp1 == p || (size_t)(sp1 - p) >= sizeof(h->method))
        return HTTPREQ_BAD;
    for (const char *c = p; c < sp1; c++)
        if (!httpreq_tchar(*c))
            return HTTPREQ_BAD;
    const char *t = sp1 + 1, *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (sp2 == NULL || sp2 == t)
        return HTTPREQ_BAD;
    for (const char *c = t; c < sp2; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return HTTPREQ_BAD;
    const char *ver = sp2 + 1;
    size_t vl = (size_t)(end - ver);
    if (memchr(ver, ' ', vl) != NULL)
        return HTTPREQ_BAD;
    if (vl != 8 || strncmp(ver, "HTTP/1.", 7) != 0)
        return vl >= 5 && strncmp(ver, "HTTP/", 5) == 0 ? HTTPREQ_VERSION : HTTPREQ_BAD;
    if (ver[7] != '0' && ver[7] != '1')
        return HTTPREQ_VERSION;
    if ((size_t)(sp2 - t) > HTTPREQ_PATH_MAX)
        return HTTPREQ_URI_LARGE;
    memcpy(h->method, p, (size_t)(sp1 - p));
    h->method[sp1 - p] = '\0';
    memcpy(h->path, t, (size_t)(sp2 - t));
    h->path[sp2 - t] = '\0';
    *v11 = ver[7] == '1';
    return HTTPREQ_OK;
}

httpreq_rc httpreq_parse(const char *buf, size_t len, size_t max_head, httpreq_head *h)
{
    const char *p = buf, *end = buf + (len < max_head ? len : max_head), *next;
    bool v11 = false, have_length = false, close = false, keep = false;
    memset(h, 0, sizeof(*h));

    /* A blank line or two before a request are to be ignored (RFC 9112). */
    for (int i = 0; i < 2 && p < end; i++) {
        if (*p == '\n')
            p++;
        else if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p += 2;
        else
            break;
    }
    const char *eol = httpreq_eol(p, end, &next);
    if (eol == NULL)
        return len >= max_head ? HTTPREQ_HEAD_LARGE : HTTPREQ_MORE;
    httpreq_rc rc = httpreq_request_line(p, (size_t)(eol - p), h, &v11);
    if (rc != HTTPREQ_OK)
        return rc;
    for (p = next;;) {
        eol = httpreq_eol(p, end, &next);
        if (eol == NULL)
            return len >= max_head ? HTTPREQ_HEAD_LARGE : HTTPREQ_MORE;
        if (eol == p)
            break; /* the blank line */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p)
            return HTTPREQ_BAD;
        for (const char *c = p; c < colon; c++)
            if (!httpreq_tchar(*c))
                return HTTPREQ_BAD; /* folding (a leading blank) included */
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *c = v; c < ve; c++)
            if (*c == '\0' || *c == '\r' || *c == '\n')
                return HTTPREQ_BAD;
        size_t nl = (size_t)(colon - p), vl = (size_t)(ve - v);
#define HTTPREQ_IS(name) (nl == sizeof(name) - 1 && strncasecmp(p, name, nl) == 0)
        if (HTTPREQ_IS("Content-Length")) {
            uint64_t n;
            if (httpreq_length(v, vl, &n) != 0 || (have_length && n != h->content_length))
                return HTTPREQ_BAD;
            h->content_length = n;
            have_length = true;
        } else if (HTTPREQ_IS("Transfer-Encoding")) {
            return HTTPREQ_NO_LENGTH;
        } else if (HTTPREQ_IS("Connection")) {
            close = close || httpreq_has_token(v, vl, "close");
            keep = keep || httpreq_has_token(v, vl, "keep-alive");
        } else if (HTTPREQ_IS("Expect")) {
            if (!httpreq_has_token(v, vl, "100-continue"))
                return HTTPREQ_BAD;
            h->expect_continue = true;
        } else if (HTTPREQ_IS("Lambda-Runtime-Function-Error-Type")) {
            size_t take = vl < HTTPREQ_ERROR_TYPE_MAX ? vl : HTTPREQ_ERROR_TYPE_MAX;
            memcpy(h->error_type, v, take);
            h->error_type[take] = '\0';
        }
#undef HTTPREQ_IS
        p = next;
    }
    h->keep_alive = !close && (v11 || keep);
    h->head_len = (size_t)(next - buf);
    return HTTPREQ_OK;
}

int httpreq_status(httpreq_rc rc, const char **reason)
{
    switch (rc) {
    case HTTPREQ_HEAD_LARGE:
        *reason = "Request Header Fields Too Large";
        return 431;
    case HTTPREQ_URI_LARGE:
        *reason = "URI Too Long";
        return 414;
    case HTTPREQ_NO_LENGTH:
        *reason = "Length Required";
        return 411;
    case HTTPREQ_VERSION:
        *reason = "HTTP Version Not Supported";
        return 505;
    default:
        *reason = "Bad Request";
        return 400;
    }
}
