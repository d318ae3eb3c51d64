/*
 * initwire: minilambda-init's framing, one definition for both of its
 * ends: the platform writes requests and reads frames (parse/frames.c),
 * minilambda-init reads requests and writes frames (init/). It needs only
 * libc and base/err, so the static init program links it too.
 *
 *   request  "MLINIT/3 <n_env> <event_len> <nonce>\n", then n_env lines
 *            KEY=VALUE\n, then event_len bytes of event
 *   frames   "o <nonce> <len>\n" + len bytes (the call's stdout; lambda:
 *            the body the runtime posted),
 *            "e <nonce> <len>\n" + len bytes (its stderr; lambda: the
 *            runtime's stdout and stderr, its logs),
 *            "x <nonce> <status>\n" (it exited; lambda: 0, it posted its
 *            /response: the call's end)
 *   lambda   "n <nonce> 0\n" (the runtime took the event: its /next was
 *            answered; before it, a timeout is the runtime's init's),
 *            "f <nonce> <len>\n" + len bytes (the call's end: the runtime
 *            posted /error, its Lambda-Runtime-Function-Error-Type, 0 to
 *            INITWIRE_ERROR_TYPE_MAX bytes, "" when it sent none),
 *            "i <nonce> <len>\n" + len bytes (the call's end: the runtime
 *            cannot serve, with the error type: it posted /init/error, or
 *            exited (Runtime.ExitError); init exits after it)
 *
 * With the lambda protocol the request's env lines are the call's values
 * the Runtime API hands out (invocation id, deadline, INITWIRE_ENV_*), not
 * an environment. Numbers are decimal digits only; a nonce is 1 to
 * INITWIRE_NONCE_MAX letters and digits.
 */
#ifndef MINILAMBDA_INITWIRE_H
#define MINILAMBDA_INITWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct iovec;

#define INITWIRE_MAGIC "MLINIT/3 "
#define INITWIRE_NONCE_MAX 32
/* The largest payload of one "o" or "e" frame. */
#define INITWIRE_CHUNK_MAX 65536
/* The longest request line and frame header, before their \n. */
#define INITWIRE_REQUEST_MAX 96
#define INITWIRE_FRAME_MAX (24 + INITWIRE_NONCE_MAX)
/* The longest error type an "f" or "i" frame carries. */
#define INITWIRE_ERROR_TYPE_MAX 127

/* The lambda protocol. Where init serves the Runtime API (its
 * AWS_LAMBDA_RUNTIME_API), and the largest event and response body: 6 MiB,
 * Lambda's synchronous payload limit. */
#define INITWIRE_RUNTIME_API "127.0.0.1:9001"
#define INITWIRE_LAMBDA_BODY_MAX (6u * 1024 * 1024)
/* Request env lines of the lambda protocol (besides the MINILAMBDA_
 * values every request carries): the client context, JSON text on one line
 * (the Invoke API's X-Amz-Client-Context, decoded), and the Cognito
 * identity, likewise; each optional, handed to the runtime as the
 * Lambda-Runtime-Client-Context and -Cognito-Identity headers. */
#define INITWIRE_ENV_CLIENT_CONTEXT "MINILAMBDA_CLIENT_CONTEXT"
#define INITWIRE_ENV_COGNITO_IDENTITY "MINILAMBDA_COGNITO_IDENTITY"

/* A request header, parsed. */
typedef struct {
    size_t n_env;
    uint64_t event_len;
    char nonce[INITWIRE_NONCE_MAX + 1];
} initwire_request;

/* Write the request line for `n_env` env lines and `event_len` bytes of
 * event under `nonce`, its \n included, into `out` (`outlen` bytes).
 * Returns its length, or -1 when it does not fit or the nonce is not one. */
int initwire_request_head(char *out, size_t outlen, size_t n_env, uint64_t event_len,
                          const char *nonce);

/* Parse request line `line` (NUL-terminated, without its \n) into `q`,
 * with at most `max_env` env lines and `max_event` bytes. 0, or -1 with `e`
 * (ERR_INVALID malformed_request, the message saying what is wrong). */
int initwire_request_parse(const char *line, size_t max_env, uint64_t max_event,
                           initwire_request *q, err_t *e);

/* Write the header of a frame of `kind` ('o', 'e', 'x', 'n', 'f', 'i')
 * with number `num` (a length, or the exit status) under `nonce`, its \n
 * included, into `out`. Returns its length, or -1 when it does not fit. */
int initwire_frame_head(char *out, size_t outlen, char kind, const char *nonce, uint64_t num);

/* What a frame header says, parsed against the call's nonce. */
typedef enum {
    INITWIRE_FRAME_OK = 0,
    INITWIRE_NOT_A_FRAME, /* not "<kind> " with a kind of o, e, x, n, f, i */
    INITWIRE_OTHER_NONCE, /* another call's: stale or forged */
    INITWIRE_BAD_NUMBER   /* a length of 0 or past the chunk, a status past 255, an
                           * "n" not 0, an error type past INITWIRE_ERROR_TYPE_MAX */
} initwire_frame_rc;

/* Parse frame header `line` (`len` bytes, without its \n) of the call
 * with `nonce`: its kind into `*kind` and its number into `*num`. */
initwire_frame_rc initwire_frame_parse(const char *line, size_t len, const char *nonce, char *kind,
                                       uint64_t *num);

/* Write all of `iov` (`n` entries, changed as it goes) to `fd`, blocking,
 * across partial writes and EINTR: how both of init's protocols put a
 * frame on its stdout in one write when they can. 0, or -1 with `e`
 * (ERR_INTERNAL naming writev and the errno). */
int initwire_write_all(int fd, struct iovec *iov, int n, err_t *e) ERR_MUST_USE;
#endif
