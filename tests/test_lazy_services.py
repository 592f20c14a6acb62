"""Services start on first use: a server nobody has asked anything has imported no service and no botocore;
the first request (or a port another service calls, or a DNS query) starts the service it needs; a service
with state on disk starts with the server. The catalog that routes to services before they are imported says
what the services themselves say."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import dns.rcode
import pytest

from conveyor.ports import Ports
from conveyor.protocol.models import model_metadata
from conveyor.service_set import load_class
from conveyor.services.base import Environment, Service
from conveyor.services.catalog import CATALOG
from tests.conftest import post_json
from tests.helpers import wait_for
from tests.route53.conftest import Dig


def health(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        services: dict[str, Any] = json.load(response)["services"]
    return services


@pytest.mark.parametrize("entry", CATALOG, ids=lambda entry: entry.name)
def test_the_catalog_says_what_each_service_says(entry: Any, tmp_path: Path) -> None:
    service_class = load_class(entry.path)
    assert service_class is not None
    assert set(entry.signs_as) == {service_class.signing_name or entry.name, *service_class.signing_aliases}
    assert entry.target_prefix == model_metadata(service_class.name).get("targetPrefix")
    assert entry.takes_unsigned == service_class.takes_unsigned
    assert entry.internal_prefix == service_class.internal_prefix
    from conveyor.app import App  # a built App gives the service its environment
    from conveyor.config import Config

    env: Environment = App(Config(data_dir=tmp_path, port=0, dns_port=-1)).env
    service: Service = service_class(env)
    offered = Ports()
    service.provide(offered)
    provided = {f.name for f in dataclasses.fields(Ports) if getattr(offered, f.name) not in (None, [], {})}
    provided -= {"credential_sources", "policy_holders"}  # lists and maps: empty until it starts, by design
    assert set(entry.provides) == provided
    # A data plane is found only for a service the catalog says may claim requests.
    assert (service.data_plane is not None) == (entry.may_claim is not None)


_PROBE = textwrap.dedent("""
    import asyncio, json, sys, urllib.request
    from conveyor.app import App
    from conveyor.config import Config
    from conveyor.server import serve_in_thread

    def loaded():
        # A service's module (its api, which imports its engine and store); Route 53's DNS door is not one.
        return sorted(m.split(".")[2] for m in sys.modules if m.startswith("conveyor.services.") and m.endswith(".api"))

    app = App(Config(data_dir=sys.argv[1], port=0, auth="off", dns_port=-1))
    seen = {}
    with serve_in_thread(app) as url:
        urllib.request.urlopen(url + "/_conveyor/health").read()
        seen["started"] = {"services": loaded(), "botocore": "botocore" in sys.modules}
        request = urllib.request.Request(url + "/", data=b"{}", method="POST", headers={
            "X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
        seen["answer"] = json.load(urllib.request.urlopen(request))
        seen["after_sqs"] = {"services": loaded(), "botocore": "botocore" in sys.modules}
    print(json.dumps(seen))
""")


def test_a_server_imports_no_service_and_no_botocore_until_asked(tmp_path: Path) -> None:
    """In a process of its own (the tests' process imports everything): its sys.modules, before and after a
    first SQS request in the wire protocol (raw HTTP, no SDK in the process)."""
    result = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "data")], capture_output=True,
                            timeout=60, check=True)
    seen = json.loads(result.stdout)
    assert seen["started"] == {"services": [], "botocore": False}
    assert seen["answer"] == {"QueueUrls": []} or seen["answer"] == {}
    assert "sqs" in seen["after_sqs"]["services"] and seen["after_sqs"]["botocore"]
    # Only SQS and what it reaches (its metrics go to CloudWatch): not EC2, Lambda, CloudFormation...
    assert not {"ec2", "lambda_", "cloudformation", "autoscaling", "route53", "dynamodb"} & set(
        seen["after_sqs"]["services"])


def test_first_use_through_boto3_starts_the_services_a_pipeline_needs(start_server: Any) -> None:
    server = start_server()
    assert all(state == {"status": "available"} for state in health(server.endpoint).values())
    sqs, sns = server.client("sqs"), server.client("sns")
    queue_url = sqs.create_queue(QueueName="lazy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = sns.create_topic(Name="lazy")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic_arn, Message="hello")
    got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == ["hello"]
    states = health(server.endpoint)
    assert states["sqs"]["status"] == states["sns"]["status"] == "running"
    assert states["ec2"] == {"status": "available"}


def test_a_service_that_has_not_started_answers_through_its_port_as_an_empty_one(start_server: Any) -> None:
    """S3 asks SQS (not started) whether the destination queue exists: no queue, so S3 refuses as AWS does."""
    server = start_server()
    s3 = server.client("s3")
    s3.create_bucket(Bucket="lazy-bucket")
    with pytest.raises(Exception) as refused:
        s3.put_bucket_notification_configuration(Bucket="lazy-bucket", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:missing",
                                     "Events": ["s3:ObjectCreated:*"]}]})
    assert "Unable to validate" in str(refused.value)
    assert health(server.endpoint)["sqs"] == {"status": "available"}


def test_services_with_state_on_disk_start_with_the_server(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    server.client("sqs").create_queue(QueueName="kept")
    server.stop()
    server = start_server(tmp_path / "data", port=server.port)
    states = health(server.endpoint)
    assert states["sqs"]["status"] == "running"  # before any request: it may have work to resume
    assert states["lambda"] == {"status": "available"}


def _dns_port(start_server: Any, tmp_path: Path) -> tuple[Any, int]:
    """A server whose DNS port is any free one (UDP and TCP alike), read from its console: asking
    /_conveyor/route53 would start Route 53."""
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--dns-port", "0", console=console)
    found = re.search(r"dig @127\.0\.0\.1 -p (\d+) NAME", console.read_text())
    assert found is not None, console.read_text()
    return server, int(found.group(1))


def test_a_dns_query_starts_route_53_on_the_port_held_for_it(start_server: Any, tmp_path: Path) -> None:
    server, port = _dns_port(start_server, tmp_path)
    assert health(server.endpoint)["route53"] == {"status": "available"}
    # The first datagram waits in the held socket while Route 53 starts, then is answered: no zone, REFUSED.
    assert Dig(port).query("www.example.com").rcode() == dns.rcode.REFUSED
    assert health(server.endpoint)["route53"]["status"] == "running"
    assert Dig(port).query("www.example.com", tcp=True).rcode() == dns.rcode.REFUSED


def test_a_tcp_query_starts_route_53_too(start_server: Any, tmp_path: Path) -> None:
    server, port = _dns_port(start_server, tmp_path)
    assert Dig(port).query("www.example.com", tcp=True).rcode() == dns.rcode.REFUSED
    assert health(server.endpoint)["route53"]["status"] == "running"


def test_metrics_counted_before_cloudwatch_started_reach_it(start_server: Any, tmp_path: Path) -> None:
    """SQS counts its sends into CloudWatch's port before CloudWatch has started: the stand-in keeps the counts
    and starts CloudWatch, which then has every one of them."""
    server = start_server(tmp_path / "data", "--clock", "manual")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="counted")["QueueUrl"]
    started = post_json(f"{server.endpoint}/_conveyor/clock", {"advance": 0})["now"]
    for i in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {i}")
    wait_for(lambda: health(server.endpoint)["cloudwatch"]["status"] == "running", what="CloudWatch started")
    cloudwatch = server.client("cloudwatch")

    def summed() -> list[float] | None:
        # Each minute that ends stores what was counted in it. CloudWatch arms its minute when it starts, on
        # the server's loop: a minute advanced before that is stored at the next one, so the clock moves on
        # until the counts are there (and then they must all be there).
        now = post_json(f"{server.endpoint}/_conveyor/clock", {"advance": 60})["now"]
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="NumberOfMessagesSent",
            Dimensions=[{"Name": "QueueName", "Value": "counted"}],
            StartTime=started - 600, EndTime=now + 60, Period=3600, Statistics=["Sum"])["Datapoints"]
        return [p["Sum"] for p in points] or None

    assert wait_for(summed, timeout=30, interval=0.2, what="the counted sends in CloudWatch") == [7.0]


# Synchronous port methods with no empty answer, and why no service asks them of a service not started.
_ASKED_ONLY_OF_STARTED = {
    "counters": "its callers (pools, mappings) take any failure for a queue that does not exist",
    "open_object": "CloudFront needs S3", "preflight": "CloudFront needs S3",
    "watch": "Auto Scaling needs EC2", "zones": "Auto Scaling and CloudFormation need EC2",
    "subnet_zones": "Auto Scaling needs EC2", "resolve_template": "Auto Scaling needs EC2",
    "vpc_exists": "Route 53 needs EC2",
    "position": "a stream mapping exists only for a stream, so Kinesis or DynamoDB had state and started",
    "read": "as position",
    "tally": "a sink: kept", "sample": "a sink: kept", "sample_many": "a sink: kept", "write": "a sink: kept",
    "note_used": "credential sources are listed once started, not stood in for",
}


def test_every_synchronous_port_method_has_an_answer_before_its_service_starts() -> None:
    """A port method added later must say what a service not started answers (conveyor.lazy_ports), or which
    service needs its provider started first (conveyor.services.catalog)."""
    import inspect

    from conveyor.app import _PORT_TYPES
    from conveyor.lazy_ports import _EMPTY_ANSWERS

    for port, protocol in _PORT_TYPES.items():
        for name, member in inspect.getmembers(protocol, inspect.isfunction):
            if name.startswith("_") or inspect.iscoroutinefunction(member):
                continue
            assert name in _EMPTY_ANSWERS or name in _ASKED_ONLY_OF_STARTED, f"{port}.{name}"
    provided = {port for entry in CATALOG for port in entry.provides}
    assert provided == set(_PORT_TYPES)
