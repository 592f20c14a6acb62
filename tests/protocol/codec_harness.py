"""Between botocore's client side and Conveyor's codecs, in-process: a request botocore's serializer built
becomes the HttpRequest the gateway would hand a codec, and a response a codec serialized goes through
botocore's parser as a client would read it. No socket, no server: the codecs the App serves, alone.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import functools
import io
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer

from conveyor.app import App
from conveyor.clock import ManualClock
from conveyor.config import Config
from conveyor.protocol.base import Codec
from conveyor.services.base import Service
from conveyor.wire import Headers, HttpRequest, HttpResponse, RequestContext

ENDPOINT = "http://127.0.0.1:4566"


@dataclass(frozen=True)
class Served:
    """One codec of one service, as the App serves it."""

    service: Service
    codec: Codec

    @property
    def id(self) -> str:
        return f"{self.service.name}-{self.codec.name}"

    def operations(self) -> list[OperationModel]:
        model = self.codec.model
        return [model.operation_model(name) for name in model.operation_names]


# Wire protocols a served codec speaks that botocore has no serializer or parser for, and where they are
# tested instead.
NOT_IN_BOTOCORE = {
    # AWS CBOR 1.1, Kinesis as the Java SDK speaks it (application/x-amz-cbor-1.1); botocore sends JSON 1.1.
    "cbor": "tests/kinesis/test_cbor.py, with the independent cbor2 codec",
}


@functools.cache
def served_codecs() -> tuple[Served, ...]:
    """Every (service, codec) pair of an App built but not started (nothing listens, nothing is opened),
    whose protocol botocore speaks."""
    data_dir = tempfile.mkdtemp(prefix="conveyor-codecs-")  # services make their directories when built
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    app = App(Config(data_dir=data_dir, port=0, clock="manual", auth="off"))
    built = [app.services.build(name) for name in app.services.names()]  # imported and built, not started
    return tuple(Served(service, codec) for service in built for codec in service.codecs.values()
                 if codec.name not in NOT_IN_BOTOCORE)


def run(coroutine: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coroutine

    return asyncio.run(main())


def context(request: HttpRequest) -> RequestContext:
    return RequestContext(request=request, clock=ManualClock(), request_id="c0ffee00-0000-4000-8000-000000000001",
                          account_id="000000000000", region="us-east-1")


# -- requests ---------------------------------------------------------------------------------------

@dataclass
class SentRequest:
    request: HttpRequest
    body: bytes
    headers: dict[str, str]  # as botocore sent them


def botocore_request(protocol: str, operation: OperationModel, params: dict[str, Any],
                     extra_headers: Callable[[bytes], dict[str, str]] | None = None) -> SentRequest:
    """The request botocore's own serializer makes of `params`, prepared as it goes on the wire.

    The body arrives as the HTTP server delivers it (a stream nobody has read yet), so a test can tell
    whether a codec read a body it should have left to the operation."""
    serializer = create_serializer(protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(params, operation)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    assert isinstance(body, bytes), type(body)
    headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
               for name, value in prepared.headers.items()}
    if extra_headers is not None:
        headers.update(extra_headers(body))
    headers.setdefault("Host", urlsplit(ENDPOINT).netloc)
    headers["Content-Length"] = str(len(body))
    url = urlsplit(prepared.url)
    chunks: Iterator[bytes] = iter([body])

    async def receive() -> bytes | None:
        return next(chunks, None)

    request = HttpRequest(method=prepared.method, path=url.path or "/", query_string=url.query,
                          headers=Headers(list(headers.items())), _receive=receive)
    return SentRequest(request, body, headers)


# -- responses --------------------------------------------------------------------------------------

async def _drain(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def botocore_parse(protocol: str, operation: OperationModel, response: HttpResponse) -> tuple[dict[str, Any], bytes]:
    """What a botocore client reads from `response` (the parsed dict, and the raw body it parsed).

    As botocore's endpoint does, a streaming output's body goes to the parser as a stream (read here once
    parsed), any other body as bytes."""
    body = response.body if response.stream is None else run(_drain(response.stream))
    headers = HeadersDict()
    for name, value in response.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    streaming = response.status < 300 and operation.has_streaming_output
    wire_body: Any = StreamingBody(io.BytesIO(body), len(body)) if streaming else body
    parser = create_parser(protocol)
    parsed: dict[str, Any] = parser.parse({"status_code": response.status, "headers": headers, "body": wire_body},
                                          operation.output_shape)
    parsed.pop("ResponseMetadata", None)
    for name, value in parsed.items():
        if isinstance(value, StreamingBody):
            parsed[name] = value.read()
    return parsed, body


def shadowing_operation(served: Served, op: OperationModel) -> OperationModel | None:
    """The current operation a deprecated one shares its request with (S3's PutBucketNotification and
    PutBucketNotificationConfiguration are both `PUT /{Bucket}?notification`): the wire cannot tell them
    apart, so the request is answered as the current one. (RPC protocols name the operation itself.)"""
    if not op.deprecated or served.codec.name not in ("rest-xml", "rest-json"):
        return None
    request = (op.http.get("method"), op.http.get("requestUri"))
    for other in served.operations():
        if not other.deprecated and (other.http.get("method"), other.http.get("requestUri")) == request:
            return other
    return None


# -- comparing --------------------------------------------------------------------------------------

def same_instant(value: Any) -> Any:
    """Timestamps compared as instants (a codec may give back any timezone-aware representation)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, dict):
        return {k: same_instant(v) for k, v in value.items()}
    if isinstance(value, list):
        return [same_instant(v) for v in value]
    return value


# -- what a wire cannot carry -----------------------------------------------------------------------

_ABSENT = object()


def as_carried(shape: StructureShape, value: dict[str, Any], protocol: str, *, request: bool) -> dict[str, Any]:
    """`value` as the wire of `protocol` can carry it: the empty things it has no way to write are absent
    on the other side. Each rule is how botocore writes (and reads) that protocol:

    - query forms write nothing for an empty map or structure (QuerySerializer, "Attribute.N.Name");
    - EC2's forms write nothing for an empty list either (EC2Serializer has no `Name=` for one);
    - XML (query responses and rest-xml bodies) has no element for an empty flattened list or map, whose
      items are the only elements;
    - HTTP headers: botocore sends no header for an empty list, no `x-amz-meta-*` for an empty map;
    - query strings of rest protocols: nothing for an empty list or map;
    - a request's empty body is no payload for rest-json (Lambda reads `Payload` only from a body); rest-xml
      hands S3 the empty text or bytes, and a response's empty body is the empty payload to botocore.
    """
    empty_payload_absent = request and protocol == "rest-json"
    if request and protocol == "ec2":
        protocol = "ec2-form"
    carried = _carried_structure(shape, value, protocol, top=True, empty_payload_absent=empty_payload_absent)
    assert isinstance(carried, dict)
    return carried


def _carried_structure(shape: StructureShape, value: dict[str, Any], protocol: str, *, top: bool,
                       empty_payload_absent: bool = False) -> Any:
    payload = shape.serialization.get("payload") if top else None
    out: dict[str, Any] = {}
    for name, item in value.items():
        member = shape.members[name]
        location = member.serialization.get("location") if top else None
        if empty_payload_absent and name == payload and member.type_name in ("blob", "string") and not item:
            continue
        carried = _carried(member, item, protocol, location)
        if carried is not _ABSENT:
            out[name] = carried
    if not out and not top and protocol in ("query-form", "ec2-form"):
        return _ABSENT
    return out


def _carried(shape: Shape, value: Any, protocol: str, location: str | None) -> Any:
    rest = protocol in ("rest-xml", "rest-json")
    xml = protocol in ("rest-xml", "query-xml")
    if isinstance(shape, StructureShape):
        return _carried_structure(shape, value, protocol, top=False)
    if isinstance(shape, ListShape):
        if not value:
            if protocol == "ec2-form" or (rest and location in ("header", "querystring")):
                return _ABSENT
            if xml and location is None and shape.serialization.get("flattened"):
                return _ABSENT
            return value
        items = [_carried(shape.member, item, protocol, None) for item in value]
        return [item for item in items if item is not _ABSENT]
    if isinstance(shape, MapShape):
        if not value:
            if protocol in ("query-form", "ec2-form") or (rest and location in ("headers", "querystring")):
                return _ABSENT
            if xml and shape.serialization.get("flattened"):
                return _ABSENT
            return value
        entries = {k: _carried(shape.value, v, protocol, None) for k, v in value.items()}
        return {k: v for k, v in entries.items() if v is not _ABSENT}
    return value
