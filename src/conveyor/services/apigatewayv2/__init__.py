"""API Gateway v2 HTTP APIs: the control plane (rest-json, service `apigatewayv2`, signing name `apigateway`)
and the data plane that answers `http://{apiId}.execute-api.localhost:{port}/{stage}/{path}`.

    api.py          the Service: operations wired to the objects below, the data plane hook
    codec.py        rest-json with API Gateway's error body and validation codes
    records.py      APIs, routes, integrations, stages, deployments as their Get* operations answer them
    catalog.py      every API in memory, changed only after the store committed the change
    store.py        its SQL
    apis.py, routes.py, stages.py     the operations
    route_keys.py   route keys: parsing, and choosing the route a request takes
    data_plane.py   invoke URLs: stage, CORS, route, permission, integration, response
    events.py       Lambda proxy events (payload formats 2.0 and 1.0) and the responses they map back
    cors.py, throttle.py, http_proxy.py
"""
