from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hybridless import __version__
from hybridless.cli import main


def test_the_installed_command_prints_its_version() -> None:
    command = Path(sys.executable).parent / "hybridless"

    result = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0
    assert result.stdout.strip() == f"hybridless {__version__}"


def test_version_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"hybridless {__version__}"


def test_an_unknown_option_is_a_usage_error_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-option"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --no-such-option" in err
    assert "Traceback" not in err


# --- configuration errors stop the deploy before anything touches AWS or Docker --------------

BAD_CONFIG = """\
service: hello
provider:
  region: us-east-1
hybridless:
  functions:
    Greeter:
      memroy: 512
      events:
        - eventType: lambdaContainer
          runtime: container
"""


def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS endpoint, credentials or registry from the caller's environment."""
    import os

    for key in [k for k in os.environ if k.startswith("AWS_") or k.startswith("HYBRIDLESS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there


def test_a_config_mistake_exits_2_with_file_line_key_and_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolate(monkeypatch)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    config = tmp_path / "hybridless.yml"
    config.write_text(BAD_CONFIG, encoding="utf-8")

    code = main(["deploy", "--config", str(config)])

    captured = capsys.readouterr()
    assert code == 2
    assert (
        f"error: {config}:7: hybridless.functions.Greeter.memroy: unknown key; "
        "did you mean 'memory'?"
    ) in captured.out
    assert "── config: failed after" in captured.out
    assert "── build" not in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_every_config_mistake_is_reported_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolate(monkeypatch)
    config = tmp_path / "hybridless.yml"
    config.write_text(BAD_CONFIG.replace("runtime: container", "runtime: nodejs"), encoding="utf-8")

    code = main(["deploy", "--config", str(config)])

    out = capsys.readouterr().out
    assert code == 2
    assert f"{config}:7: hybridless.functions.Greeter.memroy: unknown key" in out
    assert (
        f"{config}:10: hybridless.functions.Greeter.events[0].runtime: 'nodejs' is not a "
        "runtime: use container (your Dockerfile) or a built-in one (nodejs18, "
    ) in out
    assert f"{config}:9: hybridless.functions.Greeter.events[0].dockerFile: Dockerfile " in out


def test_a_missing_config_file_exits_2_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolate(monkeypatch)
    missing = tmp_path / "nowhere" / "hybridless.yml"

    code = main(["deploy", "--config", str(missing)])

    captured = capsys.readouterr()
    assert code == 2
    assert f"error: {missing}: file not found" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([])

    out = capsys.readouterr().out
    assert code == 2
    assert out.startswith("usage: hybridless")
    assert "deploy" in out


def test_a_registry_that_is_not_a_host_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolate(monkeypatch)

    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "--registry", "not a host!"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'not a host!' is not HOST[:PORT]" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "registry", ["127.0.0.1:5000", "registry.example.com", "mirror.local:443/ecr-cache"]
)
def test_a_registry_host_with_port_or_path_is_accepted(
    registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hybridless.cli import build_parser

    monkeypatch.delenv("HYBRIDLESS_REGISTRY", raising=False)

    assert build_parser().parse_args(["deploy", "--registry", registry]).registry == registry


def test_a_serverless_yml_says_what_it_ignores_before_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    config = tmp_path / "serverless.yml"
    config.write_text(
        "service: shop\nframeworkVersion: '3'\nplugins: [hybridless]\nprovider:\n  name: aws\n"
        "hybridless:\n  functions:\n    Fn:\n      memroy: 1\n      events: []\n"
    )

    code = main(["deploy", "--config", str(config)])

    out = capsys.readouterr().out
    assert code == 2
    for line, key in ((2, "frameworkVersion"), (3, "plugins"), (5, "provider.name")):
        assert f"notice: {config}:{line}: {key}: " in out
    assert f"{config}:9: hybridless.functions.Fn.memroy: unknown key" in out
