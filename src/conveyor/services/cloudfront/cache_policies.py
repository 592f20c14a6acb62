"""Cache policies: the managed ones (managed_policies.py) and custom ones the account makes, which decide
a cached object's TTLs and what of a request goes into its cache key.
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor import ids
from conveyor.services.cloudfront.catalog import CACHE_POLICY, Catalog, new_id, page
from conveyor.services.cloudfront.distribution_config import check_quantities
from conveyor.services.cloudfront.errors import check_if_match, fault, invalid_argument
from conveyor.services.cloudfront.managed_policies import MANAGED, MANAGED_ETAG, MANAGED_MODIFIED
from conveyor.services.cloudfront.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_cloudfront.type_defs import (
        CreateCachePolicyRequestTypeDef,
        DeleteCachePolicyRequestTypeDef,
        GetCachePolicyConfigRequestTypeDef,
        GetCachePolicyRequestTypeDef,
        ListCachePoliciesRequestTypeDef,
        UpdateCachePolicyRequestTypeDef,
    )

    from conveyor.clock import Clock

API = "https://cloudfront.amazonaws.com/2020-05-31/cache-policy"
MAX_NAMES = 10  # headers, cookies or query strings named in one cache key
DAY, YEAR = 86_400, 31_536_000


def policy_config(policy_id: str, catalog: Catalog) -> dict[str, Any] | None:
    """The CachePolicyConfig of a managed or custom policy; None when there is none by that id."""
    if policy_id in MANAGED:
        return MANAGED[policy_id]
    record = catalog.cache_policies.get(policy_id)
    return record["CachePolicyConfig"] if record is not None else None


def _config(sent: Any) -> dict[str, Any]:
    """The config with CloudFront's defaults: DefaultTTL one day (or MinTTL, if more), MaxTTL one year (or
    DefaultTTL, if more); the TTLs in order; at most 10 names of each kind in the key."""
    check_quantities(sent)
    config = dict(sent)
    if not 1 <= len(config["Name"]) <= 128 or not all(c.isalnum() or c in "-_" for c in config["Name"]):
        raise invalid_argument("The cache policy name must be 1 to 128 letters, digits, hyphens and underscores.")
    config.setdefault("Comment", "")
    minimum = config["MinTTL"]
    config.setdefault("DefaultTTL", max(DAY, minimum))
    config.setdefault("MaxTTL", max(YEAR, config["DefaultTTL"]))
    if not 0 <= minimum <= config["DefaultTTL"] <= config["MaxTTL"]:
        raise invalid_argument("The TTLs of a cache policy must be in order: MinTTL <= DefaultTTL <= MaxTTL.")
    parameters = config.setdefault("ParametersInCacheKeyAndForwardedToOrigin", {
        "EnableAcceptEncodingGzip": False, "HeadersConfig": {"HeaderBehavior": "none"},
        "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}})
    parameters.setdefault("EnableAcceptEncodingBrotli", False)
    if config["MaxTTL"] == 0 and (parameters["EnableAcceptEncodingGzip"] or parameters["EnableAcceptEncodingBrotli"]
                                  or parameters["HeadersConfig"]["HeaderBehavior"] != "none"
                                  or parameters["CookiesConfig"]["CookieBehavior"] != "none"
                                  or parameters["QueryStringsConfig"]["QueryStringBehavior"] != "none"):
        # Nothing is cached, so nothing may go into a cache key.
        raise invalid_argument("The parameter ParametersInCacheKeyAndForwardedToOrigin must name nothing when "
                               "caching is disabled (MaxTTL 0).")
    for part, behavior, names, error in (
            ("HeadersConfig", "HeaderBehavior", "Headers", "TooManyHeadersInCachePolicy"),
            ("CookiesConfig", "CookieBehavior", "Cookies", "TooManyCookiesInCachePolicy"),
            ("QueryStringsConfig", "QueryStringBehavior", "QueryStrings", "TooManyQueryStringsInCachePolicy")):
        section = parameters[part]
        items = (section.get(names) or {}).get("Items") or []
        if len(items) > MAX_NAMES:
            raise fault(error)
        if section[behavior] in ("whitelist", "allExcept") and not items:
            raise invalid_argument(f"The parameter {names} is required with {behavior} {section[behavior]}.")
        if section[behavior] in ("none", "all") and items:
            raise invalid_argument(f"The parameter {names} cannot be used with {behavior} {section[behavior]}.")
    return config


class CachePolicyOperations:
    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock

    def _custom(self, policy_id: str) -> dict[str, Any]:
        if policy_id in MANAGED:
            return {}
        record = self.catalog.cache_policies.get(policy_id)
        if record is None:
            raise fault("NoSuchCachePolicy")
        return record

    def _record(self, policy_id: str) -> dict[str, Any]:
        if policy_id in MANAGED:
            return {"Id": policy_id, "ETag": MANAGED_ETAG, "LastModifiedTime": MANAGED_MODIFIED,
                    "CachePolicyConfig": MANAGED[policy_id]}
        return self._custom(policy_id)

    def _unique(self, name: str, other_than: str = "") -> None:
        taken = [c["Name"] for c in MANAGED.values()] + [r["CachePolicyConfig"]["Name"] for r in
                                                        self.catalog.cache_policies.values() if r["Id"] != other_than]
        if name in taken:
            raise fault("CachePolicyAlreadyExists")

    @staticmethod
    def _view(record: dict[str, Any]) -> dict[str, Any]:
        return {"Id": record["Id"], "LastModifiedTime": record["LastModifiedTime"],
                "CachePolicyConfig": record["CachePolicyConfig"]}

    async def CreateCachePolicy(self, ctx: RequestContext, params: CreateCachePolicyRequestTypeDef) -> dict[str, Any]:
        config = _config(params["CachePolicyConfig"])
        self._unique(config["Name"])
        policy_id = ids.uuid4()
        record = {"Id": policy_id, "ETag": new_id("E"), "LastModifiedTime": self.clock.now(),
                  "CachePolicyConfig": config}
        await self.catalog.save(Batch().write(CACHE_POLICY, policy_id, record))
        return {"CachePolicy": self._view(record), "Location": f"{API}/{policy_id}", "ETag": record["ETag"]}

    async def GetCachePolicy(self, ctx: RequestContext, params: GetCachePolicyRequestTypeDef) -> dict[str, Any]:
        record = self._record(params["Id"])
        return {"CachePolicy": self._view(record), "ETag": record["ETag"]}

    async def GetCachePolicyConfig(self, ctx: RequestContext,
                                   params: GetCachePolicyConfigRequestTypeDef) -> dict[str, Any]:
        record = self._record(params["Id"])
        return {"CachePolicyConfig": record["CachePolicyConfig"], "ETag": record["ETag"]}

    async def UpdateCachePolicy(self, ctx: RequestContext, params: UpdateCachePolicyRequestTypeDef) -> dict[str, Any]:
        if params["Id"] in MANAGED:
            raise fault("IllegalUpdate", "The update contains modifications that are not allowed: a managed cache "
                        "policy cannot be changed.")
        record = self._custom(params["Id"])
        check_if_match(params.get("IfMatch"), record["ETag"])
        config = _config(params["CachePolicyConfig"])
        self._unique(config["Name"], record["Id"])
        updated = {**record, "ETag": new_id("E"), "LastModifiedTime": self.clock.now(), "CachePolicyConfig": config}
        await self.catalog.save(Batch().write(CACHE_POLICY, record["Id"], updated))
        return {"CachePolicy": self._view(updated), "ETag": updated["ETag"]}

    async def DeleteCachePolicy(self, ctx: RequestContext, params: DeleteCachePolicyRequestTypeDef) -> dict[str, Any]:
        if params["Id"] in MANAGED:
            raise fault("IllegalDelete", "Deletion is not allowed for this entity: a managed cache policy.")
        record = self._custom(params["Id"])
        check_if_match(params.get("IfMatch"), record["ETag"])
        if any(record["Id"] in _policies_of(d["DistributionConfig"]) for d in self.catalog.distributions.values()):
            raise fault("CachePolicyInUse")
        await self.catalog.save(Batch().remove(CACHE_POLICY, record["Id"]))
        return {}

    async def ListCachePolicies(self, ctx: RequestContext, params: ListCachePoliciesRequestTypeDef) -> dict[str, Any]:
        wanted = params.get("Type")
        records: list[dict[str, Any]] = []
        if wanted in (None, "managed"):
            records += [{**self._record(policy_id), "Type": "managed"} for policy_id in MANAGED]
        if wanted in (None, "custom"):
            records += [{**record, "Type": "custom"} for record in self.catalog.cache_policies.values()]
        chunk, next_marker, size = page(records, "Id", params.get("Marker"), params.get("MaxItems"))
        listing: dict[str, Any] = {"MaxItems": size, "Quantity": len(chunk)}
        if chunk:
            listing["Items"] = [{"Type": r["Type"], "CachePolicy": self._view(r)} for r in chunk]
        if next_marker is not None:
            listing["NextMarker"] = next_marker
        return {"CachePolicyList": listing}


def _policies_of(config: dict[str, Any]) -> set[str]:
    behaviors = [config["DefaultCacheBehavior"], *((config.get("CacheBehaviors") or {}).get("Items") or [])]
    return {b["CachePolicyId"] for b in behaviors if b.get("CachePolicyId")}
