"""The Lambda function: returns the greeting for an optional name in the event."""

from greeting import greet


def handler(event: dict, context: object) -> dict:
    return {"message": greet((event or {}).get("name"))}
