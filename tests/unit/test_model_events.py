"""Every event kind and option of hybridless.yml, read from real YAML into the typed model.

Each test writes a hybridless.yml to a temporary directory and checks either the typed values
or the exact problems (line, dotted key, message). The contract is docs CONFIG.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent, indent

import pytest

from hybridless.model import (
    App,
    AutoScale,
    HealthCheck,
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
    ZipCode,
    assign_priorities,
)
from tests.unit.configs import build, problems

LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/1a/2b"
CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/shared"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:orders"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:events"


def on_existing_network(text: str) -> str:
    """The same app in an existing network (same line count): EC2 instances cannot be in a
    network the stack creates."""
    return text.replace(
        "vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}",
        "vpc: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}",
    )


def in_line_order(problems: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """Problems come out sorted by line, in reading order within a line."""
    return sorted(problems, key=lambda problem: problem[0])


def app_with(function: str, network: bool = True) -> str:
    """A config with one function `Fn`, given as the lines under `Fn:` (six spaces in).

    Lines: 1 service, 2 provider, 3 vpc, 4 hybridless, 5 functions, 6 Fn, the given text
    from line 7 on. Without the network, lines 2-3 are gone (Fn is line 4, the text line 5).
    """
    head = "service: shop\n"
    if network:
        head += "provider:\n  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}\n"
    body = "".join(f"      {line}\n" for line in dedent(function).splitlines())
    return head + "hybridless:\n  functions:\n    Fn:\n" + body


def one_event(kind: str, keys: str = "", runtime: str = "container", network: bool = True) -> str:
    """Fn with one event. Lines: 7 events, 8 the event, 9 runtime, the given keys from 10 on
    (two fewer without the network)."""
    text = f"events:\n  - eventType: {kind}\n    runtime: {runtime}\n"
    text += "".join(f"    {line}\n" for line in dedent(keys).splitlines() if line)
    return app_with(text, network)


FN = "hybridless.functions.Fn"
EV = f"{FN}.events[0]"


def only(app: App) -> object:
    (event,) = app.events
    return event


# --- httpd: routes ---------------------------------------------------------------------------


def test_httpd_routes_are_read_with_methods_normalised(tmp_path: Path) -> None:
    text = one_event(
        "httpd",
        """\
        routes:
          - {path: /api/*, method: post, priority: 3}
          - {path: /any, method: ANY}
          - {path: /lower, method: any}
          - {path: /star, method: "*"}
          - {path: /none}
          - {path: "*", method: Delete}
        """,
    )

    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent)
    assert event.routing.routes == (
        Route("/api/*", "POST", 3),
        Route("/any", None, 0),
        Route("/lower", None, 0),
        Route("/star", None, 0),
        Route("/none", None, 0),
        Route("*", "DELETE", 0),
    )


def test_httpd_route_mistakes(tmp_path: Path) -> None:
    text = one_event(
        "httpd",
        """\
        routes:
          - {path: /a, method: FETCH}
          - {path: api/*}
          - {method: GET}
          - {path: /b, priority: 0, verb: GET}
        """,
    )

    assert problems(tmp_path, text) == [
        (11, f"{EV}.routes[0].method", "'FETCH' is not an HTTP method"),
        (12, f"{EV}.routes[1].path", "'api/*' must start with /"),
        (13, f"{EV}.routes[2].path", "is required"),
        (14, f"{EV}.routes[3].verb", "unknown key"),
        (14, f"{EV}.routes[3].priority", "0 is out of range (1..50000)"),
    ]


def test_routes_must_be_a_non_empty_list(tmp_path: Path) -> None:
    assert problems(tmp_path, one_event("httpd", "routes: /api/*")) == [
        (10, f"{EV}.routes", "must be a list of {path, method, priority}")
    ]
    assert problems(tmp_path, one_event("httpd", "routes: []")) == [
        (10, f"{EV}.routes", "must be a list of {path, method, priority}")
    ]


def test_any_method_is_any_whatever_its_case(tmp_path: Path) -> None:
    # `get`, `Get` and `GET` are all GET, and `ANY` and `any` mean every method; `Any` must
    # too (it is refused as "not an HTTP method" today).
    text = one_event("httpd", "routes:\n  - {path: /a, method: Any}\n  - {path: /b, method: Get}")

    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent)
    assert event.routing.routes == (Route("/a", None, 0), Route("/b", "GET", 0))


# --- httpd: host name and certificates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("API.Example.COM", "api.example.com"),
        ("'*.example.com'", "*.example.com"),
        ("shop-1.eu.example.co.uk", "shop-1.eu.example.co.uk"),
    ],
)
def test_httpd_hostname_is_lowercased(tmp_path: Path, written: str, read: str) -> None:
    event = only(build(tmp_path, one_event("httpd", f"hostname: {written}")))

    assert isinstance(event, HttpdEvent)
    assert event.routing.hostname == read


@pytest.mark.parametrize("hostname", ["localhost", "-shop.example.com", "shop_1.example.com"])
def test_an_invalid_hostname(tmp_path: Path, hostname: str) -> None:
    assert problems(tmp_path, one_event("httpd", f"hostname: {hostname}")) == [
        (10, f"{EV}.hostname", f"{hostname!r} is not a host name")
    ]


def test_certificate_arns_are_read_and_checked(tmp_path: Path) -> None:
    iam_certificate = "arn:aws:iam::123456789012:server-certificate/legacy"
    event = only(
        build(tmp_path, one_event("httpd", f"certificateArns: [{CERTIFICATE}, {iam_certificate}]"))
    )
    assert isinstance(event, HttpdEvent)
    assert event.routing.certificate_arns == (CERTIFICATE, iam_certificate)

    text = one_event("httpd", f"certificateArns:\n  - {CERTIFICATE}\n  - arn:cert")
    assert problems(tmp_path, text) == [
        (12, f"{EV}.certificateArns[1]", "'arn:cert' is not a certificate ARN")
    ]


def test_certificates_are_refused_on_an_existing_listener(tmp_path: Path) -> None:
    text = app_with(
        f"""\
        albListenerArn: {LISTENER}
        events:
          - eventType: httpd
            runtime: container
            certificateArns: [{CERTIFICATE}]
            routes: [{{path: /*, priority: 100}}]
        """
    )

    assert problems(tmp_path, text) == [
        (
            11,
            f"{EV}.certificateArns",
            "certificates belong to the listener; albListenerArn names one that exists, so "
            "attach them there",
        )
    ]


# --- httpd: health check, deregistration, scaling --------------------------------------------


def test_health_check_settings_and_defaults(tmp_path: Path) -> None:
    default = only(build(tmp_path, one_event("httpd")))
    assert isinstance(default, HttpdEvent)
    assert default.health == HealthCheck("/", 15, 10, 2, 5, "200")
    assert default.deregistration_delay == 30

    text = one_event(
        "httpd",
        """\
        healthCheckRoute: /health
        healthCheckInterval: 30
        healthCheckTimeout: 5
        healthCheckHealthyCount: 3
        healthCheckUnhealthyCount: 10
        healthCheckStatusCode: 200-299
        deregistrationDelay: 0
        """,
    )
    event = only(build(tmp_path, text))
    assert isinstance(event, HttpdEvent)
    assert event.health == HealthCheck("/health", 30, 5, 3, 10, "200-299")
    assert event.deregistration_delay == 0


def test_a_numeric_health_check_status_code_is_text(tmp_path: Path) -> None:
    event = only(build(tmp_path, one_event("httpd", "healthCheckStatusCode: 204")))

    assert isinstance(event, HttpdEvent)
    assert event.health.status_code == "204"


def test_health_check_values_out_of_range(tmp_path: Path) -> None:
    text = one_event(
        "httpd",
        """\
        healthCheckInterval: 4
        healthCheckTimeout: 121
        healthCheckHealthyCount: 1
        healthCheckUnhealthyCount: 11
        deregistrationDelay: 3601
        """,
    )

    assert problems(tmp_path, text) == [
        (10, f"{EV}.healthCheckInterval", "4 is out of range (5..300)"),
        (11, f"{EV}.healthCheckTimeout", "121 is out of range (2..120)"),
        (12, f"{EV}.healthCheckHealthyCount", "1 is out of range (2..10)"),
        (13, f"{EV}.healthCheckUnhealthyCount", "11 is out of range (2..10)"),
        (14, f"{EV}.deregistrationDelay", "3601 is out of range (0..3600)"),
    ]


def test_a_health_check_route_must_start_with_a_slash(tmp_path: Path) -> None:
    # An ALB refuses a health check path without the leading slash at deploy time; a route
    # path gets this check at load time, the health check route should too.
    assert problems(tmp_path, one_event("httpd", "healthCheckRoute: health")) == [
        (10, f"{EV}.healthCheckRoute", "'health' must start with /")
    ]


def test_a_health_check_status_code_must_be_http_codes(tmp_path: Path) -> None:
    # The ALB matcher takes codes, lists and ranges (200, 200,202, 200-299); anything else
    # fails only at deploy time today.
    ((line, key, message),) = problems(tmp_path, one_event("httpd", "healthCheckStatusCode: ok"))

    assert (line, key) == (10, f"{EV}.healthCheckStatusCode")
    assert "'ok'" in message


def test_auto_scaling_defaults(tmp_path: Path) -> None:
    event = only(build(tmp_path, one_event("httpd", "autoScale: {}")))
    assert isinstance(event, HttpdEvent)
    assert event.autoscale == AutoScale(min=1, max=1, metric="cpu", target=60)

    event = only(build(tmp_path, one_event("httpd", "autoScale: {min: 3, metric: requests}")))
    assert isinstance(event, HttpdEvent)
    assert event.autoscale == AutoScale(min=3, max=3, metric="requests", target=1000)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("{min: 2, max: 10, metric: cpu, targetValue: 70}", AutoScale(2, 10, "cpu", 70)),
        ("{min: 0, max: 4, metric: memory}", AutoScale(0, 4, "memory", 60)),
        ("{max: 8, metric: requests, targetValue: 250}", AutoScale(1, 8, "requests", 250)),
    ],
)
def test_auto_scaling_metrics(tmp_path: Path, written: str, read: AutoScale) -> None:
    event = only(build(tmp_path, one_event("httpd", f"autoScale: {written}")))

    assert isinstance(event, HttpdEvent)
    assert event.autoscale == read


def test_auto_scaling_mistakes(tmp_path: Path) -> None:
    text = one_event(
        "httpd",
        """\
        autoScale:
          min: 5
          max: 2
          metric: cpus
          targetValue: 101
          scaleIn: 3
        """,
    )

    assert problems(tmp_path, text) == in_line_order(
        [
            (15, f"{EV}.autoScale.scaleIn", "unknown key"),
            (12, f"{EV}.autoScale.max", "2 is less than min (5)"),
            (
                13,
                f"{EV}.autoScale.metric",
                "'cpus' must be one of cpu, memory, requests; did you mean 'cpu'?",
            ),
            (14, f"{EV}.autoScale.targetValue", "101 is out of range (1..100)"),
        ]
    )


# --- httpd: listener, cluster, launch type -------------------------------------------------


def test_an_existing_listener(tmp_path: Path) -> None:
    # A listener that exists needs no load balancer subnets: one task subnet is enough.
    text = f"""\
service: shop
provider:
  vpc: {{vpcId: vpc-1, subnetIds: [subnet-a]}}
hybridless:
  functions:
    Fn:
      albListenerArn: {LISTENER}
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: /*, priority: 100}}]
"""
    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent)
    assert event.routing.listener == Listener(existing_arn=LISTENER)
    assert event.routing.listener.key == LISTENER


def test_an_invalid_listener_arn(tmp_path: Path) -> None:
    balancer = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/lb/1"
    text = app_with(
        f"albListenerArn: {balancer}\nevents:\n  - eventType: httpd\n    runtime: container\n"
    )

    assert problems(tmp_path, text) == [
        (
            7,
            f"{FN}.albListenerArn",
            f"{balancer!r} is not an application load balancer listener ARN",
        )
    ]


def test_a_private_load_balancer(tmp_path: Path) -> None:
    text = app_with("albIsPrivate: true\nevents:\n  - eventType: httpd\n    runtime: container\n")

    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent)
    assert event.routing.listener == Listener(private=True)
    assert event.routing.listener.key == "private"


def test_a_private_load_balancer_and_an_existing_listener_exclude_each_other(
    tmp_path: Path,
) -> None:
    text = app_with(
        f"albListenerArn: {LISTENER}\nalbIsPrivate: true\n"
        "events:\n  - eventType: httpd\n    runtime: container\n"
        "    routes: [{path: /*, priority: 100}]\n"
    )

    assert problems(tmp_path, text) == [
        (8, f"{FN}.albIsPrivate", "albListenerArn names the listener already; drop one")
    ]


def test_an_existing_cluster_with_fargate(tmp_path: Path) -> None:
    text = app_with(
        f"ecsClusterArn: {CLUSTER}\nevents:\n  - eventType: httpd\n    runtime: container\n"
    )

    event = only(build(tmp_path, text))

    assert isinstance(event, HttpdEvent)
    assert (event.task.cluster_arn, event.task.ec2_launch_type) == (CLUSTER, False)


def test_an_invalid_cluster_arn(tmp_path: Path) -> None:
    text = app_with(
        "ecsClusterArn: shared\nevents:\n  - eventType: httpd\n    runtime: container\n"
    )

    assert problems(tmp_path, text) == [
        (7, f"{FN}.ecsClusterArn", "'shared' is not an ECS cluster ARN")
    ]


def test_the_ec2_launch_type_needs_a_cluster(tmp_path: Path) -> None:
    assert problems(tmp_path, on_existing_network(one_event("httpd", "ec2LaunchType: true"))) == [
        (
            10,
            f"{EV}.ec2LaunchType",
            "the EC2 launch type runs on your instances: set ecsClusterArn on the function to "
            "the cluster that has them",
        )
    ]


def test_the_ec2_launch_type_does_not_pair_cpu_and_memory_like_fargate(tmp_path: Path) -> None:
    text = app_with(
        f"""\
        ecsClusterArn: {CLUSTER}
        memory: 3000
        events:
          - eventType: httpd
            runtime: container
            ec2LaunchType: true
            cpu: 768
        """
    )

    event = only(build(tmp_path, on_existing_network(text)))

    assert isinstance(event, HttpdEvent)
    assert (event.task.cpu, event.task.memory) == (768, 3000)
    assert (event.task.ec2_launch_type, event.task.cluster_arn) == (True, CLUSTER)


def test_a_mistyped_cluster_for_the_ec2_launch_type_is_one_problem(tmp_path: Path) -> None:
    # The user did set ecsClusterArn; telling them to set it as well is one mistake twice.
    text = app_with(
        """\
        ecsClusterArn: shared
        events:
          - eventType: httpd
            runtime: container
            ec2LaunchType: true
        """
    )

    assert problems(tmp_path, on_existing_network(text)) == [
        (7, f"{FN}.ecsClusterArn", "'shared' is not an ECS cluster ARN")
    ]


# --- images shared between events ---------------------------------------------------------------

SHARED = """\
service: shop
provider:
  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}
hybridless:
  images:
    app: {dockerFile: Dockerfile.app, dockerBuildArgs: {NODE_ENV: production}}
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
          imageId: app
        - eventType: process
          runtime: container
          imageId: app
    Worker:
      events:
        - eventType: lambdaContainer
          runtime: container
          imageId: app
"""


def test_events_share_an_image_by_its_id(tmp_path: Path) -> None:
    app = build(tmp_path, SHARED, dockerfiles=("Dockerfile.app",))

    image = Image(
        name="app",
        repository="shop/app-dev",
        context=tmp_path.resolve(),
        dockerfile="Dockerfile.app",
        build_args=(("NODE_ENV", "production"),),
    )
    web, worker_process, worker = app.events
    assert isinstance(web, HttpdEvent)
    assert isinstance(worker_process, ProcessEvent)
    assert isinstance(worker, LambdaContainerEvent)
    assert web.task.image == worker_process.task.image == worker.image == image
    assert app.images == (image,)


def test_a_shared_image_with_its_own_dockerfile_is_an_error(tmp_path: Path) -> None:
    text = SHARED.replace(
        "          imageId: app\n    Worker:",
        "          imageId: app\n          dockerFile: Dockerfile\n"
        "          dockerBuildArgs: {A: b}\n    Worker:",
    )

    assert problems(tmp_path, text, dockerfiles=("Dockerfile", "Dockerfile.app")) == [
        (
            16,
            "hybridless.functions.Web.events[1].dockerFile",
            "belongs to the shared image; an event with imageId takes the image as it is",
        ),
        (
            17,
            "hybridless.functions.Web.events[1].dockerBuildArgs",
            "belongs to the shared image; an event with imageId takes the image as it is",
        ),
    ]


def test_an_unknown_image_id_gets_a_hint(tmp_path: Path) -> None:
    text = SHARED.replace("imageId: app\n    Worker:", "imageId: ap\n    Worker:")

    assert problems(tmp_path, text, dockerfiles=("Dockerfile", "Dockerfile.app")) == [
        (
            15,
            "hybridless.functions.Web.events[1].imageId",
            "'ap' is not in hybridless.images (app); did you mean 'app'?",
        )
    ]


def test_an_unknown_image_id_is_one_problem_without_a_default_dockerfile(tmp_path: Path) -> None:
    # The event names an image; that the project has no ./Dockerfile is beside the point.
    text = SHARED.replace("imageId: app\n    Worker:", "imageId: ap\n    Worker:")

    assert problems(tmp_path, text, dockerfiles=("Dockerfile.app",)) == [
        (
            15,
            "hybridless.functions.Web.events[1].imageId",
            "'ap' is not in hybridless.images (app); did you mean 'app'?",
        )
    ]


def test_an_image_id_without_shared_images(tmp_path: Path) -> None:
    assert problems(tmp_path, one_event("httpd", "imageId: app")) == [
        (10, f"{EV}.imageId", "'app' is not in hybridless.images (none defined)")
    ]


# --- environment -----------------------------------------------------------------------------


def test_environment_merges_provider_then_function_then_event(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}
  environment: {LEVEL: provider, ONLY_PROVIDER: p}
hybridless:
  functions:
    Fn:
      handler: app.main
      environment: {LEVEL: function, ONLY_FUNCTION: 1}
      events:
        - eventType: httpd
          runtime: container
          environment: {LEVEL: httpd, ONLY_EVENT: true}
        - eventType: lambda
          runtime: python3.12
          environment: {ONLY_EVENT: lambda}
        - eventType: scheduledTask
          runtime: container
          schedulerRate: rate(1 hour)
"""

    httpd, function, task = build(tmp_path, text).events

    assert dict(httpd.environment) == {
        "LEVEL": "httpd",
        "ONLY_PROVIDER": "p",
        "ONLY_FUNCTION": "1",
        "ONLY_EVENT": "true",
    }
    assert dict(function.environment) == {
        "LEVEL": "function",
        "ONLY_PROVIDER": "p",
        "ONLY_FUNCTION": "1",
        "ONLY_EVENT": "lambda",
    }
    assert dict(task.environment) == {
        "LEVEL": "function",
        "ONLY_PROVIDER": "p",
        "ONLY_FUNCTION": "1",
    }


def test_an_environment_value_may_be_a_cloudformation_function(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  environment: {STAGE: dev, TABLE: !Ref Table}
hybridless:
  functions:
    Fn:
      environment: {QUEUE_URL: !GetAtt Queue.QueueUrl}
      events:
        - eventType: lambdaContainer
          runtime: container
          environment: {TOPIC: !Sub "${Topic}"}
"""

    event = only(build(tmp_path, text))

    assert isinstance(event, LambdaContainerEvent)
    assert event.environment == (
        ("STAGE", "dev"),
        ("TABLE", {"Ref": "Table"}),
        ("QUEUE_URL", {"Fn::GetAtt": ["Queue", "QueueUrl"]}),
        ("TOPIC", {"Fn::Sub": "${Topic}"}),
    )


def test_an_environment_value_must_be_a_scalar(tmp_path: Path) -> None:
    assert problems(tmp_path, one_event("httpd", "environment:\n  LIST: [a, b]")) == [
        (11, f"{EV}.environment.LIST", "must be a string, number or boolean")
    ]


# --- process ---------------------------------------------------------------------------------


def test_a_process_event_gets_the_defaults(tmp_path: Path) -> None:
    event = only(build(tmp_path, one_event("process")))

    assert isinstance(event, ProcessEvent)
    assert (event.concurrency, event.autoscale, event.log_retention_days) == (1, None, 30)
    assert (event.task.cpu, event.task.memory, event.task.ec2_launch_type) == (512, 1024, False)
    assert event.task.image.name == "Fn-0"
    assert event.task.image.repository == "shop/fn-0-dev"


def test_a_process_event_with_concurrency_and_scaling(tmp_path: Path) -> None:
    text = one_event(
        "process", "concurrency: 3\ncpu: 256\nautoScale: {min: 1, max: 6, metric: memory}"
    )
    text = text.replace("    Fn:\n", "    Fn:\n      memory: 512\n")

    event = only(build(tmp_path, text))

    assert isinstance(event, ProcessEvent)
    assert event.concurrency == 3
    assert (event.task.cpu, event.task.memory) == (256, 512)
    assert event.autoscale == AutoScale(1, 6, "memory", 60)


def test_a_process_cannot_scale_on_requests(tmp_path: Path) -> None:
    text = one_event("process", "autoScale: {max: 4, metric: requests}")

    assert problems(tmp_path, text) == [
        (
            10,
            f"{EV}.autoScale.metric",
            "requests per target needs a load balancer the app creates (not a process event or "
            "an albListenerArn)",
        )
    ]


def test_ecs_events_need_a_network(tmp_path: Path) -> None:
    text = app_with(
        """\
        events:
          - eventType: process
            runtime: container
          - eventType: scheduledTask
            runtime: container
            schedulerRate: rate(1 hour)
        """,
        network=False,
    )

    # The event types as the user wrote them, not class names ("Process, ScheduledTask").
    assert problems(tmp_path, text) == [
        (
            1,
            "provider.vpc",
            "ECS events (process, scheduledTask) need a network: set provider.vpc to an "
            "existing one (vpcId, subnetIds) or to a new one (cidr, subnets)",
        )
    ]


def test_a_key_of_another_event_type_is_named_as_such(tmp_path: Path) -> None:
    # `routes` belongs to httpd events; hinting at `runtime` sends the user the wrong way.
    ((line, key, message),) = problems(tmp_path, one_event("process", "routes: [{path: /a}]"))

    assert (line, key) == (10, f"{EV}.routes")
    assert "runtime" not in message
    assert "httpd" in message


# --- scheduledTask ----------------------------------------------------------------------------


def test_a_scheduled_task_needs_a_schedule(tmp_path: Path) -> None:
    assert problems(tmp_path, one_event("scheduledTask")) == [
        (8, f"{EV}.schedulerRate", "is required")
    ]


@pytest.mark.parametrize(
    "rate",
    ["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(2 days)", "cron(0 12 * * ? *)"],
)
def test_valid_schedules(tmp_path: Path, rate: str) -> None:
    event = only(build(tmp_path, one_event("scheduledTask", f"schedulerRate: {rate}")))

    assert isinstance(event, ScheduledTaskEvent)
    assert (event.schedule, event.input, event.task_count) == (rate, None, 1)
    assert (event.task.cpu, event.task.memory) == (512, 1024)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (
            "rate(1 minutes)",
            "'rate(1 minutes)': write rate(1 minute) or rate(N minutes) with N > 1",
        ),
        ("rate(5 minute)", "'rate(5 minute)': write rate(1 minute) or rate(N minutes) with N > 1"),
        ("rate(0 hours)", "'rate(0 hours)': write rate(1 hour) or rate(N hours) with N > 1"),
        ("every hour", "'every hour' is not a schedule: rate(5 minutes) or cron(0 12 * * ? *)"),
        (
            "rate(5 weeks)",
            "'rate(5 weeks)' is not a schedule: rate(5 minutes) or cron(0 12 * * ? *)",
        ),
        (
            "cron(0 12 * *)",
            "'cron(0 12 * *)' is not a schedule: rate(5 minutes) or cron(0 12 * * ? *)",
        ),
    ],
)
def test_invalid_schedules(tmp_path: Path, rate: str, message: str) -> None:
    text = one_event("scheduledTask", f"schedulerRate: {rate}")

    assert problems(tmp_path, text) == [(10, f"{EV}.schedulerRate", message)]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (
            "schedulerInput:\n  containerOverrides:\n    - {name: app, command: [run, --all]}",
            '{"containerOverrides":[{"name":"app","command":["run","--all"]}]}',
        ),
        ("""schedulerInput: '{"containerOverrides": []}'""", '{"containerOverrides": []}'),
    ],
)
def test_a_scheduled_task_input(tmp_path: Path, written: str, read: str) -> None:
    text = one_event("scheduledTask", f"schedulerRate: rate(1 hour)\n{written}")

    event = only(build(tmp_path, text))

    assert isinstance(event, ScheduledTaskEvent)
    assert event.input == read
    assert isinstance(json.loads(event.input), dict)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "schedulerInput: nightly",
            "must be a JSON object (RunTask overrides), as a mapping or text",
        ),
        ("schedulerInput: '[1, 2]'", "must be a JSON object (RunTask overrides)"),
        (
            "schedulerInput: [1, 2]",
            "must be a mapping (RunTask overrides such as containerOverrides)",
        ),
    ],
)
def test_a_scheduled_task_input_must_be_an_object(
    tmp_path: Path, written: str, message: str
) -> None:
    text = one_event("scheduledTask", f"schedulerRate: rate(1 hour)\n{written}")

    assert problems(tmp_path, text) == [(11, f"{EV}.schedulerInput", message)]


def test_a_scheduled_task_count(tmp_path: Path) -> None:
    text = one_event("scheduledTask", "schedulerRate: rate(1 hour)\nconcurrency: 10")
    event = only(build(tmp_path, text))
    assert isinstance(event, ScheduledTaskEvent)
    assert event.task_count == 10

    for count in (0, 11):
        text = one_event("scheduledTask", f"schedulerRate: rate(1 hour)\nconcurrency: {count}")
        assert problems(tmp_path, text) == [
            (11, f"{EV}.concurrency", f"{count} is out of range (1..10)")
        ]


# --- lambdaContainer: triggers ------------------------------------------------------------------


def test_lambda_container_protocols(tmp_path: Path) -> None:
    text = app_with(
        f"""\
        events:
          - eventType: lambdaContainer
            runtime: container
          - eventType: lambdaContainer
            runtime: container
            protocol: none
          - eventType: lambdaContainer
            runtime: container
            protocol: sqs
            protocolArn: {QUEUE}
          - eventType: lambdaContainer
            runtime: container
            protocol: sns
            protocolArn: {TOPIC}
          - eventType: lambdaContainer
            runtime: container
            protocol: scheduler
            schedulerRate: rate(5 minutes)
            schedulerInput: {{job: nightly}}
          - eventType: lambdaContainer
            runtime: container
            protocol: httpLoadBalancer
            routes: [{{path: /fn/*, method: GET}}]
            hostname: Fn.Example.com
          - eventType: lambdaContainer
            runtime: container
            protocol: http
            routes: [{{path: /orders, method: post}}, {{path: /orders/*}}]
          - eventType: lambdaContainer
            runtime: container
            protocol: http
        """
    )

    events = build(tmp_path, text).events

    assert [e.trigger for e in events if isinstance(e, LambdaContainerEvent)] == [
        Trigger("none"),
        Trigger("none"),
        Trigger("sqs", arn=QUEUE),
        Trigger("sns", arn=TOPIC),
        Trigger("scheduler", schedule="rate(5 minutes)", input='{"job":"nightly"}'),
        Trigger(
            "httpLoadBalancer",
            routing=Routing(
                listener=Listener(),
                routes=(Route("/fn/*", "GET", 0),),
                hostname="fn.example.com",
            ),
        ),
        Trigger("http", api_routes=(Route("/orders", "POST", 0), Route("/orders/*", None, 0))),
        Trigger("http", api_routes=(Route("/*", None, 0),)),
    ]


def test_an_http_api_lambda_needs_no_network(tmp_path: Path) -> None:
    text = one_event("lambdaContainer", "protocol: http", network=False)

    event = only(build(tmp_path, text))

    assert isinstance(event, LambdaContainerEvent)
    assert event.trigger == Trigger("http", api_routes=(Route("/*", None, 0),))


def test_http_api_routes_take_no_priority(tmp_path: Path) -> None:
    text = one_event(
        "lambda", "protocol: http\nroutes: [{path: /a, priority: 4}]", "python3.12", False
    )
    text = text.replace("    Fn:\n", "    Fn:\n      handler: app.handler\n")

    assert problems(tmp_path, text) == [
        (
            10,
            f"{EV}.routes[0].priority",
            "applies to httpLoadBalancer routes; API routes are matched by path, most specific "
            "first",
        )
    ]


def test_an_http_api_route_goes_to_one_function(tmp_path: Path) -> None:
    text = """\
service: shop
hybridless:
  functions:
    Orders:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: http
          routes: [{path: /orders/*}, {path: /orders, method: GET}]
    Legacy:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: http
          routes:
            - {path: /orders, method: get}
            - {path: /orders/*, method: ANY}
"""

    assert problems(tmp_path, text) == [
        (
            16,
            "hybridless.functions.Legacy.events[0].routes[0]",
            "GET /orders is already routed by hybridless.functions.Orders.events[0].routes[1]; "
            "an API route goes to one function",
        ),
        (
            17,
            "hybridless.functions.Legacy.events[0].routes[1]",
            "ANY /orders/{proxy+} is already routed by "
            "hybridless.functions.Orders.events[0].routes[0]; an API route goes to one function",
        ),
    ]


@pytest.mark.parametrize("protocol", ["sqs", "sns"])
def test_a_queue_or_topic_is_required(tmp_path: Path, protocol: str) -> None:
    text = one_event("lambdaContainer", f"protocol: {protocol}", network=False)

    assert problems(tmp_path, text) == [
        (6, f"{EV}.protocolArn", f"is required for protocol: {protocol}")
    ]


@pytest.mark.parametrize(
    ("protocol", "arn", "message"),
    [
        ("sqs", TOPIC, f"{TOPIC!r} is not an SQS queue ARN"),
        ("sns", QUEUE, f"{QUEUE!r} is not an SNS topic ARN"),
        ("sqs", "orders", "'orders' is not an SQS queue ARN"),
    ],
)
def test_a_queue_or_topic_arn_of_the_wrong_kind(
    tmp_path: Path, protocol: str, arn: str, message: str
) -> None:
    text = one_event("lambdaContainer", f"protocol: {protocol}\nprotocolArn: {arn}", network=False)

    assert problems(tmp_path, text) == [(9, f"{EV}.protocolArn", message)]


@pytest.mark.parametrize(
    ("protocol", "written", "read"),
    [
        ("sqs", "!GetAtt Queue.Arn", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("sns", "!Ref Topic", {"Ref": "Topic"}),
        ("sqs", "{'Fn::ImportValue': shared-queue-arn}", {"Fn::ImportValue": "shared-queue-arn"}),
    ],
)
def test_a_queue_or_topic_from_cloudformation(
    tmp_path: Path, protocol: str, written: str, read: dict[str, object]
) -> None:
    text = one_event(
        "lambdaContainer", f"protocol: {protocol}\nprotocolArn: {written}", network=False
    )

    event = only(build(tmp_path, text))

    assert isinstance(event, LambdaContainerEvent)
    assert event.trigger == Trigger(protocol, arn=read)


def test_a_mapping_that_is_not_a_cloudformation_function_is_not_an_arn(tmp_path: Path) -> None:
    text = one_event(
        "lambdaContainer", "protocol: sqs\nprotocolArn: {queue: orders}", network=False
    )

    assert problems(tmp_path, text) == [(9, f"{EV}.protocolArn", "must be a string, not a mapping")]


def test_keys_that_do_not_apply_to_the_protocol(tmp_path: Path) -> None:
    text = app_with(
        f"""\
        events:
          - eventType: lambdaContainer
            runtime: container
            routes: [{{path: /a}}]
          - eventType: lambdaContainer
            runtime: container
            protocol: sqs
            protocolArn: {QUEUE}
            schedulerRate: rate(1 hour)
            hostname: fn.example.com
          - eventType: lambdaContainer
            runtime: container
            protocol: scheduler
            schedulerRate: rate(1 hour)
            protocolArn: {TOPIC}
          - eventType: lambdaContainer
            runtime: container
            protocol: http
            schedulerInput: {{a: 1}}
            hostname: fn.example.com
          - eventType: lambdaContainer
            runtime: container
            protocol: httpLoadBalancer
            protocolArn: {QUEUE}
        """,
    )

    events = f"{FN}.events"
    assert problems(tmp_path, text) == in_line_order(
        [
            (10, f"{events}[0].routes", "does not apply to protocol: none"),
            (16, f"{events}[1].hostname", "does not apply to protocol: sqs"),
            (15, f"{events}[1].schedulerRate", "does not apply to protocol: sqs"),
            (21, f"{events}[2].protocolArn", "does not apply to protocol: scheduler"),
            (26, f"{events}[3].hostname", "does not apply to protocol: http"),
            (25, f"{events}[3].schedulerInput", "does not apply to protocol: http"),
            (30, f"{events}[4].protocolArn", "does not apply to protocol: httpLoadBalancer"),
        ]
    )


def test_a_mistyped_protocol_is_one_problem(tmp_path: Path) -> None:
    # The protocol is wrong, not the queue: "protocolArn does not apply to protocol: none"
    # describes a protocol the user never wrote.
    text = one_event("lambdaContainer", f"protocol: sqss\nprotocolArn: {QUEUE}", network=False)

    assert problems(tmp_path, text) == [
        (
            8,
            f"{EV}.protocol",
            "'sqss' must be one of none, http, httpLoadBalancer, sqs, sns, scheduler; "
            "did you mean 'sqs'?",
        )
    ]


def test_the_scheduler_protocol_needs_a_schedule(tmp_path: Path) -> None:
    text = one_event("lambdaContainer", "protocol: scheduler", network=False)
    assert problems(tmp_path, text) == [(6, f"{EV}.schedulerRate", "is required")]

    text = one_event(
        "lambdaContainer", "protocol: scheduler\nschedulerRate: rate(1 minutes)", network=False
    )
    assert problems(tmp_path, text) == [
        (
            9,
            f"{EV}.schedulerRate",
            "'rate(1 minutes)': write rate(1 minute) or rate(N minutes) with N > 1",
        )
    ]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("schedulerInput: nightly", '"nightly"'),
        ("""schedulerInput: '{"job": "nightly"}'""", '{"job": "nightly"}'),
        ("schedulerInput: '[1, 2]'", "[1, 2]"),
        ("schedulerInput: {job: nightly, force: true}", '{"job":"nightly","force":true}'),
    ],
)
def test_a_lambda_schedule_input_is_json(tmp_path: Path, written: str, read: str) -> None:
    text = one_event(
        "lambdaContainer",
        f"protocol: scheduler\nschedulerRate: rate(1 hour)\n{written}",
        network=False,
    )

    event = only(build(tmp_path, text))

    assert isinstance(event, LambdaContainerEvent)
    assert event.trigger.input == read
    json.loads(read)


def test_http_routes_of_a_lambda_share_the_listener_of_the_services(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}
hybridless:
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
          routes: [{path: /*}]
    Api:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: httpLoadBalancer
          routes: [{path: /api/*, method: POST}]
"""

    app = build(tmp_path, text)

    web, api = app.events
    assert isinstance(web, HttpdEvent)
    assert isinstance(api, LambdaContainerEvent)
    assert api.trigger.routing is not None
    assert api.trigger.routing.listener == web.routing.listener == Listener()
    assert assign_priorities(app.events) == {("Api", 0, 0): 1, ("Web", 0, 0): 2}


def test_a_load_balanced_lambda_needs_a_network(tmp_path: Path) -> None:
    text = one_event("lambdaContainer", "protocol: httpLoadBalancer", network=False)

    assert problems(tmp_path, text) == [
        (1, "provider.vpc", "a load balancer for http routes needs a network: set provider.vpc")
    ]


def test_reserved_concurrency_handler_and_memory(tmp_path: Path) -> None:
    text = app_with(
        """\
        handler: app.handler
        memory: 10240
        timeout: 900
        events:
          - eventType: lambdaContainer
            runtime: container
            reservedConcurrency: 5
        """,
        network=False,
    )

    event = only(build(tmp_path, text))

    assert isinstance(event, LambdaContainerEvent)
    assert event.reserved_concurrency == 5
    assert event.command == ("app.handler",)
    assert (event.memory, event.timeout) == (10240, 900)


def test_lambda_container_limits(tmp_path: Path) -> None:
    text = app_with(
        """\
        memory: 10241
        events:
          - eventType: lambdaContainer
            runtime: container
            reservedConcurrency: -1
        """,
        network=False,
    )

    assert problems(tmp_path, text) == [
        (5, f"{FN}.memory", "10241 MiB is more than Lambda allows (10240)"),
        (9, f"{EV}.reservedConcurrency", "-1 is out of range (0..100000)"),
    ]


def test_too_much_memory_is_reported_once_for_several_lambda_events(tmp_path: Path) -> None:
    text = app_with(
        """\
        memory: 12288
        events:
          - eventType: lambdaContainer
            runtime: container
          - eventType: lambdaContainer
            runtime: container
        """,
        network=False,
    )

    assert problems(tmp_path, text) == [
        (5, f"{FN}.memory", "12288 MiB is more than Lambda allows (10240)")
    ]


@pytest.mark.parametrize("kind", ["lambdaContainer", "httpd", "process"])
@pytest.mark.parametrize("runtime", ["java21", "nodejs16", "python3.8", "nodejs22.y"])
def test_container_events_take_no_other_runtime(tmp_path: Path, kind: str, runtime: str) -> None:
    """Container or a built-in runtime (tests/unit/test_model_images.py); not a Lambda-only
    runtime, nor a version the tool has no base image for."""
    text = one_event(kind, runtime=runtime)

    assert problems(tmp_path, text) == [
        (
            9,
            f"{EV}.runtime",
            f"{runtime!r} is not a runtime: use container (your Dockerfile) or a built-in one "
            "(nodejs18, nodejs20, nodejs22, nodejs24, python3.9, python3.10, python3.11, "
            "python3.12, python3.13)",
        )
    ]


# --- lambda (zip) ------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["python3.12", "nodejs22.x", "java21", "provided.al2023"])
def test_lambda_runtimes(tmp_path: Path, runtime: str) -> None:
    text = one_event("lambda", runtime=runtime, network=False).replace(
        "    Fn:\n", "    Fn:\n      handler: app.handler\n"
    )

    app = build(tmp_path, text, dockerfiles=())
    event = only(app)

    assert isinstance(event, LambdaEvent)
    assert (event.runtime, event.handler, event.memory, event.timeout) == (
        runtime,
        "app.handler",
        1024,
        30,
    )
    assert event.code == ZipCode(name="Fn", directory=tmp_path.resolve(), patterns=())
    assert event.trigger == Trigger("none")
    assert app.images == ()


@pytest.mark.parametrize("runtime", ["container", "python2"])
def test_a_runtime_that_is_not_a_lambda_runtime(tmp_path: Path, runtime: str) -> None:
    text = one_event("lambda", runtime=runtime, network=False).replace(
        "    Fn:\n", "    Fn:\n      handler: app.handler\n"
    )

    assert problems(tmp_path, text) == [
        (
            8,
            f"{EV}.runtime",
            f"{runtime!r} is not an AWS Lambda runtime (e.g. python3.12, nodejs22.x, java21, "
            "provided.al2023); a Dockerfile goes with eventType: lambdaContainer",
        )
    ]


def test_a_lambda_event_needs_a_handler(tmp_path: Path) -> None:
    text = one_event("lambda", runtime="python3.12", network=False)

    assert problems(tmp_path, text) == [
        (4, f"{FN}.handler", "is required by lambda events (e.g. src/app.handler)")
    ]


def test_a_missing_handler_is_reported_once_for_several_lambda_events(tmp_path: Path) -> None:
    text = app_with(
        """\
        events:
          - eventType: lambda
            runtime: python3.12
          - eventType: lambda
            runtime: python3.12
            protocol: sqs
            protocolArn: !GetAtt Queue.Arn
        """,
        network=False,
    )

    assert problems(tmp_path, text) == [
        (4, f"{FN}.handler", "is required by lambda events (e.g. src/app.handler)")
    ]


def test_package_patterns_and_one_zip_per_function(tmp_path: Path) -> None:
    text = """\
service: shop
hybridless:
  functions:
    Api:
      handler: api.handler
      package:
        patterns: ['!tests/**', '!*.md']
      events:
        - eventType: lambda
          runtime: python3.12
        - eventType: lambda
          runtime: python3.12
          protocol: scheduler
          schedulerRate: rate(1 day)
    Jobs:
      handler: jobs.handler
      events:
        - eventType: lambda
          runtime: nodejs22.x
"""

    app = build(tmp_path, text, dockerfiles=())

    api = ZipCode(name="Api", directory=tmp_path.resolve(), patterns=("!tests/**", "!*.md"))
    jobs = ZipCode(name="Jobs", directory=tmp_path.resolve(), patterns=())
    assert [e.code for e in app.events if isinstance(e, LambdaEvent)] == [api, api, jobs]
    assert app.code == (api, jobs)
    assert app.function_events == app.events
    assert app.lambda_events == ()


def test_package_mistakes(tmp_path: Path) -> None:
    text = one_event("lambda", runtime="python3.12", network=False).replace(
        "    Fn:\n",
        "    Fn:\n      handler: app.handler\n      package: {patterns: '', include: [a]}\n",
    )

    assert problems(tmp_path, text) == [
        (6, f"{FN}.package.include", "unknown key"),
        (6, f"{FN}.package.patterns", "must be a list of non-empty strings"),
    ]


def test_a_lambda_event_names_the_event_type_for_a_dockerfile(tmp_path: Path) -> None:
    # A plain "unknown key" leaves the user guessing; the runtime message already knows
    # where a Dockerfile goes.
    text = one_event("lambda", "dockerFile: Dockerfile", runtime="python3.12", network=False)
    text = text.replace("    Fn:\n", "    Fn:\n      handler: app.handler\n")

    ((line, key, message),) = problems(tmp_path, text)

    assert (line, key) == (9, f"{EV}.dockerFile")
    assert "lambdaContainer" in message


# --- route priorities ----------------------------------------------------------------------------


def test_one_priority_on_different_listeners_is_fine(tmp_path: Path) -> None:
    text = f"""\
service: shop
provider:
  vpc: {{cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}}
hybridless:
  functions:
    Public:
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: /a, priority: 7}}]
    Shared:
      albListenerArn: {LISTENER}
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: /a, priority: 7}}]
    Internal:
      albIsPrivate: true
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: httpLoadBalancer
          routes: [{{path: /a, priority: 7}}]
"""

    app = build(tmp_path, text)

    assert assign_priorities(app.events) == {
        ("Public", 0, 0): 7,
        ("Shared", 0, 0): 7,
        ("Internal", 0, 0): 7,
    }


def test_one_priority_twice_on_a_listener_is_an_error_naming_the_first(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}
hybridless:
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
          routes: [{path: /a, priority: 7}]
    Api:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: httpLoadBalancer
          routes:
            - {path: /b, priority: 8}
            - {path: /c, priority: 7}
"""

    assert problems(tmp_path, text) == [
        (
            18,
            "hybridless.functions.Api.events[0].routes[1].priority",
            "7 is already used by hybridless.functions.Web.events[0].routes[0].priority; "
            "priorities must be unique on a listener",
        )
    ]


def test_priorities_are_assigned_per_listener_with_catch_alls_last(tmp_path: Path) -> None:
    text = f"""\
service: shop
provider:
  vpc: {{cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}}
hybridless:
  functions:
    Site:
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: /*}}, {{path: /about}}, {{path: /shop, priority: 1}}]
    Shared:
      albListenerArn: {LISTENER}
      events:
        - eventType: httpd
          runtime: container
          routes: [{{path: "*", priority: 4}}, {{path: /x, priority: 1}}]
        - eventType: lambdaContainer
          runtime: container
          protocol: httpLoadBalancer
          routes: [{{path: /y, priority: 2}}, {{path: /z, priority: 3}}]
"""

    assert assign_priorities(build(tmp_path, text).events) == {
        ("Site", 0, 0): 3,
        ("Site", 0, 1): 2,
        ("Site", 0, 2): 1,
        ("Shared", 0, 0): 4,
        ("Shared", 0, 1): 1,
        ("Shared", 1, 0): 2,
        ("Shared", 1, 1): 3,
    }


# --- provider: network ---------------------------------------------------------------------------


def network(vpc: str) -> str:
    """A process event in the network `vpc` (the lines under `vpc:`, from line 3)."""
    return (
        "service: shop\nprovider:\n  vpc:\n"
        + "".join(f"    {line}\n" for line in dedent(vpc).splitlines())
        + "hybridless:\n  functions:\n    Fn:\n      events:\n"
        + "        - eventType: process\n          runtime: container\n"
    )


def test_a_new_network(tmp_path: Path) -> None:
    app = build(
        tmp_path, network("cidr: 10.1.0.0/16\nsubnets: [10.1.0.0/24, 10.1.1.0/24, 10.1.2.0/24]")
    )

    assert app.vpc == NewVpc("10.1.0.0/16", ("10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"))


@pytest.mark.parametrize(
    ("vpc", "found"),
    [
        (
            "cidr: 10.0.0.0/8\nsubnets: [10.0.1.0/24, 10.0.2.0/24]",
            [(4, "provider.vpc.cidr", "10.0.0.0/8: a VPC takes an IPv4 block from /16 to /28")],
        ),
        (
            "cidr: 10.0.0.0/29\nsubnets: [10.0.0.0/30, 10.0.0.4/30]",
            [(4, "provider.vpc.cidr", "10.0.0.0/29: a VPC takes an IPv4 block from /16 to /28")],
        ),
        (
            "cidr: 10.0.0.0/16\nsubnets: [10.0.1.0/24, 10.1.0.0/24]",
            [(5, "provider.vpc.subnets[1]", "10.1.0.0/24 is not inside 10.0.0.0/16")],
        ),
        (
            "cidr: 10.0.0.0/16\nsubnets: [10.0.0.0/23, 10.0.1.0/24]",
            [(5, "provider.vpc.subnets[1]", "10.0.1.0/24 overlaps another subnet")],
        ),
        (
            "cidr: 10.0.0.0/16\nsubnets: [10.0.1.0/24]",
            [
                (
                    5,
                    "provider.vpc.subnets",
                    "give at least two subnets: a load balancer spans two zones",
                )
            ],
        ),
        (
            "cidr: 10.0.0.0/16\nsubnets: [10.0.1.0/24, subnet-b]",
            [
                (
                    5,
                    "provider.vpc.subnets[1]",
                    "'subnet-b' is not a network: Expected 4 octets in 'subnet-b'",
                )
            ],
        ),
    ],
)
def test_new_network_mistakes(tmp_path: Path, vpc: str, found: list[tuple[int, str, str]]) -> None:
    assert problems(tmp_path, network(vpc)) == found


def test_an_invalid_cidr_is_one_problem(tmp_path: Path) -> None:
    # The user did give a network; "ECS events need a network: set provider.vpc" on top of
    # the cidr problem sends them to add what is already there.
    text = network("cidr: 10.0.0.1/16\nsubnets: [10.0.1.0/24, 10.0.2.0/24]")

    assert problems(tmp_path, text) == [
        (4, "provider.vpc.cidr", "'10.0.0.1/16' is not a network: 10.0.0.1/16 has host bits set")
    ]


def test_a_new_network_without_subnets_is_one_problem(tmp_path: Path) -> None:
    # "is required" says it all; "give at least two subnets" repeats it for the same key.
    assert problems(tmp_path, network("cidr: 10.0.0.0/16")) == [
        (3, "provider.vpc.subnets", "is required")
    ]


def test_an_existing_network_and_a_new_one_exclude_each_other(tmp_path: Path) -> None:
    # One problem for each key of the existing network, and nothing calling vpcId
    # "not supported yet": it is supported, just not next to cidr.
    text = network(
        "vpcId: vpc-1\nsubnetIds: [subnet-a, subnet-b]\ncidr: 10.0.0.0/16\n"
        "subnets: [10.0.1.0/24, 10.0.2.0/24]"
    )

    message = "an existing network (vpcId, ...) and a new one (cidr) exclude each other"
    assert sorted(problems(tmp_path, text)) == [
        (4, "provider.vpc.vpcId", message),
        (5, "provider.vpc.subnetIds", message),
    ]


def test_an_existing_network_is_read(tmp_path: Path) -> None:
    text = network(
        "vpcId: vpc-1\nsubnetIds: [subnet-a, subnet-b]\nsecurityGroupIds: [sg-1]\n"
        "albSubnetIds: [subnet-c, subnet-d]"
    )

    vpc = build(tmp_path, text).vpc

    assert vpc is not None and not isinstance(vpc, NewVpc)
    assert (vpc.vpc_id, vpc.subnet_ids, vpc.security_group_ids, vpc.alb_subnet_ids) == (
        "vpc-1",
        ("subnet-a", "subnet-b"),
        ("sg-1",),
        ("subnet-c", "subnet-d"),
    )


def test_an_existing_network_needs_its_id_and_subnets(tmp_path: Path) -> None:
    assert problems(tmp_path, network("securityGroupIds: [sg-1]")) == [
        (3, "provider.vpc.vpcId", "is required"),
        (3, "provider.vpc.subnetIds", "is required"),
    ]


# --- provider: logs, IAM, tags ------------------------------------------------------------------


def test_log_retention_for_the_app_and_per_function(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  logRetentionInDays: 14
hybridless:
  functions:
    Short:
      logsRetentionInDays: 7
      events:
        - eventType: lambdaContainer
          runtime: container
    Default:
      events:
        - eventType: lambdaContainer
          runtime: container
"""

    app = build(tmp_path, text)

    assert [(e.function, e.log_retention_days) for e in app.events] == [
        ("Short", 7),
        ("Default", 14),
    ]


def test_a_log_retention_cloudwatch_does_not_offer(tmp_path: Path) -> None:
    allowed = (
        "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, "
        "2557, 2922, 3288, 3653"
    )
    text = """\
service: shop
provider:
  logRetentionInDays: 13
hybridless:
  functions:
    Fn:
      logsRetentionInDays: 4000
      events:
        - eventType: lambdaContainer
          runtime: container
"""

    assert problems(tmp_path, text) == [
        (
            3,
            "provider.logRetentionInDays",
            f"13 is not a retention CloudWatch Logs offers ({allowed})",
        ),
        (7, f"{FN}.logsRetentionInDays", "4000 is out of range (1..3653)"),
    ]


IAM = """\
service: shop
provider:
  iam:
    role:
      statements:
STATEMENTS
hybridless:
  functions:
    Fn:
      events:
        - eventType: lambdaContainer
          runtime: container
"""


def test_iam_statements_are_read(tmp_path: Path) -> None:
    statements = (
        "        - Effect: Allow\n"
        "          Action: [sqs:SendMessage]\n"
        "          Resource: !GetAtt Queue.Arn\n"
        "        - {Sid: NoDelete, Effect: Deny, NotAction: 's3:Get*', NotResource: '*'}"
    )

    app = build(tmp_path, IAM.replace("STATEMENTS", statements))

    assert app.iam_statements == (
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
        },
        {"Sid": "NoDelete", "Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "*"},
    )


def test_iam_statement_mistakes(tmp_path: Path) -> None:
    statements = (
        "        - {Action: 's3:*', Resource: '*'}\n"
        "        - {Effect: Allow, Action: 's3:*', NotAction: 'sqs:*', Resource: '*'}\n"
        "        - {Effect: allow, Actions: 's3:*', Resource: '*'}\n"
        "        - s3:GetObject"
    )

    where = "provider.iam.role.statements"
    assert problems(tmp_path, IAM.replace("STATEMENTS", statements)) == [
        (6, f"{where}[0].Effect", "must be Allow or Deny"),
        (7, f"{where}[1]", "needs exactly one of Action and NotAction"),
        (8, f"{where}[2].Actions", "unknown key; did you mean 'Action'?"),
        (8, f"{where}[2].Effect", "must be Allow or Deny"),
        (8, f"{where}[2]", "needs exactly one of Action and NotAction"),
        (9, f"{where}[3]", "must be a mapping with Effect, Action and Resource"),
    ]


def test_iam_statements_must_be_a_list(tmp_path: Path) -> None:
    text = IAM.replace("      statements:\nSTATEMENTS", "      statements: {Effect: Allow}")

    assert problems(tmp_path, text) == [
        (5, "provider.iam.role.statements", "must be a list of IAM policy statements")
    ]


def test_hybridless_tags_are_merged_after_provider_tags(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  tags: {team: core, env: dev}
hybridless:
  tags: {team: web, owner: ana}
  functions:
    Fn:
      events:
        - eventType: lambdaContainer
          runtime: container
"""

    assert build(tmp_path, text).tags == (("team", "web"), ("env", "dev"), ("owner", "ana"))


# --- resources -----------------------------------------------------------------------------------

RESOURCES = """\
service: shop
hybridless:
  functions:
    Fn:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: sqs
          protocolArn: !GetAtt Queue.Arn
resources:
"""


def section(text: str) -> str:
    """The lines of `resources:`, written flush left in the test, two spaces in."""
    return indent(dedent(text), "  ")


def test_resources_are_read_with_their_lines(tmp_path: Path) -> None:
    text = RESOURCES + section(
        """\
          Parameters:
            Size: {Type: Number, Default: 1}
          Conditions:
            IsProd: !Equals [!Ref AWS::AccountId, '123456789012']
          Resources:
            Queue:
              Type: AWS::SQS::Queue
              Properties: {VisibilityTimeout: 60}
          Outputs:
            QueueUrl: {Value: !Ref Queue}
        """
    )

    app = build(tmp_path, text)

    assert app.resources == RawResources(
        sections={
            "Parameters": {"Size": {"Type": "Number", "Default": 1}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "123456789012"]}},
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}
            },
            "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
        },
        lines={
            ("Parameters", "Size"): 12,
            ("Conditions", "IsProd"): 14,
            ("Resources", "Queue"): 16,
            ("Outputs", "QueueUrl"): 20,
        },
        file=str(tmp_path / "hybridless.yml"),
    )


def test_resource_mistakes(tmp_path: Path) -> None:
    text = RESOURCES + section(
        """\
          Resources:
            Queue: {Properties: {}}
            my-topic: {Type: AWS::SNS::Topic}
          Outputs:
            QueueUrl: {Description: url}
          Output:
            Other: {Value: x}
        """
    )

    assert problems(tmp_path, text) == in_line_order(
        [
            (16, "resources.Output", "unknown key; did you mean 'Outputs'?"),
            (15, "resources.Outputs.QueueUrl", "an output needs a Value"),
            (12, "resources.Resources.Queue", "a resource needs a Type"),
            (
                13,
                "resources.Resources.my-topic",
                "CloudFormation names are letters and digits only",
            ),
        ]
    )


# --- shared images -----------------------------------------------------------------------------


def test_shared_images_are_read(tmp_path: Path) -> None:
    text = SHARED.replace(
        "    app: {dockerFile: Dockerfile.app, dockerBuildArgs: {NODE_ENV: production}}\n",
        "    app: {dockerFile: Dockerfile.app, dockerBuildArgs: {NODE_ENV: production, N: 1}}\n"
        "    base: {}\n",
    ).replace("          imageId: app\n    Worker:", "          imageId: base\n    Worker:")

    app = build(
        tmp_path,
        text,
        overrides=Overrides(build_args=(("NODE_ENV", "test"),)),
        dockerfiles=("Dockerfile", "Dockerfile.app"),
    )

    assert [(i.name, i.repository, i.dockerfile, i.build_args) for i in app.images] == [
        ("app", "shop/app-dev", "Dockerfile.app", (("NODE_ENV", "test"), ("N", "1"))),
        ("base", "shop/base-dev", "Dockerfile", (("NODE_ENV", "test"),)),
    ]


def test_shared_image_mistakes(tmp_path: Path) -> None:
    text = SHARED.replace(
        "    app: {dockerFile: Dockerfile.app, dockerBuildArgs: {NODE_ENV: production}}\n",
        "    app: {dockerFile: Dockerfile.app, dockerArgs: {}}\n    App_2: {}\n",
    )

    assert problems(tmp_path, text, dockerfiles=()) == [
        (6, "hybridless.images.app.dockerArgs", "unknown key; did you mean 'dockerBuildArgs'?"),
        (
            6,
            "hybridless.images.app.dockerFile",
            f"Dockerfile.app not found next to {tmp_path / 'hybridless.yml'}",
        ),
        (
            7,
            "hybridless.images.App_2",
            "image names are lowercase letters, digits and dashes (max 40)",
        ),
    ]


def test_a_shared_image_may_not_take_the_repository_of_an_event_image(tmp_path: Path) -> None:
    text = """\
service: shop
hybridless:
  images:
    worker-0: {}
  functions:
    Worker:
      events:
        - eventType: lambdaContainer
          runtime: container
"""

    assert problems(tmp_path, text) == [
        (
            4,
            "hybridless.images.worker-0",
            "its repository shop/worker-0-dev is also the one of Worker-0; rename the image",
        )
    ]


def test_functions_whose_images_share_a_repository_are_named(tmp_path: Path) -> None:
    # Worker and worker both build shop/worker-0-dev. There is no shared image here, so the
    # problem belongs to a function, not to a `hybridless.images.Worker-0` the user never wrote.
    text = """\
service: shop
hybridless:
  functions:
    Worker:
      events:
        - eventType: lambdaContainer
          runtime: container
    worker:
      events:
        - eventType: lambdaContainer
          runtime: container
"""

    ((line, key, message),) = problems(tmp_path, text)

    assert (line, key) == (8, "hybridless.functions.worker")
    assert "shop/worker-0-dev" in message


# --- every problem in one run -------------------------------------------------------------------


def test_every_problem_across_functions_is_reported_in_one_run(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  logRetentionInDays: 10
  vpc: {cidr: 10.0.0.0/16, subnets: [10.0.1.0/24, 10.0.2.0/24]}
hybridless:
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
          hostname: not a host
          routes: [{path: /a, method: FETCH, priority: 3}]
    Api:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: httpLoadBalancer
          routes: [{path: /b, priority: 3}]
    Jobs:
      events:
        - eventType: scheduledTask
          runtime: container
          schedulerRate: every day
        - eventType: lambda
          runtime: python2
    Queue:
      events:
        - eventType: lambdaContainer
          runtime: container
          protocol: sqs
          protocolArn: arn:aws:sns:eu-west-1:123456789012:topic
resources:
  Resources:
    Bucket: {Properties: {}}
"""

    assert problems(tmp_path, text) == in_line_order(
        [
            (
                3,
                "provider.logRetentionInDays",
                "10 is not a retention CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, 120, "
                "150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)",
            ),
            (11, "hybridless.functions.Web.events[0].hostname", "'not a host' is not a host name"),
            (
                12,
                "hybridless.functions.Web.events[0].routes[0].method",
                "'FETCH' is not an HTTP method",
            ),
            (
                23,
                "hybridless.functions.Jobs.events[0].schedulerRate",
                "'every day' is not a schedule: rate(5 minutes) or cron(0 12 * * ? *)",
            ),
            (
                25,
                "hybridless.functions.Jobs.events[1].runtime",
                "'python2' is not an AWS Lambda runtime (e.g. python3.12, nodejs22.x, java21, "
                "provided.al2023); a Dockerfile goes with eventType: lambdaContainer",
            ),
            (
                19,
                "hybridless.functions.Jobs.handler",
                "is required by lambda events (e.g. src/app.handler)",
            ),
            (
                31,
                "hybridless.functions.Queue.events[0].protocolArn",
                "'arn:aws:sns:eu-west-1:123456789012:topic' is not an SQS queue ARN",
            ),
            (
                18,
                "hybridless.functions.Api.events[0].routes[0].priority",
                "3 is already used by hybridless.functions.Web.events[0].routes[0].priority; "
                "priorities must be unique on a listener",
            ),
            (34, "resources.Resources.Bucket", "a resource needs a Type"),
        ]
    )


# --- rules a deploy would otherwise learn from AWS ----------------------------------------------


def test_lambda_reserved_and_malformed_environment_names(tmp_path: Path) -> None:
    text = """\
service: shop
provider:
  environment: {AWS_REGION: eu-west-1, LEVEL: info}
hybridless:
  functions:
    Fn:
      environment: {X: one, GOOD_NAME: two}
      events:
        - eventType: lambdaContainer
          runtime: container
"""

    assert problems(tmp_path, text) == [
        (3, "provider.environment.AWS_REGION",
         "'AWS_REGION' cannot be a function's variable: Lambda reserves it"),
        (7, f"{FN}.environment.X",
         "'X' cannot be a function's variable: Lambda takes letters, digits and _, starting "
         "with a letter"),
    ]  # fmt: skip


def test_reserved_lambda_names_are_fine_for_ecs_tasks(tmp_path: Path) -> None:
    text = on_existing_network(one_event("process")).replace(
        "hybridless:", "  environment: {AWS_REGION: eu-west-1}\nhybridless:"
    )

    event = only(build(tmp_path, text))

    assert dict(event.environment) == {"AWS_REGION": "eu-west-1"}  # type: ignore[attr-defined]


def test_the_ec2_launch_type_cannot_run_in_a_created_network(tmp_path: Path) -> None:
    text = app_with(
        f"""\
        ecsClusterArn: {CLUSTER}
        events:
          - eventType: process
            runtime: container
            ec2LaunchType: true
        """
    )

    assert problems(tmp_path, text) == [
        (
            11,
            f"{EV}.ec2LaunchType",
            "EC2 instances of an existing cluster cannot be in a network this stack creates: "
            "use provider.vpc with vpcId and subnetIds",
        )
    ]


def test_routes_on_an_existing_listener_need_their_priority(tmp_path: Path) -> None:
    text = on_existing_network(
        app_with(
            f"""\
            albListenerArn: {LISTENER}
            events:
              - eventType: httpd
                runtime: container
                routes: [{{path: /a, priority: 7}}, {{path: /b}}]
            """
        )
    )

    assert problems(tmp_path, text) == [
        (
            11,
            f"{EV}.routes[1]",
            "give a priority: the listener already exists, and the priorities its own rules "
            "use cannot be known here",
        )
    ]


def test_request_scaling_on_an_existing_listener_is_refused(tmp_path: Path) -> None:
    text = on_existing_network(
        app_with(
            f"""\
            albListenerArn: {LISTENER}
            events:
              - eventType: httpd
                runtime: container
                routes: [{{path: /a, priority: 7}}]
                autoScale: {{min: 1, max: 3, metric: requests}}
            """
        )
    )

    assert problems(tmp_path, text) == [
        (
            12,
            f"{EV}.autoScale.metric",
            "requests per target needs a load balancer the app creates (not a process event "
            "or an albListenerArn)",
        )
    ]
