"""Every example renders offline, lint-clean, the same bytes each time; `hybridless template`
writes what a deploy would upload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridless.cli import main
from hybridless.offline import OfflineOptions, render_offline
from hybridless.stack.validate import lint_template
from hybridless.template import to_json
from hybridless.template.nested import with_template_urls

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/hybridless.yml"))
ENVIRON = {
    "AWS_REGION": "eu-west-1",
    "VPC_ID": "vpc-0a1b2c3d4e5f60718",
    "SUBNET_A": "subnet-0a1b2c3d4e5f60718",
    "SUBNET_B": "subnet-0b1b2c3d4e5f60719",
    "SECURITY_GROUP_ID": "sg-0a1b2c3d4e5f60718",
    "CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-"
    "000000000000",
}


def test_there_is_an_example_per_event_kind_and_a_hybrid_one() -> None:
    kinds: dict[str, set[str]] = {}
    for config in EXAMPLES:
        text = config.read_text()
        kinds[config.parent.name] = {
            kind
            for kind in ("httpd", "process", "scheduledTask", "lambdaContainer", "lambda")
            if f"eventType: {kind}\n" in text
        }
    assert set().union(*kinds.values()) == {
        "httpd", "process", "scheduledTask", "lambdaContainer", "lambda"
    }  # fmt: skip
    assert max(len(found) for found in kinds.values()) == 5


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_renders_lint_clean_and_deterministic(config: Path) -> None:
    options = OfflineOptions(config=config, account_id="123456789012", image_tag="v1")
    stacks = render_offline(options, ENVIRON)
    urls = {
        name: f"https://bucket.s3.eu-west-1.amazonaws.com/{name}.json" for name in stacks.children
    }
    templates = [with_template_urls(stacks.root, urls), *stacks.children.values()]

    for template in templates:
        assert lint_template(to_json(template), "eu-west-1") == []
    again = render_offline(options, ENVIRON)
    assert to_json(again.root) == to_json(stacks.root)


def test_the_template_command_writes_the_root_and_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in ENVIRON.items():
        monkeypatch.setenv(key, value)
    shop = next(c for c in EXAMPLES if c.parent.name == "shop")

    code = main(["template", "--config", str(shop), "--output-dir", str(tmp_path / "out")])
    assert code == 0
    written = json.loads((tmp_path / "out" / "template.json").read_text())
    capsys.readouterr()

    assert main(["template", "--config", str(shop)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == written
    assert "ApiService" in printed["Resources"] and "StatusFunction" in printed["Resources"]
    function = printed["Resources"]["StatusFunction"]["Properties"]
    assert function["Code"]["S3Bucket"] == "hybridless-deployments-123456789012-eu-west-1"
    assert function["Code"]["S3Key"].startswith("shop/dev/artifacts/Status-")


def test_the_template_command_reports_a_config_mistake_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "hybridless.yml"
    config.write_text("service: x\nhybridless:\n  functions:\n    A:\n      memroy: 1\n")

    assert main(["template", "--config", str(config), "--region", "eu-west-1"]) == 2
    out = capsys.readouterr()
    assert f"{config}:5: hybridless.functions.A.memroy: unknown key; did you mean 'memory'?" in (
        out.out + out.err
    )
    assert "Traceback" not in out.out + out.err
