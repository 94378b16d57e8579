"""Bring the stack to the packaged template, and tell the user what is happening.

The state the stack is in decides the path:
- no stack → create;
- a stack that never got running (ROLLBACK_COMPLETE, CREATE_FAILED, REVIEW_IN_PROGRESS) → delete
  it and create;
- a stack another operation is changing → wait for it to settle, following its events, then
  decide again;
- UPDATE_ROLLBACK_FAILED → stop, naming the resources that failed to roll back and the recovery;
  or, when asked (`--continue-update-rollback`), continue the rollback, skipping only the
  resources the user names, and then update;
- otherwise update.
Nothing running is ever deleted to make way.

Two methods reach the same end:
- `changeset` (default): create a change set, show every change, execute it, follow events.
  A change set with nothing in it is success ("no changes"), in both forms services report it.
- `direct`: CreateStack/UpdateStack. No preview, one call fewer; Serverless and CDK offer the
  same choice. An update whose template, tags and parameters equal the deployed ones is skipped
  as "no changes" before calling UpdateStack.

Events are printed as they appear, nested stacks included (events.py); when the stack ends
anywhere but `*_COMPLETE`, the message names the root cause. While this deploy's change runs,
the rollouts of ECS services and traffic-shifted aliases are followed too (rollout.py): their
progress is printed, a failed one's own reason joins the root cause, and a stack that ends
`*_COMPLETE` over a rollout seen failing is no success.

`hybridless remove` deletes the stack through `delete_stack`, followed the same way until it is
gone, or stuck with the resources that failed named.

Two deploys of one stack at once are serialised by the stack itself. The one that finds the stack
busy waits (above); the one that loses a race after its own check (its change set refused, made
obsolete or deleted by the other's execution, its create beaten by the other's) is *overtaken*:
it goes back to waiting for the stack to settle and makes its change again on what the other
left, until `--timeout-minutes` (or the job limit) runs out, which fails the deploy having changed
nothing. A stack in REVIEW_IN_PROGRESS whose deploy change set is under two minutes old belongs
to another deploy about to execute it, and is waited for rather than deleted.

A stack change this deploy started is never left running unwatched: on SIGINT/SIGTERM, or when
`--timeout-minutes` runs out, an update is cancelled (CloudFormation rolls back to what ran
before) and a stack being created is deleted, then the stack is followed until it settles and
its state reported.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hybridless.errors import Cancelled, PhaseError
from hybridless.report import Reporter
from hybridless.report.summary import ChangeRow
from hybridless.stack.events import (
    STACK_TYPE,
    Follower,
    Poller,
    event_ids,
    failure_message,
    is_echo,
    is_throttling,
    rollback_failures,
    root_cause,
)
from hybridless.stack.rollout import Rollouts, Sources, with_reason

__all__ = ["Deletion", "Poller", "Request", "StackResult", "delete_stack", "deploy_stack"]

SUCCESS = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
RECREATE = ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS", "CREATE_FAILED")
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# GitHub ends a job after 6 hours; stop waiting before that, with time to say why.
WAIT_LIMIT_SECONDS = 6 * 3600 - 600
CHANGE_SET_LIMIT_SECONDS = 900
# How long a REVIEW_IN_PROGRESS stack with another deploy's fresh change set is left to it.
REVIEW_GRACE_SECONDS = 120
DEPLOY_DESCRIPTION = "hybridless deployment"
PREVIEW_DESCRIPTION = "hybridless preview"
# The refusals that mean another operation changed the stack after this deploy looked at it.
OVERTAKEN_CODES = ("ChangeSetNotFound", "InvalidChangeSetStatus", "AlreadyExistsException")
# After a cancellation: how long to follow the rollback before reporting where it stands.
CANCEL_FOLLOW_SECONDS = 300


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
    role_arn: str | None = None
    notification_arns: tuple[str, ...] = ()
    rollback_alarms: tuple[str, ...] = ()
    rollback_monitoring_minutes: int = 0
    termination_protection: bool | None = None
    continue_update_rollback: bool = False
    resources_to_skip: tuple[str, ...] = ()
    # Parameters the stack keeps its current value of (UsePreviousValue) unless `parameters`
    # gives one: a rollback redeploys an old template without knowing the values it ran with.
    previous_parameters: tuple[str, ...] = ()

    def parameter_list(self) -> list[dict[str, Any]]:
        given: list[dict[str, Any]] = [
            {"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()
        ]
        kept = [
            {"ParameterKey": k, "UsePreviousValue": True}
            for k in self.previous_parameters
            if k not in self.parameters
        ]
        return given + kept

    def tag_list(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.tags.items()]

    def stack_arguments(self) -> dict[str, Any]:
        """What CreateChangeSet, CreateStack and UpdateStack all take."""
        arguments: dict[str, Any] = {
            "StackName": self.stack_name,
            "TemplateURL": self.template_url,
            "Capabilities": self.capabilities,
            "Tags": self.tag_list(),
            "Parameters": self.parameter_list(),
        }
        if self.role_arn:
            arguments["RoleARN"] = self.role_arn
        if self.notification_arns:
            arguments["NotificationARNs"] = list(self.notification_arns)
        if self.rollback_alarms or self.rollback_monitoring_minutes:
            arguments["RollbackConfiguration"] = {
                "RollbackTriggers": [
                    {"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in self.rollback_alarms
                ],
                "MonitoringTimeInMinutes": self.rollback_monitoring_minutes,
            }
        return arguments


@dataclass
class Operation:
    """Whether this deploy has asked CloudFormation to change the stack: from then on an
    interruption cancels that change instead of walking away from it."""

    started: bool = False


def _overtaken(err: ClientError) -> bool:
    """Whether CloudFormation refused because another deploy changed the stack between this
    deploy's look at it and its own change."""
    if _code(err) in OVERTAKEN_CODES:
        return True
    return _code(err) == "ValidationError" and "state and can not be updated" in _message(err)


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
    cloudformation: Any,
    request: Request,
    reporter: Reporter,
    poller: Poller | None = None,
    rollouts: Sources | None = None,
) -> StackResult:
    """Bring the stack to the request's template; `rollouts` says where to follow the rollouts
    of ECS services and traffic-shifted aliases (none: CloudFormation's events only)."""
    poller = poller or Poller()
    limit = request.timeout_minutes * 60 if request.timeout_minutes else WAIT_LIMIT_SECONDS
    deadline = poller.clock() + limit
    attempt = 0
    while True:
        existing, kind = _ready(cloudformation, request, reporter, poller, deadline)
        status = existing["StackStatus"] if existing else None
        if kind == "RECREATE":
            if request.preview:
                if status != "REVIEW_IN_PROGRESS":
                    reporter.info(
                        f"stack {request.stack_name} is {status}: a deploy will recreate it"
                    )
                    return StackResult(
                        request.stack_name, str(status), changed=False, executed=False
                    )
            else:
                reporter.info(
                    f"stack {request.stack_name} is {status}: it never ran, so it is deleted and "
                    "created again"
                )
                _delete_and_wait(cloudformation, existing or {}, reporter, poller)
            kind = "CREATE"
        reporter.info(f"stack {request.stack_name}: {kind.lower()} ({request.method})")
        seen = event_ids(cloudformation, request.stack_name) if kind == "UPDATE" else set()
        operation = Operation()
        try:
            try:
                result = _make_change(
                    cloudformation, request, existing, kind, reporter, poller, operation, attempt
                )
            except ClientError as err:
                if not _overtaken(err):
                    raise
                operation.started = False
                attempt += 1
                reason = f"{_code(err)}: {_message(err)}"
                _after_overtaken(request, reason, reporter, poller, deadline)
                continue
            if result.executed and result.changed:
                result.status = _follow(
                    cloudformation,
                    request,
                    seen,
                    reporter,
                    poller,
                    deadline,
                    len(result.changes),
                    rollouts,
                )
        except KeyboardInterrupt:
            if not operation.started:
                raise
            raise _cancel(cloudformation, request, reporter, poller) from None
        break
    final = describe_stack(cloudformation, request.stack_name) or {}
    # What this deploy's own change ended in; the stack may already be in the next deploy's.
    result.status = result.status or str(final.get("StackStatus", ""))
    result.outputs = {o["OutputKey"]: o["OutputValue"] for o in final.get("Outputs", [])}
    if not request.preview:
        _protect(cloudformation, request, final, reporter)
    return result


def _make_change(
    cloudformation: Any,
    request: Request,
    existing: Mapping[str, Any] | None,
    kind: str,
    reporter: Reporter,
    poller: Poller,
    operation: Operation,
    attempt: int,
) -> StackResult:
    if request.method == "direct" and not request.preview:
        if kind == "UPDATE" and _unchanged(cloudformation, existing or {}, request):
            reporter.info("no changes: the stack already runs this template with these tags")
            return StackResult(request.stack_name, "", changed=False, executed=False)
        return _direct(cloudformation, request, kind, reporter, operation)
    return _change_set(cloudformation, request, kind, reporter, poller, operation, attempt)


def _after_overtaken(
    request: Request, reason: str, reporter: Reporter, poller: Poller, deadline: float
) -> None:
    name = request.stack_name
    if poller.clock() > deadline:
        raise PhaseError(
            "update",
            f"stack {name}: another deploy kept changing it ({reason}) until the time limit ran "
            "out; nothing was changed by this deploy",
        )
    reporter.info(
        f"stack {name}: another deploy changed it first ({reason}); waiting for it to finish, "
        "then making this deploy's change on top"
    )
    poller.wait(progressed=False)


def _ready(
    cloudformation: Any, request: Request, reporter: Reporter, poller: Poller, deadline: float
) -> tuple[dict[str, Any] | None, str]:
    """The stack once it can be changed, and how: waits out other operations and, when asked,
    finishes a failed rollback first."""
    while True:
        existing = describe_stack(cloudformation, request.stack_name)
        status = existing["StackStatus"] if existing else None
        kind = _decide(request.stack_name, status)
        if (
            kind == "RECREATE"
            and status == "REVIEW_IN_PROGRESS"
            and _claimed(cloudformation, existing or {})
        ):
            if poller.clock() > deadline:
                raise PhaseError(
                    "update",
                    f"stack {request.stack_name} was still being created by another deploy when "
                    "the time limit ran out; nothing was changed by this deploy",
                )
            reporter.info(
                f"stack {request.stack_name} is REVIEW_IN_PROGRESS with another deploy's change "
                "set: waiting for that deploy"
            )
            poller.wait(progressed=False)
        elif kind == "WAIT":
            reporter.info(
                f"stack {request.stack_name} is {status}: another operation is changing it; "
                "waiting for it to finish"
            )
            _settle(cloudformation, request.stack_name, reporter, poller, deadline)
        elif kind == "STUCK":
            _recover(cloudformation, request, reporter, poller, deadline)
        else:
            return existing, kind


def _claimed(cloudformation: Any, stack: Mapping[str, Any]) -> bool:
    """Whether a stack under review has a deploy's (not a preview's) change set made in the
    last two minutes: another deploy is about to execute it."""
    now = datetime.now(UTC)
    for page in cloudformation.get_paginator("list_change_sets").paginate(
        StackName=stack["StackId"]
    ):
        for summary in page.get("Summaries", []):
            created = summary.get("CreationTime")
            if (
                str(summary.get("Description", "")).startswith(DEPLOY_DESCRIPTION)
                and isinstance(created, datetime)
                and (now - created).total_seconds() < REVIEW_GRACE_SECONDS
            ):
                return True
    return False


def _decide(name: str, status: str | None) -> str:
    if status is None:
        return "CREATE"
    if status in RECREATE:
        return "RECREATE"
    if status == "UPDATE_ROLLBACK_FAILED":
        return "STUCK"
    if status.endswith("_IN_PROGRESS"):
        return "WAIT"
    if status in ("DELETE_FAILED", "ROLLBACK_FAILED"):
        raise PhaseError(
            "update",
            f"stack {name} is {status}: CloudFormation could not delete or roll back some of its "
            "resources; see the stack's events, fix or remove those resources, then delete the "
            "stack",
        )
    return "UPDATE"


@dataclass
class Watched:
    """How following a stack ended: its status, or the timeout it was still in, and the
    failures seen on the way."""

    status: str
    timed_out: bool
    follower: Follower


def _watch(
    cloudformation: Any,
    stack_name: str,
    reporter: Reporter,
    poller: Poller,
    deadline: float,
    seen: set[str] | None = None,
    expected: int = 0,
    rollouts: Rollouts | None = None,
) -> Watched:
    """Print each new event once, in order, until the stack leaves *_IN_PROGRESS or the deadline
    passes. `expected` is how many resources the change touches: once that many have settled,
    the end is near and polling speeds up again. Throttling slows polling down, never stops it.
    A rollout that moves counts as progress, and one due for a look wakes the loop.

    Once the stack is seen settled its events are read once more: those written between the
    last read and the settling (often the last resources' and the stack's own) are not lost."""
    if seen is None:
        seen = event_ids(cloudformation, stack_name)
    follower = Follower(cloudformation, stack_name, reporter, seen)
    while True:
        try:
            progressed = follower.poll()
            stack = describe_stack(cloudformation, stack_name) or {}
            status = str(stack.get("StackStatus", "DELETE_COMPLETE"))
            if not status.endswith("_IN_PROGRESS"):
                follower.poll()
        except ClientError as err:
            if not is_throttling(err):
                raise
            poller.throttled()
            continue
        moved = rollouts.follow(follower.latest, follower.began) if rollouts else False
        if not status.endswith("_IN_PROGRESS"):
            return Watched(status, False, follower)
        if poller.clock() > deadline:
            return Watched(status, True, follower)
        near_end = status.endswith("_CLEANUP_IN_PROGRESS") or (
            expected > 0 and len(follower.settled - {stack_name}) >= expected
        )
        poller.wait(
            progressed=bool(progressed) or moved,
            near_end=near_end,
            at_most=rollouts.due_in() if rollouts else None,
        )


def _settle(
    cloudformation: Any, stack_name: str, reporter: Reporter, poller: Poller, deadline: float
) -> str:
    """Follow an operation this deploy did not start until the stack leaves *_IN_PROGRESS."""
    watched = _watch(cloudformation, stack_name, reporter, poller, deadline)
    if watched.timed_out:
        raise PhaseError(
            "update",
            f"stack {stack_name} was still {watched.status} (another operation) when the time "
            "limit ran out; nothing was changed by this deploy",
        )
    reporter.info(f"stack {stack_name} settled: {watched.status}")
    return watched.status


def _recover(
    cloudformation: Any, request: Request, reporter: Reporter, poller: Poller, deadline: float
) -> None:
    """UPDATE_ROLLBACK_FAILED: continue the rollback if asked to, else stop with what to do."""
    name = request.stack_name
    events = [
        event
        for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=name)
        for event in page["StackEvents"]
    ]
    failed = rollback_failures(events, name)
    listing = "; ".join(
        f"{e['LogicalResourceId']} ({e['ResourceType']}): "
        f"{e.get('ResourceStatusReason') or 'no reason given'}"
        for e in failed
    )
    names = [str(e["LogicalResourceId"]) for e in failed]
    if not request.continue_update_rollback:
        skip = f" --resources-to-skip {' '.join(names)}" if names else ""
        raise PhaseError(
            "update",
            f"stack {name} is UPDATE_ROLLBACK_FAILED: "
            + (f"these resources failed to roll back: {listing}. " if failed else "")
            + "Fix what stops them, then deploy again with --continue-update-rollback "
            "(add --resources-to-skip NAME,... for resources that cannot be fixed, which are "
            "then left as they are), or run `aws cloudformation continue-update-rollback "
            f"--stack-name {name}{skip}`",
        )
    unknown = sorted(set(request.resources_to_skip) - set(names))
    if unknown:
        raise PhaseError(
            "update",
            f"--resources-to-skip names {', '.join(unknown)}, which did not fail to roll back; "
            f"those that did: {', '.join(names) or 'none'}",
        )
    skipping = (
        f", skipping {', '.join(request.resources_to_skip)}" if request.resources_to_skip else ""
    )
    reporter.info(
        f"stack {name} is UPDATE_ROLLBACK_FAILED ({listing}); continuing the rollback{skipping}"
    )
    seen = event_ids(cloudformation, name)
    arguments: dict[str, Any] = {"StackName": name}
    if request.resources_to_skip:
        arguments["ResourcesToSkip"] = list(request.resources_to_skip)
    if request.role_arn:
        arguments["RoleARN"] = request.role_arn
    cloudformation.continue_update_rollback(**arguments)
    watched = _watch(cloudformation, name, reporter, poller, deadline, seen)
    if watched.timed_out:
        raise PhaseError(
            "update", f"stack {name} was still {watched.status} when the time limit ran out"
        )
    if watched.status != "UPDATE_ROLLBACK_COMPLETE":
        raise PhaseError("update", failure_message(name, watched.status, watched.follower.failures))
    reporter.info(f"stack {name}: rollback completed; now updating")


def _delete_and_wait(
    cloudformation: Any, stack: Mapping[str, Any], reporter: Reporter, poller: Poller
) -> None:
    stack_id = stack["StackId"]
    cloudformation.delete_stack(StackName=stack_id)
    deadline = poller.clock() + CHANGE_SET_LIMIT_SECONDS
    while poller.clock() < deadline:
        current = describe_stack(cloudformation, stack_id)
        if current is None or current["StackStatus"] == "DELETE_COMPLETE":
            return
        if current["StackStatus"] == "DELETE_FAILED":
            raise PhaseError("update", f"stack {stack['StackName']} could not be deleted")
        poller.wait(progressed=False)
    raise PhaseError("update", f"stack {stack['StackName']} was not deleted within 15 minutes")


@dataclass
class Deletion:
    """How deleting a stack ended: its last status, whether the time limit ran out first, and
    each resource CloudFormation could not delete as (name, type, reason)."""

    status: str
    timed_out: bool
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def delete_stack(
    cloudformation: Any,
    stack: Mapping[str, Any],
    reporter: Reporter,
    poller: Poller | None = None,
    timeout_minutes: float | None = None,
) -> Deletion:
    """Delete the stack and print its events until it is gone or stuck. It is addressed by its
    id throughout: once deleted, its name no longer answers, while its id still describes it
    (DELETE_COMPLETE) and lists its events. A deletion already under way is followed, not
    started again."""
    poller = poller or Poller()
    limit = timeout_minutes * 60 if timeout_minutes else WAIT_LIMIT_SECONDS
    deadline = poller.clock() + limit
    stack_id = str(stack["StackId"])
    seen = event_ids(cloudformation, stack_id)
    if stack.get("StackStatus") != "DELETE_IN_PROGRESS":
        cloudformation.delete_stack(StackName=stack_id)
    watched = _watch(cloudformation, stack_id, reporter, poller, deadline, seen)
    if watched.timed_out or watched.status == "DELETE_COMPLETE":
        return Deletion(watched.status, watched.timed_out)
    return Deletion(
        watched.status, False, _delete_failures(cloudformation, stack_id, watched.follower)
    )


def _delete_failures(
    cloudformation: Any, stack_id: str, follower: Follower
) -> list[tuple[str, str, str]]:
    """The resources that stopped a deletion: from the events just seen (they carry nested
    stacks' resources and reasons), else from the stack's resource list."""
    events = [
        f
        for f in follower.failures
        if f.get("LogicalResourceId") != f.get("StackName") and not is_echo(f)
    ]
    leaves = [f for f in events if f.get("ResourceType") != STACK_TYPE] or events
    failed: dict[str, tuple[str, str, str]] = {}
    for event in leaves:
        name = f"{event.get('Label', '')}{event.get('LogicalResourceId', '?')}"
        failed[name] = (
            name,
            str(event.get("ResourceType", "?")),
            str(event.get("ResourceStatusReason") or "no reason given"),
        )
    if failed:
        return list(failed.values())
    return [
        (
            str(r.get("LogicalResourceId", "?")),
            str(r.get("ResourceType", "?")),
            str(r.get("ResourceStatusReason") or "no reason given"),
        )
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=stack_id
        )
        for r in page.get("StackResourceSummaries", [])
        if r.get("ResourceStatus") == "DELETE_FAILED"
    ]


def _protect(
    cloudformation: Any, request: Request, stack: Mapping[str, Any], reporter: Reporter
) -> None:
    """Bring termination protection to what the config says (left alone when it says nothing)."""
    wanted = request.termination_protection
    if wanted is None or not stack or bool(stack.get("EnableTerminationProtection")) == wanted:
        return
    cloudformation.update_termination_protection(
        StackName=request.stack_name, EnableTerminationProtection=wanted
    )
    reporter.info(f"termination protection {'enabled' if wanted else 'disabled'}")


def _unchanged(cloudformation: Any, stack: Mapping[str, Any], request: Request) -> bool:
    """Whether the stack already has this exact template and these tags, so the direct method
    can skip UpdateStack (a change set finds this out by itself)."""
    if not request.template_body:
        return False
    tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    # A NoEcho parameter reads back as asterisks: it cannot be compared, so it counts as changed.
    # One kept at its previous value is unchanged by definition.
    kept = set(request.previous_parameters) - set(request.parameters)
    compared = {k: v for k, v in parameters.items() if k not in kept}
    if tags != dict(request.tags) or compared != dict(request.parameters):
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
    cloudformation: Any, request: Request, kind: str, reporter: Reporter, operation: Operation
) -> StackResult:
    arguments = request.stack_arguments()
    try:
        if kind == "CREATE":
            if request.timeout_minutes:
                arguments["TimeoutInMinutes"] = max(1, math.ceil(request.timeout_minutes))
            if request.termination_protection:
                arguments["EnableTerminationProtection"] = True
            operation.started = True
            cloudformation.create_stack(**arguments)
        else:
            operation.started = True
            cloudformation.update_stack(**arguments)
    except ClientError as err:
        if _code(err) == "ValidationError" and _is_no_changes(_message(err)):
            reporter.info("no changes: the stack already matches this template")
            return StackResult(request.stack_name, "", changed=False, executed=False)
        raise
    return StackResult(request.stack_name, "")


def _change_set(
    cloudformation: Any,
    request: Request,
    kind: str,
    reporter: Reporter,
    poller: Poller,
    operation: Operation,
    attempt: int = 0,
) -> StackResult:
    name = change_set_name(request.deployment_id) + (f"-{attempt + 1}" if attempt else "")
    description = PREVIEW_DESCRIPTION if request.preview else DEPLOY_DESCRIPTION
    try:
        created = cloudformation.create_change_set(
            ChangeSetName=name,
            ChangeSetType=kind,
            Description=f"{description} {request.deployment_id}",
            **request.stack_arguments(),
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
    operation.started = True
    try:
        cloudformation.execute_change_set(ChangeSetName=change_set_id)
    except ClientError as err:
        if _overtaken(err):  # stale now: the deploy makes a new one once the stack settles
            with contextlib.suppress(ClientError):
                cloudformation.delete_change_set(ChangeSetName=change_set_id)
        raise
    return result


def _wait_for_change_set(cloudformation: Any, change_set_id: str, poller: Poller) -> Any:
    deadline = poller.clock() + CHANGE_SET_LIMIT_SECONDS
    while True:
        described = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if poller.clock() > deadline:
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
    expected: int = 0,
    sources: Sources | None = None,
) -> str:
    """Follow the change this deploy made until the stack settles; returns its status, or
    fails with the root cause (and stops the change if the time limit runs out). A rollout
    this change started and that was seen failing makes it fail even when CloudFormation
    reports success: the deploy says what ran, not what CloudFormation concluded."""
    name = request.stack_name
    rollouts = Rollouts(sources, reporter, poller.clock) if sources else None
    watched = _watch(cloudformation, name, reporter, poller, deadline, seen, expected, rollouts)
    if watched.timed_out:
        raise PhaseError("update", _give_up(cloudformation, request, watched.status, reporter))
    failures = watched.follower.failures
    if watched.status not in SUCCESS:
        message = failure_message(name, watched.status, failures)
        if rollouts is not None:
            message = with_reason(message, rollouts.explain(root_cause(failures, name)))
        raise PhaseError("update", message)
    broken = rollouts.broken() if rollouts is not None else ""
    if broken:
        raise PhaseError(
            "update",
            f"stack {name} ended {watched.status}, but a rollout this update started failed: "
            f"{broken}",
        )
    return watched.status


def _stop(cloudformation: Any, name: str, status: str) -> str:
    """Ask CloudFormation to stop the operation in progress; returns what was done."""
    try:
        if status == "UPDATE_IN_PROGRESS":
            cloudformation.cancel_update_stack(StackName=name)
            return (
                "the update was cancelled and CloudFormation rolls the stack back to what ran "
                "before"
            )
        if status == "CREATE_IN_PROGRESS":
            cloudformation.delete_stack(StackName=name)
            return "the stack was still being created, so it is being deleted"
    except ClientError as err:
        return f"cancelling failed ({_code(err)}: {_message(err)}); it is left to finish"
    return "it cannot be cancelled in that state and is left to finish"


def _give_up(cloudformation: Any, request: Request, status: str, reporter: Reporter) -> str:
    """Stop the operation the timeout ran out on; returns what the user is told."""
    name = request.stack_name
    waited = (
        f"{request.timeout_minutes:g} minute(s)" if request.timeout_minutes else "the time limit"
    )
    done = _stop(cloudformation, name, status)
    reporter.warning(f"stack {name}: {status} after {waited}; {done}")
    return f"stack {name} was still {status} after {waited}; {done}"


def _cancel(
    cloudformation: Any, request: Request, reporter: Reporter, poller: Poller
) -> BaseException:
    """After SIGINT/SIGTERM: stop what this deploy started, follow the stack until it settles
    (a second signal stops the waiting, not the cancellation), and say where it ended."""
    name = request.stack_name
    stack = describe_stack(cloudformation, name) or {}
    status = str(stack.get("StackStatus", "DELETE_COMPLETE"))
    if status not in ("UPDATE_IN_PROGRESS", "CREATE_IN_PROGRESS"):
        return Cancelled(f"interrupted; stack {name} is {status}: nothing was left running")
    done = _stop(cloudformation, name, status)
    reporter.warning(
        f"interrupted: {done}; following the stack until it settles (interrupt again to stop "
        "waiting)"
    )
    try:
        watched = _watch(
            cloudformation, name, reporter, poller, poller.clock() + CANCEL_FOLLOW_SECONDS
        )
        status = watched.status
    except KeyboardInterrupt:
        reporter.warning("stopped waiting; CloudFormation carries on")
    return Cancelled(f"deploy cancelled: stack {name} is {status} ({done})")


def nested_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The outputs of the root's nested stacks: a function's outputs live beside its
    resources, and the deploy reports them with the root's."""
    outputs: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page.get("StackResourceSummaries", []):
            if resource.get("ResourceType") != "AWS::CloudFormation::Stack":
                continue
            child = resource.get("PhysicalResourceId")
            if not child:
                continue
            for stack in cloudformation.describe_stacks(StackName=child).get("Stacks", []):
                for output in stack.get("Outputs", []):
                    outputs[output["OutputKey"]] = output["OutputValue"]
    return outputs
