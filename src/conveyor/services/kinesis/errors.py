"""Kinesis's errors, with the codes and messages of its API reference.

https://docs.aws.amazon.com/kinesis/latest/APIReference/CommonErrors.html and each operation's Errors
section. JSON 1.1: `{"__type": "...#Code", "message": ...}`; model constraint failures are
ValidationException in the "1 validation error detected" wording, list items named `records.1.member.data`
as Kinesis's Coral front end names them.
"""

from __future__ import annotations

import datetime as dt

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.wire import ServiceError

VALIDATION = ConstraintViolations("ValidationException", query_lists=True, patterns=True)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgumentException", message)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def stream_not_found(name: str, account: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Stream {name} under account {account} not found.")


def stream_exists(name: str, account: str) -> ServiceError:
    return ServiceError("ResourceInUseException", f"Stream {name} under account {account} already exists.")


def shard_not_found(shard_id: str, stream: str, account: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException",
                        f"Could not find shard {shard_id} in stream {stream} under account {account}.")


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message)


def on_demand(name: str, account: str) -> ServiceError:
    """Shard operations on an on-demand stream (AWS scales those itself).
    https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html"""
    return validation(f"Request is invalid. Stream {name} under account {account} is in On-Demand mode.")


def _java_date(ms: int) -> str:
    """Dates as Kinesis's messages print them (Java's Date.toString in UTC)."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def iterator_expired(issued_ms: int, now_ms: int, tolerated_ms: int) -> ServiceError:
    """A shard iterator is good for five minutes after GetShardIterator or GetRecords returned it.
    https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetShardIterator.html"""
    return ServiceError("ExpiredIteratorException",
                        f"Iterator expired. The iterator was created at time {_java_date(issued_ms)} while right now "
                        f"it is {_java_date(now_ms)} which is further in the future than the tolerated delay of "
                        f"{tolerated_ms} milliseconds.")


def token_expired(message: str = "The token has expired.") -> ServiceError:
    """ListShards' NextToken lives 300 seconds.
    https://docs.aws.amazon.com/kinesis/latest/APIReference/API_ListShards.html"""
    return ServiceError("ExpiredNextTokenException", message)


def resource_in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUseException", message)
