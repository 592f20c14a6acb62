"""AWS::S3::Bucket's ReplicationConfiguration as PutBucketReplication takes it. The template names a rule's
id `Id` and its filter's tags `TagFilter` / `And.TagFilters` where the API says `ID`, `Tag` and `And.Tags`;
the rest (Priority, Prefix, Status, Destination, DeleteMarkerReplication...) is the API's shape.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-replicationconfiguration.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-replicationrule.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.resources.base import as_int


def _tag(tag: dict[str, Any]) -> dict[str, str]:
    return {"Key": str(tag["Key"]), "Value": str(tag["Value"])}


def _filter(template: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "Prefix" in template:
        out["Prefix"] = str(template["Prefix"])
    if "TagFilter" in template:
        out["Tag"] = _tag(template["TagFilter"])
    both = template.get("And")
    if both is not None:
        out["And"] = {**({"Prefix": str(both["Prefix"])} if "Prefix" in both else {}),
                      **({"Tags": [_tag(t) for t in both["TagFilters"]]} if both.get("TagFilters") else {})}
    return out


def _rule(template: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {key: value for key, value in template.items()
                            if key not in ("Id", "Filter", "Priority")}
    if "Id" in template:
        rule["ID"] = str(template["Id"])
    if "Priority" in template:
        rule["Priority"] = as_int(template["Priority"], "Priority")
    if "Filter" in template:
        rule["Filter"] = _filter(template["Filter"] or {})
    return rule


def replication_request(bucket: str, value: dict[str, Any]) -> dict[str, Any]:
    """PutBucketReplication's request for the template's ReplicationConfiguration."""
    return {"Bucket": bucket, "ReplicationConfiguration": {
        "Role": str(value.get("Role") or ""), "Rules": [_rule(r) for r in value.get("Rules") or []]}}
