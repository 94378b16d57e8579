"""Deploys through the fault proxy: AWS throttling, failing and dropping a share of the calls.

The proxy (proving_ground/faults.py) stands between the tool and moto (and the ECR API), so the
code under test runs unchanged: it meets throttling and server errors in each protocol's own
form and connections reset before their request arrives, as it would on a bad day in a busy
account, and must still finish every deploy with the stack where the deploy put it.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from proving_ground.faults import Faults, Rates
from tests.conftest import GroundHandle
from tests.integration.hello import App

BAD_DAY = Rates(throttle=0.20, error=0.05, reset=0.02, latency_ms=2)
DEPLOYS_IN_A_ROW = 4
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
CALLS = {
    "cloudformation": ("query", lambda c: c.list_stacks()),
    "sts": ("query", lambda c: c.get_caller_identity()),
    "ecs": ("json", lambda c: c.list_clusters()),
    "ecr": ("json", lambda c: c.describe_repositories()),
    "s3": ("rest-xml", lambda c: c.list_buckets()),
    "lambda": ("rest-json", lambda c: c.list_functions()),
}


@pytest.fixture
def faulty(ground_env: GroundHandle) -> Iterator[tuple[Faults, Faults]]:
    """Proxies in front of moto and of the ECR API, at the bad day's rates."""
    aws = Faults(ground_env.env["AWS_ENDPOINT_URL"], BAD_DAY, seed=1)
    ecr = Faults(ground_env.env["AWS_ENDPOINT_URL_ECR"], BAD_DAY, seed=2)
    try:
        yield aws, ecr
    finally:
        aws.close()
        ecr.close()


def client_through(service: str, proxy: Faults) -> object:
    return boto3.client(service, endpoint_url=proxy.url, config=NO_RETRIES)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_each_protocol_is_throttled_in_the_form_the_sdk_recognises(
    ground_env: GroundHandle, service: str
) -> None:
    protocol, call = CALLS[service]
    upstream = ground_env.env["AWS_ENDPOINT_URL_ECR" if service == "ecr" else "AWS_ENDPOINT_URL"]
    for kind, checker in (
        ("throttle", ThrottledRetryableChecker()),
        ("error", TransientRetryableChecker()),
    ):
        rates = Rates(throttle=1.0) if kind == "throttle" else Rates(error=1.0)
        with Faults(upstream, rates) as proxy:
            with pytest.raises(ClientError) as raised:
                call(client_through(service, proxy))
            assert proxy.injected == {(protocol, kind): 1}
        error = raised.value.response
        assert checker.is_retryable(_context(raised.value)), (service, kind, error)
    with Faults(upstream, Rates(reset=1.0)) as proxy, pytest.raises(ConnectionClosedError):
        call(client_through(service, proxy))
    with Faults(upstream, Rates()) as proxy:
        call(client_through(service, proxy))
        assert proxy.forwarded == 1 and not proxy.injected


def _context(error: ClientError) -> object:
    """What botocore's retry checkers look at: the parsed error and the HTTP status."""
    from botocore.retries.standard import RetryContext

    class Response:
        status_code = error.response["ResponseMetadata"]["HTTPStatusCode"]

    return RetryContext(
        attempt_number=1,
        operation_model=None,
        parsed_response=error.response,
        http_response=Response(),
    )


def test_deploys_complete_on_a_bad_day_many_times_in_a_row(
    app: App, faulty: tuple[Faults, Faults]
) -> None:
    aws, ecr = faulty
    app.env["AWS_ENDPOINT_URL"] = aws.url
    app.env["AWS_ENDPOINT_URL_ECR"] = ecr.url
    deployed = []
    for attempt in range(DEPLOYS_IN_A_ROW):
        app.change_code(f"Hello on a bad day, take {attempt}, {{audience}}!")
        result = app.deploy()
        assert result.returncode == 0, result.log
        assert result.outputs is not None
        deployed.append(result.outputs["image-tag"])
    assert len(set(deployed)) == DEPLOYS_IN_A_ROW

    met = {protocol for protocol, _ in aws.injected} | {p for p, _ in ecr.injected}
    assert met == {"query", "json", "rest-xml", "rest-json"}, (aws.injected, ecr.injected)
    assert aws.total("throttle") + ecr.total("throttle") >= 20
    assert aws.total("error") + ecr.total("error") >= 5
    assert aws.total("reset") + ecr.total("reset") >= 2

    stack = boto3.client("cloudformation").describe_stacks(StackName=app.stack_name)["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["hybridless:stage"] == app.stage
    live = boto3.client("lambda").get_function(FunctionName=_function(app))["Code"]
    assert live["ImageUri"].split("@")[1] in _digests(result.outputs)


def _function(app: App) -> str:
    resources = boto3.client("cloudformation").list_stack_resources(StackName=app.stack_name)
    return next(
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    )


def _digests(outputs: dict[str, object]) -> set[str]:
    images = outputs["images"]
    assert isinstance(images, dict)
    return {str(uri).split("@")[1] for uri in images.values()}


def test_a_deploy_completes_through_a_registry_that_throttles_fails_and_drops(
    app: App, ground_env: GroundHandle
) -> None:
    """A push stops at the registry's first refusal (the engine does not retry a 429), so the
    tool tries the image again; layers already sent are not sent twice."""
    rates = Rates(throttle=0.04, error=0.02, reset=0.02)
    with Faults(ground_env.registry, rates, seed=3) as registry:
        result = app.deploy("--registry", registry.address)

    assert result.returncode == 0, result.log
    assert registry.total() >= 1, registry.injected
    assert {protocol for protocol, _ in registry.injected} == {"registry"}
    assert result.outputs is not None
    assert set(result.outputs["images"]) == {"Web-0", "Greeter-0"}
