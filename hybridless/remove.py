"""`hybridless remove`: take a stage of an app down, and what the tool made for it.

Three things belong to a stage: its stack, the ECR repositories the tool created for its
images, and its deployment records in the bucket. They go in that order, each only once the
one before is gone: while the stack stands, its services and functions run the images and its
rollback needs the records. A stack that fails to delete (DELETE_FAILED) stops the removal with
the resources that failed named, and nothing else is deleted.

What belongs to the stage is told by tags, never by names alone. The stack and each repository
carry `hybridless:service` and `hybridless:stage`; a stack tagged for another service or stage
is refused, and a repository under the service's prefix without those tags is somebody else's
and stays (the log names it). The deployment bucket is shared by every app of the account and
region, so only the stage's prefix in it goes, every version of every object included.

Nothing is deleted before everything is known and, when asked for, confirmed: the command
line asks for the stack's name on a terminal; CI must pass --yes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from hybridless.errors import Cancelled, HybridlessError, PhaseError
from hybridless.model import App, Overrides
from hybridless.pipeline import DeployOptions, connect, phase
from hybridless.report import Reporter
from hybridless.report.summary import Summary
from hybridless.rollback import load_app
from hybridless.stack import package, update

SERVICE_TAG = "hybridless:service"
STAGE_TAG = "hybridless:stage"
S3_BATCH = 1000


@dataclass(frozen=True)
class RemoveOptions:
    config: Path = Path("hybridless.yml")
    stage: str | None = None
    region: str | None = None
    stack_name: str | None = None
    timeout_minutes: float | None = None
    role_to_assume: str | None = None
    role_session_name: str | None = None


@dataclass(frozen=True)
class Repositories:
    """The service's repositories, split by whether the tool created them for this stage."""

    ours: tuple[str, ...]
    foreign: tuple[str, ...]  # under the service's prefix, without the tool's tags


@dataclass
class Plan:
    """Everything a removal will delete, found before anything is."""

    stack: dict[str, Any] | None
    repositories: Repositories
    bucket: str
    prefix: str
    objects: int
    bucket_exists: bool = True


@dataclass
class Removal:
    stack_name: str
    stack_status: str  # DELETE_COMPLETE, or "" when there was no stack
    repositories: list[str] = field(default_factory=list)
    objects: int = 0


class Refused(PhaseError):
    def __init__(self, message: str) -> None:
        super().__init__("remove", f"{message}. Nothing was deleted.")


class NotConfirmed(HybridlessError):
    """The person at the terminal did not type the stack's name."""


# Asked with the stack's name; answers whether to go on.
Confirm = Callable[[str], bool]


def remove(
    options: RemoveOptions,
    reporter: Reporter,
    confirm: Confirm | None = None,
    environ: Mapping[str, str] | None = None,
    poller: update.Poller | None = None,
) -> Removal:
    """Remove the stage; `confirm` is asked once everything is known (None: --yes)."""
    environ = dict(os.environ if environ is None else environ)
    with reporter.phase("config"):
        app = load_app(
            options.config,
            Overrides(stage=options.stage, region=options.region, stack_name=options.stack_name),
            environ,
            reporter,
        )
    with phase(reporter, "credentials"):
        aws, account = connect(
            app.region,
            DeployOptions(
                role_to_assume=options.role_to_assume,
                role_session_name=options.role_session_name,
            ),
            environ,
            reporter,
        )
    cloudformation, ecr, s3 = (aws.client(n) for n in ("cloudformation", "ecr", "s3"))
    with phase(reporter, "remove check"):
        stack = update.describe_stack(cloudformation, app.stack_name)
        if stack is not None and stack.get("StackStatus") == "DELETE_COMPLETE":
            stack = None
        check_stack(stack, app)
        bucket = app.deployment_bucket or package.default_bucket_name(account, app.region)
        plan = Plan(
            stack=stack,
            repositories=find_repositories(ecr, app),
            bucket=bucket,
            prefix=f"{app.service}/{app.stage}/",
            objects=0,
        )
        plan.objects, plan.bucket_exists = count_objects(s3, plan.bucket, plan.prefix)
        for line in describe_plan(plan, app):
            reporter.info(line)
    if confirm is not None and not confirm(app.stack_name):
        raise NotConfirmed("the stack's name was not typed; nothing was deleted")
    removal = Removal(app.stack_name, "")
    with phase(reporter, "delete stack"):
        if stack is None:
            reporter.info(f"stack {app.stack_name} does not exist; nothing to delete there")
        else:
            removal.stack_status = delete(cloudformation, stack, reporter, poller, options)
    with phase(reporter, "delete repositories"):
        for name in plan.repositories.ours:
            if delete_repository(ecr, name):
                reporter.info(f"deleted repository {name} and its images")
            else:
                reporter.info(f"repository {name} was already gone")
            removal.repositories.append(name)
        for name in plan.repositories.foreign:
            reporter.info(f"repository {name}: not created by hybridless, kept")
    with phase(reporter, "delete records"):
        if plan.bucket_exists:
            removal.objects = delete_prefix(s3, plan.bucket, plan.prefix)
            reporter.info(
                f"deleted {removal.objects} object version(s) under s3://{plan.bucket}/"
                f"{plan.prefix}; the bucket itself is shared and stays"
            )
    reporter.info(
        f"removed {app.service} stage {app.stage}: stack {app.stack_name}"
        f"{' (there was none)' if stack is None else ''}, "
        f"{len(removal.repositories)} repository(ies), {removal.objects} object version(s)"
    )
    return removal


def check_stack(stack: Mapping[str, Any] | None, app: App) -> None:
    """Refuse a stack this removal must not or cannot delete, before anything is."""
    if stack is None:
        return
    name = str(stack.get("StackName", app.stack_name))
    tags = {t.get("Key"): t.get("Value") for t in stack.get("Tags", [])}
    if (tags.get(SERVICE_TAG), tags.get(STAGE_TAG)) != (app.service, app.stage):
        owner = (
            f"service {tags.get(SERVICE_TAG)} stage {tags.get(STAGE_TAG)}"
            if SERVICE_TAG in tags
            else "no hybridless app (it has no hybridless:service tag)"
        )
        raise Refused(
            f"stack {name} belongs to {owner}, not to {app.service} stage {app.stage}; check "
            "--stack-name and --stage"
        )
    if stack.get("EnableTerminationProtection"):
        raise Refused(
            f"stack {name} has termination protection. Turn it off with `aws cloudformation "
            f"update-termination-protection --no-enable-termination-protection --stack-name "
            f"{name}` (and set provider.terminationProtection: false, or the next deploy turns "
            "it on again), then run remove again"
        )
    status = str(stack.get("StackStatus", ""))
    if status.endswith("_IN_PROGRESS") and status != "DELETE_IN_PROGRESS":
        raise Refused(
            f"stack {name} is {status}: another operation is changing it; wait for it to end "
            "(or cancel it), then run remove again"
        )


def find_repositories(ecr: Any, app: App) -> Repositories:
    """The repositories under `<service>/`: those tagged for this service and stage, and those
    the tool did not tag at all. Another stage's repositories are left out of both."""
    ours, foreign = [], []
    for page in ecr.get_paginator("describe_repositories").paginate():
        for repository in page.get("repositories", []):
            name = str(repository["repositoryName"])
            if not name.startswith(f"{app.service}/"):
                continue
            tags = {
                t["Key"]: t["Value"]
                for t in ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"]).get(
                    "tags", []
                )
            }
            if tags.get(SERVICE_TAG) == app.service and tags.get(STAGE_TAG) == app.stage:
                ours.append(name)
            elif SERVICE_TAG not in tags and STAGE_TAG not in tags:
                foreign.append(name)
    return Repositories(tuple(sorted(ours)), tuple(sorted(foreign)))


def count_objects(s3: Any, bucket: str, prefix: str) -> tuple[int, bool]:
    """How many object versions are under `prefix`, and whether the bucket exists."""
    try:
        return len(_versions(s3, bucket, prefix)), True
    except ClientError as err:
        if str(err.response.get("Error", {}).get("Code", "")) == "NoSuchBucket":
            return 0, False
        raise


def describe_plan(plan: Plan, app: App) -> list[str]:
    """What is about to go, said before anything does."""
    lines = []
    if plan.stack is None:
        lines.append(f"stack {app.stack_name} does not exist (already removed?)")
    else:
        lines.append(f"to delete: stack {app.stack_name} ({plan.stack.get('StackStatus')})")
    for name in plan.repositories.ours:
        lines.append(f"to delete: repository {name}, with all its images")
    if not plan.repositories.ours:
        lines.append(f"no repository of {app.service} stage {app.stage} carries hybridless's tags")
    for name in plan.repositories.foreign:
        lines.append(f"to keep: repository {name} (not created by hybridless)")
    if plan.repositories.foreign:
        lines.append(
            "repositories without the hybridless:service and hybridless:stage tags are kept: "
            "a team's own, and any hybridless created before it tagged them (delete those by "
            "hand)"
        )
    if plan.bucket_exists:
        lines.append(
            f"to delete: {plan.objects} object version(s) under s3://{plan.bucket}/{plan.prefix} "
            "(deployment records, templates, code)"
        )
    else:
        lines.append(f"deployment bucket {plan.bucket} does not exist: no records to delete")
    return lines


def delete(
    cloudformation: Any,
    stack: Mapping[str, Any],
    reporter: Reporter,
    poller: update.Poller | None,
    options: RemoveOptions,
) -> str:
    name = str(stack["StackName"])
    reporter.info(f"deleting stack {name}")
    try:
        deletion = update.delete_stack(
            cloudformation, stack, reporter, poller, options.timeout_minutes
        )
    except KeyboardInterrupt:
        raise Cancelled(
            f"interrupted: CloudFormation goes on deleting stack {name} (a deletion cannot be "
            "cancelled); the repositories and deployment records are kept: run remove again "
            "to finish"
        ) from None
    if deletion.timed_out:
        raise PhaseError(
            "delete stack",
            f"stack {name} was still {deletion.status} when the time limit ran out; "
            "CloudFormation goes on deleting it. Nothing else was deleted: run remove again "
            "once it is gone",
        )
    if deletion.status != "DELETE_COMPLETE":
        raise PhaseError("delete stack", delete_failed_message(name, deletion))
    reporter.info(f"stack {name}: DELETE_COMPLETE")
    return deletion.status


def delete_failed_message(name: str, deletion: update.Deletion) -> str:
    if deletion.failed:
        listing = "; ".join(f"{n} ({kind}): {reason}" for n, kind, reason in deletion.failed)
        what = f"these resources could not be deleted: {listing}"
    else:
        what = "CloudFormation named no resource; see the stack's events"
    return (
        f"stack {name} is {deletion.status}: {what}. Fix or empty them and run remove again "
        "(or delete the stack yourself, retaining them). Nothing else was deleted: the "
        "repositories and deployment records are kept"
    )


def delete_repository(ecr: Any, name: str) -> bool:
    """Delete a repository with its images; False when it was already gone."""
    try:
        ecr.delete_repository(repositoryName=name, force=True)
    except ClientError as err:
        if str(err.response.get("Error", {}).get("Code", "")) == "RepositoryNotFoundException":
            return False
        raise
    return True


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every version of every object under `prefix`, delete markers included: in a
    versioned bucket a plain delete only hides an object, and the stage is meant to be gone."""
    versions = _versions(s3, bucket, prefix)
    failures: list[str] = []
    for start in range(0, len(versions), S3_BATCH):
        batch = versions[start : start + S3_BATCH]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        failures.extend(
            f"{e.get('Key')}: {e.get('Code')}: {e.get('Message')}"
            for e in response.get("Errors", [])
        )
    if failures:
        raise PhaseError(
            "delete records",
            f"S3 refused to delete {len(failures)} object(s) under s3://{bucket}/{prefix}: "
            + "; ".join(failures[:10]),
        )
    return len(versions)


def _versions(s3: Any, bucket: str, prefix: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            entry = {"Key": str(item["Key"])}
            if item.get("VersionId") and item["VersionId"] != "null":
                entry["VersionId"] = str(item["VersionId"])
            found.append(entry)
    return found


def summary_of(
    reporter: Reporter, removal: Removal | None, error: HybridlessError | None
) -> Summary:
    """The step summary of a removal: the deploy's form, with the removal's outcome."""
    facts = reporter.facts
    return Summary(
        outcome="removed" if error is None and removal is not None else "remove failed",
        stack_name=removal.stack_name if removal else facts.stack_name,
        stack_status=(removal.stack_status or "no stack") if removal else "",
        region=facts.region,
        error=reporter.redact(str(error)) if error else "",
        phases=tuple(facts.phases),
    )
