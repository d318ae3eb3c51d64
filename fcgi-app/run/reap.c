#include "run/reap.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

#define REAP_TIMEOUT_MS 10000
#define REAP_LIST_MAX (16u * 1024 * 1024)

/*
 * List the containers matching the label `filter` (a JSON filters object)
 * and force-remove each one for which `keep` is false. Returns the number
 * removed, or -1 with `e` when the engine could not be asked. A removal
 * that fails is logged and left for the next sweep.
 */
static int reap_remove(docker_conn_t *c, const char *filter,
                       bool (*keep)(json_object *labels, void *arg), void *arg, err_t *e)
{
    char path[512];
    docker_result dr;
    buf_t body;
    json_object *list = NULL;
    int removed = -1;

    buf_init(&body, REAP_LIST_MAX);
    char *esc = curl_easy_escape(NULL, filter, 0);
    if (esc == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "curl_easy_escape() failed: out of memory");
        goto done;
    }
    int n = snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        err_set(e, ERR_INTERNAL, NULL, 0, "the container filter %.200s is too long", filter);
        goto done;
    }
    docker_rc rc = docker_call(c, "GET", path, NULL, REAP_TIMEOUT_MS, &body, &dr);
    if (rc != DOCKER_OK) {
        docker_err(rc, &dr, e);
        err_prefix(e, "listing containers");
        goto done;
    }
    list = json_tokener_parse(body.data ? body.data : "");
    if (!json_object_is_type(list, json_type_array)) {
        err_set(e, ERR_ENGINE, NULL, 0, "listing containers: the answer is not a JSON array");
        goto done;
    }
    removed = 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *ctr = json_object_array_get_idx(list, i), *id, *labels, *inv;
        if (!json_object_object_get_ex(ctr, "Id", &id) ||
            !json_object_object_get_ex(ctr, "Labels", &labels) || keep(labels, arg))
            continue;
        json_object_object_get_ex(labels, "minilambda.invocation", &inv);
        snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", json_object_get_string(id));
        rc = docker_call(c, "DELETE", path, NULL, REAP_TIMEOUT_MS, NULL, &dr);
        if (rc == DOCKER_OK || (rc == DOCKER_API_ERROR && dr.status == 404)) {
            log_info("janitor: removed container %.12s (invocation %s)", json_object_get_string(id),
                     inv ? json_object_get_string(inv) : "?");
            removed++;
        } else {
            log_warn("janitor: remove container %.12s failed: %s", json_object_get_string(id),
                     dr.message);
        }
    }
done:
    json_object_put(list);
    buf_free(&body);
    return removed;
}

/* Keep containers the runtime is using. */
static bool reap_keep_live(json_object *labels, void *arg)
{
    return runtime_live(arg, labels);
}

static bool reap_keep_none(json_object *labels, void *arg)
{
    (void)labels;
    (void)arg;
    return false;
}

int reap_sweep(docker_conn_t *c, runtime_t *rt, err_t *e)
{
    char filter[256];
    snprintf(filter, sizeof(filter),
             "{\"label\":[\"minilambda.managed=1\",\"minilambda.instance=%s\"]}", rt->instance);
    return reap_remove(c, filter, reap_keep_live, rt, e);
}

int reap_remove_invocation(docker_conn_t *c, const char *invocation_id, err_t *e)
{
    char filter[256];
    snprintf(filter, sizeof(filter),
             "{\"label\":[\"minilambda.managed=1\",\"minilambda.invocation=%s\"]}", invocation_id);
    return reap_remove(c, filter, reap_keep_none, NULL, e);
}
