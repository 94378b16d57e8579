"""The app's load balancers, their listeners, and the rules that route to each event.

Routes of every `httpd` event and every Lambda `protocol: http` event share one listener per
load balancer, each route a rule with a priority unique on that listener. An app gets a public
load balancer, a private (internal) one for functions with `albIsPrivate`, or neither when its
functions attach to a listener the user already has (`albListenerArn`).

With certificates, a load balancer also gets an HTTPS listener (TLS 1.3 policy), routes with
certificates are served there, and plain HTTP that matches no rule is redirected to HTTPS. Its
security group opens the listener ports only, never all protocols.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybridless.model import App, Event, Listener, Routing
from hybridless.model.listeners import RouteKey, routed
from hybridless.template.common import SSL_POLICY, Template, get_att, ref, unique
from hybridless.template.network import Placement

HTTP_PORT = 80
HTTPS_PORT = 443


@dataclass(frozen=True)
class Balancer:
    """The logical ids of one load balancer the app creates."""

    name: str
    private: bool

    @property
    def security_group(self) -> str:
        return f"{self.name}SecurityGroup"

    @property
    def http_listener(self) -> str:
        return "PrivateHttpListener" if self.private else "HttpListener"

    @property
    def https_listener(self) -> str:
        return "PrivateHttpsListener" if self.private else "HttpsListener"


PUBLIC = Balancer("LoadBalancer", private=False)
PRIVATE = Balancer("PrivateLoadBalancer", private=True)


def balancer_of(listener: Listener) -> Balancer | None:
    if listener.existing_arn:
        return None
    return PRIVATE if listener.private else PUBLIC


def listener_ref(routing: Routing) -> Any:
    """What a rule's ListenerArn is for these routes."""
    balancer = balancer_of(routing.listener)
    if balancer is None:
        return routing.listener.existing_arn
    return ref(balancer.https_listener if routing.certificate_arns else balancer.http_listener)


def add_balancers(template: Template, app: App, placement: Placement | None) -> list[Balancer]:
    """Create the load balancers the app's routes need; return them."""
    routings = [routing for _event, routing in routed(app.events)]
    created = []
    for balancer in (PUBLIC, PRIVATE):
        mine = [r for r in routings if balancer_of(r.listener) == balancer]
        if not mine:
            continue
        assert placement is not None, "the model requires a network for a load balancer"
        certificates = unique(arn for r in mine for arn in r.certificate_arns)
        _add_balancer(template, app, balancer, placement, certificates)
        created.append(balancer)
    return created


def _add_balancer(
    template: Template,
    app: App,
    balancer: Balancer,
    placement: Placement,
    certificates: list[str],
) -> None:
    ports = [HTTP_PORT, HTTPS_PORT] if certificates else [HTTP_PORT]
    reach = "internal" if balancer.private else "from anywhere"
    template.add(
        balancer.security_group,
        {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"{app.stack_name} {balancer.name}: listener ports {reach}",
                "VpcId": placement.vpc_id,
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "CidrIp": placement.cidr if balancer.private else "0.0.0.0/0",
                        "Description": "HTTPS listener" if port == HTTPS_PORT else "HTTP listener",
                    }
                    for port in ports
                ],
            },
        },
    )
    load_balancer: dict[str, Any] = {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"}
    if placement.ready:
        load_balancer["DependsOn"] = list(placement.ready)
    template.add(
        balancer.name,
        {
            **load_balancer,
            "Properties": {
                "Type": "application",
                "Scheme": "internal" if balancer.private else "internet-facing",
                "Subnets": placement.subnets if balancer.private else placement.alb_subnets,
                "SecurityGroups": [get_att(balancer.security_group, "GroupId")],
            },
        },
    )
    if certificates:
        default: dict[str, Any] = {
            "Type": "redirect",
            "RedirectConfig": {
                "Protocol": "HTTPS",
                "Port": str(HTTPS_PORT),
                "StatusCode": "HTTP_301",
            },
        }
    else:
        default = _not_found()
    template.add(balancer.http_listener, _listener(balancer, HTTP_PORT, "HTTP", default))
    if certificates:
        https = _listener(balancer, HTTPS_PORT, "HTTPS", _not_found())
        https["Properties"]["Certificates"] = [{"CertificateArn": certificates[0]}]
        https["Properties"]["SslPolicy"] = SSL_POLICY
        template.add(balancer.https_listener, https)
        if certificates[1:]:
            template.add(
                f"{balancer.https_listener}Certificates",
                {
                    "Type": "AWS::ElasticLoadBalancingV2::ListenerCertificate",
                    "Properties": {
                        "ListenerArn": ref(balancer.https_listener),
                        "Certificates": [{"CertificateArn": arn} for arn in certificates[1:]],
                    },
                },
            )
    scheme = "https" if certificates else "http"
    endpoint = "PrivateServiceEndpoint" if balancer.private else "ServiceEndpoint"
    template.output(
        endpoint,
        {"Fn::Sub": f"{scheme}://${{{balancer.name}.DNSName}}"},
        f"URL of the {'internal ' if balancer.private else ''}load balancer in front of the app",
    )


def _listener(
    balancer: Balancer, port: int, protocol: str, default: dict[str, Any]
) -> dict[str, Any]:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {
            "LoadBalancerArn": ref(balancer.name),
            "Port": port,
            "Protocol": protocol,
            "DefaultActions": [default],
        },
    }


def _not_found() -> dict[str, Any]:
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": {
            "StatusCode": "404",
            "ContentType": "text/plain",
            "MessageBody": "no route",
        },
    }


def add_rules(
    template: Template,
    event: Event,
    routing: Routing,
    target_group: str,
    priorities: Mapping[RouteKey, int],
    logical_prefix: str,
    group: str,
) -> list[str]:
    """One listener rule per route, forwarding to `target_group`; returns their logical ids."""
    rules = []
    for number, route in enumerate(routing.routes):
        conditions: list[dict[str, Any]] = [
            {"Field": "path-pattern", "PathPatternConfig": {"Values": [route.path]}}
        ]
        if routing.hostname:
            conditions.append(
                {"Field": "host-header", "HostHeaderConfig": {"Values": [routing.hostname]}}
            )
        if route.method:
            conditions.append(
                {
                    "Field": "http-request-method",
                    "HttpRequestMethodConfig": {"Values": [route.method]},
                }
            )
        rules.append(
            template.add(
                f"{logical_prefix}Rule{number}",
                {
                    "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                    "Properties": {
                        "ListenerArn": listener_ref(routing),
                        "Priority": priorities[(event.function, event.index, number)],
                        "Conditions": conditions,
                        "Actions": [{"Type": "forward", "TargetGroupArn": ref(target_group)}],
                    },
                },
                group,
            )
        )
    return rules
