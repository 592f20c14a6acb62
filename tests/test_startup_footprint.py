"""What `conveyor up` leaves out at start: the TLS certificate maker's `cryptography` (about 14 MiB) stays
out of the server's process, the certificate is judged by its record, and the databases a first start
makes are complete WAL files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import requests


def _mapped(pid: int) -> str:
    """The files mapped into the process: every native library it has imported."""
    return Path(f"/proc/{pid}/maps").read_text()


def test_a_started_server_serving_https_has_not_loaded_cryptography(start_server: Any, tmp_path: Path) -> None:
    ca = tmp_path / "data" / "tls" / "ca.pem"
    for _ in range(2):  # a first start (the CA is made) and a restart (it is reused)
        server = start_server(tmp_path / "data", port=0)
        assert server.process is not None
        assert requests.get(f"https://localhost:{server.port}/_conveyor/health", verify=str(ca),
                            timeout=10).status_code == 200
        maps = _mapped(server.process.pid)
        assert "cryptography" not in maps
        assert server.stop() == 0


def test_a_server_certificate_that_no_longer_fits_is_made_anew_with_the_same_ca(start_server: Any,
                                                                                tmp_path: Path) -> None:
    tls = tmp_path / "data" / "tls"
    server = start_server(tmp_path / "data")
    ca, cert = (tls / "ca.pem").read_bytes(), (tls / "server.pem").read_bytes()
    server.stop()
    # Unchanged: kept as it is.
    server = start_server(tmp_path / "data", port=server.port)
    assert (tls / "server.pem").read_bytes() == cert
    server.stop()
    # A record that says it nears its end: the certificate itself is checked (it is fit), kept, and the
    # record written anew from it.
    record = json.loads((tls / "server.json").read_text())
    (tls / "server.json").write_text(json.dumps(record | {"not_after": "2000-01-01T00:00:00+00:00"}))
    server = start_server(tmp_path / "data", port=server.port)
    assert (tls / "server.pem").read_bytes() == cert
    assert json.loads((tls / "server.json").read_text()) == record
    server.stop()
    # Its key gone: made anew, signed by the same CA, and served.
    (tls / "server-key.pem").unlink()
    server = start_server(tmp_path / "data", port=server.port)
    assert (tls / "ca.pem").read_bytes() == ca
    assert (tls / "server.pem").read_bytes() != cert
    assert requests.get(f"https://localhost:{server.port}/_conveyor/health", verify=str(tls / "ca.pem"),
                        timeout=10).status_code == 200


def test_databases_made_at_a_first_start_are_complete_and_in_wal_mode(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="first")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    server.client("dynamodb").list_tables()  # a service is started (its database made) on its first request
    server.kill()
    databases = sorted((tmp_path / "data").rglob("*.db"))
    assert {path.parent.name for path in databases} >= {"sqs", "dynamodb"}
    assert not list((tmp_path / "data").rglob("*.db.new"))  # no build left half-done
    for path in databases:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", path
            assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1, path
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", path
    server = start_server(tmp_path / "data", port=server.port)
    sqs = server.client("sqs")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url).get("Messages", [])] == ["kept"]
