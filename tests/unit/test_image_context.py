"""The build context the tool sends, and the content hash that lets a later deploy skip it."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from hybridless.errors import PhaseError
from hybridless.images.context import collect
from hybridless.images.push import PushProgress, is_transient
from hybridless.images.tags import is_ours
from hybridless.model import FileCopy, Image


def project(root: Path) -> Path:
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (root / "app.py").write_text("print('hi')\n")
    (root / "lib").mkdir()
    (root / "lib" / "util.py").write_text("X = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    return root


def image(root: Path, **overrides: object) -> Image:
    values: dict[str, object] = {
        "name": "api",
        "repository": "svc/api-0-dev",
        "context": root,
        "dockerfile": "Dockerfile",
    }
    values.update(overrides)
    return Image(**values)  # type: ignore[arg-type]


def content_hash(root: Path, **overrides: object) -> str:
    return collect(image(root, **overrides)).content_hash()


def archived(root: Path, **overrides: object) -> dict[str, bytes | None]:
    with collect(image(root, **overrides)).archive() as spool, tarfile.open(fileobj=spool) as tar:
        return {
            member.name: (tar.extractfile(member).read() if member.isfile() else None)  # type: ignore[union-attr]
            for member in tar.getmembers()
        }


def test_the_hash_ignores_times_and_where_the_checkout_is(tmp_path: Path) -> None:
    first = project(tmp_path / "a")
    before = content_hash(first)
    os.utime(first / "app.py", (1, 1))
    second = tmp_path / "b"
    shutil.copytree(first, second)
    assert content_hash(first) == before
    assert content_hash(second) == before


@pytest.mark.parametrize(
    "change",
    ["content", "new file", "executable bit", "build arg", "platform", "dockerfile"],
)
def test_the_hash_changes_with_what_a_build_can_see(tmp_path: Path, change: str) -> None:
    root = project(tmp_path / "p")
    before = content_hash(root, build_args=(("MODE", "a"),))
    overrides: dict[str, object] = {"build_args": (("MODE", "a"),)}
    if change == "content":
        (root / "lib" / "util.py").write_text("X = 2\n")
    elif change == "new file":
        (root / "lib" / "more.py").write_text("")
    elif change == "executable bit":
        (root / "app.py").chmod(0o755)
    elif change == "build arg":
        overrides["build_args"] = (("MODE", "b"),)
    elif change == "platform":
        overrides["platform"] = "linux/arm64"
    else:
        (root / "Dockerfile.other").write_text("FROM scratch\nCOPY . /app\n")
        before = content_hash(root, build_args=(("MODE", "a"),))
        overrides["dockerfile"] = "Dockerfile.other"
    assert content_hash(root, **overrides) != before


def test_files_the_dockerignore_leaves_out_are_neither_sent_nor_hashed(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (root / ".dockerignore").write_text("# local state\n\nnode_modules\n*.log\n")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "big.js").write_text("1")
    (root / "debug.log").write_text("1")
    before = content_hash(root)
    (root / "node_modules" / "big.js").write_text("2")
    (root / "debug.log").write_text("2")
    assert content_hash(root) == before
    names = set(archived(root))
    assert {"Dockerfile", "app.py", "lib/util.py", "run.sh", ".dockerignore"} <= names
    assert not any(n.startswith("node_modules") or n.endswith(".log") for n in names)


def test_the_dockerfile_is_sent_even_when_ignored(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (root / ".dockerignore").write_text("Dockerfile\n")
    assert "Dockerfile" in archived(root)


def test_additional_files_land_at_their_target_and_count_in_the_hash(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "config.json").write_text('{"a": 1}')
    (shared / "certs").mkdir()
    (shared / "certs" / "ca.pem").write_text("PEM")
    copies = (
        FileCopy(source=shared / "config.json", target="etc/config.json"),
        FileCopy(source=shared / "certs", target="etc/certs"),
        FileCopy(source=shared / "config.json", target="app.py"),
    )
    files = archived(root, copies=copies)
    assert files["etc/config.json"] == b'{"a": 1}'
    assert files["etc/certs/ca.pem"] == b"PEM"
    assert files["app.py"] == b'{"a": 1}'  # a copy wins over the project's file of that name
    before = content_hash(root, copies=copies)
    (shared / "certs" / "ca.pem").write_text("PEM2")
    assert content_hash(root, copies=copies) != before


def test_executable_bits_survive_into_the_archive(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    with collect(image(root)).archive() as spool, tarfile.open(fileobj=spool) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
        owners = {(m.uid, m.gid) for m in tar.getmembers()}
    assert modes["run.sh"] & 0o111
    assert not modes["app.py"] & 0o111
    assert owners == {(0, 0)}


def test_a_dockerfile_outside_the_context_is_a_clear_error(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    with pytest.raises(PhaseError, match=r"api: \.\./Dockerfile is not in the build context"):
        collect(image(root, dockerfile="../Dockerfile"))


def test_content_tags_are_the_tool_s_own() -> None:
    assert is_ours("content-" + "a" * 64)
    assert is_ours("20261122T101500.123Z-1a2b3c4")
    assert not is_ours("content-latest")
    assert not is_ours("release-1.0")


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("Put https://r/v2/x/blobs/uploads/: read: connection reset by peer", True),
        ("received unexpected HTTP status: 503 Service Unavailable", True),
        ("toomanyrequests: Rate exceeded", True),
        ('error parsing HTTP 429 response body: unexpected end of JSON input: ""', True),
        ("error parsing HTTP 503 response body: invalid character '<'", True),
        ("error parsing HTTP 404 response body: unexpected end of JSON input", False),
        ("net/http: TLS handshake timeout", True),
        ("denied: User is not authorized to perform ecr:InitiateLayerUpload", False),
        ("name unknown: The repository with name 'x' does not exist", False),
    ],
)
def test_which_push_failures_are_tried_again(message: str, transient: bool) -> None:
    assert is_transient(message) is transient


def test_push_progress_counts_uploaded_and_present_layers() -> None:
    progress = PushProgress.start()
    for chunk in (
        {"id": "a", "status": "Preparing"},
        {
            "id": "a",
            "status": "Pushing",
            "progressDetail": {"current": 1_000_000, "total": 4_000_000},
        },
        {"id": "b", "status": "Layer already exists"},
        {"id": "c", "status": "Mounted from other/repo"},
    ):
        progress.record(chunk)
    assert progress.line() == "uploading, 1.0 of 4.0 MB"
    progress.record({"id": "a", "status": "Pushed"})
    assert progress.summary() == "1 layer(s) uploaded, 2 already in the registry"


def test_a_built_in_runtime_leaves_local_environments_out_unless_told(tmp_path: Path) -> None:
    from hybridless.model import BuiltinRuntime

    root = project(tmp_path / "p")
    for junk in (
        ".git/HEAD",
        "node_modules/x/index.js",
        "lib/__pycache__/util.pyc",
        ".venv/bin/py",
    ):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("x")
    (root / ".dockerignore").write_text("!node_modules\n!node_modules/**\n")
    runtime = BuiltinRuntime(
        language="python", version="3.12", kind="process", handler="app.main",
        base_image="python:3.12-slim",
    )  # fmt: skip
    names = set(archived(root, runtime=runtime, dockerfile="Dockerfile.hybridless"))
    assert "Dockerfile.hybridless" in names and ".hybridless/runtime.py" in names
    assert not any(n.startswith((".git", ".venv")) or "__pycache__" in n for n in names)
    assert "node_modules/x/index.js" in names  # the project's .dockerignore said so
    # A user's own Dockerfile build gets the context exactly as .dockerignore says.
    assert ".git/HEAD" in archived(root)
