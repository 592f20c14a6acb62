"""The local certificate authority behind `conveyor up --tls` (gateway/tls.py serves the connections).

The certificate comes from a local certificate authority that Conveyor makes once in the data directory
(`tls/ca.pem`); clients trust it with `AWS_CA_BUNDLE=.../ca.pem`, `curl --cacert .../ca.pem` or
`requests.get(..., verify=".../ca.pem")`. The server's certificate names localhost and the local host
names Conveyor serves (`*.execute-api.localhost`, `*.cloudfront.localhost`, `*.s3.localhost`,
`*.lambda-url.localhost`, website endpoints' `*.s3-website.localhost`, load balancers' `*.REGION.elb.localhost`), 127.0.0.1 and ::1; it is made anew when
it nears its end or the names it must carry change (gateway/tls.py NAMES). The CA's key never leaves the data directory (files readable by their owner only).

The server itself does not import this module (nor `cryptography`, about 14 MiB of memory it would keep):
gateway/tls.py checks the certificate against the record this module writes beside it (`server.json`),
and runs `python -m conveyor.gateway.local_ca DIR` only when there is none fit to use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conveyor.gateway.tls import NAMES, RECORD, RENEW_BEFORE

_CA_DAYS = 3650
_SERVER_DAYS = 397  # what browsers accept for a server certificate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class LocalCA:
    """The data directory's certificate authority and the server certificate it signs."""

    def __init__(self, directory: Path, names: Sequence[str] = NAMES) -> None:
        self.directory = directory
        self.names = list(dict.fromkeys(names))
        self.ca_file = directory / "ca.pem"
        self._ca_key_file = directory / "ca-key.pem"
        self.cert_file = directory / "server.pem"
        self._key_file = directory / "server-key.pem"
        self.record_file = directory / RECORD

    def ensure(self) -> None:
        """Make the CA if there is none, and a server certificate if there is none fit to use."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.ca_file.exists() and self._ca_key_file.exists()):
            self._make_ca()
        if not self._server_fit():
            self._make_server()
        self._write_record()

    def _write_record(self) -> None:
        """What gateway/tls.py needs to judge the server certificate without parsing it."""
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        record = {"names": self.names, "not_after": cert.not_valid_after_utc.isoformat(),
                  "ca_sha256": hashlib.sha256(self.ca_file.read_bytes()).hexdigest()}
        _write_private(self.record_file, json.dumps(record).encode())

    def _make_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Conveyor"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"Conveyor local CA {os.urandom(3).hex()}")])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False),
                               critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _write_private(self._ca_key_file, _key_pem(key))
        _write_private(self.ca_file, cert.public_bytes(serialization.Encoding.PEM))
        self.cert_file.unlink(missing_ok=True)  # signed by a CA that is no more

    def _server_fit(self) -> bool:
        if not (self.cert_file.exists() and self._key_file.exists()):
            return False
        try:
            cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
            ca = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (ValueError, x509.ExtensionNotFound):
            return False
        held = {str(n) for n in sans.get_values_for_type(x509.DNSName)}
        held |= {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
        return (cert.issuer == ca.subject and held == set(self.names)
                and cert.not_valid_after_utc - RENEW_BEFORE > _now())

    def _make_server(self) -> None:
        ca_key = serialization.load_pem_private_key(self._ca_key_file.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        alternatives: list[x509.GeneralName] = []
        for name in self.names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=_SERVER_DAYS))
                .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_private(self._key_file, _key_pem(key))
        _write_private(self.cert_file, cert.public_bytes(serialization.Encoding.PEM) +
                       ca.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":  # python -m conveyor.gateway.local_ca DIR: what gateway/tls.py runs
    LocalCA(Path(sys.argv[1])).ensure()
