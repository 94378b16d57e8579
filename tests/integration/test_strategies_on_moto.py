"""Deployment strategies deployed on the proving ground, as a user would: examples/hello with a
blue/green web service (and a test listener) and a canary Lambda function.

moto keeps the load balancer, listener, rule and target group resources and publishes Lambda
versions, so the parts of a strategy it can hold are checked where they live. It drops the ECS
service's deployment configuration and skips the alias and CodeDeploy resources: what those do
is shown by the template tests and by the rollout scenarios against the doubles.
"""

from __future__ import annotations

import json

import boto3

from tests.integration.hello import App

BLUE_GREEN = """\
          deployment:
            strategy: blueGreen
            testListenerPort: 8443
            bakeTimeMinutes: 5
            alarms: [web-5xx]
"""
CANARY = """\
          deployment:
            strategy: canary
            percentage: 10
            intervalMinutes: 5
"""


def with_strategies(app: App) -> None:
    config = app.directory / "hybridless.yml"
    text = config.read_text()
    text = text.replace("            - {path: /*, method: GET}\n",
                        "            - {path: /*, method: GET}\n" + BLUE_GREEN)  # fmt: skip
    text = text.replace("'public.ecr.aws/lambda/python:3.12'}\n",
                        "'public.ecr.aws/lambda/python:3.12'}\n" + CANARY)  # fmt: skip
    assert text.count("deployment:") == 2
    config.write_text(text)


def test_a_blue_green_service_and_a_canary_function_deploy_and_update(app: App) -> None:
    with_strategies(app)

    first = app.deploy("--method", "direct")  # moto computes outputs for direct updates only

    assert first.returncode == 0, first.log
    assert first.outputs is not None
    outputs = first.outputs["outputs"]
    cloudformation = boto3.client("cloudformation")
    body = cloudformation.get_template(StackName=app.stack_name)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    resources = template["Resources"]
    configuration = resources["WebService"]["Properties"]["DeploymentConfiguration"]
    assert configuration["Strategy"] == "BLUE_GREEN"
    assert configuration["BakeTimeInMinutes"] == 5
    assert resources["GreeterAlias"]["Properties"]["Name"] == "live"

    elb = boto3.client("elbv2")
    stack = cloudformation.describe_stack_resources(StackName=app.stack_name)["StackResources"]
    # moto lists the resources it skipped (alias, CodeDeploy) without names
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in stack
        if r.get("LogicalResourceId")
    }
    groups = elb.describe_target_groups(
        TargetGroupArns=[physical["WebTargetGroup"], physical["WebAlternateTargetGroup"]]
    )["TargetGroups"]
    assert [g["HealthCheckPath"] for g in groups] == ["/health", "/health"]
    balancer = physical["LoadBalancer"]
    ports = sorted(
        listener["Port"]
        for listener in elb.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    )
    assert ports == [80, 8443]
    assert outputs["TestEndpoint8443"].endswith(":8443"), outputs
    versions = boto3.client("lambda").list_versions_by_function(
        FunctionName=outputs["GreeterFunctionName"]
    )["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]

    app.change_code("Shifted, {audience}!")
    second = app.deploy("--method", "direct")

    assert second.returncode == 0, second.log
    assert second.outputs is not None
    assert second.outputs["stack-status"] == "UPDATE_COMPLETE"
    assert second.outputs["image-tag"] != first.outputs["image-tag"]
