"""The benchmarks' own logic: the scripted update the completion benchmark plays, how its lag
is computed from the double's record, and the generated apps the scaling benchmark renders.
(Timing stays out of tests: benchmarks report, these check what they measure is right.)"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench import completion_latency, scaling
from bench.common import Result
from bench.run import merged, table

ENVIRON = {"AWS_REGION": "us-east-1"}


@pytest.mark.parametrize("duration", completion_latency.DURATIONS)
def test_the_scripted_update_settles_exactly_at_its_duration(duration: float) -> None:
    plan = completion_latency.scenario(duration, resources=10)
    timeline = plan["execute"][0]
    stack_events = [e for e in timeline if "resource" not in e]
    assert stack_events[-1] == {"at": duration, "status": "UPDATE_COMPLETE"}
    assert stack_events[0]["status"] == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    resource_events = [e for e in timeline if "resource" in e]
    assert len(resource_events) == 20  # each resource starts and completes
    assert max(e["at"] for e in resource_events) < stack_events[0]["at"]
    assert [c[1] for c in plan["changes"]] == sorted({e["resource"] for e in resource_events})


def test_the_lag_runs_from_the_scripted_end_to_the_report() -> None:
    calls = [
        {"action": "CreateChangeSet", "at": 99.0},
        {"action": "ExecuteChangeSet", "at": 100.0},
        {"action": "DescribeStacks", "at": 101.0},
        {"action": "DescribeStacks", "at": 131.0},
        {"action": "DescribeStacks", "at": 140.0},  # after the report: not counted
    ]
    run = completion_latency.measured(calls, duration=25.0, reported=132.0)
    assert run.latency == pytest.approx(7.0)
    assert run.calls == Counter({"ExecuteChangeSet": 1, "DescribeStacks": 2})
    assert run.per_minute == pytest.approx(3 / (32 / 60))


def test_a_record_without_exactly_one_execution_is_refused() -> None:
    with pytest.raises(RuntimeError, match="one ExecuteChangeSet"):
        completion_latency.settled_at([{"action": "DescribeStacks", "at": 1.0}], 5.0)


@pytest.mark.parametrize(("functions", "nested"), [(50, False), (200, True), (400, True)])
def test_the_generated_apps_load_and_render_within_cloudformation_limits(
    tmp_path: Path, functions: int, nested: bool
) -> None:
    from hybridless import pipeline
    from hybridless.template import render_stacks

    app = scaling.load(scaling.write_app(tmp_path, functions), ENVIRON)
    assert len(app.events) == functions
    stacks = render_stacks(app, pipeline.placeholder_images(app), pipeline.placeholder_code(app))
    assert bool(stacks.children) is nested
    for template in [stacks.root, *stacks.children.values()]:
        assert len(template["Resources"]) <= 500
    templates = scaling.render(app)
    assert len(templates) == 1 + len(stacks.children)
    resources, children = scaling.shape(app)
    assert children == len(stacks.children)
    assert resources >= 3 * functions  # per function at least: itself, its log group, more


def test_merging_keeps_what_was_not_run_and_replaces_what_was(tmp_path: Path) -> None:
    import bench.run

    kept = [
        {"name": "old", "unit": "s", "ours": 1.0, "peer": 2.0, "peer_name": "p", "ratio": 0.5},
        {"name": "again", "unit": "s", "ours": 9.0, "peer": None, "peer_name": None, "ratio": None},
    ]
    original = bench.run.RESULTS
    bench.run.RESULTS = tmp_path / "results.json"
    try:
        bench.run.RESULTS.write_text(__import__("json").dumps(kept))
        entries = merged([Result("again", "s", 3.0), Result("new", "MiB", 7.0)])
    finally:
        bench.run.RESULTS = original
    assert [e["name"] for e in entries] == ["old", "again", "new"]
    assert entries[0]["ratio"] == 0.5 and entries[0]["note"] is None
    assert entries[1]["ours"] == 3.0


def test_the_table_shows_the_peer_and_the_ratio() -> None:
    text = table([Result("x", "s", 1.0, 4.0, "peer tool", 0.25, "why")])
    assert "| x " in text and "4 (peer tool)" in text and "0.25" in text
    assert text.splitlines()[-1] == "- x: why"
