"""botocore's service models, loaded once per process through one shared loader.

A botocore Session per service costs tens of milliseconds of handler registration each, which
`conveyor up` would pay before it can serve; a bare loader reads the same JSON files.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
import os
import re
from typing import Any

from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader, create_loader
from botocore.model import ServiceModel


@functools.cache
def _loader() -> Loader:
    return create_loader()


def raw_model(name: str) -> dict[str, Any]:
    """A private copy of the model's JSON, for services that adjust it before use."""
    return copy.deepcopy(_loader().load_service_model(name, "service-2"))


@functools.cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(_loader().load_service_model(name, "service-2"), service_name=name)


_METADATA = re.compile(rb'"metadata"\s*:\s*(\{[^{}]*\})')


@functools.cache
def all_metadata() -> dict[str, dict[str, Any]]:
    """service name -> the `metadata` block of its newest model, for every service botocore knows.

    Loading every model whole takes seconds; the metadata block sits at the head of each file, so only
    the first few kilobytes are read (the whole model only when its head does not parse).
    """
    out: dict[str, dict[str, Any]] = {}
    for name in _loader().list_available_services("service-2"):
        try:
            out[name] = model_metadata(name)
        except (ValueError, DataNotFoundError):
            continue
    return out


@functools.cache
def model_metadata(name: str) -> dict[str, Any]:
    """The `metadata` block of one service's newest model, read from the head of its file: routing needs
    it for every served service at start, the whole model only on the service's first request."""
    loader = _loader()
    head = _model_head(loader, name, loader.determine_latest_version(name, "service-2"))
    match = _METADATA.search(head) if head else None
    return dict(json.loads(match.group(1))) if match else _full_metadata(name)


def _model_head(loader: Loader, name: str, version: str) -> bytes:
    for root in loader.search_paths:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            path = os.path.join(root, name, version, "service-2" + suffix)
            if os.path.isfile(path):
                with opener(path, "rb") as handle:
                    return bytes(handle.read(8192))
    return b""


def _full_metadata(name: str) -> dict[str, Any]:
    return dict(_loader().load_service_model(name, "service-2")["metadata"])
