"""ECS: HTTP services (`httpd`), workers (`process`) and scheduled tasks (`scheduledTask`).

Every ECS event runs a task definition on the app's cluster (or `ecsClusterArn`). Services
get the deployment circuit breaker with rollback (unless `circuitBreaker: false`), so a
broken image fails the deploy in minutes and ECS returns the service to the running revision
instead of CloudFormation waiting for hours. A service sends exactly one of `LaunchType` and
`CapacityProviderStrategy`: ECS refuses both.

How a service moves to a new revision (`deployment:`) is left to ECS's own strategies, not to
CodeDeploy. CodeDeploy would take the service over as task sets, which CloudFormation drives
only through the `AWS::CodeDeployBlueGreen` transform (and a template with a transform cannot
be split into nested stacks), and without the circuit breaker. With ECS's strategies the
service stays an ordinary service: CloudFormation waits for its deployment, and a deployment
that fails (circuit breaker, alarm, hook) is rolled back by ECS and fails the stack update.
Rolling, and `halfAtATime` (rolling at 50/100), replace tasks in place and need nothing more.
`blueGreen`, `canary` and `linear` start the new revision behind a second target group, and
ECS moves the weights of the event's production rule (and of its test rule) between the two,
with a role of the app's that carries ECS's managed policy for load balancers; hooks are
invoked with another role that may invoke exactly the hook functions. A default `deployment:`
renders what services always had, so existing apps redeploy with an empty change set.

Three roles for the tasks, none depending on Lambda's: the execution role pulls images and
writes logs; the task role is what the code may do (`provider.iam.role.statements`); a
schedule's own role may start its task and hand over those two roles, which the execution role
alone cannot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hybridless.model import (
    App,
    AutoScale,
    HttpdEvent,
    ProcessEvent,
    ScheduledTaskEvent,
    assign_priorities,
)
from hybridless.model.types import EcsDeployment, EcsEvent
from hybridless.template.balancers import Balancer, add_rules, add_test_rule, balancer_of
from hybridless.template.common import (
    LOG_ACTIONS,
    HookFunction,
    Template,
    environment_list,
    get_att,
    hook_function,
    log_group,
    prefix,
    ref,
    resource_name,
    role,
    schedule_rule,
    sub,
    unique,
)
from hybridless.template.network import Placement

CLUSTER = "Cluster"
EXECUTION_ROLE = "TaskExecutionRole"
TASK_ROLE = "TaskRole"
SERVICE_SG = "ServiceSecurityGroup"
CONTAINER_NAME = "app"
EVENT_VARIABLE = "HYBRIDLESS_EVENT"  # a built-in runtime's scheduled task reads its event here
HEALTH_CHECK_GRACE_SECONDS = 60
# An image's architecture (docker's name) as ECS's task definitions and EC2 instances say it.
ECS_CPU = {"amd64": "X86_64", "arm64": "ARM64"}
INSTANCE_CPU = {"amd64": "x86_64", "arm64": "arm64"}
TRAFFIC_ROLE = "EcsTrafficShiftRole"
HOOK_ROLE = "EcsHookRole"
STRATEGIES = {"blueGreen": "BLUE_GREEN", "canary": "CANARY", "linear": "LINEAR"}
# The new revision is up with the test traffic on it and production traffic not yet; then all
# production traffic has moved.
PRE_TRAFFIC_STAGE = "POST_TEST_TRAFFIC_SHIFT"
POST_TRAFFIC_STAGE = "POST_PRODUCTION_TRAFFIC_SHIFT"
SCALE_METRICS = {
    "cpu": "ECSServiceAverageCPUUtilization",
    "memory": "ECSServiceAverageMemoryUtilization",
    "requests": "ALBRequestCountPerTarget",
}


def add_ecs(
    template: Template,
    app: App,
    images: Mapping[str, str],
    placement: Placement | None,
    balancers: list[Balancer],
) -> None:
    events = app.ecs_events
    if not events:
        return
    assert placement is not None, "the model requires a network for ECS events"
    if any(event.task.cluster_arn is None for event in events):
        template.add(
            CLUSTER,
            {
                "Type": "AWS::ECS::Cluster",
                "Properties": {
                    "ClusterName": app.stack_name,
                    "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
                },
            },
        )
        template.output("ClusterName", ref(CLUSTER), "ECS cluster of the app")
    template.add(EXECUTION_ROLE, _execution_role(app, events))
    template.add(TASK_ROLE, role("ecs-tasks.amazonaws.com", [], app.iam_statements))
    template.add(SERVICE_SG, _service_security_group(app, placement, balancers))
    _add_deployment_roles(template, app)
    priorities = assign_priorities(app.events)
    for event in events:
        image = images[event.task.image.name]
        task = _add_task_definition(template, app, event, image)
        if isinstance(event, HttpdEvent):
            _add_http_service(template, app, event, task, placement, priorities)
        elif isinstance(event, ProcessEvent):
            _add_service(template, app, event, task, placement, event.concurrency, None)
        else:
            _add_schedule(template, app, event, task, placement)


def _service_security_group(
    app: App, placement: Placement, balancers: list[Balancer]
) -> dict[str, Any]:
    """Tasks accept traffic from the app's load balancers, on their container ports only."""
    ingress: list[dict[str, Any]] = []
    for balancer in balancers:
        ports = sorted(
            {e.port for e in app.httpd_events if balancer_of(e.routing.listener) == balancer}
        )
        ingress.extend(
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "SourceSecurityGroupId": get_att(balancer.security_group, "GroupId"),
                "Description": f"container port {port} from {balancer.name}",
            }
            for port in ports
        )
    properties: dict[str, Any] = {
        "GroupDescription": f"{app.stack_name} tasks: traffic from the load balancers only",
        "VpcId": placement.vpc_id,
    }
    if ingress:
        properties["SecurityGroupIngress"] = ingress
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": properties}


def _add_deployment_roles(template: Template, app: App) -> None:
    """One role per app for each thing ECS does on the app's behalf during deployments, made
    only when some service needs it."""
    deployments = [e.deployment for e in app.ecs_events if not isinstance(e, ScheduledTaskEvent)]
    if any(d.shifts_traffic for d in deployments):
        template.add(
            TRAFFIC_ROLE,
            role("ecs.amazonaws.com", ["AmazonECSInfrastructureRolePolicyForLoadBalancers"]),
        )
    hooks = unique(
        _invocable(hook_function(app, target)) for d in deployments for target, _ in _hooks(d)
    )
    if hooks:
        template.add(
            HOOK_ROLE,
            role(
                "ecs.amazonaws.com",
                [],
                [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": hooks}],
                policy_name="invoke-hooks",
            ),
        )


def _hooks(deployment: EcsDeployment) -> list[tuple[str, str]]:
    """(function as written, lifecycle stage) of each hook the deployment has."""
    stages = (
        (deployment.hooks.pre_traffic, PRE_TRAFFIC_STAGE),
        (deployment.hooks.post_traffic, POST_TRAFFIC_STAGE),
    )
    return [(target, stage) for target, stage in stages if target]


def _invocable(hook: HookFunction) -> Any:
    """The hook's ARN as the role allows it, spelled from the function's name even for the
    app's own functions: a reference from this shared role would keep their resources in the
    root stack when the template is split."""
    if isinstance(hook.arn, str):
        return hook.arn
    return sub(
        f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{hook.name}"
    )


def _execution_role(app: App, events: tuple[EcsEvent, ...]) -> dict[str, Any]:
    """What ECS needs to start this app's tasks: pull their images and write their logs. AWS's
    managed policy for it allows every repository and log group of the account; this one names
    the app's repositories and the tasks' log groups (`/hybridless/<stack>-*`). Names, not
    references: the role stays valid wherever the nested split puts it."""
    repositories = unique(event.task.image.repository for event in events)
    account = "${AWS::Region}:${AWS::AccountId}"
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            "Resource": [
                sub(f"arn:${{AWS::Partition}}:ecr:{account}:repository/{name}")
                for name in repositories
            ],
        },
        {
            "Effect": "Allow",
            "Action": LOG_ACTIONS,
            "Resource": sub(
                f"arn:${{AWS::Partition}}:logs:{account}:log-group:/hybridless/{app.stack_name}-*"
            ),
        },
    ]
    return role("ecs-tasks.amazonaws.com", [], statements, "pull-and-log")


def _cluster(event: EcsEvent) -> Any:
    return event.task.cluster_arn or ref(CLUSTER)


def _add_task_definition(template: Template, app: App, event: EcsEvent, image: str) -> str:
    p = prefix(event.function, event.index)
    name = resource_name(app, event.function, event.index)
    logs = template.add(
        f"{p}LogGroup", log_group(f"/hybridless/{name}", event.log_retention_days), event.function
    )
    container: dict[str, Any] = {
        "Name": CONTAINER_NAME,
        "Image": image,
        "Essential": True,
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": ref(logs),
                "awslogs-region": ref("AWS::Region"),
                "awslogs-stream-prefix": event.function,
            },
        },
    }
    if isinstance(event, HttpdEvent):
        container["PortMappings"] = [{"ContainerPort": event.port, "Protocol": "tcp"}]
    if event.environment:
        container["Environment"] = environment_list(event.environment)
    compatibility = "EC2" if event.task.ec2_launch_type else "FARGATE"
    properties: dict[str, Any] = {
        "Family": name,
        "Cpu": str(event.task.cpu),
        "Memory": str(event.task.memory),
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": [compatibility],
        "ExecutionRoleArn": get_att(EXECUTION_ROLE, "Arn"),
        "TaskRoleArn": get_att(TASK_ROLE, "Arn"),
        "ContainerDefinitions": [container],
    }
    properties.update(_platform(event))
    return template.add(
        f"{p}TaskDefinition",
        {"Type": "AWS::ECS::TaskDefinition", "Properties": properties},
        event.function,
    )


def _platform(event: EcsEvent) -> dict[str, Any]:
    """The CPU the image was built for. Fargate runs x86_64 unless the task definition says
    ARM64, so an arm64 image would die with `exec format error`. RuntimePlatform is valid with
    the EC2 launch type too (its CpuArchitecture is documented for Linux EC2 instances), but
    there the instances are the user's, of either CPU, and ECS documents no placement by it:
    a memberOf constraint on their built-in `ecs.cpu-architecture` attribute is what keeps the
    tasks off instances of the other CPU. Without a platform nothing is added, so the
    templates of existing apps do not change."""
    architecture = event.task.image.architecture
    if architecture is None:
        return {}
    settings: dict[str, Any] = {
        "RuntimePlatform": {
            "CpuArchitecture": ECS_CPU[architecture],
            "OperatingSystemFamily": "LINUX",
        }
    }
    if event.task.ec2_launch_type:
        settings["PlacementConstraints"] = [
            {
                "Type": "memberOf",
                "Expression": f"attribute:ecs.cpu-architecture == {INSTANCE_CPU[architecture]}",
            }
        ]
    return settings


def _network_configuration(placement: Placement) -> dict[str, Any]:
    return {
        "AwsvpcConfiguration": {
            "AssignPublicIp": "ENABLED" if placement.public_ip else "DISABLED",
            "Subnets": placement.subnets,
            "SecurityGroups": [get_att(SERVICE_SG, "GroupId"), *placement.security_groups],
        }
    }


def _add_http_service(
    template: Template,
    app: App,
    event: HttpdEvent,
    task: str,
    placement: Placement,
    priorities: Mapping[tuple[str, int, int], int],
) -> None:
    p = prefix(event.function, event.index)
    target_group = template.add(f"{p}TargetGroup", _target_group(event, placement), event.function)
    alternate = None
    if event.deployment.shifts_traffic:
        alternate = template.add(
            f"{p}AlternateTargetGroup", _target_group(event, placement), event.function
        )
    rules = add_rules(
        template, event, event.routing, target_group, priorities, p, event.function, alternate
    )
    load_balancer: dict[str, Any] = {
        "ContainerName": CONTAINER_NAME,
        "ContainerPort": event.port,
        "TargetGroupArn": ref(target_group),
    }
    if alternate is not None:
        test_rule = None
        if event.deployment.test_listener_port is not None:
            test_rule = add_test_rule(template, event, target_group, alternate, priorities, p)
        load_balancer["AdvancedConfiguration"] = _advanced_configuration(
            alternate, rules[0], test_rule
        )
        rules = rules[1:]  # the rules named there are waited for already
    _add_service(template, app, event, task, placement, event.concurrency, load_balancer, rules)


def _target_group(event: HttpdEvent, placement: Placement) -> dict[str, Any]:
    health = event.health
    return {
        "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
        "Properties": {
            "Port": event.port,
            "Protocol": "HTTP",
            "TargetType": "ip",
            "VpcId": placement.vpc_id,
            "HealthCheckPath": health.path,
            "HealthCheckIntervalSeconds": health.interval,
            "HealthCheckTimeoutSeconds": health.timeout,
            "HealthyThresholdCount": health.healthy_count,
            "UnhealthyThresholdCount": health.unhealthy_count,
            "Matcher": {"HttpCode": health.status_code},
            "TargetGroupAttributes": [
                {
                    "Key": "deregistration_delay.timeout_seconds",
                    "Value": str(event.deregistration_delay),
                }
            ],
        },
    }


def _advanced_configuration(
    alternate: str, production_rule: str, test_rule: str | None
) -> dict[str, Any]:
    """The rules whose weights ECS moves between the two target groups."""
    config: dict[str, Any] = {
        "AlternateTargetGroupArn": ref(alternate),
        "ProductionListenerRule": ref(production_rule),
    }
    if test_rule:
        config["TestListenerRule"] = ref(test_rule)
    config["RoleArn"] = get_att(TRAFFIC_ROLE, "Arn")
    return config


def _add_service(
    template: Template,
    app: App,
    event: HttpdEvent | ProcessEvent,
    task: str,
    placement: Placement,
    desired: int,
    load_balancer: dict[str, Any] | None,
    depends_on: list[str] | None = None,
) -> None:
    p = prefix(event.function, event.index)
    properties: dict[str, Any] = {
        "Cluster": _cluster(event),
        "LaunchType": "EC2" if event.task.ec2_launch_type else "FARGATE",
        "TaskDefinition": ref(task),
        "PropagateTags": "SERVICE",
        "EnableECSManagedTags": True,
        "DeploymentConfiguration": _deployment_configuration(app, event.deployment),
        "NetworkConfiguration": _network_configuration(placement),
    }
    if event.autoscale is None:
        # with autoscaling the count is the scaler's: a deploy must not reset it
        properties["DesiredCount"] = desired
    if load_balancer:
        properties["HealthCheckGracePeriodSeconds"] = HEALTH_CHECK_GRACE_SECONDS
        properties["LoadBalancers"] = [load_balancer]
    service: dict[str, Any] = {"Type": "AWS::ECS::Service", "Properties": properties}
    waits = [*(depends_on or []), *placement.ready]
    if waits:
        service["DependsOn"] = waits
    name = template.add(f"{p}Service", service, event.function)
    template.output(f"{p}ServiceName", get_att(name, "Name"), f"{event.function}: ECS service")
    if event.autoscale:
        _add_autoscaling(template, event, name, event.autoscale)


def _deployment_configuration(app: App, deployment: EcsDeployment) -> dict[str, Any]:
    """The percentages stay for every strategy: ECS also keeps to them when it replaces tasks
    outside a deployment. The strategy is always named, rolling too: a service that ran
    blue/green goes back to rolling only when told to, and a template without the key would
    leave it as it was."""
    breaker = deployment.circuit_breaker
    config: dict[str, Any] = {
        "MaximumPercent": deployment.maximum_percent,
        "MinimumHealthyPercent": deployment.minimum_healthy_percent,
        "DeploymentCircuitBreaker": {"Enable": breaker, "Rollback": breaker},
    }
    config["Strategy"] = STRATEGIES.get(deployment.strategy, "ROLLING")
    if deployment.strategy == "canary":
        config["CanaryConfiguration"] = {
            "CanaryPercent": deployment.canary_percent,
            "CanaryBakeTimeInMinutes": deployment.interval_minutes,
        }
    elif deployment.strategy == "linear":
        config["LinearConfiguration"] = {
            "StepPercent": deployment.linear_percent,
            "StepBakeTimeInMinutes": deployment.interval_minutes,
        }
    if deployment.bake_time_minutes is not None:
        config["BakeTimeInMinutes"] = deployment.bake_time_minutes
    if deployment.alarms:
        config["Alarms"] = {"AlarmNames": list(deployment.alarms), "Enable": True, "Rollback": True}
    hooks = [
        {
            "HookTargetArn": hook_function(app, target).arn,
            "LifecycleStages": [stage],
            "RoleArn": get_att(HOOK_ROLE, "Arn"),
            "TargetType": "AWS_LAMBDA",
        }
        for target, stage in _hooks(deployment)
    ]
    if hooks:
        config["LifecycleHooks"] = hooks
    return config


def _add_autoscaling(
    template: Template, event: HttpdEvent | ProcessEvent, service: str, scale: AutoScale
) -> None:
    p = prefix(event.function, event.index)
    arn = event.task.cluster_arn
    cluster_name = arn.split("/", 1)[1] if arn else ref(CLUSTER)
    target = template.add(
        f"{p}ScalableTarget",
        {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": {
                    "Fn::Join": ["/", ["service", cluster_name, get_att(service, "Name")]]
                },
                "MinCapacity": scale.min,
                "MaxCapacity": scale.max,
            },
        },
        event.function,
    )
    metric: dict[str, Any] = {"PredefinedMetricType": SCALE_METRICS[scale.metric]}
    if scale.metric == "requests":
        metric["ResourceLabel"] = {
            "Fn::Join": [
                "/",
                [
                    {"Fn::GetAtt": [_balancer_name(event), "LoadBalancerFullName"]},
                    get_att(f"{p}TargetGroup", "TargetGroupFullName"),
                ],
            ]
        }
    template.add(
        f"{p}ScalingPolicy",
        {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": f"{p}-{scale.metric}",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": ref(target),
                "TargetTrackingScalingPolicyConfiguration": {
                    "PredefinedMetricSpecification": metric,
                    "TargetValue": scale.target,
                    "ScaleInCooldown": 120,
                    "ScaleOutCooldown": 60,
                },
            },
        },
        event.function,
    )


def _balancer_name(event: HttpdEvent | ProcessEvent) -> str:
    balancer = balancer_of(event.routing.listener) if isinstance(event, HttpdEvent) else None
    assert balancer is not None, "the model refuses requests scaling without an app balancer"
    return balancer.name


def _add_schedule(
    template: Template, app: App, event: ScheduledTaskEvent, task: str, placement: Placement
) -> None:
    """The rule runs the task with its own role: one that may start exactly this task
    definition and pass the task's two roles to ECS."""
    p = prefix(event.function, event.index)
    schedule_role = template.add(
        f"{p}ScheduleRole",
        role(
            "events.amazonaws.com",
            [],
            [
                {
                    "Effect": "Allow",
                    "Action": "ecs:RunTask",
                    "Resource": sub(f"${{{task}}}"),
                    "Condition": {"ArnLike": {"ecs:cluster": _cluster_arn(event)}},
                },
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": [get_att(EXECUTION_ROLE, "Arn"), get_att(TASK_ROLE, "Arn")],
                },
            ],
            policy_name="run-task",
        ),
        event.function,
    )
    target: dict[str, Any] = {
        "Id": "task",
        "Arn": _cluster_arn(event),
        "RoleArn": get_att(schedule_role, "Arn"),
        "EcsParameters": {
            "TaskDefinitionArn": ref(task),
            "TaskCount": event.task_count,
            "LaunchType": "EC2" if event.task.ec2_launch_type else "FARGATE",
            "NetworkConfiguration": {
                "AwsVpcConfiguration": _network_configuration(placement)["AwsvpcConfiguration"]
            },
            "PropagateTags": "TASK_DEFINITION",
            "EnableECSManagedTags": True,
        },
    }
    if event.input is not None:
        target["Input"] = _scheduled_input(event)
    template.add(
        f"{p}Schedule",
        schedule_rule(
            event.schedule, f"{app.stack_name}: {event.function} on {event.schedule}", target
        ),
        event.function,
    )


def _cluster_arn(event: EcsEvent) -> Any:
    return event.task.cluster_arn or get_att(CLUSTER, "Arn")


def _scheduled_input(event: ScheduledTaskEvent) -> str:
    """What EventBridge hands RunTask. For a user's image that is the RunTask overrides as
    written; a built-in runtime's handler gets an event instead, which reaches the container
    the one way RunTask allows: an environment variable the runtime reads."""
    assert event.input is not None
    if event.task.image.runtime is None:
        return event.input
    override = {
        "name": CONTAINER_NAME,
        "environment": [{"name": EVENT_VARIABLE, "value": event.input}],
    }
    return json.dumps({"containerOverrides": [override]}, separators=(",", ":"))
