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
    except UnicodeDecodeError as err:
        raise ConfigError([not_utf8(path.read_bytes(), err, shown)]) from None
    except OSError as err:
        raise ConfigError([Problem(shown, None, "", f"cannot be read: {err}")]) from None
    return parse_document(text, shown)


def not_utf8(raw: bytes, err: UnicodeDecodeError, file: str) -> Problem:
    """Bytes that are not UTF-8, at their line."""
    line = raw[: err.start].count(b"\n") + 1
    bad = raw[err.start : err.end].hex(" ")
    return Problem(file, line, "", f"is not UTF-8 text: byte(s) {bad} ({err.reason})")


def parse_document(text: str, file: str) -> Document:
    loader: _Composer | None = None
    try:
        loader = _Composer(text)  # reading starts here: it refuses characters YAML does not allow
        root = loader.get_single_node()
    except yaml.reader.ReaderError as err:
        reason = f"character #x{err.character:04x} is not allowed in YAML ({err.reason})"
        where = yaml_line(text, err.position)
        raise ConfigError([Problem(file, where, "", f"invalid YAML: {reason}")]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        reason = err.problem or "is not valid YAML"
        text_line = (
            text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        )
        if "${" in text_line and "'{'" in reason:
            reason += " (a ${...} variable inside [ ] or { } must be quoted: '${env:X}')"
        raise ConfigError([Problem(file, line, "", f"invalid YAML: {reason}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    doc = Document(file=file, data=None)
    problems: list[Problem] = []
    if root is not None:
        doc.data = _Builder(doc, problems).value(root, ())
    if problems:
        raise ConfigError(problems)
    return doc


def yaml_line(text: str, position: int) -> int:
    """The line of `position` as YAML counts lines (NEL and the Unicode separators end one)."""
    before = text[:position].replace("\r\n", "\n")
    return 1 + sum(before.count(end) for end in ("\n", "\r", "\x85", "\u2028", "\u2029"))


YAML = "tag:yaml.org,2002:"

# Bounds on what a file can make the loader build: deeper nesting than any configuration needs,
# and aliases that would expand a few lines into millions of values ("billion laughs"), are
# refused where they are written instead of exhausting the stack or the memory.
MAX_DEPTH = 100
MAX_VALUES = 100_000


class _Composer(yaml.SafeLoader):
    """PyYAML's composer, with the nesting depth and the size of every value counted as if its
    aliases were expanded, since the model walks them expanded."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} is inside the value it names", mark
                )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"values are nested more than {MAX_DEPTH} deep", mark
            )
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is None:
            return None
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        if size > MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"with its aliases expanded this value holds more than "
                f"{MAX_VALUES} values", node.start_mark,
            )  # fmt: skip
        self._sizes[id(node)] = size
        return node


# CloudFormation's short forms, as users write them in `resources:` (`!GetAtt Queue.Arn`).
CLOUDFORMATION_TAGS = frozenset(
    {"Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select",
     "Split", "Sub", "Transform", "And", "Equals", "If", "Not", "Or", "Ref", "Condition",
     "ToJsonString", "Length"}
)  # fmt: skip


class _Builder:
    """Plain data from the composed nodes, with the line of every key and item, and a problem
    (not an exception) for every value YAML composes but cannot give a meaning to."""

    def __init__(self, doc: Document, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems
        self.loader = yaml.SafeLoader("")
        # How many pairs of a mapping came from its `<<` merges: an aliased mapping is built
        # once per alias, and only the first build sees its merge keys.
        self.merged: dict[int, int] = {}

    def fail(self, node: yaml.Node, path: Path_, message: str) -> None:
        self.problems.append(
            Problem(self.doc.file, node.start_mark.line + 1, dotted(path), message)
        )

    def value(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag.startswith("!"):
            return self.cloudformation_tag(node, path)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        if id(node) not in self.merged:
            own = sum(1 for key_node, _ in node.value if key_node.tag != f"{YAML}merge")
            try:
                self.loader.flatten_mapping(node)
            except yaml.constructor.ConstructorError as err:
                line = err.problem_mark.line + 1 if err.problem_mark else None
                self.problems.append(Problem(self.doc.file, line, dotted(path),
                                             f"invalid merge (<<): {err.problem}"))  # fmt: skip
                node.value = [pair for pair in node.value if pair[0].tag != f"{YAML}merge"]
            self.merged[id(node)] = max(len(node.value) - own, 0)
        merged = self.merged[id(node)]
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        for position, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.startswith("!"):
                what = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}.get(
                    type(key_node), f"tagged {key_node.tag}"
                )
                self.fail(key_node, path, f"a key must be a name, not {what}")
                continue
            key = self.scalar(key_node, path)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if position >= merged:
                if key in explicit:
                    self.fail(key_node, child, "duplicate key")
                explicit.add(key)
            self.doc.lines[child] = key_node.start_mark.line + 1
            result[key] = self.value(value_node, child)
        return result

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        """The value of a scalar. Dates stay the text written: CloudFormation reads
        `Version: 2012-10-17` as text, and a date object has no JSON form."""
        tag, text = node.tag, node.value
        if tag in (f"{YAML}str", f"{YAML}timestamp"):
            return text
        resolver: Any = self.loader
        resolved = resolver.resolve(yaml.ScalarNode, text, (True, False))
        implicit = node.style is None and resolved == tag
        if tag in (f"{YAML}merge", f"{YAML}value") and implicit:
            return text
        if tag == f"{YAML}null":
            return None
        if tag == f"{YAML}bool":
            if text.lower() in yaml.SafeLoader.bool_values:
                return yaml.SafeLoader.bool_values[text.lower()]
            self.fail(node, path, f"!!bool {text!r} is not true or false")
            return None
        if tag in (f"{YAML}int", f"{YAML}float"):
            try:
                if resolved == f"{YAML}int":
                    number = self.loader.construct_yaml_int(node)
                    return float(number) if tag == f"{YAML}float" else number
                if resolved == tag:
                    return self.loader.construct_yaml_float(node)
            except ValueError:
                pass
            if implicit:
                self.fail(node, path, f"{text!r} reads as a number in YAML but is not one; "
                          "quote it if it is text")  # fmt: skip
            else:
                self.fail(node, path, f"{short_tag(tag)} {text!r} is not a number")
            return None
        self.fail(node, path, f"unknown tag {short_tag(tag)}")
        return None

    def cloudformation_tag(self, node: yaml.Node, path: Path_) -> Any:
        """`!Ref X` → `{Ref: X}`, `!GetAtt A.B` → `{Fn::GetAtt: [A, B]}`, `!Sub ...` →
        `{Fn::Sub: ...}`: the long forms CloudFormation reads in JSON."""
        name = node.tag[1:]
        if name not in CLOUDFORMATION_TAGS:
            self.fail(node, path, f"unknown tag {node.tag}")
            return None
        if isinstance(node, yaml.ScalarNode):
            value: Any = node.value
        else:
            plain = type(node)(f"{YAML}seq" if isinstance(node, yaml.SequenceNode)
                               else f"{YAML}map", node.value, node.start_mark,
                               node.end_mark)  # fmt: skip
            value = self.value(plain, path)
        if name in ("Ref", "Condition"):
            return {name: value}
        if name == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{name}": value}


def short_tag(tag: str) -> str:
    return f"!!{tag[len(YAML) :]}" if tag.startswith(YAML) else tag
