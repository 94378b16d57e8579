"""Bring the stack to the packaged template, and tell the user what is happening.

The state the stack is in decides the path: no stack → create; a stack that never got running
(ROLLBACK_COMPLETE, REVIEW_IN_PROGRESS) → delete it and create; a stack another operation is
changing → stop and say so; UPDATE_ROLLBACK_FAILED → stop with the recovery command; otherwise
update. Nothing running is ever deleted to make way.

Two methods reach the same end:
- `changeset` (default): create a change set, show every change, execute it, follow events.
  A change set with nothing in it is success ("no changes"), in both forms services report it.
- `direct`: CreateStack/UpdateStack. No preview, one call fewer; Serverless and CDK offer the
  same choice. An update whose template and tags equal the deployed ones is skipped as
  "no changes" before calling UpdateStack. Emulators that do not recompute outputs when
  executing a change set (moto) give correct outputs this way.

Events are printed as they appear; when the stack ends anywhere but `*_COMPLETE`, the message
names the first resource that failed and why, not the cancellations that followed it.

With a timeout, a stack still changing when it runs out is not left to finish unwatched: an
update is cancelled (CloudFormation rolls it back to what ran before) and a stack being created
is deleted, so the job's failure and the stack's state agree.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from hybridless.errors import PhaseError
from hybridless.report import Reporter
from hybridless.report.summary import ChangeRow

SUCCESS = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
RECREATE = ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS")
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
WAIT_LIMIT_SECONDS = 6 * 3600 - 600
CHANGE_SET_LIMIT_SECONDS = 900


Change = ChangeRow


@dataclass
class StackResult:
    stack_name: str
    status: str
    change_set_id: str | None = None
    changes: list[Change] = field(default_factory=list)
    changed: bool = True
    executed: bool = True
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    stack_name: str
    template_url: str
    capabilities: list[str]
    tags: Mapping[str, str]
    method: str
    deployment_id: str
    template_body: str = ""
    preview: bool = False
    parameters: Mapping[str, str] = field(default_factory=dict)
    timeout_minutes: float | None = None

    def parameter_list(self) -> list[dict[str, str]]:
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()]

    def tag_list(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.tags.items()]


class Poller:
    """Sleeps between polls: quickly while things change, backing off while nothing does."""

    def __init__(
        self,
        fastest: float = 1.0,
        slowest: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fastest = fastest
        self.slowest = slowest
        self.delay = fastest
        self._sleep = sleep
        self.clock = clock

    def wait(self, progressed: bool) -> None:
        self.delay = self.fastest if progressed else min(self.slowest, self.delay * 1.5)
        self._sleep(self.delay)


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", err))


def _is_no_changes(text: str) -> bool:
    return any(marker in text for marker in NO_CHANGES)


def describe_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(cloudformation.describe_stacks(StackName=name)["Stacks"][0])
    except ClientError as err:
        if _code(err) == "ValidationError" and "does not exist" in _message(err):
            return None
        raise


def change_set_name(deployment_id: str) -> str:
    return ("hybridless-" + re.sub(r"[^A-Za-z0-9-]", "-", deployment_id))[:128]


def deploy_stack(
    cloudformation: Any, request: Request, reporter: Reporter, poller: Poller | None = None
) -> StackResult:
    poller = poller or Poller()
    limit = request.timeout_minutes * 60 if request.timeout_minutes else WAIT_LIMIT_SECONDS
    deadline = poller.clock() + limit
    existing = describe_stack(cloudformation, request.stack_name)
    status = existing["StackStatus"] if existing else None
    kind = _decide(request.stack_name, status)
    if kind == "RECREATE":
        if request.preview:
            kind = "CREATE" if status == "REVIEW_IN_PROGRESS" else kind
        else:
            reporter.info(
                f"stack {request.stack_name} is {status}: it never ran, so it is deleted and "
                "created again"
            )
            _delete_and_wait(cloudformation, existing or {}, reporter, poller)
            kind = "CREATE"
    if kind == "RECREATE":
        reporter.info(f"stack {request.stack_name} is {status}: a deploy will recreate it")
        return StackResult(request.stack_name, str(status), changed=False, executed=False)
    reporter.info(f"stack {request.stack_name}: {kind.lower()} ({request.method})")
    seen = _event_ids(cloudformation, request.stack_name) if kind == "UPDATE" else set()
    if request.method == "direct" and not request.preview:
        if kind == "UPDATE" and _unchanged(cloudformation, existing or {}, request):
            reporter.info("no changes: the stack already runs this template with these tags")
            result = StackResult(request.stack_name, "", changed=False, executed=False)
        else:
            result = _direct(cloudformation, request, kind, reporter, poller)
    else:
        result = _change_set(cloudformation, request, kind, reporter, poller)
    if result.executed and result.changed:
        result.status = _follow(cloudformation, request, seen, reporter, poller, deadline)
    final = describe_stack(cloudformation, request.stack_name) or {}
    result.status = str(final.get("StackStatus", result.status))
    result.outputs = {o["OutputKey"]: o["OutputValue"] for o in final.get("Outputs", [])}
    return result


def _decide(name: str, status: str | None) -> str:
    if status is None:
        return "CREATE"
    if status in RECREATE:
        return "RECREATE"
    if status == "UPDATE_ROLLBACK_FAILED":
        raise PhaseError(
            "update",
            f"stack {name} is UPDATE_ROLLBACK_FAILED: fix the resources that failed to roll "
            f"back, then run `aws cloudformation continue-update-rollback --stack-name {name}` "
            "(add --resources-to-skip for resources that cannot be fixed)",
        )
    if status.endswith("_IN_PROGRESS"):
        raise PhaseError(
            "update", f"stack {name} is {status}: another operation is changing it; retry later"
        )
    if status in ("DELETE_FAILED", "ROLLBACK_FAILED"):
        raise PhaseError("update", f"stack {name} is {status}: it needs attention by hand first")
    return "UPDATE"


def _delete_and_wait(
    cloudformation: Any, stack: Mapping[str, Any], reporter: Reporter, poller: Poller
) -> None:
    stack_id = stack["StackId"]
    cloudformation.delete_stack(StackName=stack_id)
    deadline = time.monotonic() + CHANGE_SET_LIMIT_SECONDS
    while time.monotonic() < deadline:
        current = describe_stack(cloudformation, stack_id)
        if current is None or current["StackStatus"] == "DELETE_COMPLETE":
            return
        if current["StackStatus"] == "DELETE_FAILED":
            raise PhaseError("update", f"stack {stack['StackName']} could not be deleted")
        poller.wait(progressed=False)
    raise PhaseError("update", f"stack {stack['StackName']} was not deleted within 15 minutes")


def _unchanged(cloudformation: Any, stack: Mapping[str, Any], request: Request) -> bool:
    """Whether the stack already has this exact template and these tags, so the direct method
    can skip UpdateStack (a change set finds this out by itself)."""
    if not request.template_body:
        return False
    tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    # A NoEcho parameter reads back as asterisks: it cannot be compared, so it counts as changed.
    if tags != dict(request.tags) or parameters != dict(request.parameters):
        return False
    deployed = cloudformation.get_template(StackName=request.stack_name, TemplateStage="Original")[
        "TemplateBody"
    ]
    try:
        current = deployed if isinstance(deployed, dict) else json.loads(deployed)
        return bool(current == json.loads(request.template_body))
    except ValueError:
        return False


def _direct(
    cloudformation: Any, request: Request, kind: str, reporter: Reporter, poller: Poller
) -> StackResult:
    arguments: dict[str, Any] = {
        "StackName": request.stack_name,
        "TemplateURL": request.template_url,
        "Capabilities": request.capabilities,
        "Tags": request.tag_list(),
        "Parameters": request.parameter_list(),
    }
    try:
        if kind == "CREATE":
            if request.timeout_minutes:
                arguments["TimeoutInMinutes"] = max(1, math.ceil(request.timeout_minutes))
            cloudformation.create_stack(**arguments)
        else:
            cloudformation.update_stack(**arguments)
    except ClientError as err:
        if _code(err) == "ValidationError" and _is_no_changes(_message(err)):
            reporter.info("no changes: the stack already matches this template")
            return StackResult(request.stack_name, "", changed=False, executed=False)
        raise
    return StackResult(request.stack_name, "")


def _change_set(
    cloudformation: Any, request: Request, kind: str, reporter: Reporter, poller: Poller
) -> StackResult:
    name = change_set_name(request.deployment_id)
    try:
        created = cloudformation.create_change_set(
            StackName=request.stack_name,
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateURL=request.template_url,
            Capabilities=request.capabilities,
            Tags=request.tag_list(),
            Parameters=request.parameter_list(),
            Description=f"hybridless deployment {request.deployment_id}",
        )
    except ClientError as err:
        if _code(err) == "ValidationError" and _is_no_changes(_message(err)):
            reporter.info("no changes: the stack already matches this template")
            return StackResult(request.stack_name, "", changed=False, executed=False)
        raise
    change_set_id = str(created["Id"])
    described = _wait_for_change_set(cloudformation, change_set_id, poller)
    if described["Status"] == "FAILED":
        reason = str(described.get("StatusReason", ""))
        if _is_no_changes(reason):
            reporter.info("no changes: the stack already matches this template")
            cloudformation.delete_change_set(ChangeSetName=change_set_id)
            return StackResult(
                request.stack_name, "", change_set_id=None, changed=False, executed=False
            )
        raise PhaseError("update", f"change set {name} failed: {reason}")
    changes = _all_changes(cloudformation, change_set_id, described)
    reporter.change_set(name, changes)
    result = StackResult(request.stack_name, "", change_set_id=change_set_id, changes=changes)
    if request.preview:
        reporter.info(f"preview: change set {name} created and left unexecuted")
        result.executed = False
        return result
    cloudformation.execute_change_set(ChangeSetName=change_set_id)
    return result


def _wait_for_change_set(cloudformation: Any, change_set_id: str, poller: Poller) -> Any:
    deadline = time.monotonic() + CHANGE_SET_LIMIT_SECONDS
    while True:
        described = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if time.monotonic() > deadline:
            raise PhaseError("update", "the change set was not ready within 15 minutes")
        poller.wait(progressed=False)


def _all_changes(cloudformation: Any, change_set_id: str, first: Any) -> list[Change]:
    page = first
    changes = []
    while True:
        for change in page.get("Changes", []):
            detail = change.get("ResourceChange", {})
            changes.append(
                Change(
                    action=str(detail.get("Action", "?")),
                    logical_id=str(detail.get("LogicalResourceId", "?")),
                    resource_type=str(detail.get("ResourceType", "?")),
                    replacement=str(detail.get("Replacement") or "-"),
                )
            )
        token = page.get("NextToken")
        if not token:
            return changes
        page = cloudformation.describe_change_set(ChangeSetName=change_set_id, NextToken=token)


def _follow(
    cloudformation: Any,
    request: Request,
    seen: set[str],
    reporter: Reporter,
    poller: Poller,
    deadline: float,
) -> str:
    """Print each new event once, in order, until the stack settles; return its status."""
    stack_name = request.stack_name
    failures: list[dict[str, Any]] = []
    while True:
        new = _new_events(cloudformation, stack_name, seen)
        for event in new:
            reporter.stack_event(event)
            if event["ResourceStatus"].endswith("_FAILED"):
                failures.append(event)
        stack = describe_stack(cloudformation, stack_name) or {}
        status = str(stack.get("StackStatus", "DELETE_COMPLETE"))
        if not status.endswith("_IN_PROGRESS"):
            if status not in SUCCESS:
                raise PhaseError("update", _failure_message(stack_name, status, failures))
            return status
        if poller.clock() > deadline:
            raise PhaseError("update", _give_up(cloudformation, request, status, reporter))
        poller.wait(progressed=bool(new))


def _give_up(cloudformation: Any, request: Request, status: str, reporter: Reporter) -> str:
    """Stop the operation the timeout ran out on; returns what the user is told."""
    name = request.stack_name
    waited = (
        f"{request.timeout_minutes:g} minute(s)" if request.timeout_minutes else "the time limit"
    )
    try:
        if status == "UPDATE_IN_PROGRESS":
            cloudformation.cancel_update_stack(StackName=name)
            done = (
                "the update was cancelled and CloudFormation rolls the stack back to what ran "
                "before"
            )
        elif status == "CREATE_IN_PROGRESS":
            cloudformation.delete_stack(StackName=name)
            done = "the stack was still being created, so it is being deleted"
        else:
            done = "it cannot be cancelled in that state and is left to finish"
    except ClientError as err:
        done = f"cancelling failed ({_code(err)}: {_message(err)}); it is left to finish"
    reporter.warning(f"stack {name}: {status} after {waited}; {done}")
    return f"stack {name} was still {status} after {waited}; {done}"


def _event_ids(cloudformation: Any, stack_name: str) -> set[str]:
    """The newest page of events before this deploy: the line under which nothing is new.
    Event ids, not timestamps, so a skewed local clock cannot hide or repeat events."""
    try:
        page = cloudformation.describe_stack_events(StackName=stack_name)
    except ClientError:
        return set()
    return {event["EventId"] for event in page["StackEvents"]}


def _new_events(cloudformation: Any, stack_name: str, seen: set[str]) -> list[dict[str, Any]]:
    """Events not printed yet, oldest first; stops reading at the first one already seen
    (the service lists newest first)."""
    fresh: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stack_events").paginate(
        StackName=stack_name
    ):
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


def _failure_message(stack_name: str, status: str, failures: list[dict[str, Any]]) -> str:
    root = next(
        (
            f
            for f in failures
            if "cancelled" not in (f.get("ResourceStatusReason") or "").lower()
            and f["LogicalResourceId"] != stack_name
        ),
        failures[0] if failures else None,
    )
    if root is None:
        return f"stack {stack_name} ended {status}"
    return (
        f"stack {stack_name} ended {status}; the first failure: {root['LogicalResourceId']} "
        f"({root['ResourceType']}): {root.get('ResourceStatusReason') or 'no reason given'}"
    )
