"""A person's photo file is deleted with its row, however the row goes (API, admin, a workspace cascade)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from characters.models import Person
from persona_platform.media import delete_file_on_commit


@receiver(post_delete, sender=Person, dispatch_uid="person_photo_delete")
def person_photo_delete(sender, instance: Person, **kwargs) -> None:
    delete_file_on_commit(instance.photo.name, instance.photo.storage)
