/*
 * minilambda-fcgi: the FastCGI pool behind nginx. Reads its configuration
 * from MINILAMBDA_* variables (config.c's table), checks the function
 * store, and runs the master/worker pool until SIGTERM or SIGINT.
 *
 *   --supervise     run the pool under a supervisor that restarts a dead
 *                   master (what scripts/run starts)
 *   --print-config  the effective settings as shell assignments
 *   --print-nginx   nginx location blocks rendered from the route table
 *   --print-instance  the minilambda.instance label of this configuration's
 *                     containers (its data dir's name)
 *   --print-openapi the OpenAPI document, built from the route, field,
 *                   error and status tables (openapi.c)
 */
#include <curl/curl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "base/files.h"
#include "base/log.h"
#include "engine/engines.h"
#include "http/openapi.h"
#include "http/route.h"
#include "proc/pool.h"
#include "proc/supervise.h"
#include "run/container.h"
#include "state/keys.h"
#include "state/store.h"

/* Name this instance: a random id kept in the data dir
 * (<data dir>/instance), made at the first start. Its containers carry it
 * (minilambda.instance), so a janitor never removes another platform's
 * containers on an engine they share, even when both use the same data dir
 * path on their own machines, and a restart finds its own leftovers. When
 * the file cannot be read or made, the data dir's path names it, as
 * before. */
static void main_instance(const char *data_dir, char *out, size_t outlen)
{
    char real[PATH_MAX], path[CONFIG_PATH_MAX + 16], id[20];
    unsigned char rnd[8];
    buf_t b;
    err_t e;
    snprintf(path, sizeof(path), "%s/instance", data_dir);
    /* --print-instance may come first: it makes the id the pool will use. */
    if (files_mkdir(data_dir, &e) != 0)
        log_warn("cannot make %s: %s", data_dir, e.msg);
    buf_init(&b, 64);
    if (files_read(path, &b, &e) == 0 && b.len >= 16 && strspn(b.data, "0123456789abcdef") == 16) {
        snprintf(out, outlen, "%.16s", b.data);
        buf_free(&b);
        return;
    }
    buf_free(&b);
    if (getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd)) {
        for (size_t i = 0; i < sizeof(rnd); i++)
            snprintf(id + 2 * i, 3, "%02x", rnd[i]);
        id[16] = '\n';
        if (files_write(path, id, 17, FILES_SYNC_DIR, &e) == 0) {
            snprintf(out, outlen, "%.16s", id);
            return;
        }
        log_warn("cannot keep this instance's id: %s; naming it by its data dir", e.msg);
    }
    const char *p = realpath(data_dir, real) ? real : data_dir;
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    snprintf(out, outlen, "%016llx", (unsigned long long)h);
}

/* Keys are required: when none exist yet, write an admin key to
 * <data dir>/admin.key (mode 0600) so the operator can make the others. */
static int main_admin_key(const config_t *cfg)
{
    char path[CONFIG_PATH_MAX + 16];
    err_t e;
    snprintf(path, sizeof(path), "%s/admin.key", cfg->data_dir);
    keys_t *k = keys_open(cfg->data_dir, &e);
    int made = k != NULL ? keys_bootstrap(k, path, &e) : -1;
    keys_close(k);
    if (made < 0) {
        fprintf(stderr,
                "minilambda: cannot start: API keys are required and none could be "
                "made: %s\n",
                e.msg);
        return -1;
    }
    if (made > 0)
        log_warn("API keys are required (MINILAMBDA_AUTH=%s, bind %s) and none existed: an admin "
                 "key was written to %s (mode 0600)",
                 cfg->auth, cfg->bind, path);
    return 0;
}

/* What the master needs: the settings and the instance name. */
typedef struct {
    const config_t *cfg;
    const char *instance;
} main_pool_args;

/* The master: the pool, run here or in the supervisor's child. The
 * supervisor itself never initialises libcurl: it makes no engine call. */
static int main_pool(void *arg)
{
    const main_pool_args *a = arg;
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fprintf(stderr, "minilambda: curl_global_init() failed\n");
        return 1;
    }
    int rc = pool_run(a->cfg, a->instance);
    curl_global_cleanup();
    return rc;
}

static void main_usage(const char *argv0)
{
    printf("usage: %s [--supervise | --print-config | --print-nginx | --print-instance |\n"
           "          --print-openapi | --help]\n"
           "Configured by these environment variables (see docs/operating.md, Configuration):\n",
           argv0);
    config_usage(stdout);
}

int main(int argc, char **argv)
{
    config_t cfg;
    err_t e;
    char instance[24];
    const char *mode = argc > 1 ? argv[1] : "";

    /* Before any fork: every process of the pool, a restarted master and
     * respawned workers included, keeps this one reading of the clock. */
    clock_anchor();
    if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0) {
        main_usage(argv[0]);
        return 0;
    }
    if (*mode != '\0' && strcmp(mode, "--print-config") != 0 &&
        strcmp(mode, "--print-nginx") != 0 && strcmp(mode, "--print-instance") != 0 &&
        strcmp(mode, "--print-openapi") != 0 && strcmp(mode, "--supervise") != 0) {
        fprintf(stderr, "minilambda: unknown argument \"%s\"; see --help\n", mode);
        return 2;
    }
    if (config_load(&cfg, &e) != 0) {
        fprintf(stderr, "minilambda: configuration error: %s\n", e.msg);
        return 2;
    }
    container_set_region(cfg.region);
    if (route_check(&e) != 0) {
        fprintf(stderr, "minilambda: the route table is inconsistent: %s\n", e.msg);
        return 2;
    }
    if (strcmp(mode, "--print-config") == 0) {
        config_print(&cfg, stdout);
        return 0;
    }
    if (strcmp(mode, "--print-nginx") == 0) {
        route_print_nginx(stdout, &cfg);
        return 0;
    }
    if (strcmp(mode, "--print-openapi") == 0) {
        if (openapi_print(stdout, &e) != 0) {
            fprintf(stderr, "minilambda: cannot print the OpenAPI document: %s\n", e.msg);
            return 1;
        }
        return 0;
    }
    main_instance(cfg.data_dir, instance, sizeof(instance));
    /* So that scripts (and scripts/test's last check) can find this
     * instance's containers among other instances' on a shared engine. */
    if (strcmp(mode, "--print-instance") == 0) {
        printf("%s\n", instance);
        return 0;
    }
    log_set_level(cfg.level);
    signal(SIGPIPE, SIG_IGN);
    /* The run dir stays 0755: nginx enters it to reach the socket. */
    if (files_mkdir_mode(cfg.run_dir, 0755, &e) != 0) {
        fprintf(stderr, "minilambda: %s\n", e.msg);
        return 1;
    }
    /* Secrets (env values, keys, events, outputs) are in the data dir:
     * what an older version or an operator left readable to others is made
     * the pool user's alone before anything is served. */
    long fixed = files_make_private(cfg.data_dir, cfg.run_dir, &e);
    if (fixed < 0)
        log_warn("cannot make %s private (0700, files 0600): %s", cfg.data_dir, e.msg);
    else if (fixed > 0)
        log_info("made %ld entries of %s private (0700, files 0600)", fixed, cfg.data_dir);
    store_t *store = store_open(cfg.data_dir, &e);
    if (store == NULL || store_verify(store, &e) != 0) {
        store_close(store);
        fprintf(stderr,
                "minilambda: cannot start: %s\n"
                "minilambda: the file was left untouched; fix or move it and start again\n",
                e.msg);
        return 1;
    }
    store_close(store);
    /* The same for the key store: an admin key is never made over a
     * damaged file, which would lose every key it holds. */
    keys_t *keys = keys_open(cfg.data_dir, &e);
    if (keys == NULL || keys_verify(keys, &e) != 0) {
        keys_close(keys);
        fprintf(stderr,
                "minilambda: cannot start: %s\n"
                "minilambda: the file was left untouched; fix or move it and start again\n",
                e.msg);
        return 1;
    }
    keys_close(keys);
    if (cfg.auth_required && main_admin_key(&cfg) != 0)
        return 1;
    /* The registry is checked once, here: a typo stops the start, with
     * the supervisor too. */
    if (cfg.registry[0] != '\0') {
        if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
            fprintf(stderr, "minilambda: curl_global_init() failed\n");
            return 1;
        }
        int bad = engines_registry_check(cfg.registry, &e);
        curl_global_cleanup();
        if (bad != 0) {
            fprintf(stderr, "minilambda: configuration error: %s\n", e.msg);
            return 2;
        }
    }
    main_pool_args args = {.cfg = &cfg, .instance = instance};
    /* The checks above ran once, here: a corrupt store stops the
     * supervisor too, instead of a master that fails again and again. */
    if (strcmp(mode, "--supervise") == 0)
        return supervise_run(cfg.grace, main_pool, &args);
    return main_pool(&args);
}
