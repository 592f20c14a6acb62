"""`conveyor status`: the pipeline at a glance in the terminal."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.control import Credentials


def object_counts(endpoint: str, credentials: Credentials, limit: int = 10_000) -> dict[str, Counter[str]]:
    """Objects per top-level prefix of every bucket (bounded by `limit` keys a bucket)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=credentials.access_key,
                      aws_secret_access_key=credentials.secret_key, region_name=credentials.region)
    counts: dict[str, Counter[str]] = {}
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        counter: Counter[str] = Counter()
        seen = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue  # folder markers
                counter[key.split("/", 1)[0] + "/" if "/" in key else "(root)"] += 1
                seen += 1
            if seen >= limit:
                break
        counts[name] = counter
    return counts


_TROUBLE = (" died ", "failed its health check", "cannot start")


def render(status: dict[str, Any], objects: dict[str, Counter[str]]) -> str:
    lines = ["QUEUES", f"  {'name':<28} {'visible':>8} {'in flight':>9} {'delayed':>8} {'oldest':>8}"]
    for q in status["queues"]:
        name = q["name"] + ("  (DLQ)" if q["dlq"] else "")
        lines.append(f"  {name:<28} {q['visible']:>8} {q['inflight']:>9} {q['delayed']:>8} "
                     f"{q['oldest_age']:>7.0f}s")
    if not status["queues"]:
        lines.append("  (none)")
    lines.append("WORKER POOLS")
    for name, pool in status["pools"].items():
        spec = pool["spec"]
        lines.append(f"  {name}: {len(pool['workers'])} workers (desired {pool['desired']}, min {spec['min']}, "
                     f"max {spec['max']}), backlog {pool['backlog']}, replaced {pool['replaced']}")
        for w in pool["workers"]:
            lines.append(f"    {w['id']:<18} pid {w['pid']:<7} {w['state']:<12} up {w['uptime']:>6.0f}s "
                         f"done {w['messages_done']}")
        if pool.get("log"):
            lines.append(f"    output: {pool['log']}")
    if not status["pools"]:
        lines.append("  (none)")
    lines.append("FUNCTIONS")
    for f in status.get("functions") or []:
        reserved = f" of {f['reserved']} reserved" if f.get("reserved") is not None else ""
        lines.append(f"  {f['name']} ({f['runtime']}): {f['busy']} running{reserved}, {f['idle']} idle, "
                     f"peak {f['peak']}, {f['invocations']} invocations, {f['cold_starts']} cold starts")
        for m in f.get("mappings", []):
            cap = f", at most {m['cap']}" if m.get("cap") is not None else ""
            lines.append(f"    <- {m['queue'].rsplit(':', 1)[-1]}: concurrency {m['concurrency']} (peak {m['peak']}"
                         f"{cap}), {m['batches']} batches, {m['failed_batches']} failed"
                         f"{'' if m['enabled'] else ', disabled'}")
    if not status.get("functions"):
        lines.append("  (none)")
    lines.append("OBJECTS")
    for bucket, counter in objects.items():
        parts = ", ".join(f"{prefix} {n}" for prefix, n in sorted(counter.items())) or "empty"
        lines.append(f"  s3://{bucket}: {parts}")
    if not objects:
        lines.append("  (no buckets)")
    errors = status.get("recent_errors") or []
    troubles = [f"  pool {name}: {event.split(' ', 1)[1]}" for name, pool in status["pools"].items()
                for event in pool.get("events", []) if any(word in event for word in _TROUBLE)][-5:]
    lines.append("RECENT ERRORS")
    for e in errors[-5:]:
        when = time.strftime("%H:%M:%S", time.localtime(e["time"]))
        lines.append(f"  {when} {e['service']}.{e['operation']} {e['code']} ({e['status']}): {e['message']}")
    lines += troubles
    if not errors and not troubles:
        lines.append("  (none)")
    return "\n".join(lines)
