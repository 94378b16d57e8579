"""An image's build context, as the engine will see it, and the hash of what it is made of.

The context is the project directory filtered by its `.dockerignore` (the engine's own rules),
plus what the tool adds: the files of `additionalDockerFiles` at their target paths, and for a
built-in runtime, the Dockerfile and the small program it writes. The tool sends this context
itself rather than letting the engine read the directory, so what is hashed is exactly what is
built.

The content hash covers every path, its kind, its executable bit and its bytes, the Dockerfile's
name, the build args and the platform, and nothing else: not modification times, owners or the
order the file system lists things in. Two checkouts of one commit hash the same, so a deploy
from another CI runner still finds the image it built before. What the hash cannot see is a
base image that moved under the same tag (`FROM python:3.12-slim` after a patch release):
`--rebuild` builds and pushes regardless.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hybridless.errors import PhaseError
from hybridless.model import FileCopy, Image

HASH_VERSION = b"hybridless-context-1"
CONTENT_TAG_PREFIX = "content-"
CHUNK = 1 << 20
# What a built-in runtime's image never wants from a checkout: version control, local
# environments and caches, and installed packages, which the image installs for itself (a
# laptop's node_modules may hold binaries for another system). The project's .dockerignore
# comes after these, so a `!pattern` there brings one back.
BUILTIN_EXCLUDES = (
    ".git", ".hybridless", ".venv", "venv", "**/__pycache__", "**/*.pyc",
    "node_modules", ".pytest_cache", ".mypy_cache", ".ruff_cache",
)  # fmt: skip


@dataclass(frozen=True)
class Extra:
    """A file the tool puts into the context: generated, or copied from elsewhere."""

    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class BuildContext:
    root: Path
    files: tuple[str, ...]  # relative to root, files and directories, sorted
    extras: tuple[tuple[str, Extra], ...]  # arcname → content; wins over a file of that name
    dockerfile: str
    build_args: tuple[tuple[str, str], ...]
    platform: str | None

    def content_hash(self) -> str:
        digest = hashlib.sha256(HASH_VERSION)
        _feed(digest, "dockerfile", self.dockerfile)
        _feed(digest, "platform", self.platform or "")
        for name, value in sorted(self.build_args):
            _feed(digest, "arg", f"{name}={value}")
        extra_names = {name for name, _ in self.extras}
        for path in self.files:
            if path not in extra_names:
                _feed(digest, "path", path, _describe(self.root / path))
        for name, extra in sorted(self.extras):
            _feed(
                digest,
                "extra",
                name,
                f"{extra.mode & 0o111:o}",
                hashlib.sha256(extra.data).hexdigest(),
            )
        return digest.hexdigest()

    def content_tag(self) -> str:
        return CONTENT_TAG_PREFIX + self.content_hash()

    def archive(self) -> IO[bytes]:
        """The context as an uncompressed tar in a temporary file, rewound."""
        spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
        extra_names = {name for name, _ in self.extras}
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in self.files:
                if path in extra_names:
                    continue
                info = tar.gettarinfo(str(self.root / path), arcname=path)
                if info is None:  # a socket or the like: not something a build can use
                    continue
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isfile():
                    with (self.root / path).open("rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
            for name, extra in self.extras:
                info = tarfile.TarInfo(name)
                info.size = len(extra.data)
                info.mode = extra.mode
                tar.addfile(info, io.BytesIO(extra.data))
        spool.seek(0)
        return spool


def collect(image: Image) -> BuildContext:
    """The context of `image`: its directory through `.dockerignore`, plus what the tool adds."""
    root = image.context
    generated = image.runtime is not None
    patterns = read_dockerignore(root)
    if generated:
        patterns = [*BUILTIN_EXCLUDES, *patterns]
    try:
        from docker.utils.build import exclude_paths

        files = tuple(sorted(exclude_paths(str(root), patterns, dockerfile=image.dockerfile)))
    except OSError as err:
        raise PhaseError(
            "build", f"{image.name}: cannot read the build context {root}: {err}"
        ) from None
    extras: dict[str, Extra] = {}
    for copy in image.copies:
        extras.update(_copied(copy, image.name))
    if generated:
        assert image.runtime is not None
        from hybridless.images.runtimes import context_files

        project = frozenset(path for path in files if (root / path).is_file())
        for name, data in context_files(image.runtime, image.dockerfile, project).items():
            extras[name] = Extra(data)
    elif image.dockerfile not in files:
        raise PhaseError(
            "build", f"{image.name}: {image.dockerfile} is not in the build context {root}"
        )
    return BuildContext(
        root=root,
        files=files,
        extras=tuple(sorted(extras.items())),
        dockerfile=image.dockerfile,
        build_args=image.build_args,
        platform=image.platform,
    )


def read_dockerignore(root: Path) -> list[str]:
    """The patterns of `.dockerignore`, as the engine reads them: blank lines and comments out."""
    path = root / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _copied(copy: FileCopy, image: str) -> Iterator[tuple[str, Extra]]:
    """`additionalDockerFiles`: a file, or every file under a directory, at the target path."""
    source = copy.source
    if source.is_file():
        yield copy.target, Extra(source.read_bytes(), _mode(source))
        return
    if not source.is_dir():
        raise PhaseError("build", f"{image}: additionalDockerFiles: {source} is gone")
    for directory, _, names in sorted(os.walk(source)):
        for name in sorted(names):
            path = Path(directory) / name
            relative = path.relative_to(source).as_posix()
            yield f"{copy.target}/{relative}", Extra(path.read_bytes(), _mode(path))


def _mode(path: Path) -> int:
    return 0o755 if path.stat().st_mode & 0o111 else 0o644


def _describe(path: Path) -> str:
    """Kind, executable bit and content of one entry: what a build can observe of it."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return f"link:{os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        return "dir"
    if not stat.S_ISREG(info.st_mode):
        return "other"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return f"file:{info.st_mode & 0o111:o}:{digest.hexdigest()}"


def _feed(digest: hashlib._Hash, *parts: str) -> None:
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "big") + data)
