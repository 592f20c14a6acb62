"""The interface every wire protocol implements, and helpers they share."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from botocore.model import OperationModel, Shape

from conveyor.gateway.http import HttpResponse
from conveyor.services.base import RequestContext, Service, ServiceError


class Codec:
    """Parses a request into (operation, params) and serializes results and errors for one protocol."""

    name = ""

    async def parse(self, ctx: RequestContext, service: Service) -> tuple[OperationModel, dict[str, Any]]:
        """Find the operation and convert the wire input into Python values (validation comes after)."""
        raise NotImplementedError

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        raise NotImplementedError

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        raise NotImplementedError


# -- scalar conversions shared by the codecs ---------------------------------------------------------

def iso8601(value: dt.datetime | float | int) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromtimestamp(float(value), dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rfc822(value: dt.datetime | float | int) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromtimestamp(float(value), dt.UTC)
    return value.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def epoch(value: dt.datetime | float | int) -> float | int:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def format_timestamp(value: Any, shape: Shape, default: str) -> Any:
    fmt = shape.serialization.get("timestampFormat") or default
    if fmt == "iso8601":
        return iso8601(value)
    if fmt == "rfc822":
        return rfc822(value)
    return epoch(value)


def parse_timestamp(text: str | float | int) -> dt.datetime:
    if isinstance(text, int | float):
        try:
            return dt.datetime.fromtimestamp(text, dt.UTC)
        except (OverflowError, OSError, ValueError):  # 1e309, or a year past 9999
            raise ValueError(f"invalid timestamp {text!r}")
    text = text.strip()
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except (OverflowError, OSError):
        raise ValueError(f"invalid timestamp {text!r}")
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(text).astimezone(dt.UTC)
    except (TypeError, ValueError):
        raise ValueError(f"invalid timestamp {text!r}")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
