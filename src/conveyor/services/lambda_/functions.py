"""What a function is: its configuration document, versions and aliases, how a FunctionName names it,
Lambda's common errors, and the settings Conveyor can honour (runtimes it can run, limits it enforces).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.wire import ServiceError

# Matched with fullmatch: `$` with `match` would accept a trailing newline.
_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_QUALIFIER = re.compile(r"[a-zA-Z0-9-_$]{1,128}")
_ARN = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([a-zA-Z0-9-_]+)(?::([a-zA-Z0-9-_$]+))?")
_PARTIAL = re.compile(r"(\d{12}):function:([a-zA-Z0-9-_]+)(?::([a-zA-Z0-9-_$]+))?")
_ENV_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")  # two characters at least, as the model says


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 404)


def conflict(message: str) -> ServiceError:
    return ServiceError("ResourceConflictException", message, 409)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400)


def revision_mismatch(api: str) -> ServiceError:
    """A RevisionId that is no longer the latest (optimistic locking); `api` is where to read the latest."""
    return ServiceError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                        f"Revision Id. Call the {api} API to retrieve the latest Revision Id", 412)


def timestamp(when: float) -> str:
    """Lambda's LastModified format: 2024-05-01T12:00:00.000+0000."""
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def parse_name(ref: str, account: str) -> tuple[str, str | None]:
    """A FunctionName may be a name, `name:qualifier`, a full ARN or a partial `ACCOUNT:function:NAME`."""
    m = _ARN.fullmatch(ref)
    if m:
        if m.group(2) != account:
            raise not_found(f"Function not found: {ref}")
        return m.group(3), m.group(4)
    m = _PARTIAL.fullmatch(ref)
    if m:
        return m.group(2), m.group(3)
    name, _, qualifier = ref.partition(":")
    if not _NAME.fullmatch(name) or (qualifier and not _QUALIFIER.fullmatch(qualifier)):
        raise ServiceError("ValidationException", f"1 validation error detected: Value '{ref}' at 'functionName' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                           "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                           "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", 400)
    return name, qualifier or None


def arn_region(ref: str) -> str | None:
    """The region a function ARN names; None when `ref` is not a full ARN."""
    m = _ARN.fullmatch(ref)
    return m.group(1) if m else None


@dataclass
class Function:
    name: str
    config: dict[str, Any]  # $LATEST FunctionConfiguration, as the API returns it
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1" -> configuration
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    policy: list[dict[str, Any]] = field(default_factory=list)
    reserved: int | None = None
    invoke_config: dict[str, Any] | None = None  # asynchronous invocation settings of $LATEST
    invoke_configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # of versions and aliases
    # Function URLs, by the qualifier they serve ("" for the unqualified function, else an alias name).
    urls: dict[str, dict[str, Any]] = field(default_factory=dict)
    code_signing: str | None = None  # the ARN of its code signing configuration
    generation: int = 0  # bumped by every code/config change so warm environments are recycled
    policy_revision: str = ""

    @property
    def arn(self) -> str:
        arn: str = self.config["FunctionArn"]
        return arn

    @property
    def region(self) -> str:
        """The region of the request that created it (its ARN says so)."""
        return self.arn.split(":")[3]

    def doc(self) -> str:
        return json.dumps({"name": self.name, "config": self.config, "versions": self.versions,
                           "aliases": self.aliases, "tags": self.tags, "policy": self.policy,
                           "reserved": self.reserved, "invoke_config": self.invoke_config,
                           "invoke_configs": self.invoke_configs,
                           "urls": self.urls, "code_signing": self.code_signing, "generation": self.generation,
                           "policy_revision": self.policy_revision})

    @classmethod
    def load(cls, doc: str) -> Function:
        return cls(**json.loads(doc))

    def event_config(self, qualifier: str | None) -> dict[str, Any] | None:
        """The asynchronous invocation settings (PutFunctionEventInvokeConfig) of $LATEST, a version or an alias."""
        if qualifier in (None, "", "$LATEST"):
            return self.invoke_config
        return self.invoke_configs.get(str(qualifier))

    def set_event_config(self, qualifier: str | None, config: dict[str, Any] | None) -> None:
        if qualifier in (None, "", "$LATEST"):
            self.invoke_config = config
        elif config is None:
            self.invoke_configs.pop(str(qualifier), None)
        else:
            self.invoke_configs[str(qualifier)] = config

    def routed(self, qualifier: str | None, draw: float) -> dict[str, Any]:
        """The configuration an invocation through `qualifier` runs: an alias with weighted routing sends
        the share its additional version's weight says there (`draw`: uniform in [0, 1))."""
        alias = self.aliases.get(qualifier) if qualifier else None
        weights = ((alias or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        for version, weight in weights.items():
            if draw < weight and version in self.versions:
                return self.versions[version]
        return self.resolve(qualifier)

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


# Runtimes AWS no longer lets anyone create or update functions with
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-deprecated).
_BLOCKED = {"python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs4.3-edge",
            "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x"}
_NODE_OK = re.compile(r"nodejs(\d+)\.x")


def runtime_command(runtime: str) -> list[str] | None:
    """The interpreter a runtime runs on here, or None when this machine has none for it.

    python3.x runs on the interpreter running Conveyor; nodejsNN.x on the `node` found on PATH. Either
    way the version is the local one, not the one the runtime names.
    """
    if runtime.startswith("python3."):
        return [sys.executable]
    m = _NODE_OK.fullmatch(runtime)
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


def check_config(params: Mapping[str, Any]) -> None:
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
    if params.get("FileSystemConfigs"):
        raise invalid("Conveyor does not support EFS file systems for functions.")
    vpc = params.get("VpcConfig") or {}
    if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"):
        raise invalid("Conveyor does not support VPC configuration: functions run on this machine's network.")
    if (params.get("TracingConfig") or {}).get("Mode") == "Active":
        raise invalid("Conveyor does not support active X-Ray tracing.")
    logging = params.get("LoggingConfig") or {}
    if logging.get("LogFormat") == "JSON" or logging.get("ApplicationLogLevel") or logging.get("SystemLogLevel"):
        # The JSON format rewrites the runtime's own lines and filters by level
        # (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html): not done here.
        raise invalid("Conveyor does not support the JSON log format (LogFormat JSON, ApplicationLogLevel, "
                      "SystemLogLevel): functions log as Text.")
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
        if not _ENV_NAME.fullmatch(key):
            raise invalid(f"Environment variable name {key!r} is not valid.")


def logging_config(name: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """LoggingConfig as the function keeps it: Text, to the log group given or /aws/lambda/NAME, Lambda's
    default (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html)."""
    return {"LogFormat": "Text", "LogGroup": (given or {}).get("LogGroup") or f"/aws/lambda/{name}"}


def log_group(config: Mapping[str, Any]) -> str:
    """Where a configuration's logs go."""
    return str((config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{config['FunctionName']}")


def public(config: dict[str, Any]) -> dict[str, Any]:
    """A configuration as the API shows it: without the fields Conveyor keeps for itself (`_CodeHex`...)."""
    return {k: v for k, v in config.items() if not k.startswith("_")}
