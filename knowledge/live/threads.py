"""Blocking work (the ORM, the engines) called from the live process's event loop."""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

from django.db import connections

P = ParamSpec("P")
T = TypeVar("T")


def in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> "asyncio.Future[T]":
    """`function(*args, **kwargs)` in the loop's default worker threads (see `in_executor`)."""
    return in_executor(None, function, *args, **kwargs)


def in_executor(
    executor: Executor | None, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> "asyncio.Future[T]":
    """`function(*args, **kwargs)` in `executor`'s threads. The database connections it opened are closed when it
    returns, as they are after a request: a worker thread outlives the work that used it."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return asyncio.get_running_loop().run_in_executor(executor, functools.partial(run))
