"""A local stand-in for the ElevenLabs REST endpoints the speech engine uses, for tests.

It speaks the documented shapes (text to speech, with or without timestamps; instant voice clones; voice
deletion), checks the `xi-api-key` header, records every request for assertions and answers with real audio:
a voiced-like harmonic chirp, 60 ms per character, at the requested PCM rate. MP3 answers are valid but silent
layer III frames (nothing here encodes MP3). Failures and slow answers can be scripted per request.

    with ElevenLabsServer(api_key="k") as server:
        server.fail_next(429)
        ...
        server.requests[-1].json
"""

import base64
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np

from tests.fake_http import LocalServer, QuietHandler

SECONDS_PER_CHARACTER = 0.06
TAIL_SECONDS = 0.1  # trailing silence, as a real voice has, so the last character ends before the audio does
PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MP3_FRAME_HEADERS = {  # mono, no CRC, no padding: header bytes, frame length, samples per frame
    "mp3_44100_128": (b"\xff\xfb\x90\xc0", 417, 1152, 44100),  # MPEG-1 layer III, 128 kbit/s
    "mp3_22050_32": (b"\xff\xf3\x40\xc0", 104, 576, 22050),  # MPEG-2 layer III, 32 kbit/s
}
DEFAULT_FAILURES = {
    400: {"detail": {"status": "bad_request", "message": "The request was malformed."}},
    401: {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
    404: {"detail": {"status": "voice_not_found", "message": "A voice with that id was not found."}},
    422: {"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]},
    429: {
        "detail": {
            "status": "too_many_concurrent_requests",
            "message": "You have too many concurrent requests for your subscription.",
        }
    },
    500: {"detail": {"status": "internal_server_error", "message": "Something went wrong on our side."}},
    503: {"detail": {"status": "service_unavailable", "message": "The service is temporarily unavailable."}},
}


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string, as sent (percent-encoded)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: object = None
    fields: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # multipart (field, file name, content)


@dataclass
class _Scripted:
    status: int | None = None
    body: object = None
    delay: float = 0.0


def speak(text: str, sample_rate: int) -> tuple[np.ndarray, dict]:
    """A voiced-like signal for `text` (int16, mono) and the character alignment that goes with it.

    Each character gets a slot of SECONDS_PER_CHARACTER: letters are a harmonic series whose fundamental
    glides from 110 to 170 Hz over the text, shaped by a raised-cosine envelope; spaces are silent.
    """
    slot = int(round(SECONDS_PER_CHARACTER * sample_rate))
    total = slot * len(text) + int(round(TAIL_SECONDS * sample_rate))
    t = np.arange(total) / sample_rate
    f0 = 110.0 + 60.0 * t / max(t[-1], 1e-9)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 11))
    envelope = np.zeros(total)
    window = np.hanning(slot)
    for index, character in enumerate(text):
        if not character.isspace():
            envelope[index * slot : (index + 1) * slot] = window
    signal = voiced * envelope
    peak = float(np.max(np.abs(signal))) or 1.0
    samples = np.round(signal / peak * 0.6 * 32767).astype("<i2")
    alignment = {
        "characters": list(text),
        "character_start_times_seconds": [round(i * slot / sample_rate, 4) for i in range(len(text))],
        "character_end_times_seconds": [round((i + 1) * slot / sample_rate, 4) for i in range(len(text))],
    }
    return samples, alignment


def silent_mp3(output_format: str, seconds: float) -> bytes:
    """Enough silent MP3 frames to last `seconds`; all-zero side info decodes as silence."""
    header, length, per_frame, rate = MP3_FRAME_HEADERS[output_format]
    frames = max(1, -(-int(seconds * rate) // per_frame))
    return (header + bytes(length - len(header))) * frames


class ElevenLabsServer(LocalServer):
    """ElevenLabs' API on a local port (see tests.fake_http)."""

    def __init__(self, api_key: str = "test-elevenlabs-key"):
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.voices: dict[str, dict] = {}  # clones made through /v1/voices/add
        self.deleted_voices: set[str] = set()
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        return self.base_url

    def fail_next(self, status: int, body: object = None) -> None:
        """The next request is answered with this status (and the provider-like body for it unless given)."""
        with self._lock:
            self._script.append(
                _Scripted(status=status, body=body if body is not None else DEFAULT_FAILURES.get(status))
            )

    def delay_next(self, seconds: float) -> None:
        """The next request is answered normally, but only after `seconds` (to trip the client's timeout)."""
        with self._lock:
            self._script.append(_Scripted(delay=seconds))

    def _next_script(self) -> _Scripted | None:
        with self._lock:
            return self._script.popleft() if self._script else None


class _Handler(QuietHandler):
    # -- plumbing -------------------------------------------------------------------------------------------

    def _dispatch(self):
        owner = self.server.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        recorded = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and raw:
            try:
                recorded.json = json.loads(raw)
            except ValueError:
                recorded.json = None
        elif content_type.startswith("multipart/form-data"):
            recorded.fields, recorded.files = _parse_multipart(content_type, raw)
        owner.requests.append(recorded)

        scripted = owner._next_script()
        if scripted and scripted.delay:
            owner._released.wait(scripted.delay)
        if scripted and scripted.status:
            return self._send_json(scripted.status, scripted.body or {})
        if recorded.headers.get("xi-api-key") != owner.api_key:
            return self._send_json(401, DEFAULT_FAILURES[401])
        return self._route(recorded)

    # -- endpoints ------------------------------------------------------------------------------------------

    def _route(self, request: RecordedRequest):
        owner = self.server.owner
        tts = re.fullmatch(r"/v1/text-to-speech/([^/]+)(/with-timestamps)?", request.path)
        if tts and request.method == "POST":
            return self._text_to_speech(request, voice_id=unquote(tts.group(1)), timestamps=bool(tts.group(2)))
        if request.path == "/v1/voices/add" and request.method == "POST":
            return self._add_voice(request)
        voice = re.fullmatch(r"/v1/voices/([^/]+)", request.path)
        if voice and request.method == "DELETE":
            if owner.voices.pop(unquote(voice.group(1)), None) is None:
                return self._send_json(404, DEFAULT_FAILURES[404])
            owner.deleted_voices.add(unquote(voice.group(1)))
            return self._send_json(200, {"status": "ok"})
        return self._send_json(404, {"detail": "Not Found"})

    def _text_to_speech(self, request: RecordedRequest, *, voice_id: str, timestamps: bool):
        if voice_id in self.server.owner.deleted_voices:
            return self._send_json(404, DEFAULT_FAILURES[404])
        body = request.json if isinstance(request.json, dict) else {}
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return self._send_json(422, DEFAULT_FAILURES[422])
        output_format = request.query.get("output_format", "mp3_44100_128")
        pcm = re.fullmatch(r"pcm_(\d+)", output_format)
        if pcm and int(pcm.group(1)) in PCM_RATES:
            samples, alignment = speak(text, int(pcm.group(1)))
            audio, content_type = samples.tobytes(), "audio/pcm"
        elif output_format in MP3_FRAME_HEADERS:
            _, alignment = speak(text, 8000)
            seconds = SECONDS_PER_CHARACTER * len(text) + TAIL_SECONDS
            audio, content_type = silent_mp3(output_format, seconds), "audio/mpeg"
        else:
            detail = {"status": "invalid_output_format", "message": f"Unsupported output_format {output_format}."}
            return self._send_json(422, {"detail": detail})
        if not timestamps:
            return self._send(200, audio, content_type)
        payload = {
            "audio_base64": base64.b64encode(audio).decode("ascii"),
            "alignment": alignment,
            "normalized_alignment": alignment,
        }
        return self._send_json(200, payload)

    def _add_voice(self, request: RecordedRequest):
        if not request.fields.get("name"):
            detail = [{"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}]
            return self._send_json(422, {"detail": detail})
        samples = [item for item in request.files if item[0] == "files" and item[2]]
        if not samples:
            detail = [{"loc": ["body", "files"], "msg": "field required", "type": "value_error.missing"}]
            return self._send_json(422, {"detail": detail})
        voice_id = uuid.uuid4().hex[:20]
        self.server.owner.voices[voice_id] = {"name": request.fields["name"], "files": [item[1] for item in samples]}
        return self._send_json(200, {"voice_id": voice_id, "requires_verification": False})


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], list[tuple[str, str, bytes]]]:
    """Text fields and files of a multipart/form-data body, parsed with the email package (cgi is gone)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, str] = {}
    files: list[tuple[str, str, bytes]] = []
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files.append((name, filename, content))
        elif name:
            fields[name] = content.decode("utf-8")
    return fields, files
