"""Another account's caller in CloudWatch Logs (with --auth off, a 12-digit access key ID other than the
account's is that account's root user): Logs' resource policies grant AWS services, not other accounts
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html), so the caller
acts in its own account, which holds nothing here: empty listings, its names are missing groups, the account's
groups named by ARN are AccessDenied, creating is AccessDenied; in every `--iam` mode.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import serve_in_thread
from tests.conftest import post_json
from tests.test_other_accounts import OTHER, OTHER_ROOT, _partner, _refused

MISSING = ("ResourceNotFoundException", "The specified log group does not exist.", 400)


def _owner_and_partner(endpoint: str) -> tuple[Any, Any]:
    owner = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                         aws_secret_access_key="test", config=BotoConfig(retries={"max_attempts": 1}))
    return owner, _partner(endpoint, "logs")


def _another_account_owns_nothing(endpoint: str) -> None:
    owner, theirs = _owner_and_partner(endpoint)
    now_ms = int(post_json(f"{endpoint}/_conveyor/clock", {"advance": 0})["now"] * 1000)
    group = f"/app/{uuid.uuid4().hex[:6]}"
    owner.create_log_group(logGroupName=group)
    owner.create_log_stream(logGroupName=group, logStreamName="s")
    owner.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now_ms, "message": "mine"}])
    arn = owner.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    owner.put_resource_policy(policyName="events", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "logs:PutLogEvents",
         "Resource": "*"}]}))
    # Its own account's listings: nothing.
    assert theirs.describe_log_groups()["logGroups"] == []
    assert theirs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    assert theirs.describe_resource_policies()["resourcePolicies"] == []
    # A group name is a group of its own account, which has none: Logs' words for a missing group
    # (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).
    for call in (lambda: theirs.put_log_events(logGroupName=group, logStreamName="s",
                                               logEvents=[{"timestamp": now_ms, "message": "theirs"}]),
                 lambda: theirs.get_log_events(logGroupName=group, logStreamName="s"),
                 lambda: theirs.filter_log_events(logGroupName=group),
                 lambda: theirs.describe_log_streams(logGroupName=group),
                 lambda: theirs.create_log_stream(logGroupName=group, logStreamName="t"),
                 lambda: theirs.delete_log_group(logGroupName=group),
                 lambda: theirs.put_retention_policy(logGroupName=group, retentionInDays=1),
                 lambda: theirs.list_tags_log_group(logGroupName=group),
                 lambda: theirs.get_log_events(logGroupIdentifier=arn.replace(":000000000000:", f":{OTHER}:"),
                                               logStreamName="s")):
        assert _refused(call) == MISSING
    assert _refused(lambda: theirs.delete_resource_policy(policyName="events")) == (
        "ResourceNotFoundException", "Policy with name [events] does not exist", 400)
    # The account's group named by its ARN: another account's resource, which no policy shares.
    code, message, status = _refused(lambda: theirs.get_log_events(logGroupIdentifier=arn, logStreamName="s"))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message.startswith(f"User: {OTHER_ROOT} is not authorized to perform: logs:GetLogEvents on resource: {arn}")
    assert _refused(lambda: theirs.tag_resource(resourceArn=arn, tags={"k": "v"}))[0] == "AccessDeniedException"
    # Creating anything: AccessDenied (Conveyor holds one account).
    assert _refused(lambda: theirs.create_log_group(logGroupName="theirs"))[0] == "AccessDeniedException"
    assert _refused(lambda: theirs.put_resource_policy(policyName="theirs", policyDocument="{}"))[0] == (
        "AccessDeniedException")
    # The owner's group, events, tags and policy are untouched.
    assert [e["message"] for e in owner.get_log_events(logGroupName=group, logStreamName="s")["events"]] == ["mine"]
    assert owner.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    assert "retentionInDays" not in owner.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert [p["policyName"] for p in owner.describe_resource_policies()["resourcePolicies"]] == ["events"]
    owner.delete_resource_policy(policyName="events")


def test_another_account_owns_nothing_in_cloudwatch_logs(endpoint):
    _another_account_owns_nothing(endpoint)


def test_with_iam_enforced_another_account_still_owns_nothing_in_cloudwatch_logs(tmp_path):
    app = App(Config(data_dir=tmp_path, port=0, clock="manual", auth="off", iam="enforce"))
    with serve_in_thread(app) as url:
        _another_account_owns_nothing(url)
