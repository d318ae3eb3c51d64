/*
 * minilambda-fcgi: the FastCGI pool behind nginx. Reads its configuration
 * from MINILAMBDA_* variables (config.c's table), checks the function
 * store, and runs the master/worker pool until SIGTERM or SIGINT.
 *
 *   --print-config  the effective settings as shell assignments
 *   --print-nginx   nginx location blocks rendered from the route table
 */
#include <curl/curl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"
#include "config.h"
#include "engines.h"
#include "err.h"
#include "files.h"
#include "keys.h"
#include "log.h"
#include "pool.h"
#include "route.h"
#include "store.h"

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

static void main_usage(const char *argv0)
{
    printf("usage: %s [--print-config | --print-nginx | --help]\n"
           "Configured by these environment variables (see README.md):\n",
           argv0);
    config_usage(stdout);
}

int main(int argc, char **argv)
{
    config_t cfg;
    err_t e;
    char instance[24];
    const char *mode = argc > 1 ? argv[1] : "";

    if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0) {
        main_usage(argv[0]);
        return 0;
    }
    if (*mode != '\0' && strcmp(mode, "--print-config") != 0 &&
        strcmp(mode, "--print-nginx") != 0) {
        fprintf(stderr, "minilambda: unknown argument \"%s\"; see --help\n", mode);
        return 2;
    }
    if (config_load(&cfg, &e) != 0) {
        fprintf(stderr, "minilambda: configuration error: %s\n", e.msg);
        return 2;
    }
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
    log_set_level(cfg.level);
    signal(SIGPIPE, SIG_IGN);
    if (files_mkdir(cfg.run_dir, &e) != 0) {
        fprintf(stderr, "minilambda: %s\n", e.msg);
        return 1;
    }
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
    if (cfg.auth_required && main_admin_key(&cfg) != 0)
        return 1;
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fprintf(stderr, "minilambda: curl_global_init() failed\n");
        return 1;
    }
    if (cfg.registry[0] != '\0' && engines_registry_check(cfg.registry, &e) != 0) {
        fprintf(stderr, "minilambda: configuration error: %s\n", e.msg);
        curl_global_cleanup();
        return 2;
    }
    main_instance(cfg.data_dir, instance, sizeof(instance));
    int rc = pool_run(&cfg, instance);
    curl_global_cleanup();
    return rc;
}
