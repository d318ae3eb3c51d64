#include "base/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *code;
} err_table[ERR__COUNT] = {
    [ERR_NONE] = {500, "internal"},
    [ERR_INVALID] = {400, "invalid_request"},
    [ERR_UNAUTHORIZED] = {401, "unauthorized"},
    [ERR_FORBIDDEN] = {403, "forbidden"},
    [ERR_NOT_FOUND] = {404, "not_found"},
    [ERR_METHOD] = {405, "method_not_allowed"},
    [ERR_SLOW] = {408, "request_timeout"},
    [ERR_CONFLICT] = {409, "conflict"},
    [ERR_TOO_LARGE] = {413, "payload_too_large"},
    [ERR_UNSUPPORTED] = {415, "unsupported_media_type"},
    [ERR_UNPROCESSABLE] = {422, "unprocessable"},
    [ERR_LIMIT] = {429, "too_many_requests"},
    [ERR_STORAGE_FULL] = {507, "storage_full"},
    [ERR_STORAGE] = {500, "storage_error"},
    [ERR_CORRUPT] = {503, "store_corrupt"},
    [ERR_BUSY] = {503, "store_busy"},
    [ERR_NOMEM] = {503, "out_of_memory"},
    [ERR_ENGINE_UNREACHABLE] = {503, "engine_unreachable"},
    [ERR_ENGINE_TIMEOUT] = {504, "engine_timeout"},
    [ERR_ENGINE] = {502, "engine_error"},
    [ERR_INTERNAL] = {500, "internal"},
    [ERR_UNIMPLEMENTED] = {501, "not_implemented"},
};

void err_clear(err_t *e)
{
    e->kind = ERR_NONE;
    e->code = NULL;
    e->sys = 0;
    e->msg[0] = '\0';
}

int err_set(err_t *e, err_kind kind, const char *code, int sys, const char *fmt, ...)
{
    va_list ap;
    e->kind = kind;
    e->code = code;
    e->sys = sys;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int err_sys(err_t *e, int sys, const char *call, const char *path)
{
    err_kind kind = ERR_STORAGE;
    if (sys == ENOSPC || sys == EDQUOT)
        kind = ERR_STORAGE_FULL;
    else if (sys == ENOMEM)
        kind = ERR_NOMEM;
    return err_set(e, kind, NULL, sys, "%s(%s) failed: %s", call, path, strerror(sys));
}

int err_prefix(err_t *e, const char *fmt, ...)
{
    char old[sizeof(e->msg)];
    va_list ap;
    memcpy(old, e->msg, sizeof(old));
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    /* What does not fit is cut: the message stays a sentence either way. */
    if (n >= 0 && (size_t)n + 3 < sizeof(e->msg)) {
        size_t used = (size_t)n;
        size_t room = sizeof(e->msg) - used - 3;
        size_t len = strnlen(old, room);
        memcpy(e->msg + used, ": ", 2);
        memcpy(e->msg + used + 2, old, len);
        e->msg[used + 2 + len] = '\0';
    }
    return -1;
}

int err_status(const err_t *e)
{
    return e->kind < ERR__COUNT ? err_table[e->kind].status : 500;
}

const char *err_code(const err_t *e)
{
    if (e->code != NULL)
        return e->code;
    return e->kind < ERR__COUNT ? err_table[e->kind].code : "internal";
}
