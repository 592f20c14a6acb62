"""A DistributionConfig as CloudFront accepts it: its quantities checked, its references resolved, what
the edge cannot honour refused, and the defaults CloudFront fills in written out (GetDistributionConfig
answers the whole document, not only what was sent).
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from conveyor.services.cloudfront.errors import fault, invalid_argument
from conveyor.services.cloudfront.managed_policies import MANAGED

# The S3 origin domain forms: `BUCKET.s3.amazonaws.com`, `BUCKET.s3.REGION.amazonaws.com`,
# `BUCKET.s3-REGION.amazonaws.com`, and the local ones, `BUCKET.s3.localhost` and LocalStack's.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistS3AndCustomOrigins.html
_S3_DOMAIN = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])\.(?:s3(?:[.-][a-z]{2}(?:-[a-z]+)+-\d+)?"
                        r"\.amazonaws\.com|s3(?:\.[a-z]{2}(?:-[a-z]+)+-\d+)?\.localhost"
                        r"(?:\.localstack\.cloud)?)$")
# Which methods a cache behavior may allow and cache: exactly these sets.
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_AllowedMethods.html
_READ_METHODS = [frozenset({"GET", "HEAD"}), frozenset({"GET", "HEAD", "OPTIONS"})]
_ALL_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"})
# Status codes a custom error response may catch, and answer with.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/GeneratingCustomErrorResponses.html
ERROR_CODES = {400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504}
RESPONSE_CODES = {200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504}
DEFAULT_ERROR_CACHING_TTL = 10
# The TTLs a legacy cache behavior (ForwardedValues, no cache policy) gets when it names none.
LEGACY_TTLS = {"MinTTL": 0, "DefaultTTL": 86_400, "MaxTTL": 31_536_000}


def s3_bucket(domain: str) -> str | None:
    """The bucket an S3 origin's domain names; None when it names none."""
    match = _S3_DOMAIN.match(domain.lower().rstrip("."))
    return match["bucket"] if match else None


def check_quantities(value: Any, path: str = "") -> None:
    """Every `Quantity` must count its `Items`. https://docs.aws.amazon.com/cloudfront/latest/APIReference/
    API_CreateDistribution.html (InconsistentQuantities)"""
    if isinstance(value, Mapping):
        if "Quantity" in value:
            items = value.get("Items") or []
            if value["Quantity"] != len(items):
                raise fault("InconsistentQuantities", f"The value of Quantity and the size of Items don't match "
                            f"({path or 'the document'}: Quantity {value['Quantity']}, {len(items)} items).")
        for key, item in value.items():
            check_quantities(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            check_quantities(item, path)


def _off(value: Any) -> bool:
    """An optional feature left off: absent, `Enabled: false`, or `Quantity: 0`."""
    if not value:
        return True
    if isinstance(value, Mapping):
        return not value.get("Enabled", False) and not value.get("Quantity", 0)
    return False


def _refuse(what: str) -> None:
    raise invalid_argument(f"Conveyor's edge does not serve {what}; leave it out of the distribution's "
                           "configuration.")


def normalize(config: Mapping[str, Any], access_controls: Mapping[str, Any],
              cache_policies: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as stored and answered: checked, with CloudFront's defaults written out."""
    check_quantities(config)
    out = copy.deepcopy(dict(config))
    for name, what in (("OriginGroups", "origin groups (failover)"), ("Logging", "standard logging"),
                       ("ContinuousDeploymentPolicyId", "continuous deployment"), ("WebACLId", "AWS WAF web ACLs"),
                       ("AnycastIpListId", "Anycast static IP lists"), ("TenantConfig", "multi-tenant settings"),
                       ("ConnectionFunctionAssociation", "connection functions"),
                       ("ViewerMtlsConfig", "mutual TLS")):
        if not _off(out.get(name)):
            _refuse(what)
    if out.get("Staging"):
        _refuse("staging distributions")
    if out.get("ConnectionMode", "direct") != "direct":
        _refuse("multi-tenant distributions")
    if not _off(out.get("Aliases")):
        # Alternate domain names need a certificate that proves them; Conveyor's edge has none to attach.
        raise fault("InvalidViewerCertificate", "To add an alternate domain name (CNAME) to a CloudFront "
                    "distribution, you must attach a trusted certificate that validates your authorization to "
                    "use the domain name.")
    restriction = (out.get("Restrictions") or {}).get("GeoRestriction") or {}
    if restriction.get("RestrictionType", "none") != "none":
        _refuse("geographic restrictions (every viewer of a local edge is in the same place)")
    root = out.get("DefaultRootObject") or ""
    if root.startswith("/") or len(root) > 255 or any(c in root for c in "\r\n\t"):
        raise fault("InvalidDefaultRootObject")
    origins = out["Origins"].get("Items") or []
    if not origins:
        raise invalid_argument("The parameter Origins must contain at least one origin.")
    seen: set[str] = set()
    for origin in origins:
        _origin(origin, access_controls)
        if origin["Id"] in seen:
            raise invalid_argument(f"The parameter Origin Id must be unique: {origin['Id']} is used twice.")
        seen.add(origin["Id"])
    _behavior(out["DefaultCacheBehavior"], seen, cache_policies)
    for behavior in (out.get("CacheBehaviors") or {}).get("Items") or []:
        if not behavior.get("PathPattern"):
            raise invalid_argument("The parameter PathPattern is required for each cache behavior.")
        _behavior(behavior, seen, cache_policies)
    for response in (out.get("CustomErrorResponses") or {}).get("Items") or []:
        _error_response(response)
    return _with_defaults(out)


def _origin(origin: dict[str, Any], access_controls: Mapping[str, Any]) -> None:
    if origin.get("CustomOriginConfig") or origin.get("VpcOriginConfig"):
        _refuse("custom or VPC origins (it serves S3 origins)")
    if not _off(origin.get("CustomHeaders")):
        _refuse("custom origin headers")
    if not _off(origin.get("OriginShield")):
        _refuse("Origin Shield")
    if s3_bucket(origin["DomainName"]) is None:
        raise fault("InvalidOrigin", f"The Amazon S3 origin server specified does not refer to a valid Amazon S3 "
                    f"bucket: {origin['DomainName']} (use BUCKET.s3.REGION.amazonaws.com or BUCKET.s3.localhost).")
    s3 = origin.setdefault("S3OriginConfig", {"OriginAccessIdentity": ""})
    oac_id = origin.get("OriginAccessControlId") or ""
    if s3.get("OriginAccessIdentity"):
        if oac_id:
            raise fault("IllegalOriginAccessConfiguration")
        _refuse("origin access identities (the legacy OAI): use origin access control")
    path = origin.get("OriginPath") or ""
    if path and (not path.startswith("/") or path.endswith("/")):
        raise invalid_argument("The parameter OriginPath must begin with a slash (/) and must not end with one.")
    if oac_id:
        oac = access_controls.get(oac_id)
        if oac is None or oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] != "s3":
            raise fault("InvalidOriginAccessControl", f"The origin access control {oac_id} does not exist or is "
                        "not for S3 origins.")


def _behavior(behavior: dict[str, Any], origins: set[str], cache_policies: Mapping[str, Any]) -> None:
    if behavior["TargetOriginId"] not in origins:
        raise invalid_argument(f"The parameter TargetOriginId refers to an origin that does not exist: "
                               f"{behavior['TargetOriginId']}.")
    for name, what in (("TrustedSigners", "signed URLs (trusted signers)"), ("TrustedKeyGroups",
                       "signed URLs (trusted key groups)"), ("LambdaFunctionAssociations", "Lambda@Edge"),
                       ("FunctionAssociations", "CloudFront Functions"), ("FieldLevelEncryptionId",
                       "field-level encryption"), ("RealtimeLogConfigArn", "real-time logs"),
                       ("OriginRequestPolicyId", "origin request policies"),
                       ("ResponseHeadersPolicyId", "response headers policies"), ("GrpcConfig", "gRPC")):
        if not _off(behavior.get(name)):
            _refuse(what)
    if behavior.get("SmoothStreaming"):
        _refuse("Smooth Streaming")
    allowed = behavior.get("AllowedMethods")
    if allowed:
        methods = frozenset(allowed.get("Items") or [])
        if methods == _ALL_METHODS:
            _refuse("writes through the edge (AllowedMethods with PUT, POST, PATCH, DELETE)")
        if methods not in _READ_METHODS:
            raise invalid_argument(f"The parameter AllowedMethods is invalid: {sorted(methods)}.")
        cached = frozenset((allowed.get("CachedMethods") or {}).get("Items") or ["GET", "HEAD"])
        if cached not in _READ_METHODS or not cached <= methods:
            raise invalid_argument(f"The parameter CachedMethods is invalid: {sorted(cached)}.")
    policy_id = behavior.get("CachePolicyId")
    legacy = behavior.get("ForwardedValues")
    if policy_id:
        if legacy is not None or any(behavior.get(t) is not None for t in LEGACY_TTLS):
            raise invalid_argument("The parameter ForwardedValues, MinTTL, DefaultTTL and MaxTTL cannot be used "
                                   "with a cache policy (CachePolicyId).")
        if policy_id not in MANAGED and policy_id not in cache_policies:
            raise fault("NoSuchCachePolicy", f"The cache policy does not exist: {policy_id}.")
        return
    if legacy is None:
        raise invalid_argument("The parameter ForwardedValues is required when a cache behavior has no "
                               "CachePolicyId.")
    for name, value in LEGACY_TTLS.items():
        behavior.setdefault(name, value)
    if not behavior["MinTTL"] <= behavior["DefaultTTL"] <= behavior["MaxTTL"]:
        raise fault("InvalidTTLOrder")


def _error_response(response: dict[str, Any]) -> None:
    if response["ErrorCode"] not in ERROR_CODES:
        raise fault("InvalidErrorCode", f"An invalid error code was specified: {response['ErrorCode']}.")
    page, code = response.get("ResponsePagePath"), response.get("ResponseCode")
    if page and not page.startswith("/"):
        raise fault("InvalidRelativePath")
    if bool(page) != bool(code):
        raise invalid_argument("The parameters ResponsePagePath and ResponseCode must be given together.")
    if code and (not code.isdigit() or int(code) not in RESPONSE_CODES):
        raise fault("InvalidResponseCode", f"A response code is not valid: {code}.")
    ttl = response.get("ErrorCachingMinTTL")
    if ttl is not None and ttl < 0:
        raise invalid_argument("The parameter ErrorCachingMinTTL must not be negative.")


_EMPTY = {"Quantity": 0}
_OFF = {"Enabled": False, "Quantity": 0}


def _with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    config.setdefault("Aliases", dict(_EMPTY))
    config.setdefault("DefaultRootObject", "")
    config.setdefault("OriginGroups", dict(_EMPTY))
    config.setdefault("CacheBehaviors", dict(_EMPTY))
    config.setdefault("CustomErrorResponses", dict(_EMPTY))
    config.setdefault("Logging", {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""})
    config.setdefault("PriceClass", "PriceClass_All")
    config.setdefault("ViewerCertificate", {"CloudFrontDefaultCertificate": True, "SSLSupportMethod": "vip",
                                            "MinimumProtocolVersion": "TLSv1", "CertificateSource": "cloudfront"})
    config.setdefault("Restrictions", {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}})
    config.setdefault("WebACLId", "")
    config.setdefault("HttpVersion", "http2")
    config.setdefault("IsIPV6Enabled", True)
    config.setdefault("Staging", False)
    for origin in config["Origins"]["Items"]:
        origin.setdefault("OriginPath", "")
        origin.setdefault("CustomHeaders", dict(_EMPTY))
        origin.setdefault("ConnectionAttempts", 3)
        origin.setdefault("ConnectionTimeout", 10)
        origin.setdefault("OriginShield", {"Enabled": False})
        origin.setdefault("OriginAccessControlId", "")
    for behavior in [config["DefaultCacheBehavior"], *(config["CacheBehaviors"].get("Items") or [])]:
        behavior.setdefault("TrustedSigners", dict(_OFF))
        behavior.setdefault("TrustedKeyGroups", dict(_OFF))
        behavior.setdefault("AllowedMethods", {"Quantity": 2, "Items": ["HEAD", "GET"],
                                               "CachedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]}})
        behavior["AllowedMethods"].setdefault("CachedMethods", {"Quantity": 2, "Items": ["HEAD", "GET"]})
        behavior.setdefault("SmoothStreaming", False)
        behavior.setdefault("Compress", False)
        behavior.setdefault("LambdaFunctionAssociations", dict(_EMPTY))
        behavior.setdefault("FunctionAssociations", dict(_EMPTY))
        behavior.setdefault("FieldLevelEncryptionId", "")
    for response in config["CustomErrorResponses"].get("Items") or []:
        response.setdefault("ResponsePagePath", "")
        response.setdefault("ResponseCode", "")
        response.setdefault("ErrorCachingMinTTL", DEFAULT_ERROR_CACHING_TTL)
    return config
