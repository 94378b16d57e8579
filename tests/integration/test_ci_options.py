"""The options CI users set, through the command as a CI step runs it: the GitHub step's
outputs and summary, an assumed role (OIDC and AssumeRole), stack tags and parameters, and the
mistakes in them refused before anything is touched."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from hybridless.report import Reporter
from hybridless.stack import update
from tests.conftest import GroundHandle
from tests.integration.hello import App
from tests.support import OidcTokenService

ROLE = "arn:aws:iam::123456789012:role/deployer"


def read_github_outputs(path: Path) -> dict[str, str]:
    """The heredoc form the runner reads: name<<DELIMITER, value lines, DELIMITER."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        values[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return values


def uploaded(ground: GroundHandle, bucket: str, template: dict[str, Any]) -> tuple[str, str]:
    """(template body, TemplateURL) of `template` put in a new bucket on moto."""
    body = json.dumps(template)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="t.json", Body=body.encode())
    return body, f"{ground.env['AWS_ENDPOINT_URL']}/{bucket}/t.json"


def stack_exists(name: str) -> bool:
    try:
        boto3.client("cloudformation").describe_stacks(StackName=name)
        return True
    except ClientError:
        return False


def test_on_github_the_role_is_assumed_with_the_oidc_token_and_the_step_gets_its_outputs(
    app: App, tmp_path: Path
) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    output.touch()
    summary.touch()
    tokens = OidcTokenService({"sub": "repo:team/hello:ref:refs/heads/main"})
    app.env.update(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_WORKSPACE=str(app.directory),
        **tokens.env(),
    )
    try:
        result = app.deploy("--method", "direct", "--role-to-assume", ROLE, "--tags", "team=web")
    finally:
        tokens.close()

    assert result.returncode == 0, result.log
    assert [r["audience"] for r in tokens.requests] == ["sts.amazonaws.com"]
    assert re.search(
        r"acting as arn:aws:sts::123456789012:assumed-role/deployer/\S+ "
        r"\(assumed through GitHub OIDC\)",
        result.log,
    )
    # The token is masked on GitHub before it could print, and never appears in clear otherwise.
    masks = [line for line in result.log.splitlines() if line.startswith("::add-mask::")]
    assert len(masks) >= 3
    assert not any("eyJ" in line for line in result.log.splitlines() if line not in masks)
    # The calls made are counted for the log (and the benchmarks).
    assert re.search(
        r"AWS API calls: cloudformation \d+, ecr \d+, ecs \d+, lambda \d+, s3 \d+, sts \d+",
        result.log,
    )
    # A group per phase.
    assert "::group::credentials" in result.log and "::endgroup::" in result.log

    outputs = read_github_outputs(output)
    assert outputs["stack-name"] == app.stack_name
    assert outputs["stack-status"] == "CREATE_COMPLETE"
    assert json.loads(outputs["outputs"])["ServiceEndpoint"] == outputs["ServiceEndpoint"]
    assert set(json.loads(outputs["images"])) == {"Web-0", "Greeter-0"}
    text = summary.read_text()
    assert "## ✅ hybridless: deployed" in text
    assert outputs["ServiceEndpoint"] in text

    stack = boto3.client("cloudformation").describe_stacks(StackName=app.stack_name)["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["team"] == "web" and tags["hybridless:stage"] == app.stage


def test_off_github_the_role_is_assumed_with_the_current_credentials(app: App) -> None:
    result = app.deploy("--method", "direct", "--role-to-assume", ROLE, "--preview")

    assert result.returncode == 0, result.log
    assert "assumed-role/deployer/hybridless-deploy (assumed through AssumeRole)" in result.log


def test_a_role_on_github_without_an_id_token_says_which_permission_is_missing(
    app: App,
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        app.env.pop(key)
    app.env["GITHUB_ACTIONS"] = "true"

    result = app.deploy("--role-to-assume", ROLE)

    assert result.returncode == 1, result.log
    assert "add `permissions: id-token: write`" in result.log
    assert "::error title=credentials failed::" in result.log
    assert not stack_exists(app.stack_name)


def test_an_unknown_parameter_is_refused_before_anything_is_built(app: App) -> None:
    result = app.deploy("--parameter-overrides", "Colour=blue")

    assert result.returncode == 2, result.log
    assert "--parameter-overrides: Colour: the template declares no parameter Colour" in result.log
    assert "── build" not in result.log
    assert not stack_exists(app.stack_name)


def test_a_reserved_tag_is_a_usage_error(app: App) -> None:
    result = app.deploy("--tags", "aws:owner=me")

    assert result.returncode == 2
    assert "the aws: and hybridless: prefixes are reserved" in result.log


def test_parameters_reach_the_stack_in_both_methods_and_a_new_value_is_a_change(
    ground_env: GroundHandle, unique: str
) -> None:
    """The stack engine with a template that declares a parameter, on moto."""
    cloudformation = boto3.client("cloudformation")
    body, url = uploaded(
        ground_env,
        f"params-{unique}",
        {
            "Parameters": {"Colour": {"Type": "String"}},
            "Resources": {
                "Setting": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {
                        "Name": {"Fn::Sub": "/params/${AWS::StackName}"},
                        "Type": "String",
                        "Value": {"Ref": "Colour"},
                    },
                }
            },
            "Outputs": {"Colour": {"Value": {"Ref": "Colour"}}},
        },
    )

    def deploy(method: str, colour: str) -> update.StackResult:
        return update.deploy_stack(
            cloudformation,
            update.Request(
                stack_name=f"params-{unique}",
                template_url=url,
                capabilities=[],
                tags={},
                method=method,
                deployment_id=f"{method}-{colour}",
                template_body=body,
                parameters={"Colour": colour},
            ),
            Reporter(ci="terminal"),
        )

    created = deploy("direct", "blue")
    same = deploy("direct", "blue")
    changed = deploy("changeset", "green")

    assert created.outputs == {"Colour": "blue"}
    assert same.changed is False
    assert changed.changed is True
    parameters = cloudformation.describe_stacks(StackName=f"params-{unique}")["Stacks"][0]
    assert parameters["Parameters"] == [{"ParameterKey": "Colour", "ParameterValue": "green"}]


def test_stack_settings_reach_the_stack_on_create_and_on_update(
    ground_env: GroundHandle, unique: str
) -> None:
    """Termination protection, a service role, notification topics and alarm-driven rollback,
    as moto stores them. moto lacks UpdateTerminationProtection, so protection is set here on
    CreateStack (direct); turning it on and off later is shown against the CloudFormation
    double (test_stack_engine.py)."""
    cloudformation = boto3.client("cloudformation")
    topic = boto3.client("sns").create_topic(Name=f"stack-events-{unique}")["TopicArn"]
    body, url = uploaded(
        ground_env, f"settings-{unique}", {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    )
    role = "arn:aws:iam::123456789012:role/cloudformation-deployer"
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:errors"

    def deploy(method: str, deployment: str, protection: bool | None) -> update.StackResult:
        return update.deploy_stack(
            cloudformation,
            update.Request(
                stack_name=f"settings-{unique}",
                template_url=url,
                capabilities=[],
                tags={"run": deployment},
                method=method,
                deployment_id=deployment,
                template_body=body,
                role_arn=role,
                notification_arns=(topic,),
                rollback_alarms=(alarm,),
                rollback_monitoring_minutes=5,
                termination_protection=protection,
            ),
            Reporter(ci="terminal"),
        )

    created = deploy("direct", "one", True)
    first = cloudformation.describe_stacks(StackName=f"settings-{unique}")["Stacks"][0]
    deploy("changeset", "two", None)
    second = cloudformation.describe_stacks(StackName=f"settings-{unique}")["Stacks"][0]

    assert created.status == "CREATE_COMPLETE"
    assert first["EnableTerminationProtection"] is True
    assert first["NotificationARNs"] == [topic]
    assert first["RoleARN"] == role
    # The config said nothing the second time: protection is left as it was. (moto reports a
    # change of tags alone as "no changes", so this update changed nothing else either.)
    assert second["EnableTerminationProtection"] is True
    assert second["RoleARN"] == role
