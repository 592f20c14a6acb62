"""Kinesis's shard operations: ListShards with its filters and tokens, and resharding."""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from conveyor.services.kinesis import errors, resharding
from conveyor.services.kinesis.lookup import Directory
from conveyor.services.kinesis.streams import Shard, Stream
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_kinesis.type_defs import (
        ListShardsInputTypeDef,
        MergeShardsInputTypeDef,
        SplitShardInputTypeDef,
        UpdateShardCountInputTypeDef,
    )

Out = dict[str, Any]
LIST_LIMIT = 1000  # ListShards' default MaxResults
TOKEN_LIFETIME_MS = 300_000
# Open shards per account and region: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
SHARD_LIMIT = 500


def shard_limit_left(directory: Directory, region: str, total: bool = False) -> int:
    if total:
        return SHARD_LIMIT
    used = sum(len(s.open_shards()) for s in directory.catalog.in_region(region))
    return SHARD_LIMIT - used


def _filtered(stream: Stream, shards: list[Shard], spec: dict[str, Any], now_ms: int) -> list[Shard]:
    """ListShards' ShardFilter. https://docs.aws.amazon.com/kinesis/latest/APIReference/API_ShardFilter.html"""
    kind = spec["Type"]
    if kind == "AFTER_SHARD_ID":
        if not spec.get("ShardId"):
            raise errors.invalid("ShardId must be specified with the ShardFilter type AFTER_SHARD_ID.")
        return [s for s in shards if s.shard_id > spec["ShardId"]]
    if kind == "AT_LATEST":
        return [s for s in shards if s.is_open]
    horizon = now_ms - stream.retention_hours * 3600_000
    if kind == "AT_TRIM_HORIZON":  # open at the trim horizon
        return [s for s in shards if s.created <= horizon and (s.closed is None or s.closed >= horizon)] or \
            [s for s in shards if not s.parents() or all(p not in stream.shards for p in s.parents())]
    if kind == "FROM_TRIM_HORIZON":  # every shard within retention
        return shards
    when = spec.get("Timestamp")
    if when is None:
        raise errors.invalid(f"Timestamp must be specified with the ShardFilter type {kind}.")
    at = int(when.timestamp() * 1000)
    if kind == "AT_TIMESTAMP":  # open at that time
        return [s for s in shards if s.created <= at and (s.closed is None or s.closed >= at)]
    return [s for s in shards if s.closed is None or s.closed >= at]  # FROM_TIMESTAMP


def _token(stream: Stream, last: str, spec: dict[str, Any] | None, now_ms: int, limit: int) -> str:
    doc = {"s": stream.id, "c": stream.created, "a": last, "t": now_ms, "m": limit,
           "f": {k: (v.timestamp() if hasattr(v, "timestamp") else v) for k, v in (spec or {}).items()}}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


class ShardOperations:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def _from_token(self, token: str, now_ms: int) -> tuple[Stream, str, dict[str, Any] | None, int]:
        import datetime as dt

        try:
            doc = json.loads(base64.urlsafe_b64decode(token.encode()))
            stream_id, created, after, issued = int(doc["s"]), int(doc["c"]), str(doc["a"]), int(doc["t"])
            spec = dict(doc["f"]) or None
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.invalid("Invalid NextToken.")
        if now_ms - issued > TOKEN_LIFETIME_MS:
            raise errors.token_expired(f"The timestamp of the token {token[:16]}... has expired.")
        stream = next((s for s in self.directory.catalog.streams.values() if s.id == stream_id), None)
        if stream is None or stream.created != created:
            raise errors.invalid("Invalid NextToken: its stream no longer exists.")
        if spec and "Timestamp" in spec:
            spec["Timestamp"] = dt.datetime.fromtimestamp(float(spec["Timestamp"]), dt.UTC)
        return stream, after, spec, int(doc.get("m") or LIST_LIMIT)

    async def ListShards(self, ctx: RequestContext, params: ListShardsInputTypeDef) -> Out:
        now = self.directory.now_ms()
        token = params.get("NextToken")
        limit = params.get("MaxResults")
        if token:
            # https://docs.aws.amazon.com/kinesis/latest/APIReference/API_ListShards.html: NextToken excludes
            # StreamName, ExclusiveStartShardId and StreamCreationTimestamp.
            for other in ("StreamName", "ExclusiveStartShardId", "StreamCreationTimestamp"):
                if params.get(other) is not None:
                    raise errors.invalid(f"NextToken and {other} cannot be provided together.")
            stream, after, spec, token_limit = self._from_token(token, now)
            limit = limit or token_limit
        else:
            stream = self.directory.find(ctx.region, params)
            created = params.get("StreamCreationTimestamp")
            if created is not None and int(created.timestamp() * 1000) != stream.created:  # type: ignore[union-attr]
                raise errors.stream_not_found(stream.name, self.directory.account)
            after = params.get("ExclusiveStartShardId") or ""
            spec = dict(params["ShardFilter"]) if params.get("ShardFilter") else None
        limit = limit or LIST_LIMIT
        shards = list(stream.live_shards(now))
        if spec:
            shards = _filtered(stream, shards, spec, now)
        shards = [s for s in shards if s.shard_id > after]
        page = shards[:limit]
        out: Out = {"Shards": [stream.describe_shard(s) for s in page]}
        if len(shards) > limit:
            out["NextToken"] = _token(stream, page[-1].shard_id, spec, now, limit)
        return out

    async def SplitShard(self, ctx: RequestContext, params: SplitShardInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        await resharding.split_shard(self.directory.catalog, stream, params["ShardToSplit"],
                                     params["NewStartingHashKey"], self.directory.account, self.directory.now_ms(),
                                     shard_limit_left(self.directory, stream.region))
        return {}

    async def MergeShards(self, ctx: RequestContext, params: MergeShardsInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        await resharding.merge_shards(self.directory.catalog, stream, params["ShardToMerge"],
                                      params["AdjacentShardToMerge"], self.directory.account, self.directory.now_ms())
        return {}

    async def UpdateShardCount(self, ctx: RequestContext, params: UpdateShardCountInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        target = params["TargetShardCount"]
        current = await resharding.update_shard_count(self.directory.catalog, stream, target, self.directory.account,
                                                      self.directory.now_ms(),
                                                      shard_limit_left(self.directory, stream.region))
        return {"StreamName": stream.name, "StreamARN": stream.arn(self.directory.account),
                "CurrentShardCount": current, "TargetShardCount": target}
