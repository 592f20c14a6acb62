"""HTTPS on the same port as HTTP: a connection whose first byte is 0x16 (a TLS handshake record, the
ClientHello) is served through TLS, any other as plain HTTP.

The certificate comes from a local certificate authority that Conveyor makes once in the data directory
(gateway/local_ca.py).

TLS runs over memory buffers (ssl.SSLObject), under the connection's own HTTP parser: the bytes already
read to tell TLS from HTTP are simply the first bytes the TLS session is given.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

HANDSHAKE = 0x16  # the content type of a TLS handshake record: a ClientHello starts with it


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
