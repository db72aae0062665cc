"""Blocking work (the ORM, the engines) called from the live process's event loop."""

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import connections

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in the loop's worker threads. The database connections it opened are closed
    when it returns, as they are after a request: a worker thread outlives any session that used it."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(run))
