"""The queue worker on ECS (a process event): would fulfil orders from ORDERS_QUEUE."""

import os
import time


def run() -> None:
    while True:
        print(f"fulfilling orders from {os.environ.get('ORDERS_QUEUE')}", flush=True)
        time.sleep(60)
