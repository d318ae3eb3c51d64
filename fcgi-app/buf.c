#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Make room for `need` more bytes plus the NUL terminator. */
static buf_rc buf_reserve(buf_t *b, size_t need)
{
    if (need > b->max - b->len)
        return BUF_TOO_BIG;
    size_t want = b->len + need + 1;
    if (want <= b->cap)
        return BUF_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > ((size_t)-1) / 2 ? want : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return BUF_NOMEM;
    b->data = p;
    b->cap = cap;
    return BUF_OK;
}

buf_rc buf_append(buf_t *b, const void *p, size_t n)
{
    buf_rc rc = buf_reserve(b, n);
    if (rc != BUF_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return BUF_OK;
}

size_t buf_append_some(buf_t *b, const void *p, size_t n)
{
    size_t room = b->max - b->len;
    size_t take = n < room ? n : room;
    if (buf_append(b, p, take) != BUF_OK)
        return 0;
    return take;
}

buf_rc buf_puts(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

buf_rc buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return BUF_NOMEM;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);

    buf_rc rc = buf_reserve(b, (size_t)n);
    if (rc != BUF_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return BUF_OK;
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *buf_detach(buf_t *b)
{
    char *p = b->data;
    if (p == NULL)
        p = strdup("");
    buf_init(b, b->max);
    return p;
}

void buf_free(buf_t *b)
{
    free(b->data);
    buf_init(b, b->max);
}
