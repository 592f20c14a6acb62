"""Live replication: PutBucketReplication checked as S3 checks it, and each new version (and, where a rule
says so, each delete marker) copied to the destination bucket of the rule it matches.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html
- Both buckets need versioning enabled; only objects written after the configuration replicate (existing
  objects need Batch Replication, which Conveyor does not offer).
- A rule matches by prefix (the V1 schema's `Prefix`, or `Filter`'s Prefix, Tag or And); where rules
  send a key to the same destination, the one of highest Priority wins.
- The source version reads ReplicationStatus PENDING until its replica is stored, then COMPLETED (FAILED
  when the destination is gone or no longer versioned); the replica, with the same version id, ETag,
  metadata and creation time, reads REPLICA and is not replicated again
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html).
- Later changes of a replicated version's tags and ACL reach its replicas.
- Delete markers replicate with V1 rules, and with V2 rules (those with `Filter`) whose
  DeleteMarkerReplication is Enabled; deleting a given version is never replicated
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html).
- `Destination.StorageClass` overrides the replica's storage class.
- S3 replicates as the configuration's Role: a role that does not exist or does not trust
  s3.amazonaws.com fails the replication (AssumeRoleNotPermitted), and with `--iam enforce` so does a
  role whose policies do not allow s3:GetObjectVersionForReplication on the source and
  s3:ReplicateObject (s3:ReplicateDelete for a delete marker, s3:ReplicateTags for tags) on the
  destination (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html).
- Objects encrypted with SSE-KMS are not replicated (that takes SourceSelectionCriteria, refused here); a
  version under Object Lock fails to replicate to a bucket without Object Lock.

Durability: a version's replication job is an outbox row written in the same commit as the version
(conveyor.services.s3.outbox), so pending replication survives kill -9 and resumes at start; a job run
twice finds its replica stored and only completes the source's status.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.services.s3 import archive
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import BucketRow, PendingEvent
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        DeleteBucketReplicationRequestTypeDef,
        GetBucketReplicationRequestTypeDef,
        PutBucketReplicationRequestTypeDef,
    )

KIND = "replicate"  # the outbox rows S3 delivers to itself
STATUS = "ReplicationStatus"  # the object metadata GET and HEAD show as x-amz-replication-status
PENDING = "ReplicationPending"  # the destination buckets a source version still waits for
ARN_PREFIX = "arn:aws:s3:::"


def _invalid_request(message: str, bucket: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400, extra={"BucketName": bucket})


def _not_implemented(what: str) -> ServiceError:
    return ServiceError("NotImplemented", f"Conveyor does not offer {what} in replication rules.", 501)


@dataclass(frozen=True)
class Target:
    """Where one version goes: the destination bucket and the replica's storage class (None: the source's)."""

    bucket: str
    storage_class: str | None
    role: str  # the configuration's Role, which S3 assumes to replicate


def validate(core: Core, row: BucketRow, config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as stored (each rule with an ID, one made up where none was given), after S3's
    checks. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketReplication.html"""
    name = row.name
    if row.versioning != "Enabled":
        raise _invalid_request("Versioning must be 'Enabled' on the bucket to apply a replication configuration",
                               name)
    rules = config.get("Rules") or []
    if not rules or len(rules) > 1000:
        raise malformed_xml()
    stored: list[dict[str, Any]] = []
    for rule in rules:
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise malformed_xml()
        if "Filter" in rule and "Prefix" in rule:
            raise malformed_xml()
        if "Filter" in rule and "DeleteMarkerReplication" not in rule:
            # The V2 schema (rules with a Filter) asks for it explicitly.
            raise _invalid_request("DeleteMarkerReplication must be specified for this version of Cross Region "
                                   "Replication configuration schema.", name)
        rule_filter = rule.get("Filter") or {}
        if ((rule.get("DeleteMarkerReplication") or {}).get("Status") == "Enabled"
                and (rule_filter.get("Tag") or (rule_filter.get("And") or {}).get("Tags"))):
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html
            raise _invalid_request("Delete marker replication is not supported if any Tag filter is specified. "
                                   "Please refer to S3 Developer Guide for more information.", name)
        criteria = rule.get("SourceSelectionCriteria") or {}
        if (criteria.get("SseKmsEncryptedObjects") or {}).get("Status") == "Enabled":
            raise _not_implemented("SSE-KMS encrypted object selection")
        if (criteria.get("ReplicaModifications") or {}).get("Status") == "Enabled":
            raise _not_implemented("replica modification sync")
        if (rule.get("ExistingObjectReplication") or {}).get("Status") == "Enabled":
            raise _not_implemented("existing object replication")
        destination = rule.get("Destination") or {}
        if destination.get("EncryptionConfiguration") or destination.get("Metrics") or destination.get(
                "ReplicationTime"):
            raise _not_implemented("replica encryption, replication metrics or Replication Time Control")
        archive.check_class(destination.get("StorageClass"))
        target = _bucket_of(str(destination.get("Bucket") or ""))
        if target is None:
            raise ServiceError("InvalidArgument", "Invalid bucket ARN.", 400,
                               extra={"ArgumentName": "Bucket", "ArgumentValue": str(destination.get("Bucket"))})
        found = core.store.bucket(target)
        if found is None:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-troubleshoot.html
            raise _invalid_request("Destination bucket must exist.", name)
        if found.versioning != "Enabled":
            raise _invalid_request("Destination bucket must have versioning enabled.", name)
        if target == name:
            raise _invalid_request("Destination bucket cannot be the same as the source bucket.", name)
        stored.append({**rule, "ID": rule.get("ID") or uuid.uuid4().hex})
    ids = [r["ID"] for r in stored]
    if len(set(ids)) != len(ids):
        raise ServiceError("InvalidArgument", "Rule Id must be unique.", 400)
    return {"Role": config.get("Role") or "", "Rules": stored}


def _bucket_of(arn: str) -> str | None:
    name = arn.removeprefix(ARN_PREFIX)
    return name if arn.startswith(ARN_PREFIX) and name and "/" not in name else None


def _matches(rule: Mapping[str, Any], key: str, tags: list[dict[str, str]]) -> bool:
    if "Filter" not in rule:
        return key.startswith(str(rule.get("Prefix") or ""))
    found = {(t.get("Key"), t.get("Value")) for t in tags}
    rule_filter = rule.get("Filter") or {}
    both = rule_filter.get("And")
    prefix = (both or rule_filter).get("Prefix") or ""
    wanted = both.get("Tags") or [] if both is not None else [rule_filter["Tag"]] if rule_filter.get("Tag") else []
    return key.startswith(prefix) and all((t.get("Key"), t.get("Value")) in found for t in wanted)


def targets(row: BucketRow, key: str, meta: Mapping[str, Any], delete_marker: bool = False) -> list[Target]:
    """Where a new version (or delete marker) of `key` replicates to: for each destination, the matching
    enabled rule of highest priority. Replicas replicate nowhere."""
    config = row.config.get("replication")
    if not config or meta.get(STATUS) == "REPLICA":
        return []
    if meta.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
        # KMS-encrypted objects replicate only where SourceSelectionCriteria asks for them (refused here).
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
        return []
    chosen: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for rule in config["Rules"]:
        if rule.get("Status") != "Enabled" or not _matches(rule, key, meta.get("Tags") or []):
            continue
        destination = str(rule["Destination"]["Bucket"]).removeprefix(ARN_PREFIX)
        priority = int(rule.get("Priority") or 0)
        if destination not in chosen or priority > chosen[destination][0]:
            chosen[destination] = (priority, rule)
    out: list[Target] = []
    for destination, (_, rule) in chosen.items():
        if delete_marker and "Filter" in rule and (rule.get("DeleteMarkerReplication") or {}).get("Status") != "Enabled":
            continue
        out.append(Target(destination, rule["Destination"].get("StorageClass"), str(config.get("Role") or "")))
    return out


def mark_pending(meta: dict[str, Any], found: list[Target]) -> dict[str, Any]:
    """A new source version's metadata: PENDING, waiting for each destination. Copies of a replicated or
    replica object start afresh."""
    out = {k: v for k, v in meta.items() if k not in (STATUS, PENDING)}
    if found:
        out[STATUS] = "PENDING"
        out[PENDING] = [t.bucket for t in found]
    return out


def jobs(source: str, key: str, version_id: str, found: list[Target]) -> list[PendingEvent]:
    """The outbox rows that replicate one version, committed with it."""
    return [PendingEvent(KIND, ARN_PREFIX + t.bucket, json.dumps({
        "source": source, "key": key, "version": version_id, "destination": t.bucket,
        "storage_class": t.storage_class, "role": t.role})) for t in found]


def meta_jobs(source: str, key: str, version_id: str, found: list[Target], name: str) -> list[PendingEvent]:
    """The outbox rows that carry a change of one item of a version's metadata (its tags, its ACL) to its
    replicas, committed with the change."""
    return [PendingEvent(KIND, ARN_PREFIX + t.bucket, json.dumps({
        "source": source, "key": key, "version": version_id, "destination": t.bucket, "meta": name,
        "role": t.role}))
        for t in found]


class ReplicationOperations:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def PutBucketReplication(self, ctx: RequestContext,
                                   params: PutBucketReplicationRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        config = validate(self.core, row, params["ReplicationConfiguration"])
        await self.core.update_setting(params["Bucket"], "replication", config)
        return {}

    async def GetBucketReplication(self, ctx: RequestContext,
                                   params: GetBucketReplicationRequestTypeDef) -> dict[str, Any]:
        config = self.core.get_setting(params["Bucket"], "replication", "ReplicationConfigurationNotFoundError",
                                       "The replication configuration was not found")
        return {"ReplicationConfiguration": config}

    async def DeleteBucketReplication(self, ctx: RequestContext,
                                      params: DeleteBucketReplicationRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "replication", None)
        return {"__status": 204}
