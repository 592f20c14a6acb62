"""botocore's service models, loaded once per process through one shared loader.

A botocore Session per service costs tens of milliseconds of handler registration each, which
`conveyor up` would pay before it can serve; a bare loader reads the same JSON files.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

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
