"""`hybridless rollback`: run an earlier successful deployment again.

CloudFormation rolls a failed update back by itself; this is for an update that succeeded and
turned out wrong. Nothing is rebuilt. Each deployment left its root template in its own prefix
of the deployment bucket, with every image pinned by digest, so deploying that template again
brings back exactly what ran then, as long as the bucket and ECR still hold what it points at.

So everything the target needs is checked before anything changes: that the deployment exists
and once succeeded, that its template and the shared objects it names are still in the bucket,
and that every image is still in ECR. A refusal leaves the stack as it was and says why (images
go when cleanup runs: it keeps those of only `hybridless.keepPrevious` earlier deployments).

After the update the target is marked as the running deployment, and cleanup runs as after a
deploy. It keeps the images of the `keepPrevious` deployments before the running one, which now
include the one rolled back from: a rollback can itself be undone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from hybridless.config import load_app_with_notices
from hybridless.errors import ConfigError, PhaseError
from hybridless.images.cleanup import split_reference
from hybridless.model import App, Overrides
from hybridless.pipeline import (
    DeployOptions,
    DeployResult,
    check_parameters,
    conclude,
    connect,
    phase,
    report_notices,
    rollout_sources,
    stack_tags,
)
from hybridless.report import Reporter
from hybridless.stack import package, update
from hybridless.stack.validate import validate_uploaded

# How many deployments a refusal lists; the rest are counted.
LISTED = 10


@dataclass(frozen=True)
class RollbackOptions:
    config: Path = Path("hybridless.yml")
    stage: str | None = None
    region: str | None = None
    stack_name: str | None = None
    to: str | None = None
    method: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    cleanup: bool = True
    outputs_file: Path | None = None
    dotenv: Path | None = None
    timeout_minutes: float | None = None
    role_to_assume: str | None = None
    role_session_name: str | None = None
    role_arn: str | None = None
    notification_arns: tuple[str, ...] = ()

    def deploy_options(self) -> DeployOptions:
        """The same settings in the deploy's terms, for the pipeline functions shared with it
        (credentials, cleanup, publishing the outputs)."""
        return DeployOptions(
            config=self.config,
            stage=self.stage,
            region=self.region,
            stack_name=self.stack_name,
            method=self.method,
            cleanup=self.cleanup,
            outputs_file=self.outputs_file,
            parameters=dict(self.parameters),
            tags=dict(self.tags),
            timeout_minutes=self.timeout_minutes,
            role_to_assume=self.role_to_assume,
            role_session_name=self.role_session_name,
            dotenv=self.dotenv,
            role_arn=self.role_arn,
            notification_arns=self.notification_arns,
        )


class Refused(PhaseError):
    """The rollback cannot run; raised before anything was changed."""

    def __init__(self, message: str) -> None:
        super().__init__("rollback", f"{message}. Nothing was changed.")


@dataclass(frozen=True)
class Target:
    """The deployment to return to, with what its update needs from the bucket."""

    record: dict[str, Any]
    template_key: str
    template_body: str

    @property
    def tag(self) -> str:
        return str(self.record["image-tag"])

    @property
    def images(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in dict(self.record.get("images") or {}).items()}


def rollback(
    options: RollbackOptions,
    reporter: Reporter,
    environ: Mapping[str, str] | None = None,
) -> DeployResult:
    environ = dict(os.environ if environ is None else environ)
    deploy_options = options.deploy_options()
    with reporter.phase("config"):
        app = load_app(
            options.config,
            Overrides(
                stage=options.stage,
                region=options.region,
                stack_name=options.stack_name,
                deployment_method=options.method,
            ),
            environ,
            reporter,
        )
    with phase(reporter, "credentials"):
        aws, account = connect(app.region, deploy_options, environ, reporter)
    s3 = aws.client("s3")
    cloudformation = aws.client("cloudformation")
    bucket = app.deployment_bucket or package.default_bucket_name(account, app.region)
    with phase(reporter, "rollback check"):
        records = read_records(s3, bucket, app)
        target_record = choose_target(records, options.to, f"{app.service} stage {app.stage}")
        check_stack_name(target_record, app)
        reporter.facts.image_tag = str(target_record["image-tag"])
        reporter.info(describe_move(records, target_record))
        stack = update.describe_stack(cloudformation, app.stack_name)
        if stack is None:
            raise Refused(
                f"stack {app.stack_name} does not exist, so there is nothing to roll back; "
                "`hybridless deploy` creates it"
            )
        target = check_target(s3, aws.client("ecr"), bucket, target_record, app)
        template = parse_template(target)
        templates = [template, *nested_templates(s3, bucket, target.record)]
        check_parameters(template, options.parameters)
        kept = kept_parameters(template, stack, options.parameters, target.tag)
    with phase(reporter, "validate"):
        url = package.object_url(s3, bucket, target.template_key)
        capabilities = validate_uploaded(cloudformation, url)
    with phase(reporter, "update"):
        result = update.deploy_stack(
            cloudformation,
            update.Request(
                stack_name=app.stack_name,
                template_url=url,
                capabilities=capabilities,
                tags=stack_tags(app, options.tags),
                method=app.deployment_method,
                deployment_id=f"rollback-{target.tag}",
                template_body=target.template_body,
                parameters=dict(options.parameters),
                previous_parameters=kept,
                timeout_minutes=options.timeout_minutes,
                role_arn=options.role_arn,
                notification_arns=options.notification_arns,
                rollback_alarms=app.rollback_alarms,
                rollback_monitoring_minutes=app.rollback_monitoring_minutes,
                termination_protection=app.termination_protection,
            ),
            reporter,
            rollouts=rollout_sources(aws, templates),
        )
        if has_nested_stacks(template) and result.executed:
            result.outputs = {
                **update.nested_outputs(cloudformation, app.stack_name),
                **result.outputs,
            }
        package.mark_succeeded(s3, bucket, str(target.record["prefix"]), result.status)
    outcome = DeployResult(
        image_tag=target.tag,
        images=target.images,
        stack_name=app.stack_name,
        stack_status=result.status,
        change_set_id=result.change_set_id,
        outputs=result.outputs,
        changed=result.changed,
        executed=result.executed,
    )
    reporter.info(f"rolled back to deployment {target.tag}")
    conclude(aws, app, outcome, bucket, deploy_options, environ, reporter, what="rollback")
    return outcome


def load_app(
    config: Path, overrides: Overrides, environ: Mapping[str, str], reporter: Reporter
) -> App:
    """The app, with the loader's notices shown, for a command that builds nothing: the
    deploy's own loader also makes an image tag, which here would only mislead."""
    try:
        app, notices = load_app_with_notices(config, overrides, environ)
    except ConfigError as err:
        report_notices(err.notices, reporter)
        raise
    report_notices(notices, reporter)
    reporter.facts.stack_name = app.stack_name
    reporter.facts.region = app.region
    reporter.info(f"{app.service} stage {app.stage} in {app.region}: stack {app.stack_name}")
    return app


def read_records(s3: Any, bucket: str, app: App) -> list[dict[str, Any]]:
    """The deployments of this stage, or a refusal that says where they were looked for."""
    where = f"s3://{bucket}/{app.service}/{app.stage}/"
    try:
        records = package.read_records(s3, bucket, app.service, app.stage)
    except ClientError as err:
        if _code(err) != "NoSuchBucket":
            raise
        raise Refused(
            f"the deployment bucket {bucket} does not exist, so no deployment of "
            f"{app.service} stage {app.stage} is recorded"
        ) from None
    if not records:
        raise Refused(
            f"no deployment of {app.service} stage {app.stage} is recorded in {where}: "
            "there is nothing to roll back to"
        )
    return records


def choose_target(records: list[dict[str, Any]], to: str | None, label: str) -> dict[str, Any]:
    """The deployment to return to: the one named, which must have succeeded once, or else
    the successful one before the one running now (the last to succeed)."""
    successes = package.by_success(records)
    if to is None:
        if not successes:
            raise Refused(
                f"no deployment of {label} has succeeded yet: there is nothing to roll back to"
            )
        if len(successes) == 1:
            raise Refused(
                f"deployment {successes[0]['image-tag']} is the only one of {label} that "
                "succeeded, and it is the one running: there is nothing earlier to roll back to"
            )
        return successes[-2]
    named = [r for r in records if r.get("image-tag") == to]
    if not named:
        raise Refused(f"there is no deployment {to} of {label}; {available(records)}")
    target = named[-1]
    if not target.get("succeeded"):
        raise Refused(
            f"deployment {to} of {label} never succeeded (its update failed or was cancelled, "
            f"or it was a preview), so it is no known-good state; {available(records)}"
        )
    return target


def check_stack_name(record: Mapping[str, Any], app: App) -> None:
    """A deployment made with another --stack-name belongs to another stack: its template
    would replace that stack's resources' twins in this one."""
    recorded = record.get("stack-name")
    if recorded and recorded != app.stack_name:
        raise Refused(
            f"deployment {record['image-tag']} was deployed to stack {recorded}, not "
            f"{app.stack_name}: pass --stack-name {recorded} to roll that stack back"
        )


def available(records: list[dict[str, Any]]) -> str:
    """The deployments a rollback can name, the running one first, each with its time."""
    successes = list(reversed(package.by_success(records)))
    if not successes:
        return "none of its deployments has succeeded yet"
    listed = [
        f"{r['image-tag']} (deployed {when(r.get('time'))}" + (", running now)" if n == 0 else ")")
        for n, r in enumerate(successes[:LISTED])
    ]
    more = f", and {len(successes) - LISTED} older" if len(successes) > LISTED else ""
    return "the deployments that succeeded, newest first: " + ", ".join(listed) + more


def describe_move(records: list[dict[str, Any]], target: dict[str, Any]) -> str:
    successes = package.by_success(records)
    running = successes[-1] if successes else None
    to = f"{target['image-tag']} (deployed {when(target.get('time'))})"
    if running is None:
        return f"rolling back to deployment {to}"
    if running.get("prefix") == target.get("prefix"):
        return f"deployment {to} is the one running already: its template is deployed again"
    return (
        f"rolling back from deployment {running['image-tag']} "
        f"(deployed {when(running.get('time'))}) to {to}"
    )


def when(value: object) -> str:
    """A record's ISO time as people read it; left as it is when it is no time."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime(
        "%Y-%m-%d %H:%M:%S UTC" if moment.utcoffset() is not None else "%Y-%m-%d %H:%M:%S"
    )


def check_target(s3: Any, ecr: Any, bucket: str, record: dict[str, Any], app: App) -> Target:
    """Everything the redeploy needs, checked while nothing has changed yet: the root
    template, the shared objects (nested templates, zips) it points at, and every image."""
    tag = str(record["image-tag"])
    prefix = str(record["prefix"])
    key = template_key(s3, bucket, prefix)
    if key is None:
        raise Refused(
            f"the template of deployment {tag} is gone from s3://{bucket}/{prefix} (the bucket "
            f"keeps the newest {app.keep_deployments} successful deployments: "
            "provider.deploymentBucket.keepDeployments)"
        )
    gone = [k for k in record.get("objects", []) if not object_exists(s3, bucket, str(k))]
    if gone:
        raise Refused(
            f"deployment {tag} needs objects that are gone from s3://{bucket}: "
            + ", ".join(str(k) for k in gone)
        )
    missing = missing_images(ecr, dict(record.get("images") or {}))
    if missing:
        raise Refused(missing_images_message(tag, missing, app.keep_previous))
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return Target(record, key, body)


def template_key(s3: Any, bucket: str, prefix: str) -> str | None:
    """The root template in a deployment's prefix; the newest, should a deploy that reused
    an image tag have left two."""
    found = [
        item
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}template-"
        )
        for item in page.get("Contents", [])
        if str(item["Key"]).endswith(".json")
    ]
    if not found:
        return None
    return str(max(found, key=lambda item: item["LastModified"])["Key"])


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or _code(err) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def missing_images(ecr: Any, images: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(name, repository@digest, why) of each image ECR no longer holds."""
    missing = []
    for name, uri in sorted(images.items()):
        repository, digest, tag = split_reference(uri)
        reference = f"{repository}@{digest}" if digest else f"{repository}:{tag}"
        image_id = {"imageDigest": digest} if digest else {"imageTag": str(tag)}
        try:
            found = ecr.describe_images(repositoryName=repository, imageIds=[image_id])
        except ClientError as err:
            if _code(err) == "RepositoryNotFoundException":
                missing.append((name, reference, "its repository is gone"))
                continue
            if _code(err) == "ImageNotFoundException":
                missing.append((name, reference, "the image is gone"))
                continue
            raise
        if not found.get("imageDetails"):
            missing.append((name, reference, "the image is gone"))
    return missing


def missing_images_message(tag: str, missing: list[tuple[str, str, str]], keep: int) -> str:
    listing = "; ".join(f"{name} ({reference}): {why}" for name, reference, why in missing)
    return (
        f"deployment {tag} needs images ECR no longer holds: {listing}. Cleanup after each "
        "deploy deletes the images nothing runs, keeping those of only the "
        f"hybridless.keepPrevious earlier deployments (here {keep}; default 1); raise it to "
        "keep more deployments within reach of a rollback"
    )


def parse_template(target: Target) -> dict[str, Any]:
    try:
        template = json.loads(target.template_body)
    except ValueError:
        template = None
    if not isinstance(template, dict):
        raise Refused(
            f"the template of deployment {target.tag} ({target.template_key}) is not JSON"
        )
    return template


def nested_templates(s3: Any, bucket: str, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The nested templates the deployment's root points at (its shared objects under
    `templates/`), read so their traffic-shifted aliases are followed like a deploy's. One that
    does not parse is left out: it only costs that alias its progress lines."""
    found = []
    for key in record.get("objects") or []:
        if "/templates/" not in str(key) or not str(key).endswith(".json"):
            continue
        body = s3.get_object(Bucket=bucket, Key=str(key))["Body"].read()
        try:
            template = json.loads(body)
        except ValueError:
            continue
        if isinstance(template, dict):
            found.append(template)
    return found


def kept_parameters(
    template: Mapping[str, Any],
    stack: Mapping[str, Any],
    overrides: Mapping[str, str],
    tag: str,
) -> tuple[str, ...]:
    """The parameters that keep the running stack's values: every one the target's template
    declares and the stack has, unless given anew. One the stack lacks needs a default or a
    value given now, else CloudFormation would refuse it halfway."""
    declared = dict(template.get("Parameters") or {})
    running = {str(p.get("ParameterKey")) for p in stack.get("Parameters", [])}
    lacking = sorted(
        name
        for name, declaration in declared.items()
        if name not in running
        and name not in overrides
        and "Default" not in (declaration if isinstance(declaration, dict) else {})
    )
    if lacking:
        raise Refused(
            f"the template of deployment {tag} declares parameter(s) {', '.join(lacking)} with "
            "no default, which the running stack has no value for: give them with "
            "--parameter-overrides NAME=VALUE"
        )
    return tuple(name for name in declared if name in running and name not in overrides)


def has_nested_stacks(template: Mapping[str, Any]) -> bool:
    resources = dict(template.get("Resources") or {})
    return any(
        isinstance(r, dict) and r.get("Type") == "AWS::CloudFormation::Stack"
        for r in resources.values()
    )


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
