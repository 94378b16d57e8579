"""The keys the model reads at each place of hybridless.yml.

One table, read by the model (unknown keys get a did-you-mean) and checked against the
published JSON Schema by a test, so the editor's completion and the tool never disagree.
Keys of the documented model that this version does not carry out yet are listed apart and
refused by name: silently ignoring one would deploy something other than what the user wrote.
"""

from __future__ import annotations

TOP = frozenset({"service", "provider", "hybridless", "resources"})
PROVIDER = frozenset(
    {
        "region",
        "stage",
        "stackName",
        "deploymentBucket",
        "deploymentMethod",
        "tags",
        "environment",
        "iam",
        "vpc",
        "rollbackConfiguration",
        "terminationProtection",
        "logRetentionInDays",
    }
)
DEPLOYMENT_BUCKET = frozenset({"name", "keepDeployments"})
IAM = frozenset({"role"})
IAM_ROLE = frozenset({"statements"})
EXISTING_VPC = frozenset({"vpcId", "subnetIds", "securityGroupIds", "albSubnetIds"})
NEW_VPC = frozenset({"cidr", "subnets"})
ROLLBACK = frozenset({"alarms", "monitoringTimeInMinutes"})
HYBRIDLESS = frozenset({"tags", "images", "functions", "buildConcurrency", "keepPrevious"})
IMAGE = frozenset({"dockerFile", "dockerBuildArgs", "additionalDockerFiles", "platform"})
FILE_COPY = frozenset({"from", "to"})
FUNCTION = frozenset(
    {
        "handler",
        "memory",
        "timeout",
        "environment",
        "ecsClusterArn",
        "albListenerArn",
        "albIsPrivate",
        "logsRetentionInDays",
        "package",
        "events",
    }
)
PACKAGE = frozenset({"patterns"})
ROUTE = frozenset({"path", "method", "priority"})
AUTOSCALE = frozenset({"min", "max", "metric", "targetValue"})
HOOKS = frozenset({"preTraffic", "postTraffic"})
# `deployment:` of ECS events and of Lambda events: what one takes and the other does not is
# refused naming the events it applies to.
ECS_DEPLOYMENT = frozenset(
    {
        "strategy",
        "minimumHealthyPercent",
        "maximumPercent",
        "circuitBreaker",
        "canaryPercent",
        "linearPercent",
        "intervalMinutes",
        "bakeTimeMinutes",
        "testListenerPort",
        "hooks",
        "alarms",
    }
)
FUNCTION_DEPLOYMENT = frozenset({"strategy", "percentage", "intervalMinutes", "alarms", "hooks"})
RESOURCES = frozenset({"Parameters", "Conditions", "Mappings", "Resources", "Outputs"})

EVENT_COMMON = frozenset({"eventType", "runtime", "environment"})
IMAGE_SOURCE = IMAGE | {"imageId", "baseImage"}
ECS_TASK = frozenset({"cpu", "ec2LaunchType"})
ROUTING = frozenset({"routes", "hostname", "certificateArns"})
HEALTH = frozenset(
    {
        "healthCheckRoute",
        "healthCheckInterval",
        "healthCheckTimeout",
        "healthCheckHealthyCount",
        "healthCheckUnhealthyCount",
        "healthCheckStatusCode",
    }
)
TRIGGER = frozenset({"protocol", "protocolArn", "schedulerRate", "schedulerInput", *ROUTING})
EVENTS: dict[str, frozenset[str]] = {
    "httpd": EVENT_COMMON
    | IMAGE_SOURCE
    | ECS_TASK
    | ROUTING
    | HEALTH
    | {"concurrency", "port", "deregistrationDelay", "autoScale", "deployment"},
    "process": EVENT_COMMON | IMAGE_SOURCE | ECS_TASK | {"concurrency", "autoScale", "deployment"},
    "scheduledTask": EVENT_COMMON
    | IMAGE_SOURCE
    | ECS_TASK
    | {"concurrency", "schedulerRate", "schedulerInput"},
    "lambdaContainer": EVENT_COMMON
    | IMAGE_SOURCE
    | TRIGGER
    | {"reservedConcurrency", "deployment"},
    "lambda": EVENT_COMMON | TRIGGER | {"reservedConcurrency", "deployment"},
}

# Documented, refused by name until built.
NOT_YET: dict[str, frozenset[str]] = {
    "hybridless": frozenset(),
    "image": frozenset(),
    "httpd": frozenset(),
    "process": frozenset(),
    "scheduledTask": frozenset(),
    "lambdaContainer": frozenset(),
    "lambda": frozenset(),
}
