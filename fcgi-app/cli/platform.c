#include "cli/platform.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/push.h"
#include "cli/table.h"
#include "cli/view.h"

const args_opt platform_push_opts[] = {
    {"progress", 0, ARGS_FLAG, NULL, "draw the progress bar even when stderr is no terminal", NULL},
    {"no-progress", 0, ARGS_FLAG, NULL, "never draw it", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

const args_opt platform_images_opts[] = {
    {"quiet", 'q', ARGS_FLAG, NULL, "only the tags, one a line", NULL},
    {"detail", 0, ARGS_FLAG, NULL, "with -o json: objects with id, tags, size, created", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

cli_exit platform_push(api_ctx *x, const args_t *a, err_t *e)
{
    client_reply r;
    const char *tag = a->pos[0];
    bool progress = args_has(a, "progress") || (!args_has(a, "no-progress") && isatty(2));
    if (tag[0] == '-' || tag[0] == '\0') {
        err_set(e, ERR_INVALID, "usage", 0, "\"%.64s\" is not an image tag", tag);
        return CLI_USAGE;
    }
    client_reply_init(&r);
    cli_exit rc = push_image(x->client, x->docker, tag, progress, &r, e);
    if (rc != CLI_OK)
        goto done;
    if (x->output == CLI_OUT_JSON && r.body.len > 0)
        view_raw(&r);
    if ((rc = client_check(&r, e)) != CLI_OK || x->output == CLI_OUT_JSON)
        goto done;
    json_object *images = view_get(r.json, "images");
    char size[32] = "?";
    json_object *fs = view_get(r.json, "file_size");
    if (fs != NULL)
        table_bytes((long long)json_object_get_int64(fs), size, sizeof(size));
    buf_t list;
    buf_init(&list, 64 * 1024);
    table_json_cell(images, &list);
    buf_t safe;
    buf_init(&safe, 64 * 1024);
    table_escape(list.data != NULL ? list.data : "", list.len, &safe);
    printf("pushed %s: loaded %s\n", size, safe.data != NULL ? safe.data : "");
    buf_free(&safe);
    buf_free(&list);
done:
    client_reply_free(&r);
    return rc;
}

cli_exit platform_images(api_ctx *x, const args_t *a, err_t *e)
{
    static const char *const head[] = {"TAG", "ID", "SIZE", "CREATED"};
    client_reply r;
    table_t t;
    bool quiet = args_has(a, "quiet");
    bool detail = x->output == CLI_OUT_TABLE ? !quiet : args_has(a, "detail");
    client_reply_init(&r);
    cli_exit rc =
        api_call(x, "GET", detail ? "/images?detail=1" : "/images", NULL, API_TIMEOUT_MS, &r, e);
    if (rc != CLI_OK || x->output == CLI_OUT_JSON ||
        (rc = view_expect(&r, json_type_array, e)) != CLI_OK)
        goto done;
    table_init(&t, quiet ? 1 : 4, quiet ? NULL : head);
    for (size_t i = 0; i < json_object_array_length(r.json); i++) {
        json_object *img = json_object_array_get_idx(r.json, i);
        if (quiet) {
            const char *row[1] = {json_object_get_string(img)};
            if (table_add(&t, row) != 0)
                goto nomem;
            continue;
        }
        char id[16] = "-", size[32] = "-";
        const char *full = view_str(img, "id");
        if (full != NULL)
            snprintf(id, sizeof(id), "%.12s", strncmp(full, "sha256:", 7) == 0 ? full + 7 : full);
        json_object *sz = view_get(img, "size");
        if (sz != NULL)
            table_bytes((long long)json_object_get_int64(sz), size, sizeof(size));
        json_object *tags = view_get(img, "tags");
        size_t ntags = tags != NULL && json_object_is_type(tags, json_type_array)
                           ? json_object_array_length(tags)
                           : 0;
        for (size_t k = 0; k < (ntags > 0 ? ntags : 1); k++) {
            const char *tag =
                ntags > 0 ? json_object_get_string(json_object_array_get_idx(tags, k)) : "<none>";
            const char *row[4] = {tag, id, size, view_str(img, "created")};
            if (table_add(&t, row) != 0)
                goto nomem;
        }
    }
    rc = view_table(&t, e);
    goto done;
nomem:
    table_free(&t);
    err_set(e, ERR_NOMEM, NULL, 0, "out of memory");
    rc = CLI_FAILED;
done:
    client_reply_free(&r);
    return rc;
}

cli_exit platform_health(api_ctx *x, const args_t *a, err_t *e)
{
    static const char *const head[] = {"COMPONENT", "STATUS", "DETAIL"};
    client_reply r;
    table_t t;
    buf_t detail, failed;
    (void)a;
    client_reply_init(&r);
    buf_init(&detail, 64 * 1024);
    buf_init(&failed, 4096);
    cli_exit rc = client_call(x->client, "GET", "/healthz", NULL, NULL, 0, API_TIMEOUT_MS, &r, e);
    if (rc != CLI_OK)
        goto done;
    if (x->output == CLI_OUT_JSON && r.body.len > 0)
        view_raw(&r);
    /* 503 is an answer too: it names what failed. */
    if (r.status != 200 && r.status != 503) {
        rc = client_check(&r, e);
        goto done;
    }
    if ((rc = view_expect(&r, json_type_object, e)) != CLI_OK)
        goto done;
    const char *status = view_str(r.json, "status");
    json_object *comps = view_get(r.json, "components");
    if (x->output == CLI_OUT_TABLE)
        printf("platform: %s\n", status != NULL ? status : "?");
    table_init(&t, 3, head);
    if (comps != NULL && json_object_is_type(comps, json_type_object)) {
        json_object_object_foreach(comps, name, c)
        {
            const char *cs = view_str(c, "status");
            buf_reset(&detail);
            if (c != NULL && json_object_is_type(c, json_type_object)) {
                json_object_object_foreach(c, k, v)
                {
                    if (strcmp(k, "status") == 0)
                        continue;
                    buf_printf(&detail, "%s%s=", detail.len > 0 ? ", " : "", k);
                    table_json_cell(v, &detail);
                }
            }
            if (cs != NULL && strcmp(cs, "ok") != 0)
                buf_printf(&failed, "%s%s", failed.len > 0 ? ", " : "", name);
            const char *row[3] = {name, cs, detail.len > 0 ? detail.data : ""};
            table_add(&t, row);
        }
    }
    if (x->output == CLI_OUT_TABLE)
        rc = view_table(&t, e);
    else
        table_free(&t);
    if (rc == CLI_OK && r.status != 200) {
        err_set(e, ERR_INTERNAL, NULL, 0, "the platform is %s (HTTP %ld): failed: %s",
                status != NULL ? status : "not healthy", r.status,
                failed.len > 0 ? failed.data : "?");
        rc = CLI_FAILED;
    }
done:
    buf_free(&failed);
    buf_free(&detail);
    client_reply_free(&r);
    return rc;
}
