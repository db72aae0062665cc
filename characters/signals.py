"""A new workspace gets its demo person; files are deleted with their rows, however the rows go (API,
admin, a workspace cascade)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts.models import Workspace
from accounts.signals import workspace_created
from characters.models import LoraTrainingImage, Person, ProfileVideo, ReferenceImage, Voice
from characters.services.demo import demo_person_ensure
from characters.services.voice_clones import voice_samples_delete as delete_samples
from persona_platform.media import delete_file_on_commit


@receiver(workspace_created, sender=Workspace, dispatch_uid="workspace_demo_person")
def workspace_demo_person(sender, workspace: Workspace, **kwargs) -> None:
    demo_person_ensure(workspace=workspace)


@receiver(post_delete, sender=Person, dispatch_uid="person_photo_delete")
def person_photo_delete(sender, instance: Person, **kwargs) -> None:
    delete_file_on_commit(instance.photo.name, instance.photo.storage)


@receiver(post_delete, sender=ReferenceImage, dispatch_uid="reference_image_delete")
@receiver(post_delete, sender=LoraTrainingImage, dispatch_uid="lora_training_image_delete")
def image_file_delete(sender, instance: ReferenceImage | LoraTrainingImage, **kwargs) -> None:
    delete_file_on_commit(instance.image.name, instance.image.storage)


@receiver(post_delete, sender=ProfileVideo, dispatch_uid="profile_video_delete")
def profile_video_file_delete(sender, instance: ProfileVideo, **kwargs) -> None:
    delete_file_on_commit(instance.file.name, instance.file.storage)


@receiver(post_delete, sender=Voice, dispatch_uid="voice_samples_delete")
def voice_samples_delete(sender, instance: Voice, **kwargs) -> None:
    """A clone's uploaded samples go with it (they are normally deleted once measured)."""
    delete_samples(voice=instance)
    delete_file_on_commit(instance.training_audio.name, instance.training_audio.storage)
