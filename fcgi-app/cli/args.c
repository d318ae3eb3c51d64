#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const args_opt *args_find(const args_opt *const *tables, const char *name)
{
    for (size_t t = 0; tables[t] != NULL; t++)
        for (const args_opt *o = tables[t]; o->name != NULL; o++)
            if (strcmp(o->name, name) == 0)
                return o;
    return NULL;
}

/* The option spelled `--name` with `len` bytes of name, or NULL. */
static const args_opt *args_find_long(const args_opt *const *tables, const char *name, size_t len)
{
    for (size_t t = 0; tables[t] != NULL; t++)
        for (const args_opt *o = tables[t]; o->name != NULL; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return o;
    return NULL;
}

static const args_opt *args_find_short(const args_opt *const *tables, char c)
{
    for (size_t t = 0; tables[t] != NULL; t++)
        for (const args_opt *o = tables[t]; o->name != NULL; o++)
            if (o->short_name != 0 && o->short_name == c)
                return o;
    return NULL;
}

const args_opt *args_match(const args_opt *const *tables, const char *word)
{
    if (word[0] != '-' || word[1] == '\0')
        return NULL;
    if (word[1] == '-')
        return args_find_long(tables, word + 2, strcspn(word + 2, "="));
    return args_find_short(tables, word[1]);
}

static int args_add_val(args_t *a, const args_opt *o, const char *val, err_t *e)
{
    if (a->nvals + a->npos >= ARGS_MAX)
        return err_set(e, ERR_INVALID, "usage", 0, "too many arguments (at most %d)", ARGS_MAX);
    a->vals[a->nvals].opt = o;
    a->vals[a->nvals].val = val;
    a->nvals++;
    return 0;
}

static int args_add_pos(args_t *a, const char *word, err_t *e)
{
    if (a->nvals + a->npos >= ARGS_MAX)
        return err_set(e, ERR_INVALID, "usage", 0, "too many arguments (at most %d)", ARGS_MAX);
    a->pos[a->npos++] = word;
    return 0;
}

/* "--name", "--name=value" or "--name value" at argv[*i]. */
static int args_long_opt(args_t *a, const args_opt *const *tables, int argc, char **argv, int *i,
                         err_t *e)
{
    const char *word = argv[*i] + 2;
    const char *eq = strchr(word, '=');
    size_t len = eq != NULL ? (size_t)(eq - word) : strlen(word);
    const args_opt *o = args_find_long(tables, word, len);
    if (o == NULL)
        return err_set(e, ERR_INVALID, "usage", 0, "unknown option --%.*s",
                       (int)(len > 64 ? 64 : len), word);
    if (o->kind == ARGS_FLAG) {
        if (eq != NULL)
            return err_set(e, ERR_INVALID, "usage", 0, "option --%s takes no value", o->name);
        return args_add_val(a, o, NULL, e);
    }
    if (eq != NULL)
        return args_add_val(a, o, eq + 1, e);
    if (*i + 1 >= argc)
        return err_set(e, ERR_INVALID, "usage", 0, "option --%s needs a value (%s)", o->name,
                       o->metavar != NULL ? o->metavar : "VALUE");
    (*i)++;
    return args_add_val(a, o, argv[*i], e);
}

/* "-x", "-xvalue", "-x value" or grouped flags "-xy" at argv[*i]. */
static int args_short_opts(args_t *a, const args_opt *const *tables, int argc, char **argv, int *i,
                           err_t *e)
{
    const char *word = argv[*i];
    for (size_t k = 1; word[k] != '\0'; k++) {
        const args_opt *o = args_find_short(tables, word[k]);
        if (o == NULL)
            return err_set(e, ERR_INVALID, "usage", 0, "unknown option -%c", word[k]);
        if (o->kind == ARGS_FLAG) {
            if (args_add_val(a, o, NULL, e) != 0)
                return -1;
            continue;
        }
        /* A value option takes the rest of the word, or the next word. */
        if (word[k + 1] != '\0')
            return args_add_val(a, o, word + k + 1, e);
        if (*i + 1 >= argc)
            return err_set(e, ERR_INVALID, "usage", 0, "option -%c needs a value (%s)", word[k],
                           o->metavar != NULL ? o->metavar : "VALUE");
        (*i)++;
        return args_add_val(a, o, argv[*i], e);
    }
    return 0;
}

int args_parse(args_t *a, const args_opt *const *tables, int argc, char **argv, err_t *e)
{
    bool options = true;
    a->nvals = 0;
    a->npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        int rc;
        if (options && strcmp(w, "--") == 0) {
            options = false;
            continue;
        }
        if (!options || w[0] != '-' || w[1] == '\0')
            rc = args_add_pos(a, w, e);
        else if (w[1] == '-')
            rc = args_long_opt(a, tables, argc, argv, &i, e);
        else
            rc = args_short_opts(a, tables, argc, argv, &i, e);
        if (rc != 0)
            return -1;
    }
    return 0;
}

bool args_has(const args_t *a, const char *name)
{
    for (int i = 0; i < a->nvals; i++)
        if (strcmp(a->vals[i].opt->name, name) == 0)
            return true;
    return false;
}

const char *args_get(const args_t *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nvals; i++)
        if (strcmp(a->vals[i].opt->name, name) == 0)
            v = a->vals[i].val;
    return v;
}

const char *args_next(const args_t *a, const char *name, int *it)
{
    for (; *it < a->nvals; (*it)++) {
        if (strcmp(a->vals[*it].opt->name, name) == 0)
            return a->vals[(*it)++].val;
    }
    return NULL;
}

int args_long(const args_t *a, const char *name, long min, long max, long *out, err_t *e)
{
    const char *s = args_get(a, name);
    char *end;
    if (s == NULL)
        return 0;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return err_set(e, ERR_INVALID, "usage", 0, "--%s: expected an integer, got \"%.64s\"", name,
                       s);
    if (v < min || v > max)
        return err_set(e, ERR_INVALID, "usage", 0, "--%s: %ld is out of range (%ld to %ld)", name,
                       v, min, max);
    *out = v;
    return 1;
}

int args_double(const args_t *a, const char *name, double *out, err_t *e)
{
    const char *s = args_get(a, name);
    char *end;
    if (s == NULL)
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return err_set(e, ERR_INVALID, "usage", 0, "--%s: expected a number, got \"%.64s\"", name,
                       s);
    *out = v;
    return 1;
}

/* The left column of an option's help line, e.g. "-o, --output FORMAT". */
static int args_spelling(const args_opt *o, char *out, size_t outlen)
{
    char shortform[8] = "    ";
    if (o->short_name != 0)
        snprintf(shortform, sizeof(shortform), "-%c, ", o->short_name);
    int n = snprintf(out, outlen, "%s--%s%s%s", shortform, o->name, o->kind == ARGS_FLAG ? "" : " ",
                     o->kind == ARGS_FLAG ? "" : (o->metavar != NULL ? o->metavar : "VALUE"));
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int args_help(const args_opt *opts, buf_t *out)
{
    char left[128];
    int width = 0;
    for (const args_opt *o = opts; o->name != NULL; o++) {
        int n = args_spelling(o, left, sizeof(left));
        if (n > width)
            width = n;
    }
    for (const args_opt *o = opts; o->name != NULL; o++) {
        if (args_spelling(o, left, sizeof(left)) < 0)
            continue;
        if (buf_printf(out, "  %-*s  %s\n", width, left, o->help != NULL ? o->help : "") != BUF_OK)
            return -1;
    }
    return 0;
}
