"""Test tiers and the proving-ground fixtures.

The tier of a test is the folder it lives in (tests/unit, tests/integration, tests/e2e) and
becomes its marker, so `pytest -m unit` needs no services. Tests that need the proving ground
take the `ground` fixture: it reuses a running ground and never starts one (that is the job of
`make test` / `python -m proving_ground run`). In CI a ground that is not up fails the run; on a
laptop the test is skipped with the command that brings it up.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proving_ground.ground import Ground

TIERS = ("unit", "integration", "e2e")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(tests_dir).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@dataclass(frozen=True)
class GroundHandle:
    env: dict[str, str]

    @property
    def registry(self) -> str:
        return self.env["HYBRIDLESS_REGISTRY"]

    def docker(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.env["DOCKER_HOST"], timeout=120)


@pytest.fixture(scope="session")
def ground() -> GroundHandle:
    problems = [f"{name}: {problem}" for name, problem in Ground().status() if problem]
    if problems:
        message = (
            "the proving ground is not ready ("
            + "; ".join(problems)
            + "). Start it with `make ground-up`; it installs Debian's docker.io, "
            "docker-registry and debootstrap when they are missing."
        )
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return GroundHandle(Ground().env())


@pytest.fixture
def ground_env(ground: GroundHandle, monkeypatch: pytest.MonkeyPatch) -> GroundHandle:
    """The ground's endpoints and credentials in os.environ, the way a user points any AWS
    SDK or CLI at it (AWS_ENDPOINT_URL*, AWS_REGION, DOCKER_HOST)."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in ground.env.items():
        monkeypatch.setenv(key, value)
    return ground


@pytest.fixture
def unique() -> str:
    """A short unique suffix: tests share one moto server and one registry."""
    return uuid.uuid4().hex[:8]
