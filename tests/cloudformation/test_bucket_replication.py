"""AWS::S3::Bucket's ReplicationConfiguration: the template's rules (Id, TagFilter) become S3's (ID, Tag)
as GetBucketReplication reads them back through boto3, objects replicate to the destination bucket of the
same stack as the role the stack made, and removing the property deletes the configuration.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-replicationconfiguration.html"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled
from tests.helpers import wait_for


def template(replicate: bool) -> str:
    source: dict[str, Any] = {"BucketName": "repl-source", "VersioningConfiguration": {"Status": "Enabled"}}
    if replicate:
        source["ReplicationConfiguration"] = {"Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Rules": [
            {"Id": "reports", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": "reports/"},
             "DeleteMarkerReplication": {"Status": "Disabled"},
             "Destination": {"Bucket": {"Fn::GetAtt": ["Copy", "Arn"]}, "StorageClass": "STANDARD_IA"}},
            {"Id": "tagged", "Status": "Disabled", "Priority": 2, "Filter": {"TagFilter": {"Key": "k", "Value": "v"}},
             "DeleteMarkerReplication": {"Status": "Disabled"},
             "Destination": {"Bucket": {"Fn::GetAtt": ["Copy", "Arn"]}}}]}
    return json.dumps({"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}}},
        "Copy": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "repl-copy",
                                                           "VersioningConfiguration": {"Status": "Enabled"}}},
        "Source": {"Type": "AWS::S3::Bucket", "Properties": source}}})


def test_replication_from_a_template(client: Any) -> None:
    cf, s3 = client("cloudformation"), client("s3")
    cf.create_stack(StackName="replication", TemplateBody=template(True), Capabilities=["CAPABILITY_IAM"])
    stack = settled(cf, "replication")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="replication")["StackEvents"][:3]
    config = s3.get_bucket_replication(Bucket="repl-source")["ReplicationConfiguration"]
    assert config["Role"].startswith("arn:aws:iam::000000000000:role/")
    first, second = config["Rules"]
    assert first == {"ID": "reports", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": "reports/"},
                     "DeleteMarkerReplication": {"Status": "Disabled"},
                     "Destination": {"Bucket": "arn:aws:s3:::repl-copy", "StorageClass": "STANDARD_IA"}}
    assert second["Filter"] == {"Tag": {"Key": "k", "Value": "v"}} and second["Status"] == "Disabled"

    s3.put_object(Bucket="repl-source", Key="reports/q1.csv", Body=b"q1")
    wait_for(lambda: s3.head_object(Bucket="repl-source", Key="reports/q1.csv").get("ReplicationStatus")
             == "COMPLETED", what="replication")
    replica = s3.head_object(Bucket="repl-copy", Key="reports/q1.csv")
    assert replica["ReplicationStatus"] == "REPLICA" and replica["StorageClass"] == "STANDARD_IA"

    cf.update_stack(StackName="replication", TemplateBody=template(False), Capabilities=["CAPABILITY_IAM"])
    assert settled(cf, "replication")["StackStatus"] == "UPDATE_COMPLETE"
    with pytest.raises(ClientError, match="ReplicationConfigurationNotFoundError"):
        s3.get_bucket_replication(Bucket="repl-source")
