"""Network Load Balancers' TCP listeners as real TCP pass-through: each binds its own loopback port (the
listener's Port, on 127.0.0.1, where `*.elb.localhost` resolves) and forwards the bytes of every connection,
both ways and unchanged, to one target of the listener's target group.

As a Network Load Balancer does (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/
introduction.html and load-balancer-target-groups.html):
- a connection goes to one target for its whole life; targets are taken in turn over the healthy ones
  (AWS hashes each flow; round robin spreads the same way over many connections and is predictable);
- if no target is healthy, it fails open to all registered ones (network/target-group-health-checks.html);
- with no target at all, or a target that refuses, the client's connection is reset;
- a half-close (FIN) is passed on, so a client may finish sending and still read the answer;
- proxy_protocol_v2.enabled prepends a PROXY protocol v2 header naming the client
  (network/edit-target-group-attributes.html#proxy-protocol);
- a connection that carries nothing either way for the listener's tcp.idle_timeout.seconds (350 by default)
  of the server's clock is reset (network/network-load-balancers.html#connection-idle-timeout);
- connections to a target that turns unhealthy are reset while the target group's
  target_health_state.unhealthy.connection_termination.enabled is true (the default), and those to a
  deregistered target once it has drained while deregistration_delay.connection_termination.enabled is
  true (false by default: they go on) (network/edit-target-group-attributes.html).
A listener whose port this machine cannot bind (in use by another program or another load balancer, or
privileged) is refused at CreateListener/ModifyListener with InvalidConfigurationRequest; one that cannot be
bound again after a restart is logged and left unbound. During a region drill its connections are reset,
as a load balancer of a failed region refuses them.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import Ports
from conveyor.services.elbv2 import errors
from conveyor.services.elbv2.catalog import BALANCER, LISTENER, TARGET_GROUP, Catalog, Resource, Target
from conveyor.services.elbv2.checker import AddressOf
from conveyor.services.elbv2.routing import RoundRobin, select_group

log = logging.getLogger("conveyor.elbv2")

HOST = "127.0.0.1"
CONNECT_TIMEOUT_S = 10.0  # a target that does not accept within this is treated as refusing
CHUNK = 64 * 1024
PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
Flow = tuple[asyncio.StreamWriter, asyncio.StreamWriter]  # (client end, target end) of one connection


def proxy_v2_header(client: tuple[str, int], local: tuple[str, int]) -> bytes:
    """A PROXY protocol v2 header for a TCP connection over IPv4 or IPv6 (haproxy's proxy-protocol.txt, 2.2)."""
    source, destination = ipaddress.ip_address(client[0]), ipaddress.ip_address(local[0])
    if source.version == 4 and destination.version == 4:
        family, addresses = 0x11, source.packed + destination.packed
    else:
        family, addresses = 0x21, _v6(source).packed + _v6(destination).packed
    body = addresses + struct.pack("!HH", client[1], local[1])
    return PROXY_V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(body)) + body


def _v6(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    return address if isinstance(address, ipaddress.IPv6Address) else ipaddress.IPv6Address(f"::ffff:{address}")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST), as a load balancer with nowhere to send a connection does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, touch: Callable[[], None]) -> None:
    """Copy until the reader's end closes, then pass the half-close on; `touch` on every chunk."""
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        touch()
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof() and not writer.is_closing():
        writer.write_eof()


class TcpListeners:
    def __init__(self, catalog: Callable[[], Catalog | None], ports: Ports, address_of: AddressOf,
                 clock: Clock) -> None:
        self._catalog = catalog
        self.ports = ports
        self.clock = clock
        self.address_of = address_of
        self.round_robin = RoundRobin()
        self._servers: dict[str, tuple[int, asyncio.Server]] = {}  # listener ARN -> (port, server)
        self._connections: set[asyncio.Task[Any]] = set()
        # target group ARN -> target key -> the open connections to it, as (client end, target end)
        self._flows: dict[str, dict[tuple[str, int], set[Flow]]] = {}

    # -- connections the targets' changes end ------------------------------------------------------------
    def target_changed(self, group_arn: str, target: Target) -> None:
        """(HealthChecker.changed) A target turned unhealthy: its connections end, unless the group keeps them."""
        group = self._group(group_arn)
        if (target.state == "unhealthy" and group is not None and group.attributes.get(
                "target_health_state.unhealthy.connection_termination.enabled", "true") == "true"):
            self._end(group_arn, [target.key])

    def group_changed(self, group_arn: str) -> None:
        """(TargetGroupOperations.changed) Targets gone from the group (drained): their connections end when
        the group says so."""
        group, catalog = self._group(group_arn), self._catalog()
        held = self._flows.get(group_arn)
        if not held or catalog is None:
            return
        if group is None or group.attributes.get("deregistration_delay.connection_termination.enabled") == "true":
            registered = catalog.group_targets(group_arn)
            self._end(group_arn, [key for key in held if key not in registered])

    def _group(self, group_arn: str) -> Resource | None:
        catalog = self._catalog()
        return catalog.get(group_arn, TARGET_GROUP) if catalog is not None else None

    def _end(self, group_arn: str, keys: list[tuple[str, int]]) -> None:
        held = self._flows.get(group_arn, {})
        for key in keys:
            for client_end, target_end in list(held.get(key, ())):
                _reset(client_end)
                target_end.transport.abort()

    def port_of(self, listener_arn: str) -> int | None:
        held = self._servers.get(listener_arn)
        return held[0] if held is not None else None

    async def open(self, listener_arn: str, port: int) -> None:
        """Bind the listener's port (a listener that has another port already moves to this one, the old
        one closed only once the new one is bound); InvalidConfigurationRequest when it cannot be bound."""
        held = self._servers.get(listener_arn)
        if held is not None and held[0] == port:
            return
        try:
            server = await asyncio.start_server(lambda r, w: self._accepted(listener_arn, r, w), HOST, port,
                                                reuse_address=True)
        except OSError as exc:
            reason = ("is in use on this machine" if exc.errno == errno.EADDRINUSE
                      else f"cannot be bound on this machine ({exc.strerror or exc})")
            raise errors.invalid_configuration(f"Port {port} {reason}: Conveyor's TCP listeners listen on their own "
                                               f"port of {HOST}") from None
        self._servers[listener_arn] = (port, server)
        if held is not None:
            held[1].close()

    def close(self, listener_arn: str) -> None:
        held = self._servers.pop(listener_arn, None)
        if held is not None:
            held[1].close()

    def close_each(self, listener_arns: list[str]) -> None:
        for arn in listener_arns:
            self.close(arn)

    def close_all(self) -> None:
        for arn in list(self._servers):
            self.close(arn)
        for task in list(self._connections):
            task.cancel()
        self._flows.clear()
        self.round_robin.clear()

    async def sync(self) -> None:
        """Bind the stored TCP listeners not bound yet (after a start), close those that are gone."""
        catalog = self._catalog()
        if catalog is None:
            return
        wanted = {r.arn: int(r.doc["Port"]) for r in catalog.resources.values()
                  if r.kind == LISTENER and r.doc.get("Protocol") == "TCP"}
        for arn in list(self._servers):
            if arn not in wanted:
                self.close(arn)
        for arn, port in wanted.items():
            try:
                await self.open(arn, port)
            except Exception as exc:  # noqa: BLE001 - one listener's port must not keep the others down
                log.warning("TCP listener %s is not served: %s", arn, exc)

    # -- connections -------------------------------------------------------------------------------------
    def _accepted(self, listener_arn: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = spawn(self._serve(listener_arn, reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    def _destination(self, listener_arn: str) -> tuple[Resource, Resource, Target, str] | None:
        """The listener, target group, target and its address the next connection of this listener goes to."""
        catalog = self._catalog()
        listener = catalog.get(listener_arn, LISTENER) if catalog is not None else None
        if catalog is None or listener is None:
            return None
        balancer = catalog.get(listener.doc["LoadBalancerArn"], BALANCER)
        outages = self.ports.outages
        if balancer is None or (outages is not None and outages.is_down(balancer.region)):
            return None
        action = next((a for a in listener.doc.get("DefaultActions") or [] if a.get("Type") == "forward"), None)
        group_arn = select_group(action, {}) if action is not None else None
        group = catalog.get(group_arn, TARGET_GROUP) if group_arn else None
        if group is None:
            return None
        target = self.round_robin.select(group, catalog.group_targets(group.arn), {},
                                         lambda t: self.address_of(group.region, group, t) is not None)
        address = self.address_of(group.region, group, target) if target is not None else None
        if target is None or address is None:
            return None
        return listener, group, target, address

    async def _serve(self, listener_arn: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        destination = self._destination(listener_arn)
        if destination is None:
            _reset(writer)
            return
        listener, group, target, address = destination
        port = target.port
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(address, port), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            log.info("target %s:%d of %s refused a TCP connection: %s", address, port, group.arn, exc)
            _reset(writer)
            return
        idle = float(listener.attributes.get("tcp.idle_timeout.seconds") or 350)
        last = [self.clock.now()]
        timer: list[TimerHandle | None] = [None]

        def touch() -> None:
            last[0] = self.clock.now()

        def watch() -> None:
            if self.clock.now() - last[0] >= idle:
                _reset(writer)
                up_writer.transport.abort()
                return
            timer[0] = self.clock.call_at(last[0] + idle, watch)

        timer[0] = self.clock.call_at(last[0] + idle, watch)
        flow = (writer, up_writer)
        flows = self._flows.setdefault(group.arn, {}).setdefault(target.key, set())
        flows.add(flow)
        try:
            if group.attributes.get("proxy_protocol_v2.enabled") == "true":
                client, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
                up_writer.write(proxy_v2_header((client[0], client[1]), (local[0], local[1])))
            await asyncio.gather(_pipe(reader, up_writer, touch), _pipe(up_reader, writer, touch))
        except (OSError, asyncio.IncompleteReadError):
            _reset(writer)
            up_writer.transport.abort()
            return
        finally:
            flows.discard(flow)
            if not flows:
                self._flows.get(group.arn, {}).pop(target.key, None)
            if timer[0] is not None:
                timer[0].cancel()
            for end in (writer, up_writer):
                if not end.is_closing():
                    end.close()
