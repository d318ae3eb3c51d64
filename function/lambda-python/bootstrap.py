#!/usr/bin/env python3
"""minilambda's Python handler runtime: a bootstrap on the AWS Lambda
Runtime API, standard library only.

It imports the handler named by _HANDLER ("module.function", the module
under LAMBDA_TASK_ROOT) once, then asks for invocations one after the
other (GET /2018-06-01/runtime/invocation/next on AWS_LAMBDA_RUNTIME_API,
HTTP/1.1 on one keep-alive socket)
and calls handler(event, context) for each: the event is the body as JSON,
the return value goes back as JSON to .../response, an exception to
.../error as {"errorMessage", "errorType", "stackTrace"}, as Lambda's own
Python runtime reports it. A handler that cannot be loaded is reported to
/init/error (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...) and
the runtime exits. stdout and stderr are the invocation's logs.

Install it as /var/runtime/bootstrap (executable), or run it as the
image's command; minilambda-init (protocol "lambda") starts it.
"""
import importlib
import json
import os
import socket
import sys
import time
import traceback
import types

BASE = "/2018-06-01/runtime"


class Response:
    """A Runtime API answer: its status, headers (by lowercase name) and body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class RuntimeClient:
    """One keep-alive HTTP/1.1 connection to the Runtime API, spoken
    directly on a socket: the API answers with a Content-Length, and
    http.client's header parsing (the email package) would be most of a
    call's cost here."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host, int(port))
        self.host = address
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection(self.addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _read_more(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the Runtime API closed the connection")
        self.buf += chunk

    def _exchange(self, method, path, body, headers):
        head = [f"{method} {BASE}{path} HTTP/1.1", f"Host: {self.host}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._read_more()
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {lines[0][:80]!r}")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        while len(self.buf) < length:
            self._read_more()
        data, self.buf = self.buf[:length], self.buf[length:]
        if fields.get("connection", "").lower() == "close":
            self._close()
        return Response(int(parts[1]), fields, data)

    def call(self, method, path, body=b"", headers=None):
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                resp = self._exchange(method, path, body, headers or {})
                return resp, resp.body
            except OSError:
                self._close()
                if attempt == 1 or method != "GET":
                    raise
        raise RuntimeError("unreachable")

    def post(self, path, payload, error_type=None):
        headers = {"Content-Type": "application/json"}
        if error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        resp, _ = self.call("POST", path, payload, headers)
        return resp.status


def error_body(exc, error_type=None):
    """Lambda's shape of an exception."""
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(tb),
    }


def flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


class Context:
    """What Lambda's Python runtime hands a handler besides the event."""

    def __init__(self, headers):
        env = os.environ
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id", "")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        try:
            self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))
        except ValueError:
            self._deadline_ms = 0
        self.client_context = self._client_context(headers.get("lambda-runtime-client-context"))
        self.identity = self._identity(headers.get("lambda-runtime-cognito-identity"))

    @staticmethod
    def _client_context(text):
        if not text:
            return None
        try:
            cc = json.loads(text)
        except ValueError:
            return None
        client = cc.get("client") if isinstance(cc, dict) else None
        return types.SimpleNamespace(
            client=types.SimpleNamespace(**client) if isinstance(client, dict) else None,
            custom=cc.get("custom") if isinstance(cc, dict) else None,
            env=cc.get("env") if isinstance(cc, dict) else None,
        )

    @staticmethod
    def _identity(text):
        ident = {}
        if text:
            try:
                ident = json.loads(text)
            except ValueError:
                ident = {}
        if not isinstance(ident, dict):
            ident = {}
        return types.SimpleNamespace(
            cognito_identity_id=ident.get("cognitoIdentityId"),
            cognito_identity_pool_id=ident.get("cognitoIdentityPoolId"),
        )

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def init_error(client, error_type, message):
    body = json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})
    print(f"[ERROR] {error_type}: {message}", file=sys.stderr)
    flush()
    client.post("/init/error", body.encode(), error_type)
    sys.exit(1)


def load_handler(client):
    name = os.environ.get("_HANDLER", "")
    module_name, _, func_name = name.rpartition(".")
    if not module_name or not func_name:
        init_error(client, "Runtime.MalformedHandlerName",
                   f"Bad handler '{name}': not enough values to unpack (expected 2, got 1)")
    root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        init_error(client, "Runtime.ImportModuleError",
                   f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        init_error(client, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except Exception as exc:  # the module raised while it was imported
        init_error(client, type(exc).__name__, str(exc))
    handler = getattr(module, func_name, None)
    if not callable(handler):
        init_error(client, "Runtime.HandlerNotFound",
                   f"Handler '{func_name}' missing on module '{module_name}'")
    return handler


def main():
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    handler = load_handler(client)
    while True:
        resp, body = client.call("GET", "/invocation/next")
        if resp.status != 200:
            print(f"[ERROR] /invocation/next answered {resp.status}: {body[:200]!r}", file=sys.stderr)
            flush()
            sys.exit(1)
        context = Context(resp.headers)
        rid = context.aws_request_id
        try:
            event = json.loads(body) if body else None
        except ValueError as exc:
            flush()
            client.post(f"/invocation/{rid}/error",
                        json.dumps(error_body(exc, "Runtime.UnmarshalError")).encode(),
                        "Runtime.UnmarshalError")
            continue
        try:
            result = handler(event, context)
        except Exception as exc:
            err = error_body(exc)
            err["requestId"] = rid
            print(f"[ERROR] {err['errorType']}: {err['errorMessage']}", file=sys.stderr)
            flush()
            client.post(f"/invocation/{rid}/error", json.dumps(err).encode(), err["errorType"])
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            flush()
            client.post(f"/invocation/{rid}/error",
                        json.dumps(error_body(exc, "Runtime.MarshalError")).encode(),
                        "Runtime.MarshalError")
            continue
        flush()
        client.post(f"/invocation/{rid}/response", payload)


if __name__ == "__main__":
    main()
