"""ImportTable through boto3: a new table (with its GSIs) from the objects under an S3 prefix, in DynamoDB
JSON, Ion or CSV, compressed or not; the import runs in the background, counts what it processed, imported
and refused, and ends as AWS's do. The round trip: a table exported, and the export imported, is the same
table."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import zstandard
from amazon.ion import simpleion

from tests.conftest import post_json
from tests.dynamodb.test_exports import ITEMS, objects, pitr_table, wait_export
from tests.dynamodb.test_tables import error
from tests.dynamodb.test_transaction_conflicts import write_lock


def wait_import(ddb: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        described: dict[str, Any] = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
        if described["ImportStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def creation(name: str, **more: Any) -> dict[str, Any]:
    return {"TableName": name, "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST", **more}


def scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    return sorted(ddb.scan(TableName=table)["Items"], key=lambda i: json.dumps(i["pk"], default=str))


def test_import_dynamodb_json_with_a_gsi_and_errors(ddb: Any, s3: Any, client: Any) -> None:
    s3.create_bucket(Bucket="source")
    lines = [{"Item": {"pk": {"S": f"k{i}"}, "g": {"S": "grp"}, "n": {"N": str(i)}}} for i in range(150)]
    body = "\n".join(json.dumps(line) for line in lines[:100]) + "\n" + "".join(json.dumps(x) for x in lines[100:])
    s3.put_object(Bucket="source", Key="in/part-1.json.gz", Body=gzip.compress(body.encode()))
    bad = "\n".join([json.dumps({"pk": {"S": "no-item-wrapper"}}), json.dumps({"Item": {"other": {"S": "no key"}}}),
                     json.dumps({"Item": {"pk": {"N": "1"}}}), json.dumps({"Item": {"pk": {"S": "ok"}}})])
    s3.put_object(Bucket="source", Key="in/part-2.json.gz", Body=gzip.compress(bad.encode()))
    s3.put_object(Bucket="source", Key="elsewhere.json.gz", Body=gzip.compress(b'{"Item":{"pk":{"S":"x"}}}'))
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": "source", "S3KeyPrefix": "in/"}, InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP", TableCreationParameters=creation(
            "imported", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}]))["ImportTableDescription"]
    assert started["ImportStatus"] == "IN_PROGRESS" and started["ImportArn"].startswith(started["TableArn"] + "/import/")
    assert ddb.describe_table(TableName="imported")["Table"]["TableStatus"] in ("CREATING", "ACTIVE")
    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "FAILED" and done["FailureCode"] == "ItemValidationError"
    assert (done["ProcessedItemCount"], done["ImportedItemCount"], done["ErrorCount"]) == (154, 151, 3)
    assert done["ProcessedSizeBytes"] > 0 and done["EndTime"] >= done["StartTime"]
    table = ddb.describe_table(TableName="imported")["Table"]
    assert table["TableStatus"] == "ACTIVE" and table["ItemCount"] == 151
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-g"
    by_g = ddb.query(TableName="imported", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "grp"}}, Select="COUNT")
    assert by_g["Count"] == 150  # the index entries came with the items
    logs = client("logs")
    stream = started["ImportArn"].rsplit("/", 1)[1] + "/error"
    events = logs.get_log_events(logGroupName="/aws-dynamodb/imports", logStreamName=stream)["events"]
    assert len(events) == 3 and done["CloudWatchLogGroupArn"].endswith(":log-group:/aws-dynamodb/imports:*")
    summaries = ddb.list_imports(TableArn=table["TableArn"])["ImportSummaryList"]
    assert [s["ImportArn"] for s in summaries] == [started["ImportArn"]] and summaries[0]["ImportStatus"] == "FAILED"


def test_import_csv_ion_and_zstd(ddb: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="formats")
    s3.put_object(Bucket="formats", Key="csv/a.csv", Body=b"pk;n;note\nk1;10;first\nk2;20;\n")
    started = ddb.import_table(S3BucketSource={"S3Bucket": "formats", "S3KeyPrefix": "csv/"}, InputFormat="CSV",
                               InputFormatOptions={"Csv": {"Delimiter": ";"}},
                               TableCreationParameters=creation("from-csv"))["ImportTableDescription"]
    assert wait_import(ddb, started["ImportArn"])["ImportStatus"] == "COMPLETED"
    assert scan(ddb, "from-csv") == [{"pk": {"S": "k1"}, "n": {"S": "10"}, "note": {"S": "first"}},
                                     {"pk": {"S": "k2"}, "n": {"S": "20"}}]  # non-key columns are strings
    s3.put_object(Bucket="formats", Key="headless/b.csv", Body=b"7,seven\n8,eight\n")
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": "formats", "S3KeyPrefix": "headless/"}, InputFormat="CSV",
        InputFormatOptions={"Csv": {"HeaderList": ["id", "name"]}},
        TableCreationParameters=creation("numbered", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}]))["ImportTableDescription"]
    assert wait_import(ddb, started["ImportArn"])["ImportedItemCount"] == 2
    assert ddb.get_item(TableName="numbered", Key={"id": {"N": "8"}})["Item"]["name"] == {"S": "eight"}

    ion_text = simpleion.dumps({"Item": {"pk": "i1", "n": simpleion.loads("6d2"), "b": b"\x01\x02",
                                         "tags": simpleion.loads('$dynamodb_SS::["a","b"]')}}, binary=False)
    s3.put_object(Bucket="formats", Key="ion/a.ion.zst", Body=zstandard.ZstdCompressor().compress(ion_text.encode()))
    started = ddb.import_table(S3BucketSource={"S3Bucket": "formats", "S3KeyPrefix": "ion/"}, InputFormat="ION",
                               InputCompressionType="ZSTD",
                               TableCreationParameters=creation("from-ion"))["ImportTableDescription"]
    assert wait_import(ddb, started["ImportArn"])["ImportStatus"] == "COMPLETED"
    assert scan(ddb, "from-ion") == [{"pk": {"S": "i1"}, "n": {"N": "600"}, "b": {"B": b"\x01\x02"},
                                      "tags": {"SS": ["a", "b"]}}]


def test_round_trip_export_then_import(ddb: Any, s3: Any, advance: Any) -> None:
    """A table exported (in either format) and imported from the export is the same table."""
    table = pitr_table(ddb, "original")
    s3.create_bucket(Bucket="trip")
    for item in ITEMS:
        ddb.put_item(TableName="original", Item=item)
    for i in range(40):
        ddb.put_item(TableName="original", Item={"pk": {"S": f"bulk{i:02d}"}, "v": {"N": f"{i}.25"}})
    for export_format in ("DYNAMODB_JSON", "ION"):
        started = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket="trip",
                                                    S3Prefix=export_format, ExportFormat=export_format)
        arn = started["ExportDescription"]["ExportArn"]
        assert wait_export(ddb, arn)["ExportStatus"] == "COMPLETED"
        export_id = arn.rsplit("/", 1)[1]
        target = f"copy-{export_format.lower().replace('_', '-')}"
        imported = ddb.import_table(
            S3BucketSource={"S3Bucket": "trip", "S3KeyPrefix": f"{export_format}/AWSDynamoDB/{export_id}/data/"},
            InputFormat=export_format, InputCompressionType="GZIP",
            TableCreationParameters=creation(target))["ImportTableDescription"]
        done = wait_import(ddb, imported["ImportArn"])
        assert done["ImportStatus"] == "COMPLETED" and done["ImportedItemCount"] == 43
        assert scan(ddb, target) == scan(ddb, "original")


def test_import_failures(ddb: Any, s3: Any) -> None:
    started = ddb.import_table(S3BucketSource={"S3Bucket": "no-such-bucket"}, InputFormat="DYNAMODB_JSON",
                               TableCreationParameters=creation("never"))["ImportTableDescription"]
    failed = wait_import(ddb, started["ImportArn"])
    assert failed["ImportStatus"] == "FAILED" and failed["FailureCode"] == "S3NoSuchBucket"
    assert "The specified bucket does not exist" in failed["FailureMessage"]
    assert "never" not in ddb.list_tables()["TableNames"]  # its table goes with it
    message = error(ddb.import_table, "ValidationException", S3BucketSource={"S3Bucket": "no-such-bucket"},
                    InputFormat="DYNAMODB_JSON", TableCreationParameters=creation("prov", BillingMode="PROVISIONED"))
    assert message == ("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must "
                       "both be specified when BillingMode is PROVISIONED")
    s3.create_bucket(Bucket="empty")
    ddb.create_table(**creation("taken"))
    assert error(ddb.import_table, "ResourceInUseException", S3BucketSource={"S3Bucket": "empty"},
                 InputFormat="DYNAMODB_JSON", TableCreationParameters=creation("taken")) == "Table already exists: taken"
    first = ddb.import_table(S3BucketSource={"S3Bucket": "empty"}, InputFormat="DYNAMODB_JSON", ClientToken="t1",
                             TableCreationParameters=creation("empty-one"))["ImportTableDescription"]
    again = ddb.import_table(S3BucketSource={"S3Bucket": "empty"}, InputFormat="DYNAMODB_JSON", ClientToken="t1",
                             TableCreationParameters=creation("empty-one"))["ImportTableDescription"]
    assert again["ImportArn"] == first["ImportArn"]
    assert error(ddb.import_table, "ImportConflictException", S3BucketSource={"S3Bucket": "empty"},
                 InputFormat="ION", ClientToken="t1", TableCreationParameters=creation("empty-two"))
    done = wait_import(ddb, first["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED" and done["ProcessedItemCount"] == 0
    assert error(ddb.describe_import, "ImportNotFoundException", ImportArn=first["ImportArn"] + "0")
    assert objects(s3, "empty") == {}


def test_import_with_the_aws_cli(ddb: Any, s3: Any, aws: Any) -> None:
    s3.create_bucket(Bucket="cli-source")
    s3.put_object(Bucket="cli-source", Key="data.json", Body=b'{"Item": {"pk": {"S": "from-cli"}}}\n')
    started = aws("dynamodb", "import-table", "--s3-bucket-source", "S3Bucket=cli-source",
                  "--input-format", "DYNAMODB_JSON", "--table-creation-parameters", json.dumps(creation("cli-table"))
                  )["ImportTableDescription"]
    assert wait_import(ddb, started["ImportArn"])["ImportStatus"] == "COMPLETED"
    described = aws("dynamodb", "describe-import", "--import-arn", started["ImportArn"])["ImportTableDescription"]
    assert described["ImportedItemCount"] == 1


def test_a_table_being_imported_cannot_be_changed_or_deleted(ddb: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="slow")
    body = "".join(f'{{"Item":{{"pk":{{"S":"k{n:05d}"}}}}}}\n' for n in range(20000)).encode()
    s3.put_object(Bucket="slow", Key="items.json.gz", Body=gzip.compress(body))
    started = ddb.import_table(S3BucketSource={"S3Bucket": "slow"}, InputFormat="DYNAMODB_JSON",
                               InputCompressionType="GZIP",
                               TableCreationParameters=creation("importing"))["ImportTableDescription"]
    assert ddb.describe_table(TableName="importing")["Table"]["TableStatus"] == "CREATING"
    message = error(ddb.delete_table, "ResourceInUseException", TableName="importing")
    assert message == "Attempt to change a resource which is still in use: Table is being created: importing"
    assert error(ddb.update_table, "ResourceInUseException", TableName="importing", BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert wait_import(ddb, started["ImportArn"])["ImportedItemCount"] == 20000
    assert ddb.describe_table(TableName="importing")["Table"]["TableStatus"] == "ACTIVE"
    ddb.delete_table(TableName="importing")


def test_a_reset_stops_an_import_in_progress(ddb: Any, s3: Any, endpoint: str) -> None:
    """A reset (POST /_conveyor/reset) wipes an import that is running: its job stores nothing more, not even
    into a new table that was given its table's id."""
    s3.create_bucket(Bucket="wiped")
    body = "".join(f'{{"Item":{{"pk":{{"S":"k{n:05d}"}}}}}}\n' for n in range(20000)).encode()
    s3.put_object(Bucket="wiped", Key="items.json.gz", Body=gzip.compress(body))
    ddb.import_table(S3BucketSource={"S3Bucket": "wiped"}, InputFormat="DYNAMODB_JSON", InputCompressionType="GZIP",
                     TableCreationParameters=creation("doomed-import"))
    post_json(f"{endpoint}/_conveyor/reset")
    ddb.create_table(**creation("doomed-import"))  # the first table after the reset: the same id
    time.sleep(1.5)
    assert ddb.scan(TableName="doomed-import")["Items"] == []
    assert ddb.list_imports()["ImportSummaryList"] == []
    assert ddb.describe_table(TableName="doomed-import")["Table"]["TableStatus"] == "ACTIVE"


def test_a_table_being_imported_takes_no_ttl_recovery_or_tag_change(start_server: Any) -> None:
    """Until its import makes it ACTIVE, a table refuses UpdateTimeToLive as UpdateTable (ResourceInUseException),
    UpdateContinuousBackups and CreateBackup as a table whose backups are still being enabled, and its tags as a table that is
    not there yet; once ACTIVE it takes each. The import's writes wait behind the store's write lock, held from a
    second connection, so the table stays CREATING while it is asked."""
    server = start_server()
    ddb, s3 = server.client("dynamodb"), server.client("s3")
    s3.create_bucket(Bucket="held")
    body = "".join(f'{{"Item":{{"pk":{{"S":"k{n:04d}"}}}}}}\n' for n in range(5000)).encode()
    s3.put_object(Bucket="held", Key="items.json", Body=body)
    started = ddb.import_table(S3BucketSource={"S3Bucket": "held"}, InputFormat="DYNAMODB_JSON",
                               TableCreationParameters=creation("held-import"))["ImportTableDescription"]
    arn = started["TableArn"]
    ttl = {"Enabled": True, "AttributeName": "expires"}
    with write_lock(server.data_dir):
        assert ddb.describe_table(TableName="held-import")["Table"]["TableStatus"] == "CREATING"
        assert error(ddb.update_time_to_live, "ResourceInUseException", TableName="held-import",
                     TimeToLiveSpecification=ttl) == ("Attempt to change a resource which is still in use: Table is "
                                                      "being created: held-import")
        assert error(ddb.update_continuous_backups, "ContinuousBackupsUnavailableException", TableName="held-import",
                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}) == (
            "Backups are being enabled for the table: held-import. Please retry later")
        assert error(ddb.create_backup, "ContinuousBackupsUnavailableException", TableName="held-import",
                     BackupName="early") == "Backups are being enabled for the table: held-import. Please retry later"
        not_found = f"Requested resource not found: ResourcArn: {arn} not found"
        assert error(ddb.tag_resource, "ResourceNotFoundException", ResourceArn=arn,
                     Tags=[{"Key": "team", "Value": "uploads"}]) == not_found
        assert error(ddb.untag_resource, "ResourceNotFoundException", ResourceArn=arn, TagKeys=["team"]) == not_found
        assert error(ddb.list_tags_of_resource, "ResourceNotFoundException", ResourceArn=arn) == not_found
    assert wait_import(ddb, started["ImportArn"])["ImportedItemCount"] == 5000
    assert ddb.update_time_to_live(TableName="held-import", TimeToLiveSpecification=ttl)["TimeToLiveSpecification"] == ttl
    ddb.update_continuous_backups(TableName="held-import",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "uploads"}])
    assert ddb.create_backup(TableName="held-import", BackupName="later")["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "uploads"}]
