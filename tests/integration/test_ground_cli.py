"""`python -m proving_ground`: idempotent, and it stops only what it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from proving_ground import procs
from proving_ground.ground import Ground
from tests.conftest import GroundHandle

REPO = Path(__file__).resolve().parents[2]


def ground_command(*args: str, directory: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if directory is not None:
        env["HYBRIDLESS_GROUND_DIR"] = str(directory)
    return subprocess.run(
        [sys.executable, "-m", "proving_ground", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_status_reports_every_component_healthy(ground: GroundHandle) -> None:
    result = ground_command("status")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [
        ["engine", "ok"],
        ["services", "ok"],
        ["base-images", "ok"],
    ]
    assert f"  HYBRIDLESS_REGISTRY={ground.registry}" in lines


def test_up_again_reuses_what_runs_and_prints_the_same_endpoints(ground: GroundHandle) -> None:
    before = Ground().load()

    result = ground_command("up")

    assert result.returncode == 0, result.stderr
    assert Ground().load() == before
    assert "services: reused" in result.stderr
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
    )
    assert exported == ground.env


def test_a_second_ground_stops_only_what_it_started(ground: GroundHandle, tmp_path: Path) -> None:
    second = tmp_path / "second"

    up = ground_command("up", "--without", "base-images", directory=second)

    assert up.returncode == 0, up.stderr
    state = json.loads((second / "state.json").read_text())
    assert state["engine"]["started"] is False, "an engine that answered must be used, not started"
    services = state["services"]
    assert services["ports"] != Ground().load()["services"]["ports"]
    pids = services["pids"]
    assert all(procs.is_running(pid, services["markers"][n]) for n, pid in pids.items())

    down = ground_command("down", directory=second)

    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "stopped: services"
    assert not any(procs.is_running(pid, services["markers"][n]) for n, pid in pids.items())
    # The engine it found and the first ground are untouched.
    assert all(problem is None for _, problem in Ground().status())
    assert ground.docker().ping()


def test_run_gives_the_command_the_endpoints_and_its_exit_code_then_stops(
    ground: GroundHandle, tmp_path: Path
) -> None:
    third = tmp_path / "third"
    script = (
        "import os, sys, urllib.request;"
        "urllib.request.urlopen(os.environ['AWS_ENDPOINT_URL'] + '/moto-api/data.json');"
        "print(os.environ['HYBRIDLESS_REGISTRY']); sys.exit(3)"
    )

    result = ground_command(
        "run", "--without", "base-images", "--", sys.executable, "-c", script, directory=third
    )

    assert result.returncode == 3, result.stderr
    assert result.stdout.strip().startswith("127.0.0.1:")
    assert "stopped what this run started: services" in result.stderr
    assert json.loads((third / "state.json").read_text()) == {
        "engine": {"host": ground.env["DOCKER_HOST"], "started": False}
    }


def test_a_terminated_run_stops_its_command_and_what_it_started(
    ground: GroundHandle, tmp_path: Path
) -> None:
    fourth = tmp_path / "fourth"
    ready = tmp_path / "ready"
    script = f"import pathlib, time; pathlib.Path({str(ready)!r}).write_text('up'); time.sleep(99)"
    run = subprocess.Popen(
        [
            *(sys.executable, "-m", "proving_ground", "run", "--without", "base-images", "--"),
            *(sys.executable, "-c", script),
        ],
        cwd=REPO,
        env={**os.environ, "HYBRIDLESS_GROUND_DIR": str(fourth)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        try:
            procs.wait_until(ready.exists, 60, "the command to start under the ground")
        except procs.GroundError as err:
            run.kill()
            out, err_text = run.communicate(timeout=30)
            pytest.fail(f"{err}\nstdout:\n{out[-3000:]}\nstderr:\n{err_text[-3000:]}")
        services = json.loads((fourth / "state.json").read_text())["services"]
        command_pids = [
            int(p) for p in os.listdir("/proc") if p.isdigit() and script in procs.cmdline(int(p))
        ]
        assert command_pids

        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()

    assert run.returncode == 128 + signal.SIGTERM
    assert "stopped what this run started: services" in stderr
    for name, pid in services["pids"].items():
        assert not procs.is_running(pid, services["markers"][name]), f"{name} left running"
    assert not any(procs.is_running(pid, script) for pid in command_pids)
