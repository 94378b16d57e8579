"""What every part of the template shares: the document being built, names and roles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hybridless.model import App
from hybridless.template.security import LOG_GROUP_KEY, waive

LAMBDA_ARN_PREFIX = ":lambda:"

SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass
class Template:
    """The flat template, plus which function each resource belongs to.

    The groups are what nested stacks are cut along: a function's resources always travel
    together, shared ones (cluster, load balancer, roles, network, the user's resources) stay
    in the root."""

    description: str
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    def add(self, logical_id: str, resource: dict[str, Any], group: str | None = None) -> str:
        if logical_id in self.resources:
            raise ValueError(f"two resources would be named {logical_id}")
        self.resources[logical_id] = resource
        if group:
            self.groups[logical_id] = group
        return logical_id

    def output(self, key: str, value: Any, description: str) -> None:
        self.outputs[key] = {"Description": description, "Value": value}

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.description,
        }
        for key, section in (
            ("Parameters", self.parameters),
            ("Conditions", self.conditions),
            ("Mappings", self.mappings),
            ("Resources", self.resources),
            ("Outputs", self.outputs),
        ):
            if section or key == "Resources":
                document[key] = section
        return document


def prefix(function: str, index: int) -> str:
    """The logical-id prefix of one event: the function's name, with the event's index when
    it is not the function's first event."""
    return function if index == 0 else f"{function}Event{index}"


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def managed_policy(name: str) -> dict[str, str]:
    return sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}")


def role(
    service_principal: str,
    managed_policies: list[str],
    statements: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    policy_name: str = "app",
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service_principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    }
    if managed_policies:
        properties["ManagedPolicyArns"] = [managed_policy(p) for p in managed_policies]
    if statements:
        properties["Policies"] = [
            {
                "PolicyName": policy_name,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


# What a function or a task needs to write its own log: streams, events, nothing else.
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]


def log_group(name: str, retention_days: int) -> dict[str, Any]:
    group = {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {"LogGroupName": name, "RetentionInDays": retention_days},
    }
    return waive(group, LOG_GROUP_KEY)


def environment_list(pairs: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
    return [{"Name": name, "Value": value} for name, value in pairs]


def resource_name(app: App, function: str, index: int) -> str:
    """A physical name for resources that need one, unique per stack."""
    return f"{app.stack_name}-{prefix(function, index)}"


def schedule_rule(
    schedule: str,
    description: str,
    target: dict[str, Any],
) -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": description,
            "ScheduleExpression": schedule,
            "State": "ENABLED",
            "Targets": [target],
        },
    }


def unique(values: Iterable[Any]) -> list[Any]:
    """The values once each, in first-seen order; they may be mappings (intrinsics)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


@dataclass(frozen=True)
class HookFunction:
    """A strategy's hook as the template needs it: its ARN (ECS takes that) and its name
    (CodeDeploy's alias update takes that)."""

    arn: Any
    name: str


def hook_function(app: App, target: str) -> HookFunction:
    """One of the app's own functions when `target` names one (its first Lambda event), else
    the function `target` names or is the ARN of, in this account and region."""
    for event in app.function_events:
        if event.function == target:
            logical_id = f"{prefix(event.function, event.index)}Function"
            return HookFunction(get_att(logical_id, "Arn"), function_name(app, event))
    if target.startswith("arn:"):
        return HookFunction(target, target.split(":function:", 1)[-1])
    return HookFunction(
        sub(
            f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{target}"
        ),
        target,
    )


def function_name(app: App, event: Any) -> str:
    """The physical name of a Lambda event's function (Lambda allows 64 characters)."""
    return resource_name(app, event.function, event.index)[:64]
