/*
 * buf: one bounded, growable byte buffer used everywhere a size is not known
 * in advance (request bodies, container output, HTTP responses).
 *
 * The buffer keeps a terminating NUL after `len` bytes so text can be handed
 * to string functions, but it may also hold binary data with embedded NULs.
 * `max` bounds its growth: an append that would pass it fails with
 * BUF_TOO_BIG and leaves the buffer unchanged, so a hostile peer can never
 * make us allocate more than the caller allowed.
 */
#ifndef MINILAMBDA_BUF_H
#define MINILAMBDA_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* largest `len` allowed */
} buf_t;

typedef enum { BUF_OK = 0, BUF_NOMEM = -1, BUF_TOO_BIG = -2 } buf_rc;

/* Prepare an empty buffer bounded at `max` bytes. Allocates nothing. */
void buf_init(buf_t *b, size_t max);

/* Append `n` bytes. Returns BUF_OK, BUF_TOO_BIG (nothing appended) or
 * BUF_NOMEM (nothing appended). */
buf_rc buf_append(buf_t *b, const void *p, size_t n);

/* Append as much of `n` bytes as fits under `max`; returns how many were
 * taken (less than `n` when the bound was reached or memory ran out). */
size_t buf_append_some(buf_t *b, const void *p, size_t n);

/* Append a NUL-terminated string. Same results as buf_append. */
buf_rc buf_puts(buf_t *b, const char *s);

/* Append formatted text. Same results as buf_append. */
buf_rc buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Append `n` bytes of text as valid UTF-8: every byte that is not part of a
 * well-formed sequence becomes U+FFFD. With `cut`, an incomplete sequence at
 * the very end (text cut at a size cap) is dropped instead. Same results as
 * buf_append; on failure the buffer may hold part of the text.
 */
buf_rc buf_append_utf8(buf_t *b, const char *p, size_t n, int cut);

/* The length of the well-formed UTF-8 sequence at p[0..n) (n >= 1), 0 when
 * the bytes there are not one, or -1 when they are a valid but incomplete
 * prefix (no overlong forms, surrogates or code points past U+10FFFF). */
int buf_utf8_seq(const char *p, size_t n);

/* True when all `n` bytes at `p` are well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF). */
bool buf_is_utf8(const char *p, size_t n);

/* Forget the contents but keep the allocation for reuse. */
void buf_reset(buf_t *b);

/* Free the contents; the buffer may be reused after buf_init. */
void buf_free(buf_t *b);

#endif
