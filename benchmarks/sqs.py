"""SQS side by side: Conveyor vs MiniStack vs moto server vs LocalStack, in one run.

    python benchmarks/sqs.py [--quick] [--only conveyor,ministack,moto,localstack] [--profile OUT.txt]

Measures per server (JSON protocol, as current boto3 speaks it):
  * SendMessage throughput, 1 client (raw HTTP and boto3) and 8 client processes (raw HTTP)
  * ReceiveMessage(MaxNumberOfMessages=10) + DeleteMessageBatch throughput draining a pre-filled queue
  * latency from SendMessage to the return of a receiver already parked in WaitTimeSeconds=20
  * mixed load, as the architecture runs: 2 producers (SendMessageBatch) and 2 consumers (receive 10 +
    DeleteMessageBatch) on one queue at once; messages consumed per second and the backlog left
  * server CPU (utime+stime of the server process tree, /proc) per message for each phase

Raw-HTTP clients send a well-formed but unsigned SigV4 header (Conveyor has auth off on loopback; moto
and LocalStack accept any credentials), so client CPU stays far below the server's on this 2-core box.
--profile runs extra Conveyor-only send, drain and mixed phases under py-spy and writes collapsed stacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from peers import (  # noqa: E402
    CREDS,
    Http,
    Server,
    fake_auth,
    fmt,
    log,
    median,
    pct,
    profile_load,
    run_load,
    servers_running,
    table,
)

PEERS = ["conveyor", "ministack", "moto", "localstack"]


def sqs_call(h: Http, target: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{target}"}
    headers.update(fake_auth("sqs"))
    status, body = h.request("POST", "/", json.dumps(payload).encode(), headers)
    try:
        return status, (json.loads(body) if body else {})
    except ValueError:
        return status, {"raw": body[:200].decode("latin-1")}


# ------------------------------------------------------------------------------------ worker bodies


def w_send(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    body = "x" * 200
    done = errors = 0
    deadline = time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() > deadline:
            break
        try:
            status, _ = sqs_call(h, "SendMessage", {"QueueUrl": url, "MessageBody": f"{idx}-{i}-{body}"})
        except Exception:
            status = 0
        if status == 200:
            done += 1
        else:
            errors += 1
            if errors > 50 and errors > done:
                break
    h.close()
    return done, errors


def w_send_batch(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    for b in range((count + 9) // 10):
        if time.monotonic() > deadline:
            break
        entries = [{"Id": str(j), "MessageBody": f"{idx}-{b}-{j}-" + "y" * 200} for j in range(10)]
        try:
            status, resp = sqs_call(h, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
        except Exception:
            status, resp = 0, {}
        if status == 200:
            done += len(resp.get("Successful") or [])
            errors += len(resp.get("Failed") or [])
        else:
            errors += 10
            if errors > 500 and errors > done:
                break
    h.close()
    return done, errors


def w_drain(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = empties = 0
    deadline = time.monotonic() + seconds
    for _ in range(count // 10 + 1000):
        if time.monotonic() > deadline or done >= count:
            break
        try:
            status, resp = sqs_call(h, "ReceiveMessage", {
                "QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0, "VisibilityTimeout": 120})
        except Exception:
            status, resp = 0, {}
        if status != 200:
            errors += 1
            if errors > 50:
                break
            continue
        msgs = resp.get("Messages") or []
        if not msgs:
            empties += 1
            if empties >= 3:
                break
            continue
        empties = 0
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        try:
            status, resp = sqs_call(h, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
        except Exception:
            status, resp = 0, {}
        if status == 200:
            done += len(resp.get("Successful") or [])
            errors += len(resp.get("Failed") or [])
        else:
            errors += len(entries)
    h.close()
    return done, errors


def w_mixed(phase: str, idx: int, endpoint: str, url: str, producers: int, seconds: float, state: Any = None):
    """Workers 0..producers-1 send batches of 10 for `seconds`; the others receive and delete what is
    there meanwhile. Returns (messages consumed, errors): producers count none."""
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    consumed = errors = 0
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        try:
            if idx < producers:
                entries = [{"Id": str(j), "MessageBody": f"{idx}-{n}-{j}-" + "y" * 200} for j in range(10)]
                status, resp = sqs_call(h, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
                errors += 0 if status == 200 else 10
                continue
            status, resp = sqs_call(h, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                                          "WaitTimeSeconds": 0, "VisibilityTimeout": 120})
            msgs = resp.get("Messages") or [] if status == 200 else []
            if not msgs:
                errors += status != 200
                time.sleep(0.002)
                continue
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
            status, resp = sqs_call(h, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
            consumed += len(resp.get("Successful") or []) if status == 200 else 0
        except Exception:
            errors += 1
        if errors > 500:
            break
    h.close()
    return consumed, errors


# -------------------------------------------------------------------------------------------- phases


def boto_sqs(endpoint: str):
    return boto3.client("sqs", endpoint_url=endpoint, **CREDS,
                        config=BotoConfig(retries={"max_attempts": 2}, read_timeout=30, connect_timeout=5))


def send_boto3(srv: Server, url: str, count: int, seconds: float) -> tuple[int, int, float, float]:
    client = boto_sqs(srv.endpoint)
    client.send_message(QueueUrl=url, MessageBody="warm-up")
    done = errors = 0
    cpu0 = srv.cpu()
    t0 = time.perf_counter()
    deadline = time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() > deadline:
            break
        try:
            client.send_message(QueueUrl=url, MessageBody=f"b-{i}-" + "x" * 200)
            done += 1
        except Exception:
            errors += 1
            if errors > 50:
                break
    t1 = time.perf_counter()
    return done, errors, t1 - t0, srv.cpu() - cpu0


def long_poll_latency(srv: Server, url: str, samples: int, seconds: float) -> tuple[list[float], int, float]:
    """Receiver parks in WaitTimeSeconds=20 first; then send; time from send start to receive return."""
    rx, tx = Http(srv.endpoint), Http(srv.endpoint)
    lat: list[float] = []
    misses = 0
    cpu0 = srv.cpu()
    deadline = time.monotonic() + seconds
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        got: dict[str, Any] = {}
        issued = threading.Event()

        def receive(got: dict[str, Any] = got, issued: threading.Event = issued) -> None:
            try:
                issued.set()
                status, resp = sqs_call(rx, "ReceiveMessage", {
                    "QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 20})
                got["t"] = time.perf_counter()
                got["msgs"] = resp.get("Messages") or [] if status == 200 else []
            except Exception as exc:
                got["err"] = exc

        t = threading.Thread(target=receive, daemon=True)
        t.start()
        issued.wait(5)
        time.sleep(0.03)  # let the receive reach the server and park
        t_send = time.perf_counter()
        try:
            status, _ = sqs_call(tx, "SendMessage", {"QueueUrl": url, "MessageBody": f"lat-{i}"})
        except Exception:
            status = 0
        t.join(25)
        msgs = got.get("msgs") or []
        if status == 200 and msgs and "t" in got:
            lat.append(got["t"] - t_send)
            sqs_call(tx, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": msgs[0]["ReceiptHandle"]})
        else:
            misses += 1
            if misses > 10 and not lat:
                break
    rx.close()
    tx.close()
    return lat, misses, srv.cpu() - cpu0


def bench_server(srv: Server, q: dict[str, Any], values: dict, notes: dict, profile: str | None) -> None:
    name = srv.name
    client = boto_sqs(srv.endpoint)
    urls = {}
    for qn in ("send1", "sendb", "send8", "drain1", "drain8", "lat"):
        urls[qn] = client.create_queue(QueueName=f"bench-{qn}-{int(time.time())}")["QueueUrl"]
    ep = srv.endpoint

    def us_per(cpu: float, n: int) -> float | None:
        return cpu / n * 1e6 if n else None

    def record(key: str, r: Any, what: str) -> None:
        values[(name, key)] = r.rate if r.ops else None
        values[(name, key + "_cpu")] = us_per(r.cpu, r.ops)
        extra = f" errors={r.errors}" if r.errors else ""
        extra += f" FAILURE: {r.failure}" if r.failure else ""
        log(f"  {name} {what}: {r.ops} msgs in {r.seconds:.2f}s = {fmt(r.rate)} msgs/s, "
            f"server CPU {fmt(us_per(r.cpu, r.ops), 1)} µs/msg{extra}")
        if r.errors or r.failure:
            notes.setdefault(("_problems", name), []).append(f"{what}: errors={r.errors} {r.failure or ''}")

    log(f"{name}: send, 1 raw client")
    r = run_load(srv, w_send, 1, (ep, urls["send1"], q["send1"], q["secs"]), q["secs"])
    record("send1", r, "send 1 client")

    log(f"{name}: send, 1 boto3 client")
    done, errors, secs, cpu = send_boto3(srv, urls["sendb"], q["sendb"], q["secs"])
    values[(name, "sendb")] = done / secs if done else None
    values[(name, "sendb_cpu")] = us_per(cpu, done)
    log(f"  {name} send boto3: {done} msgs in {secs:.2f}s = {fmt(done / secs if secs else 0)} msgs/s, "
        f"server CPU {fmt(us_per(cpu, done), 1)} µs/msg errors={errors}")

    log(f"{name}: send, 8 raw clients (processes)")
    r = run_load(srv, w_send, 8, (ep, urls["send8"], q["send8"] // 8, q["secs"]), q["secs"])
    record("send8", r, "send 8 clients")

    for n in (1, 8):
        qurl = urls[f"drain{n}"]
        log(f"{name}: pre-fill {q['fill']} msgs (SendMessageBatch, 8 clients) for drain with {n} client(s)")
        r = run_load(srv, w_send_batch, 8, (ep, qurl, q["fill"] // 8, q["fill_secs"]), q["fill_secs"])
        log(f"  filled {r.ops} msgs in {r.seconds:.2f}s ({fmt(r.rate)} msgs/s batched, "
            f"{fmt(us_per(r.cpu, r.ops), 1)} µs/msg)")
        values[(name, "fill")] = r.rate if r.ops else None
        values[(name, "fill_cpu")] = us_per(r.cpu, r.ops)
        log(f"{name}: drain (receive 10 + DeleteMessageBatch), {n} client(s)")
        per = (r.ops + n - 1) // n if r.ops else 10
        r = run_load(srv, w_drain, n, (ep, qurl, per + 10, q["secs"] * 1.5), q["secs"] * 1.5)
        record(f"drain{n}", r, f"drain {n} client(s)")

    log(f"{name}: mixed, 2 producers + 2 consumers for {q['secs']:.0f}s")
    mixed_url = client.create_queue(QueueName=f"bench-mixed-{int(time.time())}")["QueueUrl"]
    r = run_load(srv, w_mixed, 4, (ep, mixed_url, 2, q["secs"]), q["secs"] * 2)
    record("mixed", r, "mixed: consumed")
    backlog = client.get_queue_attributes(QueueUrl=mixed_url, AttributeNames=["ApproximateNumberOfMessages"])
    values[(name, "mixed_backlog")] = int(backlog["Attributes"]["ApproximateNumberOfMessages"])
    log(f"  {name} mixed: backlog left {values[(name, 'mixed_backlog')]}")

    log(f"{name}: send → parked long-poll return latency, {q['lat']} samples")
    lat, misses, cpu = long_poll_latency(srv, urls["lat"], q["lat"], q["lat_secs"])
    values[(name, "lat50")] = pct(lat, 50) * 1000 if lat else None
    values[(name, "lat99")] = pct(lat, 99) * 1000 if lat else None
    log(f"  {name} latency: n={len(lat)} misses={misses} p50={fmt(pct(lat, 50) * 1000, 2)} ms "
        f"p99={fmt(pct(lat, 99) * 1000, 2)} ms max={fmt(max(lat) * 1000 if lat else None, 2)} ms "
        f"median={fmt(median(lat) * 1000, 2)} ms")
    if misses:
        notes.setdefault(("_problems", name), []).append(f"latency: {misses} samples got no message")

    if profile and name == "conveyor":
        profile_send(srv, q, profile)


def profile_send(srv: Server, q: dict[str, Any], out: str) -> None:
    """Extra 8-client send and drain phases under py-spy (after the measured phases, so the table's
    numbers are unaffected)."""
    client = boto_sqs(srv.endpoint)
    url = client.create_queue(QueueName=f"bench-profile-{int(time.time())}")["QueueUrl"]
    secs = max(3.0, q["secs"])
    profile_load(srv, out + ".send", secs, "Conveyor 8-client SendMessage",
                 lambda: run_load(srv, w_send, 8, (srv.endpoint, url, 10**6, secs), secs))
    drain_url = client.create_queue(QueueName=f"bench-profile-drain-{int(time.time())}")["QueueUrl"]
    fill = max(q["fill"], 2000)

    def prefill() -> None:
        run_load(srv, w_send_batch, 8, (srv.endpoint, drain_url, fill // 8, q["fill_secs"]), q["fill_secs"])

    profile_load(srv, out + ".drain", secs, f"Conveyor 8-client receive10+DeleteMessageBatch ({fill} msgs)",
                 lambda: run_load(srv, w_drain, 8, (srv.endpoint, drain_url, fill // 8 + 10, secs), secs),
                 prepare=prefill)
    mixed_url = client.create_queue(QueueName=f"bench-profile-mixed-{int(time.time())}")["QueueUrl"]
    profile_load(srv, out + ".mixed", secs, "Conveyor mixed: 2 producers + 2 consumers",
                 lambda: run_load(srv, w_mixed, 4, (srv.endpoint, mixed_url, 2, secs), secs * 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny counts, for smoke tests")
    ap.add_argument("--only", default=",".join(PEERS), help="comma-separated servers to run")
    ap.add_argument("--profile", metavar="OUT",
                    help="py-spy extra Conveyor send, drain and mixed phases; collapsed stacks to OUT.*")
    args = ap.parse_args()
    if args.quick:
        q = dict(send1=200, sendb=100, send8=400, secs=3.0, fill=300, fill_secs=10.0, lat=10, lat_secs=15.0)
    else:
        q = dict(send1=6000, sendb=3000, send8=24000, secs=8.0, fill=5000, fill_secs=25.0, lat=200, lat_secs=60.0)
    names = [n for n in args.only.split(",") if n]
    values: dict = {}
    notes: dict = {}
    started = time.monotonic()
    log(f"SQS benchmark ({'quick' if args.quick else 'full'}) on {os.cpu_count()} CPUs; servers: {', '.join(names)}")
    with servers_running(names) as servers:
        for srv in servers:
            if not srv.up:
                continue
            try:
                bench_server(srv, q, values, notes, args.profile)
            except Exception as exc:
                log(f"{srv.name}: benchmark aborted: {type(exc).__name__}: {exc}")
                notes.setdefault(("_problems", srv.name), []).append(f"aborted: {type(exc).__name__}: {exc}")
        rows = [
            ("send1", "send msgs/s, 1 client (raw HTTP)", True),
            ("sendb", "send msgs/s, 1 client (boto3)", True),
            ("send8", "send msgs/s, 8 clients", True),
            ("fill", "SendMessageBatch msgs/s, 8 clients", True),
            ("drain1", "receive10+delete-batch msgs/s, 1 client", True),
            ("drain8", "receive10+delete-batch msgs/s, 8 clients", True),
            ("mixed", "consumed msgs/s, 2 producers + 2 consumers at once", True),
            ("mixed_backlog", "backlog left after the mixed phase", False),
            ("lat50", "send → parked long poll p50 ms", False),
            ("lat99", "send → parked long poll p99 ms", False),
            ("send1_cpu", "server CPU µs/msg, send 1 client", False),
            ("sendb_cpu", "server CPU µs/msg, send boto3", False),
            ("send8_cpu", "server CPU µs/msg, send 8 clients", False),
            ("fill_cpu", "server CPU µs/msg, SendMessageBatch", False),
            ("drain1_cpu", "server CPU µs/msg, drain 1 client", False),
            ("drain8_cpu", "server CPU µs/msg, drain 8 clients", False),
            ("mixed_cpu", "server CPU µs/consumed msg, mixed (sends included)", False),
        ]
        print()
        print(f"## SQS ({'quick' if args.quick else 'full'} run, {os.cpu_count()} CPUs, "
              f"clients share the CPUs with the server; "
              f"load average at end {os.getloadavg()[0]:.2f}: other work on the machine skews throughput)\n")
        print(table(rows, servers, values))
        ls = "localstack"
        if any(s.name == ls and (ls, "send8") in values for s in servers):
            checks = []
            for key, label in (("send8", "send 8 clients"), ("drain8", "drain 8 clients")):
                c, p = values.get(("conveyor", key)), values.get((ls, key))
                if c and p:
                    checks.append(f"{label}: {c / p:.1f}x LocalStack throughput (target ≥5x) "
                                  f"{'MET' if c / p >= 5 else 'NOT MET'}")
                cc, pc = values.get(("conveyor", key + "_cpu")), values.get((ls, key + "_cpu"))
                if cc and pc:
                    checks.append(f"{label}: CPU/msg {cc / pc:.2f} of LocalStack's (target ≤0.20) "
                                  f"{'MET' if cc / pc <= 0.2 else 'NOT MET'}")
            print("\nTargets:\n" + "\n".join(f"- {c}" for c in checks))
        problems = {k[1]: v for k, v in notes.items() if k[0] == "_problems"}
        if problems:
            print("\nProblems:")
            for n, items in problems.items():
                for it in items:
                    print(f"- {n}: {it}")
    log(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
