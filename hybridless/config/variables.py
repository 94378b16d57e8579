"""Variables in hybridless.yml: `${self:a.b}`, `${opt:stage}`, `${env:NAME}`, `${file(x.yml):k}`.

The semantics are the Serverless Framework's, so configurations move over unchanged:
- `${env:TEAM, 'payments'}` falls back to the quoted string; `${env:A, ${env:B}, 'x'}` tries
  each in turn; a fallback may itself hold variables (`${env:TEAM, ${self:service}}`);
- the address may be built from variables (`${self:custom.${opt:stage}}`,
  `${file(env/${opt:stage}.yml):db}`, `${file(env.yml):${opt:stage}}`);
- a string that is exactly one variable takes the value's type (a list stays a list); inside a
  longer string the value is written as text;
- a variable that resolves to nothing and has no fallback is an error naming it, the file and
  the line, never an empty string. A missing file counts as nothing, so its fallback applies;
  a file that exists but is broken is an error whatever the fallbacks, as a broken `${self:}`
  target is.

`${file(path)}` is the whole file and `${file(path):a.b.0}` a key inside it. The path is
relative to the directory of the file the variable is written in, the way Serverless reads
it; `..` and absolute paths are allowed. `.yml`, `.yaml` and `.json` files are data (JSON is
read as YAML, so errors inside them have lines), and their own variables are resolved too:
`${self:}` still means the main configuration, `${file()}` starts from their own directory.
JavaScript files, which Serverless runs, are refused; any other file is its text, verbatim,
with no variables resolved in it. Each file is read once per resolution. A file reached again
while it is being resolved is a cycle, reported like a `${self:}` cycle.

When the walked document is only part of the configuration (a serverless.yml without its
Serverless-only keys), `${self:}` still reaches the whole of it, as in Serverless: a value in
`custom:` is resolved when something kept refers to it, and only then, so a `${ssm:}` there
that nothing kept uses cannot fail the load.

`${` only starts a variable when a source name follows (`env:`, `file(`, ...), so
CloudFormation's own `${AWS::Region}` and `${MyParameter}` in `resources:` pass through.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridless.config.loader import Document, Path_, as_text, dotted, lookup, parse_document
from hybridless.errors import ConfigError, Problem

SUPPORTED = ("self", "opt", "env", "file")
SOURCE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)(\(|:(?!:))")
QUOTED = re.compile(r"""^(?:'([^']*)'|"([^"]*)")$""")
# What follows `file(`: the path up to the `)` that ends it, then an optional `:key`.
FILE_ADDRESS = re.compile(r"(.*?)\)\s*(?::(.*))?", re.DOTALL)
DATA_SUFFIXES = (".yml", ".yaml", ".json")
SCRIPT_SUFFIXES = (".js", ".cjs", ".mjs", ".ts")
# Far past anything written by hand, well before Python's own stack runs out.
MAX_NESTING = 20  # ${env:${env:...}} inside one another
MAX_CHAIN = 40  # ${self:} and ${file()} reaching a value that reaches another, and so on


def _listed(source: str) -> str:
    return f"{source}()" if source == "file" else f"{source}:"


SUPPORTED_TEXT = ", ".join(_listed(s) for s in SUPPORTED)


class _Missing:
    """Nothing there; `why` says what was looked for when it helps more than "not set"."""

    def __init__(self, why: str = "") -> None:
        self.why = why


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
    """Resolution that does not end (or not soon enough): reported at every value it starts
    from, not swallowed as a dependent problem."""


class _Dependent(Exception):
    """A `${self:}` target that is itself unresolvable: reported once, at the target."""


class _Located(Exception):
    """Problems already placed in a file and line: inside a referenced file, or in a part of the
    configuration that is not walked (and so would not report them itself)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass
class _Context:
    """Where a value being resolved was written: its document (for problems and lines), the
    directory its `${file()}` paths start from, and whether problems are collected and raised
    as `_Located` (`collect`) or left to the walk of the main document."""

    doc: Document
    base: Path
    collect: bool
    problems: list[Problem] = field(default_factory=list)

    def fresh(self) -> _Context:
        return _Context(self.doc, self.base, self.collect)


@dataclass(frozen=True)
class _File:
    """A referenced file as read: data, text, or why there is none."""

    path: Path
    doc: Document | None = None
    text: str | None = None
    missing: str = ""
    error: str = ""
    problems: tuple[Problem, ...] = ()


def parse(text: str) -> tuple[Part, ...]:
    parts, end = _parse_parts(text, 0, stop="", depth=0)
    assert end == len(text)
    return parts


def _parse_parts(text: str, i: int, stop: str, depth: int) -> tuple[tuple[Part, ...], int]:
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
            if depth >= MAX_NESTING:
                raise _Unresolvable(f"variables are nested more than {MAX_NESTING} deep")
            var, i = _parse_var(text, i, depth + 1)
            parts.append(var)
            continue
        literal += char
        i += 1
    if literal:
        parts.append(literal)
    return tuple(parts), i


def _parse_var(text: str, start: int, depth: int) -> tuple[Var, int]:
    i = start + 2
    segments: list[tuple[Part, ...]] = []
    while True:
        segment, i = _parse_parts(text, i, stop=",}", depth=depth)
        segments.append(segment)
        if i >= len(text):
            raise _Unresolvable(f"unclosed variable {text[start:]!r}")
        if text[i] == "}":
            return Var(segments[0], tuple(segments[1:]), text[start : i + 1]), i + 1
        i += 1


def _keys(address: str) -> Path_:
    return tuple(int(key) if key.isdigit() else key for key in address.split(".") if key)


class Resolver:
    def __init__(
        self,
        doc: Document,
        options: Mapping[str, str],
        environ: Mapping[str, str],
        scope: Document | None = None,
    ):
        self._doc = doc
        self._scope = scope if scope is not None else doc
        self._options = options
        self._environ = environ
        base = Path(doc.file).parent
        self._main = _Context(doc, base, collect=False)
        self._outside = _Context(self._scope, base, collect=True)
        # What is being resolved, innermost last: ("self", path) or (file, path), with a label.
        self._stack: list[tuple[tuple[object, Path_], str]] = []
        self._files: dict[Path, _File] = {}
        self.problems = self._main.problems

    def resolve(self) -> Any:
        return self._value(self._doc.data, (), False, self._main)

    def _value(self, value: Any, path: Path_, strict: bool, ctx: _Context) -> Any:
        if isinstance(value, dict):
            return {k: self._value(item, (*path, k), strict, ctx) for k, item in value.items()}
        if isinstance(value, list):
            return [self._value(item, (*path, i), strict, ctx) for i, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            if strict:
                return self._string(value, path, ctx)
            try:
                return self._string(value, path, ctx)
            except _Unresolvable as err:
                ctx.problems.append(ctx.doc.problem(path, err.message))
            except _Located as err:
                ctx.problems.extend(err.problems)
            except _Dependent:
                pass
            return None
        return value

    def _string(self, text: str, path: Path_, ctx: _Context) -> Any:
        parts = parse(text)
        if len(parts) == 1 and isinstance(parts[0], Var):
            value = self._var(parts[0], path, ctx)
            if isinstance(value, _Missing):
                raise _Unresolvable(_not_set(parts[0], value))
            return value
        return self._concat(parts, path, text, ctx)

    def _concat(self, parts: tuple[Part, ...], path: Path_, text: str, ctx: _Context) -> str:
        out = ""
        for part in parts:
            if isinstance(part, str):
                out += part
                continue
            value = self._var(part, path, ctx)
            if isinstance(value, _Missing):
                raise _Unresolvable(_not_set(part, value))
            if isinstance(value, dict | list):
                raise _Unresolvable(
                    f"{part.text} is a mapping or list and cannot be part of {text!r}"
                )
            out += as_text(value)
        return out

    def _var(self, var: Var, path: Path_, ctx: _Context) -> Any:
        address = self._concat(var.body, path, var.text, ctx).strip()
        value = self._lookup(address, var, ctx)
        for fallback in var.fallbacks:
            if not isinstance(value, _Missing):
                break
            value = self._fallback(fallback, path, var, ctx)
        return value

    def _fallback(self, parts: tuple[Part, ...], path: Path_, var: Var, ctx: _Context) -> Any:
        stripped = _strip(parts)
        if len(stripped) == 1 and isinstance(stripped[0], Var):
            return self._var(stripped[0], path, ctx)
        text = self._concat(stripped, path, var.text, ctx)
        quoted = QUOTED.match(text)
        if quoted:
            return quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        if not text:
            raise _Unresolvable(f"{var.text} has an empty fallback")
        return _scalar(text)

    def _lookup(self, address: str, var: Var, ctx: _Context) -> Any:
        match = SOURCE.match(address)
        if not match:
            raise _Unresolvable(f"{var.text} has no source (expected {SUPPORTED_TEXT})")
        source = match.group(1)
        rest = address[match.end() :].strip()
        called = match.group(2) == "("
        if source in SUPPORTED and called != (source == "file"):
            form = "file(path) or file(path):key" if source == "file" else f"{source}:name"
            raise _Unresolvable(f"{var.text}: the {source} source is written {form}")
        if source not in SUPPORTED:
            raise _Unresolvable(
                f"{var.text}: the {source} variable source is not supported "
                f"(supported: {SUPPORTED_TEXT})"
            )
        if source == "env":
            return self._environ.get(rest, MISSING)
        if source == "opt":
            return self._options.get(rest, MISSING)
        if source == "file":
            return self._file(rest, var, ctx)
        return self._self(rest, var)

    # --- ${self:} -----------------------------------------------------------------------------

    def _self(self, address: str, var: Var) -> Any:
        target = _keys(address)
        # The walked document first: a kept key is reported where it is written, by the walk.
        value = self._follow(self._main, "self", target, var)
        if isinstance(value, _Missing) and self._scope is not self._doc:
            value = self._follow(self._outside, "self", target, var)
        return value

    # --- ${file()} ----------------------------------------------------------------------------

    def _file(self, rest: str, var: Var, ctx: _Context) -> Any:
        match = FILE_ADDRESS.fullmatch(rest)
        written = match.group(1).strip().strip("'\"").strip() if match else ""
        if not match or not written:
            raise _Unresolvable(f"{var.text} names no file (expected file(path) or file(path):key)")
        key = (match.group(2) or "").strip()
        display = os.path.normpath(os.path.join(os.path.dirname(ctx.doc.file), written))
        loaded = self._read(ctx.base / written, display)
        if loaded.missing:
            return _Missing(loaded.missing)
        if loaded.error:
            raise _Unresolvable(f"{var.text}: {loaded.error}")
        if loaded.problems:
            raise _Located(list(loaded.problems))
        if loaded.text is not None:
            if key:
                raise _Unresolvable(
                    f"{var.text}: {display} is not a YAML or JSON file, so it has no keys"
                )
            return loaded.text
        assert loaded.doc is not None
        if loaded.doc.data is None:
            return _Missing(f"{display} is empty")
        file_ctx = _Context(loaded.doc, loaded.path.parent, collect=True)
        value = self._follow(file_ctx, loaded.path.resolve(), _keys(key), var)
        if isinstance(value, _Missing) and key:
            return _Missing(f"{display} has no {key}")
        return value

    def _read(self, path: Path, display: str) -> _File:
        identity = path.resolve()
        if identity not in self._files:
            self._files[identity] = _read_file(path, display)
        return self._files[identity]

    # --- following an address, resolving what it passes through -------------------------------

    def _follow(self, ctx: _Context, ident: object, target: Path_, var: Var) -> Any:
        """The resolved value at `target` in `ctx.doc`. A string met on the way that stands for
        a mapping (`custom: ${file(env.yml)}`) is resolved first, so `${self:custom.db}`
        reaches into it, as in Serverless."""
        value = ctx.doc.data
        resolved = False
        for depth, key in enumerate(target):
            if not resolved and isinstance(value, str) and "${" in value:
                value = self._enter(ctx, ident, target[:depth], value, var)
                resolved = True
            value = lookup(value, (key,), MISSING)
            if isinstance(value, _Missing):
                return MISSING
        if value is None:
            return MISSING
        return value if resolved else self._enter(ctx, ident, target, value, var)

    def _enter(self, ctx: _Context, ident: object, path: Path_, value: Any, var: Var) -> Any:
        frame = (ident, path)
        label = _label(ctx, ident, path)
        if any(entry == frame for entry, _ in self._stack):
            chain = " -> ".join([*(name for _, name in self._stack), label])
            raise _Cycle(f"{var.text} refers to itself: {chain}")
        if len(self._stack) >= MAX_CHAIN:
            raise _Cycle(
                f"refers through a chain of more than {MAX_CHAIN} variables "
                f"({self._stack[0][1]} -> ... -> {label}); shorten it"
            )
        self._stack.append((frame, label))
        try:
            if ctx.collect:
                inner = ctx.fresh()
                result = self._value(value, path, False, inner)
                if inner.problems:
                    raise _Located(inner.problems)
                return result
            try:
                return self._value(value, path, True, ctx)
            except _Cycle:
                raise
            except (_Unresolvable, _Located):
                raise _Dependent() from None
        finally:
            self._stack.pop()


def _label(ctx: _Context, ident: object, path: Path_) -> str:
    if ident == "self":
        return dotted(path) or "(root)"
    return f"{ctx.doc.file}:{dotted(path)}" if path else ctx.doc.file


def _not_set(var: Var, missing: _Missing) -> str:
    if missing.why:
        return f"{var.text}: {missing.why}, and it has no fallback"
    return f"{var.text} is not set and has no fallback"


def _read_file(path: Path, display: str) -> _File:
    suffix = path.suffix.lower()
    if suffix in SCRIPT_SUFFIXES:
        return _File(path, error=f"{display}: JavaScript files are not supported, only data")
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return _File(path, missing=f"{display} does not exist")
    except (OSError, UnicodeDecodeError) as err:
        return _File(path, error=f"{display} cannot be read: {err}")
    if suffix not in DATA_SUFFIXES:
        return _File(path, text=text)
    if suffix == ".json":
        # A tab is only whitespace in valid JSON (never inside a string), and YAML refuses tabs
        # for indentation: spaces keep the meaning and every line number.
        text = text.replace("\t", " ")
    try:
        return _File(path, doc=parse_document(text, display))
    except ConfigError as err:
        return _File(path, problems=tuple(err.problems))


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
    doc: Document,
    options: Mapping[str, str],
    environ: Mapping[str, str],
    scope: Document | None = None,
) -> Document:
    """A new document with every variable replaced; all unresolvable ones reported at once.

    `scope` is the whole configuration `${self:}` addresses when `doc` is only part of it
    (default: `doc` itself); what is reached there is resolved on demand and its problems are
    reported with `scope`'s lines."""
    resolver = Resolver(doc, options, environ, scope)
    data = resolver.resolve()
    if resolver.problems:
        raise ConfigError(list(dict.fromkeys(resolver.problems)))
    return Document(doc.file, data, dict(doc.lines))
