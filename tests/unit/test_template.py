"""The CloudFormation template: lint-clean, deterministic, digest-pinned, least-privilege."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from hybridless.config import load_app
from hybridless.model import App, Overrides
from hybridless.stack.validate import lint_template
from hybridless.template import render, to_json

EXAMPLE = Path(__file__).parents[2] / "examples" / "hello" / "hybridless.yml"
REGION = "us-east-1"
ENVIRON = {
    "VPC_ID": "vpc-0a1b2c3d4e5f60718",
    "SUBNET_A": "subnet-0a1b2c3d4e5f60718",
    "SUBNET_B": "subnet-0b1b2c3d4e5f60719",
    "SECURITY_GROUP_ID": "sg-0a1b2c3d4e5f60718",
    "AWS_REGION": REGION,
}
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
NETWORK = """\
  vpc:
    vpcId: vpc-0a1b2c3d4e5f60718
    subnetIds: [subnet-0a1b2c3d4e5f60718, subnet-0b1b2c3d4e5f60719]
"""


def images_for(app: App, digest: str = DIGEST_A) -> dict[str, str]:
    return {
        image.name: f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{image.repository}@{digest}"
        for image in app.images
    }


def example_app() -> App:
    return load_app(EXAMPLE, Overrides(), ENVIRON)


def app_from(tmp_path: Path, text: str, dockerfiles: tuple[str, ...] = ("Dockerfile",)) -> App:
    for name in dockerfiles:
        (tmp_path / name).write_text("FROM scratch\n", encoding="utf-8")
    path = tmp_path / "hybridless.yml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_app(path, Overrides(), ENVIRON)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def three_services(tmp_path: Path) -> App:
    return app_from(
        tmp_path,
        "service: shop\nprovider:\n"
        + NETWORK
        + """\
hybridless:
  functions:
    Front:
      events:
        - eventType: httpd
          runtime: container
          port: 3000
          routes:
            - {path: /*}
    Api:
      events:
        - eventType: httpd
          runtime: container
          port: 8080
          routes:
            - {path: /api/*, method: POST}
            - {path: /api/items}
    Admin:
      events:
        - eventType: httpd
          runtime: container
          port: 8080
          routes:
            - {path: /admin/*, priority: 3}
""",
    )


LAMBDA_ONLY = """\
service: jobs
hybridless:
  functions:
    Worker:
      memory: 256
      environment:
        QUEUE: orders
      events:
        - eventType: lambdaContainer
          runtime: container
          reservedConcurrency: 7
"""

HTTPD_ONLY = (
    "service: site\nprovider:\n"
    + NETWORK
    + """\
hybridless:
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
"""
)


# --- cfn-lint -------------------------------------------------------------------------------


def test_the_example_template_passes_cfn_lint_without_errors_or_warnings() -> None:
    body = to_json(render(example_app(), images_for(example_app())))

    assert lint_template(body, REGION) == []


def test_three_http_services_pass_cfn_lint(tmp_path: Path) -> None:
    app = three_services(tmp_path)

    assert lint_template(to_json(render(app, images_for(app))), REGION) == []


@pytest.mark.parametrize("text", [LAMBDA_ONLY, HTTPD_ONLY], ids=["lambda-only", "httpd-only"])
def test_single_kind_apps_pass_cfn_lint(tmp_path: Path, text: str) -> None:
    app = app_from(tmp_path, text)

    assert lint_template(to_json(render(app, images_for(app))), REGION) == []


# --- determinism and digests -----------------------------------------------------------------


def test_rendering_is_deterministic() -> None:
    first = to_json(render(example_app(), images_for(example_app())))
    second = to_json(render(example_app(), images_for(example_app())))

    assert first == second
    assert first.encode() == second.encode()


def test_a_new_digest_changes_only_the_image_references() -> None:
    app = example_app()
    before = to_json(render(app, images_for(app, DIGEST_A))).splitlines()
    after = to_json(render(app, images_for(app, DIGEST_B))).splitlines()

    changed = [
        line
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]

    assert len(before) == len(after)
    assert len(changed) == 4  # Image and ImageUri, each removed once and added once
    assert all('"Image": ' in line or '"ImageUri": ' in line for line in changed)
    assert all(DIGEST_B in line for line in changed if line.startswith("+"))


def test_images_are_referenced_by_digest() -> None:
    app = example_app()
    images = images_for(app)
    template = render(app, images)
    resources = template["Resources"]

    container = resources["WebTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    uri = resources["GreeterFunction"]["Properties"]["Code"]["ImageUri"]

    assert container["Image"] == images["Web-0"]
    assert uri == images["Greeter-0"]
    assert container["Image"].endswith("/hello/web-0-dev@" + DIGEST_A)
    assert uri.endswith("/hello/greeter-0-dev@" + DIGEST_A)


def test_a_missing_image_is_a_value_error() -> None:
    app = example_app()
    images = images_for(app)
    del images["Greeter-0"]

    with pytest.raises(ValueError, match="Greeter-0"):
        render(app, images)


def test_a_missing_image_is_refused_even_when_another_name_is_present() -> None:
    app = example_app()

    with pytest.raises(ValueError, match="Greeter-0, Web-0"):
        render(app, {"Other-0": "x@" + DIGEST_A})


# --- load balancer and routes --------------------------------------------------------------


def test_listener_rule_priorities_are_unique_and_the_catch_all_comes_last(
    tmp_path: Path,
) -> None:
    app = three_services(tmp_path)
    rules = of_type(render(app, images_for(app)), "AWS::ElasticLoadBalancingV2::ListenerRule")
    priorities = {name: rule["Properties"]["Priority"] for name, rule in rules.items()}

    assert set(priorities) == {"FrontRule0", "ApiRule0", "ApiRule1", "AdminRule0"}
    assert len(set(priorities.values())) == len(priorities)
    assert priorities["AdminRule0"] == 3
    # free numbers in written order, skipping the explicit 3, the catch-all after them all
    assert priorities["ApiRule0"] == 1
    assert priorities["ApiRule1"] == 2
    assert priorities["FrontRule0"] == 4
    auto = [p for name, p in priorities.items() if name != "AdminRule0"]
    assert priorities["FrontRule0"] == max(auto)


def test_rules_forward_to_their_own_target_group_and_carry_the_method(tmp_path: Path) -> None:
    app = three_services(tmp_path)
    resources = render(app, images_for(app))["Resources"]

    rule = resources["ApiRule0"]["Properties"]

    assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "ApiTargetGroup"}}]
    assert rule["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
    ]
    assert resources["ApiRule1"]["Properties"]["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/items"]}}
    ]
    assert resources["ApiService"]["DependsOn"] == ["ApiRule0", "ApiRule1"]


def test_one_load_balancer_and_listener_serve_every_service(tmp_path: Path) -> None:
    app = three_services(tmp_path)
    template = render(app, images_for(app))

    assert list(of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")) == ["LoadBalancer"]
    assert list(of_type(template, "AWS::ElasticLoadBalancingV2::Listener")) == ["HttpListener"]
    assert len(of_type(template, "AWS::ECS::Service")) == 3


def test_the_load_balancer_security_group_opens_only_port_80() -> None:
    template = render(example_app(), images_for(example_app()))
    group = template["Resources"]["LoadBalancerSecurityGroup"]["Properties"]

    assert group["VpcId"] == ENVIRON["VPC_ID"]
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group["SecurityGroupIngress"]
    ] == [("tcp", 80, 80)]
    assert "SecurityGroupEgress" not in group


def test_the_load_balancer_drops_invalid_header_fields() -> None:
    template = render(example_app(), images_for(example_app()))

    assert template["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"] == [
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}
    ]


def test_the_service_security_group_admits_only_container_ports_from_the_load_balancer(
    tmp_path: Path,
) -> None:
    app = three_services(tmp_path)
    group = render(app, images_for(app))["Resources"]["ServiceSecurityGroup"]["Properties"]
    ingress = group["SecurityGroupIngress"]

    assert [(r["FromPort"], r["ToPort"]) for r in ingress] == [(3000, 3000), (8080, 8080)]
    for rule in ingress:
        assert rule["IpProtocol"] == "tcp"
        assert rule["SourceSecurityGroupId"] == {
            "Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]
        }
        assert "CidrIp" not in rule
        assert "CidrIpv6" not in rule


def test_the_example_service_group_admits_the_example_port_only() -> None:
    template = render(example_app(), images_for(example_app()))
    ingress = template["Resources"]["ServiceSecurityGroup"]["Properties"]["SecurityGroupIngress"]

    assert [(r["FromPort"], r["ToPort"]) for r in ingress] == [(8080, 8080)]


# --- ECS -------------------------------------------------------------------------------------


def test_the_service_has_the_circuit_breaker_fargate_and_no_capacity_providers() -> None:
    template = render(example_app(), images_for(example_app()))
    service = template["Resources"]["WebService"]["Properties"]

    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }
    assert service["LaunchType"] == "FARGATE"
    assert "CapacityProviderStrategy" not in service
    assert service["DesiredCount"] == 2
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"] == [
        {"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]},
        ENVIRON["SECURITY_GROUP_ID"],
    ]
    assert service["LoadBalancers"] == [
        {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "WebTargetGroup"}}
    ]


def test_container_insights_uses_name_and_value() -> None:
    cluster = render(example_app(), images_for(example_app()))["Resources"]["Cluster"]

    assert cluster["Properties"]["ClusterSettings"] == [
        {"Name": "containerInsights", "Value": "enabled"}
    ]


def test_the_task_role_does_not_depend_on_the_lambda_role() -> None:
    resources = render(example_app(), images_for(example_app()))["Resources"]

    for name in ("TaskRole", "TaskExecutionRole", "WebTaskDefinition", "WebService"):
        assert "FunctionRole" not in json.dumps(resources[name]), name
    assert resources["WebTaskDefinition"]["Properties"]["TaskRoleArn"] == {
        "Fn::GetAtt": ["TaskRole", "Arn"]
    }
    assert resources["GreeterFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["GreeterFunctionRole", "Arn"]
    }


def test_the_task_definition_fits_fargate() -> None:
    task = render(example_app(), images_for(example_app()))["Resources"]["WebTaskDefinition"]
    properties = task["Properties"]

    assert properties["Cpu"] == "512"
    assert properties["Memory"] == "1024"
    assert properties["NetworkMode"] == "awsvpc"
    assert properties["RequiresCompatibilities"] == ["FARGATE"]
    assert properties["ContainerDefinitions"][0]["PortMappings"] == [
        {"ContainerPort": 8080, "Protocol": "tcp"}
    ]


# --- one kind of event only ------------------------------------------------------------------


def test_a_lambda_only_app_has_no_ecs_or_load_balancer(tmp_path: Path) -> None:
    app = app_from(tmp_path, LAMBDA_ONLY)
    template = render(app, images_for(app))
    types = {resource["Type"] for resource in template["Resources"].values()}

    assert not any(t.startswith(("AWS::ECS::", "AWS::ElasticLoadBalancingV2::")) for t in types)
    assert "AWS::EC2::SecurityGroup" not in types
    assert "TaskRole" not in template["Resources"]
    assert set(template["Outputs"]) == {"WorkerFunctionName", "WorkerFunctionArn"}


def test_an_httpd_only_app_has_no_lambda_role(tmp_path: Path) -> None:
    app = app_from(tmp_path, HTTPD_ONLY)
    template = render(app, images_for(app))
    types = {resource["Type"] for resource in template["Resources"].values()}

    assert "FunctionRole" not in template["Resources"]
    assert "AWS::Lambda::Function" not in types
    roles = of_type(template, "AWS::IAM::Role")
    assert set(roles) == {"TaskRole", "TaskExecutionRole"}
    assert "lambda.amazonaws.com" not in json.dumps(roles)
    assert set(template["Outputs"]) == {"ServiceEndpoint", "ClusterName", "WebServiceName"}


# --- outputs, environment, concurrency ---------------------------------------------------------


def test_outputs_of_the_example() -> None:
    outputs = render(example_app(), images_for(example_app()))["Outputs"]

    assert list(outputs) == [
        "ServiceEndpoint",
        "ClusterName",
        "WebServiceName",
        "GreeterFunctionName",
        "GreeterFunctionArn",
    ]
    assert outputs["ServiceEndpoint"]["Value"] == {"Fn::Sub": "http://${LoadBalancer.DNSName}"}
    assert outputs["ClusterName"]["Value"] == {"Ref": "Cluster"}
    assert outputs["WebServiceName"]["Value"] == {"Fn::GetAtt": ["WebService", "Name"]}
    assert outputs["GreeterFunctionName"]["Value"] == {"Ref": "GreeterFunction"}
    assert outputs["GreeterFunctionArn"]["Value"] == {"Fn::GetAtt": ["GreeterFunction", "Arn"]}
    assert all(output["Description"] for output in outputs.values())


def test_every_service_gets_its_own_name_output(tmp_path: Path) -> None:
    app = three_services(tmp_path)
    outputs = render(app, images_for(app))["Outputs"]

    assert {"FrontServiceName", "ApiServiceName", "AdminServiceName"} <= set(outputs)


def test_environment_reaches_the_container_and_the_function() -> None:
    environ = {**ENVIRON, "GREETING_AUDIENCE": "friends"}
    app = load_app(EXAMPLE, Overrides(), environ)
    resources = render(app, images_for(app))["Resources"]

    container = resources["WebTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    function = resources["GreeterFunction"]["Properties"]

    assert container["Environment"] == [{"Name": "GREETING_AUDIENCE", "Value": "friends"}]
    assert function["Environment"] == {"Variables": {"GREETING_AUDIENCE": "friends"}}


def test_reserved_concurrency_and_function_settings(tmp_path: Path) -> None:
    app = app_from(tmp_path, LAMBDA_ONLY)
    resources = render(app, images_for(app))["Resources"]
    function = resources["WorkerFunction"]

    assert function["Properties"]["ReservedConcurrentExecutions"] == 7
    assert function["Properties"]["MemorySize"] == 256
    assert function["Properties"]["Timeout"] == 30
    assert function["Properties"]["PackageType"] == "Image"
    assert function["Properties"]["FunctionName"] == "jobs-dev-Worker"
    assert function["Properties"]["Environment"] == {"Variables": {"QUEUE": "orders"}}
    assert function["DependsOn"] == ["WorkerLogGroup"]
    assert (
        resources["WorkerLogGroup"]["Properties"]["LogGroupName"] == "/aws/lambda/jobs-dev-Worker"
    )


def test_no_reserved_concurrency_means_no_property() -> None:
    function = render(example_app(), images_for(example_app()))["Resources"]["GreeterFunction"]

    assert "ReservedConcurrentExecutions" not in function["Properties"]


def test_to_json_is_indented_json_ending_in_a_newline() -> None:
    template = render(example_app(), images_for(example_app()))
    text = to_json(template)

    assert text.endswith("}\n")
    assert json.loads(text) == template
    assert list(json.loads(text)["Resources"]) == list(template["Resources"])
