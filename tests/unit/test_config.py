"""hybridless.yml loading (line numbers, duplicate keys, invalid YAML) and variable resolution."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from hybridless.config.loader import Document, dotted, load_document, lookup, parse_document
from hybridless.config.variables import resolve_variables
from hybridless.errors import ConfigError, Problem

FILE = "hybridless.yml"


def parse(text: str) -> Document:
    return parse_document(dedent(text), FILE)


def resolve(
    text: str, options: dict[str, str] | None = None, environ: dict[str, str] | None = None
) -> Any:
    return resolve_variables(parse(text), options or {}, environ or {}).data


def parse_error(text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as raised:
        parse(text)
    return raised.value.problems


def resolve_error(
    text: str, options: dict[str, str] | None = None, environ: dict[str, str] | None = None
) -> list[Problem]:
    doc = parse(text)
    with pytest.raises(ConfigError) as raised:
        resolve_variables(doc, options or {}, environ or {})
    return raised.value.problems


# --- loader -------------------------------------------------------------------------------


def test_lines_of_nested_keys_and_list_items() -> None:
    doc = parse(
        """\
        service: hello
        provider:
          vpc:
            vpcId: vpc-1
            subnetIds:
              - subnet-a
              - subnet-b
        hybridless:
          functions:
            Api:
              events:
                - eventType: httpd
                  routes:
                    - {path: /a}
                    - {path: /b, method: GET}
        """
    )

    assert doc.lines[()] == 1
    assert doc.lines[("service",)] == 1
    assert doc.lines[("provider", "vpc", "vpcId")] == 4
    assert doc.lines[("provider", "vpc", "subnetIds")] == 5
    assert doc.lines[("provider", "vpc", "subnetIds", 0)] == 6
    assert doc.lines[("provider", "vpc", "subnetIds", 1)] == 7
    events = ("hybridless", "functions", "Api", "events")
    assert doc.lines[(*events, 0)] == 12
    assert doc.lines[(*events, 0, "eventType")] == 12
    assert doc.lines[(*events, 0, "routes", 1)] == 15
    assert doc.lines[(*events, 0, "routes", 1, "method")] == 15
    assert doc.data["provider"]["vpc"]["subnetIds"] == ["subnet-a", "subnet-b"]


def test_line_of_an_absent_key_is_that_of_its_nearest_ancestor() -> None:
    doc = parse(
        """\
        service: hello
        provider:
          region: eu-west-1
        """
    )

    assert doc.line(("provider", "vpc", "vpcId")) == 2
    assert doc.line(("nothing", "here")) == 1
    assert str(doc.problem(("provider", "vpc"), "is required")) == (
        "hybridless.yml:2: provider.vpc: is required"
    )


def test_merge_keys_copy_the_anchored_mapping() -> None:
    doc = parse(
        """\
        defaults: &defaults
          memory: 512
          timeout: 10
        functions:
          Api:
            <<: *defaults
            events: []
        """
    )

    assert doc.data["functions"]["Api"] == {"memory": 512, "timeout": 10, "events": []}
    # A merged key is reported where it is written: in the anchored mapping.
    assert doc.line(("functions", "Api", "memory")) == 2
    assert doc.line(("functions", "Api", "events")) == 7


def test_a_merged_key_can_be_overridden_by_an_explicit_key() -> None:
    # YAML merge keys: keys written in the mapping itself win over merged ones; that is the
    # whole point of `<<`, and not a duplicate key.
    doc = parse(
        """\
        defaults: &defaults
          memory: 512
          timeout: 10
        Api:
          <<: *defaults
          memory: 2048
        """
    )

    assert doc.data["Api"] == {"memory": 2048, "timeout": 10}
    assert doc.line(("Api", "memory")) == 6


def test_duplicate_keys_are_all_reported_with_their_lines() -> None:
    problems = parse_error(
        """\
        service: a
        provider:
          stage: dev
          region: eu-west-1
          stage: prod
        service: b
        """
    )

    assert [str(p) for p in problems] == [
        "hybridless.yml:5: provider.stage: duplicate key",
        "hybridless.yml:6: service: duplicate key",
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\nb: [1, 2\n", 3, "invalid YAML: expected ',' or ']', but got '<stream end>'"),
        ("a: 1\nb: c: d\n", 2, "invalid YAML: mapping values are not allowed here"),
        (
            "a:\n  b: 1\n\t- c\n",
            3,
            "invalid YAML: found character '\\t' that cannot start any token",
        ),
    ],
)
def test_invalid_yaml_is_a_config_error_with_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_document(text, FILE)

    assert raised.value.problems == [Problem(FILE, line, "", message)]
    assert str(raised.value) == f"{FILE}:{line}: {message}"


def test_load_document_reads_a_file_and_names_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "hybridless.yml"
    path.write_text("service: hello\n", encoding="utf-8")

    assert load_document(path).data == {"service": "hello"}
    assert load_document(path).file == str(path)
    with pytest.raises(ConfigError) as raised:
        load_document(tmp_path / "missing.yml", display="missing.yml")
    assert str(raised.value) == "missing.yml: file not found"


def test_an_empty_document_has_no_data() -> None:
    assert parse_document("# only a comment\n", FILE).data is None


def test_lookup_and_dotted() -> None:
    data = {"a": {"b": [{"c": 1}]}}

    assert lookup(data, ("a", "b", 0, "c")) == 1
    assert lookup(data, ("a", "b", 1, "c"), "missing") == "missing"
    assert lookup(data, ("a", "x")) is None
    assert dotted(("hybridless", "functions", "Api", "events", 0, "routes", 1)) == (
        "hybridless.functions.Api.events[0].routes[1]"
    )
    assert dotted(()) == ""


# Found by tests/unit/test_config_fuzz.py: each of these once escaped as a traceback, hung, or
# had no line.


def test_dates_stay_the_text_written() -> None:
    doc = parse("Version: 2012-10-17\nwhen: 2024-13-45\nat: 2001-12-14 21:59:43.10\n")

    assert doc.data == {
        "Version": "2012-10-17",
        "when": "2024-13-45",
        "at": "2001-12-14 21:59:43.10",
    }


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        ("a: 1\nb: !!python/name:os.system\n", 2, "b", "unknown tag !!python/name:os.system"),
        ("a: !!binary aGk=\n", 1, "a", "unknown tag !!binary"),
        ("a:\n  - !!int abc\n", 2, "a[0]", "!!int 'abc' is not a number"),
        ("a: !!int ''\n", 1, "a", "!!int '' is not a number"),
        ("a: !!bool maybe\n", 1, "a", "!!bool 'maybe' is not true or false"),
        ("a: 0x_\n", 1, "a",
         "'0x_' reads as a number in YAML but is not one; quote it if it is text"),
        ("a:\n  b: 1\n  ? [x]\n  : 2\n", 3, "a", "a key must be a name, not a list"),
        ("a:\n  <<: 1\n", 2, "a", "invalid merge (<<): expected a mapping or list of mappings "
         "for merging, but found scalar"),
    ],
)  # fmt: skip
def test_values_yaml_cannot_give_a_meaning_are_problems_with_lines(
    text: str, line: int, key: str, message: str
) -> None:
    assert [(p.line, p.key, p.message) for p in parse_error(text)] == [(line, key, message)]


def test_explicit_tags_that_fit_are_read() -> None:
    text = "a: !!int '12'\nb: !!float 1\nc: !!bool 'yes'\nd: !!str 5\ne: !!null x\nf: =\n"

    assert parse(text).data == {"a": 12, "b": 1.0, "c": True, "d": "5", "e": None, "f": "="}


def test_a_merged_mapping_reached_through_an_alias_again_has_no_duplicate_keys() -> None:
    doc = parse(
        """\
        base: &base {x: 1, y: 2}
        one: &one
          <<: *base
          x: 3
        two: *one
        """
    )

    assert doc.data["two"] == {"x": 3, "y": 2}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\nb: &b [1, *b]\n", 2, "invalid YAML: alias *b is inside the value it names"),
        ("a: 1\nb: " + "[" * 200 + "]" * 200 + "\n", 2,
         "invalid YAML: values are nested more than 100 deep"),
        ("a: 1\nb: x\x00y\n", 2,
         "invalid YAML: character #x0000 is not allowed in YAML (special characters are not "
         "allowed)"),
    ],
)  # fmt: skip
def test_documents_that_would_exhaust_the_loader_are_refused_at_their_line(
    text: str, line: int, message: str
) -> None:
    assert [(p.line, p.message) for p in parse_error(text)] == [(line, message)]


def test_billion_laughs_is_refused_quickly_at_the_value_that_grows_too_large() -> None:
    levels = "".join(
        f"l{n}: &l{n} [{', '.join([f'*l{n - 1}' if n else 'ha'] * 9)}]\n" for n in range(10)
    )

    problems = parse_error(levels)

    assert [(p.line, p.message) for p in problems] == [
        (6, "invalid YAML: with its aliases expanded this value holds more than 100000 values")
    ]


def test_a_file_that_is_not_utf8_is_refused_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "hybridless.yml"
    path.write_bytes(b"service: shop\nprovider:\n  stage: d\xffv\n")

    with pytest.raises(ConfigError) as raised:
        load_document(path, display="hybridless.yml")

    assert str(raised.value) == (
        "hybridless.yml:3: is not UTF-8 text: byte(s) ff (invalid start byte)"
    )


# --- variables ----------------------------------------------------------------------------


def test_self_opt_and_env_variables_inside_text() -> None:
    data = resolve(
        """\
        service: hello
        name: ${self:service}-${opt:stage}-${env:TEAM}
        """,
        options={"stage": "prod"},
        environ={"TEAM": "payments"},
    )

    assert data["name"] == "hello-prod-payments"


def test_a_whole_string_variable_keeps_the_type_of_its_value() -> None:
    data = resolve(
        """\
        custom:
          subnets: [a, b]
          memory: 512
          flag: true
          tags: {team: x}
        subnets: ${self:custom.subnets}
        memory: ${self:custom.memory}
        flag: ${self:custom.flag}
        tags: ${self:custom.tags}
        first: ${self:custom.subnets.0}
        text: m${self:custom.memory}-${self:custom.flag}
        """
    )

    assert data["subnets"] == ["a", "b"]
    assert data["memory"] == 512
    assert data["flag"] is True
    assert data["tags"] == {"team": "x"}
    assert data["first"] == "a"
    assert data["text"] == "m512-true"


def test_self_follows_values_that_hold_variables_themselves() -> None:
    data = resolve(
        """\
        provider:
          stage: ${opt:stage, 'dev'}
        name: app-${self:provider.stage}
        """,
        options={"stage": "qa"},
    )

    assert data == {"provider": {"stage": "qa"}, "name": "app-qa"}


@pytest.mark.parametrize(
    ("fallback", "expected"),
    [
        ("'payments'", "payments"),
        ('"payments"', "payments"),
        ("'a, b}'", "a, b}"),
        ("''", ""),
        ("42", 42),
        ("false", False),
        ("plain", "plain"),
    ],
)
def test_fallback_values(fallback: str, expected: Any) -> None:
    data = resolve(f"team: ${{env:TEAM, {fallback}}}\n")

    assert data["team"] == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"A": "a", "B": "b"}, "a"), ({"B": "b"}, "b"), ({}, "x")],
)
def test_a_chain_of_fallbacks_is_tried_in_turn(environ: dict[str, str], expected: str) -> None:
    assert resolve("v: ${env:A, ${env:B}, 'x'}\n", environ=environ) == {"v": expected}


def test_a_fallback_may_hold_variables() -> None:
    data = resolve(
        """\
        service: hello
        team: ${env:TEAM, ${self:service}}
        label: ${env:LABEL, '${self:service}-${opt:stage}'}
        """,
        options={"stage": "dev"},
    )

    assert data["team"] == "hello"
    assert data["label"] == "hello-dev"


def test_an_address_may_be_built_from_variables() -> None:
    text = """\
        custom:
          dev: {memory: 512}
          prod: {memory: 4096}
        memory: ${self:custom.${opt:stage}.memory}
        """

    assert resolve(text, options={"stage": "prod"})["memory"] == 4096
    assert resolve(text, options={"stage": "dev"})["memory"] == 512


def test_cloudformation_placeholders_pass_through() -> None:
    data = resolve(
        """\
        resources:
          Arn: arn:aws:s3:::${AWS::AccountId}-${AWS::Region}/${MyParameter}
          Sub: ${Bucket.Arn}/${opt:stage}
        """,
        options={"stage": "dev"},
    )

    assert data["resources"] == {
        "Arn": "arn:aws:s3:::${AWS::AccountId}-${AWS::Region}/${MyParameter}",
        "Sub": "${Bucket.Arn}/dev",
    }


def test_an_unresolvable_variable_is_named_with_file_and_line() -> None:
    problems = resolve_error(
        """\
        service: hello
        provider:
          vpc:
            vpcId: ${env:VPC_ID}
        """
    )

    assert [str(p) for p in problems] == [
        "hybridless.yml:4: provider.vpc.vpcId: ${env:VPC_ID} is not set and has no fallback"
    ]


def test_all_unresolvable_variables_are_reported_in_one_error() -> None:
    problems = resolve_error(
        """\
        service: hello
        provider:
          stage: ${opt:stage}
          subnets:
            - ${env:SUBNET_A}
            - subnet-b
            - x-${env:SUBNET_C}
          region: ${self:provider.nowhere}
          team: ${env:A, ${env:B}}
        """
    )

    assert [(p.line, p.key, p.message) for p in problems] == [
        (3, "provider.stage", "${opt:stage} is not set and has no fallback"),
        (5, "provider.subnets[0]", "${env:SUBNET_A} is not set and has no fallback"),
        (7, "provider.subnets[2]", "${env:SUBNET_C} is not set and has no fallback"),
        (8, "provider.region", "${self:provider.nowhere} is not set and has no fallback"),
        (9, "provider.team", "${env:A, ${env:B}} is not set and has no fallback"),
    ]


def test_unsupported_variable_sources_are_errors() -> None:
    problems = resolve_error("a: ${ssm:/app/token}\nb: ${file:x.yml}\n")

    assert [str(p) for p in problems] == [
        "hybridless.yml:1: a: ${ssm:/app/token}: the ssm variable source is not supported "
        "(supported: self:, opt:, env:, file())",
        "hybridless.yml:2: b: ${file:x.yml}: the file source is written file(path) or "
        "file(path):key",
    ]


def test_self_reference_cycles_are_errors() -> None:
    problems = resolve_error(
        """\
        a: ${self:a}
        b: x-${self:c}
        c: ${self:b}
        """
    )

    assert [(p.line, p.key, p.message) for p in problems] == [
        (1, "a", "${self:a} refers to itself: a -> a"),
        (2, "b", "${self:c} refers to itself: c -> b -> c"),
        (3, "c", "${self:b} refers to itself: b -> c -> b"),
    ]


def test_variables_nested_too_deep_are_an_error_not_a_crash() -> None:
    problems = resolve_error("a: 1\nb: " + "${env:" * 50 + "X" + "}" * 50 + "\n")

    assert [(p.line, p.key, p.message) for p in problems] == [
        (2, "b", "variables are nested more than 20 deep")
    ]


def test_a_long_chain_of_self_references_is_an_error_not_a_crash() -> None:
    text = "".join(f"k{n}: ${{self:k{n + 1}}}\n" for n in range(300)) + "k300: end\n"

    problems = resolve_error(text)

    assert (problems[0].line, problems[0].key, problems[0].message) == (
        1,
        "k0",
        "refers through a chain of more than 40 variables (k1 -> ... -> k41); shorten it",
    )
    shorter = "".join(f"k{n}: ${{self:k{n + 1}}}\n" for n in range(30)) + "k30: end\n"
    assert resolve(shorter)["k0"] == "end"


def test_malformed_variables_are_errors() -> None:
    problems = resolve_error(
        """\
        list: [a, b]
        joined: id-${self:list}
        unclosed: ${env:A
        empty: ${env:A, }
        """
    )

    assert [(p.line, p.key, p.message) for p in problems] == [
        (2, "joined", "${self:list} is a mapping or list and cannot be part of 'id-${self:list}'"),
        (3, "unclosed", "unclosed variable '${env:A'"),
        (4, "empty", "${env:A, } has an empty fallback"),
    ]


def test_resolving_returns_a_new_document_with_the_same_file_and_lines() -> None:
    doc = parse("a:\n  b: ${env:X}\n")

    resolved = resolve_variables(doc, {}, {"X": "1"})

    assert resolved.data == {"a": {"b": "1"}}
    assert resolved.file == FILE
    assert resolved.line(("a", "b")) == 2
    assert doc.data == {"a": {"b": "${env:X}"}}


def test_an_unresolvable_variable_reached_through_self_is_reported_once() -> None:
    problems = resolve_error(
        """\
        name: app-${self:team}
        team: ${env:TEAM}
        """
    )

    assert [str(p) for p in problems] == [
        "hybridless.yml:2: team: ${env:TEAM} is not set and has no fallback"
    ]


def test_a_null_value_is_not_set_for_self_variables() -> None:
    # "a variable that resolves to nothing and has no fallback is an error ..., never an empty
    # string": a key written without a value resolves to nothing.
    text = """\
        provider:
          stage:
        name: app-${self:provider.stage}
        """
    problems = resolve_error(text)
    assert [str(p) for p in problems] == [
        "hybridless.yml:3: name: ${self:provider.stage} is not set and has no fallback"
    ]

    with_fallback = resolve("provider:\n  stage:\nstage: ${self:provider.stage, 'dev'}\n")
    assert with_fallback["stage"] == "dev"


def test_a_variable_in_a_flow_list_gets_the_quoting_hint(tmp_path: Path) -> None:
    config = tmp_path / "hybridless.yml"
    config.write_text("service: x\nprovider:\n  subnets: [${env:A}, ${env:B}]\n")

    with pytest.raises(ConfigError) as raised:
        load_document(config)

    (problem,) = raised.value.problems
    assert problem.line == 3
    assert problem.message.endswith(
        "(a ${...} variable inside [ ] or { } must be quoted: '${env:X}')"
    )


def test_cloudformation_short_forms_are_read_and_unknown_tags_named(tmp_path: Path) -> None:
    config = tmp_path / "hybridless.yml"
    config.write_text(
        "a: !GetAtt Queue.Arn\nb: !Sub 'x-${AWS::Region}'\nc: !If [C, !Ref X, 1]\nd: !Evil x\n"
    )

    with pytest.raises(ConfigError) as raised:
        load_document(config)
    assert [str(p) for p in raised.value.problems] == [f"{config}:4: d: unknown tag !Evil"]

    config.write_text(config.read_text().replace("d: !Evil x\n", ""))
    assert load_document(config).data == {
        "a": {"Fn::GetAtt": ["Queue", "Arn"]},
        "b": {"Fn::Sub": "x-${AWS::Region}"},
        "c": {"Fn::If": ["C", {"Ref": "X"}, 1]},
    }
