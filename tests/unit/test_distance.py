"""The relay that puts a round trip between a client and a local service
(proving_ground/distance.py): bytes arrive whole and in order, later by the distance, and a
closed relay takes no more connections."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from proving_ground.distance import Distance
from proving_ground.procs import Served


class Echo(BaseHTTPRequestHandler):
    """Answers a POST with the sha256 of its body followed by the body itself."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = hashlib.sha256(body).hexdigest().encode() + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    served = Served(Echo)
    yield served.url.removeprefix("http://")
    served.close()


def exchange(connection: http.client.HTTPConnection, body: bytes) -> bytes:
    connection.request("POST", "/", body=body)
    response = connection.getresponse()
    assert response.status == 200
    return response.read()


def test_large_bodies_cross_whole_and_in_order_both_ways(echo: str) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    with Distance(echo, rtt_ms=5) as relay:
        connection = http.client.HTTPConnection(relay.address, timeout=30)
        for _ in range(2):  # the second exchange reuses the connection
            answer = exchange(connection, body)
            assert answer[:64].decode() == hashlib.sha256(body).hexdigest()
            assert answer[64:] == body
        connection.close()
    assert relay.connections == 1


def test_an_exchange_costs_at_least_the_round_trip_and_a_new_connection_one_more(
    echo: str,
) -> None:
    with Distance(echo, rtt_ms=120) as relay:
        connection = http.client.HTTPConnection(relay.address, timeout=30)
        started = time.perf_counter()
        exchange(connection, b"first")
        first = time.perf_counter() - started
        started = time.perf_counter()
        exchange(connection, b"second")
        second = time.perf_counter() - started
        connection.close()
    assert first >= 0.24  # handshake + request and answer
    assert second >= 0.12


def test_a_closed_relay_takes_no_connections(echo: str) -> None:
    relay = Distance(echo, rtt_ms=0)
    port = relay.port
    relay.close()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_an_unreachable_upstream_closes_the_client_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        relay = Distance(f"127.0.0.1:{port}", rtt_ms=0)
        try:
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as client:
                assert client.recv(1) == b""
        finally:
            relay.close()
