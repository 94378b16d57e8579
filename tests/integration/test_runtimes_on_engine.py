"""Built-in runtimes on the proving ground's Docker engine: the Dockerfile the tool writes builds
from the project's own build context (`hybridless.images.context.collect`, the path a deploy
takes), and the container serves, works or runs once as the ECS task of its kind would.

The base images are the ground's Debian bookworm, which holds Python 3.11 and Node 18: the
runtimes `python3.11` and `nodejs18` are what it truthfully stands in for. The Lambda base
images (public.ecr.aws/lambda/...) cannot be pulled here; `lambdaContainer` Dockerfiles are
covered by tests/unit/test_runtimes.py only.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docker import errors as docker_errors

from hybridless.images.context import collect
from hybridless.model import Image
from hybridless.model.images import BUILTIN_HEALTH_ROUTE, GENERATED_DOCKERFILE
from hybridless.model.types import BuiltinRuntime
from proving_ground.procs import free_port
from tests.conftest import GroundHandle

RUN_SECONDS = 60
STARTUP_SECONDS = 30
STOP_SECONDS = 10

PY_API = """
import json, sys


def handler(event, context):
    if event["path"] == "/boom":
        raise RuntimeError("boom in the container")
    name = (event["queryStringParameters"] or {}).get("name", "nobody")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"hello": name, "method": event["httpMethod"],
                            "python": "%d.%d" % sys.version_info[:2]}),
    }
"""
PY_JOBS = """
import json, sys


def work(event, context):
    print("python %d.%d worked on %s" % (sys.version_info[:2] + (json.dumps(event),)))


def fail(event, context):
    raise RuntimeError("the job failed")
"""
NODE_API = """
export async function handle$http(event) {
  if (event.path === '/boom') throw new Error('boom in the container');
  const name = (event.queryStringParameters || {}).name || 'nobody';
  return { statusCode: 200, body: JSON.stringify({ hello: name, node: process.version }) };
}
"""
NODE_JOBS = """
exports.work = (event, context, callback) => {
  console.log(`node ${process.version} worked on ${JSON.stringify(event)}`);
  setTimeout(() => callback(null, 'done'), 1);
};
exports.fail = async () => { throw new Error('the job failed'); };
"""


@dataclass
class Engine:
    docker: Any
    base_image: str
    unique: str
    tags: list[str]

    def build(self, runtime: BuiltinRuntime, root: Path, name: str) -> tuple[Any, str]:
        """The image of `runtime` from the project at `root`, and the builder's output."""
        tag = f"hybridless-test/runtimes-{self.unique}:{name}"
        image = Image(
            name=name,
            repository=f"runtimes-{self.unique}",
            context=root,
            dockerfile=GENERATED_DOCKERFILE,
            runtime=runtime,
        )
        context = collect(image)
        output: list[str] = []
        with context.archive() as archive:
            self.tags.append(tag)
            for chunk in self.docker.api.build(
                fileobj=archive,
                custom_context=True,
                dockerfile=context.dockerfile,
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                network_mode="host",
            ):
                if "error" in chunk:
                    pytest.fail(f"build failed: {chunk['error']}\n{''.join(output)}")
                output.append(chunk.get("stream", ""))
        return self.docker.images.get(tag), "".join(output)

    def run_to_end(self, image: Any, **environment: str) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of a container run as a one-shot ECS task is."""
        container = self.docker.containers.run(
            image.id, detach=True, network_mode="host", environment=environment
        )
        try:
            code = container.wait(timeout=RUN_SECONDS)["StatusCode"]
            out = container.logs(stdout=True, stderr=False).decode()
            err = container.logs(stdout=False, stderr=True).decode()
        finally:
            container.remove(force=True)
        return int(code), out, err

    @contextmanager
    def serving(self, image: Any, port: int) -> Iterator[Any]:
        container = self.docker.containers.run(
            image.id, detach=True, network_mode="host", environment={"PORT": str(port)}
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _answers(port):
                container.reload()
                if container.status == "exited" or time.monotonic() > deadline:
                    logs = container.logs().decode()
                    pytest.fail(f"no answer on port {port} ({container.status}):\n{logs}")
                time.sleep(0.1)
            yield container
        finally:
            container.remove(force=True)


@pytest.fixture
def engine(ground: GroundHandle, unique: str) -> Iterator[Engine]:
    docker = ground.docker()
    made = Engine(docker, ground.env["HYBRIDLESS_GROUND_BASE_IMAGE"], unique, [])
    try:
        yield made
    finally:
        for tag in made.tags:
            # a build that failed before tagging leaves nothing to remove
            with suppress(docker_errors.ImageNotFound):
                docker.images.remove(tag)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def runtime(engine: Engine, language: str, kind: str, handler: str) -> BuiltinRuntime:
    version = "3.11" if language == "python" else "18"
    return BuiltinRuntime(
        language=language,
        version=version,
        kind=kind,
        handler=handler,
        base_image=engine.base_image,
        port=8080 if kind == "httpd" else None,
        health_route=BUILTIN_HEALTH_ROUTE if kind == "httpd" else None,
    )


def get(port: int, method: str, target: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _answers(port: int) -> bool:
    try:
        return get(port, "GET", BUILTIN_HEALTH_ROUTE) == (200, b"ok")
    except OSError:
        return False


def stop_cleanly(container: Any) -> int:
    """Stop as ECS does (SIGTERM, then SIGKILL after a grace period): the program runs as PID 1,
    which the kernel shields from signals it does not handle, so only a handled SIGTERM ends it
    before the grace period."""
    started = time.monotonic()
    container.stop(timeout=STOP_SECONDS)
    assert time.monotonic() - started < STOP_SECONDS / 2, "SIGTERM was ignored"
    container.reload()
    return int(container.attrs["State"]["ExitCode"])


@pytest.mark.parametrize("language", ["python", "nodejs"])
def test_an_httpd_image_answers_health_itself_and_serves_the_handler(
    engine: Engine, tmp_path: Path, language: str
) -> None:
    if language == "python":
        root = write(tmp_path, {"src/api.py": PY_API})
        made = runtime(engine, "python", "httpd", "src.api.handler")
        handler, interpreter, version = "src/api.handler", "python3", ("python", "3.11")
    else:
        root = write(tmp_path, {"src/api.mjs": NODE_API})
        made = runtime(engine, "nodejs", "httpd", "src/api.handle$http")
        handler, interpreter, version = "src/api.handle$http", "node", ("node", "v18.")
    image, _ = engine.build(made, root, f"{language}-httpd")

    config = image.attrs["Config"]
    assert f"HYBRIDLESS_HANDLER={handler}" in config["Env"], "the value is written as it is"
    assert "PORT=8080" in config["Env"]
    assert config["WorkingDir"] == "/app"
    program = "runtime.py" if language == "python" else "runtime.cjs"
    assert config["Cmd"] == [interpreter, f"/app/.hybridless/{program}"]

    port = free_port()  # the task's PORT, as the template sets it; baked 8080 otherwise
    with engine.serving(image, port) as container:
        assert get(port, "GET", BUILTIN_HEALTH_ROUTE) == (200, b"ok")
        status, body = get(port, "GET", "/hello?name=ground")
        assert status == 200, body
        answer = json.loads(body)
        assert answer["hello"] == "ground"
        assert str(answer[version[0]]).startswith(version[1]), "the runtime's version is true"
        status, body = get(port, "POST", "/boom")
        assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
        assert get(port, "GET", "/hello")[0] == 200, "the server kept running"

        assert stop_cleanly(container) == 0
        out = container.logs(stdout=True, stderr=False).decode()
        err = container.logs(stdout=False, stderr=True).decode()
    assert f"{handler} listening on 0.0.0.0:{port}" in out
    assert '"GET /hello?name=ground" 200' in out and '"POST /boom" 502' in out
    assert "boom in the container" in err


@pytest.mark.parametrize("language", ["python", "nodejs"])
def test_process_and_scheduled_task_images_run_the_handler_once_and_exit_with_its_outcome(
    engine: Engine, tmp_path: Path, language: str
) -> None:
    if language == "python":
        root = write(tmp_path, {"jobs.py": PY_JOBS})
        prefix = "python 3.11 worked on"
        scheduled_event = '{"orderId": 7}'
    else:
        root = write(tmp_path, {"jobs.js": NODE_JOBS})
        prefix = "node v18."
        scheduled_event = '{"orderId":7}'
    process, _ = engine.build(
        runtime(engine, language, "process", "jobs.work"), root, f"{language}-process"
    )
    task, _ = engine.build(
        runtime(engine, language, "scheduledTask", "jobs.work"), root, f"{language}-task"
    )

    code, out, err = engine.run_to_end(process)
    assert code == 0, err
    assert out.startswith(prefix) and out.splitlines()[0].endswith(" {}")

    code, out, err = engine.run_to_end(process, HYBRIDLESS_HANDLER="jobs.fail")
    assert code == 1 and "the job failed" in err

    code, out, err = engine.run_to_end(task, HYBRIDLESS_EVENT='{"orderId": 7}')
    assert code == 0, err
    assert out.startswith(prefix) and out.splitlines()[0].endswith(f" {scheduled_event}")

    code, out, err = engine.run_to_end(task)
    assert code == 0 and out.splitlines()[0].endswith(" {}"), "no event: {}"

    code, out, err = engine.run_to_end(task, HYBRIDLESS_HANDLER="jobs.fail")
    assert code == 1 and "the job failed" in err


def test_a_change_to_the_code_alone_reuses_the_dependency_layer(
    engine: Engine, tmp_path: Path
) -> None:
    """requirements.txt names what the base image already has (pip itself), so the install
    runs offline; it still goes through Debian's externally-managed Python, as a real one does."""
    root = write(tmp_path, {"requirements.txt": "pip\n", "jobs.py": PY_JOBS})
    made = runtime(engine, "python", "process", "jobs.work")

    first, output = engine.build(made, root, "deps-1")
    assert "Requirement already satisfied: pip" in output
    (root / "jobs.py").write_text(PY_JOBS.replace("worked on", "worked again on"))
    second, output = engine.build(made, root, "deps-2")

    steps = _steps(output)
    install = next(s for s in steps if "pip install" in s[0])
    code = next(s for s in steps if s[0].startswith("COPY . "))
    assert install[1], f"the install was not reused:\n{output}"
    assert not code[1], "the code layer is rebuilt"
    assert first.id != second.id
    code_, out, err = engine.run_to_end(second)
    assert code_ == 0 and out.startswith("python 3.11 worked again on {}"), err


def _steps(output: str) -> list[tuple[str, bool]]:
    """(instruction, came from the cache) for each step of a classic builder's output."""
    steps: list[tuple[str, bool]] = []
    for line in output.splitlines():
        if line.startswith("Step "):
            steps.append((line.split(" : ", 1)[1], False))
        elif "Using cache" in line and steps:
            steps[-1] = (steps[-1][0], True)
    return steps
