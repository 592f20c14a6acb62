"""The photo app (examples/photo-app) end to end in a real headless Chromium (Debian's `chromium`, driven over
the DevTools protocol): `conveyor up --pipeline examples/photo-app/conveyor.yaml --iam enforce`, the page
from CloudFront, three pictures and one text file given to it (two dropped on the page with the browser's own
drag and drop, two chosen in its input[type=file] reached with the keyboard); three uploads end `done`
with their thumbnails loaded from the edge, the text file ends `failed` with its reason, the job items in
DynamoDB say so, and the refused upload's message is in the DLQ after its retries. A screenshot of the page
is saved in the test's directory (docs/photo-app.png is one)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tests.chromium import Chromium, executable
from tests.helpers import cfn_lint, wait_for
from tests.photo_app.images import APP, photo

if executable() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium; CI installs it)", allow_module_level=True)

STATUSES = {"uploading", "queued", "processing", "done", "failed"}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path / "chromium-profile", width=1200, height=900)
    try:
        yield chromium
    finally:
        chromium.close()


def pictures(folder: Path) -> list[Path]:
    """Three pictures (a turned camera JPEG, a wide JPEG, a PNG with transparency) and a text file. The text
    file is named .jpg, as a user's mislabelled file is: the browser declares it image/jpeg, the API and S3's
    policy let it through, and only the worker, reading its bytes, can tell it is no picture."""
    folder.mkdir()
    (folder / "portrait.jpg").write_bytes(photo(2400, 1600, orientation=6))
    (folder / "wide.jpg").write_bytes(photo(3000, 1200))
    buffer = io.BytesIO()
    Image.new("RGBA", (900, 900), (40, 160, 90, 180)).save(buffer, "PNG")
    (folder / "badge.png").write_bytes(buffer.getvalue())
    (folder / "notes.jpg").write_text("Shopping list: film, batteries, a better camera.\n")
    return [folder / name for name in ("portrait.jpg", "wide.jpg", "badge.png", "notes.jpg")]


def choose_with_the_keyboard(browser: Chromium, files: list[Path]) -> None:
    """What a keyboard user does: Tab until the file input has the focus, Enter opens the file dialog, the
    files are chosen in it (the dialog is intercepted: headless Chromium has none to show)."""
    browser.send("Page.setInterceptFileChooserDialog", enabled=True)
    for _ in range(5):
        if browser.evaluate("document.activeElement.matches('input[type=file]')"):
            break
        browser.press("Tab", 9)
    else:
        raise AssertionError("Tab never reached the file input")
    # The focus shows: the drop zone around the input is outlined.
    assert browser.evaluate("getComputedStyle(document.getElementById('drop')).outlineStyle") != "none"
    browser.press("Enter", 13)
    chooser = browser.wait_event("Page.fileChooserOpened")
    assert chooser["mode"] == "selectMultiple"
    browser.send("DOM.setFileInputFiles", backendNodeId=chooser["backendNodeId"], files=[str(f) for f in files])
    browser.send("Page.setInterceptFileChooserDialog", enabled=False)


def cards(browser: Chromium) -> list[dict[str, Any]]:
    return list(browser.evaluate("""[...document.querySelectorAll('[data-upload-id]')].map(e => ({
        id: e.dataset.uploadId, status: e.dataset.status, name: e.querySelector('.name').textContent,
        reason: (e.querySelector('.reason') || {}).textContent || null,
        img: e.querySelector('img') && {src: e.querySelector('img').src, loaded: e.querySelector('img').complete
                                              && e.querySelector('img').naturalWidth}}))"""))


def test_the_photo_app_in_a_browser(start_server: Any, browser: Chromium, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--pipeline", str(APP / "conveyor.yaml"), "--iam", "enforce",
                          console=console)
    site = wait_for(lambda: re.search(r"site: (http://\S+)", console.read_text()), timeout=120,
                    what="the app is up (site: URL)")[1]
    browser.navigate(site)
    assert browser.evaluate("document.title") == "Photos"
    # Every status each upload shows, as it shows it.
    browser.evaluate("""window.seen = {}; new MutationObserver(records => { for (const r of records) {
        const e = r.target; if (!e.dataset || !e.dataset.status) continue;
        (window.seen[e.querySelector('.name').textContent] ||= []).push(e.dataset.status); } })
        .observe(document.getElementById('uploads'), {subtree: true, attributes: true,
                                                      attributeFilter: ['data-status']}); true""")
    portrait, wide, badge, notes = pictures(tmp_path / "pictures")
    # Two dropped on the page (the browser's own drag and drop), two chosen with the keyboard alone.
    browser.drop_files("#drop", [portrait, notes])
    choose_with_the_keyboard(browser, [wide, badge])

    browser.wait_for("""(() => { const all = [...document.querySelectorAll('[data-upload-id]')];
        return all.length === 4 && all.every(e => ['done', 'failed'].includes(e.dataset.status))
            && [...document.querySelectorAll('[data-status=done] img')].every(i => i.complete && i.naturalWidth > 0);
        })()""", timeout=120, what="four uploads finished, the thumbnails loaded")
    shown = {card["name"]: card for card in cards(browser)}
    assert {name: card["status"] for name, card in shown.items()} == {
        "portrait.jpg": "done", "wide.jpg": "done", "badge.png": "done", "notes.jpg": "failed"}
    for name in ("portrait.jpg", "wide.jpg", "badge.png"):
        img = shown[name]["img"]
        assert img["src"] == f"{site}processed/{shown[name]['id']}/256.webp" and img["loaded"] > 0  # from the edge
    assert shown["notes.jpg"]["img"] is None
    assert shown["notes.jpg"]["reason"].startswith("not an image")
    seen = browser.evaluate("window.seen")
    assert set().union(*map(set, seen.values())) <= STATUSES
    assert all(statuses[0] == "uploading" and statuses[-1] in ("done", "failed") for statuses in seen.values())
    # The portrait was turned by its EXIF orientation: its thumbnail stands upright.
    assert browser.evaluate(f"""(() => {{ const i = document.querySelector(
        '[data-upload-id="{shown["portrait.jpg"]["id"]}"] img'); return i.naturalHeight > i.naturalWidth; }})()""")
    assert browser.screenshot(tmp_path / "photo-app.png").stat().st_size > 10_000  # the artifact

    # The job items, as DynamoDB has them.
    items = server.client("dynamodb").scan(TableName="photo-jobs")["Items"]
    jobs = {item["filename"]["S"]: item for item in items}
    assert {name: job["status"]["S"] for name, job in jobs.items()} == {
        "portrait.jpg": "done", "wide.jpg": "done", "badge.png": "done", "notes.jpg": "failed"}
    for name in ("portrait.jpg", "wide.jpg", "badge.png"):
        job_id = jobs[name]["id"]["S"]
        assert jobs[name]["thumbnails"]["M"] == {size: {"S": f"processed/{job_id}/{size}.webp"} for size in ("256", "1024")}
    assert jobs["notes.jpg"]["reason"]["S"].startswith("not an image")
    assert int(jobs["notes.jpg"]["attempts"]["N"]) >= 1

    # The refused upload's message went to the DLQ after its retries (max_receive_count 2).
    sqs = server.client("sqs")
    dlq = sqs.get_queue_url(QueueName="photo-thumbnails-dlq")["QueueUrl"]
    failed_key = f"uploads/{jobs['notes.jpg']['id']['S']}"
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                                    AttributeNames=["ApproximateReceiveCount"]).get("Messages"),
                        timeout=60, what="the refused upload's message in the DLQ")
    assert len(messages) == 1
    notification = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert notification["Records"][0]["s3"]["object"]["key"] == failed_key
    # The originals stay private; the thumbnails are only reached through the distribution.
    s3 = server.client("s3")
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="photo-uploads", Prefix="processed/")["Contents"]} == {
        f"processed/{jobs[n]['id']['S']}/{size}.webp" for n in ("portrait.jpg", "wide.jpg", "badge.png")
        for size in (256, 1024)}


def test_the_photo_app_exports_to_a_template_cfn_lint_accepts(tmp_path: Path) -> None:
    """`conveyor export` of the app: the jobs table with its index and TTL, the roles' own statements, the
    site's distribution; cfn-lint finds no error."""
    out = subprocess.run([sys.executable, "-m", "conveyor.cli", "export", "--pipeline", str(APP / "conveyor.yaml"),
                          "-o", "template.yaml"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    template = yaml.safe_load((tmp_path / "template.yaml").read_text())
    resources = template["Resources"]
    table = resources["PhotoJobsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST" and table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "recent"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    statements = resources["PhotoGetUploadFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements == [{"Sid": "OwnLogs", "Effect": "Allow",
                           "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                           "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                                                   "log-group:/aws/lambda/photo-get-upload:*"}},
                          {"Effect": "Allow", "Action": "dynamodb:GetItem",
                           "Resource": "arn:aws:dynamodb:*:*:table/photo-jobs"}]
    assert resources["SiteDistribution"]["Properties"]["DistributionConfig"]["DefaultRootObject"] == "index.html"
    clean, report = cfn_lint(tmp_path)
    assert clean, report  # warnings and notes only
