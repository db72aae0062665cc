"""The fal.ai LoRA trainer against a local server that speaks fal's storage and queue protocol."""

import io
import socket
import struct
import zipfile
import zlib

import pytest

from media_jobs.engines import LORA_TRAINER, get_engine
from media_jobs.engines.base import EngineError, EngineUnavailable, LoraTrainingRequest
from media_jobs.engines.lora import fal
from media_jobs.engines.lora.fal import FalLoraTrainer, LoraTrainingResult
from tests.engines.fal_server import TRAINING_APP, FalServer

API_KEY = "fal-key-id:fal-key-secret-0123456789"
STEPS = 1200


@pytest.fixture
def server(settings):
    with FalServer(api_key=API_KEY) as server:
        settings.FAL_KEY = API_KEY
        settings.FAL_QUEUE_URL = server.queue_url
        settings.FAL_REST_URL = server.rest_url
        settings.FAL_PLATFORM_URL = server.platform_url
        settings.FAL_LORA_TRAINING_APP = TRAINING_APP
        settings.FAL_POLL_SECONDS = 0.01
        settings.FAL_TRAINING_TIMEOUT_SECONDS = 30
        settings.ENGINE_TIMEOUT_SECONDS = 5
        yield server


@pytest.fixture
def engine():
    return FalLoraTrainer()


def png(seed: int) -> bytes:
    """A real 2×2 PNG whose pixels differ by seed."""
    rows = b"".join(b"\x00" + bytes((seed, 2 * seed % 256, 3 * seed % 256)) * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64) + b"\xff\xd9"
WEBP = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8L" + bytes(22)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for index in range(3):
        path = folder / f"face-{index}.jpg"
        path.write_bytes(JPEG + bytes([index]))
        paths.append(path)
    (folder / "face-3.png").write_bytes(png(7))
    paths.append(folder / "face-3.png")
    return paths


def train(engine, photos, tmp_path, progress=None, should_stop=None, **overrides):
    values = {
        "images": photos,
        "steps": STEPS,
        "rank": 16,
        "base_model": "fal-ai/flux-lora",
        "trigger_word": "char_ab12cd34",
        "work_dir": tmp_path / "work",
    } | overrides
    return engine.train(LoraTrainingRequest(**values), progress=progress, should_stop=should_stop)


def uploaded_zip(server) -> zipfile.ZipFile:
    ((content_type, data),) = server.uploads.values()
    assert content_type == "application/zip"
    return zipfile.ZipFile(io.BytesIO(data))


def assert_no_key(error: EngineError) -> None:
    assert API_KEY not in str(error)
    assert API_KEY not in repr(error.args)


# -- the happy path -----------------------------------------------------------------------------------------


def test_train_uploads_the_images_submits_polls_and_answers_the_lora(server, engine, photos, tmp_path):
    reported = []

    result = train(engine, photos, tmp_path, progress=reported.append)

    (request_id,) = server.trainings
    files = f"{server.url}/cdn/files/{request_id}"
    assert result == LoraTrainingResult(
        request_id=request_id,
        weights_url=f"{files}/pytorch_lora_weights.safetensors",
        config_url=f"{files}/config.json",
        base_model="fal-ai/flux-lora",
        trigger_word="char_ab12cd34",
        steps=STEPS,
        rank=None,  # the trainer has no rank setting
    )
    polls = 1 + server.queue_polls + server.progress_polls
    assert server.routes() == ["initiate", "upload", "submit"] + ["status"] * polls + ["result"]


def test_the_upload_is_initiated_with_the_key_and_put_without_it(server, engine, photos, tmp_path):
    train(engine, photos, tmp_path)

    initiate, upload = server.requests[:2]
    assert (initiate.method, initiate.path, initiate.query) == (
        "POST",
        "/rest/storage/upload/initiate",
        {"storage_type": "fal-cdn-v3"},
    )
    assert initiate.headers["authorization"] == f"Key {API_KEY}"
    assert initiate.json == {"file_name": "fal-training-images.zip", "content_type": "application/zip"}
    assert upload.method == "PUT"
    assert upload.headers["content-type"] == "application/zip"
    assert "authorization" not in upload.headers  # a signed URL: the key stays with fal's own APIs


def test_the_zip_holds_exactly_the_images_in_order(server, engine, photos, tmp_path):
    train(engine, photos, tmp_path)

    archive = uploaded_zip(server)
    assert archive.namelist() == ["image-01.jpg", "image-02.jpg", "image-03.jpg", "image-04.png"]
    assert [archive.read(name) for name in archive.namelist()] == [path.read_bytes() for path in photos]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())


def test_the_submit_body_points_the_trainer_at_the_uploaded_zip(server, engine, photos, tmp_path):
    train(engine, photos, tmp_path)

    (file_url,) = server.uploads
    submit = server.requests[2]
    assert (submit.method, submit.path) == ("POST", f"/queue/{TRAINING_APP}")
    assert submit.headers["authorization"] == f"Key {API_KEY}"
    assert submit.headers["content-type"] == "application/json"
    assert submit.json == {
        "images_data_url": file_url,
        "trigger_word": "char_ab12cd34",
        "steps": STEPS,
        "create_masks": True,
        "is_style": False,
    }


def test_status_is_polled_with_logs_until_completed(server, engine, photos, tmp_path):
    server.queue_polls, server.progress_polls = 3, 4

    train(engine, photos, tmp_path)

    (training,) = server.trainings.values()
    statuses = [request for request in server.requests if request.route == "status"]
    assert len(statuses) == training.polls == 3 + 4 + 1
    for request in statuses:
        assert request.path == f"/queue/{TRAINING_APP}/requests/{training.request_id}/status"
        assert request.query == {"logs": "1"}
        assert request.headers["authorization"] == f"Key {API_KEY}"
    result = server.requests[-1]
    assert (result.method, result.path) == ("GET", f"/queue/{TRAINING_APP}/requests/{training.request_id}")


def test_progress_climbs_through_queue_and_training_logs_to_one(server, engine, photos, tmp_path):
    server.queue_polls, server.progress_polls = 3, 3
    reported = []

    train(engine, photos, tmp_path, progress=reported.append)

    assert reported == sorted(set(reported))  # strictly rising
    assert reported[0] == pytest.approx(fal.UPLOADED)
    assert reported[-1] == 1.0
    # Queue positions 2, 1, 0 move it towards QUEUED; the step counters 300/1200 … 900/1200 fill the training span.
    assert fal.QUEUED in reported
    span = fal.TRAINED - fal.QUEUED
    for done in (0.25, 0.5, 0.75):
        assert fal.QUEUED + span * done == pytest.approx(next(v for v in reported if v >= fal.QUEUED + span * done))
    assert fal.TRAINED in reported


def test_only_image_files_go_into_the_zip_recognised_by_their_bytes(server, engine, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.jpeg").write_bytes(JPEG)
    (folder / "caption.txt").write_text("a photo of char_x")
    (folder / "b.jpg").write_bytes(b"not a picture at all")
    (folder / "c.bin").write_bytes(png(3))
    (folder / "d.webp").write_bytes(WEBP)
    images = sorted(folder.iterdir())

    train(engine, images, tmp_path)

    archive = uploaded_zip(server)
    assert archive.namelist() == ["image-01.jpg", "image-02.png", "image-03.webp"]
    assert archive.read("image-02.png") == png(3)


def test_the_same_images_give_the_same_zip(tmp_path, photos):
    first = fal.zip_images(photos, tmp_path / "one" / "a.zip").read_bytes()
    second = fal.zip_images(photos, tmp_path / "two" / "b.zip").read_bytes()

    assert first == second


def test_a_status_url_off_the_configured_queue_is_not_followed(server, engine, photos, tmp_path):
    server.foreign_urls = True

    result = train(engine, photos, tmp_path)

    assert result.weights_url.endswith("/pytorch_lora_weights.safetensors")
    assert all(request.path.startswith(("/rest/", "/cdn/", "/queue/")) for request in server.requests)
    assert server.routes()[-1] == "result"


# -- refusals before any request ----------------------------------------------------------------------------


def test_a_missing_key_makes_the_engine_unavailable(server, engine, photos, tmp_path, settings):
    settings.FAL_KEY = ""

    with pytest.raises(EngineUnavailable, match="FAL_KEY"):
        train(engine, photos, tmp_path)
    assert server.requests == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": 0}, "steps"),
        ({"rank": 0}, "rank"),
        ({"steps": True}, "steps"),
        ({"trigger_word": "  "}, "trigger word"),
        ({"base_model": ""}, "base_model"),
        ({"images": []}, "no JPEG, PNG or WebP"),
    ],
)
def test_bad_arguments_are_refused_without_a_request(server, engine, photos, tmp_path, overrides, message):
    with pytest.raises(EngineError, match=message) as caught:
        train(engine, photos, tmp_path, **overrides)

    assert caught.value.retryable is False
    assert server.requests == []


def test_a_missing_image_is_refused_by_name(server, engine, photos, tmp_path):
    with pytest.raises(EngineError, match="gone.jpg"):
        train(engine, [*photos, tmp_path / "gone.jpg"], tmp_path)
    assert server.requests == []


# -- provider errors ----------------------------------------------------------------------------------------


def test_a_wrong_key_is_not_retryable_says_so_and_is_never_shown(server, engine, photos, tmp_path, settings):
    settings.FAL_KEY = "wrong-id:wrong-secret-987654321"

    with pytest.raises(EngineError) as caught:
        train(engine, photos, tmp_path)

    assert caught.value.retryable is False
    assert "401" in str(caught.value) and "FAL_KEY is wrong" in str(caught.value)
    assert "No user found for Key ID and Secret" in str(caught.value)
    assert "wrong-secret-987654321" not in str(caught.value)
    assert server.routes() == ["initiate"]


def test_input_the_trainer_refuses_passes_its_message_through(server, engine, photos, tmp_path):
    with pytest.raises(EngineError) as caught:
        train(engine, photos, tmp_path, steps=20000)

    assert caught.value.retryable is False
    assert "422" in str(caught.value)
    assert "steps: ensure this value is less than or equal to 10000" in str(caught.value)
    assert "cancel" not in server.routes()  # it finished: there is nothing to cancel
    assert_no_key(caught.value)


def test_a_422_at_submit_passes_the_field_through(server, engine, photos, tmp_path):
    server.fail_next(422, route="submit")

    with pytest.raises(EngineError, match="images_data_url: field required") as caught:
        train(engine, photos, tmp_path)
    assert caught.value.retryable is False


def test_a_locked_account_is_not_retryable(server, engine, photos, tmp_path):
    server.fail_next(403, route="submit")

    with pytest.raises(EngineError, match="Exhausted balance") as caught:
        train(engine, photos, tmp_path)
    assert caught.value.retryable is False


@pytest.mark.parametrize("route", ["initiate", "upload", "submit"])
@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retryable(server, engine, photos, tmp_path, route, status):
    server.fail_next(status, route=route)

    with pytest.raises(EngineError) as caught:
        train(engine, photos, tmp_path)

    assert caught.value.retryable is True
    assert str(status) in str(caught.value)
    assert server.trainings == {} or route != "submit"
    assert_no_key(caught.value)


@pytest.mark.parametrize("status", [408, 409, 502])
def test_conflicts_and_timeouts_are_retryable_as_at_every_provider(server, engine, photos, tmp_path, status):
    server.fail_next(status, {"detail": "The app is being redeployed."}, route="submit")

    with pytest.raises(EngineError, match="The app is being redeployed") as caught:
        train(engine, photos, tmp_path)

    assert caught.value.retryable is True
    assert f"fal answered {status}" in str(caught.value)


def test_a_conflict_while_polling_is_retried_in_place(server, engine, photos, tmp_path):
    server.fail_next(409, {"detail": "Status is being updated."}, route="status")

    assert train(engine, photos, tmp_path).weights_url
    assert len(server.trainings) == 1


def test_429_carries_the_provider_message(server, engine, photos, tmp_path):
    server.fail_next(429, route="submit")

    with pytest.raises(EngineError, match="concurrent request limit") as caught:
        train(engine, photos, tmp_path)
    assert caught.value.retryable is True


def test_a_slow_provider_times_out_as_retryable(server, engine, photos, tmp_path, settings):
    settings.ENGINE_TIMEOUT_SECONDS = 0.2
    server.delay_next(5, route="submit")

    with pytest.raises(EngineError, match="timed out") as caught:
        train(engine, photos, tmp_path)

    assert caught.value.retryable is True
    assert_no_key(caught.value)


def test_an_unreachable_provider_is_retryable(engine, photos, tmp_path, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.FAL_KEY = API_KEY
    settings.FAL_REST_URL = f"http://127.0.0.1:{port}/rest"
    settings.FAL_QUEUE_URL = f"http://127.0.0.1:{port}/queue"

    with pytest.raises(EngineError, match="could not reach fal") as caught:
        train(engine, photos, tmp_path)
    assert caught.value.retryable is True


def test_passing_failures_while_polling_are_retried_in_place(server, engine, photos, tmp_path):
    server.fail_next(503, route="status")
    server.fail_next(429, route="status")
    server.fail_next(502, route="result")

    result = train(engine, photos, tmp_path)

    assert result.weights_url
    assert len(server.trainings) == 1  # trained once
    assert "cancel" not in server.routes()


def test_lasting_failures_while_polling_cancel_the_training(server, engine, photos, tmp_path):
    for _ in range(fal.MAX_POLL_FAILURES + 1):
        server.fail_next(503, route="status")

    with pytest.raises(EngineError, match="503") as caught:
        train(engine, photos, tmp_path)

    assert caught.value.retryable is True
    assert server.routes()[-1] == "cancel"
    (training,) = server.trainings.values()
    assert training.canceled


def test_a_result_without_weights_is_retryable(server, engine, photos, tmp_path):
    server.result_override = {"config_file": {"url": f"{server.url}/cdn/files/x/config.json"}}

    with pytest.raises(EngineError, match="diffusers_lora_file") as caught:
        train(engine, photos, tmp_path)
    assert caught.value.retryable is True


# -- stopping -----------------------------------------------------------------------------------------------


def test_should_stop_cancels_the_request_at_fal(server, engine, photos, tmp_path):
    server.queue_polls, server.progress_polls = 2, 50
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(EngineError) as caught:
        train(engine, photos, tmp_path, should_stop=should_stop)

    assert str(caught.value) == "Canceled"
    assert caught.value.retryable is False
    cancel = server.requests[-1]
    (training,) = server.trainings.values()
    assert (cancel.method, cancel.path) == ("PUT", f"/queue/{TRAINING_APP}/requests/{training.request_id}/cancel")
    assert cancel.headers["authorization"] == f"Key {API_KEY}"
    assert training.canceled
    assert "result" not in server.routes()


def test_should_stop_before_submitting_sends_nothing_to_the_queue(server, engine, photos, tmp_path):
    with pytest.raises(EngineError, match="^Canceled$"):
        train(engine, photos, tmp_path, should_stop=lambda: True)

    assert "submit" not in server.routes()
    assert server.trainings == {}


def test_the_overall_deadline_cancels_and_is_retryable(server, engine, photos, tmp_path, settings):
    settings.FAL_TRAINING_TIMEOUT_SECONDS = 0.3
    server.queue_polls = 10_000

    with pytest.raises(EngineError, match="did not finish within 0.3 s") as caught:
        train(engine, photos, tmp_path)

    assert caught.value.retryable is True
    assert server.routes()[-1] == "cancel"
    (training,) = server.trainings.values()
    assert training.canceled


def test_polling_backs_off_up_to_four_times_the_interval(server, engine, photos, tmp_path, monkeypatch):
    server.queue_polls, server.progress_polls = 6, 0
    sleeps = []
    monkeypatch.setattr(fal.time, "sleep", sleeps.append)

    train(engine, photos, tmp_path)

    assert sleeps == pytest.approx([0.01, 0.015, 0.0225, 0.03375, 0.04, 0.04])


# -- registry -----------------------------------------------------------------------------------------------


def test_the_registry_names_this_engine(settings):
    settings.ENGINES = {**settings.ENGINES, "lora": "fal"}

    assert isinstance(get_engine(LORA_TRAINER), FalLoraTrainer)
    assert FalLoraTrainer.name == "fal"


# -- deleting a trained LoRA at fal -----------------------------------------------------------------------------


def test_delete_outputs_deletes_the_trainings_files_at_fal_with_the_key(server, engine, photos, tmp_path):
    result = train(engine, photos, tmp_path)

    deleted = engine.delete_outputs(request_id=result.request_id)

    assert deleted == [result.weights_url, result.config_url]
    [request] = [request for request in server.requests if request.route == "payloads"]
    assert (request.method, request.path) == ("DELETE", f"/platform/models/requests/{result.request_id}/payloads")
    assert request.headers["authorization"] == f"Key {API_KEY}"
    assert server.trainings[result.request_id].deleted
    # Deleted already, or never known: nothing is left to delete.
    assert engine.delete_outputs(request_id=result.request_id) == []
    assert engine.delete_outputs(request_id="no-such-request") == []


def test_a_file_fal_could_not_delete_is_a_retryable_error(server, engine, photos, tmp_path):
    result = train(engine, photos, tmp_path)
    failure = {"cdn_delete_results": [{"link": "https://v3.fal.media/files/x/w.safetensors", "exception": "boom"}]}
    server.fail_next(200, failure, route="payloads")

    with pytest.raises(EngineError) as caught:
        engine.delete_outputs(request_id=result.request_id)

    assert caught.value.retryable and "https://v3.fal.media/files/x/w.safetensors" in str(caught.value)


def test_deleting_without_a_key_is_unavailable(server, engine, settings):
    settings.FAL_KEY = ""

    with pytest.raises(EngineUnavailable):
        engine.delete_outputs(request_id="req-1")
    assert "payloads" not in server.routes()
