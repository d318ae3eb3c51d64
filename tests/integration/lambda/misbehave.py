"""A runtime that misbehaves on the Runtime API, for lambda_runtime.sh.

Each call it takes with GET /next, it first does what a broken runtime
does, and records the status each got: a response for an id that is not
the call's, a request that is not HTTP, an unknown path, a wrong method, a
chunked body, an /init/error after its init. Then it posts the real
response: the statuses it saw, and the one a second response to the
previous call got (answered already).
"""
import http.client
import json
import os
import socket

host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
port = int(port)
BASE = "/2018-06-01/runtime"


def status_of(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def raw(data):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(data)
    got = b""
    while b"\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    try:
        return int(got.split(b" ")[1])
    except (IndexError, ValueError):
        return 0


previous = None
conn = http.client.HTTPConnection(host, port)
while True:
    conn.request("GET", BASE + "/invocation/next")
    r = conn.getresponse()
    event = r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    seen = {
        "wrong_id": status_of("POST", BASE + "/invocation/not-the-id/response", b"{}"),
        "garbage": raw(b"this is not HTTP\r\n\r\n"),
        "unknown": status_of("GET", BASE + "/nothing/here"),
        "method": status_of("DELETE", BASE + "/invocation/next"),
        "chunked": raw(b"POST " + BASE.encode() + b"/invocation/x/response HTTP/1.1\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "init_error_late": status_of("POST", BASE + "/init/error", b"{}"),
    }
    if previous is not None:
        seen["second"] = status_of("POST", BASE + f"/invocation/{previous}/response", b"{}")
    conn.request("POST", BASE + f"/invocation/{rid}/response", json.dumps(seen).encode())
    conn.getresponse().read()
    previous = rid
