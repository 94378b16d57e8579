"""Counting writes to the registry from its access log (bench/registry_log.py)."""

from __future__ import annotations

from pathlib import Path

from bench.registry_log import Tail, by_client, client_of, writes

CLI = (
    "docker/20.10.24+dfsg1 go/go1.19.8 git-commit/5d6db84 kernel/6.1 os/linux arch/amd64 "
    "UpstreamClient(Docker-Client/28.2.2 \\(linux\\))"
)
SDK = (
    "docker/20.10.24+dfsg1 go/go1.19.8 git-commit/5d6db84 kernel/6.1 os/linux arch/amd64 "
    "UpstreamClient(docker-sdk-python/7.2.0)"
)


def line(method: str, path: str, agent: str, status: int = 201) -> str:
    return (
        f'127.0.0.1 - - [22/Nov/2026:06:12:47 +0000] "{method} {path} HTTP/1.1" {status} 0 "" '
        f'"{agent}"'
    )


LOG = "\n".join(
    [
        line("HEAD", "/v2/app/web/blobs/sha256:aa", CLI, 200),
        line("POST", "/v2/app/web/blobs/uploads/", SDK, 202),
        line("PATCH", "/v2/app/web/blobs/uploads/u1?_state=x", SDK, 202),
        line("PUT", "/v2/app/web/blobs/uploads/u1?_state=x&digest=sha256:bb", SDK),
        line("PUT", "/v2/app/web/manifests/v1", SDK),
        line("GET", "/v2/app/web/manifests/sha256:cc", "Python-urllib/3.11", 200),
        line("PUT", "/v2/app/web/manifests/content-1", "Python-urllib/3.11"),
        line("PUT", "/v2/other/manifests/v1", CLI),
        line("PUT", "/v2/app/web-2/manifests/v1", CLI),
        # the registry's own structured line for the same request: not counted twice
        'time="2026-11-22T06:12:47Z" level=info msg="response completed" '
        "http.request.method=PUT http.request.uri=/v2/app/web/manifests/v1",
    ]
)


def test_the_client_is_the_one_the_engine_pushed_for() -> None:
    assert client_of(CLI) == "Docker-Client/28.2.2"
    assert client_of(SDK) == "docker-sdk-python/7.2.0"
    assert client_of("Python-urllib/3.11") == "Python-urllib/3.11"
    assert client_of("") == "-"


def test_writes_to_the_repositories_asked_about_are_counted_by_client() -> None:
    found = writes(LOG, {"app/web"})

    assert [(w.method, w.path.split("?")[0]) for w in found] == [
        ("POST", "blobs/uploads/"),
        ("PATCH", "blobs/uploads/u1"),
        ("PUT", "blobs/uploads/u1"),
        ("PUT", "manifests/v1"),
        ("PUT", "manifests/content-1"),
    ]
    assert by_client(found) == {"docker-sdk-python/7.2.0": 4, "Python-urllib/3.11": 1}
    assert sum(w.completes_blob for w in found) == 1
    assert by_client(writes(LOG, {"other", "app/web-2"})) == {"Docker-Client/28.2.2": 2}


def test_a_tail_reads_only_whole_lines_added_since_it_began(tmp_path: Path) -> None:
    log = tmp_path / "registry.log"
    log.write_text(line("PUT", "/v2/app/web/manifests/old", CLI) + "\n")
    tail = Tail(log)
    with log.open("a") as handle:
        handle.write(line("PUT", "/v2/app/web/manifests/new", CLI) + "\n" + "127.0.0.1 - - [2")

    assert [w.path for w in writes(tail.read(), {"app/web"})] == ["manifests/new"]
    with log.open("a") as handle:
        handle.write('2/Nov/2026:06:12:48 +0000] "PUT /v2/app/web/manifests/later HTTP/1.1" 201 0')
        handle.write(f' "" "{CLI}"\n')
    assert [w.path for w in writes(tail.read(), {"app/web"})] == ["manifests/later"]
