"""Default integrity checksums: S3 gives every object uploaded without a checksum a CRC64NVME full-object
checksum, and tells each checksum's type (FULL_OBJECT or COMPOSITE) on reads, copies, multipart uploads,
GetObjectAttributes and listings.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
"""

from __future__ import annotations

import base64
import zlib

import boto3
import pytest
from awscrt import checksums as crt
from botocore.config import Config
from botocore.exceptions import ClientError

# The CRC64/NVME check value of "123456789" (its catalogue entry: 0xAE8B14860A799888).
CHECK_CRC64NVME = base64.b64encode(bytes.fromhex("ae8b14860a799888")).decode()
PART = 5 * 1024 * 1024


def b64(value: int, width: int) -> str:
    return base64.b64encode(value.to_bytes(width, "big")).decode()


@pytest.fixture
def plain(endpoint):  # type: ignore[no-untyped-def]
    """A client that sends no checksum of its own (the SDKs' `when_required`)."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def test_an_object_without_a_checksum_gets_crc64nvme(plain, bucket):
    put = plain.put_object(Bucket=bucket, Key="k", Body=b"123456789")
    assert put["ChecksumCRC64NVME"] == CHECK_CRC64NVME and put["ChecksumType"] == "FULL_OBJECT"
    head = plain.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == CHECK_CRC64NVME and head["ChecksumType"] == "FULL_OBJECT"
    assert "ChecksumCRC64NVME" not in plain.head_object(Bucket=bucket, Key="k")  # only when asked for
    listed = plain.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == ["CRC64NVME"] and listed["ChecksumType"] == "FULL_OBJECT"
    version = plain.list_object_versions(Bucket=bucket)["Versions"][0]
    assert version["ChecksumAlgorithm"] == ["CRC64NVME"] and version["ChecksumType"] == "FULL_OBJECT"
    attrs = plain.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"] == {"ChecksumCRC64NVME": CHECK_CRC64NVME, "ChecksumType": "FULL_OBJECT"}


def test_the_checksum_a_client_sends_is_the_one_kept(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"123456789", ChecksumAlgorithm="CRC32C")
    assert put["ChecksumCRC32C"] == b64(0xE3069283, 4) and "ChecksumCRC64NVME" not in put
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == ["CRC32C"]


def test_copy_carries_a_full_object_checksum(plain, bucket):
    plain.put_object(Bucket=bucket, Key="src", Body=b"123456789")
    copy = plain.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    result = copy["CopyObjectResult"]
    assert result["ChecksumCRC64NVME"] == CHECK_CRC64NVME and result["ChecksumType"] == "FULL_OBJECT"
    asked = plain.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"},
                              ChecksumAlgorithm="CRC32")
    assert asked["CopyObjectResult"]["ChecksumCRC32"] == b64(zlib.crc32(b"123456789"), 4)


def _multipart(client, bucket: str, key: str, parts: list[bytes], **create: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, **create)
    done = []
    for number, body in enumerate(parts, 1):
        part = client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=body)
        done.append({"PartNumber": number, "ETag": part["ETag"]})
    return client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                            MultipartUpload={"Parts": done})


def test_multipart_default_is_a_full_object_crc64nvme(plain, bucket):
    parts = [b"a" * PART, b"b" * 1000]
    done = _multipart(plain, bucket, "mp", parts)
    whole = b64(crt.crc64nvme(b"".join(parts)), 8)
    assert done["ChecksumCRC64NVME"] == whole and done["ChecksumType"] == "FULL_OBJECT"
    head = plain.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == whole and head["ChecksumType"] == "FULL_OBJECT"


def test_multipart_crc32c_full_object_and_composite(plain, bucket):
    parts = [b"a" * PART, b"b" * 1000]
    full = _multipart(plain, bucket, "full", parts, ChecksumAlgorithm="CRC32C", ChecksumType="FULL_OBJECT")
    assert full["ChecksumCRC32C"] == b64(crt.crc32c(b"".join(parts)), 4) and full["ChecksumType"] == "FULL_OBJECT"
    composite = _multipart(plain, bucket, "comp", parts, ChecksumAlgorithm="CRC32")
    of_parts = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    expected = b64(zlib.crc32(of_parts), 4)
    assert composite["ChecksumCRC32"] == f"{expected}-2" and composite["ChecksumType"] == "COMPOSITE"
    attrs = plain.get_object_attributes(Bucket=bucket, Key="comp", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"] == {"ChecksumCRC32": expected, "ChecksumType": "COMPOSITE"}  # no "-2" here


def test_multipart_checksum_type_must_suit_the_algorithm(plain, bucket):
    for algorithm, kind in (("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")):
        with pytest.raises(ClientError) as exc:
            plain.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType=kind)
        assert exc.value.response["Error"]["Code"] == "InvalidRequest"
