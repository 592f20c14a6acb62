"""Route 53's errors: codes and HTTP statuses as the model documents them, messages as Route 53 words them.

https://docs.aws.amazon.com/Route53/latest/APIReference/CommonErrors.html and each operation's Errors
section. Route 53 answers in rest-xml's `<ErrorResponse>`; an InvalidChangeBatch carries every problem of
the batch in one message, bracketed and comma-separated ("[first, second]"), as the API answers it.
"""

from __future__ import annotations

import functools
from typing import Any

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.protocol.models import service_model
from conveyor.wire import ServiceError

_ENUM = "must be one of "


class Route53Validation(ConstraintViolations):
    """Route 53 checks its request documents against its XML schema first: a value outside an enumeration is
    the schema validator's message ("Invalid XML ; cvc-enumeration-valid: ..."); lengths and ranges are the
    "1 validation error detected" family, as InvalidInput."""

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        if reason.startswith(_ENUM):
            allowed = reason[len(_ENUM):]
            return ServiceError(self.invalid, f"Invalid XML ; cvc-enumeration-valid: Value '{value}' is not "
                                f"facet-valid with respect to enumeration '[{allowed}]'. It must be a value from "
                                "the enumeration.")
        return super().invalid_error(path, value, reason)


VALIDATION = Route53Validation("InvalidInput", query_lists=False, patterns=False)


@functools.cache
def _status(code: str) -> int:
    try:
        shape = service_model("route53").shape_for(code)
    except Exception:  # noqa: BLE001 - a code the model does not list (the common errors)
        return 400
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def fault(code: str, message: str) -> ServiceError:
    return ServiceError(code, message, _status(code))


def invalid_input(message: str) -> ServiceError:
    return fault("InvalidInput", message)


def no_such_hosted_zone(zone_id: str) -> ServiceError:
    return fault("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}")


def no_such_health_check(check_id: str) -> ServiceError:
    return fault("NoSuchHealthCheck", f"A health check with id {check_id} does not exist.")


def no_such_change(change_id: str) -> ServiceError:
    return fault("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def no_such_delegation_set(set_id: str) -> ServiceError:
    return fault("NoSuchDelegationSet", set_id)


def invalid_change_batch(messages: list[str]) -> ServiceError:
    """https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html#API_ChangeResourceRecordSets_Errors"""
    return fault("InvalidChangeBatch", "[" + ", ".join(messages) + "]")


def invalid_pagination_token() -> ServiceError:
    return fault("InvalidPaginationToken", "The specified marker is not valid.")


def invalid_marker() -> ServiceError:
    """A Marker of ListHostedZones, ListHealthChecks or ListReusableDelegationSets that no listing gave: those
    operations list InvalidInput among their errors, not InvalidPaginationToken (ListHostedZonesByVPC's)."""
    return invalid_input("The specified marker is not valid.")
