"""`command: rollback` and `command: remove` of the action under a real GitHub Actions runner
(act): the inputs reach the subcommands, the rollback's outputs are a deploy's, and a removal
in a workflow asks nobody (`--yes`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from botocore.exceptions import ClientError

from proving_ground.checkout import REPO, copy_repository
from tests.conftest import GroundHandle
from tests.e2e.conftest import Account, git_commit
from tests.e2e.test_github_action import e2e_values, run_act

WORKFLOW = REPO / "tests" / "e2e" / "workflows" / "rollback-remove.yml"


def test_the_action_rolls_back_and_removes_the_stage(
    ground: GroundHandle, action_image: str, account: Account, tmp_path: Path
) -> None:
    project = copy_repository(tmp_path / "project")
    workflows = project / ".github" / "workflows"
    shutil.rmtree(workflows, ignore_errors=True)
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOW, workflows / "e2e.yml")
    git_commit(project)
    env = {
        **{k: v for k, v in account.env.items() if k.startswith(("AWS_", "HYBRIDLESS_"))},
        **{k: account.env[k] for k in ("VPC_ID", "SUBNET_A", "SUBNET_B", "SECURITY_GROUP_ID")},
        "PYTHON_IMAGE": account.env["PYTHON_IMAGE"],
        "LAMBDA_PYTHON_IMAGE": account.env["LAMBDA_PYTHON_IMAGE"],
        "E2E_STAGE": account.stage,
    }

    result = run_act(project, env, account.env["HYBRIDLESS_GROUND_BASE_IMAGE"])

    log = result.stdout + result.stderr
    (tmp_path / "act.log").write_text(log)
    assert "Traceback" not in log, log[-6000:]
    assert result.returncode == 0, log[-6000:]
    values = e2e_values(log)
    assert values["first"] and values["second"] and values["first"] != values["second"]
    assert values["rollback"] == values["first"]
    assert values["rollback-status"] == "UPDATE_COMPLETE"
    assert values["same-images"] == "True"
    assert f"rolling back from deployment {values['second']} " in log
    assert "Summary - ## ↩️ hybridless: rolled back" in log

    assert values["remove-outcome"] == "success"
    assert "Summary - ## 🗑️ hybridless: removed" in log
    try:
        account.stack()
        raise AssertionError(f"stack {account.stack_name} is still there")
    except ClientError as err:
        assert "does not exist" in str(err)
    repositories = account.client("ecr").describe_repositories()["repositories"]
    assert not [r for r in repositories if r["repositoryName"].endswith(f"-{account.stage}")]
    records = account.client("s3").list_objects_v2(
        Bucket=f"hybridless-deployments-123456789012-{account.env['AWS_REGION']}",
        Prefix=f"hello/{account.stage}/",
    )
    assert records.get("KeyCount", 0) == 0
