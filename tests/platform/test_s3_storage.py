"""With a bucket configured, media goes to S3 (django-storages) and every URL still answers GET.

Runs against moto's S3 server on 127.0.0.1, which speaks the S3 protocol. The last test plays a
deployment of two machines with no shared disk: the web side here and a Celery worker in its own
process, each with its own MEDIA_ROOT, sharing only the database, the broker and the bucket.
"""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import av
import boto3
import pytest
from django.db import connection
from moto.server import ThreadedMotoServer

from characters.models import Person
from characters.services.persons import person_create
from characters.services.photos import photo_from_bytes
from media_jobs.models import MediaJob
from persona_platform.celery import app as celery_app
from tests import factories

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db

BUCKET = "persona-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_S3_FILE_OVERWRITE = False
    settings.SERVE_MEDIA = False
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_a_person_photo_is_stored_in_the_bucket_and_its_url_answers(s3, s3_endpoint, api_client, media_root):
    response = api_client.post(
        "/api/v1/persons", {"name": "Alex", "photo_base64": factories.image_base64()}, format="json"
    )

    assert response.status_code == 201, response.content
    person = Person.objects.get(pk=response.json()["id"])
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert person.photo.name in keys
    assert not list(media_root.rglob("*.jpg"))  # nothing written locally
    url = response.json()["photo_url"]
    assert url.startswith(f"{s3_endpoint}/{BUCKET}/persons/photos/") and "Signature" in url
    with urllib.request.urlopen(url, timeout=10) as photo:
        assert photo.read()[:2] == b"\xff\xd8"


def test_healthz_checks_the_bucket(s3, client):
    assert client.get("/healthz").json()["storage"] == "ok"


def test_deleting_a_person_deletes_its_photo_from_the_bucket(s3, api_client, django_capture_on_commit_callbacks):
    person_id = api_client.post(
        "/api/v1/persons", {"name": "Alex", "photo_base64": factories.image_base64()}, format="json"
    ).json()["id"]
    name = Person.objects.get(pk=person_id).photo.name

    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/v1/persons/{person_id}").status_code == 204

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert name not in keys


# Two machines, no shared disk


def database_url() -> str:
    """The test database as a URL another process can open (pytest-django's `test_…` database)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_machine(s3, s3_endpoint, settings, tmp_path):
    """A Celery worker in its own process with its own MEDIA_ROOT and VAR_DIR: another machine, as far as
    files go. It shares the database, the broker and the bucket, as a real second machine would."""
    if connection.vendor != "postgresql":
        pytest.skip("a second process needs a shared database server (DATABASE_URL=postgres://...)")
    media_root = tmp_path / "worker-machine" / "media"
    media_root.mkdir(parents=True)
    broker = settings.CELERY_BROKER_URL
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CELERY_"))}
    env.update(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker,
        # A filesystem broker is a folder: the one place the two "machines" must share without a server.
        VAR_DIR=str(settings.VAR_DIR if broker.startswith("filesystem://") else tmp_path / "worker-machine" / "var"),
        MEDIA_ROOT=str(media_root),
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_ENDPOINT_URL=s3_endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        ELEVENLABS_API_KEY="",
        SPEECH_ENGINE="piper",
    )
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "persona_platform", "worker", "--pool", "solo"]
    command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    celery_app.conf.task_always_eager = False  # the web side publishes to the broker, as in production
    try:
        yield {"media_root": media_root, "log": log}
    finally:
        celery_app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.django_db(transaction=True)  # committed rows: the worker reads them over its own connection
def test_a_video_made_by_a_worker_without_the_web_sides_disk_is_read_back_through_the_api(
    s3, s3_endpoint, worker_machine, api_client, workspace, media_root, tmp_path
):
    character = person_create(
        workspace=workspace,
        owner=workspace.owner,
        name="Ada",
        photo=photo_from_bytes(factories.image_bytes(size=(512, 512), portrait=True)),
    )
    assert character.photo.name in [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]

    response = api_client.post(
        f"/api/v1/characters/{character.character_id}/talking-head/preview", {"script": "Hi there!"}, format="json"
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["generation"]["id"]

    deadline = time.monotonic() + 75
    while True:
        generation = api_client.get(f"/api/v1/talking-head/{job_id}").json()["generation"]
        if generation["status"] in {"ready", "failed"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert generation["status"] == "ready", (generation, worker_machine["log"].read_text()[-4000:])

    job = MediaJob.objects.get(pk=int(job_id))
    assert job.result_file.name.startswith("jobs/talking_head/") and job.result_file.name.endswith(".mp4")
    assert job.result_file.name in [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    url = generation["video_url"]
    assert url.startswith(f"{s3_endpoint}/{BUCKET}/{job.result_file.name}?") and "Signature" in url
    video = tmp_path / "downloaded.mp4"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "video/mp4"
        video.write_bytes(answer.read())
    assert video.read_bytes()[4:8] == b"ftyp"
    with av.open(str(video)) as container:
        stream = container.streams.video[0].codec_context
        assert (stream.name, stream.width, stream.height) == ("h264", 256, 256)
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in container.decode(video=0)) == round(generation["duration"] * 25)
    worker_log = worker_machine["log"].read_text()
    assert "media_jobs.job_run[" in worker_log and "succeeded" in worker_log  # the other process made it
    # Neither machine kept a media file on its own disk: the bucket is the only copy.
    assert not [path for path in media_root.rglob("*") if path.is_file()]
    assert not [path for path in worker_machine["media_root"].rglob("*") if path.is_file()]
