"""Property: no request, however mangled, gets a 5xx, hangs, or hurts the server.

Hypothesis mutates valid requests of each protocol (query: SQS, SNS, STS, IAM; json: SQS, CloudWatch
Logs, Kinesis, CloudWatch; rest-xml: S3; rest-json: Lambda, API Gateway v2; rpc-v2-cbor: CloudWatch) and
sends them to a live server over raw HTTP. Every answer must come within the timeout with a status below
500 (501 NotImplemented excepted: it is S3's own answer to a header naming something not implemented,
and Conveyor's honest refusal of an operation it does not serve), an error body must parse as the XML,
JSON or CBOR it declares, the server must log no internal error, and afterwards it must still do real
work in the protocol just fuzzed.

CI runs a fixed, derandomized sample (1,000 examples per protocol, about a minute in all).
Explore further with CONVEYOR_FUZZ_EXAMPLES=20000 CONVEYOR_FUZZ_RANDOM=1; a failure prints the request
to replay.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import cbor2
import pytest
import requests
from botocore.config import Config as BotoConfig
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import serve_in_thread
from tests.conftest import CREDENTIALS
from tests.fuzz.mutations import Answer, Request, requests_for, send
from tests.fuzz.seeds import SEEDS, Prepared, function_zip, prepare

EXAMPLES = int(os.environ.get("CONVEYOR_FUZZ_EXAMPLES", "1000"))
TIMEOUT = 10.0  # far above any answer here; a request still unanswered by then hangs
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # requests spawn functions and touch the disk: time per example is not the property
    derandomize=not os.environ.get("CONVEYOR_FUZZ_RANDOM"),  # the same examples on every CI run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)


class ErrorLog(logging.Handler):
    """Every ERROR the server logs while fuzzed (an internal error is logged even when answered)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Prepared, ErrorLog]]:
    """A server of its own on the system clock (a manual one would park a fuzzed long poll forever)."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz-data")
    app = App(Config(data_dir=data_dir, port=0, auth="off", clock="system"))
    errors = ErrorLog()
    # asyncio's logger too: a response that cannot be written fails in a task nobody awaits.
    loggers = [logging.getLogger("conveyor"), logging.getLogger("asyncio")]
    for logger in loggers:
        logger.addHandler(errors)
    try:
        with serve_in_thread(app) as url:
            ready = prepare(lambda service: client(url, service))
            yield url, ready, errors
    finally:
        for logger in loggers:
            logger.removeHandler(errors)


def client(endpoint: str, service: Any) -> Any:  # Any: boto3's stubs overload on literal service names
    return boto3.client(service, endpoint_url=endpoint, config=BotoConfig(retries={"max_attempts": 1}),
                        aws_access_key_id=CREDENTIALS["aws_access_key_id"], region_name=CREDENTIALS["region_name"],
                        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"])


def acceptable(answer: Answer) -> bool:
    if answer.status < 500:
        return True
    return answer.status == 501 and b"NotImplemented" in answer.body


def well_formed_error(answer: Answer) -> str | None:
    """An error body is a document of the type it declares (XML or JSON), never a traceback or free text."""
    if answer.status < 400 or not answer.body:
        return None
    content_type = answer.headers.get("content-type", "")
    if content_type.startswith("text/plain") and "x-amz-request-id" not in answer.headers:
        return None  # refused by the HTTP layer (framing, sizes), before any service or protocol is known
    try:
        if "xml" in content_type:
            ElementTree.fromstring(answer.body)
        elif "cbor" in content_type:
            cbor2.loads(answer.body)
        elif "json" in content_type:
            json.loads(answer.body)
        else:
            return f"an error body of type {content_type!r}"
    except (ElementTree.ParseError, ValueError, cbor2.CBORDecodeError) as exc:
        return f"an error body that does not parse as its type {content_type!r}: {exc}"
    return None


@pytest.mark.parametrize("protocol", sorted(SEEDS))
def test_mangled_requests_never_get_a_server_error(fuzzed: tuple[str, Prepared, ErrorLog], protocol: str) -> None:
    endpoint, ready, errors = fuzzed
    where = urlsplit(endpoint)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    seeds = SEEDS[protocol](endpoint, ready)

    @FUZZ
    @given(st.data())
    def mangle(data: st.DataObject) -> None:
        seed = data.draw(st.sampled_from(seeds), label="seed")
        request: Request = data.draw(requests_for(seed), label="request")
        note(f"seed {seed.name}:\n{request.describe()}")
        logged = len(errors.records)
        try:
            answer = send(host, port, request, TIMEOUT)
        except ConnectionResetError:
            # Seen once in 20,000 random examples under heavy machine load and never reproduced: the reset
            # came after the status line. Connection handling has its own tests (tests/test_http11.py);
            # here one retry tells a transient reset from a request that kills its connection every time.
            note("the first attempt was reset by the server")
            answer = send(host, port, request, TIMEOUT)
        assert acceptable(answer), f"{answer.status}: {answer.body[:500]!r}"
        problem = well_formed_error(answer)
        assert problem is None, f"{answer.status} with {problem}: {answer.body[:500]!r}"
        new = errors.records[logged:]
        assert not new, f"the server logged: {new[0].getMessage()} {new[0].exc_text or ''}"

    mangle()
    still_works(endpoint, protocol)


def still_works(endpoint: str, protocol: str) -> None:
    """After the fuzzing the server is healthy and still does real work in the protocol just fuzzed."""
    health = requests.get(f"{endpoint}/_conveyor/health", timeout=10)
    assert health.status_code == 200
    assert all(s["status"] == "running" for s in health.json()["services"].values())
    name = f"after-{uuid.uuid4().hex[:8]}"
    checks: dict[str, Callable[[], None]] = {
        "query": lambda: _sns_to_sqs(endpoint, name),
        "json": lambda: _sqs_round_trip(endpoint, name),
        "rest-xml": lambda: _s3_round_trip(endpoint, name),
        "rest-json": lambda: _lambda_round_trip(endpoint, name),
        "rpc-v2-cbor": lambda: _cloudwatch_round_trip(endpoint, name),
        "ec2": lambda: _ec2_round_trip(endpoint, name),
    }
    checks[protocol]()


def _ec2_round_trip(endpoint: str, name: str) -> None:
    ec2 = client(endpoint, "ec2")
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": "ami-0abcdef1234567890"})
    found = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
    assert [t["LaunchTemplateName"] for t in found] == [name]


def _sqs_round_trip(endpoint: str, name: str) -> None:
    sqs = client(endpoint, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="still here")
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in messages] == ["still here"]


def _sns_to_sqs(endpoint: str, name: str) -> None:
    sqs, sns = client(endpoint, "sqs"), client(endpoint, "sns")
    assert client(endpoint, "sts").get_caller_identity()["Account"] == "000000000000"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="fanned out")
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in messages] == ["fanned out"]


def _s3_round_trip(endpoint: str, name: str) -> None:
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"intact")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"intact"


def _cloudwatch_round_trip(endpoint: str, name: str) -> None:
    cloudwatch = client(endpoint, "cloudwatch")
    cloudwatch.put_metric_data(Namespace=name, MetricData=[{"MetricName": "m", "Value": 2.0}])
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace=name)["Metrics"]] == ["m"]


def _lambda_round_trip(endpoint: str, name: str) -> None:
    lam = client(endpoint, "lambda")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": function_zip()})
    assert lam.invoke(FunctionName=name, Payload=b'{"echo": 1}')["Payload"].read() == b'{"echo": 1}'
