"""`hybridless rollback` and `hybridless remove` of examples/hello on the proving ground.

Deploys run as users run them (the installed command, in a subprocess); rollback and remove run
through `hybridless.cli.main`, so their exit codes and messages are checked as a user reads
them. What the stack runs is read from the AWS APIs here, independently of the tool: the image
of the stack's task definition and of the Lambda function. Each test has its own stage, so
stacks, repositories and records never collide with another test's.

A failed stack deletion cannot happen on moto (it deletes whatever it is asked to), so that
path runs against the CloudFormation double (tests/scenarios/delete-fails-on-a-full-bucket.yml)
with ECR and S3 on moto. moto also does not enforce termination protection on DeleteStack;
the refusal shown here is the tool's own, before any call that deletes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hybridless import cli, remove
from hybridless.errors import PhaseError
from hybridless.report import Reporter
from hybridless.stack import package, update
from hybridless.stack.events import Poller
from proving_ground.cloudformation_double import CloudFormationDouble
from tests.conftest import GroundHandle
from tests.integration.hello import REPOSITORIES, App

BUCKET = package.default_bucket_name("123456789012", "us-east-1")
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
IMAGES = {"web-0": "Web-0", "greeter-0": "Greeter-0"}  # repository (without the stage): image


def run_cli(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    """`hybridless <argv>` for this app's copy and stage, in this process, with the app's
    environment; returns the exit code and everything printed."""
    for key, value in app.env.items():
        monkeypatch.setenv(key, value)
    code = cli.main(
        [*argv, "--config", str(app.directory / "hybridless.yml"), "--stage", app.stage]
    )
    printed = capsys.readouterr()
    log = printed.out + printed.err
    assert "Traceback" not in log, log
    return code, log


def configure(app: App, before: str, text: str) -> None:
    """Put `text` into the app's hybridless.yml right after the line `before`."""
    config = app.directory / "hybridless.yml"
    config.write_text(config.read_text().replace(before, before + text, 1))


def task_definition_image(app: App) -> str:
    """The image the stack's task definition names, as CloudFormation holds the stack's
    template. Not from ECS: when CloudFormation updates a task definition, moto registers the
    new revision with the template's PascalCase keys, and ECS then describes its container
    without a name or an image."""
    body = boto3.client("cloudformation").get_template(
        StackName=app.stack_name, TemplateStage="Original"
    )["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    [definition] = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    ]
    return str(definition["Properties"]["ContainerDefinitions"][0]["Image"])


def running_tag(app: App) -> str:
    records = package.read_records(boto3.client("s3"), BUCKET, "hello", app.stage)
    return str(package.by_success(records)[-1]["image-tag"])


def stack_exists(name: str) -> bool:
    try:
        boto3.client("cloudformation").describe_stacks(StackName=name)
    except ClientError as err:
        assert "does not exist" in str(err)
        return False
    return True


def repository_exists(name: str) -> bool:
    try:
        boto3.client("ecr").describe_repositories(repositoryNames=[name])
    except ClientError as err:
        assert err.response["Error"]["Code"] == "RepositoryNotFoundException"
        return False
    return True


def stored_keys(prefix: str, bucket: str = BUCKET) -> list[str]:
    """Every version of every object under `prefix`, delete markers included."""
    page = boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]


def deployed(app: App, *options: str) -> dict[str, Any]:
    result = app.deploy("--method", "direct", *options)
    assert result.returncode == 0, result.log
    assert result.outputs is not None
    return result.outputs


# --- rollback -----------------------------------------------------------------------------------


def test_rollback_returns_to_the_previous_deployment_and_can_be_undone(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = deployed(app)
    app.change_code("Version two, {audience}!")
    second = deployed(app)
    assert app.function_image() == second["images"]["Greeter-0"]
    assert task_definition_image(app) == second["images"]["Web-0"]
    outputs = tmp_path / "rollback.json"

    code, log = run_cli(app, monkeypatch, capsys, "rollback", "--outputs-file", str(outputs))

    assert code == 0, log
    assert (
        f"rolling back from deployment {second['image-tag']} " in log
        and f" to {first['image-tag']} (deployed " in log
    )
    assert f"change set hybridless-rollback-{first['image-tag'].replace('.', '-')}:" in log
    # The stack's task definition and function point at the first deployment's digests again.
    assert app.function_image() == first["images"]["Greeter-0"]
    assert task_definition_image(app) == first["images"]["Web-0"]
    assert running_tag(app) == first["image-tag"]
    written = json.loads(outputs.read_text())
    assert written["image-tag"] == first["image-tag"]
    assert written["images"] == first["images"]
    assert written["stack-name"] == app.stack_name
    assert written["outputs"]["GreeterFunctionName"] == f"{app.stack_name}-Greeter"
    # Cleanup kept the deployment rolled back from (keepPrevious, default 1) ...
    stored = app.stored_digests()
    for repository, image in IMAGES.items():
        for deployment in (first, second):
            assert deployment["images"][image].split("@")[1] in stored[repository]

    # ... so a second rollback, without --to, returns to it.
    code, log = run_cli(app, monkeypatch, capsys, "rollback")

    assert code == 0, log
    assert f"to {second['image-tag']} (deployed " in log
    assert app.function_image() == second["images"]["Greeter-0"]
    assert task_definition_image(app) == second["images"]["Web-0"]
    assert running_tag(app) == second["image-tag"]


def test_rollback_to_an_unknown_deployment_lists_those_available_and_changes_nothing(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = deployed(app)
    app.change_code("Version two, {audience}!")
    second = deployed(app)
    events_before = boto3.client("cloudformation").describe_stack_events(StackName=app.stack_name)[
        "StackEvents"
    ]

    code, log = run_cli(app, monkeypatch, capsys, "rollback", "--to", "20200101T000000.000Z-nope")

    assert code == 1
    assert (
        f"error: rollback failed: there is no deployment 20200101T000000.000Z-nope of hello stage "
        f"{app.stage}; the deployments that succeeded, newest first: {second['image-tag']} "
        "(deployed "
    ) in log
    assert f", running now), {first['image-tag']} (deployed " in log
    assert log.rstrip().endswith("Nothing was changed.")
    assert "── validate" not in log and "── update" not in log
    events_after = boto3.client("cloudformation").describe_stack_events(StackName=app.stack_name)[
        "StackEvents"
    ]
    assert events_after == events_before
    assert app.function_image() == second["images"]["Greeter-0"]
    assert running_tag(app) == second["image-tag"]


def test_rollback_refuses_when_cleanup_already_deleted_the_images(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(app, "hybridless:\n", "  keepPrevious: 0\n")
    first = deployed(app)
    app.change_code("Version two, {audience}!")
    second = deployed(app)
    greeter = first["images"]["Greeter-0"].split("/", 1)[1]
    assert greeter.split("@")[1] not in app.stored_digests()["greeter-0"]

    code, log = run_cli(app, monkeypatch, capsys, "rollback", "--to", first["image-tag"])

    assert code == 1
    assert (
        f"error: rollback failed: deployment {first['image-tag']} needs images ECR no longer "
        f"holds: Greeter-0 ({greeter}): the image is gone."
    ) in log
    assert "hybridless.keepPrevious earlier deployments (here 0; default 1)" in log
    assert "Nothing was changed." in log
    assert "── update" not in log
    assert app.function_image() == second["images"]["Greeter-0"]
    assert task_definition_image(app) == second["images"]["Web-0"]
    assert app.stack_status() == "UPDATE_COMPLETE"
    assert running_tag(app) == second["image-tag"]


# --- remove -------------------------------------------------------------------------------------


def test_remove_deletes_the_stack_the_tool_s_repositories_and_the_records(
    app: App,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    deployed(app)
    ecr = boto3.client("ecr")
    own = f"hello/cache-{app.stage}"  # the team's own repository under the service's prefix
    ecr.create_repository(repositoryName=own)
    request.addfinalizer(lambda: ecr.delete_repository(repositoryName=own, force=True))
    assert stored_keys(f"hello/{app.stage}/")
    other_stage = f"hello/{app.stage}x/deployment.json"  # a longer stage name with our prefix
    boto3.client("s3").put_object(Bucket=BUCKET, Key=other_stage, Body=b"{}")
    request.addfinalizer(lambda: boto3.client("s3").delete_object(Bucket=BUCKET, Key=other_stage))

    code, log = run_cli(app, monkeypatch, capsys, "remove", "--yes")

    assert code == 0, log
    assert f"{app.stack_name} AWS::CloudFormation::Stack DELETE_IN_PROGRESS" in log
    assert f"stack {app.stack_name}: DELETE_COMPLETE" in log
    assert not stack_exists(app.stack_name)
    for name in REPOSITORIES:
        assert not repository_exists(app.repository(name))
        assert f"deleted repository {app.repository(name)} and its images" in log
    assert repository_exists(own)
    assert f"repository {own}: not created by hybridless, kept" in log
    assert stored_keys(f"hello/{app.stage}/") == []
    assert stored_keys(other_stage) == [other_stage]
    assert "the bucket itself is shared and stays" in log

    code, log = run_cli(app, monkeypatch, capsys, "remove", "--yes")

    assert code == 0, log
    assert f"stack {app.stack_name} does not exist (already removed?)" in log


def test_remove_without_a_stack_still_removes_repositories_and_records_once_confirmed(
    app: App,
) -> None:
    deployed(app)
    boto3.client("cloudformation").delete_stack(StackName=app.stack_name)
    options = remove.RemoveOptions(config=app.directory / "hybridless.yml", stage=app.stage)
    asked: list[str] = []

    def typed(answer: str) -> remove.Confirm:
        def confirm(stack_name: str) -> bool:
            asked.append(stack_name)
            return answer == stack_name

        return confirm

    with pytest.raises(remove.NotConfirmed, match="nothing was deleted"):
        remove.remove(options, Reporter(io.StringIO()), typed("hello-wrong"), app.env)
    assert all(repository_exists(app.repository(name)) for name in REPOSITORIES)
    assert stored_keys(f"hello/{app.stage}/")

    log = io.StringIO()
    removal = remove.remove(options, Reporter(log), typed(app.stack_name), app.env)

    assert asked == [app.stack_name, app.stack_name]
    assert f"stack {app.stack_name} does not exist; nothing to delete there" in log.getvalue()
    assert removal.stack_status == ""
    assert sorted(removal.repositories) == sorted(app.repository(n) for n in REPOSITORIES)
    assert not any(repository_exists(app.repository(name)) for name in REPOSITORIES)
    assert stored_keys(f"hello/{app.stage}/") == [], log.getvalue()


def test_remove_refuses_a_stack_with_termination_protection(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(app, "provider:\n", "  terminationProtection: true\n")
    deployed(app)
    stack = boto3.client("cloudformation").describe_stacks(StackName=app.stack_name)["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True

    code, log = run_cli(app, monkeypatch, capsys, "remove", "--yes")

    assert code == 1
    assert f"error: remove failed: stack {app.stack_name} has termination protection." in log
    assert f"--no-enable-termination-protection --stack-name {app.stack_name}`" in log
    assert log.rstrip().endswith("Nothing was deleted.")
    assert "── delete stack" not in log
    assert app.stack_status() == "CREATE_COMPLETE"
    assert all(repository_exists(app.repository(name)) for name in REPOSITORIES)
    assert stored_keys(f"hello/{app.stage}/")


def test_a_stack_that_fails_to_delete_stops_the_removal_with_the_resource_named(
    ground_env: GroundHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unique: str
) -> None:
    """CloudFormation on the double (moto's deletions never fail); ECR and S3 on moto."""
    service, stage = f"svc{unique}", "dev"
    config = tmp_path / "hybridless.yml"
    config.write_text(
        f"service: {service}\nprovider:\n  region: us-east-1\n  deploymentBucket: {BUCKET}\n"
        "hybridless:\n  functions:\n    Job:\n      handler: app.handler\n      events:\n"
        "        - eventType: lambda\n          runtime: python3.12\n"
    )
    double = CloudFormationDouble(SCENARIOS / "delete-fails-on-a-full-bucket.yml")
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", double.url)
        tags = {"hybridless:service": service, "hybridless:stage": stage}
        created = update.deploy_stack(
            boto3.client("cloudformation", endpoint_url=double.url),
            update.Request(
                stack_name=f"{service}-{stage}",
                template_url="https://bucket.s3.amazonaws.com/t.json",
                capabilities=[],
                tags=tags,
                method="direct",
                deployment_id="t1",
            ),
            Reporter(io.StringIO()),
            Poller(fastest=0.05, slowest=0.2),
        )
        assert created.status == "CREATE_COMPLETE"
        repository = f"{service}/job-0-{stage}"
        boto3.client("ecr").create_repository(
            repositoryName=repository, tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
        record = f"{service}/{stage}/t1/deployment.json"
        boto3.client("s3").put_object(Bucket=BUCKET, Key=record, Body=b"{}")
        log = io.StringIO()

        with pytest.raises(PhaseError) as failed:
            remove.remove(
                remove.RemoveOptions(config=config, stage=stage),
                Reporter(log),
                poller=Poller(fastest=0.05, slowest=0.2),
            )

        message = str(failed.value)
        assert message.startswith(
            f"delete stack failed: stack {service}-{stage} is DELETE_FAILED: these resources "
            "could not be deleted: Uploads (AWS::S3::Bucket): The bucket you tried to delete is "
            "not empty"
        )
        assert "AWS::ECS::Service" not in message  # deleted, so not named
        assert "Nothing else was deleted" in message
        assert "Uploads AWS::S3::Bucket DELETE_FAILED: The bucket you tried" in log.getvalue()
        assert "DeleteStack" in double.double.actions()
        assert repository_exists(repository)
        assert stored_keys(record) == [record]
    finally:
        double.close()
