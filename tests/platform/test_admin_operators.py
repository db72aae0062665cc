"""The operators' admin: character fields, players, job actions, the jobs list, the webhook secret, the
dashboard and the "View site" link (the Support group has its own file, test_admin_support.py)."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.webhook_secrets import webhook_secret
from characters.models import Person, Voice
from media_jobs.models import MediaJob, WebhookAttempt, WebhookDelivery
from tests import factories

pytestmark = pytest.mark.django_db

INLINES = ["voice_clones", "reference_images", "lora", "profile_videos"]


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser(email="staff@example.com", password="x"))
    return client


def person_form(person: Person, **changes) -> dict:
    """The person page's POST body: the person as it is, with `changes`, and empty inline forms."""
    data = {
        "workspace": person.workspace_id,
        "owner": person.owner_id,
        "name": person.name,
        "description": person.description,
        "niche": person.niche,
        **{field: json.dumps(getattr(person, field)) for field in
           ["appearance", "identity", "personality", "style", "settings", "voice_settings"]},
    }  # fmt: skip
    for prefix in INLINES:
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    data.update(changes)
    return data


def person_url(person: Person) -> str:
    return reverse("admin:characters_person_change", args=[person.pk])


def job_url(job: MediaJob) -> str:
    return reverse("admin:media_jobs_mediajob_change", args=[job.pk])


def stored(name: str, data: bytes = b"RIFF....WAVE") -> str:
    return default_storage.save(name, ContentFile(data))


# Character fields


def test_the_character_profile_is_edited_on_the_person_page(staff_client, workspace):
    person = factories.person_create(workspace=workspace)

    response = staff_client.post(
        person_url(person),
        person_form(
            person,
            niche="fitness",
            talking_head_enabled="on",
            appearance='{"hair": "red", "eyes": {"colour": "green"}}',
            identity='{"age": 31}',
            personality='{"traits": ["calm", "curious"]}',
            style='{"tone": "warm"}',
            settings='{"language": "en"}',
            voice_settings='{"stability": 0.4, "speed": 1.2, "use_speaker_boost": true}',
        ),
    )

    assert response.status_code == 302, response.content.decode()[-3000:]
    person.refresh_from_db()
    assert person.niche == "fitness" and person.talking_head_enabled is True
    assert person.appearance == {"hair": "red", "eyes": {"colour": "green"}}
    assert (person.identity, person.personality, person.style, person.settings) == (
        {"age": 31}, {"traits": ["calm", "curious"]}, {"tone": "warm"}, {"language": "en"}
    )  # fmt: skip
    assert person.voice_settings == {"stability": 0.4, "speed": 1.2, "use_speaker_boost": True}


def test_the_profile_objects_are_shown_as_indented_json(staff_client, workspace):
    person = factories.person_create(workspace=workspace)
    Person.objects.filter(pk=person.pk).update(appearance={"hair": "red", "height": 170})

    html = staff_client.get(person_url(person)).content.decode()

    textarea = re.search(r'<textarea name="appearance"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert textarea.strip() == "{\n  &quot;hair&quot;: &quot;red&quot;,\n  &quot;height&quot;: 170\n}"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("appearance", "[1, 2]", "Must be a JSON object"),
        ("identity", "{not json", "Enter a valid JSON."),
        ("style", json.dumps({"long": "x" * 10_001}), "Must be at most 10 kB of JSON."),
        ("voice_settings", '{"speed": 5}', "speed: Must be between 0.5 and 2."),
        ("voice_settings", '{"loudness": 1}', "loudness: Unknown setting"),
        ("voice_settings", '{"use_speaker_boost": "yes"}', "use_speaker_boost: Must be true or false."),
    ],
)
def test_bad_profile_json_is_refused_with_a_message(staff_client, workspace, field, value, message):
    person = factories.person_create(workspace=workspace)

    response = staff_client.post(person_url(person), person_form(person, **{field: value}))

    assert response.status_code == 200 and message in response.content.decode()
    person.refresh_from_db()
    assert getattr(person, field) == {}


def test_an_empty_profile_object_is_saved_as_an_empty_object(staff_client, workspace):
    person = factories.person_create(workspace=workspace)
    Person.objects.filter(pk=person.pk).update(style={"tone": "warm"})
    person.refresh_from_db()

    assert staff_client.post(person_url(person), person_form(person, style="")).status_code == 302

    person.refresh_from_db()
    assert person.style == {}


# Players and the photo


def test_the_person_page_shows_the_photo_once_and_plays_the_persons_media(staff_client, workspace):
    person = factories.person_create(workspace=workspace)
    voice = factories.voice_create(person=person)
    voice.training_audio.name = stored("voices/training/sample.wav")
    voice.save()
    MediaJob.objects.create(workspace=workspace, person=person, kind="video", status="ready",
                            result_file=stored("jobs/video/clip.mp4", b"...."), finished_at=timezone.now())  # fmt: skip

    html = staff_client.get(person_url(person)).content.decode()

    assert html.count(f'<img src="{person.photo.url}"') == 1
    assert f'<audio controls preload="metadata" src="/media/{voice.training_audio.name}"></audio>' in html
    assert '<video controls preload="metadata" src="/media/jobs/video/clip.mp4"' in html


def test_a_job_page_plays_its_result(staff_client, workspace):
    speech = MediaJob.objects.create(workspace=workspace, kind="speech", status="ready",
                                     result_file=stored("jobs/speech/a.wav"))  # fmt: skip
    video = MediaJob.objects.create(workspace=workspace, kind="video", status="ready",
                                    result_file=stored("jobs/video/b.mp4"), input_file=stored("jobs/inputs/c.mp4"))  # fmt: skip

    speech_html = staff_client.get(job_url(speech)).content.decode()
    video_html = staff_client.get(job_url(video)).content.decode()

    assert '<audio controls preload="metadata" src="/media/jobs/speech/a.wav"></audio>' in speech_html
    assert '<video controls preload="metadata" src="/media/jobs/video/b.mp4"' in video_html
    assert '<video controls preload="metadata" src="/media/jobs/inputs/c.mp4"' in video_html


def test_the_voice_page_plays_its_sample_recording(staff_client, workspace):
    voice = factories.voice_create(person=factories.person_create(workspace=workspace))
    url = reverse("admin:characters_voice_change", args=[voice.pk])
    before = staff_client.get(url).content.decode()
    voice.training_audio.name = stored("voices/training/v.wav")
    voice.save()

    after = staff_client.get(url).content.decode()

    assert "<audio" not in before and "none yet" in before
    assert '<audio controls preload="metadata" src="/media/voices/training/v.wav"></audio>' in after


# Job actions


def test_a_failed_job_has_a_retry_button_that_queues_it_again(staff_client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed", error="engine down")

    page = staff_client.get(job_url(job)).content.decode()
    response = staff_client.post(reverse("admin:media_jobs_mediajob_retry", args=[job.pk]), follow=True)

    assert 'id="job-retry"' in page and 'id="job-cancel"' not in page
    assert response.redirect_chain == [(job_url(job), 302)]
    assert f"Job #{job.pk} is queued again." in [str(m) for m in response.context["messages"]]
    job.refresh_from_db()
    assert (job.status, job.error) == ("queued", "")
    assert LogEntry.objects.get(object_id=str(job.pk)).change_message == "Retried."


def test_a_queued_job_has_a_cancel_button_that_cancels_it(staff_client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", status="queued")

    page = staff_client.get(job_url(job)).content.decode()
    staff_client.post(reverse("admin:media_jobs_mediajob_cancel", args=[job.pk]))

    assert 'id="job-cancel"' in page and 'id="job-retry"' not in page
    job.refresh_from_db()
    assert job.status == "canceled"


def test_a_ready_job_offers_neither_action_and_refuses_both(staff_client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", status="ready")

    page = staff_client.get(job_url(job)).content.decode()
    cancel = staff_client.post(reverse("admin:media_jobs_mediajob_cancel", args=[job.pk]), follow=True)
    retry = staff_client.post(reverse("admin:media_jobs_mediajob_retry", args=[job.pk]), follow=True)

    assert 'id="job-retry"' not in page and 'id="job-cancel"' not in page
    assert "Not canceled: The job has already ended (ready)." in [str(m) for m in cancel.context["messages"]]
    assert "Not retried: Only a failed or canceled job can be retried; this one is ready." in [
        str(m) for m in retry.context["messages"]
    ]


def test_a_failed_voice_clone_whose_samples_are_gone_cannot_be_retried(staff_client, workspace):
    voice = Voice.objects.create(workspace=workspace, name="Clone", provider="local")
    job = MediaJob.objects.create(workspace=workspace, kind="voice_clone", status="failed", error="bad audio",
                                  params={"voice_id": voice.pk, "sample_files": ["voice-samples/gone.wav"]})  # fmt: skip

    page = staff_client.get(job_url(job)).content.decode()
    response = staff_client.post(reverse("admin:media_jobs_mediajob_retry", args=[job.pk]), follow=True)

    assert 'id="job-retry"' not in page
    assert "Cannot be retried: The recordings this voice clone was made from have been deleted" in page
    assert [str(m) for m in response.context["messages"]] == [
        "Not retried: The recordings this voice clone was made from have been deleted: start a new clone with "
        "new samples."
    ]
    job.refresh_from_db()
    assert job.status == "failed"


def test_a_voice_clone_whose_samples_are_kept_can_be_retried(staff_client, workspace):
    voice = Voice.objects.create(workspace=workspace, name="Clone", provider="local")
    sample = stored("voice-samples/kept.wav")
    job = MediaJob.objects.create(workspace=workspace, kind="voice_clone", status="canceled",
                                  params={"voice_id": voice.pk, "sample_files": [sample]})  # fmt: skip

    assert 'id="job-retry"' in staff_client.get(job_url(job)).content.decode()


def test_the_retry_and_cancel_routes_take_only_post(staff_client, workspace):
    job = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed")

    assert staff_client.get(reverse("admin:media_jobs_mediajob_retry", args=[job.pk])).status_code == 405
    assert staff_client.get(reverse("admin:media_jobs_mediajob_cancel", args=[job.pk])).status_code == 405
    assert staff_client.post(reverse("admin:media_jobs_mediajob_retry", args=[987654])).status_code == 404


def test_the_retry_list_action_says_which_jobs_it_could_not_retry(staff_client, workspace):
    good = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed")
    clone = MediaJob.objects.create(workspace=workspace, kind="voice_clone", status="failed",
                                    params={"voice_id": 1, "sample_files": []})  # fmt: skip

    response = staff_client.post(
        reverse("admin:media_jobs_mediajob_changelist"),
        {"action": "retry", "_selected_action": [good.pk, clone.pk]},
        follow=True,
    )

    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "Queued 1 job(s) again."
    assert messages[1].startswith(f"Not retried: #{clone.pk}: The recordings this voice clone")


# The jobs list


def test_the_jobs_list_truncates_the_error_and_keeps_it_whole_on_hover(staff_client, workspace):
    error = "The talking-head engine ran out of memory while rendering frame 812 of 900; try a shorter text."
    MediaJob.objects.create(workspace=workspace, kind="video", status="failed", error=error, name="n" * 50)

    html = staff_client.get(reverse("admin:media_jobs_mediajob_changelist")).content.decode()

    assert f'<span class="job-error" title="{error}">{error[:60]}…</span>' in html
    assert "n" * 18 + "…" in html and "n" * 19 not in html


# The webhook secret


def test_the_webhook_secret_is_masked_until_revealed(staff_client, workspace):
    secret = webhook_secret(workspace_id=workspace.pk)
    url = reverse("admin:accounts_workspace_change", args=[workspace.pk])

    masked = staff_client.get(url).content.decode()
    revealed = staff_client.get(url, {"reveal_secret": "1"}).content.decode()

    assert secret not in masked
    assert f'<code id="webhook-secret">{secret[:6]}{"•" * 12}{secret[-4:]}</code>' in masked
    assert 'id="webhook-secret-toggle" href="?reveal_secret=1">Reveal</a>' in masked
    assert f'<code id="webhook-secret">{secret}</code>' in revealed and ">Hide</a>" in revealed


def test_rotating_the_webhook_secret_asks_first_then_shows_the_new_one(staff_client, workspace):
    old = webhook_secret(workspace_id=workspace.pk)
    rotate = reverse("admin:accounts_workspace_webhook_secret_rotate", args=[workspace.pk])

    confirm = staff_client.get(rotate)
    unchanged = webhook_secret(workspace_id=workspace.pk)
    response = staff_client.post(rotate)

    assert confirm.status_code == 200 and b"Yes, rotate the secret" in confirm.content and unchanged == old
    change = reverse("admin:accounts_workspace_change", args=[workspace.pk])
    assert response.status_code == 302 and response["Location"] == f"{change}?reveal_secret=1"
    new = webhook_secret(workspace_id=workspace.pk)
    assert new != old and new.startswith("whsec_")
    assert f'<code id="webhook-secret">{new}</code>' in staff_client.get(response["Location"]).content.decode()
    assert Workspace.objects.get(pk=workspace.pk).webhook_secret_rotated_at is not None
    assert LogEntry.objects.get(object_id=str(workspace.pk)).change_message == "Rotated the webhook signing secret."


def test_the_workspace_form_does_not_offer_the_secret_generation_as_a_field(staff_client, workspace):
    html = staff_client.get(reverse("admin:accounts_workspace_change", args=[workspace.pk])).content.decode()

    assert 'name="webhook_secret_generation"' not in html


# The dashboard and the "View site" link


def test_the_dashboard_shows_the_last_day_of_jobs_and_failing_webhooks(
    staff_client, workspace, django_assert_max_num_queries
):
    now = timezone.now()
    old = MediaJob.objects.create(workspace=workspace, kind="speech", status="failed", error="old")
    MediaJob.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2), finished_at=now - timedelta(days=2))
    for _ in range(3):
        MediaJob.objects.create(workspace=workspace, kind="speech", status="ready")
    failed = MediaJob.objects.create(workspace=workspace, kind="video", status="failed", error="GPU out of memory",
                                     finished_at=now)  # fmt: skip
    queued = [MediaJob.objects.create(workspace=workspace, kind="speech") for _ in range(2)]
    MediaJob.objects.filter(pk=queued[0].pk).update(created_at=now - timedelta(minutes=30))
    gave_up = WebhookDelivery.objects.create(job=failed, url="https://hooks.example.com/x", message_id="msg_1",
                                             event_type="job.failed", payload={}, status="failed", attempts=5)  # fmt: skip
    WebhookAttempt.objects.create(delivery=gave_up, status_code=500, error="")
    WebhookDelivery.objects.create(job=failed, url="https://ok.example.com", message_id="msg_2",
                                   event_type="job.failed", payload={}, status="delivered", attempts=1)  # fmt: skip

    with django_assert_max_num_queries(20):
        html = staff_client.get(reverse("admin:index")).content.decode()

    counts = dict(re.findall(r'data-status="(\w+)">\s*<strong>(\d+)</strong>', html))
    assert counts == {"queued": "2", "processing": "0", "ready": "3", "failed": "1", "canceled": "0"}
    assert f"Video #{failed.pk}</a></td>" in html and "GPU out of memory" in html and ">old<" not in html
    oldest = re.search(r'<p id="oldest-queued">(.*?)</p>', html, re.S).group(1)
    assert f"Speech #{queued[0].pk}</a>" in oldest and "not yet handed to the broker" in oldest
    assert "Webhook deliveries failing" in html and "job.failed #" in html and "HTTP 500" in html
    assert "https://ok.example.com" not in html


def test_the_dashboard_queries_stay_few_however_many_jobs(staff_client, workspace, django_assert_max_num_queries):
    failed = [MediaJob(workspace=workspace, kind="speech", status="failed", error=f"e{n}", finished_at=timezone.now())
              for n in range(40)]  # fmt: skip
    MediaJob.objects.bulk_create(failed)

    with django_assert_max_num_queries(20):
        html = staff_client.get(reverse("admin:index")).content.decode()

    assert html.count('<td class="error"') == 10


def test_the_view_site_link_goes_to_the_landing_page(staff_client):
    html = staff_client.get(reverse("admin:index")).content.decode()

    assert '<a href="/">View site</a>' in html
