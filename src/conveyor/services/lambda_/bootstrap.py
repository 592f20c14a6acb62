"""The child side of an execution environment: import the handler once, then serve invocations.

Started as a script (stdlib only, nothing from Conveyor is imported, so a function's modules cannot
collide with ours) with cwd = the extracted code. Frames are 4-byte big-endian lengths plus JSON:
stdin carries invocations, a private duplicate of the original stdout carries results. The process's
own stdout and stderr are the function's log; `print` is also kept per invocation for LogType=Tail.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import struct
import sys
import time
import traceback
from typing import Any

TAIL = 4096


class _Tee(io.TextIOBase):
    """Writes to the log and remembers what the current invocation printed."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.buffer_parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.log.write(text)
        self.log.flush()
        self.buffer_parts.append(text)
        self.size += len(text)
        if self.size > 4 * TAIL:
            joined = "".join(self.buffer_parts)[-TAIL:]
            self.buffer_parts, self.size = [joined], len(joined)
        return len(text)

    def flush(self) -> None:
        self.log.flush()

    def take(self) -> str:
        text = "".join(self.buffer_parts)
        self.buffer_parts, self.size = [], 0
        return text[-TAIL:]

    def isatty(self) -> bool:
        return False


class _Attributes:
    """A JSON object's keys as attributes (missing ones are None), for the client context's parts."""

    def __init__(self, doc: dict[str, Any], names: tuple[str, ...]) -> None:
        for name in names:
            setattr(self, name, doc.get(name))


def _client_context(text: str | None) -> Any:
    if not text:
        return None
    doc = json.loads(text)
    context = _Attributes(doc, ("custom", "env"))
    client = doc.get("client")
    context.client = _Attributes(client, ("installation_id", "app_title", "app_version_name",  # type: ignore[attr-defined]
                                          "app_version_code", "app_package_name")) if client else None
    return context


class Context:
    """The context object handlers receive, with the attributes AWS documents for Python."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.aws_request_id = frame["request_id"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = frame.get("version") or os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = frame.get("arn", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = _client_context(frame.get("client_context"))
        self._deadline = time.monotonic() + frame.get("remaining_ms", 3000) / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    stack = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__,
            "stackTrace": [line.rstrip("\n") for line in stack]}


def _read(stream: Any) -> dict[str, Any] | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack(">I", head)
    frame: dict[str, Any] = json.loads(stream.read(size))
    return frame


def _write(stream: Any, doc: dict[str, Any]) -> None:
    data = json.dumps(doc).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _load_handler(spec: str) -> tuple[Any, dict[str, Any] | None]:
    module_name, _, func_name = spec.rpartition(".")
    if not module_name or not func_name:
        return None, {"errorMessage": f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
                      "errorType": "Runtime.MalformedHandlerName", "stackTrace": []}
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, {"errorMessage": f"Unable to import module '{module_name}': {exc}",
                      "errorType": "Runtime.ImportModuleError", "stackTrace": []}
    except Exception as exc:  # the module itself raised while initialising
        return None, _error(exc, "Runtime.UserCodeSyntaxError" if isinstance(exc, SyntaxError) else None)
    handler = getattr(module, func_name, None)
    if handler is None:
        return None, {"errorMessage": f"Handler '{func_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return handler, None


def main() -> None:
    # Running as a script put our own directory first on sys.path; the function's code goes there instead.
    task_root = os.getcwd()
    sys.path[0] = task_root
    proto_in = sys.stdin.buffer
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # from now on fd 1 (C extensions, subprocesses) writes to the log too
    log = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), encoding="utf-8", line_buffering=True)
    tee = _Tee(log)
    sys.stdout = sys.stderr = tee
    sys.stdin = open(os.devnull)  # noqa: SIM115 - handlers must not read our protocol

    started = time.monotonic()
    handler, init_error = _load_handler(os.environ.get("_HANDLER", ""))
    init_ms = (time.monotonic() - started) * 1000
    if init_error is not None:
        tee.write(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}\n")
    _write(proto_out, {"ready": True, "init_ms": init_ms})
    cold = True
    while True:
        frame = _read(proto_in)
        if frame is None:
            return
        rid = frame["request_id"]
        version = frame.get("version") or "$LATEST"
        tee.take()
        tee.write(f"START RequestId: {rid} Version: {version}\n")
        t0 = time.monotonic()
        doc: dict[str, Any]
        if init_error is not None:
            doc = {"error": init_error}
        else:
            try:
                event = json.loads(frame["event"]) if frame.get("event") else {}
                result = handler(event, Context(frame))
                try:
                    doc = {"payload": json.dumps(result)}
                except (TypeError, ValueError) as exc:
                    doc = {"error": {"errorMessage": f"Unable to marshal response: {exc}",
                                     "errorType": "Runtime.MarshalError", "stackTrace": []}}
            except Exception as exc:
                doc = {"error": _error(exc)}
                tee.write(f"[ERROR] {doc['error']['errorType']}: {doc['error']['errorMessage']}\n"
                          + "Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__)))
        ms = (time.monotonic() - t0) * 1000
        memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        used = _max_rss_mb()
        report = (f"REPORT RequestId: {rid}\tDuration: {ms:.2f} ms\tBilled Duration: {max(1, int(ms + 0.999))} ms"
                  f"\tMemory Size: {memory} MB\tMax Memory Used: {used} MB")
        if cold:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if used > memory:
            # AWS stops an environment that outgrows its memory size; here the peak is checked as each
            # invocation ends, and the environment ends with it.
            doc = {"error": {"errorType": "Runtime.OutOfMemory",
                             "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"},
                   "exit": True}
            report += "\tStatus: error\tError Type: Runtime.OutOfMemory"
        tee.write(f"END RequestId: {rid}\n{report}\n")
        doc["log"] = tee.take()
        doc["duration_ms"] = ms
        cold = False
        _write(proto_out, doc)
        if doc.get("exit"):
            return


def _max_rss_mb() -> int:
    """Peak resident memory of this process image. VmHWM starts afresh at exec; getrusage's ru_maxrss
    does not (it keeps the high-water mark of the server process this one was spawned from)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0  # no /proc: the memory size cannot be checked


if __name__ == "__main__":
    main()
