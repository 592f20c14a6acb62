"""Served operations called from inside the server (conveyor.ports.ApiCaller): the request botocore's own
serializer makes, signed with the configured (root) credentials, through the gateway's one pipeline, and
the answer read by botocore's parser. A caller gets exactly what an SDK would, errors included."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conveyor.wire import Headers, HttpRequest, HttpResponse, ServiceError

if TYPE_CHECKING:
    from conveyor.config import Config
    from conveyor.gateway.router import ServiceDirectory

# The protocols botocore speaks that a service may serve, most direct first.
_PREFERRED = ("json", "query", "rest-json", "rest-xml", "ec2")


def _checksum(request_dict: dict[str, Any], op: Any) -> None:
    """The Content-MD5 an operation that requires a checksum is sent with (S3's PutBucketCors, PutBucketLifecycle
    ...), as the SDKs add it: the serializer alone leaves it out, and S3 refuses the request without it.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html"""
    if not (op.http_checksum_required or (op.http_checksum or {}).get("requestChecksumRequired")):
        return
    body = request_dict.get("body") or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(body, bytes):
        request_dict["headers"]["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


class InProcessApi:
    """conveyor.ports.ApiCaller, served by the App's gateway."""

    def __init__(self, handle: Callable[[HttpRequest], Awaitable[HttpResponse]], config: Config,
                 services: ServiceDirectory, endpoint: Callable[[], str]) -> None:
        self._handle = handle
        self._config = config
        self._services = services
        self._endpoint = endpoint

    async def call(self, service: str, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        # botocore's client side (serializers, parsers, signing) is imported by the first in-process call
        # (CloudFormation's), not by every server at start.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest, HeadersDict, prepare_request_dict
        from botocore.credentials import Credentials
        from botocore.parsers import create_parser
        from botocore.serialize import create_serializer

        served = await self._services.use(service) if service in self._services.entries else None
        if served is None:
            raise ServiceError("InvalidAction", f"Conveyor does not serve the service '{service}'", 400)
        protocol = next((name for name in _PREFERRED if name in served.codecs), None)
        if protocol is None:
            raise ServiceError("InvalidAction", f"no in-process protocol for '{service}'", 400)
        model = served.model
        op = model.operation_model(operation)
        endpoint = self._endpoint()
        request_dict = create_serializer(protocol, include_validation=False).serialize_to_request(dict(params), op)
        prepare_request_dict(request_dict, endpoint_url=endpoint)
        _checksum(request_dict, op)
        aws_request = AWSRequest(method=request_dict["method"], url=request_dict["url"], data=request_dict["body"],
                                 headers=request_dict["headers"])
        signing_name = model.signing_name or service
        SigV4Auth(Credentials(self._config.access_key, self._config.secret_key), signing_name,
                  region).add_auth(aws_request)
        prepared = aws_request.prepare()
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        assert isinstance(body, bytes)
        headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                   for name, value in prepared.headers.items()}
        headers.setdefault("Host", urlsplit(endpoint).netloc)
        headers["Content-Length"] = str(len(body))
        url = urlsplit(prepared.url)
        chunks: Iterator[bytes] = iter([body])

        async def receive() -> bytes | None:
            await asyncio.sleep(0)
            return next(chunks, None)

        request = HttpRequest(method=prepared.method, path=url.path or "/", query_string=url.query,
                              headers=Headers(list(headers.items())), client=("127.0.0.1", 0), _receive=receive)
        response = await self._handle(request)
        raw = response.body
        if response.stream is not None:
            raw = b"".join([chunk async for chunk in response.stream])
        wire_headers = HeadersDict()
        for name, value in response.headers:
            wire_headers[name] = value
        # botocore decodes a bytes body of a streaming payload as UTF-8 (it expects a stream there), which
        # fails on binary objects: such a payload is handed over as the bytes themselves.
        streamed = op.get_streaming_output() if response.status < 300 else None
        parsed: dict[str, Any] = create_parser(protocol).parse(
            {"status_code": response.status, "headers": wire_headers, "body": b"" if streamed is not None else raw},
            op.output_shape)  # type: ignore[arg-type]
        if streamed is not None and op.output_shape is not None:
            parsed[op.output_shape.serialization["payload"]] = raw
        if response.status >= 300:
            error = parsed.get("Error") or {}
            raise ServiceError(str(error.get("Code") or "InternalFailure"), str(error.get("Message") or ""),
                               response.status)
        parsed.pop("ResponseMetadata", None)
        return parsed
