"""A handler for tests/unit/loop_helpers.py, served by function/minilambda_loop.py
(found through ML_FUNCTION_DIR): what it does is chosen by the event's "op"."""
import os
import subprocess
import sys

sys.path.insert(0, os.environ["ML_FUNCTION_DIR"])
from minilambda_loop import serve  # noqa: E402

CALL_VARS = ("MINILAMBDA_INVOCATION_ID", "MINILAMBDA_FUNCTION_NAME",
             "MINILAMBDA_ATTEMPT", "MINILAMBDA_DEADLINE_MS")


def handle(event):
    op = event.get("op") if isinstance(event, dict) else None
    if op == "env":
        return {k: os.environ.get(k) for k in CALL_VARS}
    if op == "print":
        print("stray")
        sys.stdout.write("more ")
        return {"ok": 1}
    if op == "child":
        # Straight to file descriptor 1, past sys.stdout.
        subprocess.run(["echo", "from-child"], check=True)
        return "done\n"
    if op == "childerr":
        # Straight to file descriptor 2, past sys.stderr.
        subprocess.run(["sh", "-c", "echo child-err >&2"], check=True)
        return None
    if op == "raise":
        raise RuntimeError("boom")
    if op == "exit":
        sys.exit(event["code"])
    if op == "stdin":
        return sys.stdin.read()
    if op == "big":
        return "x" * event["n"]
    if op == "log":
        print("to-log", file=sys.stderr)
        return None
    if op == "bytes":
        return b"\x00\x01raw"
    return event


if __name__ == "__main__":
    serve(handle)
