/*
 * floor: the prestarted floor for scripts/bench-invoke — what one call
 * costs the engine when its container is already created, attached and
 * started, blocked on stdin. With raw Engine API calls through the
 * project's own client (the create body is the platform's, from
 * container_spec), N times:
 *
 *   untimed: POST /containers/create, attach (hijacked), POST .../start;
 *   timed:   write the event to stdin and half-close it, read stdout to the
 *            end of the stream, POST .../wait;
 *   untimed: DELETE the container.
 *
 * Prints one line per call: the timed part in milliseconds.
 *
 *   floor IMAGE N
 *
 * Built on demand (make tests/bench/floor); needs the engine DOCKER_HOST or
 * the default socket names.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/clock.h"
#include "base/config.h"
#include "engine/docker.h"
#include "http/images.h"
#include "run/container.h"

int main(int argc, char **argv)
{
    char why[512], *end;
    if (argc != 3) {
        fprintf(stderr, "usage: floor IMAGE N\n");
        return 2;
    }
    long n = strtol(argv[2], &end, 10);
    if (*end != '\0' || n < 1 || n > 100000) {
        fprintf(stderr, "floor: N must be 1..100000\n");
        return 2;
    }
    docker_t *d = docker_new(why, sizeof(why));
    docker_conn_t *c = d ? docker_conn_new(d) : NULL;
    if (c == NULL) {
        fprintf(stderr, "floor: %s\n", d ? "out of memory" : why);
        return 1;
    }
    json_object *fn = json_object_new_object();
    json_object_object_add(fn, "id", json_object_new_string("bench-floor"));
    json_object_object_add(fn, "name", json_object_new_string("bench-floor"));
    json_object_object_add(fn, "image", json_object_new_string(argv[1]));
    json_object *cmd = json_object_new_array();
    json_object_array_add(cmd, json_object_new_string("cat"));
    json_object_object_add(fn, "command", cmd);
    /* Pinned to the image's id, as registration does: the runtime runs
     * nothing else. */
    char image_id[160];
    err_t e;
    int found = images_resolve(c, argv[1], image_id, sizeof(image_id), &e);
    if (found != 1) {
        fprintf(stderr, "floor: %s\n", found == 0 ? "the engine has no such image" : e.msg);
        json_object_put(fn);
        docker_conn_free(c);
        docker_free(d);
        return 1;
    }
    json_object_object_add(fn, "image_id", json_object_new_string(image_id));
    func_t *typed = func_parse(fn, &e);
    if (typed == NULL) {
        fprintf(stderr, "floor: %s\n", e.msg);
        docker_conn_free(c);
        docker_free(d);
        return 1;
    }
    const char event[] = "{\"n\":1,\"bench\":\"floor\"}";
    int rc = 0;

    for (long i = 0; i < n && rc == 0; i++) {
        runtime_req req;
        runtime_result res;
        docker_result dr;
        docker_stream_t *s = NULL;
        char cid[DOCKER_ID_MAX] = "";
        uuid_t u;

        memset(&req, 0, sizeof(req));
        req.function = typed;
        req.event = event;
        req.event_len = sizeof(event) - 1;
        req.timeout_s = 60;
        req.attempt = 1;
        req.cancel_fd = -1;
        uuid_generate_random(u);
        uuid_unparse_lower(u, req.id);
        snprintf(req.run, sizeof(req.run), "%s", req.id);
        runtime_result_init(&res);
        long long deadline = clock_mono_ms() + 60000;
        if (container_create(c, &req, "bench-floor", CONTAINER_COLD, NULL, deadline, cid, &res) !=
                0 ||
            docker_attach(c, cid, 60000, &s, &dr) != DOCKER_OK ||
            container_start(c, cid, deadline, &res) != 0) {
            fprintf(stderr, "floor: making the container failed: %s\n",
                    res.message[0] ? res.message : dr.message);
            rc = 1;
        } else {
            long long t0 = clock_mono_us();
            if (container_pump(s, &req, &res, deadline) != 0 ||
                container_wait(c, cid, &req, deadline, &res) != 0 ||
                res.status != STATUS_SUCCEEDED || res.out.len != sizeof(event) - 1) {
                fprintf(stderr, "floor: the call failed: %s\n", res.message);
                rc = 1;
            } else {
                printf("%.3f\n", (double)(clock_mono_us() - t0) / 1000.0);
            }
        }
        docker_stream_close(s);
        if (cid[0] != '\0')
            container_remove(c, cid, req.id);
        runtime_result_free(&res);
    }
    func_free(typed);
    docker_conn_free(c);
    docker_free(d);
    return rc;
}
