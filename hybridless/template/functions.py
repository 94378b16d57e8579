"""Lambda functions from container images (`lambdaContainer`) and from zips (`lambda`).

A function is invoked by what its `protocol` says: nothing (called directly), the app's HTTP
API (`http`, API Gateway as the original plugin did), the app's load balancer
(`httpLoadBalancer`, a Lambda target group behind the same listener as the ECS services), an SQS
queue (an event source mapping), an SNS topic (a subscription) or a schedule (an EventBridge
rule). Every invoker gets a permission scoped to its own source, or to this account where the
source's ARN cannot be named without a cycle (a target group and its permission).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridless.model import App, LambdaContainerEvent, assign_priorities
from hybridless.model.listeners import RouteKey, api_route_key
from hybridless.model.types import FunctionEvent
from hybridless.template.balancers import add_rules
from hybridless.template.common import (
    Template,
    get_att,
    log_group,
    prefix,
    ref,
    resource_name,
    role,
    schedule_rule,
    sub,
    unique,
)

FUNCTION_ROLE = "FunctionRole"
HTTP_API = "HttpApi"
API_SOURCE_ARN = (
    f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{HTTP_API}}}/*"
)
# An image's architecture (docker's name) as Lambda says it.
LAMBDA_ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}
QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]


def add_functions(
    template: Template,
    app: App,
    images: Mapping[str, str],
    code: Mapping[str, Mapping[str, str]],
) -> None:
    """`code` maps each zip's name to its `{S3Bucket, S3Key}`."""
    events = app.function_events
    if not events:
        return
    template.add(
        FUNCTION_ROLE,
        role(
            "lambda.amazonaws.com",
            ["service-role/AWSLambdaBasicExecutionRole"],
            [*app.iam_statements, *_trigger_statements(events)],
        ),
    )
    if any(event.trigger.protocol == "http" for event in events):
        _add_api(template, app)
    priorities = assign_priorities(app.events)
    for event in events:
        _add_function(template, app, event, images, code, priorities)


def _add_api(template: Template, app: App) -> None:
    """One HTTP API for every `protocol: http` function of the app, deployed on every change
    by its `$default` stage, so no deployment resource has to be renamed to redeploy."""
    template.add(
        HTTP_API,
        {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"Name": app.stack_name, "ProtocolType": "HTTP"},
        },
    )
    template.add(
        f"{HTTP_API}Stage",
        {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": ref(HTTP_API), "StageName": "$default", "AutoDeploy": True},
        },
    )
    template.output("HttpApiUrl", get_att(HTTP_API, "ApiEndpoint"), "URL of the HTTP API")


def _add_api_routes(template: Template, event: FunctionEvent, function: str) -> None:
    """Payload format 1.0: the event shape of API Gateway's REST proxy integration, which is
    what handlers written for the original plugin's `protocol: http` read."""
    p = prefix(event.function, event.index)
    group = event.function
    integration = template.add(
        f"{p}ApiIntegration",
        {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": ref(HTTP_API),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": get_att(function, "Arn"),
                "PayloadFormatVersion": "1.0",
            },
        },
        group,
    )
    for number, route in enumerate(event.trigger.api_routes):
        template.add(
            f"{p}ApiRoute{number}",
            {
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {
                    "ApiId": ref(HTTP_API),
                    "RouteKey": api_route_key(route.method, route.path),
                    "Target": {"Fn::Join": ["/", ["integrations", ref(integration)]]},
                },
            },
            group,
        )
    template.add(
        f"{p}ApiPermission",
        _permission(
            function,
            "apigateway.amazonaws.com",
            {"SourceArn": sub(API_SOURCE_ARN)},
        ),
        group,
    )


def _trigger_statements(events: tuple[FunctionEvent, ...]) -> list[dict[str, Any]]:
    """What the role needs to read the queues its functions are mapped to."""
    queues = [e.trigger.arn for e in events if e.trigger.protocol == "sqs" and e.trigger.arn]
    if not queues:
        return []
    return [
        {
            "Effect": "Allow",
            "Action": QUEUE_ACTIONS,
            "Resource": unique(queues),
        }
    ]


def _add_function(
    template: Template,
    app: App,
    event: FunctionEvent,
    images: Mapping[str, str],
    code: Mapping[str, Mapping[str, str]],
    priorities: Mapping[RouteKey, int],
) -> None:
    p = prefix(event.function, event.index)
    group = event.function
    name = resource_name(app, event.function, event.index)[:64]
    logs = template.add(
        f"{p}LogGroup", log_group(f"/aws/lambda/{name}", event.log_retention_days), group
    )
    properties: dict[str, Any] = {
        "FunctionName": name,
        "Role": get_att(FUNCTION_ROLE, "Arn"),
        "MemorySize": event.memory,
        "Timeout": event.timeout,
    }
    if isinstance(event, LambdaContainerEvent):
        properties["PackageType"] = "Image"
        properties["Code"] = {"ImageUri": images[event.image.name]}
        if event.command:
            properties["ImageConfig"] = {"Command": list(event.command)}
        if event.image.architecture:
            # The image runs on the CPU it was built for; Lambda's default is x86_64.
            properties["Architectures"] = [LAMBDA_ARCHITECTURES[event.image.architecture]]
    else:
        properties["Runtime"] = event.runtime
        properties["Handler"] = event.handler
        properties["Code"] = dict(code[event.code.name])
    if event.environment:
        properties["Environment"] = {"Variables": dict(event.environment)}
    if event.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = event.reserved_concurrency
    function = template.add(
        f"{p}Function",
        {"Type": "AWS::Lambda::Function", "DependsOn": [logs], "Properties": properties},
        group,
    )
    template.output(f"{p}FunctionName", ref(function), f"{event.function}: function name")
    template.output(f"{p}FunctionArn", get_att(function, "Arn"), f"{event.function}: function ARN")
    _add_trigger(template, app, event, function, priorities)


def _add_trigger(
    template: Template,
    app: App,
    event: FunctionEvent,
    function: str,
    priorities: Mapping[RouteKey, int],
) -> None:
    p = prefix(event.function, event.index)
    group = event.function
    trigger = event.trigger
    if trigger.protocol == "sqs":
        template.add(
            f"{p}QueueMapping",
            {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": trigger.arn,
                    "FunctionName": ref(function),
                    "Enabled": True,
                },
            },
            group,
        )
    elif trigger.protocol == "sns":
        permission = template.add(
            f"{p}TopicPermission",
            _permission(function, "sns.amazonaws.com", {"SourceArn": trigger.arn}),
            group,
        )
        template.add(
            f"{p}TopicSubscription",
            {
                "Type": "AWS::SNS::Subscription",
                "DependsOn": [permission],
                "Properties": {
                    "TopicArn": trigger.arn,
                    "Protocol": "lambda",
                    "Endpoint": get_att(function, "Arn"),
                },
            },
            group,
        )
    elif trigger.protocol == "scheduler":
        assert trigger.schedule is not None
        target: dict[str, Any] = {"Id": "function", "Arn": get_att(function, "Arn")}
        if trigger.input is not None:
            target["Input"] = trigger.input
        rule = template.add(
            f"{p}Schedule",
            schedule_rule(
                trigger.schedule,
                f"{app.stack_name}: {event.function} on {trigger.schedule}",
                target,
            ),
            group,
        )
        template.add(
            f"{p}SchedulePermission",
            _permission(function, "events.amazonaws.com", {"SourceArn": get_att(rule, "Arn")}),
            group,
        )
    elif trigger.protocol == "http":
        _add_api_routes(template, event, function)
    elif trigger.protocol == "httpLoadBalancer":
        assert trigger.routing is not None
        permission = template.add(
            f"{p}BalancerPermission",
            _permission(
                function,
                "elasticloadbalancing.amazonaws.com",
                {"SourceAccount": ref("AWS::AccountId")},
            ),
            group,
        )
        target_group = template.add(
            f"{p}TargetGroup",
            {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "DependsOn": [permission],
                "Properties": {
                    "TargetType": "lambda",
                    "Targets": [{"Id": get_att(function, "Arn")}],
                },
            },
            group,
        )
        add_rules(template, event, trigger.routing, target_group, priorities, p, group)


def _permission(function: str, principal: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ref(function),
            "Principal": principal,
            **source,
        },
    }
