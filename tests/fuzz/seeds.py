"""Valid requests of every protocol, the starting points the fuzz test mutates.

Each seed is a request a real SDK would send (method, path, query, headers, body), against resources
`prepare` creates first, so that mutations reach deep into each operation instead of stopping at "no such
queue". Long polls are avoided on purpose (WaitTimeSeconds stays 0 and the seeds never set a queue's
ReceiveMessageWaitTimeSeconds): an honest 20-second wait would eat the fuzz test's time budget.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.serialize
import botocore.session

from tests.conftest import lambda_role

ACCOUNT = "000000000000"
QUEUE, TOPIC, BUCKET, FUNCTION = "fuzzq", "fuzzt", "fuzzb", "fuzzf"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}"
TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:{TOPIC}"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}"
USER, ROLE, ASSUMABLE = "fuzz-user", "fuzz-role", "fuzz-assumable"
STREAM = "fuzz-stream"
# The queue lets S3 send to it, so the notification seed names a destination S3 accepts.
QUEUE_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
    "Resource": QUEUE_ARN}]}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage"],
                                                  "Resource": QUEUE_ARN, "Condition": {
                                                      "StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def function_zip() -> bytes:
    """The same bytes every time (a fixed timestamp), so the package's digest is known in advance."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("lambda_function.py", date_time=(2024, 1, 1, 0, 0, 0))
        zf.writestr(info, "def lambda_handler(event, context):\n    return event\n")
    return buf.getvalue()


ZIP_B64 = base64.b64encode(function_zip()).decode()


def signed(service: str, access_key: str = "test") -> tuple[tuple[str, str], ...]:
    """A SigV4 Authorization header for `service`, as every SDK sends one. The fuzzed server runs with auth
    off, which routes by the credential scope but does not verify signatures (their checks have their own
    tests), so a well-formed header lets mutated requests reach the service they were meant for."""
    now = dt.datetime.now(dt.UTC)
    scope = f"{now:%Y%m%d}/us-east-1/{service}/aws4_request"
    return (("X-Amz-Date", f"{now:%Y%m%dT%H%M%SZ}"),
            ("Authorization", f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders=host;x-amz-date, "
                              f"Signature={'0' * 64}"))


@dataclass(frozen=True)
class Seed:
    name: str
    protocol: str  # query | json | rest-xml | rest-json | rpc-v2-cbor
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    # A form or JSON document (mutated structurally), XML text, or raw bytes.
    form: tuple[tuple[str, str], ...] | None = None
    document: dict[str, Any] | None = None
    cbor: bool = False  # the document goes out as CBOR (rpc-v2-cbor), not JSON
    xml: str | None = None
    raw: bytes = b""
    tags: frozenset[str] = field(default_factory=frozenset)


_QUERY_SERVICES = {"2012-11-05": "sqs", "2010-03-31": "sns", "2011-06-15": "sts", "2010-05-08": "iam"}


def _query(name: str, action: str, path: str = "/", version: str = "2012-11-05", access_key: str = "test",
           **fields: str) -> Seed:
    form = (("Action", action), ("Version", version), *fields.items())
    headers = (("Content-Type", FORM), *signed(_QUERY_SERVICES[version], access_key))
    return Seed(name, "query", "POST", path, headers=headers, form=form)


def query_seeds(endpoint: str, ready: Prepared) -> list[Seed]:
    queue_url = f"{endpoint}/{ACCOUNT}/{QUEUE}"
    redrive = json.dumps({"deadLetterTargetArn": QUEUE_ARN, "maxReceiveCount": 3})
    return [
        _query("sqs CreateQueue", "CreateQueue", QueueName="fuzz-q2", **{
            "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "30",
            "Attribute.2.Name": "DelaySeconds", "Attribute.2.Value": "0", "Tag.1.Key": "k", "Tag.1.Value": "v"}),
        _query("sqs SendMessage (queue path)", "SendMessage", f"/{ACCOUNT}/{QUEUE}", MessageBody="hello", **{
            "DelaySeconds": "0", "MessageAttribute.1.Name": "color",
            "MessageAttribute.1.Value.DataType": "String", "MessageAttribute.1.Value.StringValue": "blue",
            "MessageAttribute.2.Name": "blob", "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x00\x01").decode()}),
        _query("sqs ReceiveMessage", "ReceiveMessage", QueueUrl=queue_url, MaxNumberOfMessages="10",
               WaitTimeSeconds="0", VisibilityTimeout="0", **{"AttributeName.1": "All",
                                                              "MessageAttributeName.1": "All"}),
        _query("sqs SendMessageBatch", "SendMessageBatch", QueueUrl=queue_url, **{
            "SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "one",
            "SendMessageBatchRequestEntry.2.Id": "b", "SendMessageBatchRequestEntry.2.MessageBody": "two",
            "SendMessageBatchRequestEntry.2.DelaySeconds": "0"}),
        _query("sqs DeleteMessage", "DeleteMessage", QueueUrl=queue_url, ReceiptHandle="not-a-handle"),
        _query("sqs ChangeMessageVisibility", "ChangeMessageVisibility", QueueUrl=queue_url,
               ReceiptHandle="not-a-handle", VisibilityTimeout="10"),
        _query("sqs SetQueueAttributes", "SetQueueAttributes", QueueUrl=queue_url, **{
            "Attribute.1.Name": "RedrivePolicy", "Attribute.1.Value": redrive,
            "Attribute.2.Name": "MessageRetentionPeriod", "Attribute.2.Value": "86400"}),
        _query("sqs GetQueueAttributes", "GetQueueAttributes", QueueUrl=queue_url, **{"AttributeName.1": "All"}),
        _query("sqs ListQueues", "ListQueues", QueueNamePrefix="fuzz", MaxResults="5"),
        _query("sns CreateTopic", "CreateTopic", version="2010-03-31", Name="fuzz-t2", **{
            "Attributes.entry.1.key": "DisplayName", "Attributes.entry.1.value": "fuzz",
            "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"}),
        _query("sns Publish", "Publish", version="2010-03-31", TopicArn=TOPIC_ARN, Message="hi", Subject="s", **{
            "MessageAttributes.entry.1.Name": "color", "MessageAttributes.entry.1.Value.DataType": "String",
            "MessageAttributes.entry.1.Value.StringValue": "blue"}),
        _query("sns PublishBatch", "PublishBatch", version="2010-03-31", TopicArn=TOPIC_ARN, **{
            "PublishBatchRequestEntries.member.1.Id": "a", "PublishBatchRequestEntries.member.1.Message": "x"}),
        _query("sns Subscribe sqs", "Subscribe", version="2010-03-31", TopicArn=TOPIC_ARN, Protocol="sqs",
               Endpoint=QUEUE_ARN, ReturnSubscriptionArn="true", **{
                   "Attributes.entry.1.key": "FilterPolicy",
                   "Attributes.entry.1.value": json.dumps({"color": ["blue", {"prefix": "b"}]}),
                   "Attributes.entry.2.key": "RawMessageDelivery", "Attributes.entry.2.value": "true"}),
        # Port 9 (discard) on loopback: the confirmation request fails at once, nowhere else is reached.
        _query("sns Subscribe http", "Subscribe", version="2010-03-31", TopicArn=TOPIC_ARN, Protocol="http",
               Endpoint="http://127.0.0.1:9/hook"),
        _query("sns SetTopicAttributes", "SetTopicAttributes", version="2010-03-31", TopicArn=TOPIC_ARN,
               AttributeName="Policy", AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": []})),
        _query("sns ListSubscriptionsByTopic", "ListSubscriptionsByTopic", version="2010-03-31",
               TopicArn=TOPIC_ARN),
        _query("sts GetCallerIdentity", "GetCallerIdentity", version="2011-06-15"),
        # As an IAM user: the root user may not assume roles.
        _query("sts AssumeRole", "AssumeRole", version="2011-06-15", access_key=ready.user_key, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{ASSUMABLE}",
               RoleSessionName="fuzz", DurationSeconds="900", ExternalId="fuzz-external", Policy=json.dumps(POLICY), **{
                   "Tags.member.1.Key": "team", "Tags.member.1.Value": "a", "TransitiveTagKeys.member.1": "team"}),
        _query("sts GetSessionToken", "GetSessionToken", version="2011-06-15", DurationSeconds="900"),
        _query("sts GetAccessKeyInfo", "GetAccessKeyInfo", version="2011-06-15", AccessKeyId="AKIAIOSFODNN7EXAMPLE"),
        _query("iam CreateUser", "CreateUser", version="2010-05-08", UserName="fuzz-u2", Path="/fuzz/", **{
            "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"}),
        _query("iam CreateRole", "CreateRole", version="2010-05-08", RoleName="fuzz-r2", Path="/",
               AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration="3600"),
        _query("iam PutRolePolicy", "PutRolePolicy", version="2010-05-08", RoleName=ROLE, PolicyName="p",
               PolicyDocument=json.dumps(POLICY)),
        _query("iam CreatePolicy", "CreatePolicy", version="2010-05-08", PolicyName="fuzz-p2",
               PolicyDocument=json.dumps(POLICY), Description="d"),
        _query("iam AttachUserPolicy", "AttachUserPolicy", version="2010-05-08", UserName=USER,
               PolicyArn="arn:aws:iam::aws:policy/AmazonSQSFullAccess"),
        _query("iam ListAttachedRolePolicies", "ListAttachedRolePolicies", version="2010-05-08", RoleName=ROLE,
               MaxItems="5", PathPrefix="/"),
        _query("iam GetAccountAuthorizationDetails", "GetAccountAuthorizationDetails", version="2010-05-08",
               **{"Filter.member.1": "Role", "MaxItems": "10"}),
        # Unsigned, as curl sends it: routed by its Action alone.
        Seed("sqs ListQueues (GET, unsigned)", "query", "GET", "/", query=(("Action", "ListQueues"),
                                                                            ("Version", "2012-11-05"))),
        Seed("sqs SendMessage (unsigned form)", "query", "POST", f"/{ACCOUNT}/{QUEUE}",
             headers=(("Content-Type", FORM),), form=(("Action", "SendMessage"), ("MessageBody", "plain"))),
    ]


def _json(name: str, operation: str, document: dict[str, Any]) -> Seed:
    headers = (("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", f"AmazonSQS.{operation}"),
               *signed("sqs"))
    return Seed(name, "json", "POST", "/", headers=headers, document=document)


def json_seeds(endpoint: str, ready: Prepared) -> list[Seed]:
    queue_url = f"{endpoint}/{ACCOUNT}/{QUEUE}"
    return [
        _json("CreateQueue", "CreateQueue", {"QueueName": "fuzz-j", "Attributes": {
            "VisibilityTimeout": "30", "DelaySeconds": "0"}, "tags": {"k": "v"}}),
        _json("SendMessage", "SendMessage", {"QueueUrl": queue_url, "MessageBody": "x", "DelaySeconds": 0,
                                             "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"},
                                                                   "b": {"DataType": "Binary", "BinaryValue": "AAE="}},
                                             "MessageSystemAttributes": {"AWSTraceHeader": {
                                                 "DataType": "String", "StringValue": "Root=1-0-0"}}}),
        _json("ReceiveMessage", "ReceiveMessage", {"QueueUrl": queue_url, "MaxNumberOfMessages": 10,
                                                   "WaitTimeSeconds": 0, "VisibilityTimeout": 0,
                                                   "MessageAttributeNames": ["All"],
                                                   "MessageSystemAttributeNames": ["All"],
                                                   "ReceiveRequestAttemptId": "r"}),
        _json("SendMessageBatch", "SendMessageBatch", {"QueueUrl": queue_url, "Entries": [
            {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two", "DelaySeconds": 0}]}),
        _json("DeleteMessageBatch", "DeleteMessageBatch", {"QueueUrl": queue_url, "Entries": [
            {"Id": "a", "ReceiptHandle": "x"}]}),
        _json("ChangeMessageVisibilityBatch", "ChangeMessageVisibilityBatch", {"QueueUrl": queue_url, "Entries": [
            {"Id": "a", "ReceiptHandle": "x", "VisibilityTimeout": 5}]}),
        _json("SetQueueAttributes", "SetQueueAttributes", {"QueueUrl": queue_url, "Attributes": {
            "RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [QUEUE_ARN]}),
            "Policy": json.dumps(QUEUE_POLICY)}}),
        _json("GetQueueAttributes", "GetQueueAttributes", {"QueueUrl": queue_url, "AttributeNames": ["All"]}),
        _json("GetQueueUrl", "GetQueueUrl", {"QueueName": QUEUE, "QueueOwnerAWSAccountId": ACCOUNT}),
        _json("ListQueues", "ListQueues", {"QueueNamePrefix": "fuzz", "MaxResults": 5}),
        _json("TagQueue", "TagQueue", {"QueueUrl": queue_url, "Tags": {"a": "b"}}),
        _json("StartMessageMoveTask", "StartMessageMoveTask", {"SourceArn": QUEUE_ARN,
                                                               "MaxNumberOfMessagesPerSecond": 10}),
        _json("ListDeadLetterSourceQueues", "ListDeadLetterSourceQueues", {"QueueUrl": queue_url}),
        _json("DeleteQueue (another)", "DeleteQueue", {"QueueUrl": f"{endpoint}/{ACCOUNT}/fuzz-gone"}),
    ]


def _rest_xml(name: str, method: str, path: str, query: tuple[tuple[str, str], ...] = (),
              headers: tuple[tuple[str, str], ...] = (), xml: str | None = None, raw: bytes = b"",
              with_md5: bool = False) -> Seed:
    if with_md5 and xml is not None:
        md5 = base64.b64encode(hashlib.md5(xml.encode()).digest()).decode()
        headers = (*headers, ("Content-MD5", md5))
    headers = (*headers, ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"), *signed("s3"))
    return Seed(name, "rest-xml", method, path, query, headers, xml=xml, raw=raw,
                tags=frozenset({"md5"}) if with_md5 else frozenset())


def rest_xml_seeds(endpoint: str, ready: Prepared) -> list[Seed]:
    b = f"/{BUCKET}"
    notification = (f"<NotificationConfiguration><QueueConfiguration><Id>n</Id><Queue>{QUEUE_ARN}</Queue>"
                    "<Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name>"
                    "<Value>uploads/</Value></FilterRule></S3Key></Filter></QueueConfiguration>"
                    "</NotificationConfiguration>")
    return [
        _rest_xml("CreateBucket", "PUT", "/fuzz-b2", xml="<CreateBucketConfiguration><LocationConstraint>"
                  "us-west-2</LocationConstraint></CreateBucketConfiguration>"),
        _rest_xml("PutObject", "PUT", f"{b}/dir/key.txt", headers=(
            ("Content-Type", "text/plain"), ("x-amz-meta-color", "blue"), ("x-amz-tagging", "a=b&c=d"),
            ("Cache-Control", "no-cache"), ("x-amz-checksum-sha256",
                                             base64.b64encode(hashlib.sha256(b"hello").digest()).decode())),
                  raw=b"hello"),
        _rest_xml("GetObject", "GET", f"{b}/dir/key.txt", headers=(("Range", "bytes=0-3"),
                                                                  ("If-None-Match", '"x"'))),
        _rest_xml("HeadObject", "HEAD", f"{b}/dir/key.txt", query=(("partNumber", "1"),)),
        _rest_xml("ListObjectsV2", "GET", b, query=(("list-type", "2"), ("prefix", "dir/"), ("max-keys", "5"),
                                                     ("delimiter", "/"), ("start-after", "a"))),
        _rest_xml("ListObjectVersions", "GET", b, query=(("versions", ""), ("key-marker", "a"),
                                                          ("max-keys", "3"))),
        _rest_xml("DeleteObjects", "POST", b, query=(("delete", ""),), with_md5=True,
                  xml="<Delete><Quiet>false</Quiet><Object><Key>nothing</Key></Object>"
                      "<Object><Key>gone</Key><VersionId>null</VersionId></Object></Delete>"),
        _rest_xml("PutBucketTagging", "PUT", b, query=(("tagging", ""),), with_md5=True,
                  xml="<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"),
        _rest_xml("PutBucketCors", "PUT", b, query=(("cors", ""),), with_md5=True,
                  xml="<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET"
                      "</AllowedMethod><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>"),
        _rest_xml("PutBucketNotification", "PUT", b, query=(("notification", ""),), xml=notification),
        _rest_xml("PutBucketVersioning", "PUT", b, query=(("versioning", ""),), with_md5=True,
                  xml="<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"),
        Seed("PutBucketPolicy", "rest-xml", "PUT", b, (("policy", ""),), signed("s3"), document={
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/public/*"}]}),
        _rest_xml("CreateMultipartUpload", "POST", f"{b}/mp", query=(("uploads", ""),)),
        _rest_xml("UploadPart", "PUT", f"{b}/mp", query=(("partNumber", "1"), ("uploadId", ready.upload_id)),
                  raw=b"part"),
        _rest_xml("CompleteMultipartUpload", "POST", f"{b}/mp", query=(("uploadId", ready.upload_id),),
                  xml="<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                      f"<ETag>\"{hashlib.md5(b'part').hexdigest()}\"</ETag></Part></CompleteMultipartUpload>"),
        _rest_xml("CopyObject", "PUT", f"{b}/copy", headers=(("x-amz-copy-source", f"{b}/dir/key.txt"),
                                                             ("x-amz-metadata-directive", "REPLACE"))),
        _rest_xml("DeleteObject", "DELETE", f"{b}/some/other"),
        _rest_xml("GetBucketAcl", "GET", b, query=(("acl", ""),)),
        _rest_xml("ListBuckets", "GET", "/"),
    ]


def _rest_json(name: str, method: str, path: str, document: dict[str, Any] | None = None,
               query: tuple[tuple[str, str], ...] = (), headers: tuple[tuple[str, str], ...] = (),
               raw: bytes = b"") -> Seed:
    if document is not None:
        headers = (*headers, ("Content-Type", "application/json"))
    headers = (*headers, *signed("lambda"))
    return Seed(name, "rest-json", method, path, query, headers, document=document, raw=raw)


def rest_json_seeds(endpoint: str, ready: Prepared) -> list[Seed]:
    fn = f"/2015-03-31/functions/{FUNCTION}"
    now = dt.datetime.now(dt.UTC)
    return [
        _rest_json("CreateFunction", "POST", "/2015-03-31/functions", {
            "FunctionName": "fuzz-c", "Runtime": "python3.12", "Role": f"arn:aws:iam::{ACCOUNT}:role/r",
            "Handler": "lambda_function.lambda_handler", "Code": {"ZipFile": ZIP_B64}, "Timeout": 3,
            "MemorySize": 128, "Environment": {"Variables": {"AB": "1"}}, "Tags": {"k": "v"}}),
        _rest_json("GetFunction", "GET", fn, query=(("Qualifier", "$LATEST"),)),
        _rest_json("GetFunctionConfiguration", "GET", f"{fn}/configuration"),
        _rest_json("UpdateFunctionConfiguration", "PUT", f"{fn}/configuration", {
            "Timeout": 5, "MemorySize": 256, "Description": "d", "Environment": {"Variables": {"CD": "2"}}}),
        _rest_json("UpdateFunctionCode", "PUT", f"{fn}/code", {"ZipFile": ZIP_B64, "Publish": False}),
        _rest_json("Invoke", "POST", f"{fn}/invocations", headers=(
            ("X-Amz-Invocation-Type", "RequestResponse"), ("X-Amz-Log-Type", "Tail"),
            ("X-Amz-Client-Context", base64.b64encode(b'{"custom": {"a": 1}}').decode())),
                   raw=json.dumps({"hello": "world"}).encode()),
        _rest_json("Invoke async", "POST", f"{fn}/invocations", headers=(("X-Amz-Invocation-Type", "Event"),),
                   raw=b'{"n": 1}'),
        _rest_json("PublishVersion", "POST", f"{fn}/versions", {"Description": "v"}),
        _rest_json("CreateAlias", "POST", f"{fn}/aliases", {"Name": "live", "FunctionVersion": "$LATEST"}),
        _rest_json("AddPermission", "POST", f"{fn}/policy", {
            "StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com",
            "SourceArn": f"arn:aws:s3:::{BUCKET}", "SourceAccount": ACCOUNT}),
        _rest_json("GetPolicy", "GET", f"{fn}/policy"),
        _rest_json("PutFunctionConcurrency", "PUT", f"/2017-10-31/functions/{FUNCTION}/concurrency",
                   {"ReservedConcurrentExecutions": 5}),
        _rest_json("PutFunctionEventInvokeConfig", "PUT", f"/2019-09-25/functions/{FUNCTION}/event-invoke-config",
                   {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}),
        _rest_json("CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings/", {
            "EventSourceArn": QUEUE_ARN, "FunctionName": FUNCTION, "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2}}),
        _rest_json("ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings/",
                   query=(("FunctionName", FUNCTION), ("MaxItems", "5"))),
        _rest_json("ListFunctions", "GET", "/2015-03-31/functions/", query=(("MaxItems", "5"),
                                                                           ("FunctionVersion", "ALL"))),
        _rest_json("TagResource", "POST", f"/2017-03-31/tags/{FUNCTION_ARN}", {"Tags": {"a": "b"}}),
        _rest_json("GetAccountSettings", "GET", "/2016-08-19/account-settings/"),
        # GetFunction's Code.Location: presigned for lambda (routing and expiry read the query string).
        Seed("Code.Location download", "rest-json", "GET",
             f"/snapshots/{ACCOUNT}/{FUNCTION}-{hashlib.sha256(function_zip()).hexdigest()}", query=(
                 ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", f"test/{now:%Y%m%d}/us-east-1/"
                                                                              "lambda/aws4_request"),
                 ("X-Amz-Date", f"{now:%Y%m%dT%H%M%SZ}"), ("X-Amz-Expires", "600"),
                 ("X-Amz-SignedHeaders", "host"), ("X-Amz-Signature", "0" * 64))),
    ]


def _sdk(name: str, service: str, operation: str, params: dict[str, Any], protocol: str | None = None) -> Seed:
    """A request exactly as botocore serializes it (in `protocol`, else the model's first), signed."""
    model = botocore.session.get_session().get_service_model(service)
    wire = protocol or model.metadata.get("protocol") or "json"
    request = botocore.serialize.create_serializer(wire).serialize_to_request(
        params, model.operation_model(operation))
    headers = (*((k, str(v)) for k, v in request["headers"].items()), *signed(model.signing_name or service))
    path, _, query = request["url_path"].partition("?")
    pairs = tuple((k, v) for k, v in (p.split("=", 1) if "=" in p else (p, "") for p in query.split("&") if p))
    label = {"smithy-rpc-v2-cbor": "rpc-v2-cbor"}.get(wire, wire)
    if isinstance(request["body"], dict):  # query: a form
        return Seed(name, label, request["method"], path, pairs, headers,
                    form=tuple((k, str(v)) for k, v in request["body"].items()))
    if wire == "smithy-rpc-v2-cbor":
        return Seed(name, label, request["method"], path, pairs, headers, document=params, cbor=True)
    if wire in ("json", "rest-json") and request["body"]:
        return Seed(name, label, request["method"], path, pairs, headers, document=json.loads(request["body"]))
    return Seed(name, label, request["method"], path, pairs, headers, raw=request["body"] or b"")


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
METRIC = {"MetricName": "Latency", "Value": 12.5, "Unit": "Milliseconds",
          "Dimensions": [{"Name": "Queue", "Value": QUEUE}], "Timestamp": NOW}


def cloudwatch_params() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("PutMetricData", "PutMetricData", {"Namespace": "Fuzz", "MetricData": [
            METRIC, {"MetricName": "Size", "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1,
                                                               "Maximum": 2}, "Unit": "Bytes"}]}),
        ("GetMetricStatistics", "GetMetricStatistics", {
            "Namespace": "Fuzz", "MetricName": "Latency", "Dimensions": [{"Name": "Queue", "Value": QUEUE}],
            "StartTime": NOW - dt.timedelta(hours=1), "EndTime": NOW, "Period": 60,
            "Statistics": ["Average", "Maximum"]}),
        ("GetMetricData", "GetMetricData", {
            "StartTime": NOW - dt.timedelta(hours=1), "EndTime": NOW, "MetricDataQueries": [
                {"Id": "a", "MetricStat": {"Metric": {"Namespace": "Fuzz", "MetricName": "Latency"}, "Period": 60,
                                           "Stat": "Sum"}},
                {"Id": "b", "Expression": "a * 2"}]}),
        ("PutMetricAlarm", "PutMetricAlarm", {
            "AlarmName": "fuzz-alarm", "Namespace": "Fuzz", "MetricName": "Latency", "Statistic": "Average",
            "Period": 60, "EvaluationPeriods": 1, "Threshold": 100.0, "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [TOPIC_ARN], "TreatMissingData": "notBreaching"}),
        ("DescribeAlarms", "DescribeAlarms", {"AlarmNamePrefix": "fuzz", "MaxRecords": 5}),
        ("ListMetrics", "ListMetrics", {"Namespace": "Fuzz", "Dimensions": [{"Name": "Queue"}]}),
    ]


def rpc_v2_cbor_seeds(endpoint: str, ready: Prepared) -> list[Seed]:
    return [_sdk(f"cloudwatch {name}", "cloudwatch", op, params) for name, op, params in cloudwatch_params()]


def more_json_seeds() -> list[Seed]:
    """CloudWatch Logs and Kinesis (JSON 1.1), and CloudWatch in its JSON protocol."""
    group = "/fuzz/app"
    logs = [
        ("CreateLogGroup", {"logGroupName": "/fuzz/other", "tags": {"k": "v"}}),
        ("CreateLogStream", {"logGroupName": group, "logStreamName": "s2"}),
        ("PutLogEvents", {"logGroupName": group, "logStreamName": "s", "logEvents": [
            {"timestamp": int(NOW.timestamp() * 1000), "message": "hello"},
            {"timestamp": int(NOW.timestamp() * 1000) + 1, "message": '{"level": "error"}'}]}),
        ("GetLogEvents", {"logGroupName": group, "logStreamName": "s", "startFromHead": True, "limit": 10}),
        ("FilterLogEvents", {"logGroupName": group, "filterPattern": '{ $.level = "error" }', "limit": 10}),
        ("PutRetentionPolicy", {"logGroupName": group, "retentionInDays": 7}),
        ("DescribeLogStreams", {"logGroupName": group, "orderBy": "LastEventTime", "descending": True}),
    ]
    stream = {"StreamName": STREAM}
    kinesis = [
        ("CreateStream", {"StreamName": "fuzz-stream-2", "ShardCount": 2}),
        ("PutRecord", {**stream, "Data": b"payload", "PartitionKey": "k", "ExplicitHashKey": "1"}),
        ("PutRecords", {**stream, "Records": [{"Data": b"a", "PartitionKey": "k1"}, {"Data": b"b", "PartitionKey": "k2"}]}),
        ("GetShardIterator", {**stream, "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
        ("ListShards", {**stream, "MaxResults": 5, "ShardFilter": {"Type": "AT_LATEST"}}),
        ("DescribeStreamSummary", stream),
        ("IncreaseStreamRetentionPeriod", {**stream, "RetentionPeriodHours": 48}),
    ]
    return [*(_sdk(f"logs {op}", "logs", op, params) for op, params in logs),
            *(_sdk(f"kinesis {op}", "kinesis", op, params, "json") for op, params in kinesis),
            *(_sdk(f"cloudwatch {name} (json)", "cloudwatch", op, params, "json")
              for name, op, params in cloudwatch_params()[:2])]


def more_rest_json_seeds(ready: Prepared) -> list[Seed]:
    """API Gateway v2: HTTP APIs, their routes, integrations and stages."""
    api = ready.api_id
    return [
        _sdk("apigatewayv2 CreateApi", "apigatewayv2", "CreateApi", {
            "Name": "fuzz-api2", "ProtocolType": "HTTP", "CorsConfiguration": {"AllowOrigins": ["*"],
                                                                             "MaxAge": 60}}),
        _sdk("apigatewayv2 GetApis", "apigatewayv2", "GetApis", {"MaxResults": "5"}),
        _sdk("apigatewayv2 CreateIntegration", "apigatewayv2", "CreateIntegration", {
            "ApiId": api, "IntegrationType": "AWS_PROXY", "IntegrationUri": FUNCTION_ARN,
            "PayloadFormatVersion": "2.0", "TimeoutInMillis": 3000}),
        _sdk("apigatewayv2 CreateRoute", "apigatewayv2", "CreateRoute", {
            "ApiId": api, "RouteKey": "POST /items/{id}"}),
        _sdk("apigatewayv2 CreateStage", "apigatewayv2", "CreateStage", {
            "ApiId": api, "StageName": "fuzz", "AutoDeploy": True}),
        _sdk("apigatewayv2 GetRoutes", "apigatewayv2", "GetRoutes", {"ApiId": api}),
    ]


TEMPLATE = json.dumps({"Parameters": {"Name": {"Type": "String", "Default": "fuzz-cfn"}},
                       "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}},
                       "Outputs": {"Url": {"Value": {"Ref": "Q"}}}})


def newer_query_seeds() -> list[Seed]:
    """Auto Scaling and CloudFormation (query)."""
    return [
        _sdk("autoscaling DescribeAutoScalingGroups", "autoscaling", "DescribeAutoScalingGroups",
             {"AutoScalingGroupNames": ["fuzz-group"], "MaxRecords": 5}),
        _sdk("autoscaling PutScalingPolicy", "autoscaling", "PutScalingPolicy", {
            "AutoScalingGroupName": "fuzz-group", "PolicyName": "p", "PolicyType": "StepScaling",
            "AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0.0,
                                                                      "ScalingAdjustment": 1}]}),
        _sdk("cloudformation ValidateTemplate", "cloudformation", "ValidateTemplate", {"TemplateBody": TEMPLATE}),
        _sdk("cloudformation CreateStack", "cloudformation", "CreateStack", {
            "StackName": "fuzz-stack", "TemplateBody": TEMPLATE,
            "Parameters": [{"ParameterKey": "Name", "ParameterValue": "fuzz-cfn-q"}], "Tags": [{"Key": "k", "Value": "v"}]}),
        _sdk("cloudformation DescribeStacks", "cloudformation", "DescribeStacks", {"StackName": "fuzz-stack"}),
        *elbv2_seeds(),
    ]


ELB = "arn:aws:elasticloadbalancing:us-east-1:000000000000"


def elbv2_seeds() -> list[Seed]:
    """Elastic Load Balancing v2 (query): target groups, listeners and rules with their nested actions and
    conditions, attributes and targets."""
    group = f"{ELB}:targetgroup/fuzz/0123456789abcdef"
    listener = f"{ELB}:listener/app/fuzz/0123456789abcdef/0123456789abcdef"
    return [
        _sdk("elbv2 CreateTargetGroup", "elbv2", "CreateTargetGroup", {
            "Name": "fuzz", "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-0123456789abcdef0", "TargetType": "ip",
            "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 10, "Matcher": {"HttpCode": "200-299"}}),
        _sdk("elbv2 CreateLoadBalancer", "elbv2", "CreateLoadBalancer", {
            "Name": "fuzz", "Subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "Tags": [{"Key": "k", "Value": "v"}]}),
        _sdk("elbv2 CreateRule", "elbv2", "CreateRule", {
            "ListenerArn": listener, "Priority": 5, "Conditions": [
                {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
                {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "a", "Value": "b"}]}}],
            "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": group, "Weight": 2}],
                                                              "TargetGroupStickinessConfig": {"Enabled": True,
                                                                                              "DurationSeconds": 60}}}]}),
        _sdk("elbv2 ModifyTargetGroupAttributes", "elbv2", "ModifyTargetGroupAttributes", {
            "TargetGroupArn": group, "Attributes": [{"Key": "stickiness.type", "Value": "lb_cookie"}]}),
        _sdk("elbv2 RegisterTargets", "elbv2", "RegisterTargets", {
            "TargetGroupArn": group, "Targets": [{"Id": "127.0.0.9", "Port": 8080}]}),
        _sdk("elbv2 DescribeTargetHealth", "elbv2", "DescribeTargetHealth", {"TargetGroupArn": group}),
    ]


def ec2_seeds(endpoint: str, ready: Prepared) -> list[Seed]:
    """EC2's own protocol (no instance is started: that would run a command)."""
    return [
        _sdk("ec2 DescribeInstances", "ec2", "DescribeInstances", {
            "Filters": [{"Name": "instance-state-name", "Values": ["running", "pending"]}], "MaxResults": 5}),
        _sdk("ec2 CreateLaunchTemplate", "ec2", "CreateLaunchTemplate", {
            "LaunchTemplateName": "fuzz-template", "LaunchTemplateData": {
                "ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro", "UserData": "ZWNobyBoaQ==",
                "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v"}]}]}}),
        _sdk("ec2 DescribeSubnets", "ec2", "DescribeSubnets", {"Filters": [{"Name": "default-for-az",
                                                                            "Values": ["true"]}]}),
        _sdk("ec2 CreateTags", "ec2", "CreateTags", {"Resources": ["i-0123456789abcdef0"],
                                                     "Tags": [{"Key": "k", "Value": "v"}]}),
    ]


def newer_json_seeds() -> list[Seed]:
    """EventBridge (JSON 1.1)."""
    return [
        _sdk("events PutRule", "events", "PutRule", {
            "Name": "fuzz-rule", "EventPattern": json.dumps({"source": ["fuzz"], "detail": {"n": [{"numeric": [">", 1]}]}})}),
        _sdk("events PutEvents", "events", "PutEvents", {"Entries": [
            {"Source": "fuzz", "DetailType": "t", "Detail": json.dumps({"n": 2})}]}),
        _sdk("events PutTargets", "events", "PutTargets", {"Rule": "fuzz-rule", "Targets": [
            {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}",
             "InputTransformer": {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": '{"n": <n>}'}}]}),
        _sdk("events TestEventPattern", "events", "TestEventPattern", {
            "EventPattern": json.dumps({"source": [{"prefix": "f"}]}),
            "Event": json.dumps({"id": "1", "source": "fuzz", "detail-type": "t", "account": ACCOUNT,
                                 "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
                                 "detail": {}})}),
    ]


def newer_rest_json_seeds() -> list[Seed]:
    """EventBridge Scheduler (rest-json)."""
    return [
        _sdk("scheduler CreateSchedule", "scheduler", "CreateSchedule", {
            "Name": "fuzz-schedule", "ScheduleExpression": "rate(5 minutes)", "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}", "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
                       "Input": "{}"}}),
        _sdk("scheduler ListSchedules", "scheduler", "ListSchedules", {"MaxResults": 5, "NamePrefix": "fuzz"}),
    ]


def newer_rest_xml_seeds() -> list[Seed]:
    """CloudFront and Route 53 (rest-xml)."""
    return [
        _sdk("cloudfront CreateOriginAccessControl", "cloudfront", "CreateOriginAccessControl", {
            "OriginAccessControlConfig": {"Name": "fuzz-oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
                                          "OriginAccessControlOriginType": "s3"}}),
        _sdk("cloudfront ListDistributions", "cloudfront", "ListDistributions", {"MaxItems": "5"}),
        _sdk("cloudfront GetCachePolicy", "cloudfront", "GetCachePolicy", {"Id": "658327ea-f89d-4fab-a63d-7e88639e58f6"}),
        *route53_seeds(),
    ]


def route53_seeds() -> list[Seed]:
    """Route 53 (rest-xml): a zone, a change batch to it (the zone of a mangled request may not exist), a
    health check, a listing from a start record."""
    return [
        _sdk("route53 CreateHostedZone", "route53", "CreateHostedZone", {
            "Name": "fuzz.example", "CallerReference": "fuzz-zone", "HostedZoneConfig": {"Comment": "fuzz"}}),
        _sdk("route53 ChangeResourceRecordSets", "route53", "ChangeResourceRecordSets", {
            "HostedZoneId": "Z0FUZZFUZZFUZZFUZZFUZ", "ChangeBatch": {"Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": "www.fuzz.example", "Type": "A", "TTL": 60, "SetIdentifier": "w", "Weight": 5,
                    "ResourceRecords": [{"Value": "192.0.2.1"}]}},
                {"Action": "CREATE", "ResourceRecordSet": {
                    "Name": "alias.fuzz.example", "Type": "A", "AliasTarget": {
                        "HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "web-1.us-east-1.elb.localhost",
                        "EvaluateTargetHealth": True}}}]}}),
        _sdk("route53 CreateHealthCheck", "route53", "CreateHealthCheck", {
            "CallerReference": "fuzz-check", "HealthCheckConfig": {
                "Type": "HTTP_STR_MATCH", "IPAddress": "127.0.0.1", "Port": 9, "ResourcePath": "/health",
                "SearchString": "ok", "RequestInterval": 30, "FailureThreshold": 3}}),
        _sdk("route53 ListResourceRecordSets", "route53", "ListResourceRecordSets", {
            "HostedZoneId": "Z0FUZZFUZZFUZZFUZZFUZ", "StartRecordName": "www.fuzz.example", "StartRecordType": "A",
            "MaxItems": "2"}),
    ]


SEEDS: dict[str, Callable[[str, Prepared], list[Seed]]] = {
    "query": lambda e, r: [*query_seeds(e, r), *newer_query_seeds()],
    "json": lambda e, r: [*json_seeds(e, r), *more_json_seeds(), *newer_json_seeds()],
    "rest-xml": lambda e, r: [*rest_xml_seeds(e, r), *newer_rest_xml_seeds()],
    "rest-json": lambda e, r: [*rest_json_seeds(e, r), *more_rest_json_seeds(r), *newer_rest_json_seeds()],
    "rpc-v2-cbor": rpc_v2_cbor_seeds, "ec2": ec2_seeds,
}


@dataclass(frozen=True)
class Prepared:
    upload_id: str  # a multipart upload in progress: the server chooses its id
    user_key: str  # an access key of the IAM user USER
    api_id: str  # an HTTP API (API Gateway v2)


def prepare(client: Callable[..., Any]) -> Prepared:
    """The resources the seeds name: a queue, a topic, a bucket with an object and an upload, a function."""
    client("sqs").create_queue(QueueName=QUEUE, Attributes={"Policy": json.dumps(QUEUE_POLICY)})
    iam = client("iam")
    iam.create_user(UserName=USER)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName=ASSUMABLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                "Action": ["sts:AssumeRole", "sts:TagSession"]}]}))
    client("sqs").create_queue(QueueName="fuzz-gone")
    client("sns").create_topic(Name=TOPIC)
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="dir/key.txt", Body=b"hello")
    lambda_role(iam, "r")  # the execution role the Lambda seeds name
    client("lambda").create_function(FunctionName=FUNCTION, Runtime="python3.12",
                                     Role=f"arn:aws:iam::{ACCOUNT}:role/r", Handler="lambda_function.lambda_handler",
                                     Code={"ZipFile": function_zip()})
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part")
    client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    logs = client("logs")
    logs.create_log_group(logGroupName="/fuzz/app")
    logs.create_log_stream(logGroupName="/fuzz/app", logStreamName="s")
    api_id = client("apigatewayv2").create_api(Name="fuzz-api", ProtocolType="HTTP")["ApiId"]
    return Prepared(upload_id, iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"], api_id)
