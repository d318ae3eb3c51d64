"""The loop-protocol helpers (function/minilambda_loop.py and
function/node/minilambda-loop.js) and the example functions, run with pipes:
the classic contract without MINILAMBDA_LOOP, and with MINILAMBDA_LOOP=1 a
session of requests whose responses are parsed and checked. Prints TAP."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTION_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "function"))
TIMEOUT = 120

results = []


def check(desc, ok, detail=""):
    results.append(ok)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), desc))
    if not ok and detail:
        for line in str(detail)[:1500].splitlines():
            print("#   " + line)
    sys.stdout.flush()


def run(cmd, stdin, loop):
    env = dict(os.environ, ML_FUNCTION_DIR=FUNCTION_DIR, PYTHONDONTWRITEBYTECODE="1")
    env.pop("MINILAMBDA_LOOP", None)
    for k in ("MINILAMBDA_INVOCATION_ID", "MINILAMBDA_ATTEMPT", "MINILAMBDA_DEADLINE_MS"):
        env.pop(k, None)
    env["MINILAMBDA_FUNCTION_NAME"] = "created-with"
    if loop:
        env["MINILAMBDA_LOOP"] = "1"
    p = subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def slow_reader(cmd, stdin):
    """Run `cmd` in loop mode over `stdin` and read its stdout only after it
    had a second to exit: a helper that exits before its last response left
    it (the pipe being full) loses the rest. The second bounds a wait for
    something that must not happen; it synchronises nothing."""
    env = dict(os.environ, ML_FUNCTION_DIR=FUNCTION_DIR, PYTHONDONTWRITEBYTECODE="1",
               MINILAMBDA_LOOP="1")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(stdin)
    p.stdin.close()
    try:
        p.wait(timeout=1)
    except subprocess.TimeoutExpired:
        pass
    out = p.stdout.read()
    p.stdout.close()
    return p.wait(timeout=TIMEOUT), out


def nonce_of(fields):
    """The nonce a request with `fields` carries: one per invocation id."""
    return "n0nce%s" % "".join(c for c in str(fields.get("id", "")) if c.isalnum())


def request(event, **fields):
    fields["event_length"] = len(event)
    fields.setdefault("nonce", nonce_of(fields))
    return json.dumps(fields).encode() + b"\n" + event


def parse_responses(out):
    """[(exit_code, result bytes, log bytes, nonce)...], or raise ValueError
    on bad framing."""
    responses = []
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        head = json.loads(out[pos:nl])
        if set(head) != {"exit_code", "result_length", "log_length", "nonce"}:
            raise ValueError("unexpected response fields %r" % head)
        n, g = head["result_length"], head["log_length"]
        body = out[nl + 1:nl + 1 + n]
        logs = out[nl + 1 + n:nl + 1 + n + g]
        if len(body) != n or len(logs) != g:
            raise ValueError("a response is cut short")
        responses.append((head["exit_code"], body, logs, head["nonce"]))
        pos = nl + 1 + n + g
    return responses


def ev(obj):
    return json.dumps(obj).encode()


def test_helper(lang, cmd):
    # --- classic: one event on stdin, the result on stdout ---------------
    rc, out, err = run(cmd, ev({"op": "echo", "v": [1, "é"]}), False)
    check("%s classic: the result of a returned object is its JSON" % lang,
          rc == 0 and json.loads(out) == {"op": "echo", "v": [1, "é"]} and out.endswith(b"\n"),
          (rc, out, err))
    rc, out, err = run(cmd, ev({"op": "print"}), False)
    check("%s classic: prints come first, then the result" % lang,
          rc == 0 and out.startswith(b"stray\nmore ") and json.loads(out[11:]) == {"ok": 1},
          (rc, out, err))
    rc, out, err = run(cmd, ev({"op": "raise"}), False)
    check("%s classic: an exception exits 1 with its trace on stderr" % lang,
          rc == 1 and b"boom" in err and (b"Traceback" in err or b"Error: boom\n    at " in err),
          (rc, out, err))
    rc, out, err = run(cmd, ev({"op": "exit", "code": 3}), False)
    check("%s classic: the handler's exit code" % lang, rc == 3, (rc, out, err))
    rc, out, err = run(cmd, b"{not json", False)
    check("%s classic: an event that is not JSON exits 1" % lang,
          rc == 1 and b"not JSON" in err, (rc, out, err))
    rc, out, err = run(cmd, b"", False)
    check("%s classic: no event is null, and nothing returned writes nothing" % lang,
          rc == 0 and out == b"", (rc, out, err))

    # --- loop: a session of requests ---------------------------------------
    big_event = ev({"op": "big", "n": 1 << 20, "pad": "p" * (1 << 20)})
    calls = [
        (request(ev({"op": "env"}), id="i-1", function="fx", attempt=1, deadline_ms=123),
         lambda c, r: c == 0 and json.loads(r) == {
             "MINILAMBDA_INVOCATION_ID": "i-1", "MINILAMBDA_FUNCTION_NAME": "fx",
             "MINILAMBDA_ATTEMPT": "1", "MINILAMBDA_DEADLINE_MS": "123"},
         "the call's values are in the environment"),
        (request(ev({"op": "env"}), id="i-2", attempt=2),
         lambda c, r: c == 0 and json.loads(r) == {
             "MINILAMBDA_INVOCATION_ID": "i-2", "MINILAMBDA_FUNCTION_NAME": "fx",
             "MINILAMBDA_ATTEMPT": "2", "MINILAMBDA_DEADLINE_MS": None},
         "the next call's values replace them; an absent one is unset"),
        (request(ev({"op": "print"}), id="i-3"),
         lambda c, r: c == 0 and r.startswith(b"stray\nmore ") and json.loads(r[11:]) == {"ok": 1},
         "stray prints are captured into the result"),
        (request(ev({"op": "raise"}), id="i-4"),
         lambda c, r: c == 1 and r == b"",
         "an exception is exit_code 1"),
        (request(ev({"op": "exit", "code": 3}), id="i-5"),
         lambda c, r: c == 3,
         "the handler's exit code"),
        (request(big_event, id="i-6"),
         lambda c, r: c == 0 and r == b"x" * (1 << 20),
         "a 1 MiB event and a 1 MiB result"),
        (request(b"{not json", id="i-7"),
         lambda c, r: c == 1 and r == b"",
         "an event that is not JSON is exit_code 1"),
        (request(b"", id="i-8"),
         lambda c, r: c == 0 and r == b"",
         "an empty event"),
        (request(ev({"op": "bytes"}), id="i-9"),
         lambda c, r: c == 0 and r == b"\x00\x01raw",
         "bytes are returned as they are"),
        (request(ev({"op": "log"}), id="i-10"),
         lambda c, r: c == 0 and r == b"",
         "a call that only logs"),
    ]
    if lang == "python":
        calls += [
            (request(ev({"op": "stdin", "k": 1}), id="i-s"),
             lambda c, r: c == 0 and json.loads(r) == {"op": "stdin", "k": 1},
             "stdin gives the call its event"),
            (request(ev({"op": "child"}), id="i-c"),
             lambda c, r: c == 0 and r == b"from-child\ndone\n",
             "what a child process writes to stdout is captured too"),
            (request(ev({"op": "childerr"}), id="i-ce"),
             lambda c, r: c == 0 and r == b"",
             "a child process writing to stderr"),
        ]
    else:
        calls += [
            (request(ev({"op": "async"}), id="i-a"),
             lambda c, r: c == 0 and json.loads(r) == {"waited": True},
             "an async handler is awaited"),
        ]
    session = b"".join(c[0] for c in calls)
    rc, out, err = run(cmd, session, True)
    check("%s loop: exit 0 at the end of the requests" % lang, rc == 0, (rc, err))
    try:
        responses = parse_responses(out)
        framing = None
    except ValueError as e:
        responses, framing = [], e
    check("%s loop: one well-formed response per request" % lang,
          framing is None and len(responses) == len(calls), (framing, len(responses), out[:300]))
    for (req, ok, desc), got in zip(calls, responses):
        check("%s loop: %s" % (lang, desc), ok(got[0], got[1]), (got[0], got[1][:300]))
    want = [nonce_of(json.loads(c[0].split(b"\n", 1)[0])) for c in calls]
    check("%s loop: every answer echoes its request's nonce" % lang,
          [got[3] for got in responses] == want, ([got[3] for got in responses], want))
    logs = {json.loads(c[0].split(b"\n", 1)[0])["id"]: got[2] for c, got in zip(calls, responses)}
    check("%s loop: the exception's trace and the logs are in their call's answer" % lang,
          b"boom" in logs.get("i-4", b"") and logs.get("i-10") == b"to-log\n"
          and all(v == b"" for k, v in logs.items() if k not in ("i-4", "i-10", "i-7", "i-ce")),
          logs)
    check("%s loop: the logs of the calls are not on stderr too" % lang,
          b"boom" not in err and b"to-log" not in err, err)
    if lang == "python":
        check("python loop: a child process's stderr is in its call's logs",
              logs.get("i-ce") == b"child-err\n", logs.get("i-ce"))

    rc, out = slow_reader(cmd, request(ev({"op": "big", "n": 1 << 20}), id="slow"))
    try:
        responses = parse_responses(out)
    except ValueError as e:
        responses = [e]
    check("%s loop: a slow reader still gets the whole last response" % lang,
          rc == 0 and [r[:2] for r in responses] == [(0, b"x" * (1 << 20))], (rc, len(out)))

    for desc, stream in (
            ("a request line that is not JSON", b"not json\n"),
            ("a request that is not an object", b"[1]\n"),
            ("a negative event_length", b'{"event_length":-1}\n'),
            ("no event_length", b'{"id":"x"}\n'),
            ("stdin ending inside an event", b'{"event_length":10}\nabc'),
            ("stdin ending inside a request line", b'{"event_len')):
        rc, out, err = run(cmd, stream, True)
        check("%s loop: %s exits 2, saying why" % (lang, desc),
              rc == 2 and out == b"" and b"minilambda" in err, (rc, out, err))


def test_example(lang, cmd):
    cases = (
        ({"message": "Hello from Mini Lambda!"}, "Processed: Hello from Mini Lambda!"),
        ({"name": "world"}, "Processed: No message"),
        ([1, 2], "Processed: No message"),
        (None, "Processed: No message"),
        ({"message": 42}, "Processed: 42"),
    )
    for event, message in cases:
        raw = b"" if event is None else ev(event)
        rc, out, err = run(cmd, raw, False)
        try:
            answer = json.loads(out)
        except ValueError:
            answer = None
        check("%s example classic: %s -> %s" % (lang, raw.decode() or "no event", message),
              rc == 0 and answer == {"message": message, "input_received": event},
              (rc, out, err))
    session = b"".join(request(b"" if e is None else ev(e), id="x-%d" % i, attempt=i + 1)
                       for i, (e, _) in enumerate(cases))
    rc, out, err = run(cmd, session, True)
    try:
        responses = parse_responses(out)
    except ValueError:
        responses = []
    answers = []
    for code, body, _, _ in responses:
        try:
            answers.append((code, json.loads(body)))
        except ValueError:
            answers.append((code, body))
    check("%s example loop: every answer as the classic one" % lang,
          rc == 0 and answers == [(0, {"message": m, "input_received": e}) for e, m in cases],
          (rc, answers, err))
    check("%s example loop: each call's log line, with its own invocation id, in its answer"
          % lang,
          len(responses) == len(cases)
          and all(("invocation x-%d attempt %d" % (i, i + 1)).encode() in r[2]
                  and ("invocation x-%d " % (i + 1)).encode() not in r[2]
                  for i, r in enumerate(responses)), (responses, err))


def main():
    python = sys.executable or "python3"
    test_helper("python", [python, os.path.join(HERE, "loop_fixture.py")])
    test_helper("node", ["node", os.path.join(HERE, "loop_fixture.js")])
    test_example("python", [python, os.path.join(FUNCTION_DIR, "hello.py")])
    test_example("node", ["node", os.path.join(FUNCTION_DIR, "node", "index.js")])
    print("1..%d" % len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
