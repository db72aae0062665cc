"""TwinTone's video-agent API (`/v1`): string ids, 400 for a body of the wrong shape."""

from persona_platform.api.dialects.base import Dialect, DialectView, vendor_error

# TwinTone knows processing|ready|failed only: a queued job is processing, a canceled one failed.
TWINTONE_JOB_STATUS = {
    "queued": "processing",
    "processing": "processing",
    "ready": "ready",
    "failed": "failed",
    "canceled": "failed",
}
TWINTONE = Dialect(
    name="twintone", tag="TwinTone", error_body=vendor_error, validation_status=400, job_status=TWINTONE_JOB_STATUS
)


class TwinToneView(DialectView):
    dialect = TWINTONE
