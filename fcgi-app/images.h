/*
 * images: POST /images streams a `docker save` tar into the engine's
 * /images/load (multipart field "image", or a raw application/x-tar body)
 * without ever holding the whole tar; GET /images lists local images.
 */
#ifndef MINILAMBDA_IMAGES_H
#define MINILAMBDA_IMAGES_H

#include "handlers.h"
#include "http.h"

/* Serve POST /images completely: 200 {message, images, file_size}, or the
 * 4xx/5xx JSON error. Counts minilambda_image_uploads_total and
 * minilambda_image_upload_bytes_total. */
void images_upload(handlers_thread *t, http_req *r);

/* Serve GET /images: an array of "repo:tag" strings, or with ?detail=1
 * objects {id, tags, size, created}. */
void images_list(handlers_thread *t, http_req *r);

/* Whether the engine has `image`: 1 yes, 0 no, -1 could not tell. One
 * inspect call, its answer reused by this process for up to 2 s. */
int images_present(docker_conn_t *c, const char *image);

#endif
