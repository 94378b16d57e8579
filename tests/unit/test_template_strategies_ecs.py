"""ECS deployment strategies (`deployment:` of `httpd` and `process` events) in the template.

The apps come from real YAML; the deployment is set on their events afterwards, so these
tests depend on the model's types and not on how the YAML spells a strategy. Every template
must pass cfn-lint with no findings at all, and a default deployment must render exactly what
services had before strategies existed: an existing app's redeploy is then an empty change set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hybridless.model import App, EcsDeployment, Hooks, HttpdEvent, ProcessEvent
from hybridless.stack.validate import lint_template
from hybridless.template import render, render_stacks, to_json
from hybridless.template.nested import with_template_urls
from tests.unit.configs import build
from tests.unit.test_template_events import (
    CERT_1,
    CERT_2,
    LISTENER_ARN,
    NETWORK,
    REGION,
    assert_lint_clean,
    code_for,
    images_for,
)

HOOK_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:notify"
TRAFFIC_POLICY = {
    "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
    "AmazonECSInfrastructureRolePolicyForLoadBalancers"
}
BREAKER = {"Enable": True, "Rollback": True}
NOT_FOUND = {
    "Type": "fixed-response",
    "FixedResponseConfig": {
        "StatusCode": "404",
        "ContentType": "text/plain",
        "MessageBody": "no route",
    },
}
BLUE_GREEN = EcsDeployment(strategy="blueGreen")
WITH_TEST_LISTENER = EcsDeployment(strategy="blueGreen", test_listener_port=8443)


# --- helpers ---------------------------------------------------------------------------------


def app_yaml(functions: str, network: str = NETWORK) -> str:
    return "service: shop\n" + network + "hybridless:\n  functions:\n" + functions


API = """\
    Api:
      events:
        - eventType: httpd
          runtime: container
          port: 8080
          routes: [{path: /api/*, method: get}]
"""


def deployed(app: App, deployments: dict[str, EcsDeployment]) -> App:
    """`app` with the deployment of each named function's services replaced."""
    events = tuple(
        replace(event, deployment=deployments[event.function])
        if isinstance(event, HttpdEvent | ProcessEvent) and event.function in deployments
        else event
        for event in app.events
    )
    return replace(app, events=events)


def rendered(app: App) -> dict[str, Any]:
    """The app's template, after asserting cfn-lint has nothing at all to say about it."""
    template = render(app, images_for(app), code_for(app))
    assert_lint_clean(template)
    return template


def with_deployment(
    tmp_path: Path, functions: str, deployments: dict[str, EcsDeployment], network: str = NETWORK
) -> dict[str, Any]:
    return rendered(deployed(build(tmp_path, app_yaml(functions, network)), deployments))


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]  # type: ignore[no-any-return]


def deployment_of(template: dict[str, Any], service: str) -> dict[str, Any]:
    return props(template, service)["DeploymentConfiguration"]  # type: ignore[no-any-return]


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def weighted(primary: str, alternate: str) -> list[dict[str, Any]]:
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": {"Ref": primary}, "Weight": 100},
                    {"TargetGroupArn": {"Ref": alternate}, "Weight": 0},
                ]
            },
        }
    ]


def trusted_service(role: dict[str, Any]) -> str:
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    return statement["Principal"]["Service"]  # type: ignore[no-any-return]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


# --- the default -----------------------------------------------------------------------------


def test_the_default_deployment_is_rolling_named_with_the_circuit_breaker(tmp_path: Path) -> None:
    """Rolling is named even by default: a service that ran blue/green goes back only when told."""
    functions = (
        API + "    Worker:\n      events:\n        - {eventType: process, runtime: container}\n"
    )
    app = build(tmp_path, app_yaml(functions))
    explicit = deployed(app, {"Api": EcsDeployment(), "Worker": EcsDeployment()})
    template = rendered(explicit)

    assert to_json(template) == to_json(render(app, images_for(app), code_for(app)))
    for service in ("ApiService", "WorkerService"):
        assert deployment_of(template, service) == {
            "MaximumPercent": 200,
            "MinimumHealthyPercent": 100,
            "DeploymentCircuitBreaker": BREAKER,
            "Strategy": "ROLLING",
        }
    assert props(template, "ApiRule0")["Actions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": "ApiTargetGroup"}}
    ]
    assert props(template, "ApiService")["LoadBalancers"] == [
        {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "ApiTargetGroup"}}
    ]
    assert "ApiAlternateTargetGroup" not in template["Resources"]
    assert not {"EcsTrafficShiftRole", "EcsHookRole"} & set(template["Resources"])


# --- rolling ---------------------------------------------------------------------------------


def test_a_custom_rolling_deployment_keeps_its_percentages_alarms_and_bake_time(
    tmp_path: Path,
) -> None:
    deployment = EcsDeployment(
        minimum_healthy_percent=50,
        maximum_percent=150,
        alarms=("web-5xx", "web-latency"),
        bake_time_minutes=10,
    )
    template = with_deployment(tmp_path, API, {"Api": deployment})

    assert deployment_of(template, "ApiService") == {
        "MaximumPercent": 150,
        "MinimumHealthyPercent": 50,
        "DeploymentCircuitBreaker": BREAKER,
        "Strategy": "ROLLING",
        "BakeTimeInMinutes": 10,
        "Alarms": {"AlarmNames": ["web-5xx", "web-latency"], "Enable": True, "Rollback": True},
    }
    # rolling moves no traffic between target groups and runs no hooks: nothing more to make
    assert "ApiAlternateTargetGroup" not in template["Resources"]
    assert not of_type(template, "AWS::IAM::Role").keys() & {"EcsTrafficShiftRole", "EcsHookRole"}


def test_half_at_a_time_is_rolling_at_50_100(tmp_path: Path) -> None:
    half = EcsDeployment(strategy="halfAtATime", minimum_healthy_percent=50, maximum_percent=100)
    template = with_deployment(tmp_path, API, {"Api": half})

    assert deployment_of(template, "ApiService") == {
        "MaximumPercent": 100,
        "MinimumHealthyPercent": 50,
        "DeploymentCircuitBreaker": BREAKER,
        "Strategy": "ROLLING",
    }


def test_without_the_circuit_breaker_it_is_off_and_rolls_nothing_back(tmp_path: Path) -> None:
    """Said explicitly, so a service that had it on gets it off."""
    template = with_deployment(tmp_path, API, {"Api": EcsDeployment(circuit_breaker=False)})

    assert deployment_of(template, "ApiService")["DeploymentCircuitBreaker"] == {
        "Enable": False,
        "Rollback": False,
    }


def test_a_process_event_rolls_half_at_a_time_with_alarms_and_bake_time(tmp_path: Path) -> None:
    half = EcsDeployment(
        strategy="halfAtATime",
        minimum_healthy_percent=50,
        maximum_percent=100,
        alarms=("queue-age",),
        bake_time_minutes=3,
    )
    template = with_deployment(
        tmp_path,
        "    Worker:\n      events:\n        - {eventType: process, runtime: container}\n",
        {"Worker": half},
    )

    assert deployment_of(template, "WorkerService") == {
        "MaximumPercent": 100,
        "MinimumHealthyPercent": 50,
        "DeploymentCircuitBreaker": BREAKER,
        "Strategy": "ROLLING",
        "BakeTimeInMinutes": 3,
        "Alarms": {"AlarmNames": ["queue-age"], "Enable": True, "Rollback": True},
    }
    assert "LoadBalancers" not in props(template, "WorkerService")
    assert not of_type(template, "AWS::IAM::Role").keys() & {"EcsTrafficShiftRole", "EcsHookRole"}


# --- traffic shifting ------------------------------------------------------------------------


def test_blue_green_shifts_the_production_rule_between_two_target_groups(tmp_path: Path) -> None:
    template = with_deployment(tmp_path, API, {"Api": BLUE_GREEN})
    service = props(template, "ApiService")

    assert deployment_of(template, "ApiService") == {
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
        "DeploymentCircuitBreaker": BREAKER,
        "Strategy": "BLUE_GREEN",
    }
    assert props(template, "ApiAlternateTargetGroup") == props(template, "ApiTargetGroup")
    assert template["Resources"]["ApiAlternateTargetGroup"]["Type"] == (
        "AWS::ElasticLoadBalancingV2::TargetGroup"
    )
    assert props(template, "ApiRule0")["Actions"] == weighted(
        "ApiTargetGroup", "ApiAlternateTargetGroup"
    )
    assert props(template, "ApiRule0")["ListenerArn"] == {"Ref": "HttpListener"}
    assert service["LoadBalancers"] == [
        {
            "ContainerName": "app",
            "ContainerPort": 8080,
            "TargetGroupArn": {"Ref": "ApiTargetGroup"},
            "AdvancedConfiguration": {
                "AlternateTargetGroupArn": {"Ref": "ApiAlternateTargetGroup"},
                "ProductionListenerRule": {"Ref": "ApiRule0"},
                "RoleArn": {"Fn::GetAtt": ["EcsTrafficShiftRole", "Arn"]},
            },
        }
    ]
    # the service references its rule, so it waits for it without a DependsOn
    assert "DependsOn" not in template["Resources"]["ApiService"]
    # no test listener was asked for
    assert list(of_type(template, "AWS::ElasticLoadBalancingV2::Listener")) == ["HttpListener"]
    assert not [k for k in template["Outputs"] if k.startswith("TestEndpoint")]


def test_the_traffic_role_is_ecs_s_with_the_managed_policy_for_load_balancers(
    tmp_path: Path,
) -> None:
    template = with_deployment(tmp_path, API, {"Api": BLUE_GREEN})
    traffic = template["Resources"]["EcsTrafficShiftRole"]

    assert trusted_service(traffic) == "ecs.amazonaws.com"
    assert traffic["Properties"]["ManagedPolicyArns"] == [TRAFFIC_POLICY]
    assert statements(traffic) == []
    assert "EcsHookRole" not in template["Resources"]


def test_one_traffic_role_serves_every_shifting_service(tmp_path: Path) -> None:
    functions = API + (
        "    Admin:\n      events:\n        - eventType: httpd\n          runtime: container\n"
        "          routes: [{path: /admin/*}]\n"
    )
    canary = EcsDeployment(strategy="canary")
    template = with_deployment(tmp_path, functions, {"Api": BLUE_GREEN, "Admin": canary})

    roles = [k for k, v in of_type(template, "AWS::IAM::Role").items() if "Traffic" in k]
    assert roles == ["EcsTrafficShiftRole"]
    for service in ("ApiService", "AdminService"):
        (balanced,) = props(template, service)["LoadBalancers"]
        assert balanced["AdvancedConfiguration"]["RoleArn"] == {
            "Fn::GetAtt": ["EcsTrafficShiftRole", "Arn"]
        }


def test_canary_moves_its_percentage_then_the_rest_after_the_interval(tmp_path: Path) -> None:
    canary = EcsDeployment(
        strategy="canary", canary_percent=12, interval_minutes=7, bake_time_minutes=20
    )
    template = with_deployment(tmp_path, API, {"Api": canary})

    assert deployment_of(template, "ApiService") == {
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
        "DeploymentCircuitBreaker": BREAKER,
        "Strategy": "CANARY",
        "CanaryConfiguration": {"CanaryPercent": 12, "CanaryBakeTimeInMinutes": 7},
        "BakeTimeInMinutes": 20,
    }
    assert "ApiAlternateTargetGroup" in template["Resources"]


def test_linear_moves_its_percentage_every_interval(tmp_path: Path) -> None:
    linear = EcsDeployment(strategy="linear", linear_percent=25, interval_minutes=3)
    template = with_deployment(tmp_path, API, {"Api": linear})

    assert deployment_of(template, "ApiService") == {
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
        "DeploymentCircuitBreaker": BREAKER,
        "Strategy": "LINEAR",
        "LinearConfiguration": {"StepPercent": 25, "StepBakeTimeInMinutes": 3},
    }
    assert props(template, "ApiRule0")["Actions"] == weighted(
        "ApiTargetGroup", "ApiAlternateTargetGroup"
    )


def test_alarms_and_an_open_circuit_breaker_apply_to_traffic_shifting_too(
    tmp_path: Path,
) -> None:
    deployment = EcsDeployment(strategy="blueGreen", circuit_breaker=False, alarms=("web-5xx",))
    template = with_deployment(tmp_path, API, {"Api": deployment})

    assert deployment_of(template, "ApiService") == {
        "MaximumPercent": 200,
        "MinimumHealthyPercent": 100,
        "DeploymentCircuitBreaker": {"Enable": False, "Rollback": False},
        "Strategy": "BLUE_GREEN",
        "Alarms": {"AlarmNames": ["web-5xx"], "Enable": True, "Rollback": True},
    }


# --- the test listener -----------------------------------------------------------------------


def test_a_test_listener_port_gets_a_listener_a_rule_an_open_port_and_an_output(
    tmp_path: Path,
) -> None:
    template = with_deployment(tmp_path, API, {"Api": WITH_TEST_LISTENER})
    production = props(template, "ApiRule0")
    test = props(template, "ApiTestRule")

    assert props(template, "TestListener8443") == {
        "LoadBalancerArn": {"Ref": "LoadBalancer"},
        "Port": 8443,
        "Protocol": "HTTP",
        "DefaultActions": [NOT_FOUND],
    }
    assert test == {
        "ListenerArn": {"Ref": "TestListener8443"},
        "Priority": production["Priority"],
        "Conditions": production["Conditions"],
        "Actions": weighted("ApiTargetGroup", "ApiAlternateTargetGroup"),
    }
    assert production["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
    ]
    (balanced,) = props(template, "ApiService")["LoadBalancers"]
    assert balanced["AdvancedConfiguration"] == {
        "AlternateTargetGroupArn": {"Ref": "ApiAlternateTargetGroup"},
        "ProductionListenerRule": {"Ref": "ApiRule0"},
        "TestListenerRule": {"Ref": "ApiTestRule"},
        "RoleArn": {"Fn::GetAtt": ["EcsTrafficShiftRole", "Arn"]},
    }
    assert "DependsOn" not in template["Resources"]["ApiService"]
    ingress = props(template, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"], r["CidrIp"]) for r in ingress] == [
        (80, 80, "0.0.0.0/0"),
        (8443, 8443, "0.0.0.0/0"),
    ]
    assert template["Outputs"]["TestEndpoint8443"]["Value"] == {
        "Fn::Sub": "http://${LoadBalancer.DNSName}:8443"
    }
    # the production endpoint is what it was
    assert template["Outputs"]["ServiceEndpoint"]["Value"] == {
        "Fn::Sub": "http://${LoadBalancer.DNSName}"
    }


def test_with_certificates_the_test_listener_is_https_like_the_production_one(
    tmp_path: Path,
) -> None:
    functions = (
        "    Api:\n      events:\n        - eventType: httpd\n          runtime: container\n"
        f"          certificateArns: [{CERT_1}, {CERT_2}]\n"
    )
    template = with_deployment(tmp_path, functions, {"Api": WITH_TEST_LISTENER})
    listener = props(template, "TestListener8443")
    https = props(template, "HttpsListener")

    assert (listener["Port"], listener["Protocol"]) == (8443, "HTTPS")
    assert listener["Certificates"] == [{"CertificateArn": CERT_1}]
    assert listener["SslPolicy"] == https["SslPolicy"]
    assert listener["DefaultActions"] == [NOT_FOUND]
    assert props(template, "TestListener8443Certificates") == {
        "ListenerArn": {"Ref": "TestListener8443"},
        "Certificates": [{"CertificateArn": CERT_2}],
    }
    assert props(template, "ApiRule0")["ListenerArn"] == {"Ref": "HttpsListener"}
    assert props(template, "ApiTestRule")["ListenerArn"] == {"Ref": "TestListener8443"}
    ingress = props(template, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert [r["FromPort"] for r in ingress] == [80, 443, 8443]
    assert template["Outputs"]["TestEndpoint8443"]["Value"] == {
        "Fn::Sub": "https://${LoadBalancer.DNSName}:8443"
    }


def test_events_sharing_a_test_listener_port_share_one_listener(tmp_path: Path) -> None:
    functions = API + (
        "    Admin:\n      events:\n        - eventType: httpd\n          runtime: container\n"
        "          routes: [{path: /admin/*}]\n"
    )
    linear = EcsDeployment(strategy="linear", test_listener_port=8443)
    template = with_deployment(tmp_path, functions, {"Api": WITH_TEST_LISTENER, "Admin": linear})

    listeners = of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert sorted(listeners) == ["HttpListener", "TestListener8443"]
    api, admin = props(template, "ApiTestRule"), props(template, "AdminTestRule")
    assert api["ListenerArn"] == admin["ListenerArn"] == {"Ref": "TestListener8443"}
    assert api["Priority"] != admin["Priority"]
    assert api["Priority"] == props(template, "ApiRule0")["Priority"]
    assert admin["Priority"] == props(template, "AdminRule0")["Priority"]
    ingress = props(template, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert [r["FromPort"] for r in ingress] == [80, 8443]
    assert [k for k in template["Outputs"] if "TestEndpoint" in k] == ["TestEndpoint8443"]


def test_a_private_balancer_gets_its_own_internal_test_listener(tmp_path: Path) -> None:
    functions = (
        "    Internal:\n      albIsPrivate: true\n      events:\n"
        "        - eventType: httpd\n          runtime: container\n          port: 9000\n"
    )
    template = with_deployment(tmp_path, functions, {"Internal": WITH_TEST_LISTENER})

    listener = props(template, "PrivateTestListener8443")
    assert listener["LoadBalancerArn"] == {"Ref": "PrivateLoadBalancer"}
    assert (listener["Port"], listener["Protocol"]) == (8443, "HTTP")
    assert "TestListener8443" not in template["Resources"]
    assert props(template, "InternalTestRule")["ListenerArn"] == {"Ref": "PrivateTestListener8443"}
    assert props(template, "InternalRule0")["ListenerArn"] == {"Ref": "PrivateHttpListener"}
    ingress = props(template, "PrivateLoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert [r["FromPort"] for r in ingress] == [80, 8443]
    assert ingress[1]["CidrIp"] == ingress[0]["CidrIp"]
    assert template["Outputs"]["PrivateTestEndpoint8443"]["Value"] == {
        "Fn::Sub": "http://${PrivateLoadBalancer.DNSName}:8443"
    }


def test_blue_green_works_on_an_existing_listener_through_the_app_s_own_rule(
    tmp_path: Path,
) -> None:
    functions = (
        f"    Api:\n      albListenerArn: {LISTENER_ARN}\n      events:\n"
        "        - eventType: httpd\n          runtime: container\n"
        "          routes: [{path: /api/*, priority: 39}]\n"
    )
    template = with_deployment(tmp_path, functions, {"Api": BLUE_GREEN})
    rule = props(template, "ApiRule0")

    assert rule["ListenerArn"] == LISTENER_ARN
    assert rule["Priority"] == 39
    assert rule["Actions"] == weighted("ApiTargetGroup", "ApiAlternateTargetGroup")
    (balanced,) = props(template, "ApiService")["LoadBalancers"]
    assert balanced["AdvancedConfiguration"]["ProductionListenerRule"] == {"Ref": "ApiRule0"}
    assert "TestListenerRule" not in balanced["AdvancedConfiguration"]
    assert not of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert not of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")


# --- hooks -----------------------------------------------------------------------------------

HOOKED = (
    API
    + """\
    Smoke:
      handler: smoke.handler
      events:
        - {eventType: lambda, runtime: python3.12}
"""
)


def test_hooks_run_after_test_traffic_and_after_production_traffic(tmp_path: Path) -> None:
    hooks = Hooks(pre_traffic="Smoke", post_traffic=HOOK_ARN)
    deployment = EcsDeployment(strategy="blueGreen", test_listener_port=8443, hooks=hooks)
    template = with_deployment(tmp_path, HOOKED, {"Api": deployment})
    role = {"Fn::GetAtt": ["EcsHookRole", "Arn"]}

    assert deployment_of(template, "ApiService")["LifecycleHooks"] == [
        {
            "HookTargetArn": {"Fn::GetAtt": ["SmokeFunction", "Arn"]},
            "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "RoleArn": role,
            "TargetType": "AWS_LAMBDA",
        },
        {
            "HookTargetArn": HOOK_ARN,
            "LifecycleStages": ["POST_PRODUCTION_TRAFFIC_SHIFT"],
            "RoleArn": role,
            "TargetType": "AWS_LAMBDA",
        },
    ]


def test_the_hook_role_may_invoke_exactly_the_hook_functions(tmp_path: Path) -> None:
    functions = HOOKED + (
        "    Admin:\n      events:\n        - eventType: httpd\n          runtime: container\n"
        "          routes: [{path: /admin/*}]\n"
    )
    api = EcsDeployment(strategy="blueGreen", hooks=Hooks(pre_traffic="Smoke"))
    admin = EcsDeployment(
        strategy="canary", hooks=Hooks(pre_traffic="Smoke", post_traffic="audit-hook")
    )
    template = with_deployment(tmp_path, functions, {"Api": api, "Admin": admin})
    hook = template["Resources"]["EcsHookRole"]

    assert trusted_service(hook) == "ecs.amazonaws.com"
    assert "ManagedPolicyArns" not in hook["Properties"]
    assert statements(hook) == [
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
                    ":function:shop-dev-Smoke"
                },
                {
                    "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
                    ":function:audit-hook"
                },
            ],
        }
    ]
    assert props(template, "SmokeFunction")["FunctionName"] == "shop-dev-Smoke"
    # services without hooks leave the role out entirely
    assert "EcsHookRole" not in with_deployment(tmp_path, HOOKED, {"Api": BLUE_GREEN})["Resources"]


# --- nested stacks ---------------------------------------------------------------------------


def big_app_yaml(count: int) -> str:
    """`count` httpd functions, each on its own path, and a Lambda function to hook."""
    services = "".join(
        f"    Svc{n}:\n      events:\n        - eventType: httpd\n          runtime: container\n"
        f"          routes: [{{path: /s{n}/*}}]\n"
        for n in range(count)
    )
    return app_yaml(
        services + "    Smoke:\n      handler: smoke.handler\n      events:\n"
        "        - {eventType: lambda, runtime: python3.12}\n"
    )


@pytest.fixture(scope="module")
def split_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp_path = tmp_path_factory.mktemp("big")
    app = build(tmp_path, big_app_yaml(110))
    shifting = EcsDeployment(
        strategy="blueGreen", test_listener_port=8443, hooks=Hooks(pre_traffic="Smoke")
    )
    app = deployed(app, {"Svc1": shifting, "Svc108": shifting})
    return render_stacks(app, images_for(app), code_for(app))


def test_a_split_app_keeps_each_shifting_service_with_its_target_groups_and_rules(
    split_app: Any,
) -> None:
    stacks = split_app
    assert stacks.children, "the app is meant to be over a limit"

    for name in ("Svc1", "Svc108"):
        homes = {
            child
            for child, template in stacks.children.items()
            for resource in (
                f"{name}Service",
                f"{name}TargetGroup",
                f"{name}AlternateTargetGroup",
                f"{name}Rule0",
                f"{name}TestRule",
            )
            if resource in template["Resources"]
        }
        assert len(homes) == 1, homes
    shared = stacks.root["Resources"]
    assert {"TestListener8443", "EcsTrafficShiftRole", "EcsHookRole"} <= set(shared)


def test_a_split_app_with_shifting_services_passes_cfn_lint(split_app: Any) -> None:
    stacks = split_app
    urls = {
        name: f"https://deploy-artifacts.s3.amazonaws.com/{name}.json" for name in stacks.children
    }

    assert lint_template(to_json(with_template_urls(stacks.root, urls)), REGION) == []
    for name, child in stacks.children.items():
        assert lint_template(to_json(child), REGION) == [], name
