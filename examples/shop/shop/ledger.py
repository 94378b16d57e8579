"""The nightly ledger run (a scheduled ECS task): one pass, then exit."""


def run() -> None:
    print("ledger closed for the day", flush=True)
