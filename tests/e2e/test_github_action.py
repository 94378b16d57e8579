"""The action under a real GitHub Actions runner (act): `uses: ./` is built from the Dockerfile,
given its inputs as INPUT_* variables, deploys examples/hello to the proving ground, and a
later step reads its outputs. A second job feeds it a broken config and gets an annotation on
the file and line.

The job assumes a role through an OIDC token, as GitHub runners hand one out: act has no token
service, so a stand-in on 127.0.0.1 answers ACTIONS_ID_TOKEN_REQUEST_URL, and moto's STS takes
the token. Everything else is as on GitHub: checkout, the workspace, $GITHUB_OUTPUT,
$GITHUB_STEP_SUMMARY, workflow commands.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from proving_ground.checkout import REPO, copy_repository
from tests.conftest import GroundHandle
from tests.e2e.conftest import Account, git_commit, tool
from tests.support import OidcTokenService

WORKFLOW = REPO / "tests" / "e2e" / "workflows" / "deploy.yml"
ROLE = "arn:aws:iam::123456789012:role/deployer"
BROKEN_CONFIG = """\
service: hello
provider:
  stage: dev
hybridless:
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
          dockerFile: Dockerfile.web
          prot: 8080
"""


def e2e_values(log: str) -> dict[str, str]:
    """`e2e key=value` lines the workflow's last step printed."""
    values = {}
    for match in re.finditer(r"\| e2e ([a-z-]+)=(.*)$", log, re.MULTILINE):
        values[match.group(1)] = match.group(2).strip()
    return values


def run_act(
    project: Path, env: dict[str, str], base_image: str
) -> subprocess.CompletedProcess[str]:
    argv = [
        tool("act"), "push",
        "-W", ".github/workflows/e2e.yml",
        "-P", f"ubuntu-latest={base_image}",
        "--pull=false",
        "--container-options", "--network host",
    ]  # fmt: skip
    for key, value in sorted(env.items()):
        argv += ["--env", f"{key}={value}"]
    return subprocess.run(
        argv,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )


def test_the_action_deploys_and_a_later_step_reads_its_outputs(
    ground: GroundHandle, action_image: str, account: Account, tmp_path: Path
) -> None:
    project = copy_repository(tmp_path / "project")
    workflows = project / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW, workflows / "e2e.yml")
    (project / "examples" / "broken").mkdir()
    (project / "examples" / "broken" / "hybridless.yml").write_text(BROKEN_CONFIG)
    commit = git_commit(project)
    tokens = OidcTokenService(
        {"sub": "repo:nektos/act:ref:refs/heads/main", "repository": "nektos/act"}
    )
    try:
        env = {
            **{k: v for k, v in account.env.items() if k.startswith(("AWS_", "HYBRIDLESS_"))},
            **{k: account.env[k] for k in ("VPC_ID", "SUBNET_A", "SUBNET_B", "SECURITY_GROUP_ID")},
            "PYTHON_IMAGE": account.env["PYTHON_IMAGE"],
            "LAMBDA_PYTHON_IMAGE": account.env["LAMBDA_PYTHON_IMAGE"],
            "E2E_STAGE": account.stage,
            "E2E_ROLE": ROLE,
            **tokens.env(),
        }
        result = run_act(project, env, account.env["HYBRIDLESS_GROUND_BASE_IMAGE"])
    finally:
        tokens.close()
    log = result.stdout + result.stderr
    (tmp_path / "act.log").write_text(log)
    values = e2e_values(log)
    assert "Traceback" not in log, log[-6000:]
    assert result.returncode == 0, log[-6000:]

    # The deploy happened, as the stack itself says.
    stack = account.stack()
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["team"] == "platform" and tags["cost-center"] == "42"

    # The later step saw every output, each stack output also under its own name.
    assert values["stack-name"] == account.stack_name
    assert values["stack-status"] == "CREATE_COMPLETE"
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-" + commit[:7], values["image-tag"])
    outputs = account.stack_outputs()
    assert json.loads(values["outputs"]) == outputs
    assert values["endpoint"] == outputs["ServiceEndpoint"]
    images = json.loads(values["images"])
    assert set(images) == {"Web-0", "Greeter-0"}
    assert all(
        f":{values['image-tag']}" not in uri and "@sha256:" in uri for uri in images.values()
    )

    # act's workspace belongs to root, so the container tried its unprivileged user and stayed
    # root, saying why (as on runners whose workspace the user cannot write).
    assert re.search(
        r"\| running as root: the unprivileged user hybridless was tried, and it could not read "
        r"\S+/examples/hello or write in it",
        log,
    )

    # The role was assumed with the runner's OIDC token, asked for STS's audience.
    assert tokens.requests and tokens.requests[0]["audience"] == "sts.amazonaws.com"
    assert "assumed-role/deployer/" in log and "(assumed through GitHub OIDC)" in log

    # Phases are folded into groups (act shows the commands it does not fold), the secrets
    # were masked before they could print, and the summary tells the result.
    for phase in ("config", "credentials", "build", "push", "update", "cleanup"):
        assert f"::group::{phase}" in log
    assert "::endgroup::" in log
    assert "eyJ" not in log  # no part of the OIDC token, whose JSON parts start so
    summary = log[log.index("Summary - ## ✅ hybridless: deployed") :]
    assert f"`{account.stack_name}`" in summary and "```mermaid" in summary
    assert "| `ServiceEndpoint` |" in summary

    # The broken config was reported on its file and line, and the step failed.
    assert values["broken-outcome"] == "failure"
    assert (
        "::error title=hybridless configuration,file=examples/broken/hybridless.yml,line=11::"
        "hybridless.functions.Web.events[0].prot: unknown key; did you mean 'port'?"
    ) in log
    assert "Summary - ## ❌ hybridless: deploy failed" in log
