"""influgen: a character, the sample portrait as its reference image, a talking-head preview, poll.

Follows the seed "Characters API" (influgen-characters): `Authorization: Bearer <token>`, paths under
`/api/v1`, the body of "Create a character" (without `reference_images` URLs, which the server would
fetch from the internet) answered as `{"character": {...}}` with a `char_` id, "Upload a reference
image" as multipart `file` with `type=primary`, and the talking-head routes
`POST /characters/{id}/talking-head/preview` and `GET /talking-head/{generationId}`, whose bodies the
seed leaves to its Content API (this server's are in docs/DIALECTS.md). Then it deletes the character.
"""

import requests
from _client import API_KEY, BASE_URL, PORTRAIT, check, download, expect, poll

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
API = f"{BASE_URL}/api/v1"

character = expect(
    requests.post(
        f"{API}/characters",
        headers=HEADERS,
        json={
            "name": "Mila Hart",
            "niche": "fitness",
            "appearance": {"age_range": "25-34", "aesthetic": "editorial athleisure"},
            "identity": {"location": "Los Angeles", "occupation": "Pilates coach"},
            "personality": {"tone": "confident"},
            "style": {"presets": ["soft-luxe"]},
            "settings": {"autopilot": False},
            "talking_head_enabled": True,
        },
        timeout=30,
    ),
    201,
)["character"]
check(character["id"].startswith("char_") and character["niche"] == "fitness", f"the character: {character}")
check(character["face_consistency_tier"] == "none", f"no face yet: {character['face_consistency_tier']}")
print(f"Created character {character['id']}: {character['name']}")

with PORTRAIT.open("rb") as image:
    uploaded = expect(
        requests.post(
            f"{API}/characters/{character['id']}/reference-images",
            headers=HEADERS,
            data={"type": "primary"},
            files={"file": ("portrait.jpg", image, "image/jpeg")},
            timeout=60,
        ),
        201,
    )
check(uploaded["reference_image"]["type"] == "primary", f"the reference image: {uploaded['reference_image']}")
character = uploaded["character"]
check(len(character["reference_images"]) == 1, f"one reference image: {character['reference_images']}")
check(character["face_consistency_tier"] == "ip_adapter", f"a face to keep: {character['face_consistency_tier']}")
print(f"Uploaded the portrait as its primary reference image ({character['face_consistency_tier']})")

script = "Hi, I'm Mila. Five minutes of Pilates a day changes everything."
generation = expect(
    requests.post(
        f"{API}/characters/{character['id']}/talking-head/preview", headers=HEADERS, json={"script": script}, timeout=30
    ),
    202,
)["generation"]
check(generation["type"] == "preview" and generation["video_url"] is None, f"a queued preview: {generation}")
print(f"Requested talking-head preview {generation['id']} ({generation['status']})")


def generation_now() -> dict:
    response = requests.get(f"{API}/talking-head/{generation['id']}", headers=HEADERS, timeout=30)
    return expect(response, 200)["generation"]


generation = poll(generation_now, done=lambda body: body["status"] not in ("queued", "processing"), label="preview")
check(generation["status"] == "ready", f"the preview did not finish: {generation['status']} {generation['error']}")
check(generation["character_id"] == character["id"] and generation["script"] == script, f"the preview: {generation}")
size = f"{generation['width']}x{generation['height']}, {generation['duration']} s"
print(f"Preview ready ({size}) at {generation['video_url']}")
download(generation["video_url"], magic=b"ftyp", offset=4, save_as=f"influgen_talking_head_{generation['id']}.mp4")

expect(requests.delete(f"{API}/characters/{character['id']}", headers=HEADERS, timeout=30), 204)
print(f"Deleted character {character['id']}")
