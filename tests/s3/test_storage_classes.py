"""Storage classes through boto3: unknown ones refused, archived objects unreadable (GET, copy, the website)
until RestoreObject, and a restored copy that expires on the server's manual clock.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects.html"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

DAY = 86400


def _error(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return dict(exc.value.response["Error"])


def test_unknown_storage_classes_are_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="STANDARDD"),
                 lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", StorageClass="FAST"),
                 lambda: s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/k", StorageClass="NOPE")):
        with pytest.raises(ClientError) as exc:
            call()
        error = _error(exc)
        assert (error["Code"], error["Message"]) == ("InvalidStorageClass",
                                                     "The storage class you specified is not valid")
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="ia")["Contents"][0]["StorageClass"] == "STANDARD_IA"


def test_archived_objects_are_read_only_once_restored(s3, bucket, advance):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen", StorageClass="DEEP_ARCHIVE")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="cold")
    error = _error(exc)
    assert (error["Code"], error["StorageClass"]) == ("InvalidObjectState", "DEEP_ARCHIVE")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/cold")
    assert _error(exc)["Code"] == "ObjectNotInActiveTierError"
    head = s3.head_object(Bucket=bucket, Key="cold")  # HEAD works, and says nothing of a restore yet
    assert head["StorageClass"] == "DEEP_ARCHIVE" and "Restore" not in head

    first = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 1})
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 202
    again = s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 2})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200  # already restored: the expiry moves
    assert s3.head_object(Bucket=bucket, Key="cold")["Restore"].startswith('ongoing-request="false", expiry-date="')
    assert s3.get_object(Bucket=bucket, Key="cold")["Body"].read() == b"frozen"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/cold")
    copy = s3.head_object(Bucket=bucket, Key="copy")
    assert "StorageClass" not in copy and "Restore" not in copy  # a STANDARD object of its own

    advance(3 * DAY)  # past the midnight after 2 days: the restored copy is gone
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="cold")
    assert _error(exc)["Code"] == "InvalidObjectState"


def test_restore_needs_an_archived_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="warm", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.restore_object(Bucket=bucket, Key="warm", RestoreRequest={"Days": 1})
    error = _error(exc)
    assert (error["Code"], error["StorageClass"]) == ("InvalidObjectState", "STANDARD")
    with pytest.raises(ClientError) as exc:
        s3.restore_object(Bucket=bucket, Key="missing", RestoreRequest={"Days": 1})
    assert _error(exc)["Code"] == "NoSuchKey"
