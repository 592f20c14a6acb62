"""The attributes of load balancers, target groups and listeners: their defaults and which keys each
kind accepts.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupAttribute.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ListenerAttribute.html
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from conveyor.services.elbv2 import errors

_LOGS = {"access_logs.s3.enabled": "false", "access_logs.s3.bucket": "", "access_logs.s3.prefix": "",
         "deletion_protection.enabled": "false", "zonal_shift.config.enabled": "false"}
APPLICATION = {**_LOGS, "connection_logs.s3.enabled": "false", "connection_logs.s3.bucket": "",
               "connection_logs.s3.prefix": "", "idle_timeout.timeout_seconds": "60",
               "client_keep_alive.seconds": "3600", "routing.http.desync_mitigation_mode": "defensive",
               "routing.http.drop_invalid_header_fields.enabled": "false",
               "routing.http.preserve_host_header.enabled": "false",
               "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
               "routing.http.xff_client_port.enabled": "false", "routing.http.xff_header_processing.mode": "append",
               "routing.http2.enabled": "true", "waf.fail_open.enabled": "false",
               "load_balancing.cross_zone.enabled": "true"}
NETWORK = {**_LOGS, "load_balancing.cross_zone.enabled": "false",
           "dns_record.client_routing_policy": "any_availability_zone",
           "secondary_ips.auto_assigned.per_subnet": "0"}

_GROUP_COMMON = {"deregistration_delay.timeout_seconds": "300", "stickiness.enabled": "false",
                 "load_balancing.cross_zone.enabled": "use_load_balancer_configuration"}
HTTP_GROUP = {**_GROUP_COMMON, "stickiness.type": "lb_cookie", "stickiness.lb_cookie.duration_seconds": "86400",
              "stickiness.app_cookie.cookie_name": "", "stickiness.app_cookie.duration_seconds": "86400",
              "slow_start.duration_seconds": "0", "load_balancing.algorithm.type": "round_robin",
              "load_balancing.algorithm.anomaly_mitigation": "off",
              "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
              "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
              "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
              "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off"}
TCP_GROUP = {**_GROUP_COMMON, "stickiness.type": "source_ip", "proxy_protocol_v2.enabled": "false",
             "deregistration_delay.connection_termination.enabled": "false", "preserve_client_ip.enabled": "true",
             "target_health_state.unhealthy.connection_termination.enabled": "true"}
LAMBDA_GROUP = {"lambda.multi_value_headers.enabled": "false"}

HTTP_LISTENER = {"routing.http.response.server.enabled": "true"}
TCP_LISTENER = {"tcp.idle_timeout.seconds": "350"}


def for_balancer(kind: str) -> dict[str, str]:
    return dict(NETWORK if kind == "network" else APPLICATION)


def for_group(protocol: str | None, target_type: str) -> dict[str, str]:
    if target_type == "lambda":
        return dict(LAMBDA_GROUP)
    attrs = dict(HTTP_GROUP if protocol in ("HTTP", "HTTPS") else TCP_GROUP)
    if target_type == "ip" and "preserve_client_ip.enabled" in attrs:
        attrs["preserve_client_ip.enabled"] = "false"
    return attrs


def for_listener(protocol: str) -> dict[str, str]:
    return dict(HTTP_LISTENER if protocol in ("HTTP", "HTTPS") else TCP_LISTENER)


def listing(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in values.items()]


def modify(current: Mapping[str, str], given: Iterable[Mapping[str, Any]], what: str) -> dict[str, str]:
    """`current` with the given attributes set; an unknown key or a malformed value is a ValidationError."""
    out = dict(current)
    for attribute in given:
        key, value = str(attribute.get("Key") or ""), str(attribute.get("Value") or "")
        if key not in current:
            raise errors.validation(f"{what} attribute key '{key}' is not recognized")
        _check_value(key, value)
        out[key] = value
    return out


def _check_value(key: str, value: str) -> None:
    if key.endswith(".enabled") and current_is_boolean(key) and value not in ("true", "false"):
        raise errors.validation(f"{key.rsplit('.', 1)[0].replace('.', ' ').replace('_', ' ').capitalize()} "
                                f"enabled must be true or false")
    if key == "deregistration_delay.timeout_seconds":
        _integer(key, value, 0, 3600, "Deregistration delay timeout seconds")
    elif key == "secondary_ips.auto_assigned.per_subnet":  # 0 to 7 (API_LoadBalancerAttribute.html)
        _integer(key, value, 0, 7, "Secondary IPs auto assigned per subnet")
    elif key == "tcp.idle_timeout.seconds":  # 60 to 6000 (API_ListenerAttribute.html)
        _integer(key, value, 60, 6000, "TCP idle timeout seconds")
    elif key == "idle_timeout.timeout_seconds":
        _integer(key, value, 1, 4000, "Idle timeout timeout seconds")
    elif key in ("stickiness.lb_cookie.duration_seconds", "stickiness.app_cookie.duration_seconds"):
        _integer(key, value, 1, 604800, "Stickiness duration seconds")
    elif key == "slow_start.duration_seconds" and value != "0":
        _integer(key, value, 30, 900, "Slow start duration seconds")
    elif key == "load_balancing.algorithm.type" and value not in ("round_robin", "least_outstanding_requests",
                                                                  "weighted_random"):
        raise errors.validation(f"Load balancing algorithm type '{value}' is not supported")


def current_is_boolean(key: str) -> bool:
    return key != "load_balancing.cross_zone.enabled"  # a target group's says "use_load_balancer_configuration"


def _integer(key: str, value: str, low: int, high: int, label: str) -> None:
    try:
        number = int(value)
    except ValueError:
        raise errors.validation(f"{label} must be an integer") from None
    if not low <= number <= high:
        raise errors.validation(f"{label} must be between {low} and {high} inclusive")
