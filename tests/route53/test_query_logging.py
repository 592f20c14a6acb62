"""CreateQueryLoggingConfig against CloudWatch Logs' resource policies, through boto3: Route 53 must be let
write (logs:CreateLogStream and logs:PutLogEvents for route53.amazonaws.com on the group, by a policy in
us-east-1), and writes a zone's queries only while it is let.
https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateQueryLoggingConfig.html"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import CREDENTIALS
from tests.route53.conftest import Dig, a_record, change, create_zone, query_logging_policy

GROUP = "/aws/route53/example.com"
INSUFFICIENT = {"Type": "Sender", "Code": "InsufficientCloudWatchLogsResourcePolicy", "Status": 400,
                "Message": "The resource policy that you're using for Route 53 query logging doesn't grant Route 53 "
                           "sufficient permission to create a log stream in the specified log group."}


def _refused(r53: Any, zone_id: str, arn: str) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        r53.create_query_logging_config(HostedZoneId=zone_id, CloudWatchLogsLogGroupArn=arn)
    error: dict[str, Any] = info.value.response["Error"]
    error["Status"] = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error


def test_a_config_needs_a_policy_that_lets_route53_write(r53: Any, client: Any, endpoint: str) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName=GROUP)
    arn = logs.describe_log_groups()["logGroups"][0]["arn"]
    zone_id = create_zone(r53)

    assert _refused(r53, zone_id, arn) == INSUFFICIENT  # no policy at all
    # Policies that do not grant it: another service, another group, one action of the two, a policy kept in
    # another region, another zone named by the confused-deputy condition.
    logs.put_resource_policy(policyName="es", policyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": '
                             '"Allow", "Principal": {"Service": "es.amazonaws.com"}, "Action": ["logs:CreateLogStream",'
                             ' "logs:PutLogEvents"], "Resource": "*"}]}')
    query_logging_policy(logs, "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/*", name="lambda-groups")
    logs.put_resource_policy(policyName="stream-only", policyDocument='{"Version": "2012-10-17", "Statement": [{'
                             '"Effect": "Allow", "Principal": {"Service": "route53.amazonaws.com"}, "Action": '
                             '"logs:CreateLogStream", "Resource": "*"}]}')
    query_logging_policy(boto3.client("logs", endpoint_url=endpoint, **{**CREDENTIALS, "region_name": "eu-west-1"}),
                         name="wrong-region")
    query_logging_policy(logs, name="other-zone",
                         ArnLike={"aws:SourceArn": "arn:aws:route53:::hostedzone/ZOTHERZONE"})
    assert _refused(r53, zone_id, arn) == INSUFFICIENT
    assert r53.list_query_logging_configs()["QueryLoggingConfigs"] == []

    query_logging_policy(logs, name="this-zone", ArnLike={"aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone_id}"},
                         StringEquals={"aws:SourceAccount": "000000000000"})
    config = r53.create_query_logging_config(HostedZoneId=zone_id, CloudWatchLogsLogGroupArn=arn)
    assert config["QueryLoggingConfig"]["CloudWatchLogsLogGroupArn"] == arn


def test_a_missing_group_or_one_of_another_account(r53: Any, client: Any) -> None:
    logs = client("logs")
    query_logging_policy(logs, "*")
    zone_id = create_zone(r53)
    missing = _refused(r53, zone_id, "arn:aws:logs:us-east-1:000000000000:log-group:/aws/route53/missing:*")
    assert missing == {"Type": "Sender", "Code": "NoSuchCloudWatchLogsLogGroup", "Status": 404,
                       "Message": "The specified CloudWatch Logs log group doesn't exist."}
    logs.create_log_group(logGroupName=GROUP)
    elsewhere = _refused(r53, zone_id, f"arn:aws:logs:us-east-1:111122223333:log-group:{GROUP}:*")
    assert elsewhere["Code"] == "NoSuchCloudWatchLogsLogGroup"


def _logged(logs: Any, wanted: str) -> list[str]:
    """The names queried so far, once `wanted` is among them."""
    deadline = time.monotonic() + 10
    names: list[str] = []
    while time.monotonic() < deadline and wanted not in names:
        names = [e["message"].split(" ")[3] for e in logs.filter_log_events(logGroupName=GROUP)["events"]]
        time.sleep(0.05)
    return names


def test_queries_are_written_only_while_the_policy_lets_route53(r53: Any, client: Any, dig: Dig) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName=GROUP)
    query_logging_policy(logs)
    arn = logs.describe_log_groups()["logGroups"][0]["arn"]
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")),
           ("CREATE", a_record("api.example.com", "192.0.2.2")), ("CREATE", a_record("cdn.example.com", "192.0.2.3")))
    r53.create_query_logging_config(HostedZoneId=zone_id, CloudWatchLogsLogGroupArn=arn)

    dig.values("www.example.com")
    assert _logged(logs, "www.example.com") == ["www.example.com"]
    logs.delete_resource_policy(policyName="route53-query-logging")
    assert dig.values("api.example.com") == ["192.0.2.2"]  # answered, not logged
    query_logging_policy(logs)
    dig.values("cdn.example.com")
    assert _logged(logs, "cdn.example.com") == ["www.example.com", "cdn.example.com"]
