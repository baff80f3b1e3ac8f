"""`manage.py program_config export FILE` / `import FILE [--dry-run] [--prune]`.

The program's rules (settings, perks, tiers; rewards and campaigns once their apps register a
handler) as one JSON document, so a program tried on staging can be promoted to production
unchanged. FILE `-` is standard output / input. An import validates everything first and lists
every problem with its JSON path; then it applies everything in one transaction, or nothing. A
change to the tier ladder prints its what-if figures on today's data.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from config.errors import ServiceError
from loyalty.services.program_config import program_config_export, program_config_import
from members.actors import Actor


class Command(BaseCommand):
    help = "Export or import the program's rules (settings, perks, tiers) as one JSON file."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="Write the rules to FILE ('-': stdout).")
        export.add_argument("file")
        load = actions.add_parser("import", help="Validate FILE, then apply it in one go.")
        load.add_argument("file")
        load.add_argument(
            "--dry-run", action="store_true", help="Report what would change; change nothing."
        )
        load.add_argument(
            "--prune",
            action="store_true",
            help="Delete perks and tiers the file leaves out (default: keep them).",
        )

    def handle(self, *args, **options):
        if options["action"] == "export":
            return self._export(options["file"])
        return self._import(options["file"], dry_run=options["dry_run"], prune=options["prune"])

    def _export(self, path: str) -> None:
        text = json.dumps(program_config_export(), indent=2, ensure_ascii=False) + "\n"
        if path == "-":
            self.stdout.write(text, ending="")
            return
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stderr.write(f"Wrote the program configuration to {path}.")

    def _import(self, path: str, *, dry_run: bool, prune: bool) -> None:
        try:
            if path == "-":
                document = json.load(sys.stdin)
            else:
                with open(path, encoding="utf-8") as handle:
                    document = json.load(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from exc
        try:
            report = program_config_import(
                document=document,
                actor=Actor.system("program_config"),
                dry_run=dry_run,
                prune=prune,
            )
        except ServiceError as exc:
            for error in exc.errors:
                self.stderr.write(f"{error['field']}: {error['message']}")
            raise CommandError(exc.message) from exc
        for section in report.sections:
            self.stdout.write(str(section))
        if report.what_if is not None:
            self._what_if(report.what_if)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        elif report.changed:
            self.stdout.write(self.style.SUCCESS("Imported."))
        else:
            self.stdout.write("Nothing to change: the program already matches the file.")

    def _what_if(self, result) -> None:
        self.stdout.write(f"What the tier changes do on today's data ({result.members} members):")
        for row in result.rows:
            self.stdout.write(
                f"  {row.rank} {row.code}: threshold {row.threshold_before} -> "
                f"{row.threshold_after}, ×{row.multiplier_before} -> ×{row.multiplier_after}, "
                f"members {row.members_before} -> {row.members_after}"
            )
        self.stdout.write(
            f"  move up {result.moves_up}, move down {result.moves_down}; yearly tier-bonus "
            f"points {result.cost_before} -> {result.cost_after} "
            f"({result.cost_before_value} -> {result.cost_after_value} {result.currency})"
        )
