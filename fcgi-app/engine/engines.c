#include "engine/engines.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"

/* One engine's shared state. */
typedef struct {
    atomic_int down;     /* 0: answering (or not probed yet) */
    atomic_llong placed; /* calls given to it since the pool started */
    atomic_llong share;  /* the same, rebased when it comes back: ties go by it */
    atomic_llong outs;   /* times it went out since the pool started */
} engines_state;

struct engines_shm {
    size_t size; /* of the mapping */
    int rows;
    engines_state e[ENGINES_MAX];
    atomic_int in_flight[]; /* [rows][ENGINES_MAX] */
};

struct engines {
    int n;
    bool multi;
    engines_shm_t *shm;
    bool own_shm; /* a private state made by engines_open */
    docker_t *docker[ENGINES_MAX];
    char name[ENGINES_MAX][64];
    int weight[ENGINES_MAX];
    char registry[256];
    char run_dir[CONFIG_PATH_MAX];
};

/* A pull's progress stream: enough to see its last error. */
#define ENGINES_PULL_OUT_MAX (1u << 20)
#define ENGINES_TAG_MS 10000
#define ENGINES_PUSH_MS 600000
#define ENGINES_LOCK_POLL_MS 50

engines_shm_t *engines_shm_create(int rows)
{
    size_t size = sizeof(engines_shm_t) + sizeof(atomic_int) * (size_t)rows * ENGINES_MAX;
    engines_shm_t *s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return NULL;
    /* A fresh anonymous mapping is zero: every engine up, nothing in
     * flight. */
    s->size = size;
    s->rows = rows;
    return s;
}

void engines_shm_destroy(engines_shm_t *s)
{
    if (s != NULL)
        munmap(s, s->size);
}

void engines_reset_row(engines_shm_t *s, int row)
{
    if (s == NULL || row < 0 || row >= s->rows)
        return;
    for (int i = 0; i < ENGINES_MAX; i++)
        atomic_store(&s->in_flight[row * ENGINES_MAX + i], 0);
}

engines_t *engines_open(const config_t *cfg, engines_shm_t *shm, err_t *e)
{
    char why[512];
    engines_t *en = calloc(1, sizeof(*en));
    if (en == NULL) {
        err_set(e, ERR_NOMEM, NULL, ENOMEM, "calloc() failed: out of memory");
        return NULL;
    }
    en->shm = shm;
    if (shm == NULL) {
        if ((en->shm = engines_shm_create(0)) == NULL) {
            err_set(e, ERR_NOMEM, NULL, errno, "mmap() failed: %s", strerror(errno));
            goto fail;
        }
        en->own_shm = true;
    }
    en->multi = cfg->nengines > 0;
    snprintf(en->registry, sizeof(en->registry), "%s", cfg->registry);
    snprintf(en->run_dir, sizeof(en->run_dir), "%s", cfg->run_dir);
    if (!en->multi) {
        en->n = 1;
        en->weight[0] = 1;
        if ((en->docker[0] = docker_new(why, sizeof(why))) == NULL) {
            err_set(e, ERR_INVALID, "invalid_config", 0, "%s", why);
            goto fail;
        }
        snprintf(en->name[0], sizeof(en->name[0]), "%.63s", docker_endpoint(en->docker[0]));
        return en;
    }
    for (int i = 0; i < cfg->nengines; i++) {
        const config_engine *c = &cfg->engine[i];
        en->docker[i] = docker_new_at(c->endpoint, c->tls_dir, why, sizeof(why));
        if (en->docker[i] == NULL) {
            err_set(e, ERR_INVALID, "invalid_config", 0, "MINILAMBDA_ENGINES entry %d (%s): %s",
                    i + 1, c->endpoint, why);
            goto fail;
        }
        snprintf(en->name[i], sizeof(en->name[i]), "%s", c->name);
        en->weight[i] = c->weight;
        en->n = i + 1;
    }
    return en;
fail:
    engines_close(en);
    return NULL;
}

void engines_close(engines_t *en)
{
    if (en == NULL)
        return;
    for (int i = 0; i < ENGINES_MAX; i++)
        docker_free(en->docker[i]);
    if (en->own_shm)
        engines_shm_destroy(en->shm);
    free(en);
}

int engines_count(const engines_t *en)
{
    return en->n;
}

bool engines_multi(const engines_t *en)
{
    return en->multi;
}

docker_t *engines_docker(const engines_t *en, int i)
{
    return en->docker[i];
}

const char *engines_name(const engines_t *en, int i)
{
    return en->name[i];
}

int engines_weight(const engines_t *en, int i)
{
    return en->weight[i];
}

bool engines_up(const engines_t *en, int i)
{
    return atomic_load(&en->shm->e[i].down) == 0;
}

long long engines_outs(const engines_t *en, int i)
{
    return atomic_load(&en->shm->e[i].outs);
}

bool engines_any_up(const engines_t *en)
{
    for (int i = 0; i < en->n; i++)
        if (engines_up(en, i))
            return true;
    return false;
}

/* Engine `i` is back: its share of calls given restarts level with the
 * others' (for its weight), so that one-at-a-time calls do not all go to
 * it until it has caught up with what it missed while out. */
static void engines_rebase(engines_t *en, int i)
{
    long long best = -1;
    int bw = 1;
    for (int j = 0; j < en->n; j++) {
        if (j == i || !engines_up(en, j))
            continue;
        long long sj = atomic_load(&en->shm->e[j].share);
        if (best < 0 || sj * bw < best * en->weight[j]) {
            best = sj;
            bw = en->weight[j];
        }
    }
    if (best >= 0)
        atomic_store(&en->shm->e[i].share, best * en->weight[i] / bw);
}

void engines_set_up(engines_t *en, int i, bool up, const char *why)
{
    if (!en->multi)
        return;
    int was = atomic_exchange(&en->shm->e[i].down, up ? 0 : 1);
    if (was == 1 && up)
        engines_rebase(en, i);
    if (was == 0 && !up)
        atomic_fetch_add(&en->shm->e[i].outs, 1);
    if (was == (up ? 1 : 0)) {
        if (up)
            log_info("engine %s answers again: placing calls on it", en->name[i]);
        else
            log_warn("engine %s does not answer (%s): no calls are placed on it", en->name[i],
                     why ? why : "?");
    }
}

int engines_in_flight(const engines_t *en, int i)
{
    int n = 0;
    for (int r = 0; r < en->shm->rows; r++)
        n += atomic_load(&en->shm->in_flight[r * ENGINES_MAX + i]);
    return n;
}

long long engines_placed(const engines_t *en, int i)
{
    return atomic_load(&en->shm->e[i].placed);
}

/* Whether engine `a` (with `fa` in flight) is a better choice than `b`:
 * fewer in flight relative to weight, then fewer given relative to
 * weight (cross-multiplied: no division, no rounding). */
static bool engines_better(const engines_t *en, int a, long long fa, int b, long long fb)
{
    long long wa = en->weight[a], wb = en->weight[b];
    if (fa * wb != fb * wa)
        return fa * wb < fb * wa;
    long long pa = atomic_load(&en->shm->e[a].share), pb = atomic_load(&en->shm->e[b].share);
    /* One more call each: with none given yet, the heavier goes first. */
    return (pa + 1) * wb < (pb + 1) * wa;
}

int engines_place(engines_t *en, unsigned skip, unsigned prefer, err_t *e)
{
    if (!en->multi)
        return 0;
    int best = -1;
    long long best_f = 0;
    /* Two passes: the preferred engines first (a ready warm container),
     * then any. */
    for (int pass = prefer ? 0 : 1; pass < 2 && best < 0; pass++) {
        for (int i = 0; i < en->n; i++) {
            if ((skip >> i & 1u) || !engines_up(en, i) || (pass == 0 && !(prefer >> i & 1u)))
                continue;
            long long f = engines_in_flight(en, i);
            if (best < 0 || engines_better(en, i, f, best, best_f)) {
                best = i;
                best_f = f;
            }
        }
    }
    if (best < 0)
        return err_set(e, ERR_ENGINE_UNREACHABLE, "engine_unavailable", 0,
                       "no engine that answers can take the call (%d configured)", en->n);
    return best;
}

void engines_note(engines_t *en, int i)
{
    atomic_fetch_add(&en->shm->e[i].share, 1);
}

void engines_enter(engines_t *en, int row, int i)
{
    atomic_fetch_add(&en->shm->e[i].placed, 1);
    atomic_fetch_add(&en->shm->e[i].share, 1);
    if (row >= 0 && row < en->shm->rows)
        atomic_fetch_add(&en->shm->in_flight[row * ENGINES_MAX + i], 1);
}

void engines_leave(engines_t *en, int row, int i)
{
    if (row >= 0 && row < en->shm->rows)
        atomic_fetch_sub(&en->shm->in_flight[row * ENGINES_MAX + i], 1);
}

/* The background probe: a thread per engine. */
typedef struct {
    engines_t *en;
    int i;
    atomic_bool *stop;
    pthread_t tid;
    bool started;
} engines_prober;

struct engines_probe {
    atomic_bool stop;
    engines_prober p[ENGINES_MAX];
};

static void *engines_probe_main(void *arg)
{
    engines_prober *p = arg;
    docker_conn_t *c = docker_conn_new(p->en->docker[p->i]);
    if (c == NULL) {
        log_error("engine probe %s: docker_conn_new() failed: out of memory", p->en->name[p->i]);
        return NULL;
    }
    while (!atomic_load(p->stop)) {
        docker_result dr;
        long long t0 = clock_mono_ms();
        bool up = docker_ping(c, ENGINES_PING_MS, &dr) == DOCKER_OK;
        engines_set_up(p->en, p->i, up, dr.message);
        long long left = ENGINES_PROBE_MS - (clock_mono_ms() - t0);
        if (left > 0) {
            struct timespec ts = {0, (long)left * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    docker_conn_free(c);
    return NULL;
}

engines_probe_t *engines_probe_start(engines_t *en)
{
    engines_probe_t *pr = calloc(1, sizeof(*pr));
    if (pr == NULL)
        return NULL;
    atomic_init(&pr->stop, false);
    if (!en->multi)
        return pr;
    for (int i = 0; i < en->n; i++) {
        engines_prober *p = &pr->p[i];
        *p = (engines_prober){.en = en, .i = i, .stop = &pr->stop};
        int rc = pthread_create(&p->tid, NULL, engines_probe_main, p);
        if (rc != 0) {
            log_error("engine probe: pthread_create() failed: %s", strerror(rc));
            engines_probe_stop(pr);
            return NULL;
        }
        p->started = true;
    }
    return pr;
}

void engines_probe_stop(engines_probe_t *pr)
{
    if (pr == NULL)
        return;
    atomic_store(&pr->stop, true);
    for (int i = 0; i < ENGINES_MAX; i++)
        if (pr->p[i].started)
            pthread_join(pr->p[i].tid, NULL);
    free(pr);
}

int engines_conns_init(engines_conns *cs, engines_t *en, err_t *e)
{
    memset(cs, 0, sizeof(*cs));
    cs->en = en;
    for (int i = 0; i < en->n; i++) {
        if ((cs->conn[i] = docker_conn_new(en->docker[i])) == NULL) {
            engines_conns_free(cs);
            return err_set(e, ERR_NOMEM, NULL, ENOMEM, "docker_conn_new() failed: out of memory");
        }
    }
    return 0;
}

void engines_conns_free(engines_conns *cs)
{
    for (int i = 0; i < ENGINES_MAX; i++) {
        docker_conn_free(cs->conn[i]);
        cs->conn[i] = NULL;
    }
}

#define ENGINES_REGISTRY_CHECK_MS 3000

static size_t engines_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

int engines_registry_check(const char *registry, err_t *e)
{
    char url[300], errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return err_set(e, ERR_NOMEM, NULL, ENOMEM, "curl_easy_init() failed");
    snprintf(url, sizeof(url), "http://%s/v2/", registry);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ENGINES_REGISTRY_CHECK_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, engines_discard);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK || status == 0)
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_REGISTRY %s does not answer (GET %s): %s", registry, url,
                       errbuf[0] ? errbuf : curl_easy_strerror(cc));
    return 0;
}

const char *engines_registry(const engines_t *en)
{
    return en->registry;
}

/* Split "repo[:tag]" (a ':' after the last '/') into `repo` and `tag`
 * ("latest" when none). 0, or -1 for a digest reference or one too long. */
static int engines_split(const char *image, char *repo, size_t rlen, char *tag, size_t tlen)
{
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(slash ? slash : image, ':');
    size_t n = colon ? (size_t)(colon - image) : strlen(image);
    if (strchr(image, '@') != NULL || n == 0 || n >= rlen)
        return -1;
    memcpy(repo, image, n);
    repo[n] = '\0';
    int w = snprintf(tag, tlen, "%s", colon ? colon + 1 : "latest");
    return w > 0 && (size_t)w < tlen ? 0 : -1;
}

/* Whether engine `c` has image `image` now. */
static bool engines_has(docker_conn_t *c, const char *image, long timeout_ms)
{
    char path[600];
    docker_result dr;
    char *esc = curl_easy_escape(NULL, image, 0);
    if (esc == NULL)
        return false;
    int n = snprintf(path, sizeof(path), "/images/%s/json", esc);
    curl_free(esc);
    return n > 0 && (size_t)n < sizeof(path) &&
           docker_call(c, "GET", path, NULL, timeout_ms, NULL, &dr) == DOCKER_OK;
}

/* Take the lock of pulls of `image` onto engine `i` by `deadline`. The
 * descriptor (close to unlock), or -1 with `e` filled in. */
static int engines_pull_lock(engines_t *en, int i, const char *image, long long deadline, err_t *e)
{
    char path[CONFIG_PATH_MAX + 64];
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = image; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    int n = snprintf(path, sizeof(path), "%s/pull-%d-%016llx.lock", en->run_dir, i,
                     (unsigned long long)h);
    if (n < 0 || (size_t)n >= sizeof(path))
        return err_set(e, ERR_INTERNAL, NULL, ENAMETOOLONG, "pull lock path too long");
    int fd = -1, got;
    while ((got = files_trylock(path, &fd, e)) == 0) {
        if (clock_mono_ms() >= deadline)
            return err_set(e, ERR_ENGINE_TIMEOUT, NULL, 0,
                           "waiting for another pull of %.200s onto engine %s timed out", image,
                           en->name[i]);
        struct timespec ts = {0, ENGINES_LOCK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return got < 0 ? -1 : fd;
}

/* POST /images/{from}/tag?repo=&tag= over `c`. */
static docker_rc engines_tag(docker_conn_t *c, const char *from, const char *repo, const char *tag,
                             docker_result *dr)
{
    char path[1200];
    char *f = curl_easy_escape(NULL, from, 0), *r = curl_easy_escape(NULL, repo, 0),
         *t = curl_easy_escape(NULL, tag, 0);
    docker_rc rc = DOCKER_ERROR;
    snprintf(dr->message, sizeof(dr->message), "tag: out of memory or name too long");
    if (f != NULL && r != NULL && t != NULL) {
        int n = snprintf(path, sizeof(path), "/images/%s/tag?repo=%s&tag=%s", f, r, t);
        if (n > 0 && (size_t)n < sizeof(path))
            rc = docker_call(c, "POST", path, NULL, ENGINES_TAG_MS, NULL, dr);
    }
    curl_free(f);
    curl_free(r);
    curl_free(t);
    return rc;
}

/* Drop the name `ref` from the engine's image (which keeps its other
 * names): the registry's name is only needed while pushing or pulling.
 * Logged when it fails; nothing depends on it. */
static void engines_untag(docker_conn_t *c, const char *ref)
{
    char path[800];
    docker_result dr;
    char *esc = curl_easy_escape(NULL, ref, 0);
    int n = esc ? snprintf(path, sizeof(path), "/images/%s?noprune=1", esc) : -1;
    curl_free(esc);
    if (n < 0 || (size_t)n >= sizeof(path) ||
        docker_call(c, "DELETE", path, NULL, ENGINES_TAG_MS, NULL, &dr) != DOCKER_OK)
        log_warn("untagging %.200s failed: %s", ref, n < 0 ? "name too long" : dr.message);
}

/* The last "error" a progress stream (JSON lines) carries, into `out`;
 * false when none. */
static bool engines_stream_error(const buf_t *b, char *out, size_t outlen)
{
    const char *p = b->data, *last = NULL;
    while (p != NULL && (p = strstr(p, "\"error\"")) != NULL)
        last = p++;
    if (last == NULL)
        return false;
    const char *q = strchr(last + 7, '"');
    const char *end = q ? strchr(q + 1, '"') : NULL;
    if (q == NULL || end == NULL)
        snprintf(out, outlen, "the engine reported an error");
    else
        snprintf(out, outlen, "%.*s", (int)(end - q - 1), q + 1);
    return true;
}

int engines_pull(engines_t *en, docker_conn_t *c, int i, const char *image, long long deadline,
                 err_t *e)
{
    char repo[300], tag[130], remote[600], path[1400], why[300];
    docker_result dr;
    buf_t out;
    int rc = -1, fd = -1;
    char *esc_from = NULL, *esc_tag = NULL;

    buf_init(&out, ENGINES_PULL_OUT_MAX);
    if (en->registry[0] == '\0')
        return err_set(e, ERR_INTERNAL, NULL, 0, "no registry to pull %.200s from", image);
    if (engines_split(image, repo, sizeof(repo), tag, sizeof(tag)) != 0) {
        err_set(e, ERR_ENGINE, "image_not_found", 0, "%.200s cannot be pulled by tag", image);
        goto done;
    }
    if ((fd = engines_pull_lock(en, i, image, deadline, e)) < 0)
        goto done;
    long long t0 = clock_mono_ms();
    /* Another process pulled it while this one waited. */
    if (engines_has(c, image, (long)(deadline - t0))) {
        rc = 0;
        goto done;
    }
    int n = snprintf(remote, sizeof(remote), "%s/%s", en->registry, repo);
    esc_from = curl_easy_escape(NULL, remote, 0);
    esc_tag = curl_easy_escape(NULL, tag, 0);
    if (n < 0 || (size_t)n >= sizeof(remote) || esc_from == NULL || esc_tag == NULL ||
        (n = snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s", esc_from,
                      esc_tag)) < 0 ||
        (size_t)n >= sizeof(path)) {
        err_set(e, ERR_INTERNAL, NULL, 0, "pull of %.200s: name too long", image);
        goto done;
    }
    docker_rc dc =
        docker_call(c, "POST", path, NULL, (long)(deadline - clock_mono_ms()), &out, &dr);
    if (dc != DOCKER_OK) {
        docker_err(dc, &dr, e);
        err_prefix(e, "pull of %.200s onto engine %s", image, en->name[i]);
        if (dc == DOCKER_API_ERROR && dr.status == 404)
            e->code = "image_not_found";
        goto done;
    }
    if (engines_stream_error(&out, why, sizeof(why))) {
        err_set(e, ERR_ENGINE, "image_not_found", 0, "pull of %.200s onto engine %s: %s", remote,
                en->name[i], why);
        goto done;
    }
    n = snprintf(remote, sizeof(remote), "%s/%s:%s", en->registry, repo, tag);
    if (n < 0 || (size_t)n >= sizeof(remote)) {
        err_set(e, ERR_INTERNAL, NULL, 0, "pull of %.200s: name too long", image);
        goto done;
    }
    if ((dc = engines_tag(c, remote, repo, tag, &dr)) != DOCKER_OK) {
        docker_err(dc, &dr, e);
        err_prefix(e, "tagging %.200s as %.200s on engine %s", remote, image, en->name[i]);
        goto done;
    }
    engines_untag(c, remote);
    log_info("engine %s: pulled %s from %s in %lld ms", en->name[i], image, en->registry,
             clock_mono_ms() - t0);
    rc = 0;
done:
    curl_free(esc_from);
    curl_free(esc_tag);
    if (fd >= 0)
        close(fd);
    buf_free(&out);
    return rc;
}

int engines_push(engines_t *en, docker_conn_t *c, const char *tag, err_t *e)
{
    char repo[300], t[130], remote[600], path[1400], why[300];
    docker_result dr;
    buf_t out;
    int rc = -1;
    char *esc = NULL, *esc_tag = NULL;

    buf_init(&out, ENGINES_PULL_OUT_MAX);
    if (engines_split(tag, repo, sizeof(repo), t, sizeof(t)) != 0) {
        err_set(e, ERR_INVALID, "invalid_image", 0, "%.200s cannot be pushed by tag", tag);
        goto done;
    }
    int n = snprintf(remote, sizeof(remote), "%s/%s", en->registry, repo);
    if (n < 0 || (size_t)n >= sizeof(remote)) {
        err_set(e, ERR_INTERNAL, NULL, 0, "push of %.200s: name too long", tag);
        goto done;
    }
    docker_rc dc = engines_tag(c, tag, remote, t, &dr);
    if (dc != DOCKER_OK) {
        docker_err(dc, &dr, e);
        err_prefix(e, "tagging %.200s for the registry", tag);
        goto done;
    }
    esc = curl_easy_escape(NULL, remote, 0);
    esc_tag = curl_easy_escape(NULL, t, 0);
    if (esc == NULL || esc_tag == NULL ||
        (n = snprintf(path, sizeof(path), "/images/%s/push?tag=%s", esc, esc_tag)) < 0 ||
        (size_t)n >= sizeof(path)) {
        err_set(e, ERR_INTERNAL, NULL, 0, "push of %.200s: name too long", tag);
        goto done;
    }
    dc = docker_call(c, "POST", path, NULL, ENGINES_PUSH_MS, &out, &dr);
    n = snprintf(remote, sizeof(remote), "%s/%s:%s", en->registry, repo, t);
    if (n > 0 && (size_t)n < sizeof(remote))
        engines_untag(c, remote);
    if (dc != DOCKER_OK) {
        docker_err(dc, &dr, e);
        err_prefix(e, "push of %.200s to %s", tag, en->registry);
        goto done;
    }
    if (engines_stream_error(&out, why, sizeof(why))) {
        err_set(e, ERR_ENGINE, "registry_error", 0, "push of %.200s to %s: %s", tag, en->registry,
                why);
        goto done;
    }
    rc = 0;
done:
    curl_free(esc);
    curl_free(esc_tag);
    buf_free(&out);
    return rc;
}
