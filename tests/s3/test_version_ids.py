"""Version ids are checked as S3 checks them: one S3 could not have made is InvalidArgument "Invalid version
id specified" (400), an empty one "Version id cannot be the empty string", and only a real id whose version is
gone NoSuchVersion (404). Recorded AWS answers: https://github.com/versity/versitygw/issues/1630 and a
us-east-1 run of GetObjectAcl/PutObjectAcl/CopyObject/UploadPartCopy/ListObjectVersions with `abc`, an empty
id and a real one (conveyor.services.s3.version_ids)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from tests.helpers import signed

FABRICATED = base64.urlsafe_b64encode(bytes(range(24))).decode()  # Conveyor's shape, not made by it


def _error(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return {"status": exc.value.response["ResponseMetadata"]["HTTPStatusCode"], **exc.value.response["Error"]}


def _versioned(s3: Any, bucket: str) -> tuple[str, str]:
    """Two versions of k: the first deleted (a real id that is gone), the second current."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    gone = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=gone)
    return gone, kept


@pytest.mark.parametrize("bad", ["abc", "unknown", FABRICATED, "x" * 33, "a b"])
def test_an_id_s3_did_not_make_is_invalid_argument(s3: Any, bucket: str, bad: str) -> None:
    _versioned(s3, bucket)
    reads = [lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=bad),
             lambda: s3.get_object_acl(Bucket=bucket, Key="k", VersionId=bad),
             lambda: s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=bad),
             lambda: s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=bad, Tagging={"TagSet": []}),
             lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=bad)]
    for call in reads:
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc) == {"status": 400, "Code": "InvalidArgument", "Message": "Invalid version id specified",
                               "ArgumentName": "versionId", "ArgumentValue": bad}
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k", VersionId=bad)
    assert exc.value.response["Error"]["Code"] == "400"  # HEAD answers without a body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"  # nothing was deleted


def test_a_real_id_whose_version_is_gone_is_no_such_version(s3: Any, bucket: str) -> None:
    gone, kept = _versioned(s3, bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId=gone)
    assert _error(exc) == {"status": 404, "Code": "NoSuchVersion", "Message": "The specified version does not exist.",
                           "Key": "k", "VersionId": gone}
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="other", VersionId=kept)  # another key's id
    assert exc.value.response["Error"]["Code"] == "NoSuchVersion"
    # Deleting a version that is gone succeeds, as S3's deletes do.
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=gone)["VersionId"] == gone
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read() == b"two"


def test_an_empty_id_is_refused_with_its_own_message(endpoint: str, s3: Any, bucket: str) -> None:
    _versioned(s3, bucket)
    response = requests.get(f"{endpoint}/{bucket}/k?acl&versionId=", headers=signed("s3"), timeout=10)
    assert response.status_code == 400
    assert "<Message>Version id cannot be the empty string</Message>" in response.text
    assert "<ArgumentName>versionId</ArgumentName>" in response.text


def test_a_bucket_never_versioned_knows_only_the_null_version(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"
    other = s3.create_bucket(Bucket=bucket + "-v") and bucket + "-v"
    s3.put_bucket_versioning(Bucket=other, VersioningConfiguration={"Status": "Enabled"})
    real = s3.put_object(Bucket=other, Key="k", Body=b"y")["VersionId"]
    for version in (real, "abc"):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="k", VersionId=version)
        assert _error(exc)["Code"] == "InvalidArgument" and _error(exc)["ArgumentValue"] == version
    with pytest.raises(ClientError) as exc:  # moto's test_head_versioned_key_in_not_versioned_bucket
        s3.head_object(Bucket=bucket, Key="file.txt", VersionId="noVersion")
    assert exc.value.response["Error"]["Code"] == "400"


def test_copy_sources_name_their_version_as_aws_answers(endpoint: str, s3: Any, bucket: str) -> None:
    _gone, kept = _versioned(s3, bucket)
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]

    def copy(version: str) -> None:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/k?versionId={version}")

    def part(version: str) -> None:
        s3.upload_part_copy(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1,
                            CopySource=f"{bucket}/k?versionId={version}")

    for query in ("", f"?partNumber=1&uploadId={upload}"):  # botocore leaves an empty id out: sent by hand
        response = requests.put(f"{endpoint}/{bucket}/parts{query}", timeout=10,
                                headers={**signed("s3"), "x-amz-copy-source": f"/{bucket}/k?versionId="})
        assert response.status_code == 400
        assert "<Message>Version id cannot be the empty string</Message>" in response.text
        assert "<ArgumentName>x-amz-copy-source</ArgumentName>" in response.text
    for call in (copy, part):
        with pytest.raises(ClientError) as exc:
            call(marker)
        assert _error(exc) == {"status": 400, "Code": "InvalidRequest", "Message": "The source of a copy request "
                               "may not specifically refer to a delete marker by version id."}
    with pytest.raises(ClientError) as exc:
        copy("abc")
    assert _error(exc) == {"status": 400, "Code": "InvalidRequest", "Message": "Invalid Request"}
    with pytest.raises(ClientError) as exc:
        part("abc")
    assert _error(exc) == {"status": 400, "Code": "InvalidArgument", "Message": "Invalid version id specified",
                           "ArgumentName": "x-amz-copy-source", "ArgumentValue": "abc"}
    copy(kept)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"two"


def test_version_id_markers_are_checked(s3: Any, bucket: str) -> None:
    _gone, kept = _versioned(s3, bucket)
    for marker, message in (("", "A version-id marker cannot be empty."),
                            ("nonexistent-version-id-12345", "Invalid version id specified"),
                            (FABRICATED, "Invalid version id specified")):
        for key_marker in ("k", "absent"):
            with pytest.raises(ClientError) as exc:
                s3.list_object_versions(Bucket=bucket, KeyMarker=key_marker, VersionIdMarker=marker)
            assert _error(exc)["Code"] == "InvalidArgument" and _error(exc)["Message"] == message
    assert s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker="null")["IsTruncated"] is False
    page = s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker=kept)
    assert page["VersionIdMarker"] == kept and "Versions" not in page
