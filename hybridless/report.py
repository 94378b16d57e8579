"""The one way anything is told to the user.

Stages never print: they call a `Reporter`. This keeps secrets in one place (every line passes
through `_redact` before it is written) and lets CI-specific sinks (GitHub workflow commands,
GitLab sections) replace the terminal one without touching the stages.

On CI (`CI=true`) or when the stream is not a terminal, lines carry a timestamp relative to the
start, and nothing is redrawn in place, so logs stay readable after the fact.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO


class Reporter:
    def __init__(self, stream: TextIO | None = None, *, github: bool | None = None) -> None:
        self._stream = stream or sys.stdout
        self._secrets: list[str] = []
        self._start = time.monotonic()
        self._github = os.environ.get("GITHUB_ACTIONS") == "true" if github is None else github

    def mask(self, secret: str) -> None:
        """Hide `secret` from everything written from now on; call it before the secret could
        reach any message. A multi-line secret is masked line by line too, because a workflow
        command is one line: `::add-mask::` of the whole would leave its other lines in clear."""
        parts = [secret, *(line for line in secret.splitlines() if line.strip())]
        for part in dict.fromkeys(parts):
            if not part or part in self._secrets:
                continue
            self._secrets.append(part)
            if self._github and "\n" not in part and "\r" not in part:
                self._stream.write(f"::add-mask::{part}\n")
        self._secrets.sort(key=len, reverse=True)
        self._stream.flush()

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _write(self, text: str) -> None:
        stamp = f"[{time.monotonic() - self._start:7.1f}s] "
        for line in self._redact(text).splitlines() or [""]:
            self._stream.write(stamp + line + "\n")
        self._stream.flush()

    def info(self, message: str) -> None:
        self._write(message)

    def warning(self, message: str) -> None:
        self._write(f"warning: {message}")

    def error(self, message: str) -> None:
        self._write(f"error: {message}")

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Frame one phase of the deploy, so a log shows where time went and where it
        stopped."""
        started = time.monotonic()
        self._write(f"── {name}")
        try:
            yield
        except BaseException:
            self._write(f"── {name}: failed after {time.monotonic() - started:.1f}s")
            raise
        self._write(f"── {name}: done in {time.monotonic() - started:.1f}s")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [len(h) for h in headers]
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        lines = [headers, *rows]
        self._write(
            "\n".join(
                "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                for line in lines
            )
        )
