"""The photo app (examples/photo-app) under real work: 100 JPEG photos of 1-5 MB, generated with Pillow (none
is shipped), each through the API (`POST /uploads`) and a presigned POST to S3, made into thumbnails by the
thumbnail function (conveyor.yaml) and then by the worker pool (conveyor.pool.yaml).

    python benchmarks/photo_app.py [--files 100] [--clients 4] [--only function,pool]

Reports, for each variant: files per second (first request to last job done) and the p50 / p95 time from
the upload's first request to its job being `done` (read from DynamoDB every 50 ms, as the page reads the API).
Loopback only; each run is bounded by a deadline; only the servers started here are stopped, by their pid.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import requests
from PIL import Image

APP = Path(__file__).resolve().parents[1] / "examples" / "photo-app"
VARIANTS = {"function": "conveyor.yaml", "pool": "conveyor.pool.yaml"}
CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
DEADLINE = 900.0


def photos(folder: Path, count: int, seed: int = 7) -> list[Path]:
    """`count` JPEGs of 1-5 MB: smooth gradients under camera-like noise, so they compress like photos."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        target = rng.uniform(1.0, 4.2) * 1024 * 1024  # what the estimate below turns into 1-5 MB
        side = int((target / 0.75) ** 0.5 * 1.25)  # noisy JPEG at quality 92: about 0.75 bytes per pixel
        width, height = side * 4 // 3, side * 3 // 4
        base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        noise = Image.effect_noise((width, height), rng.uniform(30, 60)).convert("RGB")
        picture = Image.blend(base, noise, 0.5)
        path = folder / f"photo-{i:03d}.jpg"
        picture.save(path, "JPEG", quality=92)
        out.append(path)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class App:
    """`conveyor up --pipeline FILE` in a fresh data directory, until `stop`."""

    def __init__(self, pipeline: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.console = data_dir.parent / f"{pipeline.stem}.console.txt"
        with open(self.console, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "conveyor.cli", "up", "--port", str(self.port), "--data-dir", str(data_dir),
                 "--pipeline", str(pipeline)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while not (found := re.search(r"endpoint: POST http://([a-z0-9]+)\.execute-api", self.console.read_text())):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the app did not come up: {self.console.read_text()[-2000:]}")
            time.sleep(0.2)
        self.api_host = f"{found[1]}.execute-api.localhost:{self.port}"
        while "site: http" not in self.console.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def upload(app: App, path: Path, session: requests.Session) -> tuple[str, float]:
    started = time.monotonic()
    body = {"filename": path.name, "contentType": "image/jpeg", "size": path.stat().st_size}
    answer = session.post(f"{app.endpoint}/uploads", json=body, headers={"Host": app.api_host}, timeout=60)
    answer.raise_for_status()
    doc = answer.json()
    with open(path, "rb") as file:
        posted = session.post(doc["upload"]["url"], data=doc["upload"]["fields"], files={"file": file}, timeout=120)
    posted.raise_for_status()
    return doc["job"]["id"], started


def run(variant: str, files: list[Path], clients: int, work: Path) -> dict[str, Any]:
    app = App(APP / VARIANTS[variant], work / f"{variant}-data")
    try:
        dynamodb = boto3.client("dynamodb", endpoint_url=app.endpoint, **CREDS)
        started: dict[str, float] = {}
        finished: dict[str, tuple[str, float]] = {}
        attempts: dict[str, int] = {}  # more than 1: a delivery came back (a timeout, a crash) and was redone
        lock = threading.Lock()
        uploading = True

        def watch() -> None:
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                with lock:
                    pending = [i for i in started if i not in finished]
                if not pending and not uploading:
                    return
                for chunk in (pending[i:i + 100] for i in range(0, len(pending), 100)):
                    answer = dynamodb.batch_get_item(RequestItems={"photo-jobs": {
                        "Keys": [{"id": {"S": i}} for i in chunk], "ProjectionExpression": "id, #s, attempts",
                        "ExpressionAttributeNames": {"#s": "status"}, "ConsistentRead": True}})
                    now = time.monotonic()
                    for item in answer["Responses"]["photo-jobs"]:
                        if item["status"]["S"] in ("done", "failed"):
                            finished.setdefault(item["id"]["S"], (item["status"]["S"], now))
                            attempts[item["id"]["S"]] = int(item.get("attempts", {}).get("N", "0"))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        sessions = threading.local()

        def one(path: Path) -> None:
            session = getattr(sessions, "s", None) or requests.Session()
            sessions.s = session
            job, at = upload(app, path, session)
            with lock:
                started[job] = at

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, files))
        uploading = False
        watcher.join()
        latencies = sorted(done_at - started[job] for job, (_, done_at) in finished.items())
        first, last = min(started.values()), max(at for _, at in finished.values())
        return {"variant": variant, "files": len(files), "done": sum(s == "done" for s, _ in finished.values()),
                "failed": sum(s == "failed" for s, _ in finished.values()),
                "retried": sum(n > 1 for n in attempts.values()), "files_per_s": len(finished) / (last - first),
                "p50": latencies[len(latencies) // 2], "p95": latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]}
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="uploads at once")
    parser.add_argument("--only", default="function,pool")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photo-bench-") as tmp:
        work = Path(tmp)
        (work / "photos").mkdir()
        made = time.monotonic()
        files = photos(work / "photos", args.files)
        total = sum(f.stat().st_size for f in files)
        print(f"{len(files)} JPEGs, {total / 2**20:.0f} MiB ({min(f.stat().st_size for f in files) / 2**20:.1f}-"
              f"{max(f.stat().st_size for f in files) / 2**20:.1f} MiB each), made in {time.monotonic() - made:.0f} s",
              file=sys.stderr)
        results = [run(variant, files, args.clients, work) for variant in args.only.split(",")]
    print("| workers | files | done | failed | retried | files/s | p50 upload-to-thumbnail | p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['variant']} | {r['files']} | {r['done']} | {r['failed']} | {r['retried']} | {r['files_per_s']:.2f} | "
              f"{r['p50']:.2f} s | {r['p95']:.2f} s |")
    print(json.dumps(results), file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main()
