"""Server-side encryption as S3 reports it: every object is encrypted since January 2023.

A bucket without an encryption configuration encrypts new objects with S3-managed keys (SSE-S3,
`AES256`), and GetBucketEncryption answers that default rule; DeleteBucketEncryption returns a bucket to
it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html). A request may ask for
SSE-KMS (`aws:kms`) or DSSE-KMS (`aws:kms:dsse`) instead, per object or as the bucket's default; S3 does not
check the KMS key of a bucket default (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html).

What Conveyor keeps is the setting and what S3 answers about it, not ciphertext: bodies are files of the
local data directory, as readable to whoever reads that directory as before. SSE-C stays refused
(conveyor.services.s3.refusals): it needs TLS on AWS.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypedDict

from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import BucketRow
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        DeleteBucketEncryptionRequestTypeDef,
        GetBucketEncryptionRequestTypeDef,
        PutBucketEncryptionRequestTypeDef,
    )
    from typing_extensions import ReadOnly

    from conveyor.services.s3.core import Core

    class EncryptionSettings(TypedDict, total=False):
        """What an object write says about its encryption."""

        ServerSideEncryption: ReadOnly[str | None]
        SSEKMSKeyId: ReadOnly[str | None]
        BucketKeyEnabled: ReadOnly[bool | None]

AES256 = "AES256"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
ALGORITHMS = (AES256, *KMS_ALGORITHMS)
DEFAULT_RULE: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": AES256},
                                "BucketKeyEnabled": False}
# The members of an object's metadata that say how it is encrypted (and that its responses carry).
OBJECT_MEMBERS = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")


def aws_managed_key(region: str, account_id: str) -> str:
    """The ARN of the account's AWS managed key `aws/s3`, which SSE-KMS uses when no key is named. Its key
    id is AWS's own; here it is derived from the account and region, so it is the same on every request."""
    key_id = uuid.uuid5(uuid.NAMESPACE_URL, f"kms:{region}:{account_id}:alias/aws/s3")
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def check_request(params: EncryptionSettings) -> None:
    """An object write's x-amz-server-side-encryption headers, judged as S3 judges them.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#API_PutObject_RequestSyntax"""
    sse = params.get("ServerSideEncryption")
    if sse is not None and sse not in ALGORITHMS:
        raise ServiceError("InvalidArgument", "The encryption method specified is not supported", 400,
                           extra={"ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": sse})
    if params.get("SSEKMSKeyId") and sse not in KMS_ALGORITHMS:
        raise ServiceError("InvalidArgument", "Server Side Encryption with AWS KMS managed key requires HTTP "
                           "header x-amz-server-side-encryption : aws:kms", 400,
                           extra={"ArgumentName": "x-amz-server-side-encryption-aws-kms-key-id"})


def bucket_rule(row: BucketRow) -> dict[str, Any]:
    rules = row.config.get("encryption")
    return dict(rules[0]) if rules else DEFAULT_RULE


def object_encryption(row: BucketRow, params: EncryptionSettings, region: str, account_id: str) -> dict[str, Any]:
    """How a new object of `row` is encrypted: as its request asks, else as the bucket's default rule."""
    check_request(params)
    sse = params.get("ServerSideEncryption")
    rule = bucket_rule(row)
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    key_id = params.get("SSEKMSKeyId")
    bucket_key = params.get("BucketKeyEnabled")
    if sse is None:
        sse = default.get("SSEAlgorithm") or AES256
        key_id = key_id or default.get("KMSMasterKeyID")
        if bucket_key is None:
            bucket_key = rule.get("BucketKeyEnabled")
    out: dict[str, Any] = {"ServerSideEncryption": sse}
    if sse in KMS_ALGORITHMS:
        out["SSEKMSKeyId"] = _key_arn(key_id, region, account_id) if key_id else aws_managed_key(region, account_id)
        if bucket_key and sse == "aws:kms":  # S3 Bucket Keys are SSE-KMS's alone
            out["BucketKeyEnabled"] = True
    return out


def _key_arn(key_id: str, region: str, account_id: str) -> str:
    """S3 answers with the key's ARN however the request named it (a key id, an ARN)."""
    if key_id.startswith("arn:"):
        return key_id
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def response_members(meta: dict[str, Any]) -> dict[str, Any]:
    """An object's encryption, as its PUT, GET, HEAD, copy and multipart responses say it; objects stored
    before this was recorded were encrypted by the default rule too."""
    out = {name: meta[name] for name in OBJECT_MEMBERS if meta.get(name) is not None}
    out.setdefault("ServerSideEncryption", AES256)
    return out


def _validated_rules(params: PutBucketEncryptionRequestTypeDef) -> list[dict[str, Any]]:
    rules = params["ServerSideEncryptionConfiguration"].get("Rules") or []
    if len(rules) != 1:
        raise malformed_xml()
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault")
    if default is None:
        raise malformed_xml()
    algorithm = default.get("SSEAlgorithm")
    if algorithm not in ALGORITHMS:
        raise malformed_xml()
    kept: dict[str, Any] = {"SSEAlgorithm": algorithm}
    if default.get("KMSMasterKeyID"):
        if algorithm not in KMS_ALGORITHMS:
            raise ServiceError("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm "
                               "is not aws:kms or aws:kms:dsse", 400,
                               extra={"ArgumentName": "ApplyServerSideEncryptionByDefault"})
        kept["KMSMasterKeyID"] = default["KMSMasterKeyID"]
    return [{"ApplyServerSideEncryptionByDefault": kept, "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled"))}]


class EncryptionOperations:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def PutBucketEncryption(self, ctx: RequestContext,
                                  params: PutBucketEncryptionRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "encryption", _validated_rules(params))
        return {}

    async def GetBucketEncryption(self, ctx: RequestContext,
                                  params: GetBucketEncryptionRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        return {"ServerSideEncryptionConfiguration": {"Rules": [bucket_rule(row)]}}

    async def DeleteBucketEncryption(self, ctx: RequestContext,
                                     params: DeleteBucketEncryptionRequestTypeDef) -> dict[str, Any]:
        # The bucket goes back to the default rule (SSE-S3), which GetBucketEncryption answers from then on.
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "encryption", None)
        return {"__status": 204}
