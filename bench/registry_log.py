"""What was written to the proving ground's registry, read from its access log.

The registry (distribution 2.8) writes one combined-format line per request, next to its own
structured lines:

    127.0.0.1 - - [22/Nov/2026:06:12:47 +0000] "PUT /v2/app/web/manifests/v3 HTTP/1.1" 201 0 ""
        "docker/20.10.24 ... UpstreamClient(Docker-Client/28.2.2 \\(linux\\))"

(one line, wrapped here). A write is a PUT, POST or PATCH. The client is read from the user
agent: the Docker engine names the client that asked it to push in `UpstreamClient(...)` (the
docker CLI, the Python SDK); anything else is named by its first product token (the local ECR
mirroring a `PutImage` is `Python-urllib`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) /v2/(?P<repository>\S+?)/(?P<kind>manifests|blobs|tags)/(?P<rest>\S*)'
    r' HTTP/[\d.]+" (?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"'
)
UPSTREAM = re.compile(r"UpstreamClient\(([^\s()\\]+)")
WRITES = frozenset({"PUT", "POST", "PATCH"})


@dataclass(frozen=True)
class Write:
    method: str
    repository: str
    path: str  # after /v2/<repository>/
    client: str

    @property
    def completes_blob(self) -> bool:
        """The PUT that ends a blob upload: one per blob really sent."""
        return self.method == "PUT" and self.path.startswith("blobs/uploads/")


def client_of(agent: str) -> str:
    """`Docker-Client/28.2.2` for the engine pushing for the CLI; `Python-urllib/3.11` as is."""
    upstream = UPSTREAM.search(agent)
    if upstream:
        return upstream[1]
    return agent.split(" ", 1)[0] or "-"


def writes(text: str, repositories: Collection[str]) -> list[Write]:
    """The writes in `text` (access-log lines) to any of `repositories`."""
    found = []
    for line in text.splitlines():
        match = ACCESS.search(line)
        if match and match["method"] in WRITES and match["repository"] in repositories:
            found.append(
                Write(
                    method=match["method"],
                    repository=match["repository"],
                    path=f"{match['kind']}/{match['rest']}",
                    client=client_of(match["agent"]),
                )
            )
    return found


def by_client(found: list[Write]) -> Counter[str]:
    return Counter(write.client for write in found)


class Tail:
    """The lines a log gains from now on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def read(self) -> str:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        data = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self.offset += len(data)
        return data.decode(errors="replace")
