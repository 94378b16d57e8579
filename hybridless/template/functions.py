"""Lambda functions from container images (`lambdaContainer` events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridless.model import App
from hybridless.template.common import (
    Template,
    get_att,
    log_group,
    prefix,
    ref,
    resource_name,
    role,
)

FUNCTION_ROLE = "FunctionRole"


def add_container_functions(template: Template, app: App, images: Mapping[str, str]) -> None:
    if not app.lambda_events:
        return
    template.add(
        FUNCTION_ROLE,
        role("lambda.amazonaws.com", ["service-role/AWSLambdaBasicExecutionRole"]),
    )
    for event in app.lambda_events:
        p = prefix(event.function, event.index)
        name = resource_name(app, event.function, event.index)[:64]
        logs = template.add(f"{p}LogGroup", log_group(f"/aws/lambda/{name}"))
        properties: dict[str, Any] = {
            "FunctionName": name,
            "PackageType": "Image",
            "Code": {"ImageUri": images[event.image.name]},
            "Role": get_att(FUNCTION_ROLE, "Arn"),
            "MemorySize": event.memory,
            "Timeout": event.timeout,
        }
        if event.environment:
            properties["Environment"] = {"Variables": dict(event.environment)}
        if event.reserved_concurrency is not None:
            properties["ReservedConcurrentExecutions"] = event.reserved_concurrency
        function = template.add(
            f"{p}Function",
            {"Type": "AWS::Lambda::Function", "DependsOn": [logs], "Properties": properties},
        )
        template.output(f"{p}FunctionName", ref(function), f"{event.function}: function name")
        template.output(
            f"{p}FunctionArn", get_att(function, "Arn"), f"{event.function}: function ARN"
        )
