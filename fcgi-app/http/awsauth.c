#include "http/awsauth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "parse/sigv4.h"

/* The request header `name` (lower-case) as FastCGI passes it. */
static const char *awsauth_header(void *arg, const char *name)
{
    const http_req *r = arg;
    char cgi[SIGV4_SIGNED_MAX + 8];
    if (strcmp(name, "host") == 0) {
        const char *raw = http_header(r, "MINILAMBDA_HOST");
        return raw != NULL && raw[0] != '\0' ? raw : http_header(r, "HTTP_HOST");
    }
    if (strcmp(name, "content-type") == 0)
        return http_header(r, "CONTENT_TYPE");
    if (strcmp(name, "content-length") == 0)
        return http_header(r, "CONTENT_LENGTH");
    size_t n = strlen(name);
    if (n + 6 > sizeof(cgi))
        return NULL;
    memcpy(cgi, "HTTP_", 5);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        /* nginx drops headers with underscores: an underscore never maps. */
        if (ch == '_')
            return NULL;
        cgi[5 + i] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
    }
    cgi[5 + n] = '\0';
    return http_header(r, cgi);
}

/* The err_t of a failed sigv4 step. */
static int awsauth_fail(sigv4_rc rc, err_t *e)
{
    const char *why = sigv4_rc_text(rc);
    switch (rc) {
    case SIGV4_MISMATCH:
    case SIGV4_MISSING_HEADER:
    case SIGV4_SCOPE_DATE:
        return err_set(e, ERR_FORBIDDEN, "invalid_signature", 0, "%s", why);
    case SIGV4_SKEW:
        return err_set(e, ERR_FORBIDDEN, "signature_expired", 0, "%s", why);
    case SIGV4_NOMEM:
        return err_set(e, ERR_NOMEM, NULL, 0, "%s", why);
    default:
        return err_set(e, ERR_INVALID, "incomplete_signature", 0, "%s", why);
    }
}

/* The body's hash into r->payload_hash, reading it ahead unless the route
 * streams it. */
static int awsauth_payload(http_req *hr, size_t max, bool streamed, buf_t *body, sigv4_request *r,
                           err_t *e)
{
    if (streamed) {
        if (strcmp(hr->method, "GET") != 0 && strcmp(hr->method, "HEAD") != 0)
            return err_set(e, ERR_INVALID, "signed_upload_unsupported", 0,
                           "a streamed upload cannot be checked against a SigV4 signature "
                           "before it is read: send it with Authorization: Bearer <key>");
    } else {
        if (http_read_body(hr, max, body, e) != 0)
            return -1;
        hr->ahead = body;
    }
    if (sigv4_sha256_hex(body->data != NULL ? body->data : "", body->len, r->payload_hash) != 0)
        return awsauth_fail(SIGV4_NOMEM, e);
    const char *given = http_header(hr, "HTTP_X_AMZ_CONTENT_SHA256");
    if (given != NULL && strcasecmp(given, r->payload_hash) != 0)
        return err_set(e, ERR_INVALID, "content_sha256_mismatch", 0,
                       strcmp(given, "UNSIGNED-PAYLOAD") == 0
                           ? "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD is not accepted: the body "
                             "is always signed here"
                           : "X-Amz-Content-Sha256 is not the SHA-256 of the body");
    return 0;
}

int awsauth_verify(http_req *hr, keys_t *keys, size_t max, bool streamed, buf_t *body,
                   keys_key *key, err_t *e)
{
    sigv4_auth a;
    char secret[KEYS_AWS_SECRET_LEN + 1], stamp[17];
    long long t = 0;
    sigv4_request r = {.method = hr->method,
                       .target = hr->uri ? hr->uri : "/",
                       .header = awsauth_header,
                       .arg = hr};
    sigv4_rc rc = sigv4_parse(http_header(hr, "HTTP_AUTHORIZATION"), &a);
    if (rc != SIGV4_OK)
        return awsauth_fail(rc, e);
    int found = keys_find_aws(keys, a.access_key_id, key, secret, e);
    if (found < 0)
        return -1;
    if (found == 0) {
        err_set(e, ERR_FORBIDDEN, "unrecognized_client", 0,
                "the access key id %.32s is not known (revoked, or never issued)", a.access_key_id);
        return 0;
    }
    int ret = -1;
    if (awsauth_payload(hr, max, streamed, body, &r, e) != 0)
        goto done;
    /* The clock first: a stale request is expired, signed well or not. */
    rc = sigv4_time(&a, &r, stamp, &t);
    if (rc == SIGV4_OK)
        rc = sigv4_fresh(t, clock_wall_ms() / 1000);
    if (rc == SIGV4_OK)
        rc = sigv4_check(&a, &r, secret, KEYS_AWS_SECRET_LEN, &t);
    if (rc != SIGV4_OK) {
        awsauth_fail(rc, e);
        goto done;
    }
    ret = 1;
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    if (ret != 1)
        keys_key_free(key);
    return ret;
}
