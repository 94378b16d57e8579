"""Benchmarks: `make bench` runs each one, prints a table and writes bench/results.json.

Each benchmark lives in its own module and returns `Result`s (bench/common.py says how they
are measured). Needs the proving ground (run through `python -m proving_ground run --`): its
engine, registry, moto and local ECR; the AWS CLI benchmarks also need the CLI that
`make bench-tools` installs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bench import action_image, cloudformation_deploy, completion_latency, images, scaling
from bench.common import REPO, Result

RESULTS = REPO / "bench" / "results.json"

BENCHMARKS: dict[str, Callable[[], list[Result]]] = {
    "image-size": action_image.image_size,
    "startup": action_image.startup,
    "stack-deploy": cloudformation_deploy.stack_deploy_vs_awscli,
    "completion-latency": completion_latency.completion_latency,
    "push-parallel": images.push_parallel,
    "unchanged-redeploy": images.unchanged_redeploy,
    "scale": scaling.scale,
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
    benchmark not run this time (`--only`) keeps its last figures."""
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
        action_image.build_image()
    results: list[Result] = []
    for name in selected:
        began = time.monotonic()
        print(f"{name}…", end=" ", flush=True)
        results.extend(BENCHMARKS[name]())
        print(f"{time.monotonic() - began:.0f}s", flush=True)
    entries = merged(results) if args.only else [asdict(r) for r in results]
    RESULTS.write_text(json.dumps(entries, indent=2) + "\n")
    print(table(results))
    print(
        f"\nmachine: {json.dumps(machine())}; took {time.monotonic() - started:.0f}s; "
        f"written to {RESULTS.relative_to(REPO)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
