"""Every AWS client the tool makes comes from one place, with one retry setting."""

from __future__ import annotations

import re
from pathlib import Path

from hybridless.aws import CLIENT_CONFIG, Aws

PRODUCT = Path(__file__).resolve().parents[2] / "hybridless"
MAKING_A_CLIENT = re.compile(r"boto3\.client\(|\.client\(\s*[\"']|Config\(|boto3\.resource\(")


def test_no_module_but_aws_makes_a_client_or_a_retry_setting() -> None:
    makers = {
        str(path.relative_to(PRODUCT))
        for path in PRODUCT.rglob("*.py")
        for line in path.read_text().splitlines()
        if MAKING_A_CLIENT.search(line) and "aws.client(" not in line
        and "Aws(" not in line and "aws_clients(" not in line
    }  # fmt: skip
    assert makers == {"aws.py"}


def test_clients_retry_in_standard_mode_with_backoff_for_throttling() -> None:
    client = Aws("eu-west-1").client("cloudformation")
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert CLIENT_CONFIG.retries == client.meta.config.retries
