from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.models import Plan
from accounts.services import account_bootstrap
from persona_platform.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create the user and its workspace when missing (with the demo person), issue a new API key "
        "and print it alone on the last line of stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--plan", choices=Plan.values, default=None, help="Set the workspace's plan.")
        parser.add_argument("--credits", type=int, default=0, help="Grant this many credits.")
        parser.add_argument("--name", default="default", help="A name for the key.")

    def handle(self, *args, email: str, plan: str | None, credits: int, name: str, **options):
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address.") from None
        if credits < 0:
            raise CommandError("--credits must not be negative.")
        try:
            api_key, raw = account_bootstrap(email=email, plan=plan, credits=credits, key_name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        workspace = api_key.workspace
        self.stdout.write(
            f"Key {api_key.prefix}… ({api_key.name}) for {api_key.user.email}, workspace #{workspace.pk} "
            f"({workspace.plan}, {workspace.credit_balance} credits). It is shown once; store it now:"
        )
        self.stdout.write(raw)
