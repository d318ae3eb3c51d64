/*
 * b64: OpenSSL does the arithmetic; this file maps the URL alphabet onto
 * the standard one and keeps every write inside the caller's buffer.
 */
#include "base/b64.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

/* OpenSSL's encoder works on int lengths: refuse more than it takes. */
#define B64_IN_MAX ((size_t)INT_MAX / 4 * 3)

long b64_encode(const void *p, size_t n, char *out, size_t cap)
{
    if (n > B64_IN_MAX || cap == 0 || B64_LEN(n) >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    /* EVP_EncodeBlock writes B64_LEN(n) characters and a NUL. */
    return EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

long b64_url_encode(const void *p, size_t n, char *out, size_t cap)
{
    long len = b64_encode(p, n, out, cap);
    if (len < 0)
        return -1;
    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    for (long i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return len;
}

static bool b64_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool b64_url_char(char c)
{
    return b64_alnum(c) || c == '-' || c == '_';
}

/* Decode the `len` unpadded characters at `s`, of the URL alphabet when
 * `url`, else the standard one, a group of 4 at a time padded as OpenSSL
 * wants: no copy of the text, whatever its length. */
static long b64_decode_groups(const char *s, size_t len, bool url, unsigned char *out, size_t cap)
{
    size_t o = 0;
    /* One leftover character carries less than a byte: not base64. */
    if (len % 4 == 1 || cap == 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned char grp[4] = {'=', '=', '=', '='}, bytes[3];
        size_t have = len - i < 4 ? len - i : 4;
        for (size_t j = 0; j < have; j++) {
            char c = s[i + j];
            if (url ? !b64_url_char(c) : !b64_alnum(c) && c != '+' && c != '/')
                return -1;
            grp[j] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
        }
        if (EVP_DecodeBlock(bytes, grp, 4) != 3)
            return -1;
        size_t take = have - 1;
        if (o + take >= cap)
            return -1;
        memcpy(out + o, bytes, take);
        o += take;
    }
    out[o] = '\0';
    return (long)o;
}

long b64_decode(const char *s, unsigned char *out, size_t cap)
{
    size_t len = strlen(s), pad = 0;
    if (len % 4 != 0)
        return -1;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
        pad++;
    return b64_decode_groups(s, len - pad, false, out, cap);
}

long b64_url_decode(const char *s, unsigned char *out, size_t cap)
{
    return b64_decode_groups(s, strlen(s), true, out, cap);
}
