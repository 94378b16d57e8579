"""Lambda deployment strategies: a published version behind the alias `live`, moved by CodeDeploy.

The apps are written as YAML and the strategy is set on the built events, so these tests read
the template side only. Every template rendered here passes cfn-lint with no findings at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hybridless.model import App, FunctionDeployment, Hooks, LambdaContainerEvent, LambdaEvent
from hybridless.stack.validate import lint_template
from hybridless.template import build as build_template
from hybridless.template import render, render_stacks, to_json
from hybridless.template.nested import with_template_urls
from tests.unit.configs import build

REGION = "eu-west-1"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
CODE = {"S3Bucket": "deploy-artifacts", "S3Key": "k.zip"}
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:events"
HOOK_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:notify"
NETWORK = """\
provider:
  vpc:
    vpcId: vpc-0a1b2c3d4e5f60718
    subnetIds: [subnet-0a1b2c3d4e5f60718, subnet-0b1b2c3d4e5f60719]
"""
STRATEGY_TYPES = {
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
    "AWS::CodeDeploy::DeploymentConfig",
}
ALIAS = {"Ref": "WorkerAlias"}
# What a function's strategy adds to its group, besides a DeploymentConfig when one is needed.
SUFFIXES = ("Version", "Alias", "DeploymentGroup")
WORKER = """\
service: shop
hybridless:
  functions:
    Worker:
      handler: worker.handler
      events:
        - eventType: lambda
          runtime: python3.12
"""
WORKER_AND_CHECK = (
    WORKER
    + """\
    Check:
      handler: check.handler
      events:
        - eventType: lambda
          runtime: python3.12
"""
)
CONTAINER = """\
service: shop
hybridless:
  functions:
    Worker:
      environment: {GREETING: hello}
      events:
        - {eventType: lambdaContainer, runtime: container}
"""


# --- helpers ---------------------------------------------------------------------------------


def with_deployments(app: App, deployments: Mapping[str, FunctionDeployment]) -> App:
    """The app with each named function's Lambda events deployed by its strategy."""
    events = tuple(
        dataclasses.replace(event, deployment=deployments[event.function])
        if isinstance(event, LambdaEvent | LambdaContainerEvent) and event.function in deployments
        else event
        for event in app.events
    )
    return dataclasses.replace(app, events=events)


def app_from(tmp_path: Path, text: str, **deployments: FunctionDeployment) -> App:
    return with_deployments(build(tmp_path, text), deployments)


def images_for(app: App, digest: str = DIGEST_A) -> dict[str, str]:
    return {
        image.name: f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{image.repository}@{digest}"
        for image in app.images
    }


def code_for(app: App) -> dict[str, dict[str, str]]:
    return {zipped.name: dict(CODE) for zipped in app.code}


def assert_lint_clean(template: dict[str, Any]) -> None:
    findings = lint_template(to_json(template), REGION)
    assert findings == [], "\n".join(map(str, findings))


def rendered(app: App, digest: str = DIGEST_A) -> dict[str, Any]:
    """The app's template, after asserting cfn-lint has nothing at all to say about it."""
    template = render(app, images_for(app, digest), code_for(app))
    assert_lint_clean(template)
    return template


def groups_of(app: App) -> dict[str, str]:
    return build_template(app, images_for(app), code_for(app)).groups


def resource(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]  # type: ignore[no-any-return]


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return resource(template, name)["Properties"]  # type: ignore[no-any-return]


def of_types(template: dict[str, Any], kinds: set[str]) -> list[str]:
    return [k for k, v in template["Resources"].items() if v["Type"] in kinds]


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in props(template, role).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def description(template: dict[str, Any], version: str = "WorkerVersion") -> str:
    return props(template, version)["Description"]  # type: ignore[no-any-return]


# --- the version, the alias and CodeDeploy ----------------------------------------------------


def test_all_at_once_publishes_a_version_behind_the_live_alias(tmp_path: Path) -> None:
    template = rendered(app_from(tmp_path, WORKER, Worker=FunctionDeployment()))

    version = resource(template, "WorkerVersion")
    alias = resource(template, "WorkerAlias")

    assert version["Type"] == "AWS::Lambda::Version"
    assert version["DeletionPolicy"] == version["UpdateReplacePolicy"] == "Delete"
    assert version["Properties"]["FunctionName"] == {"Ref": "WorkerFunction"}
    assert version["Properties"]["Description"].startswith("hybridless configuration sha256:")
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"] == {
        "FunctionName": {"Ref": "WorkerFunction"},
        "FunctionVersion": {"Fn::GetAtt": ["WorkerVersion", "Version"]},
        "Name": "live",
    }
    assert alias["DependsOn"] == ["WorkerDeploymentGroup"]
    assert alias["UpdatePolicy"] == {
        "CodeDeployLambdaAliasUpdate": {
            "ApplicationName": "shop-dev",
            "DeploymentGroupName": "shop-dev-Worker",
        }
    }
    assert props(template, "WorkerDeploymentGroup") == {
        "ApplicationName": {"Ref": "CodeDeployApplication"},
        "DeploymentGroupName": "shop-dev-Worker",
        "ServiceRoleArn": {"Fn::GetAtt": ["CodeDeployRole", "Arn"]},
        "DeploymentStyle": {
            "DeploymentType": "BLUE_GREEN",
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        "AutoRollbackConfiguration": {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        },
        "AlarmConfiguration": {"Enabled": False, "Alarms": []},
        "DeploymentConfigName": "CodeDeployDefault.LambdaAllAtOnce",
    }
    assert "WorkerDeploymentConfig" not in template["Resources"]


def test_the_application_and_service_role_are_shared_and_stay_in_the_root(
    tmp_path: Path,
) -> None:
    app = app_from(
        tmp_path, WORKER_AND_CHECK, Worker=FunctionDeployment(), Check=FunctionDeployment()
    )
    template = rendered(app)
    groups = groups_of(app)

    assert props(template, "CodeDeployApplication") == {
        "ApplicationName": "shop-dev",
        "ComputePlatform": "Lambda",
    }
    role = props(template, "CodeDeployRole")
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codedeploy.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"}
    ]
    assert "Policies" not in role  # no hooks: nothing to invoke
    assert of_types(template, {"AWS::CodeDeploy::Application", "AWS::IAM::Role"}) == [
        "CodeDeployApplication",
        "CodeDeployRole",
        "WorkerFunctionRole",
        "CheckFunctionRole",
    ]
    assert {"CodeDeployApplication", "CodeDeployRole"}.isdisjoint(groups)
    assert {groups[f"{f}{kind}"] for f in ("Worker", "Check") for kind in SUFFIXES} == {
        "Worker",
        "Check",
    }


def test_outputs_keep_the_function_and_add_the_alias(tmp_path: Path) -> None:
    template = rendered(app_from(tmp_path, WORKER, Worker=FunctionDeployment()))

    assert {k: v["Value"] for k, v in template["Outputs"].items()} == {
        "WorkerFunctionName": {"Ref": "WorkerFunction"},
        "WorkerFunctionArn": {"Fn::GetAtt": ["WorkerFunction", "Arn"]},
        "WorkerAliasArn": ALIAS,
    }


@pytest.mark.parametrize(
    ("strategy", "interval", "name"),
    [
        ("canary", 5, "CodeDeployDefault.LambdaCanary10Percent5Minutes"),
        ("canary", 10, "CodeDeployDefault.LambdaCanary10Percent10Minutes"),
        ("canary", 15, "CodeDeployDefault.LambdaCanary10Percent15Minutes"),
        ("canary", 30, "CodeDeployDefault.LambdaCanary10Percent30Minutes"),
        ("linear", 1, "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"),
        ("linear", 2, "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes"),
        ("linear", 3, "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes"),
        ("linear", 10, "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes"),
    ],
)
def test_a_shift_codedeploy_predefines_uses_its_configuration(
    tmp_path: Path, strategy: str, interval: int, name: str
) -> None:
    deployment = FunctionDeployment(strategy=strategy, percentage=10, interval_minutes=interval)
    template = rendered(app_from(tmp_path, WORKER, Worker=deployment))

    assert props(template, "WorkerDeploymentGroup")["DeploymentConfigName"] == name
    assert of_types(template, {"AWS::CodeDeploy::DeploymentConfig"}) == []


def test_all_at_once_ignores_percentage_and_interval(tmp_path: Path) -> None:
    deployment = FunctionDeployment(percentage=25, interval_minutes=7)
    template = rendered(app_from(tmp_path, WORKER, Worker=deployment))

    assert props(template, "WorkerDeploymentGroup")["DeploymentConfigName"] == (
        "CodeDeployDefault.LambdaAllAtOnce"
    )


@pytest.mark.parametrize(
    ("strategy", "percentage", "interval"),
    [
        ("canary", 25, 7),
        ("canary", 10, 20),
        ("canary", 5, 5),
        ("linear", 20, 5),
        ("linear", 10, 5),
        ("linear", 50, 1),
    ],
)
def test_a_shift_codedeploy_does_not_predefine_gets_its_own_configuration(
    tmp_path: Path, strategy: str, percentage: int, interval: int
) -> None:
    deployment = FunctionDeployment(
        strategy=strategy, percentage=percentage, interval_minutes=interval
    )
    template = rendered(app_from(tmp_path, WORKER, Worker=deployment))

    kind = strategy.capitalize()
    assert props(template, "WorkerDeploymentConfig") == {
        "ComputePlatform": "Lambda",
        "TrafficRoutingConfig": {
            "Type": f"TimeBased{kind}",
            f"TimeBased{kind}": {f"{kind}Percentage": percentage, f"{kind}Interval": interval},
        },
    }
    assert props(template, "WorkerDeploymentGroup")["DeploymentConfigName"] == {
        "Ref": "WorkerDeploymentConfig"
    }


def test_alarms_roll_the_shift_back(tmp_path: Path) -> None:
    deployment = FunctionDeployment(strategy="canary", alarms=("worker-errors", "worker-p99"))
    template = rendered(app_from(tmp_path, WORKER, Worker=deployment))

    assert props(template, "WorkerDeploymentGroup")["AlarmConfiguration"] == {
        "Enabled": True,
        "Alarms": [{"Name": "worker-errors"}, {"Name": "worker-p99"}],
    }


def test_every_event_of_a_function_has_its_own_alias_and_deployment_group(
    tmp_path: Path,
) -> None:
    text = WORKER + "        - {eventType: lambda, runtime: python3.12}\n"
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    assert of_types(template, STRATEGY_TYPES) == [
        "CodeDeployApplication",
        "WorkerVersion",
        "WorkerDeploymentGroup",
        "WorkerAlias",
        "WorkerEvent1Version",
        "WorkerEvent1DeploymentGroup",
        "WorkerEvent1Alias",
    ]
    update = resource(template, "WorkerEvent1Alias")["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = props(template, "WorkerEvent1DeploymentGroup")
    assert group["DeploymentGroupName"] == update["DeploymentGroupName"] == "shop-dev-WorkerEvent1"


def test_codedeploy_names_are_cut_to_100_characters(tmp_path: Path) -> None:
    stack = "s" * 60 + "-" + "t" * 49
    text = WORKER.replace("hybridless:", f"provider: {{stackName: {stack}}}\nhybridless:")
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    update = resource(template, "WorkerAlias")["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert props(template, "CodeDeployApplication")["ApplicationName"] == stack[:100]
    assert update["ApplicationName"] == stack[:100]
    assert props(template, "WorkerDeploymentGroup")["DeploymentGroupName"] == stack[:100]
    assert update["DeploymentGroupName"] == stack[:100]


# --- hooks -----------------------------------------------------------------------------------


def test_a_hook_that_is_an_app_function_is_named_invoked_and_may_report(
    tmp_path: Path,
) -> None:
    deployment = FunctionDeployment(hooks=Hooks(pre_traffic="Check", post_traffic="Check"))
    template = rendered(app_from(tmp_path, WORKER_AND_CHECK, Worker=deployment))

    update = resource(template, "WorkerAlias")["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == update["AfterAllowTrafficHook"] == "shop-dev-Check"
    assert statements(template, "CodeDeployRole") == [
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [{"Fn::GetAtt": ["CheckFunction", "Arn"]}],
        }
    ]
    assert statements(template, "CheckFunctionRole")[1:] == [
        {
            "Effect": "Allow",
            "Action": "codedeploy:PutLifecycleEventHookExecutionStatus",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:"
                "${AWS::AccountId}:deploymentgroup:shop-dev/*"
            },
        }
    ]
    assert len(statements(template, "WorkerFunctionRole")) == 1  # its logs: it is no hook


def test_a_hook_outside_the_app_by_name_is_invoked_by_its_arn_here(tmp_path: Path) -> None:
    deployment = FunctionDeployment(hooks=Hooks(post_traffic="CodeDeployHook_smoke"))
    template = rendered(app_from(tmp_path, WORKER, Worker=deployment))

    update = resource(template, "WorkerAlias")["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["AfterAllowTrafficHook"] == "CodeDeployHook_smoke"
    assert "BeforeAllowTrafficHook" not in update
    assert statements(template, "CodeDeployRole") == [
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
                    "function:CodeDeployHook_smoke"
                }
            ],
        }
    ]
    # not the app's own: its role is not ours
    assert len(statements(template, "WorkerFunctionRole")) == 1


def test_a_hook_given_by_arn_is_named_by_its_function_name(tmp_path: Path) -> None:
    deployment = FunctionDeployment(hooks=Hooks(pre_traffic=HOOK_ARN, post_traffic="Check"))
    template = rendered(app_from(tmp_path, WORKER_AND_CHECK, Worker=deployment))

    update = resource(template, "WorkerAlias")["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == "notify"
    assert update["AfterAllowTrafficHook"] == "shop-dev-Check"
    assert statements(template, "CodeDeployRole")[0]["Resource"] == [
        HOOK_ARN,
        {"Fn::GetAtt": ["CheckFunction", "Arn"]},
    ]


def test_hooks_shared_by_functions_are_allowed_once(tmp_path: Path) -> None:
    text = (
        WORKER_AND_CHECK
        + """\
    Other:
      handler: other.handler
      events:
        - eventType: lambda
          runtime: python3.12
"""
    )
    hooks = Hooks(pre_traffic="Check")
    template = rendered(
        app_from(
            tmp_path,
            text,
            Worker=FunctionDeployment(hooks=hooks),
            Other=FunctionDeployment(hooks=hooks),
        )
    )

    assert statements(template, "CodeDeployRole")[0]["Resource"] == [
        {"Fn::GetAtt": ["CheckFunction", "Arn"]}
    ]
    assert [len(statements(template, f"{f}FunctionRole")) for f in ("Worker", "Check")] == [1, 2]


# --- invokers call the alias ------------------------------------------------------------------


def test_an_sqs_mapping_calls_the_alias(tmp_path: Path) -> None:
    text = f"""\
service: shop
hybridless:
  functions:
    Worker:
      events:
        - {{eventType: lambdaContainer, runtime: container, protocol: sqs,
            protocolArn: "{QUEUE_ARN}"}}
"""
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    assert props(template, "WorkerQueueMapping")["FunctionName"] == ALIAS


def test_an_sns_subscription_calls_the_alias_it_may_invoke(tmp_path: Path) -> None:
    text = f"""\
service: shop
hybridless:
  functions:
    Worker:
      handler: worker.handler
      events:
        - {{eventType: lambda, runtime: python3.12, protocol: sns, protocolArn: "{TOPIC_ARN}"}}
"""
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    assert props(template, "WorkerTopicSubscription")["Endpoint"] == ALIAS
    assert props(template, "WorkerTopicPermission")["FunctionName"] == ALIAS


def test_a_schedule_targets_the_alias_it_may_invoke(tmp_path: Path) -> None:
    text = WORKER.replace(
        "runtime: python3.12\n",
        "runtime: python3.12\n          protocol: scheduler\n"
        "          schedulerRate: rate(5 minutes)\n",
    )
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    assert props(template, "WorkerSchedule")["Targets"] == [{"Id": "function", "Arn": ALIAS}]
    assert props(template, "WorkerSchedulePermission")["FunctionName"] == ALIAS


def test_the_http_api_integrates_the_alias_it_may_invoke(tmp_path: Path) -> None:
    text = WORKER.replace(
        "runtime: python3.12\n",
        "runtime: python3.12\n          protocol: http\n          routes: [{path: /work}]\n",
    )
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    assert props(template, "WorkerApiIntegration")["IntegrationUri"] == ALIAS
    assert props(template, "WorkerApiPermission")["FunctionName"] == ALIAS


def test_the_load_balancer_targets_the_alias_it_may_invoke(tmp_path: Path) -> None:
    text = f"""\
service: shop
{NETWORK}hybridless:
  functions:
    Worker:
      events:
        - {{eventType: lambdaContainer, runtime: container, protocol: httpLoadBalancer,
            routes: [{{path: /work/*}}]}}
"""
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment()))

    assert props(template, "WorkerTargetGroup")["Targets"] == [{"Id": ALIAS}]
    assert props(template, "WorkerBalancerPermission")["FunctionName"] == ALIAS
    assert resource(template, "WorkerTargetGroup")["DependsOn"] == ["WorkerBalancerPermission"]


@pytest.mark.parametrize(
    "event",
    [
        "{eventType: lambda, runtime: python3.12}",
        "{eventType: lambdaContainer, runtime: container}",
    ],
    ids=["lambda", "lambdaContainer"],
)
def test_zip_and_container_functions_both_publish_behind_the_alias(
    tmp_path: Path, event: str
) -> None:
    text = f"""\
service: shop
hybridless:
  functions:
    Worker:
      handler: worker.handler
      events:
        - {event}
"""
    template = rendered(app_from(tmp_path, text, Worker=FunctionDeployment(strategy="linear")))

    assert of_types(template, STRATEGY_TYPES) == [
        "CodeDeployApplication",
        "WorkerVersion",
        "WorkerDeploymentConfig",
        "WorkerDeploymentGroup",
        "WorkerAlias",
    ]


# --- when a new version is published ---------------------------------------------------------


def test_a_new_image_digest_publishes_a_new_version(tmp_path: Path) -> None:
    app = app_from(tmp_path, CONTAINER, Worker=FunctionDeployment())

    before = rendered(app, DIGEST_A)
    after = rendered(app, DIGEST_B)

    assert description(before) != description(after)
    assert rendered(app, DIGEST_A) == before


def test_a_new_environment_value_publishes_a_new_version(tmp_path: Path) -> None:
    hello = app_from(tmp_path, CONTAINER, Worker=FunctionDeployment())
    hi = app_from(tmp_path, CONTAINER.replace("hello", "hi"), Worker=FunctionDeployment())

    assert description(rendered(hello)) != description(rendered(hi))


def test_a_new_strategy_publishes_no_version(tmp_path: Path) -> None:
    """The strategy moves a version; it is not part of one."""
    app = app_from(tmp_path, CONTAINER, Worker=FunctionDeployment())
    canary = with_deployments(app, {"Worker": FunctionDeployment("canary", alarms=("x",))})

    before = rendered(app)
    after = rendered(canary)

    assert props(after, "WorkerDeploymentGroup") != props(before, "WorkerDeploymentGroup")
    assert description(before) == description(after)


def test_reserved_concurrency_publishes_no_version(tmp_path: Path) -> None:
    """A setting of the function that no version carries: Lambda would publish nothing."""
    app = app_from(tmp_path, CONTAINER, Worker=FunctionDeployment())
    events = tuple(dataclasses.replace(e, reserved_concurrency=5) for e in app.function_events)

    before = rendered(app)
    after = rendered(dataclasses.replace(app, events=events))

    assert props(after, "WorkerFunction")["ReservedConcurrentExecutions"] == 5
    assert description(before) == description(after)


def test_another_functions_change_publishes_no_version_of_this_one(tmp_path: Path) -> None:
    text = (
        CONTAINER
        + "    Other:\n      events:\n        - {eventType: lambdaContainer, runtime: container}\n"
    )
    app = app_from(tmp_path, text, Worker=FunctionDeployment(), Other=FunctionDeployment())
    images = images_for(app)
    moved = {**images, "Other-0": images["Other-0"].replace(DIGEST_A, DIGEST_B)}

    before = render(app, images, {})
    after = render(app, moved, {})

    assert_lint_clean(after)
    assert description(before) == description(after)
    assert description(before, "OtherVersion") != description(after, "OtherVersion")


# --- without a strategy nothing changes ------------------------------------------------------


def test_events_without_a_strategy_render_as_before(tmp_path: Path) -> None:
    plain = build(tmp_path, WORKER_AND_CHECK)
    mixed = with_deployments(plain, {"Check": FunctionDeployment()})

    before = rendered(plain)
    after = rendered(mixed)

    assert of_types(before, STRATEGY_TYPES) == []
    assert "CodeDeployRole" not in before["Resources"]
    for name, value in before["Resources"].items():  # Worker's and the shared ones
        assert after["Resources"][name] == value, name
    for key, value in before["Outputs"].items():
        assert after["Outputs"][key] == value, key
    assert [name for name in after["Resources"] if name.startswith("Worker")] == [
        "WorkerLogGroup",
        "WorkerFunctionRole",
        "WorkerFunction",
    ]
    assert "WorkerAliasArn" not in after["Outputs"]


# --- nested stacks ---------------------------------------------------------------------------


def big_app_text(count: int) -> str:
    functions = "".join(
        f"""\
    Fn{number}:
      handler: fn{number}.handler
      events:
        - {{eventType: lambda, runtime: python3.12, protocol: sqs,
            protocolArn: "{QUEUE_ARN}{number}"}}
"""
        for number in range(count)
    )
    return "service: shop\nhybridless:\n  functions:\n" + functions


def test_a_split_app_keeps_each_functions_strategy_in_its_nested_stack(tmp_path: Path) -> None:
    """70 functions with 3 outputs each cross the 200-output limit. The last one is everyone's
    hook: CodeDeploy's role in the root names its ARN, so it stays in the root too."""
    count = 70
    hook = f"Fn{count - 1}"
    deployments = {
        f"Fn{n}": FunctionDeployment(
            strategy="canary", percentage=5 + n % 3, alarms=("a",), hooks=Hooks(pre_traffic=hook)
        )
        for n in range(count - 1)
    }
    app = app_from(tmp_path, big_app_text(count), **deployments)

    stacks = render_stacks(app, {}, code_for(app))

    assert stacks.children
    urls = {
        name: f"https://deploy-bucket.s3.{REGION}.amazonaws.com/{name}.json"
        for name in stacks.children
    }
    for template in (with_template_urls(stacks.root, urls), *stacks.children.values()):
        assert_lint_clean(template)
    home = {
        logical_id: name
        for name, child in stacks.children.items()
        for logical_id in child["Resources"]
    }
    for n in range(count - 1):
        parts = {home.get(f"Fn{n}{kind}") for kind in (*SUFFIXES, "Function", "DeploymentConfig")}
        assert len(parts) == 1 and None not in parts, n
    assert {"CodeDeployApplication", "CodeDeployRole", f"{hook}Function"} <= set(
        stacks.root["Resources"]
    )
    alias = next(iter(stacks.children.values()))["Resources"]["Fn0Alias"]
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"] == {
        "ApplicationName": "shop-dev",
        "DeploymentGroupName": "shop-dev-Fn0",
        "BeforeAllowTrafficHook": f"shop-dev-{hook}",
    }
