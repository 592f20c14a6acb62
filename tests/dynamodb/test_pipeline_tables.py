"""The pipeline file's `tables:` section, through `conveyor apply`: tables made with their keys, indexes,
stream and TTL; applying again changes nothing; a changed file adds what it lacks; bad entries say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
