"""ExportTableToPointInTime through boto3: the files AWS writes (manifests, checksums, gzip data files in
DynamoDB JSON or Ion) land in the S3 bucket through S3's API, with the table as it was at ExportTime; the
export runs in the background and ends COMPLETED or FAILED with AWS's codes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from decimal import Decimal
from typing import Any

import pytest

# An independent Ion reader: what an export writes must be Ion as Amazon's own library reads it.
from amazon.ion import simpleion

from tests.dynamodb.test_tables import error, make_table


def wait_export(ddb: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        described: dict[str, Any] = ddb.describe_export(ExportArn=arn)["ExportDescription"]
        if described["ExportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def pitr_table(ddb: Any, name: str) -> dict[str, Any]:
    table = make_table(ddb, name, range_key=False)
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    return table


ITEMS = [
    {"pk": {"S": "a"}, "n": {"N": "600"}, "f": {"N": "-1.5"}, "bin": {"B": b"\x00\xffbar"}, "ok": {"BOOL": True}},
    {"pk": {"S": "b"}, "tags": {"SS": ["x", "y"]}, "nums": {"NS": ["1", "20"]}, "nothing": {"NULL": True},
     "doc": {"M": {"list": {"L": [{"S": "q"}, {"N": "3"}]}, "blobs": {"BS": [b"\x01"]}}}},
    {"pk": {"S": "c"}, "name": {"S": "naïve \"quoted\"\n"}},
]


def test_full_export_in_dynamodb_json(ddb: Any, s3: Any, advance: Any) -> None:
    table = pitr_table(ddb, "orders")
    s3.create_bucket(Bucket="exports")
    advance(2)
    for item in ITEMS:
        ddb.put_item(TableName="orders", Item=item)
    started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="exports",
                                                S3Prefix="nightly")["ExportDescription"]
    assert started["ExportStatus"] == "IN_PROGRESS" and started["ExportFormat"] == "DYNAMODB_JSON"
    export_id = started["ExportArn"].rsplit("/", 1)[1]
    assert started["ExportArn"] == f"{table['TableArn']}/export/{export_id}"
    # Written after ExportTime: not in the export, however soon the export reads the table.
    ddb.put_item(TableName="orders", Item={"pk": {"S": "later"}})
    ddb.delete_item(TableName="orders", Key={"pk": {"S": "c"}})

    done = wait_export(ddb, started["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["ItemCount"] == 3
    assert done["BilledSizeBytes"] > 0 and done["EndTime"] >= done["StartTime"]
    assert done["ExportManifest"] == f"nightly/AWSDynamoDB/{export_id}/manifest-summary.json"
    assert done["S3Bucket"] == "exports" and done["S3Prefix"] == "nightly" and done["ExportType"] == "FULL_EXPORT"

    files = objects(s3, "exports", f"nightly/AWSDynamoDB/{export_id}/")
    folder = f"nightly/AWSDynamoDB/{export_id}/"
    assert files[folder + "_started"] == b""
    summary = json.loads(files[folder + "manifest-summary.json"])
    assert summary["exportArn"] == started["ExportArn"] and summary["itemCount"] == 3
    assert summary["outputFormat"] == "DYNAMODB_JSON" and summary["tableArn"] == table["TableArn"]
    assert summary["manifestFilesS3Key"] == folder + "manifest-files.json"
    assert summary["billedSizeBytes"] == done["BilledSizeBytes"]
    for name in ("manifest-summary", "manifest-files"):  # their MD5s, base64, as AWS writes them
        assert files[f"{folder}{name}.md5"] == base64.b64encode(hashlib.md5(files[f"{folder}{name}.json"]).digest())
    manifest = [json.loads(line) for line in files[folder + "manifest-files.json"].decode().splitlines()]
    rows = []
    for entry in manifest:
        body = files[entry["dataFileS3Key"]]
        assert entry["dataFileS3Key"].startswith(folder + "data/") and entry["dataFileS3Key"].endswith(".json.gz")
        assert entry["md5Checksum"] == base64.b64encode(hashlib.md5(body).digest()).decode()
        assert f'"{entry["etag"]}"' == s3.head_object(Bucket="exports", Key=entry["dataFileS3Key"])["ETag"]
        lines = gzip.decompress(body).decode().splitlines()
        assert len(lines) == entry["itemCount"]
        rows += [json.loads(line) for line in lines]
    wire = [{"Item": {k: ({"B": base64.b64encode(v["B"]).decode()} if "B" in v else v) for k, v in i.items()}}
            for i in ITEMS]
    wire[1]["Item"]["doc"]["M"]["blobs"] = {"BS": ["AQ=="]}
    assert sorted(rows, key=lambda r: r["Item"]["pk"]["S"]) == wire

    listed = ddb.list_exports(TableArn=table["TableArn"])["ExportSummaries"]
    assert listed == [{"ExportArn": started["ExportArn"], "ExportStatus": "COMPLETED", "ExportType": "FULL_EXPORT"}]


def test_export_of_an_earlier_time_in_ion(ddb: Any, s3: Any, advance: Any) -> None:
    table = pitr_table(ddb, "ion")
    s3.create_bucket(Bucket="ion-exports")
    advance(2)
    for item in ITEMS:
        ddb.put_item(TableName="ion", Item=item)
    then = advance(60)
    advance(1)  # the changes below come after ExportTime (botocore 1.44 sends times with their fractions)
    ddb.put_item(TableName="ion", Item={"pk": {"S": "a"}, "n": {"N": "1"}})  # after ExportTime
    ddb.delete_item(TableName="ion", Key={"pk": {"S": "b"}})
    advance(60)
    started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="ion-exports",
                                                ExportFormat="ION", ExportTime=then)["ExportDescription"]
    done = wait_export(ddb, started["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["ItemCount"] == 3 and done["ExportFormat"] == "ION"
    assert done["ExportTime"].timestamp() == pytest.approx(then, abs=1)
    data = {k: v for k, v in objects(s3, "ion-exports").items() if "/data/" in k}
    assert all(k.endswith(".ion.gz") for k in data)
    values = [v for body in data.values() for v in simpleion.loads(gzip.decompress(body).decode(), single_value=False)]
    by_key = {str(v["Item"]["pk"]): v["Item"] for v in values}
    assert sorted(by_key) == ["a", "b", "c"]
    assert by_key["a"]["n"] == Decimal("600") and by_key["a"]["f"] == Decimal("-1.5")  # as it was then
    assert bytes(by_key["a"]["bin"]) == b"\x00\xffbar" and by_key["a"]["ok"]
    assert by_key["a"]["ok"].ion_type.name == "BOOL" and by_key["b"]["nothing"].ion_type.name == "NULL"
    assert [str(s) for s in by_key["b"]["tags"]] == ["x", "y"]
    assert [a.text for a in by_key["b"]["tags"].ion_annotations] == ["$dynamodb_SS"]
    assert [a.text for a in by_key["b"]["nums"].ion_annotations] == ["$dynamodb_NS"]
    assert by_key["b"]["doc"]["list"][1] == Decimal(3) and by_key["c"]["name"] == "naïve \"quoted\"\n"


def test_incremental_export_compacts_each_items_changes(ddb: Any, s3: Any, advance: Any) -> None:
    table = pitr_table(ddb, "changes")
    s3.create_bucket(Bucket="increments")
    advance(2)
    ddb.put_item(TableName="changes", Item={"pk": {"S": "kept"}, "v": {"N": "1"}})
    ddb.put_item(TableName="changes", Item={"pk": {"S": "gone"}})
    start = advance(10)
    ddb.update_item(TableName="changes", Key={"pk": {"S": "kept"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.update_item(TableName="changes", Key={"pk": {"S": "kept"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "3"}})
    ddb.delete_item(TableName="changes", Key={"pk": {"S": "gone"}})
    ddb.put_item(TableName="changes", Item={"pk": {"S": "new"}})
    ddb.put_item(TableName="changes", Item={"pk": {"S": "brief"}})
    ddb.delete_item(TableName="changes", Key={"pk": {"S": "brief"}})  # made and deleted within the window
    end = advance(20 * 60)
    ddb.put_item(TableName="changes", Item={"pk": {"S": "after"}})
    spec = {"ExportFromTime": int(start), "ExportToTime": int(end), "ExportViewType": "NEW_AND_OLD_IMAGES"}
    started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="increments",
                                                ExportType="INCREMENTAL_EXPORT",
                                                IncrementalExportSpecification=spec)["ExportDescription"]
    done = wait_export(ddb, started["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["ItemCount"] == 3
    assert done["IncrementalExportSpecification"]["ExportViewType"] == "NEW_AND_OLD_IMAGES"
    files = objects(s3, "increments")
    export_id = started["ExportArn"].rsplit("/", 1)[1]
    summary = json.loads(files[f"AWSDynamoDB/{export_id}/manifest-summary.json"])
    assert summary["exportType"] == "INCREMENTAL_EXPORT" and summary["outputView"] == "NEW_AND_OLD_IMAGES"
    data = [k for k in files if k.endswith(".json.gz")]
    assert data and all(k.startswith("AWSDynamoDB/data/") for k in data)  # incremental exports share one folder
    records = {r["Keys"]["pk"]["S"]: r for k in data for r in map(json.loads, gzip.decompress(files[k]).splitlines())}
    assert sorted(records) == ["gone", "kept", "new"]
    assert records["kept"]["OldImage"]["v"] == {"N": "1"} and records["kept"]["NewImage"]["v"] == {"N": "3"}
    assert "NewImage" not in records["gone"] and records["gone"]["OldImage"] == {"pk": {"S": "gone"}}
    assert "OldImage" not in records["new"] and records["new"]["NewImage"] == {"pk": {"S": "new"}}
    micros = int(records["kept"]["Metadata"]["WriteTimestampMicros"]["N"])
    assert int(start) * 10**6 <= micros < int(end) * 10**6

    assert error(ddb.export_table_to_point_in_time, "ValidationException", TableArn=table["TableArn"],
                 S3Bucket="increments", ExportType="INCREMENTAL_EXPORT",
                 IncrementalExportSpecification={"ExportFromTime": int(end) - 60, "ExportToTime": int(end)})


def test_export_errors(ddb: Any, s3: Any, advance: Any) -> None:
    table = make_table(ddb, "plain", range_key=False)
    missing = table["TableArn"] + "x"
    assert error(ddb.export_table_to_point_in_time, "TableNotFoundException", TableArn=missing,
                 S3Bucket="bucket") == f"Table not found: {missing}"
    assert error(ddb.export_table_to_point_in_time, "PointInTimeRecoveryUnavailableException",
                 TableArn=table["TableArn"], S3Bucket="bucket") == "Point in time recovery is not enabled for table 'plain'"
    ddb.update_continuous_backups(TableName="plain", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    now = advance(1)
    assert error(ddb.export_table_to_point_in_time, "InvalidExportTimeException", TableArn=table["TableArn"],
                 S3Bucket="bucket", ExportTime=now - 3600)
    # A bucket that does not exist: the export starts, then fails as AWS's does.
    started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="no-such-bucket",
                                                ClientToken="tok-1")["ExportDescription"]
    failed = wait_export(ddb, started["ExportArn"])
    assert failed["ExportStatus"] == "FAILED" and failed["FailureCode"] == "S3NoSuchBucket"
    assert "The specified bucket does not exist" in failed["FailureMessage"]
    again = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="no-such-bucket",
                                              ClientToken="tok-1")["ExportDescription"]
    assert again["ExportArn"] == started["ExportArn"]  # the same request with its token: the same export
    assert error(ddb.export_table_to_point_in_time, "ExportConflictException", TableArn=table["TableArn"],
                 S3Bucket="other-bucket", ClientToken="tok-1")
    assert error(ddb.describe_export, "ExportNotFoundException", ExportArn=started["ExportArn"] + "0")


def test_export_with_the_aws_cli(ddb: Any, s3: Any, aws: Any) -> None:
    table = pitr_table(ddb, "cli")
    s3.create_bucket(Bucket="cli-exports")
    ddb.put_item(TableName="cli", Item={"pk": {"S": "one"}})
    started = aws("dynamodb", "export-table-to-point-in-time", "--table-arn", table["TableArn"],
                  "--s3-bucket", "cli-exports", "--export-format", "DYNAMODB_JSON")["ExportDescription"]
    assert wait_export(ddb, started["ExportArn"])["ItemCount"] == 1
    listed = aws("dynamodb", "list-exports", "--table-arn", table["TableArn"])["ExportSummaries"]
    assert [e["ExportStatus"] for e in listed] == ["COMPLETED"]


def test_list_exports_pages_and_filters(ddb: Any, s3: Any) -> None:
    first, second = pitr_table(ddb, "first"), pitr_table(ddb, "second")
    s3.create_bucket(Bucket="pages")
    arns = [ddb.export_table_to_point_in_time(TableArn=t["TableArn"], S3Bucket="pages")["ExportDescription"]["ExportArn"]
            for t in (first, first, second)]
    for arn in arns:
        wait_export(ddb, arn)
    page = ddb.list_exports(MaxResults=2)
    assert [e["ExportArn"] for e in page["ExportSummaries"]] == arns[:2]
    rest = ddb.list_exports(MaxResults=2, NextToken=page["NextToken"])
    assert [e["ExportArn"] for e in rest["ExportSummaries"]] == arns[2:] and "NextToken" not in rest
    assert [e["ExportArn"] for e in ddb.list_exports(TableArn=second["TableArn"])["ExportSummaries"]] == arns[2:]


def test_export_encryption_and_bucket_owner(ddb: Any, s3: Any) -> None:
    table = pitr_table(ddb, "sealed")
    s3.create_bucket(Bucket="sealed-exports")
    ddb.put_item(TableName="sealed", Item={"pk": {"S": "one"}})
    started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="sealed-exports",
                                                S3SseAlgorithm="KMS", S3SseKmsKeyId="my-key")["ExportDescription"]
    assert wait_export(ddb, started["ExportArn"])["ExportStatus"] == "COMPLETED"
    data = [k for k in objects(s3, "sealed-exports") if "/data/" in k]
    head = s3.head_object(Bucket="sealed-exports", Key=data[0])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(":key/my-key")
    started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="sealed-exports",
                                                S3BucketOwner="111122223333")["ExportDescription"]
    failed = wait_export(ddb, started["ExportArn"])
    assert failed["ExportStatus"] == "FAILED" and failed["FailureCode"] == "S3AccessDenied"
