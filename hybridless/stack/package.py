"""Upload the template to the deployment bucket and say where it is.

The stack is always created from a TemplateURL, so templates over CloudFormation's 51,200-byte
inline limit deploy like any other. Each deployment has its own prefix,
`<service>/<stage>/<deployment id>/`, holding the template under a content-addressed key and a
`deployment.json` record (image tag, images, time) that cleanup and rollback read, and, once
the stack reached a complete state with it, a `succeeded.json` marker. The marker's time is
when that deployment last became the one running: a rollback to it writes the marker again.

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
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hybridless.errors import PhaseError
from hybridless.report import Reporter

RECORD = "deployment.json"
SUCCEEDED = "succeeded.json"


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
    return Package(
        bucket=bucket, prefix=prefix, template_key=key, template_url=object_url(s3, bucket, key)
    )


def object_url(s3: Any, bucket: str, key: str) -> str:
    endpoint = str(s3.meta.endpoint_url).rstrip("/")
    return f"{endpoint}/{bucket}/{urllib.parse.quote(key)}"


def s3_https_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted S3 URL CloudFormation fetches a nested template from. It is the
    service that fetches it, not this process, so it must be S3's own address even when this
    process reaches S3 through another endpoint; nested `TemplateURL`s must be https."""
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{domain}/{urllib.parse.quote(key)}"


def shared_key(service: str, stage: str, kind: str, name: str, body: bytes, suffix: str) -> str:
    """A content-addressed key outside any one deployment's prefix: a nested template or a zip
    that did not change keeps its key, so the root template, and the change set, stay empty."""
    digest = hashlib.sha256(body).hexdigest()[:16]
    return f"{service}/{stage}/{kind}/{name}-{digest}{suffix}"


def upload_once(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> bool:
    """Put `body` at `key` unless an object of the same size is already there; say whether it
    was uploaded. The key names the content, so a 403 on the check (no s3:ListBucket makes a
    missing object look forbidden) uploads too: writing it again is harmless."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(err.response.get("Error", {}).get("Code", ""))
        if status not in (403, 404) and code not in ("403", "404", "NoSuchKey", "NotFound"):
            raise
    else:
        if head.get("ContentLength") == len(body):
            return False
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return True


def read_records(s3: Any, bucket: str, service: str, stage: str) -> list[dict[str, Any]]:
    """Every deployment record of this service and stage, oldest first. A record of a
    deployment that succeeded carries `succeeded`: when it last became the running one."""
    records = []
    succeeded: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{service}/{stage}/"
    ):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{SUCCEEDED}"):
                succeeded[item["Key"][: -len(SUCCEEDED)]] = item["LastModified"].isoformat()
            elif item["Key"].endswith(f"/{RECORD}"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                try:
                    record = json.loads(body)
                except ValueError:
                    continue
                record["prefix"] = item["Key"][: -len(RECORD)]
                records.append(record)
    for record in records:
        if record["prefix"] in succeeded:
            record["succeeded"] = (
                _success_time(s3, bucket, record["prefix"]) or succeeded[record["prefix"]]
            )
    return sorted(records, key=lambda r: str(r.get("time", "")))


def _success_time(s3: Any, bucket: str, prefix: str) -> str | None:
    """The time written in the marker: S3's LastModified has whole seconds only, and a
    rollback often follows a deploy within the same second."""
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}{SUCCEEDED}")["Body"].read()
        when = json.loads(body).get("time")
    except (ClientError, ValueError, AttributeError):
        return None
    return str(when) if when else None


def mark_succeeded(s3: Any, bucket: str, prefix: str, stack_status: str) -> None:
    now = datetime.now(UTC).isoformat()
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}{SUCCEEDED}",
        Body=json.dumps({"stack-status": stack_status, "time": now}).encode(),
        ContentType="application/json",
    )


def by_success(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deployments that succeeded, the one running now last."""
    return sorted((r for r in records if r.get("succeeded")), key=lambda r: str(r["succeeded"]))


def prune(s3: Any, bucket: str, records: list[dict[str, Any]], keep: int) -> int:
    """Delete the objects of all but the newest `keep` successful deployments, and of failed
    ones older than the last success; then the shared objects (nested templates, zips) that no
    kept deployment uses. A deployment newer than the last success (under way, or failed since)
    is left for a later cleanup. Returns how many deployments went."""
    successes = by_success(records)
    kept_successes = successes[-keep:] if keep else []
    if successes:
        latest = max(str(r.get("time", "")) for r in successes[-1:])
        pending = [r for r in records if not r.get("succeeded") and str(r.get("time", "")) > latest]
    else:
        pending = [r for r in records if not r.get("succeeded")]
    kept_prefixes = {r["prefix"] for r in (*kept_successes, *pending)}
    doomed = [r for r in records if r["prefix"] not in kept_prefixes]
    kept = [r for r in records if r["prefix"] in kept_prefixes]
    for record in doomed:
        _delete(s3, bucket, _list(s3, bucket, record["prefix"]))
    if doomed:
        used = {key for record in kept for key in record.get("objects", [])}
        for record in doomed:
            shared = {key for key in record.get("objects", []) if key not in used}
            _delete(s3, bucket, sorted(shared))
    return len(doomed)


def _list(s3: Any, bucket: str, prefix: str) -> list[str]:
    return [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]


def _delete(s3: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch})
