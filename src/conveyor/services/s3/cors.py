"""Bucket CORS rules: validation, preflight answers and headers on actual browser requests.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html
"""

from __future__ import annotations

import fnmatch
from typing import Any

from conveyor.wire import Headers, ServiceError

METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}


def validate(rules: list[dict[str, Any]]) -> None:
    if not rules or len(rules) > 100:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                           "our published schema", 400)
    for rule in rules:
        for method in rule.get("AllowedMethods") or []:
            if method not in METHODS:
                raise ServiceError("InvalidRequest", f"Found unsupported HTTP method in CORS config. Unsupported "
                                   f"method is {method}", 400)
        if not rule.get("AllowedOrigins") or not rule.get("AllowedMethods"):
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)


def _match(rules: list[dict[str, Any]] | None, origin: str, method: str,
           headers: list[str]) -> dict[str, Any] | None:
    for rule in rules or []:
        if method not in (rule.get("AllowedMethods") or []):
            continue
        if not any(fnmatch.fnmatchcase(origin, o) for o in rule.get("AllowedOrigins") or []):
            continue
        allowed = [h.lower() for h in rule.get("AllowedHeaders") or []]
        if all(any(fnmatch.fnmatchcase(h.lower(), a) for a in allowed) for h in headers):
            return rule
    return None


def _headers(rule: dict[str, Any], origin: str, request_headers: list[str]) -> list[tuple[str, str]]:
    wildcard = "*" in (rule.get("AllowedOrigins") or [])
    out = [("Access-Control-Allow-Origin", "*" if wildcard else origin),
           ("Access-Control-Allow-Methods", ", ".join(rule.get("AllowedMethods") or []))]
    if not wildcard:
        out.append(("Access-Control-Allow-Credentials", "true"))
    out.append(("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"))
    if request_headers:
        out.append(("Access-Control-Allow-Headers", ", ".join(request_headers)))
    if rule.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    return out


def preflight(rules: list[dict[str, Any]] | None, headers: Headers) -> list[tuple[str, str]]:
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    if not origin or not method:
        raise ServiceError("BadRequest", "Insufficient information. Origin request header needed.", 400)
    if not rules:
        raise ServiceError("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", 403)
    requested = [h.strip() for h in (headers.get("access-control-request-headers") or "").split(",") if h.strip()]
    rule = _match(rules, origin, method, requested)
    if rule is None:
        raise ServiceError("AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually "
                           "because the evalution of Origin, request method / Access-Control-Request-Method or "
                           "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.", 403)
    return _headers(rule, origin, requested)


def response_headers(rules: list[dict[str, Any]] | None, origin: str, method: str) -> list[tuple[str, str]]:
    rule = _match(rules, origin, method, [])
    return _headers(rule, origin, []) if rule else []
