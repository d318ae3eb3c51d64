/*
 * minilambda-fcgi: the FastCGI pool behind nginx. Reads its configuration
 * from MINILAMBDA_* variables, checks the function store, and runs the
 * master/worker pool until SIGTERM or SIGINT.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "store.h"

/* Name this instance by its data dir, so two platforms side by side never
 * sweep each other's containers, and a restart finds its own leftovers. */
static void main_instance(const char *data_dir, char *out, size_t outlen)
{
    char real[PATH_MAX];
    const char *p = realpath(data_dir, real) ? real : data_dir;
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    snprintf(out, outlen, "%016llx", (unsigned long long)h);
}

int main(int argc, char **argv)
{
    config_t cfg;
    char err[512], instance[24];

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s\nConfigured by MINILAMBDA_* environment variables; see README.md.\n",
               argv[0]);
        return 0;
    }
    if (config_load(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "minilambda: configuration error: %s\n", err);
        return 2;
    }
    log_set_level(cfg.level);
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(cfg.run_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "minilambda: mkdir(%s) failed: %s\n", cfg.run_dir, strerror(errno));
        return 1;
    }
    store_t *store = store_open(cfg.data_dir, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr,
                "minilambda: cannot start: %s\n"
                "minilambda: the file was left untouched; fix or move it and start again\n",
                err);
        return 1;
    }
    store_close(store);
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fprintf(stderr, "minilambda: curl_global_init() failed\n");
        return 1;
    }
    main_instance(cfg.data_dir, instance, sizeof(instance));
    int rc = pool_run(&cfg, instance);
    curl_global_cleanup();
    return rc;
}
