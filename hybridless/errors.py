"""The errors a user can cause or meet, each carrying what the user needs to act on it.

Anything raised as a `HybridlessError` is reported as its message and an exit code, never as a
traceback: a traceback tells the user about this program, the message tells them about their
application.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3


class HybridlessError(Exception):
    """A failure explained in the user's terms."""

    exit_code = EXIT_FAILED


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the configuration, where it is."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(HybridlessError):
    """Every problem found in the configuration at once, so one run shows them all."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem], notices: list[Problem] | None = None) -> None:
        self.problems = problems
        # what the loader said before it failed (Serverless keys it ignored): often the reason
        self.notices = notices or []
        super().__init__("\n".join(str(p) for p in problems))


class PhaseError(HybridlessError):
    """A deploy phase that failed; the message names the phase and the resource or reason."""

    def __init__(self, phase: str, message: str) -> None:
        self.phase = phase
        super().__init__(f"{phase} failed: {message}")


class Cancelled(HybridlessError):
    """The deploy was stopped on request (SIGINT, SIGTERM) and the stack change cancelled."""

    exit_code = EXIT_CANCELLED
