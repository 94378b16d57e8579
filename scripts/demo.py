"""`make demo`: what the demo shows today.

The demo's main job, a real deploy of examples/hello against the proving ground, arrives with
the `hybridless deploy` command. Until then it proves the ground it will run on is real and
says what the deploy will do there.
"""

from __future__ import annotations

import os

from proving_ground.ground import Ground

PHASES = (
    ("build", "docker builds each image of examples/hello on the local engine"),
    ("push", "ECR repositories ensured, images pushed under one unique tag per deploy"),
    ("package", "template and artifacts uploaded to the deployment bucket (moto S3)"),
    ("validate", "ValidateTemplate and cfn-lint"),
    ("update", "a change set created, shown, executed; stack events streamed; outputs read"),
    ("cleanup", "ECR left holding only the deployed images"),
)


def main() -> int:
    print("The proving ground is up:")
    for name, problem in Ground().status():
        print(f"  {name:12} {problem or 'ok'}")
    for key in ("DOCKER_HOST", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "HYBRIDLESS_REGISTRY"):
        print(f"  {key}={os.environ.get(key, '')}")
    print("\n`hybridless deploy` is not built yet. Once it is, this demo deploys examples/hello")
    print("twice (the second time after a code change) through these phases:")
    for phase, what in PHASES:
        print(f"  {phase:9} {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
