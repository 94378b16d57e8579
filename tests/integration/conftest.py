"""Fixtures for the integration tests: a fresh copy of examples/hello with its account state."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import GroundHandle
from tests.integration.hello import COMMIT, EXAMPLE, App
from tests.support import prepare_account


@pytest.fixture
def app(ground_env: GroundHandle, tmp_path: Path, unique: str) -> App:
    directory = tmp_path / "hello"
    shutil.copytree(EXAMPLE, directory)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **ground_env.env,
        **prepare_account(ground_env.env, unique),
        "GITHUB_SHA": COMMIT,
    }
    return App(directory, f"t{unique}", env)
