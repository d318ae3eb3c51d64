/*
 * sigv4: AWS Signature Version 4 as a server checks it, without secrets
 * storage and without HTTP: the Authorization header parsed, the canonical
 * request and the string to sign built from the request as it arrived, the
 * signature computed from a secret the caller hands in and compared in
 * constant time, and the request's time checked against the clock.
 *
 *   Authorization: AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request,
 *                  SignedHeaders=host;x-amz-date, Signature=<64 hex>
 *
 * The canonical URI is that of the services other than S3, as botocore and
 * the JavaScript SDK build it: the raw path (percent-encoded as sent) with
 * empty and dot segments removed, then every byte but the unreserved ones
 * and '/' percent-encoded once more (so "%3A" is signed as "%253A"). The
 * canonical query decodes each name and value ('+' as a space, as
 * http_query reads it) and encodes them again with the unreserved set,
 * sorted by name then value. Header values are trimmed, inner runs of
 * blanks made one space.
 *
 * Every function is bounded (SIGV4_CANONICAL_MAX) and fails with a sigv4_rc
 * on any input, never more. Hashes and HMACs are OpenSSL's; intermediate
 * keys are wiped before return.
 */
#ifndef MINILAMBDA_SIGV4_H
#define MINILAMBDA_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_SKEW_S 900                /* 15 minutes either way */
#define SIGV4_ID_MAX 128                /* an access key id's length, at most */
#define SIGV4_SCOPE_PART_MAX 63         /* a region's or a service's length */
#define SIGV4_SIGNED_MAX 1024           /* the SignedHeaders value's length */
#define SIGV4_CANONICAL_MAX (64 * 1024) /* the canonical request's length */
#define SIGV4_HEX 64                    /* hex digits of a SHA-256 */

typedef enum {
    SIGV4_OK = 0,
    SIGV4_MALFORMED,      /* the Authorization header is not of the shape above */
    SIGV4_NO_HOST,        /* host is not among the signed headers */
    SIGV4_NO_DATE,        /* neither X-Amz-Date nor Date, or it is not signed */
    SIGV4_BAD_DATE,       /* the date is not YYYYMMDDTHHMMSSZ (or an RFC 1123 Date) */
    SIGV4_SCOPE_DATE,     /* the credential's date is not the request's */
    SIGV4_MISSING_HEADER, /* a signed header is not in the request */
    SIGV4_BAD_QUERY,      /* a bad percent-escape or a NUL in the query */
    SIGV4_TOO_LONG,       /* past SIGV4_CANONICAL_MAX, or too many parameters */
    SIGV4_SKEW,           /* the request's time is more than SIGV4_SKEW_S from now */
    SIGV4_MISMATCH,       /* the signature is not the one the secret makes */
    SIGV4_NOMEM,          /* out of memory, or OpenSSL failed */
} sigv4_rc;

/* What an Authorization header says. */
typedef struct {
    char access_key_id[SIGV4_ID_MAX + 1];
    char date[9]; /* YYYYMMDD */
    char region[SIGV4_SCOPE_PART_MAX + 1];
    char service[SIGV4_SCOPE_PART_MAX + 1];
    char signed_headers[SIGV4_SIGNED_MAX + 1]; /* "host;x-amz-date", as given */
    char signature[SIGV4_HEX + 1];             /* lowercase hex */
} sigv4_auth;

/* The request as the server received it. Everything is borrowed. */
typedef struct {
    const char *method;
    const char *target; /* the raw request target: path, then '?' and the query */
    /* The value of the request header `name` (lower-case), or NULL when it
     * is absent. */
    const char *(*header)(void *arg, const char *name);
    void *arg;
    char payload_hash[SIGV4_HEX + 1]; /* lowercase hex SHA-256 of the body */
} sigv4_request;

/* Whether `h` (an Authorization value) claims to be SigV4: its first word
 * is the algorithm, whatever follows. */
bool sigv4_is_sigv4(const char *h);

/* Parse the Authorization value `h` into `out`. SIGV4_OK, SIGV4_MALFORMED,
 * or SIGV4_NO_HOST when host is not signed. */
sigv4_rc sigv4_parse(const char *h, sigv4_auth *out);

/* Whether SignedHeaders of `a` names `name` (lower-case). */
bool sigv4_signs(const sigv4_auth *a, const char *name);

/*
 * The request's time, from X-Amz-Date or else Date (which must be signed),
 * as the string to sign carries it (`stamp`, YYYYMMDDTHHMMSSZ) and in
 * seconds since the epoch (`*t`). It must be on the credential's date.
 * SIGV4_OK, SIGV4_NO_DATE, SIGV4_BAD_DATE or SIGV4_SCOPE_DATE.
 */
sigv4_rc sigv4_time(const sigv4_auth *a, const sigv4_request *r, char stamp[17], long long *t);

/* Whether time `t` is within SIGV4_SKEW_S of `now` (seconds since the
 * epoch): SIGV4_OK or SIGV4_SKEW. */
sigv4_rc sigv4_fresh(long long t, long long now);

/* The canonical request of `r` under `a` appended to `out` (whose bound
 * the caller set; SIGV4_CANONICAL_MAX at least is needed for the worst
 * case). SIGV4_OK, or SIGV4_MISSING_HEADER, SIGV4_BAD_QUERY,
 * SIGV4_TOO_LONG, SIGV4_NOMEM. */
sigv4_rc sigv4_canonical(const sigv4_auth *a, const sigv4_request *r, buf_t *out);

/* The string to sign for `canonical` (`len` bytes) at time `stamp`
 * appended to `out`. SIGV4_OK or SIGV4_NOMEM/SIGV4_TOO_LONG. */
sigv4_rc sigv4_string_to_sign(const sigv4_auth *a, const char *stamp, const char *canonical,
                              size_t len, buf_t *out);

/* The signature of `sts` (`len` bytes) made with `secret` (`secret_len`
 * bytes, borrowed: never kept) under the scope of `a`, as lowercase hex
 * into `out`. The derived keys are wiped. SIGV4_OK or SIGV4_NOMEM. */
sigv4_rc sigv4_sign(const sigv4_auth *a, const char *secret, size_t secret_len, const char *sts,
                    size_t len, char out[SIGV4_HEX + 1]);

/*
 * The whole check of `r` against `secret` but the clock: time, canonical
 * request, string to sign, signature, compared with the header's in
 * constant time. `*t` is the request's time (for sigv4_fresh).
 * SIGV4_OK, SIGV4_MISMATCH, or what the steps above return.
 */
sigv4_rc sigv4_check(const sigv4_auth *a, const sigv4_request *r, const char *secret,
                     size_t secret_len, long long *t);

/* Lowercase hex SHA-256 of `n` bytes at `p` into `out`. 0, or -1 when
 * OpenSSL fails. */
int sigv4_sha256_hex(const void *p, size_t n, char out[SIGV4_HEX + 1]);

/* A short English phrase for `rc` (static). */
const char *sigv4_rc_text(sigv4_rc rc);

#endif
