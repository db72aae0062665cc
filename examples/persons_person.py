"""twin.actor Persons API: create a person from the sample portrait, list the persons, get the new one.

Follows the seed "Persons API" (twin-actor-persons): `Authorization: Bearer <token>`, paths under
`/api/v1`, `POST /persons` with `name`, `description` and `photo_base64` (a base64 data URL), a bare
JSON array from `GET /persons`, and the Person object from `GET /persons/{id}`.
"""

import base64

import requests
from _client import API_KEY, BASE_URL, PORTRAIT, check, download, expect

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
API = f"{BASE_URL}/api/v1"

photo = "data:image/jpeg;base64," + base64.b64encode(PORTRAIT.read_bytes()).decode()
created = expect(
    requests.post(
        f"{API}/persons",
        headers=HEADERS,
        json={"name": "Alex Chen", "description": "Tech startup founder specializing in AI", "photo_base64": photo},
        timeout=60,
    ),
    201,
)
check(isinstance(created["id"], int), f"the person's id is an integer: {created}")
check(created["name"] == "Alex Chen" and created["has_voice"] is False, f"the person as sent: {created}")
check("photo_base64" not in created, "photo_base64 is input only")
print(f"Created person {created['id']}: {created['name']}, photo at {created['photo_url']}")

persons = expect(requests.get(f"{API}/persons", headers=HEADERS, timeout=30), 200)
check(isinstance(persons, list), f"GET /persons is a bare array: {persons}")
check(created["id"] in [person["id"] for person in persons], "the new person is listed")
print(f"Listed {len(persons)} persons: {', '.join(person['name'] for person in persons)}")

person = expect(requests.get(f"{API}/persons/{created['id']}", headers=HEADERS, timeout=30), 200)
expected_fields = {"id", "name", "description", "photo_url", "has_voice", "voice_provider", "voice_id"}
check(expected_fields <= set(person), f"the Person object's fields: {sorted(person)}")
check(person["description"] == "Tech startup founder specializing in AI", f"description kept: {person}")
photo_file = download(person["photo_url"], magic=b"\xff\xd8\xff")  # the photo, stored as a JPEG
print(f"Got person {person['id']}: has_voice={person['has_voice']}, photo {len(photo_file)} bytes")

expect(requests.delete(f"{API}/persons/{person['id']}", headers=HEADERS, timeout=30), 204)
expect(requests.get(f"{API}/persons/{person['id']}", headers=HEADERS, timeout=30), 404)
print(f"Deleted person {person['id']}")
