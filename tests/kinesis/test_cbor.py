"""Kinesis in CBOR, as the AWS SDK for Java sends it: `application/x-amz-cbor-1.1` under the JSON target
header, blobs as byte strings, timestamps as tag 1 holding epoch milliseconds. Requests are made with
cbor2, a CBOR library of its own, over raw HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import cbor2

CONTENT_TYPE = "application/x-amz-cbor-1.1"


def call(endpoint: str, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(endpoint, data=cbor2.dumps(body), method="POST", headers={
        "Content-Type": CONTENT_TYPE, "X-Amz-Target": f"Kinesis_20131202.{operation}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    # Tag 1 holds milliseconds here (not RFC 8949's seconds): read it as the SDK does.
    return status, headers, cbor2.loads(raw, semantic_decoders={1: lambda value, immutable=False: ("ms", value)})


def test_a_java_sdk_conversation_in_cbor(endpoint: str, advance: Any) -> None:
    status, headers, _ = call(endpoint, "CreateStream", {"StreamName": "java", "ShardCount": 1})
    assert status == 200 and headers["Content-Type"] == CONTENT_TYPE
    _, _, put = call(endpoint, "PutRecord", {"StreamName": "java", "PartitionKey": "k", "Data": b"\x00\xffbinary"})
    assert put["ShardId"] == "shardId-000000000000" and len(put["SequenceNumber"]) == 56
    now_ms = int(advance(0) * 1000)
    _, _, summary = call(endpoint, "DescribeStreamSummary", {"StreamName": "java"})
    tag, created = summary["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert tag == "ms" and isinstance(created, int) and abs(created - now_ms) < 5_000
    _, _, iterator = call(endpoint, "GetShardIterator", {
        "StreamName": "java", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": cbor2.CBORTag(1, now_ms - 60_000)})
    _, _, got = call(endpoint, "GetRecords", {"ShardIterator": iterator["ShardIterator"]})
    (record,) = got["Records"]
    assert record["Data"] == b"\x00\xffbinary" and record["SequenceNumber"] == put["SequenceNumber"]
    assert record["ApproximateArrivalTimestamp"][0] == "ms"
    assert abs(record["ApproximateArrivalTimestamp"][1] - now_ms) < 5_000
    _, _, later = call(endpoint, "GetShardIterator", {
        "StreamName": "java", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": cbor2.CBORTag(1, now_ms + 60_000)})
    assert call(endpoint, "GetRecords", {"ShardIterator": later["ShardIterator"]})[2]["Records"] == []


def test_errors_come_back_in_cbor(endpoint: str) -> None:
    status, headers, body = call(endpoint, "DescribeStream", {"StreamName": "absent"})
    assert status == 400 and headers["Content-Type"] == CONTENT_TYPE
    assert body == {"__type": "ResourceNotFoundException",
                    "message": "Stream absent under account 000000000000 not found."}
    status, _, body = call(endpoint, "PutRecord", {"StreamName": "absent", "PartitionKey": "k", "Data": "text"})
    assert status == 400 and body["__type"] == "SerializationException"
    request = urllib.request.Request(endpoint, data=b"\xff\x00", method="POST", headers={
        "Content-Type": CONTENT_TYPE, "X-Amz-Target": "Kinesis_20131202.ListStreams"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a malformed body was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 400 and cbor2.loads(error.read())["__type"] == "SerializationException"
    assert call(endpoint, "ListStreams", {})[2]["StreamNames"] == []  # and the server still serves
