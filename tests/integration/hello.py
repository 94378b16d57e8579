"""examples/hello, copied and deployed by the integration tests as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
HYBRIDLESS = Path(sys.executable).parent / "hybridless"
REPOSITORIES = ("web-0", "greeter-0")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def digests(outputs: dict[str, Any]) -> dict[str, str]:
    """{repository short name: digest} of a deploy's `images` output."""
    return {name.lower(): uri.split("@")[1] for name, uri in outputs["images"].items()}


@dataclass
class Deploy:
    returncode: int
    log: str
    outputs: dict[str, Any] | None


@dataclass
class App:
    """One copy of examples/hello, deployed to its own stage."""

    directory: Path
    stage: str
    env: dict[str, str]

    def deploy(self, *options: str) -> Deploy:
        outputs = self.directory / "outputs.json"
        outputs.unlink(missing_ok=True)
        result = subprocess.run(
            [
                str(HYBRIDLESS), "deploy",
                "--config", str(self.directory / "hybridless.yml"),
                "--stage", self.stage,
                "--outputs-file", str(outputs),
                *options,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log = result.stdout + result.stderr
        assert "Traceback" not in log, log
        loaded = json.loads(outputs.read_text()) if outputs.exists() else None
        return Deploy(result.returncode, log, loaded)

    def change_code(self, greeting: str) -> None:
        source = self.directory / "greeting.py"
        text = source.read_text()
        start = text.index('TEMPLATE = "') + len('TEMPLATE = "')
        end = text.index('"', start)
        source.write_text(text[:start] + greeting + text[end:])

    def keep_previous(self, count: int) -> None:
        """Set hybridless.keepPrevious: how many earlier deployments' images cleanup keeps."""
        config = self.directory / "hybridless.yml"
        text = config.read_text()
        config.write_text(
            text.replace("\nhybridless:\n", f"\nhybridless:\n  keepPrevious: {count}\n", 1)
        )

    @property
    def stack_name(self) -> str:
        return f"hello-{self.stage}"

    def repository(self, name: str) -> str:
        return f"hello/{name}-{self.stage}"

    def stored_digests(self) -> dict[str, set[str]]:
        ecr = boto3.client("ecr")
        return {
            name: {
                image["imageDigest"]
                for page in ecr.get_paginator("list_images").paginate(
                    repositoryName=self.repository(name)
                )
                for image in page["imageIds"]
            }
            for name in REPOSITORIES
        }

    def function_image(self) -> str:
        code = boto3.client("lambda").get_function(FunctionName=f"{self.stack_name}-Greeter")
        return str(code["Code"]["ImageUri"])

    def running_digests(self) -> dict[str, set[str]]:
        """The images live resources use, as the ECS and Lambda APIs report them."""
        ecs = boto3.client("ecs")
        services = ecs.list_services(cluster=self.stack_name)["serviceArns"]
        web = set()
        for service in ecs.describe_services(cluster=self.stack_name, services=services)[
            "services"
        ]:
            definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            web.update(
                c["image"].split("@")[1]
                for c in definition["taskDefinition"]["containerDefinitions"]
            )
        return {"web-0": web, "greeter-0": {self.function_image().split("@")[1]}}

    def stack_status(self) -> str:
        stack = boto3.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return str(stack["Stacks"][0]["StackStatus"])
