"""AWS::S3::Bucket and AWS::S3::BucketPolicy.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucketpolicy.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_json,
    ignore_missing,
    tag_list,
)
from conveyor.services.cloudformation.resources.s3_lifecycle import lifecycle_request
from conveyor.services.cloudformation.resources.s3_replication import replication_request


def _filter(value: Any) -> dict[str, Any]:
    rules = ((value or {}).get("S3Key") or {}).get("Rules") or []
    return {"Key": {"FilterRules": [{"Name": rule["Name"], "Value": rule["Value"]} for rule in rules]}}


def notification_configuration(value: dict[str, Any] | None) -> dict[str, Any]:
    """The template's NotificationConfiguration as PutBucketNotificationConfiguration takes it (one Event per
    entry there, a list of Events in the API)."""
    value = value or {}
    out: dict[str, Any] = {}
    for template_key, api_key, arn_key, target_key in (
            ("TopicConfigurations", "TopicConfigurations", "TopicArn", "Topic"),
            ("QueueConfigurations", "QueueConfigurations", "QueueArn", "Queue"),
            ("LambdaConfigurations", "LambdaFunctionConfigurations", "LambdaFunctionArn", "Function")):
        entries = []
        for entry in value.get(template_key) or []:
            item: dict[str, Any] = {arn_key: entry[target_key], "Events": [entry["Event"]]}
            if entry.get("Filter"):
                item["Filter"] = _filter(entry["Filter"])
            entries.append(item)
        if entries:
            out[api_key] = entries
    if str((value.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled", "false")).lower() == "true":
        out["EventBridgeConfiguration"] = {}
    return out


def _cors(value: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in value.get("CorsRules") or []:
        item: dict[str, Any] = {"AllowedMethods": rule["AllowedMethods"], "AllowedOrigins": rule["AllowedOrigins"]}
        for template_key, api_key in (("AllowedHeaders", "AllowedHeaders"), ("ExposedHeaders", "ExposeHeaders"),
                                      ("Id", "ID"), ("MaxAge", "MaxAgeSeconds")):
            if template_key in rule:
                item[api_key] = int(rule[template_key]) if api_key == "MaxAgeSeconds" else rule[template_key]
        rules.append(item)
    return {"CORSRules": rules}


def _encryption(value: dict[str, Any]) -> dict[str, Any]:
    """The template's BucketEncryption (a list of rules, each ServerSideEncryptionByDefault) as
    PutBucketEncryption takes it (Rules, each ApplyServerSideEncryptionByDefault).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-bucketencryption.html"""
    rules = []
    for rule in value.get("ServerSideEncryptionConfiguration") or []:
        item: dict[str, Any] = {}
        if "ServerSideEncryptionByDefault" in rule:
            item["ApplyServerSideEncryptionByDefault"] = dict(rule["ServerSideEncryptionByDefault"])
        if "BucketKeyEnabled" in rule:
            item["BucketKeyEnabled"] = str(rule["BucketKeyEnabled"]).lower() == "true"
        rules.append(item)
    return {"Rules": rules}


class Bucket(ResourceType):
    type_name = "AWS::S3::Bucket"
    properties = frozenset({"BucketName", "NotificationConfiguration", "VersioningConfiguration",
                            "CorsConfiguration", "BucketEncryption", "LifecycleConfiguration", "ReplicationConfiguration",
                            "Tags"})
    replace_on = frozenset({"BucketName"})
    name_property = "BucketName"

    def _made(self, target: Target, name: str) -> Made:
        region = target.region
        return Made(name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                           "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                           "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                           "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("BucketName") or target.generated_name(63, lower=True))
        request: dict[str, Any] = {"Bucket": name}
        if target.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
        await target.call("s3", "CreateBucket", request)
        made = self._made(target, name)
        try:
            await self._configure(target, name, {}, properties)
        except ResourceFailure:
            await ignore_missing(target, "s3", "DeleteBucket", {"Bucket": name})  # nothing half-made is left
            raise
        return made

    async def _configure(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("VersioningConfiguration") != new.get("VersioningConfiguration"):
            status = (new.get("VersioningConfiguration") or {}).get("Status") or "Suspended"
            await target.call("s3", "PutBucketVersioning", {"Bucket": name,
                                                             "VersioningConfiguration": {"Status": status}})
        if old.get("CorsConfiguration") != new.get("CorsConfiguration"):
            if new.get("CorsConfiguration"):
                await target.call("s3", "PutBucketCors", {"Bucket": name,
                                                          "CORSConfiguration": _cors(new["CorsConfiguration"])})
            else:
                await target.call("s3", "DeleteBucketCors", {"Bucket": name})
        if old.get("BucketEncryption") != new.get("BucketEncryption"):
            if new.get("BucketEncryption"):
                await target.call("s3", "PutBucketEncryption", {
                    "Bucket": name, "ServerSideEncryptionConfiguration": _encryption(new["BucketEncryption"])})
            else:
                await target.call("s3", "DeleteBucketEncryption", {"Bucket": name})
        if old.get("LifecycleConfiguration") != new.get("LifecycleConfiguration"):
            if new.get("LifecycleConfiguration"):
                await target.call("s3", "PutBucketLifecycleConfiguration",
                                  lifecycle_request(name, new["LifecycleConfiguration"]))
            else:
                await target.call("s3", "DeleteBucketLifecycle", {"Bucket": name})
        if old.get("ReplicationConfiguration") != new.get("ReplicationConfiguration"):
            if new.get("ReplicationConfiguration"):
                await target.call("s3", "PutBucketReplication",
                                  replication_request(name, new["ReplicationConfiguration"]))
            else:
                await target.call("s3", "DeleteBucketReplication", {"Bucket": name})
        if old.get("Tags") != new.get("Tags"):
            if new.get("Tags"):
                await target.call("s3", "PutBucketTagging", {"Bucket": name,
                                                             "Tagging": {"TagSet": tag_list(new["Tags"])}})
            else:
                await target.call("s3", "DeleteBucketTagging", {"Bucket": name})
        if old.get("NotificationConfiguration") != new.get("NotificationConfiguration"):
            await target.call("s3", "PutBucketNotificationConfiguration", {
                "Bucket": name,
                "NotificationConfiguration": notification_configuration(new.get("NotificationConfiguration"))})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await self._configure(target, current.physical_id, old, new)
        return self._made(target, current.physical_id)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        # A bucket that still holds objects is not deleted: the stack's deletion fails (DELETE_FAILED) with
        # S3's BucketNotEmpty, as on AWS, until the user empties it.
        await ignore_missing(target, "s3", "DeleteBucket", {"Bucket": current.physical_id}, "NoSuchBucket")


class BucketPolicy(ResourceType):
    type_name = "AWS::S3::BucketPolicy"
    properties = frozenset({"Bucket", "PolicyDocument"})
    required = properties
    replace_on = frozenset({"Bucket"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        bucket = str(properties["Bucket"])
        await target.call("s3", "PutBucketPolicy", {"Bucket": bucket, "Policy": as_json(properties["PolicyDocument"])})
        return Made(bucket)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return await self.create(target, new)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "s3", "DeleteBucketPolicy", {"Bucket": current.physical_id}, "NoSuchBucket")
