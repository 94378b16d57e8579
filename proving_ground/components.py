"""The ground's components, each brought up, checked and stopped the same way.

A component's `up` returns a plain dict (its state entry: pid, ports, whether this ground
started it); `problem` says what is wrong with a running one, or None; `stop` stops it only if
this ground started it; `env` is what a client needs to reach it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proving_ground import procs
from proving_ground.ecr_bridge import NOTIFICATION_ENDPOINT

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
BASE_IMAGE = "hybridless-ground/debian:bookworm"
# A Debian bookworm rootfs is a truthful stand-in for this name, and only for this one.
BASE_IMAGE_ALIASES = ("debian:bookworm-slim",)
# nodejs is Debian's Node 18: a truthful base for the built-in runtime nodejs18.
BASE_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates,nodejs"
# What the imported image was made with: an image or a cached rootfs made with another list is
# rebuilt, not reused.
PACKAGES_LABEL = "org.hybridless.ground.packages"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
REPO_ROOT = Path(__file__).resolve().parent.parent

Info = dict[str, Any]


@dataclass
class Context:
    directory: Path
    log: Any

    def path(self, name: str) -> Path:
        return self.directory / name


def ensure_debian_packages(ctx: Context, commands: dict[str, str]) -> None:
    """Install the Debian packages providing `commands` ({command: package}) when missing."""
    missing = sorted({pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise procs.GroundError(
            f"missing {', '.join(missing)}: install them (apt-get install -y {' '.join(missing)})"
        )
    ctx.log(f"installing Debian packages: {' '.join(missing)}")
    _refresh_apt_lists()
    _apt(["install", "-y", "-qq", *missing])


@functools.cache
def _refresh_apt_lists() -> None:
    """Once per process, not once per component that installs something."""
    _apt(["update", "-qq"])


def _apt(args: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise procs.GroundError(f"apt-get {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def docker_client(host: str) -> Any:
    import docker

    return docker.DockerClient(base_url=host, timeout=120)


def docker_answers(host: str) -> bool:
    try:
        return bool(docker_client(host).ping())
    except Exception:
        return False


class Engine:
    """A Docker engine: one that already answers is used as it is and never stopped; otherwise
    Debian's dockerd, without the default bridge (containers here use the host network only)."""

    name = "engine"

    def up(self, ctx: Context, current: Info | None) -> Info:
        if current and self.problem(current) is None:
            return current
        host = os.environ.get("DOCKER_HOST", DEFAULT_DOCKER_HOST)
        if docker_answers(host):
            return {"host": host, "started": False}
        if host != DEFAULT_DOCKER_HOST:
            raise procs.GroundError(f"DOCKER_HOST={host} does not answer")
        ensure_debian_packages(ctx, {"dockerd": "docker.io"})
        log = ctx.path("dockerd.log")
        argv = [
            "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            f"--host={DEFAULT_DOCKER_HOST}",
            f"--pidfile={ctx.path('dockerd.pid')}",
        ]
        pid = procs.spawn(argv, log)
        info = {"host": host, "started": True, "pid": pid, "marker": "dockerd", "log": str(log)}
        try:
            procs.wait_until(lambda: docker_answers(host), 60, "dockerd to answer")
        except procs.GroundError as err:
            self.stop(info)
            raise procs.GroundError(f"{err}\n{procs.tail(log)}") from err
        return info

    def problem(self, info: Info) -> str | None:
        if info.get("started") and not procs.is_running(info.get("pid"), info["marker"]):
            return "dockerd exited"
        return None if docker_answers(info["host"]) else f"no engine answers at {info['host']}"

    def stop(self, info: Info) -> bool:
        return bool(info.get("started")) and procs.stop(info.get("pid"), info["marker"], 30)

    def env(self, info: Info) -> dict[str, str]:
        return {"DOCKER_HOST": info["host"]}


class Services:
    """moto server, the registry and the local ECR bridge between them.

    They are started and stopped as one: the registry's notifications name the bridge's port,
    the bridge names both others, and moto's state only makes sense with the registry's.
    """

    name = "services"

    def up(self, ctx: Context, current: Info | None) -> Info:
        if current and self.problem(current) is None:
            return current
        if current:
            self.stop(current)
        ensure_debian_packages(ctx, {"docker-registry": "docker-registry"})
        ports = {k: procs.free_port() for k in ("moto", "registry", "debug", "bridge")}
        info: Info = {"ports": ports, "started": True, "pids": {}, "markers": {}}
        try:
            self._start_moto(ctx, info)
            self._start_registry(ctx, info)
            self._start_bridge(ctx, info)
        except Exception:
            self.stop(info)
            raise
        return info

    def _launch(self, ctx: Context, info: Info, name: str, argv: list[str], marker: str) -> Path:
        log = ctx.path(f"{name}.log")
        log.unlink(missing_ok=True)
        env = {**CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "PYTHONPATH": str(REPO_ROOT)}
        info["pids"][name] = procs.spawn(argv, log, env)
        info["markers"][name] = marker
        info.setdefault("logs", {})[name] = str(log)
        return log

    def _start_moto(self, ctx: Context, info: Info) -> None:
        port = info["ports"]["moto"]
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        log = self._launch(ctx, info, "moto", argv, f"moto.server -H 127.0.0.1 -p {port}")
        self._await(health_urls(info["ports"])["moto"], "moto server", log)

    def _start_registry(self, ctx: Context, info: Info) -> None:
        ports = info["ports"]
        data = ctx.path("registry-data")
        shutil.rmtree(data, ignore_errors=True)
        config = ctx.path("registry.yml")
        config.write_text(registry_config(ports["registry"], ports["debug"], ports["bridge"], data))
        argv = ["docker-registry", "serve", str(config)]
        log = self._launch(ctx, info, "registry", argv, str(config))
        self._await(health_urls(ports)["registry"], "registry", log)

    def _start_bridge(self, ctx: Context, info: Info) -> None:
        ports = info["ports"]
        argv = [
            sys.executable, "-m", "proving_ground.ecr_bridge",
            "--port", str(ports["bridge"]),
            "--moto", f"http://127.0.0.1:{ports['moto']}",
            "--registry", f"http://127.0.0.1:{ports['registry']}",
            "--registry-debug", f"http://127.0.0.1:{ports['debug']}",
            "--region", REGION,
        ]  # fmt: skip
        marker = f"proving_ground.ecr_bridge --port {ports['bridge']}"
        log = self._launch(ctx, info, "bridge", argv, marker)
        self._await(health_urls(ports)["bridge"], "local ECR bridge", log)

    def _await(self, url: str, what: str, log: Path) -> None:
        try:
            procs.wait_until(lambda: procs.http_get(url)[0] == 200, 30, f"{what} at {url}")
        except procs.GroundError as err:
            raise procs.GroundError(f"{err}\n{procs.tail(log)}") from err

    def problem(self, info: Info) -> str | None:
        for name, pid in info.get("pids", {}).items():
            if not procs.is_running(pid, info["markers"][name]):
                return f"{name} (pid {pid}) is not running"
        for name, url in health_urls(info["ports"]).items():
            if procs.http_get(url)[0] != 200:
                return f"{name} does not answer at {url}"
        return None

    def stop(self, info: Info) -> bool:
        stopped = False
        for name in ("bridge", "registry", "moto"):
            if name in info.get("pids", {}):
                stopped |= procs.stop(info["pids"][name], info["markers"][name])
        return stopped

    def env(self, info: Info) -> dict[str, str]:
        ports = info["ports"]
        return {
            **CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # localhost, not 127.0.0.1: moto reads http://127.0.0.1:port/bucket/key as bucket "127"
            "AWS_ENDPOINT_URL": f"http://localhost:{ports['moto']}",
            "AWS_ENDPOINT_URL_ECR": f"http://localhost:{ports['bridge']}",
            "HYBRIDLESS_REGISTRY": f"127.0.0.1:{ports['registry']}",
            "HYBRIDLESS_GROUND_REGISTRY_LOG": info["logs"]["registry"],
            "HYBRIDLESS_GROUND_REGISTRY_DEBUG": f"http://127.0.0.1:{ports['debug']}",
        }


def health_urls(ports: dict[str, int]) -> dict[str, str]:
    """Where each service answers 200 once it is ready."""
    return {
        # The dashboard page, not data.json: that one serialises all state and grows slow.
        "moto": f"http://127.0.0.1:{ports['moto']}/moto-api/",
        "registry": f"http://127.0.0.1:{ports['registry']}/v2/",
        "bridge": f"http://127.0.0.1:{ports['bridge']}/health",
    }


def registry_config(port: int, debug_port: int, bridge_port: int, data: Path) -> str:
    return f"""\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {json.dumps(str(data))}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  debug:
    addr: 127.0.0.1:{debug_port}
notifications:
  endpoints:
    - name: {NOTIFICATION_ENDPOINT}
      url: http://127.0.0.1:{bridge_port}/events
      timeout: 10s
      threshold: 5
      backoff: 500ms
      ignoredmediatypes: [application/octet-stream]
      ignore:
        actions: [pull]
"""


class BaseImages:
    """Base images without Docker Hub: a debootstrapped Debian bookworm with Python and Node,
    imported into the engine. The rootfs tarball is cached, so a new engine imports it in seconds.

    The image carries the package list it was made with (`PACKAGES_LABEL`) and the tarball's
    name is derived from it: when `BASE_PACKAGES` changes, an engine's older image counts as a
    problem and `up` imports a new one under the same name, instead of tests meeting an image
    that lacks what they rely on. The older image is left alone: other names may still use it.

    On this machine package downloads go through a TLS proxy whose CA is in the host bundle; the
    bundle is copied into the rootfs so `pip install` works inside builds. That is a property of
    this test environment and stays here, out of any product Dockerfile."""

    name = "base-images"

    def __init__(self, engine_host: str) -> None:
        self.engine_host = engine_host

    def up(self, ctx: Context, current: Info | None) -> Info:
        if current and self.problem(current) is None:
            return current
        client = docker_client(self.engine_host)
        names = [BASE_IMAGE, *BASE_IMAGE_ALIASES]
        stale = _packages_of(client, BASE_IMAGE) != BASE_PACKAGES
        aliases = [name for name in BASE_IMAGE_ALIASES if not _image_exists(client, name)]
        if not stale and not aliases:
            return {"images": names, "started": False, "how": "present"}
        if stale:
            repo, tag = BASE_IMAGE.split(":")
            client.api.import_image_from_file(
                str(self._rootfs_tarball(ctx)),
                repository=repo,
                tag=tag,
                changes=[
                    'CMD ["/bin/bash"]',
                    "ENV LANG=C.UTF-8",
                    f"LABEL {PACKAGES_LABEL}={json.dumps(BASE_PACKAGES)}",
                ],
            )
        image = client.images.get(BASE_IMAGE)
        for alias in aliases:
            image.tag(*alias.split(":"))
        done = ([BASE_IMAGE] if stale else []) + aliases
        return {"images": names, "started": False, "how": f"imported {', '.join(done)}"}

    def _rootfs_tarball(self, ctx: Context) -> Path:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hybridless-ground"
        tarball = cache / rootfs_name(BASE_PACKAGES)
        if tarball.exists():
            return tarball
        ensure_debian_packages(ctx, {"debootstrap": "debootstrap"})
        cache.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=ctx.directory) as tmp:
            rootfs = Path(tmp) / "rootfs"
            ctx.log("debootstrap: building a Debian bookworm rootfs (about a minute, once)")
            result = subprocess.run(
                [
                    "debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                    "bookworm", str(rootfs), "http://deb.debian.org/debian",
                ],
                capture_output=True, text=True,
            )  # fmt: skip
            if result.returncode != 0:
                output = (result.stdout + result.stderr)[-2000:]
                raise procs.GroundError(f"debootstrap failed:\n{output}")
            if HOST_CA_BUNDLE.exists():
                shutil.copy(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
            partial = tarball.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
        ctx.log(f"debootstrap: rootfs cached at {tarball} ({time.monotonic() - started:.0f}s)")
        return tarball

    def problem(self, info: Info) -> str | None:
        if not docker_answers(self.engine_host):
            return f"no engine answers at {self.engine_host}"
        client = docker_client(self.engine_host)
        missing = [name for name in info["images"] if not _image_exists(client, name)]
        if missing:
            return f"missing images: {', '.join(missing)}"
        packages = _packages_of(client, BASE_IMAGE)
        if packages != BASE_PACKAGES:
            return (
                f"{BASE_IMAGE} was made with {packages or 'an older package list'}, not "
                f"{BASE_PACKAGES}: run `make ground-up` to import it again"
            )
        return None

    def stop(self, info: Info) -> bool:
        return False

    def env(self, info: Info) -> dict[str, str]:
        return {"HYBRIDLESS_GROUND_BASE_IMAGE": BASE_IMAGE}


def rootfs_name(packages: str) -> str:
    """The cached tarball's file name, which changes with the package list it holds."""
    return f"debian-bookworm-{hashlib.sha256(packages.encode()).hexdigest()[:12]}.tar"


def _packages_of(client: Any, name: str) -> str | None:
    """The package list an image of this ground was made with; None for any other image."""
    import docker.errors

    try:
        labels = client.images.get(name).labels or {}
    except docker.errors.ImageNotFound:
        return None
    return labels.get(PACKAGES_LABEL)


def _image_exists(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False
