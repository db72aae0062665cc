"""The one job kind `media_jobs` owns itself: a no-op, for benchmarks and tests of the job machinery."""

from pathlib import Path

from media_jobs.engines import NOOP_RUNNER, get_engine
from media_jobs.kinds import JobKind, JobOutput, Progress
from media_jobs.models import MediaJob

NOOP = "noop"


def run_noop(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    return JobOutput(path=None, result=get_engine(NOOP_RUNNER).run(seconds=float(job.params.get("seconds", 0))))


noop = JobKind(name=NOOP, label="No-op (benchmarks and tests)", run=run_noop)
