#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

/* What client_perform needs to report progress from libcurl's callback. */
typedef struct {
    client_progress_fn fn;
    void *arg;
} client_progress_ctx;

int client_init(client_t *c, const char *url, const char *key, err_t *e)
{
    memset(c, 0, sizeof(*c));
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return err_set(e, ERR_INVALID, "usage", 0,
                       "the platform's URL \"%.200s\" does not start with http:// or https:// "
                       "(--url or MINILAMBDA_URL)",
                       url);
    if (strpbrk(url, " \t\r\n") != NULL)
        return err_set(e, ERR_INVALID, "usage", 0, "the platform's URL contains white space");
    /* A key goes into a header line: a line break in it would add others. */
    if (key != NULL && strpbrk(key, "\r\n") != NULL)
        return err_set(e, ERR_INVALID, "usage", 0,
                       "the API key contains a line break (--key or MINILAMBDA_KEY)");
    c->url = strdup(url);
    c->user_agent = strdup("minilambda-cli/" PACKAGE_VERSION);
    c->h = curl_easy_init();
    if (key != NULL && key[0] != '\0') {
        size_t n = strlen("Authorization: Bearer ") + strlen(key) + 1;
        c->auth = malloc(n);
        if (c->auth != NULL)
            snprintf(c->auth, n, "Authorization: Bearer %s", key);
    }
    if (c->url == NULL || c->user_agent == NULL || c->h == NULL ||
        (key != NULL && key[0] != '\0' && c->auth == NULL))
        return err_set(e, ERR_NOMEM, NULL, 0, "curl_easy_init() or malloc() failed: out of memory");
    size_t len = strlen(c->url);
    while (len > 0 && c->url[len - 1] == '/')
        c->url[--len] = '\0';
    return 0;
}

void client_free(client_t *c)
{
    if (c->h != NULL)
        curl_easy_cleanup(c->h);
    free(c->url);
    free(c->auth);
    free(c->user_agent);
    memset(c, 0, sizeof(*c));
}

void client_reply_init(client_reply *r)
{
    r->status = 0;
    buf_init(&r->body, CLIENT_REPLY_MAX);
    r->json = NULL;
    r->invocation[0] = '\0';
}

void client_reply_free(client_reply *r)
{
    json_object_put(r->json);
    buf_free(&r->body);
    client_reply_init(r);
}

static size_t client_write_cb(char *p, size_t size, size_t nitems, void *arg)
{
    client_reply *r = arg;
    size_t n = size * nitems;
    /* Returning less than given makes libcurl stop with CURLE_WRITE_ERROR. */
    return buf_append(&r->body, p, n) == BUF_OK ? n : 0;
}

static size_t client_header_cb(char *p, size_t size, size_t nitems, void *arg)
{
    client_reply *r = arg;
    size_t n = size * nitems;
    static const char name[] = "X-Invocation-Id:";
    if (n > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *v = p + sizeof(name) - 1;
        size_t len = n - (sizeof(name) - 1);
        while (len > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len < sizeof(r->invocation)) {
            memcpy(r->invocation, v, len);
            r->invocation[len] = '\0';
        }
    }
    return n;
}

static int client_xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                              curl_off_t ulnow)
{
    client_progress_ctx *p = arg;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    p->fn(p->arg, (long long)ulnow);
    return 0;
}

/* The body parsed as JSON into r->json when it is one whole JSON value. */
static void client_parse(client_reply *r)
{
    if (r->body.len == 0 || r->body.len > (size_t)INT32_MAX)
        return;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return;
    json_object *o = json_tokener_parse_ex(tok, r->body.data, (int)r->body.len);
    size_t end = json_tokener_get_parse_end(tok);
    if (o != NULL && strspn(r->body.data + end, " \t\r\n") == r->body.len - end)
        r->json = o;
    else
        json_object_put(o);
    json_tokener_free(tok);
}

/* Set the options every call shares on a freshly reset handle. */
static int client_setup(client_t *c, const char *method, const char *path, long timeout_ms,
                        client_reply *r, char *errbuf, buf_t *url, err_t *e)
{
    if (buf_puts(url, c->url) != BUF_OK || buf_puts(url, path) != BUF_OK)
        return err_set(e, ERR_INVALID, "usage", 0, "the request's URL is too long");
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url->data);
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, CLIENT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, client_write_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, client_header_cb);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, r);
    /* The API never redirects, and a redirect must not carry the key away. */
    curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
    return 0;
}

/* Run the prepared request and sort out what happened. */
static cli_exit client_perform(client_t *c, const char *errbuf, client_reply *r, err_t *e)
{
    CURLcode rc = curl_easy_perform(c->h);
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    curl_off_t connect_us = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
        client_parse(r);
        return CLI_OK;
    }
    curl_easy_getinfo(c->h, CURLINFO_CONNECT_TIME_T, &connect_us);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        if (connect_us > 0) {
            err_set(e, ERR_ENGINE_TIMEOUT, "timeout", 0,
                    "no answer from the platform at %s in time: %s", c->url, why);
            return CLI_TIMEOUT;
        }
        break;
    case CURLE_WRITE_ERROR:
        err_set(e, ERR_TOO_LARGE, NULL, 0, "the platform's answer is larger than %u bytes",
                CLIENT_REPLY_MAX);
        return CLI_FAILED;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
        err_set(e, ERR_INTERNAL, NULL, 0, "the upload was abandoned: %s", why);
        return CLI_FAILED;
    default:
        break;
    }
    err_set(e, ERR_ENGINE_UNREACHABLE, "unreachable", 0,
            "cannot reach the platform at %s: %s (set --url or MINILAMBDA_URL)", c->url, why);
    return CLI_UNREACHABLE;
}

/* The header list every request sends, plus `ctype` when not NULL. */
static struct curl_slist *client_headers(const client_t *c, const char *ctype)
{
    struct curl_slist *h = NULL, *n;
    char line[256];
    const char *fixed[] = {"Accept: application/json", "Expect:", c->auth};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (fixed[i] == NULL)
            continue;
        if ((n = curl_slist_append(h, fixed[i])) == NULL)
            goto fail;
        h = n;
    }
    if (ctype != NULL) {
        int len = snprintf(line, sizeof(line), "Content-Type: %s", ctype);
        if (len < 0 || (size_t)len >= sizeof(line) || (n = curl_slist_append(h, line)) == NULL)
            goto fail;
        h = n;
    }
    return h;
fail:
    curl_slist_free_all(h);
    return NULL;
}

cli_exit client_call(client_t *c, const char *method, const char *path, const char *ctype,
                     const char *body, size_t len, long timeout_ms, client_reply *r, err_t *e)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    buf_t url;
    struct curl_slist *hdrs = NULL;
    cli_exit rc = CLI_FAILED;

    buf_init(&url, 16384);
    if (client_setup(c, method, path, timeout_ms, r, errbuf, &url, e) != 0) {
        rc = CLI_USAGE;
        goto done;
    }
    if ((hdrs = client_headers(c, body != NULL ? ctype : NULL)) == NULL) {
        err_set(e, ERR_NOMEM, NULL, 0, "curl_slist_append() failed: out of memory");
        goto done;
    }
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    rc = client_perform(c, errbuf, r, e);
done:
    curl_slist_free_all(hdrs);
    buf_free(&url);
    return rc;
}

cli_exit client_upload(client_t *c, const char *path, const char *field, const char *filename,
                       const char *ctype, client_read_fn read, client_progress_fn progress,
                       void *arg, client_reply *r, err_t *e)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    buf_t url;
    struct curl_slist *hdrs = NULL;
    curl_mime *mime = NULL;
    client_progress_ctx pc = {progress, arg};
    cli_exit rc = CLI_FAILED;

    buf_init(&url, 16384);
    if (client_setup(c, "POST", path, 0, r, errbuf, &url, e) != 0) {
        rc = CLI_USAGE;
        goto done;
    }
    curl_mimepart *part;
    if ((hdrs = client_headers(c, NULL)) == NULL || (mime = curl_mime_init(c->h)) == NULL ||
        (part = curl_mime_addpart(mime)) == NULL || curl_mime_name(part, field) != CURLE_OK ||
        curl_mime_filename(part, filename) != CURLE_OK || curl_mime_type(part, ctype) != CURLE_OK ||
        /* Size -1: not known in advance, so libcurl sends the body chunked. */
        curl_mime_data_cb(part, -1, read, NULL, NULL, arg) != CURLE_OK) {
        err_set(e, ERR_NOMEM, NULL, 0, "building the multipart body failed: out of memory");
        goto done;
    }
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->h, CURLOPT_MIMEPOST, mime);
    if (progress != NULL) {
        curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, client_xferinfo_cb);
        curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &pc);
        curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
    }
    rc = client_perform(c, errbuf, r, e);
done:
    /* The handle keeps a pointer to the mime tree: forget it before freeing. */
    curl_easy_reset(c->h);
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    buf_free(&url);
    return rc;
}

cli_exit client_exit_for(long status, const char *code)
{
    if (status >= 200 && status < 300)
        return CLI_OK;
    if (status == 404)
        return CLI_NOT_FOUND;
    if (code != NULL &&
        (strcmp(code, "pool_unavailable") == 0 || strcmp(code, "engine_unreachable") == 0))
        return CLI_UNREACHABLE;
    if (status == 504 || status == 408 || (code != NULL && strcmp(code, "timeout") == 0))
        return CLI_TIMEOUT;
    if (status == 400 || status == 413 || status == 414)
        return CLI_USAGE;
    return CLI_FAILED;
}

const char *client_str(const client_reply *r, const char *key)
{
    json_object *v;
    if (r->json == NULL || !json_object_is_type(r->json, json_type_object) ||
        !json_object_object_get_ex(r->json, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

cli_exit client_check(const client_reply *r, err_t *e)
{
    cli_exit x = client_exit_for(r->status, client_str(r, "code"));
    if (x == CLI_OK)
        return CLI_OK;
    const char *code = client_str(r, "code");
    const char *msg = client_str(r, "error");
    err_kind kind = x == CLI_NOT_FOUND ? ERR_NOT_FOUND
                    : x == CLI_USAGE   ? ERR_INVALID
                                       : ERR_INTERNAL;
    if (msg != NULL)
        err_set(e, kind, NULL, 0, "%.300s (%ld %s)", msg, r->status, code != NULL ? code : "");
    else /* not the API's JSON: a proxy's page, say; its first bytes tell what it is */
        err_set(e, kind, NULL, 0, "the platform answered HTTP %ld: %.120s", r->status,
                r->body.len > 0 ? r->body.data : "(no body)");
    return x;
}

int client_escape(const char *s, buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        buf_rc rc;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            rc = buf_append(out, s, 1);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = buf_append(out, esc, 3);
        }
        if (rc != BUF_OK)
            return -1;
    }
    return 0;
}
