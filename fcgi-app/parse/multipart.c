#include "parse/multipart.h"

#include <string.h>
#include <strings.h>

enum {
    MP_PREAMBLE = 0, /* before the first delimiter: discarded */
    MP_DELIM,        /* just after "--boundary" */
    MP_DELIM_PAD,    /* in spaces/tabs after the boundary */
    MP_DELIM_CR,     /* after the CR that ends a delimiter line */
    MP_DELIM_DASH,   /* after "--boundary-" */
    MP_HEADERS,      /* in a part's header block */
    MP_DATA,         /* in a part's content */
    MP_EPILOGUE      /* after "--boundary--": discarded */
};

/* Stop with `rc` unless an error is already recorded. */
static void mp_fail(multipart_parser *p, multipart_rc rc)
{
    if (p->err == MULTIPART_OK)
        p->err = rc;
}

/* Hand content to the caller; preamble bytes are dropped. */
static void mp_emit(multipart_parser *p, const char *s, size_t n)
{
    if (n == 0 || p->state != MP_DATA || p->err != MULTIPART_OK)
        return;
    if (p->cb->part_data != NULL && p->cb->part_data(p->arg, s, n) != 0)
        mp_fail(p, MULTIPART_ERR_ABORTED);
}

/* RFC 2046 bchars (a space is allowed, but not last). */
static int mp_bchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static int mp_valid_boundary(const char *b, size_t len)
{
    if (len == 0 || len > MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!mp_bchar((unsigned char)b[i]))
            return 0;
    return 1;
}

int multipart_init(multipart_parser *p, const char *boundary, const multipart_callbacks *cb,
                   void *arg)
{
    static const multipart_callbacks none = {NULL, NULL, NULL};
    size_t blen = boundary != NULL ? strlen(boundary) : 0;

    memset(p, 0, sizeof(*p));
    p->cb = cb != NULL ? cb : &none;
    p->arg = arg;
    p->name_off = p->filename_off = -1;
    if (!mp_valid_boundary(boundary, blen)) {
        p->err = MULTIPART_ERR_BOUNDARY;
        return -1;
    }
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->delim_len = 4 + blen;
    /* The first delimiter may open the body with no CRLF before it: start
     * as if a line break had just been read. */
    p->match = 2;
    p->state = MP_PREAMBLE;
    return 0;
}

/*
 * Scan preamble or content for the delimiter, emitting the bytes that are
 * not part of it. Bytes that may start a delimiter are held back (they are
 * a prefix of `delim`, so they need no storage) until a mismatch releases
 * them. Returns how many bytes of `s` were consumed: all of them, or up to
 * the end of a complete delimiter (the state is then MP_DELIM).
 *
 * `hold` is where the held bytes begin relative to `s`; it is negative
 * while some of them were held back by an earlier feed. Always
 * hold + k == i. The bytes of `s` before `hold` are content not yet
 * emitted, sent in one piece when the scan stops (an earlier feed's held
 * bytes, when released, go first: they precede all of `s`).
 */
static size_t mp_scan(multipart_parser *p, const char *s, size_t n)
{
    const char *d = p->delim;
    size_t k = p->match, i = 0;
    ptrdiff_t hold = -(ptrdiff_t)k;

    while (i < n) {
        if (k == 0) {
            /* Nothing held: jump to the next CR, the delimiter's first byte. */
            const char *cr = memchr(s + i, '\r', n - i);
            if (cr == NULL) {
                i = n;
                hold = (ptrdiff_t)n;
                break;
            }
            i = (size_t)(cr - s);
            hold = (ptrdiff_t)i;
        }
        if (s[i] == d[k]) {
            k++;
            i++;
            if (k == p->delim_len) {
                if (hold > 0)
                    mp_emit(p, s, (size_t)hold);
                p->match = 0;
                p->state = MP_DELIM;
                return i;
            }
            continue;
        }
        /* Mismatch: the held bytes are content after all. The delimiter
         * starts with CRLF and a boundary has no CR or LF, so no suffix of
         * them can begin a delimiter: release them all, and retry this
         * byte (it may be a CR) from the start. */
        if (hold < 0)
            mp_emit(p, d, (size_t)-hold); /* held by an earlier feed: not in `s` */
        hold = (ptrdiff_t)i;
        k = 0;
    }
    if (hold > 0)
        mp_emit(p, s, (size_t)hold);
    p->match = k;
    return n;
}

/* Parse a Content-Disposition value in place (quoted values are unescaped
 * where they stand); record the offsets of name and filename in hdr. */
static int mp_disposition(multipart_parser *p, size_t off, size_t end)
{
    char *h = p->hdr;
    size_t i = off;

    /* Skip the disposition type ("form-data"). */
    while (i < end && h[i] != ';')
        i++;
    while (i < end) {
        while (i < end && (h[i] == ';' || h[i] == ' ' || h[i] == '\t'))
            i++;
        size_t an = i;
        while (i < end && h[i] != '=' && h[i] != ';' && h[i] != ' ' && h[i] != '\t')
            i++;
        size_t alen = i - an;
        while (i < end && (h[i] == ' ' || h[i] == '\t'))
            i++;
        if (i >= end || h[i] != '=')
            continue; /* a parameter without a value: ignore it */
        i++;
        while (i < end && (h[i] == ' ' || h[i] == '\t'))
            i++;
        size_t val = i, w = i;
        if (i < end && h[i] == '"') {
            i++;
            for (;;) {
                if (i >= end)
                    return -1;
                if (h[i] == '"')
                    break;
                if (h[i] == '\\' && i + 1 < end)
                    i++;
                h[w++] = h[i++];
            }
            i++;         /* the closing quote */
            h[w] = '\0'; /* w < i: only bytes already read are overwritten */
        } else {
            while (i < end && h[i] != ';' && h[i] != ' ' && h[i] != '\t')
                i++;
            /* The separator becomes the terminator (h[end] already is). */
            h[i] = '\0';
            if (i < end)
                i++;
        }
        if (alen == 4 && strncasecmp(h + an, "name", 4) == 0)
            p->name_off = (long)val;
        else if (alen == 8 && strncasecmp(h + an, "filename", 8) == 0)
            p->filename_off = (long)val;
    }
    return 0;
}

/* One complete header line hdr[off..end) (line ending removed). */
static int mp_header_line(multipart_parser *p, size_t off, size_t end)
{
    char *h = p->hdr;
    static const char cd[] = "content-disposition";
    if (h[off] == ' ' || h[off] == '\t')
        return -1; /* obsolete line folding */
    char *colon = memchr(h + off, ':', end - off);
    if (colon == NULL)
        return -1;
    size_t nlen = (size_t)(colon - (h + off));
    while (nlen > 0 && (h[off + nlen - 1] == ' ' || h[off + nlen - 1] == '\t'))
        nlen--;
    if (nlen != sizeof(cd) - 1 || strncasecmp(h + off, cd, nlen) != 0)
        return 0;
    p->name_off = p->filename_off = -1;
    return mp_disposition(p, (size_t)(colon - h) + 1, end);
}

/* The header block ended: report the part and move to its content. */
static void mp_part_begin(multipart_parser *p)
{
    const char *name = p->name_off >= 0 ? p->hdr + p->name_off : "";
    const char *filename = p->filename_off >= 0 ? p->hdr + p->filename_off : NULL;
    p->state = MP_DATA;
    p->match = 0;
    p->in_part = 1;
    if (p->cb->part_begin != NULL && p->cb->part_begin(p->arg, name, filename) != 0)
        mp_fail(p, MULTIPART_ERR_ABORTED);
}

/* Collect header lines; returns the bytes consumed. */
static size_t mp_headers(multipart_parser *p, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && p->err == MULTIPART_OK && p->state == MP_HEADERS) {
        const char *lf = memchr(s + i, '\n', n - i);
        size_t take = lf != NULL ? (size_t)(lf - (s + i)) + 1 : n - i;
        if (take > MULTIPART_HEADERS_MAX - p->hdr_len) {
            mp_fail(p, MULTIPART_ERR_HEADERS_TOO_LARGE);
            break;
        }
        memcpy(p->hdr + p->hdr_len, s + i, take);
        p->hdr_len += take;
        i += take;
        if (lf == NULL)
            break;
        size_t start = p->line_start, end = p->hdr_len - 1; /* drop the LF */
        if (end > start && p->hdr[end - 1] == '\r')
            end--;
        p->line_start = p->hdr_len;
        if (end == start) {
            mp_part_begin(p);
        } else {
            p->hdr[end] = '\0'; /* the line's CR or LF: no longer needed */
            if (mp_header_line(p, start, end) != 0)
                mp_fail(p, MULTIPART_ERR_HEADER);
        }
    }
    return i;
}

/* A delimiter line is complete: end the current part, if any. */
static void mp_part_end(multipart_parser *p)
{
    if (!p->in_part)
        return;
    p->in_part = 0;
    if (p->cb->part_end != NULL && p->cb->part_end(p->arg) != 0)
        mp_fail(p, MULTIPART_ERR_ABORTED);
}

multipart_rc multipart_feed(multipart_parser *p, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && p->err == MULTIPART_OK) {
        char c;
        switch (p->state) {
        case MP_PREAMBLE:
        case MP_DATA:
            i += mp_scan(p, s + i, n - i);
            break;
        case MP_HEADERS:
            i += mp_headers(p, s + i, n - i);
            break;
        case MP_EPILOGUE:
            i = n;
            break;
        case MP_DELIM:
        case MP_DELIM_PAD:
            c = s[i++];
            if (c == ' ' || c == '\t')
                p->state = MP_DELIM_PAD;
            else if (c == '\r')
                p->state = MP_DELIM_CR;
            else if (c == '-' && p->state == MP_DELIM)
                p->state = MP_DELIM_DASH;
            else
                mp_fail(p, MULTIPART_ERR_BOUNDARY);
            break;
        case MP_DELIM_DASH:
            if (s[i++] != '-') {
                mp_fail(p, MULTIPART_ERR_BOUNDARY);
                break;
            }
            p->state = MP_EPILOGUE;
            mp_part_end(p);
            break;
        default: /* MP_DELIM_CR */
            if (s[i++] != '\n') {
                mp_fail(p, MULTIPART_ERR_BOUNDARY);
                break;
            }
            mp_part_end(p);
            p->state = MP_HEADERS;
            p->hdr_len = p->line_start = 0;
            p->name_off = p->filename_off = -1;
            break;
        }
    }
    return p->err;
}

multipart_rc multipart_finish(multipart_parser *p)
{
    if (p->err != MULTIPART_OK)
        return p->err;
    switch (p->state) {
    case MP_EPILOGUE:
        return MULTIPART_OK;
    case MP_PREAMBLE:
        p->err = MULTIPART_ERR_NO_DELIMITER;
        break;
    case MP_HEADERS:
        /* Nothing after the delimiter line: only the closing "--" is
         * missing. Part of a header block: the part is cut off. */
        p->err = p->hdr_len == 0 ? MULTIPART_ERR_NO_CLOSE : MULTIPART_ERR_TRUNCATED;
        break;
    case MP_DATA:
        p->err = MULTIPART_ERR_TRUNCATED;
        break;
    default: /* inside a delimiter line */
        p->err = MULTIPART_ERR_NO_CLOSE;
        break;
    }
    return p->err;
}

const char *multipart_strerror(multipart_rc rc)
{
    switch (rc) {
    case MULTIPART_OK:
        return "no error";
    case MULTIPART_ERR_BOUNDARY:
        return "a boundary line has unexpected text after the boundary";
    case MULTIPART_ERR_HEADER:
        return "a part has a malformed header line";
    case MULTIPART_ERR_HEADERS_TOO_LARGE:
        return "a part's headers are too large";
    case MULTIPART_ERR_NO_DELIMITER:
        return "the body never contains the boundary";
    case MULTIPART_ERR_TRUNCATED:
        return "the body ends inside a part";
    case MULTIPART_ERR_NO_CLOSE:
        return "the body ends without the closing boundary";
    case MULTIPART_ERR_ABORTED:
        return "parsing was stopped";
    }
    return "unknown error";
}

int multipart_boundary(const char *content_type, char *out, size_t outlen)
{
    const char *s = content_type != NULL ? strchr(content_type, ';') : NULL;
    size_t o = 0;
    int found = 0;

    if (outlen == 0)
        return -1;
    out[0] = '\0';
    while (s != NULL && *s != '\0' && !found) {
        while (*s == ';' || *s == ' ' || *s == '\t')
            s++;
        const char *an = s;
        while (*s != '\0' && *s != '=' && *s != ';' && *s != ' ' && *s != '\t')
            s++;
        size_t alen = (size_t)(s - an);
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != '=')
            continue;
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        found = alen == 8 && strncasecmp(an, "boundary", 8) == 0;
        /* Read the value (into `out` only for the boundary) so that a
         * quoted ';' of another parameter is skipped correctly. */
        o = 0;
        if (*s == '"') {
            for (s++; *s != '"'; s++) {
                if (*s == '\0')
                    return -1;
                if (*s == '\\' && s[1] != '\0')
                    s++;
                if (found && o + 1 >= outlen)
                    return -1;
                if (found)
                    out[o++] = *s;
            }
            s++;
        } else {
            for (; *s != '\0' && *s != ';' && *s != ' ' && *s != '\t'; s++) {
                if (found && o + 1 >= outlen)
                    return -1;
                if (found)
                    out[o++] = *s;
            }
        }
    }
    if (!found)
        return -1;
    out[o] = '\0';
    return mp_valid_boundary(out, o) ? 0 : -1;
}
