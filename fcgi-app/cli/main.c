/*
 * minilambda: the command-line client of a minilambda platform. Everything
 * is in the commands table (commands.c); this sets up libcurl, runs the
 * command line, and prints why it failed as one line on stderr, made safe
 * for a terminal, then exits with the command's code (cli.h).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/table.h"

int main(int argc, char **argv)
{
    commands_failure f;
    cli_exit rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "minilambda: curl_global_init() failed\n");
        return CLI_FAILED;
    }
    rc = commands_run(argc, argv, &f);
    /* Output that could not be written (a full disk, a closed pipe) is a
     * failure a script must see. */
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        err_set(&f.err, ERR_STORAGE, NULL, 0, "writing the output failed");
        f.words[0] = '\0';
        rc = CLI_FAILED;
    }
    if (rc != CLI_OK) {
        /* The message can quote what the platform sent: escape it. */
        buf_t msg;
        buf_init(&msg, 4096);
        table_escape(f.err.msg, strlen(f.err.msg), &msg);
        fprintf(stderr, "minilambda: %s%s%s\n", f.words, f.words[0] != '\0' ? ": " : "",
                msg.data != NULL ? msg.data : "failed");
        if (rc == CLI_USAGE && f.usage[0] != '\0')
            fprintf(stderr, "%s\n", f.usage);
        buf_free(&msg);
    }
    curl_global_cleanup();
    return rc;
}
