"""A clean copy of this repository, for the clients that build the image from it (the e2e
tests, the benchmarks)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def copy_repository(destination: Path) -> Path:
    """The repository's files as a checkout has them: tracked and new, nothing ignored. What
    `uses: ./` and a release build see, without local caches, virtualenvs or ground state."""
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination
