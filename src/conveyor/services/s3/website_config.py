"""A bucket's static website configuration: PutBucketWebsite / GetBucketWebsite / DeleteBucketWebsite,
checked as AWS checks it. The website endpoint that serves it is website.py.

A configuration either redirects every request (RedirectAllRequestsTo, alone) or names an index document
(a suffix without a slash), optionally an error document and up to 50 routing rules, each with a
Redirect and, optionally, a Condition (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketWebsite.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-page-redirect.html#advanced-conditional-redirects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        DeleteBucketWebsiteRequestTypeDef,
        GetBucketWebsiteRequestTypeDef,
        PutBucketWebsiteRequestTypeDef,
    )

MAX_ROUTING_RULES = 50
PROTOCOLS = ("http", "https")
_REDIRECT_MEMBERS = ("HostName", "HttpRedirectCode", "Protocol", "ReplaceKeyPrefixWith", "ReplaceKeyWith")


def _invalid(message: str, name: str | None = None, value: Any = None) -> ServiceError:
    extra = {"ArgumentName": name, "ArgumentValue": str(value)} if name else {}
    return ServiceError("InvalidArgument", message, 400, extra=extra)


def _check_redirect(redirect: dict[str, Any]) -> None:
    if not any(redirect.get(name) for name in _REDIRECT_MEMBERS):
        raise _invalid("A redirect must specify at least one of HostName, HttpRedirectCode, Protocol, "
                       "ReplaceKeyPrefixWith or ReplaceKeyWith")
    if redirect.get("ReplaceKeyPrefixWith") is not None and redirect.get("ReplaceKeyWith") is not None:
        raise _invalid("You can only define ReplaceKeyPrefix or ReplaceKey but not both.")
    if redirect.get("Protocol") is not None and redirect["Protocol"] not in PROTOCOLS:
        raise _invalid("Invalid protocol, protocol can be http or https. If not defined the protocol will be "
                       "selected automatically.", "Protocol", redirect["Protocol"])
    code = redirect.get("HttpRedirectCode")
    if code is not None and (not str(code).isdigit() or not 300 <= int(code) <= 399 or int(code) == 300):
        raise _invalid("The provided HTTP redirect code (" + str(code) + ") is not valid. Valid codes are 3XX "
                       "except 300.", "HttpRedirectCode", code)


def _check_rule(rule: dict[str, Any]) -> None:
    if not rule.get("Redirect"):
        raise malformed_xml()
    _check_redirect(rule["Redirect"])
    condition = rule.get("Condition")
    if condition is not None:
        if condition.get("KeyPrefixEquals") is None and condition.get("HttpErrorCodeReturnedEquals") is None:
            raise _invalid("Condition cannot be empty. To redirect all requests without a condition, the condition "
                           "element shouldn't be present.")
        code = condition.get("HttpErrorCodeReturnedEquals")
        if code is not None and (not str(code).isdigit() or not 400 <= int(code) <= 599):
            raise _invalid("The provided HTTP error code (" + str(code) + ") is not valid. Valid codes are 4XX or "
                           "5XX.", "HttpErrorCodeReturnedEquals", code)


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as stored and read back, or AWS's error for its first mistake."""
    config = {k: v for k, v in config.items() if v is not None}
    redirect_all = config.get("RedirectAllRequestsTo")
    if redirect_all is not None:
        if any(config.get(name) for name in ("IndexDocument", "ErrorDocument", "RoutingRules")):
            raise _invalid("RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
                           "RedirectAllRequestsTo")
        if not redirect_all.get("HostName"):
            raise malformed_xml()
        if redirect_all.get("Protocol") is not None and redirect_all["Protocol"] not in PROTOCOLS:
            raise _invalid("Invalid protocol, protocol can be http or https. If not defined the protocol will be "
                           "selected automatically.", "Protocol", redirect_all["Protocol"])
        return {"RedirectAllRequestsTo": dict(redirect_all)}
    suffix = (config.get("IndexDocument") or {}).get("Suffix")
    if not suffix:
        raise _invalid("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
                       "IndexDocument")
    if "/" in suffix:
        raise _invalid("The IndexDocument Suffix is not well formed", "IndexDocument", suffix)
    if "ErrorDocument" in config and not (config["ErrorDocument"] or {}).get("Key"):
        raise _invalid("The ErrorDocument Key is not well formed", "ErrorDocument")
    rules = config.get("RoutingRules")
    if rules is not None:
        if not rules or len(rules) > MAX_ROUTING_RULES:
            raise _invalid("The number of routing rules must be between 1 and 50", "RoutingRules")
        for rule in rules:
            _check_rule(rule)
    return config


class WebsiteOperations:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def PutBucketWebsite(self, ctx: RequestContext, params: PutBucketWebsiteRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        self.core.require_bucket(name)
        config = validate(dict(params["WebsiteConfiguration"]))
        await self.core.update_setting(name, "website", config)
        return {}

    async def GetBucketWebsite(self, ctx: RequestContext, params: GetBucketWebsiteRequestTypeDef) -> dict[str, Any]:
        config: dict[str, Any] = self.core.get_setting(params["Bucket"], "website", "NoSuchWebsiteConfiguration",
                                                       "The specified bucket does not have a website configuration")
        return config

    async def DeleteBucketWebsite(self, ctx: RequestContext,
                                  params: DeleteBucketWebsiteRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "website", None)
        return {"__status": 204}
