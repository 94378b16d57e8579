"""The code of a `lambda` (zip) event as a reproducible archive in the deployment bucket.

Which files go in follows the Serverless Framework's `package.patterns`: every file under the
project directory, dotfiles included, then the default excludes, then the user's patterns in
order — `!glob` takes away what it matches, a plain glob puts back what it matches, the last
pattern that matches a file decides. Globs are matched against the file's path relative to the
directory (`/`-separated, case-sensitive): `*` and `?` stay inside one path segment, `**` spans
segments, `{a,b}` and `{1..3}` expand, `[...]` and extglobs such as `+(a|b)` work, and a leading
`./` is ignored. Only files are listed, so a directory is excluded by its contents: `!tests/**`.

Defaults, applied before the user's patterns (so any of them can be re-included):
- Serverless's own: `.git/**`, `.gitignore`, `.DS_Store`, `npm-debug.log`, `yarn-*.log`,
  `.serverless/**`, `.serverless_plugins/**`, and the configuration file in use.
- this tool's: `hybridless.env` (the GitLab outputs file), `.hybridless/**`, Python caches
  (`**/__pycache__/**`, `**/*.pyc`) and `.DS_Store` at any depth, since each would make the
  archive differ between a laptop and CI for no reason.

Symbolic links: a link to a file is followed and the file's content stored under the link's
name. A link to a directory is followed only when the directory is inside the project
directory and is not one the walk is already inside (a loop); links leading out of the project
directory are skipped, so a stray link cannot pull a home directory into a function. (Serverless
follows every link; this is the one deliberate difference.) Broken links, sockets, pipes and
devices are skipped.

The archive is a function of the files' paths, contents and owner-execute bits only: entries
sorted, no directory entries, every timestamp 1980-01-01 00:00:00, modes 0644 or 0755, Unix as
the creating system, no extra fields, deflate at a fixed level. The same tree therefore gives
the same bytes on any machine with the same zlib, the S3 key is derived from those bytes, and an
unchanged function leaves the template — and the change set — unchanged.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wcmatch import glob

from hybridless.errors import PhaseError
from hybridless.stack.package import shared_key, upload_once

SERVERLESS_EXCLUDES = (
    ".git/**",
    ".gitignore",
    ".DS_Store",
    "npm-debug.log",
    "yarn-*.log",
    ".serverless/**",
    ".serverless_plugins/**",
)
TOOL_EXCLUDES = (
    "hybridless.env",
    ".hybridless/**",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.DS_Store",
)
DEFAULT_EXCLUDES = SERVERLESS_EXCLUDES + TOOL_EXCLUDES

# The way micromatch reads Serverless's patterns: globstar, braces, extglobs, dotfiles matched by
# wildcards, case-sensitive, `/` as the only separator on every platform.
GLOB_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.EXTGLOB | glob.DOTMATCH | glob.CASE | glob.FORCEUNIX

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
MODE_FILE = 0o644
MODE_EXECUTABLE = 0o755
UNIX = 3  # ZipInfo.create_system; Python picks 0 on Windows otherwise

# Lambda refuses code that extracts to more than this (the CodeSizeUnzipped quota, 250 MB). The
# 50 MB zipped limit applies only to code sent in the API call itself; code deployed from S3,
# as this tool always does, is bound by the unzipped size alone. Layers count against the same
# quota, so a function with layers can still be refused by Lambda.
MAX_UNZIPPED_BYTES = 262_144_000


@dataclass(frozen=True)
class Artifact:
    """One function's archive: `sha256` and `size` describe `body`, the zip itself."""

    name: str
    sha256: str
    size: int
    body: bytes = field(repr=False)
    files: int = 0
    unzipped_size: int = 0


def _compile(pattern: str) -> glob.WcMatcher[str]:
    try:
        return glob.compile(pattern, flags=GLOB_FLAGS)
    except Exception as err:  # wcmatch raises its own PatternLimitException, not exported
        raise PhaseError("package", f"package pattern {pattern!r}: {err}") from err


def _normalise(pattern: str) -> str:
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return pattern


def _walk(root: Path) -> Iterator[str]:
    """Every regular file under `root` (links resolved as the module docstring says), as a
    relative POSIX path."""
    real_root = os.path.realpath(root)

    def inside_root(real: str) -> bool:
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    def visit(directory: str, prefix: str, open_dirs: frozenset[str]) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            raise PhaseError("package", f"cannot read directory {directory}: {err}") from err
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                real = os.path.realpath(entry.path)
                if os.path.isdir(real):
                    if inside_root(real) and real not in open_dirs:
                        yield from visit(entry.path, rel + "/", open_dirs | {real})
                elif os.path.isfile(real):
                    yield rel
            elif entry.is_dir(follow_symlinks=False):
                real = os.path.realpath(entry.path)
                yield from visit(entry.path, rel + "/", open_dirs | {real})
            elif entry.is_file(follow_symlinks=False):
                yield rel

    yield from visit(str(root), "", frozenset({real_root}))


def select_files(
    root: Path, patterns: Sequence[str], *, config_file: Path | str | None = None
) -> list[str]:
    """The files of `root` to package, as sorted relative POSIX paths.

    `config_file`, when it lies inside `root`, is excluded like Serverless excludes the
    configuration file it reads; a pattern can still re-include it.
    """
    root = Path(root)
    if not root.is_dir():
        raise PhaseError("package", f"code directory {root} does not exist or is not a directory")
    rules = [f"!{p}" for p in DEFAULT_EXCLUDES]
    if config_file is not None:
        config = Path(config_file)
        config = config if config.is_absolute() else root / config
        try:
            relative = config.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            relative = ""
        if relative and relative != ".":
            rules.append("!" + glob.escape(relative, unix=True))
    rules.extend(patterns)

    compiled: list[tuple[bool, glob.WcMatcher[str]]] = []
    for rule in rules:
        exclude = rule.startswith("!")
        body = _normalise(rule[1:] if exclude else rule)
        if body:
            compiled.append((not exclude, _compile(body)))

    selected = []
    for path in _walk(root):
        keep = True
        for include, matcher in compiled:
            if include != keep and matcher.match(path):
                keep = include
        if keep:
            selected.append(path)
    return sorted(selected)


def _mode(path: Path) -> int:
    return MODE_EXECUTABLE if path.stat().st_mode & stat.S_IXUSR else MODE_FILE


def build_zip(root: Path, files: Sequence[str]) -> bytes:
    """A zip of `files` (relative POSIX paths under `root`) that depends on nothing but their
    names, contents and owner-execute bits."""
    root = Path(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(set(files)):
            path = root / name
            try:
                data = path.read_bytes()
                mode = _mode(path)
            except OSError as err:
                raise PhaseError("package", f"cannot read {path}: {err}") from err
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = UNIX
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def package_function(
    root: Path, patterns: Sequence[str], name: str, *, config_file: Path | str | None = None
) -> Artifact:
    """Select, check and zip one function's code."""
    root = Path(root)
    files = select_files(root, patterns, config_file=config_file)
    if not files:
        raise PhaseError(
            "package",
            f"function {name}: the patterns exclude every file in {root} "
            f"(package.patterns: {list(patterns)})",
        )
    unzipped = 0
    for file in files:
        try:
            unzipped += (root / file).stat().st_size
        except OSError as err:
            raise PhaseError("package", f"cannot read {root / file}: {err}") from err
    if unzipped > MAX_UNZIPPED_BYTES:
        raise PhaseError(
            "package",
            f"function {name}: {len(files)} files take {unzipped:,} bytes unzipped; Lambda "
            f"accepts at most {MAX_UNZIPPED_BYTES:,} (250 MB) — exclude more with "
            "package.patterns or use a lambdaContainer event (images up to 10 GB)",
        )
    body = build_zip(root, files)
    return Artifact(
        name=name,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        body=body,
        files=len(files),
        unzipped_size=unzipped,
    )


def artifact_key(service: str, stage: str, artifact: Artifact) -> str:
    """Content-addressed: the same code keeps the same key, so the template does not change."""
    return shared_key(service, stage, "artifacts", artifact.name, artifact.body, ".zip")


def upload_artifact(s3: Any, bucket: str, key: str, artifact: Artifact) -> bool:
    """Put the archive at `key` unless it is there already; say whether it was uploaded."""
    return upload_once(s3, bucket, key, artifact.body, "application/zip")
