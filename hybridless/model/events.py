"""One function of hybridless.yml and its events, read into typed events.

A function is one piece of code; each event is one way it runs. What a function says (memory,
timeout, environment, cluster, listener, log retention) is the default of each of its events;
the event's own environment wins over the function's, which wins over the provider's.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hybridless.config.loader import Path_
from hybridless.model import keys
from hybridless.model.deployment import read_ecs_deployment, read_function_deployment, word_list
from hybridless.model.images import (
    BUILTIN_HEALTH_ROUTE,
    CONTAINER,
    GENERATED_DOCKERFILE,
    check_dockerfile,
    check_handler,
    read_build,
    read_runtime,
)
from hybridless.model.reader import Reader, did_you_mean, kind_of
from hybridless.model.types import (
    AutoScale,
    BuiltinRuntime,
    EcsTask,
    Environment,
    Event,
    HealthCheck,
    HttpdEvent,
    Image,
    LambdaContainerEvent,
    LambdaEvent,
    Listener,
    Pairs,
    ProcessEvent,
    Route,
    Routing,
    ScheduledTaskEvent,
    Trigger,
    ZipCode,
)

FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
CLUSTER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9_-]+$")
LISTENER_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/app/.+$"
)
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(acm|iam):[a-z0-9-]*:\d{12}:.+$")
QUEUE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")
TOPIC_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")
HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
LAMBDA_RUNTIME = re.compile(
    r"^(nodejs\d+\.x|python3\.\d+|java\d+(\.al2)?|dotnet\d+|ruby\d\.\d+|provided(\.al20\d\d)?)$"
)
ENV_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")
LAMBDA_RESERVED = frozenset(
    {"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
     "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
     "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
     "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
     "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}
)  # fmt: skip
URL_PATH = re.compile(r"^/\S*$")
STATUS_CODES = re.compile(r"^[1-5]\d\d([,-][1-5]\d\d)*$")
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PROTOCOLS = ("none", "http", "httpLoadBalancer", "sqs", "sns", "scheduler")
AUTOSCALE_METRICS = ("cpu", "memory", "requests")

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


@dataclass(frozen=True)
class FunctionContext:
    """What the provider and the `hybridless:` block give every function."""

    service: str
    stage: str
    base_dir: Path
    provider_environment: Environment
    build_args: Pairs
    shared_images: dict[str, Image]
    log_retention_days: int


@dataclass(frozen=True)
class _Function:
    """What a function gives each of its events."""

    name: str
    memory: int
    timeout: int
    environment: Environment
    handler: str | None
    cluster_arn: str | None
    listener: Listener
    log_retention_days: int
    patterns: tuple[str, ...]


def merge(*layers: Environment) -> Environment:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return tuple(merged.items())


def read_function(r: Reader, path: Path_, name: str, context: FunctionContext) -> list[Event]:
    if not FUNCTION_NAME.match(name):
        r.fail(path, "function names are letters and digits, starting with a letter (at most 40)")
        return []
    r.mapping(path, required=True)
    r.keys(path, keys.FUNCTION)
    r.mapping((*path, "package"))
    r.keys((*path, "package"), keys.PACKAGE)
    function = _Function(
        name=name,
        memory=r.integer((*path, "memory"), 1024, 128, 122880),
        timeout=r.integer((*path, "timeout"), 30, 1, 900),
        environment=merge(
            context.provider_environment, r.pairs((*path, "environment"), intrinsics=True)
        ),
        handler=r.string((*path, "handler")),
        cluster_arn=r.string(
            (*path, "ecsClusterArn"), pattern=CLUSTER_ARN, rule="is not an ECS cluster ARN"
        ),
        listener=Listener(
            existing_arn=r.string(
                (*path, "albListenerArn"),
                pattern=LISTENER_ARN,
                rule="is not an application load balancer listener ARN",
            ),
            private=bool(r.boolean((*path, "albIsPrivate"))),
        ),
        log_retention_days=r.retention((*path, "logsRetentionInDays"), context.log_retention_days),
        patterns=r.strings((*path, "package", "patterns")),
    )
    raw_events = r.get((*path, "events"))
    if not isinstance(raw_events, list) or not raw_events:
        r.fail((*path, "events"), "must be a list with at least one event")
        return []
    events: list[Event] = []
    for index in range(len(raw_events)):
        event = _event(r, (*path, "events", index), index, function, context)
        if event is not None:
            events.append(event)
    _check_function(r, path, function, events)
    if function.listener.private and function.listener.existing_arn:
        r.fail((*path, "albIsPrivate"), "albListenerArn names the listener already; drop one")
    return events


def _check_function(r: Reader, path: Path_, function: _Function, events: list[Event]) -> None:
    """What a function's events need of it, said once for the function."""
    lambdas = [e for e in events if isinstance(e, LambdaContainerEvent | LambdaEvent)]
    if lambdas and function.memory > 10240:
        r.fail((*path, "memory"), f"{function.memory} MiB is more than Lambda allows (10240)")
    for event in lambdas:
        for name, _value in event.environment:
            if name in LAMBDA_RESERVED or not ENV_NAME.match(name):
                where = (*path, "environment", name)
                if r.get(where) is None:
                    where = ("provider", "environment", name)
                reason = "Lambda reserves it" if name in LAMBDA_RESERVED else (
                    "Lambda takes letters, digits and _, starting with a letter")  # fmt: skip
                r.fail(where, f"{name!r} cannot be a function's variable: {reason}")
        break
    zip_needs_handler = any(isinstance(e, LambdaEvent) for e in events) and not function.handler
    if zip_needs_handler:
        r.fail((*path, "handler"), "is required by lambda events (e.g. src/app.handler)")
    builtin = [runtime.name for runtime in map(_builtin_runtime, events) if runtime]
    if builtin and not zip_needs_handler:
        check_handler(r, path, function.handler, builtin[0])


def _builtin_runtime(event: Event) -> BuiltinRuntime | None:
    if isinstance(event, LambdaContainerEvent):
        return event.image.runtime
    if isinstance(event, LambdaEvent):
        return None
    return event.task.image.runtime


def _event(
    r: Reader, path: Path_, index: int, function: _Function, context: FunctionContext
) -> Event | None:
    event = r.mapping(path, required=True)
    if not event:
        return None
    kind = event.get("eventType")
    if kind is None:
        r.fail((*path, "eventType"), f"is required ({', '.join(keys.EVENTS)})")
        return None
    if isinstance(kind, dict | list):
        r.fail(
            (*path, "eventType"), f"must be one of {', '.join(keys.EVENTS)}, not {kind_of(kind)}"
        )
        return None
    if kind not in keys.EVENTS:
        r.fail(
            (*path, "eventType"),
            f"{kind!r} is not an event type{did_you_mean(str(kind), keys.EVENTS)}",
        )
        return None
    _event_keys(r, path, kind)
    environment = merge(function.environment, r.pairs((*path, "environment"), intrinsics=True))
    if kind == "lambda":
        return _lambda(r, path, index, function, context, environment)
    listening = _listening(r, path, builtin=_is_builtin(r, path)) if kind == "httpd" else None
    runtime = read_runtime(r, path, kind, function.handler)
    if runtime is not None and listening is not None:
        runtime = replace(runtime, port=listening[0], health_route=listening[1])
    image = _image(r, path, function.name, index, context, runtime)
    if kind == "lambdaContainer":
        return LambdaContainerEvent(
            function=function.name,
            index=index,
            image=image,
            environment=environment,
            log_retention_days=function.log_retention_days,
            memory=function.memory,
            timeout=function.timeout,
            trigger=_trigger(r, path, function),
            reserved_concurrency=r.optional_integer((*path, "reservedConcurrency"), 0, 100000),
            deployment=read_function_deployment(r, path, kind),
            # A built-in runtime's image names the handler in its own CMD, in the form the
            # language's Lambda runtime resolves.
            command=(function.handler,) if function.handler and runtime is None else (),
        )
    task = _task(r, path, image, function)
    common: dict[str, Any] = {
        "function": function.name,
        "index": index,
        "task": task,
        "environment": environment,
        "log_retention_days": function.log_retention_days,
    }
    if kind == "process":
        return ProcessEvent(
            **common,
            concurrency=r.integer((*path, "concurrency"), 1, 0, 1000),
            autoscale=_autoscale(r, (*path, "autoScale"), http=False),
            deployment=read_ecs_deployment(r, path, kind, routing=None),
        )
    if kind == "scheduledTask":
        return ScheduledTaskEvent(
            **common,
            schedule=_schedule(r, (*path, "schedulerRate"), required=True) or "rate(1 hour)",
            input=_input(r, (*path, "schedulerInput"), object_only=image.runtime is None),
            task_count=r.integer((*path, "concurrency"), 1, 1, 10),
        )
    assert listening is not None
    return _httpd(r, path, common, function, listening)


def _is_builtin(r: Reader, path: Path_) -> bool:
    return r.get((*path, "runtime")) not in (None, CONTAINER)


def _listening(r: Reader, path: Path_, builtin: bool) -> tuple[int, str]:
    """The container's port and the health-check route, which a built-in runtime answers."""
    port = r.integer((*path, "port"), 80, 1, 65535)
    default = BUILTIN_HEALTH_ROUTE if builtin else "/"
    route = r.string(
        (*path, "healthCheckRoute"), default=default, pattern=URL_PATH, rule="must start with /"
    )
    return port, route or default


def _event_keys(r: Reader, path: Path_, kind: str) -> None:
    """Unknown keys, where a key of another event type is named as such: `routes` on a
    process event is not a typo of `runtime`."""
    mine = keys.EVENTS[kind]
    elsewhere = {key for allowed in keys.EVENTS.values() for key in allowed}
    for key in list(r.mapping(path)):
        others = [k for k, allowed in keys.EVENTS.items() if key in allowed and k != kind]
        if key not in mine and key not in keys.NOT_YET[kind] and others:
            r.fail((*path, key), f"applies to {word_list(others)} events, not {kind}")
    r.keys(path, mine | elsewhere, keys.NOT_YET[kind])


def _image(
    r: Reader,
    path: Path_,
    function: str,
    index: int,
    context: FunctionContext,
    runtime: BuiltinRuntime | None,
) -> Image:
    image_id = r.string((*path, "imageId"))
    if image_id is not None and runtime is None:
        for key in ("dockerFile", "dockerBuildArgs", "additionalDockerFiles", "platform"):
            if r.get((*path, key)) is not None:
                r.fail((*path, key), "belongs to the shared image; an event with imageId "
                       "takes the image as it is")  # fmt: skip
        shared = context.shared_images.get(image_id)
        if shared is not None:
            return shared
        known = ", ".join(context.shared_images) or "none defined"
        r.fail(
            (*path, "imageId"),
            f"{image_id!r} is not in hybridless.images ({known})"
            f"{did_you_mean(image_id, context.shared_images)}",
        )
        return Image(image_id, "", context.base_dir, "")
    dockerfile, build_args, platform, copies = read_build(
        r, path, context.base_dir, context.build_args
    )
    if runtime is None:
        check_dockerfile(r, path, context.base_dir, dockerfile)
    return Image(
        name=f"{function}-{index}",
        repository=f"{context.service}/{function.lower()}-{index}-{context.stage.lower()}",
        context=context.base_dir,
        dockerfile=GENERATED_DOCKERFILE if runtime else dockerfile,
        build_args=build_args,
        platform=platform,
        copies=copies,
        runtime=runtime,
    )


def _task(r: Reader, path: Path_, image: Image, function: _Function) -> EcsTask:
    ec2 = bool(r.boolean((*path, "ec2LaunchType")))
    cpu = r.integer((*path, "cpu"), 512, 128 if ec2 else 256, 16384)
    memory = function.memory
    function_path = path[:-2]
    if ec2 and r.get((*function_path, "ecsClusterArn")) is None:
        r.fail(
            (*path, "ec2LaunchType"),
            "the EC2 launch type runs on your instances: set ecsClusterArn on the function "
            "to the cluster that has them",
        )
    if not ec2:
        if cpu not in FARGATE_MEMORY:
            sizes = ", ".join(map(str, FARGATE_MEMORY))
            r.fail((*path, "cpu"), f"{cpu} is not a Fargate CPU size ({sizes})")
        elif memory not in FARGATE_MEMORY[cpu]:
            r.fail(
                (*function_path, "memory"),
                f"{memory} MiB does not fit Fargate cpu {cpu} "
                f"(allowed: {_sizes(FARGATE_MEMORY[cpu])})",
            )
    return EcsTask(
        image=image, cpu=cpu, memory=memory, ec2_launch_type=ec2, cluster_arn=function.cluster_arn
    )


def _httpd(
    r: Reader,
    path: Path_,
    common: dict[str, Any],
    function: _Function,
    listening: tuple[int, str],
) -> HttpdEvent:
    interval = r.integer((*path, "healthCheckInterval"), 15, 5, 300)
    health_timeout = r.integer((*path, "healthCheckTimeout"), 10, 2, 120)
    if health_timeout >= interval:
        r.fail((*path, "healthCheckTimeout"), "must be shorter than healthCheckInterval")
    routing = _routing(r, path, function.listener)
    return HttpdEvent(
        **common,
        concurrency=r.integer((*path, "concurrency"), 1, 0, 1000),
        port=listening[0],
        routing=routing,
        health=HealthCheck(
            path=listening[1],
            interval=interval,
            timeout=health_timeout,
            healthy_count=r.integer((*path, "healthCheckHealthyCount"), 2, 2, 10),
            unhealthy_count=r.integer((*path, "healthCheckUnhealthyCount"), 5, 2, 10),
            status_code=r.string(
                (*path, "healthCheckStatusCode"),
                default="200",
                pattern=STATUS_CODES,
                rule="is not a status code, a list (200,202) or a range (200-299)",
            )
            or "200",
        ),
        deregistration_delay=r.integer((*path, "deregistrationDelay"), 30, 0, 3600),
        autoscale=_autoscale(r, (*path, "autoScale"), http=function.listener.existing_arn is None),
        deployment=read_ecs_deployment(r, path, "httpd", routing),
    )


def _routing(r: Reader, path: Path_, listener: Listener) -> Routing:
    hostname = r.string((*path, "hostname"))
    if hostname is not None and not HOSTNAME.match(hostname.lower()):
        r.fail((*path, "hostname"), f"{hostname!r} is not a host name")
    certificates = r.strings((*path, "certificateArns"))
    for number, arn in enumerate(certificates):
        if not CERTIFICATE_ARN.match(arn):
            r.fail((*path, "certificateArns", number), f"{arn!r} is not a certificate ARN")
    if certificates and listener.existing_arn:
        r.fail(
            (*path, "certificateArns"),
            "certificates belong to the listener; albListenerArn names one that exists, so "
            "attach them there",
        )
    return Routing(
        listener=listener,
        routes=_routes(r, (*path, "routes")),
        hostname=hostname.lower() if hostname else None,
        certificate_arns=certificates,
    )


def _routes(r: Reader, path: Path_) -> tuple[Route, ...]:
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
        r.keys(route_path, keys.ROUTE)
        method = r.string((*route_path, "method"))
        if method is None or method.upper() in ("*", "ANY"):
            method = None
        elif method.upper() not in HTTP_METHODS:
            r.fail((*route_path, "method"), f"{method!r} is not an HTTP method")
        url_path = r.string((*route_path, "path"), required=True) or "/"
        if not url_path.startswith("/") and url_path != "*":
            r.fail((*route_path, "path"), f"{url_path!r} must start with /")
        routes.append(
            Route(
                path=url_path,
                method=method.upper() if method else None,
                priority=r.integer((*route_path, "priority"), 0, 1, 50000),
            )
        )
    return tuple(routes)


def _autoscale(r: Reader, path: Path_, http: bool) -> AutoScale | None:
    if r.get(path) is None:
        return None
    r.mapping(path)
    r.keys(path, keys.AUTOSCALE)
    metrics = AUTOSCALE_METRICS if http else AUTOSCALE_METRICS[:2]
    if not http and r.get((*path, "metric")) == "requests":
        r.fail((*path, "metric"), "requests per target needs a load balancer the app creates "
               "(not a process event or an albListenerArn)")  # fmt: skip
        return None
    low = r.integer((*path, "min"), 1, 0, 1000)
    high = r.integer((*path, "max"), max(low, 1), 1, 1000)
    if high < low:
        r.fail((*path, "max"), f"{high} is less than min ({low})")
    metric = r.choice((*path, "metric"), metrics, "cpu")
    limit = 100 if metric in ("cpu", "memory") else 1_000_000
    return AutoScale(
        min=low,
        max=max(high, low),
        metric=metric,
        target=r.integer((*path, "targetValue"), 60 if limit == 100 else 1000, 1, limit),
    )


def _schedule(r: Reader, path: Path_, required: bool) -> str | None:
    text = r.string(path, required=required)
    if text is None:
        return None
    rate = RATE.match(text)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count == 0 or (count == 1) != (not unit.endswith("s")):
            single = unit.rstrip("s")
            r.fail(path, f"{text!r}: write rate(1 {single}) or rate(N {single}s) with N > 1")
            return None
        return text
    if CRON.match(text):
        return text
    r.fail(path, f"{text!r} is not a schedule: rate(5 minutes) or cron(0 12 * * ? *)")
    return None


def _input(r: Reader, path: Path_, object_only: bool) -> str | None:
    """The schedule's input as JSON text: a mapping is written as JSON, a string is passed as
    it is when it is JSON already (the original plugin sent the literal word "string")."""
    value = r.get(path)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            if object_only:
                r.fail(path, "must be a JSON object (RunTask overrides), as a mapping or text")
                return None
            return json.dumps(value)
        if object_only and not isinstance(parsed, dict):
            r.fail(path, "must be a JSON object (RunTask overrides)")
            return None
        return value
    if object_only and not isinstance(value, dict):
        r.fail(path, "must be a mapping (RunTask overrides such as containerOverrides)")
        return None
    return json.dumps(value, separators=(",", ":"))


def _trigger(r: Reader, path: Path_, function: _Function) -> Trigger:
    protocol = r.choice((*path, "protocol"), PROTOCOLS, "none")
    if r.get((*path, "protocol")) not in (None, *PROTOCOLS):
        return Trigger("none")  # misspelt: the keys for it cannot be judged
    allowed = {
        "none": set(),
        "http": {"routes"},
        "httpLoadBalancer": {"routes", "hostname", "certificateArns"},
        "sqs": {"protocolArn"},
        "sns": {"protocolArn"},
        "scheduler": {"schedulerRate", "schedulerInput"},
    }[protocol]
    for key in sorted(keys.TRIGGER - {"protocol"} - allowed):
        if r.get((*path, key)) is not None:
            r.fail((*path, key), f"does not apply to protocol: {protocol}")
    arn: str | dict[str, Any] | None = None
    if protocol in ("sqs", "sns"):
        pattern, what = (QUEUE_ARN, "an SQS queue ARN") if protocol == "sqs" else (
            TOPIC_ARN, "an SNS topic ARN")  # fmt: skip
        arn = r.arn_or_intrinsic((*path, "protocolArn"), pattern, what)
        if r.get((*path, "protocolArn")) is None:
            r.fail((*path, "protocolArn"), f"is required for protocol: {protocol}")
    if protocol == "scheduler":
        return Trigger(
            protocol,
            schedule=_schedule(r, (*path, "schedulerRate"), required=True),
            input=_input(r, (*path, "schedulerInput"), object_only=False),
        )
    if protocol == "httpLoadBalancer":
        return Trigger(protocol, routing=_routing(r, path, function.listener))
    if protocol == "http":
        routes = _routes(r, (*path, "routes"))
        for number, route in enumerate(routes):
            if route.priority:
                r.fail((*path, "routes", number, "priority"), "applies to httpLoadBalancer "
                       "routes; API routes are matched by path, most specific first")  # fmt: skip
        return Trigger(protocol, api_routes=routes)
    return Trigger(protocol, arn=arn)


def _lambda(
    r: Reader,
    path: Path_,
    index: int,
    function: _Function,
    context: FunctionContext,
    environment: Environment,
) -> LambdaEvent:
    runtime = r.string((*path, "runtime"), required=True) or "python3.12"
    if not LAMBDA_RUNTIME.match(runtime):
        r.fail(
            (*path, "runtime"),
            f"{runtime!r} is not an AWS Lambda runtime (e.g. python3.12, nodejs22.x, java21, "
            "provided.al2023); a Dockerfile goes with eventType: lambdaContainer",
        )
    return LambdaEvent(
        function=function.name,
        index=index,
        code=ZipCode(name=function.name, directory=context.base_dir, patterns=function.patterns),
        runtime=runtime,
        handler=function.handler or "",
        environment=environment,
        log_retention_days=function.log_retention_days,
        memory=function.memory,
        timeout=function.timeout,
        trigger=_trigger(r, path, function),
        reserved_concurrency=r.optional_integer((*path, "reservedConcurrency"), 0, 100000),
        deployment=read_function_deployment(r, path, "lambda"),
    )


def _sizes(sizes: tuple[int, ...]) -> str:
    steps = {b - a for a, b in itertools.pairwise(sizes)}
    if len(sizes) <= 4 or len(steps) != 1:
        return ", ".join(map(str, sizes))
    return f"{sizes[0]}..{sizes[-1]} in steps of {steps.pop()}"
