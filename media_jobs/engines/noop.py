"""An engine that does nothing, for measuring the job machinery itself (bench/) and for tests."""

import time
from typing import ClassVar


class NoopEngine:
    name: ClassVar[str] = "noop"

    def run(self, *, seconds: float = 0.0) -> dict:
        if seconds:
            time.sleep(min(seconds, 60.0))
        return {"slept": seconds}
