"""AWS::CloudFront::Distribution and AWS::CloudFront::OriginAccessControl.

A distribution's template form differs from the API's: lists are plain lists where the API wraps them in
{Quantity, Items}, and a few names differ (IPV6Enabled, AcmCertificateArn). The template is turned into the
API's form key by key; a key the translation does not know is refused (botocore's serializer would drop it
silently otherwise), and CloudFront refuses, with its own error, what its edge cannot honour.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudfront-distribution.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudfront-distribution-distributionconfig.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudfront-originaccesscontrol.html
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_bool,
    as_int,
    ignore_missing,
    tag_list,
)
from conveyor.wire import ServiceError

_GONE = ("NoSuchDistribution", "NoSuchOriginAccessControl")

Convert = Callable[[Any, str], Any]


def _listed(convert_item: Convert | None = None) -> Convert:
    """A plain list in the template, {Quantity, Items} in the API."""
    def convert(value: Any, where: str) -> Any:
        items = [convert_item(item, where) if convert_item else item for item in value or []]
        return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}
    return convert


def _text(value: Any, where: str) -> Any:
    return str(value)


def _integer(value: Any, where: str) -> Any:
    return as_int(value, where)


def _boolean(value: Any, where: str) -> Any:
    return as_bool(value)


def _passed(value: Any, where: str) -> Any:
    return value


def _shape(fields: dict[str, tuple[str, Convert]]) -> Convert:
    """An object whose template keys map to API keys, each through its conversion; unknown keys refused."""
    def convert(value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            raise ResourceFailure(f"Properties validation failed for resource with message: #/{where}: "
                                  f"expected type: JSONObject")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in fields:
                raise ResourceFailure(f"Conveyor does not support the property {where}/{key} of "
                                      f"AWS::CloudFront::Distribution")
            api_key, conversion = fields[key]
            out[api_key] = conversion(item, f"{where}/{key}")
        return out
    return convert


def _same(**conversions: Convert) -> dict[str, tuple[str, Convert]]:
    return {key: (key, conversion) for key, conversion in conversions.items()}


_FORWARDED_VALUES = _shape({
    **_same(QueryString=_boolean, Headers=_listed(), QueryStringCacheKeys=_listed()),
    "Cookies": ("Cookies", _shape({"Forward": ("Forward", _text), "WhitelistedNames": ("WhitelistedNames", _listed())})),
})
_FUNCTION_ASSOCIATION = _shape(_same(EventType=_text, FunctionARN=_text))
_LAMBDA_ASSOCIATION = _shape(_same(EventType=_text, LambdaFunctionARN=_text, IncludeBody=_boolean))


def _methods(behavior: dict[str, Any], out: dict[str, Any], where: str) -> None:
    """AllowedMethods and CachedMethods are siblings in the template; the API nests CachedMethods inside
    AllowedMethods. The template's defaults are GET and HEAD for both."""
    allowed = behavior.get("AllowedMethods") or ["GET", "HEAD"]
    cached = behavior.get("CachedMethods") or ["GET", "HEAD"]
    out["AllowedMethods"] = {**_listed()(allowed, where), "CachedMethods": _listed()(cached, where)}


_BEHAVIOR_FIELDS: dict[str, tuple[str, Convert]] = {
    **_same(TargetOriginId=_text, ViewerProtocolPolicy=_text, CachePolicyId=_text, OriginRequestPolicyId=_text,
            ResponseHeadersPolicyId=_text, Compress=_boolean, ForwardedValues=_FORWARDED_VALUES, MinTTL=_integer,
            DefaultTTL=_integer, MaxTTL=_integer, SmoothStreaming=_boolean, FieldLevelEncryptionId=_text,
            RealtimeLogConfigArn=_text, PathPattern=_text, TrustedSigners=_listed(), TrustedKeyGroups=_listed(),
            FunctionAssociations=_listed(_FUNCTION_ASSOCIATION),
            LambdaFunctionAssociations=_listed(_LAMBDA_ASSOCIATION)),
}


def _behavior(value: Any, where: str) -> Any:
    given = dict(value or {})
    rest = {k: v for k, v in given.items() if k not in ("AllowedMethods", "CachedMethods")}
    out: dict[str, Any] = _shape(_BEHAVIOR_FIELDS)(rest, where)
    _methods(given, out, where)
    return out


_ORIGIN = _shape({
    **_same(Id=_text, DomainName=_text, OriginPath=_text, OriginAccessControlId=_text, ConnectionAttempts=_integer,
            ConnectionTimeout=_integer, OriginShield=_passed),
    "S3OriginConfig": ("S3OriginConfig", _shape(_same(OriginAccessIdentity=_text, OriginReadTimeout=_integer))),
    "CustomOriginConfig": ("CustomOriginConfig", _shape({
        **_same(HTTPPort=_integer, HTTPSPort=_integer, OriginProtocolPolicy=_text, OriginReadTimeout=_integer,
                OriginKeepaliveTimeout=_integer, IpAddressType=_text),
        "OriginSSLProtocols": ("OriginSslProtocols", _listed())})),
    "OriginCustomHeaders": ("CustomHeaders", _listed(_shape(_same(HeaderName=_text, HeaderValue=_text)))),
})


def _origin(value: Any, where: str) -> Any:
    out = _ORIGIN(value, where)
    # An S3 origin without an identity names an empty one in the API (OAC, or a public bucket).
    if "S3OriginConfig" in out:
        out["S3OriginConfig"].setdefault("OriginAccessIdentity", "")
    out.setdefault("OriginPath", "")
    return out


def _restrictions(value: Any, where: str) -> Any:
    geo = dict((value or {}).get("GeoRestriction") or {})
    locations = geo.pop("Locations", None) or []
    restriction = {"RestrictionType": str(geo.pop("RestrictionType", "none")), **_listed()(locations, where)}
    if geo or set(value or {}) - {"GeoRestriction"}:
        raise ResourceFailure(f"Conveyor does not support the property {where} as given of AWS::CloudFront::Distribution")
    return {"GeoRestriction": restriction}


def _logging(value: Any, where: str) -> Any:
    out = _shape(_same(Bucket=_text, IncludeCookies=_boolean, Prefix=_text))(value, where)
    return {"Enabled": True, "IncludeCookies": out.get("IncludeCookies", False), "Bucket": out.get("Bucket", ""),
            "Prefix": out.get("Prefix", "")}


_CONFIG = _shape({
    **_same(Comment=_text, DefaultRootObject=_text, Enabled=_boolean, HttpVersion=_text, PriceClass=_text,
            WebACLId=_text, OriginGroups=_passed, ContinuousDeploymentPolicyId=_text, Staging=_boolean),
    "Aliases": ("Aliases", _listed()),
    "CacheBehaviors": ("CacheBehaviors", _listed(_behavior)),
    "CustomErrorResponses": ("CustomErrorResponses", _listed(_shape(_same(
        ErrorCode=_integer, ResponseCode=_text, ResponsePagePath=_text, ErrorCachingMinTTL=_integer)))),
    "DefaultCacheBehavior": ("DefaultCacheBehavior", _behavior),
    "IPV6Enabled": ("IsIPV6Enabled", _boolean),
    "Logging": ("Logging", _logging),
    "Origins": ("Origins", _listed(_origin)),
    "Restrictions": ("Restrictions", _restrictions),
    "ViewerCertificate": ("ViewerCertificate", _shape({
        **_same(CloudFrontDefaultCertificate=_boolean, MinimumProtocolVersion=_text, SslSupportMethod=_text),
        "AcmCertificateArn": ("ACMCertificateArn", _text), "IamCertificateId": ("IAMCertificateId", _text)})),
})


def distribution_config(value: Any, caller_reference: str) -> dict[str, Any]:
    """The template's DistributionConfig as the API's, under the distribution's CallerReference."""
    config: dict[str, Any] = _CONFIG(value, "DistributionConfig")
    config.setdefault("Comment", "")
    config["CallerReference"] = caller_reference
    return config


class Distribution(ResourceType):
    """Ref is the distribution's id. Its configuration changes in place; deleting it disables it first, as
    CloudFront deletes only disabled distributions."""

    type_name = "AWS::CloudFront::Distribution"
    properties = frozenset({"DistributionConfig", "Tags"})
    required = frozenset({"DistributionConfig"})

    @staticmethod
    def _made(distribution: dict[str, Any]) -> Made:
        return Made(distribution["Id"], {"Id": distribution["Id"], "DomainName": distribution["DomainName"]})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        config = distribution_config(properties["DistributionConfig"], f"{target.logical_id}-{secrets.token_hex(8)}")
        if properties.get("Tags"):
            made = await target.call("cloudfront", "CreateDistributionWithTags", {"DistributionConfigWithTags": {
                "DistributionConfig": config, "Tags": {"Items": tag_list(properties["Tags"])}}})
        else:
            made = await target.call("cloudfront", "CreateDistribution", {"DistributionConfig": config})
        return self._made(made["Distribution"])

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        distribution_id = current.physical_id
        if old.get("DistributionConfig") != new.get("DistributionConfig"):
            found = await target.call("cloudfront", "GetDistributionConfig", {"Id": distribution_id})
            config = distribution_config(new["DistributionConfig"], found["DistributionConfig"]["CallerReference"])
            await target.call("cloudfront", "UpdateDistribution", {"Id": distribution_id, "IfMatch": found["ETag"],
                                                                   "DistributionConfig": config})
        if old.get("Tags") != new.get("Tags"):
            arn = f"arn:aws:cloudfront::{target.account}:distribution/{distribution_id}"
            gone = sorted(t["Key"] for t in tag_list(old.get("Tags")) if t["Key"] not in
                          {n["Key"] for n in tag_list(new.get("Tags"))})
            if gone:
                await target.call("cloudfront", "UntagResource", {"Resource": arn, "TagKeys": {"Items": gone}})
            if new.get("Tags"):
                await target.call("cloudfront", "TagResource", {"Resource": arn,
                                                                "Tags": {"Items": tag_list(new["Tags"])}})
        return self._made((await target.call("cloudfront", "GetDistribution", {"Id": distribution_id}))["Distribution"])

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        distribution_id = current.physical_id
        try:
            found = await target.api.call("cloudfront", "GetDistributionConfig", {"Id": distribution_id}, target.region)
        except ServiceError:  # a distribution already gone has nothing to delete
            return
        etag, config = found["ETag"], found["DistributionConfig"]
        if config.get("Enabled"):
            updated = await target.call("cloudfront", "UpdateDistribution", {
                "Id": distribution_id, "IfMatch": etag, "DistributionConfig": {**config, "Enabled": False}})
            etag = updated["ETag"]
        await ignore_missing(target, "cloudfront", "DeleteDistribution", {"Id": distribution_id, "IfMatch": etag},
                             *_GONE)


class OriginAccessControl(ResourceType):
    """Ref is the control's id; its configuration changes in place."""

    type_name = "AWS::CloudFront::OriginAccessControl"
    properties = frozenset({"OriginAccessControlConfig"})
    required = properties
    _FIELDS = ("Name", "Description", "OriginAccessControlOriginType", "SigningBehavior", "SigningProtocol")

    def _config(self, properties: dict[str, Any]) -> dict[str, Any]:
        given = dict(properties["OriginAccessControlConfig"])
        unknown = sorted(set(given) - set(self._FIELDS))
        if unknown:
            raise ResourceFailure(f"Conveyor does not support the property OriginAccessControlConfig/{unknown[0]} of "
                                  f"{self.type_name}")
        return {key: str(value) for key, value in given.items()}

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        made = await target.call("cloudfront", "CreateOriginAccessControl", {
            "OriginAccessControlConfig": self._config(properties)})
        control_id = made["OriginAccessControl"]["Id"]
        return Made(control_id, {"Id": control_id})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        found = await target.call("cloudfront", "GetOriginAccessControl", {"Id": current.physical_id})
        await target.call("cloudfront", "UpdateOriginAccessControl", {
            "Id": current.physical_id, "IfMatch": found["ETag"], "OriginAccessControlConfig": self._config(new)})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        try:
            found = await target.api.call("cloudfront", "GetOriginAccessControl", {"Id": current.physical_id},
                                          target.region)
        except ServiceError:  # already gone
            return
        await ignore_missing(target, "cloudfront", "DeleteOriginAccessControl", {
            "Id": current.physical_id, "IfMatch": found["ETag"]}, *_GONE)
