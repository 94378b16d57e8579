"""Which AWS identity a deploy acts as: session tags and names, the OIDC token's claims, how a
refusal is explained, and `assume()` against a fake STS (and a local OIDC token service)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from hybridless.credentials import (
    AUDIENCE,
    Identity,
    assume,
    explain_refusal,
    has_github_oidc,
    secrets_in,
    session_name,
    session_tags,
    token_claims,
)
from hybridless.errors import PhaseError
from tests.support import OidcTokenService

ROLE = "arn:aws:iam::123456789012:role/deployer"
ASSUMED_ARN = "arn:aws:sts::123456789012:assumed-role/deployer/hybridless-42"
SESSION_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]{2,64}$")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]*$")
GITHUB = {
    "GITHUB_REPOSITORY": "octo/hello",
    "GITHUB_WORKFLOW": "deploy",
    "GITHUB_SHA": "0123456789abcdef",
}
GITLAB = {
    "CI_PROJECT_PATH": "group/project",
    "CI_COMMIT_SHA": "fedcba9876543210",
    "CI_JOB_NAME": "deploy-job",
}
CLAIMS = {"sub": "repo:octo/hello:ref:refs/heads/main", "repository": "octo/hello"}


def jwt(payload: Any) -> str:
    def part(data: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


class FakeSts:
    """Records each call's arguments; answers with fixed credentials, or raises `error`."""

    def __init__(self, error: ClientError | None = None) -> None:
        self.error = error
        self.assume_role_calls: list[dict[str, Any]] = []
        self.web_identity_calls: list[dict[str, Any]] = []

    def _answer(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE",
                "SecretAccessKey": "secret",
                "SessionToken": "session-token",
            },
            "AssumedRoleUser": {"Arn": ASSUMED_ARN},
        }

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.assume_role_calls.append(kwargs)
        return self._answer()

    def assume_role_with_web_identity(self, **kwargs: Any) -> dict[str, Any]:
        self.web_identity_calls.append(kwargs)
        return self._answer()


def access_denied() -> ClientError:
    return ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole"
    )


@pytest.fixture
def local_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token service is on 127.0.0.1: keep any proxy of the environment out of the way."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# --- session_tags -----------------------------------------------------------------------------


def test_github_variables_give_repository_workflow_and_commit() -> None:
    assert session_tags(GITHUB) == [
        {"Key": "Repository", "Value": "octo/hello"},
        {"Key": "Workflow", "Value": "deploy"},
        {"Key": "Commit", "Value": "0123456789abcdef"},
    ]


def test_gitlab_variables_are_used_without_github_ones() -> None:
    tags = {tag["Key"]: tag["Value"] for tag in session_tags(GITLAB)}

    assert tags == {
        "Repository": "group/project",
        "Commit": "fedcba9876543210",
        "Workflow": "deploy-job",
    }


def test_github_variables_win_over_gitlab_ones() -> None:
    tags = session_tags({**GITLAB, **GITHUB})

    assert {tag["Key"]: tag["Value"] for tag in tags} == {
        "Repository": "octo/hello",
        "Workflow": "deploy",
        "Commit": "0123456789abcdef",
    }
    assert len(tags) == 3


def test_an_empty_github_variable_falls_back_to_gitlab() -> None:
    tags = session_tags({"GITHUB_REPOSITORY": "", "CI_PROJECT_PATH": "group/project"})

    assert tags == [{"Key": "Repository", "Value": "group/project"}]


def test_no_ci_variables_give_no_tags() -> None:
    assert session_tags({"PATH": "/bin"}) == []


def test_characters_iam_refuses_are_replaced_in_tag_values() -> None:
    tags = session_tags({"GITHUB_WORKFLOW": "Build & deploy (prod) #1 <main>; 'x'"})

    value = tags[0]["Value"]
    assert TAG_VALUE.match(value)
    assert value == "Build _ deploy _prod_ _1 _main__ _x_"


def test_characters_iam_accepts_are_kept_in_tag_values() -> None:
    value = "deploy prod: a/b=c+d-e@f_g.h"

    assert session_tags({"GITHUB_WORKFLOW": value}) == [{"Key": "Workflow", "Value": value}]


def test_tag_values_are_capped_at_256_characters() -> None:
    tags = session_tags({"GITHUB_WORKFLOW": "w" * 300})

    assert tags == [{"Key": "Workflow", "Value": "w" * 256}]


# --- session_name -----------------------------------------------------------------------------


def test_the_default_session_name_includes_the_run_id() -> None:
    assert session_name(None, {"GITHUB_RUN_ID": "987654"}) == "hybridless-987654"


def test_without_a_run_id_the_default_session_name_is_fixed() -> None:
    assert session_name(None, {}) == "hybridless-deploy"


def test_a_requested_session_name_is_used() -> None:
    assert session_name("release-1", {"GITHUB_RUN_ID": "987654"}) == "release-1"


def test_disallowed_session_name_characters_are_replaced() -> None:
    assert session_name("my deploy/#1:x", {}) == "my-deploy--1-x"


def test_allowed_session_name_characters_are_kept() -> None:
    assert session_name("a_b+c=d,e.f@g-h", {}) == "a_b+c=d,e.f@g-h"


def test_a_session_name_is_at_most_64_characters() -> None:
    name = session_name("n" * 100, {})

    assert name == "n" * 64


def test_a_session_name_of_one_character_falls_back_to_the_default() -> None:
    assert session_name("x", {}) == "hybridless-deploy"


def test_a_long_run_id_still_gives_a_valid_session_name() -> None:
    assert SESSION_NAME.match(session_name(None, {"GITHUB_RUN_ID": "9" * 80}))


def test_a_session_name_holds_only_the_ascii_characters_sts_accepts() -> None:
    # STS checks RoleSessionName against [\w+=,.@-]* with \w meaning [A-Za-z0-9_].
    assert SESSION_NAME.match(session_name("déploy-ü", {}))


# --- token_claims -----------------------------------------------------------------------------


def test_token_claims_decode_the_payload_without_padding() -> None:
    claims = {"sub": "repo:octo/hello:ref:refs/heads/main", "aud": AUDIENCE, "n": "x"}
    token = jwt(claims)
    assert "=" not in token

    assert token_claims(token) == claims


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_token_claims_decode_every_padding_length(length: int) -> None:
    claims = {"sub": "s" * length}

    assert token_claims(jwt(claims)) == claims


@pytest.mark.parametrize(
    "token", ["", "garbage", "a.b.c", "a.!!!!.c", "a.bm90IGpzb24.c", "a.w6k.c", "a..c"]
)
def test_token_claims_of_garbage_are_empty(token: str) -> None:
    assert token_claims(token) == {}


@pytest.mark.parametrize("payload", [5, [1, 2], None, "text"])
def test_token_claims_of_a_payload_that_is_not_an_object_are_empty(payload: Any) -> None:
    assert token_claims(jwt(payload)) == {}


# --- explain_refusal --------------------------------------------------------------------------


def test_a_missing_provider_is_explained_as_such() -> None:
    text = explain_refusal(
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://token.actions...",
        ROLE,
        CLAIMS,
    )

    assert ROLE in text
    assert "InvalidIdentityToken" in text
    assert "no OIDC identity provider" in text
    assert "token.actions.githubusercontent.com" in text


def test_a_refusal_with_claims_quotes_the_subject_and_the_audience_condition() -> None:
    text = explain_refusal("AccessDenied", "Not authorized", ROLE, CLAIMS)

    assert "AccessDenied: Not authorized" in text
    assert repr(CLAIMS["sub"]) in text
    assert "token.actions.githubusercontent.com:aud" in text
    assert AUDIENCE in text
    assert "sts:AssumeRoleWithWebIdentity" in text


def test_an_invalid_token_without_provider_in_the_message_uses_the_claims() -> None:
    text = explain_refusal("InvalidIdentityToken", "Incorrect token audience", ROLE, CLAIMS)

    assert "no OIDC identity provider" not in text
    assert repr(CLAIMS["sub"]) in text


def test_a_refusal_without_claims_mentions_tag_session() -> None:
    text = explain_refusal("AccessDenied", "not authorized", ROLE, {})

    assert f"assume {ROLE}: AccessDenied: not authorized" in text
    assert "sts:TagSession" in text
    assert "sts:AssumeRole" in text


# --- has_github_oidc --------------------------------------------------------------------------


def test_both_token_variables_mean_github_oidc() -> None:
    assert has_github_oidc(
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
    )


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"},
        {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"},
        {"ACTIONS_ID_TOKEN_REQUEST_URL": "", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"},
    ],
)
def test_a_missing_or_empty_token_variable_means_no_github_oidc(environ: dict[str, str]) -> None:
    assert not has_github_oidc(environ)


# --- assume: AssumeRole -----------------------------------------------------------------------


def test_without_oidc_assume_role_is_called_with_session_tags() -> None:
    sts = FakeSts()
    environ = {**GITHUB, "GITHUB_RUN_ID": "42"}

    identity, token = assume(sts, ROLE, None, environ)

    assert sts.web_identity_calls == []
    assert sts.assume_role_calls == [
        {
            "RoleArn": ROLE,
            "RoleSessionName": "hybridless-42",
            "Tags": session_tags(environ),
            "DurationSeconds": 3600,
        }
    ]
    assert identity == Identity(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret",
        session_token="session-token",
        arn=ASSUMED_ARN,
        how="AssumeRole",
    )
    assert token == ""


def test_assume_role_uses_the_requested_session_name() -> None:
    sts = FakeSts()

    assume(sts, ROLE, "release", {})

    assert sts.assume_role_calls[0]["RoleSessionName"] == "release"


def test_on_github_with_static_keys_assume_role_is_used() -> None:
    sts = FakeSts()

    identity, _ = assume(sts, ROLE, None, {"GITHUB_ACTIONS": "true", "AWS_ACCESS_KEY_ID": "AKIA"})

    assert identity.how == "AssumeRole"
    assert len(sts.assume_role_calls) == 1


@pytest.mark.parametrize(
    "role",
    [
        "deployer",
        "arn:aws:iam::123456789012:user/deployer",
        "arn:aws:iam::1234:role/deployer",
        "arn:aws:s3:::bucket",
        "",
    ],
)
def test_a_role_that_is_not_an_iam_role_arn_is_refused_before_any_call(role: str) -> None:
    sts = FakeSts()

    with pytest.raises(PhaseError) as error:
        assume(sts, role, None, {})

    assert error.value.phase == "credentials"
    assert "not an IAM role ARN" in str(error.value)
    assert sts.assume_role_calls == []
    assert sts.web_identity_calls == []


def test_a_role_arn_of_another_partition_is_accepted() -> None:
    sts = FakeSts()

    assume(sts, "arn:aws-us-gov:iam::123456789012:role/path/deployer", None, {})

    assert len(sts.assume_role_calls) == 1


def test_on_github_without_oidc_or_keys_it_asks_for_the_id_token_permission() -> None:
    sts = FakeSts()

    with pytest.raises(PhaseError) as error:
        assume(sts, ROLE, None, {"GITHUB_ACTIONS": "true", **GITHUB})

    assert error.value.phase == "credentials"
    assert "permissions: id-token: write" in str(error.value)
    assert sts.assume_role_calls == []


def test_a_refusal_from_assume_role_is_explained_by_the_trust_policy() -> None:
    sts = FakeSts(error=access_denied())

    with pytest.raises(PhaseError) as error:
        assume(sts, ROLE, None, GITHUB)

    message = str(error.value)
    assert error.value.phase == "credentials"
    assert "AccessDenied: not authorized" in message
    assert "trust policy" in message
    assert "sts:TagSession" in message


# --- assume: GitHub OIDC ----------------------------------------------------------------------


@pytest.mark.usefixtures("local_requests")
def test_with_oidc_the_token_is_fetched_and_exchanged() -> None:
    service = OidcTokenService(CLAIMS)
    try:
        sts = FakeSts()
        environ = {**service.env(), "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42", **GITHUB}

        identity, token = assume(sts, ROLE, None, environ)

        assert service.requests == [
            {"audience": AUDIENCE, "authorization": f"Bearer {service.request_token}"}
        ]
        assert token
        assert token_claims(token) == {**CLAIMS, "aud": AUDIENCE}
        assert sts.assume_role_calls == []
        assert sts.web_identity_calls == [
            {
                "RoleArn": ROLE,
                "RoleSessionName": "hybridless-42",
                "WebIdentityToken": token,
                "DurationSeconds": 3600,
            }
        ]
        assert identity.how == "GitHub OIDC"
        assert identity.arn == ASSUMED_ARN
    finally:
        service.close()


@pytest.mark.usefixtures("local_requests")
def test_a_refusal_of_the_oidc_token_quotes_its_subject() -> None:
    service = OidcTokenService(CLAIMS)
    try:
        refusal = ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "Not authorized"}},
            "AssumeRoleWithWebIdentity",
        )
        sts = FakeSts(error=refusal)

        with pytest.raises(PhaseError) as error:
            assume(sts, ROLE, None, service.env())

        message = str(error.value)
        assert repr(CLAIMS["sub"]) in message
        assert AUDIENCE in message
        assert service.request_token not in message
    finally:
        service.close()


@pytest.mark.usefixtures("local_requests")
def test_a_wrong_request_token_gives_the_status_of_the_token_service() -> None:
    service = OidcTokenService(CLAIMS)
    try:
        sts = FakeSts()
        environ = {**service.env(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"}

        with pytest.raises(PhaseError) as error:
            assume(sts, ROLE, None, environ)

        assert error.value.phase == "credentials"
        assert "401" in str(error.value)
        assert "OIDC token service" in str(error.value)
        assert sts.web_identity_calls == []
        assert service.requests[0]["authorization"] == "Bearer wrong"
    finally:
        service.close()


@pytest.mark.usefixtures("local_requests")
def test_an_unreachable_token_service_is_a_phase_error() -> None:
    service = OidcTokenService(CLAIMS)
    environ = service.env()
    service.close()
    sts = FakeSts()

    with pytest.raises(PhaseError) as error:
        assume(sts, ROLE, None, environ)

    assert "cannot reach GitHub's OIDC token service" in str(error.value)
    assert sts.web_identity_calls == []


def test_credentials_and_values_named_like_secrets_are_the_ones_masked() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE12",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEXAMPLE",
        "DATABASE_PASSWORD": "correct horse battery",
        "stripe_api_key": "sk_live_abcdefgh",
        "NPM_TOKEN": "npm_abcdefghijk",
        "GITHUB_TOKEN": "short",  # under eight characters: masking it would garble the log
        "AWS_REGION": "eu-west-1",
        "GREETING": "hello there, world",
    }
    assert secrets_in(environ) == sorted(
        [
            "AKIAEXAMPLEEXAMPLE12",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "IQoJb3JpZ2luX2VjEXAMPLE",
            "correct horse battery",
            "sk_live_abcdefgh",
            "npm_abcdefghijk",
        ]
    )
