#include "http/images.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "engine/engines.h"
#include "http/http.h"
#include "parse/multipart.h"
#include "parse/tarscan.h"
#include "state/func.h"

/* Bytes of a multipart body read from the client per step (a raw tar is
 * read straight into libcurl's upload buffer instead). */
#define IMAGES_CHUNK (256 * 1024)
/* Docker's reply to a load in quiet mode: a JSON line per image loaded. */
#define IMAGES_LOAD_REPLY_MAX (1024 * 1024)
/* The whole load, upload included. A stalled client cannot hold the
 * thread this long: nginx closes the request after its client body
 * timeout, and the upload is then abandoned. */
#define IMAGES_LOAD_TIMEOUT_MS (2L * 60 * 60 * 1000)
#define IMAGES_LIST_MAX (32 * 1024 * 1024)
#define IMAGES_LIST_TIMEOUT_MS 30000L
/* A record read must not wait long on a slow engine. */
#define IMAGES_INSPECT_TIMEOUT_MS 1000L
/* How long a presence answer is reused: a GET /functions/{ref} then costs
 * no engine call at all, at the price of an answer up to this stale. */
#define IMAGES_PRESENT_TTL_MS 2000
#define IMAGES_PRESENT_CACHE 64
#define IMAGES_INSPECT_MAX (1024 * 1024)
/* What this instance loaded: <data dir>/images.log, a line "<image id>
 * <reference> <key id, or ->" per image reference an upload loaded (once
 * per id, reference and key), so that GET /images lists this instance's
 * images only, not every image of a shared engine. */
#define IMAGES_LOG "images.log"
#define IMAGES_LOG_MAX (8 * 1024 * 1024)

/* Where an upload's request body stands. */
typedef enum {
    IMAGES_READING = 0, /* more body to come */
    IMAGES_DONE,        /* the body ended, well-formed, with a non-empty image */
    IMAGES_CLIENT_GONE, /* the body ended before its length: the client left */
    IMAGES_TOO_BIG,     /* past MINILAMBDA_MAX_IMAGE_BYTES */
    IMAGES_BAD_MULTIPART,
    IMAGES_NO_IMAGE,   /* a form without an "image" field */
    IMAGES_TWO_IMAGES, /* a form with more than one */
    IMAGES_EMPTY,      /* an image of zero bytes */
    IMAGES_TOO_SLOW,   /* slower than MINILAMBDA_UPLOAD_MIN_RATE over a window */
    IMAGES_REFUSED,    /* the scanner refused the image (too large unpacked, ...) */
    IMAGES_NOMEM
} images_state;

typedef struct {
    http_req *r;
    multipart_parser *mp;    /* NULL for a raw tar body */
    unsigned long long max;  /* body limit */
    unsigned long long body; /* body bytes read */
    unsigned long long tar;  /* image bytes passed on to the engine */
    char *chunk;             /* IMAGES_CHUNK bytes; multipart only */
    /* The read callback's buffer, while it runs. */
    char *dst;
    size_t room, filled;
    /* Image bytes the parser produced past `room` (fewer than one
     * delimiter's worth: see images_pull), sent first next time. */
    buf_t spill;
    size_t spill_off;
    int in_image, seen_image;
    char other[64]; /* the first other field's name, for the error */
    images_state st;
    multipart_rc mrc;
    tarscan_t *scan; /* what the image would unpack to */
    err_t scan_err;  /* why the scanner refused it */
    /* The minimum rate: body bytes at the start of the current window. */
    long long min_rate, window_ms, window_start_ms;
    unsigned long long window_start_body;
} images_upload_ctx;

static int images_part_begin(void *arg, const char *name, const char *filename)
{
    images_upload_ctx *u = arg;
    (void)filename;
    if (strcmp(name, "image") != 0) {
        if (u->other[0] == '\0')
            snprintf(u->other, sizeof(u->other), "%s", name);
        return 0;
    }
    if (u->seen_image) {
        u->st = IMAGES_TWO_IMAGES;
        return -1;
    }
    u->seen_image = u->in_image = 1;
    return 0;
}

/* Pass `n` image bytes to the scanner before they go to the engine. */
static int images_scan(images_upload_ctx *u, const char *p, size_t n)
{
    if (tarscan_feed(u->scan, p, n, &u->scan_err) == 0)
        return 0;
    u->st = IMAGES_REFUSED;
    return -1;
}

static int images_part_data(void *arg, const char *p, size_t n)
{
    images_upload_ctx *u = arg;
    if (!u->in_image)
        return 0;
    if (images_scan(u, p, n) != 0)
        return -1;
    size_t fit = u->room - u->filled < n ? u->room - u->filled : n;
    memcpy(u->dst + u->filled, p, fit);
    u->filled += fit;
    u->tar += n;
    if (fit < n && buf_append(&u->spill, p + fit, n - fit) != BUF_OK) {
        log_error("image upload: buf_append() of %zu spilled bytes failed", n - fit);
        u->st = IMAGES_NOMEM;
        return -1;
    }
    return 0;
}

static int images_part_end(void *arg)
{
    images_upload_ctx *u = arg;
    u->in_image = 0;
    return 0;
}

static const multipart_callbacks images_mp_cb = {images_part_begin, images_part_data,
                                                 images_part_end};

/* Whether the current rate window has closed short of the minimum rate;
 * a window that closed well starts the next one. */
static bool images_too_slow(images_upload_ctx *u)
{
    long long now = clock_mono_ms();
    if (u->min_rate == 0 || now - u->window_start_ms < u->window_ms)
        return false;
    if (u->body - u->window_start_body < (unsigned long long)(u->min_rate * u->window_ms / 1000))
        return true;
    u->window_start_ms = now;
    u->window_start_body = u->body;
    return false;
}

/* Read up to `want` body bytes into `into`: what has arrived, without
 * waiting for more once something is there, checking the rate each time
 * it must wait. A wait lasts at most one window (SO_RCVTIMEO, set by
 * images_upload), so a client that trickles cannot hold the thread past
 * it. Returns the count (0 at the end of the body), or -1 when the client
 * sends too slowly. */
static int images_read_some(images_upload_ctx *u, char *into, size_t want)
{
    FCGX_Stream *in = u->r->fcgi->in;
    size_t got = 0;
    while (got < want) {
        size_t avail = in->rdNext < in->stop ? (size_t)(in->stop - in->rdNext) : 0;
        if (avail == 0 && got > 0)
            break;
        if (avail == 0 && images_too_slow(u))
            return -1;
        /* With nothing buffered, one byte makes libfcgi take in the next
         * record (from its buffer, or the socket); the rest of that record
         * is buffered after it. */
        size_t take = avail == 0 ? 1 : avail < want - got ? avail : want - got;
        int n = FCGX_GetStr(into + got, (int)take, in);
        if (n <= 0) {
            /* A read that timed out is a window with nothing in it. */
            if (FCGX_GetError(in) != 0 && images_too_slow(u))
                return -1;
            break;
        }
        got += (size_t)n;
    }
    return (int)got;
}

/* Read the next piece of the body and pass the image bytes in it to the
 * read callback's buffer. Reads at most the room left, so the parser's
 * output (the input plus the few delimiter bytes it held back) overflows
 * into `spill` by less than MULTIPART_DELIM_MAX bytes. */
static void images_pull(images_upload_ctx *u)
{
    FCGX_Stream *in = u->r->fcgi->in;
    size_t want = u->room - u->filled;
    if (want > IMAGES_CHUNK)
        want = IMAGES_CHUNK;
    char *into = u->mp != NULL ? u->chunk : u->dst + u->filled;
    int n = images_read_some(u, into, want);
    if (n < 0) {
        u->st = IMAGES_TOO_SLOW;
        return;
    }
    if (n > 0) {
        u->body += (unsigned)n;
        if (u->body > u->max) {
            u->st = IMAGES_TOO_BIG;
            return;
        }
        if (u->mp == NULL) {
            if (images_scan(u, into, (size_t)n) != 0)
                return;
            u->filled += (size_t)n;
            u->tar += (unsigned)n;
        } else {
            multipart_rc rc = multipart_feed(u->mp, u->chunk, (size_t)n);
            if (rc != MULTIPART_OK) {
                if (u->st == IMAGES_READING) { /* not stopped by our own callback */
                    u->st = IMAGES_BAD_MULTIPART;
                    u->mrc = rc;
                }
                return;
            }
        }
    }
    if (n > 0)
        return;
    /* The body ended, completely or not. libfcgi flags an error when nginx
     * closed the connection mid-body (the client left). */
    if (FCGX_GetError(in) != 0 ||
        (u->r->content_length >= 0 && u->body != (unsigned long long)u->r->content_length)) {
        u->st = IMAGES_CLIENT_GONE;
        return;
    }
    if (u->mp != NULL) {
        u->mrc = multipart_finish(u->mp);
        if (u->mrc != MULTIPART_OK) {
            u->st = IMAGES_BAD_MULTIPART;
            return;
        }
        if (!u->seen_image) {
            u->st = IMAGES_NO_IMAGE;
            return;
        }
    }
    if (u->tar > 0 && tarscan_finish(u->scan, &u->scan_err) != 0) {
        u->st = IMAGES_REFUSED;
        return;
    }
    u->st = u->tar == 0 ? IMAGES_EMPTY : IMAGES_DONE;
}

/*
 * libcurl's read callback for the load: fill `dst` with the next image
 * bytes. The end of the tar is reported only once the whole request body
 * has been read and found well-formed; anything else aborts the transfer,
 * so the engine sees a truncated tar and tags nothing.
 */
static size_t images_read_cb(char *dst, size_t size, size_t nitems, void *arg)
{
    images_upload_ctx *u = arg;
    u->dst = dst;
    u->room = size * nitems;
    u->filled = 0;
    if (u->spill_off < u->spill.len) {
        size_t have = u->spill.len - u->spill_off;
        size_t take = have < u->room ? have : u->room;
        memcpy(dst, u->spill.data + u->spill_off, take);
        u->filled = take;
        u->spill_off += take;
        if (u->spill_off == u->spill.len) {
            buf_reset(&u->spill);
            u->spill_off = 0;
        }
    }
    while (u->filled == 0 && u->room > 0 && u->st == IMAGES_READING)
        images_pull(u);
    if (u->filled > 0)
        return u->filled;
    return u->st == IMAGES_DONE ? 0 : CURL_READFUNC_ABORT;
}

/* The error of an upload that stopped because of its request body. */
static int images_body_error(const images_upload_ctx *u, err_t *e)
{
    switch (u->st) {
    case IMAGES_TOO_BIG:
        return err_set(e, ERR_TOO_LARGE, NULL, 0, "the request body is larger than %llu bytes",
                       u->max);
    case IMAGES_BAD_MULTIPART:
        return err_set(e, ERR_INVALID, "invalid_multipart", 0,
                       "the multipart body is malformed: %s", multipart_strerror(u->mrc));
    case IMAGES_NO_IMAGE:
        if (u->other[0] != '\0')
            return err_set(e, ERR_INVALID, "missing_image_field", 0,
                           "the form has no \"image\" field (it has \"%.64s\")", u->other);
        return err_set(e, ERR_INVALID, "missing_image_field", 0, "the form has no \"image\" field");
    case IMAGES_TWO_IMAGES:
        return err_set(e, ERR_INVALID, "invalid_multipart", 0,
                       "the form has more than one \"image\" field");
    case IMAGES_EMPTY:
        return err_set(e, ERR_INVALID, "invalid_image", 0, "the image file is empty");
    case IMAGES_CLIENT_GONE:
        return err_set(e, ERR_INVALID, "incomplete_body", 0,
                       "the request body ended before its end");
    case IMAGES_REFUSED:
        *e = u->scan_err;
        return -1;
    case IMAGES_TOO_SLOW:
        return err_set(e, ERR_SLOW, "upload_too_slow", 0,
                       "the upload sent fewer than %lld bytes a second over %lld s", u->min_rate,
                       u->window_ms / 1000);
    default:
        return err_set(e, ERR_NOMEM, NULL, 0, "the server is out of memory");
    }
}

/*
 * Read Docker's load reply, a series of JSON messages: {"stream": "Loaded
 * image: name:tag\n"} or "Loaded image ID: sha256:..." per image, or
 * {"errorDetail": ..., "error": "..."}. Adds the references to `images`;
 * copies an error into `err` (left "" when there is none).
 */
static void images_parse_load(const buf_t *reply, json_object *images, char *err, size_t errlen)
{
    static const char tag_prefix[] = "Loaded image: ", id_prefix[] = "Loaded image ID: ";
    json_tokener *tok = json_tokener_new();
    const char *p = reply->data ? reply->data : "";
    size_t left = reply->len;

    err[0] = '\0';
    if (tok == NULL) {
        snprintf(err, errlen, "out of memory reading the engine's reply");
        return;
    }
    while (left > 0) {
        size_t ws = strspn(p, " \t\r\n");
        if (ws >= left)
            break;
        p += ws;
        left -= ws;
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, p, (int)left);
        if (o == NULL) {
            if (err[0] == '\0')
                snprintf(err, errlen, "the engine's reply is not JSON: %.120s", p);
            break;
        }
        size_t used = json_tokener_get_parse_end(tok);
        p += used;
        left -= used;
        json_object *v;
        if (json_object_object_get_ex(o, "error", &v) && err[0] == '\0') {
            snprintf(err, errlen, "%s", json_object_get_string(v));
        } else if (json_object_object_get_ex(o, "stream", &v)) {
            const char *s = json_object_get_string(v);
            const char *ref = NULL;
            if (strncmp(s, tag_prefix, sizeof(tag_prefix) - 1) == 0)
                ref = s + sizeof(tag_prefix) - 1;
            else if (strncmp(s, id_prefix, sizeof(id_prefix) - 1) == 0)
                ref = s + sizeof(id_prefix) - 1;
            if (ref != NULL)
                json_object_array_add(images,
                                      json_object_new_string_len(ref, (int)strcspn(ref, "\r\n")));
        }
        json_object_put(o);
    }
    json_tokener_free(tok);
}

/* `ref` with ":latest" when it names no tag or digest, as docker reads it. */
static void images_full_ref(const char *ref, char *out, size_t outlen)
{
    const char *slash = strrchr(ref, '/');
    const char *last = slash ? slash + 1 : ref;
    bool tagged = strchr(last, ':') != NULL || strchr(ref, '@') != NULL;
    snprintf(out, outlen, "%s%s", ref, tagged ? "" : ":latest");
}

/*
 * After a load: the functions the uploading key may deploy (its
 * `functions` list; all for an unlimited key) whose image reference is a
 * tag the load (re)set. A pinned one whose pin differs keeps running its
 * own image and is listed in `retagged`; one not pinned yet pins to the
 * loaded image and is listed in `pinned`. Functions outside the key's
 * list are neither touched nor named: their code is not the uploader's to
 * decide, and the answer must not tell it they exist.
 */
static void images_follow(route_call *c, json_object *loaded, json_object *retagged,
                          json_object *pinned)
{
    char full[300], want[300], id[DOCKER_ID_MAX];
    err_t e;
    func_t **all = NULL;
    size_t n = 0;
    if (store_all(c->t->app->store, &all, &n, &e) != 0) {
        log_warn("image upload: cannot read the functions to follow tags: %s", e.msg);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(loaded); i++) {
        const char *ref = json_object_get_string(json_object_array_get_idx(loaded, i));
        if (strncmp(ref, "sha256:", 7) == 0 ||
            images_resolve(c->t->conn, ref, id, sizeof(id), &e) != 1)
            continue;
        images_full_ref(ref, want, sizeof(want));
        for (size_t k = 0; k < n; k++) {
            const func_t *f = all[k];
            func_t *out = NULL;
            images_full_ref(f->image, full, sizeof(full));
            if (strcmp(full, want) != 0 || !keys_allows_function(c->key, f))
                continue;
            bool has = f->image_id[0] != '\0';
            if (has && strcmp(f->image_id, id) != 0) {
                json_object_array_add(retagged, json_object_new_string(f->name));
            } else if (!has && store_pin(c->t->app->store, f->id, id, &out, &e) == 0) {
                json_object_array_add(pinned, json_object_new_string(f->name));
                func_free(out);
            }
        }
    }
    store_all_free(all, n);
}

/* The path of the log of loaded images. 0, or -1 with `e`. */
static int images_log_path(const route_call *c, char *out, size_t outlen, err_t *e)
{
    int n = snprintf(out, outlen, "%s/%s", c->t->app->cfg->data_dir, IMAGES_LOG);
    if (n < 0 || (size_t)n >= outlen)
        return err_set(e, ERR_INTERNAL, NULL, 0, "the data dir's path is too long");
    return 0;
}

/* The log of loaded images into `b` (an absent log is empty). 0, or -1
 * with `e`. */
static int images_log_read(const route_call *c, buf_t *b, err_t *e)
{
    char path[CONFIG_PATH_MAX + 32];
    if (images_log_path(c, path, sizeof(path), e) != 0)
        return -1;
    if (files_read(path, b, e) == 0)
        return 0;
    if (e->kind != ERR_NOT_FOUND)
        return -1;
    /* No log yet is an empty one, and no error for the caller to report. */
    err_clear(e);
    return 0;
}

/* Call `fn` with the fields of each well-formed line of log `b`. */
static void images_log_each(const buf_t *b,
                            void (*fn)(const char *id, const char *ref, const char *key, void *arg),
                            void *arg)
{
    const char *p = b->data ? b->data : "";
    while (*p != '\0') {
        size_t len = strcspn(p, "\n");
        char line[1024], *save = NULL;
        if (len < sizeof(line)) {
            memcpy(line, p, len);
            line[len] = '\0';
            const char *id = strtok_r(line, " ", &save);
            const char *ref = strtok_r(NULL, " ", &save);
            const char *key = strtok_r(NULL, " ", &save);
            if (id != NULL && ref != NULL && key != NULL)
                fn(id, ref, key, arg);
        }
        p += len + (p[len] == '\n');
    }
}

/* One log line as a set key: "<id> <ref> <key>". */
static void images_log_key(const char *id, const char *ref, const char *key, void *arg)
{
    char k[1024];
    int n = snprintf(k, sizeof(k), "%s %s %s", id, ref, key);
    if (n > 0 && (size_t)n < sizeof(k))
        json_object_object_add(arg, k, NULL);
}

/*
 * Note in the log what an upload by the caller's key loaded: each
 * reference of `loaded` with the image id it names now. A failure only
 * warns: the image is loaded all the same, and GET /images then lists it
 * only once a function uses it.
 */
static void images_remember(route_call *c, json_object *loaded)
{
    char path[CONFIG_PATH_MAX + 32], id[DOCKER_ID_MAX], line[1024];
    const char *key = c->key != NULL ? c->key->id : "-";
    json_object *have = json_object_new_object();
    buf_t log, add;
    err_t e, skip; /* a reference that does not resolve is left out */
    int fd = -1;

    buf_init(&log, IMAGES_LOG_MAX);
    buf_init(&add, IMAGES_LOAD_REPLY_MAX);
    err_clear(&e);
    if (images_log_path(c, path, sizeof(path), &e) != 0 || images_log_read(c, &log, &e) != 0)
        goto done;
    images_log_each(&log, images_log_key, have);
    for (size_t i = 0; i < json_object_array_length(loaded); i++) {
        const char *ref = json_object_get_string(json_object_array_get_idx(loaded, i));
        char full[300];
        if (strncmp(ref, "sha256:", 7) == 0) {
            snprintf(id, sizeof(id), "%s", ref);
            snprintf(full, sizeof(full), "%s", ref);
        } else if (images_resolve(c->t->conn, ref, id, sizeof(id), &skip) == 1) {
            images_full_ref(ref, full, sizeof(full));
        } else {
            continue;
        }
        int n = snprintf(line, sizeof(line), "%s %s %s", id, full, key);
        if (n <= 0 || (size_t)n >= sizeof(line) || strchr(full, ' ') != NULL ||
            json_object_object_get_ex(have, line, NULL))
            continue;
        json_object_object_add(have, line, NULL);
        if (buf_printf(&add, "%s\n", line) != BUF_OK) {
            err_set(&e, ERR_NOMEM, NULL, 0, "the log lines do not fit in memory");
            goto done;
        }
    }
    if (add.len == 0)
        goto done;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_sys(&e, errno, "open", path);
        goto done;
    }
    struct iovec iov = {.iov_base = add.data, .iov_len = add.len};
    if (files_append(fd, path, &iov, 1, &e) == 0)
        log_debug("image upload: noted %zu bytes in %s", add.len, IMAGES_LOG);
done:
    if (e.msg[0] != '\0')
        log_warn("image upload: not noted in %s: %s", IMAGES_LOG, e.msg);
    if (fd >= 0)
        close(fd);
    buf_free(&add);
    buf_free(&log);
    json_object_put(have);
}

/* With MINILAMBDA_REGISTRY: push each tag of `loaded` there, so every
 * engine can pull it on first use. `*pushed` gets the tags as the
 * registry has them (the caller owns it). 0, or -1 with `e`
 * (502 registry_error: the image is loaded on the first engine only). */
static int images_push(route_call *c, json_object *loaded, json_object **pushed, err_t *e)
{
    engines_t *en = c->t->app->engines;
    long long t0 = clock_mono_ms();
    *pushed = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(loaded); i++) {
        const char *ref = json_object_get_string(json_object_array_get_idx(loaded, i));
        char full[300], remote[600];
        if (strncmp(ref, "sha256:", 7) == 0)
            continue;
        images_full_ref(ref, full, sizeof(full));
        if (engines_push(en, c->t->conn, full, e) != 0) {
            json_object_put(*pushed);
            *pushed = NULL;
            if (e->kind != ERR_INVALID)
                e->kind = ERR_ENGINE;
            e->code = "registry_error";
            return err_prefix(e, "loaded on engine %s, but not pushed to the registry",
                              engines_name(en, 0));
        }
        snprintf(remote, sizeof(remote), "%s/%s", engines_registry(en), full);
        json_object_array_add(*pushed, json_object_new_string(remote));
    }
    log_info("image upload: pushed %zu tags to %s in %lld ms", json_object_array_length(*pushed),
             engines_registry(en), clock_mono_ms() - t0);
    return 0;
}

/* Load the body into the engine and answer. 0 when an image was loaded,
 * -1 with the error otherwise. */
static int images_load(route_call *c, images_upload_ctx *u, err_t *e)
{
    buf_t reply;
    docker_result dr;
    json_object *images = json_object_new_array(), *out = NULL;
    char why[512];
    int rc = -1;

    buf_init(&reply, IMAGES_LOAD_REPLY_MAX);
    docker_rc drc =
        docker_call_stream(c->t->conn, "POST", "/images/load?quiet=1", "application/x-tar",
                           images_read_cb, u, IMAGES_LOAD_TIMEOUT_MS, &reply, &dr);
    if (u->st != IMAGES_READING && u->st != IMAGES_DONE) {
        /* We abandoned the transfer ourselves. */
        log_warn("image upload: abandoned after %llu bytes of body: %s", u->body,
                 u->st == IMAGES_CLIENT_GONE ? "the client went away"
                 : u->st == IMAGES_TOO_BIG   ? "over the size limit"
                 : u->st == IMAGES_TOO_SLOW  ? "slower than the minimum rate"
                 : u->st == IMAGES_REFUSED   ? u->scan_err.msg
                                             : "the body is not a valid upload");
        images_body_error(u, e);
        goto done;
    }
    if (drc == DOCKER_API_ERROR && dr.status >= 400 && dr.status < 500) {
        err_set(e, ERR_INVALID, "invalid_image", 0, "%s", dr.message);
        goto done;
    }
    if (drc != DOCKER_OK) {
        docker_err(drc, &dr, e);
        goto done;
    }
    images_parse_load(&reply, images, why, sizeof(why));
    if (why[0] != '\0') {
        err_set(e, ERR_INVALID, "invalid_image", 0, "%s", why);
        goto done;
    }
    if (json_object_array_length(images) == 0) {
        err_set(e, ERR_INVALID, "invalid_image", 0, "the archive holds no image");
        goto done;
    }
    json_object *pushed = NULL;
    if (engines_registry(c->t->app->engines)[0] != '\0' && images_push(c, images, &pushed, e) != 0)
        goto done;
    out = json_object_new_object();
    json_object_object_add(out, "message", json_object_new_string("Image Uploaded Successfully"));
    if (pushed != NULL)
        json_object_object_add(out, "pushed", pushed);
    json_object_object_add(out, "images", json_object_get(images));
    json_object_object_add(out, "file_size", json_object_new_int64((int64_t)u->tar));
    json_object *retagged = json_object_new_array(), *pinned = json_object_new_array();
    images_remember(c, images);
    images_follow(c, images, retagged, pinned);
    json_object_object_add(out, "retagged", retagged);
    json_object_object_add(out, "pinned", pinned);
    http_send_json(c->r, 200, out, NULL);
    log_info("image upload: loaded %s (%llu bytes)",
             json_object_to_json_string_ext(images, JSON_C_TO_STRING_PLAIN), u->tar);
    rc = 0;
done:
    json_object_put(out);
    json_object_put(images);
    buf_free(&reply);
    return rc;
}

/* Set up reading the body by its Content-Type: a multipart form (parsed by
 * `mp` from u->chunk) or a raw tar. 0 or -1. */
static int images_begin(route_call *c, images_upload_ctx *u, multipart_parser *mp, err_t *e)
{
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    const char *ct = c->r->content_type;
    if (ct != NULL && http_media_type_is(ct, "multipart/form-data")) {
        u->chunk = malloc(IMAGES_CHUNK);
        if (u->chunk == NULL)
            return err_set(e, ERR_NOMEM, NULL, ENOMEM,
                           "malloc() of the upload buffer failed: out of memory");
        if (multipart_boundary(ct, boundary, sizeof(boundary)) != 0 ||
            multipart_init(mp, boundary, &images_mp_cb, u) != 0)
            return err_set(e, ERR_INVALID, "invalid_multipart", 0,
                           "the Content-Type has no valid boundary parameter");
        u->mp = mp;
    } else if (ct == NULL || !http_media_type_is(ct, "application/x-tar")) {
        return err_set(e, ERR_UNSUPPORTED, NULL, 0,
                       "upload the image as multipart/form-data (field \"image\") or as an "
                       "application/x-tar body");
    }
    if (c->r->content_length >= 0 && (unsigned long long)c->r->content_length > u->max)
        return err_set(e, ERR_TOO_LARGE, NULL, 0, "the request body is larger than %llu bytes",
                       u->max);
    return 0;
}

int images_upload(route_call *c, err_t *e)
{
    multipart_parser mp;
    images_upload_ctx u;
    int rc;

    memset(&u, 0, sizeof(u));
    u.r = c->r;
    u.max = (unsigned long long)c->t->app->cfg->max_image_bytes;
    u.min_rate = c->t->app->cfg->upload_min_rate;
    u.window_ms = (long long)c->t->app->cfg->upload_rate_window * 1000;
    u.window_start_ms = clock_mono_ms();
    if (u.min_rate > 0) {
        struct timeval tv = {.tv_sec = c->t->app->cfg->upload_rate_window};
        if (setsockopt(c->r->fcgi->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
            log_warn("image upload: setsockopt(SO_RCVTIMEO) failed: %s", strerror(errno));
    }
    buf_init(&u.spill, MULTIPART_DELIM_MAX);
    u.scan = tarscan_new((unsigned long long)c->t->app->cfg->max_unpacked_bytes);
    rc = u.scan == NULL ? err_set(e, ERR_NOMEM, NULL, ENOMEM, "tarscan_new() failed: out of memory")
                        : images_begin(c, &u, &mp, e);
    if (rc == 0)
        rc = images_load(c, &u, e);
    tarscan_free(u.scan);
    metrics_image_upload(c->t->app->metrics, rc == 0, u.tar);
    buf_free(&u.spill);
    free(u.chunk);
    return rc;
}

/* Parse ?detail=: 1 or true (or a bare "detail") is 1; absent, 0 or false
 * is 0; anything else -1. */
static int images_detail(http_req *r)
{
    char v[8];
    int found = http_query(r, "detail", v, sizeof(v));
    if (found == 0)
        return 0;
    if (found == 1 && (strcmp(v, "") == 0 || strcmp(v, "1") == 0 || strcmp(v, "true") == 0))
        return 1;
    if (found == 1 && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0))
        return 0;
    return -1;
}

/* The tags of one image entry of /images/json, without Docker's
 * "<none>:<none>" placeholder for untagged images. A new array. */
static json_object *images_tags(json_object *img)
{
    json_object *tags = json_object_new_array(), *rt;
    if (!json_object_object_get_ex(img, "RepoTags", &rt) ||
        !json_object_is_type(rt, json_type_array))
        return tags;
    for (size_t i = 0; i < json_object_array_length(rt); i++) {
        json_object *tag = json_object_array_get_idx(rt, i);
        const char *s = json_object_get_string(tag);
        if (json_object_is_type(tag, json_type_string) && strstr(s, "<none>") == NULL)
            json_object_array_add(tags, json_object_get(tag));
    }
    return tags;
}

/* An image's detail object {id, tags, size, created}. */
static json_object *images_detail_obj(json_object *img)
{
    json_object *o = json_object_new_object(), *v;
    char created[32] = "";
    json_object_object_add(o, "id",
                           json_object_object_get_ex(img, "Id", &v) ? json_object_get(v) : NULL);
    json_object_object_add(o, "tags", images_tags(img));
    json_object_object_add(o, "size",
                           json_object_object_get_ex(img, "Size", &v) ? json_object_get(v) : NULL);
    if (json_object_object_get_ex(img, "Created", &v)) {
        time_t when = (time_t)json_object_get_int64(v);
        struct tm tm;
        if (gmtime_r(&when, &tm) != NULL)
            strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    json_object_object_add(o, "created", created[0] ? json_object_new_string(created) : NULL);
    return o;
}

/* Which of the engine's images GET /images shows the caller's key: sets
 * keyed by full reference (`tags`), by image id (`ids`) and by "<ref> <id>"
 * (`loaded`: a tag as this instance loaded it). */
typedef struct {
    const keys_key *key;
    json_object *tags, *ids, *loaded; /* owned */
} images_mine;

/* A log line the key may see: its own upload, or any for an unlimited key. */
static void images_mine_line(const char *id, const char *ref, const char *key, void *arg)
{
    images_mine *m = arg;
    char k[1024];
    if (m->key != NULL && m->key->functions != NULL && strcmp(key, m->key->id) != 0)
        return;
    if (strncmp(ref, "sha256:", 7) == 0) {
        json_object_object_add(m->ids, id, NULL);
        return;
    }
    int n = snprintf(k, sizeof(k), "%s %s", ref, id);
    if (n > 0 && (size_t)n < sizeof(k))
        json_object_object_add(m->loaded, k, NULL);
}

/*
 * This instance's images as the caller's key may see them: the image (tag
 * and pinned id) of each function the key may see, and each image an
 * upload loaded through this instance (by the key itself, for a key
 * limited to some functions). 0, or -1 with `e`.
 */
static int images_mine_read(route_call *c, images_mine *m, err_t *e)
{
    char full[300];
    buf_t log;
    func_t **all = NULL;
    size_t n = 0;
    int rc = -1;

    m->key = c->key;
    m->tags = json_object_new_object();
    m->ids = json_object_new_object();
    m->loaded = json_object_new_object();
    buf_init(&log, IMAGES_LOG_MAX);
    if (store_all(c->t->app->store, &all, &n, e) != 0 || images_log_read(c, &log, e) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (!keys_allows_function(c->key, all[i]))
            continue;
        images_full_ref(all[i]->image, full, sizeof(full));
        json_object_object_add(m->tags, full, NULL);
        if (all[i]->image_id[0] != '\0')
            json_object_object_add(m->ids, all[i]->image_id, NULL);
    }
    images_log_each(&log, images_mine_line, m);
    rc = 0;
done:
    store_all_free(all, n);
    buf_free(&log);
    return rc;
}

static void images_mine_free(images_mine *m)
{
    json_object_put(m->tags);
    json_object_put(m->ids);
    json_object_put(m->loaded);
}

/* The tags of engine image `img` that are this instance's (a new array);
 * `*keep` whether the image is shown at all (a tag of it, or its id). */
static json_object *images_mine_tags(const images_mine *m, json_object *img, bool *keep)
{
    json_object *tags = images_tags(img), *out = json_object_new_array(), *v;
    const char *id = json_object_object_get_ex(img, "Id", &v) ? json_object_get_string(v) : "";
    char k[1024];
    for (size_t i = 0; i < json_object_array_length(tags); i++) {
        json_object *tag = json_object_array_get_idx(tags, i);
        int n = snprintf(k, sizeof(k), "%s %s", json_object_get_string(tag), id);
        if (json_object_object_get_ex(m->tags, json_object_get_string(tag), NULL) ||
            (n > 0 && (size_t)n < sizeof(k) && json_object_object_get_ex(m->loaded, k, NULL)))
            json_object_array_add(out, json_object_get(tag));
    }
    json_object_put(tags);
    *keep = json_object_array_length(out) > 0 || json_object_object_get_ex(m->ids, id, NULL);
    return out;
}

int images_list(route_call *c, err_t *e)
{
    buf_t body;
    docker_result dr;
    json_object *list = NULL, *out = NULL;
    images_mine mine = {0};
    int detail = images_detail(c->r), rc = -1;

    buf_init(&body, IMAGES_LIST_MAX);
    if (detail < 0) {
        err_set(e, ERR_INVALID, "invalid_query", 0, "detail must be 1, true, 0 or false");
        goto done;
    }
    if (images_mine_read(c, &mine, e) != 0)
        goto done;
    docker_rc drc =
        docker_call(c->t->conn, "GET", "/images/json", NULL, IMAGES_LIST_TIMEOUT_MS, &body, &dr);
    if (drc != DOCKER_OK) {
        docker_err(drc, &dr, e);
        goto done;
    }
    list = json_tokener_parse(body.data ? body.data : "");
    if (!json_object_is_type(list, json_type_array)) {
        err_set(e, ERR_ENGINE, NULL, 0, "the engine's image list is not a JSON array");
        goto done;
    }
    out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *img = json_object_array_get_idx(list, i);
        bool keep = false;
        json_object *tags = images_mine_tags(&mine, img, &keep);
        if (keep && detail) {
            json_object *o = images_detail_obj(img);
            json_object_object_add(o, "tags", json_object_get(tags));
            json_object_array_add(out, o);
        }
        for (size_t j = 0; keep && !detail && j < json_object_array_length(tags); j++)
            json_object_array_add(out, json_object_get(json_object_array_get_idx(tags, j)));
        json_object_put(tags);
    }
    http_send_json(c->r, 200, out, NULL);
    rc = 0;
done:
    images_mine_free(&mine);
    json_object_put(out);
    json_object_put(list);
    buf_free(&body);
    return rc;
}

typedef struct {
    char image[256];
    int present;
    long long at_ms;
} images_seen;

static images_seen images_cache[IMAGES_PRESENT_CACHE];
static pthread_mutex_t images_cache_mu = PTHREAD_MUTEX_INITIALIZER;

/* The slot for `image` in the cache (a fixed table, hashed). */
static images_seen *images_cache_slot(const char *image)
{
    unsigned h = 5381;
    for (const char *p = image; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return &images_cache[h % IMAGES_PRESENT_CACHE];
}

/* Remember (present >= 0) an answer for `image`. */
static void images_cache_put(const char *image, int present)
{
    pthread_mutex_lock(&images_cache_mu);
    images_seen *e = images_cache_slot(image);
    snprintf(e->image, sizeof(e->image), "%s", image);
    e->present = present;
    e->at_ms = clock_mono_ms();
    pthread_mutex_unlock(&images_cache_mu);
}

/* A fresh cached answer for `image`, or -1. */
static int images_cache_get(const char *image)
{
    int present = -1;
    pthread_mutex_lock(&images_cache_mu);
    images_seen *e = images_cache_slot(image);
    if (strcmp(e->image, image) == 0 && clock_mono_ms() - e->at_ms < IMAGES_PRESENT_TTL_MS)
        present = e->present;
    pthread_mutex_unlock(&images_cache_mu);
    return present;
}

/* GET /images/{image}/json into `out`. */
static docker_rc images_inspect(docker_conn_t *c, const char *image, buf_t *out, docker_result *dr)
{
    char path[1024];
    char *esc = curl_easy_escape(NULL, image, 0);
    if (esc == NULL) {
        snprintf(dr->message, sizeof(dr->message), "curl_easy_escape() failed");
        return DOCKER_ERROR;
    }
    int n = snprintf(path, sizeof(path), "/images/%s/json", esc);
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(dr->message, sizeof(dr->message), "image reference too long");
        return DOCKER_ERROR;
    }
    return docker_call(c, "GET", path, NULL, IMAGES_INSPECT_TIMEOUT_MS, out, dr);
}

int images_present(docker_conn_t *c, const char *image)
{
    docker_result dr;
    int cached = images_cache_get(image);
    if (cached >= 0)
        return cached;
    docker_rc rc = images_inspect(c, image, NULL, &dr);
    if (rc == DOCKER_OK || (rc == DOCKER_API_ERROR && dr.status == 404)) {
        images_cache_put(image, rc == DOCKER_OK);
        return rc == DOCKER_OK;
    }
    log_warn("image inspect %s failed: %s", image, dr.message);
    return -1;
}

int images_resolve(docker_conn_t *c, const char *image, char *id, size_t idlen, err_t *e)
{
    docker_result dr;
    buf_t body;
    json_object *o = NULL, *v;
    int rc = -1;
    buf_init(&body, IMAGES_INSPECT_MAX);
    docker_rc drc = images_inspect(c, image, &body, &dr);
    if (drc == DOCKER_API_ERROR && dr.status == 404) {
        rc = 0;
        goto done;
    }
    if (drc != DOCKER_OK) {
        docker_err(drc, &dr, e);
        goto done;
    }
    o = json_tokener_parse(body.data ? body.data : "");
    if (!json_object_object_get_ex(o, "Id", &v) || !json_object_is_type(v, json_type_string)) {
        err_set(e, ERR_ENGINE, NULL, 0, "image inspect %.200s: no Id in the answer", image);
        goto done;
    }
    snprintf(id, idlen, "%s", json_object_get_string(v));
    rc = 1;
done:
    json_object_put(o);
    buf_free(&body);
    return rc;
}
