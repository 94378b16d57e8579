"""A tiny site: /health for the load balancer, /api/hello and a page for everything else."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, "application/json", json.dumps({"status": "ok"}))
        elif self.path.startswith("/api/"):
            self._send(200, "application/json", json.dumps({"hello": "from the api"}))
        else:
            name = os.environ.get("SITE_NAME", "site")
            self._send(200, "text/html", f"<h1>{name}</h1>")

    def _send(self, status: int, kind: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
