"""The ec2 codec against botocore's own serializer and parser for that protocol (what boto3 and the AWS CLI
send EC2 and read back)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from conveyor.protocol.ec2 import Ec2Codec
from conveyor.protocol.models import service_model
from conveyor.protocol.registry import codecs_for
from conveyor.wire import Headers, HttpRequest, RequestContext, ServiceError

MODEL = service_model("ec2")
CODEC = Ec2Codec(MODEL)
T0 = dt.datetime(2025, 5, 1, 12, 30, 15, tzinfo=dt.UTC)


class _Clock:
    def now(self) -> float:
        return 0.0


def _context(body: bytes) -> RequestContext:
    headers = Headers([("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
    http = HttpRequest("POST", "/", "", headers, _body=body)
    return RequestContext(http, _Clock(), "req-1", "000000000000", "us-east-1")


def _parse_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    serializer = create_serializer("ec2", include_validation=True)
    request = serializer.serialize_to_request(params, MODEL.operation_model(operation))
    ctx = _context(urlencode(request["body"]).encode())

    async def run() -> dict[str, Any]:
        op = await CODEC.route(ctx)
        assert op.name == operation
        return await CODEC.parse(ctx, op)

    return asyncio.run(run())


def _botocore_parse(operation: str, status: int, body: bytes) -> dict[str, Any]:
    parser = create_parser("ec2")
    response = {"status_code": status, "headers": {}, "body": body}
    return parser.parse(response, MODEL.operation_model(operation).output_shape)  # type: ignore[no-any-return]


def test_the_model_gets_the_ec2_codec() -> None:
    assert list(codecs_for(MODEL)) == ["ec2"]


def test_run_instances_as_botocore_sends_it() -> None:
    params = {
        "MinCount": 1, "MaxCount": 2, "ImageId": "ami-0abcdef1234567890",
        "LaunchTemplate": {"LaunchTemplateName": "workers", "Version": "$Latest"},
        "UserData": "IyEvYmluL2Jhc2gK", "IamInstanceProfile": {"Name": "worker-profile"},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "w1"},
                                                                    {"Key": "team", "Value": "ünï"}]}],
        "SecurityGroupIds": ["sg-1", "sg-2"], "DisableApiTermination": False,
        "InstanceInitiatedShutdownBehavior": "terminate",
    }
    parsed = _parse_request("RunInstances", params)
    assert parsed == params


def test_lists_filters_and_empty_lists() -> None:
    parsed = _parse_request("DescribeInstances", {
        "InstanceIds": ["i-1", "i-2"], "MaxResults": 5,
        "Filters": [{"Name": "instance-state-name", "Values": ["running", "pending"]},
                    {"Name": "tag:Name", "Values": ["w1"]}]})
    assert parsed["InstanceIds"] == ["i-1", "i-2"] and parsed["MaxResults"] == 5
    assert parsed["Filters"][0] == {"Name": "instance-state-name", "Values": ["running", "pending"]}
    # botocore sends an empty list as nothing at all (unlike query's "Name=" for an empty list).
    assert _parse_request("DescribeInstances", {"InstanceIds": []}) == {}


def test_launch_template_data_nests_structures_and_lists() -> None:
    data = {"ImageId": "ami-1", "InstanceType": "t3.micro", "UserData": "ZWNobyBoaQ==",
            "IamInstanceProfile": {"Arn": "arn:aws:iam::000000000000:instance-profile/p"},
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v"}]}],
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}}]}
    parsed = _parse_request("CreateLaunchTemplate", {"LaunchTemplateName": "tpl", "LaunchTemplateData": data,
                                                    "VersionDescription": "first"})
    assert parsed["LaunchTemplateData"] == data and parsed["VersionDescription"] == "first"


def test_a_bad_number_is_invalid_parameter_value() -> None:
    ctx = _context(b"Action=DescribeInstances&Version=2016-11-15&MaxResults=many")

    async def run() -> None:
        await CODEC.parse(ctx, await CODEC.route(ctx))

    with pytest.raises(ServiceError) as caught:
        asyncio.run(run())
    assert caught.value.code == "InvalidParameterValue" and "MaxResults" in caught.value.message


def _serialized(operation: str, result: dict[str, Any]) -> bytes:
    ctx = _context(b"")
    return CODEC.serialize(ctx, MODEL.operation_model(operation), result).body


def test_responses_botocore_parses_to_the_same_values() -> None:
    instance = {"InstanceId": "i-0123456789abcdef0", "ImageId": "ami-1", "InstanceType": "t3.micro",
                "LaunchTime": T0, "State": {"Code": 16, "Name": "running"},
                "Placement": {"AvailabilityZone": "us-east-1a", "Tenancy": "default"},
                "Tags": [{"Key": "Name", "Value": "w & <1>"}], "SecurityGroups": [],
                "IamInstanceProfile": {"Arn": "arn:aws:iam::000000000000:instance-profile/p", "Id": "AIPA1"},
                "EbsOptimized": False, "AmiLaunchIndex": 0}
    result = {"Reservations": [{"ReservationId": "r-1", "OwnerId": "000000000000", "Instances": [instance],
                                "Groups": []}]}
    body = _serialized("DescribeInstances", result)
    assert b"<reservationSet><item>" in body and b"<instancesSet><item>" in body and b"<requestId>req-1" in body
    parsed = _botocore_parse("DescribeInstances", 200, body)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    assert parsed["Reservations"][0]["Instances"][0] == instance
    assert parsed["Reservations"][0]["ReservationId"] == "r-1"


def test_errors_are_ec2s_response_document() -> None:
    ctx = _context(b"")
    response = CODEC.serialize_error(ctx, ServiceError("InvalidInstanceID.NotFound",
                                                       "The instance ID 'i-1' does not exist"))
    assert response.status == 400
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>')
    parser = create_parser("ec2")
    parsed = parser.parse({"status_code": 400, "headers": {}, "body": response.body},
                          MODEL.operation_model("DescribeInstances").output_shape)
    assert parsed["Error"] == {"Code": "InvalidInstanceID.NotFound", "Message": "The instance ID 'i-1' does not exist"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
