"""Upload the template to the deployment bucket and say where it is.

The stack is always created from a TemplateURL, so templates over CloudFormation's 51,200-byte
inline limit deploy like any other. Each deployment has its own prefix,
`<service>/<stage>/<deployment id>/`, holding the template under a content-addressed key and a
`deployment.json` record (image tag, images, time) that cleanup and rollback read.

A bucket the tool creates is private and safe by default: encryption, all public access
blocked, a policy that refuses plain HTTP, and versioning. A bucket the user names is used as
it is.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hybridless.errors import PhaseError
from hybridless.report import Reporter

RECORD = "deployment.json"


@dataclass(frozen=True)
class Package:
    bucket: str
    prefix: str
    template_key: str
    template_url: str


def default_bucket_name(account_id: str, region: str) -> str:
    return f"hybridless-deployments-{account_id}-{region}"


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyPlainHttp",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_bucket(s3: Any, name: str, region: str, reporter: Reporter) -> None:
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise PhaseError(
                "package", f"deployment bucket {name} exists but this identity cannot use it"
            ) from None
        if status != 404:
            raise
    create: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_policy(Bucket=name, Policy=tls_only_policy(name))
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    reporter.info(f"created deployment bucket {name} (encrypted, private, TLS only, versioned)")


def deployment_prefix(service: str, stage: str, deployment_id: str) -> str:
    return f"{service}/{stage}/{deployment_id}/"


def upload(
    s3: Any,
    bucket: str,
    prefix: str,
    template_body: str,
    record: Mapping[str, Any],
) -> Package:
    digest = hashlib.sha256(template_body.encode()).hexdigest()[:16]
    key = f"{prefix}template-{digest}.json"
    s3.put_object(
        Bucket=bucket, Key=key, Body=template_body.encode(), ContentType="application/json"
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}{RECORD}",
        Body=json.dumps(record, indent=1, sort_keys=True).encode(),
        ContentType="application/json",
    )
    endpoint = str(s3.meta.endpoint_url).rstrip("/")
    url = f"{endpoint}/{bucket}/{urllib.parse.quote(key)}"
    return Package(bucket=bucket, prefix=prefix, template_key=key, template_url=url)


def read_records(s3: Any, bucket: str, service: str, stage: str) -> list[dict[str, Any]]:
    """Every deployment record of this service and stage, oldest first."""
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{service}/{stage}/"
    ):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{RECORD}"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                try:
                    record = json.loads(body)
                except ValueError:
                    continue
                record["prefix"] = item["Key"][: -len(RECORD)]
                records.append(record)
    return sorted(records, key=lambda r: str(r.get("time", "")))


def prune(s3: Any, bucket: str, records: list[dict[str, Any]], keep: int) -> int:
    """Delete the objects of all but the newest `keep` deployments; return how many went."""
    doomed = records[:-keep] if keep else records
    for record in doomed:
        keys = [
            {"Key": item["Key"]}
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=record["prefix"]
            )
            for item in page.get("Contents", [])
        ]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000]})
    return len(doomed)
