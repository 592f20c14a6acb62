"""S3 Inventory through boto3: configurations checked, stored, listed and deleted, and the CSV report with its
manifest written into the destination at midnight on the server's manual clock.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import uuid

import pytest
from botocore.exceptions import ClientError
from tests.helpers import wait_for


def _config(destination: str, **extra: object) -> dict[str, object]:
    return {"Id": "daily", "IsEnabled": True, "IncludedObjectVersions": "Current", "Schedule": {"Frequency": "Daily"},
            "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{destination}", "Format": "CSV",
                                                    "Prefix": "reports"}},
            "Filter": {"Prefix": "photos/"}, "OptionalFields": ["Size", "ETag"], **extra}


def test_configurations_are_checked_stored_listed_and_deleted(s3, bucket):
    destination = f"inv-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=destination)
    refused = {"InvalidArgument": _config("no-such-destination-bucket"),
               "MalformedXML": _config(destination, Schedule={"Frequency": "Hourly"}),
               "NotImplemented": _config(destination, Destination={"S3BucketDestination": {
                   "Bucket": f"arn:aws:s3:::{destination}", "Format": "ORC"}})}
    for code, config in refused.items():
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_inventory_configuration(Bucket=bucket, Id="daily", InventoryConfiguration=config)
        assert exc.value.response["Error"]["Code"] == code
    s3.put_bucket_inventory_configuration(Bucket=bucket, Id="daily", InventoryConfiguration=_config(destination))
    got = s3.get_bucket_inventory_configuration(Bucket=bucket, Id="daily")["InventoryConfiguration"]
    assert got == _config(destination)
    assert [c["Id"] for c in s3.list_bucket_inventory_configurations(Bucket=bucket)["InventoryConfigurationList"]] \
        == ["daily"]
    s3.delete_bucket_inventory_configuration(Bucket=bucket, Id="daily")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_inventory_configuration(Bucket=bucket, Id="daily")
    assert exc.value.response["Error"]["Code"] == "NoSuchConfiguration"


def test_a_report_is_written_at_midnight(s3, bucket, advance):
    destination = f"inv-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=destination)
    s3.put_object(Bucket=bucket, Key="photos/a.jpg", Body=b"aaaa")
    s3.put_object(Bucket=bucket, Key="other/b.txt", Body=b"b")
    s3.put_bucket_inventory_configuration(Bucket=bucket, Id="daily", InventoryConfiguration=_config(destination))
    now = advance(0)
    advance(math.ceil(now / 86400) * 86400 - now + 1)

    def manifest() -> str | None:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=destination).get("Contents", [])]
        return next((k for k in keys if k.endswith("/manifest.json")), None)

    key = wait_for(manifest, what="the inventory manifest")
    assert key.startswith(f"reports/{bucket}/daily/")
    doc = json.loads(s3.get_object(Bucket=destination, Key=key)["Body"].read())
    assert doc["sourceBucket"] == bucket and doc["fileFormat"] == "CSV"
    assert doc["fileSchema"] == "Bucket, Key, Size, ETag"
    [data] = doc["files"]
    body = s3.get_object(Bucket=destination, Key=data["key"])["Body"].read()
    rows = list(csv.reader(io.StringIO(gzip.decompress(body).decode())))
    etag = s3.head_object(Bucket=bucket, Key="photos/a.jpg")["ETag"].strip('"')
    assert rows == [[bucket, "photos/a.jpg", "4", etag]]
