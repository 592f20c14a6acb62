"""Conveyor: the upload-processing architecture on one machine, over the real AWS wire protocols.

The public API, for a program that embeds Conveyor (a test suite, a notebook, a tool):

    from conveyor import App, Config, serve_in_thread

    with serve_in_thread(App(Config(data_dir=..., port=0, clock="manual"))) as endpoint:
        ...  # boto3 / the AWS CLI against `endpoint`; ControlClient(endpoint) for Conveyor's own API

Everything else is internal and may change. The names load on first use (PEP 562): the worker and
function processes that import `conveyor.runtime.mover` do not pay for the server's import graph.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from conveyor.app import App
    from conveyor.clock import Clock, ManualClock
    from conveyor.config import Config
    from conveyor.control import ControlClient, ControlError, Credentials
    from conveyor.pipeline.apply import Applier, Report
    from conveyor.pipeline.spec import Pipeline, PipelineError
    from conveyor.pipeline.spec import load as load_pipeline
    from conveyor.server import serve, serve_in_thread

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "App": ("conveyor.app", "App"),
    "Config": ("conveyor.config", "Config"),
    "Clock": ("conveyor.clock", "Clock"),
    "ManualClock": ("conveyor.clock", "ManualClock"),
    "serve": ("conveyor.server", "serve"),
    "serve_in_thread": ("conveyor.server", "serve_in_thread"),
    "ControlClient": ("conveyor.control", "ControlClient"),
    "ControlError": ("conveyor.control", "ControlError"),
    "Credentials": ("conveyor.control", "Credentials"),
    "Pipeline": ("conveyor.pipeline.spec", "Pipeline"),
    "PipelineError": ("conveyor.pipeline.spec", "PipelineError"),
    "load_pipeline": ("conveyor.pipeline.spec", "load"),
    "Applier": ("conveyor.pipeline.apply", "Applier"),
    "Report": ("conveyor.pipeline.apply", "Report"),
}

__all__ = [
    "App", "Applier", "Clock", "Config", "ControlClient", "ControlError", "Credentials", "ManualClock", "Pipeline",
    "PipelineError", "Report", "__version__", "load_pipeline", "serve", "serve_in_thread",
]


def __getattr__(name: str) -> object:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'conveyor' has no attribute {name!r}") from None
    value: object = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
