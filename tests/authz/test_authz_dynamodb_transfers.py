"""`--iam enforce` for DynamoDB's exports and imports: the caller needs S3's actions on the bucket (an
export writes with the caller's permissions, an import reads with them) beside DynamoDB's on the table.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html"""

from __future__ import annotations

from tests.authz.conftest import ACCOUNT, Server, allow, refused

TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ledger"
SOURCE = {"S3Bucket": "dumps", "S3KeyPrefix": "in/"}
CREATION = {"TableName": "copied", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}


def test_an_export_needs_s3_put_object_on_the_bucket(server: Server) -> None:
    root = server.root("dynamodb")
    root.create_table(TableName="ledger", **{k: v for k, v in CREATION.items() if k != "TableName"})
    root.update_continuous_backups(TableName="ledger", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    server.root("s3").create_bucket(Bucket="dumps")
    only_dynamodb = server.user("dora", allow("dynamodb:ExportTableToPointInTime", TABLE_ARN))("dynamodb")
    code, message, _ = refused(lambda: only_dynamodb.export_table_to_point_in_time(
        TableArn=TABLE_ARN, S3Bucket="dumps", S3Prefix="nightly"))
    assert code == "AccessDeniedException"
    assert "s3:PutObject on resource: arn:aws:s3:::dumps/nightly/AWSDynamoDB/*" in message
    both = server.user("sam", allow("dynamodb:ExportTableToPointInTime", TABLE_ARN),
                       allow("s3:PutObject", "arn:aws:s3:::dumps/nightly/*"))("dynamodb")
    started = both.export_table_to_point_in_time(TableArn=TABLE_ARN, S3Bucket="dumps", S3Prefix="nightly")
    assert started["ExportDescription"]["ExportStatus"] == "IN_PROGRESS"


def test_an_import_needs_s3_list_and_get_on_the_source(server: Server) -> None:
    server.root("s3").create_bucket(Bucket="dumps")
    copied = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/copied"
    reader = server.user("ira", allow("dynamodb:ImportTable", copied), allow("s3:GetObject", "arn:aws:s3:::dumps/*"))
    code, message, _ = refused(lambda: reader("dynamodb").import_table(
        S3BucketSource=SOURCE, InputFormat="DYNAMODB_JSON", TableCreationParameters=CREATION))
    assert code == "AccessDeniedException" and "s3:ListBucket on resource: arn:aws:s3:::dumps" in message
    lister = server.user("lia", allow("dynamodb:ImportTable", copied), allow("s3:ListBucket", "arn:aws:s3:::dumps"),
                         allow("s3:GetObject", "arn:aws:s3:::dumps/in/*"))("dynamodb")
    started = lister.import_table(S3BucketSource=SOURCE, InputFormat="DYNAMODB_JSON", TableCreationParameters=CREATION)
    assert started["ImportTableDescription"]["TableArn"] == copied
