"""The GitHub Action's inputs and the command line they become: the mapping from INPUT_*
variables to options, that action.yml and the parser agree with it, and the option checks that
stop a deploy before anything is touched."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from hybridless import action, cli, privileges
from hybridless.pipeline import DeployOptions, DeployResult

ACTION_YML = Path(__file__).resolve().parents[2] / "action.yml"
ROLE = "arn:aws:iam::123456789012:role/deployer"


def action_metadata() -> dict[str, Any]:
    return dict(yaml.safe_load(ACTION_YML.read_text(encoding="utf-8")))


def every_input() -> dict[str, str]:
    return {
        "INPUT_WORKING-DIRECTORY": "app",
        "INPUT_CONFIG": "deploy/hybridless.yml",
        "INPUT_STAGE": "prod",
        "INPUT_REGION": "eu-west-1",
        "INPUT_STACK-NAME": "hello-prod",
        "INPUT_IMAGE-TAG": "v1.2.3",
        "INPUT_REGISTRY": "localhost:5000",
        "INPUT_METHOD": "direct",
        "INPUT_ROLE-TO-ASSUME": ROLE,
        "INPUT_ROLE-SESSION-NAME": "release",
        "INPUT_PARAMETER-OVERRIDES": "Size=2\nDomain=example.com",
        "INPUT_TAGS": "team=web, owner=ops",
        "INPUT_TIMEOUT-MINUTES": "30",
        "INPUT_PREVIEW": "true",
        "INPUT_CLEANUP": "false",
    }


# --- variable ---------------------------------------------------------------------------------


def test_variable_upper_cases_and_keeps_hyphens() -> None:
    assert action.variable("role-to-assume") == "INPUT_ROLE-TO-ASSUME"


def test_variable_turns_spaces_into_underscores() -> None:
    assert action.variable("my input") == "INPUT_MY_INPUT"


# --- argv_from_inputs -------------------------------------------------------------------------


def test_every_input_set_gives_the_whole_command_line() -> None:
    argv = action.argv_from_inputs(every_input())

    assert argv == [
        "deploy",
        "--working-directory",
        "app",
        "--config",
        "deploy/hybridless.yml",
        "--stage",
        "prod",
        "--region",
        "eu-west-1",
        "--stack-name",
        "hello-prod",
        "--image-tag",
        "v1.2.3",
        "--registry",
        "localhost:5000",
        "--method",
        "direct",
        "--role-to-assume",
        ROLE,
        "--role-session-name",
        "release",
        "--parameter-overrides",
        "Size=2\nDomain=example.com",
        "--tags",
        "team=web, owner=ops",
        "--timeout-minutes",
        "30",
        "--preview",
        "--no-cleanup",
    ]


def test_no_inputs_give_the_bare_deploy_command() -> None:
    assert action.argv_from_inputs({}) == ["deploy"]


def test_preview_true_adds_the_preview_flag() -> None:
    assert action.argv_from_inputs({"INPUT_PREVIEW": "true"}) == ["deploy", "--preview"]


def test_preview_false_adds_nothing() -> None:
    assert action.argv_from_inputs({"INPUT_PREVIEW": "false"}) == ["deploy"]


def test_cleanup_false_adds_no_cleanup() -> None:
    assert action.argv_from_inputs({"INPUT_CLEANUP": "false"}) == ["deploy", "--no-cleanup"]


def test_cleanup_true_adds_nothing() -> None:
    assert action.argv_from_inputs({"INPUT_CLEANUP": "true"}) == ["deploy"]


@pytest.mark.parametrize("value", ["", " ", "  \n\t "])
def test_empty_or_blank_inputs_are_skipped(value: str) -> None:
    environ = {
        "INPUT_STAGE": value,
        "INPUT_TAGS": value,
        "INPUT_PREVIEW": value,
        "INPUT_CLEANUP": value,
    }

    assert action.argv_from_inputs(environ) == ["deploy"]


def test_value_inputs_are_trimmed() -> None:
    assert action.argv_from_inputs({"INPUT_STAGE": "  prod \n"}) == ["deploy", "--stage", "prod"]


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_true_is_accepted_in_its_three_spellings(value: str) -> None:
    assert action.argv_from_inputs({"INPUT_PREVIEW": value}) == ["deploy", "--preview"]


@pytest.mark.parametrize("value", ["false", "False", "FALSE"])
def test_false_is_accepted_in_its_three_spellings(value: str) -> None:
    assert action.argv_from_inputs({"INPUT_CLEANUP": value}) == ["deploy", "--no-cleanup"]


@pytest.mark.parametrize("name", ["preview", "cleanup"])
@pytest.mark.parametrize("value", ["yes", "no", "1", "tRuE"])
def test_any_other_boolean_is_an_input_error_naming_the_input(name: str, value: str) -> None:
    with pytest.raises(action.InputError) as error:
        action.argv_from_inputs({action.variable(name): value})

    assert name in str(error.value)
    assert repr(value) in str(error.value)
    assert error.value.exit_code == 2


# --- action.yml, INPUTS and the parser agree --------------------------------------------------


def test_every_input_in_action_yml_has_a_mapping_and_vice_versa() -> None:
    declared = set(action_metadata()["inputs"])
    mapped = {spec.name for spec in action.INPUTS} | {action.COMMAND}

    assert declared == mapped


def test_no_input_is_mapped_twice() -> None:
    names = [spec.name for spec in action.INPUTS]
    options = [spec.option for spec in action.INPUTS]

    assert len(names) == len(set(names))
    assert len(options) == len(set(options))


SAMPLE_VALUES = {"--timeout-minutes": "5", "--registry": "localhost:5000", "--method": "direct"}


@pytest.mark.parametrize("spec", action.INPUTS, ids=lambda spec: spec.name)
def test_every_mapped_option_is_accepted_by_the_parser(spec: action.Input) -> None:
    for command in spec.commands:
        if spec.kind == "value":
            argv = [command, spec.option, SAMPLE_VALUES.get(spec.option, "x")]
        else:
            argv = [command, spec.option]

        args = cli.build_parser().parse_args(argv)

        assert args.command == command


def test_the_outputs_in_action_yml_are_the_ones_a_deploy_sets() -> None:
    result = DeployResult(
        image_tag="t",
        images={"web": "repo@sha256:0"},
        stack_name="s",
        stack_status="UPDATE_COMPLETE",
        change_set_id=None,
        outputs={"Url": "https://example.com"},
        changed=True,
    )

    assert set(action_metadata()["outputs"]) == set(result.as_outputs())


def test_inputs_parsed_by_the_command_give_the_deploy_options() -> None:
    argv = action.argv_from_inputs(every_input())

    options = cli.options_from(cli.build_parser().parse_args(argv))

    assert options == DeployOptions(
        config=Path("deploy/hybridless.yml"),
        stage="prod",
        region="eu-west-1",
        stack_name="hello-prod",
        image_tag="v1.2.3",
        registry="localhost:5000",
        method="direct",
        preview=True,
        cleanup=False,
        outputs_file=None,
        parameters={"Size": "2", "Domain": "example.com"},
        tags={"team": "web", "owner": "ops"},
        timeout_minutes=30.0,
        role_to_assume=ROLE,
        role_session_name="release",
        dotenv=None,
    )


def test_no_inputs_give_the_default_deploy_options() -> None:
    options = cli.options_from(cli.build_parser().parse_args(action.argv_from_inputs({})))

    assert options == DeployOptions()


# --- is_action_run ----------------------------------------------------------------------------


def test_an_input_variable_makes_an_action_run() -> None:
    assert action.is_action_run({"PATH": "/bin", "INPUT_STAGE": "dev"})


def test_an_empty_input_variable_still_makes_an_action_run() -> None:
    assert action.is_action_run({"INPUT_CLEANUP": ""})


def test_no_input_variable_is_not_an_action_run() -> None:
    assert not action.is_action_run({"PATH": "/bin", "GITHUB_ACTIONS": "true", "MY_INPUT_X": "1"})


def test_an_empty_environment_is_not_an_action_run() -> None:
    assert not action.is_action_run({})


# --- parse_pairs ------------------------------------------------------------------------------


def test_pairs_one_per_line() -> None:
    assert cli.parse_pairs(["A=1\nB=2"], "--tags") == {"A": "1", "B": "2"}


def test_pairs_comma_separated_on_a_line() -> None:
    assert cli.parse_pairs(["A=1,B=2, C=3"], "--tags") == {"A": "1", "B": "2", "C": "3"}


def test_pairs_from_repeated_options() -> None:
    assert cli.parse_pairs(["A=1", "B=2"], "--tags") == {"A": "1", "B": "2"}


def test_a_quoted_item_keeps_its_comma() -> None:
    assert cli.parse_pairs(['"Key=a,b", Other=c'], "--tags") == {"Key": "a,b", "Other": "c"}


def test_a_quoted_value_keeps_its_comma() -> None:
    assert cli.parse_pairs(['Key="a,b", Other=c'], "--tags") == {"Key": "a,b", "Other": "c"}


def test_pair_whitespace_is_trimmed() -> None:
    assert cli.parse_pairs(["  A =  1  ,   B=2  "], "--tags") == {"A": "1", "B": "2"}


def test_a_value_may_hold_an_equals_sign() -> None:
    assert cli.parse_pairs(["Query=a=b"], "--tags") == {"Query": "a=b"}


def test_an_empty_value_is_kept() -> None:
    assert cli.parse_pairs(["Empty="], "--tags") == {"Empty": ""}


def test_later_keys_win() -> None:
    assert cli.parse_pairs(["A=1\nA=2", "A=3"], "--tags") == {"A": "3"}


def test_blank_lines_are_ignored() -> None:
    assert cli.parse_pairs(["\nA=1\n\n   \nB=2\n"], "--tags") == {"A": "1", "B": "2"}


def test_no_values_give_no_pairs() -> None:
    assert cli.parse_pairs([], "--tags") == {}


@pytest.mark.parametrize("item", ["novalue", "=value", "  =value"])
def test_an_item_that_is_not_key_equals_value_names_the_option(item: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli.parse_pairs([f"A=1,{item}"], "--parameter-overrides")

    assert "--parameter-overrides" in str(error.value)


# --- check_tags / check_parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["aws:owner", "AWS:owner", "Aws:x", "hybridless:id", "HybridLess:x"]
)
def test_reserved_tag_prefixes_are_refused_in_any_case(key: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli.check_tags({key: "v"})

    assert "--tags" in str(error.value)
    assert "reserved" in str(error.value)


def test_a_prefix_lookalike_is_allowed() -> None:
    assert cli.check_tags({"awsome": "v", "hybridlessly": "v"}) == {
        "awsome": "v",
        "hybridlessly": "v",
    }


def test_a_tag_key_of_128_characters_is_allowed() -> None:
    assert cli.check_tags({"k" * 128: "v"}) == {"k" * 128: "v"}


def test_a_tag_key_over_128_characters_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="--tags"):
        cli.check_tags({"k" * 129: "v"})


def test_a_tag_value_of_256_characters_is_allowed() -> None:
    assert cli.check_tags({"k": "v" * 256}) == {"k": "v" * 256}


def test_a_tag_value_over_256_characters_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="--tags"):
        cli.check_tags({"k": "v" * 257})


def test_48_tags_are_allowed() -> None:
    tags = {f"t{n}": "v" for n in range(48)}

    assert cli.check_tags(tags) == tags


def test_more_than_48_tags_are_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli.check_tags({f"t{n}": "v" for n in range(49)})

    assert "at most 48 tags" in str(error.value)


def test_alphanumeric_parameter_names_are_accepted() -> None:
    assert cli.check_parameters({"Size": "1", "Domain2": "x"}) == {"Size": "1", "Domain2": "x"}


@pytest.mark.parametrize("name", ["my-param", "my_param", "a b", "a.b", "é", ""])
def test_parameter_names_that_are_not_alphanumeric_are_refused(name: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli.check_parameters({name: "v"})

    assert "--parameter-overrides" in str(error.value)


# --- _minutes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "minutes"), [("5", 5.0), ("0.5", 0.5), ("1440", 1440.0)])
def test_minutes_accepts_a_positive_number_up_to_a_day(value: str, minutes: float) -> None:
    assert cli._minutes(value) == minutes


@pytest.mark.parametrize("value", ["0", "-1", "abc", "2000", "1441", "nan", "inf"])
def test_minutes_refuses_what_is_not_between_0_and_a_day(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        cli._minutes(value)

    assert repr(value) in str(error.value)


# --- main: refused before anything is touched -------------------------------------------------


def test_a_reserved_tag_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy", "--tags", "aws:owner=me"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--tags" in err
    assert "aws:owner" in err
    assert "Traceback" not in err


def test_a_bad_parameter_name_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy", "--parameter-overrides", "bad-name=1"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--parameter-overrides" in err
    assert "bad-name" in err


def test_a_pair_without_equals_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy", "--tags", "novalue"])

    assert exit_info.value.code == 2
    assert "--tags" in capsys.readouterr().err


def test_a_missing_working_directory_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-directory"

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy", "--working-directory", str(missing)])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--working-directory" in err
    assert str(missing) in err


def test_a_bad_timeout_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["deploy", "--timeout-minutes", "0"])

    assert exit_info.value.code == 2
    assert "--timeout-minutes" in capsys.readouterr().err


# --- privileges.docker_socket -----------------------------------------------------------------


def test_the_default_docker_socket() -> None:
    assert privileges.docker_socket({}) == Path("/var/run/docker.sock")


def test_a_unix_docker_host_names_its_socket() -> None:
    assert privileges.docker_socket({"DOCKER_HOST": "unix:///custom.sock"}) == Path("/custom.sock")


@pytest.mark.parametrize("host", ["tcp://host:2375", "ssh://user@host", "npipe:////./pipe/x"])
def test_a_network_docker_host_has_no_socket(host: str) -> None:
    assert privileges.docker_socket({"DOCKER_HOST": host}) is None
