"""Move credentials written into HTTP node headers into workspace secrets (builder/header_credentials.py)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from builder.header_credentials import move_all


class Command(BaseCommand):
    help = (
        "Find credentials in HTTP node headers (Authorization, X-API-Key, Cookie, any *token*/*secret*/*key* header) "
        "of every workflow draft and version, store each as a workspace secret and refer to it as {{ secrets.NAME }}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report what would move; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        report = move_all(dry_run=dry_run)
        verb = "Would move" if dry_run else "Moved"
        for move in report.moved:
            self.stdout.write(
                f"{verb} workflow {move.workflow_id} ({move.workflow_name}) node {move.node_id} header {move.header}"
                f" -> secrets.{move.secret} in {', '.join(move.places)}"
            )
        for skip in report.skipped:
            self.stdout.write(
                f"Skipped workflow {skip.workflow_id} node {skip.node_id} header {skip.header}: {skip.reason}"
            )
        self.stdout.write(f"{verb} {len(report.moved)} credential(s); skipped {len(report.skipped)}.")
