#define ZLIB_CONST
#include "parse/tarscan.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define TS_BLOCK 512
/* Inflated bytes per zlib call: the most a count can pass the limit by. */
#define TS_CHUNK (16 * 1024)
/* The longest compression magic (xz). */
#define TS_SNIFF 6
/* Sizes are int64 for the engine: anything larger is not a tar it reads. */
#define TS_SIZE_MAX 0x7fffffffffffffffULL
/* gzip only (no zlib or raw deflate), with the largest window. */
#define TS_GZIP_BITS (16 + MAX_WBITS)
/* "No character": an empty name, or none given. */
#define TS_NONE (-1)

/* What the upload is, once its first bytes are known. */
enum { TS_LEAD = 0, TS_PLAIN, TS_GZIP };

/* Where the tar parser stands. */
enum {
    TS_HEADER = 0, /* collecting a 512-byte header */
    TS_CONTENT,    /* in a member's content */
    TS_PAD,        /* in the zeros that pad content to a block */
    TS_END         /* after the two zero blocks: only zeros may follow */
};

/* What a member's content is. */
enum {
    TS_DATA = 0, /* a file: counted */
    TS_PAX,      /* a pax header ('x') for the next member */
    TS_GLOBAL,   /* a global pax header ('g') */
    TS_LONGNAME, /* a GNU long name ('L') for the next member */
    TS_SKIP      /* a GNU long link name ('K'): read, not counted */
};

/* A file member's content, once its first bytes are known. */
enum { TS_SNIFFING = 0, TS_RAW, TS_INFLATE };

/* A gzip stream: inside a member, or after one ended (where only zero
 * padding or the next member may follow). */
enum { GZ_IN = 0, GZ_BETWEEN };

/* Where a pax record ("%d %s=%s\n") is being read. */
enum { PX_LEN = 0, PX_KEY, PX_VALUE };
/* The pax keys that change how the tar is read. */
enum { PK_OTHER = 0, PK_SIZE, PK_PATH };

typedef struct {
    z_stream z;
    int ready; /* inflateInit2 succeeded: inflateEnd is due */
    int state;
    unsigned char out[TS_CHUNK];
} ts_gz;

struct tarscan {
    unsigned long long max, unpacked;
    int failed;
    err_t err; /* the failure, repeated by every later call */

    int mode;
    unsigned char lead[TS_SNIFF]; /* the upload's first bytes */
    size_t lead_len;
    ts_gz outer; /* the upload's own gzip */
    ts_gz inner; /* a member's gzip */

    int st;
    unsigned long long pos; /* tar bytes read, for offsets in messages */
    unsigned char hdr[TS_BLOCK];
    size_t hdr_len;
    int zero_blocks;
    unsigned long long size, left; /* the member's content size, and what is left of it */
    size_t pad;
    int kind;
    char name[101]; /* the member's name field, printable, for messages */

    int content; /* TS_DATA: TS_SNIFFING, TS_RAW or TS_INFLATE */
    unsigned char sniff[TS_SNIFF];
    size_t sniff_len;

    /* The pax record being read. */
    int px_st;
    unsigned long long px_len, px_pos;
    char px_key[11]; /* enough to tell "size", "path" and "GNU.sparse." */
    size_t px_key_len;
    int px_kind;
    unsigned long long px_val;
    int px_empty, px_last;

    /* What the next member takes from the pax header and long name before
     * it: its size, and the last character of its name (which says
     * whether a typeflag-NUL member is a directory). */
    int pend_size_set;
    unsigned long long pend_size;
    int pend_path_last, long_last;
    int ln_nul, ln_last; /* the long name being read */
};

static const struct {
    const char *name;
    unsigned char magic[TS_SNIFF];
    size_t len;
} ts_magics[] = {
    {"bzip2", {'B', 'Z', 'h'}, 3},
    {"xz", {0xfd, '7', 'z', 'X', 'Z', 0x00}, 6},
    {"zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
};

/* Where inflated bytes go: the tar parser (the upload's own gzip) or the
 * count (a member's gzip). */
typedef int (*ts_sink)(tarscan_t *t, const unsigned char *p, size_t n, err_t *e);

static int ts_is_gzip(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* The compression other than gzip that `p` starts with, as the engine
 * detects it (zstd skippable frames included), or NULL. */
static const char *ts_other_compression(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < sizeof(ts_magics) / sizeof(ts_magics[0]); i++)
        if (n >= ts_magics[i].len && memcmp(p, ts_magics[i].magic, ts_magics[i].len) == 0)
            return ts_magics[i].name;
    if (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
        return "zstd";
    return NULL;
}

/* Add `n` unpacked bytes; past the limit, fail. */
static int ts_count(tarscan_t *t, unsigned long long n, err_t *e)
{
    if (n > t->max - t->unpacked) {
        t->unpacked = n > ULLONG_MAX - t->unpacked ? ULLONG_MAX : t->unpacked + n;
        return err_set(e, ERR_TOO_LARGE, "image_too_large", 0,
                       "the image unpacks to more than %llu bytes (at member \"%s\")", t->max,
                       t->name);
    }
    t->unpacked += n;
    return 0;
}

/* A member's inflated bytes are only counted. */
static int ts_count_sink(tarscan_t *t, const unsigned char *p, size_t n, err_t *e)
{
    (void)p;
    return ts_count(t, n, e);
}

/*
 * Inflate `n` bytes of the gzip stream `g` into `sink`. Concatenated gzip
 * members are one stream, as the engine reads them; zero bytes after a
 * member are padding. `name` is the member (NULL: the upload itself).
 */
static int ts_inflate(tarscan_t *t, ts_gz *g, const unsigned char *p, size_t n, ts_sink sink,
                      const char *name, err_t *e)
{
    z_stream *z = &g->z;
    while (n > 0) {
        /* zlib counts in uInt: a larger piece goes in parts. */
        size_t part = n < UINT_MAX ? n : UINT_MAX;
        z->next_in = p;
        z->avail_in = (uInt)part;
        for (;;) {
            if (g->state == GZ_BETWEEN) {
                while (z->avail_in > 0 && *z->next_in == 0) {
                    z->next_in++;
                    z->avail_in--;
                }
                if (z->avail_in == 0)
                    break;
                if (inflateReset(z) != Z_OK)
                    return err_set(e, ERR_INTERNAL, NULL, 0, "inflateReset failed");
                g->state = GZ_IN;
            }
            z->next_out = g->out;
            z->avail_out = sizeof(g->out);
            int rc = inflate(z, Z_NO_FLUSH);
            size_t made = sizeof(g->out) - z->avail_out;
            if (made > 0 && sink(t, g->out, made, e) != 0)
                return -1;
            if (rc == Z_STREAM_END) {
                g->state = GZ_BETWEEN;
                continue;
            }
            if (rc == Z_MEM_ERROR)
                return err_set(e, ERR_NOMEM, NULL, 0, "inflate: out of memory");
            /* Z_BUF_ERROR is no progress: fine once all input is in. */
            if (rc != Z_OK && !(rc == Z_BUF_ERROR && z->avail_in == 0)) {
                const char *why = z->msg != NULL ? z->msg : "unknown error";
                if (name == NULL)
                    return err_set(e, ERR_INVALID, "invalid_image", 0,
                                   "the upload's gzip stream is corrupt: %s", why);
                return err_set(e, ERR_INVALID, "invalid_image", 0,
                               "member \"%s\": its gzip stream is corrupt: %s", name, why);
            }
            /* Output left room: zlib holds nothing back. */
            if (z->avail_in == 0 && z->avail_out != 0)
                break;
        }
        p += part;
        n -= part;
    }
    return 0;
}

/*
 * A header's numeric field as the engine reads it: with `b256`,
 * base-256 when the first byte's top bit is set; else octal digits between
 * leading and trailing spaces or NULs, cut at the first NUL. Returns 0, or
 * -1 for a malformed, negative or too large value.
 */
static int ts_number(const unsigned char *f, size_t len, int b256, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t a = 0, b = len;

    if (b256 && (f[0] & 0x80) != 0) {
        if ((f[0] & 0x40) != 0)
            return -1; /* negative */
        for (size_t i = 0; i < len; i++) {
            if ((v >> 55) != 0)
                return -1;
            v = v << 8 | (i == 0 ? (f[0] & 0x7fu) : f[i]);
        }
        *out = v;
        return 0;
    }
    while (a < b && (f[a] == ' ' || f[a] == '\0'))
        a++;
    while (b > a && (f[b - 1] == ' ' || f[b - 1] == '\0'))
        b--;
    for (size_t i = a; i < b && f[i] != '\0'; i++) {
        if (f[i] < '0' || f[i] > '7' || (v >> 60) != 0)
            return -1;
        v = v * 8 + (unsigned)(f[i] - '0');
    }
    *out = v;
    return 0;
}

/* The header's checksum field matches its bytes, summed unsigned or (as
 * some old tars did) signed, with the field itself read as spaces. */
static int ts_checksum_ok(const unsigned char *h)
{
    unsigned long long want;
    long usum = 0, ssum = 0;
    if (ts_number(h + 148, 8, 0, &want) != 0)
        return 0;
    for (size_t i = 0; i < TS_BLOCK; i++) {
        unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    return want == (unsigned long long)usum || (long long)want == (long long)ssum;
}

/* The next member's content; the parser returns to headers after it. */
static int ts_member_end(tarscan_t *t, err_t *e)
{
    switch (t->kind) {
    case TS_DATA:
        if (t->content == TS_INFLATE && t->inner.state == GZ_IN)
            return err_set(e, ERR_INVALID, "invalid_image", 0,
                           "member \"%s\": its gzip stream is cut off", t->name);
        break;
    case TS_PAX:
    case TS_GLOBAL:
        if (t->px_st != PX_LEN || t->px_pos != 0)
            return err_set(e, ERR_INVALID, "invalid_image", 0,
                           "the pax header \"%s\" ends inside a record", t->name);
        break;
    case TS_LONGNAME:
        t->long_last = t->ln_last;
        break;
    default:
        break;
    }
    t->st = t->pad > 0 ? TS_PAD : TS_HEADER;
    return 0;
}

/* The first bytes of a file member are in: count it whole, or inflate
 * it, or refuse it. */
static int ts_classify(tarscan_t *t, err_t *e)
{
    const char *algo = ts_other_compression(t->sniff, t->sniff_len);
    if (algo != NULL)
        return err_set(e, ERR_INVALID, "unsupported_compression", 0,
                       "member \"%s\" is compressed with %s, which is not accepted: use gzip or "
                       "none",
                       t->name, algo);
    if (!ts_is_gzip(t->sniff, t->sniff_len)) {
        t->content = TS_RAW;
        return ts_count(t, t->size, e);
    }
    t->content = TS_INFLATE;
    t->inner.state = GZ_BETWEEN; /* the stream starts at the next non-zero byte */
    return ts_inflate(t, &t->inner, t->sniff, t->sniff_len, ts_count_sink, t->name, e);
}

/* The key of a pax record is complete (px_key holds its first bytes). */
static int ts_pax_key(tarscan_t *t, err_t *e)
{
    size_t kl = t->px_key_len;
    t->px_kind = PK_OTHER;
    if (kl >= 11 && memcmp(t->px_key, "GNU.sparse.", 11) == 0)
        return err_set(e, ERR_INVALID, "invalid_image", 0,
                       "the pax header \"%s\" describes a sparse file, which is not accepted",
                       t->name);
    if (kl == 4 && memcmp(t->px_key, "size", 4) == 0) {
        /* The engine's reader ignores a global size; others apply it. */
        if (t->kind == TS_GLOBAL)
            return err_set(e, ERR_INVALID, "invalid_image", 0,
                           "the global pax header \"%s\" sets a size, which tar readers "
                           "disagree about",
                           t->name);
        t->px_kind = PK_SIZE;
    } else if (kl == 4 && memcmp(t->px_key, "path", 4) == 0 && t->kind == TS_PAX) {
        t->px_kind = PK_PATH;
    }
    t->px_val = 0;
    t->px_empty = 1;
    return 0;
}

/* A pax record ended. Later records win; an empty value means "the
 * header's own" (as the engine's reader does). */
static void ts_pax_record(tarscan_t *t)
{
    if (t->px_kind == PK_SIZE) {
        t->pend_size_set = !t->px_empty;
        t->pend_size = t->px_val;
    } else if (t->px_kind == PK_PATH) {
        t->pend_path_last = t->px_empty ? TS_NONE : t->px_last;
    }
    t->px_st = PX_LEN;
    t->px_len = t->px_pos = 0;
    t->px_key_len = 0;
}

/* One byte of a pax header's content ("%d %s=%s\n" records, the length
 * counting the whole record). */
static int ts_pax_byte(tarscan_t *t, unsigned char c, err_t *e)
{
    t->px_pos++;
    switch (t->px_st) {
    case PX_LEN:
        if (c >= '0' && c <= '9') {
            t->px_len = t->px_len * 10 + (unsigned)(c - '0');
            if (t->px_len <= TARSCAN_META_MAX)
                return 0;
        } else if (c == ' ' && t->px_pos > 1 && t->px_len >= t->px_pos + 3) {
            /* Room is left for a key, '=' and the final newline. */
            t->px_st = PX_KEY;
            return 0;
        }
        break;
    case PX_KEY:
        if (t->px_pos == t->px_len)
            break; /* the record ends without '=' */
        if (c != '=') {
            if (t->px_key_len < sizeof(t->px_key))
                t->px_key[t->px_key_len] = (char)c;
            t->px_key_len++;
            return 0;
        }
        if (t->px_key_len == 0)
            break;
        t->px_st = PX_VALUE;
        return ts_pax_key(t, e);
    default: /* PX_VALUE */
        if (t->px_pos == t->px_len) {
            if (c != '\n')
                break;
            ts_pax_record(t);
            return 0;
        }
        t->px_empty = 0;
        t->px_last = c;
        if (t->px_kind != PK_SIZE)
            return 0;
        if (c >= '0' && c <= '9' && t->px_val <= (TS_SIZE_MAX - (unsigned)(c - '0')) / 10) {
            t->px_val = t->px_val * 10 + (unsigned)(c - '0');
            return 0;
        }
        return err_set(e, ERR_INVALID, "invalid_image", 0,
                       "the pax header \"%s\" has a bad size record", t->name);
    }
    return err_set(e, ERR_INVALID, "invalid_image", 0,
                   "the pax header \"%s\" has a malformed record", t->name);
}

/* `n` bytes of the current member's content. */
static int ts_content(tarscan_t *t, const unsigned char *p, size_t n, err_t *e)
{
    switch (t->kind) {
    case TS_DATA:
        if (t->content == TS_SNIFFING) {
            size_t want = t->size < TS_SNIFF ? (size_t)t->size : TS_SNIFF;
            size_t take = want - t->sniff_len < n ? want - t->sniff_len : n;
            memcpy(t->sniff + t->sniff_len, p, take);
            t->sniff_len += take;
            p += take;
            n -= take;
            if (t->sniff_len == want && ts_classify(t, e) != 0)
                return -1;
        }
        if (t->content == TS_INFLATE && n > 0)
            return ts_inflate(t, &t->inner, p, n, ts_count_sink, t->name, e);
        return 0;
    case TS_PAX:
    case TS_GLOBAL:
        for (size_t i = 0; i < n; i++)
            if (ts_pax_byte(t, p[i], e) != 0)
                return -1;
        return 0;
    case TS_LONGNAME:
        /* The name is cut at its first NUL. */
        for (size_t i = 0; i < n && !t->ln_nul; i++) {
            if (p[i] == '\0')
                t->ln_nul = 1;
            else
                t->ln_last = p[i];
        }
        return 0;
    default:
        return 0;
    }
}

/* The last character of the header's own name, TS_NONE when empty. */
static int ts_header_name_last(const unsigned char *h)
{
    size_t len = strnlen((const char *)h, 100);
    return len > 0 ? h[len - 1] : TS_NONE;
}

/* A file member's header: settle its size and name from what came
 * before it (the engine's reader gives the long name precedence over the
 * pax path, and the pax path over the header's own name). */
static int ts_file_header(tarscan_t *t, unsigned char type, unsigned long long raw, err_t *e)
{
    int last = t->long_last != TS_NONE        ? t->long_last
               : t->pend_path_last != TS_NONE ? t->pend_path_last
                                              : ts_header_name_last(t->hdr);
    t->size = t->pend_size_set ? t->pend_size : raw;
    t->kind = TS_DATA;
    t->content = TS_SNIFFING;
    t->sniff_len = 0;
    /* The engine reads a typeflag-NUL member named "x/" as a directory,
     * with no content; with no name, the prefix field (one more rule to
     * copy) decides. Only a size would make the two readings differ. */
    if (type == '\0' && t->size > 0 && (last == '/' || last == TS_NONE))
        return err_set(e, ERR_INVALID, "invalid_image", 0,
                       "member \"%s\" is an old-style file named like a directory, with content",
                       t->name);
    return 0;
}

/* A complete 512-byte header (or zero block). */
static int ts_header(tarscan_t *t, err_t *e)
{
    const unsigned char *h = t->hdr;
    unsigned long long at = t->pos - TS_BLOCK, raw;
    unsigned char type = h[156];
    size_t i;

    for (i = 0; i < TS_BLOCK && h[i] == 0; i++)
        ;
    if (i == TS_BLOCK) {
        if (++t->zero_blocks == 2)
            t->st = TS_END;
        return 0;
    }
    if (t->zero_blocks > 0)
        return err_set(e, ERR_INVALID, "invalid_image", 0,
                       "a zero block is followed by a header at byte %llu", at);
    for (i = 0; i < 100 && h[i] != '\0'; i++)
        t->name[i] = h[i] >= 0x20 && h[i] < 0x7f ? (char)h[i] : '?';
    t->name[i] = '\0';
    if (!ts_checksum_ok(h))
        return err_set(e, ERR_INVALID, "invalid_image", 0,
                       "the tar header at byte %llu has a bad checksum: not a tar archive", at);
    if (ts_number(h + 124, 12, 1, &raw) != 0 || raw > TS_SIZE_MAX)
        return err_set(e, ERR_INVALID, "invalid_image", 0, "member \"%s\" has a bad size field",
                       t->name);

    t->size = raw;
    switch (type) {
    case 'x':
    case 'g':
    case 'L':
    case 'K':
        if (raw > TARSCAN_META_MAX)
            return err_set(e, ERR_INVALID, "invalid_image", 0,
                           "the metadata member \"%s\" is larger than %d bytes", t->name,
                           TARSCAN_META_MAX);
        if (type == 'x') {
            /* A pax header replaces the one before it, whole. */
            t->kind = TS_PAX;
            t->pend_size_set = 0;
            t->pend_path_last = TS_NONE;
        } else if (type == 'g') {
            /* The engine's reader hands a global header over as an entry,
             * dropping what was pending for the next member. */
            t->kind = TS_GLOBAL;
            t->pend_size_set = 0;
            t->pend_path_last = t->long_last = TS_NONE;
        } else if (type == 'L') {
            t->kind = TS_LONGNAME;
            t->ln_nul = 0;
            t->ln_last = TS_NONE;
        } else {
            t->kind = TS_SKIP;
        }
        t->px_st = PX_LEN;
        t->px_len = t->px_pos = 0;
        t->px_key_len = 0;
        break;
    case 'S':
        return err_set(e, ERR_INVALID, "invalid_image", 0,
                       "member \"%s\" is a sparse file, which is not accepted", t->name);
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
        /* Links, devices, directories, FIFOs: no content, whatever the
         * size field says. */
        t->kind = TS_SKIP;
        t->size = 0;
        t->pend_size_set = 0;
        t->pend_path_last = t->long_last = TS_NONE;
        break;
    default:
        if (ts_file_header(t, type, raw, e) != 0)
            return -1;
        t->pend_size_set = 0;
        t->pend_path_last = t->long_last = TS_NONE;
        break;
    }
    t->left = t->size;
    t->pad = (size_t)((TS_BLOCK - t->size % TS_BLOCK) % TS_BLOCK);
    t->st = TS_CONTENT;
    if (t->left == 0)
        return ts_member_end(t, e);
    return 0;
}

/* The tar stream (the upload, or what its gzip inflates to). */
static int ts_tar(tarscan_t *t, const unsigned char *p, size_t n, err_t *e)
{
    while (n > 0) {
        size_t take;
        switch (t->st) {
        case TS_HEADER:
            take = TS_BLOCK - t->hdr_len < n ? TS_BLOCK - t->hdr_len : n;
            memcpy(t->hdr + t->hdr_len, p, take);
            t->hdr_len += take;
            t->pos += take;
            if (t->hdr_len == TS_BLOCK) {
                t->hdr_len = 0;
                if (ts_header(t, e) != 0)
                    return -1;
            }
            break;
        case TS_CONTENT:
            take = t->left < n ? (size_t)t->left : n;
            t->pos += take;
            if (ts_content(t, p, take, e) != 0)
                return -1;
            t->left -= take;
            if (t->left == 0 && ts_member_end(t, e) != 0)
                return -1;
            break;
        case TS_PAD:
            take = t->pad < n ? t->pad : n;
            t->pos += take;
            t->pad -= take;
            if (t->pad == 0)
                t->st = TS_HEADER;
            break;
        default: /* TS_END */
            for (take = 0; take < n; take++)
                if (p[take] != 0)
                    return err_set(e, ERR_INVALID, "invalid_image", 0,
                                   "data follows the end of the archive at byte %llu",
                                   t->pos + take);
            t->pos += take;
            break;
        }
        p += take;
        n -= take;
    }
    return 0;
}

/* The upload's first bytes are in (all of them, at its end): pick how to
 * read it. */
static int ts_lead(tarscan_t *t, err_t *e)
{
    const char *algo = ts_other_compression(t->lead, t->lead_len);
    if (algo != NULL)
        return err_set(e, ERR_INVALID, "unsupported_compression", 0,
                       "the upload is compressed with %s, which is not accepted: use gzip or none",
                       algo);
    if (ts_is_gzip(t->lead, t->lead_len)) {
        t->mode = TS_GZIP;
        t->outer.state = GZ_IN;
        return ts_inflate(t, &t->outer, t->lead, t->lead_len, ts_tar, NULL, e);
    }
    t->mode = TS_PLAIN;
    return ts_tar(t, t->lead, t->lead_len, e);
}

/* Remember a failure so that later calls repeat it. */
static int ts_fail(tarscan_t *t, err_t *e)
{
    t->failed = 1;
    t->err = *e;
    return -1;
}

tarscan_t *tarscan_new(unsigned long long max_unpacked)
{
    tarscan_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->max = max_unpacked;
    t->pend_path_last = t->long_last = TS_NONE;
    if (inflateInit2(&t->outer.z, TS_GZIP_BITS) != Z_OK)
        goto fail;
    t->outer.ready = 1;
    if (inflateInit2(&t->inner.z, TS_GZIP_BITS) != Z_OK)
        goto fail;
    t->inner.ready = 1;
    return t;
fail:
    tarscan_free(t);
    return NULL;
}

int tarscan_feed(tarscan_t *t, const void *p, size_t n, err_t *e)
{
    const unsigned char *s = p;
    int rc = 0;

    if (t->failed) {
        *e = t->err;
        return -1;
    }
    if (t->mode == TS_LEAD) {
        size_t take = TS_SNIFF - t->lead_len < n ? TS_SNIFF - t->lead_len : n;
        memcpy(t->lead + t->lead_len, s, take);
        t->lead_len += take;
        s += take;
        n -= take;
        if (t->lead_len == TS_SNIFF)
            rc = ts_lead(t, e);
    }
    if (rc == 0 && n > 0)
        rc = t->mode == TS_GZIP ? ts_inflate(t, &t->outer, s, n, ts_tar, NULL, e)
                                : ts_tar(t, s, n, e);
    return rc == 0 ? 0 : ts_fail(t, e);
}

int tarscan_finish(tarscan_t *t, err_t *e)
{
    if (t->failed) {
        *e = t->err;
        return -1;
    }
    if (t->mode == TS_LEAD && t->lead_len > 0 && ts_lead(t, e) != 0)
        return ts_fail(t, e);
    if (t->mode == TS_GZIP && t->outer.state == GZ_IN)
        err_set(e, ERR_INVALID, "invalid_image", 0, "the upload ends inside its gzip stream");
    else if (t->st == TS_HEADER && t->hdr_len > 0)
        err_set(e, ERR_INVALID, "invalid_image", 0,
                "the archive ends inside the header at byte %llu", t->pos - t->hdr_len);
    else if (t->st == TS_CONTENT || t->st == TS_PAD)
        err_set(e, ERR_INVALID, "invalid_image", 0, "the archive ends inside member \"%s\"",
                t->name);
    else
        return 0;
    return ts_fail(t, e);
}

unsigned long long tarscan_unpacked(const tarscan_t *t)
{
    return t->unpacked;
}

void tarscan_free(tarscan_t *t)
{
    if (t == NULL)
        return;
    if (t->outer.ready)
        inflateEnd(&t->outer.z);
    if (t->inner.ready)
        inflateEnd(&t->inner.z);
    free(t);
}
