"""The step summary: what a reviewer reads on the run's page without opening the log.

Result first (and the root cause when it failed), then the change set, a timeline of how long
each resource took (a mermaid gantt chart, which GitHub renders), and the stack's outputs.
GitHub refuses a summary over 1 MiB, so long tables are cut with a count of what was left out
rather than losing the whole summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import jinja2

LIMIT_BYTES = 1024 * 1024 - 16 * 1024
TERMINAL = ("_COMPLETE", "_FAILED", "_SKIPPED")
VALUE_LIMIT = 500

TEMPLATE = """\
## {{ icon }} hybridless: {{ headline }}

| | |
|---|---|
| stack | {{ s.stack_name | code }} |
| status | {{ s.stack_status | code }} |
| image tag | {{ s.image_tag | code }} |
{%- if s.region %}
| region | {{ s.region | code }} |
{%- endif %}
{%- if s.phases %}
| phases | {{ s.phases | phases }} |
{%- endif %}
{% if s.error %}
### What went wrong

```
{{ s.error }}
```
{% endif %}
{%- if s.changes %}
### Change set{% if s.change_set_name %} `{{ s.change_set_name }}`{% endif %}

| action | logical id | type | replacement |
|---|---|---|---|
{%- for c in s.changes %}
| {{ c.action | cell }} | {{ c.logical_id | cell }} | {{ c.resource_type | cell }} \
| {{ c.replacement | cell }} |
{%- endfor %}
{%- if s.changes_left_out %}
| … | {{ s.changes_left_out }} more | | |
{%- endif %}
{% endif %}
{%- if s.spans %}
### Timeline

```mermaid
gantt
    dateFormat X
    axisFormat %M:%S
    section Resources
{%- for span in s.spans %}
    {{ span.name | task }} :{{ span.state }}, {{ span.start }}, {{ span.end }}
{%- endfor %}
```
{%- if s.spans_left_out %}

{{ s.spans_left_out }} more resources are not shown.
{%- endif %}
{% endif %}
{%- if s.outputs %}
### Outputs

| output | value |
|---|---|
{%- for key, value in s.outputs %}
| `{{ key }}` | {{ value | cell }} |
{%- endfor %}
{% endif %}
"""


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    ok: bool


@dataclass(frozen=True)
class ChangeRow:
    action: str
    logical_id: str
    resource_type: str
    replacement: str


@dataclass(frozen=True)
class Span:
    """One resource's time in this update, in whole seconds from the first event."""

    name: str
    start: int
    end: int
    state: str  # mermaid task state: done, crit, active


@dataclass(frozen=True)
class Summary:
    outcome: str  # deployed | no changes | preview | failed
    stack_name: str
    stack_status: str = ""
    image_tag: str = ""
    region: str = ""
    error: str = ""
    change_set_name: str = ""
    phases: tuple[Phase, ...] = ()
    changes: tuple[ChangeRow, ...] = ()
    changes_left_out: int = 0
    spans: tuple[Span, ...] = ()
    spans_left_out: int = 0
    outputs: tuple[tuple[str, str], ...] = ()


def spans_from_events(events: Sequence[Mapping[str, Any]]) -> list[Span]:
    """Each resource's first IN_PROGRESS to its last settled state, oldest resource first."""
    timed = [e for e in events if isinstance(e.get("Timestamp"), datetime)]
    if not timed:
        return []
    origin = min(e["Timestamp"] for e in timed)
    order: list[str] = []
    first: dict[str, datetime] = {}
    last: dict[str, tuple[datetime, str]] = {}
    for event in sorted(timed, key=lambda e: e["Timestamp"]):
        name = str(event.get("LogicalResourceId", "?"))
        status = str(event.get("ResourceStatus", ""))
        if name not in first:
            order.append(name)
            first[name] = event["Timestamp"]
        last[name] = (event["Timestamp"], status)
    spans = []
    for name in order:
        start = int((first[name] - origin).total_seconds())
        ended_at, status = last[name]
        end = max(start + 1, int((ended_at - origin).total_seconds()))
        if status.endswith("_FAILED"):
            state = "crit"
        elif status.endswith(TERMINAL):
            state = "done"
        else:
            state = "active"
        spans.append(Span(name, start, end, state))
    return spans


def _cell(value: object) -> str:
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def _code(value: str) -> str:
    return f"`{value}`" if value else "-"


def _phases(phases: Sequence[Phase]) -> str:
    return ", ".join(f"{p.name} {p.seconds:.1f}s" + ("" if p.ok else " (failed)") for p in phases)


def _task(name: str) -> str:
    """Mermaid reads `:` and `#` as syntax in a task's name."""
    return name.replace(":", "-").replace("#", "-").replace(";", "-") or "-"


_ENVIRONMENT = jinja2.Environment(
    autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
)
_ENVIRONMENT.filters["cell"] = _cell
_ENVIRONMENT.filters["task"] = _task
_ENVIRONMENT.filters["phases"] = _phases
_ENVIRONMENT.filters["code"] = _code
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE)

_HEADLINES = {
    "deployed": ("✅", "deployed"),
    "no changes": ("✅", "no changes"),
    "preview": ("🔎", "preview (nothing changed)"),
    "failed": ("❌", "deploy failed"),
    "rolled back": ("↩️", "rolled back"),
    "rollback failed": ("❌", "rollback failed"),
    "removed": ("🗑️", "removed"),
    "remove failed": ("❌", "remove failed"),
}


def _render(summary: Summary) -> str:
    icon, headline = _HEADLINES.get(summary.outcome, ("-", summary.outcome))
    return _TEMPLATE.render(s=summary, icon=icon, headline=headline)


def render(summary: Summary, limit: int = LIMIT_BYTES) -> str:
    """The markdown, cut until it fits `limit` bytes: long tables first, then the error."""
    text = _render(summary)
    keep_changes, keep_spans = len(summary.changes), len(summary.spans)
    while len(text.encode()) > limit and (keep_changes > 10 or keep_spans > 10):
        keep_changes = min(keep_changes, max(10, keep_changes // 2))
        keep_spans = min(keep_spans, max(10, keep_spans // 2))
        text = _render(
            replace(
                summary,
                changes=summary.changes[:keep_changes],
                changes_left_out=len(summary.changes) - keep_changes,
                spans=summary.spans[:keep_spans],
                spans_left_out=len(summary.spans) - keep_spans,
            )
        )
    if len(text.encode()) > limit:
        error = summary.error.encode()[: limit // 4].decode(errors="ignore")
        text = _render(
            replace(
                summary,
                changes=(),
                changes_left_out=len(summary.changes),
                spans=(),
                spans_left_out=len(summary.spans),
                outputs=(),
                error=error,
            )
        )
    return text
