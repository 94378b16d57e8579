"""A worker loop: the real one would read QUEUE_URL; this one says it is alive."""

import os
import time

if __name__ == "__main__":
    queue = os.environ.get("QUEUE_URL", "(no queue)")
    while True:
        print(f"waiting for work on {queue}", flush=True)
        time.sleep(60)
