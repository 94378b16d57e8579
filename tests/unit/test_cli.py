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
