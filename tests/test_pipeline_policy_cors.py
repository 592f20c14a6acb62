"""A function's and a pool's `policy:` (their role's statements, least privilege written in the file) and a
bucket's `cors:` rule, applied through IAM and S3 as a user would, and exported to CloudFormation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.pipeline.spec import PipelineError, parse

PIPELINE = """
buckets:
  - name: policy-photos
    cors: {allow_origins: ["*"], allow_methods: [POST], allow_headers: ["*"], max_age: 300}
functions:
  - name: policy-reader
    code: handler.py
    handler: handler.main
    policy:
      - Effect: Allow
        Action: s3:GetObject
        Resource: arn:aws:s3:::policy-photos/uploads/*
      - Effect: Allow
        Action: [dynamodb:GetItem, dynamodb:UpdateItem]
        Resource: arn:aws:dynamodb:*:*:table/photo-jobs
"""


def conveyor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_policy_and_cors_are_applied_and_exported(endpoint: str, client: Any, tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "conveyor.yaml").write_text(PIPELINE)
    first = conveyor("apply", "--pipeline", "conveyor.yaml", "--endpoint", endpoint, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created CORS rule on policy-photos" in first.stdout.splitlines()
    policy = client("iam").get_role_policy(RoleName="policy-reader-role", PolicyName="pipeline-access")
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::policy-photos/uploads/*"},
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
         "Resource": "arn:aws:dynamodb:*:*:table/photo-jobs"}]
    rules = client("s3").get_bucket_cors(Bucket="policy-photos")["CORSRules"]
    assert [{k: v for k, v in r.items() if k != "ID"} for r in rules] == [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["POST"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 300}]
    again = conveyor("apply", "--pipeline", "conveyor.yaml", "--endpoint", endpoint, cwd=tmp_path)
    assert again.stdout.splitlines() == ["pipeline up to date in us-east-1: nothing to change"], again.stdout

    exported = conveyor("export", "--pipeline", "conveyor.yaml", cwd=tmp_path)
    template = yaml.safe_load(exported.stdout)
    role = template["Resources"]["PolicyReaderFunctionRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert "ManagedPolicyArns" not in role and statements[0]["Sid"] == "OwnLogs"  # its own log group only
    own = [s for s in statements if s.get("Sid") not in ("OwnLogs", "PollQueue")]  # the file's statements
    assert own[1]["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    bucket = template["Resources"]["PolicyPhotosBucket"]["Properties"]
    assert bucket["CorsConfiguration"] == {"CorsRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["POST"], "AllowedHeaders": ["*"], "MaxAge": 300}]}


@pytest.mark.parametrize(("text", "line", "words"), [
    ("functions:\n  - name: f\n    code: f.py\n    handler: f.main\n    policy:\n      - {Action: s3:GetObject}\n",
     6, "needs Effect (Allow or Deny) and Action"),
    ("functions:\n  - name: f\n    code: f.py\n    handler: f.main\n    policy:\n      - {Effect: Allow, Acton: x}\n",
     6, "unknown setting 'Acton'"),
    # A layer's requirements go to pip's command line: a requirement, never one of pip's options.
    ("functions:\n  - name: f\n    code: f.py\n    handler: f.main\n    requirements: ['--index-url=http://x']\n",
     5, "requirements[0]: '--index-url=http://x' is not a requirement as pip takes it"),
    ("functions:\n  - name: f\n    code: f.py\n    handler: f.main\n    role: arn:aws:iam::000000000000:role/r\n"
     "    policy: [{Effect: Allow, Action: '*', Resource: '*'}]\n", 6, "its policies are its own"),
    ("buckets:\n  - name: b\n    cors: {allow_origins: '*', max_age: 99999}\n", 3,
     "buckets[0].cors.max_age must be between"),
])
def test_policy_and_cors_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PipelineError) as raised:
        parse(text)
    assert str(raised.value).startswith(f"conveyor.yaml:{line}: ") and words in str(raised.value), raised.value
