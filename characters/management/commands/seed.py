from django.core.management.base import BaseCommand

from accounts.models import Workspace
from characters.services.demo import demo_person_ensure


class Command(BaseCommand):
    help = "Give every workspace its demo person (idempotent: run it as often as you like)."

    def handle(self, *args, **options):
        created = 0
        for workspace in Workspace.objects.select_related("owner").iterator():
            before = workspace.persons.filter(is_demo=True).exists()
            demo_person_ensure(workspace=workspace)
            created += not before
        self.stdout.write(f"Demo persons: {created} created, {Workspace.objects.count()} workspaces checked.")
