"""Handles resize jobs from the queue; the sizes are computed, the imaging left out."""

import json
import os


def fit(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return round(width * scale), round(height * scale)


def handler(event, context):
    side = int(os.environ.get("MAX_SIDE", "512"))
    done = []
    for record in event.get("Records", []):
        job = json.loads(record["body"])
        done.append(fit(job["width"], job["height"], side))
    return {"resized": done}


def preview(event, context):
    """GET /preview?w=..&h=..: the size a picture would get, over the HTTP API."""
    query = event.get("queryStringParameters") or {}
    width, height = fit(int(query.get("w", 1024)), int(query.get("h", 768)), 512)
    body = json.dumps({"width": width, "height": height})
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}
