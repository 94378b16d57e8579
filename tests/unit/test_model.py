"""hybridless.yml → App: defaults, overrides, validation with file:line, and the example."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from hybridless.config import load_app
from hybridless.errors import ConfigError
from hybridless.model import (
    HealthCheck,
    HttpdEvent,
    LambdaContainerEvent,
    Listener,
    NewVpc,
    Overrides,
    RawResources,
    Route,
    Trigger,
    assign_priorities,
)
from tests.unit.configs import build, problems

EXAMPLE = Path(__file__).parents[2] / "examples" / "hello" / "hybridless.yml"

VPC = """\
provider:
  vpc:
    vpcId: vpc-1
    subnetIds: [subnet-a, subnet-b]
"""


LAMBDA_APP = """\
service: shop
hybridless:
  functions:
    Worker:
      events:
        - eventType: lambdaContainer
          runtime: container
"""

HTTPD_APP = (
    "service: shop\n"
    + VPC
    + """\
hybridless:
  functions:
    Web:
      events:
        - eventType: httpd
          runtime: container
"""
)
# Lines in HTTPD_APP: 1 service, 2 provider, 3 vpc, 4 vpcId, 5 subnetIds, 6 hybridless,
# 7 functions, 8 Web, 9 events, 10 the event, 11 runtime; keys appended to it are line 12 on.


# --- defaults and the shape of the App ----------------------------------------------------


def test_a_minimal_lambda_app_gets_the_defaults(tmp_path: Path) -> None:
    app = build(tmp_path, LAMBDA_APP)

    assert (app.service, app.stage, app.region, app.stack_name) == (
        "shop",
        "dev",
        "eu-west-1",
        "shop-dev",
    )
    assert app.config_file == tmp_path / "hybridless.yml"
    assert app.deployment_method == "changeset"
    assert (app.deployment_bucket, app.keep_deployments) == (None, 5)
    assert (app.tags, app.vpc) == ((), None)
    (event,) = app.events
    assert isinstance(event, LambdaContainerEvent)
    assert (event.function, event.index, event.memory, event.timeout) == ("Worker", 0, 1024, 30)
    assert event.reserved_concurrency is None
    assert event.environment == ()
    assert event.image.name == "Worker-0"
    assert event.image.repository == "shop/worker-0-dev"
    assert event.image.context == tmp_path.resolve()
    assert (event.image.dockerfile, event.image.build_args) == ("Dockerfile", ())
    assert app.images == (event.image,)
    assert (app.lambda_events, app.httpd_events) == ((event,), ())


def test_an_httpd_event_gets_the_defaults(tmp_path: Path) -> None:
    app = build(tmp_path, HTTPD_APP)

    (event,) = app.httpd_events
    assert (event.task.cpu, event.task.memory, event.port, event.concurrency) == (512, 1024, 80, 1)
    assert (event.task.ec2_launch_type, event.task.cluster_arn) == (False, None)
    assert event.routing.routes == (Route(path="/*", method=None, priority=0),)
    assert event.routing.listener == Listener(existing_arn=None, private=False)
    assert (event.routing.hostname, event.routing.certificate_arns) == (None, ())
    assert (event.autoscale, event.log_retention_days) == (None, 30)
    assert event.health == HealthCheck(
        path="/", interval=15, timeout=10, healthy_count=2, unhealthy_count=5, status_code="200"
    )
    assert event.deregistration_delay == 30
    assert app.vpc is not None
    assert app.vpc.alb_subnet_ids == ("subnet-a", "subnet-b")
    assert app.vpc.security_group_ids == ()


def test_the_app_is_immutable(tmp_path: Path) -> None:
    app = build(tmp_path, LAMBDA_APP)

    with pytest.raises(dataclasses.FrozenInstanceError):
        app.stage = "prod"  # type: ignore[misc]


def test_repository_and_image_names(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        """\
        service: shop
        provider:
          stage: Prod-1
        hybridless:
          functions:
            OrderWorker:
              events:
                - eventType: lambdaContainer
                  runtime: container
                - eventType: lambdaContainer
                  runtime: container
                  dockerFile: Dockerfile.other
        """,
        dockerfiles=("Dockerfile", "Dockerfile.other"),
    )

    assert [(i.name, i.repository, i.dockerfile) for i in app.images] == [
        ("OrderWorker-0", "shop/orderworker-0-prod-1", "Dockerfile"),
        ("OrderWorker-1", "shop/orderworker-1-prod-1", "Dockerfile.other"),
    ]
    assert app.stack_name == "shop-Prod-1"


def test_environment_is_merged_provider_then_function_then_event(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        """\
        service: shop
        provider:
          environment: {LEVEL: provider, AA: a, DEBUG: false}
        hybridless:
          functions:
            Worker:
              environment: {LEVEL: function, BB: 2}
              events:
                - eventType: lambdaContainer
                  runtime: container
                  environment: {LEVEL: event, CC: c}
                - eventType: lambdaContainer
                  runtime: container
        """,
    )

    first, second = app.events
    assert dict(first.environment) == {
        "LEVEL": "event",
        "AA": "a",
        "DEBUG": "false",
        "BB": "2",
        "CC": "c",
    }
    assert dict(second.environment) == {"LEVEL": "function", "AA": "a", "DEBUG": "false", "BB": "2"}


def test_build_args_from_the_command_line_win_over_the_file(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        LAMBDA_APP + "          dockerBuildArgs: {BASE_IMAGE: python:3.12, PIP_INDEX: pypi}\n",
        overrides=Overrides(build_args=(("BASE_IMAGE", "mirror/python:3.12"),)),
    )

    assert dict(app.images[0].build_args) == {
        "BASE_IMAGE": "mirror/python:3.12",
        "PIP_INDEX": "pypi",
    }


def test_provider_settings_are_read(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        """\
        service: shop
        provider:
          region: us-east-2
          stage: qa
          stackName: custom-stack
          deploymentMethod: direct
          deploymentBucket: {name: my-bucket, keepDeployments: 3}
          tags: {team: core, cost: 42}
        hybridless:
          functions:
            Worker:
              memory: 256
              timeout: 60
              events:
                - eventType: lambdaContainer
                  runtime: container
                  reservedConcurrency: 4
        """,
    )

    assert (app.region, app.stage, app.stack_name) == ("us-east-2", "qa", "custom-stack")
    assert app.deployment_method == "direct"
    assert (app.deployment_bucket, app.keep_deployments) == ("my-bucket", 3)
    assert app.tags == (("team", "core"), ("cost", "42"))
    (event,) = app.lambda_events
    assert (event.memory, event.timeout, event.reserved_concurrency) == (256, 60, 4)


def test_a_deployment_bucket_may_be_just_a_name(tmp_path: Path) -> None:
    app = build(tmp_path, "provider:\n  deploymentBucket: my-bucket\n" + LAMBDA_APP)

    assert (app.deployment_bucket, app.keep_deployments) == ("my-bucket", 5)


# --- overrides ----------------------------------------------------------------------------


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    provider = "provider:\n  region: us-east-2\n  stage: qa\n  stackName: from-file\n"
    text = provider + "  deploymentMethod: direct\n" + LAMBDA_APP

    app = build(
        tmp_path,
        text,
        Overrides(
            stage="prod",
            region="ap-south-1",
            stack_name="from-cli",
            deployment_method="changesets",
        ),
    )

    assert (app.stage, app.region, app.stack_name) == ("prod", "ap-south-1", "from-cli")
    assert app.deployment_method == "changeset"
    assert app.images[0].repository == "shop/worker-0-prod"


def test_the_default_stack_name_follows_the_stage_override(tmp_path: Path) -> None:
    app = build(tmp_path, LAMBDA_APP, Overrides(stage="feature-7"))

    assert (app.stage, app.stack_name) == ("feature-7", "shop-feature-7")


@pytest.mark.parametrize(
    ("provider", "environ", "region"),
    [
        ("", {"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-west-1"}, "eu-west-3"),
        ("", {"AWS_DEFAULT_REGION": "us-west-1"}, "us-west-1"),
        ("provider:\n  region: sa-east-1\n", {"AWS_REGION": "eu-west-3"}, "sa-east-1"),
    ],
)
def test_the_region_comes_from_the_file_then_the_environment(
    tmp_path: Path, provider: str, environ: dict[str, str], region: str
) -> None:
    assert build(tmp_path, provider + LAMBDA_APP, environ=environ).region == region


def test_no_region_at_all_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "provider:\n  stage: dev\n" + LAMBDA_APP, environ={})

    assert found == [(1, "provider", "no region: set provider.region, --region or AWS_REGION")]


def test_a_changesets_alias_and_a_wrong_deployment_method(tmp_path: Path) -> None:
    alias = build(tmp_path, "provider:\n  deploymentMethod: changesets\n" + LAMBDA_APP)
    assert alias.deployment_method == "changeset"

    found = problems(tmp_path, "provider:\n  deploymentMethod: rolling\n" + LAMBDA_APP)
    assert found == [
        (2, "provider.deploymentMethod", "'rolling' must be one of changeset, direct"),
    ]


def test_names_that_cannot_be_used(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        service: Shop_App
        provider:
          stage: a-stage-name-that-is-too-long
        hybridless:
          functions:
            order-worker:
              events:
                - eventType: lambdaContainer
                  runtime: container
        """,
    )

    assert found == [
        (
            1,
            "service",
            "'Shop_App' must be lowercase letters, digits and dashes, starting with a letter "
            "(max 40)",
        ),
        (
            3,
            "provider.stage",
            "'a-stage-name-that-is-too-long' must be letters, digits and dashes (at most 16)",
        ),
        (
            6,
            "hybridless.functions.order-worker",
            "function names are letters and digits, starting with a letter (at most 40)",
        ),
    ]


def test_a_stage_override_is_checked_too(tmp_path: Path) -> None:
    found = problems(tmp_path, LAMBDA_APP, Overrides(stage="feature/x"))

    assert found == [(1, "", "--stage 'feature/x' must be letters, digits and dashes (at most 16)")]


# --- unknown and not-yet-supported keys -----------------------------------------------------


def test_an_unknown_key_gets_a_did_you_mean_hint(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        service: shop
        provider:
          regoin: eu-west-1
          colour: blue
        hybridless:
          functions:
            Worker:
              memroy: 512
              events:
                - eventType: lambdaContainer
                  runtime: container
        """,
    )

    assert found == [
        (3, "provider.regoin", "unknown key; did you mean 'region'?"),
        (4, "provider.colour", "unknown key"),
        (8, "hybridless.functions.Worker.memroy", "unknown key; did you mean 'memory'?"),
    ]


LAMBDA_ZIP_APP = LAMBDA_APP.replace(
    "    Worker:\n", "    Worker:\n      handler: app.main\n"
).replace(
    "eventType: lambdaContainer\n          runtime: container",
    "eventType: lambda\n          runtime: python3.12",
)
# Lines in LAMBDA_ZIP_APP: 1 service, 2 hybridless, 3 functions, 4 Worker, 5 handler, 6 events,
# 7 the event, 8 runtime; keys appended to it are line 9 on.


@pytest.mark.parametrize(
    ("text", "strategy"),
    [
        (HTTPD_APP + "          deployment: {strategy: blueGreen}\n", "blueGreen"),
        (
            HTTPD_APP.replace("eventType: httpd", "eventType: process")
            + "          deployment: {strategy: halfAtATime}\n",
            "halfAtATime",
        ),
        (LAMBDA_APP + "          deployment: {strategy: canary}\n", "canary"),
        (LAMBDA_ZIP_APP + "          deployment: {strategy: linear}\n", "linear"),
    ],
)
def test_deployment_blocks_once_refused_are_read_into_the_event(
    tmp_path: Path, text: str, strategy: str
) -> None:
    (event,) = build(tmp_path, text).events

    assert event.deployment is not None
    assert event.deployment.strategy == strategy


CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"


@pytest.mark.parametrize(
    ("text", "check"),
    [
        pytest.param(
            "resources:\n  Resources:\n    Queue: {Type: AWS::SQS::Queue}\n" + HTTPD_APP,
            lambda app: (
                app.resources
                == RawResources(
                    sections={"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}},
                    lines={("Resources", "Queue"): 3},
                    file=str(app.config_file),
                )
            ),
            id="resources",
        ),
        pytest.param(
            HTTPD_APP.replace(
                "provider:\n",
                "provider:\n  iam:\n    role:\n      statements:\n"
                "        - {Effect: Allow, Action: s3:GetObject, Resource: '*'}\n",
            ),
            lambda app: (
                app.iam_statements
                == ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},)
            ),
            id="provider.iam",
        ),
        pytest.param(
            HTTPD_APP.replace("hybridless:\n", "hybridless:\n  tags: {team: web}\n"),
            lambda app: app.tags == (("team", "web"),),
            id="hybridless.tags",
        ),
        pytest.param(
            LAMBDA_APP.replace("    Worker:\n", "    Worker:\n      handler: app.main\n"),
            lambda app: app.events[0].command == ("app.main",),
            id="handler",
        ),
        pytest.param(
            HTTPD_APP + f"          certificateArns: [{CERTIFICATE}]\n",
            lambda app: app.events[0].routing.certificate_arns == (CERTIFICATE,),
            id="certificateArns",
        ),
        pytest.param(
            HTTPD_APP.replace(
                "    vpcId: vpc-1\n    subnetIds: [subnet-a, subnet-b]\n",
                "    cidr: 10.0.0.0/16\n    subnets: [10.0.1.0/24, 10.0.2.0/24]\n",
            ),
            lambda app: app.vpc == NewVpc("10.0.0.0/16", ("10.0.1.0/24", "10.0.2.0/24")),
            id="provider.vpc.cidr",
        ),
        pytest.param(
            LAMBDA_APP + "          protocol: scheduler\n          schedulerRate: rate(1 hour)\n",
            lambda app: app.events[0].trigger == Trigger("scheduler", schedule="rate(1 hour)"),
            id="schedulerRate",
        ),
    ],
)
def test_keys_once_refused_are_read_now(tmp_path: Path, text: str, check: Any) -> None:
    app = build(tmp_path, text)

    assert check(app)


def test_a_key_of_another_protocol_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, LAMBDA_APP + "          schedulerRate: rate(1 hour)\n")

    assert found == [
        (
            8,
            "hybridless.functions.Worker.events[0].schedulerRate",
            "does not apply to protocol: none",
        )
    ]


def test_event_types(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        service: shop
        hybridless:
          functions:
            Worker:
              events:
                - eventType: proces
                  runtime: container
                - eventType: lambdaContaner
                  runtime: container
                - eventType: cron
                  runtime: container
                - eventType: scheduledtask
                  runtime: container
                - runtime: container
        """,
    )

    events = "hybridless.functions.Worker.events"
    assert found == [
        (6, f"{events}[0].eventType", "'proces' is not an event type; did you mean 'process'?"),
        (
            8,
            f"{events}[1].eventType",
            "'lambdaContaner' is not an event type; did you mean 'lambdaContainer'?",
        ),
        (10, f"{events}[2].eventType", "'cron' is not an event type"),
        (
            12,
            f"{events}[3].eventType",
            "'scheduledtask' is not an event type; did you mean 'scheduledTask'?",
        ),
        (
            14,
            f"{events}[4].eventType",
            "is required (httpd, process, scheduledTask, lambdaContainer, lambda)",
        ),
    ]


def test_only_known_runtimes_and_existing_dockerfiles(tmp_path: Path) -> None:
    """java21 is a Lambda runtime, not one the tool can write a Dockerfile for."""
    found = problems(
        tmp_path,
        LAMBDA_APP.replace("runtime: container", "runtime: java21")
        + "          dockerFile: docker/Dockerfile.worker\n",
    )

    config = tmp_path / "hybridless.yml"
    event = "hybridless.functions.Worker.events[0]"
    assert found == [
        (
            7,
            f"{event}.runtime",
            "'java21' is not a runtime: use container (your Dockerfile) or a built-in one "
            "(nodejs18, nodejs20, nodejs22, nodejs24, python3.9, python3.10, python3.11, "
            "python3.12, python3.13)",
        ),
        (8, f"{event}.dockerFile", f"docker/Dockerfile.worker not found next to {config}"),
    ]


# --- Fargate, Lambda and network rules -------------------------------------------------------


def test_fargate_memory_must_fit_the_cpu(tmp_path: Path) -> None:
    text = HTTPD_APP.replace("    Web:\n", "    Web:\n      memory: 1024\n")

    found = problems(tmp_path, text + "          cpu: 2048\n")

    assert found == [
        (
            9,
            "hybridless.functions.Web.memory",
            "1024 MiB does not fit Fargate cpu 2048 (allowed: 4096..16384 in steps of 1024)",
        )
    ]


def test_a_cpu_size_fargate_does_not_offer(tmp_path: Path) -> None:
    found = problems(tmp_path, HTTPD_APP + "          cpu: 768\n")

    assert found == [
        (
            12,
            "hybridless.functions.Web.events[0].cpu",
            "768 is not a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)",
        )
    ]


def test_the_memory_message_for_cpu_256_only_offers_sizes_that_fit(tmp_path: Path) -> None:
    # Fargate cpu 256 takes 512, 1024 or 2048 MiB: there is no regular step between them, so
    # the message must not describe a range that includes the refused 1536.
    text = HTTPD_APP.replace("    Web:\n", "    Web:\n      memory: 1536\n")

    ((line, key, message),) = problems(tmp_path, text + "          cpu: 256\n")

    assert (line, key) == (9, "hybridless.functions.Web.memory")
    described = re.search(r"allowed (\d+)\.\.(\d+) in steps of (\d+)", message)
    offered = (
        range(int(described[1]), int(described[2]) + 1, int(described[3])) if described else ()
    )
    assert 1536 not in offered, message


def test_lambda_limits(tmp_path: Path) -> None:
    text = LAMBDA_APP.replace("    Worker:\n", "    Worker:\n      memory: 12288\n")

    found = problems(tmp_path, text + "          protocol: htpp\n")

    assert found == [
        (5, "hybridless.functions.Worker.memory", "12288 MiB is more than Lambda allows (10240)"),
        (
            9,
            "hybridless.functions.Worker.events[0].protocol",
            "'htpp' must be one of none, http, httpLoadBalancer, sqs, sns, scheduler; "
            "did you mean 'http'?",
        ),
    ]


def test_httpd_events_need_a_vpc(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        service: shop
        hybridless:
          functions:
            Web:
              events:
                - eventType: httpd
                  runtime: container
        """,
    )

    assert found == [
        (
            1,
            "provider.vpc",
            # The event type as the user wrote it (not the class name "Httpd").
            "ECS events (httpd) need a network: set provider.vpc to an existing one (vpcId, "
            "subnetIds) or to a new one (cidr, subnets)",
        )
    ]


def test_a_load_balancer_needs_two_subnets(tmp_path: Path) -> None:
    one_subnet = HTTPD_APP.replace("[subnet-a, subnet-b]", "[subnet-a]")
    assert problems(tmp_path, one_subnet) == [
        (
            5,
            "provider.vpc.subnetIds",
            "the load balancer of http routes needs subnets in at least two zones",
        )
    ]

    one_alb_subnet = HTTPD_APP.replace(
        "    subnetIds: [subnet-a, subnet-b]\n",
        "    subnetIds: [subnet-a, subnet-b]\n    albSubnetIds: [public-a]\n",
    )
    assert problems(tmp_path, one_alb_subnet) == [
        (
            6,
            "provider.vpc.albSubnetIds",
            "the load balancer of http routes needs subnets in at least two zones",
        )
    ]


def test_load_balancer_subnets_may_differ_from_task_subnets(tmp_path: Path) -> None:
    text = HTTPD_APP.replace(
        "    subnetIds: [subnet-a, subnet-b]\n",
        "    subnetIds: [private-a]\n    albSubnetIds: [public-a, public-b]\n"
        "    securityGroupIds: sg-1\n",
    )

    vpc = build(tmp_path, text).vpc

    assert vpc is not None
    assert (vpc.vpc_id, vpc.subnet_ids) == ("vpc-1", ("private-a",))
    assert vpc.alb_subnet_ids == ("public-a", "public-b")
    assert vpc.security_group_ids == ("sg-1",)


def test_a_health_check_timeout_must_be_shorter_than_its_interval(tmp_path: Path) -> None:
    text = HTTPD_APP + "          healthCheckInterval: 10\n          healthCheckTimeout: 10\n"

    assert problems(tmp_path, text) == [
        (
            13,
            "hybridless.functions.Web.events[0].healthCheckTimeout",
            "must be shorter than healthCheckInterval",
        )
    ]


# --- routes and priorities -----------------------------------------------------------------


def test_routes_are_read_and_methods_normalised(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        HTTPD_APP
        + """\
          routes:
            - {path: /api/*, method: get, priority: 7}
            - {path: /any, method: ANY}
            - {path: /star, method: "*"}
        """,
    )

    assert app.httpd_events[0].routing.routes == (
        Route("/api/*", "GET", 7),
        Route("/any", None, 0),
        Route("/star", None, 0),
    )


def test_an_explicit_priority_clash_is_an_error(tmp_path: Path) -> None:
    text = HTTPD_APP + (
        "          routes:\n"
        "            - {path: /a, priority: 5}\n"
        "            - path: /b\n"
        "              priority: 5\n"
    )

    assert problems(tmp_path, text) == [
        (
            15,
            "hybridless.functions.Web.events[0].routes[1].priority",
            "5 is already used by hybridless.functions.Web.events[0].routes[0].priority; "
            "priorities must be unique on a listener",
        )
    ]


def test_free_priorities_are_given_in_written_order_with_catch_alls_last(tmp_path: Path) -> None:
    app = build(
        tmp_path,
        "service: shop\n"
        + VPC
        + """\
hybridless:
  functions:
    Site:
      events:
        - eventType: httpd
          runtime: container
          routes:
            - {path: /*}
            - {path: /about}
    Api:
      events:
        - eventType: lambdaContainer
          runtime: container
        - eventType: httpd
          runtime: container
          routes:
            - {path: /api/v1/*, priority: 2}
            - {path: /api/*}
            - {path: /health}
""",
    )

    assert assign_priorities(app.events) == {
        ("Site", 0, 1): 1,
        ("Api", 1, 0): 2,
        ("Api", 1, 1): 3,
        ("Api", 1, 2): 4,
        ("Site", 0, 0): 5,
    }


# --- all problems at once ------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        service: shop
        provider:
          deploymentMethod: blue-green
        hybridless:
          functions:
            Worker:
              timeout: 0
              events:
                - eventType: lambdaContainer
                  runtime: container
                  dockerFile: Missing.dockerfile
        """,
    )

    config = tmp_path / "hybridless.yml"
    assert found == [
        (3, "provider.deploymentMethod", "'blue-green' must be one of changeset, direct"),
        (7, "hybridless.functions.Worker.timeout", "0 is out of range (1..900)"),
        (
            11,
            "hybridless.functions.Worker.events[0].dockerFile",
            f"Missing.dockerfile not found next to {config}",
        ),
    ]


def test_one_mistake_is_reported_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        service: shop
        hybridless:
          functions:
            Worker: [lambdaContainer]
        """,
    )

    assert found.count((4, "hybridless.functions.Worker", "must be a mapping, not a list")) == 1


# --- the example, through load_app ----------------------------------------------------------

EXAMPLE_ENV = {
    "VPC_ID": "vpc-0example",
    "SUBNET_A": "subnet-a",
    "SUBNET_B": "subnet-b",
    "SECURITY_GROUP_ID": "sg-0example",
    "AWS_REGION": "eu-central-1",
}


def test_the_example_loads_into_the_expected_app() -> None:
    app = load_app(EXAMPLE, Overrides(), EXAMPLE_ENV)

    assert (app.service, app.stage, app.region, app.stack_name) == (
        "hello",
        "dev",
        "eu-central-1",
        "hello-dev",
    )
    assert app.tags == (("app", "hello"),)
    assert app.vpc is not None
    assert app.vpc.vpc_id == "vpc-0example"
    assert app.vpc.subnet_ids == ("subnet-a", "subnet-b")
    assert app.vpc.alb_subnet_ids == ("subnet-a", "subnet-b")
    assert app.vpc.security_group_ids == ("sg-0example",)

    web, greeter = app.events
    assert isinstance(web, HttpdEvent)
    assert isinstance(greeter, LambdaContainerEvent)
    assert (web.task.image.name, web.task.image.repository) == ("Web-0", "hello/web-0-dev")
    assert (greeter.image.name, greeter.image.repository) == ("Greeter-0", "hello/greeter-0-dev")
    assert web.task.image.context == EXAMPLE.parent.resolve()
    assert (web.task.image.dockerfile, greeter.image.dockerfile) == (
        "Dockerfile.web",
        "Dockerfile.lambda",
    )
    assert web.task.image.build_args == (("BASE_IMAGE", "python:3.12-slim"),)
    assert greeter.image.build_args == (("BASE_IMAGE", "public.ecr.aws/lambda/python:3.12"),)
    assert (web.task.cpu, web.task.memory, web.port, web.concurrency) == (512, 1024, 8080, 2)
    assert web.health.path == "/health"
    assert web.routing.routes == (Route("/*", "GET", 0),)
    assert (greeter.memory, greeter.timeout) == (512, 10)
    assert web.environment == greeter.environment == (("GREETING_AUDIENCE", "world"),)


def test_the_example_with_a_stage_and_environment_overrides() -> None:
    environ = {
        **EXAMPLE_ENV,
        "GREETING_AUDIENCE": "team",
        "PYTHON_IMAGE": "mirror.local/python:3.12-slim",
    }

    app = load_app(EXAMPLE, Overrides(stage="prod", region="us-east-1"), environ)

    assert (app.stage, app.region, app.stack_name) == ("prod", "us-east-1", "hello-prod")
    assert [i.repository for i in app.images] == ["hello/web-0-prod", "hello/greeter-0-prod"]
    assert app.images[0].build_args == (("BASE_IMAGE", "mirror.local/python:3.12-slim"),)
    assert [e.environment for e in app.events] == [(("GREETING_AUDIENCE", "team"),)] * 2


def test_the_example_without_its_network_names_every_missing_variable() -> None:
    with pytest.raises(ConfigError) as raised:
        load_app(EXAMPLE, Overrides(), {"AWS_REGION": "eu-central-1"})

    assert [(p.line, p.key, p.message) for p in raised.value.problems] == [
        (11, "provider.vpc.vpcId", "${env:VPC_ID} is not set and has no fallback"),
        (13, "provider.vpc.subnetIds[0]", "${env:SUBNET_A} is not set and has no fallback"),
        (14, "provider.vpc.subnetIds[1]", "${env:SUBNET_B} is not set and has no fallback"),
        (
            16,
            "provider.vpc.securityGroupIds[0]",
            "${env:SECURITY_GROUP_ID} is not set and has no fallback",
        ),
    ]
    assert str(raised.value).splitlines()[0] == (
        f"{EXAMPLE}:11: provider.vpc.vpcId: ${{env:VPC_ID}} is not set and has no fallback"
    )


# Found by tests/unit/test_config_fuzz.py.


def test_an_event_type_that_is_a_list_or_mapping_is_a_problem(tmp_path: Path) -> None:
    text = LAMBDA_APP.replace("eventType: lambdaContainer", "eventType: [lambda]")

    assert problems(tmp_path, text) == [
        (
            6,
            "hybridless.functions.Worker.events[0].eventType",
            "must be one of httpd, process, scheduledTask, lambdaContainer, lambda, not a list",
        )
    ]


def test_a_file_that_is_only_null_is_empty_at_its_line_and_one_of_comments_has_none(
    tmp_path: Path,
) -> None:
    assert problems(tmp_path, "# nothing yet\n~\n") == [
        (2, "", "is empty: expected service, provider and hybridless")
    ]
    assert problems(tmp_path, "# nothing yet\n") == [
        (None, "", "is empty: expected service, provider and hybridless")
    ]


def test_a_date_in_a_schedule_input_is_passed_as_the_text_written(tmp_path: Path) -> None:
    text = LAMBDA_APP + "          protocol: scheduler\n          schedulerRate: rate(1 day)\n"
    text += "          schedulerInput: {since: 2024-01-01}\n"

    (event,) = build(tmp_path, text).lambda_events

    assert event.trigger.input == '{"since":"2024-01-01"}'
