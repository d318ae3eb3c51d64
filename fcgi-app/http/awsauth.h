/*
 * awsauth: the gate's check of an "Authorization: AWS4-HMAC-SHA256 ..."
 * request (parse/sigv4 does the signing arithmetic): the request's headers
 * as FastCGI gives them (HTTP_X_AMZ_DATE, CONTENT_TYPE, CONTENT_LENGTH; the
 * Host header as the client sent it, MINILAMBDA_HOST, since nginx's
 * HTTP_HOST is $host without the port), the body read ahead for its hash,
 * the key found by its access key id, its secret unsealed, checked and
 * wiped, and the clock within 15 minutes.
 *
 * Error codes (stable, for the Lambda routes' error types):
 *   incomplete_signature     400 a malformed Authorization, date or query
 *   content_sha256_mismatch  400 X-Amz-Content-Sha256 is not the body's hash
 *                                (UNSIGNED-PAYLOAD included: the body is always signed)
 *   signed_upload_unsupported 400 a streamed upload (POST /images) signed with SigV4
 *   unrecognized_client      403 no key has the access key id
 *   invalid_signature        403 the signature is not the secret's
 *   signature_expired        403 more than 15 minutes from the server's clock
 */
#ifndef MINILAMBDA_AWSAUTH_H
#define MINILAMBDA_AWSAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"
#include "state/keys.h"

/*
 * Verify the SigV4 signature of `r` against the keys of `keys`. The body
 * (at most `max` bytes) is read into `body` (the caller's, freed by it)
 * and r->ahead points at it, so the handler's read takes it; a `streamed`
 * route's body is never read (only a bodiless method may be signed there).
 * Returns 1 with `key` filled (keys_key_free), 0 with `e` set to
 * unrecognized_client when no key has the access key id (the body is not
 * read then), or -1 with `e` (one of the codes above, or the store's).
 */
int awsauth_verify(http_req *r, keys_t *keys, size_t max, bool streamed, buf_t *body, keys_key *key,
                   err_t *e) ERR_MUST_USE;

#endif
