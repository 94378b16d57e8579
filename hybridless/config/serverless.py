"""A Hybridless plugin user's serverless.yml, read as it is.

Users of the Serverless Framework plugin should move over without rewriting their file. The
`hybridless:` block has the same model here, and `service`, `resources` and part of
`provider` mean the same thing. Everything else in the file drives the Serverless Framework
(its plugins, packaging, its own functions): hybridless has no use for it, so it is removed
before anything reads the document, and never silently: each removed key becomes one notice
with its file, line and key. A few Serverless spellings of settings hybridless does have
(the old `provider.iamRoleStatements`, `stackTags`, `maxPreviousDeploymentArtifacts`) are
carried over, with a notice, rather than dropped: dropping permissions or tags would deploy
something other than what the user has today.

Only a Serverless file is treated so, known by its name or by keys only Serverless uses
(`plugins`, `frameworkVersion`, `provider.name`). In a hybridless.yml an unknown key is a
mistake, and the model reports it with a did-you-mean.

This runs before variables are resolved: a removed key may hold a variable hybridless cannot
resolve (`${ssm:...}`, `${cf:...}`) and must not fail the load for it. The original document
stays the scope of `${self:}`, so `${self:custom.x}` in a kept key still reads `custom`.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hybridless.config.loader import Document, Path_, dotted, lookup
from hybridless.errors import Problem

# The keys hybridless reads; anything else at these levels is Serverless-only.
from hybridless.model.keys import DEPLOYMENT_BUCKET, PROVIDER, TOP

SERVERLESS_FILES = frozenset({"serverless.yml", "serverless.yaml", "serverless.json"})
# Serverless keys carried over into hybridless ones by this module, not dropped.
CARRIED = ("role", "iamRoleStatements", "iamManagedPolicies", "stackTags")

IGNORED = "is a Serverless Framework setting; hybridless ignores it"
UNKNOWN = "is neither a hybridless nor a Serverless Framework setting; hybridless ignores it"

# Serverless Framework (v1-v4, AWS) keys, so that only the others get a did-you-mean.
SERVERLESS_TOP = frozenset(
    {
        "app",
        "build",
        "configValidationMode",
        "console",
        "custom",
        "dashboard",
        "deprecationNotificationMode",
        "disabledDeprecations",
        "frameworkVersion",
        "functions",
        "layers",
        "license",
        "org",
        "outputs",
        "package",
        "params",
        "plugins",
        "stages",
        "stepFunctions",
        "unresolvedVariablesNotificationMode",
        "useDotenv",
        "variablesResolutionMode",
    }
)
SERVERLESS_PROVIDER = frozenset(
    {
        "alb",
        "apiGateway",
        "apiName",
        "architecture",
        "cfnRole",
        "cloudFront",
        "deploymentPrefix",
        "disableRollback",
        "ecr",
        "endpointType",
        "eventBridge",
        "httpApi",
        "kmsKeyArn",
        "kinesis",
        "lambdaHashingVersion",
        "layers",
        "logDataProtectionPolicy",
        "logs",
        "memorySize",
        "name",
        "notificationArns",
        "profile",
        "resourcePolicy",
        "rolePermissionsBoundary",
        "runtime",
        "runtimeManagement",
        "s3",
        "stackParameters",
        "stackPolicy",
        "timeout",
        "tracing",
        "usagePlan",
        "versionFunctions",
        "vpcEndpointIds",
        "websocketsApiName",
        "websocketsApiRouteSelectionExpression",
        "websocketsDescription",
    }
)
MESSAGES: dict[Path_, str] = {
    ("custom",): f"{IGNORED} (a ${{self:custom...}} variable in a kept key still reads it)",
    ("functions",): (
        "holds Serverless Framework functions; hybridless ignores them and deploys only "
        "hybridless.functions"
    ),
    ("provider", "profile"): (
        f"{IGNORED}; credentials come from AWS_PROFILE and the other usual AWS sources"
    ),
    ("resources", "extensions"): (
        "changes resources the Serverless Framework generates; hybridless generates others, "
        "so it ignores it"
    ),
}


def is_serverless_config(doc: Document) -> bool:
    """Named serverless.yml (.yaml, .json), or using keys only the Serverless Framework has."""
    if Path(doc.file).name in SERVERLESS_FILES:
        return True
    data = doc.data
    if not isinstance(data, dict):
        return False
    provider = data.get("provider")
    return (
        "plugins" in data
        or "frameworkVersion" in data
        or (isinstance(provider, dict) and "name" in provider)
    )


def strip_serverless_keys(doc: Document) -> tuple[Document, list[Problem]]:
    """`doc` without its Serverless-only keys, and one notice per key removed or carried over.

    A document that is not a Serverless configuration comes back as it is (the same object)
    with no notices. `doc` itself is never changed; the lines of what remains stay valid, and a
    carried-over value keeps the lines where it was written."""
    if not is_serverless_config(doc) or not isinstance(doc.data, dict):
        return doc, []
    edit = _Edit(doc)
    edit.run()
    notices = sorted(edit.notices, key=lambda p: p.line if p.line is not None else 1 << 30)
    return Document(doc.file, edit.data, edit.lines), notices


class _Edit:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.data: dict[str, Any] = copy.deepcopy(doc.data)
        self.lines = dict(doc.lines)
        self.notices: list[Problem] = []

    def run(self) -> None:
        for key in list(self.data):
            if key not in TOP:
                self.drop((key,), _ignored((key,), TOP, SERVERLESS_TOP))
        self.service()
        provider = self.data.get("provider")
        if isinstance(provider, dict):
            for key in list(provider):
                if key not in PROVIDER and key not in CARRIED:
                    path = ("provider", key)
                    self.drop(path, _ignored(path, PROVIDER, SERVERLESS_PROVIDER))
            self.role(provider)
            self.into_role(provider, "iamRoleStatements", "statements")
            self.into_role(provider, "iamManagedPolicies", "managedPolicies")
            self.stack_tags(provider)
            self.bucket(provider)
        resources = self.data.get("resources")
        if isinstance(resources, dict) and "extensions" in resources:
            path = ("resources", "extensions")
            self.drop(path, MESSAGES[path])

    # --- editing, lines included ------------------------------------------------------------

    def notice(self, path: Path_, message: str) -> None:
        self.notices.append(self.doc.problem(path, message))

    def drop(self, path: Path_, message: str) -> None:
        self.notice(path, message)
        parent = lookup(self.data, path[:-1])
        del parent[path[-1]]
        self.forget(path)

    def forget(self, prefix: Path_) -> None:
        for path in [p for p in self.lines if p[: len(prefix)] == prefix]:
            del self.lines[path]

    def move_lines(self, old: Path_, new: Path_) -> None:
        """The lines of everything under `old` become those of the same things under `new`."""
        moved = {new + p[len(old) :]: n for p, n in self.lines.items() if p[: len(old)] == old}
        self.forget(old)
        self.lines.update(moved)

    def ancestors_at(self, path: Path_, line: int | None) -> None:
        """Lines for the containers a carried-over value was put in, where they are new."""
        for end in range(1, len(path) + 1):
            if line is not None:
                self.lines.setdefault(path[:end], line)

    # --- the special cases ------------------------------------------------------------------

    def service(self) -> None:
        service = self.data.get("service")
        if not (isinstance(service, dict) and isinstance(service.get("name"), str)):
            return
        others = [str(key) for key in service if key != "name"]
        line = self.doc.line(("service", "name"))
        self.data["service"] = service["name"]
        self.forget(("service",))
        if line is not None:
            self.lines[("service",)] = line
        message = "is the Serverless Framework object form; hybridless uses its name"
        if others:
            message += f" and ignores {', '.join(others)}"
        self.notice(("service",), message)

    def role(self, provider: dict[str, Any]) -> None:
        """`provider.role` is the old spelling of `provider.iam.role` (an existing role)."""
        if "role" not in provider:
            return
        old = ("provider", "role")
        iam = provider.get("iam")
        if iam is None:
            provider["iam"] = {}
            iam = provider["iam"]
        if not isinstance(iam, dict):
            return  # left in place: the model reports it
        if "role" in iam:
            self.drop(old, "is ignored: provider.iam.role is set as well and takes its place")
            return
        iam["role"] = provider.pop("role")
        self.move_lines(old, ("provider", "iam", "role"))
        self.ancestors_at(("provider", "iam"), self.doc.line(old))
        self.notice(old, "is the old Serverless Framework form; it is used as provider.iam.role")

    def into_role(self, provider: dict[str, Any], key: str, new_key: str) -> None:
        """`provider.iamRoleStatements` → `provider.iam.role.statements` (and the managed
        policies likewise), after what is already there."""
        if key not in provider:
            return
        old = ("provider", key)
        new = ("provider", "iam", "role", new_key)
        iam = provider.get("iam")
        role = iam.get("role") if isinstance(iam, dict) else None
        if isinstance(role, str) or _is_intrinsic(role):
            self.drop(
                old,
                "is ignored: provider.iam.role names an existing role, and the Serverless "
                "Framework does not add to it either",
            )
            return
        if not (iam is None or isinstance(iam, dict)) or not (
            role is None or isinstance(role, dict)
        ):
            return  # left in place: the model reports the odd iam
        value = provider[key]
        existing = role.get(new_key) if isinstance(role, dict) else None
        if existing is not None and not (isinstance(existing, list) and isinstance(value, list)):
            return  # left in place: two forms that cannot be joined are the user's to settle
        line = self.doc.line(old)
        if existing is None:
            joined = value
            self.move_lines(old, new)
        else:
            joined = [*existing, *value]
            for index in range(len(value)):
                self.move_lines((*old, index), (*new, len(existing) + index))
            self.forget(old)
        if provider.get("iam") is None:
            provider["iam"] = {}
        if provider["iam"].get("role") is None:
            provider["iam"]["role"] = {}
        provider["iam"]["role"][new_key] = joined
        del provider[key]
        self.ancestors_at(new, line)
        where = f"provider.iam.role.{new_key}"
        after = f", after the ones {where} already has" if existing else ""
        self.notice(old, f"is the old Serverless Framework form; it is used as {where}{after}")

    def stack_tags(self, provider: dict[str, Any]) -> None:
        """Serverless puts `stackTags` on the stack; hybridless puts `provider.tags` there (and
        CloudFormation passes them on), so they are the same thing here."""
        if "stackTags" not in provider:
            return
        old = ("provider", "stackTags")
        stack = provider["stackTags"]
        tags = provider.get("tags")
        if not (isinstance(stack, dict) and (tags is None or isinstance(tags, dict))):
            return  # left in place: the model reports it
        own = tags or {}
        for name in stack:
            if name not in own:
                self.move_lines((*old, name), ("provider", "tags", name))
        self.forget(old)
        line = self.doc.line(old)
        if line is not None:
            self.lines.setdefault(("provider", "tags"), line)
        provider["tags"] = {**stack, **own}
        del provider["stackTags"]
        message = (
            "is merged into provider.tags: the Serverless Framework puts stackTags on the "
            "stack, and so does hybridless with provider.tags"
        )
        both = [name for name in stack if name in own]
        if both:
            message += f"; provider.tags wins for {', '.join(map(str, both))}"
        self.notice(old, message)

    def bucket(self, provider: dict[str, Any]) -> None:
        bucket = provider.get("deploymentBucket")
        if not isinstance(bucket, dict):
            return
        path = ("provider", "deploymentBucket")
        serverless_name = "maxPreviousDeploymentArtifacts"
        if serverless_name in bucket:
            old = (*path, serverless_name)
            if "keepDeployments" in bucket:
                self.drop(old, "is ignored: keepDeployments is set as well")
            else:
                bucket["keepDeployments"] = bucket.pop(serverless_name)
                self.move_lines(old, (*path, "keepDeployments"))
                self.notice(
                    old,
                    "is the Serverless Framework name of keepDeployments; it is used as that",
                )
        for key in list(bucket):
            if key not in DEPLOYMENT_BUCKET:
                self.drop((*path, key), IGNORED)


def _ignored(path: Path_, kept: Collection[str], serverless: Collection[str]) -> str:
    if path in MESSAGES:
        return MESSAGES[path]
    key = str(path[-1])
    if key in serverless:
        return IGNORED
    close = difflib.get_close_matches(key, sorted(kept), n=1, cutoff=0.75)
    hint = f"; did you mean {dotted((*path[:-1], close[0]))!r}?" if close else ""
    return UNKNOWN + hint


def _is_intrinsic(value: Any) -> bool:
    if not (isinstance(value, dict) and len(value) == 1):
        return False
    name = str(next(iter(value)))
    return name in ("Ref", "Condition") or name.startswith("Fn::")
