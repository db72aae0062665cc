"""The schema tells the truth: schemathesis, every check on (schemathesis.toml), against `manage.py serve` in
embedded mode, with a fixed seed, must find no server error and no answer the OpenAPI document does not
describe.

By hand, against a server of your own (started with the environment the `server` fixture sets, an empty
API_RATE_LIMIT above all): create the objects `st_objects` makes, export their ST_* variables, then run
`.venv/bin/schemathesis --config-file schemathesis.toml run http://127.0.0.1:8000/api/schema/
-H "Authorization: Bearer $KEY" --checks all --seed 20261206 --max-examples 6`.
"""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.factories import image_base64
from tests.platform.test_make_run import manage
from tests.platform.test_serve import Server, serving

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SEED = 20261206
# Per operation and phase; the whole run takes about a minute and a half on two cores (8 took two: the suite
# must stay under 15 minutes).
MAX_EXAMPLES = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = {
        # Thousands of requests in a few minutes, from one key.
        "API_RATE_LIMIT": "",
        # Generated scripts reach the worker: no job may keep its CPU for long, and a conversation's reply
        # does not wait for its audio.
        "CELERY_TASK_SOFT_TIME_LIMIT": "30", "CELERY_TASK_TIME_LIMIT": "40", "CONVERSATION_AUDIO_WAIT_SECONDS": "1",
        # Configured as production is, so that LoRA training answers with its rules rather than a 503 for the
        # missing provider. No character ever has the 10 training images it needs, so fal is never called;
        # were it called, nothing listens on port 9.
        "FAL_KEY": "ci-placeholder", "FAL_TRAINING_TIMEOUT_SECONDS": "20",
        "FAL_QUEUE_URL": "http://127.0.0.1:9", "FAL_REST_URL": "http://127.0.0.1:9",
    }  # fmt: skip
    with serving(tmp_path_factory.mktemp("schemathesis"), **settings) as server:
        # Agency: no cap on persons, and LoRA training allowed, so requests reach the rules behind them.
        created = manage(server.env, "createapikey", "--email", "ops@example.com", "--plan", "agency")
        server.key = created.splitlines()[-1]
        yield server


def st_objects(server: Server) -> dict[str, str]:
    """The objects schemathesis.toml pins, made through the API: the ones the routes work on, and spares for
    the routes that delete or end something."""

    def post(path: str, status: int, body: dict) -> requests.Response:
        response = server.api("POST", path, json=body)
        assert response.status_code == status, (path, response.status_code, response.text)
        return response

    ids = {}
    replica = ids["ST_REPLICA_ID"] = post("/v1/replicas", 201, {"name": "Ada", "photo": image_base64()}).json()["id"]
    characters = server.api("GET", "/api/v1/characters").json()["characters"]
    character = ids["ST_CHARACTER_ID"] = next(c["id"] for c in characters if c["name"] == "Ada")
    persona = ids["ST_PERSONA_ID"] = post("/v1/personas", 201, {"name": "Narrator", "replica_id": replica}).json()["id"]
    ids["ST_CONVERSATION_ID"] = post("/v1/conversations", 201, {"replica_id": replica}).json()["id"]
    page = {"title": "Sourdough", "content": "Feed the starter with 50 g of flour and 50 g of water every day."}
    stored = post("/persona/api/kb/store-pages", 201, {"instance_id": replica, "pages": [page]})
    ids["ST_DATA_ID"] = stored.json()["page_ids"][0]
    chat_data = {"user_id": "visitor-1", "message": "How do I feed the starter?"}
    chat = post("/persona/api/kb/v2/chat", 200, {"instance_id": replica, "chat_data": chat_data})
    ids["ST_CHAT_ID"] = chat.json()["chat_id"]
    ids["ST_SPEECH_ID"] = post("/v1/speech", 201, {"persona_id": persona, "text": "Hello there."}).json()["id"]
    generation = post(f"/api/v1/characters/{character}/voice/generate", 202, {"text": "Hello there."})
    ids["ST_GENERATION_ID"] = generation.json()["generation"]["id"]
    wav = post(f"/api/v1/characters/{character}/voice/preview", 200, {"text": "Good morning, and welcome."}).content
    sample = {"language": "en", "tone": "calm", "pitch": "medium", "sample_audio": base64.b64encode(wav).decode()}
    voice = post("/persona/api/admin/add_voice", 201, {"instance_id": replica, "voice_data": sample})
    ids["ST_VOICE_ID"] = voice.json()["voice_id"]

    preview = post(f"/api/v1/characters/{character}/talking-head/preview", 202, {"script": "Hi."})
    ids["ST_TALKING_HEAD_ID"] = preview.json()["generation"]["id"]

    for name in ("ST_SPARE_PERSON_ID", "ST_SPARE_REPLICA_ID", "ST_SPARE_INSTANCE_ID"):
        spare = {"name": "Spare", "description": "", "configuration": {}}
        ids[name] = post("/persona/api/instance", 201, {"instance_data": spare}).json()["instance_id"]
    ids["ST_SPARE_PERSONA_ID"] = post("/v1/personas", 201, {"name": "Spare"}).json()["id"]
    ids["ST_SPARE_CONVERSATION_ID"] = post("/v1/conversations", 201, {"replica_id": replica}).json()["id"]
    ids["ST_SPARE_SPEECH_ID"] = post("/v1/speech", 201, {"persona_id": persona, "text": "Goodbye."}).json()["id"]
    for name in ("ST_SPARE_DATA_ID", "ST_SPARE_PAGE_ID"):
        page = {"title": "Spare", "content": "A page to delete."}
        stored = post("/persona/api/kb/store-pages", 201, {"instance_id": replica, "pages": [page]})
        ids[name] = stored.json()["page_ids"][0]
    return ids


def test_schemathesis_finds_no_server_error_and_no_answer_the_schema_does_not_describe(server, tmp_path):
    env = {**os.environ, **st_objects(server)}
    command = [
        str(SCHEMATHESIS), "--no-color", "--config-file", str(ROOT / "schemathesis.toml"),
        "run", f"{server.base}/api/schema/", "--header", f"Authorization: Bearer {server.key}",
        "--checks", "all", "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
    ]  # fmt: skip
    # Its working directory is a temporary one: nothing it writes lands in the repository.
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)

    print(result.stdout + result.stderr)  # pytest shows it when the test fails (and with -rP when it passes)
    assert result.returncode == 0, "schemathesis found failures: its report is in the captured stdout"
    assert "Failures:" not in result.stdout
