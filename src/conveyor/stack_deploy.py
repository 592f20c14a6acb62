"""`conveyor deploy --stack NAME [TEMPLATE]`: package local code, deploy with a change set, show the stack's
events as they happen and its outputs, as `sam deploy` and `aws cloudformation package` + `deploy` do.

- The template is TEMPLATE, else the pipeline file exported (`conveyor export`), whose code packages go to
  the bucket its `CodeBucket` parameter names.
- Local code (`Code: ./dir` of AWS::Lambda::Function, `CodeUri: ./dir` of AWS::Serverless::Function) is zipped,
  uploaded under a content-addressed key, and the template points at it
  (https://docs.aws.amazon.com/cli/latest/reference/cloudformation/package.html).
- What the template's `Metadata: Conveyor:` names (`conveyor export` writes it): `Artifacts`, the directory of
  the code packages the template names in its code bucket, uploaded before the change set; `Site`, a
  directory of static files published to the bucket an output names once the stack is up (Content-Type by
  file name, config.json from outputs, the distribution invalidated when files changed), and the site's URL
  printed from an output as `site: URL`. CloudFormation itself uploads no files.
- Against Conveyor by default (`--endpoint`, else $AWS_ENDPOINT_URL, else http://127.0.0.1:4566); against AWS
  with `--endpoint aws` and the caller's own credentials and region.
Polling DescribeStackEvents here is the client's part, as every CloudFormation client does it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from conveyor.pipeline import package
from conveyor.pipeline.export import METADATA
from conveyor.pipeline.site import publish
from conveyor.services.cloudformation import template as cfn_template
from conveyor.wire import ServiceError

AWS = "aws"  # `--endpoint aws`: the SDK's own endpoints, the caller's credentials
# Reasons a change set without changes fails with (the words `aws cloudformation deploy` looks for).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
TERMINAL_SUFFIXES = ("_COMPLETE", "_FAILED")


class DeployError(Exception):
    pass


@dataclass
class Deployment:
    stack: str
    template_text: str
    base_dir: Path
    parameters: dict[str, str] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=lambda: ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    code_bucket: str | None = None
    artifacts: list[package.Artifact] = field(default_factory=list)  # already packaged (an exported pipeline)
    site: dict[str, Any] | None = None  # Metadata: Conveyor: Site, its Directory resolved

    def read_metadata(self) -> None:
        """Take the artifacts and the site the template's `Metadata: Conveyor:` names (paths relative to it)."""
        document = cfn_template.load_document(self.template_text)
        found = (document.get("Metadata") or {}).get(METADATA) or {}
        if not isinstance(found, dict):
            return
        if isinstance(found.get("Artifacts"), str):
            directory = self.base_dir / found["Artifacts"]
            for path in sorted((directory / package.KEY_PREFIX).glob("*.zip")):
                made = package.Artifact(path.stem.rsplit("-", 1)[0], path.read_bytes())
                if made.key in self.template_text and made.key not in {a.key for a in self.artifacts}:
                    self.artifacts.append(made)
        site = found.get("Site")
        if isinstance(site, dict) and isinstance(site.get("Directory"), str):
            directory = self.base_dir / site["Directory"]
            if not directory.is_dir():
                raise DeployError(f"the site's directory {directory} does not exist (the template's Metadata names "
                                  "it, relative to the template)")
            self.site = {**site, "Directory": directory}


class Deployer:
    def __init__(self, session: Any, endpoint: str | None, say: Callable[[str], None],
                 poll_seconds: float = 1.0) -> None:
        self.cf = session.client("cloudformation", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.cloudfront = session.client("cloudfront", endpoint_url=endpoint)
        self.endpoint = endpoint
        self.region = session.region_name
        self.say = say
        self.poll = poll_seconds

    # -- packaging ---------------------------------------------------------------------------------------
    def _upload(self, bucket: str, artifact: package.Artifact) -> None:
        try:
            self.s3.head_object(Bucket=bucket, Key=artifact.key)
            return  # content-addressed: the same key holds the same bytes
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
        self.s3.put_object(Bucket=bucket, Key=artifact.key, Body=artifact.body)
        self.say(f"uploaded s3://{bucket}/{artifact.key} ({len(artifact.body)} bytes)")

    def _ensure_bucket(self, bucket: str) -> None:
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
            options: dict[str, Any] = {}
            if self.region and self.region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.s3.create_bucket(Bucket=bucket, **options)
            self.say(f"made the code bucket {bucket}")

    def package(self, deployment: Deployment) -> dict[str, Any]:
        """The template with its local code uploaded and pointed at; the code bucket parameter filled in."""
        document = cfn_template.load_document(deployment.template_text)
        declared = document.get("Parameters") or {}
        bucket = deployment.code_bucket or deployment.parameters.get("CodeBucket")
        local = _local_code(document, deployment.base_dir)
        if (local or deployment.artifacts) and not bucket:
            raise DeployError("the template has code to package: name the bucket for it (--code-bucket BUCKET)")
        if bucket and "CodeBucket" in declared:
            deployment.parameters.setdefault("CodeBucket", bucket)
        if bucket and (local or deployment.artifacts):
            self._ensure_bucket(bucket)
        for artifact in deployment.artifacts:
            assert bucket is not None
            self._upload(bucket, artifact)
        for properties, key, path, serverless in local:
            assert bucket is not None
            made = package.artifact(path.name or "code", package.code_files(str(path), deployment.base_dir))
            self._upload(bucket, made)
            properties[key] = f"s3://{bucket}/{made.key}" if serverless else {"S3Bucket": bucket, "S3Key": made.key}
        return document

    # -- the change set ----------------------------------------------------------------------------------
    def _exists(self, stack: str) -> bool:
        try:
            status = self.cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except ClientError as exc:
            if "does not exist" in exc.response["Error"]["Message"]:
                return False
            raise
        return bool(status != "REVIEW_IN_PROGRESS")

    def deploy(self, deployment: Deployment) -> int:
        document = self.package(deployment)
        body = json.dumps(document, indent=1)
        exists = self._exists(deployment.stack)
        name = f"conveyor-deploy-{int(time.time() * 1000)}"
        self.cf.create_change_set(
            StackName=deployment.stack, ChangeSetName=name, ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=body, Capabilities=deployment.capabilities,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in deployment.parameters.items()]
            + [{"ParameterKey": k, "UsePreviousValue": True} for k in (document.get("Parameters") or {})
               if exists and k not in deployment.parameters])
        try:
            self.cf.get_waiter("change_set_create_complete").wait(
                StackName=deployment.stack, ChangeSetName=name, WaiterConfig={"Delay": self.poll, "MaxAttempts": 600})
        except WaiterError:
            described = self.cf.describe_change_set(StackName=deployment.stack, ChangeSetName=name)
            reason = str(described.get("StatusReason") or "")
            if any(words in reason for words in NO_CHANGES):
                self.cf.delete_change_set(StackName=deployment.stack, ChangeSetName=name)
                self.say(f"No changes to deploy. Stack {deployment.stack} is up to date")
                self._site(deployment, self._outputs(deployment.stack))
                return 0
            raise DeployError(f"the change set failed: {reason}")
        self._show_changes(deployment.stack, name)
        since = self._last_event(deployment.stack) if exists else None
        self.cf.execute_change_set(StackName=deployment.stack, ChangeSetName=name)
        status = self._follow(deployment.stack, since)
        outputs = self._outputs(deployment.stack)
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return 1
        self._site(deployment, outputs)
        return 0

    def _show_changes(self, stack: str, name: str) -> None:
        described = self.cf.describe_change_set(StackName=stack, ChangeSetName=name)
        self.say("Changes:")
        for change in described.get("Changes") or []:
            item = change["ResourceChange"]
            replacement = f" (replacement: {item['Replacement']})" if item.get("Replacement") else ""
            self.say(f"  {item['Action']:<7} {item['LogicalResourceId']:<40} {item['ResourceType']}{replacement}")

    def _last_event(self, stack: str) -> str | None:
        events = self.cf.describe_stack_events(StackName=stack)["StackEvents"]
        return str(events[0]["EventId"]) if events else None

    def _follow(self, stack: str, since: str | None) -> str:
        """Print each new event, oldest first, until the stack settles; its final status."""
        seen: set[str] = set()
        while True:
            # The status first: once it is final, the events read after it hold every event up to it.
            status = str(self.cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
            fresh = []
            for event in self.cf.describe_stack_events(StackName=stack)["StackEvents"]:  # newest first
                if event["EventId"] == since:
                    break
                if event["EventId"] not in seen:
                    fresh.append(event)
            for event in reversed(fresh):
                seen.add(event["EventId"])
                reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
                self.say(f"{event['Timestamp']:%H:%M:%S}  {event['ResourceStatus']:<28} {event['ResourceType']:<36} "
                         f"{event['LogicalResourceId']}{reason}")
            if status.endswith(TERMINAL_SUFFIXES):
                return status
            time.sleep(self.poll)

    def _outputs(self, stack: str) -> dict[str, str]:
        described = self.cf.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = described.get("Outputs") or []
        self.say(f"Stack {stack}: {described['StackStatus']}")
        if outputs:
            self.say("Outputs:")
            for output in outputs:
                self.say(f"  {output['OutputKey']} = {output['OutputValue']}")
        return {str(o["OutputKey"]): str(o["OutputValue"]) for o in outputs}

    # -- the site ----------------------------------------------------------------------------------------
    def _site(self, deployment: Deployment, outputs: dict[str, str]) -> None:
        """Publish the site's files to the bucket the stack made, then say where the site is."""
        site = deployment.site
        if site is None:
            return
        bucket = outputs.get(str(site.get("BucketOutput")))
        if not bucket:
            raise DeployError(f"the stack has no output {site.get('BucketOutput')} naming the site's bucket")
        config_outputs = site.get("Config") or {}
        config = {key: outputs[name] for key, name in config_outputs.items() if name in outputs} or None
        changed = publish(self.s3, bucket, site["Directory"], config, lambda what: self.say(f"uploaded {what}"))
        url = outputs.get(str(site.get("UrlOutput")))
        if url is None:
            return
        host = urlsplit(url).hostname or ""
        if any(replaced for _, replaced in changed):
            self._invalidate(host)
        if self.endpoint is not None:
            # Conveyor serves every distribution on its own port, over HTTPS as over HTTP.
            port = urlsplit(self.endpoint).port
            url = urlunsplit(urlsplit(url)._replace(netloc=f"{host}:{port}" if port else host))
        self.say(f"site: {url}")

    def _invalidate(self, domain: str) -> None:
        """A changed file is served fresh: the distribution's cache of everything is invalidated, as a deploy
        to AWS must (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html)."""
        for item in self.cloudfront.list_distributions().get("DistributionList", {}).get("Items", []):
            if item["DomainName"] == domain:
                self.cloudfront.create_invalidation(DistributionId=item["Id"], InvalidationBatch={
                    "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"conveyor-deploy-{time.time_ns()}"})
                self.say(f"invalidated {domain}/* (the site's files changed)")


def _local_code(document: dict[str, Any], base_dir: Path) -> list[tuple[dict[str, Any], str, Path, bool]]:
    """(properties, key, path, serverless) of each function whose code is a local path."""
    found = []
    for resource in (document.get("Resources") or {}).values():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Lambda::Function" and isinstance(properties.get("Code"), str):
            found.append((properties, "Code", Path(properties["Code"]), False))
        elif kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str) \
                and not properties["CodeUri"].startswith("s3://"):
            found.append((properties, "CodeUri", Path(properties["CodeUri"]), True))
    for _, _, path, _ in found:
        if not (base_dir / path).exists():
            raise DeployError(f"the code {path} does not exist (paths are relative to the template)")
    return found


def session_for(endpoint: str, access_key: str, secret_key: str, region: str) -> tuple[Any, str | None]:
    """A boto3 session and the endpoint to call: Conveyor's, or AWS's own with the caller's credentials."""
    if endpoint == AWS:
        return boto3.session.Session(), None
    return boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                 region_name=region), endpoint


def command(args: Any, pipeline_file: Path | None, endpoint: str, access_key: str, secret_key: str,
            region: str) -> int:
    """`conveyor deploy`: its arguments read, the deployment run, failures told in a line."""
    from conveyor.pipeline.export import export
    from conveyor.pipeline.spec import PipelineError, load

    parameters = {}
    for item in args.parameters or []:
        key, equals, value = item.partition("=")
        if not equals:
            print(f"conveyor: --parameters takes KEY=VALUE, not {item!r}", file=sys.stderr)
            return 2
        parameters[key] = value
    try:
        if args.template:
            path = Path(args.template)
            deployment = Deployment(args.stack, path.read_text(), path.resolve().parent, parameters)
        else:
            exported = export(load(pipeline_file))
            exported.locate(Path.cwd(), None)
            deployment = Deployment(args.stack, exported.yaml(), Path.cwd(), parameters, artifacts=exported.artifacts)
        deployment.read_metadata()
    except (OSError, PipelineError, DeployError) as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    deployment.code_bucket = args.code_bucket
    if args.capabilities:
        deployment.capabilities = list(args.capabilities)
    session, url = session_for(endpoint, access_key, secret_key, region)
    try:
        return Deployer(session, url, lambda line: print(line, flush=True)).deploy(deployment)
    except (DeployError, ServiceError) as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"conveyor: deploy failed: {exc}", file=sys.stderr)
        return 1
