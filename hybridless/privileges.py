"""Give up root when the Docker socket allows it.

The image starts as root because GitHub runs container actions as root and mounts the
workspace and the runner's files for root; a `USER` line would lock the action out of them.
But a deploy needs root only to reach the Docker socket, and a socket owned by a group (the
usual `docker` group) can be reached without it. So, before anything else runs, a child process
tries the unprivileged user with that group: if it can use the socket, read the whole working
tree and write where results go, the process switches to that user; otherwise it stays root and
says why. Checking by trying, not by reading permission bits, gets ACLs and root-squashed mounts
right too.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping, Sequence
from pathlib import Path

USER = "hybridless"
DEFAULT_SOCKET = "/var/run/docker.sock"
MAX_ENTRIES = 50_000
SKIPPED_DIRECTORIES = {".git", "node_modules", ".venv", "__pycache__"}


def docker_socket(environ: Mapping[str, str]) -> Path | None:
    """The socket's path, or None when the engine is reached over the network."""
    host = environ.get("DOCKER_HOST", f"unix://{DEFAULT_SOCKET}")
    return Path(host.removeprefix("unix://")) if host.startswith("unix://") else None


def _tree_is_readable(root: Path) -> bool:
    seen = 0
    for directory, subdirectories, files in os.walk(root):
        if not os.access(directory, os.R_OK | os.X_OK):
            return False
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES]
        for name in files:
            seen += 1
            if seen > MAX_ENTRIES:
                return False
            path = os.path.join(directory, name)
            if not os.path.islink(path) and not os.access(path, os.R_OK):
                return False
    return True


REFUSALS = {
    1: "it could not use the Docker socket",
    2: "it could not read {workdir} or write in it",
    3: "it could not write the step's output files",
}


def _refusal(socket: Path | None, workdir: Path, outputs: Sequence[Path]) -> int:
    """0 when the current user can do the deploy's work, else the key of what stops it."""
    if socket is not None and not os.access(socket, os.R_OK | os.W_OK):
        return 1
    if not os.access(workdir, os.W_OK) or not _tree_is_readable(workdir):
        return 2
    return 0 if all(os.access(path, os.W_OK) for path in outputs) else 3


def _become(user: pwd.struct_passwd, groups: list[int]) -> None:
    os.setgroups(groups)
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def drop(environ: Mapping[str, str], workdir: Path) -> str:
    """Switch to the unprivileged user if everything the deploy touches allows it; returns the
    line telling the user which it was."""
    if os.geteuid() != 0:
        return f"running as uid {os.geteuid()}"
    try:
        user = pwd.getpwnam(USER)
    except KeyError:
        return f"running as root: this image has no user {USER}"
    socket = docker_socket(environ)
    groups: list[int] = []
    if socket is not None:
        try:
            group = socket.stat().st_gid
        except OSError:
            return f"running as root: no Docker socket at {socket}"
        if group == 0:
            return f"running as root: the Docker socket {socket} belongs to group root"
        groups = [group]
    outputs = [
        Path(environ[name])
        for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
        if environ.get(name)
    ]
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, reported through its exit status
        try:
            _become(user, groups)
            os._exit(_refusal(socket, workdir, outputs))
        except BaseException:
            os._exit(99)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        reason = REFUSALS.get(code, "switching users failed").format(workdir=workdir)
        return f"running as root: the unprivileged user {USER} was tried, and {reason}"
    _become(user, groups)
    os.environ["HOME"] = user.pw_dir
    group_note = f" and the Docker socket's group {groups[0]}" if groups else ""
    return f"running as user {USER} (uid {user.pw_uid}){group_note}"
