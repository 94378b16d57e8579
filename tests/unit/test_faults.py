"""The fault proxy's choices: which protocol a request speaks, and the form of each fault."""

from __future__ import annotations

import json

import pytest

from proving_ground.faults import Rates, fault_response, protocol_of

SIGNED_S3 = "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/s3/aws4_request, Signed..."
SIGNED_LAMBDA = "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/lambda/aws4_request, S..."


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "protocol"),
    [
        ("POST", "/", {"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.ListImages"}, b"{}",
         "json"),
        ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
         b"Action=DescribeStacks&Version=2010-05-15", "query"),
        ("PUT", "/bucket/key", {"Authorization": SIGNED_S3}, b"data", "rest-xml"),
        ("GET", "/2015-03-31/functions", {"Authorization": SIGNED_LAMBDA}, b"", "rest-json"),
        ("HEAD", "/v2/app/blobs/sha256:ab", {}, b"", "registry"),
    ],
)  # fmt: skip
def test_the_protocol_is_read_from_the_request(
    method: str, path: str, headers: dict[str, str], body: bytes, protocol: str
) -> None:
    assert protocol_of(method, path, headers, body) == protocol


@pytest.mark.parametrize(
    ("protocol", "status", "code"),
    [
        ("json", 400, "ThrottlingException"),
        ("query", 400, "Throttling"),
        ("rest-xml", 503, "SlowDown"),
        ("rest-json", 429, "TooManyRequestsException"),
        ("registry", 429, "TOOMANYREQUESTS"),
    ],
)
def test_throttling_has_each_protocol_s_own_status_and_code(
    protocol: str, status: int, code: str
) -> None:
    answered, headers, body = fault_response(protocol, "throttle", 0.0)
    assert answered == status
    assert code.encode() in body or headers.get("x-amzn-ErrorType") == code
    if protocol in ("json", "registry"):
        json.loads(body)


@pytest.mark.parametrize("protocol", ["json", "query", "rest-xml", "rest-json", "registry"])
def test_server_errors_are_500_or_503(protocol: str) -> None:
    assert {fault_response(protocol, "error", pick)[0] for pick in (0.1, 0.9)} == {500, 503}


def test_rates_above_one_in_all_are_refused() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        Rates(throttle=0.6, error=0.3, reset=0.2)
