"""Running one invocation: concurrency slot, warm or cold environment, timeout, result in AWS's shape."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import os
import random
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor import builtin_metrics, jsondoc
from conveyor.ports import RoleNotAssumable, SessionCredentials
from conveyor.services.base import Environment
from conveyor.services.lambda_.functions import Function, log_group
from conveyor.services.lambda_.logs import LogBook
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.runtime import EnvironmentDied, EnvironmentManager, EnvSpec, Throttled
from conveyor.wire import ServiceError

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
# Weighted alias routing draws from its own generator: the process-wide one is left to the code embedding
# the server (tests seed and watch it).
_ROUTING = random.Random()
# An environment's session of the execution role lasts this long; an environment is not used past it
# (less the function's timeout and a minute), the next invocation starts a new one with a new session.
# AWS gives each environment the role's credentials in its variables and documents no lifetime for them.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
CREDENTIALS_LIFETIME = 12 * 3600
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
MAX_EVENT_PAYLOAD = 1024 * 1024
# Variables a function's own Environment may not override (AWS reserves them).
_RESERVED = {"_HANDLER", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME",
             "AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}


@dataclass
class Result:
    request_id: str
    payload: bytes
    version: str
    log_tail: str = ""
    # "Unhandled" for an exception the handler raised too, as today's runtimes report it (the developer
    # guide's example: "FunctionError": "Unhandled"), not the "Handled" older API pages describe.
    # https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
    function_error: str | None = None
    error_type: str | None = None
    cold: bool = False
    duration_ms: float = 0.0

    def error_doc(self) -> dict[str, Any] | None:
        if self.function_error is None:
            return None
        try:
            doc = json.loads(self.payload)
        except ValueError:
            doc = None
        if isinstance(doc, dict):  # the runtime's error document: errorType, errorMessage, stackTrace
            return doc
        return {"errorMessage": self.payload.decode(errors="replace")}


def decode_client_context(raw: str | None) -> str | None:
    """Invoke's ClientContext is base64-encoded JSON (an object); environments get the JSON text."""
    if not raw:
        return None
    try:
        doc = jsondoc.loads(base64.b64decode(raw, validate=True))
    except (ValueError, binascii.Error):
        doc = None
    if not isinstance(doc, dict):
        raise ServiceError("InvalidRequestContentException",
                           "Client context must be a valid Base64-encoded JSON object.")
    return json.dumps(doc)


def check_payload(payload: bytes, limit: int) -> None:
    if len(payload) > limit:
        raise ServiceError("RequestTooLargeException",
                           f"Request must be smaller than {limit} bytes for the Invoke operation", 413)
    if payload.strip():
        try:
            jsondoc.loads(payload)
        except ValueError as exc:
            raise ServiceError("InvalidRequestContentException", f"Could not parse request body into json: {exc}")


class Invoker:
    """Runs invocations for the API, the event source mappings and the asynchronous queue alike."""

    def __init__(self, registry: Registry, env: Environment, logs_root: Path) -> None:
        self.registry = registry
        self.env = env
        self.runtime = EnvironmentManager(now=env.clock.now)
        self.logs = LogBook(logs_root)
        # (function, version) -> (revision, generation, spec): a warm invoke reuses the spec it started from
        self._specs: dict[tuple[str, str], tuple[str, int, EnvSpec]] = {}

    def forget(self) -> None:
        self._specs.clear()

    def _spec(self, fn: Function, config: dict[str, Any]) -> EnvSpec:
        version = config.get("Version", "$LATEST")
        cached = self._specs.get((fn.name, version))
        if cached is not None and cached[0] == config["RevisionId"] and cached[1] == fn.generation:
            return cached[2]
        spec = self._new_spec(fn, config)
        self._specs[(fn.name, version)] = (config["RevisionId"], fn.generation, spec)
        return spec

    def _layer_paths(self, config: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
        """Where the runtime finds the function's layers: each version's extracted content stands for /opt
        (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths). A later
        layer overrides an earlier one on AWS, where it is extracted over it; here it comes first on each
        path. Paths the function's own variables set come before them."""
        dirs = [str(self.registry.code.extracted(h)) for h in config.get("_LayerHex") or []]
        if not dirs:
            return {}
        last_first = dirs[::-1]
        python = f"python{sys.version_info.major}.{sys.version_info.minor}"
        node = re.fullmatch(r"nodejs(\d+)\.x", str(config.get("Runtime")))
        node_dirs = [f"{d}/nodejs/node{node.group(1)}/node_modules" for d in last_first] if node else []

        def joined(own: str | None, ours: list[str]) -> str:
            return os.pathsep.join([*([own] if own else []), *ours])

        return {
            "CONVEYOR_LAYER_DIRS": os.pathsep.join(dirs),
            "PYTHONPATH": joined(env.get("PYTHONPATH"), [p for d in last_first
                                                        for p in (f"{d}/python", f"{d}/python/lib/{python}/site-packages")]),
            "NODE_PATH": joined(env.get("NODE_PATH"), [*node_dirs, *(f"{d}/nodejs/node_modules" for d in last_first)]),
            "PATH": os.pathsep.join([*(f"{d}/bin" for d in last_first), env["PATH"]]),
            "LD_LIBRARY_PATH": joined(env.get("LD_LIBRARY_PATH"), [f"{d}/lib" for d in last_first]),
        }

    def _new_spec(self, fn: Function, config: dict[str, Any]) -> EnvSpec:
        app_config = self.env.config
        version = config.get("Version", "$LATEST")
        hexd = config["_CodeHex"]
        code_dir = self.registry.code.extracted(hexd)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": os.environ.get("HOME", str(code_dir)),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for key in ("VIRTUAL_ENV", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update((config.get("Environment") or {}).get("Variables") or {})
        env.update({
            "_HANDLER": config["Handler"],
            "AWS_REGION": fn.region,  # the function's region, whatever the server's default
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config['Runtime']}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group(config),
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(code_dir),
            "AWS_ENDPOINT_URL": self.env.local_endpoint(),
        })
        env.update(self._layer_paths(config, env))
        env.pop("AWS_SESSION_TOKEN", None)
        sessions = self.env.ports.role_sessions
        credentials: Callable[[], Awaitable[SessionCredentials]] | None = None
        if sessions is None:  # a build without STS: the server's own credentials
            env.update({"AWS_ACCESS_KEY_ID": app_config.access_key, "AWS_SECRET_ACCESS_KEY": app_config.secret_key})
        else:
            role, name, region = config["Role"], fn.name, fn.region

            async def role_session() -> SessionCredentials:
                """The execution role's session, named after the function as on AWS."""
                return await sessions.service_session(role, LAMBDA_PRINCIPAL, name, CREDENTIALS_LIFETIME, region)

            credentials = role_session

        return EnvSpec((fn.name, version, fn.generation), code_dir, env, self.logs.path(fn.name), config["Runtime"],
                       credentials, float(config["Timeout"]), self._log_output(fn, config))

    def _log_output(self, fn: Function, config: dict[str, Any]) -> Callable[[str, list[str]], None] | None:
        """Each line an environment writes becomes an event of its stream in the function's log group
        (LoggingConfig's, /aws/lambda/NAME by default)."""
        sink, group, region, now = self.env.ports.logs, log_group(config), fn.region, self.env.clock.now
        if sink is None:
            return None
        return lambda stream, lines: sink.write(region, group, stream, [(now(), line) for line in lines])

    async def invoke(self, fn: Function, qualifier: str | None, payload: bytes, *, wait: bool,
                     client_context: str | None = None, request_id: str | None = None) -> Result:
        """Run the function once. `wait=False` throttles (TooManyRequestsException) instead of queueing."""
        config = fn.routed(qualifier, _ROUTING.random())
        version = config.get("Version", "$LATEST")
        rid = request_id or str(uuid.uuid4())
        try:
            await self.runtime.acquire_slot(fn.name, fn.reserved, wait)
        except Throttled as exc:
            builtin_metrics.lambda_throttled(self.env.ports.metrics, fn.region, fn.name)
            raise ServiceError("TooManyRequestsException", "Rate Exceeded.", 429, extra={"Reason": exc.reason},
                               headers={"Retry-After": "1"})
        runtime, metrics = self.runtime, self.env.ports.metrics
        builtin_metrics.lambda_concurrency(metrics, fn.region, fn.name, runtime.slots[fn.name].busy, runtime.total_busy())
        try:
            result = await self._run(fn, config, version, rid, payload, client_context)
            builtin_metrics.lambda_invoked(metrics, fn.region, fn.name, result.duration_ms, result.function_error is not None)
            return result
        finally:
            self.runtime.release_slot(fn.name)
            self.logs.grew(fn.name)

    async def _run(self, fn: Function, config: dict[str, Any], version: str, rid: str, payload: bytes,
                   client_context: str | None) -> Result:
        spec = self._spec(fn, config)
        timeout = float(config["Timeout"])
        try:
            env, cold = await self.runtime.environment(spec)
        except RoleNotAssumable:  # the role was deleted, or no longer trusts Lambda
            raise ServiceError("InvalidParameterValueException", CANNOT_ASSUME)
        except EnvironmentDied as exc:
            return self._failed(rid, version, "Runtime.ExitError", f"RequestId: {rid} Error: {exc.reason}")
        arn = config["FunctionArn"]
        frame = {"request_id": rid, "event": payload.decode("utf-8", errors="replace"), "version": version,
                 "arn": arn, "remaining_ms": int(timeout * 1000), "client_context": client_context}
        try:
            doc = await env.invoke(frame, timeout)
        except asyncio.CancelledError:
            self.runtime.abandon(env)
            raise
        except EnvironmentDied as exc:
            if exc.timed_out:
                self._log(fn.name, f"{_now_iso()} {rid} Task timed out after {timeout:.2f} seconds\n"
                                   f"END RequestId: {rid}\nREPORT RequestId: {rid}\tDuration: "
                                   f"{timeout * 1000:.2f} ms\tStatus: timeout\n", env.stream_name, fn.region,
                          log_group(config))
                return self._failed(rid, version, "Sandbox.Timedout",
                                    f"RequestId: {rid} Error: Task timed out after {timeout:.2f} seconds",
                                    tail=f"START RequestId: {rid} Version: {version}\n"
                                         f"{_now_iso()} {rid} Task timed out after {timeout:.2f} seconds\n")
            self._log(fn.name, f"RequestId: {rid} Error: {exc.reason}\n", env.stream_name, fn.region,
                      log_group(config))
            return self._failed(rid, version, "Runtime.ExitError", f"RequestId: {rid} Error: {exc.reason}")
        current = self.registry.functions.get(fn.name)
        if doc.get("exit"):  # the runtime ends this environment (out of memory)
            self.runtime.abandon(env)
        else:
            self.runtime.put_back(env, (fn.name, version, current.generation) if current else None)
        result = Result(rid, b"", version, doc.get("log", ""), cold=cold, duration_ms=doc.get("duration_ms", 0))
        if "error" in doc:
            result.function_error = "Unhandled"
            result.error_type = doc["error"].get("errorType")
            result.payload = json.dumps(doc["error"]).encode()
        else:
            result.payload = (doc.get("payload") or "null").encode()
        return result

    def _failed(self, rid: str, version: str, error_type: str, message: str, tail: str = "") -> Result:
        body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        return Result(rid, body, version, tail, function_error="Unhandled", error_type=error_type)

    def _log(self, name: str, text: str, stream: str | None = None, region: str | None = None,
             group: str | None = None) -> None:
        self.logs.append(name, text)
        sink = self.env.ports.logs
        if sink is not None and stream and region:  # what the server writes for an environment it stopped
            now = self.env.clock.now()
            sink.write(region, group or f"/aws/lambda/{name}", stream, [(now, line) for line in text.splitlines()])


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
