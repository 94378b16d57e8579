"""Built-in runtimes: the Dockerfiles the tool writes, and the runtime programs that make a
Lambda handler serve HTTP, work or run once on ECS.

The programs are real: each test writes a project (handler code plus the `.hybridless/` files
`context_files` returns) into a directory and runs the program on it as the image's CMD would,
with the interpreter of this test run (and Python 3.9 and Node when the machine has them).
"""

from __future__ import annotations

import ast
import glob
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
import pytest

from hybridless.errors import PhaseError
from hybridless.images import runtimes
from hybridless.images.runtimes import context_files, render, resolve_handler
from hybridless.images.runtimes.runtime import MAX_BODY
from hybridless.model.images import BUILTIN_HEALTH_ROUTE, GENERATED_DOCKERFILE
from hybridless.model.types import BuiltinRuntime
from proving_ground.procs import free_port

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "hybridless" / "images" / "runtimes"
KINDS = ("httpd", "process", "scheduledTask", "lambdaContainer")
LANGUAGES = {"python": ("3.12", "src/api.py"), "nodejs": ("22", "src/api.js")}
BASE = "registry.example/base/{language}:{version}"
STARTUP_SECONDS = 15
RUN_SECONDS = 30


def runtime(
    language: str, kind: str, handler: str = "src/api.handler", **changes: object
) -> BuiltinRuntime:
    version = LANGUAGES[language][0]
    made = BuiltinRuntime(
        language=language,
        version=version,
        kind=kind,
        handler=handler,
        base_image=BASE.format(language=language, version=version),
        port=8080 if kind == "httpd" else None,
        health_route=BUILTIN_HEALTH_ROUTE if kind == "httpd" else None,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def dockerfile(files: dict[str, bytes]) -> str:
    return files[GENERATED_DOCKERFILE].decode()


# ---- the Dockerfiles ------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_and_language_renders_a_dockerfile_naming_base_handler_and_port(
    language: str, kind: str
) -> None:
    handler_file = LANGUAGES[language][1]
    made = runtime(language, kind)

    files = context_files(made, GENERATED_DOCKERFILE, frozenset({handler_file}))
    text = dockerfile(files)

    assert text.splitlines()[2] == f"FROM {made.base_image}"
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    if kind == "lambdaContainer":
        assert set(files) == {GENERATED_DOCKERFILE}, "Lambda's own runtime calls the handler"
        assert "COPY . ${LAMBDA_TASK_ROOT}/" in instructions
        assert instructions[-1] == 'CMD ["src/api.handler"]'
        assert "HYBRIDLESS_" not in text
        return
    program = f".hybridless/{runtimes.PROGRAMS[language]}"
    assert set(files) == {GENERATED_DOCKERFILE, program}
    assert files[program] == (PACKAGE / runtimes.PROGRAMS[language]).read_bytes()
    assert f'HYBRIDLESS_KIND="{kind}"' in text
    assert 'HYBRIDLESS_HANDLER="src/api.handler"' in text
    interpreter = "python3" if language == "python" else "node"
    assert instructions[-1] == f'CMD ["{interpreter}", "/app/{program}"]'
    assert "WORKDIR /app" in instructions and "COPY . ./" in instructions
    assert text.count(".hybridless") == 1, "the program arrives with the code, in one place"
    if kind == "httpd":
        assert 'PORT="8080"' in text
        assert f'HYBRIDLESS_HEALTH_ROUTE="{BUILTIN_HEALTH_ROUTE}"' in text
        assert "EXPOSE 8080" in instructions
    else:
        assert "PORT" not in text and "EXPOSE" not in text and "HEALTH" not in text


def test_the_port_and_health_route_of_the_event_are_baked_in() -> None:
    made = runtime("python", "httpd", port=3000, health_route="/ping")
    text = context_files(made, "Dockerfile.x", frozenset())["Dockerfile.x"].decode()
    assert 'PORT="3000"' in text and 'HYBRIDLESS_HEALTH_ROUTE="/ping"' in text
    assert "EXPOSE 3000" in text


def test_the_dockerfile_goes_under_the_name_the_image_gives_it() -> None:
    files = context_files(runtime("nodejs", "process"), "build/Dockerfile.gen", frozenset())
    assert "build/Dockerfile.gen" in files and GENERATED_DOCKERFILE not in files


@pytest.mark.parametrize("kind", KINDS)
def test_python_installs_requirements_only_when_the_project_has_them(kind: str) -> None:
    without = dockerfile(context_files(runtime("python", kind), GENERATED_DOCKERFILE, frozenset()))
    assert "pip" not in without and "requirements" not in without

    files = frozenset({"requirements.txt", "src/api.py"})
    text = dockerfile(context_files(runtime("python", kind), GENERATED_DOCKERFILE, files))
    assert "python3 -m pip install --no-cache-dir -r requirements.txt" in text
    if kind == "lambdaContainer":
        assert '--target "${LAMBDA_TASK_ROOT}"' in text
    _assert_dependencies_before_code(text, "COPY requirements.txt ./", "pip install")


LOCKED = "npm ci --omit=dev"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("project", "manifests", "install"),
    [
        ({"src/api.js"}, None, None),
        ({"package.json"}, "package.json", "npm install --omit=dev"),
        ({"package.json", "package-lock.json"}, "package.json package-lock.json", LOCKED),
        ({"package.json", "npm-shrinkwrap.json"}, "package.json npm-shrinkwrap.json", LOCKED),
        ({"package.json", "package-lock.json", ".npmrc"}, "package.json package-lock.json .npmrc",
         LOCKED),
        ({"package-lock.json"}, None, None),  # a lock without its package.json: nothing to install
        ({"sub/package.json", "sub/package-lock.json"}, None, None),  # not the project's own
    ],
)  # fmt: skip
def test_node_installs_production_dependencies_only_when_the_project_has_a_package_json(
    kind: str, project: set[str], manifests: str | None, install: str | None
) -> None:
    text = dockerfile(
        context_files(runtime("nodejs", kind), GENERATED_DOCKERFILE, frozenset(project))
    )
    if install is None:
        assert "npm" not in text and "package" not in text
        return
    assert install in text
    assert "npm ci" not in text if install.startswith("npm install") else "npm install" not in text
    _assert_dependencies_before_code(text, f"COPY {manifests} ./", install)


def _assert_dependencies_before_code(text: str, copy_manifests: str, install: str) -> None:
    """Manifests, then install, then the code: a change to the code alone reuses the install."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    code = next(i for i, line in enumerate(lines) if line.startswith("COPY . "))
    manifest_line = lines.index(copy_manifests)
    install_line = next(i for i, line in enumerate(lines) if install in line)
    assert manifest_line < install_line < code
    assert lines.count(copy_manifests) == 1


def test_settings_that_change_more_often_than_code_come_after_it() -> None:
    text = dockerfile(
        context_files(
            runtime("python", "httpd"), GENERATED_DOCKERFILE, frozenset({"requirements.txt"})
        )
    )
    lines = text.splitlines()
    code = lines.index("COPY . ./")
    handler = next(i for i, line in enumerate(lines) if "HYBRIDLESS_HANDLER=" in line)
    assert code < handler, "a renamed handler must not invalidate the dependency or code layers"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("kind", ["httpd", "lambdaContainer"])
def test_the_dotted_python_form_becomes_the_file_path_form_lambda_reads(
    language: str, kind: str
) -> None:
    project = frozenset({LANGUAGES[language][1]})
    text = dockerfile(
        context_files(runtime(language, kind, "src.api.handler"), GENERATED_DOCKERFILE, project)
    )
    assert "src/api.handler" in text and "src.api.handler" not in text


@pytest.mark.parametrize(
    ("handler", "language", "project", "expected"),
    [
        ("src/api.handler", "python", {"src/api.py"}, "src/api.handler"),
        ("src.api.handler", "python", {"src/api.py"}, "src/api.handler"),
        ("src.handlers.handler", "python", {"src/handlers/__init__.py"}, "src/handlers.handler"),
        ("./src/api.handler", "nodejs", {"src/api.js"}, "src/api.handler"),
        ("src.api.handler", "nodejs", {"src/api.mjs"}, "src/api.handler"),
        ("src.api.handler", "nodejs", {"src/api.cjs"}, "src/api.handler"),
        ("lib.v1.handler", "nodejs", {"lib.v1.js"}, "lib.v1.handler"),  # the file has the dot
        ("mangum_app.handler", "python", set(), "mangum_app.handler"),  # from a dependency
    ],
)
def test_resolve_handler(handler: str, language: str, project: set[str], expected: str) -> None:
    assert resolve_handler(handler, language, frozenset(project)) == expected


def test_env_values_keep_dollars_quotes_and_backslashes_as_they_are() -> None:
    made = runtime("nodejs", "httpd", "src/api.handle$it", health_route='/h"\\$x')
    text = dockerfile(context_files(made, GENERATED_DOCKERFILE, frozenset()))
    assert 'HYBRIDLESS_HANDLER="src/api.handle\\$it"' in text
    assert 'HYBRIDLESS_HEALTH_ROUTE="/h\\"\\\\\\$x"' in text


@pytest.mark.parametrize(
    "changes",
    [
        {"base_image": "python:3.12\nRUN curl evil | sh"},
        {"base_image": "${BASE}"},
        {"base_image": "python 3.12"},
        {"handler": "src/api.handler\nRUN evil"},
        {"health_route": "/health\nRUN evil"},
    ],
)
def test_values_that_would_change_the_dockerfile_s_meaning_are_refused(
    changes: dict[str, Any],
) -> None:
    for kind in ("httpd", "lambdaContainer"):
        made = replace(runtime("python", kind), **changes)
        if kind == "lambdaContainer" and "health_route" in changes:
            continue
        with pytest.raises(PhaseError, match="build failed"):
            context_files(made, GENERATED_DOCKERFILE, frozenset())


def test_an_unknown_kind_or_language_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="lambda"):
        context_files(
            replace(runtime("python", "process"), kind="lambda"), GENERATED_DOCKERFILE, frozenset()
        )
    with pytest.raises(ValueError, match="ruby"):
        context_files(
            replace(runtime("python", "process"), language="ruby"),
            GENERATED_DOCKERFILE,
            frozenset(),
        )
    with pytest.raises(ValueError, match="port"):
        context_files(runtime("python", "httpd", port=None), GENERATED_DOCKERFILE, frozenset())


TEMPLATES = sorted(path.name for path in (PACKAGE / "templates").glob("*.j2"))


def test_there_is_a_template_per_language_for_ecs_and_for_lambda() -> None:
    assert TEMPLATES == [
        "nodejs-lambda.Dockerfile.j2",
        "nodejs.Dockerfile.j2",
        "python-lambda.Dockerfile.j2",
        "python.Dockerfile.j2",
    ]


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_template_fails_on_a_missing_variable_instead_of_writing_nothing(template: str) -> None:
    variables = {
        "runtime": "python3.12",
        "kind": "httpd",
        "base_image": "base:1",
        "handler": "src/api.handler",
        "manifests": [],
        "install": None,
        "workdir": "/app",
        "program": "/app/.hybridless/runtime.py",
        "port": 8080,
        "environment": ['A="1"'],
    }
    assert "FROM base:1\n" in render(template, variables)
    for name in ("base_image", "handler", "manifests"):
        with pytest.raises(jinja2.UndefinedError, match=name):
            render(template, {k: v for k, v in variables.items() if k != name})


def test_the_templates_and_programs_are_package_data() -> None:
    """A wheel without them would write no Dockerfile; every file of the package is covered."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["hybridless.images.runtimes"]
    covered = {
        Path(match).resolve() for pattern in declared for match in glob.glob(str(PACKAGE / pattern))
    }
    shipped = {
        p.resolve() for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
    }
    assert shipped <= covered and covered


# ---- the runtime programs -------------------------------------------------------------------

PY_HANDLERS = """
import asyncio, base64, json, sys

calls = 0


def handler(event, context):
    global calls
    calls += 1
    if event["path"] == "/boom":
        raise RuntimeError("boom from the handler")
    if event["path"] == "/malformed":
        return "not a proxy response"
    if event["path"] == "/binary":
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    return {
        "statusCode": 200,
        "headers": {"X-Handler": "sync", "Set-Cookie": "ignored=1"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"calls": calls, "event": event, "request_id": context.aws_request_id,
                            "remaining": context.get_remaining_time_in_millis()}),
    }


async def async_handler(event, context):
    await asyncio.sleep(0.01)
    if event["path"] == "/boom":
        raise ValueError("async boom")
    return {"statusCode": 201, "body": json.dumps({"async": True, "path": event["path"]})}


def work(event, context):
    print("worked on", json.dumps(event), flush=True)


async def async_work(event, context):
    await asyncio.sleep(0.01)
    print("async worked on", json.dumps(event), flush=True)


def fail(event, context):
    raise RuntimeError("the job failed")
"""

NODE_CJS = """
let calls = 0;
exports.handler = (event, context, callback) => {
  calls += 1;
  if (event.path === '/boom') return callback(new Error('boom from the handler'));
  setTimeout(() => callback(null, {
    statusCode: 200,
    headers: { 'X-Handler': 'callback' },
    multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
    body: JSON.stringify({ calls, event, request_id: context.awsRequestId,
                           remaining: context.getRemainingTimeInMillis() }),
  }), 1);
};
exports.plain = (event) => ({ statusCode: 203, body: event.path });
exports.throws = () => { throw new Error('thrown synchronously'); };
exports.work = async (event) => { console.log('worked on', JSON.stringify(event)); };
exports.fail = async () => { throw new Error('the job failed'); };
"""

NODE_ESM = """
export async function handler(event, context) {
  await new Promise((resolve) => setTimeout(resolve, 1));
  if (event.path === '/boom') throw new Error('async boom');
  return { statusCode: 201, body: JSON.stringify({ esm: true, path: event.path }) };
}
"""


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def project(tmp_path: Path, language: str, kind: str, sources: dict[str, str]) -> Path:
    """A project directory as the image holds it: the code plus what `context_files` adds."""
    root = tmp_path / "app"
    for name, text in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for name, data in context_files(
        runtime(language, kind), GENERATED_DOCKERFILE, frozenset(sources)
    ).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def command(interpreter: str, root: Path, language: str) -> list[str]:
    return [interpreter, str(root / ".hybridless" / runtimes.PROGRAMS[language])]


def environment(kind: str, handler: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYBRIDLESS_", "PORT"))}
    return {**env, "HYBRIDLESS_KIND": kind, "HYBRIDLESS_HANDLER": handler, **extra}


@dataclass
class Served:
    port: int
    process: subprocess.Popen[str]

    def output(self) -> tuple[str, str]:
        self.process.terminate()
        out, err = self.process.communicate(timeout=10)
        return out, err


Serve = Callable[[list[str], str, Path], Served]


@pytest.fixture
def serve() -> Iterator[Serve]:
    started: list[subprocess.Popen[str]] = []

    def start(argv: list[str], handler: str, cwd: Path) -> Served:
        port = free_port()
        env = environment(
            "httpd", handler, PORT=str(port), HYBRIDLESS_HEALTH_ROUTE=BUILTIN_HEALTH_ROUTE
        )
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"the runtime exited with {process.returncode}:\n{out}\n{err}")
            try:
                if request(port, "GET", BUILTIN_HEALTH_ROUTE).status == 200:
                    return Served(port, process)
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no answer on port {port} within {STARTUP_SECONDS}s")
            time.sleep(0.05)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def run_once(
    argv: list[str], kind: str, handler: str, cwd: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=environment(kind, handler, **extra), capture_output=True, text=True,
        timeout=RUN_SECONDS,
    )  # fmt: skip


def python_interpreters() -> list[str]:
    """This test run's Python, and the oldest the programs promise to run on when it is here."""
    found = [sys.executable]
    candidates = [
        shutil.which("python3.9"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9"))),
    ]
    for candidate in candidates:
        if candidate and _version(candidate) == "3.9":
            found.append(candidate)
            break
    return found


def _version(interpreter: str) -> str | None:
    try:
        result = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


PYTHONS = python_interpreters()
NODE = shutil.which("node")
NO_NODE = "install Node.js 18 or later (apt-get install nodejs)"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require_node() -> None:
    """A machine without Node skips these on a laptop; in CI a missing component fails."""
    if NODE is None:
        if IN_CI:
            pytest.fail(NO_NODE, pytrace=False)
        pytest.skip(NO_NODE)


needs_node = pytest.mark.usefixtures("node_present")


@pytest.fixture
def node_present() -> None:
    _require_node()


def test_the_python_program_parses_as_python_3_9() -> None:
    """Whatever the interpreters on this machine: the grammar of the oldest promised version."""
    ast.parse((PACKAGE / "runtime.py").read_text(), feature_version=(3, 9))


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: f"python{_version(p)}")
def test_python_httpd_answers_health_itself_and_calls_the_handler_with_a_proxy_event(
    python: str, tmp_path: Path, serve: Serve
) -> None:
    root = project(tmp_path, "python", "httpd", {"src/api.py": PY_HANDLERS})
    served = serve(command(python, root, "python"), "src/api.handler", root)

    for _ in range(3):
        health = request(served.port, "GET", BUILTIN_HEALTH_ROUTE)
        assert (health.status, health.body) == (200, b"ok")
    answer = request(
        served.port, "POST", "/orders/7?tag=a&tag=b&q=x%20y", b'{"qty": 2}',
        {"Content-Type": "application/json", "X-Trace": "t-1",
         "X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
    )  # fmt: skip
    assert answer.status == 200
    assert answer.headers["X-Handler"] == "sync"
    assert answer.headers.get_all("Set-Cookie") == ["a=1", "b=2"], "multiValueHeaders win"
    assert answer.headers["Content-Length"] == str(len(answer.body))
    reply = answer.json()
    assert reply["calls"] == 1, "the health checks did not reach the handler"
    assert reply["remaining"] > 0
    event = reply["event"]
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/orders/7"
    assert event["resource"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "orders/7"}
    assert event["body"] == '{"qty": 2}' and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"tag": "b", "q": "x y"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["x y"]}
    assert event["headers"]["X-Trace"] == "t-1"
    assert event["multiValueHeaders"]["X-Trace"] == ["t-1"]
    context = event["requestContext"]
    assert context["httpMethod"] == "POST" and context["path"] == "/orders/7"
    assert context["requestId"] == reply["request_id"]
    assert context["identity"]["sourceIp"] == "203.0.113.9"

    root_answer = request(served.port, "GET", "/").json()["event"]
    assert root_answer["queryStringParameters"] is None
    assert root_answer["multiValueQueryStringParameters"] is None
    assert root_answer["body"] is None and root_answer["pathParameters"] is None

    binary_in = request(served.port, "PUT", "/upload", bytes([0xFF, 0x00, 0xFE])).json()["event"]
    assert binary_in["isBase64Encoded"] is True and binary_in["body"] == "/wD+"
    binary_out = request(served.port, "GET", "/binary")
    assert binary_out.body == bytes(range(256))
    assert binary_out.headers["Content-Type"] == "application/octet-stream"

    head = request(served.port, "HEAD", "/orders/7")
    assert head.status == 200 and head.body == b""

    boom = request(served.port, "GET", "/boom")
    assert boom.status == 502 and boom.json() == {"message": "Internal server error"}
    malformed = request(served.port, "GET", "/malformed")
    assert malformed.status == 502
    after = request(served.port, "GET", "/still-here")
    assert after.status == 200 and after.json()["calls"] == 8, "the server kept running"

    out, err = served.output()
    assert served.process.returncode == 0, "SIGTERM (ECS stopping the task) is a clean stop"
    assert "RuntimeError: boom from the handler" in err and "Traceback" in err
    assert "malformed response" in err
    request_lines = [line for line in out.splitlines() if line.startswith("127.0.0.1 ")]
    assert len(request_lines) == 8, out
    assert '"POST /orders/7?tag=a&tag=b&q=x%20y" 200' in request_lines[0]
    assert '"GET /boom" 502' in out
    assert BUILTIN_HEALTH_ROUTE not in "".join(request_lines), "health checks are not logged"


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: f"python{_version(p)}")
def test_python_httpd_runs_an_async_handler_and_survives_its_errors(
    python: str, tmp_path: Path, serve: Serve
) -> None:
    root = project(tmp_path, "python", "httpd", {"src/api.py": PY_HANDLERS})
    served = serve(command(python, root, "python"), "src.api.async_handler", root)

    answer = request(served.port, "GET", "/hello")
    assert answer.status == 201
    assert answer.json() == {"async": True, "path": "/hello"}
    assert answer.headers["Content-Type"] == "application/json", "API Gateway's default"
    assert request(served.port, "GET", "/boom").status == 502
    assert request(served.port, "GET", "/again").json() == {"async": True, "path": "/again"}
    _, err = served.output()
    assert "ValueError: async boom" in err


def test_python_httpd_reads_chunked_bodies_and_refuses_one_larger_than_api_gateway_takes(
    tmp_path: Path, serve: Serve
) -> None:
    root = project(tmp_path, "python", "httpd", {"src/api.py": PY_HANDLERS})
    served = serve(command(sys.executable, root, "python"), "src/api.handler", root)

    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("POST", "/chunks", body=iter([b"one,", b"two,", b"three"]),
                           encode_chunked=True)  # fmt: skip
        chunked = json.loads(connection.getresponse().read())["event"]
    finally:
        connection.close()
    assert chunked["body"] == "one,two,three"

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as client:
        client.sendall(
            f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()
        )
        status_line = client.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413 "), "refused before the body is read"
    assert request(served.port, "GET", "/fine").status == 200


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: f"python{_version(p)}")
@pytest.mark.parametrize(
    ("handler", "code", "output"),
    [
        ("src/api.work", 0, "worked on {}"),
        ("src/api.async_work", 0, "async worked on {}"),
        ("src/api.fail", 1, None),
    ],
)
def test_python_process_calls_the_handler_once_with_an_empty_event(
    python: str, tmp_path: Path, handler: str, code: int, output: str | None
) -> None:
    root = project(tmp_path, "python", "process", {"src/api.py": PY_HANDLERS})
    result = run_once(command(python, root, "python"), "process", handler, root)
    assert result.returncode == code, result.stderr
    if output is not None:
        assert result.stdout.splitlines()[0] == output
        assert f"{handler} returned after" in result.stdout
    else:
        assert "RuntimeError: the job failed" in result.stderr
        assert f"{handler} failed after" in result.stderr


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: f"python{_version(p)}")
def test_python_scheduled_task_reads_its_event_from_hybridless_event(
    python: str, tmp_path: Path
) -> None:
    root = project(tmp_path, "python", "scheduledTask", {"src/api.py": PY_HANDLERS})
    argv = command(python, root, "python")

    given = run_once(
        argv, "scheduledTask", "src/api.work", root, HYBRIDLESS_EVENT='{"orderId": 7, "full": true}'
    )
    assert given.returncode == 0, given.stderr
    assert given.stdout.splitlines()[0] == 'worked on {"orderId": 7, "full": true}'

    unset = run_once(argv, "scheduledTask", "src/api.work", root)
    assert (unset.returncode, unset.stdout.splitlines()[0]) == (0, "worked on {}")

    failing = run_once(argv, "scheduledTask", "src/api.fail", root, HYBRIDLESS_EVENT="{}")
    assert failing.returncode == 1 and "the job failed" in failing.stderr

    not_json = run_once(argv, "scheduledTask", "src/api.work", root, HYBRIDLESS_EVENT="{oops")
    assert not_json.returncode == 1 and "HYBRIDLESS_EVENT is not JSON" in not_json.stderr
    assert "worked on" not in not_json.stdout


def test_python_program_refuses_to_start_without_a_loadable_handler(tmp_path: Path) -> None:
    root = project(
        tmp_path, "python", "process", {"src/api.py": PY_HANDLERS, "runtime.py": "X = 1"}
    )
    argv = command(sys.executable, root, "python")

    missing_module = run_once(argv, "process", "src/nothing.handler", root)
    assert missing_module.returncode == 1
    assert "cannot load the handler src/nothing.handler" in missing_module.stderr
    missing_function = run_once(argv, "process", "src/api.nothing", root)
    assert (
        missing_function.returncode == 1 and "has no function 'nothing'" in missing_function.stderr
    )
    no_kind = run_once(argv, "lambda", "src/api.work", root)
    assert no_kind.returncode == 2 and "HYBRIDLESS_KIND must be one of" in no_kind.stderr
    # A project module named like the program is the project's, not shadowed by the program.
    (root / "job.py").write_text(
        "import runtime\ndef handler(event, context):\n    print(runtime.X)\n"
    )
    shadow = run_once(argv, "process", "job.handler", root)
    assert (shadow.returncode, shadow.stdout.splitlines()[0]) == (0, "1"), shadow.stderr


@needs_node
def test_node_httpd_answers_health_itself_and_calls_a_callback_handler(
    tmp_path: Path, serve: Serve
) -> None:
    root = project(tmp_path, "nodejs", "httpd", {"src/api.js": NODE_CJS})
    served = serve(command(str(NODE), root, "nodejs"), "src/api.handler", root)

    for _ in range(3):
        health = request(served.port, "GET", BUILTIN_HEALTH_ROUTE)
        assert (health.status, health.body) == (200, b"ok")
    answer = request(
        served.port, "POST", "/orders/7?tag=a&tag=b&q=x%20y", b'{"qty": 2}',
        {"Content-Type": "application/json", "X-Trace": "t-1"},
    )  # fmt: skip
    assert answer.status == 200
    assert answer.headers["X-Handler"] == "callback"
    assert answer.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    reply = answer.json()
    assert reply["calls"] == 1
    event = reply["event"]
    assert (event["httpMethod"], event["path"], event["body"]) == (
        "POST",
        "/orders/7",
        '{"qty": 2}',
    )
    assert event["queryStringParameters"] == {"tag": "b", "q": "x y"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["x y"]}
    assert event["headers"]["X-Trace"] == "t-1", "header names keep their case, as in Python"
    assert event["requestContext"]["requestId"] == reply["request_id"]
    binary_in = request(served.port, "PUT", "/upload", bytes([0xFF, 0x00, 0xFE])).json()["event"]
    assert binary_in["isBase64Encoded"] is True and binary_in["body"] == "/wD+"

    boom = request(served.port, "GET", "/boom")
    assert boom.status == 502 and boom.json() == {"message": "Internal server error"}
    assert request(served.port, "GET", "/still-here").json()["calls"] == 4

    out, err = served.output()
    assert served.process.returncode == 0, "SIGTERM (ECS stopping the task) is a clean stop"
    assert "boom from the handler" in err
    assert '"GET /boom" 502' in out and '"POST /orders/7?tag=a&tag=b&q=x%20y" 200' in out
    assert BUILTIN_HEALTH_ROUTE not in out


@needs_node
@pytest.mark.parametrize(
    ("handler", "path", "status", "body"),
    [
        ("src/esm.handler", "/hello", 201, b'{"esm":true,"path":"/hello"}'),
        ("src.esm.handler", "/boom", 502, b'{"message": "Internal server error"}'),
        ("src/api.plain", "/plain", 203, b"/plain"),
        ("src/api.throws", "/x", 502, b'{"message": "Internal server error"}'),
    ],
)
def test_node_httpd_runs_es_modules_plain_and_throwing_handlers(
    tmp_path: Path, serve: Serve, handler: str, path: str, status: int, body: bytes
) -> None:
    root = project(tmp_path, "nodejs", "httpd", {"src/api.js": NODE_CJS, "src/esm.mjs": NODE_ESM})
    served = serve(command(str(NODE), root, "nodejs"), handler, root)
    answer = request(served.port, "GET", path)
    assert (answer.status, answer.body) == (status, body)
    assert request(served.port, "GET", BUILTIN_HEALTH_ROUTE).status == 200, "still serving"


@needs_node
def test_node_program_is_common_js_even_in_a_project_of_es_modules(
    tmp_path: Path, serve: Serve
) -> None:
    root = project(
        tmp_path, "nodejs", "httpd", {"package.json": '{"type": "module"}', "src/esm.js": NODE_ESM}
    )
    served = serve(command(str(NODE), root, "nodejs"), "src/esm.handler", root)
    assert request(served.port, "GET", "/m").json() == {"esm": True, "path": "/m"}


@needs_node
@pytest.mark.parametrize("kind", ["process", "scheduledTask"])
def test_node_one_shot_kinds_exit_0_when_the_handler_returns_and_1_when_it_throws(
    tmp_path: Path, kind: str
) -> None:
    root = project(tmp_path, "nodejs", kind, {"src/api.js": NODE_CJS})
    argv = command(str(NODE), root, "nodejs")
    event = {"HYBRIDLESS_EVENT": '{"orderId": 7}'} if kind == "scheduledTask" else {}

    done = run_once(argv, kind, "src/api.work", root, **event)
    assert done.returncode == 0, done.stderr
    expected = '{"orderId":7}' if kind == "scheduledTask" else "{}"
    assert done.stdout.splitlines()[0] == f"worked on {expected}"

    failed = run_once(argv, kind, "src/api.fail", root, **event)
    assert failed.returncode == 1 and "the job failed" in failed.stderr

    missing = run_once(argv, kind, "src/none.handler", root, **event)
    assert missing.returncode == 1 and "cannot load the handler" in missing.stderr


@needs_node
def test_node_scheduled_task_refuses_an_event_that_is_not_json(tmp_path: Path) -> None:
    root = project(tmp_path, "nodejs", "scheduledTask", {"src/api.js": NODE_CJS})
    result = run_once(
        command(str(NODE), root, "nodejs"),
        "scheduledTask",
        "src/api.work",
        root,
        HYBRIDLESS_EVENT="{oops",
    )
    assert result.returncode == 1 and "HYBRIDLESS_EVENT is not JSON" in result.stderr


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_python_and_node_make_the_same_event_from_the_same_request(
    language: str, tmp_path: Path, serve: Serve
) -> None:
    """The promise of one handler for both: the event does not depend on the runtime's language."""
    if language == "nodejs":
        _require_node()
    echo = {
        "python": ("src/echo.py", ECHO_PY),
        "nodejs": ("src/echo.js", ECHO_JS),
    }[language]
    root = project(tmp_path, language, "httpd", {echo[0]: echo[1]})
    interpreter = sys.executable if language == "python" else str(NODE)
    served = serve(command(interpreter, root, language), "src/echo.handler", root)
    event = request(
        served.port,
        "PATCH",
        "/a/b?x=1&x=2&y=",
        b"text",
        {"X-Two": "v", "Content-Type": "text/plain"},
    ).json()
    context = event.pop("requestContext")
    for volatile in ("requestId", "requestTimeEpoch", "domainName"):
        context.pop(volatile)
    context["identity"].pop("userAgent")
    for headers in (event["headers"], event["multiValueHeaders"]):
        for name in ("Host", "Accept-Encoding", "Connection", "Content-Length"):
            headers.pop(name, None)
    assert event == EXPECTED_EVENT
    assert context == EXPECTED_CONTEXT


ECHO_PY = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""
ECHO_JS = "exports.handler = async (e) => ({ statusCode: 200, body: JSON.stringify(e) });\n"
EXPECTED_EVENT = {
    "version": "1.0",
    "resource": "/{proxy+}",
    "path": "/a/b",
    "httpMethod": "PATCH",
    "headers": {"X-Two": "v", "Content-Type": "text/plain"},
    "multiValueHeaders": {"X-Two": ["v"], "Content-Type": ["text/plain"]},
    "queryStringParameters": {"x": "2", "y": ""},
    "multiValueQueryStringParameters": {"x": ["1", "2"], "y": [""]},
    "pathParameters": {"proxy": "a/b"},
    "stageVariables": None,
    "body": "text",
    "isBase64Encoded": False,
}
EXPECTED_CONTEXT = {
    "resourcePath": "/{proxy+}",
    "httpMethod": "PATCH",
    "path": "/a/b",
    "protocol": "HTTP/1.1",
    "stage": "$default",
    "identity": {"sourceIp": "127.0.0.1"},
}
