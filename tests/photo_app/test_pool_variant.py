"""The photo app with its worker pool (examples/photo-app/conveyor.pool.yaml) under --iam enforce, through the
API and presigned POSTs as the page sends them: a photo ends `done` with both thumbnails, a truncated JPEG
ends `failed` with the reason and its message in the DLQ after its retries. Exported, the pool's package
holds the worker with the modules it imports, and its instances install Pillow when they boot."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import requests
import yaml
from PIL import Image

from tests.conftest import CLI_ENV
from tests.helpers import cfn_lint, wait_for
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


def test_the_exported_pool_variant_packs_its_modules_and_installs_pillow_on_boot(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "conveyor.cli", "export", "--pipeline", str(APP / "conveyor.pool.yaml"),
                           "-o", "template.yaml", "--artifacts", "code"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, **CLI_ENV}, timeout=300)
    assert done.returncode == 0, done.stderr
    [package] = (tmp_path / "code" / "conveyor").glob("photo-thumbnailers-*.zip")
    names = zipfile.ZipFile(package).namelist()
    assert {f"functions/{module}.py" for module in ("worker", "thumbnail", "images", "jobs")} <= set(names)
    template = yaml.safe_load((tmp_path / "template.yaml").read_text())
    resources = template["Resources"]
    script = resources["PhotoThumbnailersPoolLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"][
        "Fn::Base64"]["Fn::Sub"].splitlines()
    install = script.index("python3 -m pip install --quiet --target conveyor-deps pillow==12.2.0")
    assert script[install + 1] == 'export PYTHONPATH="$PWD/conveyor-deps"'
    assert script[-1] == "exec python3 functions/worker.py" and install < len(script) - 1
    # The worker's statements name the bucket through its parameter.
    statements = resources["PhotoThumbnailersPoolRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${PhotoUploadsBucketName}/uploads/*"}} in statements
    clean, report = cfn_lint(tmp_path)
    assert clean and not re.search(r":[EW]\d{4}:", report), report
