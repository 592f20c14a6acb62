"""`conveyor export`: the default pipeline as a CloudFormation template that cfn-lint passes with no errors, and
that `aws cloudformation deploy` makes into a working lab on Conveyor (an upload lands in processed/, moved
by the worker pool's instances booted from the launch template)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import requests
import yaml

from tests.conftest import CLI_ENV
from tests.ec2.conftest import AMI
from tests.helpers import cfn_lint, wait_for


def conveyor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **CLI_ENV}, timeout=120, check=True)


def test_export_of_the_default_pipeline_passes_cfn_lint(tmp_path: Path) -> None:
    out = conveyor("export", cwd=tmp_path).stdout
    template = yaml.safe_load(out)
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert {"AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
            "AWS::EC2::LaunchTemplate", "AWS::AutoScaling::AutoScalingGroup", "AWS::AutoScaling::ScalingPolicy",
            "AWS::IAM::InstanceProfile", "AWS::ApiGatewayV2::Api", "AWS::CloudFront::Distribution",
            "AWS::CloudFront::OriginAccessControl", "AWS::S3::BucketPolicy", "AWS::CloudWatch::Alarm"} <= kinds
    queue = template["Resources"]["UploadJobsQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["UploadJobsDlqQueue", "Arn"]},
                                      "maxReceiveCount": 3}
    (tmp_path / "template.yaml").write_text(out)
    clean, report = cfn_lint(tmp_path)
    assert clean and not re.search(r":E\d{4}:", report), report


def test_the_lint_check_fails_on_a_broken_template(tmp_path: Path) -> None:
    """The cfn-lint check the export tests rely on can fail: an unknown resource type is an error."""
    (tmp_path / "template.yaml").write_text("Resources:\n  Thing:\n    Type: AWS::Nope::Nothing\n")
    clean, report = cfn_lint(tmp_path)
    assert not clean and "E3006" in report, report


def test_the_exported_template_deploys_to_conveyor_and_runs_the_lab(tmp_path: Path, aws, client, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    conveyor("export", "-o", "template.yaml", "--artifacts", "code", cwd=tmp_path)
    s3 = client("s3")
    s3.create_bucket(Bucket="exported-code")
    aws("s3", "cp", str(tmp_path / "code"), "s3://exported-code/", "--recursive")
    out = aws("cloudformation", "deploy", "--template-file", str(tmp_path / "template.yaml"), "--stack-name",
              "exported", "--capabilities", "CAPABILITY_IAM", "--parameter-overrides", "CodeBucket=exported-code",
              "ConveyorUploadsBucketName=exported-uploads", f"WorkerImageId={AMI}", check=False)
    if out.returncode:
        failures = [(e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in
                    client("cloudformation").describe_stack_events(StackName="exported")["StackEvents"]
                    if "FAILED" in e["ResourceStatus"]]
        raise AssertionError(failures)
    assert "Successfully created/updated stack - exported" in out.stdout.decode()
    cf = client("cloudformation")
    stack = cf.describe_stacks(StackName="exported")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ConveyorUploadsBucketName"] == "exported-uploads"

    # The browser's path: POST /presign on the HTTP API (the presign function), then the presigned PUT.
    api = client("apigatewayv2").get_apis()["Items"][0]
    port = endpoint.rsplit(":", 1)[1]
    answer = requests.post(f"{endpoint}/prod/presign", headers={"Host": f"{api['ApiId']}.execute-api.localhost:{port}"},
                           json={}, timeout=60)
    assert answer.status_code == 200, answer.text
    upload = answer.json()
    assert upload["s3Key"].startswith("uploads/")
    assert requests.put(upload["uploadUrl"], data=b"pixels", timeout=30).status_code == 200
    # The worker pool's instance boots, fetches the mover from the code bucket, and moves the upload.
    moved = "processed/" + upload["s3Key"].removeprefix("uploads/")
    wait_for(lambda: [o for o in s3.list_objects_v2(Bucket="exported-uploads", Prefix="processed/").get("Contents", [])
                      if o["Key"] == moved], timeout=90, what="the upload is processed")
    assert s3.get_object(Bucket="exported-uploads", Key=moved)["Body"].read() == b"pixels"
    # CloudFront is in front of the results, HTTPS only (a plain HTTP viewer is redirected).
    [distribution] = client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert outputs["ResultsUrl"] == f"https://{distribution['DomainName']}"
    host = f"{distribution['Id'].lower()}.cloudfront.localhost:{port}"
    served = requests.get(f"{endpoint}/{moved.removeprefix('processed/')}", headers={"Host": host}, timeout=30,
                          allow_redirects=False)
    assert served.status_code == 301 and served.headers["Location"].startswith(f"https://{host}/")

    policy = json.loads(s3.get_bucket_policy(Bucket="exported-uploads")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert outputs["ApiUrl"] == f"{api['ApiEndpoint']}/prod"
    groups = client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert [g["MinSize"] for g in groups] == [1]
    policies = client("autoscaling").describe_policies()["ScalingPolicies"]
    assert policies[0]["TargetTrackingConfiguration"]["TargetValue"] == 5.0

    wait_for(lambda: "Contents" not in s3.list_objects_v2(Bucket="exported-uploads", Prefix="uploads/"), timeout=30)
    aws("s3", "rm", "s3://exported-uploads", "--recursive")
    aws("cloudformation", "delete-stack", "--stack-name", "exported")
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "exported")
    # Nothing is left behind: the group's instances are going, and every other resource is gone.
    assert client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    states = {i["State"]["Name"] for r in client("ec2").describe_instances()["Reservations"] for i in r["Instances"]}
    assert states <= {"shutting-down", "terminated"}
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["exported-code"]
    assert client("ec2").describe_launch_templates()["LaunchTemplates"] == []
    assert client("iam").list_instance_profiles()["InstanceProfiles"] == []
    assert [r for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith("exported-")] == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("apigatewayv2").get_apis()["Items"] == []
    assert client("cloudfront").list_distributions()["DistributionList"].get("Items", []) == []
    assert client("sqs").list_queues().get("QueueUrls", []) == []
    assert client("sns").list_topics()["Topics"] == []
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []


CUSTOM = """
buckets:
  - name: custom-uploads
    notifications:
      - {events: ["s3:ObjectCreated:*"], prefix: uploads/, queue: custom-jobs}
queues:
  - name: custom-jobs
pools:
  - name: crunchers
    queue: custom-jobs
    command: python3 worker.py --fast
    env: {MODE: "a b"}
"""


def test_a_pool_running_its_own_command_is_packaged_with_its_files(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text(CUSTOM)
    (tmp_path / "worker.py").write_text("print('crunch')\n")
    conveyor("export", "-o", "template.yaml", "--artifacts", "code", cwd=tmp_path)
    [package] = list((tmp_path / "code" / "conveyor").glob("crunchers-*.zip"))
    with zipfile.ZipFile(package) as archive:
        assert archive.namelist() == ["worker.py"]
    template = yaml.safe_load((tmp_path / "template.yaml").read_text())
    script = template["Resources"]["CrunchersPoolLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"][
        "Fn::Base64"]["Fn::Sub"]
    assert f"conveyor/{package.name}" in script and "export MODE='a b'" in script
    assert script.rstrip().endswith("exec python3 worker.py --fast")
    # Its role may consume its queue and use the pipeline's buckets (its code is the user's: the broader access).
    statements = template["Resources"]["CrunchersPoolRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= set(statements[0]["Action"])
    clean, report = cfn_lint(tmp_path)
    assert clean, report


FUNCTIONS = """
buckets:
  - name: fx-inbox
    notifications:
      - {events: ["s3:ObjectCreated:*"], prefix: in/, function: stamp}
topics:
  - name: fx-news
    subscriptions:
      - {function: stamp}
queues:
  - name: fx-jobs
functions:
  - name: stamp
    code: stamp
    handler: app.handler
  - name: hello
    code: hello.py
    handler: hello.handler
api:
  name: fx-api
  routes:
    - {route: "GET /hello", function: hello}
"""


def test_functions_routes_and_triggers_export_and_deploy(tmp_path: Path, aws, client, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "conveyor.yaml").write_text(FUNCTIONS)
    (tmp_path / "stamp").mkdir()
    (tmp_path / "stamp" / "app.py").write_text(
        "import boto3\n"
        "def handler(event, context):\n"
        "    for record in event['Records']:\n"
        "        if 's3' in record:\n"
        "            key = record['s3']['object']['key']\n"
        "            boto3.client('s3').put_object(Bucket='fx-inbox', Key='out/' + key[3:], Body=b'seen')\n")
    (tmp_path / "hello.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello ' + event['rawPath']}\n")
    conveyor("export", "-o", "template.yaml", "--artifacts", "code", cwd=tmp_path)
    clean, report = cfn_lint(tmp_path)
    assert clean, report
    client("s3").create_bucket(Bucket="fx-code")
    aws("s3", "cp", str(tmp_path / "code"), "s3://fx-code/", "--recursive")
    aws("cloudformation", "deploy", "--template-file", str(tmp_path / "template.yaml"), "--stack-name", "fx",
        "--capabilities", "CAPABILITY_IAM", "--parameter-overrides", "CodeBucket=fx-code")
    # The S3 trigger (with its permission) runs the user's function.
    s3 = client("s3")
    s3.put_object(Bucket="fx-inbox", Key="in/a.txt", Body=b"x")
    wait_for(lambda: s3.list_objects_v2(Bucket="fx-inbox", Prefix="out/").get("Contents"), timeout=60,
             what="the S3 trigger invokes the function")
    # The route answers through the API's $default stage.
    api = client("apigatewayv2").get_apis()["Items"][0]
    port = endpoint.rsplit(":", 1)[1]
    answer = requests.get(f"{endpoint}/hello", headers={"Host": f"{api['ApiId']}.execute-api.localhost:{port}"},
                          timeout=60)
    assert (answer.status_code, answer.text) == (200, "hello /hello")
    [subscription] = client("sns").list_subscriptions()["Subscriptions"]
    assert subscription["Protocol"] == "lambda" and subscription["Endpoint"].endswith(":function:stamp")
