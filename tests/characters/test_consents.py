"""Consent end to end: the phrase, the recording, the verification job with the real recognizer, speaker
and face models, revocation, and the workspace's policy.

The persona is the public-domain test portrait with a local voice clone whose samples are Piper's voice;
its consent recordings are Piper reading the phrase, and for a face, that portrait speaking it (the
local talking-head renderer). Celery runs eagerly: a job runs when its transaction commits.
"""

import base64
import io
import subprocess
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from accounts.models import ConsentPolicy, User
from characters.models import Consent, Voice
from characters.services.consent_checks import VOICE_SIMILARITY_MIN, speaker_embedding
from characters.services.faces import image_rgb
from characters.services.media import speech_start
from media_jobs.engines.audio import run_ffmpeg
from media_jobs.engines.base import SpeechVideoRequest, VoiceProfile
from media_jobs.engines.speech.piper import PiperSpeech
from media_jobs.engines.talking_head import LocalTalkingHead
from media_jobs.models import MediaJob
from tests import factories
from tests.helpers import assert_vendor_error, wav_bytes

SAMPLE_TEXT = "Good afternoon, and thank you for calling. We will answer your question as soon as we can."


def speak(text: str, out_dir, *, pitch: float = 0.0):
    return PiperSpeech().synthesize(text=text, voice=VoiceProfile(pitch_semitones=pitch), out_dir=out_dir)


@pytest.fixture
def person(workspace, tmp_path):
    """A persona with a photo and a local clone of Piper's voice (its samples' embedding, as a clone keeps it)."""
    person = factories.person_create(workspace=workspace, name="Ada")
    sample = speak(SAMPLE_TEXT, tmp_path)
    voice = Voice.objects.create(
        workspace=workspace,
        person=person,
        name="Ada's voice",
        provider=Voice.Provider.LOCAL,
        provider_voice_id="local_ada",
        measurements={"embedding": speaker_embedding(sample.path)},
    )
    person.voice = voice
    person.save(update_fields=["voice"])
    return person


@pytest.fixture
def known_phrase(monkeypatch):
    """One phrase for the tests that expect a recording to pass: which random phrase a small recognizer
    mishears one word of is chance (docs/CONSENT.md); the phrases themselves are tested above."""
    phrase = "Happy sailors paint seven bridges near the harbor every morning."
    monkeypatch.setattr("characters.services.consents.challenge_phrase", lambda: phrase)
    return phrase


def request_consent(api_client, person, kind: str) -> dict:
    response = api_client.post("/api/v1/consents", {"person_id": person.pk, "kind": kind}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def send_evidence(api_client, consent_id: int, data: bytes, capture, *, as_json: bool = False):
    with capture(execute=True):
        if as_json:
            body = {"file": base64.b64encode(data).decode()}
            return api_client.post(f"/api/v1/consents/{consent_id}/evidence", body, format="json")
        upload = io.BytesIO(data)
        upload.name = "evidence.bin"
        return api_client.post(f"/api/v1/consents/{consent_id}/evidence", {"file": upload}, format="multipart")


def talking_video(photo: np.ndarray, text: str, out_dir, *, still: bool = False) -> bytes:
    """The photo speaking the text (or, `still`, the unmoving photo over the same speech) as an MP4."""
    speech = speak(text, out_dir)
    out = out_dir / "evidence.mp4"
    if still:
        frame = out_dir / "still.png"
        Image.fromarray(photo).save(frame)
        run_ffmpeg(["-loop", "1", "-i", str(frame), "-i", str(speech.path), "-shortest", "-r", "25",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)])  # fmt: skip
    else:
        request = SpeechVideoRequest(photo=photo, audio=speech.path, phonemes=speech.phonemes, out_path=out)
        LocalTalkingHead().render_speech(request)
    return out.read_bytes()


def person_photo(person) -> np.ndarray:
    with person.photo.open("rb") as handle:
        return image_rgb(handle.read())


# -- asking -------------------------------------------------------------------------------------------------


def test_a_consent_starts_with_a_fresh_phrase_valid_for_a_day(api_client, person):
    before = timezone.now()
    first = request_consent(api_client, person, "voice")
    second = request_consent(api_client, person, "voice")
    assert first["person_id"] == person.pk
    assert first["kind"] == "voice"
    assert first["status"] == "awaiting_evidence"
    assert first["has_evidence"] is False and first["reasons"] == [] and first["job_id"] is None
    assert len(first["phrase"].split()) >= 6
    assert first["phrase"] != second["phrase"]
    expires = Consent.objects.get(pk=first["id"]).phrase_expires_at
    assert timedelta(hours=23, minutes=59) < expires - before <= timedelta(hours=24, seconds=5)
    shown = api_client.get(f"/api/v1/consents/{first['id']}").json()
    assert shown["phrase"] == first["phrase"]
    listed = api_client.get(f"/api/v1/persons/{person.pk}/consents").json()
    assert [c["id"] for c in listed["consents"]] == [second["id"], first["id"]]
    assert listed["pagination"]["total"] == 2


def test_any_dialects_id_names_the_persona_and_another_workspaces_is_404(api_client, other_client, person):
    by_character_id = api_client.post(
        "/api/v1/consents", {"person_id": f"char_{person.ulid}", "kind": "face"}, format="json"
    )
    assert by_character_id.status_code == 201
    assert by_character_id.json()["person_id"] == person.pk
    by_string = api_client.post("/api/v1/consents", {"person_id": str(person.pk), "kind": "both"}, format="json")
    assert by_string.status_code == 201
    response = other_client.post("/api/v1/consents", {"person_id": person.pk, "kind": "voice"}, format="json")
    assert_vendor_error(response, 404, "NotFound", "person_id")
    assert other_client.get(f"/api/v1/consents/{by_string.json()['id']}").status_code == 404
    assert other_client.get(f"/api/v1/persons/{person.pk}/consents").status_code == 404
    bad_kind = api_client.post("/api/v1/consents", {"person_id": person.pk, "kind": "soul"}, format="json")
    assert bad_kind.status_code in (400, 422)


def test_the_demo_person_takes_no_consent(api_client, workspace):
    demo = workspace.persons.get(is_demo=True)
    response = api_client.post("/api/v1/consents", {"person_id": demo.pk, "kind": "voice"}, format="json")
    assert_vendor_error(response, 403, "Forbidden")


# -- the voice --------------------------------------------------------------------------------------------------


def test_the_right_phrase_in_the_right_voice_is_verified(
    api_client, person, known_phrase, tmp_path, django_capture_on_commit_callbacks
):
    consent = request_consent(api_client, person, "voice")
    recording = speak(consent["phrase"], tmp_path).path.read_bytes()
    response = send_evidence(api_client, consent["id"], recording, django_capture_on_commit_callbacks, as_json=True)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "verifying"
    shown = api_client.get(f"/api/v1/consents/{consent['id']}").json()
    assert shown["status"] == "verified", shown["reasons"]
    assert shown["reasons"] == []
    assert shown["has_evidence"] is True
    measured = shown["measurements"]
    assert measured["words_matched"] >= 0.9
    assert measured["voice_similarity"] >= VOICE_SIMILARITY_MIN
    assert "speaker_embedding" not in measured
    assert MediaJob.objects.get(pk=shown["job_id"]).kind == "consent_verification"
    again = send_evidence(api_client, consent["id"], recording, django_capture_on_commit_callbacks)
    assert_vendor_error(again, 409, "Conflict", "already used")


def test_the_wrong_phrase_is_rejected_with_what_was_heard(
    api_client, person, tmp_path, django_capture_on_commit_callbacks
):
    consent = request_consent(api_client, person, "voice")
    recording = speak("I never agreed to any of this, please delete my data.", tmp_path).path.read_bytes()
    send_evidence(api_client, consent["id"], recording, django_capture_on_commit_callbacks)
    shown = api_client.get(f"/api/v1/consents/{consent['id']}").json()
    assert shown["status"] == "rejected"
    assert len(shown["reasons"]) == 1
    assert "does not say the phrase" in shown["reasons"][0]
    assert shown["measurements"]["words_matched"] < 0.5


def test_the_right_phrase_in_another_voice_is_rejected(
    api_client, person, tmp_path, known_phrase, django_capture_on_commit_callbacks
):
    """Another speaker: flite's "slt" voice (installed by .ci/run) reads the right phrase."""
    recording = tmp_path / "other.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", known_phrase, "-o", str(recording)], check=True, timeout=60)
    consent = request_consent(api_client, person, "voice")
    send_evidence(api_client, consent["id"], recording.read_bytes(), django_capture_on_commit_callbacks)
    shown = api_client.get(f"/api/v1/consents/{consent['id']}").json()
    assert shown["status"] == "rejected"
    assert ["is not Ada's" in reason for reason in shown["reasons"]] == [True]  # the words were right
    assert shown["measurements"]["voice_similarity"] < VOICE_SIMILARITY_MIN


# -- the face -----------------------------------------------------------------------------------------------------


def test_the_persona_speaking_the_phrase_is_verified_and_a_still_photo_is_not(
    api_client, person, known_phrase, tmp_path, django_capture_on_commit_callbacks
):
    live = request_consent(api_client, person, "face")
    video = talking_video(person_photo(person), live["phrase"], tmp_path / "live")
    send_evidence(api_client, live["id"], video, django_capture_on_commit_callbacks)
    shown = api_client.get(f"/api/v1/consents/{live['id']}").json()
    assert shown["status"] == "verified", shown["reasons"]
    measured = shown["measurements"]
    assert measured["face_distance"] <= 0.5
    assert measured["face_seen"] >= 0.9
    assert measured["mouth_loudness_correlation"] >= 0.2

    still = request_consent(api_client, person, "face")
    video = talking_video(person_photo(person), still["phrase"], tmp_path / "still", still=True)
    send_evidence(api_client, still["id"], video, django_capture_on_commit_callbacks)
    shown = api_client.get(f"/api/v1/consents/{still['id']}").json()
    assert shown["status"] == "rejected"
    reasons = shown["reasons"]
    assert any("does not speak the phrase" in reason for reason in reasons), reasons
    assert not any("is not Ada's" in reason for reason in reasons), reasons  # the right face, but not alive
    assert shown["measurements"]["face_distance"] <= 0.5


def test_another_persons_face_is_rejected(
    api_client, person, known_phrase, tmp_path, django_capture_on_commit_callbacks
):
    consent = request_consent(api_client, person, "face")
    stranger = image_rgb(factories.SAMPLE_PORTRAIT.read_bytes())
    video = talking_video(stranger, consent["phrase"], tmp_path)
    send_evidence(api_client, consent["id"], video, django_capture_on_commit_callbacks)
    shown = api_client.get(f"/api/v1/consents/{consent['id']}").json()
    assert shown["status"] == "rejected"
    assert any("is not Ada's" in reason for reason in shown["reasons"])
    assert shown["measurements"]["face_distance"] > 0.5


# -- bad recordings ----------------------------------------------------------------------------------------------------


def test_bad_recordings_are_refused_and_nothing_is_stored(
    api_client, person, media_root, settings, django_capture_on_commit_callbacks
):
    consent = request_consent(api_client, person, "voice")
    url = f"/api/v1/consents/{consent['id']}/evidence"
    capture = django_capture_on_commit_callbacks
    not_media = send_evidence(api_client, consent["id"], b"%PDF-1.7 not a recording" * 50, capture)
    assert_vendor_error(not_media, 400, "InvalidMedia", "file")
    empty = api_client.post(url, {"file": ""}, format="json")
    assert empty.status_code in (400, 422)
    too_long = wav_bytes(np.full(16000 * 121, 0.1, dtype=np.float32))
    assert_vendor_error(send_evidence(api_client, consent["id"], too_long, capture), 400, "InvalidMedia", "120 s")
    settings.MAX_CONSENT_EVIDENCE_BYTES = 1000
    big = send_evidence(api_client, consent["id"], wav_bytes(np.zeros(16000, dtype=np.float32)), capture)
    assert_vendor_error(big, 413, "PayloadTooLarge")
    settings.MAX_CONSENT_EVIDENCE_BYTES = 50 * 2**20
    face = request_consent(api_client, person, "face")
    audio_for_a_face = send_evidence(api_client, face["id"], wav_bytes(np.full(16000, 0.1, np.float32)), capture)
    assert_vendor_error(audio_for_a_face, 400, "InvalidMedia", "video")
    assert list((media_root / "consents").rglob("*")) == [] if (media_root / "consents").exists() else True
    assert Consent.objects.get(pk=consent["id"]).status == Consent.Status.AWAITING_EVIDENCE
    assert not MediaJob.objects.filter(kind="consent_verification").exists()


def test_an_expired_phrase_is_409(api_client, person, tmp_path, django_capture_on_commit_callbacks):
    consent = request_consent(api_client, person, "voice")
    Consent.objects.filter(pk=consent["id"]).update(phrase_expires_at=timezone.now() - timedelta(seconds=1))
    recording = speak(consent["phrase"], tmp_path).path.read_bytes()
    response = send_evidence(api_client, consent["id"], recording, django_capture_on_commit_callbacks)
    assert_vendor_error(response, 409, "Conflict", "expired")


# -- revocation and policy -----------------------------------------------------------------------------------------


def verified(person, kind: str) -> Consent:
    return Consent.objects.create(
        workspace=person.workspace, person=person, kind=kind, status=Consent.Status.VERIFIED,
        phrase="Quiet sailors paint seven bridges near the harbor.", phrase_expires_at=timezone.now(),
    )  # fmt: skip


def test_revoking_deletes_the_clone_and_the_face_embedding_and_refuses_generation(api_client, person, workspace):
    consent = verified(person, "both")
    assert person.face["embedding"] is not None
    assert speech_start(person=person, text="Hello.").kind == "speech"  # consent verified: speech goes ahead

    response = api_client.delete(f"/api/v1/consents/{consent.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "revoked" and body["revoked_at"]
    person.refresh_from_db()
    assert person.voice is None
    assert not Voice.objects.filter(person=person).exists()
    assert person.face["embedding"] is None
    assert person.face["landmarks"]  # where the face is stays: only the identity goes

    video = api_client.post("/v1/videos", {"replica_id": str(person.pk), "script": "Hello."}, format="json")
    assert_vendor_error(video, 403, "Forbidden", "revoked")
    assert "/api/v1/consents" in video.json()["message"]
    assert api_client.delete(f"/api/v1/consents/{consent.pk}").json()["status"] == "revoked"  # idempotent


def test_enforce_refuses_a_likeness_without_verified_consent(api_client, person, workspace, tmp_path):
    workspace.consent_policy = ConsentPolicy.ENFORCE
    workspace.save(update_fields=["consent_policy"])
    video = api_client.post("/v1/videos", {"replica_id": str(person.pk), "script": "Hello."}, format="json")
    assert_vendor_error(video, 403, "Forbidden", "has not been verified")
    assert "POST /api/v1/consents" in video.json()["message"]
    replica = api_client.post(
        "/v1/replicas", {"name": "New", "photo": factories.image_base64(portrait=True)}, format="json"
    )
    assert_vendor_error(replica, 403, "Forbidden", "POST /api/v1/persons")
    sample = io.BytesIO(speak(SAMPLE_TEXT, tmp_path).path.read_bytes())
    sample.name = "sample.wav"
    clone = api_client.post(
        f"/api/v1/characters/char_{person.ulid}/voice-clone", {"name": "Clone", "samples": sample}, format="multipart"
    )
    assert_vendor_error(clone, 403, "Forbidden", "A voice clone")

    verified(person, "both")
    video = api_client.post("/v1/videos", {"replica_id": str(person.pk), "script": "Hello."}, format="json")
    assert video.status_code in (201, 202), video.content


def test_record_policy_keeps_every_dialect_working_without_consent(api_client, person, workspace):
    assert workspace.consent_policy == ConsentPolicy.RECORD
    assert not person.consents.exists()
    video = api_client.post("/v1/videos", {"replica_id": str(person.pk), "script": "Hello."}, format="json")
    assert video.status_code in (201, 202), video.content


def test_staff_see_the_evidence_and_revoke_in_the_admin(
    client, api_client, person, tmp_path, known_phrase, django_capture_on_commit_callbacks
):
    consent = request_consent(api_client, person, "voice")
    recording = speak(consent["phrase"], tmp_path).path.read_bytes()
    send_evidence(api_client, consent["id"], recording, django_capture_on_commit_callbacks)
    admin = User.objects.create_superuser(email="staff@example.com", password="x")
    client.force_login(admin)
    listing = client.get("/admin/characters/consent/")
    assert listing.status_code == 200
    assert b"Ada" in listing.content and b"Verified" in listing.content
    page = client.get(f"/admin/characters/consent/{consent['id']}/change/").content.decode()
    assert '<audio controls preload="metadata" src="/media/consents/evidence/' in page
    assert "words_matched" in page and "speaker_embedding" not in page
    response = client.post(
        "/admin/characters/consent/", {"action": "revoke", "_selected_action": [consent["id"]]}, follow=True
    )
    assert b"1 consent(s) revoked." in response.content
    revoked = Consent.objects.get(pk=consent["id"])
    assert revoked.status == Consent.Status.REVOKED and revoked.revoked_by == admin
    assert not Voice.objects.filter(person=person).exists()
