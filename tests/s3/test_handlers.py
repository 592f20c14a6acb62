"""S3's handlers: one per operation it answers, named as the model names it, its parameters typed with
that operation's request TypedDict (mypy-boto3-s3)."""

from __future__ import annotations

import inspect
from pathlib import Path

from conveyor.clock import ManualClock
from conveyor.config import Config
from conveyor.ports import Ports
from conveyor.services.base import Environment
from conveyor.services.s3.api import S3Service
from conveyor.storage.disk import DiskGuard


def test_every_handler_is_an_operation_of_the_model_with_its_request_type(tmp_path: Path) -> None:
    service = S3Service(Environment(Config(data_dir=tmp_path), ManualClock(), DiskGuard(tmp_path), Ports()))
    handled: list[str] = []
    for group in service.operation_groups:
        names = [name for name in dir(group) if name[:1].isupper()]
        assert not set(names) & set(handled), "an operation answered by two groups"
        handled += names
    assert set(handled) <= set(service.model.operation_names)
    assert len(handled) >= 60
    assert service.handler("PutObject") is not None and service.handler("NoSuchOperation") is None
    for name in handled:
        handler = service.handler(name)
        assert handler is not None
        assert inspect.signature(handler).parameters["params"].annotation == f"{name}RequestTypeDef", name
