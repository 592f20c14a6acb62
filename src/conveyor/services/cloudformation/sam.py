"""The SAM transform (`Transform: AWS::Serverless-2016-10-31`): a template's serverless resources expanded into
the CloudFormation resources they stand for, with the logical ids SAM gives them, before anything is made.
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification.html
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-generated-resources.html

Served: `AWS::Serverless::Function` (code from S3 or inline, an execution role made from `Policies`: managed
policy names and ARNs, statements, and the policy templates below; `Events` of type SQS, S3, SNS, HttpApi
and Schedule) and `AWS::Serverless::HttpApi`, and the `Globals` section for functions and HTTP APIs.
Refused, with a reason: REST API events (`Api`: Conveyor serves HTTP APIs), other serverless types, and
function properties the expansion does not honour. The expansion is a pure function of the template, so the
same template always gives the same resources.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.services.cloudformation import errors

SAM = "AWS::Serverless-2016-10-31"
_BASIC_EXECUTION = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
_SQS_EXECUTION = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"}
_CREATED_BY = {"Key": "lambda:createdBy", "Value": "SAM"}

# The function properties passed through to AWS::Lambda::Function as they are.
_FUNCTION_PASSED = ("FunctionName", "Handler", "Runtime", "Description", "MemorySize", "Timeout", "Environment",
                    "ReservedConcurrentExecutions", "Architectures", "DeadLetterConfig", "EphemeralStorage",
                    "PackageType")
_FUNCTION_PROPERTIES = frozenset({*_FUNCTION_PASSED, "CodeUri", "InlineCode", "Role", "Policies", "Events", "Tags"})
_HTTP_API_PROPERTIES = frozenset({"StageName", "CorsConfiguration", "Name", "Description", "Tags",
                                  "DisableExecuteApiEndpoint", "StageVariables"})


def _sub(text: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"Fn::Sub": [text, variables]}


def _statement(actions: list[str], *resources: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": list(resources)}


# The policy templates, as SAM's policy_templates.json defines them: each a parameter list and its statements
# (resource texts are Fn::Sub texts over the template's parameters).
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-policy-template-list.html
_BUCKET = "arn:${AWS::Partition}:s3:::${bucketName}"
_QUEUE = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}"
POLICY_TEMPLATES: dict[str, tuple[dict[str, str], list[dict[str, Any]]]] = {
    "S3ReadPolicy": ({"BucketName": "bucketName"}, [_statement(
        ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
         "s3:GetLifecycleConfiguration"], _BUCKET, _BUCKET + "/*")]),
    "S3WritePolicy": ({"BucketName": "bucketName"}, [_statement(
        ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"], _BUCKET, _BUCKET + "/*")]),
    "S3CrudPolicy": ({"BucketName": "bucketName"}, [_statement(
        ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:PutObject",
         "s3:PutObjectAcl", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:DeleteObject"],
        _BUCKET, _BUCKET + "/*")]),
    "SQSPollerPolicy": ({"QueueName": "queueName"}, [_statement(
        ["sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage",
         "sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], _QUEUE)]),
    "SQSSendMessagePolicy": ({"QueueName": "queueName"}, [_statement(["sqs:SendMessage*"], _QUEUE)]),
    "SNSPublishMessagePolicy": ({"TopicName": "topicName"}, [_statement(
        ["sns:Publish"], "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${topicName}")]),
    "LambdaInvokePolicy": ({"FunctionName": "functionName"}, [_statement(
        ["lambda:InvokeFunction"], "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                                   "${functionName}*")]),
    "CloudWatchPutMetricPolicy": ({}, [{"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"}]),
    "KinesisStreamReadPolicy": ({"StreamName": "streamName"}, [
        {"Effect": "Allow", "Action": ["kinesis:ListStreams", "kinesis:DescribeLimits"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/*"}]},
        _statement(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                    "kinesis:GetShardIterator"],
                   "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${streamName}")]),
    "EventBridgePutEventsPolicy": ({"EventBusName": "eventBusName"}, [_statement(
        ["events:PutEvents"], "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"
                              "${eventBusName}")]),
}


def _policy_template(name: str, given: Any, where: str) -> list[dict[str, Any]]:
    parameters, statements = POLICY_TEMPLATES[name]
    given = given or {}
    if not isinstance(given, dict):
        raise _invalid(where, f"policy template {name} takes an object of parameters")
    missing = sorted(set(parameters) - set(given))
    if missing:
        raise _invalid(where, f"Missing parameter(s) {missing} for policy template {name}")
    variables = {parameters[key]: value for key, value in given.items() if key in parameters}
    out = []
    for statement in statements:
        filled = copy.deepcopy(statement)
        resources = filled["Resource"]
        if isinstance(resources, list):
            filled["Resource"] = [_sub(r, variables) if isinstance(r, str) else r for r in resources]
        out.append(filled)
    return out


def _invalid(where: str, message: str) -> Exception:
    # SAM's own wording: "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application
    # Specification document. ... Resource with id [X] is invalid. ..."
    return errors.validation(f"Transform {SAM} failed with: Invalid Serverless Application Specification "
                                  f"document. Number of errors found: 1. Resource with id [{where}] is invalid. "
                                  f"{message}")


def _merge_globals(properties: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties over the Globals: maps merge (Environment's variables), the rest is replaced.
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html"""
    out = copy.deepcopy(defaults)
    for key, value in properties.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not any(k.startswith("Fn::") or k == "Ref"
                                                                                 for k in value):
            out[key] = _merge_globals(value, out[key])
        else:
            out[key] = copy.deepcopy(value)
    return out


def transform(document: dict[str, Any]) -> dict[str, Any]:
    """The template with its serverless resources expanded; one without the transform is returned as it is. A
    part of the wrong shape (a list where an object belongs...) is SAM's invalid document, never a crash."""
    if document.get("Transform") is None:
        return document
    try:
        return _transform(document)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise errors.validation(f"Transform {SAM} failed with: Invalid Serverless Application Specification "
                                f"document. Number of errors found: 1. Structure of the template is invalid: "
                                f"a part of it has the wrong type ({type(exc).__name__})")


def _transform(document: dict[str, Any]) -> dict[str, Any]:
    declared = document.get("Transform")
    if declared not in (SAM, [SAM]):
        raise errors.template_format(f"Conveyor runs only the {SAM} transform, not {declared}")
    out = copy.deepcopy(document)
    out.pop("Transform")
    globals_ = out.pop("Globals", None) or {}
    if not isinstance(globals_, dict) or set(globals_) - {"Function", "HttpApi"}:
        raise errors.validation(f"Transform {SAM} failed with: 'Globals' section is invalid. Conveyor takes "
                                     "Globals for Function and HttpApi")
    resources: dict[str, Any] = out.get("Resources") or {}
    expanded: dict[str, Any] = {}
    apis = _Apis(resources, globals_.get("HttpApi") or {})
    for logical, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind == "AWS::Serverless::Function":
            properties = _merge_globals(resource.get("Properties") or {}, globals_.get("Function") or {})
            _Function(logical, resource, properties, expanded, resources, apis).expand()
        elif kind == "AWS::Serverless::HttpApi":
            apis.explicit(logical)
        elif isinstance(kind, str) and kind.startswith("AWS::Serverless::"):
            raise _invalid(logical, f"Conveyor does not expand {kind} (it expands AWS::Serverless::Function and "
                                    "AWS::Serverless::HttpApi)")
        elif logical not in expanded:
            expanded[logical] = resource
    expanded.update(apis.resources())
    out["Resources"] = expanded
    return out


class _Apis:
    """The HTTP APIs: those the template declares and the implicit `ServerlessHttpApi` its events make."""

    IMPLICIT = "ServerlessHttpApi"

    def __init__(self, resources: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.declared = resources
        self.defaults = defaults
        self.used: set[str] = set()

    def explicit(self, logical: str) -> None:
        self.used.add(logical)

    def ref(self, api_id: Any, where: str) -> str:
        if api_id is None:
            self.used.add(self.IMPLICIT)
            return self.IMPLICIT
        name = api_id.get("Ref") if isinstance(api_id, dict) else None
        if not isinstance(name, str) or (self.declared.get(name) or {}).get("Type") != "AWS::Serverless::HttpApi":
            raise _invalid(where, "ApiId must be a Ref to an AWS::Serverless::HttpApi of this template")
        self.used.add(name)
        return name

    def resources(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for logical in sorted(self.used):
            resource = self.declared.get(logical) or {"Type": "AWS::Serverless::HttpApi", "Properties": {}}
            given = _merge_globals(resource.get("Properties") or {}, self.defaults)
            unknown = sorted(set(given) - _HTTP_API_PROPERTIES)
            if unknown:
                raise _invalid(logical, f"Conveyor does not expand the property {unknown[0]} of an HttpApi")
            properties: dict[str, Any] = {"Name": given.get("Name", {"Ref": "AWS::StackName"}), "ProtocolType": "HTTP"}
            for key in ("Description", "DisableExecuteApiEndpoint", "Tags"):
                if key in given:
                    properties[key] = given[key]
            cors = given.get("CorsConfiguration")
            if cors is True:
                properties["CorsConfiguration"] = {"AllowOrigins": ["*"], "AllowHeaders": ["*"], "AllowMethods": ["*"]}
            elif cors:
                properties["CorsConfiguration"] = cors
            out[logical] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": properties}
            for key in ("Condition", "DependsOn", "DeletionPolicy"):
                if key in resource:
                    out[logical][key] = resource[key]
            stage = given.get("StageName", "$default")
            stage_id = f"{logical}ApiGatewayDefaultStage" if stage == "$default" else f"{logical}{stage}Stage"
            stage_properties: dict[str, Any] = {"ApiId": {"Ref": logical}, "StageName": stage, "AutoDeploy": True}
            if "StageVariables" in given:
                stage_properties["StageVariables"] = given["StageVariables"]
            out[stage_id] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": stage_properties}
        return out


class _Function:
    def __init__(self, logical: str, resource: dict[str, Any], properties: dict[str, Any], out: dict[str, Any],
                 declared: dict[str, Any], apis: _Apis) -> None:
        self.logical = logical
        self.resource = resource
        self.p = properties
        self.out = out
        self.declared = declared
        self.apis = apis
        self.managed: list[Any] = [_BASIC_EXECUTION]

    def _resource(self, logical: str, kind: str, properties: dict[str, Any], **extra: Any) -> None:
        self.out[logical] = {"Type": kind, "Properties": properties, **extra}
        if "Condition" in self.resource:
            self.out[logical]["Condition"] = self.resource["Condition"]

    def expand(self) -> None:
        unknown = sorted(set(self.p) - _FUNCTION_PROPERTIES)
        if unknown:
            raise _invalid(self.logical, f"Conveyor does not expand the property {unknown[0]} of a Function")
        function: dict[str, Any] = {key: self.p[key] for key in _FUNCTION_PASSED if key in self.p}
        function["Code"] = self._code()
        tags = [_CREATED_BY] + [{"Key": k, "Value": v} for k, v in (self.p.get("Tags") or {}).items()]
        function["Tags"] = tags
        for name, event in (self.p.get("Events") or {}).items():
            self._event(str(name), event)
        if "Role" in self.p:
            function["Role"] = self.p["Role"]
        else:
            self._role(tags)
            function["Role"] = {"Fn::GetAtt": [f"{self.logical}Role", "Arn"]}
        extra = {key: self.resource[key] for key in ("DependsOn", "DeletionPolicy", "UpdateReplacePolicy",
                                                      "Metadata") if key in self.resource}
        self._resource(self.logical, "AWS::Lambda::Function", function, **extra)

    def _code(self) -> dict[str, Any]:
        if "InlineCode" in self.p:
            return {"ZipFile": self.p["InlineCode"]}
        uri = self.p.get("CodeUri")
        if isinstance(uri, dict):
            code = {"S3Bucket": uri.get("Bucket"), "S3Key": uri.get("Key")}
            if "Version" in uri:
                code["S3ObjectVersion"] = uri["Version"]
            return code
        if isinstance(uri, str) and uri.startswith("s3://") and "/" in uri[5:]:
            bucket, _, key = uri[5:].partition("/")
            return {"S3Bucket": bucket, "S3Key": key}
        raise _invalid(self.logical, "'CodeUri' is not a valid S3 Uri of the form 's3://bucket/key' with optional "
                                     "versionId query parameter. (Package local code first: `aws cloudformation "
                                     "package` or `conveyor deploy`.)")

    def _role(self, tags: list[dict[str, Any]]) -> None:
        policies = self.p.get("Policies") or []
        if not isinstance(policies, list):
            policies = [policies]
        inline: list[dict[str, Any]] = []
        for index, policy in enumerate(policies):
            if isinstance(policy, str):
                arn = policy if policy.startswith("arn:") else {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/"
                                                                           f"{policy}"}
                self.managed.append(arn)
            elif isinstance(policy, dict) and "Statement" in policy:
                inline.append({"PolicyName": f"{self.logical}RolePolicy{index}", "PolicyDocument": policy})
            elif isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in POLICY_TEMPLATES:
                name, given = next(iter(policy.items()))
                inline.append({"PolicyName": f"{self.logical}RolePolicy{index}", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": _policy_template(name, given, self.logical)}})
            elif isinstance(policy, dict) and ("Ref" in policy or "Fn::Sub" in policy or "Fn::GetAtt" in policy):
                self.managed.append(policy)
            else:
                raise _invalid(self.logical, f"Conveyor does not know the policy {policy} (it takes managed policy "
                                             f"names and ARNs, statements, and the templates "
                                             f"{', '.join(sorted(POLICY_TEMPLATES))})")
        properties: dict[str, Any] = {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}]},
            "ManagedPolicyArns": self.managed, "Tags": tags}
        if inline:
            properties["Policies"] = inline
        self._resource(f"{self.logical}Role", "AWS::IAM::Role", properties)

    def _permission(self, event: str, principal: str, source: Any, account: bool = False) -> str:
        logical = f"{self.logical}{event}Permission"
        properties: dict[str, Any] = {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": self.logical},
                                      "Principal": principal, "SourceArn": source}
        if account:
            properties["SourceAccount"] = {"Ref": "AWS::AccountId"}
        self._resource(logical, "AWS::Lambda::Permission", properties)
        return logical

    def _event(self, name: str, event: Any) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("Properties"), dict):
            raise _invalid(self.logical, f"Event with id [{name}] is invalid. Properties must be an object")
        kind, props = event.get("Type"), event["Properties"]
        logical = f"{self.logical}{name}"
        if kind == "SQS":
            mapping = {"EventSourceArn": props.get("Queue"), "FunctionName": {"Ref": self.logical},
                       **{k: props[k] for k in ("BatchSize", "Enabled", "MaximumBatchingWindowInSeconds",
                                                "FunctionResponseTypes", "ScalingConfig", "FilterCriteria")
                          if k in props}}
            self._resource(logical, "AWS::Lambda::EventSourceMapping", mapping)
            if _SQS_EXECUTION not in self.managed:
                self.managed.append(_SQS_EXECUTION)
        elif kind == "SNS":
            permission = self._permission(name, "sns.amazonaws.com", props.get("Topic"))
            subscription: dict[str, Any] = {"Protocol": "lambda", "Endpoint": {"Fn::GetAtt": [self.logical, "Arn"]},
                                            "TopicArn": props.get("Topic")}
            if "FilterPolicy" in props:
                subscription["FilterPolicy"] = props["FilterPolicy"]
            self._resource(logical, "AWS::SNS::Subscription", subscription, DependsOn=[permission])
        elif kind == "S3":
            self._s3(name, props)
        elif kind == "Schedule":
            rule: dict[str, Any] = {"ScheduleExpression": props.get("Schedule"), "Targets": [{
                "Id": f"{logical}LambdaTarget", "Arn": {"Fn::GetAtt": [self.logical, "Arn"]}}]}
            if "Input" in props:
                rule["Targets"][0]["Input"] = props["Input"]
            state = props.get("State") or ("DISABLED" if str(props.get("Enabled", True)).lower() == "false"
                                           else "ENABLED")
            rule["State"] = state
            for key in ("Name", "Description"):
                if key in props:
                    rule[key] = props[key]
            self._resource(logical, "AWS::Events::Rule", rule)
            self._permission(name, "events.amazonaws.com", {"Fn::GetAtt": [logical, "Arn"]})
        elif kind == "HttpApi":
            self._http_api(name, props)
        elif kind == "Api":
            raise _invalid(self.logical, f"Event with id [{name}]: Conveyor serves HTTP APIs (API Gateway v2), not "
                                         "REST APIs: use an event of Type HttpApi")
        else:
            raise _invalid(self.logical, f"Event with id [{name}] is invalid. Conveyor expands events of type SQS, "
                                         "S3, SNS, HttpApi and Schedule")

    def _s3(self, name: str, props: dict[str, Any]) -> None:
        """The bucket (a Ref to a bucket of the template, as SAM requires) gets the notification, after the
        permission that lets S3 invoke the function."""
        bucket = props.get("Bucket")
        target = bucket.get("Ref") if isinstance(bucket, dict) else None
        resource = self.declared.get(target) if isinstance(target, str) else None
        if resource is None or resource.get("Type") != "AWS::S3::Bucket":
            raise _invalid(self.logical, f"Event with id [{name}] is invalid. S3 events must reference an S3 bucket "
                                         "in the same template.")
        permission = self._permission(name, "s3.amazonaws.com", {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"},
                                      account=True)
        events = props.get("Events")
        events = events if isinstance(events, list) else [events]
        properties = resource.setdefault("Properties", {})
        configurations = properties.setdefault("NotificationConfiguration", {}).setdefault("LambdaConfigurations", [])
        for event in events:
            entry: dict[str, Any] = {"Event": event, "Function": {"Fn::GetAtt": [self.logical, "Arn"]}}
            if "Filter" in props:
                entry["Filter"] = props["Filter"]
            configurations.append(entry)
        depends = resource.get("DependsOn") or []
        resource["DependsOn"] = ([depends] if isinstance(depends, str) else list(depends)) + [permission]

    def _http_api(self, name: str, props: dict[str, Any]) -> None:
        api = self.apis.ref(props.get("ApiId"), self.logical)
        path, method = props.get("Path"), props.get("Method")
        route_key = "$default" if path is None and method is None else f"{str(method or 'ANY').upper()} {path}"
        integration: dict[str, Any] = {"ApiId": {"Ref": api}, "IntegrationType": "AWS_PROXY",
                                       "IntegrationUri": {"Fn::GetAtt": [self.logical, "Arn"]},
                                       "PayloadFormatVersion": props.get("PayloadFormatVersion", "2.0")}
        if "TimeoutInMillis" in props:
            integration["TimeoutInMillis"] = props["TimeoutInMillis"]
        self._resource(f"{self.logical}{name}Integration", "AWS::ApiGatewayV2::Integration", integration)
        self._resource(f"{self.logical}{name}Route", "AWS::ApiGatewayV2::Route", {
            "ApiId": {"Ref": api}, "RouteKey": route_key,
            "Target": {"Fn::Sub": f"integrations/${{{self.logical}{name}Integration}}"}})
        self._permission(name, "apigateway.amazonaws.com", {"Fn::Sub": (
            f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api}}}/*")})
