"""How images are built, read from hybridless.yml: platform, additionalDockerFiles, the build
settings (buildConcurrency, keepPrevious) and the built-in runtimes.

Each test writes a hybridless.yml to a temporary directory and checks the typed values or the
exact problems (line, dotted key, message); `problems` also checks that each names the file.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent, indent

import pytest

from hybridless.model import (
    App,
    BuiltinRuntime,
    FileCopy,
    HttpdEvent,
    Image,
    LambdaContainerEvent,
    LambdaEvent,
    Overrides,
)
from tests.unit.configs import build, problems

FN = "hybridless.functions.Fn"
EV = f"{FN}.events[0]"
BUILT_IN = (
    "nodejs18, nodejs20, nodejs22, nodejs24, python3.9, python3.10, python3.11, python3.12, "
    "python3.13"
)


def app_with(block: str) -> str:
    """A config whose `hybridless:` block is `block` (written at column 0).

    Lines: 1 service, 2 provider, 3 vpc, 4 hybridless, `block` from line 5 on.
    """
    return (
        "service: shop\n"
        "provider:\n"
        "  vpc: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n"
        "hybridless:\n" + indent(dedent(block), "  ")
    )


def one_event(kind: str, keys: str = "", runtime: str = "container", handler: str = "") -> str:
    """Function Fn with one event. Lines: 5 functions, 6 Fn, then `handler:` if given (7),
    events, the event (`- eventType`), runtime, and the given keys after it."""
    function = "functions:\n  Fn:\n"
    if handler:
        function += f"    handler: {handler}\n"
    function += f"    events:\n      - eventType: {kind}\n        runtime: {runtime}\n"
    function += indent(dedent(keys), " " * 8)
    return app_with(function)


def image_of(app: App) -> Image:
    (event,) = app.events
    if isinstance(event, LambdaContainerEvent):
        return event.image
    assert not isinstance(event, LambdaEvent)
    return event.task.image


def runtime_of(app: App) -> BuiltinRuntime:
    runtime = image_of(app).runtime
    assert runtime is not None
    return runtime


# --- platform -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "architecture"), [("linux/amd64", "amd64"), ("linux/arm64", "arm64")]
)
@pytest.mark.parametrize("kind", ["httpd", "process", "scheduledTask", "lambdaContainer"])
def test_an_event_s_image_is_built_for_its_platform(
    tmp_path: Path, kind: str, platform: str, architecture: str
) -> None:
    keys = f"platform: {platform}\n"
    if kind == "scheduledTask":
        keys += "schedulerRate: rate(1 hour)\n"

    image = image_of(build(tmp_path, one_event(kind, keys)))

    assert (image.platform, image.architecture) == (platform, architecture)


def test_without_a_platform_the_image_is_built_for_the_engine_s_own(tmp_path: Path) -> None:
    image = image_of(build(tmp_path, one_event("httpd")))

    assert (image.platform, image.architecture) == (None, None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("linux/arm/v7", "'linux/arm/v7' must be one of linux/amd64, linux/arm64"),
        ("arm64", "'arm64' must be one of linux/amd64, linux/arm64"),
        ("Linux/ARM64", "'Linux/ARM64' must be one of linux/amd64, linux/arm64"),
        ("windows/amd64", "'windows/amd64' must be one of linux/amd64, linux/arm64"),
        ("[linux/arm64]", "must be a string, not a list"),
    ],
)
def test_a_platform_the_tool_does_not_run_is_refused(
    tmp_path: Path, value: str, message: str
) -> None:
    text = one_event("httpd", f"platform: {value}\n")

    assert problems(tmp_path, text) == [(10, f"{EV}.platform", message)]


# --- additionalDockerFiles ----------------------------------------------------------------------


def project(tmp_path: Path) -> None:
    """Files a config can put into the build context."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "app.conf").write_text("level=info\n", encoding="utf-8")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "bundle.js").write_text("//\n", encoding="utf-8")


def test_additional_files_are_read_with_paths_relative_to_the_context(tmp_path: Path) -> None:
    project(tmp_path)
    text = one_event(
        "httpd",
        """\
        additionalDockerFiles:
          - {from: shared/app.conf, to: config/app.conf}
          - {from: dist, to: /public}
          - {from: shared/app.conf, to: ./etc//app.conf}
        """,
    )

    image = image_of(build(tmp_path, text))

    assert image.copies == (
        FileCopy(source=(tmp_path / "shared" / "app.conf").resolve(), target="config/app.conf"),
        FileCopy(source=(tmp_path / "dist").resolve(), target="public"),
        FileCopy(source=(tmp_path / "shared" / "app.conf").resolve(), target="etc/app.conf"),
    )


def test_without_additional_files_nothing_is_copied(tmp_path: Path) -> None:
    assert image_of(build(tmp_path, one_event("process"))).copies == ()


def test_additional_file_mistakes_are_reported_at_each_entry(tmp_path: Path) -> None:
    project(tmp_path)
    text = one_event(
        "httpd",
        """\
        additionalDockerFiles:
          - {from: missing.conf, to: app.conf}
          - {from: shared/app.conf, to: ../outside.conf}
          - {from: shared/app.conf, to: conf/../../outside.conf}
          - {from: shared/app.conf, to: /}
          - {from: shared/app.conf, to: .}
          - shared/app.conf
          - {from: shared/app.conf}
          - {to: app.conf}
          - {form: shared/app.conf, from: shared/app.conf, to: app.conf}
        """,
    )

    config = tmp_path / "hybridless.yml"
    files = f"{EV}.additionalDockerFiles"
    inside = "must be a path inside the build context, without '..'"
    assert problems(tmp_path, text) == [
        (11, f"{files}[0].from", f"missing.conf not found next to {config}"),
        (12, f"{files}[1].to", f"'../outside.conf' {inside}"),
        (13, f"{files}[2].to", f"'conf/../../outside.conf' {inside}"),
        (14, f"{files}[3].to", f"'/' {inside}"),
        (15, f"{files}[4].to", f"'.' {inside}"),
        (16, f"{files}[5]", "must be a mapping, not a string"),
        (17, f"{files}[6].to", "is required"),
        (18, f"{files}[7].from", "is required"),
        (19, f"{files}[8].form", "unknown key; did you mean 'from'?"),
    ]


@pytest.mark.parametrize("value", ["shared/app.conf", "{from: shared/app.conf, to: app.conf}"])
def test_additional_files_must_be_a_list(tmp_path: Path, value: str) -> None:
    project(tmp_path)
    text = one_event("httpd", f"additionalDockerFiles: {value}\n")

    assert problems(tmp_path, text) == [
        (
            10,
            f"{EV}.additionalDockerFiles",
            "must be a list of {from: <file in the project>, to: <path in the image's build "
            "context>}",
        )
    ]


# --- shared images ------------------------------------------------------------------------------


def test_a_shared_image_has_a_platform_and_additional_files(tmp_path: Path) -> None:
    project(tmp_path)
    text = app_with(
        """\
        images:
          app:
            platform: linux/arm64
            additionalDockerFiles: [{from: shared/app.conf, to: app.conf}]
        functions:
          Fn:
            events:
              - {eventType: httpd, runtime: container, imageId: app}
              - {eventType: lambdaContainer, runtime: container, imageId: app}
        """
    )

    app = build(tmp_path, text)

    (image,) = app.images
    assert (image.name, image.platform, image.architecture) == ("app", "linux/arm64", "arm64")
    assert image.copies == (
        FileCopy(source=(tmp_path / "shared" / "app.conf").resolve(), target="app.conf"),
    )
    httpd, function = app.events
    assert isinstance(httpd, HttpdEvent) and isinstance(function, LambdaContainerEvent)
    assert httpd.task.image is image and function.image is image


def test_a_shared_image_s_mistakes_name_the_image(tmp_path: Path) -> None:
    text = app_with(
        """\
        images:
          app:
            platform: linux/386
            additionalDockerFiles: [{from: nowhere, to: x}]
        functions:
          Fn:
            events:
              - {eventType: httpd, runtime: container, imageId: app}
        """
    )

    config = tmp_path / "hybridless.yml"
    assert problems(tmp_path, text) == [
        (7, "hybridless.images.app.platform", "'linux/386' must be one of linux/amd64, "
         "linux/arm64"),
        (8, "hybridless.images.app.additionalDockerFiles[0].from",
         f"nowhere not found next to {config}"),
    ]  # fmt: skip


def test_an_event_with_image_id_takes_the_shared_image_as_it_is(tmp_path: Path) -> None:
    project(tmp_path)
    text = app_with(
        """\
        images:
          app: {}
        functions:
          Fn:
            events:
              - eventType: process
                runtime: container
                imageId: app
                platform: linux/arm64
                additionalDockerFiles: [{from: shared/app.conf, to: app.conf}]
        """
    )

    shared = "belongs to the shared image; an event with imageId takes the image as it is"
    assert problems(tmp_path, text) == [
        (13, f"{EV}.platform", shared),
        (14, f"{EV}.additionalDockerFiles", shared),
    ]


# --- buildConcurrency and keepPrevious ----------------------------------------------------------

FUNCTIONS = """\
functions:
  Fn:
    events:
      - {eventType: lambdaContainer, runtime: container}
"""


def test_build_settings_default_to_two_builds_and_one_previous_deployment(
    tmp_path: Path,
) -> None:
    app = build(tmp_path, app_with(FUNCTIONS))

    assert (app.build_concurrency, app.keep_previous) == (2, 1)


@pytest.mark.parametrize(("concurrency", "keep"), [(1, 0), (16, 50), (4, 3)])
def test_build_settings_within_their_ranges(tmp_path: Path, concurrency: int, keep: int) -> None:
    text = app_with(f"buildConcurrency: {concurrency}\nkeepPrevious: {keep}\n" + FUNCTIONS)

    app = build(tmp_path, text)

    assert (app.build_concurrency, app.keep_previous) == (concurrency, keep)


@pytest.mark.parametrize(
    ("concurrency", "keep", "found"),
    [
        ("0", "-1", [(5, "hybridless.buildConcurrency", "0 is out of range (1..16)"),
                     (6, "hybridless.keepPrevious", "-1 is out of range (0..50)")]),
        ("17", "51", [(5, "hybridless.buildConcurrency", "17 is out of range (1..16)"),
                      (6, "hybridless.keepPrevious", "51 is out of range (0..50)")]),
        ("four", "true", [(5, "hybridless.buildConcurrency", "must be a whole number, not a "
                           "string"),
                          (6, "hybridless.keepPrevious", "must be a whole number, not a "
                           "boolean")]),
    ],
)  # fmt: skip
def test_build_settings_out_of_range_are_refused(
    tmp_path: Path, concurrency: str, keep: str, found: list[tuple[int, str, str]]
) -> None:
    text = app_with(f"buildConcurrency: {concurrency}\nkeepPrevious: {keep}\n" + FUNCTIONS)

    assert problems(tmp_path, text) == found


# --- built-in runtimes: which ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runtime", "language", "version"),
    [
        ("nodejs18", "nodejs", "18"),
        ("nodejs20", "nodejs", "20"),
        ("nodejs22", "nodejs", "22"),
        ("nodejs24", "nodejs", "24"),
        ("nodejs22.x", "nodejs", "22"),
        ("nodejs18.x", "nodejs", "18"),
        ("python3.9", "python", "3.9"),
        ("python3.10", "python", "3.10"),
        ("python3.11", "python", "3.11"),
        ("python3.12", "python", "3.12"),
        ("python3.13", "python", "3.13"),
    ],
)
def test_built_in_runtimes_in_either_spelling(
    tmp_path: Path, runtime: str, language: str, version: str
) -> None:
    """The original plugin's names (nodejs22) and AWS Lambda's (nodejs22.x) are one runtime."""
    text = one_event("process", runtime=runtime, handler="src/worker.main")

    app = build(tmp_path, text, dockerfiles=())

    built_in = runtime_of(app)
    assert (built_in.language, built_in.version, built_in.name) == (
        language,
        version,
        f"{language}{version}",
    )
    assert (built_in.kind, built_in.handler) == ("process", "src/worker.main")
    image = image_of(app)
    assert image.dockerfile == "Dockerfile.hybridless", "the tool writes it; none is needed"
    assert image.context == tmp_path


@pytest.mark.parametrize(
    "runtime", ["nodejs21", "nodejs16.x", "python3.14", "python3.8", "node22", "python", "go1.x"]
)
def test_an_unknown_runtime_is_refused_naming_the_built_in_ones(
    tmp_path: Path, runtime: str
) -> None:
    text = one_event("httpd", runtime=runtime, handler="app.handler")

    assert problems(tmp_path, text) == [
        (
            10,
            f"{EV}.runtime",
            f"{runtime!r} is not a runtime: use container (your Dockerfile) or a built-in one "
            f"({BUILT_IN})",
        )
    ]


def test_a_runtime_is_required(tmp_path: Path) -> None:
    text = app_with("functions:\n  Fn:\n    events:\n      - {eventType: httpd}\n")

    assert problems(tmp_path, text) == [(8, f"{EV}.runtime", "is required")]


# --- built-in runtimes: the handler ---------------------------------------------------------------


def test_a_built_in_runtime_needs_the_function_s_handler_said_once(tmp_path: Path) -> None:
    text = app_with(
        """\
        functions:
          Fn:
            events:
              - {eventType: httpd, runtime: nodejs22}
              - {eventType: process, runtime: python3.12}
              - {eventType: lambdaContainer, runtime: python3.12}
        """
    )

    assert problems(tmp_path, text, dockerfiles=()) == [
        (
            6,
            f"{FN}.handler",
            "is required by the built-in runtime nodejs22 (e.g. src/api.handler: the file and "
            "the function it exports)",
        )
    ]


def test_a_zip_event_and_a_built_in_runtime_report_the_missing_handler_once(
    tmp_path: Path,
) -> None:
    text = app_with(
        """\
        functions:
          Fn:
            events:
              - {eventType: lambda, runtime: python3.12}
              - {eventType: process, runtime: python3.12}
        """
    )

    assert problems(tmp_path, text, dockerfiles=()) == [
        (6, f"{FN}.handler", "is required by lambda events (e.g. src/app.handler)")
    ]


@pytest.mark.parametrize(
    "handler",
    ["app.handler", "src/api.handler", "lib/my-file.main", "src/v2/api_v2.handle_request",
     "index.$handler", "./src/api.handler"],
)  # fmt: skip
def test_handlers_a_built_in_runtime_can_call(tmp_path: Path, handler: str) -> None:
    text = one_event("lambdaContainer", runtime="nodejs22", handler=handler)

    assert runtime_of(build(tmp_path, text, dockerfiles=())).handler == handler


@pytest.mark.parametrize(
    "handler",
    ["handler", "src/api", "src/api.", "api.1st", "/srv/api.handler", "../api.handler",
     "src/../../api.handler", "com.example.Handler::handleRequest", "src/api handler.main"],
)  # fmt: skip
def test_a_handler_that_is_not_a_file_and_a_function_is_refused(
    tmp_path: Path, handler: str
) -> None:
    text = one_event("process", runtime="python3.12", handler=f"'{handler}'")

    assert problems(tmp_path, text, dockerfiles=()) == [
        (
            7,
            f"{FN}.handler",
            f"{handler!r} must be <file path>.<function>, the file inside the project, "
            "e.g. src/api.handler",
        )
    ]


def test_a_container_event_needs_no_handler(tmp_path: Path) -> None:
    """The user's Dockerfile says what runs; `handler` is optional there."""
    assert image_of(build(tmp_path, one_event("process"))).runtime is None


# --- built-in runtimes: what they refuse ------------------------------------------------------


def test_a_built_in_runtime_writes_the_dockerfile_itself(tmp_path: Path) -> None:
    text = app_with(
        """\
        images:
          app: {}
        functions:
          Fn:
            handler: src/api.handler
            events:
              - eventType: httpd
                runtime: nodejs22
                dockerFile: Dockerfile
              - eventType: process
                runtime: python3.12
                imageId: app
        """
    )

    writes = "writes the Dockerfile; use runtime: container to build your own"
    assert problems(tmp_path, text) == [
        (13, f"{EV}.dockerFile", f"the built-in runtime nodejs22 {writes}"),
        (16, f"{FN}.events[1].imageId", f"the built-in runtime python3.12 {writes}"),
    ]


@pytest.mark.parametrize("kind", ["httpd", "process", "lambdaContainer"])
def test_a_base_image_needs_a_built_in_runtime(tmp_path: Path, kind: str) -> None:
    text = one_event(kind, "baseImage: public.ecr.aws/docker/library/node:22-slim\n")

    assert problems(tmp_path, text) == [
        (
            10,
            f"{EV}.baseImage",
            "applies to built-in runtimes; with runtime: container the Dockerfile names its base",
        )
    ]


def test_a_base_image_is_not_taken_with_image_id_either(tmp_path: Path) -> None:
    text = app_with(
        """\
        images:
          app: {}
        functions:
          Fn:
            events:
              - {eventType: process, runtime: container, imageId: app, baseImage: node:22}
        """
    )

    assert problems(tmp_path, text) == [
        (
            10,
            f"{EV}.baseImage",
            "applies to built-in runtimes; with runtime: container the Dockerfile names its base",
        )
    ]


def test_a_built_in_runtime_takes_build_args_platform_and_additional_files(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    text = one_event(
        "httpd",
        """\
        dockerBuildArgs: {NODE_ENV: production}
        platform: linux/arm64
        additionalDockerFiles: [{from: shared/app.conf, to: app.conf}]
        """,
        runtime="nodejs22",
        handler="src/api.handler",
    )

    image = image_of(build(tmp_path, text, Overrides(build_args=(("V", "1"),)), dockerfiles=()))

    assert image.build_args == (("NODE_ENV", "production"), ("V", "1"))
    assert (image.platform, image.architecture) == ("linux/arm64", "arm64")
    assert [copy.target for copy in image.copies] == ["app.conf"]
    assert image.runtime is not None


# --- built-in runtimes: base images -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "runtime", "base"),
    [
        ("httpd", "nodejs22", "public.ecr.aws/docker/library/node:22-slim"),
        ("process", "nodejs18.x", "public.ecr.aws/docker/library/node:18-slim"),
        ("scheduledTask", "python3.12", "public.ecr.aws/docker/library/python:3.12-slim"),
        ("httpd", "python3.9", "public.ecr.aws/docker/library/python:3.9-slim"),
        ("lambdaContainer", "nodejs24", "public.ecr.aws/lambda/nodejs:24"),
        ("lambdaContainer", "nodejs20.x", "public.ecr.aws/lambda/nodejs:20"),
        ("lambdaContainer", "python3.13", "public.ecr.aws/lambda/python:3.13"),
    ],
)
def test_default_base_images_are_ecr_public_copies(
    tmp_path: Path, kind: str, runtime: str, base: str
) -> None:
    """Services start from the official language image; Lambda from AWS's Lambda base image,
    which has the runtime interface client. ECR Public is not rate-limited as Docker Hub is."""
    keys = "schedulerRate: rate(1 hour)\n" if kind == "scheduledTask" else ""
    text = one_event(kind, keys, runtime=runtime, handler="src/app.handler")

    built_in = runtime_of(build(tmp_path, text, dockerfiles=()))

    assert (built_in.kind, built_in.base_image) == (kind, base)


def test_a_base_image_of_one_s_own(tmp_path: Path) -> None:
    text = one_event(
        "lambdaContainer",
        "baseImage: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/base/node:22\n",
        runtime="nodejs22",
        handler="src/app.handler",
    )

    built_in = runtime_of(build(tmp_path, text, dockerfiles=()))

    assert built_in.base_image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/base/node:22"


# --- built-in runtimes: httpd port and health route ---------------------------------------------


def test_a_built_in_http_server_answers_its_own_health_route(tmp_path: Path) -> None:
    text = one_event("httpd", runtime="nodejs22", handler="src/api.handler")

    app = build(tmp_path, text, dockerfiles=())

    (event,) = app.events
    assert isinstance(event, HttpdEvent)
    assert event.health.path == "/_hybridless/health"
    assert (runtime_of(app).port, runtime_of(app).health_route) == (80, "/_hybridless/health")


def test_a_user_s_container_is_checked_at_the_root(tmp_path: Path) -> None:
    """The tool cannot answer a route inside a Dockerfile it did not write."""
    (event,) = build(tmp_path, one_event("httpd")).events

    assert isinstance(event, HttpdEvent)
    assert event.health.path == "/"


def test_the_port_and_a_chosen_health_route_are_baked_into_the_runtime(tmp_path: Path) -> None:
    text = one_event(
        "httpd",
        "port: 8080\nhealthCheckRoute: /healthz\n",
        runtime="python3.12",
        handler="app.handler",
    )

    app = build(tmp_path, text, dockerfiles=())

    (event,) = app.events
    assert isinstance(event, HttpdEvent)
    assert (event.port, event.health.path) == (8080, "/healthz")
    assert (runtime_of(app).port, runtime_of(app).health_route) == (8080, "/healthz")


@pytest.mark.parametrize("kind", ["process", "scheduledTask", "lambdaContainer"])
def test_only_an_http_server_listens(tmp_path: Path, kind: str) -> None:
    keys = "schedulerRate: rate(1 hour)\n" if kind == "scheduledTask" else ""
    text = one_event(kind, keys, runtime="nodejs22", handler="src/app.handler")

    built_in = runtime_of(build(tmp_path, text, dockerfiles=()))

    assert (built_in.port, built_in.health_route) == (None, None)
