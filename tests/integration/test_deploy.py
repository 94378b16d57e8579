"""`hybridless deploy` of examples/hello on the proving ground, run as users run it.

The command runs as a subprocess with nothing but environment variables pointing it at the
ground (AWS_ENDPOINT_URL*, HYBRIDLESS_REGISTRY, DOCKER_HOST), like any CI job pointed at AWS.
Each test deploys its own stage, so stacks and repositories never collide.

What "live" means is read from the AWS APIs here, independently of the tool: the images the
ECS service's task definition and the Lambda function point at. moto keeps an ECS service on
the task definition it was created with (CloudFormation updates do not move it), so after an
update the service still runs the first image: the tool must keep that image too, and does.

The account's existing state is set up first: a network (VPC, two subnets, a security group)
and the default deployment bucket. The bucket is made here because moto evaluates bucket
policies without their conditions: the TLS-only policy the tool puts on a bucket it creates
denies every request on moto (`test_a_created_deployment_bucket_is_private_and_tls_only`
checks that policy, and the other settings, on its own).
"""

from __future__ import annotations

import base64
import io
import json
import urllib.request

import boto3

from hybridless.images import push
from hybridless.report import Reporter
from hybridless.stack.package import default_bucket_name, ensure_bucket
from proving_ground import procs
from tests.conftest import GroundHandle
from tests.integration.hello import REPOSITORIES, App, digests


def answer_of(ground: GroundHandle, image_uri: str) -> dict[str, str]:
    """Run the pushed web image (pulled from the registry by digest) and ask it for /."""
    docker = ground.docker()
    reference = f"{ground.registry}/{image_uri.split('/', 1)[1]}"
    port = procs.free_port()
    container = docker.containers.run(
        reference, detach=True, network_mode="host", environment={"PORT": str(port)}
    )
    try:
        body: dict[str, str] = {}

        def answered() -> bool:
            nonlocal body
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    body = json.loads(response.read())
                    return True
            except OSError:
                return False

        procs.wait_until(answered, 30, "the web image to answer")
        return body
    finally:
        container.remove(force=True)


def test_three_deploys_change_change_and_nothing(app: App, ground: GroundHandle) -> None:
    first = app.deploy("--method", "direct")
    assert first.returncode == 0, first.log
    assert first.outputs is not None
    assert first.outputs["stack-status"] == "CREATE_COMPLETE"
    assert first.outputs["stack-name"] == app.stack_name
    assert first.outputs["image-tag"].endswith("-0123456")
    outputs = first.outputs["outputs"]
    assert (
        outputs["ServiceEndpoint"].startswith("http://") and ".elb." in outputs["ServiceEndpoint"]
    )
    assert outputs["GreeterFunctionName"] == f"{app.stack_name}-Greeter"
    assert outputs["ClusterName"] == app.stack_name
    assert app.function_image() == first.outputs["images"]["Greeter-0"]
    assert app.stored_digests() == {
        name: {digest} for name, digest in digests(first.outputs).items()
    }

    app.change_code("Good day, {audience}!")
    second = app.deploy("--method", "direct")
    assert second.returncode == 0, second.log
    assert second.outputs is not None
    assert second.outputs["stack-status"] == "UPDATE_COMPLETE"
    assert second.outputs["image-tag"] != first.outputs["image-tag"]
    assert all(digests(second.outputs)[n] != digests(first.outputs)[n] for n in REPOSITORIES)
    assert second.outputs["outputs"]["GreeterFunctionArn"] == outputs["GreeterFunctionArn"]
    assert app.function_image() == second.outputs["images"]["Greeter-0"]
    assert answer_of(ground, second.outputs["images"]["Web-0"]) == {"message": "Good day, world!"}
    # ECR now holds what runs (per the ECS and Lambda APIs), what was just deployed, and the
    # previous deployment's images (keepPrevious defaults to 1, so that a rollback can work).
    running = app.running_digests()
    for name in REPOSITORIES:
        assert app.stored_digests()[name] == running[name] | {
            digests(second.outputs)[name],
            digests(first.outputs)[name],
        }

    third = app.deploy("--method", "direct")
    assert third.returncode == 0, third.log
    assert third.outputs is not None
    assert "no changes" in third.log
    assert third.outputs["image-tag"] not in (
        first.outputs["image-tag"],
        second.outputs["image-tag"],
    )
    assert digests(third.outputs) == digests(second.outputs)
    assert third.outputs["stack-status"] == "UPDATE_COMPLETE"
    assert third.outputs["outputs"] == second.outputs["outputs"]
    assert third.log.count("is reused: not built, not pushed") == len(REPOSITORIES)
    # The previous deployment (the second) runs the same images, so the first's now go.
    running = app.running_digests()
    for name in REPOSITORIES:
        assert app.stored_digests()[name] == running[name] | {digests(third.outputs)[name]}
    assert digests(first.outputs)["greeter-0"] not in app.stored_digests()["greeter-0"]


def test_the_change_set_method_shows_previews_and_skips_empty_changes(app: App) -> None:
    first = app.deploy()
    assert first.returncode == 0, first.log
    assert first.outputs is not None
    assert first.outputs["stack-status"] == "CREATE_COMPLETE"
    assert first.outputs["change-set-id"].startswith("arn:aws:cloudformation:")
    assert "Add     WebService" in first.log
    assert "AWS::Lambda::Function" in first.log

    app.change_code("Preview, {audience}?")
    preview = app.deploy("--preview")
    assert preview.returncode == 0, preview.log
    assert preview.outputs is not None
    assert "left unexecuted" in preview.log
    change_set = boto3.client("cloudformation").describe_change_set(
        ChangeSetName=preview.outputs["change-set-id"]
    )
    assert change_set["ExecutionStatus"] == "AVAILABLE"
    assert preview.outputs["stack-status"] == "CREATE_COMPLETE"
    assert app.stack_status() == "CREATE_COMPLETE"
    assert app.function_image() == first.outputs["images"]["Greeter-0"]
    stored = app.stored_digests()
    for name in REPOSITORIES:
        assert digests(first.outputs)[name] in stored[name]
        assert digests(preview.outputs)[name] in stored[name]

    update = app.deploy()
    assert update.returncode == 0, update.log
    assert update.outputs is not None
    assert update.outputs["stack-status"] == "UPDATE_COMPLETE"
    assert app.function_image() == update.outputs["images"]["Greeter-0"]

    unchanged = app.deploy()
    assert unchanged.returncode == 0, unchanged.log
    assert unchanged.outputs is not None
    assert "no changes" in unchanged.log
    assert unchanged.outputs["change-set-id"] == ""
    assert unchanged.outputs["stack-status"] == "UPDATE_COMPLETE"


def test_a_failing_deploy_leaves_the_live_images_in_place(app: App) -> None:
    live = app.deploy("--method", "direct")
    assert live.returncode == 0, live.log
    assert live.outputs is not None

    # Fails after the push: the deployment bucket's policy refuses this identity's uploads.
    locked = f"locked-{app.stage}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=locked)
    s3.put_bucket_policy(
        Bucket=locked,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{locked}/*",
                    }
                ],
            }
        ),
    )
    config = app.directory / "hybridless.yml"
    config.write_text(
        config.read_text().replace("provider:\n", f"provider:\n  deploymentBucket: {locked}\n", 1)
    )
    app.change_code("Broken, {audience}.")
    failed = app.deploy("--method", "direct")

    assert failed.returncode == 1, failed.log
    assert failed.outputs is None
    assert "error: package failed: PutObject" in failed.log
    assert "── cleanup" not in failed.log
    stored = app.stored_digests()
    for name, digest in digests(live.outputs).items():
        assert digest in stored[name], f"{name}: the live image was removed"
    assert len(stored["greeter-0"]) == 2, "the failed deploy's image is kept until a success"
    assert app.function_image() == live.outputs["images"]["Greeter-0"]
    assert app.stack_status() == "CREATE_COMPLETE"


def test_a_created_deployment_bucket_is_private_and_tls_only(
    ground_env: GroundHandle, unique: str
) -> None:
    s3 = boto3.client("s3")
    bucket = f"deployments-{unique}"

    ensure_bucket(s3, bucket, "us-east-1", Reporter())

    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert f"arn:aws:s3:::{bucket}/*" in statement["Resource"]

    # A second call leaves an existing bucket as it is.
    ensure_bucket(s3, bucket, "us-east-1", Reporter())
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_a_build_failure_stops_before_anything_reaches_aws(app: App) -> None:
    dockerfile = app.directory / "Dockerfile.web"
    dockerfile.write_text(dockerfile.read_text().replace("COPY greeting.py", "COPY missing.py"))

    failed = app.deploy()

    assert failed.returncode == 1, failed.log
    assert "error: build failed: Web-0 (Dockerfile.web):" in failed.log
    assert "missing.py" in failed.log
    assert "── push" not in failed.log
    repositories = boto3.client("ecr").describe_repositories()["repositories"]
    assert not [r for r in repositories if r["repositoryName"].endswith(app.stage)]


def test_a_preview_of_a_new_stack_then_a_deploy_creates_it(app: App) -> None:
    preview = app.deploy("--preview")
    assert preview.returncode == 0, preview.log
    assert "stack hello-" in preview.log and ": create (changeset)" in preview.log
    assert app.stack_status() == "REVIEW_IN_PROGRESS"
    assert preview.outputs is not None
    assert preview.outputs["stack-status"] == "REVIEW_IN_PROGRESS"
    assert preview.outputs["outputs"] == {}

    created = app.deploy("--method", "direct")

    assert created.returncode == 0, created.log
    assert "is REVIEW_IN_PROGRESS: it never ran, so it is deleted and created again" in created.log
    assert created.outputs is not None
    assert created.outputs["stack-status"] == "CREATE_COMPLETE"
    assert app.stack_status() == "CREATE_COMPLETE"


def test_the_registry_password_is_masked_before_anything_could_print_it(app: App) -> None:
    token = boto3.client("ecr").get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(token["authorizationToken"]).decode().partition(":")[2]
    assert password
    app.env["GITHUB_ACTIONS"] = "true"

    result = app.deploy("--preview")

    assert result.returncode == 0, result.log
    lines = result.log.splitlines()
    mask_lines = [n for n, line in enumerate(lines) if line == f"::add-mask::{password}"]
    assert len(mask_lines) == 1, "GitHub is told to mask the password exactly once"
    assert [n for n, line in enumerate(lines) if password in line] == mask_lines
    first_push = next(n for n, line in enumerate(lines) if ": pushed " in line)
    assert mask_lines[0] < first_push
    assert f"::add-mask::{token['authorizationToken']}" in lines


def test_cleanup_removes_recorded_tags_and_keeps_images_tagged_by_people(app: App) -> None:
    app.keep_previous(0)
    first = app.deploy("--method", "direct", "--image-tag", "release-a")
    assert first.returncode == 0, first.log
    assert first.outputs is not None
    # Someone tags the first web image by hand, as a release they want to keep.
    ecr = boto3.client("ecr")
    web = app.repository("web-0")
    manifest = ecr.batch_get_image(repositoryName=web, imageIds=[{"imageTag": "release-a"}])[
        "images"
    ][0]["imageManifest"]
    ecr.put_image(repositoryName=web, imageManifest=manifest, imageTag="keep-me")

    app.change_code("Next, {audience}.")
    second = app.deploy("--method", "direct", "--image-tag", "release-b")

    assert second.returncode == 0, second.log
    assert second.outputs is not None
    assert second.outputs["image-tag"] == "release-b"
    stored = app.stored_digests()
    # release-a was pushed by the tool (its deployment record says so) and nothing uses it.
    assert stored["greeter-0"] == {digests(second.outputs)["greeter-0"]}
    # The web image carries a tag the tool did not make: it stays.
    assert digests(first.outputs)["web-0"] in stored["web-0"]
    tags = {
        image.get("imageTag")
        for image in ecr.list_images(repositoryName=web)["imageIds"]
        if image["imageDigest"] == digests(first.outputs)["web-0"]
    }
    assert "keep-me" in tags


def test_a_failing_build_step_shows_its_output(app: App) -> None:
    dockerfile = app.directory / "Dockerfile.lambda"
    dockerfile.write_text(
        dockerfile.read_text()
        + 'RUN echo "checking greeter.py" && echo "SyntaxError: invalid syntax" && exit 3\n'
    )

    failed = app.deploy()

    assert failed.returncode == 1, failed.log
    assert "error: build failed: Greeter-0 (Dockerfile.lambda):" in failed.log
    assert "returned a non-zero code: 3" in failed.log
    error = failed.log[failed.log.index("error: build failed") :]
    assert "| checking greeter.py" in error
    assert "| SyntaxError: invalid syntax" in error


def test_repositories_are_created_safe_and_a_team_policy_is_kept(app: App) -> None:
    ecr = boto3.client("ecr")
    own_policy = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": 7,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    ecr.create_repository(repositoryName=app.repository("greeter-0"))
    ecr.put_lifecycle_policy(
        repositoryName=app.repository("greeter-0"), lifecyclePolicyText=own_policy
    )

    result = app.deploy("--preview")

    assert result.returncode == 0, result.log
    [created] = ecr.describe_repositories(repositoryNames=[app.repository("web-0")])["repositories"]
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"]["encryptionType"] == "AES256"
    tags = ecr.list_tags_for_resource(resourceArn=created["repositoryArn"])["tags"]
    assert {"Key": "app", "Value": "hello"} in tags
    failsafe = json.loads(
        ecr.get_lifecycle_policy(repositoryName=app.repository("web-0"))["lifecyclePolicyText"]
    )
    assert failsafe["rules"][0]["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["*"],
        "countType": "imageCountMoreThan",
        "countNumber": 100,
    }
    kept = ecr.get_lifecycle_policy(repositoryName=app.repository("greeter-0"))
    assert json.loads(kept["lifecyclePolicyText"]) == json.loads(own_policy)


def test_login_uses_ecr_s_registry_unless_told_otherwise(ground_env: GroundHandle) -> None:
    stream = io.StringIO()
    reporter = Reporter(stream, ci="terminal")
    ecr = boto3.client("ecr")

    own = push.login(ecr, None, reporter)
    overridden = push.login(ecr, ground_env.registry, reporter)

    assert own.address == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert overridden.address == ground_env.registry
    assert own.username == "AWS" and own.password
    reporter.info(f"login with {own.password}")
    assert own.password not in stream.getvalue()
    assert "login with ***" in stream.getvalue()


def test_old_deployments_are_pruned_from_the_bucket(app: App) -> None:
    bucket = default_bucket_name("123456789012", "us-east-1")
    config = app.directory / "hybridless.yml"
    config.write_text(
        config.read_text().replace(
            "provider:\n",
            f"provider:\n  deploymentBucket:\n    name: {bucket}\n    keepDeployments: 1\n",
            1,
        )
    )
    app.keep_previous(0)  # else the record of the one deployment whose images stay is kept too
    first = app.deploy("--method", "direct")
    assert first.returncode == 0, first.log
    app.change_code("Pruned, {audience}.")

    second = app.deploy("--method", "direct")

    assert second.returncode == 0, second.log
    assert first.outputs is not None and second.outputs is not None
    keys = [
        item["Key"]
        for item in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"hello/{app.stage}/")[
            "Contents"
        ]
    ]
    prefixes = {key.split("/")[2] for key in keys}
    assert prefixes == {second.outputs["image-tag"]}
    assert any(key.endswith("/deployment.json") for key in keys)
    assert "pruned 1 old deployment(s)" in second.log


def test_the_records_of_kept_images_outlive_keep_deployments(app: App) -> None:
    """keepDeployments: 1 with keepPrevious: 1 (the default): the previous deployment's images
    are kept for a rollback, so its record, which a rollback reads, is kept too."""
    bucket = default_bucket_name("123456789012", "us-east-1")
    config = app.directory / "hybridless.yml"
    config.write_text(
        config.read_text().replace(
            "provider:\n",
            f"provider:\n  deploymentBucket:\n    name: {bucket}\n    keepDeployments: 1\n",
            1,
        )
    )
    first = app.deploy("--method", "direct")
    assert first.returncode == 0, first.log
    app.change_code("Kept, {audience}.")

    second = app.deploy("--method", "direct")

    assert second.returncode == 0, second.log
    assert first.outputs is not None and second.outputs is not None
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"hello/{app.stage}/")
    prefixes = {item["Key"].split("/")[2] for item in listed["Contents"]}
    assert {first.outputs["image-tag"], second.outputs["image-tag"]} <= prefixes
    assert "pruned" not in second.log
