"""The policy checks a generated template knowingly does not meet, each with its reason.

The templates are checked with checkov. Where a check asks for something that would be wrong as
a default (a customer managed key for every app, a function inside a VPC it has no use for, a
certificate the user did not give), the resource says so itself: a `Metadata.checkov.skip`
entry, which checkov reads as a suppression and a reviewer reads as the justification. A
waiver is added only to the resources it applies to, so a resource that could meet the check is
still checked. The reasons live here alone, and docs/security.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str


LOG_GROUP_KEY = Waiver(
    "CKV_AWS_158",
    "CloudWatch Logs encrypts every log group at rest with a key of its own. A customer managed "
    "key, with a key policy that lets the logs service use it and a monthly cost, is not created "
    "for every app by default.",
)

NO_TLS = Waiver(
    "CKV_AWS_103",
    "A plain HTTP listener has no TLS to configure. HTTPS listeners use the TLS 1.3 policy "
    "ELBSecurityPolicy-TLS13-1-2-2021-06.",
)

PUBLIC_HTTP_LISTENER = (
    Waiver(
        "CKV_AWS_2",
        "Plain HTTP because the routes on this balancer have no certificateArns: the app asked "
        "for HTTP. Given certificates, the balancer serves them on an HTTPS listener and this one "
        "only redirects to HTTPS.",
    ),
    NO_TLS,
)

PRIVATE_HTTP_LISTENER = (
    Waiver(
        "CKV_AWS_2",
        "Plain HTTP on an internal balancer, which has no public address, because its routes "
        "have no certificateArns. Given certificates, it serves HTTPS and this listener only "
        "redirects.",
    ),
    NO_TLS,
)

TEST_HTTP_LISTENER = (
    Waiver(
        "CKV_AWS_2",
        "The test listener of a traffic shift serves the same protocol as the routes it tests; "
        "they have no certificateArns, so it is plain HTTP.",
    ),
    NO_TLS,
)

PUBLIC_BALANCER_PORT_80 = Waiver(
    "CKV_AWS_260",
    "An internet-facing load balancer answers port 80 from anywhere: it serves the app's HTTP "
    "routes there, or with certificates only redirects to HTTPS. Only the listener ports are "
    "open, and the security group the app gives its tasks admits traffic from this one alone.",
)

PRIVATE_BALANCER_PORT_80 = Waiver(
    "CKV_AWS_260",
    "The balancer is internal and has no public address, so 0.0.0.0/0 admits only traffic "
    "routed into the existing VPC, whose CIDR the template cannot know. Only the listener ports "
    "are open.",
)

BALANCER_ACCESS_LOGS = Waiver(
    "CKV_AWS_91",
    "Access logs need an S3 bucket that the regional load balancer service may write to, with "
    "a retention its owner decides; the app creates no such bucket by default. Requests are "
    "counted in the balancer's CloudWatch metrics, and each target logs what it served.",
)

UNRESERVED_CONCURRENCY = Waiver(
    "CKV_AWS_115",
    "No reservedConcurrency is set, so the function shares the account's unreserved "
    "concurrency. A reservation by default would take capacity from every other function in "
    "the account and throttle this one at a number nobody chose; reservedConcurrency sets one.",
)

SYNCHRONOUS_NO_DEAD_LETTERS = Waiver(
    "CKV_AWS_116",
    "Invoked synchronously (API Gateway or the load balancer): the caller receives the error. "
    "A dead-letter queue only ever receives failed asynchronous invocations.",
)

QUEUE_NO_DEAD_LETTERS = Waiver(
    "CKV_AWS_116",
    "Invoked by an SQS event source mapping: a failed message returns to its queue and goes to "
    "that queue's redrive policy. A function's dead-letter queue does not apply to event source "
    "mappings.",
)

ASYNCHRONOUS_NO_DEAD_LETTERS = Waiver(
    "CKV_AWS_116",
    "The app configures no dead-letter target, and an unread queue is not created by default. "
    "Lambda retries a failed asynchronous invocation twice; every failure is in the function's "
    "log and its Errors metric.",
)

NO_NETWORK = Waiver(
    "CKV_AWS_117",
    "The app names no VPC (provider.vpc) and the function needs nothing inside one; what it may "
    "reach is governed by its IAM role.",
)

OUTSIDE_NETWORK = Waiver(
    "CKV_AWS_117",
    "provider.vpc places the app's ECS tasks and load balancers. Functions stay outside it: in "
    "a VPC a function reaches AWS APIs and the internet only through a NAT gateway or VPC "
    "endpoints, which the network created with an app does not have and an existing one may "
    "not. What a function may reach is governed by its IAM role.",
)

ENVIRONMENT_KEY = Waiver(
    "CKV_AWS_173",
    "Lambda encrypts environment variables at rest with an AWS managed key. They come from "
    "hybridless.yml, where secrets do not belong (Secrets Manager or SSM Parameter Store hold "
    "those); a customer managed key is not created by default.",
)

ALL = tuple(
    dict.fromkeys(
        (
            LOG_GROUP_KEY,
            *PUBLIC_HTTP_LISTENER,
            *PRIVATE_HTTP_LISTENER,
            *TEST_HTTP_LISTENER,
            PUBLIC_BALANCER_PORT_80,
            PRIVATE_BALANCER_PORT_80,
            BALANCER_ACCESS_LOGS,
            UNRESERVED_CONCURRENCY,
            SYNCHRONOUS_NO_DEAD_LETTERS,
            QUEUE_NO_DEAD_LETTERS,
            ASYNCHRONOUS_NO_DEAD_LETTERS,
            NO_NETWORK,
            OUTSIDE_NETWORK,
            ENVIRONMENT_KEY,
        )
    )
)


def waive(resource: dict[str, Any], *waivers: Waiver) -> dict[str, Any]:
    """`resource`, with the waivers added to its checkov metadata; returned for chaining."""
    if waivers:
        skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
        skips.extend({"id": w.check, "comment": w.reason} for w in waivers)
    return resource
