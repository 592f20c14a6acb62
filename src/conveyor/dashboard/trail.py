"""Recent uploads and their path through the pipeline, and the tail of the code runners' logs.

Both are gathered as things happen, at no cost to anyone else: the gateway tells the dashboard about
each S3 request it answered (an upload to a key a notification watches; the copy that moves it), and
the log sink in front of CloudWatch Logs (`LogTee`) passes each line of the workers and functions on.
The built-in mover logs `Processing: KEY` and, on failure, `Failed: ...` (conveyor.runtime.mover): an
upload goes uploaded -> processing (by which worker) -> processed (the copy to its destination) or
failed, each step with the time the server's clock said.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from conveyor.ports import LogSink

MAX_UPLOADS = 20
MAX_LINES = 200
PROCESSING = "Processing: "
FAILED = "Failed: "


@dataclass
class Upload:
    bucket: str
    key: str
    size: int | None
    at: float
    state: str = "uploaded"  # uploaded, processing, failed, processed
    steps: list[dict[str, Any]] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "size": self.size, "at": self.at, "state": self.state,
                "steps": self.steps}


@dataclass(frozen=True)
class LogLine:
    at: float
    group: str
    stream: str
    message: str

    def doc(self) -> dict[str, Any]:
        return {"at": self.at, "group": self.group, "stream": self.stream, "message": self.message}


class Trail:
    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.uploads: OrderedDict[tuple[str, str], Upload] = OrderedDict()
        self.lines: deque[LogLine] = deque(maxlen=MAX_LINES)

    def clear(self) -> None:
        self.uploads.clear()
        self.lines.clear()

    # -- S3, as the gateway saw it ---------------------------------------------------------------------
    def uploaded(self, bucket: str, key: str, size: int | None, watched: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        """An object was stored; followed when a notification of its bucket watches its key."""
        filters = watched.get(bucket)
        if not filters or not any(key.startswith(p) and key.endswith(s) for p, s in filters):
            return
        now = self.now()
        upload = Upload(bucket, key, size, now, steps=[{"step": "uploaded", "at": now}])
        self.uploads.pop((bucket, key), None)
        self.uploads[(bucket, key)] = upload
        while len(self.uploads) > MAX_UPLOADS:
            self.uploads.popitem(last=False)

    def copied(self, bucket: str, copy_source: str, target_key: str) -> None:
        """A CopyObject: when its source is a followed upload, that upload reached its destination."""
        source = unquote(copy_source).lstrip("/").split("?versionId=", 1)[0]
        source_bucket, _, source_key = source.partition("/")
        upload = self.uploads.get((source_bucket, source_key))
        if upload is not None:
            upload.state = "processed"
            upload.steps.append({"step": "processed", "at": self.now(), "to": f"{bucket}/{target_key}"})

    # -- the code runners' logs ------------------------------------------------------------------------
    def logged(self, group: str, stream: str, lines: Sequence[tuple[float, str]]) -> None:
        for at, message in lines:
            self.lines.append(LogLine(at, group, stream, message))
            if message.startswith(PROCESSING):
                self._step(message[len(PROCESSING):].strip(), "processing", group, stream)
            elif message.startswith(FAILED):
                for (_, key) in list(self.uploads):
                    if key in message:
                        self._step(key, "failed", group, stream, message[len(FAILED):][:200])

    def _step(self, key: str, step: str, group: str, stream: str, detail: str = "") -> None:
        # The worker's id (a pool's stream) or the function's name (/aws/lambda/NAME).
        by = group.removeprefix("/aws/lambda/") if group.startswith("/aws/lambda/") else stream
        for upload in reversed(self.uploads.values()):
            if upload.key == key and upload.state != "processed":
                upload.state = step
                entry: dict[str, Any] = {"step": step, "at": self.now(), "by": by}
                if detail:
                    entry["detail"] = detail
                upload.steps.append(entry)
                return

    def doc(self, lines: int = 60) -> dict[str, Any]:
        tail = list(self.lines)[-lines:]
        return {"uploads": [u.doc() for u in reversed(self.uploads.values())],
                "logs": [line.doc() for line in tail]}


class LogTee:
    """A conveyor.ports.LogSink in front of CloudWatch Logs' own: every write is passed on unchanged,
    and its lines feed the dashboard's trail and log tail."""

    def __init__(self, inner: LogSink | None, trail: Trail, changed: Callable[[], None]) -> None:
        self.inner = inner
        self.trail = trail
        self.changed = changed

    def write(self, region: str, group: str, stream: str, lines: Sequence[tuple[float, str]]) -> None:
        if self.inner is not None:
            self.inner.write(region, group, stream, lines)
        self.trail.logged(group, stream, lines)
        self.changed()
