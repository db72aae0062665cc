"""TwinTone: create a persona, generate speech in its voice, poll until ready, download the audio.

Follows the seed "TwinTone Video Agent API v1" (twintone-video-agents-v1), sections Personas and
Speech: the key in `x-api-key`, paths under `/v1`, `POST /personas` with `name`, `description` and
`voice_settings` (`pitch`, `speed`), `POST /speech` with `text`, `persona_id` and `name`, and
`GET /speech/:id` whose `status` goes `processing` -> `ready` with a `url`.
"""

import requests
from _client import API_KEY, BASE_URL, check, download, expect, poll

HEADERS = {"x-api-key": API_KEY}
API = f"{BASE_URL}/v1"

persona = expect(
    requests.post(
        f"{API}/personas",
        headers=HEADERS,
        json={
            "name": "Narrator",
            "description": "A calm documentary voice",
            "voice_settings": {"pitch": 0, "speed": 1.1},
        },
        timeout=30,
    ),
    201,
)
check(isinstance(persona["id"], str) and persona["name"] == "Narrator", f"the persona as sent: {persona}")
print(f"Created persona {persona['id']}: {persona['name']}")

text = "Hello from my digital twin. This sentence was spoken by a persona."
speech = expect(
    requests.post(
        f"{API}/speech",
        headers=HEADERS,
        json={"text": text, "persona_id": persona["id"], "name": "Greeting"},
        timeout=30,
    ),
    201,
)
check(speech["status"] == "processing", f"new speech is processing: {speech}")
print(f"Requested speech {speech['id']} ({speech['status']})")

speech = poll(
    lambda: expect(requests.get(f"{API}/speech/{speech['id']}", headers=HEADERS, timeout=30), 200),
    done=lambda body: body["status"] != "processing",
    label=f"speech {speech['id']}",
)
check(speech["status"] == "ready", f"the speech failed: {speech.get('error')}")
check(speech["text"] == text, f"the speech says what was sent: {speech['text']!r}")
print(f"Speech {speech['id']} ready at {speech['url']}")
audio = download(speech["url"], magic=b"RIFF", save_as=f"twintone_speech_{speech['id']}.wav")
check(audio[8:12] == b"WAVE", "the audio is a WAV file")

expect(requests.delete(f"{API}/speech/{speech['id']}", headers=HEADERS, timeout=30), 204)
expect(requests.delete(f"{API}/personas/{persona['id']}", headers=HEADERS, timeout=30), 204)
print(f"Deleted speech {speech['id']} and persona {persona['id']} (the saved copy stays)")
