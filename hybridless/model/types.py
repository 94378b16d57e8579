"""The application as typed, immutable data: what every stage after the config reads.

Defaults are already applied and every value is checked, so the template, build and push
stages never look at YAML and never meet a value they would have to question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Pairs = tuple[tuple[str, str], ...]
# Environment values are text, or a CloudFormation function resolved at deploy time.
Environment = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Vpc:
    """An existing network the app runs in."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    alb_subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class NewVpc:
    """A network created with the app: public subnets, one per zone, and an internet gateway."""

    cidr: str
    subnets: tuple[str, ...]


Network = Vpc | NewVpc


@dataclass(frozen=True)
class FileCopy:
    """`additionalDockerFiles`: a file or directory put into the build context at another
    path, for a Dockerfile to COPY (a shared config, a generated bundle). It may come from
    outside the project, as in the original plugin: a monorepo's shared files often do."""

    source: Path
    target: str  # relative to the build context's root


@dataclass(frozen=True)
class BuiltinRuntime:
    """A Dockerfile the tool writes instead of the user: the language's base image, the
    project's code, and a small program that calls `handler` the way the event needs (an HTTP
    server answering the health check, a worker loop, a one-shot task, the Lambda runtime)."""

    language: str  # nodejs | python
    version: str  # 22, 3.12
    kind: str  # httpd | process | scheduledTask | lambdaContainer
    handler: str  # src/api.handler
    base_image: str
    port: int | None = None  # httpd
    health_route: str | None = None  # httpd

    @property
    def name(self) -> str:
        return f"{self.language}{self.version}"


@dataclass(frozen=True)
class Image:
    """One image to build and push; `name` is how outputs and the template refer to it."""

    name: str
    repository: str
    context: Path
    dockerfile: str  # relative to `context`; for a built-in runtime, the name it is given
    build_args: Pairs = ()
    platform: str | None = None  # linux/amd64 | linux/arm64; None: the engine's own
    copies: tuple[FileCopy, ...] = ()
    runtime: BuiltinRuntime | None = None

    @property
    def architecture(self) -> str | None:
        """The CPU the image is built for, as `arm64`/`amd64`, when the app says."""
        return self.platform.split("/", 1)[1] if self.platform else None


@dataclass(frozen=True)
class ZipCode:
    """The code of a `lambda` event: the project directory, filtered by `package.patterns`."""

    name: str
    directory: Path
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    path: str
    method: str | None
    priority: int  # 0: assigned by `assign_priorities`


@dataclass(frozen=True)
class Listener:
    """Where routes are served: the app's own public or private load balancer, or a listener
    the user already has. Listener-rule priorities are unique per listener."""

    existing_arn: str | None = None
    private: bool = False

    @property
    def key(self) -> str:
        return self.existing_arn or ("private" if self.private else "public")


@dataclass(frozen=True)
class Routing:
    """How HTTP requests reach an event: listener, routes, host and certificates."""

    listener: Listener
    routes: tuple[Route, ...]
    hostname: str | None = None
    certificate_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealthCheck:
    path: str
    interval: int
    timeout: int
    healthy_count: int
    unhealthy_count: int
    status_code: str


@dataclass(frozen=True)
class AutoScale:
    """Target tracking: keep `metric` near `target` with between `min` and `max` tasks."""

    min: int
    max: int
    metric: str  # cpu | memory | requests
    target: int


@dataclass(frozen=True)
class Hooks:
    """Lambda functions a strategy runs around a traffic shift, each as written: the name of
    one of the app's functions, or any function's name or ARN. `preTraffic` runs once the new
    version is up and before production traffic reaches it; `postTraffic` once all of it has.
    A hook that fails rolls the deployment back."""

    pre_traffic: str | None = None
    post_traffic: str | None = None

    def __bool__(self) -> bool:
        return bool(self.pre_traffic or self.post_traffic)


@dataclass(frozen=True)
class EcsDeployment:
    """How an ECS service moves to a new revision, carried out by ECS itself
    (`DeploymentConfiguration.Strategy`); CloudFormation waits for it and rolls back with it.

    `rolling` replaces tasks in place within the percentages (`halfAtATime` is rolling at
    50/100: half the tasks at a time, no extra capacity). `blueGreen`, `canary` and `linear`
    start the new revision beside the old one behind an alternate target group and shift the
    production listener rule's traffic to it: at once, a `canary_percent` first then the rest
    after `interval_minutes`, or `linear_percent` every `interval_minutes`."""

    strategy: str = "rolling"  # rolling | halfAtATime | blueGreen | canary | linear
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    circuit_breaker: bool = True  # with rollback
    canary_percent: int = 10  # whole percentages: see deployment._step_percent
    linear_percent: int = 20
    interval_minutes: int = 5  # canary: before the rest; linear: between steps
    bake_time_minutes: int | None = None  # None: ECS's default (15 for traffic shifting)
    test_listener_port: int | None = None  # test traffic to the new revision (httpd)
    hooks: Hooks = Hooks()
    alarms: tuple[str, ...] = ()  # CloudWatch alarm names; one in ALARM rolls back

    @property
    def shifts_traffic(self) -> bool:
        return self.strategy in ("blueGreen", "canary", "linear")


@dataclass(frozen=True)
class FunctionDeployment:
    """How a Lambda function moves to a new version: a published version behind the alias
    `live`, which CodeDeploy shifts all at once, a `percentage` first then the rest after
    `interval_minutes` (canary), or `percentage` every `interval_minutes` (linear). Every
    invoker points at the alias, so the shift is what callers see."""

    strategy: str = "allAtOnce"  # allAtOnce | canary | linear
    percentage: int = 10
    interval_minutes: int = 5
    alarms: tuple[str, ...] = ()
    hooks: Hooks = Hooks()


@dataclass(frozen=True)
class EcsTask:
    """What every ECS event needs to start a task."""

    image: Image
    cpu: int
    memory: int
    ec2_launch_type: bool = False
    cluster_arn: str | None = None  # None: the app's own cluster


@dataclass(frozen=True)
class Trigger:
    """What invokes a Lambda function: nothing, an API Gateway HTTP API (`http`, as the
    original plugin's API Gateway), the app's load balancer (`httpLoadBalancer`), a queue, a
    topic or a schedule."""

    protocol: str  # none | http | httpLoadBalancer | sqs | sns | scheduler
    arn: str | dict[str, Any] | None = None  # queue or topic; a CloudFormation intrinsic too
    schedule: str | None = None
    input: str | None = None
    routing: Routing | None = None
    api_routes: tuple[Route, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Event:
    """What every event carries: where it comes from, its environment and log retention."""

    function: str
    index: int
    environment: Environment
    log_retention_days: int


@dataclass(frozen=True, kw_only=True)
class _EcsEvent(_Event):
    task: EcsTask


@dataclass(frozen=True, kw_only=True)
class HttpdEvent(_EcsEvent):
    concurrency: int
    port: int
    routing: Routing
    health: HealthCheck
    deregistration_delay: int
    autoscale: AutoScale | None = None
    deployment: EcsDeployment = EcsDeployment()


@dataclass(frozen=True, kw_only=True)
class ProcessEvent(_EcsEvent):
    """A long-running worker on ECS with no load balancer."""

    concurrency: int
    autoscale: AutoScale | None = None
    deployment: EcsDeployment = EcsDeployment()


@dataclass(frozen=True, kw_only=True)
class ScheduledTaskEvent(_EcsEvent):
    """An ECS task that an EventBridge rule starts on a schedule."""

    schedule: str
    input: str | None  # JSON text handed to RunTask as given
    task_count: int = 1


@dataclass(frozen=True, kw_only=True)
class _FunctionEvent(_Event):
    memory: int
    timeout: int
    trigger: Trigger = field(default_factory=lambda: Trigger("none"))
    reserved_concurrency: int | None = None
    deployment: FunctionDeployment | None = None  # None: invokers call the function itself


@dataclass(frozen=True, kw_only=True)
class LambdaContainerEvent(_FunctionEvent):
    image: Image
    command: tuple[str, ...] = ()  # the function's handler, overriding the image's CMD


@dataclass(frozen=True, kw_only=True)
class LambdaEvent(_FunctionEvent):
    """A Lambda function from a zip of the project directory and an AWS runtime."""

    code: ZipCode
    runtime: str
    handler: str


EcsEvent = HttpdEvent | ProcessEvent | ScheduledTaskEvent
FunctionEvent = LambdaContainerEvent | LambdaEvent
Event = EcsEvent | FunctionEvent


def image_of(event: Event) -> Image | None:
    if isinstance(event, LambdaContainerEvent):
        return event.image
    if isinstance(event, LambdaEvent):
        return None
    return event.task.image


@dataclass(frozen=True)
class RawResources:
    """The user's own CloudFormation, merged into the generated template, with the line of
    each entry so a clash with a generated name points at the user's file."""

    sections: dict[str, dict[str, Any]]
    lines: dict[tuple[str, str], int]
    file: str


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
    keep_previous: int = 1  # earlier deployments whose images cleanup keeps, for rollback
    build_concurrency: int = 2
    tags: Pairs = ()
    vpc: Network | None = None
    events: tuple[Event, ...] = ()
    termination_protection: bool | None = None  # None: leave the stack's setting as it is
    rollback_alarms: tuple[str, ...] = ()
    rollback_monitoring_minutes: int = 0
    iam_statements: tuple[dict[str, Any], ...] = ()
    resources: RawResources | None = None

    @property
    def images(self) -> tuple[Image, ...]:
        """Every image once, in the order first used: events may share one (`imageId`)."""
        seen: dict[str, Image] = {}
        for event in self.events:
            image = image_of(event)
            if image is not None:
                seen.setdefault(image.name, image)
        return tuple(seen.values())

    @property
    def code(self) -> tuple[ZipCode, ...]:
        """Every zip once: the `lambda` events of one function share its code."""
        seen: dict[str, ZipCode] = {}
        for event in self.events:
            if isinstance(event, LambdaEvent):
                seen.setdefault(event.code.name, event.code)
        return tuple(seen.values())

    @property
    def httpd_events(self) -> tuple[HttpdEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, HttpdEvent))

    @property
    def ecs_events(self) -> tuple[EcsEvent, ...]:
        return tuple(
            e for e in self.events if isinstance(e, HttpdEvent | ProcessEvent | ScheduledTaskEvent)
        )

    @property
    def function_events(self) -> tuple[FunctionEvent, ...]:
        return tuple(e for e in self.events if isinstance(e, LambdaContainerEvent | LambdaEvent))

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
    build_args: Pairs = ()
