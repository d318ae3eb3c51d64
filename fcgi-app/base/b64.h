/*
 * b64: base64 on OpenSSL's encoder (EVP_EncodeBlock, EVP_DecodeBlock), in
 * the two alphabets the platform speaks: the standard one with padding
 * (what AWS headers carry) and base64url without padding (API key secrets,
 * listing cursors: safe in a query and a header, opaque to clients).
 *
 * Every function writes into a buffer the caller owns and NUL-terminates
 * it; nothing is allocated.
 */
#ifndef MINILAMBDA_B64_H
#define MINILAMBDA_B64_H

#include <stddef.h>

/* Characters b64_encode writes for `n` bytes, the NUL not counted. */
#define B64_LEN(n) (((n) + 2) / 3 * 4)

/* Standard base64 of `n` bytes at `p` into `out` (`cap` bytes, owned by
 * the caller). Returns the length written, or -1 when `out` cannot hold
 * it and its NUL (nothing usable is written then). */
long b64_encode(const void *p, size_t n, char *out, size_t cap);

/* base64url without padding of `n` bytes at `p` into `out`. Same results
 * as b64_encode. */
long b64_url_encode(const void *p, size_t n, char *out, size_t cap);

/* Decode standard base64 `s` (NUL-terminated; '=' padding as written by
 * b64_encode) into `out` (`cap` bytes, owned by the caller), NUL-terminated
 * after the bytes. Returns the number of bytes, or -1 for text that is not
 * base64 or does not fit. */
long b64_decode(const char *s, unsigned char *out, size_t cap);

/* Decode the base64url text `s` (no padding, nothing but the alphabet)
 * into `out` (`cap` bytes, owned by the caller), which is NUL-terminated
 * after the bytes for callers that decode text. Returns the number of
 * bytes, or -1 for text that is not base64url or does not fit. */
long b64_url_decode(const char *s, unsigned char *out, size_t cap);

#endif
