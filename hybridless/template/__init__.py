"""The CloudFormation template of an application: pure data in, pure data out.

`render(app, images, code)` depends on nothing but its arguments, so the same app and images
give the same bytes (`to_json`), which is what makes an unchanged deploy an empty change set.
Images are referenced by digest (`uri@sha256:...`), never by tag: a tag can move, a digest
cannot, so a running revision always keeps the exact image it started with. Zips are
referenced by content-addressed keys for the same reason.

`render_stacks` cuts a template that crosses CloudFormation's limits into a root and nested
stacks (`hybridless.template.nested`); an app within the limits stays one template.

Account and region are left to CloudFormation's pseudo parameters; nothing here calls AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hybridless.errors import ConfigError, Problem
from hybridless.model import App
from hybridless.template.balancers import add_balancers
from hybridless.template.common import Template
from hybridless.template.ecs import add_ecs
from hybridless.template.functions import add_functions
from hybridless.template.nested import Stacks, split
from hybridless.template.network import add_network

Code = Mapping[str, Mapping[str, str]]


def build(app: App, images: Mapping[str, str], code: Code | None = None) -> Template:
    """The flat template with its resource groups."""
    code = code or {}
    missing = sorted(
        {image.name for image in app.images} - set(images)
        | {zipped.name for zipped in app.code} - set(code)
    )
    if missing:
        raise ValueError(f"no pushed image or packaged code for {', '.join(missing)}")
    template = Template(
        description=f"hybridless: {app.service} ({app.stage}), generated, do not edit by hand"
    )
    placement = add_network(template, app)
    balancers = add_balancers(template, app, placement)
    add_ecs(template, app, images, placement, balancers)
    add_functions(template, app, images, code)
    merge_resources(template, app)
    return template


def render(app: App, images: Mapping[str, str], code: Code | None = None) -> dict[str, Any]:
    return build(app, images, code).as_dict()


def render_stacks(app: App, images: Mapping[str, str], code: Code | None = None) -> Stacks:
    template = build(app, images, code)
    try:
        return split(template.as_dict(), template.groups)
    except ValueError as err:
        raise ConfigError([Problem(str(app.config_file), None, "", str(err))]) from None


def merge_resources(template: Template, app: App) -> None:
    """The user's `resources:`, merged in; a name the tool generates is refused, not
    overwritten, since either way something would silently not be what its author wrote."""
    raw = app.resources
    if raw is None:
        return
    targets = {
        "Parameters": template.parameters,
        "Conditions": template.conditions,
        "Mappings": template.mappings,
        "Resources": template.resources,
        "Outputs": template.outputs,
    }
    problems = []
    for section, entries in raw.sections.items():
        target = targets[section]
        for name, entry in entries.items():
            if name in target:
                problems.append(
                    Problem(
                        raw.file,
                        raw.lines.get((section, name)),
                        f"resources.{section}.{name}",
                        f"the tool generates a {section[:-1].lower()} named {name}; rename yours",
                    )
                )
                continue
            target[name] = entry
    if problems:
        raise ConfigError(problems)


def to_json(template: Mapping[str, Any]) -> str:
    return json.dumps(template, indent=1, sort_keys=False) + "\n"
