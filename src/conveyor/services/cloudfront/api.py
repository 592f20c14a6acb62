"""CloudFront (rest-xml, API version 2020-05-31): distributions with S3 origins, origin access control,
cache policies, invalidations and tags, and the edge that serves distributions on the same port.

The operations live in objects over one catalog and its store; this class wires them, owns the
lifecycle and offers the edge to the gateway as its data plane (conveyor.services.base.DataPlane).
Operations of features the edge does not serve (functions, key groups, field-level encryption, streaming
distributions, origin access identities...) answer NotImplemented.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.protocol.base import Codec
from conveyor.protocol.rest_xml import RestXmlCodec
from conveyor.services.base import Environment, Service
from conveyor.services.cloudfront import errors, iam
from conveyor.services.cloudfront.access_controls import AccessControlOperations
from conveyor.services.cloudfront.cache import EdgeCache
from conveyor.services.cloudfront.cache_policies import CachePolicyOperations
from conveyor.services.cloudfront.catalog import Catalog
from conveyor.services.cloudfront.distributions import DistributionOperations
from conveyor.services.cloudfront.edge import Edge
from conveyor.services.cloudfront.invalidations import InvalidationOperations
from conveyor.services.cloudfront.store import CloudFrontStore
from conveyor.services.cloudfront.tagging import TagOperations
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel


class CloudFrontService(Service):
    name = "cloudfront"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    regional = False

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        return {"rest-xml": RestXmlCodec(self.model)}

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.cache = EdgeCache(self.config.service_dir("cloudfront") / "edge-cache",
                               memory_bytes=self.config.edge_cache_memory, disk_bytes=self.config.edge_cache_disk)
        self.edge = Edge(self.config, self.ports, self.cache)
        self.data_plane = self.edge
        self.store: CloudFrontStore | None = None
        self.catalog: Catalog | None = None

    async def start(self) -> None:
        self.store = CloudFrontStore(self.config.service_dir("cloudfront") / "cloudfront.db", self.env.disk)
        self.catalog = Catalog(self.store)
        self.cache.open()  # the edge's cache starts empty, as a new edge location's does
        self.edge.catalog = self.catalog
        account = self.config.account_id
        self.operation_groups: Sequence[object] = (
            DistributionOperations(self.catalog, self.clock, account, self.cache.purge_distribution),
            AccessControlOperations(self.catalog),
            CachePolicyOperations(self.catalog, self.clock),
            InvalidationOperations(self.catalog, self.clock, self.cache.purge),
            TagOperations(self.catalog),
        )

    async def stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        self.cache.clear()

    async def reset(self) -> None:
        if self.store is not None and self.catalog is not None:
            await self.store.wipe()
            self.catalog.clear()
        self.cache.clear()

    def missing_for_other_account(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> ServiceError | None:
        """A distribution of another account is, to the caller, one that does not exist: NoSuchDistribution
        (what AWS answers a caller whose credentials are of another account than the distribution's, as
        recorded in drone-plugins/drone-s3-sync#72 and MikaAK/s3-plugin-webpack#122)."""
        if params.get("DistributionId") or ("Distribution" in operation and params.get("Id")):
            return errors.no_such_distribution()
        return None


    def health(self) -> dict[str, Any]:
        if self.catalog is None:
            return {"status": "stopped"}
        return {"status": "running", "distributions": len(self.catalog.distributions), **self.cache.usage()}

    # -- IAM (conveyor.services.cloudfront.iam) ---------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        return iam.access_denied(denial)
