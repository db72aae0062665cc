"""With a bucket configured, media goes to S3 (django-storages) and every URL still answers GET.

Runs against moto's S3 server on 127.0.0.1, which speaks the S3 protocol.
"""

import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from characters.models import Person
from tests import factories

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
