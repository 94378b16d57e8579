"""GET /status on the shared load balancer, answered by a zip Lambda function."""

import json
import os


def handler(event, context):
    body = json.dumps({"stage": os.environ.get("STAGE"), "status": "open"})
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}
