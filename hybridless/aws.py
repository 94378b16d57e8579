"""One place where AWS clients are made.

Endpoints are never configured here: boto3 reads `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` itself, which is how users point any AWS tool at a VPC endpoint,
a FIPS endpoint or an emulator. Retries use botocore's `standard` mode, which backs off on
throttling, so a busy account slows a deploy down instead of failing it. Calls are counted per
service: the deploy reports them, and the benchmarks compare them.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from hybridless import __version__
from hybridless.credentials import Identity

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 9},
    user_agent_extra=f"hybridless/{__version__}",
)


class Aws:
    def __init__(self, region: str, identity: Identity | None = None) -> None:
        self.region = region
        if identity is None:
            self._session = boto3.session.Session(region_name=region)
        else:
            self._session = boto3.session.Session(
                region_name=region,
                aws_access_key_id=identity.access_key_id,
                aws_secret_access_key=identity.secret_access_key,
                aws_session_token=identity.session_token,
            )
        self._clients: dict[str, Any] = {}
        self.calls: dict[str, int] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = self._session.client(service, config=CLIENT_CONFIG)
            client.meta.events.register(
                f"before-call.{client.meta.service_model.service_name}", self._count
            )
            self._clients[service] = client
        return self._clients[service]

    def _count(self, model: Any, **_: Any) -> None:
        """Counts API calls per service (retries excluded), for the log and the benchmarks."""
        name = model.service_model.service_name
        self.calls[name] = self.calls.get(name, 0) + 1

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])
