"""The CloudFormation template of an application: pure data in, pure data out.

`render(app, images)` depends on nothing but its arguments, so the same app and images give
the same bytes (`to_json`), which is what makes an unchanged deploy an empty change set.
Images are referenced by digest (`uri@sha256:...`), never by tag: a tag can move, a digest
cannot, so a running revision always keeps the exact image it started with.

Account and region are left to CloudFormation's pseudo parameters; nothing here calls AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hybridless.model import App
from hybridless.template import ecs, functions
from hybridless.template.common import Template


def render(app: App, images: Mapping[str, str]) -> dict[str, Any]:
    """`images` maps each image name to the `uri@digest` that was pushed for it."""
    missing = sorted({image.name for image in app.images} - set(images))
    if missing:
        raise ValueError(f"no pushed image for {', '.join(missing)}")
    template = Template(
        description=f"hybridless: {app.service} ({app.stage}), generated, do not edit by hand"
    )
    ecs.add_http_services(template, app, images)
    functions.add_container_functions(template, app, images)
    return template.as_dict()


def to_json(template: Mapping[str, Any]) -> str:
    return json.dumps(template, indent=1, sort_keys=False) + "\n"
