"""Invalidations: CreateInvalidation purges the edge's cache of the paths at once (a path, or a prefix
ending in `*`), so an invalidation is `Completed` as soon as it is answered.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.services.cloudfront.catalog import INVALIDATION, Catalog, new_id, page
from conveyor.services.cloudfront.errors import fault, invalid_argument, no_such_distribution
from conveyor.services.cloudfront.store import Batch
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_cloudfront.type_defs import (
        CreateInvalidationRequestTypeDef,
        GetInvalidationRequestTypeDef,
        ListInvalidationsRequestTypeDef,
    )

    from conveyor.clock import Clock

MAX_PATHS = 3000  # paths in one batch
MAX_WILDCARDS = 15  # wildcard paths in progress at once
API = "https://cloudfront.amazonaws.com/2020-05-31/distribution"
Purge = Callable[[str, Sequence[str]], int]


def check_paths(paths: Sequence[str]) -> None:
    if not paths:
        raise fault("MissingBody", "The invalidation batch names no paths.")
    if len(paths) > MAX_PATHS:
        raise fault("BatchTooLarge")
    if sum(path.endswith("*") for path in paths) > MAX_WILDCARDS:
        raise fault("TooManyInvalidationsInProgress")
    for path in paths:
        # A path starts with `/` (the CLI adds none) and may hold `*` only as its last character.
        if not path.startswith("/") or "*" in path[:-1] or len(path) > 4000:
            raise invalid_argument(f"Your request contains one or more invalid invalidation paths: {path}.")


class InvalidationOperations:
    def __init__(self, catalog: Catalog, clock: Clock, purge: Purge) -> None:
        self.catalog = catalog
        self.clock = clock
        self.purge = purge

    def _distribution(self, distribution_id: str) -> dict[str, dict[str, Any]]:
        if distribution_id not in self.catalog.distributions:
            raise no_such_distribution()
        return self.catalog.invalidations.get(distribution_id, {})

    async def CreateInvalidation(self, ctx: RequestContext, params: CreateInvalidationRequestTypeDef) -> dict[str, Any]:
        distribution_id = params["DistributionId"]
        existing = self._distribution(distribution_id)
        batch = params["InvalidationBatch"]
        paths = list(batch["Paths"].get("Items") or [])
        if batch["Paths"]["Quantity"] != len(paths):
            raise fault("InconsistentQuantities")
        check_paths(paths)
        for record in existing.values():
            # The same CallerReference again is the same request: answered with the first one's invalidation.
            if record["InvalidationBatch"]["CallerReference"] == batch["CallerReference"]:
                if record["InvalidationBatch"]["Paths"].get("Items") != paths:
                    raise ServiceError("InvalidationBatchAlreadyExists", "The CallerReference is that of another "
                                       f"invalidation of other paths: {record['Id']}.", 409)
                return self._answer(distribution_id, record)
        record = {"Id": new_id("I"), "Status": "Completed", "CreateTime": self.clock.now(),
                  "InvalidationBatch": {"Paths": {"Quantity": len(paths), "Items": paths},
                                        "CallerReference": batch["CallerReference"]}}
        await self.catalog.save(Batch().write(INVALIDATION, f"{distribution_id}/{record['Id']}", record))
        self.purge(distribution_id, paths)
        return self._answer(distribution_id, record)

    @staticmethod
    def _answer(distribution_id: str, record: dict[str, Any]) -> dict[str, Any]:
        return {"Invalidation": record, "Location": f"{API}/{distribution_id}/invalidation/{record['Id']}"}

    async def GetInvalidation(self, ctx: RequestContext, params: GetInvalidationRequestTypeDef) -> dict[str, Any]:
        record = self._distribution(params["DistributionId"]).get(params["Id"])
        if record is None:
            raise fault("NoSuchInvalidation")
        return {"Invalidation": record}

    async def ListInvalidations(self, ctx: RequestContext, params: ListInvalidationsRequestTypeDef) -> dict[str, Any]:
        records = sorted(self._distribution(params["DistributionId"]).values(), key=lambda r: -r["CreateTime"])
        chunk, next_marker, size = page(records, "Id", params.get("Marker"), params.get("MaxItems"))
        listing: dict[str, Any] = {"Marker": params.get("Marker") or "", "MaxItems": size,
                                   "IsTruncated": next_marker is not None, "Quantity": len(chunk)}
        if chunk:
            listing["Items"] = [{"Id": r["Id"], "CreateTime": r["CreateTime"], "Status": r["Status"]} for r in chunk]
        if next_marker is not None:
            listing["NextMarker"] = next_marker
        return {"InvalidationList": listing}
