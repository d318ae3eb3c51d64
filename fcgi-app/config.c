#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_parse_int(const char *s, long lo, long hi, long *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int config_int(const char *name, long def, long lo, long hi, int *out, char *err,
                      size_t errlen)
{
    const char *s = getenv(name);
    long v = def;
    if (s != NULL && *s != '\0' && config_parse_int(s, lo, hi, &v) != 0) {
        snprintf(err, errlen, "%s must be an integer from %ld to %ld, not \"%s\"", name, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A byte count: digits only (strtoull alone would take a sign or
 * spaces), at least 1. */
static int config_bytes(const char *name, unsigned long long def, unsigned long long *out,
                        char *err, size_t errlen)
{
    const char *s = getenv(name);
    char *end;
    *out = def;
    if (s == NULL || *s == '\0')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || errno != 0 || *end != '\0' || v == 0) {
        snprintf(err, errlen, "%s must be a number of bytes (at least 1), not \"%s\"", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int config_path(const char *name, const char *def_dir, const char *def_file, char *out,
                       char *err, size_t errlen)
{
    const char *s = getenv(name);
    int n;
    if (s != NULL && *s != '\0')
        n = snprintf(out, CONFIG_PATH_MAX, "%s", s);
    else if (def_file != NULL)
        n = snprintf(out, CONFIG_PATH_MAX, "%s/%s", def_dir, def_file);
    else
        n = snprintf(out, CONFIG_PATH_MAX, "%s", def_dir);
    if (n < 0 || n >= CONFIG_PATH_MAX) {
        snprintf(err, errlen, "%s is longer than %d bytes", name, CONFIG_PATH_MAX - 1);
        return -1;
    }
    return 0;
}

int config_load(config_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (config_path("MINILAMBDA_DATA_DIR", "/var/lib/minilambda", NULL, c->data_dir, err, errlen) !=
            0 ||
        config_path("MINILAMBDA_RUN_DIR", "/run/minilambda", NULL, c->run_dir, err, errlen) != 0 ||
        config_path("MINILAMBDA_SOCKET", c->run_dir, "minilambda.sock", c->socket, err, errlen) !=
            0 ||
        config_path("MINILAMBDA_INVOKE_SOCKET", c->run_dir, "minilambda-invoke.sock",
                    c->invoke_socket, err, errlen) != 0)
        return -1;

    if (config_int("MINILAMBDA_WORKERS", 2, 1, 64, &c->workers, err, errlen) != 0 ||
        config_int("MINILAMBDA_THREADS", 16, 1, 256, &c->threads, err, errlen) != 0 ||
        config_int("MINILAMBDA_CONTROL_THREADS", 4, 1, 64, &c->control_threads, err, errlen) != 0 ||
        config_int("MINILAMBDA_JANITOR_INTERVAL", 30, 1, 3600, &c->janitor_interval, err, errlen) !=
            0 ||
        config_int("MINILAMBDA_GRACE", 30, 0, 3600, &c->grace, err, errlen) != 0 ||
        config_int("MINILAMBDA_METRICS_SLOTS", 1024, 1, 1 << 20, &c->metrics_slots, err, errlen) !=
            0 ||
        config_int("MINILAMBDA_ASYNC_WORKERS", 4, 0, 64, &c->async_workers, err, errlen) != 0)
        return -1;
    int base, keep;
    if (config_int("MINILAMBDA_RETRY_BASE_MS", 1000, 1, 3600000, &base, err, errlen) != 0 ||
        config_int("MINILAMBDA_INVOCATION_RETENTION", 86400, 1, 365 * 86400, &keep, err, errlen) !=
            0)
        return -1;
    c->retry_base_ms = base;
    c->retention = keep;
    if (config_bytes("MINILAMBDA_MAX_IMAGE_BYTES", CONFIG_MAX_IMAGE_BYTES, &c->max_image_bytes, err,
                     errlen) != 0)
        return -1;
    const char *shm = getenv("MINILAMBDA_METRICS_SHM");
    if (shm != NULL && *shm != '\0') {
        int n = snprintf(c->metrics_shm, sizeof(c->metrics_shm), "%s", shm);
        if (shm[0] != '/' || strchr(shm + 1, '/') != NULL || n >= (int)sizeof(c->metrics_shm)) {
            snprintf(err, errlen,
                     "MINILAMBDA_METRICS_SHM must look like /name (one slash, at most 127 bytes)");
            return -1;
        }
    }

    /* More slots than invoke threads would only queue requests in the
     * socket backlog, which the contract forbids: cap at the thread count. */
    int slots = c->workers * c->threads;
    if (config_int("MINILAMBDA_MAX_CONCURRENCY", slots, 1, slots, &c->max_concurrency, err,
                   errlen) != 0)
        return -1;

    c->level = LOG_INFO;
    const char *lv = getenv("MINILAMBDA_LOG_LEVEL");
    if (lv != NULL && *lv != '\0' && log_parse_level(lv, &c->level) != 0) {
        snprintf(err, errlen, "MINILAMBDA_LOG_LEVEL must be error, warn, info or debug, not \"%s\"",
                 lv);
        return -1;
    }
    return 0;
}
