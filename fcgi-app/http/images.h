/*
 * images: POST /images streams a `docker save` tar into the engine's
 * /images/load (multipart field "image", or a raw application/x-tar body)
 * without ever holding the whole tar; GET /images lists local images.
 */
#ifndef MINILAMBDA_IMAGES_H
#define MINILAMBDA_IMAGES_H

#include "app/app.h"
#include "base/err.h"
#include "engine/docker.h"
#include "http/route.h"

/* Serve POST /images (under the gate's slot): 200 {message, images,
 * file_size}, or -1 with the error. Counts minilambda_image_uploads_total
 * and minilambda_image_upload_bytes_total. */
int images_upload(route_call *c, err_t *e) ERR_MUST_USE;

/* Serve GET /images: an array of "repo:tag" strings, or with ?detail=1
 * objects {id, tags, size, created}. */
int images_list(route_call *c, err_t *e) ERR_MUST_USE;

/* Whether the engine has `image`: 1 yes, 0 no, -1 could not tell. One
 * inspect call, its answer reused by this process for up to 2 s. */
int images_present(docker_conn_t *c, const char *image);

/* Resolve `image` (a reference) to the engine's image id ("sha256:...")
 * in `id`. 1 found, 0 when the engine has no such image, -1 with `e`. */
int images_resolve(docker_conn_t *c, const char *image, char *id, size_t idlen,
                   err_t *e) ERR_MUST_USE;

#endif
