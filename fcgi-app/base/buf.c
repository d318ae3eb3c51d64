#include "base/buf.h"

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

int buf_utf8_seq(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -1;
        unsigned char lim_lo = i == 1 ? lo : 0x80, lim_hi = i == 1 ? hi : 0xBF;
        if (p[i] < lim_lo || p[i] > lim_hi)
            return 0;
    }
    return len;
}

bool buf_is_utf8(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        int len = buf_utf8_seq(p + i, n - i);
        if (len <= 0)
            return false;
        i += (size_t)len;
    }
    return true;
}

buf_rc buf_append_utf8(buf_t *b, const char *p, size_t n, int cut)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    size_t i = 0, run = 0; /* valid bytes not yet copied start at i - run */
    buf_rc rc = BUF_OK;
    while (i < n) {
        int len = buf_utf8_seq(p + i, n - i);
        if (len > 0) {
            i += (size_t)len;
            run += (size_t)len;
            continue;
        }
        if ((rc = buf_append(b, p + i - run, run)) != BUF_OK)
            return rc;
        run = 0;
        if (len < 0 && cut)
            return BUF_OK;
        if ((rc = buf_append(b, replacement, 3)) != BUF_OK)
            return rc;
        i++;
    }
    return buf_append(b, p + i - run, run);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_free(buf_t *b)
{
    free(b->data);
    buf_init(b, b->max);
}
