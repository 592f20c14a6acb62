"""Invoke URLs: events in payload formats 2.0 and 1.0, response mapping, route and stage selection, CORS,
the invoke permission, function errors, timeouts and throttles, and the URL forms."""

from __future__ import annotations

import base64
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.apigatewayv2.conftest import ACCOUNT, Invoker, allow
from tests.helpers import wait_for


def routed(gw: Any, api_id: str, integration_id: str, *keys: str) -> None:
    for key in keys:
        gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration_id}")


def api_with_routes(gw: Any, lam: Any, echo: str, *keys: str, version: str = "2.0", stage: str = "$default",
                    **api: Any) -> str:
    api_id = str(gw.create_api(Name="routes", ProtocolType="HTTP", **api)["ApiId"])
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion=version)
    routed(gw, api_id, integration["IntegrationId"], *keys)
    gw.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    allow(lam, api_id)
    return api_id


def test_payload_2_0_event(invoke: Invoker, quick_api: str) -> None:
    answer = invoke.call("POST", quick_api, "/orders/7?size=1&size=2&empty=", data=b'{"n": 1}', headers={
        "Content-Type": "application/json", "Cookie": "a=1; b=2", "X-Custom": "v", "User-Agent": "tester/1"})
    assert answer.status_code == 200 and answer.headers["apigw-requestid"]
    event = answer.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/orders/7" and event["rawQueryString"] == "size=1&size=2&empty="
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["queryStringParameters"] == {"size": "1,2", "empty": ""}
    headers = event["headers"]
    assert headers["x-custom"] == "v" and headers["host"] == invoke.host(quick_api)
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-port"] == str(invoke.port)
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-amzn-trace-id"].startswith("Root=1-")
    assert "connection" not in headers
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False
    assert "pathParameters" not in event and "stageVariables" not in event
    context = event["requestContext"]
    assert context["accountId"] == ACCOUNT and context["apiId"] == quick_api and context["stage"] == "$default"
    assert context["domainName"] == f"{quick_api}.execute-api.localhost" and context["domainPrefix"] == quick_api
    assert context["http"] == {"method": "POST", "path": "/orders/7", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "tester/1"}
    assert context["requestId"] == answer.headers["apigw-requestid"] and context["routeKey"] == "$default"
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith(" +0000")
    # a body that is not text travels base64-encoded
    binary = invoke.call("POST", quick_api, "/upload", data=b"\x00\xffdata",
                         headers={"Content-Type": "application/octet-stream"}).json()
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x00\xffdata"
    bare = invoke.call("GET", quick_api, "/").json()
    assert "body" not in bare and "queryStringParameters" not in bare and "cookies" not in bare


def test_payload_1_0_event(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = api_with_routes(gw, lam, echo, "GET /pets/{id}", version="1.0", stage="prod")
    gw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"table": "pets"})
    event = invoke.call("GET", api_id, "/prod/pets/7?a=1&a=2", headers={"X-Two": "x"}).json()
    assert event["version"] == "1.0" and event["resource"] == "/pets/{id}" and event["path"] == "/prod/pets/7"
    assert event["httpMethod"] == "GET" and event["pathParameters"] == {"id": "7"}
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["headers"]["x-two"] == "x" and event["multiValueHeaders"]["x-two"] == ["x"]
    assert event["stageVariables"] == {"table": "pets"} and event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/pets/{id}" and context["stage"] == "prod" and context["path"] == "/prod/pets/7"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["httpMethod"] == "GET"


def test_response_mapping(invoke: Invoker, quick_api: str) -> None:
    binary = invoke.call("GET", quick_api, "/binary")
    assert binary.status_code == 201 and binary.content == b"\x00\x01\xff"
    assert binary.headers["content-type"] == "application/octet-stream" and binary.headers["x-one"] == "1"
    assert binary.raw.headers.getlist("Set-Cookie") == ["s=1; Path=/", "t=2"]
    # 2.0 infers a response from any JSON value without a statusCode
    plain = invoke.call("GET", quick_api, "/plain")
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
    assert plain.json() == {"hello": "world"}
    text = invoke.call("GET", quick_api, "/text")
    assert text.status_code == 200 and text.text == "just text"
    typed = invoke.call("GET", quick_api, "/nocontenttype")
    assert typed.status_code == 202 and typed.text == "accepted"
    assert typed.headers["content-type"] == "text/plain; charset=utf-8"
    for broken in ("/bad", "/boom"):
        answer = invoke.call("GET", quick_api, broken)
        assert answer.status_code == 500 and answer.json() == {"message": "Internal Server Error"}, broken


def test_the_most_specific_route_wins(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = api_with_routes(gw, lam, echo, "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}",
                             "ANY /{proxy+}", "$default", "POST /pets")
    cases = [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("DELETE", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
        ("POST", "/pets", "POST /pets", None),
        ("GET", "/", "$default", None),
        ("GET", "/pets/dog/a%20b", "GET /pets/dog/{id}", {"id": "a b"}),
    ]
    for method, path, route_key, parameters in cases:
        event = invoke.call(method, api_id, path).json()
        assert event["routeKey"] == route_key, (method, path)
        assert event.get("pathParameters") == parameters, (method, path)


def test_no_matching_route_is_not_found(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = api_with_routes(gw, lam, echo, "POST /presign")
    missing = invoke.call("GET", api_id, "/presign")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    assert invoke.call("POST", api_id, "/presign").status_code == 200


def test_routes_made_at_once_are_all_deployed(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    """CloudFormation makes a template's routes and its auto-deploying stage concurrently: each automatic
    deployment holds what the ones before it committed, so the stage ends up serving every route."""
    api_id = str(gw.create_api(Name="at-once", ProtocolType="HTTP")["ApiId"])
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    allow(lam, api_id)
    keys = [f"GET /items{'/{id}' * (i % 2)}/{i}" for i in range(8)]
    with ThreadPoolExecutor(len(keys) + 1) as pool:
        made = [pool.submit(gw.create_route, ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
                for key in keys]
        made.append(pool.submit(gw.create_stage, ApiId=api_id, StageName="$default", AutoDeploy=True))
        for future in made:
            future.result()
    for i in range(8):
        path = f"/items/x/{i}" if i % 2 else f"/items/{i}"
        assert invoke.call("GET", api_id, path).json()["routeKey"] == keys[i]


def test_stages_serve_their_deployment(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = str(gw.create_api(Name="staged", ProtocolType="HTTP")["ApiId"])
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    routed(gw, api_id, integration, "GET /a")
    allow(lam, api_id)
    gw.create_stage(ApiId=api_id, StageName="prod")
    # a stage never deployed, and no $default stage to fall back on
    assert invoke.call("GET", api_id, "/prod/a").status_code == 404
    assert invoke.call("GET", api_id, "/other/a").json() == {"message": "Not Found"}
    gw.create_deployment(ApiId=api_id, StageName="prod")
    event = invoke.call("GET", api_id, "/prod/a").json()
    assert event["rawPath"] == "/prod/a" and event["requestContext"]["stage"] == "prod"
    routed(gw, api_id, integration, "GET /b")
    assert invoke.call("GET", api_id, "/prod/b").status_code == 404  # not deployed yet
    gw.create_deployment(ApiId=api_id, StageName="prod")
    assert invoke.call("GET", api_id, "/prod/b").status_code == 200
    # the $default stage takes paths that name no stage
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert invoke.call("GET", api_id, "/b").json()["requestContext"]["stage"] == "$default"


def test_cors_preflight_and_responses(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = api_with_routes(gw, lam, echo, "POST /presign", CorsConfiguration={
        "AllowOrigins": ["http://localhost:8080"], "AllowMethods": ["POST", "OPTIONS"],
        "AllowHeaders": ["content-type"], "MaxAge": 600, "ExposeHeaders": ["x-id"]})
    preflight = invoke.call("OPTIONS", api_id, "/presign", headers={
        "Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST", "Sec-Fetch-Site": "cross-site"})
    assert preflight.status_code == 204  # answered without an OPTIONS route
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8080"
    assert preflight.headers["access-control-allow-methods"] == "POST,OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    assert preflight.headers["access-control-max-age"] == "600"
    # the browser's call itself, cross-origin: with --auth off the API's CORS decides, not Conveyor's rule
    answer = invoke.call("POST", api_id, "/presign", headers={"Origin": "http://localhost:8080",
                                                              "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://localhost:8080"  # not the function's own
    assert answer.headers["access-control-expose-headers"] == "x-id"
    other = invoke.call("POST", api_id, "/presign", headers={"Origin": "https://elsewhere.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    denied = invoke.call("OPTIONS", api_id, "/presign", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert denied.status_code == 204 and "access-control-allow-origin" not in denied.headers


def test_the_invoke_permission_is_checked(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = str(gw.create_api(Name="perm", ProtocolType="HTTP")["ApiId"])
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    routed(gw, api_id, integration, "POST /presign", "GET /other")
    gw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    refused = invoke.call("POST", api_id, "/prod/presign")
    assert refused.status_code == 500 and refused.json() == {"message": "Internal Server Error"}
    # why, for the user: `conveyor status` shows it among the recent errors
    status = requests.get(f"{invoke.endpoint}/_conveyor/status", timeout=30).json()
    assert any("apigateway.amazonaws.com may not invoke" in e["message"] and e["status"] == 500
               for e in status["recent_errors"])
    # a permission for one route's ARN only: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH
    allow(lam, api_id, source="prod/POST/presign")
    assert invoke.call("POST", api_id, "/prod/presign").status_code == 200
    assert invoke.call("GET", api_id, "/prod/other").status_code == 500
    # a permission for another API does nothing for this one
    lam.add_permission(FunctionName="echo", StatementId="elsewhere", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:otherapi00/*")
    assert invoke.call("GET", api_id, "/prod/other").status_code == 500


def test_an_integration_role_stands_in_for_the_permission(client: Any, gw: Any, echo: str, invoke: Invoker) -> None:
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="api-invoker", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    api_id = str(gw.create_api(Name="role", ProtocolType="HTTP", Target=echo, CredentialsArn=role)["ApiId"])
    assert invoke.call("GET", api_id, "/plain").json() == {"hello": "world"}  # no resource policy needed
    lambda_only = iam.create_role(RoleName="not-for-apis", AssumeRolePolicyDocument=json.dumps(
        {**trust, "Statement": [{**trust["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    gw.update_api(ApiId=api_id, CredentialsArn=lambda_only["Role"]["Arn"])
    assert invoke.call("GET", api_id, "/plain").status_code == 500


def test_function_errors_timeouts_and_throttles(gw: Any, lam: Any, echo: str, invoke: Invoker) -> None:
    api_id = str(gw.create_api(Name="fail", ProtocolType="HTTP", Target=echo)["ApiId"])
    allow(lam, api_id)
    boom = invoke.call("GET", api_id, "/boom")
    assert boom.status_code == 500 and boom.json() == {"message": "Internal Server Error"}
    (integration,) = gw.get_integrations(ApiId=api_id)["Items"]
    gw.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], TimeoutInMillis=300)
    slow = invoke.call("GET", api_id, "/slow")
    assert slow.status_code == 503 and slow.json() == {"message": "Service Unavailable"}
    # the function itself runs to its end, as it does on AWS
    logs = f"{invoke.endpoint}/_conveyor/functions/echo/logs"
    wait_for(lambda: "slow one done" in requests.get(logs, timeout=30).json()["text"], timeout=15)
    lam.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
    throttled = invoke.call("GET", api_id, "/fine")
    assert throttled.status_code == 429 and throttled.json() == {"message": "Too Many Requests"}


def test_stage_throttling_on_the_servers_clock(gw: Any, lam: Any, echo: str, invoke: Invoker, advance: Any) -> None:
    api_id = str(gw.create_api(Name="slowly", ProtocolType="HTTP", Target=echo)["ApiId"])
    allow(lam, api_id)
    gw.update_stage(ApiId=api_id, StageName="$default",
                    DefaultRouteSettings={"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 1.0})
    assert invoke.call("GET", api_id, "/plain").status_code == 200
    limited = invoke.call("GET", api_id, "/plain")
    assert limited.status_code == 429 and limited.json() == {"message": "Too Many Requests"}
    advance(1.0)
    assert invoke.call("GET", api_id, "/plain").status_code == 200


def test_url_forms_and_unknown_apis(endpoint: str, gw: Any, invoke: Invoker, quick_api: str) -> None:
    by_path = requests.get(f"{endpoint}/_aws/execute-api/{quick_api}/x/plain", timeout=30)
    assert by_path.status_code == 200 and by_path.json() == {"hello": "world"}
    aws_name = requests.get(f"{endpoint}/plain", timeout=30, headers={
        "Host": f"{quick_api}.execute-api.us-east-1.amazonaws.com:{invoke.port}"})
    assert aws_name.json() == {"hello": "world"}
    localstack_name = requests.get(f"{endpoint}/plain", timeout=30, headers={
        "Host": f"{quick_api}.execute-api.localhost.localstack.cloud:{invoke.port}"})
    assert localstack_name.json() == {"hello": "world"}
    wrong_region = requests.get(f"{endpoint}/plain", timeout=30, headers={
        "Host": f"{quick_api}.execute-api.eu-west-1.amazonaws.com"})
    assert wrong_region.status_code == 404
    unknown = invoke.call("GET", "abcdef1234", "/plain")
    assert unknown.status_code == 404 and unknown.json() == {"message": "Not Found"}
    gw.update_api(ApiId=quick_api, DisableExecuteApiEndpoint=True)
    disabled = invoke.call("GET", quick_api, "/plain")
    assert disabled.status_code == 403 and disabled.json() == {"message": "Forbidden"}


def test_a_rebound_host_name_is_refused_with_auth_off(endpoint: str, quick_api: str) -> None:
    """A page that rebinds its own name to 127.0.0.1 reaches the path form with its name in Host."""
    rebound = requests.get(f"{endpoint}/_aws/execute-api/{quick_api}/plain", timeout=30,
                           headers={"Host": "attacker.example:4566"})
    assert rebound.status_code == 403 and rebound.json() == {"message": "Forbidden"}


def test_http_proxy_integration(gw: Any, endpoint: str, invoke: Invoker) -> None:
    api_id = str(gw.create_api(Name="proxy", ProtocolType="HTTP")["ApiId"])
    integration = gw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                        IntegrationUri=f"{endpoint}/_conveyor/health")["IntegrationId"]
    routed(gw, api_id, integration, "GET /health")
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    answer = invoke.call("GET", api_id, "/health")
    assert answer.status_code == 200 and "apigatewayv2" in answer.json()["services"]


def test_curl_resolves_the_api_host_name(invoke: Invoker, quick_api: str) -> None:
    url = f"http://{invoke.host(quick_api)}/plain"
    result = subprocess.run(["curl", "-s", "-X", "POST", url], capture_output=True, timeout=60, check=True)
    assert json.loads(result.stdout) == {"hello": "world"}


def test_invoke_urls_are_open_under_sigv4(start_server: Any, tmp_path: Any) -> None:
    """The API is signed for; the calls to its routes are not (authorization NONE), as on AWS."""
    import boto3

    server = start_server(tmp_path / "data", "--auth", "sigv4", "--access-key", "AKIDWEB", "--secret-key", "s3cret")
    gw = boto3.client("apigatewayv2", endpoint_url=server.endpoint, region_name="us-east-1",
                      aws_access_key_id="AKIDWEB", aws_secret_access_key="s3cret")
    api_id = gw.create_api(Name="open", ProtocolType="HTTP", Target=f"{server.endpoint}/_conveyor/health")["ApiId"]
    answer = requests.get(f"{server.endpoint}/", timeout=30,  # the $default route appends the path
                          headers={"Host": f"{api_id}.execute-api.localhost:{server.port}"})
    assert answer.status_code == 200 and "apigatewayv2" in answer.json()["services"]
