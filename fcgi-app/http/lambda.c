#include "http/lambda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include <json-c/json.h>

#include "base/b64.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/handlers.h"
#include "state/store.h"

/* Lambda's account id in the ARNs we make: there are no accounts. */
#define LAMBDA_ACCOUNT "000000000000"
/* The one version there is until versions exist. */
#define LAMBDA_LATEST "$LATEST"
/* What X-Amz-Log-Result carries: the last 4 KB of the call's logs. */
#define LAMBDA_TAIL 4096
/* X-Amz-Client-Context: at most 3,583 bytes of base64, as Lambda takes. */
#define LAMBDA_CONTEXT_MAX 3583
#define LAMBDA_LIST_DEFAULT 50
#define LAMBDA_LIST_MAX 10000

/* One error of the API as Lambda's clients know it: the first row whose
 * kind matches and whose code is NULL or e->code's. */
static const struct {
    err_kind kind;
    const char *code; /* NULL: any code of the kind */
    int status;       /* 0: the kind's own */
    const char *type;
} lambda_errors[] = {
    {ERR_FORBIDDEN, "invalid_signature", 0, "InvalidSignatureException"},
    {ERR_FORBIDDEN, "signature_expired", 0, "InvalidSignatureException"},
    {ERR_FORBIDDEN, "unrecognized_client", 0, "UnrecognizedClientException"},
    {ERR_FORBIDDEN, NULL, 0, "AccessDeniedException"},
    {ERR_INVALID, "incomplete_signature", 0, "IncompleteSignatureException"},
    {ERR_INVALID, "content_sha256_mismatch", 403, "InvalidSignatureException"},
    {ERR_UNAUTHORIZED, NULL, 403, "UnrecognizedClientException"},
    {ERR_INVALID, "invalid_json", 0, "InvalidRequestContentException"},
    {ERR_INVALID, "json_too_deep", 0, "InvalidRequestContentException"},
    {ERR_INVALID, "invalid_client_context", 0, "InvalidRequestContentException"},
    {ERR_INVALID, NULL, 0, "InvalidParameterValueException"},
    {ERR_UNPROCESSABLE, NULL, 400, "InvalidParameterValueException"},
    {ERR_NOT_FOUND, NULL, 0, "ResourceNotFoundException"},
    {ERR_CONFLICT, NULL, 0, "ResourceConflictException"},
    {ERR_TOO_LARGE, NULL, 0, "RequestTooLargeException"},
    {ERR_UNSUPPORTED, NULL, 0, "UnsupportedMediaTypeException"},
    {ERR_LIMIT, NULL, 0, "TooManyRequestsException"},
    {ERR_SLOW, NULL, 0, "RequestTimeoutException"},
    {ERR_METHOD, NULL, 501, "UnsupportedOperationException"},
    {ERR_UNIMPLEMENTED, NULL, 0, "UnsupportedOperationException"},
};

const char *lambda_error_type(const err_t *e)
{
    for (size_t i = 0; i < sizeof(lambda_errors) / sizeof(lambda_errors[0]); i++)
        if (lambda_errors[i].kind == e->kind &&
            (lambda_errors[i].code == NULL ||
             (e->code != NULL && strcmp(lambda_errors[i].code, e->code) == 0)))
            return lambda_errors[i].type;
    return "ServiceException";
}

int lambda_error_status(const err_t *e)
{
    for (size_t i = 0; i < sizeof(lambda_errors) / sizeof(lambda_errors[0]); i++)
        if (lambda_errors[i].kind == e->kind &&
            (lambda_errors[i].code == NULL ||
             (e->code != NULL && strcmp(lambda_errors[i].code, e->code) == 0)))
            return lambda_errors[i].status != 0 ? lambda_errors[i].status : err_status(e);
    return err_status(e);
}

/* The request id an answer names: the call's, or a fresh one. */
static void lambda_request_id(const route_call *c, char out[RUNTIME_ID_LEN])
{
    uuid_t u;
    if (c->id[0] != '\0') {
        snprintf(out, RUNTIME_ID_LEN, "%s", c->id);
        return;
    }
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

/* Answer a platform error: `status`, Lambda's `type` and `msg`. */
static void lambda_send(route_call *c, int status, const char *type, const char *msg, bool limit,
                        const char *headers)
{
    char rid[RUNTIME_ID_LEN], head[1024];
    lambda_request_id(c, rid);
    snprintf(head, sizeof(head), "x-amzn-ErrorType: %s\r\nx-amzn-RequestId: %s\r\n", type, rid);
    buf_t all;
    buf_init(&all, 32768);
    (void)buf_puts(&all, head);
    if (headers != NULL)
        (void)buf_puts(&all, headers);
    json_object *body = json_object_new_object();
    json_object_object_add(body, "Type", json_object_new_string(status < 500 ? "User" : "Service"));
    json_object_object_add(body, "message", json_object_new_string(msg));
    if (limit)
        json_object_object_add(body, "Reason",
                               json_object_new_string("ConcurrentInvocationLimitExceeded"));
    http_send_json(c->r, status, body, all.data);
    json_object_put(body);
    buf_free(&all);
}

void lambda_send_err(route_call *c, const err_t *e, const char *headers)
{
    lambda_send(c, lambda_error_status(e), lambda_error_type(e), e->msg, e->kind == ERR_LIMIT,
                headers);
}

bool lambda_path(const char *uri)
{
    /* "/YYYY-MM-DD/": the version every Lambda operation's path starts with. */
    static const char shape[] = "/dddd-dd-dd/";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (uri[i] == '\0')
            return false;
        if (shape[i] == 'd' ? (uri[i] < '0' || uri[i] > '9') : uri[i] != shape[i])
            return false;
    }
    return true;
}

/* Lambda's operations we do not offer, by method and path (after the API
 * version; '*' is one segment), so that the answer names the one asked for. */
static const struct {
    const char *method;
    const char *path;
    const char *op;
} lambda_ops[] = {
    {"PUT", "functions/*/code", "UpdateFunctionCode"},
    {"PUT", "functions/*/configuration", "UpdateFunctionConfiguration"},
    {"GET", "functions/*/versions", "ListVersionsByFunction"},
    {"POST", "functions/*/versions", "PublishVersion"},
    {"GET", "functions/*/aliases", "ListAliases"},
    {"POST", "functions/*/aliases", "CreateAlias"},
    {"GET", "functions/*/aliases/*", "GetAlias"},
    {"PUT", "functions/*/aliases/*", "UpdateAlias"},
    {"DELETE", "functions/*/aliases/*", "DeleteAlias"},
    {"GET", "functions/*/policy", "GetPolicy"},
    {"POST", "functions/*/policy", "AddPermission"},
    {"DELETE", "functions/*/policy/*", "RemovePermission"},
    {"GET", "functions/*/concurrency", "GetFunctionConcurrency"},
    {"PUT", "functions/*/concurrency", "PutFunctionConcurrency"},
    {"DELETE", "functions/*/concurrency", "DeleteFunctionConcurrency"},
    {"GET", "functions/*/url", "GetFunctionUrlConfig"},
    {"POST", "functions/*/url", "CreateFunctionUrlConfig"},
    {"PUT", "functions/*/url", "UpdateFunctionUrlConfig"},
    {"DELETE", "functions/*/url", "DeleteFunctionUrlConfig"},
    {"GET", "functions/*/event-invoke-config", "GetFunctionEventInvokeConfig"},
    {"PUT", "functions/*/event-invoke-config", "PutFunctionEventInvokeConfig"},
    {"POST", "functions/*/invoke-async", "InvokeAsync"},
    {"POST", "functions/*/response-streaming-invocations", "InvokeWithResponseStream"},
    {"GET", "event-source-mappings", "ListEventSourceMappings"},
    {"POST", "event-source-mappings", "CreateEventSourceMapping"},
    {"GET", "event-source-mappings/*", "GetEventSourceMapping"},
    {"PUT", "event-source-mappings/*", "UpdateEventSourceMapping"},
    {"DELETE", "event-source-mappings/*", "DeleteEventSourceMapping"},
    {"GET", "account-settings", "GetAccountSettings"},
    {"GET", "layers", "ListLayers"},
    {"GET", "tags/*", "ListTags"},
    {"POST", "tags/*", "TagResource"},
    {"DELETE", "tags/*", "UntagResource"},
};

/* Whether `path` (after the version, up to a '?' or the end, one trailing
 * slash tolerated) has the segments of `pattern`. */
static bool lambda_op_match(const char *pattern, const char *path)
{
    while (*pattern != '\0') {
        size_t seg = strcspn(path, "/?");
        if (*pattern == '*') {
            if (seg == 0)
                return false;
            pattern++;
        } else {
            size_t lit = strcspn(pattern, "/");
            if (lit != seg || strncmp(pattern, path, seg) != 0)
                return false;
            pattern += lit;
        }
        path += seg;
        if (*pattern == '/') {
            if (*path != '/')
                return false;
            pattern++;
            path++;
        }
    }
    return *path == '\0' || *path == '?' || (*path == '/' && (path[1] == '\0' || path[1] == '?'));
}

int lambda_unsupported(const char *method, const char *uri, err_t *e)
{
    const char *path = uri + strlen("/2015-03-31/");
    for (size_t i = 0; i < sizeof(lambda_ops) / sizeof(lambda_ops[0]); i++)
        if (strcmp(lambda_ops[i].method, method) == 0 && lambda_op_match(lambda_ops[i].path, path))
            return err_set(e, ERR_UNIMPLEMENTED, NULL, 0,
                           "the Lambda operation %s is not supported by minilambda",
                           lambda_ops[i].op);
    size_t n = strcspn(uri, "?");
    return err_set(e, ERR_UNIMPLEMENTED, NULL, 0,
                   "the Lambda operation %.16s %.*s is not supported by minilambda", method,
                   (int)(n < 200 ? n : 200), uri);
}

/* Split `s` at its colons into at most `max` parts (pointers into `s`,
 * which is changed). Returns the number of parts, or max + 1 for more. */
static int lambda_split(char *s, char **parts, int max)
{
    int n = 0;
    for (char *p = s;; p++) {
        if (n == max)
            return max + 1;
        parts[n++] = p;
        p = strchr(p, ':');
        if (p == NULL)
            return n;
        *p = '\0';
    }
}

/* Whether `s` is `n` digits. */
static bool lambda_digits(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789") == n;
}

/* Whether `q` is a qualifier's shape ([A-Za-z0-9$_-], 1 to 128). */
static bool lambda_qualifier_shape(const char *q)
{
    size_t n = strlen(q);
    return n > 0 && n <= 128 &&
           strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789$_-") == n;
}

int lambda_ref(route_call *c, err_t *e)
{
    char copy[HTTP_REF_MAX], query[160], *parts[9];
    const char *name = NULL, *qual = NULL;

    snprintf(copy, sizeof(copy), "%s", c->ref);
    int n = lambda_split(copy, parts, 8);
    if (strcmp(parts[0], "arn") == 0) {
        /* arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] */
        if ((n == 7 || n == 8) && strncmp(parts[1], "aws", 3) == 0 &&
            strcmp(parts[2], "lambda") == 0 && parts[3][0] != '\0' && lambda_digits(parts[4], 12) &&
            strcmp(parts[5], "function") == 0) {
            name = parts[6];
            qual = n == 8 ? parts[7] : NULL;
        }
    } else if (n == 1 || n == 2) {
        name = parts[0];
        qual = n == 2 ? parts[1] : NULL;
    } else if ((n == 3 || n == 4) && lambda_digits(parts[0], 12) &&
               strcmp(parts[1], "function") == 0) {
        /* The partial ARN: ACCOUNT:function:NAME[:QUALIFIER]. */
        name = parts[2];
        qual = n == 4 ? parts[3] : NULL;
    }
    if (name == NULL || !func_valid_name(name, strlen(name)) ||
        (qual != NULL && !lambda_qualifier_shape(qual)))
        return err_set(e, ERR_INVALID, "invalid_function_name", 0,
                       "FunctionName must be a name, name:qualifier or a function's ARN "
                       "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]), not "
                       "\"%.140s\"",
                       c->ref);
    int have = http_query(c->r, "Qualifier", query, sizeof(query));
    if (have < 0 || (have > 0 && !lambda_qualifier_shape(query)))
        return err_set(e, ERR_INVALID, "invalid_qualifier", 0,
                       "Qualifier must be a version or an alias: letters, digits, $, _ or -");
    if (have > 0 && qual != NULL && strcmp(query, qual) != 0)
        return err_set(e, ERR_INVALID, "qualifier_mismatch", 0,
                       "the qualifier in FunctionName (%s) is not the Qualifier parameter (%s)",
                       qual, query);
    if (have > 0)
        qual = query;
    if (qual != NULL && strcmp(qual, LAMBDA_LATEST) != 0)
        return err_set(e, ERR_NOT_FOUND, NULL, 0,
                       "Function not found: arn:aws:lambda:%s:" LAMBDA_ACCOUNT
                       ":function:%s:%s (only $LATEST: minilambda has no versions yet)",
                       c->t->app->cfg->region, name, qual);
    memmove(c->ref, name, strlen(name) + 1);
    return 0;
}

/* The ARN of function `name` into `out`. */
static void lambda_arn(const route_call *c, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "arn:aws:lambda:%s:" LAMBDA_ACCOUNT ":function:%s",
             c->t->app->cfg->region, name);
}

/* Lambda's LastModified ("2026-12-03T10:00:00.000+0000") of our RFC 3339
 * time `ts`, or `ts` itself when it does not parse. */
static json_object *lambda_modified(const char *ts)
{
    long long ms;
    char out[CLOCK_RFC3339_LEN];
    if (ts == NULL || clock_parse_rfc3339_ms(ts, &ms) != 0)
        return json_object_new_string(ts != NULL ? ts : "");
    clock_rfc3339(ms, out, sizeof(out));
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == 'Z' && n + 4 < sizeof(out))
        snprintf(out + n - 1, sizeof(out) - (n - 1), "+0000");
    return json_object_new_string(out);
}

/* String member `key` of `o`, or NULL. */
static const char *lambda_text(json_object *o, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

/* The FunctionConfiguration of `f` as the caller may see it (env values
 * redacted for a read-only key). Caller owns it. */
static json_object *lambda_config(const route_call *c, func_t *f)
{
    char arn[256];
    json_object *cfg = json_object_new_object(), *env;
    const char *modified = lambda_text(f->json, "updated_at");

    if (c->redact)
        func_redact(f->json);
    lambda_arn(c, f->name, arn, sizeof(arn));
    json_object_object_add(cfg, "FunctionName", json_object_new_string(f->name));
    json_object_object_add(cfg, "FunctionArn", json_object_new_string(arn));
    json_object_object_add(cfg, "PackageType", json_object_new_string("Image"));
    json_object_object_add(cfg, "Timeout", json_object_new_int(f->timeout));
    json_object_object_add(cfg, "MemorySize", json_object_new_int(f->memory_mb));
    json_object_object_add(
        cfg, "LastModified",
        lambda_modified(modified ? modified : lambda_text(f->json, "created_at")));
    json_object_object_add(cfg, "CodeSize", json_object_new_int(0));
    const char *sha = f->image_id;
    if (strncmp(sha, "sha256:", 7) == 0)
        sha += 7;
    json_object_object_add(cfg, "CodeSha256", json_object_new_string(sha));
    json_object_object_add(cfg, "Version", json_object_new_string(LAMBDA_LATEST));
    json_object_object_add(cfg, "Description", json_object_new_string(""));
    json_object_object_add(cfg, "State", json_object_new_string("Active"));
    json_object_object_add(cfg, "LastUpdateStatus", json_object_new_string("Successful"));
    json_object *arch = json_object_new_array();
    json_object_array_add(arch, json_object_new_string("x86_64"));
    json_object_object_add(cfg, "Architectures", arch);
    if (json_object_object_get_ex(f->json, "env", &env) && json_object_object_length(env) > 0) {
        json_object *wrap = json_object_new_object();
        json_object_object_add(wrap, "Variables", json_object_get(env));
        json_object_object_add(cfg, "Environment", wrap);
    }
    json_object *cmd;
    if (json_object_object_get_ex(f->json, "command", &cmd) &&
        json_object_is_type(cmd, json_type_array)) {
        json_object *ic = json_object_new_object(), *wrap = json_object_new_object();
        json_object_object_add(ic, "Command", json_object_get(cmd));
        json_object_object_add(wrap, "ImageConfig", ic);
        json_object_object_add(cfg, "ImageConfigResponse", wrap);
    }
    return cfg;
}

int lambda_get_configuration(route_call *c, err_t *e)
{
    (void)e;
    json_object *cfg = lambda_config(c, c->function);
    http_send_json(c->r, 200, cfg, NULL);
    json_object_put(cfg);
    return 0;
}

int lambda_get_function(route_call *c, err_t *e)
{
    (void)e;
    json_object *out = json_object_new_object(), *code = json_object_new_object();
    json_object_object_add(out, "Configuration", lambda_config(c, c->function));
    json_object_object_add(code, "RepositoryType", json_object_new_string("Docker"));
    json_object_object_add(code, "ImageUri", json_object_new_string(c->function->image));
    if (c->function->image_id[0] != '\0')
        json_object_object_add(code, "ResolvedImageUri",
                               json_object_new_string(c->function->image_id));
    json_object_object_add(out, "Code", code);
    http_send_json(c->r, 200, out, NULL);
    json_object_put(out);
    return 0;
}

static int lambda_by_name(const void *a, const void *b)
{
    const func_t *x = *(func_t *const *)a, *y = *(func_t *const *)b;
    return strcmp(x->name, y->name);
}

int lambda_list_functions(route_call *c, err_t *e)
{
    char marker[160] = "", items[16];
    func_t **all = NULL;
    size_t n = 0;
    long max = LAMBDA_LIST_DEFAULT;

    int have = http_query(c->r, "MaxItems", items, sizeof(items));
    if (have != 0) {
        char *end;
        max = have > 0 ? strtol(items, &end, 10) : 0;
        if (have < 0 || end == items || *end != '\0' || max < 1 || max > LAMBDA_LIST_MAX)
            return err_set(e, ERR_INVALID, "invalid_max_items", 0,
                           "MaxItems must be an integer from 1 to %d", LAMBDA_LIST_MAX);
    }
    if (http_query(c->r, "Marker", marker, sizeof(marker)) < 0)
        return err_set(e, ERR_INVALID, "invalid_marker", 0,
                       "Marker must be the NextMarker of an earlier page");
    if (store_all(c->t->app->store, &all, &n, e) != 0)
        return -1;
    qsort(all, n, sizeof(all[0]), lambda_by_name);
    json_object *out = json_object_new_object(), *list = json_object_new_array();
    const char *last = NULL;
    bool more = false;
    for (size_t i = 0; i < n && !more; i++) {
        if (!keys_allows_function(c->key, all[i]) ||
            (marker[0] != '\0' && strcmp(all[i]->name, marker) <= 0))
            continue;
        if ((long)json_object_array_length(list) == max) {
            more = true;
            continue;
        }
        json_object_array_add(list, lambda_config(c, all[i]));
        last = all[i]->name;
    }
    json_object_object_add(out, "Functions", list);
    if (more && last != NULL)
        json_object_object_add(out, "NextMarker", json_object_new_string(last));
    http_send_json(c->r, 200, out, NULL);
    json_object_put(out);
    store_all_free(all, n);
    return 0;
}

/* CreateFunction's members that change nothing here, accepted so that the
 * tools' requests pass as they are. */
static const char *const lambda_create_ignored[] = {
    "Role", "Description", "Architectures", "Tags", "TracingConfig", "LoggingConfig", NULL};

static bool lambda_listed(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], key) == 0)
            return true;
    return false;
}

/* The member `key` of CreateFunction body `in` into registration `out`
 * (as `as`), when present. */
static void lambda_copy(json_object *in, const char *key, json_object *out, const char *as)
{
    json_object *v;
    if (json_object_object_get_ex(in, key, &v))
        json_object_object_add(out, as, json_object_get(v));
}

/* Translate CreateFunction body `in` into a registration (`*out`, caller
 * owns). 0, or -1 with `e` for what minilambda cannot honour. */
static int lambda_registration(json_object *in, json_object **out, err_t *e)
{
    json_object *code, *v, *reg;
    const char *pkg = lambda_text(in, "PackageType");

    json_object_object_foreach(in, key, val)
    {
        (void)val;
        if (!lambda_listed(lambda_create_ignored, key) && strcmp(key, "FunctionName") != 0 &&
            strcmp(key, "PackageType") != 0 && strcmp(key, "Code") != 0 &&
            strcmp(key, "Timeout") != 0 && strcmp(key, "MemorySize") != 0 &&
            strcmp(key, "Environment") != 0 && strcmp(key, "ImageConfig") != 0 &&
            strcmp(key, "Publish") != 0)
            return err_set(e, ERR_INVALID, "unsupported_parameter", 0,
                           "CreateFunction's %.64s is not supported by minilambda", key);
    }
    if (pkg == NULL || strcmp(pkg, "Image") != 0)
        return err_set(
            e, ERR_INVALID, "unsupported_package_type", 0,
            "PackageType must be Image: minilambda runs container images (Code.ImageUri)");
    if (!json_object_object_get_ex(in, "Code", &code) ||
        !json_object_is_type(code, json_type_object) || lambda_text(code, "ImageUri") == NULL ||
        json_object_object_length(code) != 1)
        return err_set(e, ERR_INVALID, "invalid_code", 0,
                       "Code must be {\"ImageUri\": \"IMAGE\"} naming an image the engine has");
    if (json_object_object_get_ex(in, "Publish", &v) && json_object_get_boolean(v))
        return err_set(e, ERR_INVALID, "unsupported_parameter", 0,
                       "Publish is not supported: minilambda has no versions yet");
    reg = json_object_new_object();
    lambda_copy(in, "FunctionName", reg, "name");
    json_object_object_add(reg, "image", json_object_new_string(lambda_text(code, "ImageUri")));
    lambda_copy(in, "Timeout", reg, "timeout");
    lambda_copy(in, "MemorySize", reg, "memory_mb");
    json_object *env, *ic;
    if (json_object_object_get_ex(in, "Environment", &env)) {
        if (!json_object_is_type(env, json_type_object) || json_object_object_length(env) > 1 ||
            (json_object_object_length(env) == 1 &&
             !json_object_object_get_ex(env, "Variables", &v))) {
            json_object_put(reg);
            return err_set(e, ERR_INVALID, "invalid_env", 0,
                           "Environment must be {\"Variables\": {\"KEY\": \"value\", ...}}");
        }
        lambda_copy(env, "Variables", reg, "env");
    }
    if (json_object_object_get_ex(in, "ImageConfig", &ic)) {
        json_object_object_foreach(ic, member, mval)
        {
            (void)mval;
            if (strcmp(member, "Command") != 0) {
                json_object_put(reg);
                return err_set(e, ERR_INVALID, "unsupported_parameter", 0,
                               "ImageConfig.%.64s is not supported: only Command", member);
            }
        }
        lambda_copy(ic, "Command", reg, "command");
    }
    *out = reg;
    return 0;
}

int lambda_create_function(route_call *c, err_t *e)
{
    json_object *body = NULL, *reg = NULL, *cfg = NULL;
    func_t *rec = NULL;
    int rc = -1;
    if (http_read_json(c->r, HANDLERS_BODY_MAX, false, &body, NULL, e) != 0 ||
        lambda_registration(body, &reg, e) != 0 || handlers_create(c, reg, &rec, e) != 0)
        goto done;
    cfg = lambda_config(c, rec);
    http_send_json(c->r, 201, cfg, NULL);
    rc = 0;
done:
    json_object_put(cfg);
    func_free(rec);
    json_object_put(reg);
    json_object_put(body);
    return rc;
}

int lambda_delete_function(route_call *c, err_t *e)
{
    return handlers_delete_function(c, e);
}

/* What an invoke request carries besides the gate's checks. */
typedef struct {
    buf_t body;        /* the payload: the event as it is, owned */
    const char *event; /* into `body`, or "{}" for none */
    size_t event_len;
    bool tail;                            /* X-Amz-Log-Type: Tail */
    char context[LAMBDA_CONTEXT_MAX + 1]; /* X-Amz-Client-Context decoded, or "" */
} lambda_in;

/* Whether `p` (`n` bytes) is one JSON value, strictly, with blanks around
 * it allowed: Lambda's payload is any JSON, not only an object. */
static bool lambda_is_json(const char *p, size_t n)
{
    json_tokener *tok = json_tokener_new_ex(HTTP_JSON_DEPTH);
    if (tok == NULL)
        return false;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, p, (int)n);
    size_t end = json_tokener_get_parse_end(tok);
    /* A number at the very end waits for what might continue it: the end
     * of input (a NUL) ends it, once all of `p` was taken. */
    if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        o = json_tokener_parse_ex(tok, "", 1);
        end = n;
    }
    bool ok = o != NULL && json_tokener_get_error(tok) == json_tokener_success;
    for (size_t i = end; ok && i < n; i++)
        ok = p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r';
    ok = ok && memchr(p, '\0', n) == NULL;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* Read and check what an invoke request carries into `in`. */
static int lambda_read(route_call *c, lambda_in *in, err_t *e)
{
    const char *log = http_header(c->r, "HTTP_X_AMZ_LOG_TYPE");
    const char *ctx = http_header(c->r, "HTTP_X_AMZ_CLIENT_CONTEXT");

    memset(in, 0, sizeof(*in));
    buf_init(&in->body, LAMBDA_PAYLOAD_MAX);
    if (log != NULL && strcmp(log, "Tail") != 0 && strcmp(log, "None") != 0)
        return err_set(e, ERR_INVALID, "invalid_log_type", 0,
                       "X-Amz-Log-Type must be None or Tail");
    in->tail = log != NULL && strcmp(log, "Tail") == 0;
    if (ctx != NULL) {
        long n = strlen(ctx) <= LAMBDA_CONTEXT_MAX
                     ? b64_decode(ctx, (unsigned char *)in->context, sizeof(in->context))
                     : -1;
        json_object *o = n > 0 ? json_tokener_parse(in->context) : NULL;
        bool ok = o != NULL && json_object_is_type(o, json_type_object) &&
                  lambda_is_json(in->context, (size_t)n);
        json_object_put(o);
        if (!ok)
            return err_set(e, ERR_INVALID, "invalid_client_context", 0,
                           "X-Amz-Client-Context must be a JSON object in base64, at most %d "
                           "characters",
                           LAMBDA_CONTEXT_MAX);
    }
    if (http_read_body(c->r, LAMBDA_PAYLOAD_MAX, &in->body, e) != 0) {
        if (e->kind == ERR_TOO_LARGE)
            return err_set(e, ERR_TOO_LARGE, NULL, 0,
                           "Request must be smaller than %u bytes for the InvokeFunction operation",
                           LAMBDA_PAYLOAD_MAX);
        return -1;
    }
    in->event = "{}";
    in->event_len = 2;
    if (in->body.len == 0)
        return 0;
    if (!lambda_is_json(in->body.data, in->body.len))
        return err_set(e, ERR_INVALID, "invalid_json", 0,
                       "Could not parse request body into json: the payload must be one JSON "
                       "value in UTF-8");
    in->event = in->body.data;
    in->event_len = in->body.len;
    return 0;
}

/* The function error body of an outcome that is not the function's
 * result and carries no runtime's own error body: {"errorMessage",
 * "errorType"}. Caller owns it. */
static json_object *lambda_function_error(const route_call *c, const runtime_result *res,
                                          int timeout_s)
{
    char msg[700];
    const char *type = res->error_type[0] != '\0' ? res->error_type : "Runtime.ExitError";
    if (res->status == STATUS_TIMEOUT || res->status == STATUS_INIT_TIMEOUT) {
        type = "Sandbox.Timedout";
        snprintf(msg, sizeof(msg), "RequestId: %s Error: Task timed out after %d.00 seconds%s",
                 c->id, timeout_s,
                 res->status == STATUS_INIT_TIMEOUT ? " (the runtime never asked for the event)"
                                                    : "");
    } else if (res->status == STATUS_SUCCEEDED) {
        type = "Function.ResponseSizeTooLarge";
        snprintf(msg, sizeof(msg),
                 "Response payload size exceeded maximum allowed payload size (%u bytes).",
                 LAMBDA_PAYLOAD_MAX);
    } else if (res->status == STATUS_FAILED && res->error_type[0] == '\0') {
        snprintf(msg, sizeof(msg), "RequestId: %s Error: Runtime exited with error: exit status %d",
                 c->id, res->exit_code);
    } else {
        if (res->error_type[0] == '\0')
            type = "Runtime.InvalidResponse";
        snprintf(msg, sizeof(msg), "RequestId: %s Error: %s", c->id, res->message);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "errorMessage", json_object_new_string(msg));
    json_object_object_add(o, "errorType", json_object_new_string(type));
    return o;
}

/* Whether `res` carries the runtime's own error body (a Lambda runtime's
 * /error or /init/error): it is the answer as the runtime wrote it. */
static bool lambda_runtime_error(const runtime_result *res)
{
    return res->error_type[0] != '\0' && res->out.len > 0 &&
           (res->status == STATUS_FAILED || res->status == STATUS_INIT_ERROR) &&
           lambda_is_json(res->out.data, res->out.len);
}

/* X-Amz-Log-Result's header line for `res` into `out`: base64 of the last
 * 4 KB of the logs, framed as Lambda frames them (START, END, REPORT). */
static void lambda_tail(const route_call *c, const runtime_result *res, buf_t *out)
{
    buf_t logs;
    char enc[B64_LEN(LAMBDA_TAIL) + 1];
    buf_init(&logs, LAMBDA_TAIL * 2 + 1024);
    (void)buf_printf(&logs, "START RequestId: %s Version: " LAMBDA_LATEST "\n", c->id);
    size_t from = res->err.len > LAMBDA_TAIL ? res->err.len - LAMBDA_TAIL : 0;
    if (res->err.len > 0)
        (void)buf_append(&logs, res->err.data + from, res->err.len - from);
    if (logs.len > 0 && logs.data[logs.len - 1] != '\n')
        (void)buf_puts(&logs, "\n");
    (void)buf_printf(&logs,
                     "END RequestId: %s\nREPORT RequestId: %s\tDuration: %ld.00 ms\tBilled "
                     "Duration: %ld ms\tMemory Size: %d MB\n",
                     c->id, c->id, res->duration_ms, res->duration_ms, c->function->memory_mb);
    size_t start = logs.len > LAMBDA_TAIL ? logs.len - LAMBDA_TAIL : 0;
    if (b64_encode(logs.data + start, logs.len - start, enc, sizeof(enc)) >= 0)
        (void)buf_printf(out, "X-Amz-Log-Result: %s\r\n", enc);
    buf_free(&logs);
}

/* Answer the outcome `res` of a synchronous invoke. */
static void lambda_answer(route_call *c, const lambda_in *in, const runtime_result *res, bool kept,
                          int timeout_s)
{
    buf_t head;
    bool big = res->status == STATUS_SUCCEEDED && res->out.len >= res->out.max && res->truncated;
    bool function_error = big || res->status == STATUS_FAILED || res->status == STATUS_TIMEOUT ||
                          res->status == STATUS_PROTOCOL_ERROR ||
                          res->status == STATUS_INIT_ERROR || res->status == STATUS_INIT_TIMEOUT;

    buf_init(&head, 16384);
    (void)buf_printf(&head,
                     "X-Amz-Executed-Version: " LAMBDA_LATEST
                     "\r\nx-amzn-RequestId: %s\r\nX-Invocation-Id: %s\r\n%s",
                     c->id, c->id, kept ? "" : "X-Record-Kept: false\r\n");
    if (in->tail)
        lambda_tail(c, res, &head);
    if (!function_error && res->status != STATUS_SUCCEEDED) {
        /* The platform failed the call, not the function. */
        lambda_send(c, status_http(res->status), "ServiceException", res->message, false,
                    head.data);
    } else if (!function_error) {
        http_send(c->r, 200, head.data, "application/json", res->out.data ? res->out.data : "",
                  res->out.len);
    } else if (lambda_runtime_error(res)) {
        (void)buf_puts(&head, "X-Amz-Function-Error: Unhandled\r\n");
        http_send(c->r, 200, head.data, "application/json", res->out.data, res->out.len);
    } else {
        json_object *body = lambda_function_error(c, res, timeout_s);
        (void)buf_puts(&head, "X-Amz-Function-Error: Unhandled\r\n");
        http_send_json(c->r, 200, body, head.data);
        json_object_put(body);
    }
    buf_free(&head);
}

int lambda_invoke(route_call *c, err_t *e)
{
    lambda_in in;
    runtime_result res;
    char now[CLOCK_RFC3339_LEN];
    bool kept;
    int timeout_s = c->function->timeout;

    runtime_result_init(&res);
    int rc = lambda_read(c, &in, e);
    if (rc == 0) {
        handlers_run(c, in.event, in.event_len, timeout_s, in.context[0] ? in.context : NULL, &res,
                     &kept, now, sizeof(now));
        lambda_answer(c, &in, &res, kept, timeout_s);
    }
    buf_free(&in.body);
    runtime_result_free(&res);
    return rc;
}

int lambda_invoke_event(route_call *c, err_t *e)
{
    lambda_in in;
    json_object *inv = NULL;
    char head[256];
    int rc = lambda_read(c, &in, e);
    if (rc == 0)
        rc = handlers_enqueue(c, in.event, in.event_len, c->function->timeout, &inv, e);
    if (rc == 0) {
        const char *id = lambda_text(inv, "id");
        snprintf(head, sizeof(head), "x-amzn-RequestId: %s\r\nX-Invocation-Id: %s\r\n", id, id);
        http_send(c->r, 202, head, "application/json", "", 0);
    }
    json_object_put(inv);
    buf_free(&in.body);
    return rc;
}

int lambda_invoke_dry_run(route_call *c, err_t *e)
{
    char rid[RUNTIME_ID_LEN], head[128];
    (void)e;
    lambda_request_id(c, rid);
    snprintf(head, sizeof(head), "x-amzn-RequestId: %s\r\n", rid);
    http_send(c->r, 204, head, "application/json", "", 0);
    return 0;
}
