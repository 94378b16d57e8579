"""A Hybridless plugin user's serverless.yml loads as it is, with one notice per ignored key."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from hybridless.config import load_app, load_app_with_notices
from hybridless.config.loader import Document, load_document, lookup, parse_document
from hybridless.config.serverless import (
    IGNORED,
    is_serverless_config,
    strip_serverless_keys,
)
from hybridless.config.variables import resolve_variables
from hybridless.errors import ConfigError, Problem
from hybridless.model import LambdaContainerEvent, Overrides

ENVIRON = {"AWS_REGION": "eu-west-1"}

SERVERLESS_YML = """\
service: shop
frameworkVersion: '3'
plugins:
  - '@hybridless/hybridless'
  - serverless-prune-plugin
custom:
  stage: ${opt:stage, 'dev'}
  dbPassword: ${ssm:/shop/db-password}
  memory: 2048
package:
  individually: true
provider:
  name: aws
  runtime: nodejs18.x
  profile: shop-admin
  region: eu-west-1
  stage: ${self:custom.stage}
  iamRoleStatements:
    - Effect: Allow
      Action: [sqs:SendMessage]
      Resource: '*'
hybridless:
  functions:
    Worker:
      memory: ${self:custom.memory}
      events:
        - eventType: lambdaContainer
          runtime: container
          dockerFile: Dockerfile
"""


def write(directory: Path, name: str, text: str) -> Path:
    (directory / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    path = directory / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def strip(text: str, file: str = "serverless.yml") -> tuple[Document, list[str]]:
    doc, notices = strip_serverless_keys(parse_document(dedent(text), file))
    return doc, [str(n) for n in notices]


def test_a_hybridless_users_serverless_yml_loads_with_one_notice_per_ignored_key(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "serverless.yml", SERVERLESS_YML)

    app, notices = load_app_with_notices(path, Overrides(), ENVIRON)

    assert app.service == "shop"
    assert app.stage == "dev"
    [event] = app.events
    assert isinstance(event, LambdaContainerEvent)
    assert event.memory == 2048
    file = str(path)
    assert notices == [
        Problem(file, 2, "frameworkVersion", IGNORED),
        Problem(file, 3, "plugins", IGNORED),
        Problem(
            file,
            6,
            "custom",
            IGNORED + " (a ${self:custom...} variable in a kept key still reads it)",
        ),
        Problem(file, 10, "package", IGNORED),
        Problem(file, 13, "provider.name", IGNORED),
        Problem(file, 14, "provider.runtime", IGNORED),
        Problem(
            file,
            15,
            "provider.profile",
            IGNORED + "; credentials come from AWS_PROFILE and the other usual AWS sources",
        ),
        Problem(
            file,
            18,
            "provider.iamRoleStatements",
            "is the old Serverless Framework form; it is used as provider.iam.role.statements",
        ),
    ]
    assert str(notices[0]) == f"{file}:2: frameworkVersion: {IGNORED}"


def test_load_app_still_returns_only_the_app(tmp_path: Path) -> None:
    path = write(tmp_path, "serverless.yml", SERVERLESS_YML)

    assert load_app(path, Overrides(), ENVIRON).service == "shop"


def test_iam_role_statements_become_provider_iam_role_statements() -> None:
    doc, notices = strip(
        """\
        service: shop
        provider:
          name: aws
          iamRoleStatements:
            - Effect: Allow
              Action: [s3:GetObject]
              Resource: arn:aws:s3:::bucket/*
        """
    )

    assert doc.data["provider"] == {
        "iam": {
            "role": {
                "statements": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": "arn:aws:s3:::bucket/*",
                    }
                ]
            }
        }
    }
    # The lines are those of where the statements are written.
    assert doc.line(("provider", "iam", "role", "statements")) == 4
    assert doc.line(("provider", "iam", "role", "statements", 0, "Action")) == 6
    assert doc.line(("provider", "iam", "role", "statements", 0, "Resource")) == 7
    assert ("provider", "iamRoleStatements") not in doc.lines
    assert notices == [
        "serverless.yml:3: provider.name: " + IGNORED,
        "serverless.yml:4: provider.iamRoleStatements: is the old Serverless Framework form; "
        "it is used as provider.iam.role.statements",
    ]


def test_old_statements_follow_those_of_the_new_form_and_managed_policies_move_too() -> None:
    doc, notices = strip(
        """\
        service: shop
        provider:
          iam:
            role:
              statements:
                - {Effect: Allow, Action: [sqs:*], Resource: '*'}
          iamRoleStatements:
            - {Effect: Allow, Action: [sns:*], Resource: '*'}
          iamManagedPolicies:
            - arn:aws:iam::aws:policy/ReadOnlyAccess
        """
    )

    role = doc.data["provider"]["iam"]["role"]
    assert [s["Action"] for s in role["statements"]] == [["sqs:*"], ["sns:*"]]
    assert role["managedPolicies"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert doc.line(("provider", "iam", "role", "statements", 0)) == 6
    assert doc.line(("provider", "iam", "role", "statements", 1)) == 8
    assert doc.line(("provider", "iam", "role", "managedPolicies", 0)) == 10
    assert notices == [
        "serverless.yml:7: provider.iamRoleStatements: is the old Serverless Framework form; "
        "it is used as provider.iam.role.statements, after the ones "
        "provider.iam.role.statements already has",
        "serverless.yml:9: provider.iamManagedPolicies: is the old Serverless Framework form; "
        "it is used as provider.iam.role.managedPolicies",
    ]


def test_statements_for_an_existing_role_are_ignored_as_serverless_ignores_them() -> None:
    doc, notices = strip(
        """\
        service: shop
        provider:
          role: arn:aws:iam::123456789012:role/existing
          iamRoleStatements:
            - {Effect: Allow, Action: [sns:*], Resource: '*'}
        """
    )

    assert doc.data["provider"] == {"iam": {"role": "arn:aws:iam::123456789012:role/existing"}}
    assert doc.line(("provider", "iam", "role")) == 3
    assert notices == [
        "serverless.yml:3: provider.role: is the old Serverless Framework form; it is used as "
        "provider.iam.role",
        "serverless.yml:4: provider.iamRoleStatements: is ignored: provider.iam.role names an "
        "existing role, and the Serverless Framework does not add to it either",
    ]


def test_stack_tags_merge_into_tags_and_tags_win() -> None:
    doc, notices = strip(
        """\
        service: shop
        provider:
          tags:
            team: payments
          stackTags:
            team: ignored
            costCenter: cc-1
        """
    )

    assert doc.data["provider"]["tags"] == {"team": "payments", "costCenter": "cc-1"}
    assert doc.line(("provider", "tags", "team")) == 4
    assert doc.line(("provider", "tags", "costCenter")) == 7
    assert notices == [
        "serverless.yml:5: provider.stackTags: is merged into provider.tags: the Serverless "
        "Framework puts stackTags on the stack, and so does hybridless with provider.tags; "
        "provider.tags wins for team"
    ]


def test_deployment_bucket_keeps_its_name_and_the_number_of_deployments_kept() -> None:
    doc, notices = strip(
        """\
        service: shop
        provider:
          deploymentBucket:
            name: my-artifacts
            maxPreviousDeploymentArtifacts: 10
            serverSideEncryption: AES256
            blockPublicAccess: true
        """
    )

    assert doc.data["provider"]["deploymentBucket"] == {
        "name": "my-artifacts",
        "keepDeployments": 10,
    }
    assert doc.line(("provider", "deploymentBucket", "keepDeployments")) == 5
    assert notices == [
        "serverless.yml:5: provider.deploymentBucket.maxPreviousDeploymentArtifacts: is the "
        "Serverless Framework name of keepDeployments; it is used as that",
        f"serverless.yml:6: provider.deploymentBucket.serverSideEncryption: {IGNORED}",
        f"serverless.yml:7: provider.deploymentBucket.blockPublicAccess: {IGNORED}",
    ]


def test_the_object_form_of_service_gives_its_name() -> None:
    doc, notices = strip(
        """\
        service:
          name: shop
          awsKmsKeyArn: arn:aws:kms:eu-west-1:123456789012:key/x
        provider:
          name: aws
        """
    )

    assert doc.data == {"service": "shop", "provider": {}}
    assert doc.line(("service",)) == 2
    assert ("service", "awsKmsKeyArn") not in doc.lines
    assert notices[0] == (
        "serverless.yml:1: service: is the Serverless Framework object form; hybridless uses "
        "its name and ignores awsKmsKeyArn"
    )


def test_serverless_functions_and_resource_extensions_get_their_own_notices() -> None:
    doc, notices = strip(
        """\
        service: shop
        functions:
          hello: {handler: handler.hello}
        resources:
          Resources: {}
          extensions:
            IamRoleLambdaExecution: {}
        """
    )

    assert doc.data == {"service": "shop", "resources": {"Resources": {}}}
    assert notices == [
        "serverless.yml:2: functions: holds Serverless Framework functions; hybridless ignores "
        "them and deploys only hybridless.functions",
        "serverless.yml:6: resources.extensions: changes resources the Serverless Framework "
        "generates; hybridless generates others, so it ignores it",
    ]


def test_a_key_that_is_neither_gets_a_did_you_mean() -> None:
    _, notices = strip(
        """\
        service: shop
        provider:
          regoin: eu-west-1
        hybridles: {}
        """
    )

    assert notices == [
        "serverless.yml:3: provider.regoin: is neither a hybridless nor a Serverless Framework "
        "setting; hybridless ignores it; did you mean 'provider.region'?",
        "serverless.yml:4: hybridles: is neither a hybridless nor a Serverless Framework "
        "setting; hybridless ignores it; did you mean 'hybridless'?",
    ]


def test_stripping_leaves_the_original_document_alone() -> None:
    original = parse_document("service: a\nplugins: [x]\nprovider: {name: aws}\n", "x.yml")
    before = (dict(original.lines), repr(original.data))

    stripped, _ = strip_serverless_keys(original)

    assert stripped.data == {"service": "a", "provider": {}}
    assert (dict(original.lines), repr(original.data)) == before


def test_every_line_left_belongs_to_a_key_left() -> None:
    doc, _ = strip(SERVERLESS_YML)

    missing = object()

    assert [path for path in doc.lines if lookup(doc.data, path, missing) is missing] == []


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        ("serverless.yml", "service: a\n", True),
        ("config/serverless.yaml", "service: a\n", True),
        ("hybridless.yml", "service: a\nplugins: [x]\n", True),
        ("hybridless.yml", "service: a\nframeworkVersion: '3'\n", True),
        ("hybridless.yml", "service: a\nprovider: {name: aws}\n", True),
        ("hybridless.yml", "service: a\nprovider: {region: eu-west-1}\n", False),
        ("hybridless.yml", "", False),
    ],
)
def test_what_counts_as_a_serverless_config(file: str, text: str, expected: bool) -> None:
    assert is_serverless_config(parse_document(text, file)) is expected


def test_a_hybridless_yml_with_plugins_is_a_serverless_file_and_is_stripped(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "hybridless.yml",
        """\
        service: shop
        plugins: ['@hybridless/hybridless']
        hybridless:
          functions:
            Worker:
              events:
                - eventType: lambdaContainer
                  runtime: container
        """,
    )

    app, notices = load_app_with_notices(path, Overrides(), ENVIRON)

    assert app.service == "shop"
    assert notices == [Problem(str(path), 2, "plugins", IGNORED)]


def test_a_hybridless_yml_keeps_unknown_keys_as_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hybridless.yml",
        """\
        service: shop
        provder:
          region: eu-west-1
        hybridless:
          functions:
            Worker:
              events:
                - eventType: lambdaContainer
                  runtime: container
        """,
    )
    doc = load_document(path)

    assert strip_serverless_keys(doc) == (doc, [])
    with pytest.raises(ConfigError) as raised:
        load_app_with_notices(path, Overrides(), ENVIRON)
    assert [(p.line, p.key) for p in raised.value.problems] == [(2, "provder")]
    assert "did you mean 'provider'?" in raised.value.problems[0].message


def test_a_variable_in_an_ignored_key_matters_only_when_a_kept_key_uses_it(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "serverless.yml",
        """\
        service: shop
        custom:
          secret: ${ssm:/shop/secret}
          fine: ok
        provider:
          stage: dev
        hybridless:
          functions:
            Worker:
              environment:
                A: ${self:custom.fine}
                B: ${self:custom.secret}
              events:
                - eventType: lambdaContainer
                  runtime: container
        """,
    )
    original = load_document(path)
    kept, _ = strip_serverless_keys(original)

    with pytest.raises(ConfigError) as raised:
        resolve_variables(kept, {}, {}, scope=original)

    # Reported where the unresolvable value is written, in the ignored key, once.
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:3: custom.secret: ${{ssm:/shop/secret}}: the ssm variable source is not "
        "supported (supported: self:, opt:, env:, file())"
    ]
