"""Each event kind and option of hybridless.yml, rendered from real YAML into CloudFormation.

Every template rendered here must also pass cfn-lint with no findings at all, errors or
warnings: what the tool generates is what a reviewer would write by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from hybridless.config import load_app
from hybridless.errors import ConfigError
from hybridless.model import App, Overrides
from hybridless.stack.validate import lint_template
from hybridless.template import render, to_json

REGION = "us-east-1"
ENVIRON = {"AWS_REGION": REGION}
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
# cfn-lint checks bucket names: three characters at least, so not the brief's "b".
CODE = {"S3Bucket": "deploy-artifacts", "S3Key": "k.zip"}
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b1b2c3d4e5f60719"]
ALB_SUBNETS = ["subnet-0c1b2c3d4e5f60718", "subnet-0d1b2c3d4e5f60719"]
CERT_1 = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-1111-1111-1111-111111111111"
CERT_2 = "arn:aws:acm:us-east-1:123456789012:certificate/22222222-2222-2222-2222-222222222222"
CERT_3 = "arn:aws:acm:us-east-1:123456789012:certificate/33333333-3333-3333-3333-333333333333"
LISTENER_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/front/"
    "0123456789abcdef/0123456789abcdef"
)
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/shared"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:events"
NETWORK = f"""\
provider:
  vpc:
    vpcId: {VPC_ID}
    subnetIds: [{SUBNETS[0]}, {SUBNETS[1]}]
"""
ALB_NETWORK = NETWORK + f"    albSubnetIds: [{ALB_SUBNETS[0]}, {ALB_SUBNETS[1]}]\n"
NEW_NETWORK = """\
provider:
  vpc:
    cidr: 10.20.0.0/16
    subnets: [10.20.1.0/24, 10.20.2.0/24, 10.20.3.0/24]
"""
QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]


# --- helpers ---------------------------------------------------------------------------------


def load(tmp_path: Path, text: str) -> App:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    path = tmp_path / "hybridless.yml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_app(path, Overrides(), ENVIRON)


def images_for(app: App, digests: Mapping[str, str] | None = None) -> dict[str, str]:
    digests = digests or {}
    return {
        image.name: f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{image.repository}"
        f"@{digests.get(image.name, DIGEST_A)}"
        for image in app.images
    }


def code_for(app: App) -> dict[str, dict[str, str]]:
    return {zipped.name: dict(CODE) for zipped in app.code}


def assert_lint_clean(template: dict[str, Any]) -> None:
    findings = lint_template(to_json(template), REGION)
    assert findings == [], "\n".join(map(str, findings))


def rendered(tmp_path: Path, text: str) -> dict[str, Any]:
    """The app's template, after asserting cfn-lint has nothing at all to say about it."""
    app = load(tmp_path, text)
    template = render(app, images_for(app), code_for(app))
    assert_lint_clean(template)
    return template


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]  # type: ignore[no-any-return]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def own_logs(prefix: str) -> dict[str, Any]:
    """The statement that lets a function write to its own log group and to no other."""
    return {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::GetAtt": [f"{prefix}LogGroup", "Arn"]},
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def names_resource(value: Any, logical_id: str) -> bool:
    """Whether an IAM Resource is exactly the ARN of `logical_id` (by Ref or `${Id}`)."""
    return value in ({"Ref": logical_id}, {"Fn::Sub": f"${{{logical_id}}}"})


def httpd_app(function_yaml: str, network: str = NETWORK) -> str:
    return "service: shop\n" + network + "hybridless:\n  functions:\n" + function_yaml


# --- httpd: listener rules -------------------------------------------------------------------


def test_httpd_rules_carry_path_method_and_host_header_conditions(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Api:
      events:
        - eventType: httpd
          runtime: container
          port: 8080
          hostname: API.Example.com
          routes:
            - {path: /api/*, method: post, priority: 5}
            - {path: /api/items}
"""
        ),
    )

    first = props(template, "ApiRule0")
    second = props(template, "ApiRule1")

    assert first["ListenerArn"] == {"Ref": "HttpListener"}
    assert first["Priority"] == 5
    assert first["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
    ]
    assert first["Actions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "ApiTargetGroup"}}]
    assert second["Priority"] == 1
    assert second["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/items"]}},
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}},
    ]
    assert template["Resources"]["ApiService"]["DependsOn"] == ["ApiRule0", "ApiRule1"]


def test_an_httpd_event_without_routes_gets_one_catch_all_rule(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app("    Web:\n      events:\n        - {eventType: httpd, runtime: container}\n"),
    )

    rules = of_type(template, "AWS::ElasticLoadBalancingV2::ListenerRule")

    assert list(rules) == ["WebRule0"]
    assert rules["WebRule0"]["Properties"]["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}
    ]


# --- httpd: HTTPS ---------------------------------------------------------------------------


def test_certificates_give_an_https_listener_and_http_redirects_to_it(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Api:
      events:
        - eventType: httpd
          runtime: container
          hostname: api.example.com
          certificateArns: [{CERT_1}, {CERT_2}]
        - eventType: httpd
          runtime: container
          hostname: admin.example.com
          routes: [{{path: /admin/*}}]
          certificateArns: [{CERT_2}, {CERT_3}]
"""
        ),
    )

    listeners = of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    https = listeners["HttpsListener"]["Properties"]
    http = listeners["HttpListener"]["Properties"]
    extra = of_type(template, "AWS::ElasticLoadBalancingV2::ListenerCertificate")

    assert set(listeners) == {"HttpListener", "HttpsListener"}
    assert (https["Port"], https["Protocol"]) == (443, "HTTPS")
    assert https["LoadBalancerArn"] == {"Ref": "LoadBalancer"}
    assert https["Certificates"] == [{"CertificateArn": CERT_1}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["DefaultActions"][0]["Type"] == "fixed-response"
    assert https["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    # the other certificates, each once, on the HTTPS listener
    assert list(extra) == ["HttpsListenerCertificates"]
    assert extra["HttpsListenerCertificates"]["Properties"] == {
        "ListenerArn": {"Ref": "HttpsListener"},
        "Certificates": [{"CertificateArn": CERT_2}, {"CertificateArn": CERT_3}],
    }
    assert (http["Port"], http["Protocol"]) == (80, "HTTP")
    assert http["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]
    for rule in ("ApiRule0", "ApiEvent1Rule0"):
        assert props(template, rule)["ListenerArn"] == {"Ref": "HttpsListener"}
    assert template["Outputs"]["ServiceEndpoint"]["Value"] == {
        "Fn::Sub": "https://${LoadBalancer.DNSName}"
    }


def test_one_certificate_needs_no_listener_certificate(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            "    Api:\n      events:\n        - eventType: httpd\n          runtime: container\n"
            f"          certificateArns: [{CERT_1}]\n"
        ),
    )

    assert props(template, "HttpsListener")["Certificates"] == [{"CertificateArn": CERT_1}]
    assert of_type(template, "AWS::ElasticLoadBalancingV2::ListenerCertificate") == {}


def test_without_certificates_http_answers_404_and_there_is_no_https(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app("    Web:\n      events:\n        - {eventType: httpd, runtime: container}\n"),
    )

    listeners = of_type(template, "AWS::ElasticLoadBalancingV2::Listener")

    assert list(listeners) == ["HttpListener"]
    assert listeners["HttpListener"]["Properties"]["DefaultActions"] == [
        {
            "Type": "fixed-response",
            "FixedResponseConfig": {
                "StatusCode": "404",
                "ContentType": "text/plain",
                "MessageBody": "no route",
            },
        }
    ]
    assert template["Outputs"]["ServiceEndpoint"]["Value"] == {
        "Fn::Sub": "http://${LoadBalancer.DNSName}"
    }


# --- httpd: private, existing listener, existing cluster, EC2 ------------------------------


def test_a_private_alb_is_internal_in_the_task_subnets_with_its_own_listener(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Public:
      events:
        - {eventType: httpd, runtime: container, port: 3000}
    Internal:
      albIsPrivate: true
      events:
        - eventType: httpd
          runtime: container
          port: 9000
          routes: [{path: /internal/*}]
""",
            network=ALB_NETWORK,
        ),
    )

    balancers = of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    private = balancers["PrivateLoadBalancer"]["Properties"]
    public = balancers["LoadBalancer"]["Properties"]
    listener = props(template, "PrivateHttpListener")

    assert set(balancers) == {"LoadBalancer", "PrivateLoadBalancer"}
    assert private["Scheme"] == "internal"
    assert private["Subnets"] == SUBNETS
    assert private["SecurityGroups"] == [
        {"Fn::GetAtt": ["PrivateLoadBalancerSecurityGroup", "GroupId"]}
    ]
    assert public["Scheme"] == "internet-facing"
    assert public["Subnets"] == ALB_SUBNETS
    assert listener["LoadBalancerArn"] == {"Ref": "PrivateLoadBalancer"}
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    assert props(template, "InternalRule0")["ListenerArn"] == {"Ref": "PrivateHttpListener"}
    assert props(template, "PublicRule0")["ListenerArn"] == {"Ref": "HttpListener"}
    # each listener numbers its own rules
    assert props(template, "InternalRule0")["Priority"] == 1
    assert props(template, "PublicRule0")["Priority"] == 1
    ingress = props(template, "ServiceSecurityGroup")["SecurityGroupIngress"]
    assert [(r["FromPort"], r["SourceSecurityGroupId"]["Fn::GetAtt"][0]) for r in ingress] == [
        (3000, "LoadBalancerSecurityGroup"),
        (9000, "PrivateLoadBalancerSecurityGroup"),
    ]
    assert template["Outputs"]["PrivateServiceEndpoint"]["Value"] == {
        "Fn::Sub": "http://${PrivateLoadBalancer.DNSName}"
    }


def test_an_existing_listener_means_no_load_balancer_and_rules_on_that_arn(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Api:
      albListenerArn: {LISTENER_ARN}
      events:
        - eventType: httpd
          runtime: container
          port: 8080
          routes: [{{path: /api/*, priority: 39}}, {{path: /v2/*, priority: 40}}]
"""
        ),
    )

    types = {resource["Type"] for resource in template["Resources"].values()}

    assert "AWS::ElasticLoadBalancingV2::LoadBalancer" not in types
    assert "AWS::ElasticLoadBalancingV2::Listener" not in types
    assert "LoadBalancerSecurityGroup" not in template["Resources"]
    assert "ServiceEndpoint" not in template["Outputs"]
    assert props(template, "ApiRule0")["ListenerArn"] == LISTENER_ARN
    assert props(template, "ApiRule1")["ListenerArn"] == LISTENER_ARN
    assert props(template, "ApiRule1")["Priority"] == 40
    assert props(template, "ApiService")["LoadBalancers"] == [
        {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "ApiTargetGroup"}}
    ]
    assert props(template, "ApiTargetGroup")["VpcId"] == VPC_ID


@pytest.mark.parametrize(
    ("metric", "low", "high", "value", "predefined"),
    [
        ("cpu", 2, 10, 55, "ECSServiceAverageCPUUtilization"),
        ("memory", 1, 4, 70, "ECSServiceAverageMemoryUtilization"),
        ("requests", 3, 30, 900, "ALBRequestCountPerTarget"),
    ],
)
def test_autoscaling_tracks_the_chosen_metric(
    tmp_path: Path, metric: str, low: int, high: int, value: int, predefined: str
) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            "    Api:\n      events:\n        - eventType: httpd\n          runtime: container\n"
            f"          autoScale: {{min: {low}, max: {high}, metric: {metric}, "
            f"targetValue: {value}}}\n"
        ),
    )

    target = props(template, "ApiScalableTarget")
    policy = props(template, "ApiScalingPolicy")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    specification = tracking["PredefinedMetricSpecification"]

    assert target["ServiceNamespace"] == "ecs"
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert target["ResourceId"] == {
        "Fn::Join": ["/", ["service", {"Ref": "Cluster"}, {"Fn::GetAtt": ["ApiService", "Name"]}]]
    }
    assert (target["MinCapacity"], target["MaxCapacity"]) == (low, high)
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["ScalingTargetId"] == {"Ref": "ApiScalableTarget"}
    assert tracking["TargetValue"] == value
    assert specification["PredefinedMetricType"] == predefined
    if metric == "requests":
        assert specification["ResourceLabel"] == {
            "Fn::Join": [
                "/",
                [
                    {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]},
                    {"Fn::GetAtt": ["ApiTargetGroup", "TargetGroupFullName"]},
                ],
            ]
        }
    else:
        assert "ResourceLabel" not in specification


def test_process_autoscaling_on_an_existing_cluster_names_that_cluster(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Worker:
      ecsClusterArn: {CLUSTER_ARN}
      events:
        - eventType: process
          runtime: container
          autoScale: {{min: 1, max: 5, metric: cpu}}
"""
        ),
    )

    assert props(template, "WorkerScalableTarget")["ResourceId"] == {
        "Fn::Join": ["/", ["service", "shared", {"Fn::GetAtt": ["WorkerService", "Name"]}]]
    }


def test_an_existing_cluster_means_no_cluster_resource(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Api:
      ecsClusterArn: {CLUSTER_ARN}
      events:
        - {{eventType: httpd, runtime: container}}
        - {{eventType: process, runtime: container}}
        - {{eventType: scheduledTask, runtime: container, schedulerRate: rate(1 day)}}
"""
        ),
    )

    assert of_type(template, "AWS::ECS::Cluster") == {}
    assert "ClusterName" not in template["Outputs"]
    assert props(template, "ApiService")["Cluster"] == CLUSTER_ARN
    assert props(template, "ApiEvent1Service")["Cluster"] == CLUSTER_ARN
    rule = props(template, "ApiEvent2Schedule")
    assert rule["Targets"][0]["Arn"] == CLUSTER_ARN
    run_task = statements(template["Resources"]["ApiEvent2ScheduleRole"])[0]
    assert run_task["Condition"] == {"ArnLike": {"ecs:cluster": CLUSTER_ARN}}
    body = json.dumps(template["Resources"])
    assert '{"Ref": "Cluster"}' not in body
    assert '["Cluster", "Arn"]' not in body


def test_a_cluster_is_created_for_the_functions_that_name_none(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Mine:
      events:
        - {{eventType: process, runtime: container}}
    Theirs:
      ecsClusterArn: {CLUSTER_ARN}
      events:
        - {{eventType: process, runtime: container}}
"""
        ),
    )

    assert list(of_type(template, "AWS::ECS::Cluster")) == ["Cluster"]
    assert props(template, "MineService")["Cluster"] == {"Ref": "Cluster"}
    assert props(template, "TheirsService")["Cluster"] == CLUSTER_ARN


def test_the_ec2_launch_type_reaches_service_and_task_definition(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Api:
      ecsClusterArn: {CLUSTER_ARN}
      memory: 768
      events:
        - eventType: httpd
          runtime: container
          ec2LaunchType: true
          cpu: 384
"""
        ),
    )

    service = props(template, "ApiService")
    task = props(template, "ApiTaskDefinition")

    assert service["LaunchType"] == "EC2"
    assert "CapacityProviderStrategy" not in service
    assert task["RequiresCompatibilities"] == ["EC2"]
    assert (task["Cpu"], task["Memory"]) == ("384", "768")


def test_health_check_and_deregistration_delay_land_on_the_target_group(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Api:
      events:
        - eventType: httpd
          runtime: container
          port: 8080
          healthCheckRoute: /healthz
          healthCheckInterval: 20
          healthCheckTimeout: 6
          healthCheckHealthyCount: 3
          healthCheckUnhealthyCount: 4
          healthCheckStatusCode: "200-299"
          deregistrationDelay: 12
"""
        ),
    )

    group = props(template, "ApiTargetGroup")

    assert group["TargetType"] == "ip"
    assert (group["Port"], group["Protocol"], group["VpcId"]) == (8080, "HTTP", VPC_ID)
    assert group["HealthCheckPath"] == "/healthz"
    assert group["HealthCheckIntervalSeconds"] == 20
    assert group["HealthCheckTimeoutSeconds"] == 6
    assert group["HealthyThresholdCount"] == 3
    assert group["UnhealthyThresholdCount"] == 4
    assert group["Matcher"] == {"HttpCode": "200-299"}
    assert group["TargetGroupAttributes"] == [
        {"Key": "deregistration_delay.timeout_seconds", "Value": "12"}
    ]


# --- process ---------------------------------------------------------------------------------


def test_a_process_is_a_service_without_load_balancer(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            "    Worker:\n      events:\n"
            "        - {eventType: process, runtime: container, concurrency: 3}\n"
        ),
    )

    service = template["Resources"]["WorkerService"]
    properties = service["Properties"]
    types = {resource["Type"] for resource in template["Resources"].values()}

    assert properties["DesiredCount"] == 3
    assert properties["LaunchType"] == "FARGATE"
    assert "LoadBalancers" not in properties
    assert "HealthCheckGracePeriodSeconds" not in properties
    assert "DependsOn" not in service
    assert properties["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }
    assert not any(t.startswith("AWS::ElasticLoadBalancingV2::") for t in types)
    assert "PortMappings" not in props(template, "WorkerTaskDefinition")["ContainerDefinitions"][0]
    assert "SecurityGroupIngress" not in props(template, "ServiceSecurityGroup")


# --- scheduledTask ---------------------------------------------------------------------------


def test_a_scheduled_task_runs_with_its_own_role_and_fargate_network(tmp_path: Path) -> None:
    overrides = '{"containerOverrides": [{"name": "app", "command": ["report", "--daily"]}]}'
    template = rendered(
        tmp_path,
        httpd_app(
            f"""\
    Report:
      events:
        - eventType: scheduledTask
          runtime: container
          schedulerRate: cron(0 6 * * ? *)
          schedulerInput: '{overrides}'
          concurrency: 2
"""
        ),
    )

    rule = props(template, "ReportSchedule")
    target = rule["Targets"][0]
    ecs = target["EcsParameters"]
    role = template["Resources"]["ReportScheduleRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    granted = statements(role)

    assert template["Resources"]["ReportSchedule"]["Type"] == "AWS::Events::Rule"
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rule["State"] == "ENABLED"
    assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ReportScheduleRole", "Arn"]}
    assert target["Input"] == overrides
    assert ecs["TaskDefinitionArn"] == {"Ref": "ReportTaskDefinition"}
    assert ecs["TaskCount"] == 2
    assert ecs["LaunchType"] == "FARGATE"
    assert ecs["NetworkConfiguration"] == {
        "AwsVpcConfiguration": {
            "AssignPublicIp": "DISABLED",
            "Subnets": SUBNETS,
            "SecurityGroups": [{"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]}],
        }
    }
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    run_task = [s for s in granted if "ecs:RunTask" in as_list(s["Action"])]
    pass_role = [s for s in granted if "iam:PassRole" in as_list(s["Action"])]
    assert len(run_task) == 1 and len(pass_role) == 1
    assert names_resource(run_task[0]["Resource"], "ReportTaskDefinition")
    assert sorted(json.dumps(r) for r in as_list(pass_role[0]["Resource"])) == sorted(
        json.dumps({"Fn::GetAtt": [name, "Arn"]}) for name in ("TaskExecutionRole", "TaskRole")
    )
    assert all(s["Effect"] == "Allow" for s in granted)
    assert {a for s in granted for a in as_list(s["Action"])} == {"ecs:RunTask", "iam:PassRole"}
    # a schedule starts tasks; it is not a service
    assert of_type(template, "AWS::ECS::Service") == {}


def test_a_scheduled_task_input_mapping_is_passed_as_json(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Report:
      events:
        - eventType: scheduledTask
          runtime: container
          schedulerRate: rate(1 day)
          schedulerInput:
            containerOverrides:
              - {name: app, environment: [{name: MODE, value: full}]}
"""
        ),
    )

    text = props(template, "ReportSchedule")["Targets"][0]["Input"]

    assert isinstance(text, str)
    assert json.loads(text) == {
        "containerOverrides": [{"name": "app", "environment": [{"name": "MODE", "value": "full"}]}]
    }


def test_a_scheduled_task_without_input_has_no_input(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            "    Report:\n      events:\n        - {eventType: scheduledTask, runtime: container,"
            " schedulerRate: rate(2 hours)}\n"
        ),
    )

    target = props(template, "ReportSchedule")["Targets"][0]

    assert "Input" not in target
    assert props(template, "ReportSchedule")["ScheduleExpression"] == "rate(2 hours)"


# --- Lambda: code, command, concurrency -----------------------------------------------------


def test_a_container_function_is_an_image_pinned_by_digest(tmp_path: Path) -> None:
    text = """\
    service: jobs
    hybridless:
      functions:
        Resize:
          handler: resize.handler
          memory: 2048
          timeout: 120
          events:
            - {eventType: lambdaContainer, runtime: container}
        Plain:
          events:
            - {eventType: lambdaContainer, runtime: container}
    """
    app = load(tmp_path, text)
    images = images_for(app, {"Resize-0": DIGEST_B})
    template = render(app, images)
    assert_lint_clean(template)

    resize = props(template, "ResizeFunction")
    plain = props(template, "PlainFunction")

    assert resize["PackageType"] == "Image"
    assert resize["Code"] == {"ImageUri": images["Resize-0"]}
    assert resize["Code"]["ImageUri"].endswith("/jobs/resize-0-dev@" + DIGEST_B)
    assert resize["ImageConfig"] == {"Command": ["resize.handler"]}
    assert (resize["MemorySize"], resize["Timeout"]) == (2048, 120)
    assert "Runtime" not in resize and "Handler" not in resize
    assert plain["Code"] == {"ImageUri": images["Plain-0"]}
    assert "ImageConfig" not in plain


def test_a_zip_function_has_runtime_handler_and_the_uploaded_code(tmp_path: Path) -> None:
    text = """\
    service: jobs
    hybridless:
      functions:
        Fn:
          handler: app.handler
          events:
            - {eventType: lambda, runtime: python3.12}
    """
    app = load(tmp_path, text)
    code = {"Fn": {"S3Bucket": "deploy-artifacts", "S3Key": "k.zip"}}
    template = render(app, {}, code)
    assert_lint_clean(template)

    function = props(template, "FnFunction")

    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "app.handler"
    assert function["Code"] == code["Fn"]
    assert "PackageType" not in function
    assert "ImageConfig" not in function
    assert function["Role"] == {"Fn::GetAtt": ["FnFunctionRole", "Arn"]}
    role = template["Resources"]["FnFunctionRole"]["Properties"]
    assert statements(template["Resources"]["FnFunctionRole"]) == [own_logs("Fn")]
    assert "ManagedPolicyArns" not in role  # no logs:* on every log group of the account


def test_zip_code_is_required_for_every_zip_function(tmp_path: Path) -> None:
    app = load(
        tmp_path,
        """\
        service: jobs
        hybridless:
          functions:
            Fn:
              handler: app.handler
              events:
                - {eventType: lambda, runtime: python3.12}
        """,
    )

    with pytest.raises(ValueError, match="Fn"):
        render(app, {}, {})


@pytest.mark.parametrize("count", [0, 25])
def test_reserved_concurrency_is_passed_even_when_zero(tmp_path: Path, count: int) -> None:
    template = rendered(
        tmp_path,
        f"""\
        service: jobs
        hybridless:
          functions:
            Fn:
              events:
                - {{eventType: lambdaContainer, runtime: container, reservedConcurrency: {count}}}
        """,
    )

    assert props(template, "FnFunction")["ReservedConcurrentExecutions"] == count


# --- Lambda: triggers -----------------------------------------------------------------------


def test_an_sqs_function_gets_a_mapping_and_may_read_that_queue(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        f"""\
        service: jobs
        hybridless:
          functions:
            Consumer:
              events:
                - {{eventType: lambdaContainer, runtime: container, protocol: sqs,
                    protocolArn: "{QUEUE_ARN}"}}
            Other:
              events:
                - {{eventType: lambdaContainer, runtime: container}}
        """,
    )

    mapping = template["Resources"]["ConsumerQueueMapping"]
    granted = statements(template["Resources"]["ConsumerFunctionRole"])

    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert mapping["Properties"]["EventSourceArn"] == QUEUE_ARN
    assert mapping["Properties"]["FunctionName"] == {"Ref": "ConsumerFunction"}
    assert granted == [
        own_logs("Consumer"),
        {"Effect": "Allow", "Action": QUEUE_ACTIONS, "Resource": QUEUE_ARN},
    ]
    # the queue is the consumer's business alone
    assert statements(template["Resources"]["OtherFunctionRole"]) == [own_logs("Other")]


def test_an_sns_function_gets_a_subscription_and_a_permission_for_that_topic(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        f"""\
        service: jobs
        hybridless:
          functions:
            Listener:
              events:
                - {{eventType: lambdaContainer, runtime: container, protocol: sns,
                    protocolArn: "{TOPIC_ARN}"}}
        """,
    )

    subscription = template["Resources"]["ListenerTopicSubscription"]
    permission = template["Resources"]["ListenerTopicPermission"]

    assert subscription["Type"] == "AWS::SNS::Subscription"
    assert subscription["Properties"] == {
        "TopicArn": TOPIC_ARN,
        "Protocol": "lambda",
        "Endpoint": {"Fn::GetAtt": ["ListenerFunction", "Arn"]},
    }
    assert subscription["DependsOn"] == ["ListenerTopicPermission"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Ref": "ListenerFunction"},
        "Principal": "sns.amazonaws.com",
        "SourceArn": TOPIC_ARN,
    }
    assert statements(template["Resources"]["ListenerFunctionRole"]) == [own_logs("Listener")]


def test_a_scheduled_function_gets_a_rule_and_a_permission_for_that_rule(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        """\
        service: jobs
        hybridless:
          functions:
            Tick:
              handler: tick.handler
              events:
                - eventType: lambda
                  runtime: nodejs22.x
                  protocol: scheduler
                  schedulerRate: rate(5 minutes)
                  schedulerInput: {source: schedule, full: true}
        """,
    )

    rule = template["Resources"]["TickSchedule"]
    permission = props(template, "TickSchedulePermission")
    target = rule["Properties"]["Targets"][0]

    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert target["Arn"] == {"Fn::GetAtt": ["TickFunction", "Arn"]}
    assert "RoleArn" not in target
    assert json.loads(target["Input"]) == {"source": "schedule", "full": True}
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Ref": "TickFunction"},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["TickSchedule", "Arn"]},
    }


def test_http_functions_share_the_listener_with_services_with_distinct_priorities(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Web:
      events:
        - eventType: httpd
          runtime: container
          routes: [{path: /*}, {path: /static/*, priority: 2}]
    Api:
      handler: api.handler
      events:
        - eventType: lambda
          runtime: python3.12
          protocol: httpLoadBalancer
          routes: [{path: /api/*, method: GET}, {path: /api/*, method: POST}]
    Img:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: httpLoadBalancer
          routes: [{path: /img/*}]
"""
        ),
    )

    rules = of_type(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    priorities = {name: rule["Properties"]["Priority"] for name, rule in rules.items()}
    group = template["Resources"]["ApiTargetGroup"]
    permission = template["Resources"]["ApiBalancerPermission"]

    assert set(rules) == {"WebRule0", "WebRule1", "ApiRule0", "ApiRule1", "ImgRule0"}
    assert {r["Properties"]["ListenerArn"]["Ref"] for r in rules.values()} == {"HttpListener"}
    assert len(set(priorities.values())) == len(priorities)
    assert priorities["WebRule1"] == 2
    assert priorities["WebRule0"] == max(priorities.values())  # the catch-all comes last
    assert list(of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")) == ["LoadBalancer"]
    assert group["Properties"] == {
        "TargetType": "lambda",
        "Targets": [{"Id": {"Fn::GetAtt": ["ApiFunction", "Arn"]}}],
    }
    assert "ApiBalancerPermission" in group["DependsOn"]
    assert permission["Properties"]["Principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}
    assert rules["ApiRule1"]["Properties"]["Actions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": "ApiTargetGroup"}}
    ]
    assert props(template, "ImgTargetGroup")["Targets"] == [
        {"Id": {"Fn::GetAtt": ["ImgFunction", "Arn"]}}
    ]
    # the service group admits the container port only; Lambda targets need no ingress
    ingress = props(template, "ServiceSecurityGroup")["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"]) for r in ingress] == [(80, 80)]


def test_an_http_function_alone_still_gets_a_load_balancer(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Api:
      events:
        - {eventType: lambdaContainer, runtime: container, protocol: httpLoadBalancer}
"""
        ),
    )

    assert list(of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")) == ["LoadBalancer"]
    assert props(template, "ApiRule0")["ListenerArn"] == {"Ref": "HttpListener"}
    assert of_type(template, "AWS::ECS::Service") == {}


def test_an_http_function_on_an_existing_listener(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        f"""\
        service: jobs
        hybridless:
          functions:
            Api:
              albListenerArn: {LISTENER_ARN}
              events:
                - {{eventType: lambdaContainer, runtime: container, protocol: httpLoadBalancer,
                    routes: [{{path: /jobs/*, priority: 7}}]}}
        """,
    )

    assert of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer") == {}
    assert props(template, "ApiRule0")["ListenerArn"] == LISTENER_ARN
    assert props(template, "ApiRule0")["Priority"] == 7


def test_an_http_function_is_served_by_the_apps_http_api(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        """\
        service: jobs
        hybridless:
          functions:
            Orders:
              events:
                - eventType: lambdaContainer
                  runtime: container
                  protocol: http
                  routes: [{path: /orders/*, method: GET}, {path: /orders, method: post}]
            Health:
              handler: health.handler
              logsRetentionInDays: 90
              events:
                - {eventType: lambda, runtime: python3.12, protocol: http}
        """,
    )

    apis = of_type(template, "AWS::ApiGatewayV2::Api")
    routes = of_type(template, "AWS::ApiGatewayV2::Route")
    permission = props(template, "OrdersApiPermission")

    assert list(apis) == ["HttpApi"]
    assert apis["HttpApi"]["Properties"]["ProtocolType"] == "HTTP"
    assert props(template, "HttpApiStage")["AutoDeploy"] is True
    assert {name: r["Properties"]["RouteKey"] for name, r in routes.items()} == {
        "OrdersApiRoute0": "GET /orders/{proxy+}",
        "OrdersApiRoute1": "POST /orders",
        "HealthApiRoute0": "ANY /{proxy+}",
    }
    assert props(template, "OrdersApiRoute1")["Target"] == {
        "Fn::Join": ["/", ["integrations", {"Ref": "OrdersApiIntegration"}]]
    }
    assert props(template, "OrdersApiIntegration")["IntegrationUri"] == {
        "Fn::GetAtt": ["OrdersFunction", "Arn"]
    }
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["FunctionName"] == {"Ref": "OrdersFunction"}
    assert "${HttpApi}" in permission["SourceArn"]["Fn::Sub"]
    # every request is logged, kept as long as the longest kept log of its functions
    assert props(template, "HttpApiStage")["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]
    }
    assert "$context.requestId" in props(template, "HttpApiStage")["AccessLogSettings"]["Format"]
    assert props(template, "HttpApiAccessLogGroup") == {
        "LogGroupName": "/hybridless/jobs-dev-HttpApi",
        "RetentionInDays": 90,
    }
    # an API needs neither a network nor a load balancer
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert not any(t.startswith(("AWS::ElasticLoadBalancingV2::", "AWS::EC2::")) for t in types)


# --- network ---------------------------------------------------------------------------------


def test_a_new_network_is_created_with_public_subnets_in_distinct_zones(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Web:
      events:
        - {eventType: httpd, runtime: container}
        - {eventType: scheduledTask, runtime: container, schedulerRate: rate(1 hour)}
""",
            network=NEW_NETWORK,
        ),
    )
    resources = template["Resources"]

    assert props(template, "Vpc")["CidrBlock"] == "10.20.0.0/16"
    assert resources["Vpc"]["Type"] == "AWS::EC2::VPC"
    assert resources["InternetGateway"]["Type"] == "AWS::EC2::InternetGateway"
    assert props(template, "InternetGatewayAttachment") == {
        "VpcId": {"Ref": "Vpc"},
        "InternetGatewayId": {"Ref": "InternetGateway"},
    }
    route = resources["PublicDefaultRoute"]
    assert route["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    assert route["Properties"]["GatewayId"] == {"Ref": "InternetGateway"}
    assert route["DependsOn"] == ["InternetGatewayAttachment"]
    subnets = of_type(template, "AWS::EC2::Subnet")
    assert list(subnets) == ["PublicSubnet1", "PublicSubnet2", "PublicSubnet3"]
    for number, (name, subnet) in enumerate(subnets.items()):
        assert subnet["Properties"]["VpcId"] == {"Ref": "Vpc"}
        assert subnet["Properties"]["CidrBlock"] == f"10.20.{number + 1}.0/24"
        assert subnet["Properties"]["AvailabilityZone"] == {
            "Fn::Select": [number, {"Fn::GetAZs": ""}]
        }
        association = props(template, f"{name}RouteTable")
        assert association == {
            "SubnetId": {"Ref": name},
            "RouteTableId": {"Ref": "PublicRouteTable"},
        }
    refs = [{"Ref": name} for name in subnets]
    assert props(template, "LoadBalancer")["Subnets"] == refs
    assert props(template, "LoadBalancerSecurityGroup")["VpcId"] == {"Ref": "Vpc"}
    assert props(template, "WebTargetGroup")["VpcId"] == {"Ref": "Vpc"}
    service = props(template, "WebService")["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert service["AssignPublicIp"] == "ENABLED"
    assert service["Subnets"] == refs
    scheduled = props(template, "WebEvent1Schedule")["Targets"][0]["EcsParameters"]
    assert scheduled["NetworkConfiguration"]["AwsVpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert template["Outputs"]["VpcId"]["Value"] == {"Ref": "Vpc"}


def test_tasks_in_an_existing_network_get_no_public_address(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        "service: shop\n"
        + NETWORK
        + """\
    securityGroupIds: [sg-0a1b2c3d4e5f60718]
hybridless:
  functions:
    Worker:
      events:
        - {eventType: process, runtime: container}
        - {eventType: scheduledTask, runtime: container, schedulerRate: rate(1 hour)}
""",
    )

    service = props(template, "WorkerService")["NetworkConfiguration"]["AwsvpcConfiguration"]
    scheduled = props(template, "WorkerEvent1Schedule")["Targets"][0]["EcsParameters"]

    assert of_type(template, "AWS::EC2::VPC") == {}
    assert service == {
        "AssignPublicIp": "DISABLED",
        "Subnets": SUBNETS,
        "SecurityGroups": [
            {"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]},
            "sg-0a1b2c3d4e5f60718",
        ],
    }
    assert scheduled["NetworkConfiguration"] == {"AwsVpcConfiguration": service}


# --- IAM, logs, tags -------------------------------------------------------------------------


def test_iam_statements_land_on_the_task_role_and_the_function_role(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        f"""\
        service: shop
        provider:
          vpc:
            vpcId: {VPC_ID}
            subnetIds: [{SUBNETS[0]}, {SUBNETS[1]}]
          iam:
            role:
              statements:
                - Effect: Allow
                  Action: [dynamodb:GetItem, dynamodb:PutItem]
                  Resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders
        hybridless:
          functions:
            Worker:
              events:
                - {{eventType: process, runtime: container}}
            Consumer:
              events:
                - {{eventType: lambdaContainer, runtime: container, protocol: sqs,
                    protocolArn: "{QUEUE_ARN}"}}
        """,
    )
    mine = {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
        "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
    }

    assert statements(template["Resources"]["TaskRole"]) == [mine]
    assert statements(template["Resources"]["ConsumerFunctionRole"]) == [
        own_logs("Consumer"),
        mine,
        {"Effect": "Allow", "Action": QUEUE_ACTIONS, "Resource": QUEUE_ARN},
    ]
    # the execution role pulls the app's images and writes its tasks' logs, nothing else
    execution = template["Resources"]["TaskExecutionRole"]["Properties"]
    assert "ManagedPolicyArns" not in execution
    assert statements(template["Resources"]["TaskExecutionRole"]) == [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            "Resource": [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:"
                    "repository/shop/worker-0-dev"
                }
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                "log-group:/hybridless/shop-dev-*"
            },
        },
    ]


def test_log_groups_keep_the_configured_retention(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Web:
      events:
        - {eventType: process, runtime: container}
    Short:
      logsRetentionInDays: 3
      events:
        - {eventType: process, runtime: container}
        - {eventType: lambdaContainer, runtime: container}
    Fn:
      events:
        - {eventType: lambdaContainer, runtime: container}
""",
            network=NETWORK + "  logRetentionInDays: 60\n",
        ),
    )

    groups = of_type(template, "AWS::Logs::LogGroup")
    retention = {name: group["Properties"]["RetentionInDays"] for name, group in groups.items()}

    assert retention == {
        "WebLogGroup": 60,
        "ShortLogGroup": 3,
        "ShortEvent1LogGroup": 3,
        "FnLogGroup": 60,
    }
    assert groups["ShortEvent1LogGroup"]["Properties"]["LogGroupName"] == (
        "/aws/lambda/shop-dev-ShortEvent1"
    )
    assert groups["WebLogGroup"]["Properties"]["LogGroupName"] == "/hybridless/shop-dev-Web"
    for group in groups.values():
        assert group["DeletionPolicy"] == group["UpdateReplacePolicy"]
    options = props(template, "ShortTaskDefinition")["ContainerDefinitions"][0]["LogConfiguration"]
    assert options["Options"]["awslogs-group"] == {"Ref": "ShortLogGroup"}
    assert template["Resources"]["FnFunction"]["DependsOn"] == ["FnLogGroup"]


def test_the_default_retention_is_30_days(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        """\
        service: jobs
        hybridless:
          functions:
            Fn:
              events:
                - {eventType: lambdaContainer, runtime: container}
        """,
    )

    assert props(template, "FnLogGroup")["RetentionInDays"] == 30


def test_tags_stay_on_the_stack_and_break_nothing(tmp_path: Path) -> None:
    text = (
        "service: shop\n"
        + NETWORK
        + """\
  tags: {team: payments, owner: ops}
hybridless:
  tags: {cost-centre: cc-42}
  functions:
    Web:
      events:
        - {eventType: httpd, runtime: container}
    Fn:
      events:
        - {eventType: lambdaContainer, runtime: container}
"""
    )
    app = load(tmp_path, text)
    template = render(app, images_for(app))
    assert_lint_clean(template)
    body = to_json(template)

    assert dict(app.tags) == {"team": "payments", "owner": "ops", "cost-centre": "cc-42"}
    for word in ("payments", "cost-centre", "cc-42", '"owner"'):
        assert word not in body
    assert props(template, "WebService")["PropagateTags"] == "SERVICE"


# --- raw resources ---------------------------------------------------------------------------

RAW = """\
service: jobs
hybridless:
  functions:
    Consumer:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: sqs
          protocolArn: !GetAtt Queue.Arn
resources:
  Parameters:
    Env:
      Type: String
      AllowedValues: [dev, prod]
      Default: dev
  Conditions:
    IsProd: !Equals [!Ref Env, prod]
  Resources:
    Queue:
      Type: AWS::SQS::Queue
      Properties:
        VisibilityTimeout: 180
        QueueName: !Sub "${AWS::StackName}-orders"
    Alerts:
      Type: AWS::SNS::Topic
      Condition: IsProd
  Outputs:
    QueueUrl:
      Value: !Ref Queue
    QueueArn:
      Value: !GetAtt Queue.Arn
      Export:
        Name: !Sub "${AWS::StackName}-queue"
"""


def test_raw_resources_are_merged_into_every_section(tmp_path: Path) -> None:
    template = rendered(tmp_path, RAW)

    assert template["Parameters"] == {
        "Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"}
    }
    assert template["Conditions"] == {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
    assert template["Resources"]["Queue"] == {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "VisibilityTimeout": 180,
            "QueueName": {"Fn::Sub": "${AWS::StackName}-orders"},
        },
    }
    assert template["Resources"]["Alerts"] == {"Type": "AWS::SNS::Topic", "Condition": "IsProd"}
    assert {"ConsumerFunction", "ConsumerFunctionRole", "ConsumerQueueMapping"} <= set(
        template["Resources"]
    )
    assert {"ConsumerFunctionName", "ConsumerFunctionArn", "QueueUrl", "QueueArn"} == set(
        template["Outputs"]
    )
    assert template["Outputs"]["QueueArn"] == {
        "Value": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-queue"}},
    }


def test_short_forms_in_resources_load_as_long_forms(tmp_path: Path) -> None:
    app = load(tmp_path, RAW)
    assert app.resources is not None
    sections = app.resources.sections

    assert sections["Outputs"]["QueueUrl"]["Value"] == {"Ref": "Queue"}
    assert sections["Outputs"]["QueueArn"]["Value"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert sections["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
    # an intrinsic stands for the queue's ARN in the event, the role and the mapping
    template = render(app, images_for(app))
    assert_lint_clean(template)
    assert props(template, "ConsumerQueueMapping")["EventSourceArn"] == {
        "Fn::GetAtt": ["Queue", "Arn"]
    }
    assert statements(template["Resources"]["ConsumerFunctionRole"])[1]["Resource"] == {
        "Fn::GetAtt": ["Queue", "Arn"]
    }


@pytest.mark.parametrize(
    ("section", "name", "body"),
    [
        ("Resources", "ConsumerFunctionRole", "      Type: AWS::SNS::Topic\n"),
        ("Resources", "ConsumerFunction", "      Type: AWS::SNS::Topic\n"),
        ("Outputs", "ConsumerFunctionArn", "      Value: mine\n"),
    ],
)
def test_a_raw_resource_named_like_a_generated_one_is_refused_where_written(
    tmp_path: Path, section: str, name: str, body: str
) -> None:
    text = dedent(
        """\
        service: jobs
        hybridless:
          functions:
            Consumer:
              events:
                - {eventType: lambdaContainer, runtime: container}
        resources:
          Outputs:
            Mine:
              Value: fine
          Resources:
            Topic:
              Type: AWS::SNS::Topic
        """
    )
    text = text.replace(f"  {section}:\n", f"  {section}:\n    {name}:\n{body}", 1)
    app = load(tmp_path, text)
    line = text.splitlines().index(f"    {name}:") + 1
    path = tmp_path / "hybridless.yml"

    with pytest.raises(ConfigError) as caught:
        render(app, images_for(app))

    [problem] = caught.value.problems
    assert Path(problem.file) == path
    assert problem.line == line
    assert problem.key == f"resources.{section}.{name}"
    assert f"{path}:{line}: resources.{section}.{name}:" in str(caught.value)
    assert "rename" in problem.message


# --- determinism ---------------------------------------------------------------------------

MIXED = httpd_app(
    f"""\
    Web:
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: /*}}]
          certificateArns: [{CERT_1}, {CERT_2}]
        - {{eventType: process, runtime: container}}
    Api:
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: /api/*}}]
          autoScale: {{min: 1, max: 3, metric: requests}}
    Cron:
      events:
        - {{eventType: scheduledTask, runtime: container, schedulerRate: rate(1 hour)}}
    Fn:
      handler: app.handler
      environment: {{BETA: "2", ALPHA: "1"}}
      events:
        - {{eventType: lambda, runtime: python3.12, protocol: httpLoadBalancer,
            routes: [{{path: /fn}}]}}
        - {{eventType: lambdaContainer, runtime: container, protocol: sqs,
            protocolArn: "{QUEUE_ARN}"}}
"""
)


def test_the_same_app_renders_to_the_same_bytes(tmp_path: Path) -> None:
    first_app = load(tmp_path, MIXED)
    second_app = load(tmp_path, MIXED)
    first = to_json(render(first_app, images_for(first_app), code_for(first_app)))
    second = to_json(render(second_app, images_for(second_app), code_for(second_app)))

    assert first.encode() == second.encode()
    assert lint_template(first, REGION) == []


def test_a_new_digest_for_one_function_changes_only_its_task_definition(
    tmp_path: Path,
) -> None:
    app = load(tmp_path, MIXED)
    before = render(app, images_for(app), code_for(app))
    after = render(app, images_for(app, {"Api-0": DIGEST_B}), code_for(app))
    assert_lint_clean(after)

    changed = {
        name
        for name in before["Resources"].keys() | after["Resources"].keys()
        if before["Resources"].get(name) != after["Resources"].get(name)
    }

    assert changed == {"ApiTaskDefinition"}
    image = props(after, "ApiTaskDefinition")["ContainerDefinitions"][0]["Image"]
    assert image.endswith("@" + DIGEST_B)
    assert {k: v for k, v in before.items() if k != "Resources"} == {
        k: v for k, v in after.items() if k != "Resources"
    }


def test_a_new_digest_for_a_container_function_changes_only_that_function(
    tmp_path: Path,
) -> None:
    app = load(tmp_path, MIXED)
    before = render(app, images_for(app), code_for(app))
    after = render(app, images_for(app, {"Fn-1": DIGEST_B}), code_for(app))

    changed = {
        name
        for name in before["Resources"]
        if before["Resources"][name] != after["Resources"][name]
    }

    assert changed == {"FnEvent1Function"}
    assert props(after, "FnEvent1Function")["Code"]["ImageUri"].endswith("@" + DIGEST_B)


# --- what waits for what, who owns the count ---------------------------------------------------


def test_a_scaled_service_leaves_its_count_to_the_scaler(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Api:
      events:
        - eventType: httpd
          runtime: container
          concurrency: 2
          autoScale: {min: 2, max: 6}
    Plain:
      events:
        - eventType: httpd
          runtime: container
          concurrency: 2
"""
        ),
    )

    assert "DesiredCount" not in props(template, "ApiService")
    assert props(template, "PlainService")["DesiredCount"] == 2


def test_in_a_created_network_balancers_and_tasks_wait_for_the_route_out(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Api:
      events:
        - eventType: httpd
          runtime: container
    Worker:
      events:
        - eventType: process
          runtime: container
""",
            NEW_NETWORK,
        ),
    )

    resources = template["Resources"]
    assert "PublicDefaultRoute" in as_list(resources["LoadBalancer"]["DependsOn"])
    assert "PublicDefaultRoute" in as_list(resources["ApiService"]["DependsOn"])
    assert "PublicDefaultRoute" in as_list(resources["WorkerService"]["DependsOn"])


def test_an_existing_network_adds_no_waiting(tmp_path: Path) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            "    Api:\n      events:\n        - eventType: httpd\n          runtime: container\n"
        ),
    )

    assert "DependsOn" not in template["Resources"]["LoadBalancer"]
    assert template["Resources"]["ApiService"]["DependsOn"] == ["ApiRule0"]


def test_a_private_balancer_in_a_created_network_admits_that_network_only(
    tmp_path: Path,
) -> None:
    template = rendered(
        tmp_path,
        httpd_app(
            """\
    Api:
      albIsPrivate: true
      events:
        - eventType: httpd
          runtime: container
    Site:
      events:
        - eventType: httpd
          runtime: container
          routes: [{path: /site/*}]
""",
            NEW_NETWORK,
        ),
    )

    private = props(template, "PrivateLoadBalancerSecurityGroup")["SecurityGroupIngress"]
    public = props(template, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert [rule["CidrIp"] for rule in private] == [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}]
    assert [rule["CidrIp"] for rule in public] == ["0.0.0.0/0"]
