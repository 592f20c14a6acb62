"""A load balancer's surroundings: the default VPC's subnets (through EC2's API) and web servers to put
behind it, each on its own loopback address."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@pytest.fixture
def elb(client: Callable[..., Any]) -> Any:
    return client("elbv2")


@pytest.fixture
def network(client: Callable[..., Any]) -> dict[str, Any]:
    ec2 = client("ec2")
    return {"subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]],
            "vpc": ec2.describe_vpcs()["Vpcs"][0]["VpcId"]}


class WebServer:
    """A small web server on one loopback address: it answers its name, the request's path and headers,
    and which client port (connection) the request came on; /health answers `health_status` (0: it closes
    the connection without an answer, as a crashed server does)."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self.health_status = 200
        self.connections: set[int] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                if self.path.startswith("/health"):
                    if not server.health_status:
                        self.close_connection = True
                        return
                    self._send(server.health_status, b"ok")
                    return
                if self.path.startswith("/slow"):
                    time.sleep(3)
                server.connections.add(self.client_address[1])
                self._send(200, json.dumps({"name": server.name, "path": self.path,
                                            "headers": dict(self.headers.items())}).encode())

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._send(200, json.dumps({"name": server.name, "body": self.rfile.read(length).decode()}).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web_servers() -> Iterator[Callable[[str, str, int], WebServer]]:
    started: list[WebServer] = []

    def start(name: str, host: str, port: int) -> WebServer:
        server = WebServer(name, host, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def free_port_on(*hosts: str) -> int:
    """A port free on every one of the loopback addresses."""
    while True:
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for host in hosts[1:]:
                with socket.socket() as other:
                    other.bind((host, port))
            return port
        except OSError:
            continue
