"""CI reporting: sinks (GitHub groups, annotations and masks; GitLab sections; a terminal), the
facts the Reporter keeps, the step summary, the step outputs and dotenv, and the CLI's use of
them on failure."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import hybridless.report as report_module
from hybridless.cli import annotate_failure, workspace_path, write_summary
from hybridless.errors import ConfigError, HybridlessError, PhaseError, Problem
from hybridless.pipeline import DeployOptions, DeployResult, publish, summary_of
from hybridless.report import Annotation, Reporter
from hybridless.report.outputs import (
    DOTENV_MAX_BYTES,
    DOTENV_MAX_VARIABLES,
    dotenv_text,
    dotenv_values,
    github_output_text,
    json_text,
    step_outputs,
)
from hybridless.report.sinks import GitHub, GitLab, Terminal, section_id, sink_for
from hybridless.report.summary import (
    LIMIT_BYTES,
    ChangeRow,
    Phase,
    Span,
    Summary,
    render,
    spans_from_events,
)

STAMP = re.compile(r"^\[ *\d+\.\ds\] ")
CLOCK = 1700000000.0


def reporter(ci: str = "terminal") -> tuple[Reporter, io.StringIO]:
    stream = io.StringIO()
    return Reporter(stream, ci=ci), stream


def lines(stream: io.StringIO) -> list[str]:
    """The written lines without their timestamps (workflow commands have none)."""
    return [STAMP.sub("", line) for line in stream.getvalue().splitlines()]


def raw(stream: io.StringIO) -> list[str]:
    """The written lines as they are, split on newlines only (GitLab markers hold a `\\r`)."""
    return stream.getvalue().split("\n")[:-1]


def gitlab_reporter() -> tuple[Reporter, io.StringIO]:
    report, stream = reporter("gitlab")
    report.sink = GitLab(clock=lambda: CLOCK)
    return report, stream


def result_of(**overrides: Any) -> DeployResult:
    values: dict[str, Any] = {
        "image_tag": "v1-abc1234",
        "images": {"web": "123.dkr.ecr.eu-west-1.amazonaws.com/web:v1-abc1234"},
        "stack_name": "shop-dev",
        "stack_status": "UPDATE_COMPLETE",
        "change_set_id": "arn:aws:cloudformation:eu-west-1:123:changeSet/cs-1/abc",
        "outputs": {"ServiceUrl": "https://shop.example.com"},
        "changed": True,
        "executed": True,
    }
    values.update(overrides)
    return DeployResult(**values)


def parse_github_output(text: str) -> dict[str, str]:
    """Read back the heredoc form `name<<DELIM\\nvalue\\nDELIM` the runner reads."""
    values: dict[str, str] = {}
    rows = text.split("\n")
    index = 0
    while index < len(rows):
        if not rows[index]:
            index += 1
            continue
        name, delimiter = rows[index].split("<<", 1)
        body: list[str] = []
        index += 1
        while rows[index] != delimiter:
            body.append(rows[index])
            index += 1
        values[name] = "\n".join(body)
        index += 1
    return values


T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def event(logical_id: str, status: str, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "ResourceStatus": status,
        "Timestamp": T0 + timedelta(seconds=seconds),
        **extra,
    }


def full_summary(outcome: str = "deployed", **overrides: Any) -> Summary:
    values: dict[str, Any] = {
        "outcome": outcome,
        "stack_name": "shop-dev",
        "stack_status": "UPDATE_COMPLETE",
        "image_tag": "v1-abc1234",
        "region": "eu-west-1",
        "change_set_name": "hybridless-v1",
        "phases": (Phase("build", 12.3, True), Phase("update", 40.0, True)),
        "changes": (
            ChangeRow("Add", "WebService", "AWS::ECS::Service", "-"),
            ChangeRow("Modify", "Fn", "AWS::Lambda::Function", "False"),
        ),
        "spans": (Span("Role", 0, 30, "done"), Span("Fn", 31, 32, "crit")),
        "outputs": (("ServiceUrl", "https://shop.example.com"),),
    }
    values.update(overrides)
    return Summary(**values)


# --- sink_for --------------------------------------------------------------------------------


def test_sink_for_picks_github_when_github_actions_is_true() -> None:
    assert sink_for({"GITHUB_ACTIONS": "true"}).name == "github"


def test_sink_for_picks_gitlab_when_gitlab_ci_is_true() -> None:
    assert sink_for({"GITLAB_CI": "true"}).name == "gitlab"


@pytest.mark.parametrize("environ", [{}, None, {"GITHUB_ACTIONS": "false"}, {"CI": "true"}])
def test_sink_for_picks_the_terminal_otherwise(environ: Mapping[str, str] | None) -> None:
    assert isinstance(sink_for(environ), Terminal)


def test_sink_for_an_explicit_name_wins_over_the_environment() -> None:
    assert sink_for({"GITHUB_ACTIONS": "true"}, "terminal").name == "terminal"
    assert sink_for({"GITHUB_ACTIONS": "true"}, "gitlab").name == "gitlab"
    assert sink_for({"GITLAB_CI": "true"}, "github").name == "github"


def test_reporter_takes_its_sink_from_the_environ_it_is_given() -> None:
    assert Reporter(io.StringIO(), environ={"GITLAB_CI": "true"}).sink.name == "gitlab"


# --- GitHub: groups --------------------------------------------------------------------------


def test_github_wraps_a_phase_in_an_unstamped_group() -> None:
    report, stream = reporter("github")

    with report.phase("build"):
        report.info("building")

    written = raw(stream)
    assert written[0] == "::group::build"
    assert "::endgroup::" in written
    assert not STAMP.match(written[0])
    assert [line for line in written if line.startswith("::")] == ["::group::build", "::endgroup::"]
    assert lines(stream)[1:3] == ["── build", "building"]


def test_github_writes_the_done_line_after_the_endgroup_so_it_shows_when_folded() -> None:
    report, stream = reporter("github")

    with report.phase("build"):
        report.info("building")

    written = raw(stream)
    assert written[-2] == "::endgroup::"
    assert STAMP.match(written[-1])
    assert re.fullmatch(r"── build: done in \d+\.\ds", STAMP.sub("", written[-1]))


def test_github_closes_the_group_of_a_failing_phase_and_re_raises() -> None:
    report, stream = reporter("github")

    with pytest.raises(RuntimeError, match="engine gone"), report.phase("push"):
        raise RuntimeError("engine gone")

    written = raw(stream)
    assert written[0] == "::group::push"
    assert written[-2] == "::endgroup::"
    assert re.fullmatch(r"── push: failed after \d+\.\ds", STAMP.sub("", written[-1]))


# --- GitHub: annotations ---------------------------------------------------------------------


def test_github_annotation_carries_title_file_and_line() -> None:
    report, stream = reporter("github")

    report.annotate(Annotation("error", "it broke", title="deploy", file="hybridless.yml", line=12))

    assert stream.getvalue() == "::error title=deploy,file=hybridless.yml,line=12::it broke\n"


def test_github_annotation_without_properties_is_level_and_message() -> None:
    report, stream = reporter("github")

    report.annotate(Annotation("warning", "slow"))

    assert stream.getvalue() == "::warning::slow\n"


def test_github_annotation_escapes_a_newline_in_the_message() -> None:
    report, stream = reporter("github")

    report.annotate(Annotation("error", "first\nsecond\r\nthird 100%"))

    assert stream.getvalue() == "::error::first%0Asecond%0D%0Athird 100%25\n"


def test_github_annotation_escapes_comma_and_colon_in_a_property() -> None:
    report, stream = reporter("github")

    report.annotate(Annotation("error", "a: b, c", title="Fn (AWS::Lambda, x)", file="a,b:c.yml"))

    assert stream.getvalue() == (
        "::error title=Fn (AWS%3A%3ALambda%2C x),file=a%2Cb%3Ac.yml::a: b, c\n"
    )


def test_github_annotation_line_is_only_given_with_a_file() -> None:
    report, stream = reporter("github")

    report.annotate(Annotation("error", "msg", title="t", line=3))

    assert stream.getvalue() == "::error title=t::msg\n"


def test_github_annotation_hides_a_masked_secret() -> None:
    report, stream = reporter("github")
    report.mask("hunter2")

    report.annotate(Annotation("error", "password hunter2 refused", title="login hunter2"))

    assert raw(stream)[-1] == "::error title=login ***::password *** refused"


def test_github_annotation_hides_a_masked_secret_holding_a_percent_in_the_message() -> None:
    # The command is escaped before it is redacted: `%` becomes `%25`, the secret no longer
    # matches and is written out (escaped, trivially readable).
    report, stream = reporter("github")
    report.mask("pa%ss")

    report.annotate(Annotation("error", "login pa%ss refused"))

    assert raw(stream)[-1] == "::error::login *** refused"


def test_github_annotation_hides_a_masked_secret_holding_a_colon_in_a_property() -> None:
    # Same order problem for properties: `:` and `,` become `%3A` and `%2C` before redaction.
    report, stream = reporter("github")
    report.mask("s3:cr,et")

    report.annotate(Annotation("error", "refused", title="user s3:cr,et"))

    assert raw(stream)[-1] == "::error title=user ***::refused"


def test_github_writes_at_most_ten_error_annotations_per_reporter() -> None:
    report, stream = reporter("github")

    for number in range(12):
        report.annotate(Annotation("error", f"failure {number}"))

    assert raw(stream) == [f"::error::failure {number}" for number in range(10)]


def test_github_warning_annotations_do_not_count_towards_the_error_limit() -> None:
    report, stream = reporter("github")

    for number in range(5):
        report.annotate(Annotation("warning", f"warning {number}"))
    for number in range(12):
        report.annotate(Annotation("error", f"failure {number}"))
    report.annotate(Annotation("warning", "after the limit"))

    written = raw(stream)
    assert sum(line.startswith("::error::") for line in written) == 10
    assert sum(line.startswith("::warning::") for line in written) == 6
    assert written[-1] == "::warning::after the limit"


# --- masks -----------------------------------------------------------------------------------


def test_github_add_mask_carries_the_secret_unredacted() -> None:
    report, stream = reporter("github")

    report.mask("abc123")
    report.mask("abc123-longer")

    assert raw(stream) == ["::add-mask::abc123", "::add-mask::abc123-longer"]


@pytest.mark.parametrize("ci", ["terminal", "gitlab"])
def test_add_mask_is_only_written_on_github(ci: str) -> None:
    report, stream = reporter(ci)

    report.mask("abc123")

    assert stream.getvalue() == ""


def test_github_sink_leaves_a_multi_line_secret_to_be_masked_line_by_line() -> None:
    assert GitHub().mask("one\ntwo") == []
    assert GitHub().mask("one") == ["::add-mask::one"]


def test_a_multi_line_secret_gets_one_add_mask_per_line_on_github() -> None:
    report, stream = reporter("github")

    report.mask("one\ntwo")

    assert raw(stream) == ["::add-mask::one", "::add-mask::two"]


# --- GitLab ----------------------------------------------------------------------------------


def test_gitlab_opens_a_collapsed_section_before_a_phase() -> None:
    report, stream = gitlab_reporter()

    with report.phase("template check"):
        report.info("checking")

    assert raw(stream)[0] == (
        "\x1b[0Ksection_start:1700000000:hybridless_template_check[collapsed=true]"
        "\r\x1b[0Ktemplate check"
    )


def test_gitlab_closes_the_section_after_a_phase() -> None:
    report, stream = gitlab_reporter()

    with report.phase("template check"):
        report.info("checking")

    written = raw(stream)
    assert written[-2] == "\x1b[0Ksection_end:1700000000:hybridless_template_check\r\x1b[0K"
    assert re.fullmatch(r"── template check: done in \d+\.\ds", STAMP.sub("", written[-1]))


def test_gitlab_closes_the_section_of_a_failing_phase_and_re_raises() -> None:
    report, stream = gitlab_reporter()

    with pytest.raises(RuntimeError), report.phase("update"):
        raise RuntimeError("boom")

    written = raw(stream)
    assert written[-2] == "\x1b[0Ksection_end:1700000000:hybridless_update\r\x1b[0K"
    assert "failed after" in written[-1]


def test_gitlab_sink_markers_use_its_clock() -> None:
    sink = GitLab(clock=lambda: 1234.9)

    assert sink.phase_start("build") == [
        "\x1b[0Ksection_start:1234:hybridless_build[collapsed=true]\r\x1b[0Kbuild"
    ]
    assert sink.phase_end("build") == ["\x1b[0Ksection_end:1234:hybridless_build\r\x1b[0K"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("template check", "hybridless_template_check"),
        ("Push Images", "hybridless_push_images"),
        ("build: web/api", "hybridless_build_web_api"),
        ("clean_up-2", "hybridless_clean_up_2"),
    ],
)
def test_section_id_is_lower_case_with_other_characters_replaced(name: str, expected: str) -> None:
    assert section_id(name) == expected
    assert re.fullmatch(r"[a-z0-9_]+", section_id(name))


def test_gitlab_writes_no_annotations() -> None:
    report, stream = gitlab_reporter()

    report.annotate(Annotation("error", "broken", title="t", file="f.yml", line=1))

    assert stream.getvalue() == ""


# --- terminal --------------------------------------------------------------------------------


def test_terminal_adds_no_lines_around_a_phase() -> None:
    report, stream = reporter("terminal")

    with report.phase("build"):
        report.info("building")

    assert all(STAMP.match(line) for line in raw(stream))
    assert lines(stream)[:2] == ["── build", "building"]
    assert len(raw(stream)) == 3


def test_terminal_writes_nothing_for_masks_or_annotations() -> None:
    report, stream = reporter("terminal")

    report.mask("hunter2")
    report.annotate(Annotation("error", "broken", title="t", file="f.yml", line=1))
    report.annotate(Annotation("warning", "slow"))

    assert stream.getvalue() == ""


def test_terminal_sink_returns_no_lines() -> None:
    sink = Terminal()

    assert sink.mask("x") == []
    assert sink.phase_start("p") == []
    assert sink.phase_end("p") == []
    assert sink.annotation(Annotation("error", "m")) == []


# --- stack events ----------------------------------------------------------------------------


FAILED_EVENT = {
    "LogicalResourceId": "WebService",
    "ResourceType": "AWS::ECS::Service",
    "ResourceStatus": "CREATE_FAILED",
    "ResourceStatusReason": "Resource handler returned message: boom",
}


def test_stack_event_prints_id_type_status_and_reason() -> None:
    report, stream = reporter()

    report.stack_event(FAILED_EVENT)

    assert lines(stream) == [
        "WebService AWS::ECS::Service CREATE_FAILED: Resource handler returned message: boom"
    ]


def test_stack_event_without_a_reason_has_no_colon() -> None:
    report, stream = reporter()

    report.stack_event(
        {"LogicalResourceId": "Fn", "ResourceType": "AWS::Lambda::Function", "ResourceStatus": "X"}
    )

    assert lines(stream) == ["Fn AWS::Lambda::Function X"]


def test_stack_event_is_recorded_in_the_facts() -> None:
    report, _ = reporter()
    other = {**FAILED_EVENT, "ResourceStatus": "CREATE_IN_PROGRESS"}

    report.stack_event(other)
    report.stack_event(FAILED_EVENT)

    assert report.facts.events == [other, FAILED_EVENT]


def test_a_failed_stack_event_with_a_reason_is_annotated_on_github() -> None:
    report, stream = reporter("github")

    report.stack_event(FAILED_EVENT)

    assert raw(stream)[-1] == (
        "::error title=WebService (AWS%3A%3AECS%3A%3AService) CREATE_FAILED"
        "::Resource handler returned message: boom"
    )


def test_a_cancelled_stack_event_is_not_annotated() -> None:
    report, stream = reporter("github")

    report.stack_event({**FAILED_EVENT, "ResourceStatusReason": "Resource update cancelled"})

    assert not any(line.startswith("::") for line in raw(stream))
    assert lines(stream) == [
        "WebService AWS::ECS::Service CREATE_FAILED: Resource update cancelled"
    ]


def test_a_failed_stack_event_without_a_reason_is_not_annotated() -> None:
    report, stream = reporter("github")

    report.stack_event({**FAILED_EVENT, "ResourceStatusReason": ""})

    assert not any(line.startswith("::") for line in raw(stream))


def test_a_stack_event_that_did_not_fail_is_not_annotated() -> None:
    report, stream = reporter("github")

    report.stack_event({**FAILED_EVENT, "ResourceStatus": "UPDATE_IN_PROGRESS"})

    assert not any(line.startswith("::") for line in raw(stream))


# --- change set and phases in the facts ------------------------------------------------------


CHANGES = [
    ChangeRow("Add", "WebService", "AWS::ECS::Service", "-"),
    ChangeRow("Modify", "Fn", "AWS::Lambda::Function", "True"),
]


def test_change_set_records_its_name_and_changes() -> None:
    report, _ = reporter()

    report.change_set("hybridless-v1", CHANGES)

    assert report.facts.change_set_name == "hybridless-v1"
    assert report.facts.changes == CHANGES


def test_change_set_prints_a_count_and_the_table() -> None:
    report, stream = reporter()

    report.change_set("hybridless-v1", CHANGES)

    assert lines(stream) == [
        "change set hybridless-v1: 2 change(s)",
        "action  logical id  type                   replacement",
        "Add     WebService  AWS::ECS::Service      -",
        "Modify  Fn          AWS::Lambda::Function  True",
    ]


def test_an_empty_change_set_prints_only_its_count() -> None:
    report, stream = reporter()

    report.change_set("hybridless-v1", [])

    assert lines(stream) == ["change set hybridless-v1: 0 change(s)"]
    assert report.facts.changes == []


def test_phases_record_name_seconds_and_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock is read at start-up, at each phase's start and end, and for each stamped line.
    ticks = iter([100.0, 100.0, 100.0, 102.5, 102.5, 103.0, 103.0, 110.5, 110.5])
    monkeypatch.setattr(report_module, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    report, stream = reporter()

    with report.phase("build"):
        pass
    with pytest.raises(RuntimeError), report.phase("update"):
        raise RuntimeError("boom")

    assert report.facts.phases == [Phase("build", 2.5, True), Phase("update", 7.5, False)]
    assert lines(stream)[1::2] == ["── build: done in 2.5s", "── update: failed after 7.5s"]


# --- spans_from_events -----------------------------------------------------------------------


EVENTS = [
    event("shop-dev", "UPDATE_IN_PROGRESS", 0),
    event("Role", "CREATE_IN_PROGRESS", 2),
    event("Role", "CREATE_IN_PROGRESS", 3),
    event("Role", "CREATE_COMPLETE", 30),
    event("Fn", "CREATE_IN_PROGRESS", 31),
    event("Fn", "CREATE_FAILED", 31.5),
    event("WebService", "UPDATE_IN_PROGRESS", 40.9),
]


def test_a_span_runs_from_a_resources_first_to_its_last_event() -> None:
    spans = {span.name: span for span in spans_from_events(EVENTS)}

    assert (spans["Role"].start, spans["Role"].end) == (2, 30)


def test_span_seconds_are_relative_to_the_earliest_event() -> None:
    shifted = [{**e, "Timestamp": e["Timestamp"] + timedelta(hours=5)} for e in EVENTS]

    assert spans_from_events(shifted) == spans_from_events(EVENTS)
    assert spans_from_events(EVENTS)[0] == Span("shop-dev", 0, 1, "active")


def test_a_span_is_at_least_one_second_long() -> None:
    spans = {span.name: span for span in spans_from_events(EVENTS)}

    assert (spans["Fn"].start, spans["Fn"].end) == (31, 32)
    assert (spans["WebService"].start, spans["WebService"].end) == (40, 41)
    assert all(span.end - span.start >= 1 for span in spans.values())


def test_span_state_follows_the_last_status() -> None:
    spans = {span.name: span.state for span in spans_from_events(EVENTS)}

    assert spans == {"shop-dev": "active", "Role": "done", "Fn": "crit", "WebService": "active"}


def test_spans_are_in_order_of_each_resources_first_event() -> None:
    assert [span.name for span in spans_from_events(EVENTS)] == [
        "shop-dev",
        "Role",
        "Fn",
        "WebService",
    ]


def test_spans_from_newest_first_events_equal_those_from_oldest_first() -> None:
    assert spans_from_events(list(reversed(EVENTS))) == spans_from_events(EVENTS)


def test_events_without_a_datetime_timestamp_are_ignored() -> None:
    untimed = [
        {"LogicalResourceId": "Text", "ResourceStatus": "CREATE_COMPLETE", "Timestamp": "12:00"},
        {"LogicalResourceId": "Missing", "ResourceStatus": "CREATE_COMPLETE"},
    ]

    assert spans_from_events([*EVENTS, *untimed]) == spans_from_events(EVENTS)
    assert spans_from_events(untimed) == []


# --- render ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "headline"),
    [
        ("deployed", "## ✅ hybridless: deployed"),
        ("no changes", "## ✅ hybridless: no changes"),
        ("preview", "## 🔎 hybridless: preview (nothing changed)"),
        ("failed", "## ❌ hybridless: deploy failed"),
    ],
)
def test_render_opens_with_the_headline_of_the_outcome(outcome: str, headline: str) -> None:
    assert render(full_summary(outcome)).splitlines()[0] == headline


def test_render_shows_the_error_of_a_failed_deploy() -> None:
    text = render(full_summary("failed", error="update failed: stack rolled back"))

    assert "### What went wrong\n\n```\nupdate failed: stack rolled back\n```" in text


def test_render_lists_the_change_set_rows() -> None:
    text = render(full_summary())

    assert "### Change set `hybridless-v1`" in text
    assert "| Add | WebService | AWS::ECS::Service | - |" in text
    assert "| Modify | Fn | AWS::Lambda::Function | False |" in text


def test_render_draws_a_mermaid_gantt_with_one_task_per_span() -> None:
    spans = tuple(Span(f"Res{n}", n, n + 2, "done") for n in range(7))

    text = render(full_summary(spans=spans))

    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.startswith("gantt\n")
    tasks = [line for line in block.splitlines() if re.fullmatch(r"    \S.* :\w+, \d+, \d+", line)]
    assert tasks == [f"    Res{n} :done, {n}, {n + 2}" for n in range(7)]


def test_render_lists_the_outputs() -> None:
    text = render(full_summary())

    assert "### Outputs\n\n| output | value |\n|---|---|\n" in text
    assert "| `ServiceUrl` | https://shop.example.com |" in text


def test_a_pipe_or_newline_in_a_cell_keeps_the_table_intact() -> None:
    summary = full_summary(
        changes=(ChangeRow("Modify", "A|B", "AWS::X", "line one\nline two\r\nthree"),),
        outputs=(("Multi", "x|y\nz"),),
    )

    text = render(summary)

    assert "| Modify | A\\|B | AWS::X | line one line two  three |" in text
    assert "| `Multi` | x\\|y z |" in text
    for line in text.splitlines():
        if line.startswith("| Modify") or line.startswith("| `Multi`"):
            unescaped = re.findall(r"(?<!\\)\|", line)
            assert len(unescaped) == (5 if line.startswith("| Modify") else 3)


def test_a_colon_in_a_task_name_is_replaced() -> None:
    text = render(full_summary(spans=(Span("Nested:Stack#1", 0, 5, "done"),)))

    assert "    Nested-Stack-1 :done, 0, 5" in text


def test_render_fits_20000_changes_into_a_small_limit_and_counts_those_left_out() -> None:
    changes = tuple(ChangeRow("Modify", f"Res{n}", "AWS::S3::Bucket", "-") for n in range(20_000))

    text = render(full_summary(changes=changes, spans=()), limit=50_000)

    assert len(text.encode()) <= 50_000
    shown = sum(line.startswith("| Modify | Res") for line in text.splitlines())
    assert 10 <= shown < 20_000
    assert f"| … | {20_000 - shown} more | | |" in text


def test_render_with_few_spans_does_not_report_a_negative_number_left_out() -> None:
    # Cutting 20,000 changes also "keeps" max(10, n // 2) spans of the 3 there are, so the
    # count left out becomes 3 - 10 = -7.
    changes = tuple(ChangeRow("Modify", f"Res{n}", "AWS::S3::Bucket", "-") for n in range(20_000))
    spans = (Span("A", 0, 1, "done"), Span("B", 1, 2, "done"), Span("C", 2, 3, "crit"))

    text = render(full_summary(changes=changes, spans=spans), limit=50_000)

    assert "    C :crit, 2, 3" in text
    assert "more resources are not shown" not in text


def test_render_holds_the_default_limit_for_a_huge_summary() -> None:
    changes = tuple(
        ChangeRow("Modify", f"Resource{n:06d}", "AWS::Lambda::Function", "Conditional")
        for n in range(60_000)
    )
    spans = tuple(Span(f"Resource{n:06d}", n, n + 1, "done") for n in range(5_000))
    outputs = tuple((f"Output{n}", "v" * 600) for n in range(200))

    text = render(
        full_summary("failed", changes=changes, spans=spans, outputs=outputs, error="e" * 2_000_000)
    )

    assert len(text.encode()) <= LIMIT_BYTES < 1024 * 1024
    assert text.startswith("## ❌ hybridless: deploy failed")


def test_render_holds_the_limit_for_an_error_of_multi_byte_characters() -> None:
    # The last resort cuts the error to `limit // 4` characters, not bytes: four-byte
    # characters alone then fill the whole limit.
    text = render(full_summary("failed", error="🔥" * 100_000), limit=50_000)

    size = len(text.encode())
    assert size <= 50_000


# --- step outputs ----------------------------------------------------------------------------


FIXED = {
    "image-tag": "v1-abc1234",
    "images": {"web": "repo/web:v1", "api": "repo/api:v1"},
    "stack-name": "shop-dev",
    "stack-status": "UPDATE_COMPLETE",
    "change-set-id": None,
    "outputs": {"ServiceUrl": "https://shop.example.com"},
}


def test_step_outputs_writes_dicts_as_compact_json() -> None:
    values = step_outputs(FIXED, {})

    assert values["images"] == '{"api":"repo/api:v1","web":"repo/web:v1"}'
    assert json.loads(values["outputs"]) == FIXED["outputs"]


def test_step_outputs_writes_none_as_empty() -> None:
    assert step_outputs(FIXED, {})["change-set-id"] == ""


def test_step_outputs_adds_each_stack_output_under_its_own_name() -> None:
    values = step_outputs(FIXED, {"ServiceUrl": "https://x", "_private": "p", "db-host": "h"})

    assert values["ServiceUrl"] == "https://x"
    assert values["_private"] == "p"
    assert values["db-host"] == "h"


def test_a_stack_output_does_not_shadow_a_fixed_key() -> None:
    values = step_outputs(FIXED, {"image-tag": "from-the-stack", "outputs": "x"})

    assert values["image-tag"] == "v1-abc1234"
    assert values["outputs"] == '{"ServiceUrl":"https://shop.example.com"}'


def test_a_stack_output_with_an_invalid_name_is_skipped() -> None:
    values = step_outputs(FIXED, {"Bad.Name": "x", "1st": "y", "with space": "z"})

    assert set(values) == set(FIXED)


def test_github_output_text_reads_back_to_the_same_values() -> None:
    values = {
        "image-tag": "v1",
        "images": '{"web":"repo/web:v1"}',
        "empty": "",
        "Certificate": "-----BEGIN-----\nline two\nline three\n-----END-----",
    }

    assert parse_github_output(github_output_text(values)) == values


def test_github_output_text_uses_a_delimiter_not_found_in_the_values() -> None:
    text = github_output_text({"a": "x", "b": "y"})

    delimiters = [line.split("<<", 1)[1] for line in text.splitlines() if "<<" in line]
    assert len(delimiters) == 2
    assert len(set(delimiters)) == 2


# --- dotenv ----------------------------------------------------------------------------------


def test_dotenv_names_fixed_keys_hybridless_upper_case() -> None:
    values, left_out = dotenv_values(FIXED, {})

    assert values["HYBRIDLESS_IMAGE_TAG"] == "v1-abc1234"
    assert values["HYBRIDLESS_STACK_NAME"] == "shop-dev"
    assert values["HYBRIDLESS_CHANGE_SET_ID"] == ""
    assert values["HYBRIDLESS_IMAGES"] == '{"api":"repo/api:v1","web":"repo/web:v1"}'
    assert left_out == []


def test_dotenv_puts_stack_outputs_under_their_own_names() -> None:
    values, _ = dotenv_values({"image-tag": "v1"}, {"ServiceUrl": "https://x"})

    assert values == {"HYBRIDLESS_IMAGE_TAG": "v1", "ServiceUrl": "https://x"}


def test_dotenv_leaves_out_a_value_with_a_line_break() -> None:
    values, left_out = dotenv_values({}, {"Cert": "a\nb", "Win": "a\rb", "Ok": "c"})

    assert values == {"Ok": "c"}
    assert left_out == ["Cert", "Win"]


def test_dotenv_leaves_out_a_name_with_a_hyphen() -> None:
    values, left_out = dotenv_values({}, {"db-host": "h", "DbHost": "h"})

    assert values == {"DbHost": "h"}
    assert left_out == ["db-host"]


def test_dotenv_leaves_out_variables_beyond_twenty() -> None:
    outputs = {f"Out{n:02d}": str(n) for n in range(30)}

    values, left_out = dotenv_values({"image-tag": "v1", "stack-name": "s"}, outputs)

    assert len(values) == DOTENV_MAX_VARIABLES == 20
    assert left_out == [f"Out{n:02d}" for n in range(18, 30)]


def test_dotenv_leaves_out_what_goes_beyond_five_kib() -> None:
    outputs = {"Big1": "x" * 3000, "Big2": "y" * 3000, "Small": "z"}

    values, left_out = dotenv_values({"image-tag": "v1"}, outputs)

    assert left_out == ["Big2"]
    assert set(values) == {"HYBRIDLESS_IMAGE_TAG", "Big1", "Small"}
    assert len(dotenv_text(values).encode()) <= DOTENV_MAX_BYTES == 5 * 1024


def test_dotenv_text_is_one_name_equals_value_line_each() -> None:
    assert dotenv_text({"A": "1", "B": ""}) == "A=1\nB=\n"


def test_json_text_is_sorted_indented_json() -> None:
    text = json_text({"b": 1, "a": {"y": 2}})

    assert json.loads(text) == {"a": {"y": 2}, "b": 1}
    assert text.endswith("}\n")
    assert text.index('"a"') < text.index('"b"')


# --- pipeline.summary_of ---------------------------------------------------------------------


def test_summary_of_is_failed_when_an_error_is_given() -> None:
    report, _ = reporter()

    summary = summary_of(report, result_of(), PhaseError("update", "rolled back"))

    assert summary.outcome == "failed"
    assert summary.error == "update failed: rolled back"


def test_summary_of_is_failed_without_a_result_and_takes_the_stack_from_the_facts() -> None:
    report, _ = reporter()
    report.facts.stack_name = "shop-dev"
    report.facts.image_tag = "v9"

    summary = summary_of(report, None, PhaseError("build", "no Dockerfile"))

    assert (summary.outcome, summary.stack_name, summary.image_tag) == ("failed", "shop-dev", "v9")


def test_summary_of_is_preview_when_changed_but_not_executed() -> None:
    report, _ = reporter()

    assert summary_of(report, result_of(executed=False, changed=True), None).outcome == "preview"


@pytest.mark.parametrize("executed", [True, False])
def test_summary_of_is_no_changes_when_nothing_changed(executed: bool) -> None:
    report, _ = reporter()

    summary = summary_of(report, result_of(executed=executed, changed=False), None)

    assert summary.outcome == "no changes"


def test_summary_of_is_deployed_otherwise() -> None:
    report, _ = reporter()

    assert summary_of(report, result_of(), None).outcome == "deployed"


def test_summary_of_carries_the_facts_the_reporter_kept() -> None:
    report, _ = reporter()
    report.facts.region = "eu-west-1"
    report.change_set("hybridless-v1", CHANGES)
    for item in EVENTS:
        report.stack_event(item)

    summary = summary_of(report, result_of(), None)

    assert summary.region == "eu-west-1"
    assert summary.change_set_name == "hybridless-v1"
    assert summary.changes == tuple(CHANGES)
    assert summary.spans == tuple(spans_from_events(EVENTS))
    assert summary.outputs == (("ServiceUrl", "https://shop.example.com"),)


def test_summary_of_redacts_masked_secrets_in_the_error_and_outputs() -> None:
    report, _ = reporter()
    report.mask("hunter2")

    summary = summary_of(
        report,
        result_of(outputs={"Token": "hunter2", "Url": "https://u:hunter2@db"}),
        PhaseError("update", "password hunter2 refused"),
    )

    assert summary.error == "update failed: password *** refused"
    assert summary.outputs == (("Token", "***"), ("Url", "https://u:***@db"))


# --- pipeline.publish ------------------------------------------------------------------------


def test_publish_appends_step_outputs_to_github_output(tmp_path: Path) -> None:
    target = tmp_path / "github_output"
    target.write_text("earlier<<EOF\nkept\nEOF\n")
    report, _ = reporter()

    publish(result_of(), DeployOptions(), {"GITHUB_OUTPUT": str(target)}, report)

    text = target.read_text()
    assert text.startswith("earlier<<EOF\nkept\nEOF\n")
    values = parse_github_output(text)
    assert values["earlier"] == "kept"
    assert values["image-tag"] == "v1-abc1234"
    assert values["ServiceUrl"] == "https://shop.example.com"
    assert json.loads(values["images"]) == result_of().images


def test_publish_writes_no_github_output_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report, stream = reporter()

    publish(result_of(), DeployOptions(), {}, report)

    assert list(tmp_path.iterdir()) == []
    assert stream.getvalue() == ""


def test_publish_writes_hybridless_env_in_the_current_directory_on_gitlab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report, stream = reporter()

    publish(result_of(), DeployOptions(), {"GITLAB_CI": "true"}, report)

    text = (tmp_path / "hybridless.env").read_text()
    assert "HYBRIDLESS_IMAGE_TAG=v1-abc1234\n" in text
    assert "ServiceUrl=https://shop.example.com\n" in text
    assert lines(stream) == ["wrote 7 variable(s) to hybridless.env"]


def test_publish_writes_the_dotenv_file_it_is_given(tmp_path: Path) -> None:
    target = tmp_path / "deploy.env"
    report, _ = reporter()

    publish(result_of(), DeployOptions(dotenv=target), {}, report)

    assert "HYBRIDLESS_STACK_NAME=shop-dev\n" in target.read_text()


def test_publish_warns_about_what_it_left_out_of_the_dotenv(tmp_path: Path) -> None:
    report, stream = reporter()
    result = result_of(outputs={"db-host": "h", "Cert": "a\nb"})

    publish(result, DeployOptions(dotenv=tmp_path / "deploy.env"), {}, report)

    warning = lines(stream)[-1]
    assert warning.startswith("warning: left out of ")
    assert warning.endswith(": Cert, db-host")


def test_publish_writes_the_outputs_file_as_json(tmp_path: Path) -> None:
    target = tmp_path / "outputs.json"
    report, _ = reporter()

    publish(result_of(), DeployOptions(outputs_file=target), {}, report)

    assert json.loads(target.read_text()) == json.loads(json.dumps(result_of().as_outputs()))


def test_publish_to_an_unwritable_path_is_an_outputs_phase_error(tmp_path: Path) -> None:
    report, _ = reporter()
    missing = tmp_path / "no-such-dir" / "outputs.json"

    with pytest.raises(PhaseError) as failure:
        publish(result_of(), DeployOptions(outputs_file=missing), {}, report)

    assert failure.value.phase == "outputs"
    assert str(failure.value).startswith(f"outputs failed: cannot write {missing}")


def test_publish_to_an_unwritable_github_output_is_an_outputs_phase_error(tmp_path: Path) -> None:
    report, _ = reporter()

    with pytest.raises(PhaseError, match=r"^outputs failed: cannot write") as failure:
        publish(result_of(), DeployOptions(), {"GITHUB_OUTPUT": str(tmp_path)}, report)

    assert failure.value.phase == "outputs"


# --- cli.annotate_failure / workspace_path ---------------------------------------------------


def test_a_config_error_gives_one_annotation_per_problem_relative_to_the_workspace(
    tmp_path: Path,
) -> None:
    report, stream = reporter("github")
    config = str(tmp_path / "app" / "hybridless.yml")
    error = ConfigError(
        [
            Problem(config, 7, "provider.region", "unknown region"),
            Problem(config, None, "", "is empty"),
        ]
    )

    annotate_failure(report, error, {"GITHUB_WORKSPACE": str(tmp_path)})

    assert raw(stream) == [
        "::error title=hybridless configuration,file=app/hybridless.yml,line=7"
        "::provider.region: unknown region",
        "::error title=hybridless configuration,file=app/hybridless.yml::is empty",
    ]


def test_a_config_problem_on_a_pseudo_file_has_no_file(tmp_path: Path) -> None:
    report, stream = reporter("github")
    error = ConfigError([Problem("--parameter-overrides", None, "Size", "not declared")])

    annotate_failure(report, error, {"GITHUB_WORKSPACE": str(tmp_path)})

    assert raw(stream) == ["::error title=hybridless configuration::Size: not declared"]


def test_a_phase_error_gives_one_annotation_titled_by_its_phase() -> None:
    report, stream = reporter("github")

    annotate_failure(report, PhaseError("update", "stack shop-dev: ROLLBACK_COMPLETE"), {})

    assert raw(stream) == ["::error title=update failed::stack shop-dev: ROLLBACK_COMPLETE"]


def test_another_error_gives_one_annotation_titled_deploy_failed() -> None:
    report, stream = reporter("github")

    annotate_failure(report, HybridlessError("no Docker engine"), {})

    assert raw(stream) == ["::error title=deploy failed::no Docker engine"]


def test_workspace_path_is_relative_inside_the_workspace(tmp_path: Path) -> None:
    file = str(tmp_path / "svc" / "hybridless.yml")

    assert workspace_path(file, {"GITHUB_WORKSPACE": str(tmp_path)}) == "svc/hybridless.yml"


def test_workspace_path_keeps_a_file_outside_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    outside = str(tmp_path / "elsewhere" / "hybridless.yml")

    assert workspace_path(outside, {"GITHUB_WORKSPACE": str(workspace)}) == outside


def test_workspace_path_keeps_the_file_without_a_workspace() -> None:
    assert workspace_path("conf/hybridless.yml", {}) == "conf/hybridless.yml"


@pytest.mark.parametrize("environ", [{}, {"GITHUB_WORKSPACE": "/github/workspace"}])
def test_workspace_path_is_empty_for_a_pseudo_file(environ: dict[str, str]) -> None:
    assert workspace_path("--parameter-overrides", environ) == ""


# --- cli.write_summary -----------------------------------------------------------------------


def test_write_summary_appends_the_rendered_markdown(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n")
    report, _ = reporter()

    write_summary(report, result_of(), None, {"GITHUB_STEP_SUMMARY": str(target)})

    text = target.read_text()
    assert text.startswith("# earlier step\n## ✅ hybridless: deployed\n")
    assert "| `ServiceUrl` | https://shop.example.com |" in text


def test_write_summary_of_a_failure_shows_the_error(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    report, _ = reporter()

    write_summary(
        report, None, PhaseError("update", "rolled back"), {"GITHUB_STEP_SUMMARY": str(target)}
    )

    text = target.read_text()
    assert text.startswith("## ❌ hybridless: deploy failed\n")
    assert "update failed: rolled back" in text


def test_write_summary_redacts_masked_secrets(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    report, _ = reporter()
    report.mask("hunter2")
    report.change_set("cs-hunter2", [ChangeRow("Add", "Secret-hunter2", "AWS::X", "-")])

    write_summary(report, result_of(), None, {"GITHUB_STEP_SUMMARY": str(target)})

    text = target.read_text()
    assert "hunter2" not in text
    assert "### Change set `cs-***`" in text
    assert "| Add | Secret-*** | AWS::X | - |" in text


def test_write_summary_does_nothing_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report, stream = reporter()

    write_summary(report, result_of(), PhaseError("update", "x"), {})

    assert list(tmp_path.iterdir()) == []
    assert stream.getvalue() == ""


def test_write_summary_does_nothing_without_a_result_or_failure(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    report, _ = reporter()

    write_summary(report, None, None, {"GITHUB_STEP_SUMMARY": str(target)})

    assert not target.exists()


def test_cfn_lint_warnings_are_warning_annotations_on_github() -> None:
    from hybridless.stack.validate import check_template

    stream = io.StringIO()
    template = {
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    }

    check_template(json.dumps(template), "us-east-1", Reporter(stream, ci="github"))

    warnings = [line for line in stream.getvalue().splitlines() if line.startswith("::warning")]
    assert warnings and all(line.startswith("::warning title=cfn-lint::") for line in warnings)
    assert any("Unused" in line for line in warnings)


def test_a_nested_stack_s_findings_name_that_stack() -> None:
    from hybridless.stack.validate import check_template

    stream = io.StringIO()
    template = {
        "Parameters": {"Unused": {"Type": "String"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    }

    check_template(
        json.dumps(template), "us-east-1", Reporter(stream, ci="github"), "nested stack Nested2"
    )

    warnings = [line for line in stream.getvalue().splitlines() if line.startswith("::warning")]
    assert warnings
    assert all(
        line.startswith("::warning title=cfn-lint (nested stack Nested2)::") for line in warnings
    )


def test_at_most_ten_warning_annotations_are_written() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream, ci="github")

    for n in range(15):
        reporter.annotate(Annotation("warning", f"w{n}"))

    assert stream.getvalue().count("::warning") == 10
