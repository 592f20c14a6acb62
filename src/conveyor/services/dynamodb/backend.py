"""What DynamoDB's operation groups share: the clock, the account, and the catalog once started."""

from __future__ import annotations

from conveyor.clock import Clock
from conveyor.services.dynamodb.catalog import Catalog
from conveyor.services.dynamodb.store import DynamoStore
from conveyor.wire import temporarily_unavailable


class Backend:
    def __init__(self, clock: Clock, account: str) -> None:
        self.clock = clock
        self.account = account
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:  # between stop and start: retryable, as AWS's 503
            raise temporarily_unavailable()
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog | None) -> None:
        self._catalog = catalog

    @property
    def running(self) -> bool:
        return self._catalog is not None

    @property
    def store(self) -> DynamoStore:
        return self.catalog.store

    def now(self) -> float:
        return self.clock.now()
