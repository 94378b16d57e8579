"""The files users and CI services read without running our code: action.yml, the workflows,
the GitLab example, the Dockerfile. Each is checked against the schema its reader uses
(check-jsonschema's copies of SchemaStore's schemas), so a typo fails here, not on a runner."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = Path(sys.executable).parent / "check-jsonschema"
SCHEMAS = {
    "vendor.github-actions": [REPO / "action.yml"],
    "vendor.github-workflows": sorted(
        [*REPO.glob(".github/workflows/*.yml"), *REPO.glob("tests/e2e/workflows/*.yml")]
    ),
    "vendor.gitlab-ci": sorted(REPO.glob("examples/**/.gitlab-ci.yml")),
}


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_files_match_the_schema_their_reader_uses(schema: str) -> None:
    files = SCHEMAS[schema]
    assert files, f"no files for {schema}"
    result = subprocess.run(
        [str(CHECK), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_release_workflow_and_ci_exist() -> None:
    names = {path.name for path in (REPO / ".github" / "workflows").glob("*.yml")}
    assert {"ci.yml", "release.yml"} <= names


def test_the_release_rewrites_the_action_s_image_line_as_it_is_written() -> None:
    """release.yml replaces `  image: Dockerfile` verbatim; if action.yml changes that line,
    the release would publish an action that still builds from source."""
    assert "\n  image: Dockerfile\n" in (REPO / "action.yml").read_text()
    assert (
        "s|^  image: Dockerfile$|" in (REPO / ".github" / "workflows" / "release.yml").read_text()
    )


def test_the_image_s_dependency_layer_lists_exactly_the_package_s_dependencies() -> None:
    """The Dockerfile installs the dependencies before copying the source (a layer reused until
    they change); `pip check` in the build catches a missing one, this catches it sooner."""
    dockerfile = (REPO / "Dockerfile").read_text()
    layer = dockerfile[dockerfile.index("RUN python3 -m venv") : dockerfile.index("COPY ")]
    listed = set(re.findall(r'"([^"]+)"', layer))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert listed == {*project["dependencies"], *build}
