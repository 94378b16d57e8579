"""Network distance on 127.0.0.1: a TCP relay that puts a round-trip time between a client and
a local service.

On the ground every service answers in well under a millisecond, so what a tool saves by making
fewer round trips (not asking the registry about layers it knows are there, asking ECR about
several images at once) cannot show. A CI runner is a few to tens of milliseconds from its
registry and its AWS region. The relay delays every byte by half the round trip in each
direction, and the connection's first bytes by one more round trip (the TCP handshake), so a
request-response exchange costs what it would across that distance. It relays bytes, not
requests: any protocol (HTTP to ECR, the registry's API under `docker push`) goes through
unchanged, and a `Host` header still names the relay, so a registry's upload URLs come back
through it too.

Bandwidth is not shaped: only latency. A benchmark through a relay states the round trip it used.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 256 * 1024


class Distance:
    """Listens on 127.0.0.1:<port> (`address`) and relays to `upstream` ("host:port") with
    `rtt_ms` of round trip; serves from a thread of this process until `close()`."""

    def __init__(self, upstream: str, rtt_ms: float) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host or "127.0.0.1", int(port))
        self.one_way = rtt_ms / 2000
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            server_in, server_out = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_out.close()
            return
        try:
            await asyncio.gather(
                self._carry(client_in, server_out, self.one_way, 2 * self.one_way),
                self._carry(server_in, client_out, self.one_way, 0.0),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # closing the relay: the connection ends with it
        finally:
            for writer in (server_out, client_out):
                writer.close()

    async def _carry(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        delay: float,
        first_extra: float,
    ) -> None:
        """Bytes from `source` reach `sink` `delay` seconds after they arrived, in order."""
        loop = asyncio.get_running_loop()
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            extra = first_extra
            while True:
                data = await source.read(CHUNK)
                due.put_nowait((loop.time() + delay + extra, data))
                extra = 0.0
                if not data:
                    return

        reading = asyncio.ensure_future(read())
        try:
            while True:
                when, data = await due.get()
                await asyncio.sleep(max(0.0, when - loop.time()))
                if not data:
                    with contextlib.suppress(OSError):
                        sink.write_eof()
                    return
                sink.write(data)
                await sink.drain()
        finally:
            reading.cancel()

    async def _shutdown(self) -> None:
        self._server.close()
        current = asyncio.current_task()
        relays = [task for task in asyncio.all_tasks() if task is not current]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> Distance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
