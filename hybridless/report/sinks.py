"""How each place a deploy runs in wants to be told things: the lines a sink adds around phases,
for secrets and for annotations. The Reporter writes them; a sink only formats.

- GitHub Actions reads workflow commands from the log: `::group::` folds a phase, `::error::`
  puts a failure on the run's page (with file and line, on the file's diff), and `::add-mask::`
  hides a secret in everything the runner shows afterwards.
- GitLab CI folds `section_start`/`section_end` markers and has no annotations.
- A terminal gets plain lines.

Workflow commands are formatted by actions-toolkit, which escapes `%`, newlines, `:` and `,` the
way the runner expects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from actions_toolkit.command import Command


@dataclass(frozen=True)
class Annotation:
    level: str  # "error" | "warning" | "notice"
    message: str
    title: str = ""
    file: str = ""
    line: int | None = None


class Sink(Protocol):
    name: str

    def mask(self, secret: str) -> list[str]: ...

    def phase_start(self, name: str) -> list[str]: ...

    def phase_end(self, name: str) -> list[str]: ...

    def annotation(self, note: Annotation) -> list[str]: ...


class Terminal:
    name = "terminal"

    def mask(self, secret: str) -> list[str]:
        return []

    def phase_start(self, name: str) -> list[str]:
        return []

    def phase_end(self, name: str) -> list[str]:
        return []

    def annotation(self, note: Annotation) -> list[str]:
        return []


class GitHub:
    name = "github"

    def mask(self, secret: str) -> list[str]:
        # A workflow command is one line: a multi-line secret is masked line by line by the caller.
        if "\n" in secret or "\r" in secret:
            return []
        return [str(Command("add-mask", {}, secret))]

    def phase_start(self, name: str) -> list[str]:
        return [str(Command("group", {}, name))]

    def phase_end(self, name: str) -> list[str]:
        return [str(Command("endgroup", {}, ""))]

    def annotation(self, note: Annotation) -> list[str]:
        properties: dict[str, str | int] = {}
        if note.title:
            properties["title"] = note.title
        if note.file:
            properties["file"] = note.file
            if note.line:
                properties["line"] = note.line
        return [str(Command(note.level, properties, note.message))]


class GitLab:
    """Collapsible sections: https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections"""

    name = "gitlab"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def mask(self, secret: str) -> list[str]:
        return []

    def phase_start(self, name: str) -> list[str]:
        marker = f"section_start:{int(self._clock())}:{section_id(name)}[collapsed=true]"
        return [f"\x1b[0K{marker}\r\x1b[0K{name}"]

    def phase_end(self, name: str) -> list[str]:
        return [f"\x1b[0Ksection_end:{int(self._clock())}:{section_id(name)}\r\x1b[0K"]

    def annotation(self, note: Annotation) -> list[str]:
        return []


def section_id(name: str) -> str:
    return "hybridless_" + re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")


def sink_for(environ: Mapping[str, str] | None, name: str | None = None) -> Sink:
    """The sink named, else the one for the CI the environment shows, else the terminal."""
    environ = environ or {}
    chosen = name or (
        "github"
        if environ.get("GITHUB_ACTIONS") == "true"
        else "gitlab"
        if environ.get("GITLAB_CI") == "true"
        else "terminal"
    )
    sinks: dict[str, Callable[[], Sink]] = {
        "github": GitHub,
        "gitlab": GitLab,
        "terminal": Terminal,
    }
    return sinks[chosen]()
