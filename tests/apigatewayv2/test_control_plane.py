"""API Gateway v2's API through boto3 and the AWS CLI: APIs, quick create, routes, integrations, stages,
deployments, CORS configuration, tags, and the errors API Gateway answers."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.apigatewayv2.conftest import ACCOUNT


def error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response  # type: ignore[no-any-return]


def test_create_get_update_delete_api(gw: Any, endpoint: str) -> None:
    api = gw.create_api(Name="web", ProtocolType="HTTP", Description="the web tier", Tags={"team": "a"})
    api_id = api["ApiId"]
    assert len(api_id) == 10 and api_id.isalnum() and api_id.islower()
    port = endpoint.rsplit(":", 1)[1]
    assert api["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{port}"
    assert api["RouteSelectionExpression"] == "$request.method $request.path"
    assert api["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert api["ProtocolType"] == "HTTP" and api["Tags"] == {"team": "a"} and api["DisableExecuteApiEndpoint"] is False
    got = gw.get_api(ApiId=api_id)
    assert got["Name"] == "web" and got["Description"] == "the web tier" and got["CreatedDate"] == api["CreatedDate"]
    updated = gw.update_api(ApiId=api_id, Name="web2", CorsConfiguration={"AllowOrigins": ["http://localhost:8080"],
                                                                          "AllowMethods": ["POST"], "MaxAge": 300})
    assert updated["Name"] == "web2" and updated["CorsConfiguration"]["AllowOrigins"] == ["http://localhost:8080"]
    gw.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in gw.get_api(ApiId=api_id)
    assert [a["ApiId"] for a in gw.get_apis()["Items"]] == [api_id]
    gw.delete_api(ApiId=api_id)
    assert gw.get_apis()["Items"] == []


def test_unknown_api_is_not_found_in_api_gateways_shape(gw: Any) -> None:
    response = error(gw.get_api, ApiId="nope123456")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["Error"]["Code"] == "NotFoundException"
    assert response["Error"]["Message"] == f"Invalid API identifier specified {ACCOUNT}:nope123456"
    assert error(gw.get_routes, ApiId="nope123456")["Error"]["Code"] == "NotFoundException"
    assert error(gw.delete_api, ApiId="nope123456")["Error"]["Code"] == "NotFoundException"


def test_an_api_lives_in_its_region(client: Any, endpoint: str) -> None:
    east2 = boto3.client("apigatewayv2", endpoint_url=endpoint, region_name="us-east-2",
                         aws_access_key_id="test", aws_secret_access_key="test")
    api_id = east2.create_api(Name="there", ProtocolType="HTTP")["ApiId"]
    assert error(client("apigatewayv2").get_api, ApiId=api_id)["Error"]["Code"] == "NotFoundException"
    assert [a["ApiId"] for a in east2.get_apis()["Items"]] == [api_id]


def test_quick_create_makes_integration_route_and_auto_deploying_default_stage(gw: Any, echo: str) -> None:
    api_id = gw.create_api(Name="quick", ProtocolType="HTTP", Target=echo, RouteKey="POST /presign")["ApiId"]
    (integration,) = gw.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["IntegrationUri"] == echo
    assert integration["PayloadFormatVersion"] == "2.0" and integration["TimeoutInMillis"] == 30000
    assert integration["ApiGatewayManaged"] is True
    (route,) = gw.get_routes(ApiId=api_id)["Items"]
    assert route["RouteKey"] == "POST /presign" and route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert route["AuthorizationType"] == "NONE" and len(route["RouteId"]) == 7
    (stage,) = gw.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True and stage["ApiGatewayManaged"] is True
    (deployment,) = gw.get_deployments(ApiId=api_id)["Items"]
    assert stage["DeploymentId"] == deployment["DeploymentId"] and deployment["AutoDeployed"] is True
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert stage["LastDeploymentStatusMessage"] == (
        f"Successfully deployed stage with deployment ID '{deployment['DeploymentId']}'")
    # UpdateApi's quick-create members change what quick create made
    gw.update_api(ApiId=api_id, RouteKey="ANY /{proxy+}")
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["ANY /{proxy+}"]


def test_routes_integrations_and_their_errors(gw: Any, echo: str) -> None:
    api_id = gw.create_api(Name="r", ProtocolType="HTTP")["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="1.0", TimeoutInMillis=5000)
    assert integration["PayloadFormatVersion"] == "1.0" and integration["IntegrationMethod"] == "POST"
    target = f"integrations/{integration['IntegrationId']}"
    route = gw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}", Target=target)
    assert gw.get_route(ApiId=api_id, RouteId=route["RouteId"])["RouteKey"] == "GET /pets/{id}"
    # one route per key
    conflict = error(gw.create_route, ApiId=api_id, RouteKey="GET /pets/{id}", Target=target)
    assert conflict["Error"]["Code"] == "ConflictException"
    assert conflict["ResponseMetadata"]["HTTPStatusCode"] == 409
    for bad in ("FETCH /x", "GET pets", "GET /{proxy+}/more", "GET /a/{x}/{x}"):
        assert error(gw.create_route, ApiId=api_id, RouteKey=bad)["Error"]["Code"] == "BadRequestException", bad
    assert error(gw.create_route, ApiId=api_id, RouteKey="GET /x",
                 Target="integrations/missing")["Error"]["Code"] == "BadRequestException"
    assert error(gw.create_route, ApiId=api_id, RouteKey="GET /x",
                 AuthorizationType="AWS_IAM")["Error"]["Code"] == "BadRequestException"
    # an integration still in use stays
    assert error(gw.delete_integration, ApiId=api_id,
                 IntegrationId=integration["IntegrationId"])["Error"]["Code"] == "ConflictException"
    updated = gw.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="GET /pets/{petId}")
    assert updated["RouteKey"] == "GET /pets/{petId}" and updated["Target"] == target
    gw.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], PayloadFormatVersion="2.0")
    assert gw.get_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])["PayloadFormatVersion"] == "2.0"
    gw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    gw.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    assert gw.get_routes(ApiId=api_id)["Items"] == [] and gw.get_integrations(ApiId=api_id)["Items"] == []
    missing = error(gw.get_route, ApiId=api_id, RouteId="nope123")
    assert missing["Error"]["Code"] == "NotFoundException" and missing["Error"]["Message"].endswith("nope123")


def test_integration_settings_are_checked(gw: Any, echo: str) -> None:
    api_id = gw.create_api(Name="i", ProtocolType="HTTP")["ApiId"]
    cases = [
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": echo},  # payload format version required
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": "not-an-arn", "PayloadFormatVersion": "2.0"},
        {"IntegrationType": "AWS", "IntegrationUri": echo, "PayloadFormatVersion": "2.0"},
        {"IntegrationType": "HTTP_PROXY", "IntegrationUri": "http://example.com", "PayloadFormatVersion": "1.0"},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": echo, "PayloadFormatVersion": "2.0",
         "RequestParameters": {"append:header.x": "$request.header.y"}},
    ]
    for case in cases:
        assert error(gw.create_integration, ApiId=api_id, **case)["Error"]["Code"] == "BadRequestException", case
    wrapped = (f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{echo}/invocations")
    made = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=wrapped,
                                 PayloadFormatVersion="2.0")
    assert made["IntegrationUri"] == wrapped


def test_websocket_apis_and_bad_settings_are_refused(gw: Any) -> None:
    assert error(gw.create_api, Name="ws", ProtocolType="WEBSOCKET",
                 RouteSelectionExpression="$request.body.action")["Error"]["Code"] == "BadRequestException"
    assert error(gw.create_api, Name="x", ProtocolType="HTTP",
                 RouteSelectionExpression="$request.body.action")["Error"]["Code"] == "BadRequestException"
    bad_cors = error(gw.create_api, Name="x", ProtocolType="HTTP",
                     CorsConfiguration={"AllowOrigins": ["*"], "AllowCredentials": True})
    assert bad_cors["Error"]["Code"] == "BadRequestException"
    assert error(gw.create_api, Name="x", ProtocolType="HTTP",
                 CorsConfiguration={"AllowMethods": ["FETCH"]})["Error"]["Code"] == "BadRequestException"


def test_stages_and_deployments(gw: Any, echo: str) -> None:
    api_id = gw.create_api(Name="s", ProtocolType="HTTP")["ApiId"]
    # nothing to deploy yet
    empty = error(gw.create_deployment, ApiId=api_id)
    assert empty["Error"]["Message"] == "At least one route is required before deploying the Api."
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")
    gw.create_route(ApiId=api_id, RouteKey="GET /a", Target=f"integrations/{integration['IntegrationId']}")
    prod = gw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"table": "t1"},
                           DefaultRouteSettings={"ThrottlingRateLimit": 5.0, "ThrottlingBurstLimit": 2})
    assert prod["AutoDeploy"] is False and "DeploymentId" not in prod
    assert prod["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False, "ThrottlingBurstLimit": 2,
                                            "ThrottlingRateLimit": 5.0}
    deployment = gw.create_deployment(ApiId=api_id, StageName="prod", Description="first")
    assert len(deployment["DeploymentId"]) == 6 and deployment["AutoDeployed"] is False
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment["DeploymentId"]
    assert gw.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])["Description"] == "first"
    # a deployment a stage serves stays
    in_use = error(gw.delete_deployment, ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert in_use["Error"]["Code"] == "BadRequestException"
    # auto-deploying stages follow each change
    live = gw.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    first = live["DeploymentId"]
    gw.create_route(ApiId=api_id, RouteKey="GET /b", Target=f"integrations/{integration['IntegrationId']}")
    assert gw.get_stage(ApiId=api_id, StageName="live")["DeploymentId"] != first
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment["DeploymentId"]
    auto = error(gw.create_deployment, ApiId=api_id, StageName="live")
    assert auto["Error"]["Code"] == "BadRequestException"
    assert error(gw.create_stage, ApiId=api_id, StageName="prod")["Error"]["Code"] == "ConflictException"
    assert error(gw.create_stage, ApiId=api_id, StageName="bad name")["Error"]["Code"] == "BadRequestException"
    assert error(gw.create_stage, ApiId=api_id, StageName="x",
                 AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:g",
                                    "Format": "$context.requestId"})["Error"]["Code"] == "BadRequestException"
    updated = gw.update_stage(ApiId=api_id, StageName="prod", Description="production",
                              RouteSettings={"GET /a": {"ThrottlingBurstLimit": 1}})
    assert updated["Description"] == "production" and updated["RouteSettings"]["GET /a"]["ThrottlingBurstLimit"] == 1
    gw.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /a")
    assert gw.get_stage(ApiId=api_id, StageName="prod")["RouteSettings"] == {}
    gw.delete_stage(ApiId=api_id, StageName="live")
    assert error(gw.get_stage, ApiId=api_id, StageName="live")["Error"]["Code"] == "NotFoundException"
    listed = gw.get_deployments(ApiId=api_id, MaxResults="1")
    assert len(listed["Items"]) == 1 and listed["NextToken"]


def test_tags_on_apis_and_stages(gw: Any) -> None:
    api_id = gw.create_api(Name="t", ProtocolType="HTTP", Tags={"a": "1"})["ApiId"]
    gw.create_stage(ApiId=api_id, StageName="prod", Tags={"s": "x"})
    api_arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    gw.tag_resource(ResourceArn=api_arn, Tags={"b": "2"})
    assert gw.get_tags(ResourceArn=api_arn)["Tags"] == {"a": "1", "b": "2"}
    gw.untag_resource(ResourceArn=api_arn, TagKeys=["a"])
    assert gw.get_api(ApiId=api_id)["Tags"] == {"b": "2"}
    stage_arn = f"{api_arn}/stages/prod"
    assert gw.get_tags(ResourceArn=stage_arn)["Tags"] == {"s": "x"}
    missing = error(gw.get_tags, ResourceArn=f"arn:aws:apigateway:us-east-1::/apis/{api_id}/stages/nope")
    assert missing["Error"]["Code"] == "NotFoundException"


def test_rest_apis_are_named_as_not_served(client: Any) -> None:
    response = error(client("apigateway").get_rest_apis)
    assert response["Error"]["Code"] == "UnknownOperationException"
    assert "Conveyor does not serve the service 'apigateway'" in response["Error"]["Message"]


def test_the_cli_quick_creates_and_reads_an_api(aws: Any, echo: str) -> None:
    api = aws("apigatewayv2", "create-api", "--name", "cli", "--protocol-type", "HTTP", "--target", echo)
    assert api["ProtocolType"] == "HTTP" and ".execute-api.localhost:" in api["ApiEndpoint"]
    routes = aws("apigatewayv2", "get-routes", "--api-id", api["ApiId"])
    assert [r["RouteKey"] for r in routes["Items"]] == ["$default"]
    failed = aws("apigatewayv2", "get-api", "--api-id", "nope123456", check=False)
    assert failed.returncode != 0 and b"NotFoundException" in failed.stderr


def test_apis_survive_a_kill_9(start_server: Any, tmp_path: Any) -> None:
    server = start_server(tmp_path / "data")
    gw = server.client("apigatewayv2")
    api_id = gw.create_api(Name="durable", ProtocolType="HTTP",
                           CorsConfiguration={"AllowOrigins": ["*"]})["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY",
                                        IntegrationUri="http://127.0.0.1:1/", IntegrationMethod="GET")
    gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{integration['IntegrationId']}")
    stage = gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    server.kill()
    again = start_server(tmp_path / "data", port=server.port)
    gw = again.client("apigatewayv2")
    assert gw.get_api(ApiId=api_id)["CorsConfiguration"] == {"AllowOrigins": ["*"]}
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["GET /x"]
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == stage["DeploymentId"]
