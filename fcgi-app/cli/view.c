#include "cli/view.h"

#include <stdio.h>
#include <string.h>

/* Write `n` bytes to stdout. Errors show at the final fflush (main). */
void view_write(const char *p, size_t n)
{
    if (n > 0)
        fwrite(p, 1, n, stdout);
}

/* The API's JSON as it came, ending in a newline. */
void view_raw(const client_reply *r)
{
    view_write(r->body.data, r->body.len);
    if (r->body.len > 0 && r->body.data[r->body.len - 1] != '\n')
        fputc('\n', stdout);
}

cli_exit view_table(table_t *t, err_t *e)
{
    buf_t out;
    cli_exit rc = CLI_OK;
    buf_init(&out, TABLE_MAX_BYTES);
    if (table_render(t, &out) != 0) {
        err_set(e, ERR_NOMEM, NULL, 0, "rendering the table failed: out of memory");
        rc = CLI_FAILED;
    } else {
        view_write(out.data, out.len);
    }
    buf_free(&out);
    table_free(t);
    return rc;
}

json_object *view_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

/* The string member `key` of `o`, or NULL. */
const char *view_str(json_object *o, const char *key)
{
    json_object *v = view_get(o, key);
    return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The number member `key` of `o` followed by `unit` into `out`, or NULL. */
const char *view_num(json_object *o, const char *key, const char *unit, char *out, size_t outlen)
{
    json_object *v = view_get(o, key);
    if (v == NULL)
        return NULL;
    if (json_object_is_type(v, json_type_int))
        snprintf(out, outlen, "%lld%s", (long long)json_object_get_int64(v), unit);
    else if (json_object_is_type(v, json_type_double))
        snprintf(out, outlen, "%g%s", json_object_get_double(v), unit);
    else
        return NULL;
    return out;
}

/* The reply's body must be JSON of `type` for a table to be drawn. */
cli_exit view_expect(const client_reply *r, json_type type, err_t *e)
{
    if (r->json != NULL && json_object_is_type(r->json, type))
        return CLI_OK;
    err_set(e, ERR_INTERNAL, NULL, 0, "the platform's answer is not the JSON %s expected: %.80s",
            type == json_type_array ? "array" : "object",
            r->body.len > 0 ? r->body.data : "(empty)");
    return CLI_FAILED;
}

/* Rows "field  value" of a record; objects one level down are spread out
 * as "parent.field" rows (env.GREETING, result.output). */
static int view_record_rows(table_t *t, json_object *obj, const char *prefix)
{
    buf_t key, val;
    int rc = 0;
    buf_init(&key, 4096);
    buf_init(&val, TABLE_MAX_BYTES);
    json_object_object_foreach(obj, k, v)
    {
        if (prefix == NULL && v != NULL && json_object_is_type(v, json_type_object) &&
            json_object_object_length(v) > 0) {
            if (view_record_rows(t, v, k) != 0)
                rc = -1;
            continue;
        }
        buf_reset(&key);
        buf_reset(&val);
        if ((prefix != NULL && buf_printf(&key, "%s.", prefix) != BUF_OK) ||
            buf_puts(&key, k) != BUF_OK || table_json_cell(v, &val) != 0) {
            rc = -1;
            continue;
        }
        const char *row[2] = {key.data, val.data};
        if (table_add(t, row) != 0)
            rc = -1;
    }
    buf_free(&key);
    buf_free(&val);
    return rc;
}

/* A record as "field  value" lines. */
cli_exit view_record(const client_reply *r, err_t *e)
{
    table_t t;
    if (view_expect(r, json_type_object, e) != CLI_OK)
        return CLI_FAILED;
    table_init(&t, 2, NULL);
    if (view_record_rows(&t, r->json, NULL) != 0) {
        table_free(&t);
        err_set(e, ERR_NOMEM, NULL, 0, "out of memory");
        return CLI_FAILED;
    }
    return view_table(&t, e);
}

/* Print the string member `key` of the reply to `f` as it is, ending in a
 * newline when it has text; nothing when absent. */
void view_member(const client_reply *r, const char *key, FILE *f)
{
    json_object *v = view_get(r->json, key);
    if (v == NULL || !json_object_is_type(v, json_type_string))
        return;
    size_t n = (size_t)json_object_get_string_len(v);
    const char *s = json_object_get_string(v);
    if (n == 0)
        return;
    fwrite(s, 1, n, f);
    if (s[n - 1] != '\n')
        fputc('\n', f);
}
