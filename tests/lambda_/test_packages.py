"""Hostile deployment packages are refused; GetFunction's download URL works, and expires."""

from __future__ import annotations

import io
import json
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess, lambda_role
from tests.lambda_.conftest import ROLE, make_zip

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
HANDLER = "def lambda_handler(event, context):\n    return 'ok'\n"


def build(*entries: tuple[str, bytes | str], links: dict[str, str] | None = None,
          method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
        for name, pointee in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, pointee)
    return buf.getvalue()


def patch_central(package: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Rewrite one field of the (single) member's central directory record."""
    at = package.index(b"PK\x01\x02") + offset
    return package[:at] + struct.pack(fmt, value) + package[at + struct.calcsize(fmt):]


def create(lam: Any, name: str, package: bytes, **kwargs: Any) -> Any:
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                               Handler="lambda_function.lambda_handler", Code={"ZipFile": package}, **kwargs)


def refusal(lam: Any, package: bytes) -> Any:
    with pytest.raises(ClientError) as caught:
        create(lam, "hostile", package)
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        lam.get_function(FunctionName="hostile")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    return error


HOSTILE = {
    "file and directory of one name": build(("a", "x"), ("a/b", "y")),
    "directory entry over a file": build(("lib", "x"), ("lib/", "")),
    "climbing name": build(("lambda_function.py", HANDLER), ("../escaped.py", "x")),
    "deep climbing name": build(("pkg/../../escaped.py", "x")),
    "absolute name": build(("/tmp/escaped.py", "x")),
    "absolute link": build(("lambda_function.py", HANDLER), links={"passwd": "/etc/passwd"}),
    "climbing link": build(("lambda_function.py", HANDLER), links={"up": "../../.."}),
    # Lexically `x/a/..` stays inside; physically `x/a` is the package root, so its parent is outside.
    "link through a link": build(links={"x/a": "..", "y": "x/a/.."}),
    "link then a file through it": build(("lambda_function.py", HANDLER), ("out/f", "x"), links={"out": "/tmp"}),
    "name longer than the file system allows": build(("d" * 300, "x")),
    "bzip2 member": build(("lambda_function.py", HANDLER), method=zipfile.ZIP_BZIP2),
    "encrypted member": patch_central(build(("lambda_function.py", HANDLER)), 8, "<H", 0x1),
    # A member whose directory declares fewer bytes than its data holds: reading stops at the declared
    # size and the CRC then fails, so it cannot inflate past what was counted.
    "member larger than declared": patch_central(build(("big.bin", b"\0" * 1_000_000)), 24, "<I", 10),
    "not a zip": b"PK\x03\x04 truncated",
}


def test_hostile_packages_are_refused_and_leave_nothing_behind(start_server: Callable[..., ServerProcess],
                                                               tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    lambda_role(server.client("iam"))
    lam = server.client("lambda")
    code_dir = tmp_path / "data" / "lambda" / "code"
    for what, package in HOSTILE.items():
        error = refusal(lam, package)
        assert error["Message"].startswith(UNZIP_FAILED), (what, error)
        assert sorted(p.name for p in code_dir.iterdir()) == [], what
    assert not (tmp_path / "escaped.py").exists()
    # The server still takes a good package afterwards, and the same bytes twice reuse one tree.
    good = make_zip(HANDLER)
    create(lam, "good", good)
    create(lam, "twin", good)
    assert len([p for p in code_dir.iterdir() if p.is_dir()]) == 1
    assert json.loads(lam.invoke(FunctionName="twin")["Payload"].read()) == "ok"


def test_unzipped_size_limit_uses_the_declared_sizes(lam: Any) -> None:
    # 300 MB declared: refused before a byte is written, with Lambda's own message
    # (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
    package = patch_central(build(("lambda_function.py", HANDLER)), 24, "<I", 300 * 1024 * 1024)
    assert refusal(lam, package)["Message"] == "Unzipped size must be smaller than 262144000 bytes"


def test_links_inside_the_package_are_kept(lam: Any) -> None:
    package = build(("lib/real_helper.py", "VALUE = 'from a link'\n"),
                    ("lambda_function.py", "import helper\ndef lambda_handler(e, c):\n    return helper.VALUE\n"),
                    links={"helper.py": "lib/real_helper.py"})
    create(lam, "linked", package)
    assert json.loads(lam.invoke(FunctionName="linked")["Payload"].read()) == "from a link"


def test_code_location_downloads_the_package_until_it_expires(lam: Any, endpoint: str,
                                                              advance: Callable[[float], float]) -> None:
    first = make_zip(HANDLER)
    create(lam, "dl", first, Publish=True)
    second = make_zip("def lambda_handler(e, c):\n    return 'two'\n")
    lam.update_function_code(FunctionName="dl", ZipFile=second)
    location = lam.get_function(FunctionName="dl")["Code"]["Location"]
    assert location.startswith(endpoint + "/snapshots/000000000000/dl-")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=600" in location
    download = requests.get(location, timeout=10)
    assert download.status_code == 200 and download.content == second
    assert download.headers["Content-Type"] == "application/zip"
    old = requests.get(lam.get_function(FunctionName="dl", Qualifier="1")["Code"]["Location"], timeout=10)
    assert old.content == first
    advance(601)  # AWS's link is valid for 10 minutes
    assert requests.get(location, timeout=10).status_code == 403


def test_code_location_is_signed_under_sigv4(start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--auth", "sigv4")
    lambda_role(server.client("iam"))
    lam = server.client("lambda")
    package = make_zip(HANDLER)
    create(lam, "signed", package)
    location = lam.get_function(FunctionName="signed")["Code"]["Location"]
    assert str(tmp_path) not in location
    assert requests.get(location, timeout=10).content == package
    base, _, signature = location.rpartition("X-Amz-Signature=")
    forged = base + "X-Amz-Signature=" + ("0" if signature[0] != "0" else "1") + signature[1:]
    assert requests.get(forged, timeout=10).status_code == 403
    other = location.replace("/signed-", "/other-")
    assert requests.get(other, timeout=10).status_code == 403
