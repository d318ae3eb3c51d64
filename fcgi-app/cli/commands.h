/*
 * commands: every command of the `minilambda` client as one row of a table
 * (its words, positional arguments, options, a summary and the function
 * that runs it), and the driver over that table: finding the command in
 * argv, parsing its options, help, and the candidates bash completion asks
 * for. A command is added by adding a row; help and completion follow.
 */
#ifndef MINILAMBDA_CLI_COMMANDS_H
#define MINILAMBDA_CLI_COMMANDS_H

#include <stdio.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"

typedef cli_exit (*commands_fn)(api_ctx *x, const args_t *a, err_t *e);

typedef struct {
    const char *group;     /* "fn", "inv", "image", or NULL for a top-level verb */
    const char *verb;      /* "create" */
    const char *usage;     /* the positional part of the usage line */
    int min_pos, max_pos;  /* positional arguments allowed; max -1: any number */
    const char *complete1; /* what the first positional completes to: "@functions",
                              "@invocations", "@images", "@docker-images", or NULL */
    const char *complete2; /* what every later positional completes to */
    const args_opt *opts;  /* the command's own options, NULL-name terminated (may be NULL) */
    const args_opt *more;  /* a second shared table (the function fields), or NULL */
    const char *summary;
    commands_fn run;
} commands_entry;

/* The options every command takes: --url, --key, -o/--output, -h/--help. */
extern const args_opt commands_global[];

/* Why a command did not succeed, for main to print. */
typedef struct {
    err_t err;
    char words[64];  /* the command's words for the message's prefix: "fn create" */
    char usage[256]; /* the usage line to show under a usage error, "" when none applies */
} commands_failure;

/*
 * Run the command line `argv[1..argc)`. Help and results go to stdout,
 * progress and the logs of a failed function to stderr. Returns the exit
 * code; for anything but CLI_OK, `f` says why.
 */
cli_exit commands_run(int argc, char **argv, commands_failure *f);

/*
 * The completion candidates, one per line into `out`, for the command line
 * `argv[0..argc)` (the words after "minilambda", the last one being the word
 * under completion, possibly ""). Names of functions, invocations and
 * images are asked of the platform (MINILAMBDA_URL, MINILAMBDA_KEY or the
 * line's --url/--key) with a short timeout; any failure just yields fewer
 * candidates. Returns 0, or -1 when `out` is full.
 */
int commands_complete(int argc, char **argv, buf_t *out);

/*
 * Find the command in `argv[0..argc)` (global options may come first):
 * sets *entry (NULL when the words name none, or only a group), *group (the
 * group named, or NULL) and *unknown (the word that names no command, or
 * NULL), and stores in `skip` (argc entries) 1 for the words that named
 * it. Exposed for the unit tests.
 */
void commands_find(int argc, char **argv, const commands_entry **entry, const char **group,
                   const char **unknown, unsigned char *skip);

/* Append the help of `entry` (usage line, summary, options) to `out`.
 * Returns 0, or -1 when `out` is full (what fit stays). */
int commands_help(const commands_entry *entry, buf_t *out);

/* Append the help of a group ("fn"), or of everything when `group` is
 * NULL. Returns 0, or -1 when `out` is full (what fit stays). */
int commands_help_group(const char *group, buf_t *out);

#endif
