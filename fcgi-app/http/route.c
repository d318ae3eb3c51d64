#include "http/route.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "base/cidr.h"

#include "base/log.h"
#include "http/awsauth.h"
#include "http/handlers.h"
#include "http/images.h"
#include "http/lambda.h"
#include "http/replay.h"
#include "parse/sigv4.h"
#include "state/metrics.h"
#include "state/throttle.h"

#define FN ROUTE_FUNCTION
#define ONCE ROUTE_IDEMPOTENT
#define OPEN ROUTE_OPEN
#define DEPLOY KEYS_DEPLOY
#define INVOKE KEYS_INVOKE
#define READ KEYS_READ
#define AMZ ROUTE_AMZ

/* The API. Rows of one template sit together; a row that depends on a
 * header comes before the row without the condition. Admin keys may call
 * every route; the scopes column names the other scopes that may. The
 * last column is the route's OpenAPI documentation (apidoc.c), one per
 * template and method. */
static const route_def route_table[] = {
    {"/functions", HTTP_GET, handlers_list_functions, APP_CONTROL, ROUTE_REDACT, DEPLOY | READ,
     &apidoc_list_functions},
    {"/functions", HTTP_POST, handlers_create_function, APP_CONTROL, ONCE, DEPLOY,
     &apidoc_create_function},
    {"/functions/{ref}", HTTP_GET, handlers_get_function, APP_CONTROL, FN | ROUTE_REDACT,
     DEPLOY | READ, &apidoc_get_function},
    {"/functions/{ref}", HTTP_PATCH, handlers_update_function, APP_CONTROL, FN, DEPLOY,
     &apidoc_update_function},
    {"/functions/{ref}", HTTP_DELETE, handlers_delete_function, APP_CONTROL, FN, DEPLOY,
     &apidoc_delete_function},
    {"/invoke/{ref}", HTTP_POST, handlers_invoke_async, APP_INVOKE, FN | ROUTE_IF_EVENT | ONCE,
     INVOKE, &apidoc_invoke_function},
    {"/invoke/{ref}", HTTP_POST, handlers_invoke, APP_INVOKE,
     FN | ROUTE_SLOT | ONCE | ROUTE_NO_REDO, INVOKE, &apidoc_invoke_function},
    {"/invoke/{ref}/async", HTTP_POST, handlers_invoke_async, APP_INVOKE, FN | ONCE, INVOKE,
     &apidoc_invoke_function_async},
    {"/invocations", HTTP_GET, handlers_list_invocations, APP_CONTROL, ROUTE_OWN,
     DEPLOY | READ | INVOKE, &apidoc_list_invocations},
    {"/invocations/{id}", HTTP_GET, handlers_get_invocation, APP_CONTROL, ROUTE_OWN,
     DEPLOY | READ | INVOKE, &apidoc_get_invocation},
    {"/invocations/{id}", HTTP_POST, handlers_get_invocation, APP_CONTROL, ROUTE_OWN,
     DEPLOY | READ | INVOKE, &apidoc_get_invocation_by_post},
    /* Cancelling: an invoke key its own runs, a deploy key any run; read
     * is not in the row, so it never lifts the own-runs restriction. */
    {"/invocations/{id}", HTTP_DELETE, handlers_cancel_invocation, APP_CONTROL, ROUTE_OWN,
     DEPLOY | INVOKE, &apidoc_cancel_invocation},
    {"/healthz", HTTP_GET, handlers_healthz, APP_CONTROL, 0, OPEN, &apidoc_health},
    {"/metrics", HTTP_GET, handlers_metrics, APP_CONTROL, ROUTE_ALLOWLIST, KEYS_METRICS,
     &apidoc_metrics},
    /* An upload holds a thread for as long as the client sends: it takes an
     * upload slot of its own (MINILAMBDA_MAX_UPLOADS) on the control plane,
     * never an invocation's thread or slot. */
    {"/images", HTTP_GET, images_list, APP_CONTROL, ROUTE_STREAM_BODY, DEPLOY, &apidoc_list_images},
    {"/images", HTTP_POST, images_upload, APP_CONTROL, ROUTE_UPLOAD | ROUTE_STREAM_BODY, DEPLOY,
     &apidoc_upload_image},
    {"/keys", HTTP_GET, handlers_list_keys, APP_CONTROL, 0, KEYS_ADMIN, &apidoc_list_keys},
    {"/keys", HTTP_POST, handlers_create_key, APP_CONTROL, 0, KEYS_ADMIN, &apidoc_create_key},
    {"/keys/{id}", HTTP_DELETE, handlers_delete_key, APP_CONTROL, 0, KEYS_ADMIN,
     &apidoc_delete_key},
    /* The Lambda API's door to the same calls (lambda.h). nginx sends the
     * invocations, a template of its own, to the invoke plane by a regex
     * location; the rest of the segment goes to the control plane. */
    {"/2015-03-31/functions", HTTP_GET, lambda_list_functions, APP_CONTROL, AMZ | ROUTE_REDACT,
     DEPLOY | READ, &apidoc_lambda_list_functions},
    {"/2015-03-31/functions", HTTP_POST, lambda_create_function, APP_CONTROL, AMZ | ONCE, DEPLOY,
     &apidoc_lambda_create_function},
    {"/2015-03-31/functions/{ref}", HTTP_GET, lambda_get_function, APP_CONTROL,
     AMZ | FN | ROUTE_REDACT, DEPLOY | READ, &apidoc_lambda_get_function},
    {"/2015-03-31/functions/{ref}", HTTP_DELETE, lambda_delete_function, APP_CONTROL, AMZ | FN,
     DEPLOY, &apidoc_lambda_delete_function},
    {"/2015-03-31/functions/{ref}/configuration", HTTP_GET, lambda_get_configuration, APP_CONTROL,
     AMZ | FN | ROUTE_REDACT, DEPLOY | READ, &apidoc_lambda_get_configuration},
    {"/2015-03-31/functions/{ref}/invocations", HTTP_POST, lambda_invoke_event, APP_INVOKE,
     AMZ | FN | ROUTE_IF_EVENT | ONCE, INVOKE, &apidoc_lambda_invoke},
    {"/2015-03-31/functions/{ref}/invocations", HTTP_POST, lambda_invoke_dry_run, APP_INVOKE,
     AMZ | FN | ROUTE_IF_DRY_RUN, INVOKE, &apidoc_lambda_invoke},
    {"/2015-03-31/functions/{ref}/invocations", HTTP_POST, lambda_invoke, APP_INVOKE,
     AMZ | FN | ROUTE_SLOT | ONCE | ROUTE_NO_REDO, INVOKE, &apidoc_lambda_invoke},
};

#undef FN
#undef ONCE
#undef OPEN
#undef DEPLOY
#undef INVOKE
#undef READ
#undef AMZ

#define ROUTE_ROWS (sizeof(route_table) / sizeof(route_table[0]))

/* Every row may be its own template, plus "other": the metrics segment
 * has room for them all. */
_Static_assert(ROUTE_ROWS + 1 <= METRICS_ROUTES, "raise METRICS_ROUTES for the route table");

static const char *route_names[ROUTE_ROWS + 1];
static int route_ids[ROUTE_ROWS];
static int route_name_count;
static pthread_once_t route_once = PTHREAD_ONCE_INIT;

/* Number the distinct templates in table order, after "other". */
static void route_number(void)
{
    route_names[0] = "other";
    route_name_count = 1;
    for (size_t i = 0; i < ROUTE_ROWS; i++) {
        int id = 0;
        for (int k = 1; k < route_name_count && id == 0; k++)
            if (strcmp(route_names[k], route_table[i].tmpl) == 0)
                id = k;
        if (id == 0) {
            id = route_name_count++;
            route_names[id] = route_table[i].tmpl;
        }
        route_ids[i] = id;
    }
}

const route_def *route_rows(size_t *count)
{
    *count = ROUTE_ROWS;
    return route_table;
}

const char *const *route_metric_names(int *count)
{
    pthread_once(&route_once, route_number);
    *count = route_name_count;
    return route_names;
}

/* What the invocation type asks for. */
typedef enum {
    ROUTE_TYPE_NONE,
    ROUTE_TYPE_EVENT,
    ROUTE_TYPE_SYNC,
    ROUTE_TYPE_DRY_RUN,
    ROUTE_TYPE_BAD
} route_type;

/* The type `v` asks for; DryRun only on the Lambda API (`amz`). */
static route_type route_invocation_type(const char *v, bool amz)
{
    if (v == NULL)
        return ROUTE_TYPE_NONE;
    if (strcmp(v, "Event") == 0)
        return ROUTE_TYPE_EVENT;
    if (amz && strcmp(v, "DryRun") == 0)
        return ROUTE_TYPE_DRY_RUN;
    return strcmp(v, "RequestResponse") == 0 ? ROUTE_TYPE_SYNC : ROUTE_TYPE_BAD;
}

/* The methods row `d` answers. */
static unsigned route_methods(const route_def *d)
{
    return d->method & HTTP_GET ? d->method | HTTP_HEAD : d->method;
}

/* Whether row `d`'s condition holds for invocation type `type`. */
static bool route_condition(const route_def *d, route_type type)
{
    if (d->flags & ROUTE_IF_EVENT)
        return type == ROUTE_TYPE_EVENT;
    if (d->flags & ROUTE_IF_DRY_RUN)
        return type == ROUTE_TYPE_DRY_RUN;
    return true;
}

int route_match(const char *method, const char *uri, const route_types *types, route_found *f,
                err_t *e)
{
    unsigned bit = http_method_bit(method);
    route_type native = route_invocation_type(types ? types->invocation_type : NULL, false);
    route_type amz = route_invocation_type(types ? types->amz_type : NULL, true);

    pthread_once(&route_once, route_number);
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < ROUTE_ROWS; i++) {
        const route_def *d = &route_table[i];
        if (f->allow != 0 && strcmp(d->tmpl, route_table[i - 1].tmpl) != 0)
            break; /* past the rows of the template that matched */
        int m = http_match_path(d->tmpl, uri, f->ref, sizeof(f->ref));
        if (m < 0)
            return err_set(e, ERR_INVALID, "invalid_path", 0,
                           "the path has a bad percent-escape, a NUL byte or an overlong segment");
        if (m == 0)
            continue;
        route_type type = d->flags & ROUTE_AMZ ? amz : native;
        f->allow |= route_methods(d);
        f->metric = route_ids[i];
        if ((d->flags & (ROUTE_IF_EVENT | ROUTE_IF_DRY_RUN)) && type == ROUTE_TYPE_BAD)
            return err_set(e, ERR_INVALID, "invalid_invocation_type", 0,
                           d->flags & ROUTE_AMZ
                               ? "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun"
                               : "X-Invocation-Type must be Event or RequestResponse");
        if (f->row == NULL && (route_methods(d) & bit) && route_condition(d, type))
            f->row = d;
    }
    if (f->row != NULL)
        return 0;
    if (f->allow == 0)
        return err_set(e, ERR_NOT_FOUND, NULL, 0, "no such route");
    return err_set(e, ERR_METHOD, NULL, 0, "method not allowed on this route");
}

/* Take an invocation slot for `c`, minting its id. 0, or -1 with a 429. */
static int route_take_slot(route_call *c, const route_def *d, err_t *e)
{
    app_t *app = c->t->app;
    int max = app->cfg->max_concurrency;
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, c->id);
    if (slots_acquire(app->slots, SLOTS_INVOKE, app->row, max) == 0)
        return 0;
    c->retry_after = 1;
    if (d->flags & ROUTE_FUNCTION) {
        log_info("invoke function=%s id=%s status=rejected", c->function->name, c->id);
    }
    return err_set(e, ERR_LIMIT, NULL, 0, "all %d invocation slots are busy; retry shortly", max);
}

/* The token of an "Authorization: Bearer <token>" header, or NULL. */
static const char *route_bearer(const char *h)
{
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h != '\0' ? h : NULL;
}

/* One hop of X-Forwarded-For, the `len` bytes at `p` less blanks: as text
 * into `hop` and as a client key into `out`. 0, or -1 when it is not an
 * address. */
static int route_hop(const char *p, size_t len, char hop[64], unsigned char out[THROTTLE_ADDR_LEN])
{
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= 64)
        return -1;
    memcpy(hop, p, len);
    hop[len] = '\0';
    return cidr_key(hop, out);
}

/*
 * The client the failed-key limit counts for: the peer nginx saw
 * (REMOTE_ADDR) or, when MINILAMBDA_TRUSTED_PROXIES lists the peer, the
 * X-Forwarded-For hops from the right, each appended by a trusted proxy,
 * up to the first that is not one. A hop that is not an address stops
 * the walk at the proxy that reported it. A request with no address at
 * all counts as the all-zero one.
 */
static void route_client(const route_call *c, unsigned char out[THROTTLE_ADDR_LEN])
{
    const char *list = c->t->app->cfg->trusted_proxies;
    const char *peer = http_header(c->r, "REMOTE_ADDR");
    const char *xff = http_header(c->r, "HTTP_X_FORWARDED_FOR");
    unsigned char hop[THROTTLE_ADDR_LEN];
    char text[64];

    if (cidr_key(peer, out) != 0) {
        memset(out, 0, THROTTLE_ADDR_LEN);
        return;
    }
    if (xff == NULL || !cidr_any(list) || !cidr_allows(list, peer))
        return;
    size_t end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        if (route_hop(xff + start, end - start, text, hop) != 0)
            return;
        memcpy(out, hop, sizeof(hop));
        if (!cidr_allows(list, text))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}

/* Take an upload slot for `c` (its holder into `*holder`): one of
 * MINILAMBDA_MAX_UPLOADS, within its key's share (half of them, at least
 * one: a key cannot hold them all) and its address's
 * (MINILAMBDA_UPLOADS_PER_ADDRESS; 0: the same half). 0, or -1 with a 429. */
static int route_take_upload(route_call *c, int *holder, err_t *e)
{
    app_t *app = c->t->app;
    int max = app->cfg->max_uploads, share = max / 2 > 1 ? max / 2 : 1;
    int per_addr = app->cfg->uploads_per_address > 0 ? app->cfg->uploads_per_address : share;
    unsigned char client[THROTTLE_ADDR_LEN];
    char addr[2 * THROTTLE_ADDR_LEN + 1];
    slots_refusal why;

    /* The same client the failed-key limit counts: behind a trusted proxy,
     * the one X-Forwarded-For names. */
    route_client(c, client);
    for (size_t i = 0; i < sizeof(client); i++)
        snprintf(addr + 2 * i, 3, "%02x", client[i]);
    *holder = slots_upload_acquire(app->slots, app->row, c->key != NULL ? c->key->id : "", addr,
                                   max, share, per_addr, &why);
    if (*holder >= 0)
        return 0;
    c->retry_after = 1;
    if (why == SLOTS_KEY_SHARE)
        return err_set(e, ERR_LIMIT, "too_many_uploads", 0,
                       "this key holds %d of the %d upload slots, its share; retry once one "
                       "of its uploads is done",
                       share, max);
    if (why == SLOTS_ADDR_SHARE)
        return err_set(e, ERR_LIMIT, "too_many_uploads", 0,
                       "this address holds %d uploads, its share "
                       "(MINILAMBDA_UPLOADS_PER_ADDRESS); retry once one is done",
                       per_addr);
    return err_set(e, ERR_LIMIT, "too_many_uploads", 0,
                   "all %d upload slots are busy; retry shortly", max);
}

/* Count a failed key check for the client. 0, or -1 with a 429 in `e`
 * when the client failed too often this minute. */
static int route_count_failure(route_call *c, err_t *e)
{
    app_t *app = c->t->app;
    unsigned char client[THROTTLE_ADDR_LEN];
    route_client(c, client);
    if (throttle_fail(app->throttle, client) <= app->cfg->auth_failures)
        return 0;
    c->retry_after = (throttle_minute_left() + 999) / 1000;
    return err_set(e, ERR_LIMIT, "too_many_failures", 0,
                   "too many failed key checks from this address; retry in a minute");
}

/* A SigV4-signed request (awsauth.h): the key whose access key id signed
 * it, into `*key`. An unknown id where keys are optional is no key at all
 * (a first `aws lambda invoke` with dummy credentials is served); every
 * other failure counts as a failed key. A route open to all checks
 * nothing. The body read for the hash is left in `ahead`. */
static int route_sigv4(route_call *c, const route_def *d, keys_key *key, bool *have, buf_t *ahead,
                       err_t *e)
{
    app_t *app = c->t->app;
    size_t max = c->t->plane == APP_INVOKE ? HANDLERS_INVOKE_MAX : HANDLERS_BODY_MAX;
    if (d->access == ROUTE_OPEN)
        return 0;
    int found =
        awsauth_verify(c->r, app->keys, max, (d->flags & ROUTE_STREAM_BODY) != 0, ahead, key, e);
    if (found > 0) {
        *have = true;
        c->key = key;
        return 0;
    }
    if (found == 0 && !app->cfg->auth_required)
        return 0;
    /* The store's own failures are not the client's. */
    if (e->kind != ERR_FORBIDDEN && e->kind != ERR_INVALID)
        return -1;
    err_t why = *e;
    if (route_count_failure(c, e) != 0)
        return -1;
    *e = why;
    return -1;
}

/* Who is calling: find the key the request presents (`*key`, NULL when
 * none was given and none is needed): a Bearer key, or a SigV4 signature
 * (route_sigv4). 0, or -1 with `e`: 401, 403 for a SigV4 failure, or 429
 * when the client failed too often this minute. The key is checked first:
 * the failure limit refuses only a request without a valid key, so a
 * valid key is served whatever its address's count. */
static int route_authenticate(route_call *c, const route_def *d, keys_key *key, bool *have,
                              buf_t *ahead, err_t *e)
{
    app_t *app = c->t->app;
    const char *auth = http_header(c->r, "HTTP_AUTHORIZATION");
    const char *token = route_bearer(auth);
    bool needed = d->access != ROUTE_OPEN && app->cfg->auth_required;

    *have = false;
    if (sigv4_is_sigv4(auth))
        return route_sigv4(c, d, key, have, ahead, e);
    if (token == NULL && !needed && auth == NULL)
        return 0;
    int found = token != NULL ? keys_find(app->keys, token, key, e) : 0;
    if (found < 0)
        return -1;
    if (found == 0) {
        if (route_count_failure(c, e) != 0)
            return -1;
        return err_set(e, ERR_UNAUTHORIZED, NULL, 0,
                       token == NULL ? "this route needs an API key: Authorization: Bearer <key>"
                                     : "the API key is not known (revoked, or never issued)");
    }
    *have = true;
    c->key = key;
    return 0;
}

/* The function {ref} names, into c->function, when the caller's key may
 * see it. A function outside the key's `functions` list answers exactly as
 * one that does not exist (404 not_found, the same message), so that the
 * key cannot tell the two apart. 0, or -1 with `e`. */
static int route_function(route_call *c, err_t *e)
{
    if (c->function != NULL)
        return 0;
    if (store_get(c->t->app->store, c->ref, &c->function, e) != 0)
        return -1;
    if (keys_allows_function(c->key, c->function))
        return 0;
    func_free(c->function);
    c->function = NULL;
    return store_not_found(c->ref, e);
}

/* May the caller's key call route `d`, and at what rate? Sets the key's
 * view: only its own runs, env redacted. */
static int route_authorize(route_call *c, const route_def *d, err_t *e)
{
    const keys_key *k = c->key;
    if (k == NULL || d->access == ROUTE_OPEN)
        return 0;
    if (!(k->scopes & KEYS_ADMIN) && !(k->scopes & d->access)) {
        /* 403 only for a function the key may see: for one outside its
         * list, a scope miss would say that the function exists. An
         * unlimited key gets 403 before any lookup, whether {ref} exists
         * or not. */
        if ((d->flags & ROUTE_FUNCTION) && k->functions != NULL && route_function(c, e) != 0)
            return -1;
        return err_set(e, ERR_FORBIDDEN, NULL, 0, "the key's scopes do not allow this route");
    }
    unsigned wide = KEYS_ADMIN | (d->access & ~(KEYS_INVOKE | KEYS_READ));
    /* read sees every run only on a route whose row grants read. */
    if ((d->flags & ROUTE_OWN) && !(k->scopes & (wide | (d->access & KEYS_READ))))
        c->owner = k->id;
    if ((d->flags & ROUTE_REDACT) && !(k->scopes & wide))
        c->redact = true;
    if (k->rate > 0) {
        long wait = throttle_take(c->t->app->throttle, k->id, k->rate);
        if (wait > 0) {
            c->retry_after = (wait + 999) / 1000;
            return err_set(e, ERR_LIMIT, "rate_limited", 0,
                           "the key's rate of %g requests a second is used up", k->rate);
        }
    }
    return 0;
}

/* Everything the gate checks after matching, in order. 1 when the handler
 * may run (`*slot` is the pool of the slot taken, or -1; `*holder` the
 * upload slot's holder, or -1), -1 with `e`. */
static int route_admit(route_call *c, const route_def *d, keys_key *key, bool *have_key,
                       buf_t *ahead, int *slot, int *holder, err_t *e)
{
    app_t *app = c->t->app;
    *slot = -1;
    *holder = -1;
    /* nginx picks the plane by the decoded, normalized path and we route
     * by the raw one: they differ only for dot segments or escaped slashes
     * that resolve to another route (or for a hand-written nginx config). */
    if (d->plane != c->t->plane)
        return err_set(e, ERR_INVALID, "invalid_path", 0,
                       "the path resolves to another route once decoded (dot segments or "
                       "escaped slashes)");
    if ((d->flags & ROUTE_ALLOWLIST) &&
        !cidr_allows(app->cfg->metrics_allow, http_header(c->r, "REMOTE_ADDR")))
        return err_set(e, ERR_FORBIDDEN, NULL, 0, "this address may not read %s", d->tmpl);
    /* A Lambda FunctionName is made a plain name first: the checks after
     * this, the key's function list included, see only names. */
    if ((d->flags & ROUTE_AMZ) && (d->flags & ROUTE_FUNCTION) && lambda_ref(c, e) != 0)
        return -1;
    if (route_authenticate(c, d, key, have_key, ahead, e) != 0 || route_authorize(c, d, e) != 0)
        return -1;
    if ((d->flags & ROUTE_FUNCTION) && route_function(c, e) != 0)
        return -1;
    if ((d->flags & ROUTE_UPLOAD) && route_take_upload(c, holder, e) != 0)
        return -1;
    if (d->flags & ROUTE_SLOT) {
        if (route_take_slot(c, d, e) != 0)
            return -1;
        *slot = (int)SLOTS_INVOKE;
    }
    return 1;
}

/* The headers an error answer carries besides its body. */
static void route_error_headers(const route_call *c, const route_found *f, const err_t *e,
                                char *out, size_t outlen)
{
    char methods[64];
    out[0] = '\0';
    if (e->kind == ERR_METHOD) {
        http_allow(f->allow, methods, sizeof(methods));
        snprintf(out, outlen, "Allow: %s\r\n", methods);
    } else if (e->kind == ERR_UNAUTHORIZED) {
        snprintf(out, outlen, "WWW-Authenticate: Bearer realm=\"minilambda\"\r\n");
    } else if (e->kind == ERR_LIMIT || e->kind == ERR_BUSY) {
        snprintf(out, outlen, "Retry-After: %ld\r\n", c->retry_after > 0 ? c->retry_after : 1);
    } else if (c->retry_after > 0) {
        snprintf(out, outlen, "Retry-After: %ld\r\n", c->retry_after);
    }
    /* A call with an id has a record under it, refused or not. */
    if (c->id[0] != '\0') {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "X-Invocation-Id: %s\r\n", c->id);
    }
}

void route_handle(app_thread *t, FCGX_Request *req)
{
    http_req r;
    route_call c;
    route_found f;
    keys_key key;
    err_t e;
    replay_t replay;
    buf_t signed_body; /* a SigV4 request's body, read ahead for its hash */
    bool have_key = false;
    int slot = -1, holder = -1;
    char headers[256];

    http_req_init(&r, req);
    replay_init(&replay);
    buf_init(&signed_body, 0);
    memset(&c, 0, sizeof(c));
    c.t = t;
    c.r = &r;
    err_clear(&e);
    /* `rc` is the last step's result (-1: it failed, with `e`); `more`
     * says whether the next step runs. A replayed answer ends the chain
     * with rc 0, as a handler's does. */
    route_types types = {http_header(&r, "HTTP_X_INVOCATION_TYPE"),
                         http_header(&r, "HTTP_X_AMZ_INVOCATION_TYPE")};
    int rc = route_match(r.method, r.uri, &types, &f, &e);
    bool more = rc == 0;
    if (more) {
        memcpy(c.ref, f.ref, sizeof(c.ref));
        rc = route_admit(&c, f.row, &key, &have_key, &signed_body, &slot, &holder, &e);
        more = rc > 0;
    }
    if (more && (f.row->flags & ROUTE_IDEMPOTENT)) {
        rc = replay_begin(&c, !(f.row->flags & ROUTE_NO_REDO), &replay, &e);
        more = rc > 0;
    }
    if (more)
        rc = f.row->handler(&c, &e);
    replay_end(&c, &replay, rc);
    if (rc < 0) {
        route_error_headers(&c, &f, &e, headers, sizeof(headers));
        if (f.row != NULL ? (f.row->flags & ROUTE_AMZ) != 0 : lambda_path(r.uri)) {
            /* An operation of the Lambda API we do not offer says which. */
            if (f.row == NULL && e.kind != ERR_INVALID)
                (void)lambda_unsupported(r.method, r.uri, &e);
            lambda_send_err(&c, &e, headers[0] ? headers : NULL);
        } else {
            http_send_err(&r, &e, headers[0] ? headers : NULL);
        }
        if (r.status >= 500)
            log_error("%s %.200s: %s", r.method, r.uri, e.msg);
        /* A call refused once it had an id (the client got it in
         * X-Invocation-Id) leaves a record too. */
        if (c.id[0] != '\0' && f.row != NULL && (f.row->flags & ROUTE_SLOT)) {
            /* Counted once as rejected, as its record is REJECTED: at the
             * concurrency limit and for a bad body alike. */
            if (c.function != NULL)
                metrics_observe(t->app->metrics, c.function->name, METRICS_REJECTED, 0);
            handlers_record_refused(&c, &e);
        }
    }
    if (slot >= 0)
        slots_release(t->app->slots, (slots_pool)slot, t->app->row);
    if (holder >= 0)
        slots_upload_release(t->app->slots, t->app->row, holder);
    if (have_key)
        keys_key_free(&key);
    buf_free(&signed_body);
    func_free(c.function);
    metrics_http(t->app->metrics, f.metric, r.status);
}

/* The first path segment of `tmpl` ("/functions" of "/functions/{ref}"). */
static size_t route_segment(const char *tmpl)
{
    return 1 + strcspn(tmpl + 1, "/");
}

int route_check(err_t *e)
{
    for (size_t i = 0; i < ROUTE_ROWS; i++) {
        const route_def *a = &route_table[i];
        if (a->tmpl[0] != '/' || a->handler == NULL || a->method == 0 ||
            (a->method & (a->method - 1)) != 0 ||
            ((a->flags & ROUTE_SLOT) && a->plane != APP_INVOKE) ||
            ((a->flags & ROUTE_UPLOAD) && a->plane != APP_CONTROL))
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "route %s: a template starts with '/', a row has one method and a "
                           "handler; invocation slots are taken on the invoke plane, upload "
                           "slots on the control plane",
                           a->tmpl);
        /* The bracket reads the body ahead, whole: never a streamed one. */
        if (((a->flags & ROUTE_IDEMPOTENT) &&
             (a->method != HTTP_POST || (a->flags & ROUTE_STREAM_BODY))) ||
            ((a->flags & ROUTE_NO_REDO) && !(a->flags & ROUTE_IDEMPOTENT)))
            return err_set(e, ERR_INTERNAL, NULL, 0,
                           "route %s: Idempotency-Key is for POST routes with a buffered body; "
                           "ROUTE_NO_REDO goes with ROUTE_IDEMPOTENT",
                           a->tmpl);
        for (size_t k = 0; k < i; k++) {
            const route_def *b = &route_table[k];
            unsigned nginx = ROUTE_STREAM_BODY | ROUTE_ALLOWLIST;
            size_t n = route_segment(a->tmpl);
            if (n != route_segment(b->tmpl) || strncmp(a->tmpl, b->tmpl, n) != 0)
                continue;
            /* Another plane in the segment is sent by a regex location of
             * its own template (route_print_nginx), which must not be the
             * template of a row on the segment's plane. */
            if ((a->flags & nginx) != (b->flags & nginx) ||
                (a->plane != b->plane && strcmp(a->tmpl, b->tmpl) == 0))
                return err_set(e, ERR_INTERNAL, NULL, 0,
                               "routes %s and %s share a path segment but not their nginx "
                               "flags, or a template but not their plane",
                               a->tmpl, b->tmpl);
        }
    }
    return 0;
}

/* One location block for `path` (exact with "= ", prefix with "^~ "). */
static void route_print_location(FILE *out, const char *match, const char *path, size_t n,
                                 const route_def *d, const config_t *cfg)
{
    fprintf(out, "        location %s%.*s {\n", match, (int)n, path);
    if (d->flags & ROUTE_STREAM_BODY)
        fprintf(out,
                "            client_max_body_size %lld;\n"
                "            fastcgi_request_buffering off;\n",
                cfg->max_image_bytes);
    if ((d->flags & ROUTE_ALLOWLIST) && cfg->metrics_allow[0] != '\0') {
        const char *p = cfg->metrics_allow;
        while (*p != '\0') {
            size_t len = strcspn(p, ", ");
            if (len > 0)
                fprintf(out, "            allow %.*s;\n", (int)len, p);
            p += len + (p[len] != '\0');
        }
        fprintf(out, "            deny all;\n");
    }
    fprintf(out,
            "            include %s/fastcgi_params;\n"
            "            fastcgi_pass minilambda_%s;\n"
            "        }\n",
            cfg->run_dir, d->plane == APP_INVOKE ? "invoke" : "control");
}

/* The row that opens `d`'s first path segment in the table. */
static const route_def *route_segment_head(const route_def *d)
{
    size_t n = route_segment(d->tmpl);
    for (size_t k = 0;; k++)
        if (route_segment(route_table[k].tmpl) == n &&
            strncmp(route_table[k].tmpl, d->tmpl, n) == 0)
            return &route_table[k];
}

/* `tmpl` as an anchored nginx regex: "{name}" is one segment. */
static void route_regex(const char *tmpl, char *out, size_t outlen)
{
    size_t o = 0;
    out[o++] = '^';
    for (const char *p = tmpl; *p != '\0' && o + 8 < outlen; p++) {
        if (*p == '{') {
            memcpy(out + o, "[^/]+", 5);
            o += 5;
            p += strcspn(p, "}");
            if (*p == '\0')
                break;
        } else {
            if (*p == '.')
                out[o++] = '\\';
            out[o++] = *p;
        }
    }
    memcpy(out + o, "/?$", 4);
}

void route_print_nginx(FILE *out, const config_t *cfg)
{
    fprintf(out, "        # From the route table (minilambda-fcgi --print-nginx): each first\n"
                 "        # path segment goes to its routes' plane, with their body rules; a\n"
                 "        # template on another plane than its segment's, by a regex.\n");
    bool split[ROUTE_ROWS] = {false};
    for (size_t i = 0; i < ROUTE_ROWS; i++) {
        const route_def *d = &route_table[i], *head = route_segment_head(d);
        if (d->plane == head->plane || (i > 0 && strcmp(route_table[i - 1].tmpl, d->tmpl) == 0))
            continue;
        char re[256];
        route_regex(d->tmpl, re, sizeof(re));
        split[head - route_table] = true;
        route_print_location(out, "~ ", re, strlen(re), d, cfg);
    }
    for (size_t i = 0; i < ROUTE_ROWS; i++) {
        const route_def *d = &route_table[i];
        size_t n = route_segment(d->tmpl);
        if (route_segment_head(d) != d)
            continue;
        route_print_location(out, "= ", d->tmpl, n, d, cfg);
        char slashed[128];
        snprintf(slashed, sizeof(slashed), "%.*s/", (int)n, d->tmpl);
        /* A plain prefix lets the regexes above take their templates. */
        route_print_location(out, split[i] ? "" : "^~ ", slashed, n + 1, d, cfg);
    }
    route_def other = {"/", HTTP_GET, NULL, APP_CONTROL, 0, 0, NULL};
    route_print_location(out, "", "/", 1, &other, cfg);
}
