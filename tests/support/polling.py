"""Polling with a deadline: the only way tests here wait for something."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.5, what: str = "condition") -> T:
    """Call ``probe`` every ``interval`` seconds until it returns a truthy value, and return it.

    Raises ``AssertionError`` naming ``what`` and the last value seen once ``timeout`` seconds
    have passed.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last value: {last!r}")
        time.sleep(interval)
