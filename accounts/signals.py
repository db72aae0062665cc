"""`workspace_created`, sent inside the transaction that creates a workspace, so that the apps above
can furnish it (characters gives it its demo person) without accounts knowing them.

And: drop cached key snapshots whenever a key, its user or its workspace changes.

Dropped at once and again after the commit: a request that read the old row just before the
commit cannot leave a stale snapshot for longer than the snapshot's short expiry.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from accounts.models import ApiKey, User, Workspace
from persona_platform.api.gate import get_gate

workspace_created = Signal()  # kwargs: workspace


def _forget(key_hashes: list[str]) -> None:
    if not key_hashes:
        return
    gate = get_gate()
    gate.forget(key_hashes)
    transaction.on_commit(lambda: gate.forget(key_hashes))


@receiver([post_save, post_delete], sender=ApiKey, dispatch_uid="api_key_snapshot_forget")
def api_key_changed(sender, instance: ApiKey, created: bool = False, **kwargs) -> None:
    if not created:
        _forget([instance.key_hash])


@receiver(post_save, sender=User, dispatch_uid="user_snapshot_forget")
def user_changed(sender, instance: User, created: bool = False, **kwargs) -> None:
    if not created:
        _forget(list(ApiKey.objects.filter(user=instance).values_list("key_hash", flat=True)))


@receiver(post_save, sender=Workspace, dispatch_uid="workspace_snapshot_forget")
def workspace_changed(sender, instance: Workspace, created: bool = False, **kwargs) -> None:
    if not created:
        _forget(list(ApiKey.objects.filter(workspace_id=instance.pk).values_list("key_hash", flat=True)))
