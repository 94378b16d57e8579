"""Following a stack while CloudFormation changes it: every new event once, in order, nested
stacks included, and the failure that caused the rest.

Events are told apart by id, never by comparing with the local clock, so a skewed runner clock
cannot hide or repeat one. A nested stack is found through its parent's
`AWS::CloudFormation::Stack` event and followed from that event's time on (the service's clock on
both sides); its own stack-level events are left out, since the parent reports the same states.

The root cause is the first failure that is not an echo of another: CloudFormation follows one
failed resource with "Resource creation cancelled" for its siblings, and a nested stack's failure
with "Embedded stack ... was not successfully created" in its parent. The resource that actually
failed, wherever it is, is what the user needs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from hybridless.report import Reporter

STACK_TYPE = "AWS::CloudFormation::Stack"
ECHOES = ("cancelled", "canceled")
THROTTLING = ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests")


class Poller:
    """Sleeps between polls: quickly while things change or the end is near, backing off while
    nothing does, with jitter so parallel deploys do not poll in step, and backing off harder when
    the API throttles. The slowest interval bounds how late the end is noticed."""

    def __init__(
        self,
        fastest: float = 1.0,
        slowest: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.fastest = fastest
        self.slowest = slowest
        self.delay = fastest
        self._sleep = sleep
        self.clock = clock
        self._jitter = jitter

    def wait(self, progressed: bool, near_end: bool = False, at_most: float | None = None) -> None:
        """Sleep until the next poll; `at_most` wakes it earlier for something due sooner (a
        rollout to look at), without changing the pace."""
        if progressed or near_end:
            self.delay = self.fastest
        else:
            self.delay = min(self.slowest, self.delay * 1.5)
        pause = self.delay * self._jitter(0.8, 1.2)
        self._sleep(pause if at_most is None else max(0.0, min(pause, at_most)))

    def throttled(self) -> None:
        self.delay = min(self.slowest * 4, max(self.delay, self.fastest) * 2)
        self._sleep(self.delay * self._jitter(1.0, 1.5))


def is_throttling(err: ClientError) -> bool:
    return str(err.response.get("Error", {}).get("Code", "")) in THROTTLING


def event_ids(cloudformation: Any, stack_name: str) -> set[str]:
    """The newest page of events now: the line under which nothing is new."""
    try:
        page = cloudformation.describe_stack_events(StackName=stack_name)
    except ClientError as err:
        if "does not exist" in str(err.response.get("Error", {}).get("Message", "")):
            return set()
        raise  # anything else: old events must not be mistaken for new ones
    return {event["EventId"] for event in page["StackEvents"]}


def new_events(cloudformation: Any, stack: str, seen: set[str]) -> list[dict[str, Any]]:
    """Events not seen yet, oldest first; stops reading at the first one already seen (the
    service lists newest first)."""
    fresh: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack):
        for event in page["StackEvents"]:
            if event["EventId"] in seen:
                break
            fresh.append(event)
        else:
            continue
        break
    seen.update(event["EventId"] for event in fresh)
    fresh.reverse()
    return fresh


def is_echo(event: Mapping[str, Any]) -> bool:
    reason = str(event.get("ResourceStatusReason") or "").lower()
    return any(word in reason for word in ECHOES)


def root_cause(
    failures: Sequence[Mapping[str, Any]], stack_name: str = ""
) -> Mapping[str, Any] | None:
    """The first failed resource that is neither a cancellation nor a stack reporting that
    something inside it failed."""
    resources = [
        f for f in failures if f.get("LogicalResourceId") not in (stack_name, f.get("StackName"))
    ]
    failures = resources or list(failures)
    real = [f for f in failures if not is_echo(f)]
    leaves = [f for f in real if f.get("ResourceType") != STACK_TYPE]
    pool = leaves or real or list(failures)
    if not pool:
        return None
    return min(pool, key=lambda f: f.get("Timestamp") or datetime.max)


def describe_failure(event: Mapping[str, Any]) -> str:
    name = f"{event.get('Label', '')}{event.get('LogicalResourceId', '?')}"
    reason = event.get("ResourceStatusReason") or "no reason given"
    return f"{name} ({event.get('ResourceType', '?')}): {reason}"


def failure_message(stack_name: str, status: str, failures: Sequence[Mapping[str, Any]]) -> str:
    cause = root_cause(failures, stack_name)
    if cause is None:
        return f"stack {stack_name} ended {status}"
    return f"stack {stack_name} ended {status}; the root cause: {describe_failure(cause)}"


def rollback_failures(
    events: Sequence[Mapping[str, Any]], stack_name: str
) -> list[Mapping[str, Any]]:
    """The resources that failed during the latest rollback, from a stack's events newest first:
    what stands between an UPDATE_ROLLBACK_FAILED stack and a working one."""
    failed: dict[str, Mapping[str, Any]] = {}
    for event in events:
        if event.get("LogicalResourceId") == stack_name:
            if event.get("ResourceStatus") == "UPDATE_ROLLBACK_IN_PROGRESS":
                break
            continue
        if str(event.get("ResourceStatus", "")).endswith("_FAILED"):
            failed.setdefault(str(event["LogicalResourceId"]), event)
    return list(reversed(failed.values()))


@dataclass
class Followed:
    stack: str  # name or id, as the API takes it
    label: str  # "" for the root, "Database/" for a nested stack
    seen: set[str]
    since: datetime | None = None


@dataclass
class Follower:
    """Prints each new event of a stack and of every nested stack it reaches, oldest first.

    It also keeps each resource's newest event (`latest`, by label and logical id) and the time
    of the first event it printed (`began`, CloudFormation's clock): what the rollout watcher
    needs to know which services and aliases are changing, and since when."""

    cloudformation: Any
    stack_name: str
    reporter: Reporter
    seen: set[str] = field(default_factory=set)
    failures: list[dict[str, Any]] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)
    stacks: list[Followed] = field(default_factory=list)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    began: datetime | None = None

    def __post_init__(self) -> None:
        self.stacks = [Followed(self.stack_name, "", self.seen)]

    def poll(self) -> int:
        """Print what is new; returns how many events that was."""
        fresh: list[tuple[Followed, dict[str, Any]]] = []
        for followed in list(self.stacks):
            try:
                events = new_events(self.cloudformation, followed.stack, followed.seen)
            except ClientError as err:
                if followed.label and not is_throttling(err):
                    continue  # a nested stack already gone: its parent's events still tell
                raise
            for event in events:
                if followed.since and event["Timestamp"] < followed.since:
                    continue
                if followed.label and event["LogicalResourceId"] == event.get("StackName"):
                    continue
                fresh.append((followed, event))
                self._discover(followed, event)
        fresh.sort(key=lambda pair: pair[1]["Timestamp"])
        for followed, event in fresh:
            self.reporter.stack_event(event, label=followed.label)
            if self.began is None:
                self.began = event["Timestamp"]
            labelled = {**event, "Label": followed.label}
            self.latest[f"{followed.label}{event['LogicalResourceId']}"] = labelled
            status = str(event["ResourceStatus"])
            if status.endswith("_FAILED"):
                self.failures.append(labelled)
            if not followed.label and status.endswith(("_COMPLETE", "_FAILED", "_SKIPPED")):
                self.settled.add(str(event["LogicalResourceId"]))
        return len(fresh)

    def _discover(self, parent: Followed, event: Mapping[str, Any]) -> None:
        physical = str(event.get("PhysicalResourceId") or "")
        if event.get("ResourceType") != STACK_TYPE or not physical.startswith("arn:"):
            return
        if physical == event.get("StackId") or any(s.stack == physical for s in self.stacks):
            return
        since = event["Timestamp"] - timedelta(seconds=1)
        label = f"{parent.label}{event['LogicalResourceId']}/"
        self.stacks.append(Followed(physical, label, set(), since))
