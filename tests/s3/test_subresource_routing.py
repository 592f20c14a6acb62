"""S3 requests whose path and method other operations share, through boto3 against a live server: the
query names the operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_object_attributes_without_the_attributes_header_is_refused_not_answered_as_get_object(
        client: Callable[..., Any]) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="routing-attributes")
    s3.put_object(Bucket="routing-attributes", Key="k", Body=b"body")
    assert s3.get_object_attributes(Bucket="routing-attributes", Key="k", ObjectAttributes=["ObjectSize"])[
        "ObjectSize"] == 4
    # botocore sends no x-amz-object-attributes header for an empty list: still GET ?attributes, which
    # S3 refuses (400) for the missing header; it used to be served as GetObject.
    with pytest.raises(ClientError) as raised:
        s3.get_object_attributes(Bucket="routing-attributes", Key="k", ObjectAttributes=[])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "ObjectAttributes" in raised.value.response["Error"]["Message"]
