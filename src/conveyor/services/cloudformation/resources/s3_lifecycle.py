"""AWS::S3::Bucket's LifecycleConfiguration as PutBucketLifecycleConfiguration takes it. The template's rule
is flat (Prefix, TagFilters and the object sizes beside the actions; ExpirationInDays, ExpirationDate and
ExpiredObjectDeleteMarker for one Expiration; a singular Transition or NoncurrentVersionTransition beside
the lists); the API's rule has one Filter and nested actions.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-rule.html
https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleRule.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.resources.base import as_bool, as_int


def _filter(rule: dict[str, Any]) -> dict[str, Any]:
    """One condition stands alone in the Filter; two or more go under And (S3 takes only one member of a
    Filter). A rule without conditions filters on the empty prefix: the whole bucket."""
    conditions: dict[str, Any] = {}
    if "Prefix" in rule:
        conditions["Prefix"] = str(rule["Prefix"])
    tags = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in rule.get("TagFilters") or []]
    for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if key in rule:
            conditions[key] = as_int(rule[key], key)
    count = len(conditions) + len(tags)
    if count == 0:
        return {"Prefix": ""}
    if count == 1:
        return {"Tag": tags[0]} if tags else conditions
    return {"And": {**conditions, **({"Tags": tags} if tags else {})}}


def _transition(entry: dict[str, Any], *, noncurrent: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"StorageClass": str(entry["StorageClass"])}
    if "TransitionInDays" in entry:
        out["NoncurrentDays" if noncurrent else "Days"] = as_int(entry["TransitionInDays"], "TransitionInDays")
    if "TransitionDate" in entry and not noncurrent:
        out["Date"] = str(entry["TransitionDate"])
    if noncurrent and "NewerNoncurrentVersions" in entry:
        out["NewerNoncurrentVersions"] = as_int(entry["NewerNoncurrentVersions"], "NewerNoncurrentVersions")
    return out


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": str(rule["Status"]), "Filter": _filter(rule)}
    if "Id" in rule:
        out["ID"] = str(rule["Id"])
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = as_int(rule["ExpirationInDays"], "ExpirationInDays")
    if "ExpirationDate" in rule:
        expiration["Date"] = str(rule["ExpirationDate"])
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = as_bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    transitions = [*(rule.get("Transitions") or []), *([rule["Transition"]] if rule.get("Transition") else [])]
    if transitions:
        out["Transitions"] = [_transition(t, noncurrent=False) for t in transitions]
    noncurrent = [*(rule.get("NoncurrentVersionTransitions") or []),
                  *([rule["NoncurrentVersionTransition"]] if rule.get("NoncurrentVersionTransition") else [])]
    if noncurrent:
        out["NoncurrentVersionTransitions"] = [_transition(t, noncurrent=True) for t in noncurrent]
    if rule.get("NoncurrentVersionExpiration"):
        given = rule["NoncurrentVersionExpiration"]
        nve: dict[str, Any] = {"NoncurrentDays": as_int(given.get("NoncurrentDays"), "NoncurrentDays")}
        if "NewerNoncurrentVersions" in given:
            nve["NewerNoncurrentVersions"] = as_int(given["NewerNoncurrentVersions"], "NewerNoncurrentVersions")
        out["NoncurrentVersionExpiration"] = nve
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": as_int(rule["NoncurrentVersionExpirationInDays"],
                                                                       "NoncurrentVersionExpirationInDays")}
    if rule.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": as_int(
            rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation"), "DaysAfterInitiation")}
    return out


def lifecycle_request(bucket: str, value: dict[str, Any]) -> dict[str, Any]:
    """PutBucketLifecycleConfiguration's request for the template's LifecycleConfiguration."""
    request: dict[str, Any] = {"Bucket": bucket, "LifecycleConfiguration": {
        "Rules": [_rule(rule) for rule in value.get("Rules") or []]}}
    if "TransitionDefaultMinimumObjectSize" in value:
        request["TransitionDefaultMinimumObjectSize"] = str(value["TransitionDefaultMinimumObjectSize"])
    return request
