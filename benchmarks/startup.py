"""Start-up time and idle memory: Conveyor (`--bare` and the default pipeline) next to MiniStack.

    python benchmarks/startup.py [--runs 5] [--only conveyor,ministack]

Conveyor runs on an empty data directory each time (a first start: databases and the TLS certificate are
made) and, as "restart", on the directory the previous run left. Per configuration, `--runs` times: exec
the server, poll its health URL every 5 ms until it answers 200 (the time from exec to that answer is "to
healthy", with the CPU time the server's process tree used until then, which a busy machine disturbs
less), wait until 1 s after exec, and read VmRSS of the server process alone and of its whole process tree
(the default pipeline's worker is a child process). One warm-up run of each configuration comes first (not
counted), so that compiled bytecode and the page cache are there as they are for a user. Prints the
median, minimum and maximum of each. The machine may be shared: compare rows of one run.

MiniStack is started once through `shared/peers/ministack.sh` (which installs it on first use); its command
line is then read from /proc and exec'd directly, so that its time is measured the same way (the script
itself polls every 200 ms). Every server is stopped by its PID; every loop is bounded.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import Server, _status_kb, cpu_seconds, free_port, log, process_tree, start_peer, stop  # noqa: E402

START_TIMEOUT = 30.0
IDLE_AT = 1.0  # seconds after exec at which the idle RSS is read


@dataclass
class Sample:
    healthy_s: float
    cpu_s: float  # CPU time the server spent until healthy: less noisy than the wall clock on a busy machine
    server_mib: float
    tree_mib: float


def _healthy(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def measure(cmd: list[str], env: dict[str, str], port: int, health: str) -> Sample | None:
    """Exec `cmd`, time it to a 200 from `health`, read its RSS 1 s after exec, stop it."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    srv = Server("measured", pid=proc.pid, proc=proc)
    try:
        healthy_at, cpu = None, 0.0
        while time.monotonic() - t0 < START_TIMEOUT and proc.poll() is None:
            if _healthy(port, health):
                healthy_at = time.monotonic() - t0
                cpu = cpu_seconds(proc.pid)
                break
            time.sleep(0.005)
        if healthy_at is None:
            return None
        time.sleep(max(0.0, IDLE_AT - (time.monotonic() - t0)))
        server_mib = _status_kb(proc.pid, "VmRSS") / 1024
        tree_mib = sum(_status_kb(p, "VmRSS") for p in process_tree(proc.pid)) / 1024
        return Sample(healthy_at, cpu, server_mib, tree_mib)
    finally:
        stop(srv)


def conveyor_runner(bare: bool, restart: bool = False) -> Callable[[], Sample | None]:
    """`restart`: every run starts on the data directory the previous run left (its databases and TLS
    certificate made), as a second `conveyor up` does; else each run starts on an empty one."""
    # Python itself, as the `conveyor` console script runs it (a version manager's shim in front of the
    # command would add its own start-up to the measurement).
    base = [sys.executable, "-m", "conveyor.cli"]
    kept = tempfile.mkdtemp(prefix="conveyor-startup-")
    atexit.register(shutil.rmtree, kept, True)

    def run() -> Sample | None:
        port = free_port()
        data_dir = kept if restart else tempfile.mkdtemp(prefix="conveyor-startup-")
        try:
            cmd = base + ["up", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir]
            if bare:
                cmd.append("--bare")
            # Bytecode is written (and the first, warm-up run writes it), as an installed package has it.
            env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "PYTHONDONTWRITEBYTECODE")}
            env["AWS_DEFAULT_REGION"] = "us-east-1"
            return measure(cmd, env, port, "/_conveyor/health")
        finally:
            if not restart:
                shutil.rmtree(data_dir, ignore_errors=True)

    return run


def ministack_runner() -> Callable[[], Sample | None] | str:
    """MiniStack's own command line (installed and read from a first start), or why it is unavailable."""
    first = start_peer("ministack")
    if not first.up or first.pid is None:
        return str(first.error)
    try:
        with open(f"/proc/{first.pid}/cmdline", "rb") as f:
            cmd = [part.decode() for part in f.read().split(b"\0") if part]
    finally:
        stop(first)

    def run() -> Sample | None:
        port = free_port()
        env = dict(os.environ) | {"GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1"}
        return measure(cmd, env, port, "/_ministack/health")

    return run


def summarize(name: str, samples: list[Sample | None]) -> str:
    ok = [s for s in samples if s is not None]
    if not ok:
        return f"| {name} | did not start | | | |"

    def cell(values: list[float], fmt: str) -> str:
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"

    failed = f" ({len(samples) - len(ok)} failed)" if len(ok) < len(samples) else ""
    return (f"| {name}{failed} | {cell([s.healthy_s * 1000 for s in ok], '{:.0f}')} ms"
            f" | {cell([s.cpu_s * 1000 for s in ok], '{:.0f}')} ms"
            f" | {cell([s.server_mib for s in ok], '{:.1f}')} MiB | {cell([s.tree_mib for s in ok], '{:.1f}')} MiB |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="conveyor,ministack")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    configs: list[tuple[str, Callable[[], Sample | None] | str]] = []
    if "conveyor" in wanted:
        configs += [("Conveyor --bare", conveyor_runner(bare=True)),
                    ("Conveyor --bare, restart", conveyor_runner(bare=True, restart=True)),
                    ("Conveyor, default pipeline", conveyor_runner(bare=False))]
    if "ministack" in wanted:
        configs.append(("MiniStack", ministack_runner()))
    results: dict[str, list[Sample | None]] = {name: [] for name, _ in configs}
    for _, runner in configs:  # warm-up, not counted: compiled bytecode and the page cache as a user has them
        if callable(runner):
            runner()
    # Interleaved, so that a burst of load from elsewhere on the machine hits every configuration alike.
    for i in range(max(1, min(args.runs, 50))):
        for name, runner in configs:
            if callable(runner):
                results[name].append(runner())
        log(f"run {i + 1} of {args.runs} done")
    print("\n| server | to healthy: median (min-max) | CPU until healthy | server VmRSS at 1 s | process tree VmRSS at 1 s |")
    print("|---|---|---|---|---|")
    for name, runner in configs:
        print(summarize(name, results[name]) if callable(runner) else f"| {name} | unavailable: {runner} | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
