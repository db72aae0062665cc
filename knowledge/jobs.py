"""The job kind this app owns: indexing pages into searchable chunks (knowledge.indexing)."""

from pathlib import Path

from knowledge.indexing import index_pages
from knowledge.services.pages import KNOWLEDGE_INDEX
from media_jobs.kinds import JobKind, JobOutput, Progress
from media_jobs.models import MediaJob


def run_knowledge_index(*, job: MediaJob, work_dir: Path, progress: Progress) -> JobOutput:
    """Chunk and embed the job's pages (each at the version it was queued for)."""
    return JobOutput(path=None, result=index_pages(pages=job.params["pages"], progress=progress))


knowledge_index = JobKind(name=KNOWLEDGE_INDEX, label="Knowledge indexing", run=run_knowledge_index)
