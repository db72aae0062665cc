"""The support team's group: what support needs, and nothing that moves money or grants access.

Support manages the demo persons (and sees the persons, voices and workspaces that come with them), sees jobs and
webhook deliveries, and retries and cancels jobs (the change permission on jobs, whose fields are all read-only).
No credit entries, no API keys, no user changes. `is_demo` is settable by this group (characters/admin.py).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Support"
PERMISSIONS = {
    "accounts": ["view_user", "view_workspace", "view_company"],
    "characters": ["view_person", "change_person", "view_voice", "view_speakingprofile", "view_referenceimage",
                   "view_loramodel", "view_profilevideo"],
    "media_jobs": ["view_mediajob", "change_mediajob", "view_webhookdelivery", "view_webhookattempt"],
}  # fmt: skip


def create_support_group(apps, schema_editor):
    # Permissions are made after all migrations (post_migrate); on a fresh database make them now.
    for label in PERMISSIONS:
        app_config = apps.get_app_config(label)
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True  # create_permissions skips an app without models
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for label, codenames in PERMISSIONS.items():
        group.permissions.add(*Permission.objects.filter(content_type__app_label=label, codename__in=codenames))


def remove_support_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_workspace_webhook_secret_generation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("characters", "0005_character_profile_references_lora"),
        ("media_jobs", "0002_webhookattempt_webhookdelivery_and_more"),
    ]

    operations = [migrations.RunPython(create_support_group, remove_support_group)]
