"""A person's photo file is deleted with its row, however the row goes (API, admin, a workspace cascade)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from characters.models import Person, Voice
from persona_platform.media import delete_file_on_commit


@receiver(post_delete, sender=Person, dispatch_uid="person_photo_delete")
def person_photo_delete(sender, instance: Person, **kwargs) -> None:
    delete_file_on_commit(instance.photo.name, instance.photo.storage)


@receiver(post_delete, sender=Voice, dispatch_uid="voice_samples_delete")
def voice_samples_delete(sender, instance: Voice, **kwargs) -> None:
    """A clone's uploaded samples go with it (they are normally deleted once measured)."""
    from characters.services.voice_clones import voice_samples_delete as delete_samples

    delete_samples(voice=instance)
