"""The pipeline file's `tables:` section, through `conveyor apply`: tables made with their keys, indexes (with
multi-attribute keys too), stream and TTL; applying again changes nothing; a changed file adds what it lacks;
bad entries say where. `conveyor export` writes the same tables into a template cfn-lint passes and
CloudFormation deploys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CLI_ENV
from tests.helpers import cfn_lint
from tests.test_regions import conveyor_apply

JOBS = """
tables:
  - name: jobs
    hash_key: job_id
    range_key: created:N
    indexes:
      - name: by-status
        hash_key: status
        range_key: created:N
    stream: NEW_AND_OLD_IMAGES
    ttl: expires_at
"""


def test_apply_makes_tables_and_then_has_nothing_to_change(endpoint: str, client: Any, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text(JOBS)
    first = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert first.returncode == 0, first.stderr
    assert "table jobs" in first.stdout
    ddb = client("dynamodb")
    table = ddb.describe_table(TableName="jobs")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"},
                                  {"AttributeName": "created", "KeyType": "RANGE"}]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-status"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ddb.describe_time_to_live(TableName="jobs")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    again = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert again.stdout.strip() == "pipeline up to date in us-east-1: nothing to change", again.stdout
    pipeline.write_text(JOBS.replace("    stream: NEW_AND_OLD_IMAGES\n", "    stream: KEYS_ONLY\n").replace(
        "    indexes:\n", "    indexes:\n      - name: by-owner\n        hash_key: owner\n"))
    changed = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert changed.returncode == 0, changed.stderr
    assert "index by-owner added" in changed.stdout and "stream set to KEYS_ONLY" in changed.stdout
    table = ddb.describe_table(TableName="jobs")["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == ["by-owner", "by-status"]
    assert table["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"


def test_bad_table_entries_say_where(endpoint: str, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text("tables:\n  - name: t1\n    hash_key: id:X\n")
    bad = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert bad.returncode != 0
    assert "conveyor.yaml:3: tables[0].hash_key must be NAME or NAME:S, NAME:N or NAME:B, not 'id:X'" in bad.stderr
    pipeline.write_text("tables:\n  - name: t1\n    hash_key: id\n    stream: ALL\n")
    assert "tables[0].stream must be one of KEYS_ONLY" in conveyor_apply(endpoint, pipeline, "us-east-1").stderr


TENANTS = """
tables:
  - name: {name}
    hash_key: job_id
    range_key: created:N
    indexes:
      - name: by-tenant
        hash_key: [tenant, region]
        range_key: [priority:N, created:N]
"""
TENANT_SCHEMA = [{"AttributeName": "tenant", "KeyType": "HASH"}, {"AttributeName": "region", "KeyType": "HASH"},
                 {"AttributeName": "priority", "KeyType": "RANGE"}, {"AttributeName": "created", "KeyType": "RANGE"}]


def tenant_query(ddb: Any, table: str) -> list[str]:
    """The jobs of one tenant and region at priority 1, through the multi-attribute index."""
    found = ddb.query(TableName=table, IndexName="by-tenant",
                      KeyConditionExpression="tenant = :t AND #region = :r AND priority = :p AND created > :c",
                      ExpressionAttributeNames={"#region": "region"},
                      ExpressionAttributeValues={":t": {"S": "acme"}, ":r": {"S": "eu"}, ":p": {"N": "1"},
                                                 ":c": {"N": "0"}})
    return [item["job_id"]["S"] for item in found["Items"]]


def put_jobs(ddb: Any, table: str) -> None:
    for job, tenant, region, priority, created in [("j1", "acme", "eu", 1, 20), ("j2", "acme", "eu", 1, 10),
                                                   ("j3", "acme", "us", 1, 5), ("j4", "acme", "eu", 2, 1),
                                                   ("j5", "other", "eu", 1, 3)]:
        ddb.put_item(TableName=table, Item={"job_id": {"S": job}, "created": {"N": str(created)},
                                            "tenant": {"S": tenant}, "region": {"S": region},
                                            "priority": {"N": str(priority)}})


def test_apply_makes_an_index_with_a_multi_attribute_key(endpoint: str, client: Any, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text(TENANTS.format(name="tenant-jobs"))
    first = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert first.returncode == 0, first.stderr
    ddb = client("dynamodb")
    table = ddb.describe_table(TableName="tenant-jobs")["Table"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["KeySchema"] == TENANT_SCHEMA
    assert {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]} == {
        "job_id": "S", "created": "N", "tenant": "S", "region": "S", "priority": "N"}
    put_jobs(ddb, "tenant-jobs")
    assert tenant_query(ddb, "tenant-jobs") == ["j2", "j1"]  # by the last sort key attribute
    again = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert again.stdout.strip() == "pipeline up to date in us-east-1: nothing to change", again.stdout
    # added to a table that lacks it
    pipeline.write_text(TENANTS.format(name="tenant-jobs").replace(
        "    indexes:\n", "    indexes:\n      - name: by-owner\n        hash_key: [owner, team]\n"))
    changed = conveyor_apply(endpoint, pipeline, "us-east-1")
    assert "index by-owner added" in changed.stdout, changed.stdout + changed.stderr
    indexes = {i["IndexName"]: i["KeySchema"] for i in ddb.describe_table(TableName="tenant-jobs")["Table"][
        "GlobalSecondaryIndexes"]}
    assert indexes["by-owner"] == [{"AttributeName": "owner", "KeyType": "HASH"},
                                   {"AttributeName": "team", "KeyType": "HASH"}]


def test_bad_multi_attribute_keys_say_where(endpoint: str, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    head = "tables:\n  - name: bad-keys\n    hash_key: id\n    indexes:\n      - name: i\n"
    for keys, message in [
        ("        hash_key: [a, b, c, d, e]\n",
         "conveyor.yaml:6: tables[0].indexes[0].hash_key has 5 attributes: an index's partition key and its sort "
         "key have at most 4 each"),
        ("        hash_key: a\n        range_key: [b, c:N, d, e:B, f]\n",
         "conveyor.yaml:7: tables[0].indexes[0].range_key has 5 attributes"),
        ("        hash_key: []\n", "conveyor.yaml:6: tables[0].indexes[0].hash_key must name at least one attribute"),
        ("        hash_key: [a, b:X]\n",
         "conveyor.yaml:6: tables[0].indexes[0].hash_key[1] must be NAME or NAME:S, NAME:N or NAME:B, not 'b:X'"),
        ("        hash_key: [a, 7]\n", "tables[0].indexes[0].hash_key[1] must be NAME or NAME:S, NAME:N or NAME:B, not 7"),
        ("        hash_key: [a, b]\n        range_key: [c, a]\n",
         "conveyor.yaml:5: tables[0].indexes[0]: attribute a is in the index's key twice"),
        ("        hash_key: {a: b}\n", "tables[0].indexes[0].hash_key must be str or list"),
        ("        hash_key: [a, b]\n        range_key: [id:N]\n",
         "tables[0]: attribute id is a key of two types (S and N)"),
    ]:
        pipeline.write_text(head + keys)
        bad = conveyor_apply(endpoint, pipeline, "us-east-1")
        assert bad.returncode != 0 and message in bad.stderr, (keys, bad.stderr)


def test_export_carries_a_multi_attribute_key_and_deploys(tmp_path: Path, aws: Any, client: Any) -> None:
    (tmp_path / "conveyor.yaml").write_text(TENANTS.format(name="exported-jobs"))
    subprocess.run([sys.executable, "-m", "conveyor.cli", "export", "-o", "template.yaml"], cwd=tmp_path, check=True,
                   capture_output=True, text=True, env={**os.environ, **CLI_ENV}, timeout=120)
    template = yaml.safe_load((tmp_path / "template.yaml").read_text())
    [resource] = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    [index] = resource["Properties"]["GlobalSecondaryIndexes"]
    assert index["KeySchema"] == TENANT_SCHEMA
    clean, report = cfn_lint(tmp_path)
    assert clean, report
    aws("cloudformation", "deploy", "--template-file", str(tmp_path / "template.yaml"), "--stack-name",
        "exported-jobs", "--parameter-overrides", "CodeBucket=unused")
    ddb = client("dynamodb")
    assert ddb.describe_table(TableName="exported-jobs")["Table"]["GlobalSecondaryIndexes"][0][
        "KeySchema"] == TENANT_SCHEMA
    put_jobs(ddb, "exported-jobs")
    assert tenant_query(ddb, "exported-jobs") == ["j2", "j1"]
