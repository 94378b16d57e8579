"""The one way anything is told to the user.

Stages never print: they call a `Reporter`. This keeps secrets in one place (every line passes
through `_redact` before it is written) and lets the CI a deploy runs in shape the log without
the stages knowing: GitHub gets a group per phase, error annotations and `::add-mask::`;
GitLab gets collapsible sections; a terminal gets plain lines (sinks.py).

Lines carry a timestamp relative to the start, and nothing is redrawn in place, so logs stay
readable after the fact whether or not they went to a terminal.

The Reporter also remembers what a summary needs (phase times, the change set, stack events),
so the step summary tells the same story as the log.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from hybridless.report.sinks import Annotation, Sink, sink_for
from hybridless.report.summary import ChangeRow, Phase

__all__ = ["Annotation", "Facts", "Reporter"]

# GitHub shows at most 10 error and 10 warning annotations per step; more are dropped without a
# word, so the first ten (the ones that matter most come first) are the ones written.
MAX_ANNOTATIONS_PER_LEVEL = 10


@dataclass
class Facts:
    """What happened, kept for the step summary."""

    stack_name: str = ""
    region: str = ""
    image_tag: str = ""
    phases: list[Phase] = field(default_factory=list)
    change_set_name: str = ""
    changes: list[ChangeRow] = field(default_factory=list)
    events: list[Mapping[str, Any]] = field(default_factory=list)


class Reporter:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        ci: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._stream = stream or sys.stdout
        self._secrets: list[str] = []
        # Builds and pushes report from several threads; a line is written whole or not yet.
        self._lock = threading.RLock()
        self._start = time.monotonic()
        self.sink: Sink = sink_for(os.environ if environ is None else environ, ci)
        self.facts = Facts()
        self._annotated = {"error": 0, "warning": 0}

    # --- secrets ---------------------------------------------------------------------------

    def mask(self, secret: str) -> None:
        """Hide `secret` from everything written from now on; call it before the secret could
        reach any message. A multi-line secret is masked line by line too, because a workflow
        command is one line: `::add-mask::` of the whole would leave its other lines in clear."""
        parts = [secret, *(line for line in secret.splitlines() if line.strip())]
        for part in dict.fromkeys(parts):
            if not part or part in self._secrets:
                continue
            self._secrets.append(part)
            for line in self.sink.mask(part):
                self._stream.write(line + "\n")
        self._secrets.sort(key=len, reverse=True)
        self._stream.flush()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # --- lines -----------------------------------------------------------------------------

    def _raw(self, lines: Sequence[str]) -> None:
        """Lines for the CI to read (workflow commands, section markers): unstamped, since a
        command must start its line, but still redacted."""
        with self._lock:
            for line in lines:
                self._stream.write(self.redact(line) + "\n")

    def _write(self, text: str) -> None:
        stamp = f"[{time.monotonic() - self._start:7.1f}s] "
        with self._lock:
            for line in self.redact(text).splitlines() or [""]:
                self._stream.write(stamp + line + "\n")
            self._stream.flush()

    def info(self, message: str) -> None:
        self._write(message)

    def warning(self, message: str) -> None:
        self._write(f"warning: {message}")

    def error(self, message: str) -> None:
        self._write(f"error: {message}")

    def annotate(self, note: Annotation) -> None:
        """Put `note` where the CI shows it beside the code (GitHub); elsewhere the log line
        printed with it is all there is."""
        if note.level in ("error", "warning"):
            if self._annotated[note.level] >= MAX_ANNOTATIONS_PER_LEVEL:
                return
            self._annotated[note.level] += 1
        # Redacted before formatting: the escaping (`:` → %3A, ...) would hide a secret from
        # redaction afterwards while leaving it easy to read back.
        clean = Annotation(
            note.level,
            self.redact(note.message),
            title=self.redact(note.title),
            file=note.file,
            line=note.line,
        )
        self._raw(self.sink.annotation(clean))
        self._stream.flush()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Frame one phase of the deploy, so a log shows where time went and where it
        stopped. The closing line stands outside the fold, so a folded log still reads as the
        list of phases with their times."""
        started = time.monotonic()
        self._raw(self.sink.phase_start(name))
        self._write(f"── {name}")
        try:
            yield
        except BaseException:
            seconds = time.monotonic() - started
            self.facts.phases.append(Phase(name, seconds, ok=False))
            self._raw(self.sink.phase_end(name))
            self._write(f"── {name}: failed after {seconds:.1f}s")
            raise
        seconds = time.monotonic() - started
        self.facts.phases.append(Phase(name, seconds, ok=True))
        self._raw(self.sink.phase_end(name))
        self._write(f"── {name}: done in {seconds:.1f}s")

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

    # --- the stack -------------------------------------------------------------------------

    def change_set(self, name: str, changes: Sequence[ChangeRow]) -> None:
        self.facts.change_set_name = name
        self.facts.changes = list(changes)
        self.info(f"change set {name}: {len(changes)} change(s)")
        if changes:
            self.table(
                ["action", "logical id", "type", "replacement"],
                [[c.action, c.logical_id, c.resource_type, c.replacement] for c in changes],
            )

    def stack_event(self, event: Mapping[str, Any], label: str = "") -> None:
        """One event line, in the order CloudFormation wrote them; `label` names the nested
        stack it happened in ("Database/"). A failure that is not just the echo of another (a
        cancellation) is also an error annotation."""
        logical_id = f"{label}{event.get('LogicalResourceId', '?')}"
        self.facts.events.append({**event, "LogicalResourceId": logical_id})
        reason = event.get("ResourceStatusReason") or ""
        resource_type = event.get("ResourceType", "?")
        status = str(event.get("ResourceStatus", "?"))
        self.info(f"{logical_id} {resource_type} {status}{': ' + reason if reason else ''}")
        if status.endswith("_FAILED") and reason and "cancelled" not in reason.lower():
            self.annotate(
                Annotation("error", reason, title=f"{logical_id} ({resource_type}) {status}")
            )
