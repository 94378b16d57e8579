"""`deployment:` of events, read from real YAML into EcsDeployment and FunctionDeployment.

Each test writes a hybridless.yml and checks the typed values, or the exact problems (line,
dotted key, message). The contract is docs/strategies.md and CONFIG.md "Deployment strategies".
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from hybridless.model import (
    App,
    EcsDeployment,
    FunctionDeployment,
    Hooks,
    HttpdEvent,
    LambdaContainerEvent,
    LambdaEvent,
    ProcessEvent,
)
from hybridless.model.deployment import linear_waits, planned_minutes
from tests.unit.configs import build, problems

LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/1a/2b"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"
HOOK_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:smoke-test"
HTTPS = f"certificateArns: [{CERTIFICATE}]"
HEAD = """\
service: shop
provider:
  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}
hybridless:
  functions:
"""
FN = "hybridless.functions.Fn.events[0]"
DEPLOYMENT = f"{FN}.deployment"


def function(
    name: str, kind: str, deployment: str = "", keys: str = "", function_keys: str = ""
) -> str:
    """One function under `functions:` with one event of `kind`: its `deployment:` block as
    the lines under it, then the event's other keys, then the function's own."""
    runtime = "python3.12" if kind == "lambda" else "container"
    lines = [f"    {name}:", "      handler: app.handler", "      events:",
             f"        - eventType: {kind}", f"          runtime: {runtime}"]  # fmt: skip
    if deployment:
        lines.append("          deployment:")
        lines += [f"            {line}" for line in dedent(deployment).splitlines() if line]
    lines += [f"          {line}" for line in dedent(keys).splitlines() if line]
    lines += [f"      {line}" for line in dedent(function_keys).splitlines() if line]
    return "\n".join(lines) + "\n"


def one(kind: str, deployment: str = "", keys: str = "", function_keys: str = "") -> str:
    """The app with one function, Fn. Lines: 6 Fn, 9 the event, 11 `deployment:`, its keys
    from 12 on."""
    return HEAD + function("Fn", kind, deployment, keys, function_keys)


def lines_of(text: str, needle: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if needle in line]


def line_of(text: str, needle: str) -> int:
    return lines_of(text, needle)[0]


def only(app: App) -> object:
    (event,) = app.events
    return event


def ecs_deployment(tmp_path: Path, kind: str, deployment: str, keys: str = "") -> EcsDeployment:
    event = only(build(tmp_path, one(kind, deployment, keys)))
    assert isinstance(event, HttpdEvent | ProcessEvent)
    return event.deployment


def function_deployment(tmp_path: Path, kind: str, text: str) -> FunctionDeployment | None:
    event = only(build(tmp_path, one(kind, text) if text else one(kind)))
    assert isinstance(event, LambdaEvent | LambdaContainerEvent)
    return event.deployment


# --- ECS: what each strategy resolves to ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["httpd", "process"])
def test_an_ecs_event_without_deployment_rolls_with_the_circuit_breaker(
    tmp_path: Path, kind: str
) -> None:
    event = only(build(tmp_path, one(kind)))

    assert isinstance(event, HttpdEvent | ProcessEvent)
    deployment = event.deployment
    assert deployment == EcsDeployment()
    assert (deployment.strategy, deployment.minimum_healthy_percent, deployment.maximum_percent,
            deployment.circuit_breaker) == ("rolling", 100, 200, True)  # fmt: skip
    assert (deployment.bake_time_minutes, deployment.hooks, deployment.alarms) == (
        None,
        Hooks(),
        (),
    )


@pytest.mark.parametrize("written", ["deployment: {}", "deployment:"])
def test_an_empty_deployment_is_the_default(tmp_path: Path, written: str) -> None:
    assert ecs_deployment(tmp_path, "httpd", "", keys=written) == EcsDeployment()


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        pytest.param(
            "process",
            "minimumHealthyPercent: 50\nmaximumPercent: 150\ncircuitBreaker: false",
            EcsDeployment(minimum_healthy_percent=50, maximum_percent=150, circuit_breaker=False),
            id="rolling",
        ),
        pytest.param(
            "process",
            "strategy: halfAtATime\nbakeTimeMinutes: 3",
            EcsDeployment(strategy="halfAtATime", minimum_healthy_percent=50, maximum_percent=100,
                          bake_time_minutes=3),
            id="halfAtATime",
        ),
        pytest.param(
            "httpd",
            f"""\
            strategy: blueGreen
            bakeTimeMinutes: 10
            testListenerPort: 8443
            hooks: {{preTraffic: smoke-test, postTraffic: "{HOOK_ARN}"}}
            alarms: [web-5xx, web-latency]
            """,
            EcsDeployment(strategy="blueGreen", bake_time_minutes=10, test_listener_port=8443,
                          hooks=Hooks("smoke-test", HOOK_ARN), alarms=("web-5xx", "web-latency")),
            id="blueGreen",
        ),
        pytest.param(
            "httpd",
            "strategy: canary",
            EcsDeployment(strategy="canary", canary_percent=10, interval_minutes=5),
            id="canary by default",
        ),
        pytest.param(
            "httpd",
            "strategy: canary\ncanaryPercent: 12\nintervalMinutes: 0",
            EcsDeployment(strategy="canary", canary_percent=12, interval_minutes=0),
            id="canary",
        ),
        pytest.param(
            "httpd",
            "strategy: linear",
            EcsDeployment(strategy="linear", linear_percent=20, interval_minutes=5),
            id="linear by default",
        ),
        pytest.param(
            "httpd",
            "strategy: linear\nlinearPercent: 25\nintervalMinutes: 3\nalarms: web-5xx",
            EcsDeployment(strategy="linear", linear_percent=25, interval_minutes=3,
                          alarms=("web-5xx",)),
            id="linear",
        ),
    ],
)  # fmt: skip
def test_each_ecs_strategy_resolves_to_its_values(
    tmp_path: Path, kind: str, text: str, expected: EcsDeployment
) -> None:
    assert ecs_deployment(tmp_path, kind, text) == expected


def test_half_at_a_time_is_rolling_at_50_100(tmp_path: Path) -> None:
    deployment = ecs_deployment(tmp_path, "httpd", "strategy: halfAtATime")

    assert (deployment.minimum_healthy_percent, deployment.maximum_percent) == (50, 100)
    assert not deployment.shifts_traffic


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("strategy: canary\ncanaryPercent: 1", 1),
        ("strategy: canary\ncanaryPercent: 100", 100),
        ("strategy: canary", 10),
        ("strategy: linear\nlinearPercent: 3", 3),
        ("strategy: linear\nlinearPercent: 7", 7),
        ("strategy: linear\nlinearPercent: 100", 100),
        ("strategy: linear", 20),
    ],
)
def test_a_step_is_a_whole_percentage(tmp_path: Path, text: str, percent: int) -> None:
    """Whole numbers only: cfn-lint's multipleOf 0.1 check refuses many tenths (12.7, 33.3)."""
    deployment = ecs_deployment(tmp_path, "httpd", text)

    step = deployment.canary_percent if "canary" in text else deployment.linear_percent
    assert step == percent and type(step) is int


# --- ECS: refusals -------------------------------------------------------------------------------


def test_a_misspelt_strategy_gets_a_hint(tmp_path: Path) -> None:
    assert problems(tmp_path, one("httpd", "strategy: blueGren\ncanaryPercent: 5")) == [
        (12, f"{DEPLOYMENT}.strategy", "'blueGren' must be one of rolling, halfAtATime, "
         "blueGreen, canary, linear; did you mean 'blueGreen'?"),
    ]  # fmt: skip


def test_a_lambda_strategy_on_an_ecs_event_is_named_as_such(tmp_path: Path) -> None:
    assert problems(tmp_path, one("process", "strategy: allAtOnce")) == [
        (12, f"{DEPLOYMENT}.strategy", "'allAtOnce' is a strategy of lambdaContainer and lambda "
         "events; process takes rolling, halfAtATime, blueGreen, canary or linear"),
    ]  # fmt: skip


@pytest.mark.parametrize("strategy", ["blueGreen", "canary", "linear"])
def test_a_process_event_has_no_traffic_to_shift(tmp_path: Path, strategy: str) -> None:
    assert problems(tmp_path, one("process", f"strategy: {strategy}")) == [
        (12, f"{DEPLOYMENT}.strategy", f"{strategy} shifts load-balancer traffic; a process "
         "event has none: use rolling or halfAtATime"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("strategy: canary\nminimumHealthyPercent: 50", "minimumHealthyPercent",
         "applies to strategy: rolling"),
        ("strategy: halfAtATime\nmaximumPercent: 150", "maximumPercent",
         "applies to strategy: rolling"),
        ("strategy: linear\ncanaryPercent: 5", "canaryPercent", "applies to strategy: canary"),
        ("strategy: canary\nlinearPercent: 5", "linearPercent", "applies to strategy: linear"),
        ("strategy: blueGreen\nintervalMinutes: 5", "intervalMinutes",
         "applies to strategy: canary or linear"),
        ("strategy: rolling\ntestListenerPort: 8443", "testListenerPort",
         "applies to strategy: blueGreen, canary or linear"),
        ("strategy: halfAtATime\nhooks: {preTraffic: smoke-test}", "hooks",
         "applies to strategy: blueGreen, canary or linear"),
        ("hooks: {postTraffic: smoke-test}", "hooks",
         "applies to strategy: blueGreen, canary or linear"),
    ],
    ids=["minimum with canary", "maximum with halfAtATime", "canaryPercent with linear",
         "linearPercent with canary", "interval with blueGreen", "test port with rolling",
         "hooks with halfAtATime", "hooks with the default"],
)  # fmt: skip
def test_a_key_the_strategy_does_not_use_is_refused(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    text = one("httpd", text)

    assert problems(tmp_path, text) == [(line_of(text, f"{key}:"), f"{DEPLOYMENT}.{key}", message)]


def test_no_room_to_replace_a_task(tmp_path: Path) -> None:
    text = one("httpd", "minimumHealthyPercent: 100\nmaximumPercent: 100")

    assert problems(tmp_path, text) == [
        (13, f"{DEPLOYMENT}.maximumPercent", "100 with minimumHealthyPercent 100 leaves no room "
         "to replace a task: lower minimumHealthyPercent or raise maximumPercent"),
    ]  # fmt: skip
    assert problems(tmp_path, one("httpd", "maximumPercent: 100")) == [
        (12, f"{DEPLOYMENT}.maximumPercent", "100 with minimumHealthyPercent 100 leaves no room "
         "to replace a task: lower minimumHealthyPercent or raise maximumPercent"),
    ]  # fmt: skip
    assert ecs_deployment(tmp_path, "httpd", "minimumHealthyPercent: 0\nmaximumPercent: 100") == (
        EcsDeployment(minimum_healthy_percent=0, maximum_percent=100)
    )


@pytest.mark.parametrize(
    ("text", "key", "low", "written"),
    [
        ("strategy: canary\ncanaryPercent: 12.7", "canaryPercent", 1, "12.7"),
        ("strategy: canary\ncanaryPercent: 33.3", "canaryPercent", 1, "33.3"),
        ("strategy: canary\ncanaryPercent: 1.2", "canaryPercent", 1, "1.2"),
        ("strategy: canary\ncanaryPercent: 0.1", "canaryPercent", 1, "0.1"),
        ("strategy: canary\ncanaryPercent: 12.5", "canaryPercent", 1, "12.5"),
        ("strategy: linear\nlinearPercent: 2.9", "linearPercent", 3, "2.9"),
        ("strategy: linear\nlinearPercent: 12.5", "linearPercent", 3, "12.5"),
        ("strategy: linear\nlinearPercent: 100.5", "linearPercent", 3, "100.5"),
    ],
)  # fmt: skip
def test_a_step_in_tenths_is_refused_with_the_reason(
    tmp_path: Path, text: str, key: str, low: int, written: str
) -> None:
    """ECS takes tenths, but cfn-lint, which checks the template before every deploy, refuses
    about a third of them through floating-point error: the deploy would stop at validation."""
    text = one("httpd", text)

    assert problems(tmp_path, text) == [
        (line_of(text, f"{key}:"), f"{DEPLOYMENT}.{key}",
         f"must be a whole percentage, {low} to 100, not {written}: the template check "
         "(cfn-lint) refuses many tenths of a percent (12.7, 33.3) through a floating-point "
         "error"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("strategy: canary\ncanaryPercent: 12.0", "canaryPercent",
         "must be a whole percentage, 1 to 100: write 12, not 12.0"),
        ("strategy: linear\nlinearPercent: 25.0", "linearPercent",
         "must be a whole percentage, 3 to 100: write 25, not 25.0"),
    ],
)  # fmt: skip
def test_a_whole_percentage_written_as_a_fraction_is_refused(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    text = one("httpd", text)

    assert problems(tmp_path, text) == [(line_of(text, f"{key}:"), f"{DEPLOYMENT}.{key}", message)]


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("minimumHealthyPercent: 101", "minimumHealthyPercent", "101 is out of range (0..100)"),
        ("maximumPercent: 99", "maximumPercent", "99 is out of range (100..200)"),
        ("maximumPercent: 201", "maximumPercent", "201 is out of range (100..200)"),
        ("circuitBreaker: sometimes", "circuitBreaker", "must be true or false, not a string"),
        ("bakeTimeMinutes: 1441", "bakeTimeMinutes", "1441 is out of range (0..1440)"),
        ("strategy: canary\ncanaryPercent: 0", "canaryPercent", "0 is out of range (1..100)"),
        ("strategy: canary\ncanaryPercent: 101", "canaryPercent",
         "101 is out of range (1..100)"),
        ("strategy: canary\ncanaryPercent: ten", "canaryPercent",
         "must be a whole percentage, 1 to 100, not a string"),
        ("strategy: canary\ncanaryPercent: true", "canaryPercent",
         "must be a whole percentage, 1 to 100, not a boolean"),
        ("strategy: linear\nlinearPercent: 2", "linearPercent", "2 is out of range (3..100)"),
        ("strategy: linear\nlinearPercent: 101", "linearPercent", "101 is out of range (3..100)"),
        ("strategy: canary\nintervalMinutes: 1441", "intervalMinutes",
         "1441 is out of range (0..1440)"),
        ("strategy: blueGreen\ntestListenerPort: 65536", "testListenerPort",
         "65536 is out of range (1..65535)"),
        ("strategy: blueGreen\ntestListenerPort: 80", "testListenerPort",
         "80 is a port of the app's own listeners (80, 443); choose another"),
        ("strategy: canary\ntestListenerPort: 443", "testListenerPort",
         "443 is a port of the app's own listeners (80, 443); choose another"),
    ],
)  # fmt: skip
def test_values_out_of_bounds_are_refused(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    text = one("httpd", text)

    assert problems(tmp_path, text) == [(line_of(text, f"{key}:"), f"{DEPLOYMENT}.{key}", message)]


def test_a_test_listener_needs_the_app_s_own_load_balancer(tmp_path: Path) -> None:
    text = one(
        "httpd",
        "strategy: blueGreen\ntestListenerPort: 8443",
        keys="routes: [{path: /*, priority: 100}]",
        function_keys=f"albListenerArn: {LISTENER}",
    )

    assert problems(tmp_path, text) == [
        (13, f"{DEPLOYMENT}.testListenerPort", "the test listener is added to the app's own "
         "load balancer; with albListenerArn this function uses another one"),
    ]  # fmt: skip


def test_a_traffic_shift_on_an_existing_listener_without_a_test_port(tmp_path: Path) -> None:
    text = one(
        "httpd",
        "strategy: canary",
        keys="routes: [{path: /*, priority: 100}]",
        function_keys=f"albListenerArn: {LISTENER}",
    )

    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent)
    assert (event.deployment.strategy, event.deployment.test_listener_port) == ("canary", None)


@pytest.mark.parametrize("strategy", ["blueGreen", "canary", "linear"])
def test_a_traffic_shift_needs_exactly_one_route(tmp_path: Path, strategy: str) -> None:
    text = one("httpd", f"strategy: {strategy}", keys="routes: [{path: /a/*}, {path: /b/*}]")

    assert problems(tmp_path, text) == [
        (13, f"{FN}.routes", f"strategy {strategy} shifts the traffic of one listener rule, and "
         "this event has 2 routes: give it one route with a wider path (e.g. /api/*), or use "
         "strategy rolling"),
    ]  # fmt: skip


@pytest.mark.parametrize("routes", ["", "routes: [{path: /api/*}]"], ids=["default", "one"])
def test_one_route_may_shift_traffic(tmp_path: Path, routes: str) -> None:
    deployment = ecs_deployment(tmp_path, "httpd", "strategy: blueGreen", keys=routes)

    assert deployment.strategy == "blueGreen"


def test_two_routes_may_roll(tmp_path: Path) -> None:
    text = one("httpd", "strategy: halfAtATime", keys="routes: [{path: /a/*}, {path: /b/*}]")

    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent) and len(event.routing.routes) == 2
    assert event.deployment.strategy == "halfAtATime"


# --- ECS: scaling on requests ---------------------------------------------------------------------

REQUESTS = "autoScale:\n  min: 1\n  max: 4\n  metric: requests"


@pytest.mark.parametrize("strategy", ["blueGreen", "canary", "linear"])
def test_scaling_on_requests_is_refused_with_a_traffic_shift(tmp_path: Path, strategy: str) -> None:
    text = one("httpd", f"strategy: {strategy}", keys=REQUESTS)

    assert problems(tmp_path, text) == [
        (line_of(text, "metric: requests"), f"{FN}.autoScale.metric",
         f"requests is counted on one target group, and strategy {strategy} moves the service "
         "to the alternate target group every other deploy, so the scaler would watch the idle "
         "one: scale on cpu or memory, or deploy with rolling or halfAtATime"),
    ]  # fmt: skip


@pytest.mark.parametrize("strategy", ["rolling", "halfAtATime"])
def test_scaling_on_requests_stays_with_a_rolling_deployment(tmp_path: Path, strategy: str) -> None:
    event = only(build(tmp_path, one("httpd", f"strategy: {strategy}", keys=REQUESTS)))

    assert isinstance(event, HttpdEvent) and event.autoscale is not None
    assert (event.autoscale.metric, event.deployment.strategy) == ("requests", strategy)


def test_scaling_on_requests_without_a_deployment_rolls(tmp_path: Path) -> None:
    event = only(build(tmp_path, one("httpd", keys=REQUESTS)))

    assert isinstance(event, HttpdEvent) and event.autoscale is not None
    assert (event.autoscale.metric, event.deployment.strategy) == ("requests", "rolling")


@pytest.mark.parametrize("metric", ["cpu", "memory"])
@pytest.mark.parametrize("strategy", ["blueGreen", "canary", "linear"])
def test_a_traffic_shift_scales_on_cpu_or_memory(
    tmp_path: Path, strategy: str, metric: str
) -> None:
    keys = f"autoScale: {{min: 1, max: 4, metric: {metric}}}"
    event = only(build(tmp_path, one("httpd", f"strategy: {strategy}", keys=keys)))

    assert isinstance(event, HttpdEvent) and event.autoscale is not None
    assert (event.autoscale.metric, event.deployment.strategy) == (metric, strategy)


def test_requests_on_another_load_balancer_is_refused_once(tmp_path: Path) -> None:
    """With albListenerArn, requests is refused for want of the app's load balancer; the
    traffic shift does not add a second problem at the same key."""
    text = one(
        "httpd",
        "strategy: canary",
        keys=f"routes: [{{path: /*, priority: 100}}]\n{REQUESTS}",
        function_keys=f"albListenerArn: {LISTENER}",
    )

    assert problems(tmp_path, text) == [
        (line_of(text, "metric: requests"), f"{FN}.autoScale.metric",
         "requests per target needs a load balancer the app creates (not a process event or an "
         "albListenerArn)"),
    ]  # fmt: skip


# --- ECS: the 33-hour limit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "waits"),
    [(20, 4), (25, 3), (7, 14), (30, 3), (33, 3), (34, 2), (3, 33), (50, 1), (99, 1), (100, 0)],
)
def test_a_linear_move_waits_after_every_step_but_the_last(step: int, waits: int) -> None:
    assert linear_waits(step) == waits


def test_the_planned_duration_counts_ecs_s_default_bake_time() -> None:
    assert planned_minutes(EcsDeployment(strategy="canary", interval_minutes=7)) == 15 + 7
    linear = EcsDeployment(strategy="linear", linear_percent=25, interval_minutes=10)
    assert planned_minutes(linear) == 15 + 3 * 10
    assert planned_minutes(EcsDeployment(strategy="blueGreen", bake_time_minutes=4)) == 4


@pytest.mark.parametrize(
    "text",
    [
        "strategy: canary\nintervalMinutes: 1440\nbakeTimeMinutes: 540",
        "strategy: linear\nintervalMinutes: 480\nbakeTimeMinutes: 60",
        "strategy: linear\nlinearPercent: 3\nintervalMinutes: 59\nbakeTimeMinutes: 33",
        "strategy: linear\nlinearPercent: 7\nintervalMinutes: 140\nbakeTimeMinutes: 20",
    ],
    ids=["canary", "linear", "linear in 3% steps", "linear in 7% steps"],
)
def test_a_move_of_33_hours_is_accepted(tmp_path: Path, text: str) -> None:
    deployment = ecs_deployment(tmp_path, "httpd", text)

    assert planned_minutes(deployment) == 1980


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strategy: canary\nintervalMinutes: 1440\nbakeTimeMinutes: 541",
         "this canary deployment would take 1981 minutes (bakeTimeMinutes 541 + "
         "intervalMinutes 1440); CloudFormation refuses more than 1980 (33 hours)"),
        ("strategy: linear\nintervalMinutes: 480\nbakeTimeMinutes: 61",
         "this linear deployment would take 1981 minutes (bakeTimeMinutes 61 + 4 waits of "
         "intervalMinutes 480); CloudFormation refuses more than 1980 (33 hours)"),
        ("strategy: linear\nlinearPercent: 3\nintervalMinutes: 60",
         "this linear deployment would take 1995 minutes (ECS's default bakeTimeMinutes 15 + "
         "33 waits of intervalMinutes 60); CloudFormation refuses more than 1980 (33 hours)"),
        ("strategy: linear\nlinearPercent: 7\nintervalMinutes: 140\nbakeTimeMinutes: 21",
         "this linear deployment would take 1981 minutes (bakeTimeMinutes 21 + 14 waits of "
         "intervalMinutes 140); CloudFormation refuses more than 1980 (33 hours)"),
    ],
    ids=["canary", "linear", "linear with the default bake time", "linear in 7% steps"],
)  # fmt: skip
def test_a_move_of_more_than_33_hours_is_refused_at_the_deployment(
    tmp_path: Path, text: str, message: str
) -> None:
    assert problems(tmp_path, one("httpd", text)) == [(11, DEPLOYMENT, message)]


# --- hooks and alarms ----------------------------------------------------------------------------


def test_hooks_name_an_app_function_an_outside_function_or_an_arn(tmp_path: Path) -> None:
    web = function(
        "Web",
        "httpd",
        f'strategy: canary\nhooks: {{preTraffic: Check, postTraffic: "{HOOK_ARN}:live"}}',
    )
    worker = function("Worker", "lambdaContainer", "hooks: {preTraffic: outside_check-2}")

    app = build(tmp_path, HEAD + web + function("Check", "lambda") + worker)

    httpd, _check, container = app.events
    assert isinstance(httpd, HttpdEvent) and isinstance(container, LambdaContainerEvent)
    assert httpd.deployment.hooks == Hooks("Check", f"{HOOK_ARN}:live")
    assert container.deployment == FunctionDeployment(hooks=Hooks("outside_check-2"))


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ("arn:aws:lambda:eu-west-1:123456789012:layer:x",
         "'arn:aws:lambda:eu-west-1:123456789012:layer:x' is not a Lambda function ARN "
         "(arn:aws:lambda:REGION:ACCOUNT:function:NAME)"),
        ("smoke test", "'smoke test' is not a Lambda function name (letters, digits, - and _, "
         "at most 64): name one of the app's functions, or any function by name or ARN"),
        ("x" * 65, f"'{'x' * 65}' is not a Lambda function name (letters, digits, - and _, at "
         "most 64): name one of the app's functions, or any function by name or ARN"),
    ],
    ids=["not a function ARN", "a space", "too long"],
)  # fmt: skip
def test_a_hook_that_is_no_lambda_function_is_refused(
    tmp_path: Path, hook: str, message: str
) -> None:
    text = one("httpd", f'strategy: blueGreen\nhooks:\n  preTraffic: "{hook}"')

    assert problems(tmp_path, text) == [(14, f"{DEPLOYMENT}.hooks.preTraffic", message)]


def test_hooks_take_pre_and_post_traffic_only(tmp_path: Path) -> None:
    text = one("lambda", "hooks:\n  preTrafic: check\n  during: check")

    assert problems(tmp_path, text) == [
        (13, f"{DEPLOYMENT}.hooks.preTrafic", "unknown key; did you mean 'preTraffic'?"),
        (14, f"{DEPLOYMENT}.hooks.during", "unknown key"),
    ]


def test_a_hook_naming_a_function_without_a_lambda_event_is_refused(tmp_path: Path) -> None:
    worker = function("Worker", "lambda", "strategy: canary\nhooks: {postTraffic: Web}")
    text = HEAD + function("Web", "httpd") + worker

    assert problems(tmp_path, text) == [
        (line_of(text, "postTraffic: Web"),
         "hybridless.functions.Worker.events[0].deployment.hooks.postTraffic",
         "names function Web, which has no Lambda event; a hook must be a Lambda function"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["lambda", "lambdaContainer"])
def test_a_function_cannot_be_its_own_hook(tmp_path: Path, kind: str) -> None:
    text = one(kind, "hooks:\n  preTraffic: Fn")

    assert problems(tmp_path, text) == [
        (13, f"{DEPLOYMENT}.hooks.preTraffic",
         "names function Fn itself; a function cannot be its own hook"),
    ]  # fmt: skip


def test_alarms_are_names(tmp_path: Path) -> None:
    arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-5xx"
    text = one("httpd", f'alarms:\n  - ok\n  - "{arn}"\n  - {"a" * 256}')

    assert problems(tmp_path, text) == [
        (14, f"{DEPLOYMENT}.alarms[1]", f"'{arn}': give alarm names, not ARNs ('web-5xx')"),
        (15, f"{DEPLOYMENT}.alarms[2]",
         "is 256 characters long; an alarm name has at most 255"),
    ]  # fmt: skip


def test_at_most_ten_alarms(tmp_path: Path) -> None:
    eleven = ", ".join(f"a{n}" for n in range(11))

    assert problems(tmp_path, one("lambda", f"alarms: [{eleven}]")) == [
        (12, f"{DEPLOYMENT}.alarms", "11 alarms: a deployment watches at most 10"),
    ]
    ten = ", ".join(f"a{n}" for n in range(10))
    deployment = function_deployment(tmp_path, "lambda", f"alarms: [{ten}]")
    assert deployment is not None and len(deployment.alarms) == 10


# --- Lambda --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lambda", "lambdaContainer"])
def test_a_lambda_event_without_deployment_has_none(tmp_path: Path, kind: str) -> None:
    assert function_deployment(tmp_path, kind, "") is None


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("lambda", "strategy: allAtOnce", FunctionDeployment()),
        ("lambda", "strategy: canary", FunctionDeployment("canary", 10, 5)),
        ("lambdaContainer", "strategy: linear", FunctionDeployment("linear", 10, 1)),
        ("lambdaContainer", "strategy: canary\npercentage: 25\nintervalMinutes: 2880",
         FunctionDeployment("canary", 25, 2880)),
        ("lambda", "strategy: linear\npercentage: 1\nintervalMinutes: 1\nalarms: [errors]",
         FunctionDeployment("linear", 1, 1, alarms=("errors",))),
        ("lambda", f'hooks: {{preTraffic: check, postTraffic: "{HOOK_ARN}"}}',
         FunctionDeployment(hooks=Hooks("check", HOOK_ARN))),
    ],
    ids=["allAtOnce", "canary by default", "linear by default", "canary", "linear",
         "hooks with allAtOnce"],
)  # fmt: skip
def test_each_lambda_strategy_resolves_to_its_values(
    tmp_path: Path, kind: str, text: str, expected: FunctionDeployment
) -> None:
    assert function_deployment(tmp_path, kind, text) == expected


def test_an_empty_lambda_deployment_moves_all_at_once(tmp_path: Path) -> None:
    event = only(build(tmp_path, one("lambda", keys="deployment: {}")))

    assert isinstance(event, LambdaEvent)
    assert event.deployment == FunctionDeployment("allAtOnce")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("strategy: allAtOnce\npercentage: 20", "percentage",
         "applies to strategy: canary or linear"),
        ("intervalMinutes: 5", "intervalMinutes", "applies to strategy: canary or linear"),
        ("strategy: canary\npercentage: 100", "percentage", "100 is out of range (1..99)"),
        ("strategy: canary\npercentage: 0", "percentage", "0 is out of range (1..99)"),
        ("strategy: linear\npercentage: 2.5", "percentage", "must be a whole number, not float"),
        ("strategy: linear\nintervalMinutes: 0", "intervalMinutes", "0 is out of range (1..2880)"),
        ("strategy: canary\nintervalMinutes: 2881", "intervalMinutes",
         "2881 is out of range (1..2880)"),
        ("strategy: canry", "strategy",
         "'canry' must be one of allAtOnce, canary, linear; did you mean 'canary'?"),
        ("strategy: blueGreen", "strategy", "'blueGreen' is a strategy of httpd and process "
         "events; lambda takes allAtOnce, canary or linear"),
    ],
)  # fmt: skip
def test_lambda_deployment_mistakes(tmp_path: Path, text: str, key: str, message: str) -> None:
    text = one("lambda", text)

    assert problems(tmp_path, text) == [(line_of(text, f"{key}:"), f"{DEPLOYMENT}.{key}", message)]


# --- keys of the other kind of event -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "key", "message"),
    [
        ("lambda", "strategy: canary\ncanaryPercent: 5", "canaryPercent",
         "applies to httpd and process events, not lambda; lambda takes percentage"),
        ("lambdaContainer", "strategy: linear\nlinearPercent: 5", "linearPercent",
         "applies to httpd and process events, not lambdaContainer; lambdaContainer takes "
         "percentage"),
        ("lambda", "bakeTimeMinutes: 5", "bakeTimeMinutes",
         "applies to httpd and process events, not lambda"),
        ("lambda", "circuitBreaker: true", "circuitBreaker",
         "applies to httpd and process events, not lambda"),
        ("httpd", "strategy: canary\npercentage: 5", "percentage",
         "applies to lambdaContainer and lambda events, not httpd; httpd takes canaryPercent "
         "or linearPercent"),
        ("process", "percentage: 5", "percentage",
         "applies to lambdaContainer and lambda events, not process"),
        ("process", "stratgy: rolling", "stratgy", "unknown key; did you mean 'strategy'?"),
    ],
    ids=["canaryPercent on lambda", "linearPercent on lambdaContainer",
         "bakeTimeMinutes on lambda", "circuitBreaker on lambda", "percentage on httpd",
         "percentage on process", "a misspelt key"],
)  # fmt: skip
def test_a_key_of_the_other_kind_of_deployment_names_where_it_applies(
    tmp_path: Path, kind: str, text: str, key: str, message: str
) -> None:
    text = one(kind, text)

    assert problems(tmp_path, text) == [(line_of(text, f"{key}:"), f"{DEPLOYMENT}.{key}", message)]


@pytest.mark.parametrize("kind", ["httpd", "lambda"])
def test_a_deployment_is_a_mapping(tmp_path: Path, kind: str) -> None:
    assert problems(tmp_path, one(kind, keys="deployment: canary")) == [
        (11, DEPLOYMENT, "must be a mapping, not a string")
    ]


def test_a_scheduled_task_has_no_deployment(tmp_path: Path) -> None:
    text = one("scheduledTask", "strategy: rolling", keys="schedulerRate: rate(1 hour)")

    assert problems(tmp_path, text) == [
        (11, DEPLOYMENT, "applies to httpd, process, lambdaContainer and lambda events, not "
         "scheduledTask"),
    ]  # fmt: skip


# --- test listeners shared between events --------------------------------------------------------


def web(name: str, port: int, keys: str = "", function_keys: str = "") -> str:
    return function(
        name,
        "httpd",
        f"strategy: blueGreen\ntestListenerPort: {port}",
        f"routes: [{{path: /{name.lower()}/*}}]\n{keys}",
        function_keys,
    )


def test_events_sharing_a_test_port_must_agree_on_https(tmp_path: Path) -> None:
    text = HEAD + web("Shop", 8443, HTTPS) + web("Admin", 8443)

    assert problems(tmp_path, text) == [
        (lines_of(text, "testListenerPort: 8443")[1],
         "hybridless.functions.Admin.events[0].deployment.testListenerPort",
         "8443 is also the test port of hybridless.functions.Shop.events[0], which has "
         "certificateArns: the test listener is HTTP or HTTPS as a whole, so give both events "
         "certificates or neither"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "ports"),
    [
        (HEAD + web("Shop", 8443) + web("Admin", 8443), [8443, 8443]),
        (HEAD + web("Shop", 8443, HTTPS) + web("Admin", 8443, HTTPS), [8443, 8443]),
        (HEAD + web("Shop", 8443, HTTPS) + web("Admin", 8444), [8443, 8444]),
        (HEAD + web("Shop", 8443, HTTPS) + web("Admin", 8443, function_keys="albIsPrivate: true"),
         [8443, 8443]),
    ],
    ids=["both HTTP", "both HTTPS", "other ports", "other load balancers"],
)  # fmt: skip
def test_test_ports_that_do_not_clash(tmp_path: Path, text: str, ports: list[int]) -> None:
    app = build(tmp_path, text)

    assert [event.deployment.test_listener_port for event in app.httpd_events] == ports
