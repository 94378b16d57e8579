"""The code both the web service and the Lambda function share."""

import os

TEMPLATE = "Hello, {audience}!"


def greet(name: str | None = None) -> str:
    return TEMPLATE.format(audience=name or os.environ.get("GREETING_AUDIENCE", "world"))
