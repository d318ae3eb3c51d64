#include "state/func.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

#define FUNC_IMAGE_MAX 255
#define FUNC_ENV_MAX 128
#define FUNC_ENV_KEY_MAX 128
#define FUNC_ENV_VALUE_MAX 4096
/* A whole record, serialized: what one registration may add to the store. */
#define FUNC_RECORD_MAX 65536
#define FUNC_COMMAND_MAX 256
#define FUNC_COMMAND_ARG_MAX 32768

/* The Docker distribution reference grammar, as POSIX ERE. */
#define FUNC_DOMAIN_COMPONENT "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
/* As the docker CLI splits it: a first component is a registry only when it
 * has a dot, a port or is "localhost"; otherwise it is a (lowercase) path. */
#define FUNC_DOMAIN                                                                                \
    "(localhost(:[0-9]+)?|" FUNC_DOMAIN_COMPONENT "(\\." FUNC_DOMAIN_COMPONENT                     \
    ")+(:[0-9]+)?|" FUNC_DOMAIN_COMPONENT ":[0-9]+)"
#define FUNC_PATH_COMPONENT "[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
#define FUNC_IMAGE_RE                                                                              \
    "^(" FUNC_DOMAIN "/)?" FUNC_PATH_COMPONENT "(/" FUNC_PATH_COMPONENT ")*"                       \
    "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"                                                        \
    "(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"

typedef enum {
    FUNC_STRING, /* a string without NUL; `valid` decides the rest */
    FUNC_INT,    /* an integer in [lo, hi] */
    FUNC_NUMBER, /* a finite number in [lo, hi] */
    FUNC_CHOICE, /* one of `choices` */
    FUNC_ENV,    /* an object of at most FUNC_ENV_MAX strings with valid keys */
    FUNC_ARGV    /* a non-empty array of at most FUNC_COMMAND_MAX strings */
} func_kind;

enum {
    FUNC_REQUIRED = 1, /* must be given at registration */
    FUNC_SETTABLE = 2, /* may be given at registration */
    FUNC_MUTABLE = 4   /* PATCH may change it */
};

typedef struct {
    const char *name;
    func_kind kind;
    unsigned flags;
    double lo, hi;
    const char *const *choices; /* FUNC_CHOICE, NULL-terminated */
    const char *def;            /* the default as plain text ("120", "none"; "{}" for
                                 * an empty object), or NULL: none */
    const char *code;           /* the error code of a bad value */
    const char *rule;           /* what a good value is, for the error */
    bool (*valid)(json_object *v);
} func_field;

static bool func_name_ok(json_object *v);
static bool func_image_ok(json_object *v);
static bool func_user_ok(json_object *v);
static bool func_runtime_ok(json_object *v);
static bool func_handler_ok(json_object *v);

static const char *const func_networks[] = {"none", "bridge", NULL};
/* In func_reuse's order. */
static const char *const func_reuses[] = {"none", "container", "process", NULL};
/* In func_protocol's order. */
static const char *const func_protocols[] = {"stdio", "lambda", NULL};

static const func_field func_fields[] = {
    {"id", FUNC_STRING, 0, 0, 0, NULL, NULL, "invalid_id", "set by the platform", NULL},
    {"name", FUNC_STRING, FUNC_REQUIRED | FUNC_SETTABLE, 0, 0, NULL, NULL, "invalid_name",
     "1-63 characters: letters, digits, '_', '.', '-', starting with a letter or digit, and "
     "not shaped like a function id",
     func_name_ok},
    {"image", FUNC_STRING, FUNC_REQUIRED | FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, NULL, NULL,
     "invalid_image", "a Docker image reference such as \"repo/name:tag\"", func_image_ok},
    {"timeout", FUNC_INT, FUNC_SETTABLE | FUNC_MUTABLE, 1, FUNC_TIMEOUT_MAX, NULL, "120",
     "invalid_timeout", "an integer number of seconds, 1 to 900", NULL},
    {"memory_mb", FUNC_INT, FUNC_SETTABLE | FUNC_MUTABLE, 16, 65536, NULL, "256", "invalid_memory",
     "an integer number of MiB, 16 to 65536", NULL},
    {"cpus", FUNC_NUMBER, FUNC_SETTABLE | FUNC_MUTABLE, 0.01, 64, NULL, "1.0", "invalid_cpus",
     "a number from 0.01 to 64", NULL},
    {"env", FUNC_ENV, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, NULL, "{}", "invalid_env",
     "an object of at most 128 string values; keys match [A-Za-z_][A-Za-z0-9_]* (not "
     "MINILAMBDA_*) and values are strings without NUL bytes",
     NULL},
    {"command", FUNC_ARGV, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, NULL, NULL, "invalid_command",
     "a non-empty array of strings without NUL bytes", NULL},
    {"network", FUNC_CHOICE, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, func_networks, "none",
     "invalid_network", "\"none\" or \"bridge\"", NULL},
    {"retries", FUNC_INT, FUNC_SETTABLE | FUNC_MUTABLE, 0, 3, NULL, "0", "invalid_retries",
     "an integer from 0 to 3 (extra runs of a failed async invocation)", NULL},
    {"user", FUNC_STRING, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, NULL, "65534:65534", "invalid_user",
     "a user, uid, user:group or uid:gid the image knows (letters, digits, '_', '.', '-')",
     func_user_ok},
    {"runtime", FUNC_STRING, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, NULL, NULL, "invalid_runtime",
     "the name of an OCI runtime the engine has, such as \"runsc\"", func_runtime_ok},
    {"keep_warm", FUNC_INT, FUNC_SETTABLE | FUNC_MUTABLE, 0, FUNC_KEEP_WARM_MAX, NULL, "0",
     "invalid_keep_warm", "an integer from 0 to 16 (prestarted containers kept ready)", NULL},
    {"reuse", FUNC_CHOICE, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, func_reuses, "none", "invalid_reuse",
     "\"none\" (a fresh container per call), \"container\" (a fresh process per call in a "
     "reused container) or \"process\" (one process serving calls over the loop protocol)",
     NULL},
    {"protocol", FUNC_CHOICE, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, func_protocols, "stdio",
     "invalid_protocol",
     "\"stdio\" (the event on stdin, the result on stdout) or \"lambda\" (the image's runtime "
     "speaks the AWS Lambda Runtime API; reuse \"none\" or \"process\")",
     NULL},
    {"handler", FUNC_STRING, FUNC_SETTABLE | FUNC_MUTABLE, 0, 0, NULL, NULL, "invalid_handler",
     "1-256 printable characters (Lambda's _HANDLER, such as \"app.handler\"; default: the "
     "image's CMD, joined by spaces)",
     func_handler_ok},
    {"image_id", FUNC_STRING, 0, 0, 0, NULL, NULL, "invalid_image_id", "set by the platform", NULL},
    {"created_by", FUNC_STRING, 0, 0, 0, NULL, NULL, "invalid_created_by", "set by the platform",
     NULL},
    {"created_at", FUNC_STRING, 0, 0, 0, NULL, NULL, "invalid_created_at", "set by the platform",
     NULL},
    {"updated_at", FUNC_STRING, 0, 0, 0, NULL, NULL, "invalid_updated_at", "set by the platform",
     NULL},
};

#define FUNC_FIELDS (sizeof(func_fields) / sizeof(func_fields[0]))

static regex_t func_image_re;
static int func_image_re_ok = -1;
static pthread_once_t func_image_once = PTHREAD_ONCE_INIT;

static void func_image_compile(void)
{
    func_image_re_ok = regcomp(&func_image_re, FUNC_IMAGE_RE, REG_EXTENDED | REG_NOSUB);
}

bool func_valid_name(const char *s, size_t len)
{
    if (len < 1 || len > 63 || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return false;
    }
    return true;
}

bool func_valid_image(const char *s, size_t len)
{
    if (len < 1 || len > FUNC_IMAGE_MAX || strlen(s) != len)
        return false;
    pthread_once(&func_image_once, func_image_compile);
    if (func_image_re_ok != 0)
        return false;
    return regexec(&func_image_re, s, 0, NULL, 0) == 0;
}

bool func_is_id(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == '-') {
            if (s[i] != '-')
                return false;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* A name shaped like an id could never be reached by that name. */
static bool func_name_ok(json_object *v)
{
    const char *s = json_object_get_string(v);
    return func_valid_name(s, (size_t)json_object_get_string_len(v)) && !func_is_id(s);
}

static bool func_image_ok(json_object *v)
{
    return func_valid_image(json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

/* 1..`max` bytes of [A-Za-z0-9_.-], the first not '.' or '-'. */
static bool func_word(const char *s, size_t len, size_t max)
{
    if (len < 1 || len > max || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool func_user_ok(json_object *v)
{
    const char *s = json_object_get_string(v);
    const char *colon = strchr(s, ':');
    if (colon == NULL)
        return func_word(s, strlen(s), 32);
    return func_word(s, (size_t)(colon - s), 32) && func_word(colon + 1, strlen(colon + 1), 32);
}

static bool func_runtime_ok(json_object *v)
{
    return func_word(json_object_get_string(v), (size_t)json_object_get_string_len(v), 64);
}

/* Member `key` of `rec` when it is a string, else NULL. */
static json_object *func_member_of(json_object *rec, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string)
               ? v
               : NULL;
}

static bool func_handler_ok(json_object *v)
{
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (len < 1 || len > 256)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A JSON string with no embedded NUL, at most `max` bytes. */
static bool func_plain_string(json_object *v, size_t max)
{
    if (!json_object_is_type(v, json_type_string))
        return false;
    size_t len = (size_t)json_object_get_string_len(v);
    return len <= max && strlen(json_object_get_string(v)) == len;
}

static bool func_env_key_ok(const char *k)
{
    size_t len = strlen(k);
    if (len < 1 || len > FUNC_ENV_KEY_MAX || strncmp(k, "MINILAMBDA_", 11) == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static const func_field *func_field_of(const char *key)
{
    for (size_t i = 0; i < FUNC_FIELDS; i++)
        if (strcmp(func_fields[i].name, key) == 0)
            return &func_fields[i];
    return NULL;
}

/* Whether `v` is a good value for row `f`. */
static bool func_value_ok(const func_field *f, json_object *v)
{
    switch (f->kind) {
    case FUNC_STRING:
        return func_plain_string(v, 65536) && (f->valid == NULL || f->valid(v));
    case FUNC_INT: {
        int64_t n = json_object_get_int64(v);
        return json_object_is_type(v, json_type_int) && n >= (int64_t)f->lo && n <= (int64_t)f->hi;
    }
    case FUNC_NUMBER: {
        double d = json_object_get_double(v);
        bool num =
            json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        return num && isfinite(d) && d >= f->lo && d <= f->hi;
    }
    case FUNC_CHOICE:
        if (!func_plain_string(v, 64))
            return false;
        for (size_t i = 0; f->choices[i]; i++)
            if (strcmp(json_object_get_string(v), f->choices[i]) == 0)
                return true;
        return false;
    case FUNC_ENV:
        if (!json_object_is_type(v, json_type_object) ||
            json_object_object_length(v) > FUNC_ENV_MAX)
            return false;
        json_object_object_foreach(v, k, val)
        {
            if (!func_env_key_ok(k) || !func_plain_string(val, FUNC_ENV_VALUE_MAX))
                return false;
        }
        return true;
    case FUNC_ARGV: {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        bool ok = n >= 1 && n <= FUNC_COMMAND_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = func_plain_string(json_object_array_get_idx(v, i), FUNC_COMMAND_ARG_MAX);
        return ok;
    }
    }
    return false;
}

static int func_check(const func_field *f, json_object *v, err_t *e)
{
    if (func_value_ok(f, v))
        return 0;
    return err_set(e, ERR_INVALID, f->code, 0, "%s must be %s", f->name, f->rule);
}

/* Check every key of a client's body: on registration (`patch` false) the
 * settable fields, on PATCH the mutable ones. */
static int func_check_body(json_object *body, bool patch, err_t *e)
{
    if (!json_object_is_type(body, json_type_object))
        return err_set(e, ERR_INVALID, "invalid_body", 0, "the body must be a JSON object");
    json_object_object_foreach(body, key, val)
    {
        const func_field *f = func_field_of(key);
        unsigned need = patch ? FUNC_MUTABLE : FUNC_SETTABLE;
        if (f != NULL && (f->flags & need))
            goto check;
        if (f != NULL && patch)
            return err_set(e, ERR_INVALID, "immutable_field", 0,
                           "field \"%.64s\" cannot be changed", key);
        return err_set(e, ERR_INVALID, "unknown_field", 0, "unknown field \"%.64s\"", key);
    check:
        if (func_check(f, val, e) != 0)
            return -1;
    }
    return 0;
}

/* The default of row `f` as a new object, or NULL when it has none. */
static json_object *func_default(const func_field *f)
{
    if (f->def == NULL)
        return NULL;
    switch (f->kind) {
    case FUNC_INT:
        return json_object_new_int64(strtoll(f->def, NULL, 10));
    case FUNC_NUMBER:
        return json_object_new_double(strtod(f->def, NULL));
    case FUNC_ENV:
        return json_object_new_object();
    case FUNC_ARGV:
        return json_object_new_array();
    default:
        return json_object_new_string(f->def);
    }
}

static void func_defaults(json_object *rec)
{
    for (size_t i = 0; i < FUNC_FIELDS; i++) {
        const func_field *f = &func_fields[i];
        if (f->def != NULL && !json_object_object_get_ex(rec, f->name, NULL))
            json_object_object_add(rec, f->name, func_default(f));
    }
}

/* Copy every member of `body` into `rec`. 0, or -1 when out of memory. */
static int func_merge(json_object *rec, json_object *body, err_t *e)
{
    json_object_object_foreach(body, key, val)
    {
        json_object *copy = NULL;
        if (val != NULL && json_object_deep_copy(val, &copy, NULL) != 0)
            return err_set(e, ERR_NOMEM, NULL, 0, "out of memory copying %s", key);
        json_object_object_add(rec, key, copy);
    }
    return 0;
}

/* A record must stay small: its serialized size is bounded. */
static int func_fits(json_object *rec, err_t *e)
{
    size_t len;
    json_object_to_json_string_length(rec, JSON_C_TO_STRING_PLAIN, &len);
    if (len > FUNC_RECORD_MAX)
        return err_set(e, ERR_TOO_LARGE, "record_too_large", 0,
                       "the function record would take %zu bytes; at most %d are kept", len,
                       FUNC_RECORD_MAX);
    return 0;
}

void func_body_of(json_object *body, func_body *out)
{
    static const char *const keys[] = {"name", "image", "runtime"};
    const char **slots[] = {&out->name, &out->image, &out->runtime};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_object *v = NULL;
        json_object_object_get_ex(body, keys[i], &v);
        *slots[i] = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    }
    if (out->image != NULL && !func_valid_image(out->image, strlen(out->image)))
        out->image = NULL;
}

/* What one field allows of another, on the merged record: protocol
 * "lambda" runs with reuse "none" (a fresh runtime per call) or "process"
 * (one runtime, call after call); "container" would start a new runtime,
 * its init on the call's path, in a used container: neither Lambda's model
 * nor a fresh environment, so it is refused. */
static int func_combination(json_object *rec, err_t *e)
{
    json_object *p = func_member_of(rec, "protocol"), *r = func_member_of(rec, "reuse");
    if (p != NULL && r != NULL && strcmp(json_object_get_string(p), "lambda") == 0 &&
        strcmp(json_object_get_string(r), "container") == 0)
        return err_set(e, ERR_INVALID, "invalid_protocol", 0,
                       "protocol \"lambda\" runs with reuse \"none\" (a fresh runtime per "
                       "call) or \"process\" (one runtime, call after call), not "
                       "\"container\"");
    return 0;
}

/* Set the platform's own fields `sys` (may be NULL) on `rec`. */
static void func_apply_sys(json_object *rec, const func_sys *sys)
{
    if (sys != NULL && sys->set_creator)
        json_object_object_add(rec, "created_by",
                               sys->created_by ? json_object_new_string(sys->created_by) : NULL);
    if (sys != NULL && sys->set_image_id)
        json_object_object_add(rec, "image_id",
                               sys->image_id ? json_object_new_string(sys->image_id) : NULL);
}

json_object *func_new(json_object *body, const char *id, const char *now, const func_sys *sys,
                      err_t *e)
{
    if (func_check_body(body, false, e) != 0)
        return NULL;
    for (size_t i = 0; i < FUNC_FIELDS; i++) {
        if ((func_fields[i].flags & FUNC_REQUIRED) &&
            !json_object_object_get_ex(body, func_fields[i].name, NULL)) {
            err_set(e, ERR_INVALID, "missing_field", 0, "field \"%s\" is required",
                    func_fields[i].name);
            return NULL;
        }
    }
    json_object *rec = json_object_new_object();
    json_object_object_add(rec, "id", json_object_new_string(id));
    if (func_merge(rec, body, e) != 0) {
        json_object_put(rec);
        return NULL;
    }
    func_apply_sys(rec, sys);
    func_defaults(rec);
    json_object_object_add(rec, "created_at", json_object_new_string(now));
    json_object_object_add(rec, "updated_at", json_object_new_string(now));
    if (func_combination(rec, e) != 0 || func_fits(rec, e) != 0) {
        json_object_put(rec);
        return NULL;
    }
    return rec;
}

json_object *func_patch(json_object *rec, json_object *body, const char *now, const func_sys *sys,
                        err_t *e)
{
    json_object *out = NULL;
    if (func_check_body(body, true, e) != 0)
        return NULL;
    if (json_object_deep_copy(rec, &out, NULL) != 0) {
        err_set(e, ERR_NOMEM, NULL, 0, "out of memory copying the record");
        return NULL;
    }
    if (func_merge(out, body, e) != 0) {
        json_object_put(out);
        return NULL;
    }
    func_apply_sys(out, sys);
    json_object_object_add(out, "updated_at", json_object_new_string(now));
    if (func_combination(out, e) != 0 || func_fits(out, e) != 0) {
        json_object_put(out);
        return NULL;
    }
    return out;
}

int func_load(json_object *rec, err_t *e)
{
    static const char *const required[] = {"id", "name", "image"};
    if (!json_object_is_type(rec, json_type_object))
        return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record is not a JSON object");
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        json_object *v;
        if (!json_object_object_get_ex(rec, required[i], &v) ||
            !json_object_is_type(v, json_type_string))
            return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record has no string field \"%s\"",
                           required[i]);
    }
    /* A hand-edited file gets the same checks as the API for what a PATCH
     * could change; the first format's names are taken as they are. */
    json_object_object_foreach(rec, key, val)
    {
        const func_field *f = func_field_of(key);
        if (f != NULL && (f->flags & FUNC_MUTABLE) && func_check(f, val, e) != 0)
            return -1;
    }
    func_defaults(rec);
    json_object *created;
    if (!json_object_object_get_ex(rec, "created_at", &created)) {
        char now[CLOCK_RFC3339_LEN];
        clock_now(now, sizeof(now));
        json_object_object_add(rec, "created_at", json_object_new_string(now));
        created = json_object_object_get(rec, "created_at");
    }
    if (!json_object_object_get_ex(rec, "updated_at", NULL))
        json_object_object_add(rec, "updated_at", json_object_get(created));
    return 0;
}

/* Member `key` of `rec` when present and not null, else NULL. */
static json_object *func_member(json_object *rec, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(rec, key, &v) ? v : NULL;
}

/* String field `key` of `rec`, or its row's default, or "", into `out`
 * (borrowed from `rec` or static). 0, or -1 with `e` when it is not a
 * string. */
static int func_text(json_object *rec, const char *key, const char **out, err_t *e)
{
    json_object *v = func_member(rec, key);
    const func_field *f = func_field_of(key);
    if (v != NULL && !json_object_is_type(v, json_type_string))
        return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record's \"%s\" is not a string", key);
    if (v != NULL)
        *out = json_object_get_string(v);
    else
        *out = f != NULL && f->def != NULL ? f->def : "";
    return 0;
}

/* Number field `key` of `rec`, or its row's default (0 when none), into
 * `out`. 0, or -1 with `e` when it is not a number. */
static int func_number(json_object *rec, const char *key, double *out, err_t *e)
{
    json_object *v = func_member(rec, key);
    const func_field *f = func_field_of(key);
    if (v == NULL) {
        *out = f != NULL && f->def != NULL ? strtod(f->def, NULL) : 0;
        return 0;
    }
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record's \"%s\" is not a number", key);
    *out = json_object_get_double(v);
    return 0;
}

/* Integer field `key` of `rec` (within int, as every row bounds it). */
static int func_integer(json_object *rec, const char *key, int *out, err_t *e)
{
    double d;
    if (func_number(rec, key, &d, e) != 0)
        return -1;
    if (!(d >= INT_MIN && d <= INT_MAX))
        return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record's \"%s\" is out of range", key);
    *out = (int)d;
    return 0;
}

/* A new NULL-terminated array of `n` strings, or NULL when out of memory. */
static char **func_strings(size_t n)
{
    return calloc(n + 1, sizeof(char *));
}

static void func_strings_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* The env object of `rec` as "KEY=value" lines, into f->env. */
static int func_env_lines(json_object *rec, func_t *f, err_t *e)
{
    json_object *env = func_member(rec, "env");
    size_t n = 0;
    if (env != NULL && !json_object_is_type(env, json_type_object))
        return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record's \"env\" is not an object");
    f->env = func_strings(env != NULL ? (size_t)json_object_object_length(env) : 0);
    if (f->env == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
    if (env == NULL)
        return 0;
    json_object_object_foreach(env, key, val)
    {
        if (!json_object_is_type(val, json_type_string))
            return err_set(e, ERR_CORRUPT, "corrupt", 0, "env %.64s is not a string", key);
        size_t kl = strlen(key), vl = (size_t)json_object_get_string_len(val);
        char *line = malloc(kl + vl + 2);
        if (line == NULL)
            return err_set(e, ERR_NOMEM, NULL, ENOMEM, "malloc() failed: out of memory");
        memcpy(line, key, kl);
        line[kl] = '=';
        memcpy(line + kl + 1, json_object_get_string(val), vl + 1);
        f->env[n++] = line;
    }
    return 0;
}

/* The command array of `rec`, when it has one, into f->command. */
static int func_command_argv(json_object *rec, func_t *f, err_t *e)
{
    json_object *cmd = func_member(rec, "command");
    if (cmd == NULL)
        return 0;
    if (!json_object_is_type(cmd, json_type_array))
        return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record's \"command\" is not an array");
    size_t n = json_object_array_length(cmd);
    f->command = func_strings(n);
    if (f->command == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(cmd, i);
        if (!json_object_is_type(a, json_type_string))
            return err_set(e, ERR_CORRUPT, "corrupt", 0, "command argument %zu is not a string", i);
        f->command[i] = strdup(json_object_get_string(a));
        if (f->command[i] == NULL)
            return err_set(e, ERR_NOMEM, NULL, ENOMEM, "strdup() failed: out of memory");
    }
    return 0;
}

/* One of `choices` (the row of `key`) as its index, into `out`. */
static int func_choice(json_object *rec, const char *key, int *out, err_t *e)
{
    const char *v;
    const func_field *f = func_field_of(key);
    if (func_text(rec, key, &v, e) != 0)
        return -1;
    for (int i = 0; f->choices[i] != NULL; i++) {
        if (strcmp(v, f->choices[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return err_set(e, ERR_CORRUPT, "corrupt", 0, "a record's \"%s\" is %s", key, f->rule);
}

/* FNV-1a over the record as stored: any change of any field (image,
 * image_id, env, limits, updated_at) gives another value. */
uint64_t func_generation(json_object *rec)
{
    const char *s = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; s != NULL && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h != 0 ? h : 1;
}

func_t *func_parse(json_object *rec, err_t *e)
{
    return func_parse_as(rec, 0, e);
}

func_t *func_parse_as(json_object *rec, uint64_t generation, err_t *e)
{
    int network = 0, reuse = 0, protocol = 0;
    func_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        json_object_put(rec);
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    f->json = rec;
    if (!json_object_is_type(rec, json_type_object)) {
        err_set(e, ERR_CORRUPT, "corrupt", 0, "a record is not a JSON object");
        goto fail;
    }
    if (func_text(rec, "id", &f->id, e) != 0 || func_text(rec, "name", &f->name, e) != 0 ||
        func_text(rec, "image", &f->image, e) != 0 ||
        func_text(rec, "image_id", &f->image_id, e) != 0 ||
        func_text(rec, "user", &f->user, e) != 0 ||
        func_text(rec, "runtime", &f->runtime, e) != 0 ||
        func_integer(rec, "timeout", &f->timeout, e) != 0 ||
        func_integer(rec, "memory_mb", &f->memory_mb, e) != 0 ||
        func_number(rec, "cpus", &f->cpus, e) != 0 ||
        func_integer(rec, "retries", &f->retries, e) != 0 ||
        func_integer(rec, "keep_warm", &f->keep_warm, e) != 0 ||
        func_choice(rec, "network", &network, e) != 0 ||
        func_choice(rec, "reuse", &reuse, e) != 0 ||
        func_choice(rec, "protocol", &protocol, e) != 0 ||
        func_text(rec, "handler", &f->handler, e) != 0 || func_env_lines(rec, f, e) != 0 ||
        func_command_argv(rec, f, e) != 0)
        goto fail;
    f->bridge = strcmp(func_networks[network], "bridge") == 0;
    f->reuse = (func_reuse)reuse;
    f->lambda = strcmp(func_protocols[protocol], "lambda") == 0;
    f->generation = generation != 0 ? generation : func_generation(rec);
    return f;
fail:
    func_free(f);
    return NULL;
}

func_t *func_copy(const func_t *f, err_t *e)
{
    json_object *rec = NULL;
    if (json_object_deep_copy(f->json, &rec, NULL) != 0) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "out of memory copying function %s", f->id);
        return NULL;
    }
    return func_parse(rec, e);
}

void func_free(func_t *f)
{
    if (f == NULL)
        return;
    func_strings_free(f->env);
    func_strings_free(f->command);
    json_object_put(f->json);
    free(f);
}

const char *func_image(const func_t *f)
{
    return f->image_id[0] != '\0' ? f->image_id : f->image;
}

void func_redact(json_object *rec)
{
    json_object *env;
    if (!json_object_object_get_ex(rec, "env", &env) || !json_object_is_type(env, json_type_object))
        return;
    json_object_object_foreach(env, key, val)
    {
        (void)val;
        json_object_object_add(env, key, json_object_new_string("***"));
    }
}

/* The fields func_new sets on every record, with their JSON Schema format:
 * always present, never null. The platform's other fields (image_id,
 * created_by) are null until known. */
static const struct {
    const char *name;
    const char *format;
} func_stamps[] = {{"id", "uuid"}, {"created_at", "date-time"}, {"updated_at", "date-time"}};

#define FUNC_STAMPS (sizeof(func_stamps) / sizeof(func_stamps[0]))

static const char *func_stamp_format(const char *name)
{
    for (size_t i = 0; i < FUNC_STAMPS; i++)
        if (strcmp(func_stamps[i].name, name) == 0)
            return func_stamps[i].format;
    return NULL;
}

/* The JSON type word of row `f`'s values. */
static const char *func_json_type(const func_field *f)
{
    switch (f->kind) {
    case FUNC_STRING:
    case FUNC_CHOICE:
        return "string";
    case FUNC_INT:
        return "integer";
    case FUNC_NUMBER:
        return "number";
    case FUNC_ENV:
        return "object";
    case FUNC_ARGV:
        return "array";
    }
    return "string";
}

/* The schema of one value of row `f`; `nullable` also admits null. */
static json_object *func_field_schema(const func_field *f, bool nullable)
{
    json_object *s = json_object_new_object(), *type = json_object_new_string(func_json_type(f));
    if (nullable) {
        json_object *both = json_object_new_array();
        json_object_array_add(both, type);
        json_object_array_add(both, json_object_new_string("null"));
        type = both;
    }
    json_object_object_add(s, "type", type);
    switch (f->kind) {
    case FUNC_STRING:
        if (func_stamp_format(f->name) != NULL)
            json_object_object_add(s, "format", json_object_new_string(func_stamp_format(f->name)));
        break;
    case FUNC_INT:
        json_object_object_add(s, "minimum", json_object_new_int64((int64_t)f->lo));
        json_object_object_add(s, "maximum", json_object_new_int64((int64_t)f->hi));
        break;
    case FUNC_NUMBER:
        json_object_object_add(s, "minimum", json_object_new_double(f->lo));
        json_object_object_add(s, "maximum", json_object_new_double(f->hi));
        break;
    case FUNC_CHOICE: {
        json_object *choices = json_object_new_array();
        for (size_t i = 0; f->choices[i]; i++)
            json_object_array_add(choices, json_object_new_string(f->choices[i]));
        json_object_object_add(s, "enum", choices);
        break;
    }
    case FUNC_ENV: {
        json_object *value = json_object_new_object();
        json_object_object_add(value, "type", json_object_new_string("string"));
        json_object_object_add(s, "additionalProperties", value);
        json_object_object_add(s, "maxProperties", json_object_new_int(FUNC_ENV_MAX));
        break;
    }
    case FUNC_ARGV: {
        json_object *item = json_object_new_object();
        json_object_object_add(item, "type", json_object_new_string("string"));
        json_object_object_add(s, "items", item);
        json_object_object_add(s, "minItems", json_object_new_int(1));
        json_object_object_add(s, "maxItems", json_object_new_int(FUNC_COMMAND_MAX));
        break;
    }
    }
    json_object_object_add(s, "description", json_object_new_string(f->rule));
    if (f->def != NULL)
        json_object_object_add(s, "default", func_default(f));
    /* What a client may send has an error code; the rest only the
     * platform writes. */
    if (f->flags & FUNC_SETTABLE)
        json_object_object_add(s, "x-error-code", json_object_new_string(f->code));
    else
        json_object_object_add(s, "readOnly", json_object_new_boolean(1));
    return s;
}

json_object *func_schema(func_view view)
{
    json_object *s = json_object_new_object(), *props = json_object_new_object();
    json_object *required = json_object_new_array();
    unsigned need = view == FUNC_VIEW_CREATE  ? FUNC_SETTABLE
                    : view == FUNC_VIEW_PATCH ? FUNC_MUTABLE
                                              : 0;

    json_object_object_add(s, "type", json_object_new_string("object"));
    for (size_t i = 0; i < FUNC_FIELDS; i++) {
        const func_field *f = &func_fields[i];
        if (need != 0 && !(f->flags & need))
            continue;
        bool stamp = func_stamp_format(f->name) != NULL;
        /* A record always has its stamps, its required fields and every
         * field with a default (func_defaults fills them in). */
        bool present = view == FUNC_VIEW_RECORD
                           ? stamp || (f->flags & FUNC_REQUIRED) || f->def != NULL
                           : view == FUNC_VIEW_CREATE && (f->flags & FUNC_REQUIRED);
        bool nullable = view == FUNC_VIEW_RECORD && !(f->flags & FUNC_SETTABLE) && !stamp;
        json_object_object_add(props, f->name, func_field_schema(f, nullable));
        if (present)
            json_object_array_add(required, json_object_new_string(f->name));
    }
    json_object_object_add(s, "properties", props);
    if (json_object_array_length(required) > 0)
        json_object_object_add(s, "required", required);
    else
        json_object_put(required);
    /* Bodies with other fields are refused (unknown_field, immutable_field);
     * answers may gain fields. */
    if (view != FUNC_VIEW_RECORD)
        json_object_object_add(s, "additionalProperties", json_object_new_boolean(0));
    return s;
}
