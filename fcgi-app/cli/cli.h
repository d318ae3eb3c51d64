/*
 * cli: what every part of the `minilambda` command-line client shares, the
 * exit codes and the output mode. Only types: each module returns a
 * cli_exit (0 ok) with an err_t saying why, and main turns both into the
 * process's exit status and one line on stderr.
 */
#ifndef MINILAMBDA_CLI_H
#define MINILAMBDA_CLI_H

/* The process's exit status. Scripts branch on these, so they never change. */
typedef enum {
    CLI_OK = 0,          /* done */
    CLI_FAILED = 1,      /* the function failed, or the platform refused the request */
    CLI_USAGE = 2,       /* the command line (or the request it made) is wrong */
    CLI_NOT_FOUND = 3,   /* no such function, invocation or image */
    CLI_TIMEOUT = 4,     /* the function (or the request) ran out of time */
    CLI_UNREACHABLE = 5, /* the platform (or its engine) did not answer */
} cli_exit;

/* How results are printed. */
typedef enum {
    CLI_OUT_TABLE = 0, /* tables and sentences for people */
    CLI_OUT_JSON,      /* the API's JSON as it came */
} cli_output;

#endif
