"""Benchmarks: `make bench` runs each one, prints a table and writes bench/results.json.

Every figure is the median of repeated runs on this machine. Where a peer does the same job, it
runs in the same process on the same machine and the figure is the ratio ours / peer (lower is
better); a figure without a peer is reported as measured. Nothing here asserts: benchmarks
report, tests decide.

Needs the proving ground (run through `python -m proving_ground run --`): its engine, and for
the image-path benchmarks its registry, moto and the local ECR.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.json"
IMAGE = "hybridless-action:bench"


@dataclass
class Result:
    name: str
    unit: str
    ours: float
    peer: float | None = None
    peer_name: str | None = None
    ratio: float | None = None
    note: str | None = None


def compared(
    name: str, unit: str, ours: float, peer: float, peer_name: str, note: str | None = None
) -> Result:
    ratio = round(ours / peer, 2) if peer else None
    return Result(name, unit, ours, peer, peer_name, ratio, note)


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def interleaved(runs: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each measure once per round, in turn, each round starting one further along: drift on
    a shared machine, and whatever one measure leaves behind for the next, hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for round_ in range(runs):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(measures[name]())
    return times


def median(times: list[float]) -> float:
    return round(statistics.median(times), 3)


def spread(times: list[float]) -> str:
    return f"{min(times):.2f} to {max(times):.2f} s"


def docker() -> Any:
    import docker as sdk

    return sdk.from_env(timeout=600)


def build_image() -> None:
    """The image from the repository's files as a checkout has them (what `uses: ./` builds)."""
    from proving_ground.checkout import copy_repository

    with tempfile.TemporaryDirectory() as tmp:
        source = copy_repository(Path(tmp))
        docker().images.build(
            path=str(source), tag=IMAGE, network_mode="host", rm=True, forcerm=True
        )


def image_size() -> list[Result]:
    client = docker()
    image = client.images.get(IMAGE)
    base = client.images.get(os.environ.get("HYBRIDLESS_GROUND_BASE_IMAGE", "debian:bookworm-slim"))
    mib = 1024 * 1024
    return [
        Result("image-size", "MiB", round(image.attrs["Size"] / mib, 1)),
        Result(
            "image-size-over-base",
            "MiB",
            round((image.attrs["Size"] - base.attrs["Size"]) / mib, 1),
        ),
    ]


def first_log_line_seconds() -> float:
    """From `docker run` to the container's first line of output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["docker", "run", "--rm", "--network", "host", IMAGE, "deploy", "--config", "absent.yml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.communicate(timeout=120)
    return elapsed


def startup() -> list[Result]:
    first_log_line_seconds()  # the first run pays for loading the image's layers
    return [
        Result("docker-run-to-first-log-line", "s", round(median_of(5, first_log_line_seconds), 3))
    ]


# --- the image path: build → push to ECR ------------------------------------------------------
#
# Against the ground's registry and local ECR, with the product's own `delivery` functions. The
# peer is the Hybridless Serverless plugin's way: `docker build` then `docker push` with the
# docker CLI, one image after the other, on every deploy (it reuses nothing). Its repositories
# are made in ECR beforehand, as its CloudFormation stack would have, so the local ECR does the
# same bookkeeping for both; it has no ECR login to do here (the ground's registry has no auth).

PUSH_IMAGES = 6
PUSH_LAYER_MIB = 32
PUSH_RUNS = 3
REDEPLOY_IMAGES = 4
REDEPLOY_RUNS = 3
BUILD_CONCURRENCY = 2
PLUGIN = "hybridless plugin: docker CLI, one by one"
SCRATCH_DOCKERFILE = "FROM scratch\nCOPY data /data\n"
BASE_DOCKERFILE = "FROM scratch\nCOPY runtime /runtime\nCOPY libs /libs\n"
APP_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
COPY src/ ./src/
CMD ["/runtime/python", "-m", "src.worker"]
"""


def registry() -> str:
    return os.environ["HYBRIDLESS_REGISTRY"]


def ecr_client() -> Any:
    import boto3

    return boto3.client("ecr")  # the ground's AWS_ENDPOINT_URL_ECR: the local ECR


def quiet() -> Any:
    from hybridless.report import Reporter

    return Reporter(io.StringIO(), environ={})


def registry_tail() -> Any:
    from bench.registry_log import Tail

    return Tail(Path(os.environ["HYBRIDLESS_GROUND_REGISTRY_LOG"]))


def build_planned(engine: Any, ecr: Any, images: Sequence[Any]) -> list[Any]:
    """`images` built as a deploy builds them: planned (hashed, looked up), then built."""
    from hybridless.images import delivery

    planned = delivery.plan(ecr, images, False, quiet())
    delivery.build(engine, planned, BUILD_CONCURRENCY, quiet())
    return planned


def discard(engine: Any, ecr: Any, planned: Sequence[Any], *local: str) -> None:
    """The local images and the ECR repositories of one run. Blobs stay in the registry's
    storage until its garbage collection, which cannot run while the ground is up."""
    import docker.errors

    for name in [*(p.local_name for p in planned), *local]:
        with contextlib.suppress(docker.errors.NotFound):
            engine.images.remove(name, force=True)
    for p in planned:
        ecr.delete_repository(repositoryName=p.image.repository, force=True)


def docker_cli(*args: str) -> None:
    process = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {process.stderr.strip()[-2000:]}")


def push_parallel() -> list[Result]:
    """Push freshly built images of one distinct layer each; every run uploads every layer:
    new repositories and new layer bytes each time, so nothing is "already there" or mounted."""
    from hybridless.images import delivery
    from hybridless.model import Image

    engine, ecr = docker(), ecr_client()
    run = uuid.uuid4().hex[:8]
    rounds = iter(range(1_000))
    uploads: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        payloads = []  # random, so compression gains nothing; made once, shared by the runs
        for i in range(PUSH_IMAGES):
            payloads.append(root / f"payload-{i}")
            payloads[-1].write_bytes(os.urandom(PUSH_LAYER_MIB * 1024 * 1024))

        def fresh(variant: str) -> list[Any]:
            """New repositories, and layers no registry has seen: the payload plus a nonce,
            copied in one layer."""
            images = []
            for i, payload in enumerate(payloads):
                name = f"{variant}-{next(rounds)}-{i}"
                context = root / name
                (context / "data").mkdir(parents=True)
                (context / "Dockerfile").write_text(SCRATCH_DOCKERFILE)
                os.link(payload, context / "data" / "layer")
                (context / "data" / "nonce").write_text(uuid.uuid4().hex)
                images.append(Image(name, f"bench/push-{run}/{name}", context, "Dockerfile"))
            planned = build_planned(engine, ecr, images)
            os.sync()  # the builds' writes reach the disk now, not during the timed push
            return planned

        def checked(variant: str, planned: Sequence[Any], tail: Any) -> None:
            from bench.registry_log import writes

            sent = writes(tail.read(), {p.image.repository for p in planned})
            uploads.setdefault(variant, []).append(sum(w.completes_blob for w in sent))

        def ours(concurrency: int) -> Callable[[], float]:
            def measure() -> float:
                variant = f"ours{concurrency}"
                planned = fresh(variant)
                tail = registry_tail()
                started = time.perf_counter()
                delivery.deliver(
                    ecr, engine, planned, "bench", {}, registry(), quiet(), concurrency=concurrency
                )
                elapsed = time.perf_counter() - started
                checked(variant, planned, tail)
                discard(engine, ecr, planned)
                return elapsed

            return measure

        def peer() -> float:
            planned = fresh("peer")
            remote = [f"{registry()}/{p.image.repository}:bench" for p in planned]
            for p, ref in zip(planned, remote, strict=True):
                ecr.create_repository(repositoryName=p.image.repository)
                engine.api.tag(p.local_name, ref.rsplit(":", 1)[0], "bench")
            tail = registry_tail()
            started = time.perf_counter()
            for ref in remote:
                docker_cli("push", ref)
            elapsed = time.perf_counter() - started
            checked("peer", planned, tail)
            discard(engine, ecr, planned, *remote)
            return elapsed

        times = interleaved(
            PUSH_RUNS,
            {
                "parallel": ours(delivery.PUSH_CONCURRENCY),
                "peer": peer,
                "sequential": ours(1),
            },
        )
    seconds = {name: median(runs) for name, runs in times.items()}
    blobs = sorted({n for counts in uploads.values() for n in counts})
    sent = (
        f"every run uploaded all {blobs[0]} blobs (layer + config per image)"
        if blobs == [2 * PUSH_IMAGES]
        else f"blobs uploaded per run: {uploads} (expected {2 * PUSH_IMAGES})"
    )
    what = f"{PUSH_IMAGES} images x {PUSH_LAYER_MIB} MiB random layer"
    return [
        compared(
            "push-parallel",
            "s",
            seconds["parallel"],
            seconds["peer"],
            PLUGIN,
            f"{what}, pushed {delivery.PUSH_CONCURRENCY} at a time; {sent}; runs: ours "
            f"{spread(times['parallel'])}, peer {spread(times['peer'])}",
        ),
        compared(
            f"push-parallel-{delivery.PUSH_CONCURRENCY}-vs-1",
            "s",
            seconds["parallel"],
            seconds["sequential"],
            "ours, 1 at a time",
            f"{what}: the same deliver, concurrency {delivery.PUSH_CONCURRENCY} against 1; "
            f"runs at 1: {spread(times['sequential'])}",
        ),
    ]


def unchanged_redeploy_images() -> list[Result]:
    """The image part of a redeploy with nothing changed, after a first deploy put every image
    in ECR (ours under its content tag; the peer's as it pushed them)."""
    from bench.registry_log import by_client, writes
    from hybridless.images import delivery
    from hybridless.model import Image

    engine, ecr = docker(), ecr_client()
    run = uuid.uuid4().hex[:8]
    written: dict[str, list[Any]] = {"ours": [], "peer": []}
    deploys = iter(range(1, 1_000))
    with tempfile.TemporaryDirectory() as tmp:
        # A base of two layers the apps share (a runtime, libraries), made here: the ground's
        # Debian base would cost a first upload of hundreds of MB to a new registry, and the
        # redeploy touches a base only by asking the registry whether it has its layers.
        base = f"hybridless-bench/base:{run}"
        layers = {"runtime": 12, "libs": 4}  # MiB
        base_context = Path(tmp) / "base"
        for layer, mib in layers.items():
            (base_context / layer).mkdir(parents=True)
            (base_context / layer / "blob").write_bytes(os.urandom(mib * 1024 * 1024))
        (base_context / "Dockerfile").write_text(BASE_DOCKERFILE)
        engine.images.build(path=str(base_context), tag=base, rm=True, forcerm=True)
        images: dict[str, list[Any]] = {"ours": [], "peer": []}
        for i in range(REDEPLOY_IMAGES):
            context = Path(tmp) / f"worker-{i}"
            (context / "src").mkdir(parents=True)
            (context / "Dockerfile").write_text(APP_DOCKERFILE)
            (context / "requirements.txt").write_text("boto3\nrequests\n")
            (context / "src" / "__init__.py").write_text("")
            (context / "src" / "worker.py").write_text(f"print('worker {i} of {run}')\n")
            (context / "src" / "data.bin").write_bytes(os.urandom(2 * 1024 * 1024))
            for tool in images:
                images[tool].append(
                    Image(
                        f"Worker{i}",
                        f"bench/redeploy-{run}/{tool}-{i}",
                        context,
                        "Dockerfile",
                        build_args=(("BASE_IMAGE", base),),
                    )
                )
        repositories = {
            tool: {image.repository for image in listed} for tool, listed in images.items()
        }

        def ours_deploy() -> None:
            """What `pipeline.deploy` runs in its build and push phases."""
            reporter = quiet()
            planned = delivery.plan(ecr, images["ours"], False, reporter)
            engine_now = engine if any(p.stored is None for p in planned) else None
            delivery.build(engine_now, planned, BUILD_CONCURRENCY, reporter)
            delivery.deliver(
                ecr, engine_now, planned, f"deploy-{next(deploys)}", {}, registry(), reporter
            )

        pushed: list[str] = []  # the peer's local tags

        def peer_deploy() -> None:
            tag = f"deploy-{next(deploys)}"
            for image in images["peer"]:
                ref = f"{registry()}/{image.repository}:{tag}"
                pushed.append(ref)
                docker_cli(
                    "build", "--quiet", "--build-arg", f"BASE_IMAGE={base}", "--tag", ref,
                    str(image.context),
                )  # fmt: skip
                docker_cli("push", ref)

        def timed(tool: str, deploy: Callable[[], None]) -> Callable[[], float]:
            def measure() -> float:
                tail = registry_tail()
                started = time.perf_counter()
                deploy()
                elapsed = time.perf_counter() - started
                written[tool].append(by_client(writes(tail.read(), repositories[tool])))
                return elapsed

            return measure

        for image in images["peer"]:
            ecr.create_repository(repositoryName=image.repository)
        ours_deploy()  # the first deploys: build, push
        peer_deploy()
        os.sync()
        times = interleaved(
            REDEPLOY_RUNS, {"ours": timed("ours", ours_deploy), "peer": timed("peer", peer_deploy)}
        )
        for image in images["ours"] + images["peer"]:
            ecr.delete_repository(repositoryName=image.repository, force=True)
        built = [f"hybridless-build/{i.repository}:latest" for i in images["ours"]]
        for name in [*built, *pushed, base]:
            engine.images.remove(name, force=True)

    seconds = {name: median(runs) for name, runs in times.items()}

    def engine_writes(tool: str) -> float:
        """Median per redeploy of the writes the Docker engine made (pushing for the tool)."""
        per_run = [
            sum(n for client, n in counts.items() if client.lower().startswith("docker"))
            for counts in written[tool]
        ]
        return float(statistics.median(per_run))

    def clients(tool: str) -> str:
        totals: Counter[str] = sum(written[tool], start=Counter())
        return ", ".join(f"{n} by {client}" for client, n in sorted(totals.items())) or "none"

    return [
        compared(
            "unchanged-redeploy-images",
            "s",
            seconds["ours"],
            seconds["peer"],
            PLUGIN,
            f"{REDEPLOY_IMAGES} images of 5 layers (2 of them a shared 16 MiB base), in ECR "
            "already; ours: plan + build + deliver (no build, no push, one PutImage each); peer: "
            "docker build (cache hits) + docker push each (layers found, manifest written); "
            f"runs: ours {spread(times['ours'])}, peer {spread(times['peer'])}",
        ),
        compared(
            "unchanged-redeploy-images-registry-writes",
            "writes",
            engine_writes("ours"),
            engine_writes("peer"),
            PLUGIN,
            f"per redeploy, by the Docker engine; all writes over {REDEPLOY_RUNS} redeploys: "
            f"ours {clients('ours')}; peer {clients('peer')} (Python-urllib: the local ECR "
            "mirroring a PutImage into the registry, which real ECR does inside)",
        ),
    ]


BENCHMARKS: dict[str, Callable[[], list[Result]]] = {
    "image-size": image_size,
    "startup": startup,
    "push-parallel": push_parallel,
    "unchanged-redeploy-images": unchanged_redeploy_images,
}
NEEDS_ACTION_IMAGE = {"image-size", "startup"}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def table(results: list[Result]) -> str:
    rows = [["benchmark", "unit", "ours", "peer", "ratio"]]
    for r in results:
        peer = f"{r.peer:g} ({r.peer_name})" if r.peer is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        rows.append([r.name, r.unit, f"{r.ours:g}", peer, ratio])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.extend(f"- {r.name}: {r.note}" for r in results if r.note)
    return "\n".join(lines)


def merged(results: list[Result]) -> list[dict[str, Any]]:
    """The results file with this run's figures in place of older ones of the same name; a
    benchmark not run this time keeps its last figures."""
    fresh = {r.name: asdict(r) for r in results}
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    entries = [fresh.pop(e["name"], {**asdict(Result("", "", 0.0)), **e}) for e in kept]
    return entries + list(fresh.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    started = time.monotonic()
    selected = args.only or list(BENCHMARKS)
    if NEEDS_ACTION_IMAGE & set(selected):
        print("building the image…", flush=True)
        build_image()
    results: list[Result] = []
    for name in selected:
        began = time.monotonic()
        print(f"{name}…", end=" ", flush=True)
        results.extend(BENCHMARKS[name]())
        print(f"{time.monotonic() - began:.0f}s", flush=True)
    RESULTS.write_text(json.dumps(merged(results), indent=2) + "\n")
    print(table(results))
    print(
        f"\nmachine: {json.dumps(machine())}; took {time.monotonic() - started:.0f}s; "
        f"written to {RESULTS.relative_to(REPO)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
