/*
 * fake: a scripted Docker Engine on a unix socket, for unit tests
 * that reach the engine client's paths without dockerd. It answers the
 * requests in the order they come with the replies it was given (a status
 * of 0: read the request and never answer), records each request line and
 * the length of its body (a chunked one is read as it streams, and answered
 * once it has ended), and points DOCKER_HOST at itself. One thread serves
 * every connection.
 */
#ifndef MINILAMBDA_TEST_FAKE_H
#define MINILAMBDA_TEST_FAKE_H

#include <pthread.h>
#include <stddef.h>

typedef struct {
    int status;       /* 0: read the request and never answer */
    const char *body; /* JSON or text */
} fake_reply;

#define FAKE_MAX_REQ 8
#define FAKE_MAX_CONNS 8

typedef struct {
    char dir[64];
    char sock[100];
    char host[160]; /* DOCKER_HOST */
    int lfd;
    int stop[2];
    const fake_reply *replies;
    size_t nreplies;
    pthread_t th;
    /* Written by the server thread; read after it is joined. */
    char requests[FAKE_MAX_REQ][512]; /* "METHOD target" */
    size_t body_bytes[FAKE_MAX_REQ];  /* each request's body (chunked or not) */
    size_t nrequests;
    int errors;
} fake_server;

/* Listen on a fresh socket (ready before this returns, so no client can
 * race the server thread) with `replies` (`n`, the caller's, kept until
 * fake_stop) and point DOCKER_HOST at it. Fails the test when it cannot. */
void fake_start(fake_server *fs, const fake_reply *replies, size_t n);

/* Serve what was sent already, stop, and fail the test on any error the
 * server saw (an unexpected request, a send that failed). */
void fake_stop(fake_server *fs);

/* A group's setup and teardown for tests of the engine client: libcurl's
 * global state once per group, and DOCKER_HOST unset after it (fake_start
 * points it at the fake). */
int fake_group_setup(void **state);
int fake_group_teardown(void **state);

#endif
