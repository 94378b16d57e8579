"""`hybridless template`: the CloudFormation a deploy would send, without AWS or Docker.

For review in a pull request, for policy checks (cfn-guard, checkov) and for diffing two
versions of hybridless.yml. Images are written as `<account>.dkr.ecr.<region>.amazonaws.com/
<repository>:<tag>` since no digest exists before a push; zips get the content-addressed key a
deploy would upload them to, computed from the files on disk. Nested stacks are written beside
the root, which names them by relative path, the convention `aws cloudformation package`
understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hybridless.config import load_app
from hybridless.errors import PhaseError
from hybridless.model import App, Overrides
from hybridless.stack import artifacts, package
from hybridless.template import render_stacks, to_json
from hybridless.template.nested import Stacks

ROOT_FILE = "template.json"


@dataclass(frozen=True)
class OfflineOptions:
    config: Path
    account_id: str
    image_tag: str
    stage: str | None = None
    region: str | None = None


def render_offline(options: OfflineOptions, environ: Mapping[str, str]) -> Stacks:
    app = load_app(options.config, Overrides(stage=options.stage, region=options.region), environ)
    images = {
        image.name: f"{options.account_id}.dkr.ecr.{app.region}.amazonaws.com/"
        f"{image.repository}:{options.image_tag}"
        for image in app.images
    }
    return render_stacks(app, images, code_locations(app, options.account_id))


def code_locations(app: App, account_id: str) -> dict[str, dict[str, str]]:
    bucket = app.deployment_bucket or package.default_bucket_name(account_id, app.region)
    locations = {}
    for code in app.code:
        artifact = artifacts.package_function(
            code.directory, code.patterns, code.name, config_file=app.config_file
        )
        locations[code.name] = {
            "S3Bucket": bucket,
            "S3Key": artifacts.artifact_key(app.service, app.stage, artifact),
        }
    return locations


def write_stacks(stacks: Stacks, directory: Path) -> list[Path]:
    """The root as template.json and each nested stack as <name>.json; the files written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = [directory / ROOT_FILE]
        written[0].write_text(to_json(stacks.root), encoding="utf-8")
        for name, child in stacks.children.items():
            path = directory / f"{name}.json"
            path.write_text(to_json(child), encoding="utf-8")
            written.append(path)
    except OSError as err:
        raise PhaseError("template", f"cannot write to {directory}: {err}") from None
    return written
