/*
 * multipart: an incremental multipart/form-data parser (RFC 7578 over
 * RFC 2046) for bodies too large to hold: the caller feeds chunks of any
 * size as they arrive, and the parser reports each part's start (its form
 * field name and filename), its content in pieces, and its end through
 * callbacks. Memory is fixed: one parser holds the delimiter and one part's
 * header block (at most MULTIPART_HEADERS_MAX bytes) and nothing else, so
 * the content of a part of any size streams through without being copied
 * into the parser.
 *
 * Grammar accepted: an optional preamble; parts, each introduced by a
 * delimiter line "--boundary" (optionally followed by spaces or tabs) ended
 * by CRLF, then header lines ended by CRLF (a bare LF is tolerated), an
 * empty line, and the content; the CRLF before the next delimiter belongs
 * to the delimiter, not to the content; the closing delimiter
 * "--boundary--"; and an optional epilogue, which is ignored.
 *
 * A parser is not thread-safe; give each request its own. It allocates
 * nothing, so there is nothing to free.
 */
#ifndef MINILAMBDA_MULTIPART_H
#define MINILAMBDA_MULTIPART_H

#include <stddef.h>

/* RFC 2046: a boundary has 1 to 70 characters. */
#define MULTIPART_BOUNDARY_MAX 70
/* The largest header block of one part (every header line with its line
 * ending, and the empty line that ends the block). */
#define MULTIPART_HEADERS_MAX 8192
/* "\r\n--" and the boundary. */
#define MULTIPART_DELIM_MAX (4 + MULTIPART_BOUNDARY_MAX)

typedef enum {
    MULTIPART_OK = 0,
    MULTIPART_ERR_BOUNDARY,          /* a delimiter line with other text after the
                                        boundary (neither "--" nor CRLF), or an
                                        invalid boundary given to multipart_init */
    MULTIPART_ERR_HEADER,            /* a part header line without a colon, a folded
                                        line, or an unterminated quoted string */
    MULTIPART_ERR_HEADERS_TOO_LARGE, /* a part's header block passed
                                        MULTIPART_HEADERS_MAX */
    MULTIPART_ERR_NO_DELIMITER,      /* the input ended and no line of it was the
                                        delimiter: a wrong boundary */
    MULTIPART_ERR_TRUNCATED,         /* the input ended inside a part's headers or
                                        content */
    MULTIPART_ERR_NO_CLOSE,          /* the input ended after a delimiter line but
                                        without the closing "--boundary--" */
    MULTIPART_ERR_ABORTED            /* a callback returned non-zero */
} multipart_rc;

/*
 * What the parser reports. Any member may be NULL. A callback returns 0 to
 * go on, or non-zero to stop the parser (it then answers
 * MULTIPART_ERR_ABORTED from this feed on).
 */
typedef struct {
    /* A part's headers are complete. `name` is the Content-Disposition
     * name ("" when the part has none), `filename` its filename or NULL
     * when absent. Both are unquoted and NUL-terminated, and valid only
     * during the call. */
    int (*part_begin)(void *arg, const char *name, const char *filename);
    /* `n` (> 0) bytes of the current part's content. Valid only during the
     * call; one part's content usually arrives in several calls. */
    int (*part_data)(void *arg, const char *p, size_t n);
    /* The current part's content ended at a well-formed delimiter. */
    int (*part_end)(void *arg);
} multipart_callbacks;

/* Parser state; the members are private to multipart.c. */
typedef struct {
    const multipart_callbacks *cb; /* borrowed */
    void *arg;                     /* borrowed, passed to every callback */
    char delim[MULTIPART_DELIM_MAX];
    size_t delim_len;
    int state;
    size_t match; /* bytes of delim matched and held back so far */
    int in_part;  /* part_begin was called, part_end is due */
    char hdr[MULTIPART_HEADERS_MAX + 1];
    size_t hdr_len;    /* bytes of the current header block */
    size_t line_start; /* offset in hdr of the line being collected */
    long name_off;     /* offset in hdr of the name value, or -1 */
    long filename_off; /* offset in hdr of the filename value, or -1 */
    multipart_rc err;  /* sticky once set */
} multipart_parser;

/*
 * Prepare `p` for one body whose boundary is `boundary` (as returned by
 * multipart_boundary: without the leading "--"). `cb` (NULL: no callbacks)
 * and `arg` are borrowed and must outlive the parser. Returns 0, or -1 when
 * the boundary is not valid by RFC 2046 (empty, longer than
 * MULTIPART_BOUNDARY_MAX, ending in a space, or with a character outside
 * its set, such as CR or LF); every feed then answers
 * MULTIPART_ERR_BOUNDARY.
 */
int multipart_init(multipart_parser *p, const char *boundary, const multipart_callbacks *cb,
                   void *arg);

/*
 * Parse the next `n` bytes of the body (any split is fine; `n` may be 0).
 * Callbacks run from inside this call. Returns MULTIPART_OK, or the error
 * that stopped parsing; an error is final, every later feed and
 * multipart_finish return it again without calling anything.
 */
multipart_rc multipart_feed(multipart_parser *p, const char *s, size_t n);

/*
 * The body has ended. Returns MULTIPART_OK when the closing delimiter was
 * seen (even with no parts before it), otherwise the error saying where
 * the body stopped (NO_DELIMITER, TRUNCATED or NO_CLOSE), or the earlier
 * error. Calls no callback: a part the body cut off gets no part_end.
 */
multipart_rc multipart_finish(multipart_parser *p);

/* A static English phrase for `rc`, e.g. "the body ends inside a part". */
const char *multipart_strerror(multipart_rc rc);

/*
 * Extract the boundary parameter from a Content-Type value such as
 * `multipart/form-data; boundary=----abc` or `...; boundary="a b:c"`
 * (case-insensitive parameter name, quoted or token value, other
 * parameters skipped) into `out` (NUL-terminated). The media type itself
 * is not checked. Returns 0, or -1 when there is no boundary parameter,
 * its value is empty, longer than MULTIPART_BOUNDARY_MAX or `outlen` - 1,
 * ends in a space, or has a character RFC 2046 does not allow.
 */
int multipart_boundary(const char *content_type, char *out, size_t outlen);

#endif
