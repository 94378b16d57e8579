"""No secret reaches the log, the step's outputs or its summary.

A full deploy of examples/hello as a GitHub step, with distinctive values for everything
secret it touches: the AWS credentials, ECR's registry password (which the tool fetches and
hands to the engine), and environment values the app's config reads with `${env:}`. Each may
appear only inside an `::add-mask::` command, the line that tells the runner to hide it."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import boto3

from tests.integration.hello import App


def _distinctive(label: str) -> str:
    return f"{label}{uuid.uuid4().hex}"


def test_a_deploy_prints_no_secret_outside_its_mask_commands(app: App, tmp_path: Path) -> None:
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIA" + uuid.uuid4().hex[:16].upper(),
        "AWS_SECRET_ACCESS_KEY": _distinctive("leakcheck/secret+key/"),
        "AWS_SESSION_TOKEN": _distinctive("leakcheck-session-token-"),
        "DATABASE_PASSWORD": _distinctive("leakcheck-db-password-"),
        "SENTRY_DSN": "https://" + _distinctive("leakcheck") + "@sentry.example/1",
    }
    config = app.directory / "hybridless.yml"
    config.write_text(
        config.read_text().replace(
            "  environment:\n",
            "  environment:\n"
            "    DATABASE_PASSWORD: ${env:DATABASE_PASSWORD}\n"
            "    SENTRY_DSN: ${env:SENTRY_DSN}\n",
            1,
        )
    )
    output, summary = tmp_path / "github-output", tmp_path / "step-summary"
    output.touch()
    summary.touch()
    app.env.update(secrets)
    app.env.update(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary),
    )

    result = app.deploy()

    assert result.returncode == 0, result.log
    token = boto3.client(
        "ecr",
        aws_access_key_id=secrets["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secrets["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=secrets["AWS_SESSION_TOKEN"],
    ).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().partition(":")[2]
    assert len(password) >= 12, "the registry password must be distinctive to be looked for"
    looked_for = {**secrets, "registry token": token, "registry password": password}

    masked = {line.removeprefix("::add-mask::") for line in result.log.splitlines()
              if line.startswith("::add-mask::")}  # fmt: skip
    for name, value in looked_for.items():
        clear = [
            line for line in result.log.splitlines()
            if value in line and not line.startswith("::add-mask::")
        ]  # fmt: skip
        assert not clear, f"{name} printed in clear: {clear}"
        for where, text in (
            ("the step's outputs", output.read_text()),
            ("the step summary", summary.read_text()),
            ("the outputs file", str(result.outputs)),
        ):
            assert value not in text, f"{name} is in {where}"
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DATABASE_PASSWORD"):
        assert secrets[name] in masked, f"{name} was not masked"
    assert password in masked and token in masked
