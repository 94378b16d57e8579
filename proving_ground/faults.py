"""Faults on 127.0.0.1: an HTTP proxy in front of moto (or the registry) that fails a share of
the requests the way AWS fails them on a bad day.

A deploy tool that passes its tests against an emulator that always answers at once has shown
nothing about the night the API is throttling half the account. This proxy sits between the tool
and the emulator, reads each request, and either forwards it faithfully or answers with a fault,
drawn at the configured rates from a seeded generator:

- throttling, in the protocol's own form, since that form is what an SDK recognises: the JSON
  protocol's `ThrottlingException` (ECR, ECS, CodeDeploy, CloudWatch Logs), the query protocol's
  `Throttling` (CloudFormation, STS, ELBv2, IAM), S3's `503 SlowDown`, Lambda's
  `429 TooManyRequestsException`, and a registry's `429 TOOMANYREQUESTS`;
- server errors (500 and 503), in the same forms;
- connection resets: the connection is dropped with an RST and no answer, before the request
  reaches the service (a load balancer restarting), so a retry is always safe to make;
- latency: every request waits the given milliseconds first.

Which protocol a request speaks is read from the request itself: an `X-Amz-Target` header is the
JSON protocol, a form with `Action=` the query protocol, a `/v2/` path the registry API, and
otherwise the service named in the signature's credential scope (`s3` → REST-XML, else
REST-JSON). Every fault is counted by (protocol, kind), so a test can show each form was met.

With no fault rates it is a recorder: `requests` keeps every request seen (method, path, the
signing service, and the body of JSON and query calls), so a test can tell which operations a
tool made on which resources, as the service would have been asked them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "expect", "content-length",
}  # fmt: skip
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Seen:
    """One request as it arrived: enough to name its operation and the resources it names."""

    method: str
    path: str
    protocol: str
    service: str
    target: str
    body: bytes
    headers: tuple[str, ...] = ()  # their names, lower case


@dataclass(frozen=True)
class Rates:
    """The share of requests (0 to 1) answered with each fault; the rest are forwarded."""

    throttle: float = 0.0
    error: float = 0.0
    reset: float = 0.0
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.throttle + self.error + self.reset > 1:
            raise ValueError("the fault rates add up to more than 1")


def protocol_of(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """`json`, `query`, `rest-xml`, `rest-json` or `registry`, from the request alone."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "x-amz-target" in lowered:
        return "json"
    if path.startswith("/v2/") or path == "/v2":
        return "registry"
    content_type = lowered.get("content-type", "")
    if method == "POST" and "x-www-form-urlencoded" in content_type and b"Action=" in body:
        return "query"
    scope = SCOPE.search(lowered.get("authorization", ""))
    return "rest-xml" if scope and scope.group(1) == "s3" else "rest-json"


# (status, code) of each protocol's throttling, and of its two server errors.
FORMS: dict[str, dict[str, tuple[int, str]]] = {
    "json": {"throttle": (400, "ThrottlingException"), "500": (500, "InternalFailure"),
             "503": (503, "ServiceUnavailableException")},
    "query": {"throttle": (400, "Throttling"), "500": (500, "InternalFailure"),
              "503": (503, "ServiceUnavailable")},
    "rest-xml": {"throttle": (503, "SlowDown"), "500": (500, "InternalError"),
                 "503": (503, "ServiceUnavailable")},
    "rest-json": {"throttle": (429, "TooManyRequestsException"), "500": (500, "ServiceException"),
                  "503": (503, "ServiceException")},
    "registry": {"throttle": (429, "TOOMANYREQUESTS"), "500": (500, "UNKNOWN"),
                 "503": (503, "UNAVAILABLE")},
}  # fmt: skip


def fault_response(protocol: str, kind: str, pick: float) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a `throttle` or `error` fault as the protocol's services send
    it; `pick` in [0, 1) chooses between 500 and 503 for errors."""
    form = "throttle" if kind == "throttle" else "503" if pick >= 0.5 else "500"
    status, code = FORMS[protocol][form]
    message = _message(kind)
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1",
                        "x-amzn-RequestId": request_id}, body  # fmt: skip
    if protocol == "query":
        side = "Sender" if kind == "throttle" else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{side}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    if protocol == "rest-xml":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body
    if protocol == "registry":
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        return status, {"Content-Type": "application/json"}, body
    body = json.dumps({"Type": "User" if kind == "throttle" else "Service",
                       "message": message}).encode()  # fmt: skip
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code,
                    "x-amzn-RequestId": request_id}, body  # fmt: skip


def _message(kind: str) -> str:
    return "Rate exceeded" if kind == "throttle" else "We encountered an internal error."


class Faults:
    """Listens on 127.0.0.1:<port> (`address`, `url`) and serves from threads of this process
    until `close()`; `injected` counts the faults given, `forwarded` the requests passed on."""

    def __init__(self, upstream: str, rates: Rates, seed: int = 0) -> None:
        host, _, port = upstream.removeprefix("http://").rstrip("/").rpartition(":")
        self.upstream = (host or "127.0.0.1", int(port))
        self.rates = rates
        self.injected: Counter[tuple[str, str]] = Counter()
        self.forwarded = 0
        self.requests: list[Seen] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"
        # moto finds a template's bucket in a TemplateURL only on a host named localhost
        self.url = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def draw(self) -> tuple[str | None, float]:
        """Which fault this request gets (None: forward it), and a pick for its form."""
        with self._lock:
            roll, pick = self._random.random(), self._random.random()
        rates = self.rates
        if roll < rates.throttle:
            return "throttle", pick
        if roll < rates.throttle + rates.error:
            return "error", pick
        if roll < rates.throttle + rates.error + rates.reset:
            return "reset", pick
        return None, pick

    def see(
        self, method: str, path: str, protocol: str, headers: dict[str, str], body: bytes
    ) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        scope = SCOPE.search(lowered.get("authorization", ""))
        # JSON and query bodies name the resources; of REST bodies, only DeleteObjects' list
        kept = body if protocol in ("json", "query") or "?delete" in path else b""
        seen = Seen(method, path, protocol, scope.group(1) if scope else "",
                    lowered.get("x-amz-target", ""), kept, tuple(sorted(lowered)))  # fmt: skip
        with self._lock:
            self.requests.append(seen)

    def count(self, protocol: str, kind: str | None) -> None:
        with self._lock:
            if kind is None:
                self.forwarded += 1
            else:
                self.injected[(protocol, kind)] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        faults = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream: http.client.HTTPConnection | None = None

            def do_GET(self) -> None:
                self._serve()

            do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

            def _serve(self) -> None:
                body = self._body()
                headers = {k: v for k, v in self.headers.items()}
                protocol = protocol_of(self.command, self.path, headers, body)
                faults.see(self.command, self.path, protocol, headers, body)
                kind, pick = faults.draw()
                faults.count(protocol, kind)
                if faults.rates.latency_ms:
                    time.sleep(faults.rates.latency_ms / 1000)
                if kind == "reset":
                    self._reset()
                elif kind is not None:
                    self._answer(*fault_response(protocol, kind, pick))
                else:
                    self._forward(headers, body)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reset(self) -> None:
                """Drop the connection with an RST: SO_LINGER on, with a zero timeout."""
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _forward(self, headers: dict[str, str], body: bytes) -> None:
                sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    sent["Content-Length"] = str(len(body))
                response = self._exchange(sent, body)
                data = response.read()
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                if self.command == "HEAD":
                    length = response.getheader("Content-Length")
                    if length is not None:
                        self.send_header("Content-Length", length)
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _exchange(self, headers: dict[str, str], body: bytes) -> Any:
                """One request upstream on this connection's own keep-alive connection; one
                more try on a fresh connection when the kept one was closed meanwhile."""
                for attempt in (1, 2):
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(*faults.upstream, timeout=300)
                    try:
                        self.upstream.request(self.command, self.path, body or None, headers)
                        return self.upstream.getresponse()
                    except (http.client.HTTPException, OSError):
                        self.upstream.close()
                        self.upstream = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            def finish(self) -> None:
                super().finish()
                if self.upstream is not None:
                    self.upstream.close()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def total(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(n for (_, k), n in self.injected.items() if kind is None or k == kind)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
