"""The deploy, phase by phase, in the one order it always runs.

    config → template check → credentials → build → push → package → validate → update → cleanup

Each phase is a function of plain data plus the I/O it exists for; this module only strings
them together and decides what a failure means. The promise kept here: everything from the
push on may fail without hurting what is running. Images get a new tag per deploy and are
referenced by digest, CloudFormation rolls a failed update back, and cleanup, the only phase
that deletes anything, runs only after the stack reached a `*_COMPLETE` state, and never
deletes an image a live resource references.

Errors from AWS or the Docker engine are turned into a `PhaseError` naming the phase, so the
user reads "push failed: ..." rather than a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

from hybridless import credentials
from hybridless.aws import Aws
from hybridless.config import load_app_with_notices
from hybridless.errors import ConfigError, HybridlessError, PhaseError, Problem
from hybridless.images import cleanup, delivery
from hybridless.images.tags import (
    VALID_TAG,
    current_commit,
    generate_tag,
    is_generated,
    is_ours,
)
from hybridless.model import App, Overrides, ZipCode
from hybridless.report import Annotation, Reporter
from hybridless.report import outputs as output_forms
from hybridless.report.summary import Summary, spans_from_events
from hybridless.stack import artifacts, package, rollout, update
from hybridless.stack.validate import check_template, validate_uploaded
from hybridless.template import render_stacks, to_json
from hybridless.template.nested import Stacks, with_template_urls

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
DEFAULT_DOTENV = "hybridless.env"


@dataclass(frozen=True)
class DeployOptions:
    config: Path = Path("hybridless.yml")
    stage: str | None = None
    region: str | None = None
    stack_name: str | None = None
    image_tag: str | None = None
    registry: str | None = None
    method: str | None = None
    preview: bool = False
    cleanup: bool = True
    outputs_file: Path | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    timeout_minutes: float | None = None
    role_to_assume: str | None = None
    role_session_name: str | None = None
    dotenv: Path | None = None
    role_arn: str | None = None
    notification_arns: tuple[str, ...] = ()
    continue_update_rollback: bool = False
    resources_to_skip: tuple[str, ...] = ()
    rebuild: bool = False


@dataclass
class DeployResult:
    image_tag: str
    images: dict[str, str]
    stack_name: str
    stack_status: str
    change_set_id: str | None
    outputs: dict[str, str]
    changed: bool
    executed: bool = True
    removed_images: list[str] = field(default_factory=list)

    def as_outputs(self) -> dict[str, Any]:
        """The values a CI step exposes, under the names the action uses."""
        return {
            "image-tag": self.image_tag,
            "images": self.images,
            "stack-name": self.stack_name,
            "stack-status": self.stack_status,
            "change-set-id": self.change_set_id or "",
            "outputs": self.outputs,
        }


@contextmanager
def phase(reporter: Reporter, name: str) -> Iterator[None]:
    """Frame a phase and put its name on any failure coming out of AWS or Docker."""
    import docker.errors
    import requests

    with reporter.phase(name):
        try:
            yield
        except HybridlessError:
            raise
        except NoCredentialsError:
            raise PhaseError(
                name, "no AWS credentials found (environment, profile or role)"
            ) from None
        except ClientError as err:
            error = err.response.get("Error", {})
            operation = getattr(err, "operation_name", "AWS call")
            raise PhaseError(
                name, f"{operation}: {error.get('Code', 'error')}: {error.get('Message', err)}"
            ) from None
        except ResponseParserError as err:
            first = str(err).splitlines()[0] if str(err) else "unreadable response"
            raise PhaseError(
                name, f"AWS answered with something that is not an AWS response: {first}"
            ) from None
        except BotoCoreError as err:
            raise PhaseError(name, str(err)) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
            raise PhaseError(name, f"Docker engine: {err}") from None


def docker_from_env() -> Any:
    import docker

    return docker.from_env(timeout=600)


def deploy(
    options: DeployOptions,
    reporter: Reporter,
    environ: Mapping[str, str] | None = None,
    docker_factory: Callable[[], Any] = docker_from_env,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeployResult:
    environ = dict(os.environ if environ is None else environ)
    with reporter.phase("config"):
        app, tag = load(options, environ, now(), reporter)
    with phase(reporter, "template check"):
        checked = render_stacks(app, placeholder_images(app), placeholder_code(app))
        check_parameters(checked.root, options.parameters)
        for name, body in lintable(checked):
            check_template(body, app.region, reporter, name)
    with phase(reporter, "credentials"):
        aws, account = connect(app.region, options, environ, reporter)
    with phase(reporter, "build"):
        planned = delivery.plan(aws.client("ecr"), app.images, options.rebuild, reporter)
        needs_engine = any(p.stored is None for p in planned)
        docker = docker_factory() if needs_engine else None
        delivery.build(docker, planned, app.build_concurrency, reporter)
        zips = [zip_code(app, code, reporter) for code in app.code]
    registry = options.registry or environ.get("HYBRIDLESS_REGISTRY") or None
    with phase(reporter, "push"):
        images = delivery.deliver(
            aws.client("ecr"), docker, planned, tag, stack_tags(app), registry, reporter
        )
    with phase(reporter, "package"):
        s3 = aws.client("s3")
        bucket = app.deployment_bucket or package.default_bucket_name(account, app.region)
        package.ensure_bucket(s3, bucket, app.region, reporter)
        code = upload_code(s3, app, bucket, zips, reporter)
        stacks = render_stacks(app, images, code)
        packaged, body = package_template(
            s3, app, bucket, tag, images, stacks, code, now(), reporter
        )
    with phase(reporter, "validate"):
        capabilities = validate_uploaded(aws.client("cloudformation"), packaged.template_url)
    with phase(reporter, "update"):
        stack = update.deploy_stack(
            aws.client("cloudformation"),
            update.Request(
                stack_name=app.stack_name,
                template_url=packaged.template_url,
                capabilities=capabilities,
                tags=stack_tags(app, options.tags),
                method=app.deployment_method,
                deployment_id=tag,
                template_body=body,
                preview=options.preview,
                parameters=dict(options.parameters),
                timeout_minutes=options.timeout_minutes,
                role_arn=options.role_arn,
                notification_arns=options.notification_arns,
                rollback_alarms=app.rollback_alarms,
                rollback_monitoring_minutes=app.rollback_monitoring_minutes,
                termination_protection=app.termination_protection,
                continue_update_rollback=options.continue_update_rollback,
                resources_to_skip=options.resources_to_skip,
            ),
            reporter,
            rollouts=rollout_sources(aws, [stacks.root, *stacks.children.values()]),
        )

    if stacks.children and stack.executed:
        with phase(reporter, "update"):
            stack.outputs = {
                **update.nested_outputs(aws.client("cloudformation"), app.stack_name),
                **stack.outputs,
            }
    result = DeployResult(
        image_tag=tag,
        images=images,
        stack_name=app.stack_name,
        stack_status=stack.status,
        change_set_id=stack.change_set_id,
        outputs=stack.outputs,
        changed=stack.changed,
        executed=stack.executed,
    )
    if not options.preview:
        with phase(reporter, "update"):
            package.mark_succeeded(s3, bucket, packaged.prefix, stack.status)
    if options.preview:
        reporter.info("preview: nothing was changed; cleanup does not run")
    conclude(aws, app, result, bucket, options, environ, reporter, clean=not options.preview)
    return result


def rollout_sources(aws: Aws, templates: list[dict[str, Any]]) -> rollout.Sources:
    """Where the update follows its rollouts: ECS, CodeDeploy, and the group that moves each
    traffic-shifted alias of the templates being deployed."""
    return rollout.Sources(
        ecs=aws.client("ecs"),
        codedeploy=aws.client("codedeploy"),
        groups=rollout.codedeploy_groups(templates),
    )


def conclude(
    aws: Aws,
    app: App,
    result: DeployResult,
    bucket: str,
    options: DeployOptions,
    environ: Mapping[str, str],
    reporter: Reporter,
    clean: bool = True,
    what: str = "deploy",
) -> None:
    """How every command that changed the stack ends: cleanup unless told not to (its failure
    is a warning, never the command's), then the report and the outputs."""
    if clean and not options.cleanup:
        reporter.info("cleanup skipped (--no-cleanup)")
    elif clean:
        try:
            with phase(reporter, "cleanup"):
                result.removed_images = clean_up(aws, app, result, bucket, reporter)
        except HybridlessError as err:
            reporter.warning(
                f"{err}; nothing more was deleted, the {what} itself succeeded, and the next "
                "successful deploy cleans up again"
            )
    report_result(result, reporter)
    reporter.info("AWS API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(aws.calls.items())))
    publish(result, options, environ, reporter)


def load(
    options: DeployOptions, environ: Mapping[str, str], now: datetime, reporter: Reporter
) -> tuple[App, str]:
    """The app and this deploy's image tag."""
    overrides = Overrides(
        stage=options.stage,
        region=options.region,
        stack_name=options.stack_name,
        deployment_method=options.method,
    )
    try:
        app, notices = load_app_with_notices(options.config, overrides, environ)
    except ConfigError as err:
        report_notices(err.notices, reporter)
        raise
    report_notices(notices, reporter)
    tag = options.image_tag or generate_tag(now, current_commit(environ, options.config.parent))
    if not VALID_TAG.match(tag):
        raise PhaseError("config", f"--image-tag {tag!r} is not a valid image tag")
    reporter.facts.stack_name = app.stack_name
    reporter.facts.region = app.region
    reporter.facts.image_tag = tag
    reporter.info(
        f"{app.service} stage {app.stage} in {app.region}: stack {app.stack_name}, "
        f"{len(app.images)} image(s), image tag {tag}"
    )
    return app, tag


def report_notices(notices: list[Problem], reporter: Reporter) -> None:
    for notice in notices:
        reporter.info(f"notice: {notice}")
        reporter.annotate(
            Annotation(
                "notice", f"{notice.key}: {notice.message}", title="serverless.yml",
                file=notice.file, line=notice.line,
            )
        )  # fmt: skip


def check_parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
    """Refuse overrides the template does not declare, before anything is built: CloudFormation
    would refuse them only after the images were pushed."""
    declared = sorted(template.get("Parameters", {}))
    unknown = [name for name in overrides if name not in declared]
    if unknown:
        listing = ", ".join(declared) if declared else "none"
        raise ConfigError(
            [
                Problem(
                    "--parameter-overrides",
                    None,
                    name,
                    f"the template declares no parameter {name} (it declares: {listing})",
                )
                for name in unknown
            ]
        )


def connect(
    region: str, options: DeployOptions, environ: Mapping[str, str], reporter: Reporter
) -> tuple[Aws, str]:
    """The AWS identity this deploy acts as, said out loud; returns it and its account."""
    identity = None
    if options.role_to_assume:
        identity, token = credentials.assume(
            Aws(region).client("sts"), options.role_to_assume, options.role_session_name, environ
        )
        for secret in (token, identity.secret_access_key, identity.session_token):
            if secret:
                reporter.mask(secret)
    aws = Aws(region, identity)
    caller = aws.client("sts").get_caller_identity()
    how = f" (assumed through {identity.how})" if identity else ""
    reporter.info(f"acting as {caller['Arn']}{how}")
    return aws, str(caller["Account"])


def placeholder_images(app: App) -> dict[str, str]:
    """Image references of the right shape, for checking the template before any build."""
    return {
        image.name: f"000000000000.dkr.ecr.{app.region}.amazonaws.com/{image.repository}"
        f"@{PLACEHOLDER_DIGEST}"
        for image in app.images
    }


def package_template(
    s3: Any,
    app: App,
    bucket: str,
    tag: str,
    images: Mapping[str, str],
    stacks: Stacks,
    code: Mapping[str, Mapping[str, str]],
    now: datetime,
    reporter: Reporter,
) -> tuple[package.Package, str]:
    """Upload nested templates under content-addressed keys, point the root at them, upload
    the root and this deployment's record; returns where the root is and its body."""
    urls: dict[str, str] = {}
    shared = [location["S3Key"] for location in code.values()]
    for name, child in stacks.children.items():
        child_body = to_json(child).encode()
        key = package.shared_key(app.service, app.stage, "templates", name, child_body, ".json")
        package.upload_once(s3, bucket, key, child_body, "application/json")
        urls[name] = package.s3_https_url(bucket, app.region, key)
        shared.append(key)
    body = to_json(with_template_urls(stacks.root, urls) if urls else stacks.root)
    record = {
        "image-tag": tag,
        "images": dict(images),
        "stack-name": app.stack_name,
        "time": now.isoformat(),
        "objects": sorted(shared),
    }
    prefix = package.deployment_prefix(app.service, app.stage, tag)
    packaged = package.upload(s3, bucket, prefix, body, record)
    nested_note = f" and {len(urls)} nested stack(s)" if urls else ""
    reporter.info(
        f"template ({len(body)} bytes){nested_note} at s3://{bucket}/{packaged.template_key}"
    )
    return packaged, body


def zip_code(app: App, code: ZipCode, reporter: Reporter) -> artifacts.Artifact:
    artifact = artifacts.package_function(
        code.directory, code.patterns, code.name, config_file=app.config_file
    )
    reporter.info(
        f"{code.name}: zipped {artifact.files} file(s), {artifact.size} bytes "
        f"(sha256 {artifact.sha256[:12]})"
    )
    return artifact


def upload_code(
    s3: Any, app: App, bucket: str, zips: list[artifacts.Artifact], reporter: Reporter
) -> dict[str, dict[str, str]]:
    """Each zip at its content-addressed key; {name: {S3Bucket, S3Key}} for the template."""
    locations = {}
    for artifact in zips:
        key = artifacts.artifact_key(app.service, app.stage, artifact)
        uploaded = artifacts.upload_artifact(s3, bucket, key, artifact)
        reporter.info(
            f"{artifact.name}: {'uploaded' if uploaded else 'unchanged'} s3://{bucket}/{key}"
        )
        locations[artifact.name] = {"S3Bucket": bucket, "S3Key": key}
    return locations


def placeholder_code(app: App) -> dict[str, dict[str, str]]:
    return {
        code.name: {"S3Bucket": "placeholder-bucket", "S3Key": f"{code.name}.zip"}
        for code in app.code
    }


def lintable(stacks: Stacks) -> list[tuple[str, str]]:
    """(name, body) of every template to lint; nested stacks' URLs stand in as S3 URLs."""
    urls = {name: f"https://s3.amazonaws.com/placeholder/{name}.json" for name in stacks.children}
    root = with_template_urls(stacks.root, urls) if urls else stacks.root
    return [
        ("template", to_json(root)),
        *((f"nested stack {name}", to_json(child)) for name, child in stacks.children.items()),
    ]


def stack_tags(app: App, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The app's tags, then the command line's, then the tool's own, which always win: cleanup
    and remove find their stacks by them."""
    return {
        **dict(app.tags),
        **dict(extra or {}),
        "hybridless:service": app.service,
        "hybridless:stage": app.stage,
    }


def clean_up(
    aws: Aws, app: App, result: DeployResult, bucket: str, reporter: Reporter
) -> list[str]:
    """Delete the images this tool pushed that nothing live uses, then prune old deployment
    records. Returns `repository@digest` of every image deleted."""
    s3 = aws.client("s3")
    records = package.read_records(s3, bucket, app.service, app.stage)
    recorded_tags = {str(r.get("image-tag")) for r in records}
    references = cleanup.live_image_references(aws.client, app.stack_name)
    references.update(result.images.values())
    references.update(previous_images(records, result.image_tag, app.keep_previous))
    references.update(pending_images(records, result.image_tag))
    live_digests: dict[str, set[str]] = {}
    live_tags: dict[str, set[str]] = {}
    for uri in references:
        repository, digest, tag = cleanup.split_reference(uri)
        if digest:
            live_digests.setdefault(repository, set()).add(digest)
        if tag:
            live_tags.setdefault(repository, set()).add(tag)
    ecr = aws.client("ecr")
    removed: list[str] = []
    for image in app.images:
        repository = image.repository
        doomed = cleanup.plan_deletions(
            cleanup.list_images(ecr, repository),
            live_digests.get(repository, set()),
            live_tags.get(repository, set()) | {result.image_tag},
            lambda t: (is_ours(t) or t in recorded_tags) and not is_newer(t, result.image_tag),
        )
        deleted, failures = cleanup.delete_images(ecr, repository, doomed) if doomed else ([], [])
        for failure in failures:
            reporter.warning(f"cleanup: {failure}")
        removed.extend(f"{repository}@{i.digest}" for i in deleted)
        reporter.info(f"{repository}: removed {len(deleted)} image(s) no longer in use")
    # Rollback needs the records of the deployments whose images are kept.
    keep = max(app.keep_deployments, app.keep_previous + 1)
    pruned = package.prune(s3, bucket, records, keep)
    if pruned:
        reporter.info(f"pruned {pruned} old deployment(s) from s3://{bucket}")
    return removed


def previous_images(records: list[dict[str, Any]], current_tag: str, keep: int) -> set[str]:
    """The images of the newest `keep` earlier successful deployments: what `rollback` needs."""
    earlier = [r for r in package.by_success(records) if r.get("image-tag") != current_tag]
    kept = earlier[-keep:] if keep else []
    return {str(uri) for record in kept for uri in record.get("images", {}).values()}


def pending_images(records: list[dict[str, Any]], current_tag: str) -> set[str]:
    """The images of deployments recorded after this one that have not succeeded yet: another
    pipeline of the same stage may be updating the stack with them right now."""
    current = next((r for r in records if r.get("image-tag") == current_tag), None)
    since = str(current.get("time", "")) if current else ""
    return {
        str(uri)
        for record in records
        if not record.get("succeeded") and str(record.get("time", "")) > since
        for uri in record.get("images", {}).values()
    }


def is_newer(tag: str, current_tag: str) -> bool:
    """A generated tag later than this deploy's: pushed by a deploy that began after this one,
    perhaps before it wrote its record. Its images are not this cleanup's to judge."""
    return is_generated(tag) and is_generated(current_tag) and tag > current_tag


def report_result(result: DeployResult, reporter: Reporter) -> None:
    state = result.stack_status if result.changed else f"{result.stack_status} (no changes)"
    reporter.info(f"stack {result.stack_name}: {state}")
    reporter.info(f"image tag: {result.image_tag}")
    for name, uri in sorted(result.images.items()):
        reporter.info(f"image {name}: {uri}")
    if result.outputs:
        reporter.table(["output", "value"], sorted(result.outputs.items()))


def publish(
    result: DeployResult, options: DeployOptions, environ: Mapping[str, str], reporter: Reporter
) -> None:
    """Hand the results to whatever runs next: the step's outputs on GitHub (also from a plain
    `run:` step), a dotenv file for GitLab's `artifacts:reports:dotenv`, a JSON file."""
    fixed = result.as_outputs()
    if options.outputs_file:
        _write(options.outputs_file, output_forms.json_text(fixed), "w")
    if environ.get("GITHUB_OUTPUT"):
        values = output_forms.step_outputs(fixed, result.outputs)
        _write(Path(environ["GITHUB_OUTPUT"]), output_forms.github_output_text(values), "a")
    dotenv = options.dotenv or (
        Path(DEFAULT_DOTENV) if environ.get("GITLAB_CI") == "true" else None
    )
    if dotenv:
        values, left_out = output_forms.dotenv_values(fixed, result.outputs)
        _write(dotenv, output_forms.dotenv_text(values), "w")
        reporter.info(f"wrote {len(values)} variable(s) to {dotenv}")
        if left_out:
            reporter.warning(
                f"left out of {dotenv} (a line break, a name GitLab refuses, or over its limit "
                f"of {output_forms.DOTENV_MAX_VARIABLES} variables / "
                f"{output_forms.DOTENV_MAX_BYTES} bytes): {', '.join(left_out)}"
            )


def _write(path: Path, text: str, mode: str) -> None:
    try:
        with path.open(mode, encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise PhaseError("outputs", f"cannot write {path}: {err}") from None


def summary_of(
    reporter: Reporter, result: DeployResult | None, error: HybridlessError | None
) -> Summary:
    """The step summary's content, from what the reporter saw and how the deploy ended."""
    facts = reporter.facts
    if error is not None or result is None:
        outcome = "failed"
    elif not result.executed and result.changed:
        outcome = "preview"
    elif not result.changed:
        outcome = "no changes"
    else:
        outcome = "deployed"
    return Summary(
        outcome=outcome,
        stack_name=result.stack_name if result else facts.stack_name,
        stack_status=result.stack_status if result else "",
        image_tag=result.image_tag if result else facts.image_tag,
        region=facts.region,
        error=reporter.redact(str(error)) if error else "",
        change_set_name=facts.change_set_name,
        phases=tuple(facts.phases),
        changes=tuple(facts.changes),
        spans=tuple(spans_from_events(facts.events)),
        outputs=tuple(
            sorted((k, reporter.redact(v)) for k, v in (result.outputs if result else {}).items())
        ),
    )
