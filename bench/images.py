"""The image path of a deploy, build → push to ECR, against the peer's way on the same ground.

Against the proving ground's registry and local ECR, with the product's own `delivery`
functions. The peer is the Hybridless Serverless plugin's way: `docker build` then
`docker push` with the docker CLI, one image after the other, on every deploy (it reuses
nothing). Its repositories are made in ECR beforehand, as its CloudFormation stack would have,
so the local ECR does the same bookkeeping for both; it has no ECR login to do here (the
ground's registry has no auth).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    Result,
    compared,
    docker,
    docker_cli,
    interleaved,
    median,
    quiet,
    spread,
)
from proving_ground.distance import Distance

PUSH_IMAGES = 8
PUSH_LAYER_MIB = 32
PUSH_RUNS = 3
REDEPLOY_IMAGES = 4
REDEPLOY_RUNS = 3
BUILD_CONCURRENCY = 2
PLUGIN = "hybridless plugin: docker CLI, one by one"
PUSH_LOOP = "docker push, one by one"
DISTANCE_MS = 20  # a round trip from a CI runner to its registry and AWS region
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


def ecr_endpoint() -> str:
    """host:port of the ground's local ECR."""
    return os.environ["AWS_ENDPOINT_URL_ECR"].split("://", 1)[-1]


def ecr_client(endpoint: str | None = None) -> Any:
    import boto3

    return boto3.client("ecr", endpoint_url=endpoint)  # default: the ground's local ECR


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
            "push-parallel-vs-sequential",
            "s",
            seconds["parallel"],
            seconds["peer"],
            PUSH_LOOP,
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


def unchanged_redeploy() -> list[Result]:
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

        def ours_deploy(ecr: Any = ecr) -> None:
            """What `pipeline.deploy` runs in its build and push phases."""
            reporter = quiet()
            planned = delivery.plan(ecr, images["ours"], False, reporter)
            engine_now = engine if any(p.stored is None for p in planned) else None
            delivery.build(engine_now, planned, BUILD_CONCURRENCY, reporter)
            delivery.deliver(
                ecr, engine_now, planned, f"deploy-{next(deploys)}", {}, registry(), reporter
            )

        pushed: list[str] = []  # the peer's local tags
        first_push: list[str] = []  # what the plugin's first deploy pushed

        def push_again(address: str) -> list[str]:
            """Pushing the app's images, nothing changed: each built image gets this deploy's
            tag locally under the registry `address` (not timed: it writes nothing), then
            `docker push` one by one."""
            tag = f"deploy-{next(deploys)}"
            refs = []
            for ref in first_push:
                repository = address + ref.rsplit(":", 1)[0].removeprefix(registry())
                engine.api.tag(ref, repository, tag)
                refs.append(f"{repository}:{tag}")
            pushed.extend(refs)
            return refs

        def push_loop(refs: list[str]) -> None:
            for ref in refs:
                docker_cli("push", ref)

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

        def timed_push(address: str) -> Callable[[], float]:
            def measure() -> float:
                refs = push_again(address)
                started = time.perf_counter()
                push_loop(refs)
                return time.perf_counter() - started

            return measure

        def timed_ours_at(ecr_far: Any) -> Callable[[], float]:
            def measure() -> float:
                started = time.perf_counter()
                ours_deploy(ecr_far)
                return time.perf_counter() - started

            return measure

        for image in images["peer"]:
            ecr.create_repository(repositoryName=image.repository)
        ours_deploy()  # the first deploys: build, push
        peer_deploy()
        first_push.extend(pushed)
        os.sync()
        with (
            Distance(registry(), DISTANCE_MS) as far_registry,
            Distance(ecr_endpoint(), DISTANCE_MS) as far_ecr,
        ):
            times = interleaved(
                REDEPLOY_RUNS,
                {
                    "ours": timed("ours", ours_deploy),
                    "push": timed_push(registry()),
                    "peer": timed("peer", peer_deploy),
                    "ours far": timed_ours_at(ecr_client(f"http://{far_ecr.address}")),
                    "push far": timed_push(far_registry.address),
                },
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

    what = (
        f"{REDEPLOY_IMAGES} images of 5 layers (2 of them a shared 16 MiB base), in ECR already; "
        "ours: plan + build + deliver (nothing built or pushed, one PutImage each)"
    )
    far = f"{DISTANCE_MS} ms from ECR and its registry (proving_ground/distance.py)"
    return [
        compared(
            "unchanged-redeploy-vs-push",
            "s",
            seconds["ours"],
            seconds["push"],
            PUSH_LOOP,
            f"{what}; peer: docker push of each image under a new tag (layers found, manifest "
            f"written); runs: ours {spread(times['ours'])}, peer {spread(times['push'])}",
        ),
        compared(
            f"unchanged-redeploy-vs-push-at-{DISTANCE_MS}ms",
            "s",
            seconds["ours far"],
            seconds["push far"],
            PUSH_LOOP,
            f"the same, {far}; runs: ours {spread(times['ours far'])}, peer "
            f"{spread(times['push far'])}",
        ),
        compared(
            "unchanged-redeploy-vs-plugin",
            "s",
            seconds["ours"],
            seconds["peer"],
            PLUGIN,
            f"{what}; peer: docker build (cache hits) + docker push each; runs: peer "
            f"{spread(times['peer'])}",
        ),
        compared(
            "unchanged-redeploy-registry-writes",
            "writes",
            engine_writes("ours"),
            engine_writes("peer"),
            PLUGIN,
            f"per redeploy, by the Docker engine; all writes over {REDEPLOY_RUNS} redeploys: "
            f"ours {clients('ours')}; peer {clients('peer')} (Python-urllib: the local ECR "
            "mirroring a PutImage into the registry, which real ECR does inside)",
        ),
    ]
