"""The app's load balancers, their listeners, and the rules that route to each event.

Routes of every `httpd` event and every Lambda `protocol: http` event share one listener per
load balancer, each route a rule with a priority unique on that listener. An app gets a public
load balancer, a private (internal) one for functions with `albIsPrivate`, or neither when its
functions attach to a listener the user already has (`albListenerArn`).

With certificates, a load balancer also gets an HTTPS listener (TLS 1.3 policy), routes with
certificates are served there, and plain HTTP that matches no rule is redirected to HTTPS. Its
security group opens the listener ports only, never all protocols.

A service that shifts traffic (`blueGreen`, `canary`, `linear`) has a second target group, and
its rule forwards to both, weighted 100 and 0: ECS moves the weights, and a target group no
rule names would never have its targets health-checked by the load balancer, so the new
revision could not be judged before it takes traffic. With `testListenerPort` the balancer gets
one more listener on that port, shared by the events that name it, where each such event has a
rule like its production one; ECS sends that rule's traffic to the new revision first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybridless.model import App, Event, HttpdEvent, Listener, Route, Routing
from hybridless.model.listeners import RouteKey, routed
from hybridless.template.common import SSL_POLICY, Template, get_att, ref, unique
from hybridless.template.network import Placement
from hybridless.template.security import (
    BALANCER_ACCESS_LOGS,
    PRIVATE_BALANCER_PORT_80,
    PRIVATE_HTTP_LISTENER,
    PUBLIC_BALANCER_PORT_80,
    PUBLIC_HTTP_LISTENER,
    TEST_HTTP_LISTENER,
    waive,
)

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


def shift_test_listener(balancer: Balancer, port: int) -> str:
    """The logical id of the listener that takes a traffic shift's test traffic on `port`."""
    return f"{'Private' if balancer.private else ''}TestListener{port}"


def shift_test_ports(app: App, balancer: Balancer) -> dict[int, list[str]]:
    """Each test listener port of `balancer`, with the certificates of the events using it
    (none: the listener is plain HTTP)."""
    ports: dict[int, list[str]] = {}
    for event in app.httpd_events:
        port = event.deployment.test_listener_port
        if (
            port is None
            or not event.deployment.shifts_traffic
            or balancer_of(event.routing.listener) != balancer
        ):
            continue
        known = ports.setdefault(port, [])
        known.extend(arn for arn in event.routing.certificate_arns if arn not in known)
    return dict(sorted(ports.items()))


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
        tests = shift_test_ports(app, balancer)
        _add_balancer(template, app, balancer, placement, certificates, list(tests))
        for port, test_certificates in tests.items():
            _add_test_listener(template, balancer, port, test_certificates)
        created.append(balancer)
    return created


def _add_balancer(
    template: Template,
    app: App,
    balancer: Balancer,
    placement: Placement,
    certificates: list[str],
    test_ports: list[int],
) -> None:
    ports = [HTTP_PORT, HTTPS_PORT] if certificates else [HTTP_PORT]
    reach = "internal" if balancer.private else "from anywhere"
    described = {HTTP_PORT: "HTTP listener", HTTPS_PORT: "HTTPS listener"}
    described.update({port: f"test listener {port}" for port in test_ports})
    cidr = placement.cidr if balancer.private else "0.0.0.0/0"
    open_to_all = PRIVATE_BALANCER_PORT_80 if balancer.private else PUBLIC_BALANCER_PORT_80
    security_group = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": f"{app.stack_name} {balancer.name}: listener ports {reach}",
            "VpcId": placement.vpc_id,
            "SecurityGroupIngress": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "CidrIp": cidr,
                    "Description": described[port],
                }
                for port in [*ports, *test_ports]
            ],
        },
    }
    template.add(
        balancer.security_group,
        waive(security_group, *([open_to_all] if cidr == "0.0.0.0/0" else [])),
    )
    load_balancer: dict[str, Any] = {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"}
    if placement.ready:
        load_balancer["DependsOn"] = list(placement.ready)
    load_balancer["Properties"] = {
        "Type": "application",
        "Scheme": "internal" if balancer.private else "internet-facing",
        "Subnets": placement.subnets if balancer.private else placement.alb_subnets,
        "SecurityGroups": [get_att(balancer.security_group, "GroupId")],
        "LoadBalancerAttributes": [
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}
        ],
    }
    template.add(balancer.name, waive(load_balancer, BALANCER_ACCESS_LOGS))
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
    http = _listener(balancer, HTTP_PORT, "HTTP", default)
    if not certificates:
        waive(http, *(PRIVATE_HTTP_LISTENER if balancer.private else PUBLIC_HTTP_LISTENER))
    template.add(balancer.http_listener, http)
    if certificates:
        _add_https_listener(template, balancer, balancer.https_listener, HTTPS_PORT, certificates)
    scheme = "https" if certificates else "http"
    endpoint = "PrivateServiceEndpoint" if balancer.private else "ServiceEndpoint"
    template.output(
        endpoint,
        {"Fn::Sub": f"{scheme}://${{{balancer.name}.DNSName}}"},
        f"URL of the {'internal ' if balancer.private else ''}load balancer in front of the app",
    )


def _add_https_listener(
    template: Template, balancer: Balancer, logical_id: str, port: int, certificates: list[str]
) -> None:
    """A listener takes one certificate; the others are attached to it beside."""
    https = _listener(balancer, port, "HTTPS", _not_found())
    https["Properties"]["Certificates"] = [{"CertificateArn": certificates[0]}]
    https["Properties"]["SslPolicy"] = SSL_POLICY
    template.add(logical_id, https)
    if certificates[1:]:
        template.add(
            f"{logical_id}Certificates",
            {
                "Type": "AWS::ElasticLoadBalancingV2::ListenerCertificate",
                "Properties": {
                    "ListenerArn": ref(logical_id),
                    "Certificates": [{"CertificateArn": arn} for arn in certificates[1:]],
                },
            },
        )


def _add_test_listener(
    template: Template, balancer: Balancer, port: int, certificates: list[str]
) -> None:
    """Like the production listeners, it answers 404 to what no rule matches."""
    logical_id = shift_test_listener(balancer, port)
    if certificates:
        _add_https_listener(template, balancer, logical_id, port, certificates)
    else:
        template.add(
            logical_id, waive(_listener(balancer, port, "HTTP", _not_found()), *TEST_HTTP_LISTENER)
        )
    scheme = "https" if certificates else "http"
    template.output(
        f"{'Private' if balancer.private else ''}TestEndpoint{port}",
        {"Fn::Sub": f"{scheme}://${{{balancer.name}.DNSName}}:{port}"},
        "URL where a deployment's new revision gets test traffic before production traffic",
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
    alternate: str | None = None,
) -> list[str]:
    """One listener rule per route, forwarding to `target_group` (and to `alternate` when a
    deployment shifts traffic between the two); returns their logical ids."""
    return [
        template.add(
            f"{logical_prefix}Rule{number}",
            _rule(
                listener_ref(routing),
                priorities[(event.function, event.index, number)],
                _conditions(routing, route),
                _forward(target_group, alternate),
            ),
            group,
        )
        for number, route in enumerate(routing.routes)
    ]


def add_test_rule(
    template: Template,
    event: HttpdEvent,
    target_group: str,
    alternate: str,
    priorities: Mapping[RouteKey, int],
    logical_prefix: str,
) -> str:
    """The test listener's rule for an event that shifts traffic: its one route's conditions
    and priority (unique there too, as the test listener only has routes of the same balancer),
    forwarding like the production rule."""
    balancer = balancer_of(event.routing.listener)
    port = event.deployment.test_listener_port
    assert balancer is not None and port is not None, "the model allows a test listener here only"
    return template.add(
        f"{logical_prefix}TestRule",
        _rule(
            ref(shift_test_listener(balancer, port)),
            priorities[(event.function, event.index, 0)],
            _conditions(event.routing, event.routing.routes[0]),
            _forward(target_group, alternate),
        ),
        event.function,
    )


def _rule(
    listener: Any, priority: int, conditions: list[dict[str, Any]], action: dict[str, Any]
) -> dict[str, Any]:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "ListenerArn": listener,
            "Priority": priority,
            "Conditions": conditions,
            "Actions": [action],
        },
    }


def _conditions(routing: Routing, route: Route) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": [route.path]}}
    ]
    if routing.hostname:
        conditions.append(
            {"Field": "host-header", "HostHeaderConfig": {"Values": [routing.hostname]}}
        )
    if route.method:
        conditions.append(
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": [route.method]}}
        )
    return conditions


def _forward(target_group: str, alternate: str | None) -> dict[str, Any]:
    if alternate is None:
        return {"Type": "forward", "TargetGroupArn": ref(target_group)}
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": ref(target_group), "Weight": 100},
                {"TargetGroupArn": ref(alternate), "Weight": 0},
            ]
        },
    }
