#!/usr/bin/env python3
"""minilambda example function.

The function contract: the event (JSON) arrives on stdin, the result goes to
stdout, logs go to stderr, exit 0 means success. This one answers
{"message": "Processed: " + event["message"] (or "No message"),
 "input_received": event}. minilambda_loop.serve runs it once per process,
or call after call when the function is registered with "reuse": "process".
"""
import json
import os
import sys

from minilambda_loop import serve


def handle(event):
    if isinstance(event, dict) and "message" in event:
        message = event["message"]
        if not isinstance(message, str):
            # Spelled as JSON, as the Node example does.
            message = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    else:
        message = "No message"
    print("hello-python: %s invocation %s attempt %s"
          % (os.environ.get("MINILAMBDA_FUNCTION_NAME", "hello-python"),
             os.environ.get("MINILAMBDA_INVOCATION_ID", "-"),
             os.environ.get("MINILAMBDA_ATTEMPT", "-")), file=sys.stderr)
    return {"message": "Processed: " + message, "input_received": event}


if __name__ == "__main__":
    serve(handle)
