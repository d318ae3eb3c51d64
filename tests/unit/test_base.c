/*
 * Unit tests for the base modules: the error value and its one table, the
 * clock, the file helpers (atomic write, read, lock), the settings table and
 * the outcome table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "base/files.h"
#include "state/status.h"

static void test_err_table(void **state)
{
    err_t e;
    (void)state;
    static const struct {
        err_kind kind;
        int status;
        const char *code;
    } rows[] = {
        {ERR_INVALID, 400, "invalid_request"},
        {ERR_NOT_FOUND, 404, "not_found"},
        {ERR_METHOD, 405, "method_not_allowed"},
        {ERR_CONFLICT, 409, "conflict"},
        {ERR_TOO_LARGE, 413, "payload_too_large"},
        {ERR_UNSUPPORTED, 415, "unsupported_media_type"},
        {ERR_UNPROCESSABLE, 422, "unprocessable"},
        {ERR_STORAGE_FULL, 507, "storage_full"},
        {ERR_STORAGE, 500, "storage_error"},
        {ERR_CORRUPT, 503, "store_corrupt"},
        {ERR_NOMEM, 503, "out_of_memory"},
        {ERR_ENGINE_UNREACHABLE, 503, "engine_unreachable"},
        {ERR_ENGINE_TIMEOUT, 504, "engine_timeout"},
        {ERR_ENGINE, 502, "engine_error"},
        {ERR_INTERNAL, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(err_set(&e, rows[i].kind, NULL, 0, "x %d", 1), -1);
        assert_int_equal(err_status(&e), rows[i].status);
        assert_string_equal(err_code(&e), rows[i].code);
        assert_string_equal(e.msg, "x 1");
    }
    /* A specific code overrides the kind's word, not its status. */
    err_set(&e, ERR_INVALID, "invalid_name", 0, "bad");
    assert_string_equal(err_code(&e), "invalid_name");
    assert_int_equal(err_status(&e), 400);
    err_clear(&e);
    assert_int_equal(e.kind, ERR_NONE);
    assert_int_equal(err_status(&e), 500);
}

static void test_err_sys(void **state)
{
    err_t e;
    (void)state;
    assert_int_equal(err_sys(&e, ENOSPC, "write", "/data/x"), -1);
    assert_int_equal(e.kind, ERR_STORAGE_FULL);
    assert_int_equal(err_status(&e), 507);
    assert_string_equal(err_code(&e), "storage_full");
    assert_int_equal(e.sys, ENOSPC);
    assert_non_null(strstr(e.msg, "write(/data/x) failed"));
    assert_non_null(strstr(e.msg, strerror(ENOSPC)));
    err_sys(&e, EDQUOT, "fsync", "/q");
    assert_int_equal(e.kind, ERR_STORAGE_FULL);
    err_sys(&e, EACCES, "open", "/data/functions.json.tmp");
    assert_int_equal(e.kind, ERR_STORAGE);
    assert_int_equal(err_status(&e), 500);
    assert_non_null(strstr(e.msg, "/data/functions.json.tmp"));
    err_sys(&e, ENOMEM, "read", "/x");
    assert_int_equal(e.kind, ERR_NOMEM);
}

static void test_err_prefix(void **state)
{
    err_t e;
    char big[1000];
    (void)state;
    err_set(&e, ERR_STORAGE, NULL, EIO, "inner");
    err_prefix(&e, "outer %d", 7);
    assert_string_equal(e.msg, "outer 7: inner");
    assert_int_equal(e.kind, ERR_STORAGE);
    assert_int_equal(e.sys, EIO);
    /* Whatever the lengths, the message stays terminated inside its buffer. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err_set(&e, ERR_STORAGE, NULL, 0, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    err_prefix(&e, "%.390s", big);
    assert_true(strlen(e.msg) < sizeof(e.msg));
    err_prefix(&e, "%s", big);
    assert_true(strlen(e.msg) < sizeof(e.msg));
}

static void test_clock(void **state)
{
    char s[CLOCK_RFC3339_LEN];
    long long secs;
    (void)state;
    clock_rfc3339(1700000000123LL, s, sizeof(s));
    assert_string_equal(s, "2023-11-14T22:13:20.123Z");
    assert_int_equal(clock_parse_rfc3339(s, &secs), 0);
    assert_int_equal(secs, 1700000000LL);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20Z", &secs), 0);
    assert_int_equal(secs, 1700000000LL);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20", &secs), -1);
    assert_int_equal(clock_parse_rfc3339("yesterday", &secs), -1);
    assert_int_equal(clock_parse_rfc3339(NULL, &secs), -1);
    clock_now(s, sizeof(s));
    assert_int_equal(strlen(s), 24);
    assert_int_equal(s[10], 'T');
    assert_int_equal(s[23], 'Z');
    long long a = clock_mono_ms(), b = clock_mono_ms();
    assert_true(b >= a);
    assert_true(clock_wall_ms() > 1700000000000LL);
}

typedef struct {
    char dir[64];
    char path[128];
} fdir;

static int fdir_setup(void **state)
{
    fdir *d = calloc(1, sizeof(*d));
    snprintf(d->dir, sizeof(d->dir), "/tmp/ml-base-test-XXXXXX");
    if (mkdtemp(d->dir) == NULL)
        return -1;
    snprintf(d->path, sizeof(d->path), "%s/file", d->dir);
    *state = d;
    return 0;
}

static int fdir_teardown(void **state)
{
    fdir *d = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    int rc = system(cmd);
    free(d);
    return rc == 0 ? 0 : -1;
}

static void test_files_write_read(void **state)
{
    fdir *d = *state;
    err_t e;
    buf_t b;
    char tmp[160];
    (void)state;
    struct iovec iov[2] = {{.iov_base = "hello ", .iov_len = 6},
                           {.iov_base = "world", .iov_len = 5}};
    assert_int_equal(files_writev(d->path, iov, 2, FILES_SYNC_DIR, &e), 0);
    buf_init(&b, 1024);
    assert_int_equal(files_read(d->path, &b, &e), 0);
    assert_int_equal(b.len, 11);
    assert_string_equal(b.data, "hello world");
    buf_free(&b);
    /* Replaced whole; no temp file stays. */
    assert_int_equal(files_write(d->path, "x", 1, 0, &e), 0);
    buf_init(&b, 1024);
    assert_int_equal(files_read(d->path, &b, &e), 0);
    assert_string_equal(b.data, "x");
    buf_free(&b);
    snprintf(tmp, sizeof(tmp), "%s.tmp", d->path);
    assert_int_equal(access(tmp, F_OK), -1);

    /* A file past the bound: EFBIG, named. */
    buf_init(&b, 0);
    assert_int_equal(files_read(d->path, &b, &e), -1);
    assert_int_equal(e.sys, EFBIG);
    assert_non_null(strstr(e.msg, d->path));
    buf_free(&b);
    /* A missing file: ERR_NOT_FOUND with ENOENT. */
    buf_init(&b, 10);
    assert_int_equal(files_read("/nonexistent/ml-file", &b, &e), -1);
    assert_int_equal(e.kind, ERR_NOT_FOUND);
    assert_int_equal(e.sys, ENOENT);
    buf_free(&b);
}

/* A write that fails half-way leaves the old file and no temp file. The
 * failure is forced with a file size limit (EFBIG from write). */
static void test_files_failed_write_cleans_up(void **state)
{
    fdir *d = *state;
    err_t e;
    char tmp[160], big[8192];
    struct rlimit old, lim = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    assert_int_equal(files_write(d->path, "old", 3, 0, &e), 0);
    memset(big, 'b', sizeof(big));
    getrlimit(RLIMIT_FSIZE, &old);
    lim.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = files_write(d->path, big, sizeof(big), FILES_SYNC_DIR, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc, -1);
    assert_int_equal(e.kind, ERR_STORAGE);
    assert_int_equal(e.sys, EFBIG);
    assert_non_null(strstr(e.msg, "write("));
    snprintf(tmp, sizeof(tmp), "%s.tmp", d->path);
    assert_int_equal(access(tmp, F_OK), -1);
    buf_t b;
    buf_init(&b, 100);
    assert_int_equal(files_read(d->path, &b, &e), 0);
    assert_string_equal(b.data, "old");
    buf_free(&b);
    /* A directory that does not exist: the open is named. */
    assert_int_equal(files_write("/nonexistent/dir/file", "x", 1, 0, &e), -1);
    assert_int_equal(e.sys, ENOENT);
    assert_non_null(strstr(e.msg, "/nonexistent/dir/file.tmp"));
}

/* files_lock excludes another holder until files_unlock. */
static void test_files_lock(void **state)
{
    fdir *d = *state;
    err_t e;
    char lock[160];
    snprintf(lock, sizeof(lock), "%s/x.lock", d->dir);
    int fd = files_lock(lock, &e);
    assert_true(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        int other = open(lock, O_RDWR);
        _exit(flock(other, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    files_unlock(fd);
    pid = fork();
    if (pid == 0) {
        int other = open(lock, O_RDWR);
        _exit(flock(other, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Held by another open file, with no new stamp: files_lock gives up
     * once the hold is older than FILES_LOCK_HELD_MS (counted from the
     * stamp of the taking above). */
    int holder = open(lock, O_RDWR);
    assert_int_equal(flock(holder, LOCK_EX | LOCK_NB), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(files_lock(lock, &e), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(e.kind, ERR_BUSY);
    assert_string_equal(err_code(&e), "store_busy");
    assert_int_equal(err_status(&e), 503);
    assert_true(waited >= FILES_LOCK_HELD_MS - 500 && waited < FILES_LOCK_HELD_MS + 1000);
    /* Released within the wait: taken. */
    close(holder);
    fd = files_lock(lock, &e);
    assert_true(fd >= 0);
    files_unlock(fd);
    files_unlock(-1); /* a no-op */
    assert_int_equal(files_lock("/nonexistent/dir/x.lock", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/dir/x.lock"));
    assert_int_equal(files_mkdir(d->dir, &e), 0); /* exists: fine */
}

/* What the data dir holds is the owner's alone: new files and directories,
 * and old ones once files_make_private went over them (a skipped directory
 * and symbolic links excepted). */
static void test_files_private(void **state)
{
    fdir *d = *state;
    err_t e;
    char sub[160], deep[200], file[220], skip[160], kept[200], link[200];
    struct stat st;
    snprintf(sub, sizeof(sub), "%s/sub", d->dir);
    snprintf(deep, sizeof(deep), "%s/deep", sub);
    snprintf(file, sizeof(file), "%s/f.json", deep);
    snprintf(skip, sizeof(skip), "%s/run", d->dir);
    snprintf(kept, sizeof(kept), "%s/sock", skip);
    snprintf(link, sizeof(link), "%s/l", sub);
    assert_int_equal(files_mkdir(sub, &e), 0);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(files_write(sub, "x", 1, 0, &e), -1); /* a directory */
    snprintf(file, sizeof(file), "%s/f.json", sub);
    assert_int_equal(files_write(file, "{}", 2, 0, &e), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* What an older version left. */
    assert_int_equal(mkdir(deep, 0755), 0);
    snprintf(file, sizeof(file), "%s/old.log", deep);
    int fd = open(file, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(file, 0644), 0);
    assert_int_equal(chmod(deep, 0755), 0);
    assert_int_equal(chmod(d->dir, 0755), 0);
    assert_int_equal(files_mkdir_mode(skip, 0755, &e), 0);
    fd = open(kept, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(kept, 0644), 0);
    assert_int_equal(symlink(kept, link), 0);
    assert_int_equal(files_make_private(d->dir, skip, &e), 3);
    assert_int_equal(stat(d->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(deep, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(kept, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(skip, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
    /* Nothing left to change. */
    assert_int_equal(files_make_private(d->dir, skip, &e), 0);
    assert_int_equal(files_make_private("/nonexistent/dir", NULL, &e), -1);
}

/* files_trylock: 1 when taken, 0 while another holds it, -1 on error. */
static void test_files_trylock(void **state)
{
    fdir *d = *state;
    err_t e;
    char lock[160];
    snprintf(lock, sizeof(lock), "%s/t.lock", d->dir);
    int fd = -1, other = -1;
    assert_int_equal(files_trylock(lock, &fd, &e), 1);
    assert_true(fd >= 0);
    /* Another open file description is another holder, even here. */
    assert_int_equal(files_trylock(lock, &other, &e), 0);
    assert_int_equal(other, -1);
    files_unlock(fd);
    assert_int_equal(files_trylock(lock, &other, &e), 1);
    files_unlock(other);
    assert_int_equal(files_trylock("/nonexistent/dir/t.lock", &other, &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/dir/t.lock"));
}

static const char *const config_vars[] = {
    "MINILAMBDA_PORT",
    "MINILAMBDA_BIND",
    "MINILAMBDA_DATA_DIR",
    "MINILAMBDA_RUN_DIR",
    "MINILAMBDA_SOCKET",
    "MINILAMBDA_INVOKE_SOCKET",
    "MINILAMBDA_WORKERS",
    "MINILAMBDA_THREADS",
    "MINILAMBDA_CONTROL_THREADS",
    "MINILAMBDA_MAX_CONCURRENCY",
    "MINILAMBDA_JANITOR_INTERVAL",
    "MINILAMBDA_GRACE",
    "MINILAMBDA_ASYNC_WORKERS",
    "MINILAMBDA_RETRY_BASE_MS",
    "MINILAMBDA_INVOCATION_RETENTION",
    "MINILAMBDA_MAX_IMAGE_BYTES",
    "MINILAMBDA_METRICS_SHM",
    "MINILAMBDA_METRICS_SLOTS",
    "MINILAMBDA_METRICS_ALLOW",
    "MINILAMBDA_LOG_LEVEL",
};

static int config_clean(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(config_vars) / sizeof(config_vars[0]); i++)
        unsetenv(config_vars[i]);
    return 0;
}

static void test_config_defaults(void **state)
{
    config_t c;
    err_t e;
    (void)state;
    assert_int_equal(config_load(&c, &e), 0);
    assert_int_equal(c.port, 8300);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_string_equal(c.data_dir, "/var/lib/minilambda");
    assert_string_equal(c.run_dir, "/run/minilambda");
    assert_string_equal(c.socket, "/run/minilambda/minilambda.sock");
    assert_string_equal(c.invoke_socket, "/run/minilambda/minilambda-invoke.sock");
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.threads, 16);
    assert_int_equal(c.control_threads, 4);
    assert_int_equal(c.max_concurrency, 32);
    assert_int_equal(c.janitor_interval, 30);
    assert_int_equal(c.grace, 30);
    assert_int_equal(c.async_workers, 4);
    assert_int_equal(c.retry_base_ms, 1000);
    assert_int_equal(c.retention, 86400);
    assert_int_equal(c.max_image_bytes, 4294967296LL);
    assert_string_equal(c.metrics_shm, "");
    assert_int_equal(c.metrics_slots, 1024);
    assert_string_equal(c.metrics_allow, "");
    assert_int_equal(c.level, LOG_INFO);
}

static void test_config_values(void **state)
{
    config_t c;
    err_t e;
    (void)state;
    setenv("MINILAMBDA_RUN_DIR", "/tmp/r", 1);
    setenv("MINILAMBDA_WORKERS", "3", 1);
    setenv("MINILAMBDA_THREADS", "4", 1);
    setenv("MINILAMBDA_LOG_LEVEL", "debug", 1);
    setenv("MINILAMBDA_MAX_IMAGE_BYTES", "1048576", 1);
    setenv("MINILAMBDA_METRICS_ALLOW", "10.0.0.0/8, ::1", 1);
    assert_int_equal(config_load(&c, &e), 0);
    /* Derived defaults follow the values they derive from. */
    assert_string_equal(c.socket, "/tmp/r/minilambda.sock");
    assert_int_equal(c.max_concurrency, 12);
    assert_int_equal(c.level, LOG_DEBUG);
    assert_int_equal(c.max_image_bytes, 1048576);
    assert_string_equal(c.metrics_allow, "10.0.0.0/8, ::1");
    setenv("MINILAMBDA_MAX_CONCURRENCY", "12", 1);
    assert_int_equal(config_load(&c, &e), 0);
    assert_int_equal(c.max_concurrency, 12);
    /* An empty value means the default. */
    setenv("MINILAMBDA_WORKERS", "", 1);
    unsetenv("MINILAMBDA_MAX_CONCURRENCY");
    assert_int_equal(config_load(&c, &e), 0);
    assert_int_equal(c.workers, 2);
}

/* Each bad value is refused with a message naming the variable. */
static void test_config_refuses(void **state)
{
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"MINILAMBDA_PORT", "0"},
        {"MINILAMBDA_PORT", "65536"},
        {"MINILAMBDA_PORT", "80x"},
        {"MINILAMBDA_WORKERS", " 2"},
        {"MINILAMBDA_WORKERS", "+2"},
        {"MINILAMBDA_WORKERS", "65"},
        {"MINILAMBDA_THREADS", "0"},
        {"MINILAMBDA_GRACE", "-1"},
        {"MINILAMBDA_MAX_CONCURRENCY", "33"},
        {"MINILAMBDA_MAX_CONCURRENCY", "0"},
        {"MINILAMBDA_MAX_IMAGE_BYTES", "0"},
        {"MINILAMBDA_MAX_IMAGE_BYTES", "-5"},
        {"MINILAMBDA_MAX_IMAGE_BYTES", "99999999999999999999"},
        {"MINILAMBDA_LOG_LEVEL", "verbose"},
        {"MINILAMBDA_METRICS_SHM", "noslash"},
        {"MINILAMBDA_METRICS_SHM", "/a/b"},
        {"MINILAMBDA_METRICS_ALLOW", "10.0.0.0/8; deny all"},
        {"MINILAMBDA_DATA_DIR", "relative/dir"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config_t c;
        err_t e;
        config_clean(NULL);
        setenv(bad[i].name, bad[i].value, 1);
        if (config_load(&c, &e) == 0)
            fail_msg("%s=%s was accepted", bad[i].name, bad[i].value);
        assert_int_equal(e.kind, ERR_INVALID);
        if (strstr(e.msg, bad[i].name) == NULL)
            fail_msg("the error for %s does not name it: %s", bad[i].name, e.msg);
    }
    config_clean(NULL);
    char longdir[700];
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    setenv("MINILAMBDA_RUN_DIR", longdir, 1);
    config_t c;
    err_t e;
    assert_int_equal(config_load(&c, &e), -1);
    assert_non_null(strstr(e.msg, "MINILAMBDA_RUN_DIR"));
}

/* --print-config's output, evaluated by a shell, gives back every value. */
static void test_config_print(void **state)
{
    config_t c;
    err_t e;
    char *text = NULL;
    size_t len = 0;
    (void)state;
    setenv("MINILAMBDA_DATA_DIR", "/tmp/it's here", 1);
    assert_int_equal(config_load(&c, &e), 0);
    FILE *out = open_memstream(&text, &len);
    config_print(&c, out);
    fclose(out);
    for (size_t i = 0; i < sizeof(config_vars) / sizeof(config_vars[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "%s='", config_vars[i]);
        if (strstr(text, line) == NULL)
            fail_msg("--print-config lacks %s", config_vars[i]);
    }
    assert_non_null(strstr(text, "MINILAMBDA_DATA_DIR='/tmp/it'\\''s here'\n"));
    assert_non_null(strstr(text, "MINILAMBDA_LOG_LEVEL='info'\n"));
    assert_non_null(strstr(text, "MINILAMBDA_MAX_IMAGE_BYTES='4294967296'\n"));
    free(text);
}

static void test_status_table(void **state)
{
    status_record r;
    (void)state;
    assert_string_equal(status_word(STATUS_SUCCEEDED), "succeeded");
    assert_int_equal(status_http(STATUS_SUCCEEDED), 200);
    assert_null(status_code(STATUS_SUCCEEDED));
    assert_int_equal(status_final(STATUS_SUCCEEDED), STATUS_REC_COMPLETED);
    assert_int_equal(status_http(STATUS_FAILED), 502);
    assert_string_equal(status_code(STATUS_FAILED), "function_failed");
    assert_int_equal(status_http(STATUS_TIMEOUT), 504);
    assert_int_equal(status_final(STATUS_TIMEOUT), STATUS_REC_TIMEOUT);
    assert_int_equal(status_metrics(STATUS_TIMEOUT), METRICS_TIMEOUT);
    assert_int_equal(status_http(STATUS_UNREACHABLE), 503);
    assert_string_equal(status_code(STATUS_UNREACHABLE), "engine_unreachable");
    assert_string_equal(status_word(STATUS_UNREACHABLE), "error");
    assert_int_equal(status_metrics(STATUS_UNREACHABLE), METRICS_ERROR);
    assert_string_equal(status_code(STATUS_IMAGE_MISSING), "image_not_found");
    assert_int_equal(status_http(STATUS_CANCELLED), 499);
    assert_int_equal(status_metrics(STATUS_CANCELLED), METRICS_CANCELLED);
    for (int o = 0; o < STATUS__OUTCOMES; o++) {
        assert_non_null(status_word((status_outcome)o));
        assert_true(status_http((status_outcome)o) >= 200);
        assert_true((o == STATUS_SUCCEEDED) == (status_code((status_outcome)o) == NULL));
    }
    assert_string_equal(status_record_name(STATUS_REC_PENDING), "PENDING");
    assert_int_equal(status_record_parse("completed", &r), 0);
    assert_int_equal(r, STATUS_REC_COMPLETED);
    assert_int_equal(status_record_parse("Cancelled", &r), 0);
    assert_int_equal(r, STATUS_REC_CANCELLED);
    assert_int_equal(status_record_parse("DONE", &r), -1);
    assert_false(status_record_finished(STATUS_REC_PENDING));
    assert_false(status_record_finished(STATUS_REC_RUNNING));
    assert_true(status_record_finished(STATUS_REC_FAILED));
    assert_true(status_record_finished(STATUS_REC_CANCELLED));
}

int main(void)
{
#define F(fn) cmocka_unit_test_setup_teardown(fn, fdir_setup, fdir_teardown)
#define C(fn) cmocka_unit_test_setup_teardown(fn, config_clean, config_clean)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_err_sys),
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_clock),
        F(test_files_write_read),
        F(test_files_failed_write_cleans_up),
        F(test_files_lock),
        F(test_files_trylock),
        F(test_files_private),
        C(test_config_defaults),
        C(test_config_values),
        C(test_config_refuses),
        C(test_config_print),
        cmocka_unit_test(test_status_table),
    };
#undef F
#undef C
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
