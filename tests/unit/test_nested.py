"""Nested stacks: a template over CloudFormation's limits, split into a root and children."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from hybridless.stack.validate import lint_template
from hybridless.template import to_json
from hybridless.template.nested import (
    Limits,
    Stacks,
    split,
    template_bytes,
    with_template_urls,
)

REGION = "us-east-1"
STACK = "AWS::CloudFormation::Stack"
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")

# --- synthetic templates shaped like the rendered ones -----------------------------------------


def shared() -> dict[str, Any]:
    """The resources every group uses: cluster, roles, load balancer and listener."""
    role: dict[str, Any] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        },
    }
    execution_role = copy.deepcopy(role)
    execution_role["Properties"]["ManagedPolicyArns"] = [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
            "service-role/AmazonECSTaskExecutionRolePolicy"
        }
    ]
    return {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "shop-dev"}},
        "TaskExecutionRole": execution_role,
        "TaskRole": role,
        "LoadBalancerSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "load balancer: HTTP from anywhere",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}
                ],
            },
        },
        "ServiceSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "tasks: traffic from the load balancer",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 8080,
                        "ToPort": 8080,
                        "SourceSecurityGroupId": {
                            "Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]
                        },
                    }
                ],
            },
        },
        "LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Type": "application",
                "Scheme": "internet-facing",
                "Subnets": {"Ref": "Subnets"},
                "SecurityGroups": [{"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}],
            },
        },
        "HttpListener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "LoadBalancer"},
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
                    }
                ],
            },
        },
    }


def service(name: str, priority: int) -> dict[str, Any]:
    """The five resources of one HTTP service, referring to shared ones every way there is."""
    return {
        f"{name}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/hybridless/${{AWS::StackName}}/{name}"},
                "RetentionInDays": 30,
            },
        },
        f"{name}TaskDefinition": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": {"Fn::Sub": f"${{AWS::StackName}}-{name}"},
                "Cpu": "256",
                "Memory": "512",
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "ExecutionRoleArn": {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
                "TaskRoleArn": {"Fn::GetAtt": "TaskRole.Arn"},
                "ContainerDefinitions": [
                    {
                        "Name": "app",
                        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop@sha256:"
                        + "a" * 64,
                        "Essential": True,
                        "PortMappings": [{"ContainerPort": 8080, "Protocol": "tcp"}],
                        "Environment": [
                            {"Name": "ROLE", "Value": {"Fn::Sub": "${TaskRole.Arn}"}},
                            {
                                "Name": "LITERAL",
                                "Value": {"Fn::Sub": "${!Literal}-${AWS::Region}"},
                            },
                            {
                                "Name": "CLUSTER",
                                "Value": {
                                    "Fn::Sub": [
                                        "${Name}/${Cluster}",
                                        {"Name": {"Ref": f"{name}LogGroup"}},
                                    ]
                                },
                            },
                        ],
                        "LogConfiguration": {
                            "LogDriver": "awslogs",
                            "Options": {
                                "awslogs-group": {"Ref": f"{name}LogGroup"},
                                "awslogs-region": {"Ref": "AWS::Region"},
                                "awslogs-stream-prefix": name,
                            },
                        },
                    }
                ],
            },
        },
        f"{name}TargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Port": 8080,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "VpcId": {"Ref": "VpcId"},
                "HealthCheckPath": "/",
            },
        },
        f"{name}Rule0": {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {
                "ListenerArn": {"Ref": "HttpListener"},
                "Priority": priority,
                "Conditions": [
                    {"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/{name}/*"]}}
                ],
                "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": f"{name}TargetGroup"}}],
            },
        },
        f"{name}Service": {
            "Type": "AWS::ECS::Service",
            "DependsOn": [f"{name}Rule0", "LoadBalancer"],
            "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "LaunchType": "FARGATE",
                "DesiredCount": {"Fn::If": ["IsProd", 2, 1]},
                "TaskDefinition": {"Ref": f"{name}TaskDefinition"},
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "AssignPublicIp": "DISABLED",
                        "Subnets": {"Ref": "Subnets"},
                        "SecurityGroups": [{"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]}],
                    }
                },
                "LoadBalancers": [
                    {
                        "ContainerName": "app",
                        "ContainerPort": 8080,
                        "TargetGroupArn": {"Ref": f"{name}TargetGroup"},
                    }
                ],
            },
        },
    }


def app_template(count: int, outputs_per_group: int = 1) -> tuple[dict[str, Any], dict[str, str]]:
    """A template of `count` services, named S1, S2, ..., and its groups."""
    resources = shared()
    outputs: dict[str, Any] = {
        "ServiceEndpoint": {
            "Description": "URL of the load balancer",
            "Value": {"Fn::Sub": "http://${LoadBalancer.DNSName}"},
        },
        "ClusterName": {"Description": "ECS cluster", "Value": {"Ref": "Cluster"}},
    }
    groups: dict[str, str] = {}
    for number in range(1, count + 1):
        name = f"S{number}"
        members = service(name, number)
        resources.update(members)
        groups.update(dict.fromkeys(members, name))
        outputs[f"{name}ServiceName"] = {
            "Description": f"{name}: ECS service",
            "Value": {"Fn::GetAtt": [f"{name}Service", "Name"]},
        }
        for extra in range(1, outputs_per_group):
            outputs[f"{name}Extra{extra}"] = {
                "Description": f"{name}: task definition",
                "Value": {"Ref": f"{name}TaskDefinition"},
            }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "hybridless: shop (dev), generated, do not edit by hand",
        "Parameters": {
            "VpcId": {"Type": "AWS::EC2::VPC::Id"},
            "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
            "Stage": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"},
        },
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Resources": resources,
        "Outputs": outputs,
    }
    return template, groups


def function_template(count: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Lambda functions from images: two resources and two outputs each."""
    resources: dict[str, Any] = {
        "FunctionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        }
    }
    outputs: dict[str, Any] = {}
    groups: dict[str, str] = {}
    for number in range(1, count + 1):
        name = f"F{number}"
        resources[f"{name}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": f"/aws/lambda/jobs-dev-{name}", "RetentionInDays": 30},
        }
        resources[f"{name}Function"] = {
            "Type": "AWS::Lambda::Function",
            "DependsOn": [f"{name}LogGroup"],
            "Properties": {
                "FunctionName": f"jobs-dev-{name}",
                "PackageType": "Image",
                "Code": {
                    "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/jobs@sha256:"
                    + "b" * 64
                },
                "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
                "MemorySize": 256,
                "Timeout": 30,
            },
        }
        groups.update({f"{name}LogGroup": name, f"{name}Function": name})
        outputs[f"{name}FunctionName"] = {
            "Description": f"{name}: function name",
            "Value": {"Ref": f"{name}Function"},
        }
        outputs[f"{name}FunctionArn"] = {
            "Description": f"{name}: function ARN",
            "Value": {"Fn::GetAtt": [f"{name}Function", "Arn"]},
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "hybridless: jobs (dev), generated, do not edit by hand",
        "Resources": resources,
        "Outputs": outputs,
    }
    return template, groups


# --- checkers -------------------------------------------------------------------------------


def dangling(child: dict[str, Any]) -> list[str]:
    """Every reference in `child` that does not resolve inside it."""
    parameters = set(child.get("Parameters", {}))
    resources = set(child["Resources"])
    conditions = set(child.get("Conditions", {}))
    mappings = set(child.get("Mappings", {}))
    problems: list[str] = []

    def value(name: str, where: str) -> None:
        same_everywhere = name.startswith("AWS::") and name not in (
            "AWS::StackName",
            "AWS::StackId",
        )
        if name not in parameters | resources and not same_everywhere:
            problems.append(f"{where}: {name}")

    def visit(node: Any, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, where)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("Condition"), str) and node["Condition"] not in conditions:
            problems.append(f"{where}: condition {node['Condition']}")
        for key, arg in node.items():
            if key == "Ref":
                value(arg, where)
            elif key == "Fn::GetAtt":
                target = arg.split(".")[0] if isinstance(arg, str) else arg[0]
                if target not in resources:
                    problems.append(f"{where}: GetAtt {target}")
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                for inner in PLACEHOLDER.findall(text):
                    if not inner.startswith("!") and inner not in variables:
                        target, _, attribute = inner.partition(".")
                        if attribute and target not in resources:
                            problems.append(f"{where}: Sub {inner}")
                        elif not attribute:
                            value(target, where)
            elif key == "Fn::If" and arg[0] not in conditions:
                problems.append(f"{where}: If {arg[0]}")
            elif key == "Fn::FindInMap" and arg[0] not in mappings:
                problems.append(f"{where}: FindInMap {arg[0]}")
            visit(arg, where)

    for section in ("Resources", "Outputs", "Conditions"):
        for name, entry in child.get(section, {}).items():
            visit(entry, f"{section}/{name}")
            if section == "Resources":
                depends = entry.get("DependsOn", [])
                for target in [depends] if isinstance(depends, str) else depends:
                    if target not in resources:
                        problems.append(f"{section}/{name}: DependsOn {target}")
    return problems


def inlined(child: dict[str, Any], passed: dict[str, Any]) -> dict[str, Any]:
    """`child` with each parameter replaced by what the root passes: what the flat template had."""

    def as_expression(value: Any) -> Any:
        if "Fn::Join" in value:  # a list, joined only to cross the stack boundary
            return value["Fn::Join"][1]
        return value

    def as_placeholder(value: Any) -> str:
        if "Ref" in value:
            return str(value["Ref"])
        target, attribute = value["Fn::GetAtt"]
        return f"{target}.{attribute}"

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Ref"] and node["Ref"] in passed:
            return as_expression(passed[node["Ref"]])
        if list(node) == ["Fn::Sub"]:
            arg = node["Fn::Sub"]
            text, variables = (arg, None) if isinstance(arg, str) else arg
            text = PLACEHOLDER.sub(
                lambda m: (
                    "${" + as_placeholder(passed[m.group(1)]) + "}"
                    if m.group(1) in passed and (variables is None or m.group(1) not in variables)
                    else m.group(0)
                ),
                text,
            )
            return {"Fn::Sub": text if variables is None else [text, visit(variables)]}
        return {key: visit(value) for key, value in node.items()}

    return {
        section: visit(child.get(section, {})) for section in ("Resources", "Outputs", "Conditions")
    }


def normalized(flat: dict[str, Any], resources: set[str]) -> dict[str, Any]:
    """A flat resource as it reads in a child: GetAtt as a list, DependsOn within the child."""

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Fn::GetAtt"] and isinstance(node["Fn::GetAtt"], str):
            return {"Fn::GetAtt": node["Fn::GetAtt"].split(".", 1)}
        return {key: visit(value) for key, value in node.items()}

    result: dict[str, Any] = visit(flat)
    if "DependsOn" in result:
        depends = result["DependsOn"]
        kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d in resources]
        if not kept:
            del result["DependsOn"]
        elif isinstance(depends, list):
            result["DependsOn"] = kept
    return result


def passed_to(stacks: Stacks, name: str) -> dict[str, Any]:
    return dict(stacks.root["Resources"][name]["Properties"].get("Parameters", {}))


def assert_faithful(flat: dict[str, Any], stacks: Stacks) -> None:
    """Every flat resource and output is in exactly one place, and means what it meant."""
    root = stacks.root
    seen_resources = [r for r in root["Resources"] if r not in stacks.children]
    seen_outputs = list(root.get("Outputs", {}))
    for name, child in stacks.children.items():
        assert dangling(child) == [], name
        assert set(passed_to(stacks, name)) == set(child.get("Parameters", {})), name
        back = inlined(child, passed_to(stacks, name))
        for logical_id, resource in back["Resources"].items():
            expected = normalized(flat["Resources"][logical_id], set(child["Resources"]))
            assert resource == expected, logical_id
        for key, output in back["Outputs"].items():
            assert output == normalized(flat["Outputs"][key], set()), key
        for key, condition in back["Conditions"].items():
            assert condition == flat["Conditions"][key], key
        seen_resources += list(child["Resources"])
        seen_outputs += list(child.get("Outputs", {}))
    assert sorted(seen_resources) == sorted(flat["Resources"])
    assert sorted(seen_outputs) == sorted(flat.get("Outputs", {}))
    for logical_id in root["Resources"]:
        if logical_id not in stacks.children:
            assert root["Resources"][logical_id] == flat["Resources"][logical_id]


def assert_within(document: dict[str, Any], limits: Limits) -> None:
    assert len(document["Resources"]) <= limits.resources
    assert len(document.get("Outputs", {})) <= limits.outputs
    assert len(document.get("Parameters", {})) <= limits.parameters
    assert len(document.get("Mappings", {})) <= limits.mappings
    assert len(to_json(document).encode()) <= limits.bytes


def https_urls(stacks: Stacks) -> dict[str, str]:
    return {
        name: f"https://deploy-bucket.s3.{REGION}.amazonaws.com/shop/dev/{name}-0123abcd.json"
        for name in stacks.children
    }


# --- no split --------------------------------------------------------------------------------


def test_a_template_within_the_limits_comes_back_unchanged() -> None:
    template, groups = app_template(20)
    before = to_json(template)

    stacks = split(template, groups)

    assert stacks.children == {}
    assert stacks.root == template
    assert to_json(stacks.root) == before
    assert to_json(template) == before  # the input is not touched


def test_exactly_at_every_limit_is_still_within() -> None:
    template, groups = app_template(3)
    limits = Limits(
        resources=len(template["Resources"]),
        outputs=len(template["Outputs"]),
        parameters=len(template["Parameters"]),
        bytes=len(to_json(template).encode()),
    )

    assert split(template, groups, limits).children == {}
    assert split(template, groups, Limits(bytes=limits.bytes - 1)).children != {}


# --- splits, one limit at a time ----------------------------------------------------------------


def test_over_500_resources_groups_move_into_nested_stacks() -> None:
    template, groups = app_template(110)  # 557 resources

    stacks = split(template, groups)

    assert list(stacks.children) == ["Nested1", "Nested2"]
    assert len(stacks.children["Nested1"]["Resources"]) == 500  # 100 whole groups
    assert len(stacks.children["Nested2"]["Resources"]) == 50
    assert list(stacks.root["Resources"]) == [*shared(), "Nested1", "Nested2"]
    for document in (stacks.root, *stacks.children.values()):
        assert_within(document, Limits())
    assert_faithful(template, stacks)


def test_over_200_outputs_groups_move_with_their_outputs() -> None:
    template, groups = function_template(110)  # 221 resources, 220 outputs

    stacks = split(template, groups)

    assert list(stacks.children) == ["Nested1", "Nested2"]
    assert len(stacks.children["Nested1"]["Outputs"]) == 200
    assert "Outputs" not in stacks.root
    assert list(stacks.root["Resources"]) == ["FunctionRole", "Nested1", "Nested2"]
    assert stacks.children["Nested1"]["Parameters"] == {"FunctionRoleArn": {"Type": "String"}}
    assert passed_to(stacks, "Nested1") == {
        "FunctionRoleArn": {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    }
    assert_faithful(template, stacks)


def test_over_the_byte_limit_children_stay_under_it() -> None:
    template, groups = app_template(30)
    limits = Limits(bytes=40_000)

    stacks = split(template, groups, limits)

    assert len(stacks.children) > 2
    for child in stacks.children.values():
        assert template_bytes(child) == len(to_json(child).encode())
        assert template_bytes(child) <= 40_000
    assert_within(stacks.root, limits)
    assert_faithful(template, stacks)


def test_children_are_filled_to_the_exact_byte() -> None:
    """The size is measured without building the child; this is where a mistake would show."""
    template, groups = app_template(30)
    loose = split(template, groups, Limits(resources=60))
    first = loose.children["Nested1"]
    size = len(to_json(first).encode())

    exact = split(template, groups, Limits(resources=60, bytes=size))
    short = split(template, groups, Limits(resources=60, bytes=size - 1))

    assert to_json(exact.children["Nested1"]) == to_json(first)
    assert len(short.children["Nested1"]["Resources"]) == len(first["Resources"]) - 5


def test_over_the_parameter_limit_a_child_takes_fewer_groups() -> None:
    template, groups = app_template(6)
    for number in range(1, 7):  # each group reads its own root parameter
        template["Parameters"][f"Image{number}"] = {"Type": "String"}
        container = template["Resources"][f"S{number}TaskDefinition"]["Properties"][
            "ContainerDefinitions"
        ][0]
        container["Image"] = {"Ref": f"Image{number}"}
    assert split(template, groups, Limits(resources=30)).children.keys() == {"Nested1"}

    stacks = split(template, groups, Limits(resources=30, parameters=10))

    assert len(stacks.children) == 6  # one group each: 9 common parameters and its own image
    for number, child in enumerate(stacks.children.values(), start=1):
        assert len(child["Parameters"]) == 10
        assert f"Image{number}" in child["Parameters"]
    assert_faithful(template, stacks)


# --- the real limits, and cfn-lint ------------------------------------------------------------


@pytest.fixture(scope="module")
def big() -> tuple[dict[str, Any], Stacks]:
    template, groups = app_template(130)  # 657 resources
    return template, split(template, groups)


def test_130_services_split_into_two_children_that_resolve_every_reference(
    big: tuple[dict[str, Any], Stacks],
) -> None:
    template, stacks = big

    assert list(stacks.children) == ["Nested1", "Nested2"]
    for document in (stacks.root, *stacks.children.values()):
        assert_within(document, Limits())
    assert_faithful(template, stacks)
    assert set(stacks.root["Outputs"]) == {"ServiceEndpoint", "ClusterName"}


def test_the_root_and_every_child_pass_cfn_lint_without_errors_or_warnings(
    big: tuple[dict[str, Any], Stacks],
) -> None:
    _, stacks = big
    root = with_template_urls(stacks.root, https_urls(stacks))

    assert lint_template(to_json(root), REGION) == []
    for name, child in stacks.children.items():
        assert lint_template(to_json(child), REGION) == [], name


def test_the_unpackaged_root_warns_only_about_its_relative_template_urls(
    big: tuple[dict[str, Any], Stacks], tmp_path: Path
) -> None:
    """On disk next to its children, cfn-lint also checks the parameters each child declares
    against what the root passes (E3043); a relative TemplateURL is W3002."""
    from cfnlint.api import ManualArgs, lint_file

    _, stacks = big
    for name, child in stacks.children.items():
        (tmp_path / f"{name}.json").write_text(to_json(child), encoding="utf-8")
    (tmp_path / "root.json").write_text(to_json(stacks.root), encoding="utf-8")

    findings = lint_file(tmp_path / "root.json", ManualArgs(regions=[REGION]))

    assert sorted((m.rule.id, m.path[1]) for m in findings) == [
        ("W3002", "Nested1"),
        ("W3002", "Nested2"),
    ]


# --- determinism and stability ------------------------------------------------------------------


def test_splitting_is_deterministic() -> None:
    template, groups = app_template(40)
    limits = Limits(resources=60)

    first = split(template, groups, limits)
    second = split(copy.deepcopy(template), dict(groups), limits)

    assert to_json(first.root) == to_json(second.root)
    assert list(first.children) == list(second.children)
    for name in first.children:
        assert to_json(first.children[name]) == to_json(second.children[name])


def test_a_group_added_at_the_end_leaves_earlier_children_byte_identical() -> None:
    limits = Limits(resources=60)
    before = split(*app_template(40), limits)
    after = split(*app_template(41), limits)

    names = list(before.children)
    assert len(names) == 4
    for name in names[:-1]:
        assert to_json(after.children[name]) == to_json(before.children[name]), name
        assert after.root["Resources"][name] == before.root["Resources"][name], name


def test_a_group_added_to_a_full_last_child_starts_a_new_one() -> None:
    limits = Limits(resources=60)
    before = split(*app_template(36), limits)  # three children of 12 groups
    after = split(*app_template(37), limits)

    assert list(before.children) == ["Nested1", "Nested2", "Nested3"]
    assert list(after.children) == ["Nested1", "Nested2", "Nested3", "Nested4"]
    for name in before.children:
        assert to_json(after.children[name]) == to_json(before.children[name]), name
    assert list(after.children["Nested4"]["Resources"]) == list(service("S37", 37))


# --- pinning and groups that belong together --------------------------------------------------


def test_groups_the_root_references_stay_in_the_root() -> None:
    template, groups = app_template(30)
    template["Resources"]["Dashboard"] = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardBody": {"Fn::Sub": '{"service": "${S3Service.Name}"}'}},
    }
    template["Outputs"]["Pair"] = {
        "Value": {"Fn::Join": [",", [{"Ref": "S5Service"}, {"Ref": "S6Service"}]]}
    }

    stacks = split(template, groups, Limits(resources=60))

    kept = [r for r in stacks.root["Resources"] if groups.get(r)]
    assert {groups[r] for r in kept} == {"S3", "S5", "S6"}
    assert "Pair" in stacks.root["Outputs"]
    assert "S3ServiceName" in stacks.root["Outputs"]  # its group stays, so does its output
    assert "S4ServiceName" in stacks.children["Nested1"]["Outputs"]
    assert_faithful(template, stacks)


def test_a_group_referenced_by_a_pinned_group_is_pinned_too() -> None:
    template, groups = app_template(10)
    template["Resources"]["Alarm"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::GetAtt": ["S2Service", "Name"]}},
    }
    # S2 reads S7's log group: S7 must stay where the root can reach it
    s2 = template["Resources"]["S2TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    s2["LogConfiguration"]["Options"]["awslogs-group"] = {"Ref": "S7LogGroup"}

    stacks = split(template, groups, Limits(resources=30))

    kept = {groups[r] for r in stacks.root["Resources"] if r in groups}
    assert kept == {"S2", "S7"}
    assert_faithful(template, stacks)


def test_groups_that_reference_each_other_share_a_child() -> None:
    template, groups = app_template(12)
    # S1 reads S9's log group; both can move, so they move together
    s1 = template["Resources"]["S1TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    s1["LogConfiguration"]["Options"]["awslogs-group"] = {"Ref": "S9LogGroup"}

    stacks = split(template, groups, Limits(resources=30))

    first = stacks.children["Nested1"]["Resources"]
    assert {groups[r] for r in first} == {"S1", "S9", "S2", "S3", "S4", "S5"}
    assert list(first)[:10] == [*service("S1", 1), *service("S9", 9)]
    assert_faithful(template, stacks)


def test_an_output_of_two_movable_groups_keeps_both_in_the_root() -> None:
    template, groups = app_template(12)
    template["Outputs"]["Both"] = {
        "Value": {"Fn::Sub": "${S1Service.Name} ${S2Service.Name} ${LoadBalancer.DNSName}"}
    }

    stacks = split(template, groups, Limits(resources=30))

    assert {groups[r] for r in stacks.root["Resources"] if r in groups} == {"S1", "S2"}
    assert_faithful(template, stacks)


# --- what a child takes along -------------------------------------------------------------------


def test_references_become_parameters_the_root_passes() -> None:
    template, groups = app_template(12)

    stacks = split(template, groups, Limits(resources=30))
    child = stacks.children["Nested1"]

    assert child["Parameters"] == {
        "AWSStackName": {"Type": "String"},
        "Cluster": {"Type": "String"},
        "HttpListener": {"Type": "String"},
        "ServiceSecurityGroupGroupId": {"Type": "String"},
        "Stage": {"Type": "String"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
        "TaskExecutionRoleArn": {"Type": "String"},
        "TaskRoleArn": {"Type": "String"},
        "VpcId": {"Type": "AWS::EC2::VPC::Id"},
    }
    assert passed_to(stacks, "Nested1") == {
        "AWSStackName": {"Ref": "AWS::StackName"},
        "Cluster": {"Ref": "Cluster"},
        "HttpListener": {"Ref": "HttpListener"},
        "ServiceSecurityGroupGroupId": {"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]},
        "Stage": {"Ref": "Stage"},
        "Subnets": {"Fn::Join": [",", {"Ref": "Subnets"}]},
        "TaskExecutionRoleArn": {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
        "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
        "VpcId": {"Ref": "VpcId"},
    }
    task = child["Resources"]["S1TaskDefinition"]["Properties"]
    assert task["TaskRoleArn"] == {"Ref": "TaskRoleArn"}  # from the "TaskRole.Arn" form
    assert task["Family"] == {"Fn::Sub": "${AWSStackName}-S1"}


def test_sub_literals_pseudo_parameters_and_variables_are_left_alone() -> None:
    template, groups = app_template(12)

    stacks = split(template, groups, Limits(resources=30))
    container = stacks.children["Nested1"]["Resources"]["S1TaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ][0]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}

    assert environment["LITERAL"] == {"Fn::Sub": "${!Literal}-${AWS::Region}"}
    assert environment["ROLE"] == {"Fn::Sub": "${TaskRoleArn}"}
    assert environment["CLUSTER"] == {
        "Fn::Sub": ["${Name}/${Cluster}", {"Name": {"Ref": "S1LogGroup"}}]
    }
    assert container["LogConfiguration"]["Options"]["awslogs-region"] == {"Ref": "AWS::Region"}


def test_a_shadowing_sub_variable_is_not_taken_for_a_root_resource() -> None:
    template, groups = app_template(12)
    environment = template["Resources"]["S1TaskDefinition"]["Properties"]["ContainerDefinitions"][
        0
    ]["Environment"]
    environment.append(
        {"Name": "SHADOW", "Value": {"Fn::Sub": ["${LoadBalancer}", {"LoadBalancer": "x"}]}}
    )

    stacks = split(template, groups, Limits(resources=30))
    container = stacks.children["Nested1"]["Resources"]["S1TaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ][0]

    assert container["Environment"][-1]["Value"] == {
        "Fn::Sub": ["${LoadBalancer}", {"LoadBalancer": "x"}]
    }
    assert "LoadBalancer" not in stacks.children["Nested1"]["Parameters"]


def test_a_depends_on_a_root_resource_moves_to_the_nested_stack() -> None:
    template, groups = app_template(12)

    stacks = split(template, groups, Limits(resources=30))

    assert stacks.children["Nested1"]["Resources"]["S1Service"]["DependsOn"] == ["S1Rule0"]
    # LoadBalancer is not among the parameters, so only DependsOn orders it before the child;
    # HttpListener is, so the parameter already does
    assert stacks.root["Resources"]["Nested1"]["DependsOn"] == ["LoadBalancer"]


def test_conditions_travel_with_the_parameters_they_need_and_leave_the_root() -> None:
    template, groups = app_template(12)
    template["Parameters"]["Size"] = {"Type": "String", "Default": "small"}
    template["Conditions"]["IsBig"] = {"Fn::Equals": [{"Ref": "Size"}, "big"]}
    template["Conditions"]["IsProdAndBig"] = {
        "Fn::And": [{"Condition": "IsProd"}, {"Condition": "IsBig"}]
    }
    template["Conditions"]["Unused"] = {"Fn::Equals": ["a", "b"]}
    template["Resources"]["S2Rule0"]["Condition"] = "IsProdAndBig"

    stacks = split(template, groups, Limits(resources=30))
    first = stacks.children["Nested1"]

    assert first["Conditions"] == {
        "IsProd": template["Conditions"]["IsProd"],
        "IsBig": template["Conditions"]["IsBig"],
        "IsProdAndBig": template["Conditions"]["IsProdAndBig"],
    }
    assert {"Size", "Stage"} <= set(first["Parameters"])
    assert first["Resources"]["S2Rule0"]["Condition"] == "IsProdAndBig"
    assert stacks.root["Conditions"] == {"Unused": {"Fn::Equals": ["a", "b"]}}
    assert_faithful(template, stacks)


def test_mappings_are_copied_into_the_children_that_use_them() -> None:
    template, groups = app_template(12)
    template["Mappings"] = {"Sizes": {"small": {"Cpu": "256"}}, "Other": {"a": {"b": "c"}}}
    template["Resources"]["S1TaskDefinition"]["Properties"]["Cpu"] = {
        "Fn::FindInMap": ["Sizes", "small", "Cpu"]
    }

    stacks = split(template, groups, Limits(resources=30))

    assert stacks.children["Nested1"]["Mappings"] == {"Sizes": {"small": {"Cpu": "256"}}}
    assert "Mappings" not in stacks.children["Nested2"]
    assert stacks.root["Mappings"] == {"Other": {"a": {"b": "c"}}}


def test_ssm_and_list_parameters_cross_as_what_they_resolve_to() -> None:
    template, groups = app_template(12)
    template["Parameters"]["Image"] = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/shop/image",
        "NoEcho": True,
    }
    template["Parameters"]["Names"] = {"Type": "AWS::SSM::Parameter::Value<List<String>>"}
    container = template["Resources"]["S1TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["Image"] = {"Ref": "Image"}
    container["Command"] = {"Ref": "Names"}

    stacks = split(template, groups, Limits(resources=30))

    parameters = stacks.children["Nested1"]["Parameters"]
    assert parameters["Image"] == {"Type": "String", "NoEcho": True}
    assert parameters["Names"] == {"Type": "CommaDelimitedList"}
    assert passed_to(stacks, "Nested1")["Names"] == {"Fn::Join": [",", {"Ref": "Names"}]}
    assert_faithful(template, stacks)


def test_exports_move_with_their_output() -> None:
    template, groups = app_template(12)
    template["Outputs"]["S1ServiceName"]["Export"] = {
        "Name": {"Fn::Sub": "${AWS::StackName}-S1Service"}
    }

    stacks = split(template, groups, Limits(resources=30))

    assert stacks.children["Nested1"]["Outputs"]["S1ServiceName"]["Export"] == {
        "Name": {"Fn::Sub": "${AWSStackName}-S1Service"}  # still the root's stack name
    }


def test_parameter_names_that_would_collide_get_a_hash() -> None:
    template, groups = app_template(12)
    template["Resources"]["TaskRoleArn"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Type": "String", "Value": "x"},
    }
    options = template["Resources"]["S1TaskDefinition"]["Properties"]["ContainerDefinitions"][0][
        "LogConfiguration"
    ]["Options"]
    options["awslogs-stream-prefix"] = {"Ref": "TaskRoleArn"}

    stacks = split(template, groups, Limits(resources=30))
    passed = passed_to(stacks, "Nested1")

    assert passed["TaskRoleArn"] == {"Ref": "TaskRoleArn"}  # a logical id keeps its name
    hashed = [n for n, v in passed.items() if v == {"Fn::GetAtt": ["TaskRole", "Arn"]}]
    assert len(hashed) == 1
    assert re.fullmatch(r"TaskRoleArn[0-9a-f]{8}", hashed[0])
    assert_faithful(template, stacks)


def test_children_are_described_after_the_root() -> None:
    template, groups = app_template(12)

    stacks = split(template, groups, Limits(resources=30))

    assert stacks.children["Nested2"]["Description"] == (
        "hybridless: shop (dev), generated, do not edit by hand (nested stack Nested2)"
    )
    assert stacks.children["Nested2"]["AWSTemplateFormatVersion"] == "2010-09-09"
    assert stacks.root["Resources"]["Nested2"]["Properties"]["TemplateURL"] == "Nested2.json"


# --- what cannot be split -------------------------------------------------------------------


def test_a_group_too_big_for_any_child_is_a_value_error() -> None:
    template, groups = app_template(12)

    with pytest.raises(ValueError, match=r"group S1 alone .* 5 resources \(limit 4\)"):
        split(template, groups, Limits(resources=4))


def test_a_root_still_over_a_limit_is_a_value_error() -> None:
    template, groups = app_template(10)

    with pytest.raises(ValueError, match=r"root template has 17 resources \(limit 8\)"):
        split(template, groups, Limits(resources=8))  # 7 shared and one stack per group


def test_pinned_groups_are_named_when_the_root_stays_too_big() -> None:
    template, groups = app_template(10)
    template["Outputs"]["All"] = {"Value": {"Fn::Join": ["", [{"Ref": "S1Service"}, "x"]]}}
    template["Outputs"]["Two"] = {"Value": {"Fn::Sub": "${S2Service.Name}${S3Service.Name}"}}

    with pytest.raises(ValueError, match=r"references groups S2, S3, which therefore stay"):
        split(template, groups, Limits(resources=18))


def test_groups_naming_missing_resources_are_a_value_error() -> None:
    template, groups = app_template(12)

    with pytest.raises(ValueError, match="Ghost"):
        split(template, {**groups, "Ghost": "S1"}, Limits(resources=30))


# --- template URLs ------------------------------------------------------------------------------


def test_with_template_urls_replaces_each_relative_url_in_a_copy() -> None:
    template, groups = app_template(12)
    stacks = split(template, groups, Limits(resources=30))
    urls = https_urls(stacks)

    root = with_template_urls(stacks.root, urls)

    for name, url in urls.items():
        assert root["Resources"][name]["Properties"]["TemplateURL"] == url
        assert stacks.root["Resources"][name]["Properties"]["TemplateURL"] == f"{name}.json"


def test_with_template_urls_refuses_a_missing_or_unknown_child() -> None:
    template, groups = app_template(12)
    stacks = split(template, groups, Limits(resources=30))
    urls = https_urls(stacks)

    with pytest.raises(ValueError, match="no template URL for nested stack Nested2"):
        with_template_urls(stacks.root, {"Nested1": urls["Nested1"]})
    with pytest.raises(ValueError, match="Cluster is not a nested stack"):
        with_template_urls(stacks.root, {**urls, "Cluster": "https://example.com/x.json"})
