import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import CreditEntry, Workspace
from accounts.services import credits_debit, credits_grant
from persona_platform.errors import InvalidInput, NotEnoughCredits
from tests import factories


@pytest.mark.django_db
def test_grants_and_debits_append_entries_and_move_the_balance(workspace):
    credits_grant(workspace=workspace, amount=100, reason="Welcome")
    entry = credits_debit(workspace=workspace, amount=30, reason="Video", reference="job:1")

    workspace.refresh_from_db()
    assert workspace.credit_balance == 70
    assert (entry.amount, entry.balance_after, entry.reference) == (-30, 70, "job:1")
    assert list(workspace.credit_entries.values_list("amount", flat=True)) == [-30, 100]


@pytest.mark.django_db
def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(workspace):
    credits_grant(workspace=workspace, amount=10, reason="Welcome")

    with pytest.raises(NotEnoughCredits, match="needs 11 credits and the workspace has 10"):
        credits_debit(workspace=workspace, amount=11, reason="Video")

    workspace.refresh_from_db()
    assert workspace.credit_balance == 10 and workspace.credit_entries.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(workspace, amount):
    with pytest.raises(InvalidInput):
        credits_grant(workspace=workspace, amount=amount, reason="x")
    with pytest.raises(InvalidInput):
        credits_debit(workspace=workspace, amount=amount, reason="x")


@pytest.mark.django_db
def test_entries_are_append_only(workspace):
    entry = credits_grant(workspace=workspace, amount=5, reason="Welcome")

    entry.reason = "edited"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


@pytest.mark.django_db
def test_the_database_refuses_a_negative_balance(workspace):
    with pytest.raises(IntegrityError), transaction.atomic():
        Workspace.objects.filter(pk=workspace.pk).update(credit_balance=-1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw():
    """Twenty threads race for ten credits' worth of debits: exactly ten succeed."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes writers anyway")
    workspace = factories.workspace_create()
    credits_grant(workspace=workspace, amount=10, reason="Welcome")
    barrier = threading.Barrier(20)
    outcomes = []

    def debit():
        try:
            barrier.wait()
            credits_debit(workspace=Workspace.objects.get(pk=workspace.pk), amount=1, reason="race")
            outcomes.append("ok")
        except NotEnoughCredits:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    workspace.refresh_from_db()
    assert sorted(outcomes) == ["ok"] * 10 + ["refused"] * 10
    assert workspace.credit_balance == 0
    balances = list(CreditEntry.objects.filter(workspace=workspace, amount=-1).values_list("balance_after", flat=True))
    assert sorted(balances) == list(range(10))
