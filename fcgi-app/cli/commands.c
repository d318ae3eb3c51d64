#include "cli/commands.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/functions.h"
#include "cli/invocations.h"
#include "cli/platform.h"
#include "cli/push.h"
#include "cli/view.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

/* Completion asks the platform while someone waits at the prompt. */
#define COMMANDS_COMPLETE_TIMEOUT_MS 2000L

const args_opt commands_global[] = {
    {"url", 0, ARGS_VALUE, "URL",
     "the platform (default: $MINILAMBDA_URL, else " CLIENT_DEFAULT_URL ")", NULL},
    {"key", 0, ARGS_VALUE, "KEY",
     "API key, sent as Authorization: Bearer (default: $MINILAMBDA_KEY)", NULL},
    {"output", 'o', ARGS_VALUE, "FORMAT", "table (default) or json: the API's JSON as it came",
     "table json"},
    {"help", 'h', ARGS_FLAG, NULL, "show the help", NULL},
    {NULL, 0, ARGS_FLAG, NULL, NULL, NULL},
};

/* --- the table ------------------------------------------------------------ */

static const commands_entry commands_table[] = {
    {"fn", "create", "NAME IMAGE [-- COMMAND ARG...]", 2, -1, NULL, "@images", NULL,
     functions_field_opts, "register a function; COMMAND replaces the image's", functions_create},
    {"fn", "ls", "", 0, 0, NULL, NULL, functions_ls_opts, NULL, "list the functions, oldest first",
     functions_ls},
    {"fn", "get", "NAME", 1, 1, "@functions", NULL, NULL, NULL, "show a function", functions_get},
    {"fn", "update", "NAME [-- COMMAND ARG...]", 1, -1, "@functions", NULL, functions_update_opts,
     functions_field_opts, "change a function's image, settings or command", functions_update},
    {"fn", "rm", "NAME...", 1, -1, "@functions", "@functions", NULL, NULL, "delete functions",
     functions_rm},
    {NULL, "invoke", "NAME", 1, 1, "@functions", NULL, invocations_invoke_opts, NULL,
     "run a function with an event and print its output", invocations_invoke},
    {"inv", "ls", "", 0, 0, NULL, NULL, invocations_ls_opts, NULL, "list invocations, newest first",
     invocations_ls},
    {"inv", "get", "ID", 1, 1, "@invocations", NULL, NULL, NULL, "show an invocation's record",
     invocations_get},
    {"inv", "cancel", "ID...", 1, -1, "@invocations", "@invocations", NULL, NULL,
     "cancel pending or running invocations", invocations_cancel},
    {"inv", "logs", "ID", 1, 1, "@invocations", NULL, NULL, NULL,
     "print an invocation's logs (the function's stderr)", invocations_logs},
    {"image", "push", "TAG", 1, 1, "@docker-images", NULL, platform_push_opts, NULL,
     "upload a local docker image, streamed from docker save", platform_push},
    {"image", "ls", "", 0, 0, NULL, NULL, platform_images_opts, NULL, "list the platform's images",
     platform_images},
    {NULL, "health", "", 0, 0, NULL, NULL, NULL, NULL,
     "the platform's health, component by component", platform_health},
};
#define COMMANDS_N (sizeof(commands_table) / sizeof(commands_table[0]))

static const char *const commands_groups[] = {"fn", "inv", "image"};

/* The group named `w` (the table's own string), or NULL. */
static const char *commands_group(const char *w)
{
    for (size_t i = 0; i < sizeof(commands_groups) / sizeof(commands_groups[0]); i++)
        if (strcmp(commands_groups[i], w) == 0)
            return commands_groups[i];
    return NULL;
}

static const commands_entry *commands_lookup(const char *group, const char *verb)
{
    for (size_t i = 0; i < COMMANDS_N; i++) {
        const commands_entry *c = &commands_table[i];
        if (((group == NULL && c->group == NULL) ||
             (group != NULL && c->group != NULL && strcmp(group, c->group) == 0)) &&
            strcmp(verb, c->verb) == 0)
            return c;
    }
    return NULL;
}

/* Whether option word `w` carries its value ("--url=x", "-ojson"). */
static bool commands_attached(const char *w)
{
    return w[1] == '-' ? strchr(w, '=') != NULL : w[2] != '\0';
}

void commands_find(int argc, char **argv, const commands_entry **entry, const char **group,
                   const char **unknown, unsigned char *skip)
{
    const args_opt *const globals[] = {commands_global, NULL};
    *entry = NULL;
    *group = NULL;
    *unknown = NULL;
    memset(skip, 0, (size_t)argc);
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (strcmp(w, "--") == 0)
            return;
        if (w[0] == '-' && w[1] != '\0') {
            const args_opt *o = args_match(globals, w);
            /* The command's own options come after its words. */
            if (o == NULL)
                return;
            if (o->kind != ARGS_FLAG && !commands_attached(w))
                i++;
            continue;
        }
        if (*group == NULL && (*group = commands_group(w)) != NULL) {
            skip[i] = 1;
            continue;
        }
        *entry = commands_lookup(*group, w);
        if (*entry == NULL)
            *unknown = w;
        else
            skip[i] = 1;
        return;
    }
}

/* "fn create" or "invoke" into `out`. */
static void commands_words(const commands_entry *c, const char *group, char *out, size_t outlen)
{
    if (c != NULL)
        snprintf(out, outlen, "%s%s%s", c->group != NULL ? c->group : "",
                 c->group != NULL ? " " : "", c->verb);
    else
        snprintf(out, outlen, "%s", group != NULL ? group : "");
}

/* The usage line of `c`. */
static void commands_usage(const commands_entry *c, char *out, size_t outlen)
{
    char words[64];
    commands_words(c, NULL, words, sizeof(words));
    snprintf(out, outlen, "usage: minilambda %s [options]%s%s", words, c->usage[0] ? " " : "",
             c->usage);
}

int commands_help(const commands_entry *c, buf_t *out)
{
    char usage[256];
    commands_usage(c, usage, sizeof(usage));
    if (buf_printf(out, "%s\n\n%s.\n", usage, c->summary) != BUF_OK)
        return -1;
    if ((c->opts != NULL || c->more != NULL) && buf_puts(out, "\noptions:\n") != BUF_OK)
        return -1;
    if ((c->opts != NULL && args_help(c->opts, out) != 0) ||
        (c->more != NULL && args_help(c->more, out) != 0))
        return -1;
    if (buf_puts(out, "\nglobal options:\n") != BUF_OK || args_help(commands_global, out) != 0)
        return -1;
    return 0;
}

int commands_help_group(const char *group, buf_t *out)
{
    if (group == NULL &&
        buf_puts(out, "minilambda: the command-line client of a minilambda platform\n\n"
                      "usage: minilambda [--url URL] [--key KEY] [-o table|json] COMMAND ...\n\n"
                      "commands:\n") != BUF_OK)
        return -1;
    if (group != NULL &&
        buf_printf(out, "usage: minilambda %s COMMAND ...\n\ncommands:\n", group) != BUF_OK)
        return -1;
    /* Two passes: the widest left column first, so the summaries align. */
    int width = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < COMMANDS_N; i++) {
            const commands_entry *c = &commands_table[i];
            char left[128], words[64];
            if (group != NULL && (c->group == NULL || strcmp(c->group, group) != 0))
                continue;
            commands_words(c, NULL, words, sizeof(words));
            int n = snprintf(left, sizeof(left), "%s%s%s", words, c->usage[0] ? " " : "", c->usage);
            if (pass == 0 && n > width)
                width = n;
            if (pass == 1 && buf_printf(out, "  %-*s  %s\n", width, left, c->summary) != BUF_OK)
                return -1;
        }
    }
    if (buf_puts(out, "\nglobal options:\n") != BUF_OK || args_help(commands_global, out) != 0)
        return -1;
    if (group == NULL &&
        buf_puts(out,
                 "\nenvironment: MINILAMBDA_URL, MINILAMBDA_KEY (as --url, --key);\n"
                 "  MINILAMBDA_DOCKER: the docker program image push runs (default: docker)\n"
                 "exit codes: 0 ok, 1 failed (the function, or the platform refused), 2 usage,\n"
                 "  3 not found, 4 timeout, 5 platform unreachable\n"
                 "`minilambda COMMAND --help` tells more.\n") != BUF_OK)
        return -1;
    return 0;
}

/* Print `b` to `f` and free it. */
static void commands_flush(buf_t *b, FILE *f)
{
    if (b->len > 0)
        fwrite(b->data, 1, b->len, f);
    buf_free(b);
}

/* The platform's address and key: the option, else the environment. */
static const char *commands_setting(const args_t *a, const char *opt, const char *env,
                                    const char *dflt)
{
    const char *v = a != NULL ? args_get(a, opt) : NULL;
    if (v == NULL)
        v = getenv(env);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* A usage failure: `e` already says what; add the usage line of `c`. */
static cli_exit commands_usage_error(const commands_entry *c, commands_failure *f)
{
    if (c != NULL)
        commands_usage(c, f->usage, sizeof(f->usage));
    else
        snprintf(f->usage, sizeof(f->usage), "see: minilambda --help");
    return CLI_USAGE;
}

/* Run `c` with its words removed from argv: parse, check, connect, run. */
static cli_exit commands_exec(const commands_entry *c, bool help, int argc, char **argv,
                              commands_failure *f)
{
    const args_opt *tables[4];
    size_t nt = 0;
    args_t *a = calloc(1, sizeof(*a));
    client_t client;
    cli_exit rc;
    memset(&client, 0, sizeof(client));
    if (a == NULL) {
        err_set(&f->err, ERR_NOMEM, NULL, 0, "out of memory");
        return CLI_FAILED;
    }
    if (c->opts != NULL)
        tables[nt++] = c->opts;
    if (c->more != NULL)
        tables[nt++] = c->more;
    tables[nt++] = commands_global;
    tables[nt] = NULL;
    if (args_parse(a, tables, argc, argv, &f->err) != 0) {
        rc = commands_usage_error(c, f);
        goto done;
    }
    if (help || args_has(a, "help")) {
        buf_t out;
        buf_init(&out, 64 * 1024);
        commands_help(c, &out);
        commands_flush(&out, stdout);
        rc = CLI_OK;
        goto done;
    }
    if (a->npos < c->min_pos || (c->max_pos >= 0 && a->npos > c->max_pos)) {
        err_set(&f->err, ERR_INVALID, "usage", 0, "%s arguments: expected %s",
                a->npos < c->min_pos ? "missing" : "too many",
                c->usage[0] != '\0' ? c->usage : "none");
        rc = commands_usage_error(c, f);
        goto done;
    }
    const char *output = args_get(a, "output") != NULL ? args_get(a, "output") : "table";
    api_ctx x = {.client = &client, .output = CLI_OUT_TABLE, .words = f->words};
    if (strcmp(output, "json") == 0) {
        x.output = CLI_OUT_JSON;
    } else if (strcmp(output, "table") != 0) {
        err_set(&f->err, ERR_INVALID, "usage", 0, "-o %.32s: expected table or json", output);
        rc = commands_usage_error(c, f);
        goto done;
    }
    x.docker = commands_setting(NULL, NULL, "MINILAMBDA_DOCKER", "docker");
    if (client_init(&client, commands_setting(a, "url", "MINILAMBDA_URL", CLIENT_DEFAULT_URL),
                    commands_setting(a, "key", "MINILAMBDA_KEY", NULL), &f->err) != 0) {
        rc = f->err.kind == ERR_INVALID ? CLI_USAGE : CLI_FAILED;
        goto done;
    }
    rc = c->run(&x, a, &f->err);
done:
    client_free(&client);
    free(a);
    return rc;
}

cli_exit commands_run(int argc, char **argv, commands_failure *f)
{
    int n = argc > 0 ? argc - 1 : 0;
    char **w = argv + 1;
    bool help = false;
    const commands_entry *c;
    const char *group, *unknown;
    cli_exit rc = CLI_OK;

    err_clear(&f->err);
    f->words[0] = f->usage[0] = '\0';
    if (n > 0 && strcmp(w[0], "__complete") == 0) {
        buf_t out;
        buf_init(&out, 1024 * 1024);
        commands_complete(n - 1, w + 1, &out);
        commands_flush(&out, stdout);
        return CLI_OK;
    }
    if (n > 0 && strcmp(w[0], "--version") == 0) {
        printf("minilambda %s\n", PACKAGE_VERSION);
        return CLI_OK;
    }
    if (n > 0 && strcmp(w[0], "help") == 0) {
        help = true;
        n--;
        w++;
    }
    unsigned char *skip = calloc((size_t)n + 1, 1);
    char **rest = calloc((size_t)n + 1, sizeof(*rest));
    if (skip == NULL || rest == NULL) {
        err_set(&f->err, ERR_NOMEM, NULL, 0, "out of memory");
        rc = CLI_FAILED;
        goto done;
    }
    commands_find(n, w, &c, &group, &unknown, skip);
    commands_words(c, group, f->words, sizeof(f->words));
    if (unknown != NULL) {
        err_set(&f->err, ERR_INVALID, "usage", 0, "unknown command \"%s%s%.64s\"",
                group != NULL ? group : "", group != NULL ? " " : "", unknown);
        snprintf(f->usage, sizeof(f->usage), "see: minilambda %s%s--help",
                 group != NULL ? group : "", group != NULL ? " " : "");
        f->words[0] = '\0';
        rc = CLI_USAGE;
        goto done;
    }
    int nrest = 0;
    for (int i = 0; i < n; i++)
        if (!skip[i])
            rest[nrest++] = w[i];
    if (c != NULL) {
        rc = commands_exec(c, help, nrest, rest, f);
        goto done;
    }
    /* No command, or a group without its verb: help. Asked for, it goes to
     * stdout; otherwise it is a usage error and goes to stderr. */
    bool asked = help;
    for (int i = 0; i < nrest; i++)
        if (strcmp(rest[i], "--help") == 0 || strcmp(rest[i], "-h") == 0)
            asked = true;
    buf_t out;
    buf_init(&out, 64 * 1024);
    commands_help_group(group, &out);
    commands_flush(&out, asked ? stdout : stderr);
    if (!asked) {
        err_set(&f->err, ERR_INVALID, "usage", 0, "%s",
                group != NULL ? "which command? (see above)" : "no command given");
        rc = CLI_USAGE;
    }
done:
    free(rest);
    free(skip);
    return rc;
}

/* --- completion ------------------------------------------------------------ */

/* Names from the platform for `what` ("@functions", ...), one a line. */
static void commands_complete_remote(const char *what, int argc, char **argv, buf_t *out)
{
    const args_opt *const globals[] = {commands_global, NULL};
    const char *url = NULL, *key = NULL;
    client_t client;
    client_reply r;
    err_t e;
    const char *path, *member;
    /* --url and --key on the line being completed count too. */
    for (int i = 0; i < argc; i++) {
        const args_opt *o = args_match(globals, argv[i]);
        if (o == NULL || o->kind == ARGS_FLAG)
            continue;
        const char *v = commands_attached(argv[i])
                            ? (argv[i][1] == '-' ? strchr(argv[i], '=') + 1 : argv[i] + 2)
                            : (i + 1 < argc ? argv[i + 1] : NULL);
        if (strcmp(o->name, "url") == 0)
            url = v;
        else if (strcmp(o->name, "key") == 0)
            key = v;
    }
    if (strcmp(what, "@functions") == 0) {
        path = "/functions";
        member = "name";
    } else if (strcmp(what, "@invocations") == 0) {
        path = "/invocations?limit=50";
        member = "id";
    } else if (strcmp(what, "@images") == 0) {
        path = "/images";
        member = NULL;
    } else {
        return;
    }
    client_reply_init(&r);
    if (client_init(
            &client,
            url != NULL ? url : commands_setting(NULL, NULL, "MINILAMBDA_URL", CLIENT_DEFAULT_URL),
            key != NULL ? key : commands_setting(NULL, NULL, "MINILAMBDA_KEY", NULL), &e) == 0 &&
        client_call(&client, "GET", path, NULL, NULL, 0, COMMANDS_COMPLETE_TIMEOUT_MS, &r, &e) ==
            CLI_OK &&
        r.status == 200 && r.json != NULL && json_object_is_type(r.json, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(r.json); i++) {
            json_object *v = json_object_array_get_idx(r.json, i);
            const char *s =
                member != NULL
                    ? view_str(v, member)
                    : (json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL);
            if (s != NULL && strpbrk(s, "\r\n") == NULL)
                buf_printf(out, "%s\n", s);
        }
    }
    client_reply_free(&r);
    client_free(&client);
}

/* The candidates for `what`: a word list, or a "@" source. */
static int commands_complete_values(const char *what, int argc, char **argv, buf_t *out)
{
    if (what == NULL)
        return 0;
    if (strcmp(what, "@docker-images") == 0)
        return push_local_tags(commands_setting(NULL, NULL, "MINILAMBDA_DOCKER", "docker"), out);
    if (what[0] == '@') {
        commands_complete_remote(what, argc, argv, out);
        return 0;
    }
    for (const char *p = what; *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (buf_printf(out, "%.*s\n", (int)len, p) != BUF_OK)
            return -1;
        p += len;
        p += strspn(p, " ");
    }
    return 0;
}

int commands_complete(int argc, char **argv, buf_t *out)
{
    const commands_entry *c;
    const char *group, *unknown;
    const args_opt *tables[4];
    size_t nt = 0;
    if (argc < 1)
        return 0;
    const char *cur = argv[argc - 1];
    int n = argc - 1;
    int off = n > 0 && strcmp(argv[0], "help") == 0 ? 1 : 0;
    unsigned char *skip = calloc((size_t)n + 1, 1);
    if (skip == NULL)
        return -1;
    commands_find(n - off, argv + off, &c, &group, &unknown, skip + off);
    if (c != NULL && c->opts != NULL)
        tables[nt++] = c->opts;
    if (c != NULL && c->more != NULL)
        tables[nt++] = c->more;
    tables[nt++] = commands_global;
    tables[nt] = NULL;
    int rc = 0;
    const char *prev = n > 0 ? argv[n - 1] : "";
    const args_opt *po = prev[0] == '-' ? args_match(tables, prev) : NULL;
    if (po != NULL && po->kind != ARGS_FLAG && !commands_attached(prev)) {
        rc = commands_complete_values(po->complete, argc, argv, out);
    } else if (cur[0] == '-') {
        for (size_t t = 0; tables[t] != NULL && rc == 0; t++)
            for (const args_opt *o = tables[t]; o->name != NULL && rc == 0; o++)
                if (buf_printf(out, "--%s\n", o->name) != BUF_OK)
                    rc = -1;
    } else if (c == NULL && unknown == NULL) {
        for (size_t i = 0; i < COMMANDS_N && rc == 0; i++) {
            const commands_entry *e = &commands_table[i];
            const char *word =
                group != NULL ? (e->group != NULL && strcmp(e->group, group) == 0 ? e->verb : NULL)
                              : (e->group != NULL ? NULL : e->verb);
            if (word != NULL && buf_printf(out, "%s\n", word) != BUF_OK)
                rc = -1;
        }
        if (group == NULL) {
            for (size_t i = 0; i < sizeof(commands_groups) / sizeof(commands_groups[0]); i++)
                if (buf_printf(out, "%s\n", commands_groups[i]) != BUF_OK)
                    rc = -1;
            if (off == 0 && buf_puts(out, "help\n") != BUF_OK)
                rc = -1;
        }
    } else if (c != NULL && off == 0) {
        /* Which positional argument is under completion. */
        int pos = 0;
        bool options = true;
        for (int i = 0; i < n; i++) {
            const char *w = argv[i];
            if (skip[i])
                continue;
            if (options && strcmp(w, "--") == 0) {
                options = false;
                continue;
            }
            if (options && w[0] == '-' && w[1] != '\0') {
                const args_opt *o = args_match(tables, w);
                if (o != NULL && o->kind != ARGS_FLAG && !commands_attached(w))
                    i++;
                continue;
            }
            pos++;
        }
        if (c->max_pos < 0 || pos < c->max_pos)
            rc = commands_complete_values(pos == 0 ? c->complete1 : c->complete2, argc, argv, out);
    }
    free(skip);
    return rc;
}
