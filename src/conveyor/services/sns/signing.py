"""Message signatures as AWS makes them, with a local RSA key and a self-signed certificate.

https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
SignatureVersion "1" signs the canonical string with SHA1withRSA, "2" with SHA256withRSA. The key and
certificate are generated once per data directory and kept, so signatures stay verifiable across
restarts.
"""

from __future__ import annotations

import base64
import datetime
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

# `cryptography` (about 14 MiB) is imported where a key is made, read or used: a server that never signs
# a message does not load it.
if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def canonical_string(envelope: dict[str, Any]) -> str:
    fields = _NOTIFICATION_FIELDS if envelope["Type"] == "Notification" else _CONFIRMATION_FIELDS
    out = []
    for name in fields:
        value = envelope.get(name)
        if value is None:
            continue  # Subject only when the publisher set one
        out.append(f"{name}\n{value}\n")
    return "".join(out)


class Signer:
    """The data directory's signing key and certificate, made on first use and kept: making an RSA-2048 key
    takes about 0.2 s, which a server that never signs a message should not pay at start."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key: rsa.RSAPrivateKey | None = None
        self._cert_pem = b""
        self._loading = threading.Lock()

    def _load(self) -> rsa.RSAPrivateKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        with self._loading:
            if self._key is not None:
                return self._key
            key_path = self.directory / "signing-key.pem"
            cert_path = self.directory / "signing-cert.pem"
            if key_path.exists() and cert_path.exists():
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise ValueError(f"{key_path.name} does not hold an RSA key")
                self._cert_pem = cert_path.read_bytes()
            else:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._cert_pem = _self_signed(key).public_bytes(serialization.Encoding.PEM)
                _write_atomic(key_path, key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
                _write_atomic(cert_path, self._cert_pem)
            self._key = key
            return key

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return self._key or self._load()

    @property
    def cert_pem(self) -> bytes:
        self.key  # noqa: B018 - loads (or makes) the key and its certificate
        return self._cert_pem

    def sign(self, envelope: dict[str, Any], version: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        digest: hashes.HashAlgorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303 - AWS's version 1
        data = canonical_string(envelope).encode("utf-8")
        signature = self.key.sign(data, padding.PKCS1v15(), digest)
        return base64.b64encode(signature).decode()


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "sns.conveyor.local"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Conveyor"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
