"""The pipeline definition (`conveyor.yaml`): parsed, checked, and every error names its line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.pipeline.commands import command_problem
from conveyor.pipeline.tables import Table, parse_table

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

DEFAULT_FILE = Path(__file__).with_name("default.yaml")
S3_EVENTS = ("s3:ObjectCreated:", "s3:ObjectRemoved:", "s3:ObjectRestore:", "s3:Replication:",
             "s3:LifecycleExpiration:", "s3:LifecycleTransition", "s3:IntelligentTiering",
             "s3:ObjectTagging:", "s3:ObjectAcl:Put", "s3:ReducedRedundancyLostObject")


REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
# `role:` of a function or a pool: a role name (created when missing) or the ARN of an existing role.
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")


class PipelineError(ValueError):
    """A problem in the definition, with the file and line it is on."""


class _Lines(dict[Any, Any]):
    """A mapping that remembers the line of each key (YAML's values are whatever the file says)."""

    line: int = 0
    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Lines:
    mapping = _Lines(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class Queue:
    name: str
    fifo: bool = False
    visibility_timeout: int | None = None
    retention: int | None = None
    delay: int | None = None
    receive_wait: int | None = None
    dead_letter_queue: str | None = None
    max_receive_count: int = 3
    line: int = field(default=0, compare=False)

    def attributes(self) -> dict[QueueAttributeNameType, str]:
        attrs: dict[QueueAttributeNameType, int | None] = {
            "VisibilityTimeout": self.visibility_timeout, "MessageRetentionPeriod": self.retention,
            "DelaySeconds": self.delay, "ReceiveMessageWaitTimeSeconds": self.receive_wait,
        }
        out = {k: str(v) for k, v in attrs.items() if v is not None}
        if self.fifo:
            out["FifoQueue"] = "true"
        return out


@dataclass
class Subscription:
    queue: str | None = None
    function: str | None = None
    raw: bool = False
    filter_policy: dict[str, Any] | None = None
    line: int = field(default=0, compare=False)


@dataclass
class Topic:
    name: str
    subscriptions: list[Subscription] = field(default_factory=list)


@dataclass
class Notification:
    events: list[str]
    prefix: str = ""
    suffix: str = ""
    topic: str | None = None
    queue: str | None = None
    function: str | None = None
    line: int = field(default=0, compare=False)


@dataclass
class Bucket:
    name: str
    prefixes: list[str] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    cors: dict[str, Any] | None = None  # one CORS rule, in the api's words (AllowOrigins, AllowMethods, ...)


BUILTIN_MOVER = "mover"  # `command: mover` (pools) and `code: mover` (functions): conveyor/runtime/mover.py
MOVER_HANDLER = "mover.lambda_handler"
# A requirement as pip takes it on its command line (name, extras, version specifiers), and nothing pip would
# read as an option.
REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._, -]+\])?"
                         r"(\s*(===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+)?"
                         r"(\s*,\s*(===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+)*")
BUILTIN_PRESIGN = "presign"  # the `api:` section's web function: conveyor/runtime/presign.py
PRESIGN_HANDLER = "presign.lambda_handler"
# A route key: $default, or a method (or ANY) and a path (checked in full by API Gateway when applied).
ROUTE_KEY = re.compile(r"^(\$default|(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /\S*)$")
STAGE_NAME = re.compile(r"^(\$default|[A-Za-z0-9_-]{1,128})$")


@dataclass
class Function:
    name: str
    handler: str
    code: str  # a directory or a .py file, relative to the pipeline file; or "mover", the built-in one
    runtime: str = "python3.12"
    timeout: int = 30
    memory: int = 128
    env: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    batch_size: int = 10
    batching_window: int = 0
    report_batch_item_failures: bool = True
    maximum_concurrency: int | None = None
    role: str | None = None  # the execution role; None: `<name>-role`, made by the pipeline
    policy: list[dict[str, Any]] | None = None  # its role's statements, instead of the pipeline's defaults
    # pip requirements of its code: `conveyor export` makes them a Lambda layer (conveyor.pipeline.layers)
    requirements: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)


@dataclass
class Pool:
    name: str
    queue: str | None
    command: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    role: str | None = None  # the instance profile's role its workers run as; None: the server's credentials
    policy: list[dict[str, Any]] | None = None  # that role's statements, instead of the pipeline's defaults
    # pip requirements of its command: an exported worker installs them when it boots
    requirements: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)


# An alarm's comparison, as written in the file -> CloudWatch's ComparisonOperator.
COMPARISONS = {">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold",
               "<=": "LessThanOrEqualToThreshold"}
ALARM_STATISTICS = ("Maximum", "Minimum", "Average", "Sum", "SampleCount")


@dataclass
class Alarm:
    """A CloudWatch alarm notifying a topic; `queue:` is the short way to watch a queue's visible messages
    (the architecture's alarm: a dead-letter queue that is not empty)."""

    name: str
    topic: str
    namespace: str = "AWS/SQS"
    metric: str = "ApproximateNumberOfMessagesVisible"
    dimensions: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    statistic: str = "Maximum"
    period: int = 60
    evaluation_periods: int = 1
    threshold: float = 0.0
    comparison: str = ">"
    treat_missing_data: str = "notBreaching"
    line: int = field(default=0, compare=False)


@dataclass
class Presign:
    """The built-in web function behind `POST /presign`: upload URLs for fresh keys under `prefix`."""

    bucket: str
    prefix: str = "uploads/"
    expires: int = 300
    max_size: int | None = None
    content_types: list[str] = field(default_factory=list)
    method: str = "PUT"  # a presigned PUT URL, or "POST" (a presigned POST policy)
    function: str = "presign"
    route: str = "POST /presign"
    role: str | None = None
    line: int = field(default=0, compare=False)

    def environment(self) -> dict[str, str]:
        """The function's settings, as conveyor/runtime/presign.py reads them."""
        env = {"BUCKET": self.bucket, "PREFIX": self.prefix, "EXPIRES": str(self.expires),
               "UPLOAD_METHOD": self.method}
        if self.max_size is not None:
            env["MAX_SIZE"] = str(self.max_size)
        if self.content_types:
            env["CONTENT_TYPES"] = ",".join(self.content_types)
        return env


@dataclass
class ApiRoute:
    route: str  # a route key, e.g. "GET /items/{id}"
    function: str  # a function of this pipeline
    payload_format: str = "2.0"
    line: int = field(default=0, compare=False)


@dataclass
class Api:
    """An HTTP API (API Gateway): the presign endpoint and routes to the pipeline's functions."""

    name: str
    stage: str = "$default"
    presign: Presign | None = None
    routes: list[ApiRoute] = field(default_factory=list)
    cors: dict[str, Any] | None = None  # CorsConfiguration, as CreateApi takes it
    line: int = field(default=0, compare=False)


@dataclass
class SitePath:
    """More of the site from another bucket: a CloudFront path pattern (e.g. `processed/*`) and its bucket."""

    path: str
    bucket: str
    line: int = field(default=0, compare=False)

    @property
    def prefix(self) -> str:
        """The keys the distribution may read: the pattern up to its first wildcard."""
        return re.split(r"[*?]", self.path.lstrip("/"), maxsplit=1)[0]


@dataclass
class Site:
    """A static site: a private bucket holding a directory's files, served by a CloudFront distribution that
    reads it through an origin access control (OAC), `index` answering `/`."""

    bucket: str
    directory: str  # relative to the pipeline file
    index: str = "index.html"
    paths: list[SitePath] = field(default_factory=list)
    line: int = field(default=0, compare=False)


# A CloudFront path pattern: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-web-values-specify.html#DownloadDistValuesPathPattern
PATH_PATTERN = re.compile(r"^/?[A-Za-z0-9_.*$/~\"'@:+&?=-]{1,255}$")
# S3 bucket names: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass
class Pipeline:
    source: str
    buckets: list[Bucket] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)
    region: str | None = None  # None: the environment's region, else the server's (see `region_for`)
    api: Api | None = None
    site: Site | None = None


class _Reader:
    """Pulls typed values out of the YAML tree, raising PipelineError with file:line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Any, key: str | None, message: str) -> PipelineError:
        line = getattr(node, "lines", {}).get(key) if key else None
        line = line or getattr(node, "line", 0)
        return PipelineError(f"{self.source}:{line}: {message}")

    def mapping(self, node: Any, where: str, allowed: set[str], parent: Any = None, key: str | None = None) -> _Lines:
        if not isinstance(node, dict):
            raise self.fail(parent, key, f"{where} must be a mapping")
        unknown = sorted(set(node) - allowed)
        if unknown:
            raise self.fail(node, unknown[0], f"{where}: unknown setting '{unknown[0]}' "
                                              f"(known: {', '.join(sorted(allowed))})")
        return node if isinstance(node, _Lines) else _Lines(node)  # every mapping the loader reads is _Lines

    def items(self, node: Any, key: str, where: str) -> list[Any]:
        value = node.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(node, key, f"{where}.{key} must be a list")
        return value

    def get(self, node: Any, key: str, kind: type | tuple[type, ...], where: str, default: Any = None, *,
            required: bool = False, low: int | None = None, high: int | None = None) -> Any:
        if key not in node or node[key] is None:
            if required:
                raise self.fail(node, None, f"{where}: '{key}' is required")
            return default
        value = node[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(node, key, f"{where}.{key} must be {names}, not {value!r}")
        out_of_range = isinstance(value, int | float) and not isinstance(value, bool) and (
            (low is not None and value < low) or (high is not None and value > high))
        if out_of_range:
            raise self.fail(node, key, f"{where}.{key} must be between {low} and {high}, not {value}")
        return value


def load(path: Path | None = None) -> Pipeline:
    """Read and check a pipeline file (the embedded default when `path` is None)."""
    file = path or DEFAULT_FILE
    source = str(path) if path else "default pipeline"
    try:
        text = file.read_text()
    except OSError as exc:
        raise PipelineError(f"{source}: cannot read: {exc.strerror}")
    return parse(text, source, file.resolve().parent if path else Path.cwd())


def parse(text: str, source: str = "conveyor.yaml", base_dir: Path | None = None) -> Pipeline:
    try:
        root = yaml.load(text, Loader=_Loader) or _Lines()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise PipelineError(f"{source}:{line}: invalid YAML: {exc.problem}")
    r = _Reader(source)
    root = r.mapping(root, "the pipeline", {"region", "buckets", "topics", "queues", "functions", "pools", "alarms",
                                            "api", "site", "tables"})
    pipeline = Pipeline(source, base_dir=base_dir or Path.cwd(), region=r.get(root, "region", str, "pipeline"))
    if pipeline.region is not None and not REGION.match(pipeline.region):
        raise r.fail(root, "region", f"region {pipeline.region!r} is not a region name (e.g. us-east-2)")
    for i, node in enumerate(r.items(root, "queues", "pipeline")):
        pipeline.queues.append(_queue(r, node, f"queues[{i}]", root))
    for i, node in enumerate(r.items(root, "topics", "pipeline")):
        pipeline.topics.append(_topic(r, node, f"topics[{i}]", root))
    for i, node in enumerate(r.items(root, "functions", "pipeline")):
        pipeline.functions.append(_function(r, node, f"functions[{i}]", root))
    for i, node in enumerate(r.items(root, "buckets", "pipeline")):
        pipeline.buckets.append(_bucket(r, node, f"buckets[{i}]", root))
    for i, node in enumerate(r.items(root, "pools", "pipeline")):
        pipeline.pools.append(_pool(r, node, f"pools[{i}]", root, pipeline.base_dir))
    for i, node in enumerate(r.items(root, "alarms", "pipeline")):
        pipeline.alarms.append(_alarm(r, node, f"alarms[{i}]", root))
    for i, node in enumerate(r.items(root, "tables", "pipeline")):
        pipeline.tables.append(parse_table(r, node, f"tables[{i}]", root))
    if root.get("api") is not None:
        pipeline.api = _api(r, root["api"], root, pipeline)
    if root.get("site") is not None:
        pipeline.site = _site(r, root["site"], root, pipeline)
    _check_references(r, pipeline, root)
    return pipeline


def _alarm(r: _Reader, node: Any, where: str, parent: Any) -> Alarm:
    node = r.mapping(node, where, {"name", "topic", "queue", "namespace", "metric", "dimensions", "statistic",
                                   "period", "evaluation_periods", "threshold", "comparison", "treat_missing_data"},
                     parent, "alarms")
    alarm = Alarm(r.get(node, "name", str, where, required=True), r.get(node, "topic", str, where, required=True),
                  line=node.line)
    alarm.queue = r.get(node, "queue", str, where)
    if alarm.queue is not None and ("metric" in node or "namespace" in node or "dimensions" in node):
        raise r.fail(node, "queue", f"{where}: 'queue' watches a queue's visible messages; leave out metric, "
                                    "namespace and dimensions, or leave out queue")
    if alarm.queue is None:
        alarm.namespace = r.get(node, "namespace", str, where, required=True)
        alarm.metric = r.get(node, "metric", str, where, required=True)
        dims = r.get(node, "dimensions", dict, where, {})
        if not all(isinstance(k, str) and isinstance(v, str | int) for k, v in dims.items()):
            raise r.fail(node, "dimensions", f"{where}.dimensions must map names to values")
        alarm.dimensions = {k: str(v) for k, v in dims.items()}
    else:
        alarm.dimensions = {"QueueName": alarm.queue}
    alarm.statistic = r.get(node, "statistic", str, where, "Maximum")
    if alarm.statistic not in ALARM_STATISTICS:
        raise r.fail(node, "statistic", f"{where}.statistic must be one of {', '.join(ALARM_STATISTICS)}")
    alarm.period = r.get(node, "period", int, where, 60, low=10, high=86400)
    if alarm.period not in (10, 30) and alarm.period % 60:
        raise r.fail(node, "period", f"{where}.period must be 10, 30 or a multiple of 60")
    alarm.evaluation_periods = r.get(node, "evaluation_periods", int, where, 1, low=1, high=100)
    alarm.threshold = float(r.get(node, "threshold", (int, float), where, 0))
    alarm.comparison = r.get(node, "comparison", str, where, ">")
    if alarm.comparison not in COMPARISONS:
        raise r.fail(node, "comparison", f"{where}.comparison must be one of {', '.join(COMPARISONS)}")
    alarm.treat_missing_data = r.get(node, "treat_missing_data", str, where, "notBreaching")
    if alarm.treat_missing_data not in ("missing", "ignore", "breaching", "notBreaching"):
        raise r.fail(node, "treat_missing_data", f"{where}.treat_missing_data must be missing, ignore, breaching "
                                                 "or notBreaching")
    return alarm


def _queue(r: _Reader, node: Any, where: str, parent: Any) -> Queue:
    node = r.mapping(node, where, {"name", "fifo", "visibility_timeout", "retention", "delay", "receive_wait",
                                   "dead_letter"}, parent, "queues")
    queue = Queue(
        name=r.get(node, "name", str, where, required=True),
        fifo=r.get(node, "fifo", bool, where, False),
        visibility_timeout=r.get(node, "visibility_timeout", int, where, low=0, high=43200),
        retention=r.get(node, "retention", int, where, low=60, high=1209600),
        delay=r.get(node, "delay", int, where, low=0, high=900),
        receive_wait=r.get(node, "receive_wait", int, where, low=0, high=20),
    )
    if queue.fifo != queue.name.endswith(".fifo"):
        raise r.fail(node, "name", f"{where}: a FIFO queue's name ends with .fifo (and only a FIFO queue's)")
    queue.line = node.line
    if "dead_letter" in node:
        dlq = r.mapping(node["dead_letter"], f"{where}.dead_letter", {"queue", "max_receive_count"}, node,
                        "dead_letter")
        queue.dead_letter_queue = r.get(dlq, "queue", str, f"{where}.dead_letter", required=True)
        queue.max_receive_count = r.get(dlq, "max_receive_count", int, f"{where}.dead_letter", 3, low=1, high=1000)
    return queue


def _topic(r: _Reader, node: Any, where: str, parent: Any) -> Topic:
    node = r.mapping(node, where, {"name", "subscriptions"}, parent, "topics")
    topic = Topic(r.get(node, "name", str, where, required=True))
    for i, sub in enumerate(r.items(node, "subscriptions", where)):
        at = f"{where}.subscriptions[{i}]"
        sub = r.mapping(sub, at, {"queue", "function", "raw", "filter_policy"}, node, "subscriptions")
        subscription = Subscription(r.get(sub, "queue", str, at), r.get(sub, "function", str, at),
                                    r.get(sub, "raw", bool, at, False), r.get(sub, "filter_policy", dict, at))
        subscription.line = sub.line
        if (subscription.queue is None) == (subscription.function is None):
            raise r.fail(sub, None, f"{at}: name exactly one of 'queue' or 'function'")
        if subscription.raw and subscription.function:
            raise r.fail(sub, "raw", f"{at}: raw message delivery is for queues (Lambda receives SNS records)")
        topic.subscriptions.append(subscription)
    return topic


def _function(r: _Reader, node: Any, where: str, parent: Any) -> Function:
    node = r.mapping(node, where, {"name", "handler", "code", "runtime", "timeout", "memory", "env", "queue",
                                   "batch_size", "batching_window", "report_batch_item_failures",
                                   "maximum_concurrency", "role", "policy", "requirements"}, parent, "functions")
    code = r.get(node, "code", str, where, required=True)
    builtin = code == BUILTIN_MOVER
    return Function(
        line=node.line,
        name=r.get(node, "name", str, where, required=True),
        handler=r.get(node, "handler", str, where, MOVER_HANDLER if builtin else None, required=not builtin),
        code=code,
        runtime=r.get(node, "runtime", str, where, "python3.12"),
        timeout=r.get(node, "timeout", int, where, 30, low=1, high=900),
        memory=r.get(node, "memory", int, where, 128, low=128, high=10240),
        env={str(k): str(v) for k, v in r.get(node, "env", dict, where, {}).items()},
        queue=r.get(node, "queue", str, where),
        batch_size=r.get(node, "batch_size", int, where, 10, low=1, high=10000),
        batching_window=r.get(node, "batching_window", int, where, 0, low=0, high=300),
        report_batch_item_failures=r.get(node, "report_batch_item_failures", bool, where, True),
        maximum_concurrency=r.get(node, "maximum_concurrency", int, where, low=2, high=1000),
        role=_role(r, node, where),
        policy=_policy(r, node, where),
        requirements=_requirements(r, node, where),
    )


def _requirements(r: _Reader, node: Any, where: str) -> list[str]:
    """`requirements:`, pip requirements (`pillow==12.2.0`, `requests>=2`), never pip's options."""
    found = r.get(node, "requirements", list, where, [])
    for i, item in enumerate(found):
        if not isinstance(item, str) or not REQUIREMENT.fullmatch(item.strip()):
            raise r.fail(node, "requirements", f"{where}.requirements[{i}]: {item!r} is not a requirement as pip "
                                               "takes it (a name, optional extras, version specifiers)")
    return [str(item).strip() for item in found]


_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def _policy(r: _Reader, node: Any, where: str) -> list[dict[str, Any]] | None:
    """`policy:`, the role's statements as IAM writes them (Effect, Action, Resource, Condition); IAM itself
    judges them when the role is made: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html"""
    statements = r.get(node, "policy", list, where)
    if statements is None:
        return None
    for i, statement in enumerate(statements):
        at = f"{where}.policy[{i}]"
        statement = r.mapping(statement, at, _STATEMENT_KEYS, node, "policy")
        if statement.get("Effect") not in ("Allow", "Deny") or not ("Action" in statement or "NotAction" in statement):
            raise r.fail(statement, None, f"{at}: a statement needs Effect (Allow or Deny) and Action")
    if node.get("role") is not None and ROLE_ARN.match(str(node["role"])):
        raise r.fail(node, "policy", f"{where}.policy: the role is an existing one ({node['role']}); its policies "
                                     "are its own")
    return [dict(statement) for statement in statements]


def _role(r: _Reader, node: Any, where: str) -> str | None:
    role: str | None = r.get(node, "role", str, where)
    if role is not None and not (ROLE_NAME.match(role) or ROLE_ARN.match(role)):
        raise r.fail(node, "role", f"{where}.role: {role!r} is neither a role name nor a role ARN "
                                   "(arn:aws:iam::ACCOUNT:role/NAME)")
    return role


def _bucket(r: _Reader, node: Any, where: str, parent: Any) -> Bucket:
    node = r.mapping(node, where, {"name", "prefixes", "notifications", "cors"}, parent, "buckets")
    bucket = Bucket(r.get(node, "name", str, where, required=True))
    if node.get("cors") is not None:
        bucket.cors = _cors(r, node["cors"], node, f"{where}.cors")
    for prefix in r.items(node, "prefixes", where):
        if not isinstance(prefix, str) or not prefix.endswith("/"):
            raise r.fail(node, "prefixes", f"{where}.prefixes: {prefix!r} must be a string ending in '/'")
        bucket.prefixes.append(prefix)
    for i, item in enumerate(r.items(node, "notifications", where)):
        at = f"{where}.notifications[{i}]"
        item = r.mapping(item, at, {"events", "prefix", "suffix", "topic", "queue", "function"}, node,
                         "notifications")
        events = r.get(item, "events", list, at, ["s3:ObjectCreated:*"])
        for event in events:
            if not isinstance(event, str) or not event.startswith(S3_EVENTS):
                raise r.fail(item, "events", f"{at}.events: {event!r} is not an S3 event type "
                                             "(e.g. s3:ObjectCreated:*)")
        notification = Notification(events, r.get(item, "prefix", str, at, ""), r.get(item, "suffix", str, at, ""),
                                    r.get(item, "topic", str, at), r.get(item, "queue", str, at),
                                    r.get(item, "function", str, at), line=item.line)
        if sum(x is not None for x in (notification.topic, notification.queue, notification.function)) != 1:
            raise r.fail(item, None, f"{at}: name exactly one destination: 'topic', 'queue' or 'function'")
        bucket.notifications.append(notification)
    return bucket


_POOL_SETTINGS = {"min", "max", "desired", "target_backlog", "warmup", "scale_out_cooldown", "scale_in_cooldown",
                  "grace", "heartbeat_timeout", "drain_timeout", "env"}


def _pool(r: _Reader, node: Any, where: str, parent: Any, base_dir: Path) -> Pool:
    node = r.mapping(node, where, {"name", "queue", "command", "role", "policy", "requirements"} | _POOL_SETTINGS,
                     parent, "pools")
    command = r.get(node, "command", (str, list), where, BUILTIN_MOVER)
    if isinstance(command, str):
        command = [command] if command == BUILTIN_MOVER else command.split()
    if not command or not all(isinstance(part, str) for part in command):
        raise r.fail(node, "command", f"{where}.command must be a command line (string or list of strings)")
    settings = {k: node[k] for k in _POOL_SETTINGS if k in node}
    for key in ("min", "max", "desired"):
        if key in settings:
            r.get(node, key, int, where, low=0, high=1000)
    for key in ("target_backlog", "warmup", "scale_out_cooldown", "scale_in_cooldown", "grace",
                "heartbeat_timeout", "drain_timeout"):
        if key in settings:
            r.get(node, key, (int, float), where, low=0, high=86400)
    if "env" in settings:
        settings["env"] = {str(k): str(v) for k, v in r.get(node, "env", dict, where).items()}
    low, high = settings.get("min", 1), settings.get("max", 4)
    if low > high:
        raise r.fail(node, "min", f"{where}: min ({low}) is larger than max ({high})")
    if command != [BUILTIN_MOVER]:
        problem = command_problem(command, base_dir, settings.get("env", {}).get("PATH"))
        if problem:
            raise r.fail(node, "command", f"{where}.command: {problem}")
    return Pool(r.get(node, "name", str, where, required=True), r.get(node, "queue", str, where), command, settings,
                _role(r, node, where), _policy(r, node, where), _requirements(r, node, where), line=node.line)


def _api(r: _Reader, node: Any, root: Any, pipeline: Pipeline) -> Api:
    node = r.mapping(node, "api", {"name", "stage", "presign", "routes", "cors"}, root, "api")
    api = Api(r.get(node, "name", str, "api", "conveyor-web"), r.get(node, "stage", str, "api", "$default"),
              line=node.line)
    if not STAGE_NAME.match(api.stage):
        raise r.fail(node, "stage", f"api.stage: {api.stage!r} is not a stage name ($default, or letters, digits, "
                                    "'-' and '_')")
    if node.get("presign") is not None:
        api.presign = _presign(r, node["presign"], node, pipeline)
    for i, item in enumerate(r.items(node, "routes", "api")):
        at = f"api.routes[{i}]"
        item = r.mapping(item, at, {"route", "function", "payload_format"}, node, "routes")
        route = ApiRoute(r.get(item, "route", str, at, required=True), r.get(item, "function", str, at, required=True),
                         r.get(item, "payload_format", str, at, "2.0"), line=item.line)
        if not ROUTE_KEY.match(route.route):
            raise r.fail(item, "route", f"{at}.route: {route.route!r} is not a route key (e.g. 'GET /items/{{id}}', "
                                        "'ANY /{proxy+}' or $default)")
        if route.payload_format not in ("1.0", "2.0"):
            raise r.fail(item, "payload_format", f"{at}.payload_format must be 1.0 or 2.0")
        api.routes.append(route)
    keys = [route.route for route in api.routes] + ([api.presign.route] if api.presign else [])
    if len(keys) != len(set(keys)):
        raise r.fail(node, "routes", "api.routes: a route key appears twice")
    if node.get("cors") is not None:
        api.cors = _cors(r, node["cors"], node, "api.cors")
    return api


def _presign(r: _Reader, node: Any, parent: Any, pipeline: Pipeline) -> Presign:
    where = "api.presign"
    node = r.mapping(node, where, {"bucket", "prefix", "expires", "max_size", "content_types", "method", "function",
                                   "route", "role"}, parent, "presign")
    buckets = [b.name for b in pipeline.buckets]
    bucket = r.get(node, "bucket", str, where, buckets[0] if len(buckets) == 1 else None)
    if bucket is None:
        raise r.fail(node, None, f"{where}: 'bucket' is required (the bucket uploads go to)")
    presign = Presign(
        bucket=bucket,
        prefix=r.get(node, "prefix", str, where, "uploads/"),
        expires=r.get(node, "expires", int, where, 300, low=1, high=604800),
        max_size=r.get(node, "max_size", int, where, low=1, high=5 * 1024 ** 3),
        content_types=[str(t) for t in r.get(node, "content_types", list, where, [])],
        method=str(r.get(node, "method", str, where, "PUT")).upper(),
        function=r.get(node, "function", str, where, "presign"),
        route=r.get(node, "route", str, where, "POST /presign"),
        role=_role(r, node, where),
        line=node.line,
    )
    if not presign.prefix.endswith("/"):
        raise r.fail(node, "prefix", f"{where}.prefix: {presign.prefix!r} must end in '/'")
    if presign.method not in ("PUT", "POST"):
        raise r.fail(node, "method", f"{where}.method must be PUT (a presigned URL) or POST (a POST policy)")
    if not ROUTE_KEY.match(presign.route):
        raise r.fail(node, "route", f"{where}.route: {presign.route!r} is not a route key (e.g. 'POST /presign')")
    if any(f.name == presign.function for f in pipeline.functions):
        raise r.fail(node, "function", f"{where}.function: {presign.function!r} is already a function of this "
                                       "pipeline; name the presign function differently")
    return presign


def _site(r: _Reader, node: Any, root: Any, pipeline: Pipeline) -> Site:
    node = r.mapping(node, "site", {"bucket", "directory", "index", "paths"}, root, "site")
    site = Site(r.get(node, "bucket", str, "site", required=True), r.get(node, "directory", str, "site", required=True),
                r.get(node, "index", str, "site", "index.html"), line=node.line)
    if not BUCKET_NAME.match(site.bucket):
        raise r.fail(node, "bucket", f"site.bucket: {site.bucket!r} is not a bucket name")
    if not (pipeline.base_dir / site.directory).is_dir():
        raise r.fail(node, "directory", f"site.directory: {pipeline.base_dir / site.directory} is not a directory")
    # DefaultRootObject names an object without a leading '/':
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DefaultRootObject.html
    if site.index.startswith("/") or not (pipeline.base_dir / site.directory / site.index).is_file():
        raise r.fail(node, "index", f"site.index: {site.index!r} is not a file of {site.directory} (the page "
                                    "that answers /, named without a leading '/')")
    buckets = {b.name for b in pipeline.buckets} | {site.bucket}
    for i, item in enumerate(r.items(node, "paths", "site")):
        at = f"site.paths[{i}]"
        item = r.mapping(item, at, {"path", "bucket"}, node, "paths")
        path = SitePath(r.get(item, "path", str, at, required=True), r.get(item, "bucket", str, at, required=True),
                        line=item.line)
        if not PATH_PATTERN.match(path.path) or not path.prefix:
            raise r.fail(item, "path", f"{at}.path: {path.path!r} is not a path pattern under the site "
                                       "(e.g. processed/*)")
        if path.bucket not in buckets:
            raise r.fail(item, "bucket", f"{at}.bucket: bucket '{path.bucket}' is not defined in this pipeline")
        site.paths.append(path)
    return site


_CORS = {"allow_origins": ("AllowOrigins", list), "allow_methods": ("AllowMethods", list),
         "allow_headers": ("AllowHeaders", list), "expose_headers": ("ExposeHeaders", list),
         "max_age": ("MaxAge", int), "allow_credentials": ("AllowCredentials", bool)}


def _cors(r: _Reader, node: Any, parent: Any, where: str) -> dict[str, Any]:
    node = r.mapping(node, where, set(_CORS), parent, "cors")
    out: dict[str, Any] = {}
    for key, (name, kind) in _CORS.items():
        value = node.get(key)
        if isinstance(value, str) and kind is list:
            value = [value]  # allow_origins: "*"
        if value is None:
            continue
        if kind is list and not all(isinstance(v, str) for v in value):
            raise r.fail(node, key, f"{where}.{key} must be a list of strings")
        if key == "max_age":
            r.get(node, key, int, where, low=-1, high=86400)
        elif not isinstance(value, kind):
            raise r.fail(node, key, f"{where}.{key} must be {kind.__name__}")
        out[name] = value
    if out.get("AllowCredentials") and "*" in out.get("AllowOrigins", []):
        raise r.fail(node, "allow_credentials", f"{where}: allow_credentials cannot be true with allow_origins '*'")
    return out


def _check_references(r: _Reader, p: Pipeline, root: Any) -> None:
    queues = {q.name for q in p.queues}
    topics = {t.name for t in p.topics}
    functions = {f.name for f in p.functions}

    def need(kind: str, name: str | None, known: set[str], line: int) -> None:
        if name is not None and name not in known:
            raise PipelineError(f"{r.source}:{line}: {kind} '{name}' is not defined in this pipeline")

    for q in p.queues:
        need("queue", q.dead_letter_queue, queues, q.line)
    for t in p.topics:
        for s in t.subscriptions:
            need("queue", s.queue, queues, s.line)
            need("function", s.function, functions, s.line)
    for f in p.functions:
        need("queue", f.queue, queues, f.line)
    for b in p.buckets:
        for n in b.notifications:
            need("queue", n.queue, queues, n.line)
            need("topic", n.topic, topics, n.line)
            need("function", n.function, functions, n.line)
    for pool in p.pools:
        need("queue", pool.queue, queues, pool.line)
    for alarm in p.alarms:
        need("queue", alarm.queue, queues, alarm.line)
        need("topic", alarm.topic, topics, alarm.line)
    if p.api is not None:
        for route in p.api.routes:
            need("function", route.function, functions, route.line)
        if p.api.presign is not None:
            need("bucket", p.api.presign.bucket, {b.name for b in p.buckets}, p.api.presign.line)


def environment_region() -> str | None:
    """The region the user's AWS tools would use here: AWS_REGION (which the AWS CLI v2 and the SDKs let
    override AWS_DEFAULT_REGION: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html),
    else AWS_DEFAULT_REGION or the profile's `region` (what boto3 and the AWS CLI v1 read)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:  # the profile's: botocore reads the config file (imported only then, not at every start)
        import botocore.session

        region = botocore.session.Session().get_config_variable("region")
    return str(region) if region else None


def pipeline_region(pipeline: Pipeline, server_region: str) -> str:
    """Where a pipeline is created: the file's `region:`, else the environment's, else the server's."""
    return pipeline.region or environment_region() or server_region
