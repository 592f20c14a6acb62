"""Shared benchmark plumbing: start/stop Conveyor, moto server and LocalStack; server CPU and RSS;
a tiny raw-HTTP client (keep-alive, static fake SigV4 header) and a multi-process load runner.

Everything talks to 127.0.0.1 only. Every loop is bounded by a count and a deadline. Only processes
started here are stopped, each by its PID.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# The peers' start scripts live in `shared/peers` beside the repository (or where CONVEYOR_PEERS_DIR says).
PEERS_DIR = os.environ.get("CONVEYOR_PEERS_DIR",
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------- /proc


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(pid: int) -> list[int]:
    """pid and all its live descendants."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo and len(out) < 10_000:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """utime+stime (plus reaped children's) of pid and its live descendants, in seconds; with
    descendants=False, the utime+stime of pid alone (e.g. a server without its worker processes)."""
    total = 0
    for p in process_tree(pid) if descendants else [pid]:
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is state (field 3); utime=14, stime=15, cutime=16, cstime=17 -> index 11..14
        total += sum(int(x) for x in fields[11:15 if descendants else 13])
    return total / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib(pid: int) -> float:
    return sum(_status_kb(p, "VmRSS") for p in process_tree(pid)) / 1024


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM (peak RSS) of the tree; True if the kernel allowed it."""
    ok = True
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def hwm_mib(pid: int) -> float:
    return sum(_status_kb(p, "VmHWM") for p in process_tree(pid)) / 1024


class RssSampler:
    """Samples the tree's VmRSS every `interval` seconds (bounded) and also reads VmHWM after a reset."""

    def __init__(self, pid: int, interval: float = 0.05, max_seconds: float = 600) -> None:
        self.pid, self.interval, self.max_seconds = pid, interval, max_seconds
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.hwm_ok = False

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.peak = max(self.peak, rss_mib(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.hwm_ok = reset_hwm(self.pid)
        self.peak = rss_mib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mib(self.pid))
        if self.hwm_ok:
            self.peak = max(self.peak, hwm_mib(self.pid))


# -------------------------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    endpoint: str | None = None
    pid: int | None = None
    error: str | None = None
    proc: subprocess.Popen | None = None
    data_dir: str | None = None
    extra_pids: list[int] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.endpoint is not None and self.pid is not None

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.pid else 0.0


def _wait_http(url: str, timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


def start_conveyor(timeout: float = 60, bare: bool = True, extra: Sequence[str] = ()) -> Server:
    """`extra`: more `conveyor up` options (e.g. --iam enforce)."""
    srv = Server("conveyor")
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="conveyor-bench-")
    exe = shutil.which("conveyor")
    cmd = ([exe] if exe else [sys.executable, "-c", "import sys; from conveyor.cli import main; sys.exit(main())"])
    cmd += ["up", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir]
    if bare:  # the APIs alone, like the peers: no default pipeline worker in the measured process tree
        cmd.append("--bare")
    cmd += list(extra)
    log_path = os.path.join(tempfile.gettempdir(), f"conveyor-bench-{port}.log")
    with open(log_path, "wb") as logf:
        # The pipeline `conveyor up` applies goes to the environment's region: pin the one CREDS use.
        env = {k: v for k, v in os.environ.items() if k != "AWS_REGION"} | {"AWS_DEFAULT_REGION": "us-east-1"}
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    srv.proc, srv.data_dir = proc, data_dir
    if _wait_http(f"http://127.0.0.1:{port}/_conveyor/health", timeout, lambda: proc.poll() is None):
        srv.endpoint, srv.pid = f"http://127.0.0.1:{port}", proc.pid
    else:
        srv.error = f"did not come up (log {log_path})"
        _kill_pid(proc.pid)
        with contextlib.suppress(Exception):
            proc.wait(5)
    return srv


# dynalite (Node, DynamoDB on LevelDB; in memory unless given --path): installed with npm the first time.
DYNALITE_VERSION = "3.2.2"
PEERS_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "conveyor-peers")


def start_dynalite(timeout: float = 300) -> Server:
    """Start dynalite on a free loopback port, its tables ACTIVE at once as Conveyor's are."""
    srv = Server("dynalite")
    home = os.path.join(PEERS_CACHE, f"dynalite-{DYNALITE_VERSION}")
    main = os.path.join(home, "node_modules", "dynalite", "index.js")
    if shutil.which("node") is None or shutil.which("npm") is None:
        srv.error = "node and npm are needed"
        return srv
    if not os.path.exists(main):
        os.makedirs(home, exist_ok=True)
        installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", home,
                                    f"dynalite@{DYNALITE_VERSION}"], capture_output=True, text=True, timeout=timeout)
        if installed.returncode != 0 or not os.path.exists(main):
            srv.error = "npm install dynalite failed: " + (installed.stderr.strip().splitlines() or ["?"])[-1][:160]
            return srv
    port = free_port()
    # Its command line listens on every interface: started here on loopback only.
    script = (f"require({json.dumps(main)})({{createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}})"
              f".listen({port}, '127.0.0.1')")
    srv.proc = subprocess.Popen(["node", "-e", script],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    srv.pid = srv.proc.pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            srv.endpoint = f"http://127.0.0.1:{port}"
            return srv
        if srv.proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(srv)
    srv.error = "dynalite did not start"
    return srv


def start_peer(name: str, timeout: float = 900) -> Server:
    """Run the peers directory's NAME.sh PORT; it prints the server PID once ready (dynalite is started here)."""
    if name == "dynalite":
        return start_dynalite()
    srv = Server(name)
    script = os.path.join(PEERS_DIR, f"{name}.sh")
    if not os.path.exists(script):
        srv.error = f"{script} missing"
        return srv
    port = free_port()
    try:
        out = subprocess.run([script, str(port)], capture_output=True, text=True, timeout=timeout,
                             start_new_session=True)
    except subprocess.TimeoutExpired:
        srv.error = f"start timed out after {timeout:.0f}s"
        return srv
    pid_text = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if out.returncode != 0 or not pid_text.isdigit():
        srv.error = (out.stderr.strip().splitlines() or ["start failed"])[-1][:200]
        return srv
    srv.pid, srv.endpoint = int(pid_text), f"http://127.0.0.1:{port}"
    return srv


def stop(srv: Server, grace: float = 15) -> None:
    """Stop a server we started: SIGTERM its PID (and the descendants it had), then SIGKILL leftovers."""
    if not srv.pid:
        return
    tree = process_tree(srv.pid)
    for p in tree:
        _signal(p, signal.SIGTERM)
    if srv.proc is not None:
        with contextlib.suppress(Exception):
            srv.proc.wait(grace)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in tree):
        time.sleep(0.1)
    for p in tree:
        if _alive(p):
            _signal(p, signal.SIGKILL)
    if srv.proc is not None:
        with contextlib.suppress(Exception):
            srv.proc.wait(5)
    if srv.data_dir:
        shutil.rmtree(srv.data_dir, ignore_errors=True)
    srv.pid = None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _kill_pid(pid: int) -> None:
    _signal(pid, signal.SIGKILL)


def start_all(names: list[str], bare: bool = True) -> list[Server]:
    """Start the requested servers concurrently (LocalStack is slow to boot)."""
    results: dict[str, Server] = {}

    def one(name: str) -> None:
        try:
            results[name] = start_conveyor(bare=bare) if name == "conveyor" else start_peer(name)
        except Exception as exc:  # a peer that cannot start must not stop the run
            results[name] = Server(name, error=f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(1000)
    servers = [results.get(n) or Server(n, error="start thread hung") for n in names]
    for s in servers:
        log(f"{s.name}: {'up at ' + s.endpoint + ' pid ' + str(s.pid) if s.up else 'unavailable (' + str(s.error) + ')'}")
    return servers


@contextlib.contextmanager
def servers_running(names: list[str], bare: bool = True) -> Iterator[list[Server]]:
    servers = start_all(names, bare)
    try:
        yield servers
    finally:
        for s in servers:
            stop(s)


# ------------------------------------------------------------------------------------ raw HTTP client


def fake_auth(service: str) -> dict[str, str]:
    """A well-formed but unsigned SigV4 header: Conveyor has auth off on loopback, peers do not check."""
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/{date[:8]}/us-east-1/{service}/aws4_request, "
                         f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
        "X-Amz-Date": date,
    }


class Http:
    """One keep-alive connection; reconnects (once per call) if the server dropped it."""

    def __init__(self, endpoint: str, timeout: float = 60, blocksize: int = 65536) -> None:
        self.blocksize = blocksize
        hostport = endpoint.split("://", 1)[1].rstrip("/")
        self.host, port = hostport.rsplit(":", 1)
        self.port, self.timeout = int(port), timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                               blocksize=self.blocksize)
        return self.conn

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                sink: bool = False) -> tuple[int, bytes]:
        for attempt in (0, 1):
            conn = self.conn or self._connect()
            try:
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                if sink:
                    n = 0
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        n += len(chunk)
                    data = str(n).encode()
                else:
                    data = resp.read()
                if resp.will_close:
                    conn.close()
                    self.conn = None
                return resp.status, data
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self.conn = None
                if attempt or (body is not None and hasattr(body, "read")):
                    raise
        raise RuntimeError("unreachable")

    def close(self) -> None:
        if self.conn:
            self.conn.close()


# ------------------------------------------------------------------------------- multi-process load


def _worker(fn: Callable[..., int], args: tuple, barrier: Any, queue: Any, idx: int) -> None:
    try:
        state = fn("setup", idx, *args)
        barrier.wait(60)
        t0 = time.perf_counter()
        done, errors = fn("run", idx, *args, state=state)
        t1 = time.perf_counter()
        queue.put((idx, t0, t1, done, errors, None))
    except Exception as exc:
        with contextlib.suppress(Exception):
            barrier.abort()
        queue.put((idx, 0.0, 0.0, 0, 0, f"{type(exc).__name__}: {exc}"))


@dataclass
class LoadResult:
    ops: int
    errors: int
    seconds: float
    cpu: float  # server CPU seconds during the run
    failure: str | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


def run_load(srv: Server, fn: Callable[..., Any], clients: int, args: tuple, timeout: float) -> LoadResult:
    """Run fn in `clients` forked processes that start together; ops/s over first start..last end.

    fn(phase, idx, *args, state=None): phase "setup" returns state; phase "run" returns (ops, errors)
    and must itself stop by a count and a deadline.
    """
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(fn, args, barrier, queue, i), daemon=True) for i in range(clients)]
    for p in procs:
        p.start()
    failure = None
    try:
        barrier.wait(60)
    except Exception:
        failure = "workers failed to start"
    cpu0 = srv.cpu()
    results = []
    deadline = time.monotonic() + timeout + 30
    while len(results) < clients and time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            results.append(queue.get(timeout=max(0.1, deadline - time.monotonic())))
    cpu1 = srv.cpu()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join(2)
    ok = [r for r in results if r[5] is None]
    errs = [r[5] for r in results if r[5]]
    if errs:
        failure = errs[0]
    if len(results) < clients:
        failure = failure or "workers timed out"
    if not ok:
        return LoadResult(0, 0, 0.0, cpu1 - cpu0, failure or "no results")
    t0 = min(r[1] for r in ok)
    t1 = max(r[2] for r in ok)
    return LoadResult(sum(r[3] for r in ok), sum(r[4] for r in ok), t1 - t0, cpu1 - cpu0, failure)


# --------------------------------------------------------------------------------------------- output


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def fmt(v: Any, digits: int = 0) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if v != v:  # nan
        return "—"
    if digits == 0 and abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.{max(digits, 1 if abs(v) < 100 else 0)}f}"


# CONVEYOR_BENCH_RESULTS moves the records elsewhere (the harness's own test keeps them out of the tree).
RESULTS_DIR = os.environ.get("CONVEYOR_BENCH_RESULTS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))


def record_run(rows: list[tuple[str, str, bool]], servers: list[Server], values: dict[tuple[str, str], Any]) -> str:
    """Keep this run's numbers as JSON under benchmarks/results/ (SCRIPT-UTCSTAMP.json), so that runs can
    be compared later; returns the file's path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    script = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "bench"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = os.path.join(RESULTS_DIR, f"{script}-{stamp}.json")
    run = {"script": script, "utc": stamp, "argv": sys.argv[1:], "cpus": os.cpu_count(),
           "load_average": os.getloadavg()[0],
           "servers": {s.name: ("up" if s.up else (s.error or "down")) for s in servers},
           "metrics": {key: {"label": label, "higher_is_better": higher,
                             "values": {s.name: values.get((s.name, key)) for s in servers}}
                       for key, label, higher in rows}}
    with open(path, "w") as f:
        json.dump(run, f, indent=1, sort_keys=True)
    return path


def table(rows: list[tuple[str, str, bool]], servers: list[Server], values: dict[tuple[str, str], Any],
          notes: dict[tuple[str, str], str] | None = None) -> str:
    """rows: (key, label, higher_is_better). Ratio columns: Conveyor ÷ peer. The run is also recorded
    (record_run)."""
    log(f"run recorded in {record_run(rows, servers, values)}")
    notes = notes or {}
    peers = [s.name for s in servers if s.name != "conveyor"]
    names = [s.name for s in servers]
    header = ["metric"] + names + [f"conveyor ÷ {p}" for p in peers]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    status = {s.name: s for s in servers}
    for key, label, higher in rows:
        cells = [label + (" ↑" if higher else " ↓")]
        for n in names:
            if not status[n].up and status[n].error:
                cells.append("unavailable")
            elif (n, key) in notes:
                cells.append(notes[(n, key)])
            else:
                cells.append(fmt(values.get((n, key))))
        c = values.get(("conveyor", key))
        for p in peers:
            v = values.get((p, key))
            if isinstance(c, (int, float)) and isinstance(v, (int, float)) and v and c == c and v == v:
                cells.append(f"{c / v:.2f}x")
            else:
                cells.append("—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- profile


def profile_load(srv: Server, out: str, secs: float, title: str, load: Callable[[], LoadResult],
                 prepare: Callable[[], None] | None = None) -> None:
    """Run `load` twice under py-spy: "gil" samples only the GIL holder (Python CPU), "wall" every
    non-idle thread (includes the group-commit thread's fsync waits). Collapsed stacks go to OUT.MODE."""
    for mode, flags in (("gil", ["--gil"]), ("wall", [])):
        path = f"{out}.{mode}"
        if prepare is not None:
            prepare()
        log(f"{srv.name}: profiling ({mode}) for {secs:.0f}s: {title} -> {path}")
        try:
            spy = subprocess.Popen(["py-spy", "record", "-p", str(srv.pid), "-d", str(int(secs) + 2), "-r", "200",
                                    "--format", "raw", "-o", path, "--nonblocking", *flags],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError:
            log("  py-spy not installed (pip install py-spy); skipping profile")
            return
        time.sleep(1)
        r = load()
        log(f"  under profiler: {fmt(r.rate)} ops/s")
        try:
            _, err = spy.communicate(timeout=secs + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if spy.returncode:
            log(f"  py-spy failed: {err.decode(errors='replace')[-300:]}")
            continue
        print(f"\n### py-spy {mode} profile: {title}")
        summarize_profile(path)


def summarize_profile(path: str, top: int = 25) -> None:
    """Self time and inclusive time by file:function from py-spy's collapsed stacks."""
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            total += count
            frames = []
            for fr in stack.split(";"):
                # py-spy frame: "function (path/file.py:line)"
                fn, _, loc = fr.partition(" (")
                loc = loc.rstrip(")")
                file = loc.rsplit(":", 1)[0]
                short = "/".join(file.split("/")[-2:]) if file else "?"
                frames.append(f"{short}:{fn}")
            if frames:
                self_t[frames[-1]] = self_t.get(frames[-1], 0) + count
            for fr in set(frames):
                incl[fr] = incl.get(fr, 0) + count
    if not total:
        log("  empty profile")
        return
    print(f"\nTop self time ({total} samples):")
    for fr, c in sorted(self_t.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * c / total:5.1f}%  {fr}")
    print("\nTop inclusive time in conveyor code:")
    conv = [(fr, c) for fr, c in incl.items() if fr.startswith(("conveyor/", "gateway/", "protocol/", "sqs/",
                                                                    "storage/", "services/", "s3/"))]
    conv = [(fr, c) for fr, c in conv if fr not in ("conveyor/cli.py:main", "conveyor/cli.py:cmd_up",
                                                     "conveyor/server.py:serve")]
    for fr, c in sorted(conv, key=lambda kv: -kv[1])[:top]:
        print(f"  {100 * c / total:5.1f}%  {fr}")
    print(flush=True)
