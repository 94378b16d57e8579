"""Variables in hybridless.yml: `${self:a.b}`, `${opt:stage}`, `${env:NAME}`, with fallbacks.

The semantics are the Serverless Framework's, so configurations move over unchanged:
- `${env:TEAM, 'payments'}` falls back to the quoted string; `${env:A, ${env:B}, 'x'}` tries
  each in turn; a fallback may itself hold variables (`${env:TEAM, ${self:service}}`);
- the address may be built from variables (`${self:custom.${opt:stage}}`);
- a string that is exactly one variable takes the value's type (a list stays a list); inside a
  longer string the value is written as text;
- a variable that resolves to nothing and has no fallback is an error naming it, the file and
  the line, never an empty string.

`${` only starts a variable when a source name follows (`env:`, `file(`, ...), so
CloudFormation's own `${AWS::Region}` and `${MyParameter}` in `resources:` pass through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybridless.config.loader import Document, Path_, as_text, dotted, lookup
from hybridless.errors import ConfigError, Problem

SUPPORTED = ("self", "opt", "env")
SOURCE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)(\(|:(?!:))")
QUOTED = re.compile(r"""^(?:'([^']*)'|"([^"]*)")$""")


class _Missing:
    pass


MISSING = _Missing()


@dataclass(frozen=True)
class Var:
    body: tuple[Part, ...]
    fallbacks: tuple[tuple[Part, ...], ...]
    text: str


Part = str | Var


class _Unresolvable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Cycle(_Unresolvable):
    pass


class _Dependent(Exception):
    """A `${self:}` target that is itself unresolvable: reported once, at the target."""


def parse(text: str) -> tuple[Part, ...]:
    parts, end = _parse_parts(text, 0, stop="")
    assert end == len(text)
    return parts


def _parse_parts(text: str, i: int, stop: str) -> tuple[tuple[Part, ...], int]:
    """Literal text and variables up to an unnested character in `stop` (or the end)."""
    parts: list[Part] = []
    literal = ""
    quote = ""
    while i < len(text):
        char = text[i]
        if stop and not quote and char in stop:
            break
        if stop and char in "'\"" and (not quote or quote == char):
            quote = "" if quote else char
        if text.startswith("${", i) and SOURCE.match(text, i + 2):
            if literal:
                parts.append(literal)
                literal = ""
            var, i = _parse_var(text, i)
            parts.append(var)
            continue
        literal += char
        i += 1
    if literal:
        parts.append(literal)
    return tuple(parts), i


def _parse_var(text: str, start: int) -> tuple[Var, int]:
    i = start + 2
    segments: list[tuple[Part, ...]] = []
    while True:
        segment, i = _parse_parts(text, i, stop=",}")
        segments.append(segment)
        if i >= len(text):
            raise _Unresolvable(f"unclosed variable {text[start:]!r}")
        if text[i] == "}":
            return Var(segments[0], tuple(segments[1:]), text[start : i + 1]), i + 1
        i += 1


class Resolver:
    def __init__(self, doc: Document, options: Mapping[str, str], environ: Mapping[str, str]):
        self._doc = doc
        self._options = options
        self._environ = environ
        self._resolving: list[Path_] = []
        self.problems: list[Problem] = []

    def resolve(self) -> Any:
        return self._value(self._doc.data, ())

    def _value(self, value: Any, path: Path_, strict: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self._value(item, (*path, k), strict) for k, item in value.items()}
        if isinstance(value, list):
            return [self._value(item, (*path, i), strict) for i, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            if strict:
                return self._string(value, path)
            try:
                return self._string(value, path)
            except _Unresolvable as err:
                self.problems.append(self._doc.problem(path, err.message))
            except _Dependent:
                pass
            return None
        return value

    def _string(self, text: str, path: Path_) -> Any:
        parts = parse(text)
        if len(parts) == 1 and isinstance(parts[0], Var):
            value = self._var(parts[0], path)
            if value is MISSING:
                raise _Unresolvable(f"{parts[0].text} is not set and has no fallback")
            return value
        return self._concat(parts, path, text)

    def _concat(self, parts: tuple[Part, ...], path: Path_, text: str) -> str:
        out = ""
        for part in parts:
            if isinstance(part, str):
                out += part
                continue
            value = self._var(part, path)
            if value is MISSING:
                raise _Unresolvable(f"{part.text} is not set and has no fallback")
            if isinstance(value, dict | list):
                raise _Unresolvable(
                    f"{part.text} is a mapping or list and cannot be part of {text!r}"
                )
            out += as_text(value)
        return out

    def _var(self, var: Var, path: Path_) -> Any:
        address = self._concat(var.body, path, var.text).strip()
        value = self._lookup(address, var)
        for fallback in var.fallbacks:
            if value is not MISSING:
                break
            value = self._fallback(fallback, path, var)
        return value

    def _fallback(self, parts: tuple[Part, ...], path: Path_, var: Var) -> Any:
        stripped = _strip(parts)
        if len(stripped) == 1 and isinstance(stripped[0], Var):
            return self._var(stripped[0], path)
        text = self._concat(stripped, path, var.text)
        quoted = QUOTED.match(text)
        if quoted:
            return quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        if not text:
            raise _Unresolvable(f"{var.text} has an empty fallback")
        return _scalar(text)

    def _lookup(self, address: str, var: Var) -> Any:
        match = SOURCE.match(address)
        if not match:
            raise _Unresolvable(f"{var.text} has no source (expected self:, opt: or env:)")
        source = match.group(1)
        rest = address[match.end() :].strip()
        if source not in SUPPORTED or match.group(2) == "(":
            raise _Unresolvable(
                f"{var.text}: the {source} variable source is not supported "
                f"(supported: {', '.join(s + ':' for s in SUPPORTED)})"
            )
        if source == "env":
            return self._environ.get(rest, MISSING)
        if source == "opt":
            return self._options.get(rest, MISSING)
        return self._self(rest, var)

    def _self(self, address: str, var: Var) -> Any:
        target: Path_ = tuple(
            int(key) if key.isdigit() else key for key in address.split(".") if key
        )
        value = lookup(self._doc.data, target, MISSING)
        if value is MISSING or value is None:
            return MISSING
        if target in self._resolving:
            chain = " -> ".join(dotted(p) or "(root)" for p in [*self._resolving, target])
            raise _Cycle(f"{var.text} refers to itself: {chain}")
        self._resolving.append(target)
        try:
            return self._value(value, target, strict=True)
        except _Cycle:
            raise
        except _Unresolvable:
            raise _Dependent() from None
        finally:
            self._resolving.pop()


def _strip(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    items = list(parts)
    if items and isinstance(items[0], str):
        items[0] = items[0].lstrip()
    if items and isinstance(items[-1], str):
        items[-1] = items[-1].rstrip()
    return tuple(item for item in items if item != "")


def _scalar(text: str) -> Any:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def resolve_variables(
    doc: Document, options: Mapping[str, str], environ: Mapping[str, str]
) -> Document:
    """A new document with every variable replaced; all unresolvable ones reported at once."""
    resolver = Resolver(doc, options, environ)
    data = resolver.resolve()
    if resolver.problems:
        raise ConfigError(resolver.problems)
    return Document(doc.file, data, dict(doc.lines))
