"""HTTP services on ECS Fargate behind one application load balancer (`httpd` events).

One load balancer and one HTTP listener serve every `httpd` event of the app; each route is a
listener rule with its own priority. The load balancer's security group opens the listener
port only, and the tasks accept traffic from the load balancer only, on their container port.
Every service has the deployment circuit breaker with rollback, so a broken image fails the
deploy in minutes and CloudFormation returns the service to the running revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridless.model import App, HttpdEvent, assign_priorities
from hybridless.template.common import (
    Template,
    environment_list,
    get_att,
    log_group,
    prefix,
    ref,
    resource_name,
    role,
)

CLUSTER = "Cluster"
EXECUTION_ROLE = "TaskExecutionRole"
TASK_ROLE = "TaskRole"
LOAD_BALANCER = "LoadBalancer"
LOAD_BALANCER_SG = "LoadBalancerSecurityGroup"
SERVICE_SG = "ServiceSecurityGroup"
LISTENER = "HttpListener"
LISTENER_PORT = 80
CONTAINER_NAME = "app"


def add_http_services(template: Template, app: App, images: Mapping[str, str]) -> None:
    events = app.httpd_events
    if not events:
        return
    assert app.vpc is not None, "the model requires provider.vpc for httpd events"
    vpc = app.vpc
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
    template.add(
        EXECUTION_ROLE,
        role("ecs-tasks.amazonaws.com", ["service-role/AmazonECSTaskExecutionRolePolicy"]),
    )
    template.add(TASK_ROLE, role("ecs-tasks.amazonaws.com", []))
    template.add(
        LOAD_BALANCER_SG,
        {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"{app.stack_name} load balancer: HTTP from anywhere",
                "VpcId": vpc.vpc_id,
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": LISTENER_PORT,
                        "ToPort": LISTENER_PORT,
                        "CidrIp": "0.0.0.0/0",
                        "Description": "HTTP listener",
                    }
                ],
            },
        },
    )
    template.add(
        SERVICE_SG,
        {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"{app.stack_name} tasks: traffic from the load balancer",
                "VpcId": vpc.vpc_id,
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "SourceSecurityGroupId": get_att(LOAD_BALANCER_SG, "GroupId"),
                        "Description": f"container port {port} from the load balancer",
                    }
                    for port in sorted({event.port for event in events})
                ],
            },
        },
    )
    template.add(
        LOAD_BALANCER,
        {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Type": "application",
                "Scheme": "internet-facing",
                "Subnets": list(vpc.alb_subnet_ids),
                "SecurityGroups": [get_att(LOAD_BALANCER_SG, "GroupId")],
            },
        },
    )
    template.add(
        LISTENER,
        {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": ref(LOAD_BALANCER),
                "Port": LISTENER_PORT,
                "Protocol": "HTTP",
                "DefaultActions": [
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {
                            "StatusCode": "404",
                            "ContentType": "text/plain",
                            "MessageBody": "no route",
                        },
                    }
                ],
            },
        },
    )
    template.output(
        "ServiceEndpoint",
        {"Fn::Sub": f"http://${{{LOAD_BALANCER}.DNSName}}"},
        "URL of the load balancer in front of the HTTP services",
    )
    template.output("ClusterName", ref(CLUSTER), "ECS cluster of the services")
    priorities = assign_priorities(app.events)
    for event in events:
        _add_service(template, app, event, images[event.image.name], priorities)


def _add_service(
    template: Template,
    app: App,
    event: HttpdEvent,
    image: str,
    priorities: Mapping[tuple[str, int, int], int],
) -> None:
    assert app.vpc is not None
    p = prefix(event.function, event.index)
    logs = template.add(
        f"{p}LogGroup", log_group(f"/hybridless/{resource_name(app, event.function, event.index)}")
    )
    container: dict[str, Any] = {
        "Name": CONTAINER_NAME,
        "Image": image,
        "Essential": True,
        "PortMappings": [{"ContainerPort": event.port, "Protocol": "tcp"}],
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": ref(logs),
                "awslogs-region": {"Ref": "AWS::Region"},
                "awslogs-stream-prefix": event.function,
            },
        },
    }
    if event.environment:
        container["Environment"] = environment_list(event.environment)
    task = template.add(
        f"{p}TaskDefinition",
        {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": resource_name(app, event.function, event.index),
                "Cpu": str(event.cpu),
                "Memory": str(event.memory),
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "ExecutionRoleArn": get_att(EXECUTION_ROLE, "Arn"),
                "TaskRoleArn": get_att(TASK_ROLE, "Arn"),
                "ContainerDefinitions": [container],
            },
        },
    )
    health = event.health
    target_group = template.add(
        f"{p}TargetGroup",
        {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Port": event.port,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "VpcId": app.vpc.vpc_id,
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
        },
    )
    rules = []
    for number, route in enumerate(event.routes):
        conditions: list[dict[str, Any]] = [
            {"Field": "path-pattern", "PathPatternConfig": {"Values": [route.path]}}
        ]
        if route.method:
            conditions.append(
                {
                    "Field": "http-request-method",
                    "HttpRequestMethodConfig": {"Values": [route.method]},
                }
            )
        rules.append(
            template.add(
                f"{p}Rule{number}",
                {
                    "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                    "Properties": {
                        "ListenerArn": ref(LISTENER),
                        "Priority": priorities[(event.function, event.index, number)],
                        "Conditions": conditions,
                        "Actions": [{"Type": "forward", "TargetGroupArn": ref(target_group)}],
                    },
                },
            )
        )
    service = template.add(
        f"{p}Service",
        {
            "Type": "AWS::ECS::Service",
            "DependsOn": rules,
            "Properties": {
                "Cluster": ref(CLUSTER),
                "LaunchType": "FARGATE",
                "DesiredCount": event.concurrency,
                "TaskDefinition": ref(task),
                "HealthCheckGracePeriodSeconds": 60,
                "DeploymentConfiguration": {
                    "MaximumPercent": 200,
                    "MinimumHealthyPercent": 100,
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                },
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "AssignPublicIp": "DISABLED",
                        "Subnets": list(app.vpc.subnet_ids),
                        "SecurityGroups": [
                            get_att(SERVICE_SG, "GroupId"),
                            *app.vpc.security_group_ids,
                        ],
                    }
                },
                "LoadBalancers": [
                    {
                        "ContainerName": CONTAINER_NAME,
                        "ContainerPort": event.port,
                        "TargetGroupArn": ref(target_group),
                    }
                ],
            },
        },
    )
    template.output(f"{p}ServiceName", get_att(service, "Name"), f"{event.function}: ECS service")
