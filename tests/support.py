"""Small helpers shared by tests that drive the real Docker engine and registry."""

from __future__ import annotations

import contextlib
import io
import tarfile
import urllib.error
import urllib.request
from typing import Any

from proving_ground.procs import Served

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


def build_context(files: dict[str, bytes]) -> io.BytesIO:
    """An in-memory docker build context."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_scratch_image(docker: Any, tag: str, content: str) -> Any:
    """A tiny image (FROM scratch, one file) whose digest depends on `content`."""
    context = build_context(
        {"Dockerfile": b"FROM scratch\nCOPY payload /payload\n", "payload": content.encode()}
    )
    image, _ = docker.images.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True
    )
    return image


def push(docker: Any, repository: str, tag: str) -> str:
    """Push with the engine and return the digest docker reports."""
    digest = None
    for line in docker.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push {repository}:{tag} failed: {line['error']}")
        digest = line.get("aux", {}).get("Digest", digest)
    assert digest, f"docker reported no digest for {repository}:{tag}"
    return str(digest)


def registry_digest(registry: str, repository: str, reference: str) -> str | None:
    """The digest the registry serves for `reference`, or None when it has none."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": MANIFEST_ACCEPT},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            digest: str = response.headers["Docker-Content-Digest"]
            return digest
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def ecr_tags(ecr: Any, repository: str) -> dict[str, set[str]]:
    """{digest: tags} as ECR's API lists them (every page)."""
    result: dict[str, set[str]] = {}
    for page in ecr.get_paginator("list_images").paginate(repositoryName=repository):
        for image in page["imageIds"]:
            tags = result.setdefault(image["imageDigest"], set())
            if "imageTag" in image:
                tags.add(image["imageTag"])
    return result


def prepare_account(ground_env: dict[str, str], unique: str) -> dict[str, str]:
    """The state a user's account already has before the first deploy of examples/hello: a
    network (VPC, two subnets, a security group) and the default deployment bucket. Returns
    the variables the example reads, with the ground's base image for its build arguments.

    The bucket is made here because moto evaluates bucket policies without their conditions:
    the TLS-only policy the tool puts on a bucket it creates would deny every request."""
    import boto3

    from hybridless.stack.package import default_bucket_name

    session = boto3.session.Session(
        aws_access_key_id=ground_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ground_env["AWS_SECRET_ACCESS_KEY"],
        region_name=ground_env["AWS_REGION"],
    )
    endpoint = ground_env["AWS_ENDPOINT_URL"]
    ec2 = session.client("ec2", endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(
        GroupName=f"hello-{unique}", Description="hello tasks", VpcId=vpc
    )["GroupId"]
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=default_bucket_name("123456789012", ground_env["AWS_REGION"]))
    base = ground_env["HYBRIDLESS_GROUND_BASE_IMAGE"]
    return {
        "VPC_ID": vpc,
        "SUBNET_A": subnets[0],
        "SUBNET_B": subnets[1],
        "SECURITY_GROUP_ID": group,
        "PYTHON_IMAGE": base,
        "LAMBDA_PYTHON_IMAGE": base,
    }


class OidcTokenService:
    """A stand-in for GitHub's OIDC token endpoint (what ACTIONS_ID_TOKEN_REQUEST_URL names):
    it answers a GET bearing the request token with a JWT-shaped token for the audience asked,
    and records each request. Bound to 127.0.0.1; stop it with `close()`."""

    def __init__(self, claims: dict[str, Any], request_token: str = "request-token-e2e") -> None:
        import base64
        import json
        from http.server import BaseHTTPRequestHandler
        from urllib.parse import parse_qs, urlparse

        def part(data: dict[str, Any]) -> str:
            raw = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
            return raw.rstrip("=")

        self.request_token = request_token
        self.requests: list[dict[str, str]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                audience = query.get("audience", [""])[0]
                service.requests.append(
                    {"audience": audience, "authorization": self.headers.get("Authorization", "")}
                )
                if self.headers.get("Authorization") != f"Bearer {service.request_token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                token = ".".join(
                    [
                        part({"alg": "RS256", "typ": "JWT"}),
                        part({**claims, "aud": audience}),
                        "c2lnbmF0dXJlLW5vdC1jaGVja2Vk",
                    ]
                )
                body = json.dumps({"value": token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._served = Served(Handler)
        self.url = f"{self._served.url}/token?api-version=2.0"

    def env(self) -> dict[str, str]:
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def close(self) -> None:
        self._served.close()


class FlakyProxy:
    """A TCP proxy in front of the registry that resets every connection during its first
    `window` seconds (counted from the first connection), as a registry behind a restarting
    load balancer does, then forwards faithfully. Docker tries HTTPS and then HTTP within
    milliseconds, so a window rather than a count makes the first push attempt fail as a whole."""

    def __init__(self, target: str, window: float) -> None:
        import socket
        import threading

        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.window = window
        self.first: float | None = None
        self.dropped = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._open = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import socket
        import threading
        import time

        while self._open:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            now = time.monotonic()
            self.first = self.first if self.first is not None else now
            if now - self.first < self.window:
                self.dropped += 1
                linger = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: Any, sink: Any) -> None:
        import socket

        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._open = False
        self._server.close()
