"""Run by the AWS CLI's own interpreter (`.venv-awscli`): one `aws cloudformation deploy`, timed
from after the CLI's modules are imported (`awscli.handlers` included, which building the driver
would otherwise import, timed) to its return, printed as seconds on the last line.

Kept apart from the rest of bench/ because that interpreter has only the CLI installed.
"""

import sys
import time

import awscli.handlers  # noqa: F401  (the driver imports it first thing; ours imports untimed too)
from awscli.clidriver import create_clidriver

started = time.perf_counter()
status = create_clidriver().main(["cloudformation", "deploy", *sys.argv[1:]])
elapsed = time.perf_counter() - started
sys.stdout.flush()
print(f"{elapsed:.6f}")
sys.exit(status)
