"""Lambda functions from container images (`lambdaContainer`) and from zips (`lambda`).

A function is invoked by what its `protocol` says: nothing (called directly), the app's HTTP
API (`http`, API Gateway as the original plugin did), the app's load balancer
(`httpLoadBalancer`, a Lambda target group behind the same listener as the ECS services), an SQS
queue (an event source mapping), an SNS topic (a subscription) or a schedule (an EventBridge
rule). Every invoker gets a permission scoped to its own source, or to this account where the
source's ARN cannot be named without a cycle (a target group and its permission).

An event with a `deployment:` strategy is not switched to new code in one step by the function
update itself. Its function publishes a version on every change and the alias `live` points at
the version that serves traffic; CloudFormation hands each move of the alias to CodeDeploy (the
alias's `CodeDeployLambdaAliasUpdate` update policy), which shifts traffic all at once, as a
canary or linearly, runs the hooks around the shift and moves the alias back when a hook fails or
an alarm fires. This is how AWS SAM deploys a function with `AutoPublishAlias` and a
`DeploymentPreference`, so the behaviour, the limits and the console views are the ones AWS
documents. Every invoker then calls the alias instead of the function: traffic that went to the
unqualified function would run whatever was uploaded last, bypassing both the shift and the
rollback.

Each function runs with a role of its own, granting what every part of the app may do
(`provider.iam.role.statements`) and what only this function needs: writing to its own log
group, reading the queue it is mapped to, reporting to CodeDeploy when it is a hook. A role
shared by all functions would hand every function the queues and hook rights of the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybridless.model import App, LambdaContainerEvent, assign_priorities
from hybridless.model.listeners import RouteKey, api_route_key
from hybridless.model.types import FunctionDeployment, FunctionEvent
from hybridless.template.balancers import add_rules
from hybridless.template.common import (
    LOG_ACTIONS,
    Template,
    function_name,
    get_att,
    hook_function,
    log_group,
    prefix,
    ref,
    resource_name,
    role,
    schedule_rule,
    sub,
    unique,
)
from hybridless.template.security import (
    ASYNCHRONOUS_NO_DEAD_LETTERS,
    ENVIRONMENT_KEY,
    NO_NETWORK,
    OUTSIDE_NETWORK,
    QUEUE_NO_DEAD_LETTERS,
    SYNCHRONOUS_NO_DEAD_LETTERS,
    UNRESERVED_CONCURRENCY,
    Waiver,
    waive,
)

ROLE_SUFFIX = "FunctionRole"
HTTP_API = "HttpApi"
API_ACCESS_LOGS = f"{HTTP_API}AccessLogGroup"
# What API Gateway writes per request: enough to trace a request to its function's log, and no
# header or body.
API_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "sourceIp": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
    },
    separators=(",", ":"),
)
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
ALIAS_NAME = "live"
CODEDEPLOY_APPLICATION = "CodeDeployApplication"
CODEDEPLOY_ROLE = "CodeDeployRole"
CODEDEPLOY_NAME_LENGTH = 100
HOOK_STATUS_ACTION = "codedeploy:PutLifecycleEventHookExecutionStatus"
# Function settings that are not part of a published version: changing them alone must not
# publish one, as Lambda would hand back the latest version instead of a new one.
UNVERSIONED_PROPERTIES = ("ReservedConcurrentExecutions",)
# CodeDeploy's own Lambda configurations, by (strategy, percentage, interval in minutes).
PREDEFINED_CONFIGS = {
    ("canary", 10, 5): "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    ("canary", 10, 10): "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    ("canary", 10, 15): "CodeDeployDefault.LambdaCanary10Percent15Minutes",
    ("canary", 10, 30): "CodeDeployDefault.LambdaCanary10Percent30Minutes",
    ("linear", 10, 1): "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    ("linear", 10, 2): "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
    ("linear", 10, 3): "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
    ("linear", 10, 10): "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
}
ALL_AT_ONCE_CONFIG = "CodeDeployDefault.LambdaAllAtOnce"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
DEAD_LETTERS = {
    "http": SYNCHRONOUS_NO_DEAD_LETTERS,
    "httpLoadBalancer": SYNCHRONOUS_NO_DEAD_LETTERS,
    "sqs": QUEUE_NO_DEAD_LETTERS,
}


@dataclass(frozen=True)
class _Invoked:
    """What invokers call: the function itself, or its alias when a strategy shifts traffic.
    `name` is what `FunctionName` properties take, `arn` what targets and endpoints take."""

    name: Any
    arn: Any


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
    if any(event.trigger.protocol == "http" for event in events):
        _add_api(template, app)
    if any(event.deployment is not None for event in events):
        _add_codedeploy(template, app)
    priorities = assign_priorities(app.events)
    for event in events:
        _add_function(template, app, event, images, code, priorities)


def _add_api(template: Template, app: App) -> None:
    """One HTTP API for every `protocol: http` function of the app, deployed on every change
    by its `$default` stage, so no deployment resource has to be renamed to redeploy. Its
    access log is kept as long as the longest kept log of the functions behind it."""
    retention = max(
        e.log_retention_days for e in app.function_events if e.trigger.protocol == "http"
    )
    access_logs = template.add(
        API_ACCESS_LOGS, log_group(f"/hybridless/{app.stack_name}-{HTTP_API}", retention)
    )
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
            "Properties": {
                "ApiId": ref(HTTP_API),
                "StageName": "$default",
                "AutoDeploy": True,
                "AccessLogSettings": {
                    "DestinationArn": get_att(access_logs, "Arn"),
                    "Format": API_ACCESS_LOG_FORMAT,
                },
            },
        },
    )
    template.output("HttpApiUrl", get_att(HTTP_API, "ApiEndpoint"), "URL of the HTTP API")


def _add_api_routes(template: Template, event: FunctionEvent, invoked: _Invoked) -> None:
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
                "IntegrationUri": invoked.arn,
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
            invoked,
            "apigateway.amazonaws.com",
            {"SourceArn": sub(API_SOURCE_ARN)},
        ),
        group,
    )


def _add_role(template: Template, app: App, event: FunctionEvent, logs: str) -> str:
    statements = [
        {"Effect": "Allow", "Action": LOG_ACTIONS, "Resource": get_att(logs, "Arn")},
        *app.iam_statements,
        *_trigger_statements(event),
        *_hook_statements(app, event),
    ]
    return template.add(
        f"{prefix(event.function, event.index)}{ROLE_SUFFIX}",
        role("lambda.amazonaws.com", [], statements),
        event.function,
    )


def _trigger_statements(event: FunctionEvent) -> list[dict[str, Any]]:
    """What the role needs to read the queue the function is mapped to."""
    if event.trigger.protocol != "sqs" or not event.trigger.arn:
        return []
    return [{"Effect": "Allow", "Action": QUEUE_ACTIONS, "Resource": event.trigger.arn}]


def _hook_targets(app: App) -> list[str]:
    """Every hook of the app's Lambda strategies, as written, once each."""
    targets: list[str] = []
    for event in app.function_events:
        if event.deployment is not None:
            hooks = event.deployment.hooks
            targets += [t for t in (hooks.pre_traffic, hooks.post_traffic) if t]
    return unique(targets)


def _hook_statements(app: App, event: FunctionEvent) -> list[dict[str, Any]]:
    """A hook reports its verdict to CodeDeploy itself: the function a hook names may report on
    this app's deployment groups, and on no other application's."""
    hooks = {hook_function(app, target).name for target in _hook_targets(app)}
    if function_name(app, event) not in hooks:
        return []
    return [
        {
            "Effect": "Allow",
            "Action": HOOK_STATUS_ACTION,
            "Resource": sub(
                "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:"
                f"deploymentgroup:{_application_name(app)}/*"
            ),
        }
    ]


def _application_name(app: App) -> str:
    return app.stack_name[:CODEDEPLOY_NAME_LENGTH]


def _deployment_group_name(app: App, event: FunctionEvent) -> str:
    return resource_name(app, event.function, event.index)[:CODEDEPLOY_NAME_LENGTH]


def _add_codedeploy(template: Template, app: App) -> None:
    """The application and service role every deployment group of the app shares. CodeDeploy's
    managed policy lets it invoke only functions named `CodeDeployHook_*`, so the hooks, named
    freely in hybridless.yml, are allowed by ARN."""
    template.add(
        CODEDEPLOY_APPLICATION,
        {
            "Type": "AWS::CodeDeploy::Application",
            "Properties": {
                "ApplicationName": _application_name(app),
                "ComputePlatform": "Lambda",
            },
        },
    )
    hooks = [hook_function(app, target).arn for target in _hook_targets(app)]
    invoke = [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": unique(hooks)}]
    template.add(
        CODEDEPLOY_ROLE,
        role(
            "codedeploy.amazonaws.com",
            ["service-role/AWSCodeDeployRoleForLambda"],
            invoke if hooks else [],
        ),
    )


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
    name = function_name(app, event)
    logs = template.add(
        f"{p}LogGroup", log_group(f"/aws/lambda/{name}", event.log_retention_days), group
    )
    function_role = _add_role(template, app, event, logs)
    properties: dict[str, Any] = {
        "FunctionName": name,
        "Role": get_att(function_role, "Arn"),
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
        waive(
            {"Type": "AWS::Lambda::Function", "DependsOn": [logs], "Properties": properties},
            *_waivers(app, event),
        ),
        group,
    )
    template.output(f"{p}FunctionName", ref(function), f"{event.function}: function name")
    template.output(f"{p}FunctionArn", get_att(function, "Arn"), f"{event.function}: function ARN")
    invoked = _Invoked(ref(function), get_att(function, "Arn"))
    if event.deployment is not None:
        alias = _add_strategy(template, app, event, event.deployment, function, properties)
        template.output(f"{p}AliasArn", ref(alias), f"{event.function}: ARN of the live alias")
        invoked = _Invoked(ref(alias), ref(alias))
    _add_trigger(template, app, event, invoked, priorities)


def _waivers(app: App, event: FunctionEvent) -> list[Waiver]:
    waivers = [DEAD_LETTERS.get(event.trigger.protocol, ASYNCHRONOUS_NO_DEAD_LETTERS)]
    waivers.append(NO_NETWORK if app.vpc is None else OUTSIDE_NETWORK)
    if event.reserved_concurrency is None:
        waivers.append(UNRESERVED_CONCURRENCY)
    if event.environment:
        waivers.append(ENVIRONMENT_KEY)
    return waivers


def _add_strategy(
    template: Template,
    app: App,
    event: FunctionEvent,
    deployment: FunctionDeployment,
    function: str,
    properties: Mapping[str, Any],
) -> str:
    """The version, its alias and the deployment group that moves the alias; returns the
    alias's logical id."""
    p = prefix(event.function, event.index)
    group = event.function
    version = template.add(f"{p}Version", _version(function, properties), group)
    config: Any = _predefined_config(deployment)
    if config is None:
        config = ref(template.add(f"{p}DeploymentConfig", _deployment_config(deployment), group))
    deployment_group = template.add(
        f"{p}DeploymentGroup",
        _deployment_group(_deployment_group_name(app, event), deployment, config),
        group,
    )
    update: dict[str, Any] = {
        "ApplicationName": _application_name(app),
        "DeploymentGroupName": _deployment_group_name(app, event),
    }
    if deployment.hooks.pre_traffic:
        update["BeforeAllowTrafficHook"] = hook_function(app, deployment.hooks.pre_traffic).name
    if deployment.hooks.post_traffic:
        update["AfterAllowTrafficHook"] = hook_function(app, deployment.hooks.post_traffic).name
    return template.add(
        f"{p}Alias",
        {
            "Type": "AWS::Lambda::Alias",
            "DependsOn": [deployment_group],
            "UpdatePolicy": {"CodeDeployLambdaAliasUpdate": update},
            "Properties": {
                "FunctionName": ref(function),
                "FunctionVersion": get_att(version, "Version"),
                "Name": ALIAS_NAME,
            },
        },
        group,
    )


def _configuration_hash(properties: Mapping[str, Any]) -> str:
    """A digest of everything a published version freezes (code or image digest, environment,
    memory, ...), as the template states it."""
    versioned = {k: v for k, v in properties.items() if k not in UNVERSIONED_PROPERTIES}
    text = json.dumps(versioned, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(function: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """A published version under a logical id that never changes.

    A version's description cannot be updated, so a new description replaces the resource:
    carrying the configuration's hash, it makes every change of the function publish a new
    version and no other deploy publish one. Replacement creates the new version first and
    deletes the old one only in the cleanup after the whole update succeeded, by when CodeDeploy
    has moved the alias off it; an update that fails rolls back to it, still there. Deleting
    (not retaining) old versions keeps nothing pinned to an old image, so image cleanup can free
    it."""
    return {
        "Type": "AWS::Lambda::Version",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "FunctionName": ref(function),
            "Description": f"hybridless configuration sha256:{_configuration_hash(properties)}",
        },
    }


def _predefined_config(deployment: FunctionDeployment) -> str | None:
    """CodeDeploy's own configuration when one shifts exactly as asked: nothing to create."""
    if deployment.strategy == "allAtOnce":
        return ALL_AT_ONCE_CONFIG
    key = (deployment.strategy, deployment.percentage, deployment.interval_minutes)
    return PREDEFINED_CONFIGS.get(key)


def _deployment_config(deployment: FunctionDeployment) -> dict[str, Any]:
    """Left unnamed: every property of a deployment configuration is fixed at creation, so a
    changed percentage or interval replaces it, which a fixed name would forbid."""
    if deployment.strategy == "canary":
        routing = {
            "Type": "TimeBasedCanary",
            "TimeBasedCanary": {
                "CanaryPercentage": deployment.percentage,
                "CanaryInterval": deployment.interval_minutes,
            },
        }
    else:
        routing = {
            "Type": "TimeBasedLinear",
            "TimeBasedLinear": {
                "LinearPercentage": deployment.percentage,
                "LinearInterval": deployment.interval_minutes,
            },
        }
    return {
        "Type": "AWS::CodeDeploy::DeploymentConfig",
        "Properties": {"ComputePlatform": "Lambda", "TrafficRoutingConfig": routing},
    }


def _alarm_configuration(alarms: tuple[str, ...]) -> dict[str, Any]:
    """Without alarms the configuration is stated as off rather than left out: CloudFormation
    leaves a deployment group's alarms in place when the property merely disappears."""
    if not alarms:
        return {"Enabled": False, "Alarms": []}
    return {"Enabled": True, "Alarms": [{"Name": alarm} for alarm in alarms]}


def _deployment_group(name: str, deployment: FunctionDeployment, config: Any) -> dict[str, Any]:
    """Named literally, as the alias's update policy names it: a stack-event watcher reads the
    names from the template, and the policy needs no reference to another resource, so it reads
    the same in the root and in a nested stack."""
    return {
        "Type": "AWS::CodeDeploy::DeploymentGroup",
        "Properties": {
            "ApplicationName": ref(CODEDEPLOY_APPLICATION),
            "DeploymentGroupName": name,
            "ServiceRoleArn": get_att(CODEDEPLOY_ROLE, "Arn"),
            "DeploymentStyle": {
                "DeploymentType": "BLUE_GREEN",
                "DeploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            "AutoRollbackConfiguration": {"Enabled": True, "Events": list(ROLLBACK_EVENTS)},
            "AlarmConfiguration": _alarm_configuration(deployment.alarms),
            "DeploymentConfigName": config,
        },
    }


def _add_trigger(
    template: Template,
    app: App,
    event: FunctionEvent,
    invoked: _Invoked,
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
                    "FunctionName": invoked.name,
                    "Enabled": True,
                },
            },
            group,
        )
    elif trigger.protocol == "sns":
        permission = template.add(
            f"{p}TopicPermission",
            _permission(invoked, "sns.amazonaws.com", {"SourceArn": trigger.arn}),
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
                    "Endpoint": invoked.arn,
                },
            },
            group,
        )
    elif trigger.protocol == "scheduler":
        assert trigger.schedule is not None
        target: dict[str, Any] = {"Id": "function", "Arn": invoked.arn}
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
            _permission(invoked, "events.amazonaws.com", {"SourceArn": get_att(rule, "Arn")}),
            group,
        )
    elif trigger.protocol == "http":
        _add_api_routes(template, event, invoked)
    elif trigger.protocol == "httpLoadBalancer":
        assert trigger.routing is not None
        permission = template.add(
            f"{p}BalancerPermission",
            _permission(
                invoked,
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
                    "Targets": [{"Id": invoked.arn}],
                },
            },
            group,
        )
        add_rules(template, event, trigger.routing, target_group, priorities, p, group)


def _permission(invoked: _Invoked, principal: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": invoked.name,
            "Principal": principal,
            **source,
        },
    }
