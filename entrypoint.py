"""The container's entry point: the GitHub Action, `docker run IMAGE deploy ...`, a GitLab job.

With arguments it is the `hybridless` command (deploy, rollback, remove, ...). Without, on
GitHub Actions, the inputs become the same command line, the `command` input choosing the
subcommand (hybridless/action.py). Either way it first gives up root where the Docker socket
allows (hybridless/privileges.py). Nothing else happens here.
"""

import os
import sys
from pathlib import Path

from hybridless import action, cli, privileges


def main() -> int:
    argv = sys.argv[1:]
    if not argv and action.is_action_run(os.environ):
        try:
            argv = action.argv_from_inputs(os.environ)
        except action.InputError as err:
            print(f"error: {err}", flush=True)
            return err.exit_code
    workdir = Path(os.environ.get(action.variable("working-directory")) or ".")
    if "--working-directory" in argv[:-1]:
        workdir = Path(argv[argv.index("--working-directory") + 1])
    print(privileges.drop(os.environ, workdir.resolve()), flush=True)
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
