"""The GitLab example (examples/hello/.gitlab-ci.yml) under gitlab-ci-local, with the image as
the job image: the deploy job deploys to the proving ground, its dotenv report reaches the next
job, which prints the stack's endpoint.

gitlab-ci-local's docker executor is used as GitLab's is: the job image with its entry point
cleared, the Docker socket shared with the job, the host's network. Its helper image (which fixes
file ownership and copies artifacts) is the ground's Debian with rsync, since Docker Hub is out
of reach.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from proving_ground.checkout import REPO
from tests.e2e.conftest import Account, git_commit, tool

EXAMPLE = REPO / "examples" / "hello"


def test_the_gitlab_example_deploys_and_hands_its_outputs_to_the_next_job(
    action_image: str, gitlab_helper_image: str, account: Account, tmp_path: Path
) -> None:
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project)
    # moto computes outputs on CreateStack/UpdateStack only, not on executing a change set.
    config = project / "hybridless.yml"
    config.write_text(
        config.read_text().replace("provider:\n", "provider:\n  deploymentMethod: direct\n", 1)
    )
    commit = git_commit(project)
    subprocess.run(
        [
            "git",
            "-C",
            str(project),
            "remote",
            "add",
            "origin",
            "https://gitlab.invalid/team/hello.git",
        ],
        check=True,
    )
    variables = {
        **{k: v for k, v in account.env.items() if k.startswith(("AWS_", "HYBRIDLESS_"))},
        **{k: account.env[k] for k in ("VPC_ID", "SUBNET_A", "SUBNET_B", "SECURITY_GROUP_ID")},
        "PYTHON_IMAGE": account.env["PYTHON_IMAGE"],
        "LAMBDA_PYTHON_IMAGE": account.env["LAMBDA_PYTHON_IMAGE"],
        "HYBRIDLESS_IMAGE": action_image,
        "DEPLOY_STAGE": account.stage,
        # gitlab-ci-local says GITLAB_CI=false on purpose; GitLab's runners say true.
        "GITLAB_CI": "true",
    }
    argv = [
        tool("gitlab-ci-local"),
        "--volume", "/var/run/docker.sock:/var/run/docker.sock",
        "--network", "host",
        "--pull-policy", "if-not-present",
        "--helper-image", gitlab_helper_image,
        "--no-color",
    ]  # fmt: skip
    for key, value in sorted(variables.items()):
        argv += ["--variable", f"{key}={value}"]
    result = subprocess.run(
        argv, cwd=project, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
    )
    log = result.stdout + result.stderr
    (tmp_path / "gitlab-ci-local.log").write_text(log)
    assert "Traceback" not in log, log[-6000:]
    assert result.returncode == 0, log[-6000:]

    stack = account.stack()
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    endpoint = account.stack_outputs()["ServiceEndpoint"]
    tag = re.search(r"verify > deployed (\S+) to (\S+) \((\S+)\)", log)
    assert tag is not None, log[-6000:]
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-" + commit[:7], tag.group(1))
    assert tag.group(2) == account.stack_name and tag.group(3) == "CREATE_COMPLETE"
    assert f"verify > endpoint {endpoint}" in log
    # The deploy job's phases were sections, opened and closed again (gitlab-ci-local reads
    # the markers and reports each section's start and duration).
    for phase in ("config", "credentials", "build", "push", "update", "cleanup"):
        assert f"deploy hybridless_{phase}_started" in log, phase
        assert re.search(rf"deploy hybridless_{phase} took \d+m?s", log), phase
