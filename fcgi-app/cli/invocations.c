#include "cli/invocations.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/table.h"
#include "cli/view.h"

/* The largest event read from --data @file or stdin; the platform's own
 * limit (6 MiB) is smaller and answers 413 with its exact figure. */
#define INVOCATIONS_EVENT_MAX (16u * 1024 * 1024)

const args_opt invocations_invoke_opts[] = {
    {"data", 'd', ARGS_VALUE, "JSON",
     "the event: JSON text, @FILE, or - for stdin (default: stdin when it is not a terminal)",
     NULL},
    {"async", 0, ARGS_FLAG, NULL, "queue the run and print its invocation id", NULL},
    {"timeout", 0, ARGS_VALUE, "S", "bound this run (1..900; default: the function's)", NULL},
    {"logs", 0, ARGS_FLAG, NULL, "print the function's logs (stderr) on stderr, also on success",
     NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

const args_opt invocations_ls_opts[] = {
    {"function", 'f', ARGS_VALUE, "NAME", "only this function's invocations", "@functions"},
    {"status", 's', ARGS_VALUE, "STATUS", "only these: PENDING, RUNNING, COMPLETED, FAILED, ...",
     "PENDING RUNNING COMPLETED FAILED TIMEOUT CANCELLED"},
    {"limit", 'n', ARGS_VALUE, "N", "at most N records", NULL},
    {"quiet", 'q', ARGS_FLAG, NULL, "only the ids, one a line", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

/* Read all of `fd` into `out` (bounded by its max); `what` names it. */
static cli_exit invocations_read_fd(int fd, const char *what, buf_t *out, err_t *e)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set(e, ERR_INVALID, "usage", errno, "read(%s) failed: %s", what, strerror(errno));
            return CLI_USAGE;
        }
        if (n == 0)
            return CLI_OK;
        if (buf_append(out, chunk, (size_t)n) != BUF_OK) {
            err_set(e, ERR_TOO_LARGE, "usage", 0, "%s is larger than %zu bytes", what, out->max);
            return CLI_USAGE;
        }
    }
}

/* Whether `s` (`len` bytes, NUL after them) is one JSON value, strictly;
 * `e` says where it is not. */
static cli_exit invocations_check_json(const char *what, const char *s, size_t len, err_t *e)
{
    json_tokener *tok = json_tokener_new();
    cli_exit rc = CLI_USAGE;
    if (tok == NULL) {
        err_set(e, ERR_NOMEM, NULL, 0, "json_tokener_new() failed: out of memory");
        return CLI_FAILED;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    /* With the NUL the tokener sees the end (a number could go on). */
    json_object *o = json_tokener_parse_ex(tok, s, (int)len + 1);
    size_t end = json_tokener_get_parse_end(tok);
    if (o == NULL)
        err_set(e, ERR_INVALID, "usage", 0, "%s is not JSON: %s at byte %zu", what,
                json_tokener_error_desc(json_tokener_get_error(tok)), end);
    else if (end < len && strspn(s + end, " \t\r\n") != len - end)
        err_set(e, ERR_INVALID, "usage", 0, "%s has more after its JSON value, at byte %zu", what,
                end);
    else
        rc = CLI_OK;
    json_object_put(o);
    json_tokener_free(tok);
    return rc;
}

/* The event of `invoke` into `out`: --data JSON, --data @FILE, --data - or
 * stdin when it is not a terminal. Empty (no event) when there is none. */
static cli_exit invocations_event(const args_t *a, buf_t *out, err_t *e)
{
    const char *d = args_get(a, "data");
    const char *what = "the event";
    cli_exit rc = CLI_OK;
    if (d == NULL && isatty(STDIN_FILENO))
        return CLI_OK;
    if (d == NULL || strcmp(d, "-") == 0) {
        what = "the event on stdin";
        rc = invocations_read_fd(STDIN_FILENO, "stdin", out, e);
    } else if (d[0] == '@') {
        int fd = open(d + 1, O_RDONLY | O_CLOEXEC);
        what = d;
        if (fd < 0) {
            err_set(e, ERR_INVALID, "usage", errno, "--data %.200s: open(%.200s) failed: %s", d,
                    d + 1, strerror(errno));
            return CLI_USAGE;
        }
        rc = invocations_read_fd(fd, d + 1, out, e);
        close(fd);
    } else if (buf_puts(out, d) != BUF_OK) {
        err_set(e, ERR_TOO_LARGE, "usage", 0, "--data is larger than %zu bytes", out->max);
        return CLI_USAGE;
    }
    if (rc != CLI_OK)
        return rc;
    /* Nothing but white space: no event at all (the function gets {}). */
    if (out->len == 0 || strspn(out->data, " \t\r\n") == out->len) {
        if (d != NULL && d[0] != '@' && strcmp(d, "-") != 0) {
            err_set(e, ERR_INVALID, "usage", 0, "--data is empty");
            return CLI_USAGE;
        }
        buf_reset(out);
        return CLI_OK;
    }
    if (memchr(out->data, '\0', out->len) != NULL) {
        err_set(e, ERR_INVALID, "usage", 0, "%s holds a NUL byte", what);
        return CLI_USAGE;
    }
    return invocations_check_json(what, out->data, out->len, e);
}

cli_exit invocations_invoke(api_ctx *x, const args_t *a, err_t *e)
{
    buf_t event, body, path;
    client_reply r;
    long timeout = 0;
    bool async = args_has(a, "async");
    cli_exit rc;

    buf_init(&event, INVOCATIONS_EVENT_MAX);
    buf_init(&body, INVOCATIONS_EVENT_MAX + 64);
    buf_init(&path, API_PATH_MAX);
    client_reply_init(&r);
    if ((rc = api_path(&path, "/invoke/", a->pos[0], async ? "/async" : "", e)) != CLI_OK)
        goto done;
    if (args_long(a, "timeout", 0, 2147483647L, &timeout, e) < 0) {
        rc = CLI_USAGE;
        goto done;
    }
    if ((rc = invocations_event(a, &event, e)) != CLI_OK)
        goto done;
    /* The event goes into the body byte for byte, as the platform hands it
     * to the function: spliced in, never re-serialised. */
    if (buf_puts(&body, "{") != BUF_OK ||
        (event.len > 0 && (buf_puts(&body, "\"event\":") != BUF_OK ||
                           buf_append(&body, event.data, event.len) != BUF_OK)) ||
        (timeout > 0 &&
         buf_printf(&body, "%s\"timeout\":%ld", event.len > 0 ? "," : "", timeout) != BUF_OK) ||
        buf_puts(&body, "}") != BUF_OK) {
        err_set(e, ERR_NOMEM, NULL, 0, "building the request body failed: out of memory");
        rc = CLI_FAILED;
        goto done;
    }
    rc = client_call(x->client, "POST", path.data, "application/json", body.data, body.len, 0, &r,
                     e);
    if (rc != CLI_OK)
        goto done;
    if (x->output == CLI_OUT_JSON && r.body.len > 0)
        view_raw(&r);
    rc = client_check(&r, e);
    if (x->output == CLI_OUT_TABLE) {
        if (async && rc == CLI_OK) {
            const char *id = client_str(&r, "invocation_id");
            printf("%s\n", id != NULL ? id : "");
        } else if (!async) {
            view_member(&r, "result", stdout);
            if (rc != CLI_OK || args_has(a, "logs")) {
                fflush(stdout);
                view_member(&r, "logs", stderr);
            }
            json_object *tr = view_get(r.json, "truncated");
            if (tr != NULL && json_object_get_boolean(tr))
                fprintf(stderr, "minilambda: invoke: the platform cut the output at its cap\n");
        }
    }
    if (rc != CLI_OK && r.invocation[0] != '\0')
        err_prefix(e, "invocation %s", r.invocation);
done:
    client_reply_free(&r);
    buf_free(&path);
    buf_free(&body);
    buf_free(&event);
    return rc;
}

cli_exit invocations_ls(api_ctx *x, const args_t *a, err_t *e)
{
    static const char *const head[] = {"ID", "FUNCTION", "STATUS", "ATTEMPTS", "CREATED", "ERROR"};
    static const char *const filters[] = {"function", "status", "limit"};
    buf_t path;
    client_reply r;
    table_t t;
    cli_exit rc = CLI_OK;
    long limit;

    buf_init(&path, API_PATH_MAX);
    client_reply_init(&r);
    if (args_long(a, "limit", 1, 2147483647L, &limit, e) < 0) {
        rc = CLI_USAGE;
        goto done;
    }
    buf_puts(&path, "/invocations");
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        const char *v = args_get(a, filters[i]);
        if (v == NULL)
            continue;
        if ((rc = api_path(&path, path.len == strlen("/invocations") ? "?" : "&", filters[i], "=",
                           e)) != CLI_OK ||
            (rc = api_path(&path, "", v, "", e)) != CLI_OK)
            goto done;
    }
    rc = api_call(x, "GET", path.data, NULL, API_TIMEOUT_MS, &r, e);
    if (rc != CLI_OK || x->output == CLI_OUT_JSON ||
        (rc = view_expect(&r, json_type_array, e)) != CLI_OK)
        goto done;
    bool quiet = args_has(a, "quiet");
    table_init(&t, quiet ? 1 : 6, quiet ? NULL : head);
    t.max_width = quiet ? 0 : 60;
    for (size_t i = 0; i < json_object_array_length(r.json); i++) {
        json_object *v = json_object_array_get_idx(r.json, i);
        char att[64], n1[24], n2[24];
        const char *fn = view_str(v, "function_name");
        if (fn == NULL)
            fn = view_str(v, "function");
        const char *a1 = view_num(v, "attempts", "", n1, sizeof(n1));
        const char *a2 = view_num(v, "max_attempts", "", n2, sizeof(n2));
        snprintf(att, sizeof(att), "%s/%s", a1 != NULL ? a1 : "-", a2 != NULL ? a2 : "-");
        const char *row[6] = {view_str(v, "id"),         fn,
                              view_str(v, "status"),     a1 != NULL ? att : NULL,
                              view_str(v, "created_at"), view_str(v, "error")};
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
    buf_free(&path);
    return rc;
}

/* GET /invocations/ID into `r`. */
static cli_exit invocations_fetch(api_ctx *x, const char *id, client_reply *r, err_t *e)
{
    buf_t path;
    buf_init(&path, API_PATH_MAX);
    cli_exit rc = api_path(&path, "/invocations/", id, "", e);
    if (rc == CLI_OK)
        rc = api_call(x, "GET", path.data, NULL, API_TIMEOUT_MS, r, e);
    buf_free(&path);
    return rc;
}

cli_exit invocations_get(api_ctx *x, const args_t *a, err_t *e)
{
    client_reply r;
    client_reply_init(&r);
    cli_exit rc = invocations_fetch(x, a->pos[0], &r, e);
    if (rc == CLI_OK && x->output == CLI_OUT_TABLE)
        rc = view_record(&r, e);
    client_reply_free(&r);
    return rc;
}

static void invocations_cancelled(const char *id, const client_reply *r)
{
    const char *s = view_str(r->json, "status");
    buf_t b;
    buf_init(&b, 4096);
    table_escape(id, strlen(id), &b);
    printf("%s %s\n", b.data != NULL ? b.data : "", s != NULL ? s : "CANCELLED");
    buf_free(&b);
}

cli_exit invocations_cancel(api_ctx *x, const args_t *a, err_t *e)
{
    return api_each(x, a, "DELETE", "/invocations/", invocations_cancelled, e);
}

/*
 * The logs of a record: an async record's result.logs today; the records
 * of every call that are coming may put them at the top (logs) or name them
 * by stream (stderr). NULL when the record has none.
 */
static json_object *invocations_logs_of(json_object *rec)
{
    static const char *const keys[] = {"logs", "stderr"};
    json_object *result = view_get(rec, "result");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_object *v = view_get(result, keys[i]);
        if (v == NULL)
            v = view_get(rec, keys[i]);
        if (v != NULL && json_object_is_type(v, json_type_string))
            return v;
    }
    return NULL;
}

cli_exit invocations_logs(api_ctx *x, const args_t *a, err_t *e)
{
    client_reply r;
    client_reply_init(&r);
    cli_exit rc = invocations_fetch(x, a->pos[0], &r, e);
    if (rc != CLI_OK || x->output == CLI_OUT_JSON ||
        (rc = view_expect(&r, json_type_object, e)) != CLI_OK)
        goto done;
    json_object *logs = invocations_logs_of(r.json);
    if (logs == NULL) {
        const char *st = view_str(r.json, "status");
        fprintf(stderr, "minilambda: inv logs: the record has no logs (yet: its status is %s)\n",
                st != NULL ? st : "unknown");
        goto done;
    }
    view_write(json_object_get_string(logs), (size_t)json_object_get_string_len(logs));
    json_object *tr = view_get(view_get(r.json, "result"), "truncated");
    if (tr == NULL)
        tr = view_get(r.json, "truncated");
    if (tr != NULL && json_object_get_boolean(tr))
        fprintf(stderr, "minilambda: inv logs: the platform cut the logs at its cap\n");
done:
    client_reply_free(&r);
    return rc;
}
