"""Models too heavy to load twice (a voice, a recognizer): loaded by the first caller, shared by all."""

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def load_once(load: Callable[[], T]) -> Callable[[], T]:
    """`load()` runs for the first caller only, under a lock (so two threads never load twice), and what
    it returns is shared by every caller in this process. A load that raises is tried again next time."""
    lock = threading.Lock()
    loaded: list[T] = []

    @functools.wraps(load)
    def get() -> T:
        with lock:
            if not loaded:
                loaded.append(load())
            return loaded[0]

    return get
