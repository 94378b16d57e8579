"""Receives SNS messages and says where it would post them."""

import os


def handler(event, context):
    records = event.get("Records", [])
    for record in records:
        print(f"to {os.environ.get('CHANNEL')}: {record['Sns']['Message']}")
    return {"delivered": len(records)}
