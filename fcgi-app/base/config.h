/*
 * config: every setting, as one table of MINILAMBDA_* variables with their
 * types, bounds, defaults and a line of help. The pool reads it from the
 * environment; the scripts ask the binary for the effective values
 * (`minilambda-fcgi --print-config`) instead of restating the defaults.
 *
 * A new setting is one row in config.c plus its field here.
 */
#ifndef MINILAMBDA_CONFIG_H
#define MINILAMBDA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"

#define CONFIG_PATH_MAX 512

/* The most MINILAMBDA_WARM_MAX may be: the keeper's table is this big. */
#define CONFIG_WARM_MAX 256

/* The most engines MINILAMBDA_ENGINES may list. */
#define CONFIG_ENGINES_MAX 16

/* One entry of MINILAMBDA_ENGINES. */
typedef struct {
    char endpoint[256];            /* "unix:///path" or "tcp://host:port" */
    char name[64];                 /* its `engine` label: name=, else the endpoint */
    char tls_dir[CONFIG_PATH_MAX]; /* ca.pem, cert.pem, key.pem; "" without TLS */
    int weight;                    /* 1..1000, default 1 */
} config_engine;

typedef struct {
    int port;                            /* MINILAMBDA_PORT: nginx's, for the scripts */
    char bind[64];                       /* MINILAMBDA_BIND: nginx's listen address */
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
    long long async_max_pending;         /* MINILAMBDA_ASYNC_MAX_PENDING */
    long long retry_base_ms;             /* MINILAMBDA_RETRY_BASE_MS */
    long long retention;                 /* MINILAMBDA_INVOCATION_RETENTION, seconds */
    char records[8];                     /* MINILAMBDA_RECORDS: on or off */
    long long record_output_max;         /* MINILAMBDA_RECORD_OUTPUT_MAX, bytes each */
    long long records_per_function;      /* MINILAMBDA_RECORDS_PER_FUNCTION */
    long long records_max_bytes;         /* MINILAMBDA_RECORDS_MAX_BYTES */
    long long max_image_bytes;           /* MINILAMBDA_MAX_IMAGE_BYTES: POST /images body */
    char metrics_shm[128];               /* MINILAMBDA_METRICS_SHM; "" = derived */
    int metrics_slots;                   /* MINILAMBDA_METRICS_SLOTS */
    char metrics_allow[1024];            /* MINILAMBDA_METRICS_ALLOW: CIDRs, "" = open */
    int metrics_reclaim;                 /* MINILAMBDA_METRICS_RECLAIM, seconds */
    log_level level;                     /* MINILAMBDA_LOG_LEVEL */
    char auth[8];                        /* MINILAMBDA_AUTH: auto, on or off */
    int auth_failures;                   /* MINILAMBDA_AUTH_FAILURES: per address a minute */
    char trusted_proxies[1024];          /* MINILAMBDA_TRUSTED_PROXIES: CIDRs, "" = none */
    char region[32];                     /* MINILAMBDA_REGION: the Lambda API's region */
    int max_uploads;                     /* MINILAMBDA_MAX_UPLOADS: at once, all workers */
    int uploads_per_address;             /* MINILAMBDA_UPLOADS_PER_ADDRESS (0: half the above) */
    long long upload_min_rate;           /* MINILAMBDA_UPLOAD_MIN_RATE, bytes/s; 0 off */
    int upload_rate_window;              /* MINILAMBDA_UPLOAD_RATE_WINDOW, seconds */
    long long max_unpacked_bytes;        /* MINILAMBDA_MAX_IMAGE_UNPACKED_BYTES */
    int max_functions;                   /* MINILAMBDA_MAX_FUNCTIONS */
    long long min_free_bytes;            /* MINILAMBDA_MIN_FREE_BYTES: for /healthz */
    int warm_idle;                       /* MINILAMBDA_WARM_IDLE, seconds */
    int warm_max;                        /* MINILAMBDA_WARM_MAX: warm containers at most */
    char init[CONFIG_PATH_MAX];          /* MINILAMBDA_INIT; "" when none: no warm starts */
    char engines[4096];                  /* MINILAMBDA_ENGINES; "" = DOCKER_HOST alone */
    char registry[256];                  /* MINILAMBDA_REGISTRY: host:port, or "" */
    long long idempotency_max_bytes;     /* MINILAMBDA_IDEMPOTENCY_MAX_BYTES */
    long long idempotency_key_max_bytes; /* MINILAMBDA_IDEMPOTENCY_KEY_MAX_BYTES: one key's share */
    /* Derived: */
    bool loopback_only;                       /* nginx binds a loopback address only */
    bool auth_required;                       /* every route but the open ones needs a key */
    char keeper_socket[CONFIG_PATH_MAX + 16]; /* $MINILAMBDA_RUN_DIR/keeper.sock */
    int nengines;                             /* entries of MINILAMBDA_ENGINES, 0 when unset */
    config_engine engine[CONFIG_ENGINES_MAX]; /* [nengines] */
} config_t;

/*
 * Fill `c` from the environment: each variable that is set and not empty is
 * parsed and checked against its row, the others take the default. Returns
 * 0, or -1 with `e` (ERR_INVALID) naming the variable and the rule it broke.
 */
int config_load(config_t *c, err_t *e);

/* Print the effective value of every setting as shell assignments
 * (NAME='value', single-quoted), one per line, for the scripts to eval. */
void config_print(const config_t *c, FILE *out);

/* Print every setting with its default and help, for --help. */
void config_usage(FILE *out);

/*
 * Parse a MINILAMBDA_ENGINES value: entries separated by commas or
 * whitespace, each "ENDPOINT[;weight=N][;tls=DIR][;name=NAME]" with
 * ENDPOINT unix:///absolute/path or tcp://host:port, N 1..1000, DIR
 * holding ca.pem, cert.pem and key.pem (tcp only) and NAME
 * [A-Za-z0-9_.-]{1,63}. Fills out[0 .. *n-1] (at most CONFIG_ENGINES_MAX).
 * Returns 0, or -1 with `e` (ERR_INVALID) naming the entry and its fault.
 */
int config_parse_engines(const char *spec, config_engine *out, int *n, err_t *e);

/* Whether `v` is a registry address: host:port (a name or IPv4 address,
 * port 1..65535). */
bool config_registry_ok(const char *v);

/* Parse a whole decimal integer in [lo, hi]. Returns 0, or -1 (`*out`
 * untouched) for empty text, signs or spaces where digits belong, trailing
 * garbage or a value out of range. */
int config_parse_int(const char *s, long long lo, long long hi, long long *out);

#endif
