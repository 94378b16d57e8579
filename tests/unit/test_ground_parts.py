"""The proving ground's own logic: how the local ECR plans registry writes, the registry's
configuration, and pid handling that must never stop a stranger."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from proving_ground import procs
from proving_ground.components import registry_config
from proving_ground.ecr_bridge import NOTIFICATION_ENDPOINT, RegistryStep, plan_registry_steps
from proving_ground.ground import Ground


@pytest.mark.parametrize(
    ("ecr", "registry", "steps"),
    [
        pytest.param(None, {"a"}, [RegistryStep("delete")], id="gone-from-ecr"),
        pytest.param(None, set(), [RegistryStep("delete")], id="gone-and-untagged"),
        pytest.param({"a"}, {"a"}, [], id="in-step"),
        pytest.param({"a", "b"}, {"a"}, [RegistryStep("put", "b")], id="tag-added"),
        pytest.param(
            {"b"}, {"a", "b"}, [RegistryStep("delete"), RegistryStep("put", "b")], id="tag-removed"
        ),
        pytest.param(
            set(), {"a"}, [RegistryStep("delete"), RegistryStep("put")], id="now-untagged"
        ),
        pytest.param(
            {"c", "b"},
            {"a"},
            [RegistryStep("delete"), RegistryStep("put", "b"), RegistryStep("put", "c")],
            id="tags-replaced-in-order",
        ),
    ],
)
def test_plan_registry_steps(
    ecr: set[str] | None, registry: set[str], steps: list[RegistryStep]
) -> None:
    assert plan_registry_steps(ecr, registry) == steps


def test_registry_config_notifies_the_bridge_of_manifest_pushes_and_deletes(
    tmp_path: Path,
) -> None:
    config = yaml.safe_load(registry_config(5000, 5001, 5002, tmp_path))

    assert config["http"] == {"addr": "127.0.0.1:5000", "debug": {"addr": "127.0.0.1:5001"}}
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["storage"]["filesystem"]["rootdirectory"] == str(tmp_path)
    (endpoint,) = config["notifications"]["endpoints"]
    assert endpoint["name"] == NOTIFICATION_ENDPOINT
    assert endpoint["url"] == "http://127.0.0.1:5002/events"
    assert endpoint["ignore"]["actions"] == ["pull"]
    assert endpoint["ignoredmediatypes"] == ["application/octet-stream"]


def test_a_process_is_ours_only_while_its_command_line_carries_the_marker(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(60)", "marker-x1"]
    pid = procs.spawn(argv, tmp_path / "sleeper.log")
    try:
        assert procs.is_running(pid, "marker-x1")
        assert not procs.is_running(pid, "marker-other")
        assert not procs.stop(pid, "marker-other"), "a stranger must not be stopped"
        assert procs.is_running(pid, "marker-x1")

        assert procs.stop(pid, "marker-x1")
        assert not procs.is_running(pid, "marker-x1")
    finally:
        if procs.is_running(pid, "marker-x1"):
            os.kill(pid, signal.SIGKILL)


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(procs.GroundError, match="waiting for the impossible"):
        procs.wait_until(lambda: False, 0.1, "the impossible")


def test_status_reports_a_half_stopped_ground_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    images = {"images": ["hybridless-ground/debian:bookworm"], "started": False}
    (tmp_path / "state.json").write_text(json.dumps({"base-images": images}))

    status = dict(Ground(tmp_path).status())

    assert status == {
        "engine": "not up",
        "services": "not up",
        "base-images": f"no engine answers at unix://{tmp_path}/no-engine.sock",
    }
