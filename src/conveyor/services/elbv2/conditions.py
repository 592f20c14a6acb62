"""Rule conditions: checked and written out as DescribeRules answers them, and matched against requests.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
- host-header: case-insensitive, `*` and `?` wildcards; path-pattern: case-sensitive, the same wildcards,
  matched against the path only; http-header: the header's name case-insensitive, values with wildcards,
  case-insensitive; http-request-method: exact and case-sensitive; query-string: key/value pairs (either
  may be omitted: the key then matches any), wildcards, case-insensitive; source-ip: CIDR blocks.
- Values of one condition are ORed, conditions are ANDed. A rule holds at most 5 condition values in all
  (wildcards included) (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
- A host-header or path-pattern condition given with `Values` (the old form) is answered with both
  `Values` and its config.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from conveyor.services.elbv2 import errors

FIELDS = ("host-header", "path-pattern", "http-header", "http-request-method", "query-string", "source-ip")
_CONFIG = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig", "http-header": "HttpHeaderConfig",
           "http-request-method": "HttpRequestMethodConfig", "query-string": "QueryStringConfig",
           "source-ip": "SourceIpConfig"}
_METHOD = re.compile(r"^[A-Z_-]+$")
MAX_VALUES = 5


def check_conditions(given: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    total = 0
    for condition in given:
        field = str(condition.get("Field") or "")
        if field not in FIELDS:
            raise errors.validation(f"Condition field '{field}' must be one of '[{','.join(FIELDS)}]'")
        config_name = _CONFIG[field]
        config = dict(condition.get(config_name) or {})
        values = list(condition.get("Values") or [])
        if values and config and field in ("host-header", "path-pattern"):
            raise errors.validation(f"You cannot provide both Values and '{config_name}' for a condition of type "
                                    f"'{field}'")
        entry: dict[str, Any] = {"Field": field}
        if field in ("host-header", "path-pattern"):
            patterns = values or list(config.get("Values") or [])
            if not patterns:
                raise errors.validation("A condition value must be specified")
            # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RuleCondition.html: the
            # old `Values` form takes a single host name or path.
            if len(values) > 1:
                raise errors.validation(f"The '{field}' field contains too many values; the limit is '1'")
            for pattern in patterns:
                if len(pattern) > 128:
                    raise errors.validation(f"The '{field}' value is too long; the limit is '128'")
            if values:
                entry["Values"] = patterns
            entry[config_name] = {"Values": patterns}
            total += len(patterns)
        elif field == "http-header":
            if not config:
                raise errors.validation(f"A '{config_name}' must be specified with '{field}'")
            name = config.get("HttpHeaderName")
            header_values = list(config.get("Values") or [])
            if not name or not header_values:
                raise errors.validation("A header name and at least one header value must be specified")
            if len(name) > 40:
                raise errors.validation("The 'HttpHeaderName' value is too long; the limit is '40'")
            if any(len(v) > 128 for v in header_values):
                raise errors.validation("The 'http-header' value is too long; the limit is '128'")
            entry[config_name] = {"HttpHeaderName": name, "Values": header_values}
            total += len(header_values)
        elif field == "http-request-method":
            if not config:
                raise errors.validation(f"A '{config_name}' must be specified with '{field}'")
            methods = list(config.get("Values") or [])
            if not methods:
                raise errors.validation(f"A '{field}' value must be specified")
            for method in methods:
                if len(method) > 40:
                    raise errors.validation("The 'http-request-method' value is too long; the limit is '40'")
                if not _METHOD.match(method):
                    raise errors.validation("The 'http-request-method' value is invalid; the allowed characters are "
                                            "A-Z, hyphen and underscore")
            entry[config_name] = {"Values": methods}
            total += len(methods)
        elif field == "query-string":
            if not config:
                raise errors.validation(f"A '{config_name}' must be specified with '{field}'")
            pairs = [dict(p) for p in config.get("Values") or []]
            if not pairs:
                raise errors.validation(f"A '{field}' value must be specified")
            if any(not p.get("Value") for p in pairs):
                raise errors.validation("A 'Value' must be specified in 'QueryStringKeyValuePair'")
            for part in ("Key", "Value"):
                if any(len(str(p.get(part) or "")) > 128 for p in pairs):
                    raise errors.validation(f"The '{part}' value is too long; the limit is '128'")
            entry[config_name] = {"Values": [({"Key": p["Key"]} if p.get("Key") else {}) | {"Value": p["Value"]}
                                             for p in pairs]}
            total += len(pairs)
        else:
            if not config:
                raise errors.validation(f"A '{config_name}' must be specified with '{field}'")
            blocks = list(config.get("Values") or [])
            if not blocks:
                raise errors.validation(f"A '{field}' value must be specified")
            for block in blocks:
                try:
                    ipaddress.ip_network(block, strict=False)
                except ValueError:
                    raise errors.validation(f"The source IP '{block}' is not a valid CIDR block") from None
            entry[config_name] = {"Values": blocks}
            total += len(blocks)
        out.append(entry)
    if total > MAX_VALUES:
        raise errors.validation(
                                f"A rule can only have '{MAX_VALUES}' condition values")
    return out


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, fold: bool) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE if fold else 0)


@dataclass(frozen=True)
class RequestFacts:
    """What conditions look at in one request."""

    method: str
    host: str  # without the port
    path: str  # decoded, without the query
    query: str
    headers: Mapping[str, str]  # lower-case names
    source_ip: str


def matches(conditions: Sequence[Mapping[str, Any]], request: RequestFacts) -> bool:
    return all(_one(c, request) for c in conditions)


def _one(condition: Mapping[str, Any], request: RequestFacts) -> bool:
    field = condition["Field"]
    values = list(condition[_CONFIG[field]]["Values"])
    if field == "host-header":
        return any(_wildcard(v, True).match(request.host) for v in values)
    if field == "path-pattern":
        return any(_wildcard(v, False).match(request.path) for v in values)
    if field == "http-header":
        header = request.headers.get(str(condition["HttpHeaderConfig"]["HttpHeaderName"]).lower())
        return header is not None and any(_wildcard(v, True).match(header) for v in values)
    if field == "http-request-method":
        return request.method in values
    if field == "query-string":
        pairs = parse_qsl(request.query, keep_blank_values=True)
        return any(any((not v.get("Key") or _wildcard(v["Key"], True).match(key)) and
                       _wildcard(v["Value"], True).match(value) for key, value in pairs) for v in values)
    try:
        source = ipaddress.ip_address(request.source_ip)
    except ValueError:
        return False
    return any(source in ipaddress.ip_network(v, strict=False) for v in values)
