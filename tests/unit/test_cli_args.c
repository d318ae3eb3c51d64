/*
 * Unit tests for the client's command line: the option parser (forms,
 * permutation, "--", lists, errors, numbers, help), finding the command
 * among global options, and the completion candidates that need no
 * platform.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"

static const args_opt test_opts[] = {
    {"timeout", 0, ARGS_VALUE, "S", "seconds", NULL},
    {"env", 'e', ARGS_LIST, "K=V", "a variable", NULL},
    {"async", 0, ARGS_FLAG, NULL, "queue it", NULL},
    {"quiet", 'q', ARGS_FLAG, NULL, "names only", NULL},
    {"cpus", 0, ARGS_VALUE, "N", "cpus", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};
static const args_opt test_globals[] = {
    {"output", 'o', ARGS_VALUE, "FORMAT", "table or json", "table json"},
    {"help", 'h', ARGS_FLAG, NULL, "help", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};
static const args_opt *const test_tables[] = {test_opts, test_globals, NULL};

/* Parse a NULL-terminated list of words; returns args_parse's result. */
static int parse(args_t *a, err_t *e, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, e);
    for (char *w; (w = va_arg(ap, char *)) != NULL;)
        argv[argc++] = w;
    va_end(ap);
    err_clear(e);
    /* The results point at the words, not into argv: argv may go. */
    return args_parse(a, test_tables, argc, argv, e);
}

static void test_long_forms(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(parse(&a, &e, "--timeout", "5", "--cpus=0.5", "--async", NULL), 0);
    assert_string_equal(args_get(&a, "timeout"), "5");
    assert_string_equal(args_get(&a, "cpus"), "0.5");
    assert_true(args_has(&a, "async"));
    assert_null(args_get(&a, "async"));
    assert_false(args_has(&a, "quiet"));
    assert_null(args_get(&a, "quiet"));
    assert_int_equal(a.npos, 0);
    /* An empty value is a value. */
    assert_int_equal(parse(&a, &e, "--timeout=", NULL), 0);
    assert_string_equal(args_get(&a, "timeout"), "");
}

static void test_short_forms(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(parse(&a, &e, "-o", "json", "-eA=1", "-qe", "B=2", NULL), 0);
    assert_string_equal(args_get(&a, "output"), "json");
    assert_true(args_has(&a, "quiet"));
    int it = 0;
    assert_string_equal(args_next(&a, "env", &it), "A=1");
    assert_string_equal(args_next(&a, "env", &it), "B=2");
    assert_null(args_next(&a, "env", &it));
    /* -ojson: the rest of the word is the value. */
    assert_int_equal(parse(&a, &e, "-ojson", NULL), 0);
    assert_string_equal(args_get(&a, "output"), "json");
}

static void test_positionals_anywhere(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(parse(&a, &e, "name", "--timeout", "3", "image", "-q", NULL), 0);
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[0], "name");
    assert_string_equal(a.pos[1], "image");
    assert_string_equal(args_get(&a, "timeout"), "3");
    assert_true(args_has(&a, "quiet"));
}

static void test_double_dash_ends_options(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(parse(&a, &e, "f", "img", "--", "sh", "-c", "--timeout", "--", NULL), 0);
    assert_int_equal(a.npos, 6);
    assert_string_equal(a.pos[2], "sh");
    assert_string_equal(a.pos[3], "-c");
    assert_string_equal(a.pos[4], "--timeout");
    assert_string_equal(a.pos[5], "--");
    assert_false(args_has(&a, "timeout"));
}

static void test_dash_is_positional(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(parse(&a, &e, "-", NULL), 0);
    assert_int_equal(a.npos, 1);
    assert_string_equal(a.pos[0], "-");
    /* A value may start with a dash. */
    assert_int_equal(parse(&a, &e, "--timeout", "-5", NULL), 0);
    assert_string_equal(args_get(&a, "timeout"), "-5");
}

static void test_value_last_wins_list_keeps_all(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(
        parse(&a, &e, "--timeout", "1", "--env", "A=1", "--timeout", "2", "--env", "A=2", NULL), 0);
    assert_string_equal(args_get(&a, "timeout"), "2");
    int it = 0, n = 0;
    while (args_next(&a, "env", &it) != NULL)
        n++;
    assert_int_equal(n, 2);
}

static void test_errors_name_the_word(void **state)
{
    args_t a;
    err_t e;
    (void)state;
    assert_int_equal(parse(&a, &e, "--nope", NULL), -1);
    assert_int_equal(e.kind, ERR_INVALID);
    assert_string_equal(e.msg, "unknown option --nope");
    assert_int_equal(parse(&a, &e, "--nope=3", NULL), -1);
    assert_string_equal(e.msg, "unknown option --nope");
    assert_int_equal(parse(&a, &e, "-x", NULL), -1);
    assert_string_equal(e.msg, "unknown option -x");
    assert_int_equal(parse(&a, &e, "--timeout", NULL), -1);
    assert_string_equal(e.msg, "option --timeout needs a value (S)");
    assert_int_equal(parse(&a, &e, "-o", NULL), -1);
    assert_string_equal(e.msg, "option -o needs a value (FORMAT)");
    assert_int_equal(parse(&a, &e, "--async=yes", NULL), -1);
    assert_string_equal(e.msg, "option --async takes no value");
    /* A prefix is not the option: --time is unknown, not --timeout. */
    assert_int_equal(parse(&a, &e, "--time", "3", NULL), -1);
    assert_string_equal(e.msg, "unknown option --time");
}

static void test_too_many(void **state)
{
    args_t a;
    err_t e;
    char **argv = calloc(ARGS_MAX + 1, sizeof(*argv));
    (void)state;
    assert_non_null(argv);
    for (int i = 0; i < ARGS_MAX + 1; i++)
        argv[i] = "x";
    assert_int_equal(args_parse(&a, test_tables, ARGS_MAX, argv, &e), 0);
    assert_int_equal(args_parse(&a, test_tables, ARGS_MAX + 1, argv, &e), -1);
    assert_string_equal(e.msg, "too many arguments (at most 256)");
    free(argv);
}

static void test_numbers(void **state)
{
    args_t a;
    err_t e;
    long l = 77;
    double d = 7;
    (void)state;
    assert_int_equal(parse(&a, &e, "--timeout", "30", "--cpus", "0.25", NULL), 0);
    assert_int_equal(args_long(&a, "timeout", 1, 900, &l, &e), 1);
    assert_int_equal(l, 30);
    assert_int_equal(args_double(&a, "cpus", &d, &e), 1);
    assert_true(d == 0.25);
    /* Absent: 0, value untouched. */
    l = 77;
    assert_int_equal(args_long(&a, "quiet", 1, 900, &l, &e), 0);
    assert_int_equal(l, 77);

    assert_int_equal(parse(&a, &e, "--timeout", "30s", NULL), 0);
    assert_int_equal(args_long(&a, "timeout", 1, 900, &l, &e), -1);
    assert_string_equal(e.msg, "--timeout: expected an integer, got \"30s\"");
    assert_int_equal(parse(&a, &e, "--timeout", "", NULL), 0);
    assert_int_equal(args_long(&a, "timeout", 1, 900, &l, &e), -1);
    assert_int_equal(parse(&a, &e, "--timeout", "99999999999999999999", NULL), 0);
    assert_int_equal(args_long(&a, "timeout", 1, 900, &l, &e), -1);
    assert_int_equal(parse(&a, &e, "--timeout", "901", NULL), 0);
    assert_int_equal(args_long(&a, "timeout", 1, 900, &l, &e), -1);
    assert_string_equal(e.msg, "--timeout: 901 is out of range (1 to 900)");

    assert_int_equal(parse(&a, &e, "--cpus", "half", NULL), 0);
    assert_int_equal(args_double(&a, "cpus", &d, &e), -1);
    assert_string_equal(e.msg, "--cpus: expected a number, got \"half\"");
    assert_int_equal(parse(&a, &e, "--cpus", "inf", NULL), 0);
    assert_int_equal(args_double(&a, "cpus", &d, &e), -1);
    assert_int_equal(parse(&a, &e, "--cpus", "nan", NULL), 0);
    assert_int_equal(args_double(&a, "cpus", &d, &e), -1);
}

static void test_match(void **state)
{
    (void)state;
    assert_string_equal(args_match(test_tables, "--timeout")->name, "timeout");
    assert_string_equal(args_match(test_tables, "--timeout=4")->name, "timeout");
    assert_string_equal(args_match(test_tables, "-ojson")->name, "output");
    assert_null(args_match(test_tables, "--nope"));
    assert_null(args_match(test_tables, "-"));
    assert_null(args_match(test_tables, "word"));
    assert_non_null(args_find(test_tables, "env"));
    assert_null(args_find(test_tables, "-e"));
}

static void test_help_lines(void **state)
{
    buf_t b;
    (void)state;
    buf_init(&b, 4096);
    assert_int_equal(args_help(test_globals, &b), 0);
    assert_string_equal(b.data, "  -o, --output FORMAT  table or json\n"
                                "  -h, --help           help\n");
    buf_free(&b);
}

/* commands_find over a NULL-terminated word list; `want` is "group verb",
 * "group", "?word" for an unknown word, or "" for nothing. */
static void find_is(const char *want, const char *skipped, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, skipped);
    for (char *w; (w = va_arg(ap, char *)) != NULL;)
        argv[argc++] = w;
    va_end(ap);
    const commands_entry *c;
    const char *group, *unknown;
    unsigned char skip[16];
    commands_find(argc, argv, &c, &group, &unknown, skip);
    char got[64] = "";
    if (unknown != NULL)
        snprintf(got, sizeof(got), "?%s", unknown);
    else if (c != NULL)
        snprintf(got, sizeof(got), "%s%s%s", c->group ? c->group : "", c->group ? " " : "",
                 c->verb);
    else if (group != NULL)
        snprintf(got, sizeof(got), "%s", group);
    assert_string_equal(got, want);
    char sk[17] = "";
    for (int i = 0; i < argc; i++)
        sk[i] = skip[i] ? '1' : '0';
    sk[argc] = '\0';
    assert_string_equal(sk, skipped);
}

static void test_find_command(void **state)
{
    (void)state;
    find_is("fn create", "1100", "fn", "create", "a", "b", NULL);
    find_is("fn ls", "0011", "-o", "json", "fn", "ls", NULL);
    find_is("fn ls", "00110", "--url", "http://x", "fn", "ls", "-q", NULL);
    find_is("fn ls", "0110", "--url=http://x", "fn", "ls", "-q", NULL);
    find_is("invoke", "10", "invoke", "f", NULL);
    find_is("health", "01", "-ojson", "health", NULL);
    find_is("fn", "1", "fn", NULL);
    find_is("?nope", "10", "fn", "nope", NULL);
    find_is("?frobnicate", "0", "frobnicate", NULL);
    /* A verb of another group is not this group's. */
    find_is("?push", "10", "fn", "push", NULL);
    /* The command's words come before its own options. */
    find_is("", "000", "--timeout", "5", "fn", NULL);
    find_is("", "", NULL);
}

/* The candidates for a command line (the last word being completed). */
static char *complete(int argc, char **argv)
{
    static char out[8192];
    buf_t b;
    buf_init(&b, sizeof(out) - 1);
    assert_int_equal(commands_complete(argc, argv, &b), 0);
    snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
    buf_free(&b);
    return out;
}

static void test_complete(void **state)
{
    (void)state;
    /* Nothing answers here, so names from the platform come out empty. */
    setenv("MINILAMBDA_URL", "http://127.0.0.1:1", 1);
    char *top[] = {""};
    assert_string_equal(complete(1, top), "invoke\nhealth\nfn\ninv\nimage\nhelp\n");
    char *fn[] = {"fn", ""};
    assert_string_equal(complete(2, fn), "create\nls\nget\nupdate\nrm\n");
    char *img[] = {"-o", "json", "image", ""};
    assert_string_equal(complete(4, img), "push\nls\n");
    char *out[] = {"fn", "ls", "-o", ""};
    assert_string_equal(complete(4, out), "table\njson\n");
    char *reuse[] = {"fn", "create", "--reuse", ""};
    assert_string_equal(complete(4, reuse), "none\ncontainer\nprocess\n");
    char *opts[] = {"inv", "ls", "--"};
    assert_string_equal(complete(3, opts),
                        "--function\n--status\n--limit\n--quiet\n--url\n--key\n--output\n--help\n");
    char *help[] = {"help", "inv", ""};
    assert_string_equal(complete(3, help), "ls\nget\ncancel\nlogs\n");
    char *names[] = {"fn", "get", ""};
    assert_string_equal(complete(3, names), "");
    /* fn get takes one name: nothing after it. */
    char *done[] = {"fn", "get", "x", ""};
    assert_string_equal(complete(4, done), "");
    char *none[] = {"bogus", ""};
    assert_string_equal(complete(2, none), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_forms),
        cmocka_unit_test(test_short_forms),
        cmocka_unit_test(test_positionals_anywhere),
        cmocka_unit_test(test_double_dash_ends_options),
        cmocka_unit_test(test_dash_is_positional),
        cmocka_unit_test(test_value_last_wins_list_keeps_all),
        cmocka_unit_test(test_errors_name_the_word),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_help_lines),
        cmocka_unit_test(test_find_command),
        cmocka_unit_test(test_complete),
    };
    return cmocka_run_group_tests_name("cli_args", tests, NULL, NULL);
}
