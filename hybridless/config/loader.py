"""YAML loading that remembers where every value came from.

Every later error about the configuration names `file:line`, so the loader keeps, next to the
plain data, the line of each key and list item, addressed by its path (`("provider", "vpc",
"vpcId")`, `("hybridless", "functions", "Api", "events", 0)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hybridless.errors import ConfigError, Problem

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.file, self.line(path), dotted(path), message)


def lookup(data: Any, path: Path_, missing: Any = None) -> Any:
    """The value at `path` in plain YAML data, or `missing`."""
    value = data
    for key in path:
        in_dict = isinstance(value, dict) and key in value
        in_list = isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
        if not (in_dict or in_list):
            return missing
        value = value[key]
    return value


def as_text(value: Any) -> str:
    """A YAML scalar as the text a user wrote: booleans as `true`/`false`, null as empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_document(path: Path, display: str | None = None) -> Document:
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(shown, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([Problem(shown, None, "", f"cannot be read: {err}")]) from None
    return parse_document(text, shown)


def parse_document(text: str, file: str) -> Document:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark else None
        reason = err.problem or "is not valid YAML"
        text_line = (
            text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        )
        if "${" in text_line and "'{'" in reason:
            reason += " (a ${...} variable inside [ ] or { } must be quoted: '${env:X}')"
        raise ConfigError([Problem(file, line, "", f"invalid YAML: {reason}")]) from None
    except yaml.YAMLError as err:
        raise ConfigError([Problem(file, None, "", f"invalid YAML: {err}")]) from None
    doc = Document(file=file, data=None)
    problems: list[Problem] = []
    if root is not None:
        doc.data = _construct(root, (), doc, problems, yaml.SafeLoader(""))
    if problems:
        raise ConfigError(problems)
    return doc


# CloudFormation's short forms, as users write them in `resources:` (`!GetAtt Queue.Arn`).
CLOUDFORMATION_TAGS = frozenset(
    {"Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select",
     "Split", "Sub", "Transform", "And", "Equals", "If", "Not", "Or", "Ref", "Condition",
     "ToJsonString", "Length"}
)  # fmt: skip


def _construct(
    node: yaml.Node, path: Path_, doc: Document, problems: list[Problem], loader: yaml.SafeLoader
) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if node.tag.startswith("!"):
        return _cloudformation_tag(node, path, doc, problems, loader)
    if isinstance(node, yaml.MappingNode):
        own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)
        merged = len(node.value) - own
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        for position, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if position >= merged:
                if key in explicit:
                    problems.append(
                        Problem(
                            doc.file, key_node.start_mark.line + 1, dotted(child), "duplicate key"
                        )
                    )
                explicit.add(key)
            doc.lines[child] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, child, doc, problems, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, index), doc, problems, loader)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _cloudformation_tag(
    node: yaml.Node, path: Path_, doc: Document, problems: list[Problem], loader: yaml.SafeLoader
) -> Any:
    """`!Ref X` → `{Ref: X}`, `!GetAtt A.B` → `{Fn::GetAtt: [A, B]}`, `!Sub ...` → `{Fn::Sub:
    ...}`: the long forms CloudFormation reads in JSON."""
    name = node.tag[1:]
    if name not in CLOUDFORMATION_TAGS:
        problems.append(
            Problem(doc.file, node.start_mark.line + 1, dotted(path), f"unknown tag {node.tag}")
        )
        return None
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    else:
        plain = type(node)("tag:yaml.org,2002:seq" if isinstance(node, yaml.SequenceNode)
                           else "tag:yaml.org,2002:map", node.value, node.start_mark,
                           node.end_mark)  # fmt: skip
        value = _construct(plain, path, doc, problems, loader)
    if name in ("Ref", "Condition"):
        return {name: value}
    if name == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{name}": value}
