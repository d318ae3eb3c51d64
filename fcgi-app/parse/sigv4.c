#include "parse/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGV4_SEGMENTS_MAX 256 /* path segments kept after dot removal */
#define SIGV4_PARAMS_MAX 256   /* query parameters */
#define SIGV4_SECRET_MAX 256   /* a secret's length, at most */
#define SIGV4_TERMINATOR "aws4_request"

static const char sigv4_hexdigits[] = "0123456789ABCDEF";

const char *sigv4_rc_text(sigv4_rc rc)
{
    switch (rc) {
    case SIGV4_OK:
        return "the signature matches";
    case SIGV4_MALFORMED:
        return "the Authorization header is not \"AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/"
               "SERVICE/aws4_request, SignedHeaders=..., Signature=...\"";
    case SIGV4_NO_HOST:
        return "host must be among the signed headers";
    case SIGV4_NO_DATE:
        return "the request needs a signed X-Amz-Date (or Date) header";
    case SIGV4_BAD_DATE:
        return "X-Amz-Date must be YYYYMMDDTHHMMSSZ (or Date an RFC 1123 date)";
    case SIGV4_SCOPE_DATE:
        return "the date in the credential scope is not the date of X-Amz-Date";
    case SIGV4_MISSING_HEADER:
        return "a signed header is not in the request";
    case SIGV4_BAD_QUERY:
        return "the query string has a bad percent-escape or a NUL byte";
    case SIGV4_TOO_LONG:
        return "the request is too long to sign (path, query or headers)";
    case SIGV4_SKEW:
        return "the request's time is more than 15 minutes from the server's";
    case SIGV4_MISMATCH:
        return "the request signature does not match the one its secret makes";
    case SIGV4_NOMEM:
        return "the signature could not be computed";
    }
    return "unknown";
}

bool sigv4_is_sigv4(const char *h)
{
    size_t n = sizeof(SIGV4_ALGORITHM) - 1;
    return h != NULL && strncmp(h, SIGV4_ALGORITHM, n) == 0 &&
           (h[n] == ' ' || h[n] == '\t' || h[n] == '\0');
}

static bool sigv4_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* A character of a lower-case header name: an HTTP token's, upper case
 * excluded. */
static bool sigv4_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool sigv4_all(const char *p, size_t n, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok((unsigned char)p[i]))
            return false;
    return true;
}

static bool sigv4_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool sigv4_scope_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool sigv4_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool sigv4_lowhex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Copy `n` bytes into `out` (`cap` bytes): false when they do not fit or
 * are empty. */
static bool sigv4_copy(char *out, size_t cap, const char *p, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Credential=AKID/DATE/REGION/SERVICE/aws4_request */
static bool sigv4_credential(const char *p, size_t n, sigv4_auth *out)
{
    const char *part[5];
    size_t len[5];
    size_t k = 0;
    const char *end = p + n;
    while (k < 5) {
        const char *s = p;
        while (p < end && *p != '/')
            p++;
        part[k] = s;
        len[k++] = (size_t)(p - s);
        if (p == end)
            break;
        p++;
    }
    if (k != 5 || p != end)
        return false;
    return sigv4_all(part[0], len[0], sigv4_id_char) &&
           sigv4_copy(out->access_key_id, sizeof(out->access_key_id), part[0], len[0]) &&
           len[1] == 8 && sigv4_all(part[1], 8, sigv4_digit) &&
           sigv4_copy(out->date, sizeof(out->date), part[1], 8) &&
           sigv4_all(part[2], len[2], sigv4_scope_char) &&
           sigv4_copy(out->region, sizeof(out->region), part[2], len[2]) &&
           sigv4_all(part[3], len[3], sigv4_scope_char) &&
           sigv4_copy(out->service, sizeof(out->service), part[3], len[3]) &&
           len[4] == sizeof(SIGV4_TERMINATOR) - 1 && memcmp(part[4], SIGV4_TERMINATOR, len[4]) == 0;
}

/* SignedHeaders=a;b;c: lower-case names, sorted, each once. */
static bool sigv4_signed_list(const char *p, size_t n, sigv4_auth *out)
{
    const char *prev = NULL, *end = p + n;
    size_t prev_len = 0;
    if (!sigv4_copy(out->signed_headers, sizeof(out->signed_headers), p, n))
        return false;
    while (p <= end) {
        const char *s = p;
        while (p < end && *p != ';')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || !sigv4_all(s, len, sigv4_name_char))
            return false;
        if (prev != NULL) {
            size_t m = len < prev_len ? len : prev_len;
            int c = memcmp(prev, s, m);
            if (c > 0 || (c == 0 && prev_len >= len))
                return false;
        }
        prev = s;
        prev_len = len;
        p++;
    }
    return true;
}

sigv4_rc sigv4_parse(const char *h, sigv4_auth *out)
{
    enum { CRED = 1, SIGNED = 2, SIG = 4 };
    unsigned seen = 0;
    memset(out, 0, sizeof(*out));
    if (!sigv4_is_sigv4(h))
        return SIGV4_MALFORMED;
    const char *p = h + sizeof(SIGV4_ALGORITHM) - 1;
    if (*p != ' ' && *p != '\t')
        return SIGV4_MALFORMED;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            p++;
        size_t name_len = (size_t)(p - name);
        if (*p != '=')
            return SIGV4_MALFORMED;
        const char *v = ++p;
        while (*p != '\0' && *p != ',')
            p++;
        size_t n = (size_t)(p - v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        unsigned bit;
        bool ok;
        if (name_len == 10 && memcmp(name, "Credential", 10) == 0) {
            bit = CRED;
            ok = sigv4_credential(v, n, out);
        } else if (name_len == 13 && memcmp(name, "SignedHeaders", 13) == 0) {
            bit = SIGNED;
            ok = sigv4_signed_list(v, n, out);
        } else if (name_len == 9 && memcmp(name, "Signature", 9) == 0) {
            bit = SIG;
            ok = n == SIGV4_HEX && sigv4_all(v, n, sigv4_lowhex) &&
                 sigv4_copy(out->signature, sizeof(out->signature), v, n);
        } else {
            return SIGV4_MALFORMED;
        }
        if (!ok || (seen & bit))
            return SIGV4_MALFORMED;
        seen |= bit;
        if (*p == '\0')
            break;
        p++;
    }
    if (seen != (CRED | SIGNED | SIG))
        return SIGV4_MALFORMED;
    return sigv4_signs(out, "host") ? SIGV4_OK : SIGV4_NO_HOST;
}

bool sigv4_signs(const sigv4_auth *a, const char *name)
{
    size_t len = strlen(name);
    const char *p = a->signed_headers;
    while (*p != '\0') {
        size_t n = strcspn(p, ";");
        if (n == len && memcmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ';');
    }
    return false;
}

/* `n` decimal digits at `p` as a number, or -1. */
static int sigv4_num(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!sigv4_digit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Seconds since the epoch of a UTC date, or -1 when a field is out of its
 * range (30 February included). */
static long long sigv4_epoch(int year, int mon, int day, int hour, int min, int sec)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 ||
        sec > 60)
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] + (mon == 2 && leap))
        return -1;
    /* Days from the civil date (Howard Hinnant's algorithm). */
    int y = year - (mon <= 2);
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long days = (long long)era * 146097 + doe - 719468;
    return days * 86400 + hour * 3600 + min * 60 + sec;
}

/* YYYYMMDDTHHMMSSZ */
static long long sigv4_basic_date(const char *v)
{
    if (strlen(v) != 16 || v[8] != 'T' || v[15] != 'Z')
        return -1;
    int year = sigv4_num(v, 4), mon = sigv4_num(v + 4, 2), day = sigv4_num(v + 6, 2);
    int hour = sigv4_num(v + 9, 2), min = sigv4_num(v + 11, 2), sec = sigv4_num(v + 13, 2);
    if (year < 0 || mon < 0 || day < 0 || hour < 0 || min < 0 || sec < 0)
        return -1;
    return sigv4_epoch(year, mon, day, hour, min, sec);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" into `stamp` and seconds. */
static long long sigv4_http_date(const char *v, char stamp[17])
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (strlen(v) != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' ||
        v[16] != ' ' || v[19] != ':' || v[22] != ':' || strcmp(v + 25, " GMT") != 0)
        return -1;
    int mon = 0;
    for (int i = 0; i < 12 && mon == 0; i++)
        if (memcmp(v + 8, months + 3 * i, 3) == 0)
            mon = i + 1;
    int day = sigv4_num(v + 5, 2), year = sigv4_num(v + 12, 4), hour = sigv4_num(v + 17, 2);
    int min = sigv4_num(v + 20, 2), sec = sigv4_num(v + 23, 2);
    if (mon == 0 || day < 0 || year < 0 || hour < 0 || min < 0 || sec < 0)
        return -1;
    long long t = sigv4_epoch(year, mon, day, hour, min, sec);
    if (t >= 0)
        snprintf(stamp, 17, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)year % 10000u,
                 (unsigned)mon % 100u, (unsigned)day % 100u, (unsigned)hour % 100u,
                 (unsigned)min % 100u, (unsigned)sec % 100u);
    return t;
}

sigv4_rc sigv4_time(const sigv4_auth *a, const sigv4_request *r, char stamp[17], long long *t)
{
    const char *v = r->header(r->arg, "x-amz-date");
    stamp[0] = '\0';
    if (v != NULL) {
        if (!sigv4_signs(a, "x-amz-date"))
            return SIGV4_NO_DATE;
        *t = sigv4_basic_date(v);
        if (*t < 0)
            return SIGV4_BAD_DATE;
        memcpy(stamp, v, 17);
    } else {
        v = r->header(r->arg, "date");
        if (v == NULL || !sigv4_signs(a, "date"))
            return SIGV4_NO_DATE;
        *t = sigv4_http_date(v, stamp);
        if (*t < 0)
            return SIGV4_BAD_DATE;
    }
    return memcmp(stamp, a->date, 8) == 0 ? SIGV4_OK : SIGV4_SCOPE_DATE;
}

sigv4_rc sigv4_fresh(long long t, long long now)
{
    long long d = t > now ? t - now : now - t;
    return d <= SIGV4_SKEW_S ? SIGV4_OK : SIGV4_SKEW;
}

static sigv4_rc sigv4_put(buf_t *b, const void *p, size_t n)
{
    buf_rc rc = buf_append(b, p, n);
    return rc == BUF_OK ? SIGV4_OK : rc == BUF_TOO_BIG ? SIGV4_TOO_LONG : SIGV4_NOMEM;
}

/* Percent-encode byte `c` unless it is unreserved. */
static sigv4_rc sigv4_encode_byte(buf_t *b, unsigned char c)
{
    if (sigv4_unreserved(c))
        return sigv4_put(b, &c, 1);
    char esc[3] = {'%', sigv4_hexdigits[c >> 4], sigv4_hexdigits[c & 15]};
    return sigv4_put(b, esc, 3);
}

/* The canonical URI of the raw path (`n` bytes at `p`). */
static sigv4_rc sigv4_uri(const char *p, size_t n, buf_t *out)
{
    size_t marks[SIGV4_SEGMENTS_MAX];
    int depth = 0;
    const char *end = p + n;
    sigv4_rc rc = SIGV4_OK;
    for (const char *q = p; q < end && rc == SIGV4_OK;) {
        if (*q == '/') {
            q++;
            continue;
        }
        const char *s = q;
        while (q < end && *q != '/')
            q++;
        size_t len = (size_t)(q - s);
        if (len == 1 && s[0] == '.')
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (depth > 0) {
                out->len = marks[--depth];
                out->data[out->len] = '\0';
            }
            continue;
        }
        if (depth == SIGV4_SEGMENTS_MAX)
            return SIGV4_TOO_LONG;
        marks[depth++] = out->len;
        rc = sigv4_put(out, "/", 1);
        for (size_t i = 0; i < len && rc == SIGV4_OK; i++)
            rc = sigv4_encode_byte(out, (unsigned char)s[i]);
    }
    if (rc != SIGV4_OK)
        return rc;
    if (depth == 0 || (n > 0 && p[n - 1] == '/'))
        rc = sigv4_put(out, "/", 1);
    return rc;
}

static int sigv4_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode `n` bytes of a query name or value and encode them again. */
static sigv4_rc sigv4_recode(const char *p, size_t n, buf_t *out)
{
    sigv4_rc rc = SIGV4_OK;
    for (size_t i = 0; i < n && rc == SIGV4_OK; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? sigv4_hexval((unsigned char)p[i + 1]) : -1;
            int lo = hi >= 0 ? sigv4_hexval((unsigned char)p[i + 2]) : -1;
            if (lo < 0)
                return SIGV4_BAD_QUERY;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return SIGV4_BAD_QUERY;
        rc = sigv4_encode_byte(out, c);
    }
    return rc;
}

typedef struct {
    const char *k, *v;
    size_t klen, vlen;
    size_t koff, voff; /* in the scratch buffer, until it stops moving */
} sigv4_param;

static int sigv4_cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

static int sigv4_cmp_param(const void *x, const void *y)
{
    const sigv4_param *a = x, *b = y;
    int c = sigv4_cmp_bytes(a->k, a->klen, b->k, b->klen);
    return c != 0 ? c : sigv4_cmp_bytes(a->v, a->vlen, b->v, b->vlen);
}

/* The canonical query of the raw query (`n` bytes at `p`). */
static sigv4_rc sigv4_query(const char *p, size_t n, buf_t *out)
{
    sigv4_param params[SIGV4_PARAMS_MAX];
    size_t count = 0;
    buf_t scratch;
    sigv4_rc rc = SIGV4_OK;
    const char *end = p + n;
    buf_init(&scratch, SIGV4_CANONICAL_MAX);
    for (const char *q = p; q < end && rc == SIGV4_OK;) {
        const char *s = q;
        while (q < end && *q != '&')
            q++;
        size_t len = (size_t)(q - s);
        if (q < end)
            q++;
        if (len == 0)
            continue;
        if (count == SIGV4_PARAMS_MAX) {
            rc = SIGV4_TOO_LONG;
            break;
        }
        const char *eq = memchr(s, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - s) : len;
        sigv4_param *m = &params[count++];
        m->koff = scratch.len;
        rc = sigv4_recode(s, klen, &scratch);
        m->klen = scratch.len - m->koff;
        m->voff = scratch.len;
        if (rc == SIGV4_OK && eq != NULL)
            rc = sigv4_recode(eq + 1, len - klen - 1, &scratch);
        m->vlen = scratch.len - m->voff;
    }
    if (rc == SIGV4_OK && count > 0) {
        for (size_t i = 0; i < count; i++) {
            params[i].k = scratch.data + params[i].koff;
            params[i].v = scratch.data + params[i].voff;
        }
        qsort(params, count, sizeof(params[0]), sigv4_cmp_param);
        for (size_t i = 0; i < count && rc == SIGV4_OK; i++) {
            if (i > 0)
                rc = sigv4_put(out, "&", 1);
            if (rc == SIGV4_OK)
                rc = sigv4_put(out, params[i].k, params[i].klen);
            if (rc == SIGV4_OK)
                rc = sigv4_put(out, "=", 1);
            if (rc == SIGV4_OK)
                rc = sigv4_put(out, params[i].v, params[i].vlen);
        }
    }
    buf_free(&scratch);
    return rc;
}

/* A header value trimmed, each inner run of blanks one space. */
static sigv4_rc sigv4_value(const char *v, buf_t *out)
{
    sigv4_rc rc = SIGV4_OK;
    bool space = false, any = false;
    for (; *v != '\0' && rc == SIGV4_OK; v++) {
        if (*v == ' ' || *v == '\t') {
            space = any;
            continue;
        }
        if (space)
            rc = sigv4_put(out, " ", 1);
        if (rc == SIGV4_OK)
            rc = sigv4_put(out, v, 1);
        space = false;
        any = true;
    }
    return rc;
}

/* "name:value\n" for each signed header. */
static sigv4_rc sigv4_headers(const sigv4_auth *a, const sigv4_request *r, buf_t *out)
{
    char name[SIGV4_SIGNED_MAX + 1];
    const char *p = a->signed_headers;
    sigv4_rc rc = SIGV4_OK;
    while (*p != '\0' && rc == SIGV4_OK) {
        size_t n = strcspn(p, ";");
        memcpy(name, p, n);
        name[n] = '\0';
        p += n + (p[n] == ';');
        const char *v = r->header(r->arg, name);
        if (v == NULL)
            return SIGV4_MISSING_HEADER;
        rc = sigv4_put(out, name, n);
        if (rc == SIGV4_OK)
            rc = sigv4_put(out, ":", 1);
        if (rc == SIGV4_OK)
            rc = sigv4_value(v, out);
        if (rc == SIGV4_OK)
            rc = sigv4_put(out, "\n", 1);
    }
    return rc;
}

sigv4_rc sigv4_canonical(const sigv4_auth *a, const sigv4_request *r, buf_t *out)
{
    const char *t = r->target;
    size_t path_len = strcspn(t, "?#");
    const char *q = t[path_len] == '?' ? t + path_len + 1 : NULL;
    sigv4_rc rc = sigv4_put(out, r->method, strlen(r->method));
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, "\n", 1);
    if (rc == SIGV4_OK)
        rc = sigv4_uri(t, path_len, out);
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, "\n", 1);
    if (rc == SIGV4_OK && q != NULL)
        rc = sigv4_query(q, strcspn(q, "#"), out);
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, "\n", 1);
    if (rc == SIGV4_OK)
        rc = sigv4_headers(a, r, out);
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, "\n", 1);
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, a->signed_headers, strlen(a->signed_headers));
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, "\n", 1);
    if (rc == SIGV4_OK)
        rc = sigv4_put(out, r->payload_hash, strlen(r->payload_hash));
    return rc;
}

static void sigv4_hex(const unsigned char *md, size_t n, char *out)
{
    static const char low[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = low[md[i] >> 4];
        out[2 * i + 1] = low[md[i] & 15];
    }
    out[2 * n] = '\0';
}

int sigv4_sha256_hex(const void *p, size_t n, char out[SIGV4_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len * 2 != SIGV4_HEX)
        return -1;
    sigv4_hex(md, len, out);
    return 0;
}

sigv4_rc sigv4_string_to_sign(const sigv4_auth *a, const char *stamp, const char *canonical,
                              size_t len, buf_t *out)
{
    char hash[SIGV4_HEX + 1];
    if (sigv4_sha256_hex(canonical, len, hash) != 0)
        return SIGV4_NOMEM;
    buf_rc rc = buf_printf(out, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/" SIGV4_TERMINATOR "\n%s", stamp,
                           a->date, a->region, a->service, hash);
    return rc == BUF_OK ? SIGV4_OK : rc == BUF_TOO_BIG ? SIGV4_TOO_LONG : SIGV4_NOMEM;
}

sigv4_rc sigv4_sign(const sigv4_auth *a, const char *secret, size_t secret_len, const char *sts,
                    size_t len, char out[SIGV4_HEX + 1])
{
    unsigned char first[4 + SIGV4_SECRET_MAX];
    unsigned char k[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE];
    unsigned int klen = 0, slen = 0;
    const char *steps[] = {a->date, a->region, a->service, SIGV4_TERMINATOR};
    sigv4_rc rc = SIGV4_NOMEM;
    out[0] = '\0';
    if (secret_len > SIGV4_SECRET_MAX)
        return SIGV4_NOMEM;
    memcpy(first, "AWS4", 4);
    memcpy(first + 4, secret, secret_len);
    /* kDate = HMAC("AWS4" + secret, date), then region, service and the
     * terminator, each keyed by the one before. */
    const unsigned char *key = first;
    size_t key_len = 4 + secret_len;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)steps[i], strlen(steps[i]),
                 k, &klen) == NULL)
            goto done;
        key = k;
        key_len = klen;
    }
    if (HMAC(EVP_sha256(), k, (int)klen, (const unsigned char *)sts, len, sig, &slen) == NULL ||
        slen * 2 != SIGV4_HEX)
        goto done;
    sigv4_hex(sig, slen, out);
    rc = SIGV4_OK;
done:
    OPENSSL_cleanse(first, sizeof(first));
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

sigv4_rc sigv4_check(const sigv4_auth *a, const sigv4_request *r, const char *secret,
                     size_t secret_len, long long *t)
{
    char stamp[17], sig[SIGV4_HEX + 1];
    buf_t canonical, sts;
    buf_init(&canonical, SIGV4_CANONICAL_MAX);
    buf_init(&sts, 512);
    sigv4_rc rc = sigv4_time(a, r, stamp, t);
    if (rc == SIGV4_OK)
        rc = sigv4_canonical(a, r, &canonical);
    if (rc == SIGV4_OK)
        rc = sigv4_string_to_sign(a, stamp, canonical.data, canonical.len, &sts);
    if (rc == SIGV4_OK)
        rc = sigv4_sign(a, secret, secret_len, sts.data, sts.len, sig);
    if (rc == SIGV4_OK && CRYPTO_memcmp(sig, a->signature, SIGV4_HEX) != 0)
        rc = SIGV4_MISMATCH;
    buf_free(&canonical);
    buf_free(&sts);
    return rc;
}
