"""The HTTP API on ECS: /health for the load balancer, /orders to post and list orders."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shop.orders import total


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._send(200, {"status": "ok"} if self.path == "/health" else {"orders": []})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        order = json.loads(self.rfile.read(length) or b"{}")
        self._send(201, {"total_cents": total(order.get("lines", []))})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def run() -> None:
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
