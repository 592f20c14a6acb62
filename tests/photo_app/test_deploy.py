"""The photo app as it goes to AWS: `conveyor export` of examples/photo-app gives a template cfn-lint accepts,
with the thumbnail function's Pillow as a Lambda layer built from its `requirements:` (pip, from the package
index; that two builds give the same zip is tests/test_pipeline_requirements.py's, offline), roles of least
privilege and the bucket names as parameters; `conveyor deploy` of that template into a second Conveyor
(under --iam enforce, the buckets renamed as on AWS they would have to be) uploads the code, makes the stack,
publishes the page's files with their content types, and prints the site's URL; the deployed app then works
through its HTTP API: a photo posted to S3 ends `done` and its thumbnail comes from the edge."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from PIL import Image

from tests.conftest import CLI_ENV
from tests.helpers import cfn_lint, wait_for
from tests.photo_app.images import APP, photo


def conveyor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **CLI_ENV, **(env or {})}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def edge_get(url: str, ca: Path) -> tuple[int, dict[str, str], bytes]:
    """GET over HTTPS from the server's port with the host name the URL has (`*.localhost` is loopback, which
    Python's resolver does not know), trusting the server's local CA."""
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.hostname and parts.port, url
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=30)
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", parts.port), timeout=30),
                                          server_hostname=parts.hostname)
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def layer_of(template: dict[str, Any], code: Path) -> tuple[str, bytes]:
    [(logical, layer)] = [(k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"]
    key = layer["Properties"]["Content"]["S3Key"]
    return logical, (code / key).read_bytes()


def test_the_exported_photo_app_deploys_to_a_second_conveyor_and_works(start_server: Any, tmp_path: Path) -> None:
    app = tmp_path / "photo-app"  # a copy: the page changes at the end
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    conveyor("export", "--pipeline", str(app / "conveyor.yaml"), "-o", str(out / "template.yaml"),
             "--artifacts", str(out / "code"), cwd=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "cache-1")})
    clean, report = cfn_lint(out)
    assert clean and not re.search(r":[EW]\d{4}:", report), report  # no error, and no warning either
    template = yaml.safe_load((out / "template.yaml").read_text())
    resources = template["Resources"]

    # Pillow is a layer the thumbnail function names, built for Lambda's Python 3.12 on x86_64.
    logical, layer = layer_of(template, out / "code")
    properties = resources[logical]["Properties"]
    assert properties["CompatibleRuntimes"] == ["python3.12"] and properties["CompatibleArchitectures"] == ["x86_64"]
    assert properties["Content"]["S3Bucket"] == {"Ref": "CodeBucket"}
    assert resources["PhotoThumbnailFunction"]["Properties"]["Layers"] == [{"Ref": logical}]
    assert all("Layers" not in r["Properties"] for k, r in resources.items()
               if r["Type"] == "AWS::Lambda::Function" and k != "PhotoThumbnailFunction")
    names = zipfile.ZipFile(io.BytesIO(layer)).namelist()
    site_packages = "python/lib/python3.12/site-packages/"
    assert f"{site_packages}PIL/Image.py" in names
    assert any(re.fullmatch(rf"{site_packages}PIL/_imaging\.cpython-312-x86_64-linux-gnu\.so", n) for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # Least privilege: no managed policy; the thumbnail function polls its own queue and writes its own logs.
    roles = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert roles and all("ManagedPolicyArns" not in role for role in roles.values())
    statements = roles["PhotoThumbnailFunctionRole"]["Policies"][0]["PolicyDocument"]["Statement"]
    poll = next(s for s in statements if s.get("Sid") == "PollQueue")
    assert poll["Resource"] == {"Fn::GetAtt": ["PhotoThumbnailsQueue", "Arn"]}
    assert next(s for s in statements if s.get("Sid") == "OwnLogs")["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/photo-thumbnail:*"}
    # The buckets are parameters, and the code and the roles follow them.
    create = resources["PhotoCreateUploadFunction"]["Properties"]
    assert create["Environment"]["Variables"]["BUCKET"] == {"Ref": "PhotoUploadsBucketName"}
    assert {"Effect": "Allow", "Action": "s3:PutObject", "Resource": {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${PhotoUploadsBucketName}/uploads/*"}} in \
        roles["PhotoCreateUploadFunctionRole"]["Policies"][0]["PolicyDocument"]["Statement"]

    # `conveyor deploy` of the template into another Conveyor, enforcing IAM, with the buckets renamed.
    server = start_server(tmp_path / "data", "--iam", "enforce")
    deployed = conveyor("deploy", str(out / "template.yaml"), "--stack", "photos", "--code-bucket", "photo-code",
                        "--endpoint", server.endpoint, "--parameters", "PhotoUploadsBucketName=acme-photo-uploads",
                        "PhotoSiteBucketName=acme-photo-site", cwd=tmp_path).stdout
    assert "Stack photos: CREATE_COMPLETE" in deployed, deployed
    assert re.search(r"uploaded s3://photo-code/conveyor/layer-[0-9a-f]{16}\.zip", deployed), deployed
    site = re.search(r"^site: (https://[a-z0-9]+\.cloudfront\.localhost:\d+/)$", deployed, re.M)
    assert site is not None, deployed
    site_url = site[1]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in
               server.client("cloudformation").describe_stacks(StackName="photos")["Stacks"][0]["Outputs"]}
    assert outputs["SiteUrl"] == f"https://{urlsplit(site_url).hostname}/"
    function = server.client("lambda").get_function(FunctionName="photo-thumbnail")["Configuration"]
    assert [layer["CodeSize"] for layer in function["Layers"]] == [len(layer)]

    # The page, from the distribution over HTTPS, with the types a browser needs and the API it calls.
    ca = tmp_path / "data" / "tls" / "ca.pem"
    status, headers, body = edge_get(site_url, ca)
    assert status == 200 and headers["content-type"] == "text/html" and b"<title>Photos</title>" in body
    status, headers, _ = edge_get(f"{site_url}app.js", ca)
    assert status == 200 and headers["content-type"] == "text/javascript"
    status, headers, body = edge_get(f"{site_url}config.json", ca)
    assert status == 200 and json.loads(body) == {"api": outputs["ApiUrl"]}
    s3 = server.client("s3")
    assert "Contents" not in s3.list_objects_v2(Bucket="acme-photo-uploads")  # the app's bucket, renamed
    # The site's bucket stays private: only the distribution reads it.
    assert requests.get(f"{server.endpoint}/acme-photo-site/index.html", timeout=30).status_code == 403

    # The deployed app through its HTTP API, as the page drives it.
    api = urlsplit(outputs["ApiUrl"]).netloc
    picture = photo(1600, 1200)
    answer = requests.post(f"{server.endpoint}/uploads", headers={"Host": api}, timeout=60,
                           json={"filename": "harbour.jpg", "contentType": "image/jpeg", "size": len(picture)})
    assert answer.status_code == 201, answer.text
    doc = answer.json()
    assert doc["upload"]["url"].rstrip("/").endswith("/acme-photo-uploads")  # the function follows the rename
    posted = requests.post(doc["upload"]["url"], data=doc["upload"]["fields"],
                           files={"file": ("harbour.jpg", picture)}, timeout=60)
    assert posted.status_code == 204, posted.text
    job_id = doc["job"]["id"]

    def job() -> dict[str, Any]:
        got = requests.get(f"{server.endpoint}/uploads/{job_id}", headers={"Host": api}, timeout=60)
        assert got.status_code == 200, got.text
        return dict(got.json()["job"])

    done = wait_for(lambda: (j := job())["status"] == "done" and j, timeout=120, what="the upload is done")
    assert done["thumbnails"] == {size: f"processed/{job_id}/{size}.webp" for size in ("256", "1024")}
    status, headers, body = edge_get(f"{site_url}processed/{job_id}/256.webp", ca)
    assert status == 200 and headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(body)).size == (256, 192)
    # The original is not served: the distribution reads processed/ only.
    assert edge_get(f"{site_url}uploads/{job_id}", ca)[0] == 403

    # The page changes and is deployed again: the stack is as it was, the changed file is published and the
    # distribution's cache invalidated, so the edge serves the new page at once.
    index = app / "site" / "index.html"
    index.write_text(index.read_text().replace("<title>Photos</title>", "<title>Photos, again</title>"))
    again_out = conveyor("deploy", str(out / "template.yaml"), "--stack", "photos", "--code-bucket", "photo-code",
                         "--endpoint", server.endpoint, cwd=tmp_path).stdout
    assert "No changes to deploy. Stack photos is up to date" in again_out, again_out
    assert "uploaded s3://acme-photo-site/index.html (updated)" in again_out.splitlines()
    assert not any("app.js" in line for line in again_out.splitlines() if line.startswith("uploaded"))
    assert f"invalidated {urlsplit(site_url).hostname}/* (the site's files changed)" in again_out.splitlines()
    assert b"<title>Photos, again</title>" in edge_get(site_url, ca)[2]
