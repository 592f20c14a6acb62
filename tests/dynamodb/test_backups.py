"""On-demand backups and point-in-time recovery through boto3: a backup keeps the items (and index
entries) as they were, a restore makes an independent table from it; AWS's errors for missing ones."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from tests.dynamodb.test_tables import error, gsi, make_table


def test_backup_restore_and_delete(ddb: Any) -> None:
    source = make_table(ddb, "source", range_key=False, GlobalSecondaryIndexes=[gsi("by-g", "g")],
                        more_attributes=[{"AttributeName": "g", "AttributeType": "S"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    for i in range(5):
        ddb.put_item(TableName="source", Item={"pk": {"S": f"k{i}"}, "g": {"S": "grp"}})
    details = ddb.create_backup(TableName="source", BackupName="nightly")["BackupDetails"]
    assert details["BackupName"] == "nightly" and details["BackupStatus"] == "AVAILABLE"
    assert details["BackupArn"].startswith(source["TableArn"] + "/backup/")
    ddb.put_item(TableName="source", Item={"pk": {"S": "after"}, "g": {"S": "grp"}})  # not in the backup
    described = ddb.describe_backup(BackupArn=details["BackupArn"])["BackupDescription"]
    assert described["SourceTableDetails"]["ItemCount"] == 5
    assert described["SourceTableDetails"]["KeySchema"] == source["KeySchema"]
    listed = ddb.list_backups(TableName="source")["BackupSummaries"]
    assert [b["BackupArn"] for b in listed] == [details["BackupArn"]]
    restored = ddb.restore_table_from_backup(TargetTableName="restored",
                                             BackupArn=details["BackupArn"])["TableDescription"]
    assert restored["ItemCount"] == 5 and restored["RestoreSummary"]["SourceBackupArn"] == details["BackupArn"]
    assert restored["RestoreSummary"]["SourceTableArn"] == source["TableArn"]
    assert "StreamSpecification" not in restored  # a restored table has no stream of its source
    by_index = ddb.query(TableName="restored", IndexName="by-g", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "grp"}})
    assert by_index["Count"] == 5  # its index entries came with it
    ddb.delete_item(TableName="restored", Key={"pk": {"S": "k0"}})
    assert "Item" in ddb.get_item(TableName="source", Key={"pk": {"S": "k0"}})  # not linked
    assert error(ddb.restore_table_from_backup, "TableAlreadyExistsException", TargetTableName="source",
                 BackupArn=details["BackupArn"]) == "Table already exists: source"
    gone = ddb.delete_backup(BackupArn=details["BackupArn"])["BackupDescription"]["BackupDetails"]
    assert gone["BackupStatus"] == "DELETED"
    assert error(ddb.describe_backup, "BackupNotFoundException", BackupArn=details["BackupArn"]) == \
        f"Backup not found: {details['BackupArn']}"
    assert error(ddb.create_backup, "TableNotFoundException", TableName="nope", BackupName="bkp") == \
        "Table not found: nope"


def test_point_in_time_recovery(ddb: Any) -> None:
    make_table(ddb, "pitr", range_key=False)
    ddb.put_item(TableName="pitr", Item={"pk": {"S": "a"}})
    assert error(ddb.restore_table_to_point_in_time, "PointInTimeRecoveryUnavailableException",
                 SourceTableName="pitr", TargetTableName="pitr-copy", UseLatestRestorableTime=True) == \
        "Point in time recovery is not enabled for table 'pitr'"
    described = ddb.update_continuous_backups(TableName="pitr", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert described["PointInTimeRecoveryStatus"] == "ENABLED" and described["RecoveryPeriodInDays"] == 35
    copy = ddb.restore_table_to_point_in_time(SourceTableName="pitr", TargetTableName="pitr-copy",
                                              UseLatestRestorableTime=True)["TableDescription"]
    assert copy["ItemCount"] == 1 and copy["RestoreSummary"]["SourceTableArn"].endswith(":table/pitr")
    assert error(ddb.restore_table_to_point_in_time, "SourceTableNotFoundException", SourceTableName="nope",
                 TargetTableName="x12", UseLatestRestorableTime=True) == "Source table not found: nope"
    ddb.update_continuous_backups(TableName="pitr", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": False})
    assert ddb.describe_continuous_backups(TableName="pitr")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"] == {"PointInTimeRecoveryStatus": "DISABLED"}


def _items(ddb: Any, table: str) -> dict[str, dict[str, Any]]:
    return {i["pk"]["S"]: i for i in ddb.scan(TableName=table, ConsistentRead=True)["Items"]}


def test_point_in_time_restore_gives_the_table_as_it_was(ddb: Any, advance: Any) -> None:
    """A restore to a time on the server's clock gives the items (and index entries) of that moment: changes
    made after it are undone, those before it kept; times outside the recovery window are refused."""
    make_table(ddb, "hist", range_key=False, GlobalSecondaryIndexes=[gsi("by-g", "g")],
               more_attributes=[{"AttributeName": "g", "AttributeType": "S"}])
    ddb.put_item(TableName="hist", Item={"pk": {"S": "before"}, "g": {"S": "x"}})  # before PITR: kept as it is
    enabled = ddb.update_continuous_backups(TableName="hist", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    start = enabled["EarliestRestorableDateTime"]  # whole seconds, as boto3 sends times back
    advance(5)
    ddb.put_item(TableName="hist", Item={"pk": {"S": "a"}, "v": {"N": "1"}, "g": {"S": "x"}})
    ddb.put_item(TableName="hist", Item={"pk": {"S": "b"}, "g": {"S": "x"}})
    first = advance(60)
    advance(1)  # the changes below come after that time (botocore 1.44 sends times with their fractions)
    ddb.update_item(TableName="hist", Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v, g = :g",
                    ExpressionAttributeValues={":v": {"N": "2"}, ":g": {"S": "y"}})
    ddb.delete_item(TableName="hist", Key={"pk": {"S": "b"}})
    ddb.put_item(TableName="hist", Item={"pk": {"S": "c"}})
    advance(60)

    then = ddb.restore_table_to_point_in_time(SourceTableName="hist", TargetTableName="hist-then",
                                              RestoreDateTime=first)["TableDescription"]
    assert then["ItemCount"] == 3 and then["RestoreSummary"]["RestoreDateTime"].timestamp() == pytest.approx(first, abs=1)
    restored = _items(ddb, "hist-then")
    assert sorted(restored) == ["a", "b", "before"] and restored["a"]["v"] == {"N": "1"}
    by_g = ddb.query(TableName="hist-then", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}})
    assert sorted(i["pk"]["S"] for i in by_g["Items"]) == ["a", "b", "before"]  # the index as it was too

    ddb.restore_table_to_point_in_time(SourceTableName="hist", TargetTableName="hist-now", UseLatestRestorableTime=True)
    now = _items(ddb, "hist-now")
    assert sorted(now) == ["a", "before", "c"] and now["a"]["v"] == {"N": "2"}
    ddb.restore_table_to_point_in_time(SourceTableName="hist", TargetTableName="hist-start", RestoreDateTime=start)
    assert sorted(_items(ddb, "hist-start")) == ["before"]

    described = ddb.describe_continuous_backups(TableName="hist")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    assert described["EarliestRestorableDateTime"] == start
    assert described["LatestRestorableDateTime"].timestamp() == math.floor(first + 61)
    message = error(ddb.restore_table_to_point_in_time, "InvalidRestoreTimeException", SourceTableName="hist",
                    TargetTableName="too-early", RestoreDateTime=start.timestamp() - 5)
    assert "between EarliestRestorableDateTime and LatestRestorableDateTime" in message
    assert error(ddb.restore_table_to_point_in_time, "InvalidRestoreTimeException", SourceTableName="hist",
                 TargetTableName="too-late", RestoreDateTime=first + 3600)


def test_point_in_time_window_follows_the_recovery_period(ddb: Any, advance: Any) -> None:
    """The earliest restorable time moves with RecoveryPeriodInDays; turning recovery off forgets the history,
    and turning it on again starts a new window."""
    make_table(ddb, "window", range_key=False)
    ddb.update_continuous_backups(TableName="window", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 1})
    ddb.put_item(TableName="window", Item={"pk": {"S": "old"}})
    now = advance(2 * 86400)
    described = ddb.describe_continuous_backups(TableName="window")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    assert described["RecoveryPeriodInDays"] == 1
    assert described["EarliestRestorableDateTime"].timestamp() == math.ceil(now - 86400)
    ddb.update_continuous_backups(TableName="window", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": False})
    again = ddb.update_continuous_backups(TableName="window", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert again["EarliestRestorableDateTime"].timestamp() == math.ceil(now) and again["RecoveryPeriodInDays"] == 35


def test_restore_overrides_indexes_billing_and_encryption(ddb: Any, advance: Any) -> None:
    """A restore's overrides replace its source's settings: the indexes kept (the others left out), billing,
    throughput, encryption; the restored table's index entries are those of the indexes it has."""
    make_table(ddb, "over", range_key=False, GlobalSecondaryIndexes=[gsi("by-g", "g"), gsi("by-h", "h")],
               more_attributes=[{"AttributeName": "g", "AttributeType": "S"},
                                {"AttributeName": "h", "AttributeType": "S"}])
    ddb.put_item(TableName="over", Item={"pk": {"S": "a"}, "g": {"S": "x"}, "h": {"S": "y"}})
    ddb.put_item(TableName="over", Item={"pk": {"S": "b"}, "g": {"S": "x"}, "h": {"S": "z"}})
    backup = ddb.create_backup(TableName="over", BackupName="bkp1")["BackupDetails"]["BackupArn"]
    ddb.update_continuous_backups(TableName="over", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    overrides: dict[str, Any] = {
        "GlobalSecondaryIndexOverride": [gsi("by-h", "h") | {"ProvisionedThroughput": {
            "ReadCapacityUnits": 2, "WriteCapacityUnits": 3}}],
        "BillingModeOverride": "PROVISIONED",
        "ProvisionedThroughputOverride": {"ReadCapacityUnits": 7, "WriteCapacityUnits": 8},
        "SSESpecificationOverride": {"Enabled": True, "SSEType": "KMS"}}
    restores = [ddb.restore_table_from_backup(TargetTableName="from-backup", BackupArn=backup, **overrides),
                ddb.restore_table_to_point_in_time(SourceTableName="over", TargetTableName="from-pitr",
                                                   UseLatestRestorableTime=True, **overrides)]
    for restored in (r["TableDescription"] for r in restores):
        assert [i["IndexName"] for i in restored["GlobalSecondaryIndexes"]] == ["by-h"]
        assert restored["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
        assert restored["SSEDescription"]["Status"] == "ENABLED"
        by_h = ddb.query(TableName=restored["TableName"], IndexName="by-h", KeyConditionExpression="h = :h",
                         ExpressionAttributeValues={":h": {"S": "y"}})
        assert [i["pk"]["S"] for i in by_h["Items"]] == ["a"]
        assert error(ddb.query, "ValidationException", TableName=restored["TableName"], IndexName="by-g",
                     KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "x"}})
        assert ddb.describe_table(TableName=restored["TableName"])["Table"]["ItemCount"] == 2
    assert "GlobalSecondaryIndexes" not in ddb.restore_table_from_backup(
        TargetTableName="no-index", BackupArn=backup, GlobalSecondaryIndexOverride=[])["TableDescription"]
    assert error(ddb.restore_table_from_backup, "ValidationException", TargetTableName="new-index", BackupArn=backup,
                 GlobalSecondaryIndexOverride=[gsi("by-pk", "pk")])


def test_point_in_time_restore_with_the_aws_cli(ddb: Any, aws: Any, advance: Any) -> None:
    make_table(ddb, "cli-hist", range_key=False)
    aws("dynamodb", "update-continuous-backups", "--table-name", "cli-hist",
        "--point-in-time-recovery-specification", "PointInTimeRecoveryEnabled=true")
    advance(5)
    ddb.put_item(TableName="cli-hist", Item={"pk": {"S": "kept"}})
    then = advance(60)
    ddb.put_item(TableName="cli-hist", Item={"pk": {"S": "later"}})
    window = aws("dynamodb", "describe-continuous-backups", "--table-name", "cli-hist")[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert window["PointInTimeRecoveryStatus"] == "ENABLED"
    restored = aws("dynamodb", "restore-table-to-point-in-time", "--source-table-name", "cli-hist",
                   "--target-table-name", "cli-then", "--restore-date-time", str(int(then)))["TableDescription"]
    assert restored["ItemCount"] == 1 and restored["RestoreSummary"]["RestoreInProgress"] is False
    assert [i["pk"]["S"] for i in ddb.scan(TableName="cli-then")["Items"]] == ["kept"]


def test_deleting_a_table_with_point_in_time_recovery_keeps_a_system_backup(ddb: Any, advance: Any) -> None:
    make_table(ddb, "doomed", range_key=False)
    ddb.update_continuous_backups(TableName="doomed", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    ddb.put_item(TableName="doomed", Item={"pk": {"S": "a"}})
    make_table(ddb, "plain-gone", range_key=False)
    ddb.delete_table(TableName="plain-gone")  # no recovery: no backup
    ddb.delete_table(TableName="doomed")
    assert ddb.list_backups()["BackupSummaries"] == []  # USER backups only, by default
    system = ddb.list_backups(BackupType="SYSTEM")["BackupSummaries"]
    assert [(b["TableName"], b["BackupName"], b["BackupType"]) for b in system] == [
        ("doomed", "doomed$DeletedTableBackup", "SYSTEM")]
    assert system[0]["BackupExpiryDateTime"].timestamp() == pytest.approx(
        system[0]["BackupCreationDateTime"].timestamp() + 35 * 86400, abs=1)
    assert [b["BackupArn"] for b in ddb.list_backups(BackupType="ALL")["BackupSummaries"]] == [system[0]["BackupArn"]]
    restored = ddb.restore_table_from_backup(TargetTableName="revived", BackupArn=system[0]["BackupArn"])
    assert restored["TableDescription"]["ItemCount"] == 1
    advance(36 * 86400)  # past its 35 days: the hourly sweep forgets it
    deadline = time.monotonic() + 60
    while ddb.list_backups(BackupType="SYSTEM")["BackupSummaries"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ddb.list_backups(BackupType="SYSTEM")["BackupSummaries"] == []
