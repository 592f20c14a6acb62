"""DynamoDB's errors, with the codes and messages of its API reference.

https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html and each operation's
Errors section; https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
lists the messages. JSON 1.0: `{"__type": "...#Code", "message": ...}`. Model constraint failures are
ValidationException in the "1 validation error detected" wording with camel-cased member paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.services.dynamodb.stored import wire_item
from conveyor.wire import ServiceError

if TYPE_CHECKING:
    from conveyor.services.dynamodb.tables import Table

# The order DynamoDB's front end lists an enum's values in ("Member must satisfy enum value set: [...]"):
# neither the model's order nor sorted, so kept as recorded from DynamoDB's answers (dynalite's
# validations record them). An enum not listed here is listed sorted.
_ENUM_ORDERS = [
    ["B", "N", "S"],
    ["HASH", "RANGE"],
    ["ALL", "INCLUDE", "KEYS_ONLY"],
    ["INDEXES", "TOTAL", "NONE"],
    ["SIZE", "NONE"],
    ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"],
    ["OR", "AND"],
    ["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
    ["IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT", "NOT_NULL", "NE", "LE", "BEGINS_WITH", "GE", "CONTAINS"],
]
_ENUM_ORDER = {frozenset(values): values for values in _ENUM_ORDERS}


class _Constraints(ConstraintViolations):
    """DynamoDB names list members `attributeDefinitions.1.member.attributeType` and lists an enum's values
    in its own order (see _ENUM_ORDERS)."""

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        if path == "ReturnValues":  # its own words, before the model's enum
            return validation("Return values set to invalid value")
        if reason.startswith("must be one of "):
            values = reason[len("must be one of "):].split(", ")
            reason = "must be one of " + ", ".join(_ENUM_ORDER.get(frozenset(values)) or sorted(values))
        return super().invalid_error(path, value, reason)


VALIDATION = _Constraints("ValidationException", query_lists=True, patterns=True)
INVALID_PREFIX = "One or more parameter values were invalid: "


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def invalid(message: str) -> ServiceError:
    """The family of messages DynamoDB starts with "One or more parameter values were invalid: "."""
    return ServiceError("ValidationException", INVALID_PREFIX + message)


def table_not_found(name: str | None = None) -> ServiceError:
    """Item operations say only "Requested resource not found"; the control plane names the table."""
    if name is None:
        return ServiceError("ResourceNotFoundException", "Requested resource not found")
    return ServiceError("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")


def table_exists(name: str) -> ServiceError:
    return ServiceError("ResourceInUseException", f"Table already exists: {name}")


def resource_in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message)


def refuse_while_creating(table: Table) -> None:
    """A table being created (by ImportTable) cannot be updated or deleted until it is ACTIVE (UpdateTable,
    DeleteTable, UpdateTimeToLive: "You tried to delete a table currently in the CREATING state").
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html#API_DeleteTable_Errors,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html#API_UpdateTimeToLive_Errors"""
    if table.status == "CREATING":
        raise resource_in_use(f"Attempt to change a resource which is still in use: Table is being created: "
                              f"{table.name}")


def backups_being_enabled(name: str) -> ServiceError:
    """UpdateContinuousBackups or CreateBackup of a table whose continuous backups are not on yet (they come
    on with the table, once it is created): UpdateContinuousBackups' error list has no ResourceInUseException,
    and this is DynamoDB's answer to both for a table too new for them, in DynamoDB's words.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateContinuousBackups.html#API_UpdateContinuousBackups_Errors,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateBackup.html#API_CreateBackup_Errors"""
    return ServiceError("ContinuousBackupsUnavailableException",
                        f"Backups are being enabled for the table: {name}. Please retry later")


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message)


def condition_failed(item: dict[str, Any] | None = None) -> ServiceError:
    """A ConditionExpression (or Expected) that does not hold. With ReturnValuesOnConditionCheckFailure
    ALL_OLD the item as it was rides along in the error body.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html#API_PutItem_Errors"""
    extra = {"Item": wire_item(item)} if item is not None else None
    return ServiceError("ConditionalCheckFailedException", "The conditional request failed", extra=extra)


def idempotent_mismatch() -> ServiceError:
    """A ClientRequestToken reused with other parameters within its 10 minutes.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"""
    return ServiceError("IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical request.")


CONFLICT_MESSAGE = "Transaction is ongoing for the item"


def transaction_conflict() -> ServiceError:
    """A single-item write of an item a transaction in flight is writing.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling"""
    return ServiceError("TransactionConflictException", CONFLICT_MESSAGE)


def transaction_in_progress() -> ServiceError:
    """A TransactWriteItems retried with the ClientRequestToken of one still in flight (SDKs retry it).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html#API_TransactWriteItems_Errors"""
    return ServiceError("TransactionInProgressException",
                        "The transaction with the given request token is already in progress")


def not_found(message: str = "Requested resource not found") -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def table_not_found_by_backups(name: str) -> ServiceError:
    """The backup calls' own code. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContinuousBackups.html"""
    return ServiceError("TableNotFoundException", f"Table not found: {name}")


def internal_server_error() -> ServiceError:
    """A request the store could not serve for now (its commit waited past the busy timeout for another
    process's write lock): nothing of it was written, and DynamoDB's answer for that is a retryable 500
    InternalServerError, which the SDKs retry on their own.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.MessagesAndCodes
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TroubleshootingInternalServerErrors.html"""
    return ServiceError("InternalServerError", "Internal server error", 500, sender_fault=False)
