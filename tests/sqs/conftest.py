"""SQS fixtures: every test runs twice, once over JSON (current SDKs) and once over query (older SDKs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config as BotoConfig

from conveyor.services.sqs.query_compat import query_model_dict

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


@pytest.fixture(scope="session")
def query_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sqs-query-model")
    loader = botocore.session.get_session().get_component("data_loader")
    raw = loader.load_service_model("sqs", "service-2")
    target = root / "sqs" / "2012-11-05"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(query_model_dict(raw)))
    return root


def make_client(endpoint: str, protocol: str, models_dir: Path, **config: Any) -> Any:
    cfg = BotoConfig(retries={"max_attempts": 1}, read_timeout=60, **config)
    if protocol == "json":
        return boto3.client("sqs", endpoint_url=endpoint, config=cfg, **CREDENTIALS)
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(models_dir))
    return boto3.Session(botocore_session=core).client("sqs", endpoint_url=endpoint, config=cfg, **CREDENTIALS)


@pytest.fixture(params=["json", "query"])
def sqs(request: pytest.FixtureRequest, endpoint: str, query_models_dir: Path) -> Any:
    client = make_client(endpoint, request.param, query_models_dir)
    client.protocol_name = request.param
    return client


@pytest.fixture
def sqs_factory(endpoint: str, query_models_dir: Path, sqs: Any) -> Callable[..., Any]:
    """Another client speaking the same protocol as `sqs` (e.g. for a second thread)."""
    return lambda **config: make_client(endpoint, sqs.protocol_name, query_models_dir, **config)


@pytest.fixture
def queue(sqs: Any) -> Callable[..., str]:
    def make(name: str = "q1", **attrs: str) -> str:
        return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]

    return make
