"""Tracks that hand out media in real time, as a microphone or a camera would."""

import asyncio
import time

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError


class PacedTrack(MediaStreamTrack):
    """Frames every `period` seconds of wall time from the first one (aiortc sends what `recv` returns at once)."""

    period: float

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._count = 0

    async def next_slot(self) -> int:
        """Wait for the next frame's time; its index from 0."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._count += 1
            wait = self._start + self._count * self.period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        return self._count
