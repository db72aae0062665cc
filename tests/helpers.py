"""Assertions shared by the dialect tests, one per envelope, a stand-in for a job kind's runner, and test audio."""

import dataclasses
import io
import wave

import numpy as np

from media_jobs.kinds import job_kinds


def assert_vendor_error(response, status: int, kind: str, message_contains: str = "") -> dict:
    """The `/v1` and `/api/v1` envelope: exactly error, message and status."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "status"}, body
    assert body["error"] == kind, body
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert message_contains in body["message"], body["message"]
    return body


def stored_files(media_root) -> list[str]:
    """Every file under the media root, as paths relative to it."""
    return sorted(str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file())


def assert_bhuman_error(response, status: int, message_contains: str = "") -> dict:
    """BHuman's envelope: exactly status "error" and a message."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"status", "message"}, payload
    assert payload["status"] == "error"
    assert isinstance(payload["message"], str) and payload["message"]
    assert message_contains in payload["message"], payload["message"]
    return payload


def replace_runner(monkeypatch, kind: str, run) -> None:
    """Run `kind`'s jobs with `run` for this test (the registered kind keeps its hooks)."""
    monkeypatch.setitem(job_kinds(), kind, dataclasses.replace(job_kinds()[kind], run=run))


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    """Float samples in [-1, 1] as a 16-bit mono WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()
