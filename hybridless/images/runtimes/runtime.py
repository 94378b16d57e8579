"""hybridless's runtime program for Python handlers on ECS.

A built-in runtime's image runs this file, so a function written for Lambda
(`def handler(event, context)`, plain or `async`) runs unchanged in a container:

- httpd: an HTTP server on $PORT. Each request becomes an API Gateway proxy event (REST API,
  payload format 1.0) and the handler's answer becomes the response, as API Gateway would make
  it. The health route ($HYBRIDLESS_HEALTH_ROUTE) is answered here, without the handler: the
  load balancer asks it all the time, and a slow or failing dependency of the handler must not
  make a serving task look dead.
- process: the handler is called once with `{}`. A worker that returns has finished (exit 0);
  one that raises has failed (exit 1, and ECS starts another).
- scheduledTask: the same, with the event read from $HYBRIDLESS_EVENT (JSON text).

It is copied into images whose base the user picks, so it must run on any Python from 3.9 on
with the standard library alone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import inspect
import json
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

KINDS = ("httpd", "process", "scheduledTask")
# API Gateway refuses larger payloads; a container should not buffer more than Lambda would get.
MAX_BODY = 10 * 1024 * 1024
# ECS sets no deadline; a handler that budgets its work by the time left sees Lambda's longest.
LONGEST_TIMEOUT_MS = 900_000
# Hop-by-hop and framing headers are the server's to write, not the handler's.
SERVER_HEADERS = ("content-length", "transfer-encoding", "connection", "keep-alive")
INTERNAL_ERROR = b'{"message": "Internal server error"}'
REFUSED = {400: b'{"message": "Bad request"}', 413: b'{"message": "Request too large"}'}
EXIT_USAGE = 2
EXIT_STOPPED = 128 + signal.SIGTERM

Handler = Callable[[Any, Any], Any]


class Context:
    """The handler's second argument: the attributes Lambda handlers commonly read."""

    def __init__(self, handler: str) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = handler
        self.function_version = "$LATEST"
        self.invoked_function_arn = ""
        self.memory_limit_in_mb = ""
        self.log_group_name = ""
        self.log_stream_name = ""
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + LONGEST_TIMEOUT_MS / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class MalformedResponse(Exception):
    """The handler answered something API Gateway would refuse too (it answers 502)."""


def load(spec: str, root: str) -> Handler:
    """The function named by `src/api.handler` or `src.api.handler`, imported the way Lambda's
    Python runtime imports it: as a module of the code's root directory."""
    module_path, _, name = spec.rpartition(".")
    module_name = module_path.replace("/", ".").lstrip(".")
    if not module_name or not name:
        raise ValueError(f"handler {spec!r} must be <file path>.<function>, e.g. src/api.handler")
    # The script's own directory must not shadow the user's modules (a module named `runtime`).
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path[0] = root
    elif root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(module_name)
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"handler {spec!r}: {module_name} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def call(handler: Handler, event: Any, context: Context) -> Any:
    result = handler(event, context)
    if inspect.isawaitable(result):
        result = asyncio.run(_wait_for(result))
    return result


async def _wait_for(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def http_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    peer: str,
    protocol: str,
    request_id: str,
) -> dict[str, Any]:
    """The proxy event API Gateway would send for this request, through a `/{proxy+}` resource."""
    url = urlsplit(target)
    path = url.path or "/"
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query = parse_qsl(url.query, keep_blank_values=True)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in query:
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    text, encoded = _body_text(body)
    lowered = {name.lower(): value for name, value in headers}
    forwarded = lowered.get("x-forwarded-for", "").split(",")[0].strip()
    resource = "/" if path == "/" else "/{proxy+}"
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": None if path == "/" else {"proxy": path[1:]},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "protocol": protocol,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "stage": "$default",
            "domainName": lowered.get("host", ""),
            "identity": {
                "sourceIp": forwarded or peer,
                "userAgent": lowered.get("user-agent", ""),
            },
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def _body_text(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) from a proxy response; where both `headers` and
    `multiValueHeaders` name a header, the multi-value one wins, as in API Gateway."""
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("the handler must return a dict with statusCode")
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    headers: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((str(name), _header_value(value)) for value in values)
    named = {str(name).lower() for name in multi}
    headers.extend(
        (str(name), _header_value(value))
        for name, value in single.items()
        if str(name).lower() not in named
    )
    for name, _ in headers:
        if not name or any(c in name for c in " :\r\n"):
            raise MalformedResponse(f"{name!r} is not a header name")
    headers = [(n, v) for n, v in headers if n.lower() not in SERVER_HEADERS]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = result.get("body")
    if body is None:
        return status, headers, b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string (JSON-encode it first)")
    if result.get("isBase64Encoded"):
        try:
            return status, headers, base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("body is not base64 though isBase64Encoded is set") from None
    return status, headers, body.encode("utf-8")


def _header_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if "\r" in text or "\n" in text:
        raise MalformedResponse("a header value contains a line break")
    return text


class RequestTooLarge(Exception):
    pass


class HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    handler: Handler
    handler_name: str
    health_route: str

    def _serve(self) -> None:
        started = time.monotonic()
        route = urlsplit(self.path).path
        if route == self.health_route and self.command in ("GET", "HEAD"):
            self._reply(200, [("Content-Type", "text/plain")], b"ok")
            return
        context = Context(self.handler_name)
        try:
            body = self._read_body()
        except (RequestTooLarge, ValueError) as err:
            status = 413 if isinstance(err, RequestTooLarge) else 400
            self.close_connection = True
            self._log(status, len(REFUSED[status]), started)
            self._reply(status, [("Content-Type", "application/json")], REFUSED[status])
            return
        event = http_event(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            self.client_address[0],
            self.request_version,
            context.aws_request_id,
        )
        try:
            status, headers, data = http_response(call(self.handler, event, context))
        except Exception as err:
            what = "malformed response" if isinstance(err, MalformedResponse) else "error"
            print(
                f"{self.handler_name}: {what} for {self.command} {route}: "
                + "".join(traceback.format_exception_only(type(err), err)).strip(),
                file=sys.stderr,
                flush=True,
            )
            if not isinstance(err, MalformedResponse):
                traceback.print_exc(file=sys.stderr)
            status, headers, data = 502, [("Content-Type", "application/json")], INTERNAL_ERROR
        # Logged before the reply leaves: a task stopped right after its last answer still
        # shows the request in its log.
        self._log(status, len(data), started)
        self._reply(status, headers, data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise RequestTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise RequestTooLarge
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _log(self, status: int, size: int, started: float) -> None:
        elapsed = (time.monotonic() - started) * 1000
        print(
            f'{self.client_address[0]} "{self.command} {self.path}" {status} {size} '
            f"{elapsed:.0f}ms",
            flush=True,
        )

    def version_string(self) -> str:
        return "hybridless"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by `_log`, once, on stdout; the base class's lines are noise."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler: Handler, name: str, port: int, health_route: str) -> int:
    bound = type(
        "BoundHttpHandler",
        (HttpHandler,),
        {"handler": staticmethod(handler), "handler_name": name, "health_route": health_route},
    )
    server = Server(("0.0.0.0", port), bound)

    def stop(signum: int, frame: Any) -> None:
        # The balancer has drained the task before ECS sends SIGTERM; stop accepting and leave.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"hybridless: {name} listening on 0.0.0.0:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_once(handler: Handler, name: str, event: Any) -> int:
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(EXIT_STOPPED)

    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    try:
        call(handler, event, Context(name))
    except Exception:
        traceback.print_exc(file=sys.stderr)
        print(f"hybridless: {name} failed after {_since(started)}", file=sys.stderr, flush=True)
        return 1
    print(f"hybridless: {name} returned after {_since(started)}", flush=True)
    return 0


def _since(started: float) -> str:
    return f"{(time.monotonic() - started) * 1000:.0f}ms"


def main() -> int:
    kind = os.environ.get("HYBRIDLESS_KIND", "")
    spec = os.environ.get("HYBRIDLESS_HANDLER", "")
    if kind not in KINDS or not spec:
        print(
            f"hybridless: HYBRIDLESS_KIND must be one of {', '.join(KINDS)} (it is {kind!r}) "
            f"and HYBRIDLESS_HANDLER must name the handler (it is {spec!r})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        handler = load(spec, root)
    except Exception:
        traceback.print_exc(file=sys.stderr)
        print(f"hybridless: cannot load the handler {spec}", file=sys.stderr, flush=True)
        return 1
    if kind == "httpd":
        try:
            port = int(os.environ.get("PORT", "80"))
        except ValueError:
            print(f"hybridless: PORT={os.environ['PORT']!r} is not a port", file=sys.stderr)
            return EXIT_USAGE
        return serve(handler, spec, port, os.environ.get("HYBRIDLESS_HEALTH_ROUTE", ""))
    event: Any = {}
    if kind == "scheduledTask":
        try:
            event = json.loads(os.environ.get("HYBRIDLESS_EVENT") or "{}")
        except ValueError as err:
            print(f"hybridless: HYBRIDLESS_EVENT is not JSON: {err}", file=sys.stderr)
            return 1
    return run_once(handler, spec, event)


if __name__ == "__main__":
    sys.exit(main())
