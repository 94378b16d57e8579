"""The files a built-in runtime adds to the project's build context: the Dockerfile the tool
writes instead of the user, and for ECS events the small program that calls the handler.

The point of a built-in runtime is that one handler, written for Lambda, also runs as an ECS
service, worker or scheduled task. On Lambda the base image's runtime interface client calls it;
on ECS our runtime program (`runtime.py`, `runtime.cjs`, standard library only) plays that part:
an HTTP server translating requests into API Gateway proxy events, or a one-shot call.

The Dockerfiles are jinja2 templates, kept as readable as a hand-written Dockerfile: the
dependency manifests are copied and installed before the rest of the code, so a change to the
code alone reuses the dependency layer. A template fails on a variable it is not given rather
than writing an empty string into a Dockerfile.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2

from hybridless.errors import PhaseError
from hybridless.model.types import BuiltinRuntime

HELPER_DIR = ".hybridless"
WORKDIR = "/app"
LAMBDA_KIND = "lambdaContainer"
SERVICE_KINDS = ("httpd", "process", "scheduledTask")
PROGRAMS = {"python": "runtime.py", "nodejs": "runtime.cjs"}
HANDLER_FILES = {"python": (".py", "/__init__.py"), "nodejs": (".js", ".mjs", ".cjs")}
NODE_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
# A reference as `docker pull` takes it; anything else (a space, a line break, `$`) would change
# the Dockerfile's meaning rather than name an image.
IMAGE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


def context_files(
    runtime: BuiltinRuntime, dockerfile_name: str, project_files: frozenset[str]
) -> dict[str, bytes]:
    """arcname → content of what to add to the build context's root, next to `project_files`
    (the project's files that go into the context, as relative posix paths)."""
    if runtime.language not in PROGRAMS:
        raise ValueError(f"no built-in runtime for the language {runtime.language!r}")
    if runtime.kind != LAMBDA_KIND and runtime.kind not in SERVICE_KINDS:
        raise ValueError(f"no built-in runtime for {runtime.kind!r} events")
    if not IMAGE_REFERENCE.match(runtime.base_image):
        raise PhaseError(
            "build", f"built-in runtime {runtime.name}: {runtime.base_image!r} is not an image"
        )
    handler = resolve_handler(_plain(runtime.handler), runtime.language, project_files)
    manifests, install = _dependencies(runtime.language, project_files)
    variables: dict[str, Any] = {
        "runtime": runtime.name,
        "kind": runtime.kind,
        "base_image": runtime.base_image,
        "handler": handler,
        "manifests": manifests,
        "install": install,
    }
    if runtime.kind == LAMBDA_KIND:
        dockerfile = render(f"{runtime.language}-lambda.Dockerfile.j2", variables)
        return {dockerfile_name: dockerfile.encode()}
    program = f"{HELPER_DIR}/{PROGRAMS[runtime.language]}"
    environment = {"HYBRIDLESS_KIND": runtime.kind, "HYBRIDLESS_HANDLER": handler}
    if runtime.kind == "httpd":
        if runtime.port is None or runtime.health_route is None:
            raise ValueError("an httpd runtime needs its port and health route")
        environment["PORT"] = str(runtime.port)
        environment["HYBRIDLESS_HEALTH_ROUTE"] = runtime.health_route
    variables.update(
        workdir=WORKDIR,
        program=f"{WORKDIR}/{program}",
        port=runtime.port if runtime.kind == "httpd" else None,
        environment=[f"{name}={_env_value(value)}" for name, value in environment.items()],
    )
    dockerfile = render(f"{runtime.language}.Dockerfile.j2", variables)
    return {dockerfile_name: dockerfile.encode(), program: program_source(runtime.language)}


def render(template: str, variables: Mapping[str, Any]) -> str:
    return _templates().get_template(template).render(variables)


def program_source(language: str) -> bytes:
    return resources.files(__name__).joinpath(PROGRAMS[language]).read_bytes()


def resolve_handler(handler: str, language: str, project_files: frozenset[str]) -> str:
    """`handler` in the `<file path>.<function>` form, the one Lambda's runtimes for every
    language read: the dotted Python form (`src.api.handler`) becomes `src/api.handler` when
    that names a file of the project. A handler whose file is not among the project's (a module
    installed as a dependency) is left as it is, for the runtime to find."""
    module, _, function = handler.rpartition(".")
    while module.startswith("./"):
        module = module[2:]
    for candidate in (module, module.replace(".", "/")):
        if any(candidate + suffix in project_files for suffix in HANDLER_FILES[language]):
            return f"{candidate}.{function}"
    return f"{module}.{function}"


def _dependencies(language: str, project_files: frozenset[str]) -> tuple[list[str], str | None]:
    """The manifests to copy before the code, and how to install what they list."""
    if language == "python":
        return (["requirements.txt"], None) if "requirements.txt" in project_files else ([], None)
    if "package.json" not in project_files:
        return [], None
    lockfile = next((name for name in NODE_LOCKFILES if name in project_files), None)
    npmrc = [".npmrc"] if ".npmrc" in project_files else []
    if lockfile is None:
        return ["package.json", *npmrc], "npm install"
    return ["package.json", lockfile, *npmrc], "npm ci"


def _env_value(value: str) -> str:
    """A Dockerfile ENV value, quoted so that `$`, quotes and backslashes stay as they are."""
    escaped = _plain(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _plain(value: str) -> str:
    """`value`, if it holds no control character: a line break would start a new instruction."""
    if any(ord(char) < 0x20 or char == "\x7f" for char in value):
        raise PhaseError("build", f"{value!r} cannot be written into a Dockerfile")
    return value


@functools.cache
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(__name__, "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["json"] = json.dumps
    return environment
