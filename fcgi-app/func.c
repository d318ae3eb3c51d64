#include "func.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define FUNC_IMAGE_MAX 255
#define FUNC_ENV_MAX 128
#define FUNC_ENV_KEY_MAX 128
#define FUNC_ENV_VALUE_MAX 32768
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

static regex_t func_image_re;
static int func_image_re_ok = -1;
static pthread_once_t func_image_once = PTHREAD_ONCE_INIT;

static void func_image_compile(void)
{
    func_image_re_ok = regcomp(&func_image_re, FUNC_IMAGE_RE, REG_EXTENDED | REG_NOSUB);
}

static void func_fail(func_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void func_fail(func_err *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
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

void func_now(char *out, size_t outlen)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
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

/* Check one configurable field; `key` is known to be configurable. */
static int func_check_field(const char *key, json_object *v, func_err *err)
{
    if (strcmp(key, "name") == 0) {
        /* A name shaped like an id could never be reached by that name. */
        if (!json_object_is_type(v, json_type_string) ||
            !func_valid_name(json_object_get_string(v), (size_t)json_object_get_string_len(v)) ||
            func_is_id(json_object_get_string(v))) {
            func_fail(err, "invalid_name",
                      "%s must be 1-63 characters: letters, digits, '_', '.', '-', starting "
                      "with a letter or digit, and not shaped like a function id",
                      "name");
            return -1;
        }
    } else if (strcmp(key, "image") == 0) {
        if (!json_object_is_type(v, json_type_string) ||
            !func_valid_image(json_object_get_string(v), (size_t)json_object_get_string_len(v))) {
            func_fail(err, "invalid_image",
                      "%s must be a Docker image reference such as \"repo/name:tag\"", "image");
            return -1;
        }
    } else if (strcmp(key, "timeout") == 0) {
        int64_t t = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || t < 1 || t > FUNC_TIMEOUT_MAX) {
            func_fail(err, "invalid_timeout", "%s must be an integer number of seconds, 1 to 900",
                      "timeout");
            return -1;
        }
    } else if (strcmp(key, "memory_mb") == 0) {
        int64_t m = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || m < FUNC_MEMORY_MIN || m > FUNC_MEMORY_MAX) {
            func_fail(err, "invalid_memory", "%s must be an integer number of MiB, 16 to 65536",
                      "memory_mb");
            return -1;
        }
    } else if (strcmp(key, "cpus") == 0) {
        double c = json_object_get_double(v);
        bool num =
            json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        if (!num || !isfinite(c) || c < FUNC_CPUS_MIN || c > FUNC_CPUS_MAX) {
            func_fail(err, "invalid_cpus", "%s must be a number from 0.01 to 64", "cpus");
            return -1;
        }
    } else if (strcmp(key, "env") == 0) {
        if (!json_object_is_type(v, json_type_object) ||
            json_object_object_length(v) > FUNC_ENV_MAX) {
            func_fail(err, "invalid_env", "%s must be an object of at most 128 string values",
                      "env");
            return -1;
        }
        json_object_object_foreach(v, k, val)
        {
            if (!func_env_key_ok(k) || !func_plain_string(val, FUNC_ENV_VALUE_MAX)) {
                func_fail(err, "invalid_env",
                          "%s keys must match [A-Za-z_][A-Za-z0-9_]* (not MINILAMBDA_*) and "
                          "values must be strings without NUL bytes",
                          "env");
                return -1;
            }
        }
    } else if (strcmp(key, "command") == 0) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        bool ok = n >= 1 && n <= FUNC_COMMAND_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = func_plain_string(json_object_array_get_idx(v, i), FUNC_COMMAND_ARG_MAX);
        if (!ok) {
            func_fail(err, "invalid_command",
                      "%s must be a non-empty array of strings without NUL bytes", "command");
            return -1;
        }
    } else if (strcmp(key, "retries") == 0) {
        int64_t n = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || n < 0 || n > FUNC_RETRIES_MAX) {
            func_fail(err, "invalid_retries", "%s must be an integer from 0 to 3", "retries");
            return -1;
        }
    } else if (strcmp(key, "network") == 0) {
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (strcmp(s, "none") != 0 && strcmp(s, "bridge") != 0) {
            func_fail(err, "invalid_network", "%s must be \"none\" or \"bridge\"", "network");
            return -1;
        }
    }
    return 0;
}

static const char *const func_config_keys[] = {"image",   "timeout", "memory_mb", "cpus", "env",
                                               "command", "network", "retries",   NULL};

static bool func_is_config_key(const char *key)
{
    for (size_t i = 0; func_config_keys[i]; i++)
        if (strcmp(key, func_config_keys[i]) == 0)
            return true;
    return false;
}

/* Reject keys that are neither configurable nor (for registration) the name. */
static int func_check_keys(json_object *body, bool allow_name, func_err *err)
{
    json_object_object_foreach(body, key, val)
    {
        if (func_is_config_key(key) || (allow_name && strcmp(key, "name") == 0)) {
            if (func_check_field(key, val, err) != 0)
                return -1;
            continue;
        }
        if (!allow_name && (strcmp(key, "name") == 0 || strcmp(key, "id") == 0 ||
                            strcmp(key, "created_at") == 0 || strcmp(key, "updated_at") == 0)) {
            func_fail(err, "immutable_field", "field \"%.64s\" cannot be changed", key);
            return -1;
        }
        func_fail(err, "unknown_field", "unknown field \"%.64s\"", key);
        return -1;
    }
    return 0;
}

static void func_defaults(json_object *rec)
{
    if (!json_object_object_get_ex(rec, "timeout", NULL))
        json_object_object_add(rec, "timeout", json_object_new_int(FUNC_TIMEOUT_DEFAULT));
    if (!json_object_object_get_ex(rec, "memory_mb", NULL))
        json_object_object_add(rec, "memory_mb", json_object_new_int(FUNC_MEMORY_DEFAULT));
    if (!json_object_object_get_ex(rec, "cpus", NULL))
        json_object_object_add(rec, "cpus", json_object_new_double(FUNC_CPUS_DEFAULT));
    if (!json_object_object_get_ex(rec, "env", NULL))
        json_object_object_add(rec, "env", json_object_new_object());
    if (!json_object_object_get_ex(rec, "network", NULL))
        json_object_object_add(rec, "network", json_object_new_string("none"));
    if (!json_object_object_get_ex(rec, "retries", NULL))
        json_object_object_add(rec, "retries", json_object_new_int(0));
}

static json_object *func_copy(json_object *src)
{
    json_object *dst = NULL;
    if (json_object_deep_copy(src, &dst, NULL) != 0)
        return NULL;
    return dst;
}

json_object *func_new(json_object *body, const char *id, const char *now, func_err *err)
{
    if (!json_object_is_type(body, json_type_object)) {
        func_fail(err, "invalid_body", "the %s must be a JSON object", "body");
        return NULL;
    }
    if (func_check_keys(body, true, err) != 0)
        return NULL;
    if (!json_object_object_get_ex(body, "name", NULL)) {
        func_fail(err, "missing_field", "field \"%s\" is required", "name");
        return NULL;
    }
    if (!json_object_object_get_ex(body, "image", NULL)) {
        func_fail(err, "missing_field", "field \"%s\" is required", "image");
        return NULL;
    }

    json_object *rec = json_object_new_object();
    json_object_object_add(rec, "id", json_object_new_string(id));
    json_object_object_foreach(body, key, val)
    {
        json_object *copy = func_copy(val);
        if (copy == NULL) {
            json_object_put(rec);
            func_fail(err, "internal", "out of memory copying %s", key);
            return NULL;
        }
        json_object_object_add(rec, key, copy);
    }
    func_defaults(rec);
    json_object_object_add(rec, "created_at", json_object_new_string(now));
    json_object_object_add(rec, "updated_at", json_object_new_string(now));
    return rec;
}

json_object *func_patch(json_object *rec, json_object *body, const char *now, func_err *err)
{
    if (!json_object_is_type(body, json_type_object)) {
        func_fail(err, "invalid_body", "the %s must be a JSON object", "body");
        return NULL;
    }
    if (func_check_keys(body, false, err) != 0)
        return NULL;
    json_object *out = func_copy(rec);
    if (out == NULL) {
        func_fail(err, "internal", "out of memory copying the %s", "record");
        return NULL;
    }
    json_object_object_foreach(body, key, val)
    {
        json_object *copy = func_copy(val);
        if (copy == NULL) {
            json_object_put(out);
            func_fail(err, "internal", "out of memory copying %s", key);
            return NULL;
        }
        json_object_object_add(out, key, copy);
    }
    json_object_object_add(out, "updated_at", json_object_new_string(now));
    return out;
}

int func_load(json_object *rec, func_err *err)
{
    static const char *const required[] = {"id", "name", "image", NULL};
    if (!json_object_is_type(rec, json_type_object)) {
        func_fail(err, "corrupt", "a %s is not a JSON object", "record");
        return -1;
    }
    for (size_t i = 0; required[i]; i++) {
        json_object *v;
        if (!json_object_object_get_ex(rec, required[i], &v) ||
            !json_object_is_type(v, json_type_string)) {
            func_fail(err, "corrupt", "a record has no string field \"%s\"", required[i]);
            return -1;
        }
    }
    /* A hand-edited file gets the same checks as the API. */
    json_object_object_foreach(rec, key, val)
    {
        if (func_is_config_key(key) && func_check_field(key, val, err) != 0)
            return -1;
    }
    func_defaults(rec);
    json_object *created;
    if (!json_object_object_get_ex(rec, "created_at", &created)) {
        char now[32];
        func_now(now, sizeof(now));
        json_object_object_add(rec, "created_at", json_object_new_string(now));
        created = json_object_object_get(rec, "created_at");
    }
    if (!json_object_object_get_ex(rec, "updated_at", NULL))
        json_object_object_add(rec, "updated_at", json_object_get(created));
    return 0;
}
