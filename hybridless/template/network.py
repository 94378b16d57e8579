"""Where tasks and load balancers live: an existing network, or one created with the app.

A created network is deliberately small: public subnets in distinct zones behind an internet
gateway, and tasks with public addresses. That is what lets a task pull its image from ECR
without a NAT gateway (which costs more than most small apps). The security groups are what
keeps it closed: tasks accept traffic only from the app's load balancers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybridless.model import App, NewVpc, Vpc
from hybridless.template.common import Template, ref

VPC = "Vpc"
GATEWAY = "InternetGateway"
GATEWAY_ATTACHMENT = "InternetGatewayAttachment"
ROUTE_TABLE = "PublicRouteTable"
DEFAULT_ROUTE = "PublicDefaultRoute"


@dataclass(frozen=True)
class Placement:
    """The network values resources are placed with, whichever way the network came."""

    vpc_id: Any
    subnets: list[Any]
    alb_subnets: list[Any]
    security_groups: list[str]
    public_ip: bool
    # what tasks and load balancers must wait for: the route to the internet of a new network
    ready: tuple[str, ...] = ()
    cidr: Any = "0.0.0.0/0"


def add_network(template: Template, app: App) -> Placement | None:
    if isinstance(app.vpc, Vpc):
        return Placement(
            vpc_id=app.vpc.vpc_id,
            subnets=list(app.vpc.subnet_ids),
            alb_subnets=list(app.vpc.alb_subnet_ids),
            security_groups=list(app.vpc.security_group_ids),
            public_ip=False,
        )
    if isinstance(app.vpc, NewVpc):
        subnets = _add_new_network(template, app, app.vpc)
        return Placement(
            vpc_id=ref(VPC),
            subnets=subnets,
            alb_subnets=subnets,
            security_groups=[],
            public_ip=True,
            ready=(DEFAULT_ROUTE,),
            cidr={"Fn::GetAtt": [VPC, "CidrBlock"]},
        )
    return None


def _add_new_network(template: Template, app: App, vpc: NewVpc) -> list[Any]:
    name = [{"Key": "Name", "Value": app.stack_name}]
    template.add(
        VPC,
        {
            "Type": "AWS::EC2::VPC",
            "Properties": {
                "CidrBlock": vpc.cidr,
                "EnableDnsHostnames": True,
                "EnableDnsSupport": True,
                "Tags": name,
            },
        },
    )
    template.add(GATEWAY, {"Type": "AWS::EC2::InternetGateway", "Properties": {"Tags": name}})
    template.add(
        GATEWAY_ATTACHMENT,
        {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": ref(VPC), "InternetGatewayId": ref(GATEWAY)},
        },
    )
    template.add(
        ROUTE_TABLE,
        {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": ref(VPC), "Tags": name}},
    )
    template.add(
        DEFAULT_ROUTE,
        {
            "Type": "AWS::EC2::Route",
            "DependsOn": [GATEWAY_ATTACHMENT],
            "Properties": {
                "RouteTableId": ref(ROUTE_TABLE),
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": ref(GATEWAY),
            },
        },
    )
    subnets = []
    for number, cidr in enumerate(vpc.subnets, start=1):
        subnet = template.add(
            f"PublicSubnet{number}",
            {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": ref(VPC),
                    "CidrBlock": cidr,
                    "AvailabilityZone": {"Fn::Select": [number - 1, {"Fn::GetAZs": ""}]},
                    "Tags": name,
                },
            },
        )
        template.add(
            f"PublicSubnet{number}RouteTable",
            {
                "Type": "AWS::EC2::SubnetRouteTableAssociation",
                "Properties": {"SubnetId": ref(subnet), "RouteTableId": ref(ROUTE_TABLE)},
            },
        )
        subnets.append(ref(subnet))
    template.output("VpcId", ref(VPC), "the network created for the app")
    template.output("SubnetIds", {"Fn::Join": [",", subnets]}, "its public subnets, one per zone")
    return subnets
