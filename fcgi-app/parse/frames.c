#include "parse/frames.h"

#include "parse/initwire.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* A loop answer's result may be large, but a length past this is garbage. */
#define FRAMES_RESULT_MAX (1LL << 31)

int frames_nonce(char *out)
{
    unsigned char raw[FRAMES_NONCE_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    out[FRAMES_NONCE_LEN] = '\0';
    return 0;
}

/* The longest value of one env line init reads (its line bound, less the
 * key). */
#define FRAMES_ENV_VALUE_MAX 4000

/* Append env line KEY=`v` with CR and LF as spaces. 0, or -1. */
static int frames_env_line(buf_t *out, const char *key, const char *v)
{
    size_t n = strlen(v);
    if (n > FRAMES_ENV_VALUE_MAX || buf_printf(out, "%s=", key) != BUF_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i] == '\r' || v[i] == '\n' ? ' ' : v[i];
        if (buf_append(out, &ch, 1) != BUF_OK)
            return -1;
    }
    return buf_append(out, "\n", 1) == BUF_OK ? 0 : -1;
}

int frames_init_request(buf_t *out, const frames_call *c, size_t event_len)
{
    char head[INITWIRE_REQUEST_MAX + 2];
    size_t n_env = 4 + (c->client_context != NULL) + (c->cognito_identity != NULL);
    int n = initwire_request_head(head, sizeof(head), n_env, event_len, c->nonce);
    if (n < 0 || buf_append(out, head, (size_t)n) != BUF_OK)
        return -1;
    if (buf_printf(out,
                   "MINILAMBDA_FUNCTION_NAME=%s\nMINILAMBDA_INVOCATION_ID=%s\n"
                   "MINILAMBDA_ATTEMPT=%d\nMINILAMBDA_DEADLINE_MS=%lld\n",
                   c->function, c->id, c->attempt > 0 ? c->attempt : 1, c->deadline_ms) != BUF_OK)
        return -1;
    if (c->client_context != NULL &&
        frames_env_line(out, INITWIRE_ENV_CLIENT_CONTEXT, c->client_context) != 0)
        return -1;
    if (c->cognito_identity != NULL &&
        frames_env_line(out, INITWIRE_ENV_COGNITO_IDENTITY, c->cognito_identity) != 0)
        return -1;
    return 0;
}

int frames_loop_request(buf_t *out, const frames_call *c, size_t event_len)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(c->id));
    json_object_object_add(o, "function", json_object_new_string(c->function));
    json_object_object_add(o, "attempt", json_object_new_int(c->attempt > 0 ? c->attempt : 1));
    json_object_object_add(o, "deadline_ms", json_object_new_int64(c->deadline_ms));
    json_object_object_add(o, "event_length", json_object_new_int64((int64_t)event_len));
    json_object_object_add(o, "nonce", json_object_new_string(c->nonce));
    int rc =
        buf_printf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) == BUF_OK
            ? 0
            : -1;
    json_object_put(o);
    return rc;
}

void frames_begin(frames_parser *p, bool loop, const char *nonce, frames_sink sink, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    snprintf(p->nonce, sizeof(p->nonce), "%s", nonce);
    p->sink = sink;
    p->arg = arg;
}

/* The loop answer's next part: its logs after its result, then the end. */
static void frames_loop_next(frames_parser *p)
{
    if (p->remaining == 0 && p->kind == 'o' && p->logs > 0) {
        p->kind = 'e';
        p->remaining = p->logs;
        p->logs = 0;
    }
    if (p->remaining == 0)
        p->done = true;
}

static int frames_error(frames_parser *p, const char *why)
{
    snprintf(p->error, sizeof(p->error), "%s", why);
    return -1;
}

/* An init frame header ("o <nonce> 12", "e <nonce> 3", "x <nonce> 0") is
 * complete in p->head. */
static int frames_init_head(frames_parser *p)
{
    uint64_t v;
    char kind;
    switch (initwire_frame_parse(p->head, p->head_len, p->nonce, &kind, &v)) {
    case INITWIRE_FRAME_OK:
        break;
    case INITWIRE_NOT_A_FRAME:
        return frames_error(p, "minilambda-init wrote something that is not a frame");
    case INITWIRE_OTHER_NONCE:
        /* Stale or forged output: not this call's. */
        return frames_error(p, "a frame without this call's nonce (stale or forged output)");
    default:
        return frames_error(p, "minilambda-init wrote a frame with a bad length or status");
    }
    if (kind == 'x') {
        p->exit_code = (int)v;
        p->end = 'x';
        p->done = true;
        return 1;
    }
    if (kind == 'n') {
        p->taken = true;
        return 0;
    }
    p->kind = kind;
    p->remaining = (size_t)v;
    if ((kind == 'f' || kind == 'i') && v == 0) {
        p->end = kind;
        p->exit_code = 1;
        p->done = true;
        return 1;
    }
    return 0;
}

/* The loop protocol's response line is complete in p->head. */
static int frames_loop_head(frames_parser *p)
{
    json_object *o = json_tokener_parse(p->head), *code, *len, *logs = NULL, *nonce;
    int rc = -1;
    if (!json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "exit_code", &code) ||
        !json_object_is_type(code, json_type_int) ||
        !json_object_object_get_ex(o, "result_length", &len) ||
        !json_object_is_type(len, json_type_int) ||
        (json_object_object_get_ex(o, "log_length", &logs) &&
         !json_object_is_type(logs, json_type_int))) {
        frames_error(p, "the function's answer line is not {\"exit_code\":N,\"result_length\":M}");
        goto done;
    }
    /* A late answer of an earlier call (or one made up) is not this one's. */
    if (!json_object_object_get_ex(o, "nonce", &nonce) ||
        !json_object_is_type(nonce, json_type_string) ||
        strcmp(json_object_get_string(nonce), p->nonce) != 0) {
        frames_error(p, "the function's answer does not carry this call's nonce (a late or "
                        "stale answer)");
        goto done;
    }
    int64_t c = json_object_get_int64(code), l = json_object_get_int64(len);
    int64_t g = logs ? json_object_get_int64(logs) : 0;
    if (c < 0 || c > 255 || l < 0 || l > FRAMES_RESULT_MAX || g < 0 || g > FRAMES_RESULT_MAX) {
        frames_error(p, "the function's answer has an exit_code outside 0..255 or a bad "
                        "result_length or log_length");
        goto done;
    }
    p->exit_code = (int)c;
    p->remaining = (size_t)l;
    p->logs = (size_t)g;
    p->kind = 'o';
    frames_loop_next(p);
    rc = p->done ? 1 : 0;
done:
    json_object_put(o);
    return rc;
}

int frames_feed(frames_parser *p, int stream, const char *data, size_t n)
{
    if (stream == 2) {
        /* init's own messages and the loop process's logs alike */
        if (n > 0)
            p->sink(p->arg, 2, data, n);
        return p->done ? 1 : 0;
    }
    while (n > 0) {
        if (p->done)
            return frames_error(p, "output came after the answer was complete");
        if (p->remaining > 0 && (p->kind == 'f' || p->kind == 'i')) {
            /* An error type: kept, and the answer's end. */
            size_t take = n < p->remaining ? n : p->remaining;
            memcpy(p->error_type + p->error_type_len, data, take);
            p->error_type_len += take;
            p->error_type[p->error_type_len] = '\0';
            p->remaining -= take;
            data += take;
            n -= take;
            if (p->remaining == 0) {
                p->end = (char)p->kind;
                p->exit_code = 1;
                p->done = true;
                if (n > 0)
                    return frames_error(p, "output came after the answer was complete");
            }
            continue;
        }
        if (p->remaining > 0) {
            size_t take = n < p->remaining ? n : p->remaining;
            p->sink(p->arg, p->kind == 'e' ? 2 : 1, data, take);
            p->remaining -= take;
            data += take;
            n -= take;
            if (p->remaining == 0 && p->loop) {
                frames_loop_next(p);
                if (p->done && n > 0)
                    return frames_error(p, "output came after the answer was complete");
            }
            continue;
        }
        /* A header line. */
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (p->head_len + take >= sizeof(p->head))
            return frames_error(p, p->loop ? "the function's answer line is too long or missing"
                                           : "minilambda-init wrote something that is not a frame");
        memcpy(p->head + p->head_len, data, take);
        p->head_len += take;
        data += take;
        n -= take;
        if (nl == NULL)
            break;
        data++;
        n--;
        p->head[p->head_len] = '\0';
        int r = p->loop ? frames_loop_head(p) : frames_init_head(p);
        p->head_len = 0;
        if (r < 0)
            return -1;
        if (r > 0 && n > 0)
            return frames_error(p, "output came after the answer was complete");
    }
    return p->done ? 1 : 0;
}
