"""moto answers as AWS through the standard endpoint variables; the engine builds and runs."""

from __future__ import annotations

import json

import boto3

from tests.conftest import GroundHandle
from tests.support import build_context

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Stage": {"Type": "String"}},
    "Resources": {
        "Artifacts": {"Type": "AWS::S3::Bucket"},
        "Setting": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": {"Fn::Sub": "/ground/${AWS::StackName}/stage"},
                "Type": "String",
                "Value": {"Ref": "Stage"},
            },
        },
    },
    "Outputs": {
        "BucketName": {"Value": {"Ref": "Artifacts"}},
        "SettingName": {"Value": {"Ref": "Setting"}},
    },
}


def test_a_stack_created_from_a_template_url_is_readable(
    ground_env: GroundHandle, unique: str
) -> None:
    s3 = boto3.client("s3")
    bucket = f"ground-templates-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="t/template.json", Body=json.dumps(TEMPLATE).encode())
    template_url = f"{ground_env.env['AWS_ENDPOINT_URL']}/{bucket}/t/template.json"
    cloudformation = boto3.client("cloudformation")
    stack = f"ground-stack-{unique}"

    cloudformation.create_stack(
        StackName=stack,
        TemplateURL=template_url,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )

    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["SettingName"] == f"/ground/{stack}/stage"
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    assert {r["LogicalResourceId"] for r in resources} == {"Artifacts", "Setting"}
    # The resources are real in the emulator, not just names in the stack.
    s3.head_bucket(Bucket=outputs["BucketName"])
    value = boto3.client("ssm").get_parameter(Name=outputs["SettingName"])["Parameter"]["Value"]
    assert value == "dev"


def test_the_base_image_runs_python_and_builds_with_run_steps(
    ground: GroundHandle, unique: str
) -> None:
    engine = ground.docker()
    dockerfile = (
        f"FROM {ground.env['HYBRIDLESS_GROUND_BASE_IMAGE']}\n"
        f"RUN python3 -c \"open('/built', 'w').write('{unique}')\"\n"
        'CMD ["python3", "-c", "import sys; print(open(\'/built\').read(), sys.version_info[0])"]\n'
    )
    context = build_context({"Dockerfile": dockerfile.encode()})
    image, _ = engine.images.build(
        fileobj=context,
        custom_context=True,
        tag=f"ground-test/base:{unique}",
        network_mode="host",
        rm=True,
        forcerm=True,
    )
    try:
        output = engine.containers.run(image.id, network_mode="host", remove=True)
        assert output.decode().split() == [unique, "3"]
        # Whatever answers to the name Dockerfiles use by default is Debian bookworm.
        os_release = engine.containers.run(
            "debian:bookworm-slim", ["cat", "/etc/os-release"], network_mode="host", remove=True
        )
        assert "VERSION_CODENAME=bookworm" in os_release.decode()
    finally:
        engine.images.remove(image.id, force=True)
