"""AWS::S3::Bucket's LifecycleConfiguration: the template's flat rules become S3's rules (one Filter, nested
actions) as GetBucketLifecycleConfiguration reads them back through boto3, the rules are carried out (an
object under the expiring prefix is gone after the midnight it falls due on the server's manual clock), an
update changes them in place and removing the property deletes the configuration.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-rule.html"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled
from tests.helpers import wait_for

DAY = 86400
RULES: list[dict[str, Any]] = [
    {"Id": "logs", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": 1},
    {"Id": "archive", "Status": "Enabled", "Prefix": "data/", "TagFilters": [{"Key": "tier", "Value": "cold"}],
     "ObjectSizeGreaterThan": "1024",
     "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 30}],
     "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}},
    {"Id": "tidy", "Status": "Disabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
     "ExpiredObjectDeleteMarker": True},
    {"Id": "dated", "Status": "Enabled", "TagFilters": [{"Key": "temp", "Value": "yes"}],
     "ExpirationDate": "2030-01-01T00:00:00Z", "NoncurrentVersionExpirationInDays": 5,
     "NoncurrentVersionTransition": {"StorageClass": "GLACIER_IR", "TransitionInDays": 1}},
]


def template(rules: list[dict[str, Any]] | None) -> str:
    properties: dict[str, Any] = {"BucketName": "lifecycle-cfn"}
    if rules is not None:
        properties["LifecycleConfiguration"] = {"Rules": rules}
    return json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": properties}}})


def update(cf: Any, rules: list[dict[str, Any]] | None) -> None:
    cf.update_stack(StackName="lifecycle", TemplateBody=template(rules))
    assert settled(cf, "lifecycle")["StackStatus"] == "UPDATE_COMPLETE"


def test_lifecycle_rules_are_made_carried_out_changed_and_removed(client, advance) -> None:  # type: ignore[no-untyped-def]
    cf, s3 = client("cloudformation"), client("s3")
    cf.create_stack(StackName="lifecycle", TemplateBody=template(RULES))
    stack = settled(cf, "lifecycle")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="lifecycle")["StackEvents"][:3]
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="lifecycle-cfn")["Rules"]}
    assert rules["logs"] == {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                             "Expiration": {"Days": 1}}
    assert rules["archive"]["Filter"] == {"And": {"Prefix": "data/", "Tags": [{"Key": "tier", "Value": "cold"}],
                                                  "ObjectSizeGreaterThan": 1024}}
    assert rules["archive"]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER"}]
    assert rules["archive"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}
    assert rules["tidy"]["Filter"] == {"Prefix": ""} and rules["tidy"]["Status"] == "Disabled"
    assert rules["tidy"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert rules["tidy"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert rules["dated"]["Filter"] == {"Tag": {"Key": "temp", "Value": "yes"}}
    assert rules["dated"]["Expiration"] == {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)}
    assert rules["dated"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5}
    assert rules["dated"]["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 1, "StorageClass": "GLACIER_IR"}]

    # The logs rule is carried out: after the midnight a day on, the log is gone and the rest stays.
    s3.put_object(Bucket="lifecycle-cfn", Key="logs/today", Body=b"log")
    s3.put_object(Bucket="lifecycle-cfn", Key="data/kept", Body=b"data")
    now = advance(0)
    advance(math.ceil((now + DAY) / DAY) * DAY - now + 1)
    wait_for(lambda: [o["Key"] for o in s3.list_objects_v2(Bucket="lifecycle-cfn").get("Contents", [])]
             == ["data/kept"], what="the log expired")

    # In place: one rule left, with a new expiry; then the property removed deletes the configuration.
    update(cf, [{"Id": "logs", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": 3}])
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket="lifecycle-cfn")["Rules"]
    assert rule["Expiration"] == {"Days": 3}
    update(cf, None)
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket="lifecycle-cfn")

    # A rule S3 refuses fails the update with S3's reason, and the stack rolls back to the rules before.
    cf.update_stack(StackName="lifecycle", TemplateBody=template([{"Id": "bad", "Status": "Enabled",
                                                                   "ExpirationInDays": 0}]))
    assert settled(cf, "lifecycle")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    [failed] = [e for e in cf.describe_stack_events(StackName="lifecycle")["StackEvents"]
                if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "'Days' for Expiration action must be a positive integer" in failed["ResourceStatusReason"]
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket="lifecycle-cfn")

    s3.delete_object(Bucket="lifecycle-cfn", Key="data/kept")
    cf.delete_stack(StackName="lifecycle")
    cf.get_waiter("stack_delete_complete").wait(StackName="lifecycle", WaiterConfig={"Delay": 1})
    assert "lifecycle-cfn" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
