"""A deploy of handlers with no Dockerfile at all: the tool writes the images, builds, pushes
and deploys them, and the pushed HTTP image answers its health check and calls the handler."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from proving_ground import procs
from tests.conftest import GroundHandle
from tests.integration.hello import App
from tests.support import prepare_account

CONFIG = """\
service: handlers
provider:
  stage: ${opt:stage, 'dev'}
  vpc:
    vpcId: ${env:VPC_ID}
    subnetIds: ["${env:SUBNET_A}", "${env:SUBNET_B}"]
    securityGroupIds: ["${env:SECURITY_GROUP_ID}"]
hybridless:
  functions:
    Api:
      handler: src/api.handler
      events:
        - eventType: httpd
          runtime: python3.11
          baseImage: ${env:PYTHON_IMAGE}
          port: 8080
          routes: [{path: /*, method: GET}]
    Nightly:
      handler: src/api.nightly
      events:
        - eventType: scheduledTask
          runtime: python3.11
          baseImage: ${env:PYTHON_IMAGE}
          schedulerRate: rate(1 day)
          schedulerInput: {report: sales}
"""
HANDLER = """\
import json


def handler(event, context):
    body = {"path": event["path"], "who": (event["queryStringParameters"] or {}).get("who")}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}


def nightly(event, context):
    print("nightly", json.dumps(event))
"""


@pytest.fixture
def handlers(ground_env: GroundHandle, tmp_path: Path, unique: str) -> App:
    directory = tmp_path / "handlers"
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "api.py").write_text(HANDLER)
    (directory / "hybridless.yml").write_text(CONFIG)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **ground_env.env,
        **prepare_account(ground_env.env, unique),
    }
    return App(directory, f"t{unique}", env)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def test_built_in_runtimes_deploy_and_the_image_runs_the_handler(
    handlers: App, ground: GroundHandle
) -> None:
    result = handlers.deploy("--method", "direct")

    assert result.returncode == 0, result.log
    assert result.outputs is not None
    assert "Api-0: Step 1/" in result.log
    assert not (handlers.directory / "Dockerfile").exists()
    uri = result.outputs["images"]["Api-0"]
    docker = ground.docker()
    port = procs.free_port()
    container = docker.containers.run(
        f"{ground.registry}/{uri.split('/', 1)[1]}",
        detach=True,
        network_mode="host",
        environment={"PORT": str(port)},
    )
    try:
        procs.wait_until(
            lambda: get(f"http://127.0.0.1:{port}/_hybridless/health")[0] == 200,
            30,
            "the built-in runtime's health route",
        )
        status, body = get(f"http://127.0.0.1:{port}/orders?who=ops")
        assert status == 200
        assert json.loads(body) == {"path": "/orders", "who": "ops"}
    finally:
        container.remove(force=True)

    # The scheduled task's event reaches its handler, through the variable the runtime reads.
    nightly = result.outputs["images"]["Nightly-0"]
    event = '{"report":"sales"}'
    output = docker.containers.run(
        f"{ground.registry}/{nightly.split('/', 1)[1]}",
        network_mode="host",
        environment={"HYBRIDLESS_EVENT": event},
        remove=True,
    )
    assert b'nightly {"report": "sales"}' in output

    again = handlers.deploy("--method", "direct")
    assert again.returncode == 0, again.log
    assert again.log.count("is reused: not built, not pushed") == 2
