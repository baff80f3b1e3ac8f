"""The apps depend one way: jobs <- events <- members <- loyalty <- memberships <- feedback <-
segments <- rewards <- campaigns ("is imported by").

Every `.py` file of the apps (migrations and management commands included) is parsed with `ast`;
an import of a higher app, or of `tests`, fails the suite. Imports inside functions count too: a
lazy import is still a dependency. `config` is the project's plumbing: its settings import no
app at all, and its other modules import none at module level, except the URL confs, which
compose the apps' views.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "idempotency",
    "jobs",
    "events",
    "members",
    "loyalty",
    "memberships",
    "feedback",
    "segments",
    "rewards",
    "campaigns",
    "messaging",
    "analytics",
    "webhooks",
)  # lowest first
RANK = {app: rank for rank, app in enumerate(APPS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str, bool]]:
    """(line, imported module, at module level) for every import in the file."""
    source = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(source, filename=str(path))
    module_level = {id(node) for node in tree.body}
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package[: len(package) - (node.level - 1)]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            else:
                names = [node.module or ""]
        else:
            continue
        found.extend((node.lineno, name, id(node) in module_level) for name in names)
    return found


def violations(path: Path, source: str | None = None) -> list[str]:
    """Why the file's imports break the layering (empty when they do not)."""
    relative = path.relative_to(ROOT)
    owner = relative.parts[0]
    problems = []
    for line, name, module_level in _imports(path, source):
        top = name.split(".")[0]
        where = f"{relative}:{line} imports {name}"
        if top == "tests" and owner != "tests":
            problems.append(f"{where}: nothing outside tests/ imports tests")
        elif owner in RANK and top in RANK and RANK[top] > RANK[owner]:
            problems.append(f"{where}: {owner} may not import {top} (a higher app)")
        elif owner == "config" and top in RANK:
            if relative.parts[1] == "settings":
                problems.append(f"{where}: settings import no app")
            elif module_level and relative.name != "urls.py":
                problems.append(f"{where}: config imports apps only inside functions")
    return problems


def _python_files(*tops: str) -> list[Path]:
    return sorted(path for top in tops for path in (ROOT / top).rglob("*.py"))


def test_apps_and_config_import_only_downwards():
    files = _python_files(*APPS, "config")
    assert len(files) > 20  # the walk found the code

    problems = [problem for path in files for problem in violations(path)]

    assert problems == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("members/x.py", "from loyalty.models import Posting", 1),
        ("members/x.py", "def f():\n    import campaigns.services\n", 1),
        ("loyalty/services/x.py", "from ...rewards import models", 1),
        ("loyalty/services/x.py", "from ..models import Posting", 0),
        ("rewards/x.py", "from loyalty.models import Posting\nfrom members import services", 0),
        ("campaigns/x.py", "import rewards, loyalty, members", 0),
        ("jobs/x.py", "from members.models import Member", 1),
        ("members/x.py", "from jobs import defer", 0),
        ("loyalty/x.py", "from tests.conftest import make_member", 1),
        ("config/settings/base.py", "def f():\n    from members import roles\n", 1),
        ("config/api/errors.py", "from members.models import Member", 1),
        ("config/api/errors.py", "def f():\n    from members.models import Member\n", 0),
        ("config/api/urls.py", "from loyalty.api import members", 0),
    ],
)
def test_the_checker_sees_upward_imports(path, source, expected):
    assert len(violations(ROOT / path, source)) == expected


def test_migrations_depend_only_downwards():
    """A migration of an app never waits for a higher app's (its tables are not ours to touch)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    problems = [
        f"{app}.{name} depends on {dep_app}.{dep_name}"
        for (app, name), migration in sorted(loader.disk_migrations.items())
        for dep_app, dep_name in migration.dependencies
        if app in RANK and dep_app in RANK and RANK[dep_app] > RANK[app]
    ]

    assert problems == []
