"""The proving ground: real components to test a deploy tool against, on one machine.

A deploy tool can only be trusted as far as what it was tested against. This package brings up,
on loopback only, the components the tests and the demo use in place of AWS and Docker Hub:

- a Docker engine (one that already answers, or Debian's `dockerd` started without a bridge),
- an OCI registry (Debian's `docker-registry`),
- moto server as the AWS API,
- a local ECR: a small bridge that keeps moto's ECR and the registry telling the same story
  (pushes to the registry appear in ECR with docker's digest; ECR API deletes and tags reach
  the registry),
- local base images made with debootstrap (there is no Docker Hub here).

`python -m proving_ground up|status|env|down|run -- CMD` drives it; state lives in one
directory (`.ground/` beside this package, or `$HYBRIDLESS_GROUND_DIR`) so that a second `up`
reuses what runs and `down` stops only what this ground started. None of this ships with the
product: it is the test environment, kept out of `hybridless/`.
"""
