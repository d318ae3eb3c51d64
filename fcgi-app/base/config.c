#include "base/config.h"

#include "base/cidr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    CONFIG_INT,   /* int, within [lo, hi] */
    CONFIG_LLONG, /* long long, within [lo, hi] */
    CONFIG_STR,   /* char[size]; `check` may add rules */
    CONFIG_LEVEL  /* log_level by name */
} config_type;

typedef struct config_def config_def;

struct config_def {
    const char *name;
    config_type type;
    size_t offset;
    size_t size; /* CONFIG_STR: the field's size */
    /* The default as text, parsed like a value. "$MINILAMBDA_X/rest"
     * expands an earlier row's value. NULL: derived after loading. */
    const char *def;
    long long lo, hi;
    /* Extra rule for a string value; 0, or -1 with `e` filled in. */
    int (*check)(const config_def *d, const char *v, err_t *e);
    const char *help;
};

static int config_check_shm(const config_def *d, const char *v, err_t *e)
{
    if (*v != '\0' && (v[0] != '/' || strchr(v + 1, '/') != NULL || v[1] == '\0'))
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "%s must look like /name (one leading slash), not \"%.100s\"", d->name, v);
    return 0;
}

/* Addresses and CIDRs, separated by commas or spaces (nginx allow lines,
 * and the app's own check). */
static int config_check_cidrs(const config_def *d, const char *v, err_t *e)
{
    if (cidr_check(v, e) != 0)
        return err_prefix(e, "%s must list addresses or CIDRs separated by commas", d->name);
    return 0;
}

static int config_check_auth(const config_def *d, const char *v, err_t *e)
{
    if (strcmp(v, "auto") != 0 && strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "%s must be auto, on or off, not \"%.100s\"", d->name, v);
    return 0;
}

/* An AWS region's shape ("us-east-1"): it goes into ARNs as it is. */
static int config_check_region(const config_def *d, const char *v, err_t *e)
{
    size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (n == 0 || v[n] != '\0' || v[0] == '-')
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "%s must be a region name such as us-east-1, not \"%.100s\"", d->name, v);
    return 0;
}

static int config_check_onoff(const config_def *d, const char *v, err_t *e)
{
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
        return err_set(e, ERR_INVALID, "invalid_config", 0, "%s must be on or off, not \"%.100s\"",
                       d->name, v);
    return 0;
}

static int config_check_path(const config_def *d, const char *v, err_t *e)
{
    if (v[0] != '/')
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "%s must be an absolute path, not \"%.100s\"", d->name, v);
    return 0;
}

/* The init helper must exist and be executable, or warm starts could not
 * work at all: say so at start-up. */
static int config_check_init(const config_def *d, const char *v, err_t *e)
{
    if (config_check_path(d, v, e) != 0)
        return -1;
    if (access(v, X_OK) != 0)
        return err_set(e, ERR_INVALID, "invalid_config", errno, "%s: %.200s is not executable: %s",
                       d->name, v, strerror(errno));
    return 0;
}

/* Whether `s` (`len` bytes) is [A-Za-z0-9_.-]+. */
static bool config_word(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

/* Whether "host:port" (`len` bytes of `s`) has a plausible host and a
 * port 1..65535. */
static bool config_hostport(const char *s, size_t len)
{
    char buf[256];
    long long port;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *colon = strrchr(buf, ':');
    if (colon == NULL || colon == buf || !config_word(buf, (size_t)(colon - buf)))
        return false;
    return config_parse_int(colon + 1, 1, 65535, &port) == 0;
}

bool config_registry_ok(const char *v)
{
    return config_hostport(v, strlen(v));
}

/* The TLS directory must hold what the docker CLI reads from
 * DOCKER_CERT_PATH, readable now: else every call would fail later. */
static int config_tls_dir(const char *dir, int i, const char *entry, err_t *e)
{
    static const char *const files[] = {"ca.pem", "cert.pem", "key.pem"};
    char path[CONFIG_PATH_MAX + 16];
    if (dir[0] != '/')
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_ENGINES entry %d (\"%.100s\"): tls= must be an absolute "
                       "directory, not \"%.100s\"",
                       i + 1, entry, dir);
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
        if (access(path, R_OK) != 0)
            return err_set(e, ERR_INVALID, "invalid_config", errno,
                           "MINILAMBDA_ENGINES entry %d (\"%.100s\"): the TLS directory %.200s "
                           "has no readable %s (it needs ca.pem, cert.pem and key.pem): %s",
                           i + 1, entry, dir, files[f], strerror(errno));
    }
    return 0;
}

/* Parse one entry's options (after the endpoint) into `en`. */
static int config_engine_opts(const char *opts, config_engine *en, int i, const char *entry,
                              err_t *e)
{
    while (*opts == ';') {
        opts++;
        size_t len = strcspn(opts, ";");
        const char *eq = memchr(opts, '=', len);
        char val[CONFIG_PATH_MAX];
        long long w;
        size_t klen = eq ? (size_t)(eq - opts) : len;
        size_t vlen = eq ? len - klen - 1 : 0;
        if (eq == NULL || vlen == 0 || vlen >= sizeof(val))
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "MINILAMBDA_ENGINES entry %d (\"%.100s\"): an option must be "
                           "weight=N, tls=DIR or name=NAME, not \"%.*s\"",
                           i + 1, entry, (int)(len > 100 ? 100 : len), opts);
        memcpy(val, eq + 1, vlen);
        val[vlen] = '\0';
        if (klen == 6 && strncmp(opts, "weight", 6) == 0) {
            if (config_parse_int(val, 1, 1000, &w) != 0)
                return err_set(e, ERR_INVALID, "invalid_config", 0,
                               "MINILAMBDA_ENGINES entry %d (\"%.100s\"): weight must be an "
                               "integer from 1 to 1000, not \"%.40s\"",
                               i + 1, entry, val);
            en->weight = (int)w;
        } else if (klen == 3 && strncmp(opts, "tls", 3) == 0) {
            snprintf(en->tls_dir, sizeof(en->tls_dir), "%s", val);
        } else if (klen == 4 && strncmp(opts, "name", 4) == 0) {
            if (vlen >= sizeof(en->name) || !config_word(val, vlen))
                return err_set(e, ERR_INVALID, "invalid_config", 0,
                               "MINILAMBDA_ENGINES entry %d (\"%.100s\"): name must be 1-63 of "
                               "[A-Za-z0-9_.-], not \"%.70s\"",
                               i + 1, entry, val);
            memcpy(en->name, val, vlen + 1);
        } else {
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "MINILAMBDA_ENGINES entry %d (\"%.100s\"): unknown option \"%.*s\" "
                           "(weight, tls or name)",
                           i + 1, entry, (int)(klen > 40 ? 40 : klen), opts);
        }
        opts += len;
    }
    return 0;
}

/* Parse entry `i` (`entry`, NUL-terminated) into `en`. */
static int config_engine_entry(const char *entry, config_engine *en, int i, err_t *e)
{
    size_t elen = strcspn(entry, ";");
    memset(en, 0, sizeof(*en));
    en->weight = 1;
    if (elen >= sizeof(en->endpoint))
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_ENGINES entry %d (\"%.100s\"): the endpoint is too long", i + 1,
                       entry);
    memcpy(en->endpoint, entry, elen);
    en->endpoint[elen] = '\0';
    bool is_unix = strncmp(entry, "unix:///", 8) == 0 && elen > 8;
    bool is_tcp = strncmp(entry, "tcp://", 6) == 0 && config_hostport(entry + 6, elen - 6);
    if (!is_unix && !is_tcp)
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_ENGINES entry %d (\"%.100s\"): the endpoint must be "
                       "unix:///absolute/path or tcp://host:port",
                       i + 1, entry);
    if (config_engine_opts(entry + elen, en, i, entry, e) != 0)
        return -1;
    if (en->tls_dir[0] != '\0') {
        if (!is_tcp)
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "MINILAMBDA_ENGINES entry %d (\"%.100s\"): tls= applies to tcp:// "
                           "engines only",
                           i + 1, entry);
        if (config_tls_dir(en->tls_dir, i, entry, e) != 0)
            return -1;
    }
    if (en->name[0] == '\0')
        snprintf(en->name, sizeof(en->name), "%.63s", en->endpoint);
    return 0;
}

int config_parse_engines(const char *spec, config_engine *out, int *n, err_t *e)
{
    static const char *const seps = ", \t\n";
    char entry[CONFIG_PATH_MAX + 512];
    *n = 0;
    for (const char *p = spec + strspn(spec, seps); *p != '\0'; p += strspn(p, seps)) {
        size_t len = strcspn(p, seps);
        if (*n == CONFIG_ENGINES_MAX)
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "MINILAMBDA_ENGINES lists more than %d engines", CONFIG_ENGINES_MAX);
        if (len >= sizeof(entry))
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "MINILAMBDA_ENGINES entry %d is too long", *n + 1);
        memcpy(entry, p, len);
        entry[len] = '\0';
        if (config_engine_entry(entry, &out[*n], *n, e) != 0)
            return -1;
        for (int j = 0; j < *n; j++)
            if (strcmp(out[j].endpoint, out[*n].endpoint) == 0 ||
                strcmp(out[j].name, out[*n].name) == 0)
                return err_set(e, ERR_INVALID, "invalid_config", 0,
                               "MINILAMBDA_ENGINES entry %d (\"%.100s\") repeats entry %d's "
                               "endpoint or name",
                               *n + 1, entry, j + 1);
        (*n)++;
        p += len;
    }
    if (*n == 0)
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_ENGINES lists no engine (unset it for DOCKER_HOST alone)");
    return 0;
}

static int config_check_engines(const config_def *d, const char *v, err_t *e)
{
    config_engine list[CONFIG_ENGINES_MAX];
    int n;
    (void)d;
    return *v == '\0' ? 0 : config_parse_engines(v, list, &n, e);
}

static int config_check_registry(const config_def *d, const char *v, err_t *e)
{
    if (*v != '\0' && !config_registry_ok(v))
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "%s must be host:port of a Docker registry, not \"%.100s\"", d->name, v);
    return 0;
}

#define F(field) offsetof(config_t, field), sizeof(((config_t *)0)->field)

static const config_def config_table[] = {
    {"MINILAMBDA_PORT", CONFIG_INT, F(port), "8300", 1, 65535, NULL, "HTTP port nginx listens on"},
    {"MINILAMBDA_BIND", CONFIG_STR, F(bind), "127.0.0.1", 0, 0, NULL,
     "address nginx listens on (0.0.0.0 for every interface)"},
    {"MINILAMBDA_DATA_DIR", CONFIG_STR, F(data_dir), "/var/lib/minilambda", 0, 0, config_check_path,
     "functions.json, its lock file and invocation records"},
    {"MINILAMBDA_RUN_DIR", CONFIG_STR, F(run_dir), "/run/minilambda", 0, 0, config_check_path,
     "sockets, pids, logs, rendered nginx config"},
    {"MINILAMBDA_SOCKET", CONFIG_STR, F(socket), "$MINILAMBDA_RUN_DIR/minilambda.sock", 0, 0,
     config_check_path, "control-plane FastCGI socket"},
    {"MINILAMBDA_INVOKE_SOCKET", CONFIG_STR, F(invoke_socket),
     "$MINILAMBDA_RUN_DIR/minilambda-invoke.sock", 0, 0, config_check_path,
     "invoke FastCGI socket"},
    {"MINILAMBDA_WORKERS", CONFIG_INT, F(workers), "2", 1, 64, NULL, "worker processes"},
    {"MINILAMBDA_THREADS", CONFIG_INT, F(threads), "16", 1, 256, NULL, "invoke threads per worker"},
    {"MINILAMBDA_CONTROL_THREADS", CONFIG_INT, F(control_threads), "4", 1, 64, NULL,
     "control-plane threads per worker"},
    {"MINILAMBDA_MAX_CONCURRENCY", CONFIG_INT, F(max_concurrency), NULL, 1, 64 * 256, NULL,
     "invocations running at once across all workers (default and most: workers x threads)"},
    {"MINILAMBDA_JANITOR_INTERVAL", CONFIG_INT, F(janitor_interval), "30", 1, 3600, NULL,
     "seconds between sweeps for leftover containers"},
    {"MINILAMBDA_GRACE", CONFIG_INT, F(grace), "30", 0, 3600, NULL,
     "seconds in-flight requests get to finish on stop"},
    {"MINILAMBDA_ASYNC_WORKERS", CONFIG_INT, F(async_workers), "4", 0, 64, NULL,
     "async executor processes (0 disables async execution)"},
    {"MINILAMBDA_ASYNC_MAX_PENDING", CONFIG_LLONG, F(async_max_pending), "100000", 1, INT64_MAX,
     NULL, "queued async invocations at most; past it POST .../async answers 429 queue_full"},
    {"MINILAMBDA_RETRY_BASE_MS", CONFIG_LLONG, F(retry_base_ms), "1000", 1, 3600000, NULL,
     "first retry delay of an async invocation; doubles each attempt"},
    {"MINILAMBDA_INVOCATION_RETENTION", CONFIG_LLONG, F(retention), "86400", 1, 365 * 86400, NULL,
     "seconds a finished invocation record (sync or async) is kept"},
    {"MINILAMBDA_RECORDS", CONFIG_STR, F(records), "on", 0, 0, config_check_onoff,
     "on: every synchronous call leaves a record (GET /invocations/{id}); off: only async ones"},
    {"MINILAMBDA_RECORD_OUTPUT_MAX", CONFIG_LLONG, F(record_output_max), "65536", 0, 6291456, NULL,
     "bytes of stdout, and of stderr, a synchronous call's record keeps (the rest is cut, "
     "truncated: true)"},
    {"MINILAMBDA_RECORDS_PER_FUNCTION", CONFIG_LLONG, F(records_per_function), "10000", 1,
     1000000000, NULL,
     "newest records kept per function, sync ones and finished async ones each; older ones "
     "are pruned"},
    {"MINILAMBDA_RECORDS_MAX_BYTES", CONFIG_LLONG, F(records_max_bytes), "1073741824", 65536,
     INT64_MAX, NULL,
     "bytes sync records may take on disk, and finished async ones as much; past it the "
     "janitor prunes the oldest"},
    {"MINILAMBDA_MAX_IMAGE_BYTES", CONFIG_LLONG, F(max_image_bytes), "4294967296", 1, INT64_MAX,
     NULL, "largest image upload in bytes (nginx and the app)"},
    {"MINILAMBDA_METRICS_SHM", CONFIG_STR, F(metrics_shm), "", 0, 0, config_check_shm,
     "name of the metrics shared-memory segment; empty: /minilambda-<instance>"},
    {"MINILAMBDA_METRICS_SLOTS", CONFIG_INT, F(metrics_slots), "1024", 1, 1 << 20, NULL,
     "functions with their own series; more count as _overflow"},
    {"MINILAMBDA_METRICS_ALLOW", CONFIG_STR, F(metrics_allow), "", 0, 0, config_check_cidrs,
     "CIDRs allowed to read /metrics, e.g. 10.0.0.0/8,127.0.0.1; empty: anyone"},
    {"MINILAMBDA_METRICS_RECLAIM", CONFIG_INT, F(metrics_reclaim), "300", 0, 86400, NULL,
     "seconds a deleted function's series stay before its slot may serve another"},
    {"MINILAMBDA_AUTH", CONFIG_STR, F(auth), "auto", 0, 0, config_check_auth,
     "API keys: auto (required unless nginx binds loopback only), on, or off (loopback only)"},
    {"MINILAMBDA_AUTH_FAILURES", CONFIG_INT, F(auth_failures), "20", 1, 1000000, NULL,
     "failed key checks a minute from one address before it gets 429"},
    {"MINILAMBDA_TRUSTED_PROXIES", CONFIG_STR, F(trusted_proxies), "", 0, 0, config_check_cidrs,
     "CIDRs of proxies in front of nginx whose X-Forwarded-For names the client for the "
     "failed-key limit; empty: none, the peer's address counts"},
    {"MINILAMBDA_REGION", CONFIG_STR, F(region), "us-east-1", 0, 0, config_check_region,
     "the region the Lambda API names in ARNs and functions see as AWS_REGION (any region a "
     "client signs for is accepted)"},
    {"MINILAMBDA_MAX_UPLOADS", CONFIG_INT, F(max_uploads), "2", 1, 64, NULL,
     "image uploads at once, across all workers; more get 429 (a key may hold half, at least 1)"},
    {"MINILAMBDA_UPLOADS_PER_ADDRESS", CONFIG_INT, F(uploads_per_address), "0", 0, 64, NULL,
     "image uploads at once from one client address; more get 429 (0: half of "
     "MINILAMBDA_MAX_UPLOADS, at least 1)"},
    {"MINILAMBDA_UPLOAD_MIN_RATE", CONFIG_LLONG, F(upload_min_rate), "65536", 0, INT64_MAX, NULL,
     "bytes per second an upload must average over each window, or 408 (0: no minimum)"},
    {"MINILAMBDA_UPLOAD_RATE_WINDOW", CONFIG_INT, F(upload_rate_window), "30", 1, 3600, NULL,
     "seconds over which the upload rate is measured"},
    {"MINILAMBDA_MAX_IMAGE_UNPACKED_BYTES", CONFIG_LLONG, F(max_unpacked_bytes), NULL, 1, INT64_MAX,
     NULL,
     "largest unpacked size of an uploaded image, compressed layers inflated (default 8 x "
     "MINILAMBDA_MAX_IMAGE_BYTES)"},
    {"MINILAMBDA_MAX_FUNCTIONS", CONFIG_INT, F(max_functions), "10000", 1, 1000000, NULL,
     "registered functions at most"},
    {"MINILAMBDA_MIN_FREE_BYTES", CONFIG_LLONG, F(min_free_bytes), "104857600", 0, INT64_MAX, NULL,
     "free space the data dir's file system needs for /healthz to say ok"},
    {"MINILAMBDA_WARM_IDLE", CONFIG_INT, F(warm_idle), "300", 0, 86400, NULL,
     "seconds a called function keeps a warm container after its last call (0: none)"},
    {"MINILAMBDA_WARM_MAX", CONFIG_INT, F(warm_max), "32", 0, CONFIG_WARM_MAX, NULL,
     "warm containers at most, all functions together (0: no warm starts)"},
    {"MINILAMBDA_INIT", CONFIG_STR, F(init), NULL, 0, 0, config_check_init,
     "minilambda-init, mounted into warm containers (default: next to the binary, else "
     "installed)"},
    {"MINILAMBDA_ENGINES", CONFIG_STR, F(engines), "", 0, 0, config_check_engines,
     "Docker engines to place calls on: ENDPOINT[;weight=N][;tls=DIR][;name=NAME], comma "
     "separated (empty: DOCKER_HOST alone)"},
    {"MINILAMBDA_REGISTRY", CONFIG_STR, F(registry), "", 0, 0, config_check_registry,
     "host:port of a Docker registry: uploads are pushed there, engines pull on first use"},
    {"MINILAMBDA_IDEMPOTENCY_MAX_BYTES", CONFIG_LLONG, F(idempotency_max_bytes), "268435456", 65536,
     INT64_MAX, NULL,
     "bytes the Idempotency-Key records may take on disk; past it a new key is 507"},
    {"MINILAMBDA_IDEMPOTENCY_KEY_MAX_BYTES", CONFIG_LLONG, F(idempotency_key_max_bytes), NULL, 8192,
     INT64_MAX, NULL,
     "bytes the Idempotency-Key records of one API key may take (default a quarter of "
     "MINILAMBDA_IDEMPOTENCY_MAX_BYTES, at most all of it); past it that key's new key is 507"},
    {"MINILAMBDA_LOG_LEVEL", CONFIG_LEVEL, F(level), "info", 0, 0, NULL,
     "error, warn, info or debug"},
};

#undef F

#define CONFIG_ROWS (sizeof(config_table) / sizeof(config_table[0]))

int config_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL || !((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const config_def *config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CONFIG_ROWS; i++)
        if (strlen(config_table[i].name) == len && strncmp(config_table[i].name, name, len) == 0)
            return &config_table[i];
    return NULL;
}

/* Expand a default's leading "$NAME" from the already loaded `c`. */
static int config_expand(const config_t *c, const char *def, char *out, size_t outlen)
{
    if (def[0] != '$')
        return snprintf(out, outlen, "%s", def) < (int)outlen ? 0 : -1;
    size_t len = strcspn(def + 1, "/");
    const config_def *ref = config_find(def + 1, len);
    if (ref == NULL || ref->type != CONFIG_STR)
        return -1;
    int n = snprintf(out, outlen, "%s%s", (const char *)c + ref->offset, def + 1 + len);
    return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

/* Parse `v` into the row's field of `c`. */
static int config_set(config_t *c, const config_def *d, const char *v, err_t *e)
{
    char *field = (char *)c + d->offset;
    long long n;
    switch (d->type) {
    case CONFIG_INT:
    case CONFIG_LLONG:
        if (config_parse_int(v, d->lo, d->hi, &n) != 0)
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "%s must be an integer from %lld to %lld, not \"%.100s\"", d->name,
                           d->lo, d->hi, v);
        if (d->type == CONFIG_INT)
            *(int *)field = (int)n;
        else
            *(long long *)field = n;
        return 0;
    case CONFIG_STR:
        if (strlen(v) >= d->size)
            return err_set(e, ERR_INVALID, "invalid_config", 0, "%s is longer than %zu bytes",
                           d->name, d->size - 1);
        if (d->check != NULL && d->check(d, v, e) != 0)
            return -1;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case CONFIG_LEVEL:
        if (log_parse_level(v, (log_level *)field) == 0)
            return 0;
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "%s must be error, warn, info or debug, not \"%.100s\"", d->name, v);
    }
    return err_set(e, ERR_INTERNAL, NULL, 0, "%s: unknown setting type", d->name);
}

/* Whether nginx's listen address is loopback only. */
static bool config_loopback(const char *bind)
{
    return strncmp(bind, "127.", 4) == 0 || strcmp(bind, "localhost") == 0 ||
           strcmp(bind, "::1") == 0 || strcmp(bind, "[::1]") == 0;
}

/* Where minilambda-init is when MINILAMBDA_INIT is not set: beside this
 * binary (a build tree), else where `make install` puts it. Left empty
 * when neither exists: warm starts are then off, cold ones work. */
static void config_default_init(config_t *c)
{
    char self[CONFIG_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            int w = snprintf(c->init, sizeof(c->init), "%s/minilambda-init", self);
            if (w > 0 && (size_t)w < sizeof(c->init) && access(c->init, X_OK) == 0)
                return;
        }
    }
    int w = snprintf(c->init, sizeof(c->init), "%s/minilambda-init", ML_PKGLIBEXECDIR);
    if (w <= 0 || (size_t)w >= sizeof(c->init) || access(c->init, X_OK) != 0)
        c->init[0] = '\0';
}

/* Derive whether keys are required, and refuse "off" on a reachable bind. */
static int config_auth(config_t *c, err_t *e)
{
    c->loopback_only = config_loopback(c->bind);
    if (strcmp(c->auth, "off") == 0 && !c->loopback_only)
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_AUTH=off needs MINILAMBDA_BIND on loopback (127.0.0.1 or ::1), "
                       "not \"%s\": anyone who reaches the port could do anything",
                       c->bind);
    c->auth_required =
        strcmp(c->auth, "on") == 0 || (strcmp(c->auth, "auto") == 0 && !c->loopback_only);
    return 0;
}

int config_load(config_t *c, err_t *e)
{
    char def[CONFIG_PATH_MAX + 64];
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        const config_def *d = &config_table[i];
        const char *v = getenv(d->name);
        if (v == NULL || *v == '\0') {
            if (d->def == NULL)
                continue;
            if (config_expand(c, d->def, def, sizeof(def)) != 0)
                return err_set(e, ERR_INVALID, "invalid_config", 0,
                               "%s: its default \"%s\" does not fit", d->name, d->def);
            v = def;
        }
        if (config_set(c, d, v, e) != 0)
            return -1;
    }
    /* More slots than invoke threads would only queue requests in the
     * socket backlog, which the contract forbids: the thread count is the
     * default and the ceiling. */
    int threads = c->workers * c->threads;
    if (c->max_concurrency == 0 || c->max_concurrency > threads) {
        if (c->max_concurrency > threads)
            return err_set(e, ERR_INVALID, "invalid_config", 0,
                           "MINILAMBDA_MAX_CONCURRENCY must be an integer from 1 to %d "
                           "(workers x threads), not \"%d\"",
                           threads, c->max_concurrency);
        c->max_concurrency = threads;
    }
    if (c->max_unpacked_bytes == 0)
        c->max_unpacked_bytes =
            c->max_image_bytes > INT64_MAX / 8 ? INT64_MAX : c->max_image_bytes * 8;
    /* One key's share: a quarter of the whole, so that one key filling
     * its own leaves room for others. */
    if (c->idempotency_key_max_bytes == 0)
        c->idempotency_key_max_bytes = c->idempotency_max_bytes / 4;
    if (c->idempotency_key_max_bytes > c->idempotency_max_bytes)
        c->idempotency_key_max_bytes = c->idempotency_max_bytes;
    if (c->init[0] == '\0')
        config_default_init(c);
    if (c->engines[0] != '\0' && config_parse_engines(c->engines, c->engine, &c->nengines, e) != 0)
        return -1;
    int n = snprintf(c->keeper_socket, sizeof(c->keeper_socket), "%s/keeper.sock", c->run_dir);
    if (n < 0 || (size_t)n >= 108)
        return err_set(e, ERR_INVALID, "invalid_config", 0,
                       "MINILAMBDA_RUN_DIR is too long for a unix socket path: \"%.100s\"",
                       c->run_dir);
    return config_auth(c, e);
}

/* Write `s` single-quoted for a POSIX shell. */
static void config_quote(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

void config_print(const config_t *c, FILE *out)
{
    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        const config_def *d = &config_table[i];
        const char *field = (const char *)c + d->offset;
        char num[32];
        const char *v = num;
        switch (d->type) {
        case CONFIG_INT:
            snprintf(num, sizeof(num), "%d", *(const int *)field);
            break;
        case CONFIG_LLONG:
            snprintf(num, sizeof(num), "%lld", *(const long long *)field);
            break;
        case CONFIG_STR:
            v = field;
            break;
        case CONFIG_LEVEL:
            v = log_level_name(*(const log_level *)field);
            break;
        }
        fprintf(out, "%s=", d->name);
        config_quote(out, v);
        fputc('\n', out);
    }
}

void config_usage(FILE *out)
{
    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        const config_def *d = &config_table[i];
        fprintf(out, "  %-32s %s (default: %s)\n", d->name, d->help,
                d->def == NULL    ? "derived"
                : *d->def == '\0' ? "empty"
                                  : d->def);
    }
}
