"""Typed reads of the resolved document that record a problem instead of raising.

Every read names the path it reads, so a problem carries the file, line and dotted key, and the
reading goes on: one run reports everything that is wrong.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from typing import Any

from hybridless.config.loader import Document, Path_, as_text, lookup
from hybridless.errors import Problem

NOT_YET = "is part of the documented model but not supported yet"
# CloudWatch Logs accepts these retention periods only.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


def kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """A hint for a misspelt name; case is ignored, since `SQS` for `sqs` is still a miss."""
    by_lower = {choice.lower(): choice for choice in sorted(choices)}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""


def is_intrinsic(value: Any) -> bool:
    """A CloudFormation function (`{Ref: X}`, `{Fn::GetAtt: [...]}`) standing for a value."""
    if not (isinstance(value, dict) and len(value) == 1):
        return False
    name = str(next(iter(value)))
    return name in ("Ref", "Condition") or name.startswith("Fn::")


class Reader:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def fail(self, path: Path_, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def get(self, path: Path_) -> Any:
        return lookup(self.doc.data, path)

    def line(self, path: Path_) -> int | None:
        return self.doc.line(path)

    def mapping(self, path: Path_, required: bool = False) -> dict[str, Any]:
        value = self.get(path)
        if value is None:
            if required:
                self.fail(path, "is required")
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, not {kind_of(value)}")
            return {}
        return value

    def keys(
        self, path: Path_, allowed: Collection[str], not_yet: Collection[str] = frozenset()
    ) -> None:
        value = self.get(path)
        for key in value if isinstance(value, dict) else ():
            if key in allowed:
                continue
            child = (*path, key)
            if key in not_yet:
                self.fail(child, NOT_YET)
                continue
            self.fail(child, f"unknown key{did_you_mean(key, {*allowed, *not_yet})}")

    def string(
        self,
        path: Path_,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        required: bool = False,
    ) -> str | None:
        value = self.get(path)
        if value is None:
            if required:
                self.fail(path, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(path, f"must be a string, not {kind_of(value)}")
            return default
        text = str(value)
        if pattern and not pattern.match(text):
            self.fail(path, f"{text!r} {rule}")
            return default
        return text

    def choice(self, path: Path_, choices: tuple[str, ...], default: str) -> str:
        value = self.string(path, default=default) or default
        if value not in choices:
            self.fail(
                path,
                f"{value!r} must be one of {', '.join(choices)}{did_you_mean(value, choices)}",
            )
            return default
        return value

    def integer(self, path: Path_, default: int, low: int, high: int) -> int:
        value = self.get(path)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be a whole number, not {kind_of(value)}")
            return default
        if not low <= value <= high:
            self.fail(path, f"{value} is out of range ({low}..{high})")
            return default
        return value

    def retention(self, path: Path_, default: int) -> int:
        """Days of log retention, one of the periods CloudWatch Logs offers."""
        days = self.integer(path, default, 1, 3653)
        if days not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            self.fail(path, f"{days} is not a retention CloudWatch Logs offers ({allowed})")
            return default
        return days

    def optional_integer(self, path: Path_, low: int, high: int) -> int | None:
        if self.get(path) is None:
            return None
        return self.integer(path, low, low, high)

    def boolean(self, path: Path_) -> bool | None:
        value = self.get(path)
        if value is None or isinstance(value, bool):
            return value
        self.fail(path, f"must be true or false, not {kind_of(value)}")
        return None

    def strings(self, path: Path_, required: bool = False) -> tuple[str, ...]:
        value = self.get(path)
        if value is None:
            if required:
                self.fail(path, "is required")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(path, "must be a list of non-empty strings")
            return ()
        if required and not value:
            self.fail(path, "must not be empty")
        return tuple(value)

    def pairs(self, path: Path_, intrinsics: bool = False) -> tuple[tuple[str, Any], ...]:
        """A mapping of names to scalar values (environment variables, tags), as text; with
        `intrinsics`, a CloudFormation function (`!Ref Queue`) is kept for deploy time."""
        out: list[tuple[str, Any]] = []
        for key, value in self.mapping(path).items():
            if intrinsics and is_intrinsic(value):
                out.append((key, value))
                continue
            if isinstance(value, dict | list) or value is None:
                self.fail((*path, key), "must be a string, number or boolean")
                continue
            out.append((key, as_text(value)))
        return tuple(out)

    def arn_or_intrinsic(
        self, path: Path_, pattern: re.Pattern[str], what: str
    ) -> str | dict[str, Any] | None:
        """An ARN as text, or a CloudFormation function (`!GetAtt Queue.Arn`) resolved at
        deploy time, for things the user's own `resources:` create."""
        value = self.get(path)
        if value is None or is_intrinsic(value):
            return value  # type: ignore[no-any-return]
        text = self.string(path)
        if text is not None and not pattern.match(text):
            self.fail(path, f"{text!r} is not {what}")
            return None
        return text
