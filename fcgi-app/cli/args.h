/*
 * args: the command line of one command, parsed against tables of options.
 *
 * GNU style: options may come before, between or after the positional
 * arguments; "--name value", "--name=value", "-x value", "-xvalue", flags
 * grouped ("-qv"), and "--" ending the options (what follows is positional
 * even when it starts with "-", e.g. a function's command). A lone "-" is
 * positional. Nothing is copied: the results point into argv, which must
 * outlive the args_t.
 */
#ifndef MINILAMBDA_CLI_ARGS_H
#define MINILAMBDA_CLI_ARGS_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"

/* Occurrences of options plus positional arguments one command line may
 * hold (a function's env has at most 128 keys). */
#define ARGS_MAX 256

typedef enum {
    ARGS_FLAG = 0, /* no value: --async */
    ARGS_VALUE,    /* one value; given twice, the last one counts */
    ARGS_LIST,     /* a value each time: --env A=1 --env B=2 */
} args_kind;

typedef struct {
    const char *name;     /* long form without "--"; NULL ends a table */
    char short_name;      /* single-letter form, 0 for none */
    args_kind kind;       /* what follows it */
    const char *metavar;  /* the value's name in help, e.g. "S" */
    const char *help;     /* one line */
    const char *complete; /* its values for completion: space-separated words,
                             "@functions", "@invocations", or NULL for none */
} args_opt;

typedef struct {
    struct {
        const args_opt *opt;
        const char *val; /* NULL for a flag */
    } vals[ARGS_MAX];
    int nvals;
    const char *pos[ARGS_MAX];
    int npos;
} args_t;

/*
 * Parse argv[0..argc) against `tables`, a NULL-terminated list of option
 * tables (a command's own and the global ones). Returns 0, or -1 with `e`
 * (kind ERR_INVALID) naming the offending word: an unknown option, a
 * missing value, a value given to a flag, too many arguments.
 */
int args_parse(args_t *a, const args_opt *const *tables, int argc, char **argv, err_t *e);

/* The option `name` (long form) in `tables`, or NULL. */
const args_opt *args_find(const args_opt *const *tables, const char *name);

/* The option whose command-line spelling is `word` ("--timeout",
 * "--timeout=5", "-o", "-ojson"), or NULL. */
const args_opt *args_match(const args_opt *const *tables, const char *word);

/* Whether option `name` was given. */
bool args_has(const args_t *a, const char *name);

/* The last value given to option `name`, or NULL when it was not given. */
const char *args_get(const args_t *a, const char *name);

/* The values of option `name` in order: start with *it = 0; NULL at the end. */
const char *args_next(const args_t *a, const char *name, int *it);

/*
 * The value of option `name` as an integer in [min, max] (strtol, the whole
 * word, base 10). Returns 1 with `*out` set, 0 when the option was not
 * given (`*out` untouched), or -1 with `e` naming the option and the value.
 */
int args_long(const args_t *a, const char *name, long min, long max, long *out, err_t *e);

/* Like args_long for a finite decimal number (strtod). */
int args_double(const args_t *a, const char *name, double *out, err_t *e);

/* Append one help line per option of `opts` ("  -o, --output FORMAT  help")
 * to `out`, the help texts aligned. Returns 0, or -1 when `out` is full. */
int args_help(const args_opt *opts, buf_t *out);

#endif
