"""Functions side by side: Conveyor vs LocalStack (and moto, on request), in one run.

    python benchmarks/functions.py [--quick] [--only conveyor,localstack] [--profile OUT]

Measures per server, with a no-op Python handler (`return {"ok": True}`) created from an inline zip:
  * cold start: client-observed latency of the first invocation after a configuration change (a new
    execution environment: process start, handler import, invoke), p50 and max
  * warm invoke latency, 1 client in sequence (raw HTTP, RequestResponse), p50/p99
  * sync invocations/s: 1 raw-HTTP client, 1 boto3 client, and 4 raw-HTTP client processes
  * invocations/s through an SQS event source mapping with batches of 10: the queue is filled while the
    mapping is disabled, then enabled; time from enabling until the queue is empty
  * CPU (utime+stime of the server's whole process tree, including the function processes) per
    invocation, and per message for the mapping

Before measuring, each server is probed: create the function, wait for it to become Active, invoke it
once. A server that cannot run the function (LocalStack without a Docker engine) is reported with the
error it gave, and its cells read "cannot run functions".
--profile runs an extra Conveyor 4-client sync phase under py-spy and writes collapsed stacks.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Counts, Notes, Values, aws_client, bench_main, http_ops, measure_load, problem  # noqa: E402
from peers import Http, LoadResult, Server, fake_auth, fmt, log, pct, profile_load, run_load  # noqa: E402
from sqs import sqs_call, w_send_batch  # noqa: E402

PEERS = ["conveyor", "localstack"]
ROLE = "arn:aws:iam::000000000000:role/bench"
# The execution role, trusting Lambda, as AWS requires before CreateFunction.
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
NOOP = "def lambda_handler(event, context):\n    return {\"ok\": True}\n"
CLIENTS = 4


def package(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("lambda_function.py", source)
    return buf.getvalue()


def boto(srv: Server, service: str) -> Any:
    return aws_client(service, srv.endpoint or "", retries=1, read_timeout=120)


def invoke_headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    headers.update(fake_auth("lambda"))
    return headers


def invoke_raw(h: Http, name: str) -> int:
    status, _ = h.request("POST", f"/2015-03-31/functions/{name}/invocations", b"{}", invoke_headers())
    return status


# ------------------------------------------------------------------------------------ worker bodies


def w_invoke(phase: str, idx: int, endpoint: str, name: str, count: int, seconds: float,
             state: Any = None) -> Any:
    if phase == "setup":
        h = Http(endpoint)
        invoke_raw(h, name)  # this client's environment is warm before the clock starts
        return h
    return http_ops(state, count, seconds, lambda h, _: invoke_raw(h, name) == 200)


# -------------------------------------------------------------------------------------------- phases


def wait_active(lam: Any, name: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        conf = lam.get_function_configuration(FunctionName=name)
        settled = conf.get("State") != "Pending" and conf.get("LastUpdateStatus") != "InProgress"
        if settled or time.monotonic() > deadline:
            return conf
        time.sleep(0.2)


def execution_role(srv: Server) -> str:
    """The benchmark's execution role on `srv`, made if missing: its ARN names the server's own account
    (moto's is not Conveyor's, and a role of another account is refused as a cross-account pass)."""
    iam = boto(srv, "iam")
    name = ROLE.rpartition("/")[2]
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


def probe(srv: Server, name: str) -> str | None:
    """Create the no-op function and invoke it once; None if it ran, else what went wrong."""
    lam = boto(srv, "lambda")
    try:
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=execution_role(srv),
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": package(NOOP)}, Timeout=30)
        conf = wait_active(lam, name, 60)
        if conf.get("State") != "Active":
            return (f"function state {conf.get('State')}: {conf.get('StateReason')} "
                    f"({conf.get('StateReasonCode')})")
        out = lam.invoke(FunctionName=name, Payload=b"{}")
        body = out["Payload"].read()
        if out.get("FunctionError") or json.loads(body) != {"ok": True}:
            return f"invoke returned {out.get('FunctionError')}: {body[:300]!r}"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


def _localstack_hint() -> str:
    """What LocalStack's own log says about running functions (it names the missing Docker engine)."""
    venv = os.environ.get("LOCALSTACK_VENV", os.path.expanduser("~/.cache/conveyor-peers/localstack"))
    try:
        with open(os.path.join(venv, "server.log"), errors="replace") as fh:
            lines = [line.strip() for line in fh if "Docker" in line and "lambda" in line.lower()]
    except OSError:
        return ""
    return f"; its log: {lines[-1].split(' : ', 1)[-1][:300]}" if lines else ""


def cold_starts(srv: Server, name: str, samples: int, seconds: float) -> list[float]:
    """Each configuration change retires the warm environments: the next invoke starts a new one."""
    lam = boto(srv, "lambda")
    h = Http(srv.endpoint)
    lat: list[float] = []
    deadline = time.monotonic() + seconds
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"SAMPLE": str(i)}})
        wait_active(lam, name, 30)
        t0 = time.perf_counter()
        status = invoke_raw(h, name)
        if status == 200:
            lat.append(time.perf_counter() - t0)
    h.close()
    return lat


def warm_latency(srv: Server, name: str, samples: int, seconds: float) -> tuple[list[float], float]:
    h = Http(srv.endpoint)
    invoke_raw(h, name)
    lat: list[float] = []
    cpu0 = srv.cpu()
    deadline = time.monotonic() + seconds
    for _ in range(samples):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        if invoke_raw(h, name) == 200:
            lat.append(time.perf_counter() - t0)
    cpu = srv.cpu() - cpu0
    h.close()
    return lat, cpu


def boto_rate(srv: Server, name: str, count: int, seconds: float) -> tuple[int, float]:
    lam = boto(srv, "lambda")
    lam.invoke(FunctionName=name, Payload=b"{}")
    done = 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        out = lam.invoke(FunctionName=name, Payload=b"{}")
        out["Payload"].read()
        done += 1
    return done, time.perf_counter() - t0


def mapping_drain(srv: Server, name: str, messages: int, seconds: float) -> dict[str, Any]:
    """Fill a queue while the mapping is disabled, enable it, time until the queue is empty."""
    sqs, lam = boto(srv, "sqs"), boto(srv, "lambda")
    url = sqs.create_queue(QueueName=f"fn-bench-{int(time.time())}", Attributes={"VisibilityTimeout": "120"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    uuid = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10,
                                           Enabled=False)["UUID"]
    filled = run_load(srv, w_send_batch, 8, (srv.endpoint, url, messages // 8, 60.0), 60.0)
    log(f"  filled {filled.ops} msgs in {filled.seconds:.2f}s")
    h = Http(srv.endpoint)

    def depth() -> int:
        status, resp = sqs_call(h, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": [
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})
        attrs = resp.get("Attributes") or {}
        return int(attrs.get("ApproximateNumberOfMessages", 1)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 1))

    before = _conveyor_state(srv, uuid)
    cold0 = before["cold"] if before else 0
    cpu0 = srv.cpu()
    t0 = time.perf_counter()
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    deadline = time.monotonic() + seconds
    left = filled.ops
    while time.monotonic() < deadline:
        left = depth()
        if left == 0:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    cpu = srv.cpu() - cpu0
    state = _conveyor_state(srv, uuid)
    lam.delete_event_source_mapping(UUID=uuid)
    h.close()
    done = filled.ops - left
    invocations = state["batches"] if state else (done + 9) // 10
    return {"messages": done, "left": left, "seconds": elapsed, "cpu": cpu, "invocations": invocations,
            "peak": state["peak"] if state else "?", "cold": state["cold"] - cold0 if state else "?"}


def _conveyor_state(srv: Server, uuid: str) -> dict[str, Any] | None:
    """Conveyor's own view of the mapping (batches, peak concurrency) and the function's cold starts."""
    if srv.name != "conveyor":
        return None
    h = Http(srv.endpoint)
    try:
        status, body = h.request("GET", "/_conveyor/functions")
        if status != 200:
            return None
        (fn,) = [f for f in json.loads(body) if any(m["uuid"] == uuid for m in f["mappings"])]
        (mapping,) = [m for m in fn["mappings"] if m["uuid"] == uuid]
        return {"batches": mapping["batches"], "peak": mapping["peak"], "cold": fn["cold_starts"]}
    finally:
        h.close()


def bench_server(srv: Server, q: Counts, values: Values, notes: Notes) -> None:
    name = srv.name
    fn = "noop"
    log(f"{name}: probing (create {fn}, wait for Active, invoke once)")
    failure = probe(srv, fn)
    if failure and name == "localstack":
        failure += _localstack_hint()
    if failure:
        log(f"  {name} cannot run functions: {failure}")
        problem(notes, name, f"cannot run functions: {failure}")
        for key in KEYS:
            notes[(name, key)] = "cannot run functions"
        return

    def per_op_us(cpu: float, n: int) -> float | None:
        return cpu / n * 1e6 if n else None

    log(f"{name}: cold starts, {q['cold']} samples")
    cold = cold_starts(srv, fn, q["cold"], q["secs"] * 4)
    values[(name, "cold50")] = pct(cold, 50) * 1000 if cold else None
    values[(name, "coldmax")] = max(cold) * 1000 if cold else None
    log(f"  {name} cold start: n={len(cold)} p50={fmt(values[(name, 'cold50')], 1)} ms "
        f"max={fmt(values[(name, 'coldmax')], 1)} ms")

    log(f"{name}: warm invoke latency, 1 raw client, {q['warm']} samples")
    lat, cpu = warm_latency(srv, fn, q["warm"], q["secs"] * 2)
    values[(name, "warm50")] = pct(lat, 50) * 1000 if lat else None
    values[(name, "warm99")] = pct(lat, 99) * 1000 if lat else None
    values[(name, "sync1")] = len(lat) / sum(lat) if lat else None
    values[(name, "sync1_cpu")] = per_op_us(cpu, len(lat))
    log(f"  {name} warm: n={len(lat)} p50={fmt(values[(name, 'warm50')], 2)} ms "
        f"p99={fmt(values[(name, 'warm99')], 2)} ms, {fmt(values[(name, 'sync1')])} invokes/s, "
        f"CPU {fmt(values[(name, 'sync1_cpu')], 1)} µs/invoke")

    log(f"{name}: sync invokes, 1 boto3 client")
    done, secs = boto_rate(srv, fn, q["boto"], q["secs"])
    values[(name, "syncb")] = done / secs if done else None
    log(f"  {name} boto3: {done} invokes in {secs:.2f}s = {fmt(values[(name, 'syncb')])} invokes/s")

    log(f"{name}: sync invokes, {CLIENTS} raw clients (processes)")
    measure_load(srv, values, notes, "sync4", f"sync {CLIENTS} clients", w_invoke, CLIENTS,
                 (srv.endpoint, fn, q["sync4"] // CLIENTS, q["secs"]), q["secs"], cpu_key="sync4_cpu")

    log(f"{name}: SQS mapping, batches of 10, {q['esm']} messages")
    d = mapping_drain(srv, fn, q["esm"], q["esm_secs"])
    if d["messages"]:
        values[(name, "esm_msgs")] = d["messages"] / d["seconds"]
        values[(name, "esm_inv")] = d["invocations"] / d["seconds"]
        values[(name, "esm_cpu")] = per_op_us(d["cpu"], d["messages"])
    log(f"  {name} mapping: {d['messages']} msgs, {d['invocations']} invocations in {d['seconds']:.2f}s = "
        f"{fmt(values.get((name, 'esm_msgs')))} msgs/s, {fmt(values.get((name, 'esm_inv')))} invocations/s, "
        f"peak concurrency {d['peak']}, cold starts {d['cold']}, CPU {fmt(values.get((name, 'esm_cpu')), 1)} µs/msg, left {d['left']}")
    if d["left"]:
        problem(notes, name, f"mapping: {d['left']} messages left after {d['seconds']:.0f}s")


def profile_invoke(srv: Server, q: Counts, out: str) -> None:
    """Extra Conveyor phases under py-spy: 4-client sync Invoke, then an SQS mapping's drain."""
    fn = "noop"
    h = Http(srv.endpoint or "")
    runs = invoke_raw(h, fn) == 200
    h.close()
    if not runs:
        log(f"{srv.name}: {fn} does not run; nothing to profile")
        return
    secs = max(3.0, q["secs"])
    profile_load(srv, out + ".sync", secs, f"Conveyor {CLIENTS}-client sync Invoke",
                 lambda: run_load(srv, w_invoke, CLIENTS, (srv.endpoint, fn, 10**6, secs), secs))

    def drain() -> LoadResult:
        d = mapping_drain(srv, fn, max(q["esm"], 5000), q["esm_secs"])
        return LoadResult(d["invocations"], d["left"], d["seconds"], d["cpu"])

    profile_load(srv, out + ".esm", secs, "Conveyor SQS mapping drain (fill, then enable)", drain)


ROWS = [
    ("cold50", "cold start, first invoke after a config change, p50 ms", False),
    ("coldmax", "cold start, max ms", False),
    ("warm50", "warm invoke latency p50 ms (1 raw client)", False),
    ("warm99", "warm invoke latency p99 ms (1 raw client)", False),
    ("sync1", "sync invokes/s, 1 raw client", True),
    ("syncb", "sync invokes/s, 1 boto3 client", True),
    ("sync4", f"sync invokes/s, {CLIENTS} raw clients", True),
    ("esm_inv", "SQS mapping invocations/s (batches of 10)", True),
    ("esm_msgs", "SQS mapping messages/s", True),
    ("sync1_cpu", "CPU µs/invoke, 1 client (server + functions)", False),
    ("sync4_cpu", f"CPU µs/invoke, {CLIENTS} clients", False),
    ("esm_cpu", "CPU µs/message, SQS mapping", False),
]
KEYS = [key for key, _, _ in ROWS]


def main() -> int:
    quick = dict(cold=5, warm=200, boto=100, sync4=800, secs=3.0, esm=1000, esm_secs=60.0)
    full = dict(cold=30, warm=3000, boto=1500, sync4=20000, secs=10.0, esm=10000, esm_secs=180.0)
    return bench_main("Functions", __doc__, PEERS, quick, full,
                      "no-op Python handler; the server's CPU includes its function processes", ROWS, bench_server,
                      profile=profile_invoke)


if __name__ == "__main__":
    sys.exit(main())
