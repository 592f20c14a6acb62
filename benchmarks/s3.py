"""S3 side by side: Conveyor vs moto server vs LocalStack, in one run.

    python benchmarks/s3.py [--quick] [--only conveyor,moto,localstack] [--big-mib 256]

Measures per server:
  * 4 KiB PUT and GET ops/s with 1 client and 8 client processes (raw HTTP, path style, unsigned SigV4
    header with UNSIGNED-PAYLOAD; server CPU µs/op from /proc)
  * one 256 MiB PUT (streamed from a file) and GET (streamed to nowhere) in MiB/s, with the server's
    peak RSS during each (VmHWM after clear_refs, plus 50 ms VmRSS sampling)
  * the same file as a multipart upload in 8 MiB parts (as `aws s3 cp` sends it), and its
    CompleteMultipartUpload alone
  * time from PUT acknowledgement to the s3:ObjectCreated event's arrival at a receiver parked in an SQS
    long poll (bucket notification → queue); p50/p99; skipped for servers that deliver nothing
And the machine's ceiling: 256 MiB write+fsync in the data directory's filesystem, raw loopback TCP copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    CountOption,
    Counts,
    Notes,
    Row,
    Values,
    aws_client,
    bench_main,
    http_ops,
    measure_load,
    problem,
)
from peers import Http, RssSampler, Server, fake_auth, fmt, log, pct, profile_load, run_load  # noqa: E402
from sqs import sqs_call  # noqa: E402

PEERS = ["conveyor", "moto", "localstack"]
MiB = 1 << 20


def s3_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    h = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    h.update(fake_auth("s3"))
    if extra:
        h.update(extra)
    return h


# ------------------------------------------------------------------------------------ worker bodies


def w_put(phase: str, idx: int, endpoint: str, bucket: str, count: int, seconds: float,
          state: Any = None) -> Any:
    if phase == "setup":
        return Http(endpoint)
    body = os.urandom(4096)
    return http_ops(state, count, seconds, lambda h, i: h.request(
        "PUT", f"/{bucket}/p{idx}/{i}", body, s3_headers({"Content-Type": "application/octet-stream"}))[0] == 200)


def w_get(phase: str, idx: int, endpoint: str, bucket: str, count: int, seconds: float, nkeys: int,
          state: Any = None) -> Any:
    if phase == "setup":
        return Http(endpoint)

    def get(h: Http, i: int) -> bool:
        status, data = h.request("GET", f"/{bucket}/g/{(idx * 7919 + i) % nkeys}", None, s3_headers())
        return status == 200 and len(data) == 4096

    return http_ops(state, count, seconds, get)


# -------------------------------------------------------------------------------------------- phases


def boto(service: str, endpoint: str) -> Any:
    return aws_client(service, endpoint, read_timeout=120)


def big_file(path: str, size: int) -> None:
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            f.write(block[i % 251:] + block[:i % 251])  # not trivially dedupable/compressible


def big_put_get(srv: Server, bucket: str, path: str, size: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    h = Http(srv.endpoint, timeout=300, blocksize=MiB)
    with open(path, "rb") as f, RssSampler(srv.pid) as rss:
        cpu0 = srv.cpu()
        t0 = time.perf_counter()
        status, body = h.request("PUT", f"/{bucket}/big", f,
                                 s3_headers({"Content-Length": str(size), "Content-Type": "application/octet-stream"}))
        t1 = time.perf_counter()
        cpu = srv.cpu() - cpu0
    out["put_ok"] = status == 200
    if status != 200:
        out["put_err"] = f"HTTP {status}: {body[:200]!r}"
    out["put_mibs"] = size / MiB / (t1 - t0) if status == 200 else None
    out["put_rss"] = rss.peak
    out["put_cpu"] = cpu
    h.close()
    h = Http(srv.endpoint, timeout=300, blocksize=MiB)
    with RssSampler(srv.pid) as rss:
        cpu0 = srv.cpu()
        t0 = time.perf_counter()
        status, n = h.request("GET", f"/{bucket}/big", None, s3_headers(), sink=True)
        t1 = time.perf_counter()
        cpu = srv.cpu() - cpu0
    got = int(n) if status == 200 else 0
    out["get_ok"] = status == 200 and got == size
    if not out["get_ok"]:
        out["get_err"] = f"HTTP {status}, {got} bytes"
    out["get_mibs"] = size / MiB / (t1 - t0) if out["get_ok"] else None
    out["get_rss"] = rss.peak
    out["get_cpu"] = cpu
    h.close()
    return out


class _Slice:
    """`size` bytes of an open file from `offset`, read as http.client sends a file body."""

    def __init__(self, f: Any, offset: int, size: int) -> None:
        self.f, self.left = f, size
        f.seek(offset)

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n) if n else b""
        self.left -= len(data)
        return data


def multipart_put(srv: Server, bucket: str, path: str, size: int, part: int) -> dict[str, Any]:
    """The large object again, as `aws s3 cp` sends it: CreateMultipartUpload, one UploadPart per `part` bytes
    (one connection, one after another), CompleteMultipartUpload; MiB/s over the whole, and the complete alone."""
    out: dict[str, Any] = {}
    h = Http(srv.endpoint, timeout=300, blocksize=MiB)
    key = f"/{bucket}/multipart"
    with open(path, "rb") as f, RssSampler(srv.pid) as rss:
        cpu0 = srv.cpu()
        t0 = time.perf_counter()
        status, body = h.request("POST", f"{key}?uploads", b"", s3_headers())
        upload = quote(body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode(), safe="") if status == 200 else ""
        etags: list[str] = []
        for n, offset in enumerate(range(0, size, part), 1):
            length = min(part, size - offset)
            conn = h.conn or h._connect()
            conn.request("PUT", f"{key}?partNumber={n}&uploadId={upload}", body=_Slice(f, offset, length),
                         headers=s3_headers({"Content-Length": str(length)}))
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if status != 200:
                break
            etags.append(resp.getheader("ETag") or "")
        t1 = time.perf_counter()
        if status == 200:
            doc = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1))
            status, body = h.request("POST", f"{key}?uploadId={upload}",
                                     f"<CompleteMultipartUpload>{doc}</CompleteMultipartUpload>".encode(),
                                     s3_headers())
            if status == 200 and b"<Error>" in body:  # S3 may answer 200 and fail in the body
                status = 500
        t2 = time.perf_counter()
        cpu = srv.cpu() - cpu0
    h.close()
    out["ok"] = status == 200
    if not out["ok"]:
        out["err"] = f"HTTP {status}: {body[:200]!r}"
    out["mibs"] = size / MiB / (t2 - t0) if out["ok"] else None
    out["complete_ms"] = (t2 - t1) * 1000 if out["ok"] else None
    out["rss"], out["cpu"] = rss.peak, cpu
    return out


def notification_latency(srv: Server, samples: int, seconds: float) -> tuple[list[float], int, str | None]:
    """PUT ack → event at a parked long poll. Returns (latencies, misses, reason-if-skipped)."""
    s3 = boto("s3", srv.endpoint)
    sqs = boto("sqs", srv.endpoint)
    stamp = int(time.time() * 1000)
    bucket = f"bench-events-{stamp}"
    url = sqs.create_queue(QueueName=f"bench-events-{stamp}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # S3 delivers only where the queue's policy lets it (AWS refuses the configuration otherwise).
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": arn, "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}}]})})
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    except Exception as exc:
        return [], 0, f"notification config rejected: {type(exc).__name__}: {exc}"[:200]
    rx, tx = Http(srv.endpoint), Http(srv.endpoint)
    # drop the s3:TestEvent (and anything else) first, bounded
    for _ in range(20):
        status, resp = sqs_call(rx, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                                       "WaitTimeSeconds": 1})
        msgs = resp.get("Messages") or []
        if not msgs:
            break
        for m in msgs:
            sqs_call(rx, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]})
    lat: list[float] = []
    misses = 0
    deadline = time.monotonic() + seconds
    body = os.urandom(1024)
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        key = f"ev-{i}"
        got: dict[str, Any] = {}
        issued = threading.Event()
        first = not lat  # the first sample waits for a late delivery, then we decide to skip
        wait = 5 if first else 20

        def receive(got: dict[str, Any] = got, issued: threading.Event = issued, wait: int = wait) -> None:
            try:
                issued.set()
                status, resp = sqs_call(rx, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 1,
                                                               "WaitTimeSeconds": wait})
                got["t"] = time.perf_counter()
                got["msgs"] = (resp.get("Messages") or []) if status == 200 else []
            except Exception as exc:
                got["err"] = exc

        t = threading.Thread(target=receive, daemon=True)
        t.start()
        issued.wait(5)
        time.sleep(0.03)  # let the receive park
        try:
            status, _ = tx.request("PUT", f"/{bucket}/{key}", body, s3_headers())
        except Exception:
            status = 0
        t_ack = time.perf_counter()
        t.join(wait + 5)
        msgs = got.get("msgs") or []
        if status == 200 and msgs and key in msgs[0].get("Body", ""):
            lat.append(got["t"] - t_ack)
        else:
            misses += 1
            if first and not msgs:
                rx.close()
                tx.close()
                return [], misses, "no event delivered within 5 s"
        for m in msgs:
            sqs_call(tx, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]})
    rx.close()
    tx.close()
    return lat, misses, None


def ceilings(dirpath: str, size: int) -> dict[str, float]:
    out: dict[str, float] = {}
    block = os.urandom(MiB)
    path = os.path.join(dirpath, f"ceiling-{os.getpid()}.bin")
    try:
        t0 = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(size // MiB):
                os.write(fd, block)
            os.fsync(fd)
        finally:
            os.close(fd)
        out["disk"] = size / MiB / (time.perf_counter() - t0)
        # small fsynced appends: the cost a durable 4 KiB commit pays at best
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            n, t0 = 0, time.perf_counter()
            while n < 500 and time.perf_counter() - t0 < 3:
                os.write(fd, block[:4096])
                os.fdatasync(fd)
                n += 1
            out["fsyncs"] = n / (time.perf_counter() - t0)
        finally:
            os.close(fd)
    finally:
        if os.path.exists(path):
            os.unlink(path)
    # loopback TCP copy
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    received = [0]

    def sink() -> None:
        conn, _ = srv.accept()
        conn.settimeout(30)
        buf = bytearray(MiB)
        with conn:
            while received[0] < size:
                n = conn.recv_into(buf)
                if not n:
                    break
                received[0] += n

    t = threading.Thread(target=sink, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        t0 = time.perf_counter()
        for _ in range(size // MiB):
            c.sendall(block)
        t.join(60)
        out["loopback"] = received[0] / MiB / (time.perf_counter() - t0)
    srv.close()
    return out


def bench_server(srv: Server, q: Counts, values: Values, notes: Notes) -> None:
    name = srv.name
    ep = srv.endpoint
    s3 = boto("s3", ep)
    bucket = f"bench-{int(time.time() * 1000)}"
    s3.create_bucket(Bucket=bucket)

    for n in (1, 8):
        log(f"{name}: 4 KiB PUT, {n} client(s)")
        measure_load(srv, values, notes, f"put{n}", f"PUT {n}c", w_put, n, (ep, bucket, q[f"put{n}"] // n, q["secs"]),
                     q["secs"], cpu_key=f"put{n}_cpu")

    log(f"{name}: seeding {q['nkeys']} 4 KiB objects for GET")
    h = Http(ep)
    payload = os.urandom(4096)
    for i in range(q["nkeys"]):
        h.request("PUT", f"/{bucket}/g/{i}", payload, s3_headers())
    h.close()
    for n in (1, 8):
        log(f"{name}: 4 KiB GET, {n} client(s)")
        measure_load(srv, values, notes, f"get{n}", f"GET {n}c", w_get, n,
                     (ep, bucket, q[f"get{n}"] // n, q["secs"], q["nkeys"]), q["secs"], cpu_key=f"get{n}_cpu")

    size = q["big"]
    log(f"{name}: {size // MiB} MiB single PUT then GET")
    big = big_put_get(srv, bucket, q["big_path"], size)
    for k in ("put_mibs", "get_mibs", "put_rss", "get_rss"):
        values[(name, "big_" + k)] = big.get(k)
    for k in ("put", "get"):  # CPU per MiB: what a busy machine disturbs least
        if big.get(f"{k}_ok"):
            values[(name, f"big_{k}_cpu")] = big[f"{k}_cpu"] * 1000 / (size / MiB)
    log(f"  {name} big PUT: {fmt(big.get('put_mibs'), 1)} MiB/s (server CPU {big['put_cpu']:.2f}s, peak RSS "
        f"{fmt(big['put_rss'], 1)} MiB) {big.get('put_err', '')}")
    log(f"  {name} big GET: {fmt(big.get('get_mibs'), 1)} MiB/s (server CPU {big['get_cpu']:.2f}s, peak RSS "
        f"{fmt(big['get_rss'], 1)} MiB) {big.get('get_err', '')}")
    for k in ("put_err", "get_err"):
        if k in big:
            problem(notes, name, f"big {k[:3].upper()}: {big[k]}")
    with contextlib.suppress(Exception):
        s3.delete_object(Bucket=bucket, Key="big")

    log(f"{name}: {size // MiB} MiB in {q['part'] // MiB} MiB parts, one after another, then completed")
    mp = multipart_put(srv, bucket, q["big_path"], size, q["part"])
    values[(name, "mp_mibs")], values[(name, "mp_complete_ms")] = mp.get("mibs"), mp.get("complete_ms")
    if mp["ok"]:
        values[(name, "mp_cpu")] = mp["cpu"] * 1000 / (size / MiB)
    log(f"  {name} multipart: {fmt(mp.get('mibs'), 1)} MiB/s, complete {fmt(mp.get('complete_ms'), 1)} ms (server CPU "
        f"{mp['cpu']:.2f}s, peak RSS {fmt(mp['rss'], 1)} MiB) {mp.get('err', '')}")
    if "err" in mp:
        problem(notes, name, f"multipart: {mp['err']}")
    with contextlib.suppress(Exception):
        s3.delete_object(Bucket=bucket, Key="multipart")

    log(f"{name}: PUT ack → event at parked SQS long poll, {q['events']} samples")
    try:
        lat, misses, skipped = notification_latency(srv, q["events"], q["event_secs"])
    except Exception as exc:
        lat, misses, skipped = [], 0, f"failed: {type(exc).__name__}: {exc}"[:200]
    if skipped:
        notes[(name, "ev50")] = notes[(name, "ev99")] = "skipped: no delivery" if "no event" in skipped else "skipped"
        log(f"  {name} events: skipped ({skipped})")
        problem(notes, name, f"notification latency skipped: {skipped}")
    else:
        values[(name, "ev50")] = pct(lat, 50) * 1000 if lat else None
        values[(name, "ev99")] = pct(lat, 99) * 1000 if lat else None
        log(f"  {name} events: n={len(lat)} misses={misses} p50={fmt(values[(name, 'ev50')], 2)} ms "
            f"p99={fmt(values[(name, 'ev99')], 2)} ms")
        if misses:
            problem(notes, name, f"{misses} uploads' events missing/out of order")


def profile_s3(srv: Server, q: Counts, out: str) -> None:
    """Extra 8-client 4 KiB PUT and GET phases under py-spy, after the measured ones."""
    bucket = f"bench-profile-{int(time.time() * 1000)}"
    boto("s3", srv.endpoint).create_bucket(Bucket=bucket)
    secs = max(3.0, q["secs"])
    profile_load(srv, out + ".put", secs, "Conveyor 8-client 4 KiB PUT",
                 lambda: run_load(srv, w_put, 8, (srv.endpoint, bucket, 10**6, secs), secs))
    h = Http(srv.endpoint)
    for i in range(q["nkeys"]):
        h.request("PUT", f"/{bucket}/g/{i}", os.urandom(4096), s3_headers())
    h.close()
    profile_load(srv, out + ".get", secs, "Conveyor 8-client 4 KiB GET",
                 lambda: run_load(srv, w_get, 8, (srv.endpoint, bucket, 10**6, secs, q["nkeys"]), secs))


@contextlib.contextmanager
def machine(q: Counts) -> Iterator[None]:
    """Before the servers: the machine's ceilings, and the large object's file (removed after)."""
    workdir = tempfile.mkdtemp(prefix="conveyor-bench-s3-")
    try:
        log(f"machine ceiling: {q['big'] // MiB} MiB write+fsync in {tempfile.gettempdir()}, loopback TCP copy")
        ceil = ceilings(workdir, q["big"])
        log(f"  disk write+fsync {ceil['disk']:.0f} MiB/s, 4 KiB write+fdatasync {ceil['fsyncs']:.0f}/s, "
            f"loopback {ceil['loopback']:.0f} MiB/s")
        q["ceilings"], q["big_path"] = ceil, os.path.join(workdir, "big.bin")
        big_file(q["big_path"], q["big"])
        yield
    finally:
        for f in os.listdir(workdir):
            os.unlink(os.path.join(workdir, f))
        os.rmdir(workdir)


def rows(q: Counts) -> list[Row]:
    big = f"{q['big'] // MiB} MiB"
    return [
        ("put1", "4 KiB PUT ops/s, 1 client", True),
        ("put8", "4 KiB PUT ops/s, 8 clients", True),
        ("get1", "4 KiB GET ops/s, 1 client", True),
        ("get8", "4 KiB GET ops/s, 8 clients", True),
        ("big_put_mibs", f"{big} PUT MiB/s", True),
        ("big_get_mibs", f"{big} GET MiB/s", True),
        ("mp_mibs", f"{big} multipart upload MiB/s ({q['part'] // MiB} MiB parts)", True),
        ("mp_complete_ms", f"{big} CompleteMultipartUpload ms", False),
        ("big_put_rss", f"peak server RSS MiB during {big} PUT", False),
        ("big_get_rss", f"peak server RSS MiB during {big} GET", False),
        ("ev50", "PUT ack → event at long poll p50 ms", False),
        ("ev99", "PUT ack → event at long poll p99 ms", False),
        ("put1_cpu", "server CPU µs/op, PUT 1 client", False),
        ("put8_cpu", "server CPU µs/op, PUT 8 clients", False),
        ("get1_cpu", "server CPU µs/op, GET 1 client", False),
        ("get8_cpu", "server CPU µs/op, GET 8 clients", False),
        ("big_put_cpu", f"server CPU ms/MiB, {big} PUT", False),
        ("big_get_cpu", f"server CPU ms/MiB, {big} GET", False),
        ("mp_cpu", f"server CPU ms/MiB, {big} multipart upload", False),
    ]


def ceiling_report(servers: list[Server], q: Counts, values: Values) -> str:
    ceil = q["ceilings"]
    return (f"\nMachine ceiling: {q['big'] // MiB} MiB write+fsync {ceil['disk']:.0f} MiB/s; 4 KiB write+fdatasync "
            f"{ceil['fsyncs']:.0f}/s; loopback TCP copy {ceil['loopback']:.0f} MiB/s")


def main() -> int:
    quick = dict(put1=100, put8=400, get1=100, get8=400, secs=3.0, nkeys=50, big=16 * MiB, part=8 * MiB, events=10,
                 event_secs=20.0)
    full = dict(put1=4000, put8=16000, get1=6000, get8=24000, secs=8.0, nkeys=300, big=256 * MiB, part=8 * MiB,
                events=200, event_secs=60.0)
    big_mib = CountOption("--big-mib", "big", "size of the single large object in MiB (default 256, quick 16)", MiB)
    return bench_main("S3", __doc__, PEERS, quick, full, "4 KiB objects", rows, bench_server,
                      options=[big_mib], profile=profile_s3, session=machine, report=ceiling_report)


if __name__ == "__main__":
    sys.exit(main())
