"""manage.py import_payments: record the credits of a bank statement as payments."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake.importing import ImportReport, import_statement
from intake.parsing.csv_profiles import CSV_PROFILES


class Command(BaseCommand):
    help = (
        "Import a bank statement (Settle CSV layout or camt.053 XML, see intake/statements.py). "
        "Each credit becomes a payment of the customer recognised by customer reference or by the "
        "invoice numbers in its remittance text, recorded with the bank reference as idempotency "
        "reference and auto-allocated to the invoices it names first. A reversal of an imported credit "
        "becomes a chargeback on that payment; other debits are ignored. Unrecognised customers and "
        "unmatched reversals go to the clerks' list (/imports/entries/); entries the bank has not booked "
        "(pending, info) are skipped. Entries are committed in chunks, each entry's outcome its own: malformed "
        "rows and entries the services or the database refuse are reported with their line or entry number "
        "and skipped, the rest is imported; importing the same or an overlapping file again records nothing "
        "twice and finishes an interrupted import. --dry-run writes nothing and takes no payment number. "
        "Exit code: 0 all handled, 1 some entries need a person, 2 the file could not be read or the import "
        "stopped on a lost database connection."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The statement file.")
        parser.add_argument(
            "--format",
            choices=["csv", "camt053", "mt940"],
            default=None,
            help="The file's format (default: detected from its content and name).",
        )
        parser.add_argument(
            "--profile",
            choices=sorted(CSV_PROFILES),
            default=None,
            help="For CSV: the bank's layout (default: the one whose header fits).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Show what would happen; write nothing.")
        parser.add_argument(
            "--summary",
            action="store_true",
            help="Print only the counts, not each entry (a large file then keeps no per-entry list in memory).",
        )

    def handle(
        self,
        *args,
        file: str,
        format: str | None,
        dry_run: bool,
        summary: bool = False,
        profile: str | None = None,
        **options,
    ):
        path = Path(file)
        try:
            source = path.open("rb")  # streamed: the parsers read it as they go
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}", returncode=2) from None
        with source:
            report = import_statement(
                source,
                source_name=path.name,
                format=format,
                profile=profile,
                dry_run=dry_run,
                by=None,
                keep_results=not summary,
            )
        self.stdout.write(render_report(report))
        if report.exit_code:
            raise SystemExit(report.exit_code)


def render_report(report: ImportReport) -> str:
    lines = [f"{report.source_name} ({report.format}){' - DRY RUN' if report.dry_run else ''}"]
    for error in report.file_errors:
        lines.append(f"  file: {error}")
    for result in report.results:
        head = f"  {result.position:<9} {result.bank_reference:<22} {result.amount_display:>17}  {result.outcome_label}"
        lines.append(f"{head}: {result.message}")
        for line in result.allocations:
            lines.append(f"      -> {line.invoice_number} {line.amount_display} ({line.reason})")
    lines.append(report.summary())
    return "\n".join(lines)
