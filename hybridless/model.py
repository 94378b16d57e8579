"""The application as typed, validated data: what every later stage reads instead of YAML.

`build_app` turns a resolved `Document` into an `App`. Defaults live here, once. Every problem
found is collected with its file, line and key, and reported together, so one run shows them
all. Keys that belong to the documented model but are not implemented yet are refused by name
rather than ignored: a silently ignored `deployment:` or `certificateArns:` would deploy
something other than what the user wrote.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridless.config.loader import Document, Path_, as_text, dotted, lookup
from hybridless.errors import ConfigError, Problem

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
STAGE_NAME = re.compile(r"^[a-zA-Z0-9-]{1,16}$")
FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
DEPLOYMENT_METHODS = ("changeset", "direct")

# Fargate's valid CPU units and, for each, the memory sizes (MiB) it accepts.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

ALARM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")

# Keys of the documented model (CONFIG.md) that this version refuses with a clear message.
NOT_YET = {
    "top": {"resources"},
    "provider": {"iam"},
    "hybridless": {"buildConcurrency", "tags", "images"},
    "function": {"handler", "ecsClusterArn", "albListenerArn", "albIsPrivate"},
    "httpd": {
        "ec2LaunchType",
        "hostname",
        "certificateArns",
        "autoScale",
        "deployment",
        "imageId",
    },
    "lambdaContainer": {
        "protocolArn",
        "schedulerRate",
        "deployment",
        "imageId",
    },
}
EVENT_TYPES_NOT_YET = ("process", "scheduledTask", "lambda")


@dataclass(frozen=True)
class Vpc:
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    alb_subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class Image:
    """One image to build and push; `name` is how outputs and the template refer to it."""

    name: str
    repository: str
    context: Path
    dockerfile: str
    build_args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    path: str
    method: str | None
    priority: int


@dataclass(frozen=True)
class HealthCheck:
    path: str
    interval: int
    timeout: int
    healthy_count: int
    unhealthy_count: int
    status_code: str


@dataclass(frozen=True)
class HttpdEvent:
    function: str
    index: int
    image: Image
    cpu: int
    memory: int
    concurrency: int
    port: int
    routes: tuple[Route, ...]
    health: HealthCheck
    deregistration_delay: int
    environment: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LambdaContainerEvent:
    function: str
    index: int
    image: Image
    memory: int
    timeout: int
    reserved_concurrency: int | None
    environment: tuple[tuple[str, str], ...]


Event = HttpdEvent | LambdaContainerEvent


@dataclass(frozen=True)
class App:
    service: str
    stage: str
    region: str
    stack_name: str
    config_file: Path
    deployment_method: str = "changeset"
    deployment_bucket: str | None = None
    keep_deployments: int = 5
    tags: tuple[tuple[str, str], ...] = ()
    vpc: Vpc | None = None
    events: tuple[Event, ...] = field(default_factory=tuple)
    termination_protection: bool | None = None  # None: leave the stack's setting as it is
    rollback_alarms: tuple[str, ...] = ()
    rollback_monitoring_minutes: int = 0

    @property
    def images(self) -> tuple[Image, ...]:
        return tuple(event.image for event in self.events)

    @property
    def httpd_events(self) -> tuple[HttpdEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, HttpdEvent))

    @property
    def lambda_events(self) -> tuple[LambdaContainerEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, LambdaContainerEvent))


@dataclass(frozen=True)
class Overrides:
    """What the command line says, which wins over the file."""

    stage: str | None = None
    region: str | None = None
    stack_name: str | None = None
    deployment_method: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()


class _Reader:
    """Typed access to the document that records a problem instead of raising."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def fail(self, path: Path_, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def get(self, path: Path_) -> Any:
        return lookup(self.doc.data, path)

    def mapping(self, path: Path_, required: bool = False) -> dict[str, Any]:
        value = self.get(path)
        if value is None:
            if required:
                self.fail(path, "is required")
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {_kind(value)}")
            return {}
        return value

    def keys(
        self, path: Path_, allowed: set[str], not_yet: frozenset[str] | set[str] = frozenset()
    ) -> None:
        value = self.get(path)
        for key in value if isinstance(value, dict) else ():
            if key in allowed:
                continue
            child = (*path, key)
            if key in not_yet:
                self.fail(child, "is part of the documented model but not supported yet")
                continue
            close = difflib.get_close_matches(key, sorted(allowed | set(not_yet)), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(child, f"unknown key{hint}")

    def string(
        self,
        path: Path_,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        required: bool = False,
    ) -> str | None:
        value = self.get(path)
        if value is None:
            if required:
                self.fail(path, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(path, f"must be a string, not {_kind(value)}")
            return default
        text = str(value)
        if pattern and not pattern.match(text):
            self.fail(path, f"{text!r} {rule}")
            return default
        return text

    def integer(self, path: Path_, default: int, low: int, high: int) -> int:
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be a whole number, not {_kind(value)}")
            return default
        if not low <= value <= high:
            self.fail(path, f"{value} is out of range ({low}..{high})")
            return default
        return value

    def boolean(self, path: Path_) -> bool | None:
        value = self.get(path)
        if value is None or isinstance(value, bool):
            return value
        self.fail(path, f"must be true or false, not {_kind(value)}")
        return None

    def strings(self, path: Path_, required: bool = False) -> tuple[str, ...]:
        value = self.get(path)
        if value is None:
            if required:
                self.fail(path, "is required")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(path, "must be a list of non-empty strings")
            return ()
        if required and not value:
            self.fail(path, "must not be empty")
        return tuple(value)

    def pairs(self, path: Path_) -> tuple[tuple[str, str], ...]:
        """A mapping of names to scalar values (environment variables, tags), as text."""
        out = []
        for key, value in self.mapping(path).items():
            if isinstance(value, dict | list) or value is None:
                self.fail((*path, key), "must be a string, number or boolean")
                continue
            out.append((key, as_text(value)))
        return tuple(out)


def _sizes(sizes: tuple[int, ...]) -> str:
    steps = {b - a for a, b in itertools.pairwise(sizes)}
    if len(sizes) <= 4 or len(steps) != 1:
        return ", ".join(map(str, sizes))
    return f"{sizes[0]}..{sizes[-1]} in steps of {steps.pop()}"


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _merge(*layers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return tuple(merged.items())


def build_app(doc: Document, overrides: Overrides, environ: Mapping[str, str]) -> App:
    """The `App` the document describes, or a `ConfigError` listing every problem."""
    r = _Reader(doc)
    if doc.data is None:
        raise ConfigError(
            [Problem(doc.file, None, "", "is empty: expected service, provider and hybridless")]
        )
    r.mapping((), required=True)
    r.keys((), {"service", "provider", "hybridless"}, NOT_YET["top"])
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
    r.keys(
        provider,
        {
            "region",
            "stage",
            "stackName",
            "deploymentBucket",
            "deploymentMethod",
            "tags",
            "environment",
            "vpc",
            "rollbackConfiguration",
            "terminationProtection",
        },
        NOT_YET["provider"],
    )
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

    bucket_path = (*provider, "deploymentBucket")
    bucket_value = r.get(bucket_path)
    bucket: str | None = None
    keep = 5
    if isinstance(bucket_value, str):
        bucket = bucket_value
    else:
        r.keys(bucket_path, {"name", "keepDeployments"})
        bucket = r.string((*bucket_path, "name"))
        keep = r.integer((*bucket_path, "keepDeployments"), 5, 1, 1000)

    vpc = _vpc(r, (*provider, "vpc"))
    rollback = (*provider, "rollbackConfiguration")
    r.mapping(rollback)
    r.keys(rollback, {"alarms", "monitoringTimeInMinutes"})
    alarms = r.strings((*rollback, "alarms"))
    for index, arn in enumerate(alarms):
        if not ALARM_ARN.match(arn):
            r.fail((*rollback, "alarms", index), f"{arn!r} is not a CloudWatch alarm ARN")
    if len(alarms) > 5:
        r.fail((*rollback, "alarms"), "CloudFormation takes at most 5 rollback triggers")
    monitoring = r.integer((*rollback, "monitoringTimeInMinutes"), 0, 0, 180)
    protection = r.boolean((*provider, "terminationProtection"))
    provider_env = r.pairs((*provider, "environment"))
    tags = r.pairs((*provider, "tags"))

    hyb = ("hybridless",)
    r.mapping(hyb, required=True)
    r.keys(hyb, {"functions"}, NOT_YET["hybridless"])
    functions = r.mapping((*hyb, "functions"), required=True)
    if not functions and r.get((*hyb, "functions")) is not None:
        r.fail((*hyb, "functions"), "must name at least one function")

    base_dir = Path(doc.file).resolve().parent
    events: list[Event] = []
    for name in functions:
        events.extend(
            _function(
                r,
                (*hyb, "functions", name),
                name,
                service,
                stage,
                base_dir,
                provider_env,
                overrides.build_args,
            )
        )
    _check_routes(r, events)
    if any(isinstance(e, HttpdEvent) for e in events):
        if vpc is None:
            r.fail(
                (*provider, "vpc"),
                "httpd events need an existing network: set provider.vpc with vpcId and subnetIds",
            )
        elif vpc.subnet_ids and len(vpc.alb_subnet_ids) < 2:
            key = "albSubnetIds" if r.get((*provider, "vpc", "albSubnetIds")) else "subnetIds"
            r.fail(
                (*provider, "vpc", key),
                "the load balancer of httpd events needs subnets in at least two zones",
            )

    if r.problems:
        raise ConfigError(r.problems)
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
        tags=tags,
        vpc=vpc,
        events=tuple(events),
        termination_protection=protection,
        rollback_alarms=alarms,
        rollback_monitoring_minutes=monitoring,
    )


def _vpc(r: _Reader, path: Path_) -> Vpc | None:
    if r.get(path) is None:
        return None
    vpc_keys = {"vpcId", "subnetIds", "securityGroupIds", "albSubnetIds"}
    r.keys(path, vpc_keys, {"cidr", "subnets"})
    vpc_id = r.string((*path, "vpcId"), required=True)
    subnets = r.strings((*path, "subnetIds"), required=True)
    alb_subnets = r.strings((*path, "albSubnetIds")) or subnets
    return Vpc(
        vpc_id=vpc_id or "",
        subnet_ids=subnets,
        security_group_ids=r.strings((*path, "securityGroupIds")),
        alb_subnet_ids=alb_subnets,
    )


def _function(
    r: _Reader,
    path: Path_,
    name: str,
    service: str,
    stage: str,
    base_dir: Path,
    provider_env: tuple[tuple[str, str], ...],
    build_args: tuple[tuple[str, str], ...],
) -> list[Event]:
    if not FUNCTION_NAME.match(name):
        r.fail(path, "function names are letters and digits, starting with a letter (at most 40)")
        return []
    r.mapping(path, required=True)
    r.keys(path, {"memory", "timeout", "environment", "events"}, NOT_YET["function"])
    memory = r.integer((*path, "memory"), 1024, 128, 122880)
    timeout = r.integer((*path, "timeout"), 30, 1, 900)
    function_env = _merge(provider_env, r.pairs((*path, "environment")))
    raw_events = r.get((*path, "events"))
    if not isinstance(raw_events, list) or not raw_events:
        r.fail((*path, "events"), "must be a list with at least one event")
        return []
    events: list[Event] = []
    for index in range(len(raw_events)):
        event_path = (*path, "events", index)
        event = r.mapping(event_path, required=True)
        kind = event.get("eventType")
        if kind is None and event:
            r.fail((*event_path, "eventType"), "is required (httpd or lambdaContainer)")
            continue
        common = _Common(
            function=name,
            index=index,
            image=_image(r, event_path, name, index, service, stage, base_dir, build_args),
            memory=memory,
            timeout=timeout,
            environment=_merge(function_env, r.pairs((*event_path, "environment"))),
        )
        if kind == "httpd":
            events.append(_httpd(r, event_path, common))
        elif kind == "lambdaContainer":
            events.append(_lambda_container(r, event_path, common))
        elif kind in EVENT_TYPES_NOT_YET:
            r.fail((*event_path, "eventType"), f"{kind!r} events are not supported yet")
        else:
            known = ["httpd", "lambdaContainer", *EVENT_TYPES_NOT_YET]
            close = difflib.get_close_matches(str(kind), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            r.fail((*event_path, "eventType"), f"{kind!r} is not an event type{hint}")
    return events


def _image(
    r: _Reader,
    path: Path_,
    function: str,
    index: int,
    service: str,
    stage: str,
    base_dir: Path,
    build_args: tuple[tuple[str, str], ...],
) -> Image:
    runtime = r.string((*path, "runtime"), required=True)
    if runtime is not None and runtime != "container":
        r.fail((*path, "runtime"), f"{runtime!r}: only runtime: container is supported yet")
    dockerfile = r.string((*path, "dockerFile"), default="Dockerfile") or "Dockerfile"
    if not (base_dir / dockerfile).is_file():
        r.fail((*path, "dockerFile"), f"{dockerfile} not found next to {r.doc.file}")
    return Image(
        name=f"{function}-{index}",
        repository=f"{service}/{function.lower()}-{index}-{stage.lower()}",
        context=base_dir,
        dockerfile=dockerfile,
        build_args=_merge(r.pairs((*path, "dockerBuildArgs")), build_args),
    )


COMMON_EVENT_KEYS = {"eventType", "runtime", "dockerFile", "dockerBuildArgs", "environment"}


@dataclass(frozen=True)
class _Common:
    """What every event of a function shares: read once, passed to each event kind."""

    function: str
    index: int
    image: Image
    memory: int
    timeout: int
    environment: tuple[tuple[str, str], ...]


def _httpd(r: _Reader, path: Path_, common: _Common) -> HttpdEvent:
    memory = common.memory
    r.keys(
        path,
        COMMON_EVENT_KEYS
        | {
            "cpu",
            "concurrency",
            "port",
            "routes",
            "healthCheckRoute",
            "healthCheckInterval",
            "healthCheckTimeout",
            "healthCheckHealthyCount",
            "healthCheckUnhealthyCount",
            "healthCheckStatusCode",
            "deregistrationDelay",
        },
        NOT_YET["httpd"],
    )
    cpu = r.integer((*path, "cpu"), 512, 256, 16384)
    if cpu not in FARGATE_MEMORY:
        r.fail(
            (*path, "cpu"),
            f"{cpu} is not a Fargate CPU size ({', '.join(map(str, FARGATE_MEMORY))})",
        )
    elif memory not in FARGATE_MEMORY[cpu]:
        sizes = FARGATE_MEMORY[cpu]
        r.fail(
            (*path[:-2], "memory"),
            f"{memory} MiB does not fit Fargate cpu {cpu} (allowed: {_sizes(sizes)})",
        )
    interval = r.integer((*path, "healthCheckInterval"), 15, 5, 300)
    health_timeout = r.integer((*path, "healthCheckTimeout"), 10, 2, 120)
    if health_timeout >= interval:
        r.fail((*path, "healthCheckTimeout"), "must be shorter than healthCheckInterval")
    return HttpdEvent(
        function=common.function,
        index=common.index,
        image=common.image,
        cpu=cpu,
        memory=memory,
        concurrency=r.integer((*path, "concurrency"), 1, 0, 1000),
        port=r.integer((*path, "port"), 80, 1, 65535),
        routes=_routes(r, (*path, "routes")),
        health=HealthCheck(
            path=r.string((*path, "healthCheckRoute"), default="/") or "/",
            interval=interval,
            timeout=health_timeout,
            healthy_count=r.integer((*path, "healthCheckHealthyCount"), 2, 2, 10),
            unhealthy_count=r.integer((*path, "healthCheckUnhealthyCount"), 5, 2, 10),
            status_code=r.string((*path, "healthCheckStatusCode"), default="200") or "200",
        ),
        deregistration_delay=r.integer((*path, "deregistrationDelay"), 30, 0, 3600),
        environment=common.environment,
    )


def _lambda_container(r: _Reader, path: Path_, common: _Common) -> LambdaContainerEvent:
    memory = common.memory
    r.keys(
        path, COMMON_EVENT_KEYS | {"protocol", "reservedConcurrency"}, NOT_YET["lambdaContainer"]
    )
    protocol = r.string((*path, "protocol"), default="none")
    if protocol != "none":
        r.fail((*path, "protocol"), f"{protocol!r}: only protocol: none is supported yet")
    if memory > 10240:
        r.fail((*path[:-2], "memory"), f"{memory} MiB is more than Lambda allows (10240)")
    reserved = r.get((*path, "reservedConcurrency"))
    return LambdaContainerEvent(
        function=common.function,
        index=common.index,
        image=common.image,
        memory=memory,
        timeout=common.timeout,
        reserved_concurrency=(
            None if reserved is None else r.integer((*path, "reservedConcurrency"), 0, 0, 100000)
        ),
        environment=common.environment,
    )


def _routes(r: _Reader, path: Path_) -> tuple[Route, ...]:
    raw = r.get(path)
    if raw is None:
        return (Route(path="/*", method=None, priority=0),)
    if not isinstance(raw, list) or not raw:
        r.fail(path, "must be a list of {path, method, priority}")
        return ()
    routes = []
    for index in range(len(raw)):
        route_path = (*path, index)
        r.mapping(route_path, required=True)
        r.keys(route_path, {"path", "method", "priority"})
        method = r.string((*route_path, "method"))
        routes.append(
            Route(
                path=r.string((*route_path, "path"), required=True) or "/",
                method=None if method in (None, "*", "ANY", "any") else method.upper(),
                priority=r.integer((*route_path, "priority"), 0, 1, 50000),
            )
        )
    return tuple(routes)


def _check_routes(r: _Reader, events: list[Event]) -> None:
    """Priorities are unique per listener: an explicit clash is an error; missing ones are
    given the next free numbers in the order routes are written (never all 1)."""
    seen: dict[int, str] = {}
    for event in events:
        if not isinstance(event, HttpdEvent):
            continue
        for number, route in enumerate(event.routes):
            if not route.priority:
                continue
            path = ("hybridless", "functions", event.function, "events", event.index,
                    "routes", number, "priority")  # fmt: skip
            if route.priority in seen:
                r.fail(
                    path,
                    f"{route.priority} is already used by {seen[route.priority]}; "
                    "priorities must be unique on a listener",
                )
            seen[route.priority] = dotted(path)


def assign_priorities(events: tuple[Event, ...]) -> dict[tuple[str, int, int], int]:
    """(function, event index, route index) → listener-rule priority.

    Routes without a priority get the free numbers in the order they are written, catch-alls
    (`/*`) last so they never shadow a more specific path."""
    used = {route.priority for e in events if isinstance(e, HttpdEvent) for route in e.routes}
    result: dict[tuple[str, int, int], int] = {}
    pending: list[tuple[bool, int, tuple[str, int, int]]] = []
    for event in events:
        if not isinstance(event, HttpdEvent):
            continue
        for number, route in enumerate(event.routes):
            key = (event.function, event.index, number)
            if route.priority:
                result[key] = route.priority
            else:
                pending.append((route.path in ("*", "/*"), len(pending), key))
    next_free = 1
    for _catch_all, _order, key in sorted(pending):
        while next_free in used:
            next_free += 1
        result[key] = next_free
        used.add(next_free)
    return result
