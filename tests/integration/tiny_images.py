"""Many distinct images in a repository of the local ECR, in seconds.

Building and pushing a hundred images with the engine takes minutes; the registry's HTTP API
takes a few requests per image. Every image shares one real layer (a gzipped tar of one file)
and has its own config blob, so each manifest, and so each digest, is different. The registry
notifies the bridge of each manifest, which records it in ECR exactly as a `docker push`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
PUSHERS = 8


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer() -> tuple[bytes, bytes]:
    """(gzipped layer, its uncompressed tar), both fixed so every run shares the blob."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        data = b"tiny\n"
        info = tarfile.TarInfo("tiny")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    raw = tar_bytes.getvalue()
    return gzip.compress(raw, mtime=0), raw


class TinyImages:
    """Pushes distinct tiny images to one repository of a registry over HTTP API v2."""

    def __init__(self, registry: str, repository: str) -> None:
        self.base = f"http://{registry}/v2/{repository}"
        self._layer, raw = _layer()
        self._diff_id = _sha256(raw)
        self._layer_uploaded = False

    def _request(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers)
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {url}: HTTP {err.code} {err.read()[:300]!r}") from err

    def _upload_blob(self, data: bytes) -> str:
        digest = _sha256(data)
        _, headers = self._request("POST", f"{self.base}/blobs/uploads/")
        location = urllib.parse.urljoin(self.base, headers["Location"])
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{separator}digest={urllib.parse.quote(digest)}",
            data,
            {"Content-Type": "application/octet-stream"},
        )
        return digest

    def manifest(self, seed: str) -> bytes:
        """The manifest of the image made from `seed`, its blobs uploaded."""
        if not self._layer_uploaded:
            self._upload_blob(self._layer)
            self._layer_uploaded = True
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"seed": seed}},
                "rootfs": {"type": "layers", "diff_ids": [self._diff_id]},
            },
            sort_keys=True,
        ).encode()
        config_digest = self._upload_blob(config)
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": config_digest},
                "layers": [
                    {
                        "mediaType": LAYER_TYPE,
                        "size": len(self._layer),
                        "digest": _sha256(self._layer),
                    }
                ],
            },
            indent=3,
        ).encode()

    def push(self, seed: str, *tags: str) -> str:
        """Push the image made from `seed` under each of `tags` (untagged, by digest, when
        there are none); returns its digest."""
        body = self.manifest(seed)
        digest = _sha256(body)
        for reference in tags or (digest,):
            status, headers = self._request(
                "PUT", f"{self.base}/manifests/{reference}", body, {"Content-Type": MANIFEST_TYPE}
            )
            assert status == 201 and headers.get("Docker-Content-Digest") == digest
        return digest

    def push_all(self, images: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
        """Push each (seed, tags) a few at a time; returns the digests in the same order."""
        if images:
            self.manifest(images[0][0])  # the shared layer, once, before the threads start
        with ThreadPoolExecutor(PUSHERS) as pool:
            return list(pool.map(lambda image: self.push(image[0], *image[1]), images))
