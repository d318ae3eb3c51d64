/*
 * frames: the per-call framings a warm container speaks over its attach
 * stream, both ways.
 *
 * Every call has a nonce, random, fresh for the call: every header and
 * answer of the call carries it, and output with another nonce is never
 * taken as this call's (it is stale: a late answer of an earlier call, or
 * forged) — the parser fails the call and the container is discarded.
 *
 * minilambda-init (modes fresh and reuse) takes, on stdin,
 *
 *   MLINIT/3 <n_env> <event_len> <nonce>\n  then n_env lines KEY=VALUE\n  then the event
 *
 * and answers on stdout with frames "o <nonce> <len>\n" + bytes (the
 * call's stdout), "e <nonce> <len>\n" + bytes (its stderr) and
 * "x <nonce> <status>\n" (it exited; in reuse mode the next request may
 * come). init never hands the nonce to the function's process. In the
 * lambda modes, "n <nonce> 0" (the runtime took the event), and the call
 * ends with "x" (its /response, in the "o" frames), "f" or "i" + the error
 * type (/error, /init/error; the body in the "o" frames): initwire.h.
 *
 * A function process in reuse "process" mode speaks the loop protocol:
 *
 *   request   {"id":..,"function":..,"attempt":..,"deadline_ms":..,"event_length":N,
 *              "nonce":".."}\n + N bytes
 *   response  {"exit_code":C,"result_length":M,"log_length":L,"nonce":".."}\n
 *             + M bytes (the result) + L bytes (the call's logs; "log_length"
 *             may be left out: 0); "nonce" is the request's, echoed
 *
 * and what it writes on stderr counts as logs too, of the call being read
 * when it arrives (stderr and stdout are not ordered with each other: the
 * helpers send their logs in-band, in the answer).
 *
 * The parsers are incremental: feed them output as it comes.
 */
#ifndef MINILAMBDA_FRAMES_H
#define MINILAMBDA_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* This call's values, as a cold container gets them in its env. */
typedef struct {
    const char *function; /* the name */
    const char *id;       /* the invocation id */
    int attempt;
    long long deadline_ms; /* wall clock */
    const char *nonce;     /* this call's, FRAMES_NONCE_LEN hex digits */
    /* Protocol "lambda", init's request only: JSON text for the runtime's
     * Lambda-Runtime-Client-Context and -Cognito-Identity, or NULL. */
    const char *client_context;
    const char *cognito_identity;
} frames_call;

/* A nonce: this many lowercase hex digits (64 random bits). */
#define FRAMES_NONCE_LEN 16

/* Fill `out` (FRAMES_NONCE_LEN + 1 bytes) with a fresh random nonce. 0, or
 * -1 when the system has no randomness to give. */
int frames_nonce(char *out);

/* Append minilambda-init's request header for `c` and an event of
 * `event_len` bytes to `out` (the client context and identity on one line
 * each: a CR or LF in them, never inside a JSON string, becomes a space).
 * 0, or -1 when `out` is full or one is longer than an env line may be. */
int frames_init_request(buf_t *out, const frames_call *c, size_t event_len);

/* Append the loop protocol's request line for `c` and an event of
 * `event_len` bytes to `out`. 0, or -1 when `out` is full. */
int frames_loop_request(buf_t *out, const frames_call *c, size_t event_len);

/* Where a parser puts the call's output: `stream` 1 (stdout, the result)
 * or 2 (stderr, the logs). */
typedef void (*frames_sink)(void *arg, int stream, const char *p, size_t n);

/* An incremental parser of one answer. */
typedef struct {
    bool loop;      /* the loop protocol, else init's frames */
    char head[256]; /* a header line being read */
    size_t head_len;
    int kind;         /* init: 'o' or 'e' while a frame's bytes come */
    size_t remaining; /* bytes left of the frame, result or logs */
    size_t logs;      /* loop: log bytes to come after the result */
    bool done;        /* the answer is complete */
    int exit_code;    /* valid once done */
    /* init's lambda protocol: how the answer ended ('x' a response, 'f' a
     * function error, 'i' an init error), whether the runtime took the
     * event ("n"), and the error type of 'f' and 'i' ("" when none came). */
    char end;
    bool taken;
    char error_type[128];
    size_t error_type_len;
    frames_sink sink;
    void *arg;
    char nonce[FRAMES_NONCE_LEN + 1]; /* the call's: every frame must carry it */
    char error[160];                  /* why the output broke the protocol */
} frames_parser;

/* Start parsing one answer (`loop`: the loop protocol's) of the call with
 * `nonce` (copied), its output to `sink`. */
void frames_begin(frames_parser *p, bool loop, const char *nonce, frames_sink sink, void *arg);

/*
 * Feed `n` bytes the container wrote on `stream` (1 stdout, 2 stderr).
 * stderr goes to the sink as logs (init's own and the loop process's).
 * Returns 1 when the answer is complete (p->exit_code set), 0 to go on,
 * -1 when the bytes break the protocol (p->error says how): a frame or an
 * answer without this call's nonce, bytes after a complete answer.
 */
int frames_feed(frames_parser *p, int stream, const char *data, size_t n);

#endif
