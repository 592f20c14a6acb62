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

import json
import os
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    Counts,
    Notes,
    Row,
    Values,
    aws_client,
    bench_main,
    counted_ops,
    http_ops,
    measure_load,
    problem,
)
from peers import Http, Server, fake_auth, fmt, log, median, pct, profile_load, run_load  # noqa: E402

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


def w_send(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None) -> Any:
    if phase == "setup":
        return Http(endpoint)
    body = "x" * 200

    def one(h: Http, i: int) -> bool:
        return sqs_call(h, "SendMessage", {"QueueUrl": url, "MessageBody": f"{idx}-{i}-{body}"})[0] == 200

    return http_ops(state, count, seconds, one)


def w_send_batch(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float,
                 attributes: dict[str, Any] | None = None, state: Any = None):
    """SendMessageBatch of 10 bodies of about 200 bytes, each with `attributes` if given."""
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    for b in range((count + 9) // 10):
        if time.monotonic() > deadline:
            break
        entries = [{"Id": str(j), "MessageBody": f"{idx}-{b}-{j}-" + "y" * 200} for j in range(10)]
        if attributes:
            for entry in entries:
                entry["MessageAttributes"] = attributes
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


def boto_sqs(endpoint: str) -> Any:
    return aws_client("sqs", endpoint, read_timeout=30)


def send_boto3(srv: Server, url: str, count: int, seconds: float) -> tuple[int, int, float, float]:
    """SendMessage through boto3 from this process: (sent, failed, seconds, server CPU seconds)."""
    client = boto_sqs(srv.endpoint)
    client.send_message(QueueUrl=url, MessageBody="warm-up")
    cpu0 = srv.cpu()
    t0 = time.perf_counter()

    def one(i: int) -> bool:
        client.send_message(QueueUrl=url, MessageBody=f"b-{i}-" + "x" * 200)
        return True

    done, errors = counted_ops(count, seconds, one)
    return done, errors, time.perf_counter() - t0, srv.cpu() - cpu0


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


def bench_server(srv: Server, q: Counts, values: Values, notes: Notes) -> None:
    name = srv.name
    client = boto_sqs(srv.endpoint)
    urls = {}
    for qn in ("send1", "sendb", "send8", "drain1", "drain8", "lat"):
        urls[qn] = client.create_queue(QueueName=f"bench-{qn}-{int(time.time())}")["QueueUrl"]
    ep = srv.endpoint

    def us_per(cpu: float, n: int) -> float | None:
        return cpu / n * 1e6 if n else None

    log(f"{name}: send, 1 raw client")
    measure_load(srv, values, notes, "send1", "send 1 client", w_send, 1, (ep, urls["send1"], q["send1"], q["secs"]),
                 q["secs"], cpu_key="send1_cpu")

    log(f"{name}: send, 1 boto3 client")
    done, errors, secs, cpu = send_boto3(srv, urls["sendb"], q["sendb"], q["secs"])
    values[(name, "sendb")] = done / secs if done else None
    values[(name, "sendb_cpu")] = us_per(cpu, done)
    log(f"  {name} send boto3: {done} msgs in {secs:.2f}s = {fmt(done / secs if secs else 0)} msgs/s, "
        f"server CPU {fmt(us_per(cpu, done), 1)} µs/msg errors={errors}")

    log(f"{name}: send, 8 raw clients (processes)")
    measure_load(srv, values, notes, "send8", "send 8 clients", w_send, 8,
                 (ep, urls["send8"], q["send8"] // 8, q["secs"]), q["secs"], cpu_key="send8_cpu")

    for n in (1, 8):
        qurl = urls[f"drain{n}"]
        log(f"{name}: pre-fill {q['fill']} msgs (SendMessageBatch, 8 clients) for drain with {n} client(s)")
        r = measure_load(srv, values, notes, "fill", "SendMessageBatch 8 clients (msgs)", w_send_batch, 8,
                         (ep, qurl, q["fill"] // 8, q["fill_secs"]), q["fill_secs"], cpu_key="fill_cpu")
        log(f"{name}: drain (receive 10 + DeleteMessageBatch), {n} client(s)")
        per = (r.ops + n - 1) // n if r.ops else 10
        measure_load(srv, values, notes, f"drain{n}", f"drain {n} client(s) (msgs)", w_drain, n,
                     (ep, qurl, per + 10, q["secs"] * 1.5), q["secs"] * 1.5, cpu_key=f"drain{n}_cpu")

    log(f"{name}: mixed, 2 producers + 2 consumers for {q['secs']:.0f}s")
    mixed_url = client.create_queue(QueueName=f"bench-mixed-{int(time.time())}")["QueueUrl"]
    measure_load(srv, values, notes, "mixed", "mixed: consumed", w_mixed, 4, (ep, mixed_url, 2, q["secs"]),
                 q["secs"] * 2, cpu_key="mixed_cpu")
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
        problem(notes, name, f"latency: {misses} samples got no message")


def profile_send(srv: Server, q: Counts, out: str) -> None:
    """Extra 8-client send, drain and mixed phases under py-spy (after the measured phases, so the table's
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


ROWS: list[Row] = [
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


def report(servers: list[Server], q: Counts, values: Values) -> str:
    """The issue's targets against LocalStack, when it ran."""
    checks = []
    for key, label in (("send8", "send 8 clients"), ("drain8", "drain 8 clients")):
        c, p = values.get(("conveyor", key)), values.get(("localstack", key))
        if c and p:
            checks.append(f"{label}: {c / p:.1f}x LocalStack throughput (target ≥5x) "
                          f"{'MET' if c / p >= 5 else 'NOT MET'}")
        cc, pc = values.get(("conveyor", key + "_cpu")), values.get(("localstack", key + "_cpu"))
        if cc and pc:
            checks.append(f"{label}: CPU/msg {cc / pc:.2f} of LocalStack's (target ≤0.20) "
                          f"{'MET' if cc / pc <= 0.2 else 'NOT MET'}")
    return "\nTargets:\n" + "\n".join(f"- {c}" for c in checks) if checks else ""


def main() -> int:
    quick = dict(send1=200, sendb=100, send8=400, secs=3.0, fill=300, fill_secs=10.0, lat=10, lat_secs=15.0)
    full = dict(send1=6000, sendb=3000, send8=24000, secs=8.0, fill=5000, fill_secs=25.0, lat=200, lat_secs=60.0)
    return bench_main("SQS", __doc__, PEERS, quick, full, "JSON protocol, bodies of about 200 bytes", ROWS,
                      bench_server, profile=profile_send, report=report)


if __name__ == "__main__":
    sys.exit(main())
