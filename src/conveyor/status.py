"""`conveyor status`: the pipeline at a glance in the terminal."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.control import Credentials


def buckets(endpoint: str, credentials: Credentials, limit: int = 10_000) -> dict[str, tuple[str, Counter[str]]]:
    """Each bucket's region and its objects per top-level prefix (bounded by `limit` keys a bucket)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=credentials.access_key,
                      aws_secret_access_key=credentials.secret_key, region_name=credentials.region)
    out: dict[str, tuple[str, Counter[str]]] = {}
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
        out[name] = (bucket.get("BucketRegion") or "us-east-1", counter)
    return out


_TROUBLE = (" died ", "failed its health check", "cannot start", "did not stop")


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def render(status: dict[str, Any], placed: dict[str, tuple[str, Counter[str]]]) -> str:
    """The pipeline at a glance, one section per region (a resource lives in the region that made it);
    `placed`: each bucket's region and objects, from `buckets`."""
    default = status.get("region") or "us-east-1"
    regions = ({_arn_region(q["arn"]) for q in status["queues"]}
               | {p.get("region") or default for p in status["pools"].values()}
               | {f.get("region") or default for f in status.get("functions") or []}
               | {t.get("region") or default for t in status.get("tables") or []}
               | {region for region, _ in placed.values()})
    lines: list[str] = []
    for region in sorted(regions) or [default]:
        lines.append(f"REGION {region}")
        lines += ["  " + line for line in _region(region, default, status, placed)]
    return "\n".join(lines + _errors(status) + _iam(status))


def _region(region: str, default: str, status: dict[str, Any],
            placed: dict[str, tuple[str, Counter[str]]]) -> list[str]:
    lines = ["QUEUES", f"  {'name':<28} {'visible':>8} {'in flight':>9} {'delayed':>8} {'oldest':>8}"]
    queues = [q for q in status["queues"] if _arn_region(q["arn"]) == region]
    for q in queues:
        name = q["name"] + ("  (DLQ)" if q["dlq"] else "")
        lines.append(f"  {name:<28} {q['visible']:>8} {q['inflight']:>9} {q['delayed']:>8} "
                     f"{q['oldest_age']:>7.0f}s")
    if not queues:
        lines.append("  (none)")
    lines.append("WORKER POOLS")
    pools = {name: p for name, p in status["pools"].items() if (p.get("region") or default) == region}
    for name, pool in pools.items():
        spec = pool["spec"]
        state = pool.get("state", "ok")
        loop = pool.get("crash_loop") or {}
        note = (f", crash-looping ({loop.get('quick_exits')} quick exits in a row, next start in "
                f"{loop.get('next_start_in', 0):g} s)" if state == "crash-looping" else "")
        lines.append(f"  {name}: {len(pool['workers'])} workers (desired {pool['desired']}, min {spec['min']}, "
                     f"max {spec['max']}), backlog {pool['backlog']}, replaced {pool['replaced']}{note}")
        for w in pool["workers"]:
            lines.append(f"    {w['id']:<18} pid {w['pid']:<7} {w['state']:<12} up {w['uptime']:>6.0f}s "
                         f"done {w['messages_done']}")
        if pool.get("log"):
            lines.append(f"    output: {pool['log']}")
    if not pools:
        lines.append("  (none)")
    lines.append("FUNCTIONS")
    functions = [f for f in status.get("functions") or [] if (f.get("region") or default) == region]
    for f in functions:
        reserved = f" of {f['reserved']} reserved" if f.get("reserved") is not None else ""
        lines.append(f"  {f['name']} ({f['runtime']}): {f['busy']} running{reserved}, {f['idle']} idle, "
                     f"peak {f['peak']}, {f['invocations']} invocations, {f['cold_starts']} cold starts")
        for m in f.get("mappings", []):
            cap = f", at most {m['cap']}" if m.get("cap") is not None else ""
            lines.append(f"    <- {m['queue'].rsplit(':', 1)[-1]}: concurrency {m['concurrency']} (peak {m['peak']}"
                         f"{cap}), {m['batches']} batches, {m['failed_batches']} failed"
                         f"{'' if m['enabled'] else ', disabled'}")
    if not functions:
        lines.append("  (none)")
    tables = [t for t in status.get("tables") or [] if (t.get("region") or default) == region]
    if tables:
        lines.append("TABLES")
        for t in tables:
            extra = "".join([f", indexes {', '.join(t['indexes'])}" if t.get("indexes") else "",
                             f", stream {t['stream']}" if t.get("stream") else ""])
            lines.append(f"  {t['name']}: {t['items']} items, {t['bytes']} bytes ({t['billing_mode']}){extra}")
    lines.append("OBJECTS")
    here = {name: counter for name, (where, counter) in placed.items() if where == region}
    for bucket, counter in here.items():
        parts = ", ".join(f"{prefix} {n}" for prefix, n in sorted(counter.items())) or "empty"
        lines.append(f"  s3://{bucket}: {parts}")
    if not here:
        lines.append("  (no buckets)")
    return lines


def _iam(status: dict[str, Any]) -> list[str]:
    """What IAM denied (--iam enforce) or would have denied (--iam report), most recent last."""
    iam = status.get("iam") or {}
    if iam.get("mode", "off") == "off":
        return []
    verb = "would have been denied" if iam["mode"] == "report" else "denied"
    lines = [f"IAM ({iam['mode']}): {iam.get('denied', 0)} {verb}"]
    for d in (iam.get("recent") or [])[-5:]:
        when = time.strftime("%H:%M:%S", time.localtime(d["time"]))
        lines.append(f"  {when} {d['call']}: {d['message']}")
    return lines


def _errors(status: dict[str, Any]) -> list[str]:
    errors = status.get("recent_errors") or []
    troubles = [f"  pool {name}: {event.split(' ', 1)[1]}" for name, pool in status["pools"].items()
                for event in pool.get("events", []) if any(word in event for word in _TROUBLE)][-5:]
    lines = ["RECENT ERRORS"]
    for e in errors[-5:]:
        when = time.strftime("%H:%M:%S", time.localtime(e["time"]))
        lines.append(f"  {when} {e['service']}.{e['operation']} {e['code']} ({e['status']}): {e['message']}")
    lines += troubles
    if not errors and not troubles:
        lines.append("  (none)")
    return lines
