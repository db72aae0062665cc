from django.core.management.base import BaseCommand

from accounts.models import Workspace
from characters.services.demo import demo_person_ensure

NEW_WORKSPACES_NOTE = "Each new workspace gets its demo person when it is created (createapikey, the admin)."


class Command(BaseCommand):
    help = "Give every workspace its demo person (idempotent: run it as often as you like)."

    def handle(self, *args, **options):
        created = 0
        for workspace in Workspace.objects.select_related("owner").iterator():
            before = workspace.persons.filter(is_demo=True).exists()
            demo_person_ensure(workspace=workspace)
            created += not before
        # A fresh database has no workspace yet: say what will happen rather than "0 created".
        checked = Workspace.objects.count()
        if checked == 0:
            self.stdout.write(f"No workspaces yet. {NEW_WORKSPACES_NOTE}")
        elif created:
            self.stdout.write(f"Demo persons: {created} created, {checked} workspaces checked. {NEW_WORKSPACES_NOTE}")
        else:
            self.stdout.write(f"Every workspace ({checked}) has its demo person. {NEW_WORKSPACES_NOTE}")
