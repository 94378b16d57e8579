"""ECS and CodeDeploy doubles: the rollouts CloudFormation starts, played from a scenario.

moto's ECS never runs a task and its CodeDeploy deployments stay `Created`, so neither can show
a rollout moving, failing or being stopped by an alarm. These doubles answer the calls the tool
makes to follow a rollout, with the shapes botocore's service models give, and what the
rollout does is scripted next to the stack's events in the same scenario file
(tests/scenarios/*.yml). They live in the CloudFormation double's server and share its clock:
a rollout's timeline starts when an execution starts, like the stack's.

    ecs:
      WebService:                    # the service's logical id, for the reader
        arn: arn:aws:ecs:us-east-1:123456789012:service/app-cluster/app-web
        strategy: ROLLING            # deploymentConfiguration.strategy (omit: none said)
        deployments:                 # before any execution; `age`: seconds since created
          - {deployment: ecs-svc/1, status: PRIMARY, rolloutState: COMPLETED, desired: 2,
             running: 2, age: 3600}
        execute:                     # one timeline per execution; the last one repeats
          - - {at: 0.2, deployment: ecs-svc/2, status: PRIMARY, rolloutState: IN_PROGRESS,
               desired: 2, running: 0, pending: 2}     # a new id is created at that moment
            - {at: 0.2, deployment: ecs-svc/1, status: ACTIVE}   # a known id is updated
            - {at: 0.9, deployment: ecs-svc/2, rolloutState: FAILED, reason: "...", failed: 3}
            - {at: 0.5, task: {startedBy: ecs-svc/2, stoppedReason: "...",
                               containers: [{name: web, exitCode: 1, reason: "..."}]}}
            - {at: 1.5, deployment: ecs-svc/2, gone: true}   # no longer listed
    codedeploy:
      groups:                        # what GetDeploymentGroup and ListDeployments know
        - {application: app, group: app-Greeter, alarms: [app-Greeter-errors]}
      execute:
        - - {at: 0.3, deployment: d-ABCDEFGHI, application: app, group: app-Greeter,
             function: app-Greeter, alias: live, current: "6", target: "7", status: Created}
          - {at: 0.4, deployment: d-ABCDEFGHI, status: InProgress, weight: 10,
             hooks: {BeforeAllowTraffic: Succeeded, AllowTraffic: InProgress}}
          - {at: 0.9, deployment: d-ABCDEFGHI, status: Stopped, weight: 0,
             error: {code: ALARM_ACTIVE, message: "..."}}
    unimplemented: [codedeploy]      # answer every call of these services UnknownOperation

The stack's events for a service name it by ARN, as CloudFormation's do: `physical: <arn>` on
each of them but a create's first. A deployment's fields: `status`, `rolloutState`, `reason`
(rolloutStateReason), `desired`, `running`, `pending`, `failed` (failedTasks),
`taskDefinition`. A CodeDeploy deployment's:
`status`, `weight` (targetVersionWeight, a percentage), `hooks` (lifecycle event → status),
`error` ({code, message}: errorInformation), `target_status` (the alias target's own status).

Both speak JSON 1.1, told apart by X-Amz-Target (`AmazonEC2ContainerServiceV20141113.<Action>`,
`CodeDeploy_20141006.<Action>`); timestamps go out as epoch seconds. (CodeDeploy's model also
offers Smithy RPC v2 CBOR, but botocore ranks JSON first and uses it.) Calls are recorded in
the CloudFormation double's list as `ecs:<Action>` and `codedeploy:<Action>`; its `throttle:`
section takes those names too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
# X-Amz-Target prefixes → service.
TARGETS = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "CodeDeploy_20141006": "codedeploy",
}
DEPLOYMENT_FIELDS = {
    "status": "status",
    "rolloutState": "rolloutState",
    "reason": "rolloutStateReason",
    "desired": "desiredCount",
    "running": "runningCount",
    "pending": "pendingCount",
    "failed": "failedTasks",
    "taskDefinition": "taskDefinition",
}
LAMBDA_HOOKS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
CODEDEPLOY_OVER = ("Succeeded", "Failed", "Stopped")
TARGET_STATUS = {
    "Created": "Pending",
    "Queued": "Pending",
    "InProgress": "InProgress",
    "Baking": "InProgress",
    "Ready": "Ready",
    "Succeeded": "Succeeded",
    "Failed": "Failed",
    "Stopped": "Failed",
}


class ServiceError(Exception):
    """An error answer: its code (the `__type` of JSON protocols), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# --- the state -----------------------------------------------------------------------------------


@dataclass
class EcsService:
    logical_id: str
    arn: str
    strategy: str | None
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def cluster(self) -> str:
        parts = self.arn.split(":", 5)[-1].split("/")
        return parts[1] if len(parts) == 3 else "default"

    @property
    def cluster_arn(self) -> str:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{self.cluster}"

    def describe(self) -> dict[str, Any]:
        deployments = list(self.deployments.values())
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        configuration: dict[str, Any] = {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }
        if self.strategy:
            configuration["strategy"] = self.strategy
        return {
            "serviceArn": self.arn,
            "serviceName": self.name,
            "clusterArn": self.cluster_arn,
            "status": "ACTIVE",
            "desiredCount": primary.get("desiredCount", 0),
            "runningCount": sum(d.get("runningCount", 0) for d in deployments),
            "pendingCount": sum(d.get("pendingCount", 0) for d in deployments),
            "launchType": "FARGATE",
            "taskDefinition": primary.get("taskDefinition"),
            "deploymentConfiguration": configuration,
            "deployments": deployments,
            "deploymentController": {"type": "ECS"},
        }

    def apply(self, entry: dict[str, Any], when: datetime) -> None:
        if "task" in entry:
            self.tasks.append(self._task(dict(entry["task"]), when))
            return
        deployment_id = str(entry["deployment"])
        if entry.get("gone"):
            self.deployments.pop(deployment_id, None)
            return
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            deployment = self.deployments[deployment_id] = {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/"
                f"{self.name}:{len(self.deployments) + 1}",
                "desiredCount": 0,
                "pendingCount": 0,
                "runningCount": 0,
                "failedTasks": 0,
                "createdAt": when,
                "launchType": "FARGATE",
            }
        for key, name in DEPLOYMENT_FIELDS.items():
            if key in entry:
                deployment[name] = entry[key]
        deployment["updatedAt"] = when

    def _task(self, spec: dict[str, Any], when: datetime) -> dict[str, Any]:
        task_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{self.cluster}/{uuid.uuid4().hex}"
        containers = [
            {
                "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/{uuid.uuid4()}",
                "taskArn": task_arn,
                "name": container["name"],
                "lastStatus": "STOPPED",
                "exitCode": container.get("exitCode"),
                "reason": container.get("reason"),
            }
            for container in spec.get("containers", [])
        ]
        return {
            "taskArn": task_arn,
            "clusterArn": self.cluster_arn,
            "group": f"service:{self.name}",
            "startedBy": spec.get("startedBy"),
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "launchType": "FARGATE",
            "stopCode": spec.get("stopCode", "EssentialContainerExited"),
            "stoppedReason": spec.get("stoppedReason"),
            "stoppedAt": when,
            "createdAt": when - timedelta(seconds=20),
            "containers": containers,
        }


def _lambda_target(deployment: dict[str, Any]) -> dict[str, Any]:
    hooks = deployment["hooks"]
    return {
        "deploymentTargetType": "LambdaTarget",
        "lambdaTarget": {
            "deploymentId": deployment["deploymentId"],
            "targetId": deployment["targetId"],
            "targetArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{deployment['targetId']}",
            "status": deployment["targetStatus"],
            "lastUpdatedAt": deployment["updated"],
            "lifecycleEvents": [
                {"lifecycleEventName": name, "status": hooks.get(name, "Pending")}
                for name in LAMBDA_HOOKS
            ],
            "lambdaFunctionInfo": {
                "functionName": deployment["function"],
                "functionAlias": deployment["alias"],
                "currentVersion": deployment["current"],
                "targetVersion": deployment["target"],
                "targetVersionWeight": float(deployment["weight"]),
            },
        },
    }


def _deployment_info(deployment: dict[str, Any]) -> dict[str, Any]:
    info = {
        "applicationName": deployment["application"],
        "deploymentGroupName": deployment["group"],
        "deploymentConfigName": deployment.get("config", "CodeDeployDefault.LambdaAllAtOnce"),
        "deploymentId": deployment["deploymentId"],
        "status": deployment["status"],
        "createTime": deployment["createTime"],
        "creator": "CloudFormation",
        "computePlatform": "Lambda",
        "deploymentStyle": {
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
    }
    if deployment.get("error"):
        info["errorInformation"] = dict(deployment["error"])
    if deployment.get("completeTime"):
        info["completeTime"] = deployment["completeTime"]
    return info


class RolloutDouble:
    """ECS services and CodeDeploy deployments moved by their timelines; the caller holds the
    lock and calls `advance` before each answer, as for the stack."""

    def __init__(self, scenario: dict[str, Any], clock: Callable[[], float]) -> None:
        self.clock = clock
        self.unimplemented = set(scenario.get("unimplemented") or [])
        self.ecs_spec: dict[str, Any] = dict(scenario.get("ecs") or {})
        self.codedeploy_spec: dict[str, Any] = dict(scenario.get("codedeploy") or {})
        self.services: dict[str, EcsService] = {}
        now = datetime.now(UTC)
        for logical_id, spec in self.ecs_spec.items():
            service = EcsService(logical_id, str(spec["arn"]), spec.get("strategy"))
            for entry in spec.get("deployments") or []:
                service.apply(entry, now - timedelta(seconds=float(entry.get("age", 3600))))
            self.services[logical_id] = service
        self.groups = {
            (str(g["application"]), str(g["group"])): g
            for g in self.codedeploy_spec.get("groups") or []
        }
        self.deployments: dict[str, dict[str, Any]] = {}
        self.pending: list[tuple[float, str, dict[str, Any]]] = []  # (due, owner, entry)

    # --- time ----------------------------------------------------------------------------------

    def start(self, execution: int) -> None:
        """An execution began: schedule each rollout's timeline for it."""
        now = self.clock()
        for logical_id, spec in self.ecs_spec.items():
            for entry in _timeline(spec.get("execute"), execution):
                self.pending.append((now + float(entry.get("at", 0)), logical_id, entry))
        for entry in _timeline(self.codedeploy_spec.get("execute"), execution):
            self.pending.append((now + float(entry.get("at", 0)), "", entry))
        self.pending.sort(key=lambda item: item[0])

    def advance(self) -> None:
        now = self.clock()
        while self.pending and self.pending[0][0] <= now:
            _, owner, entry = self.pending.pop(0)
            when = datetime.now(UTC)
            if owner:
                self.services[owner].apply(entry, when)
            else:
                self._apply_deployment(entry, when)

    def _apply_deployment(self, entry: dict[str, Any], when: datetime) -> None:
        deployment_id = str(entry["deployment"])
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            function, alias = str(entry["function"]), str(entry.get("alias", "live"))
            deployment = self.deployments[deployment_id] = {
                "deploymentId": deployment_id,
                "application": str(entry["application"]),
                "group": str(entry["group"]),
                "function": function,
                "alias": alias,
                "targetId": f"{function}:{alias}",
                "current": str(entry.get("current", "1")),
                "target": str(entry.get("target", "2")),
                "config": entry.get("config"),
                "status": "Created",
                "weight": 0,
                "hooks": {},
                "createTime": when,
            }
        if "status" in entry:
            deployment["status"] = str(entry["status"])
            if deployment["status"] in CODEDEPLOY_OVER:
                deployment["completeTime"] = when
        if "weight" in entry:
            deployment["weight"] = entry["weight"]
        deployment["hooks"].update(entry.get("hooks") or {})
        if "error" in entry:
            deployment["error"] = entry["error"]
        deployment["targetStatus"] = entry.get(
            "target_status", TARGET_STATUS.get(deployment["status"], "Unknown")
        )
        deployment["updated"] = when

    # --- the actions ---------------------------------------------------------------------------

    def handle(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if service in self.unimplemented:
            raise ServiceError("UnknownOperationException", f"{action} is not implemented here")
        handler = getattr(self, f"_{service}_{action}", None)
        if handler is None:
            raise ServiceError("UnknownOperationException", f"{action} is not part of this double")
        return dict(handler(params))

    def _service(self, name_or_arn: str, cluster: str | None) -> EcsService | None:
        for service in self.services.values():
            if name_or_arn in (service.arn, service.name) and (
                not cluster or cluster.rsplit("/", 1)[-1] == service.cluster
            ):
                return service
        return None

    def _ecs_DescribeServices(self, params: dict[str, Any]) -> dict[str, Any]:
        described, failures = [], []
        for requested in params.get("services", []):
            service = self._service(str(requested), params.get("cluster"))
            if service is None:
                failures.append({"arn": str(requested), "reason": "MISSING"})
            else:
                described.append(service.describe())
        return {"services": described, "failures": failures}

    def _ecs_ListTasks(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("serviceName")
        service = self._service(str(name), params.get("cluster")) if name else None
        if name and service is None:
            raise ServiceError("ServiceNotFoundException", "Service not found.")
        if params.get("desiredStatus", "RUNNING") != "STOPPED" or service is None:
            return {"taskArns": []}
        return {"taskArns": [task["taskArn"] for task in reversed(service.tasks)]}

    def _ecs_DescribeTasks(self, params: dict[str, Any]) -> dict[str, Any]:
        known = {t["taskArn"]: t for s in self.services.values() for t in s.tasks}
        wanted = [str(arn) for arn in params.get("tasks", [])]
        return {
            "tasks": [known[arn] for arn in wanted if arn in known],
            "failures": [{"arn": arn, "reason": "MISSING"} for arn in wanted if arn not in known],
        }

    def _group(self, params: dict[str, Any]) -> dict[str, Any]:
        application = str(params.get("applicationName", ""))
        group = self.groups.get((application, str(params.get("deploymentGroupName", ""))))
        if not any(key[0] == application for key in self.groups):
            raise ServiceError(
                "ApplicationDoesNotExistException", f"No application found for name: {application}"
            )
        if group is None:
            raise ServiceError(
                "DeploymentGroupDoesNotExistException",
                f"No Deployment Group found for name: {params.get('deploymentGroupName')}",
            )
        return dict(group)

    def _deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        deployment_id = str(params.get("deploymentId", ""))
        if deployment_id not in self.deployments:
            raise ServiceError(
                "DeploymentDoesNotExistException",
                f"The deployment {deployment_id} could not be found.",
            )
        return self.deployments[deployment_id]

    def _codedeploy_ListDeployments(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        window = params.get("createTimeRange") or {}
        start, end = window.get("start"), window.get("end")
        statuses = params.get("includeOnlyStatuses") or []
        found = [
            d["deploymentId"]
            for d in sorted(self.deployments.values(), key=lambda d: d["createTime"], reverse=True)
            if (d["application"], d["group"]) == (group["application"], group["group"])
            and (start is None or d["createTime"].timestamp() >= float(start))
            and (end is None or d["createTime"].timestamp() <= float(end))
            and (not statuses or d["status"] in statuses)
        ]
        return {"deployments": found}

    def _codedeploy_GetDeployment(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": _deployment_info(self._deployment(params))}

    def _codedeploy_ListDeploymentTargets(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"targetIds": [self._deployment(params)["targetId"]]}

    def _codedeploy_BatchGetDeploymentTargets(self, params: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(params)
        wanted = [str(t) for t in params.get("targetIds", [])]
        unknown = [t for t in wanted if t != deployment["targetId"]]
        if unknown:
            raise ServiceError(
                "DeploymentTargetDoesNotExistException", f"No target found for id: {unknown[0]}"
            )
        return {"deploymentTargets": [_lambda_target(deployment) for _ in wanted]}

    def _codedeploy_GetDeploymentGroup(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        alarms = [{"name": str(name)} for name in group.get("alarms") or []]
        return {
            "deploymentGroupInfo": {
                "applicationName": group["application"],
                "deploymentGroupName": group["group"],
                "computePlatform": "Lambda",
                "alarmConfiguration": {"enabled": bool(alarms), "alarms": alarms},
            }
        }


def _timeline(timelines: list[list[dict[str, Any]]] | None, execution: int) -> list[Any]:
    if not timelines:
        return []
    return list(timelines[min(execution, len(timelines) - 1)])
