#include "images.h"

void images_upload(handlers_thread *t, http_req *r)
{
    (void)t;
    http_send_error(r, 501, "not_implemented", "image upload is not implemented yet", NULL);
}

void images_list(handlers_thread *t, http_req *r)
{
    (void)t;
    http_send_error(r, 501, "not_implemented", "image listing is not implemented yet", NULL);
}

int images_present(docker_conn_t *c, const char *image)
{
    (void)c;
    (void)image;
    return -1;
}
