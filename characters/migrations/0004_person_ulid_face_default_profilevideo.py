import django.db.models.deletion
from django.db import migrations, models
from ulid import ULID

import characters.models


def fill_ulids(apps, schema_editor):
    Person = apps.get_model("characters", "Person")
    for person in Person.objects.filter(ulid__isnull=True).only("pk"):
        Person.objects.filter(pk=person.pk).update(ulid=str(ULID()))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("characters", "0003_voice_settings_measurements"),
    ]

    operations = [
        migrations.AddField(model_name="person", name="ulid", field=models.CharField(max_length=26, null=True)),
        migrations.RunPython(fill_ulids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="person",
            name="ulid",
            field=models.CharField(default=characters.models.new_ulid, editable=False, max_length=26, unique=True),
        ),
        migrations.AddField(
            model_name="person",
            name="face",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.AddField(
            model_name="person",
            name="is_default",
            field=models.BooleanField(
                default=False, help_text="The persona that calls naming none act on (one per workspace)."
            ),
        ),
        migrations.AddConstraint(
            model_name="person",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_default", True)), fields=("workspace",), name="one_default_person_per_workspace"
            ),
        ),
        migrations.CreateModel(
            name="ProfileVideo",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                ("description", models.TextField(blank=True, max_length=5000)),
                ("file", models.FileField(max_length=255, upload_to="persons/videos/")),
                ("container", models.CharField(max_length=32)),
                ("video_codec", models.CharField(max_length=32)),
                ("audio_codec", models.CharField(blank=True, max_length=32)),
                ("duration", models.FloatField(help_text="Seconds, measured.")),
                ("width", models.PositiveIntegerField()),
                ("height", models.PositiveIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="profile_videos",
                        to="characters.person",
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="profile_videos",
                        to="accounts.workspace",
                    ),
                ),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
    ]
