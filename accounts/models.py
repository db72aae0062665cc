from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models


class UserManager(BaseUserManager):
    """Users sign in with their email; there is no username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    AGENCY = "agency", "Agency"


class ConsentPolicy(models.TextChoices):
    """`record`: generation goes ahead and provenance says whether consent was verified (the vendor
    dialects keep working unchanged); `enforce`: a likeness without verified consent is refused."""

    RECORD = "record", "Record"
    ENFORCE = "enforce", "Enforce"


def consent_policy_default() -> str:
    return settings.CONSENT_POLICY_DEFAULT


class Workspace(models.Model):
    """The tenant: every row a user creates belongs to exactly one workspace."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_workspaces")
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    # A cache of the ledger's sum, kept in step under a row lock; the ledger stays the truth.
    credit_balance = models.BigIntegerField(default=0)
    # The webhook signing secret is derived, never stored (accounts.webhook_secrets); rotating bumps this.
    webhook_secret_generation = models.PositiveIntegerField(default=0)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True)
    consent_policy = models.CharField(
        max_length=16, choices=ConsentPolicy.choices, default=consent_policy_default,
        help_text="Record: generate and say in each output whether consent was verified. "
        "Enforce: refuse any likeness without verified consent.",
    )  # fmt: skip
    ai_disclosure_overlay = models.BooleanField(
        default=False, help_text='Burn a small "AI-generated" label into this workspace\'s videos.'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(credit_balance__gte=0), name="credit_balance_gte_0")]

    def __str__(self) -> str:
        return self.name


class Company(models.Model):
    """A person's "associated company"."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="companies")
    name = models.CharField(max_length=200)
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="company_name_unique_per_workspace")]

    def __str__(self) -> str:
        return self.name


class CreditEntry(models.Model):
    """One append-only line of a workspace's credit ledger; the balance is their sum."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="credit_entries")
    amount = models.BigIntegerField(help_text="Positive for grants and refunds, negative for debits.")
    balance_after = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    reference = models.CharField(max_length=100, blank=True, help_text="What the entry is for, e.g. job:42.")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "credit entries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="credit_entry_balance_gte_0"),
            models.CheckConstraint(condition=~models.Q(amount=0), name="credit_entry_amount_not_0"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.reason}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Credit entries are append-only: add a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Credit entries are append-only.")


class ApiKey(models.Model):
    """A workspace's API key. Only an HMAC of the key is stored; the key itself is shown once."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
