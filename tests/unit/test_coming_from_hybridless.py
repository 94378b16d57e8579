"""The known defects of the original Hybridless plugin, each pinned so it cannot come back.

CONFIG.md ("Coming from Hybridless") lists them; every test here is named for one and fails
if the generated CloudFormation or the ECR handling repeats it.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hybridless.config import load_app
from hybridless.images import cleanup
from hybridless.images.push import KEEP_TAGGED, LIFECYCLE_POLICY, ensure_repository
from hybridless.images.tags import generate_tag, is_generated
from hybridless.model import App, Overrides
from hybridless.report import Reporter
from hybridless.stack.validate import lint_template
from hybridless.template import render, to_json

REGION = "us-east-1"
ENVIRON = {"AWS_REGION": REGION}
REPOSITORY = "shop/api-0-dev"
CERT_1 = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111"
CERT_2 = "arn:aws:acm:us-east-1:123456789012:certificate/22222222-2222-2222-2222-222222222222"
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/shared"
NETWORK = """\
service: shop
provider:
  vpc:
    vpcId: vpc-0a1b2c3d4e5f60718
    subnetIds: [subnet-0a1b2c3d4e5f60718, subnet-0b1b2c3d4e5f60719]
hybridless:
  functions:
"""
# every kind of ECS service: behind the app's ALB, a worker, and EC2 on an existing cluster
ALL_SERVICES = (
    NETWORK
    + f"""\
    Web:
      events:
        - eventType: httpd
          runtime: container
          certificateArns: [{CERT_1}, {CERT_2}]
    Worker:
      events:
        - {{eventType: process, runtime: container, concurrency: 2}}
    Legacy:
      ecsClusterArn: {CLUSTER_ARN}
      events:
        - {{eventType: httpd, runtime: container, ec2LaunchType: true, routes: [{{path: /old/*}}]}}
        - {{eventType: process, runtime: container, ec2LaunchType: true}}
    Internal:
      albIsPrivate: true
      events:
        - {{eventType: httpd, runtime: container, port: 8080}}
    Nightly:
      events:
        - {{eventType: scheduledTask, runtime: container, schedulerRate: "cron(0 2 * * ? *)"}}
"""
)


# --- helpers ---------------------------------------------------------------------------------


def load(tmp_path: Path, text: str) -> App:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    path = tmp_path / "hybridless.yml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_app(path, Overrides(), ENVIRON)


def rendered(tmp_path: Path, text: str) -> dict[str, Any]:
    app = load(tmp_path, text)
    images = {
        image.name: f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{image.repository}"
        f"@sha256:{'a' * 64}"
        for image in app.images
    }
    code = {zipped.name: {"S3Bucket": "deploy-artifacts", "S3Key": "k.zip"} for zipped in app.code}
    template = render(app, images, code)
    findings = lint_template(to_json(template), REGION)
    assert findings == [], "\n".join(map(str, findings))
    return template


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return value if isinstance(value, list) else [value]


def references(value: Any) -> set[str]:
    """Every logical id `value` points at with Ref, GetAtt or `${...}` in Sub (pseudo
    parameters such as AWS::Region left out)."""
    return {name for name in _references(value) if not name.startswith("AWS::")}


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(str(inner))
            elif key == "Fn::GetAtt":
                found.add(str(inner[0] if isinstance(inner, list) else inner.split(".")[0]))
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found.update(part.split("}")[0].split(".")[0] for part in text.split("${")[1:])
            found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def ecr_client() -> Any:
    return boto3.client(
        "ecr",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def digest(number: int) -> str:
    return f"sha256:{number:064x}"


# --- 1. ECR pruning: every page, and never an untagged image ------------------------------


def test_ecr_pruning_reads_every_page_beyond_the_first_100_images() -> None:
    """The plugin listed one page (100 images) and so never saw older images. Here the old
    images on the second and third page are deleted too, in batches of at most 100."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = [
        {"imageDigest": digest(n), "imageTag": generate_tag(start + timedelta(hours=n), "abc")}
        for n in range(230)
    ]
    live = {"imageDigest": digest(999), "imageTag": generate_tag(start, "live")}
    pages = [old[:100], [*old[100:199], live], old[199:]]
    ecr = ecr_client()
    with Stubber(ecr) as stub:
        for number, page in enumerate(pages):
            response: dict[str, Any] = {"imageIds": page}
            expected: dict[str, Any] = {"repositoryName": REPOSITORY}
            if number < len(pages) - 1:
                response["nextToken"] = f"page-{number + 1}"
            if number:
                expected["nextToken"] = f"page-{number}"
            stub.add_response("list_images", response, expected)
        stored = cleanup.list_images(ecr, REPOSITORY)
        stub.assert_no_pending_responses()

        doomed = cleanup.plan_deletions(stored, {digest(999)}, set(), is_generated)
        batches = [doomed[i : i + 100] for i in range(0, len(doomed), 100)]
        for batch in batches:
            stub.add_response(
                "batch_delete_image",
                {"imageIds": [{"imageDigest": i.digest} for i in batch], "failures": []},
                {
                    "repositoryName": REPOSITORY,
                    "imageIds": [{"imageDigest": i.digest} for i in batch],
                },
            )
        deleted, failures = cleanup.delete_images(ecr, REPOSITORY, doomed)
        stub.assert_no_pending_responses()

    assert len(stored) == 231
    assert {i.digest for i in doomed} == {image["imageDigest"] for image in old}
    assert digest(999) not in {i.digest for i in doomed}
    assert [len(b) for b in batches] == [100, 100, 30]
    assert failures == []
    assert deleted == doomed


def test_ecr_pruning_never_deletes_untagged_images() -> None:
    """The docs promise that untagging an image keeps it; the plugin deleted untagged images
    anyway. Untagged entries on any page, and a digest whose tags are split across pages with
    one of them a person's, are all kept."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ours = [
        {"imageDigest": digest(n), "imageTag": generate_tag(start + timedelta(minutes=n), "abc")}
        for n in range(150)
    ]
    untagged = [{"imageDigest": digest(1000 + n)} for n in range(20)]
    shared_digest = digest(2000)
    generated = {"imageDigest": shared_digest, "imageTag": "20260101T000000.000Z-x"}
    chosen = {"imageDigest": shared_digest, "imageTag": "release-1.4"}
    pages = [ours[:80] + untagged[:10] + [generated], ours[80:] + untagged[10:] + [chosen]]
    ecr = ecr_client()
    with Stubber(ecr) as stub:
        stub.add_response(
            "list_images", {"imageIds": pages[0], "nextToken": "t"}, {"repositoryName": REPOSITORY}
        )
        stub.add_response(
            "list_images", {"imageIds": pages[1]}, {"repositoryName": REPOSITORY, "nextToken": "t"}
        )
        stored = cleanup.list_images(ecr, REPOSITORY)

    doomed = {i.digest for i in cleanup.plan_deletions(stored, set(), set(), is_generated)}

    assert {i.digest: i.tags for i in stored}[shared_digest] == (
        "20260101T000000.000Z-x",
        "release-1.4",
    )
    assert not doomed & {image["imageDigest"] for image in untagged}
    assert shared_digest not in doomed
    assert doomed == {image["imageDigest"] for image in ours}
    # the pure rule says the same for a single untagged record
    assert cleanup.plan_deletions([cleanup.StoredImage(digest(7), ())], set(), set(), bool) == []


# --- 2. lifecycle failsafe: tagged only -----------------------------------------------------


def test_the_lifecycle_failsafe_keeps_the_last_100_tagged_images_not_any() -> None:
    """The plugin's failsafe used `tagStatus: any`, which counts (and expires) untagged images
    too. The failsafe written to a new repository selects tagged images only."""
    ecr = ecr_client()
    with Stubber(ecr) as stub:
        stub.add_client_error(
            "describe_repositories",
            "RepositoryNotFoundException",
            expected_params={"repositoryNames": [REPOSITORY]},
        )
        stub.add_response(
            "create_repository",
            {
                "repository": {
                    "repositoryName": REPOSITORY,
                    "repositoryUri": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}",
                }
            },
        )
        stub.add_client_error(
            "get_lifecycle_policy",
            "LifecyclePolicyNotFoundException",
            expected_params={"repositoryName": REPOSITORY},
        )
        stub.add_response(
            "put_lifecycle_policy",
            {"repositoryName": REPOSITORY},
            {"repositoryName": REPOSITORY, "lifecyclePolicyText": LIFECYCLE_POLICY},
        )
        ensure_repository(ecr, REPOSITORY, {}, Reporter(io.StringIO(), ci="terminal"))
        stub.assert_no_pending_responses()

    rules = json.loads(LIFECYCLE_POLICY)["rules"]

    assert KEEP_TAGGED == 100
    assert rules, "a failsafe needs at least one rule"
    for rule in rules:
        selection = rule["selection"]
        assert selection["tagStatus"] != "any"
        assert selection["tagStatus"] == "tagged"
        # ECR requires a tag filter with tagStatus tagged; it must match every tag
        assert selection.get("tagPatternList") == ["*"] or selection.get("tagPrefixList") == [""]
        assert selection["countType"] == "imageCountMoreThan"
        assert selection["countNumber"] == 100
        assert rule["action"] == {"type": "expire"}


# --- 3. listener-rule priorities ------------------------------------------------------------


def test_routes_without_priorities_on_one_listener_get_distinct_priorities(
    tmp_path: Path,
) -> None:
    """The plugin gave every route priority 1, so a second route on a listener failed."""
    template = rendered(
        tmp_path,
        NETWORK
        + """\
    Front:
      events:
        - {eventType: httpd, runtime: container, routes: [{path: /*}]}
    Api:
      events:
        - {eventType: httpd, runtime: container, routes: [{path: /api/*}, {path: /v2/*}]}
    Hook:
      events:
        - {eventType: lambdaContainer, runtime: container, protocol: httpLoadBalancer,
           routes: [{path: /hook}]}
""",
    )

    rules = of_type(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    priorities = [rule["Properties"]["Priority"] for rule in rules.values()]
    listeners = {json.dumps(rule["Properties"]["ListenerArn"]) for rule in rules.values()}

    assert len(rules) == 4
    assert len(listeners) == 1  # all on the one listener
    assert len(set(priorities)) == len(priorities)
    assert all(isinstance(p, int) and 1 <= p <= 50000 for p in priorities)


# --- 4. LaunchType xor CapacityProviderStrategy ---------------------------------------------


def test_no_ecs_service_sends_both_launch_type_and_capacity_provider_strategy(
    tmp_path: Path,
) -> None:
    """The plugin always sent a capacity provider strategy with a launch type; ECS refuses."""
    template = rendered(tmp_path, ALL_SERVICES)
    services = of_type(template, "AWS::ECS::Service")
    launch_types = {}

    assert len(services) == 5
    for name, service in services.items():
        properties = service["Properties"]
        assert ("LaunchType" in properties) != ("CapacityProviderStrategy" in properties), name
        launch_types[name] = properties.get("LaunchType")
    for rule in of_type(template, "AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            ecs = target.get("EcsParameters", {})
            assert not ("LaunchType" in ecs and "CapacityProviderStrategy" in ecs)

    assert launch_types["LegacyService"] == "EC2"
    assert launch_types["LegacyEvent1Service"] == "EC2"
    assert launch_types["WebService"] == "FARGATE"


# --- 5. scheduled tasks -------------------------------------------------------------------


def test_a_scheduled_task_target_does_not_use_the_execution_role_and_may_run_the_task(
    tmp_path: Path,
) -> None:
    """The plugin's rule target used the task execution role, which cannot ecs:RunTask."""
    template = rendered(tmp_path, ALL_SERVICES)
    target = template["Resources"]["NightlySchedule"]["Properties"]["Targets"][0]
    [role_name] = references(target["RoleArn"])
    role = template["Resources"][role_name]
    trusted = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    granted = statements(role)

    assert role_name not in ("TaskExecutionRole", "TaskRole")
    assert role["Type"] == "AWS::IAM::Role"
    assert [s["Principal"] for s in trusted] == [{"Service": "events.amazonaws.com"}]
    run_task = [s for s in granted if "ecs:RunTask" in actions(s)]
    assert run_task and all(s["Effect"] == "Allow" for s in run_task)
    assert {r for s in run_task for r in references(s["Resource"])} == {"NightlyTaskDefinition"}
    pass_role = [s for s in granted if "iam:PassRole" in actions(s)]
    assert {r for s in pass_role for r in references(s["Resource"])} == {
        "TaskExecutionRole",
        "TaskRole",
    }


def test_a_scheduled_task_has_the_fargate_network_configuration(tmp_path: Path) -> None:
    """The plugin's target had no network configuration, which Fargate (awsvpc) requires."""
    template = rendered(tmp_path, ALL_SERVICES)
    ecs = template["Resources"]["NightlySchedule"]["Properties"]["Targets"][0]["EcsParameters"]
    network = ecs["NetworkConfiguration"]["AwsVpcConfiguration"]

    assert ecs["LaunchType"] == "FARGATE"
    assert network["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0b1b2c3d4e5f60719"]
    assert network["SecurityGroups"]
    assert network["AssignPublicIp"] in ("ENABLED", "DISABLED")


@pytest.mark.parametrize(
    "written",
    [
        '{"containerOverrides": [{"name": "app", "command": ["sync", "--full"]}]}',
        '{"containerOverrides":[]}',
    ],
)
def test_a_string_scheduler_input_is_passed_as_given_not_as_the_word_string(
    tmp_path: Path, written: str
) -> None:
    """The plugin sent the literal `"string"` for a string schedulerInput."""
    template = rendered(
        tmp_path,
        NETWORK
        + f"""\
    Sync:
      events:
        - eventType: scheduledTask
          runtime: container
          schedulerRate: rate(1 hour)
          schedulerInput: '{written}'
""",
    )
    target = template["Resources"]["SyncSchedule"]["Properties"]["Targets"][0]

    assert target["Input"] == written
    assert target["Input"] not in ("string", '"string"')
    assert json.loads(target["Input"]) == json.loads(written)


# --- 6. Container Insights ------------------------------------------------------------------


def test_container_insights_uses_capitalised_name_and_value_keys(tmp_path: Path) -> None:
    """The plugin wrote `value`, which CloudFormation rejects."""
    template = rendered(tmp_path, ALL_SERVICES)
    settings = template["Resources"]["Cluster"]["Properties"]["ClusterSettings"]

    assert settings == [{"Name": "containerInsights", "Value": "enabled"}]
    assert all(set(setting) == {"Name", "Value"} for setting in settings)


# --- 7. ALB security group ----------------------------------------------------------------


def test_the_alb_security_group_opens_only_the_listener_ports_over_tcp(tmp_path: Path) -> None:
    """The plugin opened the load balancer to the world on every protocol (-1)."""
    template = rendered(tmp_path, ALL_SERVICES)
    groups = of_type(template, "AWS::EC2::SecurityGroup")
    expected = {"LoadBalancerSecurityGroup": [80, 443], "PrivateLoadBalancerSecurityGroup": [80]}

    for name, ports in expected.items():
        ingress = groups[name]["Properties"]["SecurityGroupIngress"]
        assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [
            ("tcp", port, port) for port in ports
        ], name
        assert "SecurityGroupEgress" not in groups[name]["Properties"]
    for name, group in groups.items():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert str(rule["IpProtocol"]) not in ("-1", "all"), name
            assert rule["IpProtocol"] == "tcp", name
            assert (rule["FromPort"], rule["ToPort"]) != (0, 65535), name
            assert rule["FromPort"] == rule["ToPort"], name
    assert of_type(template, "AWS::EC2::SecurityGroupIngress") == {}


def test_without_certificates_the_alb_opens_port_80_only(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        NETWORK + "    Web:\n      events:\n        - {eventType: httpd, runtime: container}\n",
    )
    ingress = template["Resources"]["LoadBalancerSecurityGroup"]["Properties"][
        "SecurityGroupIngress"
    ]

    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [("tcp", 80, 80)]


# --- 8. task role independent of Lambda ---------------------------------------------------


def test_the_ecs_task_role_does_not_depend_on_a_lambda_role(tmp_path: Path) -> None:
    """The plugin's task role silently needed a Lambda role to exist."""
    template = rendered(
        tmp_path,
        NETWORK + "    Web:\n      events:\n        - {eventType: httpd, runtime: container}\n",
    )
    resources = template["Resources"]
    lambda_ids = {name for name, r in resources.items() if r["Type"].startswith("AWS::Lambda::")}

    assert "FunctionRole" not in resources
    assert lambda_ids == set()
    for name in ("TaskRole", "TaskExecutionRole", "WebTaskDefinition", "WebService"):
        assert (
            "DependsOn" not in resources[name] or "FunctionRole" not in resources[name]["DependsOn"]
        ), name
        assert references(resources[name]) <= set(resources), name
    assert "DependsOn" not in resources["TaskRole"]
    assert references(resources["TaskRole"]) == set()
    assert "lambda" not in json.dumps(resources["TaskRole"]).lower()


def test_with_functions_too_the_task_role_refers_to_no_lambda_resource(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        NETWORK
        + """\
    Web:
      events:
        - {eventType: httpd, runtime: container}
    Fn:
      events:
        - {eventType: lambdaContainer, runtime: container}
""",
    )
    resources = template["Resources"]
    lambda_side = {"FunctionRole"} | {
        name for name, r in resources.items() if r["Type"].startswith("AWS::Lambda::")
    }

    assert lambda_side > {"FunctionRole"}
    for name in ("TaskRole", "TaskExecutionRole", "WebTaskDefinition", "WebService"):
        depends = resources[name].get("DependsOn", [])
        assert not set(depends if isinstance(depends, list) else [depends]) & lambda_side, name
        assert not references(resources[name]) & lambda_side, name


# --- 9. circuit breaker ----------------------------------------------------------------------


def test_every_ecs_service_has_the_deployment_circuit_breaker_with_rollback(
    tmp_path: Path,
) -> None:
    """Without it, a broken image kept CloudFormation waiting for hours."""
    template = rendered(tmp_path, ALL_SERVICES)
    services = of_type(template, "AWS::ECS::Service")

    assert len(services) == 5
    for name, service in services.items():
        configuration = service["Properties"]["DeploymentConfiguration"]
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}, name
