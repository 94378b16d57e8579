"""One run of the report: reads its kind from the schedule's overrides, and exits."""

import os

if __name__ == "__main__":
    kind = os.environ.get("REPORT_KIND", "ad hoc")
    print(f"writing the {kind} report to {os.environ.get('REPORT_BUCKET')}", flush=True)
