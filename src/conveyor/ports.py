"""Small interfaces through which one service asks another, without reaching into its internals.

The App builds one `Ports`, lets every service `provide` what it offers, and hands the same object to
every service: S3 delivers bucket events through `destination(kind)`, SNS sends to queues through
`queues`, Lambda's mappings poll them, the pools read their backlog, the gateway asks `credentials`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from conveyor.wire import Caller, RequestContext

if TYPE_CHECKING:
    from conveyor.authz import Denial, Need
    from conveyor.authz.enforcer import Judged


@runtime_checkable
class PolicyHolder(Protocol):
    """A service whose resources carry resource-based policies (SQS queues, SNS topics).

    S3 asks it, before it accepts a bucket notification, whether a destination exists and whether its
    policy lets S3 deliver there (conveyor.resource_policy evaluates the document).
    """

    def resource_exists(self, arn: str) -> bool:
        """Whether `arn` names a resource of this service."""
        ...

    def resource_policy(self, arn: str) -> str | None:
        """The resource's policy document as JSON text (the effective one, defaults included), or
        None when it has none."""
        ...


class NotificationDestination(Protocol):
    """Where S3 delivers bucket events: a queue, a topic or a function."""

    def resource_exists(self, arn: str) -> bool: ...

    async def deliver_from_s3(self, arn: str, bodies: Sequence[str]) -> None:
        """Deliver S3 event documents (JSON texts) in order, in one write where the service stores them;
        raise to have them all retried."""
        ...


@dataclass(frozen=True)
class Delivery:
    """One message for one queue, from another service (an SNS subscription's delivery)."""

    queue_arn: str
    body: str
    message_attributes: dict[str, Any] | None = None  # SQS's MessageAttributes shape
    group_id: str | None = None  # used by FIFO queues only
    dedup_id: str | None = None  # used by FIFO queues only
    sender_id: str = ""


class Queues(PolicyHolder, NotificationDestination, Protocol):
    """SQS, as other services use it: SNS and Lambda send, mappings poll, pools read the backlog.

    `queue` is a queue URL or ARN."""

    async def send(self, queue: str, body: str, message_attributes: dict[str, Any] | None = None,
                   message_system_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                   dedup_id: str | None = None, delay: int | None = None) -> dict[str, Any]: ...

    async def send_batch(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """Store every delivery that can be stored, in one write; for each, None when stored, else why its
        queue refused it. Raises when the write fails (then nothing was stored)."""
        ...

    def is_fifo(self, arn: str) -> bool | None:
        """Whether the queue is a FIFO queue; None when it does not exist."""
        ...

    async def receive(self, queue: str, max_messages: int = 1, visibility: int | None = None,
                      wait: float = 0, admit: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
        """Messages in the shape ReceiveMessage answers (all system attributes included). `admit`, asked
        each time messages could be handed out (at the start, and when a parked receive wakes): False ends
        the receive with none (a mapping's role lost its permission while the poll was parked)."""
        ...

    async def delete(self, queue: str, receipt_handle: str) -> None: ...

    def counters(self, queue: str, region: str | None = None) -> dict[str, float]:
        """visible / in_flight / delayed counts of a queue."""
        ...

    def queue_attributes(self, arn: str) -> dict[str, str] | None:
        """A queue's attributes (as GetQueueAttributes names them), or None when it does not exist."""
        ...

    def queue_summaries(self) -> list[dict[str, Any]]:
        """Every queue with its region, counters and whether it is some queue's dead-letter queue."""
        ...

    async def redrive(self, dead_letter_arn: str) -> str:
        """Move a dead-letter queue's messages back to their source queues, as StartMessageMoveTask with no
        DestinationArn does (the dashboard's redrive button); the task's handle. Raises the ServiceError
        StartMessageMoveTask would (not a dead-letter queue, a task already running...)."""
        ...


class Topics(PolicyHolder, NotificationDestination, Protocol):
    """SNS, as other services use it (Lambda's destinations publish)."""

    async def publish_internal(self, topic_arn: str, message: str, subject: str | None = None,
                               message_attributes: dict[str, Any] | None = None) -> str:
        """Publish as the Publish operation does; the message id."""
        ...


@dataclass(frozen=True)
class Invocation:
    """A synchronous invocation's outcome, as Lambda's Invoke (RequestResponse) reports it."""

    status: int  # 200 when the function ran (with or without an error), else the status of Invoke's error
    payload: bytes = b""  # what the function returned, or its error document
    function_error: str | None = None  # "Unhandled" when the function failed (its timeout included)
    error_code: str | None = None  # Invoke's error when it did not run (TooManyRequestsException...)


class Functions(NotificationDestination, Protocol):
    """Lambda, as other services use it: S3 and SNS invoke functions asynchronously, API Gateway's
    proxy integrations synchronously."""

    async def invoke(self, function_arn: str, payload: bytes) -> Invocation:
        """Run the function once and wait for its result, as Invoke with RequestResponse does; a throttled
        or missing function is an Invocation with Invoke's error status and code, not an exception."""
        ...

    def invoke_allowed(self, function_arn: str, service_principal: str, source_arn: str | None) -> bool:
        """Whether the function's resource policy lets `service_principal` invoke it for `source_arn`."""
        ...

    async def invoke_event(self, function_arn: str, payload: Any) -> None:
        """Queue an asynchronous invocation; `payload` is the event, any JSON value."""
        ...

    async def deliver_from_sns(self, function_arn: str, event: dict[str, Any]) -> None:
        """An SNS notification event; raises when the function's policy does not let SNS invoke it."""
        ...


class EventBuses(NotificationDestination, Protocol):
    """EventBridge, as other services use it: S3 puts bucket events on a region's default bus
    (`deliver_from_s3` with the event in EventBridge's shape), EventBridge Scheduler puts events on buses."""

    async def put_event(self, bus_arn: str, source: str, detail_type: str, detail: str,
                        resources: list[str]) -> str:
        """Put one event on the bus as PutEvents would; its id. Raises ServiceError for a missing bus or a
        detail that is not a JSON object."""
        ...


@dataclass(frozen=True)
class Reader:
    """Who reads an object through `Objects.open_object`: an anonymous caller, or a service principal
    acting for one of its resources (CloudFront with origin access control: `cloudfront.amazonaws.com` for
    a distribution's ARN), which the bucket policy judges by `aws:SourceArn` and `aws:SourceAccount`."""

    service: str | None = None
    source_arn: str | None = None
    source_account: str | None = None


@dataclass(frozen=True)
class StoredObject:
    """An object's current version as GetObject would answer it: its metadata now, its bytes on demand."""

    size: int
    etag: str  # quoted, as the ETag header carries it
    last_modified: float  # seconds since the epoch
    headers: list[tuple[str, str]]  # Content-Type, Cache-Control, x-amz-meta-*... as GetObject answers them
    read: Callable[[int, int], AsyncIterator[bytes]]  # the bytes from start to end (inclusive)


class Objects(Protocol):
    """S3, as other services use it: Lambda reads deployment packages from buckets, CloudFront's edge reads
    its origins, SNS checks the bucket its SMS usage reports are to go to."""

    def bucket_exists(self, bucket: str) -> bool:
        """Whether a bucket of that name exists (bucket names are global: any account, any region)."""
        ...

    async def read_object(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """The object's bytes; raises the ServiceError GetObject would (NoSuchBucket, NoSuchKey...)."""
        ...

    def open_object(self, bucket: str, key: str, reader: Reader, origin: str | None = None) -> StoredObject:
        """The current version of an object, if `reader` may GetObject it; raises the ServiceError S3 would
        answer that reader (AccessDenied, NoSuchKey...). With `origin` (a browser's Origin header), the
        bucket's CORS headers for it come with the object's."""
        ...

    def preflight(self, bucket: str, origin: str, method: str, headers: str | None) -> list[tuple[str, str]]:
        """S3's answer to a CORS preflight for the bucket (the Access-Control-* headers); raises S3's 403
        when no CORS rule allows it."""
        ...


@dataclass(frozen=True)
class Credential:
    """A signing key and whose it is: what the gateway needs to verify a signature and name the caller."""

    access_key: str
    secret_key: str
    caller: Caller
    session_token: str | None = None  # temporary credentials are accepted only with their token
    expiration: float | None = None  # and only until then (the server's clock)


@runtime_checkable
class CredentialSource(Protocol):
    """A service that issues signing keys (IAM's access keys, STS's temporary credentials), asked for keys
    the configuration does not hold."""

    def secret_for(self, access_key: str) -> Credential | None:
        """The credential of an active key; None when the key is unknown or inactive."""
        ...

    def note_used(self, access_key: str, service: str, region: str) -> None:
        """A request signed with the key was accepted (for GetAccessKeyLastUsed)."""
        ...


_CONFIGURED: dict[tuple[str, str, str], Credential] = {}


def find_credential(access_key: str, configured: Mapping[str, str], account_id: str,
                    sources: Sequence[CredentialSource]) -> Credential | None:
    """Who signs with `access_key`: the configured keys are the account's root user; else a key a service
    issued (IAM's CreateAccessKey, STS's temporary credentials)."""
    secret = configured.get(access_key)
    if secret is not None:
        # Asked on every request signed with a configured key: one (frozen) credential per key, kept.
        key = (access_key, secret, account_id)
        credential = _CONFIGURED.get(key)
        if credential is None:
            credential = _CONFIGURED[key] = Credential(access_key, secret, Caller.root(account_id))
        return credential
    for source in sources:
        found = source.secret_for(access_key)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class RoleRecord:
    """A role as STS needs it to make a session of it."""

    arn: str
    role_id: str  # AROA...
    name: str
    trust_policy: str  # the AssumeRolePolicyDocument
    max_session: int  # MaxSessionDuration, seconds
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceProfileRecord:
    """An instance profile as EC2 needs it to start an instance with it."""

    arn: str
    profile_id: str  # AIPA...
    name: str
    role_arn: str | None  # the role it holds (at most one), None when empty


@runtime_checkable
class RoleDirectory(Protocol):
    """IAM, as STS asks it about the roles it makes sessions of, and EC2 about instance profiles."""

    def role_by_arn(self, arn: str) -> RoleRecord | None:
        """The role the ARN names (path included), or None when there is none."""
        ...

    def instance_profile(self, name: str) -> InstanceProfileRecord | None:
        """The instance profile of that name, or None when there is none."""
        ...

    async def role_used(self, arn: str, region: str) -> None:
        """A session of the role was made (the role's RoleLastUsed)."""
        ...


@dataclass(frozen=True)
class SessionCredentials:
    """Temporary credentials of a role session, as a function's or a worker's environment gets them."""

    access_key: str
    secret_key: str
    session_token: str
    expiration: float  # the server's clock
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION

    def environment(self) -> dict[str, str]:
        """The variables every AWS SDK and the AWS CLI read first."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_SESSION_TOKEN": self.session_token}


class RoleNotAssumable(Exception):
    """The role does not exist, or its trust policy does not let the service assume it."""


@runtime_checkable
class RoleSessions(Protocol):
    """STS, as the services that run code ask it for credentials of a role: Lambda for a function's
    execution role (service principal lambda.amazonaws.com), worker pools for an instance role
    (ec2.amazonaws.com)."""

    def assumable_by(self, role_arn: str, service: str) -> bool:
        """Whether the role exists and its trust policy lets `service` assume it."""
        ...

    async def service_session(self, role_arn: str, service: str, session_name: str, duration: int,
                              region: str) -> SessionCredentials:
        """A new session of the role for `service`, valid `duration` seconds (used from `region`);
        RoleNotAssumable when it may not have one."""
        ...


@dataclass(frozen=True)
class Permissions:
    """The identity-based policies of one caller, as IAM holds them (JSON documents)."""

    identity: tuple[str, ...] = ()  # inline and attached managed policies (and, for a user, its groups')
    boundary: str | None = None  # the permissions boundary's default version, when there is one
    session: tuple[str, ...] | None = None  # session policies (inline, then by ARN); None: no session policy


@runtime_checkable
class PermissionSource(Protocol):
    """IAM, as the enforcer asks it for a caller's policies (conveyor.authz)."""

    def generation(self) -> int:
        """A number that changes whenever any policy, attachment, membership or entity changes: the
        enforcer keeps each caller's compiled policies until it does."""
        ...

    def permissions_of(self, caller: Caller) -> Permissions:
        """The caller's identity-based policies, permissions boundary and session policies; a caller
        whose user or role no longer exists has none."""
        ...


@dataclass(frozen=True)
class Refusal:
    """A call IAM refuses a service making it as a role: the action, and AWS's message."""

    action: str
    message: str


@runtime_checkable
class AccessCheck(Protocol):
    """The IAM enforcer, as services ask it about their own deliveries (SNS into a queue, S3 into a queue
    or topic): AWS checks the destination's resource policy at each delivery."""

    @property
    def active(self) -> bool:
        """Whether deliveries are checked at all (not with `--iam off`): a service can skip the work of
        naming the source."""
        ...

    def service_may(self, service: str, action: str, resource: str, source_arn: str, source_account: str,
                    keys: Mapping[str, str] | None = None) -> bool:
        """Whether the service principal (e.g. sns.amazonaws.com) may act on `resource` for the source
        (`keys`: more condition keys the service sets, e.g. SNS's AWS:SourceOwner); always True with
        `--iam off`, and with `--iam report` (which logs what it would deny)."""
        ...

    def authorize_needs(self, ctx: RequestContext, service: Judged, needs: Sequence[Need]) -> None:
        """Judge the request's caller for needs the service names itself (a request that is no operation
        of its model: S3's form uploads), as the pipeline judges operations: raises the service's
        AccessDenied error when enforcing."""
        ...

    def explicit_denial(self, ctx: RequestContext, caller: Caller, needs: Sequence[Need]) -> Denial | None:
        """The first need the resource's own policy explicitly denies to `caller`, in every mode (`--iam off`
        too), judging no identity-based policy: for services that enforce their resource policies
        themselves (S3's bucket policies bind the bucket owner as well)."""
        ...

    def role_refusal(self, role_arn: str, session_name: str, needs: Sequence[tuple[str, str]], call: str,
                     *, record: bool = True) -> Refusal | None:
        """Whether a session of the role may make the calls (action, resource ARN) a service makes as it
        (an event source mapping's poller, as the function's execution role): the first refused, only
        when enforcing; None with `--iam off` and `--iam report` (which logs it). `record`: log and keep
        the refusal (False for a quiet re-check)."""
        ...


Dimensions = tuple[tuple[str, str], ...]


@runtime_checkable
class LogSink(Protocol):
    """CloudWatch Logs, as the code runners write to it: Lambda's environments to /aws/lambda/NAME, the
    worker pools to a group of their own. Writes are buffered and stored in one commit shortly after."""

    def write(self, region: str, group: str, stream: str, lines: Sequence[tuple[float, str]]) -> None:
        """Append (timestamp in seconds, message) events to the stream, creating the group and stream when
        missing; not awaited (a process's output is not acknowledged to anyone)."""
        ...


@runtime_checkable
class LogGroups(Protocol):
    """CloudWatch Logs, as EventBridge writes matched events into log groups (rule targets)."""

    def resource_exists(self, arn: str) -> bool:
        """Whether `arn` (arn:aws:logs:REGION:ACCOUNT:log-group:NAME, `:*` allowed) names a log group."""
        ...

    def delivery_allowed(self, arn: str, stream: str, service: str, context: Mapping[str, str]) -> bool:
        """Whether the account's resource policies let the service principal logs:CreateLogStream and
        logs:PutLogEvents on the group's stream `stream`, in `context` (aws:SourceArn...)."""
        ...

    async def deliver_events(self, arn: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        """Store (timestamp ms, message) events durably in the stream, creating it when missing; raises
        ServiceError ResourceNotFoundException when the group does not exist."""
        ...


@runtime_checkable
class MetricsSink(Protocol):
    """CloudWatch metrics, as the services publish their built-in metrics (AWS/SQS, AWS/Lambda...).

    Each call is a dictionary update: values are aggregated in memory per minute and stored once a minute
    in one write, so counting costs the counting service next to nothing."""

    def tally(self, region: str, namespace: str, name: str, dimensions: Dimensions, amount: float = 1.0,
              unit: str = "Count") -> None:
        """Add `amount` to the minute's one datapoint (AWS/SQS counts this way: one datapoint a minute)."""
        ...

    def sample(self, region: str, namespace: str, name: str, dimensions: Dimensions, value: float,
               unit: str = "None") -> None:
        """One observation of its own (a duration, an invocation): the minute keeps count, sum, min, max
        and the values for percentiles."""
        ...

    def sample_many(self, region: str, namespace: str, name: str, dimensions: Dimensions, values: Sequence[float],
                    unit: str = "None") -> None:
        """`sample` once for each of `values` (a batch's message sizes), in one call."""
        ...


@dataclass(frozen=True)
class StreamShard:
    """A shard of a stream, as a stream reader needs it: whom to read first, whether more can come."""

    shard_id: str
    parents: tuple[str, ...]  # read these to their end first (a split's parent, a merge's two)
    closed: bool


@dataclass(frozen=True)
class StreamRecord:
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float  # ApproximateArrivalTimestamp, seconds on the server's clock


@dataclass(frozen=True)
class ShardRead:
    records: list[StreamRecord]
    position: str  # where the next read starts: the last record's sequence number, else the one given
    ended: bool  # the shard is closed and read to its end: its children come next


@runtime_checkable
class Streams(Protocol):
    """Kinesis (and DynamoDB Streams), as Lambda's stream event source mappings read them. A position is a sequence number of the
    shard; a read returns the records after it, within the stream's retention, in order."""

    def shards(self, arn: str) -> list[StreamShard] | None:
        """Every shard still within retention, parents before children; None when the stream does not exist."""
        ...

    def position(self, arn: str, shard_id: str, kind: str, timestamp: float | None = None) -> str:
        """Where a reader starting at TRIM_HORIZON, LATEST or AT_TIMESTAMP starts."""
        ...

    def read(self, arn: str, shard_id: str, after: str, limit: int) -> ShardRead:
        """Up to `limit` records past `after`; raises the ServiceError GetRecords would once the stream or
        shard is gone."""
        ...

    def changed(self, arn: str) -> asyncio.Event | None:
        """An event set at the stream's next change (records stored, shards opened or closed)."""
        ...


@dataclass(frozen=True)
class LaunchTemplateRef:
    """Which launch template (by id or name) and which version ("$Latest", "$Default" or a number)."""

    template_id: str | None = None
    name: str | None = None
    version: str = "$Default"


@dataclass(frozen=True)
class InstanceView:
    """An EC2 instance as Auto Scaling (and a load balancer, its targets) sees it."""

    instance_id: str
    region: str
    state: str  # pending | running | shutting-down | terminated | stopping | stopped
    launch_time: float  # the server's clock
    availability_zone: str
    instance_type: str
    template: LaunchTemplateRef | None  # resolved: id, name and the version number it was launched from
    lived: float  # real seconds its process ran (or has run so far), for the crash-loop back-off
    pid: int | None = None
    crashed: bool = False  # it went down by itself (its process ended), not by a request or a drill
    private_ip: str | None = None  # its own loopback address (127.0.0.0/8), where its servers listen


@runtime_checkable
class Instances(Protocol):
    """EC2, as Auto Scaling launches, watches and terminates the instances of its groups."""

    def resolve_template(self, region: str, ref: LaunchTemplateRef) -> LaunchTemplateRef:
        """The template's id, name and version number; raises the ServiceError EC2 would when it does not
        exist (InvalidLaunchTemplateId.NotFound...)."""
        ...

    async def launch(self, region: str, ref: LaunchTemplateRef, zone: str, tags: Mapping[str, str]) -> InstanceView:
        """Run one instance of the template in `zone` with the tags; raises what RunInstances would."""
        ...

    async def terminate(self, region: str, instance_id: str) -> None:
        """Terminate it as TerminateInstances does (its process gets SIGTERM, then SIGKILL)."""
        ...

    def instance(self, region: str, instance_id: str) -> InstanceView | None: ...

    def watch(self, listener: Callable[[InstanceView], None]) -> None:
        """Call `listener` with an instance's view each time its state changes."""
        ...

    def zones(self, region: str) -> list[str]:
        """The region's availability zones (their default subnets), in order."""
        ...

    def subnet_zones(self, region: str) -> dict[str, str]:
        """The region's subnet ids -> their availability zones."""
        ...

    def kill(self, instance_id: str) -> bool:
        """A drill (`conveyor workers kill`): SIGKILL the instance's processes; False when it runs none."""
        ...


@dataclass(frozen=True)
class AlarmFiring:
    """An alarm invoking a scaling policy: the state it is in and the last value it judged."""

    alarm_name: str
    alarm_arn: str
    state: str
    value: float | None
    threshold: float


@runtime_checkable
class ScalingActions(Protocol):
    """Auto Scaling, as CloudWatch alarms invoke its scaling policies (arn:aws:autoscaling:...)."""

    async def alarm_action(self, policy_arn: str, firing: AlarmFiring) -> str:
        """Execute the policy for the alarm; what happened, for the alarm's history. Raises when the policy
        does not exist."""
        ...

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Each group as `conveyor workers` shows it (GET /_conveyor/pools), by name."""
        ...


@dataclass(frozen=True)
class PoolView:
    """A worker pool of the pipeline file, as Auto Scaling describes it (a group it does not launch)."""

    name: str
    region: str
    min: int
    max: int
    desired: int
    workers: tuple[tuple[str, str], ...]  # (worker id, state: starting | in-service | terminating | unhealthy)


@runtime_checkable
class WorkerPools(Protocol):
    """The worker pools (conveyor.runtime.pools), as Auto Scaling shows and scales them."""

    def pool_views(self) -> list[PoolView]: ...

    async def set_pool_desired(self, name: str, desired: int) -> None:
        """As `conveyor workers scale`; raises ValueError outside [min, max] or for an unknown pool."""
        ...

    async def stop_worker(self, worker_id: str, decrement: bool) -> str | None:
        """Drain one worker (SIGTERM, then SIGKILL), lowering the desired capacity when `decrement`; its pool's
        name, or None when no pool has it."""
        ...


@runtime_checkable
class AlarmKeeper(Protocol):
    """CloudWatch, as Auto Scaling creates and deletes the alarms of its target tracking policies."""

    async def put_alarm(self, region: str, params: dict[str, Any]) -> str:
        """Create or update a metric alarm from PutMetricAlarm's parameters; its ARN."""
        ...

    async def delete_alarms(self, region: str, names: Sequence[str]) -> None: ...


@runtime_checkable
class Vpcs(Protocol):
    """EC2's VPCs, as Route 53 checks the VPC a private hosted zone is associated with."""

    def vpc_exists(self, region: str, vpc_id: str) -> bool:
        """Whether the account has that VPC in that region (its default VPC included)."""
        ...


@runtime_checkable
class LoadBalancerHealth(Protocol):
    """Elastic Load Balancing, as Route 53 evaluates the health of alias records to load balancers
    (EvaluateTargetHealth)."""

    def any_healthy(self, dns_name: str) -> bool | None:
        """Whether the load balancer of that DNS name has a healthy target in a target group it forwards to;
        None when there is no such load balancer."""
        ...


@runtime_checkable
class TargetGroups(Protocol):
    """Elastic Load Balancing, as Auto Scaling registers the instances of its groups in target groups and,
    with health check type ELB, asks how their health checks find them."""

    def target_group_exists(self, region: str, arn: str) -> bool: ...

    async def register_instances(self, region: str, group_arn: str, instance_ids: Sequence[str]) -> None:
        """Register the instances at the target group's port, as RegisterTargets does (raises its errors)."""
        ...

    async def deregister_instances(self, region: str, group_arn: str, instance_ids: Sequence[str]) -> None:
        """Deregister those of them that are registered (the deregistration delay applies)."""
        ...

    def instance_state(self, region: str, group_arn: str, instance_id: str) -> str | None:
        """The instance's TargetHealth State in the group (healthy, unhealthy, initial, draining, unused...);
        None when it is not registered there."""
        ...

    def deregistration_delay(self, region: str, group_arn: str) -> float:
        """How long a deregistered target drains before it leaves (0 when nothing forwards to the group)."""
        ...


@runtime_checkable
class ApiCaller(Protocol):
    """The served APIs themselves, called in-process through the one request pipeline (signed as the
    account's root user): CloudFormation creates its resources this way, so that each keeps its own
    service's validation and errors rather than reaching into engines."""

    async def call(self, service: str, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        """The operation's output as botocore parses it; raises the ServiceError the service answered."""
        ...


class Outages(Protocol):
    """Regions a drill has taken down (conveyor.outages): their data planes refuse while they are."""

    def is_down(self, region: str) -> bool: ...


@runtime_checkable
class AlarmStates(Protocol):
    """CloudWatch, as Route 53's CLOUDWATCH_METRIC health checks follow an alarm's state."""

    def alarm_state(self, region: str, name: str) -> str | None:
        """OK, ALARM or INSUFFICIENT_DATA; None when the region has no such alarm."""
        ...


@dataclass
class Ports:
    """What each service offers the others; a service that is not part of this build leaves None."""

    queues: Queues | None = None
    topics: Topics | None = None
    functions: Functions | None = None
    events: EventBuses | None = None
    objects: Objects | None = None
    credential_sources: list[CredentialSource] = field(default_factory=list)
    roles: RoleDirectory | None = None
    role_sessions: RoleSessions | None = None
    logs: LogSink | None = None
    log_groups: LogGroups | None = None
    metrics: MetricsSink | None = None
    streams: Streams | None = None
    # DynamoDB Streams, read the same way: one shard per table stream, a record's `data` is the JSON of the
    # record as Lambda's DynamoDB event carries it (eventSourceARN aside), its partition key the item's key.
    table_streams: Streams | None = None
    instances: Instances | None = None
    vpcs: Vpcs | None = None
    scaling: ScalingActions | None = None
    alarms: AlarmKeeper | None = None
    pools: WorkerPools | None = None
    permissions: PermissionSource | None = None
    access: AccessCheck | None = None
    api: ApiCaller | None = None
    outages: Outages | None = None
    load_balancers: LoadBalancerHealth | None = None
    alarm_states: AlarmStates | None = None
    target_groups: TargetGroups | None = None
    # Resources with resource-based policies, by the service part of their ARNs ("s3", "lambda", "iam"
    # for roles' trust policies), besides queues and topics.
    policy_holders: dict[str, PolicyHolder] = field(default_factory=dict)

    def destination(self, kind: str) -> NotificationDestination | None:
        """The service behind a notification destination ARN's service part (sqs, sns, lambda, events)."""
        return {"sqs": self.queues, "sns": self.topics, "lambda": self.functions, "events": self.events}.get(kind)

    def policy_holder(self, kind: str) -> PolicyHolder | None:
        """Who holds the resource policies of ARNs of the service `kind` (sqs, sns, s3, lambda, iam)."""
        if kind == "sqs":
            return self.queues
        if kind == "sns":
            return self.topics
        return self.policy_holders.get(kind)
