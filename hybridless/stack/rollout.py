"""What a deployment strategy does while CloudFormation shows one long *_IN_PROGRESS.

Updating an ECS service is a rollout in ECS (new tasks started, found healthy or stopped, the
circuit breaker tripping), and moving a Lambda alias whose update policy is
`CodeDeployLambdaAliasUpdate` is a CodeDeploy deployment shifting traffic step by step.
CloudFormation says nothing about either until it is over, sometimes an hour later, and then
often only "the circuit breaker was triggered". So while the stack is followed, each such
resource in progress is looked up in ECS or CodeDeploy, at most every `interval` seconds, and a
line is printed whenever the answer changes.

This is best effort and stays so: the deploy belongs to CloudFormation. Any error from ECS or
CodeDeploy (no permission, an unknown service, an endpoint that does not speak the API) makes
one warning and ends the lookups for that resource; throttling only spaces them out.

What was seen is kept, because it is often the only place the real reason survives (ECS drops a
failed deployment from DescribeServices once it has rolled back):
- when the stack fails and the root cause is one of these resources, the failure carries the
  rollout's own reason: ECS's rolloutStateReason and why the deployment's tasks stopped, or
  CodeDeploy's error and the alarms watching the deployment;
- when the stack ends *_COMPLETE although a rollout this update started was seen failing or
  being rolled back, the update is not reported as a success.

"Started by this update" is judged on AWS's clocks only: a deployment created at or after the
update's first event (CloudFormation's timestamp), never against the runner's clock. No evidence
is not failure: an emulator that never moves a rollout's state leaves the stack's word standing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from hybridless.report import Annotation, Reporter
from hybridless.stack.events import is_throttling

ECS_SERVICE = "AWS::ECS::Service"
LAMBDA_ALIAS = "AWS::Lambda::Alias"
DEFAULT_INTERVAL = 5.0
# Throttling doubles a resource's interval, up to this.
LONGEST_INTERVAL = 60.0
MAX_TASK_REASONS = 3
# DescribeTasks takes at most 100 tasks; a rollout's failures show in its first ones.
MAX_TASKS = 100
# ListDeployments could name more than this in one group only if someone else deploys to it.
MAX_NEW_DEPLOYMENTS = 5
CODEDEPLOY_OVER = ("Succeeded", "Failed", "Stopped")
CODEDEPLOY_FAILED = ("Failed", "Stopped")
LAMBDA_HOOKS_ORDER = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")


# --- which CodeDeploy group moves which alias (from the templates) ----------------------------


def codedeploy_groups(templates: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Each traffic-shifted alias's CodeDeploy (application, deployment group), by the alias's
    logical id, read from its `CodeDeployLambdaAliasUpdate` update policy: where to find the
    deployment CloudFormation starts when it moves the alias. A name given as a Ref is read
    from the referenced resource in the same template; a name computed any other way is not
    known before the deploy, and that alias goes without progress."""
    groups: dict[str, tuple[str, str]] = {}
    for template in templates:
        resources = template.get("Resources")
        if not isinstance(resources, Mapping):
            continue
        for logical_id, resource in resources.items():
            if not isinstance(resource, Mapping) or resource.get("Type") != LAMBDA_ALIAS:
                continue
            policy = resource.get("UpdatePolicy")
            update = (
                policy.get("CodeDeployLambdaAliasUpdate") if isinstance(policy, Mapping) else None
            )
            if not isinstance(update, Mapping):
                continue
            application = _literal(update.get("ApplicationName"), resources, "ApplicationName")
            group = _literal(update.get("DeploymentGroupName"), resources, "DeploymentGroupName")
            if application and group:
                groups[str(logical_id)] = (application, group)
    return groups


def _literal(value: Any, resources: Mapping[str, Any], name: str) -> str:
    """A name as written, or the `name` property of the resource a Ref points at; "" when the
    template leaves it to CloudFormation."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and list(value) == ["Ref"]:
        target = resources.get(str(value["Ref"]))
        properties = target.get("Properties") if isinstance(target, Mapping) else None
        named = properties.get(name) if isinstance(properties, Mapping) else None
        if isinstance(named, str):
            return named
    return ""


# --- ECS: lines and reasons ----------------------------------------------------------------------


def service_location(arn: str) -> tuple[str, str] | None:
    """(cluster, service name) from a service's ARN, in the long form (service/cluster/name) or
    the old short one (service/name, on the default cluster); None for anything else, such as
    the empty physical id of a service not created yet."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs":
        return None
    path = parts[5].split("/")
    if path[0] != "service" or not all(path[1:]):
        return None
    if len(path) == 3:
        return path[1], path[2]
    if len(path) == 2:
        return "default", path[1]
    return None


def primary(service: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((d for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), None)


def ecs_line(name: str, service: Mapping[str, Any]) -> str:
    """The service's rollout as one line: the PRIMARY deployment's state and task counts, the
    strategy when the service names one, and ECS's reason when it says more than "in progress"
    or "completed" (a circuit breaker rolling back, say)."""
    deployment = primary(service)
    if deployment is None:
        return f"{name}: no deployment in progress"
    counts = (
        f"{deployment.get('runningCount', 0)} of {deployment.get('desiredCount', 0)} running, "
        f"{deployment.get('pendingCount', 0)} pending, {deployment.get('failedTasks', 0)} failed"
    )
    state = deployment.get("rolloutState")
    if not state:
        return f"{name}: {counts}"
    strategy = (service.get("deploymentConfiguration") or {}).get("strategy")
    rollout = f"{strategy} rollout" if strategy else "rollout"
    line = f"{name}: {rollout} {state}, {counts}"
    reason = str(deployment.get("rolloutStateReason") or "")
    routine = reason.startswith(f"ECS deployment {deployment.get('id')} ")
    return f"{line} ({reason.rstrip('.')})" if reason and not routine else line


def started_since(
    deployments: Iterable[Mapping[str, Any]], since: datetime | None, created: str
) -> list[Mapping[str, Any]]:
    """The deployments created at or after `since` (this update's first event), oldest first;
    none while that moment is unknown."""
    if since is None:
        return []
    found = [d for d in deployments if isinstance(d.get(created), datetime) and d[created] >= since]
    return sorted(found, key=lambda d: d[created])


def ecs_failed(
    deployments: Iterable[Mapping[str, Any]], since: datetime | None
) -> Mapping[str, Any] | None:
    """The first deployment this update started whose rollout FAILED."""
    return next(
        (
            d
            for d in started_since(deployments, since, "createdAt")
            if d.get("rolloutState") == "FAILED"
        ),
        None,
    )


def task_reason(task: Mapping[str, Any]) -> str:
    """Why a task stopped: ECS's reason, then each container that exited badly or says why."""
    containers = [_container_reason(c) for c in task.get("containers") or []]
    details = "; ".join(c for c in containers if c)
    stopped = str(task.get("stoppedReason") or task.get("stopCode") or "stopped")
    return f"{stopped} ({details})" if details else stopped


def _container_reason(container: Mapping[str, Any]) -> str:
    parts = []
    code = container.get("exitCode")
    if code is not None and code != 0:
        parts.append(f"exit code {code}")
    if container.get("reason"):
        parts.append(str(container["reason"]))
    return f"{container.get('name', '?')}: {', '.join(parts)}" if parts else ""


def task_reasons(
    tasks: Iterable[Mapping[str, Any]], deployment_id: str, limit: int = MAX_TASK_REASONS
) -> list[str]:
    """The distinct reasons the deployment's tasks stopped, earliest first, at most `limit`:
    a crash loop stops many tasks for one reason, which is worth saying once."""
    ours = [t for t in tasks if t.get("startedBy") == deployment_id]
    ours.sort(key=_stopped_at)
    found: list[str] = []
    for task in ours:
        reason = task_reason(task)
        if reason not in found:
            found.append(reason)
        if len(found) == limit:
            break
    return found


def _stopped_at(task: Mapping[str, Any]) -> float:
    moment = task.get("stoppedAt")
    return moment.timestamp() if isinstance(moment, datetime) else float("inf")


def ecs_reason(deployment: Mapping[str, Any], stopped: Sequence[str]) -> str:
    state = deployment.get("rolloutState") or deployment.get("status") or "?"
    text = f"ECS deployment {deployment.get('id', '?')} {state}"
    if state == "FAILED" and deployment.get("rolloutStateReason"):
        text += f": {deployment['rolloutStateReason']}"
    if stopped:
        text = sentence(text) + " Stopped tasks: " + "; ".join(stopped)
    return sentence(text)


def ecs_explanation(
    deployments: Iterable[Mapping[str, Any]],
    tasks: Iterable[Mapping[str, Any]],
    since: datetime | None,
) -> str:
    """What ECS says about a service that failed: its failed deployment, else the newest one
    this update started if its tasks stopped; "" when ECS has nothing to add."""
    ours = started_since(deployments, since, "createdAt")
    failed = ecs_failed(ours, since)
    suspect = failed or (ours[-1] if ours else None)
    if suspect is None:
        return ""
    stopped = task_reasons(tasks, str(suspect.get("id")))
    if failed is None and not stopped:
        return ""
    return ecs_reason(suspect, stopped)


# --- CodeDeploy: lines and reasons ---------------------------------------------------------------


def lambda_target(targets: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The alias a Lambda deployment moves (it has exactly one target)."""
    for target in targets:
        found = target.get("lambdaTarget")
        if isinstance(found, Mapping):
            return found
    return {}


def current_hook(target: Mapping[str, Any]) -> str:
    """The lifecycle event under way, else the last one that ran: "AllowTraffic InProgress"."""
    events = list(target.get("lifecycleEvents") or [])
    running = [e for e in events if e.get("status") == "InProgress"]
    ran = [e for e in events if e.get("status") not in (None, "Pending", "Unknown")]
    chosen = (running or ran or [None])[-1]
    if chosen is None:
        return ""
    return f"{chosen.get('lifecycleEventName', '?')} {chosen.get('status')}"


def codedeploy_line(
    name: str, deployment: Mapping[str, Any], targets: Sequence[Mapping[str, Any]]
) -> str:
    """The deployment as one line: its status, the share of traffic on the new version (a
    percentage, as CodeDeploy documents `targetVersionWeight`) and the hook under way."""
    text = f"{name}: CodeDeploy {deployment.get('deploymentId', '?')} {deployment.get('status')}"
    target = lambda_target(targets)
    info = target.get("lambdaFunctionInfo") or {}
    weight = info.get("targetVersionWeight")
    if weight is not None and info.get("targetVersion"):
        text += f", {float(weight):g}% of traffic on version {info['targetVersion']}"
    hook = current_hook(target)
    return f"{text}, {hook}" if hook else text


def codedeploy_failed(
    deployments: Iterable[Mapping[str, Any]], since: datetime | None
) -> Mapping[str, Any] | None:
    """The first deployment this update started that failed or was stopped (rolled back)."""
    return next(
        (
            d
            for d in started_since(deployments, since, "createTime")
            if d.get("status") in CODEDEPLOY_FAILED
        ),
        None,
    )


def watched_alarms(deployment: Mapping[str, Any], group: Mapping[str, Any]) -> list[str]:
    """The alarms that could have stopped the deployment: its own override, else its group's."""
    override = deployment.get("overrideAlarmConfiguration") or {}
    configuration = override if override.get("enabled") else group.get("alarmConfiguration") or {}
    return [str(a["name"]) for a in configuration.get("alarms") or [] if a.get("name")]


def codedeploy_reason(
    deployment: Mapping[str, Any],
    targets: Sequence[Mapping[str, Any]],
    alarms: Sequence[str] = (),
) -> str:
    """CodeDeploy's own account of a deployment that did not succeed: its status and error, the
    hook that failed and why, and, when an alarm stopped it, the alarms watching it (CodeDeploy
    does not say which one fired) unless its message names them already."""
    text = f"CodeDeploy deployment {deployment.get('deploymentId', '?')} {deployment.get('status')}"
    error = deployment.get("errorInformation") or {}
    said = [str(p) for p in (error.get("code"), error.get("message")) if p]
    if said:
        text += ": " + ": ".join(said)
    for event in lambda_target(targets).get("lifecycleEvents") or []:
        if event.get("status") == "Failed":
            diagnostics = event.get("diagnostics") or {}
            why = diagnostics.get("message") or diagnostics.get("errorCode") or "no reason given"
            text = sentence(text) + f" Hook {event.get('lifecycleEventName')} failed: {why}"
    message = str(error.get("message") or "")
    unnamed = [a for a in alarms if a not in message]
    if error.get("code") == "ALARM_ACTIVE" and unnamed:
        text = sentence(text) + " Alarms watching it: " + ", ".join(unnamed)
    return sentence(text)


def codedeploy_explanation(
    deployments: Iterable[Mapping[str, Any]],
    targets: Mapping[str, Sequence[Mapping[str, Any]]],
    alarms: Sequence[str],
    since: datetime | None,
) -> str:
    """What CodeDeploy says about an alias that failed: the deployment this update started that
    failed or stopped, else nothing."""
    failed = codedeploy_failed(deployments, since)
    if failed is None:
        return ""
    return codedeploy_reason(failed, targets.get(str(failed.get("deploymentId")), []), alarms)


# --- composing messages -------------------------------------------------------------------------


def sentence(text: str) -> str:
    return text if text.rstrip().endswith((".", "!", "?")) else f"{text}."


def with_reason(message: str, reason: str) -> str:
    """A failure message followed by the rollout's own reason, when there is one."""
    return f"{sentence(message)} {reason}" if reason else message


def describe_error(err: BaseException) -> str:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        operation = getattr(err, "operation_name", "call")
        return f"{operation}: {error.get('Code', 'error')}: {error.get('Message', err)}"
    return str(err).splitlines()[0] if str(err) else type(err).__name__


# --- the lookups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """Where rollout progress is read from: the pipeline gives its ECS and CodeDeploy clients
    and the alias groups found in the templates; a missing client means no lookups there."""

    ecs: Any = None
    codedeploy: Any = None
    groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    interval: float = DEFAULT_INTERVAL


class Unavailable(Exception):
    """The service answered, but knows nothing of this resource."""


@dataclass
class Tracked:
    """One service or alias this update touches, and everything seen of its rollouts."""

    key: str  # label and logical id, as the events name it: "Functions/GreeterAlias"
    resource_type: str
    interval: float
    cluster: str = ""
    service: str = ""
    arn: str = ""
    application: str = ""
    group: str = ""
    active: bool = True
    off: bool = False
    due: float = 0.0
    line: str = ""
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_ids: dict[str, list[str]] = field(default_factory=dict)
    targets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    alarms: list[str] | None = None
    announced: set[str] = field(default_factory=set)

    @property
    def api(self) -> str:
        return "ECS" if self.resource_type == ECS_SERVICE else "CodeDeploy"


class Rollouts:
    """Looks up the rollouts of the resources the follower reports in progress, prints their
    progress, and keeps what it saw for the failure message and the success check."""

    def __init__(
        self, sources: Sources, reporter: Reporter, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sources = sources
        self.reporter = reporter
        self.clock = clock
        self.tracked: dict[str, Tracked] = {}
        self.since: datetime | None = None
        self.unreachable: set[str] = set()
        self.said = 0

    def follow(self, resources: Mapping[str, Mapping[str, Any]], began: datetime | None) -> bool:
        """Called after each round of events with every resource's newest event: starts
        following what began changing, takes a last look at what just settled, and looks again
        at what is still in progress once its interval has passed. Returns whether any rollout
        moved (a new line was printed)."""
        said = self.said
        if self.since is None:
            self.since = began
        for key, event in resources.items():
            status = str(event.get("ResourceStatus", ""))
            if status.startswith("DELETE_"):
                continue
            tracked = self._locate(key, event)
            if tracked is None:
                continue
            if status.endswith("_IN_PROGRESS"):
                tracked.active = True
            elif tracked.active:
                tracked.active = False
                self._look(tracked)
        now = self.clock()
        for tracked in self.tracked.values():
            if tracked.active and now >= tracked.due:
                self._look(tracked)
        return self.said > said

    def due_in(self) -> float | None:
        """Seconds until a rollout in progress is due for a look; None when none is followed."""
        due = [t.due for t in self.tracked.values() if t.active and not self._silenced(t)]
        return max(0.0, min(due) - self.clock()) if due else None

    def explain(self, cause: Mapping[str, Any] | None) -> str:
        """The rollout's reason for the failed resource `cause`, asking once more now (ECS may
        have dropped the failed deployment already; what was seen before is kept)."""
        if cause is None:
            return ""
        tracked = self.tracked.get(f"{cause.get('Label', '')}{cause.get('LogicalResourceId')}")
        if tracked is None:
            return ""
        self._look(tracked, final=True)
        return self._reason(tracked)

    def broken(self) -> str:
        """`name (type): reason` of the first rollout this update started that was seen failing
        or rolled back; "" when none was."""
        for tracked in self.tracked.values():
            if self._failed(tracked) is not None:
                return f"{tracked.key} ({tracked.resource_type}): {self._reason(tracked)}"
        return ""

    # --- following ---------------------------------------------------------------------------

    def _locate(self, key: str, event: Mapping[str, Any]) -> Tracked | None:
        kind = event.get("ResourceType")
        tracked = self.tracked.get(key)
        if kind == ECS_SERVICE and self.sources.ecs is not None:
            arn = str(event.get("PhysicalResourceId") or "")
            location = service_location(arn)
            if location is None:
                return tracked
            if tracked is None:
                tracked = self.tracked[key] = Tracked(key, ECS_SERVICE, self.sources.interval)
            tracked.arn = arn
            tracked.cluster, tracked.service = location
            return tracked
        if kind == LAMBDA_ALIAS and self.sources.codedeploy is not None:
            group = self.sources.groups.get(str(event.get("LogicalResourceId")))
            if group is None:
                return None
            if tracked is None:
                tracked = self.tracked[key] = Tracked(key, LAMBDA_ALIAS, self.sources.interval)
                tracked.application, tracked.group = group
            return tracked
        return None

    def _look(self, tracked: Tracked, final: bool = False) -> None:
        """One lookup, whose failure never reaches the deploy: throttling spaces the lookups
        out; any other error is said once and ends them (for every resource, when the endpoint
        cannot be reached at all)."""
        if self._silenced(tracked):
            return
        tracked.due = self.clock() + tracked.interval
        try:
            if tracked.resource_type == ECS_SERVICE:
                self._look_at_service(tracked, final)
            else:
                self._look_at_alias(tracked)
        except ClientError as err:
            if is_throttling(err):
                tracked.interval = min(LONGEST_INTERVAL, tracked.interval * 2)
                tracked.due = self.clock() + tracked.interval
                return
            self._give_up(tracked, describe_error(err))
        except EndpointUnreachable as err:
            self._give_up(tracked, describe_error(err), everywhere=True)
        except Exception as err:  # progress is best effort: nothing in it may fail the deploy
            self._give_up(tracked, describe_error(err))

    def _silenced(self, tracked: Tracked) -> bool:
        return tracked.off or tracked.api in self.unreachable

    def _give_up(self, tracked: Tracked, why: str, everywhere: bool = False) -> None:
        tracked.off = True
        if everywhere:
            self.unreachable.add(tracked.api)
            why += f" (no more {tracked.api} progress in this deploy)"
        self.reporter.warning(f"rollout progress of {tracked.key} unavailable: {why}")

    def _look_at_service(self, tracked: Tracked, final: bool) -> None:
        ecs = self.sources.ecs
        described = ecs.describe_services(cluster=tracked.cluster, services=[tracked.arn])
        services = described.get("services") or []
        if not services:
            if final:
                return
            reasons = ", ".join(str(f.get("reason")) for f in described.get("failures") or [])
            raise Unavailable(
                f"ECS does not report service {tracked.service} in cluster {tracked.cluster}"
                + (f" ({reasons})" if reasons else "")
            )
        service = services[0]
        for deployment in service.get("deployments") or []:
            tracked.deployments[str(deployment.get("id"))] = dict(deployment)
        self._say(tracked, ecs_line(tracked.key, service))
        failed = ecs_failed(tracked.deployments.values(), self.since)
        if final or (failed is not None and str(failed.get("id")) not in tracked.announced):
            self._stopped_tasks(tracked)
        if failed is not None:
            self._announce(tracked, str(failed.get("id")))

    def _stopped_tasks(self, tracked: Tracked) -> None:
        ecs = self.sources.ecs
        listed = ecs.list_tasks(
            cluster=tracked.cluster, serviceName=tracked.service, desiredStatus="STOPPED"
        )
        new = [a for a in listed.get("taskArns") or [] if a not in tracked.tasks][:MAX_TASKS]
        if new:
            for task in ecs.describe_tasks(cluster=tracked.cluster, tasks=new).get("tasks") or []:
                tracked.tasks[str(task.get("taskArn"))] = dict(task)

    def _look_at_alias(self, tracked: Tracked) -> None:
        codedeploy = self.sources.codedeploy
        newest = self._newest(tracked)
        fetched: set[str] = set()
        if (newest is None or newest.get("status") in CODEDEPLOY_OVER) and self.since:
            listed = codedeploy.list_deployments(
                applicationName=tracked.application,
                deploymentGroupName=tracked.group,
                createTimeRange={"start": self.since},
            )
            unknown = [i for i in listed.get("deployments") or [] if i not in tracked.deployments]
            for deployment_id in unknown[:MAX_NEW_DEPLOYMENTS]:
                tracked.deployments[deployment_id] = self._deployment(deployment_id)
                fetched.add(deployment_id)
            newest = self._newest(tracked)
        if newest is None:
            return
        deployment_id = str(newest.get("deploymentId"))
        if deployment_id not in fetched:
            newest = tracked.deployments[deployment_id] = self._deployment(deployment_id)
        if deployment_id not in tracked.target_ids:
            listed_targets = codedeploy.list_deployment_targets(deploymentId=deployment_id)
            tracked.target_ids[deployment_id] = list(listed_targets.get("targetIds") or [])
        if tracked.target_ids[deployment_id]:
            tracked.targets[deployment_id] = list(
                codedeploy.batch_get_deployment_targets(
                    deploymentId=deployment_id, targetIds=tracked.target_ids[deployment_id]
                ).get("deploymentTargets")
                or []
            )
        self._say(
            tracked, codedeploy_line(tracked.key, newest, tracked.targets.get(deployment_id, []))
        )
        failed = codedeploy_failed(tracked.deployments.values(), self.since)
        if failed is None:
            return
        error = failed.get("errorInformation") or {}
        if error.get("code") == "ALARM_ACTIVE" and tracked.alarms is None:
            group = codedeploy.get_deployment_group(
                applicationName=tracked.application, deploymentGroupName=tracked.group
            ).get("deploymentGroupInfo", {})
            tracked.alarms = watched_alarms(failed, group)
        self._announce(tracked, str(failed.get("deploymentId")))

    def _deployment(self, deployment_id: str) -> dict[str, Any]:
        answer = self.sources.codedeploy.get_deployment(deploymentId=deployment_id)
        return dict(answer.get("deploymentInfo") or {"deploymentId": deployment_id})

    def _newest(self, tracked: Tracked) -> dict[str, Any] | None:
        ours = started_since(tracked.deployments.values(), self.since, "createTime")
        return dict(ours[-1]) if ours else None

    # --- telling -------------------------------------------------------------------------------

    def _say(self, tracked: Tracked, line: str) -> None:
        if line != tracked.line:
            tracked.line = line
            self.said += 1
            self.reporter.info(line)

    def _announce(self, tracked: Tracked, deployment_id: str) -> None:
        """A failed rollout, once: an error line and an annotation with its reason, since the
        resource's own event may come much later and say less."""
        if deployment_id in tracked.announced:
            return
        tracked.announced.add(deployment_id)
        reason = self._reason(tracked)
        self.reporter.error(f"{tracked.key}: {reason}")
        self.reporter.annotate(
            Annotation("error", reason, title=f"{tracked.key} ({tracked.resource_type}) rollout")
        )

    def _failed(self, tracked: Tracked) -> Mapping[str, Any] | None:
        if tracked.resource_type == ECS_SERVICE:
            return ecs_failed(tracked.deployments.values(), self.since)
        return codedeploy_failed(tracked.deployments.values(), self.since)

    def _reason(self, tracked: Tracked) -> str:
        if tracked.resource_type == ECS_SERVICE:
            return ecs_explanation(tracked.deployments.values(), tracked.tasks.values(), self.since)
        return codedeploy_explanation(
            tracked.deployments.values(), tracked.targets, tracked.alarms or [], self.since
        )
