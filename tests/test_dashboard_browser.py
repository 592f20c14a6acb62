"""The dashboard in a real headless Chromium (Debian's `chromium`), against `conveyor up` with the default
pipeline: the page draws the pipeline from the live resources, follows uploads, shows queue depths change
without a reload (server-sent events), and its buttons act: scale a pool, kill a worker, redrive the DLQ.
Under --auth sigv4 the browser signs in with the one-time link `conveyor ui` prints.

Screenshots go to the test's temporary directory (their paths are printed: `pytest -s` shows them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.chromium import Chromium, executable
from tests.helpers import wait_for

KEY, SECRET = "AKIDDASHBOARD", "dashboard-secret"

if executable() is None and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install chromium; CI installs it)", allow_module_level=True)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path / "chromium-profile")
    try:
        yield chromium
    finally:
        chromium.close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def advance(endpoint: str, seconds: float) -> None:
    request = urllib.request.Request(f"{endpoint}/_conveyor/clock", data=json.dumps({"advance": seconds}).encode(),
                                     method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def cell(queue: str, column: str) -> str:
    return f"document.querySelector('#queues tr[data-queue=\"{queue}\"] td.{column}')?.textContent"


def node_names(browser: Chromium) -> dict[str, str]:
    return dict(browser.evaluate("[...document.querySelectorAll('#graph g.node')].map(g => [g.dataset.name, "
                                 "g.dataset.kind])"))


def edge_kinds(browser: Chromium) -> list[str]:
    return list(browser.evaluate("[...document.querySelectorAll('#graph path.edge')].map(p => p.dataset.kind)"))


def test_the_dashboard_follows_the_default_pipeline_live(start_server, browser: Chromium, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--with-pipeline", "--clock", "manual",
                          console=tmp_path / "console.log")
    endpoint = server.endpoint
    wait_for(lambda: get_json(f"{endpoint}/_localstack/init/ready")["completed"])
    wait_for(lambda: get_json(f"{endpoint}/_conveyor/workers"))

    browser.navigate(f"{endpoint}/_conveyor/ui")
    browser.wait_for("document.body.dataset.updated", what="the first state over server-sent events")
    browser.wait_for("document.getElementById('connection').textContent === 'live'")
    browser.evaluate("window.sameDocument = 'no reload since the start'")  # gone if the page reloads
    # The pipeline, drawn from the live resources: notification, subscription, redrive, pool, output, alarm.
    names = node_names(browser)
    assert names["conveyor-uploads"] == "bucket" and names["upload-events"] == "topic"
    assert names["upload-jobs"] == "queue" and names["upload-jobs-dlq"] == "dlq"
    assert names["movers"] == "pool" and names["conveyor-uploads/processed/"] == "output"
    assert names["upload-jobs-dlq-not-empty"] == "alarm" and names["upload-alarms"] == "topic"
    assert {"notification", "subscription", "redrive", "consumer", "output", "watches", "notifies"} <= set(
        edge_kinds(browser))

    # Uploads are followed through the pipeline: uploaded -> processing (by the worker) -> processed.
    s3, sqs = server.client("s3"), server.client("sqs")
    for i in range(3):
        s3.put_object(Bucket="conveyor-uploads", Key=f"uploads/photo-{i}.jpg", Body=b"jpeg" * 100)
    browser.wait_for("document.querySelectorAll('#uploads tr td.step.processed').length === 3",
                     what="three processed uploads")
    path = browser.evaluate("document.querySelector('#uploads tr[data-key=\"uploads/photo-0.jpg\"]').textContent")
    assert "processing (movers-1)" in path and "conveyor-uploads/processed/photo-0.jpg" in path

    # Actions from the page: scale the pool out by one, then kill a worker (the pool replaces it).
    browser.click("#pools button.scale-up[data-pool='movers']")
    browser.wait_for("document.querySelectorAll('#pools tr[data-worker]').length === 2", what="a second worker")
    assert get_json(f"{endpoint}/_conveyor/pools")["movers"]["desired"] == 2
    browser.click("#pools button.kill[data-worker='movers-1']")
    browser.wait_for("!document.querySelector('#pools tr[data-worker=\"movers-1\"]') && "
                     "document.querySelectorAll('#pools tr[data-worker]').length === 2", what="movers-1 replaced")
    browser.screenshot(tmp_path / "dashboard-processing.png")

    # Stop the workers (an operator deletes the pool), then uploads wait in the queue: the depth shows.
    # The workers finish their current long poll first, and long polls wait on the manual clock: move it.
    request = urllib.request.Request(f"{endpoint}/_conveyor/pools/movers", method="DELETE")
    deleting = threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=60).close())
    deleting.start()
    while deleting.is_alive():
        advance(endpoint, 1)
        deleting.join(0.2)
    browser.wait_for("!document.querySelector('#graph g.node.pool')", what="the pool gone from the graph")
    for i in range(4):
        s3.put_object(Bucket="conveyor-uploads", Key=f"uploads/late-{i}.jpg", Body=b"jpeg")
    browser.wait_for(f"{cell('upload-jobs', 'visible')} === '4'", what="upload-jobs showing 4 visible")

    # A poison run: each message fails three times, then the next receive moves them to the DLQ.
    jobs = sqs.get_queue_url(QueueName="upload-jobs")["QueueUrl"]
    for _ in range(3):
        assert len(sqs.receive_message(QueueUrl=jobs, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]) == 4
    assert "Messages" not in sqs.receive_message(QueueUrl=jobs, MaxNumberOfMessages=10)
    browser.wait_for(f"{cell('upload-jobs-dlq', 'visible')} === '4' && {cell('upload-jobs', 'visible')} === '0'",
                     what="the DLQ holding 4")
    advance(endpoint, 60)  # the alarm's minute: the DLQ is not empty
    browser.wait_for("!!document.querySelector('#alarms tr[data-alarm=\"upload-jobs-dlq-not-empty\"] "
                     "td.state-ALARM')", what="the DLQ alarm in ALARM")
    assert browser.evaluate("document.querySelector('#graph g.node.dlq').classList.contains('attention')")
    shot = browser.screenshot(tmp_path / "dashboard-dlq.png")
    print(f"\ndashboard screenshots: {tmp_path / 'dashboard-processing.png'} {shot}")

    # The redrive button moves them back to their source queue (StartMessageMoveTask).
    browser.click("#queues button.redrive")
    browser.wait_for(f"{cell('upload-jobs-dlq', 'visible')} === '0' && {cell('upload-jobs', 'visible')} === '4'",
                     what="the DLQ emptied into upload-jobs")
    assert browser.evaluate("window.sameDocument") == "no reload since the start"
    assert browser.evaluate("document.getElementById('message').textContent") == "redrive: done"
    tasks = sqs.list_message_move_tasks(SourceArn=sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName="upload-jobs-dlq")["QueueUrl"], AttributeNames=["QueueArn"])
        ["Attributes"]["QueueArn"])["Results"]
    assert tasks[0]["Status"] == "COMPLETED" and tasks[0]["ApproximateNumberOfMessagesMoved"] == 4
    assert not [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]


def test_under_sigv4_the_browser_signs_in_with_the_link_conveyor_ui_prints(start_server, browser: Chromium,
                                                                          tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET)
    sqs = boto3.client("sqs", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=KEY,
                       aws_secret_access_key=SECRET)
    sqs.create_queue(QueueName="signed-in")
    browser.navigate(f"{server.endpoint}/_conveyor/ui")  # no session: refused, and told what to do
    assert "conveyor ui" in browser.evaluate("document.body.textContent")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CONVEYOR_"))}
    printed = subprocess.run([sys.executable, "-m", "conveyor.cli", "ui", "--no-browser", "--endpoint",
                              server.endpoint, "--access-key", KEY, "--secret-key", SECRET],
                             capture_output=True, text=True, timeout=60, env=env)
    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.split()[1]
    assert link.startswith(f"{server.endpoint}/_conveyor/ui/login?token=")
    browser.navigate(link)
    browser.wait_for("document.body.dataset.updated", what="the dashboard, signed in")
    assert browser.evaluate("location.pathname") == "/_conveyor/ui"  # the token left the address bar
    browser.wait_for(f"{cell('signed-in', 'visible')} === '0'")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="signed-in")["QueueUrl"], MessageBody="hi")
    browser.wait_for(f"{cell('signed-in', 'visible')} === '1'", what="the depth, live")
    assert browser.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session
    # The cookie opens the dashboard only, not the rest of Conveyor's API.
    status = browser.evaluate("fetch('/_conveyor/status').then(r => r.status)")
    assert status == 403
