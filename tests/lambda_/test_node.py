"""Node.js functions run on the local `node` (when there is one), with the Node runtime's shapes."""

from __future__ import annotations

import base64
import json
import shutil
from typing import Any

import pytest

from tests.lambda_.conftest import ROLE, make_zip

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="no node on PATH")

ASYNC = """
exports.handler = async (event, context) => {
  console.log('got', JSON.stringify(event));
  process.stdout.write('raw stdout line\\n');
  if (event.fail) throw new TypeError('bad input');
  return {pid: process.pid, request: context.awsRequestId, name: context.functionName,
          arn: context.invokedFunctionArn, memory: context.memoryLimitInMB,
          remaining: context.getRemainingTimeInMillis(), stream: context.logStreamName,
          endpoint: process.env.AWS_ENDPOINT_URL, mine: process.env.MINE};
};
"""

CALLBACK = """
exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, {doubled: event.n * 2}), 10);
};
"""

ESM = """
export const handler = async (event) => ({module: 'esm', echo: event});
"""


def _create(lam: Any, name: str, source: str, filename: str = "index.js", **kwargs: Any) -> dict[str, Any]:
    return lam.create_function(FunctionName=name, Role=ROLE, Runtime="nodejs20.x", Handler="index.handler",
                               Code={"ZipFile": make_zip(source, filename)}, **kwargs)


def test_async_handler_context_logs_and_errors(lam: Any, endpoint: str) -> None:
    _create(lam, "node-ctx", ASYNC, Environment={"Variables": {"MINE": "yes"}}, MemorySize=512)
    first = lam.invoke(FunctionName="node-ctx", Payload=b'{"a": 1}', LogType="Tail")
    body = json.loads(first["Payload"].read())
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    assert body["name"] == "node-ctx" and body["memory"] == "512" and body["mine"] == "yes"
    assert body["arn"].endswith(":function:node-ctx") and 0 < body["remaining"] <= 3000
    assert body["endpoint"] == endpoint and body["stream"]
    tail = base64.b64decode(first["LogResult"]).decode()
    assert f"{body['request']}\tINFO\tgot {{\"a\":1}}" in tail and "raw stdout line" in tail
    assert f"REPORT RequestId: {body['request']}" in tail and "Init Duration" in tail
    again = json.loads(lam.invoke(FunctionName="node-ctx", Payload=b"{}")["Payload"].read())
    assert again["pid"] == body["pid"]  # warm

    failed = lam.invoke(FunctionName="node-ctx", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "TypeError" and error["errorMessage"] == "bad input"
    assert error["trace"][0] == "TypeError: bad input"


def test_callback_and_es_module_handlers(lam: Any) -> None:
    _create(lam, "node-cb", CALLBACK)
    assert json.loads(lam.invoke(FunctionName="node-cb", Payload=b'{"n": 21}')["Payload"].read()) == {"doubled": 42}
    _create(lam, "node-esm", ESM, filename="index.mjs")
    out = json.loads(lam.invoke(FunctionName="node-esm", Payload=b'"hi"')["Payload"].read())
    assert out == {"module": "esm", "echo": "hi"}


def test_missing_handler_and_timeout(lam: Any) -> None:
    _create(lam, "node-missing", "exports.other = async () => 1;\n")
    error = json.loads(lam.invoke(FunctionName="node-missing")["Payload"].read())
    assert error["errorType"] == "Runtime.HandlerNotFound"
    _create(lam, "node-slow", "exports.handler = () => new Promise(() => {});\n", Timeout=1)
    slow = lam.invoke(FunctionName="node-slow")
    assert slow["FunctionError"] == "Unhandled"
    assert json.loads(slow["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_memory_size_is_enforced(lam: Any) -> None:
    _create(lam, "node-hungry", """
        const hoard = [];
        exports.handler = async (event) => {
          if (event.mb) hoard.push(Buffer.alloc(event.mb * 1024 * 1024, 1));
          return process.pid;
        };
    """)
    pid = json.loads(lam.invoke(FunctionName="node-hungry", Payload=b"{}")["Payload"].read())
    boom = lam.invoke(FunctionName="node-hungry", Payload=b'{"mb": 160}')
    assert json.loads(boom["Payload"].read())["errorType"] == "Runtime.OutOfMemory"
    assert json.loads(lam.invoke(FunctionName="node-hungry", Payload=b"{}")["Payload"].read()) != pid
