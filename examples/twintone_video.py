"""TwinTone: a replica from the sample portrait, a video of it speaking a script, poll, download the MP4.

Follows the seed "TwinTone Video Agent API v1" (twintone-video-agents-v1), sections Replicas and
Videos: the key in `x-api-key`, paths under `/v1`, `POST /videos` with `replica_id`, `script` and
`name`, and `GET /videos/:id` whose `status` goes `processing` -> `ready` with a `url`. The seed lists
`POST /replicas` without a body; this server takes `name` and a `photo` (see docs/DIALECTS.md).
"""

import requests
from _client import API_KEY, BASE_URL, PORTRAIT, check, download, expect, poll

HEADERS = {"x-api-key": API_KEY}
API = f"{BASE_URL}/v1"

with PORTRAIT.open("rb") as photo:
    replica = expect(
        requests.post(
            f"{API}/replicas",
            headers=HEADERS,
            data={"name": "Presenter"},
            files={"photo": ("portrait.jpg", photo, "image/jpeg")},
            timeout=60,
        ),
        201,
    )
check(replica["status"] == "ready", f"a replica with a portrait is ready to animate: {replica}")
print(f"Created replica {replica['id']}: {replica['name']} ({replica['status']})")

script = "Hello! I am a replica made from one photo, and this video was generated from a script."
video = expect(
    requests.post(
        f"{API}/videos",
        headers=HEADERS,
        json={"replica_id": replica["id"], "script": script, "name": "My First Video"},
        timeout=30,
    ),
    201,
)
check(video["status"] == "processing", f"a new video is processing: {video}")
print(f"Requested video {video['id']} ({video['status']})")

video = poll(
    lambda: expect(requests.get(f"{API}/videos/{video['id']}", headers=HEADERS, timeout=30), 200),
    done=lambda body: body["status"] != "processing",
    label=f"video {video['id']}",
    interval=2.0,
)
check(video["status"] == "ready", f"the video failed: {video.get('error')}")
check(video["name"] == "My First Video", f"the video keeps its name: {video}")
print(f"Video {video['id']} ready at {video['url']}")
download(video["url"], magic=b"ftyp", offset=4, save_as=f"twintone_video_{video['id']}.mp4")  # an MP4

videos = expect(requests.get(f"{API}/videos", headers=HEADERS, timeout=30), 200)
check(video["id"] in [item["id"] for item in videos["videos"]], "the video is listed")
check(videos["pagination"]["total"] >= 1, f"pagination counts it: {videos['pagination']}")

expect(requests.delete(f"{API}/videos/{video['id']}", headers=HEADERS, timeout=30), 204)
expect(requests.delete(f"{API}/replicas/{replica['id']}", headers=HEADERS, timeout=30), 204)
print(f"Deleted video {video['id']} and replica {replica['id']} (the saved copy stays)")
