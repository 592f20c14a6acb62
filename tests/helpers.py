"""Helpers every test module may use (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout` seconds.

    For what happens in another process or thread on its own time (a worker, a function, a delivery);
    what the server schedules on its clock is moved with the manual clock instead."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout:g} seconds")
        time.sleep(interval)
