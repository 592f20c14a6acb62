"""UpdateTable's rules on what one request may combine, in DynamoDB's words.

DynamoDB takes some changes only alone (server-side encryption, the table class, deletion protection,
WarmThroughput), or only with BillingMode (OnDemandThroughput), and at most one change per index, each
naming one of Update, Create or Delete. The messages are those a
catalogue of DynamoDB's answers records (dynalite records the index ones too); the rules themselves:
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.dynamodb import errors
from conveyor.wire import ServiceError

# The members that change something: one of them is required.
CHANGES = ("AttributeDefinitions", "BillingMode", "ProvisionedThroughput", "GlobalSecondaryIndexUpdates",
           "StreamSpecification", "SSESpecification", "DeletionProtectionEnabled", "TableClass", "WarmThroughput",
           "OnDemandThroughput")
NOTHING_TO_DO = ("At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, "
                 "SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, "
                 "MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass "
                 "is required")
_ACTIONS = ("Update", "Create", "Delete")


def check(params: Any) -> None:
    given = [k for k in CHANGES if params.get(k) is not None and k != "AttributeDefinitions"]
    if not given:  # (attribute definitions alone change nothing)
        raise errors.validation(NOTHING_TO_DO)
    updates = params.get("GlobalSecondaryIndexUpdates") or []
    check_index_updates(updates)
    for member, what in (("SSESpecification", "Server-Side Encryption"), ("TableClass", "TableClass"),
                         ("DeletionProtectionEnabled", "DeletionProtection")):
        if params.get(member) is not None and len(given) > 1:
            raise errors.invalid(f"{what} modification must be the only operation in the request")
    if params.get("WarmThroughput") is not None:
        if any(u.get("Create") is not None for u in updates):
            raise errors.invalid("Create global secondary index cannot be specified when updating WarmThroughput")
        if any(k not in ("WarmThroughput", "GlobalSecondaryIndexUpdates") for k in given):
            raise errors.invalid("WarmThroughput must be the only operation in the request")
    if params.get("OnDemandThroughput") is not None and any(
            k not in ("OnDemandThroughput", "BillingMode") for k in given):
        raise errors.invalid("OnDemandThroughput can only be combined with BillingMode in an UpdateTable request")


def check_index_updates(updates: Any) -> None:
    """Each GlobalSecondaryIndexUpdate names one action, and an index once."""
    seen: set[str] = set()
    for update in updates:
        actions = [update[k] for k in _ACTIONS if update.get(k) is not None]
        if not actions:
            raise errors.invalid("One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
                                 "GlobalSecondaryIndexUpdate.Delete must not be null")
        if len(actions) > 1:
            raise errors.invalid("Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate "
                                 "object")
        name = str(actions[0].get("IndexName"))
        if name in seen:
            raise errors.invalid(f"Only one global secondary index update per index is allowed simultaneously. "
                                 f"Index: {name}")
        seen.add(name)


def unchanged(what: str, read: int, write: int) -> ServiceError:
    """A provisioned throughput asked for that is the one in place. (The table's words are recorded; the
    index's say "for the index NAME" where the table's say "for the table".)"""
    holder = "the table" if what == "the table" else "the index"
    return errors.validation(
        f"The provisioned throughput for {what} will not change. The requested value equals the current value. "
        f"Current ReadCapacityUnits provisioned for {holder}: {read}. Requested ReadCapacityUnits: {read}. "
        f"Current WriteCapacityUnits provisioned for {holder}: {write}. Requested WriteCapacityUnits: {write}. "
        "Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.")
