"""The rpc-v2-cbor codec against botocore's own serializer and parser for that protocol (what boto3 and
the AWS CLI send CloudWatch), and the CBOR encoder/decoder on its own."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from conveyor.protocol import cbor
from conveyor.protocol.models import service_model
from conveyor.protocol.rpc_v2_cbor import RpcV2CborCodec
from conveyor.wire import Headers, HttpRequest, RequestContext, ServiceError

MODEL = service_model("cloudwatch")
CODEC = RpcV2CborCodec(MODEL)
T0 = dt.datetime(2025, 5, 1, 12, 30, 15, tzinfo=dt.UTC)


class _Clock:
    def now(self) -> float:
        return 0.0


def _context(request: dict[str, Any]) -> RequestContext:
    headers = Headers([(k, v) for k, v in request["headers"].items()])
    http = HttpRequest("POST", request["url_path"], "", headers, _body=request["body"])
    return RequestContext(http, _Clock(), "req-1", "000000000000", "us-east-1")


def _botocore_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    serializer = create_serializer("smithy-rpc-v2-cbor", include_validation=True)
    return serializer.serialize_to_request(params, MODEL.operation_model(operation))


def _parse_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = _botocore_request(operation, params)
    ctx = _context(request)
    assert request["headers"]["smithy-protocol"] == "rpc-v2-cbor"

    async def run() -> dict[str, Any]:
        op = await CODEC.route(ctx)
        assert op.name == operation
        return await CODEC.parse(ctx, op)

    return asyncio.run(run())


def _botocore_parse(operation: str, status: int, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    parser = create_parser("smithy-rpc-v2-cbor")
    response = {"status_code": status, "headers": {k.lower(): v for k, v in headers}, "body": body}
    op = MODEL.operation_model(operation)
    return parser.parse(response, op.output_shape)  # type: ignore[no-any-return]


def test_requests_botocore_serializes_parse_to_the_same_values() -> None:
    params = {"Namespace": "App/Orders", "MetricData": [
        {"MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "checkout"}], "Timestamp": T0,
         "Values": [1.5, 250.25, -3.0], "Counts": [1.0, 2.0, 10.0], "Unit": "Milliseconds", "StorageResolution": 1},
        {"MetricName": "Orders", "Value": 1e300, "Unit": "Count"},
        {"MetricName": "Stats", "StatisticValues": {"SampleCount": 3.0, "Sum": 6.0, "Minimum": 1.0, "Maximum": 3.0}},
    ]}
    parsed = _parse_request("PutMetricData", params)
    assert parsed["Namespace"] == "App/Orders"
    first = parsed["MetricData"][0]
    assert first["Timestamp"] == T0 and first["Values"] == [1.5, 250.25, -3.0] and first["StorageResolution"] == 1
    assert first["Dimensions"] == [{"Name": "Service", "Value": "checkout"}]
    assert parsed["MetricData"][1]["Value"] == 1e300
    assert parsed["MetricData"][2]["StatisticValues"] == params["MetricData"][2]["StatisticValues"]  # type: ignore[index]

    alarm = _parse_request("PutMetricAlarm", {
        "AlarmName": "a", "ActionsEnabled": False, "EvaluationPeriods": 3, "Threshold": 0.5,
        "ComparisonOperator": "GreaterThanThreshold", "Tags": [{"Key": "k", "Value": "ünïcødé"}],
        "Metrics": [{"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}]})
    assert alarm["ActionsEnabled"] is False and alarm["EvaluationPeriods"] == 3 and alarm["Threshold"] == 0.5
    assert alarm["Tags"] == [{"Key": "k", "Value": "ünïcødé"}]
    assert alarm["Metrics"] == [{"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}]


def test_responses_parse_in_botocore_to_the_values_served() -> None:
    ctx = _context(_botocore_request("GetMetricData", {"MetricDataQueries": [], "StartTime": T0, "EndTime": T0}))
    op = MODEL.operation_model("GetMetricData")
    result = {"MetricDataResults": [{"Id": "m1", "Label": "Latency", "StatusCode": "Complete",
                                     "Timestamps": [T0, T0 + dt.timedelta(minutes=1)], "Values": [0.1, 2.0]}],
              "Messages": []}
    response = CODEC.serialize(ctx, op, result)
    assert ("smithy-protocol", "rpc-v2-cbor") in response.headers
    parsed = _botocore_parse("GetMetricData", response.status, response.headers, response.body)
    [served] = parsed["MetricDataResults"]
    assert served["Timestamps"] == [T0, T0 + dt.timedelta(minutes=1)]
    assert served["Values"] == [0.1, 2.0] and served["Label"] == "Latency" and served["StatusCode"] == "Complete"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"

    empty = CODEC.serialize(ctx, MODEL.operation_model("PutMetricData"), {})
    assert empty.body == b""
    assert "Error" not in _botocore_parse("PutMetricData", 200, empty.headers, empty.body)


def test_errors_carry_the_query_compatible_code() -> None:
    ctx = _context(_botocore_request("ListMetrics", {}))
    error = ServiceError("InvalidParameterValueException", "The value 0 for parameter Period is not valid.",
                         query_code="InvalidParameterValue")
    response = CODEC.serialize_error(ctx, error)
    parser = create_parser("smithy-rpc-v2-cbor")
    parsed = parser.parse({"status_code": 400, "headers": {k.lower(): v for k, v in response.headers},
                           "body": response.body}, MODEL.operation_model("ListMetrics").output_shape)
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    assert parsed["Error"]["Message"] == "The value 0 for parameter Period is not valid."


@pytest.mark.parametrize("body", [b"\xff", b"\xa1\x01\x02", b"\x62a", b"\xc2\x41\x00", b"\x9f\x01"])
def test_malformed_bodies_are_serialization_errors(body: bytes) -> None:
    request = _botocore_request("ListMetrics", {})
    request["body"] = body
    ctx = _context(request)

    async def run() -> None:
        await CODEC.parse(ctx, await CODEC.route(ctx))

    with pytest.raises(ServiceError) as caught:
        asyncio.run(run())
    assert caught.value.code == "SerializationException"


def test_cbor_round_trip_and_rfc_examples() -> None:
    value = {"i": [0, 23, 24, 255, 256, 65536, 2**32, -1, -500], "f": [0.5, -1e-9], "s": "héllo", "b": b"\x00\x01",
             "n": None, "t": True, "x": False, "m": {"nested": [{"a": []}]}}
    assert cbor.decode(cbor.encode(value)) == value
    # RFC 8949 appendix A: half floats, indefinite-length strings, arrays and maps.
    assert cbor.decode(bytes.fromhex("f93c00")) == 1.0
    assert math.isinf(cbor.decode(bytes.fromhex("f97c00")))
    assert cbor.decode(bytes.fromhex("7f657374726561646d696e67ff")) == "streaming"
    assert cbor.decode(bytes.fromhex("9f018202039f0405ffff")) == [1, [2, 3], [4, 5]]
    assert cbor.decode(bytes.fromhex("bf61610161629f0203ffff")) == {"a": 1, "b": [2, 3]}
    assert cbor.decode(bytes.fromhex("c11a514b67b0")) == dt.datetime(2013, 3, 21, 20, 4, tzinfo=dt.UTC)
    with pytest.raises(cbor.CborError):
        cbor.decode(b"\x81" * 200 + b"\x00")  # nested too deeply
