"""`docker run` of the image, as someone deploys from a laptop or any CI with Docker: the app
directory mounted as the working directory, the Docker socket shared, the usual AWS variables.
The container gives up root, since the ground's socket belongs to the `docker` group."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from proving_ground.checkout import REPO
from tests.e2e.conftest import Account

EXAMPLE = REPO / "examples" / "hello"


def docker_run(
    image: str, project: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    argv = ["docker", "run", "--rm", "--network", "host",
            "-v", "/var/run/docker.sock:/var/run/docker.sock",
            "-v", f"{project}:/app", "-w", "/app"]  # fmt: skip
    for key, value in sorted(env.items()):
        argv += ["-e", f"{key}={value}"]
    return subprocess.run(
        [*argv, image, *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_docker_run_deploys_the_example_as_an_unprivileged_user(
    action_image: str, account: Account, tmp_path: Path
) -> None:
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project)
    project.chmod(0o777)  # the container's user writes outputs.json here
    env = {
        **{k: v for k, v in account.env.items() if k.startswith(("AWS_", "HYBRIDLESS_"))},
        **{k: account.env[k] for k in ("VPC_ID", "SUBNET_A", "SUBNET_B", "SECURITY_GROUP_ID")},
        "PYTHON_IMAGE": account.env["PYTHON_IMAGE"],
        "LAMBDA_PYTHON_IMAGE": account.env["LAMBDA_PYTHON_IMAGE"],
        "CI_COMMIT_SHA": "fedcba9876543210fedcba9876543210fedcba98",
    }
    result = docker_run(
        action_image, project, env,
        "deploy", "--stage", account.stage, "--method", "direct", "--outputs-file", "outputs.json",
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert "Traceback" not in log, log
    assert result.returncode == 0, log
    assert log.splitlines()[0].startswith("running as user hybridless (uid 10001)"), log
    outputs = json.loads((project / "outputs.json").read_text())
    assert outputs["stack-status"] == "CREATE_COMPLETE" == account.stack()["StackStatus"]
    assert outputs["image-tag"].endswith("-fedcba9")
    assert outputs["outputs"] == account.stack_outputs()


def test_docker_run_with_a_config_mistake_exits_2_and_names_the_line(
    action_image: str, account: Account, tmp_path: Path
) -> None:
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project)
    config = project / "hybridless.yml"
    config.write_text(config.read_text().replace("port: 8080", "port: eighty"))
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "eighty" in text)

    result = docker_run(action_image, project, account.env, "deploy", "--stage", account.stage)

    log = result.stdout + result.stderr
    assert result.returncode == 2, log
    assert "Traceback" not in log
    assert f"hybridless.yml:{line}: hybridless.functions.Web.events[0].port:" in log
