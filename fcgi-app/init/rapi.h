/*
 * rapi: minilambda-init's lambda protocol. init serves the AWS Lambda
 * Runtime API on INITWIRE_RUNTIME_API (127.0.0.1:9001: loopback, which a
 * container with network "none" still has) and starts the runtime at once,
 * before any call: the image's entrypoint and command, or the first
 * bootstrap Lambda would find ($LAMBDA_TASK_ROOT/bootstrap, /opt/bootstrap,
 * /var/runtime/bootstrap). Its init (imports, connections) is done by the
 * time a call comes; it then waits in GET .../invocation/next.
 *
 * Each request on stdin (initwire.h) is one call: its event is the body of
 * the /next answer, its env lines the headers (Lambda-Runtime-Aws-Request-Id
 * from MINILAMBDA_INVOCATION_ID, -Deadline-Ms from MINILAMBDA_DEADLINE_MS,
 * -Invoked-Function-Arn, -Trace-Id, -Client-Context, -Cognito-Identity).
 * What the runtime posts goes back in frames under the call's nonce: the
 * body in "o" frames, then "x 0" (/response), "f" (/error, with its error
 * type) or "i" (/init/error, or the runtime exited: init exits after it).
 * "n" says the runtime took the event. The runtime's stdout and stderr are
 * its logs: "e" frames of the call they come in; what comes between calls
 * (its init's logs, or after an answer) is kept, bounded, for the next one.
 *
 * The runtime never sees the nonce nor init's stdout: it gets /dev/null on
 * stdin and pipes for its output, and can only speak HTTP to init, which
 * frames what it says. A wrong id, a second answer, an unknown route or a
 * malformed request gets the Runtime API's own 4xx; bodies are bounded by
 * INITWIRE_LAMBDA_BODY_MAX (a bigger response: 413 to the runtime, and the
 * call fails with Function.ResponseSizeTooLarge).
 */
#ifndef MINILAMBDA_INIT_RAPI_H
#define MINILAMBDA_INIT_RAPI_H

/* Serve calls on stdin with the runtime `argv` (NULL-terminated; empty:
 * look for a bootstrap) until stdin ends, or (`once`) one call. Returns
 * init's exit code: 0, 125 when init itself failed (a malformed request, a
 * failing system call, the port taken), 128 + a stop signal. */
int rapi_serve(char *const argv[], int once);

#endif
