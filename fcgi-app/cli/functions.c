#include "cli/functions.h"

#include <stdio.h>
#include <string.h>

#include "cli/table.h"
#include "cli/view.h"

/* The function's settings, shared by fn create and fn update. */
const args_opt functions_field_opts[] = {
    {"timeout", 0, ARGS_VALUE, "S", "seconds a run may take (1..900, default 120)", NULL},
    {"memory", 0, ARGS_VALUE, "MB", "memory limit in MiB (16..65536, default 256)", NULL},
    {"cpus", 0, ARGS_VALUE, "N", "CPUs, fractions allowed (0.01..64, default 1.0)", NULL},
    {"env", 'e', ARGS_LIST, "K=V", "an environment variable; repeat for more", NULL},
    {"keep-warm", 0, ARGS_VALUE, "N", "containers kept started ahead of calls (0..16)", NULL},
    {"reuse", 0, ARGS_VALUE, "MODE", "reuse between calls: none, container or process",
     "none container process"},
    {"network", 0, ARGS_VALUE, "MODE", "none (default) or bridge", "none bridge"},
    {"retries", 0, ARGS_VALUE, "N", "extra runs of a failed async invocation (0..3)", NULL},
    {"user", 0, ARGS_VALUE, "USER", "who the function runs as (default 65534:65534)", NULL},
    {"runtime", 0, ARGS_VALUE, "NAME", "an OCI runtime the engine has, e.g. runsc", NULL},
    {"protocol", 0, ARGS_VALUE, "P", "stdio (default) or lambda (the Lambda Runtime API)",
     "stdio lambda"},
    {"handler", 0, ARGS_VALUE, "H", "lambda: the _HANDLER, e.g. app.handler (default: CMD)", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

const args_opt functions_update_opts[] = {
    {"image", 0, ARGS_VALUE, "IMAGE", "run this image (pins it again, even when unchanged)",
     "@images"},
    {"clear-env", 0, ARGS_FLAG, NULL, "remove every environment variable (--env replaces them all)",
     NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

const args_opt functions_ls_opts[] = {
    {"quiet", 'q', ARGS_FLAG, NULL, "only the names, one a line", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

/* Options of the function's settings and the JSON fields they set. */
typedef enum { FUNCTIONS_INT, FUNCTIONS_NUM, FUNCTIONS_STR } functions_kind;
static const struct {
    const char *opt, *field;
    functions_kind kind;
} functions_fields[] = {
    {"image", "image", FUNCTIONS_STR},         {"timeout", "timeout", FUNCTIONS_INT},
    {"memory", "memory_mb", FUNCTIONS_INT},    {"cpus", "cpus", FUNCTIONS_NUM},
    {"keep-warm", "keep_warm", FUNCTIONS_INT}, {"reuse", "reuse", FUNCTIONS_STR},
    {"network", "network", FUNCTIONS_STR},     {"retries", "retries", FUNCTIONS_INT},
    {"user", "user", FUNCTIONS_STR},           {"runtime", "runtime", FUNCTIONS_STR},
    {"protocol", "protocol", FUNCTIONS_STR},   {"handler", "handler", FUNCTIONS_STR},
};

/* Add the settings options given to `obj` as the record's fields. */
static cli_exit functions_fields_json(const args_t *a, json_object *obj, err_t *e)
{
    for (size_t i = 0; i < sizeof(functions_fields) / sizeof(functions_fields[0]); i++) {
        const char *opt = functions_fields[i].opt;
        long l;
        double d;
        json_object *v = NULL;
        int got = 0;
        switch (functions_fields[i].kind) {
        case FUNCTIONS_INT:
            /* The platform checks the range and names it; here only the syntax. */
            if ((got = args_long(a, opt, -2147483647L, 2147483647L, &l, e)) == 1)
                v = json_object_new_int64(l);
            break;
        case FUNCTIONS_NUM:
            if ((got = args_double(a, opt, &d, e)) == 1)
                v = json_object_new_double(d);
            break;
        case FUNCTIONS_STR:
            if (args_get(a, opt) != NULL) {
                got = 1;
                v = json_object_new_string(args_get(a, opt));
            }
            break;
        }
        if (got < 0)
            return CLI_USAGE;
        if (got == 1)
            json_object_object_add(obj, functions_fields[i].field, v);
    }
    int it = 0;
    const char *kv;
    json_object *env = args_has(a, "clear-env") ? json_object_new_object() : NULL;
    while ((kv = args_next(a, "env", &it)) != NULL) {
        const char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            json_object_put(env);
            err_set(e, ERR_INVALID, "usage", 0, "--env %.64s: expected NAME=VALUE", kv);
            return CLI_USAGE;
        }
        if (env == NULL)
            env = json_object_new_object();
        char name[256];
        int n = snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
        if (n < 0 || (size_t)n >= sizeof(name)) {
            json_object_put(env);
            err_set(e, ERR_INVALID, "usage", 0, "--env: the name %.64s... is too long", kv);
            return CLI_USAGE;
        }
        json_object_object_add(env, name, json_object_new_string(eq + 1));
    }
    if (env != NULL)
        json_object_object_add(obj, "env", env);
    return CLI_OK;
}

/* The positional arguments from `from` on as the record's "command". */
static void functions_command_json(const args_t *a, int from, json_object *obj)
{
    if (a->npos <= from)
        return;
    json_object *cmd = json_object_new_array();
    for (int i = from; i < a->npos; i++)
        json_object_array_add(cmd, json_object_new_string(a->pos[i]));
    json_object_object_add(obj, "command", cmd);
}

/* POST or PATCH the record `obj`, and show what the platform made of it. */
static cli_exit functions_write(api_ctx *x, const char *method, const char *path, json_object *obj,
                                err_t *e)
{
    client_reply r;
    client_reply_init(&r);
    cli_exit rc = api_call(x, method, path,
                           json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
                           API_TIMEOUT_MS, &r, e);
    if (rc == CLI_OK && x->output == CLI_OUT_TABLE)
        rc = view_record(&r, e);
    client_reply_free(&r);
    return rc;
}

cli_exit functions_create(api_ctx *x, const args_t *a, err_t *e)
{
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "name", json_object_new_string(a->pos[0]));
    json_object_object_add(obj, "image", json_object_new_string(a->pos[1]));
    cli_exit rc = functions_fields_json(a, obj, e);
    if (rc == CLI_OK) {
        functions_command_json(a, 2, obj);
        rc = functions_write(x, "POST", "/functions", obj, e);
    }
    json_object_put(obj);
    return rc;
}

cli_exit functions_update(api_ctx *x, const args_t *a, err_t *e)
{
    buf_t path;
    json_object *obj = json_object_new_object();
    cli_exit rc;
    buf_init(&path, API_PATH_MAX);
    if ((rc = api_path(&path, "/functions/", a->pos[0], "", e)) != CLI_OK ||
        (rc = functions_fields_json(a, obj, e)) != CLI_OK)
        goto done;
    functions_command_json(a, 1, obj);
    if (json_object_object_length(obj) == 0) {
        err_set(e, ERR_INVALID, "usage", 0,
                "nothing to change: give --image, a setting, or a command after --");
        rc = CLI_USAGE;
        goto done;
    }
    rc = functions_write(x, "PATCH", path.data, obj, e);
done:
    json_object_put(obj);
    buf_free(&path);
    return rc;
}

cli_exit functions_ls(api_ctx *x, const args_t *a, err_t *e)
{
    static const char *const head[] = {"NAME", "IMAGE", "TIMEOUT", "MEMORY", "CPUS", "CREATED"};
    client_reply r;
    table_t t;
    client_reply_init(&r);
    cli_exit rc = api_call(x, "GET", "/functions", NULL, API_TIMEOUT_MS, &r, e);
    if (rc != CLI_OK || x->output == CLI_OUT_JSON ||
        (rc = view_expect(&r, json_type_array, e)) != CLI_OK)
        goto done;
    bool quiet = args_has(a, "quiet");
    table_init(&t, quiet ? 1 : 6, quiet ? NULL : head);
    for (size_t i = 0; i < json_object_array_length(r.json); i++) {
        json_object *f = json_object_array_get_idx(r.json, i);
        char tmo[32], mem[32], cpus[32];
        const char *row[6] = {view_str(f, "name"),
                              view_str(f, "image"),
                              view_num(f, "timeout", "s", tmo, sizeof(tmo)),
                              view_num(f, "memory_mb", " MiB", mem, sizeof(mem)),
                              view_num(f, "cpus", "", cpus, sizeof(cpus)),
                              view_str(f, "created_at")};
        if (table_add(&t, row) != 0) {
            table_free(&t);
            err_set(e, ERR_NOMEM, NULL, 0, "out of memory");
            rc = CLI_FAILED;
            goto done;
        }
    }
    rc = view_table(&t, e);
done:
    client_reply_free(&r);
    return rc;
}

cli_exit functions_get(api_ctx *x, const args_t *a, err_t *e)
{
    buf_t path;
    client_reply r;
    cli_exit rc;
    buf_init(&path, API_PATH_MAX);
    client_reply_init(&r);
    if ((rc = api_path(&path, "/functions/", a->pos[0], "", e)) == CLI_OK &&
        (rc = api_call(x, "GET", path.data, NULL, API_TIMEOUT_MS, &r, e)) == CLI_OK &&
        x->output == CLI_OUT_TABLE)
        rc = view_record(&r, e);
    client_reply_free(&r);
    buf_free(&path);
    return rc;
}

static void functions_deleted(const char *name, const client_reply *r)
{
    (void)r;
    buf_t b;
    buf_init(&b, 4096);
    table_escape(name, strlen(name), &b);
    printf("deleted function %s\n", b.data != NULL ? b.data : "");
    buf_free(&b);
}

cli_exit functions_rm(api_ctx *x, const args_t *a, err_t *e)
{
    return api_each(x, a, "DELETE", "/functions/", functions_deleted, e);
}
