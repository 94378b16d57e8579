"""What every part of the template shares: the document being built, names and roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridless.model import App

LOG_RETENTION_DAYS = 30


@dataclass
class Template:
    description: str
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, logical_id: str, resource: dict[str, Any]) -> str:
        if logical_id in self.resources:
            raise ValueError(f"two resources would be named {logical_id}")
        self.resources[logical_id] = resource
        return logical_id

    def output(self, key: str, value: Any, description: str) -> None:
        self.outputs[key] = {"Description": description, "Value": value}

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.description,
            "Resources": self.resources,
        }
        if self.outputs:
            document["Outputs"] = self.outputs
        return document


def prefix(function: str, index: int) -> str:
    """The logical-id prefix of one event: the function's name, with the event's index when
    it is not the function's first event."""
    return function if index == 0 else f"{function}Event{index}"


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def managed_policy(name: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/{name}"}


def role(service_principal: str, managed_policies: list[str]) -> dict[str, Any]:
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
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def log_group(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": name, "RetentionInDays": LOG_RETENTION_DAYS},
    }


def environment_list(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in pairs]


def resource_name(app: App, function: str, index: int) -> str:
    """A physical name for resources that need one, unique per stack."""
    return f"{app.stack_name}-{prefix(function, index)}"
