"""Which AWS identity a deploy acts as.

Without `role-to-assume` the SDK's own chain is used as it is (environment, profile, instance or
task role). With it:

- on GitHub Actions with `permissions: id-token: write`, the runner's OIDC token is fetched and
  exchanged with `AssumeRoleWithWebIdentity`: no long-lived key is stored anywhere. That call
  takes no session tags; the token's own claims (`repository`, `workflow`, `sha`, `ref`) are what
  the role's trust policy can test.
- otherwise the current credentials call `AssumeRole`, with session tags naming the repository,
  workflow and commit, so CloudTrail shows which run did what (the trust policy must allow
  `sts:TagSession`).

Failures are explained in terms of the trust policy, the usual cause, with the token's subject
so the user can compare it with their `sub` condition.

Before anything is printed, the values of the environment that are credentials (the AWS keys)
or are named like secrets (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*API_KEY*`, ...) are masked:
the runner hides secrets it was given, but not a key a script exported, nor a value built from
one. Values shorter than eight characters are left alone: masking `true` or `1` would garble
every line that contains them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hybridless.errors import PhaseError

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE
)
SHORTEST_SECRET = 8
AUDIENCE = "sts.amazonaws.com"
TOKEN_TIMEOUT_SECONDS = 30
SESSION_TAGS = (
    ("Repository", "GITHUB_REPOSITORY"),
    ("Workflow", "GITHUB_WORKFLOW"),
    ("Commit", "GITHUB_SHA"),
    ("Repository", "CI_PROJECT_PATH"),
    ("Commit", "CI_COMMIT_SHA"),
    ("Workflow", "CI_JOB_NAME"),
)
ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def secrets_in(environ: Mapping[str, str]) -> list[str]:
    """The values of `environ` to mask: credentials and whatever is named like a secret."""
    return sorted(
        {
            value
            for name, value in environ.items()
            if SECRET_NAME.search(name) and len(value.strip()) >= SHORTEST_SECRET
        }
    )


@dataclass(frozen=True)
class Identity:
    access_key_id: str
    secret_access_key: str
    session_token: str
    arn: str
    how: str


def session_tags(environ: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags for `AssumeRole`: the run's repository, workflow and commit, each once, in the
    characters and length IAM accepts."""
    tags: dict[str, str] = {}
    for key, variable in SESSION_TAGS:
        value = environ.get(variable, "")
        if value and key not in tags:
            tags[key] = re.sub(r"[^\w .:/=+\-@]", "_", value, flags=re.ASCII)[:256]
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def session_name(requested: str | None, environ: Mapping[str, str]) -> str:
    """2 to 64 characters of `[\\w+=,.@-]`."""
    name = requested or f"hybridless-{environ.get('GITHUB_RUN_ID') or 'deploy'}"
    name = re.sub(r"[^\w+=,.@-]", "-", name, flags=re.ASCII)[:64]
    return name if len(name) >= 2 else "hybridless-deploy"


def token_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified: only to explain a refusal, never to decide anything."""
    try:
        payload = token.split(".")[1]
        padded = payload + "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (IndexError, ValueError):
        return {}
    return dict(claims) if isinstance(claims, dict) else {}


def explain_refusal(code: str, message: str, role: str, claims: Mapping[str, Any]) -> str:
    """What to check when STS says no, for the cases people actually hit."""
    subject = claims.get("sub")
    lines = [f"STS refused to let this run assume {role}: {code}: {message}"]
    if code == "InvalidIdentityToken" and "provider" in message.lower():
        lines.append(
            "the account has no OIDC identity provider for token.actions.githubusercontent.com "
            "(audience sts.amazonaws.com): create it in IAM first"
        )
    elif claims:
        lines.append(
            "check the role's trust policy: Principal.Federated must be the account's "
            "token.actions.githubusercontent.com provider, Action "
            "sts:AssumeRoleWithWebIdentity, 'token.actions.githubusercontent.com:aud' must be "
            f"{AUDIENCE}, and 'token.actions.githubusercontent.com:sub' must match "
            f"{subject!r} (use StringLike for wildcards such as repo:OWNER/REPO:*)"
        )
    else:
        lines.append(
            "check the role's trust policy: it must allow the current identity "
            "sts:AssumeRole and sts:TagSession (session tags name the repository, workflow and "
            "commit)"
        )
    return "\n".join(lines)


def fetch_github_token(environ: Mapping[str, str]) -> str:
    """The runner's OIDC token for STS; needs `permissions: id-token: write` in the workflow."""
    import requests

    url = environ["ACTIONS_ID_TOKEN_REQUEST_URL"]
    separator = "&" if "?" in url else "?"
    try:
        response = requests.get(
            f"{url}{separator}audience={AUDIENCE}",
            headers={"Authorization": f"Bearer {environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
            timeout=TOKEN_TIMEOUT_SECONDS,
        )
    except requests.RequestException as err:
        raise PhaseError(
            "credentials", f"cannot reach GitHub's OIDC token service: {err}"
        ) from None
    value = response.json().get("value") if response.ok else None
    if not value:
        raise PhaseError(
            "credentials",
            f"GitHub's OIDC token service answered {response.status_code} without a token",
        )
    return str(value)


def has_github_oidc(environ: Mapping[str, str]) -> bool:
    return bool(
        environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        and environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    )


def assume(
    sts: Any, role: str, requested_name: str | None, environ: Mapping[str, str]
) -> tuple[Identity, str]:
    """Assume `role`; returns the identity and the token to mask (empty without OIDC)."""
    if not ROLE_ARN.match(role):
        raise PhaseError(
            "credentials",
            f"role-to-assume {role!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
        )
    name = session_name(requested_name, environ)
    token = ""
    claims: dict[str, Any] = {}
    try:
        if has_github_oidc(environ):
            token = fetch_github_token(environ)
            claims = token_claims(token)
            answer = sts.assume_role_with_web_identity(
                RoleArn=role, RoleSessionName=name, WebIdentityToken=token, DurationSeconds=3600
            )
            how = "GitHub OIDC"
        else:
            if environ.get("GITHUB_ACTIONS") == "true" and not _has_static_credentials(environ):
                raise PhaseError(
                    "credentials",
                    f"role-to-assume {role} needs GitHub's OIDC token, and this job has none: "
                    "add `permissions: id-token: write` to the job (or the workflow)",
                )
            answer = sts.assume_role(
                RoleArn=role,
                RoleSessionName=name,
                Tags=session_tags(environ),
                DurationSeconds=3600,
            )
            how = "AssumeRole"
    except ClientError as err:
        error = err.response.get("Error", {})
        raise PhaseError(
            "credentials",
            explain_refusal(
                str(error.get("Code", "")), str(error.get("Message", "")), role, claims
            ),
        ) from None
    keys = answer["Credentials"]
    identity = Identity(
        access_key_id=keys["AccessKeyId"],
        secret_access_key=keys["SecretAccessKey"],
        session_token=keys["SessionToken"],
        arn=str(answer.get("AssumedRoleUser", {}).get("Arn", role)),
        how=how,
    )
    return identity, token


def _has_static_credentials(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_PROFILE"))
