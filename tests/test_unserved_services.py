"""Services Conveyor does not serve answer in the shape their clients parse, naming the service: the AWS
CLI prints "Conveyor does not serve the service 'rds'" instead of a parse error."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from conveyor.app import SERVICES


@pytest.mark.parametrize(("command", "name", "code"), [
    (["rds", "describe-db-instances"], "rds", "InvalidAction"),  # query
    (["stepfunctions", "list-state-machines"], "states", "UnknownOperationException"),  # json (X-Amz-Target)
    (["kafka", "list-clusters"], "kafka", "UnknownOperationException"),  # rest-json
])
def test_the_cli_names_the_service_conveyor_does_not_serve(aws, command, name, code) -> None:  # type: ignore[no-untyped-def]
    result = aws(*command, check=False)
    assert isinstance(result, subprocess.CompletedProcess)
    stderr = result.stderr.decode()
    assert result.returncode != 0
    assert f"An error occurred ({code})" in stderr, stderr
    assert f"Conveyor does not serve the service '{name}'" in stderr
    assert f"(it serves {', '.join(sorted(SERVICES))})" in stderr  # and says what it does serve


def test_boto3_and_raw_clients_get_their_protocols_shape(endpoint, client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as firehose:
        client("firehose").list_delivery_streams()
    assert firehose.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "Conveyor does not serve the service 'firehose'" in firehose.value.response["Error"]["Message"]
    # Unsigned, named only by its X-Amz-Target prefix: json's __type.
    raw = requests.post(f"{endpoint}/", data=b"{}", timeout=30, headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
    assert raw.status_code == 400 and raw.json()["__type"].endswith("#UnknownOperationException")
    # Unsigned query addressed to the service's AWS host name: query's XML.
    beanstalk = requests.post(f"{endpoint}/", data={"Action": "DescribeApplications", "Version": "2010-12-01"},
                              timeout=30, headers={"Host": "elasticbeanstalk.us-east-1.amazonaws.com"})
    error = ET.fromstring(beanstalk.content).find("{*}Error")
    assert error is not None and error.findtext("{*}Code") == "InvalidAction"
    assert "'elasticbeanstalk'" in (error.findtext("{*}Message") or "")
    # A signing name no AWS model has: still named, in the request's shape.
    odd = requests.post(f"{endpoint}/", data=json.dumps({}), timeout=30, headers={
        "X-Amz-Target": "Nothing.Here", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/nothing/aws4_request, "
                         "SignedHeaders=host;x-amz-date;x-amz-target, Signature=00",
        "X-Amz-Date": "20260101T000000Z"})
    assert odd.status_code == 400 and "Conveyor does not serve the service 'nothing'" in odd.json()["message"]
