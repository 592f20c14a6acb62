"""Shared fixtures: a live Conveyor on a free port, boto3 clients, the AWS CLI and the manual clock."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.response import StreamingBody

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import serve_in_thread

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
CLI_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_PAGER": "",
}

os.environ.update(CLI_ENV)
# Every server a test starts (in process or as `conveyor up`) puts Route 53's DNS server on a free port, so that
# parallel runs never contend for the default one; GET /_conveyor/route53 says which.
os.environ["CONVEYOR_DNS_PORT"] = "0"

# A function's execution role, as users create it before their first function: Lambda refuses a role
# that does not exist or does not trust lambda.amazonaws.com.
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def lambda_role(iam: Any, name: str = "r") -> str:
    """Create the execution role `name` (if missing); returns its ARN."""
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One in-process server for the whole session, on a manual clock (tests move time explicitly)."""
    data_dir = tmp_path_factory.mktemp("conveyor-data")
    app = App(Config(data_dir=data_dir, port=0, clock="manual", auth="off"))
    with serve_in_thread(app) as url:
        yield url


def post_json(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(autouse=True)
def reset(request: pytest.FixtureRequest) -> None:
    """Every test that uses the shared server starts from an empty one."""
    if "endpoint" in request.fixturenames:
        post_json(f"{request.getfixturevalue('endpoint')}/_conveyor/reset")


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], float]:
    """Move the server's clock forward; returns the server's new time."""

    def move(seconds: float) -> float:
        return post_json(f"{endpoint}/_conveyor/clock", {"advance": seconds})["now"]

    return move


def read_streams_whole(client: Any) -> Any:
    """Have `client` read each streaming body (an Invoke's Payload, a GetObject's Body) as it arrives,
    handing it on as a StreamingBody all the same: a test that never reads one would leave its connection
    for the garbage collector to find open (a ResourceWarning, which the suite treats as an error)."""

    def read_whole(parsed: dict[str, Any], **_: Any) -> None:
        for name, value in list(parsed.items()):
            if isinstance(value, StreamingBody):
                data = value.read()
                value.close()
                parsed[name] = StreamingBody(io.BytesIO(data), len(data))

    client.meta.events.register("after-call.*.*", read_whole)
    return client


@pytest.fixture
def client(endpoint: str) -> Callable[..., Any]:
    """boto3 client factory for the shared server: client("s3"), client("sqs", config=...)."""

    def make(service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("config", BotoConfig(retries={"max_attempts": 1}))
        return read_streams_whole(boto3.client(service, endpoint_url=endpoint, **CREDENTIALS, **kwargs))

    return make


def run_aws(endpoint: str, *args: str, check: bool = True, input: bytes | None = None) -> Any:
    """Run the AWS CLI against `endpoint`; parsed JSON when it prints JSON, else the text."""
    command = ["aws", "--endpoint-url", endpoint, "--output", "json", *args]
    result = subprocess.run(command, capture_output=True, env={**os.environ, **CLI_ENV}, input=input, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()}")
    text = result.stdout.decode()
    if not check:
        return result
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text


@pytest.fixture
def aws(endpoint: str) -> Callable[..., Any]:
    return lambda *args, **kwargs: run_aws(endpoint, *args, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A `conveyor up` in its own process, for kill -9 and restart tests."""

    data_dir: Path
    options: tuple[str, ...]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None  # the server's environment (default: the tests')
    cwd: Path | None = None
    console: Path | None = None  # where its stdout goes (read it as it grows); default: a pipe

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.port = self.port or free_port()
        command = [sys.executable, "-m", "conveyor.cli", "up", "--port", str(self.port),
                   "--data-dir", str(self.data_dir), *self.options]
        if "--pipeline" not in self.options and "--with-pipeline" not in self.options:
            command.append("--bare")
        command = [part for part in command if part != "--with-pipeline"]
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()  # a restart: the previous run's console pipe is done with
        output: Any = open(self.console, "ab") if self.console else subprocess.PIPE  # noqa: SIM115
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
        if self.console:
            output.close()  # the server holds its own copy
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = self.console.read_text() if self.console else self.process.stdout.read().decode()  # type: ignore[union-attr]
                raise RuntimeError(f"server exited: {said}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/_conveyor/health", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not come up")

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(20)
        return self.process.returncode if self.process else 0

    def client(self, service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("config", BotoConfig(retries={"max_attempts": 1}))
        return read_streams_whole(boto3.client(service, endpoint_url=self.endpoint, **CREDENTIALS, **kwargs))

    def close(self) -> None:
        """Kill it if it still runs, and close the pipe of its console (tests read it until the end)."""
        self.kill()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(data_dir: Path | None = None, *options: str, port: int = 0, env: dict[str, str] | None = None,
              cwd: Path | None = None, console: Path | None = None) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", options, port, env=env, cwd=cwd, console=console)
        started.append(server)  # before it starts: one that does not come up is killed all the same
        return server.start()

    yield start
    for server in started:
        server.close()
