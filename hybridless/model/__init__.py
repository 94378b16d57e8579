"""hybridless.yml, resolved, into an `App`: defaults applied once, every problem reported.

`build_app` reads the provider and the shared parts here and hands each function to
`hybridless.model.events`. Problems are collected with file, line and key and raised together
as one `ConfigError`, so a single run shows all of them. Rules that span functions (route
priorities per listener, image repositories, what needs a network) are checked last, on the
typed events, where they are simple.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridless.config.loader import Document, Path_, dotted
from hybridless.errors import ConfigError, Problem
from hybridless.model import keys
from hybridless.model.deployment import check_deployments
from hybridless.model.events import FunctionContext, read_function
from hybridless.model.images import check_dockerfile, read_build
from hybridless.model.listeners import assign_priorities, check_routes, routed
from hybridless.model.reader import LOG_RETENTION_DAYS, Reader
from hybridless.model.types import (
    App,
    AutoScale,
    BuiltinRuntime,
    EcsDeployment,
    EcsTask,
    Event,
    FileCopy,
    FunctionDeployment,
    HealthCheck,
    Hooks,
    HttpdEvent,
    Image,
    LambdaContainerEvent,
    LambdaEvent,
    Listener,
    NewVpc,
    Overrides,
    ProcessEvent,
    RawResources,
    Route,
    Routing,
    ScheduledTaskEvent,
    Trigger,
    Vpc,
    ZipCode,
    image_of,
)

__all__ = [
    "LOG_RETENTION_DAYS",
    "App",
    "AutoScale",
    "BuiltinRuntime",
    "EcsDeployment",
    "EcsTask",
    "Event",
    "FileCopy",
    "FunctionDeployment",
    "HealthCheck",
    "Hooks",
    "HttpdEvent",
    "Image",
    "LambdaContainerEvent",
    "LambdaEvent",
    "Listener",
    "NewVpc",
    "Overrides",
    "ProcessEvent",
    "RawResources",
    "Route",
    "Routing",
    "ScheduledTaskEvent",
    "Trigger",
    "Vpc",
    "ZipCode",
    "assign_priorities",
    "build_app",
]

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
STAGE_NAME = re.compile(r"^[a-zA-Z0-9-]{1,16}$")
IMAGE_ID = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
LOGICAL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
ALARM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")
DEPLOYMENT_METHODS = ("changeset", "direct")
DEFAULT_LOG_RETENTION = 30
ECS_EVENT_TYPES = {
    HttpdEvent: "httpd",
    ProcessEvent: "process",
    ScheduledTaskEvent: "scheduledTask",
}


def build_app(doc: Document, overrides: Overrides, environ: Mapping[str, str]) -> App:
    """The `App` the document describes, or a `ConfigError` listing every problem."""
    r = Reader(doc)
    if doc.data is None:
        # a file of nothing but comments has no line to point at; `~` or `null` has one
        raise ConfigError(
            [Problem(doc.file, doc.line(()), "", "is empty: expected service, provider and "
                     "hybridless")]
        )  # fmt: skip
    r.mapping((), required=True)
    r.keys((), keys.TOP)
    service = (
        r.string(
            ("service",),
            pattern=SERVICE_NAME,
            required=True,
            rule="must be lowercase letters, digits and dashes, starting with a letter (max 40)",
        )
        or "invalid"
    )

    provider = ("provider",)
    r.mapping(provider)
    r.keys(provider, keys.PROVIDER)
    stage = (
        overrides.stage
        or r.string(
            (*provider, "stage"),
            default="dev",
            pattern=STAGE_NAME,
            rule="must be letters, digits and dashes (at most 16)",
        )
        or "dev"
    )
    if overrides.stage and not STAGE_NAME.match(overrides.stage):
        r.fail((), f"--stage {overrides.stage!r} must be letters, digits and dashes (at most 16)")
    region = (
        overrides.region
        or r.string((*provider, "region"))
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        r.fail(provider, "no region: set provider.region, --region or AWS_REGION")
    stack_name = overrides.stack_name or r.string((*provider, "stackName")) or f"{service}-{stage}"
    method = overrides.deployment_method or r.string(
        (*provider, "deploymentMethod"), default="changeset"
    )
    if method == "changesets":
        method = "changeset"
    if method not in DEPLOYMENT_METHODS:
        r.fail((*provider, "deploymentMethod"), f"{method!r} must be one of changeset, direct")
        method = "changeset"
    bucket, keep = _deployment_bucket(r, (*provider, "deploymentBucket"))
    vpc = _network(r, (*provider, "vpc"))
    alarms, monitoring = _rollback(r, (*provider, "rollbackConfiguration"))
    retention = r.retention((*provider, "logRetentionInDays"), DEFAULT_LOG_RETENTION)

    hyb = ("hybridless",)
    r.mapping(hyb, required=True)
    r.keys(hyb, keys.HYBRIDLESS, keys.NOT_YET["hybridless"])
    tags = (*r.pairs((*provider, "tags")), *r.pairs((*hyb, "tags")))
    build_concurrency = r.integer((*hyb, "buildConcurrency"), 2, 1, 16)
    keep_previous = r.integer((*hyb, "keepPrevious"), 1, 0, 50)
    base_dir = Path(doc.file).resolve().parent
    shared = _shared_images(r, (*hyb, "images"), service, stage, base_dir, overrides.build_args)
    functions = r.mapping((*hyb, "functions"), required=True)
    if not functions and r.get((*hyb, "functions")) is not None:
        r.fail((*hyb, "functions"), "must name at least one function")

    context = FunctionContext(
        service=service,
        stage=stage,
        base_dir=base_dir,
        provider_environment=r.pairs((*provider, "environment"), intrinsics=True),
        build_args=overrides.build_args,
        shared_images=shared,
        log_retention_days=retention,
    )
    events: list[Event] = []
    for name in functions:
        events.extend(read_function(r, (*hyb, "functions", name), name, context))
    check_routes(r, events)
    check_deployments(r, events)
    _check_network(r, events, vpc)
    _check_repositories(r, events, shared)
    if isinstance(vpc, NewVpc):
        for event in events:
            if isinstance(event, HttpdEvent | ProcessEvent | ScheduledTaskEvent) and (
                event.task.ec2_launch_type
            ):
                r.fail(
                    ("hybridless", "functions", event.function, "events", event.index,
                     "ec2LaunchType"),
                    "EC2 instances of an existing cluster cannot be in a network this stack "
                    "creates: use provider.vpc with vpcId and subnetIds",
                )  # fmt: skip
    statements = _iam_statements(r, (*provider, "iam"))
    resources = _raw_resources(r, ("resources",))
    protection = r.boolean((*provider, "terminationProtection"))

    if r.problems:
        raise ConfigError(sorted(r.problems, key=lambda p: p.line or 0))
    assert region is not None and method is not None
    return App(
        service=service,
        stage=stage,
        region=region,
        stack_name=stack_name,
        config_file=Path(doc.file),
        deployment_method=method,
        deployment_bucket=bucket,
        keep_deployments=keep,
        keep_previous=keep_previous,
        build_concurrency=build_concurrency,
        tags=tuple(dict(tags).items()),
        vpc=vpc,
        events=tuple(events),
        termination_protection=protection,
        rollback_alarms=alarms,
        rollback_monitoring_minutes=monitoring,
        iam_statements=statements,
        resources=resources,
    )


def _deployment_bucket(r: Reader, path: Path_) -> tuple[str | None, int]:
    value = r.get(path)
    if isinstance(value, str):
        return value, 5
    r.mapping(path)
    r.keys(path, keys.DEPLOYMENT_BUCKET)
    return r.string((*path, "name")), r.integer((*path, "keepDeployments"), 5, 1, 1000)


def _rollback(r: Reader, path: Path_) -> tuple[tuple[str, ...], int]:
    r.mapping(path)
    r.keys(path, keys.ROLLBACK)
    alarms = r.strings((*path, "alarms"))
    for index, arn in enumerate(alarms):
        if not ALARM_ARN.match(arn):
            r.fail((*path, "alarms", index), f"{arn!r} is not a CloudWatch alarm ARN")
    if len(alarms) > 5:
        r.fail((*path, "alarms"), "CloudFormation takes at most 5 rollback triggers")
    return alarms, r.integer((*path, "monitoringTimeInMinutes"), 0, 0, 180)


def _network(r: Reader, path: Path_) -> Vpc | NewVpc | None:
    value = r.get(path)
    if value is None:
        return None
    if not r.mapping(path):
        return None
    if "cidr" in value or "subnets" in value:
        return _new_network(r, path)
    r.keys(path, keys.EXISTING_VPC, keys.NEW_VPC)
    vpc_id = r.string((*path, "vpcId"), required=True)
    subnets = r.strings((*path, "subnetIds"), required=True)
    return Vpc(
        vpc_id=vpc_id or "",
        subnet_ids=subnets,
        security_group_ids=r.strings((*path, "securityGroupIds")),
        alb_subnet_ids=r.strings((*path, "albSubnetIds")) or subnets,
    )


def _new_network(r: Reader, path: Path_) -> NewVpc | None:
    existing = sorted(keys.EXISTING_VPC & set(r.mapping(path)))
    for key in existing:
        r.fail((*path, key), "an existing network (vpcId, ...) and a new one (cidr) exclude "
               "each other")  # fmt: skip
    r.keys(path, keys.NEW_VPC | keys.EXISTING_VPC)
    cidr_text = r.string((*path, "cidr"), required=True)
    subnet_texts = r.strings((*path, "subnets"), required=True)
    try:
        network = ipaddress.IPv4Network(cidr_text or "", strict=True)
    except ValueError as err:
        if cidr_text:
            r.fail((*path, "cidr"), f"{cidr_text!r} is not a network: {err}")
        return None
    if not 16 <= network.prefixlen <= 28:
        r.fail((*path, "cidr"), f"{cidr_text}: a VPC takes an IPv4 block from /16 to /28")
    if len(subnet_texts) == 1:
        r.fail((*path, "subnets"), "give at least two subnets: a load balancer spans two zones")
    seen: list[ipaddress.IPv4Network] = []
    for index, text in enumerate(subnet_texts):
        try:
            subnet = ipaddress.IPv4Network(text, strict=True)
        except ValueError as err:
            r.fail((*path, "subnets", index), f"{text!r} is not a network: {err}")
            continue
        if not subnet.subnet_of(network):
            r.fail((*path, "subnets", index), f"{text} is not inside {network}")
        elif any(subnet.overlaps(other) for other in seen):
            r.fail((*path, "subnets", index), f"{text} overlaps another subnet")
        seen.append(subnet)
    return NewVpc(cidr=str(network), subnets=subnet_texts)


def _shared_images(
    r: Reader,
    path: Path_,
    service: str,
    stage: str,
    base_dir: Path,
    build_args: tuple[tuple[str, str], ...],
) -> dict[str, Image]:
    images: dict[str, Image] = {}
    for name in r.mapping(path):
        image_path = (*path, name)
        if not IMAGE_ID.match(name):
            r.fail(image_path, "image names are lowercase letters, digits and dashes (max 40)")
            continue
        r.mapping(image_path, required=True)
        r.keys(image_path, keys.IMAGE, keys.NOT_YET["image"])
        dockerfile, args, platform, copies = read_build(r, image_path, base_dir, build_args)
        check_dockerfile(r, image_path, base_dir, dockerfile)
        images[name] = Image(
            name=name,
            repository=f"{service}/{name}-{stage.lower()}",
            context=base_dir,
            dockerfile=dockerfile,
            build_args=args,
            platform=platform,
            copies=copies,
        )
    return images


def _iam_statements(r: Reader, path: Path_) -> tuple[dict[str, Any], ...]:
    r.mapping(path)
    r.keys(path, keys.IAM)
    r.mapping((*path, "role"))
    r.keys((*path, "role"), keys.IAM_ROLE)
    raw = r.get((*path, "role", "statements"))
    if raw is None:
        return ()
    if not isinstance(raw, list):
        r.fail((*path, "role", "statements"), "must be a list of IAM policy statements")
        return ()
    statements = []
    for index, statement in enumerate(raw):
        where = (*path, "role", "statements", index)
        if not isinstance(statement, dict):
            r.fail(where, "must be a mapping with Effect, Action and Resource")
            continue
        allowed = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        r.keys(where, allowed)
        if statement.get("Effect") not in ("Allow", "Deny"):
            r.fail((*where, "Effect"), "must be Allow or Deny")
        if ("Action" in statement) == ("NotAction" in statement):
            r.fail(where, "needs exactly one of Action and NotAction")
        if ("Resource" in statement) == ("NotResource" in statement):
            r.fail(where, "needs exactly one of Resource and NotResource")
        statements.append(statement)
    return tuple(statements)


def _raw_resources(r: Reader, path: Path_) -> RawResources | None:
    value = r.get(path)
    if value is None:
        return None
    r.mapping(path)
    r.keys(path, keys.RESOURCES)
    sections: dict[str, dict[str, Any]] = {}
    lines: dict[tuple[str, str], int] = {}
    for section in sorted(keys.RESOURCES & set(r.mapping(path))):
        entries = r.mapping((*path, section))
        for name, entry in entries.items():
            where = (*path, section, name)
            if not LOGICAL_ID.match(name):
                r.fail(where, "CloudFormation names are letters and digits only")
            if section == "Resources" and not (isinstance(entry, dict) and "Type" in entry):
                r.fail(where, "a resource needs a Type")
            if section == "Outputs" and not (isinstance(entry, dict) and "Value" in entry):
                r.fail(where, "an output needs a Value")
            lines[(section, name)] = r.line(where) or 0
        sections[section] = entries
    return RawResources(sections=sections, lines=lines, file=r.doc.file)


def _check_network(r: Reader, events: list[Event], vpc: Vpc | NewVpc | None) -> None:
    """ECS tasks run in a network; a load balancer needs subnets in two zones."""
    needs_network = [e for e in events if isinstance(e, HttpdEvent | ProcessEvent |
                                                     ScheduledTaskEvent)]  # fmt: skip
    given = r.get(("provider", "vpc")) is not None  # when wrong, its own problems say so
    if needs_network and not given:
        kinds = sorted({ECS_EVENT_TYPES[type(e)] for e in needs_network})
        r.fail(
            ("provider", "vpc"),
            f"ECS events ({', '.join(kinds)}) need a network: set provider.vpc to an existing "
            "one (vpcId, subnetIds) or to a new one (cidr, subnets)",
        )
    balanced = any(routing.listener.existing_arn is None for _event, routing in routed(events))
    if balanced and not given and not needs_network:
        r.fail(
            ("provider", "vpc"),
            "a load balancer for http routes needs a network: set provider.vpc",
        )
    if balanced and isinstance(vpc, Vpc) and vpc.subnet_ids and len(vpc.alb_subnet_ids) < 2:
        key = "albSubnetIds" if r.get(("provider", "vpc", "albSubnetIds")) else "subnetIds"
        r.fail(
            ("provider", "vpc", key),
            "the load balancer of http routes needs subnets in at least two zones",
        )


def _check_repositories(r: Reader, events: list[Event], shared: dict[str, Image]) -> None:
    """Two images may not land in one repository: repository names are lowercase, so
    functions `Worker` and `worker`, or a shared image named like a function, would."""
    owners: dict[str, Path_] = {
        image.repository: ("hybridless", "images", image.name) for image in shared.values()
    }
    for event in events:
        image = image_of(event)
        if image is None or image.name in shared:
            continue
        where: Path_ = ("hybridless", "functions", event.function)
        owner = owners.setdefault(image.repository, where)
        if owner[1] == "images":
            r.fail(
                owner,
                f"its repository {image.repository} is also the one of {image.name}; "
                "rename the image",
            )
        elif owner != where:
            r.fail(
                where,
                f"its image repository {image.repository} is also the one of {dotted(owner)}; "
                "rename one of them",
            )
