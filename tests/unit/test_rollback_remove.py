"""`hybridless rollback` and `hybridless remove` without services: which deployment a rollback
returns to, what each refusal says, how parameters are kept, the running-deployment marker's
one-second tie, what a removal keeps and refuses, and how the command line and the action reach
both commands."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hybridless import action, cli, remove, rollback
from hybridless.errors import EXIT_USAGE
from hybridless.model import App
from hybridless.pipeline import DeployResult
from hybridless.report import Reporter
from hybridless.report.summary import render
from hybridless.stack import package, update

APP = App(service="hello", stage="dev", region="us-east-1", stack_name="hello-dev",
          config_file=Path("hybridless.yml"), keep_previous=0)  # fmt: skip
LABEL = "hello stage dev"


def record(tag: str, time: str, succeeded: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "image-tag": tag,
        "time": time,
        "prefix": f"hello/dev/{tag}/",
        "images": {"Web-0": f"1.dkr.ecr.us-east-1.amazonaws.com/hello/web-0-dev@sha256:{tag}"},
    }
    if succeeded:
        found["succeeded"] = succeeded
    return found


def client_error(code: str, operation: str = "DescribeImages") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


# --- choosing the deployment ------------------------------------------------------------------


V1 = record("v1", "2026-11-22T10:00:00+00:00", "2026-11-22T10:01:00+00:00")
V2 = record("v2", "2026-11-22T11:00:00+00:00", "2026-11-22T11:01:00+00:00")
FAILED = record("v3", "2026-11-22T12:00:00+00:00")


def test_without_to_the_target_is_the_success_before_the_running_one() -> None:
    assert rollback.choose_target([V1, V2, FAILED], None, LABEL) is V1


def test_after_a_rollback_the_running_one_is_the_last_to_succeed_not_the_newest_deployed() -> None:
    rolled_back = {**V1, "succeeded": "2026-11-22T13:00:00+00:00"}

    assert rollback.choose_target([rolled_back, V2], None, LABEL) is V2


def test_a_failed_deployment_after_the_running_one_does_not_count() -> None:
    assert rollback.choose_target([V1, V2, FAILED], None, LABEL)["image-tag"] == "v1"


def test_nothing_succeeded_yet_is_refused() -> None:
    with pytest.raises(rollback.Refused) as refused:
        rollback.choose_target([FAILED], None, LABEL)

    assert "no deployment of hello stage dev has succeeded yet" in str(refused.value)
    assert str(refused.value).endswith("Nothing was changed.")


def test_a_single_success_has_nothing_earlier() -> None:
    with pytest.raises(rollback.Refused) as refused:
        rollback.choose_target([V1, FAILED], None, LABEL)

    assert "deployment v1 is the only one of hello stage dev that succeeded" in str(refused.value)


def test_an_unknown_deployment_lists_those_available_newest_first_with_their_time() -> None:
    with pytest.raises(rollback.Refused) as refused:
        rollback.choose_target([V1, V2, FAILED], "nope", LABEL)

    message = str(refused.value)
    assert message.startswith("rollback failed: there is no deployment nope of hello stage dev;")
    assert (
        "the deployments that succeeded, newest first: v2 (deployed 2026-11-22 11:00:00 UTC, "
        "running now), v1 (deployed 2026-11-22 10:00:00 UTC)"
    ) in message
    assert "v3" not in message
    assert refused.value.exit_code == 1


def test_a_deployment_that_never_succeeded_is_refused_by_name() -> None:
    with pytest.raises(rollback.Refused) as refused:
        rollback.choose_target([V1, V2, FAILED], "v3", LABEL)

    assert "deployment v3 of hello stage dev never succeeded" in str(refused.value)
    assert "v2 (deployed" in str(refused.value)


def test_the_running_deployment_can_be_named_and_is_deployed_again() -> None:
    assert rollback.choose_target([V1, V2], "v2", LABEL) is V2
    assert "is the one running already" in rollback.describe_move([V1, V2], V2)


def test_the_move_names_both_ends() -> None:
    assert rollback.describe_move([V1, V2], V1) == (
        "rolling back from deployment v2 (deployed 2026-11-22 11:00:00 UTC) to v1 "
        "(deployed 2026-11-22 10:00:00 UTC)"
    )


def test_a_deployment_of_another_stack_is_refused() -> None:
    rollback.check_stack_name({**V1, "stack-name": "hello-dev"}, APP)
    rollback.check_stack_name(V1, APP)  # records from before the stack name was kept

    with pytest.raises(rollback.Refused) as refused:
        rollback.check_stack_name({**V1, "stack-name": "hello-blue"}, APP)

    assert "deployment v1 was deployed to stack hello-blue, not hello-dev" in str(refused.value)
    assert "--stack-name hello-blue" in str(refused.value)


def test_a_long_history_is_listed_in_part() -> None:
    records = [
        record(f"t{n:02}", f"2026-11-22T10:{n:02}:00+00:00", f"2026-11-22T10:{n:02}:30+00:00")
        for n in range(14)
    ]

    listing = rollback.available(records)

    assert listing.count("(deployed") == rollback.LISTED
    assert listing.startswith("the deployments that succeeded, newest first: t13 ")
    assert listing.endswith(", and 4 older")


def test_a_time_that_is_no_time_is_shown_as_it_is() -> None:
    assert rollback.when("yesterday") == "yesterday"
    assert rollback.when(None) == "None"


# --- what the target needs --------------------------------------------------------------------


class Ecr:
    """describe_images answering from {repository: {digests}}."""

    def __init__(self, stored: dict[str, set[str]]) -> None:
        self.stored = stored

    def describe_images(self, repositoryName: str, imageIds: list[dict[str, str]]) -> Any:
        if repositoryName not in self.stored:
            raise client_error("RepositoryNotFoundException")
        digest = imageIds[0]["imageDigest"]
        if digest not in self.stored[repositoryName]:
            raise client_error("ImageNotFoundException")
        return {"imageDetails": [{"imageDigest": digest}]}


def test_missing_images_are_each_named_with_the_reason() -> None:
    images = {
        "Web-0": "1.dkr.ecr.us-east-1.amazonaws.com/hello/web-0-dev@sha256:aa",
        "Greeter-0": "1.dkr.ecr.us-east-1.amazonaws.com/hello/greeter-0-dev@sha256:bb",
        "Worker-0": "1.dkr.ecr.us-east-1.amazonaws.com/hello/worker-0-dev@sha256:cc",
    }
    ecr = Ecr({"hello/web-0-dev": {"sha256:aa"}, "hello/greeter-0-dev": {"sha256:other"}})

    assert rollback.missing_images(ecr, images) == [
        ("Greeter-0", "hello/greeter-0-dev@sha256:bb", "the image is gone"),
        ("Worker-0", "hello/worker-0-dev@sha256:cc", "its repository is gone"),
    ]


def test_another_ecr_error_is_not_taken_for_a_missing_image() -> None:
    class Denied:
        def describe_images(self, **_: Any) -> Any:
            raise client_error("AccessDeniedException")

    with pytest.raises(ClientError):
        rollback.missing_images(Denied(), {"Web-0": "x/hello/web@sha256:aa"})


def test_the_missing_image_message_says_why_images_go_and_the_setting() -> None:
    message = rollback.missing_images_message(
        "v1", [("Web-0", "hello/web-0-dev@sha256:aa", "the image is gone")], 0
    )

    assert "deployment v1 needs images ECR no longer holds: Web-0 (hello/web-0-dev@sha256:aa)" in (
        message
    )
    assert "hybridless.keepPrevious earlier deployments (here 0; default 1)" in message


def test_parameters_the_stack_has_keep_their_values_unless_given() -> None:
    template = {"Parameters": {"Size": {"Type": "String"}, "Colour": {"Type": "String"}}}
    stack = {"Parameters": [{"ParameterKey": "Size", "ParameterValue": "2"},
                            {"ParameterKey": "Colour", "ParameterValue": "red"}]}  # fmt: skip

    assert rollback.kept_parameters(template, stack, {"Colour": "blue"}, "v1") == ("Size",)


def test_a_parameter_the_stack_lacks_needs_a_default_or_a_value() -> None:
    template = {"Parameters": {"New": {"Type": "String"}, "Old": {"Type": "String",
                                                                   "Default": "x"}}}  # fmt: skip

    with pytest.raises(rollback.Refused) as refused:
        rollback.kept_parameters(template, {"Parameters": []}, {}, "v1")
    assert "declares parameter(s) New with no default" in str(refused.value)
    assert "--parameter-overrides NAME=VALUE" in str(refused.value)
    assert rollback.kept_parameters(template, {"Parameters": []}, {"New": "1"}, "v1") == ()


def test_the_request_sends_kept_parameters_as_use_previous_value() -> None:
    request = update.Request(
        stack_name="s", template_url="u", capabilities=[], tags={}, method="changeset",
        deployment_id="rollback-v1", parameters={"Colour": "blue"},
        previous_parameters=("Size", "Colour"),
    )  # fmt: skip

    assert request.parameter_list() == [
        {"ParameterKey": "Colour", "ParameterValue": "blue"},
        {"ParameterKey": "Size", "UsePreviousValue": True},
    ]


def test_a_kept_parameter_does_not_make_a_direct_update_look_changed() -> None:
    class Cfn:
        def get_template(self, **_: Any) -> Any:
            return {"TemplateBody": '{"Resources": {}}'}

    stack = {"Tags": [], "Parameters": [{"ParameterKey": "Size", "ParameterValue": "2"}]}
    request = update.Request(
        stack_name="s", template_url="u", capabilities=[], tags={}, method="direct",
        deployment_id="rollback-v1", template_body='{"Resources": {}}',
        previous_parameters=("Size",),
    )  # fmt: skip

    assert update._unchanged(Cfn(), stack, request)


def test_nested_stacks_are_found_in_the_template() -> None:
    assert rollback.has_nested_stacks({"Resources": {"A": {"Type": "AWS::CloudFormation::Stack"}}})
    assert not rollback.has_nested_stacks({"Resources": {"A": {"Type": "AWS::SQS::Queue"}}})


def test_a_template_that_is_not_json_is_refused() -> None:
    target = rollback.Target(V1, "hello/dev/v1/template-0.json", "Resources: {}")

    with pytest.raises(rollback.Refused, match="is not JSON"):
        rollback.parse_template(target)


# --- the running-deployment marker ------------------------------------------------------------


class SecondsS3:
    """S3 as far as the records go, keeping LastModified to the second as S3 does."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.objects: dict[str, tuple[bytes, datetime]] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        moment = datetime.fromtimestamp(int(self.clock[0]), UTC)
        self.objects[Key] = (Body, moment)

    def get_object(self, Bucket: str, Key: str) -> Any:
        return {"Body": io.BytesIO(self.objects[Key][0])}

    def get_paginator(self, name: str) -> Any:
        s3 = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> Iterator[Any]:
                yield {
                    "Contents": [
                        {"Key": key, "LastModified": moment}
                        for key, (_, moment) in sorted(s3.objects.items())
                        if key.startswith(Prefix)
                    ]
                }

        return Pages()


def test_a_marker_written_within_the_second_of_the_one_before_still_reads_as_newer() -> None:
    """S3's LastModified has whole seconds: a rollback ending within the same second as the
    deploy before it must still read back as the running deployment."""
    import json

    clock = [1000.2]
    s3 = SecondsS3(clock)
    for tag, minute in (("v1", "00"), ("v2", "05")):
        body = {"image-tag": tag, "time": f"2026-11-22T10:{minute}:00"}
        s3.put_object("b", f"hello/dev/{tag}/deployment.json", json.dumps(body).encode())
    package.mark_succeeded(s3, "b", "hello/dev/v1/", "UPDATE_COMPLETE")
    clock[0] = 1001.1
    package.mark_succeeded(s3, "b", "hello/dev/v2/", "UPDATE_COMPLETE")
    clock[0] = 1001.7  # the rollback to v1 ends within the same second
    package.mark_succeeded(s3, "b", "hello/dev/v1/", "UPDATE_COMPLETE")

    running = package.by_success(package.read_records(s3, "b", "hello", "dev"))
    assert [r["image-tag"] for r in running] == ["v2", "v1"]


# --- remove: what it refuses and what it keeps ------------------------------------------------


def stack(**changes: Any) -> dict[str, Any]:
    described = {
        "StackName": "hello-dev",
        "StackId": "arn:aws:cloudformation:us-east-1:1:stack/hello-dev/x",
        "StackStatus": "UPDATE_COMPLETE",
        "Tags": [{"Key": "hybridless:service", "Value": "hello"},
                 {"Key": "hybridless:stage", "Value": "dev"}],
    }  # fmt: skip
    described.update(changes)
    return described


def test_termination_protection_is_refused_with_how_to_turn_it_off() -> None:
    with pytest.raises(remove.Refused) as refused:
        remove.check_stack(stack(EnableTerminationProtection=True), APP)

    message = str(refused.value)
    assert "stack hello-dev has termination protection" in message
    assert (
        "aws cloudformation update-termination-protection --no-enable-termination-protection "
        "--stack-name hello-dev"
    ) in message
    assert "provider.terminationProtection: false" in message
    assert message.endswith("Nothing was deleted.")


def test_a_stack_of_another_stage_or_of_no_hybridless_app_is_refused() -> None:
    other = stack(Tags=[{"Key": "hybridless:service", "Value": "hello"},
                        {"Key": "hybridless:stage", "Value": "prod"}])  # fmt: skip
    with pytest.raises(remove.Refused, match="belongs to service hello stage prod, not to hello"):
        remove.check_stack(other, APP)
    with pytest.raises(remove.Refused, match="belongs to no hybridless app"):
        remove.check_stack(stack(Tags=[]), APP)


def test_a_stack_being_changed_is_refused_but_a_failed_deletion_is_tried_again() -> None:
    with pytest.raises(remove.Refused, match="is UPDATE_IN_PROGRESS: another operation"):
        remove.check_stack(stack(StackStatus="UPDATE_IN_PROGRESS"), APP)
    remove.check_stack(stack(StackStatus="DELETE_FAILED"), APP)
    remove.check_stack(stack(StackStatus="DELETE_IN_PROGRESS"), APP)
    remove.check_stack(None, APP)


class RepositoriesEcr:
    def __init__(self, repositories: dict[str, dict[str, str]]) -> None:
        self.repositories = repositories

    def get_paginator(self, name: str) -> Any:
        names = list(self.repositories)

        class Pages:
            def paginate(self) -> Iterator[Any]:
                for start in range(0, len(names), 2):
                    yield {
                        "repositories": [
                            {"repositoryName": n, "repositoryArn": f"arn:{n}"}
                            for n in names[start : start + 2]
                        ]
                    }

        return Pages()

    def list_tags_for_resource(self, resourceArn: str) -> Any:
        tags = self.repositories[resourceArn.removeprefix("arn:")]
        return {"tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_only_repositories_tagged_for_the_stage_are_the_tool_s() -> None:
    ours = {"hybridless:service": "hello", "hybridless:stage": "dev"}
    ecr = RepositoriesEcr(
        {
            "hello/web-0-dev": ours,
            "hello/greeter-0-dev": {**ours, "team": "web"},
            "hello/web-0-prod": {**ours, "hybridless:stage": "prod"},
            "hello/cache": {"team": "web"},
            "hellooo/web-0-dev": ours,
            "other/web-0-dev": {},
        }
    )

    found = remove.find_repositories(ecr, APP)

    assert found.ours == ("hello/greeter-0-dev", "hello/web-0-dev")
    assert found.foreign == ("hello/cache",)


def test_the_plan_says_what_goes_and_what_stays() -> None:
    plan = remove.Plan(
        stack=stack(),
        repositories=remove.Repositories(("hello/web-0-dev",), ("hello/cache",)),
        bucket="deployments",
        prefix="hello/dev/",
        objects=7,
    )

    assert remove.describe_plan(plan, APP) == [
        "to delete: stack hello-dev (UPDATE_COMPLETE)",
        "to delete: repository hello/web-0-dev, with all its images",
        "to keep: repository hello/cache (not created by hybridless)",
        "repositories without the hybridless:service and hybridless:stage tags are kept: a "
        "team's own, and any hybridless created before it tagged them (delete those by hand)",
        "to delete: 7 object version(s) under s3://deployments/hello/dev/ (deployment records, "
        "templates, code)",
    ]


def test_a_failed_deletion_names_each_resource_and_says_nothing_else_went() -> None:
    deletion = update.Deletion(
        "DELETE_FAILED", False, [("Bucket", "AWS::S3::Bucket", "The bucket is not empty")]
    )

    message = remove.delete_failed_message("hello-dev", deletion)

    assert message.startswith(
        "stack hello-dev is DELETE_FAILED: these resources could not be deleted: Bucket "
        "(AWS::S3::Bucket): The bucket is not empty."
    )
    assert "Nothing else was deleted: the repositories and deployment records are kept" in message


def test_every_version_is_deleted_and_the_null_version_by_key() -> None:
    class Versions:
        def get_paginator(self, name: str) -> Any:
            class Pages:
                def paginate(self, Bucket: str, Prefix: str) -> Iterator[Any]:
                    yield {"Versions": [{"Key": "a", "VersionId": "1"},
                                        {"Key": "b", "VersionId": "null"}],
                           "DeleteMarkers": [{"Key": "c", "VersionId": "2"}]}  # fmt: skip

            return Pages()

    assert remove._versions(Versions(), "b", "hello/dev/") == [
        {"Key": "a", "VersionId": "1"},
        {"Key": "b"},
        {"Key": "c", "VersionId": "2"},
    ]


# --- summaries --------------------------------------------------------------------------------


def test_a_rollback_s_summary_says_it_was_a_rollback() -> None:
    result = DeployResult("v1", {}, "hello-dev", "UPDATE_COMPLETE", None, {}, True)
    reporter = Reporter(io.StringIO())

    assert "hybridless: rolled back" in render(cli.summary_for("rollback", reporter, result, None))
    failed = cli.summary_for("rollback", reporter, None, rollback.Refused("no"))
    assert "hybridless: rollback failed" in render(failed)


def test_a_removal_s_summary_says_what_ended() -> None:
    reporter = Reporter(io.StringIO())
    removed = remove.Removal("hello-dev", "DELETE_COMPLETE", ["hello/web-0-dev"], 3)

    assert "hybridless: removed" in render(cli.summary_for("remove", reporter, removed, None))
    failed = cli.summary_for("remove", reporter, None, remove.Refused("protected"))
    assert "hybridless: remove failed" in render(failed)


# --- the command line -------------------------------------------------------------------------


def test_remove_without_a_terminal_and_without_yes_is_refused_before_anything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    code = cli.main(["remove", "--config", "does-not-matter.yml"])

    out = capsys.readouterr().out
    assert code == EXIT_USAGE
    assert "no terminal to confirm on: pass --yes" in out
    assert "── config" not in out


def test_ci_is_never_asked_even_on_a_terminal() -> None:
    assert not cli.can_ask({"CI": "true"})


def test_a_deployment_id_that_cannot_be_a_tag_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["rollback", "--to", "no such/tag"])

    assert exit_info.value.code == 2
    assert "'no such/tag' is not a deployment id" in capsys.readouterr().err


def test_a_config_mistake_stops_a_rollback_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    config = tmp_path / "hybridless.yml"
    config.write_text("service: hello\nprovider:\n  region: us-east-1\n  stagee: dev\n")

    code = cli.main(["rollback", "--config", str(config)])

    out = capsys.readouterr().out
    assert code == 2
    assert f"{config}:4: provider.stagee" in out
    assert "── credentials" not in out
    assert "Traceback" not in out


def test_the_stack_name_must_be_typed_to_remove(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["hello-dev", "hello-prod"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))

    assert cli.ask_for_stack_name("hello-dev")
    assert not cli.ask_for_stack_name("hello-dev")


# --- the action -------------------------------------------------------------------------------


def test_the_action_runs_a_rollback_to_the_deployment_named() -> None:
    argv = action.argv_from_inputs(
        {
            "INPUT_COMMAND": "rollback",
            "INPUT_ROLLBACK-TO": "v1",
            "INPUT_STAGE": "prod",
            "INPUT_ROLE-SESSION-NAME": "hybridless-deploy",
            "INPUT_PREVIEW": "false",
            "INPUT_CLEANUP": "true",
        }
    )

    assert argv == ["rollback", "--stage", "prod", "--role-session-name", "hybridless-deploy",
                    "--to", "v1"]  # fmt: skip
    assert cli.build_parser().parse_args(argv).to == "v1"


def test_the_action_s_remove_is_confirmed_by_the_workflow() -> None:
    argv = action.argv_from_inputs({"INPUT_COMMAND": "remove", "INPUT_STAGE": "pr-12"})

    assert argv == ["remove", "--stage", "pr-12", "--yes"]
    assert cli.build_parser().parse_args(argv).yes


@pytest.mark.parametrize(
    ("command", "name", "value"),
    [("remove", "preview", "true"), ("remove", "rollback-to", "v1"),
     ("rollback", "image-tag", "v9"), ("deploy", "rollback-to", "v1"),
     ("remove", "cleanup", "false")],
)  # fmt: skip
def test_an_input_the_command_does_not_take_is_an_error(
    command: str, name: str, value: str
) -> None:
    with pytest.raises(action.InputError) as error:
        action.argv_from_inputs({"INPUT_COMMAND": command, action.variable(name): value})

    assert f"input {name} does not apply to command {command}" in str(error.value)


def test_an_unknown_command_is_an_input_error() -> None:
    with pytest.raises(action.InputError) as error:
        action.argv_from_inputs({"INPUT_COMMAND": "destroy"})

    assert "input command: 'destroy' is not one of deploy, rollback, remove" in str(error.value)
    assert error.value.exit_code == 2
