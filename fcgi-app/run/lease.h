/*
 * lease: the keeper's protocol, and the calling side of it that workers
 * and executors use.
 *
 * The keeper (keeper.h) holds warm containers: created, attached and
 * started ahead of their calls. A thread about to run a function asks it
 * over a unix SOCK_SEQPACKET socket for one (TAKE); when one is ready it
 * comes back with its attach socket (SCM_RIGHTS), its id and run id, and
 * the keeper has already recorded the run in the caller's seat of the
 * shared slots table, so the janitor never takes it for a leftover. A
 * container that may serve again goes back the same way (GIVE); one that
 * is done with is handed over for removal off the call's path (REMOVE). An
 * answer never waits for a container to be made: none ready is an answer.
 */
#ifndef MINILAMBDA_LEASE_H
#define MINILAMBDA_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/docker.h"

#define LEASE_ID_LEN 37
/* Bytes read from an attach socket but not consumed that travel with it. */
#define LEASE_UNREAD_MAX 4096

typedef enum {
    LEASE_TAKE = 1, /* a ready container of `function` at `generation`, please */
    LEASE_GIVE,     /* here is one back (its socket attached), it may serve again */
    LEASE_REMOVE,   /* remove `cid` (its socket attached, or not) */
    LEASE_DRAIN,    /* `function` is now at `generation` (0: deleted): drop the rest */
    LEASE_ANSWER    /* the keeper's answer to TAKE, GIVE and DRAIN */
} lease_op;

/* One message, either way. */
typedef struct {
    uint32_t op;         /* lease_op */
    uint32_t mode;       /* container_mode */
    uint32_t start;      /* ANSWER to TAKE: a metrics_start_kind, or 0 when none is ready */
    uint32_t leased;     /* GIVE, REMOVE: the container came from a TAKE */
    int32_t row, thread; /* TAKE: the caller's seat */
    int32_t engine;      /* ANSWER to TAKE, GIVE, REMOVE: the engine the container is on */
    uint64_t generation;
    char function[LEASE_ID_LEN];
    char cid[DOCKER_ID_MAX];
    char run[LEASE_ID_LEN];
    uint32_t unread_len;
    char unread[LEASE_UNREAD_MAX];
} lease_msg;

/* Send `m` on `sock` with `fd` attached (or none: -1). 0, or -1 with `e`
 * (its errno in e->sys). Never blocks longer than the socket's send
 * timeout. */
int lease_send(int sock, const lease_msg *m, int fd, err_t *e) ERR_MUST_USE;

/* Receive one message from `sock` into `m` and the descriptor attached to
 * it into `*fd` (-1 when none; the caller owns it). Returns 1, 0 when the
 * peer closed, or -1 with `e` (a message of another size: e->sys EPROTO). */
int lease_recv(int sock, lease_msg *m, int *fd, err_t *e) ERR_MUST_USE;

/* A thread's line to the keeper, connected lazily. */
typedef struct lease_client lease_client_t;

/* A client for the keeper at socket `path`. Returns it (lease_client_free),
 * or NULL when out of memory. */
lease_client_t *lease_client_new(const char *path);

/* Close and free the client. */
void lease_client_free(lease_client_t *c);

/*
 * TAKE: ask for a ready container of `function` (its record's generation
 * and mode) for the caller at seat (`row`, `thread`). Returns 1 with `*out`
 * (cid, run, start, unread bytes) filled in and `*fd` its attach socket
 * (the caller owns it), or 0 when none is ready or the keeper cannot
 * answer within a few milliseconds: the caller starts cold. It has no
 * err_t: a keeper that fails is a miss, which the caller does not tell
 * apart.
 */
int lease_take(lease_client_t *c, const char *function, uint64_t generation, int mode, int row,
               int thread, lease_msg *out, int *fd);

/*
 * GIVE: hand container `cid` (run `run`, on engine `engine`, attach socket
 * `fd` with `unread`
 * bytes of `unread_len` not consumed) back for another call. Returns 0
 * once the keeper has it (it keeps or removes it; the caller then closes
 * its `fd` and forgets the run), or -1 when it could not be handed over
 * (the caller removes it).
 */
int lease_give(lease_client_t *c, const char *function, uint64_t generation, int mode,
               const char *cid, const char *run, bool leased, int engine, int fd,
               const char *unread, size_t unread_len, err_t *e) ERR_MUST_USE;

/* REMOVE: have the keeper remove `cid` of `function` (on engine `engine`)
 * in the background. 0 sent, or -1 with `e` when the keeper cannot be
 * reached (the caller removes it). */
int lease_remove(lease_client_t *c, const char *function, const char *cid, bool leased, int engine,
                 err_t *e) ERR_MUST_USE;

/* DRAIN: tell the keeper that `function` is at `generation` now (0:
 * deleted) and wait until it has dropped every ready container of another
 * one. 0 done (or no keeper runs: nothing is warm), -1 with `e` when it
 * did not answer in time. */
int lease_drain(lease_client_t *c, const char *function, uint64_t generation,
                err_t *e) ERR_MUST_USE;

#endif
