"""`deployment:` of an event: how its next deploy replaces the version that runs.

ECS services (`httpd`, `process`) move by ECS's own strategies, Lambda functions by CodeDeploy
shifting an alias. A key that the chosen strategy would not use is refused rather than dropped,
so the move deployed is the one the user wrote. What spans events (hooks naming the app's
functions, test listeners sharing a load balancer) is checked once every function is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hybridless.config.loader import Path_, dotted
from hybridless.model import keys
from hybridless.model.reader import Reader, kind_of
from hybridless.model.types import (
    EcsDeployment,
    Event,
    FunctionDeployment,
    Hooks,
    HttpdEvent,
    LambdaContainerEvent,
    LambdaEvent,
    ProcessEvent,
    Routing,
)

ECS_DEFAULT = EcsDeployment()
ECS_STRATEGIES = ("rolling", "halfAtATime", "blueGreen", "canary", "linear")
TRAFFIC_SHIFTING = ("blueGreen", "canary", "linear")
FUNCTION_STRATEGIES = ("allAtOnce", "canary", "linear")
ECS_KINDS = ("httpd", "process")
FUNCTION_KINDS = ("lambdaContainer", "lambda")
HOOK_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}"
    r"(:[A-Za-z0-9$_-]+)?$"
)
HOOK_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SHIFT_MINUTES = 33 * 60  # CloudFormation refuses a longer ECS canary or linear move
ECS_BAKE_MINUTES = 15  # what ECS waits when bakeTimeMinutes is not given
APP_LISTENER_PORTS = (80, 443)
MAX_ALARMS = 10
ALARM_NAME_LENGTH = 255

# The strategies each key steers; under any other strategy it would do nothing.
ECS_APPLIES_TO: dict[str, tuple[str, ...]] = {
    "minimumHealthyPercent": ("rolling",),
    "maximumPercent": ("rolling",),
    "canaryPercent": ("canary",),
    "linearPercent": ("linear",),
    "intervalMinutes": ("canary", "linear"),
    "testListenerPort": TRAFFIC_SHIFTING,
    "hooks": TRAFFIC_SHIFTING,
}
FUNCTION_APPLIES_TO: dict[str, tuple[str, ...]] = {
    "percentage": ("canary", "linear"),
    "intervalMinutes": ("canary", "linear"),
}
# The key that does the same job in the other kind of deployment.
COUNTERPARTS = {
    "percentage": "canaryPercent or linearPercent",
    "canaryPercent": "percentage",
    "linearPercent": "percentage",
}


def word_list(words: Sequence[str], conjunction: str = "and") -> str:
    """`a, b and c`: messages name the places or choices a key applies to."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


# --- ECS services --------------------------------------------------------------------------------


def read_ecs_deployment(
    r: Reader, event: Path_, kind: str, routing: Routing | None
) -> EcsDeployment:
    """`routing` is the httpd event's; a process event has none, so nothing to shift."""
    path = (*event, "deployment")
    if not _is_given(r, path):
        return EcsDeployment()
    _deployment_keys(r, path, kind, keys.ECS_DEPLOYMENT, keys.FUNCTION_DEPLOYMENT, FUNCTION_KINDS)
    strategy = _strategy(
        r, path, kind, ECS_STRATEGIES, "rolling", FUNCTION_STRATEGIES, FUNCTION_KINDS
    )
    if strategy is None:
        return EcsDeployment()
    _refuse_unused(r, path, strategy, ECS_APPLIES_TO)
    shifting = strategy in TRAFFIC_SHIFTING
    if shifting:
        _check_traffic_shift(r, event, strategy, routing)
    minimum, maximum = _capacity(r, path, strategy)
    canary, linear, interval = _steps(r, path, strategy)
    deployment = EcsDeployment(
        strategy=strategy,
        minimum_healthy_percent=minimum,
        maximum_percent=maximum,
        circuit_breaker=r.boolean((*path, "circuitBreaker")) is not False,
        canary_percent=canary,
        linear_percent=linear,
        interval_minutes=interval,
        bake_time_minutes=r.optional_integer((*path, "bakeTimeMinutes"), 0, 1440),
        test_listener_port=_test_listener_port(r, path, routing) if shifting else None,
        hooks=_hooks(r, (*path, "hooks")) if shifting else Hooks(),
        alarms=_alarms(r, (*path, "alarms")),
    )
    _check_duration(r, path, deployment)
    return deployment


def _check_traffic_shift(r: Reader, event: Path_, strategy: str, routing: Routing | None) -> None:
    """ECS shifts one production listener rule per service, between two target groups."""
    if routing is None:
        r.fail(
            (*event, "deployment", "strategy"),
            f"{strategy} shifts load-balancer traffic; a process event has none: use rolling "
            "or halfAtATime",
        )
    elif len(routing.routes) > 1:
        r.fail(
            (*event, "routes"),
            f"strategy {strategy} shifts the traffic of one listener rule, and this event has "
            f"{len(routing.routes)} routes: give it one route with a wider path (e.g. /api/*), "
            "or use strategy rolling",
        )


def _capacity(r: Reader, path: Path_, strategy: str) -> tuple[int, int]:
    """The share of the desired task count kept healthy, and the most that may run, while
    tasks are replaced; only rolling moves within them."""
    if strategy == "halfAtATime":
        return 50, 100
    if strategy != "rolling":
        return ECS_DEFAULT.minimum_healthy_percent, ECS_DEFAULT.maximum_percent
    minimum = r.integer((*path, "minimumHealthyPercent"), 100, 0, 100)
    maximum = r.integer((*path, "maximumPercent"), 200, 100, 200)
    if minimum == maximum == 100:
        r.fail(
            (*path, "maximumPercent"),
            "100 with minimumHealthyPercent 100 leaves no room to replace a task: lower "
            "minimumHealthyPercent or raise maximumPercent",
        )
    return minimum, maximum


def _steps(r: Reader, path: Path_, strategy: str) -> tuple[int, int, int]:
    """canaryPercent, linearPercent and intervalMinutes, which only canary and linear use."""
    canary, linear = ECS_DEFAULT.canary_percent, ECS_DEFAULT.linear_percent
    if strategy == "canary":
        canary = _step_percent(r, (*path, "canaryPercent"), canary, 1)
    if strategy == "linear":
        linear = _step_percent(r, (*path, "linearPercent"), linear, 3)
    interval = ECS_DEFAULT.interval_minutes
    if strategy in ("canary", "linear"):
        interval = r.integer((*path, "intervalMinutes"), interval, 0, 1440)
    return canary, linear, interval


def _step_percent(r: Reader, path: Path_, default: int, low: int) -> int:
    """A share of traffic ECS moves in one step, as a whole percentage.

    ECS itself takes tenths of a percent, but the template is checked with cfn-lint before it
    is deployed, and cfn-lint's `multipleOf: 0.1` test refuses about a third of the valid
    tenths (12.7, 33.3, 1.2) through floating-point error: such a value would stop every
    deploy at validation, before anything changes. Whole percentages always pass, so only they
    are taken (12.0 too is refused, as every whole-number key refuses it)."""
    value = r.get(path)
    if value is None:
        return default
    whole = f"must be a whole percentage, {low} to 100"
    if isinstance(value, float):
        if value.is_integer():
            r.fail(path, f"{whole}: write {int(value)}, not {value}")
        else:
            r.fail(path, f"{whole}, not {value}: the template check (cfn-lint) refuses many "
                   "tenths of a percent (12.7, 33.3) through a floating-point error")  # fmt: skip
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        r.fail(path, f"{whole}, not {kind_of(value)}")
        return default
    if not low <= value <= 100:
        r.fail(path, f"{value} is out of range ({low}..100)")
        return default
    return value


def _test_listener_port(r: Reader, path: Path_, routing: Routing | None) -> int | None:
    where = (*path, "testListenerPort")
    port = r.optional_integer(where, 1, 65535)
    if port is None or routing is None:
        return None
    if routing.listener.existing_arn:
        r.fail(
            where,
            "the test listener is added to the app's own load balancer; with albListenerArn "
            "this function uses another one",
        )
        return None
    if port in APP_LISTENER_PORTS:
        r.fail(where, f"{port} is a port of the app's own listeners (80, 443); choose another")
        return None
    return port


def planned_minutes(deployment: EcsDeployment) -> int:
    """How long CloudFormation reckons a canary or linear move takes, bake time included."""
    bake = _bake_minutes(deployment)
    if deployment.strategy == "canary":
        return bake + deployment.interval_minutes
    if deployment.strategy == "linear":
        return bake + deployment.interval_minutes * linear_waits(deployment.linear_percent)
    return bake


def linear_waits(step_percent: int) -> int:
    """The intervals of a linear move: none after the last step, and a step that does not
    divide 100 leaves a smaller last one (7 %: 14 steps of 7, then 2, so 14 waits)."""
    steps, rest = divmod(100, step_percent)
    return steps - 1 if rest == 0 else steps


def _bake_minutes(deployment: EcsDeployment) -> int:
    if deployment.bake_time_minutes is not None:
        return deployment.bake_time_minutes
    return ECS_BAKE_MINUTES if deployment.shifts_traffic else 0


def _check_duration(r: Reader, path: Path_, deployment: EcsDeployment) -> None:
    if deployment.strategy not in ("canary", "linear"):
        return
    total = planned_minutes(deployment)
    if total <= MAX_SHIFT_MINUTES:
        return
    bake = f"bakeTimeMinutes {_bake_minutes(deployment)}"
    if deployment.bake_time_minutes is None:
        bake = f"ECS's default {bake}"
    interval = f"intervalMinutes {deployment.interval_minutes}"
    if deployment.strategy == "linear":
        interval = f"{linear_waits(deployment.linear_percent)} waits of {interval}"
    r.fail(
        path,
        f"this {deployment.strategy} deployment would take {total} minutes ({bake} + "
        f"{interval}); CloudFormation refuses more than {MAX_SHIFT_MINUTES} (33 hours)",
    )


# --- Lambda functions ----------------------------------------------------------------------------


def read_function_deployment(r: Reader, event: Path_, kind: str) -> FunctionDeployment | None:
    """None without `deployment:`: invokers then call the function itself, as before."""
    path = (*event, "deployment")
    if not _is_given(r, path):
        return None
    _deployment_keys(r, path, kind, keys.FUNCTION_DEPLOYMENT, keys.ECS_DEPLOYMENT, ECS_KINDS)
    strategy = _strategy(r, path, kind, FUNCTION_STRATEGIES, "allAtOnce", ECS_STRATEGIES, ECS_KINDS)
    if strategy is None:
        return None
    _refuse_unused(r, path, strategy, FUNCTION_APPLIES_TO)
    shifting = strategy != "allAtOnce"
    interval = 1 if strategy == "linear" else 5
    return FunctionDeployment(
        strategy=strategy,
        percentage=r.integer((*path, "percentage"), 10, 1, 99) if shifting else 10,
        interval_minutes=r.integer((*path, "intervalMinutes"), interval, 1, 2880)
        if shifting
        else interval,
        alarms=_alarms(r, (*path, "alarms")),
        hooks=_hooks(r, (*path, "hooks")),
    )


# --- both ----------------------------------------------------------------------------------------


def _is_given(r: Reader, path: Path_) -> bool:
    """`deployment:` left empty in YAML (null) means the default, as if not written."""
    value = r.get(path)
    if value is None:
        return False
    if not isinstance(value, dict):
        r.mapping(path)
        return False
    return True


def _deployment_keys(
    r: Reader,
    path: Path_,
    kind: str,
    mine: frozenset[str],
    theirs: frozenset[str],
    their_kinds: tuple[str, ...],
) -> None:
    """A key of the other kind of deployment is named as such: `canaryPercent` on a Lambda
    event is no typo, it belongs to ECS. The key doing its job here is named too, except on a
    process event, which has no traffic to move in steps."""
    for key in r.mapping(path):
        if key in theirs and key not in mine:
            counterpart = ""
            if key in COUNTERPARTS and kind != "process":
                counterpart = f"; {kind} takes {COUNTERPARTS[key]}"
            r.fail((*path, key), f"applies to {word_list(their_kinds)} events, not {kind}"
                   f"{counterpart}")  # fmt: skip
    r.keys(path, mine | theirs)


def _strategy(
    r: Reader,
    path: Path_,
    kind: str,
    choices: tuple[str, ...],
    default: str,
    theirs: tuple[str, ...],
    their_kinds: tuple[str, ...],
) -> str | None:
    """The strategy, or None when it is misspelt or belongs to the other kind of event: then
    which keys apply cannot be judged."""
    where = (*path, "strategy")
    value = r.get(where)
    if isinstance(value, str) and value in theirs and value not in choices:
        r.fail(where, f"{value!r} is a strategy of {word_list(their_kinds)} events; {kind} takes "
               f"{word_list(choices, 'or')}")  # fmt: skip
        return None
    strategy = r.choice(where, choices, default)
    return strategy if value is None or value in choices else None


def _refuse_unused(
    r: Reader, path: Path_, strategy: str, applies_to: dict[str, tuple[str, ...]]
) -> None:
    for key, strategies in applies_to.items():
        if strategy not in strategies and r.get((*path, key)) is not None:
            r.fail((*path, key), f"applies to strategy: {word_list(strategies, 'or')}")


def _hooks(r: Reader, path: Path_) -> Hooks:
    if r.get(path) is None:
        return Hooks()
    r.mapping(path)
    r.keys(path, keys.HOOKS)
    return Hooks(
        pre_traffic=_hook(r, (*path, "preTraffic")),
        post_traffic=_hook(r, (*path, "postTraffic")),
    )


def _hook(r: Reader, path: Path_) -> str | None:
    """One of the app's functions, or any Lambda function by name or ARN; which of the app's
    functions exist is known only once all are read (`check_deployments`)."""
    target = r.string(path)
    if target is None:
        return None
    if target.startswith("arn:"):
        if HOOK_ARN.match(target):
            return target
        r.fail(path, f"{target!r} is not a Lambda function ARN "
               "(arn:aws:lambda:REGION:ACCOUNT:function:NAME)")  # fmt: skip
        return None
    if HOOK_NAME.match(target):
        return target
    r.fail(path, f"{target!r} is not a Lambda function name (letters, digits, - and _, at most "
           "64): name one of the app's functions, or any function by name or ARN")  # fmt: skip
    return None


def _alarms(r: Reader, path: Path_) -> tuple[str, ...]:
    """CloudWatch alarms by name, as ECS and CodeDeploy take them."""
    alarms = r.strings(path)
    listed = isinstance(r.get(path), list)
    for index, name in enumerate(alarms):
        where = (*path, index) if listed else path
        if name.startswith("arn:"):
            r.fail(where, f"{name!r}: give alarm names, not ARNs ({name.rsplit(':', 1)[-1]!r})")
        elif len(name) > ALARM_NAME_LENGTH:
            r.fail(where, f"is {len(name)} characters long; an alarm name has at most "
                   f"{ALARM_NAME_LENGTH}")  # fmt: skip
    if len(alarms) > MAX_ALARMS:
        r.fail(path, f"{len(alarms)} alarms: a deployment watches at most {MAX_ALARMS}")
    return alarms


# --- across the app ------------------------------------------------------------------------------


def check_deployments(r: Reader, events: Sequence[Event]) -> None:
    """What one event's `deployment:` cannot tell alone."""
    _check_hooks(r, events)
    _check_test_listeners(r, events)
    _check_request_scaling(r, events)


def _check_hooks(r: Reader, events: Sequence[Event]) -> None:
    """A hook naming one of the app's functions runs that function's Lambda, so it needs one,
    and a function judging its own new version would vouch for itself. Other names are
    taken as functions outside the app."""
    functions = {event.function for event in events}
    lambdas = {e.function for e in events if isinstance(e, LambdaContainerEvent | LambdaEvent)}
    for event in events:
        hooks = _hooks_of(event)
        for key, target in (("preTraffic", hooks.pre_traffic), ("postTraffic", hooks.post_traffic)):
            where = (*_event_path(event), "deployment", "hooks", key)
            if target == event.function:
                r.fail(where, f"names function {target} itself; a function cannot be its own "
                       "hook")  # fmt: skip
            elif target in functions and target not in lambdas:
                r.fail(where, f"names function {target}, which has no Lambda event; a hook "
                       "must be a Lambda function")  # fmt: skip


def _check_test_listeners(r: Reader, events: Sequence[Event]) -> None:
    """Events of one load balancer that give the same testListenerPort share its listener,
    which is HTTP or HTTPS as a whole."""
    first: dict[tuple[str, int], HttpdEvent] = {}
    for event in events:
        port = event.deployment.test_listener_port if isinstance(event, HttpdEvent) else None
        if not isinstance(event, HttpdEvent) or port is None:
            continue
        other = first.setdefault((event.routing.listener.key, port), event)
        secure = bool(event.routing.certificate_arns)
        if bool(other.routing.certificate_arns) != secure:
            r.fail(
                (*_event_path(event), "deployment", "testListenerPort"),
                f"{port} is also the test port of {dotted(_event_path(other))}, which has "
                f"{'no ' if secure else ''}certificateArns: the test listener is HTTP or HTTPS "
                "as a whole, so give both events certificates or neither",
            )


def _check_request_scaling(r: Reader, events: Sequence[Event]) -> None:
    """`autoScale.metric: requests` tracks ALBRequestCountPerTarget, which is read from one
    target group; a traffic-shifting deployment moves the service to the alternate target
    group every other deploy, so the scaler would then measure the idle one and scale the
    service in while it carries all the traffic."""
    for event in events:
        if not isinstance(event, HttpdEvent) or event.autoscale is None:
            continue
        strategy = event.deployment.strategy
        if event.autoscale.metric == "requests" and event.deployment.shifts_traffic:
            r.fail(
                (*_event_path(event), "autoScale", "metric"),
                f"requests is counted on one target group, and strategy {strategy} moves the "
                "service to the alternate target group every other deploy, so the scaler "
                "would watch the idle one: scale on cpu or memory, or deploy with rolling or "
                "halfAtATime",
            )


def _hooks_of(event: Event) -> Hooks:
    if isinstance(event, HttpdEvent | ProcessEvent):
        return event.deployment.hooks
    if isinstance(event, LambdaContainerEvent | LambdaEvent) and event.deployment:
        return event.deployment.hooks
    return Hooks()


def _event_path(event: Event) -> Path_:
    return ("hybridless", "functions", event.function, "events", event.index)
