"""The function registry: configurations, code packages, policies, tags and concurrency, durable in SQLite.

Each function is one JSON document (its $LATEST configuration plus published versions, tags, resource
policy, reserved concurrency and event-invoke config); event source mappings and pending asynchronous
events have their own tables. Code zips are content-addressed files under `code/<sha256>.zip`, written
to a temporary name, fsynced and renamed, and extracted once per digest for execution environments.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sys
import uuid
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskFull, DiskGuard, is_disk_full
from conveyor.wire import ServiceError

MIGRATIONS = [
    """
    CREATE TABLE functions (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE mappings (uuid TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE async_events (id TEXT PRIMARY KEY, doc TEXT NOT NULL)
    """,
]

_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([a-zA-Z0-9-_]+)(?::([a-zA-Z0-9-_$]+))?$")
_PARTIAL = re.compile(r"^(\d{12}):function:([a-zA-Z0-9-_]+)(?::([a-zA-Z0-9-_$]+))?$")
MAX_ZIP = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 404)


def conflict(message: str) -> ServiceError:
    return ServiceError("ResourceConflictException", message, 409)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400)


def timestamp(when: float) -> str:
    """Lambda's LastModified format: 2024-05-01T12:00:00.000+0000."""
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def parse_name(ref: str, account: str) -> tuple[str, str | None]:
    """A FunctionName may be a name, `name:qualifier`, a full ARN or a partial `ACCOUNT:function:NAME`."""
    m = _ARN.match(ref)
    if m:
        if m.group(2) != account:
            raise not_found(f"Function not found: {ref}")
        return m.group(3), m.group(4)
    m = _PARTIAL.match(ref)
    if m:
        return m.group(2), m.group(3)
    name, _, qualifier = ref.partition(":")
    if not _NAME.match(name) or (qualifier and not re.match(r"^[a-zA-Z0-9-_$]{1,128}$", qualifier)):
        raise ServiceError("ValidationException", f"1 validation error detected: Value '{ref}' at 'functionName' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                           "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                           "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", 400)
    return name, qualifier or None


@dataclass
class Function:
    name: str
    config: dict[str, Any]  # $LATEST FunctionConfiguration, as the API returns it
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1" -> configuration
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    policy: list[dict[str, Any]] = field(default_factory=list)
    reserved: int | None = None
    invoke_config: dict[str, Any] | None = None
    generation: int = 0  # bumped by every code/config change so warm environments are recycled
    policy_revision: str = ""

    @property
    def arn(self) -> str:
        return self.config["FunctionArn"]

    @property
    def region(self) -> str:
        """The region of the request that created it (its ARN says so)."""
        return self.arn.split(":")[3]

    def doc(self) -> str:
        return json.dumps({"name": self.name, "config": self.config, "versions": self.versions,
                           "aliases": self.aliases, "tags": self.tags, "policy": self.policy,
                           "reserved": self.reserved, "invoke_config": self.invoke_config,
                           "generation": self.generation, "policy_revision": self.policy_revision})

    @classmethod
    def load(cls, doc: str) -> Function:
        return cls(**json.loads(doc))

    def resolve(self, qualifier: str | None) -> dict[str, Any]:
        """The configuration a qualifier names: $LATEST, a version number or an alias."""
        if qualifier in (None, "", "$LATEST"):
            return self.config
        if qualifier in self.aliases:
            qualifier = self.aliases[qualifier]["FunctionVersion"]
            if qualifier == "$LATEST":
                return self.config
        config = self.versions.get(str(qualifier))
        if config is None:
            raise not_found(f"Function not found: {self.arn}:{qualifier}")
        return config


class CodeStore:
    """Content-addressed zips and their extracted trees."""

    def __init__(self, root: Path, disk: DiskGuard | None = None) -> None:
        self.root = root
        self.disk = disk
        root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> tuple[str, str, int]:
        """Store a zip; returns (hex digest, base64 CodeSha256, CodeSize)."""
        if len(data) > MAX_ZIP:
            raise ServiceError("RequestEntityTooLargeException",
                               f"Request must be smaller than {MAX_ZIP} bytes for the CreateFunction operation", 413)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                total = sum(i.file_size for i in zf.infolist())
                names = zf.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
        if total > MAX_UNZIPPED:
            raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        for name in names:
            parts = Path(name).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise invalid(f"Could not unzip uploaded file: unsafe path {name!r} in the archive.")
        digest = hashlib.sha256(data)
        hexd = digest.hexdigest()
        path = self.root / f"{hexd}.zip"
        if not path.exists():
            if self.disk is not None:
                self.disk.check_room()
            tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                if not is_disk_full(exc):
                    raise
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
        return hexd, base64.b64encode(digest.digest()).decode(), len(data)

    def read(self, hexd: str) -> bytes:
        return (self.root / f"{hexd}.zip").read_bytes()

    def extracted(self, hexd: str) -> Path:
        """The code tree for a digest, extracted on first use (atomically, so a crash leaves no half tree)."""
        target = self.root / hexd
        if target.is_dir():
            return target
        tmp = self.root / f"{hexd}.{uuid.uuid4().hex}.extract"
        try:
            with zipfile.ZipFile(self.root / f"{hexd}.zip") as zf:
                for info in zf.infolist():
                    dest = (tmp / info.filename).resolve()
                    if not str(dest).startswith(str(tmp.resolve())):
                        continue  # refused at upload already; never escape the tree
                    zf.extract(info, tmp)
                    mode = info.external_attr >> 16
                    if mode and not info.is_dir():
                        os.chmod(dest, mode & 0o755 | 0o400)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # no half tree left behind
            if isinstance(exc, OSError) and is_disk_full(exc):
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
            raise
        try:
            os.replace(tmp, target)
        except OSError:  # another extraction won the race
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def wipe(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)


# Runtimes AWS no longer lets anyone create or update functions with
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-deprecated).
_BLOCKED = {"python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs4.3-edge",
            "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x"}
_NODE_OK = re.compile(r"^nodejs(\d+)\.x$")


def runtime_command(runtime: str) -> list[str] | None:
    """The interpreter a runtime runs on here, or None when this machine has none for it.

    python3.x runs on the interpreter running Conveyor; nodejsNN.x on the `node` found on PATH. Either
    way the version is the local one, not the one the runtime names.
    """
    if runtime.startswith("python3."):
        return [sys.executable]
    m = _NODE_OK.match(runtime)
    if m and int(m.group(1)) >= 18:
        node = shutil.which("node")
        return [node] if node else None
    return None


def check_runtime(runtime: str | None) -> None:
    if runtime is None:
        raise invalid("Runtime is required for .zip file deployment packages.")
    if runtime in _BLOCKED:
        raise invalid(f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS "
                      "Lambda functions. We recommend you use a supported runtime while creating or updating "
                      "functions.")
    if runtime_command(runtime) is None:
        node = "" if shutil.which("node") else " (no `node` on PATH, so nodejs runtimes cannot run either)"
        raise invalid(f"The runtime parameter of {runtime} is not supported by Conveyor: functions run as local "
                      f"processes on this machine's interpreters, python3.x on Python {sys.version.split()[0]} "
                      f"and nodejs18.x or later on the local Node.js{node}.")


def check_config(params: dict[str, Any]) -> None:
    """Settings Conveyor cannot honour are refused, never silently ignored."""
    timeout = params.get("Timeout")
    if timeout is not None and not 1 <= timeout <= 900:
        raise invalid(f"Timeout must be between 1 and 900 seconds, not {timeout}.")
    memory = params.get("MemorySize")
    if memory is not None and not 128 <= memory <= 10240:
        raise invalid(f"'MemorySize' value failed to satisfy constraint: Member must have value between 128 "
                      f"and 10240, not {memory}.")
    if params.get("PackageType") == "Image":
        raise invalid("Conveyor runs .zip packages only (PackageType Image needs a container runtime).")
    if params.get("Layers"):
        raise invalid("Conveyor does not support layers: include the libraries in the deployment package.")
    if params.get("FileSystemConfigs"):
        raise invalid("Conveyor does not support EFS file systems for functions.")
    vpc = params.get("VpcConfig") or {}
    if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"):
        raise invalid("Conveyor does not support VPC configuration: functions run on this machine's network.")
    if (params.get("TracingConfig") or {}).get("Mode") == "Active":
        raise invalid("Conveyor does not support active X-Ray tracing.")
    arch = params.get("Architectures")
    if arch and len(arch) != 1:
        raise invalid("Architectures must name exactly one architecture.")
    dlq = (params.get("DeadLetterConfig") or {}).get("TargetArn")
    if dlq and not dlq.startswith(("arn:aws:sqs:", "arn:aws:sns:")):
        raise invalid(f"The DeadLetterConfig target {dlq} must be an SQS queue or SNS topic ARN.")
    variables = (params.get("Environment") or {}).get("Variables") or {}
    if len(json.dumps(variables)) > 4096:
        raise invalid("Lambda was unable to configure your environment variables because the environment "
                      "variables you have provided exceeded the 4KB limit.")
    for key in variables:
        if not re.match(r"^[a-zA-Z]([a-zA-Z0-9_])*$", key):
            raise invalid(f"Environment variable name {key!r} is not valid.")


class Registry:
    """Functions by name, mirrored in SQLite: every change is durable before the API answers."""

    def __init__(self, root: Path, region: str = "us-east-1", disk: DiskGuard | None = None) -> None:
        self.root = root
        self.region = region
        self.disk = disk
        self.db: Database | None = None
        self.code = CodeStore(root / "code", disk)
        self.functions: dict[str, Function] = {}
        self._committed: dict[str, str] = {}  # name -> the function's document as last committed

    def open(self) -> None:
        self.db = Database(self.root / "lambda.db", MIGRATIONS, self.disk)
        for (doc,) in self.db.query("SELECT doc FROM functions"):
            fn = Function.load(doc)
            self.functions[fn.name] = fn
            self._committed[fn.name] = doc

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    async def reset(self) -> None:
        assert self.db is not None
        self.functions.clear()
        self._committed.clear()

        def wipe(c: Any) -> None:
            for table in ("functions", "mappings", "async_events"):
                c.execute(f"DELETE FROM {table}")

        await self.db.write(wipe)
        self.code.wipe()

    def get(self, ref: str, account: str, region: str | None = None) -> tuple[Function, str | None]:
        """The function a name, partial ARN or ARN names. A function lives in one region: a name looks
        in `region` (the request's; None: any), an ARN in the region it names."""
        name, qualifier = parse_name(ref, account)
        arn_match = _ARN.match(ref)
        wanted = arn_match.group(1) if arn_match else region
        fn = self.functions.get(name)
        if fn is None or (wanted is not None and fn.region != wanted):
            arn = ref if ref.startswith("arn:") else f"arn:aws:lambda:{wanted or self.region}:{account}:function:{ref}"
            raise not_found(f"Function not found: {arn}")
        return fn, qualifier

    async def save(self, fn: Function) -> None:
        """Store a function the caller has just changed in memory. If the write fails (a full disk), the
        function is put back exactly as it was last committed, or forgotten if it never was."""
        assert self.db is not None
        doc = fn.doc()
        self.functions[fn.name] = fn
        try:
            await self.db.execute("INSERT OR REPLACE INTO functions (name, doc) VALUES (?, ?)", (fn.name, doc))
        except Exception:
            self._restore(fn)
            raise
        self._committed[fn.name] = doc

    def _restore(self, fn: Function) -> None:
        committed = self._committed.get(fn.name)
        if committed is None:
            if self.functions.get(fn.name) is fn:
                del self.functions[fn.name]
            return
        before = Function.load(committed)
        for f in fields(Function):
            setattr(fn, f.name, getattr(before, f.name))

    async def delete(self, fn: Function) -> None:
        assert self.db is not None
        await self.db.execute("DELETE FROM functions WHERE name = ?", (fn.name,), grows=False)
        if self.functions.get(fn.name) is fn:
            del self.functions[fn.name]
        self._committed.pop(fn.name, None)

    @staticmethod
    def new_revision(config: dict[str, Any], now: float) -> None:
        config["RevisionId"] = str(uuid.uuid4())
        config["LastModified"] = timestamp(now)
