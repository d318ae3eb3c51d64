#include "http/openapi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http/apidoc.h"
#include "http/http.h"
#include "http/lambda.h"
#include "http/route.h"
#include "run/health.h"
#include "state/func.h"
#include "state/keys.h"
#include "state/status.h"

/* The choices of the schemas built here from the code's tables. */
static const char *const openapi_health_status[] = {"ok", "unavailable", NULL};
static const char *const openapi_docker_status[] = {"reachable", "unreachable", NULL};
static const char *const openapi_types[] = {"Event", "RequestResponse", NULL};
static const char *const openapi_amz_types[] = {"RequestResponse", "Event", "DryRun", NULL};
/* The Lambda Invoke API's other request headers and what they do. */
static const char *const openapi_amz_headers[][2] = {
    {"X-Amz-Log-Type", "`Tail`: `X-Amz-Log-Result` carries the last 4 KB of the call's logs in "
                       "base64 (a synchronous call); `None` or absent: no logs."},
    {"X-Amz-Client-Context", "A JSON object in base64 (at most 3,583 characters), passed to the "
                             "function."},
    {NULL, NULL},
};

/* ------------------------------------------------------------------ */
/* Building                                                            */

/* One error an operation may answer. */
typedef struct {
    int status;
    const char *code;
    bool run;        /* a run's outcome: the body is an InvokeResult */
    bool native;     /* in the API's envelope on a Lambda route (nginx's own) */
    const char *why; /* on a Lambda route, the API's code it stands for, or NULL */
} openapi_err;

#define OPENAPI_ERRS_MAX 64

typedef struct {
    openapi_err v[OPENAPI_ERRS_MAX];
    size_t n;
    bool full; /* one did not fit: raise OPENAPI_ERRS_MAX */
    bool amz;  /* a Lambda route: errors are Lambda types in LambdaError */
} openapi_errs;

/* What building the document carries along. */
typedef struct {
    json_object *schemas; /* components.schemas, borrowed from the document */
    json_object *codes;   /* every error code the document names, owned */
} openapi_build;

static const char *openapi_method_name(unsigned bit)
{
    switch (bit) {
    case HTTP_GET:
        return "get";
    case HTTP_POST:
        return "post";
    case HTTP_PATCH:
        return "patch";
    case HTTP_DELETE:
        return "delete";
    default:
        return "head";
    }
}

static int openapi_kind_status(err_kind kind)
{
    err_t x;
    err_clear(&x);
    x.kind = kind;
    return err_status(&x);
}

static const char *openapi_kind_code(err_kind kind, const char *code)
{
    err_t x;
    if (code != NULL)
        return code;
    err_clear(&x);
    x.kind = kind;
    return err_code(&x);
}

/* Parse JSON written with ' for ". 0 with `*out` (caller owns; NULL for
 * JSON null), or -1 when it does not parse whole. */
static int openapi_json(const char *text, json_object **out)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    enum json_tokener_error jerr = json_tokener_error_parse_eof;
    *out = NULL;
    if (copy == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    copy[n] = '\0';
    json_tokener *tok = json_tokener_new();
    if (tok != NULL) {
        /* The terminating NUL ends a trailing number. */
        *out = json_tokener_parse_ex(tok, copy, (int)n + 1);
        jerr = json_tokener_get_error(tok);
        /* Nothing may follow the value. */
        if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != n)
            jerr = json_tokener_error_parse_unexpected;
        json_tokener_free(tok);
    }
    free(copy);
    if (jerr == json_tokener_success)
        return 0;
    json_object_put(*out);
    *out = NULL;
    return -1;
}

static void openapi_add_str(json_object *o, const char *key, const char *s)
{
    json_object_object_add(o, key, json_object_new_string(s));
}

/* Append `s` to the array `arr` unless it holds it already. */
static void openapi_add_unique(json_object *arr, const char *s)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
            return;
    json_object_array_add(arr, json_object_new_string(s));
}

/* {"$ref": "#/components/schemas/<name>"} */
static json_object *openapi_ref(const char *name)
{
    char ref[128];
    json_object *o = json_object_new_object();
    snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
    openapi_add_str(o, "$ref", ref);
    return o;
}

/* The schema of type word `word` (apidoc.h). */
static json_object *openapi_type(const char *word)
{
    size_t n = strlen(word);
    json_object *s;
    if (n > 2 && strcmp(word + n - 2, "[]") == 0) {
        char item[64];
        snprintf(item, sizeof(item), "%.*s", (int)(n - 2), word);
        s = json_object_new_object();
        openapi_add_str(s, "type", "array");
        json_object_object_add(s, "items", openapi_type(item));
        return s;
    }
    if (word[0] == '#')
        return openapi_ref(word + 1);
    s = json_object_new_object();
    if (strcmp(word, "any") == 0)
        return s;
    if (strcmp(word, "uuid") == 0 || strcmp(word, "date-time") == 0) {
        openapi_add_str(s, "type", "string");
        openapi_add_str(s, "format", word);
        return s;
    }
    openapi_add_str(s, "type", word);
    return s;
}

/* Let `s` also be null. Returns the schema to use (owning `s`). */
static json_object *openapi_nullable(json_object *s)
{
    json_object *type, *alt, *null;
    if (json_object_object_get_ex(s, "type", &type) &&
        json_object_is_type(type, json_type_string)) {
        json_object *both = json_object_new_array();
        json_object_array_add(both, json_object_get(type));
        json_object_array_add(both, json_object_new_string("null"));
        json_object_object_add(s, "type", both);
        return s;
    }
    alt = json_object_new_object();
    null = json_object_new_object();
    openapi_add_str(null, "type", "null");
    json_object *any = json_object_new_array();
    json_object_array_add(any, s);
    json_object_array_add(any, null);
    json_object_object_add(alt, "anyOf", any);
    return alt;
}

static json_object *openapi_strings(const char *const *list)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; list[i] != NULL; i++)
        json_object_array_add(arr, json_object_new_string(list[i]));
    return arr;
}

/* The schema of member or parameter `p`. -1 when its default does not parse. */
static int openapi_prop_schema(const apidoc_prop *p, json_object **out)
{
    json_object *s = openapi_type(p->type), *def = NULL;
    *out = NULL;
    if (p->flags & APIDOC_BOUNDS) {
        bool whole = strcmp(p->type, "integer") == 0;
        json_object *lo =
            whole ? json_object_new_int64((int64_t)p->lo) : json_object_new_double(p->lo);
        json_object *hi =
            whole ? json_object_new_int64((int64_t)p->hi) : json_object_new_double(p->hi);
        json_object_object_add(s, (p->flags & APIDOC_ABOVE) ? "exclusiveMinimum" : "minimum", lo);
        json_object_object_add(s, "maximum", hi);
    }
    if (p->choices != NULL)
        json_object_object_add(s, "enum", openapi_strings(p->choices));
    if (p->def != NULL) {
        if (openapi_json(p->def, &def) != 0) {
            json_object_put(s);
            return -1;
        }
        json_object_object_add(s, "default", def);
    }
    if (p->desc != NULL)
        openapi_add_str(s, "description", p->desc);
    *out = (p->flags & APIDOC_NULL) ? openapi_nullable(s) : s;
    return 0;
}

static int openapi_shape_schema(const apidoc_shape *sh, json_object **out, err_t *e)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *required = json_object_new_array();
    openapi_add_str(s, "type", "object");
    openapi_add_str(s, "description", sh->desc);
    json_object_object_add(s, "properties", props);
    json_object_object_add(s, "required", required);
    if (sh->closed)
        json_object_object_add(s, "additionalProperties", json_object_new_boolean(0));
    for (const apidoc_prop *p = sh->props; p->name != NULL; p++) {
        json_object *ps = NULL;
        if (openapi_prop_schema(p, &ps) != 0) {
            json_object_put(s);
            return err_set(e, ERR_INTERNAL, NULL, 0, "schema %s: the default of %s does not parse",
                           sh->name, p->name);
        }
        json_object_object_add(props, p->name, ps);
        if (p->flags & APIDOC_REQ)
            json_object_array_add(required, json_object_new_string(p->name));
    }
    *out = s;
    return 0;
}

/* The enum schema of `words` (a new array), described by `desc`. */
static json_object *openapi_enum(json_object *words, const char *desc)
{
    json_object *s = json_object_new_object();
    openapi_add_str(s, "type", "string");
    json_object_object_add(s, "enum", words);
    openapi_add_str(s, "description", desc);
    return s;
}

/* /healthz's answer: one member per part health.c checks. */
static json_object *openapi_health(void)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *parts = json_object_new_object(), *part_props = json_object_new_object();
    json_object *names = json_object_new_array();
    for (int p = 0; p < HEALTH__N; p++) {
        json_object_object_add(part_props, health_name(p), openapi_ref("HealthComponent"));
        json_object_array_add(names, json_object_new_string(health_name(p)));
    }
    openapi_add_str(parts, "type", "object");
    json_object_object_add(parts, "properties", part_props);
    json_object_object_add(parts, "required", json_object_get(names));
    json_object *status = openapi_enum(openapi_strings(openapi_health_status), "Whether every "
                                                                               "part is up.");
    json_object *docker =
        openapi_enum(openapi_strings(openapi_docker_status), "Whether the engine answers.");
    json_object *failed = json_object_new_object(), *item = json_object_new_object();
    openapi_add_str(item, "type", "string");
    json_object_object_add(item, "enum", json_object_get(names));
    openapi_add_str(failed, "type", "array");
    json_object_object_add(failed, "items", item);
    openapi_add_str(failed, "description", "The parts that are down.");
    json_object *code =
        openapi_enum(openapi_strings(apidoc_health_codes), "The first failed part's code.");
    json_object *error = json_object_new_object();
    openapi_add_str(error, "type", "string");
    openapi_add_str(error, "description", "One line naming each failed part and why.");
    json_object_object_add(props, "status", status);
    json_object_object_add(props, "docker", docker);
    json_object_object_add(props, "components", parts);
    json_object_object_add(props, "failed", failed);
    json_object_object_add(props, "code", code);
    json_object_object_add(props, "error", error);
    json_object *engines = json_object_new_object(), *engine = json_object_new_object();
    openapi_add_str(engine, "type", "object");
    openapi_add_str(engine, "description",
                    "name, endpoint, status (up or down), weight, in_flight, calls (placed)");
    openapi_add_str(engines, "type", "array");
    json_object_object_add(engines, "items", engine);
    openapi_add_str(engines, "description",
                    "With several engines (MINILAMBDA_ENGINES): each one and its state.");
    json_object_object_add(props, "engines", engines);
    openapi_add_str(s, "type", "object");
    openapi_add_str(s, "description", "What /healthz found.");
    json_object_object_add(s, "properties", props);
    json_object *required = json_object_new_array();
    json_object_array_add(required, json_object_new_string("status"));
    json_object_array_add(required, json_object_new_string("docker"));
    json_object_array_add(required, json_object_new_string("components"));
    json_object_object_add(s, "required", required);
    json_object_put(names);
    return s;
}

/* The schemas built from the code's tables rather than described here. */
static void openapi_table_schemas(json_object *schemas)
{
    json_object *words = json_object_new_array(), *fn;

    fn = func_schema(FUNC_VIEW_RECORD);
    json_object *present = json_object_new_object(), *props;
    openapi_add_str(present, "type", "boolean");
    openapi_add_str(present, "description",
                    "GET /functions/{ref} only: false when the engine does not have the image.");
    if (json_object_object_get_ex(fn, "properties", &props))
        json_object_object_add(props, "image_present", present);
    else
        json_object_put(present);
    openapi_add_str(fn, "description", "A function's record (func.c's field table).");
    json_object_object_add(schemas, "Function", fn);
    fn = func_schema(FUNC_VIEW_CREATE);
    openapi_add_str(fn, "description", "A registration body: the settable fields.");
    json_object_object_add(schemas, "FunctionCreate", fn);
    fn = func_schema(FUNC_VIEW_PATCH);
    openapi_add_str(fn, "description", "A change: the fields PATCH may change.");
    json_object_object_add(schemas, "FunctionPatch", fn);

    for (int o = 0; o < STATUS__OUTCOMES; o++)
        openapi_add_unique(words, status_word((status_outcome)o));
    json_object_object_add(schemas, "RunStatus",
                           openapi_enum(words, "How a synchronous run ended (status.c)."));
    words = json_object_new_array();
    for (int s = 0; s < STATUS__RECORDS; s++)
        json_object_array_add(words, json_object_new_string(status_record_name((status_record)s)));
    json_object_object_add(
        schemas, "RecordStatus",
        openapi_enum(words, "Where an asynchronous invocation stands: PENDING, then RUNNING, "
                            "then one of the others."));
    words = json_object_new_array();
    for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
        json_object_array_add(words, json_object_new_string(keys_scope_name(bit)));
    json_object_object_add(schemas, "Scope", openapi_enum(words, "What a key may do."));

    json_object_object_add(schemas, "Health", openapi_health());

    json_object *list = json_object_new_object(), *one = json_object_new_array();
    json_object_array_add(one, openapi_type("string[]"));
    json_object_array_add(one, openapi_type("#ImageDetail[]"));
    json_object_object_add(list, "oneOf", one);
    openapi_add_str(list, "description", "Tags, or with ?detail=1 one object per image.");
    json_object_object_add(schemas, "ImageList", list);

    json_object *made = json_object_new_object(), *all = json_object_new_array();
    json_object *secret = json_object_new_object(), *sprops = json_object_new_object();
    json_object *key = json_object_new_object(), *req = json_object_new_array();
    openapi_add_str(key, "type", "string");
    openapi_add_str(key, "description", "The secret (`mlk_...`), shown this once.");
    json_object_object_add(sprops, "key", key);
    json_object *aws = json_object_new_object();
    openapi_add_str(aws, "type", "string");
    openapi_add_str(aws, "description",
                    "With `\"aws\": true`: the AWS secret access key (40 characters), shown "
                    "this once.");
    json_object_object_add(sprops, "aws_secret_access_key", aws);
    json_object_array_add(req, json_object_new_string("key"));
    json_object_object_add(secret, "properties", sprops);
    json_object_object_add(secret, "required", req);
    json_object_array_add(all, openapi_ref("Key"));
    json_object_array_add(all, secret);
    json_object_object_add(made, "allOf", all);
    openapi_add_str(made, "description", "A new key and its secret.");
    json_object_object_add(schemas, "KeyCreated", made);
}

static void openapi_err_add(openapi_errs *l, int status, const char *code, bool run)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].status == status && strcmp(l->v[i].code, code) == 0)
            return;
    if (l->n < OPENAPI_ERRS_MAX)
        l->v[l->n++] = (openapi_err){status, code, run, false, NULL};
    else
        l->full = true;
}

/* An error of `kind` and `code`: on a Lambda route, as lambda_send_err
 * answers it (its status and type). */
static void openapi_kind_add(openapi_errs *l, err_kind kind, const char *code)
{
    if (l->amz) {
        err_t x;
        err_clear(&x);
        x.kind = kind;
        x.code = code;
        const char *type = lambda_error_type(&x), *why = openapi_kind_code(kind, code);
        int status = lambda_error_status(&x);
        /* One entry per type and code: the description names both. */
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].status == status && strcmp(l->v[i].code, type) == 0 &&
                l->v[i].why != NULL && strcmp(l->v[i].why, why) == 0)
                return;
        if (l->n < OPENAPI_ERRS_MAX)
            l->v[l->n++] = (openapi_err){status, type, false, false, why};
        else
            l->full = true;
        return;
    }
    openapi_err_add(l, openapi_kind_status(kind), openapi_kind_code(kind, code), false);
}

/* The x-error-code of every property of component `name` (the function
 * field table's codes for its bodies). */
static void openapi_field_codes(openapi_build *b, const char *name, openapi_errs *l)
{
    json_object *s, *props;
    if (!json_object_object_get_ex(b->schemas, name, &s) ||
        !json_object_object_get_ex(s, "properties", &props))
        return;
    json_object_object_foreach(props, key, p)
    {
        json_object *code;
        (void)key;
        if (json_object_object_get_ex(p, "x-error-code", &code))
            openapi_kind_add(l, ERR_INVALID, json_object_get_string(code));
    }
}

/* Every error operation `r` of template `tmpl` can answer, from its route
 * rows' flags, its body and its own list. */
static void openapi_route_errors(openapi_build *b, const char *tmpl, const apidoc_route *r,
                                 unsigned flags, unsigned access, openapi_errs *l)
{
    /* The gate checks a key whenever one is presented, even on an open
     * route. */
    openapi_kind_add(l, ERR_UNAUTHORIZED, NULL);
    openapi_kind_add(l, ERR_LIMIT, "too_many_failures");
    if (access != ROUTE_OPEN) {
        openapi_kind_add(l, ERR_FORBIDDEN, NULL);
        openapi_kind_add(l, ERR_LIMIT, "rate_limited");
        /* A SigV4-signed request (http/awsauth.h). */
        openapi_kind_add(l, ERR_INVALID, "incomplete_signature");
        openapi_kind_add(l, ERR_INVALID, "content_sha256_mismatch");
        openapi_kind_add(l, ERR_FORBIDDEN, "unrecognized_client");
        openapi_kind_add(l, ERR_FORBIDDEN, "invalid_signature");
        openapi_kind_add(l, ERR_FORBIDDEN, "signature_expired");
        openapi_kind_add(l, ERR_CORRUPT, "keys_seal_missing");
        openapi_kind_add(l, ERR_CORRUPT, "keys_seal_invalid");
        if (flags & ROUTE_STREAM_BODY)
            openapi_kind_add(l, ERR_INVALID, "signed_upload_unsupported");
    }
    if (strchr(tmpl, '{') != NULL)
        openapi_kind_add(l, ERR_INVALID, "invalid_path");
    if (flags & (ROUTE_IF_EVENT | ROUTE_IF_DRY_RUN))
        openapi_kind_add(l, ERR_INVALID, "invalid_invocation_type");
    if (flags & ROUTE_ALLOWLIST)
        openapi_kind_add(l, ERR_FORBIDDEN, NULL);
    if (flags & ROUTE_FUNCTION) {
        openapi_kind_add(l, ERR_NOT_FOUND, NULL);
        openapi_kind_add(l, ERR_CORRUPT, NULL);
    }
    if (flags & ROUTE_SLOT)
        openapi_kind_add(l, ERR_LIMIT, NULL);
    if (flags & ROUTE_UPLOAD)
        openapi_kind_add(l, ERR_LIMIT, "too_many_uploads");
    if (flags & ROUTE_IDEMPOTENT) {
        openapi_kind_add(l, ERR_INVALID, "invalid_idempotency_key");
        openapi_kind_add(l, ERR_UNPROCESSABLE, "idempotency_mismatch");
        openapi_kind_add(l, ERR_CONFLICT, "idempotency_in_progress");
        openapi_kind_add(l, ERR_STORAGE_FULL, "idempotency_full");
        if (flags & ROUTE_NO_REDO) {
            openapi_kind_add(l, ERR_CONFLICT, "idempotency_interrupted");
            openapi_kind_add(l, ERR_CONFLICT, "idempotency_answer_not_kept");
        }
    }
    if (r->body != NULL && strcmp(r->body, "upload") != 0) {
        /* http_read_json's refusals. */
        openapi_kind_add(l, ERR_INVALID, "invalid_json");
        openapi_kind_add(l, ERR_INVALID, "json_too_deep");
        openapi_kind_add(l, ERR_INVALID, "duplicate_key");
        openapi_kind_add(l, ERR_INVALID, "invalid_body");
        openapi_kind_add(l, ERR_TOO_LARGE, NULL);
        openapi_kind_add(l, ERR_UNSUPPORTED, NULL);
        if (r->body[0] == '#')
            openapi_field_codes(b, r->body + 1, l);
    }
    for (const apidoc_code *c = r->errors; c != NULL && c->kind != ERR_NONE; c++)
        openapi_kind_add(l, c->kind, c->code);
    /* A route that runs a function holding a slot answers how the run
     * ended. */
    if ((flags & ROUTE_SLOT) && l->amz) {
        /* A function's own failure is a 200 with X-Amz-Function-Error;
         * the platform's, a ServiceException at the outcome's status. */
        for (int o = 0; o < STATUS__OUTCOMES; o++)
            if (o != STATUS_CANCELLED && o != STATUS_SUCCEEDED && o != STATUS_FAILED &&
                o != STATUS_TIMEOUT && o != STATUS_PROTOCOL_ERROR && o != STATUS_INIT_ERROR &&
                o != STATUS_INIT_TIMEOUT)
                openapi_err_add(l, status_http((status_outcome)o), "ServiceException", false);
    } else if (flags & ROUTE_SLOT) {
        for (int o = 0; o < STATUS__OUTCOMES; o++) {
            const char *code = status_code((status_outcome)o);
            /* A cancelled run's client is gone: nobody reads its answer. */
            if (code != NULL && o != STATUS_CANCELLED)
                openapi_err_add(l, status_http((status_outcome)o), code, true);
        }
    }
    openapi_kind_add(l, ERR_INTERNAL, NULL);
    for (size_t i = 0; i < APIDOC_NGINX_EVERY_ROUTE; i++) {
        openapi_err_add(l, apidoc_nginx[i].status, apidoc_nginx[i].code, false);
        if (l->n > 0 && strcmp(l->v[l->n - 1].code, apidoc_nginx[i].code) == 0)
            l->v[l->n - 1].native = true;
    }
}

/* allOf [$ref `base`, {code: enum `codes`}], `required` naming error and
 * code when set. Takes `codes`. */
static json_object *openapi_coded(const char *base, json_object *codes, bool required)
{
    json_object *s = json_object_new_object(), *all = json_object_new_array();
    json_object *narrow = json_object_new_object(), *props = json_object_new_object();
    json_object *code = json_object_new_object();
    json_object_object_add(code, "enum", codes);
    json_object_object_add(props, "code", code);
    json_object_object_add(narrow, "properties", props);
    if (required) {
        json_object *req = json_object_new_array();
        json_object_array_add(req, json_object_new_string("error"));
        json_object_array_add(req, json_object_new_string("code"));
        json_object_object_add(narrow, "required", req);
    }
    json_object_array_add(all, openapi_ref(base));
    json_object_array_add(all, narrow);
    json_object_object_add(s, "allOf", all);
    return s;
}

/* Whether `type` is the function record or a list of them. */
static bool openapi_is_function(const char *type)
{
    return type != NULL && (strcmp(type, "#Function") == 0 || strcmp(type, "#Function[]") == 0);
}

/* An example's answer as the document shows it: a function record gets
 * the field table's defaults for what the example leaves out, so examples
 * follow the table. 0 with `*out`, or -1 with `e`. */
static int openapi_answer_value(const apidoc_route *r, const apidoc_example *x, const char *type,
                                json_object **out, err_t *e)
{
    err_t why;
    *out = NULL;
    if (openapi_json(x->answer, out) != 0)
        return err_set(e, ERR_INTERNAL, NULL, 0, "%s example %s: the answer does not parse", r->op,
                       x->name);
    if (!openapi_is_function(type))
        return 0;
    bool list = json_object_is_type(*out, json_type_array);
    size_t n = list ? json_object_array_length(*out) : 1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = func_load(list ? json_object_array_get_idx(*out, i) : *out, &why);
    if (rc == 0)
        return 0;
    json_object_put(*out);
    *out = NULL;
    return err_set(e, ERR_INTERNAL, NULL, 0, "%s example %s: %s", r->op, x->name, why.msg);
}

/* The examples of `r` answered with `status`, or NULL when none is. */
static int openapi_answer_examples(const apidoc_route *r, int status, const char *type,
                                   json_object **out, err_t *e)
{
    *out = NULL;
    for (const apidoc_example *x = r->examples; x != NULL && x->name != NULL; x++) {
        json_object *value, *ex;
        if (x->status != status || x->answer == NULL)
            continue;
        if (openapi_answer_value(r, x, type, &value, e) != 0)
            return -1;
        if (*out == NULL)
            *out = json_object_new_object();
        ex = json_object_new_object();
        openapi_add_str(ex, "summary", x->summary);
        json_object_object_add(ex, "value", value);
        json_object_object_add(*out, x->name, ex);
    }
    return 0;
}

/* Examples answered with `status` and no body (204) have no media to sit
 * in: "x-examples" on the response names them, so they can be run too. */
static void openapi_bodiless_examples(const apidoc_route *r, int status, json_object *resp)
{
    json_object *names = NULL;
    for (const apidoc_example *x = r->examples; x != NULL && x->name != NULL; x++) {
        if (x->status != status || x->answer != NULL)
            continue;
        if (names == NULL) {
            names = json_object_new_object();
            json_object_object_add(resp, "x-examples", names);
        }
        json_object *ex = json_object_new_object();
        openapi_add_str(ex, "summary", x->summary);
        json_object_object_add(names, x->name, ex);
    }
}

static int openapi_cmp_status(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The response of `r` at `status`: the answer's schema and the errors at
 * that status, with the examples answered so. 0 with `*out`, or -1. */
static int openapi_response(const apidoc_route *r, const openapi_errs *l, int status,
                            json_object **out, err_t *e)
{
    const apidoc_answer *a = NULL;
    json_object *run = json_object_new_array(), *other = json_object_new_array();
    json_object *amz = json_object_new_array();
    json_object *alts = json_object_new_array(), *resp = json_object_new_object();
    json_object *examples = NULL;
    char desc[4096] = "", both[4400];
    size_t used = 0;
    int rc = -1;

    for (size_t i = 0; i < APIDOC_ANSWERS; i++)
        if (r->answers[i].status == status)
            a = &r->answers[i];
    if (a != NULL && a->type != NULL)
        json_object_array_add(alts,
                              openapi_type(strcmp(a->type, "text") == 0 ? "string" : a->type));
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].status != status)
            continue;
        json_object_array_add(l->v[i].run                 ? run
                              : l->amz && !l->v[i].native ? amz
                                                          : other,
                              json_object_new_string(l->v[i].code));
        int n = l->v[i].why != NULL ? snprintf(desc + used, sizeof(desc) - used, "%s`%s` (%s)",
                                               used ? ", " : "Errors: ", l->v[i].code, l->v[i].why)
                                    : snprintf(desc + used, sizeof(desc) - used, "%s`%s`",
                                               used ? ", " : "Errors: ", l->v[i].code);
        if (n > 0 && (size_t)n < sizeof(desc) - used)
            used += (size_t)n;
    }
    /* A run's outcome answers an InvokeResult with its error and code. */
    if (json_object_array_length(run) > 0)
        json_object_array_add(alts, openapi_coded("InvokeResult", json_object_get(run), true));
    if (json_object_array_length(amz) > 0)
        json_object_array_add(alts, openapi_ref("LambdaError"));
    if (json_object_array_length(other) > 0)
        json_object_array_add(alts, openapi_coded("Error", json_object_get(other), false));
    if (openapi_answer_examples(r, status, a != NULL ? a->type : NULL, &examples, e) != 0)
        goto done;
    if (examples != NULL && json_object_array_length(alts) == 0) {
        err_set(e, ERR_INTERNAL, NULL, 0,
                "%s: an example answers %d with a body, which it has none", r->op, status);
        goto done;
    }
    snprintf(both, sizeof(both), "%s%s%s", a != NULL ? a->desc : "", a != NULL && used ? " " : "",
             desc);
    openapi_add_str(resp, "description", both);
    if (json_object_array_length(alts) > 0) {
        json_object *media = json_object_new_object(), *content = json_object_new_object();
        json_object *schema = json_object_get(json_object_array_get_idx(alts, 0));
        if (json_object_array_length(alts) > 1) {
            json_object_put(schema);
            schema = json_object_new_object();
            json_object_object_add(schema, "anyOf", json_object_get(alts));
        }
        json_object_object_add(media, "schema", schema);
        if (examples != NULL)
            json_object_object_add(media, "examples", examples);
        examples = NULL;
        bool text = a != NULL && a->type != NULL && strcmp(a->type, "text") == 0;
        json_object_object_add(content, text ? "text/plain" : "application/json", media);
        json_object_object_add(resp, "content", content);
    }
    openapi_bodiless_examples(r, status, resp);
    *out = resp;
    resp = NULL;
    rc = 0;
done:
    json_object_put(examples);
    json_object_put(resp);
    json_object_put(alts);
    json_object_put(other);
    json_object_put(amz);
    json_object_put(run);
    return rc;
}

/* The responses object of `r`: its answers, then its errors, by status. */
static int openapi_responses(const apidoc_route *r, const openapi_errs *l, json_object **out,
                             err_t *e)
{
    int statuses[OPENAPI_ERRS_MAX + APIDOC_ANSWERS];
    size_t ns = 0;
    json_object *responses = json_object_new_object(), *resp;
    char key[8];

    for (size_t i = 0; i < APIDOC_ANSWERS; i++)
        if (r->answers[i].status != 0)
            statuses[ns++] = r->answers[i].status;
    for (size_t i = 0; i < l->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < ns && !seen; k++)
            seen = statuses[k] == l->v[i].status;
        if (!seen)
            statuses[ns++] = l->v[i].status;
    }
    qsort(statuses, ns, sizeof(statuses[0]), openapi_cmp_status);
    for (const apidoc_example *x = r->examples; x != NULL && x->name != NULL; x++) {
        bool seen = false;
        for (size_t k = 0; k < ns && !seen; k++)
            seen = statuses[k] == x->status;
        if (!seen) {
            err_set(e, ERR_INTERNAL, NULL, 0,
                    "%s example %s answers %d, which the route does not document", r->op, x->name,
                    x->status);
            goto fail;
        }
    }
    for (size_t k = 0; k < ns; k++) {
        if (openapi_response(r, l, statuses[k], &resp, e) != 0)
            goto fail;
        snprintf(key, sizeof(key), "%d", statuses[k]);
        json_object_object_add(responses, key, resp);
    }
    *out = responses;
    return 0;
fail:
    json_object_put(responses);
    return -1;
}

/* The value of `name` in the query string `q`, into `out`. */
static bool openapi_query_value(const char *q, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    while (q != NULL && *q != '\0') {
        size_t len = strcspn(q, "&");
        if (strncmp(q, name, n) == 0 && q[n] == '=') {
            snprintf(out, outlen, "%.*s", (int)(len - n - 1), q + n + 1);
            return true;
        }
        q += len + (q[len] == '&');
    }
    return false;
}

/* Add example `x` (its value `v`, taken) to parameter or media `o`. */
static void openapi_add_example(json_object *o, const apidoc_example *x, json_object *v)
{
    json_object *examples, *ex = json_object_new_object();
    if (!json_object_object_get_ex(o, "examples", &examples)) {
        examples = json_object_new_object();
        json_object_object_add(o, "examples", examples);
    }
    openapi_add_str(ex, "summary", x->summary);
    json_object_object_add(ex, "value", v);
    json_object_object_add(examples, x->name, ex);
}

/* The parameters of `r` of template `tmpl`: its path parameter,
 * X-Invocation-Type when a row depends on it, its query; each with its
 * examples. NULL when none. */
static json_object *openapi_parameters(const char *tmpl, const apidoc_route *r, unsigned flags)
{
    json_object *params = json_object_new_array();
    const char *open = strchr(tmpl, '{');
    if (open != NULL) {
        json_object *p = json_object_new_object();
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(open + 1, "}"), open + 1);
        openapi_add_str(p, "name", name);
        openapi_add_str(p, "in", "path");
        json_object_object_add(p, "required", json_object_new_boolean(1));
        openapi_add_str(p, "description", r->param != NULL ? r->param : name);
        json_object_object_add(p, "schema", openapi_type("string"));
        for (const apidoc_example *x = r->examples; x->name != NULL; x++)
            if (x->ref != NULL)
                openapi_add_example(p, x, json_object_new_string(x->ref));
        json_object_array_add(params, p);
    }
    if (flags & ROUTE_AMZ && flags & (ROUTE_IF_EVENT | ROUTE_IF_DRY_RUN)) {
        json_object *p = json_object_new_object(), *s = openapi_type("string");
        openapi_add_str(p, "name", "X-Amz-Invocation-Type");
        openapi_add_str(p, "in", "header");
        openapi_add_str(p, "description",
                        "`RequestResponse` or absent: wait for the result; `Event`: queue it "
                        "(202); `DryRun`: only check that the caller may invoke it (204).");
        json_object_object_add(s, "enum", openapi_strings(openapi_amz_types));
        json_object_object_add(p, "schema", s);
        for (const apidoc_example *x = r->examples; x->name != NULL; x++)
            if (x->type != NULL)
                openapi_add_example(p, x, json_object_new_string(x->type));
        json_object_array_add(params, p);
        for (size_t i = 0; openapi_amz_headers[i][0] != NULL; i++) {
            json_object *h = json_object_new_object();
            openapi_add_str(h, "name", openapi_amz_headers[i][0]);
            openapi_add_str(h, "in", "header");
            openapi_add_str(h, "description", openapi_amz_headers[i][1]);
            json_object_object_add(h, "schema", openapi_type("string"));
            json_object_array_add(params, h);
        }
    } else if (flags & ROUTE_IF_EVENT) {
        json_object *p = json_object_new_object(), *s = openapi_type("string");
        openapi_add_str(p, "name", "X-Invocation-Type");
        openapi_add_str(p, "in", "header");
        openapi_add_str(p, "description",
                        "`Event` queues the run (202) instead of waiting for it; "
                        "`RequestResponse` or absent: wait.");
        json_object_object_add(s, "enum", openapi_strings(openapi_types));
        json_object_object_add(p, "schema", s);
        for (const apidoc_example *x = r->examples; x->name != NULL; x++)
            if (x->type != NULL)
                openapi_add_example(p, x, json_object_new_string(x->type));
        json_object_array_add(params, p);
    }
    if (flags & ROUTE_IDEMPOTENT) {
        json_object *p = json_object_new_object(), *s = openapi_type("string");
        openapi_add_str(p, "name", "Idempotency-Key");
        openapi_add_str(p, "in", "header");
        openapi_add_str(p, "description",
                        "Chosen by the client per operation: a retry with the same key and the "
                        "same request within 24 hours gets the first answer again "
                        "(`Idempotent-Replayed: true`) and acts no second time.");
        json_object_object_add(s, "minLength", json_object_new_int(1));
        json_object_object_add(s, "maxLength", json_object_new_int(255));
        json_object_object_add(p, "schema", s);
        json_object_array_add(params, p);
    }
    for (const apidoc_prop *q = r->query; q != NULL && q->name != NULL; q++) {
        json_object *p = json_object_new_object(), *s = NULL;
        char v[256];
        openapi_add_str(p, "name", q->name);
        openapi_add_str(p, "in", "query");
        openapi_add_str(p, "description", q->desc);
        /* Query defaults are plain numbers: openapi_check parses them. */
        if (openapi_prop_schema(q, &s) == 0) {
            json_object_object_del(s, "description");
            json_object_object_add(p, "schema", s);
        }
        for (const apidoc_example *x = r->examples; x->name != NULL; x++) {
            if (!openapi_query_value(x->query, q->name, v, sizeof(v)))
                continue;
            /* A value as typed in a URL; an integer parameter's is a number. */
            json_object *val = NULL;
            if (strcmp(q->type, "integer") != 0 || openapi_json(v, &val) != 0)
                val = json_object_new_string(v);
            openapi_add_example(p, x, val);
        }
        json_object_array_add(params, p);
    }
    if (json_object_array_length(params) == 0) {
        json_object_put(params);
        return NULL;
    }
    return params;
}

/* The request body of `r`, or NULL when it takes none. */
static json_object *openapi_request(const apidoc_route *r)
{
    json_object *body, *content, *media;
    if (r->body == NULL)
        return NULL;
    body = json_object_new_object();
    content = json_object_new_object();
    json_object_object_add(body, "required",
                           json_object_new_boolean(!(r->flags & APIDOC_BODY_OPTIONAL)));
    if (strcmp(r->body, "upload") == 0) {
        json_object *form = json_object_new_object(), *s = json_object_new_object();
        json_object *props = json_object_new_object(), *req = json_object_new_array();
        json_object *tar = json_object_new_object(), *file = json_object_new_object();
        openapi_add_str(file, "type", "string");
        openapi_add_str(file, "format", "binary");
        openapi_add_str(file, "description", "The `docker save` tar (gzipped or not).");
        json_object_object_add(props, "image", file);
        json_object_array_add(req, json_object_new_string("image"));
        openapi_add_str(s, "type", "object");
        json_object_object_add(s, "properties", props);
        json_object_object_add(s, "required", req);
        json_object_object_add(form, "schema", s);
        json_object_object_add(content, "multipart/form-data", form);
        json_object_object_add(tar, "schema", json_object_get(file));
        json_object_object_add(content, "application/x-tar", tar);
        openapi_add_str(body, "description",
                        "A `docker save` tar: the multipart field `image`, or the whole body.");
    } else {
        media = json_object_new_object();
        json_object_object_add(media, "schema", openapi_type(r->body));
        for (const apidoc_example *x = r->examples; x->name != NULL; x++) {
            json_object *v;
            if (x->body != NULL && openapi_json(x->body, &v) == 0)
                openapi_add_example(media, x, v);
        }
        json_object_object_add(content, "application/json", media);
    }
    json_object_object_add(body, "content", content);
    return body;
}

/* The flags and scopes of every row of the route table with the template
 * and method of `row`: the operation's. */
static void openapi_rows_of(const route_def *row, unsigned *flags, unsigned *access)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    *flags = 0;
    *access = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].tmpl, row->tmpl) != 0 || rows[i].method != row->method)
            continue;
        *flags |= rows[i].flags;
        *access |= rows[i].access;
    }
}

/* What the gate does for the route, in words: from its flags and scopes. */
static void openapi_gate_notes(unsigned flags, unsigned access, const char *desc, char *out,
                               size_t outlen)
{
    size_t used = 0;
    int n;
#define OPENAPI_NOTE(...)                                                                          \
    do {                                                                                           \
        n = snprintf(out + used, outlen - used, __VA_ARGS__);                                      \
        if (n > 0 && (size_t)n < outlen - used)                                                    \
            used += (size_t)n;                                                                     \
    } while (0)
    out[0] = '\0';
    if (desc != NULL)
        OPENAPI_NOTE("%s\n\n", desc);
    if (access == ROUTE_OPEN) {
        OPENAPI_NOTE("Needs no key.");
    } else {
        OPENAPI_NOTE("Keys with scope admin");
        for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
            if ((access & bit) && bit != KEYS_ADMIN)
                OPENAPI_NOTE(" or %s", keys_scope_name(bit));
        OPENAPI_NOTE(" may call it.");
    }
    if (flags & ROUTE_FUNCTION)
        OPENAPI_NOTE(" A key whose `functions` list leaves the function out gets 404 "
                     "`not_found`, as for a function that does not exist.");
    if ((flags & ROUTE_OWN) && (access & KEYS_READ))
        OPENAPI_NOTE(" A key with only the invoke scope sees the runs it started, a key with a "
                     "`functions` list the runs of those; another run is 404 `not_found`.");
    else if (flags & ROUTE_OWN)
        OPENAPI_NOTE(" A key without admin or deploy acts on the runs it started only (read "
                     "does not widen it); another key's run is 403 when the key may read it, "
                     "else 404 `not_found`.");
    if (flags & ROUTE_REDACT)
        OPENAPI_NOTE(" A key with only the read scope sees env values as `***`.");
    if (flags & ROUTE_ALLOWLIST)
        OPENAPI_NOTE(" Only addresses in MINILAMBDA_METRICS_ALLOW may call it.");
    if (flags & ROUTE_SLOT)
        OPENAPI_NOTE(" Each synchronous run takes an invocation slot: past "
                     "MINILAMBDA_MAX_CONCURRENCY, 429 `too_many_requests` with `Retry-After`.");
    if (flags & ROUTE_UPLOAD)
        OPENAPI_NOTE(" Each upload takes an upload slot: past MINILAMBDA_MAX_UPLOADS, 429 "
                     "`too_many_uploads` with `Retry-After`.");
#undef OPENAPI_NOTE
}

/* The operation of `row` (and of the rows that share its template and
 * method), from its documentation. 0 with `*out`, or -1 with `e`. */
static int openapi_operation(openapi_build *b, const route_def *row, json_object **out, err_t *e)
{
    const apidoc_route *r = row->doc;
    unsigned flags, access;
    openapi_errs errs = {.n = 0};
    char notes[2048], tag[32];
    json_object *op, *responses = NULL, *params, *body;

    openapi_rows_of(row, &flags, &access);
    errs.amz = (flags & ROUTE_AMZ) != 0;
    openapi_route_errors(b, row->tmpl, r, flags, access, &errs);
    if (errs.full)
        return err_set(e, ERR_INTERNAL, NULL, 0, "%s answers more than %d errors", r->op,
                       OPENAPI_ERRS_MAX);
    if (openapi_responses(r, &errs, &responses, e) != 0)
        return -1;
    op = json_object_new_object();
    for (size_t i = 0; i < errs.n; i++)
        openapi_add_unique(b->codes, errs.v[i].why != NULL ? errs.v[i].why : errs.v[i].code);
    if (errs.amz)
        snprintf(tag, sizeof(tag), "lambda");
    else
        snprintf(tag, sizeof(tag), "%.*s", (int)strcspn(row->tmpl + 1, "/"), row->tmpl + 1);
    json_object *tags = json_object_new_array();
    json_object_array_add(tags, json_object_new_string(tag));
    openapi_add_str(op, "operationId", r->op);
    openapi_add_str(op, "summary", r->summary);
    openapi_gate_notes(flags, access, r->desc, notes, sizeof(notes));
    openapi_add_str(op, "description", notes);
    json_object_object_add(op, "tags", tags);
    json_object *security = json_object_new_array();
    if (access != ROUTE_OPEN) {
        json_object *req = json_object_new_object(), *scopes = json_object_new_array();
        for (unsigned bit = 1; keys_scope_name(bit) != NULL; bit <<= 1)
            if ((access & bit) || bit == KEYS_ADMIN)
                json_object_array_add(scopes, json_object_new_string(keys_scope_name(bit)));
        json_object_object_add(req, "bearer", scopes);
        json_object_array_add(security, req);
    }
    json_object_object_add(op, "security", security);
    if ((params = openapi_parameters(row->tmpl, r, flags)) != NULL)
        json_object_object_add(op, "parameters", params);
    if ((body = openapi_request(r)) != NULL)
        json_object_object_add(op, "requestBody", body);
    json_object_object_add(op, "responses", responses);
    *out = op;
    return 0;
}

/* The Error schema: every code the document names, and nginx's. */
static json_object *openapi_error_schema(json_object *codes)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *error = json_object_new_object(), *code = json_object_new_object();
    json_object *req = json_object_new_array();
    for (int k = ERR_NONE + 1; k < ERR__COUNT; k++)
        openapi_add_unique(codes, openapi_kind_code((err_kind)k, NULL));
    for (const apidoc_nginx_error *x = apidoc_nginx; x->status != 0; x++)
        openapi_add_unique(codes, x->code);
    for (size_t i = 0; apidoc_health_codes[i] != NULL; i++)
        openapi_add_unique(codes, apidoc_health_codes[i]);
    openapi_add_str(error, "type", "string");
    openapi_add_str(error, "description", "What went wrong, as a sentence.");
    openapi_add_str(code, "type", "string");
    openapi_add_str(code, "description", "A stable word for what went wrong.");
    json_object_object_add(code, "enum", json_object_get(codes));
    json_object_object_add(props, "error", error);
    json_object_object_add(props, "code", code);
    json_object_array_add(req, json_object_new_string("error"));
    json_object_array_add(req, json_object_new_string("code"));
    openapi_add_str(s, "type", "object");
    openapi_add_str(s, "description", "Every error, from the app or from nginx.");
    json_object_object_add(s, "properties", props);
    json_object_object_add(s, "required", req);
    return s;
}

static int openapi_build_doc(json_object *doc, err_t *e)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    openapi_build b;
    json_object *info = json_object_new_object(), *components = json_object_new_object();
    json_object *schemes = json_object_new_object(), *bearer = json_object_new_object();
    json_object *paths = json_object_new_object();
    int rc = -1;

    b.schemas = json_object_new_object();
    b.codes = json_object_new_array();
    openapi_add_str(doc, "openapi", "3.1.0");
    openapi_add_str(info, "title", "minilambda");
    openapi_add_str(info, "version", PACKAGE_VERSION);
    openapi_add_str(info, "description", apidoc_about);
    json_object_object_add(doc, "info", info);
    openapi_add_str(bearer, "type", "http");
    openapi_add_str(bearer, "scheme", "bearer");
    openapi_add_str(bearer, "description", apidoc_bearer);
    json_object_object_add(schemes, "bearer", bearer);
    json_object_object_add(components, "securitySchemes", schemes);
    json_object_object_add(components, "schemas", b.schemas);

    openapi_table_schemas(b.schemas);
    for (const apidoc_shape *sh = apidoc_shapes; sh->name != NULL; sh++) {
        json_object *s = NULL;
        if (openapi_shape_schema(sh, &s, e) != 0)
            goto done;
        json_object_object_add(b.schemas, sh->name, s);
    }
    /* Paths in the route table's order; one operation per template and
     * method, however many rows share it (and its documentation). */
    for (size_t i = 0; i < n; i++) {
        json_object *item, *op;
        if (!json_object_object_get_ex(paths, rows[i].tmpl, &item)) {
            item = json_object_new_object();
            json_object_object_add(paths, rows[i].tmpl, item);
        }
        if (json_object_object_get_ex(item, openapi_method_name(rows[i].method), NULL))
            continue;
        if (openapi_operation(&b, &rows[i], &op, e) != 0)
            goto done;
        json_object_object_add(item, openapi_method_name(rows[i].method), op);
    }
    json_object_object_add(doc, "paths", paths);
    paths = NULL;
    json_object_object_add(b.schemas, "Error", openapi_error_schema(b.codes));
    json_object_object_add(doc, "components", components);
    components = NULL;
    rc = 0;
done:
    json_object_put(paths);
    json_object_put(components);
    json_object_put(b.codes);
    return rc;
}

int openapi_check_routes(const route_def *rows, size_t n, err_t *e)
{
    char m[64];
    for (size_t i = 0; i < n; i++) {
        const char *tmpl = rows[i].tmpl;
        const apidoc_route *r = rows[i].doc;
        bool param = strchr(tmpl, '{') != NULL;
        http_allow(rows[i].method, m, sizeof(m));
        if (r == NULL)
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "route %s %s has no documentation (the doc of its row in route.c)", m,
                           tmpl);
        /* One operation per template and method: its rows share one
         * documentation, and no other route's is the same or has the same
         * operation id. */
        for (size_t k = 0; k < i; k++) {
            bool same = strcmp(rows[k].tmpl, tmpl) == 0 && rows[k].method == rows[i].method;
            if (same ? rows[k].doc != r : rows[k].doc == r || strcmp(rows[k].doc->op, r->op) == 0)
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "route %s %s: its documentation (operation id %s) is not its own, "
                               "or not the one of its template and method's other rows",
                               m, tmpl, r->op);
        }
        if (r->summary == NULL || r->answers[0].status == 0 || r->examples == NULL)
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "apidoc.c: %s %s needs a summary, an answer and examples", m, tmpl);
        for (const apidoc_example *x = r->examples; x->name != NULL; x++) {
            json_object *v = NULL;
            bool bad = (param && x->ref == NULL) || (!param && x->ref != NULL) ||
                       (x->body != NULL && openapi_json(x->body, &v) != 0);
            json_object_put(v);
            v = NULL;
            bad = bad || (x->answer != NULL && openapi_json(x->answer, &v) != 0);
            json_object_put(v);
            if (bad)
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "apidoc.c: example %s of %s %s: a path parameter is missing or "
                               "extra, or its JSON does not parse",
                               x->name, m, tmpl);
        }
        for (const apidoc_prop *q = r->query; q != NULL && q->name != NULL; q++) {
            json_object *v = NULL;
            bool bad = q->def != NULL && openapi_json(q->def, &v) != 0;
            json_object_put(v);
            if (bad)
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "apidoc.c: the default of query parameter %s of %s %s does not "
                               "parse",
                               q->name, m, tmpl);
        }
    }
    return 0;
}

int openapi_check(err_t *e)
{
    size_t n;
    const route_def *rows = route_rows(&n);
    return openapi_check_routes(rows, n, e);
}

json_object *openapi_document(err_t *e)
{
    if (openapi_check(e) != 0)
        return NULL;
    json_object *doc = json_object_new_object();
    if (doc == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "json_object_new_object() failed: out of memory");
        return NULL;
    }
    if (openapi_build_doc(doc, e) != 0) {
        json_object_put(doc);
        return NULL;
    }
    return doc;
}

int openapi_print(FILE *out, err_t *e)
{
    json_object *doc = openapi_document(e);
    if (doc == NULL)
        return -1;
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = 0;
    if (fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out) != 0)
        rc = err_sys(e, errno, "fwrite", "the OpenAPI document");
    json_object_put(doc);
    return rc;
}
