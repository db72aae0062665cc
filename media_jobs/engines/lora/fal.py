"""Identity LoRA training on fal.ai: the photos go up as one zip, a queued training request comes back as weights.

The protocol, as fal documents it and as its own clients speak it:

* Storage (the fal SDK's `FalFileRepositoryV3.save`, fal-js `storage.ts`): `POST {FAL_REST_URL}/storage/upload/
  initiate?storage_type=fal-cdn-v3` with `{"file_name", "content_type"}` answers `{"upload_url", "file_url"}`. The
  bytes are PUT to `upload_url`, a signed URL, so the key is not sent there; the trainer downloads `file_url`.
* Queue (fal docs, "Queue API"): `POST {FAL_QUEUE_URL}/{app}` with the input as the JSON body answers `request_id`,
  `status_url`, `response_url` and `cancel_url`. `GET status_url?logs=1` says IN_QUEUE (with `queue_position`),
  IN_PROGRESS or COMPLETED (with `logs`); `GET response_url` answers the result, or the app's error with its status
  code; `PUT cancel_url` cancels.
* Platform API ("Delete request payloads"): `DELETE {FAL_PLATFORM_URL}/models/requests/{request_id}/payloads`
  deletes a finished request's stored input and output and the CDN files of its output (the LoRA weights and
  config), answering `{"cdn_delete_results": [{"link", "exception"}]}`. fal keeps the uploaded input zip: its docs
  say input files may serve other requests.
* Trainer (`fal-ai/flux-lora-fast-training`): input `images_data_url` (a zip of images), `trigger_word`, `steps`,
  `create_masks`, `is_style`; output `diffusers_lora_file` and `config_file`, each `{url, content_type, ...}`.

Decisions callers can rely on:

* The zip holds only JPEG, PNG and WebP files, recognised by their bytes rather than their names, stored as
  `image-01.jpg`, `image-02.png`, … in the order given with fixed timestamps, so the same photos give the same zip.
* `create_masks` is on (the trainer weights the loss with a face mask) and `is_style` off: this trains an identity.
* The trainer's documented input has no rank setting, so `rank` is checked but not sent, and the result's `rank`
  is None: the trainer chose it. `base_model` is recorded as given: it names the inference app that uses the LoRA.
* The status is polled every FAL_POLL_SECONDS, stretching to four times that, until FAL_TRAINING_TIMEOUT_SECONDS
  have passed since `train()` began; then the request is canceled and a retryable EngineError raised.
* A retryable failure (media_jobs.engines.http: a timeout, 409, 429 or 5xx) while polling or fetching the result
  is retried in place, MAX_POLL_FAILURES in a row at most, waiting at least as long as a Retry-After says: the
  training is already paid for, and failing the job would train it twice.
* Once submitted, every way out except a finished request cancels it (best effort), so nothing trains unwatched.
* Settings are read at call time, so tests and deployments can change them without re-importing.
"""

import re
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeGuard
from urllib.parse import quote

import requests
from django.conf import settings

from media_jobs.engines.base import (
    EngineError,
    EngineUnavailable,
    LoraTrainingRequest,
    LoraTrainingResult,
    Progress,
    ShouldStop,
)
from media_jobs.engines.http import ProviderClient, json_object, required_key
from media_jobs.engines.media_types import IMAGE_EXTENSIONS, media_type_of

PROVIDER = "fal"
STORAGE_TYPE = "fal-cdn-v3"
ZIP_NAME = "fal-training-images.zip"
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no clock in the archive
MAX_POLL_FAILURES = 5
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After while polling is waited out in steps of this
BACKOFF, MAX_BACKOFF = 1.5, 4.0  # each poll waits 1.5× longer, up to 4× FAL_POLL_SECONDS
# Progress: the upload is done at UPLOADED, the queue ends at QUEUED, training fills the span up to TRAINED.
UPLOADED, QUEUED, TRAINED = 0.05, 0.10, 0.95
# The trainer logs a step counter as tqdm prints it ("Training:  40%|████      | 400/1000 [...]").
STEP_COUNTER = re.compile(r"(?<![\d.])(\d+)\s*/\s*(\d+)(?![\d.])")


@dataclass(frozen=True)
class _Request:
    request_id: str
    status_url: str
    response_url: str
    cancel_url: str


class FalLoraTrainer:
    """Flux LoRA training on fal.ai's queue; the key is read from FAL_KEY when `train` is called."""

    name: ClassVar[str] = "fal"

    def require_configured(self) -> None:
        """EngineUnavailable unless a key is set: checked before anyone is charged."""
        _api_key()

    def train(
        self, request: LoraTrainingRequest, *, progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> LoraTrainingResult:
        """Train a LoRA on the request's images and answer where fal stored it."""
        _api_key()
        started = time.monotonic()
        steps, trigger_word, base_model = request.steps, request.trigger_word, request.base_model
        _check_positive("steps", steps)
        _check_positive("rank", request.rank)
        if not isinstance(trigger_word, str) or not trigger_word.strip():
            raise EngineError("A LoRA needs a trigger word to be called up with.")
        if not isinstance(base_model, str) or not base_model.strip():
            raise EngineError("Which base model is the LoRA for? base_model is empty.")
        report = _Progress(progress)
        stop = should_stop or (lambda: False)

        archive = zip_images(request.images, Path(request.work_dir) / ZIP_NAME)
        if stop():
            raise EngineError("Canceled")
        file_url = self._upload(archive, content_type="application/zip")
        report(UPLOADED)
        if stop():
            raise EngineError("Canceled")

        queued = self._submit(
            {
                "images_data_url": file_url,
                "trigger_word": trigger_word,
                "steps": steps,
                "create_masks": True,
                "is_style": False,
            }
        )
        finished = False
        try:
            deadline = started + float(settings.FAL_TRAINING_TIMEOUT_SECONDS)
            self._wait(queued, steps=steps, deadline=deadline, report=report, stop=stop)
            finished = True
            payload = self._result(queued)
        except BaseException:
            # Anything but a finished request (cancellation, deadline, a worker's time limit) stops it at fal.
            if not finished:
                self._cancel_quietly(queued)
            raise
        result = LoraTrainingResult(
            request_id=queued.request_id,
            weights_url=_file_url(payload, "diffusers_lora_file"),
            config_url=_file_url(payload, "config_file"),
            base_model=base_model,
            trigger_word=trigger_word,
            steps=steps,
            rank=None,
        )
        report(1.0)
        return result

    # -- the three steps ------------------------------------------------------------------------------------

    def _upload(self, archive: Path, *, content_type: str) -> str:
        """Initiate an upload, PUT the bytes to the signed URL it gives, answer the URL the trainer reads."""
        answer = self._fetch(
            "POST",
            f"{_rest_url()}/storage/upload/initiate",
            what="Starting the upload",
            params={"storage_type": STORAGE_TYPE},
            json={"file_name": archive.name, "content_type": content_type},
        )
        upload_url, file_url = answer.get("upload_url"), answer.get("file_url")
        if not _is_http_url(upload_url) or not _is_http_url(file_url):
            raise EngineError("fal did not answer an upload_url and a file_url for the upload.", retryable=True)
        with archive.open("rb") as data:
            # A signed URL: it needs no key, and may belong to another host.
            headers = {"Content-Type": content_type}
            self._call("PUT", upload_url, what="Uploading the training images", key=False, data=data, headers=headers)
        return file_url

    def _submit(self, arguments: dict[str, Any]) -> _Request:
        app = _training_app()
        answer = self._fetch("POST", f"{_queue_url()}/{app}", what="Submitting the training", json=arguments)
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise EngineError("fal did not answer a request_id for the training.", retryable=True)
        # The queue answers the URLs to use (for apps with a sub-path they differ from the submit URL). They carry
        # the key, so one that leaves the configured queue is replaced by the URL fal_client would build.
        base = f"{_queue_url()}/{'/'.join(app.split('/')[:2])}/requests/{quote(request_id, safe='')}"
        return _Request(
            request_id=request_id,
            status_url=_on_queue(answer.get("status_url"), base + "/status"),
            response_url=_on_queue(answer.get("response_url"), base),
            cancel_url=_on_queue(answer.get("cancel_url"), base + "/cancel"),
        )

    def _wait(self, request: _Request, *, steps: int, deadline: float, report: "_Progress", stop: ShouldStop) -> None:
        """Poll until the request is COMPLETED; raise on cancellation, the deadline or lasting failures."""
        interval = base = max(float(settings.FAL_POLL_SECONDS), 0.01)
        failures = 0
        while True:
            if stop():
                raise EngineError("Canceled")
            if time.monotonic() >= deadline:
                limit = float(settings.FAL_TRAINING_TIMEOUT_SECONDS)
                raise EngineError(
                    f"The LoRA training did not finish within {limit:g} s at fal; it was canceled.", retryable=True
                )
            pause = interval
            try:
                answer = self._fetch("GET", request.status_url, what="Checking the training", params={"logs": "1"})
            except EngineError as exc:
                failures += 1
                if not exc.retryable or failures > MAX_POLL_FAILURES:
                    raise
                pause = max(interval, min(exc.retry_after or 0.0, MAX_RETRY_AFTER))
            else:
                failures = 0
                status = answer.get("status")
                if status == "COMPLETED":
                    report(TRAINED)
                    return
                if status == "IN_QUEUE":
                    position = answer.get("queue_position")
                    position = position if isinstance(position, int) and position >= 0 else 0
                    report(UPLOADED + (QUEUED - UPLOADED) / (1 + position))
                elif status == "IN_PROGRESS":
                    report(QUEUED)
                    done = _training_fraction(answer.get("logs"), steps)
                    if done is not None:
                        report(QUEUED + (TRAINED - QUEUED) * done)
                else:
                    raise EngineError(f"fal answered an unknown status {status!r} for the training.", retryable=True)
            time.sleep(max(min(pause, deadline - time.monotonic()), 0.0))
            interval = min(interval * BACKOFF, base * MAX_BACKOFF)

    def _result(self, request: _Request) -> dict[str, Any]:
        """The finished request's output; transient failures are retried here, as a new job would train again."""
        failures = 0
        while True:
            try:
                return self._fetch("GET", request.response_url, what="Fetching the trained LoRA")
            except EngineError as exc:
                failures += 1
                if not exc.retryable or failures > MAX_POLL_FAILURES:
                    raise
                time.sleep(max(float(settings.FAL_POLL_SECONDS), 0.01, min(exc.retry_after or 0.0, MAX_RETRY_AFTER)))

    def delete_outputs(self, *, request_id: str) -> list[str]:
        """Delete a finished training's stored payloads and output files (the weights) at fal; answer the links
        fal deleted. A request fal no longer knows (404) has nothing left to delete. A file fal could not
        delete is an EngineError naming it, so the caller can say so or try again."""
        if not request_id.strip():
            raise EngineError("Which fal request? The request id is empty.")
        url = f"{_platform_url()}/models/requests/{quote(request_id, safe='')}/payloads"
        response = self._call("DELETE", url, what="Deleting the LoRA at fal", ok=(404,))
        if response.status_code == 404:
            return []
        results = json_object(response, provider=PROVIDER).get("cdn_delete_results") or []
        failed = [r.get("link") for r in results if isinstance(r, dict) and r.get("exception")]
        if failed:
            raise EngineError(f"fal could not delete {', '.join(map(str, failed))}.", retryable=True)
        return [str(r.get("link")) for r in results if isinstance(r, dict)]

    def _cancel_quietly(self, request: _Request) -> None:
        """Best effort: the request may have finished or gone already, and the caller's error matters more."""
        try:
            self._call("PUT", request.cancel_url, what="Canceling the training")
        except EngineError:
            pass

    # -- HTTP -----------------------------------------------------------------------------------------------

    def _call(self, method: str, url: str, *, what: str, key: bool = True, **kwargs: Any) -> requests.Response:
        """One request; `key=False` for the signed upload URL, which needs none and may belong to another host."""
        api_key = _api_key()
        client = ProviderClient(
            provider=PROVIDER,
            api_key=api_key,
            key_setting="FAL_KEY",
            auth_headers={"Authorization": f"Key {api_key}"},
            timeout=float(settings.ENGINE_TIMEOUT_SECONDS),
        )
        return client.request(method, url, what=what, authorize=key, **kwargs)

    def _fetch(self, method: str, url: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        """One request whose answer is a JSON object."""
        return json_object(self._call(method, url, what=what, **kwargs), provider=PROVIDER)


# -- the archive --------------------------------------------------------------------------------------------


def zip_images(images: Sequence[Path], path: Path) -> Path:
    """Write the image files among `images` into a zip at `path`, named by position and kind; answer `path`."""
    entries = []
    for image in images:
        image = Path(image)
        if not image.is_file():
            raise EngineError(f"The training image {image.name} is missing.")
        data = image.read_bytes()
        if extension := IMAGE_EXTENSIONS.get(media_type_of(data[:16]) or ""):
            entries.append((extension, data))
    if not entries:
        raise EngineError("There are no JPEG, PNG or WebP images to train the LoRA on.")
    path.parent.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(len(entries))))
    with zipfile.ZipFile(path, "w") as archive:
        for index, (extension, data) in enumerate(entries, start=1):
            info = zipfile.ZipInfo(f"image-{index:0{width}d}.{extension}", date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_STORED  # photos are compressed already
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


# -- settings and answers -----------------------------------------------------------------------------------


def _api_key() -> str:
    return required_key("FAL_KEY", service="fal.ai")


def _queue_url() -> str:
    return str(settings.FAL_QUEUE_URL).rstrip("/")


def _rest_url() -> str:
    return str(settings.FAL_REST_URL).rstrip("/")


def _platform_url() -> str:
    return str(settings.FAL_PLATFORM_URL).rstrip("/")


def _training_app() -> str:
    app = str(settings.FAL_LORA_TRAINING_APP).strip("/")
    if len(app.split("/")) < 2:
        raise EngineUnavailable("FAL_LORA_TRAINING_APP must be an app id such as fal-ai/flux-lora-fast-training.")
    return app


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EngineError(f"{name} must be a positive whole number, not {value!r}.")


def _is_http_url(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _on_queue(url: object, fallback: str) -> str:
    return url if isinstance(url, str) and url.startswith(_queue_url() + "/") else fallback


def _file_url(payload: dict[str, Any], field: str) -> str:
    file = payload.get(field)
    url = file.get("url") if isinstance(file, dict) else None
    if not _is_http_url(url):
        raise EngineError(f"fal finished the training without a {field} URL.", retryable=True)
    return url


def _training_fraction(logs: object, steps: int) -> float | None:
    """How far training got, from the latest "done/steps" counter in the logs; None before the first one."""
    for entry in reversed(logs if isinstance(logs, list) else []):
        message = entry.get("message") if isinstance(entry, dict) else None
        if not isinstance(message, str):
            continue
        for done, total in reversed(STEP_COUNTER.findall(message)):
            if int(total) == steps and int(done) <= steps:
                return int(done) / steps
    return None


class _Progress:
    """Reports only forward steps, clamped to 0..1, so a caller's progress bar never jumps back."""

    def __init__(self, callback: Progress | None):
        self.callback, self.value = callback, 0.0

    def __call__(self, value: float) -> None:
        value = min(max(value, 0.0), 1.0)
        if self.callback is not None and value > self.value:
            self.value = value
            self.callback(value)
