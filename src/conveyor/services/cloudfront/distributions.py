"""Distribution operations: create (also with tags), get, get config, list, update and delete, each
version named by its ETag (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html).

A change takes effect at the edge as soon as it is stored, so a distribution is `Deployed` at once (on AWS
it is `InProgress` for some minutes): `aws cloudfront wait distribution-deployed` returns straight away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.cloudfront import distribution_config
from conveyor.services.cloudfront.catalog import DISTRIBUTION, Catalog, new_id, page
from conveyor.services.cloudfront.errors import check_if_match, fault, no_such_distribution
from conveyor.services.cloudfront.store import Batch
from conveyor.services.cloudfront.tagging import check_tags
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_cloudfront.type_defs import (
        CreateDistributionRequestTypeDef,
        CreateDistributionWithTagsRequestTypeDef,
        DeleteDistributionRequestTypeDef,
        GetDistributionConfigRequestTypeDef,
        GetDistributionRequestTypeDef,
        ListDistributionsRequestTypeDef,
        UpdateDistributionRequestTypeDef,
    )

    from conveyor.clock import Clock

DOMAIN = "cloudfront.localhost"
API_HOST = "https://cloudfront.amazonaws.com"


def domain_name(distribution_id: str) -> str:
    """A distribution's host name: `{id}.cloudfront.localhost` (`*.localhost` is loopback)."""
    return f"{distribution_id.lower()}.{DOMAIN}"


class DistributionOperations:
    def __init__(self, catalog: Catalog, clock: Clock, account_id: str, forget: Callable[[str], None]) -> None:
        self.catalog = catalog
        self.clock = clock
        self.account_id = account_id
        self.forget = forget  # drops what the edge cached for a distribution that is gone

    def _require(self, distribution_id: str) -> dict[str, Any]:
        found = self.catalog.distributions.get(distribution_id)
        if found is None:
            raise no_such_distribution()
        return found

    def _config(self, config: Any) -> dict[str, Any]:
        return distribution_config.normalize(config, self.catalog.access_controls, self.catalog.cache_policies)

    @staticmethod
    def view(record: dict[str, Any]) -> dict[str, Any]:
        """The Distribution document of a stored record."""
        return {
            "Id": record["Id"], "ARN": record["ARN"], "Status": "Deployed", "LastModifiedTime": record["LastModifiedTime"],
            "InProgressInvalidationBatches": 0, "DomainName": record["DomainName"],
            "ActiveTrustedSigners": {"Enabled": False, "Quantity": 0},
            "ActiveTrustedKeyGroups": {"Enabled": False, "Quantity": 0},
            "DistributionConfig": record["DistributionConfig"],
        }

    # -- create ---------------------------------------------------------------------------------------
    async def CreateDistribution(self, ctx: RequestContext, params: CreateDistributionRequestTypeDef) -> dict[str, Any]:
        return await self._create(params["DistributionConfig"], [])

    async def CreateDistributionWithTags(self, ctx: RequestContext,
                                         params: CreateDistributionWithTagsRequestTypeDef) -> dict[str, Any]:
        with_tags = params["DistributionConfigWithTags"]
        tags = [dict(tag) for tag in with_tags["Tags"].get("Items") or []]
        check_tags(tags)
        return await self._create(with_tags["DistributionConfig"], tags)

    async def _create(self, sent: Any, tags: list[dict[str, Any]]) -> dict[str, Any]:
        config = self._config(sent)
        for record in self.catalog.distributions.values():
            # A repeated request (same CallerReference) is answered with what it made the first time.
            # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html (CallerReference)
            if record["DistributionConfig"]["CallerReference"] == config["CallerReference"]:
                if record["DistributionConfig"] != config:
                    raise fault("DistributionAlreadyExists", "The caller reference you attempted to create the "
                                f"distribution with is associated with another distribution: {record['Id']}.")
                return self._answer(record, created=True)
        distribution_id = new_id("E")
        record = {
            "Id": distribution_id, "ARN": f"arn:aws:cloudfront::{self.account_id}:distribution/{distribution_id}",
            "ETag": new_id("E"), "LastModifiedTime": self.clock.now(), "DomainName": domain_name(distribution_id),
            "DistributionConfig": config, "Tags": tags,
        }
        await self.catalog.save(Batch().write(DISTRIBUTION, distribution_id, record))
        return self._answer(record, created=True)

    def _answer(self, record: dict[str, Any], created: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"Distribution": self.view(record), "ETag": record["ETag"]}
        if created:
            out["Location"] = f"{API_HOST}/2020-05-31/distribution/{record['Id']}"
        return out

    # -- read -----------------------------------------------------------------------------------------
    async def GetDistribution(self, ctx: RequestContext, params: GetDistributionRequestTypeDef) -> dict[str, Any]:
        return self._answer(self._require(params["Id"]))

    async def GetDistributionConfig(self, ctx: RequestContext,
                                    params: GetDistributionConfigRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        return {"DistributionConfig": record["DistributionConfig"], "ETag": record["ETag"]}

    async def ListDistributions(self, ctx: RequestContext, params: ListDistributionsRequestTypeDef) -> dict[str, Any]:
        records = list(self.catalog.distributions.values())
        chunk, next_marker, size = page(records, "Id", params.get("Marker"), params.get("MaxItems"))
        listing: dict[str, Any] = {
            "Marker": params.get("Marker") or "", "MaxItems": size,
            "IsTruncated": next_marker is not None, "Quantity": len(chunk),
        }
        if chunk:
            listing["Items"] = [self._summary(record) for record in chunk]
        if next_marker is not None:
            listing["NextMarker"] = next_marker
        return {"DistributionList": listing}

    def _summary(self, record: dict[str, Any]) -> dict[str, Any]:
        config = record["DistributionConfig"]
        summary = {name: config[name] for name in (
            "Aliases", "Origins", "OriginGroups", "DefaultCacheBehavior", "CacheBehaviors", "CustomErrorResponses",
            "Comment", "PriceClass", "Enabled", "ViewerCertificate", "Restrictions", "WebACLId", "HttpVersion",
            "IsIPV6Enabled", "Staging") if name in config}
        return {"Id": record["Id"], "ARN": record["ARN"], "ETag": record["ETag"], "Status": "Deployed",
                "LastModifiedTime": record["LastModifiedTime"], "DomainName": record["DomainName"], **summary}

    # -- update and delete ----------------------------------------------------------------------------
    async def UpdateDistribution(self, ctx: RequestContext, params: UpdateDistributionRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        check_if_match(params.get("IfMatch"), record["ETag"])
        config = self._config(params["DistributionConfig"])
        if config["CallerReference"] != record["DistributionConfig"]["CallerReference"]:
            raise fault("IllegalUpdate", "The update contains modifications that are not allowed: a "
                        "distribution's CallerReference cannot change.")
        updated = {**record, "DistributionConfig": config, "ETag": new_id("E"), "LastModifiedTime": self.clock.now()}
        await self.catalog.save(Batch().write(DISTRIBUTION, record["Id"], updated))
        return self._answer(updated)

    async def DeleteDistribution(self, ctx: RequestContext, params: DeleteDistributionRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        check_if_match(params.get("IfMatch"), record["ETag"])
        if record["DistributionConfig"]["Enabled"]:
            raise fault("DistributionNotDisabled")
        batch = Batch().remove(DISTRIBUTION, record["Id"])
        for invalidation_id in self.catalog.invalidations.get(record["Id"], {}):
            batch.remove("invalidation", f"{record['Id']}/{invalidation_id}")
        await self.catalog.save(batch)
        self.forget(record["Id"])
        return {}

