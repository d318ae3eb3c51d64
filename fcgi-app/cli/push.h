/*
 * push: `minilambda image push TAG`. The bytes of `docker save TAG` go
 * straight from the docker child's stdout, through a pipe, into libcurl's
 * read callback and out as the "image" field of POST /images: nothing is
 * staged on disk and memory stays at one pipe read. A progress bar on
 * stderr shows what was sent against the image's size as docker reports
 * it.
 */
#ifndef MINILAMBDA_CLI_PUSH_H
#define MINILAMBDA_CLI_PUSH_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/cli.h"
#include "cli/client.h"

/*
 * Push the local image `tag` to the platform behind `c`, running `docker`
 * (a program name looked up on PATH, or a path) for `image inspect` and
 * `save`. With `progress`, draw a bar on stderr. The platform's answer goes
 * into `r` (caller frees). Returns CLI_OK when an answer arrived (the
 * caller checks it with client_check); CLI_NOT_FOUND when docker has no
 * such image; CLI_FAILED when docker could not be run or `docker save`
 * failed (the upload is then abandoned, so the platform loads nothing);
 * or client_upload's failures. `e` says which. The docker child is always
 * reaped, whatever happened.
 */
cli_exit push_image(client_t *c, const char *docker, const char *tag, bool progress,
                    client_reply *r, err_t *e);

/*
 * The local docker's image tags ("repo:tag"), one a line, appended to `out`
 * (for completing `image push`). Returns 0, or -1 when docker could not be
 * run or `out` is full; what was appended stays.
 */
int push_local_tags(const char *docker, buf_t *out);

/*
 * Draw the progress line for `sent` of an estimated `total` bytes (0:
 * unknown) at `rate` bytes a second into `out` (`outlen` bytes), without
 * the leading "\r". Exposed for the unit tests.
 */
void push_bar(const char *tag, long long sent, long long total, double rate, bool done, char *out,
              size_t outlen);

#endif
