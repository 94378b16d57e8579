"""The published JSON Schema of hybridless.yml (`hybridless schema`, hybridless/schema.json).

Editors complete and check the file with it, so it must say what the tool says: the same keys
at each place as hybridless.model.keys, the same ranges, patterns and choices as the model, and
every example must pass it.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from hybridless import model
from hybridless.cli import main
from hybridless.config.loader import Path_, load_document, parse_document
from hybridless.config.variables import resolve_variables
from hybridless.errors import ConfigError
from hybridless.model import Overrides, build_app, keys
from hybridless.model import deployment as model_deployment
from hybridless.model import events as model_events
from hybridless.model import images as model_images
from hybridless.schema import schema

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(REPO.glob("examples/*/hybridless.yml"))
# What the examples read with ${env:...} and no fallback. A new example that needs another
# variable fails below naming it: add it here.
EXAMPLE_ENV = {
    "VPC_ID": "vpc-0123456789abcdef0",
    "SUBNET_A": "subnet-0123456789abcdef0",
    "SUBNET_B": "subnet-0123456789abcdef1",
    "SECURITY_GROUP_ID": "sg-0123456789abcdef0",
    "CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978",
}

SCHEMA = schema()
VALIDATOR = Draft7Validator(SCHEMA)
DEFINITIONS: dict[str, Any] = SCHEMA["definitions"]


def deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = DEFINITIONS[node["$ref"].removeprefix("#/definitions/")]
    return node


def expand(node: Any) -> Iterator[dict[str, Any]]:
    """The schema and what it combines (allOf/anyOf/oneOf, through $ref); not if/then, which
    only narrow what the schema itself says."""
    node = deref(node)
    if not isinstance(node, dict):
        return
    yield node
    for combinator in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(combinator, ()):
            yield from expand(branch)


def event_kinds() -> dict[str, dict[str, Any]]:
    """eventType → the schema its if/then applies."""
    kinds = {}
    for rule in DEFINITIONS["event"]["allOf"]:
        kind = rule["if"]["properties"]["eventType"]["const"]
        kinds[kind] = deref(rule["then"])
    return kinds


def schemas_at(path: tuple[str | int, ...], doc: Any = None) -> list[Any]:
    """The schemas for the value at `path` of a hybridless.yml: a name is a key or an entry of a
    map ("*" for any), an int a list item. An event takes the schema of its type, read from
    `doc` (without `doc`, the path must stop at the event)."""
    nodes: list[Any] = [SCHEMA]
    for depth, part in enumerate(path):
        found = []
        for node in nodes:
            for branch in expand(node):
                if isinstance(part, int):
                    sub = branch.get("items")
                else:
                    sub = branch.get("properties", {}).get(part, branch.get("additionalProperties"))
                if isinstance(sub, dict):
                    found.append(sub)
        nodes = found
        if path[depth - 1 : depth] == ("events",) and doc is not None:
            event = doc
            for key in path[: depth + 1]:
                event = event[key]
            nodes = [event_kinds()[event["eventType"]]]
    return nodes


def property_sets(path: tuple[str | int, ...]) -> set[frozenset[str]]:
    return {
        frozenset(branch["properties"])
        for node in schemas_at(path)
        for branch in expand(node)
        if "properties" in branch
    }


def closed(path: tuple[str | int, ...]) -> bool:
    branches = [b for node in schemas_at(path) for b in expand(node) if "properties" in b]
    return bool(branches) and all(b.get("additionalProperties") is False for b in branches)


def errors(data: Any) -> list[tuple[list[str | int], str | None]]:
    return [
        (list(error.absolute_path), str(error.validator)) for error in VALIDATOR.iter_errors(data)
    ]


# --- the schema itself --------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_07_schema() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] and SCHEMA["title"] and SCHEMA["description"]


def test_schema_returns_a_fresh_copy() -> None:
    first = schema()
    first["title"] = "changed"
    assert schema()["title"] == "hybridless.yml"


def test_the_package_ships_the_schema_file() -> None:
    """The image installs the package with pip: a data file it does not declare is left out."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "schema.json" in setuptools["package-data"]["hybridless"]


# --- the same keys as the model ------------------------------------------------------------------

PLACES = {
    (): keys.TOP,
    ("provider",): keys.PROVIDER,
    ("provider", "deploymentBucket"): keys.DEPLOYMENT_BUCKET,
    ("provider", "iam"): keys.IAM,
    ("provider", "iam", "role"): keys.IAM_ROLE,
    ("provider", "rollbackConfiguration"): keys.ROLLBACK,
    ("hybridless",): keys.HYBRIDLESS,
    ("hybridless", "images", "*"): keys.IMAGE,
    ("hybridless", "functions", "*"): keys.FUNCTION,
    ("hybridless", "functions", "*", "package"): keys.PACKAGE,
    ("resources",): keys.RESOURCES,
}


@pytest.mark.parametrize("path", sorted(PLACES), ids=lambda p: ".".join(map(str, p)) or "top")
def test_the_keys_at_each_place_are_the_model_s(path: tuple[str, ...]) -> None:
    assert property_sets(path) == {PLACES[path]}
    assert closed(path), "unknown keys must be refused, as the model refuses them"


def test_the_network_is_an_existing_one_or_a_new_one() -> None:
    path = ("provider", "vpc")
    assert property_sets(path) == {keys.EXISTING_VPC, keys.NEW_VPC}
    assert closed(path)
    (vpc,) = schemas_at(path)
    assert [set(deref(branch)["required"]) for branch in vpc["oneOf"]] == [
        {"vpcId", "subnetIds"},
        {"cidr", "subnets"},
    ]


@pytest.mark.parametrize("kind", sorted(keys.EVENTS))
def test_each_event_type_takes_the_model_s_keys(kind: str) -> None:
    event = event_kinds()[kind]
    assert set(event["properties"]) == keys.EVENTS[kind]
    assert event["additionalProperties"] is False
    assert event["properties"]["eventType"]["const"] == kind
    assert not keys.NOT_YET[kind] & set(event["properties"]), "refused keys stay out"


def test_the_event_types_are_the_model_s() -> None:
    assert set(event_kinds()) == set(keys.EVENTS)
    assert set(DEFINITIONS["event"]["properties"]["eventType"]["enum"]) == set(keys.EVENTS)
    assert DEFINITIONS["event"]["required"] == ["eventType"]


@pytest.mark.parametrize("kind", sorted(k for k in keys.EVENTS if "routes" in keys.EVENTS[k]))
def test_routes_take_the_model_s_keys(kind: str) -> None:
    routes = [s for s in expand(event_kinds()[kind]["properties"]["routes"]) if "items" in s]
    assert {frozenset(deref(s["items"])["properties"]) for s in routes} == {keys.ROUTE}
    assert all(deref(s["items"])["additionalProperties"] is False for s in routes)


@pytest.mark.parametrize("kind", sorted(k for k in keys.EVENTS if "autoScale" in keys.EVENTS[k]))
def test_auto_scaling_takes_the_model_s_keys(kind: str) -> None:
    autoscale = event_kinds()[kind]["properties"]["autoScale"]
    branches = [b for b in expand(autoscale) if "properties" in b]
    assert {frozenset(b["properties"]) for b in branches} == {keys.AUTOSCALE}
    assert all(b["additionalProperties"] is False for b in branches)


DEPLOYMENT_KEYS = {
    "httpd": keys.ECS_DEPLOYMENT,
    "process": keys.ECS_DEPLOYMENT,
    "lambdaContainer": keys.FUNCTION_DEPLOYMENT,
    "lambda": keys.FUNCTION_DEPLOYMENT,
}


@pytest.mark.parametrize("kind", sorted(k for k in keys.EVENTS if "deployment" in keys.EVENTS[k]))
def test_deployment_takes_the_model_s_keys(kind: str) -> None:
    deployment = event_kinds()[kind]["properties"]["deployment"]
    branches = [b for b in expand(deployment) if "properties" in b]
    assert {frozenset(b["properties"]) for b in branches} == {DEPLOYMENT_KEYS[kind]}
    assert all(b["additionalProperties"] is False for b in branches)
    hooks = [b for b in expand(branches[0]["properties"]["hooks"]) if "properties" in b]
    assert {frozenset(b["properties"]) for b in hooks} == {keys.HOOKS}
    assert all(b["additionalProperties"] is False for b in hooks)


def test_the_events_that_take_a_deployment_are_the_model_s() -> None:
    assert set(DEPLOYMENT_KEYS) == {k for k in keys.EVENTS if "deployment" in keys.EVENTS[k]}


def test_keys_the_tool_refuses_for_now_are_not_offered() -> None:
    refused = set().union(*keys.NOT_YET.values())
    offered = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            offered.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)
    assert not refused & offered


def test_every_property_has_a_description() -> None:
    missing = []

    def described(node: Any) -> bool:
        return any("description" in branch for branch in [node, deref(node)])

    def walk(node: Any, where: str, conditional: bool) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if not conditional and not described(sub):
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}", conditional or key in ("if", "then", "else"))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]", conditional)

    walk(SCHEMA, "#", conditional=False)
    assert missing == []


# --- the same values as the model ----------------------------------------------------------------


def patterns(path: tuple[str | int, ...], doc: Any = None) -> set[str]:
    """The patterns a value (or each item of a list) at `path` must match, besides the
    ${...} variable an editor may show instead."""
    variables = {DEFINITIONS[name]["pattern"] for name in ("variable", "textWithVariable")}
    found = set()
    for node in schemas_at(path, doc):
        for branch in expand(node):
            if "pattern" in branch:
                found.add(branch["pattern"])
            if "items" in branch:
                found |= {b["pattern"] for b in expand(branch["items"]) if "pattern" in b}
    return found - variables


FUNCTION = ("hybridless", "functions", "*")
EVENT_DOC = {
    "hybridless": {
        "functions": {
            "Web": {"events": [{"eventType": "httpd"}]},
            "Fn": {"events": [{"eventType": "lambda"}]},
        }
    }
}
HTTPD: Path_ = ("hybridless", "functions", "Web", "events", 0)
LAMBDA: Path_ = ("hybridless", "functions", "Fn", "events", 0)


def test_names_and_arns_have_the_model_s_patterns() -> None:
    names = DEFINITIONS["hybridless"]["properties"]
    assert names["functions"]["propertyNames"]["pattern"] == model_events.FUNCTION_NAME.pattern
    assert names["images"]["propertyNames"]["pattern"] == model.IMAGE_ID.pattern
    assert patterns(("service",)) == {model.SERVICE_NAME.pattern}
    assert patterns(("provider", "stage")) == {model.STAGE_NAME.pattern}
    assert patterns(("provider", "rollbackConfiguration", "alarms")) == {model.ALARM_ARN.pattern}
    assert patterns((*FUNCTION, "ecsClusterArn")) == {model_events.CLUSTER_ARN.pattern}
    assert patterns((*FUNCTION, "albListenerArn")) == {model_events.LISTENER_ARN.pattern}
    assert patterns((*HTTPD, "imageId"), EVENT_DOC) == {model.IMAGE_ID.pattern}
    assert patterns((*HTTPD, "certificateArns"), EVENT_DOC) == {
        model_events.CERTIFICATE_ARN.pattern
    }
    assert patterns((*LAMBDA, "runtime"), EVENT_DOC) == {model_events.LAMBDA_RUNTIME.pattern}
    hook_patterns = {model_deployment.HOOK_ARN.pattern, model_deployment.HOOK_NAME.pattern}
    for event in (HTTPD, LAMBDA):
        for hook in sorted(keys.HOOKS):
            assert patterns((*event, "deployment", "hooks", hook), EVENT_DOC) == hook_patterns


def enum_of(node: Any) -> list[Any]:
    return next(b["enum"] for b in expand(node) if "enum" in b)


def test_choices_are_the_model_s() -> None:
    provider = DEFINITIONS["provider"]["properties"]
    assert set(model.DEPLOYMENT_METHODS) <= set(enum_of(provider["deploymentMethod"]))
    assert enum_of(provider["logRetentionInDays"]) == list(model.LOG_RETENTION_DAYS)
    lambda_event = event_kinds()["lambda"]["properties"]
    assert enum_of(lambda_event["protocol"]) == list(model_events.PROTOCOLS)
    assert enum_of(DEFINITIONS["httpAutoScale"]["properties"]["metric"]) == list(
        model_events.AUTOSCALE_METRICS
    )
    assert enum_of(DEFINITIONS["autoScale"]["properties"]["metric"]) == list(
        model_events.AUTOSCALE_METRICS[:2]
    )
    assert enum_of(DEFINITIONS["platform"]) == list(model_images.PLATFORMS)
    ecs = DEFINITIONS["ecsDeployment"]["properties"]["strategy"]
    assert enum_of(ecs) == list(model_deployment.ECS_STRATEGIES)
    function = DEFINITIONS["functionDeployment"]["properties"]["strategy"]
    assert enum_of(function) == list(model_deployment.FUNCTION_STRATEGIES)
    fargate = [
        rule["then"]["properties"]["cpu"]
        for rule in event_kinds()["httpd"]["allOf"]
        if "cpu" in rule.get("then", {}).get("properties", {})
    ]
    assert [enum_of(cpu) for cpu in fargate] == [sorted(model_events.FARGATE_MEMORY)]


# A document both accept; each integer below is tried at the schema's bounds and one beyond.
RANGE_DOC: dict[str, Any] = {
    "service": "shop",
    "provider": {
        "region": "eu-west-1",
        "vpc": {"vpcId": "vpc-1", "subnetIds": ["subnet-a", "subnet-b"]},
        "deploymentBucket": {"name": "artifacts"},
        "rollbackConfiguration": {"monitoringTimeInMinutes": 5},
    },
    "hybridless": {
        "functions": {
            "Web": {
                "ecsClusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/apps",
                "events": [
                    {
                        "eventType": "httpd",
                        "runtime": "container",
                        "ec2LaunchType": True,  # no Fargate memory/cpu pairing in the way
                        "healthCheckInterval": 300,
                        "healthCheckTimeout": 2,
                        "routes": [{"path": "/x", "priority": 5}],
                        "autoScale": {"min": 0, "max": 1000, "metric": "cpu"},
                        "deployment": {
                            "strategy": "canary",
                            "canaryPercent": 10,
                            "intervalMinutes": 5,
                            "bakeTimeMinutes": 10,
                            "testListenerPort": 8443,
                        },
                    },
                    {
                        "eventType": "scheduledTask",
                        "runtime": "container",
                        "ec2LaunchType": True,
                        "schedulerRate": "rate(1 hour)",
                    },
                    {
                        "eventType": "process",
                        "runtime": "container",
                        "ec2LaunchType": True,
                        "deployment": {"minimumHealthyPercent": 50, "maximumPercent": 150},
                    },
                    {
                        "eventType": "httpd",
                        "runtime": "container",
                        "ec2LaunchType": True,
                        "routes": [{"path": "/y", "priority": 6}],
                        "deployment": {"strategy": "linear", "linearPercent": 20},
                    },
                    {
                        # requests per target: with a rolling deployment only
                        "eventType": "httpd",
                        "runtime": "container",
                        "ec2LaunchType": True,
                        "routes": [{"path": "/z", "priority": 7}],
                        "autoScale": {"min": 0, "max": 1000, "metric": "requests"},
                    },
                ],
            },
            "Fn": {
                "handler": "app.handler",
                "events": [
                    {
                        "eventType": "lambda",
                        "runtime": "python3.12",
                        "deployment": {"strategy": "canary", "percentage": 10},
                    }
                ],
            },
        }
    },
}
WEB: Path_ = ("hybridless", "functions", "Web")
RANGES: list[Path_] = [
    ("provider", "deploymentBucket", "keepDeployments"),
    ("provider", "rollbackConfiguration", "monitoringTimeInMinutes"),
    (*WEB, "memory"),
    ("hybridless", "functions", "Fn", "timeout"),
    *[
        (*WEB, "events", 0, key)
        for key in (
            "cpu",
            "concurrency",
            "port",
            "deregistrationDelay",
            "healthCheckInterval",
            "healthCheckTimeout",
            "healthCheckHealthyCount",
            "healthCheckUnhealthyCount",
        )
    ],
    (*WEB, "events", 0, "routes", 0, "priority"),
    (*WEB, "events", 4, "autoScale", "min"),
    (*WEB, "events", 4, "autoScale", "max"),
    (*WEB, "events", 4, "autoScale", "targetValue"),
    (*WEB, "events", 1, "concurrency"),
    *[
        (*WEB, "events", 0, "deployment", key)
        for key in ("canaryPercent", "intervalMinutes", "bakeTimeMinutes", "testListenerPort")
    ],
    (*WEB, "events", 2, "deployment", "minimumHealthyPercent"),
    (*WEB, "events", 2, "deployment", "maximumPercent"),
    (*WEB, "events", 3, "deployment", "linearPercent"),
    ("hybridless", "functions", "Fn", "events", 0, "reservedConcurrency"),
    ("hybridless", "functions", "Fn", "events", 0, "deployment", "percentage"),
    ("hybridless", "functions", "Fn", "events", 0, "deployment", "intervalMinutes"),
    ("hybridless", "buildConcurrency"),
    ("hybridless", "keepPrevious"),
]


def model_accepts(tmp_path: Path, data: Any) -> bool:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    config = tmp_path / "hybridless.yml"
    doc = parse_document(yaml.safe_dump(data, sort_keys=False), str(config))
    try:
        build_app(doc, Overrides(), {})
    except ConfigError:
        return False
    return True


def with_value_in(doc: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(doc)
    parent: Any = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


def with_value(path: Path_, value: Any) -> dict[str, Any]:
    return with_value_in(RANGE_DOC, path, value)


def test_the_range_document_is_valid(tmp_path: Path) -> None:
    assert errors(RANGE_DOC) == []
    assert model_accepts(tmp_path, RANGE_DOC)


@pytest.mark.parametrize("path", RANGES, ids=lambda p: ".".join(map(str, p[2:] or p)))
def test_integer_ranges_are_the_model_s(tmp_path: Path, path: Path_) -> None:
    (node,) = map(deref, schemas_at(path, RANGE_DOC))
    low, high = node["minimum"], node["maximum"]
    values = (low, high, low - 1, high + 1)
    schema_says = tuple(not errors(with_value(path, value)) for value in values)
    model_says = tuple(model_accepts(tmp_path, with_value(path, value)) for value in values)
    assert schema_says == model_says == (True, True, False, False), values


@pytest.mark.parametrize(
    ("event", "key"), [(0, "canaryPercent"), (3, "linearPercent")], ids=["canary", "linear"]
)
def test_steps_are_whole_percentages_as_in_the_model(tmp_path: Path, event: int, key: str) -> None:
    """cfn-lint's multipleOf 0.1 check refuses about a third of the tenths (12.7, 33.3, 1.2)
    through floating-point error, so both take whole percentages only."""
    path = (*WEB, "events", event, "deployment", key)
    values: list[Any] = [3, 12, 33, 100, 12.7, 33.3, 1.2, 12.5, 3.5, "12"]
    schema_says = [not errors(with_value(path, value)) for value in values]
    model_says = [model_accepts(tmp_path, with_value(path, value)) for value in values]
    assert schema_says == model_says == [True] * 4 + [False] * 6


@pytest.mark.parametrize("strategy", ["blueGreen", "canary", "linear"])
def test_requests_per_target_with_a_traffic_shift_is_refused_as_in_the_model(
    tmp_path: Path, strategy: str
) -> None:
    """The request count is read from one target group, and a traffic shift moves the
    service to the alternate one every other deploy."""
    autoscale = (*WEB, "events", 4, "autoScale", "metric")
    data = with_value((*WEB, "events", 4, "deployment"), {"strategy": strategy})

    assert errors(data) == [(list(autoscale), "not")]
    assert not model_accepts(tmp_path, data)
    for metric in ("cpu", "memory"):
        fine = with_value_in(data, autoscale, metric)
        assert errors(fine) == []
        assert model_accepts(tmp_path, fine)


DEFAULTS_DOC: dict[str, Any] = {
    "service": "shop",
    "provider": {
        "region": "eu-west-1",
        "vpc": {"vpcId": "vpc-1", "subnetIds": ["subnet-a", "subnet-b"]},
        "deploymentBucket": {"name": "artifacts"},
        "rollbackConfiguration": {},
    },
    "hybridless": {
        "functions": {
            "Web": {
                "events": [
                    {"eventType": "httpd", "runtime": "container", "autoScale": {},
                     "deployment": {}},
                    {"eventType": "scheduledTask", "runtime": "container",
                     "schedulerRate": "rate(1 hour)"},
                ]
            },
            "Fn": {
                "handler": "app.handler",
                "events": [{"eventType": "lambda", "runtime": "python3.12", "deployment": {}}],
            },
        }
    },
}  # fmt: skip


def test_defaults_are_the_model_s(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    config = tmp_path / "hybridless.yml"
    doc = parse_document(yaml.safe_dump(DEFAULTS_DOC, sort_keys=False), str(config))
    app = build_app(doc, Overrides(), {})
    httpd, task, zipped = app.events
    assert isinstance(httpd, model.HttpdEvent) and httpd.autoscale
    assert isinstance(task, model.ScheduledTaskEvent) and isinstance(zipped, model.LambdaEvent)
    assert zipped.deployment is not None
    web, http = ("hybridless", "functions", "Web"), (*WEB, "events", 0)
    rollout, shift = (*http, "deployment"), ("hybridless", "functions", "Fn", "events", 0,
                                             "deployment")  # fmt: skip
    expected: dict[Path_, Any] = {
        ("provider", "stage"): app.stage,
        ("provider", "deploymentMethod"): app.deployment_method,
        ("provider", "deploymentBucket", "keepDeployments"): app.keep_deployments,
        ("provider", "rollbackConfiguration", "monitoringTimeInMinutes"): (
            app.rollback_monitoring_minutes
        ),
        ("provider", "logRetentionInDays"): httpd.log_retention_days,
        (*web, "memory"): httpd.task.memory,
        (*web, "albIsPrivate"): httpd.routing.listener.private,
        ("hybridless", "functions", "Fn", "timeout"): zipped.timeout,
        (*http, "cpu"): httpd.task.cpu,
        (*http, "ec2LaunchType"): httpd.task.ec2_launch_type,
        (*http, "dockerFile"): httpd.task.image.dockerfile,
        (*http, "concurrency"): httpd.concurrency,
        (*http, "port"): httpd.port,
        (*http, "deregistrationDelay"): httpd.deregistration_delay,
        (*http, "healthCheckRoute"): httpd.health.path,
        (*http, "healthCheckInterval"): httpd.health.interval,
        (*http, "healthCheckTimeout"): httpd.health.timeout,
        (*http, "healthCheckHealthyCount"): httpd.health.healthy_count,
        (*http, "healthCheckUnhealthyCount"): httpd.health.unhealthy_count,
        (*http, "healthCheckStatusCode"): httpd.health.status_code,
        (*http, "autoScale", "min"): httpd.autoscale.min,
        (*http, "autoScale", "metric"): httpd.autoscale.metric,
        (*rollout, "strategy"): httpd.deployment.strategy,
        (*rollout, "minimumHealthyPercent"): httpd.deployment.minimum_healthy_percent,
        (*rollout, "maximumPercent"): httpd.deployment.maximum_percent,
        (*rollout, "circuitBreaker"): httpd.deployment.circuit_breaker,
        (*rollout, "canaryPercent"): httpd.deployment.canary_percent,
        (*rollout, "linearPercent"): httpd.deployment.linear_percent,
        (*rollout, "intervalMinutes"): httpd.deployment.interval_minutes,
        (*shift, "strategy"): zipped.deployment.strategy,
        (*shift, "percentage"): zipped.deployment.percentage,
        (*shift, "intervalMinutes"): zipped.deployment.interval_minutes,
        (*web, "events", 1, "concurrency"): task.task_count,
        ("hybridless", "functions", "Fn", "events", 0, "protocol"): zipped.trigger.protocol,
        ("hybridless", "buildConcurrency"): app.build_concurrency,
        ("hybridless", "keepPrevious"): app.keep_previous,
    }
    defaults = {path: deref(schemas_at(path, DEFAULTS_DOC)[0])["default"] for path in expected}
    assert defaults == expected


IMAGE_DOC: dict[str, Any] = {
    "service": "shop",
    "provider": {"region": "eu-west-1"},
    "hybridless": {
        "functions": {
            "Fn": {
                "handler": "src/app.handler",
                "events": [{"eventType": "lambdaContainer", "runtime": "nodejs22"}],
            }
        }
    },
}
FN_PATH: Path_ = ("hybridless", "functions", "Fn")
IMAGE_EVENT: Path_ = (*FN_PATH, "events", 0)


def agree(tmp_path: Path, path: Path_, values: list[Any]) -> None:
    """The schema and the model accept the same of `values` at `path` of IMAGE_DOC, and
    each accepts some and refuses some."""
    schema_says = {repr(v): not errors(with_value_in(IMAGE_DOC, path, v)) for v in values}
    model_says = {
        repr(v): model_accepts(tmp_path, with_value_in(IMAGE_DOC, path, v)) for v in values
    }
    assert schema_says == model_says
    assert set(schema_says.values()) == {True, False}


def test_the_image_document_is_valid(tmp_path: Path) -> None:
    assert errors(IMAGE_DOC) == []
    assert model_accepts(tmp_path, IMAGE_DOC)


def test_runtimes_of_container_events_are_the_model_s(tmp_path: Path) -> None:
    built_in = [f"{language}{version}" for language, versions in model_images.VERSIONS.items()
                for version in versions]  # fmt: skip
    assert enum_of(DEFINITIONS["event.containerRuntime"]) == ["container", *built_in]
    agree(
        tmp_path,
        (*IMAGE_EVENT, "runtime"),
        ["container", *built_in, "nodejs18.x", "nodejs24.x", "nodejs16", "nodejs21",
         "nodejs26", "nodejs22.y", "python3.8", "python3.14", "python3.12.x", "java21",
         "node22", "Container"],
    )  # fmt: skip


def test_handlers_of_built_in_runtimes_are_the_model_s(tmp_path: Path) -> None:
    agree(
        tmp_path,
        (*FN_PATH, "handler"),
        ["app.handler", "src/api.handler", "./src/api.handler", "lib/my-file.main",
         "index.$handler", "handler", "src/api", "api.1st", "/srv/api.handler",
         "../api.handler", "src/../../api.handler", "a..b/api.handler",
         "com.example.Handler::handleRequest"],
    )  # fmt: skip


def test_additional_file_targets_are_the_model_s(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("x\n", encoding="utf-8")
    targets = ["app.conf", "/app.conf", "conf/app.conf", "./conf/app.conf", "x/.", "..a/b",
               "a../b", "...", "", "/", ".", "./", "//", "..", "../x", "a/.."]  # fmt: skip
    agree(
        tmp_path,
        (*IMAGE_EVENT, "additionalDockerFiles"),
        [[{"from": "app.conf", "to": target}] for target in targets],
    )


def test_platforms_are_the_model_s(tmp_path: Path) -> None:
    agree(
        tmp_path,
        (*IMAGE_EVENT, "platform"),
        ["linux/amd64", "linux/arm64", "linux/arm/v7", "arm64", "Linux/ARM64", "windows/amd64"],
    )


@pytest.mark.parametrize(
    ("change", "path", "validator"),
    [
        (
            {"imageId": "app", "runtime": "container", "platform": "linux/arm64"},
            [*IMAGE_EVENT, "platform"],
            "not",
        ),
        (
            {"imageId": "app", "runtime": "container",
             "additionalDockerFiles": [{"from": "a", "to": "b"}]},
            [*IMAGE_EVENT, "additionalDockerFiles"],
            "not",
        ),
        ({"runtime": "container", "baseImage": "node:22"}, [*IMAGE_EVENT, "baseImage"], "not"),
        ({"runtime": "nodejs22", "dockerFile": "Dockerfile"}, [*IMAGE_EVENT, "dockerFile"], "not"),
        ({"runtime": "python3.12", "imageId": "app"}, [*IMAGE_EVENT, "imageId"], "not"),
        ({"additionalDockerFiles": [{"from": "a"}]},
         [*IMAGE_EVENT, "additionalDockerFiles", 0], "required"),
        ({"additionalDockerFiles": [{"from": "a", "to": "b", "mode": "0644"}]},
         [*IMAGE_EVENT, "additionalDockerFiles", 0], "additionalProperties"),
        ({"additionalDockerFiles": {"from": "a", "to": "b"}},
         [*IMAGE_EVENT, "additionalDockerFiles"], "type"),
    ],
    ids=[
        "platform with imageId",
        "additionalDockerFiles with imageId",
        "baseImage with runtime container",
        "dockerFile with a built-in runtime",
        "imageId with a built-in runtime",
        "a file without to",
        "a file with an unknown key",
        "files not a list",
    ],
)  # fmt: skip
def test_image_mistakes_are_refused_where_they_are(
    change: dict[str, Any], path: list[str | int], validator: str
) -> None:
    data = copy.deepcopy(IMAGE_DOC)
    data["hybridless"]["images"] = {"app": {}}
    data["hybridless"]["functions"]["Fn"]["events"][0].update(change)

    assert (path, validator) in errors(data), errors(data)


def test_a_built_in_runtime_needs_the_handler() -> None:
    data = copy.deepcopy(IMAGE_DOC)
    del data["hybridless"]["functions"]["Fn"]["handler"]

    assert errors(data) == [(list(FN_PATH), "required")]
    data["hybridless"]["functions"]["Fn"]["events"][0]["runtime"] = "container"
    assert errors(data) == []


# --- documents -----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_validates_once_resolved(config: Path) -> None:
    doc = load_document(config)
    try:
        resolved = resolve_variables(doc, {"stage": "dev"}, EXAMPLE_ENV)
    except ConfigError as err:
        pytest.fail(f"{err}\n(add the variables an example needs to EXAMPLE_ENV)")
    assert errors(resolved.data) == []


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_validates_as_an_editor_shows_it(config: Path) -> None:
    """Unresolved: `stage: ${opt:stage, 'dev'}` is no stage name yet, but must not be flagged."""
    assert errors(load_document(config).data) == []


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 1


MINIMAL = """\
service: shop
provider:
  region: eu-west-1
hybridless:
  functions:
    Api:
      handler: app.handler
      events:
        - {eventType: lambda, runtime: python3.12}
"""
API_EVENT = ("hybridless", "functions", "Api", "events", 0)


def second_event(keys: str) -> tuple[str, str]:
    """A change to MINIMAL adding a second event to Api, written as its flow-mapping keys."""
    return "python3.12}", "python3.12}\n        - {" + keys + "}"


def test_a_minimal_document_is_valid() -> None:
    assert errors(parse_document(MINIMAL, "x.yml").data) == []


@pytest.mark.parametrize(
    ("change", "path", "validator"),
    [
        (("provider:\n", "provider:\n  regoin: eu-west-1\n"), ["provider"], "additionalProperties"),
        (("eventType: lambda", "eventType: lambdaa"), [*API_EVENT, "eventType"], "enum"),
        (
            (
                "runtime: python3.12}",
                "runtime: python3.12}\n        - {eventType: process, "
                "runtime: container, cpu: 99999}",
            ),
            [*API_EVENT[:-1], 1, "cpu"],
            "maximum",
        ),
        (("service: shop\n", ""), [], "required"),
        (("service: shop", "service: Shop"), ["service"], "anyOf"),
        (
            ("python3.12}", "python3.12, deployment: {strategy: canary, canaryPercent: 10}}"),
            [*API_EVENT, "deployment"],
            "additionalProperties",
        ),
        (
            ("python3.12}", "python3.12, deployment: {strategy: blueGreen}}"),
            [*API_EVENT, "deployment", "strategy"],
            "anyOf",
        ),
        (
            ("python3.12}", "python3.12, deployment: {percentage: 20}}"),
            [*API_EVENT, "deployment", "percentage"],
            "not",
        ),
        (
            second_event("eventType: process, runtime: container, deployment: {strategy: canary}"),
            [*API_EVENT[:-1], 1, "deployment", "strategy"],
            "anyOf",
        ),
        (
            second_event(
                "eventType: process, runtime: container, deployment: {maximumPercent: 100}"
            ),
            [*API_EVENT[:-1], 1, "deployment", "maximumPercent"],
            "not",
        ),
        (
            second_event(
                "eventType: process, runtime: container, deployment: {testListenerPort: 8443}"
            ),
            [*API_EVENT[:-1], 1, "deployment", "testListenerPort"],
            "not",
        ),
        (
            second_event(
                "eventType: httpd, runtime: container, "
                "deployment: {strategy: blueGreen, testListenerPort: 443}"
            ),
            [*API_EVENT[:-1], 1, "deployment", "testListenerPort"],
            "not",
        ),
        (
            second_event(
                "eventType: httpd, runtime: container, "
                "deployment: {strategy: linear, canaryPercent: 5}"
            ),
            [*API_EVENT[:-1], 1, "deployment", "canaryPercent"],
            "not",
        ),
        (
            second_event(
                "eventType: httpd, runtime: container, "
                "deployment: {strategy: canary, canaryPercent: 12.7}"
            ),
            [*API_EVENT[:-1], 1, "deployment", "canaryPercent"],
            "type",
        ),
        (
            second_event(
                "eventType: httpd, runtime: container, "
                "deployment: {strategy: linear, linearPercent: 33.3}"
            ),
            [*API_EVENT[:-1], 1, "deployment", "linearPercent"],
            "type",
        ),
        (
            second_event(
                "eventType: httpd, runtime: container, autoScale: {metric: requests}, "
                "deployment: {strategy: blueGreen}"
            ),
            [*API_EVENT[:-1], 1, "autoScale", "metric"],
            "not",
        ),
        (
            second_event(
                "eventType: httpd, runtime: container, "
                "routes: [{path: /a}, {path: /b}], deployment: {strategy: canary}"
            ),
            [*API_EVENT[:-1], 1, "routes"],
            "maxItems",
        ),
        (
            ("python3.12}", "python3.12, deployment: {alarms: [arn:aws:cloudwatch:x]}}"),
            [*API_EVENT, "deployment", "alarms"],
            "anyOf",
        ),
        (("python3.12}", "python3.12, protocol: sqs}"), list(API_EVENT), "required"),
        (("python3.12}", "python3.12, routes: [{path: /x}]}"), [*API_EVENT, "routes"], "not"),
        (("      handler: app.handler\n", ""), ["hybridless", "functions", "Api"], "required"),
        (("    Api:", "    my-api:"), ["hybridless", "functions"], "pattern"),
    ],
    ids=[
        "unknown key under provider",
        "wrong eventType",
        "cpu out of range",
        "missing service",
        "service name",
        "an ECS deployment key on a lambda event",
        "an ECS strategy on a lambda event",
        "percentage with allAtOnce",
        "a traffic shift on a process event",
        "no room to replace a task",
        "a test listener with rolling",
        "a test listener on 443",
        "canaryPercent with linear",
        "canaryPercent in tenths",
        "linearPercent in tenths",
        "requests per target with a traffic shift",
        "a traffic shift with two routes",
        "an alarm ARN",
        "sqs without a queue",
        "routes without protocol http",
        "lambda without handler",
        "function name",
    ],
)
def test_mistakes_are_refused_where_they_are(
    change: tuple[str, str], path: list[str | int], validator: str
) -> None:
    old, new = change
    assert old in MINIMAL
    found = errors(parse_document(MINIMAL.replace(old, new, 1), "x.yml").data)
    assert (path, validator) in found, found


# --- hybridless schema ---------------------------------------------------------------------------


def test_the_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["schema"])

    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out) == schema()
    assert out.startswith('{\n  "$schema"')


def test_the_schema_command_s_help_explains_the_editor_setup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["schema", "--help"])

    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "# yaml-language-server: $schema=" in out
    assert "hybridless schema > .hybridless.schema.json" in out
