#include "cli/api.h"

#include <stdio.h>
#include <string.h>

#include "cli/view.h"

/* `prefix` + `s` percent-escaped + `suffix` into `path`. */
cli_exit api_path(buf_t *path, const char *prefix, const char *s, const char *suffix, err_t *e)
{
    if (buf_puts(path, prefix) != BUF_OK || client_escape(s, path) != 0 ||
        buf_puts(path, suffix) != BUF_OK) {
        err_set(e, ERR_INVALID, "usage", 0, "\"%.64s...\" is too long", s);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/*
 * One call whose answer is checked: CLI_OK for a 2xx, otherwise the exit
 * code with `e`. In JSON mode the answer is printed as it came whatever its
 * status, so a script sees the API's `code` too.
 */
cli_exit api_call(api_ctx *x, const char *method, const char *path, const char *body,
                  long timeout_ms, client_reply *r, err_t *e)
{
    cli_exit rc = client_call(x->client, method, path, body != NULL ? "application/json" : NULL,
                              body, body != NULL ? strlen(body) : 0, timeout_ms, r, e);
    if (rc != CLI_OK)
        return rc;
    if (x->output == CLI_OUT_JSON && r->body.len > 0)
        view_raw(r);
    return client_check(r, e);
}

/* Run `method` on PREFIX/ID for each positional ID, going on past a
 * failure; the exit code is the last failure's. `done_fn` prints a line
 * for each success in table mode. */
cli_exit api_each(api_ctx *x, const args_t *a, const char *method, const char *prefix,
                  void (*done_fn)(const char *id, const client_reply *r), err_t *e)
{
    cli_exit worst = CLI_OK;
    for (int i = 0; i < a->npos; i++) {
        buf_t path;
        client_reply r;
        err_t one;
        err_clear(&one);
        buf_init(&path, API_PATH_MAX);
        client_reply_init(&r);
        cli_exit rc = api_path(&path, prefix, a->pos[i], "", &one);
        if (rc == CLI_OK)
            rc = api_call(x, method, path.data, NULL, API_TIMEOUT_MS, &r, &one);
        if (rc == CLI_OK && x->output == CLI_OUT_TABLE)
            done_fn(a->pos[i], &r);
        if (rc != CLI_OK) {
            /* Each failure is told; the last one is main's to print. */
            if (worst != CLI_OK)
                fprintf(stderr, "minilambda: %s: %s\n", x->words, e->msg);
            worst = rc;
            *e = one;
            err_prefix(e, "%.100s", a->pos[i]);
        }
        client_reply_free(&r);
        buf_free(&path);
    }
    return worst;
}
