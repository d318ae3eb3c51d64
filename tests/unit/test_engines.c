/*
 * Unit tests for several engines: the MINILAMBDA_ENGINES syntax and its
 * start-up errors (each naming the entry), and placement — by in-flight
 * count relative to weight, by weight when nothing is in flight, never on
 * an engine that is out, and a dead process's calls forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "engine/engines.h"

static void test_parse_good(void **state)
{
    config_engine en[CONFIG_ENGINES_MAX];
    int n = -1;
    err_t e;
    (void)state;
    assert_int_equal(config_parse_engines("unix:///var/run/docker.sock", en, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(en[0].endpoint, "unix:///var/run/docker.sock");
    assert_string_equal(en[0].name, "unix:///var/run/docker.sock");
    assert_int_equal(en[0].weight, 1);
    assert_string_equal(en[0].tls_dir, "");

    assert_int_equal(config_parse_engines(" unix:///a.sock;weight=3;name=local , "
                                          "tcp://10.0.0.2:2375;name=b\ttcp://host-c.lan:2376",
                                          en, &n, &e),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(en[0].name, "local");
    assert_int_equal(en[0].weight, 3);
    assert_string_equal(en[1].endpoint, "tcp://10.0.0.2:2375");
    assert_string_equal(en[1].name, "b");
    assert_string_equal(en[2].endpoint, "tcp://host-c.lan:2376");
    assert_int_equal(en[2].weight, 1);
}

/* Each bad list is refused with a message naming the entry at fault. */
static void test_parse_bad(void **state)
{
    static const struct {
        const char *spec;
        const char *says; /* a piece of the message */
    } bad[] = {
        {"", "lists no engine"},
        {" , ", "lists no engine"},
        {"http://x:1", "entry 1 (\"http://x:1\")"},
        {"unix:///ok.sock,tcp://nohost", "entry 2 (\"tcp://nohost\")"},
        {"tcp://h:0", "entry 1"},
        {"tcp://h:65536", "entry 1"},
        {"unix://relative", "entry 1"},
        {"unix:///a;weight=0", "weight must be"},
        {"unix:///a;weight=1001", "weight must be"},
        {"unix:///a;weight=x", "weight must be"},
        {"unix:///a;colour=red", "unknown option"},
        {"unix:///a;weight", "an option must be"},
        {"unix:///a;tls=/tmp", "tls= applies to tcp"},
        {"unix:///a;name=bad/name", "name must be"},
        {"unix:///a,unix:///a", "entry 2 (\"unix:///a\") repeats entry 1"},
        {"unix:///a;name=x,unix:///b;name=x", "repeats entry 1"},
        {"tcp://h:1;tls=relative", "absolute directory"},
        {"tcp://h:1;tls=/nonexistent-minilambda-dir", "has no readable ca.pem"},
    };
    config_engine en[CONFIG_ENGINES_MAX];
    int n;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_t e;
        err_clear(&e);
        if (config_parse_engines(bad[i].spec, en, &n, &e) != -1)
            fail_msg("accepted MINILAMBDA_ENGINES=\"%s\"", bad[i].spec);
        if (strstr(e.msg, bad[i].says) == NULL)
            fail_msg("for \"%s\": message \"%s\" lacks \"%s\"", bad[i].spec, e.msg, bad[i].says);
        assert_int_equal(e.kind, ERR_INVALID);
    }
    /* More than the table holds. */
    char many[2048] = "";
    for (int i = 0; i <= CONFIG_ENGINES_MAX; i++) {
        char one[40];
        snprintf(one, sizeof(one), "%sunix:///e%d.sock", i ? "," : "", i);
        strcat(many, one);
    }
    err_t e;
    assert_int_equal(config_parse_engines(many, en, &n, &e), -1);
    assert_non_null(strstr(e.msg, "more than"));
}

/* A TLS directory needs all three files, as the docker CLI reads them. */
static void test_parse_tls(void **state)
{
    char dir[] = "/tmp/ml-tls-XXXXXX", spec[128], path[160];
    static const char *const files[] = {"ca.pem", "cert.pem", "key.pem"};
    config_engine en[CONFIG_ENGINES_MAX];
    int n;
    err_t e;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:2376;tls=%s", dir);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(config_parse_engines(spec, en, &n, &e), -1);
        assert_non_null(strstr(e.msg, files[i]));
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
    }
    assert_int_equal(config_parse_engines(spec, en, &n, &e), 0);
    assert_string_equal(en[0].tls_dir, dir);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_registry_syntax(void **state)
{
    (void)state;
    assert_true(config_registry_ok("127.0.0.1:5000"));
    assert_true(config_registry_ok("registry.lan:443"));
    assert_false(config_registry_ok("registry.lan"));
    assert_false(config_registry_ok(":5000"));
    assert_false(config_registry_ok("http://x:5000"));
    assert_false(config_registry_ok("x:0"));
}

/* Engines a, b, c with weights 2, 1, 1 over `rows` process rows. */
static engines_t *three(engines_shm_t **shm, int rows)
{
    config_t cfg;
    err_t e;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.run_dir, sizeof(cfg.run_dir), "/tmp");
    assert_int_equal(config_parse_engines("unix:///a.sock;weight=2;name=a,unix:///b.sock;name=b,"
                                          "tcp://127.0.0.1:1;name=c",
                                          cfg.engine, &cfg.nengines, &e),
                     0);
    *shm = engines_shm_create(rows);
    assert_non_null(*shm);
    engines_t *en = engines_open(&cfg, *shm, &e);
    assert_non_null(en);
    return en;
}

/* One call at a time spreads by weight: 300 calls, 150/75/75. */
static void test_place_by_weight(void **state)
{
    engines_shm_t *shm;
    engines_t *en = three(&shm, 2);
    int got[3] = {0, 0, 0};
    err_t e;
    (void)state;
    assert_true(engines_multi(en));
    assert_int_equal(engines_count(en), 3);
    for (int i = 0; i < 300; i++) {
        int k = engines_place(en, 0, 0, &e);
        assert_in_range(k, 0, 2);
        got[k]++;
        engines_enter(en, 0, k);
        engines_leave(en, 0, k);
    }
    assert_int_equal(got[0], 150);
    assert_int_equal(got[1], 75);
    assert_int_equal(got[2], 75);
    assert_int_equal(engines_placed(en, 0), 150);
    engines_close(en);
    engines_shm_destroy(shm);
}

/* An engine back from an outage takes its share from then on, not every
 * call until it has caught up with what it missed. */
static void test_place_after_outage(void **state)
{
    engines_shm_t *shm;
    engines_t *en = three(&shm, 1);
    int got[3] = {0, 0, 0};
    err_t e;
    (void)state;
    engines_set_up(en, 1, false, "test");
    for (int i = 0; i < 300; i++) {
        int k = engines_place(en, 0, 0, &e);
        assert_int_not_equal(k, 1);
        engines_enter(en, 0, k);
        engines_leave(en, 0, k);
    }
    engines_set_up(en, 1, true, NULL);
    for (int i = 0; i < 40; i++) {
        int k = engines_place(en, 0, 0, &e);
        got[k]++;
        engines_enter(en, 0, k);
        engines_leave(en, 0, k);
    }
    assert_in_range(got[0], 18, 22);
    assert_in_range(got[1], 8, 12);
    assert_in_range(got[2], 8, 12);
    /* The counter keeps counting: it is a metric. */
    assert_int_equal(engines_placed(en, 1), got[1]);
    engines_close(en);
    engines_shm_destroy(shm);
}

/* Calls held open go where the fewest run for the weight; an engine that
 * is out gets none; none up is engine_unavailable. */
static void test_place_in_flight_and_health(void **state)
{
    engines_shm_t *shm;
    engines_t *en = three(&shm, 2);
    int held[3] = {0, 0, 0};
    err_t e;
    (void)state;
    for (int i = 0; i < 8; i++) {
        int k = engines_place(en, 0, 0, &e);
        engines_enter(en, i % 2, k);
        held[k]++;
    }
    assert_int_equal(held[0], 4);
    assert_int_equal(held[1], 2);
    assert_int_equal(held[2], 2);
    assert_int_equal(engines_in_flight(en, 0), 4);
    /* Row 1 died: its calls are forgotten. */
    engines_reset_row(shm, 1);
    assert_int_equal(engines_in_flight(en, 0), 2);

    engines_set_up(en, 0, false, "test");
    engines_set_up(en, 1, false, "test");
    assert_false(engines_up(en, 0));
    assert_true(engines_any_up(en));
    for (int i = 0; i < 5; i++)
        assert_int_equal(engines_place(en, 0, 0, &e), 2);
    /* Skipped (it failed this call already): nothing else is up. */
    assert_int_equal(engines_place(en, 1u << 2, 0, &e), -1);
    assert_string_equal(err_code(&e), "engine_unavailable");
    assert_int_equal(err_status(&e), 503);
    engines_set_up(en, 2, false, "test");
    assert_false(engines_any_up(en));
    assert_int_equal(engines_place(en, 0, 0, &e), -1);
    engines_set_up(en, 1, true, NULL);
    assert_int_equal(engines_place(en, 0, 0, &e), 1);
    /* A preferred engine (a warm container there) wins while it is up. */
    engines_set_up(en, 0, true, NULL);
    assert_int_equal(engines_place(en, 0, 1u << 1, &e), 1);
    engines_close(en);
    engines_shm_destroy(shm);
}

/* Unset, there is one engine (DOCKER_HOST's), never out. */
static void test_single(void **state)
{
    config_t cfg;
    err_t e;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    unsetenv("DOCKER_HOST");
    engines_t *en = engines_open(&cfg, NULL, &e);
    assert_non_null(en);
    assert_false(engines_multi(en));
    assert_int_equal(engines_count(en), 1);
    engines_set_up(en, 0, false, "ignored");
    assert_true(engines_up(en, 0));
    assert_int_equal(engines_place(en, 0, 0, &e), 0);
    assert_string_equal(docker_endpoint(engines_docker(en, 0)), "unix:///var/run/docker.sock");
    engines_close(en);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_tls),
        cmocka_unit_test(test_registry_syntax),
        cmocka_unit_test(test_place_by_weight),
        cmocka_unit_test(test_place_in_flight_and_health),
        cmocka_unit_test(test_place_after_outage),
        cmocka_unit_test(test_single),
    };
    return cmocka_run_group_tests_name("engines", tests, NULL, NULL);
}
