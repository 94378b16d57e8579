"""The Reporter: secrets never reach the stream, phases frame the log, tables line up."""

from __future__ import annotations

import io
import re

import pytest

from hybridless.report import Reporter

STAMP = re.compile(r"^\[ *\d+\.\ds\] ")


def reporter(ci: str = "terminal") -> tuple[Reporter, io.StringIO]:
    stream = io.StringIO()
    return Reporter(stream, ci=ci), stream


def lines(stream: io.StringIO) -> list[str]:
    """The written lines without their timestamps (workflow commands have none)."""
    return [STAMP.sub("", line) for line in stream.getvalue().splitlines()]


# --- lines -----------------------------------------------------------------------------------


def test_every_line_carries_a_relative_timestamp() -> None:
    report, stream = reporter()

    report.info("one\ntwo")

    raw = stream.getvalue().splitlines()
    assert len(raw) == 2
    assert all(STAMP.match(line) for line in raw)
    assert lines(stream) == ["one", "two"]


def test_warning_and_error_are_prefixed() -> None:
    report, stream = reporter()

    report.warning("slow")
    report.error("broken")

    assert lines(stream) == ["warning: slow", "error: broken"]


def test_an_empty_message_is_one_empty_line() -> None:
    report, stream = reporter()

    report.info("")

    assert lines(stream) == [""]


# --- masking ---------------------------------------------------------------------------------


def test_a_masked_secret_is_hidden_from_everything_written_after() -> None:
    report, stream = reporter()

    report.mask("hunter2")
    report.info("password is hunter2, again hunter2")
    report.warning("hunter2")
    report.error("x-hunter2-y")

    assert "hunter2" not in stream.getvalue()
    assert lines(stream) == [
        "password is ***, again ***",
        "warning: ***",
        "error: x-***-y",
    ]


def test_masking_does_not_rewrite_what_was_written_before() -> None:
    report, stream = reporter()

    report.info("before s3cr3t")
    report.mask("s3cr3t")
    report.info("after s3cr3t")

    assert lines(stream) == ["before s3cr3t", "after ***"]


def test_secrets_are_masked_in_multi_line_messages() -> None:
    report, stream = reporter()
    report.mask("tok3n-value")

    report.info("first tok3n-value\nsecond\nthird tok3n-value end")

    assert lines(stream) == ["first ***", "second", "third *** end"]


def test_a_secret_spanning_lines_is_masked_as_a_whole() -> None:
    report, stream = reporter()
    report.mask("top\nsecret")

    report.info("key: top\nsecret!")

    assert "secret" not in stream.getvalue()
    assert lines(stream) == ["key: ***!"]


def test_secrets_are_masked_in_tables() -> None:
    report, stream = reporter()
    report.mask("AKIAEXAMPLEKEY")

    report.table(["name", "value"], [["key", "AKIAEXAMPLEKEY"], ["region", "us-east-1"]])

    assert "AKIAEXAMPLEKEY" not in stream.getvalue()
    assert any(line.startswith("key") and line.endswith("***") for line in lines(stream))


def test_a_longer_secret_is_masked_before_a_shorter_one_inside_it() -> None:
    report, stream = reporter()

    report.mask("abc")
    report.mask("abcdef")
    report.info("[abcdef] [abc]")

    assert lines(stream) == ["[***] [***]"]
    assert "def" not in stream.getvalue()


def test_longer_first_also_when_the_longer_one_is_masked_first() -> None:
    report, stream = reporter()

    report.mask("password-long")
    report.mask("password")
    report.info("password-long and password")

    assert lines(stream) == ["*** and ***"]


def test_an_empty_secret_is_ignored() -> None:
    report, stream = reporter(ci="github")

    report.mask("")
    report.info("nothing to hide")

    assert stream.getvalue().count("::add-mask::") == 0
    assert lines(stream) == ["nothing to hide"]


def test_github_gets_an_add_mask_command_once_per_secret() -> None:
    report, stream = reporter(ci="github")

    report.mask("alpha-secret")
    report.mask("alpha-secret")
    report.mask("beta-secret")
    report.info("alpha-secret beta-secret")

    assert stream.getvalue().splitlines()[:2] == [
        "::add-mask::alpha-secret",
        "::add-mask::beta-secret",
    ]
    assert stream.getvalue().count("::add-mask::") == 2
    assert lines(stream)[2:] == ["*** ***"]


def test_no_add_mask_command_outside_github() -> None:
    report, stream = reporter(ci="terminal")

    report.mask("alpha-secret")

    assert stream.getvalue() == ""


def test_github_is_taken_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    on_github = io.StringIO()
    Reporter(on_github).mask("x1")

    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    elsewhere = io.StringIO()
    Reporter(elsewhere).mask("x1")

    assert on_github.getvalue() == "::add-mask::x1\n"
    assert elsewhere.getvalue() == ""


# --- phases ----------------------------------------------------------------------------------


def test_a_phase_prints_its_start_and_its_end() -> None:
    report, stream = reporter()

    with report.phase("build"):
        report.info("building")

    assert len(lines(stream)) == 3
    assert lines(stream)[:2] == ["── build", "building"]
    assert re.fullmatch(r"── build: done in \d+\.\ds", lines(stream)[2])


def test_a_failing_phase_says_so_and_re_raises() -> None:
    report, stream = reporter()

    with pytest.raises(RuntimeError, match="engine gone"), report.phase("push"):
        raise RuntimeError("engine gone")

    assert lines(stream)[0] == "── push"
    assert re.fullmatch(r"── push: failed after \d+\.\ds", lines(stream)[1])
    assert "done" not in stream.getvalue()


def test_an_interrupted_phase_is_reported_as_failed() -> None:
    report, stream = reporter()

    with pytest.raises(KeyboardInterrupt), report.phase("update"):
        raise KeyboardInterrupt

    assert re.fullmatch(r"── update: failed after \d+\.\ds", lines(stream)[-1])


# --- tables ----------------------------------------------------------------------------------


def test_a_table_aligns_its_columns() -> None:
    report, stream = reporter()

    report.table(
        ["action", "logical id", "type"],
        [["Add", "WebService", "AWS::ECS::Service"], ["Modify", "Fn", "AWS::Lambda::Function"]],
    )

    assert lines(stream) == [
        "action  logical id  type",
        "Add     WebService  AWS::ECS::Service",
        "Modify  Fn          AWS::Lambda::Function",
    ]


def test_a_table_has_no_trailing_spaces() -> None:
    report, stream = reporter()

    report.table(["output", "value"], [["A", ""], ["LongerName", "x"]])

    assert lines(stream) == ["output      value", "A", "LongerName  x"]
    assert not any(line.endswith(" ") for line in stream.getvalue().splitlines())


def test_a_table_without_rows_is_its_header() -> None:
    report, stream = reporter()

    report.table(["a", "b"], [])

    assert lines(stream) == ["a  b"]


def test_a_multi_line_secret_is_not_echoed_in_clear_by_its_add_mask_command() -> None:
    # A workflow command is one line: every line of the secret needs its own ::add-mask::,
    # otherwise the lines after the first are printed to the log as plain text.
    report, stream = reporter(ci="github")

    report.mask("-----BEGIN KEY-----\nc2VjcmV0LWJvZHk=\n-----END KEY-----")

    written = stream.getvalue().splitlines()
    assert "c2VjcmV0LWJvZHk=" not in [line for line in written if not line.startswith("::")]
    assert all(line.startswith("::add-mask::") for line in written)
