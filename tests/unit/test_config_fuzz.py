"""Config fuzzing: whatever a user writes, the tool answers with its own message, placed.

The CLI's first two phases (config, template check) run on every generated file exactly as
`pipeline.deploy` runs them, short of cfn-lint: load with notices, render the stacks with
placeholder images and code, check the (absent) parameter overrides, serialise the templates.
Two properties hold for every input:

1. nothing but a `HybridlessError` comes out (a traceback tells the user about this program,
   not about their file), and no input takes long or grows without bound (aliases, nesting);
2. every problem of a `ConfigError`, and every notice, names the config file and, unless the
   file holds no YAML node at all (empty, or only comments), a line inside it, shown as
   `hybridless.yml:<line>:`. Such a file has nothing to point at; anything else has a node
   the problem is about, or an ancestor of the missing key, or the place YAML stopped reading.

The examples are fixed (`derandomize`) and nothing is stored (`database=None`), so a CI run is
reproducible and leaves no `.hypothesis/` behind; set HYBRIDLESS_FUZZ_RANDOM=1 to explore.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from hybridless.config import load_app_with_notices
from hybridless.config.loader import parse_document
from hybridless.errors import ConfigError, HybridlessError, Problem
from hybridless.model import Overrides
from hybridless.pipeline import check_parameters, lintable, placeholder_code, placeholder_images
from hybridless.template import render_stacks
from tests.unit.test_model import HTTPD_APP, LAMBDA_APP, LAMBDA_ZIP_APP
from tests.unit.test_serverless_config import SERVERLESS_YML

ROOT = Path(__file__).parents[2]
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"
ENVIRON = {
    "AWS_REGION": "eu-west-1",
    "VPC_ID": "vpc-1",
    "SUBNET_A": "subnet-a",
    "SUBNET_B": "subnet-b",
    "SECURITY_GROUP_ID": "sg-1",
    "CERTIFICATE_ARN": CERTIFICATE,
    "X": "x",
    "EMPTY": "",
    "NUMBER": "42",
}
SLOW_SECONDS = 10.0  # per input; an unbounded expansion takes minutes or never ends

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=not os.environ.get("HYBRIDLESS_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory with what the examples refer to: Dockerfiles, code, a data file."""
    directory = tmp_path_factory.mktemp("fuzz")
    for name in ("Dockerfile", "Dockerfile.web", "Dockerfile.lambda"):
        (directory / name).write_text("FROM scratch\n", encoding="utf-8")
    (directory / "src").mkdir()
    (directory / "src" / "app.py").write_text("def handler(event, context): ...\n")
    (directory / "env.yml").write_text("stage: prod\nmemory: 512\nnested: {a: 1}\nlist: [a, b]\n")
    return directory


# --- the run and the properties ------------------------------------------------------------


def run_cli_phases(workdir: Path, content: str | bytes) -> None:
    """Config and template check as `pipeline.deploy` runs them; asserts both properties."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    path = workdir / "hybridless.yml"
    path.write_bytes(raw)
    started = time.monotonic()
    with time_limit(SLOW_SECONDS):
        run_phases(path, raw)
    elapsed = time.monotonic() - started
    assert elapsed < SLOW_SECONDS, f"took {elapsed:.1f}s"


class Hung(Exception):
    """Not an OSError, as TimeoutError is: reading the file may catch those."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """A hang (an alias expansion that would take hours) fails the example instead of CI."""

    def interrupt(signum: int, frame: Any) -> None:
        raise Hung(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_phases(path: Path, raw: bytes) -> None:
    try:
        app, notices = load_app_with_notices(path, Overrides(), ENVIRON)
        for notice in notices:
            assert_placed(notice, path, raw)
        stacks = render_stacks(app, placeholder_images(app), placeholder_code(app))
        check_parameters(stacks.root, {})
        assert lintable(stacks)
        event("rendered")
    except ConfigError as err:
        assert err.problems, "a ConfigError without problems tells the user nothing"
        event("refused")
        for problem in [*err.problems, *err.notices]:
            assert_placed(problem, path, raw)
        for problem in err.problems:
            assert str(problem) in str(err)
    except HybridlessError as err:
        event(f"refused: {type(err).__name__}")


def assert_placed(problem: Problem, path: Path, raw: bytes) -> None:
    assert problem.file == str(path), problem
    if problem.line is None:
        assert holds_no_node(raw), f"no line, though the file has content: {problem}"
        return
    assert isinstance(problem.line, int), problem
    assert 1 <= problem.line <= last_line(raw), f"line outside the file: {problem}"
    assert f"hybridless.yml:{problem.line}:" in str(problem)


def holds_no_node(raw: bytes) -> bool:
    try:
        return yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader) is None
    except (UnicodeDecodeError, yaml.YAMLError):
        return False


def last_line(raw: bytes) -> int:
    """An upper bound of the line count, whichever line breaks a reader honours."""
    text = raw.decode("utf-8", errors="replace")
    return 1 + sum(text.count(end) for end in ("\n", "\r", "\x85", "\u2028", "\u2029"))


# --- values, right and wrong ---------------------------------------------------------------

SELF_PATHS = (
    "service",
    "provider",
    "provider.stage",
    "provider.region",
    "provider.vpc",
    "provider.vpc.subnetIds",
    "provider.vpc.subnetIds.0",
    "provider.environment",
    "hybridless",
    "hybridless.functions",
    "hybridless.functions.Api.memory",
    "hybridless.functions.Api.events.0",
    "hybridless.functions.Api.events.0.routes",
    "resources.Resources",
    "nowhere.at.all",
    "",
)
VARIABLES = st.one_of(
    st.sampled_from(SELF_PATHS).map(lambda p: "${self:" + p + "}"),
    st.sampled_from(
        [
            "${env:X}",
            "${env:MISSING}",
            "${env:EMPTY}",
            "${env:NUMBER}",
            "${env:MISSING, 'fallback'}",
            "${env:MISSING, ${env:X}}",
            "${env:MISSING, ${env:ALSO_MISSING}}",
            "${env:MISSING, }",
            "${env:${env:X}}",
            "${opt:stage}",
            "${opt:stage, 'dev'}",
            "${opt:region, ${env:AWS_REGION}}",
            "${file(env.yml)}",
            "${file(env.yml):stage}",
            "${file(env.yml):nested}",
            "${file(env.yml):list.1}",
            "${file(missing.yml)}",
            "${file(missing.yml), 'x'}",
            "${file(hybridless.yml):service}",
            "${file(hybridless.yml)}",
            "${file(src)}",
            "${file()}",
            "${file(run.js):x}",
            "${ssm:/a/b}",
            "${self}",
            "${env}",
            "${:x}",
            "${",
            "${env:X",
            "$${env:X}}",
            "pre-${env:X}-post",
            "a-${self:provider}-b",
            "${self:service}${self:service}",
            "${AWS::Region}",
            "${env:" * 30 + "X" + "}" * 30,
        ]
    ),
)
ODD_SCALARS = st.sampled_from(
    ["", " ", "~", "null", "yes", "no", "on", "0", "-0", "0x1F", "0b_", "0o17", "1_000", "1:30",
     ".inf", "-.inf", ".nan", "2024-01-01", "2024-13-45", "12:00:00", "<<", "=", "*", "/", "/*",
     "\t", "é✓🚀", "\u202e", "a" * 300, "arn:", "rate(1 minutes)", "cron(0 * * * ? *)"]
)  # fmt: skip
WRONG_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**100, -(10**100)]),
    st.floats(),
    st.text(max_size=12),
    ODD_SCALARS,
    VARIABLES,
)
WRONG = st.recursive(
    WRONG_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(["Ref", "Fn::GetAtt"])),
            inner,
            max_size=3,
        )
    ),
    max_leaves=5,
)


# The first `ok` values of each `pick` are right in any config; `shaped` keeps to them when it
# makes a config meant to load, so that rendering is fuzzed too.
RIGHT: dict[int, st.SearchStrategy[Any]] = {}


def pick(*values: Any, ok: int = 1) -> st.SearchStrategy[Any]:
    strategy = st.sampled_from(values)
    RIGHT[id(strategy)] = st.sampled_from(values[:ok])
    return strategy


INTRINSICS = pick({"Ref": "Queue"}, {"Fn::GetAtt": ["Queue", "Arn"]}, {"Fn::Sub": "${AWS::Region}"})
NAMES = pick("Api", "Worker", "Job", "api", "Fn1", "Web", "A" * 41, "1x", "my-fn", "Api")
ENV = st.dictionaries(
    pick("LOG_LEVEL", "TABLE", "AWS_REGION", "_X", "a", "bad-name", "QUEUE"),
    st.one_of(pick("info", "1", 5, True), INTRINSICS),
    max_size=3,
)
STATEMENT = {
    "Effect": pick("Allow", "Deny", "Maybe"),
    "Action": pick("sqs:SendMessage", ["s3:GetObject", "s3:PutObject"], "*"),
    "Resource": st.one_of(pick("*", "arn:aws:s3:::b/*"), INTRINSICS),
}
ROUTE = {
    "path": pick("/api/*", "/*", "*", "/orders", "orders", "", "/a b"),
    "method": pick("GET", "post", "ANY", "*", "FETCH"),
    "priority": pick(1, 10, 10, 50000, 50001, 0, -3),
}
HOOKS = {"preTraffic": pick("Check", "Api", "arn:aws:lambda:eu-west-1:123456789012:function:x",
                            "arn:bad", "bad name")}  # fmt: skip
ECS_DEPLOYMENT = {
    "strategy": pick("rolling", "halfAtATime", "blueGreen", "canary", "linear", "allAtOnce", "x"),
    "minimumHealthyPercent": pick(0, 50, 100, 101),
    "maximumPercent": pick(100, 200, 250),
    "circuitBreaker": pick(True, False, "yes"),
    "canaryPercent": pick(1, 10, 12.5, 10.0, 100, 0),
    "linearPercent": pick(3, 7, 20, 2),
    "intervalMinutes": pick(0, 1, 5, 1440, 1441),
    "bakeTimeMinutes": pick(0, 15, 1440, 9999),
    "testListenerPort": pick(8443, 80, 443, 0, 70000),
    "hooks": HOOKS,
    "alarms": pick(["my-alarm"], ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x"], "one"),
    "percentage": pick(10),
}
FUNCTION_DEPLOYMENT = {
    "strategy": pick("allAtOnce", "canary", "linear", "blueGreen", "rolling"),
    "percentage": pick(1, 10, 99, 100),
    "intervalMinutes": pick(1, 5, 2880, 2881),
    "alarms": pick(["my-alarm"], ["a" * 256], [f"a{i}" for i in range(11)]),
    "hooks": HOOKS,
    "canaryPercent": pick(10),
}
AUTOSCALE = {
    "min": pick(0, 1, 2, 10),
    "max": pick(1, 4, 1000, 1001),
    "metric": pick("cpu", "memory", "requests", "disk"),
    "targetValue": pick(1, 60, 100, 101, 5000),
}
BUILD = {
    "dockerFile": pick("Dockerfile", "Dockerfile.web", "Missing.dockerfile", "../Dockerfile"),
    "dockerBuildArgs": st.dictionaries(pick("BASE", "A"), pick("x", 1, None), max_size=2),
    "additionalDockerFiles": [
        {"from": pick("src", "nope", "env.yml"), "to": pick("shared", "../out", "/", "x/y")}
    ],
    "platform": pick("linux/amd64", "linux/arm64", "windows/amd64"),
}
IMAGE_SOURCE = {
    **BUILD,
    "runtime": pick("container", "container", "nodejs22", "python3.12", "python2.7", "go"),
    "imageId": pick("app", "missing"),
    "baseImage": pick("public.ecr.aws/docker/library/node:22-slim"),
}
TASK = {"cpu": pick(256, 512, 1024, 4096, 300, 16384), "ec2LaunchType": pick(False, True)}
TRIGGER = {
    "protocol": pick("none", "http", "httpLoadBalancer", "sqs", "sns", "scheduler", "SQS"),
    "protocolArn": st.one_of(
        pick(
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:123456789012:t",
            "arn:nope",
        ),
        INTRINSICS,
    ),
    "schedulerRate": pick("rate(5 minutes)", "rate(1 minutes)", "cron(0 6 * * ? *)", "daily"),
    "schedulerInput": st.one_of(pick({"a": 1}, '{"a": 1}', "text", "[1]", ["x"]), WRONG),
    "routes": [ROUTE],
    "hostname": pick("api.example.com", "*.example.com", "bad_host"),
    "certificateArns": pick([CERTIFICATE], ["arn:aws:acm:nope"]),
}
EVENTS: dict[str, dict[str, Any]] = {
    "httpd": {
        **IMAGE_SOURCE,
        **TASK,
        "routes": [ROUTE],
        "hostname": TRIGGER["hostname"],
        "certificateArns": TRIGGER["certificateArns"],
        "concurrency": pick(0, 1, 2, 1001),
        "port": pick(80, 8080, 0, 65536),
        "healthCheckRoute": pick("/health", "health"),
        "healthCheckInterval": pick(5, 15, 300),
        "healthCheckTimeout": pick(2, 10, 15),
        "healthCheckHealthyCount": pick(2, 11),
        "healthCheckUnhealthyCount": pick(5, 1),
        "healthCheckStatusCode": pick("200", "200-299", "200,202", 200, "600"),
        "deregistrationDelay": pick(0, 30, 3601),
        "autoScale": AUTOSCALE,
        "deployment": ECS_DEPLOYMENT,
    },
    "process": {
        **IMAGE_SOURCE,
        **TASK,
        "concurrency": pick(0, 1, 5),
        "autoScale": AUTOSCALE,
        "deployment": ECS_DEPLOYMENT,
        "routes": [ROUTE],
    },
    "scheduledTask": {
        **IMAGE_SOURCE,
        **TASK,
        "concurrency": pick(1, 10, 11),
        "schedulerRate": TRIGGER["schedulerRate"],
        "schedulerInput": TRIGGER["schedulerInput"],
    },
    "lambdaContainer": {
        **IMAGE_SOURCE,
        **TRIGGER,
        "reservedConcurrency": pick(0, 5, 100001),
        "deployment": FUNCTION_DEPLOYMENT,
    },
    "lambda": {
        **TRIGGER,
        "runtime": pick("python3.12", "nodejs22.x", "java21", "provided.al2023", "container"),
        "reservedConcurrency": pick(0, 5),
        "deployment": FUNCTION_DEPLOYMENT,
    },
}
FUNCTION = {
    "handler": pick("src/app.handler", "src/app.run", "app", "/abs/app.handler", "../x.handler"),
    "memory": pick(1024, 128, 256, 512, 2048, 4096, 10240, 10241, 127),
    "timeout": pick(1, 30, 900, 901),
    "environment": ENV,
    "ecsClusterArn": pick("arn:aws:ecs:eu-west-1:123456789012:cluster/shared", "arn:bad"),
    "albListenerArn": pick(
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/1a/2b", "x"
    ),
    "albIsPrivate": pick(True, False),
    "logsRetentionInDays": pick(1, 14, 30, 2, 3653),
    "package": {"patterns": pick(["!tests/**"], "src/**", [""])},
}
VPC = st.one_of(
    st.fixed_dictionaries(
        {"vpcId": pick("vpc-1"), "subnetIds": pick(["subnet-a", "subnet-b"], ["subnet-a"], [])},
        optional={"securityGroupIds": pick(["sg-1"]), "albSubnetIds": pick(["subnet-c"])},
    ),
    st.fixed_dictionaries(
        {
            "cidr": pick("10.0.0.0/16", "10.0.0.0/8", "10.0.0.1/16", "nope"),
            "subnets": pick(
                ["10.0.1.0/24", "10.0.2.0/24"],
                ["10.0.1.0/24"],
                ["10.0.1.0/24", "10.0.1.0/25"],
                ["10.9.0.0/24", "x"],
            ),
        },
        optional={"vpcId": pick("vpc-1")},
    ),
)
PROVIDER = {
    "region": pick("eu-west-1", "us-east-1", ""),
    "stage": pick("dev", "prod", "x" * 17, "${opt:stage, 'dev'}"),
    "stackName": pick("shop-dev", "x"),
    "deploymentBucket": st.one_of(
        pick("my-bucket"),
        st.fixed_dictionaries(
            {}, optional={"name": pick("b"), "keepDeployments": pick(1, 5, 0, 1001)}
        ),
    ),
    "deploymentMethod": pick("changeset", "direct", "changesets", "apply"),
    "tags": st.dictionaries(pick("team", "app", "x"), pick("a", 1, None), max_size=2),
    "environment": ENV,
    "iam": {"role": {"statements": [STATEMENT]}},
    "vpc": VPC,
    "rollbackConfiguration": {
        "alarms": pick(["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x"], ["x"], ["a"] * 6),
        "monitoringTimeInMinutes": pick(0, 10, 181),
    },
    "terminationProtection": pick(True, False),
    "logRetentionInDays": pick(1, 14, 30, 2),
}
RESOURCES = {
    "Resources": st.dictionaries(
        pick("Queue", "Topic", "Bad-Name", "Cluster"),
        st.one_of(
            st.fixed_dictionaries(
                {"Type": pick("AWS::SQS::Queue", "AWS::SNS::Topic")},
                optional={"Properties": WRONG, "Condition": pick("IsProd")},
            ),
            WRONG,
        ),
        max_size=2,
    ),
    "Outputs": st.dictionaries(
        pick("QueueUrl", "Out"), st.one_of(pick({"Value": {"Ref": "Queue"}}), WRONG), max_size=2
    ),
    "Parameters": st.dictionaries(pick("Size", "ClusterArn"), pick({"Type": "String"}), max_size=1),
    "Conditions": st.dictionaries(
        pick("IsProd"), pick({"Fn::Equals": ["a", "b"]}, "yes"), max_size=1
    ),
    "Mappings": WRONG,
}


@st.composite
def shaped(draw: st.DrawFn, spec: Any, junk: int, depth: int = 0) -> Any:
    """A value of the shape `spec` describes (a mapping of keys to specs, a one-item list for a
    list of them, or a strategy), where each value is wrong `junk` times in a hundred."""
    if draw(st.integers(0, 99)) < junk:
        return draw(WRONG)
    if isinstance(spec, st.SearchStrategy):
        return draw(RIGHT.get(id(spec), spec) if junk == 0 else spec)
    if isinstance(spec, list):
        count = draw(st.integers(0 if junk else 1, 3 if junk else 1))
        return [draw(shaped(spec[0], junk, depth + 1)) for _ in range(count)]
    most = len(spec) if junk else 2
    keys = draw(st.lists(st.sampled_from(sorted(spec)), unique=True, max_size=most))
    return {key: draw(shaped(spec[key], junk, depth + 1)) for key in keys}


@st.composite
def function_configs(draw: st.DrawFn, junk: int) -> Any:
    function = draw(shaped(FUNCTION, junk))
    kinds = draw(st.lists(st.sampled_from(sorted(EVENTS)), min_size=1, max_size=3))
    events = []
    for kind in kinds:
        event = draw(shaped(EVENTS[kind], junk))
        if isinstance(event, dict):
            if not junk or draw(st.integers(0, 99)) < 95:
                event = {"eventType": kind, **event}
            if "runtime" not in event and (not junk or draw(st.integers(0, 99)) < 90):
                event["runtime"] = "python3.12" if kind == "lambda" else "container"
            if kind == "scheduledTask" and not junk:
                event["schedulerRate"] = "rate(1 hour)"
        events.append(event)
    if isinstance(function, dict):
        function["events"] = events if draw(st.integers(0, 99)) >= junk else draw(WRONG)
    return function


@st.composite
def app_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config as a dict: mostly the model's shape, with wrong types, numbers out of range,
    misspellings, variables, self-references and cycles, and Serverless Framework keys."""
    junk = draw(st.sampled_from([0, 0, 0, 2, 5, 15, 40]))
    config: dict[str, Any] = {}
    if not junk or draw(st.integers(0, 99)) < 95:
        config["service"] = draw(st.one_of(pick("shop", "shop", "Shop", "a" * 41, "x-1"), WRONG)
                                 if junk else pick("shop", "orders"))  # fmt: skip
    provider = draw(shaped(PROVIDER, junk))
    if isinstance(provider, dict) and (not junk or draw(st.integers(0, 99)) < 70):
        provider["vpc"] = draw(VPC) if junk else {"vpcId": "vpc-1", "subnetIds": ["a", "b"]}
    config["provider"] = provider
    names = draw(st.lists(NAMES if junk else pick("Api", "Worker", "Job", ok=3), min_size=1,
                          max_size=3, unique=not junk))  # fmt: skip
    functions = {name: copy.deepcopy(draw(function_configs(junk))) for name in names}
    if not junk:
        for function in functions.values():
            function["handler"] = "src/app.handler"
    hybridless: dict[str, Any] = {"functions": functions}
    if draw(st.booleans()):
        hybridless["images"] = {
            draw(pick("app", "App", "worker", "api") if junk else pick("app", "worker", ok=2)): (
                draw(shaped(BUILD, junk))
            )
            for _ in range(draw(st.integers(1, 2)))
        }
    for key, values in (("buildConcurrency", (1, 4, 0, 17)), ("keepPrevious", (0, 1, 51)),
                        ("tags", ({"a": "b"}, {"a": []}))):  # fmt: skip
        if junk and draw(st.integers(0, 99)) < 20:
            hybridless[key] = draw(st.sampled_from(values))
    config["hybridless"] = hybridless
    if draw(st.booleans()):
        config["resources"] = draw(shaped(RESOURCES, junk))
    if not junk:
        return config
    config = copy.deepcopy(config)  # drawn values may be shared: `pick` hands out its own
    if draw(st.integers(0, 99)) < 20:
        serverless_keys(draw, config)
    if draw(st.integers(0, 99)) < 10:
        config[draw(pick("servce", "custom", "functions", "Service"))] = draw(WRONG)
    for _ in range(draw(st.integers(0, 3))):
        add_reference(draw, config)
    return config


def serverless_keys(draw: st.DrawFn, config: dict[str, Any]) -> None:
    """What a serverless.yml with a `hybridless:` block adds, some of it in odd forms."""
    config[draw(pick("frameworkVersion", "plugins"))] = draw(pick("3", ["@hybridless/hybridless"]))
    config["custom"] = draw(st.one_of(pick({"stage": "prod", "memory": 512}), WRONG))
    provider = config.get("provider")
    if not isinstance(provider, dict):
        return
    provider["name"] = "aws"
    old = {"iamRoleStatements": st.one_of(st.just([{"Effect": "Allow", "Action": "*",
                                                    "Resource": "*"}]), WRONG),
           "role": st.one_of(pick("arn:aws:iam::123456789012:role/x", {"Ref": "Role"}), WRONG),
           "iamManagedPolicies": st.one_of(pick(["arn:aws:iam::aws:policy/x"]), WRONG),
           "stackTags": st.one_of(pick({"team": "a", "app": "b"}), WRONG),
           "runtime": pick("nodejs18.x"), "profile": pick("admin"), "servce": WRONG}  # fmt: skip
    for key in draw(st.lists(st.sampled_from(sorted(old)), unique=True, max_size=4)):
        provider[key] = draw(old[key])
    if draw(st.booleans()):
        provider["iam"] = draw(st.one_of(pick({"role": {"statements": []}}, {"role": "x"}), WRONG))
    if draw(st.booleans()):
        provider["deploymentBucket"] = draw(
            pick({"maxPreviousDeploymentArtifacts": 3}, {"maxPreviousDeploymentArtifacts": 3,
                  "keepDeployments": 2, "blockPublicAccess": True})
        )  # fmt: skip
    if draw(st.booleans()):
        config["service"] = draw(pick({"name": "shop"}, {"name": "shop", "awsKmsKeyArn": "x"},
                                      {"name": 5}))  # fmt: skip


def leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, str(index)))


def add_reference(draw: st.DrawFn, config: dict[str, Any]) -> None:
    """`${self:}` from one place to another: to itself, to a container holding it, both ways
    between two places (a cycle), or through a third."""
    paths = [p for p in leaves(config) if p]
    first, second, third = (draw(st.sampled_from(paths)) for _ in range(3))
    links = draw(
        pick([(first, first)], [(first, second)], [(first, second), (second, first)],
             [(first, second), (second, third), (third, first)], [(first, first[:1])])
    )  # fmt: skip
    for source, target in links:
        text = "${self:" + ".".join(target) + "}"
        if draw(st.integers(0, 3)) == 0:
            text = f"x-{text}-y"
        set_at(config, source, text)


def set_at(value: Any, path: tuple[str, ...], new: Any) -> None:
    for key in path[:-1]:
        value = value[int(key)] if isinstance(value, list) else value[key]
        if not isinstance(value, dict | list):
            return
    if isinstance(value, list):
        value[int(path[-1])] = new
    elif isinstance(value, dict):
        value[path[-1]] = new


def dump(config: Any, unicode: bool) -> str:
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=unicode, width=1000)


@settings(FUZZ, max_examples=900)
@given(config=app_configs(), unicode=st.booleans())
def test_generated_configs_load_or_fail_with_placed_problems(
    workdir: Path, config: dict[str, Any], unicode: bool
) -> None:
    run_cli_phases(workdir, dump(config, unicode))


# --- mutations of real configs -------------------------------------------------------------


def seeds() -> list[str]:
    examples = sorted((ROOT / "examples").glob("*/hybridless.yml"))
    return [path.read_text(encoding="utf-8") for path in examples] + [
        HTTPD_APP,
        LAMBDA_APP,
        LAMBDA_ZIP_APP,
        SERVERLESS_YML,
    ]


SEEDS = seeds()
# The path of each line's key in each seed, to point `${self:}` at real places.
SEED_PATHS = [
    {line: ".".join(map(str, path)) for path, line in parse_document(seed, "seed").lines.items()}
    for seed in SEEDS
]
LITERALS = (
    "42", "-1", "99999999999999999999999", "0.5", "~", "[]", "{}", "[a, b]", "{a: 1}", "true",
    "''", '"  "', "é✓", "0b_", "0x_", "2024-13-45", "2012-10-17", ".nan", "!Ref Queue",
    "!GetAtt Q.Arn", "!Foo x", "!!binary x", "!!int x", "!!bool maybe", "!!python/name:os.system",
    "!!str", "!!set {a}", "${env:X}", "${env:NOPE}", "'${self:service}'", "${self:provider}",
    "${file(env.yml)}", "*nowhere", "&a x", "|\n  block", ">-", "- item", "? a", "<<", "=",
    "'unterminated", "[a, ${env:X}]", "{a: ${self:service}}", "\t", "a: b: c",
)  # fmt: skip
GARBAGE = (
    "\t", "\x00", "\x07", "\x1b", "{", "[", "]", "}", ":", ": ", "- ", "&", "*", "!", "%", "@",
    "`", "|", ">", "'", '"', "#", ",", "?", "\ufeff", "\u2028", "\x85", "\r", "\r\n", "\\",
    "${", "}}", "<<: *a", "---\n", "...\n", "%YAML 1.1\n", "\ud7ff", "\U0001f680",
)  # fmt: skip
BAD_BYTES = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\x80")
LAUGHS = "".join(
    f"lol{n}: &lol{n} [{', '.join([f'*lol{n - 1}' if n else 'ha'] * 9)}]\n" for n in range(10)
)
Mutation = Callable[[st.DrawFn, list[str], int], list[str]]


def _line(draw: st.DrawFn, lines: list[str]) -> int:
    return draw(st.integers(0, max(len(lines) - 1, 0)))


def delete_line(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    index = _line(draw, lines)
    return lines[:index] + lines[index + 1 :]


def duplicate_line(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    index = _line(draw, lines)
    return lines[: index + 1] + lines[index:]


def reindent(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    index = _line(draw, lines)
    line = lines[index] if lines else ""
    how = draw(st.sampled_from(["in", "out", "tab", "flat"]))
    changed = {"in": "  " + line, "out": line[2:] if line.startswith("  ") else line,
               "tab": "\t" + line.lstrip(" "), "flat": line.lstrip()}[how]  # fmt: skip
    return [*lines[:index], changed, *lines[index + 1 :]]


VALUE = re.compile(r"^(\s*(?:- )?[^:#\s][^:#]*:)\s+(\S.*)$")


def replace_scalar(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    candidates = [i for i, line in enumerate(lines) if VALUE.match(line)]
    if not candidates:
        return lines
    index = draw(st.sampled_from(candidates))
    new = draw(st.one_of(st.sampled_from(LITERALS), st.text(max_size=8)))
    lines = list(lines)
    lines[index] = VALUE.sub(lambda m: f"{m.group(1)} {new}", lines[index])
    return lines


def refer(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    """A value becomes `${self:}` of its own key, of another key (cycles when two do), or an
    `${env:}`."""
    paths = SEED_PATHS[seed]
    candidates = [i for i, line in enumerate(lines) if VALUE.match(line)]
    if not candidates:
        return lines
    index = draw(st.sampled_from(candidates))
    own = paths.get(index + 1, "service")
    target = draw(st.one_of(st.just(own), st.sampled_from(sorted(paths.values()))))
    reference = "${self:" + target + "}"
    new = draw(
        pick(
            reference,
            f"'x{reference}'",
            "${env:X}",
            "${env:MISSING}",
            "${self:" + target + ", ${self:" + own + "}}",
        )
    )
    lines = list(lines)
    lines[index] = VALUE.sub(lambda m: f"{m.group(1)} {new}", lines[index])
    return lines


def alias(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    """An anchor on one value and an alias or a merge of it on another line."""
    candidates = [i for i, line in enumerate(lines) if re.match(r"^\s*[^:#\s-][^:#]*:", line)]
    if len(candidates) < 2:
        return lines
    anchor, use = (draw(st.sampled_from(candidates)) for _ in range(2))
    lines = list(lines)
    key = lines[anchor].split(":", 1)
    lines[anchor] = f"{key[0]}: &a{key[1]}"
    indent = re.match(r"^\s*", lines[use]).group(0)  # type: ignore[union-attr]
    form = draw(pick("value", "merge", "key"))
    if form == "value":
        lines[use] = lines[use].split(":", 1)[0] + ": *a"
    elif form == "merge":
        lines.insert(use, f"{indent}<<: *a")
    else:
        lines.insert(use, f"{indent}*a : x")
    return lines


def laughs(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    """Billion laughs: ten lines that expand to 9**9 values."""
    index = draw(st.sampled_from([0, len(lines)]))
    used = draw(pick("", "service: ${self:lol9}\n", "x: *lol9\n", "<<: *lol8\n"))
    return [*lines[:index], *(LAUGHS + used).splitlines(), *lines[index:]]


def nest(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    depth = draw(st.sampled_from([50, 99, 101, 400, 3000]))
    value = draw(pick("[" * depth + "]" * depth, "{a: " * depth + "}" * depth,
                      "'" + "${env:" * depth + "X" + "}" * depth + "'"))  # fmt: skip
    return [*lines, f"deep: {value}"]


def insert_garbage(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    text = "\n".join(lines)
    at = draw(st.integers(0, len(text)))
    junk = draw(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=4)))
    return (text[:at] + junk + text[at:]).split("\n")


def truncate(draw: st.DrawFn, lines: list[str], seed: int) -> list[str]:
    text = "\n".join(lines)
    return text[: draw(st.integers(0, len(text)))].split("\n")


MUTATIONS: tuple[Mutation, ...] = (
    delete_line, duplicate_line, reindent, replace_scalar, replace_scalar, refer, refer, alias,
    laughs, nest, insert_garbage, insert_garbage, truncate,
)  # fmt: skip


@st.composite
def mutated_configs(draw: st.DrawFn) -> bytes:
    seed = draw(st.integers(0, len(SEEDS) - 1))
    lines = SEEDS[seed].split("\n")
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(st.sampled_from(MUTATIONS))(draw, lines, seed)
    raw = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]
    return raw


@settings(FUZZ, max_examples=1300)
@given(content=mutated_configs())
@example(content=(LAUGHS + "service: ${self:lol9}\n").encode())
@example(content=b"a: &a [*a]\n")
@example(content=b"service: \xff\n")
def test_mutated_examples_load_or_fail_with_placed_problems(workdir: Path, content: bytes) -> None:
    run_cli_phases(workdir, content)


# --- variables and text ----------------------------------------------------------------------

EXPRESSIONS = st.recursive(
    st.one_of(
        VARIABLES,
        st.sampled_from(
            [
                "self:",
                "env:",
                "opt:",
                "file(",
                ")",
                ":",
                ",",
                " ",
                "'",
                '"',
                "}",
                "${",
                "service",
                "X",
                "stage",
                "env.yml",
                "a.b",
                "0",
                "-",
            ]
        ),
    ),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4).map("".join)
        | inner.map(lambda body: "${env:MISSING, " + body + "}")
        | inner.map(lambda body: "${self:" + body + "}")
    ),
    max_leaves=8,
)
PLACES = (
    "service: {v}\nprovider: {{region: eu-west-1}}\nhybridless: {{functions: {{A: {{events: "
    "[{{eventType: lambdaContainer, runtime: container}}]}}}}}}\n",
    "service: shop\nprovider:\n  stage: {v}\n  environment:\n    A: {v}\nhybridless:\n  "
    "functions:\n    Api:\n      memory: {v}\n      events:\n        - eventType: lambda\n"
    "          runtime: python3.12\n          protocol: none\n      handler: src/app.handler\n",
    "service: shop\ncustom:\n  a: {v}\n  b: ${{self:custom.a}}\nframeworkVersion: '3'\n"
    "hybridless:\n  functions:\n    Api:\n      environment: {{B: '${{self:custom.b}}'}}\n"
    "      events: [{{eventType: lambdaContainer, runtime: container}}]\n",
)


@settings(FUZZ, max_examples=700)
@given(expression=EXPRESSIONS, place=st.sampled_from(PLACES), quote=st.booleans())
def test_variables_resolve_or_fail_with_placed_problems(
    workdir: Path, expression: str, place: str, quote: bool
) -> None:
    value = "'" + expression.replace("'", "''") + "'" if quote else expression
    run_cli_phases(workdir, place.format(v=value))


YAMLISH = st.lists(
    st.one_of(
        st.sampled_from(GARBAGE),
        st.sampled_from(
            [
                "service: shop\n",
                "hybridless:\n",
                "  functions:\n",
                "    A:\n",
                "      events:\n",
                "        - eventType: lambda\n",
                "  ",
                "- ",
                "\n",
                "a: ",
                "&x ",
                "*x",
                "!Ref ",
                "!!str ",
                "? ",
                "<<: ",
                "1",
                "~",
            ]
        ),
        st.text(max_size=5),
    ),
    max_size=25,
).map("".join)


@settings(FUZZ, max_examples=500)
@given(text=YAMLISH)
@example(text="")
@example(text="# only a comment\n")
@example(text="~\n")
def test_any_text_loads_or_fails_with_placed_problems(workdir: Path, text: str) -> None:
    run_cli_phases(workdir, text.encode("utf-8", errors="surrogatepass"))
