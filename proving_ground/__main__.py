"""`python -m proving_ground up|status|env|down|run -- CMD`

`up` prints the endpoints as `export` lines on stdout (progress goes to stderr), so
`eval "$(python -m proving_ground up)"` points a shell at the ground. `run` brings the ground
up, runs CMD with those variables, and stops what it started for the occasion.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys

from proving_ground.ground import ORDER, Ground
from proving_ground.procs import GroundError


def exports(env: dict[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in sorted(env.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proving_ground")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring every component up (reusing what runs)")
    run = sub.add_parser("run", help="up, run a command in the ground's environment, then stop")
    for p in (up, run):
        p.add_argument("--without", action="append", default=[], choices=ORDER)
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("status", help="report each component; exit 1 unless all are healthy")
    sub.add_parser("env", help="print the endpoints as export lines")
    sub.add_parser("down", help="stop what this ground started")
    args = parser.parse_args(argv)
    ground = Ground()

    try:
        if args.command == "up":
            ground.up(tuple(args.without))
            sys.stdout.write(exports(ground.env()))
            return 0
        if args.command == "run":
            return run_command(ground, tuple(args.without), args.cmd)
    except GroundError as err:
        print(f"proving ground: {err}", file=sys.stderr)
        return 1

    if args.command == "status":
        healthy = True
        for name, problem in ground.status():
            healthy &= problem is None
            print(f"{name:12} {'ok' if problem is None else problem}")
        for key, value in sorted(ground.env().items()):
            print(f"  {key}={value}")
        return 0 if healthy else 1
    if args.command == "env":
        env = ground.env()
        if not env:
            print("proving ground: not up (python -m proving_ground up)", file=sys.stderr)
            return 1
        sys.stdout.write(exports(env))
        return 0
    stopped = ground.down()
    print(f"stopped: {', '.join(stopped) or 'nothing (none was started by this ground)'}")
    return 0


def run_command(ground: Ground, without: tuple[str, ...], cmd: list[str]) -> int:
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd:
        print("proving ground: run needs a command after --", file=sys.stderr)
        return 2
    # A CI timeout sends SIGTERM: turn it into an exit that runs the `finally` below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = ground.up(without)
    proc = None
    try:
        proc = subprocess.Popen(cmd, env={**os.environ, **ground.env()})
        return proc.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stopped = ground.down(only=started)
        if stopped:
            print(f"[ground] stopped what this run started: {', '.join(stopped)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
