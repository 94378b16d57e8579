"""hybridless.yml files written for a test, and what the model makes of them."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from hybridless.config.loader import load_document
from hybridless.errors import ConfigError
from hybridless.model import App, Overrides, build_app

REGION = {"AWS_REGION": "eu-west-1"}


def write(tmp_path: Path, text: str, dockerfiles: tuple[str, ...] = ("Dockerfile",)) -> Path:
    """A hybridless.yml and the Dockerfiles next to it."""
    for name in dockerfiles:
        (tmp_path / name).write_text("FROM scratch\n", encoding="utf-8")
    path = tmp_path / "hybridless.yml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


def build(
    tmp_path: Path,
    text: str,
    overrides: Overrides | None = None,
    environ: dict[str, str] | None = None,
    dockerfiles: tuple[str, ...] = ("Dockerfile",),
) -> App:
    doc = load_document(write(tmp_path, text, dockerfiles))
    return build_app(doc, overrides or Overrides(), REGION if environ is None else environ)


def problems(
    tmp_path: Path,
    text: str,
    overrides: Overrides | None = None,
    environ: dict[str, str] | None = None,
    dockerfiles: tuple[str, ...] = ("Dockerfile",),
) -> list[tuple[int | None, str, str]]:
    """(line, key, message) of every problem; each must name the config file."""
    with pytest.raises(ConfigError) as raised:
        build(tmp_path, text, overrides, environ, dockerfiles)
    assert {p.file for p in raised.value.problems} == {str(tmp_path / "hybridless.yml")}
    return [(p.line, p.key, p.message) for p in raised.value.problems]
