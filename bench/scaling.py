"""How the tool grows with the app: render time from 50 to 200 functions, and the memory a
200-function render and deploy take.

An app grows by functions, and every function adds resources, nested stacks past
CloudFormation's 500 per stack, and lines the deploy checks. Rendering four times the
functions should take about four times as long, but 50 functions fit one stack and 200 do not:
that ratio includes the split into nested stacks, which a one-stack app never pays. 400 against
200, both split, shows how the split itself grows; anything comparing every function with
every other would show there. The apps are generated: N zip functions
sharing one code directory, a third each on a schedule, fed by a queue and with no trigger,
the same generator for every N. (No HTTP API: moto cannot create one through CloudFormation.)

Memory is the peak resident size of a fresh process: one that loads and renders the 200-function
app, and a whole `hybridless deploy` of it against the proving ground (config, template check with
cfn-lint in the same process, upload, stack). The deploy is also timed, as a figure for the note.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.common import REPO, Result, compared, median, spread

SIZES = (50, 200, 400)
COMPARED = ((200, 50), (400, 200))  # 50 functions fit one stack; 200 and 400 need nested ones
RENDER_RUNS = 7
MEMORY_RUNS = 3
TRIGGERS = ("scheduler", "sqs", "none")
CODE = """def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""


def app_config(functions: int) -> str:
    """A hybridless.yml of `functions` zip functions, their triggers taken in turn."""
    lines = ["service: scale", "provider:", "  stage: bench", "hybridless:", "  functions:"]
    for i in range(functions):
        trigger = TRIGGERS[i % len(TRIGGERS)]
        lines += [
            f"    Fn{i:03d}:",
            "      handler: src/app.handler",
            "      memory: 256",
            "      events:",
            "        - eventType: lambda",
            "          runtime: python3.12",
            f"          protocol: {trigger}",
        ]
        if trigger == "http":
            lines.append(f"          routes: [{{path: /fn{i:03d}, method: GET}}]")
        elif trigger == "scheduler":
            lines.append("          schedulerRate: rate(1 hour)")
        elif trigger == "sqs":
            lines.append("          protocolArn: !GetAtt Jobs.Arn")
    lines += [
        "resources:",
        "  Resources:",
        "    Jobs:",
        "      Type: AWS::SQS::Queue",
        "      Properties: {VisibilityTimeout: 360}",
    ]
    return "\n".join(lines) + "\n"


def write_app(root: Path, functions: int) -> Path:
    """The app's directory: its config and the code every function shares; returns the config."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app.py").write_text(CODE)
    config = root / "hybridless.yml"
    config.write_text(app_config(functions))
    return config


def load(config: Path, environ: Mapping[str, str]) -> Any:
    from hybridless.config import load_app_with_notices
    from hybridless.model import Overrides

    app, _ = load_app_with_notices(config, Overrides(), environ)
    return app


def render(app: Any) -> list[str]:
    """Every template the deploy would upload, as the deploy renders them."""
    from hybridless import pipeline
    from hybridless.template import render_stacks, to_json

    stacks = render_stacks(app, pipeline.placeholder_images(app), pipeline.placeholder_code(app))
    return [to_json(stacks.root), *(to_json(child) for child in stacks.children.values())]


def shape(app: Any) -> tuple[int, int]:
    """(resources over all stacks, nested stacks)."""
    from hybridless import pipeline
    from hybridless.template import render_stacks

    stacks = render_stacks(app, pipeline.placeholder_images(app), pipeline.placeholder_code(app))
    children = list(stacks.children.values())
    total = sum(len(t["Resources"]) for t in [stacks.root, *children]) - len(children)
    return total, len(children)


def render_times(app: Any) -> list[float]:
    render(app)  # warm-up: first use of the template modules
    times = []
    for _ in range(RENDER_RUNS):
        started = time.perf_counter()
        render(app)
        times.append(time.perf_counter() - started)
    return times


def peak_mib(command: list[str], env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(peak resident MiB of the process, its wall seconds); fails if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {output.decode()[-3000:]}")
    return round(usage.ru_maxrss / 1024, 1), elapsed  # KiB on Linux


def ensure_bucket() -> None:
    """The default deployment bucket, made plainly: moto evaluates bucket policies without
    their conditions, so the TLS-only policy the tool would set refuses every upload there."""
    import boto3

    from hybridless.stack.package import default_bucket_name

    account = boto3.client("sts").get_caller_identity()["Account"]
    boto3.client("s3").create_bucket(Bucket=default_bucket_name(account, os.environ["AWS_REGION"]))


def scale() -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = {n: write_app(Path(tmp) / f"app-{n}", n) for n in SIZES}
        loading: dict[int, list[float]] = {}
        rendering: dict[int, list[float]] = {}
        shapes = {}
        for n, config in configs.items():
            loading[n] = []
            for _ in range(3):
                started = time.perf_counter()
                app = load(config, os.environ)
                loading[n].append(time.perf_counter() - started)
            rendering[n] = render_times(app)
            shapes[n] = shape(app)
        for large, small in COMPARED:
            results.append(
                compared(
                    f"render-{large}-vs-{small}-functions",
                    "s",
                    median(rendering[large]),
                    median(rendering[small]),
                    f"ours at {small} functions",
                    "; ".join(
                        f"{n} functions: {shapes[n][0]} resources in {shapes[n][1]} nested "
                        f"stack(s), render {spread(rendering[n])}, config load "
                        f"{median(loading[n]):.2f} s"
                        for n in (small, large)
                    ),
                )
            )

        large = 200
        # Compiled beforehand, as an install compiles them: compiling from source on import
        # would add its own peak (and PYTHONDONTWRITEBYTECODE may keep it from being cached).
        compileall.compile_dir(REPO / "hybridless", quiet=1)
        render_peaks = [
            peak_mib([sys.executable, "-m", "bench.scaling", "render", str(configs[large])])[0]
            for _ in range(MEMORY_RUNS)
        ]
        results.append(
            Result(
                f"render-{large}-functions-peak-memory",
                "MiB",
                statistics.median(render_peaks),
                note=f"a fresh process loading and rendering the app; runs: {render_peaks}",
            )
        )

        ensure_bucket()
        hybridless = str(Path(sys.executable).parent / "hybridless")
        stack = f"scale-{uuid.uuid4().hex[:8]}"
        deploy = [hybridless, "deploy", "--config", str(configs[large]), "--stack-name", stack]
        peak, seconds = peak_mib(deploy)
        results.append(
            Result(
                f"deploy-{large}-functions-peak-memory",
                "MiB",
                peak,
                note=f"`hybridless deploy` creating the stack on moto through a change set (one "
                f"run, {seconds:.0f} s): config, template check (cfn-lint, in the process), zips, "
                "upload, nested stacks",
            )
        )
        import boto3

        boto3.client("cloudformation").delete_stack(StackName=stack)
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["render"]:
    render(load(Path(sys.argv[2]), os.environ))
elif __name__ == "__main__":
    sys.exit(f"usage: python -m bench.scaling render CONFIG (from {REPO})")
