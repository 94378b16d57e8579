"""A CloudFormation double: the AWS query protocol on 127.0.0.1, played from a scenario file.

moto cannot show what a deploy tool is judged by on a bad night: per-resource events with
reasons, failures and rollbacks, stacks busy with another deploy, nested stacks failing,
cancellation, AWS's own form of an empty change set. This service answers the CloudFormation
calls the tool makes exactly as the service documents them, and what happens to the stack
after each call is scripted in a scenario (tests/scenarios/*.yml):

    description: what the scenario shows
    stack:                     # the stack before the deploy (omit: no stack)
      status: UPDATE_COMPLETE
      outputs: {Endpoint: http://old}
      events: [...]            # events already in its history
      settle: [...]            # events that happen on their own, timed from the double's start
    changes:                   # a change set's content; [] gives AWS's FAILED "no changes" form
      - [Modify, WebService, AWS::ECS::Service, "False"]
    change_set_seconds: 0.3    # how long a change set takes to be ready (default: at once)
    execute:                   # one timeline per execution (ExecuteChangeSet, Create/UpdateStack);
      - [...]                  # the last one repeats
    outputs: {...}             # the stack's outputs once an execution completes
    cancel: [...]              # after CancelUpdateStack
    continue: [...]            # after ContinueUpdateRollback
    delete: [...]              # after DeleteStack (default: DELETE_IN_PROGRESS, DELETE_COMPLETE)
    throttle:                  # calls answered with Throttling, by action and 1-based number
      DescribeStackEvents: [3, 4, 5]
    ecs: {...}                 # the rollouts the stack's services and aliases start:
    codedeploy: {...}          # see rollout_double.py

A timeline is a list of events `{at: seconds after the call, resource: LogicalId, type: ...,
status: ..., reason: ..., stack: NestedLogicalId}`. Without `resource` the event is the stack's
own and sets its status; with `stack` it happens in that nested stack (whose own events the
tool must find through the parent's `AWS::CloudFormation::Stack` resource).

Two clients may deploy at once, and meet what they would on CloudFormation: a change set, an
UpdateStack or an ExecuteChangeSet is refused while the stack is busy, a CreateStack when it
exists, and executing a change set deletes the stack's other change sets.

A change set keeps the RollbackConfiguration it was created with (alarms and monitoring time),
and the stack takes it on when the change set runs, so DescribeStacks shows what was received.

Every call is recorded (action, parameters, time), so tests and benchmarks can count calls and
check what was asked. The same server answers ECS and CodeDeploy (rollout_double.py), told
apart by their protocol. The tool reaches the double like any endpoint:
AWS_ENDPOINT_URL_CLOUDFORMATION (and _ECS, _CODEDEPLOY)=http://127.0.0.1:<port>.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import yaml

from proving_ground.procs import Served
from proving_ground.rollout_double import TARGETS, RolloutDouble, ServiceError

ACCOUNT = "123456789012"
REGION = "us-east-1"
NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create "
    "a change set."
)
DEFAULT_DELETE = [
    {"at": 0.05, "status": "DELETE_IN_PROGRESS", "reason": "User Initiated"},
    {"at": 0.2, "status": "DELETE_COMPLETE"},
]
EVENTS_PAGE = 100
CHANGES_PAGE = 3


CloudFormationError = ServiceError  # the query protocol's errors carry the same three parts


@dataclass
class Stack:
    name: str
    status: str
    id: str = ""
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    parameters: list[dict[str, str]] = field(default_factory=list)
    termination_protection: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    parent: str | None = None
    rollback_configuration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.name}/{uuid.uuid4()}"

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "StackId": self.id,
            "StackName": self.name,
            "StackStatus": self.status,
            "CreationTime": _time(self.created),
            "EnableTerminationProtection": self.termination_protection,
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
            "Tags": self.tags,
            "Parameters": self.parameters,
        }
        if self.reason:
            described["StackStatusReason"] = self.reason
        if self.parent:
            described["ParentId"] = self.parent
        if self.rollback_configuration:
            described["RollbackConfiguration"] = self.rollback_configuration
        return described


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _members(params: dict[str, str], prefix: str) -> list[str]:
    found: list[str] = []
    n = 1
    while f"{prefix}.member.{n}" in params:
        found.append(params[f"{prefix}.member.{n}"])
        n += 1
    return found


def _pairs(params: dict[str, str], prefix: str, key: str, value: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    n = 1
    while f"{prefix}.member.{n}.{key}" in params:
        base = f"{prefix}.member.{n}"
        found.append({key: params[f"{base}.{key}"], value: params.get(f"{base}.{value}", "")})
        n += 1
    return found


def _rollback_configuration(params: dict[str, str]) -> dict[str, Any] | None:
    prefix = "RollbackConfiguration"
    if not any(key.startswith(prefix) for key in params):
        return None
    triggers = _pairs(params, f"{prefix}.RollbackTriggers", "Arn", "Type")
    return {
        "RollbackTriggers": triggers,
        "MonitoringTimeInMinutes": int(params.get(f"{prefix}.MonitoringTimeInMinutes", "0")),
    }


def to_xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{k}>{to_xml(v)}</{k}>" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join(f"<member>{to_xml(v)}</member>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


class Double:
    """The state machine behind the HTTP surface; thread-safe, driven by the clock."""

    def __init__(
        self, scenario: dict[str, Any], stack_name: str = "app", clock: Any = time.monotonic
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.stacks: dict[str, Stack] = {}  # by id
        self.pending: list[tuple[float, str, dict[str, Any]]] = []  # (due, stack id, event)
        self.change_sets: dict[str, dict[str, Any]] = {}
        self.executions = 0
        self.started = clock()
        self.rollouts = RolloutDouble(scenario, clock)
        initial = scenario.get("stack")
        if initial:
            stack = Stack(
                name=stack_name,
                status=initial["status"],
                outputs=dict(initial.get("outputs", {})),
            )
            self.stacks[stack.id] = stack
            for event in initial.get("events", []):
                self._apply(stack, event, self._wall(-60 + float(event.get("at", 0))))
            self._schedule(stack, initial.get("settle", []))

    # --- time and events -------------------------------------------------------------------

    def _wall(self, offset: float = 0.0) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=offset)

    def _schedule(self, stack: Stack, timeline: list[dict[str, Any]]) -> None:
        now = self.clock()
        for event in timeline:
            self.pending.append((now + float(event.get("at", 0)), stack.id, event))
        self.pending.sort(key=lambda item: item[0])

    def _cancel_pending(self, stack: Stack) -> None:
        self.pending = [p for p in self.pending if p[1] != stack.id]

    def _advance(self) -> None:
        now = self.clock()
        while self.pending and self.pending[0][0] <= now:
            _, stack_id, event = self.pending.pop(0)
            self._apply(self.stacks[stack_id], event, self._wall())
        self.rollouts.advance()

    def _nested(self, parent: Stack, logical_id: str) -> Stack:
        for stack in self.stacks.values():
            if stack.parent == parent.id and stack.name.startswith(f"{parent.name}-{logical_id}-"):
                return stack
        nested = Stack(name=f"{parent.name}-{logical_id}-{uuid.uuid4().hex[:12].upper()}",
                       status="CREATE_IN_PROGRESS", parent=parent.id)  # fmt: skip
        self.stacks[nested.id] = nested
        return nested

    def _apply(self, root: Stack, event: dict[str, Any], when: datetime) -> None:
        stack = self._nested(root, event["stack"]) if event.get("stack") else root
        resource = event.get("resource")
        status = str(event["status"])
        physical = stack.id if not resource else event.get("physical", f"{resource}-physical")
        if event.get("type") == "AWS::CloudFormation::Stack" and resource:
            physical = self._nested(stack, resource).id
        stack.events.append(
            {
                "StackId": stack.id,
                "EventId": str(uuid.uuid4()),
                "StackName": stack.name,
                "LogicalResourceId": resource or stack.name,
                "PhysicalResourceId": physical,
                "ResourceType": event.get("type", "AWS::CloudFormation::Stack"),
                "Timestamp": _time(when),
                "ResourceStatus": status,
                "ResourceStatusReason": event.get("reason"),
            }
        )
        if not resource:
            stack.status = status
            stack.reason = event.get("reason", "")
            if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") and stack.parent is None:
                stack.outputs = dict(self.scenario.get("outputs", stack.outputs))

    # --- lookup ----------------------------------------------------------------------------

    def _find(self, name_or_id: str, *, live: bool = True) -> Stack:
        for stack in self.stacks.values():
            if name_or_id == stack.id:
                return stack
        for stack in reversed(list(self.stacks.values())):
            if stack.name == name_or_id and (not live or stack.status != "DELETE_COMPLETE"):
                return stack
        raise CloudFormationError("ValidationError", f"Stack with id {name_or_id} does not exist")

    def _root(self, params: dict[str, str]) -> Stack:
        return self._find(params["StackName"])

    # --- the actions -----------------------------------------------------------------------

    def handle(
        self, action: str, params: dict[str, Any], service: str = "cloudformation"
    ) -> dict[str, Any]:
        """Answer one call; ECS and CodeDeploy calls are named `ecs:<Action>` and
        `codedeploy:<Action>` in the record and in `throttle:`."""
        recorded = action if service == "cloudformation" else f"{service}:{action}"
        with self.lock:
            self.calls.append({"action": recorded, "params": params, "at": self.clock()})
            number = sum(1 for call in self.calls if call["action"] == recorded)
            if number in self.scenario.get("throttle", {}).get(recorded, []):
                if service != "cloudformation":
                    raise ServiceError("ThrottlingException", "Rate exceeded")
                raise CloudFormationError("Throttling", "Rate exceeded")
            self._advance()
            if service != "cloudformation":
                return self.rollouts.handle(service, action, params)
            handler = getattr(self, f"_{action}", None)
            if handler is None:
                raise CloudFormationError("InvalidAction", f"{action} is not part of this double")
            return dict(handler(params))

    def _DescribeStacks(self, params: dict[str, str]) -> dict[str, Any]:
        return {"Stacks": [self._root(params).describe()]}

    def _DescribeStackEvents(self, params: dict[str, str]) -> dict[str, Any]:
        events = list(reversed(self._find(params["StackName"], live=False).events))
        start = int(params.get("NextToken", "0"))
        page = events[start : start + EVENTS_PAGE]
        more = start + EVENTS_PAGE < len(events)
        return {"StackEvents": page, "NextToken": str(start + EVENTS_PAGE) if more else None}

    def _ValidateTemplate(self, params: dict[str, str]) -> dict[str, Any]:
        return {"Parameters": [], "Capabilities": self.scenario.get("capabilities", [])}

    def _GetTemplateSummary(self, params: dict[str, str]) -> dict[str, Any]:
        """What `aws cloudformation deploy` asks first, to merge the template's parameters."""
        return self._ValidateTemplate(params)

    def _GetTemplate(self, params: dict[str, str]) -> dict[str, Any]:
        return {"TemplateBody": "{}"}

    def _ListStackResources(self, params: dict[str, str]) -> dict[str, Any]:
        self._root(params)
        return {"StackResourceSummaries": []}

    def _CreateChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        kind = params.get("ChangeSetType", "UPDATE")
        if kind == "CREATE":
            try:
                self._find(params["StackName"])
                raise CloudFormationError(
                    "AlreadyExistsException", f"Stack [{params['StackName']}] already exists"
                )
            except CloudFormationError as err:
                if err.code != "ValidationError":
                    raise
            stack = Stack(name=params["StackName"], status="REVIEW_IN_PROGRESS")
            self.stacks[stack.id] = stack
            self._apply(stack, {"status": "REVIEW_IN_PROGRESS", "reason": "User Initiated"},
                        self._wall())  # fmt: skip
        else:
            stack = self._root(params)
            if stack.status.endswith("_IN_PROGRESS") or stack.status in (
                "UPDATE_ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "DELETE_FAILED"
            ):  # fmt: skip
                raise CloudFormationError(
                    "ValidationError",
                    f"Stack:{stack.id} is in {stack.status} state and can not be updated.",
                )
        change_set_id = (
            f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/{params['ChangeSetName']}/"
            f"{uuid.uuid4()}"
        )
        changes = self.scenario.get("changes", [])
        self.change_sets[change_set_id] = {
            "ChangeSetName": params["ChangeSetName"],
            "ChangeSetId": change_set_id,
            "StackId": stack.id,
            "StackName": stack.name,
            "Description": params.get("Description"),
            "CreationTime": _time(self._wall()),
            "Status": "CREATE_COMPLETE" if changes else "FAILED",
            "StatusReason": None if changes else NO_CHANGES,
            "ExecutionStatus": "AVAILABLE" if changes else "UNAVAILABLE",
            "ready": self.clock() + float(self.scenario.get("change_set_seconds", 0)),
            "changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": c[0],
                        "LogicalResourceId": c[1],
                        "ResourceType": c[2],
                        "Replacement": c[3] if len(c) > 3 else None,
                    },
                }
                for c in changes
            ],
            "tags": _pairs(params, "Tags", "Key", "Value"),
            "parameters": _pairs(params, "Parameters", "ParameterKey", "ParameterValue"),
            "rollback": _rollback_configuration(params),
        }
        return {"Id": change_set_id, "StackId": stack.id}

    def _change_set(self, params: dict[str, str]) -> dict[str, Any]:
        name = params["ChangeSetName"]
        if name in self.change_sets:
            return self.change_sets[name]
        raise CloudFormationError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist")

    def _DescribeChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        change_set = self._change_set(params)
        start = int(params.get("NextToken", "0"))
        changes = change_set["changes"]
        more = start + CHANGES_PAGE < len(changes)
        described = {k: v for k, v in change_set.items() if k[0].isupper()}
        if self.clock() < change_set["ready"]:
            described.update(Status="CREATE_IN_PROGRESS", ExecutionStatus="UNAVAILABLE")
        if change_set["rollback"]:
            described["RollbackConfiguration"] = change_set["rollback"]
        return {
            **described,
            "Changes": changes[start : start + CHANGES_PAGE],
            "NextToken": str(start + CHANGES_PAGE) if more else None,
        }

    def _ListChangeSets(self, params: dict[str, str]) -> dict[str, Any]:
        stack = self._root(params)
        fields = ("ChangeSetId", "ChangeSetName", "StackId", "StackName", "Status",
                  "ExecutionStatus", "Description", "CreationTime")  # fmt: skip
        return {
            "Summaries": [
                {key: change_set[key] for key in fields}
                for change_set in self.change_sets.values()
                if change_set["StackId"] == stack.id
            ]
        }

    def _DeleteChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        self.change_sets.pop(self._change_set(params)["ChangeSetId"])
        return {}

    def _execute(self, stack: Stack, kind: str) -> None:
        timelines = self.scenario.get("execute") or [[]]
        timeline = timelines[min(self.executions, len(timelines) - 1)]
        self.executions += 1
        status = "CREATE_IN_PROGRESS" if kind == "CREATE" else "UPDATE_IN_PROGRESS"
        self._apply(stack, {"status": status, "reason": "User Initiated"}, self._wall())
        self._schedule(stack, timeline)
        self.rollouts.start(self.executions - 1)

    def _ExecuteChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        change_set = self._change_set(params)
        if change_set["Status"] != "CREATE_COMPLETE" or self.clock() < change_set["ready"]:
            raise CloudFormationError(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current "
                f"status of [{change_set['Status']}]",
            )
        stack = self._find(change_set["StackId"])
        self._refuse_if_busy(stack, "InvalidChangeSetStatus")
        self.change_sets = {
            key: other
            for key, other in self.change_sets.items()
            if other["StackId"] != stack.id or key == change_set["ChangeSetId"]
        }
        stack.tags = change_set["tags"]
        stack.parameters = change_set["parameters"]
        stack.rollback_configuration = change_set["rollback"]
        self._execute(stack, "CREATE" if stack.status == "REVIEW_IN_PROGRESS" else "UPDATE")
        change_set["ExecutionStatus"] = "EXECUTE_IN_PROGRESS"
        return {}

    def _refuse_if_busy(self, stack: Stack, code: str = "ValidationError") -> None:
        if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
            raise CloudFormationError(
                code, f"Stack:{stack.id} is in {stack.status} state and can not be updated."
            )

    def _CreateStack(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            self._find(params["StackName"])
        except CloudFormationError:
            pass
        else:
            raise CloudFormationError(
                "AlreadyExistsException", f"Stack [{params['StackName']}] already exists"
            )
        stack = Stack(
            name=params["StackName"],
            status="CREATE_IN_PROGRESS",
            tags=_pairs(params, "Tags", "Key", "Value"),
            parameters=_pairs(params, "Parameters", "ParameterKey", "ParameterValue"),
            termination_protection=params.get("EnableTerminationProtection") == "true",
            rollback_configuration=_rollback_configuration(params),
        )
        self.stacks[stack.id] = stack
        self._execute(stack, "CREATE")
        return {"StackId": stack.id}

    def _UpdateStack(self, params: dict[str, str]) -> dict[str, Any]:
        stack = self._root(params)
        self._refuse_if_busy(stack)
        if not self.scenario.get("changes", []):
            raise CloudFormationError("ValidationError", "No updates are to be performed.")
        stack.tags = _pairs(params, "Tags", "Key", "Value")
        stack.parameters = _pairs(params, "Parameters", "ParameterKey", "ParameterValue")
        stack.rollback_configuration = _rollback_configuration(params)
        self._execute(stack, "UPDATE")
        return {"StackId": stack.id}

    def _CancelUpdateStack(self, params: dict[str, str]) -> dict[str, Any]:
        stack = self._root(params)
        if stack.status != "UPDATE_IN_PROGRESS":
            raise CloudFormationError(
                "ValidationError",
                f"CancelUpdateStack cannot be called from current stack status {stack.status}",
            )
        self._cancel_pending(stack)
        self._schedule(stack, self.scenario.get("cancel", []))
        return {}

    def _ContinueUpdateRollback(self, params: dict[str, str]) -> dict[str, Any]:
        stack = self._root(params)
        if stack.status != "UPDATE_ROLLBACK_FAILED":
            raise CloudFormationError(
                "ValidationError",
                f"Stack {stack.name} is in {stack.status} state and can not continue rollback",
            )
        self._schedule(stack, self.scenario.get("continue", []))
        return {}

    def _DeleteStack(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            stack = self._root(params)
        except CloudFormationError:
            return {}
        if stack.termination_protection:
            raise CloudFormationError(
                "ValidationError",
                f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled",
            )
        self._cancel_pending(stack)
        self._schedule(stack, self.scenario.get("delete", DEFAULT_DELETE))
        return {}

    def _UpdateTerminationProtection(self, params: dict[str, str]) -> dict[str, Any]:
        stack = self._root(params)
        stack.termination_protection = params.get("EnableTerminationProtection") == "true"
        return {"StackId": stack.id}

    # --- for tests -------------------------------------------------------------------------

    def actions(self) -> list[str]:
        with self.lock:
            return [call["action"] for call in self.calls]


def _epoch(value: Any) -> float:
    """JSON protocols send timestamps as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")


def load_scenario(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


class CloudFormationDouble:
    """The double on 127.0.0.1 in a thread of the calling process; `close()` stops it."""

    def __init__(self, scenario: dict[str, Any] | Path, stack_name: str = "app") -> None:
        loaded = load_scenario(scenario) if isinstance(scenario, Path) else scenario
        self.double = Double(loaded, stack_name)
        double = self.double

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                target = self.headers.get("X-Amz-Target", "")
                if target:
                    prefix, _, operation = target.partition(".")
                    payload = json.loads(raw or b"{}")
                    self._answer_json(TARGETS.get(prefix, prefix), operation, payload)
                    return
                form = parse_qs(raw.decode(), keep_blank_values=True)
                params = {k: v[0] for k, v in form.items()}
                action = params.pop("Action", "")
                params.pop("Version", None)
                request_id = str(uuid.uuid4())
                try:
                    result = double.handle(action, params)
                    body = (
                        f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>'
                        f"{to_xml(result)}</{action}Result><ResponseMetadata><RequestId>"
                        f"{request_id}</RequestId></ResponseMetadata></{action}Response>"
                    )
                    status = 200
                except CloudFormationError as err:
                    body = (
                        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
                        f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}"
                        f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                    )
                    status = err.status
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _answer_json(self, service: str, action: str, params: dict[str, Any]) -> None:
                """ECS and CodeDeploy: JSON 1.1, an error's code in `__type`."""
                try:
                    result: dict[str, Any] = double.handle(action, params, service)
                    status = 200
                except ServiceError as err:
                    result = {"__type": err.code, "message": err.message}
                    status = err.status
                data = json.dumps(result, default=_epoch).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._served = Served(Handler)
        self.url = self._served.url

    def close(self) -> None:
        self._served.close()
