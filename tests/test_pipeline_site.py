"""The pipeline's `site:`: a directory's files in a private bucket, served by a CloudFront distribution through
an origin access control with index.html answering /, another bucket's path added to it, `conveyor up`
printing `site: URL`, and a changed file uploaded and invalidated by the next apply."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.pipeline.spec import PipelineError, parse
from tests.helpers import wait_for

PIPELINE = """
buckets:
  - name: shots
site:
  bucket: shots-site
  directory: web
  paths:
    - {path: processed/*, bucket: shots}
"""


def curl(url: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body, as curl reads them (curl resolves `*.localhost` to loopback itself)."""
    out = subprocess.run(["curl", "-s", "-i", url], capture_output=True, timeout=60, check=True).stdout.decode()
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def conveyor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True, timeout=60)


def test_site_is_served_through_the_edge_from_a_private_bucket(start_server: Any, tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "js").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>shots</title>")
    (web / "js" / "app.js").write_text("export const ready = true;\n")
    (web / ".hidden").write_text("not published")
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text(PIPELINE)
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--pipeline", str(pipeline), console=console)
    url = wait_for(lambda: re.search(r"site: (http://\S+)", console.read_text()), timeout=60,
                   what="site: URL")[1]
    assert re.fullmatch(rf"http://[a-z0-9]+\.cloudfront\.localhost:{server.port}/", url)

    status, headers, body = curl(url)
    assert (status, body) == (200, "<!doctype html><title>shots</title>")  # DefaultRootObject
    assert headers["content-type"].startswith("text/html") and "x-cache" in headers
    status, headers, body = curl(url + "js/app.js")
    assert status == 200 and headers["content-type"] == "text/javascript" and "ready" in body
    assert curl(url + ".hidden")[0] == 403  # dot files are not published (S3 answers 403 for a missing key)

    s3 = server.client("s3")
    s3.put_object(Bucket="shots", Key="processed/a/256.webp", Body=b"thumb", ContentType="image/webp")
    s3.put_object(Bucket="shots", Key="uploads/a", Body=b"original")
    assert curl(url + "processed/a/256.webp")[::2] == (200, "thumb")  # the other bucket's path
    assert curl(url + "uploads/a")[0] == 403  # only that path of it: the originals stay private
    # Both buckets stay private: only the distribution reads them.
    assert curl(f"{server.endpoint}/shots-site/index.html")[0] == 403
    assert curl(f"{server.endpoint}/shots/processed/a/256.webp")[0] == 403

    (web / "index.html").write_text("<!doctype html><title>shots, take two</title>")
    applied = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", server.endpoint)
    assert applied.returncode == 0, applied.stderr
    lines = applied.stdout.splitlines()
    assert "created s3://shots-site/index.html (updated)" in lines
    assert any(line.startswith("created invalidation of ") for line in lines), lines
    assert lines[-1] == f"site: {url}"
    assert curl(url)[2] == "<!doctype html><title>shots, take two</title>"

    again = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", server.endpoint)
    assert again.stdout.splitlines() == ["pipeline up to date in us-east-1: nothing to change", f"site: {url}"]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("site:\n  bucket: web\n  directory: nowhere\n", 3, "is not a directory"),
    ("site:\n  bucket: web\n  directory: web\n  index: /index.html\n", 4, "without a leading '/'"),
    ("site:\n  bucket: Web_Site\n  directory: web\n", 2, "is not a bucket name"),
    ("site:\n  bucket: web\n  directory: web\n  paths:\n    - {path: processed/*, bucket: other}\n", 5,
     "bucket 'other' is not defined"),
    ("site:\n  bucket: web\n  directory: web\n  paths:\n    - {path: '*', bucket: web}\n", 5,
     "is not a path pattern under the site"),
    ("site:\n  bucket: web\n  directory: web\n  cdn: yes\n", 4, "unknown setting 'cdn'"),
])
def test_site_errors_name_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("hello")
    with pytest.raises(PipelineError) as raised:
        parse(text, "conveyor.yaml", tmp_path)
    assert str(raised.value).startswith(f"conveyor.yaml:{line}: ") and words in str(raised.value), raised.value


def test_export_makes_the_site_a_private_bucket_behind_its_distribution(tmp_path: Path) -> None:
    """The site's part of `conveyor export`: cfn-lint accepts it, and the distribution reads both buckets
    through the origin access control, each bucket's policy naming that distribution alone."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("hello")
    (tmp_path / "conveyor.yaml").write_text(PIPELINE)
    out = subprocess.run([sys.executable, "-m", "conveyor.cli", "export", "--pipeline", "conveyor.yaml", "-o",
                          "template.yaml"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    template = yaml.safe_load((tmp_path / "template.yaml").read_text())
    resources = template["Resources"]
    config = resources["SiteDistribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert [o["Id"] for o in config["Origins"]] == ["s3-shots-site", "s3-shots"]
    assert [(b["PathPattern"], b["TargetOriginId"]) for b in config["CacheBehaviors"]] == [("processed/*", "s3-shots")]
    policies = {r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]["Statement"]
                for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"}
    assert policies["ShotsBucket"][0]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ShotsBucketName}/processed/*"}
    assert policies["ShotsSiteBucket"][0]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ShotsSiteBucketName}/*"}
    assert template["Parameters"]["ShotsSiteBucketName"]["Default"] == "shots-site"
    linted = subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
                             "--format", "parseable", "template.yaml"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=300)
    # cfn-lint exits 0, or with bit 4 (warnings) or 8 (informational findings); 2 is errors, 1 a failure to run.
    assert linted.returncode & ~(4 | 8) == 0, linted.stdout + linted.stderr
