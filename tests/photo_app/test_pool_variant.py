"""The photo app with its worker pool (examples/photo-app/conveyor.pool.yaml) under --iam enforce, through the
API and presigned POSTs as the page sends them: a photo ends `done` with both thumbnails, a truncated JPEG
ends `failed` with the reason and its message in the DLQ after its retries."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from tests.helpers import wait_for
from tests.photo_app.images import APP, photo


def test_the_pool_variant_makes_thumbnails_and_refuses_a_truncated_jpeg(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--pipeline", str(APP / "conveyor.pool.yaml"), "--iam", "enforce",
                          console=console)
    api = wait_for(lambda: re.search(r"endpoint: POST http://([a-z0-9]+\.execute-api\.localhost:\d+)/uploads",
                                     console.read_text()), timeout=120, what="the API's endpoint")[1]
    whole = photo(1800, 1200)
    files = {"camera.jpg": whole, "cut.jpg": whole[: len(whole) // 3]}
    ids = {}
    for name, data in files.items():
        answer = requests.post(f"{server.endpoint}/uploads", headers={"Host": api}, timeout=60,
                               json={"filename": name, "contentType": "image/jpeg", "size": len(data)})
        assert answer.status_code == 201, answer.text
        doc = answer.json()
        posted = requests.post(doc["upload"]["url"], data=doc["upload"]["fields"], files={"file": (name, data)},
                               timeout=60)
        assert posted.status_code == 204, posted.text
        ids[name] = doc["job"]["id"]

    def job(name: str) -> dict[str, Any]:
        answer = requests.get(f"{server.endpoint}/uploads/{ids[name]}", headers={"Host": api}, timeout=60)
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["job"])

    done = wait_for(lambda: (j := job("camera.jpg"))["status"] == "done" and j, timeout=90, what="camera.jpg done")
    s3 = server.client("s3")
    for size, box in (("256", (256, 171)), ("1024", (1024, 683))):
        body = s3.get_object(Bucket="photo-uploads", Key=done["thumbnails"][size])["Body"].read()
        assert Image.open(io.BytesIO(body)).size == box
    failed = wait_for(lambda: (j := job("cut.jpg"))["status"] == "failed" and j, timeout=90, what="cut.jpg failed")
    assert failed["reason"].startswith("truncated or corrupt image")
    sqs = server.client("sqs")
    dlq = sqs.get_queue_url(QueueName="photo-thumbnails-dlq")["QueueUrl"]
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), timeout=60,
                        what="the truncated upload's message in the DLQ")
    assert f"uploads/{ids['cut.jpg']}" in messages[0]["Body"]
    # A content type the app does not take is refused by the API, before any upload.
    refused = requests.post(f"{server.endpoint}/uploads", headers={"Host": api}, timeout=60,
                            json={"filename": "notes.txt", "contentType": "text/plain", "size": 10})
    assert refused.status_code == 400 and "is not accepted" in refused.json()["message"]
