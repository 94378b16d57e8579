"""Run by the AWS CLI's own interpreter (`.venv-awscli`): one `aws cloudformation deploy`, timed
from after the CLI's modules are imported to its return, printed as seconds on the last line.

Kept apart from the rest of bench/ because that interpreter has only the CLI installed.
"""

import sys
import time

from awscli.clidriver import create_clidriver

started = time.perf_counter()
status = create_clidriver().main(["cloudformation", "deploy", *sys.argv[1:]])
elapsed = time.perf_counter() - started
sys.stdout.flush()
print(f"{elapsed:.6f}")
sys.exit(status)
