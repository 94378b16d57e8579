"""How an image is built, as hybridless.yml says it: a Dockerfile of the user's, or a built-in
runtime's, with build args, a target platform and extra files put into the build context.

Built-in runtimes are named as the original plugin named them (`nodejs22`), and the AWS Lambda
spelling (`nodejs22.x`, `python3.12`) is taken too. Their default base images come from ECR
Public's copies of the official images: pulling them from an AWS region is not rate-limited as
Docker Hub is.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from hybridless.config.loader import Path_
from hybridless.model import keys
from hybridless.model.reader import Reader
from hybridless.model.types import BuiltinRuntime, FileCopy, Pairs

CONTAINER = "container"
PLATFORMS = ("linux/amd64", "linux/arm64")
BUILTIN_RUNTIME = re.compile(r"^(?:(nodejs)(\d{2})(?:\.x)?|(python)(3\.\d{1,2}))$")
VERSIONS = {
    "nodejs": ("18", "20", "22", "24"),
    "python": ("3.9", "3.10", "3.11", "3.12", "3.13"),
}
SERVICE_BASE = {
    "nodejs": "public.ecr.aws/docker/library/node:{version}-slim",
    "python": "public.ecr.aws/docker/library/python:{version}-slim",
}
LAMBDA_BASE = {
    "nodejs": "public.ecr.aws/lambda/nodejs:{version}",
    "python": "public.ecr.aws/lambda/python:{version}",
}
BUILTIN_HEALTH_ROUTE = "/_hybridless/health"
GENERATED_DOCKERFILE = "Dockerfile.hybridless"
HANDLER = re.compile(r"^[A-Za-z0-9_./-]+\.[A-Za-z_$][A-Za-z0-9_$]*$")


def builtin_names() -> str:
    return ", ".join(
        f"{language}{version}" for language, versions in VERSIONS.items() for version in versions
    )


def read_build(
    r: Reader, path: Path_, base_dir: Path, extra_args: Pairs
) -> tuple[str, Pairs, str | None, tuple[FileCopy, ...]]:
    """(dockerFile, build args, platform, copies) at `path`; the command line's build args
    win over the file's."""
    dockerfile = r.string((*path, "dockerFile"), default="Dockerfile") or "Dockerfile"
    build_args = tuple({**dict(r.pairs((*path, "dockerBuildArgs"))), **dict(extra_args)}.items())
    platform = r.string((*path, "platform"))
    if platform is not None and platform not in PLATFORMS:
        r.fail((*path, "platform"), f"{platform!r} must be one of {', '.join(PLATFORMS)}")
        platform = None
    return (
        dockerfile,
        build_args,
        platform,
        read_copies(r, (*path, "additionalDockerFiles"), base_dir),
    )


def check_dockerfile(r: Reader, path: Path_, base_dir: Path, dockerfile: str) -> None:
    if not (base_dir / dockerfile).is_file():
        r.fail((*path, "dockerFile"), f"{dockerfile} not found next to {r.doc.file}")


def read_copies(r: Reader, path: Path_, base_dir: Path) -> tuple[FileCopy, ...]:
    raw = r.get(path)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        r.fail(path, "must be a list of {from: <file in the project>, to: <path in the image's "
               "build context>}")  # fmt: skip
        return ()
    copies = []
    for index in range(len(raw)):
        where = (*path, index)
        if not r.mapping(where, required=True):
            continue
        r.keys(where, keys.FILE_COPY)
        source = r.string((*where, "from"), required=True)
        target = r.string((*where, "to"), required=True)
        if source is None or target is None:
            continue
        if not (base_dir / source).exists():
            r.fail((*where, "from"), f"{source} not found next to {r.doc.file}")
            continue
        relative = PurePosixPath(target.lstrip("/"))
        if ".." in relative.parts or not relative.parts:
            r.fail((*where, "to"), f"{target!r} must be a path inside the build context, "
                   "without '..'")  # fmt: skip
            continue
        copies.append(FileCopy(source=(base_dir / source).resolve(), target=str(relative)))
    return tuple(copies)


def check_handler(r: Reader, function_path: Path_, handler: str | None, runtime: str) -> None:
    """The handler is the function's: one problem for the function, however many of its
    events use a built-in runtime. The file must be inside the project, which is all the
    generated Dockerfile copies."""
    where = (*function_path, "handler")
    if not handler:
        r.fail(where, f"is required by the built-in runtime {runtime} (e.g. src/api.handler: "
               "the file and the function it exports)")  # fmt: skip
    elif (
        not HANDLER.match(handler)
        or handler.startswith("/")
        or ".." in PurePosixPath(handler).parts
    ):
        r.fail(where, f"{handler!r} must be <file path>.<function>, the file inside the "
               "project, e.g. src/api.handler")  # fmt: skip


def read_runtime(r: Reader, path: Path_, kind: str, handler: str | None) -> BuiltinRuntime | None:
    """The event's built-in runtime, or None for `runtime: container` (the user's Dockerfile)."""
    runtime = r.string((*path, "runtime"), required=True)
    base = r.string((*path, "baseImage"))
    if runtime is None or runtime == CONTAINER:
        if base is not None:
            r.fail((*path, "baseImage"), "applies to built-in runtimes; with runtime: container "
                   "the Dockerfile names its base")  # fmt: skip
        return None
    match = BUILTIN_RUNTIME.match(runtime)
    language = (match.group(1) or match.group(3)) if match else None
    version = (match.group(2) or match.group(4)) if match else None
    if not match or language is None or version not in VERSIONS[language]:
        r.fail((*path, "runtime"), f"{runtime!r} is not a runtime: use container (your "
               f"Dockerfile) or a built-in one ({builtin_names()})")  # fmt: skip
        return None
    for key in ("dockerFile", "imageId"):
        if r.get((*path, key)) is not None:
            r.fail((*path, key), f"the built-in runtime {runtime} writes the Dockerfile; use "
                   "runtime: container to build your own")  # fmt: skip
    defaults = LAMBDA_BASE if kind == "lambdaContainer" else SERVICE_BASE
    return BuiltinRuntime(
        language=language,
        version=version,
        kind=kind,
        handler=handler or "",
        base_image=base or defaults[language].format(version=version),
    )
