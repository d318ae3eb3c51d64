/*
 * config: every setting the pool reads, from MINILAMBDA_* environment
 * variables with the defaults documented in README.md.
 */
#ifndef MINILAMBDA_CONFIG_H
#define MINILAMBDA_CONFIG_H

#include <stddef.h>

#include "log.h"

#define CONFIG_PATH_MAX 512

typedef struct {
    char data_dir[CONFIG_PATH_MAX];      /* MINILAMBDA_DATA_DIR */
    char run_dir[CONFIG_PATH_MAX];       /* MINILAMBDA_RUN_DIR */
    char socket[CONFIG_PATH_MAX];        /* MINILAMBDA_SOCKET: control plane */
    char invoke_socket[CONFIG_PATH_MAX]; /* MINILAMBDA_INVOKE_SOCKET */
    int workers;                         /* MINILAMBDA_WORKERS */
    int threads;                         /* MINILAMBDA_THREADS: invoke threads per worker */
    int control_threads;                 /* MINILAMBDA_CONTROL_THREADS */
    int max_concurrency;                 /* MINILAMBDA_MAX_CONCURRENCY */
    int janitor_interval;                /* MINILAMBDA_JANITOR_INTERVAL, seconds */
    int grace;                           /* MINILAMBDA_GRACE, seconds */
    int async_workers;                   /* MINILAMBDA_ASYNC_WORKERS */
    long retry_base_ms;                  /* MINILAMBDA_RETRY_BASE_MS */
    long retention;                      /* MINILAMBDA_INVOCATION_RETENTION, seconds */
    unsigned long long max_image_bytes;  /* MINILAMBDA_MAX_IMAGE_BYTES: POST /images body */
    char metrics_shm[128];               /* MINILAMBDA_METRICS_SHM; "" = derived */
    int metrics_slots;                   /* MINILAMBDA_METRICS_SLOTS */
    log_level level;                     /* MINILAMBDA_LOG_LEVEL */
} config_t;

/* MINILAMBDA_MAX_IMAGE_BYTES when unset: 4 GiB (scripts/lib.sh renders the
 * same default into nginx's client_max_body_size). */
#define CONFIG_MAX_IMAGE_BYTES 4294967296ULL

/* Fill `c` from the environment. Returns 0, or -1 with a sentence naming the
 * bad variable in `err` (and `c` partly filled). */
int config_load(config_t *c, char *err, size_t errlen);

/* Parse a whole decimal integer in [lo, hi]. Returns 0, or -1 (`*out`
 * untouched) for empty text, trailing garbage or a value out of range. */
int config_parse_int(const char *s, long lo, long hi, long *out);

#endif
