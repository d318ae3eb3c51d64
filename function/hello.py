#!/usr/bin/env python3
"""minilambda example function.

The function contract: the event (JSON) arrives on stdin, the result goes to
stdout, logs go to stderr, exit 0 means success. This one echoes the event
back with a greeting built from it.
"""
import json
import os
import sys


def handle(event):
    if isinstance(event, dict) and isinstance(event.get("name"), str):
        subject = event["name"]
    else:
        subject = json.dumps(event, separators=(",", ":"))
    return {"message": "Processed: " + subject, "input_received": event}


def main():
    raw = sys.stdin.read()
    try:
        event = json.loads(raw) if raw.strip() else None
    except ValueError as e:
        print("hello-python: the event is not JSON: %s" % e, file=sys.stderr)
        return 1
    name = os.environ.get("MINILAMBDA_FUNCTION_NAME", "hello-python")
    invocation = os.environ.get("MINILAMBDA_INVOCATION_ID", "-")
    print("hello-python: %s invocation %s received %d bytes"
          % (name, invocation, len(raw)), file=sys.stderr)
    json.dump(handle(event), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
