"""The deploy role's policy in docs/deploy-role-policy.json, against the calls the tool makes.

examples/hello is deployed three times (the third deploy's cleanup deletes images), rolled back
and removed, with every AWS call and every registry request passing through recording proxies
(proving_ground/faults.py with no faults). Each call is turned into the IAM actions it needs and
the resource it acts on, as the service authorises it (an S3 HeadObject needs s3:GetObject, a
create with tags needs TagResource too, a registry layer upload needs ecr:UploadLayerPart), and
each must be allowed by the policy, conditions aside. The other way round, every action the
policy grants was needed by a recorded call, or is listed below with the path that needs it and
named in the tool's source: the policy grants nothing the tool never asks for.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore import xform_name

from proving_ground.faults import Faults, Rates, Seen
from tests.conftest import GroundHandle
from tests.integration.hello import HYBRIDLESS, App

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "docs" / "deploy-role-policy.json"
ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET = f"hybridless-deployments-{ACCOUNT}-{REGION}"
STACK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hybridless-cloudformation"
# Granted for paths this test does not take, each named in the tool's source.
UNREACHED = {
    "s3:CreateBucket": "the first deploy into an account (moto cannot take its TLS-only policy)",
    "s3:PutBucketPublicAccessBlock": "the first deploy into an account",
    "s3:PutEncryptionConfiguration": "the first deploy into an account",
    "s3:PutBucketPolicy": "the first deploy into an account",
    "s3:PutBucketVersioning": "the first deploy into an account",
    "s3:DeleteObjectVersion": "remove, on the versioned bucket the tool creates",
    "cloudformation:GetTemplate": "--method direct, to skip an update that changes nothing",
    "cloudformation:UpdateTerminationProtection": "terminationProtection in the config",
    "cloudformation:CreateStack": "--method direct on a new stack",
    "cloudformation:UpdateStack": "--method direct",
    "cloudformation:CancelUpdateStack": "a timeout or a cancelled job",
    "cloudformation:ContinueUpdateRollback": "--continue-update-rollback",
    "cloudformation:ListChangeSets": "a new stack another deploy is creating",
    "cloudformation:DeleteChangeSet": "an empty change set, or a deploy overtaken by another",
    "ecs:ListTasks": "following an ECS rollout that fails",
    "ecs:DescribeTasks": "following an ECS rollout that fails",
    "codedeploy:GetDeploymentGroup": "a traffic-shifting strategy",
    "codedeploy:ListDeployments": "a traffic-shifting strategy",
    "codedeploy:GetDeployment": "a traffic-shifting strategy",
    "codedeploy:ListDeploymentTargets": "a traffic-shifting strategy",
    "codedeploy:BatchGetDeploymentTargets": "a traffic-shifting strategy",
}
NO_PERMISSION = {"sts:GetCallerIdentity"}  # answered for any identity
# Actions named unlike the operation that needs them, for finding that operation in the source.
OPERATION_OF = {
    "s3:PutEncryptionConfiguration": "PutBucketEncryption",
    "s3:PutBucketPublicAccessBlock": "PutPublicAccessBlock",
    "s3:DeleteObjectVersion": "DeleteObjects",
}
S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "HeadObject": "s3:GetObject",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
REGISTRY = [  # (method, path pattern) of the registry API → the ECR action it needs
    ("HEAD", r"/v2/(.+)/blobs/[^/]+", "ecr:BatchCheckLayerAvailability"),
    ("GET", r"/v2/(.+)/blobs/[^/]+", "ecr:GetDownloadUrlForLayer"),
    ("POST", r"/v2/(.+)/blobs/uploads/", "ecr:InitiateLayerUpload"),
    ("PATCH", r"/v2/(.+)/blobs/uploads/[^/?]+", "ecr:UploadLayerPart"),
    ("PUT", r"/v2/(.+)/blobs/uploads/[^/?]+", "ecr:CompleteLayerUpload"),
    ("PUT", r"/v2/(.+)/manifests/[^/]+", "ecr:PutImage"),
    ("HEAD", r"/v2/(.+)/manifests/[^/]+", "ecr:BatchGetImage"),
    ("GET", r"/v2/(.+)/manifests/[^/]+", "ecr:BatchGetImage"),
]


def policy(service: str) -> list[dict[str, Any]]:
    text = POLICY.read_text()
    for name, value in {
        "{account}": ACCOUNT,
        "{region}": REGION,
        "{service}": service,
        "{bucket}": BUCKET,
        "{cloudformation-role}": STACK_ROLE,
    }.items():
        text = text.replace(name, value)
    return list(json.loads(text)["Statement"])


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in _listed(statement["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement["Resource"]))
        for statement in statements
    )


def granted(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in _listed(s["Action"])}


class Needs:
    """What each recorded request needs, as (action, resource) pairs."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.models = botocore.session.get_session()

    def of(self, seen: Seen) -> list[tuple[str, str]]:
        if seen.protocol == "registry":
            return self._registry(seen)
        if seen.protocol == "query":
            params = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
            return self._query(seen.service, params.pop("Action"), params)
        if seen.protocol == "json":
            operation = seen.target.rpartition(".")[2]
            return self._json(seen.service, operation, json.loads(seen.body or b"{}"))
        return self._rest(seen)

    def _registry(self, seen: Seen) -> list[tuple[str, str]]:
        path = urlsplit(seen.path).path
        for method, pattern, action in REGISTRY:
            found = re.fullmatch(pattern, path)
            if method == seen.method and found:
                return [(action, self._repository(found.group(1)))]
        return []  # the version check (GET /v2/) is part of logging in

    def _query(self, service: str, operation: str, params: dict[str, str]) -> list[tuple[str, str]]:
        action = f"{service}:{operation}"
        if service == "sts":
            return [(action, "*")]
        if operation == "ValidateTemplate":
            return [(action, "*")]
        name = params.get("StackName") or self.stack
        if params.get("ChangeSetName", "").startswith("arn:") and "StackName" not in params:
            resource = params["ChangeSetName"]
        else:
            resource = name if name.startswith("arn:") else self._stack(name)
        needs = [(action, resource)]
        if any(k.startswith("Tags.member") for k in params) and operation.startswith(
            ("Create", "Update")
        ):
            needs.append(("cloudformation:TagResource", resource))
        if params.get("RoleARN"):
            needs.append(("iam:PassRole", params["RoleARN"]))
        return needs

    def _json(self, service: str, operation: str, body: dict[str, Any]) -> list[tuple[str, str]]:
        action = f"{service}:{operation}"
        if service == "ecr":
            if operation == "GetAuthorizationToken":
                return [(action, "*")]
            names = body.get("repositoryNames") or [body.get("repositoryName", "*")]
            resources = [self._repository(n) for n in names]
            if "resourceArn" in body:
                resources = [body["resourceArn"]]
            if operation == "CreateRepository" and body.get("tags"):
                return [(action, resources[0]), ("ecr:TagResource", resources[0])]
            return [(action, resource) for resource in resources]
        if service == "ecs":
            if operation == "DescribeTaskDefinition":
                return [(action, "*")]
            cluster = body.get("cluster", "")
            return [(action, arn) for arn in body.get("services", body.get("tasks", [cluster]))]
        return [(action, "*")]

    def _rest(self, seen: Seen) -> list[tuple[str, str]]:
        parts = urlsplit(seen.path)
        operation, labels = self._rest_operation(seen.service, seen.method, parts, seen.headers)
        if seen.service == "lambda":
            function = unquote(labels["FunctionName"])
            if not function.startswith("arn:"):
                function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
            return [(f"lambda:{operation}", function)]
        bucket = f"arn:aws:s3:::{labels['Bucket']}"
        if operation == "DeleteObjects":
            keys = re.findall(rb"<Key>([^<]+)</Key>", seen.body)
            versioned = b"<VersionId>" in seen.body
            action = "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"
            return [(action, f"{bucket}/{k.decode()}") for k in keys]
        action = S3_ACTIONS.get(operation, f"s3:{operation}")
        key = labels.get("Key")
        return [(action, f"{bucket}/{unquote(key)}" if key else bucket)]

    def _rest_operation(
        self, service: str, method: str, url: Any, headers: tuple[str, ...]
    ) -> tuple[str, dict[str, str]]:
        """The operation whose HTTP binding matches, the most specific first (the one with the
        most literal query keys and path characters) among those whose required headers were
        sent: botocore's own model, read backwards."""
        model = self.models.get_service_model(service)
        query = parse_qs(url.query, keep_blank_values=True)
        best: tuple[int, str, dict[str, str]] | None = None
        for name in model.operation_names:
            operation = model.operation_model(name)
            http = operation.http
            if http.get("method") != method or not _has_required_headers(operation, headers):
                continue
            path, _, wanted = http["requestUri"].partition("?")
            pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", path)
            pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
            found = re.fullmatch(pattern.rstrip("/") + "/?", url.path)
            keys = [k.partition("=")[0] for k in wanted.split("&") if k]
            if not found or any(k not in query for k in keys):
                continue
            score = len(keys) * 1000 + len(re.sub(r"\{[^}]+\}", "", path))
            if best is None or score > best[0]:
                best = (score, name, found.groupdict())
        assert best is not None, f"no {service} operation is {method} {url.path}?{url.query}"
        return best[1], best[2]

    def _stack(self, name: str) -> str:
        return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/*"

    def _repository(self, name: str) -> str:
        return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"


def _has_required_headers(operation: Any, headers: tuple[str, ...]) -> bool:
    shape = operation.input_shape
    if shape is None:
        return True
    for member in shape.required_members:
        location = shape.members[member].serialization
        if location.get("location") == "header" and location["name"].lower() not in headers:
            return False
    return True


def run(app: App, *argv: str) -> str:
    result = subprocess.run(
        [str(HYBRIDLESS), *argv, "--config", str(app.directory / "hybridless.yml"),
         "--stage", app.stage],
        env=app.env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return log


def test_the_documented_policy_allows_every_call_and_grants_nothing_unused(
    app: App, ground_env: GroundHandle
) -> None:
    aws = Faults(ground_env.env["AWS_ENDPOINT_URL"], Rates())
    ecr = Faults(ground_env.env["AWS_ENDPOINT_URL_ECR"], Rates())
    registry = Faults(ground_env.registry, Rates())
    try:
        app.env.update(AWS_ENDPOINT_URL=aws.url, AWS_ENDPOINT_URL_ECR=ecr.url)
        deploy = ("deploy", "--registry", registry.address, "--role-arn", STACK_ROLE)
        for take in range(3):
            app.change_code(f"Hello, take {take}, {{audience}}!")
            log = run(app, *deploy)
        assert "removed 1 image(s) no longer in use" in log
        run(app, "rollback", "--role-arn", STACK_ROLE)
        run(app, "remove", "--yes")
    finally:
        for proxy in (aws, ecr, registry):
            proxy.close()

    statements = policy("hello")
    needs = Needs(app.stack_name)
    used: dict[str, int] = {}
    refused = []
    for seen in [*aws.requests, *ecr.requests, *registry.requests]:
        for action, resource in needs.of(seen):
            if action in NO_PERMISSION:
                continue
            used[action] = used.get(action, 0) + 1
            if not allowed(statements, action, resource):
                refused.append(f"{action} on {resource} ({seen.method} {seen.path[:80]})")
    assert not refused, "the policy refuses calls the tool made:\n" + "\n".join(
        sorted(set(refused))
    )

    unused = granted(statements) - set(used)
    assert unused == set(UNREACHED), (
        f"granted but never needed, and not listed as reached elsewhere: "
        f"{sorted(unused - set(UNREACHED))}; listed but needed after all: "
        f"{sorted(set(UNREACHED) - unused)}"
    )
    source = "\n".join(p.read_text() for p in (ROOT / "hybridless").rglob("*.py"))
    for action in UNREACHED:
        operation = xform_name(OPERATION_OF.get(action, action.split(":")[1]))
        assert re.search(rf"\.{operation}\(|\"{operation}\"", source), (
            f"{action} is granted for a path the source does not have"
        )
