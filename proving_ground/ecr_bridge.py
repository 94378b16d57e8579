"""The local ECR: moto's ECR API and a real OCI registry kept telling the same story.

moto has ECR's API but no registry; `docker-registry` has the images but no ECR API. Real ECR is
both at once, and a deploy tool depends on that: it pushes with docker, then asks ECR's API what
is there, re-tags with `PutImage`, deletes with `BatchDeleteImage`, and expects docker to see the
result. This bridge joins the two, in both directions:

- registry -> ECR: the registry POSTs a notification for every manifest pushed or deleted; the
  bridge records it in moto (`PutImage` with the digest docker reported, so digests match).
- ECR -> registry: the tool's ECR endpoint (`AWS_ENDPOINT_URL_ECR`) points here. Calls are
  forwarded to moto unchanged; after a `PutImage`, `BatchDeleteImage` or `DeleteRepository` the
  bridge makes the registry carry exactly the tags ECR now says each affected digest has.

Real ECR is read-your-writes: once `docker push` returns, `DescribeImages` lists the image. The
registry delivers notifications asynchronously, so before answering any ECR call the bridge waits
until it has handled as many events as the registry reports having queued for it (the registry's
own expvar counters), bounded by a timeout.

Real ECR also has limits moto does not keep, and a tool that works against moto alone can break on
them in production: `ListImages`, `DescribeImages` and `DescribeRepositories` answer at most 100
items by default (`maxResults` up to 1000) with a `nextToken` for the rest, and `BatchDeleteImage`
and `BatchGetImage` refuse more than 100 image ids. The bridge keeps those limits itself: it
refuses what ECR refuses before moto sees it, and cuts moto's complete answers into ECR's pages.
It also reports untagged images `BatchDeleteImage` deleted, which moto leaves out.

Known gaps, on purpose: one region per repository (learned from the SigV4 scope of the first API
call naming it, else the ground's region); pushes to a repository ECR does not have succeed in
the registry (real ECR refuses them) and are logged as not mirrored.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import http.client
import http.server
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

NOTIFICATION_ENDPOINT = "ecr-bridge"
ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
SETTLE_TIMEOUT = 10.0
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_BATCH = 100
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/ecr/aws4_request")


@dataclass(frozen=True)
class RegistryStep:
    """One write to the registry: delete a manifest by digest, or put it under a tag
    (`tag=None` puts it by digest alone, leaving it untagged)."""

    action: str
    tag: str | None = None


def plan_registry_steps(ecr_tags: set[str] | None, registry_tags: set[str]) -> list[RegistryStep]:
    """What to do to the registry so that one digest carries exactly the tags ECR says.

    `ecr_tags` is None when ECR no longer has the image. The registry cannot remove a single tag,
    so a digest with a tag too many is deleted and put back under the tags that remain.
    """
    if ecr_tags is None:
        return [RegistryStep("delete")]
    if registry_tags - ecr_tags:
        puts = [RegistryStep("put", tag) for tag in sorted(ecr_tags)] or [RegistryStep("put")]
        return [RegistryStep("delete"), *puts]
    return [RegistryStep("put", tag) for tag in sorted(ecr_tags - registry_tags)]


class EcrRefusal(Exception):
    """A request ECR refuses and moto would accept. It is answered in the shape moto gives its
    own errors, so an SDK raises the same error as against AWS (boto3: a ClientError)."""

    def __init__(self, message: str, code: str = "InvalidParameterException") -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def reply(self) -> tuple[int, list[tuple[str, str]], bytes]:
        body = {"__type": self.code, "message": self.message, "Message": self.message}
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amzn-ErrorType", self.code)]
        return 400, headers, json.dumps(body).encode()


@dataclass(frozen=True)
class Listing:
    """One operation ECR pages: the response member holding the items, the request member that
    names items one by one (which turns paging off), and each item's place in the listing."""

    member: str
    named: str | None
    key: Callable[[dict[str, Any]], tuple[str, ...]]


LISTINGS: dict[str, Listing] = {
    "ListImages": Listing(
        "imageIds", None, lambda i: (str(i.get("imageDigest", "")), str(i.get("imageTag") or ""))
    ),
    "DescribeImages": Listing("imageDetails", "imageIds", lambda i: (str(i.get("imageDigest")),)),
    "DescribeRepositories": Listing(
        "repositories", "repositoryNames", lambda i: (str(i.get("repositoryName")),)
    ),
}
BATCHES = {"BatchDeleteImage": "imageIds", "BatchGetImage": "imageIds"}
PAGING_MEMBERS = ("maxResults", "nextToken")


def _constraint(member: str, rule: str) -> EcrRefusal:
    return EcrRefusal(f"Invalid parameter at '{member}' failed to satisfy constraint: '{rule}'")


def paged_listing(operation: str, request: dict[str, Any]) -> Listing | None:
    """None when the call names its items one by one: ECR answers those whole, unpaged."""
    listing = LISTINGS.get(operation)
    if listing is None or (listing.named and request.get(listing.named)):
        return None
    return listing


def check_limits(operation: str, request: dict[str, Any]) -> None:
    """Refusals happen before the call reaches moto, which would accept and carry it out: a
    refused batch must delete nothing, as on ECR."""
    batch = BATCHES.get(operation)
    if batch and len(request.get(batch) or []) > MAX_BATCH:
        raise _constraint(batch, f"Member must have length less than or equal to {MAX_BATCH}")
    listing = LISTINGS.get(operation)
    if listing is None:
        return
    if paged_listing(operation, request) is None:
        for member in PAGING_MEMBERS:
            if member in request:
                raise EcrRefusal(f"{member} cannot be used together with {listing.named}")
        return
    if "maxResults" in request:
        size = request["maxResults"]
        if isinstance(size, bool) or not isinstance(size, int):
            raise _constraint("maxResults", "Member must be a number")
        if size < 1:
            raise _constraint("maxResults", "Member must have value greater than or equal to 1")
        if size > MAX_PAGE_SIZE:
            raise _constraint(
                "maxResults", f"Member must have value less than or equal to {MAX_PAGE_SIZE}"
            )
    if "nextToken" in request:
        _resume_after(operation, request)


def request_for_moto(operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """What to forward: a paged call without its paging members, so that moto answers with
    every item (it ignores them today; a later moto that honoured them would page twice)."""
    if paged_listing(operation, request) is None:
        return request
    return {k: v for k, v in request.items() if k not in PAGING_MEMBERS}


def page_of(operation: str, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The page of moto's complete answer that ECR would give for this request.

    Items are put in a fixed order and the token names the last item given, not a count: an
    item deleted between two pages (cleanup deletes while it lists) neither shifts later items
    out of the listing nor makes one appear twice, as with ECR."""
    listing = paged_listing(operation, request)
    if listing is None:
        return response
    items = sorted(response.get(listing.member) or [], key=listing.key)
    if "nextToken" in request:
        after = _resume_after(operation, request)
        items = [item for item in items if listing.key(item) > after]
    size = int(request.get("maxResults") or PAGE_SIZE)
    page = {k: v for k, v in response.items() if k != "nextToken"}
    page[listing.member] = items[:size]
    if len(items) > size:
        page["nextToken"] = _token(operation, request, listing.key(items[size - 1]))
    return page


def with_untagged_deletions(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """moto's `BatchDeleteImage` reports a deleted image once per tag it had, so an untagged
    image it deletes is missing from `imageIds` (though not listed as a failure). ECR reports it
    by digest; without that the bridge would not know to delete it from the registry either."""
    reported = {i.get("imageDigest") for i in response.get("imageIds") or []}
    failed = {f.get("imageId", {}).get("imageDigest") for f in response.get("failures") or []}
    missing = [
        {"imageDigest": digest}
        for digest in dict.fromkeys(
            i["imageDigest"] for i in request.get("imageIds") or [] if i.get("imageDigest")
        )
        if digest not in reported and digest not in failed
    ]
    if not missing:
        return response
    return {**response, "imageIds": [*(response.get("imageIds") or []), *missing]}


def _token_scope(operation: str, request: dict[str, Any]) -> list[str]:
    """A token resumes only the listing it came from; in another (repository, filter) the
    item it names says nothing about where to go on, and ECR refuses it."""
    return [
        operation,
        str(request.get("registryId") or ""),
        str(request.get("repositoryName") or ""),
        json.dumps(request.get("filter") or {}, sort_keys=True),
    ]


def _token(operation: str, request: dict[str, Any], after: tuple[str, ...]) -> str:
    data = {"scope": _token_scope(operation, request), "after": list(after)}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _resume_after(operation: str, request: dict[str, Any]) -> tuple[str, ...]:
    token = request.get("nextToken")
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        after = tuple(str(part) for part in data["after"])
        valid = isinstance(token, str) and data["scope"] == _token_scope(operation, request)
    except (ValueError, KeyError, TypeError, binascii.Error):
        valid = False
    if not valid:
        raise _constraint("nextToken", "Member must be a token this operation returned")
    return after


class Registry:
    """The parts of the registry's HTTP API v2 the bridge needs."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def tags(self, repo: str) -> list[str]:
        tags: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list?n=1000"
        while path:
            status, headers, body = self._request("GET", path)
            if status == 404:
                return []
            _expect(status, 200, f"list tags of {repo}")
            tags.extend(json.loads(body).get("tags") or [])
            path = _next_link(headers.get("Link", ""))
        return tags

    def digest_of(self, repo: str, reference: str) -> str | None:
        status, headers, _ = self._request(
            "HEAD", f"/v2/{repo}/manifests/{reference}", headers=_accept_manifests()
        )
        return headers.get("Docker-Content-Digest") if status == 200 else None

    def manifest(self, repo: str, reference: str) -> tuple[bytes, str] | None:
        status, headers, body = self._request(
            "GET", f"/v2/{repo}/manifests/{reference}", headers=_accept_manifests()
        )
        if status != 200:
            return None
        return body, headers.get("Content-Type", "")

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> None:
        status, _, text = self._request(
            "PUT", f"/v2/{repo}/manifests/{reference}", body, {"Content-Type": media_type}
        )
        _expect(status, 201, f"put manifest {repo}:{reference}", text)

    def delete_manifest(self, repo: str, digest: str) -> bool:
        status, _, text = self._request("DELETE", f"/v2/{repo}/manifests/{digest}")
        if status == 404:
            return False
        _expect(status, 202, f"delete manifest {repo}@{digest}", text)
        return True

    def tags_by_digest(self, repo: str) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {}
        for tag in self.tags(repo):
            digest = self.digest_of(repo, tag)
            if digest:
                result.setdefault(digest, set()).add(tag)
        return result

    def events_queued(self, debug_url: str) -> int | None:
        """How many events the registry has queued for the bridge so far (expvar counters)."""
        try:
            with urllib.request.urlopen(debug_url.rstrip("/") + "/debug/vars", timeout=5) as resp:
                data = json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        for endpoint in data.get("registry", {}).get("notifications", {}).get("endpoints", []):
            if endpoint.get("name") == NOTIFICATION_ENDPOINT:
                return int(endpoint["Metrics"]["Events"])
        return None


def _accept_manifests() -> dict[str, str]:
    return {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}


def _next_link(link: str) -> str | None:
    match = re.match(r"<([^>]+)>", link)
    return match.group(1) if match else None


def _expect(status: int, wanted: int, what: str, body: bytes = b"") -> None:
    if status != wanted:
        raise RuntimeError(f"registry: {what}: HTTP {status} {body[:300]!r}")


class Bridge:
    def __init__(self, moto_url: str, registry_url: str, debug_url: str, region: str) -> None:
        moto = urllib.parse.urlsplit(moto_url)
        self.moto_address = (moto.hostname or "127.0.0.1", moto.port or 80)
        self.moto_url = moto_url
        self.registry = Registry(registry_url)
        self.debug_url = debug_url
        self.default_region = region
        self.regions: dict[str, str] = {}
        self.seen_events: set[str] = set()
        self.own_deletes: Counter[tuple[str, str]] = Counter()
        self.stats: Counter[str] = Counter()
        self.lock = threading.RLock()
        self.registry_lock = threading.Lock()
        self.baseline = self.registry.events_queued(debug_url) or 0
        self._clients: dict[str, Any] = {}

    def log(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    def count(self, what: str) -> None:
        with self.lock:
            self.stats[what] += 1

    def ecr(self, repo: str) -> Any:
        region = self.regions.get(repo, self.default_region)
        with self.lock:
            if region not in self._clients:
                self._clients[region] = boto3.client(
                    "ecr", region_name=region, endpoint_url=self.moto_url
                )
            return self._clients[region]

    # registry -> ECR

    def handle_events(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            with self.lock:
                if event.get("id") in self.seen_events:
                    continue
            target = event.get("target", {})
            self.log(
                f"event {event.get('action')} {target.get('repository')}"
                f" tag={target.get('tag')} digest={target.get('digest')}"
            )
            try:
                self._mirror_event(event)
            except Exception as err:
                self.count("errors")
                self.log(f"event {event.get('action')} not mirrored: {err}")
            with self.lock:
                self.seen_events.add(event.get("id", ""))

    def _mirror_event(self, event: dict[str, Any]) -> None:
        target = event.get("target", {})
        repo, digest = target.get("repository", ""), target.get("digest", "")
        if event.get("action") == "delete":
            self._mirror_delete(repo, digest, target.get("tag"))
            return
        if event.get("action") != "push" or target.get("mediaType") not in MANIFEST_MEDIA_TYPES:
            return
        manifest = self.registry.manifest(repo, digest)
        if manifest is None:
            self.log(f"push {repo}@{digest} not mirrored: manifest gone from the registry")
            return
        body, media_type = manifest
        params: dict[str, Any] = {
            "repositoryName": repo,
            "imageManifest": body.decode(),
            "imageManifestMediaType": media_type,
            "imageDigest": digest,
        }
        if target.get("tag"):
            params["imageTag"] = target["tag"]
        try:
            self.ecr(repo).put_image(**params)
        except ClientError as err:
            if err.response["Error"]["Code"] == "ImageAlreadyExistsException":
                return
            raise RuntimeError(
                f"push {repo}:{target.get('tag')} not mirrored (does ECR have the repository?): "
                f"{err}"
            ) from err
        self.count("pushes_to_ecr")
        self.log(f"registry push {repo}:{target.get('tag') or '<untagged>'} {digest} -> ECR")

    def _mirror_delete(self, repo: str, digest: str, tag: str | None) -> None:
        """Delete events name a digest (a manifest deleted) or a tag; they carry no media type."""
        key = (repo, digest or f"tag:{tag}")
        with self.lock:
            if self.own_deletes[key] > 0:
                self.own_deletes[key] -= 1
                self.stats["echoes_ignored"] += 1
                return
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag}
        result = self.ecr(repo).batch_delete_image(repositoryName=repo, imageIds=[image_id])
        if result.get("imageIds"):
            self.count("deletes_to_ecr")
            self.log(f"registry delete {repo} {digest or tag} -> ECR")

    def settle(self) -> None:
        """Wait until every event the registry has queued for the bridge has been handled."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            queued = self.registry.events_queued(self.debug_url)
            with self.lock:
                handled = len(self.seen_events) + self.baseline
            if queued is None or handled >= queued:
                return
            time.sleep(0.01)
        self.log("settle: registry events still undelivered after timeout; answering anyway")

    # ECR -> registry

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.moto_address, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def handle_api(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        operation = headers.get("X-Amz-Target", "").removeprefix(ECR_TARGET_PREFIX)
        request = json.loads(body) if body else {}
        repo = request.get("repositoryName", "")
        try:
            check_limits(operation, request)
        except EcrRefusal as refusal:
            self.count("refused")
            self.log(f"{operation} {repo}: refused as ECR refuses it: {refusal.message}")
            return refusal.reply()
        scope = _SCOPE.search(headers.get("Authorization", ""))
        if repo and scope:
            with self.lock:
                self.regions.setdefault(repo, scope.group(1))
        self.settle()

        doomed: list[str] = []
        if operation == "DeleteRepository":
            doomed = self._digests_in_ecr(repo)

        forwarded = request_for_moto(operation, request)
        if forwarded is not request:
            body = json.dumps(forwarded).encode()
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
        status, resp_headers, resp_body = self.forward(method, path, headers, body)
        if status == 200 and operation == "BatchDeleteImage":
            resp_body = json.dumps(with_untagged_deletions(request, json.loads(resp_body))).encode()
        if status == 200:
            try:
                self._after_api_write(operation, repo, request, json.loads(resp_body), doomed)
            except Exception as err:
                self.count("errors")
                self.log(f"{operation} {repo}: registry not updated: {err}")
            if forwarded is not request:
                resp_body = json.dumps(page_of(operation, request, json.loads(resp_body))).encode()
        return status, resp_headers, resp_body

    def _after_api_write(
        self,
        operation: str,
        repo: str,
        request: dict[str, Any],
        response: dict[str, Any],
        doomed: list[str],
    ) -> None:
        if operation == "PutImage":
            self.sync_digests(repo, [response["image"]["imageId"]["imageDigest"]], request)
        elif operation == "BatchDeleteImage":
            digests = {i["imageDigest"] for i in response.get("imageIds", []) if "imageDigest" in i}
            self.sync_digests(repo, sorted(digests), request)
        elif operation == "DeleteRepository":
            with self.registry_lock:
                registry_tags = self.registry.tags_by_digest(repo)
                for digest in doomed:
                    self._registry_delete(repo, digest, registry_tags.get(digest, set()))

    def _digests_in_ecr(self, repo: str) -> list[str]:
        try:
            pages = self.ecr(repo).get_paginator("list_images").paginate(repositoryName=repo)
            return sorted({i["imageDigest"] for page in pages for i in page["imageIds"]})
        except ClientError:
            return []

    def _ecr_tags(self, repo: str, digest: str) -> set[str] | None:
        try:
            images = self.ecr(repo).describe_images(
                repositoryName=repo, imageIds=[{"imageDigest": digest}]
            )["imageDetails"]
        except ClientError as err:
            gone = ("ImageNotFoundException", "RepositoryNotFoundException")
            if err.response["Error"]["Code"] in gone:
                return None
            raise
        return set(images[0].get("imageTags") or []) if images else None

    def sync_digests(self, repo: str, digests: list[str], request: dict[str, Any]) -> None:
        with self.registry_lock:
            registry_tags = self.registry.tags_by_digest(repo)
            for digest in digests:
                steps = plan_registry_steps(
                    self._ecr_tags(repo, digest), registry_tags.get(digest, set())
                )
                if steps:
                    self._apply(repo, digest, steps, request, registry_tags.get(digest, set()))

    def _apply(
        self,
        repo: str,
        digest: str,
        steps: list[RegistryStep],
        request: dict[str, Any],
        registry_tags: set[str],
    ) -> None:
        manifest = self.registry.manifest(repo, digest)
        if manifest is None and "imageManifest" in request:
            media_type = request.get("imageManifestMediaType") or json.loads(
                request["imageManifest"]
            ).get("mediaType", MANIFEST_MEDIA_TYPES[2])
            manifest = (request["imageManifest"].encode(), media_type)
        for step in steps:
            if step.action == "delete":
                self._registry_delete(repo, digest, registry_tags)
            elif manifest is not None:
                self.registry.put_manifest(repo, step.tag or digest, *manifest)
                self.count("puts_to_registry")
                self.log(f"ECR {repo}:{step.tag or '<untagged>'} {digest} -> registry put")

    def _registry_delete(self, repo: str, digest: str, tags: set[str]) -> None:
        """Delete a manifest; the registry then sends a delete event for the digest and one
        for each tag that named it. Those echo this bridge's own write and are not mirrored."""
        keys = [(repo, digest), *((repo, f"tag:{tag}") for tag in tags)]
        with self.lock:
            self.own_deletes.update(keys)
        if self.registry.delete_manifest(repo, digest):
            self.count("deletes_to_registry")
            self.log(f"ECR delete {repo}@{digest} -> registry delete")
        else:
            with self.lock:
                self.own_deletes.subtract(keys)


def make_handler(bridge: Bridge) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A reply goes out as headers, then body: with Nagle's algorithm on, the body waits for
        # the client's delayed ACK of the headers, about 40 ms on every ECR call.
        disable_nagle_algorithm = True

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(
            self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
        ) -> None:
            self.send_response(status)
            skip = {"content-length", "transfer-encoding", "connection", "server", "date"}
            for name, value in headers or []:
                if name.lower() not in skip:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                with bridge.lock:
                    payload = {"events_handled": len(bridge.seen_events), **bridge.stats}
                self._reply(
                    200, json.dumps(payload).encode(), [("Content-Type", "application/json")]
                )
            else:
                self._reply(404, b"not found")

        def do_POST(self) -> None:
            body = self._body()
            if self.path == "/events":
                bridge.handle_events(json.loads(body).get("events", []))
                self._reply(200, b"")
                return
            headers = {k: v for k, v in self.headers.items()}
            status, resp_headers, resp_body = bridge.handle_api("POST", self.path, headers, body)
            self._reply(status, resp_body, resp_headers)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proving_ground.ecr_bridge")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto", required=True, help="moto server URL")
    parser.add_argument("--registry", required=True, help="registry URL")
    parser.add_argument("--registry-debug", required=True, help="registry debug URL (expvar)")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    bridge = Bridge(args.moto, args.registry, args.registry_debug, args.region)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(bridge))
    bridge.log(f"local ECR on 127.0.0.1:{args.port}: moto {args.moto}, registry {args.registry}")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
