"""Bring the ground up, report on it, take it down: idempotent, and never stopping what it did
not start.

The state file records, per component, what was found or started (pids with a command-line
marker, ports, logs). `up` reuses every component that is still healthy, so a warm `up` costs
a few health checks; `down` stops only entries marked as started by this ground.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proving_ground.components import (
    DEFAULT_DOCKER_HOST,
    BaseImages,
    Context,
    Engine,
    Info,
    Services,
)

ORDER = ("engine", "services", "base-images")


def default_directory() -> Path:
    configured = os.environ.get("HYBRIDLESS_GROUND_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / ".ground"


def stderr_log(message: str) -> None:
    print(f"[ground {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Ground:
    def __init__(self, directory: Path | None = None, log: Any = stderr_log) -> None:
        self.directory = (directory or default_directory()).resolve()
        self.state_file = self.directory / "state.json"
        self.ctx = Context(self.directory, log)
        self.log = log

    def load(self) -> dict[str, Info]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict[str, Info]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def component(self, name: str, state: dict[str, Info]) -> Any:
        if name == "engine":
            return Engine()
        if name == "services":
            return Services()
        host = state.get("engine", {}).get("host") or os.environ.get("DOCKER_HOST")
        return BaseImages(host or DEFAULT_DOCKER_HOST)

    def up(self, without: tuple[str, ...] = ()) -> list[str]:
        """Bring every component up; returns the names of those started by this call.

        If a component fails, the ones this call started are stopped again before the error
        is raised: a failed `up` leaves the machine as it found it."""
        started_now: list[str] = []
        with self._locked():
            try:
                self._up(without, started_now)
            except BaseException:
                self._down(started_now)
                raise
        return started_now

    def _up(self, without: tuple[str, ...], started_now: list[str]) -> None:
        state = self.load()
        for name in ORDER:
            if name in without:
                continue
            current = state.get(name)
            began = time.monotonic()
            info = self.component(name, state).up(self.ctx, current)
            state[name] = info
            self._save(state)
            if info is current:
                how = "reused"
            elif info.get("started"):
                how = "started"
                started_now.append(name)
            else:
                how = info.get("how", "found")
            self.log(f"{name}: {how} ({time.monotonic() - began:.1f}s)")

    def status(self) -> list[tuple[str, str | None]]:
        """(component, problem) for every component; problem None means healthy."""
        state = self.load()
        report: list[tuple[str, str | None]] = []
        for name in ORDER:
            if name not in state:
                report.append((name, "not up"))
            else:
                report.append((name, self.component(name, state).problem(state[name])))
        return report

    def down(self, only: list[str] | None = None) -> list[str]:
        with self._locked():
            return self._down(only)

    def _down(self, only: list[str] | None) -> list[str]:
        stopped: list[str] = []
        state = self.load()
        for name in reversed(ORDER):
            if name not in state or (only is not None and name not in only):
                continue
            if self.component(name, state).stop(state[name]):
                stopped.append(name)
            del state[name]
            self._save(state)
        return stopped

    def env(self) -> dict[str, str]:
        state = self.load()
        env: dict[str, str] = {}
        for name in ORDER:
            if name in state:
                env.update(self.component(name, state).env(state[name]))
        return env
