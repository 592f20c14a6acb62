"""The errors several S3 modules answer with, in AWS's words.

https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
"""

from __future__ import annotations

from conveyor.wire import ServiceError

MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


def no_such_bucket(name: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": name})


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                        "upload may have been aborted or completed.", 404, extra={"UploadId": upload_id})


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                        extra={"Condition": condition})


def malformed_xml() -> ServiceError:
    return ServiceError("MalformedXML", MALFORMED_XML, 400)


def slow_down() -> ServiceError:
    """S3 asks clients to back off with `503 SlowDown`, which every SDK retries as throttling."""
    return ServiceError("SlowDown", "Please reduce your request rate.", 503, sender_fault=False)
