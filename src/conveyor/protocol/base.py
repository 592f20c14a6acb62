"""The interface every wire protocol implements, and helpers they share."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from conveyor.wire import HttpResponse, RequestContext, ServiceError


class Codec:
    """One wire protocol for one service model: finds the operation a request names, converts its wire
    input into Python values (model validation comes after, in the gateway), and serializes results and
    errors. A service's quirks are subclasses (S3's paths and bodies, SQS's legacy query names)."""

    name = ""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model

    async def route(self, ctx: RequestContext) -> OperationModel:
        """The operation the request names; raise the protocol's error when it names none."""
        raise NotImplementedError

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        """The operation's input members, converted from the wire."""
        raise NotImplementedError

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        raise NotImplementedError

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        raise NotImplementedError


# -- scalar conversions shared by the codecs ---------------------------------------------------------

# Characters XML 1.0 cannot carry at all, not even as character references (C0 controls, lone surrogates,
# U+FFFE/U+FFFF): https://www.w3.org/TR/xml/#charsets
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Request text echoed into an XML error document (a bad name, an unknown action): characters XML cannot
    carry become U+FFFD, so the document still parses and the SDK shows the error, not a parse failure."""
    return _NOT_XML.sub("\ufffd", text)


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
    """Epoch seconds, ISO 8601 or an HTTP date; anything else (or out of range) is a ValueError."""
    try:
        return _parse_timestamp(text)
    except (OverflowError, OSError, TypeError, AttributeError) as exc:
        raise ValueError(f"invalid timestamp {text!r}") from exc


def _parse_timestamp(text: str | float | int) -> dt.datetime:
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise TypeError(type(text).__name__)
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
