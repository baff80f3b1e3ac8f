"""The zh-Hans message catalog, kept without GNU gettext: extract, merge, compile, check.

`make messages` runs `python -m config.translations update`: it finds every string our code marks
for translation (Python: `gettext`, `gettext_lazy`, `ngettext`, `pgettext`...; templates:
`{% translate %}`, `{% blocktranslate %}`, read through Django's own `templatize`, as
`makemessages` does), merges them into `locale/zh_Hans/LC_MESSAGES/django.po` and compiles the
`.mo` Django reads. Babel does all of it in Python, so a fresh machine needs no `gettext` package.

Invariants:
- The `.po` file is the only source of the translations; the `.mo` beside it is built from it
  (at `make install`, `make messages`, `make run`, `make test` and when the test session starts)
  and never committed, so two engineers' translations merge as text.
- On main, `check()` is empty: every extracted string has a zh-Hans translation that is not fuzzy
  and uses the same placeholders (`tests/config/test_translations.py` fails otherwise).
- The file is written in a stable form (sorted by msgid, no line numbers, fixed header dates):
  running `update` twice changes nothing, and a rebase conflicts only where two people added
  neighbouring strings.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

BASE_DIR = Path(__file__).resolve().parent.parent
# Every app of ours (a top-level folder with an `apps.py`), so a new app's strings are checked
# without anyone remembering to list it, plus the plumbing and the templates.
SOURCE_DIRS = (
    "config",
    *sorted(path.parent.name for path in BASE_DIR.glob("*/apps.py")),
    "templates",
)
LOCALE = "zh_Hans"
PO_PATH = BASE_DIR / "locale" / LOCALE / "LC_MESSAGES" / "django.po"
# The admin's JavaScript strings (domain `djangojs`) that Django's own zh-Hans lacks: a short
# catalog kept by hand (our code marks no JavaScript string), compiled with the other.
JS_PO_PATH = PO_PATH.with_name("djangojs.po")

# The names `makemessages` gives xgettext, in Babel's notation ((1, "c") is the context).
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
COMMENT_TAGS = ("Translators:",)
HEADER_COMMENT = (
    "# Simplified Chinese (zh-Hans): the admin, members' sentences,\n"
    "# the API's error titles. `make messages` adds new strings\n"
    "# (empty) and drops gone ones; translate with docs/i18n.md."
)
# Fixed so that updating the catalog never rewrites its header.
_EPOCH = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def extract_django_template(fileobj, keywords, comment_tags, options):
    """Babel extractor for Django templates: Django's `templatize` turns the template's
    translation tags into `gettext(...)` calls, which Babel's Python extractor then reads."""
    from django.utils.translation.template import templatize

    source = fileobj.read().decode("utf-8")
    code = templatize(source, origin=getattr(fileobj, "name", None))
    # The template's indentation means nothing to Python's tokenizer, which refuses a dedent
    # that matches no outer level: left-align every line (line numbers stay; strings are repr'd).
    code = "\n".join(line.lstrip() for line in code.split("\n"))
    yield from extract_python(io.BytesIO(code.encode("utf-8")), keywords, comment_tags, options)


METHOD_MAP = [
    ("**/migrations/**", "ignore"),
    ("**.py", "python"),
    ("**.html", "config.translations:extract_django_template"),
    ("**.txt", "config.translations:extract_django_template"),
]


def extract_catalog(*, root: Path = BASE_DIR, dirs: Iterable[str] = SOURCE_DIRS) -> Catalog:
    """Every marked string under `root`'s source folders, with where it was found."""
    template = Catalog(locale=None, project="loyalty-back-office", creation_date=_EPOCH)
    for folder in dirs:
        path = root / folder
        if not path.is_dir():
            continue
        found = extract_from_dir(
            str(path),
            method_map=METHOD_MAP,
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            where = (f"{folder}/{filename}".replace(os.sep, "/"), lineno)
            template.add(message, None, [where], auto_comments=comments, context=context)
    return template


def read_catalog(po_path: Path = PO_PATH) -> Catalog:
    if not po_path.exists():
        return Catalog(locale=LOCALE, project="loyalty-back-office", creation_date=_EPOCH)
    with po_path.open("rb") as fileobj:
        return read_po(fileobj, locale=LOCALE)


def write_catalog(catalog: Catalog, po_path: Path = PO_PATH) -> None:
    catalog.header_comment = HEADER_COMMENT
    catalog.project, catalog.version = "Loyalty Back Office", "1"
    catalog.msgid_bugs_address = ""
    catalog.creation_date = _EPOCH
    catalog.revision_date = _EPOCH
    catalog.fuzzy = False
    catalog.language_team = "Simplified Chinese"
    catalog.last_translator = "Loyalty Back Office"
    po_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, sort_output=True, include_lineno=False, ignore_obsolete=True)
    if not po_path.exists() or po_path.read_bytes() != buffer.getvalue():
        po_path.write_bytes(buffer.getvalue())


def update(
    *, root: Path = BASE_DIR, po_path: Path = PO_PATH, dirs: Iterable[str] = SOURCE_DIRS
) -> tuple[int, int]:
    """Merge the sources' strings into the `.po`: new ones added empty, gone ones dropped.

    No fuzzy matching: a guess from a similar string would pass for a translation. Returns
    (added, dropped)."""
    template = extract_catalog(root=root, dirs=dirs)
    catalog = read_catalog(po_path)
    before = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in catalog if m.id}
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    after = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in catalog if m.id}
    write_catalog(catalog, po_path)
    return len(after - before), len(before - after)


def compile_catalog(*, po_path: Path = PO_PATH, mo_path: Path | None = None) -> Path:
    """Write the `.mo` beside the `.po` (atomically: parallel test workers may race here)."""
    mo_path = mo_path or po_path.with_suffix(".mo")
    catalog = read_catalog(po_path)
    fd, tmp = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
    try:
        with os.fdopen(fd, "wb") as fileobj:
            write_mo(fileobj, catalog, use_fuzzy=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mo_path


def compile_all() -> list[Path]:
    """The `.mo` of every catalog: ours (`django`) and the admin's JavaScript (`djangojs`)."""
    return [compile_catalog(po_path=path) for path in (PO_PATH, JS_PO_PATH) if path.exists()]


def compile_if_stale(*, po_path: Path | None = None) -> None:
    for path in (po_path,) if po_path is not None else (PO_PATH, JS_PO_PATH):
        mo_path = path.with_suffix(".mo")
        if path.exists() and (
            not mo_path.exists() or mo_path.stat().st_mtime < path.stat().st_mtime
        ):
            compile_catalog(po_path=path, mo_path=mo_path)


def _message_key(message) -> tuple[str, str | None]:
    return (message.id if isinstance(message.id, str) else message.id[0], message.context)


def check(
    *, root: Path = BASE_DIR, po_path: Path = PO_PATH, dirs: Iterable[str] = SOURCE_DIRS
) -> list[str]:
    """Every problem that leaves a string of the sources without a usable zh-Hans text:
    missing from the `.po`, empty, fuzzy, or with other placeholders than its msgid."""
    template = extract_catalog(root=root, dirs=dirs)
    catalog = read_catalog(po_path)
    problems: list[str] = []
    for wanted in template:
        if not wanted.id:
            continue
        key = _message_key(wanted)
        where = ", ".join(sorted({path for path, _line in wanted.locations}))
        label = f"{key[0]!r}" + (f" (context {key[1]!r})" if key[1] else "") + f" in {where}"
        found = catalog.get(wanted.id, context=wanted.context)
        if found is None:
            problems.append(f"not in the catalog (run `make messages`): {label}")
            continue
        texts = found.string if isinstance(found.string, tuple | list) else (found.string,)
        if found.fuzzy:
            problems.append(f"fuzzy: {label}")
        elif not all(texts):
            problems.append(f"untranslated: {label}")
        else:
            problems.extend(f"{error}: {label}" for error in found.check(catalog))
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "update":
        added, dropped = update()
        compile_all()
        print(f"{PO_PATH.relative_to(BASE_DIR)}: {added} new, {dropped} dropped")
        for problem in check():
            print(problem)
        return 0
    if command == "compile":
        for mo_path in compile_all():
            print(mo_path.relative_to(BASE_DIR))
        return 0
    if command == "check":
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print("usage: python -m config.translations update|compile|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    sys.exit(main(sys.argv))
