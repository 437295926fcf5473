"""Hooks and fixtures local to the HTTP tests."""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from typing import Any

import pytest

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, Any]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture(autouse=True)
def _collect_garbage_after_a_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failed test, finalize its leftovers (tasks, transports) right away.

    When a server bug leaves a task with an unretrieved exception, its finalizer
    otherwise runs at a random later point, possibly inside pytest's own source
    parsing for the next failure report, which trips a CPython 3.11.7 bug ("AST
    constructor recursion depth mismatch") and turns the session into an INTERNALERROR.
    """
    yield
    if request.node.stash.get(_FAILED, False):
        gc.collect()
