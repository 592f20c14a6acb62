"""Helpers shared by the SNS tests."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding


def error(exc: Any) -> tuple[str, str]:
    return exc.response["Error"]["Code"], exc.response["Error"]["Message"]


def body(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["Body"])


def verify(doc: dict[str, Any]) -> None:
    """An independent verifier, as AWS documents it: fetch the certificate, rebuild the string, check.

    https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
    """
    if doc["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{n}\n{doc[n]}\n" for n in names if n in doc)
    with urllib.request.urlopen(doc["SigningCertURL"], timeout=10) as response:
        cert = x509.load_pem_x509_certificate(response.read())
    digest = hashes.SHA256() if doc["SignatureVersion"] == "2" else hashes.SHA1()
    cert.public_key().verify(base64.b64decode(doc["Signature"]), text.encode(), padding.PKCS1v15(), digest)
