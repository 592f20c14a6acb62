"""Network Load Balancers as TCP pass-through, through raw sockets: a TCP listener binds its own loopback
port and carries bytes both ways, unchanged, to healthy targets in turn; half-closes pass through; a port
this machine cannot bind is refused in AWS's shape; no target (or a region drill) means a reset connection; PROXY
protocol v2 when the target group asks; the port is bound again after a restart and closed with its listener."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import free_port
from tests.elbv2.conftest import free_port_on
from tests.helpers import wait_for


class EchoServer:
    """A raw TCP server on one loopback address: it answers `NAME:` then every byte it receives, and closes
    its side once the client has finished sending (so a half-close is seen to pass)."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name.encode()
        self.first_bytes: list[bytes] = []
        self.sock = socket.create_server((host, port))
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(self.name + b":")
                first = True
                while data := conn.recv(65536):
                    if first:
                        self.first_bytes.append(data)
                        first = False
                    conn.sendall(data)
            except OSError:
                pass  # a health check's connection, closed as soon as it opened

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, so the port really closes
        except OSError:
            pass
        self.sock.close()


@pytest.fixture
def echo_servers() -> Iterator[Callable[[str, str, int], EchoServer]]:
    started: list[EchoServer] = []

    def start(name: str, host: str, port: int) -> EchoServer:
        started.append(EchoServer(name, host, port))
        return started[-1]

    yield start
    for server in started:
        server.close()


def exchange(port: int, payload: bytes) -> bytes:
    """Connect to the listener, send, half-close, read everything until the other side closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(65536):
            received += data
        return received


def make_nlb(elb: Any, network: dict[str, Any], name: str, group_port: int, **group: Any) -> tuple[str, str]:
    balancer = elb.create_load_balancer(Name=name, Type="network", Subnets=network["subnets"][:1])[
        "LoadBalancers"][0]["LoadBalancerArn"]
    settings = {"Protocol": "TCP", "Port": group_port, "VpcId": network["vpc"], "TargetType": "ip",
                "HealthCheckIntervalSeconds": 10, "HealthyThresholdCount": 2, **group}
    target_group = elb.create_target_group(Name=name, **settings)["TargetGroups"][0]["TargetGroupArn"]
    return balancer, target_group


def states(elb: Any, group: str) -> dict[str, str]:
    found = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    return {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in found}


def test_tcp_pass_through_round_robin_over_healthy_targets(
        elb: Any, network: dict[str, Any], advance: Callable[[float], float],
        echo_servers: Callable[[str, str, int], EchoServer]) -> None:
    port = free_port_on("127.0.0.31", "127.0.0.32")
    one, two = echo_servers("one", "127.0.0.31", port), echo_servers("two", "127.0.0.32", port)
    balancer, group = make_nlb(elb, network, "tcp-echo", port)
    listen_port = free_port()
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=listen_port, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]
    assert listener["Port"] == listen_port
    # No target yet: the connection is reset, as a load balancer with nowhere to send it does.
    with pytest.raises(OSError):
        exchange(listen_port, b"anyone?")
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.31"}, {"Id": "127.0.0.32"}])
    advance(10)
    wait_for(lambda: states(elb, group) == {"127.0.0.31": "healthy", "127.0.0.32": "healthy"},
             what="both targets healthy by TCP health checks")
    # Bytes both ways, unchanged (binary included), one target a connection, in turn.
    payload = bytes(range(256)) * 300
    answers = [exchange(listen_port, payload) for _ in range(6)]
    assert sorted(a[:4] for a in answers) == [b"one:"] * 3 + [b"two:"] * 3
    assert all(a[4:] == payload for a in answers)
    # One target stops answering: after two failed checks it is unhealthy and gets no connections.
    two.close()
    advance(10)
    advance(10)
    wait_for(lambda: states(elb, group)["127.0.0.32"] == "unhealthy", what="the stopped target unhealthy")
    assert {exchange(listen_port, b"x")[:4] for _ in range(4)} == {b"one:"}
    assert one.first_bytes[0] == payload[:len(one.first_bytes[0])]


def drill(action: str, endpoint: str) -> None:
    subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", action, "us-east-1", "--endpoint", endpoint],
                   capture_output=True, text=True, timeout=60, check=True)


def test_ports_refusals_proxy_protocol_drill_and_removal(
        elb: Any, network: dict[str, Any], advance: Callable[[float], float], endpoint: str,
        echo_servers: Callable[[str, str, int], EchoServer]) -> None:
    port = free_port_on("127.0.0.33")
    target = echo_servers("pp", "127.0.0.33", port)
    balancer, group = make_nlb(elb, network, "tcp-proxy", port)
    # A port another program holds: refused in AWS's shape, nothing stored.
    with socket.create_server(("127.0.0.1", 0)) as taken:
        taken_port = taken.getsockname()[1]
        with pytest.raises(ClientError) as raised:
            elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=taken_port, DefaultActions=[
                {"Type": "forward", "TargetGroupArn": group}])
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidConfigurationRequest"
    assert error["Message"].startswith(f"Port {taken_port} is in use on this machine")
    assert elb.describe_listeners(LoadBalancerArn=balancer)["Listeners"] == []
    # The target group asks for PROXY protocol v2: the target reads the header, then the client's bytes.
    elb.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])
    listen_port = free_port()
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=listen_port, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"]
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.33"}])
    advance(10)
    wait_for(lambda: states(elb, group) == {"127.0.0.33": "healthy"}, what="the target healthy")
    with socket.create_connection(("127.0.0.1", listen_port), timeout=10) as sock:
        client_port = sock.getsockname()[1]
        sock.sendall(b"hello")
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(65536):
            received += data
    header = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", 12) + socket.inet_aton("127.0.0.1") * 2 + \
        struct.pack("!HH", client_port, listen_port)
    assert received == b"pp:" + header + b"hello"
    # Moving the listener to another port closes the old one.
    moved_port = free_port()
    elb.modify_listener(ListenerArn=listener, Port=moved_port)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", listen_port), timeout=5).close()
    assert exchange(moved_port, b"again").endswith(b"again")
    # A region drill: the failed region's load balancer resets connections, and serves again once it is up.
    drill("region-down", endpoint)
    try:
        with pytest.raises(OSError):
            exchange(moved_port, b"down?")
    finally:
        drill("region-up", endpoint)
    assert exchange(moved_port, b"up").endswith(b"up")
    # Deleting the load balancer closes its listeners' ports.
    elb.delete_load_balancer(LoadBalancerArn=balancer)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", moved_port), timeout=5).close()
    assert target.first_bytes


def test_tcp_listener_is_bound_again_after_kill_9(start_server: Callable[..., Any]) -> None:
    server = start_server()
    elb, ec2 = server.client("elbv2"), server.client("ec2")
    network = {"subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]],
               "vpc": ec2.describe_vpcs()["Vpcs"][0]["VpcId"]}
    port = free_port_on("127.0.0.34")
    echo = EchoServer("kept", "127.0.0.34", port)
    try:
        balancer, group = make_nlb(elb, network, "tcp-kept", port, HealthCheckEnabled=True)
        listen_port = free_port()
        elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=listen_port, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group}])
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.34"}])
        server.kill()
        server.start()
        # Fails open while the first checks run, then serves the healthy target: either way it answers.
        wait_for(lambda: _answers(listen_port), what="the listener bound again after the restart")
        assert exchange(listen_port, b"back") == b"kept:back"
    finally:
        echo.close()


def _answers(port: int) -> bool:
    try:
        return exchange(port, b"?") == b"kept:?"
    except OSError:
        return False


ECHO_INSTANCE = r'''#!/bin/bash
base="${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}/latest"
token=$(curl -s -X PUT "$base/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
ip=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$base/meta-data/local-ipv4")
id=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$base/meta-data/instance-id")
exec PYTHON - "$ip" "$id" PORT <<'PY'
import socket, sys, threading
ip, instance_id, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def echo(conn):
    with conn:
        try:
            conn.sendall(instance_id.encode() + b":")
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
server = socket.create_server((ip, port))
while True:
    threading.Thread(target=echo, args=(server.accept()[0],), daemon=True).start()
PY
'''


def test_instance_targets_behind_a_tcp_listener(client: Callable[..., Any], network: dict[str, Any],
                                                advance: Callable[[float], float]) -> None:
    """Instances (each on its own loopback address, found by the instance metadata) running a raw TCP echo
    server: the listener passes connections to each in turn once their TCP health checks pass."""
    elb, ec2 = client("elbv2"), client("ec2")
    port = free_port()
    script = ECHO_INSTANCE.replace("PYTHON", sys.executable).replace("PORT", str(port))
    launched = ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=2, MaxCount=2,
                                 UserData=script)["Instances"]
    ids = sorted(i["InstanceId"] for i in launched)
    try:
        balancer, group = make_nlb(elb, network, "tcp-instances", port, TargetType="instance")
        listen_port = free_port()
        elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=listen_port, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group}])

        def running() -> bool:
            found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
            return all(i["State"]["Name"] == "running" for r in found for i in r["Instances"])

        wait_for(running, what="both instances running")
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": i} for i in ids])

        def healthy() -> bool:
            advance(10)  # each round of checks; the servers may still be starting
            return set(states(elb, group).values()) == {"healthy"}

        wait_for(healthy, interval=0.5, what="both instances healthy by TCP health checks")
        answers = [exchange(listen_port, b"ping") for _ in range(4)]
        assert sorted(a.split(b":")[0].decode() for a in answers) == sorted(ids * 2)
        assert all(a.endswith(b":ping") for a in answers)
    finally:
        ec2.terminate_instances(InstanceIds=ids)


def read(sock: socket.socket, size: int) -> bytes:
    """Exactly `size` bytes (an answer may come in several pieces)."""
    received = b""
    while len(received) < size and (data := sock.recv(size - len(received))):
        received += data
    return received


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_idle_connections_are_reset_after_the_listeners_idle_timeout(
        elb: Any, network: dict[str, Any], advance: Callable[[float], float],
        echo_servers: Callable[[str, str, int], EchoServer]) -> None:
    port = free_port_on("127.0.0.35")
    echo_servers("idle", "127.0.0.35", port)
    balancer, group = make_nlb(elb, network, "tcp-idle", port)
    listen_port = free_port()
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=listen_port, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": group}])["Listeners"][0]["ListenerArn"]
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.35"}])
    with socket.create_connection(("127.0.0.1", listen_port), timeout=10) as sock:
        sock.sendall(b"a")
        assert read(sock, 6) == b"idle:a"
        advance(349)  # under the default 350 s: still open, and the traffic starts the count again
        sock.sendall(b"b")
        assert read(sock, 1) == b"b"
        advance(349)
        sock.sendall(b"c")
        assert read(sock, 1) == b"c"
        advance(351)
        wait_for(lambda: _closed(sock), what="the idle connection reset")
    elb.modify_listener_attributes(ListenerArn=listener, Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "60"}])
    with socket.create_connection(("127.0.0.1", listen_port), timeout=10) as sock:
        sock.sendall(b"d")
        assert read(sock, 6) == b"idle:d"
        advance(61)
        wait_for(lambda: _closed(sock), what="reset after the listener's own timeout")
    with pytest.raises(ClientError) as raised:
        elb.modify_listener_attributes(ListenerArn=listener, Attributes=[
            {"Key": "tcp.idle_timeout.seconds", "Value": "59"}])
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_connections_end_with_unhealthy_or_drained_targets_as_the_group_says(
        elb: Any, network: dict[str, Any], advance: Callable[[float], float],
        echo_servers: Callable[[str, str, int], EchoServer]) -> None:
    """Each target serves on one port and answers health checks on another, so a failing health check leaves
    its established connections up to the load balancer."""
    port = free_port_on("127.0.0.36", "127.0.0.37")
    for name, address in (("a", "127.0.0.36"), ("b", "127.0.0.37")):
        echo_servers(name, address, port)
    health_port = free_port_on("127.0.0.36", "127.0.0.37")  # another one: the first is taken now
    checks = {address: echo_servers("check", address, health_port) for address in ("127.0.0.36", "127.0.0.37")}
    balancer, group = make_nlb(elb, network, "tcp-ends", port, HealthCheckPort=str(health_port))
    listen_port = free_port()
    elb.create_listener(LoadBalancerArn=balancer, Protocol="TCP", Port=listen_port, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": group}])
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.36"}, {"Id": "127.0.0.37"}])
    advance(10)
    wait_for(lambda: set(states(elb, group).values()) == {"healthy"}, what="both healthy")

    def connect() -> tuple[socket.socket, str]:
        sock = socket.create_connection(("127.0.0.1", listen_port), timeout=10)
        sock.sendall(b"?")
        return sock, read(sock, 3).decode()[0]

    def fail_checks(address: str) -> None:
        checks[address].close()
        advance(10)
        advance(10)
        wait_for(lambda: states(elb, group)[address] == "unhealthy", what=f"{address} unhealthy")

    # Unhealthy: its connections are reset (target_health_state.unhealthy.connection_termination.enabled).
    first, name = connect()
    address = {"a": "127.0.0.36", "b": "127.0.0.37"}[name]
    fail_checks(address)
    wait_for(lambda: _closed(first), what="the unhealthy target's connection reset")
    first.close()
    # With the attribute off, a connection to a target that turns unhealthy goes on.
    elb.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
        {"Key": "target_health_state.unhealthy.connection_termination.enabled", "Value": "false"}])
    other = "127.0.0.37" if address == "127.0.0.36" else "127.0.0.36"
    second, _ = connect()  # to the healthy one
    fail_checks(other)
    second.sendall(b"still")
    assert read(second, 5) == b"still"
    # Deregistered with connection termination: reset once the deregistration delay has passed.
    elb.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
        {"Key": "deregistration_delay.connection_termination.enabled", "Value": "true"},
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
    elb.deregister_targets(TargetGroupArn=group, Targets=[{"Id": other}])
    advance(20)
    second.sendall(b"draining")
    assert read(second, 8) == b"draining"  # still within the delay
    advance(11)
    wait_for(lambda: _closed(second), what="the drained target's connection reset")
    second.close()
