"""The generated templates pass checkov's CloudFormation checks, every example and the branches
the examples do not reach; what they knowingly do not meet is waived on the resource itself,
with a reason, only where the check would fail, and docs/security.md lists every waiver.

checkov runs from its own virtualenv (`make security-tools`): its pins conflict with the
project's. Without it these tests fail rather than skip, since a skipped policy check reads as a
passed one. The resources an app writes itself (`resources:`) are passed through as written, so
an example's own waiver carries its own reason; the tool's waivers carry the reasons in
hybridless/template/security.py."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hybridless.config import load_app
from hybridless.model import App, EcsDeployment, FunctionDeployment, Hooks, Overrides
from hybridless.offline import OfflineOptions, render_offline, write_stacks
from hybridless.template import render_stacks
from hybridless.template.security import ALL
from tests.unit.configs import build
from tests.unit.test_examples import ENVIRON, EXAMPLES

ROOT = Path(__file__).parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
DOCS = ROOT / "docs" / "security.md"
ACCOUNT = "123456789012"
CHECKOV_SECONDS = 300

# Branches no example takes: a private balancer in an existing network and in a created one, a
# plain HTTP test listener, EC2 tasks on an existing cluster, strategies with hooks, and every
# way a function is invoked.
BRANCHES = {
    "existing-network": """\
        service: branches
        provider:
          vpc:
            vpcId: vpc-0a1b2c3d4e5f60718
            subnetIds: [subnet-0a1b2c3d4e5f60718, subnet-0b1b2c3d4e5f60719]
        hybridless:
          functions:
            Web:
              events:
                - {eventType: httpd, runtime: container, port: 8080}
            Internal:
              albIsPrivate: true
              events:
                - eventType: httpd
                  runtime: container
                  port: 9000
                  routes: [{path: /internal/*}]
                - eventType: lambdaContainer
                  runtime: container
                  protocol: httpLoadBalancer
                  routes: [{path: /lambda/*}]
            Legacy:
              ecsClusterArn: arn:aws:ecs:eu-west-1:123456789012:cluster/legacy
              events:
                - {eventType: process, runtime: container, ec2LaunchType: true}
            Smoke:
              events:
                - {eventType: lambdaContainer, runtime: container, protocol: none}
            Consumer:
              events:
                - eventType: lambdaContainer
                  runtime: container
                  protocol: sqs
                  protocolArn: arn:aws:sqs:eu-west-1:123456789012:orders
                  reservedConcurrency: 2
            Listener:
              environment: {CHANNEL: deploys}
              events:
                - eventType: lambdaContainer
                  runtime: container
                  protocol: sns
                  protocolArn: arn:aws:sns:eu-west-1:123456789012:events
            Tick:
              events:
                - eventType: lambdaContainer
                  runtime: container
                  protocol: scheduler
                  schedulerRate: rate(5 minutes)
            Api:
              events:
                - eventType: lambdaContainer
                  runtime: container
                  protocol: http
                  routes: [{path: /api, method: GET}]
        """,
    "created-network": """\
        service: branches
        provider:
          vpc:
            cidr: 10.20.0.0/16
            subnets: [10.20.1.0/24, 10.20.2.0/24]
        hybridless:
          functions:
            Internal:
              albIsPrivate: true
              events:
                - {eventType: httpd, runtime: container, port: 9000}
            Nightly:
              events:
                - {eventType: scheduledTask, runtime: container, schedulerRate: rate(1 day)}
        """,
}
# Strategies given to the model directly: they are the model's types, whatever YAML spells them.
STRATEGIES = {
    "existing-network": {
        "Web": EcsDeployment(
            strategy="blueGreen", test_listener_port=8443, hooks=Hooks(pre_traffic="Smoke")
        ),
        "Listener": FunctionDeployment(
            strategy="canary", hooks=Hooks(pre_traffic="Smoke", post_traffic="audit-hook")
        ),
    }
}


@dataclass(frozen=True)
class Scan:
    """checkov's findings on the rendered templates, as (check, file, resource) and their
    records; `app_owned` are the resources apps wrote themselves, by file."""

    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    app_owned: dict[str, set[str]]


def with_strategies(app: App, strategies: dict[str, Any]) -> App:
    events = tuple(
        dataclasses.replace(event, deployment=strategies[event.function])
        if event.function in strategies
        else event
        for event in app.events
    )
    return dataclasses.replace(app, events=events)


def render_examples(directory: Path) -> dict[str, set[str]]:
    """Writes each example's templates under its own name; returns, by file, the resources the
    example declares itself."""
    owned = {}
    for config in EXAMPLES:
        options = OfflineOptions(config=config, account_id=ACCOUNT, image_tag="v1")
        app = load_app(config, Overrides(), ENVIRON)
        declared = set(app.resources.sections.get("Resources", {})) if app.resources else set()
        for path in write_stacks(render_offline(options, ENVIRON), directory / config.parent.name):
            resources = set(json.loads(path.read_text())["Resources"])
            owned[relative(path, directory)] = declared & resources
    return owned


def render_branches(directory: Path, workspace: Path) -> None:
    for name, text in BRANCHES.items():
        (workspace / name).mkdir()
        app = with_strategies(build(workspace / name, text), STRATEGIES.get(name, {}))
        images = {
            image.name: f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{image.repository}:v1"
            for image in app.images
        }
        write_stacks(render_stacks(app, images), directory / f"branches-{name}")


def relative(path: Path, directory: Path) -> str:
    return "/" + path.relative_to(directory).as_posix()


def checkov(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(failed, skipped) checks of every template under `directory`. Not `--quiet`: that
    leaves out the skipped checks too."""
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov is not installed at {CHECKOV.relative_to(ROOT)}: run `make security-tools`",
            pytrace=False,
        )
    done = subprocess.run(
        [
            str(CHECKOV),
            *("--directory", str(directory)),
            *("--framework", "cloudformation"),
            *("--output", "json"),
            "--skip-download",  # no guidelines from the vendor's platform: no network
        ],
        capture_output=True,
        text=True,
        timeout=CHECKOV_SECONDS,
        check=False,
    )
    if done.returncode not in (0, 1):
        pytest.fail(f"checkov exited with {done.returncode}:\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout)
    # one framework gives one report; with nothing to report checkov prints only a summary
    reports = report if isinstance(report, list) else [report]
    results = [r.get("results", {}) for r in reports]
    assert all(r.get("summary", {}).get("parsing_errors", 0) == 0 for r in reports), report
    return (
        [c for r in results for c in r.get("failed_checks", [])],
        [c for r in results for c in r.get("skipped_checks", [])],
    )


def without_waivers(source: Path, target: Path) -> None:
    for path in source.rglob("*.json"):
        template = json.loads(path.read_text())
        for resource in template.get("Resources", {}).values():
            metadata = resource.get("Metadata", {})
            metadata.pop("checkov", None)
            if "Metadata" in resource and not metadata:
                del resource["Metadata"]
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(template, indent=1))


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scan, Scan]]:
    """The templates as generated, and the same templates with every waiver taken out."""
    rendered = tmp_path_factory.mktemp("templates")
    owned = render_examples(rendered)
    render_branches(rendered, tmp_path_factory.mktemp("branches"))
    bare = tmp_path_factory.mktemp("without-waivers")
    without_waivers(rendered, bare)
    yield Scan(*checkov(rendered), owned), Scan(*checkov(bare), owned)


def key(check: dict[str, Any]) -> tuple[str, str, str]:
    return check["check_id"], check["file_path"], check["resource"]


def generated(scan: Scan, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for c in checks
        if c["resource"].rsplit(".", 1)[-1] not in scan.app_owned.get(c["file_path"], set())
    ]


def describe(check: dict[str, Any]) -> str:
    example = check["file_path"].strip("/").split("/", 1)[0]
    return (
        f"{check['check_id']} {check['check_name']!r}: {check['resource']} "
        f"in {check['file_path']} (example {example})"
    )


def test_every_generated_template_passes_checkov(scans: tuple[Scan, Scan]) -> None:
    scan, _ = scans
    failed = scan.failed
    assert not failed, f"{len(failed)} failed checkov checks:\n" + "\n".join(
        sorted(map(describe, failed))
    )


def test_the_waivers_are_the_documented_ones_and_each_one_is_needed(
    scans: tuple[Scan, Scan],
) -> None:
    """A waiver where the check would pass hides nothing today, but would hide a regression."""
    scan, bare = scans
    reasons = {(w.check, w.reason) for w in ALL}
    for check in generated(scan, scan.skipped):
        assert (check["check_id"], check["check_result"]["suppress_comment"]) in reasons, describe(
            check
        )
    for check in scan.skipped:
        assert len(check["check_result"]["suppress_comment"]) > 20, describe(check)
    waived = sorted(map(key, generated(scan, scan.skipped)))
    failing_without = sorted(map(key, generated(bare, bare.failed)))
    assert waived == failing_without


def test_docs_list_every_waiver_with_its_reason() -> None:
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    for waiver in ALL:
        assert f"| {waiver.check} |" in text, waiver.check
        assert " ".join(waiver.reason.split()) in text, waiver.reason
