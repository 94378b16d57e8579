"""Listener-rule priorities: unique on each listener, never left to clash.

The original plugin gave every route priority 1, so a second route on a listener failed to
deploy. Here an explicit priority that is already taken on the same listener is an error at
load time, and routes without one get the free numbers in the order they are written, catch-all
paths last so they never shadow a more specific one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from hybridless.config.loader import Path_, dotted
from hybridless.model.reader import Reader
from hybridless.model.types import Event, HttpdEvent, LambdaContainerEvent, LambdaEvent, Routing

RouteKey = tuple[str, int, int]  # function, event index, route index


def routed(events: Sequence[Event]) -> Iterator[tuple[Event, Routing]]:
    """Every event that serves HTTP routes, with its routing."""
    for event in events:
        if isinstance(event, HttpdEvent):
            yield event, event.routing
        elif isinstance(event, LambdaContainerEvent | LambdaEvent) and event.trigger.routing:
            yield event, event.trigger.routing


def api_route_key(method: str | None, path: str) -> str:
    """An HTTP API route key: `GET /orders`, with `*` as API Gateway's greedy `{proxy+}`."""
    if path in ("*", "/*"):
        path = "/{proxy+}"
    elif path.endswith("/*"):
        path = path[:-1] + "{proxy+}"
    return f"{method or 'ANY'} {path}"


def check_routes(r: Reader, events: Sequence[Event]) -> None:
    api: dict[str, str] = {}
    for event in events:
        if not isinstance(event, LambdaContainerEvent | LambdaEvent):
            continue
        for number, route in enumerate(event.trigger.api_routes):
            where: Path_ = ("hybridless", "functions", event.function, "events", event.index,
                            "routes", number)  # fmt: skip
            key = api_route_key(route.method, route.path)
            if key in api:
                r.fail(where, f"{key} is already routed by {api[key]}; an API route goes to one "
                       "function")  # fmt: skip
            api[key] = dotted(where)
    seen: dict[tuple[str, int], str] = {}
    for event, routing in routed(events):
        for number, route in enumerate(routing.routes):
            if not route.priority and routing.listener.existing_arn:
                r.fail(
                    ("hybridless", "functions", event.function, "events", event.index, "routes",
                     number),
                    "give a priority: the listener already exists, and the priorities its own "
                    "rules use cannot be known here",
                )  # fmt: skip
            if not route.priority:
                continue
            path = ("hybridless", "functions", event.function, "events", event.index,
                    "routes", number, "priority")  # fmt: skip
            slot = (routing.listener.key, route.priority)
            if slot in seen:
                r.fail(
                    path,
                    f"{route.priority} is already used by {seen[slot]}; "
                    "priorities must be unique on a listener",
                )
            seen[slot] = dotted(path)


def assign_priorities(events: Sequence[Event]) -> dict[RouteKey, int]:
    """(function, event index, route index) → listener-rule priority, per listener."""
    used: dict[str, set[int]] = {}
    for _event, routing in routed(events):
        used.setdefault(routing.listener.key, set()).update(
            route.priority for route in routing.routes if route.priority
        )
    result: dict[RouteKey, int] = {}
    pending: dict[str, list[tuple[bool, int, RouteKey]]] = {}
    for event, routing in routed(events):
        for number, route in enumerate(routing.routes):
            key = (event.function, event.index, number)
            if route.priority:
                result[key] = route.priority
                continue
            waiting = pending.setdefault(routing.listener.key, [])
            waiting.append((route.path in ("*", "/*"), len(waiting), key))
    for listener, waiting in pending.items():
        taken = used.setdefault(listener, set())
        next_free = 1
        for _catch_all, _order, key in sorted(waiting):
            while next_free in taken:
                next_free += 1
            result[key] = next_free
            taken.add(next_free)
    return result
