"""Pruning old deployments from the bucket on moto's S3: a deployment's own prefix goes, and so
do the shared objects (nested templates, zips) that no kept deployment uses."""

from __future__ import annotations

import json

import boto3

from hybridless.stack import package
from tests.conftest import GroundHandle


def test_pruning_keeps_the_shared_objects_a_kept_deployment_uses(
    ground_env: GroundHandle, unique: str
) -> None:
    s3 = boto3.client("s3")
    bucket = f"records-{unique}"
    s3.create_bucket(Bucket=bucket)
    shared = {
        name: package.shared_key("svc", "dev", "templates", name, name.encode(), ".json")
        for name in ("only-old", "both", "only-new")
    }
    for key in shared.values():
        assert package.upload_once(s3, bucket, key, b"{}", "application/json")
    assert not package.upload_once(s3, bucket, shared["both"], b"{}", "application/json")
    uses = {"t1": ["only-old", "both"], "t2": ["both", "only-new"]}
    for number, (tag, names) in enumerate(uses.items()):
        prefix = package.deployment_prefix("svc", "dev", tag)
        record = {"image-tag": tag, "time": f"2026-11-22T0{number}:00:00",
                  "objects": sorted(shared[n] for n in names)}  # fmt: skip
        package.upload(s3, bucket, prefix, "{}", record)
        package.mark_succeeded(s3, bucket, prefix, "UPDATE_COMPLETE")

    records = package.read_records(s3, bucket, "svc", "dev")
    assert [r["image-tag"] for r in records] == ["t1", "t2"]
    assert package.prune(s3, bucket, records, keep=1) == 1

    left = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert shared["only-old"] not in left
    assert {shared["both"], shared["only-new"]} <= left
    assert not any(key.startswith("svc/dev/t1/") for key in left)
    kept = json.loads(s3.get_object(Bucket=bucket, Key="svc/dev/t2/deployment.json")["Body"].read())
    assert kept["objects"] == sorted([shared["both"], shared["only-new"]])
