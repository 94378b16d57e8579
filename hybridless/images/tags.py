"""Image tags: one per deploy, unique, sortable and traceable back to a commit.

A generated tag looks like `20261122T101500.123Z-1a2b3c4`: UTC time to the millisecond (so two
deploys of one commit never share a tag and tags sort by time), then the short commit. Cleanup
recognises these as the tool's own, and the content tags (`content-<sha256 of the build
context>`) that let a later deploy find an unchanged image; a tag a person chose is only ever
removed when a deployment record says this tool pushed it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

GENERATED_TAG = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-z]{1,12}$")
CONTENT_TAG = re.compile(r"^content-[0-9a-f]{64}$")
VALID_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1")


def generate_tag(now: datetime, commit: str | None) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    millis = now.astimezone(UTC).microsecond // 1000
    short = re.sub(r"[^0-9a-z]", "", (commit or "").lower())[:7] or "local"
    return f"{stamp}.{millis:03d}Z-{short}"


def is_generated(tag: str) -> bool:
    return bool(GENERATED_TAG.match(tag))


def is_ours(tag: str) -> bool:
    """A deploy's tag or a content tag: the tags this tool makes, which cleanup may remove."""
    return is_generated(tag) or bool(CONTENT_TAG.match(tag))


def current_commit(environ: Mapping[str, str], directory: Path) -> str | None:
    """The commit being deployed: from the CI's variables, else from git, else unknown."""
    for name in COMMIT_VARIABLES:
        if environ.get(name):
            return environ[name]
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
