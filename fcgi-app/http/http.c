#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config.h"

static const struct {
    const char *name;
    unsigned bit;
} http_methods[] = {
    {"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
    {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
};

#define HTTP_METHODS (sizeof(http_methods) / sizeof(http_methods[0]))

unsigned http_method_bit(const char *m)
{
    for (size_t i = 0; i < HTTP_METHODS; i++)
        if (strcmp(m, http_methods[i].name) == 0)
            return http_methods[i].bit;
    return 0;
}

void http_allow(unsigned bits, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < HTTP_METHODS; i++) {
        if (!(bits & http_methods[i].bit))
            continue;
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", http_methods[i].name);
        if (n < 0 || (size_t)n >= outlen - used)
            return;
        used += (size_t)n;
    }
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

int http_match_path(const char *tmpl, const char *uri, char *ref, size_t reflen)
{
    size_t plen = strcspn(uri, "?#");
    const char *open = strchr(tmpl, '{');
    if (plen > 1 && uri[plen - 1] == '/')
        plen--; /* "/functions/" means "/functions" */
    ref[0] = '\0';
    if (open == NULL)
        return plen == strlen(tmpl) && strncmp(uri, tmpl, plen) == 0;

    size_t pre = (size_t)(open - tmpl);
    const char *suffix = strchr(open, '}');
    suffix = suffix ? suffix + 1 : open + strlen(open);
    size_t slen = strlen(suffix);
    if (plen < pre || strncmp(uri, tmpl, pre) != 0)
        return 0;
    const char *seg = uri + pre;
    size_t rest = plen - pre;
    if (rest <= slen || strncmp(seg + rest - slen, suffix, slen) != 0)
        return 0;
    size_t seglen = rest - slen;
    if (memchr(seg, '/', seglen) != NULL)
        return 0;
    return http_decode(seg, seglen, ref, reflen) == 0 ? 1 : -1;
}

void http_req_init(http_req *r, FCGX_Request *fcgi)
{
    const char *cl;
    long long v;
    r->fcgi = fcgi;
    r->status = 0;
    r->ahead = NULL;
    r->copy = NULL;
    r->method = FCGX_GetParam("REQUEST_METHOD", fcgi->envp);
    r->uri = FCGX_GetParam("REQUEST_URI", fcgi->envp);
    r->content_type = FCGX_GetParam("CONTENT_TYPE", fcgi->envp);
    if (r->method == NULL)
        r->method = "GET";
    if (r->uri == NULL)
        r->uri = "/";
    /* An absolute-form target ("GET http://host/metrics"): nginx routes it
     * by its path, and so do we. */
    if (strncasecmp(r->uri, "http://", 7) == 0 || strncasecmp(r->uri, "https://", 8) == 0) {
        const char *path = strchr(strstr(r->uri, "//") + 2, '/');
        r->uri = path != NULL ? path : "/";
    }
    if (r->content_type != NULL && *r->content_type == '\0')
        r->content_type = NULL;
    cl = FCGX_GetParam("CONTENT_LENGTH", fcgi->envp);
    r->content_length = -1;
    if (cl != NULL && config_parse_int(cl, 0, 0x7fffffffffffffffLL, &v) == 0)
        r->content_length = v;
}

const char *http_header(const http_req *r, const char *name)
{
    return FCGX_GetParam(name, r->fcgi->envp);
}

bool http_media_type_is(const char *ct, const char *type)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

/* True for "application/json" with optional parameters, or "+json" types. */
static bool http_is_json_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return http_media_type_is(ct, "application/json") ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static int http_too_large(size_t max, err_t *e)
{
    return err_set(e, ERR_TOO_LARGE, NULL, 0, "the request body is larger than %zu bytes", max);
}

/* Move the body the gate read ahead into `out`: the request has one body,
 * so only the first read gets it. */
static int http_take_ahead(http_req *r, size_t max, buf_t *out, err_t *e)
{
    buf_t *ahead = r->ahead;
    r->ahead = NULL;
    if (ahead->len > max)
        return http_too_large(max, e);
    buf_free(out);
    *out = *ahead;
    out->max = max;
    buf_init(ahead, ahead->max);
    return 0;
}

int http_read_body(http_req *r, size_t max, buf_t *out, err_t *e)
{
    char chunk[65536];
    if (r->ahead != NULL)
        return http_take_ahead(r, max, out, e);
    if (r->content_length > 0 && (unsigned long long)r->content_length > max)
        return http_too_large(max, e);
    out->max = max;
    for (;;) {
        int n = FCGX_GetStr(chunk, sizeof(chunk), r->fcgi->in);
        if (n <= 0)
            return 0;
        buf_rc rc = buf_append(out, chunk, (size_t)n);
        if (rc == BUF_TOO_BIG)
            return http_too_large(max, e);
        if (rc != BUF_OK)
            return err_set(e, ERR_NOMEM, NULL, 0, "the server is out of memory");
    }
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
        if (len >= klen && strncmp(q, key, klen) == 0 && (len == klen || q[klen] == '=')) {
            char raw[1024];
            size_t vlen = len > klen ? len - klen - 1 : 0;
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

/* A decoded object key: where its bytes sit in the scan's key buffer. */
typedef struct {
    size_t off, len;
} http_key;

typedef struct {
    buf_t bytes;    /* decoded keys of the objects open now, back to back */
    http_key *keys; /* [n] */
    size_t n, cap;
} http_keyset;

/* Order keys by their bytes in `base` (the key buffer). */
static int http_key_cmp(const void *a, const void *b, void *base)
{
    const http_key *x = a, *y = b;
    const char *p = base;
    size_t n = x->len < y->len ? x->len : y->len;
    /* Empty keys only: the buffer may never have been allocated. */
    int c = n > 0 ? memcmp(p + x->off, p + y->off, n) : 0;
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Append the UTF-8 of code point `cp` to `b`. */
static int http_put_utf8(buf_t *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return buf_append(b, u, n) == BUF_OK ? 0 : -1;
}

static unsigned http_hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 4 | (unsigned)http_hex(p[i]);
    return v;
}

/* Decode the JSON string at `s[*i]` (its opening quote; the text is valid
 * JSON) into `out`, leaving `*i` past its closing quote. */
static int http_decode_string(const char *s, size_t n, size_t *i, buf_t *out)
{
    size_t k = *i + 1;
    while (k < n && s[k] != '"') {
        if (s[k] != '\\') {
            size_t run = k;
            while (k < n && s[k] != '"' && s[k] != '\\')
                k++;
            if (buf_append(out, s + run, k - run) != BUF_OK)
                return -1;
            continue;
        }
        char c = s[k + 1], lit = c == 'b'   ? '\b'
                                 : c == 'f' ? '\f'
                                 : c == 'n' ? '\n'
                                 : c == 'r' ? '\r'
                                 : c == 't' ? '\t'
                                            : c;
        if (c != 'u') {
            if (buf_append(out, &lit, 1) != BUF_OK)
                return -1;
            k += 2;
            continue;
        }
        unsigned cp = http_hex4(s + k + 2);
        k += 6;
        if (cp >= 0xd800 && cp < 0xdc00 && k + 6 <= n && s[k] == '\\' && s[k + 1] == 'u') {
            unsigned lo = http_hex4(s + k + 2);
            if (lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                k += 6;
            }
        }
        if (http_put_utf8(out, cp) != 0)
            return -1;
    }
    *i = k + 1;
    return 0;
}

/* Sort the keys of the object that opened at index `from` and look for a
 * repeat. 1 (with it in `dup`), 0, or -1 when out of memory. */
static int http_keys_repeat(http_keyset *ks, size_t from, char *dup, size_t duplen)
{
    /* Fewer than two keys repeat nothing; and an empty body's `keys` is
     * still NULL, which qsort_r must not be given even for no elements. */
    if (ks->n - from < 2)
        return 0;
    qsort_r(ks->keys + from, ks->n - from, sizeof(*ks->keys), http_key_cmp, ks->bytes.data);
    for (size_t i = from + 1; i < ks->n; i++) {
        if (http_key_cmp(&ks->keys[i - 1], &ks->keys[i], ks->bytes.data) == 0) {
            buf_t safe;
            buf_init(&safe, 3 * 64 + 1);
            buf_append_utf8(&safe, ks->bytes.data + ks->keys[i].off,
                            ks->keys[i].len > 64 ? 64 : ks->keys[i].len, 1);
            snprintf(dup, duplen, "%s", safe.data ? safe.data : "");
            buf_free(&safe);
            return 1;
        }
    }
    return 0;
}

/*
 * Whether an object in the JSON text `s` (valid, already parsed) has a key
 * twice, however it is spelled ("event" and "\u0065vent" are one key).
 * json-c keeps the last one silently, while the raw text of the first
 * could reach a function. 1 with the key in `dup`, 0, 2 for a
 * single-quoted string (not JSON), or -1 when out of memory.
 */
static int http_json_duplicate(const char *s, size_t n, char *dup, size_t duplen)
{
    http_keyset ks = {.keys = NULL, .n = 0, .cap = 0};
    size_t open_at[HTTP_JSON_DEPTH + 2], key_off[HTTP_JSON_DEPTH + 2];
    bool is_object[HTTP_JSON_DEPTH + 2], want_key = false;
    int depth = 0, rc = 0;

    buf_init(&ks.bytes, n + 1);
    for (size_t i = 0; i < n && rc == 0;) {
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth >= HTTP_JSON_DEPTH + 1)
                break;
            is_object[depth] = c == '{';
            open_at[depth] = ks.n;
            key_off[depth] = ks.bytes.len;
            depth++;
            want_key = c == '{';
            i++;
        } else if (c == '}' || c == ']') {
            depth--;
            if (c == '}')
                rc = http_keys_repeat(&ks, open_at[depth], dup, duplen);
            ks.n = open_at[depth];
            ks.bytes.len = key_off[depth];
            want_key = false;
            i++;
        } else if (c == ',') {
            want_key = depth > 0 && is_object[depth - 1];
            i++;
        } else if (c == '"' && want_key) {
            if (ks.n == ks.cap) {
                size_t cap = ks.cap ? ks.cap * 2 : 64;
                http_key *k = realloc(ks.keys, cap * sizeof(*k));
                if (k == NULL) {
                    rc = -1;
                    break;
                }
                ks.keys = k;
                ks.cap = cap;
            }
            ks.keys[ks.n].off = ks.bytes.len;
            if (http_decode_string(s, n, &i, &ks.bytes) != 0) {
                rc = -1;
                break;
            }
            ks.keys[ks.n].len = ks.bytes.len - ks.keys[ks.n].off;
            ks.n++;
            want_key = false;
        } else if (c == '"') {
            i = http_skip_string(s, i, n);
        } else if (c == '\'') {
            /* json-c takes single-quoted strings; JSON has none, and a key
             * spelled so would hide from this check. */
            rc = 2;
        } else {
            i++;
        }
    }
    free(ks.keys);
    buf_free(&ks.bytes);
    return rc;
}

/* Tokenize `body` (valid UTF-8 without NUL bytes) as one strict JSON value
 * with nothing after it but white space. */
static int http_tokenize(const buf_t *body, json_object **out, err_t *e)
{
    json_tokener *tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
    const char *text = body->data ? body->data : "";
    if (tok == NULL)
        return err_set(e, ERR_NOMEM, NULL, 0, "the server is out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)body->len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue && end == body->len) {
        /* A top-level number or literal ends only with the input: end it. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = body->len;
    }
    while (jerr == json_tokener_success && end < body->len && strchr(" \t\r\n", text[end]))
        end++;
    json_tokener_free(tok);
    if (jerr == json_tokener_success && end == body->len) {
        *out = obj;
        return 0;
    }
    json_object_put(obj);
    if (jerr == json_tokener_error_depth)
        return err_set(e, ERR_INVALID, "json_too_deep", 0,
                       "the request body nests deeper than %d levels", HTTP_JSON_DEPTH);
    return err_set(e, ERR_INVALID, "invalid_json", 0,
                   "the request body is not valid JSON (%s at byte %zu)",
                   jerr == json_tokener_continue  ? "unexpected end"
                   : jerr == json_tokener_success ? "trailing data"
                                                  : json_tokener_error_desc(jerr),
                   end);
}

/*
 * What json-c accepts even with JSON_TOKENER_STRICT but JSON (RFC 8259) does
 * not, in text json-c has accepted: NaN, Infinity and -Infinity, a number
 * ending in a bare '.' ("1."), and a control character unescaped in a
 * string. A description of the first one found, or NULL.
 */
static const char *http_json_lenient(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if ((unsigned char)s[i] < 0x20)
                    return "a control character unescaped in a string";
                if (s[i] == '\\')
                    i++;
            }
        } else if (c == 'N' || c == 'I') {
            return "NaN or Infinity";
        } else if (c == '.' && (i + 1 >= n || s[i + 1] < '0' || s[i + 1] > '9')) {
            return "a number ending in '.'";
        }
    }
    return NULL;
}

int http_parse_json(const buf_t *body, json_object **out, err_t *e)
{
    json_object *obj = NULL;
    if (strlen(body->data ? body->data : "") != body->len)
        return err_set(e, ERR_INVALID, "invalid_json", 0, "the request body contains a NUL byte");
    if (!buf_is_utf8(body->data, body->len))
        return err_set(e, ERR_INVALID, "invalid_json", 0, "the request body is not valid UTF-8");
    if (http_tokenize(body, &obj, e) != 0)
        return -1;
    if (http_key_has_nul(body->data, body->len)) {
        json_object_put(obj);
        return err_set(e, ERR_INVALID, "invalid_json", 0, "an object key contains \\u0000");
    }
    const char *lenient = http_json_lenient(body->data, body->len);
    if (lenient != NULL) {
        json_object_put(obj);
        return err_set(e, ERR_INVALID, "invalid_json", 0, "the request body is not valid JSON (%s)",
                       lenient);
    }
    char dup[200];
    int d = http_json_duplicate(body->data, body->len, dup, sizeof(dup));
    if (d != 0) {
        json_object_put(obj);
        if (d < 0)
            return err_set(e, ERR_NOMEM, NULL, 0, "the server is out of memory");
        if (d == 2)
            return err_set(e, ERR_INVALID, "invalid_json", 0,
                           "the request body is not valid JSON (a single-quoted string)");
        return err_set(e, ERR_INVALID, "duplicate_key", 0,
                       "the key \"%s\" appears twice in one object", dup);
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return err_set(e, ERR_INVALID, "invalid_body", 0, "the request body must be a JSON object");
    }
    *out = obj;
    return 0;
}

static int http_not_json(err_t *e)
{
    return err_set(e, ERR_UNSUPPORTED, NULL, 0,
                   "the request body must be JSON (Content-Type: application/json)");
}

int http_read_json(http_req *r, size_t max, bool empty_ok, json_object **out, buf_t *raw, err_t *e)
{
    buf_t body;
    int rc = -1;

    *out = NULL;
    buf_init(&body, max);
    if (r->content_type != NULL && !http_is_json_type(r->content_type)) {
        http_not_json(e);
        goto done;
    }
    if (http_read_body(r, max, &body, e) != 0)
        goto done;
    if (body.len == 0 && empty_ok) {
        *out = json_object_new_object();
        rc = 0;
        goto done;
    }
    if (r->content_type == NULL) {
        http_not_json(e);
        goto done;
    }
    if (http_parse_json(&body, out, e) != 0)
        goto done;
    rc = 0;
    if (raw != NULL) {
        *raw = body;
        buf_init(&body, max);
    }
done:
    buf_free(&body);
    return rc;
}

const char *http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {413, "Payload Too Large"},
        {422, "Unprocessable Content"},
        {415, "Unsupported Media Type"},
        {429, "Too Many Requests"},
        {499, "Client Closed Request"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {507, "Insufficient Storage"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

/* Note the head of an answer in the request's copy, if it keeps one. */
static void http_copy_head(http_req *r, const char *headers, const char *ctype)
{
    http_copy *c = r->copy;
    if (c == NULL)
        return;
    int a = snprintf(c->headers, sizeof(c->headers), "%s", headers ? headers : "");
    int b = snprintf(c->ctype, sizeof(c->ctype), "%s", ctype);
    c->cut = a < 0 || (size_t)a >= sizeof(c->headers) || b < 0 || (size_t)b >= sizeof(c->ctype);
    c->length = 0;
    buf_reset(&c->body);
}

/* Append body bytes to a copy; past its bound only the length grows. */
static void http_copy_emit(void *arg, const char *s, size_t len)
{
    http_copy *c = arg;
    if (len == 0)
        return;
    if (c->body.len == c->length && buf_append(&c->body, s, len) != BUF_OK)
        buf_reset(&c->body); /* a copy is whole or nothing */
    c->length += len;
}

void http_send(http_req *r, int status, const char *headers, const char *ctype, const char *body,
               size_t len)
{
    /* libfcgi's own printf knows no %zu: format here, write raw bytes. */
    char head[256];
    int head_only = strcmp(r->method, "HEAD") == 0;
    int n;

    r->status = status;
    http_copy_head(r, headers, ctype);
    if (r->copy != NULL)
        http_copy_emit(r->copy, body, len);
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

size_t http_json_text(const char *p, size_t n, bool cut,
                      void (*emit)(void *arg, const char *s, size_t len), void *arg)
{
    static const char hex[] = "0123456789abcdef";
    size_t total = 2, i = 0, run = 0;
    if (emit)
        emit(arg, "\"", 1);
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        int len = c >= 0x20 && c != '"' && c != '\\' ? buf_utf8_seq(p + i, n - i) : 0;
        if (len > 0) {
            i += (size_t)len;
            run += (size_t)len;
            continue;
        }
        if (emit && run > 0)
            emit(arg, p + i - run, run);
        total += run;
        run = 0;
        char esc[8];
        size_t elen;
        if (c < 0x20 || c == '"' || c == '\\') {
            const char *short_form = c == '"'    ? "\\\""
                                     : c == '\\' ? "\\\\"
                                     : c == '\n' ? "\\n"
                                     : c == '\r' ? "\\r"
                                     : c == '\t' ? "\\t"
                                     : c == '\b' ? "\\b"
                                     : c == '\f' ? "\\f"
                                                 : NULL;
            if (short_form != NULL) {
                elen = 2;
                memcpy(esc, short_form, 2);
            } else {
                elen = 6;
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
            }
        } else if (len < 0 && cut) {
            break; /* a character cut at a size cap */
        } else {
            elen = 3;
            memcpy(esc, "\xEF\xBF\xBD", 3);
        }
        if (emit)
            emit(arg, esc, elen);
        total += elen;
        i++;
    }
    if (emit && run > 0)
        emit(arg, p + i - run, run);
    total += run;
    if (emit)
        emit(arg, "\"", 1);
    return total;
}

static void http_put(void *arg, const char *s, size_t len)
{
    FCGX_PutStr(s, (int)len, arg);
}

void http_send_parts(http_req *r, int status, const char *headers, const http_part *parts,
                     int count)
{
    char head[256];
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += parts[i].text ? http_json_text(parts[i].p, parts[i].n, parts[i].cut, NULL, NULL)
                               : parts[i].n;
    r->status = status;
    http_copy_head(r, headers, "application/json");
    http_copy *copy = r->copy;
    if (copy != NULL && total > copy->body.max) {
        /* Too large to keep: only its length is noted, nothing encoded. */
        copy->length = total;
        copy = NULL;
    }
    for (int i = 0; copy != NULL && i < count; i++) {
        if (parts[i].text)
            http_json_text(parts[i].p, parts[i].n, parts[i].cut, http_copy_emit, copy);
        else
            http_copy_emit(copy, parts[i].p, parts[i].n);
    }
    int n = snprintf(head, sizeof(head), "Status: %d %s\r\n", status, http_reason(status));
    FCGX_PutStr(head, n, r->fcgi->out);
    if (headers != NULL)
        FCGX_PutS(headers, r->fcgi->out);
    n = snprintf(head, sizeof(head),
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", total);
    FCGX_PutStr(head, n, r->fcgi->out);
    if (strcmp(r->method, "HEAD") == 0)
        return;
    for (int i = 0; i < count; i++) {
        if (parts[i].text)
            http_json_text(parts[i].p, parts[i].n, parts[i].cut, http_put, r->fcgi->out);
        else
            FCGX_PutStr(parts[i].p, (int)parts[i].n, r->fcgi->out);
    }
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
    buf_t safe;
    size_t len = strlen(msg);
    /* A message may quote what the client sent (a path, a key): whatever
     * bytes that was, the answer stays valid UTF-8, so valid JSON. */
    buf_init(&safe, len * 3 + 1);
    if (buf_append_utf8(&safe, msg, len, 0) == BUF_OK)
        msg = safe.data ? safe.data : "";
    json_object_object_add(o, "error", json_object_new_string(msg));
    json_object_object_add(o, "code", json_object_new_string(code));
    http_send_json(r, status, o, headers);
    json_object_put(o);
    buf_free(&safe);
}

void http_send_err(http_req *r, const err_t *e, const char *headers)
{
    http_send_error(r, err_status(e), err_code(e), e->msg, headers);
}
