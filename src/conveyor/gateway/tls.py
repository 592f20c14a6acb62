"""HTTPS on the same port as HTTP: a connection whose first byte is 0x16 (a TLS handshake record, the
ClientHello) is served through TLS, any other as plain HTTP.

The certificate comes from a local certificate authority that Conveyor makes once in the data directory
(gateway/local_ca.py, run as a separate process when the data directory holds no certificate fit to use:
its `cryptography` would add about 14 MiB to the server for good). Whether the certificate is fit is read
from the record local_ca.py writes beside it: the names it carries, its end, the CA that signed it.

TLS runs over memory buffers (ssl.SSLObject), under the connection's own HTTP parser: the bytes already
read to tell TLS from HTTP are simply the first bytes the TLS session is given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HANDSHAKE = 0x16  # the content type of a TLS handshake record: a ClientHello starts with it
# A wildcard covers one label: load balancers' names (`{name}-{id}.{region}.elb.localhost`) need one per region.
ELB_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
               "ap-southeast-1")
NAMES = ("localhost", "*.localhost", "*.execute-api.localhost", "*.cloudfront.localhost", "*.s3.localhost",
         "*.lambda-url.localhost", "*.s3-website.localhost", "*.elb.localhost",
         *(f"*.{region}.elb.localhost" for region in ELB_REGIONS), "127.0.0.1", "::1")
RENEW_BEFORE = dt.timedelta(days=30)
RECORD = "server.json"  # what local_ca.py says of the server certificate it made


def certificate_fit(directory: Path, names: tuple[str, ...] = NAMES) -> bool:
    """Whether the server certificate in `directory` carries `names`, is signed by the CA there and is not
    near its end, by the record local_ca.py wrote when it made (or last checked) it."""
    try:
        record = json.loads((directory / RECORD).read_text())
        ca_digest = hashlib.sha256((directory / "ca.pem").read_bytes()).hexdigest()
        not_after = dt.datetime.fromisoformat(record["not_after"])
        complete = all((directory / name).exists() for name in ("ca-key.pem", "server.pem", "server-key.pem"))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (complete and record.get("names") == list(dict.fromkeys(names)) and record.get("ca_sha256") == ca_digest
            and not_after - RENEW_BEFORE > dt.datetime.now(dt.UTC))


# Certificates being made ahead of the server's start (begin_certificate), by directory.
_making: dict[Path, subprocess.Popen[str]] = {}


def begin_certificate(directory: Path) -> None:
    """Start making the CA and certificate now, in a process of its own, when `directory` has none fit:
    `conveyor up` calls it first thing, so that the making overlaps the server's own start-up (the server
    waits for it in `server_context`, before it listens)."""
    if directory not in _making and not certificate_fit(directory):
        _making[directory] = subprocess.Popen([sys.executable, "-m", "conveyor.gateway.local_ca", str(directory)],
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def server_context(directory: Path) -> ssl.SSLContext:
    """The server's TLS context, the CA and certificate made first (by local_ca.py) when there is none fit."""
    making = _making.pop(directory, None)
    if making is not None:
        try:
            _, stderr = making.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            making.kill()
            _, stderr = making.communicate()
        if making.returncode != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"could not make the TLS certificate in {directory}: {last}")
    if not certificate_fit(directory):
        made = subprocess.run([sys.executable, "-m", "conveyor.gateway.local_ca", str(directory)],
                              capture_output=True, text=True, timeout=60, check=False)
        if made.returncode != 0:
            last = (made.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"could not make the TLS certificate in {directory}: {last}")
    # Not ssl.create_default_context(CLIENT_AUTH): its options are these same defaults, plus the system's CA
    # store, which only verifies client certificates (never asked for here) and costs ~20 ms at each start.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])  # the server speaks HTTP/1.1 only
    context.load_cert_chain(directory / "server.pem", directory / "server-key.pem")
    return context


class TlsSession:
    """One connection's TLS, over memory buffers: ciphertext in, plaintext out, and the other way."""

    def __init__(self, context: ssl.SSLContext, send: Callable[[bytes], None]) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._send = send
        self._handshaken = False
        self.closed_by_peer = False

    def receive(self, data: bytes) -> bytes:
        """The plaintext that `data` (bytes from the client) completes; raises ssl.SSLError on a failed
        handshake or a corrupt record (then the connection must close)."""
        self._incoming.write(data)
        if not self._handshaken:
            try:
                self._tls.do_handshake()
                self._handshaken = True
            except ssl.SSLWantReadError:
                pass
            finally:
                self._flush()
            if not self._handshaken:
                return b""
        plain = bytearray()
        while True:
            try:
                chunk = self._tls.read(64 * 1024)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.closed_by_peer = True
                break
            if not chunk:
                break
            plain += chunk
        self._flush()  # what reading made TLS say (a key update's answer)
        return bytes(plain)

    def encrypt(self, data: bytes) -> bytes:
        self._tls.write(data)
        return self._outgoing.read()

    def close_notify(self) -> bytes:
        """The alert that ends the session cleanly, to be sent before the connection closes."""
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass
        return self._outgoing.read()

    def _flush(self) -> None:
        out = self._outgoing.read()
        if out:
            self._send(out)
