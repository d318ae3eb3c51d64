/*
 * httpreq: the request head of HTTP/1.1, as minilambda-init's Runtime API
 * server reads it from the runtime on loopback. Libc only (init links it,
 * statically). It parses one head out of a buffer that holds what the
 * connection sent so far; the caller reads the body (Content-Length bytes)
 * after it and the next request after that (pipelining is just that: the
 * next head starts where the body ends).
 *
 * It is strict where a lax reading could desynchronise the connection: a
 * request line of exactly three parts, HTTP/1.0 or HTTP/1.1, header names
 * of token characters, no obsolete line folding, one Content-Length of
 * digits only (two that differ are refused), no body framing but
 * Content-Length: a Transfer-Encoding is refused (the runtime clients send
 * Content-Length; chunked is answered 411 so the client knows why). Lines
 * end with CRLF or a bare LF.
 */
#ifndef MINILAMBDA_HTTPREQ_H
#define MINILAMBDA_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest path kept; a longer one is refused (414). */
#define HTTPREQ_PATH_MAX 512
/* The longest Lambda-Runtime-Function-Error-Type value kept (cut to it). */
#define HTTPREQ_ERROR_TYPE_MAX 127

/* What httpreq_parse found. */
typedef enum {
    HTTPREQ_MORE = 0,        /* the head is not complete yet: read more */
    HTTPREQ_OK = 1,          /* a head, in `h`; its body follows h->head_len */
    HTTPREQ_BAD = -1,        /* malformed: 400 */
    HTTPREQ_HEAD_LARGE = -2, /* no head within `max_head` bytes: 431 */
    HTTPREQ_URI_LARGE = -3,  /* the path is over HTTPREQ_PATH_MAX: 414 */
    HTTPREQ_NO_LENGTH = -4,  /* a Transfer-Encoding instead of a Content-Length: 411 */
    HTTPREQ_VERSION = -5     /* not HTTP/1.0 or HTTP/1.1: 505 */
} httpreq_rc;

/* One request head, parsed. */
typedef struct {
    char method[16];
    char path[HTTPREQ_PATH_MAX + 1]; /* the request target as sent, query included */
    uint64_t content_length;         /* 0 when none was given */
    bool keep_alive;                 /* HTTP/1.1 without "Connection: close", or 1.0 asking */
    bool expect_continue;            /* "Expect: 100-continue" */
    char error_type[HTTPREQ_ERROR_TYPE_MAX + 1]; /* Lambda-Runtime-Function-Error-Type, or "" */
    size_t head_len;                             /* bytes of the head, its blank line included */
} httpreq_head;

/*
 * Parse the head at the start of `buf` (`len` bytes, not NUL-terminated)
 * into `h`. A head longer than `max_head` bytes is HTTPREQ_HEAD_LARGE,
 * even before it is complete. A large Content-Length is still HTTPREQ_OK:
 * the caller holds it against its own bound (and answers 413). HTTPREQ_MORE
 * while the blank line has not come.
 */
httpreq_rc httpreq_parse(const char *buf, size_t len, size_t max_head, httpreq_head *h);

/* The status line's code and reason for `rc` (< 0): 400, 431, 414, 411 or
 * 505, and its reason phrase into *reason (static). */
int httpreq_status(httpreq_rc rc, const char **reason);

#endif
