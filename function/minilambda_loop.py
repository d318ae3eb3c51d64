"""minilambda_loop: run a Python handler as a minilambda function, cold or warm.

    from minilambda_loop import serve

    def handle(event):          # the event, parsed from JSON (None if empty)
        return {"ok": True}     # dict/list/number: JSON + newline; str/bytes: as is

    if __name__ == "__main__":
        serve(handle)

Without MINILAMBDA_LOOP (a fresh container per call, the classic contract)
serve() reads all of stdin once, runs the handler, writes its result to
stdout and exits with its code.

With MINILAMBDA_LOOP=1 (a function registered with "reuse": "process") the
process serves call after call on stdin/stdout:

    request:  {"id": "...", "function": "...", "attempt": 1,
               "deadline_ms": 1795790000000, "event_length": N,
               "nonce": "..."}\\n <N bytes>
    response: {"exit_code": 0, "result_length": M, "log_length": L,
               "nonce": "..."}\\n <M bytes> <L bytes>

For each call os.environ holds MINILAMBDA_INVOCATION_ID,
MINILAMBDA_FUNCTION_NAME, MINILAMBDA_ATTEMPT and MINILAMBDA_DEADLINE_MS of
that call; whatever the handler (or a program it runs) writes to stdout
becomes part of the result, so a stray print never breaks the framing;
reading stdin gives the event. What it writes to stderr (file descriptor
2, a child's included) is the call's log, sent in the answer (its L bytes),
so no line of one call can reach another's record. The answer echoes the
request's nonce: the platform takes no answer without it.

In both modes an exception gives exit code 1 with its traceback on stderr,
sys.exit(n) gives n, and an event that is not JSON gives 1 (pass raw=True
to get the event's bytes instead). Python 3 standard library only.
"""

import io
import json
import os
import sys
import tempfile
import traceback

__all__ = ["serve"]

# Request fields and the environment variables that carry them to the call.
_CALL_ENV = (
    ("id", "MINILAMBDA_INVOCATION_ID"),
    ("function", "MINILAMBDA_FUNCTION_NAME"),
    ("attempt", "MINILAMBDA_ATTEMPT"),
    ("deadline_ms", "MINILAMBDA_DEADLINE_MS"),
)
_MAX_LINE = 65536
_EXIT_PROTOCOL = 2


class ProtocolError(Exception):
    """The platform's stream broke the loop protocol: we cannot go on."""


def _log(msg):
    print("minilambda_loop: " + msg, file=sys.stderr, flush=True)


def _decode(raw, raw_mode):
    if raw_mode:
        return raw
    text = raw.decode("utf-8")
    return json.loads(text) if text.strip() else None


def _render(result):
    if result is None:
        return b""
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    return (json.dumps(result) + "\n").encode("utf-8")


def _run(handler, raw, raw_mode):
    """One call: (the rendered result, the exit code). Errors go to stderr."""
    try:
        event = _decode(raw, raw_mode)
    except ValueError as e:
        _log("the event is not JSON: %s" % e)
        return b"", 1
    try:
        return _render(handler(event)), 0
    except SystemExit as e:
        if e.code is None:
            return b"", 0
        if isinstance(e.code, int):
            return b"", e.code
        print(e.code, file=sys.stderr)
        return b"", 1
    except Exception:  # the handler's failure is the call's, never the loop's
        traceback.print_exc()
        return b"", 1


def _classic(handler, raw_mode):
    raw = sys.stdin.buffer.read()
    out, code = _run(handler, raw, raw_mode)
    sys.stdout.flush()
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    return code


def _scratch_fd(data=b""):
    """A private file holding `data`, read from its start: a memfd (no file
    system needed, so a read-only root is fine), else a temporary file."""
    try:
        fd = os.memfd_create("minilambda-loop", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        fd = os.dup(tempfile.TemporaryFile().fileno())
    if data:
        _write_all(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_fd(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _read_request(proto_in):
    """The next request (its fields, its event), or None at end of stream."""
    line = proto_in.readline(_MAX_LINE + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise ProtocolError("a request line is cut short or longer than %d bytes" % _MAX_LINE)
    try:
        req = json.loads(line)
    except ValueError as e:
        raise ProtocolError("a request line is not JSON: %s" % e)
    if not isinstance(req, dict):
        raise ProtocolError("a request line is not a JSON object")
    n = req.get("event_length")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ProtocolError("event_length must be an integer >= 0, not %r" % (n,))
    event = proto_in.read(n)
    if len(event) != n:
        raise ProtocolError("stdin ended %d bytes into a %d-byte event" % (len(event), n))
    return req, event


def _set_call_env(req):
    for field, var in _CALL_ENV:
        value = req.get(field)
        if value is not None:
            os.environ[var] = str(value)
        elif field != "function":
            os.environ.pop(var, None)


def _loop(handler, raw_mode):
    # The protocol moves to private descriptors; 0, 1 and 2 become the
    # call's: stdin gives the event, stdout is captured into the result,
    # stderr into the logs, both sent in the answer. Between calls stdout
    # goes to stderr and stdin is empty (what is written then is nobody's:
    # the platform discards a process that writes while idle).
    sys.stdout.flush()
    sys.stderr.flush()
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.dup(1)
    idle_err = os.dup(2)
    idle_in = _scratch_fd()
    os.dup2(idle_in, 0)
    os.dup2(2, 1)
    while True:
        got = _read_request(proto_in)
        if got is None:
            return 0
        req, raw = got
        _set_call_env(req)
        out_fd = _scratch_fd()
        err_fd = _scratch_fd()
        in_fd = _scratch_fd(raw)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.dup2(in_fd, 0)
        sys.stdin = io.TextIOWrapper(io.open(0, "rb", closefd=False), encoding="utf-8")
        try:
            result, code = _run(handler, raw, raw_mode)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(idle_err, 2)
            os.dup2(2, 1)
            os.dup2(idle_in, 0)
            os.close(in_fd)
        body = _read_fd(out_fd) + result
        logs = _read_fd(err_fd)
        os.close(out_fd)
        os.close(err_fd)
        answer = {"exit_code": code, "result_length": len(body), "log_length": len(logs)}
        if isinstance(req.get("nonce"), str):
            answer["nonce"] = req["nonce"]
        head = json.dumps(answer, separators=(",", ":"))
        _write_all(proto_out, head.encode("ascii") + b"\n" + body + logs)


def serve(handler, raw=False):
    """Run `handler` as the function: once (classic), or for every request
    of the loop protocol when MINILAMBDA_LOOP=1. Never returns: exits with
    the call's code (classic), 0 at the end of the requests, or 2 when the
    request stream is malformed."""
    if os.environ.get("MINILAMBDA_LOOP") == "1":
        try:
            code = _loop(handler, raw)
        except ProtocolError as e:
            _log(str(e))
            code = _EXIT_PROTOCOL
    else:
        code = _classic(handler, raw)
    sys.exit(code)
