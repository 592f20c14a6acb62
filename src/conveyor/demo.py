"""`conveyor demo`: the architecture's story, scripted, verified, and shown as it happens.

Runs a real server in a temporary data directory with a small pipeline (bucket -> topic -> queue with a
DLQ -> a pool of built-in movers), then: processes uploads, survives a killed worker, scales out for a
burst and back in, and sends a poison file to the DLQ and back after the fix. Every step is checked;
the exit code says whether all of them happened.
"""

from __future__ import annotations

import concurrent.futures
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from conveyor.control import ControlClient, Credentials

BUCKET = "demo-uploads"
PIPELINE = f"""
buckets:
  - name: {BUCKET}
    prefixes: [uploads/, processed/]
    notifications:
      - {{events: ["s3:ObjectCreated:*"], prefix: uploads/, topic: demo-events}}
topics:
  - name: demo-events
    subscriptions: [{{queue: demo-jobs}}]
queues:
  - name: demo-jobs
    visibility_timeout: 2
    dead_letter: {{queue: demo-jobs-dlq, max_receive_count: 3}}
  - name: demo-jobs-dlq
pools:
  - name: movers
    queue: demo-jobs
    min: 1
    max: 4
    target_backlog: 10
    warmup: 1
    scale_out_cooldown: 2
    scale_in_cooldown: 4
    drain_timeout: 5
    env: {{FAIL_ON: poison, WORK_SECONDS: "0.05"}}
"""


class StepFailed(Exception):
    pass


class Demo:
    def __init__(self, endpoint: str, out: Callable[[str], None]) -> None:
        self.endpoint = endpoint
        self.out = out
        options: dict[str, Any] = dict(endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                                       region_name="us-east-1", config=BotoConfig(retries={"max_attempts": 3}))
        self.s3 = boto3.client("s3", **options)
        self.sqs = boto3.client("sqs", **options)
        self.control = ControlClient(endpoint, Credentials("test", "test", "us-east-1"))
        self.queue_url = ""
        self.dlq_url = ""
        self.uploaded = 0
        self.tty = sys.stdout.isatty()
        self._last_line = 0.0

    # -- plumbing -------------------------------------------------------------------------------
    def internal(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        return self.control.call(method, path, payload)

    def processed(self) -> set[str]:
        keys: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="processed/"):
            keys.update(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
        return keys

    def depth(self, url: str) -> tuple[int, int]:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def workers(self) -> list[dict[str, Any]]:
        return [w for w in self.internal("GET", "workers") if w["state"] != "terminating"]

    def snapshot(self) -> dict[str, Any]:
        visible, inflight = self.depth(self.queue_url)
        dlq, _ = self.depth(self.dlq_url)
        return {"visible": visible, "inflight": inflight, "dlq": dlq, "workers": len(self.workers()),
                "processed": len(self.processed())}

    def show(self, snap: dict[str, Any]) -> None:
        line = (f"      queue {snap['visible']:>3} waiting, {snap['inflight']:>3} in flight | DLQ {snap['dlq']} | "
                f"workers {snap['workers']} | processed {snap['processed']:>3}/{self.uploaded}")
        if self.tty:
            print("\r" + line, end="", flush=True)
        elif time.monotonic() - self._last_line >= 2:
            self.out(line)
            self._last_line = time.monotonic()

    def watch(self, until: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        """Show the pipeline live until `until(snapshot)` holds."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            self.show(snap)
            if until(snap):
                if self.tty:
                    print()
                return snap
            if time.monotonic() > deadline:
                if self.tty:
                    print()
                raise StepFailed(f"{what} did not happen within {timeout:.0f} s (last: {snap})")
            time.sleep(0.2)

    def upload(self, names: list[str], presigned: bool = False) -> None:
        def put(name: str) -> None:
            body = f"demo file {name}\n".encode()
            if presigned:
                url = self.s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": f"uploads/{name}"},
                                                     ExpiresIn=300)
                urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT"), timeout=30).close()
            else:
                self.s3.put_object(Bucket=BUCKET, Key=f"uploads/{name}", Body=body)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(put, names))
        self.uploaded += len(names)

    # -- the story ------------------------------------------------------------------------------
    def setup(self) -> str:
        from conveyor.pipeline.apply import Applier
        from conveyor.pipeline.spec import parse

        report = Applier(self.endpoint, region="us-east-1").apply(parse(PIPELINE, "demo pipeline"))
        self.queue_url = self.sqs.get_queue_url(QueueName="demo-jobs")["QueueUrl"]
        self.dlq_url = self.sqs.get_queue_url(QueueName="demo-jobs-dlq")["QueueUrl"]
        self.watch(lambda s: s["workers"] == 1, 20, "the first worker starting")
        return f"{len(report.created)} resources: bucket -> topic -> queue (+DLQ) -> pool of movers"

    def process_uploads(self) -> str:
        started = time.monotonic()
        self.upload([f"photo-{i}.jpg" for i in range(5)], presigned=True)
        self.watch(lambda s: s["processed"] == 5, 30, "processing 5 uploads")
        return f"5 presigned uploads moved to processed/ in {time.monotonic() - started:.1f} s"

    def survive_crash(self) -> str:
        [victim] = self.workers()
        self.internal("POST", f"workers/{victim['id']}/kill")
        self.upload([f"while-down-{i}.jpg" for i in range(5)])
        waited = self.watch(lambda s: s["visible"] + s["inflight"] > 0 or s["processed"] == 10, 10,
                            "uploads queueing")
        snap = self.watch(lambda s: s["processed"] == 10 and s["workers"] == 1, 30, "the replacement draining")
        replaced = self.internal("GET", "pools")["movers"]["replaced"]
        if replaced < 1:
            raise StepFailed("the killed worker was not replaced")
        return (f"killed {victim['id']} (SIGKILL); {waited['visible'] + waited['inflight']} uploads waited in the "
                f"queue; a new worker replaced it and drained them ({snap['processed']} processed, none lost)")

    def scale(self) -> str:
        peak = 0

        def grew(s: dict[str, Any]) -> bool:
            nonlocal peak
            peak = max(peak, int(s["workers"]))
            return peak > 1

        self.upload([f"burst-{i}.jpg" for i in range(150)])
        self.watch(grew, 30, "scaling out")
        self.watch(lambda s: grew(s) and s["processed"] == self.uploaded, 60, "the burst draining")
        self.watch(lambda s: s["workers"] == 1, 40, "scaling back in")
        return f"150 uploads: the pool scaled out to {peak} workers, drained the backlog, and scaled back to 1"

    def poison(self) -> str:
        self.upload(["poison.jpg"])
        self.watch(lambda s: s["dlq"] == 1, 40, "the poison file reaching the DLQ")
        receives = 3
        # Deploy the fix: replace the pool with workers that no longer fail on it.
        spec = self.internal("GET", "pools")["movers"]["spec"]
        self.internal("DELETE", "pools/movers")
        spec["env"] = {k: v for k, v in spec["env"].items() if k != "FAIL_ON"}
        spec["desired"] = None
        self.internal("POST", "pools", spec)
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sqs.start_message_move_task(SourceArn=dlq_arn)
        self.watch(lambda s: "processed/poison.jpg" in self.processed() and s["dlq"] == 0, 30, "redrive after the fix")
        return f"poison.jpg failed {receives} times and landed in the DLQ; after the fix a move task redrove it"

    def run(self) -> bool:
        steps = [
            ("Apply the pipeline", self.setup),
            ("Upload files; watch them processed", self.process_uploads),
            ("Kill a worker; uploads wait, the pool heals", self.survive_crash),
            ("Upload a burst; the pool scales out and back in", self.scale),
            ("Poison file -> DLQ -> fix -> redrive", self.poison),
        ]
        ok = True
        for index, (title, step) in enumerate(steps, 1):
            self.out(f"[{index}/{len(steps)}] {title}")
            started = time.monotonic()
            try:
                detail = step()
            except Exception as exc:
                self.out(f"   FAILED: {exc}")
                ok = False
                break
            self.out(f"   ok ({time.monotonic() - started:.1f} s): {detail}")
        return ok


def main(keep: bool = False) -> int:
    from conveyor.app import App
    from conveyor.config import Config
    from conveyor.server import serve_in_thread

    def out(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="conveyor-demo-") as tmp:
        data_dir = Path(tmp) / "data"
        app = App(Config(data_dir=data_dir, port=0, auth="off", clock="system"))
        with serve_in_thread(app) as endpoint:
            out(f"Conveyor demo: server on {endpoint}, data in {data_dir} (deleted afterwards)")
            ok = Demo(endpoint, out).run()
        out("Demo passed: every step verified." if ok else "Demo FAILED.")
        return 0 if ok else 1
