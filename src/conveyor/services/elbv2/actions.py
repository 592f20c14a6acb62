"""Listener and rule actions: forward (one target group, or several with weights and stickiness),
redirect and fixed-response, checked and written out as DescribeListeners/DescribeRules answer them.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Action.html
- A forward to one target group is answered with both TargetGroupArn and a ForwardConfig of that group
  at weight 1; a ForwardConfig of one group also gets its TargetGroupArn.
- A redirect's unset components keep the request's: "#{protocol}", "#{host}", "#{port}", "/#{path}",
  "#{query}" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html).
- A fixed response's ContentType is one of text/plain, text/css, text/html, application/javascript,
  application/json; its body at most 1024 characters.
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.services.elbv2 import errors
from conveyor.services.elbv2.catalog import TARGET_GROUP, Catalog

TYPES = ("forward", "redirect", "fixed-response")
CONTENT_TYPES = ("text/plain", "text/css", "text/html", "application/javascript", "application/json")
_FIXED_STATUS = re.compile(r"^(2|4|5)\d\d$")


def check_actions(catalog: Catalog, region: str, balancer: dict[str, Any], given: list[dict[str, Any]],
                  member: str = "actions") -> list[dict[str, Any]]:
    if not given:
        raise errors.validation(f"At least one {'default ' if member == 'defaultActions' else ''}action must be "
                                "specified")
    out = []
    for index, action in enumerate(given, 1):
        kind = action.get("Type")
        if kind not in TYPES:
            if kind in ("authenticate-oidc", "authenticate-cognito"):
                raise errors.unsupported(f"{kind} actions")
            raise errors.validation(f"1 validation error detected: Value '{kind}' at '{member}.{index}.member.type' "
                                    "failed to satisfy constraint: Member must satisfy enum value set: "
                                    "[forward, redirect, fixed-response, authenticate-cognito, authenticate-oidc]")
        if kind == "forward":
            out.append(_forward(catalog, region, balancer, action))
        elif kind == "redirect":
            out.append(_redirect(action))
        else:
            out.append(_fixed(action))
        if action.get("Order") is not None:
            out[-1]["Order"] = action["Order"]
    if len(out) > 1:
        orders = [a.get("Order") for a in out]
        if any(o is None for o in orders) or len(set(orders)) != len(orders):
            raise errors.validation("Each action must have a unique order when more than one action is specified")
        out.sort(key=lambda a: int(a["Order"]))
    return out


def _forward(catalog: Catalog, region: str, balancer: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    config = dict(action.get("ForwardConfig") or {})
    weighted = [dict(g) for g in config.get("TargetGroups") or []]
    single = action.get("TargetGroupArn")
    if single and weighted and (len(weighted) > 1 or weighted[0]["TargetGroupArn"] != single):
        raise errors.validation("You cannot specify both a target group ARN and a forward config with different "
                                "target groups")
    if not single and not weighted:
        raise errors.validation("A target group ARN must be specified")
    groups = [{"TargetGroupArn": g["TargetGroupArn"], "Weight": int(g.get("Weight", 1))} for g in weighted] or \
        [{"TargetGroupArn": single, "Weight": 1}]
    if len(groups) > 5:
        raise errors.validation("You can specify at most 5 target groups in a forward action")
    for entry in groups:
        arn = str(entry["TargetGroupArn"])
        group = catalog.get(arn, TARGET_GROUP, region)
        if group is None:
            raise errors.action_target_group_not_found(arn)
        if not 0 <= entry["Weight"] <= 999:
            raise errors.validation("Target group weight must be between 0 and 999")
        _compatible(balancer, group.doc)
    stickiness = dict(config.get("TargetGroupStickinessConfig") or {"Enabled": False})
    if stickiness.get("Enabled") and len(groups) > 1 and not stickiness.get("DurationSeconds"):
        raise errors.validation("A duration must be specified when target group stickiness is enabled")
    out: dict[str, Any] = {"Type": "forward"}
    if len(groups) == 1:
        out["TargetGroupArn"] = groups[0]["TargetGroupArn"]
    out["ForwardConfig"] = {"TargetGroups": groups, "TargetGroupStickinessConfig": stickiness}
    return out


def _compatible(balancer: dict[str, Any], group: dict[str, Any]) -> None:
    protocol = group.get("Protocol")
    if balancer["Type"] == "application" and group["TargetType"] != "lambda" and protocol not in ("HTTP", "HTTPS"):
        raise errors.incompatible_protocols(f"The target group '{group['TargetGroupArn']}' has a protocol of "
                                            f"'{protocol}', which is not supported by Application Load Balancers")
    if balancer["Type"] == "network" and (group["TargetType"] == "lambda" or protocol != "TCP"):
        raise errors.incompatible_protocols(f"The target group '{group['TargetGroupArn']}' is not supported by "
                                            "Network Load Balancers")


def _redirect(action: dict[str, Any]) -> dict[str, Any]:
    config = dict(action.get("RedirectConfig") or {})
    if not config.get("StatusCode"):
        raise errors.validation("A redirect action must have a status code")
    out = {"Protocol": config.get("Protocol") or "#{protocol}", "Port": config.get("Port") or "#{port}",
           "Host": config.get("Host") or "#{host}", "Path": config.get("Path") or "/#{path}",
           "Query": config.get("Query", "#{query}"), "StatusCode": config["StatusCode"]}
    if out["Protocol"] not in ("HTTP", "HTTPS", "#{protocol}"):
        raise errors.validation(f"Redirect protocol '{out['Protocol']}' must be one of 'HTTP, HTTPS, #{{protocol}}'")
    if (out["Protocol"], out["Port"], out["Host"], out["Path"], out["Query"]) == (
            "#{protocol}", "#{port}", "#{host}", "/#{path}", "#{query}"):
        raise errors.invalid_action("The redirect must change at least one of protocol, port, host, path or query, "
                                    "so that it does not loop")
    return {"Type": "redirect", "RedirectConfig": out}


def _fixed(action: dict[str, Any]) -> dict[str, Any]:
    config = dict(action.get("FixedResponseConfig") or {})
    status = str(config.get("StatusCode") or "")
    if not _FIXED_STATUS.match(status):
        raise errors.validation(f"1 validation error detected: Value '{status}' at "
                                "'actions.1.member.fixedResponseConfig.statusCode' failed to satisfy constraint: Member "
                                "must satisfy regular expression pattern: ^(2|4|5)\\d\\d$")
    content_type = config.get("ContentType")
    if content_type is not None and content_type not in CONTENT_TYPES:
        raise errors.invalid_action("The ContentType must be one of:'text/html', 'application/json', "
                                    "'application/javascript', 'text/css', 'text/plain'")
    out: dict[str, Any] = {"StatusCode": status}
    if config.get("MessageBody") is not None:
        out["MessageBody"] = config["MessageBody"]
    out["ContentType"] = content_type or "text/plain"
    return {"Type": "fixed-response", "FixedResponseConfig": out}
