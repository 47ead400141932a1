"""The statement upload and import pages (finance starts, support reads) and the clerks' list,
through the Django test client. The worker's job is run in the test by calling
intake.background.run_import, as `manage.py procrastinate worker` would."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from intake.background import job_lock, run_import
from intake.models import BankEntry, ImportStatus, StatementFile, StatementImport
from payments.models import Payment
from tests.factories import CustomerFactory, make_invoice
from tests.web_users import user_with_role

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent / "samples"


def upload(client, name="mixed.csv", **extra):
    data = {"statement": SimpleUploadedFile(name, (SAMPLES / name).read_bytes(), content_type="text/csv"), **extra}
    return client.post(reverse("imports:upload"), data)


def upload_and_run(client, name="mixed.csv", **extra):
    """Upload, run the deferred job as a worker would, and return the import's page."""
    response = upload(client, name, **extra)
    assert response.status_code == 302
    statement_import = StatementImport.objects.latest("id")
    assert response["Location"] == reverse("imports:detail", args=[statement_import.pk])
    run_import(statement_import.pk)
    return client.get(response["Location"])


def finish_jobs(status: str) -> None:
    with connection.cursor() as cursor:  # procrastinate's models are read-only
        cursor.execute("UPDATE procrastinate_jobs SET status = %s WHERE status = 'todo'", [status])


@pytest.fixture
def kilo(db, provider):
    customer = CustomerFactory(name="Kilo KK", reference="C-00077")
    make_invoice(customer=customer, provider=provider, total="5000", currency="JPY")
    return customer


def test_the_upload_returns_at_once_and_defers_one_locked_job(client, kilo):
    finance = user_with_role("finance")
    client.force_login(finance)
    response = upload(client, profile="settle")

    statement_import = StatementImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{statement_import.pk}/"
    assert statement_import.status == ImportStatus.QUEUED and statement_import.requested_by == finance
    assert statement_import.source_name == "mixed.csv" and statement_import.profile == "settle"
    assert bytes(StatementFile.objects.get(pk=statement_import.pk).content) == (SAMPLES / "mixed.csv").read_bytes()
    assert not BankEntry.objects.exists()  # nothing imported inside the request
    job = ProcrastinateJob.objects.get()
    assert job.task_name == "intake.import_statement_file" and job.status == "todo"
    assert job.args == {"statement_import_id": statement_import.pk}
    assert job.lock == job.queueing_lock == job_lock(statement_import.pk)

    html = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker to import mixed.csv" in html
    assert 'hx-trigger="every 1s"' in html and "<progress" in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html


def test_finance_uploads_a_statement_and_sees_every_entry(client, kilo):
    client.force_login(user_with_role("finance"))
    assert client.get(reverse("imports:upload")).status_code == 200

    response = upload_and_run(client)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Imported mixed.csv" in html
    assert "NB240402-0101" in html and "5,000 JPY" in html and "(exact match of 1 invoice)" in html
    assert "line 5" in html and "more decimals than JPY allows" in html
    assert "1 recorded, 3 unidentified, 1 needs review, 2 rejected." in html
    assert (
        "Needing a person (6)" in html and 'hx-trigger="every 1s"' not in html
    )  # no polling (the nav search box has its own trigger)
    payment = Payment.objects.get(reference="NB240402-0101")
    assert payment.customer == kilo
    assert reverse("payments:detail", args=[payment.pk]) in html
    statement_import = StatementImport.objects.get()
    assert statement_import.status == ImportStatus.DONE and statement_import.done == statement_import.total == 7
    assert not StatementFile.objects.exists()  # the bytes go once the import is done


def test_the_progress_fragment_counts_and_stops_polling_when_done(client, kilo):
    client.force_login(user_with_role("support"))
    statement_import = StatementImport.objects.create(
        source_name="big.xml",
        requested_by=user_with_role("finance"),
        status=ImportStatus.RUNNING,
        total=100_000,
        done=12_345,
    )
    url = reverse("imports:progress", args=[statement_import.pk])
    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Importing big.xml: 12,345 of 100,000 entries" in html
    assert 'max="100000" value="12345"' in html and 'hx-trigger="every 1s"' in html

    StatementImport.objects.filter(pk=statement_import.pk).update(total=None)  # a streaming importer's count
    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Importing big.xml: 12,345 entries so far" in html and "<progress" in html

    StatementImport.objects.filter(pk=statement_import.pk).update(status=ImportStatus.DONE, done=100_000)
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.headers["HX-Refresh"] == "true"  # the whole page reloads as the result


def test_dry_run_from_the_page_saves_nothing(client, kilo):
    client.force_login(user_with_role("finance"))
    response = upload_and_run(client, dry_run="on")
    html = response.content.decode()
    assert "Dry run of mixed.csv" in html and "would be 1 recorded, 3 unidentified" in html
    assert "Import this file for real</button>" in html
    assert not BankEntry.objects.exists() and not Payment.objects.exists()
    assert not StatementImport.objects.get().lines.filter(payment__isnull=False).exists()  # rolled back: no links

    dry_run = StatementImport.objects.get()
    response = client.post(reverse("imports:for_real", args=[dry_run.pk]))
    statement_import = StatementImport.objects.latest("id")
    assert (
        response["Location"] == reverse("imports:detail", args=[statement_import.pk]) and not statement_import.dry_run
    )
    run_import(statement_import.pk)
    assert Payment.objects.count() == 1 and statement_import.lines.count() == 7
    response = client.post(reverse("imports:for_real", args=[dry_run.pk]), follow=True)
    assert "was imported already" in response.content.decode()


def test_unreadable_file_is_reported(client, db):
    client.force_login(user_with_role("finance"))
    response = upload_and_run(client, name="malformed.xml")
    assert "The file could not be read" in response.content.decode()
    assert "malformed XML at line 8" in response.content.decode()


def test_missing_file_redisplays_the_form(client, db):
    client.force_login(user_with_role("finance"))
    response = client.post(reverse("imports:upload"), {})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_a_failed_import_shows_its_error_and_finance_runs_it_again(client, kilo, monkeypatch):
    client.force_login(user_with_role("finance"))
    upload(client)
    statement_import = StatementImport.objects.get()

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("intake.background.import_statement", broken)
    with pytest.raises(RuntimeError):
        run_import(statement_import.pk)
    monkeypatch.undo()
    html = client.get(reverse("imports:detail", args=[statement_import.pk])).content.decode()
    assert "RuntimeError: the database went away" in html and "Run again</button>" in html

    client.force_login(user_with_role("support"))
    html = client.get(reverse("imports:detail", args=[statement_import.pk])).content.decode()
    assert "the database went away" in html and "Run again</button>" not in html
    assert client.post(reverse("imports:run_again", args=[statement_import.pk])).status_code == 403

    client.force_login(user_with_role("finance"))
    assert client.get(reverse("imports:run_again", args=[statement_import.pk])).status_code == 405
    response = client.post(reverse("imports:run_again", args=[statement_import.pk]), follow=True)
    assert "Tick the box to confirm" in response.content.decode()
    response = client.post(reverse("imports:run_again", args=[statement_import.pk]), {"confirm": "on"}, follow=True)
    assert f"Import #{statement_import.pk} is already waiting for a worker." in response.content.decode()
    finish_jobs("failed")  # as the worker records the failed job
    response = client.post(reverse("imports:run_again", args=[statement_import.pk]), {"confirm": "on"}, follow=True)
    assert "queued again" in response.content.decode()
    assert ProcrastinateJob.objects.filter(status="todo").count() == 1
    run_import(statement_import.pk)
    statement_import.refresh_from_db()
    assert statement_import.status == ImportStatus.DONE and statement_import.attempts == 2
    assert statement_import.lines.count() == 7 and Payment.objects.count() == 1

    response = client.post(reverse("imports:run_again", args=[statement_import.pk]), {"confirm": "on"}, follow=True)
    assert "is done: nothing to run again" in response.content.decode()


def test_an_import_whose_job_is_gone_can_be_run_again(client, kilo):
    client.force_login(user_with_role("finance"))
    upload(client)
    statement_import = StatementImport.objects.get()
    detail = reverse("imports:detail", args=[statement_import.pk])
    assert "Run again</button>" not in client.get(detail).content.decode()  # its job waits
    finish_jobs("cancelled")
    html = client.get(detail).content.decode()
    assert "No worker has this import" in html and "Run again</button>" in html
    client.post(reverse("imports:run_again", args=[statement_import.pk]), {"confirm": "on"})
    assert ProcrastinateJob.objects.filter(status="todo").count() == 1


def test_the_imports_list_shows_who_when_and_how_far(client, kilo):
    client.force_login(user_with_role("support"))
    html = client.get(reverse("imports:upload")).content.decode()
    assert "No statement has been imported yet." in html and "Statement file" not in html

    client.force_login(user_with_role("finance"))
    upload_and_run(client)
    client.force_login(user_with_role("support"))
    html = client.get(reverse("imports:upload")).content.decode()
    assert "mixed.csv" in html and "7 of 7" in html and "1 recorded, 3 unidentified" in html


def test_support_reaches_the_imports_and_the_waiting_entries_from_the_navigation(client, db):
    client.force_login(user_with_role("support"))
    html = client.get(reverse("invoices:list")).content.decode()
    assert '<a href="/imports/"' in html and ">Imports</a>" in html
    html = client.get(reverse("imports:upload")).content.decode()
    assert 'aria-current="page">Imports</a>' in html
    assert f'href="{reverse("imports:entries")}"' in html


@pytest.mark.parametrize("role", ["support", None])
def test_upload_is_finance_only(client, db, role):
    client.force_login(user_with_role(role))
    assert client.get(reverse("imports:upload")).status_code == (200 if role else 403)
    assert upload(client).status_code == 403
    assert not StatementImport.objects.exists() and not BankEntry.objects.exists()


def test_superuser_may_upload(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True))
    assert client.get(reverse("imports:upload")).status_code == 200


def test_clerks_list_assign_and_dismiss(client, kilo):
    finance = user_with_role("finance")
    client.force_login(finance)
    upload_and_run(client)

    support = user_with_role("support")
    client.force_login(support)
    html = client.get(reverse("imports:entries")).content.decode()
    assert "NB240402-0102" in html and "Hotel Lima" in html and "no customer reference and no invoice number" in html
    assert "NB240404-0107" in html and "-70.00 EUR" in html
    assert "Assign</button>" not in html  # support reads, finance decides
    credit = BankEntry.objects.get(bank_reference="NB240402-0102")
    assert client.post(reverse("imports:assign", args=[credit.pk]), {"customer": "C-00077"}).status_code == 403

    client.force_login(finance)
    assert "Assign</button>" in client.get(reverse("imports:entries")).content.decode()
    response = client.post(reverse("imports:assign", args=[credit.pk]), {"customer": "c-00077"}, follow=True)
    assert "NB240402-0102 recorded as P-" in response.content.decode()
    credit.refresh_from_db()
    assert credit.status == "resolved" and credit.payment.customer == kilo

    response = client.post(reverse("imports:assign", args=[credit.pk]), {"customer": "C-00077"}, follow=True)
    assert "already assigned by a clerk" in response.content.decode()
    other = BankEntry.objects.get(bank_reference="NB240403-0106")
    response = client.post(reverse("imports:assign", args=[other.pk]), {"customer": "nobody"}, follow=True)
    assert "No customer has the reference or id" in response.content.decode()

    reversal = BankEntry.objects.get(bank_reference="NB240404-0107")
    response = client.post(reverse("imports:dismiss", args=[reversal.pk]), {"reason": ""}, follow=True)
    assert "Give a reason to dismiss" in response.content.decode()
    client.post(reverse("imports:dismiss", args=[reversal.pk]), {"reason": "Bank error, reversed again"})
    reversal.refresh_from_db()
    assert reversal.status == "dismissed"
    listed = client.get(reverse("imports:entries")).context["entries"]
    assert reversal not in listed and credit not in listed and len(listed) == 2
    assert client.get(reverse("imports:assign", args=[other.pk])).status_code == 405


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_assign_is_a_form_error_on_its_row(client, kilo, typed):
    client.force_login(user_with_role("finance"))
    upload_and_run(client)
    credit = BankEntry.objects.get(bank_reference="NB240402-0102")
    response = client.post(reverse("imports:assign", args=[credit.pk]), {"customer": typed})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<p class="errorlist" role="alert" id="assign-error-{credit.pk}">Choose a customer to assign.</p>' in html
    assert f'aria-describedby="assign-error-{credit.pk}"' in html
    credit.refresh_from_db()
    assert credit.status == "unidentified" and credit.payment is None
