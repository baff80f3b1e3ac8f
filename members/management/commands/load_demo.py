"""`python manage.py load_demo`: demo data for a local back office; prints the demo logins.

Runs every installed app's `<app>.demo.load(out=...)` in `INSTALLED_APPS` order, which is the
dependency order (members, loyalty, rewards, campaigns), so each step can use what the steps
before it made. `--locale zh` runs `<app>.demo_zh.load(out=...)` instead where an app has one:
a CNY program with Chinese names and a JD-style ladder (`DEMO_LOCALE=zh make run`, which keeps
it in its own database file). Idempotent: running it again creates nothing twice and keeps
existing data (including changed passwords). It creates a superuser with a published password,
so it refuses to run when DEBUG is off unless `--force` is given. The banner names the admin's
address from the `HOST` and `PORT` environment variables (`PORT=8100 make run`), 127.0.0.1:8000
without them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def admin_url() -> str:
    """Where `make run` serves the admin: its HOST and PORT (the Makefile passes them on)."""
    host = os.environ.get("HOST") or "127.0.0.1"
    port = os.environ.get("PORT") or "8000"
    return f"http://{host}:{port}/admin/"


class DemoOutput:
    """What steps report: progress lines now, logins collected and printed at the end."""

    def __init__(self, command: BaseCommand) -> None:
        self._command = command
        self.logins: list[str] = []

    def write(self, line: str) -> None:
        self._command.stdout.write(line)


class Command(BaseCommand):
    help = "Load demo data (staff users per role, members, ...) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--locale",
            choices=["en", "zh"],
            default="en",
            help="zh: the Chinese demo (CNY, Chinese names, 普通会员/银卡/金卡/钻石).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (never on a production database).",
        )

    def handle(self, *args, force: bool = False, locale: str = "en", **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "load_demo creates users with published passwords; it runs only with DEBUG on "
                "(local settings). Use --force to run it anyway."
            )
        out = DemoOutput(self)
        for app_config in apps.get_app_configs():
            # Our apps only: a third-party package's `demo` module is none of our business.
            if not Path(app_config.path).is_relative_to(settings.BASE_DIR):
                continue
            module_name = f"{app_config.name}.demo"
            if locale == "zh" and importlib.util.find_spec(f"{module_name}_zh") is not None:
                module_name = f"{module_name}_zh"
            if importlib.util.find_spec(module_name) is None:
                continue
            step = getattr(importlib.import_module(module_name), "load", None)
            if step is None:
                self.stderr.write(f"{module_name} has no `load(out=...)` step: skipped.")
                continue
            step(out=out)
        if out.logins:
            self.stdout.write("")
            self.stdout.write(self.style.SUCCESS(f"Demo logins for {admin_url()}"))
            self.stdout.write(f"  {'username':<16} {'password':<14} role")
            for line in out.logins:
                self.stdout.write(line)
