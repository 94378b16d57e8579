"""`${file(path)}` and `${file(path):key}`: Serverless semantics, read from real files."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from hybridless.config.loader import load_document
from hybridless.config.variables import resolve_variables
from hybridless.errors import ConfigError, Problem


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def resolve(
    main: Path, options: dict[str, str] | None = None, environ: dict[str, str] | None = None
) -> Any:
    return resolve_variables(load_document(main), options or {}, environ or {}).data


def problems(
    main: Path, options: dict[str, str] | None = None, environ: dict[str, str] | None = None
) -> list[str]:
    doc = load_document(main)
    with pytest.raises(ConfigError) as raised:
        resolve_variables(doc, options or {}, environ or {})
    return [str(p) for p in raised.value.problems]


@pytest.fixture
def main(tmp_path: Path) -> Path:
    return tmp_path / "hybridless.yml"


def test_the_whole_file_and_a_key_in_it(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "common.yml", "region: eu-west-1\nteam: payments\n")
    write(
        main,
        """\
        common: ${file(common.yml)}
        region: ${file(./common.yml):region}
        label: team-${file(common.yml):team}
        """,
    )

    data = resolve(main)

    assert data["common"] == {"region": "eu-west-1", "team": "payments"}
    assert data["region"] == "eu-west-1"
    assert data["label"] == "team-payments"


def test_a_nested_key_with_a_list_index(tmp_path: Path, main: Path) -> None:
    write(
        tmp_path / "network.yml",
        """\
        vpc:
          subnets:
            - {id: subnet-a, zone: a}
            - {id: subnet-b, zone: b}
        """,
    )
    write(main, "subnet: ${file(network.yml):vpc.subnets.1.id}\n")

    assert resolve(main) == {"subnet": "subnet-b"}


def test_a_mapping_or_list_keeps_its_type(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "values.yml", "tags: {team: x, cost: 7}\nids: [1, 2]\nflag: true\n")
    write(
        main,
        """\
        tags: ${file(values.yml):tags}
        ids: ${file(values.yml):ids}
        flag: ${file(values.yml):flag}
        """,
    )

    data = resolve(main)

    assert data == {"tags": {"team": "x", "cost": 7}, "ids": [1, 2], "flag": True}


def test_the_path_and_the_key_may_be_built_from_variables(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "env" / "prod.yml", "db: prod-db\n")
    write(tmp_path / "env" / "dev.yml", "db: dev-db\n")
    write(tmp_path / "stages.yml", "prod: {memory: 4096}\ndev: {memory: 512}\n")
    write(
        main,
        """\
        db: ${file(env/${opt:stage}.yml):db}
        memory: ${file(stages.yml):${opt:stage}.memory}
        """,
    )

    assert resolve(main, options={"stage": "prod"}) == {"db": "prod-db", "memory": 4096}
    assert resolve(main, options={"stage": "dev"}) == {"db": "dev-db", "memory": 512}


def test_fallbacks_apply_to_a_missing_file_and_a_missing_key(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "values.yml", "present: 1\n")
    write(
        main,
        """\
        a: ${file(missing.yml):x, 'default'}
        b: ${file(values.yml):absent, 'fallback'}
        c: ${file(missing.yml), ${env:C}}
        d: ${file(values.yml):present, 'unused'}
        """,
    )

    assert resolve(main, environ={"C": "from-env"}) == {
        "a": "default",
        "b": "fallback",
        "c": "from-env",
        "d": 1,
    }


def test_a_missing_file_or_key_without_fallback_is_named_with_file_and_line(
    tmp_path: Path, main: Path
) -> None:
    write(tmp_path / "values.yml", "present: 1\nnested: {a: 1}\n")
    write(
        main,
        """\
        service: hello
        provider:
          region: ${file(missing.yml):region}
          stage: ${file(values.yml):absent}
        name: x-${file(values.yml):nested.b}
        """,
    )

    assert problems(main) == [
        f"{main}:3: provider.region: ${{file(missing.yml):region}}: "
        f"{tmp_path}/missing.yml does not exist, and it has no fallback",
        f"{main}:4: provider.stage: ${{file(values.yml):absent}}: "
        f"{tmp_path}/values.yml has no absent, and it has no fallback",
        f"{main}:5: name: ${{file(values.yml):nested.b}}: "
        f"{tmp_path}/values.yml has no nested.b, and it has no fallback",
    ]


def test_variables_inside_the_referenced_file_are_resolved(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "config" / "shared.yml", "region: eu-west-1\n")
    write(
        tmp_path / "config" / "app.yml",
        """\
        name: ${self:service}-${opt:stage}
        team: ${env:TEAM, 'core'}
        region: ${file(shared.yml):region}
        """,
    )
    write(
        main,
        """\
        service: shop
        app: ${file(config/app.yml)}
        """,
    )

    data = resolve(main, options={"stage": "dev"})

    assert data["app"] == {"name": "shop-dev", "team": "core", "region": "eu-west-1"}


def test_self_reaches_into_a_value_that_a_file_stands_for(tmp_path: Path, main: Path) -> None:
    # `custom: ${file(...)}` then `${self:custom.x}` is the usual Serverless layout.
    write(tmp_path / "custom.yml", "memory: 2048\n")
    write(
        main,
        """\
        custom: ${file(custom.yml)}
        memory: ${self:custom.memory}
        """,
    )

    assert resolve(main) == {"custom": {"memory": 2048}, "memory": 2048}


def test_an_error_inside_the_referenced_file_names_that_file_and_line(
    tmp_path: Path, main: Path
) -> None:
    inner = write(
        tmp_path / "env.yml",
        """\
        ok: 1
        db: ${env:DB_URL}
        """,
    )
    write(
        main,
        """\
        a: ${file(env.yml):db}
        b: ${file(env.yml):ok}
        c: ${file(env.yml):db, 'a fallback does not hide a broken file'}
        """,
    )

    # Reported once, where it is written; `ok` resolves, since only what is asked is resolved.
    assert problems(main) == [f"{inner}:2: db: ${{env:DB_URL}} is not set and has no fallback"]


def test_a_yaml_error_in_the_referenced_file_names_that_file(tmp_path: Path, main: Path) -> None:
    broken = write(tmp_path / "broken.yml", "a: 1\nb: [1, 2\n")
    write(main, "x: ${file(broken.yml):a, 'fallback'}\n")

    assert problems(main) == [
        f"{broken}:3: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_a_file_including_itself_is_a_cycle(tmp_path: Path, main: Path) -> None:
    a = tmp_path / "a.yml"
    b = write(tmp_path / "b.yml", "back: ${file(a.yml)}\n")
    write(a, "forward: ${file(b.yml)}\n")
    write(main, "x: ${file(a.yml)}\n")

    assert problems(main) == [f"{b}:1: back: ${{file(a.yml)}} refers to itself: {a} -> {b} -> {a}"]


def test_a_key_of_the_same_file_is_not_a_cycle(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "a.yml", "base: 10\ncopy: ${file(a.yml):base}\n")
    write(main, "x: ${file(a.yml):copy}\n")

    assert resolve(main) == {"x": 10}


def test_paths_may_go_upwards_or_be_absolute(tmp_path: Path) -> None:
    shared = write(tmp_path / "shared.yml", "team: payments\n")
    main = write(
        tmp_path / "app" / "hybridless.yml",
        f"""\
        up: ${{file(../shared.yml):team}}
        absolute: ${{file({shared}):team}}
        """,
    )

    assert resolve(main) == {"up": "payments", "absolute": "payments"}


def test_json_files_are_data_and_other_files_are_text(tmp_path: Path, main: Path) -> None:
    (tmp_path / "settings.json").write_text(
        '{\n\t"db": {\n\t\t"port": 5432\n\t}\n}\n', encoding="utf-8"
    )
    write(tmp_path / "banner.txt", "hello ${env:NOT_RESOLVED}\n")
    write(
        main,
        """\
        port: ${file(settings.json):db.port}
        banner: ${file(banner.txt)}
        """,
    )

    assert resolve(main) == {"port": 5432, "banner": "hello ${env:NOT_RESOLVED}\n"}


def test_a_key_in_a_text_file_or_a_javascript_file_is_an_error(tmp_path: Path, main: Path) -> None:
    write(tmp_path / "notes.txt", "x\n")
    write(tmp_path / "config.js", "module.exports = {}\n")
    write(
        main,
        """\
        a: ${file(notes.txt):x}
        b: ${file(config.js):x, 'fallback'}
        """,
    )

    assert problems(main) == [
        f"{main}:1: a: ${{file(notes.txt):x}}: {tmp_path}/notes.txt is not a YAML or JSON "
        "file, so it has no keys",
        f"{main}:2: b: ${{file(config.js):x, 'fallback'}}: {tmp_path}/config.js: JavaScript "
        "files are not supported, only data",
    ]


def test_each_file_is_read_once(
    tmp_path: Path, main: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "values.yml", "a: 1\nb: 2\n")
    write(main, "a: ${file(values.yml):a}\nb: ${file(values.yml):b}\nc: ${file(./values.yml)}\n")
    reads: list[Path] = []
    original = Path.read_text

    def counting(self: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)

    assert resolve(main) == {"a": 1, "b": 2, "c": {"a": 1, "b": 2}}
    assert [p.name for p in reads] == ["hybridless.yml", "values.yml"]


def test_a_missing_file_named_in_a_relative_config_is_shown_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "hybridless.yml", "a: ${file(./conf/../missing.yml)}\n")

    doc = load_document(Path("hybridless.yml"), display="hybridless.yml")
    with pytest.raises(ConfigError) as raised:
        resolve_variables(doc, {}, {})

    assert raised.value.problems == [
        Problem(
            "hybridless.yml",
            1,
            "a",
            "${file(./conf/../missing.yml)}: missing.yml does not exist, and it has no fallback",
        )
    ]


def test_the_file_source_must_be_called(main: Path) -> None:
    write(main, "a: ${file:values.yml}\nb: ${file()}\n")

    assert problems(main) == [
        f"{main}:1: a: ${{file:values.yml}}: the file source is written file(path) or "
        "file(path):key",
        f"{main}:2: b: ${{file()}} names no file (expected file(path) or file(path):key)",
    ]
