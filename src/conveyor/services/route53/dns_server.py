"""The DNS server: answers queries for the hosted zones on a loopback UDP port and the same TCP port
(`conveyor up --dns-port N`, default 10053; `dig @127.0.0.1 -p 10053 www.example.com`).

Messages are read and written with dnspython; what to answer is the resolver's
(conveyor.services.route53.resolver). A UDP answer larger than the client's buffer (512 bytes, or its EDNS
size) is sent truncated (TC) so that the client asks again over TCP (RFC 1035 4.2.1, RFC 6891). A message
that cannot be parsed is answered FORMERR when its header can be read, else dropped; opcodes other than
QUERY are NOTIMP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from conveyor.services.route53.resolver import Answer

log = logging.getLogger("conveyor.route53.dns")

UDP_DEFAULT_SIZE = 512
TCP_READ_SECONDS = 10.0
FREE_PORT_ATTEMPTS = 20
# (name, type, protocol "UDP" or "TCP", the client's address) -> what to answer
Resolve = Callable[[str, str, str, str], Answer]


def respond(wire: bytes, resolve: Resolve, max_size: int | None, client: str) -> bytes | None:
    """The answer to one query message (None: nothing can be answered). `max_size`: the transport's limit
    (None over TCP)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return _formerr(wire)
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.RA  # an authoritative server, not a recursive resolver
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response.to_wire()
    if len(query.question) != 1 or query.question[0].rdclass != dns.rdataclass.IN:
        response.set_rcode(dns.rcode.Rcode.FORMERR if len(query.question) != 1 else dns.rcode.Rcode.REFUSED)
        return response.to_wire()
    question = query.question[0]
    answer = resolve(question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype),
                     "UDP" if max_size is not None else "TCP", client)
    response.set_rcode(dns.rcode.Rcode(answer.rcode))
    if answer.authoritative:
        response.flags |= dns.flags.AA
    response.answer.extend(answer.answer)
    response.authority.extend(answer.authority)
    limit = max_size
    if limit is not None and query.edns >= 0:
        limit = max(UDP_DEFAULT_SIZE, query.payload)
    try:
        return response.to_wire(max_size=limit or 65535)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC | (dns.flags.AA if answer.authoritative else 0)
        truncated.flags &= ~dns.flags.RA
        truncated.set_rcode(dns.rcode.Rcode(answer.rcode))
        return truncated.to_wire()


def _formerr(wire: bytes) -> bytes | None:
    if len(wire) < 12:
        return None
    query_id, flags = struct.unpack("!HH", wire[:4])
    if flags & 0x8000:
        return None  # a response: never answer one
    return struct.pack("!HHHHHH", query_id, 0x8000 | (flags & 0x7900) | dns.rcode.FORMERR, 0, 0, 0, 0)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, resolve: Resolve) -> None:
        self.resolve = resolve
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The event loop's datagram transports (asyncio's, uvloop's) do not all subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            reply = respond(data, self.resolve, UDP_DEFAULT_SIZE, str(addr[0]))
        except Exception:
            log.exception("answering a DNS query failed")
            reply = _servfail(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def _servfail(wire: bytes) -> bytes | None:
    if len(wire) < 12:
        return None
    query_id, flags = struct.unpack("!HH", wire[:4])
    return struct.pack("!HHHHHH", query_id, 0x8000 | (flags & 0x7900) | dns.rcode.SERVFAIL, 0, 0, 0, 0)


class DnsServer:
    def __init__(self, host: str, port: int, resolve: Resolve,
                 sockets: tuple[socket.socket, socket.socket] | None = None) -> None:
        """`sockets`: UDP and TCP sockets bound already (by the DNS door, conveyor.services.route53.dns_door)."""
        self.host = host
        self.port = port
        self.resolve = resolve
        self.sockets = sockets
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.Server | None = None

    async def start(self) -> int:
        """Bind UDP, then TCP on the same port; the port (the one chosen when asked for 0: a free UDP port whose
        TCP twin is taken is given up for another)."""
        attempts = FREE_PORT_ATTEMPTS if self.port == 0 else 1
        for attempt in range(attempts):
            try:
                return await self._bind()
            except OSError:
                if attempt == attempts - 1:
                    raise
        raise OSError("no free port")  # not reached: the last attempt raised

    async def _bind(self) -> int:
        loop = asyncio.get_running_loop()
        if self.sockets is not None:
            udp, tcp = self.sockets
            transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self.resolve), sock=udp)
            self.tcp = await asyncio.start_server(self._tcp_client, sock=tcp)
            self.udp = transport
            self.port = int(transport.get_extra_info("sockname")[1])
            return self.port
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self.resolve), local_addr=(self.host, self.port))
        port = int(transport.get_extra_info("sockname")[1])
        try:
            self.tcp = await asyncio.start_server(self._tcp_client, self.host, port, reuse_address=True)
        except OSError:
            transport.close()
            raise
        self.udp = transport
        self.port = port
        return port

    async def stop(self) -> None:
        if self.udp is not None:
            self.udp.close()
            self.udp = None
        if self.tcp is not None:
            self.tcp.close()
            await self.tcp.wait_closed()
            self.tcp = None

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Length-prefixed messages (RFC 1035 4.2.2), as many as the client sends on the connection."""
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "-"
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), TCP_READ_SECONDS)
                (length,) = struct.unpack("!H", header)
                wire = await asyncio.wait_for(reader.readexactly(length), TCP_READ_SECONDS)
                try:
                    reply = respond(wire, self.resolve, None, client)
                except Exception:
                    log.exception("answering a DNS query failed")
                    reply = _servfail(wire)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
